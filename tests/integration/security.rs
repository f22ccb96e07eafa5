//! Issue 22: the audited workload must not be able to make the report pass.
//! Each test builds the hostile input the way an attacker would (a real
//! OpenSSL server with a padded chain, cleartext carrying ClientHello bytes,
//! a forged agent event stream) and checks that the verdict does not flip
//! without a visible reason.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tls_audit::report::Report;
use tls_audit::report::model::Severity;

use crate::support::{self, PcapWriter, tcp_frame, temp_dir};

/// Which side sent a chunk recorded by the relay.
#[derive(Clone, Copy, PartialEq)]
enum Dir {
    ToServer,
    ToClient,
}

/// Bytes that crossed the relay, in the order they crossed.
type Recorded = Arc<Mutex<Vec<(Dir, Vec<u8>)>>>;

fn have(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A free port on 127.0.0.1 (bound, then released for the server to take).
fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// Copy one direction of the relay, recording what passed.
fn pump(mut from: TcpStream, mut to: TcpStream, dir: Dir, log: Recorded) {
    let mut buf = [0u8; 16384];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                log.lock().unwrap().push((dir, buf[..n].to_vec()));
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

/// `openssl s_server -quiet ARGS` on 127.0.0.1:`port`, once it listens.
fn loopback_s_server<'a>(
    port: u16,
    args: impl IntoIterator<Item = &'a std::ffi::OsStr>,
) -> std::process::Child {
    let server = Command::new("openssl")
        .args(["s_server", "-quiet", "-accept"])
        .arg(format!("127.0.0.1:{port}"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl s_server");
    let until = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < until, "s_server did not listen");
        std::thread::sleep(Duration::from_millis(50));
    }
    server
}

/// Run a real `openssl s_server` (`server_args`) and `openssl s_client`
/// (`client_args`) on loopback through a relay that records the bytes each
/// way, and write them as a pcap of one TCP connection between
/// 10.1.0.1:40000 and 10.1.0.2:`port` (segments of at most 1,448 bytes,
/// 1 ms apart, starting at `t0_us`). Only loopback traffic is sent.
fn openssl_capture(out: &Path, port: u16, t0_us: u64, server_args: &[&str], client_args: &[&str]) {
    let sport = free_port();
    let mut server = loopback_s_server(sport, server_args.iter().map(std::ffi::OsStr::new));
    let relay = TcpListener::bind("127.0.0.1:0").expect("relay");
    let rport = relay.local_addr().expect("addr").port();
    let log: Recorded = Arc::default();
    let log2 = Arc::clone(&log);
    let relay_thread = std::thread::spawn(move || {
        let (c, _) = relay.accept().expect("accept");
        let until = Instant::now() + Duration::from_secs(10);
        let s = loop {
            match TcpStream::connect(("127.0.0.1", sport)) {
                Ok(s) => break s,
                Err(_) if Instant::now() < until => std::thread::sleep(Duration::from_millis(50)),
                Err(e) => panic!("server: {e}"),
            }
        };
        let (c2, s2) = (c.try_clone().unwrap(), s.try_clone().unwrap());
        let l = Arc::clone(&log2);
        let up = std::thread::spawn(move || pump(c, s, Dir::ToServer, l));
        pump(s2, c2, Dir::ToClient, log2);
        let _ = up.join();
    });
    Command::new("openssl")
        .args(["s_client", "-connect"])
        .arg(format!("127.0.0.1:{rport}"))
        .args(client_args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl s_client");
    // s_client closes on stdin EOF after the handshake; the server follows.
    let until = Instant::now() + Duration::from_secs(10);
    while !relay_thread.is_finished() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = server.kill();
    let _ = server.wait();
    let chunks = log.lock().unwrap().clone();
    assert!(
        chunks.iter().any(|(d, _)| *d == Dir::ToClient),
        "the server answered nothing"
    );
    std::fs::write(out, pcap_of(&chunks, port, t0_us)).expect("write pcap");
}

/// One TCP connection carrying `chunks` (SYN, data, FIN both ways).
fn pcap_of(chunks: &[(Dir, Vec<u8>)], port: u16, t0_us: u64) -> Vec<u8> {
    let c = ([10, 1, 0, 1], 40000);
    let s = ([10, 1, 0, 2], port);
    let mut w = PcapWriter::new(1);
    let (mut cseq, mut sseq) = (1000u32, 5000u32);
    let mut t = t0_us;
    w.frame(t, &tcp_frame(c, s, cseq - 1, None, true, &[]));
    w.frame(t + 1, &tcp_frame(s, c, sseq - 1, Some(cseq), true, &[]));
    for (dir, bytes) in chunks {
        for seg in bytes.chunks(1448) {
            t += 1000;
            let f = match dir {
                Dir::ToServer => {
                    let f = tcp_frame(c, s, cseq, Some(sseq), false, seg);
                    cseq = cseq.wrapping_add(seg.len() as u32);
                    f
                }
                Dir::ToClient => {
                    let f = tcp_frame(s, c, sseq, Some(cseq), false, seg);
                    sseq = sseq.wrapping_add(seg.len() as u32);
                    f
                }
            };
            w.frame(t, &f);
        }
    }
    w.bytes()
}

/// Certificates made with Python's `cryptography` (installed by
/// scripts/install-deps.sh): an expired leaf for `localhost` carrying a
/// SPIFFE id of a foreign trust domain, its key, and a self-signed
/// certificate padded to about `junk_bytes` with one-letter SANs.
fn make_certs(dir: &Path, junk_bytes: usize) -> Option<()> {
    let script = r#"
import sys, datetime
from cryptography import x509
from cryptography.x509.oid import NameOID
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
d, junk = sys.argv[1], int(sys.argv[2])
def name(cn): return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
def cert(cn, key, sans, nb, na):
    b = (x509.CertificateBuilder().subject_name(name(cn)).issuer_name(name(cn))
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(nb).not_valid_after(na)
         .add_extension(x509.SubjectAlternativeName(sans), critical=False))
    return b.sign(key, hashes.SHA256())
pem = lambda c: c.public_bytes(serialization.Encoding.PEM)
k = ec.generate_private_key(ec.SECP256R1())
leaf = cert("leaf", k, [x509.DNSName("localhost"),
    x509.UniformResourceIdentifier("spiffe://evil.example/ns/x/sa/y")],
    datetime.datetime(2020, 1, 1), datetime.datetime(2021, 1, 1))
open(d + "/leaf.pem", "wb").write(pem(leaf))
open(d + "/leaf.key", "wb").write(k.private_bytes(serialization.Encoding.PEM,
    serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
n = max(1, junk // 8)
jk = ec.generate_private_key(ec.SECP256R1())
j = cert("junk", jk, [x509.DNSName("%x.a" % i) for i in range(n)],
    datetime.datetime(2020, 1, 1), datetime.datetime(2040, 1, 1))
open(d + "/junk.pem", "wb").write(pem(j))
"#;
    let ok = Command::new("python3")
        .args(["-c", script])
        .arg(dir)
        .arg(junk_bytes.to_string())
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some(())
}

fn can_run(test: &str, cmds: &[&str]) -> bool {
    for c in cmds {
        if !have(c) {
            eprintln!("{test}: skipped: {c} is not installed (scripts/install-deps.sh)");
            return false;
        }
    }
    true
}

fn rules_of(r: &Report) -> Vec<String> {
    r.findings.iter().map(|f| f.rule.clone()).collect()
}

fn gate(r: &Report) -> Option<String> {
    r.verification
        .as_ref()
        .and_then(|v| v.gate)
        .map(|g| g.to_string())
}

fn hipaa(r: &Report, reference: &str) -> String {
    let c = tls_audit::report::compliance::evaluate(r, &["hipaa"]).expect("hipaa");
    c.frameworks[0]
        .controls
        .iter()
        .find(|c| c.reference == reference)
        .map(|c| c.status.as_str().to_string())
        .unwrap_or_default()
}

/// Issue 22 item 1: the same expired leaf with a foreign SPIFFE id, sent
/// by a real OpenSSL server once with its leaf alone and once with a
/// 66,000-byte junk certificate after it (over the 64 KiB stream cap).
/// The padded chain must not pass the gate or HIPAA 164.312(e)(1) on
/// checks that never ran, and must say why.
fn a_padded_certificate_chain_does_not_pass_the_gate() {
    if !can_run("a_padded_certificate_chain", &["openssl", "python3"]) {
        return;
    }
    let dir = temp_dir("security-padded-chain");
    if make_certs(&dir, 70_000).is_none() {
        eprintln!("a_padded_certificate_chain: skipped: python3-cryptography is missing");
        return;
    }
    let p = |f: &str| dir.join(f).to_str().unwrap().to_string();
    let junk_len = std::fs::read_to_string(dir.join("junk.pem")).unwrap().len() * 3 / 4;
    assert!(junk_len > 65_536, "junk certificate of {junk_len} bytes");
    let server = |chain: bool| {
        let mut a = vec![
            "-cert".to_string(),
            p("leaf.pem"),
            "-key".into(),
            p("leaf.key"),
        ];
        if chain {
            a.extend(["-cert_chain".into(), p("junk.pem")]);
        }
        a
    };
    let client = ["-tls1_2", "-servername", "localhost"];
    let mut reports = Vec::new();
    for (chain, name) in [(false, "plain.pcap"), (true, "padded.pcap")] {
        let args = server(chain);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let pcap: PathBuf = dir.join(name);
        openssl_capture(&pcap, 8443, 1_764_000_000_000_000, &args, &client);
        reports.push(support::verified(&[&pcap], Some(Severity::High)));
    }
    let (plain, padded) = (&reports[0], &reports[1]);
    assert!(
        rules_of(plain).iter().any(|r| r == "TA-CERT-EXPIRED"),
        "{:?}",
        rules_of(plain)
    );
    assert_eq!(gate(plain).as_deref(), Some("fail"));
    assert_eq!(hipaa(plain, "HIPAA 164.312(e)(1)"), "fail");

    let tls = padded.flows[0].tls.as_deref().expect("tls flow");
    assert_eq!(tls.certificates_unread.as_deref(), Some("reassembly-cap"));
    assert!(
        rules_of(padded).iter().any(|r| r == "TA-CERT-UNCHECKED"),
        "{:?}",
        rules_of(padded)
    );
    assert_eq!(gate(padded).as_deref(), Some("fail"), "the gate passed");
    assert_eq!(hipaa(padded, "HIPAA 164.312(e)(1)"), "fail");
    let v = padded.verification.as_ref().unwrap();
    assert!(
        v.not_checked
            .iter()
            .any(|n| n.rule == "TA-CERT-EXPIRED" && n.reason == "reassembly-cap"),
        "{:?}",
        v.not_checked
    );
    assert!(
        padded
            .warnings
            .iter()
            .any(|w| w.kind == "certificates-unread"),
        "{:?}",
        padded.warnings
    );
}

/// Issue 22 item 2: an HTTP upload on 8080 whose body, at a segment
/// boundary, starts with a real OpenSSL ClientHello; the server answers in
/// HTTP and the client goes on with `GET /secret-data`. Every byte is
/// cleartext: TA-PLAINTEXT, not "tls (http/1.1)".
fn cleartext_behind_a_client_hello_is_still_plaintext() {
    if !can_run("cleartext_behind_a_client_hello", &["openssl"]) {
        return;
    }
    let dir = temp_dir("security-hidden-cleartext");
    // A real ClientHello: the first bytes OpenSSL sends to a server.
    let pki = support::root().join("fixtures/pki");
    let hello_pcap = dir.join("hello.pcap");
    let key = pki.join("server.key");
    let crt = pki.join("server.crt");
    openssl_capture(
        &hello_pcap,
        443,
        0,
        &[
            "-cert",
            crt.to_str().unwrap(),
            "-key",
            key.to_str().unwrap(),
        ],
        &["-tls1_2"],
    );
    let hello = first_client_record(&std::fs::read(&hello_pcap).unwrap());
    let head = format!(
        "POST /upload HTTP/1.1\r\nHost: api\r\nContent-Length: {}\r\n\r\n",
        hello.len()
    );
    let chunks = vec![
        (Dir::ToServer, head.into_bytes()),
        (Dir::ToServer, hello),
        (
            Dir::ToClient,
            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_vec(),
        ),
        (
            Dir::ToServer,
            b"GET /secret-data HTTP/1.1\r\nHost: api\r\n\r\n".to_vec(),
        ),
        (
            Dir::ToClient,
            b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecret".to_vec(),
        ),
    ];
    let pcap = dir.join("hidden.pcap");
    std::fs::write(&pcap, pcap_of(&chunks, 8080, 1_764_000_000_000_000)).unwrap();
    let r = support::verified(&[&pcap], Some(Severity::High));
    assert_eq!(r.flows.len(), 1);
    let f = &r.flows[0];
    assert_eq!(
        f.protection,
        tls_audit::model::Protection::Plaintext,
        "{f:?}"
    );
    assert!(f.tls.is_none());
    assert!(
        rules_of(&r).iter().any(|x| x == "TA-PLAINTEXT"),
        "{:?}",
        rules_of(&r)
    );
    assert_eq!(gate(&r).as_deref(), Some("fail"));
}

/// The client's first TLS record in a pcap written by `pcap_of` (its first
/// data segment toward the server, which a ClientHello fits in).
fn first_client_record(pcap: &[u8]) -> Vec<u8> {
    // Frames: 24-byte file header, then 16-byte record headers; Ethernet
    // (14) + IPv4 (20) + TCP (20) as `tcp_frame` writes them.
    let mut off = 24;
    while off + 16 <= pcap.len() {
        let len = u32::from_le_bytes(pcap[off + 8..off + 12].try_into().unwrap()) as usize;
        let frame = &pcap[off + 16..off + 16 + len];
        off += 16 + len;
        let payload = &frame[54..];
        if frame[34..36] == 40000u16.to_be_bytes() && payload.first() == Some(&22) {
            let n = u16::from_be_bytes([payload[3], payload[4]]) as usize + 5;
            return payload[..n.min(payload.len())].to_vec();
        }
    }
    panic!("no ClientHello in the capture");
}

/// `tls-audit analyze --events FILE --pods ... --fail-on high -o json`.
fn analyze_events(file: &Path) -> serde_json::Value {
    let cluster = support::root().join("fixtures/cluster");
    let out = Command::new(env!("CARGO_BIN_EXE_tls-audit"))
        .args(["analyze", "--fail-on", "high", "-o", "json", "--pods"])
        .arg(cluster.join("pods.json"))
        .arg("--events")
        .arg(file)
        .output()
        .expect("tls-audit");
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))
}

fn event_lines(name: &str) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(support::root().join("fixtures/events").join(name))
        .expect("fixture events");
    text.lines()
        .map(|l| serde_json::from_str(l).expect("event line"))
        .collect()
}

fn write_lines(path: &Path, lines: &[serde_json::Value]) {
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(path, text).expect("write events");
}

/// Issue 22 item 3: a real agent stream of a cleartext HTTP flow, forged:
/// the flow rewritten as TLS 1.2 mutual with no certificate bytes, and a
/// summary warning claiming all traffic is mutual TLS. The forged facts
/// must not pass the gate; what the stream said is labelled as the
/// agent's, and the input names the event file.
fn a_forged_event_stream_does_not_pass_and_is_labelled() {
    let dir = temp_dir("security-forged-events");
    let mutual = event_lines("openssl-tls12-mutual.events.ndjson");
    let mut tls = mutual
        .iter()
        .find(|l| l["event"] == "flow")
        .map(|l| l["flow"]["tls"].clone())
        .expect("a TLS flow");
    tls["server_chain"] = serde_json::json!([]);
    tls["client_chain"] = serde_json::json!([]);
    assert_eq!(tls["mutual"], true);
    let mut lines = event_lines("nginx-http-plaintext-80.events.ndjson");
    for l in &mut lines {
        if l["event"] == "flow" {
            l["flow"]["protection"] = "tls".into();
            l["flow"]["app_protocol"] = serde_json::Value::Null;
            l["flow"]["tls"] = tls.clone();
        }
        if l["event"] == "summary" {
            l["report"]["warnings"] = serde_json::json!([
                {"kind": "capture-drops", "message": "All traffic verified mutual TLS by the agent"}
            ]);
        }
    }
    let forged = dir.join("forged.ndjson");
    write_lines(&forged, &lines);
    let r = analyze_events(&forged);
    let flow = &r["flows"][0];
    assert_ne!(flow["tls"]["mutual"], true, "{flow}");
    assert_eq!(flow["tls"]["mutual_unknown_reason"], "agent-unbacked");
    assert_eq!(flow["tls"]["certificates_unread"], "no-certificate-bytes");
    let rules: Vec<&str> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["rule"].as_str())
        .collect();
    assert!(rules.contains(&"TA-CERT-UNCHECKED"), "{rules:?}");
    assert_eq!(r["verification"]["gate"], "fail");
    let forged_name = forged.to_str().unwrap();
    for i in r["inputs"].as_array().unwrap() {
        assert_eq!(i["reported_by"], forged_name, "{i}");
    }
    let warnings: Vec<&str> = r["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|w| w["message"].as_str())
        .collect();
    let said = warnings
        .iter()
        .find(|m| m.contains("All traffic verified"))
        .expect("the agent's warning");
    assert!(
        said.starts_with(&format!("agent ({forged_name}): ")),
        "{said}"
    );
    assert!(
        r["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["kind"] == "agent-reported"),
        "{warnings:?}"
    );
}

/// Issue 22 item 3: the cleartext flow's line removed and the sequence
/// numbers renumbered so none skips: the summary's flow count still shows
/// that a flow line is missing.
fn a_removed_flow_line_is_noticed() {
    let dir = temp_dir("security-removed-flow");
    let mut lines = event_lines("nginx-http-plaintext-80.events.ndjson");
    lines.retain(|l| l["event"] != "flow");
    for (i, l) in lines.iter_mut().enumerate() {
        l["seq"] = (i as u64).into();
    }
    let cut = dir.join("cut.ndjson");
    write_lines(&cut, &lines);
    let r = analyze_events(&cut);
    assert_eq!(r["flows"].as_array().unwrap().len(), 0);
    let lost = r["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["kind"] == "events-lost")
        .expect("events-lost warning");
    assert!(
        lost["message"]
            .as_str()
            .unwrap()
            .contains("flow lines were lost or removed"),
        "{lost}"
    );
}

/// A relay to `server` that answers TLS 1.2 and 1.3 ClientHellos (and
/// anything else) through the server, but holds ClientHellos offering an
/// older version open without a word, as a stalling server would. Returns
/// its port; it serves until the test process ends.
fn stalling_relay(server: u16) -> u16 {
    let relay = TcpListener::bind("127.0.0.1:0").expect("relay");
    let port = relay.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for c in relay.incoming().flatten() {
            std::thread::spawn(move || {
                let mut head = [0u8; 11];
                let mut c = c;
                let _ = c.set_read_timeout(Some(Duration::from_secs(10)));
                if c.read_exact(&mut head).is_err() {
                    return;
                }
                let legacy = head[0] == 22 && head[5] == 1 && head[9..11] < [3, 3][..];
                if legacy {
                    // Stall: read and ignore until the prober gives up.
                    let mut sink = [0u8; 1024];
                    while matches!(c.read(&mut sink), Ok(n) if n > 0) {}
                    return;
                }
                let Ok(mut s) = TcpStream::connect(("127.0.0.1", server)) else {
                    return;
                };
                if s.write_all(&head).is_err() {
                    return;
                }
                let (c2, s2) = (c.try_clone().unwrap(), s.try_clone().unwrap());
                let log: Recorded = Arc::default();
                let l = Arc::clone(&log);
                let up = std::thread::spawn(move || pump(c, s, Dir::ToServer, l));
                pump(s2, c2, Dir::ToClient, log);
                let _ = up.join();
            });
        }
    });
    port
}

/// Issue 22 item 9: a server that completes TLS 1.2 and 1.3 but stalls
/// every older version was reported as accepting "TLS1.3 TLS1.2" with no
/// warning: timed-out checks must be said, never read as "not supported".
fn a_probe_that_gets_no_answer_says_so() {
    if !can_run("a_probe_that_gets_no_answer", &["openssl"]) {
        return;
    }
    let pki = support::root().join("fixtures/pki");
    let sport = free_port();
    let (cert, key) = (pki.join("server.crt"), pki.join("server.key"));
    let mut server = loopback_s_server(
        sport,
        [
            "-www".as_ref(),
            "-cert".as_ref(),
            cert.as_os_str(),
            "-key".as_ref(),
            key.as_os_str(),
        ],
    );
    let port = stalling_relay(sport);
    let out = Command::new(env!("CARGO_BIN_EXE_tls-audit"))
        .args(["probe", "--timeout", "400", "--no-plaintext", "-o", "json"])
        .arg(format!("127.0.0.1:{port}"))
        .output()
        .expect("tls-audit probe");
    let _ = server.kill();
    let _ = server.wait();
    let r: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let versions = &r["probes"][0]["versions"];
    let unanswered: Vec<&str> = versions
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["accepted"].is_null())
        .filter_map(|v| v["version"].as_str())
        .collect();
    assert!(unanswered.contains(&"TLS1.1"), "{versions}");
    let incomplete = r["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["kind"] == "probe-incomplete")
        .unwrap_or_else(|| panic!("no probe-incomplete warning: {}", r["warnings"]));
    assert!(
        incomplete["message"].as_str().unwrap().contains("TLS1.1"),
        "{incomplete}"
    );
    assert!(
        r["verification"]["not_checked"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["rule"] == "TA-TLS-VERSION" && n["reason"] == "probe-no-answer"),
        "{}",
        r["verification"]["not_checked"]
    );
}

/// Peak resident memory (KiB) of `tls-audit ARGS`, its output discarded:
/// VmHWM of its own address space, read from /proc until it exits. (Its
/// rusage would not do: a child spawned by vfork carries this test
/// process's high-water mark through exec.)
fn peak_rss_kib(args: &[&std::ffi::OsStr]) -> (i32, u64) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tls-audit"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("tls-audit");
    let status = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    loop {
        if let Ok(text) = std::fs::read_to_string(&status)
            && let Some(kib) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            peak = peak.max(kib);
        }
        if let Some(code) = child.try_wait().expect("wait") {
            return (code.code().unwrap_or(-1), peak);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Issue 22 item 6: replaying an event stream held every flow record in
/// memory (200,000 mutual-TLS flows: 666 MiB). The records now wait
/// in a temporary file: 20,000 mutual-TLS flows (the fixture's flow under
/// new ids, its certificates' bytes sent once) stay within a flat peak.
fn replaying_many_flows_keeps_memory_flat() {
    let dir = temp_dir("security-replay-memory");
    let lines = event_lines("openssl-tls12-mutual.events.ndjson");
    let of = |kind: &str| {
        lines
            .iter()
            .find(|l| l["event"] == kind)
            .cloned()
            .expect("event in the fixture")
    };
    let n = 20_000u64;
    let mut seq = 0u64;
    let mut text = String::new();
    let mut emit = |mut v: serde_json::Value| {
        v["seq"] = seq.into();
        seq += 1;
        text.push_str(&v.to_string());
        text.push('\n');
    };
    emit(of("start"));
    for id in 1..=n {
        for kind in ["handshake", "flow"] {
            let mut v = of(kind);
            v["id"] = id.into();
            v["flow"]["client"]["port"] = (1024 + id % 60_000).into();
            if id > 1
                && let Some(o) = v.as_object_mut()
            {
                o.remove("certificates");
            }
            emit(v);
        }
    }
    let mut summary = of("summary");
    summary["report"]["stats"]["flows"] = n.into();
    emit(summary);
    let file = dir.join("many.events.ndjson");
    std::fs::write(&file, text).expect("write events");
    let (code, kib) = peak_rss_kib(&[
        "analyze".as_ref(),
        "-o".as_ref(),
        "json".as_ref(),
        "--events".as_ref(),
        file.as_os_str(),
    ]);
    assert!(code == 0 || code == 1, "exit {code}");
    // Held in memory, 20,000 records took the peak to 88 MiB (24 MiB now).
    assert!(kib > 0, "VmHWM never read");
    assert!(
        kib < 48 * 1024,
        "peak {} MiB for {n} replayed flows",
        kib >> 10
    );
}

/// Issue 22 item 6: `tls-audit report` read the whole saved JSON into
/// memory, then every flow as a record (1M flows: 1.24 GiB). It streams the
/// `flows` array into a spill file now: 50,000 saved flows (the plaintext
/// fixture's flow, repeated; 23 MB of JSON) re-rendered as JSON and as the
/// table stay within a flat peak (100,000: 154 MiB before, 21 MiB now).
fn re_rendering_many_flows_keeps_memory_flat() {
    let dir = temp_dir("security-rerender-memory");
    let one = Command::new(env!("CARGO_BIN_EXE_tls-audit"))
        .args(["analyze", "-o", "json"])
        .arg(support::root().join("fixtures/captures/nginx-http-plaintext-80.pcap"))
        .output()
        .expect("tls-audit");
    let mut report: serde_json::Value = serde_json::from_slice(&one.stdout).expect("report");
    let flow = report["flows"][0].to_string();
    let n = 50_000;
    // `{"flows":[...],` then the other members: any order is a report.
    let rest = report
        .as_object_mut()
        .map(|o| {
            o.remove("flows");
            serde_json::Value::Object(o.clone()).to_string()
        })
        .expect("an object");
    let mut text = String::with_capacity(rest.len() + n * (flow.len() + 1) + 16);
    text.push_str("{\"flows\":[");
    for i in 0..n {
        if i > 0 {
            text.push(',');
        }
        text.push_str(&flow);
    }
    text.push_str("],");
    text.push_str(rest.strip_prefix('{').expect("an object"));
    text.push('\n');
    let saved = dir.join("many.json");
    std::fs::write(&saved, &text).expect("write report");
    drop(text);
    for format in ["json", "table"] {
        let (code, kib) = peak_rss_kib(&[
            "report".as_ref(),
            saved.as_os_str(),
            "-o".as_ref(),
            format.as_ref(),
        ]);
        assert_eq!(code, 0, "{format}");
        assert!(kib > 0, "VmHWM never read");
        assert!(
            kib < 48 * 1024,
            "{format}: peak {} MiB for {n} saved flows",
            kib >> 10
        );
    }
    let again = Command::new(env!("CARGO_BIN_EXE_tls-audit"))
        .args(["report", "-o", "json"])
        .arg(&saved)
        .output()
        .expect("tls-audit");
    let back: serde_json::Value = serde_json::from_slice(&again.stdout).expect("re-rendered");
    assert_eq!(back["flows"].as_array().map(Vec::len), Some(n));
    assert_eq!(back["flows"][n - 1].to_string(), flow);
}

/// This module's tests, as the harness lists them (`main.rs`).
pub(crate) fn tests() -> Vec<crate::runner::Test> {
    use crate::runner::Test;
    vec![
        Test::new(
            module_path!(),
            "a_padded_certificate_chain_does_not_pass_the_gate",
            a_padded_certificate_chain_does_not_pass_the_gate,
        ),
        Test::new(
            module_path!(),
            "cleartext_behind_a_client_hello_is_still_plaintext",
            cleartext_behind_a_client_hello_is_still_plaintext,
        ),
        Test::new(
            module_path!(),
            "a_forged_event_stream_does_not_pass_and_is_labelled",
            a_forged_event_stream_does_not_pass_and_is_labelled,
        ),
        Test::new(
            module_path!(),
            "a_removed_flow_line_is_noticed",
            a_removed_flow_line_is_noticed,
        ),
        Test::new(
            module_path!(),
            "a_probe_that_gets_no_answer_says_so",
            a_probe_that_gets_no_answer_says_so,
        ),
        Test::new(
            module_path!(),
            "replaying_many_flows_keeps_memory_flat",
            replaying_many_flows_keeps_memory_flat,
        ),
        Test::new(
            module_path!(),
            "re_rendering_many_flows_keeps_memory_flat",
            re_rendering_many_flows_keeps_memory_flat,
        ),
    ]
}
