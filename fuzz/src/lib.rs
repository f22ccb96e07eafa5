//! The fuzz harnesses of tls-audit, one function per fuzz target.
//!
//! Each `fuzz_targets/<name>.rs` calls `tls_audit_fuzz::<name>(data)`, and the
//! stable regression replay (`tests/integration/fuzz_regressions.rs`) includes
//! this very file, so the replay makes exactly the calls the fuzzer made.
//! This file must therefore build on stable Rust and not use libfuzzer-sys.
//!
//! A harness returns normally for any input; a panic (including a failed
//! invariant `assert!`) is a finding.

use std::io::Cursor;

use tls_audit::capture::{CaptureReader, LinkType};
use tls_audit::decode::underlay::{self, Underlay};
use tls_audit::decode::{Decoder, L4};
use tls_audit::flow::{Chunk, Reassembler};
use tls_audit::tls::ja4::{self, Transport};
use tls_audit::tls::kex::{self, SuiteKex};
use tls_audit::tls::{ClientHello, ServerHello, TlsSession, messages, mtls};

/// The link types `decode_frame` chooses from (the ones the decoder knows).
pub const LINK_TYPES: [u32; 9] = [0, 1, 9, 101, 108, 113, 228, 229, 276];

/// A whole pcap / pcapng (possibly gzip-compressed) file, end to end:
/// read, decode, reassemble, analyse, render.
pub fn capture_file(data: &[u8]) {
    let Ok(reader) = CaptureReader::from_reader("fuzz", Cursor::new(data.to_vec())) else {
        return;
    };
    let report = tls_audit::engine::analyze_readers(vec![reader], &Default::default());
    assert_eq!(report.stats.flows, report.flows.len() as u64);
    assert!(report.stats.tls_flows <= report.stats.flows);
    assert!(report.stats.mutual_tls_flows <= report.stats.tls_flows);
    let json = tls_audit::report::render_json(&report);
    let parsed: Result<serde_json::Value, _> = serde_json::from_str(&json);
    assert!(parsed.is_ok(), "render_json produced invalid JSON");
    let mut streamed = Vec::new();
    assert!(tls_audit::report::write_json(&report, &mut streamed).is_ok());
    assert!(
        streamed == json.as_bytes(),
        "write_json and render_json differ"
    );
    let table = tls_audit::report::render_table(&report);
    // Wire strings (SNI, names, warnings) must reach a terminal escaped.
    assert!(
        !table.chars().any(|c| c.is_control() && c != '\n'),
        "control character in the table: {table:?}"
    );
}

/// One or more link-layer frames through one decoder.
///
/// `data[0] % 9` picks the link type from [`LINK_TYPES`]. If bit 7 of
/// `data[0]` is clear the rest is one frame; if set, the rest is a sequence
/// of frames each prefixed by a big-endian u16 length (so IPv4 fragments can
/// meet in the reassembly pool).
pub fn decode_frame(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let link = LinkType(LINK_TYPES[usize::from(sel & 0x7f) % LINK_TYPES.len()]);
    let mut decoder = Decoder::new();
    let mut emit = |d: &tls_audit::decode::Decoded<'_>| {
        if let L4::Tcp(t) = d.l4 {
            assert!(t.payload_len as usize >= t.payload.len());
        }
    };
    if sel & 0x80 == 0 {
        decoder.decode(0, link, rest, &mut emit);
    } else {
        let mut r = rest;
        let mut ts = 0i64;
        while r.len() >= 2 {
            let n = usize::from(u16::from_be_bytes([r[0], r[1]])).min(r.len() - 2);
            decoder.decode(ts, link, &r[2..2 + n], &mut emit);
            r = &r[2 + n..];
            ts += 1_000_000;
        }
    }
    let (reassembled, dropped) = decoder.defrag_stats();
    let _ = (reassembled, dropped);
}

/// Both directions of a TLS connection, interleaved.
///
/// Handshake secrets for the client random of all zero bytes, so that a
/// TLS 1.3 handshake with that random goes down the decryption path (its
/// records never authenticate: what is exercised is the handling of that).
fn fuzz_keys() -> tls_audit::tls::KeyLog {
    let mut k = tls_audit::tls::KeyLog::default();
    let random = "00".repeat(32);
    for label in ["CLIENT", "SERVER"] {
        let line = format!(
            "{label}_HANDSHAKE_TRAFFIC_SECRET {random} {}\n",
            "11".repeat(32)
        );
        k.add("fuzz", line.as_bytes());
    }
    k
}

/// `data[0]`: bit 0 = picked up mid-stream ([`TlsSession::mid_stream`]),
/// bits 1-2 = client hint (0/3 none, 1 = direction 0, 2 = direction 1).
/// Then chunks: a header byte `h` (bit 0 = direction; bit 1 = a gap, whose
/// size is the next big-endian u16; else data whose length is the next
/// big-endian u16, cut to what is left).
pub fn tls_stream(data: &[u8]) {
    let Some((&mode, mut r)) = data.split_first() else {
        return;
    };
    let hint = match (mode >> 1) & 3 {
        1 => Some(0),
        2 => Some(1),
        _ => None,
    };
    let mut s = if mode & 1 == 1 {
        TlsSession::mid_stream(hint)
    } else {
        TlsSession::new(hint)
    };
    let keys = fuzz_keys();
    while r.len() >= 3 {
        let h = r[0];
        let dir = usize::from(h & 1);
        let n = usize::from(u16::from_be_bytes([r[1], r[2]]));
        r = &r[3..];
        if h & 2 != 0 {
            s.gap(dir, n as u64);
        } else {
            let n = n.min(r.len());
            s.feed(dir, &r[..n], &keys);
            r = &r[n..];
        }
        let _ = (s.is_decided(), s.is_broken(dir));
        if let Some(c) = s.client_dir() {
            assert!(c < 2);
        }
    }
    let _ = mtls::decide(&s.facts);
    let _ = mtls::resumed(&s.facts);
    if let Some(ch) = &s.facts.client_hello {
        check_ja4(ch);
        let _ = tls_audit::tls::session::offered_resumption(ch);
    }
    if let Some(sh) = &s.facts.server_hello {
        let _ = sh.is_tls13();
    }
}

/// The handshake message parsers on a bare message body (ClientHello,
/// ServerHello with its key_share, Certificate, ServerKeyExchange,
/// CertificateVerify).
pub fn hello(data: &[u8]) {
    if let Some(ch) = ClientHello::parse(data) {
        check_ja4(&ch);
    }
    if let Some(ch) = ClientHello::parse_sslv2(data) {
        check_ja4(&ch);
    }
    if let Some(sh) = ServerHello::parse(data) {
        let _ = sh.is_tls13();
        if let Some(g) = sh.key_share_group {
            let _ = (kex::group_name(g), kex::group_kind(g).post_quantum());
        }
    }
    // The key-exchange parsers: a ServerKeyExchange under every layout,
    // a CertificateVerify.
    let layouts = [
        SuiteKex::Ecdhe {
            psk: false,
            anon: false,
        },
        SuiteKex::Ecdhe {
            psk: true,
            anon: false,
        },
        SuiteKex::Ecdhe {
            psk: false,
            anon: true,
        },
        SuiteKex::Dhe {
            psk: false,
            anon: false,
        },
        SuiteKex::Dhe {
            psk: true,
            anon: false,
        },
        SuiteKex::Dhe {
            psk: false,
            anon: true,
        },
        SuiteKex::Rsa,
    ];
    for (kx, tls12) in layouts.iter().flat_map(|k| [(*k, true), (*k, false)]) {
        if let Some(ske) = kex::parse_server_key_exchange(data, kx, tls12) {
            if let Some(bits) = ske.dh_prime_bits {
                assert!(
                    bits as usize <= data.len() * 8,
                    "prime of {bits} bits in {} bytes",
                    data.len()
                );
            }
            if let Some(s) = ske.signature_scheme {
                let _ = kex::signature_scheme_name(s);
            }
        }
    }
    if let Some(s) = kex::certificate_verify_scheme(data) {
        let _ = kex::signature_scheme_name(s);
    }
    for chain in [
        messages::certificate_tls12(data),
        messages::certificate_tls13(data),
    ]
    .into_iter()
    .flatten()
    {
        assert!(chain.len() <= messages::MAX_CHAIN);
    }
}

fn check_ja4(ch: &ClientHello) {
    let _ = ch.max_version();
    for t in [Transport::Tcp, Transport::Quic, Transport::Dtls] {
        let fp = ja4::ja4(ch, t);
        // a_b_c, with b and c 12 hex digits (twelve zeros when empty)
        let parts: Vec<&str> = fp.split('_').collect();
        assert_eq!(parts.len(), 3, "ja4 {fp:?}");
        // proto, 2-char version, d/i, 2+2 counts, 2 ALPN characters
        assert!(parts[0].is_ascii() && parts[0].len() == 10, "ja4 {fp:?}");
        for p in &parts[1..] {
            assert!(
                p.len() == 12 && p.bytes().all(|b| b.is_ascii_hexdigit()),
                "ja4 {fp:?}"
            );
        }
    }
}

/// One DER certificate.
pub fn x509(data: &[u8]) {
    let cert = tls_audit::x509::Certificate::from_der(data);
    assert_eq!(cert.sha256.len(), 64);
    let json = serde_json::to_string(&cert);
    assert!(json.is_ok(), "certificate facts do not serialise");
}

/// Plaintext naming and underlay recognition.
///
/// `data[0..2]` = a port (big-endian), `data[2..4]` = how many of the
/// remaining bytes are the client's (modulo their count + 1); the rest are
/// the server's. The same bytes also go through the underlay classifiers
/// with the port as both source and destination, and each way round.
pub fn plaintext(data: &[u8]) {
    if data.len() < 4 {
        return;
    }
    let port = u16::from_be_bytes([data[0], data[1]]);
    let rest = &data[4..];
    let split = usize::from(u16::from_be_bytes([data[2], data[3]])) % (rest.len() + 1);
    let (client, server) = rest.split_at(split);
    let _ = tls_audit::plaintext::detect(client, server, port);
    let _ = tls_audit::plaintext::upgrade_requested(client);
    let _ = tls_audit::plaintext::upgrade_requested(rest);
    let other = u16::from_be_bytes([data[2], data[3]]);
    for (p1, p2) in [(port, port), (other, port), (port, other)] {
        let first = underlay::classify_udp(p1, p2, rest);
        // A later packet of the flow (IKE on UDP 4500 turns into ESP).
        let _ = underlay::reclassify_udp(first, p1, p2, rest);
        let _ = underlay::reclassify_udp(Some(Underlay::Ike), p1, p2, rest);
        let _ = underlay::classify_tcp(p1, p2);
    }
    for kind in Underlay::ALL {
        if let Some(off) = underlay::inner_ethernet_offset(kind, rest) {
            // documented: a full Ethernet header is left after the offset
            assert!(
                off + 14 <= rest.len(),
                "{kind:?} offset {off} of {}",
                rest.len()
            );
        }
    }
    let _ = underlay::weave_handshake_encrypted(rest);
}

/// One direction's TCP reassembly, driven by operations decoded from the input.
///
/// `data[0..2]` = the byte cap (big-endian u16). Then operations, by
/// `op % 6`: 0 SYN (seq u32, payload length u8, payload), 1 SYN-ACK (ack
/// u32), 2 segment (seq u32, length u16, payload), 3 ACK (ack u32),
/// 4 flush, 5 close. Lengths are cut to what is left.
///
/// Invariants: data delivered never exceeds the cap; nothing is delivered
/// after `close`; the offset never goes backwards and never trails what was
/// emitted; while under the cap and open, data + gaps emitted equal the offset.
pub fn reassembly(data: &[u8]) {
    if data.len() < 2 {
        return;
    }
    let cap = usize::from(u16::from_be_bytes([data[0], data[1]]));
    let mut r = Reassembler::new(cap);
    let mut rest = &data[2..];
    let mut delivered: u64 = 0;
    let mut emitted: u64 = 0;
    let mut closed = false;
    let mut last_offset = 0u64;

    fn u32_at(b: &mut &[u8]) -> u32 {
        let mut v = [0u8; 4];
        let n = b.len().min(4);
        v[..n].copy_from_slice(&b[..n]);
        *b = &b[n..];
        u32::from_be_bytes(v)
    }
    fn take<'a>(b: &mut &'a [u8], n: usize) -> &'a [u8] {
        let n = n.min(b.len());
        let (h, t) = b.split_at(n);
        *b = t;
        h
    }

    while let Some((&op, tail)) = rest.split_first() {
        rest = tail;
        let mut got_data = 0u64;
        let mut got_gap = 0u64;
        {
            let mut sink = |c: Chunk<'_>| match c {
                Chunk::Data(d) => {
                    assert!(!d.is_empty(), "empty data chunk");
                    got_data += d.len() as u64;
                }
                Chunk::Gap(n) => {
                    assert!(n > 0, "empty gap");
                    got_gap += n;
                }
            };
            match op % 6 {
                0 => {
                    let seq = u32_at(&mut rest);
                    let n = take(&mut rest, 1).first().copied().unwrap_or(0);
                    let payload = take(&mut rest, usize::from(n));
                    r.syn(seq, payload);
                }
                1 => {
                    let ack = u32_at(&mut rest);
                    r.syn_acked(ack, &mut sink);
                }
                2 => {
                    let seq = u32_at(&mut rest);
                    let len = take(&mut rest, 2);
                    let n = match len {
                        [a, b] => usize::from(u16::from_be_bytes([*a, *b])),
                        [a] => usize::from(*a),
                        _ => 0,
                    };
                    let payload = take(&mut rest, n);
                    r.segment(seq, payload, &mut sink);
                }
                3 => {
                    let ack = u32_at(&mut rest);
                    r.acked(ack, &mut sink);
                }
                4 => r.flush(&mut sink),
                _ => {
                    r.close();
                    closed = true;
                }
            }
        }
        if closed {
            assert_eq!(got_data, 0, "data delivered after close");
        }
        delivered += got_data;
        emitted += got_data + got_gap;
        assert!(delivered <= cap as u64, "delivered {delivered} > cap {cap}");
        let off = r.offset();
        assert!(
            off >= last_offset,
            "offset went back: {last_offset} -> {off}"
        );
        last_offset = off;
        assert!(emitted <= off, "emitted {emitted} beyond offset {off}");
        if !closed && off < cap as u64 {
            assert_eq!(emitted, off, "bytes lost below the cap");
        }
        if r.is_done() && !closed {
            assert!(off >= cap as u64);
        }
    }
}

/// A flow record with an empty TLS block, for `verify_chain`.
const TLS_FLOW: &str = r#"{"transport":"tcp","client":{"ip":"10.0.0.1","port":40000},
"server":{"ip":"10.0.0.2","port":443},"role_source":"syn","first_seen":"2026-11-27T11:00:00Z",
"last_seen":"2026-11-27T11:00:01Z","packets":10,"bytes":1000,"protection":"tls","app_protocol":null,
"tls":{"handshake_seen":true,"version":"TLS1.2","cipher_suite":"TLS_RSA_WITH_RC4_128_SHA","sni":null,
"alpn_offered":[],"alpn":null,"resumed":false,"client_cert_requested":true,"mutual":false,
"mutual_evidence":"observed-empty-client-certificate","mutual_unknown_reason":null,"mutual_inference":null,
"server_chain":[],"client_chain":[],"certificates_encrypted":false,"ja4":null,"versions_offered":[],
"hello_retry_request":false,"starttls":false,"alerts":[],"record_version":null,"notes":[]},
"tcp":null,"inside":null,"ended_by":null,"truncated":false}"#;

/// Certificates off the wire through verification: chain linkage and
/// signatures (`verify::chain`), validity, key, lifetime and SPIFFE rules.
///
/// The input is a certificate list as a TLS 1.2 Certificate message carries
/// it (each certificate behind a 3-byte length, the last one cut short to
/// what is left), at most 20 certificates. The chain is checked on its own,
/// with itself as the trust bundle's candidates, and as both chains of a
/// TLS flow between two pods.
pub fn verify_chain(data: &[u8]) {
    use std::sync::Arc;
    use tls_audit::verify::chain::ChainChecker;
    use tls_audit::verify::{Policy, Verifier};
    use tls_audit::x509::Certificate;

    let mut ders: Vec<&[u8]> = Vec::new();
    let mut rest = data;
    while rest.len() >= 3 && ders.len() < 20 {
        let n = usize::from(rest[0]) << 16 | usize::from(rest[1]) << 8 | usize::from(rest[2]);
        let n = n.min(rest.len() - 3);
        ders.push(&rest[3..3 + n]);
        rest = &rest[3 + n..];
    }
    let check = ChainChecker::new(None).check(&ders);
    assert!(check.anchored.is_none(), "anchored without a bundle");
    // At most a handful of problems per certificate, never unbounded: one
    // of each kind about a certificate (10 kinds can name the same index),
    // plus the chain-wide ones.
    assert!(
        check.problems.len() <= 10 * ders.len().max(1) + 2,
        "{:?}",
        check.problems
    );
    let chain: Vec<Arc<Certificate>> = ders
        .iter()
        .map(|d| {
            Arc::new(Certificate {
                der: Some(Arc::from(*d)),
                ..Certificate::from_der(d)
            })
        })
        .collect();
    let Ok(mut record) = serde_json::from_str::<tls_audit::report::model::FlowRecord>(TLS_FLOW)
    else {
        panic!("TLS_FLOW does not parse");
    };
    if let Some(tls) = record.tls.as_mut() {
        tls.server_chain = chain.clone();
        tls.client_chain = chain;
    }
    let pods = br#"{"items":[
      {"metadata":{"name":"a","namespace":"x"},"spec":{"serviceAccountName":"a"},
       "status":{"phase":"Running","podIP":"10.0.0.1","startTime":"2026-11-27T10:00:00Z"}},
      {"metadata":{"name":"b","namespace":"y"},"spec":{"serviceAccountName":"b"},
       "status":{"phase":"Running","podIP":"10.0.0.2","startTime":"2026-11-27T10:00:00Z"}}]}"#;
    let inventory = tls_audit::inventory::Inventory::from_json(Some(pods), None).ok();
    let mut v = Verifier::new(Policy::default(), inventory, None, 0);
    v.flow(&mut record);
    let (_, _, collected) = v.finish();
    assert!(
        collected
            .findings
            .iter()
            .any(|f| f.rule == "TA-WEAK-CIPHER"),
        "the RC4 suite of the flow was not found"
    );
    assert!(serde_json::to_string(&collected.findings).is_ok());
}

/// An agent event stream (what `analyze --events` and the kubectl plugin
/// read from a pod's log), end to end: rebuilt into a report, every flow
/// verified as a replay verifies it, the report rendered. Log streams can
/// be cut, mixed with other lines or tampered with: any bytes must give a
/// report or an error, never a panic.
pub fn events(data: &[u8]) {
    use tls_audit::verify::{Policy, Verifier};

    let Ok(mut replayed) = tls_audit::live::read_events("fuzz", Cursor::new(data)) else {
        return;
    };
    let mut v = Verifier::new(Policy::default(), None, None, 0);
    let mut report = replayed.report;
    for f in replayed.flows.iter() {
        let Ok(mut f) = f else { return };
        v.flow(&mut f);
        report.flows.push(f);
    }
    let (_, _, collected) = v.finish();
    report.findings = collected.findings;
    assert!(!tls_audit::report::render_json(&report).is_empty());
    let _ = tls_audit::report::render_table(&report);
}

/// The probe's readers of a server's first answer: the legacy ServerHello
/// reader (hand-built ClientHellos) and the plaintext-answer classifier.
/// Invariant: an answer read from a prefix stays the same for every longer
/// input (the probe stops reading at the first answer).
pub fn probe_answer(data: &[u8]) {
    use tls_audit::probe::legacy::{Answer, read_answer};
    use tls_audit::probe::plaintext::{classify, first_line};
    let full = read_answer(data);
    // The shortest prefix that answers gives the same answer (checked on
    // inputs up to 4 KiB: the check is quadratic).
    if let Ok(a) = &full
        && data.len() <= 4096
    {
        let first = (0..=data.len()).find_map(|n| read_answer(&data[..n]).ok());
        assert_eq!(first.as_ref(), Some(a));
    }
    if let Ok(Answer::Hello(sh)) = &full {
        assert!(sh.session_id.len() <= 255);
    }
    let _ = classify(b"GET / HTTP/1.1\r\n\r\n", data, 80);
    let _ = classify(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", data, 80);
    assert!(first_line(data).len() <= 120);
}

/// A saved JSON report re-rendered (`tls-audit report FILE --fail-on high
/// --compliance pci-dss-4.0.1,hipaa -o FORMAT`): the streamed reader, the
/// gate, the compliance evaluation, the inventory and metadata built from
/// the flows, and every whole-document renderer. Invariants: the JSON
/// written parses; the HTML page has exactly the `<script` and `<style`
/// tags of the page of an empty report (whatever the report holds, it never
/// opens markup); the table has no control character but `\n`; the table
/// made as the flows were spilled (column widths, each flow's cells) is,
/// narrow and wide, the table the writer makes from the records.
pub fn saved_report(data: &[u8]) {
    use tls_audit::report::model::{Report, Severity};
    let Some(path) = input_file("saved.json", data) else {
        return;
    };
    let frameworks = tls_audit::compliance::frameworks(&["pci-dss-4.0.1", "hipaa"]).ok();
    let Ok(audited) =
        tls_audit::audit::rerender(&path, Some(Severity::High), frameworks, None, true)
    else {
        return;
    };
    let mut whole = audited.report.clone();
    if audited
        .flows
        .for_each(|f| {
            whole.flows.push(f);
            Ok(())
        })
        .is_err()
    {
        return;
    }
    let json = tls_audit::report::render_json(&whole);
    assert!(
        serde_json::from_str::<serde_json::Value>(&json).is_ok(),
        "the JSON written does not parse"
    );
    let tags = |html: &str| {
        (
            html.matches("<script").count(),
            html.matches("<style").count(),
        )
    };
    let empty = tls_audit::report::render_html(&Report::empty());
    let html = tls_audit::report::render_html(&whole);
    assert_eq!(
        tags(&html),
        tags(&empty),
        "markup from the report in the HTML"
    );
    let table = tls_audit::report::render_table(&whole);
    assert!(
        !table.chars().any(|c| c.is_control() && c != '\n'),
        "control character in the table: {table:?}"
    );
    // The table made as the flows were spilled (widths, each flow's cells)
    // is the table the writer makes from the records in two passes.
    let cells = audited.table.as_ref().expect("a table made when asked");
    for wide in [false, true] {
        use tls_audit::report::{TableStyle, TableWriter};
        let style = TableStyle {
            wide,
            color: false,
            width: None,
        };
        let mut measured = TableWriter::measured(style, &cells.widths);
        let mut two_pass = TableWriter::new(style);
        whole.flows.iter().for_each(|f| two_pass.measure(f));
        assert_eq!(measured.header(), two_pass.header(), "table header");
        let mut lines = Vec::new();
        cells
            .for_each_line(&measured, |line| {
                lines.push(line);
                Ok(())
            })
            .expect("the table's cells read back");
        let two: Vec<String> = whole.flows.iter().map(|f| two_pass.row(f)).collect();
        assert_eq!(lines, two, "table rows");
    }
    for text in [
        tls_audit::report::render_yaml(&whole),
        tls_audit::report::render_sarif(&whole),
        tls_audit::report::render_junit(&whole),
        tls_audit::report::render_markdown(&whole),
        tls_audit::report::render_github(&whole),
    ] {
        assert!(!text.is_empty());
    }
}

/// A capture file read with and without the read-ahead thread
/// (`analyze --threads 2`: records parsed in place in the chunks it fills,
/// `capture::ahead`). Invariant: the same packets (time, link type, bytes,
/// length) and the same end (clean, or damaged with the same message), or
/// the same refusal to open.
pub fn capture_ahead(data: &[u8]) {
    use tls_audit::capture::{CaptureReader, PacketBuf, ReadLimits, ReadOutcome};
    let Some(path) = input_file("ahead.pcap", data) else {
        return;
    };
    let Some(name) = path.to_str() else { return };
    let read = |read_ahead| {
        let limits = ReadLimits {
            read_ahead,
            ..ReadLimits::default()
        };
        let mut reader = match CaptureReader::open_with(name, limits) {
            Ok(r) => r,
            Err(e) => return (Vec::new(), format!("open: {e}")),
        };
        let mut packets = Vec::new();
        let mut buf = PacketBuf::default();
        loop {
            match reader.next_into(&mut buf) {
                ReadOutcome::Packet => {
                    packets.push((buf.ts, buf.link, buf.data.clone(), buf.orig_len));
                }
                other => return (packets, format!("{other:?}")),
            }
        }
    };
    let (direct, ahead) = (read(false), read(true));
    assert!(
        direct.1 == ahead.1,
        "ends differ: {} / {}",
        direct.1,
        ahead.1
    );
    assert!(direct.0 == ahead.0, "packets differ");
}

/// `data` written to this process's temporary file `name` (for the
/// harnesses whose code under test takes a path); `None` if it cannot be.
fn input_file(name: &str, data: &[u8]) -> Option<std::path::PathBuf> {
    let path = std::env::temp_dir().join(format!("tls-audit-fuzz-{}-{name}", std::process::id()));
    std::fs::write(&path, data).ok()?;
    Some(path)
}
