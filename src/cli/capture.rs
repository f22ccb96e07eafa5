//! `tls-audit capture`: the live agent. Packets from an interface go
//! straight into the engine; out come NDJSON events (what the kubectl
//! plugin reads from the pod's log) or a report, and optionally Prometheus
//! metrics for an agent that keeps running.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use clap::ValueEnum;
use serde_json::json;

use super::{EngineArgs, OutputArgs, Prepared, exit, publish, verification};
use crate::audit::{self, AuditError, Status};
use crate::live::{self, EventSink, LiveOptions, Metrics, MetricsSink, Progress};
use crate::verify;

#[derive(Debug, clap::Args)]
pub(crate) struct CaptureArgs {
    /// Interface to capture on: the pod's `eth0` (from an ephemeral
    /// container or a sidecar) or `any` (a node agent).
    #[arg(short = 'i', long, default_value = "any")]
    interface: String,
    /// BPF filter (tcpdump syntax), e.g. `tcp port 443 or tcp port 8443`.
    #[arg(long, value_name = "EXPR")]
    bpf: Option<String>,
    /// Stop after this long (`30s`, `5m`, `1h`); without it, run until
    /// SIGINT or SIGTERM.
    #[arg(long, value_parser = humantime::parse_duration)]
    duration: Option<Duration>,
    /// `ndjson`: one JSON event per line on standard output as flows are
    /// decided, and a summary line at the end: facts only, verified where
    /// they are read (`analyze --events`, the kubectl plugin); `report`: a
    /// verified report at the end (the verification options apply).
    #[arg(long, value_enum, default_value = "report")]
    emit: Emit,
    /// With `--emit report`: its format, file, compliance views.
    #[command(flatten)]
    out: OutputArgs,
    /// Also save the captured packets to this pcap file.
    #[arg(long, value_name = "FILE")]
    write_pcap: Option<PathBuf>,
    /// Serve Prometheus metrics (`/metrics`) and a liveness check
    /// (`/healthz`) on this address: `127.0.0.1:9464` for a scraper or
    /// kube-rbac-proxy beside the agent, `:9464` (every address) only when
    /// the network may reach it. Off unless given.
    #[arg(long, value_name = "ADDR")]
    metrics_addr: Option<String>,
    /// `/metrics` answers only requests carrying `Authorization: Bearer
    /// <the file's first line>` (a mounted Secret); `/healthz` stays open.
    #[arg(long, value_name = "FILE", requires = "metrics_addr")]
    metrics_token_file: Option<PathBuf>,
    /// Bytes kept per packet.
    #[arg(long, default_value_t = 262_144)]
    snaplen: u32,
    /// The kernel's capture buffer, in MiB.
    #[arg(long, default_value_t = 32)]
    buffer_mib: u32,
    #[command(flatten)]
    engine: EngineArgs,
    #[command(flatten)]
    enrich: super::EnrichArgs,
    #[command(flatten)]
    verify: verification::VerifyArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Emit {
    Ndjson,
    Report,
}

/// Run `capture`.
pub(crate) fn capture_command(args: &CaptureArgs) -> Result<Status, AuditError> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // A second signal ends the process at once, without the summary.
        let registered = signal_hook::flag::register_conditional_shutdown(
            sig,
            exit::INTERRUPTED,
            Arc::clone(&stop),
        )
        .and_then(|_| signal_hook::flag::register(sig, Arc::clone(&stop)));
        registered.map_err(|e| AuditError::Config(format!("cannot handle signals: {e}")))?;
    }
    let opts = LiveOptions {
        filter: args.bpf.clone(),
        snaplen: args.snaplen.max(128),
        buffer_bytes: args.buffer_mib.clamp(1, 2047) << 20,
        duration: args.duration,
        write_pcap: args.write_pcap.clone(),
        ..LiveOptions::new(&args.interface)
    };
    match args.emit {
        Emit::Ndjson => ndjson(args, &opts, stop),
        Emit::Report => report(args, &opts, &stop),
    }
}

/// Metrics served, once the interface is open (so a scrape that answers
/// means the capture runs), and the verifier that counts their findings.
struct Served {
    metrics: Metrics,
    judge: Option<verify::Verifier>,
    /// The endpoint's port and the local addresses it answers on.
    own: Option<(u16, Vec<IpAddr>)>,
}

fn serve(args: &CaptureArgs) -> Result<Served, AuditError> {
    let metrics = Metrics::default();
    let Some(addr) = &args.metrics_addr else {
        return Ok(Served {
            metrics,
            judge: None,
            own: None,
        });
    };
    let fail = AuditError::Config;
    let token = match &args.metrics_token_file {
        Some(path) => Some(read_token(path).map_err(fail)?),
        None => None,
    };
    let mut judge = args.verify.settings().load()?.verifier;
    let a = parse_listen(addr).map_err(fail)?;
    let bound = live::serve_metrics(a, metrics.clone(), live::MetricsServer { token })
        .map_err(|e| fail(format!("cannot serve metrics on {a}: {e}")))?;
    let addrs = own_addresses(bound);
    metrics.set_own_endpoint(bound.port(), addrs.clone());
    judge.exempt_own_endpoint(bound.port(), addrs.iter().map(IpAddr::to_string).collect());
    eprintln!("tls-audit: metrics on http://{bound}/metrics, liveness on /healthz");
    Ok(Served {
        metrics,
        judge: Some(judge),
        own: Some((bound.port(), addrs)),
    })
}

/// The token's first line (a Secret mounted as a file).
fn read_token(path: &std::path::Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read --metrics-token-file {}: {e}", path.display()))?;
    let token = text.lines().next().unwrap_or("").trim().to_string();
    if token.is_empty() {
        return Err(format!("--metrics-token-file {} is empty", path.display()));
    }
    Ok(token)
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

fn ndjson(
    args: &CaptureArgs,
    opts: &LiveOptions,
    stop: Arc<AtomicBool>,
) -> Result<Status, AuditError> {
    let events = EventSink::new(Box::new(std::io::stdout()));
    // A reader that goes away (a closed pipe) ends the capture.
    events.stop_on_error(Arc::clone(&stop));
    let handle = live::open(opts).map_err(|e| failed(e, Some(&events)))?;
    let served = serve(args)?;
    let metrics = served.metrics.clone();
    // `start` means listening: a reader may begin the traffic it audits.
    events.emit(
        "start",
        json!({
            "interface": opts.interface,
            "link_type": handle.link_type(),
            "filter": opts.filter,
            "snaplen": opts.snaplen,
            "duration_seconds": opts.duration.map(|d| d.as_secs_f64()),
            "tool": { "name": "tls-audit", "version": env!("CARGO_PKG_VERSION") },
        }),
    );
    // Enrichment first, so the events and the metrics get the chains.
    let sink = crate::enrich::Enrichment::new(
        MetricsSink {
            metrics: metrics.clone(),
            judge: served.judge,
            inner: events.clone(),
        },
        args.enrich.config(true).as_ref(),
    );
    let mut ticks = 0u64;
    let mut on_tick = |p: &Progress| {
        metrics.record_progress(p);
        ticks += 1;
        if ticks.is_multiple_of(10) {
            events.emit("stats", progress_json(p));
        }
    };
    let outcome = live::run(
        handle,
        opts,
        &args.engine.config(),
        sink,
        &stop,
        &mut on_tick,
    );
    // Flows still waiting for a handshake go out before the summary.
    let (_, enrichment) = outcome.sink.finish();
    let mut report = outcome.report;
    report.enrichment = enrichment;
    events.summary(&report);
    if let Some(e) = events.take_error() {
        // A reader that closed the pipe chose to stop, as for `| head`.
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            eprintln!("tls-audit: the event reader went away; capture stopped");
            return Ok(Status::Clean);
        }
        return Err(AuditError::Write {
            to: "standard output (events)".into(),
            source: e,
        });
    }
    say_counts(&report);
    if report.inputs.iter().all(|i| i.complete) {
        Ok(Status::Clean)
    } else {
        Ok(Status::Partial)
    }
}

fn report(args: &CaptureArgs, opts: &LiveOptions, stop: &AtomicBool) -> Result<Status, AuditError> {
    let prepared = Prepared::load(&args.out)?;
    let (mut verifier, done, render) =
        prepared.conclusion(&args.out, args.verify.settings().load()?);
    let handle = live::open(opts).map_err(|e| failed(e, None))?;
    let served = serve(args)?;
    let metrics = served.metrics.clone();
    if let Some((port, addrs)) = &served.own {
        verifier.exempt_own_endpoint(*port, addrs.iter().map(IpAddr::to_string).collect());
    }
    let sink = crate::enrich::Enrichment::new(
        MetricsSink {
            metrics: metrics.clone(),
            judge: served.judge,
            inner: audit::verifying_spill(verifier)?,
        },
        args.enrich.config(true).as_ref(),
    );
    eprintln!(
        "tls-audit: listening on {} ({})",
        opts.interface,
        handle.link_type()
    );
    let mut on_tick = |p: &Progress| metrics.record_progress(p);
    let outcome = live::run(
        handle,
        opts,
        &args.engine.config(),
        sink,
        stop,
        &mut on_tick,
    );
    let (sink, enrichment) = outcome.sink.finish();
    let mut report = outcome.report;
    report.enrichment = enrichment;
    say_counts(&report);
    let audited = done.conclude(report, sink.inner, false)?;
    publish(&audited, &args.out, &render)
}

/// libpcap's counters on standard error, where a log reader expects them.
fn say_counts(report: &crate::report::Report) {
    for i in &report.inputs {
        if let Some(l) = &i.live {
            eprintln!(
                "tls-audit: {}: {} packets received, {} dropped by the buffer, {} by the interface; {} flows; stopped by {}",
                l.interface, l.received, l.dropped, l.if_dropped, report.stats.flows, l.stopped_by
            );
        }
    }
}

/// A capture that could not start: said in the event stream too, when
/// there is one, so its reader knows why it ends.
fn failed(e: live::LiveError, events: Option<&EventSink>) -> AuditError {
    if let Some(ev) = events {
        ev.emit("error", json!({ "message": e.to_string() }));
    }
    AuditError::Live(e)
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

/// `:9090` listens on every address; `host:port` as given.
fn parse_listen(addr: &str) -> Result<SocketAddr, String> {
    let full = if addr.starts_with(':') {
        format!("0.0.0.0{addr}")
    } else {
        addr.to_string()
    };
    full.to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| format!("--metrics-addr {addr:?} is not host:port or :port"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::FlowSink;

    #[test]
    fn listen_addresses() {
        assert_eq!(parse_listen(":9090").unwrap().to_string(), "0.0.0.0:9090");
        assert_eq!(
            parse_listen("127.0.0.1:0").unwrap().to_string(),
            "127.0.0.1:0"
        );
        assert!(parse_listen("9090").is_err());
    }

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
