//! Shared helpers for the integration tests.

use std::path::{Path, PathBuf};

/// The project root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared` beside the project, if it is there.
pub fn shared() -> Option<PathBuf> {
    let p = root().join("..").join("shared");
    p.join("corpus")
        .join("MANIFEST.json")
        .is_file()
        .then_some(p)
}

/// `../shared`, for a test the harness lists as needing it (so it runs
/// only where it is, and fails in CI where it is not).
pub fn needed_shared() -> PathBuf {
    shared().expect("../shared is absent, yet the test ran (its needs list omits it?)")
}

/// `ip:port` as tshark_facts and the fixtures spell endpoints (IPv6 in brackets).
pub fn ep(ip: &str, port: u16) -> String {
    if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

/// A classic pcap file (microsecond timestamps, Ethernet) built in memory.
#[derive(Default)]
pub struct PcapWriter {
    bytes: Vec<u8>,
}

impl PcapWriter {
    /// A file with this link type.
    pub fn new(link: u32) -> Self {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        bytes.extend_from_slice(&2u16.to_le_bytes());
        bytes.extend_from_slice(&4u16.to_le_bytes());
        bytes.extend_from_slice(&[0; 8]);
        bytes.extend_from_slice(&65535u32.to_le_bytes());
        bytes.extend_from_slice(&link.to_le_bytes());
        PcapWriter { bytes }
    }

    /// Append one frame captured at `ts_us` microseconds.
    pub fn frame(&mut self, ts_us: u64, frame: &[u8]) -> &mut Self {
        self.bytes
            .extend_from_slice(&((ts_us / 1_000_000) as u32).to_le_bytes());
        self.bytes
            .extend_from_slice(&((ts_us % 1_000_000) as u32).to_le_bytes());
        self.bytes
            .extend_from_slice(&(frame.len() as u32).to_le_bytes());
        self.bytes
            .extend_from_slice(&(frame.len() as u32).to_le_bytes());
        self.bytes.extend_from_slice(frame);
        self
    }

    /// The file's bytes.
    pub fn bytes(&self) -> Vec<u8> {
        self.bytes.clone()
    }
}

/// An Ethernet/IPv4/TCP frame.
pub fn tcp_frame(
    src: ([u8; 4], u16),
    dst: ([u8; 4], u16),
    seq: u32,
    ack: Option<u32>,
    syn: bool,
    payload: &[u8],
) -> Vec<u8> {
    let b = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4(src.0, dst.0, 64)
        .tcp(src.1, dst.1, seq, 65535);
    let b = if syn { b.syn() } else { b };
    let b = match ack {
        Some(a) => b.ack(a),
        None => b,
    };
    let mut out = Vec::with_capacity(b.size(payload.len()));
    b.write(&mut out, payload).expect("write frame");
    out
}

/// A TLS 1.2 ClientHello record offering `sni`.
pub fn client_hello(sni: &str) -> Vec<u8> {
    let mut body = vec![3, 3];
    body.extend([0x42; 32]);
    body.push(0);
    body.extend([0, 4, 0xc0, 0x2f, 0x13, 0x01, 1, 0]);
    let mut ext = vec![0, 0];
    let name = sni.as_bytes();
    ext.extend(((name.len() + 5) as u16).to_be_bytes());
    ext.extend(((name.len() + 3) as u16).to_be_bytes());
    ext.push(0);
    ext.extend((name.len() as u16).to_be_bytes());
    ext.extend(name);
    body.extend((ext.len() as u16).to_be_bytes());
    body.extend(ext);
    let mut msg = vec![1, 0];
    msg.extend((body.len() as u16).to_be_bytes());
    msg.extend(body);
    let mut rec = vec![22, 3, 1];
    rec.extend((msg.len() as u16).to_be_bytes());
    rec.extend(msg);
    rec
}

/// A pcap with one TCP connection (handshake, a ClientHello, nothing more)
/// per client port, starting at `t0` microseconds.
pub fn pcap_with_hellos(ports: &[u16], t0: u64, sni: &str) -> Vec<u8> {
    let mut w = PcapWriter::new(1);
    let c = [10, 1, 0, 1];
    let s = [10, 1, 0, 2];
    for (i, &p) in ports.iter().enumerate() {
        let t = t0 + i as u64 * 1000;
        w.frame(t, &tcp_frame((c, p), (s, 443), 100, None, true, &[]));
        w.frame(
            t + 1,
            &tcp_frame((s, 443), (c, p), 500, Some(101), true, &[]),
        );
        w.frame(
            t + 2,
            &tcp_frame((c, p), (s, 443), 101, Some(501), false, &client_hello(sni)),
        );
    }
    w.bytes()
}

/// A fresh empty directory under the target dir, for one test.
pub fn temp_dir(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// Analyse and verify `captures` together, in memory, with the fixture
/// cluster snapshot (`fixtures/cluster`), the built-in policy, waivers
/// judged at 2026-11-27T12:00:00Z, and the gate at `fail_on`.
pub fn verified(
    captures: &[&Path],
    fail_on: Option<tls_audit::report::model::Severity>,
) -> tls_audit::report::Report {
    use tls_audit::inventory::Inventory;
    use tls_audit::report::model::PolicySource;
    use tls_audit::verify::{self, Policy, RunInfo, Verifier};

    let cluster = root().join("fixtures/cluster");
    let inventory = Inventory::load(
        Some(&cluster.join("pods.json")),
        Some(&cluster.join("nodes.json")),
    )
    .expect("fixture inventory");
    let now = verify::parse_time("2026-11-27T12:00:00Z").expect("time");
    let info = RunInfo {
        policy: PolicySource {
            source: "built-in".into(),
            sha256: verify::policy_digest(verify::DEFAULT_POLICY),
        },
        inventory: None,
        trust_bundle: None,
        now,
        fail_on,
    };
    let verifier = Verifier::new(Policy::default(), Some(inventory), None, now);
    let paths: Vec<&str> = captures
        .iter()
        .map(|p| p.to_str().expect("UTF-8 path"))
        .collect();
    verify::analyze_files(
        &paths,
        &Default::default(),
        Default::default(),
        verifier,
        info,
    )
    .expect("analysis")
}

/// Validate JSON documents (or, with `lines`, every line of NDJSON files)
/// against a schema in `reports/` with Python's `jsonschema`, the report
/// and event schemas both registered so they can refer to each other.
/// Returns (validated count, errors); `None` when the validator is missing
/// (never in CI: scripts/install-deps.sh installs it).
pub fn validate_with_schema(
    schema: &str,
    files: &[PathBuf],
    lines: bool,
) -> Option<(usize, Vec<String>)> {
    let have = std::process::Command::new("python3")
        .args(["-c", "import jsonschema"])
        .status()
        .is_ok_and(|s| s.success());
    if !have {
        assert!(
            std::env::var_os("CI").is_none(),
            "python3 jsonschema is missing in CI"
        );
        eprintln!("NOTICE: python3 jsonschema not installed; {schema} validation skipped");
        return None;
    }
    let script = r#"
import json, sys
from jsonschema import Draft202012Validator
root, which, lines = sys.argv[1], sys.argv[2], sys.argv[3] == "lines"
schemas = {n: json.load(open(f"{root}/{n}")) for n in ("report-v1.schema.json", "event-v1.schema.json")}
for s in schemas.values():
    Draft202012Validator.check_schema(s)
try:
    from referencing import Registry, Resource
    reg = Registry().with_resources([(s["$id"], Resource.from_contents(s)) for s in schemas.values()])
    v = Draft202012Validator(schemas[which], registry=reg)
except ImportError:
    from jsonschema import RefResolver
    store = {s["$id"]: s for s in schemas.values()}
    v = Draft202012Validator(schemas[which], resolver=RefResolver.from_schema(schemas[which], store=store))
n = 0
for f in sys.argv[4:]:
    docs = [json.loads(l) for l in open(f) if l.strip()] if lines else [json.load(open(f))]
    for i, d in enumerate(docs):
        n += 1
        for e in v.iter_errors(d):
            print(f"ERROR {f}:{i + 1}: {list(e.absolute_path)}: {e.message[:300]}")
print(f"VALIDATED {n}")
"#;
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(root().join("reports"))
        .arg(schema)
        .arg(if lines { "lines" } else { "docs" })
        .args(files)
        .output()
        .expect("python3");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "validator failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let n = text
        .lines()
        .find_map(|l| l.strip_prefix("VALIDATED "))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let errors = text
        .lines()
        .filter(|l| l.starts_with("ERROR "))
        .map(String::from)
        .collect();
    Some((n, errors))
}

/// A child process killed (and reaped) when dropped.
pub struct Killed(pub std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Poll `ok` every 50 ms for up to 10 s; panics naming `what` after that.
pub fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::time::Instant::now() < until {
        if ok() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}");
}

/// Whether something in network namespace `ns` listens on TCP `port`.
pub fn ns_listening(ns: &str, port: u16) -> bool {
    std::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            ns,
            "ss",
            "-Htln",
            &format!("sport = :{port}"),
        ])
        .output()
        .is_ok_and(|o| !o.stdout.is_empty())
}

/// `openssl s_server` in network namespace `ns` on `ip:port` with the
/// fixture certificate `cert` (`fixtures/pki/CERT.crt` and `.key`, sent
/// with the fixture intermediate), once it listens; killed when dropped.
pub fn fixture_tls_server(ns: &str, ip: &str, port: u16, cert: &str, extra: &[&str]) -> Killed {
    use std::process::Stdio;
    let pki = root().join("fixtures/pki");
    let child = std::process::Command::new("ip")
        .args([
            "netns", "exec", ns, "openssl", "s_server", "-quiet", "-accept",
        ])
        .arg(format!("{ip}:{port}"))
        .arg("-cert")
        .arg(pki.join(format!("{cert}.crt")))
        .arg("-key")
        .arg(pki.join(format!("{cert}.key")))
        .arg("-cert_chain")
        .arg(pki.join("intermediate-ca.crt"))
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl s_server");
    let k = Killed(child);
    wait_until("s_server listening", || ns_listening(ns, port));
    k
}

/// Whether the tests run as root (network namespaces, raw sockets).
pub fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}
