//! The stack lab (tests/lab, docs/testing-lab.md): TLS stacks that were not
//! used to build tls-audit (Go crypto/tls, Java JSSE, Erlang/OTP ssl, Python
//! ssl with post-handshake auth), alone and mixed with OpenSSL, GnuTLS and
//! rustls, captured across network namespaces by `tests/lab/run-lab.sh`,
//! which writes how every connection was configured beside its capture.
//! Here `tls-audit analyze` reads each capture, with and without the key
//! log where a peer could write one, and its verdicts are held against that
//! truth: one line per case, connection and mode, then
//! `lab: N agree, M disagree, K undecided (null)`.
//!
//! The rule: no confident wrong verdict. A non-null `mutual` (or version,
//! `client_cert_requested`, `resumed`, `hello_retry_request`) that
//! contradicts the truth fails the test; `mutual: null` is allowed and
//! counted. `TLSA_LAB_REPORT_ONLY=1` only reports. `TLSA_LAB_DIR=DIR` checks
//! the captures already in DIR instead of running the lab (no root needed).
//!
//! Running the lab needs root and the tools scripts/install-deps.sh
//! installs; it is ignored otherwise (in CI it must run, with every
//! stack). The few lab captures committed in `fixtures/lab` are
//! compared the same way in every run, without privileges.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::{self, temp_dir};

fn lab_stacks_agree_with_their_configuration() {
    let dir = match std::env::var_os("TLSA_LAB_DIR") {
        Some(d) => PathBuf::from(d),
        None => run_lab(),
    };
    check_dir(&dir);
}

/// The few lab captures committed in fixtures/lab (no root needed).
fn lab_fixtures_agree_with_their_configuration() {
    let n = check_dir(&support::root().join("fixtures").join("lab"));
    assert!(n >= 10, "{n} cases in fixtures/lab");
}

/// Compares every case in `dir`, prints the tally; panics on a confident
/// wrong verdict unless TLSA_LAB_REPORT_ONLY=1. Returns the number of cases.
fn check_dir(dir: &Path) -> usize {
    let report_only = std::env::var("TLSA_LAB_REPORT_ONLY").is_ok_and(|v| v == "1");
    let t = compare_dir(dir);
    println!("lab: compared the cases in {}", dir.display());
    println!(
        "lab: {} agree, {} disagree, {} undecided (null)",
        t.agree, t.disagree, t.undecided
    );
    assert!(
        t.cases > 0 && t.agree + t.disagree + t.undecided > 0,
        "no lab case in {}",
        dir.display()
    );
    if report_only {
        println!("lab: TLSA_LAB_REPORT_ONLY=1: disagreements reported, not failed");
    } else {
        assert!(
            t.wrong.is_empty(),
            "{} confident wrong verdicts:\n{}",
            t.wrong.len(),
            t.wrong.join("\n")
        );
    }
    t.cases
}

/// The lab's tools (and root), unless a lab directory made earlier is
/// given (`TLSA_LAB_DIR`).
const LAB_TOOLS: [&str; 6] = ["ip", "tcpdump", "tshark", "openssl", "ethtool", "python3"];

fn lab_runnable() -> bool {
    std::env::var_os("TLSA_LAB_DIR").is_some()
        || (support::is_root() && LAB_TOOLS.iter().all(|t| have(t)))
}

/// Runs tests/lab/run-lab.sh into a fresh directory.
fn run_lab() -> PathBuf {
    let ci = std::env::var_os("CI").is_some();
    let examples = PathBuf::from(env!("CARGO_BIN_EXE_tls-audit"))
        .parent()
        .map(|p| p.join("examples"))
        .unwrap_or_default();
    let out = temp_dir("stack-lab");
    let mut cmd = Command::new("bash");
    cmd.arg(support::root().join("tests/lab/run-lab.sh"))
        .arg(&out)
        .env("RUSTLS_PEER", examples.join("rustls_peer"));
    if ci {
        // CI installs every stack (scripts/install-deps.sh): none may be skipped.
        cmd.env("LAB_REQUIRE_ALL", "1");
    }
    let status = cmd.status().expect("run tests/lab/run-lab.sh");
    assert!(status.success(), "tests/lab/run-lab.sh failed");
    if let Ok(s) = std::fs::read_to_string(out.join("skipped.txt")) {
        for line in s.lines() {
            eprintln!("NOTICE: lab case skipped: {line}");
        }
    }
    out
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// What the comparison found.
#[derive(Default)]
struct Tally {
    cases: usize,
    agree: usize,
    disagree: usize,
    undecided: usize,
    wrong: Vec<String>,
}

fn compare_dir(dir: &Path) -> Tally {
    let mut truths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".truth.json"))
        .collect();
    truths.sort();
    let mut t = Tally::default();
    for path in truths {
        let truth: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        t.cases += 1;
        let case = truth["case"].as_str().unwrap_or("?").to_string();
        let pcap = dir.join(truth["pcap"].as_str().unwrap_or_default());
        let keys = truth["keys"].as_str().map(|k| dir.join(k));
        let conns = truth["connections"].as_array().cloned().unwrap_or_default();
        // tls-audit reads key logs for TLS 1.3 only: a TLS 1.2 case is compared once.
        let tls13 = conns.iter().any(|c| c["version"] == "TLS1.3");
        let mut modes = vec![("wire", None)];
        if let Some(k) = keys.as_deref().filter(|_| tls13) {
            modes.push(("keylog", Some(k)));
        }
        for (mode, keys) in modes {
            let flows = analyze(&pcap, keys);
            if flows.len() != conns.len() {
                let msg = format!(
                    "{case} [{mode}]: {} TLS flows reported, {} connections made",
                    flows.len(),
                    conns.len()
                );
                println!("lab {msg}: DISAGREE");
                t.disagree += 1;
                t.wrong.push(msg);
                continue;
            }
            for (c, f) in conns.iter().zip(&flows) {
                compare_conn(&case, mode, keys.is_some(), c, f, &mut t);
            }
        }
    }
    t
}

/// The report's TCP flows to the lab port, in the order the connections were made.
fn analyze(pcap: &Path, keys: Option<&Path>) -> Vec<Value> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tls-audit"));
    cmd.arg("analyze").arg(pcap).args(["-o", "json"]);
    if let Some(k) = keys {
        cmd.arg("--keylog").arg(k);
    }
    let out = cmd.output().expect("run tls-audit");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "tls-audit analyze {}: no JSON report ({e}; exit {:?}): {}",
            pcap.display(),
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let mut flows: Vec<Value> = report["flows"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|f| f["transport"] == "tcp" && f["server"]["port"] == 8443)
        .collect();
    flows.sort_by_key(|f| {
        (
            f["first_seen"].as_str().unwrap_or_default().to_string(),
            f["client"]["port"].as_u64().unwrap_or_default(),
        )
    });
    flows
}

fn show(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

fn compare_conn(case: &str, mode: &str, keyed: bool, c: &Value, f: &Value, t: &mut Tally) {
    let tls = &f["tls"];
    let label = format!("{case}#{} [{mode}]", c["index"]);
    let mut wrong = Vec::new();
    // (truth, verdict): a non-null verdict must equal the truth
    let fields = [
        ("version", &c["version"], &tls["version"]),
        ("mutual", &c["mutual"], &tls["mutual"]),
        (
            "client_cert_requested",
            &c["client_cert_requested"],
            &tls["client_cert_requested"],
        ),
        ("resumed", &c["resumed"], &tls["resumed"]),
        (
            "hello_retry_request",
            &c["hello_retry_request"],
            &tls["hello_retry_request"],
        ),
    ];
    for (name, truth, verdict) in fields {
        // A resumed session's request was in the handshake it resumes: a
        // report may give that instead of this handshake's (none).
        let inherited = name == "client_cert_requested"
            && c["resumed"] == true
            && verdict == &c["client_cert_requested_in_session"];
        if !verdict.is_null() && verdict != truth && !inherited {
            wrong.push(format!("{name}={} (truth {})", show(verdict), show(truth)));
        }
    }
    // With a key log the handshake must open: a failure status would claim
    // wrong keys or tampering.
    let status = &tls["decryption"]["status"];
    if keyed
        && c["handshake_ok"] == true
        && c["version"] == "TLS1.3"
        && !matches!(status.as_str(), Some("decrypted" | "partial"))
    {
        wrong.push(format!("decryption={}", show(status)));
    }
    let inf = &tls["mutual_inference"];
    let evidence = format!(
        "{}{}{}{}",
        show(&tls["mutual_evidence"]),
        tls["mutual_unknown_reason"]
            .as_str()
            .map(|r| format!(" reason={r}"))
            .unwrap_or_default(),
        inf["rule"]
            .as_str()
            .map(|r| format!(" rule=\"{r}\""))
            .unwrap_or_default(),
        inf.get("client_records")
            .map(|r| format!(" client_records={r}"))
            .unwrap_or_default(),
    );
    let verdict = if !wrong.is_empty() {
        t.disagree += 1;
        t.wrong.push(format!("{label}: {}", wrong.join(", ")));
        format!("DISAGREE: {}", wrong.join(", "))
    } else if tls["mutual"].is_null() {
        t.undecided += 1;
        "undecided".to_string()
    } else {
        t.agree += 1;
        "agree".to_string()
    };
    println!(
        "lab {label}: truth {} mutual={} requested={} resumed={} hrr={} pha={} ok={} | \
         tls-audit {} mutual={} requested={} resumed={} hrr={} evidence: {evidence}{} | {verdict}",
        show(&c["version"]),
        show(&c["mutual"]),
        show(&c["client_cert_requested"]),
        show(&c["resumed"]),
        show(&c["hello_retry_request"]),
        show(&c["post_handshake_auth"]),
        show(&c["handshake_ok"]),
        show(&tls["version"]),
        show(&tls["mutual"]),
        show(&tls["client_cert_requested"]),
        show(&tls["resumed"]),
        show(&tls["hello_retry_request"]),
        if keyed {
            format!(" decryption={}", show(status))
        } else {
            String::new()
        },
    );
}

/// This module's tests, as the harness lists them (`main.rs`).
pub(crate) fn tests() -> Vec<crate::runner::Test> {
    use crate::runner::{Need, Test};
    vec![
        Test::new(
            module_path!(),
            "lab_stacks_agree_with_their_configuration",
            lab_stacks_agree_with_their_configuration,
        )
        .needs(&[Need::Check(
            "root and ip, tcpdump, tshark, openssl, ethtool, python3 (or TLSA_LAB_DIR)",
            lab_runnable,
        )]),
        Test::new(
            module_path!(),
            "lab_fixtures_agree_with_their_configuration",
            lab_fixtures_agree_with_their_configuration,
        ),
    ]
}
