//! The report model of identity enrichment (`--enrich probe`): where a
//! chain that the capture did not show came from, the client identity
//! inferred from a client pod's own listener, and the run's record of every
//! handshake made. A chain obtained this way is never an observation of the
//! captured connection: it is what the same endpoint presented to
//! tls-audit, later, and the report says so wherever it is used.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::x509::Certificate;

/// Enrichment facts of one TLS flow.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct TlsEnrichment {
    /// How `server_chain` was obtained, when it did not come off the wire;
    /// null when the capture showed it.
    #[serde(default)]
    pub server_chain_source: Option<ChainSource>,
    /// Why the server's chain could not be obtained (`unreachable`,
    /// `refused`, `timeout`, `no-certificate`, `over-limit`); null when it
    /// was, or was not needed.
    #[serde(default)]
    pub server_error: Option<String>,
    /// The client workload's identity, **inferred**: what the client pod's
    /// own TLS listener presents. Never the client's certificate on this
    /// connection (that is `client_chain`, empty here).
    #[serde(default)]
    pub client_identity: Option<InferredIdentity>,
}

/// Where an enriched chain came from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChainSource {
    /// `probe`: a handshake tls-audit made to the endpoint after the capture.
    pub source: String,
    /// When the handshake completed (RFC 3339).
    pub obtained_at: String,
    /// The endpoint asked, `ip:port`.
    pub endpoint: String,
    /// The server name sent (the captured ClientHello's), if any.
    pub sni: Option<String>,
    /// The ALPN protocols offered (the captured ClientHello's).
    pub alpn_offered: Vec<String>,
    /// The version the endpoint negotiated with tls-audit.
    pub version: Option<String>,
    /// Whether the leaf matches the one the same endpoint sent in cleartext
    /// (TLS ≤ 1.2) or decrypted flows of this capture; null when the
    /// capture has none to compare with.
    pub matches_wire: Option<bool>,
    /// Whether a second handshake got the same chain (null: it failed).
    /// A chain that changed between two handshakes is never attached.
    #[serde(default)]
    pub same_on_repeat: Option<bool>,
    /// Where the handshake came from: the host name of the machine (or,
    /// for a node agent, the node) that made it.
    #[serde(default)]
    pub vantage: String,
    /// IANA name of the suite the endpoint negotiated with tls-audit.
    #[serde(default)]
    pub cipher_suite: Option<String>,
    /// The endpoint asked tls-audit for a client certificate.
    #[serde(default)]
    pub client_cert_requested: bool,
}

/// An identity inferred for the client end of a flow.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InferredIdentity {
    /// Always `inferred`.
    pub evidence: String,
    /// How: `client-listener` (the chain the client's address serves on a
    /// TLS port seen in the capture, assuming one workload identity per
    /// pod, as meshes issue) or `declared-port` (the chain it serves on a
    /// port its pod declares, `--pods`, when the capture shows no listener).
    pub basis: String,
    /// The listener whose chain this is, with how it was obtained.
    pub source: ChainSource,
    /// Its certificates, leaf first.
    pub chain: Vec<Arc<Certificate>>,
}

/// The run's record of enrichment: every endpoint asked and what came back.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct EnrichmentRecord {
    /// `probe`.
    pub method: String,
    /// Where the handshakes came from (this host's name), so a reader can
    /// judge what that vantage point could reach.
    pub vantage: String,
    /// Flows whose server chain was filled in.
    pub flows_enriched: u64,
    /// Flows that needed it and did not get it (see `endpoints[].error`).
    pub flows_not_enriched: u64,
    /// Flows given an inferred client identity.
    pub client_identities: u64,
    /// Endpoints asked, in the order first needed.
    pub endpoints: Vec<EnrichedEndpoint>,
    /// Endpoints not asked because the run's limit was reached.
    pub endpoints_over_limit: u64,
}

/// One endpoint handshake.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct EnrichedEndpoint {
    /// `ip:port`.
    pub endpoint: String,
    /// The server name sent.
    pub sni: Option<String>,
    /// ALPN offered.
    pub alpn_offered: Vec<String>,
    /// When the attempt ended (RFC 3339).
    pub obtained_at: String,
    /// Negotiated version and suite.
    pub version: Option<String>,
    /// IANA name of the negotiated suite.
    pub cipher_suite: Option<String>,
    /// The chain's SHA-256 fingerprints, leaf first.
    pub chain_sha256: Vec<String>,
    /// The server asked tls-audit for a client certificate.
    pub client_cert_requested: bool,
    /// Whether a second handshake got the same chain (null: the first got
    /// none, or the second failed).
    #[serde(default)]
    pub same_on_repeat: Option<bool>,
    /// Captured flows this endpoint's chain was attached to (as their
    /// server, or as the inferred identity of their client).
    pub flows: u64,
    /// Why no chain: `unreachable`, `refused`, `timeout`, `no-certificate`,
    /// `unstable` (two handshakes, two chains), with the detail after a
    /// colon.
    pub error: Option<String>,
}

/// The endpoint table's columns in the human formats (Markdown, HTML).
pub const ENDPOINT_COLUMNS: [&str; 8] = [
    "endpoint",
    "sni",
    "obtained_at",
    "version",
    "leaf_sha256",
    "same_on_repeat",
    "flows",
    "error",
];

impl EnrichedEndpoint {
    /// The row of [`ENDPOINT_COLUMNS`], as text (not escaped).
    pub fn cells(&self) -> [String; 8] {
        let opt = |o: &Option<String>| o.clone().unwrap_or_default();
        [
            self.endpoint.clone(),
            opt(&self.sni),
            self.obtained_at.clone(),
            opt(&self.version),
            self.chain_sha256.first().cloned().unwrap_or_default(),
            match self.same_on_repeat {
                Some(true) => "yes".into(),
                Some(false) => "no: another chain".into(),
                None => String::new(),
            },
            self.flows.to_string(),
            opt(&self.error),
        ]
    }
}

impl EnrichmentRecord {
    /// One sentence for the human formats: what was done, from where, and
    /// that it is not an observation of the captured connections.
    pub fn summary(&self) -> String {
        format!(
            "Certificates the captured handshakes hid, obtained by {} handshakes from {}: \
             {} flows got their server's chain, {} did not; {} client identities inferred; \
             {} endpoints asked{}. These are what each endpoint presented to tls-audit, \
             not observations of the captured connections.",
            self.method,
            self.vantage,
            self.flows_enriched,
            self.flows_not_enriched,
            self.client_identities,
            self.endpoints.len(),
            if self.endpoints_over_limit > 0 {
                format!(", {} more over the limit", self.endpoints_over_limit)
            } else {
                String::new()
            },
        )
    }
}
