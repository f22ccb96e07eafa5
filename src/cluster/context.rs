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

/// Objects asked per list request (kubectl's `--chunk-size` default): a
/// 5,000-pod cluster is ten answers, not one.
pub const PAGE: u32 = 500;

/// Pages read at most for one list (a server that keeps answering with a
/// continue token is cut there): 1,000 pages of 500 is 500,000 objects.
const MAX_PAGES: usize = 1000;

fn endless(path: &str) -> Paging {
    Paging::Failed(ClusterError::Api(format!(
        "{path}: the API server kept paging past {MAX_PAGES} pages"
    )))
}

/// Whether `e` is the API server's 410 for a continue token that outlived
/// etcd's compaction window (`reason: Expired`).
fn expired(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 410)
}

/// GET a list as raw JSON, [`PAGE`] objects at a time (`limit` and
/// `continue`), the pages' items joined into one List of at most
/// [`MAX_FILE_BYTES`]. A continue token that expired mid-way (410) starts
/// the list again in one request, as client-go's pager does.
async fn list_raw(client: &Client, path: &str, timeout: Duration) -> Result<Vec<u8>, ClusterError> {
    list_selected(client, path, &ListParams::default(), timeout).await
}

/// [`list_raw`] of the objects `base` selects (its label selector).
async fn list_selected(
    client: &Client,
    path: &str,
    base: &ListParams,
    timeout: Duration,
) -> Result<Vec<u8>, ClusterError> {
    match list_pages(client, path, base, timeout, Some(PAGE)).await {
        Err(Paging::Expired) => list_pages(client, path, base, timeout, None)
            .await
            .map_err(Paging::into_error),
        other => other.map_err(Paging::into_error),
    }
}

/// Why paging stopped.
enum Paging {
    /// The continue token expired (410): start again.
    Expired,
    Failed(ClusterError),
}

impl Paging {
    fn into_error(self) -> ClusterError {
        match self {
            Paging::Expired => ClusterError::Api(
                "the API server's continue token expired twice; the list changed too fast".into(),
            ),
            Paging::Failed(e) => e,
        }
    }
}

async fn list_pages(
    client: &Client,
    path: &str,
    base: &ListParams,
    timeout: Duration,
    limit: Option<u32>,
) -> Result<Vec<u8>, Paging> {
    let too_large = || {
        Paging::Failed(ClusterError::Api(format!(
            "{path}: the list is larger than 256 MiB"
        )))
    };
    let mut head: Option<serde_json::Value> = None;
    let mut items: Vec<serde_json::Value> = Vec::new();
    let mut total = 0u64;
    let mut token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let req = page_request(path, base, limit, token.as_deref())?;
        let left = MAX_FILE_BYTES.saturating_sub(total);
        let bytes = fetch_page(client, req, left, timeout, path, token.is_some()).await?;
        total = total.saturating_add(bytes.len() as u64);
        if total > MAX_FILE_BYTES {
            return Err(too_large());
        }
        if limit.is_none() {
            // One answer: the List as the server wrote it.
            return Ok(bytes);
        }
        let mut page: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
            Paging::Failed(ClusterError::Api(format!("{path}: not a JSON list: {e}")))
        })?;
        token = page["metadata"]["continue"]
            .as_str()
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        if let Some(serde_json::Value::Array(page_items)) =
            page.get_mut("items").map(std::mem::take)
        {
            items.extend(page_items);
        }
        if head.is_none() {
            head = Some(page);
        }
        if token.is_none() {
            break;
        }
    }
    if token.is_some() {
        return Err(endless(path));
    }
    serde_json::to_vec(&one_list(head, items)).map_err(|_| too_large())
}

/// The request for one page of `path`: `limit` items (all when `None`)
/// from the `token` the previous page gave.
fn page_request(
    path: &str,
    base: &ListParams,
    limit: Option<u32>,
    token: Option<&str>,
) -> Result<http::Request<Vec<u8>>, Paging> {
    let mut lp = base.clone();
    if let Some(n) = limit {
        lp = lp.limit(n);
    }
    if let Some(t) = token {
        lp = lp.continue_token(t);
    }
    kube::core::Request::new(path)
        .list(&lp)
        .map_err(|e| Paging::Failed(ClusterError::Api(e.to_string())))
}

/// One page's body, at most `left` bytes, within `timeout`. A later page
/// (`continued`) whose token expired asks for the list to start over.
async fn fetch_page(
    client: &Client,
    req: http::Request<Vec<u8>>,
    left: u64,
    timeout: Duration,
    path: &str,
    continued: bool,
) -> Result<Vec<u8>, Paging> {
    match tokio::time::timeout(timeout, read_body(client, req, left)).await {
        Ok(Ok(b)) => Ok(b),
        Ok(Err(e)) if continued && expired(&e) => Err(Paging::Expired),
        Ok(Err(e)) => Err(Paging::Failed(ClusterError::from_kube(e))),
        Err(_) => Err(Paging::Failed(ClusterError::Timeout {
            what: format!("listing {path}"),
            after: timeout,
        })),
    }
}

/// The pages joined into one List: the first page's head with every
/// page's items, and no paging metadata.
fn one_list(head: Option<serde_json::Value>, items: Vec<serde_json::Value>) -> serde_json::Value {
    let mut list = head.unwrap_or_default();
    list["items"] = serde_json::Value::Array(items);
    if let Some(meta) = list
        .get_mut("metadata")
        .and_then(serde_json::Value::as_object_mut)
    {
        meta.remove("continue");
        meta.remove("remainingItemCount");
    }
    list
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
        let path = match &sel.namespace {
            Some(ns) => format!("/api/v1/namespaces/{ns}/pods"),
            None => "/api/v1/pods".to_string(),
        };
        let mut lp = ListParams::default();
        if let Some(s) = &sel.selector {
            lp = lp.labels(s);
        }
        let bytes = list_selected(client, &path, &lp, timeout).await?;
        let list: kube::core::ObjectList<Pod> = serde_json::from_slice(&bytes)
            .map_err(|e| ClusterError::Api(format!("{path}: not a list of pods: {e}")))?;
        pods = list.items;
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
