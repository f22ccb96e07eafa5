//! The report: its model (`tls-audit/report/v1`) and how it is rendered.

pub mod model;
mod table;

pub use model::Report;
pub use table::{render_table, sanitize};

/// Write the report as pretty JSON (with a trailing newline) without
/// building it in memory first: a report of many flows can be large.
pub fn write_json<W: std::io::Write>(report: &Report, mut out: W) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut out, report)?;
    out.write_all(b"\n")?;
    out.flush()
}

/// Render the report as pretty JSON (with a trailing newline).
pub fn render_json(report: &Report) -> String {
    let mut s = serde_json::to_string_pretty(report).unwrap_or_else(|e| {
        // Serialising plain data cannot fail; say so loudly if it ever does.
        format!("{{\"error\": \"cannot serialise report: {e}\"}}")
    });
    s.push('\n');
    s
}
