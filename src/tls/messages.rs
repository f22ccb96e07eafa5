//! Certificate messages, in the TLS ≤ 1.2 and the TLS 1.3 layouts.
//!
//! tls-parser 0.12 reads a TLS 1.3 Certificate as if it had the 1.2 layout
//! and silently returns no certificates, so both layouts are parsed here.

use super::wire::Reader;

/// Certificates kept per message; a longer list is cut (and is itself odd).
pub const MAX_CHAIN: usize = 32;

/// TLS ≤ 1.2: `opaque certificate_list<0..2^24-1>` of `opaque ASN.1Cert<1..2^24-1>`.
pub fn certificate_tls12(body: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut r = Reader::new(body);
    let mut list = Reader::new(r.vec24()?);
    let mut out = Vec::new();
    while !list.is_empty() && out.len() < MAX_CHAIN {
        out.push(list.vec24()?.to_vec());
    }
    Some(out)
}

/// TLS 1.3: a request context, then entries of certificate and extensions.
pub fn certificate_tls13(body: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut r = Reader::new(body);
    r.vec8()?; // certificate_request_context
    let mut list = Reader::new(r.vec24()?);
    let mut out = Vec::new();
    while !list.is_empty() && out.len() < MAX_CHAIN {
        out.push(list.vec24()?.to_vec());
        list.vec16()?; // per-entry extensions (OCSP, SCT)
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_layouts() {
        let tls12 = [0, 0, 8, 0, 0, 2, 0xaa, 0xbb, 0, 0, 0];
        assert_eq!(
            certificate_tls12(&tls12),
            Some(vec![vec![0xaa, 0xbb], vec![]])
        );
        assert_eq!(certificate_tls12(&[0, 0, 0]), Some(vec![]));
        let tls13 = [0, 0, 0, 7, 0, 0, 2, 0xaa, 0xbb, 0, 0];
        assert_eq!(certificate_tls13(&tls13), Some(vec![vec![0xaa, 0xbb]]));
        assert_eq!(certificate_tls13(&[0, 0, 0, 0]), Some(vec![]));
        for n in 0..tls13.len() {
            let _ = certificate_tls13(&tls13[..n]);
            let _ = certificate_tls12(&tls12[..n]);
        }
    }
}
