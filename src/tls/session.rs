//! The TLS state of one connection: both directions, what each handshake
//! message says, and when there is nothing more to learn.

use super::decrypt::{self, OpenError, RecordDecrypter};
use super::direction::{Direction, Event, Reply, Switch};
use super::hello::{ClientHello, ServerHello, ext};
use super::kex;
use super::keylog::KeyLog;
use super::messages;
use super::record::{RecordHeader, content_type};
use crate::x509::Certificate;
use std::sync::Arc;

/// Records of a TLS 1.3 client's encrypted flight kept as evidence.
const MAX_FLIGHT_RECORDS: usize = 8;
/// Alerts kept per connection.
const MAX_ALERTS: usize = 8;

/// Handshake message types (RFC 8446 §4 and RFC 5246 §7.4).
pub mod hs {
    /// client_hello
    pub const CLIENT_HELLO: u8 = 1;
    /// server_hello
    pub const SERVER_HELLO: u8 = 2;
    /// new_session_ticket
    pub const NEW_SESSION_TICKET: u8 = 4;
    /// encrypted_extensions (TLS 1.3)
    pub const ENCRYPTED_EXTENSIONS: u8 = 8;
    /// certificate
    pub const CERTIFICATE: u8 = 11;
    /// server_key_exchange
    pub const SERVER_KEY_EXCHANGE: u8 = 12;
    /// certificate_request
    pub const CERTIFICATE_REQUEST: u8 = 13;
    /// server_hello_done
    pub const SERVER_HELLO_DONE: u8 = 14;
    /// certificate_verify
    pub const CERTIFICATE_VERIFY: u8 = 15;
    /// client_key_exchange
    pub const CLIENT_KEY_EXCHANGE: u8 = 16;
    /// finished
    pub const FINISHED: u8 = 20;
    /// compressed_certificate (RFC 8879)
    pub const COMPRESSED_CERTIFICATE: u8 = 25;
}

/// One certificate of a chain: the DER as it came off the wire, or (once
/// the engine has read it) its facts, shared with every flow that sent it.
/// Reading early lets a long-lived flow drop the DER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainCert {
    /// Not read yet.
    Der(Vec<u8>),
    /// Read.
    Parsed(Arc<Certificate>),
}

/// A certificate chain as sent, leaf first.
pub type Chain = Vec<ChainCert>;

/// An alert seen in plaintext.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Alert {
    /// Sent by the client (`true`) or the server.
    pub from_client: Option<bool>,
    /// 1 warning, 2 fatal.
    pub level: u8,
    /// AlertDescription.
    pub description: u8,
}

/// Everything learnt from a connection's cleartext handshake.
#[derive(Debug, Default, Clone)]
pub struct TlsFacts {
    /// The first ClientHello.
    pub client_hello: Option<ClientHello>,
    /// The (last) ServerHello that was not a HelloRetryRequest.
    pub server_hello: Option<ServerHello>,
    /// A HelloRetryRequest was sent.
    pub hello_retry_request: bool,
    /// The HelloRetryRequest itself (it already names the version and suite).
    pub retry_request: Option<ServerHello>,
    /// The server's Certificate message (leaf first), if seen in cleartext.
    pub server_chain: Option<Chain>,
    /// The client's Certificate message, if seen in cleartext (may be empty).
    pub client_chain: Option<Chain>,
    /// The server sent a CertificateRequest in cleartext.
    pub certificate_request: bool,
    /// ChangeCipherSpec seen from the client / the server.
    pub ccs: [bool; 2],
    /// The server switched to ciphertext without sending a Certificate
    /// after its ServerHello (TLS ≤ 1.2 abbreviated handshake).
    pub abbreviated: bool,
    /// Alerts seen in cleartext.
    pub alerts: Vec<Alert>,
    /// Encrypted alert records seen (content type 21 after the switch).
    pub encrypted_alerts: u32,
    /// Lengths of the client's ciphertext records after the TLS 1.3 ServerHello.
    pub client_flight: Vec<u16>,
    /// Lengths of the server's ciphertext records after its TLS 1.3 ServerHello,
    /// up to the client's first encrypted record.
    pub server_flight: Vec<u16>,
    /// Application data records seen from client / server.
    pub app_records: [u32; 2],
    /// SHA-256 of the ticket of a cleartext (TLS ≤ 1.2) NewSessionTicket.
    pub issued_ticket: Option<[u8; 32]>,
    /// The server finished its TLS ≤ 1.2 flight (ServerHelloDone).
    pub server_hello_done: bool,
    /// A compressed certificate (RFC 8879) was seen.
    pub compressed_certificate: bool,
    /// A handshake message too large to reassemble: (type, length).
    pub oversized: Option<(u8, usize)>,
    /// Record-layer version of the first record seen (for mid-stream flows).
    pub record_version: Option<u16>,
    /// TLS 1.3 handshake decryption with a key log; None when no key log
    /// was given or the session is not TLS 1.3.
    pub decryption: Option<Decryption>,
    /// The ALPN protocol the server chose, from its (decrypted) TLS 1.3
    /// EncryptedExtensions.
    pub encrypted_alpn: Option<String>,
    /// The server's TLS ≤ 1.2 ServerKeyExchange, as far as it was read.
    pub server_key_exchange: Option<kex::ServerKeyExchange>,
    /// A ServerKeyExchange was sent (even one whose layout did not parse).
    pub server_key_exchange_seen: bool,
    /// The signature scheme of the server's CertificateVerify (TLS 1.3,
    /// read only when decrypted with a key log).
    pub server_certificate_verify: Option<u16>,
}

/// Early-data records a client may send before its handshake records
/// (they are protected by other keys and fail to open); skipped up to this.
const MAX_EARLY_DATA_RECORDS: u32 = 64;

/// How decrypting a TLS 1.3 handshake went.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Decryption {
    /// The key log had secrets for this connection's client random.
    pub keys_found: bool,
    /// The negotiated suite can be decrypted (not TLS_AES_128_CCM_*).
    pub suite_supported: bool,
    /// Which secrets were found: client, server.
    pub secrets: [bool; 2],
    /// Finished decrypted from the client / the server: that side's whole
    /// handshake flight was read.
    pub finished: [bool; 2],
    /// Handshake messages decrypted from the client / the server.
    pub messages: [u32; 2],
    /// The first failure: from the client (true) or server, and why.
    pub failed: Option<(bool, OpenError)>,
    /// Client records skipped as early data (0-RTT) before its handshake.
    pub early_data_skipped: u32,
    /// The version is a TLS 1.3 draft before 18, whose key schedule is not
    /// implemented: the handshake is not opened (not a failure).
    pub unsupported_draft: bool,
}

/// Parser state for one TLS connection.
#[derive(Debug, Default)]
pub struct TlsSession {
    dirs: [Direction; 2],
    /// Index of the client's direction, once known.
    client: Option<usize>,
    /// The learnt facts.
    pub facts: TlsFacts,
}

impl TlsSession {
    /// A session whose first bytes are the start of the streams.
    pub fn new(client: Option<usize>) -> Self {
        TlsSession {
            client,
            ..Self::default()
        }
    }

    /// A session picked up mid-stream: both directions look for a record boundary.
    pub fn mid_stream(client: Option<usize>) -> Self {
        TlsSession {
            dirs: [Direction::resyncing(), Direction::resyncing()],
            client,
            facts: TlsFacts::default(),
        }
    }

    /// The client's direction index, once known.
    pub fn client_dir(&self) -> Option<usize> {
        self.client
    }

    /// Whether direction `d` stopped looking like TLS.
    pub fn is_broken(&self, d: usize) -> bool {
        let [first, second] = &self.dirs;
        if d & 1 == 0 { first } else { second }.is_broken()
    }

    /// Feed stream bytes of direction `d` (0 or 1). `keys` opens TLS 1.3
    /// handshakes whose secrets it holds (it may be empty).
    pub fn feed(&mut self, d: usize, data: &[u8], keys: &KeyLog) {
        let d = d & 1;
        let Self {
            dirs,
            client,
            facts,
        } = self;
        let [first, second] = dirs;
        let (this, that) = if d == 0 {
            (first, second)
        } else {
            (second, first)
        };
        let mut other: Reply = None;
        let mut ctx = Ctx {
            facts,
            client,
            d,
            other: &mut other,
            keys,
        };
        this.feed(data, &mut |e| on_event(&mut ctx, e));
        that.apply(other);
    }

    /// The capture lost `n` bytes of direction `d`.
    pub fn gap(&mut self, d: usize, n: u64) {
        let [first, second] = &mut self.dirs;
        if d & 1 == 0 { first } else { second }.gap(n);
    }

    /// Bytes held in the parsing buffers of both directions.
    pub fn buffered(&self) -> usize {
        self.dirs.iter().map(Direction::buffered).sum()
    }

    /// Give back buffer memory once nothing more will be parsed.
    pub fn shrink(&mut self) {
        for d in &mut self.dirs {
            d.release();
        }
    }

    /// Nothing more will be learnt from the handshake: the caller may stop
    /// feeding and only count.
    pub fn is_decided(&self) -> bool {
        let f = &self.facts;
        if f.alerts.iter().any(|a| a.level == 2) {
            return true;
        }
        if self.dirs[0].is_broken() && self.dirs[1].is_broken() {
            return true;
        }
        match &f.server_hello {
            // SSL 2.0: its SERVER-HELLO is all there is to read.
            Some(sh) if sh.version == 0x0002 => true,
            // Decrypting: until both Finished are read, or the keys fail.
            Some(sh) if sh.is_tls13() && f.decryption.as_ref().is_some_and(Decryption::active) => {
                false
            }
            Some(sh) if sh.is_tls13() => super::mtls::flight_settled(f),
            Some(_) => f.ccs[0] && f.ccs[1] || (f.app_records[0] > 0 && f.app_records[1] > 0),
            // Mid-stream: seeing ciphertext both ways is all there is to see.
            None => f.client_hello.is_none() && f.app_records[0] > 0 && f.app_records[1] > 0,
        }
    }
}

impl Decryption {
    /// Still opening records: keys for a supported suite, a Finished to come
    /// from a side whose secret is known, and no failure yet.
    pub fn active(&self) -> bool {
        self.keys_found
            && self.suite_supported
            && !self.unsupported_draft
            && self.failed.is_none()
            && self
                .secrets
                .iter()
                .zip(&self.finished)
                .any(|(&secret, &finished)| secret && !finished)
    }
}

/// What event handling works on: the facts, the roles, the direction being
/// fed, what to ask of the other direction, and the key log.
struct Ctx<'a> {
    facts: &'a mut TlsFacts,
    client: &'a mut Option<usize>,
    d: usize,
    other: &'a mut Reply,
    keys: &'a KeyLog,
}

/// Handle one event of the direction being fed; the reply switches that
/// direction's record protection.
fn on_event(ctx: &mut Ctx<'_>, e: Event<'_>) -> Reply {
    let d = ctx.d;
    let from_client = ctx.client.map(|c| c == d);
    let facts = &mut *ctx.facts;
    match e {
        Event::Record(h, encrypted) => {
            on_record(facts, from_client, h, encrypted);
            None
        }
        Event::Sslv2Hello(1, msg) => {
            if facts.client_hello.is_none() {
                facts.client_hello = ClientHello::parse_sslv2(msg);
                ctx.client.get_or_insert(d);
            }
            None
        }
        Event::Sslv2Hello(_, msg) => {
            ctx.client.get_or_insert(d ^ 1);
            if facts.server_hello.is_none() {
                let (sh, cert) = super::hello::parse_sslv2_server_hello(msg);
                facts.server_hello = Some(sh);
                if let Some(cert) = cert {
                    facts.server_chain = Some(vec![ChainCert::Der(cert)]);
                }
            }
            None
        }
        Event::Handshake(t, body) => on_handshake(ctx, t, body),
        Event::ChangeCipherSpec => on_change_cipher_spec(facts, from_client == Some(true)),
        Event::Alert(level, description) => {
            if facts.alerts.len() < MAX_ALERTS {
                facts.alerts.push(Alert {
                    from_client,
                    level,
                    description,
                });
            }
            None
        }
        Event::Oversized(t, len) => {
            facts.oversized = Some((t, len));
            None
        }
        Event::NotTls => None,
        Event::DecryptFailed(why) => decrypt_failed(facts, from_client == Some(true), why),
    }
}

/// Whether the connection's ServerHello says TLS 1.3.
fn is_tls13(facts: &TlsFacts) -> bool {
    facts
        .server_hello
        .as_ref()
        .is_some_and(ServerHello::is_tls13)
}

/// A record header: its version, the count of application data records
/// per side, the sizes of a TLS 1.3 flight's encrypted records (the
/// client's, and the server's before the client's first), and the
/// encrypted alerts.
fn on_record(facts: &mut TlsFacts, from_client: Option<bool>, h: RecordHeader, encrypted: bool) {
    facts.record_version.get_or_insert(h.version);
    if h.content_type == content_type::APPLICATION_DATA
        || (encrypted && h.content_type == content_type::HANDSHAKE)
    {
        if h.content_type == content_type::APPLICATION_DATA {
            let count = of_side(&mut facts.app_records, from_client == Some(false));
            *count = count.saturating_add(1);
        }
        if is_tls13(facts) {
            if from_client == Some(true) {
                if facts.client_flight.len() < MAX_FLIGHT_RECORDS {
                    facts.client_flight.push(h.len);
                }
            } else if facts.client_flight.is_empty()
                && facts.server_flight.len() < MAX_FLIGHT_RECORDS
            {
                facts.server_flight.push(h.len);
            }
        }
    } else if encrypted && h.content_type == content_type::ALERT {
        facts.encrypted_alerts = facts.encrypted_alerts.saturating_add(1);
    }
}

/// A cleartext ChangeCipherSpec: that side's records are ciphertext from
/// here on (before TLS 1.3), and a server's may mark the handshake as
/// abbreviated.
fn on_change_cipher_spec(facts: &mut TlsFacts, is_client: bool) -> Reply {
    let tls13 = is_tls13(facts);
    *of_side(&mut facts.ccs, !is_client) = true;
    // Abbreviated: the server's flight ended in its ChangeCipherSpec with no
    // Certificate and no ServerHelloDone. A full handshake without a
    // Certificate (PSK, anonymous suites) still sends ServerHelloDone.
    if !is_client
        && facts.server_hello.is_some()
        && facts.server_chain.is_none()
        && !facts.server_hello_done
        && !tls13
    {
        facts.abbreviated = true;
    }
    // A TLS 1.3 middlebox-compatibility CCS changes nothing, nor does one
    // before the ServerHello (it follows a HelloRetryRequest).
    (facts.server_hello.is_some() && !tls13).then_some(Switch::Encrypted(true))
}

/// A record did not open. Early data (0-RTT) comes before a client's
/// handshake records under other keys: skip it. Anything else means the
/// keys do not fit this connection or the bytes were changed: stop, and
/// keep the failure as evidence.
fn decrypt_failed(facts: &mut TlsFacts, from_client: bool, why: OpenError) -> Reply {
    let early_data_offered = facts
        .client_hello
        .as_ref()
        .is_some_and(|ch| ch.extensions.contains(&ext::EARLY_DATA));
    let dec = facts.decryption.get_or_insert_with(Decryption::default);
    if from_client
        && early_data_offered
        && dec.messages[0] == 0
        && dec.early_data_skipped < MAX_EARLY_DATA_RECORDS
    {
        dec.early_data_skipped = dec.early_data_skipped.saturating_add(1);
        return None;
    }
    dec.failed.get_or_insert((from_client, why));
    Some(Switch::StopDecrypting)
}

/// The first (client's) or the second (server's) of a per-side pair.
fn of_side<T>(pair: &mut [T; 2], second: bool) -> &mut T {
    let [first, other] = pair;
    if second { other } else { first }
}

/// At a TLS 1.3 ServerHello: keys for both directions, if the key log has
/// this connection's secrets. Returns (server direction, client direction).
fn handshake_keys(facts: &mut TlsFacts, sh: &ServerHello, keys: &KeyLog) -> (Switch, Switch) {
    let plain = || (Switch::Encrypted(true), Switch::Encrypted(true));
    if keys.is_empty() {
        return plain();
    }
    let secrets = facts
        .client_hello
        .as_ref()
        .and_then(|ch| keys.get(&ch.random));
    let protection = decrypt::Protection::of_version(sh.version);
    let mut dec = Decryption {
        keys_found: secrets.is_some(),
        suite_supported: decrypt::supported(sh.cipher_suite),
        unsupported_draft: protection.is_none(),
        ..Decryption::default()
    };
    let open = |secret: &Option<Vec<u8>>| {
        let p = protection?;
        secret
            .as_deref()
            .and_then(|s| RecordDecrypter::with_protection(p, sh.cipher_suite, s))
    };
    let (client, server) = match secrets {
        Some(s) if dec.suite_supported && !dec.unsupported_draft => {
            let (c, sv) = (open(&s.client), open(&s.server));
            // A secret of the wrong length for the suite's hash cannot be
            // this connection's: the keys do not fit.
            if s.client.is_some() && c.is_none() {
                dec.failed = Some((true, OpenError::Authentication));
            } else if s.server.is_some() && sv.is_none() {
                dec.failed = Some((false, OpenError::Authentication));
            }
            (c, sv)
        }
        _ => (None, None),
    };
    dec.secrets = [client.is_some(), server.is_some()];
    facts.decryption = Some(dec);
    let switch = |d: Option<RecordDecrypter>| {
        d.map_or(Switch::Encrypted(true), |d| Switch::Decrypt(Box::new(d)))
    };
    (switch(server), switch(client))
}

/// The protocol in an EncryptedExtensions' ALPN extension (RFC 7301: the
/// server names exactly one).
fn alpn_of_encrypted_extensions(body: &[u8]) -> Option<String> {
    let mut r = super::wire::Reader::new(body);
    let mut exts = super::wire::Reader::new(r.vec16()?);
    while !exts.is_empty() {
        let kind = exts.u16()?;
        let data = exts.vec16()?;
        if kind == ext::ALPN {
            let mut list = super::wire::Reader::new(super::wire::Reader::new(data).vec16()?);
            let name = list.vec8()?;
            return Some(String::from_utf8_lossy(name).into_owned());
        }
    }
    None
}

/// Handle one complete handshake message of the direction being fed.
fn on_handshake(ctx: &mut Ctx<'_>, t: u8, body: &[u8]) -> Reply {
    count_decrypted(ctx);
    let d = ctx.d;
    let from_client = *ctx.client == Some(d);
    let facts = &mut *ctx.facts;
    match t {
        hs::CLIENT_HELLO => {
            if facts.client_hello.is_none() {
                facts.client_hello = ClientHello::parse(body);
            }
            ctx.client.get_or_insert(d);
            None
        }
        hs::SERVER_HELLO => on_server_hello(ctx, body),
        hs::CERTIFICATE => {
            on_certificate(facts, from_client, body);
            None
        }
        hs::CERTIFICATE_REQUEST => {
            facts.certificate_request = true;
            None
        }
        hs::SERVER_KEY_EXCHANGE if !from_client => {
            facts.server_key_exchange_seen = true;
            if let Some(sh) = facts.server_hello.as_ref() {
                let suite = kex::SuiteKex::of_suite(sh.cipher_suite);
                facts.server_key_exchange =
                    kex::parse_server_key_exchange(body, suite, sh.version >= 0x0303);
            }
            None
        }
        hs::CERTIFICATE_VERIFY if !from_client => {
            if facts.server_certificate_verify.is_none() {
                facts.server_certificate_verify = kex::certificate_verify_scheme(body);
            }
            None
        }
        hs::NEW_SESSION_TICKET => {
            if let Some(t) = issued_ticket(body) {
                facts.issued_ticket = Some(super::hello::digest(t));
            }
            None
        }
        hs::SERVER_HELLO_DONE => {
            facts.server_hello_done = true;
            None
        }
        hs::COMPRESSED_CERTIFICATE => {
            facts.compressed_certificate = true;
            None
        }
        // The server's; Chrome sends its own (ALPS, with no ALPN in it).
        hs::ENCRYPTED_EXTENSIONS if !from_client => {
            facts.encrypted_alpn = alpn_of_encrypted_extensions(body);
            None
        }
        hs::FINISHED => {
            // Seen only when decrypted: that side's flight is complete.
            let dec = facts.decryption.as_mut()?;
            *of_side(&mut dec.finished, !from_client) = true;
            Some(Switch::StopDecrypting)
        }
        _ => None,
    }
}

/// Count a decrypted handshake message for its side: only decrypted
/// messages arrive once a TLS 1.3 session has keys.
fn count_decrypted(ctx: &mut Ctx<'_>) {
    if let Some(dec) = ctx.facts.decryption.as_mut()
        && dec.keys_found
        && ctx.client.is_some()
    {
        let count = of_side(&mut dec.messages, *ctx.client != Some(ctx.d));
        *count = count.saturating_add(1);
    }
}

/// A ServerHello (its sender is the server). A HelloRetryRequest is kept
/// aside; a TLS 1.3 one turns both directions to ciphertext, opened where
/// the key log has the secrets.
fn on_server_hello(ctx: &mut Ctx<'_>, body: &[u8]) -> Reply {
    let sh = ServerHello::parse(body)?;
    ctx.client.get_or_insert(ctx.d ^ 1);
    let facts = &mut *ctx.facts;
    if sh.is_hrr {
        facts.hello_retry_request = true;
        facts.retry_request.get_or_insert(sh);
        return None;
    }
    if !sh.is_tls13() {
        facts.server_hello = Some(sh);
        return None;
    }
    // Everything after the ServerHello is encrypted, both ways.
    let (server, client_side) = handshake_keys(facts, &sh, ctx.keys);
    facts.server_hello = Some(sh);
    *ctx.other = Some(client_side);
    Some(server)
}

/// A Certificate message: the first one of each side is its chain (empty
/// when the message holds none or does not parse).
fn on_certificate(facts: &mut TlsFacts, from_client: bool, body: &[u8]) {
    let chain = if is_tls13(facts) {
        messages::certificate_tls13(body)
    } else {
        messages::certificate_tls12(body)
    };
    let slot = if from_client {
        &mut facts.client_chain
    } else {
        &mut facts.server_chain
    };
    if slot.is_none() {
        *slot = Some(
            chain
                .unwrap_or_default()
                .into_iter()
                .map(ChainCert::Der)
                .collect(),
        );
    }
}

/// The ticket of a TLS ≤ 1.2 NewSessionTicket (RFC 5077: lifetime hint,
/// then the ticket), if not empty.
fn issued_ticket(body: &[u8]) -> Option<&[u8]> {
    let b = body.get(4..)?;
    let n = usize::from(u16::from_be_bytes([*b.first()?, *b.get(1)?]));
    b.get(2..2 + n).filter(|t| !t.is_empty())
}

/// True when the ClientHello offered a PSK or early data (resumption attempts).
pub fn offered_resumption(ch: &ClientHello) -> bool {
    ch.extensions.contains(&ext::PRE_SHARED_KEY) || ch.extensions.contains(&ext::EARLY_DATA)
}

#[cfg(test)]
mod tests;

// TLS 1.3 decryption through the whole session, on records sealed here.
#[cfg(test)]
mod decryption_tests;
