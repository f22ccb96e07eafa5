//! Compliance views on the fixture analysis: the statuses follow from the
//! flows (internal plaintext needs review under PCI DSS 4.2.1 but fails
//! once the server is public; HIPAA encryption is addressable), the
//! evidence points at the right flows and certificates, every renderer
//! shows the views, and the CLI adds them to saved reports.

use std::collections::BTreeSet;
use std::process::Command;

use tls_audit::report::compliance::{ControlResult, Status, evaluate};
use tls_audit::report::model::Report;
use tls_audit::report::{render_junit, render_markdown, render_sarif, render_table};

fn control<'a>(r: &'a Report, reference: &str) -> &'a ControlResult {
    r.compliance
        .iter()
        .flat_map(|c| &c.frameworks)
        .flat_map(|f| &f.controls)
        .find(|k| k.reference == reference)
        .unwrap_or_else(|| panic!("no {reference}"))
}

fn plaintext_flow(r: &Report) -> u64 {
    r.flows
        .iter()
        .position(|f| f.protection == tls_audit::model::Protection::Plaintext)
        .expect("the fixture has a plaintext flow") as u64
}

fn fixture_statuses_follow_the_flows() {
    let r = super::common::with_compliance(super::common::combined());
    let c = r.compliance.as_ref().unwrap();
    super::common::snapshot(
        "compliance.json",
        &(serde_json::to_string_pretty(c).unwrap() + "\n"),
    );

    let plain = plaintext_flow(&r);
    let pci = control(&r, "PCI DSS 4.0.1 4.2.1");
    assert_eq!(
        pci.status,
        Status::NeedsReview,
        "internal plaintext is not an automatic failure"
    );
    let ev = pci
        .evidence
        .iter()
        .find(|e| e.rule.as_deref() == Some("TA-PLAINTEXT"))
        .unwrap();
    assert_eq!(ev.flows, [plain]);
    assert!(ev.reason.contains("internal addresses only"));
    assert!(pci.caveat.contains("open, public networks"));

    let e1 = control(&r, "HIPAA 164.312(e)(1)");
    assert_eq!(e1.status, Status::Fail);
    assert!(
        e1.evidence
            .iter()
            .any(|e| e.effect == Status::Fail && e.flows == [plain])
    );
    let enc = control(&r, "HIPAA 164.312(e)(2)(ii)");
    assert_eq!(
        (enc.status, enc.obligation.as_str()),
        (Status::NeedsReview, "addressable")
    );
    assert_eq!(
        control(&r, "PCI DSS 4.0.1 2.2.7").status,
        Status::NotApplicable
    );
    assert_eq!(
        control(&r, "PCI DSS 4.0.1 8.3.2").status,
        Status::NeedsReview
    );

    // The inventory lists exactly the certificates the flows carried.
    let seen: BTreeSet<String> = r
        .flows
        .iter()
        .filter_map(|f| f.tls.as_ref())
        .flat_map(|t| t.server_chain.iter().chain(&t.client_chain))
        .map(|c| c.sha256.clone())
        .collect();
    let inv = control(&r, "PCI DSS 4.0.1 4.2.1.1");
    let listed: BTreeSet<String> = inv
        .evidence
        .iter()
        .flat_map(|e| e.certificates.iter().cloned())
        .collect();
    assert!(!seen.is_empty());
    assert_eq!(listed, seen);
    assert_eq!(inv.in_scope.certificates, seen.len() as u64);
    // TLS 1.3 without a key log hides one flow's certificates.
    assert_eq!(inv.status, Status::NeedsReview);
}

fn plaintext_to_a_public_address_fails_pci_4_2_1() {
    let mut r = super::common::combined();
    let plain = plaintext_flow(&r) as usize;
    let old = format!(
        "{}:{}",
        r.flows[plain].server.ip, r.flows[plain].server.port
    );
    r.flows[plain].server.ip = "203.0.113.80".into();
    for f in &mut r.findings {
        if f.flow.server == old {
            f.flow.server = format!("203.0.113.80:{}", r.flows[plain].server.port);
        }
    }
    r.compliance = Some(evaluate(&r, &["pci-dss-4.0.1"]).unwrap());
    let pci = control(&r, "PCI DSS 4.0.1 4.2.1");
    assert_eq!(pci.status, Status::Fail);
    assert_eq!(pci.evidence[0].rule.as_deref(), Some("TA-PLAINTEXT"));
    assert_eq!(pci.evidence[0].flows, [plain as u64]);
}

fn every_renderer_shows_the_views() {
    let r = super::common::with_compliance(super::common::combined());
    let md = render_markdown(&r);
    assert!(md.contains("\n### Compliance: PCI DSS 4.0.1\n"), "{md}");
    assert!(
        md.contains(" · cluster fixture · namespaces pay, web\n"),
        "{md}"
    );
    assert!(md.lines().any(|l| l.starts_with(
        "| 4.2.1 | Strong cryptography for PAN over open, public networks | **needs review** |"
    )));
    let table = render_table(&r);
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("164.312(e)(1)") && l.contains("FAIL")),
        "{table}"
    );
    let sarif: serde_json::Value = serde_json::from_str(&render_sarif(&r)).unwrap();
    let props = &sarif["runs"][0]["invocations"][0]["properties"];
    assert_eq!(props["compliance"].as_array().unwrap().len(), 9);
    assert_eq!(props["metadata"]["cluster"], "fixture");
    // JUnit, as junitparser reads it: a suite per framework, failing
    // controls fail, the others are skipped or pass.
    let path = super::common::write("compliance.junit.xml", &render_junit(&r));
    let (out, ok) = super::common::python("check_junit.py", &path);
    assert!(ok, "{out}");
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    let hipaa = j["suites"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "compliance: HIPAA 45 CFR Part 164 Subpart C")
        .expect("HIPAA suite");
    let fails = r.compliance.as_ref().unwrap().frameworks[1].counts["fail"];
    assert!(fails > 0);
    assert_eq!(hipaa["failures"], fails);
    assert_eq!(hipaa["tests"], 4);
}

fn tls_audit() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tls-audit"))
}

fn cli_adds_views_and_the_source_digest() {
    let dir = crate::support::temp_dir("compliance-cli");
    let saved = dir.join("saved.json");
    std::fs::write(
        &saved,
        tls_audit::report::render_json(&super::common::combined()),
    )
    .unwrap();
    let out = tls_audit()
        .args([
            "report",
            saved.to_str().unwrap(),
            "-o",
            "json",
            "--compliance",
            "hipaa",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Report = serde_json::from_slice(&out.stdout).unwrap();
    let c = r.compliance.as_ref().unwrap();
    assert_eq!(c.frameworks.len(), 1);
    assert_eq!(c.frameworks[0].key, "hipaa");
    let m = r.metadata.as_ref().unwrap();
    let from = m.rendered_from.as_ref().unwrap();
    let bytes = std::fs::read(&saved).unwrap();
    assert_eq!(from.sha256, tls_audit::report::metadata::sha256_hex(&bytes));
    assert_eq!(from.bytes, bytes.len() as u64);
    assert_eq!(m.namespaces, ["pay", "web"]);
    assert_eq!(m.compliance_frameworks, ["hipaa"]);

    let out = tls_audit()
        .args([
            "report",
            saved.to_str().unwrap(),
            "--compliance",
            "pci-dss-4.0.1,soc2",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown compliance framework `soc2` (known: pci-dss-4.0.1, hipaa)"),
        "{err}"
    );
}

fn analyze_writes_views_and_capture_windows() {
    let root = crate::support::root();
    let out = tls_audit()
        .current_dir(&root)
        .args([
            "analyze",
            "fixtures/captures/nginx-http-plaintext-80.pcap",
            "--pods",
            "fixtures/cluster/pods.json",
            "--compliance",
            "pci-dss-4.0.1",
            "--cluster-name",
            "demo",
            "-o",
            "json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Report = serde_json::from_slice(&out.stdout).unwrap();
    let m = r.metadata.as_ref().unwrap();
    assert_eq!(m.cluster.as_deref(), Some("demo"));
    let w = &m.capture_windows[0];
    assert_eq!(
        w.first_packet.as_deref(),
        Some(r.flows[0].first_seen.to_string().as_str())
    );
    assert!(w.last_packet >= w.first_packet);
    assert!(m.pods.iter().all(|p| p.started.is_some()));
    assert_eq!(
        control(&r, "PCI DSS 4.0.1 4.2.1").status,
        Status::NeedsReview
    );
}

/// This module's tests, as the harness lists them (`main.rs`).
pub(crate) fn tests() -> Vec<crate::runner::Test> {
    use crate::runner::Test;
    vec![
        Test::new(
            module_path!(),
            "fixture_statuses_follow_the_flows",
            fixture_statuses_follow_the_flows,
        ),
        Test::new(
            module_path!(),
            "plaintext_to_a_public_address_fails_pci_4_2_1",
            plaintext_to_a_public_address_fails_pci_4_2_1,
        ),
        Test::new(
            module_path!(),
            "every_renderer_shows_the_views",
            every_renderer_shows_the_views,
        ),
        Test::new(
            module_path!(),
            "cli_adds_views_and_the_source_digest",
            cli_adds_views_and_the_source_digest,
        ),
        Test::new(
            module_path!(),
            "analyze_writes_views_and_capture_windows",
            analyze_writes_views_and_capture_windows,
        ),
    ]
}
