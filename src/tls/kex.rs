//! Key exchange from the cleartext handshake: which group or method made the
//! session keys, how strong it is, and whether it resists a quantum computer.
//!
//! Everything here is read off the wire without keys: the ServerHello's
//! `key_share` (RFC 8446 §4.2.8) or the HelloRetryRequest's selected group,
//! a TLS ≤ 1.2 ServerKeyExchange (RFC 8422 §5.4 for ECDHE, RFC 5246 §7.4.3
//! for DHE, RFC 4279/5489 for the PSK variants), and the cipher suite (RSA
//! key transport has no ServerKeyExchange at all). With a key log the
//! server's TLS 1.3 CertificateVerify adds its signature scheme.
//!
//! Group names and code points are the IANA "TLS Supported Groups" registry
//! (including the ML-KEM hybrids of draft-ietf-tls-ecdhe-mlkem and the
//! pre-standard `X25519Kyber768Draft00` still seen on the wire); signature
//! schemes are the IANA "TLS SignatureScheme" registry. Unknown code points
//! are data (`0xNNNN`), never errors.

use std::borrow::Cow;

use super::wire::Reader;
use crate::model::Name;

/// The kind of a key-exchange group, as far as post-quantum migration cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupKind {
    /// Elliptic-curve Diffie-Hellman (named or explicit curve).
    Ec,
    /// Finite-field Diffie-Hellman (RFC 7919 groups, or DHE parameters).
    Ff,
    /// A classical ECDH combined with ML-KEM (or its Kyber draft).
    Hybrid,
    /// ML-KEM alone.
    PostQuantum,
    /// Not in the registry, or a GREASE value.
    Unknown,
}

impl GroupKind {
    /// The report's word for it: `ec`, `ff`, `hybrid`, `pq`, `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupKind::Ec => "ec",
            GroupKind::Ff => "ff",
            GroupKind::Hybrid => "hybrid",
            GroupKind::PostQuantum => "pq",
            GroupKind::Unknown => "unknown",
        }
    }

    /// Resists a quantum adversary (ML-KEM alone or in a hybrid); None when
    /// the group is unknown.
    pub fn post_quantum(self) -> Option<bool> {
        match self {
            GroupKind::Hybrid | GroupKind::PostQuantum => Some(true),
            GroupKind::Ec | GroupKind::Ff => Some(false),
            GroupKind::Unknown => None,
        }
    }
}

/// One registered group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Group {
    /// The code point.
    pub id: u16,
    /// IANA's name.
    pub name: &'static str,
    /// What kind it is.
    pub kind: GroupKind,
    /// Size of the classical part in bits: the curve order's size for EC
    /// groups (X25519 counts as 256, like P-256, whose strength it has), the
    /// prime's for finite-field ones; 0 for ML-KEM alone.
    pub bits: u16,
}

/// `arbitrary_explicit_prime_curves` / `arbitrary_explicit_char2_curves`
/// (RFC 8422 deprecates them).
pub const EXPLICIT_CURVES: [u16; 2] = [0xff01, 0xff02];

macro_rules! groups {
    ($($id:literal $name:literal $kind:ident $bits:literal;)*) => {
        const GROUPS: &[Group] = &[$(Group { id: $id, name: $name, kind: GroupKind::$kind, bits: $bits }),*];
    };
}

// IANA TLS Supported Groups (tls-parameters-8), as registered in 2026.
groups! {
    1 "sect163k1" Ec 163; 2 "sect163r1" Ec 163; 3 "sect163r2" Ec 163;
    4 "sect193r1" Ec 193; 5 "sect193r2" Ec 193; 6 "sect233k1" Ec 233;
    7 "sect233r1" Ec 233; 8 "sect239k1" Ec 239; 9 "sect283k1" Ec 283;
    10 "sect283r1" Ec 283; 11 "sect409k1" Ec 409; 12 "sect409r1" Ec 409;
    13 "sect571k1" Ec 571; 14 "sect571r1" Ec 571; 15 "secp160k1" Ec 160;
    16 "secp160r1" Ec 160; 17 "secp160r2" Ec 160; 18 "secp192k1" Ec 192;
    19 "secp192r1" Ec 192; 20 "secp224k1" Ec 224; 21 "secp224r1" Ec 224;
    22 "secp256k1" Ec 256; 23 "secp256r1" Ec 256; 24 "secp384r1" Ec 384;
    25 "secp521r1" Ec 521; 26 "brainpoolP256r1" Ec 256; 27 "brainpoolP384r1" Ec 384;
    28 "brainpoolP512r1" Ec 512; 29 "x25519" Ec 256; 30 "x448" Ec 448;
    31 "brainpoolP256r1tls13" Ec 256; 32 "brainpoolP384r1tls13" Ec 384;
    33 "brainpoolP512r1tls13" Ec 512; 34 "GC256A" Ec 256; 35 "GC256B" Ec 256;
    36 "GC256C" Ec 256; 37 "GC256D" Ec 256; 38 "GC512A" Ec 512;
    39 "GC512B" Ec 512; 40 "GC512C" Ec 512; 41 "curveSM2" Ec 256;
    256 "ffdhe2048" Ff 2048; 257 "ffdhe3072" Ff 3072; 258 "ffdhe4096" Ff 4096;
    259 "ffdhe6144" Ff 6144; 260 "ffdhe8192" Ff 8192;
    512 "MLKEM512" PostQuantum 0; 513 "MLKEM768" PostQuantum 0; 514 "MLKEM1024" PostQuantum 0;
    4587 "SecP256r1MLKEM768" Hybrid 256; 4588 "X25519MLKEM768" Hybrid 256;
    4589 "SecP384r1MLKEM1024" Hybrid 384; 4590 "curveSM2MLKEM768" Hybrid 256;
    25497 "X25519Kyber768Draft00" Hybrid 256; 25498 "SecP256r1Kyber768Draft00" Hybrid 256;
    65281 "arbitrary_explicit_prime_curves" Ec 0; 65282 "arbitrary_explicit_char2_curves" Ec 0;
}

/// The registered group with this code point (`GROUPS` is in code point
/// order: looked up for every group a ClientHello offers).
pub fn group(id: u16) -> Option<&'static Group> {
    GROUPS
        .binary_search_by_key(&id, |g| g.id)
        .ok()
        .and_then(|i| GROUPS.get(i))
}

/// The registered group with this IANA name (as the report writes it).
pub fn group_by_name(name: &str) -> Option<&'static Group> {
    GROUPS.iter().find(|g| g.name == name)
}

/// The report's name of a group: IANA's (borrowed), or `0xNNNN` when
/// unregistered.
pub fn group_name(id: u16) -> Name {
    group(id).map_or_else(
        || Cow::Owned(format!("0x{id:04x}")),
        |g| Cow::Borrowed(g.name),
    )
}

/// The kind of a group code point.
pub fn group_kind(id: u16) -> GroupKind {
    group(id).map_or(GroupKind::Unknown, |g| g.kind)
}

/// The IANA name of a signature scheme; TLS 1.2 hash/signature pairs
/// outside the registry's names are spelt `<sig>_<hash>`; else `0xNNNN`.
pub fn signature_scheme_name(id: u16) -> Name {
    let known = match id {
        0x0201 => "rsa_pkcs1_sha1",
        0x0203 => "ecdsa_sha1",
        0x0401 => "rsa_pkcs1_sha256",
        0x0501 => "rsa_pkcs1_sha384",
        0x0601 => "rsa_pkcs1_sha512",
        0x0403 => "ecdsa_secp256r1_sha256",
        0x0503 => "ecdsa_secp384r1_sha384",
        0x0603 => "ecdsa_secp521r1_sha512",
        0x0804 => "rsa_pss_rsae_sha256",
        0x0805 => "rsa_pss_rsae_sha384",
        0x0806 => "rsa_pss_rsae_sha512",
        0x0807 => "ed25519",
        0x0808 => "ed448",
        0x0809 => "rsa_pss_pss_sha256",
        0x080a => "rsa_pss_pss_sha384",
        0x080b => "rsa_pss_pss_sha512",
        0x081a => "ecdsa_brainpoolP256r1tls13_sha256",
        0x081b => "ecdsa_brainpoolP384r1tls13_sha384",
        0x081c => "ecdsa_brainpoolP512r1tls13_sha512",
        0x0904 => "mldsa44",
        0x0905 => "mldsa65",
        0x0906 => "mldsa87",
        _ => "",
    };
    if !known.is_empty() {
        return Cow::Borrowed(known);
    }
    // RFC 5246 §7.4.1.4.1 HashAlgorithm / SignatureAlgorithm pairs.
    let hash = match id >> 8 {
        1 => "md5",
        2 => "sha1",
        3 => "sha224",
        4 => "sha256",
        5 => "sha384",
        6 => "sha512",
        _ => "",
    };
    let sig = match id & 0xff {
        1 => "rsa_pkcs1",
        2 => "dsa",
        3 => "ecdsa",
        _ => "",
    };
    Cow::Owned(if hash.is_empty() || sig.is_empty() {
        format!("0x{id:04x}")
    } else {
        format!("{sig}_{hash}")
    })
}

/// How a TLS ≤ 1.2 suite makes its keys, from the cipher-suite registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SuiteKex {
    /// Ephemeral ECDH (`ECDHE_*`, `ECDH_anon`): a ServerKeyExchange names the curve.
    Ecdhe {
        /// The ServerKeyExchange starts with a PSK identity hint (`ECDHE_PSK`).
        psk: bool,
        /// No signature (anonymous).
        anon: bool,
    },
    /// Ephemeral finite-field DH (`DHE_*`, `DH_anon`).
    Dhe {
        /// `DHE_PSK`.
        psk: bool,
        /// No signature (anonymous).
        anon: bool,
    },
    /// RSA key transport (`TLS_RSA_*`, `RSA_PSK`, `RSA_EXPORT`): no forward secrecy.
    Rsa,
    /// Static (EC)DH from the certificate: no forward secrecy.
    StaticDh,
    /// Pre-shared key alone: no forward secrecy.
    Psk,
    /// TLS 1.3 suites: the key exchange is in the key_share extension.
    Tls13,
    /// SRP, ECCPWD, KRB5, NULL, or a suite the registry does not know.
    Other,
}

impl SuiteKex {
    /// The key exchange of a cipher suite code point.
    pub fn of_suite(id: u16) -> SuiteKex {
        use tls_parser::{TlsCipherAu, TlsCipherKx};
        let Some(cs) = tls_parser::TlsCipherSuite::from_id(id) else {
            return SuiteKex::Other;
        };
        let psk = cs.au == TlsCipherAu::Psk;
        let anon = cs.au == TlsCipherAu::Null || cs.name.contains("_anon_");
        match cs.kx {
            TlsCipherKx::Ecdhe | TlsCipherKx::Aecdh => SuiteKex::Ecdhe { psk, anon },
            TlsCipherKx::Ecdh if cs.name.contains("_anon_") => SuiteKex::Ecdhe { psk, anon },
            TlsCipherKx::Dhe => SuiteKex::Dhe { psk, anon },
            TlsCipherKx::Dh if cs.name.contains("_anon_") => SuiteKex::Dhe { psk, anon },
            TlsCipherKx::Rsa => SuiteKex::Rsa,
            TlsCipherKx::Dh | TlsCipherKx::Ecdh => SuiteKex::StaticDh,
            TlsCipherKx::Psk => SuiteKex::Psk,
            TlsCipherKx::Tls13 => SuiteKex::Tls13,
            TlsCipherKx::Null | TlsCipherKx::Krb5 | TlsCipherKx::Srp | TlsCipherKx::Eccpwd => {
                SuiteKex::Other
            }
        }
    }

    /// The report's method name: `ecdhe`, `dhe`, `rsa`, `static-dh`, `psk`,
    /// `tls13`, `other`.
    pub fn method(self) -> &'static str {
        match self {
            SuiteKex::Ecdhe { .. } => "ecdhe",
            SuiteKex::Dhe { .. } => "dhe",
            SuiteKex::Rsa => "rsa",
            SuiteKex::StaticDh => "static-dh",
            SuiteKex::Psk => "psk",
            SuiteKex::Tls13 => "tls13",
            SuiteKex::Other => "other",
        }
    }
}

/// What a TLS ≤ 1.2 ServerKeyExchange says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerKeyExchange {
    /// The named curve (ECDHE with curve_type named_curve).
    pub named_group: Option<u16>,
    /// The curve was sent explicitly (curve_type 1 or 2, RFC 8422 forbids
    /// them): its ECParameters curve_type.
    pub explicit_curve: Option<u8>,
    /// DHE: the prime's size in bits (leading zero bits not counted).
    pub dh_prime_bits: Option<u32>,
    /// DHE: the generator, when it fits in 8 bytes.
    pub dh_generator: Option<u64>,
    /// The signature's scheme (TLS 1.2; earlier versions have none on the wire).
    pub signature_scheme: Option<u16>,
    /// A signature was present (also true for TLS 1.0/1.1 ones without a scheme).
    pub signed: bool,
}

/// Parse a ServerKeyExchange body for this suite's key exchange. `tls12`:
/// the signature carries a SignatureAndHashAlgorithm. None when the layout
/// does not fit (or the suite has no parameters tls-audit reads).
pub fn parse_server_key_exchange(
    body: &[u8],
    kex: SuiteKex,
    tls12: bool,
) -> Option<ServerKeyExchange> {
    let mut r = Reader::new(body);
    let mut ske = ServerKeyExchange::default();
    let (psk, anon) = match kex {
        SuiteKex::Ecdhe { psk, anon } => {
            if psk {
                r.vec16()?; // psk_identity_hint
            }
            match r.u8()? {
                3 => ske.named_group = Some(r.u16()?),
                t @ (1 | 2) => {
                    // Explicit curves: their layout is long and forbidden;
                    // the curve type is the finding.
                    ske.explicit_curve = Some(t);
                    return Some(ske);
                }
                _ => return None,
            }
            r.vec8()?; // the public point
            (psk, anon)
        }
        SuiteKex::Dhe { psk, anon } => {
            if psk {
                r.vec16()?;
            }
            let p = r.vec16()?;
            let g = r.vec16()?;
            r.vec16()?; // dh_Ys
            ske.dh_prime_bits = Some(bit_length(p));
            ske.dh_generator =
                (g.len() <= 8).then(|| g.iter().fold(0u64, |a, b| a << 8 | u64::from(*b)));
            (psk, anon)
        }
        _ => return None,
    };
    if psk || anon || r.is_empty() {
        return Some(ske);
    }
    if tls12 {
        ske.signature_scheme = Some(r.u16()?);
    }
    r.vec16()?;
    ske.signed = true;
    Some(ske)
}

/// The number of significant bits of a big-endian unsigned integer.
pub fn bit_length(b: &[u8]) -> u32 {
    let mut rest = b.iter().skip_while(|x| **x == 0);
    match rest.next() {
        None => 0,
        Some(first) => {
            let tail = u32::try_from(rest.count()).unwrap_or(u32::MAX / 16);
            tail.saturating_mul(8)
                .saturating_add(8u32.saturating_sub(first.leading_zeros()))
        }
    }
}

/// The scheme of a CertificateVerify body (RFC 8446 §4.4.3).
pub fn certificate_verify_scheme(body: &[u8]) -> Option<u16> {
    let mut r = Reader::new(body);
    let scheme = r.u16()?;
    r.vec16()?;
    Some(scheme)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `group` searches the table by halves: it must be in code point order,
    /// each code point once; every code point finds its own entry.
    #[test]
    fn groups_are_in_code_point_order() {
        assert!(GROUPS.windows(2).all(|w| w[0].id < w[1].id));
        for g in GROUPS {
            assert_eq!(group(g.id).map(|found| found.name), Some(g.name));
        }
        for id in 0..=u16::MAX {
            assert_eq!(
                group(id).map(|g| g.id),
                GROUPS.iter().find(|g| g.id == id).map(|g| g.id)
            );
        }
    }

    #[test]
    fn registry_names_and_kinds() {
        assert_eq!(group_name(0x11ec), "X25519MLKEM768");
        assert_eq!(group_name(0x11eb), "SecP256r1MLKEM768");
        assert_eq!(group_name(0x11ed), "SecP384r1MLKEM1024");
        assert_eq!(group_name(0x6399), "X25519Kyber768Draft00");
        assert_eq!(group_name(29), "x25519");
        assert_eq!(group_name(0x0a0a), "0x0a0a");
        assert_eq!(group_kind(0x11ec).post_quantum(), Some(true));
        assert_eq!(group_kind(0x0201).post_quantum(), Some(true));
        assert_eq!(group_kind(23).post_quantum(), Some(false));
        assert_eq!(group_kind(256), GroupKind::Ff);
        assert_eq!(group_kind(0xbeef).post_quantum(), None);
        let mut ids: Vec<u16> = GROUPS.iter().map(|g| g.id).collect();
        ids.dedup();
        assert_eq!(ids.len(), GROUPS.len());
    }

    #[test]
    fn signature_schemes() {
        assert_eq!(signature_scheme_name(0x0804), "rsa_pss_rsae_sha256");
        assert_eq!(signature_scheme_name(0x0403), "ecdsa_secp256r1_sha256");
        assert_eq!(signature_scheme_name(0x0402), "dsa_sha256");
        assert_eq!(signature_scheme_name(0x0101), "rsa_pkcs1_md5");
        assert_eq!(signature_scheme_name(0xfe00), "0xfe00");
    }

    #[test]
    fn suites() {
        assert_eq!(
            SuiteKex::of_suite(0xc02f),
            SuiteKex::Ecdhe {
                psk: false,
                anon: false
            }
        );
        assert_eq!(
            SuiteKex::of_suite(0x009e),
            SuiteKex::Dhe {
                psk: false,
                anon: false
            }
        );
        assert_eq!(SuiteKex::of_suite(0x009c), SuiteKex::Rsa);
        assert_eq!(SuiteKex::of_suite(0x00a8), SuiteKex::Psk);
        assert_eq!(SuiteKex::of_suite(0x1301), SuiteKex::Tls13);
        assert_eq!(SuiteKex::of_suite(0xc02d), SuiteKex::StaticDh);
        assert!(matches!(
            SuiteKex::of_suite(0x0034),
            SuiteKex::Dhe { anon: true, .. }
        ));
    }

    fn ecdhe_ske() -> Vec<u8> {
        let mut b = vec![3, 0, 23, 4, 1, 2, 3, 4];
        b.extend([0x04, 0x01, 0, 3, 9, 9, 9]);
        b
    }

    #[test]
    fn ecdhe_server_key_exchange() {
        let kex = SuiteKex::of_suite(0xc02f);
        let ske = parse_server_key_exchange(&ecdhe_ske(), kex, true).unwrap();
        assert_eq!(ske.named_group, Some(23));
        assert_eq!(ske.signature_scheme, Some(0x0401));
        assert!(ske.signed);
        // TLS 1.0: no scheme, the signature follows the point.
        let mut b = vec![3, 0, 29, 1, 7];
        b.extend([0, 2, 9, 9]);
        let ske = parse_server_key_exchange(&b, kex, false).unwrap();
        assert_eq!((ske.named_group, ske.signature_scheme), (Some(29), None));
        // Explicit curve.
        let ske = parse_server_key_exchange(&[1, 0xff, 0xff], kex, true).unwrap();
        assert_eq!(ske.explicit_curve, Some(1));
        for n in 0..ecdhe_ske().len() {
            let _ = parse_server_key_exchange(&ecdhe_ske()[..n], kex, true);
        }
    }

    #[test]
    fn dhe_server_key_exchange() {
        let mut b = vec![0, 3, 0x00, 0x80, 0x01]; // p = 0x008001: 16 bits
        b.extend([0, 1, 2, 0, 1, 5]);
        b.extend([0x02, 0x01, 0, 1, 0]);
        let kex = SuiteKex::of_suite(0x009e);
        let ske = parse_server_key_exchange(&b, kex, true).unwrap();
        assert_eq!(ske.dh_prime_bits, Some(16));
        assert_eq!(ske.dh_generator, Some(2));
        assert_eq!(ske.signature_scheme, Some(0x0201));
        for n in 0..b.len() {
            let _ = parse_server_key_exchange(&b[..n], kex, true);
        }
    }

    #[test]
    fn bit_lengths() {
        assert_eq!(bit_length(&[]), 0);
        assert_eq!(bit_length(&[0, 0]), 0);
        assert_eq!(bit_length(&[1]), 1);
        assert_eq!(bit_length(&[0, 0xff, 0]), 16);
        assert_eq!(bit_length(&[0x80; 256]), 2048);
    }
}
