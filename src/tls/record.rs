//! TLS record framing over a reassembled byte stream.
//!
//! The framer answers the three ways a stream parser must: a record, not TLS,
//! or "need more bytes". It never buffers a record body it does not need:
//! encrypted records are skipped by length, so a 16 KiB application-data
//! record costs a counter, not a copy.

/// Record content types (RFC 8446 §5.1).
pub mod content_type {
    /// change_cipher_spec
    pub const CHANGE_CIPHER_SPEC: u8 = 20;
    /// alert
    pub const ALERT: u8 = 21;
    /// handshake
    pub const HANDSHAKE: u8 = 22;
    /// application_data
    pub const APPLICATION_DATA: u8 = 23;
    /// heartbeat (RFC 6520)
    pub const HEARTBEAT: u8 = 24;
}

/// The largest record length a peer may send (2^14 plaintext plus the
/// expansion TLS 1.2 allows for ciphertext).
pub const MAX_RECORD_LEN: u16 = 16384 + 2048;

/// A record header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    /// Content type.
    pub content_type: u8,
    /// The record-layer version (legacy_record_version in TLS 1.3).
    pub version: u16,
    /// Length of the record body.
    pub len: u16,
}

/// What the bytes at the start of a stream look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Header {
    /// A TLS record header.
    Record(RecordHeader),
    /// An SSL 2.0-framed hello: a CLIENT-HELLO (old clients offering SSL
    /// 3.0/TLS this way) or an SSL 2.0 server's SERVER-HELLO.
    Sslv2Hello {
        /// 1 CLIENT-HELLO, 4 SERVER-HELLO.
        msg_type: u8,
        /// Bytes of the header (2 or 3).
        header_len: usize,
        /// Length of the message after the header.
        len: usize,
    },
}

/// Need more bytes to decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Incomplete;

/// Is this a plausible record header? `Ok(None)` means it is not TLS.
pub fn parse_header(b: &[u8]) -> Result<Option<RecordHeader>, Incomplete> {
    let [content_type, v0, v1, l0, l1, ..] = *b else {
        // Reject early on the bytes we have, so a plaintext stream is not held back.
        if let Some(&t) = b.first()
            && !(content_type::CHANGE_CIPHER_SPEC..=content_type::HEARTBEAT).contains(&t)
        {
            return Ok(None);
        }
        if let Some(&major) = b.get(1)
            && major != 3
        {
            return Ok(None);
        }
        if let Some(&minor) = b.get(2)
            && minor > 4
        {
            return Ok(None);
        }
        return Err(Incomplete);
    };
    let h = RecordHeader {
        content_type,
        version: u16::from_be_bytes([v0, v1]),
        len: u16::from_be_bytes([l0, l1]),
    };
    let plausible = (content_type::CHANGE_CIPHER_SPEC..=content_type::HEARTBEAT)
        .contains(&h.content_type)
        && (0x0300..=0x0304).contains(&h.version)
        && h.len <= MAX_RECORD_LEN
        && h.len > 0;
    Ok(plausible.then_some(h))
}

/// Does the stream start like TLS (a record header or an SSLv2 ClientHello)?
pub fn parse_start(b: &[u8]) -> Result<Option<Header>, Incomplete> {
    match parse_header(b) {
        Ok(Some(h)) => return Ok(Some(Header::Record(h))),
        Err(Incomplete) => return Err(Incomplete),
        Ok(None) => {}
    }
    sslv2_hello(b)
}

/// SSL 2.0 record framing (RFC 6101 appendix E.2, the SSL 2.0 draft): a
/// 2-byte length with the high bit set, then a CLIENT-HELLO (type 1, a
/// version of SSL 2.0, SSL 3.0 or TLS) or a SERVER-HELLO (type 4:
/// session-id-hit, certificate type, then version 0x0002).
fn sslv2_hello(b: &[u8]) -> Result<Option<Header>, Incomplete> {
    let Some(&first) = b.first() else {
        return Err(Incomplete);
    };
    if first & 0x80 == 0 {
        return Ok(None);
    }
    let [_, len_low, msg_type, b3, b4, b5, b6, ..] = *b else {
        return Err(Incomplete);
    };
    let len = usize::from(u16::from_be_bytes([first & 0x7f, len_low]));
    let ok = match msg_type {
        1 => {
            let version = u16::from_be_bytes([b3, b4]);
            (version == 0x0002 || (0x0300..=0x0304).contains(&version)) && len >= 9
        }
        4 => u16::from_be_bytes([b5, b6]) == 0x0002 && b3 <= 1 && len >= 11,
        _ => false,
    };
    Ok(ok.then_some(Header::Sslv2Hello {
        msg_type,
        header_len: 2,
        len,
    }))
}

/// What a search for a record boundary in mid-stream bytes found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sync {
    /// A run of records starts at this offset.
    At(usize),
    /// Nothing confirmed yet, but a plausible record starts in these bytes
    /// and would be confirmed (or refuted) once the buffer holds `until`
    /// bytes: the end of that record, or the end of the header after it.
    /// A connection picked up mid-handshake often starts with a record
    /// that ends in a later segment.
    Pending {
        /// Buffer length at which searching again can decide.
        until: usize,
    },
    /// No plausible record header at all.
    None,
}

/// Where a run of consecutive plausible records starts in `b`, for picking
/// up a connection mid-stream. Requires two chained headers, or one record
/// that ends exactly at the end of `b`; a match in plaintext is then about
/// as likely as a 5-byte and a 10-byte coincidence together.
pub fn find_sync(b: &[u8]) -> Option<usize> {
    match search_sync(b) {
        Sync::At(k) => Some(k),
        _ => None,
    }
}

/// [`find_sync`], saying also when a later search could succeed: the
/// smallest buffer length at which a plausible but unconfirmed record
/// would be complete (with the header after it).
pub fn search_sync(b: &[u8]) -> Sync {
    let mut until: Option<usize> = None;
    // A header is 5 bytes: every offset with a whole header after it.
    for (k, header) in b.windows(5).enumerate() {
        let Ok(Some(h)) = parse_header(header) else {
            continue;
        };
        // Offsets are bounded by the slice: saturation is unreachable.
        let next = k.saturating_add(5).saturating_add(usize::from(h.len));
        if next == b.len() {
            return Sync::At(k);
        }
        let wait = match b.get(next..).map(parse_header) {
            Some(Ok(Some(_))) => return Sync::At(k),
            Some(Ok(None)) => None,
            // The header after it is cut short: decidable with 5 more bytes.
            Some(Err(Incomplete)) => Some(next.saturating_add(5)),
            // The record itself ends beyond the buffer.
            None => Some(next),
        };
        if let Some(w) = wait {
            until = Some(until.map_or(w, |u| u.min(w)));
        }
    }
    until.map_or(Sync::None, |until| Sync::Pending { until })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_record_headers() {
        assert_eq!(
            parse_header(&[22, 3, 1, 0, 200]),
            Ok(Some(RecordHeader {
                content_type: 22,
                version: 0x0301,
                len: 200
            }))
        );
        assert_eq!(parse_header(b"GET / HTTP/1.1"), Ok(None));
        assert_eq!(parse_header(&[22, 3]), Err(Incomplete));
        assert_eq!(parse_header(&[22, 4]), Ok(None));
        assert_eq!(parse_header(&[23, 3, 3, 0xff, 0xff]), Ok(None));
    }

    #[test]
    fn recognises_sslv2_client_hello() {
        let b = [0x80, 0x2e, 0x01, 0x03, 0x01, 0x00, 0x15];
        assert_eq!(
            parse_start(&b),
            Ok(Some(Header::Sslv2Hello {
                msg_type: 1,
                header_len: 2,
                len: 0x2e
            }))
        );
        let server = [0x83, 0xb4, 0x04, 0x00, 0x01, 0x00, 0x02];
        assert!(matches!(
            parse_start(&server),
            Ok(Some(Header::Sslv2Hello { msg_type: 4, .. }))
        ));
        assert_eq!(parse_start(&[0x80, 0x2e, 0x05, 0x03, 0x01, 0, 0]), Ok(None));
    }

    #[test]
    fn every_prefix_is_incomplete_or_stable() {
        let rec = [22u8, 3, 3, 0, 4, 1, 0, 0, 0];
        for n in 0..rec.len() {
            let r = parse_start(&rec[..n]);
            if n < 5 {
                assert_eq!(r, Err(Incomplete), "prefix {n}");
            } else {
                assert!(matches!(r, Ok(Some(Header::Record(_)))), "prefix {n}");
            }
        }
    }

    #[test]
    fn finds_sync_in_mid_stream_bytes() {
        let mut b = vec![0x41u8; 7];
        b.extend([23, 3, 3, 0, 3, 1, 2, 3]);
        b.extend([23, 3, 3, 0, 2, 9]);
        assert_eq!(find_sync(&b), Some(7));
        assert_eq!(find_sync(b"plain text, nothing to see here"), None);
    }

    /// A SYN-less flow whose first record spans two segments: the first
    /// segment alone cannot confirm it, but says how much more is needed.
    #[test]
    fn a_record_cut_by_the_segment_end_is_pending_until_complete() {
        let mut rec = vec![22u8, 3, 1, 0, 53];
        rec.extend([1u8; 53]);
        assert_eq!(search_sync(&rec[..30]), Sync::Pending { until: 58 });
        assert_eq!(search_sync(&rec), Sync::At(0));
        // With the next record's header cut short: pending until it is whole.
        let mut two = rec.clone();
        two.extend([22, 3]);
        assert_eq!(search_sync(&two), Sync::Pending { until: 63 });
        two.extend([3, 0, 1]);
        assert_eq!(search_sync(&two), Sync::At(0));
        assert_eq!(search_sync(b"plain text"), Sync::None);
    }
}
