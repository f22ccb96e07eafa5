use std::collections::BTreeMap;

use super::*;
use crate::coverage::nitro::{EKS_AUTO_MODE_LABEL, KARPENTER_LABEL};

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test ip")
}

fn node(name: &str, addr: &str, instance_type: Option<&str>, labels: &[(&str, &str)]) -> Node {
    Node {
        name: name.to_owned(),
        ips: vec![ip(addr)],
        labels: labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<BTreeMap<_, _>>(),
        provider_id: Some(format!("aws:///eu-west-1a/i-{name}")),
        instance_type: instance_type.map(str::to_owned),
    }
}

fn table() -> NitroTable {
    NitroTable::builtin().expect("embedded table")
}

fn cfg(json: &str) -> ClusterConfig {
    ClusterConfig::from_json(json).expect("test config")
}

fn pod<'a>(addr: &str, n: &'a Node) -> FlowEnd<'a> {
    FlowEnd::pod(ip(addr), NodeRef::Known(n))
}

fn run(a: FlowEnd<'_>, b: FlowEnd<'_>, config: &ClusterConfig, wire: &WireEvidence) -> Coverage {
    coverage(&FlowEnds { a, b }, config, &table(), wire)
}

fn none() -> WireEvidence {
    WireEvidence::default()
}

/// Fixture nodes: two Nitro-encrypting types, two that do not.
struct Nodes {
    m6i: Node,
    c7g: Node,
    t3: Node,
    m5: Node,
}

fn nodes() -> Nodes {
    Nodes {
        m6i: node("n-m6i", "10.0.1.10", Some("m6i.large"), &[]),
        c7g: node("n-c7g", "10.0.2.20", Some("c7g.xlarge"), &[]),
        t3: node("n-t3", "10.0.3.30", Some("t3.medium"), &[]),
        m5: node("n-m5", "10.0.4.40", Some("m5.large"), &[]),
    }
}

const VPC_CNI: &str = r#"{"cni": "aws-vpc-cni"}"#;

// ---- Nitro -------------------------------------------------------------

#[test]
fn both_nitro_encrypting_nodes_are_covered_by_nitro_with_assumptions_stated() {
    let n = nodes();
    let c = run(
        pod("192.168.1.5", &n.m6i),
        pod("192.168.2.6", &n.c7g),
        &cfg(VPC_CNI),
        &none(),
    );
    assert_eq!(c.verdict, CoverageStatus::Covered);
    assert_eq!(c.covered_by, Some(CoveredBy::Nitro));
    assert_eq!(c.confidence, Confidence::Inferred);
    assert_eq!(
        c.reason_ids(),
        [
            reason::CNI_NO_ENCRYPTION,
            reason::NITRO_BOTH_ENCRYPT,
            reason::NITRO_SAME_VPC_ASSUMED,
            reason::NITRO_NO_HOP_ASSUMED,
        ]
    );
    let both = &c.reasons[1].detail;
    assert!(both.contains("m6i.large (Nitro table)"), "{both}");
    assert!(both.contains("c7g.xlarge (Nitro table)"), "{both}");
    assert!(c.reasons[3].detail.contains("load balancer"));
    assert!(c.disagreements.is_empty());
}

#[test]
fn mixed_nitro_and_non_nitro_nodes_are_not_covered() {
    let n = nodes();
    let c = run(
        pod("192.168.1.5", &n.m6i),
        pod("192.168.3.7", &n.t3),
        &cfg(VPC_CNI),
        &none(),
    );
    assert_eq!(c.verdict, CoverageStatus::NotCovered);
    assert_eq!(c.covered_by, None);
    // VPC CNI (configured) and t3 from the table (inferred): the weaker.
    assert_eq!(c.confidence, Confidence::Inferred);
    assert_eq!(
        c.reason_ids(),
        [reason::CNI_NO_ENCRYPTION, reason::NITRO_NOT_ENCRYPTING]
    );
    assert!(
        c.reasons[1]
            .detail
            .contains("t3.medium (Nitro table) does not encrypt")
    );
    assert!(c.reasons[1].detail.contains("node n-t3"));
}

#[test]
fn two_non_nitro_nodes_without_cluster_config_are_unknown() {
    let n = nodes();
    let c = run(
        pod("192.168.3.7", &n.t3),
        pod("192.168.4.8", &n.m5),
        &ClusterConfig::default(),
        &none(),
    );
    // Nitro rules it out, but the CNI might encrypt: nobody said.
    assert_eq!(c.verdict, CoverageStatus::Unknown);
    assert_eq!(c.confidence, Confidence::Inferred);
    assert!(c.has_reason(reason::CNI_NOT_DESCRIBED));
    assert_eq!(
        c.reasons
            .iter()
            .filter(|r| r.id == reason::NITRO_NOT_ENCRYPTING)
            .count(),
        2
    );
}

#[test]
fn labels_decide_and_raise_confidence_when_the_vpc_is_configured() {
    // Families the table does not know, labelled by Karpenter / EKS Auto.
    let a = node(
        "n-a",
        "10.0.1.1",
        Some("zz9.large"),
        &[(KARPENTER_LABEL, "true")],
    );
    let b = node(
        "n-b",
        "10.0.1.2",
        Some("zz9.large"),
        &[(EKS_AUTO_MODE_LABEL, "true")],
    );
    let assumed = run(
        pod("192.168.0.1", &a),
        pod("192.168.0.2", &b),
        &cfg(VPC_CNI),
        &none(),
    );
    assert_eq!(assumed.verdict, CoverageStatus::Covered);
    assert_eq!(assumed.covered_by, Some(CoveredBy::Nitro));
    assert_eq!(assumed.confidence, Confidence::Inferred);
    assert!(assumed.has_reason(reason::NITRO_SAME_VPC_ASSUMED));

    let shared = cfg(r#"{"cni": "aws-vpc-cni", "vpc": {"nodes_share_vpc": true}}"#);
    let c = run(
        pod("192.168.0.1", &a),
        pod("192.168.0.2", &b),
        &shared,
        &none(),
    );
    assert_eq!(c.verdict, CoverageStatus::Covered);
    assert_eq!(c.confidence, Confidence::Configured);
    assert!(c.has_reason(reason::NITRO_SAME_VPC_CONFIGURED));
    assert!(!c.has_reason(reason::NITRO_SAME_VPC_ASSUMED));
    assert!(c.reasons.iter().any(|r| r.detail.contains(KARPENTER_LABEL)));
    assert!(c.disagreements.is_empty());
}

#[test]
fn label_overriding_the_table_is_used_and_reported() {
    let n = nodes();
    let lying = node(
        "n-x",
        "10.0.5.5",
        Some("m6i.large"),
        &[(KARPENTER_LABEL, "false")],
    );
    let c = run(
        pod("192.168.1.5", &n.m6i),
        pod("192.168.5.5", &lying),
        &cfg(VPC_CNI),
        &none(),
    );
    assert_eq!(c.verdict, CoverageStatus::NotCovered);
    // The decisive "no" is a label: configured; VPC CNI: configured.
    assert_eq!(c.confidence, Confidence::Configured);
    assert_eq!(c.disagreements.len(), 1);
    assert!(
        c.disagreements[0].starts_with("node n-x: label"),
        "{:?}",
        c.disagreements
    );
    assert!(c.disagreements[0].contains("m6i.large encrypts"));
}

#[test]
fn unknown_instance_type_is_never_covered_by_nitro() {
    let n = nodes();
    let odd = node("n-odd", "10.0.6.6", Some("zz9.large"), &[]);
    let bare = node("n-bare", "10.0.6.7", None, &[]);
    for other in [&odd, &bare] {
        let c = run(
            pod("192.168.1.5", &n.m6i),
            pod("192.168.6.6", other),
            &cfg(VPC_CNI),
            &none(),
        );
        assert_eq!(c.verdict, CoverageStatus::Unknown, "{}", other.name);
        assert_eq!(c.covered_by, None);
        assert!(c.has_reason(reason::NITRO_TYPE_UNKNOWN));
        assert!(!c.has_reason(reason::NITRO_BOTH_ENCRYPT));
    }
    let c = run(
        pod("192.168.1.5", &n.m6i),
        pod("192.168.6.7", &bare),
        &cfg(VPC_CNI),
        &none(),
    );
    assert!(
        c.reasons
            .iter()
            .any(|r| r.detail.contains("without an instance-type label"))
    );
    // u-*.metal: the table's exception makes it unknown too.
    let metal = node("n-u", "10.0.6.8", Some("u-6tb1.metal"), &[]);
    let c = run(
        pod("192.168.1.5", &n.m6i),
        pod("192.168.6.8", &metal),
        &cfg(VPC_CNI),
        &none(),
    );
    assert_eq!(c.verdict, CoverageStatus::Unknown);
}

#[test]
fn unknown_instance_type_can_still_be_covered_by_the_cni() {
    let odd = node("n-odd", "10.0.6.6", Some("zz9.large"), &[]);
    let n = nodes();
    let calico = cfg(r#"{"cni": "calico", "calico": {"wireguard_enabled": true}}"#);
    let c = run(
        pod("192.168.1.5", &n.m6i),
        pod("192.168.6.6", &odd),
        &calico,
        &none(),
    );
    assert_eq!(c.verdict, CoverageStatus::Covered);
    assert_eq!(c.covered_by, Some(CoveredBy::WireGuard));
    assert_eq!(c.confidence, Confidence::Configured);
    assert!(c.has_reason(reason::NITRO_TYPE_UNKNOWN));
}

#[test]
fn nitro_needs_one_vpc_and_one_region() {
    let n = nodes();
    let apart = cfg(r#"{"cni": "aws-vpc-cni", "vpc": {"nodes_share_vpc": false}}"#);
    let c = run(
        pod("192.168.1.5", &n.m6i),
        pod("192.168.2.6", &n.c7g),
        &apart,
        &none(),
    );
    assert_eq!(c.verdict, CoverageStatus::Unknown);
    assert!(c.has_reason(reason::NITRO_VPC_NOT_SHARED));

    let eu = node(
        "n-eu",
        "10.0.1.1",
        Some("m6i.large"),
        &[(REGION_LABEL, "eu-west-1")],
    );
    let us = node(
        "n-us",
        "10.9.1.1",
        Some("m6i.large"),
        &[(REGION_LABEL, "us-east-1")],
    );
    let c = run(
        pod("192.168.1.1", &eu),
        pod("192.168.9.1", &us),
        &cfg(VPC_CNI),
        &none(),
    );
    assert_eq!(c.verdict, CoverageStatus::NotCovered);
    assert_eq!(c.confidence, Confidence::Configured);
    assert!(c.has_reason(reason::NITRO_DIFFERENT_REGION));
    let eu2 = node(
        "n-eu2",
        "10.0.1.2",
        Some("m6i.large"),
        &[(REGION_LABEL, "eu-west-1")],
    );
    let c = run(
        pod("192.168.1.1", &eu),
        pod("192.168.1.2", &eu2),
        &cfg(VPC_CNI),
        &none(),
    );
    assert_eq!(c.covered_by, Some(CoveredBy::Nitro));
}

#[test]
fn vpc_encryption_controls_enforce_covers_any_instance_type() {
    let n = nodes();
    let enforce = cfg(r#"{"cni": "aws-vpc-cni", "vpc": {"encryption_controls": "enforce"}}"#);
    let c = run(
        pod("192.168.3.7", &n.t3),
        pod("192.168.4.8", &n.m5),
        &enforce,
        &none(),
    );
    assert_eq!(c.verdict, CoverageStatus::Covered);
    assert_eq!(c.covered_by, Some(CoveredBy::Nitro));
    assert_eq!(c.confidence, Confidence::Configured);
    assert!(c.has_reason(reason::VPC_ENCRYPTION_CONTROLS_ENFORCE));
    // A capture cannot see gateways enforce mode may exclude: assumed, and said.
    assert!(c.has_reason(reason::NITRO_NO_HOP_ASSUMED));
    for r in &c.reasons {
        assert!(!r.detail.contains("  "), "{}: {:?}", r.id, r.detail);
    }
    let monitor = cfg(r#"{"cni": "aws-vpc-cni", "vpc": {"encryption_controls": "monitor"}}"#);
    let c = run(
        pod("192.168.3.7", &n.t3),
        pod("192.168.4.8", &n.m5),
        &monitor,
        &none(),
    );
    assert_eq!(c.verdict, CoverageStatus::NotCovered);
}

// ---- Same node, Fargate, unresolved -------------------------------------

#[test]
fn same_node_pods_are_never_covered_whatever_else_says_so() {
    let n = nodes();
    let calico = cfg(r#"{"cni": "calico", "calico": {"wireguard_enabled": true}}"#);
    let wire = WireEvidence {
        wireguard: true,
        ..WireEvidence::default()
    };
    // m6i encrypts and Calico WireGuard is on, yet same node means no wire.
    let c = run(
        pod("192.168.1.5", &n.m6i),
        pod("192.168.1.6", &n.m6i),
        &calico,
        &wire,
    );
    assert_eq!(c.verdict, CoverageStatus::NotCovered);
    assert_eq!(c.covered_by, None);
    assert_eq!(c.confidence, Confidence::Configured);
    assert_eq!(c.reason_ids(), [reason::SAME_NODE]);
    assert!(c.reasons[0].detail.contains("node n-m6i"));
}

#[test]
fn pod_to_its_own_node_and_same_address_are_same_node() {
    let n = nodes();
    let c = run(
        pod("192.168.1.5", &n.m6i),
        FlowEnd::host_network(ip("10.0.1.10"), &n.m6i),
        &cfg(VPC_CNI),
        &none(),
    );
    assert_eq!(
        (c.verdict, c.reason_ids()),
        (CoverageStatus::NotCovered, vec![reason::SAME_NODE])
    );
    // Node known only by name on one side.
    let c = run(
        pod("192.168.1.5", &n.m6i),
        FlowEnd::pod(ip("192.168.1.9"), NodeRef::Named("n-m6i")),
        &cfg(VPC_CNI),
        &none(),
    );
    assert_eq!(c.verdict, CoverageStatus::NotCovered);
    assert!(c.has_reason(reason::SAME_NODE));
    // Same address (even unresolved): loopback-like, never on the wire.
    let c = run(
        FlowEnd::unresolved(ip("10.9.9.9")),
        FlowEnd::unresolved(ip("::ffff:10.9.9.9")),
        &cfg(VPC_CNI),
        &none(),
    );
    assert_eq!(c.verdict, CoverageStatus::NotCovered);
    assert!(c.has_reason(reason::SAME_NODE));
}

#[test]
fn fargate_is_unknown_and_never_covered_by_nitro_or_cni() {
    let n = nodes();
    let by_label = node(
        "ip-10-0-7-7",
        "10.0.7.7",
        None,
        &[(FARGATE_LABEL, "fargate")],
    );
    let mut by_provider = node("ip-10-0-7-8", "10.0.7.8", None, &[]);
    by_provider.provider_id = Some("aws:///eu-west-1a/fargate-10.0.7.8".to_owned());
    let by_name = node(
        "fargate-ip-10-0-7-9.eu-west-1.compute.internal",
        "10.0.7.9",
        None,
        &[],
    );
    let calico = cfg(r#"{"cni": "aws-vpc-cni", "calico": {"wireguard_enabled": true}}"#);
    for f in [&by_label, &by_provider, &by_name] {
        assert!(is_fargate_node(f), "{}", f.name);
        let c = run(
            pod("192.168.1.5", &n.m6i),
            pod("10.0.7.50", f),
            &calico,
            &none(),
        );
        assert_eq!(c.verdict, CoverageStatus::Unknown, "{}", f.name);
        assert_eq!(c.covered_by, None);
        assert_eq!(c.confidence, Confidence::Inferred);
        assert!(c.has_reason(reason::FARGATE));
        // Calico's WireGuard is never claimed for a Fargate end.
        assert!(!c.has_reason(reason::CNI_WIREGUARD));
    }
    assert!(!is_fargate_node(&n.m6i));
    let named = FlowEnd::pod(ip("10.0.7.51"), NodeRef::Named("fargate-ip-10-0-7-51"));
    assert!(named.is_fargate());
}

#[test]
fn fargate_with_a_non_encrypting_peer_is_not_covered() {
    let n = nodes();
    let f = node(
        "ip-10-0-7-7",
        "10.0.7.7",
        None,
        &[(FARGATE_LABEL, "fargate")],
    );
    let c = run(
        pod("192.168.3.7", &n.t3),
        pod("10.0.7.7", &f),
        &cfg(VPC_CNI),
        &none(),
    );
    // Nitro needs both ends; t3 alone rules it out. No CNI on Fargate.
    assert_eq!(c.verdict, CoverageStatus::NotCovered);
    assert!(c.has_reason(reason::FARGATE));
    assert!(c.has_reason(reason::NITRO_NOT_ENCRYPTING));
}

#[test]
fn fargate_is_covered_only_when_vpc_encryption_controls_enforce() {
    let n = nodes();
    let f = node(
        "ip-10-0-7-7",
        "10.0.7.7",
        None,
        &[(FARGATE_LABEL, "fargate")],
    );
    let enforce = cfg(r#"{"cni": "aws-vpc-cni", "vpc": {"encryption_controls": "enforce"}}"#);
    let c = run(
        pod("192.168.1.5", &n.m6i),
        pod("10.0.7.7", &f),
        &enforce,
        &none(),
    );
    assert_eq!(c.verdict, CoverageStatus::Covered);
    assert_eq!(c.covered_by, Some(CoveredBy::Nitro));
    assert!(c.has_reason(reason::FARGATE));
}

#[test]
fn unresolved_endpoint_is_unknown_even_with_cni_encryption() {
    let n = nodes();
    let calico = cfg(r#"{"cni": "calico", "calico": {"wireguard_enabled": true}}"#);
    let c = run(
        pod("192.168.1.5", &n.m6i),
        FlowEnd::unresolved(ip("52.1.2.3")),
        &calico,
        &none(),
    );
    assert_eq!(c.verdict, CoverageStatus::Unknown);
    assert_eq!(c.reason_ids(), [reason::ENDPOINT_UNRESOLVED]);
    assert!(
        c.reasons[0]
            .detail
            .starts_with("52.1.2.3 is not a pod or node")
    );
}

#[test]
fn pod_with_unknown_node_is_unknown() {
    let n = nodes();
    let calico = cfg(r#"{"cni": "calico", "calico": {"wireguard_enabled": true}}"#);
    let c = run(
        pod("192.168.1.5", &n.m6i),
        FlowEnd::pod(ip("192.168.8.8"), NodeRef::Unknown),
        &calico,
        &none(),
    );
    assert_eq!(c.verdict, CoverageStatus::Unknown);
    assert!(c.has_reason(reason::NODE_UNKNOWN));
    assert!(!c.has_reason(reason::CNI_WIREGUARD));
}

// ---- Weave ----------------------------------------------------------------

mod cni;
mod wire;
