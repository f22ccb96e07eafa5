//! YAML: the JSON report's document, written by serde-saphyr (the crate
//! that already reads policies). Strings are quoted where YAML would read
//! them as something else, so a YAML reader gets back the same document as
//! a JSON reader does (a test compares the two with PyYAML).

use super::model::Report;

/// Render the report as a YAML document.
pub fn render_yaml(report: &Report) -> String {
    match serde_saphyr::to_string(report) {
        Ok(mut s) => {
            if !s.ends_with('\n') {
                s.push('\n');
            }
            s
        }
        // Serialising plain data should not fail; say so if it ever does.
        Err(e) => format!("# tls-audit: cannot serialise the report as YAML: {e}\n"),
    }
}
