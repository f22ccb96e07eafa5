//! Tests for `Certificate::from_der`: certificates issued with rcgen
//! (`issued`), hand-built DER for what rcgen cannot express plus an RSA
//! fixture (`crafted`), and hostile input here.
//!
//! Where an expected string is "as `cryptography` renders it", it was
//! computed once with Python `cryptography` 48.0.0 from the very same DER
//! and hard-coded.

mod crafted;
mod issued;

use super::Certificate;

/// SHA-256 of the empty input (FIPS 180-2 test vector).
const SHA256_EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// A certificate for which only the input-derived fields are meaningful.
fn assert_unparsed(cert: &Certificate, der: &[u8]) {
    assert!(
        cert.parse_error.is_some(),
        "expected a parse error for {der:02x?}"
    );
    assert_eq!(cert.der_len, der.len());
    assert_eq!(cert.sha256.len(), 64);
    assert!(
        cert.sha256
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
    assert_eq!(cert.subject, None);
    assert_eq!(cert.issuer, None);
    assert_eq!(cert.serial, None);
    assert_eq!(cert.not_before, None);
    assert_eq!(cert.not_after_unix, None);
    assert!(cert.dns_names.is_empty() && cert.uris.is_empty());
    assert_eq!(cert.spiffe_id, None);
    assert_eq!(cert.key_type, None);
    assert_eq!(cert.is_ca, None);
    assert!(!cert.self_signed);
}

/// xorshift64*: deterministic pseudo-random bytes, no dependency needed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).expect("fits in usize")
    }

    fn byte(&mut self) -> u8 {
        self.next().to_le_bytes()[0]
    }
}

#[test]
fn empty_input() {
    let cert = Certificate::from_der(&[]);
    assert_unparsed(&cert, &[]);
    assert_eq!(cert.sha256, SHA256_EMPTY);
}

#[test]
fn random_garbage_never_panics() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for round in 0..3000 {
        let len = rng.below(600);
        let mut der: Vec<u8> = (0..len).map(|_| rng.byte()).collect();
        // Half the inputs start like a certificate, to get past the first
        // header into the nested parsers.
        if round % 2 == 0 && len >= 5 {
            der[0] = 0x30;
            der[1] = 0x82;
            let body = u16::try_from(len - 4).expect("short");
            der[2..4].copy_from_slice(&body.to_be_bytes());
            der[4] = 0x30;
        }
        let cert = Certificate::from_der(&der);
        assert_eq!(cert.der_len, len);
        assert_eq!(cert.sha256.len(), 64);
    }
}

#[test]
fn every_truncation_is_a_parse_error() {
    for der in [issued::leaf().0, crafted::RSA2048.to_vec()] {
        assert!(Certificate::from_der(&der).parse_error.is_none());
        for end in 0..der.len() {
            let prefix = &der[..end];
            assert_unparsed(&Certificate::from_der(prefix), prefix);
        }
    }
}

#[test]
fn mutated_certificates_never_panic() {
    let mut rng = Rng(42);
    for der in [issued::leaf().0, crafted::RSA2048.to_vec()] {
        for _ in 0..2000 {
            let mut mutated = der.clone();
            for _ in 0..=rng.below(4) {
                let at = rng.below(mutated.len());
                mutated[at] = rng.byte();
            }
            let cert = Certificate::from_der(&mutated);
            assert_eq!(cert.der_len, mutated.len());
        }
    }
}

#[test]
fn trailing_data_is_a_parse_error() {
    let mut der = crafted::RSA2048.to_vec();
    der.push(0);
    let cert = Certificate::from_der(&der);
    assert_unparsed(&cert, &der);
    assert_eq!(
        cert.parse_error.as_deref(),
        Some("1 bytes of trailing data after the certificate")
    );
}

#[test]
fn oversized_input_is_hashed_not_parsed() {
    let der = vec![0u8; super::MAX_DER_LEN + 1];
    let cert = Certificate::from_der(&der);
    assert_unparsed(&cert, &der);
    let error = cert.parse_error.unwrap_or_default();
    assert!(error.contains("exceeds"), "{error}");
}

#[test]
fn json_round_trip_skips_unix_times() {
    let cert = Certificate::from_der(crafted::RSA2048);
    let json = serde_json::to_value(&cert).expect("serializable");
    assert_eq!(json["serial"], "8BADF00D");
    assert_eq!(json["parse_error"], serde_json::Value::Null);
    assert!(json.get("not_before_unix").is_none());
    let back: Certificate = serde_json::from_value(json).expect("deserializable");
    assert_eq!(back.not_before_unix, None);
    assert_eq!(
        back,
        Certificate {
            not_before_unix: None,
            not_after_unix: None,
            der: None,
            ..cert
        }
    );
}
