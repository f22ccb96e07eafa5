//! The agent as an ephemeral container: built from
//! `probes/ephemeral-container.yaml` (the one source of its privileges),
//! added with a strategic merge patch to the pod's `ephemeralcontainers`
//! subresource as `kubectl debug` does, then watched until it runs.
//!
//! Ephemeral containers cannot be removed or restarted, so every audit
//! leaves one in the pod's spec until the pod is replaced. To leave as few
//! as possible, a tls-audit container of the same image that is still
//! running (an audit in progress) is reused instead of adding another.

use std::time::Duration;

use futures::TryStreamExt;
use k8s_openapi::api::core::v1::{ContainerState, Pod};
use kube::api::{Api, Patch, PatchParams, WatchEvent, WatchParams};
use serde_json::{Value, json};

use super::ClusterError;

/// The container spec the plugin fills in.
pub const TEMPLATE: &str = include_str!("../../probes/ephemeral-container.yaml");

/// Every agent container's name starts with this.
pub const NAME_PREFIX: &str = "tls-audit-";

/// The field manager recorded for the patch (`metadata.managedFields`).
pub const FIELD_MANAGER: &str = "kubectl-tls-audit";

/// Waiting reasons after which the container will not start by itself.
const IMAGE_REASONS: [&str; 3] = ["ImagePullBackOff", "ErrImagePull", "InvalidImageName"];
const CREATE_REASONS: [&str; 3] = [
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
];

/// The template's image, the default for `--image`.
pub fn default_image() -> String {
    template()
        .ok()
        .and_then(|t| t.get("image").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_default()
}

fn template() -> Result<Value, ClusterError> {
    serde_saphyr::from_str::<Value>(TEMPLATE)
        .map_err(|e| ClusterError::Config(format!("probes/ephemeral-container.yaml: {e}")))
}

/// The agent's container for one pod: the template with its name, target
/// container, capture duration and image filled in.
///
/// # Errors
///
/// Only if the embedded template is broken (a build defect, tested).
pub fn container(
    name: &str,
    target: Option<&str>,
    duration: Duration,
    image: &str,
) -> Result<Value, ClusterError> {
    let mut c = template()?;
    c["name"] = name.into();
    c["image"] = image.into();
    if let Some(t) = target {
        c["targetContainerName"] = t.into();
    }
    let secs = duration.as_secs().max(1);
    if let Some(args) = c.get_mut("args").and_then(Value::as_array_mut) {
        for a in args.iter_mut() {
            if a.as_str().is_some_and(|s| s.starts_with("--duration=")) {
                *a = format!("--duration={secs}s").into();
            }
        }
    }
    Ok(c)
}

/// The strategic merge patch that appends `container` to the pod's
/// ephemeral containers (the same body `kubectl debug` sends).
pub fn patch_body(container: &Value) -> Value {
    json!({ "spec": { "ephemeralContainers": [container] } })
}

/// `tls-audit-` and five random characters from the alphabet Kubernetes
/// uses for generated names (no vowels, no look-alikes).
pub fn random_name() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut bytes = [0u8; 5];
    // SystemRandom fails only without a kernel RNG; the time is then the
    // seed of last resort (the name must be unique, not secret).
    if ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        bytes = nanos.to_le_bytes()[..].repeat(2)[..5]
            .try_into()
            .unwrap_or([7; 5]);
    }
    let suffix: String = bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect();
    format!("{NAME_PREFIX}{suffix}")
}

/// The state of container `name` in the pod's ephemeral container
/// statuses, if listed.
pub fn state<'p>(pod: &'p Pod, name: &str) -> Option<&'p ContainerState> {
    pod.status
        .as_ref()?
        .ephemeral_container_statuses
        .as_ref()?
        .iter()
        .find(|s| s.name == name)?
        .state
        .as_ref()
}

/// The agent containers already in the pod's spec, with their images.
pub fn agents_in(pod: &Pod) -> Vec<(String, Option<String>)> {
    pod.spec
        .as_ref()
        .and_then(|s| s.ephemeral_containers.as_ref())
        .map(|list| {
            list.iter()
                .filter(|c| c.name.starts_with(NAME_PREFIX))
                .map(|c| (c.name.clone(), c.image.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// A running agent container of `image` to reuse, if the pod has one.
pub fn reusable(pod: &Pod, image: &str) -> Option<String> {
    agents_in(pod).into_iter().find_map(|(name, img)| {
        let running = state(pod, &name).is_some_and(|s| s.running.is_some());
        (running && img.as_deref() == Some(image)).then_some(name)
    })
}

/// The container to target: `--container`, else the pod's
/// `kubectl.kubernetes.io/default-container`, else its first container.
pub fn target_container(pod: &Pod, wanted: Option<&str>) -> Option<String> {
    if let Some(w) = wanted {
        return Some(w.to_string());
    }
    let annotated = pod
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get("kubectl.kubernetes.io/default-container"));
    annotated.cloned().or_else(|| {
        pod.spec
            .as_ref()
            .and_then(|s| s.containers.first())
            .map(|c| c.name.clone())
    })
}

/// Add the container (the PATCH); returns the pod as the server answered
/// and the API server's `Warning` headers (Pod Security in `warn` mode
/// answers 200 and says what it would have refused).
///
/// # Errors
///
/// 403 [`ClusterError::PodSecurity`] when Pod Security admission refused
/// the container (`enforce` mode: `pods "x" is forbidden: violates
/// PodSecurity ...`), else [`ClusterError::Forbidden`]; 404
/// [`ClusterError::PodNotFound`] or [`ClusterError::EphemeralDisabled`];
/// 422 [`ClusterError::Invalid`] (or Pod Security, should a server say it
/// so).
pub async fn add(
    client: &kube::Client,
    namespace: &str,
    pod: &str,
    container: &Value,
    timeout: Duration,
) -> Result<(Pod, Vec<String>), ClusterError> {
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..PatchParams::default()
    };
    let body = patch_body(container);
    let patch = Patch::Strategic(&body);
    let req = kube::core::Request::new(format!("/api/v1/namespaces/{namespace}/pods"))
        .patch_subresource("ephemeralcontainers", pod, &params, &patch)
        .map_err(|e| ClusterError::Api(format!("cannot build the patch: {e}")))?;
    let sent = async {
        let res = client.send(req.map(kube::client::Body::from)).await?;
        let code = res.status().as_u16();
        let warnings = warnings(res.headers());
        let bytes = res.into_body().collect_bytes().await?;
        Ok::<_, kube::Error>((code, warnings, bytes))
    };
    let (code, warnings, bytes) = match tokio::time::timeout(timeout, sent).await {
        Err(_) => {
            return Err(ClusterError::Timeout {
                what: format!("adding the agent to pod {pod}"),
                after: timeout,
            });
        }
        Ok(Err(e)) => return Err(ClusterError::from_kube(e)),
        Ok(Ok(answer)) => answer,
    };
    if (200..300).contains(&code) {
        let p: Pod = serde_json::from_slice(&bytes).map_err(|e| {
            ClusterError::Api(format!(
                "the API server's answer to the patch is not a pod: {e}"
            ))
        })?;
        return Ok((p, warnings));
    }
    let status: kube::core::Status = serde_json::from_slice(&bytes).unwrap_or_default();
    let message = crate::report::sanitize(if status.message.is_empty() {
        "(no message)"
    } else {
        &status.message
    });
    Err(match code {
        403 | 422 if message.contains("violates PodSecurity") => ClusterError::PodSecurity(message),
        403 => ClusterError::Forbidden(format!("forbidden: {message}")),
        404 if status.details.as_ref().is_some_and(|d| !d.name.is_empty()) => {
            ClusterError::PodNotFound(pod.to_string())
        }
        404 => ClusterError::EphemeralDisabled(pod.to_string()),
        422 => ClusterError::Invalid(message),
        code => ClusterError::Api(format!("the API server answered {code}: {message}")),
    })
}

/// The texts of `Warning` headers (RFC 9111 section 5.5, which Kubernetes
/// sends as `299 - "text"`), bounded and sanitised.
pub fn warnings(headers: &http::HeaderMap) -> Vec<String> {
    headers
        .get_all(http::header::WARNING)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()))
        .filter_map(|v| warning_text(&v))
        .take(20)
        .map(|t| crate::report::sanitize(&t.chars().take(1000).collect::<String>()))
        .collect()
}

/// `299 - "text"` to `text` (quotes unescaped); other forms as they are.
fn warning_text(value: &str) -> Option<String> {
    let value = value.trim();
    let rest = value
        .strip_prefix("299 - ")
        .or_else(|| {
            value
                .split_once(' ')
                .and_then(|(_, r)| r.split_once(' '))
                .map(|(_, r)| r)
        })
        .unwrap_or(value);
    let quoted = rest.strip_prefix('"').and_then(|r| {
        // The text ends at the last quote (a warn-date may follow it).
        let end = r.rfind('"')?;
        r.get(..end)
    });
    let text = quoted.map_or_else(
        || rest.to_string(),
        |q| q.replace("\\\"", "\"").replace("\\\\", "\\"),
    );
    (!text.is_empty()).then_some(text)
}

/// A watch on pod `pod` from `version`, which the server ends after
/// `within` (bounded to its own limit).
async fn watch_one(
    api: &Api<Pod>,
    pod: &str,
    version: &str,
    within: Duration,
) -> Result<impl futures::Stream<Item = Result<WatchEvent<Pod>, kube::Error>> + use<>, ClusterError>
{
    let params = WatchParams::default()
        .fields(&format!("metadata.name={pod}"))
        .timeout(within.as_secs().clamp(1, 290) as u32);
    let stream = api
        .watch(&params, version)
        .await
        .map_err(ClusterError::from_kube)?;
    Ok(stream.into_stream())
}

/// Whether the agent container ended, as the kubelet reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Termination {
    /// It ended with this exit code.
    Exited(i32),
    /// The pod still lists it as running (or waiting) when the wait ended.
    NotYet,
    /// The pod is gone.
    PodGone,
}

/// Wait, up to `within`, for the kubelet to report `container` ended:
/// the pod is read, then watched from its version, so a status posted a
/// while after the log closed is seen as soon as it comes.
///
/// # Errors
///
/// API errors reading or watching the pod.
pub async fn wait_terminated(
    api: &Api<Pod>,
    pod: &str,
    container: &str,
    within: Duration,
    request_timeout: Duration,
) -> Result<Termination, ClusterError> {
    let ended = |p: &Pod| {
        state(p, container)
            .and_then(|s| s.terminated.as_ref())
            .map(|t| t.exit_code)
    };
    let p = match tokio::time::timeout(request_timeout, api.get(pod)).await {
        Ok(Ok(p)) => p,
        Ok(Err(kube::Error::Api(s))) if s.code == 404 => return Ok(Termination::PodGone),
        Ok(Err(e)) => return Err(ClusterError::from_kube(e)),
        Err(_) => {
            return Err(ClusterError::Timeout {
                what: format!("reading pod {pod}"),
                after: request_timeout,
            });
        }
    };
    if let Some(code) = ended(&p) {
        return Ok(Termination::Exited(code));
    }
    let version = p.metadata.resource_version.clone().unwrap_or_default();
    let watch = async {
        let stream = watch_one(api, pod, &version, within).await?;
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.try_next().await.map_err(ClusterError::from_kube)? {
            match event {
                WatchEvent::Added(p) | WatchEvent::Modified(p) => {
                    if let Some(code) = ended(&p) {
                        return Ok(Termination::Exited(code));
                    }
                }
                WatchEvent::Deleted(_) => return Ok(Termination::PodGone),
                WatchEvent::Bookmark(_) | WatchEvent::Error(_) => {}
            }
        }
        Ok(Termination::NotYet)
    };
    match tokio::time::timeout(within, watch).await {
        Ok(r) => r,
        Err(_) => Ok(Termination::NotYet),
    }
}

/// How the container stood when waiting ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    /// It runs.
    Running,
    /// It ran and has already ended (a short capture, or a failure).
    Terminated {
        /// Its exit code.
        exit_code: i32,
    },
}

/// What one pod state says about the container: decided, or wait on.
pub fn judge(pod: &Pod, container: &str) -> Option<Result<Started, ClusterError>> {
    let st = state(pod, container)?;
    if st.running.is_some() {
        return Some(Ok(Started::Running));
    }
    if let Some(t) = &st.terminated {
        return Some(Ok(Started::Terminated {
            exit_code: t.exit_code,
        }));
    }
    let w = st.waiting.as_ref()?;
    let reason = w.reason.clone().unwrap_or_default();
    let message = crate::report::sanitize(w.message.as_deref().unwrap_or(""));
    if IMAGE_REASONS.contains(&reason.as_str()) {
        return Some(Err(ClusterError::ImagePull { reason, message }));
    }
    if CREATE_REASONS.contains(&reason.as_str()) {
        return Some(Err(ClusterError::NotStarted { reason, message }));
    }
    None
}

/// Watch the pod until the container runs or ends, or a deadline passes.
/// `resource_version` is the patched pod's: events after it.
///
/// # Errors
///
/// Image pull and start failures as the kubelet reports them, the pod's
/// deletion, or [`ClusterError::Timeout`].
pub async fn wait_started(
    api: &Api<Pod>,
    pod: &str,
    container: &str,
    resource_version: &str,
    within: Duration,
) -> Result<Started, ClusterError> {
    let wait = async {
        let mut version = resource_version.to_string();
        // A watch can end (server timeout, a proxy); start another from
        // the last version seen, a bounded number of times.
        for _ in 0..20 {
            let stream = watch_one(api, pod, &version, within).await?;
            let mut stream = std::pin::pin!(stream);
            while let Some(event) = stream.try_next().await.map_err(ClusterError::from_kube)? {
                match event {
                    WatchEvent::Added(p) | WatchEvent::Modified(p) => {
                        if let Some(v) = p.metadata.resource_version.clone() {
                            version = v;
                        }
                        if let Some(decided) = judge(&p, container) {
                            return decided;
                        }
                    }
                    WatchEvent::Deleted(_) => return Err(ClusterError::PodNotFound(pod.into())),
                    WatchEvent::Bookmark(b) => version = b.metadata.resource_version,
                    // 410 Gone: the version is too old; read the pod anew.
                    WatchEvent::Error(s) if s.code == 410 => {
                        let p = api.get(pod).await.map_err(ClusterError::from_kube)?;
                        if let Some(decided) = judge(&p, container) {
                            return decided;
                        }
                        version = p.metadata.resource_version.unwrap_or_default();
                    }
                    WatchEvent::Error(s) => {
                        return Err(ClusterError::Api(crate::report::sanitize(&s.message)));
                    }
                }
            }
        }
        Err(ClusterError::Api(format!(
            "the watch on pod {pod} kept ending before {container} started"
        )))
    };
    match tokio::time::timeout(within, wait).await {
        Ok(r) => r,
        Err(_) => Err(ClusterError::Timeout {
            what: format!("waiting for {container} to start in pod {pod} (--pod-running-timeout)"),
            after: within,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(status: Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "n"},
            "spec": {"containers": [{"name": "app"}, {"name": "sidecar"}],
                     "ephemeralContainers": [{"name": "tls-audit-abcde", "image": "img:1"},
                                             {"name": "debugger-x", "image": "busybox"}]},
            "status": {"ephemeralContainerStatuses": [{"name": "tls-audit-abcde", "image": "img:1", "imageID": "",
                        "ready": false, "restartCount": 0, "state": status}]}
        }))
        .expect("pod")
    }

    #[test]
    fn the_container_is_the_probe_with_name_target_duration_and_image_filled_in() {
        let c = container(
            "tls-audit-bcdfg",
            Some("app"),
            Duration::from_secs(90),
            "reg/x:2",
        )
        .expect("template");
        assert_eq!(c["name"], "tls-audit-bcdfg");
        assert_eq!(c["targetContainerName"], "app");
        assert_eq!(c["image"], "reg/x:2");
        let args: Vec<&str> = c["args"]
            .as_array()
            .expect("args")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(args.contains(&"--duration=90s"));
        assert_eq!(
            args.iter().filter(|a| a.starts_with("--duration")).count(),
            1
        );
        assert_eq!(
            c["securityContext"]["capabilities"]["add"],
            json!(["NET_RAW"])
        );
        let without =
            container("tls-audit-bcdfg", None, Duration::from_secs(1), "i").expect("template");
        assert!(without.get("targetContainerName").is_none());
        assert_eq!(default_image(), "ghcr.io/tls-audit/tls-audit:0.1.0");
    }

    /// Pod Security in `warn` mode: `Warning: 299 - "text"` (quotes in
    /// the text escaped), several headers, hostile ones bounded.
    #[test]
    fn warning_headers_are_read_as_the_api_server_writes_them() {
        let mut h = http::HeaderMap::new();
        h.append(
            http::header::WARNING,
            http::HeaderValue::from_static(
                r#"299 - "would violate PodSecurity \"baseline:latest\": non-default capabilities (container \"tls-audit-x\" must not include \"NET_RAW\" in securityContext.capabilities.add)""#,
            ),
        );
        h.append(
            http::header::WARNING,
            http::HeaderValue::from_static(r#"299 - "second""#),
        );
        // Bytes beyond ASCII (obs-text) are read, not dropped.
        h.append(
            http::header::WARNING,
            http::HeaderValue::from_bytes("299 - \"caf\u{e9}\"".as_bytes()).expect("obs-text"),
        );
        let got = warnings(&h);
        assert_eq!(
            got[0],
            r#"would violate PodSecurity "baseline:latest": non-default capabilities (container "tls-audit-x" must not include "NET_RAW" in securityContext.capabilities.add)"#
        );
        assert_eq!(got[1], "second");
        assert_eq!(got[2], "caf\u{e9}");
        let mut many = http::HeaderMap::new();
        let long = format!("299 - \"{}\"", "x".repeat(5000));
        for _ in 0..50 {
            many.append(
                http::header::WARNING,
                http::HeaderValue::from_str(&long).expect("value"),
            );
        }
        let got = warnings(&many);
        assert_eq!(got.len(), 20);
        assert!(got.iter().all(|w| w.chars().count() <= 1000));
        assert_eq!(warning_text("plain text"), Some("plain text".into()));
        assert_eq!(warning_text("299 - \"\""), None);
    }

    #[test]
    fn names_are_prefixed_and_random() {
        let a = random_name();
        let b = random_name();
        assert!(a.starts_with(NAME_PREFIX) && a.len() == NAME_PREFIX.len() + 5);
        assert_ne!(a, b);
    }

    #[test]
    fn only_a_running_agent_of_the_same_image_is_reused() {
        let running = pod(json!({"running": {"startedAt": "2026-11-27T12:00:00Z"}}));
        assert_eq!(
            reusable(&running, "img:1").as_deref(),
            Some("tls-audit-abcde")
        );
        assert_eq!(reusable(&running, "img:2"), None);
        let ended = pod(json!({"terminated": {"exitCode": 0}}));
        assert_eq!(reusable(&ended, "img:1"), None);
        assert_eq!(agents_in(&ended).len(), 1);
        assert_eq!(target_container(&ended, None).as_deref(), Some("app"));
        assert_eq!(
            target_container(&ended, Some("sidecar")).as_deref(),
            Some("sidecar")
        );
    }

    #[test]
    fn waiting_reasons_are_judged() {
        let creating = pod(json!({"waiting": {"reason": "ContainerCreating"}}));
        assert!(judge(&creating, "tls-audit-abcde").is_none());
        let config =
            pod(json!({"waiting": {"reason": "CreateContainerConfigError", "message": "bad"}}));
        assert!(matches!(
            judge(&config, "tls-audit-abcde"),
            Some(Err(ClusterError::NotStarted { .. }))
        ));
        let ended = pod(json!({"terminated": {"exitCode": 3}}));
        assert_eq!(
            judge(&ended, "tls-audit-abcde")
                .expect("decided")
                .expect("ok"),
            Started::Terminated { exit_code: 3 }
        );
        assert!(judge(&ended, "tls-audit-zzzzz").is_none());
    }
}
