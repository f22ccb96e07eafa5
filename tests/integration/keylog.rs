//! TLS 1.3 handshakes decrypted with key logs: what tls-audit reads must be
//! what the stacks were configured to do and what tshark reads with the same
//! secrets; bad keys, tampered bytes and cut captures are evidence, not
//! crashes.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use tls_audit::engine::{self, Config};
use tls_audit::report::model::{FlowRecord, Report};
use tls_audit::tls::KeyLog;

use crate::support::{self, temp_dir};

fn keys_of(path: &Path) -> KeyLog {
    let mut k = KeyLog::default();
    k.add(&path.display().to_string(), &std::fs::read(path).unwrap());
    k
}

fn analyze(pcap: &Path, keys: KeyLog) -> Report {
    engine::analyze_files_with_keys(&[pcap.to_str().unwrap()], &Config::default(), keys).unwrap()
}

/// tshark's reading of `pcap` with `keys` (via the corpus oracle), or None
/// without ../shared.
fn tshark_with_keys(pcap: &Path, keys: Option<&Path>) -> Option<Value> {
    let oracle = support::shared()?.join("corpus/tshark_facts.py");
    let mut cmd = Command::new("python3");
    cmd.arg(&oracle).arg(pcap);
    if let Some(k) = keys {
        cmd.arg("--keylog").arg(k);
    }
    let out = cmd.output().expect("run tshark_facts.py");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

fn shas(chain: &Value) -> Vec<String> {
    chain
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["sha256"].as_str().unwrap().to_lowercase())
        .collect()
}

fn our_shas(f: &FlowRecord, server: bool) -> Vec<String> {
    let t = f.tls.as_ref().unwrap();
    let chain = if server {
        &t.server_chain
    } else {
        &t.client_chain
    };
    chain.iter().map(|c| c.sha256.clone()).collect()
}

fn endpoint(e: &tls_audit::report::model::Endpoint) -> String {
    let ip: std::net::IpAddr = e.ip.parse().unwrap();
    std::net::SocketAddr::new(ip, e.port).to_string()
}

/// Every TLS 1.3 scenario with a key log in `dir`: decrypted, as configured,
/// and as tshark reads it with the same keys. Returns the sessions checked.
pub fn check_keyed_dir(dir: &Path) -> usize {
    let mut checked = 0;
    let mut failures = Vec::new();
    let mut scenarios: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "keys"))
        .collect();
    scenarios.sort();
    for keys in scenarios {
        let name = keys.file_stem().unwrap().to_string_lossy().into_owned();
        let pcap = dir.join(format!("{name}.pcap"));
        let exp: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join(format!("{name}.expected.json"))).unwrap(),
        )
        .unwrap();
        let report = analyze(&pcap, keys_of(&keys));
        let oracle = tshark_with_keys(&pcap, Some(&keys));
        for s in exp["expect"]["sessions"].as_array().unwrap() {
            let Some(flow) = report
                .flows
                .iter()
                .find(|f| endpoint(&f.client) == s["client"].as_str().unwrap() && f.tls.is_some())
            else {
                failures.push(format!("{name}: no flow for {}", s["client"]));
                continue;
            };
            let t = flow.tls.as_ref().unwrap();
            if t.version.as_deref() != Some("TLS1.3") {
                continue;
            }
            checked += 1;
            let mut fail = |what: String| failures.push(format!("{name} {}: {what}", s["client"]));
            let status = t.decryption.as_ref().map(|d| d.status.as_str());
            if status != Some("decrypted") {
                fail(format!("decryption {:?}", t.decryption));
            }
            let resumed = s["resumed"] == true;
            if resumed {
                // PSK: no certificates, reported as resumed.
                if t.mutual_unknown_reason.as_deref() != Some("resumed")
                    || !t.server_chain.is_empty()
                {
                    fail(format!(
                        "resumed session: {:?} {:?}",
                        t.mutual, t.mutual_unknown_reason
                    ));
                }
            } else {
                if t.mutual != s["ground_truth_mutual"].as_bool()
                    || t.mutual_evidence.as_deref() != Some("keylog-decrypted")
                {
                    fail(format!(
                        "mutual {:?} ({:?}), configured {}",
                        t.mutual, t.mutual_evidence, s["ground_truth_mutual"]
                    ));
                }
                if t.client_cert_requested != s["ground_truth_client_cert_requested"].as_bool() {
                    fail(format!("requested {:?}", t.client_cert_requested));
                }
                if t.server_chain.first().and_then(|c| c.spiffe_id.as_deref())
                    != s["server_spiffe_id"].as_str()
                {
                    fail("server SPIFFE ID".into());
                }
                if t.mutual == Some(true)
                    && t.client_chain.first().and_then(|c| c.spiffe_id.as_deref())
                        != s["client_spiffe_id"].as_str()
                {
                    fail("client SPIFFE ID".into());
                }
            }
            // What tshark read with the keys when the fixture was made
            // (recorded in the expected file, so this holds without ../shared).
            if t.alpn.as_deref() != s["ground_truth_alpn"].as_str() {
                fail(format!(
                    "ALPN {:?}, configured {}",
                    t.alpn, s["ground_truth_alpn"]
                ));
            }
            let keyed = &s["decrypted_with_keys"];
            if !resumed && keyed.is_object() {
                let client_subjects = keyed
                    .get("client_cert_chain_subjects")
                    .cloned()
                    .unwrap_or(Value::Array(vec![]));
                if subjects(&t.server_chain) != keyed["server_cert_chain_subjects"]
                    || subjects(&t.client_chain) != client_subjects
                {
                    fail("chain subjects differ from tshark's with keys".into());
                }
            }
            let records = &s["tls13_encrypted_handshake"];
            if !resumed && records.is_object() {
                let tshark = [
                    message_count(&records["client_records"]),
                    message_count(&records["server_records"]),
                ];
                let ours = t.decryption.as_ref().map(|d| d.messages);
                if ours != Some(tshark) {
                    fail(format!("decrypted messages {ours:?}, tshark {tshark:?}"));
                }
            }
            let Some(o) = &oracle else { continue };

            let Some(ts) = o["sessions"]
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["client"] == s["client"])
            else {
                fail("tshark has no such session".into());
                continue;
            };
            if ts["handshake_decrypted"] != true {
                fail("tshark did not decrypt it".into());
            }
            if shas(&ts["server_cert_chain"]) != our_shas(flow, true) {
                fail("server chain differs from tshark's".into());
            }
            if shas(&ts["client_cert_chain"]) != our_shas(flow, false) {
                fail("client chain differs from tshark's".into());
            }
            if !resumed
                && Some(ts["certificate_request"].as_bool().unwrap_or(false))
                    != t.client_cert_requested
            {
                fail(format!(
                    "CertificateRequest: tshark {}",
                    ts["certificate_request"]
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    checked
}

fn fixture_handshakes_decrypt_as_configured_and_as_tshark_reads_them() {
    if support::shared().is_none() {
        eprintln!(
            "NOTICE: ../shared absent: key-log results checked against the configuration only, not tshark"
        );
    }
    let n = check_keyed_dir(&support::root().join("fixtures/captures"));
    println!("key logs: {n} TLS 1.3 sessions decrypted as configured");
    assert!(n >= 11, "{n}");
}

/// Secrets inside the capture (pcapng Decryption Secrets Block), from the
/// JA4 test suite: the server chain is the one tshark reads with them.
fn secrets_embedded_in_pcapng_are_used() {
    let shared = support::needed_shared();
    let pcap = shared.join("corpus/ja4/http2-with-cookies.pcapng/http2-with-cookies.pcapng");
    let report = analyze(&pcap, KeyLog::default());
    let oracle = tshark_with_keys(&pcap, None).unwrap();
    let mut checked = 0;
    for s in oracle["sessions"].as_array().unwrap() {
        if s["handshake_decrypted"] != true {
            continue;
        }
        let flow = report
            .flows
            .iter()
            .find(|f| endpoint(&f.client) == s["client"].as_str().unwrap())
            .expect("session found");
        let t = flow.tls.as_ref().unwrap();
        assert_eq!(t.decryption.as_ref().unwrap().status, "decrypted");
        assert_eq!(our_shas(flow, true), shas(&s["server_cert_chain"]));
        assert_eq!(t.mutual, s["client_cert_presented"].as_bool());
        assert_eq!(t.mutual_evidence.as_deref(), Some("keylog-decrypted"));
        checked += 1;
    }
    assert!(checked >= 1);
}

fn fixture(name: &str) -> PathBuf {
    support::root().join("fixtures/captures").join(name)
}

fn only_tls(report: &Report) -> &tls_audit::report::model::FlowTls {
    report.flows.iter().find_map(|f| f.tls.as_deref()).unwrap()
}

fn keys_of_other_connections_change_nothing() {
    let report = analyze(
        &fixture("openssl-tls13-mutual.pcap"),
        keys_of(&fixture("gnutls-tls13-mutual.keys")),
    );
    let t = only_tls(&report);
    assert_eq!(t.decryption.as_ref().unwrap().status, "no-matching-keys");
    assert_eq!(t.mutual_evidence.as_deref(), Some("encrypted-flight-size"));
    assert!(t.certificates_encrypted && t.server_chain.is_empty());
    // Without any key log there is no decryption block at all.
    let t = analyze(&fixture("openssl-tls13-mutual.pcap"), KeyLog::default());
    assert!(only_tls(&t).decryption.is_none());
}

/// A wrong server secret: the server's records do not authenticate. The
/// failure is reported per flow; the client's flight still decrypts.
fn wrong_keys_are_evidence() {
    let text = std::fs::read_to_string(fixture("openssl-tls13-mutual.keys")).unwrap();
    let bad: String = text
        .lines()
        .map(|l| {
            if l.starts_with("SERVER_HANDSHAKE_TRAFFIC_SECRET") {
                let (head, last) = l.split_at(l.len() - 1);
                format!("{head}{}\n", if last == "0" { "1" } else { "0" })
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    let mut keys = KeyLog::default();
    keys.add("bad", bad.as_bytes());
    let report = analyze(&fixture("openssl-tls13-mutual.pcap"), keys);
    let t = only_tls(&report);
    let d = t.decryption.as_ref().unwrap();
    assert_eq!(d.status, "authentication-failed");
    assert_eq!(d.failed_side.as_deref(), Some("server"));
    assert!(t.server_chain.is_empty());
    // The client's own flight (its certificate) was still read.
    assert_eq!(
        (t.mutual, t.mutual_evidence.as_deref()),
        (Some(true), Some("keylog-decrypted"))
    );
}

/// One byte of the server's first encrypted record changed in the capture.
fn tampered_ciphertext_fails_authentication() {
    let mut bytes = std::fs::read(fixture("openssl-tls13-server-only.pcap")).unwrap();
    // The ServerHello record (16 03 03 .. .. 02), then the first encrypted
    // record after it (17 03 03): change a byte inside its body.
    let sh = find(&bytes, &[0x16, 0x03, 0x03], |at, b| {
        b.get(at + 5) == Some(&2)
    })
    .unwrap();
    let enc = sh + find(&bytes[sh..], &[0x17, 0x03, 0x03], |_, _| true).unwrap();
    bytes[enc + 20] ^= 0x55;
    let d = temp_dir("keylog-tampered");
    let pcap = d.join("tampered.pcap");
    std::fs::write(&pcap, &bytes).unwrap();
    let report = analyze(&pcap, keys_of(&fixture("openssl-tls13-server-only.keys")));
    let t = only_tls(&report);
    let dec = t.decryption.as_ref().unwrap();
    assert_eq!(dec.status, "authentication-failed");
    assert_eq!(dec.failed_side.as_deref(), Some("server"));
}

fn find(hay: &[u8], needle: &[u8], also: impl Fn(usize, &[u8]) -> bool) -> Option<usize> {
    (0..hay.len().saturating_sub(needle.len()))
        .find(|&i| &hay[i..i + needle.len()] == needle && also(i, hay))
}

/// The capture ends inside the server's encrypted flight: partial, and the
/// report says the input was damaged.
fn a_cut_capture_is_partial() {
    let full = std::fs::read(fixture("openssl-tls13-mutual.pcap")).unwrap();
    let sh = find(&full, &[0x16, 0x03, 0x03], |at, b| {
        b.get(at + 5) == Some(&2)
    })
    .unwrap();
    let enc = sh + find(&full[sh..], &[0x17, 0x03, 0x03], |_, _| true).unwrap();
    // The end of the pcap record holding the first encrypted record, and 8
    // bytes of the next record's header: the rest of the flight is lost.
    let mut at = 24;
    while at + 16 <= full.len() {
        let incl = u32::from_le_bytes(full[at + 8..at + 12].try_into().unwrap()) as usize;
        at += 16 + incl;
        if at > enc {
            break;
        }
    }
    let d = temp_dir("keylog-cut");
    let pcap = d.join("cut.pcap");
    std::fs::write(&pcap, &full[..at + 8]).unwrap();
    let report = analyze(&pcap, keys_of(&fixture("openssl-tls13-mutual.keys")));
    assert!(!report.inputs[0].complete);
    let t = only_tls(&report);
    assert_eq!(t.decryption.as_ref().unwrap().status, "partial");
    assert_eq!(t.mutual, None);
}

fn cli_reads_key_logs_and_reports_bad_lines() {
    let d = temp_dir("keylog-cli");
    let keys = d.join("keys.txt");
    let mut text = std::fs::read_to_string(fixture("nginx-curl-tls13-mutual.keys")).unwrap();
    text.push_str("CLIENT_HANDSHAKE_TRAFFIC_SECRET nothex 00\nthis is not a key log line\n");
    std::fs::write(&keys, &text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tls-audit"))
        .args([
            "analyze",
            fixture("nginx-curl-tls13-mutual.pcap").to_str().unwrap(),
        ])
        .args(["--keylog", keys.to_str().unwrap(), "-o", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines = text.lines().count();
    assert!(
        stderr.contains(&format!("keys.txt:{}: ", lines - 1))
            && stderr.contains(&format!("keys.txt:{lines}: ")),
        "{stderr}"
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let tls = &report["flows"][0]["tls"];
    assert_eq!(tls["mutual_evidence"], "keylog-decrypted");
    assert_eq!(tls["alpn"], "http/1.1");
    // The verifier now sees the TLS 1.3 certificates: no "certificates-encrypted".
    let not_checked = report["verification"]["not_checked"].as_array().unwrap();
    assert!(
        !not_checked
            .iter()
            .any(|n| n["reason"] == "certificates-encrypted"),
        "{not_checked:?}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_tls-audit"))
        .args([
            "analyze",
            fixture("nginx-curl-tls13-mutual.pcap").to_str().unwrap(),
        ])
        .args(["--keylog", d.join("absent.txt").to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(6));
}

fn subjects(chain: &[std::sync::Arc<tls_audit::x509::Certificate>]) -> Value {
    chain
        .iter()
        .map(|c| c.subject.clone())
        .collect::<Vec<_>>()
        .into()
}

/// Handshake messages in tshark's decrypted records.
fn message_count(records: &Value) -> u32 {
    records.as_array().map_or(0, |rs| {
        rs.iter()
            .map(|r| r["handshake_messages"].as_array().map_or(0, Vec::len) as u32)
            .sum()
    })
}

/// TLS 1.3 draft 20 (Wireshark's `tls13-20-chacha20poly1305` capture and
/// key log): drafts before 25 authenticate records without additional
/// data; read that way the handshake decrypts like tshark reads it, instead
/// of the `authentication-failed` that claimed wrong keys or tampering.
fn draft_20_handshake_decrypts() {
    let shared = support::needed_shared();
    let ws = shared.join("conformance/wireshark");
    let pcap = ws.join("captures/tls13-20-chacha20poly1305.pcap");
    let report = analyze(
        &pcap,
        keys_of(&ws.join("keys/tls13-20-chacha20poly1305.keys")),
    );
    let t = only_tls(&report);
    assert_eq!(t.version.as_deref(), Some("TLS1.3-draft-20"));
    let d = t.decryption.as_ref().unwrap();
    assert_eq!(d.status, "decrypted");
    assert_eq!(d.failed_side, None);
    assert!(d.messages[1] >= 4, "{:?}", d.messages);
    assert!(!t.server_chain.is_empty() && !t.certificates_encrypted);
}

/// A WireGuard key log in a pcapng Decryption Secrets Block (Wireshark's
/// `wireguard-ping-tcp-dsb`) is not a TLS key log: it is counted and
/// ignored, never parsed into `keylog-lines` warnings.
fn other_secrets_blocks_are_counted_not_read() {
    let shared = support::needed_shared();
    let pcap = shared.join("conformance/wireshark/captures/wireguard-ping-tcp-dsb.pcapng");
    let report = analyze(&pcap, KeyLog::default());
    let kinds: Vec<&str> = report.warnings.iter().map(|w| w.kind.as_str()).collect();
    assert!(!kinds.contains(&"keylog-lines"), "{kinds:?}");
    let ignored = report
        .warnings
        .iter()
        .find(|w| w.kind == "decryption-secrets-ignored")
        .expect("ignored blocks are counted");
    assert!(
        ignored.message.contains("of type WGKL (WireGuard key log)"),
        "{}",
        ignored.message
    );
}

/// This module's tests, as the harness lists them (`main.rs`).
pub(crate) fn tests() -> Vec<crate::runner::Test> {
    use crate::runner::{Need, Test};
    vec![
        Test::new(
            module_path!(),
            "fixture_handshakes_decrypt_as_configured_and_as_tshark_reads_them",
            fixture_handshakes_decrypt_as_configured_and_as_tshark_reads_them,
        ),
        Test::new(
            module_path!(),
            "secrets_embedded_in_pcapng_are_used",
            secrets_embedded_in_pcapng_are_used,
        )
        .needs(&[Need::Shared("corpus/ja4")]),
        Test::new(
            module_path!(),
            "keys_of_other_connections_change_nothing",
            keys_of_other_connections_change_nothing,
        ),
        Test::new(
            module_path!(),
            "wrong_keys_are_evidence",
            wrong_keys_are_evidence,
        ),
        Test::new(
            module_path!(),
            "tampered_ciphertext_fails_authentication",
            tampered_ciphertext_fails_authentication,
        ),
        Test::new(
            module_path!(),
            "a_cut_capture_is_partial",
            a_cut_capture_is_partial,
        ),
        Test::new(
            module_path!(),
            "cli_reads_key_logs_and_reports_bad_lines",
            cli_reads_key_logs_and_reports_bad_lines,
        ),
        Test::new(
            module_path!(),
            "draft_20_handshake_decrypts",
            draft_20_handshake_decrypts,
        )
        .needs(&[Need::Shared("conformance/wireshark")]),
        Test::new(
            module_path!(),
            "other_secrets_blocks_are_counted_not_read",
            other_secrets_blocks_are_counted_not_read,
        )
        .needs(&[Need::Shared("conformance/wireshark")]),
    ]
}
