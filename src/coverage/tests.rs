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
    assert_eq!(c.verdict, Verdict::Covered);
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
    assert_eq!(c.verdict, Verdict::NotCovered);
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
    assert_eq!(c.verdict, Verdict::Unknown);
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
    assert_eq!(assumed.verdict, Verdict::Covered);
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
    assert_eq!(c.verdict, Verdict::Covered);
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
    assert_eq!(c.verdict, Verdict::NotCovered);
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
        assert_eq!(c.verdict, Verdict::Unknown, "{}", other.name);
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
    assert_eq!(c.verdict, Verdict::Unknown);
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
    assert_eq!(c.verdict, Verdict::Covered);
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
    assert_eq!(c.verdict, Verdict::Unknown);
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
    assert_eq!(c.verdict, Verdict::NotCovered);
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
    assert_eq!(c.verdict, Verdict::Covered);
    assert_eq!(c.covered_by, Some(CoveredBy::Nitro));
    assert_eq!(c.confidence, Confidence::Configured);
    assert!(c.has_reason(reason::VPC_ENCRYPTION_CONTROLS_ENFORCE));
    // A capture cannot see gateways enforce mode may exclude: assumed, and said.
    assert!(c.has_reason(reason::NITRO_NO_HOP_ASSUMED));
    let monitor = cfg(r#"{"cni": "aws-vpc-cni", "vpc": {"encryption_controls": "monitor"}}"#);
    let c = run(
        pod("192.168.3.7", &n.t3),
        pod("192.168.4.8", &n.m5),
        &monitor,
        &none(),
    );
    assert_eq!(c.verdict, Verdict::NotCovered);
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
    assert_eq!(c.verdict, Verdict::NotCovered);
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
        (Verdict::NotCovered, vec![reason::SAME_NODE])
    );
    // Node known only by name on one side.
    let c = run(
        pod("192.168.1.5", &n.m6i),
        FlowEnd::pod(ip("192.168.1.9"), NodeRef::Named("n-m6i")),
        &cfg(VPC_CNI),
        &none(),
    );
    assert_eq!(c.verdict, Verdict::NotCovered);
    assert!(c.has_reason(reason::SAME_NODE));
    // Same address (even unresolved): loopback-like, never on the wire.
    let c = run(
        FlowEnd::unresolved(ip("10.9.9.9")),
        FlowEnd::unresolved(ip("::ffff:10.9.9.9")),
        &cfg(VPC_CNI),
        &none(),
    );
    assert_eq!(c.verdict, Verdict::NotCovered);
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
        assert_eq!(c.verdict, Verdict::Unknown, "{}", f.name);
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
    assert_eq!(c.verdict, Verdict::NotCovered);
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
    assert_eq!(c.verdict, Verdict::Covered);
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
    assert_eq!(c.verdict, Verdict::Unknown);
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
    assert_eq!(c.verdict, Verdict::Unknown);
    assert!(c.has_reason(reason::NODE_UNKNOWN));
    assert!(!c.has_reason(reason::CNI_WIREGUARD));
}

// ---- Weave ----------------------------------------------------------------

#[test]
fn weave_with_password_covers_via_ipsec_or_nacl() {
    let n = nodes();
    let fastdp = cfg(r#"{"cni": "weave", "weave": {"password_set": true}}"#);
    let c = run(
        pod("10.32.0.5", &n.t3),
        pod("10.40.0.6", &n.m5),
        &fastdp,
        &none(),
    );
    assert_eq!(c.verdict, Verdict::Covered);
    assert_eq!(c.covered_by, Some(CoveredBy::WeaveIpsec));
    assert_eq!(c.confidence, Confidence::Configured);
    assert!(c.has_reason(reason::WEAVE_ENCRYPTED));

    let sleeve =
        cfg(r#"{"cni": "weave", "weave": {"password_set": true, "fast_datapath": false}}"#);
    let c = run(
        pod("10.32.0.5", &n.t3),
        pod("10.40.0.6", &n.m5),
        &sleeve,
        &none(),
    );
    assert_eq!(c.covered_by, Some(CoveredBy::WeaveNacl));
}

#[test]
fn weave_without_password_is_not_covered_unless_nitro() {
    let n = nodes();
    let open = cfg(r#"{"cni": "weave", "weave": {"password_set": false}}"#);
    let c = run(
        pod("10.32.0.5", &n.t3),
        pod("10.40.0.6", &n.m5),
        &open,
        &none(),
    );
    assert_eq!(c.verdict, Verdict::NotCovered);
    assert!(c.has_reason(reason::WEAVE_NO_PASSWORD));
    let c = run(
        pod("10.32.0.5", &n.m6i),
        pod("10.40.0.6", &n.c7g),
        &open,
        &none(),
    );
    assert_eq!(c.verdict, Verdict::Covered);
    assert_eq!(c.covered_by, Some(CoveredBy::Nitro));
    assert!(c.has_reason(reason::WEAVE_NO_PASSWORD));
}

#[test]
fn weave_peers_both_in_trusted_subnets_are_not_covered() {
    let n = nodes();
    let trusted = cfg(
        r#"{"cni": "weave", "weave": {"password_set": true, "trusted_subnets": ["10.0.0.0/16"]}}"#,
    );
    let c = run(
        pod("10.32.0.5", &n.t3),
        pod("10.40.0.6", &n.m5),
        &trusted,
        &none(),
    );
    assert_eq!(c.verdict, Verdict::NotCovered);
    assert_eq!(c.confidence, Confidence::Inferred);
    assert!(c.has_reason(reason::WEAVE_TRUSTED_SUBNETS));
    assert!(!c.has_reason(reason::WEAVE_ENCRYPTED));
    let detail = &c.reasons[0].detail;
    assert!(
        detail.contains("10.0.0.0/16") && detail.contains("n-t3"),
        "{detail}"
    );

    // One peer outside the trusted subnet: Weave encrypts.
    let outside = node("n-out", "172.16.0.9", Some("t3.large"), &[]);
    let c = run(
        pod("10.32.0.5", &n.t3),
        pod("10.44.0.1", &outside),
        &trusted,
        &none(),
    );
    assert_eq!(c.verdict, Verdict::Covered);
    assert_eq!(c.covered_by, Some(CoveredBy::WeaveIpsec));
}

#[test]
fn weave_trusted_subnets_with_unknown_node_addresses_are_unknown() {
    let trusted = cfg(
        r#"{"cni": "weave", "weave": {"password_set": true, "trusted_subnets": ["10.0.0.0/16"]}}"#,
    );
    let c = run(
        FlowEnd::pod(ip("10.32.0.5"), NodeRef::Named("n-1")),
        FlowEnd::pod(ip("10.40.0.6"), NodeRef::Named("n-2")),
        &trusted,
        &none(),
    );
    assert_eq!(c.verdict, Verdict::Unknown);
    assert!(c.has_reason(reason::WEAVE_TRUSTED_UNDETERMINED));
}

#[test]
fn weave_does_not_cover_host_network_endpoints() {
    let n = nodes();
    let w = cfg(r#"{"cni": "weave", "weave": {"password_set": true}}"#);
    let c = run(
        pod("10.32.0.5", &n.t3),
        FlowEnd::host_network(ip("10.0.4.40"), &n.m5),
        &w,
        &none(),
    );
    assert_eq!(c.verdict, Verdict::NotCovered);
    assert!(c.has_reason(reason::CNI_HOST_NOT_ENCRYPTED));
}

// ---- Calico / Cilium / Flannel ---------------------------------------------

#[test]
fn calico_wireguard_covers_when_enabled_for_the_ip_family() {
    let n = nodes();
    let on = cfg(r#"{"cni": "calico", "calico": {"wireguard_enabled": true}}"#);
    let c = run(
        pod("192.168.3.7", &n.t3),
        pod("192.168.4.8", &n.m5),
        &on,
        &none(),
    );
    assert_eq!(
        (c.verdict, c.covered_by, c.confidence),
        (
            Verdict::Covered,
            Some(CoveredBy::WireGuard),
            Confidence::Configured
        )
    );
    assert!(c.has_reason(reason::CNI_WIREGUARD));

    let off = cfg(r#"{"cni": "calico", "calico": {"wireguard_enabled": false}}"#);
    let c = run(
        pod("192.168.3.7", &n.t3),
        pod("192.168.4.8", &n.m5),
        &off,
        &none(),
    );
    assert_eq!(c.verdict, Verdict::NotCovered);
    assert!(c.has_reason(reason::CNI_ENCRYPTION_DISABLED));

    // IPv6 pods with only IPv4 WireGuard on.
    let c = run(pod("fd00::7", &n.t3), pod("fd00::8", &n.m5), &on, &none());
    assert_eq!(c.verdict, Verdict::NotCovered);
    assert!(
        c.reasons
            .iter()
            .any(|r| r.detail.contains("wireguardEnabledV6"))
    );
    let v6 = cfg(
        r#"{"cni": "calico", "calico": {"wireguard_enabled": false, "wireguard_enabled_v6": true}}"#,
    );
    let c = run(pod("fd00::7", &n.t3), pod("fd00::8", &n.m5), &v6, &none());
    assert_eq!(c.covered_by, Some(CoveredBy::WireGuard));
}

#[test]
fn calico_on_vpc_cni_and_host_encryption() {
    let n = nodes();
    let chained = cfg(r#"{"cni": "aws-vpc-cni", "calico": {"wireguard_enabled": true}}"#);
    let host = FlowEnd::host_network(ip("10.0.4.40"), &n.m5);
    let c = run(pod("192.168.3.7", &n.t3), host.clone(), &chained, &none());
    assert_eq!(c.verdict, Verdict::NotCovered);
    assert!(c.has_reason(reason::CNI_HOST_NOT_ENCRYPTED));
    let with_host = cfg(
        r#"{"cni": "aws-vpc-cni", "calico": {"wireguard_enabled": true, "wireguard_host_encryption_enabled": true}}"#,
    );
    let c = run(pod("192.168.3.7", &n.t3), host, &with_host, &none());
    assert_eq!(c.covered_by, Some(CoveredBy::WireGuard));
}

#[test]
fn cilium_wireguard_ipsec_and_off() {
    let n = nodes();
    let cases = [
        (
            r#"{"wireguard": true, "ipsec": false}"#,
            Some(CoveredBy::WireGuard),
            reason::CNI_WIREGUARD,
        ),
        (
            r#"{"wireguard": false, "ipsec": true}"#,
            Some(CoveredBy::Ipsec),
            reason::CNI_IPSEC,
        ),
        (
            r#"{"wireguard": false, "ipsec": false}"#,
            None,
            reason::CNI_ENCRYPTION_DISABLED,
        ),
    ];
    for (section, want, id) in cases {
        let config = cfg(&format!(r#"{{"cni": "cilium", "cilium": {section}}}"#));
        let c = run(
            pod("10.1.0.7", &n.t3),
            pod("10.2.0.8", &n.m5),
            &config,
            &none(),
        );
        assert_eq!(c.covered_by, want, "{section}");
        assert!(c.has_reason(id), "{section}: {:?}", c.reason_ids());
    }
    // Host-network endpoints need nodeEncryption.
    let host = FlowEnd::host_network(ip("10.0.4.40"), &n.m5);
    let no_node = cfg(r#"{"cni": "cilium", "cilium": {"wireguard": true, "ipsec": false}}"#);
    let c = run(pod("10.1.0.7", &n.t3), host.clone(), &no_node, &none());
    assert_eq!(c.verdict, Verdict::NotCovered);
    let node_enc = cfg(
        r#"{"cni": "cilium", "cilium": {"wireguard": true, "ipsec": false, "node_encryption": true}}"#,
    );
    let c = run(pod("10.1.0.7", &n.t3), host, &node_enc, &none());
    assert_eq!(c.covered_by, Some(CoveredBy::WireGuard));
}

#[test]
fn flannel_backends() {
    let n = nodes();
    let cases = [
        ("wireguard", Verdict::Covered, Some(CoveredBy::WireGuard)),
        ("ipsec", Verdict::Covered, Some(CoveredBy::Ipsec)),
        ("vxlan", Verdict::NotCovered, None),
        ("host-gw", Verdict::NotCovered, None),
        ("other", Verdict::Unknown, None),
    ];
    for (backend, verdict, by) in cases {
        let config = cfg(&format!(
            r#"{{"cni": "flannel", "flannel": {{"backend": "{backend}"}}}}"#
        ));
        let c = run(
            pod("10.244.1.7", &n.t3),
            pod("10.244.2.8", &n.m5),
            &config,
            &none(),
        );
        assert_eq!((c.verdict, c.covered_by), (verdict, by), "{backend}");
    }
}

#[test]
fn cni_without_its_section_or_other_cni_is_unknown() {
    let n = nodes();
    for json in [
        r#"{"cni": "calico"}"#,
        r#"{"cni": "weave"}"#,
        r#"{"cni": "other"}"#,
    ] {
        let c = run(
            pod("10.1.0.7", &n.t3),
            pod("10.2.0.8", &n.m5),
            &cfg(json),
            &none(),
        );
        assert_eq!(c.verdict, Verdict::Unknown, "{json}");
        assert!(c.has_reason(reason::CNI_NOT_DESCRIBED), "{json}");
    }
}

// ---- Wire evidence ----------------------------------------------------------

#[test]
fn wire_esp_overrides_a_config_without_encryption_and_is_reported() {
    let n = nodes();
    let wire = WireEvidence::from_underlays([Underlay::Esp]);
    let c = run(
        pod("192.168.3.7", &n.t3),
        pod("192.168.4.8", &n.m5),
        &cfg(VPC_CNI),
        &wire,
    );
    assert_eq!(c.verdict, Verdict::Covered);
    assert_eq!(c.covered_by, Some(CoveredBy::Ipsec));
    assert_eq!(c.confidence, Confidence::Observed);
    assert!(c.has_reason(reason::WIRE_ENCRYPTED_UNDERLAY));
    assert_eq!(c.disagreements.len(), 1);
    assert!(c.disagreements[0].contains("wire shows ipsec"));
    assert!(c.disagreements[0].contains("says nothing encrypts it"));
}

#[test]
fn wire_confirming_config_is_observed_without_disagreement() {
    let n = nodes();
    let calico = cfg(r#"{"cni": "calico", "calico": {"wireguard_enabled": true}}"#);
    let wire = WireEvidence::from_underlays([Underlay::WireGuard]);
    let c = run(
        pod("192.168.3.7", &n.t3),
        pod("192.168.4.8", &n.m5),
        &calico,
        &wire,
    );
    assert_eq!(
        (c.verdict, c.covered_by, c.confidence),
        (
            Verdict::Covered,
            Some(CoveredBy::WireGuard),
            Confidence::Observed
        )
    );
    assert!(c.has_reason(reason::WIRE_ENCRYPTED_UNDERLAY));
    assert!(c.has_reason(reason::CNI_WIREGUARD));
    assert!(c.disagreements.is_empty());
}

#[test]
fn wire_flow_in_clear_beats_configured_wireguard() {
    let n = nodes();
    let calico = cfg(r#"{"cni": "calico", "calico": {"wireguard_enabled": true}}"#);
    let wire = WireEvidence {
        flow_in_clear: true,
        wireguard: true,
        ..WireEvidence::default()
    };
    let c = run(
        pod("192.168.3.7", &n.t3),
        pod("192.168.4.8", &n.m5),
        &calico,
        &wire,
    );
    assert_eq!(c.verdict, Verdict::NotCovered);
    // Observed (wire) and inferred (t3/m5 from the table): the weaker.
    assert_eq!(c.confidence, Confidence::Inferred);
    assert!(c.has_reason(reason::WIRE_FLOW_IN_CLEAR));
    assert_eq!(c.disagreements.len(), 1);
    assert!(c.disagreements[0].contains("wireguard encrypts it"));

    // On Nitro nodes the flow is still covered: Nitro is below the capture.
    let c = run(
        pod("192.168.1.5", &n.m6i),
        pod("192.168.2.6", &n.c7g),
        &calico,
        &wire,
    );
    assert_eq!(c.covered_by, Some(CoveredBy::Nitro));
    assert!(c.has_reason(reason::WIRE_FLOW_IN_CLEAR));
}

#[test]
fn wire_mechanism_differing_from_config_is_reported() {
    let n = nodes();
    let calico = cfg(r#"{"cni": "calico", "calico": {"wireguard_enabled": true}}"#);
    let wire = WireEvidence::from_underlays([Underlay::Esp]);
    let c = run(
        pod("192.168.3.7", &n.t3),
        pod("192.168.4.8", &n.m5),
        &calico,
        &wire,
    );
    assert_eq!(c.covered_by, Some(CoveredBy::Ipsec));
    assert_eq!(c.confidence, Confidence::Observed);
    assert_eq!(c.disagreements.len(), 1);
    assert!(c.disagreements[0].contains("wire shows ipsec"));
    assert!(c.disagreements[0].contains("wireguard encrypts it"));
}

#[test]
fn wire_plain_overlay_against_weave_password() {
    let n = nodes();
    let wire = WireEvidence::from_underlays([Underlay::Vxlan]);
    let password = cfg(r#"{"cni": "weave", "weave": {"password_set": true}}"#);
    let c = run(
        pod("10.32.0.5", &n.t3),
        pod("10.40.0.6", &n.m5),
        &password,
        &wire,
    );
    assert_eq!(c.verdict, Verdict::NotCovered);
    assert!(c.has_reason(reason::WIRE_PLAIN_UNDERLAY));
    assert_eq!(c.disagreements.len(), 1);
    assert!(c.disagreements[0].contains("weave-ipsec encrypts it"));

    // The trusted-subnets config predicts exactly this: no disagreement.
    let trusted = cfg(
        r#"{"cni": "weave", "weave": {"password_set": true, "trusted_subnets": ["10.0.0.0/8"]}}"#,
    );
    let c = run(
        pod("10.32.0.5", &n.t3),
        pod("10.40.0.6", &n.m5),
        &trusted,
        &wire,
    );
    assert_eq!(c.verdict, Verdict::NotCovered);
    assert!(c.has_reason(reason::WEAVE_TRUSTED_SUBNETS));
    assert!(c.disagreements.is_empty());
}

#[test]
fn weave_wire_kinds_map_to_weave_mechanisms() {
    let n = nodes();
    let w = cfg(r#"{"cni": "weave", "weave": {"password_set": true}}"#);
    let esp = WireEvidence::from_underlays([Underlay::Esp]);
    let c = run(pod("10.32.0.5", &n.t3), pod("10.40.0.6", &n.m5), &w, &esp);
    assert_eq!(c.covered_by, Some(CoveredBy::WeaveIpsec));
    assert!(c.disagreements.is_empty());
    // Sleeve fallback is an expected Weave datapath: no disagreement.
    let mut sleeve = WireEvidence::default();
    sleeve.record_weave_sleeve(true);
    let c = run(
        pod("10.32.0.5", &n.t3),
        pod("10.40.0.6", &n.m5),
        &w,
        &sleeve,
    );
    assert_eq!(c.covered_by, Some(CoveredBy::WeaveNacl));
    assert_eq!(c.confidence, Confidence::Observed);
    assert!(c.disagreements.is_empty());
    let mut plain = WireEvidence::default();
    plain.record_weave_sleeve(false);
    let c = run(pod("10.32.0.5", &n.t3), pod("10.40.0.6", &n.m5), &w, &plain);
    assert_eq!(c.verdict, Verdict::NotCovered);
    assert!(
        c.reasons
            .iter()
            .any(|r| r.detail.contains("plaintext Weave sleeve"))
    );
}

#[test]
fn mixed_wire_evidence_makes_configured_coverage_unknown() {
    let n = nodes();
    let calico = cfg(r#"{"cni": "calico", "calico": {"wireguard_enabled": true}}"#);
    let wire = WireEvidence::from_underlays([Underlay::WireGuard, Underlay::Vxlan]);
    let c = run(
        pod("192.168.3.7", &n.t3),
        pod("192.168.4.8", &n.m5),
        &calico,
        &wire,
    );
    assert_eq!(c.verdict, Verdict::Unknown);
    assert!(c.has_reason(reason::WIRE_MIXED_UNDERLAY));
    assert_eq!(c.disagreements.len(), 1);
    assert!(c.disagreements[0].contains("both encrypted and plaintext"));
    // With a config that already says "not covered", mixed evidence agrees.
    let off = cfg(r#"{"cni": "calico", "calico": {"wireguard_enabled": false}}"#);
    let c = run(
        pod("192.168.3.7", &n.t3),
        pod("192.168.4.8", &n.m5),
        &off,
        &wire,
    );
    assert_eq!(c.verdict, Verdict::NotCovered);
    assert!(c.disagreements.is_empty());
}

#[test]
fn wire_evidence_without_config_is_enough() {
    let n = nodes();
    let wire = WireEvidence::from_underlays([Underlay::WireGuard]);
    let c = run(
        pod("192.168.3.7", &n.t3),
        pod("192.168.4.8", &n.m5),
        &ClusterConfig::default(),
        &wire,
    );
    assert_eq!(
        (c.verdict, c.covered_by, c.confidence),
        (
            Verdict::Covered,
            Some(CoveredBy::WireGuard),
            Confidence::Observed
        )
    );
    assert!(c.disagreements.is_empty());
}

#[test]
fn node_pair_evidence_is_not_used_for_host_network_flows() {
    let n = nodes();
    let calico = cfg(r#"{"cni": "aws-vpc-cni", "calico": {"wireguard_enabled": true}}"#);
    let wire = WireEvidence::from_underlays([Underlay::WireGuard]);
    let c = run(
        pod("192.168.3.7", &n.t3),
        FlowEnd::host_network(ip("10.0.4.40"), &n.m5),
        &calico,
        &wire,
    );
    assert_eq!(c.verdict, Verdict::NotCovered);
    assert!(c.has_reason(reason::WIRE_NOT_APPLICABLE));
    assert!(c.has_reason(reason::CNI_HOST_NOT_ENCRYPTED));
    assert!(c.disagreements.is_empty());
}

#[test]
fn weave_handshake_against_password_setting() {
    let n = nodes();
    let mut wire = WireEvidence::default();
    wire.record_weave_handshake(false);
    let password = cfg(r#"{"cni": "weave", "weave": {"password_set": true}}"#);
    let c = run(
        pod("10.32.0.5", &n.t3),
        pod("10.40.0.6", &n.m5),
        &password,
        &wire,
    );
    assert_eq!(c.disagreements.len(), 1);
    assert!(c.disagreements[0].contains("announced no encryption"));
    // A handshake is control plane only: it does not decide coverage.
    assert_eq!(
        (c.verdict, c.confidence),
        (Verdict::Covered, Confidence::Configured)
    );

    let mut wire = WireEvidence::default();
    wire.record_weave_handshake(true);
    let open = cfg(r#"{"cni": "weave", "weave": {"password_set": false}}"#);
    let c = run(
        pod("10.32.0.5", &n.t3),
        pod("10.40.0.6", &n.m5),
        &open,
        &wire,
    );
    assert!(c.disagreements[0].contains("announced encryption"));
    let c = run(
        pod("10.32.0.5", &n.t3),
        pod("10.40.0.6", &n.m5),
        &cfg(VPC_CNI),
        &wire,
    );
    assert!(c.disagreements[0].contains("CNI is aws-vpc-cni"));
}

#[test]
fn wire_evidence_from_underlays() {
    let w = WireEvidence::from_underlays([
        Underlay::Esp,
        Underlay::Geneve,
        Underlay::WeaveSleeve,
        Underlay::WeaveControl,
    ]);
    assert_eq!(
        w,
        WireEvidence {
            esp: true,
            geneve: true,
            ..WireEvidence::default()
        }
    );
    assert!(!w.is_empty());
    assert!(WireEvidence::from_underlays([Underlay::WeaveControl]).is_empty());
    let mut w = WireEvidence::default();
    w.record(Underlay::Vxlan);
    w.record(Underlay::WireGuard);
    w.record_weave_sleeve(true);
    w.record_weave_sleeve(false);
    assert!(w.vxlan && w.wireguard && w.weave_sleeve_encrypted && w.weave_sleeve_plain);
}

// ---- Output shape -------------------------------------------------------

#[test]
fn reason_ids_are_stable_kebab_case_and_unique() {
    let mut seen = std::collections::HashSet::new();
    for id in reason::ALL {
        assert!(seen.insert(*id), "duplicate {id}");
        assert!(
            id.split('-').all(|part| !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())),
            "{id}"
        );
    }
    assert_eq!(reason::ALL.len(), 28);
}

#[test]
fn every_emitted_reason_id_is_listed() {
    let n = nodes();
    let configs = [
        ClusterConfig::default(),
        cfg(VPC_CNI),
        cfg(
            r#"{"cni": "weave", "weave": {"password_set": true, "trusted_subnets": ["10.0.0.0/16"]}}"#,
        ),
        cfg(
            r#"{"cni": "calico", "calico": {"wireguard_enabled": true}, "vpc": {"nodes_share_vpc": true}}"#,
        ),
        cfg(r#"{"cni": "cilium", "cilium": {"wireguard": false, "ipsec": true}}"#),
        cfg(r#"{"cni": "flannel", "flannel": {"backend": "vxlan"}}"#),
    ];
    let wires = [
        none(),
        WireEvidence::from_underlays([Underlay::Esp]),
        WireEvidence::from_underlays([Underlay::Vxlan, Underlay::WireGuard]),
    ];
    let ends = [
        pod("192.168.1.5", &n.m6i),
        pod("192.168.2.6", &n.c7g),
        pod("192.168.3.7", &n.t3),
        FlowEnd::host_network(ip("10.0.4.40"), &n.m5),
        FlowEnd::unresolved(ip("52.1.2.3")),
    ];
    let mut emitted = 0;
    for config in &configs {
        for wire in &wires {
            for a in &ends {
                for b in &ends {
                    let c = run(a.clone(), b.clone(), config, wire);
                    for r in &c.reasons {
                        assert!(reason::ALL.contains(&r.id), "{}", r.id);
                        assert!(!r.detail.is_empty());
                        emitted += 1;
                    }
                    // Covered always names the mechanism, and only then.
                    assert_eq!(c.covered_by.is_some(), c.verdict == Verdict::Covered);
                }
            }
        }
    }
    assert!(emitted > 500, "{emitted}");
}

#[test]
fn coverage_serializes_with_report_names() {
    let n = nodes();
    let c = run(
        pod("192.168.1.5", &n.m6i),
        pod("192.168.3.7", &n.t3),
        &cfg(VPC_CNI),
        &none(),
    );
    let v = serde_json::to_value(&c).expect("serialize");
    assert_eq!(v["verdict"], "not-covered");
    assert_eq!(v["confidence"], "inferred");
    assert_eq!(v["covered_by"], serde_json::Value::Null);
    assert_eq!(v["reasons"][0]["id"], "cni-no-encryption");
    let c = run(
        pod("192.168.1.5", &n.m6i),
        pod("192.168.2.6", &n.c7g),
        &cfg(VPC_CNI),
        &none(),
    );
    let v = serde_json::to_value(&c).expect("serialize");
    assert_eq!(
        (v["verdict"].as_str(), v["covered_by"].as_str()),
        (Some("covered"), Some("nitro"))
    );
    for (by, name) in [
        (CoveredBy::Nitro, "nitro"),
        (CoveredBy::WeaveIpsec, "weave-ipsec"),
        (CoveredBy::WeaveNacl, "weave-nacl"),
        (CoveredBy::WireGuard, "wireguard"),
        (CoveredBy::Ipsec, "ipsec"),
    ] {
        assert_eq!(by.as_str(), name);
        assert_eq!(serde_json::to_value(by).expect("serialize"), name);
    }
    assert_eq!(Verdict::NotCovered.as_str(), "not-covered");
    assert_eq!(Confidence::Observed.as_str(), "observed");
    assert!(
        Confidence::Inferred < Confidence::Configured
            && Confidence::Configured < Confidence::Observed
    );
}

#[test]
fn coverage_is_pure_and_symmetric_in_verdict() {
    let n = nodes();
    let calico = cfg(r#"{"cni": "calico", "calico": {"wireguard_enabled": true}}"#);
    let wire = WireEvidence::from_underlays([Underlay::WireGuard]);
    let first = run(
        pod("192.168.3.7", &n.t3),
        pod("192.168.1.5", &n.m6i),
        &calico,
        &wire,
    );
    let again = run(
        pod("192.168.3.7", &n.t3),
        pod("192.168.1.5", &n.m6i),
        &calico,
        &wire,
    );
    assert_eq!(first, again);
    let swapped = run(
        pod("192.168.1.5", &n.m6i),
        pod("192.168.3.7", &n.t3),
        &calico,
        &wire,
    );
    assert_eq!(
        (swapped.verdict, swapped.covered_by, swapped.confidence),
        (first.verdict, first.covered_by, first.confidence)
    );
}

#[test]
fn node_pair_evidence_is_not_used_for_fargate_or_unplaced_ends() {
    let n = nodes();
    let f = node(
        "ip-10-0-7-7",
        "10.0.7.7",
        None,
        &[(FARGATE_LABEL, "fargate")],
    );
    let wire = WireEvidence::from_underlays([Underlay::WireGuard]);
    let c = run(
        pod("192.168.1.5", &n.m6i),
        pod("10.0.7.7", &f),
        &cfg(VPC_CNI),
        &wire,
    );
    assert_eq!((c.verdict, c.covered_by), (Verdict::Unknown, None));
    assert!(c.has_reason(reason::WIRE_NOT_APPLICABLE));
    assert!(
        c.reasons
            .iter()
            .any(|r| r.detail.contains("runs on Fargate"))
    );
    assert!(c.disagreements.is_empty());

    let esp = WireEvidence::from_underlays([Underlay::Esp]);
    let c = run(
        pod("192.168.1.5", &n.m6i),
        FlowEnd::unresolved(ip("52.1.2.3")),
        &cfg(VPC_CNI),
        &esp,
    );
    assert_eq!(c.verdict, Verdict::Unknown);
    assert_eq!(
        c.reason_ids(),
        [reason::ENDPOINT_UNRESOLVED, reason::WIRE_NOT_APPLICABLE]
    );

    // The flow's own packets in clear still count for any endpoint.
    let clear = WireEvidence {
        flow_in_clear: true,
        ..WireEvidence::default()
    };
    let c = run(
        pod("192.168.3.7", &n.t3),
        pod("10.0.7.7", &f),
        &cfg(VPC_CNI),
        &clear,
    );
    assert_eq!(c.verdict, Verdict::NotCovered);
    assert!(c.has_reason(reason::WIRE_FLOW_IN_CLEAR));
}

#[test]
fn cni_coverage_is_preferred_over_nitro_when_both_apply() {
    let n = nodes();
    let calico = cfg(r#"{"cni": "calico", "calico": {"wireguard_enabled": true}}"#);
    let c = run(
        pod("192.168.1.5", &n.m6i),
        pod("192.168.2.6", &n.c7g),
        &calico,
        &none(),
    );
    // WireGuard rests on configuration, Nitro on the table and assumptions.
    assert_eq!(
        (c.verdict, c.covered_by, c.confidence),
        (
            Verdict::Covered,
            Some(CoveredBy::WireGuard),
            Confidence::Configured
        )
    );
    // Nitro is still explained.
    assert!(c.has_reason(reason::CNI_WIREGUARD));
    assert!(c.has_reason(reason::NITRO_BOTH_ENCRYPT));
}
