//! TLS from the wire: record framing, handshake messages, and what a
//! connection's cleartext handshake reveals (version, cipher, SNI, ALPN,
//! certificates, client authentication, resumption, JA4).
//!
//! tls-parser supplies the IANA cipher-suite registry; the message parsers
//! are our own because each must be bounded, streaming and forgiving of a
//! damaged extension (see `hello`), and because tls-parser 0.12 misreads the
//! TLS 1.3 Certificate layout (see `messages`).
//!
//! With a key log (`keylog`), TLS 1.3 handshake records are opened
//! (`decrypt`) and read like cleartext ones; application data never is.
// Hostile input: no indexing or slicing, no arithmetic that can overflow
// (unwrap, expect and panic are denied crate-wide in Cargo.toml).
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)
)]

pub mod decrypt;
mod direction;
pub mod hello;
pub mod ja4;
pub mod kex;
pub mod keylog;
pub mod messages;
pub mod mtls;
pub mod names;
pub mod record;
pub mod session;
mod wire;

pub use hello::{ClientHello, ServerHello};
pub use keylog::KeyLog;
pub use session::{Chain, ChainCert, TlsFacts, TlsSession};
