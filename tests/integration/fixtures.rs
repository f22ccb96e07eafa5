//! The engine on our own captures of real TLS stacks (fixtures/captures,
//! made by fixtures/gen/make-captures.sh): what the wire shows must be
//! reported as observed, what TLS 1.3 hides must be inferred correctly (the
//! ground truth is how the stacks were configured), and tshark must agree on
//! every field it can read.

use serde_json::Value;
use tls_audit::engine::{self, Config};
use tls_audit::model::Protection;
use tls_audit::report::model::{FlowRecord, Report};

use crate::corpus::{Tally, compare_case};
use crate::support::{self, ep};

/// What a directory check covered.
pub struct Checked {
    oracle_sessions: u64,
    oracle_fields: u64,
    /// Scenarios checked.
    pub scenarios: usize,
    /// TLS sessions checked.
    pub sessions: usize,
    /// TLS 1.3 inferences checked against configured truth.
    pub inferred: usize,
}

fn real_stacks_are_reported_as_configured() {
    let n = check_capture_dir(&support::root().join("fixtures").join("captures"));
    assert!(
        n.scenarios >= 20 && n.sessions >= 18 && n.inferred >= 7,
        "fixtures missing"
    );
}

/// Check every `<scenario>.expected.json` in `dir` against the engine's report
/// of its capture; panics listing every failure.
pub fn check_capture_dir(dir: &std::path::Path) -> Checked {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".expected.json"))
        .collect();
    files.sort();
    let mut n = Checked {
        oracle_sessions: 0,
        oracle_fields: 0,
        scenarios: 0,
        sessions: 0,
        inferred: 0,
    };
    let mut failures = Vec::new();
    for file in &files {
        let exp: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        let name = exp["scenario"].as_str().unwrap().to_string();
        let pcap = dir.join(exp["pcap"].as_str().unwrap());
        let report = engine::analyze_files(&[pcap.to_str().unwrap()], &Config::default()).unwrap();
        n.scenarios += 1;
        let mut tally = Tally::new();
        let mut disagreements = Vec::new();
        compare_case(
            &name,
            &report,
            &exp["oracle"]["sessions"],
            &mut tally,
            &mut disagreements,
            &mut n.oracle_sessions,
        );
        n.oracle_fields += tally.values().map(|(t, _)| t).sum::<u64>();
        for d in disagreements {
            // tshark_facts says "no client certificate" for resumed sessions;
            // the stacks' configuration says otherwise, and so do we.
            if d.field == "client_cert" && oracle_wrong_on_resumption(&exp, &d.session, &d.ours) {
                println!(
                    "{name} [{}]: tshark says client_cert={}, ground truth {} (resumed session)",
                    d.session, d.oracle, d.ours
                );
                continue;
            }
            failures.push(format!(
                "{name} [{}] tshark disagrees on {}: ours={} tshark={}",
                d.session, d.field, d.ours, d.oracle
            ));
        }
        let e = &exp["expect"];
        if e["protection"] == "plaintext" {
            check_plaintext(&name, e, &report, &mut failures);
            continue;
        }
        for s in e["sessions"].as_array().unwrap() {
            n.sessions += 1;
            check_session(&name, e, s, &report, &mut n, &mut failures);
        }
    }
    println!(
        "fixtures/captures: {} scenarios, {} TLS sessions, {} TLS 1.3 inferences checked against ground truth; {} tshark fields over {} sessions",
        n.scenarios, n.sessions, n.inferred, n.oracle_fields, n.oracle_sessions
    );
    for f in &failures {
        println!("FAIL {f}");
    }
    assert!(
        failures.is_empty(),
        "{} fixture checks failed",
        failures.len()
    );
    n
}

fn oracle_wrong_on_resumption(exp: &Value, session: &str, ours: &str) -> bool {
    exp["expect"]["sessions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|s| {
            let label = format!(
                "{} -> {}",
                s["client"].as_str().unwrap_or(""),
                s["server"].as_str().unwrap_or("")
            );
            label == session
                && s["resumed"] == true
                && s["ground_truth_mutual"]
                    .as_bool()
                    .map(|b| b.to_string())
                    .as_deref()
                    == Some(ours)
        })
}

fn find<'a>(report: &'a Report, client: &str, server: &str) -> Option<&'a FlowRecord> {
    report.flows.iter().find(|f| {
        ep(&f.client.ip, f.client.port) == client && ep(&f.server.ip, f.server.port) == server
    })
}

fn check_plaintext(name: &str, e: &Value, report: &Report, failures: &mut Vec<String>) {
    let port = e["server_port"].as_u64().unwrap() as u16;
    let flows: Vec<_> = report
        .flows
        .iter()
        .filter(|f| f.server.port == port)
        .collect();
    if flows.is_empty() {
        failures.push(format!("{name}: no flow to port {port}"));
    }
    for f in flows {
        if f.protection != Protection::Plaintext || f.tls.is_some() {
            failures.push(format!(
                "{name}: protection {} (expected plaintext)",
                f.protection
            ));
        }
        if e["plaintext_protocol"] == "http" && f.app_protocol.as_deref() != Some("http/1.1") {
            failures.push(format!("{name}: app_protocol {:?}", f.app_protocol));
        }
    }
}

fn check_session(
    name: &str,
    e: &Value,
    s: &Value,
    report: &Report,
    n: &mut Checked,
    failures: &mut Vec<String>,
) {
    let (c, v) = (s["client"].as_str().unwrap(), s["server"].as_str().unwrap());
    let mut fail = |what: String| failures.push(format!("{name} [{c} -> {v}]: {what}"));
    let Some(flow) = find(report, c, v) else {
        fail("flow not found (or client and server swapped)".into());
        return;
    };
    let Some(t) = &flow.tls else {
        fail(format!("protection {} without TLS facts", flow.protection));
        return;
    };
    if flow.protection != Protection::Tls {
        fail(format!("protection {}", flow.protection));
    }
    let version = s["tls_version"].as_str().map(|v| v.replace(' ', ""));
    if t.version.as_deref() != version.as_deref() {
        fail(format!("version {:?}, expected {version:?}", t.version));
    }
    let midstream = e["midstream"] == true;
    if midstream {
        if t.handshake_seen || t.mutual.is_some() || t.record_version.as_deref() != Some("TLS1.2") {
            fail(format!(
                "mid-stream: handshake_seen={} mutual={:?} record_version={:?}",
                t.handshake_seen, t.mutual, t.record_version
            ));
        }
        return;
    }
    if s["sni"].as_str() != t.sni.as_deref() {
        fail(format!("sni {:?}", t.sni));
    }
    let truth = s["ground_truth_mutual"].as_bool();
    let requested_truth = e["ground_truth_client_cert_requested"].as_bool();
    let evidence = t.mutual_evidence.as_deref();
    let tls13 = version.as_deref() == Some("TLS1.3");
    let resumed = s["resumed"] == true;
    match (s["mutual"].as_bool(), tls13, resumed) {
        // Visible on the wire: must be an observation, and right.
        (Some(m), _, _) => {
            if t.mutual != Some(m) || !evidence.is_some_and(|ev| ev.starts_with("observed")) {
                fail(format!(
                    "mutual {:?} ({evidence:?}), wire shows {m}",
                    t.mutual
                ));
            }
            if t.client_cert_requested != s["client_cert_requested"].as_bool() {
                fail(format!(
                    "client_cert_requested {:?}",
                    t.client_cert_requested
                ));
            }
        }
        // TLS 1.3 full handshake: an inference, labelled, and right.
        (None, true, false) => {
            n.inferred += 1;
            if t.mutual != truth || evidence != Some("encrypted-flight-size") {
                fail(format!(
                    "inferred mutual {:?} ({evidence:?}), truth {truth:?}",
                    t.mutual
                ));
            }
            if t.client_cert_requested != requested_truth {
                fail(format!(
                    "inferred client_cert_requested {:?}, truth {requested_truth:?}",
                    t.client_cert_requested
                ));
            }
            if t.mutual_inference.is_none() {
                fail("inference without its numbers".into());
            }
        }
        // TLS 1.2 resumption: inherited from the full handshake in the capture.
        (None, false, true) => {
            if t.mutual != truth || evidence != Some("resumed-session") {
                fail(format!(
                    "resumed mutual {:?} ({evidence:?}), truth {truth:?}",
                    t.mutual
                ));
            }
        }
        // TLS 1.3 PSK resumption: the identity is not on the wire at all.
        (None, true, true) => {
            if t.mutual.is_some() || t.mutual_unknown_reason.as_deref() != Some("resumed") {
                fail(format!(
                    "PSK resumption: mutual {:?} {:?}",
                    t.mutual, t.mutual_unknown_reason
                ));
            }
        }
        (None, false, false) => fail("TLS 1.2 handshake with unknown mutual in the oracle".into()),
    }
    if t.resumed != Some(resumed) {
        fail(format!("resumed {:?}", t.resumed));
    }
    // Identities: visible in TLS 1.2 full handshakes, encrypted in TLS 1.3.
    let leaf = |chain: &[std::sync::Arc<tls_audit::x509::Certificate>]| {
        chain.first().and_then(|c| c.spiffe_id.clone())
    };
    if tls13 || resumed {
        if !t.server_chain.is_empty() || (tls13 && !t.certificates_encrypted) {
            fail("certificates reported where the wire hides them".into());
        }
    } else {
        if leaf(&t.server_chain).as_deref() != s["server_spiffe_id"].as_str() {
            fail(format!("server SPIFFE ID {:?}", leaf(&t.server_chain)));
        }
        if leaf(&t.client_chain).as_deref() != s["client_spiffe_id"].as_str() {
            fail(format!("client SPIFFE ID {:?}", leaf(&t.client_chain)));
        }
    }
}

/// This module's tests, as the harness lists them (`main.rs`).
pub(crate) fn tests() -> Vec<crate::runner::Test> {
    use crate::runner::Test;
    vec![Test::new(
        module_path!(),
        "real_stacks_are_reported_as_configured",
        real_stacks_are_reported_as_configured,
    )]
}
