//! What makes a negotiated cipher suite weak. The categories follow RFC 9325
//! (BCP 195: MUST NOT and SHOULD NOT), NIST SP 800-52r2 and Mozilla's
//! "intermediate" profile, as tabulated in `shared/reference/standards.md` §6.
//! The suite's parts come from tls-parser's IANA table, not from the name.

use std::collections::HashMap;
use std::sync::LazyLock;

use tls_parser::{
    TlsCipherAu, TlsCipherEnc, TlsCipherEncMode, TlsCipherKx, TlsCipherMac, TlsCipherSuite,
};

use crate::model::report::Severity;

const CBC: Weakness = Weakness {
    id: "cbc",
    severity: Severity::Low,
    why: "CBC mode (RFC 9325: SHOULD NOT unless encrypt_then_mac is negotiated, which tls-audit does not check; not in Mozilla intermediate)",
};
const DHE: Weakness = Weakness {
    id: "dhe",
    severity: Severity::Low,
    why: "finite-field DHE key exchange (RFC 9325: TLS 1.2 SHOULD NOT; removed from Mozilla intermediate in 5.8)",
};

/// One reason a suite is weak, with a stable id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Weakness {
    /// Stable id: `null-encryption`, `export`, `anonymous`, `rc4`, `des`,
    /// `3des`, `under-112-bits`, `static-rsa`, `static-dh`, `cbc-sha1`,
    /// `cbc`, `dhe`.
    pub id: &'static str,
    /// How bad it is.
    pub severity: Severity,
    /// The standard that says so.
    pub why: &'static str,
}

const NULL_ENC: Weakness = Weakness {
    id: "null-encryption",
    severity: Severity::Critical,
    why: "no encryption at all (RFC 9325: MUST NOT)",
};
const EXPORT: Weakness = Weakness {
    id: "export",
    severity: Severity::Critical,
    why: "export-grade 40/56-bit keys (RFC 9325: MUST NOT)",
};
const ANON: Weakness = Weakness {
    id: "anonymous",
    severity: Severity::Critical,
    why: "unauthenticated key exchange, open to man-in-the-middle (RFC 9325: MUST NOT)",
};
const RC4: Weakness = Weakness {
    id: "rc4",
    severity: Severity::High,
    why: "RC4 (RFC 7465; RFC 9325: MUST NOT)",
};
const DES: Weakness = Weakness {
    id: "des",
    severity: Severity::High,
    why: "single DES, 56-bit (RFC 9325: under 112 bits, MUST NOT)",
};
const UNDER_112: Weakness = Weakness {
    id: "under-112-bits",
    severity: Severity::High,
    why: "encryption under 112 bits (RFC 9325: MUST NOT; PCI DSS strong cryptography)",
};
const TRIPLE_DES: Weakness = Weakness {
    id: "3des",
    severity: Severity::Medium,
    why: "3DES, 64-bit blocks (Sweet32; RFC 9325: SHOULD NOT; not in Mozilla intermediate)",
};
const STATIC_RSA: Weakness = Weakness {
    id: "static-rsa",
    severity: Severity::Medium,
    why: "RSA key transport, no forward secrecy (RFC 9325: SHOULD NOT)",
};
const STATIC_DH: Weakness = Weakness {
    id: "static-dh",
    severity: Severity::Medium,
    why: "static (EC)DH key agreement, no forward secrecy (RFC 9325: SHOULD NOT)",
};
const CBC_SHA1: Weakness = Weakness {
    id: "cbc-sha1",
    severity: Severity::Low,
    why: "CBC with an HMAC-SHA1 record MAC (RFC 9325: SHOULD NOT without encrypt_then_mac; not in Mozilla intermediate)",
};

/// The weaknesses of the suite named `name` (an IANA name as the report
/// writes it); empty for a sound suite and for names the table does not
/// know (`0xNNNN`: nothing can be said about those).
pub fn weaknesses(name: &str) -> Vec<Weakness> {
    match suite_named(name) {
        Some(cs) => of_suite(cs),
        None => Vec::new(),
    }
}

/// The suite of tls-parser's IANA table named `name`, the first one its
/// table gives as `TlsCipherSuite::from_name` does. That walks the whole
/// table, once for every TLS flow verified; this looks up a map made once.
fn suite_named(name: &str) -> Option<&'static TlsCipherSuite> {
    static BY_NAME: LazyLock<HashMap<&'static str, &'static TlsCipherSuite>> =
        LazyLock::new(|| {
            let mut by_name = HashMap::new();
            for cs in tls_parser::CIPHERS.values() {
                by_name.entry(cs.name).or_insert(cs);
            }
            by_name
        });
    BY_NAME.get(name).copied()
}

fn of_suite(cs: &TlsCipherSuite) -> Vec<Weakness> {
    let mut out = Vec::new();
    let mut add = |w: Weakness| {
        if !out.contains(&w) {
            out.push(w);
        }
    };
    if cs.name.contains("_EXPORT") {
        add(EXPORT);
    }
    if cs.name.contains("_anon_") || (cs.au == TlsCipherAu::Null && cs.kx != TlsCipherKx::Null) {
        // PSK suites authenticate with the key itself; they are not anonymous.
        if !matches!(cs.kx, TlsCipherKx::Psk | TlsCipherKx::Tls13) {
            add(ANON);
        }
    }
    match cs.enc {
        TlsCipherEnc::Null => add(NULL_ENC),
        TlsCipherEnc::Rc4 => add(RC4),
        TlsCipherEnc::Des => add(DES),
        TlsCipherEnc::TripleDes => add(TRIPLE_DES),
        _ if cs.enc_size > 0 && cs.enc_size < 112 => add(UNDER_112),
        _ => {}
    }
    match cs.kx {
        TlsCipherKx::Rsa => add(STATIC_RSA),
        TlsCipherKx::Dh | TlsCipherKx::Ecdh if !cs.name.contains("_anon_") => add(STATIC_DH),
        TlsCipherKx::Dhe if cs.au != TlsCipherAu::Psk => add(DHE),
        _ => {}
    }
    if cs.enc_mode == TlsCipherEncMode::Cbc {
        add(if cs.mac == TlsCipherMac::HmacSha1 {
            CBC_SHA1
        } else {
            CBC
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(name: &str) -> Vec<&'static str> {
        weaknesses(name).iter().map(|w| w.id).collect()
    }

    /// The map gives every name the suite tls-parser's own lookup gives,
    /// and nothing for names it does not know.
    #[test]
    fn suites_by_name_are_tls_parsers() {
        let mut names = 0;
        for cs in tls_parser::CIPHERS.values() {
            let want = TlsCipherSuite::from_name(cs.name).map(|c| c.id);
            assert_eq!(suite_named(cs.name).map(|c| c.id), want, "{}", cs.name);
            names += 1;
        }
        assert!(names > 300, "{names} suites");
        for unknown in [
            "0x1234",
            "",
            "TLS_AES_128_GCM_SHA256 ",
            "tls_aes_128_gcm_sha256",
        ] {
            assert!(suite_named(unknown).is_none(), "{unknown:?}");
        }
    }

    #[test]
    fn sound_suites_have_no_weakness() {
        for name in [
            "TLS_AES_128_GCM_SHA256",
            "TLS_AES_256_GCM_SHA384",
            "TLS_CHACHA20_POLY1305_SHA256",
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        ] {
            assert_eq!(ids(name), Vec::<&str>::new(), "{name}");
        }
    }

    #[test]
    fn weak_suites_name_each_weakness() {
        let cases: &[(&str, &[&str])] = &[
            (
                "TLS_RSA_WITH_NULL_SHA256",
                &["null-encryption", "static-rsa"],
            ),
            (
                "TLS_RSA_EXPORT_WITH_RC4_40_MD5",
                &["export", "rc4", "static-rsa"],
            ),
            (
                "TLS_DH_anon_WITH_AES_128_CBC_SHA",
                &["anonymous", "cbc-sha1"],
            ),
            (
                "TLS_ECDH_anon_WITH_AES_128_CBC_SHA",
                &["anonymous", "cbc-sha1"],
            ),
            ("TLS_RSA_WITH_RC4_128_SHA", &["rc4", "static-rsa"]),
            (
                "TLS_RSA_WITH_DES_CBC_SHA",
                &["des", "static-rsa", "cbc-sha1"],
            ),
            (
                "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
                &["3des", "static-rsa", "cbc-sha1"],
            ),
            ("TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", &["3des", "cbc-sha1"]),
            ("TLS_RSA_WITH_AES_128_GCM_SHA256", &["static-rsa"]),
            ("TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256", &["static-dh"]),
            ("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", &["cbc-sha1"]),
            ("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", &["cbc"]),
            ("TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", &["dhe"]),
        ];
        for (name, want) in cases {
            assert_eq!(ids(name), *want, "{name}");
        }
        assert!(
            weaknesses("TLS_RSA_EXPORT_WITH_RC4_40_MD5")
                .iter()
                .any(|w| w.severity == Severity::Critical)
        );
    }

    #[test]
    fn psk_is_not_anonymous_and_unknown_names_say_nothing() {
        assert!(!ids("TLS_PSK_WITH_AES_128_GCM_SHA256").contains(&"anonymous"));
        assert_eq!(ids("0xeeee"), Vec::<&str>::new());
        assert_eq!(ids(""), Vec::<&str>::new());
    }

    /// Every suite in the IANA table classifies without panicking, and
    /// every suite with NULL, RC4 or DES encryption is flagged.
    #[test]
    fn whole_table() {
        for id in 0..=u16::MAX {
            if let Some(cs) = TlsCipherSuite::from_id(id) {
                let w = weaknesses(cs.name);
                if matches!(
                    cs.enc,
                    TlsCipherEnc::Null | TlsCipherEnc::Rc4 | TlsCipherEnc::Des
                ) {
                    assert!(!w.is_empty(), "{}", cs.name);
                }
            }
        }
    }
}
