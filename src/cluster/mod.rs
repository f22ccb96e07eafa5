//! The cluster side of `kubectl tls-audit pod`: talk to the Kubernetes API
//! to put the agent next to the pods to audit, read what it saw, and name
//! every address it saw.
//!
//! The path of one audit, file by file:
//!
//! - [`client`]: kubeconfig, context and flags, as kubectl reads them, to a
//!   `kube::Client`;
//! - [`preflight`]: SelfSubjectAccessReviews, so a missing permission is
//!   one line naming the verb and resource, not a 403 halfway through;
//! - [`podsecurity`]: the namespaces' Pod Security labels, which decide
//!   whether an ephemeral container can be added at all (`--via auto`);
//! - [`ephemeral`]: the agent's container (from `probes/`), added to the
//!   pod with a strategic merge patch, or an earlier one reused; waiting
//!   until it runs, and why it did not;
//! - [`logs`]: following its log, a bounded NDJSON event stream, into
//!   [`crate::live::read_events`];
//! - [`context`]: pods, services and nodes, listed once, into an
//!   [`crate::inventory::Inventory`] that verification and coverage use;
//! - [`agents`]: the node-agent route (`--via node-agents`);
//! - [`ports`]: the pods' declared TCP ports, the endpoints `--active`
//!   probes;
//! - [`audit`]: many pods at once, bounded, with progress, and per-pod
//!   outcomes so one failure does not lose the others.
//!
//! Requests are built as plain values ([`ephemeral::patch_body`],
//! [`preflight::review`]) and sent in one place each, so tests can check
//! them without a cluster. Every await on the API has a deadline.

pub mod agents;
pub mod audit;
pub mod client;
pub mod cni;
pub mod context;
pub mod ephemeral;
pub mod logs;
pub mod podsecurity;
pub mod ports;
pub mod preflight;

use std::sync::OnceLock;
use std::time::Duration;

use tokio::sync::watch;

/// Set once the user interrupts (Ctrl-C): log readers stop and return what
/// they read, agents not yet running are given up, and the report is
/// written with what there is.
fn interruption() -> &'static watch::Sender<bool> {
    static FLAG: OnceLock<watch::Sender<bool>> = OnceLock::new();
    FLAG.get_or_init(|| watch::channel(false).0)
}

/// Interrupt the audit: every wait on the cluster ends now.
pub fn interrupt() {
    interruption().send_replace(true);
}

/// Whether the audit was interrupted.
pub fn is_interrupted() -> bool {
    *interruption().borrow()
}

/// Resolves once the audit is interrupted (at once if it already was).
pub async fn interrupted() {
    let mut rx = interruption().subscribe();
    // An error means the sender is gone, which a static never is.
    let _ = rx.wait_for(|&v| v).await;
}

/// Why talking to the cluster failed. Each variant says what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// No kubeconfig could be read and no in-cluster configuration exists.
    #[error("cannot load a kubeconfig: {0}")]
    Config(String),
    /// The API refused a request for lack of permission (RBAC).
    #[error("{0}")]
    Forbidden(String),
    /// A preflight SelfSubjectAccessReview said no.
    #[error(
        "you cannot {verb} {resource}{}: grant the ClusterRole tls-audit-auditor from probes/rbac.yaml \
         (rule: apiGroups [\"\"], resources [\"{resource}\"], verbs [\"{verb}\"]), e.g. \
         `kubectl apply -f probes/rbac.yaml && kubectl create {binding} tls-audit-$USER{ns_flag} \
         --clusterrole=tls-audit-auditor --user=$USER`",
        namespace_phrase(.namespace.as_deref()),
        binding = if .namespace.is_some() { "rolebinding" } else { "clusterrolebinding" },
        ns_flag = .namespace.as_deref().map(|n| format!(" -n {n}")).unwrap_or_default()
    )]
    Denied {
        /// The verb, e.g. `patch`.
        verb: String,
        /// The resource and subresource, e.g. `pods/ephemeralcontainers`.
        resource: String,
        /// The namespace; `None` for all namespaces.
        namespace: Option<String>,
    },
    /// The pod does not exist (or is gone).
    #[error("pod {0} not found")]
    PodNotFound(String),
    /// The API server answered 404 to the ephemeralcontainers subresource
    /// of a pod that exists.
    #[error(
        "ephemeral containers are disabled for this cluster (the API server answered 404 to \
         pods/{0}/ephemeralcontainers; they are stable since Kubernetes 1.25)"
    )]
    EphemeralDisabled(String),
    /// Pod Security admission rejected the agent's container.
    #[error(
        "Pod Security admission rejected the agent (it needs NET_RAW, outside the `baseline` \
         profile): \"{0}\"; see probes/README.md, or use --via node-agents"
    )]
    PodSecurity(String),
    /// The API server rejected the request as invalid (422, other than
    /// Pod Security).
    #[error("the API server rejected the ephemeral container: \"{0}\"")]
    Invalid(String),
    /// The agent's image cannot be pulled.
    #[error(
        "the agent's image cannot be pulled ({reason}): {message}; pass --image with an image your nodes can pull"
    )]
    ImagePull {
        /// `ImagePullBackOff`, `ErrImagePull`, `InvalidImageName`.
        reason: String,
        /// The kubelet's message.
        message: String,
    },
    /// The container could not be created (config error, runtime error).
    #[error("the agent's container could not start ({reason}): {message}")]
    NotStarted {
        /// The waiting reason.
        reason: String,
        /// The kubelet's message.
        message: String,
    },
    /// The agent ran but exited with an error before its capture ended.
    #[error("the agent exited with code {code}{}", agent_detail(.message.as_deref(), .last_lines))]
    AgentFailed {
        /// Its exit code.
        code: i32,
        /// The agent's `error` event, if it wrote one.
        message: Option<String>,
        /// The last lines of its log that were not events.
        last_lines: Vec<String>,
    },
    /// Something did not happen in time.
    #[error("timed out after {}s {what}", .after.as_secs())]
    Timeout {
        /// What was waited for.
        what: String,
        /// How long.
        after: Duration,
    },
    /// The user interrupted the audit before this pod's agent ran.
    #[error("interrupted before the agent ran")]
    Interrupted,
    /// Any other API error.
    #[error("{0}")]
    Api(String),
    /// The request did not reach an answer (connection refused, TLS, DNS):
    /// the cause chain, until [`ClusterError::reaching`] names the server.
    #[error("{0}")]
    Transport(String),
    /// The API server could not be reached at all.
    #[error(
        "cannot reach the API server at {server}: {cause} (check the kubeconfig's cluster and \
         context, or --server)"
    )]
    Unreachable {
        /// Its URL.
        server: String,
        /// What failed, with its causes.
        cause: String,
    },
}

/// An error and its sources, each once (`client error (Connect): tcp
/// connect error: Connection refused (os error 111)`).
fn causes(e: &dyn std::error::Error) -> String {
    // kube names its own wrapper (`ServiceError: `); the causes say more.
    let mut text = e.to_string();
    for wrapper in ["ServiceError: ", "HyperError: "] {
        if let Some(rest) = text.strip_prefix(wrapper) {
            text = rest.to_string();
        }
    }
    let mut next = e.source();
    let mut depth = 0;
    while let Some(s) = next {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        next = s.source();
        depth += 1;
        if depth > 8 {
            break;
        }
    }
    text
}

fn namespace_phrase(ns: Option<&str>) -> String {
    match ns {
        Some(n) => format!(" in namespace {n}"),
        None => " in all namespaces".into(),
    }
}

fn agent_detail(message: Option<&str>, last: &[String]) -> String {
    match (message, last.is_empty()) {
        (Some(m), _) => format!(": {}", crate::report::sanitize(m)),
        (None, false) => format!(
            "; its last log lines: {}",
            crate::report::sanitize(&last.join(" | "))
        ),
        (None, true) => String::new(),
    }
}

impl ClusterError {
    /// An API error from kube, with the status the server sent.
    pub fn from_kube(e: kube::Error) -> Self {
        match e {
            kube::Error::Api(s) if s.code == 403 => ClusterError::Forbidden(format!(
                "forbidden: {}",
                crate::report::sanitize(&s.message)
            )),
            kube::Error::Api(s) => ClusterError::Api(format!(
                "the API server answered {}: {}",
                s.code,
                crate::report::sanitize(&s.message)
            )),
            other => ClusterError::Transport(crate::report::sanitize(&causes(&other))),
        }
    }

    /// A transport error as one that names the API server it could not
    /// reach (the first request's errors: nothing was read yet).
    #[must_use]
    pub fn reaching(self, server: &str) -> Self {
        match self {
            ClusterError::Transport(cause) => ClusterError::Unreachable {
                server: server.trim_end_matches('/').to_string(),
                cause,
            },
            other => other,
        }
    }

    /// Whether this is a problem with access (exit code for the CLI).
    pub fn is_access(&self) -> bool {
        matches!(
            self,
            ClusterError::Forbidden(_) | ClusterError::Denied { .. }
        )
    }
}

/// Send `req` and read at most `max + 1` bytes of its body: one more than
/// allowed, so the caller can tell a body that is too long from one that
/// fits, without ever holding more.
pub(crate) async fn read_body(
    client: &kube::Client,
    req: http::Request<Vec<u8>>,
    max: u64,
) -> Result<Vec<u8>, kube::Error> {
    use futures::AsyncReadExt;
    let body = client.request_stream(req).await?;
    let mut bytes = Vec::new();
    body.take(max + 1)
        .read_to_end(&mut bytes)
        .await
        .map_err(kube::Error::ReadEvents)?;
    Ok(bytes)
}

/// Run `fut` with a deadline; `what` names it in the error.
pub(crate) async fn timed<T>(
    after: Duration,
    what: &str,
    fut: impl std::future::Future<Output = Result<T, kube::Error>>,
) -> Result<T, ClusterError> {
    match tokio::time::timeout(after, fut).await {
        Ok(r) => r.map_err(ClusterError::from_kube),
        Err(_) => Err(ClusterError::Timeout {
            what: what.to_string(),
            after,
        }),
    }
}
