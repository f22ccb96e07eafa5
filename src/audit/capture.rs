//! `capture`'s work: a live capture into the engine, with the metrics
//! endpoint when asked for, out as NDJSON events (what the kubectl plugin
//! reads from the agent's log) or as a concluded report. The CLI opens the
//! interface (so it can say a failure in the event stream), builds the
//! options, and says on standard error what a log reader expects.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::AtomicBool;

use serde_json::json;

use super::{AuditError, Audited, Conclusion, Status};
use crate::engine::Config;
use crate::enrich::{EnrichConfig, Enrichment};
use crate::live::{self, EventSink, LiveHandle, LiveOptions, Metrics, MetricsSink, Progress};
use crate::model::report::Report;
use crate::verify::Verifier;

/// The metrics endpoint (`/metrics`, `/healthz`) of a running agent.
pub struct Served {
    /// What is served.
    pub metrics: Metrics,
    /// The verifier that counts the findings the metrics show.
    pub judge: Option<Verifier>,
    /// The endpoint's address, its port and the local addresses it answers
    /// on (flows to it are the agent's own scrapes, not audited).
    pub own: Option<(SocketAddr, Vec<IpAddr>)>,
}

/// Serve metrics on `addr` (`token`: what `/metrics` requires as a
/// bearer token), their findings counted by the verifier `judge` gives
/// (asked for only when there is an address); without an address, metrics
/// are kept but not served.
pub fn serve(
    addr: Option<SocketAddr>,
    token: Option<String>,
    judge: impl FnOnce() -> Result<Verifier, AuditError>,
) -> Result<Served, AuditError> {
    let metrics = Metrics::default();
    let Some(addr) = addr else {
        return Ok(Served {
            metrics,
            judge: None,
            own: None,
        });
    };
    let mut judge = judge()?;
    let bound = live::serve_metrics(addr, metrics.clone(), live::MetricsServer { token })
        .map_err(|e| AuditError::Config(format!("cannot serve metrics on {addr}: {e}")))?;
    let addrs = own_addresses(bound);
    metrics.set_own_endpoint(bound.port(), addrs.clone());
    judge.exempt_own_endpoint(bound.port(), addrs.iter().map(IpAddr::to_string).collect());
    Ok(Served {
        metrics,
        judge: Some(judge),
        own: Some((bound, addrs)),
    })
}

/// The addresses the endpoint answers on: the one it is bound to, or,
/// bound to every address, this host's (its interfaces' addresses), so
/// that only flows to this agent's own endpoint are taken for scrapes, not
/// another pod's service on the same port.
fn own_addresses(bound: SocketAddr) -> Vec<IpAddr> {
    if !bound.ip().is_unspecified() {
        return vec![bound.ip()];
    }
    let mut out: Vec<IpAddr> = pcap::Device::list()
        .map(|ds| {
            ds.into_iter()
                .flat_map(|d| d.addresses.into_iter().map(|a| a.addr))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out.dedup();
    out
}

/// How an event stream ended.
pub struct Streamed {
    /// The run's header (what the summary event carried).
    pub report: Report,
    /// The reader closed the pipe: it chose to stop, as `| head` does.
    pub reader_gone: bool,
    /// Every input was read whole (else partial).
    pub status: Status,
}

/// Capture from `handle` until `stop`, the duration or the end of a
/// savefile; each flow goes out as events as it is decided and ends, with
/// a `stats` event every ten ticks and the summary at the end.
pub fn stream_events(
    handle: LiveHandle,
    opts: &LiveOptions,
    cfg: &Config,
    enrich: Option<&EnrichConfig>,
    served: Served,
    events: &EventSink,
    stop: &AtomicBool,
) -> Result<Streamed, AuditError> {
    let metrics = served.metrics.clone();
    // `start` means listening: a reader may begin the traffic it audits.
    events.emit(
        "start",
        json!({
            "interface": opts.interface,
            "link_type": handle.link_type(),
            "filter": opts.filter,
            "snaplen": opts.snaplen,
            "workers": handle.workers(),
            "duration_seconds": opts.duration.map(|d| d.as_secs_f64()),
            "tool": { "name": "tls-audit", "version": env!("CARGO_PKG_VERSION") },
        }),
    );
    // Enrichment first, so the events and the metrics get the chains.
    let sink = Enrichment::new(
        MetricsSink {
            metrics: metrics.clone(),
            judge: served.judge,
            inner: events.clone(),
        },
        enrich,
    );
    let mut ticks = 0u64;
    let mut on_tick = |p: &Progress| {
        metrics.record_progress(p);
        ticks += 1;
        if ticks.is_multiple_of(10) {
            events.emit("stats", progress_json(p));
        }
    };
    let outcome = live::run(handle, opts, cfg, sink, stop, &mut on_tick);
    // Flows still waiting for a handshake go out before the summary.
    let (_, enrichment) = outcome.sink.finish();
    let mut report = outcome.report;
    report.enrichment = enrichment;
    events.summary(&report);
    let mut reader_gone = false;
    if let Some(e) = events.take_error() {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            return Err(AuditError::Write {
                to: "standard output (events)".into(),
                source: e,
            });
        }
        reader_gone = true;
    }
    let status = if reader_gone || report.inputs.iter().all(|i| i.complete) {
        Status::Clean
    } else {
        Status::Partial
    };
    Ok(Streamed {
        report,
        reader_gone,
        status,
    })
}

fn progress_json(p: &Progress) -> serde_json::Value {
    json!({
        "received": p.received,
        "dropped": p.dropped,
        "if_dropped": p.if_dropped,
        "packets": p.packets,
        "active_flows": p.active_flows,
        "flows": p.flows,
    })
}

/// Capture from `handle` until `stop`, the duration or the end of a
/// savefile, verify every flow, and conclude the report (`said` is called
/// with the run's header first, for the counters a log reader expects).
#[allow(clippy::too_many_arguments)]
pub fn capture_report(
    handle: LiveHandle,
    opts: &LiveOptions,
    cfg: &Config,
    enrich: Option<&EnrichConfig>,
    served: Served,
    mut verifier: Verifier,
    done: Conclusion,
    stop: &AtomicBool,
    said: &dyn Fn(&Report),
) -> Result<Audited, AuditError> {
    let metrics = served.metrics.clone();
    if let Some((bound, addrs)) = &served.own {
        verifier.exempt_own_endpoint(bound.port(), addrs.iter().map(IpAddr::to_string).collect());
    }
    let sink = Enrichment::new(
        MetricsSink {
            metrics: metrics.clone(),
            judge: served.judge,
            inner: super::verifying_spill(verifier, &done)?,
        },
        enrich,
    );
    let mut on_tick = |p: &Progress| metrics.record_progress(p);
    let outcome = live::run(handle, opts, cfg, sink, stop, &mut on_tick);
    let (sink, enrichment) = outcome.sink.finish();
    let mut report = outcome.report;
    report.enrichment = enrichment;
    said(&report);
    done.conclude(report, sink.inner, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::FlowSink;

    /// The agent's sinks ask for flows as they open and decide (the
    /// events stream them), through the metrics.
    #[test]
    fn sinks_pass_progress_through() {
        let events = EventSink::new(Box::new(std::io::sink()));
        let s = MetricsSink {
            metrics: Metrics::default(),
            judge: None,
            inner: events,
        };
        assert!(s.wants_progress());
    }
}
