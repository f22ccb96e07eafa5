//! Selectors pick flows for exemptions, scopes and waivers. One shape for all
//! three, so a user learns it once: every field set must match, a list
//! matches when any entry does, and `{}` matches every flow.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::Deserialize;

pub use crate::coverage::cluster_config::Cidr;
use crate::model::report::PodRef;

/// A set of flows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Selector {
    /// For people, and for the report's `exempted` counts.
    pub name: Option<String>,
    /// Server ports.
    pub ports: Vec<u16>,
    /// Server addresses: IPs or CIDR blocks.
    pub servers: Vec<String>,
    /// Client addresses: IPs or CIDR blocks.
    pub clients: Vec<String>,
    /// Namespaces of the server pod.
    pub namespaces: Vec<String>,
    /// Namespaces of the client pod.
    pub client_namespaces: Vec<String>,
    /// Labels the server pod must all carry.
    pub pod_labels: BTreeMap<String, String>,
    /// Application protocols as reports name them.
    pub app_protocols: Vec<String>,
    /// SHA-256 (hex) of a certificate the finding is about.
    pub certificates: Vec<String>,
}

/// What a selector is matched against: one flow, seen from the policy.
#[derive(Debug, Clone, Default)]
pub struct FlowContext<'a> {
    /// Client address.
    pub client_ip: Option<IpAddr>,
    /// Server address.
    pub server_ip: Option<IpAddr>,
    /// Server port.
    pub server_port: u16,
    /// The client's pod, if known.
    pub client_pod: Option<&'a PodRef>,
    /// The server's pod, if known.
    pub server_pod: Option<&'a PodRef>,
    /// The server pod's labels.
    pub server_labels: Option<&'a BTreeMap<String, String>>,
    /// Application protocol.
    pub app_protocol: Option<&'a str>,
    /// The certificate a finding is about.
    pub certificate: Option<&'a str>,
}

/// A [`FlowContext`] that owns its parts, kept to match waivers later.
#[derive(Debug, Clone, Default)]
pub struct OwnedContext {
    client_ip: Option<IpAddr>,
    server_ip: Option<IpAddr>,
    server_port: u16,
    client_pod: Option<PodRef>,
    server_pod: Option<PodRef>,
    server_labels: Option<BTreeMap<String, String>>,
    app_protocol: Option<String>,
}

impl OwnedContext {
    /// Keep a copy of `ctx`.
    pub fn of(ctx: &FlowContext<'_>) -> Self {
        OwnedContext {
            client_ip: ctx.client_ip,
            server_ip: ctx.server_ip,
            server_port: ctx.server_port,
            client_pod: ctx.client_pod.cloned(),
            server_pod: ctx.server_pod.cloned(),
            server_labels: ctx.server_labels.cloned(),
            app_protocol: ctx.app_protocol.map(str::to_string),
        }
    }

    /// The context again.
    pub fn as_ctx(&self) -> FlowContext<'_> {
        FlowContext {
            client_ip: self.client_ip,
            server_ip: self.server_ip,
            server_port: self.server_port,
            client_pod: self.client_pod.as_ref(),
            server_pod: self.server_pod.as_ref(),
            server_labels: self.server_labels.as_ref(),
            app_protocol: self.app_protocol.as_deref(),
            certificate: None,
        }
    }
}

impl Selector {
    /// Does this selector pick the flow?
    pub fn matches(&self, f: &FlowContext<'_>) -> bool {
        let any = |list: &[String], v: Option<&str>| {
            list.is_empty() || v.is_some_and(|v| list.iter().any(|x| x == v))
        };
        let in_cidrs = |list: &[String], ip: Option<IpAddr>| {
            list.is_empty()
                || ip.is_some_and(|ip| {
                    list.iter()
                        .any(|c| parse_cidr(c).is_ok_and(|c| c.contains(ip)))
                })
        };
        (self.ports.is_empty() || self.ports.contains(&f.server_port))
            && in_cidrs(&self.servers, f.server_ip)
            && in_cidrs(&self.clients, f.client_ip)
            && any(&self.namespaces, f.server_pod.map(|p| p.namespace.as_str()))
            && any(
                &self.client_namespaces,
                f.client_pod.map(|p| p.namespace.as_str()),
            )
            && (self.pod_labels.is_empty()
                || f.server_labels
                    .is_some_and(|l| self.pod_labels.iter().all(|(k, v)| l.get(k) == Some(v))))
            && any(&self.app_protocols, f.app_protocol)
            && (self.certificates.is_empty()
                || f.certificate
                    .is_some_and(|c| self.certificates.iter().any(|x| x.eq_ignore_ascii_case(c))))
    }

    /// The name to report, or a description of the selector.
    pub fn label(&self) -> String {
        self.name.clone().unwrap_or_else(|| "unnamed".into())
    }

    /// Check the addresses parse, so that a typo is an error, not a no-op.
    pub fn validate(&self) -> Result<(), String> {
        for c in self.servers.iter().chain(&self.clients) {
            parse_cidr(c)?;
        }
        Ok(())
    }
}

/// `10.0.0.0/8`, `fd00::/64`, or a single address. The cluster config's
/// type: a policy selector and the coverage check read an address alike
/// (an IPv4-mapped IPv6 address is its IPv4 address).
pub fn parse_cidr(s: &str) -> Result<Cidr, String> {
    let bad = || format!("`{s}` is not an IP address or CIDR block");
    if s.contains('/') {
        s.parse().map_err(|_| bad())
    } else {
        s.trim().parse().map(Cidr::host).map_err(|_| bad())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(ns: &str) -> PodRef {
        PodRef {
            namespace: ns.into(),
            name: "p".into(),
            service_account: "sa".into(),
            workload: None,
        }
    }

    #[test]
    fn cidrs() {
        let c = parse_cidr("10.1.0.0/16").unwrap();
        assert!(c.contains("10.1.255.3".parse().unwrap()));
        assert!(!c.contains("10.2.0.1".parse().unwrap()));
        assert!(!c.contains("::1".parse().unwrap()));
        assert!(
            parse_cidr("10.0.0.0/12")
                .unwrap()
                .contains("10.15.0.1".parse().unwrap())
        );
        assert!(
            !parse_cidr("10.0.0.0/12")
                .unwrap()
                .contains("10.16.0.1".parse().unwrap())
        );
        assert!(
            parse_cidr("fd00::/8")
                .unwrap()
                .contains("fd12::1".parse().unwrap())
        );
        assert!(
            parse_cidr("0.0.0.0/0")
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        assert!(
            parse_cidr("10.0.0.1")
                .unwrap()
                .contains("10.0.0.1".parse().unwrap())
        );
        for bad in ["10.0.0.0/33", "fd00::/129", "ten", "10.0.0.0/x", ""] {
            assert!(parse_cidr(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ipv4_mapped_addresses_fold_as_in_the_coverage_check() {
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        let config: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(config.contains(mapped));
        assert!(parse_cidr("10.0.0.0/8").unwrap().contains(mapped));
        assert!(
            parse_cidr("::ffff:10.0.0.1")
                .unwrap()
                .contains("10.0.0.1".parse().unwrap())
        );
        assert!(
            !parse_cidr("10.0.0.0/8")
                .unwrap()
                .contains("::1".parse().unwrap())
        );
        let flow = FlowContext {
            client_ip: Some(mapped),
            server_ip: Some(mapped),
            server_port: 443,
            client_pod: None,
            server_pod: None,
            server_labels: None,
            app_protocol: None,
            certificate: None,
        };
        let sel: Selector =
            serde_saphyr::from_str("{servers: [10.0.0.0/8], clients: [10.0.0.1]}").unwrap();
        assert!(sel.matches(&flow));
    }

    #[test]
    fn every_field_must_match() {
        let web = pod("web");
        let pay = pod("pay");
        let labels = BTreeMap::from([("app".to_string(), "api".to_string())]);
        let flow = FlowContext {
            client_ip: Some("10.0.0.1".parse().unwrap()),
            server_ip: Some("10.0.0.2".parse().unwrap()),
            server_port: 443,
            client_pod: Some(&web),
            server_pod: Some(&pay),
            server_labels: Some(&labels),
            app_protocol: Some("http/1.1"),
            certificate: Some("ABCD"),
        };
        assert!(Selector::default().matches(&flow));
        let sel = |y: &str| -> Selector { serde_saphyr::from_str(y).unwrap() };
        let yes = [
            "ports: [80, 443]",
            "servers: [10.0.0.0/24]",
            "clients: [10.0.0.1]",
            "namespaces: [pay]",
            "client_namespaces: [web]",
            "pod_labels: {app: api}",
            "app_protocols: [http/1.1]",
            "certificates: [abcd]",
            "{ports: [443], namespaces: [pay], clients: [10.0.0.0/8]}",
        ];
        for y in yes {
            assert!(sel(y).matches(&flow), "{y}");
        }
        let no = [
            "ports: [80]",
            "servers: [10.0.1.0/24]",
            "namespaces: [web]",
            "client_namespaces: [pay]",
            "pod_labels: {app: web}",
            "pod_labels: {app: api, tier: db}",
            "app_protocols: [dns]",
            "certificates: [ffff]",
            "{ports: [443], namespaces: [web]}",
        ];
        for y in no {
            assert!(!sel(y).matches(&flow), "{y}");
        }
        // Facts the flow lacks never match a selector that asks for them.
        let bare = FlowContext {
            server_port: 443,
            ..FlowContext::default()
        };
        assert!(!sel("namespaces: [pay]").matches(&bare));
        assert!(!sel("servers: [0.0.0.0/0]").matches(&bare));
        assert!(sel("ports: [443]").matches(&bare));
    }
}
