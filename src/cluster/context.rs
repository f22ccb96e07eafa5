//! The cluster's view of addresses, listed once per audit: pods (all
//! namespaces when allowed), nodes and Services, read as the same List
//! JSON `kubectl get ... -o json` writes, so the live path and the
//! offline `--pods/--nodes` path share one parser ([`Inventory`]).

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use kube::api::{Api, ListParams};

use super::{ClusterError, read_body, timed};
use crate::inventory::{self, Inventory, MAX_FILE_BYTES};

/// The inventory, and what could not be listed.
pub struct ClusterContext {
    /// Pods, nodes and Services.
    pub inventory: Inventory,
    /// What is missing from it and why (for the report's warnings).
    pub warnings: Vec<String>,
}

/// List pods, nodes and Services. `namespace` is where to fall back to
/// when pods or Services cannot be listed cluster-wide. Only a failure to
/// list pods at all is an error; the rest become warnings.
///
/// # Errors
///
/// When no pods can be listed, or a list is not Kubernetes JSON.
pub async fn fetch(
    client: &Client,
    namespace: Option<&str>,
    timeout: Duration,
) -> Result<ClusterContext, ClusterError> {
    let mut warnings = Vec::new();
    let pods = match list_raw(client, "/api/v1/pods", timeout).await {
        Ok(b) => b,
        Err(e) if e.is_access() && namespace.is_some() => {
            let ns = namespace.unwrap_or_default();
            warnings.push(format!(
                "pods cannot be listed in all namespaces ({e}); peers outside namespace {ns} stay unnamed"
            ));
            list_raw(client, &format!("/api/v1/namespaces/{ns}/pods"), timeout).await?
        }
        Err(e) => return Err(e),
    };
    let nodes = match list_raw(client, "/api/v1/nodes", timeout).await {
        Ok(b) => Some(b),
        Err(e) => {
            warnings.push(format!(
                "nodes cannot be listed ({e}): node addresses, instance types and zones are unknown, \
                 so underlay coverage cannot be judged"
            ));
            None
        }
    };
    let services = match list_raw(client, "/api/v1/services", timeout).await {
        Ok(b) => Some(b),
        Err(e) if e.is_access() && namespace.is_some() => {
            let ns = namespace.unwrap_or_default();
            list_raw(
                client,
                &format!("/api/v1/namespaces/{ns}/services"),
                timeout,
            )
            .await
            .map_err(|e| warnings.push(format!("services cannot be listed ({e})")))
            .ok()
        }
        Err(e) => {
            warnings.push(format!("services cannot be listed ({e})"));
            None
        }
    };
    let bad = |e: inventory::InventoryError| ClusterError::Api(format!("the API server's {e}"));
    let mut inventory = Inventory::from_json(Some(&pods), nodes.as_deref()).map_err(bad)?;
    if let Some(s) = services {
        inventory = inventory.with_services(inventory::services::parse(&s).map_err(bad)?);
    }
    Ok(ClusterContext {
        inventory,
        warnings,
    })
}

/// GET a list as raw JSON, at most [`MAX_FILE_BYTES`].
async fn list_raw(client: &Client, path: &str, timeout: Duration) -> Result<Vec<u8>, ClusterError> {
    let req = kube::core::Request::new(path)
        .list(&ListParams::default())
        .map_err(|e| ClusterError::Api(e.to_string()))?;
    let what = format!("listing {path}");
    let bytes = timed(timeout, &what, read_body(client, req, MAX_FILE_BYTES)).await?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(ClusterError::Api(format!(
            "{path}: the list is larger than 256 MiB"
        )));
    }
    Ok(bytes)
}

/// Which pods to audit.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Names (`NAME` or `pod/NAME`); empty with a selector or all.
    pub names: Vec<String>,
    /// The namespace; `None` for all namespaces (`-A`).
    pub namespace: Option<String>,
    /// `-l`.
    pub selector: Option<String>,
}

/// The pods selected, as the API has them, and the names skipped with
/// the reason (not running, host network).
pub async fn select(
    client: &Client,
    sel: &Selection,
    timeout: Duration,
) -> Result<(Vec<Pod>, Vec<(String, String)>), ClusterError> {
    let api: Api<Pod> = match &sel.namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let mut pods = Vec::new();
    if sel.names.is_empty() {
        let mut lp = ListParams::default();
        if let Some(s) = &sel.selector {
            lp = lp.labels(s);
        }
        let list = timed(timeout, "listing the selected pods", api.list(&lp)).await?;
        pods.extend(list.items);
    } else {
        for name in &sel.names {
            let name = name.strip_prefix("pod/").unwrap_or(name);
            let got = timed(timeout, &format!("reading pod {name}"), api.get_opt(name)).await?;
            let ns = sel.namespace.as_deref().unwrap_or("default");
            pods.push(got.ok_or_else(|| ClusterError::PodNotFound(format!("{ns}/{name}")))?);
        }
    }
    let mut skipped = Vec::new();
    pods.retain(|p| {
        let running = p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
        if !running {
            skipped.push((pod_name(p), "not running".to_string()));
        }
        running
    });
    Ok((pods, skipped))
}

/// `namespace/name`.
pub fn pod_name(p: &Pod) -> String {
    format!(
        "{}/{}",
        p.metadata.namespace.as_deref().unwrap_or("default"),
        p.metadata.name.as_deref().unwrap_or("")
    )
}
