//! The capture reader's tests: records across buffer and chunk ends,
//! damaged files, the read-ahead thread against a direct read.

use super::*;

fn pcap_header(link: u32) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    v.extend_from_slice(&2u16.to_le_bytes());
    v.extend_from_slice(&4u16.to_le_bytes());
    v.extend_from_slice(&0i32.to_le_bytes());
    v.extend_from_slice(&0u32.to_le_bytes());
    v.extend_from_slice(&65535u32.to_le_bytes());
    v.extend_from_slice(&link.to_le_bytes());
    v
}

fn record(ts_sec: u32, ts_usec: u32, data: &[u8], orig: u32) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&ts_sec.to_le_bytes());
    v.extend_from_slice(&ts_usec.to_le_bytes());
    v.extend_from_slice(&(data.len() as u32).to_le_bytes());
    v.extend_from_slice(&orig.to_le_bytes());
    v.extend_from_slice(data);
    v
}

fn read_all(bytes: Vec<u8>) -> (Vec<PacketBuf>, ReadOutcome) {
    drain(&mut CaptureReader::from_reader("t", std::io::Cursor::new(bytes)).unwrap())
}

/// Every packet left in `r`, and how the reading ended.
fn drain(r: &mut CaptureReader) -> (Vec<PacketBuf>, ReadOutcome) {
    let mut out = Vec::new();
    let mut buf = PacketBuf::default();
    loop {
        match r.next_into(&mut buf) {
            ReadOutcome::Packet => out.push(buf.clone()),
            other => return (out, other),
        }
    }
}

#[test]
fn reads_legacy_pcap_records() {
    let mut f = pcap_header(101);
    f.extend(record(10, 5, &[0x45, 0, 0, 20], 60));
    f.extend(record(11, 0, &[0x60; 8], 8));
    let (pkts, end) = read_all(f);
    assert_eq!(end, ReadOutcome::End);
    assert_eq!(pkts.len(), 2);
    assert_eq!(pkts[0].ts, 10_000_005_000);
    assert_eq!(pkts[0].link, Some(LinkType::RAW));
    assert_eq!(pkts[0].orig_len, 60);
    assert_eq!(pkts[1].data, vec![0x60; 8]);
}

/// Records of every size, little- and big-endian, micro- and
/// nanosecond, past several buffer ends (records cut by the buffer's
/// end are read by `pcap_parser`, the rest straight from the buffer):
/// each read whole, in order, with its time and lengths.
#[test]
fn legacy_records_across_buffer_ends() {
    for (magic, big) in [
        (0xa1b2_c3d4u32, false),
        (0xa1b2_c3d4, true),
        (0xa1b2_3c4d, false),
        (0xa1b2_3c4d, true),
    ] {
        let w = |v: u32| {
            if big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let mut f = Vec::new();
        f.extend(w(magic));
        f.extend(if big { [0, 2, 0, 4] } else { [2, 0, 4, 0] });
        f.extend([0u8; 8]);
        f.extend(w(65535));
        f.extend(w(101));
        let n = 2000u32;
        for i in 0..n {
            let len = (i * 7) % 1500;
            f.extend(w(i));
            f.extend(w(i % 1000));
            f.extend(w(len));
            f.extend(w(len + i % 3));
            f.extend((0..len).map(|b| (b ^ i) as u8));
        }
        assert!(f.len() > 3 * INITIAL_BUFFER);
        let (pkts, end) = read_all(f);
        assert_eq!(end, ReadOutcome::End);
        assert_eq!(pkts.len(), n as usize);
        let nanos = magic == 0xa1b2_3c4d;
        for (i, p) in (0u32..).zip(&pkts) {
            let len = (i * 7) % 1500;
            let frac = i64::from(i % 1000) * if nanos { 1 } else { 1000 };
            assert_eq!(p.ts, i64::from(i) * 1_000_000_000 + frac);
            assert_eq!(p.orig_len, len + i % 3);
            assert_eq!(p.link, Some(LinkType::RAW));
            assert!(p.data.iter().zip(0..).all(|(d, b)| *d == (b ^ i) as u8));
            assert_eq!(p.data.len(), len as usize);
        }
    }
}

/// Every packet and the final outcome of reading `bytes` from a file,
/// with and without the read-ahead thread.
fn read_file_both_ways(name: &str, bytes: &[u8]) -> [(Vec<PacketBuf>, ReadOutcome); 4] {
    let path = std::env::temp_dir().join(format!(
        "tls-audit-ahead-{}-{name}.pcap",
        std::process::id()
    ));
    std::fs::write(&path, bytes).unwrap();
    let legacy = bytes.len() >= 24 && LEGACY_MAGICS.iter().any(|m| bytes.starts_with(m));
    // Who reads the chunks: no read ahead; the reading thread and this one
    // as in a run; this thread alone (as when the thread cannot start); a
    // slow reading thread, so that this one reads some chunks itself while
    // it waits and takes the others from the thread.
    let read = |read_ahead, pace: Option<Option<std::time::Duration>>| {
        let limits = ReadLimits {
            read_ahead,
            ..ReadLimits::default()
        };
        let mut r = match CaptureReader::open_with(path.to_str().unwrap(), limits) {
            Ok(r) => r,
            Err(e) => return (Vec::new(), ReadOutcome::Damaged(format!("open: {e}"))),
        };
        assert_eq!(r.ahead.is_some(), read_ahead && legacy, "{name}");
        if let (Some(pace), Some(ahead)) = (pace, &mut r.ahead) {
            let file = std::fs::File::open(&path).unwrap();
            let header = bytes[..24].to_vec();
            *ahead = super::super::ahead::Ahead::start_with(file, header, pace);
        }
        let read = drain(&mut r);
        if let (Some(pace), Some(ahead)) = (pace, &r.ahead) {
            let chunks = (bytes.len() as u64 - 24).div_ceil(1 << 20);
            match pace {
                None => assert!(ahead.own_reads >= chunks, "{name}: {}", ahead.own_reads),
                Some(_) if chunks > 2 => {
                    assert!(ahead.own_reads > 0, "{name}: read none itself");
                    assert!(ahead.own_reads < chunks, "{name}: read all itself");
                }
                Some(_) => {}
            }
        }
        read
    };
    let slow = Some(Some(std::time::Duration::from_millis(3)));
    let ways = [
        read(false, None),
        read(true, None),
        read(true, Some(None)),
        read(true, slow),
    ];
    std::fs::remove_file(&path).unwrap();
    ways
}

/// The read-ahead thread's chunks (`capture::ahead`) give the same
/// packets and the same end as reading the file directly, whatever
/// cuts the records: chunk ends (records of up to 200 KiB across
/// several 1 MiB chunks), a record as long as the first read buffer
/// (read by `pcap_parser` from there on), a cut last record, a corrupt
/// length, a file that is only a header, and files that are not
/// legacy pcap (read as without the thread).
#[test]
fn read_ahead_reads_what_a_direct_read_does() {
    let mut records = pcap_header(1);
    let mut n = 0u32;
    while records.len() < 5 * super::super::ahead::CARRY * 4 + 100_000 {
        // Mostly frames, now and then a long record, so that records
        // cross chunk ends at every offset.
        let len = match n % 97 {
            0 => 150_000 + (n * 131) % 60_000,
            k => (k * 37 + n) % 1600,
        };
        let data: Vec<u8> = (0..len).map(|b| (b ^ n) as u8).collect();
        records.extend(record(n, n % 999_999, &data, len + n % 5));
        n += 1;
    }
    let clean = records.len();
    let mut cases: Vec<(&str, Vec<u8>)> = vec![("clean", records.clone())];
    // A record as long as the stream's first buffer, then more.
    let mut long = records.clone();
    long.extend(record(1, 2, &vec![7u8; INITIAL_BUFFER], 100));
    long.extend(records[24..10_000].iter());
    cases.push(("long", long));
    let mut cut = records.clone();
    cut.extend(&record(3, 4, &[5u8; 900], 900)[..500]);
    cases.push(("cut", cut));
    let mut corrupt = records[..clean / 2].to_vec();
    // Whatever record boundary: a header claiming 4 GiB.
    let mut bad = record(1, 0, &[], 0);
    bad[8..12].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
    let at = {
        let mut at = 24;
        while let Some((len, ..)) = legacy_record(&records[at..], false) {
            if at + len > clean / 2 {
                break;
            }
            at += len;
        }
        at
    };
    corrupt.truncate(at);
    corrupt.extend(bad);
    corrupt.extend(vec![0u8; 5000]);
    cases.push(("corrupt", corrupt));
    cases.push(("header-only", pcap_header(1)));
    let mut big_endian = Vec::new();
    big_endian.extend(0xa1b2_c3d4u32.to_be_bytes());
    big_endian.extend([
        0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 0, 0, 0, 1,
    ]);
    big_endian.extend([0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 3, 1, 2, 3]);
    cases.push(("big-endian", big_endian));
    cases.push((
        "not-a-capture",
        b"hello world, not a capture at all".to_vec(),
    ));
    for (name, bytes) in &cases {
        let [direct, aheads @ ..] = read_file_both_ways(name, bytes);
        for (way, ahead) in aheads.iter().enumerate() {
            assert_eq!(direct.1, ahead.1, "{name} ({way}): the end");
            assert_eq!(direct.0.len(), ahead.0.len(), "{name} ({way}): packets");
            for (i, (d, a)) in direct.0.iter().zip(&ahead.0).enumerate() {
                let same = d.ts == a.ts
                    && d.link == a.link
                    && d.data == a.data
                    && d.orig_len == a.orig_len;
                assert!(same, "{name} ({way}): packet {i}");
            }
        }
        if *name == "clean" {
            assert_eq!(direct.1, ReadOutcome::End);
            assert_eq!(direct.0.len(), n as usize);
        }
    }
}

#[test]
fn truncated_last_record_is_damage_not_error() {
    let mut f = pcap_header(1);
    f.extend(record(1, 0, &[1, 2, 3, 4], 4));
    let mut second = record(2, 0, &[9; 100], 100);
    second.truncate(40);
    f.extend(second);
    let (pkts, end) = read_all(f);
    assert_eq!(pkts.len(), 1);
    assert!(matches!(end, ReadOutcome::Damaged(m) if m.contains("truncated")));
}

#[test]
fn huge_record_length_is_damage_and_bounded() {
    let mut f = pcap_header(1);
    let mut rec = record(1, 0, &[], 0);
    rec[8..12].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
    f.extend(rec);
    f.extend(vec![0u8; 1000]);
    let (pkts, end) = read_all(f);
    assert!(pkts.is_empty());
    assert!(matches!(end, ReadOutcome::Damaged(_)), "{end:?}");
}

#[test]
fn rejects_non_captures_and_empty_input() {
    let e = CaptureReader::from_reader("x", std::io::Cursor::new(b"hello world".to_vec()));
    assert!(matches!(e, Err(CaptureError::NotACapture { ref magic, .. }) if magic == "68656c6c"));
    let e = CaptureReader::from_reader("x", std::io::Cursor::new(Vec::new()));
    assert!(matches!(e, Err(CaptureError::Empty { .. })));
}

#[test]
fn pcapng_resolution_is_honoured() {
    let per_second = |n| NonZeroU64::new(n).unwrap();
    assert_eq!(to_nanos(1_500_000, MICROSECONDS, 0), 1_500_000_000);
    assert_eq!(to_nanos(3, per_second(2), 10), 11_500_000_000);
    assert_eq!(to_nanos(1, per_second(1_000_000_000), 0), 1);
    // The largest timestamp at the finest resolution: no overflow.
    assert_eq!(to_nanos(u64::MAX, per_second(u64::MAX), 0), 1_000_000_000);
}
