//! The CNI's encryption settings, read from the cluster: what a
//! `--cluster-config` file says by hand, for `kubectl tls-audit pod`.
//!
//! Sources, each optional (a missing one is not an error; one that cannot
//! be read is a warning): the `aws-node`, `cilium`, `calico-node`,
//! `weave-net` and `kube-flannel-ds` DaemonSets, the `cilium-config` and
//! `kube-flannel-cfg` ConfigMaps, and Calico's `default`
//! FelixConfiguration. VPC facts (shared VPC, VPC Encryption Controls) are
//! not in the Kubernetes API: they stay unknown (assumed, and said so).
//!
//! The decision itself is [`from_objects`], a pure function of the JSON
//! objects, so it is tested without an API server.

use std::time::Duration;

use kube::Client;
use kube::api::GetParams;
use serde_json::Value;

use super::{ClusterError, read_body, timed};
use crate::coverage::cluster_config::{
    CalicoConfig, CiliumConfig, ClusterConfig, Cni, FlannelBackend, FlannelConfig, WeaveConfig,
};

/// Largest object read (a DaemonSet or ConfigMap is a few KiB).
const MAX_OBJECT_BYTES: u64 = 4 << 20;

/// The Kubernetes objects the CNI settings are read from.
#[derive(Debug, Default, Clone)]
pub struct CniObjects {
    /// `kube-system/aws-node` DaemonSet.
    pub aws_node: Option<Value>,
    /// `kube-system/cilium` DaemonSet.
    pub cilium: Option<Value>,
    /// `kube-system/cilium-config` ConfigMap.
    pub cilium_config: Option<Value>,
    /// `calico-node` DaemonSet (`kube-system` or `calico-system`).
    pub calico_node: Option<Value>,
    /// The `default` FelixConfiguration.
    pub felix: Option<Value>,
    /// `kube-system/weave-net` DaemonSet.
    pub weave: Option<Value>,
    /// `kube-flannel-ds` DaemonSet (`kube-flannel` or `kube-system`).
    pub flannel: Option<Value>,
    /// `kube-flannel-cfg` ConfigMap.
    pub flannel_config: Option<Value>,
}

const AWS_NODE: &[&str] = &["/apis/apps/v1/namespaces/kube-system/daemonsets/aws-node"];
const CILIUM: &[&str] = &["/apis/apps/v1/namespaces/kube-system/daemonsets/cilium"];
const CILIUM_CONFIG: &[&str] = &["/api/v1/namespaces/kube-system/configmaps/cilium-config"];
const CALICO_NODE: &[&str] = &[
    "/apis/apps/v1/namespaces/kube-system/daemonsets/calico-node",
    "/apis/apps/v1/namespaces/calico-system/daemonsets/calico-node",
];
const FELIX: &[&str] = &["/apis/crd.projectcalico.org/v1/felixconfigurations/default"];
const WEAVE: &[&str] = &["/apis/apps/v1/namespaces/kube-system/daemonsets/weave-net"];
const FLANNEL: &[&str] = &[
    "/apis/apps/v1/namespaces/kube-flannel/daemonsets/kube-flannel-ds",
    "/apis/apps/v1/namespaces/kube-system/daemonsets/kube-flannel-ds",
];
const FLANNEL_CONFIG: &[&str] = &[
    "/api/v1/namespaces/kube-flannel/configmaps/kube-flannel-cfg",
    "/api/v1/namespaces/kube-system/configmaps/kube-flannel-cfg",
];

/// Read the objects: the CNI DaemonSets, then the settings of the CNIs
/// found. `warnings` says which could not be read and why.
pub async fn fetch(client: &Client, timeout: Duration) -> (CniObjects, Vec<String>) {
    let mut warnings = Vec::new();
    let mut get = async |paths: &[&str]| -> Option<Value> {
        for path in paths {
            match get_object(client, path, timeout).await {
                Ok(Some(v)) => return Some(v),
                Ok(None) => {}
                Err(e) => warnings.push(format!("cannot read {path} ({e})")),
            }
        }
        None
    };
    let mut o = CniObjects {
        aws_node: get(AWS_NODE).await,
        cilium: get(CILIUM).await,
        calico_node: get(CALICO_NODE).await,
        weave: get(WEAVE).await,
        flannel: get(FLANNEL).await,
        ..CniObjects::default()
    };
    if o.cilium.is_some() {
        o.cilium_config = get(CILIUM_CONFIG).await;
    }
    if o.calico_node.is_some() {
        o.felix = get(FELIX).await;
    }
    if o.flannel.is_some() {
        o.flannel_config = get(FLANNEL_CONFIG).await;
    }
    (o, warnings)
}

/// One object, `None` when it does not exist (404).
async fn get_object(
    client: &Client,
    path: &str,
    timeout: Duration,
) -> Result<Option<Value>, ClusterError> {
    let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
    let req = kube::core::Request::new(dir)
        .get(name, &GetParams::default())
        .map_err(|e| ClusterError::Api(e.to_string()))?;
    // A 404 is an answer (the CNI is not this one), told by its status code.
    let read = async {
        match read_body(client, req, MAX_OBJECT_BYTES).await {
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
            r => r.map(Some),
        }
    };
    let Some(bytes) = timed(timeout, &format!("reading {path}"), read).await? else {
        return Ok(None);
    };
    if bytes.len() as u64 > MAX_OBJECT_BYTES {
        return Err(ClusterError::Api("the object is larger than 4 MiB".into()));
    }
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| ClusterError::Api(format!("not JSON: {e}")))
}

/// The cluster config the objects describe, or `None` when no known CNI
/// was found (coverage then stays `unknown`, as without a config file).
pub fn from_objects(o: &CniObjects) -> Option<ClusterConfig> {
    let mut seen = Vec::new();
    let cni = if o.aws_node.is_some() {
        seen.push("kube-system/aws-node DaemonSet");
        Cni::AwsVpcCni
    } else if o.cilium.is_some() {
        seen.push("cilium DaemonSet");
        Cni::Cilium
    } else if o.calico_node.is_some() {
        seen.push("calico-node DaemonSet");
        Cni::Calico
    } else if o.weave.is_some() {
        seen.push("kube-system/weave-net DaemonSet");
        Cni::Weave
    } else if o.flannel.is_some() {
        seen.push("kube-flannel-ds DaemonSet");
        Cni::Flannel
    } else {
        return None;
    };
    let mut cfg = ClusterConfig {
        cni,
        ..ClusterConfig::default()
    };
    // Cilium and Calico also run on top of the VPC CNI (chaining, policy).
    if o.cilium.is_some() || o.cilium_config.is_some() {
        cfg.cilium = o.cilium_config.as_ref().map(cilium_settings);
        seen.push("kube-system/cilium-config ConfigMap");
    }
    if let Some(felix) = &o.felix {
        cfg.calico = Some(calico_settings(felix));
        seen.push("default FelixConfiguration");
    } else if cni == Cni::Calico {
        // No FelixConfiguration named default: Calico's defaults (off).
        cfg.calico = Some(CalicoConfig {
            wireguard_enabled: false,
            wireguard_enabled_v6: false,
            wireguard_host_encryption_enabled: false,
            comment: Some("no default FelixConfiguration: WireGuard is off by default".into()),
        });
    }
    if cni == Cni::Weave {
        cfg.weave = o.weave.as_ref().map(weave_settings);
    }
    if cni == Cni::Flannel {
        cfg.flannel = Some(flannel_settings(o.flannel_config.as_ref()));
        if o.flannel_config.is_some() {
            seen.push("kube-flannel-cfg ConfigMap");
        }
    }
    cfg.comment = Some(format!(
        "read from the cluster by kubectl tls-audit: {}; VPC facts are not in the Kubernetes API",
        seen.join(", ")
    ));
    Some(cfg)
}

fn truthy(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

fn cilium_settings(cm: &Value) -> CiliumConfig {
    let data = &cm["data"];
    CiliumConfig {
        wireguard: truthy(data.get("enable-wireguard")),
        ipsec: truthy(data.get("enable-ipsec")),
        node_encryption: truthy(data.get("encrypt-node")),
        comment: Some(
            "kube-system/cilium-config: enable-wireguard, enable-ipsec, encrypt-node".into(),
        ),
    }
}

fn calico_settings(felix: &Value) -> CalicoConfig {
    let spec = &felix["spec"];
    CalicoConfig {
        wireguard_enabled: truthy(spec.get("wireguardEnabled")),
        wireguard_enabled_v6: truthy(spec.get("wireguardEnabledV6")),
        wireguard_host_encryption_enabled: truthy(spec.get("wireguardHostEncryptionEnabled")),
        comment: Some(
            "FelixConfiguration default: spec.wireguardEnabled(V6), wireguardHostEncryptionEnabled"
                .into(),
        ),
    }
}

/// The `weave` container's environment and arguments: `WEAVE_PASSWORD`
/// (a value or a reference to a Secret), `--trusted-subnets` (in
/// `EXTRA_ARGS` or the arguments), `WEAVE_NO_FASTDP`.
fn weave_settings(ds: &Value) -> WeaveConfig {
    let containers = ds["spec"]["template"]["spec"]["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let weave = containers
        .iter()
        .find(|c| c["name"] == "weave")
        .or(containers.first())
        .cloned()
        .unwrap_or(Value::Null);
    let env: Vec<&Value> = weave["env"]
        .as_array()
        .map(|e| e.iter().collect())
        .unwrap_or_default();
    let var = |name: &str| env.iter().find(|e| e["name"] == name).copied();
    let password_set = var("WEAVE_PASSWORD").is_some_and(|e| {
        e["value"].as_str().is_some_and(|v| !v.is_empty()) || e.get("valueFrom").is_some()
    });
    let mut words: Vec<String> = Vec::new();
    if let Some(extra) = var("EXTRA_ARGS").and_then(|e| e["value"].as_str()) {
        words.extend(extra.split_whitespace().map(String::from));
    }
    for key in ["command", "args"] {
        if let Some(a) = weave[key].as_array() {
            words.extend(a.iter().filter_map(|w| w.as_str()).map(String::from));
        }
    }
    let mut trusted = Vec::new();
    let mut it = words.iter();
    while let Some(w) = it.next() {
        let list = match w.strip_prefix("--trusted-subnets") {
            Some(rest) if rest.starts_with('=') => Some(rest[1..].to_string()),
            Some("") => it.next().cloned(),
            _ => None,
        };
        for cidr in list.iter().flat_map(|l| l.split(',')) {
            if let Ok(c) = cidr.trim().parse() {
                trusted.push(c);
            }
        }
    }
    WeaveConfig {
        password_set,
        trusted_subnets: trusted,
        fast_datapath: var("WEAVE_NO_FASTDP").is_none(),
        comment: Some(
            "kube-system/weave-net: WEAVE_PASSWORD, --trusted-subnets (EXTRA_ARGS or args), WEAVE_NO_FASTDP".into(),
        ),
    }
}

fn flannel_settings(cm: Option<&Value>) -> FlannelConfig {
    let backend = cm
        .and_then(|c| c["data"]["net-conf.json"].as_str())
        .and_then(|t| serde_json::from_str::<Value>(t).ok())
        .and_then(|n| n["Backend"]["Type"].as_str().map(str::to_ascii_lowercase));
    let backend = match backend.as_deref() {
        Some("vxlan") => FlannelBackend::Vxlan,
        Some("host-gw") => FlannelBackend::HostGw,
        Some("udp") => FlannelBackend::Udp,
        Some("ipip") => FlannelBackend::Ipip,
        Some("wireguard") => FlannelBackend::Wireguard,
        Some("ipsec") => FlannelBackend::Ipsec,
        _ => FlannelBackend::Other,
    };
    FlannelConfig {
        backend,
        comment: Some("kube-flannel-cfg: net-conf.json Backend.Type".into()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn weave_ds(env: Value, args: Value) -> Value {
        json!({"kind": "DaemonSet", "spec": {"template": {"spec": {"containers": [
            {"name": "weave", "image": "weaveworks/weave-kube:2.8.1", "env": env, "args": args},
            {"name": "weave-npc"}
        ]}}}})
    }

    #[test]
    fn weave_password_from_a_secret_and_trusted_subnets_in_extra_args() {
        let o = CniObjects {
            weave: Some(weave_ds(
                json!([
                    {"name": "WEAVE_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "weave-passwd", "key": "weave-passwd"}}},
                    {"name": "EXTRA_ARGS", "value": "--log-level=info --trusted-subnets=10.0.0.0/16,192.168.0.0/24"}
                ]),
                json!([]),
            )),
            ..Default::default()
        };
        let c = from_objects(&o).unwrap();
        assert_eq!(c.cni, Cni::Weave);
        let w = c.weave.unwrap();
        assert!(w.password_set && w.fast_datapath);
        let subnets: Vec<String> = w.trusted_subnets.iter().map(ToString::to_string).collect();
        assert_eq!(subnets, ["10.0.0.0/16", "192.168.0.0/24"]);
    }

    #[test]
    fn weave_without_a_password_sleeve_only_and_subnets_as_separate_args() {
        let o = CniObjects {
            weave: Some(weave_ds(
                json!([{"name": "WEAVE_NO_FASTDP", "value": "1"}, {"name": "WEAVE_PASSWORD", "value": ""}]),
                json!([
                    "--trusted-subnets",
                    "10.1.0.0/16",
                    "--trusted-subnets=not-a-cidr"
                ]),
            )),
            ..Default::default()
        };
        let w = from_objects(&o).unwrap().weave.unwrap();
        assert!(!w.password_set, "an empty password is no password");
        assert!(!w.fast_datapath);
        assert_eq!(w.trusted_subnets.len(), 1);
    }

    #[test]
    fn cilium_chained_on_the_vpc_cni_with_wireguard() {
        let o = CniObjects {
            aws_node: Some(json!({"kind": "DaemonSet"})),
            cilium: Some(json!({"kind": "DaemonSet"})),
            cilium_config: Some(
                json!({"data": {"enable-wireguard": "true", "enable-ipsec": "false"}}),
            ),
            ..Default::default()
        };
        let c = from_objects(&o).unwrap();
        assert_eq!(c.cni, Cni::AwsVpcCni);
        let cil = c.cilium.unwrap();
        assert!(cil.wireguard && !cil.ipsec && !cil.node_encryption);
        assert!(c.comment.unwrap().contains("aws-node"));
    }

    #[test]
    fn calico_follows_its_felix_configuration_or_its_default() {
        let felix = json!({"kind": "FelixConfiguration", "spec": {"wireguardEnabled": true, "wireguardHostEncryptionEnabled": true}});
        let o = CniObjects {
            calico_node: Some(json!({})),
            felix: Some(felix),
            ..Default::default()
        };
        let c = from_objects(&o).unwrap();
        assert_eq!(c.cni, Cni::Calico);
        let cal = c.calico.unwrap();
        assert!(
            cal.wireguard_enabled
                && cal.wireguard_host_encryption_enabled
                && !cal.wireguard_enabled_v6
        );
        let o = CniObjects {
            calico_node: Some(json!({})),
            ..Default::default()
        };
        assert!(!from_objects(&o).unwrap().calico.unwrap().wireguard_enabled);
    }

    #[test]
    fn flannel_backend_from_its_net_conf() {
        let o = CniObjects {
            flannel: Some(json!({})),
            flannel_config: Some(
                json!({"data": {"net-conf.json": "{\"Network\": \"10.244.0.0/16\", \"Backend\": {\"Type\": \"wireguard\"}}"}}),
            ),
            ..Default::default()
        };
        assert_eq!(
            from_objects(&o).unwrap().flannel.unwrap().backend,
            FlannelBackend::Wireguard
        );
        let o = CniObjects {
            flannel: Some(json!({})),
            flannel_config: Some(json!({"data": {"net-conf.json": "not json"}})),
            ..Default::default()
        };
        assert_eq!(
            from_objects(&o).unwrap().flannel.unwrap().backend,
            FlannelBackend::Other
        );
    }

    #[test]
    fn nothing_known_means_no_config() {
        assert!(from_objects(&CniObjects::default()).is_none());
        // A hostile object of the wrong shape gives defaults, not a panic.
        let o = CniObjects {
            weave: Some(json!({"spec": {"template": {"spec": {"containers": "x"}}}})),
            ..Default::default()
        };
        let w = from_objects(&o).unwrap().weave.unwrap();
        assert!(!w.password_set && w.trusted_subnets.is_empty());
    }

    #[test]
    fn the_config_it_builds_is_a_valid_cluster_config_file() {
        let o = CniObjects {
            weave: Some(weave_ds(
                json!([{"name": "WEAVE_PASSWORD", "value": "s3cret"}]),
                json!([]),
            )),
            ..Default::default()
        };
        let c = from_objects(&o).unwrap();
        let text = serde_json::to_string(&c).unwrap();
        assert!(
            !text.contains("s3cret"),
            "the password itself is never kept"
        );
        assert_eq!(ClusterConfig::from_json(&text).unwrap(), c);
    }
}
