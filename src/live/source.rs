//! The libpcap handle and the read loop.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use pcap::{Active, Capture, Device, Linktype, Precision};

use super::{LiveError, sys};
use crate::capture::{LinkType, Nanos, format_ts};
use crate::engine::{Analyzer, Config, FlowSink};
use crate::model::WarningKind;
use crate::report::model::{Input, LiveCapture, Report, Warning};

/// What to capture and for how long.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    /// Interface name (`eth0`, `any`, `lo`).
    pub interface: String,
    /// BPF filter expression.
    pub filter: Option<String>,
    /// Bytes kept per packet.
    pub snaplen: u32,
    /// The kernel's capture buffer, bytes.
    pub buffer_bytes: u32,
    /// Stop after this long; `None` runs until the stop flag is set.
    pub duration: Option<Duration>,
    /// Also write the packets to this pcap file.
    pub write_pcap: Option<PathBuf>,
    /// How often idle flows are finished and progress is reported.
    pub tick: Duration,
}

impl LiveOptions {
    /// Defaults for an interface: whole packets (a certificate chain spans
    /// full-size segments), a 32 MiB buffer for bursts, one tick a second.
    pub fn new(interface: &str) -> Self {
        LiveOptions {
            interface: interface.to_string(),
            filter: None,
            snaplen: 262_144,
            buffer_bytes: 32 << 20,
            duration: None,
            write_pcap: None,
            tick: Duration::from_secs(1),
        }
    }
}

/// Counters at a tick, for metrics and progress lines.
#[derive(Debug, Clone, Copy, Default)]
pub struct Progress {
    /// Packets libpcap received so far.
    pub received: u64,
    /// Packets dropped for want of buffer space.
    pub dropped: u64,
    /// Packets the interface dropped.
    pub if_dropped: u64,
    /// Packets the engine analysed.
    pub packets: u64,
    /// Flows tracked now.
    pub active_flows: usize,
    /// Flows finished so far.
    pub flows: u64,
}

/// Why the capture ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    /// `--duration` elapsed.
    Duration,
    /// The stop flag was set (SIGINT/SIGTERM).
    Signal,
    /// Reading failed; the packets before the failure were analysed.
    Error(String),
}

impl StopReason {
    fn as_str(&self) -> &'static str {
        match self {
            StopReason::Duration => "duration",
            StopReason::Signal => "signal",
            StopReason::Error(_) => "error",
        }
    }
}

/// A finished live capture.
pub struct LiveOutcome<S> {
    /// The report without its flows (they went to the sink).
    pub report: Report,
    /// The sink.
    pub sink: S,
    /// Why it ended.
    pub stopped_by: StopReason,
}

/// Packets read per wake-up before the stop flag and the clock are looked
/// at again.
const BATCH: usize = 4096;

/// After the stop, how long what the kernel already buffered is still read.
const DRAIN_LIMIT: Duration = Duration::from_millis(500);

/// An open capture: the interface is listening and the filter is set.
pub struct LiveHandle {
    handle: Capture<Active>,
    savefile: Option<pcap::Savefile>,
    link: LinkType,
}

impl LiveHandle {
    /// The link type libpcap delivers (`ethernet`, `linux-sll2`...).
    pub fn link_type(&self) -> String {
        self.link.name()
    }
}

/// Open the interface for `opts`; errors name what is wrong (no such
/// interface, no CAP_NET_RAW, a filter that does not compile).
pub fn open(opts: &LiveOptions) -> Result<LiveHandle, LiveError> {
    let handle = open_handle(opts)?;
    let savefile = match &opts.write_pcap {
        Some(path) => Some(handle.savefile(path).map_err(|e| LiveError::WritePcap {
            path: path.display().to_string(),
            detail: e.to_string(),
        })?),
        None => None,
    };
    let link = LinkType(handle.get_datalink().0 as u32);
    Ok(LiveHandle {
        handle,
        savefile,
        link,
    })
}

/// Capture until the duration ends or `stop` is set, analysing every
/// packet; `on_tick` hears the counters once per tick. A read failure ends
/// the capture early with what was read (`StopReason::Error`).
pub fn run<S: FlowSink>(
    live: LiveHandle,
    opts: &LiveOptions,
    cfg: &Config,
    sink: S,
    stop: &AtomicBool,
    on_tick: &mut dyn FnMut(&Progress),
) -> LiveOutcome<S> {
    let LiveHandle {
        mut handle,
        mut savefile,
        link,
    } = live;
    let nanos = sys::precision_is_nano(&handle);
    let mut engine = Analyzer::new(*cfg, sink);
    let started = super::wall_clock();
    let start = Instant::now();
    let deadline = opts.duration.map(|d| start + d);
    let tick = opts.tick.max(Duration::from_millis(10));
    let mut next_tick = start + tick;
    let mut counters = Counters::default();
    let mut window: Option<(Nanos, Nanos)> = None;
    let stopped_by = loop {
        if stop.load(Ordering::Relaxed) {
            break StopReason::Signal;
        }
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            break StopReason::Duration;
        }
        let until = deadline.map_or(next_tick, |d| d.min(next_tick));
        sys::wait_readable(&handle, until.saturating_duration_since(now));
        if let Err(e) = read_batch(
            &mut handle,
            &mut engine,
            savefile.as_mut(),
            link,
            nanos,
            &mut window,
        ) {
            break StopReason::Error(e);
        }
        if Instant::now() >= next_tick {
            // From now, not from the missed tick: a slow stretch does not
            // turn into a burst of ticks.
            next_tick = Instant::now() + tick;
            engine.tick(super::wall_clock());
            counters.update(&mut handle);
            on_tick(&progress(&engine, &counters));
        }
    };
    // What the kernel already holds was captured before the stop: read it.
    if !matches!(stopped_by, StopReason::Error(_)) {
        let drain_until = Instant::now() + DRAIN_LIMIT;
        while Instant::now() < drain_until {
            match read_batch(
                &mut handle,
                &mut engine,
                savefile.as_mut(),
                link,
                nanos,
                &mut window,
            ) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    }
    counters.update(&mut handle);
    on_tick(&progress(&engine, &counters));
    let mut warnings = Vec::new();
    if let Some(f) = savefile.as_mut()
        && let Err(e) = f.flush()
    {
        warnings.push(Warning {
            kind: WarningKind::WritePcap,
            message: format!("the capture file could not be completed: {e}"),
        });
    }
    if counters.dropped + counters.if_dropped > 0 {
        warnings.push(Warning {
            kind: WarningKind::CaptureDrops,
            message: format!(
                "libpcap dropped {} packets (buffer full) and the interface {} more: flows may be incomplete",
                counters.dropped, counters.if_dropped
            ),
        });
    }
    if let StopReason::Error(e) = &stopped_by {
        warnings.push(Warning {
            kind: WarningKind::CaptureFailed,
            message: format!(
                "the capture on {} failed and stopped early: {e}",
                opts.interface
            ),
        });
    }
    let packets = engine.stats().packets;
    let input = Input {
        name: format!("live:{}", opts.interface),
        format: "live".into(),
        packets,
        complete: !matches!(stopped_by, StopReason::Error(_)),
        first_packet: window.map(|w| format_ts(w.0)),
        last_packet: window.map(|w| format_ts(w.1)),
        reported_by: None,
        live: Some(LiveCapture {
            interface: opts.interface.clone(),
            link_type: link.name(),
            filter: opts.filter.clone(),
            snaplen: opts.snaplen,
            started: format_ts(started),
            ended: format_ts(super::wall_clock()),
            stopped_by: stopped_by.as_str().into(),
            received: counters.received,
            dropped: counters.dropped,
            if_dropped: counters.if_dropped,
        }),
    };
    let (report, sink) = engine.finish(vec![input], warnings);
    LiveOutcome {
        report,
        sink,
        stopped_by,
    }
}

/// Open and configure the interface.
fn open_handle(opts: &LiveOptions) -> Result<Capture<Active>, LiveError> {
    let name = opts.interface.as_str();
    let open_err = |e: pcap::Error| classify_open_error(name, &e.to_string());
    let inactive = Capture::from_device(name).map_err(open_err)?;
    let mut cap = inactive
        .promisc(false)
        .immediate_mode(true)
        .snaplen(i32::try_from(opts.snaplen).unwrap_or(i32::MAX))
        .buffer_size(i32::try_from(opts.buffer_bytes).unwrap_or(i32::MAX))
        .precision(Precision::Nano)
        .timeout(100)
        .open()
        .map_err(open_err)?;
    if name == "any" {
        // SLL2 carries the interface index; SLL (the default) does not.
        // Older kernels or libpcaps lack it: then SLL it is.
        let _ = cap.set_datalink(Linktype(LinkType::LINUX_SLL2.0 as i32));
    }
    if let Some(expr) = &opts.filter {
        cap.filter(expr, true).map_err(|e| LiveError::Filter {
            expr: expr.clone(),
            detail: e.to_string(),
        })?;
    }
    cap.setnonblock().map_err(open_err)
}

fn classify_open_error(name: &str, detail: &str) -> LiveError {
    let lower = detail.to_ascii_lowercase();
    if lower.contains("no such device") {
        let available = Device::list()
            .map(|ds| {
                ds.into_iter()
                    .map(|d| d.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_else(|e| format!("cannot list them: {e}"));
        return LiveError::NoSuchInterface {
            name: name.to_string(),
            available,
        };
    }
    if lower.contains("permission") || lower.contains("operation not permitted") {
        return LiveError::Permission {
            interface: name.to_string(),
            detail: detail.to_string(),
        };
    }
    LiveError::Open {
        interface: name.to_string(),
        detail: detail.to_string(),
    }
}

/// Read what is buffered, up to a batch; returns how many packets.
fn read_batch<S: FlowSink>(
    handle: &mut Capture<Active>,
    engine: &mut Analyzer<S>,
    mut savefile: Option<&mut pcap::Savefile>,
    link: LinkType,
    nanos: bool,
    window: &mut Option<(Nanos, Nanos)>,
) -> Result<usize, String> {
    for n in 0..BATCH {
        match handle.next_packet() {
            Ok(p) => {
                let ts = timestamp(&p.header.ts, nanos);
                *window = Some(window.map_or((ts, ts), |(a, b)| (a.min(ts), b.max(ts))));
                if let Some(f) = savefile.as_deref_mut() {
                    f.write(&p);
                }
                engine.packet(ts, link, p.data, p.header.len);
            }
            Err(pcap::Error::TimeoutExpired) => return Ok(n),
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(BATCH)
}

// time_t and suseconds_t are i64 here but narrower on 32-bit targets.
#[allow(clippy::unnecessary_cast)]
fn timestamp(tv: &libc::timeval, nanos: bool) -> Nanos {
    let frac = if nanos {
        tv.tv_usec as i64
    } else {
        tv.tv_usec as i64 * 1000
    };
    (tv.tv_sec as i64).saturating_mul(1_000_000_000) + frac
}

/// libpcap's counters are 32-bit and wrap within hours at high rates:
/// accumulate the differences into 64-bit totals.
#[derive(Default)]
struct Counters {
    last: Option<pcap::Stat>,
    received: u64,
    dropped: u64,
    if_dropped: u64,
}

impl Counters {
    fn update(&mut self, handle: &mut Capture<Active>) {
        let Ok(now) = handle.stats() else { return };
        let before = self.last.unwrap_or(pcap::Stat {
            received: 0,
            dropped: 0,
            if_dropped: 0,
        });
        self.received += u64::from(now.received.wrapping_sub(before.received));
        self.dropped += u64::from(now.dropped.wrapping_sub(before.dropped));
        self.if_dropped += u64::from(now.if_dropped.wrapping_sub(before.if_dropped));
        self.last = Some(now);
    }
}

fn progress<S: FlowSink>(engine: &Analyzer<S>, c: &Counters) -> Progress {
    Progress {
        received: c.received,
        dropped: c.dropped,
        if_dropped: c.if_dropped,
        packets: engine.stats().packets,
        active_flows: engine.active_flows(),
        flows: engine.stats().flows,
    }
}
