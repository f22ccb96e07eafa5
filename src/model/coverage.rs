//! Underlay coverage as reported: what a node-level capture saw between two
//! nodes, and the node-to-node matrix in the verification summary. How they
//! are decided lives in `coverage` and `verify::underlay`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What a node-level capture saw between the two endpoints' nodes. All
/// `false`: nothing was seen (no evidence either way).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireEvidence {
    /// IPsec ESP between the nodes (Cilium/Flannel IPsec, encrypted Weave
    /// fast datapath).
    pub esp: bool,
    /// WireGuard between the nodes (Calico, Cilium, Flannel).
    pub wireguard: bool,
    /// VXLAN between the nodes (plaintext inside; also unencrypted Weave
    /// fast datapath).
    pub vxlan: bool,
    /// Geneve between the nodes (plaintext inside).
    pub geneve: bool,
    /// Weave sleeve (UDP 6783) that does not parse as plaintext frames.
    pub weave_sleeve_encrypted: bool,
    /// Weave sleeve that parses as plaintext frames.
    pub weave_sleeve_plain: bool,
    /// A Weave control handshake (TCP 6783) announcing encryption.
    pub weave_handshake_encrypted: bool,
    /// A Weave control handshake announcing no encryption.
    pub weave_handshake_plain: bool,
    /// This flow's own packets were captured readable between the nodes:
    /// bare on the node interface, or inside a plaintext overlay. Flow-level,
    /// unlike the other fields, and so the strongest evidence.
    pub flow_in_clear: bool,
}

/// Pod-to-pod underlay coverage between nodes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoverageMatrix {
    /// Node names, in snapshot order (rows and columns).
    pub nodes: Vec<String>,
    /// More nodes than `verify::underlay::MAX_MATRIX_NODES` were in the snapshot.
    pub truncated: bool,
    /// `cells[i][j]`: pods on node i talking to pods on node j.
    pub cells: Vec<Vec<MatrixCell>>,
    /// Underlay kinds seen on the wire between node pairs.
    pub wire: BTreeMap<String, WireEvidenceRecord>,
}

/// The wire evidence between two nodes, as reported.
pub type WireEvidenceRecord = WireEvidence;

/// One cell of the matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatrixCell {
    /// `covered`, `not-covered` or `unknown`.
    pub verdict: String,
    /// `nitro`, `weave-ipsec`, `weave-nacl`, `wireguard`, `ipsec`, or null.
    pub covered_by: Option<String>,
    /// `observed`, `configured` or `inferred`.
    pub confidence: String,
}
