//! Hand-built DER for what rcgen cannot express (multi-valued RDNs,
//! negative serials, odd attribute value types), an RSA fixture, and the
//! private helpers.

use super::super::{dotted_arcs, ip_address_text, is_spiffe, prefix_len, serial_hex};
use super::Certificate;

/// Self-signed RSA 2048 certificate made with Python `cryptography`:
/// subject C=DE, O=Example "Quoted" GmbH, CN=rsa.example,
/// emailAddress=ops@example.com; serial 0x8BADF00D; notAfter in 2051
/// (GeneralizedTime); KU digitalSignature+keyEncipherment; EKU serverAuth;
/// SAN DNS, IPv6 and email. rcgen cannot generate RSA keys with ring.
pub(super) const RSA2048: &[u8] = include_bytes!("../testdata/rsa2048.der");

#[test]
fn rsa_fixture() {
    let cert = Certificate::from_der(RSA2048);
    assert_eq!(cert.parse_error, None);
    // Values below are cryptography's, except the key and algorithm names.
    let name =
        r#"1.2.840.113549.1.9.1=ops@example.com,CN=rsa.example,O=Example \"Quoted\" GmbH,C=DE"#;
    assert_eq!(cert.subject.as_deref(), Some(name));
    assert_eq!(cert.issuer.as_deref(), Some(name));
    assert!(cert.self_signed);
    assert_eq!(
        cert.sha256,
        "6a9d67e3a0727d6c17d341e6126a9de5ffa23acc01d46851b633627cebfb7ccc"
    );
    assert_eq!(cert.der_len, 955);
    assert_eq!(cert.serial.as_deref(), Some("8BADF00D"));
    assert_eq!(cert.not_before.as_deref(), Some("2024-01-01T00:00:00Z"));
    assert_eq!(cert.not_after.as_deref(), Some("2051-01-01T12:30:05Z"));
    assert_eq!(cert.not_after_unix, Some(2_556_189_005));
    assert_eq!(cert.dns_names, ["rsa.example"]);
    assert_eq!(cert.ip_addresses, ["2001:db8::1"]);
    assert_eq!(cert.emails, ["ops@example.com"]);
    assert!(cert.uris.is_empty());
    assert_eq!(cert.spiffe_id, None);
    assert_eq!(cert.key_type.as_deref(), Some("RSA"));
    assert_eq!(cert.key_bits, Some(2048));
    assert_eq!(cert.ec_curve, None);
    assert_eq!(
        cert.signature_algorithm.as_deref(),
        Some("sha256WithRSAEncryption")
    );
    assert_eq!(cert.is_ca, Some(false));
    assert_eq!(cert.path_len, None);
    assert_eq!(cert.key_usage, ["digitalSignature", "keyEncipherment"]);
    assert_eq!(cert.extended_key_usage, ["serverAuth"]);
}

fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    match u16::try_from(body.len()) {
        Ok(len @ 0..=127) => out.push(len.to_be_bytes()[1]),
        Ok(len) => {
            out.push(0x82);
            out.extend(len.to_be_bytes());
        }
        Err(_) => panic!("test object too large"),
    }
    out.extend(body);
    out
}

fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

/// An AttributeTypeAndValue; `oid` is the encoded OID body.
fn atv(oid: &[u8], tag: u8, value: &[u8]) -> Vec<u8> {
    seq(&[tlv(0x06, oid), tlv(tag, value)])
}

const CN: &[u8] = &[0x55, 0x04, 0x03];
const O: &[u8] = &[0x55, 0x04, 0x0a];
const OU: &[u8] = &[0x55, 0x04, 0x0b];
const UNIQUE_ID: &[u8] = &[0x55, 0x04, 0x2d];
const UTF8: u8 = 0x0c;

/// A certificate around the given fields; the signature is not valid, which
/// `from_der` does not check.
fn certificate(subject: &[u8], serial: &[u8], extensions: &[Vec<u8>]) -> Vec<u8> {
    let ecdsa_sha256 = seq(&[tlv(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02])]);
    let ec_key = seq(&[
        tlv(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]),
        tlv(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]),
    ]);
    let mut point = vec![0x00, 0x04];
    point.extend([0x11; 64]);
    let mut tbs = vec![
        tlv(0xa0, &tlv(0x02, &[0x02])),
        tlv(0x02, serial),
        ecdsa_sha256.clone(),
        subject.to_vec(),
        seq(&[tlv(0x17, b"240101000000Z"), tlv(0x18, b"20500101000000Z")]),
        subject.to_vec(),
        seq(&[ec_key, tlv(0x03, &point)]),
    ];
    if !extensions.is_empty() {
        tbs.push(tlv(0xa3, &seq(extensions)));
    }
    seq(&[seq(&tbs), ecdsa_sha256, tlv(0x03, &[0x00, 0x30, 0x00])])
}

fn subject_of(name: &[u8]) -> Option<String> {
    let cert = Certificate::from_der(&certificate(name, &[0x01], &[]));
    assert_eq!(cert.parse_error, None);
    cert.subject
}

#[test]
fn multi_valued_rdn_keeps_der_order() {
    // SET elements in DER order (sorted by encoding): OU's is shorter.
    let rdn = tlv(
        0x31,
        &[atv(OU, UTF8, b"Eng"), atv(O, UTF8, b"Acme")].concat(),
    );
    let name = seq(&[rdn, tlv(0x31, &atv(CN, UTF8, b"svc"))]);
    // cryptography 48.0.0 on the same DER:
    assert_eq!(subject_of(&name).as_deref(), Some("CN=svc,OU=Eng+O=Acme"));
}

#[test]
fn values_cryptography_renders_or_refuses() {
    let one = |oid: &[u8], tag: u8, value: &[u8]| seq(&[tlv(0x31, &atv(oid, tag, value))]);
    // x500UniqueIdentifier BIT STRING: '#' and the hex of the content octets.
    let uid = one(UNIQUE_ID, 0x03, &[0x00, 0xab, 0xcd]);
    assert_eq!(subject_of(&uid).as_deref(), Some("2.5.4.45=#00abcd"));
    assert_eq!(
        subject_of(&one(CN, 0x04, b"oct")).as_deref(),
        Some("CN=oct")
    );
    assert_eq!(
        subject_of(&one(CN, UTF8, b"a\0b")).as_deref(),
        Some(r"CN=a\00b")
    );
    assert_eq!(subject_of(&one(CN, UTF8, b"")).as_deref(), Some("CN="));
    assert_eq!(subject_of(&seq(&[])).as_deref(), Some(""));
    // cryptography raises for each of these, so there is no string.
    assert_eq!(subject_of(&one(CN, 0x03, &[0x00, 0xab])), None);
    assert_eq!(subject_of(&one(CN, 0x02, &[0x05])), None);
    assert_eq!(subject_of(&one(CN, 0x14, b"caf\xe9")), None);
    assert_eq!(subject_of(&one(CN, 0x1e, &[0xd8, 0x00])), None);
    assert_eq!(subject_of(&one(CN, 0x1c, &[0x00, 0x11, 0x00, 0x00])), None);
    let twice = atv(CN, UTF8, b"x");
    let duplicate = seq(&[tlv(0x31, &[twice.clone(), twice].concat())]);
    assert_eq!(subject_of(&duplicate), None);
}

#[test]
fn serials_as_cryptography_formats_them() {
    let serial = |raw: &[u8]| {
        let name = seq(&[tlv(0x31, &atv(CN, UTF8, b"x"))]);
        Certificate::from_der(&certificate(&name, raw, &[])).serial
    };
    assert_eq!(serial(&[0xff, 0x00]).as_deref(), Some("-100"));
    assert_eq!(serial(&[0x00, 0x8f, 0x01]).as_deref(), Some("8F01"));
    assert_eq!(serial_hex(&[0x00]).as_deref(), Some("0"));
    assert_eq!(serial_hex(&[0xff]).as_deref(), Some("-1"));
    assert_eq!(serial_hex(&[0x80]).as_deref(), Some("-80"));
    assert_eq!(serial_hex(&[0x80, 0x00]).as_deref(), Some("-8000"));
    assert_eq!(serial_hex(&[0x00, 0x00, 0x01]).as_deref(), Some("1"));
    assert_eq!(serial_hex(&[]), None);
}

#[test]
fn san_ip_forms_and_spiffe_scheme() {
    let ip = |bytes: &[u8]| tlv(0x87, bytes);
    let san = seq(&[
        tlv(0x06, &[0x55, 0x1d, 0x11]),
        tlv(
            0x04,
            &seq(&[
                tlv(0x86, b"urn:example:x"),
                tlv(0x86, b"SPIFFE://td/a"),
                ip(&[10, 0, 0, 0, 255, 255, 255, 0]),
                ip(&[10, 0, 0, 0, 255, 0, 255, 0]),
                ip(&[1, 2, 3]),
            ]),
        ),
    ]);
    let name = seq(&[tlv(0x31, &atv(CN, UTF8, b"x"))]);
    let cert = Certificate::from_der(&certificate(&name, &[0x01], &[san]));
    assert_eq!(cert.parse_error, None);
    assert_eq!(cert.spiffe_id.as_deref(), Some("SPIFFE://td/a"));
    assert_eq!(cert.ip_addresses, ["10.0.0.0/24"]);

    let mut v6 = [0u8; 32];
    v6[0] = 0x20;
    v6[1] = 0x01;
    v6[16..24].fill(0xff);
    assert_eq!(ip_address_text(&v6).as_deref(), Some("2001::/64"));
    assert_eq!(prefix_len(0, 32), Some(0));
    assert_eq!(prefix_len(u128::from(u32::MAX), 32), Some(32));
    assert_eq!(prefix_len(1, 32), None);
    assert!(is_spiffe("spiffe://x") && !is_spiffe("spiffe") && !is_spiffe("https://x"));
}

#[test]
fn oid_arcs_up_to_128_bits() {
    assert_eq!(dotted_arcs(&[0x55, 0x04, 0x03]).as_deref(), Some("2.5.4.3"));
    assert_eq!(dotted_arcs(&[0x27, 0x01]).as_deref(), Some("0.39.1"));
    // 2.999: the first subidentifier carries 999 + 80.
    assert_eq!(dotted_arcs(&[0x88, 0x37]).as_deref(), Some("2.999"));
    // 1.2.3.4.5.99999999999999999999 (beyond u64), as cryptography prints it.
    let big = [
        0x2a, 0x03, 0x04, 0x05, 0x8a, 0xeb, 0xe3, 0xd7, 0xc5, 0xd6, 0x98, 0xbf, 0xff, 0x7f,
    ];
    assert_eq!(
        dotted_arcs(&big).as_deref(),
        Some("1.2.3.4.5.99999999999999999999")
    );
    assert_eq!(dotted_arcs(&[0xff; 20]), None);
    assert_eq!(dotted_arcs(&[0x2a, 0x83]), None);
    assert_eq!(dotted_arcs(&[]), None);
}
