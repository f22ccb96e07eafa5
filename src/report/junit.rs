//! JUnit XML, so that CI systems (Jenkins, GitLab, GitHub test reporters)
//! show the audit as tests: each subject of the capture is a test suite and
//! each catalogued rule a test case in it, failing where the gate would.
//!
//! The dialect is the common one: `<testsuites tests failures errors
//! skipped>` around `<testsuite name tests failures errors skipped>` around
//! `<testcase classname name>`, each with at most one `<failure>` or
//! `<skipped>` and an optional `<system-out>`. A subject is the pod
//! (`namespace/name`) at either end of a flow, else the server's `ip:port`,
//! else the client's address alone: a client's port is ephemeral and names
//! nothing, so one pod-less client is one suite, not one per connection.
//!
//! Why test cases fail, pass or are skipped:
//! - a rule with an unwaived finding at or above `verification.fail_on`
//!   (any unwaived finding when `fail_on` is null) fails; the failure holds
//!   every such finding's message, first flow, evidence (compact JSON) and
//!   remediation;
//! - otherwise, a rule whose findings are all waived is skipped (`waived:
//!   reason until DATE`);
//! - otherwise it passes; findings below the gate (and waived ones next to a
//!   failure) are noted in `<system-out>`, so nothing found is hidden.
//!
//! A report without verification (facts only) ran no rule: its test cases
//! are skipped, not passed. Checks that could not run (`not_checked`) are
//! not attributed to subjects in the report, so they form one more suite,
//! `tls-audit: not checked`, of skipped test cases (one per rule and reason):
//! a CI view then shows that something was not checked instead of a pass.
//!
//! Everything here may have come off the wire (certificate subjects, SNI in
//! messages and evidence), so all text is escaped for XML and the characters
//! XML 1.0 forbids (most C0 controls, U+FFFE, U+FFFF) become U+FFFD, as do
//! the C1 controls (allowed, but terminal escapes when the file is printed).
//! Output is deterministic: suites by subject name, test cases in catalogue
//! order, findings in report order.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::net::{IpAddr, SocketAddr};

use super::compliance::{FrameworkResult, Status};
use super::model::{BaselineState, Endpoint, Finding, Report, Severity, Verification};
use super::options::RenderOptions;
use crate::model::rules;

/// Render the report as a JUnit XML document (UTF-8, ending in a newline).
pub fn render_junit(report: &Report) -> String {
    render_junit_with(report, &RenderOptions::default())
}

/// [`render_junit`], each finding with its rule's page under `opts.docs_url`.
pub fn render_junit_with(report: &Report, opts: &RenderOptions) -> String {
    let docs = opts.docs_url.as_str();
    let verification = report.verification.as_ref();
    let gate = verification.and_then(|v| v.fail_on);
    let mut suites: Vec<Suite> = subjects(report)
        .iter()
        .map(|(subject, findings)| {
            subject_suite(subject, findings, verification.is_some(), gate, docs)
        })
        .collect();
    if let Some(v) = verification
        && !v.not_checked.is_empty()
    {
        suites.push(not_checked_suite(v));
    }
    if let Some(c) = &report.compliance {
        for fw in &c.frameworks {
            suites.push(compliance_suite(fw));
        }
    }
    document(&suites)
}

/// Every endpoint of the flows, and each finding under its subject. A
/// finding whose subject is in no flow (a report cut short, or edited)
/// still gets its suite: nothing found is dropped.
fn subjects(report: &Report) -> BTreeMap<String, Vec<&Finding>> {
    let mut subjects: BTreeMap<String, Vec<&Finding>> = BTreeMap::new();
    for flow in &report.flows {
        subjects
            .entry(endpoint_label(&flow.server, true))
            .or_default();
        subjects
            .entry(endpoint_label(&flow.client, false))
            .or_default();
    }
    for f in &report.findings {
        subjects.entry(f.subject.label()).or_default().push(f);
    }
    subjects
}

/// One subject's suite: a test case per rule of the catalogue, then per
/// rule a finding names that the catalogue does not know (a report from
/// another version).
fn subject_suite(
    subject: &str,
    findings: &[&Finding],
    verified: bool,
    gate: Option<Severity>,
    docs: &str,
) -> Suite {
    let mut suite = Suite::new(subject);
    let mut ids: Vec<&str> = rules::ALL.iter().map(|r| r.id).collect();
    let extra: BTreeSet<&str> = findings
        .iter()
        .map(|f| f.rule.as_str())
        .filter(|id| rules::by_id(id).is_none())
        .collect();
    ids.extend(extra);
    for id in ids {
        let mine: Vec<&Finding> = findings.iter().copied().filter(|f| f.rule == id).collect();
        let case = if verified {
            judge(&mine, gate, docs)
        } else {
            Outcome::Skipped("not verified: the report holds facts only".into())
        };
        suite.push(
            &format!("tls-audit.{subject}"),
            id,
            case,
            &notes(&mine, gate, docs),
        );
    }
    suite
}

/// The rules verification could not run, as skipped cases.
fn not_checked_suite(v: &Verification) -> Suite {
    let mut suite = Suite::new("tls-audit: not checked");
    for n in &v.not_checked {
        let why = format!("not checked: {} ({} flows)", n.reason, n.flows);
        suite.push(
            "tls-audit.not-checked",
            &format!("{} ({})", n.rule, n.reason),
            Outcome::Skipped(why),
            "",
        );
    }
    suite
}

/// The XML document of the suites, with their totals.
fn document(suites: &[Suite]) -> String {
    let (tests, failures, skipped) = suites.iter().fold((0, 0, 0), |(t, f, s), x| {
        (t + x.tests, f + x.failures, s + x.skipped)
    });
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"tls-audit\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\">"
    );
    for s in suites {
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\">",
            attr(&s.name),
            s.tests,
            s.failures,
            s.skipped
        );
        out.push_str(&s.body);
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// One suite, its test cases already written.
struct Suite {
    name: String,
    tests: u64,
    failures: u64,
    skipped: u64,
    body: String,
}

/// What became of one test case.
enum Outcome {
    Pass,
    /// `type` (a severity, or `compliance`), `message`, text.
    Failure(&'static str, String, String),
    /// `message`.
    Skipped(String),
}

impl Suite {
    fn new(name: &str) -> Self {
        Suite {
            name: name.to_string(),
            tests: 0,
            failures: 0,
            skipped: 0,
            body: String::new(),
        }
    }

    fn push(&mut self, classname: &str, name: &str, outcome: Outcome, out: &str) {
        self.tests += 1;
        let open = format!(
            "    <testcase classname=\"{}\" name=\"{}\"",
            attr(classname),
            attr(name)
        );
        let mut inner = String::new();
        match outcome {
            Outcome::Pass => {}
            Outcome::Failure(severity, message, detail) => {
                self.failures += 1;
                let _ = writeln!(
                    inner,
                    "      <failure type=\"{}\" message=\"{}\">{}</failure>",
                    severity,
                    attr(&message),
                    text(&detail)
                );
            }
            Outcome::Skipped(message) => {
                self.skipped += 1;
                let _ = writeln!(inner, "      <skipped message=\"{}\"/>", attr(&message));
            }
        }
        if !out.is_empty() {
            let _ = writeln!(inner, "      <system-out>{}</system-out>", text(out));
        }
        if inner.is_empty() {
            let _ = writeln!(self.body, "{open}/>");
        } else {
            let _ = write!(self.body, "{open}>\n{inner}    </testcase>\n");
        }
    }
}

/// A framework's controls as test cases: fail fails, needs review and not
/// applicable are skipped (a person decides; nothing was in scope), pass
/// passes; each carries its evidence and caveat in `<system-out>`.
fn compliance_suite(fw: &FrameworkResult) -> Suite {
    let mut suite = Suite::new(&format!("compliance: {} {}", fw.framework, fw.version));
    for k in &fw.controls {
        let mut detail = format!(
            "{}\ncaveat: {}\nhow decided: {}",
            k.summary, k.caveat, k.how_decided
        );
        for e in &k.evidence {
            let _ = write!(detail, "\n[{}] {}", e.effect.label(), e.reason);
            if !e.flows.is_empty() {
                let flows: Vec<String> = e.flows.iter().map(u64::to_string).collect();
                let _ = write!(detail, " (flows {}", flows.join(", "));
                if e.more_flows > 0 {
                    let _ = write!(detail, " and {} more", e.more_flows);
                }
                detail.push(')');
            }
        }
        let outcome = match k.status {
            Status::Fail => Outcome::Failure("compliance", k.summary.clone(), detail.clone()),
            Status::NeedsReview => Outcome::Skipped(format!("needs review: {}", k.summary)),
            Status::NotApplicable => Outcome::Skipped(format!("not applicable: {}", k.summary)),
            Status::Pass => Outcome::Pass,
        };
        let out = if k.status == Status::Fail {
            ""
        } else {
            detail.as_str()
        };
        suite.push(
            &format!("tls-audit.compliance.{}", fw.key),
            &format!("{} {}", k.reference, k.title),
            outcome,
            out,
        );
    }
    suite
}

/// Whether a finding fails the gate: unwaived (and new, with a baseline)
/// and at least `gate`, or any such finding without a gate.
fn fails(f: &Finding, gate: Option<Severity>) -> bool {
    f.counts_for_gate() && gate.is_none_or(|g| f.severity >= g)
}

/// The outcome of one rule for one subject, from its findings.
fn judge(findings: &[&Finding], gate: Option<Severity>, docs: &str) -> Outcome {
    let failing: Vec<&Finding> = findings
        .iter()
        .copied()
        .filter(|f| fails(f, gate))
        .collect();
    if let Some(worst) = failing.iter().map(|f| f.severity).max() {
        let first = failing
            .iter()
            .find(|f| f.severity == worst)
            .map(|f| f.message.clone())
            .unwrap_or_default();
        let message = match failing.len() {
            1 => first,
            n => format!("{first} (and {} more)", n - 1),
        };
        let text: Vec<String> = failing.iter().map(|f| describe(f, docs)).collect();
        return Outcome::Failure(worst.as_str(), message, text.join("\n\n"));
    }
    match findings.first().and_then(|f| f.waived.as_ref()) {
        Some(w) if findings.iter().all(|f| f.waived.is_some()) => {
            Outcome::Skipped(format!("waived: {} until {}", w.reason, w.expires))
        }
        _ => Outcome::Pass,
    }
}

/// The findings a test case's outcome does not already detail: below the
/// gate, or waived.
fn notes(findings: &[&Finding], gate: Option<Severity>, docs: &str) -> String {
    let notes: Vec<String> = findings
        .iter()
        .filter(|f| !fails(f, gate))
        .map(|f| match &f.waived {
            Some(w) => format!(
                "waived ({} until {}): {}",
                w.reason,
                w.expires,
                describe(f, docs)
            ),
            None if f.baseline == Some(BaselineState::Unchanged) => {
                format!("unchanged since the baseline: {}", describe(f, docs))
            }
            None => format!("below the gate: {}", describe(f, docs)),
        })
        .collect();
    notes.join("\n\n")
}

/// One finding for people: what, where, the facts, and the fix.
fn describe(f: &Finding, docs: &str) -> String {
    let evidence = serde_json::to_string(&f.evidence).unwrap_or_default();
    let mut text = format!(
        "[{}] {}\nfirst flow: {} -> {} at {}; occurrences: {} (last {})\nevidence: {evidence}\nremediation: {}",
        f.severity.as_str(),
        f.message,
        f.flow.client,
        f.flow.server,
        f.flow.first_seen,
        f.occurrences,
        f.last_seen,
        f.remediation
    );
    if let Some(url) = super::links::rule_url(&f.rule, docs) {
        let _ = write!(text, "\ndocumentation: {url}");
    }
    if let Some(b) = f.baseline {
        let _ = write!(text, "\nbaseline: {}", b.as_str());
    }
    text
}

/// A flow end as a suite name, spelled as findings spell their subjects.
fn endpoint_label(e: &Endpoint, server: bool) -> String {
    match (&e.pod, e.ip.parse::<IpAddr>()) {
        (Some(p), _) => p.label(),
        (None, Ok(ip)) if server => SocketAddr::new(ip, e.port).to_string(),
        (None, Ok(ip)) => ip.to_string(),
        (None, Err(_)) if server => format!("{}:{}", e.ip, e.port),
        (None, Err(_)) => e.ip.clone(),
    }
}

/// Escape for an XML attribute value (`attr`) or text. Characters XML 1.0
/// forbids, and C1 controls, become U+FFFD. In attributes, tab and newline
/// are written as references (a parser would turn them into spaces); a
/// carriage return always is (a parser would drop it).
fn escape(s: &str, attr: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' if attr => out.push_str("&#9;"),
            '\n' if attr => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' | '\n' => out.push(c),
            '\u{FFFE}' | '\u{FFFF}' => out.push('\u{FFFD}'),
            c if c.is_control() || super::table::is_bidi_control(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// [`escape`] for an attribute value.
fn attr(s: &str) -> String {
    escape(s, true)
}

/// [`escape`] for text content.
fn text(s: &str) -> String {
    escape(s, false)
}

#[cfg(test)]
mod tests {
    use super::{attr, text};

    #[test]
    fn escapes_markup_and_forbidden_characters() {
        assert_eq!(
            attr("<a href=\"x\">&'\u{1}\u{1b}\u{9b}\u{FFFF}\t\n\r"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&apos;\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}&#9;&#10;&#13;"
        );
        assert_eq!(text("a\tb\nc\rd\u{0}"), "a\tb\nc&#13;d\u{FFFD}");
        assert_eq!(attr("api.pay.svc ✓"), "api.pay.svc ✓");
        // Bidirectional overrides would reorder what a reader sees.
        assert_eq!(text("a\u{202E}b\u{2067}"), "a\u{FFFD}b\u{FFFD}");
    }
}
