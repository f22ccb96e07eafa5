use std::io::{Cursor, Read, Write};
use std::sync::{Arc, Mutex};

use super::*;
use crate::engine;

/// A writer whose bytes the test can read afterwards.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The kinds of the warnings a replay gave, in order.
fn warning_kinds(r: &Replayed) -> Vec<&str> {
    r.report.warnings.iter().map(|w| w.kind.as_str()).collect()
}

fn fixture(name: &str) -> Report {
    let path = format!("{}/fixtures/captures/{name}", env!("CARGO_MANIFEST_DIR"));
    engine::analyze_files(&[path], &Default::default()).expect("fixture capture")
}

/// The events an agent would write for `report`'s flows.
fn stream(report: &Report, with_summary: bool) -> String {
    let buf = Shared::default();
    let mut sink = EventSink::new(Box::new(buf.clone()));
    sink.emit("start", json!({ "interface": "eth0" }));
    for (i, f) in report.flows.iter().enumerate() {
        let id = i as u64 + 1;
        sink.decided(id, f);
        sink.flow(id, f.clone());
    }
    if with_summary {
        sink.summary(report);
    }
    // The capture's tick writes out the flow events held since the last.
    sink.tick();
    assert!(sink.take_error().is_none());
    String::from_utf8(buf.0.lock().unwrap().clone()).unwrap()
}

#[test]
fn a_stream_gives_back_the_records_with_their_certificate_bytes() {
    let report = fixture("openssl-tls12-mutual.pcap");
    assert!(!report.flows.is_empty());
    let text = stream(&report, true);
    // Every line is one whole, versioned event, numbered in order.
    for (i, line) in text.lines().enumerate() {
        assert!(
            line.starts_with(&format!(
                "{{\"schema\":\"tls-audit/event/v1\",\"seq\":{i},\"event\":"
            )),
            "{line}"
        );
        let _: Value = serde_json::from_str(line).unwrap();
    }
    // Each certificate's bytes travel once, on the first event naming it.
    let chain = &report.flows[0].tls.as_ref().unwrap().server_chain;
    let first = &chain[0].sha256;
    assert_eq!(text.matches(&format!("\"{first}\":\"")).count(), 1);

    let mut back = read_events("events", Cursor::new(text)).unwrap();
    // (Compared as JSON: a mismatch prints readably, without DER bytes.)
    assert_eq!(
        serde_json::to_value(back.flows.to_vec().unwrap()).unwrap(),
        serde_json::to_value(&report.flows).unwrap()
    );
    assert!(
        back.flows.to_vec().unwrap() == report.flows,
        "equal with DER and validity seconds"
    );
    assert_eq!(back.report.stats, report.stats);
    assert!(
        back.report.warnings.is_empty(),
        "{:?}",
        back.report.warnings
    );
    let flows = back.flows.to_vec().unwrap();
    let tls = flows[0].tls.as_ref().unwrap();
    let leaf = &tls.server_chain[0];
    assert!(leaf.der.is_some(), "DER restored for signature checks");
    assert!(leaf.not_after_unix.is_some());
    assert_eq!(leaf.not_after_unix, chain[0].not_after_unix);
}

/// A writer that keeps each write apart.
#[derive(Clone, Default)]
struct Writes(Arc<Mutex<Vec<Vec<u8>>>>);

impl Write for Writes {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().push(b.to_vec());
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Writes {
    fn count(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

#[test]
fn flow_events_are_held_until_a_tick_or_another_event_and_go_out_whole() {
    let report = fixture("openssl-tls12-mutual.pcap");
    let record = &report.flows[0];
    let writes = Writes::default();
    let mut sink = EventSink::new(Box::new(writes.clone()));
    sink.emit("start", json!({ "interface": "eth0" }));
    assert_eq!(writes.count(), 1, "start goes out at once");
    sink.opened(
        1,
        &engine::FlowOpened {
            transport: "tcp",
            src: "10.0.0.1:40000".parse().unwrap(),
            dst: "10.0.0.2:443".parse().unwrap(),
            ts: 0,
        },
    );
    sink.decided(1, record);
    sink.flow(1, record.clone());
    assert_eq!(writes.count(), 1, "flow events are held");
    sink.tick();
    assert_eq!(writes.count(), 2, "a tick writes them out in one write");
    sink.decided(2, record);
    sink.emit("stats", json!({ "received": 1 }));
    assert_eq!(
        writes.count(),
        3,
        "another event takes the held ones with it"
    );
    // Many flow events: written out as they pass PENDING bytes, in whole lines.
    let before = writes.count();
    let mut written = 0;
    for id in 3..2000 {
        sink.flow(id, record.clone());
        written += 1;
        if writes.count() > before + 1 {
            break;
        }
    }
    assert!(
        writes.count() > before + 1,
        "{written} flow events never went out"
    );
    sink.summary(&report);
    assert!(sink.take_error().is_none());
    let all = writes.0.lock().unwrap().clone();
    for w in &all {
        assert_eq!(w.last(), Some(&b'\n'), "a write ends a line");
        assert!(
            w.len() <= PENDING + 64 * 1024,
            "{} bytes in one write",
            w.len()
        );
    }
    // Every line, in order: start, flow-opened, handshake, flow, handshake,
    // stats, the flows, summary; sequence numbers without a gap.
    let text = String::from_utf8(all.concat()).unwrap();
    let events: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        names[..6],
        [
            "start",
            "flow-opened",
            "handshake",
            "flow",
            "handshake",
            "stats"
        ]
    );
    assert_eq!(names.last(), Some(&"summary"));
    assert_eq!(names.len(), 6 + written + 1);
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["seq"], i as u64);
    }
}

#[test]
fn a_cut_stream_keeps_its_flows_and_says_so() {
    let report = fixture("openssl-tls12-mutual.pcap");
    let text = stream(&report, false);
    // Cut after the first handshake event: its flow never closed.
    let kept: Vec<&str> = text.lines().take(2).collect();
    let mut back = read_events("cut", Cursor::new(kept.join("\n"))).unwrap();
    assert_eq!(back.flows.len(), 1);
    assert_eq!(
        back.flows.to_vec().unwrap()[0].ended_by.as_deref(),
        Some("stream-ended")
    );
    assert!(!back.report.inputs[0].complete);
    assert_eq!(back.report.inputs[0].format, "events");
    let kinds = warning_kinds(&back);
    assert_eq!(kinds, ["events-cut"]);
    // Without the bytes, validity in seconds still comes back from the text.
    let mut no_der = stream(&report, true);
    no_der = no_der
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            if let Some(o) = v.as_object_mut() {
                o.remove("certificates");
            }
            v.to_string()
        })
        .collect::<Vec<_>>()
        .join("\n");
    // Issue 22 item 3: certificates named without their bytes are the
    // agent's word, not evidence: not shown, not checked, and said.
    let mut back = read_events("no-der", Cursor::new(no_der)).unwrap();
    let flows = back.flows.to_vec().unwrap();
    let tls = flows[0].tls.as_ref().unwrap();
    assert!(tls.server_chain.is_empty() && tls.client_chain.is_empty());
    assert_eq!(
        tls.certificates_unread.as_deref(),
        Some("no-certificate-bytes")
    );
    assert_eq!(tls.mutual, None, "a client certificate without bytes");
    assert_eq!(tls.mutual_unknown_reason.as_deref(), Some("agent-unbacked"));
    assert!(warning_kinds(&back).contains(&"agent-reported"));
}

#[test]
fn log_noise_lost_lines_and_foreign_schemas() {
    let report = fixture("openssl-tls12-mutual.pcap");
    let text = stream(&report, true);
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    lines.insert(1, "I1127 12:00:00 kubelet says hello".into());
    lines.insert(2, "{not json".into());
    lines.remove(3); // a lost event: sequence numbers skip
    let back = read_events("noisy", Cursor::new(lines.join("\n"))).unwrap();
    let kinds = warning_kinds(&back);
    // The lost line carried the certificates' bytes.
    assert_eq!(
        kinds,
        ["events-skipped", "events-lost", "agent-reported"],
        "{:?}",
        back.report.warnings
    );

    let other = text.replacen("tls-audit/event/v1", "tls-audit/event/v2", 1);
    let err = read_events("v2", Cursor::new(other))
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.starts_with("v2:1: event schema \"tls-audit/event/v2\""),
        "{err}"
    );

    let bad = "{\"schema\":\"tls-audit/event/v1\",\"seq\":0,\"event\":\"flow\",\"id\":1}\n";
    let err = read_events("bad", Cursor::new(bad))
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("bad:1: a flow event without its id or record"),
        "{err}"
    );
}

#[test]
fn forged_certificate_bytes_are_not_believed() {
    let report = fixture("openssl-tls12-mutual.pcap");
    let text = stream(&report, true);
    let leaf = &report.flows[0].tls.as_ref().unwrap().server_chain[0];
    // Put another certificate's bytes under the leaf's name.
    let other = &report.flows[0].tls.as_ref().unwrap().server_chain[1];
    let forged_b64 = BASE64.encode(other.der.as_ref().unwrap());
    let forged: String = text
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            if let Some(c) = v.get_mut("certificates").and_then(Value::as_object_mut)
                && c.contains_key(&leaf.sha256)
            {
                c.insert(leaf.sha256.clone(), forged_b64.clone().into());
            }
            v.to_string() + "\n"
        })
        .collect();
    let mut back = read_events("forged", Cursor::new(forged)).unwrap();
    let flows = back.flows.to_vec().unwrap();
    let tls = flows[0].tls.as_ref().unwrap();
    assert!(
        tls.server_chain.iter().all(|c| c.sha256 != leaf.sha256),
        "bytes whose digest is not their name are dropped, and the name with them"
    );
    assert_eq!(
        tls.certificates_unread.as_deref(),
        Some("no-certificate-bytes")
    );
}

#[test]
fn an_endless_line_is_an_error_not_unbounded_memory() {
    let endless = std::io::repeat(b'x').take((MAX_LINE + 10) as u64);
    let err = read_events("endless", std::io::BufReader::new(endless))
        .err()
        .unwrap();
    assert!(err.to_string().contains("longer than 16 MiB"), "{err}");
}

proptest::proptest! {
    #[test]
    fn hostile_streams_never_panic(lines in proptest::collection::vec(".{0,200}", 0..20)) {
        let mut text = String::new();
        for l in lines {
            text.push_str("{\"schema\":\"tls-audit/event/v1\",");
            text.push_str(&l);
            text.push('\n');
        }
        let _ = read_events("fuzz", Cursor::new(text));
    }
}

#[test]
fn a_restarted_agent_in_one_log_keeps_both_runs_apart() {
    let one = fixture("openssl-tls12-mutual.pcap");
    let two = fixture("nginx-http-plaintext-80.pcap");
    // A sidecar restarted: the second run's ids start at 1 again.
    let text = stream(&one, true) + &stream(&two, true);
    let mut back = read_events("restarted", Cursor::new(text)).unwrap();
    assert_eq!(back.flows.len(), one.flows.len() + two.flows.len());
    assert!(
        back.flows
            .to_vec()
            .unwrap()
            .iter()
            .any(|f| f.protection == crate::model::Protection::Plaintext)
    );
    assert!(
        back.flows
            .to_vec()
            .unwrap()
            .iter()
            .any(|f| f.protection == crate::model::Protection::Tls)
    );
    assert_eq!(back.report.stats.flows, one.stats.flows + two.stats.flows);
    let kinds = warning_kinds(&back);
    assert_eq!(kinds, ["events-restarted"], "{:?}", back.report.warnings);
    // The first run cut short, then a restart: both runs' flows, and the cut said.
    let whole = stream(&one, false);
    let first: Vec<&str> = whole.lines().take(2).collect();
    let text = first.join("\n") + "\n" + &stream(&two, true);
    let back = read_events("cut-then-restarted", Cursor::new(text)).unwrap();
    assert_eq!(back.flows.len(), 1 + two.flows.len());
    let kinds = warning_kinds(&back);
    assert_eq!(kinds, ["events-cut", "events-restarted"]);
}

#[test]
fn json_lines_without_a_schema_are_noise_not_errors() {
    let report = fixture("openssl-tls12-mutual.pcap");
    let text =
        "{\"level\":\"info\",\"msg\":\"runtime says hi\"}\n".to_string() + &stream(&report, true);
    let back = read_events("noise", Cursor::new(text)).unwrap();
    assert_eq!(back.flows.len(), report.flows.len());
    let kinds = warning_kinds(&back);
    assert_eq!(kinds, ["events-skipped"]);
}

/// Issue 22 item 8: counters taken from a stream are the stream's numbers:
/// `seq` at u64::MAX and packet counts that add past u64::MAX neither
/// panic (debug) nor wrap to a small number (release).
#[test]
fn counters_from_a_stream_do_not_overflow() {
    let report = fixture("openssl-tls12-mutual.pcap");
    let text = stream(&report, true);
    let mut lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for l in &mut lines {
        l["seq"] = u64::MAX.into();
        if l["event"] == "summary" {
            l["report"]["stats"]["packets"] = u64::MAX.into();
        }
    }
    // The same run twice (a restart): its packets add up.
    let once: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let back = read_events("huge", Cursor::new(once.repeat(2))).unwrap();
    assert_eq!(back.report.stats.packets, u64::MAX);
}

/// Issue 22 item 4: the reader's certificate map had no bound (1.15 GiB
/// from an 80 MB stream of distinct large certificates). It keeps at most
/// `MAX_HELD_DER_BYTES` of DER, the oldest dropped first.
#[test]
fn the_readers_certificates_are_bounded_by_bytes() {
    let mut ders = Ders::default();
    let mut table = super::Table::new().unwrap();
    let mut total = 0;
    for serial in 0..250u64 {
        let sans: Vec<String> = (0..10_000).map(|n| format!("{n:x}.a")).collect();
        let mut p = rcgen::CertificateParams::new(sans).unwrap();
        p.serial_number = Some(rcgen::SerialNumber::from(serial));
        let key = rcgen::KeyPair::generate().unwrap();
        let der = p.self_signed(&key).unwrap().der().to_vec();
        total += der.len();
        let sha = crate::report::metadata::sha256_hex(&der);
        ders.add(&BTreeMap::from([(sha, BASE64.encode(&der))]), &mut table)
            .unwrap();
        assert!(ders.held <= MAX_HELD_DER_BYTES, "{}", ders.held);
    }
    assert!(
        total > MAX_HELD_DER_BYTES,
        "never reached the bound: {total}"
    );
    assert_eq!(ders.by_sha256.len(), ders.order.len());
}

#[test]
fn a_flow_opened_line_is_what_its_json_value_was() {
    for (src, dst, transport) in [
        ("10.0.0.1:40000", "10.0.0.2:443", "tcp"),
        ("[fe80::1]:5353", "[2001:db8::a:0:0:1]:53", "udp"),
        ("[::ffff:10.1.2.3]:0", "[::]:65535", "esp"),
    ] {
        let o = engine::FlowOpened {
            transport,
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            ts: 1_733_400_000_123_456_789,
        };
        // What the event was built from before: a `Value`, keys sorted.
        let value = json!({
            "id": 7,
            "ts": format_ts(o.ts),
            "transport": o.transport,
            "src": { "ip": o.src.ip().to_string(), "port": o.src.port() },
            "dst": { "ip": o.dst.ip().to_string(), "port": o.dst.port() },
        });
        assert_eq!(
            serde_json::to_string(&Opened::new(7, &o)).unwrap(),
            serde_json::to_string(&value).unwrap()
        );
    }
}
