//! Markdown: the key lines of the summary, and hostile text rendered by
//! cmark-gfm (GitHub's Markdown library, through the `cmarkgfm` binding) as
//! text, never as markup.

use serde_json::Value;
use tls_audit::report::model::{Exempted, Report, WaiverStatus};
use tls_audit::report::render_markdown;
use tls_audit::report::sanitize;

fn render(name: &str, r: &Report) -> (String, Value) {
    let md = render_markdown(r);
    let path = super::common::write(name, &md);
    let (out, ok) = super::common::python("check_markdown.py", &path);
    assert!(ok, "{out}");
    (
        md,
        serde_json::from_str(&out).expect("JSON from check_markdown.py"),
    )
}

fn has_line(md: &str, line: &str) {
    assert!(md.lines().any(|l| l == line), "no line {line:?} in:\n{md}");
}

/// The rendered table whose header starts with `head`, as rows of cells.
fn table(html: &Value, head: &[&str]) -> Vec<Vec<String>> {
    let tables: Vec<Vec<Vec<String>>> = serde_json::from_value(html["tables"].clone()).unwrap();
    tables
        .into_iter()
        .find(|t| t[0].starts_with(&head.iter().map(|h| h.to_string()).collect::<Vec<_>>()))
        .unwrap_or_else(|| panic!("no table {head:?}: {html}"))
}

fn combined_summary_key_lines() {
    let (md, html) = render("combined.md", &super::common::combined());
    assert!(md.starts_with("## tls-audit report\n\n"));
    let input = format!(
        "| {} | pcap | 17 | yes |",
        crate::support::root()
            .join("fixtures/captures/openssl-tls12-server-only.pcap")
            .display()
    );
    assert!(
        md.lines().any(|l| l == input),
        "no line {input:?} in:\n{md}"
    );
    for line in [
        "**Gate FAIL** (`--fail-on high`): 2 unwaived findings at or above high.",
        "tls-audit 0.1.0 · policy built-in (sha256 043549527d4b) · evaluated 2026-11-27T12:00:00Z",
        "| critical | high | medium | low | info | waived |",
        "| 0 | 2 | 1 | 0 | 1 | 0 |",
        "| high | [TA-NO-MTLS](https://github.com/tls-audit/tls-audit/blob/v0.1.0/docs/rules/TA-NO-MTLS.md) | pay/api-7d9f8b6c5-x2k4p (server) | no client certificate (observed): web/frontend-5c6b7d8f9-q7r2m (10.200.0.1:35594) → pay/api-7d9f8b6c5-x2k4p (10.200.0.2:443) | 1 | no |",
        "| medium | [TA-CERT-LIFETIME](https://github.com/tls-audit/tls-audit/blob/v0.1.0/docs/rules/TA-CERT-LIFETIME.md) | pay/api-7d9f8b6c5-x2k4p (server) | workload certificate valid for 3651d: server certificate of pay/api-7d9f8b6c5-x2k4p (10.200.0.2:443) | 1 | no |",
        "### Not checked",
        "| [TA-CHAIN](https://github.com/tls-audit/tls-audit/blob/v0.1.0/docs/rules/TA-CHAIN.md) | certificates-encrypted | 1 |",
        "3 flows (2 TLS, 1 mutual TLS) in 47 packets.",
        "| plaintext | 1 |",
        "| tls | 2 |",
        "| pay | 3 | 1 | 1 | 1 | 0 |",
    ] {
        has_line(&md, line);
    }
    assert!(!md.contains("### Exemptions") && !md.contains("### Waivers"));
    // As GitHub would render it.
    let findings = table(&html, &["severity"]);
    // Header and four findings (the last: TA-KEX-NOT-PQ, info).
    assert_eq!(findings.len(), 5);
    assert_eq!(
        findings[2][..3],
        ["high", "TA-PLAINTEXT", "pay/api-7d9f8b6c5-x2k4p (server)"]
    );
    assert_eq!(
        table(&html, &["server namespace"])[1],
        ["pay", "3", "1", "1", "1", "0"]
    );
}

fn each_fixture_gate_line() {
    for (capture, line) in [
        (
            "openssl-tls12-server-only",
            "**Gate FAIL** (`--fail-on high`): 1 unwaived finding at or above high.",
        ),
        (
            "nginx-http-plaintext-80",
            "**Gate FAIL** (`--fail-on high`): 1 unwaived finding at or above high.",
        ),
        (
            "openssl-tls13-mutual",
            "**Gate PASS** (`--fail-on high`): 0 unwaived findings at or above high.",
        ),
    ] {
        let r = super::common::report(&[capture], Some(tls_audit::report::model::Severity::High));
        let (md, _) = render(&format!("{capture}.md"), &r);
        has_line(&md, line);
    }
    let (md, _) = render(
        "ungated.md",
        &super::common::report(&super::common::CAPTURES, None),
    );
    has_line(&md, "**No gate** (`--fail-on` not given).");
}

fn hostile_text_renders_as_text() {
    let mut r = super::common::hostile();
    let v = r.verification.as_mut().unwrap();
    v.exempted.push(Exempted {
        rule: "TA-PLAINTEXT".into(),
        exemption: super::common::HOSTILE.into(),
        flows: 2,
    });
    v.waivers.push(WaiverStatus {
        index: 0,
        rule: "TA-WEAK-CIPHER".into(),
        reason: super::common::HOSTILE.into(),
        expires: "2027-01-31".into(),
        status: "active".into(),
        matched: 1,
    });
    r.warnings.push(tls_audit::report::model::Warning {
        kind: tls_audit::model::WarningKind::Snaplen,
        message: super::common::HOSTILE.into(),
    });
    let (md, html) = render("hostile.md", &r);
    assert!(!md.contains("<script") && !md.contains('\u{1}') && !md.contains('\u{1b}'));

    // Only the markup the renderer writes; links only to rule pages.
    let allowed = [
        "a", "code", "em", "h2", "h3", "li", "p", "strong", "table", "tbody", "td", "th", "thead",
        "tr", "ul",
    ];
    for tag in html["tags"].as_array().unwrap() {
        assert!(
            allowed.contains(&tag.as_str().unwrap()),
            "<{tag}> in {}",
            html["html"]
        );
    }
    for href in html["links"].as_array().unwrap() {
        let href = href.as_str().unwrap();
        assert!(
            href.starts_with(&format!(
                "{}TA-",
                tls_audit::report::links::DEFAULT_DOCS_URL
            )) && href.ends_with(".md"),
            "{href}"
        );
    }

    // Every row keeps its cells, and each hostile cell reads as the text
    // (control characters shown as escapes, as in the terminal table).
    let shown = sanitize(super::common::HOSTILE);
    let findings = table(&html, &["severity"]);
    assert!(findings.iter().all(|row| row.len() == 6), "{findings:?}");
    assert_eq!(
        findings[1],
        [
            "critical",
            "TA-TLS-VERSION",
            &sanitize("evil<ns>&\"'/pod\u{1}|* (server)"),
            &format!("SSL3.0 {shown}"),
            "1",
            "no"
        ]
    );
    assert_eq!(findings[2][3], shown);
    assert_eq!(
        findings.last().unwrap()[5],
        format!("yes: legacy partner {shown} (until 2027-01-31)")
    );
    assert_eq!(
        table(&html, &["rule", "exemption"])[1],
        ["TA-PLAINTEXT", &shown, "2"]
    );
    assert_eq!(table(&html, &["#"])[1][2], shown);
    assert!(
        html["html"]
            .as_str()
            .unwrap()
            .contains(&format!("<li>snaplen: {}</li>", html_text(&shown))),
        "{}",
        html["html"]
    );
}

/// `s` as cmark-gfm writes text into HTML.
fn html_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn namespaces_without_pods_and_facts_only() {
    let mut r = super::common::combined();
    for f in &mut r.flows {
        if f.protection == tls_audit::model::Protection::Plaintext {
            f.server.pod = None;
        }
    }
    let (md, html) = render("nopod.md", &r);
    has_line(&md, "| pay | 2 | 0 | 1 | 1 | 0 |");
    has_line(&md, "| _no known pod_ | 1 | 1 | 0 | 0 | 0 |");
    assert_eq!(
        table(&html, &["server namespace"])[2],
        ["no known pod", "1", "1", "0", "0", "0"]
    );
    for f in &mut r.flows {
        f.server.pod = None;
    }
    let (md, _) = render("nopods.md", &r);
    assert!(!md.contains("server namespace"), "{md}");

    r.verification = None;
    r.findings.clear();
    let (md, _) = render("facts.md", &r);
    has_line(
        &md,
        "**Not verified**: the report holds facts only; no rule ran.",
    );
    assert!(!md.contains("### Findings") && md.contains("### Flows"));
}

fn output_is_deterministic() {
    let r = super::common::hostile();
    let again: Report = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
    assert_eq!(render_markdown(&r), render_markdown(&again));
}

fn long_finding_lists_are_cut_and_counted() {
    let mut r = super::common::combined();
    let one = r.findings[0].clone();
    r.findings = vec![one; tls_audit::report::MAX_MARKDOWN_FINDING_ROWS + 7];
    let (md, html) = render("long.md", &r);
    assert_eq!(
        table(&html, &["severity"]).len(),
        tls_audit::report::MAX_MARKDOWN_FINDING_ROWS + 1
    );
    has_line(
        &md,
        "7 more findings not shown here; the JSON report has them all.",
    );
}

/// This module's tests, as the harness lists them (`main.rs`).
pub(crate) fn tests() -> Vec<crate::runner::Test> {
    use crate::runner::Test;
    vec![
        Test::new(
            module_path!(),
            "combined_summary_key_lines",
            combined_summary_key_lines,
        ),
        Test::new(
            module_path!(),
            "each_fixture_gate_line",
            each_fixture_gate_line,
        ),
        Test::new(
            module_path!(),
            "hostile_text_renders_as_text",
            hostile_text_renders_as_text,
        ),
        Test::new(
            module_path!(),
            "namespaces_without_pods_and_facts_only",
            namespaces_without_pods_and_facts_only,
        ),
        Test::new(
            module_path!(),
            "output_is_deterministic",
            output_is_deterministic,
        ),
        Test::new(
            module_path!(),
            "long_finding_lists_are_cut_and_counted",
            long_finding_lists_are_cut_and_counted,
        ),
    ]
}
