//! `pod`'s work in the cluster (`kubectl tls-audit pod`): connect, check
//! permissions, select the pods, route each to an ephemeral container or
//! its node's agent (by the namespace's Pod Security level, and again
//! when admission refuses the container), read what the agents saw,
//! probe the declared ports (`--active`), read the CNI's encryption
//! settings; then turn the per-pod results into replayed streams and
//! warnings for [`super::conclude_replays`]. The CLI fills a
//! [`PodRequest`] from its arguments and shows [`Progress`].

use std::sync::Arc;
use std::time::Duration;

use crate::cluster::audit::{self, Plan, PodResult, Progress};
use crate::cluster::client::{self, ConnectOptions};
use crate::cluster::context::{self, Selection};
use crate::cluster::{ClusterError, agents, cni, ephemeral, ports, preflight};
use crate::coverage::cluster_config::ClusterConfig;
use crate::inventory::Inventory;
use crate::model::WarningKind;
use crate::model::report::{Input, Warning};
use crate::probe::{EndpointResult, ProbeConfig};

/// How the agent reaches the pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Via {
    /// Ephemeral containers, except in namespaces whose Pod Security
    /// `enforce` level (baseline, restricted) refuses the agent's NET_RAW:
    /// node agents there.
    Auto,
    /// An ephemeral container in each pod (probes/ephemeral-container.yaml).
    Ephemeral,
    /// The node agents of probes/daemonset.yaml, one per node.
    NodeAgents,
}

/// What `pod` asks of the cluster.
#[derive(Debug, Clone)]
pub struct PodRequest {
    /// How to reach the API server.
    pub connect: ConnectOptions,
    /// Pods named (in `namespace`).
    pub names: Vec<String>,
    /// The namespace (`None`: the kubeconfig context's).
    pub namespace: Option<String>,
    /// Every namespace.
    pub all_namespaces: bool,
    /// A label selector.
    pub selector: Option<String>,
    /// The container whose namespaces the agent joins.
    pub container: Option<String>,
    /// How long each agent captures.
    pub duration: Duration,
    /// The agent's image (`None`: the default).
    pub image: Option<String>,
    /// Pods audited at a time.
    pub max_concurrent: usize,
    /// How long an agent may take to start.
    pub pod_running_timeout: Duration,
    /// Bound on each API request that is not a stream.
    pub request_timeout: Duration,
    /// How the agent reaches the pods.
    pub via: Via,
    /// `--enrich probe`: read the node agents, which enrich.
    pub enrich: bool,
    /// The node agents' namespace.
    pub agents_namespace: String,
    /// Saved captures are audited instead: only the cluster's context is read.
    pub saved_captures: bool,
    /// Probe the declared ports after the capture (`--active`).
    pub probe: bool,
    /// Only probe (`--active-only`): no agent.
    pub probe_only: bool,
    /// The probe's deadline per connect, handshake and read.
    pub probe_timeout: Duration,
    /// Endpoints probed at once.
    pub probe_concurrency: usize,
    /// A cluster configuration file was given: the CNI is not read.
    pub cluster_config_given: bool,
}

/// What the cluster gave: its context, and per pod, what was read.
pub struct Gathered {
    /// What verification needs from the cluster.
    pub context: Context,
    /// What the agents and the probe gave.
    pub pods: Pods,
}

/// The cluster's context, for verification.
pub struct Context {
    /// The cluster's pods, nodes and Services.
    pub inventory: Inventory,
    /// The CNI's encryption settings read from the cluster (unless
    /// `--cluster-config` gave them).
    pub cni: Option<ClusterConfig>,
    /// What could not be read from the cluster (warnings).
    pub warnings: Vec<String>,
}

/// What the agents and the probe gave.
#[derive(Default)]
pub struct Pods {
    /// Per pod, what its agent gave (or why not).
    pub results: Vec<PodResult>,
    /// `--active`: each declared port's probe, in pod order.
    pub probed: Vec<EndpointResult>,
    /// `--active`: pods with nothing to probe, and why.
    pub probe_skipped: Vec<String>,
}

/// Do `pod`'s work in the cluster; steps and notes go to `progress`.
pub async fn gather(
    req: &PodRequest,
    progress: Arc<dyn Progress>,
) -> Result<Gathered, ClusterError> {
    let conn = client::connect(&req.connect).await?;
    let namespace = if req.all_namespaces {
        None
    } else {
        Some(
            req.namespace
                .clone()
                .unwrap_or(conn.default_namespace.clone()),
        )
    };
    if req.saved_captures {
        let context = read_context(req, &conn.client, namespace.as_deref())
            .await
            .map_err(|e| e.reaching(&conn.server))?;
        return Ok(Gathered {
            context,
            pods: Pods::default(),
        });
    }
    preflight::check(
        &conn.client,
        &needs(req, namespace.as_deref()),
        req.request_timeout,
    )
    .await
    .map_err(|e| e.reaching(&conn.server))?;
    let pods = select(req, &conn.client, namespace.as_deref(), progress.as_ref()).await?;
    let context = read_context(req, &conn.client, namespace.as_deref()).await?;
    let (declared, probe_skipped) = if req.probe || req.probe_only {
        ports::declared_ports(&pods)
    } else {
        (Vec::new(), Vec::new())
    };
    let results = capture(req, &conn.client, namespace.as_deref(), pods, &progress).await?;
    // After the capture, so the agent does not record the probe's own
    // handshakes (legacy ClientHellos, plaintext requests) as pod traffic.
    let probed = probe_declared(req, declared, progress.as_ref()).await;
    Ok(Gathered {
        context,
        pods: Pods {
            results,
            probed,
            probe_skipped,
        },
    })
}

/// The permissions the way of reaching the pods needs.
fn needs(req: &PodRequest, namespace: Option<&str>) -> Vec<preflight::Need> {
    match req.via {
        _ if req.probe_only => preflight::probe_only_needs(namespace),
        _ if req.enrich => preflight::node_agent_needs(namespace, &req.agents_namespace),
        Via::Auto => {
            let mut n = preflight::ephemeral_needs(namespace);
            n.extend(preflight::namespace_needs(namespace));
            n
        }
        Via::Ephemeral => preflight::ephemeral_needs(namespace),
        Via::NodeAgents => preflight::node_agent_needs(namespace, &req.agents_namespace),
    }
}

/// The running pods selected (by name or label); those skipped are noted.
async fn select(
    req: &PodRequest,
    client: &kube::Client,
    namespace: Option<&str>,
    progress: &dyn Progress,
) -> Result<Vec<k8s_openapi::api::core::v1::Pod>, ClusterError> {
    let sel = Selection {
        names: req.names.clone(),
        namespace: namespace.map(str::to_string),
        selector: req.selector.clone(),
    };
    let (pods, skipped) = context::select(client, &sel, req.request_timeout).await?;
    for (name, why) in &skipped {
        progress.note(&format!("{name}: skipped ({why})"));
    }
    if pods.is_empty() {
        let where_ = namespace.map_or("in any namespace".to_string(), |n| {
            format!("in namespace {n}")
        });
        return Err(ClusterError::Api(format!(
            "no running pod matches {where_}"
        )));
    }
    Ok(pods)
}

/// The cluster's pods, nodes and Services, and its CNI's settings.
async fn read_context(
    req: &PodRequest,
    client: &kube::Client,
    namespace: Option<&str>,
) -> Result<Context, ClusterError> {
    let ctx = context::fetch(client, namespace, req.request_timeout).await?;
    let (cni, mut warnings) = read_cni(req, client).await;
    warnings.extend(ctx.warnings);
    Ok(Context {
        inventory: ctx.inventory,
        cni,
        warnings,
    })
}

/// Each pod's agent: an ephemeral container or its node's agent, as
/// routed; with `--via auto`, pods refused by a cluster-wide Pod Security
/// default are read through their node's agent after all.
async fn capture(
    req: &PodRequest,
    client: &kube::Client,
    namespace: Option<&str>,
    pods: Vec<k8s_openapi::api::core::v1::Pod>,
    progress: &Arc<dyn Progress>,
) -> Result<Vec<PodResult>, ClusterError> {
    let timeout = req.request_timeout;
    let (in_pods, on_nodes) = match req.via {
        _ if req.probe_only => (Vec::new(), Vec::new()),
        // Enrichment is the node agents' (validated: not --via ephemeral).
        _ if req.enrich => (Vec::new(), pods),
        Via::Auto => route_by_pod_security(client, pods, timeout, progress.as_ref()).await,
        Via::Ephemeral => (pods, Vec::new()),
        Via::NodeAgents => (Vec::new(), pods),
    };
    if req.via == Via::Auto && !req.enrich && !on_nodes.is_empty() {
        let needs = preflight::node_agent_needs(namespace, &req.agents_namespace);
        preflight::check(client, &needs, timeout).await?;
    }
    let plan = Plan {
        duration: req.duration,
        image: req.image.clone().unwrap_or_else(ephemeral::default_image),
        container: req.container.clone(),
        concurrency: req.max_concurrent,
        pod_running_timeout: req.pod_running_timeout,
        request_timeout: timeout,
    };
    // Kept to re-route pods Pod Security refuses although their namespace
    // has no enforce label (a cluster-wide default).
    let tried = if req.via == Via::Auto && !req.enrich {
        in_pods.clone()
    } else {
        Vec::new()
    };
    let ephemeral_run = async {
        if in_pods.is_empty() {
            return Vec::new();
        }
        audit::audit_pods(client, in_pods, &plan, Arc::clone(progress)).await
    };
    let agents_run = async {
        if on_nodes.is_empty() {
            return Ok(Vec::new());
        }
        agents::audit_via_agents(
            client,
            &on_nodes,
            &req.agents_namespace,
            req.duration,
            timeout,
            Arc::clone(progress),
        )
        .await
    };
    let (mut results, from_agents) = tokio::join!(ephemeral_run, agents_run);
    results.extend(from_agents?);
    if req.via == Via::Auto && !req.enrich {
        results = reroute_refused(req, client, results, tried, Arc::clone(progress)).await?;
    }
    Ok(results)
}

/// The `cluster-context` warnings: what could not be read from the cluster.
pub fn context_warnings(warnings: Vec<String>) -> Vec<Warning> {
    warnings
        .into_iter()
        .map(|message| Warning {
            kind: WarningKind::ClusterContext,
            message,
        })
        .collect()
}

/// Conclude what the agents and the probe gave into one report: each
/// pod's events replayed and verified, the pods that failed as incomplete
/// inputs with their warnings, the probe's endpoints, `context` warnings.
/// No pod audited and nothing probed is a cluster error (no report).
pub fn conclude(
    pods: Pods,
    context: Vec<Warning>,
    req: &PodRequest,
    verifier: crate::verify::Verifier,
    done: super::Conclusion,
    progress: &dyn Progress,
) -> Result<super::Audited, super::AuditError> {
    let Pods {
        mut results,
        probed,
        probe_skipped,
    } = pods;
    let probe_skipped: Vec<Warning> = probe_skipped
        .into_iter()
        .map(|message| Warning {
            kind: WarningKind::ProbeSkipped,
            message,
        })
        .collect();
    if req.probe_only && probed.is_empty() {
        let mut message =
            "the selected pods declare no TCP port to probe; no report written".to_string();
        for w in &probe_skipped {
            message.push_str("\ntls-audit: ");
            message.push_str(&w.message);
        }
        return Err(super::AuditError::Cluster(message));
    }
    if !req.probe_only && probed.is_empty() && results.iter().all(|r| r.replayed.is_none()) {
        // Each pod's cause was said once, on its own progress line.
        return Err(super::AuditError::Cluster(
            "no pod could be audited (each pod's cause is above); no report written".into(),
        ));
    }
    let added = results
        .iter()
        .filter(|r| r.container.is_some() && !r.reused)
        .count();
    if added > 0 {
        progress.note(&format!(
            "note: {added} ephemeral container(s) added; Kubernetes cannot remove them, \
             they stay (ended) in the pods' spec until the pods are replaced"
        ));
    }
    let enrich_warning = if req.enrich {
        unenriched(&mut results)
    } else {
        None
    };
    let (replays, mut extra) = split(results);
    extra.extend(enrich_warning.map(|w| (None, w)));
    extra.extend(probe_skipped.into_iter().map(|w| (None, w)));
    extra.extend(context.into_iter().map(|w| (None, w)));
    super::conclude_replays(replays, extra, probed, None, verifier, done)
}

/// Split the pods by what their namespace's Pod Security `enforce` label
/// admits: ephemeral containers where the agent's NET_RAW is allowed, the
/// node agents where it is refused (baseline, restricted). A namespace
/// whose labels cannot be read is tried with ephemeral containers (a
/// refusal is then reported per pod, with the same advice).
async fn route_by_pod_security(
    client: &kube::Client,
    pods: Vec<k8s_openapi::api::core::v1::Pod>,
    timeout: Duration,
    progress: &dyn Progress,
) -> (
    Vec<k8s_openapi::api::core::v1::Pod>,
    Vec<k8s_openapi::api::core::v1::Pod>,
) {
    use crate::cluster::podsecurity::{self, Admission};
    use k8s_openapi::api::core::v1::Namespace;
    let namespaces: std::collections::BTreeSet<String> = pods
        .iter()
        .filter_map(|p| p.metadata.namespace.clone())
        .collect();
    let api: kube::Api<Namespace> = kube::Api::all(client.clone());
    let mut refused = std::collections::BTreeSet::new();
    for ns in namespaces {
        let read =
            crate::cluster::timed(timeout, "reading the namespace's labels", api.get(&ns)).await;
        match read {
            Ok(n) => {
                let labels = n.metadata.labels.unwrap_or_default();
                if let Admission::Refused(level) = podsecurity::judge(&labels) {
                    progress.note(&format!(
                        "namespace {ns} enforces Pod Security \"{level}\", which refuses the \
                         agent's NET_RAW: its pods are read through the node agents instead \
                         (--via node-agents; see docs/kubectl-plugin.md)"
                    ));
                    refused.insert(ns);
                }
            }
            Err(e) => progress.note(&format!(
                "cannot read namespace {ns}'s Pod Security labels ({e}); trying ephemeral containers there"
            )),
        }
    }
    pods.into_iter().partition(|p| {
        !p.metadata
            .namespace
            .as_ref()
            .is_some_and(|n| refused.contains(n))
    })
}

/// `--via auto`: pods whose ephemeral container Pod Security refused
/// (their namespace's labels did not say so: a cluster-wide default in the
/// admission configuration) are read through the node agents instead,
/// after the others; their refusal is replaced by that result.
async fn reroute_refused(
    req: &PodRequest,
    client: &kube::Client,
    results: Vec<PodResult>,
    tried: Vec<k8s_openapi::api::core::v1::Pod>,
    progress: Arc<dyn Progress>,
) -> Result<Vec<PodResult>, ClusterError> {
    let refused: std::collections::BTreeSet<String> = results
        .iter()
        .filter(|r| matches!(r.error, Some(ClusterError::PodSecurity(_))))
        .map(|r| r.pod.clone())
        .collect();
    if refused.is_empty() {
        return Ok(results);
    }
    let needs = preflight::node_agent_needs(None, &req.agents_namespace)
        .into_iter()
        .filter(|n| n.namespace.is_some())
        .collect::<Vec<_>>();
    // Without the permission or the agents, the refusals stand as they
    // are (each already says to use the node agents).
    let nodes = match preflight::check(client, &needs, req.request_timeout).await {
        Ok(()) => agents::nodes_with_agents(client, &req.agents_namespace, req.request_timeout)
            .await
            .unwrap_or_default(),
        Err(_) => Default::default(),
    };
    let on_agent_node = |p: &k8s_openapi::api::core::v1::Pod| {
        p.spec
            .as_ref()
            .and_then(|s| s.node_name.as_ref())
            .is_some_and(|n| nodes.contains(n))
    };
    let again: Vec<_> = tried
        .into_iter()
        .filter(|p| refused.contains(&context::pod_name(p)) && on_agent_node(p))
        .collect();
    if again.is_empty() {
        return Ok(results);
    }
    let refused: std::collections::BTreeSet<String> = again.iter().map(context::pod_name).collect();
    progress.note(&format!(
        "Pod Security refused the agent in {} pod(s) whose namespace has no enforce \
         label (a cluster-wide default): reading them through the node agents instead",
        refused.len()
    ));
    let from_agents = agents::audit_via_agents(
        client,
        &again,
        &req.agents_namespace,
        req.duration,
        req.request_timeout,
        progress,
    )
    .await?;
    let mut kept: Vec<PodResult> = results
        .into_iter()
        .filter(|r| !refused.contains(&r.pod))
        .collect();
    kept.extend(from_agents);
    Ok(kept)
}

/// Probe the declared ports from here; each record names its pod.
async fn probe_declared(
    req: &PodRequest,
    declared: Vec<ports::DeclaredPort>,
    progress: &dyn Progress,
) -> Vec<EndpointResult> {
    if declared.is_empty() {
        return Vec::new();
    }
    let pods: std::collections::BTreeSet<(&str, &str)> = declared
        .iter()
        .map(|d| (d.pod.namespace.as_str(), d.pod.name.as_str()))
        .collect();
    progress.note(&format!(
        "probing {} declared port(s) of {} pod(s) from this host (the pod IPs must be reachable from here)",
        declared.len(),
        pods.len()
    ));
    let io = req.probe_timeout.max(Duration::from_millis(1));
    let cfg = ProbeConfig {
        connect_timeout: io,
        io_timeout: io,
        plaintext_wait: io.min(Duration::from_secs(2)),
        concurrency: req.probe_concurrency.max(1),
        ..ProbeConfig::default()
    };
    let targets: Vec<crate::probe::Target> = declared.iter().map(|d| d.target.clone()).collect();
    let mut results = crate::probe::probe_many(&targets, &cfg).await;
    // probe_many keeps the order of its targets (a task that panicked is
    // dropped, so match by target rather than by position).
    let mut by_target: std::collections::HashMap<String, ports::DeclaredPort> = declared
        .into_iter()
        .map(|d| (d.target.text.clone(), d))
        .collect();
    for r in &mut results {
        r.record.pod = by_target.remove(&r.record.target).map(|d| d.pod);
    }
    let failed = results.iter().filter(|r| r.record.error.is_some()).count();
    progress.note(&format!(
        "probed {} port(s): {} answered, {failed} could not be probed",
        results.len(),
        results.len().saturating_sub(failed)
    ));
    results
}

/// The CNI's encryption settings from the cluster, unless
/// `--cluster-config` gives them; what could not be read is a warning.
async fn read_cni(req: &PodRequest, client: &kube::Client) -> (Option<ClusterConfig>, Vec<String>) {
    if req.cluster_config_given {
        return (None, Vec::new());
    }
    let (objects, mut warnings) = cni::fetch(client, req.request_timeout).await;
    let cfg = cni::from_objects(&objects);
    if cfg.is_none() {
        warnings.push(
            "no known CNI (aws-node, cilium, calico-node, weave-net, kube-flannel-ds) was found: \
             underlay encryption is unknown (give --cluster-config)"
                .into(),
        );
    }
    (cfg, warnings)
}

/// `--enrich probe`: flows whose hidden chain the node agents did not
/// obtain are marked with why (their certificate checks then say
/// `probe-not-enabled` or `probe-pending`), and the agents that run
/// without enrichment are named, once.
fn unenriched(results: &mut [PodResult]) -> Option<Warning> {
    let mut not_enriching = Vec::new();
    for r in results.iter_mut() {
        let why = if r.enriching == Some(false) {
            not_enriching.push(r.pod.clone());
            "not-enabled: the node agent does not run with --enrich probe"
        } else {
            // An enriching agent enriches a flow when it ends: one still
            // open when the window closed came from its handshake event.
            "pending: the flow had not ended when the audit window closed"
        };
        if let Some(rep) = r.replayed.as_mut() {
            rep.unenriched = Some(why);
        }
    }
    if not_enriching.is_empty() {
        return None;
    }
    Some(Warning {
        kind: WarningKind::EnrichUnavailable,
        message: format!(
            "--enrich probe: {} run without --enrich probe (kubectl apply -k deploy/overlays/enrich); \
             the certificates their flows' handshakes hid stay unchecked (probe-not-enabled)",
            not_enriching.join(", ")
        ),
    })
}

/// Per pod: the events read, and for a pod that failed, its warning and
/// (when nothing was read) an input marked incomplete.
pub fn split(
    results: Vec<PodResult>,
) -> (Vec<crate::live::Replayed>, Vec<(Option<Input>, Warning)>) {
    let mut replays = Vec::new();
    let mut extra = Vec::new();
    for r in results {
        let container = r.container.clone().unwrap_or_default();
        let failed = r.error.as_ref().map(|e| Warning {
            kind: WarningKind::PodFailed,
            message: format!("{}: {e}", r.pod),
        });
        extra.extend(r.api_warnings.iter().map(|w| {
            (
                None,
                Warning {
                    kind: WarningKind::ApiWarning,
                    message: format!("{}: the API server warned: {w}", r.pod),
                },
            )
        }));
        match r.replayed {
            Some(mut rep) => {
                for i in &mut rep.report.inputs {
                    i.name = format!("{} {container}: {}", r.pod, i.name);
                    if failed.is_some() {
                        i.complete = false;
                    }
                }
                replays.push(rep);
                extra.extend(failed.map(|w| (None, w)));
            }
            None => {
                let input = Input {
                    name: r.pod.clone(),
                    format: "ephemeral-container".into(),
                    packets: 0,
                    complete: false,
                    live: None,
                    first_packet: None,
                    last_packet: None,
                    reported_by: None,
                };
                extra.extend(failed.map(|w| (Some(input), w)));
            }
        }
    }
    (replays, extra)
}
