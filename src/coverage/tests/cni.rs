//! The CNI layer: Weave, Calico, Cilium, Flannel.

use super::*;

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
    assert_eq!(c.verdict, CoverageStatus::Covered);
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
    assert_eq!(c.verdict, CoverageStatus::NotCovered);
    assert!(c.has_reason(reason::WEAVE_NO_PASSWORD));
    let c = run(
        pod("10.32.0.5", &n.m6i),
        pod("10.40.0.6", &n.c7g),
        &open,
        &none(),
    );
    assert_eq!(c.verdict, CoverageStatus::Covered);
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
    assert_eq!(c.verdict, CoverageStatus::NotCovered);
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
    assert_eq!(c.verdict, CoverageStatus::Covered);
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
    assert_eq!(c.verdict, CoverageStatus::Unknown);
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
    assert_eq!(c.verdict, CoverageStatus::NotCovered);
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
            CoverageStatus::Covered,
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
    assert_eq!(c.verdict, CoverageStatus::NotCovered);
    assert!(c.has_reason(reason::CNI_ENCRYPTION_DISABLED));

    // IPv6 pods with only IPv4 WireGuard on.
    let c = run(pod("fd00::7", &n.t3), pod("fd00::8", &n.m5), &on, &none());
    assert_eq!(c.verdict, CoverageStatus::NotCovered);
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
    assert_eq!(c.verdict, CoverageStatus::NotCovered);
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
    assert_eq!(c.verdict, CoverageStatus::NotCovered);
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
        (
            "wireguard",
            CoverageStatus::Covered,
            Some(CoveredBy::WireGuard),
        ),
        ("ipsec", CoverageStatus::Covered, Some(CoveredBy::Ipsec)),
        ("vxlan", CoverageStatus::NotCovered, None),
        ("host-gw", CoverageStatus::NotCovered, None),
        ("other", CoverageStatus::Unknown, None),
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
        assert_eq!(c.verdict, CoverageStatus::Unknown, "{json}");
        assert!(c.has_reason(reason::CNI_NOT_DESCRIBED), "{json}");
    }
}

// ---- Wire evidence ----------------------------------------------------------
