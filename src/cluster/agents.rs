//! `--via node-agents`: instead of one ephemeral container per pod, read
//! the node agents of `probes/daemonset.yaml` (one per node, capturing
//! `any` on the host network), on the nodes where the selected pods run.
//! Kubernetes places the agents; this only reads their logs, from the
//! moment the audit starts, for `--duration`.
//!
//! The agents run with a fixed configuration (the DaemonSet's arguments),
//! so the selection happens here: only `flow` and `handshake` events with
//! an end at a selected pod's address are kept. Flows still open when the
//! window closes come from their handshake event; certificates the agent
//! sent before the window are known by digest only.

use crate::live::Replayed;
use crate::model::WarningKind;
use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use kube::api::{Api, ListParams, LogParams};
use tokio::time::Instant;

use super::audit::{PodResult, Progress, not_an_event_stream};
use super::context::pod_name;
use super::logs::{self, LineFilter};
use super::{ClusterError, timed};

/// The DaemonSet's namespace in `probes/daemonset.yaml`.
pub const NAMESPACE: &str = "tls-audit";
/// The labels its pods carry.
pub const SELECTOR: &str =
    "app.kubernetes.io/name=tls-audit,app.kubernetes.io/component=node-agent";
/// The agent's container name.
pub const CONTAINER: &str = "agent";

/// The addresses of `pods` (what the agents' events are filtered by).
pub fn pod_ips(pods: &[Pod]) -> HashSet<IpAddr> {
    pods.iter()
        .filter_map(|p| p.status.as_ref())
        .flat_map(|s| {
            s.pod_ips
                .iter()
                .flatten()
                .map(|i| i.ip.clone())
                .chain(s.pod_ip.clone())
        })
        .filter_map(|t| t.parse::<IpAddr>().ok())
        .map(|ip| ip.to_canonical())
        .collect()
}

/// The nodes where a node agent runs.
///
/// # Errors
///
/// Listing the agents failed.
pub async fn nodes_with_agents(
    client: &Client,
    agents_namespace: &str,
    request_timeout: Duration,
) -> Result<HashSet<String>, ClusterError> {
    let api: Api<Pod> = Api::namespaced(client.clone(), agents_namespace);
    Ok(running_by_node(&api, request_timeout)
        .await?
        .into_keys()
        .collect())
}

async fn running_by_node(
    api: &Api<Pod>,
    request_timeout: Duration,
) -> Result<BTreeMap<String, Pod>, ClusterError> {
    let agents = timed(
        request_timeout,
        "listing the node agents",
        api.list(&ListParams::default().labels(SELECTOR)),
    )
    .await?
    .items;
    Ok(agents
        .into_iter()
        .filter(|a| a.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
        .filter_map(|a| Some((a.spec.as_ref()?.node_name.clone()?, a)))
        .collect())
}

/// Read the agents on the nodes of `pods` for `duration`; one result per
/// node (named after the agent pod, or the node when it has none).
pub async fn audit_via_agents(
    client: &Client,
    pods: &[Pod],
    agents_namespace: &str,
    duration: Duration,
    request_timeout: Duration,
    progress: Arc<dyn Progress>,
) -> Result<Vec<PodResult>, ClusterError> {
    let ips = pod_ips(pods);
    let nodes: BTreeMap<String, usize> = pods
        .iter()
        .filter_map(|p| p.spec.as_ref()?.node_name.clone())
        .fold(BTreeMap::new(), |mut m, n| {
            *m.entry(n).or_insert(0) += 1;
            m
        });
    let api: Api<Pod> = Api::namespaced(client.clone(), agents_namespace);
    let by_node = running_by_node(&api, request_timeout).await?;
    let deadline = Instant::now() + duration;
    let work = nodes.keys().cloned().map(|node| {
        let api = api.clone();
        let agent = by_node.get(&node).cloned();
        let filter = LineFilter::Touching(ips.clone());
        let progress = Arc::clone(&progress);
        async move { read_agent(&api, &node, agent, filter, deadline, progress.as_ref()).await }
    });
    Ok(futures::stream::iter(work)
        .buffer_unordered(16)
        .collect()
        .await)
}

/// Whether a node agent runs with identity enrichment (`--enrich probe`
/// or `--enrich=probe` among its container's arguments).
pub fn enriching(agent: &Pod) -> bool {
    let args: Vec<&str> = agent
        .spec
        .iter()
        .flat_map(|s| &s.containers)
        .filter(|c| c.name == CONTAINER)
        .flat_map(|c| c.args.iter().flatten())
        .map(String::as_str)
        .collect();
    args.contains(&"--enrich=probe") || args.windows(2).any(|w| w == ["--enrich", "probe"])
}

async fn read_agent(
    api: &Api<Pod>,
    node: &str,
    agent: Option<Pod>,
    filter: LineFilter,
    deadline: Instant,
    progress: &dyn Progress,
) -> PodResult {
    let label = match &agent {
        Some(a) => format!("{} (node {node})", pod_name(a)),
        None => format!("node {node}"),
    };
    let mut result = PodResult {
        pod: label.clone(),
        container: Some(CONTAINER.into()),
        reused: true,
        replayed: None,
        ended: None,
        error: None,
        api_warnings: Vec::new(),
        enriching: agent.as_ref().map(enriching),
    };
    let Some(agent) = agent else {
        let e = ClusterError::Api(format!(
            "no running node agent on node {node} (kubectl apply -f probes/daemonset.yaml)"
        ));
        progress.done(&label, &e.to_string(), true);
        result.error = Some(e);
        return result;
    };
    let params = LogParams {
        container: Some(CONTAINER.into()),
        follow: true,
        since_seconds: Some(1),
        ..LogParams::default()
    };
    progress.step(&label, "reading the node agent's events");
    let name = agent.metadata.name.clone().unwrap_or_default();
    let followed = logs::follow(api, &name, &params, label.clone(), deadline, filter, |t| {
        progress.tally(&label, t)
    })
    .await;
    let replayed = match followed {
        Ok(read) => {
            result.ended = Some(read.ended);
            read.replayed.map_err(|e| not_an_event_stream(&e))
        }
        Err(e) => Err(e),
    };
    match replayed {
        Ok(mut r) => {
            as_window(&mut r);
            let n = r.flows.len();
            result.replayed = Some(r);
            progress.done(
                &label,
                &format!(
                    "{} of the selected pods",
                    crate::report::plural(u64::try_from(n).unwrap_or(u64::MAX), "flow")
                ),
                false,
            );
        }
        Err(e) => {
            progress.done(&label, &e.to_string(), true);
            result.error = Some(e);
        }
    }
    result
}

/// What a running agent's events replay to, read as a window on it: the
/// window never has the agent's summary (that is the design, not a cut
/// stream), and its inputs are the node agent's, complete for the window.
fn as_window(r: &mut Replayed) {
    r.report
        .warnings
        .retain(|w| w.kind != WarningKind::EventsCut);
    for i in &mut r.report.inputs {
        i.format = "node-agent".into();
        i.complete = true;
    }
}
