//! A fake Kubernetes API server for the `pod` command's tests: HTTPS on
//! 127.0.0.1 with a test CA (rcgen), a real kubeconfig pointing at it with
//! a bearer token, and realistic API JSON: the fixture cluster's pods and
//! nodes (fixtures/cluster), Services, SelfSubjectAccessReview answers,
//! the ephemeralcontainers PATCH, a pod watch showing the added container
//! waiting then running, and a log stream replaying a real agent NDJSON
//! stream. Every request is recorded (method, path, query, headers, body)
//! so tests can assert exactly what the client sent.
//!
//! HTTP/1.1 by hand, one request per connection (`Connection: close`):
//! enough for hyper's client and simple to script, including the bodies
//! that stream (watch, log follow).

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{root, temp_dir};

/// The bearer token in the kubeconfig.
pub const TOKEN: &str = "fake-token-7f3a9c";

/// One request as the server received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

/// How the server answers the PATCH of one pod's ephemeral containers.
#[derive(Debug, Clone)]
pub enum PatchAnswer {
    /// Accept; the container then shows these waiting reasons, then runs
    /// (unless the last state is a waiting one: it stays so).
    Accept {
        waiting: Vec<(&'static str, &'static str)>,
        runs: bool,
    },
    /// Answer with this code and Status JSON.
    Reject(u16, Value),
    /// Accept; the container has already ended when the pod is watched
    /// (with the script's exit code), as an agent that fails at once.
    Exits,
}

/// What one scripted pod does.
#[derive(Debug, Clone)]
pub struct Script {
    pub patch: PatchAnswer,
    /// The agent's log.
    pub log: Vec<u8>,
    /// The agent's exit code once its log ends.
    pub exit_code: i32,
}

#[derive(Default)]
struct State {
    requests: Vec<Recorded>,
    /// namespace/name → the pod as the API has it now.
    pods: BTreeMap<String, Value>,
    scripts: BTreeMap<String, Script>,
    nodes: Value,
    services: Value,
    /// `verb resource/subresource` the SSAR denies.
    denied: HashSet<String>,
    /// Paths answered 429 once before succeeding.
    throttle_once: HashSet<String>,
    /// Any other object, by API path (DaemonSets, ConfigMaps, CRDs).
    objects: BTreeMap<String, Value>,
    /// Pods whose agent log stays open after its lines (an agent still
    /// capturing), for a minute.
    stalled: HashSet<String>,
    /// Namespace name → its labels (Pod Security among them).
    namespace_labels: BTreeMap<String, BTreeMap<String, String>>,
    /// Pods whose kubelet posts the agent's `terminated` status this long
    /// after its log ends.
    late_exit: BTreeMap<String, Duration>,
    /// Pods whose first log connection is dropped (TCP closed without a
    /// TLS close) after this many lines, while the agent still runs.
    drop_log: BTreeMap<String, usize>,
    /// Log connections served, per pod.
    log_connections: BTreeMap<String, usize>,
    /// Answer the next list request that carries a continue token with
    /// 410 Expired (etcd compacted the revision the token names).
    expire_continue_once: bool,
}

pub struct FakeApi {
    #[allow(dead_code)]
    pub addr: SocketAddr,
    pub dir: PathBuf,
    pub kubeconfig: PathBuf,
    state: Arc<Mutex<State>>,
    _runtime: tokio::runtime::Runtime,
}

/// A rustls (ring) server with one certificate, for the test servers.
fn tls_acceptor(cert: &rcgen::Certificate, key: &rcgen::KeyPair) -> tokio_rustls::TlsAcceptor {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .expect("server config");
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

fn lock(s: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

/// The fixture cluster's pods (fixtures/cluster/pods.json).
pub fn fixture_pods() -> Vec<Value> {
    let text = std::fs::read(root().join("fixtures/cluster/pods.json")).expect("pods.json");
    let v: Value = serde_json::from_slice(&text).expect("json");
    v["items"].as_array().expect("items").clone()
}

/// The pod `name` of the fixture, or a copy of `pay/api-7d9f8b6c5-x2k4p`
/// renamed, at `ip`.
pub fn api_pod_copy(name: &str, ip: &str) -> Value {
    let mut p = fixture_pods()
        .into_iter()
        .find(|p| p["metadata"]["name"] == "api-7d9f8b6c5-x2k4p")
        .expect("api pod");
    p["metadata"]["name"] = name.into();
    p["metadata"]["uid"] = format!("uid-{name}").into();
    p["status"]["podIP"] = ip.into();
    p["status"]["podIPs"] = json!([{ "ip": ip }]);
    p
}

impl FakeApi {
    pub fn start(test: &str) -> FakeApi {
        let dir = temp_dir(&format!("kubectl-{test}"));
        let ca = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        let mut ca = ca;
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(rcgen::DnType::CommonName, "fake-kubernetes-ca");
        let ca_key = rcgen::KeyPair::generate().expect("key");
        let ca_cert = ca.self_signed(&ca_key).expect("ca");
        let issuer = rcgen::Issuer::new(ca, ca_key);
        let mut leaf =
            rcgen::CertificateParams::new(vec!["localhost".to_string()]).expect("params");
        leaf.subject_alt_names
            .push(rcgen::SanType::IpAddress("127.0.0.1".parse().expect("ip")));
        let leaf_key = rcgen::KeyPair::generate().expect("key");
        let leaf_cert = leaf.signed_by(&leaf_key, &issuer).expect("leaf");

        let acceptor = tls_acceptor(&leaf_cert, &leaf_key);

        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let nodes = serde_json::from_slice(
            &std::fs::read(root().join("fixtures/cluster/nodes.json")).expect("nodes.json"),
        )
        .expect("json");
        let state = Arc::new(Mutex::new(State {
            nodes,
            services: json!({"kind": "ServiceList", "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": [
                {"metadata": {"namespace": "pay", "name": "api"}, "spec": {"clusterIP": "10.100.0.20", "clusterIPs": ["10.100.0.20"], "ports": [{"port": 443}]}},
                {"metadata": {"namespace": "kube-system", "name": "kube-dns"}, "spec": {"clusterIP": "10.100.0.10", "clusterIPs": ["10.100.0.10"]}}
            ]}),
            ..State::default()
        }));
        for p in fixture_pods() {
            let key = pod_key(&p);
            lock(&state).pods.insert(key, p);
        }
        let served = Arc::clone(&state);
        runtime.spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let acceptor = acceptor.clone();
                let state = Arc::clone(&served);
                tokio::spawn(async move {
                    if let Ok(tls) = acceptor.accept(tcp).await {
                        let _ = serve(tls, state).await;
                    }
                });
            }
        });

        let ca_pem = ca_cert.pem();
        let kubeconfig = dir.join("kubeconfig");
        std::fs::write(
            &kubeconfig,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: https://127.0.0.1:{}\n    certificate-authority-data: {}\nusers:\n- name: auditor\n  user:\n    token: {TOKEN}\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: auditor\n    namespace: pay\ncurrent-context: fake\n",
                addr.port(),
                base64::engine::general_purpose::STANDARD.encode(ca_pem)
            ),
        )
        .expect("kubeconfig");
        FakeApi {
            addr,
            dir,
            kubeconfig,
            state,
            _runtime: runtime,
        }
    }

    pub fn add_pod(&self, pod: Value) {
        lock(&self.state).pods.insert(pod_key(&pod), pod);
    }

    pub fn script(&self, pod: &str, script: Script) {
        lock(&self.state).scripts.insert(pod.to_string(), script);
    }

    /// Keep `pod`'s agent log open after its last line, as a running
    /// agent's is.
    pub fn stall_log(&self, pod: &str) {
        lock(&self.state).stalled.insert(pod.to_string());
    }

    /// Label namespace `ns` (e.g. `pod-security.kubernetes.io/enforce`).
    pub fn label_namespace(&self, ns: &str, key: &str, value: &str) {
        lock(&self.state)
            .namespace_labels
            .entry(ns.to_string())
            .or_default()
            .insert(key.to_string(), value.to_string());
    }

    /// The kubelet reports `pod`'s agent ended only `after` its log ends.
    pub fn late_exit(&self, pod: &str, after: Duration) {
        lock(&self.state).late_exit.insert(pod.to_string(), after);
    }

    /// Drop `pod`'s first log connection after `lines` lines, the agent
    /// still running (a proxy or API server restart); later connections
    /// replay the log from its start, as the kubelet does.
    pub fn drop_log_after(&self, pod: &str, lines: usize) {
        lock(&self.state).drop_log.insert(pod.to_string(), lines);
    }

    /// Serve `object` at the API path `path` (GET).
    pub fn add_object(&self, path: &str, object: Value) {
        lock(&self.state).objects.insert(path.to_string(), object);
    }

    pub fn deny(&self, verb_resource: &str) {
        lock(&self.state).denied.insert(verb_resource.to_string());
    }

    /// The next paged list request that carries a continue token gets 410
    /// Expired, as after an etcd compaction.
    pub fn expire_continue_once(&self) {
        lock(&self.state).expire_continue_once = true;
    }

    pub fn throttle_once(&self, path: &str) {
        lock(&self.state).throttle_once.insert(path.to_string());
    }

    pub fn pod(&self, key: &str) -> Value {
        lock(&self.state)
            .pods
            .get(key)
            .cloned()
            .unwrap_or(Value::Null)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.state).requests.clone()
    }
}

fn pod_key(p: &Value) -> String {
    format!(
        "{}/{}",
        p["metadata"]["namespace"].as_str().unwrap_or("default"),
        p["metadata"]["name"].as_str().unwrap_or("")
    )
}

/// A Status object, as the API server sends with errors.
pub fn status(code: u16, reason: &str, message: &str, details: Value) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": message, "reason": reason, "details": details, "code": code})
}

type Tls = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;

async fn read_request(tls: &mut Tls) -> std::io::Result<Option<Recorded>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        if buf.len() > 1 << 20 {
            return Ok(None);
        }
        let n = tls.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or("").split(' ');
    let method = first.next().unwrap_or("").to_string();
    let target = first.next().unwrap_or("").to_string();
    let mut headers = BTreeMap::new();
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < len {
        let n = tls.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (target, String::new()),
    };
    Ok(Some(Recorded {
        method,
        path,
        query,
        headers,
        body,
    }))
}

async fn respond(tls: &mut Tls, code: u16, extra: &str, body: &[u8]) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {code} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n",
        body.len()
    );
    tls.write_all(head.as_bytes()).await?;
    tls.write_all(body).await?;
    tls.flush().await?;
    tls.shutdown().await
}

/// A body that arrives over time (watch, log follow): close-delimited.
async fn stream(
    tls: &mut Tls,
    content_type: &str,
    parts: Vec<Vec<u8>>,
    gap: Duration,
    hold: Duration,
) -> std::io::Result<()> {
    stream_open(tls, content_type, parts, gap, hold).await?;
    tls.shutdown().await
}

/// [`stream`] without the close.
async fn stream_open(
    tls: &mut Tls,
    content_type: &str,
    parts: Vec<Vec<u8>>,
    gap: Duration,
    hold: Duration,
) -> std::io::Result<()> {
    stream_head(tls, content_type).await?;
    for p in parts {
        tokio::time::sleep(gap).await;
        tls.write_all(&p).await?;
        tls.flush().await?;
    }
    tokio::time::sleep(hold).await;
    Ok(())
}

async fn stream_head(tls: &mut Tls, content_type: &str) -> std::io::Result<()> {
    let head =
        format!("HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nConnection: close\r\n\r\n");
    tls.write_all(head.as_bytes()).await?;
    tls.flush().await
}

fn query_param(query: &str, key: &str) -> Option<String> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn matches_labels(pod: &Value, selector: &str) -> bool {
    selector
        .split(',')
        .filter(|s| !s.is_empty())
        .all(|term| match term.split_once('=') {
            Some((k, v)) => pod["metadata"]["labels"][k].as_str() == Some(v),
            None => false,
        })
}

fn container_state(waiting: Option<(&str, &str)>, running: bool, exit: Option<i32>) -> Value {
    if let Some(code) = exit {
        return json!({"terminated": {"exitCode": code, "reason": if code == 0 { "Completed" } else { "Error" },
            "startedAt": "2026-11-27T12:00:00Z", "finishedAt": "2026-11-27T12:00:30Z"}});
    }
    if running {
        return json!({"running": {"startedAt": "2026-11-27T12:00:00Z"}});
    }
    let (reason, message) = waiting.unwrap_or(("ContainerCreating", ""));
    json!({"waiting": {"reason": reason, "message": message}})
}

fn set_status(pod: &mut Value, name: &str, image: &str, state: Value) {
    let statuses = pod["status"]["ephemeralContainerStatuses"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut statuses: Vec<Value> = statuses.into_iter().filter(|s| s["name"] != name).collect();
    statuses.push(json!({"name": name, "image": image, "imageID": "", "ready": false, "restartCount": 0, "state": state}));
    pod["status"]["ephemeralContainerStatuses"] = Value::Array(statuses);
}

fn bump(pod: &mut Value) -> String {
    let v: u64 = pod["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let next = (v + 1).to_string();
    pod["metadata"]["resourceVersion"] = next.clone().into();
    next
}

async fn serve(mut tls: Tls, state: Arc<Mutex<State>>) -> std::io::Result<()> {
    let Some(req) = read_request(&mut tls).await? else {
        return Ok(());
    };
    lock(&state).requests.push(req.clone());
    if req.header("authorization") != Some(&format!("Bearer {TOKEN}")) {
        let s = status(401, "Unauthorized", "Unauthorized", Value::Null);
        return respond(&mut tls, 401, "", s.to_string().as_bytes()).await;
    }
    if lock(&state).throttle_once.remove(&req.path) {
        let s = status(
            429,
            "TooManyRequests",
            "too many requests, please try again later",
            Value::Null,
        );
        return respond(
            &mut tls,
            429,
            "Retry-After: 1\r\n",
            s.to_string().as_bytes(),
        )
        .await;
    }
    let parts: Vec<&str> = req.path.trim_matches('/').split('/').collect();
    match (req.method.as_str(), parts.as_slice()) {
        (
            "POST",
            [
                "apis",
                "authorization.k8s.io",
                "v1",
                "selfsubjectaccessreviews",
            ],
        ) => {
            let mut review = req.json();
            let attrs = &review["spec"]["resourceAttributes"];
            let resource = match attrs["subresource"].as_str() {
                Some(s) if !s.is_empty() => {
                    format!("{}/{s}", attrs["resource"].as_str().unwrap_or(""))
                }
                _ => attrs["resource"].as_str().unwrap_or("").to_string(),
            };
            let key = format!("{} {resource}", attrs["verb"].as_str().unwrap_or(""));
            let allowed = !lock(&state).denied.contains(&key);
            review["status"] = json!({"allowed": allowed, "reason": if allowed { "RBAC: allowed by RoleBinding" } else { "" }});
            review["apiVersion"] = "authorization.k8s.io/v1".into();
            review["kind"] = "SelfSubjectAccessReview".into();
            respond(&mut tls, 201, "", review.to_string().as_bytes()).await
        }
        ("GET", ["api", "v1", "nodes"]) => {
            let list = lock(&state).nodes.clone();
            let (code, body) = page(&state, list, &req, false);
            respond(&mut tls, code, "", body.to_string().as_bytes()).await
        }
        ("GET", ["api", "v1", "services"]) => {
            let list = lock(&state).services.clone();
            let (code, body) = page(&state, list, &req, false);
            respond(&mut tls, code, "", body.to_string().as_bytes()).await
        }
        ("GET", ["api", "v1", "pods"]) => list_pods(&mut tls, &state, None, &req).await,
        ("GET", ["api", "v1", "namespaces", ns, "pods"]) => {
            if query_param(&req.query, "watch").as_deref() == Some("true") {
                return watch_pod(&mut tls, &state, ns, &req).await;
            }
            list_pods(&mut tls, &state, Some(ns), &req).await
        }
        ("GET", ["api", "v1", "namespaces", ns]) => {
            let mut labels = lock(&state)
                .namespace_labels
                .get(*ns)
                .cloned()
                .unwrap_or_default();
            labels.insert("kubernetes.io/metadata.name".into(), (*ns).to_string());
            let body = json!({"kind": "Namespace", "apiVersion": "v1",
                "metadata": {"name": ns, "uid": format!("uid-ns-{ns}"), "resourceVersion": "17", "labels": labels},
                "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}});
            respond(&mut tls, 200, "", body.to_string().as_bytes()).await
        }
        ("GET", ["api", "v1", "namespaces", ns, "pods", name]) => {
            let pod = lock(&state).pods.get(&format!("{ns}/{name}")).cloned();
            match pod {
                Some(p) => respond(&mut tls, 200, "", p.to_string().as_bytes()).await,
                None => {
                    let s = status(
                        404,
                        "NotFound",
                        &format!("pods \"{name}\" not found"),
                        json!({"name": name, "kind": "pods"}),
                    );
                    respond(&mut tls, 404, "", s.to_string().as_bytes()).await
                }
            }
        }
        (
            "PATCH",
            [
                "api",
                "v1",
                "namespaces",
                ns,
                "pods",
                name,
                "ephemeralcontainers",
            ],
        ) => patch(&mut tls, &state, &format!("{ns}/{name}"), &req).await,
        ("GET", ["api", "v1", "namespaces", ns, "pods", name, "log"]) => {
            log(&mut tls, &state, &format!("{ns}/{name}"), &req).await
        }
        ("GET", _) if lock(&state).objects.contains_key(&req.path) => {
            let body = lock(&state).objects[&req.path].to_string();
            respond(&mut tls, 200, "", body.as_bytes()).await
        }
        _ => {
            let s = status(
                404,
                "NotFound",
                "the server could not find the requested resource",
                Value::Null,
            );
            respond(&mut tls, 404, "", s.to_string().as_bytes()).await
        }
    }
}

async fn list_pods(
    tls: &mut Tls,
    state: &Mutex<State>,
    ns: Option<&str>,
    req: &Recorded,
) -> std::io::Result<()> {
    let selector = query_param(&req.query, "labelSelector").unwrap_or_default();
    // Only the page's pods are copied (a 5,000-pod list is paged 11 times):
    // from the continue token's key, the page and one more (to know there
    // is more), and how many more match.
    let start = continue_token(req)
        .flatten()
        .and_then(|t| t["start"].as_str().map(str::to_string))
        .unwrap_or_default();
    let limit = query_param(&req.query, "limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|&l| l > 0)
        .unwrap_or(usize::MAX);
    let (items, more) = {
        let st = lock(state);
        let mut matching = st
            .pods
            .range(start..)
            .map(|(_, p)| p)
            .filter(|p| ns.is_none_or(|n| p["metadata"]["namespace"] == n))
            .filter(|p| matches_labels(p, &selector));
        let items: Vec<Value> = matching
            .by_ref()
            .take(limit.saturating_add(1))
            .cloned()
            .collect();
        (items, matching.count())
    };
    let list = json!({"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "419400"}, "items": items});
    let (code, mut body) = page(state, list, req, !selector.is_empty());
    if body["metadata"]["remainingItemCount"].is_u64() {
        body["metadata"]["remainingItemCount"] = (1 + more).into();
    }
    respond(tls, code, "", body.to_string().as_bytes()).await
}

/// The request's continue token: None without one; `Some(None)` when it
/// does not decode as the API server's (base64 JSON, `v: meta.k8s.io/v1`).
fn continue_token(req: &Recorded) -> Option<Option<Value>> {
    let token = query_param(&req.query, "continue").filter(|c| !c.is_empty())?;
    Some(
        base64::engine::general_purpose::STANDARD
            .decode(token.as_bytes())
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .filter(|t| t["v"] == "meta.k8s.io/v1"),
    )
}

/// One page of `list` as the API server's chunked LIST answers it
/// (k8s.io/apiserver storage/etcd3 `GetList`, KEP-365): items in key order
/// (namespace/name), at most `limit`; `metadata.continue` an opaque token
/// (base64 of `{"v":"meta.k8s.io/v1","rv":…,"start":"<next key>"}`) while
/// more remain, and `remainingItemCount` then, except when a label
/// selector filtered the list (the server cannot count those). A token
/// that does not decode is 400; one the server has compacted away is 410
/// `Expired`.
fn page(state: &Mutex<State>, mut list: Value, req: &Recorded, selected: bool) -> (u16, Value) {
    use base64::engine::general_purpose::STANDARD;
    let key = |o: &Value| {
        format!(
            "{}/{}",
            o["metadata"]["namespace"].as_str().unwrap_or(""),
            o["metadata"]["name"].as_str().unwrap_or("")
        )
    };
    let mut items = list["items"].as_array().cloned().unwrap_or_default();
    items.sort_by_key(|o| key(o));
    let limit = query_param(&req.query, "limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|&l| l > 0);
    let start = match continue_token(req) {
        None => None,
        Some(decoded) => {
            let Some(t) = decoded else {
                let s = status(
                    400,
                    "BadRequest",
                    "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
                    Value::Null,
                );
                return (400, s);
            };
            if std::mem::take(&mut lock(state).expire_continue_once) {
                let s = status(
                    410,
                    "Expired",
                    "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
                    Value::Null,
                );
                return (410, s);
            }
            t["start"].as_str().map(str::to_string)
        }
    };
    if let Some(start) = &start {
        items.retain(|o| &key(o) >= start);
    }
    let rest = match limit {
        Some(l) if items.len() > l => items.split_off(l),
        _ => Vec::new(),
    };
    list["items"] = Value::Array(items);
    if let Some(next) = rest.first() {
        let token = json!({"v": "meta.k8s.io/v1", "rv": 419400, "start": key(next)});
        list["metadata"]["continue"] = STANDARD.encode(token.to_string()).into();
        if !selected {
            list["metadata"]["remainingItemCount"] = rest.len().into();
        }
    }
    (200, list)
}

async fn patch(
    tls: &mut Tls,
    state: &Mutex<State>,
    key: &str,
    req: &Recorded,
) -> std::io::Result<()> {
    let script = lock(state).scripts.get(key).cloned();
    let Some(script) = script else {
        let s = status(
            404,
            "NotFound",
            "pod not scripted",
            json!({"name": key, "kind": "pods"}),
        );
        return respond(tls, 404, "", s.to_string().as_bytes()).await;
    };
    if let PatchAnswer::Reject(code, body) = &script.patch {
        return respond(tls, *code, "", body.to_string().as_bytes()).await;
    }
    let body = req.json();
    let container = body["spec"]["ephemeralContainers"][0].clone();
    let name = container["name"].as_str().unwrap_or("").to_string();
    let image = container["image"].as_str().unwrap_or("").to_string();
    // Pod Security admission, as the API server runs it on the
    // ephemeralcontainers subresource: `enforce` refuses with 403, `warn`
    // admits with a Warning header.
    let (ns, pod_name) = key.split_once('/').unwrap_or(("default", key));
    let labels = lock(state)
        .namespace_labels
        .get(ns)
        .cloned()
        .unwrap_or_default();
    let level = |mode: &str| {
        labels
            .get(&format!("pod-security.kubernetes.io/{mode}"))
            .filter(|l| l.as_str() != "privileged")
            .cloned()
    };
    if let Some(level) = level("enforce") {
        let message = format!(
            "pods \"{pod_name}\" is forbidden: violates PodSecurity \"{level}:latest\": {}",
            psa_violations(&level, &name)
        );
        let s = status(
            403,
            "Forbidden",
            &message,
            json!({"name": pod_name, "kind": "pods"}),
        );
        return respond(tls, 403, "", s.to_string().as_bytes()).await;
    }
    let warning = level("warn").map(|level| {
        let text = format!(
            "would violate PodSecurity \"{level}:latest\": {}",
            psa_violations(&level, &name)
        );
        format!("Warning: 299 - \"{}\"\r\n", text.replace('"', "\\\""))
    });
    let answer = {
        let mut guard = lock(state);
        guard.pods.get_mut(key).map(|pod| {
            let mut list = pod["spec"]["ephemeralContainers"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            list.push(container);
            pod["spec"]["ephemeralContainers"] = Value::Array(list);
            set_status(pod, &name, &image, container_state(None, false, None));
            bump(pod);
            pod.to_string()
        })
    };
    let Some(answer) = answer else {
        let s = status(
            404,
            "NotFound",
            "pod gone",
            json!({"name": key, "kind": "pods"}),
        );
        return respond(tls, 404, "", s.to_string().as_bytes()).await;
    };
    respond(tls, 200, &warning.unwrap_or_default(), answer.as_bytes()).await
}

/// What Pod Security admission says of the agent's container at `level`
/// (the wording of the pod-security-admission checks: baseline's
/// capabilities check; restricted adds its own capability, non-root and
/// UID checks).
fn psa_violations(level: &str, container: &str) -> String {
    let caps = format!(
        "(container \"{container}\" must not include \"NET_RAW\" in securityContext.capabilities.add)"
    );
    if level == "baseline" {
        return format!("non-default capabilities {caps}");
    }
    format!(
        "unrestricted capabilities {caps}, runAsNonRoot != true (container \"{container}\" must not \
         set securityContext.runAsNonRoot=false), runAsUser=0 (container \"{container}\" must not set \
         runAsUser=0)"
    )
}

/// The watch after the PATCH: the agent container waiting (each scripted
/// reason), then running.
async fn watch_pod(
    tls: &mut Tls,
    state: &Mutex<State>,
    ns: &str,
    req: &Recorded,
) -> std::io::Result<()> {
    let field = query_param(&req.query, "fieldSelector").unwrap_or_default();
    let name = field
        .strip_prefix("metadata.name=")
        .unwrap_or("")
        .to_string();
    let key = format!("{ns}/{name}");
    let script = lock(state).scripts.get(&key).cloned();
    // A watch once the agent has run (its termination): events as the pod
    // changes after the version asked for, until the watch's timeout.
    let agent_state = lock(state).pods.get(&key).and_then(|pod| {
        let agent = pod["spec"]["ephemeralContainers"]
            .as_array()?
            .last()?
            .clone();
        pod["status"]["ephemeralContainerStatuses"]
            .as_array()?
            .iter()
            .find(|s| s["name"] == agent["name"])
            .map(|s| s["state"].clone())
    });
    if agent_state.is_some_and(|st| st.get("running").is_some() || st.get("terminated").is_some()) {
        return watch_changes(tls, state, &key, req).await;
    }
    // The states the kubelet reports for the agent, in order.
    let states: Vec<Value> = match &script {
        Some(Script {
            patch: PatchAnswer::Accept { waiting, runs },
            ..
        }) => waiting
            .iter()
            .map(|w| container_state(Some(*w), false, None))
            .chain(runs.then(|| container_state(None, true, None)))
            .collect(),
        Some(Script {
            patch: PatchAnswer::Exits,
            exit_code,
            ..
        }) => vec![container_state(None, false, Some(*exit_code))],
        _ => Vec::new(),
    };
    let mut events = Vec::new();
    {
        let mut guard = lock(state);
        if let Some(pod) = guard.pods.get_mut(&key) {
            let agent = pod["spec"]["ephemeralContainers"]
                .as_array()
                .and_then(|l| l.last().cloned())
                .unwrap_or(Value::Null);
            let cname = agent["name"].as_str().unwrap_or("").to_string();
            let image = agent["image"].as_str().unwrap_or("").to_string();
            for st in states {
                set_status(pod, &cname, &image, st);
                bump(pod);
                events
                    .push(format!("{}\n", json!({"type": "MODIFIED", "object": pod})).into_bytes());
            }
        }
    }
    // A real watch stays open until its timeout; one whose container
    // never runs is held open a while, as the server would.
    let hold = !matches!(
        script,
        Some(Script {
            patch: PatchAnswer::Accept { runs: true, .. } | PatchAnswer::Exits,
            ..
        })
    );
    let hold = Duration::from_secs(if hold { 5 } else { 0 });
    stream(
        tls,
        "application/json",
        events,
        Duration::from_millis(50),
        hold,
    )
    .await
}

/// A watch that sends the pod each time its version passes the one asked
/// for, until `timeoutSeconds`, as the API server's watch cache does.
async fn watch_changes(
    tls: &mut Tls,
    state: &Mutex<State>,
    key: &str,
    req: &Recorded,
) -> std::io::Result<()> {
    let version = |p: &Value| -> u64 {
        p["metadata"]["resourceVersion"]
            .as_str()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let mut seen: u64 = query_param(&req.query, "resourceVersion")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let timeout: u64 = query_param(&req.query, "timeoutSeconds")
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    stream_head(tls, "application/json").await?;
    let end = tokio::time::Instant::now() + Duration::from_secs(timeout);
    while tokio::time::Instant::now() < end {
        let pod = lock(state).pods.get(key).cloned();
        let Some(pod) = pod else {
            break;
        };
        if version(&pod) > seen {
            seen = version(&pod);
            let line = format!("{}\n", json!({"type": "MODIFIED", "object": pod}));
            tls.write_all(line.as_bytes()).await?;
            tls.flush().await?;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tls.shutdown().await
}

/// The lines the agent writes to its standard error, which the container
/// runtime merges into the log the kubelet serves: its start line after
/// the `start` event, libpcap's counters before the `summary` event (from
/// the summary itself), as `tls-audit capture` prints them.
fn merge_stderr(lines: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for line in lines {
        let v: Value = serde_json::from_slice(&line).unwrap_or(Value::Null);
        let event = v["event"].as_str().unwrap_or("");
        if event == "summary" {
            let input = &v["report"]["inputs"][0];
            let live = &input["live"];
            out.push(
                format!(
                    "tls-audit: {}: {} packets received, {} dropped by the buffer, {} by the interface; {} flows; stopped by {}\n",
                    live["interface"].as_str().unwrap_or("eth0"),
                    live["received"].as_u64().unwrap_or(0),
                    live["dropped"].as_u64().unwrap_or(0),
                    live["if_dropped"].as_u64().unwrap_or(0),
                    v["report"]["stats"]["flows"].as_u64().unwrap_or(0),
                    live["stopped_by"].as_str().unwrap_or("duration"),
                )
                .into_bytes(),
            );
        }
        let start = event == "start";
        let iface = v["interface"].as_str().unwrap_or("eth0").to_string();
        out.push(line);
        if start {
            out.push(format!("tls-audit: listening on {iface} (ethernet)\n").into_bytes());
        }
    }
    out
}

/// The agent's log, line by line; then the container has ended.
async fn log(
    tls: &mut Tls,
    state: &Arc<Mutex<State>>,
    key: &str,
    req: &Recorded,
) -> std::io::Result<()> {
    let container = query_param(&req.query, "container").unwrap_or_default();
    let script = lock(state).scripts.get(key).cloned();
    let Some(script) = script else {
        let s = status(400, "BadRequest", "container not found", Value::Null);
        return respond(tls, 400, "", s.to_string().as_bytes()).await;
    };
    let lines = merge_stderr(
        script
            .log
            .split_inclusive(|&b| b == b'\n')
            .map(<[u8]>::to_vec)
            .collect(),
    );
    let gap = Duration::from_millis(if lines.len() > 40 { 2 } else { 20 });
    let (hold, late, drop_after) = {
        let mut guard = lock(state);
        let n = guard.log_connections.entry(key.to_string()).or_insert(0);
        *n += 1;
        let first = *n == 1;
        (
            if guard.stalled.contains(key) {
                Duration::from_secs(60)
            } else {
                Duration::ZERO
            },
            guard.late_exit.get(key).copied(),
            guard.drop_log.get(key).copied().filter(|_| first),
        )
    };
    if let Some(n) = drop_after {
        // The connection breaks mid-stream: the head and some lines, then
        // the socket closes without a TLS close_notify; the agent runs on.
        let head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
        tls.write_all(head.as_bytes()).await?;
        for l in lines.iter().take(n) {
            tokio::time::sleep(gap).await;
            tls.write_all(format!("{:x}\r\n", l.len()).as_bytes())
                .await?;
            tls.write_all(l).await?;
            tls.write_all(b"\r\n").await?;
            tls.flush().await?;
        }
        return Ok(());
    }
    stream_open(tls, "text/plain", lines, gap, hold).await?;
    // The container ends as its log does; the kubelet posts that at once,
    // or (late_exit) a while later.
    let code = script.exit_code;
    match late {
        None => post_exit(state, key, &container, code),
        Some(after) => {
            let (state, key) = (Arc::clone(state), key.to_string());
            tokio::spawn(async move {
                tokio::time::sleep(after).await;
                post_exit(&state, &key, &container, code);
            });
        }
    }
    tls.shutdown().await
}

/// The kubelet's status update: the agent container terminated.
fn post_exit(state: &Mutex<State>, key: &str, container: &str, code: i32) {
    let mut guard = lock(state);
    if let Some(pod) = guard.pods.get_mut(key) {
        let image = pod["spec"]["ephemeralContainers"]
            .as_array()
            .and_then(|l| l.iter().find(|c| c["name"] == container).cloned())
            .map(|c| c["image"].as_str().unwrap_or("").to_string())
            .unwrap_or_default();
        set_status(
            pod,
            container,
            &image,
            container_state(None, false, Some(code)),
        );
        bump(pod);
    }
}

/// Real servers on a loopback address, standing in for a pod's declared
/// ports for `pod --active`: a TLS server (rustls, a certificate made
/// here), a plaintext HTTP server, and a port nothing listens on. Ports
/// are chosen by the kernel. Linux routes all of 127.0.0.0/8 on `lo`, so
/// each fake pod gets an address of its own (127.0.0.2, 127.0.0.3...).
pub struct PortServers {
    pub ip: &'static str,
    pub tls: u16,
    pub http: u16,
    pub closed: u16,
    _runtime: tokio::runtime::Runtime,
}

impl PortServers {
    pub fn start(ip: &'static str) -> PortServers {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params =
            rcgen::CertificateParams::new(vec!["probe-a.pay.svc".to_string()]).expect("params");
        params
            .subject_alt_names
            .push(rcgen::SanType::IpAddress(ip.parse().expect("ip")));
        let cert = params.self_signed(&key).expect("cert");
        let acceptor = tls_acceptor(&cert, &key);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let bind = |rt: &tokio::runtime::Runtime| {
            rt.block_on(tokio::net::TcpListener::bind((ip, 0)))
                .expect("bind on loopback")
        };
        let tls = bind(&runtime);
        let http = bind(&runtime);
        // Bound, then closed: free, and nothing listens on it.
        let closed = bind(&runtime).local_addr().expect("addr").port();
        let (tls_port, http_port) = (
            tls.local_addr().expect("addr").port(),
            http.local_addr().expect("addr").port(),
        );
        runtime.spawn(async move {
            while let Ok((tcp, _)) = tls.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    if let Ok(mut s) = acceptor.accept(tcp).await {
                        let _ = answer_http(&mut s).await;
                    }
                });
            }
        });
        runtime.spawn(async move {
            while let Ok((mut tcp, _)) = http.accept().await {
                tokio::spawn(async move {
                    let _ = answer_http(&mut tcp).await;
                });
            }
        });
        PortServers {
            ip,
            tls: tls_port,
            http: http_port,
            closed,
            _runtime: runtime,
        }
    }

    pub fn target(&self, port: u16) -> String {
        format!("{}:{port}", self.ip)
    }
}

/// What an HTTP server does: 200 to a request, 400 to anything else
/// (a TLS ClientHello on the plaintext port), then close.
async fn answer_http<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    s: &mut S,
) -> std::io::Result<()> {
    let mut buf = [0u8; 4096];
    let n = match tokio::time::timeout(Duration::from_secs(3), s.read(&mut buf)).await {
        Ok(r) => r?,
        Err(_) => 0,
    };
    if n == 0 {
        return s.shutdown().await;
    }
    let request = [&b"GET "[..], b"HEAD ", b"POST ", b"PRI "]
        .iter()
        .any(|m| buf[..n].starts_with(m));
    let answer: &[u8] = if request {
        b"HTTP/1.1 200 OK\r\nServer: fake-pod\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n"
    } else {
        b"HTTP/1.1 400 Bad Request\r\nServer: fake-pod\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    };
    s.write_all(answer).await?;
    s.flush().await?;
    s.shutdown().await
}
