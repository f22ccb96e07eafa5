//! Identity enrichment (`--enrich probe`): for TLS flows whose handshake
//! hid the certificates (TLS 1.3 without keys, resumed sessions), ask the
//! server itself, once per endpoint (a running agent: again after
//! `refresh`), with a handshake that mirrors the captured ClientHello and a
//! second that checks the answer, and attach the chain it presents to those
//! flows with its provenance, so the certificate rules can run on it.
//!
//! It sits between the engine and verification as a [`FlowSink`]: flows
//! that need a chain are held (bounded) while handshakes run on a small
//! runtime of their own, at most `concurrency` at once, each with the
//! probe's deadlines; everything else passes straight through. A saved
//! capture's held flows get their chains at the end; a running agent's as
//! soon as their handshakes end (on the next tick).
//!
//! A client's identity is never read from a handshake it did not show.
//! Where a flow's client address also serves TLS in the same capture (a
//! mesh pod's inbound listener), or else on a port its pod declares
//! (`--pods`), the chain presented there is attached as the client
//! workload's identity, **inferred** (`tls.enrichment.client_identity`),
//! never as `client_chain`.
//!
//! [`Reported`] rebuilds the record of what an agent enriched from the flows
//! of its event stream.
//!
//! Traffic: two TLS handshakes per distinct (server address, port, SNI,
//! ALPN) from where tls-audit runs (the second only when the first got a
//! chain); nothing is sent after a handshake but close_notify. Privacy:
//! only certificates are kept.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

mod reported;

pub use reported::{Reported, merge_records};

use crate::engine::FlowSink;
use crate::inventory::DeclaredPorts;
use crate::probe::{Mirrored, ProbeConfig, mirror};
use crate::report::enrichment::{
    ChainSource, EnrichedEndpoint, EnrichmentRecord, InferredIdentity, TlsEnrichment,
};
use crate::report::model::{FlowRecord, FlowSource, FlowTls};
use crate::tls::names::{cipher_suite_name, version_name};
use crate::x509::Certificate;

/// Limits of an enrichment run.
#[derive(Debug, Clone)]
pub struct EnrichConfig {
    /// Deadlines and concurrency of the handshakes (the probe's).
    pub probe: ProbeConfig,
    /// Endpoints asked at most; flows of the others are reported as
    /// `over-limit`. (A running agent, see `refresh`, makes room by
    /// forgetting the endpoint asked longest ago.)
    pub max_endpoints: usize,
    /// Flows held waiting for a chain at most; past it, flows pass on
    /// without one (`over-limit`).
    pub max_held_flows: usize,
    /// How long the end of the run waits for handshakes still running (or
    /// queued behind `concurrency`); those left are aborted and reported
    /// as `timeout`.
    pub max_wait: std::time::Duration,
    /// A capture that runs on (the live agent): each held flow goes on as
    /// soon as its handshakes are in, not at the end, and an endpoint is
    /// asked again once its answer is older than this (workload
    /// certificates rotate). None (a saved capture): flows go on at the
    /// end, and each endpoint is asked once.
    pub refresh: Option<std::time::Duration>,
    /// The TCP ports pods declare (from `--pods`): a client pod whose own
    /// listener the capture did not show is asked there for its identity.
    pub declared: Option<Arc<DeclaredPorts>>,
}

impl Default for EnrichConfig {
    fn default() -> Self {
        EnrichConfig {
            probe: ProbeConfig {
                concurrency: 16,
                ..ProbeConfig::default()
            },
            max_endpoints: 1024,
            max_held_flows: 50_000,
            max_wait: std::time::Duration::from_secs(120),
            refresh: None,
            declared: None,
        }
    }
}

/// An endpoint as a client saw it: the handshake that mirrors it offers
/// the same server name, ALPN and versions.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct EndpointKey {
    addr: SocketAddr,
    sni: Option<String>,
    alpn: Vec<String>,
    tls13_only: bool,
}

impl EndpointKey {
    fn of(rec: &FlowRecord, tls: &FlowTls) -> Option<EndpointKey> {
        let ip: IpAddr = rec.server.ip.parse().ok()?;
        Some(EndpointKey {
            addr: SocketAddr::new(ip, rec.server.port),
            sni: tls.sni.clone(),
            alpn: tls.alpn_offered.clone(),
            tls13_only: !tls.versions_offered.is_empty()
                && tls.versions_offered.iter().all(|v| v == "TLS1.3"),
        })
    }
}

/// One endpoint's handshake: running, then its result.
enum Ask {
    Running(tokio::task::JoinHandle<(Mirrored, Option<bool>)>),
    Done(Box<Answer>),
}

/// What an endpoint presented, ready to attach.
struct Answer {
    mirrored: Mirrored,
    chain: Vec<Arc<Certificate>>,
    /// Whether a second handshake got the same chain (null: the first got
    /// none, or the second failed).
    same_on_repeat: Option<bool>,
}

impl Answer {
    /// A chain that can be attached: one came, and a second handshake did
    /// not get another.
    fn usable(&self) -> bool {
        !self.chain.is_empty() && self.same_on_repeat != Some(false)
    }
}

/// An endpoint asked, its handshake, and the flows it served.
struct Slot {
    key: EndpointKey,
    ask: Ask,
    /// When it was (last) asked.
    asked: std::time::Instant,
    /// Flows its chain was attached to.
    flows: u64,
}

/// Two mirrored handshakes, the second only when the first got a chain:
/// an endpoint that answers with different chains (a Service address
/// spreading connections over pods with different identities, a rotation
/// under way) cannot say which one the captured client got.
async fn mirror_twice(k: EndpointKey, cfg: ProbeConfig) -> (Mirrored, Option<bool>) {
    let first = mirror(k.addr, k.sni.as_deref(), &k.alpn, k.tls13_only, &cfg).await;
    if first.chain.is_empty() {
        return (first, None);
    }
    let second = mirror(k.addr, k.sni.as_deref(), &k.alpn, k.tls13_only, &cfg).await;
    let same = (!second.chain.is_empty()).then(|| second.chain == first.chain);
    (first, same)
}

/// A [`FlowSink`] that fills in server chains the capture did not show.
pub struct EnrichingSink<S> {
    inner: S,
    cfg: EnrichConfig,
    rt: Option<tokio::runtime::Runtime>,
    permits: Arc<tokio::sync::Semaphore>,
    /// Endpoints in the order first needed, and their handshakes.
    slots: Vec<Slot>,
    index: HashMap<EndpointKey, usize>,
    /// Flows held until their chains are in.
    held: Vec<(u64, FlowRecord)>,
    /// Leaves seen on the wire per server address (to compare with).
    wire_leaves: HashMap<SocketAddr, String>,
    /// TLS servers seen in the capture, per address: the listener a client
    /// pod at that address serves (first seen).
    listeners: HashMap<IpAddr, EndpointKey>,
    /// The run's record, counted as flows go on (its `vantage` is where
    /// the handshakes come from).
    record: EnrichmentRecord,
    error: Option<std::io::Error>,
}

impl<S: FlowSink> EnrichingSink<S> {
    /// A sink passing flows on to `inner` after enrichment.
    pub fn new(inner: S, cfg: EnrichConfig) -> Self {
        let permits = Arc::new(tokio::sync::Semaphore::new(cfg.probe.concurrency.max(1)));
        EnrichingSink {
            inner,
            cfg,
            rt: None,
            permits,
            slots: Vec::new(),
            index: HashMap::new(),
            held: Vec::new(),
            wire_leaves: HashMap::new(),
            listeners: HashMap::new(),
            record: EnrichmentRecord {
                method: "probe".into(),
                vantage: vantage(),
                ..EnrichmentRecord::default()
            },
            error: None,
        }
    }

    /// Start the handshake with `key` (once; on a running agent, again when
    /// the answer is older than `refresh`); its slot, or None over the limit.
    fn ask(&mut self, key: &EndpointKey) -> Option<usize> {
        let stale = |s: &Slot, refresh: Option<std::time::Duration>| {
            matches!(s.ask, Ask::Done(_)) && refresh.is_some_and(|r| s.asked.elapsed() >= r)
        };
        if let Some(&i) = self.index.get(key) {
            if !self
                .slots
                .get(i)
                .is_some_and(|s| stale(s, self.cfg.refresh))
            {
                return Some(i);
            }
            let handle = self.spawn(key)?;
            let slot = self.slots.get_mut(i)?;
            *slot = Slot {
                key: key.clone(),
                ask: Ask::Running(handle),
                asked: std::time::Instant::now(),
                flows: 0,
            };
            return Some(i);
        }
        let reuse = if self.slots.len() < self.cfg.max_endpoints {
            None
        } else if self.cfg.refresh.is_some() {
            // A running agent forgets the endpoint asked longest ago.
            let oldest = self
                .slots
                .iter()
                .enumerate()
                .filter(|(_, s)| matches!(s.ask, Ask::Done(_)))
                .min_by_key(|(_, s)| s.asked)
                .map(|(i, _)| i);
            if oldest.is_none() {
                self.record.endpoints_over_limit += 1;
                return None;
            }
            oldest
        } else {
            self.record.endpoints_over_limit += 1;
            return None;
        };
        let handle = self.spawn(key)?;
        let slot = Slot {
            key: key.clone(),
            ask: Ask::Running(handle),
            asked: std::time::Instant::now(),
            flows: 0,
        };
        let i = match reuse.and_then(|i| Some((i, self.slots.get_mut(i)?))) {
            Some((i, old)) => {
                self.index.remove(&old.key);
                *old = slot;
                i
            }
            None => {
                self.slots.push(slot);
                self.slots.len() - 1
            }
        };
        self.index.insert(key.clone(), i);
        Some(i)
    }

    /// The handshakes' task, on the sink's own runtime (started once).
    fn spawn(
        &mut self,
        key: &EndpointKey,
    ) -> Option<tokio::task::JoinHandle<(Mirrored, Option<bool>)>> {
        if self.rt.is_none() {
            match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
            {
                Ok(rt) => self.rt = Some(rt),
                Err(e) => {
                    self.error.get_or_insert(e);
                    return None;
                }
            }
        }
        let rt = self.rt.as_ref()?;
        let (k, cfg, permits) = (
            key.clone(),
            self.cfg.probe.clone(),
            Arc::clone(&self.permits),
        );
        Some(rt.spawn(async move {
            let _permit = permits.acquire_owned().await;
            mirror_twice(k, cfg).await
        }))
    }

    /// Collect the handshakes that ended; with a deadline, wait for the
    /// others until it, and abort those still running then (`timeout`).
    fn settle(&mut self, wait_until: Option<tokio::time::Instant>) {
        let Some(rt) = self.rt.as_ref() else {
            return;
        };
        let max_wait = self.cfg.max_wait;
        for slot in &mut self.slots {
            let Ask::Running(h) = &mut slot.ask else {
                continue;
            };
            let waited = match wait_until {
                Some(deadline) => {
                    rt.block_on(async { tokio::time::timeout_at(deadline, &mut *h).await })
                }
                None if h.is_finished() => Ok(rt.block_on(&mut *h)),
                None => continue,
            };
            let failed = |e| (Mirrored::failed(e), None);
            let (mirrored, same_on_repeat) = match waited {
                Ok(Ok(m)) => m,
                Ok(Err(e)) => failed(crate::probe::ProbeFailure::Io(std::io::Error::other(
                    e.to_string(),
                ))),
                Err(_) => {
                    h.abort();
                    failed(crate::probe::ProbeFailure::Timeout {
                        after: max_wait,
                        what: "the run's enrichment deadline",
                    })
                }
            };
            // With their bytes: signatures are checked, and an agent's
            // event stream carries them (an agent's word is not evidence).
            let chain = mirrored
                .chain
                .iter()
                .map(|d| {
                    Arc::new(Certificate {
                        der: Some(Arc::from(d.as_slice())),
                        ..Certificate::from_der(d)
                    })
                })
                .collect();
            slot.ask = Ask::Done(Box::new(Answer {
                mirrored,
                chain,
                same_on_repeat,
            }));
        }
    }

    /// The endpoints a held flow waits for: its server's (when its chain is
    /// needed), and where its client's identity may be asked, with the
    /// basis of that inference: the client address's listener seen in the
    /// capture (`client-listener`), else the ports its pod declares
    /// (`declared-port`, in order; the first that presents a chain).
    fn keys_of(&self, rec: &FlowRecord) -> (Option<EndpointKey>, Vec<(EndpointKey, &'static str)>) {
        let Some(tls) = rec.tls.as_deref() else {
            return (None, Vec::new());
        };
        let server = EndpointKey::of(rec, tls).filter(|_| needs_server_chain(rec.source, tls));
        // One address, one workload: not when both ends share it (loopback,
        // a node talking to itself), where the "client's listener" is the
        // server.
        let Some(ip) = rec
            .client
            .ip
            .parse::<IpAddr>()
            .ok()
            .filter(|_| wants_client_identity(rec) && rec.client.ip != rec.server.ip)
        else {
            return (server, Vec::new());
        };
        if let Some(k) = self.listeners.get(&ip) {
            return (server, vec![(k.clone(), "client-listener")]);
        }
        let at = rec.first_seen.unix_seconds();
        let declared = match &self.cfg.declared {
            Some(d) => d.at(ip, at),
            None => &[],
        };
        let client = declared
            .iter()
            .map(|&port| {
                let key = EndpointKey {
                    addr: SocketAddr::new(ip, port),
                    sni: None,
                    alpn: tls.alpn_offered.clone(),
                    tls13_only: false,
                };
                (key, "declared-port")
            })
            .collect();
        (server, client)
    }

    /// Whether a handshake `rec` needs is still running.
    fn waiting(&self, rec: &FlowRecord) -> bool {
        let (server, client) = self.keys_of(rec);
        server.iter().chain(client.iter().map(|(k, _)| k)).any(|k| {
            self.index
                .get(k)
                .and_then(|&i| self.slots.get(i))
                .is_some_and(|s| matches!(s.ask, Ask::Running(_)))
        })
    }

    /// A running agent, on each tick: pass on the held flows whose
    /// handshakes are in.
    fn release_ready(&mut self) {
        if self.held.is_empty() {
            return;
        }
        self.settle(None);
        let held = std::mem::take(&mut self.held);
        for (id, mut rec) in held {
            if self.waiting(&rec) {
                self.held.push((id, rec));
            } else {
                self.attach(&mut rec);
                self.inner.flow(id, rec);
            }
        }
    }

    /// Wait for every handshake, attach chains and identities to the held
    /// flows, pass them on; the inner sink and the run's record.
    pub fn finish(mut self) -> (S, EnrichmentRecord) {
        if self.cfg.refresh.is_none() {
            // Client identities need the listeners of the whole capture.
            let wanted: Vec<EndpointKey> = self
                .held
                .iter()
                .flat_map(|(_, r)| self.keys_of(r).1)
                .map(|(k, _)| k)
                .collect();
            for key in wanted {
                self.ask(&key);
            }
        }
        let deadline = tokio::time::Instant::now() + self.cfg.max_wait;
        self.settle(Some(deadline));
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
        for (id, mut rec) in std::mem::take(&mut self.held) {
            self.attach(&mut rec);
            self.inner.flow(id, rec);
        }
        let mut record = std::mem::take(&mut self.record);
        for slot in &self.slots {
            if let Ask::Done(a) = &slot.ask {
                record
                    .endpoints
                    .push(endpoint_record(&slot.key, a, slot.flows));
            }
        }
        (self.inner, record)
    }

    fn answer(&self, key: &EndpointKey) -> Option<(usize, &Answer)> {
        let i = *self.index.get(key)?;
        match &self.slots.get(i)?.ask {
            Ask::Done(a) => Some((i, a)),
            Ask::Running(_) => None,
        }
    }

    fn attach(&mut self, rec: &mut FlowRecord) {
        let (server_key, client_key) = self.keys_of(rec);
        let Some(tls) = rec.tls.as_deref_mut() else {
            return;
        };
        let mut e = TlsEnrichment::default();
        let mut served = Vec::new();
        if needs_server_chain(rec.source, tls) {
            match server_key
                .as_ref()
                .and_then(|k| self.answer(k).map(|a| (k, a)))
            {
                Some((key, (i, a))) if a.usable() => {
                    tls.server_chain = a.chain.clone();
                    let mut source = chain_source(key, a, &self.record.vantage);
                    source.matches_wire = self
                        .wire_leaves
                        .get(&key.addr)
                        .map(|leaf| a.chain.first().is_some_and(|c| &c.sha256 == leaf));
                    e.server_chain_source = Some(source);
                    self.record.flows_enriched += 1;
                    served.push(i);
                }
                Some((_, (_, a))) => {
                    e.server_error = Some(error_kind(a));
                    self.record.flows_not_enriched += 1;
                }
                None => {
                    e.server_error = Some(match &self.error {
                        Some(err) => format!("io: no handshake runtime: {err}"),
                        None => "over-limit".into(),
                    });
                    self.record.flows_not_enriched += 1;
                }
            }
        }
        let asked = client_key
            .iter()
            .find_map(|(k, basis)| Some((k, *basis, self.answer(k).filter(|(_, a)| a.usable())?)));
        if let Some((key, basis, (i, a))) = asked {
            e.client_identity = Some(InferredIdentity {
                evidence: "inferred".into(),
                basis: basis.into(),
                source: chain_source(key, a, &self.record.vantage),
                chain: a.chain.clone(),
            });
            self.record.client_identities += 1;
            served.push(i);
        }
        for i in served {
            if let Some(s) = self.slots.get_mut(i) {
                s.flows += 1;
            }
        }
        if e != TlsEnrichment::default() {
            tls.enrichment = Some(Box::new(e));
        }
    }
}

/// Enrichment when asked for, else flows pass straight on: one sink type
/// for the callers either way.
pub enum Enrichment<S> {
    /// No enrichment.
    Off(S),
    /// Enriching into the inner sink.
    On(Box<EnrichingSink<S>>),
}

impl<S: FlowSink> Enrichment<S> {
    /// Enrich before `inner` when `cfg` is given.
    pub fn new(inner: S, cfg: Option<&EnrichConfig>) -> Self {
        match cfg {
            Some(c) => Enrichment::On(Box::new(EnrichingSink::new(inner, c.clone()))),
            None => Enrichment::Off(inner),
        }
    }

    /// The inner sink, after every held flow went on to it, and the run's
    /// record when enrichment ran.
    pub fn finish(self) -> (S, Option<EnrichmentRecord>) {
        match self {
            Enrichment::Off(s) => (s, None),
            Enrichment::On(e) => {
                let (s, record) = e.finish();
                (s, Some(record))
            }
        }
    }
}

impl<S: FlowSink> FlowSink for Enrichment<S> {
    fn flow(&mut self, id: u64, record: FlowRecord) {
        match self {
            Enrichment::Off(s) => s.flow(id, record),
            Enrichment::On(e) => e.flow(id, record),
        }
    }

    fn inner(&self) -> Option<&dyn FlowSink> {
        Some(match self {
            Enrichment::Off(s) => s,
            Enrichment::On(e) => &**e,
        })
    }

    fn inner_mut(&mut self) -> Option<&mut dyn FlowSink> {
        Some(match self {
            Enrichment::Off(s) => s,
            Enrichment::On(e) => &mut **e,
        })
    }
}

impl<S: FlowSink> FlowSink for EnrichingSink<S> {
    fn flow(&mut self, id: u64, record: FlowRecord) {
        let Some(tls) = record.tls.as_deref() else {
            self.inner.flow(id, record);
            return;
        };
        let key = EndpointKey::of(&record, tls);
        if let Some(k) = &key
            && tls.handshake_seen
            && record.source == FlowSource::Capture
        {
            if let Some(leaf) = tls.server_chain.first() {
                self.wire_leaves
                    .entry(k.addr)
                    .or_insert_with(|| leaf.sha256.clone());
            }
            self.listeners
                .entry(k.addr.ip())
                .or_insert_with(|| k.clone());
        }
        let server = needs_server_chain(record.source, tls);
        if !server && !wants_client_identity(&record) {
            self.inner.flow(id, record);
            return;
        }
        if self.held.len() >= self.cfg.max_held_flows {
            let mut record = record;
            if let Some(tls) = record.tls.as_deref_mut().filter(|_| server) {
                tls.enrichment = Some(Box::new(TlsEnrichment {
                    server_error: Some("over-limit".into()),
                    ..TlsEnrichment::default()
                }));
                self.record.flows_not_enriched += 1;
            }
            self.inner.flow(id, record);
            return;
        }
        let (server_key, client_key) = self.keys_of(&record);
        if let Some(k) = server_key {
            self.ask(&k);
        }
        // A saved capture asks the clients' listeners at the end, when all
        // are known; a running agent, with those it knows now.
        if self.cfg.refresh.is_some() {
            for (k, _) in client_key {
                self.ask(&k);
            }
            // A running agent: an endpoint answered already (within
            // `refresh`) serves the flow at once; otherwise the flow waits
            // for a tick after its handshake ends.
            if !self.waiting(&record) {
                let mut record = record;
                self.attach(&mut record);
                self.inner.flow(id, record);
                return;
            }
        }
        self.held.push((id, record));
    }

    fn tick(&mut self) {
        if self.cfg.refresh.is_some() {
            self.release_ready();
        }
        self.inner.tick();
    }

    fn inner(&self) -> Option<&dyn FlowSink> {
        Some(&self.inner)
    }

    fn inner_mut(&mut self) -> Option<&mut dyn FlowSink> {
        Some(&mut self.inner)
    }
}

/// Mark a flow whose hidden server chain nobody obtained (no enrichment
/// record on it yet) with `why`.
pub fn mark_not_obtained(rec: &mut FlowRecord, why: &str) {
    let source = rec.source;
    let Some(tls) = rec.tls.as_deref_mut() else {
        return;
    };
    if !needs_server_chain(source, tls) || tls.enrichment.is_some() {
        return;
    }
    tls.enrichment = Some(Box::new(TlsEnrichment {
        server_error: Some(why.to_string()),
        ..TlsEnrichment::default()
    }));
}

/// A captured TLS flow whose server chain the handshake hid.
fn needs_server_chain(source: FlowSource, tls: &FlowTls) -> bool {
    source == FlowSource::Capture
        && tls.handshake_seen
        && tls.server_chain.is_empty()
        && (tls.certificates_encrypted || tls.resumed == Some(true))
}

/// A flow whose client (probably) authenticated with a certificate the
/// capture did not show.
fn wants_client_identity(rec: &FlowRecord) -> bool {
    rec.tls.as_deref().is_some_and(|t| {
        rec.source == FlowSource::Capture
            && t.client_chain.is_empty()
            && t.mutual != Some(false)
            && (t.certificates_encrypted || t.resumed == Some(true))
    })
}

fn chain_source(key: &EndpointKey, a: &Answer, vantage: &str) -> ChainSource {
    ChainSource {
        source: "probe".into(),
        obtained_at: crate::verify::format_time(a.mirrored.finished.unix_timestamp()),
        endpoint: key.addr.to_string(),
        sni: key.sni.clone(),
        alpn_offered: key.alpn.clone(),
        version: a.mirrored.version.map(|v| version_name(v).into_owned()),
        matches_wire: None,
        same_on_repeat: a.same_on_repeat,
        vantage: vantage.to_string(),
        cipher_suite: a.mirrored.cipher.map(|c| cipher_suite_name(c).into_owned()),
        client_cert_requested: a.mirrored.client_cert_requested,
    }
}

fn error_kind(a: &Answer) -> String {
    match &a.mirrored.error {
        Some(e) => format!("{}: {e}", e.kind()),
        None if a.same_on_repeat == Some(false) => {
            "unstable: a second handshake got another chain".into()
        }
        None => "no-certificate".into(),
    }
}

fn endpoint_record(key: &EndpointKey, a: &Answer, flows: u64) -> EnrichedEndpoint {
    EnrichedEndpoint {
        endpoint: key.addr.to_string(),
        sni: key.sni.clone(),
        alpn_offered: key.alpn.clone(),
        obtained_at: crate::verify::format_time(a.mirrored.finished.unix_timestamp()),
        version: a.mirrored.version.map(|v| version_name(v).into_owned()),
        cipher_suite: a.mirrored.cipher.map(|c| cipher_suite_name(c).into_owned()),
        chain_sha256: a.chain.iter().map(|c| c.sha256.clone()).collect(),
        client_cert_requested: a.mirrored.client_cert_requested,
        same_on_repeat: a.same_on_repeat,
        flows,
        error: (!a.usable()).then(|| error_kind(a)),
    }
}

/// This host's name, for the record of where handshakes came from.
fn vantage() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "this host".into())
}

#[cfg(test)]
mod tests;
