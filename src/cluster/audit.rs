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

use super::context::pod_name;
use super::ephemeral::{self, Started};
use super::logs::{self, Ended, LineFilter, Tally};
use super::{ClusterError, timed};
use crate::live::Replayed;

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
}

/// Where progress goes (a live display on a terminal, plain lines
/// otherwise, nothing in tests).
pub trait Progress: Send + Sync {
    /// A pod's next step.
    fn step(&self, pod: &str, message: &str);
    /// Events read so far from a pod's agent.
    fn tally(&self, pod: &str, tally: Tally);
    /// A pod is done (`error` when it failed).
    fn done(&self, pod: &str, summary: &str, failed: bool);
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

async fn audit_one(client: &Client, pod: Pod, plan: &Plan, progress: &dyn Progress) -> PodResult {
    let name = pod_name(&pod);
    let mut result = PodResult {
        pod: name.clone(),
        container: None,
        reused: false,
        replayed: None,
        ended: None,
        error: None,
    };
    let ns = pod
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| "default".into());
    let short = pod.metadata.name.clone().unwrap_or_default();
    let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let started = tokio::select! {
        s = start_agent(&api, &pod, &short, plan, progress, &mut result) => s,
        () = super::interrupted() => Err(ClusterError::Interrupted),
    };
    let container = match started {
        Ok(c) => c,
        Err(e) => {
            progress.done(&name, &e.to_string(), true);
            result.error = Some(e);
            return result;
        }
    };
    progress.step(
        &name,
        &format!("{container}: capturing for {}s", plan.duration.as_secs()),
    );
    let params = LogParams {
        container: Some(container.clone()),
        follow: true,
        ..LogParams::default()
    };
    let deadline = Instant::now() + plan.duration + GRACE;
    let read = logs::follow(
        &api,
        &short,
        &params,
        format!("{name} ({container})"),
        deadline,
        LineFilter::All,
        |t| progress.tally(&name, t),
    )
    .await;
    let read = match read {
        Ok(r) => r,
        Err(e) => {
            progress.done(&name, &e.to_string(), true);
            result.error = Some(e);
            return result;
        }
    };
    result.ended = Some(read.ended);
    // The log closed: the container ended. How?
    let exit = if read.ended == Ended::Eof {
        exit_code(&api, &short, &container, plan.request_timeout).await
    } else {
        None
    };
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
    }
    match read.replayed {
        Ok(r) => result.replayed = Some(r),
        Err(e) if result.error.is_none() => {
            result.error = Some(ClusterError::Api(format!(
                "the agent's log is not an event stream: {e}"
            )));
        }
        Err(_) => {}
    }
    let flows = result.replayed.as_ref().map_or(0, |r| r.flows.len());
    let summary = match (&result.error, read.ended) {
        (Some(e), _) => e.to_string(),
        (None, Ended::Eof) => format!("{flows} flows"),
        (None, Ended::Deadline) => format!("{flows} flows (log cut at the deadline)"),
        (None, Ended::TooLong) => format!("{flows} flows (log cut: over 512 MiB)"),
        (None, Ended::Interrupted) => format!("{flows} flows (interrupted)"),
    };
    progress.done(&name, &summary, result.error.is_some());
    result
}

/// Reuse a running agent or add one, and wait until it runs; returns the
/// container's name.
async fn start_agent(
    api: &Api<Pod>,
    pod: &Pod,
    short: &str,
    plan: &Plan,
    progress: &dyn Progress,
    result: &mut PodResult,
) -> Result<String, ClusterError> {
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
        return Ok(running);
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
    let patched = ephemeral::add(api, short, &spec, plan.request_timeout).await?;
    result.container = Some(container.clone());
    let version = patched
        .metadata
        .resource_version
        .clone()
        .unwrap_or_default();
    let state = match ephemeral::judge(&patched, &container) {
        Some(decided) => decided?,
        None => {
            progress.step(&name, &format!("{container}: waiting to run"));
            ephemeral::wait_started(api, short, &container, &version, plan.pod_running_timeout)
                .await?
        }
    };
    if let Started::Terminated { exit_code } = state {
        progress.step(
            &name,
            &format!("{container}: already ended (exit {exit_code}); reading its log"),
        );
    }
    Ok(container)
}

/// The container's exit code, once it has ended (the log's end can come a
/// moment before the status says so: asked a few times).
async fn exit_code(api: &Api<Pod>, pod: &str, container: &str, timeout: Duration) -> Option<i32> {
    for attempt in 0..5u64 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
        }
        let Ok(p) = timed(timeout, "reading the pod", api.get(pod)).await else {
            return None;
        };
        if let Some(t) = ephemeral::state(&p, container).and_then(|s| s.terminated.as_ref()) {
            return Some(t.exit_code);
        }
    }
    None
}
