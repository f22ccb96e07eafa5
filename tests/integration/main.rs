//! Integration tests: one test binary, a module per feature. Its harness
//! is `runner` (`harness = false`): each module lists its tests in
//! `tests()`, so a test whose environment is missing (root, a tool,
//! `../shared`) is reported as ignored, not as a pass.

// Helpers outside test functions may unwrap, expect and panic too: a
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
mod fanout;
mod findings;
mod fixtures;
mod fuzz_regressions;
mod kex;
mod keylog;
mod kubectl;
mod lab;
mod layers;
mod live;
mod long_functions;
mod probe;
mod probes;
mod render;
mod runner;
mod schema;
mod security;
mod support;
mod threads;
mod underlay;

fn main() -> std::process::ExitCode {
    let lists: &[fn() -> Vec<runner::Test>] = &[
        agent::tests,
        baseline::tests,
        capture_window::tests,
        cli::tests,
        corpus::tests,
        docs::tests,
        enrich::tests,
        fanout::tests,
        findings::tests,
        fixtures::tests,
        fuzz_regressions::tests,
        kex::tests,
        keylog::tests,
        kubectl::tests,
        lab::tests,
        layers::tests,
        live::tests,
        long_functions::tests,
        probe::tests,
        probes::tests,
        render::tests,
        schema::tests,
        security::tests,
        threads::tests,
        underlay::tests,
    ];
    runner::main(lists.iter().flat_map(|list| list()).collect())
}
