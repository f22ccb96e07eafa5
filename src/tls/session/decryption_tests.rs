//! TLS 1.3 decryption through the whole session, on records sealed here.
use super::*;
use crate::tls::decrypt::seal;

const RANDOM: [u8; 32] = [0x42; 32];
const CLIENT_SECRET: [u8; 32] = [1; 32];
const SERVER_SECRET: [u8; 32] = [2; 32];

fn msg(t: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![t];
    m.extend(&(body.len() as u32).to_be_bytes()[1..]);
    m.extend(body);
    m
}

fn record(ct: u8, body: &[u8]) -> Vec<u8> {
    let mut r = vec![ct, 3, 3];
    r.extend((body.len() as u16).to_be_bytes());
    r.extend(body);
    r
}

fn ext(t: u16, data: &[u8]) -> Vec<u8> {
    let mut e = t.to_be_bytes().to_vec();
    e.extend((data.len() as u16).to_be_bytes());
    e.extend(data);
    e
}

fn vec16(b: &[u8]) -> Vec<u8> {
    let mut v = (b.len() as u16).to_be_bytes().to_vec();
    v.extend(b);
    v
}

fn client_hello(early_data: bool) -> Vec<u8> {
    let mut b = vec![3, 3];
    b.extend(RANDOM);
    b.push(0); // session id
    b.extend(vec16(&[0x13, 0x01]));
    b.extend([1, 0]); // compression
    let mut exts = ext(43, &[2, 3, 4]);
    if early_data {
        exts.extend(ext(42, &[]));
    }
    b.extend(vec16(&exts));
    record(22, &msg(1, &b))
}

fn server_hello() -> Vec<u8> {
    let mut b = vec![3, 3];
    b.extend([7u8; 32]);
    b.push(0);
    b.extend([0x13, 0x01, 0]);
    b.extend(vec16(&ext(43, &[3, 4])));
    record(22, &msg(2, &b))
}

/// A handshake message sealed as record `seq` of a side.
fn sealed(secret: &[u8], seq: u64, m: &[u8]) -> Vec<u8> {
    let (h, body) = seal(0x1301, secret, seq, m, 22, 0);
    let mut r = h.to_vec();
    r.extend(body);
    r
}

fn certificate(der: &[u8]) -> Vec<u8> {
    let mut entry = (der.len() as u32).to_be_bytes()[1..].to_vec();
    entry.extend(der);
    entry.extend([0, 0]);
    let mut body = vec![0];
    body.extend(&(entry.len() as u32).to_be_bytes()[1..]);
    body.extend(entry);
    msg(11, &body)
}

fn keys() -> KeyLog {
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let text = format!(
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET {r} {c}\nSERVER_HANDSHAKE_TRAFFIC_SECRET {r} {s}\n",
        r = hex(&RANDOM),
        c = hex(&CLIENT_SECRET),
        s = hex(&SERVER_SECRET)
    );
    let mut k = KeyLog::default();
    k.add("test", text.as_bytes());
    k
}

/// Client (direction 0) and server (1) flights of a mutual handshake.
fn run(early_data_records: usize, keys: &KeyLog) -> TlsSession {
    let mut s = TlsSession::new(Some(0));
    s.feed(0, &client_hello(early_data_records > 0), keys);
    // 0-RTT records go out before the ServerHello arrives.
    let mut early = Vec::new();
    for i in 0..early_data_records {
        let (h, body) = seal(0x1301, &[9; 32], i as u64, b"GET / HTTP/1.1", 23, 0);
        early.extend(h);
        early.extend(body);
    }
    let alpn = ext(16, &vec16(&[2, b'h', b'2']));
    let mut server = server_hello();
    server.extend(record(20, &[1])); // middlebox-compatibility CCS
    server.extend(sealed(&SERVER_SECRET, 0, &msg(8, &vec16(&alpn))));
    server.extend(sealed(&SERVER_SECRET, 1, &msg(13, &[0, 0, 0])));
    server.extend(sealed(&SERVER_SECRET, 2, &certificate(b"server-der")));
    server.extend(sealed(&SERVER_SECRET, 3, &msg(20, &[0; 32])));
    // Application data under other keys: never opened.
    server.extend(record(23, &[0xee; 40]));
    s.feed(1, &server, keys);
    let mut client = early;
    client.extend(sealed(&CLIENT_SECRET, 0, &certificate(b"client-der")));
    client.extend(sealed(
        &CLIENT_SECRET,
        1,
        &[msg(15, &[0; 8]), msg(20, &[0; 32])].concat(),
    ));
    client.extend(record(23, &[0xdd; 40]));
    s.feed(0, &client, keys);
    s
}

#[test]
fn a_mutual_handshake_is_read_to_both_finished() {
    let s = run(0, &keys());
    let f = &s.facts;
    let d = f.decryption.as_ref().unwrap();
    assert_eq!(
        (d.finished, d.messages, d.failed),
        ([true, true], [3, 4], None)
    );
    assert_eq!(f.encrypted_alpn.as_deref(), Some("h2"));
    assert!(f.certificate_request);
    assert_eq!(
        f.server_chain,
        Some(vec![ChainCert::Der(b"server-der".to_vec())])
    );
    assert_eq!(
        f.client_chain,
        Some(vec![ChainCert::Der(b"client-der".to_vec())])
    );
    let m = super::super::mtls::decide(f);
    assert_eq!(
        (m.mutual, m.evidence.map(|e| e.as_str())),
        (Some(true), Some("keylog-decrypted"))
    );
    assert!(s.is_decided());
}

#[test]
fn early_data_before_the_client_handshake_is_skipped() {
    let s = run(3, &keys());
    let d = s.facts.decryption.as_ref().unwrap();
    assert_eq!(
        (d.early_data_skipped, d.finished, d.failed),
        (3, [true, true], None)
    );
}

#[test]
fn without_matching_keys_nothing_is_read() {
    let mut other = KeyLog::default();
    other.add(
        "other",
        format!(
            "SERVER_HANDSHAKE_TRAFFIC_SECRET {} {}\n",
            "00".repeat(32),
            "11".repeat(32)
        )
        .as_bytes(),
    );
    let s = run(0, &other);
    let d = s.facts.decryption.as_ref().unwrap();
    assert!(!d.keys_found);
    assert!(s.facts.server_chain.is_none() && s.facts.encrypted_alpn.is_none());
    // No key log at all: no decryption block.
    assert!(run(0, &KeyLog::default()).facts.decryption.is_none());
}

#[test]
fn a_secret_of_the_wrong_length_does_not_fit() {
    let mut k = KeyLog::default();
    let r = RANDOM
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect::<String>();
    k.add(
        "k",
        format!("SERVER_HANDSHAKE_TRAFFIC_SECRET {r} {}\n", "02".repeat(48)).as_bytes(),
    );
    let s = run(0, &k);
    let d = s.facts.decryption.as_ref().unwrap();
    assert_eq!(d.failed, Some((false, OpenError::Authentication)));
    assert!(s.facts.server_chain.is_none());
}

/// TLS 1.3 draft 17 (0x7f11) had another key schedule: with its secrets in
/// the key log the handshake is not opened and nothing reads as a failure
/// (the report's status is `unsupported-draft`, not
/// `authentication-failed`).
#[test]
fn drafts_before_18_are_not_opened() {
    let keys = keys();
    let mut s = TlsSession::new(Some(0));
    let mut ch = vec![3, 3];
    ch.extend(RANDOM);
    ch.push(0);
    ch.extend(vec16(&[0x13, 0x01]));
    ch.extend([1, 0]);
    ch.extend(vec16(&ext(43, &[2, 0x7f, 0x11])));
    s.feed(0, &record(22, &msg(1, &ch)), &keys);
    // Drafts before 22: no session id echo, no compression method.
    let mut sh = vec![0x7f, 0x11];
    sh.extend([7u8; 32]);
    sh.extend([0x13, 0x01]);
    sh.extend(vec16(&[]));
    let mut server = record(22, &msg(2, &sh));
    server.extend(sealed(&SERVER_SECRET, 0, &msg(8, &vec16(&[]))));
    s.feed(1, &server, &keys);
    let d = s.facts.decryption.as_ref().expect("decryption facts");
    assert!(d.keys_found && d.unsupported_draft && !d.active());
    assert_eq!((d.failed, d.messages), (None, [0, 0]));
}
