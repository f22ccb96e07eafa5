//! Identity enrichment (`--enrich probe`): for TLS flows whose handshake
//! hid the certificates (TLS 1.3 without keys, resumed sessions), ask the
//! server itself, once per endpoint, with a handshake that mirrors the
//! captured ClientHello, and attach the chain it presents to those flows
//! with its provenance, so the certificate rules can run on it.
//!
//! It sits between the engine and verification as a [`FlowSink`]: flows
//! that need a chain are held (bounded) while handshakes run on a small
//! runtime of their own, at most `concurrency` at once, each with the
//! probe's deadlines; everything else passes straight through. At the end
//! the held flows get their chains and go on to verification.
//!
//! A client's identity is never read from a handshake it did not show.
//! Where a flow's client address also serves TLS in the same capture (a
//! mesh pod's inbound listener), the chain that listener presents is
//! attached as the client workload's identity, **inferred**
//! (`tls.enrichment.client_identity`), never as `client_chain`.
//!
//! Traffic: one TLS handshake per distinct (server address, port, SNI,
//! ALPN) from where tls-audit runs; nothing is sent after the handshake but
//! close_notify. Privacy: only certificates are kept.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use crate::engine::FlowSink;
use crate::inventory::DeclaredPorts;
use crate::probe::{Mirrored, ProbeConfig, mirror};
use crate::report::enrichment::{
    ChainSource, EnrichedEndpoint, EnrichmentRecord, InferredIdentity, TlsEnrichment,
};
use crate::report::model::{FlowRecord, FlowSource, TlsRecord};
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
    fn of(rec: &FlowRecord, tls: &TlsRecord) -> Option<EndpointKey> {
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
            let failed = |e: crate::probe::ProbeFailure| {
                (
                    Mirrored {
                        version: None,
                        cipher: None,
                        chain: Vec::new(),
                        client_cert_requested: false,
                        finished: time::OffsetDateTime::now_utc(),
                        error: Some(e),
                    },
                    None,
                )
            };
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
        let at = time::OffsetDateTime::parse(
            &rec.first_seen,
            &time::format_description::well_known::Rfc3339,
        )
        .map(time::OffsetDateTime::unix_timestamp);
        let declared = match (&self.cfg.declared, at) {
            (Some(d), Ok(at)) => d.at(ip, at),
            _ => &[],
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

    fn wants_progress(&self) -> bool {
        match self {
            Enrichment::Off(s) => s.wants_progress(),
            Enrichment::On(e) => e.wants_progress(),
        }
    }

    fn opened(&mut self, id: u64, opened: &crate::engine::FlowOpened) {
        match self {
            Enrichment::Off(s) => s.opened(id, opened),
            Enrichment::On(e) => e.opened(id, opened),
        }
    }

    fn decided(&mut self, id: u64, record: &FlowRecord) {
        match self {
            Enrichment::Off(s) => s.decided(id, record),
            Enrichment::On(e) => e.decided(id, record),
        }
    }

    fn tick(&mut self) {
        match self {
            Enrichment::Off(s) => s.tick(),
            Enrichment::On(e) => e.tick(),
        }
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

    fn wants_progress(&self) -> bool {
        self.inner.wants_progress()
    }

    fn opened(&mut self, id: u64, opened: &crate::engine::FlowOpened) {
        self.inner.opened(id, opened);
    }

    fn decided(&mut self, id: u64, record: &FlowRecord) {
        self.inner.decided(id, record);
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
fn needs_server_chain(source: FlowSource, tls: &TlsRecord) -> bool {
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
        version: a.mirrored.version.map(version_name),
        matches_wire: None,
        same_on_repeat: a.same_on_repeat,
        vantage: vantage.to_string(),
        cipher_suite: a.mirrored.cipher.map(cipher_suite_name),
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
        version: a.mirrored.version.map(version_name),
        cipher_suite: a.mirrored.cipher.map(cipher_suite_name),
        chain_sha256: a.chain.iter().map(|c| c.sha256.clone()).collect(),
        client_cert_requested: a.mirrored.client_cert_requested,
        same_on_repeat: a.same_on_repeat,
        flows,
        error: (!a.usable()).then(|| error_kind(a)),
    }
}

/// Endpoints a replayed stream's record lists at most (a hostile stream
/// can name any number).
const MAX_REPORTED_ENDPOINTS: usize = 4096;

/// Bytes of text one replayed endpoint entry may carry.
const MAX_REPORTED_ENTRY_BYTES: usize = 4096;

/// The record of the enrichment an agent did (`capture --enrich probe`),
/// rebuilt from the flows it reported, as they were read back: the
/// stream's own summary is a claim, the flows carry the chains (whose DER
/// the reader checked). Its vantage says the agent reported it.
#[derive(Default)]
pub struct Reported {
    endpoints: BTreeMap<(String, Option<String>, Vec<String>), EnrichedEndpoint>,
    vantages: BTreeSet<String>,
    over_limit: u64,
    flows_enriched: u64,
    flows_not_enriched: u64,
    client_identities: u64,
}

impl Reported {
    /// Count one replayed flow's enrichment, if it has any.
    pub fn observe(&mut self, rec: &FlowRecord) {
        let Some(tls) = rec.tls.as_deref() else {
            return;
        };
        let Some(e) = tls.enrichment.as_deref() else {
            return;
        };
        if let Some(src) = &e.server_chain_source {
            self.flows_enriched += 1;
            self.endpoint(src, &tls.server_chain, None);
        } else if let Some(err) = &e.server_error {
            self.flows_not_enriched += 1;
            if err.starts_with("not-enabled") {
                // Nobody asked: no endpoint to list.
                return;
            }
            let src = ChainSource {
                source: "probe".into(),
                obtained_at: rec.last_seen.clone(),
                endpoint: rec.server.socket(),
                sni: tls.sni.clone(),
                alpn_offered: tls.alpn_offered.clone(),
                version: None,
                matches_wire: None,
                same_on_repeat: None,
                vantage: String::new(),
                cipher_suite: None,
                client_cert_requested: false,
            };
            self.endpoint(&src, &[], Some(err));
        }
        if let Some(id) = &e.client_identity {
            self.client_identities += 1;
            self.endpoint(&id.source, &id.chain, None);
        }
    }

    fn endpoint(&mut self, src: &ChainSource, chain: &[Arc<Certificate>], error: Option<&str>) {
        // A stream's strings are the agent's (or an attacker's): an entry
        // larger than any real one is not kept (a host name, an address,
        // an SNI of at most 255 bytes, a few ALPN names).
        let size = src.vantage.len()
            + src.endpoint.len()
            + src.sni.as_ref().map_or(0, String::len)
            + src.alpn_offered.iter().map(String::len).sum::<usize>()
            + error.map_or(0, str::len);
        if size > MAX_REPORTED_ENTRY_BYTES || src.alpn_offered.len() > 32 {
            self.over_limit += 1;
            return;
        }
        if !src.vantage.is_empty() && self.vantages.len() < 64 {
            self.vantages.insert(src.vantage.clone());
        }
        let key = (
            src.endpoint.clone(),
            src.sni.clone(),
            src.alpn_offered.clone(),
        );
        if !self.endpoints.contains_key(&key) && self.endpoints.len() >= MAX_REPORTED_ENDPOINTS {
            self.over_limit += 1;
            return;
        }
        let e = self
            .endpoints
            .entry(key)
            .or_insert_with(|| EnrichedEndpoint {
                endpoint: src.endpoint.clone(),
                sni: src.sni.clone(),
                alpn_offered: src.alpn_offered.clone(),
                obtained_at: src.obtained_at.clone(),
                version: src.version.clone(),
                cipher_suite: src.cipher_suite.clone(),
                chain_sha256: chain.iter().map(|c| c.sha256.clone()).collect(),
                client_cert_requested: src.client_cert_requested,
                same_on_repeat: src.same_on_repeat,
                flows: 0,
                error: error.map(str::to_string),
            });
        if error.is_none() {
            e.flows += 1;
        }
    }

    /// The record, when any replayed flow was enriched by its agent.
    pub fn record(self) -> Option<EnrichmentRecord> {
        if self.endpoints.is_empty() && self.over_limit == 0 {
            return None;
        }
        let vantage = if self.vantages.is_empty() {
            "reported by the agent".to_string()
        } else {
            format!(
                "reported by the agent: {}",
                self.vantages.into_iter().collect::<Vec<_>>().join(", ")
            )
        };
        Some(EnrichmentRecord {
            method: "probe".into(),
            vantage,
            flows_enriched: self.flows_enriched,
            flows_not_enriched: self.flows_not_enriched,
            client_identities: self.client_identities,
            endpoints: self.endpoints.into_values().collect(),
            endpoints_over_limit: self.over_limit,
        })
    }
}

/// One record for a run whose flows were enriched here and by agents.
pub fn merge_records(
    here: Option<EnrichmentRecord>,
    reported: Option<EnrichmentRecord>,
) -> Option<EnrichmentRecord> {
    match (here, reported) {
        (Some(mut h), Some(r)) => {
            h.vantage = format!("{}; {}", h.vantage, r.vantage);
            h.flows_enriched += r.flows_enriched;
            h.flows_not_enriched += r.flows_not_enriched;
            h.client_identities += r.client_identities;
            h.endpoints.extend(r.endpoints);
            h.endpoints_over_limit += r.endpoints_over_limit;
            Some(h)
        }
        (h, r) => h.or(r),
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
mod tests {
    use super::*;
    use crate::engine::MemorySink;
    use serde_json::json;

    /// A captured TLS 1.3 flow to 127.0.0.1:`port` whose chain was hidden.
    fn hidden(port: u16) -> FlowRecord {
        serde_json::from_value(json!({
            "transport": "tcp",
            "client": {"ip": "127.0.0.2", "port": 40000},
            "server": {"ip": "127.0.0.1", "port": port},
            "role_source": "syn", "first_seen": "2026-12-05T08:00:00Z",
            "last_seen": "2026-12-05T08:00:01Z", "packets": 10, "bytes": 1000,
            "protection": "tls", "app_protocol": null,
            "tls": {
                "handshake_seen": true, "version": "TLS1.3",
                "cipher_suite": "TLS_AES_128_GCM_SHA256", "sni": null,
                "alpn_offered": [], "alpn": null, "resumed": false,
                "client_cert_requested": false, "mutual": false,
                "mutual_evidence": "encrypted-flight-size",
                "mutual_unknown_reason": null, "mutual_inference": null,
                "server_chain": [], "client_chain": [], "certificates_encrypted": true,
                "ja4": null, "versions_offered": ["TLS1.3"], "hello_retry_request": false,
                "starttls": false, "alerts": [], "record_version": null, "notes": []
            },
            "tcp": null, "inside": null, "ended_by": null, "truncated": false
        }))
        .unwrap()
    }

    /// Thousands of endpoints: at most `max_endpoints` are asked, the rest
    /// are said to be over the limit, every flow still comes out, and
    /// flows that need nothing pass straight through.
    #[test]
    fn endpoints_and_held_flows_are_bounded() {
        // Ports nothing listens on: each handshake is refused at once.
        let cfg = EnrichConfig {
            max_endpoints: 20,
            max_held_flows: 1500,
            ..EnrichConfig::default()
        };
        let mut sink = EnrichingSink::new(MemorySink::default(), cfg);
        let mut plain = hidden(1);
        plain.tls = None;
        plain.protection = crate::model::Protection::Plaintext;
        sink.flow(0, plain);
        for i in 0..2000u16 {
            sink.flow(u64::from(i) + 1, hidden(20_000 + i));
        }
        assert_eq!(sink.held.len(), 1500, "held flows are bounded");
        let (inner, run) = sink.finish();
        let flows = inner.into_sorted();
        assert_eq!(flows.len(), 2001, "every flow comes out");
        assert_eq!(run.endpoints.len(), 20);
        assert_eq!(run.endpoints_over_limit, 1480);
        assert!(
            run.endpoints
                .iter()
                .all(|e| e.error.as_deref().is_some_and(|e| e.starts_with("refused"))),
            "{:?}",
            run.endpoints
        );
        assert_eq!(run.flows_enriched, 0);
        assert_eq!(run.flows_not_enriched, 2000);
        let errors: Vec<_> = flows
            .iter()
            .filter_map(|f| f.tls.as_ref()?.enrichment.as_ref()?.server_error.clone())
            .collect();
        // 1,480 endpoints over the limit, 500 flows past the held bound.
        assert_eq!(errors.iter().filter(|e| *e == "over-limit").count(), 1980);
    }

    /// A server that accepts and never answers, with a handshake deadline
    /// far away: the run's own deadline ends the wait, and says so.
    #[test]
    fn the_run_waits_for_handshakes_at_most_max_wait() {
        let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = silent.local_addr().expect("addr").port();
        let mut cfg = EnrichConfig {
            max_wait: std::time::Duration::from_millis(500),
            ..EnrichConfig::default()
        };
        cfg.probe.io_timeout = std::time::Duration::from_secs(60);
        let mut sink = EnrichingSink::new(MemorySink::default(), cfg);
        sink.flow(1, hidden(port));
        let started = std::time::Instant::now();
        let (inner, run) = sink.finish();
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
        let error = run.endpoints[0].error.clone().unwrap_or_default();
        assert!(error.starts_with("timeout"), "{error}");
        let flows = inner.into_sorted();
        let e = flows[0].tls.as_ref().unwrap().enrichment.as_ref().unwrap();
        assert!(
            e.server_error
                .as_deref()
                .unwrap_or_default()
                .starts_with("timeout")
        );
        drop(silent);
    }

    /// A TLS server on 127.0.0.1 presenting, to each connection in turn,
    /// the next of `names`' self-signed certificates (one per name).
    fn rotating_server(names: &[&str], connections: usize) -> u16 {
        use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let configs: Vec<Arc<rustls::ServerConfig>> = names
            .iter()
            .map(|n| {
                let c = rcgen::generate_simple_self_signed(vec![(*n).to_string()]).unwrap();
                let key =
                    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(c.signing_key.serialize_der()));
                Arc::new(
                    rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
                        .with_safe_default_protocol_versions()
                        .unwrap()
                        .with_no_client_auth()
                        .with_single_cert(vec![c.cert.der().clone()], key)
                        .unwrap(),
                )
            })
            .collect();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for n in 0..connections {
                let Ok((mut tcp, _)) = listener.accept() else {
                    return;
                };
                let cfg = Arc::clone(&configs[n % configs.len()]);
                let mut conn = rustls::ServerConnection::new(cfg).unwrap();
                while conn.is_handshaking() {
                    if conn.complete_io(&mut tcp).is_err() {
                        break;
                    }
                }
                let _ = conn.complete_io(&mut tcp);
            }
        });
        port
    }

    /// An endpoint that presents one chain, then another (a Service
    /// address over pods with different identities): the chain is not
    /// attached, the flow's certificate checks stay open with the reason,
    /// and the record says the answers differed.
    #[test]
    fn a_chain_that_changes_between_two_handshakes_is_not_attached() {
        let port = rotating_server(&["a.test", "b.test"], 2);
        let mut sink = EnrichingSink::new(MemorySink::default(), EnrichConfig::default());
        sink.flow(1, hidden(port));
        let (inner, run) = sink.finish();
        let ep = &run.endpoints[0];
        assert_eq!(ep.same_on_repeat, Some(false), "{ep:?}");
        assert!(
            ep.error
                .as_deref()
                .unwrap_or_default()
                .starts_with("unstable"),
            "{ep:?}"
        );
        let flows = inner.into_sorted();
        let t = flows[0].tls.as_ref().unwrap();
        assert!(t.server_chain.is_empty(), "no chain attached");
        let e = t.enrichment.as_ref().unwrap();
        assert!(e.server_error.as_deref().unwrap().starts_with("unstable"));
        assert_eq!(run.flows_enriched, 0);
        assert_eq!(run.flows_not_enriched, 1);
    }

    /// The same endpoint twice with one certificate: attached, and said to
    /// be stable.
    #[test]
    fn a_stable_chain_is_attached_with_its_provenance() {
        let port = rotating_server(&["a.test"], 2);
        let mut sink = EnrichingSink::new(MemorySink::default(), EnrichConfig::default());
        sink.flow(1, hidden(port));
        let (inner, run) = sink.finish();
        assert_eq!(run.endpoints[0].same_on_repeat, Some(true));
        assert_eq!(run.endpoints[0].error, None);
        let flows = inner.into_sorted();
        let t = flows[0].tls.as_ref().unwrap();
        assert_eq!(t.server_chain.len(), 1);
        let src = t
            .enrichment
            .as_ref()
            .unwrap()
            .server_chain_source
            .as_ref()
            .unwrap();
        assert_eq!(src.same_on_repeat, Some(true));
        assert_eq!(src.source, "probe");
        assert!(!src.vantage.is_empty());
        assert_eq!(src.endpoint, format!("127.0.0.1:{port}"));
    }

    /// A running agent (`refresh`): a held flow goes on as soon as its
    /// handshakes are in, on a tick, not at the end of the capture.
    #[test]
    fn a_running_agent_passes_flows_on_when_their_handshake_ends() {
        let port = rotating_server(&["a.test"], 2);
        let cfg = EnrichConfig {
            refresh: Some(std::time::Duration::from_secs(600)),
            ..EnrichConfig::default()
        };
        let mut sink = EnrichingSink::new(MemorySink::default(), cfg);
        sink.flow(1, hidden(port));
        assert_eq!(sink.held.len(), 1, "held while the handshake runs");
        let started = std::time::Instant::now();
        while !sink.held.is_empty() && started.elapsed() < std::time::Duration::from_secs(20) {
            std::thread::sleep(std::time::Duration::from_millis(20));
            sink.tick();
        }
        assert!(sink.held.is_empty(), "released before the end");
        let flows = std::mem::take(&mut sink.inner).into_sorted();
        assert_eq!(flows.len(), 1);
        assert_eq!(flows[0].tls.as_ref().unwrap().server_chain.len(), 1);
        // A second flow to the same endpoint within `refresh`: no new
        // handshake, attached at once.
        sink.flow(2, hidden(port));
        assert!(sink.held.is_empty());
        let (_, run) = sink.finish();
        assert_eq!(run.endpoints.len(), 1);
        assert_eq!(run.endpoints[0].flows, 2);
        assert_eq!(run.flows_enriched, 2);
    }

    /// A running agent at its endpoint limit forgets the endpoint asked
    /// longest ago instead of refusing every new one for good.
    #[test]
    fn a_running_agent_makes_room_for_new_endpoints() {
        let cfg = EnrichConfig {
            max_endpoints: 2,
            refresh: Some(std::time::Duration::from_secs(600)),
            ..EnrichConfig::default()
        };
        let mut sink = EnrichingSink::new(MemorySink::default(), cfg);
        for (i, port) in [1u16, 2, 3, 4].into_iter().enumerate() {
            sink.flow(i as u64, hidden(port));
            // Refused at once: let the handshake end before the next.
            let started = std::time::Instant::now();
            while !sink.held.is_empty() && started.elapsed() < std::time::Duration::from_secs(10) {
                std::thread::sleep(std::time::Duration::from_millis(10));
                sink.tick();
            }
        }
        let (_, run) = sink.finish();
        assert_eq!(run.endpoints_over_limit, 0);
        let ports: Vec<&str> = run.endpoints.iter().map(|e| e.endpoint.as_str()).collect();
        assert_eq!(ports.len(), 2);
        assert!(
            ports.contains(&"127.0.0.1:3") && ports.contains(&"127.0.0.1:4"),
            "{ports:?}"
        );
    }

    /// A replayed stream's agent-made enrichment is rebuilt from its flows,
    /// labelled as the agent's.
    #[test]
    fn reported_enrichment_is_rebuilt_from_the_flows() {
        let port = rotating_server(&["a.test"], 2);
        let mut sink = EnrichingSink::new(MemorySink::default(), EnrichConfig::default());
        sink.flow(1, hidden(port));
        sink.flow(2, hidden(1));
        let (inner, _) = sink.finish();
        let mut reported = Reported::default();
        for f in inner.into_sorted() {
            reported.observe(&f);
        }
        reported.observe(&hidden(5));
        let record = reported.record().expect("a record");
        assert!(
            record.vantage.starts_with("reported by the agent: "),
            "{}",
            record.vantage
        );
        assert_eq!(record.flows_enriched, 1);
        assert_eq!(record.flows_not_enriched, 1);
        assert_eq!(record.endpoints.len(), 2);
        assert!(Reported::default().record().is_none());
    }

    /// A hostile stream's enrichment is bounded: oversized entries and
    /// endpoints past the limit are counted, not kept.
    #[test]
    fn reported_enrichment_is_bounded() {
        let mut reported = Reported::default();
        let with = |endpoint: String, sni: String| {
            let mut f = hidden(443);
            let t = f.tls.as_mut().unwrap();
            t.enrichment = Some(Box::new(TlsEnrichment {
                server_error: Some("refused: no".into()),
                ..TlsEnrichment::default()
            }));
            t.sni = Some(sni);
            f.server.ip = endpoint;
            f
        };
        reported.observe(&with("10.0.0.1".into(), "x".repeat(100_000)));
        for i in 0..(MAX_REPORTED_ENDPOINTS + 10) {
            reported.observe(&with(
                format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255),
                "a".into(),
            ));
        }
        let r = reported.record().unwrap();
        assert_eq!(r.endpoints.len(), MAX_REPORTED_ENDPOINTS);
        assert_eq!(r.endpoints_over_limit, 11);
        assert!(r.endpoints.iter().all(|e| e.sni.as_deref() == Some("a")));
    }
}
