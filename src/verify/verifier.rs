//! The verifier sees each flow record once, as the engine finishes it:
//! it names the pods at both ends (with a cluster snapshot), runs the flow
//! and certificate rules, and hands the record on. It runs before records
//! are spilled, while certificates still carry their DER.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use serde_json::Value;

use super::chain::{ChainCheck, ChainChecker, TrustBundle};
use super::collect::{Candidate, Collected, Collector, Key};
use super::policy::{MtlsRequire, Policy};
use super::rules::{self, Rule};
use super::selector::FlowContext;
use super::spiffe::Violation;
use super::underlay::UnderlayInputs;
use super::{cert_rules, flow_rules};
use crate::coverage::cluster_config::ClusterConfig;
use crate::coverage::nitro::NitroTable;
use crate::decode::underlay::Underlay;
use crate::engine::FlowSink;
use crate::inventory::{Inventory, Resolved};
use crate::model::report::{
    FlowRecord, FlowSource, OriginFlow, PodRef, Severity, Subject, socket_addr_text,
};
use crate::x509::Certificate;

/// Turns flow records into findings.
pub struct Verifier {
    pub(super) policy: Policy,
    pub(super) inventory: Option<Inventory>,
    pub(super) chains: ChainChecker,
    /// Chain results by the chain's certificate digests: the same chain is
    /// sent in thousands of flows, and checking it parses every certificate.
    chain_results: HashMap<String, Arc<ChainCheck>>,
    /// X509-SVID violations by certificate digest and role, for the same reason.
    svid_results: HashMap<(String, bool), Arc<Vec<Violation>>>,
    pub(super) collector: Collector,
    /// Underlay coverage of plaintext flows (None if the Nitro table did
    /// not load, which the built-in one always does).
    pub(super) underlay: Option<UnderlayInputs>,
}

/// Distinct chains whose results are remembered; the cache starts over beyond.
const MAX_CACHED_CHAINS: usize = 4096;

/// What is known about one end of a flow.
#[derive(Debug, Clone, Default)]
pub(super) struct End {
    pub ip: Option<IpAddr>,
    pub endpoint: String,
    pub pod: Option<PodRef>,
    pub labels: Option<BTreeMap<String, String>>,
    pub node: Option<String>,
    /// Pod start (Unix seconds).
    pub started: Option<i64>,
    /// The node a pod runs on.
    pub pod_node: Option<String>,
    /// The Service whose virtual IP this is (`namespace/name`).
    pub service: Option<String>,
}

impl End {
    pub fn subject(&self, role: &str) -> Subject {
        Subject {
            role: role.into(),
            endpoint: self.endpoint.clone(),
            pod: self.pod.clone(),
            node: self.node.clone(),
        }
    }

    /// A pod with its own network namespace (not on the host network).
    pub fn is_pod(&self) -> bool {
        self.pod.is_some()
    }
}

/// One flow as the rules see it.
pub(super) struct Seen<'a> {
    pub rec: &'a FlowRecord,
    pub client: End,
    pub server: End,
    /// The flow's first packet, Unix seconds: certificates are judged then.
    pub at: Option<i64>,
    pub origin: OriginFlow,
}

impl Seen<'_> {
    pub fn context(&self) -> FlowContext<'_> {
        FlowContext {
            client_ip: self.client.ip,
            server_ip: self.server.ip,
            server_port: self.rec.server.port,
            client_pod: self.client.pod.as_ref(),
            server_pod: self.server.pod.as_ref(),
            server_labels: self.server.labels.as_ref(),
            app_protocol: self.rec.app_protocol.as_deref(),
            certificate: None,
        }
    }

    /// A finding about the server, the client as its peer.
    pub fn about_server(&self, rule: &'static Rule, message: String, key: Key) -> Candidate {
        Candidate {
            rule,
            severity: rule.severity,
            subject: self.server.subject("server"),
            peer: self.client.subject("client"),
            message,
            evidence: BTreeMap::new(),
            key,
            underlay: None,
        }
    }

    /// `client → server` for messages.
    pub fn path(&self) -> String {
        format!("{} → {}", who(&self.client), who(&self.server))
    }
}

/// A pod's name, else the node's, else the address.
pub(super) fn who(e: &End) -> String {
    match (&e.pod, &e.node) {
        (Some(p), _) => format!("{}/{} ({})", p.namespace, p.name, e.endpoint),
        (None, Some(n)) => format!("node {n} ({})", e.endpoint),
        _ => e.endpoint.clone(),
    }
}

impl Verifier {
    /// The ports the inventory's pods declare (for enrichment), when there
    /// is an inventory.
    pub fn declared_ports(&self) -> Option<crate::inventory::DeclaredPorts> {
        self.inventory.as_ref().map(Inventory::declared_ports)
    }

    /// A verifier; `now` (Unix seconds) judges waiver expiry.
    pub fn new(
        policy: Policy,
        inventory: Option<Inventory>,
        bundle: Option<TrustBundle>,
        now: i64,
    ) -> Self {
        let collector = Collector::new(&policy, now);
        Verifier {
            policy,
            inventory,
            chains: ChainChecker::new(bundle),
            chain_results: HashMap::new(),
            svid_results: HashMap::new(),
            collector,
            underlay: NitroTable::builtin()
                .ok()
                .map(|n| UnderlayInputs::new(ClusterConfig::default(), n)),
        }
    }

    /// A probed endpoint's checks that got no answer (timeouts, resets) are
    /// `not_checked` (`probe-no-answer`): never read as "not supported".
    pub fn probe_record(&mut self, record: &crate::model::report::ProbeRecord) {
        if record.error.is_some() {
            return;
        }
        if record.versions.iter().any(|v| v.accepted.is_none()) {
            self.collector
                .not_checked(&rules::TLS_VERSION, "probe-no-answer");
        }
        if record.weak_suites.iter().any(|s| s.accepted.is_none()) {
            self.collector
                .not_checked(&rules::WEAK_CIPHER, "probe-no-answer");
        }
    }

    /// The agent's own metrics endpoint (`port` on `servers`, the local
    /// addresses it answers on): its cleartext scrapes are exempt from the
    /// plaintext rules, and `verification.exempted` says so under the name
    /// `tls-audit-metrics (the agent's own endpoint)`.
    pub fn exempt_own_endpoint(&mut self, port: u16, servers: Vec<String>) {
        self.policy
            .plaintext
            .exempt
            .push(super::selector::Selector {
                name: Some("tls-audit-metrics (the agent's own endpoint)".into()),
                ports: vec![port],
                servers,
                ..Default::default()
            });
    }

    /// Judge underlay coverage with this cluster configuration and Nitro table.
    #[must_use]
    pub fn with_underlay(mut self, cluster: ClusterConfig, nitro: NitroTable) -> Self {
        self.underlay = Some(UnderlayInputs::new(cluster, nitro));
        self
    }

    /// Name the pods at both ends of `rec` and collect its findings.
    /// Returns the rules this flow broke with their severity under the
    /// policy (before waivers), once per flow (the agent's metrics count
    /// them).
    pub fn flow(&mut self, rec: &mut FlowRecord) -> Vec<(&'static str, Severity)> {
        let at = Some(rec.first_seen.unix_seconds());
        let client = self.resolve(&rec.client.ip, rec.client.port, at);
        let server = self.resolve(&rec.server.ip, rec.server.port, at);
        rec.client.pod.clone_from(&client.pod);
        rec.client.node.clone_from(&client.node);
        rec.server.pod.clone_from(&server.pod);
        rec.server.node.clone_from(&server.node);
        rec.client.service.clone_from(&client.service);
        rec.server.service.clone_from(&server.service);
        let seen = Seen {
            rec,
            origin: OriginFlow {
                client: client.endpoint.clone(),
                server: server.endpoint.clone(),
                first_seen: rec.first_seen,
            },
            client,
            server,
            at,
        };
        self.note_underlay(&seen);
        let mut found = Vec::new();
        flow_rules::check(self, &seen, &mut found);
        cert_rules::check(self, &seen, &mut found);
        let ctx = seen.context();
        let broken = found
            .iter()
            .map(|(c, _)| (c.rule.id, self.policy.severity_of(c.rule.id, c.severity)))
            .collect();
        for (c, cert) in found {
            let ctx = FlowContext {
                certificate: cert.as_deref(),
                ..ctx.clone()
            };
            self.collector.add(&self.policy, c, &seen.origin, &ctx);
        }
        broken
    }

    /// The chain check of `chain` (identified by `id`), from the cache when
    /// it was checked before; `None` when a certificate has no DER (records
    /// read back from JSON).
    pub(super) fn check_chain(
        &mut self,
        id: &str,
        chain: &[Arc<Certificate>],
    ) -> Option<Arc<ChainCheck>> {
        if let Some(c) = self.chain_results.get(id) {
            return Some(Arc::clone(c));
        }
        let ders: Vec<&[u8]> = chain
            .iter()
            .map(|c| c.der.as_deref())
            .collect::<Option<_>>()?;
        let check = Arc::new(self.chains.check(&ders));
        if self.chain_results.len() >= MAX_CACHED_CHAINS {
            self.chain_results.clear();
        }
        self.chain_results
            .insert(id.to_string(), Arc::clone(&check));
        Some(check)
    }

    /// The X509-SVID violations of `cert` as a leaf or a signing
    /// certificate, remembered by its digest.
    pub(super) fn svid_violations(
        &mut self,
        cert: &Certificate,
        is_leaf: bool,
    ) -> Arc<Vec<Violation>> {
        let key = (cert.sha256.clone(), is_leaf);
        if let Some(v) = self.svid_results.get(&key) {
            return Arc::clone(v);
        }
        let found = Arc::new(super::spiffe::check_x509_svid(cert, is_leaf));
        if self.svid_results.len() >= MAX_CACHED_CHAINS {
            self.svid_results.clear();
        }
        self.svid_results.insert(key, Arc::clone(&found));
        found
    }

    /// An encapsulation or encryption flow between two nodes is wire
    /// evidence for the pods behind them.
    fn note_underlay(&mut self, seen: &Seen<'_>) {
        let (Some(u), Some(a), Some(b)) = (
            self.underlay.as_mut(),
            seen.client.node.as_deref(),
            seen.server.node.as_deref(),
        ) else {
            return;
        };
        // Underlay flows name their kind in `app_protocol`.
        if let Some(kind) = seen
            .rec
            .app_protocol
            .as_deref()
            .and_then(Underlay::from_name)
        {
            u.saw(a, b, kind);
        }
    }

    /// A snapshot with pods was given (`--nodes` alone names no pods).
    pub(super) fn has_pods(&self) -> bool {
        self.inventory
            .as_ref()
            .is_some_and(|i| !i.pods().is_empty())
    }

    /// Must this TLS flow be mutual? `None` when that cannot be told.
    pub(super) fn mtls_required(&mut self, seen: &Seen<'_>) -> Option<bool> {
        let ctx = seen.context();
        let base = match self.policy.mtls.require {
            MtlsRequire::None => return Some(false),
            MtlsRequire::All => true,
            MtlsRequire::PodToPod if !self.has_pods() => return None,
            // A probe's client is tls-audit, never a pod: what matters is
            // whether the pod server lets any client in without a certificate.
            MtlsRequire::PodToPod if seen.rec.source == FlowSource::Probe => seen.server.is_pod(),
            MtlsRequire::PodToPod => seen.client.is_pod() && seen.server.is_pod(),
        };
        if !base || !self.policy.mtls.scope.matches(&ctx) {
            return Some(false);
        }
        let exempt = self
            .collector
            .exempt(&rules::NO_MTLS, &self.policy.mtls.exempt, &ctx);
        Some(!exempt)
    }

    fn resolve(&self, ip_text: &str, port: u16, at: Option<i64>) -> End {
        let ip: Option<IpAddr> = ip_text.parse().ok();
        let endpoint = match ip {
            Some(ip) => socket_addr_text(SocketAddr::new(ip, port)),
            None => format!("{ip_text}:{port}"),
        };
        let mut end = End {
            ip,
            endpoint,
            ..End::default()
        };
        let (Some(inv), Some(ip), Some(at)) = (&self.inventory, ip, at) else {
            return end;
        };
        match inv.resolve(ip, at) {
            Resolved::Pod(p) => {
                end.pod = Some(PodRef {
                    namespace: p.namespace.clone(),
                    name: p.name.clone(),
                    service_account: p.service_account.clone(),
                    workload: Some(p.workload()),
                });
                end.labels = Some(p.labels.clone());
                end.started = p.start_time;
                end.pod_node.clone_from(&p.node);
            }
            Resolved::Node { node, .. } => end.node = Some(node.name.clone()),
            Resolved::Ambiguous(_) | Resolved::Unknown => {
                end.service = inv
                    .service_at(ip)
                    .map(|s| format!("{}/{}", s.namespace, s.name));
            }
        }
        end
    }

    /// Everything found.
    pub fn finish(mut self) -> (Policy, Option<Inventory>, Collected) {
        if let Some(u) = &self.underlay {
            let inv = self.inventory.as_ref();
            self.collector
                .settle_underlay(&self.policy, |p| u.decide(inv, &p.client, &p.server));
        }
        let mut collected = self.collector.finish(&self.policy);
        collected.coverage_matrix = match (&self.underlay, &self.inventory) {
            (Some(u), Some(inv)) => u.matrix(inv),
            _ => None,
        };
        (self.policy, self.inventory, collected)
    }
}

/// Evidence helper: `{"a": 1, ...}` into a map.
pub(super) fn evidence(v: Value) -> BTreeMap<String, Value> {
    match v {
        Value::Object(m) => m.into_iter().collect(),
        other => BTreeMap::from([("value".to_string(), other)]),
    }
}

/// A [`FlowSink`] that verifies each record before passing it on.
pub struct VerifyingSink<S> {
    /// The verifier.
    pub verifier: Verifier,
    /// Where records go next.
    pub inner: S,
}

impl<S: FlowSink> FlowSink for VerifyingSink<S> {
    fn flow(&mut self, id: u64, mut record: FlowRecord) {
        self.verifier.flow(&mut record);
        self.inner.flow(id, record);
    }

    fn inner(&self) -> Option<&dyn FlowSink> {
        Some(&self.inner)
    }

    fn inner_mut(&mut self) -> Option<&mut dyn FlowSink> {
        Some(&mut self.inner)
    }
}
