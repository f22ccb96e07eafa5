//! Underlay coverage of plaintext findings: Nitro, WireGuard, ESP and the
//! cluster configuration, through the verifier.

use serde_json::json;

use super::*;

/// Pods frontend (10.0.0.1) and api (10.0.0.2) on nodes `n1` and `n2` of
/// these instance types (the same node when `n2` is None).
fn cluster(t1: &str, t2: Option<&str>) -> Inventory {
    let node2 = if t2.is_some() { "n2" } else { "n1" };
    let pod = |ns: &str, name: &str, ip: &str, node: &str| {
        json!({
            "metadata": {"name": name, "namespace": ns},
            "spec": {"serviceAccountName": name, "nodeName": node},
            "status": {"phase": "Running", "podIP": ip, "startTime": "2026-11-27T10:00:00Z"}
        })
    };
    let node = |name: &str, ip: &str, t: &str| {
        json!({
            "metadata": {"name": name, "labels": {"node.kubernetes.io/instance-type": t}},
            "status": {"addresses": [{"type": "InternalIP", "address": ip}]}
        })
    };
    let pods = json!({"items": [pod("web", "frontend", "10.0.0.1", "n1"), pod("pay", "api", "10.0.0.2", node2)]});
    let mut nodes = vec![node("n1", "10.9.0.1", t1)];
    if let Some(t2) = t2 {
        nodes.push(node("n2", "10.9.0.2", t2));
    }
    let nodes = json!({"items": nodes});
    Inventory::from_json(
        Some(pods.to_string().as_bytes()),
        Some(nodes.to_string().as_bytes()),
    )
    .unwrap()
}

fn plaintext_between_pods() -> FlowRecord {
    flow("plaintext", ("10.0.0.1", 40000), ("10.0.0.2", 8080))
}

fn underlay_run(inv: Inventory) -> Run {
    Run {
        inventory: Some(inv),
        ..Run::default()
    }
}

#[test]
fn nitro_on_both_nodes_covers_plaintext() {
    let c =
        underlay_run(cluster("m6i.large", Some("c6i.xlarge"))).go(vec![plaintext_between_pods()]);
    let f = only(&c, "TA-PLAINTEXT-UNDERLAY");
    assert_eq!(f.severity, Severity::Info);
    assert_eq!(f.evidence["underlay"]["covered_by"], "nitro");
    assert!(
        f.message.contains("encrypted underneath: nitro"),
        "{}",
        f.message
    );
    // The matrix: node pairs, the diagonal is the same node (never covered).
    let m = c.coverage_matrix.as_ref().unwrap();
    assert_eq!(m.nodes, ["n1", "n2"]);
    assert_eq!(m.cells[0][1].covered_by.as_deref(), Some("nitro"));
    assert_ne!(m.cells[0][0].verdict, "covered");
}

#[test]
fn one_node_without_nitro_encryption_leaves_it_plaintext() {
    // m5 is not an in-transit-encrypting type (m5n is).
    let vpc_cni = r#"{"cni": "aws-vpc-cni"}"#;
    let go = |inv: Inventory, cfg: &str| {
        let cfg = crate::coverage::cluster_config::ClusterConfig::from_json(cfg).unwrap();
        let nitro = crate::coverage::nitro::NitroTable::builtin().unwrap();
        let mut v = Verifier::new(Policy::default(), Some(inv), None, 0).with_underlay(cfg, nitro);
        v.flow(&mut plaintext_between_pods());
        v.finish().2
    };
    let c = go(cluster("m6i.large", Some("m5.large")), vpc_cni);
    let f = only(&c, "TA-PLAINTEXT");
    assert_eq!(f.severity, Severity::High);
    assert_eq!(f.evidence["underlay"]["verdict"], "not-covered");
    // Without a cluster config the CNI might encrypt: unknown, still a finding.
    let c = underlay_run(cluster("m6i.large", Some("m5.large"))).go(vec![plaintext_between_pods()]);
    assert_eq!(
        only(&c, "TA-PLAINTEXT").evidence["underlay"]["verdict"],
        "unknown"
    );
    // Two pods on one node never cross the wire: no node encryption applies.
    let c = go(cluster("m6i.large", None), vpc_cni);
    let f = only(&c, "TA-PLAINTEXT");
    let reasons: Vec<_> = f.evidence["underlay"]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    assert!(reasons.iter().any(|r| r == "same-node"), "{reasons:?}");
}

/// ESP between the two nodes, seen in a flow that ends after the plaintext
/// one: the verdict is taken when the report is finished, so it counts.
#[test]
fn esp_seen_between_the_nodes_covers_it_whenever_it_comes() {
    let mut esp = flow("ipsec", ("10.9.0.1", 0), ("10.9.0.2", 0));
    esp.transport = crate::model::Transport::Esp;
    esp.app_protocol = Some("esp".into());
    let c = underlay_run(cluster("t3.medium", Some("t3.medium")))
        .go(vec![plaintext_between_pods(), esp]);
    let f = only(&c, "TA-PLAINTEXT-UNDERLAY");
    assert_eq!(f.evidence["underlay"]["covered_by"], "ipsec");
    assert_eq!(f.evidence["underlay"]["confidence"], "observed");
    let m = c.coverage_matrix.as_ref().unwrap();
    assert!(m.wire["n1 <> n2"].esp);
}

#[test]
fn calico_wireguard_from_the_cluster_config_covers_it() {
    let cfg = crate::coverage::cluster_config::ClusterConfig::from_json(
        r#"{"cni": "calico", "calico": {"wireguard_enabled": true}}"#,
    )
    .unwrap();
    let nitro = crate::coverage::nitro::NitroTable::builtin().unwrap();
    let mut v = Verifier::new(
        Policy::default(),
        Some(cluster("t3.medium", Some("t3.medium"))),
        None,
        0,
    )
    .with_underlay(cfg, nitro);
    v.flow(&mut plaintext_between_pods());
    let c = v.finish().2;
    let f = only(&c, "TA-PLAINTEXT-UNDERLAY");
    assert_eq!(f.evidence["underlay"]["covered_by"], "wireguard");
    assert_eq!(f.evidence["underlay"]["confidence"], "configured");
}

#[test]
fn waivers_and_overrides_follow_the_rule_a_finding_becomes() {
    let inv = cluster("m6i.large", Some("c6i.large"));
    let policy = "severity: {TA-PLAINTEXT-UNDERLAY: low}\n\
                  waivers:\n  - {rule: TA-PLAINTEXT-UNDERLAY, match: {ports: [8080]}, reason: documented Nitro path, expires: 2027-01-01}\n";
    let mut run = Run::policy(policy);
    run.inventory = Some(inv);
    let c = run.go(vec![plaintext_between_pods()]);
    let f = only(&c, "TA-PLAINTEXT-UNDERLAY");
    assert_eq!(f.severity, Severity::Low);
    assert_eq!(f.waived.as_ref().unwrap().reason, "documented Nitro path");
}

/// A TA-PLAINTEXT waiver that matched the finding before it became
/// TA-PLAINTEXT-UNDERLAY matched nothing in the end: its count says 0, and
/// no expired TA-PLAINTEXT waiver is left in the evidence.
#[test]
fn plaintext_waivers_do_not_count_findings_that_became_underlay() {
    let inv = cluster("m6i.large", Some("c6i.large"));
    let policy = "waivers:\n\
                  \x20 - {rule: TA-PLAINTEXT, match: {ports: [8080]}, reason: old, expires: 2020-01-01}\n\
                  \x20 - {rule: TA-PLAINTEXT, match: {ports: [8080]}, reason: current, expires: 2099-01-01}\n";
    let mut run = Run::policy(policy);
    run.inventory = Some(inv);
    let c = run.go(vec![plaintext_between_pods()]);
    let f = only(&c, "TA-PLAINTEXT-UNDERLAY");
    assert!(
        f.waived.is_none(),
        "no TA-PLAINTEXT-UNDERLAY waiver applies"
    );
    assert!(
        !f.evidence.contains_key("expired_waiver"),
        "{:?}",
        f.evidence
    );
    let matched: Vec<u64> = c.waivers.iter().map(|w| w.matched).collect();
    assert_eq!(matched, [0, 0]);
    // Where the flow stays plaintext (no Nitro), the same waivers count it.
    let mut run = Run::policy(policy);
    run.inventory = Some(cluster("m5.large", Some("m5.large")));
    let c = run.go(vec![plaintext_between_pods()]);
    let f = only(&c, "TA-PLAINTEXT");
    assert_eq!(f.waived.as_ref().unwrap().reason, "current");
    assert!(f.evidence.contains_key("expired_waiver"));
    let matched: Vec<u64> = c.waivers.iter().map(|w| w.matched).collect();
    assert_eq!(matched, [1, 1]);
}
