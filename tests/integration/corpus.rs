//! The engine against the external corpus (`../shared/corpus`): every TCP
//! TLS session tshark found, field by field. Disagreements must each be
//! explained in `tests/corpus-disagreements.json`; the agreement rate over
//! the comparable fields must be at least 99%.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use tls_audit::engine::{self, Config};
use tls_audit::report::model::{FlowRecord, Report};

use crate::support::{self, ep};

/// One field compared for one session.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Disagreement {
    pub case: String,
    pub session: String,
    pub field: &'static str,
    pub ours: String,
    pub oracle: String,
}

fn engine_agrees_with_tshark_on_the_corpus() {
    let shared = support::needed_shared();
    let corpus = shared.join("corpus");
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(corpus.join("MANIFEST.json")).unwrap())
            .unwrap();
    let known = known_disagreements();
    let mut checked = Tally::new();
    let mut disagreements = Vec::new();
    let mut sessions = 0;
    let cases = manifest["cases"].as_array().unwrap();
    for case in cases {
        let id = case["id"].as_str().unwrap().to_string();
        let pcap = corpus.join(case["pcap"].as_str().unwrap());
        let report = match engine::analyze_files(&[pcap.to_str().unwrap()], &Config::default()) {
            Ok(r) => r,
            Err(e) => {
                disagreements.push(Disagreement {
                    case: id.clone(),
                    session: "-".into(),
                    field: "readable",
                    ours: e.to_string(),
                    oracle: "readable".into(),
                });
                continue;
            }
        };
        compare_case(
            &id,
            &report,
            &case["tshark"]["sessions"],
            &mut checked,
            &mut disagreements,
            &mut sessions,
        );
    }
    let (total, agree) = checked
        .values()
        .fold((0, 0), |(t, a), (ct, ca)| (t + ct, a + ca));
    println!("corpus: {} cases, {sessions} TCP TLS sessions", cases.len());
    for (field, (t, a)) in &checked {
        println!(
            "  {field:<16} {a:>5}/{t:<5} {:.2}%",
            100.0 * *a as f64 / (*t).max(1) as f64
        );
    }
    let rate = 100.0 * agree as f64 / total.max(1) as f64;
    println!("  {:<16} {agree:>5}/{total:<5} {rate:.2}%", "all fields");
    let mut unexplained = Vec::new();
    let mut seen = BTreeSet::new();
    for d in &disagreements {
        let key = (d.case.clone(), d.session.clone(), d.field.to_string());
        if !known.contains(&key) {
            unexplained.push(d);
        }
        seen.insert(key);
    }
    // An entry that no longer disagrees is stale: the list must stay true.
    let stale: Vec<_> = known.difference(&seen).collect();
    for (case, session, field) in &stale {
        println!("STALE entry in tests/corpus-disagreements.json: {case} [{session}] {field}");
    }
    println!(
        "  disagreements: {} ({} explained in tests/corpus-disagreements.json)",
        disagreements.len(),
        disagreements.len() - unexplained.len()
    );
    for d in &unexplained {
        println!(
            "UNEXPLAINED {} [{}] {}: ours={} tshark={}",
            d.case, d.session, d.field, d.ours, d.oracle
        );
    }
    upstream_agreement(&corpus, cases);
    assert!(
        unexplained.is_empty(),
        "{} unexplained disagreements",
        unexplained.len()
    );
    assert!(
        stale.is_empty(),
        "{} entries of tests/corpus-disagreements.json no longer disagree: remove them",
        stale.len()
    );
    assert!(rate >= 99.0, "agreement {rate:.2}% is below 99%");
}

pub type Tally = BTreeMap<&'static str, (u64, u64)>;

/// Compare one capture's report with tshark's sessions for it.
pub fn compare_case(
    id: &str,
    report: &Report,
    tshark_sessions: &Value,
    checked: &mut Tally,
    disagreements: &mut Vec<Disagreement>,
    sessions: &mut u64,
) {
    for s in tshark_sessions.as_array().into_iter().flatten() {
        if s["transport"] != "tcp" {
            continue; // QUIC and DTLS are out of scope for the TCP engine
        }
        if s["client"].is_null() && s["server"].is_null() {
            continue; // tshark saw records but no hello: nothing to compare
        }
        *sessions += 1;
        let label = format!(
            "{} -> {}",
            s["client"].as_str().unwrap_or("?"),
            s["server"].as_str().unwrap_or("?")
        );
        let flow = find_flow(report, s);
        for (field, ours, oracle) in compare(flow, s) {
            let e = checked.entry(field).or_default();
            e.0 += 1;
            if ours == oracle {
                e.1 += 1;
            } else {
                disagreements.push(Disagreement {
                    case: id.to_string(),
                    session: label.clone(),
                    field,
                    ours,
                    oracle,
                });
            }
        }
    }
}

/// The corpus captures copied into the repository (fixtures/corpus, with
/// their licenses in NOTICE.md) agree with tshark without needing ../shared.
fn in_repo_corpus_copies_agree_with_tshark() {
    let dir = support::root().join("fixtures").join("corpus");
    let index: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("index.json")).unwrap()).unwrap();
    let known = known_disagreements();
    let mut checked = Tally::new();
    let mut disagreements = Vec::new();
    let mut sessions = 0;
    let cases = index["cases"].as_array().unwrap();
    for c in cases {
        let pcap = dir.join(c["pcap"].as_str().unwrap());
        let facts: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join(c["facts"].as_str().unwrap())).unwrap(),
        )
        .unwrap();
        let report = engine::analyze_files(&[pcap.to_str().unwrap()], &Config::default()).unwrap();
        let id = c["id"].as_str().unwrap();
        compare_case(
            id,
            &report,
            &facts["tshark"]["sessions"],
            &mut checked,
            &mut disagreements,
            &mut sessions,
        );
    }
    let total: u64 = checked.values().map(|(t, _)| t).sum();
    println!(
        "fixtures/corpus: {} captures, {sessions} sessions, {total} comparisons",
        cases.len()
    );
    let unexplained: Vec<_> = disagreements
        .iter()
        .filter(|d| !known.contains(&(d.case.clone(), d.session.clone(), d.field.to_string())))
        .collect();
    for d in &unexplained {
        println!(
            "UNEXPLAINED {} [{}] {}: ours={} tshark={}",
            d.case, d.session, d.field, d.ours, d.oracle
        );
    }
    assert!(cases.len() >= 10 && total >= 50, "too little was compared");
    assert!(unexplained.is_empty());
}

fn known_disagreements() -> BTreeSet<(String, String, String)> {
    let path = support::root()
        .join("tests")
        .join("corpus-disagreements.json");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["disagreements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["case"].as_str().unwrap().to_string(),
                d["session"].as_str().unwrap().to_string(),
                d["field"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Our flow for a tshark session: the same endpoints in either order.
fn find_flow<'a>(report: &'a Report, s: &Value) -> Option<&'a FlowRecord> {
    let c = s["client"].as_str()?;
    let v = s["server"].as_str()?;
    // A 5-tuple can be reused by a later connection: prefer the TLS one.
    let mut same = report.flows.iter().filter(|f| {
        let a = ep(&f.client.ip, f.client.port);
        let b = ep(&f.server.ip, f.server.port);
        (a == c && b == v) || (a == v && b == c)
    });
    let first = same.clone().next();
    same.find(|f| f.tls.is_some()).or(first)
}

fn opt(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// tshark's version names in the report's spelling.
fn version(v: &str) -> String {
    if let Some(d) = v.strip_prefix("TLS 1.3 draft-") {
        return format!("TLS1.3-draft-{d}");
    }
    if let Some(rest) = v.strip_prefix("TLS 1.3 (")
        && let Some(hex) = rest.split_whitespace().last()
    {
        return format!("TLS1.3-{}", hex.trim_end_matches(')'));
    }
    v.replace(' ', "")
}

/// (field, ours, tshark) for every field tshark can speak to.
fn compare(flow: Option<&FlowRecord>, s: &Value) -> Vec<(&'static str, String, String)> {
    let mut out = Vec::new();
    let Some(f) = flow else {
        out.push(("flow", "missing".into(), "present".into()));
        return out;
    };
    let Some(t) = &f.tls else {
        out.push(("protection", f.protection.to_string(), "tls".into()));
        return out;
    };
    out.push(("protection", f.protection.to_string(), "tls".into()));
    if s["client_hello_seen"] == true {
        out.push((
            "sni",
            t.sni.clone().unwrap_or("null".into()),
            opt(&s["sni"]),
        ));
        out.push((
            "ja4",
            t.ja4.clone().unwrap_or("null".into()),
            opt(&s["ja4"]),
        ));
    }
    if let Some(v) = s["tls_version"].as_str() {
        out.push((
            "version",
            t.version.as_deref().unwrap_or("null").to_string(),
            version(v),
        ));
    }
    if let Some(c) = s["cipher_suite"].as_str() {
        out.push((
            "cipher_suite",
            t.cipher_suite.as_deref().unwrap_or("null").to_string(),
            c.to_string(),
        ));
    }
    if let Some(chain) = s["server_cert_chain"].as_array().filter(|c| !c.is_empty()) {
        let ours: Vec<&str> = t.server_chain.iter().map(|c| c.sha256.as_str()).collect();
        let theirs: Vec<&str> = chain
            .iter()
            .map(|c| c["sha256"].as_str().unwrap_or(""))
            .collect();
        out.push(("server_sha256", ours.join(","), theirs.join(",")));
        // Serial and subject only where cryptography could parse the certificate.
        let pairs = t
            .server_chain
            .iter()
            .zip(chain)
            .filter(|(_, c)| c.get("parse_error").is_none());
        let (ours, theirs): (Vec<String>, Vec<String>) = pairs
            .clone()
            .map(|(o, c)| (o.serial.clone().unwrap_or_default(), opt(&c["serial_hex"])))
            .unzip();
        out.push(("server_serials", ours.join(","), theirs.join(",")));
        let (ours, theirs): (Vec<String>, Vec<String>) = pairs
            .map(|(o, c)| (o.subject.clone().unwrap_or_default(), opt(&c["subject"])))
            .unzip();
        out.push(("server_subjects", ours.join(" / "), theirs.join(" / ")));
    }
    if let Some(presented) = s["client_cert_presented"].as_bool() {
        let ours = match t.mutual {
            Some(m) => m.to_string(),
            None => format!(
                "null ({})",
                t.mutual_unknown_reason.as_deref().unwrap_or("?")
            ),
        };
        out.push(("client_cert", ours, presented.to_string()));
    }
    out
}

/// The upstream tools' own expectations (Zeek, nDPI, Arkime, JA4, ja3), for
/// the fields whose spelling can be normalised. Printed, not enforced: their
/// disagreements with tshark are catalogued in ../shared/corpus/REPORT.md,
/// and the enforced oracle above is tshark.
fn upstream_agreement(corpus: &std::path::Path, cases: &[Value]) {
    let mut by_source: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut listed = 0;
    for case in cases {
        let sessions = case["expected"]["sessions"].as_array();
        let Some(sessions) = sessions.filter(|s| !s.is_empty()) else {
            continue;
        };
        let source = case["source"].as_str().unwrap_or("?").to_string();
        let pcap = corpus.join(case["pcap"].as_str().unwrap());
        let Ok(report) = engine::analyze_files(&[pcap.to_str().unwrap()], &Config::default())
        else {
            continue;
        };
        for s in sessions {
            if s.get("transport").is_some_and(|t| t != "tcp") {
                continue;
            }
            let Some(t) = find_flow(&report, s).and_then(|f| f.tls.as_ref()) else {
                continue;
            };
            let mut fields: Vec<(&str, String, String)> = Vec::new();
            if let Some(v) = s["sni"].as_str() {
                fields.push(("sni", t.sni.clone().unwrap_or_default(), v.to_string()));
            }
            // nDPI's JA4 is a known oracle fault (REPORT.md: ALPN and SNI
            // characters); the FoxIO, Arkime and Zeek values are compared.
            if let Some(v) = s["ja4"].as_str().filter(|_| source != "nDPI") {
                fields.push(("ja4", t.ja4.clone().unwrap_or_default(), v.to_string()));
            }
            // nDPI names a version from the ClientHello when no ServerHello
            // was seen; compare only negotiated versions.
            if let (Some(v), Some(ours)) = (
                s["tls_version"].as_str().and_then(upstream_version),
                &t.version,
            ) {
                fields.push(("version", ours.to_string(), v));
            }
            if let Some(v) = s["cipher_suite"].as_str().filter(|c| c.starts_with("TLS_")) {
                fields.push((
                    "cipher_suite",
                    t.cipher_suite.as_deref().unwrap_or_default().to_string(),
                    v.to_string(),
                ));
            }
            let e = by_source.entry(source.clone()).or_default();
            for (field, ours, theirs) in fields {
                e.0 += 1;
                if ours == theirs {
                    e.1 += 1;
                } else if listed < 40 {
                    listed += 1;
                    println!(
                        "  upstream {source} {} {field}: ours={ours} upstream={theirs}",
                        case["id"]
                    );
                }
            }
        }
    }
    println!("upstream tools (sni, ja4, version, cipher_suite; informational):");
    for (source, (t, a)) in &by_source {
        println!(
            "  {source:<16} {a:>5}/{t:<5} {:.2}%",
            100.0 * *a as f64 / (*t).max(1) as f64
        );
    }
}

/// Upstream version spellings (`TLSv1.2`, `TLSv1`, `SSLv3`, `TLS 1.2`,
/// `TLSv13-draft14`) in the report's spelling.
fn upstream_version(v: &str) -> Option<String> {
    let v = v.trim();
    if let Some(d) = v
        .strip_prefix("TLSv13-draft")
        .or_else(|| v.strip_prefix("TLSv1.3-draft-"))
    {
        return Some(format!("TLS1.3-draft-{d}"));
    }
    Some(
        match v {
            "TLSv1" | "TLS 1.0" | "TLSv1.0" => "TLS1.0",
            "TLSv1.1" | "TLS 1.1" => "TLS1.1",
            "TLSv1.2" | "TLS 1.2" => "TLS1.2",
            "TLSv1.3" | "TLS 1.3" => "TLS1.3",
            "SSLv3" | "SSL 3.0" => "SSL3.0",
            _ => return None,
        }
        .to_string(),
    )
}

/// This module's tests, as the harness lists them (`main.rs`).
pub(crate) fn tests() -> Vec<crate::runner::Test> {
    use crate::runner::{Need, Test};
    vec![
        Test::new(
            module_path!(),
            "engine_agrees_with_tshark_on_the_corpus",
            engine_agrees_with_tshark_on_the_corpus,
        )
        .needs(&[Need::Shared("corpus/MANIFEST.json")]),
        Test::new(
            module_path!(),
            "in_repo_corpus_copies_agree_with_tshark",
            in_repo_corpus_copies_agree_with_tshark,
        ),
    ]
}
