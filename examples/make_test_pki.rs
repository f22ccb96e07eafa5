//! Test PKI for the tls-audit capture fixtures.
//!
//! `cargo run --example make_test_pki -- OUT_DIR` writes PEM files into OUT_DIR:
//!
//! | file                         | what                                                          |
//! |------------------------------|---------------------------------------------------------------|
//! | `root-ca.crt/.key`           | root CA (P-384, self-signed, no path length limit)            |
//! | `intermediate-ca.crt/.key`   | intermediate CA (P-256, pathlen 0) signed by the root         |
//! | `server.crt/.key`            | `api.pay.svc.cluster.local` + `spiffe://cluster.local/ns/pay/sa/api`, serverAuth+clientAuth, issued by the intermediate |
//! | `server-chain.pem`           | server.crt + intermediate-ca.crt (what a server sends)        |
//! | `client.crt/.key`            | `spiffe://cluster.local/ns/web/sa/frontend`, clientAuth, issued by the intermediate |
//! | `client-chain.pem`           | client.crt + intermediate-ca.crt                              |
//! | `deep-ca-1..3.crt/.key`      | a second, deeper branch: root -> deep-ca-1 -> deep-ca-2 -> deep-ca-3 |
//! | `big-server.crt/.key`        | `big.pay.svc.cluster.local` + 150 extra DNS SANs, issued by deep-ca-3 |
//! | `big-server-chain.pem`       | big-server.crt + deep-ca-3 + deep-ca-2 + deep-ca-1 (~5 KB flight) |
//! | `ca-bundle.pem`              | root-ca.crt only: the trust anchor every peer is given        |
//!
//! Validity is fixed (no dependence on the clock at generation time):
//! every certificate is valid from 2026-01-01T00:00:00Z; CAs until 2036-01-01,
//! workload certificates until 2035-12-31. Workload certificates in a real mesh
//! live ~24 h; long-lived ones are used here so that the real TLS stacks still
//! verify them whenever the captures are regenerated (until 2035).
//! Serial numbers are fixed too (see `SERIALS`), so tests can match on them.
//! ECDSA signatures are randomised, so fingerprints change on every run: the
//! committed `fixtures/pki/` is the one the committed captures were made with.

use std::{fs, path::Path};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

// Proven: called with constant, valid calendar dates only.
#[allow(clippy::unwrap_used)]
fn utc(y: i32, m: Month, d: u8) -> OffsetDateTime {
    PrimitiveDateTime::new(Date::from_calendar_date(y, m, d).unwrap(), Time::MIDNIGHT).assume_utc()
}

fn dn(cn: &str, ou: Option<&str>) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "tls-audit test");
    if let Some(ou) = ou {
        dn.push(DnType::OrganizationalUnitName, ou);
    }
    dn.push(DnType::CommonName, cn);
    dn
}

fn ca_params(cn: &str, serial: u64, pathlen: Option<u8>) -> Res<CertificateParams> {
    let mut p = CertificateParams::new(Vec::<String>::new())?;
    p.distinguished_name = dn(cn, None);
    p.is_ca = match pathlen {
        Some(n) => IsCa::Ca(BasicConstraints::Constrained(n)),
        None => IsCa::Ca(BasicConstraints::Unconstrained),
    };
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    p.not_before = utc(2026, Month::January, 1);
    p.not_after = utc(2036, Month::January, 1);
    p.serial_number = Some(SerialNumber::from(serial));
    p.use_authority_key_identifier_extension = true;
    Ok(p)
}

fn leaf_params(
    cn: &str,
    serial: u64,
    dns: &[String],
    uris: &[&str],
    ekus: &[ExtendedKeyUsagePurpose],
) -> Res<CertificateParams> {
    let mut p = CertificateParams::new(Vec::<String>::new())?;
    p.distinguished_name = dn(cn, Some("workloads"));
    for d in dns {
        p.subject_alt_names
            .push(SanType::DnsName(d.clone().try_into()?));
    }
    for u in uris {
        p.subject_alt_names.push(SanType::URI((*u).try_into()?));
    }
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = ekus.to_vec();
    p.not_before = utc(2026, Month::January, 1);
    p.not_after = utc(2035, Month::December, 31);
    p.serial_number = Some(SerialNumber::from(serial));
    p.use_authority_key_identifier_extension = true;
    Ok(p)
}

fn write(dir: &Path, name: &str, contents: &str) -> Res<()> {
    fs::write(dir.join(name), contents)?;
    println!("wrote {}", dir.join(name).display());
    Ok(())
}

/// Fixed serial numbers (hex in the certificates).
const SERIALS: [(&str, u64); 8] = [
    ("root-ca", 0x7e57_0001),
    ("intermediate-ca", 0x7e57_0002),
    ("server", 0x7e57_1001),
    ("client", 0x7e57_1002),
    ("deep-ca-1", 0x7e57_0011),
    ("deep-ca-2", 0x7e57_0012),
    ("deep-ca-3", 0x7e57_0013),
    ("big-server", 0x7e57_1003),
];

// Proven: called with the names in SERIALS only (a missing one is a bug in this tool).
#[allow(clippy::unwrap_used)]
fn serial(name: &str) -> u64 {
    SERIALS.iter().find(|(n, _)| *n == name).unwrap().1
}

fn main() -> Res<()> {
    let out = std::env::args()
        .nth(1)
        .ok_or("usage: make_test_pki OUT_DIR")?;
    let out = Path::new(&out);
    fs::create_dir_all(out)?;

    // Root CA (P-384).
    let root_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384)?;
    let root_params = ca_params("tls-audit Test Root CA", serial("root-ca"), None)?;
    let root_cert = root_params.self_signed(&root_key)?;
    write(out, "root-ca.crt", &root_cert.pem())?;
    write(out, "root-ca.key", &root_key.serialize_pem())?;
    write(out, "ca-bundle.pem", &root_cert.pem())?;
    let root = Issuer::new(root_params, root_key);

    // Intermediate CA (P-256, pathlen 0).
    let int_key = KeyPair::generate()?;
    let int_params = ca_params(
        "tls-audit Test Intermediate CA",
        serial("intermediate-ca"),
        Some(0),
    )?;
    let int_cert = int_params.signed_by(&int_key, &root)?;
    write(out, "intermediate-ca.crt", &int_cert.pem())?;
    write(out, "intermediate-ca.key", &int_key.serialize_pem())?;
    let int = Issuer::new(int_params, int_key);

    // Server workload certificate.
    let srv_key = KeyPair::generate()?;
    let srv_cert = leaf_params(
        "api.pay.svc.cluster.local",
        serial("server"),
        &["api.pay.svc.cluster.local".to_string()],
        &["spiffe://cluster.local/ns/pay/sa/api"],
        &[
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ],
    )?
    .signed_by(&srv_key, &int)?;
    write(out, "server.crt", &srv_cert.pem())?;
    write(out, "server.key", &srv_key.serialize_pem())?;
    write(out, "server-chain.pem", &(srv_cert.pem() + &int_cert.pem()))?;

    // Client workload certificate.
    let cli_key = KeyPair::generate()?;
    let cli_cert = leaf_params(
        "frontend.web.svc.cluster.local",
        serial("client"),
        &[],
        &["spiffe://cluster.local/ns/web/sa/frontend"],
        &[ExtendedKeyUsagePurpose::ClientAuth],
    )?
    .signed_by(&cli_key, &int)?;
    write(out, "client.crt", &cli_cert.pem())?;
    write(out, "client.key", &cli_key.serialize_pem())?;
    write(out, "client-chain.pem", &(cli_cert.pem() + &int_cert.pem()))?;

    // Deep branch: root -> deep-ca-1 -> deep-ca-2 -> deep-ca-3 -> big-server.
    let mut issuer = root;
    let mut deep_pems = Vec::new();
    for (i, pathlen) in [(1u8, 2u8), (2, 1), (3, 0)] {
        let name = format!("deep-ca-{i}");
        let key = KeyPair::generate()?;
        let params = ca_params(
            &format!("tls-audit Test Deep CA {i}"),
            serial(&name),
            Some(pathlen),
        )?;
        let cert = params.signed_by(&key, &issuer)?;
        write(out, &format!("{name}.crt"), &cert.pem())?;
        write(out, &format!("{name}.key"), &key.serialize_pem())?;
        deep_pems.push(cert.pem());
        issuer = Issuer::new(params, key);
    }
    let big_key = KeyPair::generate()?;
    let mut dns = vec!["big.pay.svc.cluster.local".to_string()];
    dns.extend((0..150).map(|i| format!("replica-{i:03}.big.pay.svc.cluster.local")));
    let big_cert = leaf_params(
        "big.pay.svc.cluster.local",
        serial("big-server"),
        &dns,
        &["spiffe://cluster.local/ns/pay/sa/big"],
        &[
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ],
    )?
    .signed_by(&big_key, &issuer)?;
    write(out, "big-server.crt", &big_cert.pem())?;
    write(out, "big-server.key", &big_key.serialize_pem())?;
    let mut chain = big_cert.pem();
    for p in deep_pems.iter().rev() {
        chain.push_str(p);
    }
    write(out, "big-server-chain.pem", &chain)?;
    Ok(())
}
