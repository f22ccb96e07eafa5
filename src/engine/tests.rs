//! Engine-level tests on synthetic packets: the protection each kind of
//! traffic gets, and decoding paths the real captures do not cover.

use etherparse::PacketBuilder;

use super::{Analyzer, Config};
use crate::capture::LinkType;
use crate::model::report::{FlowRecord, Report};

const MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];

fn run(frames: &[Vec<u8>]) -> Report {
    let mut a = Analyzer::new(Config::default(), super::MemorySink::default());
    for (i, f) in frames.iter().enumerate() {
        a.packet(
            1_700_000_000_000_000_000 + i as i64 * 1000,
            LinkType::ETHERNET,
            f,
            f.len() as u32,
        );
    }
    let (mut report, sink) = a.finish(Vec::new(), Vec::new());
    report.flows = sink.into_sorted();
    report
}

fn udp(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(MAC, MAC)
        .ipv4(src, dst, 64)
        .udp(sport, dport);
    let mut v = Vec::new();
    b.write(&mut v, payload).unwrap();
    v
}

fn flow(r: &Report, port: u16) -> &FlowRecord {
    r.flows
        .iter()
        .find(|f| f.server.port == port || f.client.port == port)
        .unwrap_or_else(|| panic!("no flow on port {port}: {:#?}", r.flows))
}

#[test]
fn underlays_get_their_own_protection() {
    // WireGuard handshake initiation: type 1, three zero bytes, 148 bytes.
    let mut wg = vec![1, 0, 0, 0];
    wg.resize(148, 0x11);
    // ESP: IP protocol 50, SPI and sequence number then ciphertext.
    let esp = {
        let b = PacketBuilder::ethernet2(MAC, MAC).ip(etherparse::IpHeaders::Ipv4(
            etherparse::Ipv4Header::new(
                24,
                64,
                etherparse::IpNumber::ENCAPSULATING_SECURITY_PAYLOAD,
                [10, 0, 0, 1],
                [10, 0, 0, 2],
            )
            .unwrap(),
            Default::default(),
        ));
        let mut v = Vec::new();
        b.write(
            &mut v,
            etherparse::IpNumber::ENCAPSULATING_SECURITY_PAYLOAD,
            &[
                0, 0, 1, 0, 0, 0, 0, 1, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9,
            ],
        )
        .unwrap();
        v
    };
    let r = run(&[udp([10, 0, 0, 1], [10, 0, 0, 2], 40000, 51820, &wg), esp]);
    assert_eq!(
        flow(&r, 51820).protection,
        crate::model::Protection::Wireguard
    );
    let e = r
        .flows
        .iter()
        .find(|f| f.transport == crate::model::Transport::Esp)
        .expect("esp flow");
    assert_eq!(e.protection, crate::model::Protection::Ipsec);
}

#[test]
fn esp_in_udp_is_ipsec_even_after_ike_on_the_same_ports() {
    // IKE on 4500 (non-ESP marker, then a 28-byte IKEv2 header whose
    // length field says 28), then ESP (SPI 0xc0de0001, sequence 1).
    let mut ike = vec![0, 0, 0, 0];
    ike.extend_from_slice(&[7; 8]);
    ike.extend_from_slice(&[0; 8]);
    ike.extend_from_slice(&[0x2e, 0x20, 35, 0x08, 0, 0, 0, 1, 0, 0, 0, 28]);
    let mut esp = vec![0xc0, 0xde, 0, 1, 0, 0, 0, 1];
    esp.resize(96, 0x5a);
    let (a, b) = ([10, 0, 0, 1], [10, 0, 0, 2]);
    let r = run(&[
        udp(a, b, 500, 500, &ike[4..]),
        udp(a, b, 4500, 4500, &ike),
        udp(b, a, 4500, 4500, &ike),
        udp(a, b, 4500, 4500, &esp),
        udp(b, a, 4500, 4500, &esp),
    ]);
    let ike_flow = flow(&r, 500);
    assert_eq!(
        (
            ike_flow.protection.as_str(),
            ike_flow.app_protocol.as_deref()
        ),
        ("ipsec", Some("ike"))
    );
    let nat_t = flow(&r, 4500);
    assert_eq!(nat_t.packets, 4);
    assert_eq!(
        (nat_t.protection.as_str(), nat_t.app_protocol.as_deref()),
        ("ipsec", Some("esp"))
    );
    // IKE alone on 4500 stays IKE: no ESP was seen.
    let r = run(&[udp(a, b, 4500, 4500, &ike), udp(b, a, 4500, 4500, &ike)]);
    assert_eq!(flow(&r, 4500).app_protocol.as_deref(), Some("ike"));
}

#[test]
fn vxlan_reports_the_overlay_and_the_flow_inside() {
    // Inner frame: a plaintext HTTP request between two pods.
    let inner = {
        let b = PacketBuilder::ethernet2(MAC, MAC)
            .ipv4([192, 168, 1, 10], [192, 168, 2, 20], 64)
            .tcp(50000, 8080, 1, 1000)
            .ack(1);
        let mut v = Vec::new();
        b.write(&mut v, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        v
    };
    let mut vxlan = vec![0x08, 0, 0, 0, 0, 0, 0x2a, 0];
    vxlan.extend(&inner);
    let r = run(&[udp([10, 0, 0, 1], [10, 0, 0, 2], 33333, 4789, &vxlan)]);
    let outer = flow(&r, 4789);
    assert_eq!(outer.protection, crate::model::Protection::Overlay);
    let pod = flow(&r, 8080);
    assert_eq!(pod.inside.as_deref(), Some("vxlan"));
    assert_eq!(pod.protection, crate::model::Protection::Plaintext);
    assert_eq!(pod.app_protocol.as_deref(), Some("http/1.1"));
    assert_eq!(r.stats.tunnelled_packets.get("vxlan"), Some(&1));
}

#[test]
fn ipv4_fragments_are_reassembled() {
    // A TCP segment carrying a ClientHello, split into two IPv4 fragments.
    let mut ch = vec![22, 3, 1, 0, 0];
    let mut body = vec![3, 3];
    body.extend([7u8; 32]);
    body.extend([0, 0, 2, 0x13, 0x01, 1, 0]);
    let mut msg = vec![1, 0, 0, body.len() as u8];
    msg.extend(body);
    ch[3..5].copy_from_slice(&(msg.len() as u16).to_be_bytes());
    ch.extend(msg);
    let tcp = {
        let b = PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(40000, 443, 1, 1000)
            .ack(1);
        let mut v = Vec::new();
        b.write(&mut v, &ch).unwrap();
        v[20..].to_vec() // the TCP segment without its IP header
    };
    let frag = |offset_units: u16, more: bool, data: &[u8]| {
        let mut ip = etherparse::Ipv4Header::new(
            data.len() as u16,
            64,
            etherparse::IpNumber::TCP,
            [10, 0, 0, 1],
            [10, 0, 0, 2],
        )
        .unwrap();
        ip.identification = 77;
        ip.more_fragments = more;
        ip.fragment_offset = etherparse::IpFragOffset::try_new(offset_units).unwrap();
        ip.header_checksum = ip.calc_header_checksum();
        let mut v = Vec::new();
        etherparse::Ethernet2Header {
            source: MAC,
            destination: MAC,
            ether_type: etherparse::EtherType::IPV4,
        }
        .write(&mut v)
        .unwrap();
        ip.write(&mut v).unwrap();
        v.extend(data);
        v
    };
    let r = run(&[frag(0, true, &tcp[..48]), frag(6, false, &tcp[48..])]);
    let f = flow(&r, 443);
    assert_eq!(f.protection, crate::model::Protection::Tls);
    assert!(f.tls.as_ref().unwrap().handshake_seen);
    assert_eq!(r.stats.ip_fragments_reassembled, 1);
    assert!(r.stats.decode_errors.contains_key("ip_fragment_held"));
}

#[test]
fn unnamed_udp_is_unknown_not_plaintext() {
    let r = run(&[udp([10, 0, 0, 1], [10, 0, 0, 2], 40000, 7777, &[0x9c; 64])]);
    assert_eq!(flow(&r, 7777).protection, crate::model::Protection::Unknown);
}

fn tcp(src: [u8; 4], sport: u16, seq: u32, syn: bool, payload: &[u8]) -> Vec<u8> {
    let mut b = PacketBuilder::ethernet2(MAC, MAC)
        .ipv4(src, [10, 0, 0, 2], 64)
        .tcp(sport, 443, seq, 64_000);
    if syn {
        b = b.syn();
    } else {
        b = b.ack(1);
    }
    let mut v = Vec::new();
    b.write(&mut v, payload).unwrap();
    v
}

/// A flood of connections that each start a TLS record and never finish
/// it: every flow holds its partial record. The flows' buffers together
/// stay within the budget; the longest-idle holders are finished early,
/// counted, marked and warned about, and the flows that complete their
/// handshakes are unharmed.
#[test]
fn a_flood_of_undecided_flows_stays_within_the_buffer_budget() {
    let budget = 2 << 20;
    let cfg = Config {
        flows: crate::flow::FlowConfig {
            buffer_budget: budget,
            ..Default::default()
        },
        ..Default::default()
    };
    let mut a = Analyzer::new(cfg, super::MemorySink::default());
    // A handshake record header announcing 16 KiB, then 1,400 bytes of it.
    let mut partial = vec![22, 3, 1, 0x40, 0x00, 1, 0, 0x3f, 0xfc];
    partial.resize(1400, 0x41);
    let mut peak = 0;
    let mut ts = 1_700_000_000_000_000_000i64;
    for i in 0..6000u32 {
        let src = [10, 1, (i >> 8) as u8, i as u8];
        let sport = 40_000 + (i % 20_000) as u16;
        for f in [
            tcp(src, sport, 1000, true, &[]),
            tcp(src, sport, 1001, false, &partial),
        ] {
            ts += 1000;
            a.packet(ts, LinkType::ETHERNET, &f, f.len() as u32);
            peak = peak.max(a.table.footprint());
        }
        if i % 97 == 0 {
            assert_eq!(
                a.table.held(),
                a.table.measured(),
                "running count after {i} flows"
            );
        }
    }
    // One flow's worth over the budget at most, between a packet and the shedding.
    assert!(
        peak <= budget + 64 * 1024,
        "peak {peak} over budget {budget}"
    );
    assert!(peak > budget / 2, "the flood did fill the budget: {peak}");
    let (report, sink) = a.finish(Vec::new(), Vec::new());
    let flows = sink.into_sorted();
    let shed = flows
        .iter()
        .filter(|f| f.ended_by.as_deref() == Some("buffer-budget"))
        .count() as u64;
    assert!(shed > 1000, "{shed}");
    assert_eq!(report.stats.buffer_budget_flows, shed);
    assert_eq!(flows.len(), 6000, "every flow is still reported");
    assert!(report.warnings.iter().any(|w| w.kind == "buffer-budget"));
    // The most recent ones were kept whole.
    assert_eq!(flows.last().unwrap().ended_by, None);
}

/// Real handshakes finish and free their buffers: a budget smaller than
/// the flood test's still sheds nothing from an ordinary capture.
#[test]
fn ordinary_traffic_does_not_touch_the_budget() {
    let path = format!(
        "{}/fixtures/captures/openssl-tls12-mtu576-longchain.pcap",
        env!("CARGO_MANIFEST_DIR")
    );
    let cfg = Config {
        flows: crate::flow::FlowConfig {
            buffer_budget: 256 * 1024,
            ..Default::default()
        },
        ..Default::default()
    };
    let r = super::analyze_files(&[path], &cfg).unwrap();
    assert_eq!(r.stats.buffer_budget_flows, 0);
    assert!(r.flows.iter().all(|f| f.ended_by.is_none()));
    assert!(
        r.flows
            .iter()
            .any(|f| !f.tls.as_ref().unwrap().server_chain.is_empty())
    );
}

/// A SYN-less flow (the capture started late, or the SYN was dropped)
/// whose ClientHello record spans two segments is still read: the
/// direction waits for the record to complete instead of searching again
/// only a kilobyte later. Both a small record split 30/20 and a
/// post-quantum-sized ClientHello split at a full segment.
#[test]
fn a_synless_client_hello_across_segments_is_read() {
    let real = include_bytes!("../tls/testdata/client_hello_openssl_tls13.bin");
    // A minimal ClientHello: version, random, no session id, one suite, null compression.
    let mut body = vec![3, 3];
    body.extend([7u8; 32]);
    body.extend([0, 0, 2, 0x13, 0x01, 1, 0]);
    let mut small = vec![22, 3, 1, 0, body.len() as u8 + 4, 1, 0, 0, body.len() as u8];
    small.extend(&body);
    assert_eq!(small.len(), 50);
    // The real hello grown to ~1.8 KB with a padding extension (type 21).
    let big = {
        let pad = 1600usize;
        let mut msg = real[5..].to_vec();
        let ext_len_at = 4 + 2 + 32 + 1 + usize::from(msg[4 + 2 + 32]);
        let suites = usize::from(u16::from_be_bytes([msg[ext_len_at], msg[ext_len_at + 1]]));
        let comp_at = ext_len_at + 2 + suites;
        let exts_at = comp_at + 1 + usize::from(msg[comp_at]);
        let exts = usize::from(u16::from_be_bytes([msg[exts_at], msg[exts_at + 1]]));
        msg.extend([0, 21]);
        msg.extend((pad as u16).to_be_bytes());
        msg.extend(vec![0u8; pad]);
        let new_exts = (exts + 4 + pad) as u16;
        msg[exts_at..exts_at + 2].copy_from_slice(&new_exts.to_be_bytes());
        let body_len = (msg.len() - 4) as u32;
        msg[1..4].copy_from_slice(&body_len.to_be_bytes()[1..]);
        let mut rec = vec![22, 3, 1];
        rec.extend((msg.len() as u16).to_be_bytes());
        rec.extend(msg);
        rec
    };
    assert!(big.len() > 1700, "{}", big.len());
    for (hello, cut, port) in [(&small, 30usize, 40001u16), (&big, 1460, 40002)] {
        let r = run(&[
            tcp([10, 0, 0, 1], port, 5000, false, &hello[..cut]),
            tcp([10, 0, 0, 1], port, 5000 + cut as u32, false, &hello[cut..]),
        ]);
        let f = flow(&r, port);
        assert_eq!(f.protection, crate::model::Protection::Tls, "{port}");
        let tls = f.tls.as_ref().expect("tls facts");
        assert!(tls.handshake_seen, "ClientHello read on {port}: {tls:#?}");
        assert!(tls.ja4.is_some(), "{port}");
    }
}

/// The records of `n` one-packet UDP flows (a DNS query each).
fn udp_flows(n: u16) -> Vec<crate::model::report::FlowRecord> {
    let frames: Vec<Vec<u8>> = (0..n)
        .map(|i| udp([10, 0, 0, 1], [10, 0, 0, 2], 20_000 + i, 53, b"x"))
        .collect();
    run(&frames).flows
}

/// Spilled records come back in creation order, whatever order they were
/// written in (sequential runs, jumps back and forth, one record larger
/// than the read window).
#[test]
fn spilled_records_read_back_in_creation_order() {
    use super::{FlowSink, SpillSink};
    let mut flows = udp_flows(3000);
    assert_eq!(flows.len(), 3000);
    flows[1500].inside = Some("y".repeat(3 << 20).into());
    flows[7].inside = Some("z".repeat(40 << 10).into());
    // Written as finished: runs of creation order, reversed blocks, and
    // the two ends interleaved.
    let mut order: Vec<usize> = (0..1000).collect();
    order.extend((1000..2000).rev());
    for i in 0..500 {
        order.push(2000 + i);
        order.push(2999 - i);
    }
    let mut sink = SpillSink::new().unwrap();
    for &i in &order {
        sink.flow(i as u64 + 1, flows[i].clone());
    }
    let mut spilled = sink.into_spilled().unwrap();
    // Parsed on the calling thread, and ahead of it on helper threads.
    for helpers in [0, 1, 2, 3] {
        spilled = spilled.parsed_by(helpers);
        let mut back = Vec::new();
        spilled
            .for_each(|f| {
                back.push(f);
                Ok(())
            })
            .unwrap();
        assert_eq!(back.len(), flows.len(), "{helpers} helpers");
        for (i, (a, b)) in back.iter().zip(&flows).enumerate() {
            assert_eq!(a, b, "record {i}, {helpers} helpers");
        }
    }
}

/// With helpers parsing ahead, a record that cannot be parsed ends the
/// pass as it does without them: every record before it is visited, then
/// its error comes. An error of the caller's own stops the helpers too.
#[test]
fn spilled_errors_come_in_order_with_helpers() {
    use super::{FlowSink, SpillSink};
    let flows = udp_flows(1000);
    let mut sink = SpillSink::new().unwrap();
    for (i, f) in flows.iter().enumerate() {
        sink.flow(i as u64 + 1, f.clone());
    }
    let mut spilled = sink.into_spilled().unwrap();
    spilled.damage_record(700);
    for helpers in [0, 1, 2, 3] {
        spilled = spilled.parsed_by(helpers);
        let mut seen = 0usize;
        let e = spilled
            .for_each(|f| {
                assert_eq!(f, flows[seen], "record {seen}, {helpers} helpers");
                seen += 1;
                Ok(())
            })
            .expect_err("a damaged record");
        assert_eq!(seen, 700, "{helpers} helpers");
        assert!(e.to_string().contains("expected value"), "{e}");
        // The caller's own error, early: returned as it is.
        let mut seen = 0usize;
        let e = spilled
            .for_each(|_| {
                seen += 1;
                if seen == 5 {
                    return Err(std::io::Error::other("enough"));
                }
                Ok(())
            })
            .expect_err("the caller's error");
        assert_eq!((seen, e.to_string().as_str()), (5, "enough"));
    }
}

/// Flows finished while a capture is read and those finished at its end
/// were written as two sequential runs, which creation order visits by
/// turns: each run is read once, not again at every turn.
#[test]
fn spilled_runs_read_by_turns_are_read_once() {
    use super::{FlowSink, SpillSink};
    let flows = udp_flows(4000);
    let mut sink = SpillSink::new().unwrap();
    for parity in [1, 0] {
        for (i, f) in flows.iter().enumerate().filter(|(i, _)| i % 2 == parity) {
            sink.flow(i as u64 + 1, f.clone());
        }
    }
    let spilled = sink.into_spilled().unwrap();
    let mut back = 0usize;
    spilled
        .for_each_json(|json| {
            let f: crate::model::report::FlowRecord = serde_json::from_slice(json).unwrap();
            assert_eq!(f, flows[back], "record {back}");
            back += 1;
            Ok(())
        })
        .unwrap();
    assert_eq!(back, flows.len());
    let read = spilled
        .bytes_read
        .load(std::sync::atomic::Ordering::Relaxed);
    let size = spilled.end;
    assert!(
        size > 4 * super::sink::READ_WINDOW as u64,
        "{size} bytes: more than the windows"
    );
    // Each run's last window may read on into the other run; with one
    // window, each turn read afresh (16 KiB a record here: over 60 MB).
    let ahead = 2 * super::sink::READ_WINDOW as u64;
    assert!(read <= size + ahead, "{read} bytes read for {size}");
}

/// The flow table's per-entry charge must cover at least an entry of the
/// engine's table itself, twice over (the hash map keeps spare capacity);
/// the rest is measured RSS (benches/README.md). Here, not in `flow`:
/// the entry holds the engine's per-flow state.
#[test]
fn flow_entry_bytes_cover_an_engine_entry() {
    use crate::flow::{ENTRY_BYTES, Flow, FlowKey};
    let entry = std::mem::size_of::<(FlowKey, Flow<super::FlowAnalysis>)>();
    assert!(2 * entry <= ENTRY_BYTES, "{entry} bytes per entry");
}
