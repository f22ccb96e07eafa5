//! Names for the algorithm and purpose OIDs a report shows.
//!
//! Signature algorithms use OpenSSL's long names (what `openssl x509 -text`
//! prints after "Signature Algorithm:"), so that an operator can match the
//! report against the tool they already use. Anything not listed is shown as
//! its dotted OID: a name we do not know is never guessed.

use x509_parser::asn1_rs::{Any, Tag};
use x509_parser::prelude::{FromDer, SubjectPublicKeyInfo};
use x509_parser::public_key::PublicKey;

const SIGNATURE_ALGORITHMS: &[(&str, &str)] = &[
    ("1.2.840.113549.1.1.2", "md2WithRSAEncryption"),
    ("1.2.840.113549.1.1.3", "md4WithRSAEncryption"),
    ("1.2.840.113549.1.1.4", "md5WithRSAEncryption"),
    ("1.3.14.3.2.3", "md5WithRSA"),
    ("1.3.14.3.2.27", "dsaWithSHA1-old"),
    ("1.2.840.113549.1.1.5", "sha1WithRSAEncryption"),
    ("1.3.14.3.2.29", "sha1WithRSA"),
    ("1.2.840.113549.1.1.14", "sha224WithRSAEncryption"),
    ("1.2.840.113549.1.1.11", "sha256WithRSAEncryption"),
    ("1.2.840.113549.1.1.12", "sha384WithRSAEncryption"),
    ("1.2.840.113549.1.1.13", "sha512WithRSAEncryption"),
    ("1.2.840.113549.1.1.10", "rsassaPss"),
    ("2.16.840.1.101.3.4.3.13", "RSA-SHA3-224"),
    ("2.16.840.1.101.3.4.3.14", "RSA-SHA3-256"),
    ("2.16.840.1.101.3.4.3.15", "RSA-SHA3-384"),
    ("2.16.840.1.101.3.4.3.16", "RSA-SHA3-512"),
    ("1.2.840.10045.4.1", "ecdsa-with-SHA1"),
    ("1.2.840.10045.4.3.1", "ecdsa-with-SHA224"),
    ("1.2.840.10045.4.3.2", "ecdsa-with-SHA256"),
    ("1.2.840.10045.4.3.3", "ecdsa-with-SHA384"),
    ("1.2.840.10045.4.3.4", "ecdsa-with-SHA512"),
    ("2.16.840.1.101.3.4.3.9", "ecdsa_with_SHA3-224"),
    ("2.16.840.1.101.3.4.3.10", "ecdsa_with_SHA3-256"),
    ("2.16.840.1.101.3.4.3.11", "ecdsa_with_SHA3-384"),
    ("2.16.840.1.101.3.4.3.12", "ecdsa_with_SHA3-512"),
    ("1.2.840.10040.4.3", "dsaWithSHA1"),
    ("2.16.840.1.101.3.4.3.1", "dsa_with_SHA224"),
    ("2.16.840.1.101.3.4.3.2", "dsa_with_SHA256"),
    ("1.3.101.112", "ED25519"),
    ("1.3.101.113", "ED448"),
    ("2.16.840.1.101.3.4.3.17", "ML-DSA-44"),
    ("2.16.840.1.101.3.4.3.18", "ML-DSA-65"),
    ("2.16.840.1.101.3.4.3.19", "ML-DSA-87"),
    ("1.2.156.10197.1.501", "SM2-with-SM3"),
];

/// Certificate extensions by their RFC 5280 names (§4.2.1, §4.2.2); these
/// are the extensions path validation recognises (see
/// `verify::chain::path`), whatever their criticality.
pub(crate) const EXTENSIONS: &[(&str, &str)] = &[
    ("2.5.29.9", "subjectDirectoryAttributes"),
    ("2.5.29.14", "subjectKeyIdentifier"),
    ("2.5.29.15", "keyUsage"),
    ("2.5.29.17", "subjectAltName"),
    ("2.5.29.18", "issuerAltName"),
    ("2.5.29.19", "basicConstraints"),
    ("2.5.29.30", "nameConstraints"),
    ("2.5.29.31", "cRLDistributionPoints"),
    ("2.5.29.32", "certificatePolicies"),
    ("2.5.29.33", "policyMappings"),
    ("2.5.29.35", "authorityKeyIdentifier"),
    ("2.5.29.36", "policyConstraints"),
    ("2.5.29.37", "extendedKeyUsage"),
    ("2.5.29.46", "freshestCRL"),
    ("2.5.29.54", "inhibitAnyPolicy"),
    ("1.3.6.1.5.5.7.1.1", "authorityInfoAccess"),
    ("1.3.6.1.5.5.7.1.11", "subjectInfoAccess"),
];

/// Subject public key algorithms: (OID, key type, fixed key size in bits).
/// RSA, DSA and DH sizes come from the key itself; EC sizes from the curve.
const KEY_TYPES: &[(&str, &str, Option<u32>)] = &[
    ("1.2.840.113549.1.1.1", "RSA", None),
    ("1.2.840.113549.1.1.10", "RSA-PSS", None),
    ("1.2.840.10045.2.1", "EC", None),
    ("1.3.101.112", "Ed25519", Some(256)),
    ("1.3.101.113", "Ed448", Some(456)),
    ("1.3.101.110", "X25519", Some(256)),
    ("1.3.101.111", "X448", Some(448)),
    ("1.2.840.10040.4.1", "DSA", None),
    ("1.2.840.10046.2.1", "DH", None),
    ("1.2.840.113549.1.3.1", "DH", None),
    ("2.16.840.1.101.3.4.3.17", "ML-DSA-44", None),
    ("2.16.840.1.101.3.4.3.18", "ML-DSA-65", None),
    ("2.16.840.1.101.3.4.3.19", "ML-DSA-87", None),
];

/// Named curves: (OID, name, field size in bits).
const CURVES: &[(&str, &str, u32)] = &[
    ("1.2.840.10045.3.1.7", "P-256", 256),
    ("1.3.132.0.34", "P-384", 384),
    ("1.3.132.0.35", "P-521", 521),
    ("1.3.132.0.33", "P-224", 224),
    ("1.2.840.10045.3.1.1", "P-192", 192),
    ("1.3.132.0.10", "secp256k1", 256),
    ("1.3.36.3.3.2.8.1.1.7", "brainpoolP256r1", 256),
    ("1.3.36.3.3.2.8.1.1.11", "brainpoolP384r1", 384),
    ("1.3.36.3.3.2.8.1.1.13", "brainpoolP512r1", 512),
    ("1.2.156.10197.1.301", "SM2", 256),
];

/// Extended key usage purposes, by their RFC 5280 / OpenSSL short names.
const KEY_PURPOSES: &[(&str, &str)] = &[
    ("1.3.6.1.5.5.7.3.1", "serverAuth"),
    ("1.3.6.1.5.5.7.3.2", "clientAuth"),
    ("1.3.6.1.5.5.7.3.3", "codeSigning"),
    ("1.3.6.1.5.5.7.3.4", "emailProtection"),
    ("1.3.6.1.5.5.7.3.5", "ipsecEndSystem"),
    ("1.3.6.1.5.5.7.3.6", "ipsecTunnel"),
    ("1.3.6.1.5.5.7.3.7", "ipsecUser"),
    ("1.3.6.1.5.5.7.3.8", "timeStamping"),
    ("1.3.6.1.5.5.7.3.9", "OCSPSigning"),
    ("1.3.6.1.5.5.7.3.17", "ipsecIKE"),
    ("2.5.29.37.0", "anyExtendedKeyUsage"),
    ("2.16.840.1.113730.4.1", "nsSGC"),
    ("1.3.6.1.4.1.311.10.3.3", "msSGC"),
];

/// keyUsage bit names (RFC 5280 section 4.2.1.3), indexed by bit number.
pub(crate) const KEY_USAGE_BITS: [&str; 9] = [
    "digitalSignature",
    "nonRepudiation",
    "keyEncipherment",
    "dataEncipherment",
    "keyAgreement",
    "keyCertSign",
    "cRLSign",
    "encipherOnly",
    "decipherOnly",
];

fn lookup<'t>(table: &'t [(&'t str, &'t str)], oid: &str) -> Option<&'t str> {
    table.iter().find(|(o, _)| *o == oid).map(|(_, name)| *name)
}

/// The signature algorithm's name, or its dotted OID when unknown.
pub(crate) fn signature_name(oid: &str) -> String {
    lookup(SIGNATURE_ALGORITHMS, oid).map_or_else(|| oid.to_owned(), str::to_owned)
}

/// An EKU purpose's name, or its dotted OID when unknown.
pub(crate) fn key_purpose_name(oid: &str) -> String {
    lookup(KEY_PURPOSES, oid).map_or_else(|| oid.to_owned(), str::to_owned)
}

/// An extension's RFC 5280 name, or its dotted OID when it is not one of
/// [`EXTENSIONS`].
pub(crate) fn extension_name(oid: &str) -> String {
    lookup(EXTENSIONS, oid).map_or_else(|| oid.to_owned(), str::to_owned)
}

/// What the subject public key is: (type, size in bits, EC curve).
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct KeyInfo {
    pub(crate) key_type: Option<String>,
    pub(crate) bits: Option<u32>,
    pub(crate) curve: Option<String>,
}

/// Describes a subject public key. Never fails: what cannot be decoded is
/// left `None`, and an unknown algorithm is named by its OID.
pub(crate) fn key_info(spki: &SubjectPublicKeyInfo<'_>) -> KeyInfo {
    let oid = super::dotted(&spki.algorithm.algorithm);
    let Some(&(_, name, fixed_bits)) = KEY_TYPES.iter().find(|(o, _, _)| *o == oid) else {
        return KeyInfo {
            key_type: Some(oid),
            ..KeyInfo::default()
        };
    };
    let mut info = KeyInfo {
        key_type: Some(name.to_owned()),
        bits: fixed_bits,
        curve: None,
    };
    match name {
        "RSA" | "RSA-PSS" => {
            if let Ok(PublicKey::RSA(rsa)) = spki.parsed() {
                info.bits = bit_length(rsa.modulus);
            }
        }
        "EC" => match spki.algorithm.parameters() {
            Some(params) if params.tag() == Tag::Oid => {
                if let Ok(curve) = params.as_oid() {
                    let curve = super::dotted(&curve);
                    match CURVES.iter().find(|(o, _, _)| *o == curve) {
                        Some(&(_, cname, cbits)) => {
                            info.curve = Some(cname.to_owned());
                            info.bits = Some(cbits);
                        }
                        None => info.curve = Some(curve),
                    }
                }
            }
            // specifiedCurve: explicit parameters, a known attack surface
            // (CVE-2020-0601) worth surfacing as such.
            Some(params) if params.tag() == Tag::Sequence => {
                info.curve = Some("explicit".to_owned());
            }
            _ => {}
        },
        // Dss-Parms / DomainParameters / DHParameter all start with p.
        "DSA" | "DH" => {
            if let Some(params) = spki.algorithm.parameters()
                && let Ok((_, p)) = Any::from_der(params.data)
                && p.tag() == Tag::Integer
            {
                info.bits = bit_length(p.data);
            }
        }
        _ => {}
    }
    info
}

/// Bit length of a big-endian unsigned integer, ignoring leading zeros.
fn bit_length(bytes: &[u8]) -> Option<u32> {
    let start = bytes.iter().position(|&b| b != 0)?;
    let rest = bytes.get(start..)?;
    let significant = u32::try_from(rest.len()).ok()?;
    let top_bits = 8u32.checked_sub(rest.first()?.leading_zeros())?;
    significant
        .checked_sub(1)?
        .checked_mul(8)?
        .checked_add(top_bits)
}

#[cfg(test)]
mod tests {
    use super::bit_length;

    #[test]
    fn bit_length_ignores_leading_zeros() {
        assert_eq!(bit_length(&[]), None);
        assert_eq!(bit_length(&[0, 0]), None);
        assert_eq!(bit_length(&[0, 0x80, 0]), Some(16));
        assert_eq!(bit_length(&[0x01]), Some(1));
        assert_eq!(bit_length(&[0x7f, 0xff]), Some(15));
    }
}
