//! One self-contained HTML page for people who read the audit rather than
//! script against it: the verdict, pictures of the traffic (flows by
//! protection, mutual TLS per namespace, findings by severity, certificate
//! lifetime against pod lifetime), the compliance views, the findings with
//! links to their evidence, the certificate inventory and a sortable,
//! filterable flow table.
//!
//! Safety: everything in a report may have come off the wire or out of a
//! hostile saved report, so the page is built as [`markup::Html`], which
//! only `markup.rs` can write to: markup comes from `&'static str` literals
//! (the `html!` macro's) or from another `Html`; every other value goes
//! through `markup::Render`, which escapes text (control and bidirectional
//! characters made visible, then `& < > " '` as entities, in text and in
//! attribute values alike) and writes numbers as they are. The sections
//! get an `&mut Html` and cannot push a `String` into it, so forgetting to
//! escape is a compile error, not an injection (a test has rustc refuse
//! each way of trying). The flow table's data is a JSON island
//! (`<script type="application/json">`) in which `<`, `>`, `&`, U+2028 and
//! U+2029 are `\u` escapes (`markup::json_island`), read by a script that
//! writes it with `textContent` only. The Content-Security-Policy allows
//! nothing remote and only this page's own script and style, by hash, so
//! even a mistake here could not run injected script.
//!
//! Size: the flow table is paged by the script (100 rows at a time), so a
//! report of 10,000 flows is one JSON island of a few megabytes and a DOM
//! of one page, not 10,000 table rows.

mod charts;
mod enrichment;
mod flows;
mod inventory;
mod markup;
mod scope;
mod sections;

use std::sync::OnceLock;

use markup::{Html, html};

use super::model::Report;
use super::options::RenderOptions;
use super::sanitize;

/// A capture time, in the text the report writes (escaped like any text,
/// though that form has nothing to escape).
impl markup::Render for crate::model::time::CaptureTime {
    fn render_to(&self, out: &mut Html) {
        self.to_string().render_to(out);
    }
}

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
    let mut body = Html::with_capacity(64 * 1024 + report.flows.len() * 300);
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

    let mut out = Html::with_capacity(body.len() + CSS.len() + JS.len() + 1024);
    let cluster = report.metadata.as_ref().and_then(|m| m.cluster.as_deref());
    html!(&mut out;
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"" (csp()) "\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"" (report.tool.name) " " (report.tool.version)
        "\">\n<title>tls-audit report"
    );
    if let Some(c) = cluster {
        html!(&mut out; ": " (c));
    }
    html!(&mut out; "</title>\n<style>");
    out.raw(CSS);
    html!(&mut out; "</style>\n</head>\n<body>\n" (body) "<script>");
    out.raw(JS);
    html!(&mut out; "</script>\n</body>\n</html>\n");
    out.into_string()
}

/// The page's Content-Security-Policy: nothing from anywhere, except its
/// own inline style and script (by hash) and `data:` images. Markup of the
/// program's own (`'` is not escaped), computed once.
fn csp() -> Html {
    static CSP: OnceLock<String> = OnceLock::new();
    let policy = CSP.get_or_init(|| {
        format!(
            "default-src 'none'; style-src '{}'; script-src '{}'; img-src data:; base-uri 'none'; form-action 'none'",
            sha256_source(CSS),
            sha256_source(JS)
        )
    });
    let mut out = Html::new();
    out.raw(policy.as_str());
    out
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

/// A table of `columns` (headings: the names with `_` as spaces; the
/// `flows` column right-aligned) and at most `max` of `rows`, escaped;
/// past `max`, a line: the count of the rest and `more` (markup: a literal
/// of the caller's).
pub(crate) fn columns_table<const N: usize>(
    out: &mut Html,
    columns: &[&str; N],
    rows: impl ExactSizeIterator<Item = [String; N]>,
    max: usize,
    more: &'static str,
) {
    let class = |h: &str| if h == "flows" { " class=\"num\"" } else { "" };
    let total = rows.len();
    html!(out; "<div class=\"table-wrap\"><table><thead><tr>");
    for h in columns {
        html!(out; "<th");
        out.raw(class(h));
        html!(out; ">" (h.replace('_', " ")) "</th>");
    }
    html!(out; "</tr></thead><tbody>\n");
    for row in rows.take(max) {
        html!(out; "<tr>");
        for (h, c) in columns.iter().zip(row) {
            html!(out; "<td");
            out.raw(class(h));
            html!(out; ">" (c) "</td>");
        }
        html!(out; "</tr>\n");
    }
    html!(out; "</tbody></table></div>\n");
    if total > max {
        html!(out; "<p class=\"muted\">" (total - max) " ");
        out.raw(more);
        html!(out; "</p>\n");
    }
}

#[cfg(test)]
mod tests {
    use super::base64;

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
