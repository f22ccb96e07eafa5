//! The report renderers (Markdown, JUnit, SARIF) on real analyses of the
//! fixture captures, read back by real consumers where they are installed
//! (Python junitparser, jsonschema with the SARIF 2.1.0 schemas, cmarkgfm).

mod common;
mod junit;
mod markdown;
mod sarif;
