//! Naming cleartext protocols cheaply, and spotting in-band upgrades to TLS.
//!
//! A flow that is not TLS from its first byte is either plaintext or about to
//! upgrade (SMTP STARTTLS, Postgres SSLRequest, ...). [`detect`] names the
//! protocol from the first bytes of each direction; [`upgrade_requested`] says
//! whether the client asked for TLS on the same connection, so the caller
//! expects a ClientHello next rather than reporting plaintext.
//!
//! Content decides, ports only break ties: pods run anything on any port,
//! plaintext HTTP on 443 included. Each detector looks at fixed prefixes or a
//! bounded window, so the cost is linear in the (few KiB) input and nothing is
//! allocated. Answers are meant to be final: they do not change as more of the
//! stream arrives (the tests check every prefix of real captures), so a caller
//! may stop at the first `Some`. Only a port tie-break could in principle be
//! contradicted by later bytes (say an FTP server on port 587 whose banner
//! does not say FTP, named SMTP before the client's `USER` arrives).
//!
//! Not recognised: protocols outside [`AppProtocol`], streams picked up
//! mid-connection, HTTP/2 whose client stream ends before the first request's
//! headers are complete, and a gRPC content-type split across two frames.
// Hostile input: no indexing or slicing, no arithmetic that can overflow
// (unwrap, expect and panic are denied crate-wide in Cargo.toml).
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)
)]

mod database;
mod dns;
mod http;
mod ldap;
mod scan;
mod text;

#[cfg(test)]
mod tests;

/// A cleartext application protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AppProtocol {
    /// HTTP/1.0 or 1.1, including CONNECT to a proxy.
    Http1,
    /// HTTP/2 with prior knowledge (h2c); HTTP/2 over TLS is the `tls` module's.
    Http2,
    /// gRPC over h2c (content-type `application/grpc...`).
    Grpc,
    /// PostgreSQL frontend/backend protocol 3.x.
    Postgres,
    /// MySQL or MariaDB client/server protocol.
    Mysql,
    /// Redis RESP.
    Redis,
    /// DNS (over TCP with its length prefix, or a UDP datagram).
    Dns,
    /// SMTP, ESMTP or LMTP.
    Smtp,
    /// IMAP4.
    Imap,
    /// POP3.
    Pop3,
    /// FTP control channel.
    Ftp,
    /// LDAP (BER-encoded LDAPMessage).
    Ldap,
    /// XMPP client-to-server or server-to-server stream.
    Xmpp,
    /// SSH 2 (or 1.99).
    Ssh,
}

impl AppProtocol {
    /// Stable lower-case name, as used in reports (ALPN-style where one exists).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http1 => "http/1.1",
            Self::Http2 => "h2",
            Self::Grpc => "grpc",
            Self::Postgres => "postgres",
            Self::Mysql => "mysql",
            Self::Redis => "redis",
            Self::Dns => "dns",
            Self::Smtp => "smtp",
            Self::Imap => "imap",
            Self::Pop3 => "pop3",
            Self::Ftp => "ftp",
            Self::Ldap => "ldap",
            Self::Xmpp => "xmpp",
            Self::Ssh => "ssh",
        }
    }
}

/// Name the protocol from the first bytes each side sent (either may be empty) and the server port.
/// `client` and `server` are the in-order stream prefixes (up to a few KiB), possibly cut mid-message.
///
/// None when nothing matches yet. A client that opens with a TLS record is
/// None whatever the server answered (a plaintext server's `400 Bad Request`
/// to a ClientHello is a TLS failure, not HTTP).
pub fn detect(client: &[u8], server: &[u8], server_port: u16) -> Option<AppProtocol> {
    if let [0x16, 0x03, 0x00..=0x04, ..] = client {
        return None;
    }
    if client.starts_with(http::PREFACE) {
        return http::h2c(client);
    }
    // Signatures first: each is unambiguous in the first bytes of one side.
    let signature = if http::is_http1(client, server) {
        Some(AppProtocol::Http1)
    } else if text::is_ssh(client, server) {
        Some(AppProtocol::Ssh)
    } else if database::is_postgres(client) {
        Some(AppProtocol::Postgres)
    } else if database::is_mysql_greeting(server) || database::mysql_ssl_request(client) {
        Some(AppProtocol::Mysql)
    } else if database::is_redis(client, server) {
        Some(AppProtocol::Redis)
    } else if text::is_xmpp(client, server, server_port) {
        Some(AppProtocol::Xmpp)
    } else if ldap::is_ldap(client, server, server_port) {
        Some(AppProtocol::Ldap)
    } else if dns::is_dns(client, server, server_port) {
        Some(AppProtocol::Dns)
    } else {
        None
    };
    // Then greetings shared by several protocols, where the banner text, the
    // other side or the port decides; last, a client-only capture may still
    // show an upgrade command (IMAP, POP3 and FTP are otherwise named by the server).
    signature
        .or_else(|| text::mail_or_ftp(client, server, server_port))
        .or_else(|| database::bare_ok(server, server_port))
        .or_else(|| text::command_upgrade(client))
}

/// Is this a STARTTLS-style upgrade request the client sent, so that TLS is expected to follow on the same connection?
/// (SMTP/IMAP/POP3 STARTTLS/STLS, FTP "AUTH TLS", XMPP <starttls, LDAP StartTLS extended request OID 1.3.6.1.4.1.1466.20037,
/// Postgres SSLRequest (8 bytes: len 8, code 80877103) and GSSENCRequest, MySQL SSLRequest (capability flag CLIENT_SSL 0x0800 in the 32-byte handshake response)).
///
/// Only the request is seen here: the server may still refuse it (Postgres
/// `N`, SMTP `454`), and an accepted Postgres GSSENCRequest leads to GSSAPI
/// encryption rather than TLS. Text commands count only as complete lines
/// after the commands that legitimately precede them (EHLO, CAPA, FEAT, ...).
pub fn upgrade_requested(client: &[u8]) -> Option<AppProtocol> {
    if database::postgres_upgrade(client) {
        Some(AppProtocol::Postgres)
    } else if database::mysql_ssl_request(client) {
        Some(AppProtocol::Mysql)
    } else if ldap::starttls(client) {
        Some(AppProtocol::Ldap)
    } else if text::xmpp_starttls(client) {
        Some(AppProtocol::Xmpp)
    } else {
        text::command_upgrade(client)
    }
}
