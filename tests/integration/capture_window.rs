//! The audit trail's capture windows (issue 17 item 3): each input's first
//! and last packet, for one input, several, standard input and saved event
//! streams. The oracle is capinfos, recorded in each fixture's
//! `*.expected.json` when the fixture was made (`fixtures/gen`), and the
//! agent's own summary in the event fixtures.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::support::{root, temp_dir};

fn tls_audit() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tls-audit"))
}

/// capinfos' window for a fixture, as the report spells times
/// (`2026-11-27 11:05:00.613531` → `2026-11-27T11:05:00.613531Z`).
fn capinfos_window(name: &str) -> (String, String) {
    let p = root().join(format!("fixtures/captures/{name}.expected.json"));
    let v: Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
    let t = |k: &str| {
        let s = v["oracle"]["capinfos"][k].as_str().expect("capinfos time");
        format!("{}Z", s.replacen(' ', "T", 1))
    };
    (t("first_packet"), t("last_packet"))
}

fn analyze(args: &[&str], stdin: Option<&[u8]>) -> Value {
    let mut cmd = tls_audit();
    cmd.arg("analyze").args(args).args(["-o", "json"]);
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run tls-audit");
    if let Some(bytes) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(bytes)
            .expect("write stdin");
    }
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.code().is_some_and(|c| c <= 1 || c == 4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON report")
}

fn fixture(name: &str) -> String {
    root()
        .join(format!("fixtures/captures/{name}.pcap"))
        .to_string_lossy()
        .into_owned()
}

/// The window of input `i`, in `inputs[]` and in the audit trail.
fn window(r: &Value, i: usize) -> (String, String) {
    let input = &r["inputs"][i];
    let trail = &r["metadata"]["capture_windows"][i];
    assert_eq!(trail["input"], input["name"]);
    assert_eq!(trail["first_packet"], input["first_packet"]);
    assert_eq!(trail["last_packet"], input["last_packet"]);
    (
        input["first_packet"].as_str().expect("first").to_string(),
        input["last_packet"].as_str().expect("last").to_string(),
    )
}

fn one_input_spans_its_first_to_its_last_packet() {
    // Issue 17: with one input, first_packet == last_packet == the first
    // packet's time.
    let name = "gnutls-tls12-mutual";
    let expected = capinfos_window(name);
    assert_ne!(expected.0, expected.1, "the fixture spans some time");
    let r = analyze(&[&fixture(name)], None);
    assert_eq!(window(&r, 0), expected);
}

fn several_inputs_each_keep_their_own_window() {
    let names = ["gnutls-tls12-mutual", "nginx-http-plaintext-80"];
    let paths: Vec<String> = names.iter().map(|n| fixture(n)).collect();
    let args: Vec<&str> = paths.iter().map(String::as_str).collect();
    let r = analyze(&args, None);
    for (i, n) in names.iter().enumerate() {
        assert_eq!(window(&r, i), capinfos_window(n), "{n}");
    }
}

fn standard_input_has_the_same_window_as_the_file() {
    let name = "nginx-curl-tls12-mutual";
    let bytes = std::fs::read(fixture(name)).unwrap();
    let r = analyze(&["-"], Some(&bytes));
    assert_eq!(r["inputs"][0]["name"], "<stdin>");
    assert_eq!(window(&r, 0), capinfos_window(name));
}

fn event_streams_keep_the_agents_window_or_count_it_from_their_flows() {
    let events = root().join("fixtures/events/openssl-tls12-mutual.events.ndjson");
    let text = std::fs::read_to_string(&events).unwrap();
    // The agent's summary says when it saw its first and last packet.
    let summary: Value = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|e| e["event"] == "summary")
        .expect("a summary event");
    let agent = &summary["report"]["inputs"][0];
    let r = analyze(&["--events", events.to_str().unwrap()], None);
    assert_eq!(
        window(&r, 0),
        (
            agent["first_packet"].as_str().unwrap().to_string(),
            agent["last_packet"].as_str().unwrap().to_string()
        )
    );

    // A stream cut before its summary: the window is its flows' span.
    let d = temp_dir("capture-window-cut-stream");
    let cut = d.join("cut.ndjson");
    let kept: Vec<&str> = text
        .lines()
        .take_while(|l| !l.contains("\"event\":\"summary\""))
        .collect();
    std::fs::write(&cut, kept.join("\n") + "\n").unwrap();
    let flows: Vec<Value> = kept
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["event"] == "flow")
        .map(|e| e["flow"].clone())
        .collect();
    assert!(!flows.is_empty());
    let first = flows
        .iter()
        .filter_map(|f| f["first_seen"].as_str())
        .min()
        .unwrap();
    let last = flows
        .iter()
        .filter_map(|f| f["last_seen"].as_str())
        .max()
        .unwrap();
    assert!(first < last);
    let r = analyze(&["--events", cut.to_str().unwrap()], None);
    let got = window(&r, 0);
    assert_eq!(got, (first.to_string(), last.to_string()));
    assert!(Path::new(&cut).is_file());
}

/// This module's tests, as the harness lists them (`main.rs`).
pub(crate) fn tests() -> Vec<crate::runner::Test> {
    use crate::runner::Test;
    vec![
        Test::new(
            module_path!(),
            "one_input_spans_its_first_to_its_last_packet",
            one_input_spans_its_first_to_its_last_packet,
        ),
        Test::new(
            module_path!(),
            "several_inputs_each_keep_their_own_window",
            several_inputs_each_keep_their_own_window,
        ),
        Test::new(
            module_path!(),
            "standard_input_has_the_same_window_as_the_file",
            standard_input_has_the_same_window_as_the_file,
        ),
        Test::new(
            module_path!(),
            "event_streams_keep_the_agents_window_or_count_it_from_their_flows",
            event_streams_keep_the_agents_window_or_count_it_from_their_flows,
        ),
    ]
}
