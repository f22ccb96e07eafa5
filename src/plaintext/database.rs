//! PostgreSQL, MySQL/MariaDB and Redis: the binary (or RESP) openings.

use super::AppProtocol;
use super::scan::digits;

/// Postgres request codes sent in place of a protocol version (`pqcomm.h`).
const PG_CANCEL_REQUEST: u32 = 80_877_102;
const PG_SSL_REQUEST: u32 = 80_877_103;
const PG_GSSENC_REQUEST: u32 = 80_877_104;
/// Protocol 3.x; 3.0 is 196608, Postgres 18 adds 3.2.
const PG_MAJOR_3: u32 = 3;
/// The server rejects longer startup packets (`MAX_STARTUP_PACKET_LENGTH`).
const PG_MAX_STARTUP_LEN: u32 = 10_000;

/// MySQL capability flags (`include/mysql_com.h`).
const CLIENT_PROTOCOL_41: u32 = 0x0200;
const CLIENT_SSL: u32 = 0x0800;
/// An SSLRequest is the first 32 bytes of HandshakeResponse41: capabilities,
/// max packet size, character set and 23 zero bytes (MariaDB uses the last 4
/// for its extended capabilities, so only 19 are checked).
const MYSQL_SSL_REQUEST_LEN: u8 = 32;
/// Longest server version string we accept in a greeting (`5.5.5-10.6.12-MariaDB-...`).
const MYSQL_MAX_VERSION_LEN: usize = 64;

/// The first Postgres message of a connection: StartupMessage (int32 length,
/// int32 version 3.x, NUL-terminated parameter pairs), SSLRequest,
/// GSSENCRequest or CancelRequest.
pub(super) fn is_postgres(client: &[u8]) -> bool {
    let Some((len, code, params)) = pg_first_message(client) else {
        return false;
    };
    match code {
        PG_SSL_REQUEST | PG_GSSENC_REQUEST => len == 8,
        PG_CANCEL_REQUEST => len == 16,
        // Parameter names are lowercase identifiers (`user`, `database`, `_pq_.x`).
        _ => {
            code >> 16 == PG_MAJOR_3
                && (9..=PG_MAX_STARTUP_LEN).contains(&len)
                && params
                    .first()
                    .is_none_or(|&b| b.is_ascii_lowercase() || b == b'_')
        }
    }
}

/// SSLRequest or GSSENCRequest. GSSENC is asked for first by clients with
/// Kerberos credentials; what follows an accepted one is GSSAPI-wrapped, not TLS,
/// and a refused one is followed by an SSLRequest or a plain startup.
pub(super) fn postgres_upgrade(client: &[u8]) -> bool {
    matches!(
        pg_first_message(client),
        Some((8, PG_SSL_REQUEST | PG_GSSENC_REQUEST, _))
    )
}

fn pg_first_message(client: &[u8]) -> Option<(u32, u32, &[u8])> {
    let (len, rest) = client.split_first_chunk::<4>()?;
    let (code, params) = rest.split_first_chunk::<4>()?;
    Some((u32::from_be_bytes(*len), u32::from_be_bytes(*code), params))
}

/// HandshakeV10, the server's greeting: 3-byte length, sequence 0, protocol
/// version 10, then the server version as a NUL-terminated string starting
/// with a digit (`8.0.28`, `5.5.5-10.0.36-MariaDB-...`).
pub(super) fn is_mysql_greeting(server: &[u8]) -> bool {
    let Some((&[l0, l1, l2, sequence, protocol], rest)) = server.split_first_chunk::<5>() else {
        return false;
    };
    let len = usize::from(u16::from_le_bytes([l0, l1])) | usize::from(l2) << 16;
    let window = rest.get(..MYSQL_MAX_VERSION_LEN).unwrap_or(rest);
    let Some(version_len) = window.iter().position(|&b| b == 0) else {
        return false;
    };
    let version = window.get(..version_len).unwrap_or_default();
    sequence == 0
        && protocol == 10
        && version_len < len
        && version.first().is_some_and(u8::is_ascii_digit)
        && version.iter().all(|b| b.is_ascii_graphic())
}

/// A MySQL SSLRequest: packet 1 of exactly 32 bytes with CLIENT_SSL set.
pub(super) fn mysql_ssl_request(client: &[u8]) -> bool {
    let Some(([len, 0, 0, 1], body)) = client.split_first_chunk::<4>() else {
        return false;
    };
    let Some((caps, rest)) = body.split_first_chunk::<4>() else {
        return false;
    };
    let caps = u32::from_le_bytes(*caps);
    // rest: max packet size (4), character set (1), filler (23).
    *len == MYSQL_SSL_REQUEST_LEN
        && caps & (CLIENT_SSL | CLIENT_PROTOCOL_41) == CLIENT_SSL | CLIENT_PROTOCOL_41
        && rest
            .get(5..24)
            .is_some_and(|filler| filler.iter().all(|&b| b == 0))
}

/// Redis. Clients send every command as a RESP array of bulk strings
/// (`*<count>\r\n$<len>\r\n...`), which nothing else on the list does. Server
/// replies alone are mostly too generic (`+OK`, `-ERR` are POP3's too), except
/// the few below; a bare `+OK\r\n` is left to the port (see `detect`).
pub(super) fn is_redis(client: &[u8], server: &[u8]) -> bool {
    let command = client
        .strip_prefix(b"*")
        .and_then(|rest| digits(rest, 6))
        .and_then(|rest| rest.strip_prefix(b"\r\n$"))
        .is_some_and(|rest| rest.first().is_some_and(u8::is_ascii_digit));
    let reply = [&b"+PONG\r\n"[..], b"-NOAUTH ", b"-WRONGPASS "]
        .iter()
        .any(|r| server.starts_with(r));
    command || reply
}

/// Which protocol a bare `+OK\r\n` server reply belongs to, by port.
pub(super) fn bare_ok(server: &[u8], server_port: u16) -> Option<AppProtocol> {
    match (server.starts_with(b"+OK\r\n"), server_port) {
        (true, 6379) => Some(AppProtocol::Redis),
        (true, 110) => Some(AppProtocol::Pop3),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_requests() {
        assert!(is_postgres(b"\x00\x00\x00\x08\x04\xd2\x16\x30")); // GSSENCRequest
        assert!(postgres_upgrade(b"\x00\x00\x00\x08\x04\xd2\x16\x30"));
        let cancel = b"\x00\x00\x00\x10\x04\xd2\x16\x2e\x00\x00\x1f\x40\x12\x34\x56\x78";
        assert!(is_postgres(cancel) && !postgres_upgrade(cancel));
        // Protocol 3.2 (Postgres 18) startup.
        assert!(is_postgres(
            b"\x00\x00\x00\x17\x00\x03\x00\x02user\x00bob\x00\x00"
        ));
        assert!(!is_postgres(
            b"\x00\x00\x00\x17\x00\x02\x00\x00user\x00bob\x00\x00"
        ));
        assert!(!is_postgres(
            b"\x00\x00\x00\x17\x00\x03\x00\x00USER\x00bob\x00\x00"
        ));
        assert!(!is_postgres(b"\x00\x01\x00\x00\x00\x03\x00\x00user"));
        assert!(!is_postgres(b"\x00\x00\x00\x09\x04\xd2\x16\x2f\x00"));
    }

    #[test]
    fn mysql_ssl_request_shape() {
        let mut request = b"\x20\x00\x00\x01\x85\xae\xff\x20\x00\x00\x00\x01\x21".to_vec();
        request.extend([0; 23]);
        assert!(mysql_ssl_request(&request));
        let mut no_ssl = request.clone();
        no_ssl[5] &= !0x08;
        assert!(!mysql_ssl_request(&no_ssl));
        let mut long = request.clone();
        long[0] = 0x60; // a full HandshakeResponse41 (login), not an SSLRequest
        assert!(!mysql_ssl_request(&long));
        assert!(!mysql_ssl_request(&request[..30]));
    }

    #[test]
    fn mysql_greeting_needs_a_terminated_version() {
        assert!(is_mysql_greeting(b"\x4a\x00\x00\x00\x0a8.0.28\x00\x13\x00"));
        assert!(!is_mysql_greeting(b"\x4a\x00\x00\x00\x0a8.0.28"));
        assert!(!is_mysql_greeting(b"\x4a\x00\x00\x01\x0a8.0.28\x00"));
        assert!(!is_mysql_greeting(b"\x4a\x00\x00\x00\x098.0.28\x00"));
        assert!(!is_mysql_greeting(b"\x04\x00\x00\x00\x0a8.0.28\x00"));
        assert!(!is_mysql_greeting(b"\x4a\x00\x00\x00\x0a\x00"));
        assert!(!is_mysql_greeting(b"\x4a\x00\x00\x00\x0av8\x00"));
    }

    #[test]
    fn redis_commands_and_replies() {
        assert!(is_redis(b"*1\r\n$4\r\nPING\r\n", b""));
        assert!(is_redis(b"", b"-NOAUTH Authentication required.\r\n"));
        assert!(!is_redis(b"*\r\n$4\r\n", b""));
        assert!(!is_redis(b"*1\r\n+OK", b"+OK\r\n"));
        assert_eq!(bare_ok(b"+OK\r\n", 6379), Some(AppProtocol::Redis));
        assert_eq!(bare_ok(b"+OK\r\n", 110), Some(AppProtocol::Pop3));
        assert_eq!(bare_ok(b"+OK\r\n", 8080), None);
        assert_eq!(bare_ok(b"+OK POP3 ready\r\n", 6379), None);
    }
}
