//! Integration tests: one test binary, a module per feature.

mod cli;
mod corpus;
mod schema;
mod support;
