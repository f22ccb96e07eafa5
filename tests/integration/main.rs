//! Integration tests: one test binary, a module per feature.

mod corpus;
mod support;
