//! Many pods at once: each selected pod gets the agent (added or reused),
//! its log is followed into a report, and the outcome is kept per pod, so
//! one pod's failure (Pod Security, an image that cannot be pulled, an
//! agent without NET_RAW) is reported beside the others' results instead
//! of ending the audit. At most `concurrency` pods are worked on at a time.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use kube::api::{Api, LogParams};
use tokio::time::Instant;

use super::ClusterError;
use super::context::pod_name;
use super::ephemeral::{self, Started, Termination};
use super::logs::{self, Ended, Follower, LineFilter, Tally};
use crate::live::{EventError, Replayed};
use crate::model::WarningKind;

/// Time after `--duration` allowed for the agent to write its last flows
/// and summary and for the kubelet to close the log.
pub const GRACE: Duration = Duration::from_secs(30);

/// How to audit.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Capture time per pod.
    pub duration: Duration,
    /// The agent's image.
    pub image: String,
    /// The container to target (`-c`); else the pod's default one.
    pub container: Option<String>,
    /// Pods worked on at a time.
    pub concurrency: usize,
    /// How long the agent may take to start.
    pub pod_running_timeout: Duration,
    /// Bound on each API call that is not a stream.
    pub request_timeout: Duration,
}

/// What happened to one pod.
pub struct PodResult {
    /// `namespace/name`.
    pub pod: String,
    /// The agent container used, when one was added or reused.
    pub container: Option<String>,
    /// It was an existing container, not a new one.
    pub reused: bool,
    /// The events read, when the log could be read.
    pub replayed: Option<Replayed>,
    /// How the log ended.
    pub ended: Option<Ended>,
    /// Why the pod could not be audited (fully).
    pub error: Option<ClusterError>,
    /// What the API server warned about when the agent was added (Pod
    /// Security `warn` mode).
    pub api_warnings: Vec<String>,
    /// A node agent: whether it runs with `--enrich probe` (its container's
    /// arguments); None for an agent added to the pod.
    pub enriching: Option<bool>,
}

/// Where progress goes (a live display on a terminal, plain lines
/// otherwise, nothing in tests).
pub trait Progress: Send + Sync {
    /// A pod's next step.
    fn step(&self, pod: &str, message: &str);
    /// The pod's agent captures for `duration` from now.
    fn capturing(&self, pod: &str, message: &str, duration: Duration) {
        let _ = duration;
        self.step(pod, message);
    }
    /// Events read so far from a pod's agent.
    fn tally(&self, pod: &str, tally: Tally);
    /// A pod is done (`error` when it failed).
    fn done(&self, pod: &str, summary: &str, failed: bool);
    /// Something the run decided or saw that is about no single pod's
    /// agent (a namespace routed to the node agents, a pod skipped, the
    /// probe's counts).
    fn note(&self, message: &str);
}

/// Audit `pods`; results in the order of `pods`.
pub async fn audit_pods(
    client: &Client,
    pods: Vec<Pod>,
    plan: &Plan,
    progress: Arc<dyn Progress>,
) -> Vec<PodResult> {
    let work = pods.into_iter().enumerate().map(|(i, pod)| {
        let progress = Arc::clone(&progress);
        async move { (i, audit_one(client, pod, plan, progress.as_ref()).await) }
    });
    let mut results: Vec<(usize, PodResult)> = futures::stream::iter(work)
        .buffer_unordered(plan.concurrency.max(1))
        .collect()
        .await;
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

/// After the log ends, how long the kubelet may take to report that the
/// container ended (it posts statuses on its own schedule, later under
/// load). Reset while a new connection brings new lines.
pub const TERMINATION_WAIT: Duration = Duration::from_secs(30);

/// How long one look for the termination waits before the log is opened
/// again (a log connection a proxy or the server dropped while the agent
/// still runs).
const SETTLE: Duration = Duration::from_secs(2);

/// Log connections opened for one agent, at most.
const MAX_CONNECTIONS: u32 = 8;

async fn audit_one(client: &Client, pod: Pod, plan: &Plan, progress: &dyn Progress) -> PodResult {
    let name = pod_name(&pod);
    let mut result = PodResult {
        pod: name.clone(),
        container: None,
        reused: false,
        replayed: None,
        ended: None,
        error: None,
        api_warnings: Vec::new(),
        enriching: None,
    };
    let ns = pod
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| "default".into());
    let short = pod.metadata.name.clone().unwrap_or_default();
    let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let started = tokio::select! {
        s = start_agent(client, &ns, &pod, &short, plan, progress, &mut result) => s,
        () = super::interrupted() => Err(ClusterError::Interrupted),
    };
    let (container, state) = match started {
        Ok(c) => c,
        Err(e) => {
            progress.done(&name, &e.to_string(), true);
            result.error = Some(e);
            return result;
        }
    };
    if state == Started::Running {
        progress.capturing(
            &name,
            &format!("{container}: capturing for {}s", plan.duration.as_secs()),
            plan.duration,
        );
    }
    let (follower, ended, exit) =
        match follow(&api, &short, &name, &container, plan, progress, &mut result).await {
            Ok(f) => f,
            Err(e) => {
                progress.done(&name, &e.to_string(), true);
                result.error = Some(e);
                return result;
            }
        };
    let read = follower.finish(ended).await;
    let ended = read.ended;
    take_events(&mut result, read, exit);
    progress.done(&name, &summary(&result, ended), result.error.is_some());
    result
}

/// What the agent's log gave: how it ended, the replayed report, or why
/// there is none.
fn take_events(result: &mut PodResult, read: logs::LogRead, exit: Option<i32>) {
    result.ended = Some(read.ended);
    judge_end(result, &read, exit);
    let agent_failed = read.agent_error.is_some();
    match read.replayed {
        Ok(mut r) => {
            // The agent said why it stopped: its error is the pod's
            // failure; "ended without a summary" would only repeat it.
            if agent_failed {
                r.report
                    .warnings
                    .retain(|w| w.kind != WarningKind::EventsCut);
            }
            result.replayed = Some(r);
        }
        Err(e) if result.error.is_none() => result.error = Some(not_an_event_stream(&e)),
        Err(_) => {}
    }
}

/// The error for an agent log that does not read as events.
pub(super) fn not_an_event_stream(e: &EventError) -> ClusterError {
    ClusterError::Api(format!("the agent's log is not an event stream: {e}"))
}

/// The pod's line in the progress: its error, or its flows and how the
/// log ended.
fn summary(result: &PodResult, ended: Ended) -> String {
    let flows = result.replayed.as_ref().map_or(0, |r| r.flows.len());
    let flows = crate::report::plural(u64::try_from(flows).unwrap_or(u64::MAX), "flow");
    match (&result.error, ended) {
        (Some(e), _) => e.to_string(),
        (None, Ended::Eof) => flows,
        (None, Ended::Deadline) => format!("{flows} (log cut at the deadline)"),
        (None, Ended::TooLong) => format!("{flows} (log cut: over 512 MiB)"),
        (None, Ended::Interrupted) => format!("{flows} (interrupted)"),
    }
}

/// Follow the agent's log until it ends: the deadline, its end with the
/// container's, or the pod gone. A log that closes while the container
/// runs (a dropped connection) is opened again. Err when the log could
/// not be opened at all; what else went wrong is the pod's `error`.
async fn follow(
    api: &Api<Pod>,
    short: &str,
    name: &str,
    container: &str,
    plan: &Plan,
    progress: &dyn Progress,
    result: &mut PodResult,
) -> Result<(Follower, Ended, Option<i32>), ClusterError> {
    let params = LogParams {
        container: Some(container.to_string()),
        follow: true,
        ..LogParams::default()
    };
    let deadline = Instant::now() + plan.duration + GRACE;
    let mut follower = Follower::new(format!("{name} ({container})"), LineFilter::All);
    let tick = |t| progress.tally(name, t);
    let mut exit = None;
    let mut settle_until: Option<Instant> = None;
    let ended = loop {
        let before = follower.lines_passed();
        let stream = match logs::open(api, short, &params, deadline).await {
            Ok(s) => s,
            Err(e) if follower.connections() == 0 => return Err(e),
            // The log was read before: what was read stands.
            Err(_) => break Ended::Eof,
        };
        let ended = follower.read(stream, deadline, &tick).await;
        if ended != Ended::Eof {
            break ended;
        }
        // The log closed. The container ended, or the connection was
        // dropped while it runs: the kubelet's status tells which.
        if follower.lines_passed() > before {
            settle_until = None;
        }
        let until = *settle_until.get_or_insert_with(|| Instant::now() + TERMINATION_WAIT);
        let left = until.saturating_duration_since(Instant::now());
        let look = ephemeral::wait_terminated(
            api,
            short,
            container,
            left.min(SETTLE).max(Duration::from_millis(100)),
            plan.request_timeout,
        )
        .await;
        match look {
            Ok(Termination::Exited(code)) => {
                exit = Some(code);
                break ended;
            }
            Ok(Termination::PodGone) => {
                result.error = Some(ClusterError::PodNotFound(name.to_string()));
                break ended;
            }
            Ok(Termination::NotYet)
                if Instant::now() < until
                    && Instant::now() < deadline
                    && follower.connections() < MAX_CONNECTIONS => {}
            Ok(Termination::NotYet) => break ended,
            Err(e) => {
                result.error = Some(e);
                break ended;
            }
        }
    };
    Ok((follower, ended, exit))
}

/// The pod's outcome from how its log ended and the container's exit
/// code: a non-zero code, an `error` event, or (the log closed but the
/// kubelet never said the container ended, and no summary was read) an
/// unknown end are failures; a known good end is not.
fn judge_end(result: &mut PodResult, read: &logs::LogRead, exit: Option<i32>) {
    if result.error.is_some() {
        return;
    }
    if let Some(code) = exit.filter(|&c| c != 0) {
        result.error = Some(ClusterError::AgentFailed {
            code,
            message: read.agent_error.clone(),
            last_lines: read.last_lines.clone(),
        });
    } else if let Some(m) = &read.agent_error {
        result.error = Some(ClusterError::AgentFailed {
            code: exit.unwrap_or(-1),
            message: Some(m.clone()),
            last_lines: Vec::new(),
        });
    } else if read.ended == Ended::Eof && exit.is_none() && !read.summarized {
        result.error = Some(ClusterError::Timeout {
            what: format!(
                "waiting for the kubelet to report the agent's exit after its log ended without a summary \
                 (its capture may be incomplete; its last lines: {})",
                crate::report::sanitize(&read.last_lines.join(" | "))
            ),
            after: TERMINATION_WAIT,
        });
    }
}

/// Reuse a running agent or add one, and wait until it runs; returns the
/// container's name and how it stood.
async fn start_agent(
    client: &Client,
    namespace: &str,
    pod: &Pod,
    short: &str,
    plan: &Plan,
    progress: &dyn Progress,
    result: &mut PodResult,
) -> Result<(String, Started), ClusterError> {
    let name = pod_name(pod);
    if let Some(running) = ephemeral::reusable(pod, &plan.image) {
        progress.step(
            &name,
            &format!(
                "reusing {running}, already running with the same image (ephemeral containers \
                 cannot be removed, so no other is added)"
            ),
        );
        result.container = Some(running.clone());
        result.reused = true;
        return Ok((running, Started::Running));
    }
    let earlier = ephemeral::agents_in(pod).len();
    let container = ephemeral::random_name();
    let target = ephemeral::target_container(pod, plan.container.as_deref());
    let spec = ephemeral::container(&container, target.as_deref(), plan.duration, &plan.image)?;
    let note = if earlier > 0 {
        format!(" (the pod already holds {earlier} finished tls-audit containers)")
    } else {
        String::new()
    };
    progress.step(&name, &format!("adding {container}{note}"));
    let (patched, warnings) =
        ephemeral::add(client, namespace, short, &spec, plan.request_timeout).await?;
    for w in &warnings {
        progress.step(&name, &format!("the API server warns: {w}"));
    }
    result.api_warnings = warnings;
    result.container = Some(container.clone());
    let version = patched
        .metadata
        .resource_version
        .clone()
        .unwrap_or_default();
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let state = match ephemeral::judge(&patched, &container) {
        Some(decided) => decided?,
        None => {
            progress.step(&name, &format!("{container}: waiting to run"));
            ephemeral::wait_started(&api, short, &container, &version, plan.pod_running_timeout)
                .await?
        }
    };
    if let Started::Terminated { exit_code } = state {
        progress.step(
            &name,
            &format!("{container}: already ended (exit {exit_code}); reading its log"),
        );
    }
    Ok((container, state))
}
