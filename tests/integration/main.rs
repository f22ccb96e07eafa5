//! Integration tests: one test binary, a module per feature.

mod agent;
mod cli;
mod corpus;
mod fake_api;
mod findings;
mod fixtures;
mod fuzz_regressions;
mod kex;
mod keylog;
mod kubectl;
mod live;
mod probe;
mod probes;
mod render;
mod schema;
mod support;
mod underlay;
