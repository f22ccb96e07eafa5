//! One self-contained HTML page for people who read the audit rather than
//! script against it: the verdict, pictures of the traffic (flows by
//! protection, mutual TLS per namespace, findings by severity, certificate
//! lifetime against pod lifetime), the compliance views, the findings with
//! links to their evidence, the certificate inventory and a sortable,
//! filterable flow table.
//!
//! Safety: everything in a report may have come off the wire or out of a
//! hostile saved report, so all text goes through [`esc`] (control
//! characters made visible, then `& < > " '` as entities) on its way into
//! markup, and the flow table's data is a JSON island
//! (`<script type="application/json">`) in which `<`, `>`, `&`, U+2028 and
//! U+2029 are `\u` escapes ([`json_island`]), read by a script that writes
//! it with `textContent` only. The Content-Security-Policy allows nothing
//! remote and only this page's own script and style, by hash, so even a
//! mistake here could not run injected script.
//!
//! Size: the flow table is paged by the script (100 rows at a time), so a
//! report of 10,000 flows is one JSON island of a few megabytes and a DOM
//! of one page, not 10,000 table rows.

mod charts;
mod enrichment;
mod flows;
mod inventory;
mod scope;
mod sections;

use std::fmt::Write;

use super::model::Report;
use super::options::RenderOptions;
use super::sanitize;

const CSS: &str = include_str!("../../../reports/templates/report.css");
const JS: &str = include_str!("../../../reports/templates/report.js");

/// Render the report as one HTML document.
pub fn render_html(report: &Report) -> String {
    render_html_with(report, &RenderOptions::default())
}

/// [`render_html`] with rule pages under `opts.docs_url`, inputs by file
/// name unless `opts.full_paths`.
pub fn render_html_with(report: &Report, opts: &RenderOptions) -> String {
    let index = flows::FlowIndex::new(report);
    let mut body = String::with_capacity(64 * 1024 + report.flows.len() * 300);
    sections::header(report, &mut body);
    scope::scope(report, opts, &mut body);
    sections::summary(report, &mut body);
    if report.compliance.is_some() {
        sections::compliance(report, &mut body);
    }
    sections::findings(report, &index, &opts.docs_url, &mut body);
    inventory::section(report, &mut body);
    enrichment::section(report, &mut body);
    sections::certificates(report, &index, &mut body);
    flows::table(report, &index, &mut body);
    sections::warnings(report, &mut body);

    let mut out = String::with_capacity(body.len() + CSS.len() + JS.len() + 1024);
    let title = format!(
        "tls-audit report{}",
        report
            .metadata
            .as_ref()
            .and_then(|m| m.cluster.as_deref())
            .map(|c| format!(": {c}"))
            .unwrap_or_default()
    );
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{}\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"{} {}\">\n<title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        csp(),
        esc(&report.tool.name),
        esc(&report.tool.version),
        esc(&title)
    );
    out.push_str(&body);
    let _ = write!(out, "<script>{JS}</script>\n</body>\n</html>\n");
    out
}

/// The page's Content-Security-Policy: nothing from anywhere, except its
/// own inline style and script (by hash) and `data:` images.
fn csp() -> String {
    format!(
        "default-src 'none'; style-src '{}'; script-src '{}'; img-src data:; base-uri 'none'; form-action 'none'",
        sha256_source(CSS),
        sha256_source(JS)
    )
}

/// `sha256-<base64>` of `text`, as CSP names an inline element.
fn sha256_source(text: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    format!("sha256-{}", base64(digest.as_ref()))
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Escape text for HTML text and attribute values: control characters are
/// written as visible escapes (as in the terminal table), then `&`, `<`,
/// `>`, `"` and `'` become entities. The one way text enters markup.
/// A table of `columns` (headings: the names with `_` as spaces; the
/// `flows` column right-aligned) and at most `max` of `rows`, escaped;
/// past `max`, a line: the count of the rest and `more` (markup, not
/// escaped: a literal of the caller's).
pub(crate) fn columns_table<const N: usize>(
    out: &mut String,
    columns: &[&str; N],
    rows: impl ExactSizeIterator<Item = [String; N]>,
    max: usize,
    more: &str,
) {
    let class = |h: &str| if h == "flows" { " class=\"num\"" } else { "" };
    let total = rows.len();
    out.push_str("<div class=\"table-wrap\"><table><thead><tr>");
    for h in columns {
        let _ = write!(out, "<th{}>{}</th>", class(h), esc(&h.replace('_', " ")));
    }
    out.push_str("</tr></thead><tbody>\n");
    for row in rows.take(max) {
        out.push_str("<tr>");
        for (h, c) in columns.iter().zip(row) {
            let _ = write!(out, "<td{}>{}</td>", class(h), esc(&c));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table></div>\n");
    if total > max {
        let _ = writeln!(out, "<p class=\"muted\">{} {more}</p>", total - max);
    }
}

pub fn esc(s: &str) -> String {
    let s = sanitize(s);
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// JSON for a `<script type="application/json">` island: nothing in it can
/// close the element or start a comment, and line separators are escaped.
pub fn json_island(value: &serde_json::Value) -> String {
    let json = serde_json::to_string(value).unwrap_or_else(|_| "null".into());
    let mut out = String::with_capacity(json.len() + 64);
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{base64, esc, json_island};

    #[test]
    fn escapes_markup_and_controls() {
        assert_eq!(
            esc("<script>alert('x')</script>&\"\u{1b}[31m\n"),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;\\u{1b}[31m\\n"
        );
        assert_eq!(esc("api.pay.svc"), "api.pay.svc");
    }

    #[test]
    fn json_island_cannot_close_its_script() {
        let v = serde_json::json!(["</script><script>alert(1)</script><!--", "a\u{2028}b&"]);
        let s = json_island(&v);
        assert!(!s.contains('<') && !s.contains('>') && !s.contains('&'));
        assert!(!s.contains('\u{2028}'));
        let back: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn base64_matches_rfc4648() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }
}
