//! The HTML report's "Identity enrichment" section (`--enrich probe`):
//! where each chain that the captured handshakes hid came from, an
//! endpoint a row, with the run's vantage point. All text goes through
//! [`esc`].

use std::fmt::Write;

use super::esc;
use crate::report::enrichment::ENDPOINT_COLUMNS;
use crate::report::model::Report;

/// Endpoint rows written at most (the JSON report has them all).
const MAX_ROWS: usize = 500;

/// Write the section; nothing when no enrichment ran.
pub fn section(report: &Report, out: &mut String) {
    let Some(e) = report.enrichment.as_ref() else {
        return;
    };
    let _ = write!(
        out,
        "<section id=\"enrichment\">\n<h2>Identity enrichment</h2>\n<p class=\"muted\">{}</p>\n",
        esc(&e.summary())
    );
    if !e.endpoints.is_empty() {
        out.push_str("<div class=\"table-wrap\"><table><thead><tr>");
        for h in ENDPOINT_COLUMNS {
            let class = if h == "flows" { " class=\"num\"" } else { "" };
            let _ = write!(out, "<th{class}>{}</th>", esc(&h.replace('_', " ")));
        }
        out.push_str("</tr></thead><tbody>\n");
        for ep in e.endpoints.iter().take(MAX_ROWS) {
            out.push_str("<tr>");
            for (h, c) in ENDPOINT_COLUMNS.iter().zip(ep.cells()) {
                let class = if *h == "flows" { " class=\"num\"" } else { "" };
                let _ = write!(out, "<td{class}>{}</td>", esc(&c));
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody></table></div>\n");
        if e.endpoints.len() > MAX_ROWS {
            let _ = writeln!(
                out,
                "<p class=\"muted\">{} more endpoints in the JSON report.</p>",
                e.endpoints.len() - MAX_ROWS
            );
        }
    }
    out.push_str("</section>\n");
}
