//! Prometheus metrics for the agent that keeps running (a sidecar or a
//! node agent): flows by protection, by key-exchange group, certificate
//! expiry, libpcap's drops.
//! Label values come off the wire, so they are escaped and cut short, and
//! the number of certificate series is bounded.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::Progress;
use crate::capture::Nanos;
use crate::engine::{FlowOpened, FlowSink};
use crate::report::model::FlowRecord;

/// Certificate series kept; past it the one seen longest ago is dropped.
const MAX_CERT_SERIES: usize = 1000;

/// Longest label value written (wire strings can be long).
const MAX_LABEL: usize = 200;

/// Counters shared between the capture loop and the HTTP endpoint.
#[derive(Clone, Default)]
pub struct Metrics {
    inner: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    flows: BTreeMap<(String, &'static str, String), u64>,
    /// TLS flows by (key-exchange group, post-quantum, version): the group
    /// label is a registered name or a fixed word, so it stays bounded.
    key_exchange: BTreeMap<(&'static str, &'static str, String), u64>,
    certs: HashMap<String, CertSeries>,
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

impl Metrics {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        match self.inner.lock() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        }
    }

    /// Count a finished flow and remember its leaf certificates' expiry.
    pub fn record_flow(&self, f: &FlowRecord) {
        let mut s = self.state();
        let tls = f.tls.as_deref();
        let mutual = match tls.and_then(|t| t.mutual) {
            Some(true) => "yes",
            Some(false) => "no",
            None if tls.is_some() => "unknown",
            None => "",
        };
        let version = tls.and_then(|t| t.version.clone()).unwrap_or_default();
        if let Some(k) = tls.and_then(|t| t.key_exchange.as_ref()) {
            *s.key_exchange
                .entry((kex_label(k), yes_no(k.post_quantum), version.clone()))
                .or_default() += 1;
        }
        *s.flows
            .entry((f.protection.clone(), mutual, version))
            .or_default() += 1;
        let Some(t) = tls else { return };
        let server = format!("{}:{}", f.server.ip, f.server.port);
        for (role, chain) in [("server", &t.server_chain), ("client", &t.client_chain)] {
            if let Some(leaf) = chain.first() {
                s.cert(role, leaf, &server);
            }
        }
    }

    /// The capture loop's counters.
    pub fn record_progress(&self, p: &Progress) {
        self.state().progress = *p;
    }

    /// The metrics in Prometheus text exposition format, certificate
    /// expiry counted from `now`.
    pub fn render(&self, now: Nanos) -> String {
        let s = self.state();
        let now_secs = now.div_euclid(1_000_000_000);
        let mut out = String::new();
        family(
            &mut out,
            "tls_audit_flows_total",
            "counter",
            "Flows finished, by protection, mutual TLS (yes/no/unknown; empty when not TLS) and TLS version.",
        );
        for ((protection, mutual, version), n) in &s.flows {
            let _ = writeln!(
                out,
                "tls_audit_flows_total{{protection=\"{}\",mutual=\"{}\",version=\"{}\"}} {n}",
                label(protection),
                mutual,
                label(version)
            );
        }
        family(
            &mut out,
            "tls_audit_key_exchange_flows_total",
            "counter",
            "TLS flows finished, by negotiated key-exchange group (IANA name; rsa, dhe, psk... without a named group; other: unregistered; empty: not seen), post-quantum (yes/no/unknown) and TLS version.",
        );
        for ((group, pq, version), n) in &s.key_exchange {
            let _ = writeln!(
                out,
                "tls_audit_key_exchange_flows_total{{group=\"{group}\",post_quantum=\"{pq}\",version=\"{}\"}} {n}",
                label(version)
            );
        }
        family(
            &mut out,
            "tls_audit_cert_expiry_seconds",
            "gauge",
            "Seconds until a leaf certificate seen on the wire expires (negative: expired).",
        );
        let mut certs: Vec<(&String, &CertSeries)> = s.certs.iter().collect();
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
                c.not_after - now_secs
            );
        }
        let p = s.progress;
        let counters: [(&str, &str, &str, String); 6] = [
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
                "Certificate expiry series kept (at most 1000).",
                s.certs.len().to_string(),
            ),
        ];
        for (name, kind, help, value) in counters {
            family(&mut out, name, kind, help);
            let _ = writeln!(out, "{name} {value}");
        }
        out
    }
}

impl State {
    fn cert(&mut self, role: &'static str, c: &crate::x509::Certificate, server: &str) {
        let Some(not_after) = c.not_after.as_deref().and_then(|t| {
            time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
        }) else {
            return;
        };
        self.cert_clock += 1;
        let seen = self.cert_clock;
        if !self.certs.contains_key(&c.sha256) && self.certs.len() >= MAX_CERT_SERIES {
            let oldest = self
                .certs
                .iter()
                .min_by_key(|(_, s)| s.seen)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                self.certs.remove(&k);
            }
        }
        self.certs.insert(
            c.sha256.clone(),
            CertSeries {
                role,
                subject: c.subject.clone().unwrap_or_default(),
                spiffe_id: c.spiffe_id.clone().unwrap_or_default(),
                server: server.to_string(),
                not_after: not_after.unix_timestamp(),
                seen,
            },
        );
    }
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

/// A sink that counts flows into `metrics` and passes them on.
pub struct MetricsSink<S> {
    /// The metrics.
    pub metrics: Metrics,
    /// Where records go next.
    pub inner: S,
}

impl<S: FlowSink> FlowSink for MetricsSink<S> {
    fn flow(&mut self, id: u64, record: FlowRecord) {
        self.metrics.record_flow(&record);
        self.inner.flow(id, record);
    }

    fn wants_progress(&self) -> bool {
        self.inner.wants_progress()
    }

    fn opened(&mut self, id: u64, opened: &FlowOpened) {
        self.inner.opened(id, opened);
    }

    fn decided(&mut self, id: u64, record: &FlowRecord) {
        self.inner.decided(id, record);
    }
}

/// Serve `GET /metrics` on `addr` from a background thread; returns the
/// bound address (port 0 picks one). Requests are read with a deadline and
/// a size bound; anything but `GET /metrics` gets a 404.
pub fn serve_metrics(addr: SocketAddr, metrics: Metrics) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr)?;
    let bound = listener.local_addr()?;
    std::thread::Builder::new()
        .name("metrics".into())
        .spawn(move || {
            for conn in listener.incoming().flatten() {
                let _ = answer(conn, &metrics);
            }
        })?;
    Ok(bound)
}

fn answer(mut conn: TcpStream, metrics: &Metrics) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(2)))?;
    conn.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut buf = [0u8; 4096];
    let mut len = 0;
    while len < buf.len() {
        let n = conn.read(&mut buf[len..])?;
        if n == 0 {
            break;
        }
        len += n;
        if buf[..len].windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    let request = String::from_utf8_lossy(&buf[..len]);
    let first = request.lines().next().unwrap_or("");
    let mut parts = first.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (status, body) = if method == "GET" && (path == "/metrics" || path.starts_with("/metrics?"))
    {
        ("200 OK", metrics.render(super::wall_clock()))
    } else {
        ("404 Not Found", "not found: try GET /metrics\n".to_string())
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes())?;
    conn.write_all(body.as_bytes())?;
    conn.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped_and_bounded() {
        assert_eq!(label("a\"b\\c\nd\x07e"), "a\\\"b\\\\c\\nde");
        assert_eq!(label(&"x".repeat(500)).len(), MAX_LABEL);
    }

    #[test]
    fn key_exchange_labels_are_bounded() {
        use crate::report::model::KeyExchangeRecord;
        let k = |group: Option<&str>, method: Option<&str>| KeyExchangeRecord {
            group: group.map(String::from),
            method: method.map(String::from),
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
            "role_source": "syn", "first_seen": "x", "last_seen": "y", "packets": 1, "bytes": 1,
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
}
