//! Live: the test makes its own network namespaces, runs the real TLS
//! stacks (OpenSSL, GnuTLS, nginx + curl, rustls) across them with tcpdump
//! listening (fixtures/gen/make-captures.sh, into a temporary directory),
//! and checks the engine and the verifier on what was just captured, as
//! for the committed fixtures. Needs root, the tools scripts/install-deps.sh
//! installs, and the corpus oracle in ../shared (listed in `tests()`:
//! ignored where one is missing, failed in CI).

use std::process::Command;

use crate::fixtures::check_capture_dir;
use crate::support::{self, temp_dir};

fn live_captures_of_real_stacks() {
    let shared = support::needed_shared();
    // `cargo test` builds the examples (as plain binaries) next to the tests.
    let examples = std::path::PathBuf::from(env!("CARGO_BIN_EXE_tls-audit"))
        .parent()
        .unwrap()
        .join("examples");
    let rustls_peer = examples.join("rustls_peer");
    assert!(
        rustls_peer.is_file(),
        "{} missing: run the suite with `cargo test` (it builds the examples)",
        rustls_peer.display()
    );
    let out = temp_dir("live-captures");
    let status = Command::new("bash")
        .arg(support::root().join("fixtures/gen/make-captures.sh"))
        .env("CAPTURE_OUT", &out)
        .env("RUSTLS_PEER", &rustls_peer)
        .env("AGENT", env!("CARGO_BIN_EXE_tls-audit"))
        .env("TSHARK_FACTS", shared.join("corpus/tshark_facts.py"))
        .status()
        .expect("run make-captures.sh");
    assert!(status.success(), "make-captures.sh failed");
    let n = check_capture_dir(&out);
    // The same findings as the committed captures.
    crate::findings::assert_matches_snapshot(&crate::findings::digest_dir(&out), true);
    // Their key logs open every TLS 1.3 handshake as configured and as tshark reads them.
    let keyed = crate::keylog::check_keyed_dir(&out);
    assert!(keyed >= 11, "{keyed}");
    println!(
        "live: {} scenarios, {} TLS sessions, {} TLS 1.3 inferences, all as configured",
        n.scenarios, n.sessions, n.inferred
    );
    assert!(n.scenarios >= 20 && n.inferred >= 7);
    // The live agent ran beside tcpdump in every scenario.
    let agreed = agent_agrees_with_tcpdump(&out);
    assert_eq!(agreed, n.scenarios, "an agent event stream per scenario");
    // Every line the agent wrote follows the published event schema.
    let streams: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".events.ndjson"))
        .collect();
    if let Some((lines, errors)) =
        support::validate_with_schema("event-v1.schema.json", &streams, true)
    {
        assert!(errors.is_empty(), "{errors:#?}");
        assert!(lines >= 4 * streams.len(), "{lines} lines");
        println!(
            "live: {lines} event lines in {} streams follow reports/event-v1.schema.json",
            streams.len()
        );
    }
}

/// For each scenario, the report rebuilt from the agent's events
/// (`analyze --events`) against the report of tcpdump's capture of the same
/// packets: the same flows, findings and counters. Only timestamps may
/// differ, by microseconds: each packet socket stamps its own copy.
fn agent_agrees_with_tcpdump(dir: &std::path::Path) -> usize {
    use serde_json::Value;
    let analyze = |input: &[&str]| -> Value {
        let out = Command::new(env!("CARGO_BIN_EXE_tls-audit"))
            .arg("analyze")
            .args(input)
            .args(["-o", "json", "--now", "2026-11-27T12:00:00Z", "--pods"])
            .arg(support::root().join("fixtures/cluster/pods.json"))
            .output()
            .expect("tls-audit analyze");
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{input:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("report JSON")
    };
    // Timestamps that differ by under a millisecond count as equal.
    fn close_times(a: &mut Value, b: &mut Value) {
        let t = |v: &Value| {
            time::OffsetDateTime::parse(v.as_str()?, &time::format_description::well_known::Rfc3339)
                .ok()
                .map(|t| t.unix_timestamp_nanos())
        };
        match (a, b) {
            (Value::Object(m), Value::Object(o)) => {
                for (k, x) in m.iter_mut() {
                    if let Some(y) = o.get_mut(k) {
                        close_times(x, y);
                    }
                }
            }
            (Value::Array(x), Value::Array(y)) => {
                for (x, y) in x.iter_mut().zip(y) {
                    close_times(x, y);
                }
            }
            (x @ Value::String(_), y @ Value::String(_)) if x != y => {
                if let (Some(p), Some(q)) = (t(x), t(y))
                    && (p - q).abs() < 1_000_000
                {
                    *x = y.clone();
                }
            }
            _ => {}
        }
    }
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let Some(scenario) = name.strip_suffix(".events.ndjson") else {
            continue;
        };
        let pcap = dir.join(format!("{scenario}.pcap"));
        let mut from_events = analyze(&["--events", path.to_str().unwrap()]);
        let mut from_pcap = analyze(&[pcap.to_str().unwrap()]);
        assert_eq!(from_events["inputs"][0]["format"], "live", "{scenario}");
        assert_eq!(from_events["inputs"][0]["live"]["dropped"], 0, "{scenario}");
        // The SLL2 scenario captures on `any`: the agent asks libpcap for SLL2.
        let link = if scenario.contains("sll2") {
            "linux-sll2"
        } else {
            "ethernet"
        };
        assert_eq!(
            from_events["inputs"][0]["live"]["link_type"], link,
            "{scenario}"
        );
        close_times(&mut from_events, &mut from_pcap);
        for key in ["flows", "findings", "stats"] {
            assert_eq!(
                from_events[key], from_pcap[key],
                "{scenario}: {key} from the agent's events differ from tcpdump's capture"
            );
        }
        assert!(
            !from_pcap["flows"].as_array().unwrap().is_empty(),
            "{scenario}"
        );
        n += 1;
    }
    println!(
        "live: the agent's events give the same flows, findings and counters as tcpdump in {n} scenarios"
    );
    n
}

/// This module's tests, as the harness lists them (`main.rs`).
pub(crate) fn tests() -> Vec<crate::runner::Test> {
    use crate::runner::{Need, Test};
    vec![
        Test::new(
            module_path!(),
            "live_captures_of_real_stacks",
            live_captures_of_real_stacks,
        )
        .needs(&[
            Need::Root,
            Need::Shared("corpus/MANIFEST.json"),
            Need::Tool("ip"),
            Need::Tool("tcpdump"),
            Need::Tool("tshark"),
            Need::Tool("openssl"),
            Need::Tool("gnutls-serv"),
            Need::Tool("nginx"),
            Need::Tool("curl"),
        ]),
    ]
}
