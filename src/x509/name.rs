//! RFC 4514 rendering of X.501 names, byte-for-byte as Python `cryptography`
//! renders them with `Name.rfc4514_string()`.
//!
//! Our reports are compared against facts extracted with `cryptography`, so
//! this module reproduces its choices rather than OpenSSL's or RFC 4514's
//! recommendations where they differ:
//!
//! * RDNs are printed in reverse DER order, joined by `,`; the attributes of a
//!   multi-valued RDN keep their DER order and are joined by `+`.
//! * Only nine attribute types get a short name (`_NAMEOID_TO_NAME`); all
//!   others, `emailAddress` and `serialNumber` included, print as dotted OIDs.
//! * Values are decoded according to their ASN.1 tag; a BIT STRING prints as
//!   `#` followed by the lowercase hex of its content octets (the unused-bits
//!   octet included).
//! * Escaping follows `_escape_dn_value`, which is narrower than RFC 4514
//!   (`=` and control characters other than NUL are left alone).
//!
//! Where `cryptography` raises instead of producing a string (undecodable
//! value, unknown value tag, duplicate attribute in one RDN, ...) we return
//! `None`, which the report shows as an absent subject or issuer.

use std::collections::HashSet;

use x509_parser::asn1_rs::{Class, Tag};
use x509_parser::prelude::{AttributeTypeAndValue, X509Name};

/// `cryptography`'s `_NAMEOID_TO_NAME`: the only attribute types printed by
/// short name.
const SHORT_NAMES: &[(&str, &str)] = &[
    ("2.5.4.3", "CN"),
    ("2.5.4.7", "L"),
    ("2.5.4.8", "ST"),
    ("2.5.4.10", "O"),
    ("2.5.4.11", "OU"),
    ("2.5.4.6", "C"),
    ("2.5.4.9", "STREET"),
    ("0.9.2342.19200300.100.1.25", "DC"),
    ("0.9.2342.19200300.100.1.1", "UID"),
];

/// x500UniqueIdentifier: the only attribute `cryptography` accepts with a
/// BIT STRING value (any other attribute with one makes it raise).
const X500_UNIQUE_IDENTIFIER: &str = "2.5.4.45";

/// A decoded attribute value, as `cryptography` holds it (`str` or `bytes`).
#[derive(PartialEq, Eq, Hash)]
enum Value<'a> {
    Text(String),
    Bits(&'a [u8]),
}

/// Formats `name` as `cryptography`'s `Name.rfc4514_string()` would, or
/// returns `None` where `cryptography` fails to build the `Name`.
pub(crate) fn rfc4514(name: &X509Name<'_>) -> Option<String> {
    let mut rdns = Vec::new();
    for rdn in name.iter_rdn() {
        let mut attrs: Vec<(String, Value<'_>)> = Vec::new();
        for atv in rdn.iter() {
            let oid = super::dotted(atv.attr_type());
            let value = decode_value(&oid, atv)?;
            attrs.push((oid, value));
        }
        // RelativeDistinguishedName refuses an empty set and duplicate
        // (oid, value) pairs. A hash set keeps the check linear: an RDN of
        // attacker-chosen size must not cost quadratic time.
        let mut seen = HashSet::with_capacity(attrs.len());
        if attrs.is_empty() || !attrs.iter().all(|attr| seen.insert(attr)) {
            return None;
        }
        let parts: Vec<String> = attrs
            .iter()
            .map(|(oid, value)| format!("{}={}", attribute_name(oid), escape(value)))
            .collect();
        rdns.push(parts.join("+"));
    }
    rdns.reverse();
    Some(rdns.join(","))
}

fn attribute_name(oid: &str) -> &str {
    SHORT_NAMES
        .iter()
        .find(|(o, _)| *o == oid)
        .map_or(oid, |(_, short)| short)
}

/// Decodes an attribute value the way `cryptography`'s `parse_name_attribute`
/// does: only universal, primitive, short-form tags from `_ASN1_TYPE_TO_ENUM`
/// are accepted; `BMPString` is UTF-16BE, `UniversalString` UTF-32BE, everything
/// else must be UTF-8.
fn decode_value<'a>(oid: &str, atv: &AttributeTypeAndValue<'a>) -> Option<Value<'a>> {
    let any = atv.attr_value();
    if any.class() != Class::Universal || any.header.is_constructed() {
        return None;
    }
    let data = any.data;
    match any.tag() {
        Tag::BitString => (oid == X500_UNIQUE_IDENTIFIER).then_some(Value::Bits(data)),
        Tag::BmpString => {
            if data.len() % 2 != 0 {
                return None;
            }
            let units = data
                .chunks_exact(2)
                .filter_map(|c| <[u8; 2]>::try_from(c).ok())
                .map(u16::from_be_bytes);
            char::decode_utf16(units)
                .collect::<Result<String, _>>()
                .ok()
                .map(Value::Text)
        }
        Tag::UniversalString => {
            if data.len() % 4 != 0 {
                return None;
            }
            data.chunks_exact(4)
                .filter_map(|c| <[u8; 4]>::try_from(c).ok())
                .map(|c| char::from_u32(u32::from_be_bytes(c)))
                .collect::<Option<String>>()
                .map(Value::Text)
        }
        Tag::OctetString
        | Tag::Utf8String
        | Tag::NumericString
        | Tag::PrintableString
        | Tag::TeletexString
        | Tag::Ia5String
        | Tag::UtcTime
        | Tag::GeneralizedTime
        | Tag::VisibleString => std::str::from_utf8(data)
            .ok()
            .map(|s| Value::Text(s.to_owned())),
        _ => None,
    }
}

/// `cryptography`'s `_escape_dn_value`.
fn escape(value: &Value<'_>) -> String {
    let text = match value {
        Value::Bits([]) => return String::new(),
        Value::Bits(bytes) => {
            let mut out = String::with_capacity(bytes.len().saturating_mul(2).saturating_add(1));
            out.push('#');
            out.push_str(&super::hex_lower(bytes));
            return out;
        }
        Value::Text(text) => text,
    };
    let mut out = String::with_capacity(text.len().saturating_add(4));
    for c in text.chars() {
        match c {
            '\\' | '"' | '+' | ',' | ';' | '<' | '>' => {
                out.push('\\');
                out.push(c);
            }
            '\0' => out.push_str("\\00"),
            _ => out.push(c),
        }
    }
    let mut chars = out.chars();
    match chars.next() {
        None => return out,
        Some('#') => out.insert(0, '\\'),
        Some(' ') if chars.next().is_some() => out.insert(0, '\\'),
        Some(_) => {}
    }
    if out.ends_with(' ') {
        out.pop();
        out.push_str("\\ ");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{Value, escape};

    fn esc(s: &str) -> String {
        escape(&Value::Text(s.to_owned()))
    }

    /// Expected strings computed once with cryptography 48.0.0:
    /// `cryptography.x509.name._escape_dn_value(s)`.
    #[test]
    fn escaping_matches_cryptography() {
        assert_eq!(esc(""), "");
        assert_eq!(esc(" "), "\\ ");
        assert_eq!(esc("  "), "\\ \\ ");
        assert_eq!(esc(" a "), "\\ a\\ ");
        assert_eq!(esc("#"), "\\#");
        assert_eq!(esc("a#"), "a#");
        assert_eq!(esc("a=b"), "a=b");
        assert_eq!(esc("a\0b"), "a\\00b");
        assert_eq!(esc("\\\"+,;<>"), "\\\\\\\"\\+\\,\\;\\<\\>");
        assert_eq!(esc("é\n"), "é\n");
        assert_eq!(escape(&Value::Bits(&[0x00, 0xAB])), "#00ab");
        assert_eq!(escape(&Value::Bits(&[])), "");
    }
}
