//! The Nitro layer of a coverage verdict: both instances on types that
//! encrypt in transit, one VPC, one Region, and the hops a capture cannot
//! see stated as assumptions.

use super::*;

/// The Nitro layer.
pub(super) fn nitro_layer(
    flow: &FlowEnds<'_>,
    caps: &[NodeCapability; 2],
    cfg: &ClusterConfig,
    notes: &mut Notes,
) -> Layer {
    if let Some(layer) = by_path(flow, cfg, notes) {
        return layer;
    }
    if let Some(layer) = by_instance_types(flow, caps, notes) {
        return layer;
    }
    both_encrypt(flow, caps, cfg, notes)
}

/// What the path decides before the instance types are looked at: an end
/// not resolved, nodes not in one VPC or Region, or VPC Encryption
/// Controls in enforce mode. `None`: the instance types decide.
fn by_path(flow: &FlowEnds<'_>, cfg: &ClusterConfig, notes: &mut Notes) -> Option<Layer> {
    if flow.ends().iter().any(|e| e.kind == EndKind::Unresolved) {
        return Some(Layer::Unknown);
    }
    if cfg.nodes_share_vpc() == Some(false) {
        notes.reason(
            reason::NITRO_VPC_NOT_SHARED,
            "the cluster config says the nodes are not all in one VPC (or peered VPCs): Nitro \
             encryption cannot be established for a node pair",
        );
        return Some(Layer::Unknown);
    }
    if let (Some(ra), Some(rb)) = (flow.a.region(), flow.b.region())
        && ra != rb
    {
        notes.reason(
            reason::NITRO_DIFFERENT_REGION,
            format!(
                "the nodes are in different Regions ({ra}, {rb}); Nitro instance-to-instance \
                 encryption needs one Region"
            ),
        );
        return Some(Layer::NotCovered(Confidence::Configured));
    }
    if cfg.encryption_controls() == EncryptionControls::Enforce {
        notes.reason(
            reason::VPC_ENCRYPTION_CONTROLS_ENFORCE,
            "VPC Encryption Controls are in enforce mode: traffic inside the VPC is encrypted by \
             Nitro for every resource, whatever its instance type",
        );
        // Enforce mode still allows excluded gateways (internet, NAT,
        // transit) the capture cannot see: the same assumption as below.
        notes.reason(
            reason::NITRO_NO_HOP_ASSUMED,
            "no NAT, internet or transit gateway (which enforce mode can exclude) is assumed on \
             the path; such hops are invisible to the capture and end Nitro encryption",
        );
        return Some(Layer::Covered(CoveredBy::Nitro, Confidence::Configured));
    }
    None
}

/// An end on Fargate, or on an instance type that does not encrypt in
/// transit or is not known to. `None`: both ends' types encrypt.
fn by_instance_types(
    flow: &FlowEnds<'_>,
    caps: &[NodeCapability; 2],
    notes: &mut Notes,
) -> Option<Layer> {
    let ends = flow.ends();
    let mut not_encrypting = Vec::new();
    let mut unknown = false;
    for (end, cap) in ends.iter().zip(caps) {
        if end.is_fargate() {
            unknown = true;
            continue;
        }
        let what = describe_type(end, cap);
        match cap.encrypts {
            Some(true) => {}
            Some(false) => {
                notes.reason(
                    reason::NITRO_NOT_ENCRYPTING,
                    format!("{}: {what} does not encrypt in transit", end.describe()),
                );
                not_encrypting.push(basis_confidence(cap.basis));
            }
            None => {
                notes.reason(
                    reason::NITRO_TYPE_UNKNOWN,
                    format!(
                        "{}: {what}, not known to encrypt in transit",
                        end.describe()
                    ),
                );
                unknown = true;
            }
        }
    }
    if let Some(c) = not_encrypting.into_iter().max() {
        return Some(Layer::NotCovered(c));
    }
    unknown.then_some(Layer::Unknown)
}

/// Both ends on types that encrypt: covered, with the hops a capture
/// cannot see stated as assumptions, and labelled as configured only when
/// the cluster config and the type labels say so.
fn both_encrypt(
    flow: &FlowEnds<'_>,
    caps: &[NodeCapability; 2],
    cfg: &ClusterConfig,
    notes: &mut Notes,
) -> Layer {
    let [ca, cb] = caps;
    notes.reason(
        reason::NITRO_BOTH_ENCRYPT,
        format!(
            "{} is {} and {} is {}: both encrypt traffic between instances in the Nitro \
             hardware (not visible in any capture)",
            flow.a.describe(),
            describe_type(&flow.a, ca),
            flow.b.describe(),
            describe_type(&flow.b, cb)
        ),
    );
    let vpc_configured = cfg.nodes_share_vpc() == Some(true);
    if vpc_configured {
        notes.reason(
            reason::NITRO_SAME_VPC_CONFIGURED,
            "the cluster config says all nodes share one VPC (or peered VPCs) in one Region",
        );
    } else {
        notes.reason(
            reason::NITRO_SAME_VPC_ASSUMED,
            "both nodes are assumed to be in the same VPC (or peered VPCs) and Region; the cluster \
             config does not say",
        );
    }
    notes.reason(
        reason::NITRO_NO_HOP_ASSUMED,
        "no load balancer, NAT or transit gateway is assumed on the path; such hops are invisible \
         to the capture and end Nitro encryption",
    );
    let labels = basis_confidence(ca.basis).min(basis_confidence(cb.basis));
    let confidence = if vpc_configured {
        labels
    } else {
        Confidence::Inferred
    };
    Layer::Covered(CoveredBy::Nitro, confidence)
}

/// `m6i.large (Nitro table)` / `instance type unknown (label ...)`.
fn describe_type(end: &FlowEnd<'_>, cap: &NodeCapability) -> String {
    let ty = match end.node {
        NodeRef::Known(n) => n.instance_type.as_deref(),
        NodeRef::Named(_) | NodeRef::Unknown => None,
    };
    let ty = match (ty, end.node) {
        (Some(t), _) => t.to_owned(),
        (None, NodeRef::Known(_)) => "a node without an instance-type label".to_owned(),
        (None, _) => "a node not in the nodes snapshot".to_owned(),
    };
    match cap.basis {
        CapabilityBasis::Label(key) => format!("{ty} (label {key})"),
        CapabilityBasis::Table => format!("{ty} (Nitro table)"),
        CapabilityBasis::Unknown => ty,
    }
}

/// A label is declared cluster state; the table is built-in knowledge.
fn basis_confidence(basis: CapabilityBasis) -> Confidence {
    match basis {
        CapabilityBasis::Label(_) => Confidence::Configured,
        CapabilityBasis::Table | CapabilityBasis::Unknown => Confidence::Inferred,
    }
}
