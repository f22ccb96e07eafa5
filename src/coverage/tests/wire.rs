//! Evidence from the wire against the configuration.

use super::*;

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
    assert_eq!(c.verdict, CoverageStatus::Covered);
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
            CoverageStatus::Covered,
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
    assert_eq!(c.verdict, CoverageStatus::NotCovered);
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
    assert_eq!(c.verdict, CoverageStatus::NotCovered);
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
    assert_eq!(c.verdict, CoverageStatus::NotCovered);
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
    assert_eq!(c.verdict, CoverageStatus::NotCovered);
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
    assert_eq!(c.verdict, CoverageStatus::Unknown);
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
    assert_eq!(c.verdict, CoverageStatus::NotCovered);
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
            CoverageStatus::Covered,
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
    assert_eq!(c.verdict, CoverageStatus::NotCovered);
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
        (CoverageStatus::Covered, Confidence::Configured)
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
                    assert_eq!(c.covered_by.is_some(), c.verdict == CoverageStatus::Covered);
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
    assert_eq!(CoverageStatus::NotCovered.as_str(), "not-covered");
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
    assert_eq!((c.verdict, c.covered_by), (CoverageStatus::Unknown, None));
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
    assert_eq!(c.verdict, CoverageStatus::Unknown);
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
    assert_eq!(c.verdict, CoverageStatus::NotCovered);
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
            CoverageStatus::Covered,
            Some(CoveredBy::WireGuard),
            Confidence::Configured
        )
    );
    // Nitro is still explained.
    assert!(c.has_reason(reason::CNI_WIREGUARD));
    assert!(c.has_reason(reason::NITRO_BOTH_ENCRYPT));
}
