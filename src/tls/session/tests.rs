use super::*;

/// A real ClientHello record: OpenSSL 3 `s_client` offering TLS 1.3
/// (from fixtures/captures/openssl-tls13-mutual.pcap).
const CLIENT_HELLO: &[u8] = include_bytes!("../testdata/client_hello_openssl_tls13.bin");
/// A real TLS 1.2 server flight: ServerHello, Certificate,
/// ServerKeyExchange, CertificateRequest, ServerHelloDone
/// (from fixtures/captures/openssl-tls12-mutual.pcap).
const SERVER_FLIGHT: &[u8] = include_bytes!("../testdata/server_flight_openssl_tls12.bin");

/// The linkerd-style stream test: every prefix is "not yet", the whole
/// is the answer, and the answer does not change as more bytes arrive.
#[test]
fn every_prefix_of_a_client_hello() {
    let mut whole = TlsSession::new(None);
    whole.feed(0, CLIENT_HELLO, &KeyLog::default());
    let expected = whole.facts.client_hello.clone().expect("parses");
    assert_eq!(expected.sni.as_deref(), Some("api.pay.svc.cluster.local"));
    for cut in 0..CLIENT_HELLO.len() {
        let mut s = TlsSession::new(None);
        s.feed(0, &CLIENT_HELLO[..cut], &KeyLog::default());
        assert!(s.facts.client_hello.is_none(), "prefix {cut} decided early");
        assert!(!s.is_broken(0), "prefix {cut} rejected");
        s.feed(0, &CLIENT_HELLO[cut..], &KeyLog::default());
        assert_eq!(
            s.facts.client_hello.as_ref(),
            Some(&expected),
            "split at {cut}"
        );
    }
    // Bytes after the record (the next flight) change nothing.
    let mut s = TlsSession::new(None);
    s.feed(0, CLIENT_HELLO, &KeyLog::default());
    s.feed(0, &[20, 3, 3, 0, 1, 1], &KeyLog::default());
    assert_eq!(s.facts.client_hello.as_ref(), Some(&expected));
}

#[test]
fn every_split_of_a_tls12_server_flight() {
    let mut whole = TlsSession::new(Some(0));
    whole.feed(1, SERVER_FLIGHT, &KeyLog::default());
    let f = &whole.facts;
    assert!(f.server_hello.is_some() && f.certificate_request && f.server_hello_done);
    let chain = f.server_chain.clone().expect("chain");
    assert!(matches!(&chain[0], ChainCert::Der(d) if d.len() > 300));
    assert_eq!(chain.len(), 2);
    for cut in (0..SERVER_FLIGHT.len()).step_by(7) {
        let mut s = TlsSession::new(Some(0));
        s.feed(1, &SERVER_FLIGHT[..cut], &KeyLog::default());
        s.feed(1, &SERVER_FLIGHT[cut..], &KeyLog::default());
        assert_eq!(
            s.facts.server_chain.as_ref(),
            Some(&chain),
            "split at {cut}"
        );
        assert!(s.facts.certificate_request && s.facts.server_hello_done);
    }
}

#[test]
fn hrr_then_compatibility_ccs_keeps_parsing() {
    let mut hrr = vec![3, 3];
    hrr.extend(super::super::hello::HRR_RANDOM);
    hrr.extend([0, 0x13, 0x01, 0, 0, 6, 0, 43, 0, 2, 3, 4]);
    let mut sh = vec![3, 3];
    sh.extend([9u8; 32]);
    sh.extend([0, 0x13, 0x01, 0, 0, 6, 0, 43, 0, 2, 3, 4]);
    let rec = |body: &[u8]| {
        let mut m = vec![2, 0, 0, body.len() as u8];
        m.extend(body);
        let mut r = vec![22, 3, 3, 0, m.len() as u8];
        r.extend(m);
        r
    };
    let mut s = TlsSession::new(Some(0));
    s.feed(1, &rec(&hrr), &KeyLog::default());
    s.feed(1, &[20, 3, 3, 0, 1, 1], &KeyLog::default());
    s.feed(1, &rec(&sh), &KeyLog::default());
    assert!(s.facts.hello_retry_request);
    assert_eq!(s.facts.server_hello.as_ref().map(|h| h.random[0]), Some(9));
}
