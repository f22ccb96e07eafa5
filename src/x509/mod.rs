//! Certificate facts from DER.
//!
//! Certificates come off the wire, so everything here treats its input as
//! hostile: [`Certificate::from_der`] never fails and never panics, it does
//! work linear in the input size, and whatever it cannot decode is reported as
//! absent (or, for the whole certificate, as [`Certificate::parse_error`])
//! rather than guessed.
//!
//! The string forms (names, serial, dates) are those of Python
//! `cryptography`, the oracle of our test corpus; see `name.rs` for the
//! distinguished-name rules.
// Hostile input: no indexing or slicing, no arithmetic that can overflow
// (unwrap, expect and panic are denied crate-wide in Cargo.toml).
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)
)]

mod algo;
mod name;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};
use x509_parser::asn1_rs::Oid;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{GeneralName, ParsedExtension, X509Extension};
use x509_parser::oid_registry::{
    OID_X509_EXT_BASIC_CONSTRAINTS, OID_X509_EXT_EXTENDED_KEY_USAGE, OID_X509_EXT_KEY_USAGE,
    OID_X509_EXT_SUBJECT_ALT_NAME,
};
use x509_parser::prelude::{ASN1Time, FromDer};

/// Largest DER that [`Certificate::from_der`] parses. Parsing costs time
/// linear in the input but memory up to ~40 times its size (a name made of
/// hundreds of thousands of tiny RDNs), and TLS allows 16 MiB certificates;
/// real ones are a few KiB, and the largest seen in test suites ~1.6 MB.
const MAX_DER_LEN: usize = 4 << 20;

/// A distinguished name (DER, as a TLS CertificateRequest lists acceptable
/// CAs) in the RFC 4514 form certificates use here; `None` when it does not
/// parse or cannot be rendered.
pub fn name_from_der(der: &[u8]) -> Option<String> {
    let (rest, name) = x509_parser::x509::X509Name::from_der(der).ok()?;
    if !rest.is_empty() {
        return None;
    }
    name::rfc4514(&name)
}

/// Facts about one certificate, as they appear in the JSON report (`tls-audit/report/v1`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certificate {
    /// RFC 4514 string exactly as `cryptography`'s `Name.rfc4514_string()`;
    /// `None` if the name cannot be rendered (undecodable attribute value).
    pub subject: Option<String>,
    /// Same rules as `subject`.
    pub issuer: Option<String>,
    /// Uppercase hex without leading zeros ("0" for zero); negative serials
    /// (invalid per RFC 5280 but seen in the wild) get a "-" prefix.
    pub serial: Option<String>,
    /// RFC 3339 UTC, `YYYY-MM-DDTHH:MM:SSZ`.
    pub not_before: Option<String>,
    /// RFC 3339 UTC, `YYYY-MM-DDTHH:MM:SSZ`.
    pub not_after: Option<String>,
    /// Lowercase hex SHA-256 over the DER bytes; always present, even for
    /// unparseable input, so that every certificate can be identified.
    pub sha256: String,
    /// subjectAltName dNSName entries, in certificate order.
    pub dns_names: Vec<String>,
    /// subjectAltName uniformResourceIdentifier entries, in certificate order.
    pub uris: Vec<String>,
    /// subjectAltName iPAddress entries: addresses as text (IPv6 in RFC 5952
    /// form), address/prefix for the 8- and 32-byte network form; entries of
    /// any other length are skipped.
    pub ip_addresses: Vec<String>,
    /// subjectAltName rfc822Name entries, in certificate order.
    pub emails: Vec<String>,
    /// First URI SAN whose scheme is `spiffe` (case-insensitive), raw: the
    /// SPIFFE ID syntax is not validated here.
    pub spiffe_id: Option<String>,
    /// "RSA", "RSA-PSS", "EC", "Ed25519", "Ed448", "X25519", "X448", "DSA",
    /// "DH", "ML-DSA-44/65/87", or the dotted OID of an unknown algorithm.
    pub key_type: Option<String>,
    /// Modulus size (RSA), prime size (DSA, DH), curve size (EC, Edwards,
    /// Montgomery); `None` where there is no meaningful single number.
    pub key_bits: Option<u32>,
    /// For EC keys: "P-256", "P-384", "P-521" (and a few other named
    /// curves), the dotted OID of an unknown named curve, or "explicit" for
    /// explicitly encoded curve parameters.
    pub ec_curve: Option<String>,
    /// OpenSSL's long name (e.g. "sha256WithRSAEncryption",
    /// "ecdsa-with-SHA256", "ED25519"), else the dotted OID.
    pub signature_algorithm: Option<String>,
    /// basicConstraints cA; `None` when the extension is absent or undecodable.
    pub is_ca: Option<bool>,
    /// basicConstraints pathLenConstraint.
    pub path_len: Option<u32>,
    /// keyUsage bits set, by RFC 5280 name, in bit order.
    pub key_usage: Vec<String>,
    /// extendedKeyUsage purposes in certificate order ("serverAuth",
    /// "clientAuth", ...), unknown ones as dotted OIDs.
    pub extended_key_usage: Vec<String>,
    /// Extensions marked critical, by their RFC 5280 names
    /// ("basicConstraints", "keyUsage", "subjectAltName", ...; unknown ones
    /// as dotted OIDs), in certificate order. An extension not listed is
    /// non-critical.
    #[serde(default)]
    pub critical: Vec<String>,
    /// Extensions (same names) whose value could not be decoded, critical
    /// or not; the fields above that come from them are then empty.
    #[serde(default)]
    pub undecodable_extensions: Vec<String>,
    /// Subject and issuer are byte-equal DER names (self-issued; the
    /// signature is not checked).
    pub self_signed: bool,
    /// Length of the DER input in bytes.
    pub der_len: usize,
    /// Set when the DER could not be parsed; then only `sha256` and
    /// `der_len` are meaningful.
    pub parse_error: Option<String>,
    /// `not_before` as Unix seconds, for validity checks without re-parsing.
    #[serde(skip)]
    pub not_before_unix: Option<i64>,
    /// `not_after` as Unix seconds, for validity checks without re-parsing.
    #[serde(skip)]
    pub not_after_unix: Option<i64>,
    /// The DER itself, kept while the certificate is in memory for checks
    /// that need the bytes (signatures); never written to reports.
    #[serde(skip)]
    pub der: Option<std::sync::Arc<[u8]>>,
}

impl Certificate {
    /// Never fails and never panics: on bad input returns a Certificate with
    /// `parse_error` set, `sha256` and `der_len` filled.
    ///
    /// Bytes after the certificate's outer SEQUENCE make the input invalid
    /// DER, and are reported as a parse error like any other malformation.
    /// Input over 4 MiB is hashed but not parsed (see `MAX_DER_LEN`).
    #[must_use]
    pub fn from_der(der: &[u8]) -> Certificate {
        let digest = ring::digest::digest(&ring::digest::SHA256, der);
        let mut cert = Certificate {
            subject: None,
            issuer: None,
            serial: None,
            not_before: None,
            not_after: None,
            sha256: hex_lower(digest.as_ref()),
            dns_names: Vec::new(),
            uris: Vec::new(),
            ip_addresses: Vec::new(),
            emails: Vec::new(),
            spiffe_id: None,
            key_type: None,
            key_bits: None,
            ec_curve: None,
            signature_algorithm: None,
            is_ca: None,
            path_len: None,
            key_usage: Vec::new(),
            extended_key_usage: Vec::new(),
            critical: Vec::new(),
            undecodable_extensions: Vec::new(),
            self_signed: false,
            der_len: der.len(),
            parse_error: None,
            not_before_unix: None,
            not_after_unix: None,
            der: None,
        };
        if der.len() > MAX_DER_LEN {
            cert.parse_error = Some(format!(
                "certificate of {} bytes exceeds the {MAX_DER_LEN}-byte parsing limit",
                der.len()
            ));
            return cert;
        }
        match X509Certificate::from_der(der) {
            Ok(([], x509)) => cert.fill(&x509),
            Ok((rest, _)) => {
                cert.parse_error = Some(format!(
                    "{} bytes of trailing data after the certificate",
                    rest.len()
                ));
            }
            Err(e) => cert.parse_error = Some(format!("invalid certificate DER: {e}")),
        }
        cert
    }

    /// Fill the validity in seconds from the RFC 3339 strings: for a
    /// certificate read back from JSON without its bytes.
    pub fn restore_validity(&mut self) {
        let secs = |t: &Option<String>| {
            t.as_deref()
                .and_then(|t| {
                    time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                        .ok()
                })
                .map(|t| t.unix_timestamp())
        };
        self.not_before_unix = self.not_before_unix.or(secs(&self.not_before));
        self.not_after_unix = self.not_after_unix.or(secs(&self.not_after));
    }

    fn fill(&mut self, x509: &X509Certificate<'_>) {
        let tbs = &x509.tbs_certificate;
        self.subject = name::rfc4514(&tbs.subject);
        self.issuer = name::rfc4514(&tbs.issuer);
        self.serial = serial_hex(tbs.raw_serial());
        let validity = &tbs.validity;
        self.not_before = rfc3339(&validity.not_before);
        self.not_after = rfc3339(&validity.not_after);
        self.not_before_unix = Some(validity.not_before.timestamp());
        self.not_after_unix = Some(validity.not_after.timestamp());
        let key = algo::key_info(&tbs.subject_pki);
        self.key_type = key.key_type;
        self.key_bits = key.bits;
        self.ec_curve = key.curve;
        self.signature_algorithm = Some(algo::signature_name(&dotted(
            &x509.signature_algorithm.algorithm,
        )));
        self.self_signed = tbs.subject.as_raw() == tbs.issuer.as_raw();

        let extensions = tbs.extensions();
        for ext in extensions {
            let name = || algo::extension_name(&dotted(&ext.oid));
            if ext.critical {
                self.critical.push(name());
            }
            if ext.parsed_extension().error().is_some() {
                self.undecodable_extensions.push(name());
            }
        }
        if let Some(ParsedExtension::SubjectAlternativeName(san)) =
            first_extension(extensions, &OID_X509_EXT_SUBJECT_ALT_NAME)
        {
            for general_name in &san.general_names {
                match general_name {
                    GeneralName::DNSName(s) => self.dns_names.push((*s).to_owned()),
                    GeneralName::URI(s) => self.uris.push((*s).to_owned()),
                    GeneralName::RFC822Name(s) => self.emails.push((*s).to_owned()),
                    GeneralName::IPAddress(bytes) => {
                        self.ip_addresses.extend(ip_address_text(bytes));
                    }
                    _ => {}
                }
            }
        }
        self.spiffe_id = self.uris.iter().find(|u| is_spiffe(u)).cloned();
        if let Some(ParsedExtension::BasicConstraints(bc)) =
            first_extension(extensions, &OID_X509_EXT_BASIC_CONSTRAINTS)
        {
            self.is_ca = Some(bc.ca);
            self.path_len = bc.path_len_constraint;
        }
        if let Some(ParsedExtension::KeyUsage(ku)) =
            first_extension(extensions, &OID_X509_EXT_KEY_USAGE)
        {
            self.key_usage = algo::KEY_USAGE_BITS
                .iter()
                .enumerate()
                .filter(|(bit, _)| ku.flags & (1 << bit) != 0)
                .map(|(_, name)| (*name).to_owned())
                .collect();
        }
        // Decoded here rather than through x509-parser's ExtendedKeyUsage,
        // which keeps flags and so loses the certificate's order.
        if let Some(ext) = extensions
            .iter()
            .find(|e| e.oid == OID_X509_EXT_EXTENDED_KEY_USAGE)
            && let Ok((_, purposes)) = Vec::<Oid<'_>>::from_der(ext.value)
        {
            self.extended_key_usage = purposes
                .iter()
                .map(|oid| algo::key_purpose_name(&dotted(oid)))
                .collect();
        }
    }
}

/// The parsed form of the first extension with this OID. A duplicate
/// extension (forbidden by RFC 5280) is ignored rather than failing the
/// whole certificate.
fn first_extension<'e, 'a>(
    extensions: &'e [X509Extension<'a>],
    oid: &Oid<'_>,
) -> Option<&'e ParsedExtension<'a>> {
    extensions
        .iter()
        .find(|e| e.oid == *oid)
        .map(X509Extension::parsed_extension)
}

/// Dotted decimal form of an OID. Arcs are decoded up to 128 bits, as
/// `cryptography` does; an OID with a larger arc or a truncated encoding is
/// left to x509-parser's own rendering (hex bytes) rather than guessed.
pub(crate) fn dotted(oid: &Oid<'_>) -> String {
    dotted_arcs(oid.as_bytes()).unwrap_or_else(|| oid.to_id_string())
}

fn dotted_arcs(encoded: &[u8]) -> Option<String> {
    let mut out = String::new();
    let mut arc: u128 = 0;
    let mut in_arc = false;
    for &byte in encoded {
        arc = arc.checked_mul(128)?.checked_add(u128::from(byte & 0x7f))?;
        in_arc = true;
        if byte & 0x80 == 0 {
            if out.is_empty() {
                // The first subidentifier packs the first two arcs.
                let (top, second) = match arc {
                    0..40 => (0, arc),
                    40..80 => (1, arc.saturating_sub(40)),
                    _ => (2, arc.saturating_sub(80)),
                };
                out = format!("{top}.{second}");
            } else {
                out.push('.');
                out.push_str(&arc.to_string());
            }
            arc = 0;
            in_arc = false;
        }
    }
    (!in_arc && !out.is_empty()).then_some(out)
}

/// Whether an extension (dotted OID) is one RFC 5280 defines, so that a
/// path validator recognises it.
pub(crate) fn known_extension(oid: &str) -> bool {
    algo::EXTENSIONS.iter().any(|(known, _)| *known == oid)
}

pub(crate) use algo::extension_name;

fn is_spiffe(uri: &str) -> bool {
    uri.get(..7)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("spiffe:"))
}

pub(crate) use crate::hex::lower as hex_lower;

/// The serial as `cryptography` + `format(sn, "X")` show it: the INTEGER
/// content is two's complement, so a set top bit means a negative number.
/// `None` for an empty INTEGER, which has no value.
fn serial_hex(raw: &[u8]) -> Option<String> {
    let first = *raw.first()?;
    let negative = first & 0x80 != 0;
    let mut magnitude = raw.to_vec();
    if negative {
        // |x| = !x + 1 over the whole two's complement encoding.
        let mut carry = true;
        for byte in magnitude.iter_mut().rev() {
            let (sum, overflow) = (!*byte).overflowing_add(u8::from(carry));
            *byte = sum;
            carry = overflow;
        }
    }
    let hex = hex_lower(&magnitude).to_ascii_uppercase();
    let digits = hex.trim_start_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    Some(if negative {
        format!("-{digits}")
    } else {
        digits.to_owned()
    })
}

fn rfc3339(t: &ASN1Time) -> Option<String> {
    let format =
        ::time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    t.to_datetime()
        .to_offset(::time::UtcOffset::UTC)
        .format(&format)
        .ok()
}

/// An iPAddress SAN as text: 4 or 16 bytes are an address, 8 or 32 bytes an
/// address and a contiguous netmask (the name-constraints form, which
/// `cryptography` also accepts in a SAN). Anything else yields nothing.
fn ip_address_text(bytes: &[u8]) -> Option<String> {
    use std::net::{Ipv4Addr, Ipv6Addr};
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes)
            .ok()
            .map(|a| Ipv4Addr::from(a).to_string()),
        16 => <[u8; 16]>::try_from(bytes)
            .ok()
            .map(|a| Ipv6Addr::from(a).to_string()),
        8 => {
            let (addr, mask) = bytes.split_at(4);
            let addr = Ipv4Addr::from(<[u8; 4]>::try_from(addr).ok()?);
            let prefix = prefix_len(u32::from_be_bytes(mask.try_into().ok()?).into(), 32)?;
            Some(format!("{addr}/{prefix}"))
        }
        32 => {
            let (addr, mask) = bytes.split_at(16);
            let addr = Ipv6Addr::from(<[u8; 16]>::try_from(addr).ok()?);
            let prefix = prefix_len(u128::from_be_bytes(mask.try_into().ok()?), 128)?;
            Some(format!("{addr}/{prefix}"))
        }
        _ => None,
    }
}

/// Prefix length of a `width`-bit netmask held in the low bits of `mask`,
/// or `None` if its one bits are not contiguous from the top.
fn prefix_len(mask: u128, width: u32) -> Option<u32> {
    let ones = mask.count_ones();
    let expected = if ones == 0 {
        0
    } else {
        // More one bits than the mask is wide cannot be contiguous from its top.
        let shift = width.checked_sub(ones)?;
        (u128::MAX >> 128u32.checked_sub(ones)?).checked_shl(shift)?
    };
    (mask == expected).then_some(ones)
}
