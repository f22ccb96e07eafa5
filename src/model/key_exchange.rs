//! The flow's `tls.key_exchange` object: how the session keys were made,
//! read from the cleartext handshake (see `tls::kex` for the parsing).
//! Field names are part of `tls-audit/report/v1`; the JSON Schema in
//! `reports/report-v1.schema.json` describes the same.

use serde::{Deserialize, Serialize};

use super::Name;

/// Key-exchange facts of one TLS flow.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, Hash)]
pub struct KeyExchangeRecord {
    /// How the keys were made: `ecdhe`, `dhe` (finite field), `hybrid`
    /// (classical ECDH + ML-KEM), `kem` (ML-KEM alone), `rsa` (RSA key
    /// transport), `static-dh` (static (EC)DH from the certificate), `psk`
    /// (pre-shared key alone), `other` (SRP, KRB5...); null when unknown.
    pub method: Option<Name>,
    /// The negotiated group: IANA name (`X25519MLKEM768`, `x25519`,
    /// `secp256r1`, `ffdhe2048`...), `0xNNNN` if unregistered; null for
    /// custom DHE parameters, RSA key transport, or when not seen.
    pub group: Option<Name>,
    /// Its code point (as tshark prints it).
    pub group_id: Option<u16>,
    /// `ec`, `ff`, `hybrid`, `pq` or `unknown`.
    pub group_kind: Option<Name>,
    /// Size in bits of the classical part: the curve's (X25519 counts as
    /// 256) or the DHE prime's.
    pub group_bits: Option<u32>,
    /// Where the group was read: `server-hello` (TLS 1.3 key_share),
    /// `hello-retry-request` (only the HRR's selected group was seen),
    /// `server-key-exchange` (TLS ≤ 1.2), `resumed-session` (a resumed
    /// TLS ≤ 1.2 session: the group of the full handshake it resumes, in
    /// the same capture).
    pub group_source: Option<Name>,
    /// The ServerKeyExchange sent its curve explicitly (not a named curve).
    pub explicit_curve: bool,
    /// The key exchange resists a quantum adversary (ML-KEM, alone or
    /// hybrid); null when the method or group is unknown.
    pub post_quantum: Option<bool>,
    /// The session keys do not follow from a long-term key (ephemeral
    /// (EC)DH or KEM); false for RSA key transport, static DH and PSK-only
    /// resumption; null when unknown.
    pub forward_secrecy: Option<bool>,
    /// Why `method`/`forward_secrecy` are null: `handshake-not-seen`,
    /// `server-hello-not-seen`, `server-key-exchange-not-seen`,
    /// `server-key-exchange-unparsed`, `server-hello-without-key-share`,
    /// `resumed` (an abbreviated TLS ≤ 1.2 handshake: the group is the
    /// original handshake's), `unknown-cipher-suite`, `sslv2`.
    pub unknown_reason: Option<Name>,
    /// The server's signature scheme over the key exchange (TLS 1.2
    /// ServerKeyExchange) or the handshake (TLS 1.3 CertificateVerify, read
    /// with a key log); null when not on the wire in cleartext.
    pub signature_scheme: Option<Name>,
    /// `server-key-exchange` or `certificate-verify`.
    pub signature_source: Option<Name>,
    /// The group a HelloRetryRequest asked the client for.
    pub hello_retry_group: Option<Name>,
    /// The client's supported_groups, in its order (GREASE left out).
    pub groups_offered: Vec<Name>,
    /// The groups of the client's key shares (GREASE left out).
    pub key_shares_offered: Vec<Name>,
    /// The client offered a post-quantum group; null when no ClientHello
    /// was seen.
    pub pq_offered: Option<bool>,
    /// The client sent an encrypted_client_hello extension. GREASE ECH and
    /// real ECH look the same on the wire by design, so this says offered,
    /// not used.
    pub ech_offered: Option<bool>,
    /// ECH accepted: true when the HelloRetryRequest confirms it; otherwise
    /// null (acceptance is signalled in a way only the keys can check).
    pub ech_accepted: Option<bool>,
}

impl KeyExchangeRecord {
    /// The client offered a post-quantum group and the server chose a
    /// classical one: a server that blocks a post-quantum migration.
    pub fn pq_declined_by_server(&self) -> bool {
        self.pq_offered == Some(true) && self.post_quantum == Some(false)
    }
}
