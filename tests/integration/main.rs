//! Integration tests: one test binary, a module per feature.

mod agent;
mod cli;
mod corpus;
mod findings;
mod fixtures;
mod fuzz_regressions;
mod keylog;
mod live;
mod probe;
mod probes;
mod render;
mod schema;
mod support;
mod underlay;
