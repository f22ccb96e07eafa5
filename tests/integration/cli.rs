//! The `tls-audit analyze` command as users and scripts meet it: exit
//! codes, one-line errors, damaged input, stdin, several files.

use std::io::{Read, Write};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::support::{pcap_with_hellos, temp_dir};

fn tls_audit() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tls-audit"))
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = tls_audit().args(args).output().expect("run tls-audit");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn not_a_capture_is_exit_3_with_one_line() {
    let d = temp_dir("cli-not-a-capture");
    let f = d.join("notes.txt");
    std::fs::write(&f, "this is not a capture\n").unwrap();
    let (code, stdout, stderr) = run(&["analyze", f.to_str().unwrap()]);
    assert_eq!(code, 3);
    assert!(stdout.is_empty());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("not a pcap or pcapng capture"), "{stderr}");
}

fn empty_and_missing_files_are_exit_3() {
    let d = temp_dir("cli-empty");
    let f = d.join("empty.pcap");
    std::fs::write(&f, b"").unwrap();
    let (code, _, stderr) = run(&["analyze", f.to_str().unwrap()]);
    assert_eq!(code, 3);
    assert!(stderr.contains("empty input"), "{stderr}");
    let (code, _, stderr) = run(&["analyze", d.join("absent.pcap").to_str().unwrap()]);
    assert_eq!(code, 3);
    assert!(stderr.contains("No such file"), "{stderr}");
}

fn usage_errors_are_exit_2() {
    let (code, _, stderr) = run(&["analyze"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("Usage"), "{stderr}");
    let (code, _, _) = run(&["analyze", "x.pcap", "-o", "xml"]);
    assert_eq!(code, 2);
}

fn truncated_capture_gives_a_partial_report_and_exit_4() {
    let d = temp_dir("cli-truncated");
    let mut bytes = pcap_with_hellos(&[40001, 40002], 1_700_000_000_000_000, "api.pay.svc");
    bytes.truncate(bytes.len() - 20);
    let f = d.join("cut.pcap");
    std::fs::write(&f, &bytes).unwrap();
    let out = d.join("report.json");
    let (code, _, stderr) = run(&[
        "analyze",
        f.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 4, "{stderr}");
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(r["inputs"][0]["complete"], false);
    assert_eq!(r["warnings"][0]["kind"], "damaged-capture");
    // The first connection is whole and was analysed.
    assert_eq!(r["flows"][0]["tls"]["sni"], "api.pay.svc");
    assert!(stderr.contains("truncated"), "{stderr}");
}

fn corrupt_record_length_is_bounded_and_partial() {
    let d = temp_dir("cli-corrupt");
    let mut bytes = pcap_with_hellos(&[40001], 1_700_000_000_000_000, "a.example");
    // A record header claiming a 4 GiB packet.
    bytes.extend_from_slice(&[
        0, 0, 0, 0, 0, 0, 0, 0, 0xf0, 0xff, 0xff, 0xff, 0xf0, 0xff, 0xff, 0xff,
    ]);
    bytes.extend_from_slice(&[0x55; 4096]);
    let f = d.join("corrupt.pcap");
    std::fs::write(&f, &bytes).unwrap();
    let (code, stdout, _) = run(&["analyze", f.to_str().unwrap(), "-o", "json"]);
    assert_eq!(code, 4);
    let r: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(r["stats"]["packets"], 3);
    assert_eq!(r["warnings"][0]["kind"], "damaged-capture");
}

fn stdin_stream_equals_the_file() {
    let d = temp_dir("cli-stdin");
    let bytes = pcap_with_hellos(&[40001, 40002, 40003], 1_700_000_000_000_000, "s.example");
    let f = d.join("three.pcap");
    std::fs::write(&f, &bytes).unwrap();
    let (_, from_file, _) = run(&["analyze", f.to_str().unwrap(), "-o", "json"]);
    let mut child = tls_audit()
        .args(["analyze", "-", "-o", "json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // Dribble the stream, as a pipe from tcpdump would.
    for chunk in bytes.chunks(7) {
        stdin.write_all(chunk).unwrap();
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let a: Value = serde_json::from_str(&from_file).unwrap();
    let b: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(a["flows"], b["flows"]);
    assert_eq!(b["inputs"][0]["name"], "<stdin>");
    assert_eq!(b["stats"]["tls_flows"], 3);
}

fn several_files_merge_in_time_order() {
    let d = temp_dir("cli-merge");
    // Interleaved in time: file a holds the 1st and 3rd connection, b the 2nd.
    let a = pcap_with_hellos(&[41001], 1_700_000_000_000_000, "one.example");
    let c = pcap_with_hellos(&[41003], 1_700_000_000_200_000, "three.example");
    let b = pcap_with_hellos(&[41002], 1_700_000_000_100_000, "two.example");
    let (fa, fb, fc) = (d.join("a.pcap"), d.join("b.pcap"), d.join("c.pcap"));
    std::fs::write(&fa, a).unwrap();
    std::fs::write(&fb, b).unwrap();
    std::fs::write(&fc, c).unwrap();
    let (code, stdout, _) = run(&[
        "analyze",
        fc.to_str().unwrap(),
        fa.to_str().unwrap(),
        fb.to_str().unwrap(),
        "-o",
        "json",
    ]);
    assert_eq!(code, 0);
    let r: Value = serde_json::from_str(&stdout).unwrap();
    let snis: Vec<&str> = r["flows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["tls"]["sni"].as_str().unwrap())
        .collect();
    assert_eq!(snis, ["one.example", "two.example", "three.example"]);
    assert_eq!(r["inputs"].as_array().unwrap().len(), 3);
}

fn table_is_one_line_per_flow() {
    let d = temp_dir("cli-table");
    let f = d.join("two.pcap");
    std::fs::write(
        &f,
        pcap_with_hellos(&[42001, 42002], 1_700_000_000_000_000, "t.example"),
    )
    .unwrap();
    let (code, stdout, _) = run(&["analyze", f.to_str().unwrap(), "-o", "table"]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("CLIENT"), "{stdout}");
    assert!(lines[1].contains("10.1.0.1:42001") && lines[1].contains("t.example"));
    assert!(lines[2].contains("10.1.0.1:42002"));
    assert!(stdout.contains("2 flows (2 TLS, 0 mutual TLS)"), "{stdout}");
}

fn closed_pipe_is_not_an_error() {
    let d = temp_dir("cli-pipe");
    let ports: Vec<u16> = (43000..43400).collect();
    let f = d.join("many.pcap");
    std::fs::write(
        &f,
        pcap_with_hellos(&ports, 1_700_000_000_000_000, "p.example"),
    )
    .unwrap();
    let mut child = tls_audit()
        .args(["analyze", f.to_str().unwrap(), "-o", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut head = [0u8; 16];
    child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut head)
        .unwrap();
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(0),
        "a reader that stops early is not a failure"
    );
}

fn flow_table_cap_evicts_and_says_so() {
    let d = temp_dir("cli-evict");
    let ports: Vec<u16> = (44000..44100).collect();
    let f = d.join("hundred.pcap");
    std::fs::write(
        &f,
        pcap_with_hellos(&ports, 1_700_000_000_000_000, "e.example"),
    )
    .unwrap();
    let (code, stdout, stderr) = run(&[
        "analyze",
        f.to_str().unwrap(),
        "-o",
        "json",
        "--max-flows",
        "10",
    ]);
    assert_eq!(code, 0);
    let r: Value = serde_json::from_str(&stdout).unwrap();
    // Nothing is lost: evicted flows are reported, marked as such.
    assert_eq!(r["stats"]["flows"], 100);
    assert!(r["stats"]["evicted_flows"].as_u64().unwrap() >= 90);
    let evicted = r["flows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["ended_by"] == "evicted")
        .count();
    assert_eq!(
        evicted as u64,
        r["stats"]["evicted_flows"].as_u64().unwrap()
    );
    assert!(stderr.contains("evicted"), "{stderr}");
}

fn fixture(name: &str) -> String {
    crate::support::root()
        .join("fixtures")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// `--fail-on` is the CI gate: exit 1 when an unwaived finding reaches it.
fn fail_on_gates_the_exit_code() {
    let pcap = fixture("captures/nginx-http-plaintext-80.pcap");
    let (code, stdout, _) = run(&["analyze", &pcap, "--fail-on", "high", "-o", "json"]);
    assert_eq!(code, 1);
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["verification"]["gate"], "fail");
    assert_eq!(report["findings"][0]["rule"], "TA-PLAINTEXT");
    let (code, stdout, _) = run(&["analyze", &pcap, "--fail-on", "critical", "-o", "json"]);
    assert_eq!(code, 0);
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["verification"]["gate"], "pass");
    // Without --fail-on findings never change the exit code.
    let (code, _, _) = run(&["analyze", &pcap, "-o", "json"]);
    assert_eq!(code, 0);
    let (code, _, stderr) = run(&["analyze", &pcap, "--fail-on", "severe"]);
    assert_eq!(code, 2, "{stderr}");
}

fn a_waiver_passes_the_gate_until_it_expires() {
    let d = temp_dir("cli-waiver");
    let policy = d.join("policy.yaml");
    std::fs::write(
        &policy,
        "version: 1\nwaivers:\n  - rule: TA-PLAINTEXT\n    match: {ports: [80]}\n    reason: health endpoint\n    expires: 2027-06-30\n",
    )
    .unwrap();
    let pcap = fixture("captures/nginx-http-plaintext-80.pcap");
    let p = policy.to_str().unwrap();
    let args = |now: &'static str| {
        vec![
            "analyze",
            &pcap,
            "--policy",
            p,
            "--fail-on",
            "low",
            "-o",
            "json",
            "--now",
            now,
        ]
    };
    let (code, stdout, _) = run(&args("2027-06-30T23:00:00Z"));
    assert_eq!(code, 0);
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["findings"][0]["waived"]["reason"], "health endpoint");
    assert_eq!(report["verification"]["waived"], 1);
    let (code, stdout, stderr) = run(&args("2027-07-01T00:00:00Z"));
    assert_eq!(code, 1);
    assert!(
        stderr.contains("waiver 0 (TA-PLAINTEXT) expired on 2027-06-30"),
        "{stderr}"
    );
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["verification"]["waivers"][0]["status"], "expired");
}

/// A policy, snapshot or trust bundle that cannot be used stops the run
/// before any capture is read: exit 6, one line naming the file and place.
fn bad_configuration_is_exit_6() {
    let d = temp_dir("cli-config");
    let policy = d.join("policy.yaml");
    std::fs::write(&policy, "version: 1\ntls:\n  min_verison: TLS1.3\n").unwrap();
    let pcap = fixture("captures/nginx-http-plaintext-80.pcap");
    let (code, stdout, stderr) = run(&["analyze", &pcap, "--policy", policy.to_str().unwrap()]);
    assert_eq!(code, 6);
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("min_verison") && stderr.contains("line 3"),
        "{stderr}"
    );
    let (code, _, stderr) = run(&[
        "analyze",
        &pcap,
        "--pods",
        d.join("absent.json").to_str().unwrap(),
    ]);
    assert_eq!(code, 6);
    assert!(stderr.contains("absent.json"), "{stderr}");
    let bundle = d.join("bundle.pem");
    std::fs::write(&bundle, "not a certificate\n").unwrap();
    let (code, _, stderr) = run(&["analyze", &pcap, "--trust-bundle", bundle.to_str().unwrap()]);
    assert_eq!(code, 6, "{stderr}");
    let (code, _, stderr) = run(&["policy", "--check", policy.to_str().unwrap()]);
    assert_eq!(code, 6);
    assert!(stderr.contains("min_verison"), "{stderr}");
    let cfg = d.join("cluster.json");
    std::fs::write(&cfg, r#"{"cni": "calico", "calico": {"wireguard": true}}"#).unwrap();
    let (code, _, stderr) = run(&["analyze", &pcap, "--cluster-config", cfg.to_str().unwrap()]);
    assert_eq!(code, 6);
    assert!(stderr.contains("wireguard"), "{stderr}");
    let (code, _, _) = run(&[
        "analyze",
        &pcap,
        "--nitro-table",
        d.join("absent.json").to_str().unwrap(),
    ]);
    assert_eq!(code, 6);
}

fn the_printed_default_policy_is_valid_and_complete() {
    let (code, stdout, _) = run(&["policy", "--default"]);
    assert_eq!(code, 0);
    assert_eq!(stdout, tls_audit::verify::DEFAULT_POLICY);
    let d = temp_dir("cli-default-policy");
    let p = d.join("default.yaml");
    std::fs::write(&p, &stdout).unwrap();
    let (code, stdout, _) = run(&["policy", "--check", p.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}");
    let (code, stdout, _) = run(&["rules"]);
    assert_eq!(code, 0);
    for rule in tls_audit::verify::rules::ALL {
        assert!(stdout.contains(rule.id), "{}", rule.id);
    }
}

fn table_shows_findings_with_pods_and_the_gate() {
    let (code, stdout, _) = run(&[
        "analyze",
        &fixture("captures/openssl-tls12-server-only.pcap"),
        "--pods",
        &fixture("cluster/pods.json"),
        "-o",
        "table",
        "--fail-on",
        "high",
    ]);
    assert_eq!(code, 1);
    assert!(stdout.contains("FINDINGS"), "{stdout}");
    assert!(
        stdout.contains("HIGH      TA-NO-MTLS              no client certificate (observed): web/frontend-5c6b7d8f9-q7r2m"),
        "{stdout}"
    );
    assert!(stdout.contains("gate --fail-on high: FAIL"), "{stdout}");
}

/// A saved report renders again without the captures; its JSON comes back
/// the same, except that its metadata now names the saved report and its
/// SHA-256 (`rendered_from`).
fn a_saved_report_renders_again() {
    let d = temp_dir("cli-rerender");
    let saved = d.join("saved.json");
    let (code, _, _) = run(&[
        "analyze",
        &fixture("captures/openssl-tls12-server-only.pcap"),
        "--pods",
        &fixture("cluster/pods.json"),
        "-o",
        "json",
        "--out-file",
        saved.to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    let (code, stdout, _) = run(&["report", saved.to_str().unwrap(), "-o", "json"]);
    assert_eq!(code, 0);
    let bytes = std::fs::read(&saved).unwrap();
    let mut again: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let from = again["metadata"]["rendered_from"].take();
    assert_eq!(
        from,
        serde_json::json!({
            "name": saved.to_str().unwrap(),
            "sha256": tls_audit::report::metadata::sha256_hex(&bytes),
            "bytes": bytes.len(),
        })
    );
    let original: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert!(original["metadata"]["rendered_from"].is_null());
    assert_eq!(again, original);
    let (code, stdout, _) = run(&["report", saved.to_str().unwrap(), "-o", "table"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("TA-NO-MTLS"), "{stdout}");
    let junk = d.join("junk.json");
    std::fs::write(&junk, "{\"schema\": \"something-else\"}").unwrap();
    let (code, _, stderr) = run(&["report", junk.to_str().unwrap()]);
    assert_eq!(code, 3);
    assert!(stderr.contains("not a tls-audit JSON report"), "{stderr}");
    // Times are times: a finding whose flow time or last occurrence is not
    // an RFC 3339 time is refused, not rendered as text.
    for field in ["last_seen", "flow"] {
        let mut bad = original.clone();
        if field == "flow" {
            bad["findings"][0]["flow"]["first_seen"] = "yesterday".into();
        } else {
            bad["findings"][0]["last_seen"] = "yesterday".into();
        }
        let path = d.join(format!("bad-{field}.json"));
        std::fs::write(&path, serde_json::to_vec(&bad).unwrap()).unwrap();
        let (code, _, stderr) = run(&["report", path.to_str().unwrap()]);
        assert_eq!(code, 3, "{field}: {stderr}");
        assert!(stderr.contains("not an RFC 3339 time"), "{field}: {stderr}");
    }
}

/// Issue 16: `-o/--output` is the format flag, as in kubectl; `--out-file`
/// names the file. `analyze --output json` used to write a file named
/// `json`; old scripts (`-o json --output FILE`) still work, with a note;
/// ambiguous spellings are refused with the one-line fix.
fn output_is_the_format_flag_and_old_scripts_keep_working() {
    let d = temp_dir("cli-output-flag");
    let f = d.join("one.pcap");
    std::fs::write(
        &f,
        pcap_with_hellos(&[42001], 1_700_000_000_000_000, "t.example"),
    )
    .unwrap();
    let cap = f.to_str().unwrap();
    // --output json: the format, on standard output; no file named json.
    let out = tls_audit()
        .current_dir(&d)
        .args(["analyze", cap, "--output", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let r: Value = serde_json::from_slice(&out.stdout).expect("json on stdout");
    assert_eq!(r["stats"]["flows"], 1);
    assert!(!d.join("json").exists());
    // The old spelling: a path after --output is still the file, with a note.
    let old = d.join("old.json");
    let (code, stdout, stderr) = run(&[
        "analyze",
        cap,
        "-o",
        "json",
        "--output",
        old.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.is_empty());
    assert!(old.exists());
    assert!(
        stderr.contains("--output FILE is deprecated: write --out-file"),
        "{stderr}"
    );
    // The new one: no note.
    let new = d.join("new.json");
    let (code, _, stderr) = run(&[
        "analyze",
        cap,
        "-o",
        "json",
        "--out-file",
        new.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(new.exists() && !stderr.contains("deprecated"), "{stderr}");
    // Ambiguous: -o json --output table (a file named table, before).
    let (code, _, stderr) = run(&["analyze", cap, "-o", "json", "--output", "table"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("use --out-file table"), "{stderr}");
    // A bare word that is no format is not guessed to be a file.
    let (code, _, stderr) = run(&["analyze", cap, "--output", "report"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("not a format"), "{stderr}");
    // -o wide: the table with its address, JA4 and evidence columns.
    let (code, stdout, _) = run(&["analyze", cap, "-o", "wide"]);
    assert_eq!(code, 0);
    let head = stdout.lines().next().unwrap_or("");
    for col in ["CLIENT ADDRESS", "SERVER ADDRESS", "JA4", "EVIDENCE"] {
        assert!(head.contains(col), "{head}");
    }
    let (_, narrow, _) = run(&["analyze", cap, "-o", "table"]);
    assert!(
        !narrow.lines().next().unwrap_or("").contains("JA4"),
        "{narrow}"
    );
    assert!(
        narrow.contains("\n1 flow (1 TLS, 0 mutual TLS)"),
        "{narrow}"
    );
}

/// Issue 22: a gzip decompression bomb (a real capture, then zero-padded
/// records that compress about 1,000 to 1) is read only up to the cap: the
/// input is incomplete, the warning names the cap, exit 4; with the cap off
/// the same file is read to its end.
fn a_gzip_bomb_stops_at_the_decompression_cap() {
    let d = temp_dir("cli-gzip-bomb");
    let mut bytes = pcap_with_hellos(&[40001, 40002], 1_700_000_000_000_000, "api.pay.svc");
    // 48 MiB of zeros: three million empty 16-byte records.
    bytes.resize(bytes.len() + (48 << 20), 0);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&bytes).unwrap();
    let gz = gz.finish().unwrap();
    assert!(gz.len() < 128 << 10, "{} bytes compressed", gz.len());
    let f = d.join("bomb.pcap.gz");
    std::fs::write(&f, &gz).unwrap();
    let path = f.to_str().unwrap();
    let (code, stdout, stderr) = run(&["analyze", path, "-o", "json", "--gunzip-floor-mib", "1"]);
    assert_eq!(code, 4, "{stderr}");
    let r: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(r["inputs"][0]["complete"], false);
    assert_eq!(r["warnings"][0]["kind"], "damaged-capture");
    let message = r["warnings"][0]["message"].as_str().unwrap();
    assert!(message.contains("decompression cap"), "{message}");
    assert!(stderr.contains("--gunzip-max-ratio"), "{stderr}");
    // What came before the cap was analysed; most of the bomb was not read.
    assert_eq!(r["flows"][0]["tls"]["sni"], "api.pay.svc");
    let read = r["stats"]["packets"].as_u64().unwrap();
    assert!(read < 1_000_000, "{read} packets read");
    // The cap off: the whole file, complete.
    let (code, stdout, stderr) = run(&["analyze", path, "-o", "json", "--gunzip-max-ratio", "0"]);
    assert_eq!(code, 0, "{stderr}");
    let r: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(r["inputs"][0]["complete"], true);
    assert!(r["stats"]["packets"].as_u64().unwrap() > 3_000_000);
}

/// Issue 22 (display): JSON and SARIF wrote U+202E and U+009B raw, so
/// `cat report.json` on a terminal showed a reordered or hidden name. They
/// are `\uXXXX` escapes now; the JSON value is the same.
fn json_and_sarif_escape_bidi_and_c1_controls() {
    let d = temp_dir("cli-bidi-json");
    let sni = "evil\u{202e}moc.rab\u{9b}31m";
    // A file name with U+202E too, cut short: its damaged-capture warning
    // names it, in JSON's warnings and SARIF's notifications.
    let f = d.join("cut\u{202e}.pcap");
    let mut bytes = pcap_with_hellos(&[40001, 40002], 1_700_000_000_000_000, sni);
    bytes.truncate(bytes.len() - 20);
    std::fs::write(&f, bytes).unwrap();
    let path = f.to_str().unwrap();
    let (_, json, stderr) = run(&["analyze", path, "-o", "json"]);
    let r: Value = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    assert_eq!(r["flows"][0]["tls"]["sni"], sni, "the value is unchanged");
    assert!(json.contains(r"evil\u202emoc.rab\u009b31m"), "{json}");
    let (_, sarif, _) = run(&["analyze", path, "-o", "sarif"]);
    for (format, text) in [("json", &json), ("sarif", &sarif)] {
        assert!(
            !text.chars().any(|c| c == '\u{202e}' || c == '\u{9b}'),
            "{format} carries a raw control"
        );
    }
    assert!(sarif.contains(r"\u202e"), "{sarif}");
}

/// This module's tests, as the harness lists them (`main.rs`).
pub(crate) fn tests() -> Vec<crate::runner::Test> {
    use crate::runner::Test;
    vec![
        Test::new(
            module_path!(),
            "not_a_capture_is_exit_3_with_one_line",
            not_a_capture_is_exit_3_with_one_line,
        ),
        Test::new(
            module_path!(),
            "empty_and_missing_files_are_exit_3",
            empty_and_missing_files_are_exit_3,
        ),
        Test::new(
            module_path!(),
            "usage_errors_are_exit_2",
            usage_errors_are_exit_2,
        ),
        Test::new(
            module_path!(),
            "truncated_capture_gives_a_partial_report_and_exit_4",
            truncated_capture_gives_a_partial_report_and_exit_4,
        ),
        Test::new(
            module_path!(),
            "corrupt_record_length_is_bounded_and_partial",
            corrupt_record_length_is_bounded_and_partial,
        ),
        Test::new(
            module_path!(),
            "stdin_stream_equals_the_file",
            stdin_stream_equals_the_file,
        ),
        Test::new(
            module_path!(),
            "several_files_merge_in_time_order",
            several_files_merge_in_time_order,
        ),
        Test::new(
            module_path!(),
            "table_is_one_line_per_flow",
            table_is_one_line_per_flow,
        ),
        Test::new(
            module_path!(),
            "closed_pipe_is_not_an_error",
            closed_pipe_is_not_an_error,
        ),
        Test::new(
            module_path!(),
            "flow_table_cap_evicts_and_says_so",
            flow_table_cap_evicts_and_says_so,
        ),
        Test::new(
            module_path!(),
            "fail_on_gates_the_exit_code",
            fail_on_gates_the_exit_code,
        ),
        Test::new(
            module_path!(),
            "a_waiver_passes_the_gate_until_it_expires",
            a_waiver_passes_the_gate_until_it_expires,
        ),
        Test::new(
            module_path!(),
            "bad_configuration_is_exit_6",
            bad_configuration_is_exit_6,
        ),
        Test::new(
            module_path!(),
            "the_printed_default_policy_is_valid_and_complete",
            the_printed_default_policy_is_valid_and_complete,
        ),
        Test::new(
            module_path!(),
            "table_shows_findings_with_pods_and_the_gate",
            table_shows_findings_with_pods_and_the_gate,
        ),
        Test::new(
            module_path!(),
            "a_saved_report_renders_again",
            a_saved_report_renders_again,
        ),
        Test::new(
            module_path!(),
            "output_is_the_format_flag_and_old_scripts_keep_working",
            output_is_the_format_flag_and_old_scripts_keep_working,
        ),
        Test::new(
            module_path!(),
            "a_gzip_bomb_stops_at_the_decompression_cap",
            a_gzip_bomb_stops_at_the_decompression_cap,
        ),
        Test::new(
            module_path!(),
            "json_and_sarif_escape_bidi_and_c1_controls",
            json_and_sarif_escape_bidi_and_c1_controls,
        ),
    ]
}
