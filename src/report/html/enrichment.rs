//! The HTML report's "Identity enrichment" section (`--enrich probe`):
//! where each chain that the captured handshakes hid came from, an
//! endpoint a row, with the run's vantage point. All text is escaped by
//! [`Html`].

use super::markup::{Html, html};
use crate::report::enrichment::ENDPOINT_COLUMNS;
use crate::report::model::Report;

/// Endpoint rows written at most (the JSON report has them all).
const MAX_ROWS: usize = 500;

/// Write the section; nothing when no enrichment ran.
pub fn section(report: &Report, out: &mut Html) {
    let Some(e) = report.enrichment.as_ref() else {
        return;
    };
    html!(out; "<section id=\"enrichment\">\n<h2>Identity enrichment</h2>\n<p class=\"muted\">"
        (e.summary()) "</p>\n");
    if !e.endpoints.is_empty() {
        super::columns_table(
            out,
            &ENDPOINT_COLUMNS,
            e.endpoints.iter().map(|ep| ep.cells()),
            MAX_ROWS,
            "more endpoints in the JSON report.",
        );
    }
    html!(out; "</section>\n");
}
