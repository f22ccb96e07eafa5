//! The report renderers (Markdown, JUnit, SARIF, YAML, GitHub, HTML) and
//! the compliance views on real analyses of the fixture captures, read back
//! by real consumers where they are installed (Python junitparser,
//! jsonschema with the SARIF 2.1.0 schemas, cmarkgfm, PyYAML, headless
//! Chromium). Snapshots are in `tests/snapshots/render/`; after an intended
//! change: `UPDATE_SNAPSHOTS=1 cargo test --test integration render`.

mod common;
mod compliance;
mod github;
mod html;
mod junit;
mod markdown;
mod sarif;
mod yaml;

/// This module's tests, as the harness lists them (`main.rs`).
pub(crate) fn tests() -> Vec<crate::runner::Test> {
    let lists: [fn() -> Vec<crate::runner::Test>; 7] = [
        compliance::tests,
        github::tests,
        html::tests,
        junit::tests,
        markdown::tests,
        sarif::tests,
        yaml::tests,
    ];
    lists.iter().flat_map(|list| list()).collect()
}
