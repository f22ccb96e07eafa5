//! GitHub workflow commands: one per finding and per failing or
//! needs-review control, and a total; escaped as GitHub's toolkit escapes,
//! so hostile text can neither break a line nor start a command.

use tls_audit::report::compliance::Status;
use tls_audit::report::model::Severity;
use tls_audit::report::render_github;

fn one_annotation_per_finding_and_control() {
    let r = super::common::with_compliance(super::common::combined());
    let out = render_github(&r);
    super::common::snapshot("combined.github.txt", &out);
    let lines: Vec<&str> = out.lines().collect();
    let controls = r
        .compliance
        .as_ref()
        .unwrap()
        .frameworks
        .iter()
        .flat_map(|f| &f.controls)
        .filter(|k| matches!(k.status, Status::Fail | Status::NeedsReview))
        .count();
    assert_eq!(lines.len(), r.findings.len() + controls + 1);
    for (line, f) in lines.iter().zip(&r.findings) {
        let command = match f.severity {
            Severity::Critical | Severity::High => "::error ",
            Severity::Medium => "::warning ",
            _ => "::notice ",
        };
        assert!(line.starts_with(command), "{line}");
    }
    assert!(lines.iter().any(|l| {
        l.starts_with("::error title=HIPAA 164.312(e)(1) Transmission security%3A fail::")
    }));
    assert_eq!(
        lines.last().unwrap(),
        &"::notice title=tls-audit::3 flows (2 TLS, 1 mutual TLS), 4 findings; gate fail at --fail-on high"
    );
}

fn hostile_text_is_escaped() {
    let r = super::common::hostile();
    let out = render_github(&r);
    assert_eq!(out.lines().count(), r.findings.len() + 1);
    for line in out.lines() {
        assert!(line.starts_with("::"), "{line}");
        assert!(!line.contains('\r') && !line.contains('\u{1b}'));
        let (head, _) = line[2..].split_once("::").expect("command::message");
        // The title property has no bare `:` or `,` left.
        let title = head.split_once("title=").map_or("", |(_, t)| t);
        assert!(!title.contains(':') && !title.contains(','), "{title}");
    }
    // The hostile finding: critical, so an error, its `%` and newlines escaped.
    let evil = out.lines().next().unwrap();
    assert!(
        evil.starts_with(
            "::error title=TA-TLS-VERSION evil<ns>&\"'/pod\\u{1}|* (critical)::SSL3.0 <script>"
        ),
        "{evil}"
    );
    assert!(evil.contains("\\n# $x$") && evil.contains("%0A"), "{evil}");
    // The waived finding is a notice, whatever its severity.
    assert!(
        out.lines()
            .any(|l| l.starts_with("::notice title=TA-WEAK-CIPHER"))
    );
}

/// This module's tests, as the harness lists them (`main.rs`).
pub(crate) fn tests() -> Vec<crate::runner::Test> {
    use crate::runner::Test;
    vec![
        Test::new(
            module_path!(),
            "one_annotation_per_finding_and_control",
            one_annotation_per_finding_and_control,
        ),
        Test::new(
            module_path!(),
            "hostile_text_is_escaped",
            hostile_text_is_escaped,
        ),
    ]
}
