//! DNS over TCP (RFC 1035 4.2.2, RFC 7766): each message behind a 2-byte length.

const HEADER_LEN: usize = 12;
/// Header plus the shortest question: the root name (1) and type and class (4).
const MIN_QUERY_LEN: usize = HEADER_LEN + 5;
const MAX_NAME_LEN: usize = 255;
const MAX_LABEL_LEN: u8 = 63;
const QR: u16 = 0x8000;
/// QUERY, NOTIFY (RFC 1996), UPDATE (RFC 2136): what a client opens with.
const OPCODES: [u16; 3] = [0, 4, 5];
/// CLASS values: IN, CH, HS, NONE, ANY.
const CLASSES: [u16; 5] = [1, 3, 4, 254, 255];

/// DNS: on port 53 a plausible query header from the client (or response
/// header from the server) is enough; on any other port the client's first
/// message must be a complete, well-formed query whose question ends exactly
/// where the 2-byte length says (or before it, when records follow).
pub(super) fn is_dns(client: &[u8], server: &[u8], server_port: u16) -> bool {
    let port_53 = server_port == 53;
    is_query(client, port_53) || (port_53 && is_response(server))
}

fn is_query(client: &[u8], port_53: bool) -> bool {
    let Some((len, flags, [qd, an, ns, ar], message)) = header(client) else {
        return false;
    };
    let opcode = flags >> 11 & 0xf;
    let plausible = flags & QR == 0
        && OPCODES.contains(&opcode)
        && qd == 1
        && (opcode != 0 || an == 0 && ns == 0)
        && len >= MIN_QUERY_LEN;
    if !plausible || port_53 {
        return plausible;
    }
    match question_end(message) {
        Some(end) if an == 0 && ns == 0 && ar == 0 => end == len,
        Some(end) => end < len,
        None => false,
    }
}

fn is_response(server: &[u8]) -> bool {
    header(server).is_some_and(|(_, flags, [qd, ..], _)| {
        flags & QR != 0 && OPCODES.contains(&(flags >> 11 & 0xf)) && qd <= 1
    })
}

/// (message length, flags, [QD, AN, NS, AR] counts, message).
fn header(data: &[u8]) -> Option<(usize, u16, [u16; 4], &[u8])> {
    let (len, message) = data.split_first_chunk::<2>()?;
    let (h, _) = message.split_first_chunk::<HEADER_LEN>()?;
    let word = |hi: u8, lo: u8| u16::from_be_bytes([hi, lo]);
    let [_, _, f0, f1, q0, q1, a0, a1, n0, n1, r0, r1] = *h;
    let counts = [word(q0, q1), word(a0, a1), word(n0, n1), word(r0, r1)];
    Some((
        usize::from(u16::from_be_bytes(*len)),
        word(f0, f1),
        counts,
        message,
    ))
}

/// Offset just past the single question (name, type, class), if it parses:
/// uncompressed labels of at most 63 bytes, a name of at most 255, a known class.
fn question_end(message: &[u8]) -> Option<usize> {
    let mut at = HEADER_LEN;
    loop {
        let label = *message.get(at)?;
        at = at.checked_add(1)?;
        if label == 0 {
            break;
        }
        if label > MAX_LABEL_LEN {
            return None; // a compression pointer cannot start the first name
        }
        at = at.checked_add(usize::from(label))?;
        if at > HEADER_LEN.checked_add(MAX_NAME_LEN)? {
            return None;
        }
    }
    let (&[_, _, c0, c1], _) = message.get(at..)?.split_first_chunk::<4>()?;
    CLASSES
        .contains(&u16::from_be_bytes([c0, c1]))
        .then(|| at.checked_add(4))
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `dig +tcp www.example.com A` without EDNS: ID 0x1fc0, RD.
    const QUERY: &[u8] = b"\x00\x21\x1f\xc0\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\
        \x03www\x07example\x03com\x00\x00\x01\x00\x01";

    #[test]
    fn well_formed_query_on_any_port() {
        assert!(is_dns(QUERY, b"", 5353));
        assert!(!is_dns(&QUERY[..QUERY.len() - 1], b"", 5353));
        let mut wrong_len = QUERY.to_vec();
        wrong_len[1] = 0x22;
        assert!(!is_dns(&wrong_len, b"", 5353));
        assert!(is_dns(&wrong_len[..16], b"", 53)); // port 53: the header is enough
        let mut class = QUERY.to_vec();
        class[34] = 9;
        assert!(!is_dns(&class, b"", 5353));
    }

    #[test]
    fn header_must_be_a_query() {
        for (at, value) in [(4, 0x81), (4, 0x11), (7, 0x02), (9, 0x01)] {
            let mut bad = QUERY.to_vec();
            bad[at] = value;
            assert!(!is_dns(&bad, b"", 53), "byte {at} = {value:#x}");
        }
        let mut pointer = QUERY.to_vec();
        pointer[14] = 0xc0;
        assert!(!is_dns(&pointer, b"", 5353));
    }

    #[test]
    fn response_counts_only_on_port_53() {
        let response = b"\x00\x31\x1f\xc0\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00";
        assert!(is_dns(b"", response, 53));
        assert!(!is_dns(b"", response, 5353));
        assert!(!is_dns(b"", &response[..13], 53));
    }
}
