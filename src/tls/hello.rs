//! ClientHello and ServerHello bodies.
//!
//! Extensions are walked one by one and only the ones we report are decoded,
//! so a malformed or unknown extension costs that extension, not the SNI or
//! the fingerprint. (tls-parser parses the whole list or nothing.)

use super::wire::Reader;

/// Extension types we decode or use (IANA TLS ExtensionType registry).
pub mod ext {
    /// server_name
    pub const SERVER_NAME: u16 = 0;
    /// supported_groups
    pub const SUPPORTED_GROUPS: u16 = 10;
    /// signature_algorithms
    pub const SIGNATURE_ALGORITHMS: u16 = 13;
    /// application_layer_protocol_negotiation
    pub const ALPN: u16 = 16;
    /// session_ticket (RFC 5077)
    pub const SESSION_TICKET: u16 = 35;
    /// pre_shared_key
    pub const PRE_SHARED_KEY: u16 = 41;
    /// early_data
    pub const EARLY_DATA: u16 = 42;
    /// supported_versions
    pub const SUPPORTED_VERSIONS: u16 = 43;
    /// key_share
    pub const KEY_SHARE: u16 = 51;
    /// encrypted_client_hello
    pub const ECH: u16 = 0xfe0d;
    /// client_certificate_type (RFC 7250: raw public keys)
    pub const CLIENT_CERTIFICATE_TYPE: u16 = 19;
    /// post_handshake_auth (RFC 8446 §4.2.6)
    pub const POST_HANDSHAKE_AUTH: u16 = 49;
}

/// SHA-256("HelloRetryRequest"): the ServerHello random that marks an HRR.
pub const HRR_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// GREASE values (RFC 8701) are 0x?a?a with both bytes equal.
pub fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && v >> 8 == v & 0xff
}

/// What a ClientHello offers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientHello {
    /// legacy_version (the real maximum for TLS ≤ 1.2).
    pub legacy_version: u16,
    /// client random (matches key-log lines).
    pub random: [u8; 32],
    /// legacy_session_id.
    pub session_id: Vec<u8>,
    /// Cipher suites in offer order (GREASE included).
    pub cipher_suites: Vec<u16>,
    /// Extension types in wire order (GREASE included).
    pub extensions: Vec<u16>,
    /// server_name (host_name), lossily decoded.
    pub sni: Option<String>,
    /// ALPN protocol names, raw.
    pub alpn: Vec<Vec<u8>>,
    /// supported_versions (GREASE included).
    pub supported_versions: Vec<u16>,
    /// supported_groups.
    pub supported_groups: Vec<u16>,
    /// signature_algorithms in offer order.
    pub signature_algorithms: Vec<u16>,
    /// Groups of the key shares sent.
    pub key_share_groups: Vec<u16>,
    /// SHA-256 of a non-empty session_ticket extension (a TLS ≤ 1.2
    /// resumption attempt), to match it with the NewSessionTicket that issued it.
    pub ticket_digest: Option<[u8; 32]>,
    /// Was it SSL 2.0-framed?
    pub sslv2_framed: bool,
}

impl ClientHello {
    /// Parse a ClientHello body (after the 4-byte handshake header).
    pub fn parse(body: &[u8]) -> Option<ClientHello> {
        let mut r = Reader::new(body);
        let mut ch = ClientHello {
            legacy_version: r.u16()?,
            ..ClientHello::default()
        };
        ch.random.copy_from_slice(r.take(32)?);
        ch.session_id = r.vec8()?.to_vec();
        let mut suites = Reader::new(r.vec16()?);
        while let Some(s) = suites.u16() {
            ch.cipher_suites.push(s);
        }
        r.vec8()?; // compression methods
        if r.is_empty() {
            return Some(ch); // no extensions (SSL 3.0 style)
        }
        // A damaged extension block keeps what was read before the damage.
        let Some(exts) = r.vec16() else {
            return Some(ch);
        };
        let mut exts = Reader::new(exts);
        while let (Some(t), Some(data)) = (exts.u16(), exts.vec16()) {
            ch.extensions.push(t);
            ch.decode_extension(t, data);
        }
        Some(ch)
    }

    fn decode_extension(&mut self, t: u16, data: &[u8]) {
        let mut r = Reader::new(data);
        match t {
            ext::SERVER_NAME => {
                let Some(list) = r.vec16() else { return };
                let mut list = Reader::new(list);
                while let (Some(kind), Some(name)) = (list.u8(), list.vec16()) {
                    if kind == 0 && self.sni.is_none() {
                        self.sni = Some(String::from_utf8_lossy(name).into_owned());
                    }
                }
            }
            ext::ALPN => {
                let Some(list) = r.vec16() else { return };
                let mut list = Reader::new(list);
                while let Some(p) = list.vec8() {
                    self.alpn.push(p.to_vec());
                }
            }
            ext::SUPPORTED_VERSIONS => {
                let Some(list) = r.vec8() else { return };
                self.supported_versions = u16s(list);
            }
            ext::SUPPORTED_GROUPS => {
                let Some(list) = r.vec16() else { return };
                self.supported_groups = u16s(list);
            }
            ext::SIGNATURE_ALGORITHMS => {
                let Some(list) = r.vec16() else { return };
                self.signature_algorithms = u16s(list);
            }
            ext::SESSION_TICKET if !data.is_empty() => {
                self.ticket_digest = Some(digest(data));
            }
            ext::KEY_SHARE => {
                let Some(list) = r.vec16() else { return };
                let mut list = Reader::new(list);
                while let (Some(group), Some(_key)) = (list.u16(), list.vec16()) {
                    self.key_share_groups.push(group);
                }
            }
            _ => {}
        }
    }

    /// Parse an SSL 2.0-framed CLIENT-HELLO message (after the 2-byte length).
    pub fn parse_sslv2(msg: &[u8]) -> Option<ClientHello> {
        let mut r = Reader::new(msg);
        if r.u8()? != 1 {
            return None;
        }
        let version = r.u16()?;
        let specs_len = usize::from(r.u16()?);
        let sid_len = usize::from(r.u16()?);
        let challenge_len = usize::from(r.u16()?);
        let specs = r.take(specs_len)?;
        let session_id = r.take(sid_len)?;
        let challenge = r.take(challenge_len)?;
        let mut ch = ClientHello {
            legacy_version: version,
            session_id: session_id.to_vec(),
            sslv2_framed: true,
            ..ClientHello::default()
        };
        // SSL 2.0 cipher specs are 3 bytes; those starting with 0 are TLS suites.
        for &[kind, high, low] in specs.as_chunks::<3>().0 {
            if kind == 0 {
                ch.cipher_suites.push(u16::from_be_bytes([high, low]));
            }
        }
        // The challenge is the right-aligned client random (RFC 6101 E.1):
        // its last bytes, up to 32, end the random.
        for (slot, &byte) in ch.random.iter_mut().rev().zip(challenge.iter().rev()) {
            *slot = byte;
        }
        Some(ch)
    }

    /// The highest version offered, honouring supported_versions (GREASE ignored).
    pub fn max_version(&self) -> u16 {
        self.supported_versions
            .iter()
            .copied()
            .filter(|v| !is_grease(*v))
            .max()
            .unwrap_or(self.legacy_version)
    }
}

/// What a ServerHello (or HelloRetryRequest) chose.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerHello {
    /// legacy_version.
    pub legacy_version: u16,
    /// The version negotiated: supported_versions if present, else legacy_version.
    pub version: u16,
    /// server random.
    pub random: [u8; 32],
    /// legacy_session_id_echo.
    pub session_id: Vec<u8>,
    /// The cipher suite chosen.
    pub cipher_suite: u16,
    /// Extension types in wire order.
    pub extensions: Vec<u16>,
    /// ALPN protocol chosen, raw.
    pub alpn: Option<Vec<u8>>,
    /// This is a HelloRetryRequest.
    pub is_hrr: bool,
    /// key_share: the group of the server's share, or for a
    /// HelloRetryRequest the group it asks the client to use.
    pub key_share_group: Option<u16>,
}

impl ServerHello {
    /// Parse a ServerHello body (after the 4-byte handshake header).
    pub fn parse(body: &[u8]) -> Option<ServerHello> {
        let mut r = Reader::new(body);
        let mut sh = ServerHello {
            legacy_version: r.u16()?,
            ..ServerHello::default()
        };
        sh.version = sh.legacy_version;
        sh.random.copy_from_slice(r.take(32)?);
        sh.is_hrr = sh.random == HRR_RANDOM;
        // TLS 1.3 drafts before -22 have no session id and no compression;
        // some of their implementations put 0x0304 itself in the version field.
        let draft_without_sid =
            sh.legacy_version == 0x0304 || (0x7f00..0x7f16).contains(&sh.legacy_version);
        if !draft_without_sid {
            sh.session_id = r.vec8()?.to_vec();
        }
        sh.cipher_suite = r.u16()?;
        if !draft_without_sid {
            r.u8()?; // compression method
        }
        if r.is_empty() {
            return Some(sh);
        }
        let Some(exts) = r.vec16() else {
            return Some(sh);
        };
        let mut exts = Reader::new(exts);
        while let (Some(t), Some(data)) = (exts.u16(), exts.vec16()) {
            sh.extensions.push(t);
            let mut d = Reader::new(data);
            match t {
                ext::SUPPORTED_VERSIONS => {
                    if let Some(v) = d.u16() {
                        sh.version = v;
                    }
                }
                ext::ALPN => {
                    if let Some(p) = d.vec16().and_then(|l| Reader::new(l).vec8()) {
                        sh.alpn = Some(p.to_vec());
                    }
                }
                // RFC 8446 §4.2.8: a KeyShareEntry in a ServerHello, the
                // bare selected_group in a HelloRetryRequest.
                ext::KEY_SHARE => {
                    sh.key_share_group = d.u16();
                }
                _ => {}
            }
        }
        Some(sh)
    }

    /// TLS 1.3 (final or a draft/experiment numbered as one).
    pub fn is_tls13(&self) -> bool {
        super::names::is_tls13(self.version)
    }
}

/// An SSL 2.0 SERVER-HELLO (after its length header): the version, and the
/// server's X.509 certificate when it sent one (certificate type 1). The
/// cipher is chosen later, in the client's encrypted CLIENT-MASTER-KEY.
pub fn parse_sslv2_server_hello(msg: &[u8]) -> (ServerHello, Option<Vec<u8>>) {
    let sh = ServerHello {
        legacy_version: 0x0002,
        version: 0x0002,
        ..ServerHello::default()
    };
    let mut r = Reader::new(msg);
    let cert = (|| {
        let (_type, _hit, cert_type) = (r.u8()?, r.u8()?, r.u8()?);
        let (_version, cert_len) = (r.u16()?, r.u16()?);
        let (_specs, _conn_id) = (r.u16()?, r.u16()?);
        let cert = r.take(usize::from(cert_len))?;
        (cert_type == 1 && !cert.is_empty()).then(|| cert.to_vec())
    })();
    (sh, cert)
}

/// SHA-256 of resumption material: we keep the digest, never the ticket.
pub fn digest(b: &[u8]) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, b);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

fn u16s(b: &[u8]) -> Vec<u16> {
    b.as_chunks::<2>()
        .0
        .iter()
        .map(|&c| u16::from_be_bytes(c))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real ClientHello body from curl 7.88 / OpenSSL 3.0 (TLS 1.3 capable),
    /// trimmed of its key share bytes to keep the test short.
    fn sample_client_hello() -> Vec<u8> {
        let mut b = vec![0x03, 0x03];
        b.extend([0x11; 32]);
        b.push(0); // session id
        b.extend([0, 6, 0x13, 0x01, 0x13, 0x02, 0xc0, 0x2f]);
        b.extend([1, 0]);
        let mut exts = Vec::new();
        // SNI
        let name = b"api.pay.svc";
        exts.extend([0, 0]);
        exts.extend(((name.len() + 5) as u16).to_be_bytes());
        exts.extend(((name.len() + 3) as u16).to_be_bytes());
        exts.push(0);
        exts.extend((name.len() as u16).to_be_bytes());
        exts.extend(name);
        // GREASE
        exts.extend([0x1a, 0x1a, 0, 0]);
        // ALPN h2, http/1.1
        exts.extend([0, 16, 0, 14, 0, 12, 2, b'h', b'2', 8]);
        exts.extend(b"http/1.1");
        // supported_versions
        exts.extend([0, 43, 0, 5, 4, 3, 4, 3, 3]);
        // key_share x25519 with 2-byte key
        exts.extend([0, 51, 0, 8, 0, 6, 0, 29, 0, 2, 9, 9]);
        b.extend((exts.len() as u16).to_be_bytes());
        b.extend(exts);
        b
    }

    #[test]
    fn parses_client_hello_fields() {
        let ch = ClientHello::parse(&sample_client_hello()).unwrap();
        assert_eq!(ch.sni.as_deref(), Some("api.pay.svc"));
        assert_eq!(ch.cipher_suites, vec![0x1301, 0x1302, 0xc02f]);
        assert_eq!(ch.alpn, vec![b"h2".to_vec(), b"http/1.1".to_vec()]);
        assert_eq!(ch.supported_versions, vec![0x0304, 0x0303]);
        assert_eq!(ch.key_share_groups, vec![29]);
        assert_eq!(ch.extensions, vec![0, 0x1a1a, 16, 43, 51]);
        assert_eq!(ch.max_version(), 0x0304);
    }

    #[test]
    fn damaged_extension_keeps_earlier_ones() {
        let mut b = sample_client_hello();
        let n = b.len();
        b.truncate(n - 3); // cut inside key_share
        let ch = ClientHello::parse(&b).unwrap();
        // the outer extensions length no longer matches: nothing after the cut is read
        assert!(ch.sni.is_none() || ch.sni.as_deref() == Some("api.pay.svc"));
        for k in 0..b.len() {
            let _ = ClientHello::parse(&b[..k]);
        }
    }

    #[test]
    fn parses_server_hello_and_hrr() {
        let mut b = vec![0x03, 0x03];
        b.extend(HRR_RANDOM);
        b.extend([0, 0x13, 0x01, 0]);
        b.extend([0, 12, 0, 43, 0, 2, 3, 4, 0, 51, 0, 2, 0x11, 0xec]);
        let sh = ServerHello::parse(&b).unwrap();
        assert!(sh.is_hrr);
        assert_eq!(sh.key_share_group, Some(0x11ec));
        assert_eq!(sh.version, 0x0304);
        assert_eq!(sh.cipher_suite, 0x1301);
    }

    #[test]
    fn grease_detection() {
        assert!(is_grease(0x0a0a) && is_grease(0xfafa));
        assert!(!is_grease(0x0a1a) && !is_grease(0x1301));
    }
}
