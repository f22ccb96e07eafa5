//! Integration tests: one test binary, a module per feature.

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
mod underlay;
