//! Plaintext under real WireGuard: two network namespaces as nodes, HTTP
//! between two "pod" addresses through a WireGuard tunnel
//! (fixtures/gen/make-wireguard-captures.sh). The tunnel's inside alone is a
//! plaintext finding; with the outside (WireGuard between the two nodes) in
//! the same analysis it is covered, observed; configuration decides when
//! the wire does not, and a wire that contradicts it is reported.

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

fn check_dir(dir: &Path) {
    let inner = dir.join("wireguard-inner.pcap");
    let outer = dir.join("wireguard-outer.pcap");
    let v = |rule: &str, verdict: &str, by: Value, conf: &str| {
        Some((rule.to_string(), verdict.to_string(), by, conf.to_string()))
    };
    // The inside alone: plaintext, and nothing says what the CNI does.
    let r = analyze(&[&inner], &[]);
    assert_eq!(
        plaintext_verdict(&r),
        v("TA-PLAINTEXT", "unknown", Value::Null, "inferred")
    );
    // The outside alone: WireGuard between the nodes, no plaintext.
    let r = analyze(&[&outer], &[]);
    assert_eq!(plaintext_verdict(&r), None);
    assert_eq!(r["flows"][0]["protection"], "wireguard");
    let m = &r["verification"]["coverage_matrix"];
    assert_eq!(m["wire"]["node-a <> node-b"]["wireguard"], true);
    assert_eq!(m["cells"][0][1]["covered_by"], "wireguard");
    // Both: covered, observed on the wire.
    let r = analyze(&[&inner, &outer], &[]);
    assert_eq!(
        plaintext_verdict(&r),
        v(
            "TA-PLAINTEXT-UNDERLAY",
            "covered",
            "wireguard".into(),
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
    let r = analyze(
        &[&inner],
        &["--cluster-config", &cluster("calico-wireguard.json")],
    );
    assert_eq!(
        plaintext_verdict(&r),
        v(
            "TA-PLAINTEXT-UNDERLAY",
            "covered",
            "wireguard".into(),
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
    let disagreements = f["evidence"]["underlay"]["disagreements"]
        .as_array()
        .unwrap();
    assert!(!disagreements.is_empty(), "{f}");
}

#[test]
fn committed_wireguard_captures() {
    check_dir(&support::root().join("fixtures/captures-underlay"));
}

/// The same, on captures made now (root, wg, boringtun-cli).
#[test]
fn live_wireguard_between_namespaces() {
    let have = |t: &str| {
        Command::new("sh")
            .args(["-c", &format!("command -v {t}")])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let cargo_bin = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|h| h.join("bin/boringtun-cli"));
    let boringtun = if have("boringtun-cli") {
        Some(PathBuf::from("boringtun-cli"))
    } else {
        cargo_bin.filter(|p| p.is_file())
    };
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let (Some(boringtun), true, true, true) = (boringtun, root, have("wg"), have("tcpdump")) else {
        eprintln!(
            "NOTICE: live WireGuard test skipped (needs root, wg, tcpdump and boringtun-cli)"
        );
        return;
    };
    let out = temp_dir("live-wireguard");
    let status = Command::new("bash")
        .arg(support::root().join("fixtures/gen/make-wireguard-captures.sh"))
        .env("CAPTURE_OUT", &out)
        .env("BORINGTUN", &boringtun)
        .env("AGENT", env!("CARGO_BIN_EXE_tls-audit"))
        .status()
        .unwrap();
    assert!(status.success(), "make-wireguard-captures.sh failed");
    check_dir(&out);
    // A node agent on node-b (`capture -i any`, as the DaemonSet runs it)
    // sees the tunnel and its inside: its event stream alone proves the
    // plaintext flow covered by WireGuard, from the wire.
    let events = out.join("wireguard-node-b.events.ndjson");
    let r = analyze(&[], &["--events", events.to_str().unwrap()]);
    assert_eq!(r["inputs"][0]["live"]["link_type"], "linux-sll2");
    assert_eq!(
        plaintext_verdict(&r),
        Some((
            "TA-PLAINTEXT-UNDERLAY".to_string(),
            "covered".to_string(),
            Value::from("wireguard"),
            "observed".to_string()
        )),
        "{r}"
    );
}
