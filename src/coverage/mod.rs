//! Is a plaintext flow still encrypted on the wire, by something under TLS?
//!
//! A flow the auditor sees in clear (inside a pod, or on a node before the
//! CNI wraps it) may yet cross the network encrypted: by the CNI (Calico or
//! Cilium WireGuard, Cilium or Flannel IPsec, Weave's ESP or NaCl), or by the
//! Nitro hardware of both EC2 instances. An audit that calls every such flow
//! "unencrypted" is wrong for those clusters; one that assumes the underlay
//! always encrypts is wrong more dangerously. [`coverage`] decides from three
//! kinds of knowledge, and says which one decided:
//!
//! - **observed** ([`WireEvidence`]): what a node-level capture saw between
//!   the two nodes. It beats configuration, and when the two disagree the
//!   disagreement is reported, because either the config snapshot is stale or
//!   the cluster does not do what its owners believe.
//! - **configured** ([`ClusterConfig`], node labels, pod placement): what the
//!   cluster declares.
//! - **inferred** (the [`NitroTable`], assumptions): built-in knowledge.
//!
//! Rules that hold whatever the configuration says:
//!
//! - Two endpoints on the **same node** never cross the wire: no node-to-node
//!   encryption applies ([`reason::SAME_NODE`]).
//! - Nitro encryption needs **both** instances on an encrypting type, the same
//!   Region and VPC (or peered VPCs), and no load balancer, NAT or transit
//!   gateway in between. A capture cannot see those hops, so a Nitro verdict
//!   always says they were assumed absent ([`reason::NITRO_NO_HOP_ASSUMED`]).
//! - A **Fargate** endpoint's hardware is hidden (its node reports no
//!   instance type) and no CNI encryption daemon runs there, so it is never
//!   covered unless VPC Encryption Controls enforce encryption. An **unknown
//!   instance type** is never assumed to encrypt.
//! - Node-pair wire evidence (ESP seen between two nodes) describes pod
//!   traffic between two known EC2 nodes; a flow with a **host-network**,
//!   Fargate or unplaced endpoint is judged on configuration and on its own
//!   packets only.
//!
//! Everything here is pure: no I/O, no clock, no globals; equal inputs give
//! equal answers, so the verdicts can be tested and reproduced offline.
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

pub mod cluster_config;
pub mod nitro;

mod by_config;
mod by_nitro;

use by_config::{config_layer, configured_mechanisms, weave_handshake_check};
use by_nitro::nitro_layer;

use std::net::IpAddr;

use serde::Serialize;

pub use crate::model::coverage::WireEvidence;

use crate::coverage::cluster_config::{
    CalicoConfig, CiliumConfig, ClusterConfig, Cni, EncryptionControls, FlannelBackend, WeaveConfig,
};
use crate::coverage::nitro::{CapabilityBasis, NitroTable, NodeCapability};
use crate::decode::underlay::Underlay;
use crate::inventory::Node;

/// The node label marking Fargate nodes (value `fargate`).
pub const FARGATE_LABEL: &str = "eks.amazonaws.com/compute-type";

/// The node's Region (GA label).
pub const REGION_LABEL: &str = "topology.kubernetes.io/region";

/// The deprecated Region label, read when [`REGION_LABEL`] is absent.
const REGION_LABEL_BETA: &str = "failure-domain.beta.kubernetes.io/region";

/// The stable ids of [`Reason`]s. Reports and waivers match on these.
pub mod reason {
    /// Both endpoints are on one node: the traffic never reaches the wire.
    pub const SAME_NODE: &str = "same-node";
    /// An endpoint is not a pod or node of the inventory.
    pub const ENDPOINT_UNRESOLVED: &str = "endpoint-unresolved";
    /// An endpoint is a pod whose node is not known.
    pub const NODE_UNKNOWN: &str = "node-unknown";
    /// An endpoint runs on Fargate.
    pub const FARGATE: &str = "fargate";
    /// This flow's own packets were captured readable between the nodes.
    pub const WIRE_FLOW_IN_CLEAR: &str = "wire-flow-in-clear";
    /// Only encrypted underlay (ESP, WireGuard, encrypted Weave sleeve) was
    /// seen between the nodes.
    pub const WIRE_ENCRYPTED_UNDERLAY: &str = "wire-encrypted-underlay";
    /// Only plaintext overlay (VXLAN, Geneve, plain Weave sleeve) was seen
    /// between the nodes.
    pub const WIRE_PLAIN_UNDERLAY: &str = "wire-plain-underlay";
    /// Both encrypted and plaintext underlay were seen between the nodes.
    pub const WIRE_MIXED_UNDERLAY: &str = "wire-mixed-underlay";
    /// Node-pair wire evidence was set aside: it describes pod traffic
    /// between two known EC2 nodes, and this flow is not that.
    pub const WIRE_NOT_APPLICABLE: &str = "wire-evidence-not-applicable";
    /// The cluster config does not describe the CNI's encryption.
    pub const CNI_NOT_DESCRIBED: &str = "cni-encryption-not-described";
    /// The CNI has no encryption (VPC CNI alone, a plain Flannel backend).
    pub const CNI_NO_ENCRYPTION: &str = "cni-no-encryption";
    /// The CNI can encrypt but is configured not to.
    pub const CNI_ENCRYPTION_DISABLED: &str = "cni-encryption-disabled";
    /// The CNI is configured to encrypt with WireGuard.
    pub const CNI_WIREGUARD: &str = "cni-wireguard-enabled";
    /// The CNI is configured to encrypt with IPsec.
    pub const CNI_IPSEC: &str = "cni-ipsec-enabled";
    /// The CNI encrypts pod traffic but not host-network traffic.
    pub const CNI_HOST_NOT_ENCRYPTED: &str = "cni-host-traffic-not-encrypted";
    /// Weave runs without a password: unencrypted.
    pub const WEAVE_NO_PASSWORD: &str = "weave-no-password";
    /// Weave runs with a password and the peers are not both trusted.
    pub const WEAVE_ENCRYPTED: &str = "weave-password-set";
    /// Both Weave peers are inside `trusted_subnets`: unencrypted.
    pub const WEAVE_TRUSTED_SUBNETS: &str = "weave-trusted-subnets";
    /// `trusted_subnets` is set but a peer's node address is not known.
    pub const WEAVE_TRUSTED_UNDETERMINED: &str = "weave-trusted-subnets-undetermined";
    /// Both instance types encrypt in transit.
    pub const NITRO_BOTH_ENCRYPT: &str = "nitro-both-encrypt";
    /// An endpoint's instance type does not encrypt in transit.
    pub const NITRO_NOT_ENCRYPTING: &str = "nitro-type-not-encrypting";
    /// An endpoint's instance type, or its capability, is not known.
    pub const NITRO_TYPE_UNKNOWN: &str = "nitro-type-unknown";
    /// Same VPC (or peered) and Region assumed: not configured.
    pub const NITRO_SAME_VPC_ASSUMED: &str = "nitro-same-vpc-assumed";
    /// Same VPC (or peered) and Region, as configured.
    pub const NITRO_SAME_VPC_CONFIGURED: &str = "nitro-same-vpc-configured";
    /// The config says nodes do not all share a VPC.
    pub const NITRO_VPC_NOT_SHARED: &str = "nitro-vpc-not-shared";
    /// The two nodes are in different Regions.
    pub const NITRO_DIFFERENT_REGION: &str = "nitro-different-region";
    /// No load balancer, NAT or transit gateway on the path: assumed.
    pub const NITRO_NO_HOP_ASSUMED: &str = "nitro-no-intermediate-hop-assumed";
    /// VPC Encryption Controls in enforce mode.
    pub const VPC_ENCRYPTION_CONTROLS_ENFORCE: &str = "vpc-encryption-controls-enforce";

    /// Every id above.
    pub const ALL: &[&str] = &[
        SAME_NODE,
        ENDPOINT_UNRESOLVED,
        NODE_UNKNOWN,
        FARGATE,
        WIRE_FLOW_IN_CLEAR,
        WIRE_ENCRYPTED_UNDERLAY,
        WIRE_PLAIN_UNDERLAY,
        WIRE_MIXED_UNDERLAY,
        WIRE_NOT_APPLICABLE,
        CNI_NOT_DESCRIBED,
        CNI_NO_ENCRYPTION,
        CNI_ENCRYPTION_DISABLED,
        CNI_WIREGUARD,
        CNI_IPSEC,
        CNI_HOST_NOT_ENCRYPTED,
        WEAVE_NO_PASSWORD,
        WEAVE_ENCRYPTED,
        WEAVE_TRUSTED_SUBNETS,
        WEAVE_TRUSTED_UNDETERMINED,
        NITRO_BOTH_ENCRYPT,
        NITRO_NOT_ENCRYPTING,
        NITRO_TYPE_UNKNOWN,
        NITRO_SAME_VPC_ASSUMED,
        NITRO_SAME_VPC_CONFIGURED,
        NITRO_VPC_NOT_SHARED,
        NITRO_DIFFERENT_REGION,
        NITRO_NO_HOP_ASSUMED,
        VPC_ENCRYPTION_CONTROLS_ENFORCE,
    ];
}

/// The two endpoints of a flow (order does not matter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowEnds<'a> {
    /// One endpoint, e.g. the client.
    pub a: FlowEnd<'a>,
    /// The other endpoint.
    pub b: FlowEnd<'a>,
}

/// One endpoint: its address and what the inventory made of it.
///
/// From the inventory's `Resolved`: `Pod(p)` is [`FlowEnd::pod`] with the
/// node named by `p.node` (looked up with `node_by_name`), `Node { node, .. }`
/// is [`FlowEnd::host_network`], `Ambiguous` and `Unknown` are
/// [`FlowEnd::unresolved`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowEnd<'a> {
    /// The address seen in the flow.
    pub ip: IpAddr,
    /// What the address is.
    pub kind: EndKind,
    /// The node the endpoint runs on.
    pub node: NodeRef<'a>,
}

/// What an endpoint address is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndKind {
    /// A pod on the pod network.
    Pod,
    /// A node address: the node itself or one of its hostNetwork pods.
    HostNetwork,
    /// Not placed by the inventory (outside the cluster, a Service or load
    /// balancer address, or ambiguous).
    Unresolved,
}

/// The node of an endpoint, as far as it is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeRef<'a> {
    /// The node object (labels, instance type, addresses).
    Known(&'a Node),
    /// Only the node's name (`spec.nodeName`; the node is not in the nodes
    /// snapshot).
    Named(&'a str),
    /// Not known.
    Unknown,
}

impl<'a> FlowEnd<'a> {
    /// A pod on the pod network, running on `node`.
    pub fn pod(ip: IpAddr, node: NodeRef<'a>) -> Self {
        FlowEnd {
            ip,
            kind: EndKind::Pod,
            node,
        }
    }

    /// A node address (the node, or a hostNetwork pod on it).
    pub fn host_network(ip: IpAddr, node: &'a Node) -> Self {
        FlowEnd {
            ip,
            kind: EndKind::HostNetwork,
            node: NodeRef::Known(node),
        }
    }

    /// An address the inventory could not place.
    pub fn unresolved(ip: IpAddr) -> Self {
        FlowEnd {
            ip,
            kind: EndKind::Unresolved,
            node: NodeRef::Unknown,
        }
    }

    /// The node's name, when known.
    pub fn node_name(&self) -> Option<&'a str> {
        match self.node {
            NodeRef::Known(n) => Some(n.name.as_str()),
            NodeRef::Named(name) => Some(name),
            NodeRef::Unknown => None,
        }
    }

    /// Whether the endpoint runs on Fargate: the node has
    /// `eks.amazonaws.com/compute-type=fargate`, a `fargate-` provider ID
    /// (`aws:///<zone>/fargate-<ip>`), or a `fargate-` name.
    pub fn is_fargate(&self) -> bool {
        match self.node {
            NodeRef::Known(n) => is_fargate_node(n),
            NodeRef::Named(name) => name.starts_with("fargate-"),
            NodeRef::Unknown => false,
        }
    }

    /// The node's addresses (for Weave's trusted subnets), canonical; for a
    /// host-network endpoint its own address is one of them.
    fn node_ips(&self) -> Vec<IpAddr> {
        let mut ips: Vec<IpAddr> = match self.node {
            NodeRef::Known(n) => n.ips.iter().map(|ip| ip.to_canonical()).collect(),
            NodeRef::Named(_) | NodeRef::Unknown => Vec::new(),
        };
        if self.kind == EndKind::HostNetwork && !ips.contains(&self.ip.to_canonical()) {
            ips.push(self.ip.to_canonical());
        }
        ips
    }

    /// The node's Region label, when known.
    fn region(&self) -> Option<&'a str> {
        let NodeRef::Known(n) = self.node else {
            return None;
        };
        n.labels
            .get(REGION_LABEL)
            .or_else(|| n.labels.get(REGION_LABEL_BETA))
            .map(String::as_str)
    }

    /// `10.0.1.5 (node ip-10-0-1-5)` for reason texts.
    fn describe(&self) -> String {
        match self.node_name() {
            Some(name) => format!("{} (node {name})", self.ip),
            None => self.ip.to_string(),
        }
    }
}

/// Whether `node` is a Fargate node (see [`FlowEnd::is_fargate`]).
pub fn is_fargate_node(node: &Node) -> bool {
    let label = node
        .labels
        .get(FARGATE_LABEL)
        .is_some_and(|v| v.eq_ignore_ascii_case("fargate"));
    let provider = node
        .provider_id
        .as_deref()
        .and_then(|p| p.rsplit('/').next())
        .is_some_and(|last| last.starts_with("fargate-"));
    label || provider || node.name.starts_with("fargate-")
}

impl FlowEnds<'_> {
    /// Whether both endpoints are on one node: `Some(true)` for the same
    /// address or the same node name, `Some(false)` for two known, different
    /// nodes, `None` when a node is not known.
    pub fn same_node(&self) -> Option<bool> {
        if self.a.ip.to_canonical() == self.b.ip.to_canonical() {
            return Some(true);
        }
        Some(self.a.node_name()? == self.b.node_name()?)
    }

    /// Both endpoints.
    fn ends(&self) -> [&FlowEnd<'_>; 2] {
        [&self.a, &self.b]
    }
}

impl WireEvidence {
    /// Evidence from the underlays the decoder named. `Ike` is ignored (the
    /// ESP it sets up is the evidence). `WeaveSleeve` and
    /// `WeaveControl` need their payload classified and are ignored here:
    /// use [`WireEvidence::record_weave_sleeve`] and
    /// [`WireEvidence::record_weave_handshake`].
    pub fn from_underlays(underlays: impl IntoIterator<Item = Underlay>) -> Self {
        let mut evidence = WireEvidence::default();
        for u in underlays {
            evidence.record(u);
        }
        evidence
    }

    /// Records one underlay (see [`WireEvidence::from_underlays`]).
    pub fn record(&mut self, underlay: Underlay) {
        match underlay {
            Underlay::Esp => self.esp = true,
            Underlay::WireGuard => self.wireguard = true,
            Underlay::Vxlan => self.vxlan = true,
            Underlay::Geneve => self.geneve = true,
            // IKE sets IPsec up but encrypts no pod traffic itself.
            Underlay::WeaveSleeve | Underlay::WeaveControl | Underlay::Ike => {}
        }
    }

    /// Records a Weave sleeve packet, classified as encrypted or not.
    pub fn record_weave_sleeve(&mut self, encrypted: bool) {
        if encrypted {
            self.weave_sleeve_encrypted = true;
        } else {
            self.weave_sleeve_plain = true;
        }
    }

    /// Records a Weave handshake's encryption flag
    /// (`weave_handshake_encrypted` in the decoder).
    pub fn record_weave_handshake(&mut self, encrypted: bool) {
        if encrypted {
            self.weave_handshake_encrypted = true;
        } else {
            self.weave_handshake_plain = true;
        }
    }

    /// Whether nothing at all was seen.
    pub fn is_empty(&self) -> bool {
        *self == WireEvidence::default()
    }

    /// The encrypted underlays seen, named for reasons.
    fn encrypted(&self, cni: Cni) -> Vec<(CoveredBy, &'static str)> {
        let esp = if cni == Cni::Weave {
            CoveredBy::WeaveIpsec
        } else {
            CoveredBy::Ipsec
        };
        [
            (self.wireguard, CoveredBy::WireGuard, "WireGuard"),
            (self.esp, esp, "ESP"),
            (
                self.weave_sleeve_encrypted,
                CoveredBy::WeaveNacl,
                "encrypted Weave sleeve",
            ),
        ]
        .into_iter()
        .filter_map(|(seen, by, name)| seen.then_some((by, name)))
        .collect()
    }

    /// The plaintext overlays seen, named for reasons.
    fn plain(&self) -> Vec<&'static str> {
        [
            (self.vxlan, "VXLAN"),
            (self.geneve, "Geneve"),
            (self.weave_sleeve_plain, "plaintext Weave sleeve"),
        ]
        .into_iter()
        .filter_map(|(seen, name)| seen.then_some(name))
        .collect()
    }
}

/// What encrypts the flow on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum CoveredBy {
    /// Nitro hardware encryption between the two instances.
    #[serde(rename = "nitro")]
    Nitro,
    /// Weave fast datapath encrypted as IPsec ESP.
    #[serde(rename = "weave-ipsec")]
    WeaveIpsec,
    /// Weave sleeve encrypted with NaCl secretbox.
    #[serde(rename = "weave-nacl")]
    WeaveNacl,
    /// WireGuard (Calico, Cilium, Flannel).
    #[serde(rename = "wireguard")]
    WireGuard,
    /// IPsec ESP (Cilium, Flannel).
    #[serde(rename = "ipsec")]
    Ipsec,
}

impl CoveredBy {
    /// The report's name.
    pub fn as_str(self) -> &'static str {
        match self {
            CoveredBy::Nitro => "nitro",
            CoveredBy::WeaveIpsec => "weave-ipsec",
            CoveredBy::WeaveNacl => "weave-nacl",
            CoveredBy::WireGuard => "wireguard",
            CoveredBy::Ipsec => "ipsec",
        }
    }
}

/// The answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum CoverageStatus {
    /// Something under TLS encrypts the flow on the wire.
    #[serde(rename = "covered")]
    Covered,
    /// Nothing does.
    #[serde(rename = "not-covered")]
    NotCovered,
    /// Cannot be established either way.
    #[serde(rename = "unknown")]
    Unknown,
}

impl CoverageStatus {
    /// The report's name.
    pub fn as_str(self) -> &'static str {
        match self {
            CoverageStatus::Covered => "covered",
            CoverageStatus::NotCovered => "not-covered",
            CoverageStatus::Unknown => "unknown",
        }
    }
}

/// What the verdict rests on, weakest first (so `min` is the weaker).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Confidence {
    /// Built-in knowledge (the instance-type table) and assumptions; also
    /// every `unknown` verdict.
    #[serde(rename = "inferred")]
    Inferred,
    /// Declared cluster state: the cluster config, node labels, pod
    /// placement.
    #[serde(rename = "configured")]
    Configured,
    /// Seen on the wire in this capture.
    #[serde(rename = "observed")]
    Observed,
}

impl Confidence {
    /// The report's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Inferred => "inferred",
            Confidence::Configured => "configured",
            Confidence::Observed => "observed",
        }
    }
}

/// One step of the reasoning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reason {
    /// Stable kebab-case id (see [`reason`]).
    pub id: &'static str,
    /// Human-readable detail naming endpoints, types and settings.
    pub detail: String,
}

/// Whether, how and how surely a flow is encrypted under TLS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Coverage {
    /// The mechanism, when covered.
    pub covered_by: Option<CoveredBy>,
    /// Covered, not covered, or unknown.
    pub verdict: CoverageStatus,
    /// The reasoning, in evaluation order: endpoints, wire, CNI, Nitro.
    pub reasons: Vec<Reason>,
    /// What the verdict rests on.
    pub confidence: Confidence,
    /// Contradictions between sources: label against table, wire against
    /// config.
    pub disagreements: Vec<String>,
}

impl Coverage {
    /// Whether a reason with `id` was given.
    pub fn has_reason(&self, id: &str) -> bool {
        self.reasons.iter().any(|r| r.id == id)
    }

    /// The reason ids, in order.
    pub fn reason_ids(&self) -> Vec<&'static str> {
        self.reasons.iter().map(|r| r.id).collect()
    }
}

/// One layer's answer (CNI or Nitro).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layer {
    Covered(CoveredBy, Confidence),
    NotCovered(Confidence),
    Unknown,
}

/// Reasons and disagreements collected along the way.
#[derive(Debug, Default)]
struct Notes {
    reasons: Vec<Reason>,
    disagreements: Vec<String>,
}

impl Notes {
    fn reason(&mut self, id: &'static str, detail: impl Into<String>) {
        self.reasons.push(Reason {
            id,
            detail: detail.into(),
        });
    }

    fn disagree(&mut self, text: impl Into<String>) {
        self.disagreements.push(text.into());
    }

    fn finish(
        self,
        covered_by: Option<CoveredBy>,
        verdict: CoverageStatus,
        confidence: Confidence,
    ) -> Coverage {
        Coverage {
            covered_by,
            verdict,
            reasons: self.reasons,
            confidence,
            disagreements: self.disagreements,
        }
    }
}

/// Decides whether something under TLS encrypts the flow between `flow`'s
/// endpoints on the wire. See the module documentation for the rules.
pub fn coverage(
    flow: &FlowEnds<'_>,
    cfg: &ClusterConfig,
    nitro: &NitroTable,
    wire: &WireEvidence,
) -> Coverage {
    let mut notes = Notes::default();
    let caps = [
        capability(&flow.a, nitro, &mut notes),
        capability(&flow.b, nitro, &mut notes),
    ];
    describe_endpoints(flow, &mut notes);

    let same_node = flow.same_node();
    if same_node == Some(true) {
        notes.reason(
            reason::SAME_NODE,
            format!(
                "{} and {} are on the same node: the traffic never leaves the host, so no \
                 node-to-node encryption (Nitro, WireGuard, IPsec, Weave) applies",
                flow.a.describe(),
                flow.b.describe()
            ),
        );
        return notes.finish(None, CoverageStatus::NotCovered, Confidence::Configured);
    }

    let cni = cni_layer(flow, same_node, cfg, wire, &mut notes);
    let nitro = nitro_layer(flow, &caps, cfg, &mut notes);
    let (covered_by, verdict, confidence) = match (cni, nitro) {
        (Layer::Covered(by, c), _) | (_, Layer::Covered(by, c)) => {
            (Some(by), CoverageStatus::Covered, c)
        }
        (Layer::NotCovered(c1), Layer::NotCovered(c2)) => {
            (None, CoverageStatus::NotCovered, c1.min(c2))
        }
        _ => (None, CoverageStatus::Unknown, Confidence::Inferred),
    };
    notes.finish(covered_by, verdict, confidence)
}

/// A node's Nitro capability; records label/table disagreements.
fn capability(end: &FlowEnd<'_>, nitro: &NitroTable, notes: &mut Notes) -> NodeCapability {
    let unknown = NodeCapability {
        encrypts: None,
        basis: CapabilityBasis::Unknown,
        table: None,
        disagreements: Vec::new(),
    };
    let NodeRef::Known(node) = end.node else {
        return unknown;
    };
    if end.is_fargate() {
        return unknown;
    }
    let cap = nitro.node_capability(node.instance_type.as_deref(), &node.labels);
    for d in &cap.disagreements {
        notes.disagree(format!("node {}: {d}", node.name));
    }
    cap
}

/// Reasons about endpoints that limit what can be known.
fn describe_endpoints(flow: &FlowEnds<'_>, notes: &mut Notes) {
    for end in flow.ends() {
        match (end.kind, end.node) {
            (EndKind::Unresolved, _) => notes.reason(
                reason::ENDPOINT_UNRESOLVED,
                format!(
                    "{} is not a pod or node in the inventory (outside the cluster, a Service or \
                     load balancer address, or missing from the snapshot): neither CNI nor Nitro \
                     encryption can be established for it",
                    end.ip
                ),
            ),
            (_, NodeRef::Unknown) => notes.reason(
                reason::NODE_UNKNOWN,
                format!("{}: the pod's node is not known", end.ip),
            ),
            _ => {}
        }
        if end.is_fargate() {
            notes.reason(
                reason::FARGATE,
                format!(
                    "{} runs on Fargate: its instance type is hidden (so Nitro encryption cannot \
                     be established) and no CNI encryption runs there",
                    end.describe()
                ),
            );
        }
    }
}

/// The CNI layer: wire evidence, then configuration; wire wins.
fn cni_layer(
    flow: &FlowEnds<'_>,
    same_node: Option<bool>,
    cfg: &ClusterConfig,
    wire: &WireEvidence,
    notes: &mut Notes,
) -> Layer {
    let observed = wire_layer(flow, cfg, wire, notes);
    let configured = config_layer(flow, same_node, cfg, notes);
    weave_handshake_check(cfg, wire, notes);
    let Some(observed) = observed else {
        return configured;
    };
    let config_says = |layer: Layer| match layer {
        Layer::Covered(by, _) => format!("the cluster config says {} encrypts it", by.as_str()),
        Layer::NotCovered(_) => "the cluster config says nothing encrypts it".to_owned(),
        Layer::Unknown => String::new(),
    };
    match (observed, configured) {
        (Layer::Covered(seen, _), Layer::Covered(..))
            if !configured_mechanisms(cfg).contains(&seen) =>
        {
            notes.disagree(format!(
                "wire shows {} between the nodes, but {}",
                seen.as_str(),
                config_says(configured)
            ));
        }
        (Layer::Covered(seen, _), Layer::NotCovered(_)) => notes.disagree(format!(
            "wire shows {} between the nodes, but {}",
            seen.as_str(),
            config_says(configured)
        )),
        (Layer::NotCovered(_), Layer::Covered(..)) => notes.disagree(format!(
            "wire shows this traffic unencrypted between the nodes, but {}",
            config_says(configured)
        )),
        (Layer::Unknown, Layer::Covered(..)) => notes.disagree(format!(
            "wire shows both encrypted and plaintext underlay between the nodes, but {}",
            config_says(configured)
        )),
        _ => {}
    }
    match (observed, configured) {
        // Mixed evidence does not contradict a "not covered" configuration.
        (Layer::Unknown, Layer::NotCovered(c)) => Layer::NotCovered(c),
        (observed, _) => observed,
    }
}

/// What the wire says; `None` when it says nothing that applies.
fn wire_layer(
    flow: &FlowEnds<'_>,
    cfg: &ClusterConfig,
    wire: &WireEvidence,
    notes: &mut Notes,
) -> Option<Layer> {
    if wire.flow_in_clear {
        notes.reason(
            reason::WIRE_FLOW_IN_CLEAR,
            "this flow's packets were captured readable between the nodes, outside any WireGuard, \
             IPsec or Weave encryption; Nitro encryption, if any, happens below the capture point \
             and cannot be seen",
        );
        return Some(Layer::NotCovered(Confidence::Observed));
    }
    let encrypted = wire.encrypted(cfg.cni);
    let plain = wire.plain();
    if encrypted.is_empty() && plain.is_empty() {
        return None;
    }
    let not_pod_pair = flow.ends().into_iter().find_map(|e| match e.kind {
        EndKind::HostNetwork => Some(format!("{} uses the host network", e.describe())),
        EndKind::Unresolved => Some(format!("{} is not placed on a node", e.ip)),
        EndKind::Pod if e.is_fargate() => Some(format!("{} runs on Fargate", e.describe())),
        EndKind::Pod if e.node_name().is_none() => Some(format!("{}: node unknown", e.ip)),
        EndKind::Pod => None,
    });
    if let Some(why) = not_pod_pair {
        notes.reason(
            reason::WIRE_NOT_APPLICABLE,
            format!(
                "underlay seen between nodes describes pod-to-pod traffic between two known \
                 nodes; {why}, so this flow is not known to travel inside it and that evidence \
                 is not used"
            ),
        );
        return None;
    }
    let names = |v: &[&str]| v.join(", ");
    let encrypted_names: Vec<&str> = encrypted.iter().map(|(_, name)| *name).collect();
    if plain.is_empty() {
        let expected = configured_mechanisms(cfg);
        let by = encrypted
            .iter()
            .find(|(by, _)| expected.contains(by))
            .or(encrypted.first())
            .map(|(by, _)| *by)?;
        notes.reason(
            reason::WIRE_ENCRYPTED_UNDERLAY,
            format!(
                "{} seen between the nodes and no plaintext overlay: the flow is taken to travel \
                 inside it (node-pair evidence)",
                names(&encrypted_names)
            ),
        );
        return Some(Layer::Covered(by, Confidence::Observed));
    }
    if encrypted.is_empty() {
        notes.reason(
            reason::WIRE_PLAIN_UNDERLAY,
            format!(
                "only plaintext overlay ({}) seen between the nodes, no ESP or WireGuard",
                names(&plain)
            ),
        );
        return Some(Layer::NotCovered(Confidence::Observed));
    }
    notes.reason(
        reason::WIRE_MIXED_UNDERLAY,
        format!(
            "both encrypted ({}) and plaintext ({}) underlay seen between the nodes: which one \
             carried this flow is not known",
            names(&encrypted_names),
            names(&plain)
        ),
    );
    Some(Layer::Unknown)
}

#[cfg(test)]
mod tests;
