//! The active probe: ask endpoints directly what a capture can only see
//! when it happens to carry it.
//!
//! For each endpoint ([`Target`]): full TLS 1.3 and TLS 1.2 handshakes with
//! rustls (`tls`: the chain, whether the server sent a CertificateRequest
//! and whether it goes on without a certificate), hand-built ClientHellos
//! for SSL 3.0, TLS 1.0, TLS 1.1 and weak suite families (`legacy`: read up
//! to the ServerHello or alert), a plaintext request (`plaintext`), and,
//! with an [`Identity`], a mutual-TLS handshake.
//!
//! Results are a [`ProbeRecord`] per
//! endpoint and `flows[]` records marked `"source": "probe"`, which
//! [`report`] hands to the same [`Verifier`] as captured flows.
//!
//! Limits: every connection has a connect deadline (a timeout is retried
//! once; a refusal never is), a deadline on every read, and a cap on the
//! bytes read from the server; endpoints are probed concurrently up to
//! [`ProbeConfig::concurrency`], the connections to one endpoint one after
//! another.

mod conn;
mod endpoint;
pub mod error;
pub mod groups;
mod hellos;
pub mod legacy;
pub mod plaintext;
mod record;
pub mod target;
mod tls;

use std::sync::Arc;
use std::time::Duration;

pub use endpoint::{EndpointResult, probe_endpoint};
pub use error::ProbeFailure;
pub use target::{Host, Target, TargetError};
pub use tls::{Identity, IdentityError};

use crate::model::WarningKind;
use crate::report::Report;
use crate::report::model::{FlowRecord, ProbeRecord, Stats, Warning};
use crate::verify::{RunInfo, Verifier, conclude};

/// How to probe.
#[derive(Debug, Clone)]
pub struct ProbeConfig {
    /// Deadline for a TCP connect (retried once after it passes).
    pub connect_timeout: Duration,
    /// Deadline for each handshake, and for each write and read.
    pub io_timeout: Duration,
    /// The longest wait for a server's refusal of a missing client
    /// certificate after the handshake (TLS 1.3); the wait is eight times
    /// the handshake's time, at least 250 ms, at most this.
    pub alert_wait: Duration,
    /// How long to wait for an answer to the plaintext request.
    pub plaintext_wait: Duration,
    /// Deadline for resolving a name.
    pub resolve_timeout: Duration,
    /// Endpoints probed at once.
    pub concurrency: usize,
    /// Try SSL 3.0, TLS 1.0, TLS 1.1 and the weak suite families.
    pub legacy: bool,
    /// Send a plaintext request.
    pub plaintext: bool,
    /// Ask a TLS 1.3 endpoint which key-exchange groups it accepts, one
    /// at a time (`probe::groups`).
    pub groups: bool,
    /// Complete mTLS with this client certificate.
    pub identity: Option<Identity>,
    /// Bytes read from a server on one connection, at most.
    pub max_server_bytes: usize,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        ProbeConfig {
            connect_timeout: Duration::from_secs(3),
            io_timeout: Duration::from_secs(5),
            alert_wait: Duration::from_millis(1000),
            plaintext_wait: Duration::from_secs(2),
            resolve_timeout: Duration::from_secs(5),
            concurrency: 64,
            legacy: true,
            plaintext: true,
            groups: true,
            identity: None,
            max_server_bytes: 256 * 1024,
        }
    }
}

/// Probe every target, at most `cfg.concurrency` at once; results in the
/// order of `targets`.
pub async fn probe_many(targets: &[Target], cfg: &ProbeConfig) -> Vec<EndpointResult> {
    let cfg = Arc::new(cfg.clone());
    let permits = Arc::new(tokio::sync::Semaphore::new(cfg.concurrency.max(1)));
    let mut set = tokio::task::JoinSet::new();
    for (i, t) in targets.iter().enumerate() {
        let (t, cfg, permits) = (t.clone(), Arc::clone(&cfg), Arc::clone(&permits));
        set.spawn(async move {
            let _permit = permits.acquire_owned().await;
            (i, probe_endpoint(&t, &cfg).await)
        });
    }
    let mut out: Vec<Option<EndpointResult>> = vec![None; targets.len()];
    while let Some(done) = set.join_next().await {
        if let Ok((i, r)) = done
            && let Some(slot) = out.get_mut(i)
        {
            *slot = Some(r);
        }
    }
    out.into_iter().flatten().collect()
}

/// [`probe_many`] on a runtime of its own (for callers without one).
pub fn probe_blocking(
    targets: &[Target],
    cfg: &ProbeConfig,
) -> std::io::Result<Vec<EndpointResult>> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    Ok(rt.block_on(probe_many(targets, cfg)))
}

/// The report of a probe run: every flow verified as if captured, the
/// `probes[]` section, a warning per endpoint that could not be probed.
pub fn report(results: Vec<EndpointResult>, mut verifier: Verifier, info: RunInfo) -> Report {
    let mut flows = Vec::new();
    let mut probes = Vec::new();
    let mut warnings = Vec::new();
    for r in results {
        warnings.extend(failure_warning(&r.record));
        warnings.extend(incomplete_warning(&r.record));
        verifier.probe_record(&r.record);
        flows.extend(r.flows);
        probes.push(r.record);
    }
    // In order of first packet, as in capture reports (RFC 3339 UTC with
    // fixed-width fractions sorts as text).
    flows.sort_by_key(|f| f.first_seen);
    for f in &mut flows {
        verifier.flow(f);
    }
    let (_, _, collected) = verifier.finish();
    let (verification, findings, more) = conclude(collected, info);
    warnings.extend(more);
    let stats = stats(&flows);
    Report {
        stats,
        warnings,
        verification: Some(verification),
        findings,
        probes,
        flows,
        ..Report::empty()
    }
}

/// The `probe-incomplete` warning for an endpoint probed, but some of whose
/// version or cipher-suite checks got no answer (a timeout, a reset): a
/// check that timed out is not a version the server refused, so the
/// accepted list is not the whole story. Verification lists the rules as
/// `not_checked` (`Verifier::probe_record`).
pub fn incomplete_warning(record: &ProbeRecord) -> Option<Warning> {
    if record.error.is_some() {
        return None; // `probe-failed` says it
    }
    let mut open: Vec<String> = record
        .versions
        .iter()
        .filter(|v| v.accepted.is_none())
        .map(|v| {
            let why = v.error.as_ref().map_or("no answer", |e| e.kind.as_str());
            format!("{} ({why})", v.version)
        })
        .collect();
    open.extend(
        record
            .weak_suites
            .iter()
            .filter(|s| s.accepted.is_none())
            .map(|s| format!("{} suites (no answer)", s.family)),
    );
    if open.is_empty() {
        return None;
    }
    Some(Warning {
        kind: WarningKind::ProbeIncomplete,
        message: format!(
            "{}: no answer to {}; those were not checked (not read as refused)",
            record.target,
            open.join(", ")
        ),
    })
}

/// The `probe-failed` warning for an endpoint that could not be probed.
pub fn failure_warning(record: &ProbeRecord) -> Option<Warning> {
    let e = record.error.as_ref()?;
    let pod = record
        .pod
        .as_ref()
        .map(|p| format!(" ({}/{} {})", p.namespace, p.name, p.container))
        .unwrap_or_default();
    Some(Warning {
        kind: WarningKind::ProbeFailed,
        message: format!("{}{pod}: {} ({})", record.target, e.message, e.kind),
    })
}

/// Totals of probe flows: a flow per connection worth judging; mutual TLS
/// where the `--cert` identity was accepted.
pub fn stats(flows: &[FlowRecord]) -> Stats {
    Stats {
        flows: flows.len() as u64,
        tls_flows: flows
            .iter()
            .filter(|f| f.protection == crate::model::Protection::Tls)
            .count() as u64,
        mutual_tls_flows: flows
            .iter()
            .filter(|f| {
                f.tls.as_ref().is_some_and(|t| {
                    t.mutual_evidence.as_deref() == Some("probe-client-certificate-accepted")
                })
            })
            .count() as u64,
        bytes: flows.iter().map(|f| f.bytes).sum(),
        ..Stats::default()
    }
}

/// What one mirrored handshake ([`mirror`]) got.
#[derive(Debug)]
pub struct Mirrored {
    /// Negotiated version and suite.
    pub version: Option<u16>,
    /// The suite.
    pub cipher: Option<u16>,
    /// The server's chain, DER, leaf first (empty if none came).
    pub chain: Vec<Vec<u8>>,
    /// The server sent a CertificateRequest.
    pub client_cert_requested: bool,
    /// When it ended.
    pub finished: time::OffsetDateTime,
    /// Why no chain came, when none did.
    pub error: Option<ProbeFailure>,
}

impl Mirrored {
    /// A handshake that got nothing, and why (ended now).
    pub fn failed(error: ProbeFailure) -> Mirrored {
        Mirrored {
            version: None,
            cipher: None,
            chain: Vec::new(),
            client_cert_requested: false,
            finished: time::OffsetDateTime::now_utc(),
            error: Some(error),
        }
    }
}

/// One handshake that offers what a captured ClientHello offered (its
/// server name, its ALPN list, TLS 1.3 alone when that is all it offered),
/// so that a server choosing its certificate by SNI and ALPN (a mesh
/// proxy's filter chains) presents the one the captured client got. It
/// reads the server's chain and sends nothing after the handshake but its
/// close_notify; a server that then refuses the missing client certificate
/// has already sent its own chain.
pub async fn mirror(
    addr: std::net::SocketAddr,
    sni: Option<&str>,
    alpn: &[String],
    tls13_only: bool,
    cfg: &ProbeConfig,
) -> Mirrored {
    let alpn: Vec<Vec<u8>> = alpn.iter().map(|a| a.as_bytes().to_vec()).collect();
    let versions: &[&'static rustls::SupportedProtocolVersion] = if tls13_only {
        &[&rustls::version::TLS13]
    } else {
        &[&rustls::version::TLS13, &rustls::version::TLS12]
    };
    let offer = tls::Offer {
        versions,
        alpn: &alpn,
        wait_for_refusal: false,
    };
    let hs = match tls::handshake_with(addr, sni, &offer, None, cfg).await {
        Ok(hs) => hs,
        Err(e) => return Mirrored::failed(e),
    };
    let chain: Vec<Vec<u8>> = hs.chain.iter().map(|c| c.as_ref().to_vec()).collect();
    let error = match hs.end {
        _ if !chain.is_empty() => None,
        tls::End::Failed(e) => Some(e),
        tls::End::AlertDuring(a) | tls::End::AlertAfter(a) => {
            Some(ProbeFailure::Tls(rustls::Error::AlertReceived(a)))
        }
        _ => Some(ProbeFailure::Closed("the handshake, before a certificate")),
    };
    Mirrored {
        version: hs.version,
        cipher: hs.cipher,
        chain,
        client_cert_requested: hs.request.is_some(),
        finished: hs.finished,
        error,
    }
}
