//! Versions and cipher suites rustls will not speak (SSL 3.0, TLS 1.0 and
//! 1.1; RC4, 3DES, export, NULL, CBC): a hand-built ClientHello offers them,
//! and the first answer tells whether the server accepts: a ServerHello
//! choosing them, or an alert. The handshake is never finished.
//!
//! [`read_answer`] is pure and answers like a stream parser: an answer, or
//! [`Incomplete`] until enough bytes arrived. It reads hostile bytes: every
//! length is checked, nothing is indexed unchecked, and a handshake message
//! larger than 64 KiB is malformed rather than awaited.

use std::net::SocketAddr;

use super::ProbeConfig;
use super::conn::{Conn, Got};
use super::error::ProbeFailure;
use crate::tls::hello::ServerHello;

/// SSL 3.0 ... TLS 1.2 as the wire numbers them.
pub const SSL3: u16 = 0x0300;
/// TLS 1.0.
pub const TLS10: u16 = 0x0301;
/// TLS 1.1.
pub const TLS11: u16 = 0x0302;
/// TLS 1.2.
pub const TLS12: u16 = 0x0303;

/// Suites for SSL 3.0 to TLS 1.1: CBC, 3DES and RC4 with every key exchange
/// servers still have, then the renegotiation SCSV.
pub const LEGACY_SUITES: &[u16] = &[
    0xc00a, 0xc014, 0xc009, 0xc013, 0x0039, 0x0033, 0x0035, 0x002f, 0x0088, 0x0045, 0x0084, 0x0041,
    0x0096, 0xc012, 0xc008, 0x0016, 0x000a, 0xc011, 0xc007, 0x0005, 0x0004, 0x0015, 0x0009, 0x0014,
    0x0008, 0x0003, 0x0006, 0x00ff,
];

/// Suites for TLS 1.2: the AEAD suites, then [`LEGACY_SUITES`] and the
/// SHA-256/384 CBC suites.
pub const TLS12_SUITES: &[u16] = &[
    0xc02c, 0xc030, 0xc02b, 0xc02f, 0xcca9, 0xcca8, 0x009f, 0x009e, 0x009d, 0x009c, 0xc024, 0xc028,
    0xc023, 0xc027, 0x006b, 0x0067, 0x003d, 0x003c, 0xc00a, 0xc014, 0xc009, 0xc013, 0x0039, 0x0033,
    0x0035, 0x002f, 0x0088, 0x0045, 0x0084, 0x0041, 0x0096, 0xc012, 0xc008, 0x0016, 0x000a, 0xc011,
    0xc007, 0x0005, 0x0004, 0x00ff,
];

/// A family of weak suites, offered alone.
#[derive(Debug, Clone, Copy)]
pub struct WeakFamily {
    /// Report name.
    pub name: &'static str,
    /// The suites.
    pub suites: &'static [u16],
}

/// NULL encryption, export grade, RC4, 3DES, and CBC-only.
pub const WEAK_FAMILIES: &[WeakFamily] = &[
    WeakFamily {
        name: "null",
        suites: &[0xc010, 0xc006, 0x003b, 0x0002, 0x0001, 0x00ff],
    },
    WeakFamily {
        name: "export",
        suites: &[
            0x0064, 0x0062, 0x0003, 0x0006, 0x0008, 0x000b, 0x000e, 0x0011, 0x0014, 0x0017, 0x0019,
            0x00ff,
        ],
    },
    WeakFamily {
        name: "rc4",
        suites: &[0xc011, 0xc007, 0x0005, 0x0004, 0x0018, 0x00ff],
    },
    WeakFamily {
        name: "3des",
        suites: &[0xc012, 0xc008, 0x0016, 0x0013, 0x000a, 0x00ff],
    },
    WeakFamily {
        name: "cbc",
        suites: &[
            0xc024, 0xc028, 0xc023, 0xc027, 0x006b, 0x0067, 0x003d, 0x003c, 0xc00a, 0xc014, 0xc009,
            0xc013, 0x0039, 0x0033, 0x0035, 0x002f, 0x0088, 0x0045, 0x0084, 0x0041, 0x00ff,
        ],
    },
];

/// A ClientHello record offering `version` (as its maximum) and `suites`.
/// SSL 3.0 hellos carry no extensions; the others carry SNI (when named),
/// the groups and point formats ECDHE needs, extended master secret, and
/// for TLS 1.2 the signature algorithms.
pub fn client_hello(version: u16, suites: &[u16], sni: Option<&str>, random: [u8; 32]) -> Vec<u8> {
    let mut body = Vec::with_capacity(256);
    body.extend(version.to_be_bytes());
    body.extend(random);
    body.push(0); // no session id
    body.extend(u16_len(suites.len() * 2));
    for s in suites {
        body.extend(s.to_be_bytes());
    }
    body.extend([1, 0]); // compression: null only
    if version > SSL3 {
        let mut ext = Vec::new();
        push_sni(&mut ext, sni);
        // supported_groups: x25519, P-256, P-384, P-521, ffdhe2048.
        push_ext(&mut ext, 10, &[0, 10, 0, 29, 0, 23, 0, 24, 0, 25, 1, 0]);
        push_ext(&mut ext, 11, &[1, 0]); // ec_point_formats: uncompressed
        push_ext(&mut ext, 23, &[]); // extended_master_secret
        if version >= TLS12 {
            let algs: [u16; 13] = [
                0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0203,
                0x0201, 0x0402, 0x0202,
            ];
            let mut data = u16_len(algs.len() * 2).to_vec();
            for a in algs {
                data.extend(a.to_be_bytes());
            }
            push_ext(&mut ext, 13, &data);
        }
        body.extend(u16_len(ext.len()));
        body.extend(ext);
    }
    // Record version: 3.0 for SSL 3.0, else 3.1, which every TLS server takes.
    client_hello_record(&body, if version == SSL3 { 0 } else { 1 })
}

/// A ClientHello body framed as a handshake message in a handshake record
/// of version 3.`record_minor`.
pub(crate) fn client_hello_record(body: &[u8], record_minor: u8) -> Vec<u8> {
    let mut msg = vec![1];
    msg.extend(&(body.len() as u32).to_be_bytes()[1..]);
    msg.extend(body);
    let mut rec = vec![22, 3, record_minor];
    rec.extend(u16_len(msg.len()));
    rec.extend(msg);
    rec
}

/// A server_name extension for `sni` (host names under 256 bytes).
pub(crate) fn push_sni(ext: &mut Vec<u8>, sni: Option<&str>) {
    if let Some(name) = sni.filter(|n| n.len() < 256) {
        let n = name.as_bytes();
        let mut list = vec![0];
        list.extend(u16_len(n.len()));
        list.extend(n);
        let mut data = u16_len(list.len()).to_vec();
        data.extend(list);
        push_ext(ext, 0, &data);
    }
}

pub(crate) fn u16_len(n: usize) -> [u8; 2] {
    u16::try_from(n).unwrap_or(u16::MAX).to_be_bytes()
}

pub(crate) fn push_ext(out: &mut Vec<u8>, kind: u16, data: &[u8]) {
    out.extend(kind.to_be_bytes());
    out.extend(u16_len(data.len()));
    out.extend(data);
}

/// The server's first answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// A ServerHello (possibly for another version than offered).
    Hello(ServerHello),
    /// An alert record.
    Alert {
        /// 1 warning, 2 fatal.
        level: u8,
        /// AlertDescription.
        description: u8,
    },
    /// TLS records, but not a parseable ServerHello first.
    Malformed(&'static str),
    /// Not TLS at all (an HTTP error page, a banner...).
    NotTls,
}

/// More bytes are needed to answer (the record reader's own type).
pub use crate::tls::record::Incomplete;

/// Largest record body TLS allows (2^14 plus expansion).
const MAX_RECORD: usize = (1 << 14) + 2048;
/// Largest ServerHello message awaited.
const MAX_HELLO: usize = 1 << 16;

/// Read the server's first answer from the bytes received so far.
pub fn read_answer(buf: &[u8]) -> Result<Answer, Incomplete> {
    let mut handshake: Vec<u8> = Vec::new();
    let mut rest = buf;
    loop {
        let Some((header, body_and_more)) = rest.split_first_chunk::<5>() else {
            return Err(Incomplete);
        };
        let [kind, major, _minor, hi, lo] = *header;
        if !matches!(kind, 20..=24) || major != 3 {
            return Ok(Answer::NotTls);
        }
        let len = usize::from(u16::from_be_bytes([hi, lo]));
        if len > MAX_RECORD {
            return Ok(Answer::Malformed("record too long"));
        }
        let Some((body, after)) = body_and_more.split_at_checked(len) else {
            return Err(Incomplete);
        };
        match kind {
            21 => {
                return match body {
                    [level, description, ..] => Ok(Answer::Alert {
                        level: *level,
                        description: *description,
                    }),
                    _ => Ok(Answer::Malformed("short alert")),
                };
            }
            22 => handshake.extend_from_slice(body),
            _ => return Ok(Answer::Malformed("not a handshake record first")),
        }
        if let Some((&[msg_type, a, b, c], msg)) = handshake.split_first_chunk::<4>() {
            let msg_len = (usize::from(a) << 16) | (usize::from(b) << 8) | usize::from(c);
            if msg_type != 2 {
                return Ok(Answer::Malformed(
                    "first handshake message is not a ServerHello",
                ));
            }
            if msg_len > MAX_HELLO {
                return Ok(Answer::Malformed("ServerHello too long"));
            }
            if let Some(hello) = msg.get(..msg_len) {
                return Ok(match ServerHello::parse(hello) {
                    Some(sh) => Answer::Hello(sh),
                    None => Answer::Malformed("ServerHello does not parse"),
                });
            }
        }
        rest = after;
    }
}

/// What [`ask`] got: the answer, the probe's local address, and when the
/// connection was opened.
#[derive(Debug)]
pub(crate) struct Reply {
    pub answer: Answer,
    pub local: Option<SocketAddr>,
    pub started: time::OffsetDateTime,
}

/// Offer `version` with `suites` to `addr` and read the answer.
pub(crate) async fn ask(
    addr: SocketAddr,
    version: u16,
    suites: &[u16],
    sni: Option<&str>,
    cfg: &ProbeConfig,
) -> Result<Reply, ProbeFailure> {
    let hello = client_hello(version, suites, sni, client_random());
    send_hello(addr, &hello, cfg).await
}

/// Send a hand-built ClientHello record to `addr` and read the answer.
pub(crate) async fn send_hello(
    addr: SocketAddr,
    hello: &[u8],
    cfg: &ProbeConfig,
) -> Result<Reply, ProbeFailure> {
    let started = time::OffsetDateTime::now_utc();
    let mut conn = Conn::open(
        addr,
        cfg.connect_timeout,
        cfg.io_timeout,
        cfg.max_server_bytes,
    )
    .await?;
    let local = conn.local();
    conn.write(hello).await?;
    let mut buf = vec![0u8; 4096];
    let mut got: Vec<u8> = Vec::new();
    let deadline = tokio::time::Instant::now() + cfg.io_timeout;
    let answer = loop {
        match conn.read(&mut buf, Some(deadline), "server-hello").await? {
            Got::Data(n) => got.extend_from_slice(buf.get(..n).unwrap_or_default()),
            Got::Eof if got.is_empty() => break Err(ProbeFailure::Closed("the ServerHello")),
            Got::Eof => break Ok(Answer::Malformed("closed mid-record")),
        }
        match read_answer(&got) {
            Ok(a) => break Ok(a),
            Err(Incomplete) => continue,
        }
    };
    conn.close().await;
    answer.map(|answer| Reply {
        answer,
        local,
        started,
    })
}

/// A client random: the probe's own, from the OS generator via ring.
pub(crate) fn client_random() -> [u8; 32] {
    use ring::rand::SecureRandom;
    let mut r = [0u8; 32];
    // A fixed random is still a valid probe; the generator never fails on Linux.
    let _ = ring::rand::SystemRandom::new().fill(&mut r);
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::ClientHello;

    /// A ServerHello record (TLS 1.0, TLS_RSA_WITH_AES_128_CBC_SHA) and an alert.
    fn server_hello_record(version: u16, suite: u16) -> Vec<u8> {
        let mut body = version.to_be_bytes().to_vec();
        body.extend([7; 32]);
        body.push(0);
        body.extend(suite.to_be_bytes());
        body.push(0);
        body.extend([0, 5, 0xff, 0x01, 0, 1, 0]); // renegotiation_info
        let mut msg = vec![2, 0, 0, body.len() as u8];
        msg.extend(body);
        let mut rec = vec![22, 3, 1, 0, msg.len() as u8];
        rec.extend(msg);
        // A Certificate message follows in the same flight.
        rec.extend([22, 3, 1, 0, 4, 11, 0, 0, 0]);
        rec
    }

    #[test]
    fn our_hellos_parse_as_client_hellos() {
        for v in [SSL3, TLS10, TLS11, TLS12] {
            let rec = client_hello(v, LEGACY_SUITES, Some("api.pay.svc"), [1; 32]);
            let ch = ClientHello::parse(&rec[9..]).expect("parses");
            assert_eq!(ch.legacy_version, v);
            assert_eq!(ch.cipher_suites, LEGACY_SUITES);
            assert_eq!(ch.sni.as_deref(), (v > SSL3).then_some("api.pay.svc"));
            assert_eq!(ch.signature_algorithms.is_empty(), v < TLS12);
            assert_eq!(
                usize::from(u16::from_be_bytes([rec[3], rec[4]])),
                rec.len() - 5
            );
        }
    }

    #[test]
    fn every_prefix_is_incomplete_until_the_hello_is_whole() {
        let rec = server_hello_record(TLS10, 0x002f);
        let hello_end = 5 + usize::from(rec[4]);
        for n in 0..rec.len() {
            let r = read_answer(&rec[..n]);
            if n < hello_end {
                assert_eq!(r, Err(Incomplete), "prefix {n}");
            } else {
                let Ok(Answer::Hello(sh)) = r else {
                    panic!("prefix {n}: {r:?}")
                };
                assert_eq!((sh.version, sh.cipher_suite), (TLS10, 0x002f));
            }
        }
    }

    #[test]
    fn a_hello_split_over_records() {
        let rec = server_hello_record(TLS12, 0xc02f);
        let msg = &rec[5..5 + usize::from(rec[4])];
        let mut split = vec![22, 3, 3, 0, 10];
        split.extend(&msg[..10]);
        split.extend([22, 3, 3, 0, (msg.len() - 10) as u8]);
        split.extend(&msg[10..]);
        assert_eq!(read_answer(&split[..split.len() - 1]), Err(Incomplete));
        assert!(matches!(read_answer(&split), Ok(Answer::Hello(sh)) if sh.cipher_suite == 0xc02f));
    }

    #[test]
    fn alerts_and_other_answers() {
        assert_eq!(
            read_answer(&[21, 3, 3, 0, 2, 2, 70]),
            Ok(Answer::Alert {
                level: 2,
                description: 70
            })
        );
        assert_eq!(read_answer(&[21, 3, 3, 0, 2, 2]), Err(Incomplete));
        assert_eq!(
            read_answer(b"HTTP/1.1 400 Bad Request\r\n"),
            Ok(Answer::NotTls)
        );
        assert_eq!(
            read_answer(&[21, 3, 3, 0, 1, 2]),
            Ok(Answer::Malformed("short alert"))
        );
        assert_eq!(
            read_answer(&[22, 3, 3, 0, 4, 11, 0, 0, 0]),
            Ok(Answer::Malformed(
                "first handshake message is not a ServerHello"
            ))
        );
        assert_eq!(
            read_answer(&[22, 3, 3, 0x48, 0x01]),
            Ok(Answer::Malformed("record too long"))
        );
        assert_eq!(
            read_answer(&[22, 3, 3, 0, 4, 2, 0xff, 0, 0]),
            Ok(Answer::Malformed("ServerHello too long"))
        );
        assert_eq!(
            read_answer(&[22, 3, 3, 0, 6, 2, 0, 0, 2, 3, 3]),
            Ok(Answer::Malformed("ServerHello does not parse"))
        );
        assert_eq!(
            read_answer(&[23, 3, 3, 0, 0]),
            Ok(Answer::Malformed("not a handshake record first"))
        );
    }

    proptest::proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
            let _ = read_answer(&bytes);
            let mut rec = vec![22, 3, 3];
            rec.extend(u16_len(bytes.len()));
            rec.extend(&bytes);
            let _ = read_answer(&rec);
        }
    }
}
