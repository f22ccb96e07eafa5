//! `tls-audit pod` (`kubectl tls-audit pod`): audit running pods through
//! the Kubernetes API (the work is `audit::pod`'s; this is its arguments,
//! its progress display and its report). Only this command starts an async runtime; the
//! report is concluded as `analyze --events` concludes it, so every format,
//! `--fail-on` and `--compliance` work the same. With `--active` the pods'
//! declared ports are probed from here after the capture (`--active-only`:
//! instead of it), and the probe's flows and `probes[]` join that report.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::{EngineArgs, OutputArgs, Prepared, exit, publish, verification};
use crate::audit::pod::{self, PodRequest, Via};
use crate::audit::{AuditError, Status};
use crate::cluster::agents;
use crate::cluster::audit::Progress;
use crate::cluster::client::ConnectOptions;
use crate::model::WarningKind;

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

impl PodArgs {
    /// What `pod` asks of the cluster.
    fn request(&self) -> PodRequest {
        PodRequest {
            connect: ConnectOptions {
                kubeconfig: self.kubeconfig.clone(),
                context: self.context.clone(),
                cluster: self.cluster.clone(),
                user: self.user.clone(),
                request_timeout: self.request_timeout,
                server: self.server.clone(),
                token: self.token.clone(),
                certificate_authority: self.certificate_authority.clone(),
                insecure_skip_tls_verify: self.insecure_skip_tls_verify,
                impersonate: self.impersonate.clone(),
                impersonate_groups: self.impersonate_group.clone(),
            },
            names: self.names.clone(),
            namespace: self.namespace.clone(),
            all_namespaces: self.all_namespaces,
            selector: self.selector.clone(),
            container: self.container.clone(),
            duration: self.duration,
            image: self.image.clone(),
            max_concurrent: self.max_concurrent,
            pod_running_timeout: self.pod_running_timeout,
            request_timeout: self.request_timeout,
            via: self.via,
            enrich: self.enrich.is_some(),
            agents_namespace: self.agents_namespace.clone(),
            saved_captures: !self.pcap.is_empty(),
            probe: self.active,
            probe_only: self.active_only,
            probe_timeout: self.probe_timeout,
            probe_concurrency: self.probe_concurrency,
            cluster_config_given: self.verify.cluster_config.is_some(),
        }
    }
}

/// Run `pod`.
pub fn pod_command(mut args: PodArgs) -> Result<Status, AuditError> {
    // Said on each pod's progress line as it happened.
    args.out.said = vec![WarningKind::PodFailed, WarningKind::ApiWarning];
    validate(&args).map_err(AuditError::Usage)?;
    let prepared = Prepared::load(&args.out)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| AuditError::Cluster(format!("cannot start the async runtime: {e}")))?;
    let progress: Arc<dyn Progress> = if std::io::stderr().is_terminal() {
        Arc::new(super::progress::Live::new())
    } else {
        Arc::new(super::progress::Lines)
    };
    let req = args.request();
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
        pod::gather(&req, Arc::clone(&progress)).await
    });
    let pod::Gathered { context, pods } =
        gathered.map_err(|e| AuditError::Cluster(e.to_string()))?;
    drop(runtime);
    let loaded = args
        .verify
        .settings()
        .load_with(Some(context.inventory), context.cni)?;
    let (verifier, done, render) = prepared.conclusion(&args.out, loaded);
    let warnings = pod::context_warnings(context.warnings);
    let audited = if args.pcap.is_empty() {
        pod::conclude(pods, warnings, &req, verifier, done, progress.as_ref())?
    } else {
        // A saved capture, with the cluster's context.
        crate::audit::analyze_captures(
            &args.pcap,
            crate::audit::load_keylogs(&args.keylog)?,
            &args.engine.config(),
            None,
            verifier,
            done,
            warnings,
        )?
    };
    publish(&audited, &args.out, &render)
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
