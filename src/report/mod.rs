//! The report: its model (`tls-audit/report/v1`) and how it is rendered.

pub mod baseline;
mod escape;
mod github;
mod html;
pub mod identity;
pub mod inventory;
mod junit;
pub mod links;
pub mod manifests;
mod markdown;
pub mod options;
mod sarif;
pub mod saved;
mod table;
mod yaml;

pub use crate::compliance;
pub use crate::model::report as model;
pub use crate::model::{enrichment, metadata};
pub use escape::{escape_json_controls, escape_json_string, is_invisible_control};
pub use github::render_github;
pub use html::{render_html, render_html_with};
pub use junit::{render_junit, render_junit_with};
pub use markdown::{
    MAX_FINDING_ROWS as MAX_MARKDOWN_FINDING_ROWS, render_markdown, render_markdown_with,
};
pub use model::Report;
pub use options::RenderOptions;
pub use sarif::{render_sarif, render_sarif_with};
pub use table::{
    ColumnWidths, TableStyle, TableWriter, plural, render_table, render_table_styled, sanitize,
};
pub use yaml::render_yaml;

/// Write an in-memory report as compact JSON (one line and a newline).
/// Bidirectional and C1 control characters are `\uXXXX` escapes.
pub fn write_json<W: std::io::Write>(report: &Report, mut out: W) -> std::io::Result<()> {
    let json = serde_json::to_vec(report)?;
    out.write_all(&escape_json_controls(&json))?;
    out.write_all(b"\n")?;
    out.flush()
}

/// Write a report whose flows are supplied separately, each already as
/// compact JSON, in order: the output is the same document `write_json`
/// writes, without holding every flow in memory.
pub fn write_json_streamed<W: std::io::Write>(
    header: &Report,
    mut out: W,
    flows: impl FnOnce(&mut dyn FnMut(&[u8]) -> std::io::Result<()>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    // The report with no flows ends in `"flows":[]}`: write up to its `[`,
    // then the flows, then the close. One serialisation, one field order.
    // The header given is flow-less already where flows are spilled: not
    // copied then (its findings can be most of its size).
    let empty: std::borrow::Cow<'_, Report> = if header.flows.is_empty() {
        std::borrow::Cow::Borrowed(header)
    } else {
        let mut copy = header.clone();
        copy.flows.clear();
        std::borrow::Cow::Owned(copy)
    };
    let head = serde_json::to_string(&*empty)?;
    let prefix = head
        .strip_suffix("]}")
        .ok_or_else(|| std::io::Error::other("report JSON does not end with its flows"))?;
    out.write_all(&escape_json_controls(prefix.as_bytes()))?;
    let mut first = true;
    flows(&mut |json| {
        if !first {
            out.write_all(b",")?;
        }
        first = false;
        out.write_all(&escape_json_controls(json))
    })?;
    out.write_all(b"]}\n")?;
    out.flush()
}

/// Render the report as compact JSON (with a trailing newline).
pub fn render_json(report: &Report) -> String {
    let mut s = serde_json::to_string(report).unwrap_or_else(|e| {
        // Serialising plain data cannot fail; say so loudly if it ever does.
        format!("{{\"error\": \"cannot serialise report: {e}\"}}")
    });
    s.push('\n');
    escape_json_string(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streamed_json_is_the_same_document() {
        let mut r: Report = serde_json::from_str(
            r#"{"schema":"tls-audit/report/v1","tool":{"name":"tls-audit","version":"0"},"inputs":[],
            "stats":{"packets":0,"bytes":0,"flows":0,"tls_flows":0,"mutual_tls_flows":0,"evicted_flows":0,
            "packets_after_close":0,"truncated_packets":0,"decode_errors":{},"tunnelled_packets":{},
            "ip_fragments_reassembled":0,"ip_fragments_dropped":0,"other_ip_packets":0},"warnings":[],"flows":[]}"#,
        )
        .unwrap();
        let flow = r#"{"transport":"tcp","client":{"ip":"10.0.0.1","port":1},"server":{"ip":"10.0.0.2","port":2},
            "role_source":"syn","first_seen":"2026-11-27T11:00:00.000000Z","last_seen":"2026-11-27T11:00:01.000000Z","packets":1,"bytes":0,"protection":"unknown",
            "app_protocol":null,"tls":null,"tcp":null,"inside":null,"ended_by":null,"truncated":false}"#;
        for n in 0..3 {
            r.flows = (0..n)
                .map(|_| serde_json::from_str(flow).unwrap())
                .collect();
            let mut whole = Vec::new();
            write_json(&r, &mut whole).unwrap();
            let parts: Vec<Vec<u8>> = r
                .flows
                .iter()
                .map(|f| serde_json::to_vec(f).unwrap())
                .collect();
            let mut streamed = Vec::new();
            write_json_streamed(&r, &mut streamed, |emit| {
                parts.iter().try_for_each(|p| emit(p))
            })
            .unwrap();
            assert_eq!(
                String::from_utf8(streamed).unwrap(),
                String::from_utf8(whole).unwrap(),
                "{n} flows"
            );
        }
    }
}
