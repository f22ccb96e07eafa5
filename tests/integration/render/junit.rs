//! JUnit XML, read back by junitparser (a real consumer): counts agree with
//! the report and the gate, and hostile text survives as text.

use std::collections::BTreeSet;

use serde_json::Value;
use tls_audit::report::model::{Report, Severity};
use tls_audit::report::render_junit;
use tls_audit::verify::rules;

fn parse(name: &str, report: &Report) -> Value {
    let xml = render_junit(report);
    let path = super::common::write(name, &xml);
    let (out, ok) = super::common::python("check_junit.py", &path);
    assert!(ok, "junitparser rejected {}: {out}", path.display());
    serde_json::from_str(&out).expect("JSON from check_junit.py")
}

/// What the counts must be, worked out from the report alone.
fn expected(r: &Report) -> (u64, u64, u64) {
    let gate = r.verification.as_ref().and_then(|v| v.fail_on);
    let mut subjects = BTreeSet::new();
    for f in &r.flows {
        subjects.insert(match &f.server.pod {
            Some(p) => format!("{}/{}", p.namespace, p.name),
            None => format!("{}:{}", f.server.ip, f.server.port),
        });
        subjects.insert(match &f.client.pod {
            Some(p) => format!("{}/{}", p.namespace, p.name),
            None => f.client.ip.clone(),
        });
    }
    for f in &r.findings {
        subjects.insert(super::common::label(&f.subject));
    }
    let failing: BTreeSet<(String, &str)> = r
        .findings
        .iter()
        .filter(|f| f.waived.is_none() && gate.is_none_or(|g| f.severity >= g))
        .map(|f| (super::common::label(&f.subject), f.rule.as_str()))
        .collect();
    let waived_only: BTreeSet<(String, &str)> = r
        .findings
        .iter()
        .filter(|f| f.waived.is_some())
        .map(|f| (super::common::label(&f.subject), f.rule.as_str()))
        .filter(|k| {
            !failing.contains(k)
                && r.findings.iter().all(|f| {
                    (super::common::label(&f.subject), f.rule.as_str()) != *k || f.waived.is_some()
                })
        })
        .collect();
    let not_checked = r
        .verification
        .as_ref()
        .map_or(0, |v| v.not_checked.len() as u64);
    (
        subjects.len() as u64 * rules::ALL.len() as u64 + not_checked,
        failing.len() as u64,
        waived_only.len() as u64 + not_checked,
    )
}

fn counts(j: &Value) -> (u64, u64, u64) {
    let n = |k: &str| j[k].as_u64().unwrap_or(u64::MAX);
    assert_eq!(n("errors"), 0);
    // The suites' own counts add up to the totals.
    for k in ["tests", "failures", "skipped"] {
        let sum: u64 = j["suites"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s[k].as_u64().unwrap())
            .sum();
        assert_eq!(sum, n(k), "{k}");
    }
    (n("tests"), n("failures"), n("skipped"))
}

fn case<'a>(j: &'a Value, suite: &str, name: &str) -> &'a Value {
    j["suites"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["name"] == suite)
        .flat_map(|s| s["cases"].as_array().unwrap())
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no {suite} {name}"))
}

fn each_fixture_counts_match_the_report_and_gate() {
    for capture in super::common::CAPTURES {
        let r = super::common::report(&[capture], Some(Severity::High));
        let j = parse(&format!("{capture}.junit.xml"), &r);
        assert!(j["consumer"].as_str().unwrap().starts_with("junitparser"));
        let got = counts(&j);
        assert_eq!(got, expected(&r), "{capture}");
        let gate = r.verification.as_ref().unwrap().gate;
        assert_eq!(
            got.1 > 0,
            gate == Some(tls_audit::model::Gate::Fail),
            "{capture}: gate {gate:?}"
        );
    }
}

fn combined_fixtures_fail_where_the_gate_does() {
    let r = super::common::combined();
    let j = parse("combined.junit.xml", &r);
    // Two pods, every rule each; nine certificate checks not run (TLS 1.3).
    assert_eq!(counts(&j), (2 * rules::ALL.len() as u64 + 9, 2, 9));
    assert_eq!(counts(&j), expected(&r));
    let names: Vec<&str> = j["suites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "pay/api-7d9f8b6c5-x2k4p",
            "web/frontend-5c6b7d8f9-q7r2m",
            "tls-audit: not checked"
        ]
    );
    let api = "pay/api-7d9f8b6c5-x2k4p";
    for rule in ["TA-NO-MTLS", "TA-PLAINTEXT"] {
        let c = case(&j, api, rule);
        assert_eq!(c["classname"], format!("tls-audit.{api}"));
        let failure = &c["results"][0];
        assert_eq!(failure["kind"], "failure");
        assert_eq!(failure["type"], "high");
        let finding = r.findings.iter().find(|f| f.rule == rule).unwrap();
        assert_eq!(failure["message"], finding.message.as_str());
        let text = failure["text"].as_str().unwrap();
        assert!(text.contains(&finding.message), "{text}");
        assert!(text.contains(&finding.remediation), "{text}");
        let evidence = serde_json::to_string(&finding.evidence).unwrap();
        assert!(text.contains(&format!("evidence: {evidence}")), "{text}");
    }
    // Below the gate: passing, with the finding in system-out.
    let lifetime = case(&j, api, "TA-CERT-LIFETIME");
    assert_eq!(lifetime["results"], serde_json::json!([]));
    let out = lifetime["system_out"].as_str().unwrap();
    assert!(
        out.starts_with("below the gate: [medium] workload certificate valid for 3651d"),
        "{out}"
    );
    // Clean rules pass silently; unchecked ones are skipped with the reason.
    let clean = case(&j, "web/frontend-5c6b7d8f9-q7r2m", "TA-NO-MTLS");
    assert_eq!(clean["results"], serde_json::json!([]));
    assert!(clean["system_out"].is_null());
    let skipped = case(
        &j,
        "tls-audit: not checked",
        "TA-CHAIN (certificates-encrypted)",
    );
    assert_eq!(skipped["results"][0]["kind"], "skipped");
    assert_eq!(
        skipped["results"][0]["message"],
        "not checked: certificates-encrypted (1 flows)"
    );
}

fn without_a_gate_every_unwaived_finding_fails() {
    let r = super::common::report(&super::common::CAPTURES, None);
    let j = parse("ungated.junit.xml", &r);
    // Three findings and TA-KEX-NOT-PQ (info: classical key exchange).
    assert_eq!(counts(&j).1, 4);
    assert_eq!(counts(&j), expected(&r));
    let c = case(&j, "pay/api-7d9f8b6c5-x2k4p", "TA-CERT-LIFETIME");
    assert_eq!(c["results"][0]["type"], "medium");
}

fn hostile_text_round_trips_as_text() {
    let r = super::common::hostile();
    let xml = render_junit(&r);
    assert!(!xml.contains("<script>"));
    assert!(!xml.contains('\u{1}') && !xml.contains('\u{1b}'));
    let j = parse("hostile.junit.xml", &r);
    assert_eq!(counts(&j), expected(&r));
    // What XML 1.0 cannot hold became U+FFFD; the rest is exactly the text.
    let clean = |s: &str| s.replace(['\u{1}', '\u{1b}'], "\u{FFFD}");
    let want = clean(super::common::HOSTILE);

    let evil = case(&j, "evil<ns>&\"'/pod\u{FFFD}|*", "TA-TLS-VERSION");
    assert_eq!(evil["classname"], "tls-audit.evil<ns>&\"'/pod\u{FFFD}|*");
    assert_eq!(evil["results"][0]["type"], "critical");
    assert_eq!(evil["results"][0]["message"], format!("SSL3.0 {want}"));

    let api = "pay/api-7d9f8b6c5-x2k4p";
    let hit = r.findings[1].rule.as_str();
    let failure = &case(&j, api, hit)["results"][0];
    assert_eq!(failure["message"], want.as_str());
    let text = failure["text"].as_str().unwrap();
    assert!(
        text.contains(&format!("] {want}\nfirst flow: ")),
        "{text:?}"
    );
    // serde_json wrote the evidence's controls as \u escapes.
    assert!(
        text.contains(r#""sni":"<script>alert(1)</script>&\"'\u0001|"#),
        "{text}"
    );

    let waived = &case(&j, api, "TA-WEAK-CIPHER")["results"][0];
    assert_eq!(waived["kind"], "skipped");
    assert_eq!(
        waived["message"],
        format!("waived: legacy partner {want} until 2027-01-31")
    );
}

fn a_facts_only_report_is_skipped_not_passed() {
    let mut r = super::common::combined();
    r.verification = None;
    r.findings.clear();
    let (tests, failures, skipped) = counts(&parse("facts.junit.xml", &r));
    assert_eq!(
        (tests, failures, skipped),
        (2 * rules::ALL.len() as u64, 0, tests)
    );
}

fn output_is_deterministic_and_survives_the_json_report() {
    let r = super::common::hostile();
    let again: Report = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
    assert_eq!(render_junit(&r), render_junit(&again));
    assert_eq!(render_junit(&r), render_junit(&super::common::hostile()));
}

/// This module's tests, as the harness lists them (`main.rs`).
pub(crate) fn tests() -> Vec<crate::runner::Test> {
    use crate::runner::Test;
    vec![
        Test::new(
            module_path!(),
            "each_fixture_counts_match_the_report_and_gate",
            each_fixture_counts_match_the_report_and_gate,
        ),
        Test::new(
            module_path!(),
            "combined_fixtures_fail_where_the_gate_does",
            combined_fixtures_fail_where_the_gate_does,
        ),
        Test::new(
            module_path!(),
            "without_a_gate_every_unwaived_finding_fails",
            without_a_gate_every_unwaived_finding_fails,
        ),
        Test::new(
            module_path!(),
            "hostile_text_round_trips_as_text",
            hostile_text_round_trips_as_text,
        ),
        Test::new(
            module_path!(),
            "a_facts_only_report_is_skipped_not_passed",
            a_facts_only_report_is_skipped_not_passed,
        ),
        Test::new(
            module_path!(),
            "output_is_deterministic_and_survives_the_json_report",
            output_is_deterministic_and_survives_the_json_report,
        ),
    ]
}
