//! Certificates are parsed once per distinct DER, however many flows send them.

use std::collections::HashMap;
use std::sync::Arc;

use crate::tls::{Chain, ChainCert};
use crate::x509::Certificate;

/// Distinct certificates remembered; when full the cache starts over.
const MAX_CACHED: usize = 4096;
/// Bytes the remembered certificates may hold together (DER and parsed
/// facts, as [`footprint`] estimates them). Counting certificates alone let
/// 4,000 certificates of 60 KB with 19,800 names each take 4.5 GiB.
pub const MAX_CACHED_BYTES: usize = 32 << 20;

/// Parsed certificates by their DER bytes (a fast seeded hash, not SHA-256:
/// this lookup runs for every certificate of every handshake); every flow
/// that sent a certificate shares one copy of its facts.
#[derive(Default)]
pub struct CertCache {
    by_der: HashMap<Arc<[u8]>, Arc<Certificate>, foldhash::fast::RandomState>,
    /// Estimated bytes held by `by_der`.
    bytes: usize,
}

impl CertCache {
    /// The facts of one certificate.
    pub fn get(&mut self, der: &[u8]) -> Arc<Certificate> {
        if let Some(c) = self.by_der.get(der) {
            return Arc::clone(c);
        }
        let bytes: Arc<[u8]> = Arc::from(der);
        let c = Arc::new(Certificate {
            der: Some(Arc::clone(&bytes)),
            ..Certificate::from_der(der)
        });
        let size = footprint(&c);
        if self.by_der.len() >= MAX_CACHED || self.bytes.saturating_add(size) > MAX_CACHED_BYTES {
            self.by_der.clear();
            self.bytes = 0;
        }
        // A certificate larger than the whole budget is not remembered.
        if size <= MAX_CACHED_BYTES {
            self.bytes += size;
            self.by_der.insert(bytes, Arc::clone(&c));
        }
        c
    }

    /// Estimated bytes the cache holds.
    pub fn held(&self) -> usize {
        self.bytes
    }
}

/// Estimated heap bytes of a certificate's DER and facts: every string
/// with its allocation overhead. What hostile certificates inflate is the
/// name lists (one-letter SANs: a 60 KB certificate holds 19,800).
pub fn footprint(c: &Certificate) -> usize {
    const PER_STRING: usize = 24 + 16;
    let s = |v: &Option<String>| v.as_ref().map_or(0, |x| x.len() + PER_STRING);
    let list = |v: &[String]| v.iter().map(|x| x.len() + PER_STRING).sum::<usize>();
    std::mem::size_of::<Certificate>()
        + c.der.as_ref().map_or(0, |d| d.len())
        + s(&c.subject)
        + s(&c.issuer)
        + s(&c.serial)
        + s(&c.not_before)
        + s(&c.not_after)
        + c.sha256.len()
        + list(&c.dns_names)
        + list(&c.uris)
        + list(&c.ip_addresses)
        + list(&c.emails)
        + s(&c.spiffe_id)
        + list(&c.key_usage)
        + list(&c.extended_key_usage)
        + 256
}

impl CertCache {
    /// Read every certificate of a chain still held as DER, dropping the DER.
    pub fn intern(&mut self, chain: &mut Option<Chain>) {
        for c in chain.iter_mut().flatten() {
            if let ChainCert::Der(der) = c {
                *c = ChainCert::Parsed(self.get(der));
            }
        }
    }

    /// The facts of a chain, in order.
    pub fn facts(&mut self, chain: &Option<Chain>) -> Vec<Arc<Certificate>> {
        chain
            .iter()
            .flatten()
            .map(|c| match c {
                ChainCert::Der(der) => self.get(der),
                ChainCert::Parsed(p) => Arc::clone(p),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real certificate (rcgen) with `names` one-letter-ish SANs.
    fn many_names(serial: u64, names: usize) -> Vec<u8> {
        let sans: Vec<String> = (0..names).map(|n| format!("{n:x}.a")).collect();
        let mut p = rcgen::CertificateParams::new(sans).expect("params");
        p.serial_number = Some(rcgen::SerialNumber::from(serial));
        let key = rcgen::KeyPair::generate().expect("key");
        p.self_signed(&key).expect("cert").der().to_vec()
    }

    /// Issue 22 item 4: distinct certificates full of names are held to
    /// the byte budget, not only counted (4,000 of them took 4.5 GiB).
    #[test]
    fn the_cache_is_bounded_by_bytes() {
        let mut cache = CertCache::default();
        let mut total = 0usize;
        for i in 0..110u64 {
            let der = many_names(i, 6_000);
            let c = cache.get(&der);
            assert!(c.dns_names.len() >= 6_000, "parsed names");
            total += footprint(&c);
            assert!(cache.held() <= MAX_CACHED_BYTES, "{}", cache.held());
        }
        assert!(
            total > MAX_CACHED_BYTES,
            "the budget was never reached: {total}"
        );
    }
}
