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
    /// Capture sockets and analysing threads: above 1, the kernel spreads
    /// packets over them by flow (`PACKET_FANOUT`).
    pub workers: usize,
}

impl LiveOptions {
    /// Defaults for an interface: whole packets (a certificate chain spans
    /// full-size segments), a 32 MiB ring for bursts (about 30,000 packets
    /// of 1 KB: benches/README.md), one tick a second, one worker.
    pub fn new(interface: &str) -> Self {
        LiveOptions {
            interface: interface.to_string(),
            filter: None,
            snaplen: 262_144,
            buffer_bytes: 32 << 20,
            duration: None,
            write_pcap: None,
            tick: Duration::from_secs(1),
            workers: 1,
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
    pub(super) fn as_str(&self) -> &'static str {
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

/// After the stop, how long what the kernel already buffered is still read
/// at most. A ring full of small packets (a SYN flood) can hold hundreds of
/// thousands; a second signal ends the process at once.
const DRAIN_LIMIT: Duration = Duration::from_secs(5);

/// libpcap's read timeout, ms: with TPACKET_V3 (not immediate mode) the
/// kernel hands over a ring block when it is full or this old.
const BLOCK_TIMEOUT_MS: u16 = 100;

/// How long a ring may still hold packets it has not handed over: a
/// block's timeout and a margin. Reading until then drains it.
pub(super) const BLOCK_WAIT: Duration = Duration::from_millis(BLOCK_TIMEOUT_MS as u64 + 60);

/// An open capture: the interface is listening and the filter is set, on
/// one capture socket or, with `workers` above 1, one per worker joined in
/// a fanout group.
pub struct LiveHandle {
    handles: Vec<Capture<Active>>,
    savefile: Option<pcap::Savefile>,
    link: LinkType,
    /// The fanout group the handles share, when there are several.
    group: Option<u16>,
    /// Why there is one handle where more were asked for.
    fallback: Option<String>,
}

impl LiveHandle {
    /// The link type libpcap delivers (`ethernet`, `linux-sll2`...).
    pub fn link_type(&self) -> String {
        self.link.name()
    }

    /// Capture sockets, one per worker thread.
    pub fn workers(&self) -> usize {
        self.handles.len()
    }

    /// Why packet fanout is not used although more workers were asked
    /// for (the capture goes on with one); `None` when it is used or was
    /// not asked for.
    pub fn fallback(&self) -> Option<&str> {
        self.fallback.as_deref()
    }
}

/// Open the interface for `opts`; errors name what is wrong (no such
/// interface, no CAP_NET_RAW, a filter that does not compile). With
/// `opts.workers` above 1, one socket per worker in a fanout group, or one
/// socket and the reason in [`LiveHandle::fallback`].
pub fn open(opts: &LiveOptions) -> Result<LiveHandle, LiveError> {
    let (handles, group, fallback) = if opts.workers <= 1 {
        (vec![open_handle(opts, opts.filter.as_deref())?], None, None)
    } else if opts.write_pcap.is_some() {
        let why = format!(
            "--write-pcap writes one file from one capture socket: capturing with one worker, not {}",
            opts.workers
        );
        (
            vec![open_handle(opts, opts.filter.as_deref())?],
            None,
            Some(why),
        )
    } else {
        super::fanout::open_group(opts)?
    };
    let Some(first) = handles.first() else {
        return Err(LiveError::Open {
            interface: opts.interface.clone(),
            detail: "no capture socket was opened".into(),
        });
    };
    let savefile = match &opts.write_pcap {
        Some(path) => Some(first.savefile(path).map_err(|e| LiveError::WritePcap {
            path: path.display().to_string(),
            detail: e.to_string(),
        })?),
        None => None,
    };
    let link = LinkType(first.get_datalink().0 as u32);
    Ok(LiveHandle {
        handles,
        savefile,
        link,
        group,
        fallback,
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
        mut handles,
        savefile,
        link,
        group,
        fallback,
    } = live;
    let mut warnings = Vec::new();
    if let Some(why) = fallback {
        warnings.push(Warning {
            kind: WarningKind::FanoutUnavailable,
            message: why,
        });
    }
    if let (Some(group), true) = (group, handles.len() > 1) {
        return super::fanout::run(handles, group, link, opts, cfg, sink, stop, on_tick);
    }
    let Some(handle) = handles.pop() else {
        // `open` never gives an empty list; end at once if it did.
        let engine = Analyzer::new(*cfg, sink);
        let (report, sink) = engine.finish(Vec::new(), warnings);
        let why = "no capture socket".to_string();
        return LiveOutcome {
            report,
            sink,
            stopped_by: StopReason::Error(why),
        };
    };
    let started = super::wall_clock();
    let clock = Clock::start(opts);
    let mut worker = Worker::new(handle, savefile, link, Analyzer::new(*cfg, sink));
    let stopped_by = worker.capture(&clock, &|| stop.load(Ordering::Relaxed), on_tick);
    if let Some(f) = worker.savefile.as_mut()
        && let Err(e) = f.flush()
    {
        warnings.push(Warning {
            kind: WarningKind::WritePcap,
            message: format!("the capture file could not be completed: {e}"),
        });
    }
    let counters = worker.counters.totals();
    let window = worker.window;
    let unread = worker.unread;
    let (totals, sink) = worker.engine.close();
    let live = Ended {
        started,
        counters,
        window,
        stopped_by,
        fanout: None,
        unread,
    };
    let input = live.input(opts, link, totals.stats().packets, &mut warnings);
    LiveOutcome {
        report: totals.report(vec![input], warnings),
        sink,
        stopped_by: live.stopped_by,
    }
}

/// When the capture must end and how often it ticks, shared by every worker.
pub(super) struct Clock {
    deadline: Option<Instant>,
    tick: Duration,
    /// The longest wait for packets before the stop flag is looked at
    /// again: a signal interrupts the wait only in the thread it is
    /// delivered to, so fanout workers look often.
    max_wait: Duration,
}

impl Clock {
    pub(super) fn start(opts: &LiveOptions) -> Self {
        let tick = opts.tick.max(Duration::from_millis(10));
        Clock {
            deadline: opts.duration.map(|d| Instant::now() + d),
            tick,
            max_wait: tick,
        }
    }

    /// [`Clock::start`] for threads that a signal does not wake.
    pub(super) fn start_unsignalled(opts: &LiveOptions) -> Self {
        Clock {
            max_wait: Duration::from_millis(50),
            ..Clock::start(opts)
        }
    }
}

/// One capture socket and the engine it feeds.
pub(super) struct Worker<S: FlowSink> {
    handle: Capture<Active>,
    savefile: Option<pcap::Savefile>,
    pub(super) engine: Analyzer<S>,
    link: LinkType,
    nanos: bool,
    counters: Counters,
    pub(super) window: Option<(Nanos, Nanos)>,
    /// The drain after the stop ran out of time with packets still in the
    /// ring: they were received but not analysed.
    pub(super) unread: bool,
}

impl<S: FlowSink> Worker<S> {
    pub(super) fn new(
        handle: Capture<Active>,
        savefile: Option<pcap::Savefile>,
        link: LinkType,
        engine: Analyzer<S>,
    ) -> Self {
        let nanos = sys::precision_is_nano(&handle);
        Worker {
            handle,
            savefile,
            engine,
            link,
            nanos,
            counters: Counters::default(),
            window: None,
            unread: false,
        }
    }

    /// Read packets into the engine until the deadline or `stop()`, ticking
    /// the engine and `on_tick`; then read what the kernel already holds.
    pub(super) fn capture(
        &mut self,
        clock: &Clock,
        stop: &dyn Fn() -> bool,
        on_tick: &mut dyn FnMut(&Progress),
    ) -> StopReason {
        let mut next_tick = Instant::now() + clock.tick;
        let stopped_by = loop {
            if stop() {
                break StopReason::Signal;
            }
            let now = Instant::now();
            if clock.deadline.is_some_and(|d| now >= d) {
                break StopReason::Duration;
            }
            let until = clock
                .deadline
                .map_or(next_tick, |d| d.min(next_tick))
                .min(now + clock.max_wait);
            sys::wait_readable(&self.handle, until.saturating_duration_since(now));
            if let Err(e) = self.read_batch() {
                break StopReason::Error(e);
            }
            if Instant::now() >= next_tick {
                // From now, not from the missed tick: a slow stretch does not
                // turn into a burst of ticks.
                next_tick = Instant::now() + clock.tick;
                self.engine.tick(super::wall_clock());
                self.counters.update(&mut self.handle);
                on_tick(&self.progress());
            }
        };
        // What the kernel already holds was captured before the stop: read
        // it, including the block it hands over only at its timeout.
        if !matches!(stopped_by, StopReason::Error(_)) {
            let drain_from = Instant::now();
            let drain_until = drain_from + DRAIN_LIMIT;
            loop {
                let now = Instant::now();
                if now >= drain_until {
                    // Still reading when time ran out: packets are left.
                    self.unread = true;
                    break;
                }
                match self.read_batch() {
                    Err(_) => break,
                    Ok(0) if now >= drain_from + BLOCK_WAIT => break,
                    Ok(0) => sys::wait_readable(&self.handle, Duration::from_millis(20)),
                    Ok(_) => {}
                }
            }
        }
        self.counters.update(&mut self.handle);
        on_tick(&self.progress());
        stopped_by
    }

    /// Read what is buffered, up to a batch; returns how many packets.
    fn read_batch(&mut self) -> Result<usize, String> {
        for n in 0..BATCH {
            match self.handle.next_packet() {
                Ok(p) => {
                    let ts = timestamp(&p.header.ts, self.nanos);
                    self.window = Some(
                        self.window
                            .map_or((ts, ts), |(a, b)| (a.min(ts), b.max(ts))),
                    );
                    if let Some(f) = self.savefile.as_mut() {
                        f.write(&p);
                    }
                    self.engine.packet(ts, self.link, p.data, p.header.len);
                }
                Err(pcap::Error::TimeoutExpired) => return Ok(n),
                Err(e) => return Err(e.to_string()),
            }
        }
        Ok(BATCH)
    }

    /// Counters so far.
    pub(super) fn progress(&self) -> Progress {
        Progress {
            received: self.counters.received,
            dropped: self.counters.dropped,
            if_dropped: self.counters.if_dropped,
            packets: self.engine.stats().packets,
            active_flows: self.engine.active_flows(),
            flows: self.engine.stats().flows,
        }
    }

    /// libpcap's counters: received, dropped, dropped by the interface.
    pub(super) fn counters(&self) -> LibpcapCounts {
        self.counters.totals()
    }
}

/// libpcap's totals for a capture.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct LibpcapCounts {
    pub(super) received: u64,
    pub(super) dropped: u64,
    pub(super) if_dropped: u64,
}

impl LibpcapCounts {
    pub(super) fn absorb(&mut self, o: &LibpcapCounts) {
        self.received = self.received.saturating_add(o.received);
        self.dropped = self.dropped.saturating_add(o.dropped);
        self.if_dropped = self.if_dropped.saturating_add(o.if_dropped);
    }
}

/// How a capture went, for its report input.
pub(super) struct Ended {
    pub(super) started: Nanos,
    pub(super) counters: LibpcapCounts,
    pub(super) window: Option<(Nanos, Nanos)>,
    pub(super) stopped_by: StopReason,
    pub(super) fanout: Option<crate::model::report::Fanout>,
    /// Packets were left in a ring when the drain after the stop ran out.
    pub(super) unread: bool,
}

impl Ended {
    /// The report's input for this capture; the warnings its counters and
    /// ending call for go to `warnings`.
    pub(super) fn input(
        &self,
        opts: &LiveOptions,
        link: LinkType,
        packets: u64,
        warnings: &mut Vec<Warning>,
    ) -> Input {
        let c = &self.counters;
        if c.dropped + c.if_dropped > 0 {
            warnings.push(Warning {
                kind: WarningKind::CaptureDrops,
                message: format!(
                    "libpcap dropped {} packets (buffer full) and the interface {} more: flows may be incomplete",
                    c.dropped, c.if_dropped
                ),
            });
        }
        if self.unread {
            warnings.push(Warning {
                kind: WarningKind::CaptureUnread,
                message: format!(
                    "the capture stopped with packets still waiting in the kernel ring after {} s of reading them: \
                     they were received (counted in inputs[].live.received) but not analysed; the analysis was \
                     behind the traffic (inputs[].packets is what was analysed)",
                    DRAIN_LIMIT.as_secs()
                ),
            });
        }
        if let StopReason::Error(e) = &self.stopped_by {
            warnings.push(Warning {
                kind: WarningKind::CaptureFailed,
                message: format!(
                    "the capture on {} failed and stopped early: {e}",
                    opts.interface
                ),
            });
        }
        Input {
            name: format!("live:{}", opts.interface),
            format: "live".into(),
            packets,
            complete: !matches!(self.stopped_by, StopReason::Error(_)),
            first_packet: self.window.map(|w| format_ts(w.0)),
            last_packet: self.window.map(|w| format_ts(w.1)),
            reported_by: None,
            live: Some(LiveCapture {
                interface: opts.interface.clone(),
                link_type: link.name(),
                filter: opts.filter.clone(),
                snaplen: opts.snaplen,
                started: format_ts(self.started),
                ended: format_ts(super::wall_clock()),
                stopped_by: self.stopped_by.as_str().into(),
                received: c.received,
                dropped: c.dropped,
                if_dropped: c.if_dropped,
                fanout: self.fanout.clone(),
            }),
        }
    }
}

/// Open and configure the interface.
pub(super) fn open_handle(
    opts: &LiveOptions,
    filter: Option<&str>,
) -> Result<Capture<Active>, LiveError> {
    let name = opts.interface.as_str();
    let open_err = |e: pcap::Error| classify_open_error(name, &e.to_string());
    let inactive = Capture::from_device(name).map_err(open_err)?;
    let mut cap = inactive
        .promisc(false)
        // Not immediate mode: libpcap then uses TPACKET_V3, whose ring
        // blocks hold packets at their own length. Immediate mode's
        // TPACKET_V2 gives every packet a slot of the snap length where
        // the interface offloads segmentation (a 32 MiB ring holds about
        // 127 packets: benches/README.md); the price is up to
        // BLOCK_TIMEOUT_MS before a quiet link's packets are read.
        .immediate_mode(false)
        .snaplen(i32::try_from(opts.snaplen).unwrap_or(i32::MAX))
        .buffer_size(i32::try_from(opts.buffer_bytes).unwrap_or(i32::MAX))
        .precision(Precision::Nano)
        .timeout(i32::from(BLOCK_TIMEOUT_MS))
        .open()
        .map_err(open_err)?;
    if name == "any" {
        // SLL2 carries the interface index; SLL (the default) does not.
        // Older kernels or libpcaps lack it: then SLL it is.
        let _ = cap.set_datalink(Linktype(LinkType::LINUX_SLL2.0 as i32));
    }
    if let Some(expr) = filter {
        set_filter(&mut cap, expr)?;
    }
    cap.setnonblock().map_err(open_err)
}

/// Put a BPF filter on an open handle.
pub(super) fn set_filter(cap: &mut Capture<Active>, expr: &str) -> Result<(), LiveError> {
    cap.filter(expr, true).map_err(|e| LiveError::Filter {
        expr: expr.to_string(),
        detail: e.to_string(),
    })
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

    fn totals(&self) -> LibpcapCounts {
        LibpcapCounts {
            received: self.received,
            dropped: self.dropped,
            if_dropped: self.if_dropped,
        }
    }
}
