//! RFC 5280 path processing (§6.1.3, §6.1.4) over the path the chain's
//! verified signatures link, from the leaf up: what the structural checks in
//! `chain.rs` do not cover.
//!
//! Why here and not in `rustls-webpki` (already in the tree through
//! rustls): webpki builds its own path to an anchor and answers with one
//! error, while the report names every problem with the certificate's index,
//! and must also judge chains without a trust bundle. webpki also does not
//! check keyCertSign on issuers and rejects every URI name constraint
//! (SPIFFE trust domains are constrained that way). So the rules are
//! applied here, each after the RFC's own text:
//!
//! - every sent certificate: a critical extension that is not one of RFC
//!   5280's (§4.2, "MUST reject ... a critical extension it does not
//!   recognize") or whose value does not decode ("contains information that
//!   it cannot process");
//! - every issuer in the path: keyUsage, when present, asserts keyCertSign
//!   (§4.2.1.3, §6.1.4 (n)); pathLenConstraint bounds the non-self-issued
//!   intermediates below it (§4.2.1.9, §6.1.4 (l), (m));
//! - name constraints (§4.2.1.10, §6.1.4 (g), §6.1.3 (b)) of an issuer
//!   apply to every certificate below it except self-issued intermediates:
//!   dNSName, iPAddress, uniformResourceIdentifier (host part, which is a
//!   SPIFFE ID's trust domain), rfc822Name and directoryName (the subject).
//!   A constraint of another name form, when a certificate below has a name
//!   of that form, cannot be processed, and RFC 5280 then requires
//!   rejection.
//!
//! The path is bounded by the chain (at most `MAX_CHAIN_LEN` certificates)
//! and each name is compared with each subtree once: O(16² × names ×
//! subtrees) string comparisons, all on data of the certificates themselves.

use std::net::IpAddr;

use x509_parser::extensions::{GeneralName, GeneralSubtree, NameConstraints, ParsedExtension};
use x509_parser::x509::X509Name;

use super::{Pass, display_name, kind};

/// Most subjectAltName entries of one certificate checked against name
/// constraints, and most subtrees of one nameConstraints extension: the
/// work is names × subtrees comparisons.
const MAX_NAMES: usize = 256;
const MAX_SUBTREES: usize = 256;

/// Critical extensions outside RFC 5280 seen on real chains, by name and
/// what they mean for a validator.
const NOTED: &[(&str, &str)] = &[
    (
        "1.3.6.1.4.1.11129.2.4.3",
        "ctPrecertificatePoison (RFC 6962 §3.1: a Certificate Transparency precertificate, never valid for TLS)",
    ),
    (
        "1.3.6.1.5.5.7.1.14",
        "proxyCertInfo (RFC 3820 proxy certificate: only validators configured for proxy certificates accept it)",
    ),
];

/// An unknown extension's name for a detail.
fn unknown_name(oid: &str) -> String {
    NOTED
        .iter()
        .find(|(o, _)| *o == oid)
        .map_or_else(|| oid.to_owned(), |(o, what)| format!("{o} {what}"))
}

/// Names joined for a detail: at most 8, then how many more.
fn listed(names: &[String]) -> String {
    let shown: Vec<&str> = names.iter().take(8).map(String::as_str).collect();
    match names.len().saturating_sub(8) {
        0 => shown.join(", "),
        more => format!("{} and {more} more", shown.join(", ")),
    }
}
use crate::x509::{dotted, extension_name, known_extension};

impl Pass<'_, '_> {
    /// `unknown-critical-extension` and `unparsable-critical-extension`, for
    /// every sent certificate: at most one of each per certificate, naming
    /// the extensions.
    pub(super) fn check_critical_extensions(&mut self) {
        let mut found = Vec::new();
        for (i, slot) in self.slots.iter().enumerate() {
            let Some(entry) = slot.entry() else { continue };
            let (mut unknown, mut broken) = (Vec::new(), Vec::new());
            for ext in entry.cert.extensions().iter().filter(|e| e.critical) {
                let oid = dotted(&ext.oid);
                if !known_extension(&oid) {
                    unknown.push(unknown_name(&oid));
                } else if let Some(error) = ext.parsed_extension().error() {
                    broken.push(format!("{} ({error})", extension_name(&oid)));
                }
            }
            if !unknown.is_empty() {
                let detail = format!(
                    "critical extension {} is not one this validator recognises (RFC 5280 §4.2: reject)",
                    listed(&unknown)
                );
                found.push((kind::UNKNOWN_CRITICAL_EXTENSION, i, detail));
            }
            if !broken.is_empty() {
                let detail = format!("critical extension {} does not decode", listed(&broken));
                found.push((kind::UNPARSABLE_CRITICAL_EXTENSION, i, detail));
            }
        }
        for (kind, i, detail) in found {
            self.push(kind, i, detail);
        }
    }

    /// The path from the leaf along the accepted issuers: leaf first, each
    /// certificate once, ending at a self-issued certificate or at one whose
    /// issuer was not sent.
    pub(super) fn path(&self, links: &[Option<usize>]) -> Vec<usize> {
        let mut path = vec![0];
        let mut at = 0;
        while let Some(Some(next)) = links.get(at) {
            if path.contains(next) {
                break;
            }
            path.push(*next);
            at = *next;
        }
        path
    }

    /// keyCertSign, pathLenConstraint and name constraints of every issuer
    /// on the path.
    pub(super) fn check_path(&mut self, links: &[Option<usize>]) {
        if self.entry(0).is_none() {
            return;
        }
        let path = self.path(links);
        for (depth, &issuer) in path.iter().enumerate().skip(1) {
            self.check_key_cert_sign(issuer, path[depth - 1]);
            self.check_path_len(issuer, &path[1..depth]);
            self.check_name_constraints(issuer, &path[..depth]);
        }
    }

    /// §4.2.1.3: "If the keyUsage extension is present, then the subject
    /// public key MUST NOT be used to verify signatures on certificates ...
    /// unless the keyCertSign bit is set".
    fn check_key_cert_sign(&mut self, issuer: usize, child: usize) {
        let Some(entry) = self.entry(issuer) else {
            return;
        };
        let detail = match entry.cert.key_usage() {
            Ok(Some(ku)) if ku.value.key_cert_sign() => return,
            Ok(Some(ku)) => format!(
                "signs the certificate at index {child}, but its keyUsage ({}) lacks keyCertSign",
                ku.value
            ),
            Ok(None) => return,
            // Repeated: x509-parser refuses to choose; undecodable ones are
            // `unparsable-critical-extension` (or ignored when non-critical).
            Err(_) => format!(
                "signs the certificate at index {child}, but its keyUsage extension is repeated"
            ),
        };
        self.push(kind::ISSUER_NO_KEY_CERT_SIGN, issuer, detail);
    }

    /// §6.1.4 (l), (m): a CA's pathLenConstraint is the number of
    /// non-self-issued intermediate certificates that may follow it.
    fn check_path_len(&mut self, issuer: usize, below: &[usize]) {
        let Some(entry) = self.entry(issuer) else {
            return;
        };
        let Ok(Some(bc)) = entry.cert.basic_constraints() else {
            return;
        };
        let Some(limit) = bc.value.path_len_constraint else {
            return;
        };
        let counted: Vec<usize> = below
            .iter()
            .copied()
            .filter(|&k| self.entry(k).is_some_and(|e| !e.self_issued()))
            .collect();
        if counted.len() <= usize::try_from(limit).unwrap_or(usize::MAX) {
            return;
        }
        let list: Vec<String> = counted.iter().map(ToString::to_string).collect();
        let detail = format!(
            "pathLenConstraint {limit}, but {} intermediate CA certificates follow it on the path to the leaf (index {})",
            counted.len(),
            list.join(", ")
        );
        self.push(kind::PATH_LENGTH_EXCEEDED, issuer, detail);
    }

    /// §6.1.4 (g) with §6.1.3 (b): the issuer's name constraints apply to
    /// every certificate below it, self-issued intermediates excepted.
    fn check_name_constraints(&mut self, issuer: usize, below: &[usize]) {
        let Some(entry) = self.entry(issuer) else {
            return;
        };
        let Some(nc) = name_constraints(&entry.cert) else {
            return;
        };
        let mut found = Vec::new();
        for &k in below {
            let Some(child) = self.entry(k) else { continue };
            if k != 0 && child.self_issued() {
                continue;
            }
            if let Some(why) = violation(nc, &names_of(child)) {
                found.push((k, why));
            }
        }
        // One problem per issuer: the first certificate outside, and how
        // many others are.
        let Some((k, why)) = found.first() else {
            return;
        };
        let more = match found.len() - 1 {
            0 => String::new(),
            n => format!(" ({n} more certificates below it are outside too)"),
        };
        let detail =
            format!("its name constraints exclude the certificate at index {k}: {why}{more}");
        self.push(kind::NAME_CONSTRAINTS, issuer, detail);
    }
}

/// The issuer's decoded nameConstraints, if it has them.
fn name_constraints<'a>(
    cert: &'a x509_parser::certificate::X509Certificate<'a>,
) -> Option<&'a NameConstraints<'a>> {
    cert.extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::NameConstraints(nc) => Some(nc),
            _ => None,
        })
}

/// The names a certificate asserts, for name constraints: its subject (as
/// a directoryName, unless empty) and its subjectAltName entries.
struct Names<'c> {
    subject: Option<&'c X509Name<'c>>,
    alt: Vec<&'c GeneralName<'c>>,
}

fn names_of<'c>(entry: &'c super::Entry<'_>) -> Names<'c> {
    let subject = entry.cert.subject();
    let subject = subject.iter_rdn().next().is_some().then_some(subject);
    let alt = entry
        .cert
        .extensions()
        .iter()
        .filter_map(|e| match e.parsed_extension() {
            ParsedExtension::SubjectAlternativeName(san) => Some(san.general_names.iter()),
            _ => None,
        })
        .flatten()
        .collect();
    Names { subject, alt }
}

/// The name forms processed here.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    Dns,
    Ip,
    Uri,
    Email,
    Directory,
    /// otherName, x400Address, ediPartyName, registeredID, or undecodable.
    Other,
}

fn form(name: &GeneralName<'_>) -> Form {
    match name {
        GeneralName::DNSName(_) => Form::Dns,
        GeneralName::IPAddress(_) => Form::Ip,
        GeneralName::URI(_) => Form::Uri,
        GeneralName::RFC822Name(_) => Form::Email,
        GeneralName::DirectoryName(_) => Form::Directory,
        _ => Form::Other,
    }
}

/// Why `names` falls outside `nc`, if it does. Beyond [`MAX_NAMES`] names
/// or [`MAX_SUBTREES`] subtrees the work is refused, and per §4.2.1.10 what
/// cannot be processed is rejected.
fn violation(nc: &NameConstraints<'_>, names: &Names<'_>) -> Option<String> {
    let subtrees = [&nc.permitted_subtrees, &nc.excluded_subtrees]
        .iter()
        .map(|s| s.as_ref().map_or(0, Vec::len))
        .sum::<usize>();
    if names.alt.len() > MAX_NAMES || subtrees > MAX_SUBTREES {
        return Some(format!(
            "{} names against {subtrees} subtrees is more than is processed here ({MAX_NAMES} names, {MAX_SUBTREES} subtrees; RFC 5280 §4.2.1.10: reject)",
            names.alt.len()
        ));
    }
    let (permitted, excluded) = (bases(&nc.permitted_subtrees), bases(&nc.excluded_subtrees));
    let subject = names.subject.map(|n| (Form::Directory, Presented::Dir(n)));
    let alt = names.alt.iter().map(|g| (form(g), Presented::Alt(g)));
    for (name_form, name) in subject.into_iter().chain(alt) {
        let text = name.text();
        let (allow, deny) = (
            of_form(&permitted, name_form),
            of_form(&excluded, name_form),
        );
        if name_form == Form::Other && !(allow.is_empty() && deny.is_empty()) {
            return Some(format!(
                "{text} is of a name form whose constraints are not processed here (RFC 5280 §4.2.1.10: reject)"
            ));
        }
        if let Some(base) = deny.iter().find(|b| name.within(b) == Some(true)) {
            return Some(format!("{text} is within excluded {}", describe(base)));
        }
        if !allow.is_empty() && !allow.iter().any(|b| name.within(b) == Some(true)) {
            let bases: Vec<String> = allow.iter().map(|b| describe(b)).collect();
            return Some(format!(
                "{text} is not within the permitted {}",
                bases.join(", ")
            ));
        }
    }
    None
}

/// The base names of a list of subtrees.
fn bases<'n, 'g>(subtrees: &'n Option<Vec<GeneralSubtree<'g>>>) -> Vec<&'n GeneralName<'g>> {
    subtrees.iter().flatten().map(|s| &s.base).collect()
}

/// The subtrees of one name form.
fn of_form<'n, 'g>(list: &[&'n GeneralName<'g>], name_form: Form) -> Vec<&'n GeneralName<'g>> {
    list.iter()
        .filter(|b| form(b) == name_form)
        .copied()
        .collect()
}

/// A presented name: the subject, or a subjectAltName entry.
enum Presented<'c> {
    Dir(&'c X509Name<'c>),
    Alt(&'c GeneralName<'c>),
}

impl Presented<'_> {
    fn text(&self) -> String {
        match self {
            Presented::Dir(n) => format!("subject \"{}\"", display_name(n)),
            Presented::Alt(g) => describe(g),
        }
    }

    /// Whether this name is within subtree `base` (of the same form);
    /// `None` when it cannot be told (an address of the wrong length).
    fn within(&self, base: &GeneralName<'_>) -> Option<bool> {
        match (self, base) {
            (Presented::Dir(name), GeneralName::DirectoryName(base)) => {
                Some(directory_within(name, base))
            }
            (Presented::Alt(GeneralName::DirectoryName(name)), GeneralName::DirectoryName(b)) => {
                Some(directory_within(name, b))
            }
            (Presented::Alt(GeneralName::DNSName(name)), GeneralName::DNSName(base)) => {
                Some(dns_within(name, base))
            }
            (Presented::Alt(GeneralName::URI(uri)), GeneralName::URI(base)) => {
                Some(uri_host(uri).is_some_and(|host| host_within(host, base)))
            }
            (Presented::Alt(GeneralName::RFC822Name(mail)), GeneralName::RFC822Name(base)) => {
                Some(email_within(mail, base))
            }
            (Presented::Alt(GeneralName::IPAddress(ip)), GeneralName::IPAddress(base)) => {
                ip_within(ip, base)
            }
            _ => Some(false),
        }
    }
}

/// A general name for a detail, bounded.
fn describe(name: &GeneralName<'_>) -> String {
    let text = match name {
        GeneralName::DNSName(s) => format!("dNSName \"{s}\""),
        GeneralName::URI(s) => format!("URI \"{s}\""),
        GeneralName::RFC822Name(s) => format!("rfc822Name \"{s}\""),
        GeneralName::IPAddress(b) => match ip_text(b) {
            Some(ip) => format!("iPAddress {ip}"),
            None => format!("iPAddress of {} bytes", b.len()),
        },
        GeneralName::DirectoryName(n) => format!("directoryName \"{}\"", display_name(n)),
        GeneralName::OtherName(oid, _) => format!("otherName {}", dotted(oid)),
        GeneralName::RegisteredID(oid) => format!("registeredID {}", dotted(oid)),
        GeneralName::X400Address(_) => "x400Address".to_owned(),
        GeneralName::EDIPartyName(_) => "ediPartyName".to_owned(),
        GeneralName::Invalid(tag, _) => format!("undecodable name (tag {})", tag.0),
    };
    text.chars().take(200).collect()
}

/// §4.2.1.10: "any DNS name that can be constructed by simply adding zero
/// or more labels to the left-hand side of the name satisfies the name
/// constraint". A leading dot (a common extension) means subdomains only;
/// an empty constraint matches every name. Case is ignored.
fn dns_within(name: &str, base: &str) -> bool {
    let name = name.trim_end_matches('.');
    let base = base.trim_end_matches('.');
    if base.is_empty() {
        return true;
    }
    if let Some(domain) = base.strip_prefix('.') {
        return ends_with_label(name, domain);
    }
    name.eq_ignore_ascii_case(base) || ends_with_label(name, base)
}

/// `name` ends with `.domain` (ASCII case-insensitive).
fn ends_with_label(name: &str, domain: &str) -> bool {
    let (n, d) = (name.as_bytes(), domain.as_bytes());
    let Some(dot) = n.len().checked_sub(d.len() + 1) else {
        return false;
    };
    n.get(dot) == Some(&b'.') && n.get(dot + 1..).is_some_and(|t| t.eq_ignore_ascii_case(d))
}

/// §4.2.1.10 for URIs: the constraint applies to the host; "example.com"
/// is that host only, ".example.com" any host below it.
fn host_within(host: &str, base: &str) -> bool {
    match base.strip_prefix('.') {
        Some(domain) => ends_with_label(host, domain),
        None => host.eq_ignore_ascii_case(base),
    }
}

/// The host of a URI with an authority (`scheme://[userinfo@]host[:port]`),
/// else `None`: a URI without a host matches no URI subtree.
fn uri_host(uri: &str) -> Option<&str> {
    let (_, rest) = uri.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host_port.starts_with('[') {
        host_port.split_inclusive(']').next()?
    } else {
        host_port.split(':').next()?
    };
    (!host.is_empty()).then_some(host)
}

/// §4.2.1.10 for rfc822Name: a mailbox, all mailboxes on a host, or (with
/// a leading dot) on any host in a domain.
fn email_within(mail: &str, base: &str) -> bool {
    if base.contains('@') {
        return mail.eq_ignore_ascii_case(base);
    }
    let Some((_, host)) = mail.rsplit_once('@') else {
        return false;
    };
    host_within(host, base)
}

/// §4.2.1.10 for iPAddress: the base is an address and a mask of the same
/// family (8 or 32 bytes); `None` when lengths do not fit.
fn ip_within(ip: &[u8], base: &[u8]) -> Option<bool> {
    if base.len() != ip.len() * 2 || !matches!(ip.len(), 4 | 16) {
        return (matches!(ip.len(), 4 | 16) && matches!(base.len(), 8 | 32)).then_some(false);
    }
    let (network, mask) = base.split_at(ip.len());
    Some(
        ip.iter()
            .zip(network)
            .zip(mask)
            .all(|((a, n), m)| a & m == n & m),
    )
}

fn ip_text(bytes: &[u8]) -> Option<String> {
    let ip = match bytes.len() {
        4 => IpAddr::from(<[u8; 4]>::try_from(bytes).ok()?),
        16 => IpAddr::from(<[u8; 16]>::try_from(bytes).ok()?),
        8 | 32 => {
            let (addr, mask) = bytes.split_at(bytes.len() / 2);
            return Some(format!("{}/{}", ip_text(addr)?, ip_text(mask)?));
        }
        _ => return None,
    };
    Some(ip.to_string())
}

/// §4.2.1.10 for directoryName: the base's RDNs are the first RDNs of the
/// name. Compared by attribute type and raw value (no §7.1 normalisation,
/// like every name comparison in this module).
fn directory_within(name: &X509Name<'_>, base: &X509Name<'_>) -> bool {
    let rdns = |n: &X509Name<'_>| -> Vec<Vec<(String, Vec<u8>)>> {
        n.iter_rdn()
            .map(|rdn| {
                rdn.iter()
                    .map(|atv| (dotted(atv.attr_type()), atv.attr_value().data.to_vec()))
                    .collect()
            })
            .collect()
    };
    let (name, base) = (rdns(name), rdns(base));
    base.len() <= name.len() && name.iter().zip(&base).all(|(n, b)| n == b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_subtrees() {
        assert!(dns_within("a.example.com", "example.com"));
        assert!(dns_within("example.com", "example.com"));
        assert!(dns_within("A.Example.COM", "example.com"));
        assert!(!dns_within("badexample.com", "example.com"));
        assert!(!dns_within("example.com", ".example.com"));
        assert!(dns_within("x.example.com", ".example.com"));
        assert!(dns_within("anything", ""));
    }

    #[test]
    fn uri_hosts() {
        assert_eq!(uri_host("spiffe://domain1.test/w"), Some("domain1.test"));
        assert_eq!(uri_host("https://u@h.test:8443/p?q"), Some("h.test"));
        assert_eq!(uri_host("https://[::1]:8443/"), Some("[::1]"));
        assert_eq!(uri_host("urn:x:y"), None);
        assert_eq!(uri_host("spiffe:///p"), None);
        assert!(host_within("domain1.test", "domain1.test"));
        assert!(!host_within("sub.domain1.test", "domain1.test"));
        assert!(host_within("sub.domain1.test", ".domain1.test"));
        assert!(!host_within("other.test", "domain1.test"));
    }

    #[test]
    fn emails_and_addresses() {
        assert!(email_within("a@example.com", "example.com"));
        assert!(!email_within("a@x.example.com", "example.com"));
        assert!(email_within("a@x.example.com", ".example.com"));
        assert!(email_within("A@example.com", "a@example.com"));
        assert_eq!(
            ip_within(&[10, 1, 2, 3], &[10, 0, 0, 0, 255, 0, 0, 0]),
            Some(true)
        );
        assert_eq!(
            ip_within(&[11, 1, 2, 3], &[10, 0, 0, 0, 255, 0, 0, 0]),
            Some(false)
        );
        assert_eq!(
            ip_within(&[0; 16], &[10, 0, 0, 0, 255, 0, 0, 0]),
            Some(false)
        );
        assert_eq!(ip_within(&[1, 2], &[10, 0, 0, 0, 255, 0, 0, 0]), None);
    }
}
