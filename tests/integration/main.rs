//! Integration tests: one test binary, a module per feature.

// Helpers outside #[test] functions may unwrap, expect and panic too: a
// failed assumption in a test is a failed test (Cargo.toml [lints.clippy]).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod agent;
mod baseline;
mod capture_window;
mod cli;
mod corpus;
mod docs;
mod enrich;
mod fake_api;
mod findings;
mod fixtures;
mod fuzz_regressions;
mod kex;
mod keylog;
mod kubectl;
mod lab;
mod layers;
mod live;
mod probe;
mod probes;
mod render;
mod schema;
mod security;
mod support;
mod threads;
mod underlay;
