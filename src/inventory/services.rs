//! Services: a pod that talks to a ClusterIP is seen, from inside the pod,
//! talking to the Service's address (kube-proxy rewrites it later, on the
//! node), so naming those addresses names the peer a flow was meant for.
//! Read from `kubectl get services -A -o json` or the API's ServiceList.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::Deserialize;

/// A Service's virtual addresses.
#[derive(Debug, Clone, serde::Serialize, PartialEq, Eq)]
pub struct Service {
    /// `metadata.namespace`.
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
    /// `spec.clusterIPs` (else `spec.clusterIP`) and `spec.externalIPs`;
    /// headless Services (`None`) have none.
    pub ips: Vec<IpAddr>,
}

#[derive(Deserialize)]
struct List {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    items: Option<Vec<Object>>,
}

#[derive(Deserialize)]
struct Object {
    #[serde(default)]
    metadata: Meta,
    #[serde(default)]
    spec: Spec,
}

#[derive(Deserialize, Default)]
struct Meta {
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Spec {
    #[serde(default, rename = "clusterIP")]
    cluster_ip: Option<String>,
    #[serde(default, rename = "clusterIPs")]
    cluster_ips: Option<Vec<String>>,
    #[serde(default, rename = "externalIPs")]
    external_ips: Option<Vec<String>>,
    #[serde(default, flatten)]
    _rest: BTreeMap<String, serde_json::Value>,
}

/// Parse a ServiceList.
///
/// # Errors
///
/// [`super::InventoryError::Json`] for bytes that are not JSON of that
/// shape; [`super::InventoryError::NotAList`] for another kind of list.
pub fn parse(bytes: &[u8]) -> Result<Vec<Service>, super::InventoryError> {
    let list: List =
        serde_json::from_slice(bytes).map_err(|source| super::InventoryError::Json {
            what: "services",
            path: None,
            source,
        })?;
    match list.kind.as_deref() {
        Some("ServiceList" | "List") | None => {}
        Some(other) => {
            return Err(super::InventoryError::NotAList {
                what: "services",
                path: None,
                found: format!("a {other}"),
            });
        }
    }
    let items = list.items.unwrap_or_default();
    Ok(items
        .into_iter()
        .take(super::MAX_ITEMS)
        .filter_map(|o| {
            let name = o.metadata.name?;
            let texts = o
                .spec
                .cluster_ips
                .unwrap_or_else(|| o.spec.cluster_ip.into_iter().collect())
                .into_iter()
                .chain(o.spec.external_ips.unwrap_or_default());
            let mut ips: Vec<IpAddr> = Vec::new();
            for ip in texts.filter_map(|t| t.parse::<IpAddr>().ok()) {
                if !ips.contains(&ip) {
                    ips.push(ip);
                }
            }
            Some(Service {
                namespace: o.metadata.namespace.unwrap_or_else(|| "default".into()),
                name,
                ips,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_ips_and_external_ips_name_the_service_and_headless_ones_have_none() {
        let json = br#"{"kind":"ServiceList","items":[
          {"metadata":{"namespace":"pay","name":"api"},"spec":{"clusterIP":"10.100.0.20","clusterIPs":["10.100.0.20","fd00:100::20"],"externalIPs":["192.0.2.7"]}},
          {"metadata":{"namespace":"pay","name":"db"},"spec":{"clusterIP":"None","clusterIPs":["None"]}}]}"#;
        let got = parse(json).expect("parses");
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].name, "api");
        assert_eq!(
            got[0].ips,
            vec![
                "10.100.0.20".parse::<IpAddr>().expect("ip"),
                "fd00:100::20".parse().expect("ip"),
                "192.0.2.7".parse().expect("ip")
            ]
        );
        assert!(got[1].ips.is_empty());
        assert!(matches!(
            parse(br#"{"kind":"PodList","items":[]}"#),
            Err(super::super::InventoryError::NotAList { .. })
        ));
    }
}
