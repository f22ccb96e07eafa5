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

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use crate::engine::FlowSink;
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
    /// `over-limit`.
    pub max_endpoints: usize,
    /// Flows held waiting for a chain at most; past it, flows pass on
    /// without one (`over-limit`).
    pub max_held_flows: usize,
    /// How long the end of the run waits for handshakes still running (or
    /// queued behind `concurrency`); those left are aborted and reported
    /// as `timeout`.
    pub max_wait: std::time::Duration,
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
    Running(tokio::task::JoinHandle<Mirrored>),
    Done(Box<Answer>),
}

/// What an endpoint presented, ready to attach.
struct Answer {
    mirrored: Mirrored,
    chain: Vec<Arc<Certificate>>,
}

/// A [`FlowSink`] that fills in server chains the capture did not show.
pub struct EnrichingSink<S> {
    inner: S,
    cfg: EnrichConfig,
    rt: Option<tokio::runtime::Runtime>,
    permits: Arc<tokio::sync::Semaphore>,
    /// Endpoints in the order first needed, and their handshakes.
    keys: Vec<EndpointKey>,
    asks: Vec<Ask>,
    index: HashMap<EndpointKey, usize>,
    /// Flows held until their chains are in.
    held: Vec<(u64, FlowRecord)>,
    /// Leaves seen on the wire per server address (to compare with).
    wire_leaves: HashMap<SocketAddr, String>,
    /// TLS servers seen in the capture, per address: the listener a client
    /// pod at that address serves (first seen).
    listeners: HashMap<IpAddr, EndpointKey>,
    endpoints_over_limit: u64,
    /// Flows passed on unenriched because `max_held_flows` were held.
    flows_over_held: u64,
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
            keys: Vec::new(),
            asks: Vec::new(),
            index: HashMap::new(),
            held: Vec::new(),
            wire_leaves: HashMap::new(),
            listeners: HashMap::new(),
            endpoints_over_limit: 0,
            flows_over_held: 0,
            error: None,
        }
    }

    /// Start (once) the handshake with `key`; its index, or None over the limit.
    fn ask(&mut self, key: &EndpointKey) -> Option<usize> {
        if let Some(&i) = self.index.get(key) {
            return Some(i);
        }
        if self.keys.len() >= self.cfg.max_endpoints {
            self.endpoints_over_limit += 1;
            return None;
        }
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
        let handle = rt.spawn(async move {
            let _permit = permits.acquire_owned().await;
            mirror(k.addr, k.sni.as_deref(), &k.alpn, k.tls13_only, &cfg).await
        });
        let i = self.keys.len();
        self.keys.push(key.clone());
        self.asks.push(Ask::Running(handle));
        self.index.insert(key.clone(), i);
        Some(i)
    }

    /// Wait for every handshake, attach chains and identities to the held
    /// flows, pass them on; the inner sink and the run's record.
    pub fn finish(mut self) -> (S, EnrichmentRecord) {
        // Client identities need the listeners of the whole capture.
        let wanted: Vec<EndpointKey> = self
            .held
            .iter()
            .filter(|(_, r)| wants_client_identity(r))
            .filter_map(|(_, r)| r.client.ip.parse::<IpAddr>().ok())
            .filter_map(|ip| self.listeners.get(&ip).cloned())
            .collect();
        for key in wanted {
            self.ask(&key);
        }
        let mut flows_per_ask = vec![0u64; self.asks.len()];
        if let Some(rt) = self.rt.take() {
            let max_wait = self.cfg.max_wait;
            let deadline = tokio::time::Instant::now() + max_wait;
            for ask in &mut self.asks {
                if let Ask::Running(h) = ask {
                    let waited =
                        rt.block_on(async { tokio::time::timeout_at(deadline, &mut *h).await });
                    let failed = |e: crate::probe::ProbeFailure| Mirrored {
                        version: None,
                        cipher: None,
                        chain: Vec::new(),
                        client_cert_requested: false,
                        finished: time::OffsetDateTime::now_utc(),
                        error: Some(e),
                    };
                    let mirrored = match waited {
                        Ok(Ok(m)) => m,
                        Ok(Err(e)) => failed(crate::probe::ProbeFailure::Io(
                            std::io::Error::other(e.to_string()),
                        )),
                        Err(_) => {
                            h.abort();
                            failed(crate::probe::ProbeFailure::Timeout {
                                after: max_wait,
                                what: "the run's enrichment deadline",
                            })
                        }
                    };
                    let chain = mirrored
                        .chain
                        .iter()
                        .map(|d| Arc::new(Certificate::from_der(d)))
                        .collect();
                    *ask = Ask::Done(Box::new(Answer { mirrored, chain }));
                }
            }
            rt.shutdown_background();
        }
        let mut record = EnrichmentRecord {
            method: "probe".into(),
            vantage: vantage(),
            endpoints_over_limit: self.endpoints_over_limit,
            flows_not_enriched: self.flows_over_held,
            ..EnrichmentRecord::default()
        };
        for (id, mut rec) in std::mem::take(&mut self.held) {
            self.attach(&mut rec, &mut record, &mut flows_per_ask);
            self.inner.flow(id, rec);
        }
        for (i, (key, ask)) in self.keys.iter().zip(&self.asks).enumerate() {
            if let Ask::Done(a) = ask {
                record.endpoints.push(endpoint_record(
                    key,
                    a,
                    flows_per_ask.get(i).copied().unwrap_or(0),
                ));
            }
        }
        (self.inner, record)
    }

    fn answer(&self, key: &EndpointKey) -> Option<(usize, &Answer)> {
        let i = *self.index.get(key)?;
        match self.asks.get(i)? {
            Ask::Done(a) => Some((i, a)),
            Ask::Running(_) => None,
        }
    }

    fn attach(&self, rec: &mut FlowRecord, run: &mut EnrichmentRecord, counts: &mut [u64]) {
        let server_key = rec.tls.as_deref().and_then(|t| EndpointKey::of(rec, t));
        // One address, one workload: not when both ends share it (loopback,
        // a node talking to itself), where the "client's listener" is the
        // server.
        let client_key = rec
            .client
            .ip
            .parse::<IpAddr>()
            .ok()
            .filter(|_| wants_client_identity(rec) && rec.client.ip != rec.server.ip)
            .and_then(|ip| self.listeners.get(&ip));
        let Some(tls) = rec.tls.as_deref_mut() else {
            return;
        };
        let mut e = TlsEnrichment::default();
        if needs_server_chain(rec.source, tls) {
            match server_key
                .as_ref()
                .and_then(|k| self.answer(k).map(|a| (k, a)))
            {
                Some((key, (i, a))) if !a.chain.is_empty() => {
                    tls.server_chain = a.chain.clone();
                    let mut source = chain_source(key, a);
                    source.matches_wire = self
                        .wire_leaves
                        .get(&key.addr)
                        .map(|leaf| a.chain.first().is_some_and(|c| &c.sha256 == leaf));
                    e.server_chain_source = Some(source);
                    run.flows_enriched += 1;
                    if let Some(c) = counts.get_mut(i) {
                        *c += 1;
                    }
                }
                Some((_, (_, a))) => {
                    e.server_error = Some(error_kind(&a.mirrored));
                    run.flows_not_enriched += 1;
                }
                None => {
                    e.server_error = Some(match &self.error {
                        Some(err) => format!("io: no handshake runtime: {err}"),
                        None => "over-limit".into(),
                    });
                    run.flows_not_enriched += 1;
                }
            }
        }
        if let Some(key) = client_key
            && let Some((i, a)) = self.answer(key)
            && !a.chain.is_empty()
        {
            e.client_identity = Some(InferredIdentity {
                evidence: "inferred".into(),
                basis: "client-listener".into(),
                source: chain_source(key, a),
                chain: a.chain.clone(),
            });
            run.client_identities += 1;
            if let Some(c) = counts.get_mut(i) {
                *c += 1;
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
                self.flows_over_held += 1;
            }
            self.inner.flow(id, record);
            return;
        }
        if let Some(k) = key.filter(|_| server) {
            self.ask(&k);
        }
        self.held.push((id, record));
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

fn chain_source(key: &EndpointKey, a: &Answer) -> ChainSource {
    ChainSource {
        source: "probe".into(),
        obtained_at: crate::verify::format_time(a.mirrored.finished.unix_timestamp()),
        endpoint: key.addr.to_string(),
        sni: key.sni.clone(),
        alpn_offered: key.alpn.clone(),
        version: a.mirrored.version.map(version_name),
        matches_wire: None,
    }
}

fn error_kind(m: &Mirrored) -> String {
    match &m.error {
        Some(e) => format!("{}: {e}", e.kind()),
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
        flows,
        error: a.chain.is_empty().then(|| error_kind(&a.mirrored)),
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
}
