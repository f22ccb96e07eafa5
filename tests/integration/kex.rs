//! Key exchange from the wire (issue 18), on real handshakes: rustls with
//! aws-lc-rs (X25519MLKEM768, SecP256r1MLKEM768, MLKEM1024, HelloRetryRequest
//! to a hybrid), OpenSSL 3.0 and Go 1.19 (classical only) as peers, mixed
//! offers (PQ client, classical server and the reverse), TLS 1.2 ECDHE, DHE
//! 2048/1024 and RSA key transport. Every group is checked against tshark by
//! code point (bookworm's tshark 4.0 does not name the hybrids).
//!
//! The captures are made by `kex/lab.sh` in network namespaces of its own
//! (`pqc-tlsa-*`, 10.218.0.0/24, veth MTU 1280 so hybrid ClientHellos span
//! segments). The ones committed in `fixtures/captures-kex/` are always
//! checked; as root with the lab peers built (scripts/test.sh builds them),
//! the lab runs again and its fresh captures are checked the same way.
//! Regenerate the committed ones with
//! `bash tests/integration/kex/lab.sh fixtures/captures-kex`.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use tls_audit::engine::{self, Config};
use tls_audit::report::model::{KeyExchangeRecord, Report};

use crate::support;

/// What each lab scenario must report: (scenario, version, method, group,
/// group_id, post_quantum, forward_secrecy, pq_offered, hello_retry_group,
/// group_bits).
type Want = (
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<u16>,
    bool,
    bool,
    bool,
    Option<&'static str>,
    Option<u32>,
);

const WANT: &[Want] = &[
    (
        "rustls-x25519mlkem768",
        "TLS1.3",
        "hybrid",
        Some("X25519MLKEM768"),
        Some(0x11ec),
        true,
        true,
        true,
        None,
        Some(256),
    ),
    (
        "rustls-secp256r1mlkem768",
        "TLS1.3",
        "hybrid",
        Some("SecP256r1MLKEM768"),
        Some(0x11eb),
        true,
        true,
        true,
        None,
        Some(256),
    ),
    (
        "rustls-mlkem1024",
        "TLS1.3",
        "kem",
        Some("MLKEM1024"),
        Some(0x0202),
        true,
        true,
        true,
        None,
        None,
    ),
    (
        "rustls-hrr-x25519mlkem768",
        "TLS1.3",
        "hybrid",
        Some("X25519MLKEM768"),
        Some(0x11ec),
        true,
        true,
        true,
        Some("X25519MLKEM768"),
        Some(256),
    ),
    (
        "rustls-pq-to-openssl",
        "TLS1.3",
        "ecdhe",
        Some("x25519"),
        Some(29),
        false,
        true,
        true,
        None,
        Some(256),
    ),
    (
        "rustls-pq-to-go",
        "TLS1.3",
        "ecdhe",
        Some("x25519"),
        Some(29),
        false,
        true,
        true,
        None,
        Some(256),
    ),
    (
        "openssl-to-rustls-pq",
        "TLS1.3",
        "ecdhe",
        Some("x25519"),
        Some(29),
        false,
        true,
        false,
        None,
        Some(256),
    ),
    (
        "go-to-rustls-pq",
        "TLS1.3",
        "ecdhe",
        Some("x25519"),
        Some(29),
        false,
        true,
        false,
        None,
        Some(256),
    ),
    (
        "rustls-tls12-ecdhe",
        "TLS1.2",
        "ecdhe",
        Some("secp384r1"),
        Some(24),
        false,
        true,
        false,
        None,
        Some(384),
    ),
    (
        "openssl-tls12-dhe2048",
        "TLS1.2",
        "dhe",
        None,
        None,
        false,
        true,
        false,
        None,
        Some(2048),
    ),
    (
        "openssl-tls12-dhe1024",
        "TLS1.2",
        "dhe",
        None,
        None,
        false,
        true,
        false,
        None,
        Some(1024),
    ),
    (
        "openssl-tls12-rsa",
        "TLS1.2",
        "rsa",
        None,
        None,
        false,
        false,
        false,
        None,
        None,
    ),
];

/// The two lab tests use the same namespaces (`pqc-tlsa-*`): one at a time.
static LAB: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn lab_lock() -> std::sync::MutexGuard<'static, ()> {
    LAB.lock().unwrap_or_else(|p| p.into_inner())
}

fn committed() -> PathBuf {
    support::root().join("fixtures/captures-kex")
}

fn analyze(pcap: &Path) -> Report {
    engine::analyze_files(&[pcap.to_str().unwrap()], &Config::default()).unwrap()
}

/// The key exchange of the only TLS flow of a capture.
fn only_kex(report: &Report, name: &str) -> (String, KeyExchangeRecord) {
    let tls: Vec<_> = report
        .flows
        .iter()
        .filter_map(|f| f.tls.as_deref())
        .collect();
    assert_eq!(tls.len(), 1, "{name}: one TLS flow");
    let t = tls[0];
    let k = t
        .key_exchange
        .clone()
        .unwrap_or_else(|| panic!("{name}: no key_exchange"));
    (t.version.as_deref().unwrap_or_default().to_string(), k)
}

/// Check every scenario in `dir`; returns how many were checked.
fn check_dir(dir: &Path, failures: &mut Vec<String>) -> usize {
    let mut n = 0;
    for w in WANT {
        let (name, version, method, group, group_id, pq, fs, pq_offered, hrr, bits) = *w;
        let pcap = dir.join(format!("{name}.pcap"));
        if !pcap.is_file() {
            failures.push(format!("{}: {name}.pcap missing", dir.display()));
            continue;
        }
        n += 1;
        let (v, k) = only_kex(&analyze(&pcap), name);
        let got = json!([
            v,
            k.method,
            k.group,
            k.group_id,
            k.post_quantum,
            k.forward_secrecy,
            k.pq_offered,
            k.hello_retry_group,
            k.group_bits
        ]);
        let want = json!([
            version, method, group, group_id, pq, fs, pq_offered, hrr, bits
        ]);
        if got != want {
            failures.push(format!("{name}: got {got}, want {want}"));
        }
        if let Err(e) = agrees_with_tshark(&pcap, &k) {
            failures.push(format!("{name}: {e}"));
        }
    }
    n
}

/// tshark's view of one capture's handshake: code points, as tshark 4.0
/// prints them (it names no hybrid group).
#[derive(Debug, Default)]
struct Oracle {
    client_key_shares: Vec<u16>,
    client_groups: Vec<u16>,
    server_key_share: Option<u16>,
    hrr_group: Option<u16>,
    ske_curve: Option<u16>,
    dh_p_bytes: Option<u32>,
    ske_sig: Option<u16>,
    client_hello_segments: u32,
}

fn num(s: &str) -> Option<u16> {
    let s = s.trim();
    match s.strip_prefix("0x") {
        Some(h) => u16::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

fn nums(s: &str) -> Vec<u16> {
    s.split(',').filter_map(num).collect()
}

fn tshark(pcap: &Path) -> Option<Oracle> {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(pcap)
        .args(["-Y", "tls.handshake", "-T", "fields", "-E", "separator=|"])
        .args([
            "-e",
            "tls.handshake.type",
            "-e",
            "tls.handshake.extensions_key_share_group",
            "-e",
            "tls.handshake.extensions_key_share_selected_group",
            "-e",
            "tls.handshake.server_named_curve",
            "-e",
            "tls.handshake.p_len",
            "-e",
            "tls.handshake.sig_hash_alg",
            "-e",
            "tls.handshake.extensions_supported_group",
            "-e",
            "tcp.segment.count",
        ])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut o = Oracle::default();
    let mut hellos = 0;
    for line in text.lines() {
        let f: Vec<&str> = line.split('|').collect();
        let types = nums(f[0]);
        if types.contains(&1) {
            hellos += 1;
            if hellos == 1 {
                o.client_key_shares = nums(f[1]);
                o.client_groups = nums(f[6]);
                o.client_hello_segments = f[7].trim().parse().unwrap_or(1);
            }
        }
        if types.contains(&2) {
            // A HelloRetryRequest carries a selected group; a ServerHello a share.
            if let Some(g) = num(f[2]) {
                o.hrr_group = Some(g);
            }
            if let Some(g) = num(f[1]) {
                o.server_key_share = Some(g);
            }
        }
        if types.contains(&12) {
            o.ske_curve = num(f[3]);
            o.dh_p_bytes = f[4].trim().parse().ok();
            // The ServerKeyExchange's algorithm comes first; a
            // CertificateRequest in the same frame lists more after it.
            o.ske_sig = nums(f[5]).first().copied();
        }
    }
    Some(o)
}

fn agrees_with_tshark(pcap: &Path, k: &KeyExchangeRecord) -> Result<(), String> {
    let Some(o) = tshark(pcap) else {
        return Err("tshark did not run".into());
    };
    let ours_group = k.group_id;
    let theirs_group = o.server_key_share.or(o.ske_curve);
    if ours_group != theirs_group {
        return Err(format!(
            "group: ours {ours_group:?}, tshark {theirs_group:?}"
        ));
    }
    let hrr = k
        .hello_retry_group
        .as_deref()
        .and_then(tls_audit::tls::kex::group_by_name)
        .map(|g| g.id);
    if hrr != o.hrr_group {
        return Err(format!("HRR group: ours {hrr:?}, tshark {:?}", o.hrr_group));
    }
    let id_of = |names: &[tls_audit::report::model::Name]| -> Vec<u16> {
        names
            .iter()
            .filter_map(|n| {
                tls_audit::tls::kex::group_by_name(n)
                    .map(|g| g.id)
                    .or_else(|| {
                        n.strip_prefix("0x")
                            .and_then(|h| u16::from_str_radix(h, 16).ok())
                    })
            })
            .collect()
    };
    let grease = |v: &Vec<u16>| -> Vec<u16> {
        v.iter()
            .copied()
            .filter(|g| !tls_audit::tls::hello::is_grease(*g))
            .collect()
    };
    if id_of(&k.key_shares_offered) != grease(&o.client_key_shares) {
        return Err(format!(
            "client key shares: ours {:?}, tshark {:?}",
            k.key_shares_offered, o.client_key_shares
        ));
    }
    if id_of(&k.groups_offered) != grease(&o.client_groups) {
        return Err(format!(
            "client groups: ours {:?}, tshark {:?}",
            k.groups_offered, o.client_groups
        ));
    }
    if let Some(p) = o.dh_p_bytes {
        // tshark gives the length of dh_p in bytes; ours counts significant bits.
        let bits = k.group_bits.unwrap_or(0);
        if bits.div_ceil(8) != p {
            return Err(format!("DH prime: ours {bits} bits, tshark {p} bytes"));
        }
    }
    if let Some(s) = o.ske_sig {
        let name = tls_audit::tls::kex::signature_scheme_name(s);
        if k.signature_scheme.as_deref() != Some(&*name) {
            return Err(format!(
                "ServerKeyExchange signature: ours {:?}, tshark {name}",
                k.signature_scheme
            ));
        }
    }
    Ok(())
}

fn committed_lab_captures_report_their_key_exchange() {
    if !tshark_present() {
        return;
    }
    let mut failures = Vec::new();
    let n = check_dir(&committed(), &mut failures);
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(n, WANT.len());
    // Hybrid ClientHellos do not fit one segment: they were reassembled.
    for name in [
        "rustls-x25519mlkem768",
        "rustls-mlkem1024",
        "rustls-pq-to-openssl",
    ] {
        let o = tshark(&committed().join(format!("{name}.pcap"))).unwrap();
        assert!(o.client_hello_segments >= 2, "{name}: {o:?}");
    }
}

fn tshark_present() -> bool {
    let ok = crate::probe::have("tshark");
    if !ok {
        assert!(std::env::var_os("CI").is_none(), "tshark is needed in CI");
        eprintln!("NOTICE: tshark missing; key-exchange oracle checks skipped");
    }
    ok
}

/// The lab, made now: every scenario's capture checked like the committed
/// ones. Needs root, tcpdump, openssl and the lab peers.
fn fresh_lab_handshakes_report_their_key_exchange() {
    let root = support::root();
    let _lab = lab_lock();
    let out = support::temp_dir("kex-lab");
    let status = Command::new("bash")
        .arg(root.join("tests/integration/kex/lab.sh"))
        .arg(&out)
        .status()
        .expect("run kex/lab.sh");
    assert!(status.success(), "kex/lab.sh failed");
    let skipped = std::fs::read_to_string(out.join("skipped.txt")).unwrap_or_default();
    assert!(skipped.is_empty(), "scenarios skipped: {skipped}");
    let mut failures = Vec::new();
    let n = check_dir(&out, &mut failures);
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(n, WANT.len());
}

/// The rules on the lab: the server that declined an offered hybrid is
/// named as the one to upgrade; RSA key transport has no forward secrecy;
/// 1024-bit DHE is weak; hybrids raise nothing.
fn lab_findings_name_the_servers_that_block_pq() {
    let dir = committed();
    let rules_of = |name: &str| -> Vec<(String, Value)> {
        let r = support::verified(&[&dir.join(format!("{name}.pcap"))], None);
        r.findings
            .iter()
            .map(|f| (f.rule.clone(), serde_json::to_value(f).unwrap()))
            .collect()
    };
    let kex_rules = |v: &[(String, Value)]| -> Vec<String> {
        let mut r: Vec<String> = v
            .iter()
            .map(|(r, _)| r.clone())
            .filter(|r| {
                ["TA-KEX-NOT-PQ", "TA-NO-FORWARD-SECRECY", "TA-WEAK-KEX"].contains(&r.as_str())
            })
            .collect();
        r.sort();
        r
    };
    for pq in [
        "rustls-x25519mlkem768",
        "rustls-secp256r1mlkem768",
        "rustls-mlkem1024",
        "rustls-hrr-x25519mlkem768",
    ] {
        assert!(kex_rules(&rules_of(pq)).is_empty(), "{pq}");
    }
    for declined in ["rustls-pq-to-openssl", "rustls-pq-to-go"] {
        let f = rules_of(declined);
        assert_eq!(kex_rules(&f), ["TA-KEX-NOT-PQ"], "{declined}");
        let (_, v) = f.iter().find(|(r, _)| r == "TA-KEX-NOT-PQ").unwrap();
        assert_eq!(v["severity"], "info");
        assert_eq!(v["evidence"]["server_declined_pq"], true, "{declined}");
        assert_eq!(
            v["evidence"]["pq_groups_offered"],
            json!(["X25519MLKEM768"])
        );
        assert!(
            v["message"]
                .as_str()
                .unwrap()
                .contains("server is the one to upgrade")
        );
    }
    let f = rules_of("openssl-to-rustls-pq");
    let (_, v) = f.iter().find(|(r, _)| r == "TA-KEX-NOT-PQ").unwrap();
    assert_eq!(v["evidence"]["server_declined_pq"], false);
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("neither side offered")
    );
    assert_eq!(
        kex_rules(&rules_of("openssl-tls12-rsa")),
        ["TA-KEX-NOT-PQ", "TA-NO-FORWARD-SECRECY"]
    );
    let f = rules_of("openssl-tls12-dhe1024");
    assert_eq!(kex_rules(&f), ["TA-KEX-NOT-PQ", "TA-WEAK-KEX"]);
    let (_, v) = f.iter().find(|(r, _)| r == "TA-WEAK-KEX").unwrap();
    assert_eq!(v["severity"], "high");
    assert_eq!(v["evidence"]["group_bits"], 1024);
    assert_eq!(
        kex_rules(&rules_of("openssl-tls12-dhe2048")),
        ["TA-KEX-NOT-PQ"]
    );
}

/// Every TLS flow of the real-stack fixtures reports a key exchange, and
/// its group agrees with tshark's code points.
fn fixture_captures_agree_with_tshark_on_groups() {
    if !tshark_present() {
        return;
    }
    let dir = support::root().join("fixtures/captures");
    let mut checked = 0;
    let mut failures = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
        .collect();
    files.sort();
    for pcap in files {
        let report = analyze(&pcap);
        let tls: Vec<_> = report
            .flows
            .iter()
            .filter_map(|f| f.tls.as_deref())
            .collect();
        for t in &tls {
            let k = t
                .key_exchange
                .as_ref()
                .unwrap_or_else(|| panic!("{}: no key_exchange", pcap.display()));
            // Every flow whose handshake was seen has its forward secrecy decided.
            if t.handshake_seen && t.resumed != Some(true) && k.forward_secrecy.is_none() {
                failures.push(format!(
                    "{}: forward secrecy undecided: {k:?}",
                    pcap.display()
                ));
            }
        }
        // One full handshake per capture: compare its group with tshark.
        if let [t] = tls.as_slice()
            && let Some(k) = &t.key_exchange
            && k.group_id.is_some()
        {
            checked += 1;
            if let Err(e) = agrees_with_tshark(&pcap, k) {
                failures.push(format!("{}: {e}", pcap.display()));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(checked >= 15, "only {checked} fixtures compared");
}

fn cli(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_tls-audit"))
        .args(args)
        .output()
        .expect("run tls-audit");
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// `-o inventory` is the PCI DSS 12.3.3 table of a capture in one command;
/// `-o inventory-certificates` the 4.2.1.1 list; `-o inventory-json` both;
/// the JSON, Markdown and HTML reports carry the same inventory.
fn inventory_output_gives_the_12_3_3_table() {
    let dir = committed();
    let pcaps: Vec<String> = WANT
        .iter()
        .map(|w| dir.join(format!("{}.pcap", w.0)).display().to_string())
        .collect();
    let mut args: Vec<&str> = vec!["analyze"];
    args.extend(pcaps.iter().map(String::as_str));
    let run = |format: &str| {
        let mut a = args.clone();
        a.extend(["-o", format]);
        cli(&a)
    };
    let csv = run("inventory");
    let rows: Vec<Vec<&str>> = csv.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(
        rows[0][..5],
        [
            "version",
            "cipher_suite",
            "key_exchange",
            "post_quantum",
            "forward_secrecy"
        ]
    );
    let find = |kx: &str| -> Vec<&Vec<&str>> { rows.iter().filter(|r| r[2] == kx).collect() };
    // The plain hybrid and the HRR to it: one configuration, two flows.
    let hybrid = find("X25519MLKEM768");
    assert_eq!(hybrid.len(), 1, "{csv}");
    assert_eq!(
        (hybrid[0][3], hybrid[0][4], hybrid[0][8]),
        ("yes", "yes", "2")
    );
    assert!(hybrid[0].last().unwrap().contains("certificates-encrypted"));
    let rsa = find("rsa");
    assert_eq!((rsa[0][3], rsa[0][4], rsa[0][6]), ("no", "no", "RSA 2048"));
    assert_eq!(find("dhe-1024")[0][5], "rsa_pss_rsae_sha256");
    let flows: u64 = rows[1..].iter().map(|r| r[8].parse::<u64>().unwrap()).sum();
    assert_eq!(flows, WANT.len() as u64);

    let certs = run("inventory-certificates");
    assert!(
        certs.starts_with("subject,issuer,spiffe_id,serial"),
        "{certs}"
    );
    assert!(certs.contains("CN=srv.kex.test"), "{certs}");

    let inv: Value = serde_json::from_str(&run("inventory-json")).unwrap();
    assert_eq!(inv["tls_flows"], WANT.len());
    assert_eq!(inv["post_quantum_flows"], 4);
    assert_eq!(inv["no_forward_secrecy_flows"], 1);
    let report: Value = serde_json::from_str(&run("json")).unwrap();
    assert_eq!(report["inventory"], inv);
    let md = run("markdown");
    assert!(md.contains("### Cryptography in use"), "{md}");
    assert!(
        md.contains(r"| TLS1.3 | TLS\_AES\_256\_GCM\_SHA384 | X25519MLKEM768 | yes | yes |"),
        "{md}"
    );
    let html = run("html");
    assert!(html.contains("<section id=\"crypto-inventory\">"));
    assert!(html.contains("<td>X25519MLKEM768</td><td>yes</td><td>yes</td>"));
}

/// `tls-audit probe` asks each group alone (empty key share, HelloRetryRequest
/// expected): the rustls server accepts exactly the groups it was given,
/// hybrids included; OpenSSL 3.0 accepts no post-quantum group.
fn probe_lists_the_groups_a_server_accepts() {
    let root = support::root();
    let _lab = lab_lock();
    let out = support::temp_dir("kex-probe");
    let status = Command::new("bash")
        .arg(root.join("tests/integration/kex/lab.sh"))
        .arg(&out)
        .arg("probe")
        .env("TLS_AUDIT", env!("CARGO_BIN_EXE_tls-audit"))
        .status()
        .expect("run kex/lab.sh probe");
    assert!(status.success());
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("probe.json")).unwrap()).unwrap();
    let accepted = |port: u16| -> Vec<String> {
        let p = report["probes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["target"].as_str().unwrap().ends_with(&format!(":{port}")))
            .unwrap();
        p["groups"]
            .as_array()
            .unwrap_or_else(|| panic!("no groups: {p}"))
            .iter()
            .filter(|g| g["accepted"] == true)
            .map(|g| g["group"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        accepted(8461),
        ["X25519MLKEM768", "SecP256r1MLKEM768", "x25519"]
    );
    assert_eq!(accepted(8462), ["x25519", "secp256r1", "secp384r1"]);
    crate::probe::validate_schema(&out.join("probe.json"));
}

/// With a key log the server's TLS 1.3 CertificateVerify is read: its
/// signature scheme joins the key exchange; without one it stays null.
fn certificate_verify_scheme_needs_the_key_log() {
    let dir = support::root().join("fixtures/captures");
    let pcap = dir.join("openssl-tls13-mutual.pcap");
    let keys = dir.join("openssl-tls13-mutual.keys");
    let kex_of = |extra: &[&str]| -> Value {
        let mut args = vec!["analyze", pcap.to_str().unwrap(), "-o", "json"];
        args.extend(extra);
        let r: Value = serde_json::from_str(&cli(&args)).unwrap();
        r["flows"][0]["tls"]["key_exchange"].clone()
    };
    let with = kex_of(&["--keylog", keys.to_str().unwrap()]);
    assert_eq!(with["signature_scheme"], "ecdsa_secp256r1_sha256");
    assert_eq!(with["signature_source"], "certificate-verify");
    assert_eq!(with["group"], "x25519");
    let without = kex_of(&[]);
    assert!(without["signature_scheme"].is_null(), "{without}");
    assert_eq!(without["group"], "x25519");
}

/// A resumed TLS 1.2 session carries the group of the full handshake it
/// resumes (same capture, matched by ticket or session ID).
fn a_resumed_session_inherits_its_group() {
    let r = analyze(&support::root().join("fixtures/captures/openssl-tls12-resumption.pcap"));
    let ks: Vec<_> = r
        .flows
        .iter()
        .filter_map(|f| f.tls.as_deref())
        .map(|t| (t.resumed, t.key_exchange.clone().unwrap()))
        .collect();
    assert_eq!(ks.len(), 2);
    let (full, resumed) = (&ks[0].1, &ks[1].1);
    assert_eq!(ks[1].0, Some(true));
    assert_eq!(full.group_source.as_deref(), Some("server-key-exchange"));
    assert_eq!(resumed.group, full.group);
    assert_eq!(resumed.group_source.as_deref(), Some("resumed-session"));
    assert_eq!(resumed.unknown_reason, None);
    assert_eq!(resumed.forward_secrecy, Some(true));
}

/// This module's tests, as the harness lists them (`main.rs`).
pub(crate) fn tests() -> Vec<crate::runner::Test> {
    use crate::runner::{Need, Test};
    vec![
        Test::new(
            module_path!(),
            "committed_lab_captures_report_their_key_exchange",
            committed_lab_captures_report_their_key_exchange,
        ),
        Test::new(
            module_path!(),
            "fresh_lab_handshakes_report_their_key_exchange",
            fresh_lab_handshakes_report_their_key_exchange,
        )
        .needs(&[
            Need::Root,
            Need::Built("target/debug/tlsa-pq-peer"),
            Need::Built("target/debug/tlsa-go-peer"),
            Need::Tool("ip"),
            Need::Tool("tcpdump"),
            Need::Tool("openssl"),
            Need::Tool("tshark"),
            Need::Tool("ethtool"),
        ]),
        Test::new(
            module_path!(),
            "lab_findings_name_the_servers_that_block_pq",
            lab_findings_name_the_servers_that_block_pq,
        ),
        Test::new(
            module_path!(),
            "fixture_captures_agree_with_tshark_on_groups",
            fixture_captures_agree_with_tshark_on_groups,
        ),
        Test::new(
            module_path!(),
            "inventory_output_gives_the_12_3_3_table",
            inventory_output_gives_the_12_3_3_table,
        ),
        Test::new(
            module_path!(),
            "probe_lists_the_groups_a_server_accepts",
            probe_lists_the_groups_a_server_accepts,
        )
        .needs(&[
            Need::Root,
            Need::Built("target/debug/tlsa-pq-peer"),
            Need::Tool("openssl"),
        ]),
        Test::new(
            module_path!(),
            "certificate_verify_scheme_needs_the_key_log",
            certificate_verify_scheme_needs_the_key_log,
        ),
        Test::new(
            module_path!(),
            "a_resumed_session_inherits_its_group",
            a_resumed_session_inherits_its_group,
        ),
    ]
}
