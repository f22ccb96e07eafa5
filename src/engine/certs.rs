//! Certificates are parsed once per distinct DER, however many flows send them.

use std::collections::HashMap;

use crate::x509::Certificate;

/// Distinct certificates remembered; past it, certificates are parsed again.
const MAX_CACHED: usize = 16 * 1024;

/// Parsed certificates by their DER bytes.
#[derive(Default)]
pub struct CertCache {
    by_der: HashMap<Vec<u8>, Certificate>,
}

impl CertCache {
    /// The facts of one certificate.
    pub fn get(&mut self, der: &[u8]) -> Certificate {
        if let Some(c) = self.by_der.get(der) {
            return c.clone();
        }
        let c = Certificate::from_der(der);
        if self.by_der.len() < MAX_CACHED {
            self.by_der.insert(der.to_vec(), c.clone());
        }
        c
    }
}
