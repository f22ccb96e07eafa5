//! End to end: the real-stack captures, with the cluster snapshot of
//! `fixtures/cluster`, produce the findings recorded in
//! `tests/snapshots/fixture-findings.txt`. The snapshot leaves out what a
//! regeneration changes (ports, times), so the live test checks freshly
//! made captures against the same file.
//!
//! After an intended change: `UPDATE_SNAPSHOTS=1 cargo test findings`, then
//! read the diff.

use std::collections::BTreeMap;
use std::path::Path;

use tls_audit::report::model::{Finding, Report};

use crate::support;

const SNAPSHOT: &str = "tests/snapshots/fixture-findings.txt";

/// Verify one capture with the fixture snapshot and the default policy.
pub fn verify_capture(pcap: &Path) -> Report {
    support::verified(&[pcap], None)
}

/// One line per finding and per unchecked rule, without ports or times.
fn digest(report: &Report) -> Vec<String> {
    let mut lines: Vec<String> = report.findings.iter().map(line).collect();
    for n in &report.verification.as_ref().unwrap().not_checked {
        lines.push(format!("not-checked {} {} x{}", n.rule, n.reason, n.flows));
    }
    lines
}

fn line(f: &Finding) -> String {
    let who = match (&f.subject.pod, &f.subject.node) {
        (Some(p), _) => format!("{}/{}", p.namespace, p.name),
        (None, Some(n)) => format!("node/{n}"),
        _ => f.subject.endpoint.clone(),
    };
    let e = &f.evidence;
    let list = |key: &str, field: &str| -> String {
        e[key]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|v| v[field].as_str().unwrap_or("?").to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default()
    };
    let detail = match f.rule.as_str() {
        "TA-NO-MTLS" => format!("basis={} inferred={}", e["basis"], e["inferred"]),
        "TA-MTLS-UNKNOWN" => format!("reason={}", e["reason"]),
        "TA-PLAINTEXT" => format!("app={}", e["app_protocol"]),
        "TA-TLS-VERSION" => format!("version={}", e["version"]),
        "TA-WEAK-CIPHER" => format!("suite={}", e["cipher_suite"]),
        "TA-KEX-NOT-PQ" => format!(
            "group={} pq_offered={} declined={}",
            e["group"], e["pq_offered"], e["server_declined_pq"]
        ),
        "TA-NO-FORWARD-SECRECY" => format!("method={} suite={}", e["method"], e["cipher_suite"]),
        "TA-WEAK-KEX" => format!("group={} bits={}", e["group"], e["group_bits"]),
        "TA-SVID-INVALID" => format!("violations={}", list("violations", "rule")),
        "TA-CERT-LIFETIME" => format!(
            "validity={} reasons={}",
            e["validity"],
            list("reasons", "reason")
        ),
        "TA-SVID-MISMATCH" => format!("presented={} expected={}", e["spiffe_id"], e["expected"]),
        "TA-CHAIN" => format!("problems={}", list("problems", "kind")),
        _ => format!("certificate={}", e["certificate"]["subject"]),
    };
    format!(
        "{} {} {} {} x{} {detail}",
        f.severity.as_str(),
        f.rule,
        f.subject.role,
        who,
        f.occurrences
    )
}

/// The digest of every scenario in `dir` (by its `*.expected.json`).
pub fn digest_dir(dir: &Path) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if let Some(scenario) = name.strip_suffix(".expected.json") {
            let report = verify_capture(&dir.join(format!("{scenario}.pcap")));
            out.insert(scenario.to_string(), digest(&report));
        }
    }
    out
}

fn render(d: &BTreeMap<String, Vec<String>>) -> String {
    let mut s = String::from(
        "# Findings of fixtures/captures with fixtures/cluster and the default policy.\n\
         # Written by tests/integration/findings.rs (UPDATE_SNAPSHOTS=1); checked by it and by the live test.\n",
    );
    for (scenario, lines) in d {
        s.push_str(&format!("\n[{scenario}]\n"));
        for l in lines {
            s.push_str(l);
            s.push('\n');
        }
    }
    s
}

/// Compare `d` with the snapshot, line by line, naming each difference.
/// `live`: the captures were made now, so the pods of the snapshot are
/// older than at the recorded captures and the lifetime-to-pod-age ratio
/// differs; that one reason is left out of the comparison.
pub fn assert_matches_snapshot(d: &BTreeMap<String, Vec<String>>, live: bool) {
    let path = support::root().join(SNAPSHOT);
    let loosen = |s: String| {
        if live {
            s.replace(",exceeds-pod-age-ratio", "")
        } else {
            s
        }
    };
    let want = loosen(std::fs::read_to_string(&path).unwrap_or_default());
    let got = loosen(render(d));
    if want != got {
        let w: Vec<&str> = want.lines().collect();
        let g: Vec<&str> = got.lines().collect();
        let missing: Vec<_> = w.iter().filter(|l| !g.contains(l)).collect();
        let extra: Vec<_> = g.iter().filter(|l| !w.contains(l)).collect();
        panic!(
            "findings differ from {SNAPSHOT} (UPDATE_SNAPSHOTS=1 to accept)\nmissing: {missing:#?}\nunexpected: {extra:#?}"
        );
    }
}

fn fixture_captures_produce_the_recorded_findings() {
    let d = digest_dir(&support::root().join("fixtures/captures"));
    assert!(d.len() >= 20, "fixtures missing");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(support::root().join("tests/snapshots")).unwrap();
        std::fs::write(support::root().join(SNAPSHOT), render(&d)).unwrap();
        return;
    }
    assert_matches_snapshot(&d, false);
}

/// What the snapshot must say, stated independently of it: each scenario's
/// configuration implies these findings.
fn findings_follow_from_how_the_stacks_were_configured() {
    let d = digest_dir(&support::root().join("fixtures/captures"));
    let has = |scenario: &str, needle: &str| d[scenario].iter().any(|l| l.contains(needle));
    // Server without CertificateRequest, TLS 1.2: observed.
    assert!(has(
        "openssl-tls12-server-only",
        "TA-NO-MTLS server pay/api-7d9f8b6c5-x2k4p x1 basis=\"observed-no-certificate-request\" inferred=false"
    ));
    // TLS 1.3 without a client certificate: inferred, and it says so.
    assert!(has(
        "openssl-tls13-server-only",
        "TA-NO-MTLS server pay/api-7d9f8b6c5-x2k4p x1 basis=\"encrypted-flight-size\" inferred=true"
    ));
    // Mutual TLS 1.3 (inferred mutual): no mTLS finding, certificates unchecked.
    assert!(!has("openssl-tls13-mutual", "TA-NO-MTLS"));
    assert!(has(
        "openssl-tls13-mutual",
        "not-checked TA-CERT-EXPIRED certificates-encrypted"
    ));
    // Plain HTTP, even on 443.
    assert!(has(
        "nginx-http-plaintext-443",
        "TA-PLAINTEXT server pay/api-7d9f8b6c5-x2k4p"
    ));
    // Mid-stream: nothing to decide mTLS from.
    assert!(has(
        "openssl-tls12-midstream",
        "TA-MTLS-UNKNOWN server pay/api-7d9f8b6c5-x2k4p x1 reason=\"handshake-not-seen\""
    ));
    // The fixture PKI issues 10-year leaves: a lifetime finding on both sides.
    assert!(has(
        "openssl-tls12-mutual",
        "TA-CERT-LIFETIME server pay/api"
    ));
    assert!(has(
        "openssl-tls12-mutual",
        "TA-CERT-LIFETIME client web/frontend"
    ));
    // The long-chain scenario's server presents another workload's identity.
    assert!(has(
        "openssl-tls12-mtu576-longchain",
        "expected=\"spiffe://cluster.local/ns/pay/sa/api\""
    ));
}

/// This module's tests, as the harness lists them (`main.rs`).
pub(crate) fn tests() -> Vec<crate::runner::Test> {
    use crate::runner::Test;
    vec![
        Test::new(
            module_path!(),
            "fixture_captures_produce_the_recorded_findings",
            fixture_captures_produce_the_recorded_findings,
        ),
        Test::new(
            module_path!(),
            "findings_follow_from_how_the_stacks_were_configured",
            findings_follow_from_how_the_stacks_were_configured,
        ),
    ]
}
