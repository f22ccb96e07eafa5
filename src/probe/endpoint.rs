//! Everything asked of one endpoint, in order: TLS 1.3 and 1.2 handshakes
//! (rustls), legacy versions and weak suites (hand-built ClientHellos), a
//! plaintext request, and the mTLS handshake with the given identity.
//! The connections to one endpoint are made one after another: the
//! concurrency is across endpoints (see `probe_many`).

use std::net::SocketAddr;

use rustls::SupportedProtocolVersion;

use super::ProbeConfig;
use super::error::ProbeFailure;
use super::hellos::{add_hello_flow, hello_probe, weak_suites};
use super::legacy::{LEGACY_SUITES, SSL3, TLS10, TLS11, TLS12, TLS12_SUITES};
use super::record::{self, TlsFacts};
use super::target::Target;
use super::tls::{self, End, Handshake, alert_name};
use crate::model::Protection;
use crate::report::model::{
    ClientAuth, FlowRecord, IdentityProbe, PlaintextProbe, ProbeRecord, VersionProbe,
};
use crate::tls::names::{cipher_suite_name, version_name};
use crate::x509::name_from_der;

/// One endpoint's results.
#[derive(Debug, Clone)]
pub struct EndpointResult {
    /// The `probes[]` entry.
    pub record: ProbeRecord,
    /// Its `flows[]` records.
    pub flows: Vec<FlowRecord>,
}

/// Probe one endpoint.
pub async fn probe_endpoint(target: &Target, cfg: &ProbeConfig) -> EndpointResult {
    let clock = std::time::Instant::now();
    let mut out = EndpointResult {
        record: ProbeRecord {
            target: target.text.clone(),
            sni: target.sni().map(str::to_string),
            address: None,
            started: record::rfc3339(time::OffsetDateTime::now_utc()),
            duration_ms: 0,
            error: None,
            versions: Vec::new(),
            weak_suites: Vec::new(),
            client_auth: ClientAuth {
                policy: "unknown".into(),
                evidence: "no-tls-handshake".into(),
                ..ClientAuth::default()
            },
            plaintext: PlaintextProbe::default(),
            identity: None,
            groups: Vec::new(),
            pod: None,
        },
        flows: Vec::new(),
    };
    if let Err(e) = run(target, cfg, &mut out).await {
        out.record.error = Some(e.record());
    }
    // No version answered, and a connection failed (a reset mid-handshake):
    // the endpoint could not be probed, and the report says why.
    let full = || {
        out.record
            .versions
            .iter()
            .filter(|v| v.method == "handshake")
    };
    let answered = full().any(|v| v.accepted.is_some());
    if out.record.error.is_none() && !answered {
        out.record.error = full().find_map(|v| v.error.clone());
    }
    out.record.duration_ms = u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX);
    out
}

/// The steps; `Err` stops the endpoint (nothing listens, or no answer).
async fn run(
    target: &Target,
    cfg: &ProbeConfig,
    out: &mut EndpointResult,
) -> Result<(), ProbeFailure> {
    let addr = target.resolve(cfg.resolve_timeout).await?;
    out.record.address = Some(addr.to_string());
    let sni = target.sni();
    let full = full_handshakes(addr, sni, cfg, out).await?;
    if !full.iter().any(|h| h.version == Some(TLS12)) && !is_failure(out.record.versions.last()) {
        other_tls12_suites(addr, sni, cfg, out).await?;
    }
    if cfg.legacy {
        legacy_versions(addr, sni, cfg, out).await?;
        weak_suites(addr, sni, cfg, out).await?;
    }
    if cfg.groups && full.iter().any(|h| h.version == Some(0x0304)) {
        out.record.groups = super::groups::probe_groups(addr, sni, cfg).await?;
    }
    client_auth_of(addr, sni, &full, out);
    if cfg.plaintext {
        plaintext(addr, sni, cfg, out).await;
    }
    if let Some(id) = &cfg.identity {
        let version = full.first().and_then(|h| h.version);
        out.record.identity = Some(identity(addr, sni, cfg, id, version, out).await?);
    }
    Ok(())
}

/// TLS 1.3 and 1.2 handshakes with rustls, each version's answer recorded;
/// returns the handshakes that completed in the version asked for.
async fn full_handshakes(
    addr: SocketAddr,
    sni: Option<&str>,
    cfg: &ProbeConfig,
    out: &mut EndpointResult,
) -> Result<Vec<Handshake>, ProbeFailure> {
    let mut full: Vec<Handshake> = Vec::new();
    for v in [&rustls::version::TLS13, &rustls::version::TLS12] {
        let mut h = tls::handshake(addr, sni, v, None, cfg).await?;
        let wanted = u16::from(v.version);
        if is_timeout(&h.end) {
            // The one retry a timeout gets; a second means a server that
            // takes connections and never answers: stop there.
            h = tls::handshake(addr, sni, v, None, cfg).await?;
            if let End::Failed(e @ ProbeFailure::Timeout { .. }) = h.end {
                out.record.versions.push(VersionProbe {
                    version: version_name(wanted).into_owned(),
                    accepted: None,
                    method: "handshake".into(),
                    cipher_suite: None,
                    detail: None,
                    error: Some(e.record()),
                });
                return Err(e);
            }
        }
        out.record.versions.push(version_of_handshake(wanted, &h));
        if h.version == Some(wanted) {
            full.push(h);
        }
    }
    Ok(full)
}

/// rustls has only ECDHE+AEAD suites: the server may still speak TLS 1.2
/// with others. An acceptance replaces the TLS 1.2 answer.
async fn other_tls12_suites(
    addr: SocketAddr,
    sni: Option<&str>,
    cfg: &ProbeConfig,
    out: &mut EndpointResult,
) -> Result<(), ProbeFailure> {
    let (probe, ends) = hello_probe(addr, TLS12, TLS12_SUITES, sni, cfg).await?;
    if let Some(ends) = ends {
        add_hello_flow(
            out,
            ends,
            sni,
            &probe,
            "probe: TLS 1.2 accepted with a suite rustls does not offer; read up to the ServerHello",
        );
        if let Some(v) = out.record.versions.last_mut() {
            *v = probe;
        }
    }
    Ok(())
}

/// TLS 1.1, 1.0 and SSL 3.0 with hand-built ClientHellos.
async fn legacy_versions(
    addr: SocketAddr,
    sni: Option<&str>,
    cfg: &ProbeConfig,
    out: &mut EndpointResult,
) -> Result<(), ProbeFailure> {
    for v in [TLS11, TLS10, SSL3] {
        let (probe, ends) = hello_probe(addr, v, LEGACY_SUITES, sni, cfg).await?;
        if let Some(ends) = ends {
            add_hello_flow(
                out,
                ends,
                sni,
                &probe,
                "probe: legacy version accepted; read up to the ServerHello",
            );
        }
        out.record.versions.push(probe);
    }
    Ok(())
}

/// A flow per full handshake, and the client-certificate policy they show.
fn client_auth_of(
    addr: SocketAddr,
    sni: Option<&str>,
    full: &[Handshake],
    out: &mut EndpointResult,
) {
    let verdicts: Vec<(ClientAuth, &Handshake)> =
        full.iter().map(|h| (client_auth(h), h)).collect();
    for (auth, h) in &verdicts {
        out.flows.push(handshake_flow(addr, sni, h, auth, &[]));
    }
    if let Some((auth, _)) = pick(&verdicts) {
        out.record.client_auth = auth.clone();
    }
}

/// A plaintext request; a flow when the endpoint answered it.
async fn plaintext(
    addr: SocketAddr,
    sni: Option<&str>,
    cfg: &ProbeConfig,
    out: &mut EndpointResult,
) {
    let host = sni.map_or_else(|| addr.to_string(), str::to_string);
    let started = time::OffsetDateTime::now_utc();
    let (p, local, bytes) = super::plaintext::probe(addr, &host, cfg).await;
    if p.accepted == Some(true) {
        let conn = record::Conn {
            local,
            server: addr,
            started,
            finished: time::OffsetDateTime::now_utc(),
            bytes,
        };
        let protection = if p.protocol.is_some() {
            Protection::Plaintext
        } else {
            Protection::Unknown
        };
        out.flows
            .push(record::flow(&conn, protection, p.protocol.as_deref()));
    }
    out.record.plaintext = p;
}

/// The handshake with the given identity, in the `version` of the first
/// full handshake (none: nothing to present it in).
async fn identity(
    addr: SocketAddr,
    sni: Option<&str>,
    cfg: &ProbeConfig,
    id: &tls::Identity,
    version: Option<u16>,
    out: &mut EndpointResult,
) -> Result<IdentityProbe, ProbeFailure> {
    let Some(v) = version else {
        return Ok(IdentityProbe {
            accepted: None,
            version: None,
            detail: Some("no TLS 1.2 or 1.3 handshake to present it in".into()),
            error: None,
        });
    };
    let ver: &'static SupportedProtocolVersion = if v == 0x0304 {
        &rustls::version::TLS13
    } else {
        &rustls::version::TLS12
    };
    let h = tls::handshake(addr, sni, ver, Some(id), cfg).await?;
    let (probe, flow) = identity_result(addr, sni, &h, id);
    out.flows.extend(flow);
    Ok(probe)
}

fn is_timeout(end: &End) -> bool {
    matches!(end, End::Failed(ProbeFailure::Timeout { .. }))
}

fn is_failure(v: Option<&VersionProbe>) -> bool {
    v.is_some_and(|v| v.accepted.is_none())
}

fn version_of_handshake(wanted: u16, h: &Handshake) -> VersionProbe {
    let mut p = VersionProbe {
        version: version_name(wanted).into_owned(),
        accepted: None,
        method: "handshake".into(),
        cipher_suite: None,
        detail: None,
        error: None,
    };
    if h.version == Some(wanted) {
        p.accepted = Some(true);
        p.cipher_suite = h.cipher.map(|c| cipher_suite_name(c).into_owned());
        return p;
    }
    match &h.end {
        End::AlertDuring(a) => {
            p.accepted = Some(false);
            p.detail = Some(format!("alert {}", alert_name(u8::from(*a))));
        }
        // rustls refused what the server chose (another version).
        End::Failed(ProbeFailure::Tls(e)) => {
            p.accepted = Some(false);
            p.detail = Some(format!("rustls: {e}"));
        }
        End::Failed(e) => p.error = Some(e.record()),
        // Completed or closed with no version: rustls does not allow it.
        _ => p.detail = Some("no ServerHello".into()),
    }
    p
}

/// The client-certificate policy one handshake shows.
fn client_auth(h: &Handshake) -> ClientAuth {
    let mut a = ClientAuth {
        policy: "unknown".into(),
        evidence: String::new(),
        version: h.version.map(|v| version_name(v).into_owned()),
        ca_names: Vec::new(),
        signature_schemes: Vec::new(),
    };
    let Some(req) = &h.request else {
        (a.policy, a.evidence) = match &h.end {
            End::Completed => ("none".into(), "no-certificate-request".into()),
            End::AlertDuring(x) | End::AlertAfter(x) => (
                "unknown".into(),
                format!(
                    "alert {} before any CertificateRequest",
                    alert_name(u8::from(*x))
                ),
            ),
            End::ClosedAfter | End::Served(_) | End::HttpRefused(_) => {
                ("none".into(), "no-certificate-request".into())
            }
            End::Failed(e) => ("unknown".into(), e.to_string()),
        };
        return a;
    };
    a.ca_names = req
        .ca_names
        .iter()
        .map(|n| name_from_der(n).unwrap_or_else(|| format!("undecodable ({} bytes)", n.len())))
        .collect();
    a.signature_schemes = req.schemes.iter().map(|s| format!("{s:?}")).collect();
    (a.policy, a.evidence) = match &h.end {
        End::Completed if h.waited => ("optional".into(), "no-alert-before-deadline".into()),
        End::Completed => ("optional".into(), "completed-without-certificate".into()),
        End::AlertDuring(x) | End::AlertAfter(x) => (
            "required".into(),
            format!("alert {}", alert_name(u8::from(*x))),
        ),
        End::ClosedAfter => ("required".into(), "closed-after-handshake".into()),
        End::Served(line) => (
            "optional".into(),
            format!("served-without-certificate: {line}"),
        ),
        End::HttpRefused(why) => ("required".into(), format!("http-refusal: {why}")),
        End::Failed(e) => ("unknown".into(), e.to_string()),
    };
    a
}

/// The verdict to report: an observation beats the TLS 1.3 deadline.
fn pick<'a>(verdicts: &'a [(ClientAuth, &Handshake)]) -> Option<&'a (ClientAuth, &'a Handshake)> {
    let known = |v: &&(ClientAuth, &Handshake)| v.0.policy != "unknown";
    verdicts
        .iter()
        .filter(known)
        .find(|v| v.0.evidence != "no-alert-before-deadline")
        .or_else(|| verdicts.iter().find(known))
        .or_else(|| verdicts.first())
}

fn handshake_flow(
    addr: SocketAddr,
    sni: Option<&str>,
    h: &Handshake,
    auth: &ClientAuth,
    client_chain: &[rustls::pki_types::CertificateDer<'static>],
) -> FlowRecord {
    let conn = record::Conn {
        local: h.local,
        server: addr,
        started: h.started,
        finished: h.finished,
        bytes: h.bytes,
    };
    let mut f = record::flow(&conn, crate::model::Protection::Tls, None);
    let mutual = match auth.policy.as_str() {
        "none" | "optional" => (Some(false), "probe-accepted-without-certificate"),
        "required" => (Some(true), "probe-refused-without-certificate"),
        _ => (None, "handshake-incomplete"),
    };
    let alert = match h.end {
        End::AlertDuring(a) | End::AlertAfter(a) => Some(u8::from(a)),
        _ => None,
    };
    f.tls = Some(Box::new(record::tls_record(&TlsFacts {
        version: h.version.unwrap_or(0),
        cipher: h.cipher,
        sni,
        alpn: h.alpn.as_deref(),
        server_chain: &h.chain,
        client_chain,
        requested: Some(h.request.is_some()),
        mutual,
        alert,
        note: format!(
            "probe: rustls handshake; client certificate policy {} ({})",
            auth.policy, auth.evidence
        ),
    })));
    f
}

fn identity_result(
    addr: SocketAddr,
    sni: Option<&str>,
    h: &Handshake,
    id: &tls::Identity,
) -> (IdentityProbe, Option<FlowRecord>) {
    let mut p = IdentityProbe {
        accepted: None,
        version: h.version.map(|v| version_name(v).into_owned()),
        detail: None,
        error: None,
    };
    match &h.end {
        End::Completed if h.request.is_none() => {
            p.detail =
                Some("the server did not ask for a client certificate; none was sent".into());
        }
        End::Completed => {
            p.accepted = Some(true);
            p.detail = Some(
                if h.waited {
                    "no-alert-before-deadline"
                } else {
                    "completed"
                }
                .into(),
            );
        }
        End::AlertDuring(a) | End::AlertAfter(a) => {
            p.accepted = Some(false);
            p.detail = Some(format!("alert {}", alert_name(u8::from(*a))));
        }
        End::ClosedAfter => {
            p.accepted = Some(false);
            p.detail = Some("closed-after-handshake".into());
        }
        End::Served(line) => {
            p.accepted = Some(true);
            p.detail = Some(format!("served: {line}"));
        }
        End::HttpRefused(why) => {
            p.accepted = Some(false);
            p.detail = Some(format!("http-refusal: {why}"));
        }
        End::Failed(e) => p.error = Some(e.record()),
    }
    if p.accepted != Some(true) {
        return (p, None);
    }
    let auth = ClientAuth {
        policy: "identity".into(),
        evidence: p.detail.clone().unwrap_or_default(),
        ..ClientAuth::default()
    };
    let mut f = handshake_flow(addr, sni, h, &auth, id.chain());
    if let Some(t) = f.tls.as_deref_mut() {
        t.mutual = Some(true);
        t.mutual_evidence = Some("probe-client-certificate-accepted".into());
        t.mutual_unknown_reason = None;
        t.notes = vec!["probe: rustls handshake with the --cert/--key identity".into()];
    }
    (p, Some(f))
}
