//! Certificates are parsed once per distinct DER, however many flows send them.

use std::collections::HashMap;
use std::sync::Arc;

use crate::tls::{Chain, ChainCert};
use crate::x509::Certificate;

/// Distinct certificates remembered (DER and facts, a few KiB each); when
/// full the cache starts over, so memory stays bounded.
const MAX_CACHED: usize = 4096;

/// Parsed certificates by their DER bytes (a fast seeded hash, not SHA-256:
/// this lookup runs for every certificate of every handshake); every flow
/// that sent a certificate shares one copy of its facts.
#[derive(Default)]
pub struct CertCache {
    by_der: HashMap<Arc<[u8]>, Arc<Certificate>, foldhash::fast::RandomState>,
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
        if self.by_der.len() >= MAX_CACHED {
            self.by_der.clear();
        }
        self.by_der.insert(bytes, Arc::clone(&c));
        c
    }
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
