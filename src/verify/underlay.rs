//! Plaintext over an encrypted underlay: for each plaintext finding, does
//! Nitro, WireGuard, IPsec or Weave still encrypt the flow between nodes
//! (`coverage`)? Decided when the report is finished, not when the flow is:
//! the wire evidence (ESP or WireGuard between two nodes) may come from
//! flows that end later than the plaintext one.

use std::collections::HashMap;
use std::net::IpAddr;

pub use crate::model::coverage::{CoverageMatrix, MatrixCell, WireEvidenceRecord};

use super::verifier::End;
use crate::coverage::cluster_config::ClusterConfig;
use crate::coverage::nitro::NitroTable;
use crate::coverage::{
    self, Coverage, CoverageStatus, EndKind, FlowEnd, FlowEnds, NodeRef, WireEvidence,
};
use crate::decode::underlay::Underlay;
use crate::inventory::Inventory;

/// Most nodes in the report's coverage matrix (its size is the square).
pub const MAX_MATRIX_NODES: usize = 64;

/// What underlay decisions need, besides the inventory.
pub struct UnderlayInputs {
    /// The `--cluster-config` snapshot (default: nothing known).
    pub cluster: ClusterConfig,
    /// The Nitro instance table (built in, or `--nitro-table`).
    pub nitro: NitroTable,
    /// Underlay kinds seen between two nodes, by node names in order.
    wire: HashMap<(String, String), WireEvidence>,
}

/// One end of a plaintext flow, kept until the report is finished.
#[derive(Debug, Clone)]
pub struct PendingEnd {
    ip: IpAddr,
    kind: EndKind,
    node: Option<String>,
}

impl PendingEnd {
    /// The end as the verifier resolved it.
    pub(super) fn of(end: &End) -> Option<PendingEnd> {
        let ip = end.ip?;
        let (kind, node) = match (&end.pod, &end.node) {
            (Some(_), _) => (EndKind::Pod, end.pod_node.clone()),
            (None, Some(n)) => (EndKind::HostNetwork, Some(n.clone())),
            (None, None) => (EndKind::Unresolved, None),
        };
        Some(PendingEnd { ip, kind, node })
    }
}

impl UnderlayInputs {
    /// Inputs from a cluster configuration and a Nitro table; no wire evidence yet.
    pub fn new(cluster: ClusterConfig, nitro: NitroTable) -> Self {
        UnderlayInputs {
            cluster,
            nitro,
            wire: HashMap::new(),
        }
    }

    /// An underlay flow between two nodes was seen.
    pub fn saw(&mut self, a: &str, b: &str, underlay: Underlay) {
        let pair = ordered(a, b);
        self.wire.entry(pair).or_default().record(underlay);
    }

    fn evidence(&self, a: Option<&str>, b: Option<&str>) -> WireEvidence {
        match (a, b) {
            (Some(a), Some(b)) => self.wire.get(&ordered(a, b)).copied().unwrap_or_default(),
            _ => WireEvidence::default(),
        }
    }

    /// The coverage of a plaintext flow between `a` and `b`.
    pub fn decide(&self, inv: Option<&Inventory>, a: &PendingEnd, b: &PendingEnd) -> Coverage {
        let ends = FlowEnds {
            a: flow_end(inv, a),
            b: flow_end(inv, b),
        };
        let wire = self.evidence(a.node.as_deref(), b.node.as_deref());
        coverage::coverage(&ends, &self.cluster, &self.nitro, &wire)
    }

    /// Pod-to-pod coverage between every two nodes of the snapshot (at most
    /// [`MAX_MATRIX_NODES`]), the diagonal being pods on the same node.
    pub fn matrix(&self, inv: &Inventory) -> Option<CoverageMatrix> {
        let nodes: Vec<_> = inv.nodes().iter().take(MAX_MATRIX_NODES).collect();
        let first_ip = |n: &crate::inventory::Node| n.ips.first().copied();
        if nodes.is_empty() {
            return None;
        }
        let mut cells = Vec::new();
        for a in &nodes {
            let mut row = Vec::new();
            for b in &nodes {
                let (Some(ia), Some(ib)) = (first_ip(a), first_ip(b)) else {
                    row.push(MatrixCell::unknown());
                    continue;
                };
                let ends = FlowEnds {
                    a: FlowEnd::pod(ia, NodeRef::Known(a)),
                    b: FlowEnd::pod(ib, NodeRef::Known(b)),
                };
                let wire = self.evidence(Some(&a.name), Some(&b.name));
                let c = coverage::coverage(&ends, &self.cluster, &self.nitro, &wire);
                row.push(MatrixCell {
                    verdict: c.verdict.as_str().into(),
                    covered_by: c.covered_by.map(|b| b.as_str().into()),
                    confidence: c.confidence.as_str().into(),
                });
            }
            cells.push(row);
        }
        Some(CoverageMatrix {
            nodes: nodes.iter().map(|n| n.name.clone()).collect(),
            truncated: inv.nodes().len() > MAX_MATRIX_NODES,
            cells,
            wire: self
                .wire
                .iter()
                .map(|((a, b), w)| (format!("{a} <> {b}"), *w))
                .collect(),
        })
    }
}

/// A kept end, its node looked up in the snapshot again.
fn flow_end<'a>(inv: Option<&'a Inventory>, e: &'a PendingEnd) -> FlowEnd<'a> {
    let node = match (&e.node, inv) {
        (Some(name), Some(inv)) => inv
            .node_by_name(name)
            .map_or(NodeRef::Named(name), NodeRef::Known),
        (Some(name), None) => NodeRef::Named(name),
        (None, _) => NodeRef::Unknown,
    };
    FlowEnd {
        ip: e.ip,
        kind: e.kind,
        node,
    }
}

fn ordered(a: &str, b: &str) -> (String, String) {
    if a <= b {
        (a.to_string(), b.to_string())
    } else {
        (b.to_string(), a.to_string())
    }
}

/// Is `c` a verdict that covers the flow?
pub fn covers(c: &Coverage) -> bool {
    c.verdict == CoverageStatus::Covered
}

impl MatrixCell {
    fn unknown() -> Self {
        MatrixCell {
            verdict: "unknown".into(),
            covered_by: None,
            confidence: "inferred".into(),
        }
    }
}
