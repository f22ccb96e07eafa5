//! `analyze --threads N` (issue 21): the report is the same, byte for
//! byte, whatever the number of threads: on every fixture capture, on a
//! capture of thousands of concurrent flows made from them (sessions
//! resumed across flows, evictions, idle expiry), and on the corpus. The
//! one documented difference, a worker's share of the memory budget, must
//! be said in the report.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{self, PcapWriter};

const BIN: &str = env!("CARGO_BIN_EXE_tls-audit");

/// `tls-audit analyze ARGS --threads N -o FORMAT`, without the time of
/// verification (the only field that varies per run).
fn analyze(args: &[&str], threads: u32, format: &str) -> String {
    let out = Command::new(BIN)
        .arg("analyze")
        .args(args)
        .args(["--threads", &threads.to_string(), "-o", format])
        .output()
        .expect("run tls-audit");
    assert!(
        matches!(out.status.code(), Some(0 | 1 | 2 | 4)),
        "tls-audit analyze {args:?} --threads {threads}: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    without_evaluation_time(&String::from_utf8(out.stdout).expect("utf-8 report"))
}

/// The report with `"evaluated_at":"…"` emptied.
fn without_evaluation_time(report: &str) -> String {
    const FIELD: &str = "\"evaluated_at\":\"";
    let mut out = String::with_capacity(report.len());
    let mut rest = report;
    while let Some(at) = rest.find(FIELD) {
        let (head, tail) = rest.split_at(at + FIELD.len());
        out.push_str(head);
        rest = tail.find('"').map_or("", |end| &tail[end..]);
    }
    out.push_str(rest);
    out
}

/// Where two reports first differ, with some context, for the failure
/// message (JSON reports are one line).
fn first_difference(a: &str, b: &str) -> String {
    let at = a
        .bytes()
        .zip(b.bytes())
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    let around = |s: &str| {
        let bytes = s.as_bytes();
        let window = &bytes[at.saturating_sub(300)..(at + 300).min(bytes.len())];
        String::from_utf8_lossy(window).into_owned()
    };
    format!(
        "byte {at}:\n  1 thread: …{}…\n  threaded: …{}…",
        around(a),
        around(b)
    )
}

/// Assert that every thread count in `counts` gives the report of one
/// thread; returns the JSON report.
fn same_for(args: &[&str], counts: &[u32], formats: &[&str]) -> String {
    let mut json = String::new();
    for &format in formats {
        let one = analyze(args, 1, format);
        assert!(one.len() > 100, "{args:?}: empty report");
        for &n in counts {
            let many = analyze(args, n, format);
            assert!(
                one == many,
                "{args:?} -o {format}: --threads {n} differs from --threads 1 at {}",
                first_difference(&one, &many)
            );
        }
        if format == "json" {
            json = one;
        }
    }
    json
}

fn report(json: &str) -> serde_json::Value {
    serde_json::from_str(json).expect("a JSON report")
}

fn every_fixture_capture_reports_the_same_on_any_thread_count() {
    let dir = support::root().join("fixtures").join("captures");
    let mut pcaps: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
        .collect();
    pcaps.sort();
    assert!(pcaps.len() >= 20, "fixtures missing");
    for pcap in &pcaps {
        let p = pcap.to_str().unwrap();
        same_for(&[p], &[2, 3, 4], &["json"]);
        same_for(&[p], &[2], &["table"]);
        let keys = pcap.with_extension("keys");
        if keys.is_file() {
            same_for(&[p, "--keylog", keys.to_str().unwrap()], &[3], &["json"]);
        }
    }
    // Several captures merged in time order, as one run.
    let all: Vec<&str> = pcaps.iter().map(|p| p.to_str().unwrap()).collect();
    // 0: a worker per available CPU.
    same_for(&all, &[2, 3, 0], &["json", "table"]);
}

/// Captured frames with their microsecond timestamps.
type Frames = Vec<(u64, Vec<u8>)>;

/// Frames of a little-endian microsecond pcap (what tcpdump wrote the
/// fixtures as), with its link type; `None` for other formats.
fn frames(path: &Path) -> Option<(u32, Frames)> {
    let data = std::fs::read(path).unwrap();
    let word = |at: usize| u32::from_le_bytes(data[at..at + 4].try_into().unwrap());
    if data.len() < 24 || word(0) != 0xa1b2_c3d4 {
        return None;
    }
    let link = word(20);
    let mut at = 24;
    let mut out = Vec::new();
    while at + 16 <= data.len() {
        let ts = u64::from(word(at)) * 1_000_000 + u64::from(word(at + 4));
        let len = word(at + 8) as usize;
        out.push((ts, data[at + 16..at + 16 + len].to_vec()));
        at += 16 + len;
    }
    Some((link, out))
}

/// The fixtures' client address.
const CLIENT: [u8; 4] = [10, 200, 0, 1];

/// A capture of `copies` copies of every Ethernet/IPv4 fixture capture,
/// each copy with its own client address and starting `gap_us` after the
/// previous one, all interleaved in time: thousands of concurrent flows
/// over every worker, every copy of the resumption captures resuming a
/// session that many other flows also resume. Returns its path and the
/// fixtures' key logs in one file.
fn many_flows(dir: &Path, copies: u32, gap_us: u64) -> (PathBuf, PathBuf) {
    let fixtures = support::root().join("fixtures").join("captures");
    let mut sources = Vec::new();
    let mut keys = Vec::new();
    let mut names: Vec<PathBuf> = std::fs::read_dir(&fixtures)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
        .collect();
    names.sort();
    for p in names {
        let Some((1, f)) = frames(&p) else { continue };
        let ipv4 = f
            .iter()
            .all(|(_, fr)| fr.len() >= 34 && fr[12..14] == [8, 0]);
        if !ipv4 {
            continue;
        }
        if let Ok(k) = std::fs::read(p.with_extension("keys")) {
            keys.extend(k);
        }
        sources.push(f);
    }
    assert!(sources.len() >= 15, "{} fixture captures", sources.len());
    let mut all = Vec::new();
    for copy in 0..copies {
        let client = [10, 64 + (copy >> 16) as u8, (copy >> 8) as u8, copy as u8];
        for (i, f) in sources.iter().enumerate() {
            let t0 = f[0].0;
            for (ts, frame) in f {
                let mut frame = frame.clone();
                for at in [26, 30] {
                    if frame[at..at + 4] == CLIENT {
                        frame[at..at + 4].copy_from_slice(&client);
                    }
                }
                let when =
                    1_700_000_000_000_000 + u64::from(copy) * gap_us + i as u64 * 37 + (ts - t0);
                all.push((when, all.len(), frame));
            }
        }
    }
    // Connections quiet for 2.2 s at a time, over the whole capture: one
    // flow each, or several under a 1 s idle timeout.
    for i in 0..40u16 {
        let client = ([10, 7, 0, i as u8], 30000 + i);
        let server = ([10, 7, 1, 1], 8080);
        let t0 = 1_700_000_000_000_000 + u64::from(i) * 1_000;
        let syn = support::tcp_frame(client, server, 1, None, true, &[]);
        all.push((t0, all.len(), syn));
        for k in 0..u64::from(copies) * gap_us / 2_200_000 {
            let data = support::tcp_frame(client, server, 2 + k as u32, Some(1), false, b"x");
            all.push((t0 + (k + 1) * 2_200_000, all.len(), data));
        }
    }
    all.sort();
    let mut w = PcapWriter::new(1);
    for (ts, _, frame) in &all {
        w.frame(*ts, frame);
    }
    let pcap = dir.join("many.pcap");
    std::fs::write(&pcap, w.bytes()).unwrap();
    let keylog = dir.join("many.keys");
    std::fs::write(&keylog, keys).unwrap();
    (pcap, keylog)
}

/// Thousands of flows, interleaved: same flows, same order, same findings,
/// same resumption links, whatever the thread count; also when the flow
/// table is full (evictions) and when flows go idle.
fn thousands_of_concurrent_flows_report_the_same_on_any_thread_count() {
    let dir = support::temp_dir("threads-many");
    let (pcap, keylog) = many_flows(&dir, 150, 20_000);
    let (pcap, keylog) = (pcap.to_str().unwrap(), keylog.to_str().unwrap());
    let json = same_for(&[pcap, "--keylog", keylog], &[2, 3, 4], &["json", "table"]);
    let r = report(&json);
    let flows = r["flows"].as_array().unwrap();
    assert!(flows.len() >= 3000, "{} flows", flows.len());
    // Sessions resumed across flows were linked to a handshake seen in
    // another flow (possibly on another worker).
    let resumed = flows
        .iter()
        .filter(|f| f["tls"]["mutual_evidence"] == "resumed-session")
        .count();
    assert!(resumed >= 150, "{resumed} resumed flows linked");
    let decrypted = flows
        .iter()
        .filter(|f| !f["tls"]["decryption"].is_null())
        .count();
    assert!(decrypted >= 150, "{decrypted} TLS 1.3 handshakes decrypted");

    // A full table: the oldest flows are evicted as with one thread.
    let json = same_for(&[pcap, "--max-flows", "20"], &[2, 3], &["json"]);
    let evicted = report(&json)["stats"]["evicted_flows"].as_u64().unwrap();
    assert!(evicted > 100, "{evicted} flows evicted");

    // Idle flows: the quiet connections split under a 1 s timeout.
    let one = report(&analyze(&[pcap], 1, "json"));
    let json = same_for(&[pcap, "--idle-timeout", "1"], &[2, 3], &["json"]);
    let idle = report(&json);
    assert_ne!(
        idle["flows"].as_array().unwrap().len(),
        one["flows"].as_array().unwrap().len(),
        "the idle timeout split no flow: the test does not test it"
    );
}

/// Undecided flows holding buffers past the memory budget: each worker
/// holds 1/N of it, so the flows finished early can differ from one
/// thread's; the report must say so (never differ silently), and one
/// thread's must not.
fn a_worker_reaching_its_share_of_the_budget_is_said() {
    let mut w = PcapWriter::new(1);
    let server = ([10, 9, 0, 2], 443);
    // 200 connections, each stuck in the middle of a 16 KB handshake
    // record (8 KB of it sent): the record parser holds the bytes.
    let mut record = vec![0x16, 0x03, 0x01, 0x40, 0x00, 0x01, 0x00, 0x3f, 0xfc];
    record.resize(8000, 0x41);
    for i in 0..200u32 {
        let client = ([10, 8, (i >> 8) as u8, i as u8], 40000);
        let t = 1_700_000_000_000_000 + u64::from(i) * 1000;
        w.frame(t, &support::tcp_frame(client, server, 100, None, true, &[]));
        w.frame(
            t + 1,
            &support::tcp_frame(server, client, 500, Some(101), true, &[]),
        );
        w.frame(
            t + 2,
            &support::tcp_frame(client, server, 101, Some(501), false, &record),
        );
    }
    let dir = support::temp_dir("threads-budget");
    let pcap = dir.join("held.pcap");
    std::fs::write(&pcap, w.bytes()).unwrap();
    let p = pcap.to_str().unwrap();
    let budget = |threads| {
        let r = report(&analyze(
            &[p, "--buffer-budget-mib", "1", "--max-flows", "100000"],
            threads,
            "json",
        ));
        let early = r["stats"]["buffer_budget_flows"].as_u64().unwrap();
        let said = r["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["kind"] == "buffer-budget")
            .map(|w| w["message"].as_str().unwrap().to_string());
        (early, said)
    };
    let (early, said) = budget(1);
    assert!(early > 0, "one thread did not reach the budget");
    assert!(!said.unwrap().contains("--threads"));
    // Two threads analyse on one (the second reads ahead): one budget.
    let (early_two, said_two) = budget(2);
    assert_eq!(early_two, early);
    assert!(!said_two.unwrap().contains("--threads"));
    let (early, said) = budget(3);
    assert!(early > 0, "no worker reached its share");
    let said = said.expect("a buffer-budget warning");
    assert!(
        said.contains("--threads 3") && said.contains("can differ from --threads 1"),
        "{said}"
    );
}

/// The corpus (`../shared/corpus`), one thread against two (the files
/// read ahead) and three (the flows sharded too).
fn the_corpus_reports_the_same_on_two_threads() {
    let corpus = support::needed_shared().join("corpus");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(corpus.join("MANIFEST.json")).unwrap())
            .unwrap();
    let mut checked = 0;
    for case in manifest["cases"].as_array().unwrap() {
        let pcap = corpus.join(case["pcap"].as_str().unwrap());
        let p = pcap.to_str().unwrap();
        let one = analyze(&[p], 1, "json");
        for n in [2, 3] {
            let many = analyze(&[p], n, "json");
            assert!(
                one == many,
                "{p}: --threads {n} differs from --threads 1 at {}",
                first_difference(&one, &many)
            );
        }
        checked += 1;
    }
    assert!(checked >= 300, "{checked} corpus captures");
}

/// This module's tests, as the harness lists them (`main.rs`).
pub(crate) fn tests() -> Vec<crate::runner::Test> {
    use crate::runner::{Need, Test};
    vec![
        Test::new(
            module_path!(),
            "every_fixture_capture_reports_the_same_on_any_thread_count",
            every_fixture_capture_reports_the_same_on_any_thread_count,
        ),
        Test::new(
            module_path!(),
            "thousands_of_concurrent_flows_report_the_same_on_any_thread_count",
            thousands_of_concurrent_flows_report_the_same_on_any_thread_count,
        ),
        Test::new(
            module_path!(),
            "a_worker_reaching_its_share_of_the_budget_is_said",
            a_worker_reaching_its_share_of_the_budget_is_said,
        ),
        Test::new(
            module_path!(),
            "the_corpus_reports_the_same_on_two_threads",
            the_corpus_reports_the_same_on_two_threads,
        )
        .needs(&[Need::Shared("corpus/MANIFEST.json")]),
    ]
}
