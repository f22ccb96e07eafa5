//! The rule catalogue. Rule ids are a public contract: pipelines, waivers
//! and severity overrides name them, so an id is never renamed or reused.
//! Each rule has a page in `docs/rules/<ID>.md` (a test keeps the two in step).

use super::report::Severity;

/// One rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Stable id, `TA-...`.
    pub id: &'static str,
    /// What it is about, in a few words.
    pub title: &'static str,
    /// Severity before policy overrides (some findings of a rule are rated
    /// differently by what they found; the page says which).
    pub severity: Severity,
    /// What to change, in one or two sentences.
    pub remediation: &'static str,
}

macro_rules! rules {
    ($($konst:ident = $id:literal, $sev:ident, $title:literal, $fix:literal;)*) => {
        $(
            #[doc = $title]
            pub const $konst: Rule = Rule {
                id: $id,
                title: $title,
                severity: Severity::$sev,
                remediation: $fix,
            };
        )*
        /// Every rule, in documentation order.
        pub const ALL: &[Rule] = &[$($konst),*];
    };
}

rules! {
    PLAINTEXT = "TA-PLAINTEXT", High,
        "Application data sent without TLS",
        "Serve this port over TLS (or let the mesh do it: Istio PeerAuthentication STRICT, Linkerd default mTLS), or encrypt the path underneath (WireGuard, IPsec, Nitro in-transit encryption).";
    PLAINTEXT_UNDERLAY = "TA-PLAINTEXT-UNDERLAY", Info,
        "Plaintext carried over an encrypted underlay",
        "Record the underlay (Nitro, WireGuard, IPsec, Weave encryption) as the compensating control for this path; it does not authenticate the workloads, so plan TLS where peer identity matters.";
    PLAINTEXT_ACCEPTED = "TA-PLAINTEXT-ACCEPTED", High,
        "Port answers a plaintext request (active probe)",
        "Refuse cleartext on this port: Istio PeerAuthentication mode STRICT instead of PERMISSIVE, Linkerd default-inbound-policy all-authenticated, or a listener that speaks only TLS.";
    ENCRYPTION_UNKNOWN = "TA-ENCRYPTION-UNKNOWN", Medium,
        "Payload that is neither TLS nor a recognised cleartext protocol",
        "Find out what this port speaks; if it is a private encrypted protocol, record that with a waiver; otherwise move it to TLS.";
    NO_MTLS = "TA-NO-MTLS", High,
        "TLS without a client certificate where policy requires mutual TLS",
        "Require client certificates on the server (Istio PeerAuthentication mode STRICT; nginx ssl_verify_client on; OpenSSL SSL_VERIFY_FAIL_IF_NO_PEER_CERT) and give the client a workload certificate.";
    MTLS_OPTIONAL = "TA-MTLS-OPTIONAL", High,
        "Server asks for a client certificate but accepts connections without one (active probe)",
        "Make the client certificate mandatory (nginx ssl_verify_client on; OpenSSL SSL_VERIFY_FAIL_IF_NO_PEER_CERT; Istio PeerAuthentication STRICT), once every client has one.";
    MTLS_UNKNOWN = "TA-MTLS-UNKNOWN", Medium,
        "Whether the client presented a certificate cannot be decided",
        "Capture connections from their start (and the full handshake a resumed session came from). For TLS 1.3, give tls-audit the session secrets (--keylog, SSLKEYLOGFILE, or secrets embedded in pcapng) so the handshake can be read.";
    TLS_VERSION = "TA-TLS-VERSION", High,
        "Protocol version below policy",
        "Disable SSL 3.0, TLS 1.0 and TLS 1.1 on both ends (RFC 8996); enable TLS 1.3.";
    WEAK_CIPHER = "TA-WEAK-CIPHER", High,
        "Negotiated cipher suite is weak",
        "Allow only ECDHE key exchange with AEAD ciphers (AES-GCM, ChaCha20-Poly1305) in TLS 1.2, and TLS 1.3 suites (Mozilla \"intermediate\", NIST SP 800-52r2).";
    KEX_NOT_PQ = "TA-KEX-NOT-PQ", Info,
        "Classical-only key exchange (not post-quantum)",
        "Enable the hybrid X25519MLKEM768 group on both ends (OpenSSL 3.5+, Go 1.24+, rustls with aws-lc-rs, BoringSSL); where the client already offers it, the server is the one to upgrade.";
    NO_FORWARD_SECRECY = "TA-NO-FORWARD-SECRECY", Medium,
        "Key exchange without forward secrecy",
        "Allow only ephemeral key exchange: ECDHE suites in TLS 1.2, or TLS 1.3 (whose resumption should use psk_dhe_ke); remove TLS_RSA_* and static (EC)DH suites.";
    WEAK_KEX = "TA-WEAK-KEX", High,
        "Key-exchange group too weak",
        "Use DHE groups of 2048 bits or more (RFC 7919 ffdhe2048+), or better ECDHE; use named curves of 256 bits or more (X25519, P-256, P-384), never explicit curve parameters.";
    CERT_EXPIRED = "TA-CERT-EXPIRED", High,
        "Certificate had expired when the traffic was captured",
        "Renew the certificate and find out why rotation did not (cert-manager renewBefore, mesh agent health).";
    CERT_NOT_YET_VALID = "TA-CERT-NOT-YET-VALID", High,
        "Certificate was not yet valid when the traffic was captured",
        "Check the clocks of the issuer and the peers; issue with a small notBefore backdate.";
    CERT_EXPIRING = "TA-CERT-EXPIRING", Medium,
        "Certificate expires soon after the capture",
        "Renew the certificate before it expires; check that automatic rotation is running.";
    CERT_WEAK_KEY = "TA-CERT-WEAK-KEY", High,
        "Certificate public key too small",
        "Reissue with RSA 2048 bits or more, or ECDSA P-256/P-384.";
    CERT_WEAK_SIGNATURE = "TA-CERT-WEAK-SIGNATURE", High,
        "Certificate signed with a broken hash (SHA-1, MD5, MD4, MD2)",
        "Reissue the certificate signed with SHA-256 or stronger.";
    CERT_LIFETIME = "TA-CERT-LIFETIME", Medium,
        "Workload certificate valid for longer than policy or pod lifetime warrants",
        "Issue short-lived workload certificates (mesh defaults 1-24 h; ACM Private CA short-lived mode, at most 7 days) and rotate them automatically.";
    CERT_UNCHECKED = "TA-CERT-UNCHECKED", High,
        "Certificates sent in the clear were not read, so no certificate rule ran",
        "Raise --stream-cap above the size of the Certificate message (the flow's note gives it), or ship a shorter chain (leaf and intermediates, not the whole CA bundle).";
    CHAIN = "TA-CHAIN", High,
        "Certificate chain broken, unverifiable or not anchored",
        "Send the leaf and every intermediate in order, signed by a CA the peers trust; do not use self-signed leaf certificates.";
    SVID_INVALID = "TA-SVID-INVALID", High,
        "SPIFFE ID or X509-SVID breaks the SPIFFE specification",
        "Issue SVIDs that follow the SPIFFE ID and X509-SVID specifications (one URI SAN, CA=false, digitalSignature, a lower-case trust domain, a non-empty path).";
    SVID_MISMATCH = "TA-SVID-MISMATCH", High,
        "SPIFFE ID does not name the pod that presents it",
        "Check which workload the certificate was issued to: a mismatch means a shared or stolen key, a misconfigured registration entry, or a wrong identity template in the policy.";
    TRUST_DOMAIN = "TA-TRUST-DOMAIN", High,
        "SPIFFE trust domain not allowed by policy",
        "Issue identities from the cluster's own trust domain, or add the federated trust domain to spiffe.trust_domains.";
}

/// The rule with this id.
pub fn by_id(id: &str) -> Option<&'static Rule> {
    ALL.iter().find(|r| r.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_well_formed() {
        let mut seen = std::collections::HashSet::new();
        for r in ALL {
            assert!(seen.insert(r.id), "duplicate {}", r.id);
            assert!(r.id.starts_with("TA-"), "{}", r.id);
            assert!(
                r.id[3..]
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-'),
                "{}",
                r.id
            );
        }
        assert_eq!(by_id("TA-NO-MTLS"), Some(&NO_MTLS));
        assert_eq!(by_id("TA-NOPE"), None);
    }

    /// Every rule has its page, and every page its rule, with the sections
    /// the documentation promises.
    #[test]
    fn every_rule_is_documented() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/rules");
        for r in ALL {
            let path = dir.join(format!("{}.md", r.id));
            let page = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(page.starts_with(&format!("# {}", r.id)), "{}", r.id);
            for section in [
                "## What it checks",
                "## Why",
                "## Evidence",
                "## How to fix",
            ] {
                assert!(page.contains(section), "{} lacks {section}", r.id);
            }
        }
        for entry in std::fs::read_dir(&dir).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if let Some(id) = name.strip_suffix(".md")
                && id != "README"
            {
                assert!(by_id(id).is_some(), "docs/rules/{name} has no rule");
            }
        }
    }
}
