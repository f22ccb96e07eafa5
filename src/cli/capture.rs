//! `tls-audit capture`: the live agent. Packets from an interface go
//! straight into the engine; out come NDJSON events (what the kubectl
//! plugin reads from the pod's log) or a report, and optionally Prometheus
//! metrics for an agent that keeps running.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use clap::ValueEnum;
use serde_json::json;

use super::{EngineArgs, OutputArgs, Prepared, exit, publish, verification};
use crate::audit::capture;
use crate::audit::{AuditError, Status};
use crate::live::{self, EventSink, LiveOptions};
use crate::verify::Verifier;

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
    /// The kernel's capture buffer, in MiB, per worker (each worker's
    /// socket has its own ring).
    #[arg(long, default_value_t = 32)]
    buffer_mib: u32,
    /// Capture sockets and analysing threads: the kernel spreads the
    /// interface's packets over them by flow (`PACKET_FANOUT`, hash mode;
    /// both directions of a connection reach one worker). Default: the
    /// cores this process may use (its CPU affinity and cgroup CPU limit),
    /// or 1 with `--write-pcap` (one file is written from one socket). 1 is
    /// one socket and one thread. Where fanout cannot be used the capture
    /// goes on with one worker and says why.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    workers: Option<u16>,
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
        workers: match (args.workers, &args.write_pcap) {
            (Some(n), _) => usize::from(n),
            (None, Some(_)) => 1,
            (None, None) => default_workers(),
        },
        ..LiveOptions::new(&args.interface)
    };
    match args.emit {
        Emit::Ndjson => ndjson(args, &opts, stop),
        Emit::Report => report(args, &opts, &stop),
    }
}

/// One worker per core this process may use.
fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

/// Say on standard error when fewer workers capture than were asked for
/// (the report's warnings say it too).
fn say_fallback(handle: &live::LiveHandle) {
    if let Some(why) = handle.fallback() {
        eprintln!("tls-audit: warning: {why}");
    }
}

/// The metrics endpoint, once the interface is open (so a scrape that
/// answers means the capture runs); `judge` gives the verifier of its
/// findings, asked for only when metrics are served.
fn serve(
    args: &CaptureArgs,
    judge: impl FnOnce() -> Result<Verifier, AuditError>,
) -> Result<capture::Served, AuditError> {
    let addr = match &args.metrics_addr {
        Some(a) => Some(parse_listen(a).map_err(AuditError::Config)?),
        None => None,
    };
    let token = match &args.metrics_token_file {
        Some(path) => Some(read_token(path).map_err(AuditError::Config)?),
        None => None,
    };
    let served = capture::serve(addr, token, judge)?;
    if let Some((bound, _)) = &served.own {
        eprintln!("tls-audit: metrics on http://{bound}/metrics, liveness on /healthz");
    }
    Ok(served)
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

fn ndjson(
    args: &CaptureArgs,
    opts: &LiveOptions,
    stop: Arc<AtomicBool>,
) -> Result<Status, AuditError> {
    let events = EventSink::new(Box::new(std::io::stdout()));
    // A reader that goes away (a closed pipe) ends the capture.
    events.stop_on_error(Arc::clone(&stop));
    let handle = live::open(opts).map_err(|e| failed(e, Some(&events)))?;
    say_fallback(&handle);
    let served = serve(args, || Ok(args.verify.settings().load()?.verifier))?;
    let streamed = capture::stream_events(
        handle,
        opts,
        &args.engine.config(),
        args.enrich.config(true).as_ref(),
        served,
        &events,
        &stop,
    )?;
    if streamed.reader_gone {
        eprintln!("tls-audit: the event reader went away; capture stopped");
    } else {
        say_counts(&streamed.report);
    }
    Ok(streamed.status)
}

fn report(args: &CaptureArgs, opts: &LiveOptions, stop: &AtomicBool) -> Result<Status, AuditError> {
    let prepared = Prepared::load(&args.out)?;
    // Read once: the report's verifier, and the metrics' judge.
    let (loaded, judge) = args.verify.settings().load_with_judge()?;
    let (verifier, done, render) = prepared.conclusion(&args.out, loaded);
    let handle = live::open(opts).map_err(|e| failed(e, None))?;
    say_fallback(&handle);
    let served = serve(args, || Ok(judge))?;
    let workers = match handle.workers() {
        1 => String::new(),
        n => format!(", {n} workers"),
    };
    eprintln!(
        "tls-audit: listening on {} ({}{workers})",
        opts.interface,
        handle.link_type()
    );
    let audited = capture::capture_report(
        handle,
        opts,
        &args.engine.config(),
        args.enrich.config(true).as_ref(),
        served,
        verifier,
        done,
        stop,
        &say_counts,
    )?;
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

    #[test]
    fn listen_addresses() {
        assert_eq!(parse_listen(":9090").unwrap().to_string(), "0.0.0.0:9090");
        assert_eq!(
            parse_listen("127.0.0.1:0").unwrap().to_string(),
            "127.0.0.1:0"
        );
        assert!(parse_listen("9090").is_err());
    }
}
