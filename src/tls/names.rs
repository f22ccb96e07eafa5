//! Names for protocol versions and cipher suites, as the report spells them
//! (borrowed for the registered ones: a flow record costs no allocation
//! for them).

use std::borrow::Cow;

use crate::model::Name;

/// TLS 1.3, one of its drafts (0x7fxx), or a vendor experiment numbered
/// as one (Facebook 0x7exx / 0xfbxx, Google 0x7axx).
pub fn is_tls13(v: u16) -> bool {
    v == 0x0304 || matches!(v >> 8, 0x7f | 0x7e | 0x7a | 0xfb)
}

/// The report's version name: `SSL3.0`, `TLS1.0` ... `TLS1.3`; drafts and
/// experiments keep their identity (`TLS1.3-draft-18`, `TLS1.3-0x7e01`).
pub fn version_name(v: u16) -> Name {
    match v {
        0x0002 => Cow::Borrowed("SSL2.0"),
        0x0300 => Cow::Borrowed("SSL3.0"),
        0x0301 => Cow::Borrowed("TLS1.0"),
        0x0302 => Cow::Borrowed("TLS1.1"),
        0x0303 => Cow::Borrowed("TLS1.2"),
        0x0304 => Cow::Borrowed("TLS1.3"),
        v if v >> 8 == 0x7f => Cow::Owned(format!("TLS1.3-draft-{}", v & 0xff)),
        v if is_tls13(v) => Cow::Owned(format!("TLS1.3-0x{v:04x}")),
        v => Cow::Owned(format!("0x{v:04x}")),
    }
}

/// The IANA name of a cipher suite, or `0xNNNN` when it is not registered.
pub fn cipher_suite_name(id: u16) -> Name {
    match tls_parser::TlsCipherSuite::from_id(id) {
        Some(cs) => Cow::Borrowed(cs.name),
        None => Cow::Owned(format!("0x{id:04x}")),
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
