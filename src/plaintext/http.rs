//! HTTP/1.x, HTTP/2 with prior knowledge (h2c), and gRPC over h2c.

use super::AppProtocol;
use super::scan::{contains, first_line};

/// RFC 9110 methods plus PATCH (RFC 5789). Case-sensitive, as the RFC says.
const METHODS: [&[u8]; 9] = [
    b"GET ",
    b"HEAD ",
    b"POST ",
    b"PUT ",
    b"DELETE ",
    b"CONNECT ",
    b"OPTIONS ",
    b"TRACE ",
    b"PATCH ",
];

/// The client connection preface of RFC 9113 section 3.4.
pub(super) const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const FRAME_HEADER_LEN: usize = 9;
const HEADERS: u8 = 0x1;
const CONTINUATION: u8 = 0x9;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;
const PRIORITY: u8 = 0x20;

/// The gRPC content-type (`application/grpc`, `application/grpc+proto`, ...)
/// as a raw HPACK string and Huffman-coded (RFC 7541 Appendix B). Its 88-bit
/// code ends on a byte boundary, so it is a fixed byte string in either form.
const GRPC_RAW: &[u8] = b"application/grpc";
const GRPC_HUFFMAN: &[u8] = &[
    0x1d, 0x75, 0xd0, 0x62, 0x0d, 0x26, 0x3d, 0x4c, 0x4d, 0x65, 0x64,
];

/// HTTP/1.x: a request line `METHOD SP target SP HTTP/1.x` from the client or
/// a status line `HTTP/1.x ...` from the server.
pub(super) fn is_http1(client: &[u8], server: &[u8]) -> bool {
    let is_request =
        METHODS.iter().any(|m| client.starts_with(m)) && contains(first_line(client), b" HTTP/1.");
    is_request || server.starts_with(b"HTTP/1.")
}

/// HTTP/2 prior knowledge (the client opened with [`PREFACE`]), told apart
/// from gRPC by the first request's headers.
///
/// The answer waits (None) until that header block is complete or already
/// shows gRPC, so that it never changes as more of the stream arrives. The
/// first block of a connection cannot use HPACK's dynamic table, so a gRPC
/// content-type is always there as a literal, raw or Huffman-coded, and a
/// byte search finds it without decoding HPACK. Not found: a content-type
/// split across a HEADERS/CONTINUATION boundary; a false hit needs the same
/// bytes in another header (a `:path` ending in `application/grpc`).
pub(super) fn h2c(client: &[u8]) -> Option<AppProtocol> {
    let mut rest = client.strip_prefix(PREFACE)?;
    let mut in_block = false;
    loop {
        let (&[l0, l1, l2, kind, flags, ..], body) =
            rest.split_first_chunk::<FRAME_HEADER_LEN>()?;
        let len = usize::try_from(u32::from_be_bytes([0, l0, l1, l2])).ok()?;
        let payload = body.get(..len).unwrap_or(body);
        let complete = payload.len() == len;
        let fragment = match (kind, in_block) {
            (HEADERS, false) => Some(header_block_fragment(payload, flags)),
            (CONTINUATION, true) => Some(payload),
            (_, true) => return Some(AppProtocol::Http2), // broken block: HTTP/2 all the same
            (_, false) => None,
        };
        if let Some(fragment) = fragment {
            if contains(fragment, GRPC_RAW) || contains(fragment, GRPC_HUFFMAN) {
                return Some(AppProtocol::Grpc);
            }
            if complete && flags & END_HEADERS != 0 {
                return Some(AppProtocol::Http2);
            }
            in_block = true;
        }
        if !complete {
            return None;
        }
        rest = body.get(len..)?;
    }
}

/// A HEADERS payload without its optional pad length and priority fields.
/// Padding is left on: it is zeros and cannot match a content-type.
fn header_block_fragment(payload: &[u8], flags: u8) -> &[u8] {
    let pad_length = usize::from(flags & PADDED != 0);
    let priority = if flags & PRIORITY != 0 { 5 } else { 0 };
    payload
        .get(pad_length..)
        .and_then(|p| p.get(priority..))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// grpc-go style request headers, encoded by the `hpack` Python package
    /// (Huffman on): :method POST, :scheme http, :path /helloworld.Greeter/SayHello,
    /// :authority 127.0.0.1:15051, content-type application/grpc, user-agent, te.
    const HUFFMAN_BLOCK: &[u8] =
        b"\x83\x86\x44\x95\x62\x72\xd1\x41\xfc\x1e\xca\x24\x5f\x15\x85\x2a\x4b\x63\
        \x1b\x87\xeb\x19\x68\xa0\xff\x41\x8b\x08\x9d\x5c\x0b\x81\x70\xdc\x0b\x60\
        \x6c\x3f\x5f\x8b\x1d\x75\xd0\x62\x0d\x26\x3d\x4c\x4d\x65\x64\x7a\x8a\x9a\
        \xca\xc8\xb4\xc7\x60\x2b\xb8\xd2\xe0\x40\x82\x49\x7f\x86\x4d\x83\x35\x05\
        \xb1\x1f";

    fn frame(kind: u8, flags: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = u32::try_from(payload.len()).unwrap().to_be_bytes()[1..].to_vec();
        f.extend([kind, flags, 0, 0, 0, 1]);
        f.extend(payload);
        f
    }

    fn client(frames: &[Vec<u8>]) -> Vec<u8> {
        let mut c = PREFACE.to_vec();
        c.extend(frame(0x4, 0, &[0, 3, 0, 0, 0, 100])); // SETTINGS
        frames.iter().for_each(|f| c.extend(f));
        c
    }

    #[test]
    fn huffman_coded_grpc_content_type() {
        let c = client(&[frame(HEADERS, END_HEADERS, HUFFMAN_BLOCK)]);
        assert_eq!(h2c(&c), Some(AppProtocol::Grpc));
        let padded = [&[3][..], HUFFMAN_BLOCK, &[0, 0, 0]].concat();
        assert_eq!(
            h2c(&client(&[frame(HEADERS, END_HEADERS | PADDED, &padded)])),
            Some(AppProtocol::Grpc)
        );
    }

    #[test]
    fn content_type_in_a_continuation_frame() {
        let (first, second) = HUFFMAN_BLOCK.split_at(20);
        let c = client(&[
            frame(HEADERS, 0, first),
            frame(CONTINUATION, END_HEADERS, second),
        ]);
        assert_eq!(h2c(&c), Some(AppProtocol::Grpc));
        assert_eq!(h2c(&client(&[frame(HEADERS, 0, first)])), None);
    }

    #[test]
    fn plain_h2_needs_the_whole_first_block() {
        let headers = [0x82, 0x86, 0x84, 0x41, 0x03, b'a', b'.', b'b'];
        let done = client(&[frame(HEADERS, END_HEADERS, &headers)]);
        assert_eq!(h2c(&done), Some(AppProtocol::Http2));
        assert_eq!(h2c(&done[..done.len() - 1]), None);
        assert_eq!(h2c(&client(&[frame(HEADERS, 0, &headers)])), None);
        let broken = client(&[frame(HEADERS, 0, &headers), frame(0x0, 0, b"x")]);
        assert_eq!(h2c(&broken), Some(AppProtocol::Http2));
        assert_eq!(h2c(PREFACE), None);
        assert_eq!(h2c(b"PRI * HTTP/2.0\r\n\r\n"), None);
    }

    #[test]
    fn http1_request_and_status_lines() {
        assert!(is_http1(b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", b""));
        assert!(is_http1(b"", b"HTTP/1.0 200 OK\r\n"));
        assert!(!is_http1(b"get / HTTP/1.1\r\n", b""));
        assert!(!is_http1(b"GET / HTTP/2\r\n", b""));
        assert!(!is_http1(b"GET /\r\nHost: HTTP/1.1\r\n", b""));
        assert!(!is_http1(b"PRI * HTTP/2.0\r\n", b""));
    }
}
