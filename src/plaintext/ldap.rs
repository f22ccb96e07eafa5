//! LDAP (RFC 4511): BER-encoded `LDAPMessage ::= SEQUENCE { messageID INTEGER,
//! protocolOp CHOICE { [APPLICATION n] ... }, controls [0] OPTIONAL }`.

/// Client operations that open a session, each with the tag its content
/// starts with: bindRequest (version INTEGER), searchRequest (baseObject
/// OCTET STRING), extendedRequest (requestName, context tag 0).
const REQUESTS: [(u8, u8); 3] = [(0x60, 0x02), (0x63, 0x04), (0x77, 0x80)];
/// Server answers: bindResponse, searchResDone, extendedResponse (resultCode
/// ENUMERATED), searchResEntry (objectName OCTET STRING).
const RESPONSES: [(u8, u8); 4] = [(0x61, 0x0a), (0x65, 0x0a), (0x78, 0x0a), (0x64, 0x04)];
const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const EXTENDED_REQUEST: u8 = 0x77;
const REQUEST_NAME: u8 = 0x80;
/// RFC 4511 section 4.14.1.
const STARTTLS_OID: &[u8] = b"1.3.6.1.4.1.1466.20037";
/// Messages looked through for a StartTLS request.
const MAX_MESSAGES: usize = 8;

/// One LDAP message, possibly cut short: its operation tag, the start of the
/// operation's content, and the bytes after the message if it is complete.
struct Message<'a> {
    op: u8,
    content: &'a [u8],
    next: Option<&'a [u8]>,
}

/// LDAP from either side: a well-formed message whose operation is one of
/// [`REQUESTS`] from the client or [`RESPONSES`] from the server, with the
/// right first inner tag. On 389 and 3268 (Global Catalog) any LDAP-shaped
/// message header is enough.
pub(super) fn is_ldap(client: &[u8], server: &[u8], server_port: u16) -> bool {
    let opens = |data: &[u8], ops: &[(u8, u8)]| {
        message(data).is_some_and(|m| {
            ops.iter()
                .any(|&(op, first)| m.op == op && m.content.first() == Some(&first))
        })
    };
    let ldap_port = matches!(server_port, 389 | 3268);
    opens(client, &REQUESTS)
        || opens(server, &RESPONSES)
        || (ldap_port && message(client).is_some())
}

/// An extendedRequest for StartTLS among the client's first messages.
pub(super) fn starttls(client: &[u8]) -> bool {
    let mut rest = client;
    for _ in 0..MAX_MESSAGES {
        let Some(m) = message(rest) else {
            return false;
        };
        let name = (m.op == EXTENDED_REQUEST)
            .then(|| tlv(m.content))
            .flatten()
            .filter(|&(tag, _, _)| tag == REQUEST_NAME)
            .and_then(|(_, len, value)| value.get(..len));
        if name == Some(STARTTLS_OID) {
            return true;
        }
        match m.next {
            Some(next) => rest = next,
            None => return false,
        }
    }
    false
}

/// Parses an LDAPMessage header: SEQUENCE, messageID (1-4 octet INTEGER), and
/// an [APPLICATION n] operation whose declared length fits in the SEQUENCE.
fn message(data: &[u8]) -> Option<Message<'_>> {
    let (SEQUENCE, seq_len, body) = tlv(data)? else {
        return None;
    };
    let (INTEGER, id_len @ 1..=4, id) = tlv(body)? else {
        return None;
    };
    let after_id = id.get(id_len..)?;
    let (op, op_len, content) = tlv(after_id)?;
    // Consumed from the start of `body` through the end of the operation.
    let op_end = body.len().checked_sub(content.len())?.checked_add(op_len)?;
    if op & 0xc0 != 0x40 || op_end > seq_len {
        return None; // not [APPLICATION n], or overflows the message
    }
    let next = body.get(seq_len..);
    Some(Message {
        op,
        content: content.get(..op_len).unwrap_or(content),
        next,
    })
}

/// One BER tag-length header (single-byte tag, definite length of at most 4
/// length octets, as LDAP requires): (tag, length, the bytes after the header).
fn tlv(data: &[u8]) -> Option<(u8, usize, &[u8])> {
    let (&tag, rest) = data.split_first()?;
    let (&first, rest) = rest.split_first()?;
    if first < 0x80 {
        return Some((tag, usize::from(first), rest));
    }
    let count = usize::from(first & 0x7f);
    if !(1..=4).contains(&count) {
        return None; // indefinite (0x80) or absurd
    }
    let (octets, rest) = rest.split_at_checked(count)?;
    let len = octets.iter().fold(0u32, |acc, &b| acc << 8 | u32::from(b));
    Some((tag, usize::try_from(len).ok()?, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4511 StartTLS as OpenLDAP's ldapsearch -ZZ sends it (message 1).
    const STARTTLS: &[u8] = b"\x30\x1d\x02\x01\x01\x77\x18\x80\x16\x31\x2e\x33\x2e\x36\x2e\x31\
        \x2e\x34\x2e\x31\x2e\x31\x34\x36\x36\x2e\x32\x30\x30\x33\x37";

    #[test]
    fn starttls_first_or_later() {
        assert!(starttls(STARTTLS));
        let unbind_then = [b"\x30\x05\x02\x01\x03\x42\x00", STARTTLS].concat();
        assert!(starttls(&unbind_then));
        let mut other_oid = STARTTLS.to_vec();
        other_oid[30] = b'8';
        assert!(!starttls(&other_oid));
        assert!(!starttls(&STARTTLS[..30]));
    }

    #[test]
    fn long_form_lengths_and_limits() {
        let long = b"\x30\x84\x00\x00\x00\x0c\x02\x01\x01\x60\x07\x02\x01\x03\x04\x00\x80\x00";
        assert!(is_ldap(long, b"", 10389));
        assert!(!is_ldap(b"\x30\x80\x02\x01\x01\x60\x07", b"", 389)); // indefinite length
        assert!(!is_ldap(b"\x30\x85\x00\x00\x00\x00\x0c", b"", 389));
        // The operation claims more than the SEQUENCE holds.
        assert!(!is_ldap(
            b"\x30\x0c\x02\x01\x01\x60\x20\x02\x01\x03\x04\x00\x80\x00",
            b"",
            10389
        ));
        // messageID of 5 octets; a context tag instead of [APPLICATION n].
        assert!(!is_ldap(
            b"\x30\x0c\x02\x05\x01\x01\x01\x01\x01\x60\x00",
            b"",
            389
        ));
        assert!(!is_ldap(b"\x30\x07\x02\x01\x01\xa0\x02\x04\x00", b"", 389));
    }

    #[test]
    fn responses_and_the_port_tie_break() {
        let bind_response = b"\x30\x0c\x02\x01\x01\x61\x07\x0a\x01\x00\x04\x00\x04\x00";
        assert!(is_ldap(b"", bind_response, 10389));
        let abandon = b"\x30\x06\x02\x01\x02\x50\x01\x05";
        assert!(is_ldap(abandon, b"", 389));
        assert!(!is_ldap(abandon, b"", 10389));
        assert!(!is_ldap(b"\x30\x0c\x02\x01", b"", 389));
    }
}
