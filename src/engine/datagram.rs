//! UDP flows have no handshake to follow: name what the first datagram of a
//! flow shows. DTLS and QUIC are TLS-protected (recognised, not parsed);
//! DNS is cleartext; anything else is left unknown rather than called
//! plaintext, since an unnamed datagram may well be encrypted.

use crate::plaintext::AppProtocol;

/// What a UDP flow carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Datagram {
    /// DTLS records (RFC 6347 / 9147).
    Dtls,
    /// QUIC long-header packets (RFC 9000 / 9369), TLS 1.3 inside.
    Quic,
    /// A cleartext protocol.
    Cleartext(AppProtocol),
}

const DNS_PORTS: [u16; 3] = [53, 5353, 5355];

/// Name a UDP flow from one of its datagrams.
pub fn classify(src_port: u16, dst_port: u16, p: &[u8]) -> Option<Datagram> {
    let (b0, b1, b2) = (*p.first()?, p.get(1).copied(), p.get(2).copied());
    if (20..=25).contains(&b0) && b1 == Some(0xfe) && matches!(b2, Some(0xff | 0xfd | 0xfc)) {
        return Some(Datagram::Dtls);
    }
    if (20..=25).contains(&b0) && b1 == Some(0x01) && b2 == Some(0x00) && dtls_record_fits(p) {
        // OpenSSL's DTLS before 0.9.8f (DTLS1_BAD_VER, 0x0100), also sent
        // by Cisco AnyConnect: the version alone is too weak a sign, so the
        // 13-byte record header's length must fit the datagram.
        return Some(Datagram::Dtls);
    }
    if b0 & 0xc0 == 0xc0 {
        let version = u32::from_be_bytes(p.get(1..5)?.try_into().ok()?);
        let known = version == 1
            || version == 0x6b33_43cf
            || version >> 8 == 0x00ff_0000
            || version >> 8 == 0x0051_3030; // Google QUIC "Q0xx"
        if known {
            return Some(Datagram::Quic);
        }
    }
    let dns_port = DNS_PORTS.contains(&src_port) || DNS_PORTS.contains(&dst_port);
    if dns_port && looks_like_dns(p) {
        return Some(Datagram::Cleartext(AppProtocol::Dns));
    }
    None
}

/// A DTLS record header (type, version, epoch, 48-bit sequence, length)
/// whose length does not run past the datagram.
fn dtls_record_fits(p: &[u8]) -> bool {
    let Some(len) = p.get(11..13) else {
        return false;
    };
    let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
    len > 0 && 13 + len <= p.len()
}

/// A DNS header: 12 bytes, opcode 0-6, a plausible question count.
fn looks_like_dns(p: &[u8]) -> bool {
    let Some(h) = p.get(..12) else { return false };
    let opcode = (h[2] >> 3) & 0x0f;
    let qdcount = u16::from_be_bytes([h[4], h[5]]);
    opcode <= 6 && qdcount <= 16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_openssl_pre_standard_dtls() {
        // DTLS1_BAD_VER ClientHello header: handshake, 0x0100, epoch 0, seq 0, 3 bytes.
        let mut hello = vec![22, 0x01, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 1, 0, 0];
        assert_eq!(classify(5000, 4433, &hello), Some(Datagram::Dtls));
        // A length running past the datagram is not a DTLS record.
        hello[12] = 200;
        assert_eq!(classify(5000, 4433, &hello), None);
        assert_eq!(classify(5000, 4433, &[22, 0x01, 0x00]), None);
    }

    #[test]
    fn names_dtls_quic_and_dns() {
        assert_eq!(
            classify(5000, 4433, &[22, 0xfe, 0xfd, 0, 0]),
            Some(Datagram::Dtls)
        );
        let quic = [0xc3, 0, 0, 0, 1, 8, 1, 2];
        assert_eq!(classify(50000, 443, &quic), Some(Datagram::Quic));
        let q = [0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, b'w'];
        assert_eq!(
            classify(40000, 53, &q),
            Some(Datagram::Cleartext(AppProtocol::Dns))
        );
        // The same bytes on another port are not assumed to be DNS.
        assert_eq!(classify(40000, 9999, &q), None);
        assert_eq!(classify(1, 2, &[]), None);
        assert_eq!(classify(1, 2, &[0xc0, 0, 0]), None);
    }
}
