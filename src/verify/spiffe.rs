//! SPIFFE ID syntax and X509-SVID certificate rules.
//!
//! Why: a peer claims a SPIFFE identity through its certificate's one URI
//! SAN, and the auditor must judge that claim exactly as the SPIFFE ID spec
//! (§2–§2.4) and the X509-SVID spec (§2–§5.2) do, as quoted in
//! `shared/reference/standards.md` §1.1–§1.2. Like go-spiffe, the scheme must
//! be exactly `spiffe` and case is never folded (§2.1 wants a lower-case host,
//! despite §2.4's "case-insensitive").
//!
//! Pure and bounded: no I/O, no panics, a linear pass per URI component, each
//! rule reported at most once per component (≤ 14 violations for an ID, ≤ 19
//! for a certificate), details quoting only a few input characters. Rules are
//! independent: one defect may break several.
//!
//! | Rule id | Violated when |
//! |---|---|
//! | `spiffe-too-long` | The URI is longer than 2048 bytes (§2.3). |
//! | `spiffe-scheme` | The URI does not start with exactly `spiffe://` (§2). |
//! | `spiffe-query-or-fragment` | The URI has a query (`?`) or a fragment (`#`) (§2). |
//! | `spiffe-port-or-userinfo` | The authority has userinfo (`@`) or a port (`:`) (§2.1). |
//! | `spiffe-trust-domain-empty` | The trust domain (URI host) is empty (§2, §2.1). |
//! | `spiffe-trust-domain-uppercase` | The trust domain has an upper-case letter (§2.1). |
//! | `spiffe-trust-domain-chars` | The trust domain has a character outside `[a-z0-9._-]` other than upper case and `%` (§2.1). |
//! | `spiffe-trust-domain-length` | The trust domain is longer than 255 bytes (§2.3). |
//! | `spiffe-percent-encoding` | The trust domain or the path contains `%` (§2.1, §2.2); once per component. |
//! | `spiffe-path-segment-empty` | The path has an empty segment (`//`) (§2.2). |
//! | `spiffe-path-dot-segment` | A path segment is `.` or `..` (§2.2). |
//! | `spiffe-path-chars` | The path has a character outside `[A-Za-z0-9._-]`, `/` and `%` (§2.2). |
//! | `spiffe-trailing-slash` | The path ends with `/`, including the root path `spiffe://td/` (§2.2). |
//! | `svid-cert-unparsed` | The certificate could not be parsed; nothing else was checked. |
//! | `svid-uri-san-count` | Not exactly one URI SAN; a signing certificate may have none (X509-SVID §2, §3.2). |
//! | `svid-leaf-no-path` | The leaf's SPIFFE ID has no path (X509-SVID §3.1, §5.2). |
//! | `svid-leaf-is-ca` | The leaf has basicConstraints cA true (§4.1, §5.2). |
//! | `svid-leaf-no-digital-signature` | The leaf's keyUsage lacks digitalSignature or is absent (§4.3). |
//! | `svid-leaf-signs-certificates` | The leaf's keyUsage sets keyCertSign (§4.3, §5.2). |
//! | `svid-leaf-signs-crls` | The leaf's keyUsage sets cRLSign (§4.3, §5.2). |
//! | `svid-leaf-eku-incomplete` | The leaf has an EKU without both serverAuth and clientAuth (§4.4). |
//! | `svid-signing-not-ca` | The signing certificate lacks basicConstraints cA true (§4.1). |
//! | `svid-signing-no-keycertsign` | The signing certificate's keyUsage lacks keyCertSign or is absent (§4.3). |
//! | `svid-signing-has-path` | The signing certificate's SPIFFE ID has a path (§3.2). |
//! | `svid-key-usage-not-critical` | keyUsage is present but not marked critical (§4.3), leaf or signing. |
//! | `svid-san-not-critical` | The subject is empty and subjectAltName is not critical (§3.1, RFC 5280 §4.1.2.6, §4.2.1.6). |
//! | `svid-extension-undecodable` | basicConstraints, keyUsage, extendedKeyUsage or subjectAltName does not decode, so the rules above that read it cannot be trusted (RFC 5280 §4.2). |
//!
//! In a certificate, ID violations keep their `spiffe-*` id, detail prefixed
//! "URI SAN: ".

use serde::Serialize;

use crate::x509::Certificate;

/// Longest SPIFFE ID, in bytes (SPIFFE-ID §2.3).
pub const MAX_URI_LEN: usize = 2048;
/// Longest trust domain name, in bytes (SPIFFE-ID §2.3, after RFC 3986).
pub const MAX_TRUST_DOMAIN_LEN: usize = 255;

/// A parsed SPIFFE ID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SpiffeId {
    /// The URI host: non-empty, `[a-z0-9._-]`, at most 255 bytes.
    pub trust_domain: String,
    /// `""` or `/seg/seg…`; `spiffe://{trust_domain}{path}` is the ID.
    pub path: String,
}

/// One violated rule, with a stable kebab-case id and a sentence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// Stable rule id from the table in this module's documentation.
    pub rule: &'static str,
    /// What was found, in one sentence.
    pub detail: String,
}

/// Parses `uri` per the SPIFFE ID spec, returning every violated rule, not
/// just the first, in URI order (whole URI, scheme, authority, path).
pub fn parse_spiffe_id(uri: &str) -> Result<SpiffeId, Vec<Violation>> {
    let mut out = Vec::new();
    if uri.len() > MAX_URI_LEN {
        let detail = format!("the URI is {} bytes; the limit is 2048", uri.len());
        push(&mut out, "spiffe-too-long", detail);
    }
    let Some(rest) = after_scheme(uri, &mut out) else {
        return Err(out);
    };
    let (rest, fragment) = split_off(rest, '#');
    let (hier, query) = split_off(rest, '?');
    let found = [(query, "a query ('?')"), (fragment, "a fragment ('#')")];
    if let Some(found) = listed(found.map(|(part, what)| (part.is_some(), what))) {
        let detail = format!("the URI has {found}");
        push(&mut out, "spiffe-query-or-fragment", detail);
    }
    let (authority, path) = hier.split_at(hier.find('/').unwrap_or(hier.len()));
    let trust_domain = check_authority(authority, &mut out);
    check_path(path, &mut out);
    if !out.is_empty() {
        return Err(out);
    }
    let (trust_domain, path) = (trust_domain.to_owned(), path.to_owned());
    Ok(SpiffeId { trust_domain, path })
}

/// What follows `spiffe://`, or `None` when there is no `scheme://`; a wrong
/// scheme before `//` still yields the rest, whose violations count too.
fn after_scheme<'a>(uri: &'a str, out: &mut Vec<Violation>) -> Option<&'a str> {
    let (scheme, rest) = split_off(uri, ':');
    let rest = rest.and_then(|rest| rest.strip_prefix("//"));
    let detail = if scheme == uri {
        "the URI has no scheme; it must start with \"spiffe://\"".to_owned()
    } else if scheme.eq_ignore_ascii_case("spiffe") && scheme != "spiffe" {
        format!("the scheme {scheme:?} is not lower-case \"spiffe\"")
    } else if scheme != "spiffe" {
        format!("the scheme {:?} is not \"spiffe\"", clip(scheme))
    } else if rest.is_none() {
        "\"spiffe:\" is not followed by \"//\"".to_owned()
    } else {
        return rest;
    };
    push(out, "spiffe-scheme", detail);
    rest
}

/// Checks the authority and returns its host part, the trust domain.
fn check_authority<'a>(authority: &'a str, out: &mut Vec<Violation>) -> &'a str {
    let at_sign = authority.rsplit_once('@');
    let (userinfo, host_port) = at_sign.map_or((false, authority), |(_, h)| (true, h));
    // The colons of an IPv6 literal are not the port delimiter.
    let skip = host_port
        .strip_prefix('[')
        .and_then(|_| host_port.find(']'))
        .unwrap_or(0);
    let colon = host_port.get(skip..).and_then(|s| s.find(':'));
    let host = colon.map_or(host_port, |i| host_port.get(..skip + i).unwrap_or(""));
    let found = [(userinfo, "userinfo ('@')"), (colon.is_some(), "a port")];
    if let Some(found) = listed(found) {
        let detail = format!("the authority has {found}; the trust domain must be a bare host");
        push(out, "spiffe-port-or-userinfo", detail);
    }
    if host.is_empty() {
        let detail = "the trust domain (URI host) is empty";
        push(out, "spiffe-trust-domain-empty", detail);
    }
    if let Some((at, c)) = first(host, |c| c.is_ascii_uppercase()) {
        let detail = format!("the trust domain has upper-case {c:?} at byte {at}");
        push(out, "spiffe-trust-domain-uppercase", detail);
    }
    if let Some((at, c)) = first(host, |c| !is_path_char(c) && c != '%') {
        let detail = format!("the trust domain has {c:?} at byte {at}, outside [a-z0-9._-]");
        push(out, "spiffe-trust-domain-chars", detail);
    }
    if let Some(at) = host.find('%') {
        let detail = format!("the trust domain has '%' at byte {at}");
        push(out, "spiffe-percent-encoding", detail);
    }
    if host.len() > MAX_TRUST_DOMAIN_LEN {
        let detail = format!("the trust domain is {} bytes; the limit is 255", host.len());
        push(out, "spiffe-trust-domain-length", detail);
    }
    host
}

/// Checks the path: `""` or `/` followed by segments.
fn check_path(path: &str, out: &mut Vec<Violation>) {
    let inner = path.strip_suffix('/');
    // `inner` is "" or starts with '/': the first split item is always "".
    let mut segments = inner.unwrap_or(path).split('/').skip(1);
    if segments.clone().any(str::is_empty) {
        let detail = "the path has an empty segment ('//')";
        push(out, "spiffe-path-segment-empty", detail);
    }
    if let Some(segment) = segments.find(|s| *s == "." || *s == "..") {
        let detail = format!("the path has a {segment:?} segment");
        push(out, "spiffe-path-dot-segment", detail);
    }
    if let Some((at, c)) = first(path, |c| !is_path_char(c) && c != '/' && c != '%') {
        let detail = format!("the path has {c:?} at byte {at}, outside [A-Za-z0-9._-]");
        push(out, "spiffe-path-chars", detail);
    }
    if let Some(at) = path.find('%') {
        let detail = format!("the path has '%' at byte {at}");
        push(out, "spiffe-percent-encoding", detail);
    }
    if inner.is_some() {
        push(out, "spiffe-trailing-slash", "the path ends with '/'");
    }
}

fn push(out: &mut Vec<Violation>, rule: &'static str, detail: impl Into<String>) {
    let detail = detail.into();
    out.push(Violation { rule, detail });
}

/// `(before, Some(after))` split at the first `c`, else `(s, None)`.
fn split_off(s: &str, c: char) -> (&str, Option<&str>) {
    s.split_once(c).map_or((s, None), |(a, b)| (a, Some(b)))
}

/// `[A-Za-z0-9._-]`; the trust domain's set is this minus upper case.
fn is_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')
}

/// Byte offset and value of the first character of `s` that matches.
fn first(s: &str, matches: impl Fn(char) -> bool) -> Option<(usize, char)> {
    s.char_indices().find(|&(_, c)| matches(c))
}

/// The descriptions whose flag is set, joined by " and "; `None` if none is.
fn listed<const N: usize>(items: [(bool, &str); N]) -> Option<String> {
    let set: Vec<&str> = items.iter().filter(|i| i.0).map(|i| i.1).collect();
    (!set.is_empty()).then(|| set.join(" and "))
}

/// At most the first 32 characters of `s`, for quoting input in a detail.
fn clip(s: &str) -> &str {
    s.char_indices().nth(32).map_or(s, |(i, _)| &s[..i])
}

/// Checks `cert` against the X509-SVID rules for a leaf (`is_leaf`) or a
/// signing certificate, returning every violated rule.
pub fn check_x509_svid(cert: &Certificate, is_leaf: bool) -> Vec<Violation> {
    let mut out = Vec::new();
    if let Some(error) = &cert.parse_error {
        let detail = format!("unparseable certificate: {}", clip(error));
        push(&mut out, "svid-cert-unparsed", detail);
        return out;
    }
    let role = ["signing certificate", "leaf"][usize::from(is_leaf)];
    let mut id = None;
    match cert.uris.as_slice() {
        [uri] => match parse_spiffe_id(uri) {
            Ok(parsed) => id = Some(parsed),
            Err(found) => {
                for v in found {
                    push(&mut out, v.rule, format!("URI SAN: {}", v.detail));
                }
            }
        },
        // §3.2: a signing certificate SHOULD (not MUST) itself be an SVID.
        [] if !is_leaf => {}
        uris => {
            let detail = format!("the {role} has {} URI SANs, not exactly one", uris.len());
            push(&mut out, "svid-uri-san-count", detail);
        }
    }
    let pathless = id.map(|id| id.path.is_empty());
    let has = |usage: &str| cert.key_usage.iter().any(|u| u == usage);
    let (ca, ds) = (cert.is_ca == Some(true), has("digitalSignature"));
    let (kcs, crl) = (has("keyCertSign"), has("cRLSign"));
    let eku = &cert.extended_key_usage;
    let both = ["serverAuth", "clientAuth"].map(|p| eku.iter().any(|e| e == p));
    let eku_bad = !eku.is_empty() && both != [true, true];
    let bc = cert.is_ca.map(|ca| format!("basicConstraints cA {ca}"));
    let ku = match cert.key_usage.as_slice() {
        [] => "no keyUsage".to_owned(),
        bits => format!("keyUsage {}", bits.join(", ")),
    };
    let (bc, ku) = (bc.as_deref().unwrap_or("no basicConstraints"), ku.as_str());
    let (no_path, has_path) = (pathless == Some(true), pathless == Some(false));
    let eku_text = "an EKU lacking serverAuth or clientAuth";
    let checks = if is_leaf {
        vec![
            (no_path, "svid-leaf-no-path", "a SPIFFE ID without a path"),
            (ca, "svid-leaf-is-ca", bc),
            (!ds, "svid-leaf-no-digital-signature", ku),
            (kcs, "svid-leaf-signs-certificates", ku),
            (crl, "svid-leaf-signs-crls", ku),
            (eku_bad, "svid-leaf-eku-incomplete", eku_text),
        ]
    } else {
        vec![
            (has_path, "svid-signing-has-path", "a SPIFFE ID with a path"),
            (!ca, "svid-signing-not-ca", bc),
            (!kcs, "svid-signing-no-keycertsign", ku),
        ]
    };
    for (_, rule, what) in checks.into_iter().filter(|check| check.0) {
        push(&mut out, rule, format!("the {role} has {what}"));
    }
    check_extension_form(cert, role, &mut out);
    out
}

/// The rules about how the extensions are marked and encoded.
fn check_extension_form(cert: &Certificate, role: &str, out: &mut Vec<Violation>) {
    let critical = |name: &str| cert.critical.iter().any(|c| c == name);
    if !cert.key_usage.is_empty() && !critical("keyUsage") {
        let detail = format!("the {role}'s keyUsage extension is not marked critical");
        push(out, "svid-key-usage-not-critical", detail);
    }
    let has_san = !(cert.uris.is_empty()
        && cert.dns_names.is_empty()
        && cert.ip_addresses.is_empty()
        && cert.emails.is_empty());
    if cert.subject.as_deref() == Some("") && has_san && !critical("subjectAltName") {
        let detail = format!(
            "the {role} has an empty subject and its subjectAltName extension is not marked critical"
        );
        push(out, "svid-san-not-critical", detail);
    }
    let read = [
        "basicConstraints",
        "keyUsage",
        "extendedKeyUsage",
        "subjectAltName",
    ];
    let bad: Vec<&str> = cert
        .undecodable_extensions
        .iter()
        .map(String::as_str)
        .filter(|name| read.contains(name))
        .collect();
    if !bad.is_empty() {
        let detail = format!(
            "the {role}'s {} extension does not decode; the rules that read it cannot be checked",
            bad.join(" and ")
        );
        push(out, "svid-extension-undecodable", detail);
    }
}

/// Namespace and service account of an Istio-layout ID
/// (`spiffe://<td>/ns/<ns>/sa/<sa>`, `istio/istio` `pkg/spiffe`), else `None`.
pub fn istio_identity(id: &SpiffeId) -> Option<(String, String)> {
    let (ns, sa) = id.path.strip_prefix("/ns/")?.split_once("/sa/")?;
    let segment = |s: &str| !s.is_empty() && !s.contains('/');
    (segment(ns) && segment(sa)).then(|| (ns.to_owned(), sa.to_owned()))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use proptest::sample::Index;
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, SanType};

    use super::*;

    const ID: &str = "spiffe://cluster.local/ns/pay/sa/api";

    fn rules(uri: &str) -> Vec<&'static str> {
        let found = parse_spiffe_id(uri).err().unwrap_or_default();
        found.iter().map(|v| v.rule).collect()
    }

    fn id(trust_domain: &str, path: &str) -> SpiffeId {
        let (trust_domain, path) = (trust_domain.to_owned(), path.to_owned());
        SpiffeId { trust_domain, path }
    }

    #[test]
    fn valid_examples() {
        // SPIFFE-ID §2 and §2.2 examples, then the go-spiffe acceptances of
        // reference §1.3, as `trust-domain path` of `spiffe://{td}{path}`.
        let table = "
            trust-domain-name /path | staging.example.com /payments/mysql
            staging.example.com /payments/web-fe | k8s-west.example.com /ns/staging/sa/default
            example.com /9eebccd2-12bf-40a6-b262-65fe0487d453
            td | td /.path | td /..path | td /... | .. | -a- | 1.2.3.4 | a_b.c-9 /A_Z.a-z/0-9";
        for pair in table
            .lines()
            .skip(1)
            .flat_map(|l| l.split('|'))
            .map(str::trim)
        {
            let (td, path) = pair.split_once(' ').unwrap_or((pair, ""));
            let uri = format!("spiffe://{td}{path}");
            assert_eq!(parse_spiffe_id(&uri), Ok(id(td, path)), "{uri}");
        }
    }

    #[test]
    fn id_rules() {
        // Each line: a rule, then the inputs that break it and nothing else.
        let table = "
            spiffe-scheme | Spiffe://td/p | SPIFFE://td/p | spiffe:/td/p | https://td/p | td/p
            spiffe-query-or-fragment | spiffe://td/p?x=1 | spiffe://td/p#frag | spiffe://td?
            spiffe-port-or-userinfo | spiffe://td:8443/p | spiffe://user@td/p | spiffe://td:
            spiffe-trust-domain-empty | spiffe:// | spiffe:///p
            spiffe-trust-domain-uppercase | spiffe://Example.com/p | spiffe://TD
            spiffe-trust-domain-chars | spiffe://ex ample/p | spiffe://[::1]/p | spiffe://caf\u{e9}
            spiffe-percent-encoding | spiffe://ex%41mple/p | spiffe://td/p%2Fq
            spiffe-path-segment-empty | spiffe://td/a//b | spiffe://td//a
            spiffe-path-dot-segment | spiffe://td/a/./b | spiffe://td/a/../b | spiffe://td/..
            spiffe-path-chars | spiffe://td/a b | spiffe://td/a:b | spiffe://td/\u{e9}
            spiffe-trailing-slash | spiffe://td/a/ | spiffe://td/";
        for line in table.lines().skip(1) {
            let mut cells = line.split(" | ").map(str::trim);
            let rule = cells.next().unwrap_or_default();
            for uri in cells {
                assert_eq!(rules(uri), [rule], "{uri}");
            }
        }
        assert_eq!(rules(""), ["spiffe-scheme"]);
        // Every violation is reported, in URI order.
        let all = rules("SPIFFE://u@TD:1//./a%20/?q#f").join(" ");
        let expected = "spiffe-scheme spiffe-query-or-fragment spiffe-port-or-userinfo \
            spiffe-trust-domain-uppercase spiffe-path-segment-empty spiffe-path-dot-segment \
            spiffe-percent-encoding spiffe-trailing-slash";
        assert_eq!(all, expected);
        let both = ["spiffe-path-segment-empty", "spiffe-trailing-slash"];
        assert_eq!(rules("spiffe://td//"), both);
        let found = parse_spiffe_id("spiffe://a%41/b%42").unwrap_err();
        assert_eq!(found[0].detail, "the trust domain has '%' at byte 1");
        assert_eq!(found[1].detail, "the path has '%' at byte 2");
        let upper = &parse_spiffe_id("spiffe://aB").unwrap_err()[0].detail;
        assert_eq!(upper, "the trust domain has upper-case 'B' at byte 1");
    }

    #[test]
    fn length_limits() {
        let uri = |n: usize| format!("spiffe://td/{}", "a".repeat(n - 12));
        assert_eq!(uri(2049).len(), 2049);
        assert!(parse_spiffe_id(&uri(2048)).is_ok());
        assert_eq!(rules(&uri(2049)), ["spiffe-too-long"]);
        let td = |n: usize| format!("spiffe://{}/p", "a".repeat(n));
        assert!(parse_spiffe_id(&td(255)).is_ok());
        assert_eq!(rules(&td(256)), ["spiffe-trust-domain-length"]);
    }

    proptest! {
        #[test]
        fn never_panics(s in any::<String>(), u in "spiffe://[a-zA-Z0-9:/@?#%.\\[\\] _-]{0,40}") {
            for x in [s, u] {
                match parse_spiffe_id(&x) {
                    Ok(i) => prop_assert_eq!(format!("spiffe://{}{}", i.trust_domain, i.path), x),
                    Err(found) => prop_assert!((1..=14).contains(&found.len())),
                }
            }
        }

        #[test]
        fn valid_ids_round_trip(td in "[a-z0-9._-]{1,64}", segments in prop::collection::vec(
            "[A-Za-z0-9._-]{1,12}".prop_filter("dot", |s| s != "." && s != ".."), 0..6)) {
            let path: String = segments.iter().map(|s| format!("/{s}")).collect();
            let uri = format!("spiffe://{td}{path}");
            prop_assert_eq!(parse_spiffe_id(&uri), Ok(id(&td, &path)));
        }

        /// `c` is any character outside `[a-z0-9._-]` but the delimiters that
        /// end the authority (`/`, `?`, `#`) and so the trust domain.
        #[test]
        fn forbidden_trust_domain_char(td in "[a-z0-9._-]{1,64}", at in any::<Index>(),
            c in any::<char>().prop_filter("td", |c| !is_path_char(*c) || c.is_ascii_uppercase())
                .prop_filter("delimiter", |c| !"/?#".contains(*c))) {
            let mut bad = td.clone();
            bad.insert(at.index(td.len() + 1), c);
            let found = parse_spiffe_id(&format!("spiffe://{bad}/p")).unwrap_err();
            let td_rule = |rule: &str| rule.starts_with("spiffe-trust-domain-")
                || rule == "spiffe-port-or-userinfo" || rule == "spiffe-percent-encoding";
            let names_td = |v: &Violation| td_rule(v.rule) && v.detail.contains("trust domain");
            prop_assert!(found.iter().any(names_td), "{:?}", found);
        }
    }

    /// A self-signed certificate with these space-separated URI SANs and
    /// `flags`: "ca" (else cA false), key usages "ds", "ke", "kcs", "crl",
    /// and EKU "eku" (clientAuth and serverAuth) or "srv" (serverAuth).
    fn cert(uris: &str, flags: &str) -> Certificate {
        use rcgen::ExtendedKeyUsagePurpose::{ClientAuth, ServerAuth};
        use rcgen::KeyUsagePurpose::{CrlSign, DigitalSignature, KeyCertSign, KeyEncipherment};
        let mut params = CertificateParams::default();
        let uri = |u: &str| SanType::URI(u.try_into().expect("IA5"));
        params.subject_alt_names = uris.split_whitespace().map(uri).collect();
        params.is_ca = IsCa::ExplicitNoCa;
        for flag in flags.split_whitespace() {
            match flag {
                "ca" => params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained),
                "ds" => params.key_usages.push(DigitalSignature),
                "ke" => params.key_usages.push(KeyEncipherment),
                "kcs" => params.key_usages.push(KeyCertSign),
                "crl" => params.key_usages.push(CrlSign),
                "eku" => params.extended_key_usages.extend([ClientAuth, ServerAuth]),
                "srv" => params.extended_key_usages.push(ServerAuth),
                _ => panic!("unknown flag {flag:?}"),
            }
        }
        let key = KeyPair::generate().expect("P-256 key");
        Certificate::from_der(params.self_signed(&key).expect("certificate").der())
    }

    fn svid_rules(cert: &Certificate, is_leaf: bool) -> Vec<&'static str> {
        let found = check_x509_svid(cert, is_leaf);
        found.iter().map(|v| v.rule).collect()
    }

    #[test]
    fn x509_svids() {
        // role | flags | URI SANs | violated rules
        let table = "
            leaf | ds eku | spiffe://td/a |
            leaf | ds ke | spiffe://cluster.local/ns/pay/sa/api |
            leaf | ds eku | spiffe://td/a spiffe://td/b | svid-uri-san-count
            leaf | ds eku | | svid-uri-san-count
            leaf | ca ds eku | spiffe://td/a | svid-leaf-is-ca
            leaf | ke eku | spiffe://td/a | svid-leaf-no-digital-signature
            leaf | ds kcs eku | spiffe://td/a | svid-leaf-signs-certificates
            leaf | ds crl eku | spiffe://td/a | svid-leaf-signs-crls
            leaf | ds srv | spiffe://td/a | svid-leaf-eku-incomplete
            leaf | ds eku | spiffe://td | svid-leaf-no-path
            leaf | ds eku | spiffe://TD/a | spiffe-trust-domain-uppercase
            signing | ca kcs crl | spiffe://td |
            signing | ca kcs | |
            signing | ca crl | spiffe://td | svid-signing-no-keycertsign
            signing | kcs crl | spiffe://td | svid-signing-not-ca
            signing | ca kcs | spiffe://td/a | svid-signing-has-path
            signing | ca kcs | spiffe://td spiffe://td | svid-uri-san-count
            signing | ds eku | spiffe://td/a | svid-signing-has-path svid-signing-not-ca \
                svid-signing-no-keycertsign";
        for line in table.lines().skip(1) {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let [role, flags, uris, expected] = cells[..] else {
                panic!("bad row {line:?}");
            };
            let expected: Vec<&str> = expected.split_whitespace().collect();
            let is_leaf = role == "leaf";
            assert_eq!(svid_rules(&cert(uris, flags), is_leaf), expected, "{line}");
        }
        let junk = Certificate::from_der(b"junk");
        assert_eq!(svid_rules(&junk, true), ["svid-cert-unparsed"]);
        let no_ds = check_x509_svid(&cert("spiffe://td/a", "ke eku"), true);
        assert_eq!(no_ds[0].detail, "the leaf has keyUsage keyEncipherment");
        let bad_id = check_x509_svid(&cert("spiffe://td/a/", "ds eku"), true);
        assert_eq!(bad_id[0].detail, "URI SAN: the path ends with '/'");
    }

    /// An SVID leaf whose keyUsage (digitalSignature) and SAN are written
    /// by hand with the given criticality, subject empty or not, plus
    /// `extra` extensions.
    fn svid_with(
        ku_critical: bool,
        san_critical: bool,
        empty_subject: bool,
        extra: Vec<rcgen::CustomExtension>,
    ) -> Certificate {
        let uri = b"spiffe://td/w";
        let mut san = vec![0x30, (uri.len() + 2) as u8, 0x86, uri.len() as u8];
        san.extend_from_slice(uri);
        let ext = |oid: &[u64], critical: bool, content: Vec<u8>| {
            let mut e = rcgen::CustomExtension::from_oid_content(oid, content);
            e.set_criticality(critical);
            e
        };
        let mut params = CertificateParams::default();
        params.is_ca = IsCa::NoCa;
        if empty_subject {
            params.distinguished_name = rcgen::DistinguishedName::new();
        }
        params.custom_extensions = vec![
            // keyUsage BIT STRING: digitalSignature.
            ext(&[2, 5, 29, 15], ku_critical, vec![0x03, 0x02, 0x07, 0x80]),
            ext(&[2, 5, 29, 17], san_critical, san),
        ];
        params.custom_extensions.extend(extra);
        let key = KeyPair::generate().expect("P-256 key");
        Certificate::from_der(params.self_signed(&key).expect("certificate").der())
    }

    #[test]
    fn extension_criticality() {
        let good = svid_with(true, true, true, vec![]);
        assert_eq!(good.critical, ["keyUsage", "subjectAltName"]);
        assert_eq!(svid_rules(&good, true), Vec::<&str>::new());
        // With a subject, the SAN may be non-critical.
        assert_eq!(
            svid_rules(&svid_with(true, false, false, vec![]), true),
            Vec::<&str>::new()
        );
        let ku = svid_with(false, true, true, vec![]);
        assert_eq!(svid_rules(&ku, true), ["svid-key-usage-not-critical"]);
        // As a signing certificate too (§4.3: "on all SVIDs").
        let signing = svid_rules(&ku, false);
        let expected = [
            "svid-signing-has-path",
            "svid-signing-not-ca",
            "svid-signing-no-keycertsign",
            "svid-key-usage-not-critical",
        ];
        assert_eq!(signing, expected);
        let san = svid_with(true, false, true, vec![]);
        assert_eq!(svid_rules(&san, true), ["svid-san-not-critical"]);
        let detail = &check_x509_svid(&san, true)[0].detail;
        assert!(detail.contains("empty subject"), "{detail}");
    }

    #[test]
    fn undecodable_extension() {
        // basicConstraints whose value is two 0xFF bytes: read as absent
        // before, now reported (rust-spiffe's UnparseableExtension vector).
        let mut bc = rcgen::CustomExtension::from_oid_content(&[2, 5, 29, 19], vec![0xff, 0xff]);
        bc.set_criticality(true);
        let cert = svid_with(true, true, false, vec![bc]);
        assert_eq!(cert.undecodable_extensions, ["basicConstraints"]);
        assert!(cert.critical.contains(&"basicConstraints".to_owned()));
        assert_eq!(svid_rules(&cert, true), ["svid-extension-undecodable"]);
    }

    #[test]
    fn istio_layout() {
        let ns_sa = |uri| parse_spiffe_id(uri).ok().and_then(|id| istio_identity(&id));
        let pair = |ns: &str, sa: &str| Some((ns.to_owned(), sa.to_owned()));
        assert_eq!(ns_sa(ID), pair("pay", "api"));
        let spec = "spiffe://k8s-west.example.com/ns/staging/sa/default";
        assert_eq!(ns_sa(spec), pair("staging", "default"));
        let others =
            "|/ns/pay|/ns/pay/sa/api/x|/sa/api/ns/pay|/x/ns/pay/sa/api|/NS/p/sa/a|/ns//sa/a";
        for path in others.split('|') {
            assert_eq!(istio_identity(&id("td", path)), None, "{path:?}");
        }
    }
}
