//! Certificates are parsed once per distinct DER, however many flows send them.

use std::collections::HashMap;
use std::sync::Arc;

use crate::tls::{Chain, ChainCert};
use crate::x509::Certificate;

/// Distinct certificates remembered; past it, certificates are parsed again.
const MAX_CACHED: usize = 16 * 1024;

/// Parsed certificates by the SHA-256 of their DER; every flow that sent a
/// certificate shares one copy of its facts.
#[derive(Default)]
pub struct CertCache {
    by_digest: HashMap<[u8; 32], Arc<Certificate>>,
}

impl CertCache {
    /// The facts of one certificate.
    pub fn get(&mut self, der: &[u8]) -> Arc<Certificate> {
        let digest = crate::tls::hello::digest(der);
        if let Some(c) = self.by_digest.get(&digest) {
            return Arc::clone(c);
        }
        let c = Arc::new(Certificate::from_der(der));
        if self.by_digest.len() < MAX_CACHED {
            self.by_digest.insert(digest, Arc::clone(&c));
        }
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
