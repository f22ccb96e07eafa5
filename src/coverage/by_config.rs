//! The configuration layer of a coverage verdict: what the cluster config
//! (or the CNI settings read from the cluster) says each CNI encrypts, for
//! pod traffic and for host-network traffic.

use super::*;

/// The mechanisms the config says are in use (for choosing among, and
/// comparing with, what the wire shows).
pub(super) fn configured_mechanisms(cfg: &ClusterConfig) -> Vec<CoveredBy> {
    let mut out = Vec::new();
    if let Some(w) = cfg.weave.as_ref().filter(|w| w.password_set) {
        if w.fast_datapath {
            out.push(CoveredBy::WeaveIpsec);
        }
        // Sleeve is always possible: the fallback when fast datapath fails.
        out.push(CoveredBy::WeaveNacl);
    }
    if cfg
        .calico
        .as_ref()
        .is_some_and(|c| c.wireguard_enabled || c.wireguard_enabled_v6)
    {
        out.push(CoveredBy::WireGuard);
    }
    if let Some(c) = &cfg.cilium {
        if c.wireguard {
            out.push(CoveredBy::WireGuard);
        }
        if c.ipsec {
            out.push(CoveredBy::Ipsec);
        }
    }
    match cfg.flannel.as_ref().map(|f| f.backend) {
        Some(FlannelBackend::Wireguard) => out.push(CoveredBy::WireGuard),
        Some(FlannelBackend::Ipsec) => out.push(CoveredBy::Ipsec),
        _ => {}
    }
    out
}

/// Weave handshakes against `weave.password_set`.
pub(super) fn weave_handshake_check(cfg: &ClusterConfig, wire: &WireEvidence, notes: &mut Notes) {
    let seen = wire.weave_handshake_encrypted || wire.weave_handshake_plain;
    match &cfg.weave {
        Some(w) if w.password_set && wire.weave_handshake_plain => notes.disagree(
            "a Weave handshake between the nodes announced no encryption, but the cluster config \
             says weave.password_set",
        ),
        Some(w) if !w.password_set && wire.weave_handshake_encrypted => notes.disagree(
            "a Weave handshake between the nodes announced encryption, but the cluster config \
             says no Weave password is set",
        ),
        None if seen && !matches!(cfg.cni, Cni::Weave | Cni::Unspecified | Cni::Other) => {
            notes.disagree(format!(
                "Weave control traffic seen between the nodes, but the cluster config says the CNI \
                 is {}",
                cfg.cni.as_str()
            ));
        }
        _ => {}
    }
}

/// What the cluster config says about the CNI for this flow.
pub(super) fn config_layer(
    flow: &FlowEnds<'_>,
    same_node: Option<bool>,
    cfg: &ClusterConfig,
    notes: &mut Notes,
) -> Layer {
    if cfg.cni == Cni::Unspecified {
        notes.reason(
            reason::CNI_NOT_DESCRIBED,
            "no cluster config given: the CNI's encryption is not known",
        );
        return Layer::Unknown;
    }
    let ends = flow.ends();
    if ends.iter().any(|e| e.kind == EndKind::Unresolved) {
        return Layer::Unknown;
    }
    if ends.iter().any(|e| e.is_fargate()) {
        return Layer::NotCovered(Confidence::Inferred);
    }
    if same_node.is_none() {
        return Layer::Unknown;
    }
    let host = ends.iter().any(|e| e.kind == EndKind::HostNetwork);
    let not_described = |notes: &mut Notes| {
        notes.reason(
            reason::CNI_NOT_DESCRIBED,
            format!(
                "the cluster config names CNI {} but does not describe its encryption",
                cfg.cni.as_str()
            ),
        );
        Layer::Unknown
    };
    match cfg.cni {
        Cni::AwsVpcCni => match (&cfg.calico, &cfg.cilium) {
            (Some(c), _) => calico(c, flow, host, notes),
            (None, Some(c)) => cilium(c, host, notes),
            (None, None) => {
                notes.reason(
                    reason::CNI_NO_ENCRYPTION,
                    "the Amazon VPC CNI has no encryption of its own and no encrypting plugin is \
                     configured on top of it",
                );
                Layer::NotCovered(Confidence::Configured)
            }
        },
        Cni::Weave => match &cfg.weave {
            Some(w) => weave(w, flow, host, notes),
            None => not_described(notes),
        },
        Cni::Calico => match &cfg.calico {
            Some(c) => calico(c, flow, host, notes),
            None => not_described(notes),
        },
        Cni::Cilium => match &cfg.cilium {
            Some(c) => cilium(c, host, notes),
            None => not_described(notes),
        },
        Cni::Flannel => match cfg.flannel.as_ref().map(|f| f.backend) {
            Some(backend) => flannel(backend, host, notes),
            None => not_described(notes),
        },
        Cni::Other | Cni::Unspecified => not_described(notes),
    }
}

/// "not covered: host-network traffic is not encrypted by `what`".
fn host_not_encrypted(what: &str, notes: &mut Notes) -> Layer {
    notes.reason(
        reason::CNI_HOST_NOT_ENCRYPTED,
        format!("an endpoint uses the host network, whose traffic {what} does not encrypt"),
    );
    Layer::NotCovered(Confidence::Configured)
}

/// Weave Net: password, trusted subnets.
fn weave(w: &WeaveConfig, flow: &FlowEnds<'_>, host: bool, notes: &mut Notes) -> Layer {
    if !w.password_set {
        notes.reason(
            reason::WEAVE_NO_PASSWORD,
            "Weave Net runs without a password (WEAVE_PASSWORD unset): peers do not encrypt",
        );
        return Layer::NotCovered(Confidence::Configured);
    }
    if host {
        return host_not_encrypted(
            "Weave Net (it carries only pods on the Weave network)",
            notes,
        );
    }
    if !w.trusted_subnets.is_empty() {
        let inside = |ips: &[IpAddr]| {
            ips.iter()
                .any(|ip| w.trusted_subnets.iter().any(|s| s.contains(*ip)))
        };
        let (a, b) = (flow.a.node_ips(), flow.b.node_ips());
        let subnets: Vec<String> = w.trusted_subnets.iter().map(ToString::to_string).collect();
        if a.is_empty() || b.is_empty() {
            notes.reason(
                reason::WEAVE_TRUSTED_UNDETERMINED,
                format!(
                    "Weave trusted subnets ({}) are set, but a node's address is not known, so \
                     whether both peers trust each other (and skip encryption) cannot be told",
                    subnets.join(", ")
                ),
            );
            return Layer::Unknown;
        }
        if inside(&a) && inside(&b) {
            notes.reason(
                reason::WEAVE_TRUSTED_SUBNETS,
                format!(
                    "Weave has a password, but both peers ({} and {}) are inside the trusted \
                     subnets ({}), so Weave connects them unencrypted",
                    flow.a.describe(),
                    flow.b.describe(),
                    subnets.join(", ")
                ),
            );
            return Layer::NotCovered(Confidence::Configured);
        }
    }
    let (by, how) = if w.fast_datapath {
        (
            CoveredBy::WeaveIpsec,
            "fast datapath as IPsec ESP (assumed; Weave falls back to NaCl sleeve per connection)",
        )
    } else {
        (
            CoveredBy::WeaveNacl,
            "the sleeve datapath with NaCl secretbox",
        )
    };
    notes.reason(
        reason::WEAVE_ENCRYPTED,
        format!(
            "Weave Net has a password and the peers are not both trusted: encrypted over {how}"
        ),
    );
    Layer::Covered(by, Confidence::Configured)
}

/// Calico WireGuard, per IP family.
fn calico(c: &CalicoConfig, flow: &FlowEnds<'_>, host: bool, notes: &mut Notes) -> Layer {
    let v6 = flow.a.ip.to_canonical().is_ipv6();
    let (enabled, setting) = if v6 {
        (c.wireguard_enabled_v6, "wireguardEnabledV6")
    } else {
        (c.wireguard_enabled, "wireguardEnabled")
    };
    if !enabled {
        notes.reason(
            reason::CNI_ENCRYPTION_DISABLED,
            format!("Calico WireGuard is off for this IP family ({setting}: false)"),
        );
        return Layer::NotCovered(Confidence::Configured);
    }
    if host && !c.wireguard_host_encryption_enabled {
        return host_not_encrypted(
            "Calico WireGuard (wireguardHostEncryptionEnabled: false)",
            notes,
        );
    }
    notes.reason(
        reason::CNI_WIREGUARD,
        format!("Calico WireGuard is on ({setting}: true)"),
    );
    Layer::Covered(CoveredBy::WireGuard, Confidence::Configured)
}

/// Cilium transparent encryption.
fn cilium(c: &CiliumConfig, host: bool, notes: &mut Notes) -> Layer {
    let (by, id, name) = match (c.wireguard, c.ipsec) {
        (true, _) => (CoveredBy::WireGuard, reason::CNI_WIREGUARD, "WireGuard"),
        (false, true) => (CoveredBy::Ipsec, reason::CNI_IPSEC, "IPsec"),
        (false, false) => {
            notes.reason(
                reason::CNI_ENCRYPTION_DISABLED,
                "Cilium transparent encryption is off (neither WireGuard nor IPsec)",
            );
            return Layer::NotCovered(Confidence::Configured);
        }
    };
    if host && !c.node_encryption {
        return host_not_encrypted(
            "Cilium encryption (encryption.nodeEncryption: false)",
            notes,
        );
    }
    notes.reason(id, format!("Cilium transparent encryption is on ({name})"));
    Layer::Covered(by, Confidence::Configured)
}

/// Flannel backends.
fn flannel(backend: FlannelBackend, host: bool, notes: &mut Notes) -> Layer {
    let (by, id, name) = match backend {
        FlannelBackend::Wireguard => (CoveredBy::WireGuard, reason::CNI_WIREGUARD, "wireguard"),
        FlannelBackend::Ipsec => (CoveredBy::Ipsec, reason::CNI_IPSEC, "ipsec"),
        FlannelBackend::Other => {
            notes.reason(
                reason::CNI_NOT_DESCRIBED,
                "the Flannel backend is not one this format describes",
            );
            return Layer::Unknown;
        }
        FlannelBackend::Vxlan
        | FlannelBackend::HostGw
        | FlannelBackend::Udp
        | FlannelBackend::Ipip => {
            notes.reason(
                reason::CNI_NO_ENCRYPTION,
                "the Flannel backend does not encrypt (vxlan, host-gw, udp and ipip are plaintext)",
            );
            return Layer::NotCovered(Confidence::Configured);
        }
    };
    if host {
        return host_not_encrypted("Flannel (it carries only pod traffic)", notes);
    }
    notes.reason(id, format!("Flannel uses the {name} backend"));
    Layer::Covered(by, Confidence::Configured)
}
