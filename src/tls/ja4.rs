//! JA4 client fingerprints (FoxIO, BSD-3-Clause; see
//! `technical_details/JA4.md` upstream). JA4S and JA4X are under the FoxIO
//! License, which restricts commercial use, and are deliberately absent.

use std::collections::HashMap;
use std::hash::BuildHasher;

use super::hello::{ClientHello, ext, is_grease};

/// Fingerprints already computed, keyed by a randomly seeded 64-bit hash of
/// exactly the fields JA4 reads. Clients repeat the same ClientHello shape
/// over and over, and hashing the fields is far cheaper than JA4's sorting,
/// formatting and SHA-256. Bounded; reset when full.
#[derive(Default)]
pub struct Ja4Cache {
    seen: HashMap<u64, String>,
    seed: foldhash::fast::RandomState,
}

impl Ja4Cache {
    /// Entries kept before the cache starts over.
    const MAX: usize = 4096;

    /// The JA4 of `ch`, computed once per distinct shape.
    pub fn get(&mut self, ch: &ClientHello, transport: Transport) -> String {
        let key = self.seed.hash_one((
            transport as u8,
            ch.legacy_version,
            &ch.cipher_suites,
            &ch.extensions,
            &ch.supported_versions,
            &ch.signature_algorithms,
            ch.alpn.first(),
        ));
        if let Some(j) = self.seen.get(&key) {
            return j.clone();
        }
        let j = ja4(ch, transport);
        if self.seen.len() >= Self::MAX {
            self.seen.clear();
        }
        self.seen.insert(key, j.clone());
        j
    }
}

/// The transport the ClientHello travelled on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// TLS over TCP.
    Tcp,
    /// QUIC.
    Quic,
    /// DTLS.
    Dtls,
}

/// The JA4 fingerprint of a ClientHello, e.g. `t13d1516h2_8daaf6152771_e5627efa2ab1`.
pub fn ja4(ch: &ClientHello, transport: Transport) -> String {
    let ciphers: Vec<u16> = ch
        .cipher_suites
        .iter()
        .copied()
        .filter(|c| !is_grease(*c))
        .collect();
    let exts: Vec<u16> = ch
        .extensions
        .iter()
        .copied()
        .filter(|e| !is_grease(*e))
        .collect();
    let proto = match transport {
        Transport::Tcp => 't',
        Transport::Quic => 'q',
        Transport::Dtls => 'd',
    };
    let offered: Vec<u16> = ch
        .supported_versions
        .iter()
        .copied()
        .filter(|v| !is_grease(*v))
        .collect();
    let version = if offered.is_empty() {
        ch.legacy_version
    } else if offered.iter().all(|v| *v >= 0xfe00) {
        // DTLS versions count downwards.
        offered.iter().copied().min().unwrap_or(ch.legacy_version)
    } else {
        offered.iter().copied().max().unwrap_or(ch.legacy_version)
    };
    let version = match version {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0x0002 => "s2",
        0xfeff => "d1",
        0xfefd => "d2",
        0xfefc => "d3",
        _ => "00",
    };
    let sni = if exts.contains(&ext::SERVER_NAME) {
        'd'
    } else {
        'i'
    };
    let alpn = alpn_chars(ch.alpn.first().map(Vec::as_slice));
    let a = format!(
        "{proto}{version}{sni}{:02}{:02}{alpn}",
        ciphers.len().min(99),
        exts.len().min(99)
    );

    // Sorted 4-hex-digit lists, written into one buffer (this runs once per
    // ClientHello, so it stays allocation-light).
    let mut sorted = ciphers.clone();
    sorted.sort_unstable();
    let mut buf = String::with_capacity(512);
    hex_list(&mut buf, &sorted);
    let b = truncated_sha256(&buf, ciphers.is_empty());

    let mut sorted_exts: Vec<u16> = exts
        .iter()
        .copied()
        .filter(|e| *e != ext::SERVER_NAME && *e != ext::ALPN)
        .collect();
    sorted_exts.sort_unstable();
    buf.clear();
    hex_list(&mut buf, &sorted_exts);
    if !ch.signature_algorithms.is_empty() {
        buf.push('_');
        hex_list(&mut buf, &ch.signature_algorithms);
    }
    let c = truncated_sha256(&buf, sorted_exts.is_empty());
    format!("{a}_{b}_{c}")
}

/// First and last character of the first ALPN value when both are ASCII
/// alphanumerics, else the first and last hex digit of its bytes.
fn alpn_chars(first: Option<&[u8]>) -> String {
    let Some((&f, &l)) = first.and_then(|p| p.first().zip(p.last())) else {
        return "00".into();
    };
    if f.is_ascii_alphanumeric() && l.is_ascii_alphanumeric() {
        return format!("{}{}", f as char, l as char);
    }
    // The first hex digit of the first byte, the last of the last.
    format!("{:x}{:x}", f >> 4, l & 0x0f)
}

/// `0a0b,1301,...`: lowercase 4-digit hex joined by commas.
fn hex_list(out: &mut String, values: &[u16]) {
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&crate::hex::lower(&v.to_be_bytes()));
    }
}

fn truncated_sha256(s: &str, empty: bool) -> String {
    if empty {
        return "000000000000".into();
    }
    let d = ring::digest::digest(&ring::digest::SHA256, s.as_bytes());
    // The first 12 hex digits (6 bytes) of the digest.
    let mut out = crate::hex::lower(d.as_ref());
    out.truncate(12);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of FoxIO's JA4.md (Chrome, TLS 1.3, SNI, h2):
    /// `t13d1516h2_8daaf6152771_e5627efa2ab1`.
    #[test]
    fn foxio_reference_example() {
        let ch = ClientHello {
            legacy_version: 0x0303,
            cipher_suites: vec![
                0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013,
                0xc014, 0x009c, 0x009d, 0x002f, 0x0035,
            ],
            extensions: vec![
                0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005, 0x0023,
                0x0012, 0x002b, 0xff01, 0x000b, 0x000a, 0x0015,
            ],
            alpn: vec![b"h2".to_vec(), b"http/1.1".to_vec()],
            supported_versions: vec![0x0304, 0x0303],
            signature_algorithms: vec![
                0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
            ],
            ..ClientHello::default()
        };
        assert_eq!(
            ja4(&ch, Transport::Tcp),
            "t13d1516h2_8daaf6152771_e5627efa2ab1"
        );
    }

    #[test]
    fn the_cache_gives_what_ja4_gives() {
        let mut cache = Ja4Cache::default();
        let mut ch = ClientHello {
            legacy_version: 0x0303,
            cipher_suites: vec![0x1301, 0xc02f],
            extensions: vec![0, 16, 43],
            alpn: vec![b"h2".to_vec()],
            ..ClientHello::default()
        };
        assert_eq!(cache.get(&ch, Transport::Tcp), ja4(&ch, Transport::Tcp));
        assert_eq!(cache.get(&ch, Transport::Tcp), ja4(&ch, Transport::Tcp));
        ch.alpn = vec![b"http/1.1".to_vec()];
        assert_eq!(cache.get(&ch, Transport::Tcp), ja4(&ch, Transport::Tcp));
        assert_ne!(
            cache.get(&ch, Transport::Quic),
            cache.get(&ch, Transport::Tcp)
        );
    }

    #[test]
    fn non_alphanumeric_alpn_uses_hex() {
        assert_eq!(alpn_chars(Some(&[0xab, b'x', 0x01])), "a1");
        assert_eq!(alpn_chars(None), "00");
    }
}
