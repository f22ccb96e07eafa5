//! The crypto inventory section of a report: each distinct configuration
//! and certificate in use (built by `report::inventory`).

use serde::{Deserialize, Serialize};

/// The inventory of one report.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CryptoInventory {
    /// TLS flows counted (flows with `protection: tls` over TCP).
    pub tls_flows: u64,
    /// Of those, flows whose key exchange was post-quantum (ML-KEM,
    /// hybrid or alone).
    pub post_quantum_flows: u64,
    /// Flows whose key exchange was classical only.
    pub classical_flows: u64,
    /// Flows whose key exchange could not be read (mid-stream, no ServerHello).
    pub unknown_key_exchange_flows: u64,
    /// Flows without forward secrecy (RSA key transport, static DH, PSK only).
    pub no_forward_secrecy_flows: u64,
    /// Distinct configurations in use, most flows first.
    pub configurations: Vec<CryptoUse>,
    /// Distinct certificates seen, by subject.
    pub certificates: Vec<CertificateUse>,
    /// Flows of configurations beyond `report::inventory::MAX_CONFIGURATIONS` (counted only).
    pub flows_not_inventoried: u64,
    /// Certificates beyond `report::inventory::MAX_CERTIFICATES` (counted only).
    pub certificates_not_inventoried: u64,
}

/// One distinct cryptographic configuration in use.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct CryptoUse {
    /// Negotiated protocol version (`TLS1.3`...); null when not seen.
    pub version: Option<String>,
    /// IANA cipher-suite name.
    pub cipher_suite: Option<String>,
    /// Key-exchange group (IANA name); for DHE with custom parameters
    /// `dhe-<bits>`; `rsa` for RSA key transport; null when not seen.
    pub key_exchange: Option<String>,
    /// The key exchange is post-quantum.
    pub post_quantum: Option<bool>,
    /// The key exchange has forward secrecy.
    pub forward_secrecy: Option<bool>,
    /// The server's signature scheme (TLS 1.2 ServerKeyExchange, TLS 1.3
    /// CertificateVerify with a key log).
    pub signature_scheme: Option<String>,
    /// The server certificate's key: `RSA 2048`, `EC P-256`, `Ed25519`.
    pub certificate_key: Option<String>,
    /// The server certificate's signature algorithm.
    pub certificate_signature: Option<String>,
    /// What the wire did not show: `certificates-encrypted` (TLS 1.3
    /// without a key log), `key-exchange-<reason>`; empty when complete.
    pub unknown: Vec<String>,
    /// Flows using it.
    pub flows: u64,
    /// First packet of the first flow (RFC 3339).
    pub first_seen: super::time::CaptureTime,
    /// Last packet of the last flow.
    pub last_seen: super::time::CaptureTime,
    /// Workloads on either end (`namespace/pod`, else the client address), at most `report::inventory::MAX_PLACES`.
    pub workloads: Vec<String>,
    /// Flows with a workload not listed (the list is full).
    pub more_workloads: u64,
    /// Server endpoints (`ip:port`, with the pod or Service when known).
    pub endpoints: Vec<String>,
    /// Flows to an endpoint not listed (the list is full).
    pub more_endpoints: u64,
}

/// One certificate seen on the wire.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct CertificateUse {
    /// SHA-256 of the DER (lowercase hex).
    pub sha256: String,
    /// Subject (RFC 4514).
    pub subject: Option<String>,
    /// Issuer (RFC 4514).
    pub issuer: Option<String>,
    /// SPIFFE ID (URI SAN), if any.
    pub spiffe_id: Option<String>,
    /// Serial number (hex).
    pub serial: Option<String>,
    /// Validity start (RFC 3339).
    pub not_before: Option<String>,
    /// Validity end (RFC 3339).
    pub not_after: Option<String>,
    /// Key: `RSA 2048`, `EC P-256`...
    pub key: Option<String>,
    /// Signature algorithm.
    pub signature_algorithm: Option<String>,
    /// CA certificate (basicConstraints cA).
    pub is_ca: Option<bool>,
    /// Sent by `server`, `client`, or both.
    pub roles: Vec<String>,
    /// Sent as a leaf (first in its chain) at least once.
    pub leaf: bool,
    /// Flows that carried it.
    pub flows: u64,
    /// First packet of the first flow that carried it.
    pub first_seen: super::time::CaptureTime,
    /// Last packet of the last flow that carried it.
    pub last_seen: super::time::CaptureTime,
    /// Where it was presented: the server's `ip:port`, or the client's
    /// address for client certificates; at most `report::inventory::MAX_PLACES`.
    pub seen_at: Vec<String>,
    /// Flows at an endpoint not listed (the list is full).
    pub more_seen_at: u64,
    /// Workloads that presented it (`namespace/pod`).
    pub workloads: Vec<String>,
    /// Flows with a workload not listed (the list is full).
    pub more_workloads: u64,
}
