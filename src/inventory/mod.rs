//! Offline pod knowledge: which pod or node an IP address was, at a time.
//!
//! A capture only knows addresses. To say "`web/frontend` talks to
//! `pay/api` without TLS" the auditor needs the cluster's view of those
//! addresses, and it must get it without cluster credentials and
//! reproducibly, long after the capture. So it reads snapshots written by
//! `kubectl get pods -A -o json` and `kubectl get nodes -o json`
//! ([`Inventory::load`]) and answers [`Inventory::resolve`] from them.
//!
//! Two facts of Kubernetes networking shape the answers:
//!
//! - **Pod IPs are reused.** Once a pod ends, the CNI hands its address to
//!   the next pod, and finished pods (Jobs) stay listed with their old IP.
//!   So a lookup is time-aware: only pods that could have held the address
//!   at the packet's time match, with [`IP_GRACE_SECS`] of slack for clock
//!   skew between the capture host and the control plane, and for the
//!   seconds' resolution of Kubernetes timestamps. Two candidates left is
//!   reported as [`Resolved::Ambiguous`], never guessed.
//! - **hostNetwork pods share their node's address.** From the IP alone one
//!   cannot tell the kubelet from `aws-node` or `kube-proxy`, so such an
//!   address resolves to [`Resolved::Node`] with the hostNetwork pods that
//!   were on it.
//!
//! A snapshot knows only the pods that existed when it was taken; an address
//! it cannot place is [`Resolved::Unknown`], not an error. Inputs are
//! bounded ([`MAX_FILE_BYTES`], [`MAX_ITEMS`]) and malformed values inside
//! them (a bad timestamp or IP) are treated as absent, while a file that is
//! not Kubernetes JSON at all is a typed [`InventoryError`].

mod kube_json;
pub mod services;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::Read;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use kube_json::{KubeKind, NodeKind, ParseError, PodKind};
pub use services::Service;

/// Slack, in seconds, on both ends of a pod's lifetime when matching an IP
/// to it at a time (clock skew, second-resolution timestamps).
pub const IP_GRACE_SECS: i64 = 120;

/// Largest inventory file read (256 MiB); larger files are refused.
pub const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// Most pods, or nodes, read from one file.
pub const MAX_ITEMS: usize = kube_json::MAX_ITEMS;

/// Why an inventory file could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InventoryError {
    /// The file could not be opened or read.
    #[error("cannot read inventory file {}: {source}", .path.display())]
    Io {
        /// The file as given by the user.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The file is over [`MAX_FILE_BYTES`].
    #[error(
        "inventory file {} is too large ({bytes} bytes; the limit is {MAX_FILE_BYTES} bytes, 256 MiB)",
        .path.display()
    )]
    TooLarge {
        /// The file as given by the user.
        path: PathBuf,
        /// Its size (for a stream: the bytes read before giving up).
        bytes: u64,
    },
    /// The input is not JSON, or a field has the wrong JSON type. The
    /// message carries the line and column.
    #[error("cannot parse {}: {source}", input_label(.what, .path.as_deref()))]
    Json {
        /// `"pods"` or `"nodes"`.
        what: &'static str,
        /// The file, when the input came from one.
        path: Option<PathBuf>,
        /// The parser's error, with line and column.
        source: serde_json::Error,
    },
    /// Valid JSON, but not a list of pods (or nodes), nor a single one.
    #[error(
        "{}: expected the output of `{}` (a List of {} objects), found {found}",
        input_label(.what, .path.as_deref()),
        kubectl_command(.what),
        object_kind(.what)
    )]
    NotAList {
        /// `"pods"` or `"nodes"`.
        what: &'static str,
        /// The file, when the input came from one.
        path: Option<PathBuf>,
        /// What the input is instead, e.g. `a List of Node objects`.
        found: String,
    },
}

/// `pods file x.json`, or `pods JSON` for in-memory input.
fn input_label(what: &str, path: Option<&Path>) -> String {
    match path {
        Some(p) => format!("{what} file {}", p.display()),
        None => format!("{what} JSON"),
    }
}

/// The command whose output the inventory expects.
fn kubectl_command(what: &str) -> &'static str {
    match what {
        "nodes" => "kubectl get nodes -o json",
        _ => "kubectl get pods -A -o json",
    }
}

/// The object kind of a list.
fn object_kind(what: &str) -> &'static str {
    match what {
        "nodes" => NodeKind::KIND,
        _ => PodKind::KIND,
    }
}

/// A pod as the snapshot describes it.
#[derive(Debug, Clone, serde::Serialize, PartialEq, Eq)]
pub struct Pod {
    /// `metadata.namespace` (`default` when absent).
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.uid`.
    pub uid: Option<String>,
    /// `spec.serviceAccountName`, else `spec.serviceAccount`, else `default`.
    pub service_account: String,
    /// `spec.nodeName`: the node it was scheduled to.
    pub node: Option<String>,
    /// `spec.hostNetwork`: the pod uses its node's network namespace and IP.
    pub host_network: bool,
    /// `status.phase`: `Pending`, `Running`, `Succeeded`, `Failed`, `Unknown`.
    pub phase: Option<String>,
    /// `status.podIP` and `status.podIPs[]` (plus `status.hostIP` for a
    /// hostNetwork pod), without duplicates.
    pub ips: Vec<IpAddr>,
    /// `metadata.labels`.
    pub labels: BTreeMap<String, String>,
    /// The controlling owner reference (else the first one).
    pub owner: Option<Owner>,
    /// When the pod began to hold its IP, Unix seconds: `status.startTime`,
    /// else `metadata.creationTimestamp` unless the pod is Pending.
    pub start_time: Option<i64>,
    /// When it stopped, Unix seconds: the latest container `finishedAt` of
    /// a Succeeded or Failed pod, else `metadata.deletionTimestamp`.
    pub end_time: Option<i64>,
    /// Restarts summed over the (regular) containers.
    pub restarts: u32,
    /// The regular containers (init and ephemeral ones are not listed).
    pub containers: Vec<Container>,
    /// The TCP ports its containers (and native sidecars) declare
    /// (`spec.containers[].ports`), in order, at most 16.
    #[serde(skip)]
    pub tcp_ports: Vec<u16>,
}

impl Pod {
    /// Whether the pod could have held its IPs at `at_unix`: it has started
    /// no later than `at_unix + IP_GRACE_SECS` and has not ended before
    /// `at_unix - IP_GRACE_SECS`. A pod that never started does not match.
    pub fn live_at(&self, at_unix: i64) -> bool {
        live_between(self.start_time, self.end_time, at_unix)
    }
}

/// Whether a lifetime from `start` to `end` (with [`IP_GRACE_SECS`] of
/// slack on both ends) covers `at_unix`; never without a start.
fn live_between(start: Option<i64>, end: Option<i64>, at_unix: i64) -> bool {
    let Some(start) = start else {
        return false;
    };
    let started = start <= at_unix.saturating_add(IP_GRACE_SECS);
    let not_ended = end.is_none_or(|end| end >= at_unix.saturating_sub(IP_GRACE_SECS));
    started && not_ended
}

/// The TCP ports pods declare, by address and lifetime: where a client's
/// own listener may be asked for its identity (`--enrich probe`).
#[derive(Debug, Clone, Default)]
pub struct DeclaredPorts {
    by_ip: HashMap<IpAddr, Vec<Declared>>,
}

/// One pod's lifetime (start, end, Unix seconds) and declared ports.
type Declared = (Option<i64>, Option<i64>, Vec<u16>);

impl DeclaredPorts {
    /// The ports declared by the one pod that held `ip` at `at_unix`; none
    /// when no pod, or several, could have (never guessed).
    pub fn at(&self, ip: IpAddr, at_unix: i64) -> &[u16] {
        let live: Vec<&Vec<u16>> = self
            .by_ip
            .get(&ip.to_canonical())
            .into_iter()
            .flatten()
            .filter(|(start, end, _)| live_between(*start, *end, at_unix))
            .map(|(_, _, ports)| ports)
            .collect();
        match live.as_slice() {
            [one] => one,
            _ => &[],
        }
    }
}

/// A pod's owner (`metadata.ownerReferences[]`), e.g. its `ReplicaSet`.
#[derive(Debug, Clone, serde::Serialize, PartialEq, Eq)]
pub struct Owner {
    /// `kind`, e.g. `ReplicaSet`, `DaemonSet`, `Job`.
    pub kind: String,
    /// `name`.
    pub name: String,
}

/// The workload kind of a pod without owner.
const BARE_POD: &str = "Pod";
/// The workload kind of a pod whose ReplicaSet carries its pod-template-hash.
const DEPLOYMENT: &str = "Deployment";

impl Pod {
    /// The workload that owns the pod, as a redeploy keeps it: a
    /// `ReplicaSet` whose name is `<deployment>-<pod-template-hash>` is its
    /// `Deployment`; a `StatefulSet`, `DaemonSet`, `Job` or other owner is
    /// itself; a pod without owner is its own workload (`Pod`).
    pub fn workload(&self) -> crate::model::report::WorkloadRef {
        use crate::model::report::WorkloadRef;
        let Some(owner) = &self.owner else {
            return WorkloadRef {
                kind: BARE_POD.into(),
                name: self.name.clone(),
            };
        };
        let deployment = (owner.kind == "ReplicaSet")
            .then(|| self.labels.get("pod-template-hash"))
            .flatten()
            .filter(|hash| !hash.is_empty())
            .and_then(|hash| owner.name.strip_suffix(hash.as_str()))
            .and_then(|rest| rest.strip_suffix('-'))
            .filter(|name| !name.is_empty());
        match deployment {
            Some(name) => WorkloadRef {
                kind: DEPLOYMENT.into(),
                name: name.to_string(),
            },
            None => WorkloadRef {
                kind: owner.kind.clone(),
                name: owner.name.clone(),
            },
        }
    }
}

/// One regular container of a pod (`status.containerStatuses[]`).
#[derive(Debug, Clone, serde::Serialize, PartialEq, Eq)]
pub struct Container {
    /// `name`.
    pub name: String,
    /// `restartCount`.
    pub restarts: u32,
    /// When the current instance started, Unix seconds
    /// (`state.running.startedAt`, else `state.terminated.startedAt`).
    pub started_at: Option<i64>,
}

/// A node as the snapshot describes it.
#[derive(Debug, Clone, serde::Serialize, PartialEq, Eq)]
pub struct Node {
    /// `metadata.name`.
    pub name: String,
    /// The `InternalIP` and `ExternalIP` entries of `status.addresses`.
    pub ips: Vec<IpAddr>,
    /// `metadata.labels`, all of them (zone, instance type, EKS compute
    /// type, ...).
    pub labels: BTreeMap<String, String>,
    /// `spec.providerID`, e.g. `aws:///us-east-1a/i-0123456789abcdef0`.
    pub provider_id: Option<String>,
    /// `node.kubernetes.io/instance-type`, else
    /// `beta.kubernetes.io/instance-type`.
    pub instance_type: Option<String>,
}

/// What an IP address was at a given time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved<'a> {
    /// Exactly one (non-hostNetwork) pod held the address.
    Pod(&'a Pod),
    /// The address is a node's. Any of its hostNetwork pods (those live at
    /// the time) may be the endpoint; the IP alone cannot tell which.
    Node {
        /// The node. When only hostNetwork pods name the address (no nodes
        /// file), this is a node implied by them, with just a name and IPs.
        node: &'a Node,
        /// The hostNetwork pods on the node that were live at the time.
        host_network_pods: Vec<&'a Pod>,
    },
    /// Several pods could have held the address at the time (reuse within
    /// the grace period, or an inconsistent snapshot).
    Ambiguous(Vec<&'a Pod>),
    /// No pod or node in the snapshot had the address at the time.
    Unknown,
}

/// Pods and nodes from a cluster snapshot, indexed by IP.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    /// All pods, in file order.
    pods: Vec<Pod>,
    /// The listed nodes, then nodes implied by hostNetwork pods.
    nodes: Vec<Node>,
    /// How many of `nodes` came from the nodes file.
    listed_nodes: usize,
    /// Per node (same index as `nodes`): its hostNetwork pods.
    host_pods: Vec<Vec<usize>>,
    /// Node IPs (and hostNetwork pod IPs) to the node index.
    node_ips: HashMap<IpAddr, usize>,
    /// Node names to the node index.
    node_names: HashMap<String, usize>,
    /// Non-hostNetwork pod IPs to the pods that ever had them.
    pod_ips: HashMap<IpAddr, Vec<usize>>,
    /// Namespace, then name, to the pod index.
    pod_names: HashMap<String, HashMap<String, usize>>,
    /// Services (from the API or `kubectl get services -A -o json`).
    services: Vec<Service>,
    /// Service IPs to the service index.
    service_ips: HashMap<IpAddr, usize>,
}

impl Inventory {
    /// Builds an inventory from the contents of a pods file and a nodes
    /// file (either may be absent).
    ///
    /// # Errors
    ///
    /// [`InventoryError::Json`] for input that is not JSON or has a field
    /// of the wrong type, [`InventoryError::NotAList`] for JSON that is not
    /// a list of pods (nodes) or a single one.
    pub fn from_json(pods: Option<&[u8]>, nodes: Option<&[u8]>) -> Result<Self, InventoryError> {
        let pods = pods.map(|b| parse_input::<PodKind>(b, None)).transpose()?;
        let nodes = nodes
            .map(|b| parse_input::<NodeKind>(b, None))
            .transpose()?;
        Ok(Self::build(
            pods.unwrap_or_default(),
            nodes.unwrap_or_default(),
        ))
    }

    /// Reads a pods file and a nodes file (either may be absent).
    ///
    /// # Errors
    ///
    /// As [`Inventory::from_json`], plus [`InventoryError::Io`] for a file
    /// that cannot be read and [`InventoryError::TooLarge`] for one over
    /// [`MAX_FILE_BYTES`]. Every error names the file.
    pub fn load(pods: Option<&Path>, nodes: Option<&Path>) -> Result<Self, InventoryError> {
        let pods = pods.map(load_file::<PodKind>).transpose()?;
        let nodes = nodes.map(load_file::<NodeKind>).transpose()?;
        Ok(Self::build(
            pods.unwrap_or_default(),
            nodes.unwrap_or_default(),
        ))
    }

    /// The TCP ports each (non-hostNetwork) pod declares, by address.
    pub fn declared_ports(&self) -> DeclaredPorts {
        let mut by_ip: HashMap<IpAddr, Vec<Declared>> = HashMap::new();
        for pod in self.pods.iter().filter(|p| !p.host_network) {
            for ip in &pod.ips {
                by_ip.entry(ip.to_canonical()).or_default().push((
                    pod.start_time,
                    pod.end_time,
                    pod.tcp_ports.clone(),
                ));
            }
        }
        DeclaredPorts { by_ip }
    }

    /// What `ip` was at `at_unix` (Unix seconds). IPv4-mapped IPv6
    /// addresses are looked up as IPv4.
    pub fn resolve(&self, ip: IpAddr, at_unix: i64) -> Resolved<'_> {
        let ip = ip.to_canonical();
        if let Some(&node) = self.node_ips.get(&ip) {
            return Resolved::Node {
                node: &self.nodes[node],
                host_network_pods: self.live(&self.host_pods[node], at_unix),
            };
        }
        let candidates = self.pod_ips.get(&ip).map_or(&[][..], Vec::as_slice);
        let mut live = self.live(candidates, at_unix);
        match live.len() {
            0 => Resolved::Unknown,
            1 => Resolved::Pod(live.swap_remove(0)),
            _ => Resolved::Ambiguous(live),
        }
    }

    /// Add Services, whose virtual IPs [`Inventory::service_at`] names.
    #[must_use]
    pub fn with_services(mut self, services: Vec<Service>) -> Self {
        for s in services {
            let index = self.services.len();
            for ip in &s.ips {
                self.service_ips.entry(ip.to_canonical()).or_insert(index);
            }
            self.services.push(s);
        }
        self
    }

    /// The Service whose virtual IP `ip` is, if any.
    pub fn service_at(&self, ip: IpAddr) -> Option<&Service> {
        self.services
            .get(*self.service_ips.get(&ip.to_canonical())?)
    }

    /// The Services added.
    pub fn services(&self) -> &[Service] {
        &self.services
    }

    /// All pods, in file order.
    pub fn pods(&self) -> &[Pod] {
        &self.pods
    }

    /// When each pod started (for the report's metadata).
    pub fn pod_starts(&self) -> crate::model::metadata::PodStarts {
        self.pods
            .iter()
            .filter_map(|p| Some(((p.namespace.clone(), p.name.clone()), p.start_time?)))
            .collect()
    }

    /// The nodes from the nodes file, in file order (not the nodes implied
    /// by hostNetwork pods).
    pub fn nodes(&self) -> &[Node] {
        &self.nodes[..self.listed_nodes]
    }

    /// The pod `namespace/name` (the first one, if listed twice).
    pub fn pod_by_name(&self, namespace: &str, name: &str) -> Option<&Pod> {
        let index = *self.pod_names.get(namespace)?.get(name)?;
        self.pods.get(index)
    }

    /// The node named `name`: from the nodes file, else implied by a
    /// hostNetwork pod.
    pub fn node_by_name(&self, name: &str) -> Option<&Node> {
        self.nodes.get(*self.node_names.get(name)?)
    }

    /// The pods among `indices` that were live at `at_unix`.
    fn live(&self, indices: &[usize], at_unix: i64) -> Vec<&Pod> {
        indices
            .iter()
            .map(|&i| &self.pods[i])
            .filter(|p| p.live_at(at_unix))
            .collect()
    }

    /// Indexes the parsed pods and nodes.
    fn build(pods: Vec<Pod>, nodes: Vec<Node>) -> Self {
        let mut inv = Inventory {
            listed_nodes: nodes.len(),
            ..Inventory::default()
        };
        for node in nodes {
            inv.add_node(node);
        }
        for (index, pod) in pods.iter().enumerate() {
            inv.add_pod(index, pod);
        }
        inv.pods = pods;
        inv
    }

    /// Adds a node; earlier nodes keep a shared IP or name.
    fn add_node(&mut self, node: Node) -> usize {
        let index = self.nodes.len();
        for ip in &node.ips {
            self.node_ips.entry(*ip).or_insert(index);
        }
        self.node_names.entry(node.name.clone()).or_insert(index);
        self.nodes.push(node);
        self.host_pods.push(Vec::new());
        index
    }

    /// Indexes pod `index` by name and IP.
    fn add_pod(&mut self, index: usize, pod: &Pod) {
        let names = self.pod_names.entry(pod.namespace.clone()).or_default();
        names.entry(pod.name.clone()).or_insert(index);
        if pod.host_network {
            self.add_host_network_pod(index, pod);
            return;
        }
        for ip in &pod.ips {
            self.pod_ips.entry(*ip).or_default().push(index);
        }
    }

    /// Attaches a hostNetwork pod to its node, whose IPs it shares.
    fn add_host_network_pod(&mut self, index: usize, pod: &Pod) {
        let Some(node) = self.host_node(pod) else {
            return;
        };
        for ip in &pod.ips {
            self.node_ips.entry(*ip).or_insert(node);
        }
        self.host_pods[node].push(index);
    }

    /// The node of a hostNetwork pod: the node with its IP, else the node
    /// it names, else a node implied from the pod. `None` for a pod with
    /// neither IP nor node (never scheduled).
    fn host_node(&mut self, pod: &Pod) -> Option<usize> {
        if let Some(&node) = pod.ips.iter().find_map(|ip| self.node_ips.get(ip)) {
            return Some(node);
        }
        if let Some(&node) = pod.node.as_ref().and_then(|n| self.node_names.get(n)) {
            return Some(node);
        }
        let name = pod
            .node
            .clone()
            .or_else(|| pod.ips.first().map(IpAddr::to_string))?;
        Some(self.add_node(Node {
            name,
            ips: pod.ips.clone(),
            labels: BTreeMap::new(),
            provider_id: None,
            instance_type: None,
        }))
    }
}

/// Reads and parses one file.
fn load_file<K: KubeKind>(path: &Path) -> Result<Vec<K::Model>, InventoryError> {
    let bytes = read_limited(path, MAX_FILE_BYTES)?;
    parse_input::<K>(&bytes, Some(path))
}

/// Reads a file of at most `limit` bytes, checking its size before reading
/// and stopping after `limit + 1` bytes for inputs that have no size
/// (pipes, `<(kubectl ...)`).
fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, InventoryError> {
    let io_error = |source| InventoryError::Io {
        path: path.to_owned(),
        source,
    };
    let too_large = |bytes| InventoryError::TooLarge {
        path: path.to_owned(),
        bytes,
    };
    let file = File::open(path).map_err(io_error)?;
    let size = file.metadata().map_err(io_error)?.len();
    if size > limit {
        return Err(too_large(size));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io_error)?;
    let read = bytes.len() as u64;
    if read > limit {
        return Err(too_large(read));
    }
    Ok(bytes)
}

/// Parses one input, naming it in errors.
fn parse_input<K: KubeKind>(
    bytes: &[u8],
    path: Option<&Path>,
) -> Result<Vec<K::Model>, InventoryError> {
    kube_json::parse::<K>(bytes).map_err(|e| input_error::<K>(e, path))
}

/// Turns a parse error into the public error for input `path`.
fn input_error<K: KubeKind>(error: ParseError, path: Option<&Path>) -> InventoryError {
    let what = K::WHAT;
    let path = path.map(Path::to_owned);
    match error {
        ParseError::Json(source) => InventoryError::Json { what, path, source },
        ParseError::Shape(found) => InventoryError::NotAList { what, path, found },
    }
}
