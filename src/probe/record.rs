//! Probe results as report records: a `flows[]` record (`"source":
//! "probe"`) for each connection that got an answer worth judging, so the
//! verifier's rules apply to it as to a captured flow.

use std::net::SocketAddr;
use std::sync::Arc;

use rustls::pki_types::CertificateDer;

use super::tls::ALPN;
use crate::model::time::CaptureTime;
use crate::model::{Protection, RoleSource, Transport};
use crate::report::model::{AlertRecord, Endpoint, FlowRecord, FlowSource, FlowTls};
use crate::tls::names::{cipher_suite_name, version_name};
use crate::x509::Certificate;

/// RFC 3339 with microseconds, as capture records write times.
pub(crate) fn rfc3339(t: time::OffsetDateTime) -> String {
    capture_time(t).to_string()
}

/// A connection's time as a flow record carries it.
pub(crate) fn capture_time(t: time::OffsetDateTime) -> CaptureTime {
    CaptureTime::from_nanos(i64::try_from(t.unix_timestamp_nanos()).unwrap_or(i64::MAX))
}

/// Times and sizes of one connection.
pub(crate) struct Conn {
    pub local: Option<SocketAddr>,
    pub server: SocketAddr,
    pub started: time::OffsetDateTime,
    pub finished: time::OffsetDateTime,
    pub bytes: u64,
}

/// A flow record for one probe connection.
pub(crate) fn flow(c: &Conn, protection: Protection, app: Option<&str>) -> FlowRecord {
    let ep = |a: Option<SocketAddr>| Endpoint {
        ip: a.map_or_else(|| "0.0.0.0".to_string(), |a| a.ip().to_string()),
        port: a.map_or(0, |a| a.port()),
        pod: None,
        node: None,
        service: None,
    };
    FlowRecord {
        source: FlowSource::Probe,
        transport: Transport::Tcp,
        client: ep(c.local),
        server: ep(Some(c.server)),
        role_source: RoleSource::Probe,
        first_seen: capture_time(c.started),
        last_seen: capture_time(c.finished),
        packets: 0,
        bytes: c.bytes,
        protection,
        app_protocol: app.map(|a| a.to_string().into()),
        tls: None,
        tcp: None,
        inside: None,
        ended_by: None,
        truncated: false,
    }
}

/// The facts of a probe handshake (complete, or read up to the ServerHello).
pub(crate) struct TlsFacts<'a> {
    pub version: u16,
    pub cipher: Option<u16>,
    pub sni: Option<&'a str>,
    pub alpn: Option<&'a [u8]>,
    pub server_chain: &'a [CertificateDer<'static>],
    pub client_chain: &'a [CertificateDer<'static>],
    pub requested: Option<bool>,
    /// (mutual, evidence or unknown-reason).
    pub mutual: (Option<bool>, &'static str),
    pub alert: Option<u8>,
    pub note: String,
}

/// The `tls` object of a probe flow.
pub(crate) fn tls_record(f: &TlsFacts<'_>) -> FlowTls {
    let certs = |chain: &[CertificateDer<'static>]| -> Vec<Arc<Certificate>> {
        chain
            .iter()
            .map(|der| {
                Arc::new(Certificate {
                    der: Some(Arc::from(der.as_ref())),
                    ..Certificate::from_der(der)
                })
            })
            .collect()
    };
    let (mutual, basis) = f.mutual;
    FlowTls {
        handshake_seen: true,
        version: Some(version_name(f.version)),
        cipher_suite: f.cipher.map(cipher_suite_name),
        sni: f.sni.map(str::to_string),
        alpn_offered: ALPN.iter().map(|p| p.to_string()).collect(),
        alpn: f.alpn.map(|p| String::from_utf8_lossy(p).into_owned()),
        resumed: Some(false),
        client_cert_requested: f.requested,
        mutual,
        mutual_evidence: mutual.is_some().then(|| basis.to_string().into()),
        mutual_unknown_reason: mutual.is_none().then(|| basis.to_string().into()),
        mutual_inference: None,
        server_chain: certs(f.server_chain),
        client_chain: certs(f.client_chain),
        certificates_encrypted: false,
        certificates_unread: None,
        ja4: None,
        versions_offered: vec![version_name(f.version)],
        hello_retry_request: false,
        starttls: false,
        alerts: f
            .alert
            .map(|d| AlertRecord {
                from: Some("server".into()),
                level: "fatal".into(),
                description: d,
            })
            .into_iter()
            .collect(),
        record_version: None,
        notes: vec![f.note.clone()],
        decryption: None,
        enrichment: None,
        key_exchange: None,
    }
}
