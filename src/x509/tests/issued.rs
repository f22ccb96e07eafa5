//! Certificates issued with rcgen: a P-256 CA and a SPIFFE workload leaf.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use rcgen::string::{BmpString, Ia5String, TeletexString, UniversalString};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, DnValue,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
    date_time_ymd,
};

use super::Certificate;

const SPIFFE_ID: &str = "spiffe://cluster.local/ns/pay/sa/api";

fn ia5(s: &str) -> Ia5String {
    Ia5String::try_from(s).expect("ASCII")
}

fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::OrganizationName, "tls-audit");
    params
        .distinguished_name
        .push(DnType::CommonName, "Test Root CA");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(1));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.serial_number = Some(SerialNumber::from(1));
    params.not_before = date_time_ymd(2024, 1, 1);
    params.not_after = date_time_ymd(2034, 1, 1);
    params
}

/// A CA (self-signed) and a leaf it issued, as (leaf DER, CA DER).
pub(super) fn leaf() -> (Vec<u8>, Vec<u8>) {
    let ca_key = KeyPair::generate().expect("P-256 key");
    let ca = ca_params().self_signed(&ca_key).expect("CA");
    let issuer = Issuer::new(ca_params(), ca_key);

    let mut params = CertificateParams::new(vec!["api.pay.svc.cluster.local".to_owned()])
        .expect("valid DNS name");
    params.subject_alt_names.extend([
        SanType::URI(ia5(SPIFFE_ID)),
        SanType::URI(ia5("https://api.pay.example/")),
        SanType::IpAddress(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7))),
        SanType::IpAddress(IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 7))),
        SanType::Rfc822Name(ia5("api@pay.example")),
    ]);
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, "api");
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyAgreement,
    ];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ClientAuth,
        ExtendedKeyUsagePurpose::ServerAuth,
    ];
    params.serial_number = Some(SerialNumber::from(vec![0xC0, 0xFF, 0xEE]));
    params.not_before = date_time_ymd(2024, 6, 1);
    params.not_after = date_time_ymd(2024, 6, 2);
    let key = KeyPair::generate().expect("P-256 key");
    let leaf = params.signed_by(&key, &issuer).expect("leaf");
    (leaf.der().to_vec(), ca.der().to_vec())
}

#[test]
fn ca_certificate() {
    let (_, ca_der) = leaf();
    let ca = Certificate::from_der(&ca_der);
    assert_eq!(ca.parse_error, None);
    assert_eq!(ca.subject.as_deref(), Some("CN=Test Root CA,O=tls-audit"));
    assert_eq!(ca.issuer, ca.subject);
    assert!(ca.self_signed);
    assert_eq!(ca.serial.as_deref(), Some("1"));
    assert_eq!(ca.not_before.as_deref(), Some("2024-01-01T00:00:00Z"));
    assert_eq!(ca.not_after.as_deref(), Some("2034-01-01T00:00:00Z"));
    assert_eq!(ca.not_before_unix, Some(1_704_067_200));
    assert_eq!(ca.not_after_unix, Some(2_019_686_400));
    assert_eq!(ca.is_ca, Some(true));
    assert_eq!(ca.path_len, Some(1));
    assert_eq!(ca.key_usage, ["digitalSignature", "keyCertSign", "cRLSign"]);
    assert!(ca.extended_key_usage.is_empty());
    assert_eq!(ca.key_type.as_deref(), Some("EC"));
    assert_eq!(ca.key_bits, Some(256));
    assert_eq!(ca.ec_curve.as_deref(), Some("P-256"));
    assert_eq!(ca.signature_algorithm.as_deref(), Some("ecdsa-with-SHA256"));
    assert!(ca.dns_names.is_empty() && ca.uris.is_empty());
    assert!(ca.ip_addresses.is_empty() && ca.emails.is_empty());
    assert_eq!(ca.spiffe_id, None);
    assert_eq!(ca.der_len, ca_der.len());
}

#[test]
fn spiffe_leaf_certificate() {
    let (der, ca_der) = leaf();
    let cert = Certificate::from_der(&der);
    assert_eq!(cert.parse_error, None);
    assert_eq!(cert.subject.as_deref(), Some("CN=api"));
    assert_eq!(cert.issuer.as_deref(), Some("CN=Test Root CA,O=tls-audit"));
    assert!(!cert.self_signed);
    assert_eq!(cert.serial.as_deref(), Some("C0FFEE"));
    assert_eq!(cert.not_before.as_deref(), Some("2024-06-01T00:00:00Z"));
    assert_eq!(cert.not_after.as_deref(), Some("2024-06-02T00:00:00Z"));
    assert_eq!(cert.not_after_unix, Some(1_717_286_400));
    assert_eq!(cert.dns_names, ["api.pay.svc.cluster.local"]);
    assert_eq!(cert.uris, [SPIFFE_ID, "https://api.pay.example/"]);
    assert_eq!(cert.spiffe_id.as_deref(), Some(SPIFFE_ID));
    assert_eq!(cert.ip_addresses, ["10.0.0.7", "2001:db8::7"]);
    assert_eq!(cert.emails, ["api@pay.example"]);
    assert_eq!(cert.is_ca, Some(false));
    assert_eq!(cert.path_len, None);
    assert_eq!(cert.key_usage, ["digitalSignature", "keyAgreement"]);
    assert_eq!(cert.extended_key_usage, ["clientAuth", "serverAuth"]);
    assert_eq!(cert.key_type.as_deref(), Some("EC"));
    assert_eq!(cert.key_bits, Some(256));
    assert_eq!(cert.ec_curve.as_deref(), Some("P-256"));
    assert_eq!(
        cert.signature_algorithm.as_deref(),
        Some("ecdsa-with-SHA256")
    );
    assert_eq!(cert.der_len, der.len());
    assert_ne!(cert.sha256, Certificate::from_der(&ca_der).sha256);
}

#[test]
fn escaping_and_string_types_match_cryptography() {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, "US");
    dn.push(DnType::OrganizationName, " Acme, Inc. ");
    let bmp = BmpString::try_from("Ünïcødé").expect("BMP");
    dn.push(DnType::OrganizationalUnitName, DnValue::BmpString(bmp));
    let universal = UniversalString::try_from("Zürich 😀").expect("UCS-4");
    dn.push(DnType::LocalityName, DnValue::UniversalString(universal));
    let teletex = TeletexString::try_from("Berlin").expect("T.61");
    dn.push(DnType::StateOrProvinceName, DnValue::TeletexString(teletex));
    let email = DnType::CustomDnType(vec![1, 2, 840, 113_549, 1, 9, 1]);
    dn.push(email, DnValue::Ia5String(ia5("a+b@x.example")));
    dn.push(DnType::CommonName, r#"#1 "quoted" a+b;c<d>e\f=g"#);
    let mut params = CertificateParams::default();
    params.distinguished_name = dn;
    let key = KeyPair::generate().expect("P-256 key");
    let der = params.self_signed(&key).expect("cert").der().to_vec();

    // `Name.rfc4514_string()` of this DER, from cryptography 48.0.0.
    let expected = concat!(
        r#"CN=\#1 \"quoted\" a\+b\;c\<d\>e\\f=g,"#,
        r"1.2.840.113549.1.9.1=a\+b@x.example,",
        "ST=Berlin,L=Zürich 😀,OU=Ünïcødé,",
        r"O=\ Acme\, Inc.\ ,C=US",
    );
    let cert = Certificate::from_der(&der);
    assert_eq!(cert.subject.as_deref(), Some(expected));
    assert_eq!(cert.issuer.as_deref(), Some(expected));
}

#[test]
fn generalized_time_before_1950_and_after_2049() {
    let mut params = CertificateParams::default();
    params.not_before = date_time_ymd(1949, 12, 31);
    params.not_after = date_time_ymd(2050, 1, 1);
    let key = KeyPair::generate().expect("P-256 key");
    let der = params.self_signed(&key).expect("cert").der().to_vec();
    let cert = Certificate::from_der(&der);
    assert_eq!(cert.not_before.as_deref(), Some("1949-12-31T00:00:00Z"));
    assert_eq!(cert.not_before_unix, Some(-631_238_400));
    assert_eq!(cert.not_after.as_deref(), Some("2050-01-01T00:00:00Z"));
    assert_eq!(cert.not_after_unix, Some(2_524_608_000));
    // rcgen omits basicConstraints for an end entity unless asked.
    assert_eq!(cert.is_ca, None);
}

#[test]
fn large_san_list() {
    let names: Vec<String> = (0..20_000).map(|i| format!("host-{i}.example")).collect();
    let params = CertificateParams::new(names).expect("valid DNS names");
    let key = KeyPair::generate().expect("P-256 key");
    let der = params.self_signed(&key).expect("cert").der().to_vec();
    assert!(der.len() > 300_000);
    let cert = Certificate::from_der(&der);
    assert_eq!(cert.parse_error, None);
    assert_eq!(cert.dns_names.len(), 20_000);
    assert_eq!(
        cert.dns_names.last().map(String::as_str),
        Some("host-19999.example")
    );
}
