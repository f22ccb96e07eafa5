//! Chain checks on certificates issued here with rcgen.

use super::*;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType, IsCa, KeyPair,
    PKCS_ECDSA_P256_SHA256, PKCS_ECDSA_P384_SHA384, PKCS_ED25519, SignatureAlgorithm,
};

type Ca = CertifiedIssuer<'static, KeyPair>;

fn params(cn: &str, is_ca: IsCa) -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    params.distinguished_name = dn;
    params.is_ca = is_ca;
    params
}

fn ca() -> IsCa {
    IsCa::Ca(BasicConstraints::Unconstrained)
}

fn key(alg: &'static SignatureAlgorithm) -> KeyPair {
    KeyPair::generate_for(alg).expect("key generation")
}

fn root(cn: &str, alg: &'static SignatureAlgorithm) -> Ca {
    CertifiedIssuer::self_signed(params(cn, ca()), key(alg)).expect("root")
}

fn sub_ca(cn: &str, alg: &'static SignatureAlgorithm, parent: &Ca, is_ca: IsCa) -> Ca {
    CertifiedIssuer::signed_by(params(cn, is_ca), key(alg), &**parent).expect("sub CA")
}

fn leaf(cn: &str, alg: &'static SignatureAlgorithm, parent: &Ca) -> Vec<u8> {
    let cert = params(cn, IsCa::NoCa)
        .signed_by(&key(alg), &**parent)
        .expect("leaf");
    cert.der().to_vec()
}

fn make_self_signed_leaf(cn: &str) -> Vec<u8> {
    let cert = params(cn, IsCa::NoCa)
        .self_signed(&key(&PKCS_ECDSA_P256_SHA256))
        .expect("self-signed");
    cert.der().to_vec()
}

fn der(ca: &Ca) -> Vec<u8> {
    ca.der().to_vec()
}

/// root → intermediate → leaf, all ECDSA P-256.
struct Pki {
    root: Ca,
    inter: Ca,
    leaf: Vec<u8>,
}

fn pki() -> Pki {
    let root = root("Test Root", &PKCS_ECDSA_P256_SHA256);
    let inter = sub_ca("Test Intermediate", &PKCS_ECDSA_P256_SHA256, &root, ca());
    let leaf = leaf("leaf.test", &PKCS_ECDSA_P256_SHA256, &inter);
    Pki { root, inter, leaf }
}

fn base64(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// PEM text of one DER block (also used by the verifier's tests).
pub(crate) fn pem_block(label: &str, der: &[u8]) -> String {
    let body = base64(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).expect("ascii"))
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

fn bundle(ders: &[&[u8]]) -> TrustBundle {
    let pem: String = ders.iter().map(|d| pem_block("CERTIFICATE", d)).collect();
    TrustBundle::from_pem(pem.as_bytes()).expect("bundle")
}

fn check(bundle: Option<TrustBundle>, chain: &[&[u8]]) -> ChainCheck {
    ChainChecker::new(bundle).check(chain)
}

fn kinds(result: &ChainCheck) -> Vec<(&'static str, Option<usize>)> {
    result.problems.iter().map(|p| (p.kind, p.index)).collect()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

#[test]
fn empty_chain_is_default() {
    let b = bundle(&[&der(&pki().root)]);
    assert_eq!(check(Some(b), &[]), ChainCheck::default());
}

#[test]
fn good_chain_has_no_problems() {
    let p = pki();
    let (root, inter) = (der(&p.root), der(&p.inter));
    let result = check(None, &[&p.leaf, &inter, &root]);
    assert_eq!(kinds(&result), []);
    assert_eq!(result.anchored, None);
    // leaf by intermediate, intermediate by root, root by itself
    assert_eq!(result.signatures_verified, 3);
}

#[test]
fn mixed_algorithms_verify() {
    let root = root("P-384 Root", &PKCS_ECDSA_P384_SHA384);
    let inter = sub_ca("Ed25519 Intermediate", &PKCS_ED25519, &root, ca());
    let leaf = leaf("leaf.test", &PKCS_ECDSA_P256_SHA256, &inter);
    let result = check(None, &[&leaf, &der(&inter), &der(&root)]);
    assert_eq!(kinds(&result), []);
    assert_eq!(result.signatures_verified, 3);
}

#[test]
fn anchored_by_root_in_bundle() {
    let p = pki();
    let (root, inter) = (der(&p.root), der(&p.inter));
    let result = check(Some(bundle(&[&root])), &[&p.leaf, &inter, &root]);
    assert_eq!(kinds(&result), []);
    assert_eq!(result.anchored, Some(true));

    // Root not sent: reached by name and a verified signature.
    let result = check(Some(bundle(&[&root])), &[&p.leaf, &inter]);
    assert_eq!(kinds(&result), []);
    assert_eq!(result.anchored, Some(true));
    assert_eq!(result.signatures_verified, 2);
}

#[test]
fn pinned_intermediate_anchors() {
    let p = pki();
    let inter = der(&p.inter);
    let result = check(Some(bundle(&[&inter])), &[&p.leaf]);
    assert_eq!(kinds(&result), []);
    assert_eq!(result.anchored, Some(true));
}

#[test]
fn bundle_without_root() {
    let p = pki();
    let other = der(&root("Other Root", &PKCS_ECDSA_P256_SHA256));
    let (root, inter) = (der(&p.root), der(&p.inter));

    let result = check(Some(bundle(&[&other])), &[&p.leaf, &inter]);
    assert_eq!(kinds(&result), [(kind::MISSING_INTERMEDIATE, Some(1))]);
    assert_eq!(result.anchored, Some(false));

    let result = check(Some(bundle(&[&other])), &[&p.leaf, &inter, &root]);
    assert_eq!(kinds(&result), [(kind::NOT_ANCHORED, Some(2))]);
    assert_eq!(result.anchored, Some(false));
}

#[test]
fn anchor_with_same_name_but_other_key() {
    let p = pki();
    let impostor = der(&root("Test Root", &PKCS_ECDSA_P256_SHA256));
    let result = check(Some(bundle(&[&impostor])), &[&p.leaf, &der(&p.inter)]);
    assert_eq!(kinds(&result), [(kind::NOT_ANCHORED, Some(1))]);
    assert!(result.problems[0].detail.contains("does not verify"));
    assert_eq!(result.anchored, Some(false));
}

#[test]
fn intermediate_missing_between_leaf_and_root() {
    let p = pki();
    let root = der(&p.root);
    let result = check(Some(bundle(&[&root])), &[&p.leaf, &root]);
    assert_eq!(
        kinds(&result),
        [
            (kind::ISSUER_MISMATCH, Some(0)),
            (kind::MISSING_INTERMEDIATE, Some(0)),
        ]
    );
    assert_eq!(result.anchored, Some(false));

    let result = check(None, &[&p.leaf, &root]);
    assert_eq!(kinds(&result), [(kind::ISSUER_MISMATCH, Some(0))]);
}

#[test]
fn leaf_alone_is_fine_without_bundle() {
    let p = pki();
    let result = check(None, &[&p.leaf]);
    assert_eq!(kinds(&result), []);
    assert_eq!(result.signatures_verified, 0);
}

#[test]
fn swapped_order() {
    let p = pki();
    let (root, inter) = (der(&p.root), der(&p.inter));
    let result = check(None, &[&p.leaf, &root, &inter]);
    assert_eq!(
        kinds(&result),
        [(kind::CHAIN_ORDER, Some(0)), (kind::CHAIN_ORDER, Some(2))]
    );
    assert!(result.problems[0].detail.contains("index 2"));
    assert_eq!(result.signatures_verified, 3);

    // Out of order is still anchored (TLS 1.3 tolerates it).
    let result = check(Some(bundle(&[&root])), &[&p.leaf, &root, &inter]);
    assert_eq!(result.anchored, Some(true));
}

#[test]
fn unrelated_certificate_after_root() {
    let p = pki();
    let other = der(&root("Other Root", &PKCS_ECDSA_P256_SHA256));
    let (root, inter) = (der(&p.root), der(&p.inter));
    let result = check(None, &[&p.leaf, &inter, &root, &other]);
    assert_eq!(kinds(&result), [(kind::ISSUER_MISMATCH, Some(2))]);
}

#[test]
fn broken_signature() {
    let p = pki();
    let (root, inter) = (der(&p.root), der(&p.inter));
    let mut broken = p.leaf.clone();
    // The last byte is inside the signature BIT STRING.
    if let Some(last) = broken.last_mut() {
        *last ^= 0x01;
    }
    let result = check(None, &[&broken, &inter, &root]);
    assert_eq!(kinds(&result), [(kind::BAD_SIGNATURE, Some(0))]);
    assert_eq!(result.signatures_verified, 2);

    let result = check(Some(bundle(&[&root])), &[&broken, &inter, &root]);
    assert_eq!(
        kinds(&result),
        [
            (kind::BAD_SIGNATURE, Some(0)),
            (kind::NOT_ANCHORED, Some(0))
        ]
    );
    assert_eq!(result.anchored, Some(false));
}

#[test]
fn broken_root_self_signature() {
    let p = pki();
    let mut root = der(&p.root);
    if let Some(last) = root.last_mut() {
        *last ^= 0x01;
    }
    let result = check(None, &[&p.leaf, &der(&p.inter), &root]);
    assert_eq!(kinds(&result), [(kind::BAD_SIGNATURE, Some(2))]);
    assert!(result.problems[0].detail.contains("its own key"));
}

#[test]
fn unsupported_signature_algorithm() {
    let p = pki();
    let (root, inter) = (der(&p.root), der(&p.inter));
    let mut leaf = p.leaf.clone();
    // Outer signatureAlgorithm ecdsa-with-SHA256 → ecdsa-with-SHA512,
    // which x509-parser's ring backend does not verify.
    let oid = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
    let at = find(&leaf, &oid).expect("signature OID");
    leaf[at + oid.len() - 1] = 0x04;
    let result = check(None, &[&leaf, &inter, &root]);
    assert_eq!(
        kinds(&result),
        [(kind::UNSUPPORTED_SIGNATURE_ALGORITHM, Some(0))]
    );
    // Still a link: the chain is anchored by name past it.
    let result = check(Some(bundle(&[&root])), &[&leaf, &inter, &root]);
    assert_eq!(result.anchored, Some(true));
}

#[test]
fn self_signed_leaf() {
    let leaf = make_self_signed_leaf("selfsigned.test");
    let result = check(None, &[&leaf]);
    assert_eq!(kinds(&result), [(kind::SELF_SIGNED_LEAF, Some(0))]);
    assert_eq!(result.signatures_verified, 1);

    let other = der(&root("Other Root", &PKCS_ECDSA_P256_SHA256));
    let result = check(Some(bundle(&[&other])), &[&leaf]);
    assert_eq!(
        kinds(&result),
        [
            (kind::SELF_SIGNED_LEAF, Some(0)),
            (kind::NOT_ANCHORED, Some(0))
        ]
    );
    assert_eq!(result.anchored, Some(false));
}

#[test]
fn pinned_self_signed_leaf() {
    let leaf = make_self_signed_leaf("pinned.test");
    let other = der(&root("Other Root", &PKCS_ECDSA_P256_SHA256));
    let result = check(Some(bundle(&[&other, &leaf])), &[&leaf]);
    assert_eq!(kinds(&result), []);
    assert_eq!(result.anchored, Some(true));
}

#[test]
fn issuer_not_ca() {
    for not_ca in [IsCa::NoCa, IsCa::ExplicitNoCa] {
        let root = root("Test Root", &PKCS_ECDSA_P256_SHA256);
        let inter = sub_ca("Not A CA", &PKCS_ECDSA_P256_SHA256, &root, not_ca);
        let leaf = leaf("leaf.test", &PKCS_ECDSA_P256_SHA256, &inter);
        let result = check(None, &[&leaf, &der(&inter), &der(&root)]);
        assert_eq!(kinds(&result), [(kind::ISSUER_NOT_CA, Some(1))]);
    }
}

#[test]
fn duplicate_certificate() {
    let p = pki();
    let (root, inter) = (der(&p.root), der(&p.inter));
    let result = check(Some(bundle(&[&root])), &[&p.leaf, &inter, &inter, &root]);
    assert_eq!(kinds(&result), [(kind::DUPLICATE_CERTIFICATE, Some(2))]);
    assert_eq!(result.anchored, Some(true));
}

#[test]
fn garbage_is_unparsable() {
    let result = check(None, &[b"not a certificate"]);
    assert_eq!(kinds(&result), [(kind::UNPARSABLE, Some(0))]);

    let p = pki();
    let root = der(&p.root);
    let result = check(
        Some(bundle(&[&root])),
        &[&p.leaf, b"\x30\x03\x02\x01\x00", &root],
    );
    assert_eq!(
        kinds(&result),
        [(kind::NOT_ANCHORED, Some(0)), (kind::UNPARSABLE, Some(1))]
    );

    let result = check(Some(bundle(&[&root])), &[b"junk", &root]);
    assert_eq!(kinds(&result), [(kind::UNPARSABLE, Some(0))]);
    assert_eq!(result.anchored, Some(false));

    let mut trailing = p.leaf.clone();
    trailing.push(0);
    let result = check(None, &[&trailing]);
    assert_eq!(kinds(&result), [(kind::UNPARSABLE, Some(0))]);
    assert!(result.problems[0].detail.contains("trailing"));
}

#[test]
fn chain_too_long() {
    let mut cas = vec![root("Root 0", &PKCS_ECDSA_P256_SHA256)];
    for k in 1..16 {
        let next = sub_ca(
            &format!("CA {k}"),
            &PKCS_ECDSA_P256_SHA256,
            &cas[k - 1],
            ca(),
        );
        cas.push(next);
    }
    let leaf = leaf("leaf.test", &PKCS_ECDSA_P256_SHA256, &cas[15]);
    let mut chain = vec![leaf];
    chain.extend(cas.iter().rev().map(der));
    assert_eq!(chain.len(), 17);
    let refs: Vec<&[u8]> = chain.iter().map(Vec::as_slice).collect();
    let result = check(None, &refs);
    assert_eq!(kinds(&result), [(kind::CHAIN_TOO_LONG, None)]);
    assert!(result.problems[0].detail.contains("17"));
    assert_eq!(result.signatures_verified, 15);

    // The 16 checked reach the root's name: anchored by the bundle.
    let result = check(Some(bundle(&[&der(&cas[0])])), &refs);
    assert_eq!(kinds(&result), [(kind::CHAIN_TOO_LONG, None)]);
    assert_eq!(result.anchored, Some(true));

    let other = der(&root("Other Root", &PKCS_ECDSA_P256_SHA256));
    let result = check(Some(bundle(&[&other])), &refs[..16]);
    assert_eq!(kinds(&result), [(kind::MISSING_INTERMEDIATE, Some(15))]);
}

#[test]
fn cache_gives_same_result() {
    let p = pki();
    let (root, inter) = (der(&p.root), der(&p.inter));
    let mut broken = p.leaf.clone();
    if let Some(last) = broken.last_mut() {
        *last ^= 0x01;
    }
    let mut checker = ChainChecker::new(Some(bundle(&[&root])));
    for chain in [[&p.leaf, &inter, &root], [&broken, &inter, &root]] {
        let chain: Vec<&[u8]> = chain.iter().map(|c| c.as_slice()).collect();
        let first = checker.check(&chain);
        let cached = checker.cache.len();
        assert!(cached > 0);
        let second = checker.check(&chain);
        assert_eq!(first, second);
        assert_eq!(
            checker.cache.len(),
            cached,
            "second pass is served from cache"
        );
    }
}

#[test]
fn cache_is_bounded() {
    let mut cache = Cache::new();
    for k in 0..5u8 {
        remember(&mut cache, ([k; 32], [0; 32]), SignatureCheck::Good, 2);
        assert!(cache.len() <= 2);
    }
}

#[test]
fn rsa_bit_length() {
    assert_eq!(bit_length(&[]), 0);
    assert_eq!(bit_length(&[0, 0]), 0);
    assert_eq!(bit_length(&[0x01]), 1);
    assert_eq!(bit_length(&[0x00, 0x80, 0x00]), 16);
    let mut modulus = vec![0x00, 0xc0];
    modulus.extend([0u8; 127]);
    assert_eq!(bit_length(&modulus), 1024);
}

#[test]
fn trust_bundle_from_pem() {
    let p = pki();
    let (root, inter) = (der(&p.root), der(&p.inter));
    let text = format!(
        "comment\n{}{}{}{}",
        pem_block("PRIVATE KEY", b"not parsed"),
        pem_block("CERTIFICATE", &root),
        pem_block("CERTIFICATE", &inter),
        pem_block("CERTIFICATE", &root),
    );
    let b = TrustBundle::from_pem(text.as_bytes()).expect("bundle");
    assert_eq!(b.len(), 2);
    assert!(!b.is_empty());

    assert_eq!(
        TrustBundle::from_pem(b"").err(),
        Some(TrustBundleError::NoCertificates)
    );
    let keys_only = pem_block("PRIVATE KEY", b"x");
    assert_eq!(
        TrustBundle::from_pem(keys_only.as_bytes()).err(),
        Some(TrustBundleError::NoCertificates)
    );

    let bad = format!(
        "{}{}",
        pem_block("CERTIFICATE", &root),
        pem_block("CERTIFICATE", b"garbage")
    );
    match TrustBundle::from_pem(bad.as_bytes()) {
        Err(TrustBundleError::BadCertificate { index: 1, .. }) => {}
        other => panic!("unexpected {other:?}"),
    }

    let bad_base64 = format!(
        "{}-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
        pem_block("CERTIFICATE", &root)
    );
    match TrustBundle::from_pem(bad_base64.as_bytes()) {
        Err(e @ TrustBundleError::BadPem(_)) => assert!(e.to_string().contains("block 1")),
        other => panic!("unexpected {other:?}"),
    }

    let unterminated = "-----BEGIN CERTIFICATE-----\nMIIB\n";
    assert!(matches!(
        TrustBundle::from_pem(unterminated.as_bytes()),
        Err(TrustBundleError::BadPem(_))
    ));
}

#[test]
fn cross_signed_root() {
    let old = root("Old Root", &PKCS_ECDSA_P256_SHA256);
    let root_key = key(&PKCS_ECDSA_P256_SHA256);
    let root_key_again = KeyPair::from_pem(&root_key.serialize_pem()).expect("key");
    let new_root =
        CertifiedIssuer::self_signed(params("New Root", ca()), root_key).expect("new root");
    let cross = params("New Root", ca())
        .signed_by(&root_key_again, &*old)
        .expect("cross")
        .der()
        .to_vec();
    let inter = sub_ca(
        "Test Intermediate",
        &PKCS_ECDSA_P256_SHA256,
        &new_root,
        ca(),
    );
    let leaf = leaf("leaf.test", &PKCS_ECDSA_P256_SHA256, &inter);
    let (old, new_root, inter) = (der(&old), der(&new_root), der(&inter));

    let sent: [&[u8]; 4] = [&leaf, &inter, &cross, &old];
    assert_eq!(kinds(&check(None, &sent)), []);
    for trusted in [&old, &new_root] {
        let result = check(Some(bundle(&[trusted])), &sent);
        assert_eq!(kinds(&result), []);
        assert_eq!(result.anchored, Some(true));
    }

    // Both the cross-signed and the self-signed copy of the new root:
    // the cross-signed one's issuer was not sent, the root at the end is fine.
    let result = check(None, &[&leaf, &inter, &cross, &new_root]);
    assert_eq!(kinds(&result), [(kind::ISSUER_MISMATCH, Some(2))]);
}

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn random_bytes_never_panic() {
    let p = pki();
    let root = der(&p.root);
    let mut checker = ChainChecker::new(Some(bundle(&[&root])));
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    for _ in 0..2000 {
        let count = rng.below(20);
        let certs: Vec<Vec<u8>> = (0..count)
            .map(|_| {
                let len = rng.below(300);
                let mut bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
                if len > 4 && rng.below(2) == 0 {
                    // Plausible DER SEQUENCE header to get past the first byte.
                    bytes[0] = 0x30;
                    bytes[1] = 0x82;
                    bytes[2] = ((len - 4) >> 8) as u8;
                    bytes[3] = (len - 4) as u8;
                }
                bytes
            })
            .collect();
        let refs: Vec<&[u8]> = certs.iter().map(Vec::as_slice).collect();
        let result = checker.check(&refs);
        assert!(result.problems.len() <= 16 * 8 + 1);
    }
}

#[test]
fn mutated_chains_never_panic() {
    let p = pki();
    let (root, inter) = (der(&p.root), der(&p.inter));
    let mut checker = ChainChecker::new(Some(bundle(&[&root])));
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    let originals = [p.leaf.clone(), inter, root];
    for _ in 0..2000 {
        let mut certs = originals.to_vec();
        for _ in 0..1 + rng.below(4) {
            let which = rng.below(certs.len());
            let cert = &mut certs[which];
            match rng.below(3) {
                0 if !cert.is_empty() => {
                    let at = rng.below(cert.len());
                    cert[at] = rng.next() as u8;
                }
                1 => cert.truncate(rng.below(cert.len() + 1)),
                _ => certs.swap(which, rng.below(3)),
            }
        }
        let refs: Vec<&[u8]> = certs.iter().map(Vec::as_slice).collect();
        let _ = checker.check(&refs);
    }
}

// ---------------------------------------------------------------------------
// RFC 5280 path rules (path.rs)

/// DER of a nameConstraints value permitting these URI hosts (rcgen has no
/// URI subtrees): SEQUENCE { [0] { SEQUENCE { [6] host } ... } }.
fn uri_name_constraints(hosts: &[&str]) -> Vec<u8> {
    let tlv = |tag: u8, body: &[u8]| {
        let mut out = vec![tag, u8::try_from(body.len()).expect("short")];
        out.extend_from_slice(body);
        out
    };
    let subtrees: Vec<u8> = hosts
        .iter()
        .flat_map(|h| tlv(0x30, &tlv(0x86, h.as_bytes())))
        .collect();
    tlv(0x30, &tlv(0xa0, &subtrees))
}

fn custom(oid: &[u64], critical: bool, content: Vec<u8>) -> rcgen::CustomExtension {
    let mut ext = rcgen::CustomExtension::from_oid_content(oid, content);
    ext.set_criticality(critical);
    ext
}

/// A CA under `parent` built from `edit`ed parameters.
fn ca_with(cn: &str, parent: &Ca, edit: impl FnOnce(&mut CertificateParams)) -> Ca {
    let mut p = params(cn, ca());
    edit(&mut p);
    CertifiedIssuer::signed_by(p, key(&PKCS_ECDSA_P256_SHA256), &**parent).expect("CA")
}

/// A leaf under `parent` with these SANs.
fn leaf_with(
    parent: &Ca,
    sans: Vec<rcgen::SanType>,
    extra: Vec<rcgen::CustomExtension>,
) -> Vec<u8> {
    let mut p = params("leaf", IsCa::NoCa);
    p.subject_alt_names = sans;
    p.custom_extensions = extra;
    let cert = p
        .signed_by(&key(&PKCS_ECDSA_P256_SHA256), &**parent)
        .expect("leaf");
    cert.der().to_vec()
}

fn uri(u: &str) -> rcgen::SanType {
    rcgen::SanType::URI(u.try_into().expect("IA5"))
}

fn dns(d: &str) -> rcgen::SanType {
    rcgen::SanType::DnsName(d.try_into().expect("IA5"))
}

#[test]
fn unknown_critical_extension() {
    let root = root("Root", &PKCS_ECDSA_P256_SHA256);
    let private = custom(&[1, 3, 6, 1, 4, 1, 99999, 1], true, vec![0x05, 0x00]);
    let leaf = leaf_with(&root, vec![dns("a.test")], vec![private]);
    let result = check(None, &[&leaf, &der(&root)]);
    assert_eq!(
        kinds(&result),
        [(kind::UNKNOWN_CRITICAL_EXTENSION, Some(0))]
    );
    assert!(result.problems[0].detail.contains("1.3.6.1.4.1.99999.1"));
    // A precertificate (RFC 6962 poison) is named as such.
    let poison = custom(&[1, 3, 6, 1, 4, 1, 11129, 2, 4, 3], true, vec![0x05, 0x00]);
    let pre = leaf_with(&root, vec![dns("a.test")], vec![poison]);
    let result = check(None, &[&pre, &der(&root)]);
    assert_eq!(
        kinds(&result),
        [(kind::UNKNOWN_CRITICAL_EXTENSION, Some(0))]
    );
    assert!(result.problems[0].detail.contains("precertificate"));
    // The same extension non-critical is fine.
    let private = custom(&[1, 3, 6, 1, 4, 1, 99999, 1], false, vec![0x05, 0x00]);
    let leaf = leaf_with(&root, vec![dns("a.test")], vec![private]);
    assert_eq!(kinds(&check(None, &[&leaf, &der(&root)])), []);
}

#[test]
fn unparsable_critical_extension() {
    let root = root("Root", &PKCS_ECDSA_P256_SHA256);
    // basicConstraints whose value is two 0xFF bytes (rust-spiffe's vector).
    let junk = custom(&[2, 5, 29, 19], true, vec![0xff, 0xff]);
    let inter = ca_with("Inter", &root, |p| {
        p.is_ca = IsCa::NoCa;
        p.custom_extensions.push(junk);
    });
    let ee = leaf("leaf.test", &PKCS_ECDSA_P256_SHA256, &inter);
    let result = check(None, &[&ee, &der(&inter), &der(&root)]);
    let found = kinds(&result);
    assert!(
        found.contains(&(kind::UNPARSABLE_CRITICAL_EXTENSION, Some(1))),
        "{found:?}"
    );
    let detail = &result
        .problems
        .iter()
        .find(|p| p.index == Some(1))
        .expect("problem")
        .detail;
    assert!(detail.contains("basicConstraints"), "{detail}");
}

#[test]
fn issuer_without_key_cert_sign() {
    use rcgen::KeyUsagePurpose::{CrlSign, DigitalSignature, KeyCertSign};
    let root = root("Root", &PKCS_ECDSA_P256_SHA256);
    let inter = ca_with("Inter", &root, |p| {
        p.key_usages = vec![DigitalSignature, CrlSign]
    });
    let ee = leaf("leaf.test", &PKCS_ECDSA_P256_SHA256, &inter);
    let result = check(Some(bundle(&[&der(&root)])), &[&ee, &der(&inter)]);
    assert_eq!(kinds(&result), [(kind::ISSUER_NO_KEY_CERT_SIGN, Some(1))]);
    assert_eq!(result.anchored, Some(true));
    // With keyCertSign, or with no keyUsage at all, it may sign.
    let inter = ca_with("Inter", &root, |p| p.key_usages = vec![KeyCertSign]);
    let ee = leaf("leaf.test", &PKCS_ECDSA_P256_SHA256, &inter);
    assert_eq!(kinds(&check(None, &[&ee, &der(&inter), &der(&root)])), []);
}

#[test]
fn path_length_constraint() {
    let root = root("Root", &PKCS_ECDSA_P256_SHA256);
    let capped = ca_with("Inter 1", &root, |p| {
        p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    });
    let below = ca_with("Inter 2", &capped, |_| {});
    let ee = leaf("leaf.test", &PKCS_ECDSA_P256_SHA256, &below);
    let chain = [ee.as_slice(), &der(&below), &der(&capped)];
    let result = check(Some(bundle(&[&der(&root)])), &chain);
    assert_eq!(kinds(&result), [(kind::PATH_LENGTH_EXCEEDED, Some(2))]);
    assert!(result.problems[0].detail.contains("index 1"));
    // pathLen 0 with only the leaf below: fine; pathLen 1 over one CA: fine.
    let ee0 = leaf("leaf.test", &PKCS_ECDSA_P256_SHA256, &capped);
    assert_eq!(kinds(&check(None, &[&ee0, &der(&capped), &der(&root)])), []);
    let one = ca_with("Inter 1", &root, |p| {
        p.is_ca = IsCa::Ca(BasicConstraints::Constrained(1));
    });
    let below = ca_with("Inter 2", &one, |_| {});
    let ee = leaf("leaf.test", &PKCS_ECDSA_P256_SHA256, &below);
    assert_eq!(kinds(&check(None, &[&ee, &der(&below), &der(&one)])), []);
}

#[test]
fn uri_name_constraints_on_trust_domains() {
    let root = root("Root", &PKCS_ECDSA_P256_SHA256);
    let nc = custom(
        &[2, 5, 29, 30],
        true,
        uri_name_constraints(&["domain1.test"]),
    );
    let inter = ca_with("Inter", &root, |p| p.custom_extensions.push(nc));
    let good = leaf_with(&inter, vec![uri("spiffe://domain1.test/w")], vec![]);
    let b = || Some(bundle(&[&der(&root)]));
    assert_eq!(kinds(&check(b(), &[&good, &der(&inter)])), []);
    let bad = leaf_with(&inter, vec![uri("spiffe://other.test/w")], vec![]);
    let result = check(b(), &[&bad, &der(&inter)]);
    assert_eq!(kinds(&result), [(kind::NAME_CONSTRAINTS, Some(1))]);
    assert!(result.problems[0].detail.contains("spiffe://other.test/w"));
    // A subdomain is outside a host constraint without a leading dot.
    let sub = leaf_with(&inter, vec![uri("spiffe://a.domain1.test/w")], vec![]);
    assert_eq!(
        kinds(&check(b(), &[&sub, &der(&inter)])),
        [(kind::NAME_CONSTRAINTS, Some(1))]
    );
}

#[test]
fn dns_ip_and_directory_name_constraints() {
    use rcgen::{CidrSubnet, GeneralSubtree, NameConstraints as Nc};
    let root = root("Root", &PKCS_ECDSA_P256_SHA256);
    let inter = ca_with("Inter", &root, |p| {
        p.name_constraints = Some(Nc {
            permitted_subtrees: vec![
                GeneralSubtree::DnsName("example.com".into()),
                GeneralSubtree::IpAddress(CidrSubnet::V4([10, 0, 0, 0], [255, 0, 0, 0])),
            ],
            excluded_subtrees: vec![GeneralSubtree::DnsName("bad.example.com".into())],
        });
    });
    let chain_of = |sans| {
        let leaf = leaf_with(&inter, sans, vec![]);
        kinds(&check(None, &[&leaf, &der(&inter), &der(&root)]))
    };
    let ip = |a: [u8; 4]| rcgen::SanType::IpAddress(std::net::IpAddr::from(a));
    assert_eq!(
        chain_of(vec![dns("api.example.com"), ip([10, 1, 2, 3])]),
        []
    );
    let outside = [(kind::NAME_CONSTRAINTS, Some(1))];
    assert_eq!(chain_of(vec![dns("api.example.org")]), outside);
    assert_eq!(chain_of(vec![dns("x.bad.example.com")]), outside);
    assert_eq!(chain_of(vec![ip([192, 0, 2, 1])]), outside);

    let mut base = DistinguishedName::new();
    base.push(DnType::OrganizationName, "Shop");
    let dir = ca_with("Inter", &root, |p| {
        p.name_constraints = Some(Nc {
            permitted_subtrees: vec![GeneralSubtree::DirectoryName(base)],
            excluded_subtrees: vec![],
        });
    });
    // The leaf's subject is CN=leaf, not under O=Shop.
    let leaf = leaf_with(&dir, vec![dns("a.test")], vec![]);
    let result = check(None, &[&leaf, &der(&dir), &der(&root)]);
    assert_eq!(kinds(&result), outside);
    assert!(result.problems[0].detail.contains("subject"));
}

mod hostile_constraints {
    use super::*;
    use proptest::prelude::*;
    use std::sync::OnceLock;

    /// leaf (DNS, URI, IP and email SANs) under an intermediate whose
    /// name constraints have every form, under a root.
    fn chain() -> &'static (Vec<u8>, Vec<u8>, Vec<u8>) {
        static CHAIN: OnceLock<(Vec<u8>, Vec<u8>, Vec<u8>)> = OnceLock::new();
        CHAIN.get_or_init(|| {
            use rcgen::{CidrSubnet, GeneralSubtree, NameConstraints as Nc};
            let root = root("Root", &PKCS_ECDSA_P256_SHA256);
            let mut base = DistinguishedName::new();
            base.push(DnType::CommonName, "leaf");
            let inter = ca_with("Inter", &root, |p| {
                p.name_constraints = Some(Nc {
                    permitted_subtrees: vec![
                        GeneralSubtree::DnsName("example.com".into()),
                        GeneralSubtree::Rfc822Name("example.com".into()),
                        GeneralSubtree::DirectoryName(base),
                        GeneralSubtree::IpAddress(CidrSubnet::V6([0; 16], [0xff; 16])),
                    ],
                    excluded_subtrees: vec![GeneralSubtree::DnsName(".bad.example.com".into())],
                });
            });
            let sans = vec![
                dns("a.example.com"),
                uri("spiffe://example.com/w"),
                rcgen::SanType::Rfc822Name("a@example.com".try_into().expect("IA5")),
                rcgen::SanType::IpAddress(std::net::IpAddr::from([0u8; 16])),
            ];
            let ee = leaf_with(&inter, sans, vec![]);
            (ee, der(&inter), der(&root))
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        /// Any byte of the leaf or the constraining intermediate changed:
        /// the checker answers (problems or none) and never panics.
        #[test]
        fn mutated_constraints_never_panic(which in 0usize..2, at in any::<prop::sample::Index>(),
            byte in any::<u8>()) {
            let (ee, inter, root) = chain();
            let mut certs = [ee.clone(), inter.clone()];
            let target = &mut certs[which];
            let i = at.index(target.len());
            target[i] = byte;
            let result = check(None, &[&certs[0], &certs[1], root]);
            prop_assert!(result.problems.len() <= 64);
        }
    }

    #[test]
    fn every_form_within_its_subtree() {
        let (ee, inter, root) = chain();
        assert_eq!(kinds(&check(None, &[ee, inter, root])), []);
    }
}

/// The path rules against rustls-webpki (rustls' validator, already in the
/// tree): where webpki implements a rule, both must reach the same verdict
/// on the same chain and anchor; where tls-audit differs on purpose
/// (keyCertSign on issuers, URI name constraints), the test pins webpki's
/// behaviour, which is why the rules are not delegated to it.
mod against_webpki {
    use super::*;
    use rustls::pki_types::{CertificateDer, UnixTime};

    /// webpki's verdict for `chain` (leaf first, intermediates after) under
    /// `root` as the only anchor, for server authentication now.
    fn webpki_accepts(root: &[u8], chain: &[&[u8]]) -> Result<(), String> {
        let root = CertificateDer::from(root.to_vec());
        let anchor = webpki::anchor_from_trusted_cert(&root).map_err(|e| e.to_string())?;
        let ee_der = CertificateDer::from(chain[0].to_vec());
        let ee = webpki::EndEntityCert::try_from(&ee_der).map_err(|e| e.to_string())?;
        let inters: Vec<CertificateDer<'_>> = chain[1..]
            .iter()
            .map(|d| CertificateDer::from(d.to_vec()))
            .collect();
        ee.verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &[anchor],
            &inters,
            UnixTime::now(),
            webpki::KeyUsage::server_auth(),
            None,
            None,
        )
        .map(|_| ())
        .map_err(|e| format!("{e:?}"))
    }

    /// tls-audit's verdict: anchored and no problem.
    fn ours(root: &[u8], chain: &[&[u8]]) -> Result<(), String> {
        let result = check(Some(bundle(&[root])), chain);
        match (result.anchored, result.problems.as_slice()) {
            (Some(true), []) => Ok(()),
            _ => Err(format!("{:?}", kinds(&result))),
        }
    }

    fn agree(root: &[u8], chain: &[&[u8]], valid: bool) {
        let (w, o) = (webpki_accepts(root, chain), ours(root, chain));
        assert_eq!(w.is_ok(), valid, "webpki: {w:?}");
        assert_eq!(o.is_ok(), valid, "tls-audit: {o:?}");
    }

    #[test]
    fn same_verdicts_where_webpki_has_the_rule() {
        use rcgen::{GeneralSubtree, NameConstraints as Nc};
        let root = root("Root", &PKCS_ECDSA_P256_SHA256);
        let r = der(&root);
        // A plain chain.
        let inter = ca_with("Inter", &root, |_| {});
        let ee = leaf_with(&inter, vec![dns("a.example.com")], vec![]);
        agree(&r, &[&ee, &der(&inter)], true);
        // pathLenConstraint 0 above another CA.
        let capped = ca_with("Capped", &root, |p| {
            p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        });
        let below = ca_with("Below", &capped, |_| {});
        let ee = leaf_with(&below, vec![dns("a.example.com")], vec![]);
        agree(&r, &[&ee, &der(&below), &der(&capped)], false);
        let ee = leaf_with(&capped, vec![dns("a.example.com")], vec![]);
        agree(&r, &[&ee, &der(&capped)], true);
        // DNS name constraints, permitted and excluded.
        let nc = ca_with("NC", &root, |p| {
            p.name_constraints = Some(Nc {
                permitted_subtrees: vec![GeneralSubtree::DnsName("example.com".into())],
                excluded_subtrees: vec![GeneralSubtree::DnsName("bad.example.com".into())],
            });
        });
        for (name, valid) in [
            ("a.example.com", true),
            ("example.org", false),
            ("x.bad.example.com", false),
        ] {
            let ee = leaf_with(&nc, vec![dns(name)], vec![]);
            agree(&r, &[&ee, &der(&nc)], valid);
        }
        // A critical extension nobody recognises.
        let private = custom(&[1, 3, 6, 1, 4, 1, 99999, 1], true, vec![0x05, 0x00]);
        let ee = leaf_with(&inter, vec![dns("a.example.com")], vec![private]);
        agree(&r, &[&ee, &der(&inter)], false);
        // An intermediate that is not a CA.
        let not_ca = ca_with("Not a CA", &root, |p| p.is_ca = IsCa::ExplicitNoCa);
        let ee = leaf_with(&not_ca, vec![dns("a.example.com")], vec![]);
        agree(&r, &[&ee, &der(&not_ca)], false);
    }

    #[test]
    fn where_tls_audit_differs_on_purpose() {
        use rcgen::KeyUsagePurpose::DigitalSignature;
        let root = root("Root", &PKCS_ECDSA_P256_SHA256);
        let r = der(&root);
        // RFC 5280 §4.2.1.3: no keyCertSign, no certificate signing. webpki
        // does not check it on issuers.
        let inter = ca_with("Inter", &root, |p| p.key_usages = vec![DigitalSignature]);
        let ee = leaf_with(&inter, vec![dns("a.example.com")], vec![]);
        let chain = [ee.as_slice(), &der(&inter)];
        assert_eq!(webpki_accepts(&r, &chain), Ok(()));
        assert!(ours(&r, &chain).is_err());
        // X509-SVID §4.2 URI name constraints on a trust domain: webpki
        // rejects every URI under a URI constraint ("fail closed").
        let nc = custom(
            &[2, 5, 29, 30],
            true,
            uri_name_constraints(&["domain1.test"]),
        );
        let td = ca_with("Trust domain CA", &root, |p| p.custom_extensions.push(nc));
        let ee = leaf_with(&td, vec![uri("spiffe://domain1.test/w")], vec![]);
        let chain = [ee.as_slice(), &der(&td)];
        assert!(webpki_accepts(&r, &chain).is_err());
        assert_eq!(ours(&r, &chain), Ok(()));
    }
}
