//! Names for protocol versions and cipher suites, as the report spells them.

/// TLS 1.3, one of its drafts (0x7fxx), or a vendor experiment numbered
/// as one (Facebook 0x7exx / 0xfbxx, Google 0x7axx).
pub fn is_tls13(v: u16) -> bool {
    v == 0x0304 || matches!(v >> 8, 0x7f | 0x7e | 0x7a | 0xfb)
}

/// The report's version name: `SSL3.0`, `TLS1.0` ... `TLS1.3`; drafts and
/// experiments keep their identity (`TLS1.3-draft-18`, `TLS1.3-0x7e01`).
pub fn version_name(v: u16) -> String {
    match v {
        0x0002 => "SSL2.0".into(),
        0x0300 => "SSL3.0".into(),
        0x0301 => "TLS1.0".into(),
        0x0302 => "TLS1.1".into(),
        0x0303 => "TLS1.2".into(),
        0x0304 => "TLS1.3".into(),
        v if v >> 8 == 0x7f => format!("TLS1.3-draft-{}", v & 0xff),
        v if is_tls13(v) => format!("TLS1.3-0x{v:04x}"),
        v => format!("0x{v:04x}"),
    }
}

/// The IANA name of a cipher suite, or `0xNNNN` when it is not registered.
pub fn cipher_suite_name(id: u16) -> String {
    match tls_parser::TlsCipherSuite::from_id(id) {
        Some(cs) => cs.name.to_string(),
        None => format!("0x{id:04x}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(version_name(0x0303), "TLS1.2");
        assert_eq!(version_name(0x7f12), "TLS1.3-draft-18");
        assert_eq!(version_name(0xfb1a), "TLS1.3-0xfb1a");
        assert_eq!(version_name(0x1234), "0x1234");
        assert_eq!(cipher_suite_name(0x1301), "TLS_AES_128_GCM_SHA256");
        assert_eq!(
            cipher_suite_name(0xc02f),
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
        );
        assert_eq!(cipher_suite_name(0xeeee), "0xeeee");
    }
}
