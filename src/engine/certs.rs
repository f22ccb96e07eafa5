//! Certificates are parsed once per distinct DER, however many flows send them.

use std::collections::HashMap;
use std::sync::Arc;

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
