//! The endpoints `kubectl tls-audit pod --active` probes: every TCP port
//! the selected pods declare (`spec.containers[].ports`, and those of
//! native sidecars: init containers with `restartPolicy: Always`), at the
//! pod's IP. UDP and SCTP ports are skipped (the probe speaks TCP). Pure:
//! the pods as the API returned them in, the targets out.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};

use k8s_openapi::api::core::v1::{Container, Pod};

use super::context::pod_name;
use crate::probe::{Host, Target};
use crate::report::model::ProbePod;

/// One declared port, ready to probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredPort {
    /// The pod, container and port name, for the `probes[]` record.
    pub pod: ProbePod,
    /// `podIP:containerPort`.
    pub target: Target,
}

/// The TCP ports `pods` declare, in pod order, each `(IP, port)` once;
/// and, per pod that gives none, why (for the report's warnings).
pub fn declared_ports(pods: &[Pod]) -> (Vec<DeclaredPort>, Vec<String>) {
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    let mut seen = HashSet::new();
    for pod in pods {
        let name = pod_name(pod);
        let ip = pod
            .status
            .as_ref()
            .and_then(|s| s.pod_ip.as_deref())
            .and_then(|ip| ip.parse::<IpAddr>().ok());
        let Some(ip) = ip else {
            skipped.push(format!("{name}: no pod IP; its ports are not probed"));
            continue;
        };
        let before = out.len();
        for c in containers(pod) {
            for p in c.ports.iter().flatten() {
                let tcp = p.protocol.as_deref().is_none_or(|proto| proto == "TCP");
                let Ok(port) = u16::try_from(p.container_port) else {
                    continue;
                };
                if !tcp || port == 0 || !seen.insert((ip, port)) {
                    continue;
                }
                out.push(DeclaredPort {
                    pod: ProbePod {
                        namespace: pod
                            .metadata
                            .namespace
                            .clone()
                            .unwrap_or_else(|| "default".into()),
                        name: pod.metadata.name.clone().unwrap_or_default(),
                        container: c.name.clone(),
                        port_name: p.name.clone(),
                    },
                    target: Target {
                        text: SocketAddr::new(ip, port).to_string(),
                        host: Host::Ip(ip),
                        port,
                    },
                });
            }
        }
        if out.len() == before {
            skipped.push(format!(
                "{name}: declares no TCP containerPort; nothing to probe"
            ));
        }
    }
    (out, skipped)
}

/// The containers whose ports count: the regular ones, then native
/// sidecars (init containers that keep running).
fn containers(pod: &Pod) -> impl Iterator<Item = &Container> {
    let spec = pod.spec.as_ref();
    let main = spec.into_iter().flat_map(|s| s.containers.iter());
    let sidecars = spec
        .into_iter()
        .flat_map(|s| s.init_containers.iter().flatten())
        .filter(|c| c.restart_policy.as_deref() == Some("Always"));
    main.chain(sidecars)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture_pods() -> Vec<Pod> {
        let text = include_str!("../../fixtures/cluster/pods.json");
        let list: serde_json::Value = serde_json::from_str(text).expect("json");
        serde_json::from_value(list["items"].clone()).expect("pods")
    }

    fn pod(name: &str) -> Pod {
        fixture_pods()
            .into_iter()
            .find(|p| p.metadata.name.as_deref() == Some(name))
            .expect("fixture pod")
    }

    #[test]
    fn every_tcp_port_of_every_container_at_the_pod_ip() {
        let (ports, skipped) = declared_ports(&[pod("api-7d9f8b6c5-x2k4p")]);
        assert!(skipped.is_empty(), "{skipped:?}");
        let got: Vec<(&str, &str, Option<&str>)> = ports
            .iter()
            .map(|p| {
                (
                    p.target.text.as_str(),
                    p.pod.container.as_str(),
                    p.pod.port_name.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("10.200.0.2:443", "api", Some("https")),
                ("10.200.0.2:8443", "api", Some("https-alt")),
                ("10.200.0.2:15090", "istio-proxy", Some("http-envoy-prom")),
            ]
        );
        assert_eq!(ports[0].pod.namespace, "pay");
        assert_eq!(ports[0].pod.name, "api-7d9f8b6c5-x2k4p");
        assert_eq!(ports[0].target.port, 443);
        assert_eq!(ports[0].target.sni(), None);
    }

    #[test]
    fn udp_is_skipped_and_a_pod_without_ports_or_ip_is_said() {
        // coredns declares 53/UDP and 53/TCP: only TCP is probed.
        let (ports, _) = declared_ports(&[pod("coredns-6b9575c64c-8fxqv")]);
        let got: Vec<(&str, Option<&str>)> = ports
            .iter()
            .map(|p| (p.target.text.as_str(), p.pod.port_name.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                ("10.200.0.53:53", Some("dns-tcp")),
                ("10.200.0.53:9153", Some("metrics"))
            ]
        );
        let mut no_ip = pod("frontend-5c6b7d8f9-q7r2m");
        if let Some(s) = no_ip.status.as_mut() {
            s.pod_ip = None;
        }
        let (ports, skipped) = declared_ports(&[pod("cache-warmup-29928060-h5sgn"), no_ip.clone()]);
        assert!(ports.is_empty());
        assert_eq!(
            skipped,
            [
                "web/cache-warmup-29928060-h5sgn: declares no TCP containerPort; nothing to probe",
                "web/frontend-5c6b7d8f9-q7r2m: no pod IP; its ports are not probed",
            ]
        );
    }

    #[test]
    fn native_sidecars_count_and_a_port_declared_twice_is_probed_once() {
        let mut p = pod("frontend-5c6b7d8f9-q7r2m");
        let spec = p.spec.as_mut().expect("spec");
        let mut sidecar: Container = serde_json::from_value(serde_json::json!({
            "name": "proxy", "restartPolicy": "Always",
            "ports": [{"containerPort": 15443}, {"containerPort": 8080, "name": "dup"}]
        }))
        .expect("container");
        let mut plain_init = sidecar.clone();
        plain_init.name = "migrate".into();
        plain_init.restart_policy = None;
        plain_init.ports = Some(vec![
            serde_json::from_value(serde_json::json!({"containerPort": 9999})).expect("port"),
        ]);
        sidecar.name = "proxy".into();
        spec.init_containers = Some(vec![plain_init, sidecar]);
        let (ports, _) = declared_ports(&[p]);
        let got: Vec<(&str, &str, Option<&str>)> = ports
            .iter()
            .map(|p| {
                (
                    p.target.text.as_str(),
                    p.pod.container.as_str(),
                    p.pod.port_name.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("10.200.0.1:8080", "frontend", Some("http")),
                ("10.200.0.1:15443", "proxy", None),
            ]
        );
    }
}
