//! Prometheus metrics for the agent that keeps running (a sidecar or a
//! node agent): flows by protection and by key-exchange group, findings by rule, certificate expiry
//! by workload identity, libpcap's drops. Label values come off the wire,
//! so every label is either from a closed set (versions outside the known
//! ones are `other`) or escaped, cut short and counted against a bound on
//! series. The HTTP side is in `server`.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use super::Progress;
use crate::capture::Nanos;
use crate::engine::FlowSink;
use crate::report::model::{Endpoint, FlowRecord, Severity};
use crate::verify::Verifier;

mod server;
pub use server::{MetricsServer, serve_metrics};

/// Certificate series kept (per family); past it the one seen longest ago
/// is dropped.
const MAX_CERT_SERIES: usize = 1000;

/// Longest label value written (wire strings can be long).
const MAX_LABEL: usize = 200;

/// TLS versions with a series of their own; anything else is `other`
/// (the version comes off the wire: 65,536 values, and more drafts).
const VERSIONS: [&str; 7] = [
    "SSL2.0", "SSL3.0", "TLS1.0", "TLS1.1", "TLS1.2", "TLS1.3", "",
];

/// Counters shared between the capture loop and the HTTP endpoint.
#[derive(Clone, Default)]
pub struct Metrics {
    inner: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    flows: BTreeMap<(String, &'static str, &'static str), u64>,
    /// TLS flows by (key-exchange group, post-quantum, version): the group
    /// label is a registered name or a fixed word, so it stays bounded.
    key_exchange: BTreeMap<(&'static str, &'static str, &'static str), u64>,
    /// Deprecated family, by certificate (churns with every rotation).
    certs: HashMap<String, CertSeries>,
    /// By identity: (role, identity, namespace, pod).
    identities: HashMap<(&'static str, String, String, String), IdentitySeries>,
    findings: BTreeMap<(&'static str, &'static str), u64>,
    /// Flows to the agent's own metrics endpoint: counted apart.
    own_flows: u64,
    /// The agent's own endpoint: port, and the addresses it answers on
    /// (empty: every local address).
    own: Option<(u16, Vec<IpAddr>)>,
    cert_clock: u64,
    progress: Progress,
}

struct CertSeries {
    role: &'static str,
    subject: String,
    spiffe_id: String,
    server: String,
    not_after: i64,
    seen: u64,
}

struct IdentitySeries {
    not_after: i64,
    seen: u64,
}

impl Metrics {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        match self.inner.lock() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        }
    }

    /// The agent's own metrics endpoint: flows to `port` on one of `addrs`
    /// (every local address when the endpoint listens on all) are its own
    /// scrapes, counted apart, never as findings.
    pub fn set_own_endpoint(&self, port: u16, addrs: Vec<IpAddr>) {
        self.state().own = Some((port, addrs));
    }

    /// Whether a flow's server is the agent's own metrics endpoint.
    pub fn is_own(&self, server: &Endpoint) -> bool {
        self.state().is_own(server)
    }

    /// Count a finished flow and remember its leaf certificates' expiry.
    pub fn record_flow(&self, f: &FlowRecord) {
        let mut s = self.state();
        if s.is_own(&f.server) {
            s.own_flows += 1;
            return;
        }
        let tls = f.tls.as_deref();
        let mutual = match tls.and_then(|t| t.mutual) {
            Some(true) => "yes",
            Some(false) => "no",
            None if tls.is_some() => "unknown",
            None => "",
        };
        let version = tls.and_then(|t| t.version.as_deref()).unwrap_or_default();
        let version = VERSIONS
            .iter()
            .find(|v| **v == version)
            .copied()
            .unwrap_or("other");
        if let Some(k) = tls.and_then(|t| t.key_exchange.as_ref()) {
            *s.key_exchange
                .entry((kex_label(k), yes_no(k.post_quantum), version))
                .or_default() += 1;
        }
        *s.flows
            .entry((f.protection.to_string(), mutual, version))
            .or_default() += 1;
        let Some(t) = tls else { return };
        let server = format!("{}:{}", f.server.ip, f.server.port);
        for (role, chain, end) in [
            ("server", &t.server_chain, &f.server),
            ("client", &t.client_chain, &f.client),
        ] {
            if let Some(leaf) = chain.first() {
                s.cert(role, leaf, &server);
                s.identity(role, leaf, end);
            }
        }
    }

    /// Count the rules a flow broke (`Verifier::flow`'s answer).
    pub fn record_findings(&self, broken: &[(&'static str, Severity)]) {
        let mut s = self.state();
        for (rule, severity) in broken {
            *s.findings.entry((rule, severity.as_str())).or_default() += 1;
        }
    }

    /// The capture loop's counters.
    pub fn record_progress(&self, p: &Progress) {
        self.state().progress = *p;
    }

    /// The metrics in Prometheus text exposition format (0.0.4).
    pub fn render(&self, now: Nanos) -> String {
        let s = self.state();
        let mut out = String::new();
        build_info(&mut out);
        s.write_flows(&mut out);
        s.write_findings(&mut out);
        s.write_identities(&mut out);
        s.write_key_exchange(&mut out);
        s.write_certs(&mut out, now.div_euclid(1_000_000_000));
        s.write_counters(&mut out);
        out
    }
}

/// The build-info family: the agent's version.
fn build_info(out: &mut String) {
    family(
        out,
        "tls_audit_build_info",
        "gauge",
        "Always 1; the agent's version in a label.",
    );
    let _ = writeln!(
        out,
        "tls_audit_build_info{{version=\"{}\"}} 1",
        label(env!("CARGO_PKG_VERSION"))
    );
}

/// The families written from the state, one method each, in the order
/// of the exposition.
impl State {
    fn write_flows(&self, out: &mut String) {
        family(
            out,
            "tls_audit_flows_total",
            "counter",
            "Flows finished, by protection, mutual TLS (yes/no/unknown; empty when not TLS) and TLS version (other: none of the known ones). The agent's own metrics scrapes are not counted here.",
        );
        for ((protection, mutual, version), n) in &self.flows {
            let _ = writeln!(
                out,
                "tls_audit_flows_total{{protection=\"{}\",mutual=\"{}\",version=\"{}\"}} {n}",
                label(protection),
                mutual,
                version
            );
        }
    }

    fn write_findings(&self, out: &mut String) {
        family(
            out,
            "tls_audit_findings_total",
            "counter",
            "Flows that broke a rule, by rule id and severity under the agent's policy (before waivers).",
        );
        for ((rule, severity), n) in &self.findings {
            let _ = writeln!(
                out,
                "tls_audit_findings_total{{rule=\"{rule}\",severity=\"{severity}\"}} {n}"
            );
        }
    }

    fn write_identities(&self, out: &mut String) {
        family(
            out,
            "tls_audit_cert_expiry_timestamp_seconds",
            "gauge",
            "When the leaf certificate last seen for a workload identity expires (Unix seconds), by role, identity (the SPIFFE ID, else the subject) and the pod's namespace and name when the agent knows them.",
        );
        let mut ids: Vec<_> = self.identities.iter().collect();
        ids.sort_by(|a, b| a.0.cmp(b.0));
        for ((role, identity, namespace, pod), c) in ids {
            let _ = writeln!(
                out,
                "tls_audit_cert_expiry_timestamp_seconds{{role=\"{role}\",identity=\"{}\",namespace=\"{}\",pod=\"{}\"}} {}",
                label(identity),
                label(namespace),
                label(pod),
                c.not_after
            );
        }
    }

    fn write_key_exchange(&self, out: &mut String) {
        family(
            out,
            "tls_audit_key_exchange_flows_total",
            "counter",
            "TLS flows finished, by negotiated key-exchange group (IANA name; rsa, dhe, psk... without a named group; other: unregistered; empty: not seen), post-quantum (yes/no/unknown) and TLS version.",
        );
        for ((group, pq, version), n) in &self.key_exchange {
            let _ = writeln!(
                out,
                "tls_audit_key_exchange_flows_total{{group=\"{group}\",post_quantum=\"{pq}\",version=\"{}\"}} {n}",
                label(version)
            );
        }
    }

    /// The deprecated per-certificate family, relative to `now_secs`.
    fn write_certs(&self, out: &mut String, now_secs: i64) {
        family(
            out,
            "tls_audit_cert_expiry_seconds",
            "gauge",
            "DEPRECATED (removed in the next release; use tls_audit_cert_expiry_timestamp_seconds): seconds until a leaf certificate seen on the wire expires (negative: expired).",
        );
        let mut certs: Vec<(&String, &CertSeries)> = self.certs.iter().collect();
        certs.sort_by(|a, b| a.0.cmp(b.0));
        for (sha256, c) in certs {
            let _ = writeln!(
                out,
                "tls_audit_cert_expiry_seconds{{role=\"{}\",subject=\"{}\",spiffe_id=\"{}\",server=\"{}\",sha256=\"{}\"}} {}",
                c.role,
                label(&c.subject),
                label(&c.spiffe_id),
                label(&c.server),
                label(sha256),
                c.not_after.saturating_sub(now_secs)
            );
        }
    }

    /// The single-value families: the capture loop's counters and the
    /// series bound.
    fn write_counters(&self, out: &mut String) {
        let p = self.progress;
        let counters: [(&str, &str, &str, String); 7] = [
            (
                "tls_audit_packets_received_total",
                "counter",
                "Packets libpcap received after the filter.",
                p.received.to_string(),
            ),
            (
                "tls_audit_packets_dropped_total",
                "counter",
                "Packets libpcap dropped because its buffer was full.",
                p.dropped.to_string(),
            ),
            (
                "tls_audit_packets_if_dropped_total",
                "counter",
                "Packets the interface or driver dropped.",
                p.if_dropped.to_string(),
            ),
            (
                "tls_audit_packets_analysed_total",
                "counter",
                "Packets the engine analysed.",
                p.packets.to_string(),
            ),
            (
                "tls_audit_active_flows",
                "gauge",
                "Flows being tracked now.",
                p.active_flows.to_string(),
            ),
            (
                "tls_audit_cert_series",
                "gauge",
                "Certificate expiry series kept per family (at most 1000).",
                self.identities.len().max(self.certs.len()).to_string(),
            ),
            (
                "tls_audit_own_scrapes_total",
                "counter",
                "Flows to the agent's own metrics endpoint (not audited).",
                self.own_flows.to_string(),
            ),
        ];
        for (name, kind, help, value) in counters {
            family(out, name, kind, help);
            let _ = writeln!(out, "{name} {value}");
        }
    }
}

impl State {
    fn is_own(&self, server: &Endpoint) -> bool {
        let Some((port, addrs)) = &self.own else {
            return false;
        };
        server.port == *port
            && server
                .ip
                .parse::<IpAddr>()
                .is_ok_and(|ip| addrs.is_empty() || addrs.contains(&ip))
    }

    fn cert(&mut self, role: &'static str, c: &crate::x509::Certificate, server: &str) {
        let Some(not_after) = c
            .not_after_unix
            .or_else(|| parse_rfc3339(c.not_after.as_deref()))
        else {
            return;
        };
        self.cert_clock += 1;
        let seen = self.cert_clock;
        if !self.certs.contains_key(&c.sha256) && self.certs.len() >= MAX_CERT_SERIES {
            evict_oldest(&mut self.certs, |s| s.seen);
        }
        self.certs.insert(
            c.sha256.clone(),
            CertSeries {
                role,
                subject: c.subject.clone().unwrap_or_default(),
                spiffe_id: c.spiffe_id.clone().unwrap_or_default(),
                server: server.to_string(),
                not_after,
                seen,
            },
        );
    }

    /// The identity's series: a rotated certificate (same SPIFFE ID or
    /// subject) replaces its predecessor instead of adding a series.
    fn identity(&mut self, role: &'static str, c: &crate::x509::Certificate, end: &Endpoint) {
        let Some(not_after) = c
            .not_after_unix
            .or_else(|| parse_rfc3339(c.not_after.as_deref()))
        else {
            return;
        };
        let identity = c
            .spiffe_id
            .clone()
            .or_else(|| c.subject.clone())
            .unwrap_or_default();
        let (namespace, pod) = end
            .pod
            .as_ref()
            .map(|p| (p.namespace.clone(), p.name.clone()))
            .unwrap_or_default();
        let key = (role, cut(&identity), cut(&namespace), cut(&pod));
        let seen = self.cert_clock;
        if !self.identities.contains_key(&key) && self.identities.len() >= MAX_CERT_SERIES {
            evict_oldest(&mut self.identities, |s| s.seen);
        }
        self.identities
            .insert(key, IdentitySeries { not_after, seen });
    }
}

fn parse_rfc3339(t: Option<&str>) -> Option<i64> {
    let t = time::OffsetDateTime::parse(t?, &time::format_description::well_known::Rfc3339).ok()?;
    Some(t.unix_timestamp())
}

/// Drop the series seen longest ago.
fn evict_oldest<K: Clone + Eq + std::hash::Hash, V>(
    m: &mut HashMap<K, V>,
    seen: impl Fn(&V) -> u64,
) {
    let oldest = m
        .iter()
        .min_by_key(|(_, v)| seen(v))
        .map(|(k, _)| k.clone());
    if let Some(k) = oldest {
        m.remove(&k);
    }
}

/// A key string cut to the label bound, so a long wire value cannot make
/// a key (and its memory) larger than what is shown.
fn cut(v: &str) -> String {
    v.chars().take(MAX_LABEL).collect()
}

/// A bounded label for a key exchange: a registered group's name, the
/// method when there is no group, `other` for an unregistered group.
fn kex_label(k: &crate::report::model::KeyExchangeRecord) -> &'static str {
    if let Some(g) = k.group.as_deref() {
        return crate::tls::kex::group_by_name(g).map_or("other", |g| g.name);
    }
    match k.method.as_deref() {
        Some("rsa") => "rsa",
        Some("dhe") => "dhe",
        Some("ecdhe") => "ecdhe",
        Some("static-dh") => "static-dh",
        Some("psk") => "psk",
        Some(_) => "other",
        None => "",
    }
}

fn yes_no(b: Option<bool>) -> &'static str {
    match b {
        Some(true) => "yes",
        Some(false) => "no",
        None => "unknown",
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// A label value as Prometheus reads it: backslash, quote and newline
/// escaped, control characters dropped, cut to `MAX_LABEL` characters.
fn label(v: &str) -> String {
    let mut out = String::with_capacity(v.len().min(MAX_LABEL));
    for ch in v.chars().take(MAX_LABEL) {
        match ch {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A sink that counts flows into `metrics` and passes them on; with a
/// verifier, it also counts the rules each flow broke.
pub struct MetricsSink<S> {
    /// The metrics.
    pub metrics: Metrics,
    /// Judges flows for `tls_audit_findings_total` (the agent's policy).
    pub judge: Option<Verifier>,
    /// Where records go next.
    pub inner: S,
}

impl<S: FlowSink> FlowSink for MetricsSink<S> {
    fn flow(&mut self, id: u64, record: FlowRecord) {
        match &mut self.judge {
            // Judged on a copy: the verifier also names the pods (for the
            // namespace and pod labels) from the agent's `--pods`.
            Some(v) if !self.metrics.is_own(&record.server) => {
                let mut judged = record.clone();
                let broken = v.flow(&mut judged);
                self.metrics.record_findings(&broken);
                self.metrics.record_flow(&judged);
            }
            _ => self.metrics.record_flow(&record),
        }
        self.inner.flow(id, record);
    }

    fn inner(&self) -> Option<&dyn FlowSink> {
        Some(&self.inner)
    }

    fn inner_mut(&mut self) -> Option<&mut dyn FlowSink> {
        Some(&mut self.inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What reached the end of a chain of sinks.
    #[derive(Default)]
    struct Heard {
        opened: Vec<u64>,
        ticks: u32,
    }

    impl FlowSink for Heard {
        fn flow(&mut self, _id: u64, _record: FlowRecord) {}

        fn wants_progress(&self) -> bool {
            true
        }

        fn opened(&mut self, id: u64, _opened: &crate::engine::FlowOpened) {
            self.opened.push(id);
        }

        fn tick(&mut self) {
            self.ticks += 1;
        }
    }

    /// The metrics sink states only `flow`: the rest reaches its inner sink
    /// through `FlowSink`'s defaults.
    #[test]
    fn the_metrics_sink_passes_progress_on() {
        let mut s = MetricsSink {
            metrics: Metrics::default(),
            judge: None,
            inner: Heard::default(),
        };
        assert!(s.wants_progress());
        let at = std::net::SocketAddr::from(([10, 0, 0, 1], 443));
        let opened = crate::engine::FlowOpened {
            transport: "tcp",
            src: at,
            dst: at,
            ts: 0,
        };
        s.opened(7, &opened);
        s.tick();
        s.tick();
        assert_eq!((s.inner.opened.as_slice(), s.inner.ticks), (&[7][..], 2));
        let end = MetricsSink {
            metrics: Metrics::default(),
            judge: None,
            inner: crate::engine::MemorySink::default(),
        };
        assert!(!end.wants_progress());
    }

    #[test]
    fn label_values_are_escaped_and_bounded() {
        assert_eq!(label("a\"b\\c\nd\x07e"), "a\\\"b\\\\c\\nde");
        assert_eq!(label(&"x".repeat(500)).len(), MAX_LABEL);
    }

    #[test]
    fn key_exchange_labels_are_bounded() {
        use crate::report::model::KeyExchangeRecord;
        let k = |group: Option<&str>, method: Option<&str>| KeyExchangeRecord {
            group: group.map(|g| g.to_string().into()),
            method: method.map(|m| m.to_string().into()),
            ..KeyExchangeRecord::default()
        };
        assert_eq!(
            kex_label(&k(Some("X25519MLKEM768"), Some("hybrid"))),
            "X25519MLKEM768"
        );
        assert_eq!(kex_label(&k(Some("0xbeef"), Some("other"))), "other");
        assert_eq!(kex_label(&k(Some("a\"b"), None)), "other");
        assert_eq!(kex_label(&k(None, Some("rsa"))), "rsa");
        assert_eq!(kex_label(&k(None, Some("made-up"))), "other");
        assert_eq!(kex_label(&k(None, None)), "");
        let m = Metrics::default();
        let mut f: FlowRecord = serde_json::from_value(serde_json::json!({
            "transport": "tcp", "client": {"ip": "10.0.0.1", "port": 1}, "server": {"ip": "10.0.0.2", "port": 443},
            "role_source": "syn", "first_seen": "2026-11-27T11:00:00.000000Z", "last_seen": "2026-11-27T11:00:01.000000Z", "packets": 1, "bytes": 1,
            "protection": "tls", "app_protocol": null, "tcp": null, "inside": null, "ended_by": null, "truncated": false,
            "tls": {"handshake_seen": true, "version": "TLS1.3", "cipher_suite": null, "sni": null, "alpn_offered": [],
              "alpn": null, "resumed": null, "client_cert_requested": null, "mutual": null, "mutual_evidence": null,
              "mutual_unknown_reason": null, "mutual_inference": null, "server_chain": [], "client_chain": [],
              "certificates_encrypted": true, "ja4": null, "versions_offered": [],
              "hello_retry_request": false, "starttls": false, "alerts": [], "record_version": null, "notes": []}
        }))
        .unwrap();
        if let Some(t) = f.tls.as_deref_mut() {
            t.key_exchange = Some(KeyExchangeRecord {
                post_quantum: Some(true),
                ..k(Some("X25519MLKEM768"), Some("hybrid"))
            });
        }
        m.record_flow(&f);
        m.record_flow(&f);
        assert!(m.render(0).contains(
            "tls_audit_key_exchange_flows_total{group=\"X25519MLKEM768\",post_quantum=\"yes\",version=\"TLS1.3\"} 2"
        ));
    }

    #[test]
    fn certificate_series_are_bounded() {
        let m = Metrics::default();
        let mut s = m.state();
        for i in 0..(MAX_CERT_SERIES + 50) {
            let mut c = crate::x509::Certificate::from_der(&i.to_be_bytes());
            c.sha256 = format!("{i:064x}");
            c.not_after = Some("2030-01-01T00:00:00Z".into());
            s.cert("server", &c, "10.0.0.1:443");
        }
        assert_eq!(s.certs.len(), MAX_CERT_SERIES);
        // The first ones seen went first.
        assert!(!s.certs.contains_key(&format!("{:064x}", 0)));
        assert!(
            s.certs
                .contains_key(&format!("{:064x}", MAX_CERT_SERIES + 49))
        );
    }

    fn fixture_flows() -> Vec<FlowRecord> {
        let path = format!(
            "{}/fixtures/captures/openssl-tls12-mutual.pcap",
            env!("CARGO_MANIFEST_DIR")
        );
        crate::engine::analyze_files(&[path.as_str()], &Default::default())
            .expect("fixture")
            .flows
    }

    /// Issue 22 item 7: the version label came from the wire (`0x%04x`):
    /// 57,818 series from one replayed capture. Unknown versions are `other`.
    #[test]
    fn wire_versions_do_not_make_series() {
        let m = Metrics::default();
        let mut f = fixture_flows().remove(0);
        for v in 0..10_000u32 {
            if let Some(t) = f.tls.as_deref_mut() {
                t.version = Some(format!("TLS1.3-0x{v:04x}").into());
            }
            m.record_flow(&f);
        }
        let s = m.state();
        assert_eq!(s.flows.len(), 1, "{:?}", s.flows.keys().collect::<Vec<_>>());
        assert!(s.flows.keys().all(|k| k.2 == "other"));
    }

    /// Issue 17 item 8: a rotated certificate (a new one for the same
    /// SPIFFE ID or subject) replaces its identity's series.
    #[test]
    fn rotation_keeps_one_identity_series() {
        let m = Metrics::default();
        let mut f = fixture_flows().remove(0);
        for day in 0..30i64 {
            if let Some(t) = f.tls.as_deref_mut() {
                let mut leaf = (*t.server_chain[0]).clone();
                leaf.sha256 = format!("{day:064x}");
                leaf.not_after_unix = Some(1_900_000_000 + day * 86_400);
                t.server_chain[0] = std::sync::Arc::new(leaf);
            }
            m.record_flow(&f);
        }
        let s = m.state();
        let servers = s.identities.keys().filter(|k| k.0 == "server").count();
        assert_eq!(servers, 1);
        let latest = s
            .identities
            .iter()
            .find(|(k, _)| k.0 == "server")
            .unwrap()
            .1;
        assert_eq!(latest.not_after, 1_900_000_000 + 29 * 86_400);
        // The deprecated family still has one series per certificate.
        assert!(s.certs.len() >= 30);
    }

    /// Flows to the agent's own endpoint are counted apart.
    #[test]
    fn own_scrapes_are_not_audited() {
        let m = Metrics::default();
        let f = fixture_flows().remove(0);
        let ip: IpAddr = f.server.ip.parse().unwrap();
        m.set_own_endpoint(f.server.port, vec![ip]);
        m.record_flow(&f);
        let s = m.state();
        assert!(s.flows.is_empty());
        assert_eq!(s.own_flows, 1);
    }

    /// Issue 17 item 8: the exposition passes `promtool check metrics`
    /// (Prometheus's own linter; Debian package `prometheus`).
    #[test]
    fn exposition_passes_promtool() {
        let m = Metrics::default();
        let mut v = Verifier::new(crate::verify::Policy::default(), None, None, 0);
        for mut f in fixture_flows() {
            m.record_flow(&f);
            let broken = v.flow(&mut f);
            m.record_findings(&broken);
        }
        m.record_findings(&[("TA-PLAINTEXT", Severity::High)]);
        let text = m.render(1_800_000_000 * 1_000_000_000);
        for family in [
            "tls_audit_build_info{version=",
            "tls_audit_cert_expiry_timestamp_seconds{role=\"server\",identity=",
            "tls_audit_findings_total{rule=\"TA-PLAINTEXT\",severity=\"high\"} 1",
            "tls_audit_flows_total{protection=\"tls\",mutual=\"yes\",version=\"TLS1.2\"}",
        ] {
            assert!(text.contains(family), "{family} missing:\n{text}");
        }
        let Ok(mut child) = std::process::Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
        else {
            eprintln!(
                "exposition_passes_promtool: skipped: promtool is not installed (scripts/install-deps.sh)"
            );
            return;
        };
        use std::io::Write as _;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success() && said.trim().is_empty(),
            "promtool: {said}\n{text}"
        );
    }
}
