//! Plaintext under real WireGuard and real IPsec: two network namespaces as
//! nodes, HTTP between two "pod" addresses through the tunnel
//! (fixtures/gen/make-wireguard-captures.sh, make-ipsec-captures.sh). The
//! tunnel's inside alone is a plaintext finding; with the outside
//! (WireGuard, or ESP in UDP, between the two nodes) in the same analysis it
//! is covered, observed; configuration decides when the wire does not, and a
//! wire that contradicts it is reported.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::{self, temp_dir};

fn cluster(name: &str) -> String {
    support::root()
        .join("fixtures/cluster-underlay")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

fn analyze(captures: &[&Path], extra: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_tls-audit"))
        .arg("analyze")
        .args(captures)
        .args([
            "--pods",
            &cluster("pods.json"),
            "--nodes",
            &cluster("nodes.json"),
        ])
        .args(["-o", "json"])
        .args(extra)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// (rule, verdict, covered_by, confidence) of the one plaintext finding.
fn plaintext_verdict(r: &Value) -> Option<(String, String, Value, String)> {
    let f = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"].as_str().unwrap().starts_with("TA-PLAINTEXT"))?;
    let u = &f["evidence"]["underlay"];
    Some((
        f["rule"].as_str().unwrap().into(),
        u["verdict"].as_str().unwrap().into(),
        u["covered_by"].clone(),
        u["confidence"].as_str().unwrap().into(),
    ))
}

/// One tunnel's captures and what the report must say about them.
struct Tunnel {
    /// File name prefix: `{name}-inner.pcap`, `{name}-outer.pcap`.
    name: &'static str,
    /// The flows' protection on the outer link, and the plaintext finding's covered_by.
    protection: &'static str,
    /// `app_protocol` of the flow that carries the tunnelled data.
    data: &'static str,
    /// The `CoverageMatrix.wire` field set by that flow.
    wire: &'static str,
    /// The matrix's key for the two nodes, and their cell.
    pair: &'static str,
    cell: (usize, usize),
    /// A `--cluster-config` that says this tunnel is on.
    config: &'static str,
}

const WIREGUARD: Tunnel = Tunnel {
    name: "wireguard",
    protection: "wireguard",
    data: "wireguard",
    wire: "wireguard",
    pair: "node-a <> node-b",
    cell: (0, 1),
    config: "calico-wireguard.json",
};

/// strongSwan's userspace ESP (kernel-libipsec): ESP in UDP 4500, after IKE.
const IPSEC: Tunnel = Tunnel {
    name: "ipsec",
    protection: "ipsec",
    data: "esp",
    wire: "esp",
    pair: "node-c <> node-d",
    cell: (2, 3),
    config: "cilium-ipsec.json",
};

fn check_dir(dir: &Path, t: &Tunnel) {
    let inner = dir.join(format!("{}-inner.pcap", t.name));
    let outer = dir.join(format!("{}-outer.pcap", t.name));
    let v = |rule: &str, verdict: &str, by: Value, conf: &str| {
        Some((rule.to_string(), verdict.to_string(), by, conf.to_string()))
    };
    // The inside alone: plaintext, and nothing says what the CNI does.
    let r = analyze(&[&inner], &[]);
    assert_eq!(
        plaintext_verdict(&r),
        v("TA-PLAINTEXT", "unknown", Value::Null, "inferred")
    );
    // The outside alone: the tunnel between the nodes, no plaintext.
    let r = analyze(&[&outer], &[]);
    assert_eq!(plaintext_verdict(&r), None);
    let flows = r["flows"].as_array().unwrap();
    assert!(!flows.is_empty());
    for f in flows {
        assert_eq!(f["protection"], t.protection, "{f}");
    }
    assert!(
        flows.iter().any(|f| f["app_protocol"] == t.data),
        "no {} flow: {flows:?}",
        t.data
    );
    let m = &r["verification"]["coverage_matrix"];
    assert_eq!(m["wire"][t.pair][t.wire], true, "{m}");
    assert_eq!(m["cells"][t.cell.0][t.cell.1]["covered_by"], t.protection);
    // Both: covered, observed on the wire.
    let r = analyze(&[&inner, &outer], &[]);
    assert_eq!(
        plaintext_verdict(&r),
        v(
            "TA-PLAINTEXT-UNDERLAY",
            "covered",
            t.protection.into(),
            "observed"
        )
    );
    // Configuration alone decides without the wire...
    let r = analyze(
        &[&inner],
        &["--cluster-config", &cluster("aws-vpc-cni.json")],
    );
    assert_eq!(
        plaintext_verdict(&r),
        v("TA-PLAINTEXT", "not-covered", Value::Null, "inferred")
    );
    let r = analyze(&[&inner], &["--cluster-config", &cluster(t.config)]);
    assert_eq!(
        plaintext_verdict(&r),
        v(
            "TA-PLAINTEXT-UNDERLAY",
            "covered",
            t.protection.into(),
            "configured"
        )
    );
    // ...and the wire beats it, saying that they disagree.
    let r = analyze(
        &[&inner, &outer],
        &["--cluster-config", &cluster("aws-vpc-cni.json")],
    );
    let f = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "TA-PLAINTEXT-UNDERLAY")
        .expect("covered by what the wire shows");
    assert_eq!(f["evidence"]["underlay"]["covered_by"], t.protection);
    let disagreements = f["evidence"]["underlay"]["disagreements"]
        .as_array()
        .unwrap();
    assert!(!disagreements.is_empty(), "{f}");
}

/// A node agent's event stream alone (`capture -i any` on node-b, as the
/// DaemonSet runs it, sees the tunnel and its inside) proves the plaintext
/// flow covered by the tunnel, from the wire.
fn check_agent_events(events: &Path, t: &Tunnel) {
    let r = analyze(&[], &["--events", events.to_str().unwrap()]);
    assert_eq!(r["inputs"][0]["live"]["link_type"], "linux-sll2");
    assert_eq!(
        plaintext_verdict(&r),
        Some((
            "TA-PLAINTEXT-UNDERLAY".to_string(),
            "covered".to_string(),
            Value::from(t.protection),
            "observed".to_string()
        )),
        "{r}"
    );
}

/// tshark, an independent dissector, against the engine on the IPsec outer
/// capture: the packets tshark calls ESP (in UDP) make one flow that the
/// engine calls ESP, packet for packet; the ones it calls IKE (ISAKMP, on 500
/// and behind the non-ESP marker on 4500) make flows the engine calls IKE;
/// and the UDP 4500 conversation, IKE then ESP, is one ESP flow. Skipped with
/// a notice without tshark.
fn tshark_agrees_on_ipsec(outer: &Path, scratch: &str) {
    let tshark = |args: &[&str]| {
        Command::new("tshark")
            .args(["-n", "-r", outer.to_str().unwrap()])
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
    };
    if tshark(&["-c", "1"]).is_none() {
        eprintln!("NOTICE: tshark comparison of the IPsec capture skipped (no tshark)");
        return;
    }
    let count = |filter: &str| {
        let o = tshark(&["-Y", filter]).expect("tshark");
        String::from_utf8_lossy(&o.stdout).lines().count() as u64
    };
    let (esp, ike, nat_t) = (count("esp"), count("isakmp"), count("udp.port == 4500"));
    assert!(esp > 0 && ike > 0, "tshark: {esp} ESP, {ike} IKE packets");
    assert_eq!(
        count("udpencap"),
        nat_t,
        "every UDP 4500 packet is udpencap"
    );
    assert_eq!(esp + ike, count("frame"), "nothing but IKE and ESP");
    // One subset at a time, written by tshark, read by the engine.
    let dir = temp_dir(scratch);
    let subset = |filter: &str, name: &str| -> Vec<Value> {
        let path = dir.join(name);
        let o = tshark(&["-Y", filter, "-w", path.to_str().unwrap()]).expect("tshark -w");
        assert!(o.status.success());
        let r = analyze(&[&path], &[]);
        r["flows"].as_array().unwrap().clone()
    };
    let packets = |flows: &[Value]| {
        flows
            .iter()
            .map(|f| f["packets"].as_u64().unwrap())
            .sum::<u64>()
    };
    let only_esp = subset("esp", "esp.pcap");
    assert_eq!(only_esp.len(), 1, "{only_esp:?}");
    assert_eq!(only_esp[0]["app_protocol"], "esp");
    assert_eq!(only_esp[0]["transport"], "udp");
    assert_eq!(packets(&only_esp), esp);
    let only_ike = subset("isakmp", "ike.pcap");
    assert!(!only_ike.is_empty());
    for f in &only_ike {
        assert_eq!(f["app_protocol"], "ike", "{f}");
        assert_eq!(f["protection"], "ipsec", "{f}");
    }
    assert_eq!(packets(&only_ike), ike);
    // IKE without ESP covers nothing: the inside stays a plaintext finding.
    let inner = outer.with_file_name("ipsec-inner.pcap");
    let r = analyze(&[&inner, &dir.join("ike.pcap")], &[]);
    assert_eq!(
        plaintext_verdict(&r),
        Some((
            "TA-PLAINTEXT".to_string(),
            "unknown".to_string(),
            Value::Null,
            "inferred".to_string()
        ))
    );
    assert_eq!(
        r["verification"]["coverage_matrix"]["wire"][IPSEC.pair]["esp"],
        false
    );
    // ESP alone (no IKE in the capture) does.
    let r = analyze(&[&inner, &dir.join("esp.pcap")], &[]);
    assert_eq!(
        plaintext_verdict(&r).map(|v| (v.0, v.2)),
        Some(("TA-PLAINTEXT-UNDERLAY".to_string(), Value::from("ipsec")))
    );
    let all = analyze(&[outer], &[]);
    let all = all["flows"].as_array().unwrap();
    let on_4500: Vec<_> = all
        .iter()
        .filter(|f| f["server"]["port"] == 4500 || f["client"]["port"] == 4500)
        .collect();
    assert_eq!(on_4500.len(), 1, "{all:?}");
    assert_eq!(on_4500[0]["app_protocol"], "esp");
    assert_eq!(on_4500[0]["packets"], nat_t);
    eprintln!(
        "tshark and the engine agree on {}: {esp} ESP-in-UDP and {ike} IKE packets",
        outer.display()
    );
}

fn committed_wireguard_captures() {
    check_dir(
        &support::root().join("fixtures/captures-underlay"),
        &WIREGUARD,
    );
}

fn committed_ipsec_captures() {
    let dir = support::root().join("fixtures/captures-underlay");
    check_dir(&dir, &IPSEC);
    tshark_agrees_on_ipsec(&dir.join("ipsec-outer.pcap"), "ipsec-tshark-committed");
    check_agent_events(&dir.join("ipsec-node-b.events.ndjson"), &IPSEC);
}

/// boringtun-cli, on PATH or where `cargo install` put it.
fn boringtun() -> Option<PathBuf> {
    let on_path = Command::new("sh")
        .args(["-c", "command -v boringtun-cli"])
        .output()
        .is_ok_and(|o| o.status.success());
    if on_path {
        return Some(PathBuf::from("boringtun-cli"));
    }
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|h| h.join("bin/boringtun-cli"))
        .filter(|p| p.is_file())
}

/// The same, on captures made now (root, wg, boringtun-cli).
fn live_wireguard_between_namespaces() {
    let boringtun = boringtun().expect("boringtun-cli (listed as needed)");
    let out = temp_dir("live-wireguard");
    let status = Command::new("bash")
        .arg(support::root().join("fixtures/gen/make-wireguard-captures.sh"))
        .env("CAPTURE_OUT", &out)
        .env("BORINGTUN", &boringtun)
        .env("AGENT", env!("CARGO_BIN_EXE_tls-audit"))
        .status()
        .unwrap();
    assert!(status.success(), "make-wireguard-captures.sh failed");
    check_dir(&out, &WIREGUARD);
    check_agent_events(&out.join("wireguard-node-b.events.ndjson"), &WIREGUARD);
}

/// The same, on IPsec captures made now: strongSwan's charon in each
/// namespace, ESP in userspace (kernel-libipsec; this kernel has no ESP).
fn live_ipsec_between_namespaces() {
    let out = temp_dir("live-ipsec");
    let status = Command::new("bash")
        .arg(support::root().join("fixtures/gen/make-ipsec-captures.sh"))
        .env("CAPTURE_OUT", &out)
        .env("AGENT", env!("CARGO_BIN_EXE_tls-audit"))
        .status()
        .unwrap();
    assert!(status.success(), "make-ipsec-captures.sh failed");
    check_dir(&out, &IPSEC);
    tshark_agrees_on_ipsec(&out.join("ipsec-outer.pcap"), "ipsec-tshark-live");
    check_agent_events(&out.join("ipsec-node-b.events.ndjson"), &IPSEC);
}

/// This module's tests, as the harness lists them (`main.rs`).
pub(crate) fn tests() -> Vec<crate::runner::Test> {
    use crate::runner::{Need, Test};
    vec![
        Test::new(
            module_path!(),
            "committed_wireguard_captures",
            committed_wireguard_captures,
        ),
        Test::new(
            module_path!(),
            "committed_ipsec_captures",
            committed_ipsec_captures,
        ),
        Test::new(
            module_path!(),
            "live_wireguard_between_namespaces",
            live_wireguard_between_namespaces,
        )
        .needs(&[
            Need::Root,
            Need::Tool("wg"),
            Need::Tool("tcpdump"),
            Need::Check("boringtun-cli", || boringtun().is_some()),
        ]),
        Test::new(
            module_path!(),
            "live_ipsec_between_namespaces",
            live_ipsec_between_namespaces,
        )
        .needs(&[
            Need::Root,
            Need::Tool("swanctl"),
            Need::Tool("tcpdump"),
            Need::Tool("/dev/net/tun"),
            Need::Tool("/usr/lib/ipsec/charon"),
            Need::Tool("/usr/lib/ipsec/plugins/libstrongswan-kernel-libipsec.so"),
            Need::Tool("/usr/lib/ipsec/plugins/libstrongswan-gcm.so"),
            Need::Tool("/usr/lib/ipsec/plugins/libstrongswan-openssl.so"),
        ]),
    ]
}
