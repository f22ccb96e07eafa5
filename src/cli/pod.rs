//! `tls-audit pod` (`kubectl tls-audit pod`): audit running pods through
//! the Kubernetes API. Only this command starts an async runtime; the
//! report is concluded as `analyze --events` concludes it, so every format,
//! `--fail-on` and `--compliance` work the same. With `--active` the pods'
//! declared ports are probed from here after the capture (`--active-only`:
//! instead of it), and the probe's flows and `probes[]` join that report.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::ValueEnum;

use super::{EngineArgs, OutputArgs, Prepared, exit, publish, verification};
use crate::audit::{AuditError, Status};
use crate::cluster::audit::{self, Plan, PodResult, Progress};
use crate::cluster::client::{self, ConnectOptions};
use crate::cluster::context::{self, Selection};
use crate::cluster::{ClusterError, agents, cni, ephemeral, ports, preflight};
use crate::coverage::cluster_config::ClusterConfig;
use crate::inventory::Inventory;
use crate::probe::{EndpointResult, ProbeConfig};
use crate::report::model::{Input, Warning};

/// How the agent reaches the pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
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

/// `pod`'s arguments: kubectl's own flags, then the audit's.
#[derive(Debug, clap::Args)]
#[command(group = clap::ArgGroup::new("probing").args(["active", "active_only"]).multiple(true))]
// `analyze`'s cluster snapshots: `pod` reads the cluster live, so they are
// not offered (and refused if given).
#[command(mut_arg("pods", |a| a.hide(true)), mut_arg("nodes", |a| a.hide(true)))]
pub struct PodArgs {
    /// Pods to audit (NAME or pod/NAME), in the namespace of -n.
    #[arg(value_name = "POD")]
    names: Vec<String>,
    /// The namespace (default: the kubeconfig context's).
    #[arg(short = 'n', long)]
    namespace: Option<String>,
    /// Audit the selected pods in all namespaces.
    #[arg(short = 'A', long)]
    all_namespaces: bool,
    /// Label selector, as kubectl takes it (`app=payments,tier!=db`).
    #[arg(short = 'l', long)]
    selector: Option<String>,
    /// The container whose namespaces the agent joins (default: the pod's
    /// `kubectl.kubernetes.io/default-container`, else its first).
    #[arg(short = 'c', long)]
    container: Option<String>,
    /// How long to capture in each pod.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// The agent's image (default: the one in probes/ephemeral-container.yaml).
    #[arg(long)]
    image: Option<String>,
    /// Pods audited at a time.
    #[arg(long, default_value_t = 10)]
    max_concurrent: usize,
    /// How long the agent may take to start (image pull included).
    #[arg(long, default_value = "1m", value_parser = humantime::parse_duration)]
    pod_running_timeout: Duration,
    /// `auto`: an ephemeral container in each pod, unless its namespace
    /// enforces Pod Security baseline or restricted (read from the
    /// namespace's labels), where the node agents are read instead;
    /// `ephemeral`: always a container in each pod; `node-agents`: read the
    /// DaemonSet's agents on the pods' nodes (nothing is added to pods).
    #[arg(long, value_enum, default_value = "auto")]
    via: Via,
    /// Identities the TLS 1.3 (and resumed) handshakes hid, as the node
    /// agents obtain them: `probe` reads agents started with `--enrich
    /// probe` (deploy/overlays/enrich), whose handshakes come from their
    /// node's host network and so reach each peer's own TLS endpoint (from
    /// inside a pod, a mesh sidecar would redirect them). Implies the node
    /// agents (`--via auto`); refused with `--via ephemeral`.
    #[arg(long, value_enum, value_name = "METHOD", conflicts_with_all = ["pcap", "active_only"])]
    enrich: Option<super::EnrichMethod>,
    /// The node agents' namespace (probes/daemonset.yaml).
    #[arg(long, default_value = agents::NAMESPACE)]
    agents_namespace: String,
    /// Audit a saved capture (pcap/pcapng; repeatable) with the cluster's
    /// live pods, nodes and Services instead of capturing.
    #[arg(long, value_name = "FILE")]
    pcap: Vec<String>,
    /// NSS key log for --pcap (TLS 1.3 handshakes); repeatable.
    #[arg(long, value_name = "FILE", requires = "pcap")]
    keylog: Vec<PathBuf>,
    /// Also probe every TCP port the selected pods declare
    /// (`spec.containers[].ports`) at the pod's IP, once the capture has
    /// ended, as `tls-audit probe` does (versions, chain, client-certificate
    /// policy, plaintext acceptance). The probe connects from where this
    /// command runs: pod IPs must be reachable from here (inside the
    /// cluster, on a node, over a VPN into the pod network). A port that
    /// cannot be reached is a probe error (timeout, refused), and the run
    /// is partial (exit 4).
    #[arg(long, conflicts_with = "pcap")]
    active: bool,
    /// Only probe the declared ports (see --active): no agent, nothing is
    /// added to the pods, and only `list pods` is needed.
    #[arg(
        long,
        conflicts_with_all = ["pcap", "via", "image", "duration", "pod_running_timeout", "container"]
    )]
    active_only: bool,
    /// --active: the probe's deadline for each connect, handshake and read.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration, requires = "probing")]
    probe_timeout: Duration,
    /// --active: endpoints probed at once.
    #[arg(long, default_value_t = 64, requires = "probing")]
    probe_concurrency: usize,
    /// Path to the kubeconfig file (default: KUBECONFIG, else ~/.kube/config,
    /// else the in-cluster service account).
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use.
    #[arg(long)]
    context: Option<String>,
    /// The kubeconfig cluster to use.
    #[arg(long)]
    cluster: Option<String>,
    /// The kubeconfig user to use.
    #[arg(long)]
    user: Option<String>,
    /// Bound on each API request that is not a stream (`0`: none).
    #[arg(long, default_value = "30s", value_parser = parse_timeout)]
    request_timeout: Duration,
    /// The API server's address, instead of the kubeconfig cluster's.
    #[arg(short = 's', long, value_name = "URL")]
    server: Option<String>,
    /// Bearer token for the API server, instead of the kubeconfig user's
    /// credentials.
    #[arg(long, value_name = "TOKEN")]
    token: Option<String>,
    /// A PEM file of CA certificates for the API server.
    #[arg(long, value_name = "FILE")]
    certificate_authority: Option<PathBuf>,
    /// Do not verify the API server's certificate (insecure).
    #[arg(long, conflicts_with = "certificate_authority")]
    insecure_skip_tls_verify: bool,
    /// The user to impersonate.
    #[arg(long = "as", value_name = "USER")]
    impersonate: Option<String>,
    /// A group to impersonate (repeatable; needs --as).
    #[arg(long = "as-group", value_name = "GROUP", requires = "impersonate")]
    impersonate_group: Vec<String>,
    #[command(flatten)]
    out: OutputArgs,
    #[command(flatten)]
    engine: EngineArgs,
    #[command(flatten)]
    verify: verification::VerifyArgs,
}

fn parse_timeout(s: &str) -> Result<Duration, String> {
    if s == "0" {
        return Ok(Duration::from_secs(365 * 24 * 3600));
    }
    humantime::parse_duration(s).map_err(|e| e.to_string())
}

/// What the cluster gave: the inventory, and per pod, what was read.
struct Gathered {
    inventory: Inventory,
    /// The CNI's encryption settings read from the cluster (unless
    /// `--cluster-config` gave them).
    cni: Option<ClusterConfig>,
    results: Vec<PodResult>,
    /// `--active`: each declared port's probe, in pod order.
    probed: Vec<EndpointResult>,
    /// `--active`: pods with nothing to probe, and why.
    probe_skipped: Vec<String>,
    warnings: Vec<String>,
}

impl PodArgs {
    /// The declared ports are probed (`--active` or `--active-only`).
    fn probing(&self) -> bool {
        self.active || self.active_only
    }
}

/// Run `pod`.
pub fn pod_command(mut args: PodArgs) -> Result<Status, AuditError> {
    // Said on each pod's progress line as it happened.
    args.out.said = vec!["pod-failed", "api-warning"];
    validate(&args).map_err(AuditError::Usage)?;
    let prepared = Prepared::load(&args.out)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| AuditError::Cluster(format!("cannot start the async runtime: {e}")))?;
    let gathered = runtime.block_on(async {
        // Ctrl-C: stop waiting, and report what was read; again: quit.
        tokio::spawn(async {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!(
                    "tls-audit: interrupted: writing the report with what was read \
                     (Ctrl-C again to quit at once; the agents stop by themselves after --duration)"
                );
                crate::cluster::interrupt();
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(exit::INTERRUPTED);
                }
            }
        });
        gather(&args).await
    });
    let gathered = gathered.map_err(|e| AuditError::Cluster(e.to_string()))?;
    drop(runtime);
    let loaded = args
        .verify
        .settings()
        .load_with(Some(gathered.inventory), gathered.cni)?;
    let (verifier, done, render) = prepared.conclusion(&args.out, loaded);
    let context_warnings = gathered.warnings.into_iter().map(|m| {
        (
            None,
            Warning {
                kind: "cluster-context".into(),
                message: m,
            },
        )
    });
    if !args.pcap.is_empty() {
        let keys = crate::audit::load_keylogs(&args.keylog)?;
        let extra = context_warnings.map(|(_, w)| w).collect();
        let audited = crate::audit::analyze_captures(
            &args.pcap,
            keys,
            &args.engine.config(),
            None,
            verifier,
            done,
            extra,
        )?;
        return publish(&audited, &args.out, &render);
    }
    let mut results = gathered.results;
    let probed = gathered.probed;
    let probe_skipped = gathered.probe_skipped.into_iter().map(|m| {
        (
            None,
            Warning {
                kind: "probe-skipped".into(),
                message: m,
            },
        )
    });
    if args.active_only && probed.is_empty() {
        let why: Vec<String> = probe_skipped.map(|(_, w)| w.message).collect();
        let mut message =
            "the selected pods declare no TCP port to probe; no report written".to_string();
        for w in why {
            message.push_str("\ntls-audit: ");
            message.push_str(&w);
        }
        return Err(AuditError::Cluster(message));
    }
    if !args.active_only && probed.is_empty() && results.iter().all(|r| r.replayed.is_none()) {
        // Each pod's cause was said once, on its own progress line.
        return Err(AuditError::Cluster(
            "no pod could be audited (each pod's cause is above); no report written".into(),
        ));
    }
    let added = results
        .iter()
        .filter(|r| r.container.is_some() && !r.reused)
        .count();
    if added > 0 {
        eprintln!(
            "tls-audit: note: {added} ephemeral container(s) added; Kubernetes cannot remove them, \
             they stay (ended) in the pods' spec until the pods are replaced"
        );
    }
    let enrich_warning = args.enrich.and_then(|_| unenriched(&mut results));
    let (replays, mut extra) = split(results);
    extra.extend(enrich_warning.map(|w| (None, w)));
    extra.extend(probe_skipped);
    extra.extend(context_warnings);
    let audited = crate::audit::conclude_replays(replays, extra, probed, None, verifier, done)?;
    publish(&audited, &args.out, &render)
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
        kind: "enrich-unavailable".into(),
        message: format!(
            "--enrich probe: {} run without --enrich probe (kubectl apply -k deploy/overlays/enrich); \
             the certificates their flows' handshakes hid stay unchecked (probe-not-enabled)",
            not_enriching.join(", ")
        ),
    })
}

/// Per pod: the events read, and for a pod that failed, its warning and
/// (when nothing was read) an input marked incomplete.
fn split(results: Vec<PodResult>) -> (Vec<crate::live::Replayed>, Vec<(Option<Input>, Warning)>) {
    let mut replays = Vec::new();
    let mut extra = Vec::new();
    for r in results {
        let container = r.container.clone().unwrap_or_default();
        let failed = r.error.as_ref().map(|e| Warning {
            kind: "pod-failed".into(),
            message: format!("{}: {e}", r.pod),
        });
        extra.extend(r.api_warnings.iter().map(|w| {
            (
                None,
                Warning {
                    kind: "api-warning".into(),
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

fn validate(args: &PodArgs) -> Result<(), String> {
    if args.verify.pods.is_some() || args.verify.nodes.is_some() {
        return Err(
            "pod lists pods and nodes from the cluster itself; --pods/--nodes are for analyze"
                .into(),
        );
    }
    if args.all_namespaces && !args.names.is_empty() {
        return Err("a pod name needs its namespace (-n), not -A".into());
    }
    if !args.names.is_empty() && args.selector.is_some() {
        return Err("name pods or select them with -l, not both".into());
    }
    if args.enrich.is_some() && args.via == Via::Ephemeral {
        return Err(
            "--enrich probe reads the node agents' handshakes, made from their node's host network; \
             an agent inside the pod (--via ephemeral) would have its handshakes redirected by a mesh \
             sidecar to the sidecar itself (docs/enrichment.md): use --via auto or node-agents"
                .into(),
        );
    }
    let selects = !args.names.is_empty() || args.selector.is_some() || args.all_namespaces;
    if !selects && args.pcap.is_empty() {
        return Err(
            "name a pod, or select pods with -l or -A (or audit a saved capture with --pcap)"
                .into(),
        );
    }
    Ok(())
}

async fn gather(args: &PodArgs) -> Result<Gathered, ClusterError> {
    let opts = ConnectOptions {
        kubeconfig: args.kubeconfig.clone(),
        context: args.context.clone(),
        cluster: args.cluster.clone(),
        user: args.user.clone(),
        request_timeout: args.request_timeout,
        server: args.server.clone(),
        token: args.token.clone(),
        certificate_authority: args.certificate_authority.clone(),
        insecure_skip_tls_verify: args.insecure_skip_tls_verify,
        impersonate: args.impersonate.clone(),
        impersonate_groups: args.impersonate_group.clone(),
    };
    let conn = client::connect(&opts).await?;
    let namespace = if args.all_namespaces {
        None
    } else {
        Some(
            args.namespace
                .clone()
                .unwrap_or(conn.default_namespace.clone()),
        )
    };
    let timeout = args.request_timeout;
    let progress: Arc<dyn Progress> = if std::io::stderr().is_terminal() {
        Arc::new(super::progress::Live::new())
    } else {
        Arc::new(super::progress::Lines)
    };
    if !args.pcap.is_empty() {
        let ctx = context::fetch(&conn.client, namespace.as_deref(), timeout)
            .await
            .map_err(|e| e.reaching(&conn.server))?;
        let (cni, mut warnings) = read_cni(args, &conn.client).await;
        warnings.extend(ctx.warnings);
        return Ok(Gathered {
            inventory: ctx.inventory,
            cni,
            results: Vec::new(),
            probed: Vec::new(),
            probe_skipped: Vec::new(),
            warnings,
        });
    }
    let needs = match args.via {
        _ if args.active_only => preflight::probe_only_needs(namespace.as_deref()),
        _ if args.enrich.is_some() => {
            preflight::node_agent_needs(namespace.as_deref(), &args.agents_namespace)
        }
        Via::Auto => {
            let mut n = preflight::ephemeral_needs(namespace.as_deref());
            n.extend(preflight::namespace_needs(namespace.as_deref()));
            n
        }
        Via::Ephemeral => preflight::ephemeral_needs(namespace.as_deref()),
        Via::NodeAgents => {
            preflight::node_agent_needs(namespace.as_deref(), &args.agents_namespace)
        }
    };
    preflight::check(&conn.client, &needs, timeout)
        .await
        .map_err(|e| e.reaching(&conn.server))?;
    let sel = Selection {
        names: args.names.clone(),
        namespace: namespace.clone(),
        selector: args.selector.clone(),
    };
    let (pods, skipped) = context::select(&conn.client, &sel, timeout).await?;
    for (name, why) in &skipped {
        eprintln!("tls-audit: {name}: skipped ({why})");
    }
    if pods.is_empty() {
        let where_ = namespace.map_or("in any namespace".to_string(), |n| {
            format!("in namespace {n}")
        });
        return Err(ClusterError::Api(format!(
            "no running pod matches {where_}"
        )));
    }
    let ctx = context::fetch(&conn.client, sel.namespace.as_deref(), timeout).await?;
    let (declared, probe_skipped) = if args.probing() {
        ports::declared_ports(&pods)
    } else {
        (Vec::new(), Vec::new())
    };
    let (in_pods, on_nodes) = match args.via {
        _ if args.active_only => (Vec::new(), Vec::new()),
        // Enrichment is the node agents' (validated: not --via ephemeral).
        _ if args.enrich.is_some() => (Vec::new(), pods),
        Via::Auto => route_by_pod_security(&conn.client, pods, timeout).await,
        Via::Ephemeral => (pods, Vec::new()),
        Via::NodeAgents => (Vec::new(), pods),
    };
    if args.via == Via::Auto && args.enrich.is_none() && !on_nodes.is_empty() {
        let needs = preflight::node_agent_needs(namespace.as_deref(), &args.agents_namespace);
        preflight::check(&conn.client, &needs, timeout).await?;
    }
    let plan = Plan {
        duration: args.duration,
        image: args.image.clone().unwrap_or_else(ephemeral::default_image),
        container: args.container.clone(),
        concurrency: args.max_concurrent,
        pod_running_timeout: args.pod_running_timeout,
        request_timeout: timeout,
    };
    // Kept to re-route pods Pod Security refuses although their namespace
    // has no enforce label (a cluster-wide default).
    let tried = if args.via == Via::Auto && args.enrich.is_none() {
        in_pods.clone()
    } else {
        Vec::new()
    };
    let ephemeral_run = async {
        if in_pods.is_empty() {
            return Vec::new();
        }
        audit::audit_pods(&conn.client, in_pods, &plan, Arc::clone(&progress)).await
    };
    let agents_run = async {
        if on_nodes.is_empty() {
            return Ok(Vec::new());
        }
        agents::audit_via_agents(
            &conn.client,
            &on_nodes,
            &args.agents_namespace,
            args.duration,
            timeout,
            Arc::clone(&progress),
        )
        .await
    };
    let (mut results, from_agents) = tokio::join!(ephemeral_run, agents_run);
    results.extend(from_agents?);
    if args.via == Via::Auto && args.enrich.is_none() {
        results = reroute_refused(args, &conn.client, results, tried, progress).await?;
    }
    // After the capture, so the agent does not record the probe's own
    // handshakes (legacy ClientHellos, plaintext requests) as pod traffic.
    let probed = probe_declared(args, declared).await;
    let (cni, mut warnings) = read_cni(args, &conn.client).await;
    warnings.extend(ctx.warnings);
    Ok(Gathered {
        inventory: ctx.inventory,
        cni,
        results,
        probed,
        probe_skipped,
        warnings,
    })
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
                    eprintln!(
                        "tls-audit: namespace {ns} enforces Pod Security \"{level}\", which refuses the \
                         agent's NET_RAW: its pods are read through the node agents instead \
                         (--via node-agents; see docs/kubectl-plugin.md)"
                    );
                    refused.insert(ns);
                }
            }
            Err(e) => eprintln!(
                "tls-audit: cannot read namespace {ns}'s Pod Security labels ({e}); trying ephemeral containers there"
            ),
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
    args: &PodArgs,
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
    let needs = preflight::node_agent_needs(None, &args.agents_namespace)
        .into_iter()
        .filter(|n| n.namespace.is_some())
        .collect::<Vec<_>>();
    // Without the permission or the agents, the refusals stand as they
    // are (each already says to use the node agents).
    let nodes = match preflight::check(client, &needs, args.request_timeout).await {
        Ok(()) => agents::nodes_with_agents(client, &args.agents_namespace, args.request_timeout)
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
    eprintln!(
        "tls-audit: Pod Security refused the agent in {} pod(s) whose namespace has no enforce \
         label (a cluster-wide default): reading them through the node agents instead",
        refused.len()
    );
    let from_agents = agents::audit_via_agents(
        client,
        &again,
        &args.agents_namespace,
        args.duration,
        args.request_timeout,
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
async fn probe_declared(args: &PodArgs, declared: Vec<ports::DeclaredPort>) -> Vec<EndpointResult> {
    if declared.is_empty() {
        return Vec::new();
    }
    let pods: std::collections::BTreeSet<(&str, &str)> = declared
        .iter()
        .map(|d| (d.pod.namespace.as_str(), d.pod.name.as_str()))
        .collect();
    eprintln!(
        "tls-audit: probing {} declared port(s) of {} pod(s) from this host (the pod IPs must be reachable from here)",
        declared.len(),
        pods.len()
    );
    let io = args.probe_timeout.max(Duration::from_millis(1));
    let cfg = ProbeConfig {
        connect_timeout: io,
        io_timeout: io,
        plaintext_wait: io.min(Duration::from_secs(2)),
        concurrency: args.probe_concurrency.max(1),
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
    eprintln!(
        "tls-audit: probed {} port(s): {} answered, {failed} could not be probed",
        results.len(),
        results.len() - failed
    );
    results
}

/// The CNI's encryption settings from the cluster, unless
/// `--cluster-config` gives them; what could not be read is a warning.
async fn read_cni(args: &PodArgs, client: &kube::Client) -> (Option<ClusterConfig>, Vec<String>) {
    if args.verify.cluster_config.is_some() {
        return (None, Vec::new());
    }
    let (objects, mut warnings) = cni::fetch(client, args.request_timeout).await;
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
