//! The subset of the Kubernetes JSON (`kubectl get pods|nodes -o json`) that
//! the inventory reads, and its conversion into the inventory's own types.
//!
//! Everything is optional: kubectl, the API server and hand-written
//! snapshots all omit different fields, and unknown fields are ignored. The
//! structs are deserialised straight from the bytes (no intermediate
//! `serde_json::Value`), so a type error still carries its line and column,
//! and each list item is converted to the small model type as soon as it is
//! read, so the raw structs of at most one item are alive at a time.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::net::IpAddr;

use serde::Deserialize;
use serde::de::{self, DeserializeOwned, IgnoredAny, SeqAccess, Visitor};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{Container, Node, Owner, Pod};

/// Most list items read from one file.
pub(super) const MAX_ITEMS: usize = 1_000_000;

/// The service account a pod runs as when its spec names none.
const DEFAULT_SERVICE_ACCOUNT: &str = "default";
/// The namespace of a pod whose metadata names none.
const DEFAULT_NAMESPACE: &str = "default";
/// Node labels that carry the instance type, preferred first.
const INSTANCE_TYPE_LABELS: [&str; 2] = [
    "node.kubernetes.io/instance-type",
    "beta.kubernetes.io/instance-type",
];

/// Why a document was not read.
#[derive(Debug)]
pub(super) enum ParseError {
    /// Not JSON, or JSON of the wrong type somewhere.
    Json(serde_json::Error),
    /// Valid JSON, but not a list of the objects we want; says what it is.
    Shape(String),
}

impl From<serde_json::Error> for ParseError {
    fn from(e: serde_json::Error) -> Self {
        ParseError::Json(e)
    }
}

/// A Kubernetes object kind we read: its JSON parts and its model type.
pub(super) trait KubeKind: Sized {
    /// The `kind` of one object, e.g. `Pod`.
    const KIND: &'static str;
    /// What a file of them is called in messages: `pods`, `nodes`.
    const WHAT: &'static str;
    /// `metadata`.
    type Meta: DeserializeOwned;
    /// `spec`.
    type Spec: DeserializeOwned;
    /// `status`.
    type Status: DeserializeOwned;
    /// What one object becomes.
    type Model;
    /// Converts one object.
    fn model(object: Object<Self>) -> Self::Model;
}

/// Marker for pods.
pub(super) enum PodKind {}
/// Marker for nodes.
pub(super) enum NodeKind {}

/// One Kubernetes object (a list item, or a whole single-object document).
#[derive(Deserialize)]
#[serde(bound = "")]
pub(super) struct Object<K: KubeKind> {
    kind: Option<String>,
    metadata: Option<K::Meta>,
    spec: Option<K::Spec>,
    status: Option<K::Status>,
}

/// A whole document that is a JSON object: a `List` (or `PodList`,
/// `NodeList`) with `items`, or a single object.
#[derive(Deserialize)]
#[serde(bound = "")]
struct Document<K: KubeKind, const MAX: usize> {
    kind: Option<String>,
    items: Option<Items<K, MAX>>,
    metadata: Option<K::Meta>,
    spec: Option<K::Spec>,
    status: Option<K::Status>,
}

/// The items of a list, converted as they are read. Items of another kind
/// (`kubectl get pods,svc -o json`) are skipped; at most `MAX` are read.
struct Items<K: KubeKind, const MAX: usize> {
    models: Vec<K::Model>,
    /// The kind of the first skipped item, for the error message.
    other_kind: Option<String>,
}

/// Parses a whole document into models, with the default item cap.
pub(super) fn parse<K: KubeKind>(bytes: &[u8]) -> Result<Vec<K::Model>, ParseError> {
    parse_capped::<K, MAX_ITEMS>(bytes)
}

/// Parses a whole document: a JSON object (list or single object) or a bare
/// JSON array of objects; at most `MAX` items.
pub(super) fn parse_capped<K: KubeKind, const MAX: usize>(
    bytes: &[u8],
) -> Result<Vec<K::Model>, ParseError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        return Err(ParseError::Shape(
            "UTF-16 text (save it as UTF-8, e.g. `kubectl ... | Out-File -Encoding utf8`)".into(),
        ));
    }
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => serde_json::from_slice::<Document<K, MAX>>(bytes)?.into_models(),
        Some(b'[') => serde_json::from_slice::<Items<K, MAX>>(bytes)?.into_models("a JSON array"),
        first => {
            serde_json::from_slice::<IgnoredAny>(bytes)?;
            Err(ParseError::Shape(describe_scalar(first.copied())))
        }
    }
}

/// Names the JSON value that starts with `first` (not an object or array).
fn describe_scalar(first: Option<u8>) -> String {
    match first {
        Some(b'"') => "a JSON string",
        Some(b't' | b'f') => "a JSON boolean",
        Some(b'n') => "JSON null",
        _ => "a JSON number",
    }
    .to_owned()
}

impl<K: KubeKind, const MAX: usize> Document<K, MAX> {
    /// Decides what the document is and returns its objects.
    fn into_models(self) -> Result<Vec<K::Model>, ParseError> {
        let kind = self.kind.as_deref();
        let is_list = kind.is_some_and(is_list_kind::<K>);
        if let Some(k) = kind
            && self.items.is_some()
            && !is_list
        {
            return Err(ParseError::Shape(format!("a {k} object")));
        }
        if let Some(items) = self.items {
            let container = kind.map_or_else(|| "a list".to_owned(), |k| format!("a {k}"));
            return items.into_models(&container);
        }
        match kind {
            _ if is_list => Ok(Vec::new()),
            Some(k) if k == K::KIND => Ok(vec![self.single()]),
            None if self.metadata.is_some() => Ok(vec![self.single()]),
            Some(k) => Err(ParseError::Shape(format!("a {k} object"))),
            None => Err(ParseError::Shape(
                "a JSON object with neither `items` nor `kind`".into(),
            )),
        }
    }

    /// The document as one object.
    fn single(self) -> K::Model {
        K::model(Object {
            kind: self.kind,
            metadata: self.metadata,
            spec: self.spec,
            status: self.status,
        })
    }
}

/// `List` or `<Kind>List` (`PodList`, `NodeList`).
fn is_list_kind<K: KubeKind>(kind: &str) -> bool {
    kind == "List" || kind.strip_suffix("List") == Some(K::KIND)
}

impl<K: KubeKind, const MAX: usize> Items<K, MAX> {
    /// The models, or an error if the list had items but none of our kind.
    fn into_models(self, container: &str) -> Result<Vec<K::Model>, ParseError> {
        match self.other_kind {
            Some(other) if self.models.is_empty() => {
                Err(ParseError::Shape(format!("{container} of {other} objects")))
            }
            _ => Ok(self.models),
        }
    }
}

impl<'de, K: KubeKind, const MAX: usize> Deserialize<'de> for Items<K, MAX> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(ItemsVisitor::<K, MAX>(PhantomData))
    }
}

/// Reads list items one at a time, converting and counting them.
struct ItemsVisitor<K: KubeKind, const MAX: usize>(PhantomData<K>);

impl<'de, K: KubeKind, const MAX: usize> Visitor<'de> for ItemsVisitor<K, MAX> {
    type Value = Items<K, MAX>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a list of {} objects", K::KIND)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Items {
            models: Vec::new(),
            other_kind: None,
        };
        let mut seen = 0usize;
        while let Some(object) = seq.next_element::<Object<K>>()? {
            seen += 1;
            if seen > MAX {
                return Err(de::Error::custom(format_args!(
                    "more than {MAX} items; refusing to read further"
                )));
            }
            match object.kind.as_deref() {
                Some(k) if k != K::KIND => {
                    items.other_kind.get_or_insert_with(|| k.to_owned());
                }
                _ => items.models.push(K::model(object)),
            }
        }
        Ok(items)
    }
}

/// Parses a Kubernetes timestamp (RFC 3339) into Unix seconds; anything
/// malformed counts as absent.
pub(super) fn parse_time(text: Option<&str>) -> Option<i64> {
    let parsed = OffsetDateTime::parse(text?, &Rfc3339).ok()?;
    Some(parsed.unix_timestamp())
}

/// Parses the addresses that are IPs, in order, without duplicates.
fn collect_ips<'a>(texts: impl IntoIterator<Item = &'a str>) -> Vec<IpAddr> {
    let mut ips = Vec::new();
    for ip in texts
        .into_iter()
        .filter_map(|t| t.trim().parse::<IpAddr>().ok())
    {
        let ip = ip.to_canonical();
        if !ips.contains(&ip) {
            ips.push(ip);
        }
    }
    ips
}

/// A string that is absent when empty.
fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

// ---- pods ----

/// Pod `metadata`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct PodMeta {
    name: Option<String>,
    namespace: Option<String>,
    uid: Option<String>,
    labels: Option<BTreeMap<String, String>>,
    owner_references: Option<Vec<OwnerReference>>,
    creation_timestamp: Option<String>,
    deletion_timestamp: Option<String>,
}

/// One `metadata.ownerReferences[]` entry.
#[derive(Deserialize)]
struct OwnerReference {
    kind: Option<String>,
    name: Option<String>,
    controller: Option<bool>,
}

/// Pod `spec`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct PodSpec {
    service_account_name: Option<String>,
    service_account: Option<String>,
    node_name: Option<String>,
    host_network: Option<bool>,
    containers: Option<Vec<SpecContainer>>,
    init_containers: Option<Vec<SpecContainer>>,
}

/// One `spec.containers[]` (or `initContainers[]`) entry: its ports.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SpecContainer {
    ports: Option<Vec<ContainerPort>>,
    restart_policy: Option<String>,
}

/// One `ports[]` entry.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContainerPort {
    container_port: Option<i64>,
    protocol: Option<String>,
}

/// The TCP ports the pod declares: its containers', then its native
/// sidecars' (init containers with `restartPolicy: Always`), each once, at
/// most [`MAX_DECLARED_PORTS`].
fn declared_tcp_ports(spec: &PodSpec) -> Vec<u16> {
    let sidecars = spec
        .init_containers
        .iter()
        .flatten()
        .filter(|c| c.restart_policy.as_deref() == Some("Always"));
    let mut out = Vec::new();
    for c in spec.containers.iter().flatten().chain(sidecars) {
        for p in c.ports.iter().flatten() {
            let tcp = p.protocol.as_deref().is_none_or(|proto| proto == "TCP");
            let port = p.container_port.and_then(|n| u16::try_from(n).ok());
            if let Some(port) = port.filter(|&n| tcp && n != 0)
                && !out.contains(&port)
                && out.len() < MAX_DECLARED_PORTS
            {
                out.push(port);
            }
        }
    }
    out
}

/// Declared ports kept per pod (a hostile snapshot can declare thousands).
pub(super) const MAX_DECLARED_PORTS: usize = 16;

/// Pod `status`. Init and ephemeral container statuses are not read.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct PodStatus {
    phase: Option<String>,
    #[serde(rename = "podIP")]
    pod_ip: Option<String>,
    #[serde(rename = "podIPs")]
    pod_ips: Option<Vec<PodIp>>,
    #[serde(rename = "hostIP")]
    host_ip: Option<String>,
    start_time: Option<String>,
    container_statuses: Option<Vec<ContainerStatus>>,
}

/// One `status.podIPs[]` entry.
#[derive(Deserialize)]
struct PodIp {
    ip: Option<String>,
}

/// One `status.containerStatuses[]` entry.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContainerStatus {
    name: Option<String>,
    restart_count: Option<u32>,
    state: Option<ContainerState>,
    last_state: Option<ContainerState>,
}

/// A container state (`waiting` is not read).
#[derive(Deserialize)]
struct ContainerState {
    running: Option<StateTimes>,
    terminated: Option<StateTimes>,
}

/// `startedAt` / `finishedAt` of a running or terminated state.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StateTimes {
    started_at: Option<String>,
    finished_at: Option<String>,
}

impl KubeKind for PodKind {
    const KIND: &'static str = "Pod";
    const WHAT: &'static str = "pods";
    type Meta = PodMeta;
    type Spec = PodSpec;
    type Status = PodStatus;
    type Model = Pod;

    fn model(object: Object<Self>) -> Pod {
        let meta = object.metadata.unwrap_or_default();
        let spec = object.spec.unwrap_or_default();
        let status = object.status.unwrap_or_default();
        let host_network = spec.host_network.unwrap_or(false);
        let ips = pod_ips(&status, host_network);
        let tcp_ports = declared_tcp_ports(&spec);
        let containers = status.container_statuses.unwrap_or_default();
        let phase = non_empty(status.phase);
        let start_time = pod_start(
            phase.as_deref(),
            status.start_time.as_deref(),
            meta.creation_timestamp.as_deref(),
        );
        let end_time = pod_end(
            phase.as_deref(),
            &containers,
            meta.deletion_timestamp.as_deref(),
        );
        Pod {
            namespace: non_empty(meta.namespace).unwrap_or_else(|| DEFAULT_NAMESPACE.into()),
            name: meta.name.unwrap_or_default(),
            uid: non_empty(meta.uid),
            service_account: non_empty(spec.service_account_name)
                .or_else(|| non_empty(spec.service_account))
                .unwrap_or_else(|| DEFAULT_SERVICE_ACCOUNT.into()),
            node: non_empty(spec.node_name),
            host_network,
            phase,
            ips,
            labels: meta.labels.unwrap_or_default(),
            owner: controller_owner(meta.owner_references.unwrap_or_default()),
            start_time,
            end_time,
            restarts: containers
                .iter()
                .fold(0u32, |n, c| n.saturating_add(c.restart_count.unwrap_or(0))),
            containers: containers.into_iter().map(container).collect(),
            tcp_ports,
        }
    }
}

/// When the pod began to hold its IP: `status.startTime`, else the
/// creation time, except for a Pending pod, which has not started.
fn pod_start(phase: Option<&str>, start: Option<&str>, created: Option<&str>) -> Option<i64> {
    parse_time(start).or_else(|| match phase {
        Some("Pending") => None,
        _ => parse_time(created),
    })
}

/// When the pod stopped holding its IP: for a finished pod (Succeeded or
/// Failed) the latest container `finishedAt`; otherwise, or if none is
/// known, the deletion time.
fn pod_end(
    phase: Option<&str>,
    containers: &[ContainerStatus],
    deleted: Option<&str>,
) -> Option<i64> {
    let finished = matches!(phase, Some("Succeeded" | "Failed"));
    let last_finish = containers
        .iter()
        .flat_map(|c| [&c.state, &c.last_state])
        .filter_map(|s| s.as_ref()?.terminated.as_ref()?.finished_at.as_deref())
        .filter_map(|t| parse_time(Some(t)))
        .max();
    last_finish
        .filter(|_| finished)
        .or_else(|| parse_time(deleted))
}

/// The pod's IPs: `podIP` and `podIPs[]`; for a hostNetwork pod also
/// `hostIP` (which is the same address).
fn pod_ips(status: &PodStatus, host_network: bool) -> Vec<IpAddr> {
    let listed = status
        .pod_ips
        .iter()
        .flatten()
        .filter_map(|p| p.ip.as_deref());
    let host_ip = status.host_ip.as_deref().filter(|_| host_network);
    collect_ips(
        status
            .pod_ip
            .as_deref()
            .into_iter()
            .chain(listed)
            .chain(host_ip),
    )
}

/// The managing owner: the reference marked `controller`, else the first.
fn controller_owner(refs: Vec<OwnerReference>) -> Option<Owner> {
    let index = refs
        .iter()
        .position(|r| r.controller == Some(true))
        .unwrap_or(0);
    let r = refs.into_iter().nth(index)?;
    Some(Owner {
        kind: r.kind.unwrap_or_default(),
        name: r.name.unwrap_or_default(),
    })
}

/// One container's summary; it started when its current state (running or
/// terminated) says so.
fn container(status: ContainerStatus) -> Container {
    let started = status
        .state
        .as_ref()
        .and_then(|s| s.running.as_ref().or(s.terminated.as_ref()))
        .and_then(|t| parse_time(t.started_at.as_deref()));
    Container {
        name: status.name.unwrap_or_default(),
        restarts: status.restart_count.unwrap_or(0),
        started_at: started,
    }
}

// ---- nodes ----

/// Node `metadata`.
#[derive(Deserialize, Default)]
pub(super) struct NodeMeta {
    name: Option<String>,
    labels: Option<BTreeMap<String, String>>,
}

/// Node `spec`.
#[derive(Deserialize, Default)]
pub(super) struct NodeSpec {
    #[serde(rename = "providerID")]
    provider_id: Option<String>,
}

/// Node `status`.
#[derive(Deserialize, Default)]
pub(super) struct NodeStatus {
    addresses: Option<Vec<NodeAddress>>,
}

/// One `status.addresses[]` entry.
#[derive(Deserialize)]
struct NodeAddress {
    #[serde(rename = "type")]
    kind: Option<String>,
    address: Option<String>,
}

impl KubeKind for NodeKind {
    const KIND: &'static str = "Node";
    const WHAT: &'static str = "nodes";
    type Meta = NodeMeta;
    type Spec = NodeSpec;
    type Status = NodeStatus;
    type Model = Node;

    fn model(object: Object<Self>) -> Node {
        let meta = object.metadata.unwrap_or_default();
        let labels = meta.labels.unwrap_or_default();
        let addresses = object.status.unwrap_or_default().addresses;
        Node {
            name: meta.name.unwrap_or_default(),
            ips: node_ips(addresses.as_deref().unwrap_or_default()),
            instance_type: instance_type(&labels),
            labels,
            provider_id: non_empty(object.spec.unwrap_or_default().provider_id),
        }
    }
}

/// The node's `InternalIP` and `ExternalIP` addresses.
fn node_ips(addresses: &[NodeAddress]) -> Vec<IpAddr> {
    let texts = addresses
        .iter()
        .filter(|a| matches!(a.kind.as_deref(), Some("InternalIP" | "ExternalIP")))
        .filter_map(|a| a.address.as_deref());
    collect_ips(texts)
}

/// The instance type from the GA label, else the beta one.
fn instance_type(labels: &BTreeMap<String, String>) -> Option<String> {
    INSTANCE_TYPE_LABELS
        .iter()
        .find_map(|key| labels.get(*key).filter(|v| !v.is_empty()))
        .cloned()
}
