//! The analysis engine: packets in, a `tls-audit/report/v1` report out.
//!
//! ```no_run
//! let report = tls_audit::engine::analyze_files(&["capture.pcap"], &Default::default())?;
//! println!("{} flows", report.flows.len());
//! # Ok::<(), tls_audit::capture::CaptureError>(())
//! ```

mod analysis;
mod behind;
pub mod certs;
mod datagram;
mod finished;
mod key_exchange;
mod parallel;
mod record;
mod resumption;
mod sink;
mod summary;

use finished::{FinishCounts, Finished, finish, settle};
use summary::{conclude, ignored_secrets_warning, keylog_warnings};

pub use analysis::{AppState, FlowAnalysis};
pub use behind::Behind;
pub(crate) use sink::unlinked_temp_file;
pub use sink::{FlowOpened, FlowSink, MemorySink, SpillSink, Spilled};

use crate::capture::{CaptureError, CaptureReader, Item, LinkType, MergedSource, Nanos};
use crate::decode::{Decoded, Decoder, L4, TcpSegment, underlay};
use crate::flow::{Exit, Flow, FlowConfig, FlowKey, FlowTable, RoleSource, Side, endpoint};
use crate::model::WarningKind;
use crate::model::report::{self as model, Report, Stats, Warning};
use crate::tls::KeyLog;

/// Engine settings.
#[derive(Debug, Clone, Copy, Default)]
pub struct Config {
    /// Flow table limits.
    pub flows: FlowConfig,
    /// How far a gzip-compressed capture may expand (its `read_ahead` is
    /// decided by `threads`: see [`Config::read_limits`]).
    pub read: crate::capture::ReadLimits,
    /// Threads analysing a capture's flows: 0 or 1 analyse everything on
    /// the calling thread; 2 add a thread reading the files ahead
    /// ([`Config::read_limits`]; `audit` also puts its sink on a thread of
    /// its own, [`Behind`]); more also shard flows across that many
    /// workers behind a reader thread ([`Config::shards`]), with the same
    /// report (`docs/threads.md`). Live captures ignore it; the CLI's
    /// `--threads 0` asks for [`available_threads`], no `--threads` for
    /// [`default_threads`].
    pub threads: usize,
}

impl Config {
    /// How to open the captures: `read`, with a thread reading ahead when
    /// there are two threads or more.
    pub fn read_limits(&self) -> crate::capture::ReadLimits {
        crate::capture::ReadLimits {
            read_ahead: self.threads > 1,
            ..self.read
        }
    }

    /// Whether flows are sharded across `threads` workers (more than two:
    /// on two cores sharding was slower than reading ahead alone).
    fn shards(&self) -> bool {
        self.threads > 2
    }
}

/// Packets in, flow records out (to a [`FlowSink`]).
pub struct Analyzer<S: FlowSink> {
    decoder: Decoder,
    table: FlowTable<FlowAnalysis>,
    out: Output<S>,
}

/// What finished flows become; kept apart from the table so flows leaving
/// the table can be written while the table is borrowed.
struct Output<S> {
    sink: S,
    caches: record::Caches,
    linker: SharedLinks,
    stats: Stats,
    counts: FinishCounts,
    /// TLS 1.3 handshake secrets (key log files and pcapng DSBs).
    keys: KeyLog,
    /// The sink wants flows as they open and decide (live output).
    progress: bool,
    /// With other analyzers of the same capture (fanout workers): how long
    /// a resumed session whose origin is not known yet waits for it (the
    /// worker that has the origin's packets may be a block behind).
    hold_for: Option<std::time::Duration>,
    /// Resumed sessions waiting for their origin, oldest first.
    held: std::collections::VecDeque<Held>,
}

/// A finished resumed session waiting for its origin's verdict.
struct Held {
    until: std::time::Instant,
    done: Finished,
}

/// Resumed sessions held at most; past it they go out unresolved.
const MAX_HELD: usize = 4096;

/// How long a resumed session waits for its origin on another worker: ten
/// times the capture's ring block timeout (100 ms), the longest a worker's
/// packets wait in the kernel.
const HOLD_FOR_ORIGIN: std::time::Duration = std::time::Duration::from_secs(1);

/// Full handshakes' verdicts by the resumption material they issued.
#[derive(Clone, Default)]
struct SharedLinks(std::sync::Arc<std::sync::Mutex<resumption::Linker>>);

impl SharedLinks {
    fn lock(&self) -> std::sync::MutexGuard<'_, resumption::Linker> {
        // A worker that panicked left the map as it was between two
        // complete calls: still usable.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// What analyzers that split one capture's flows between them (the live
/// agent's fanout workers) share: flow ids, so they stay unique and in
/// creation order, and resumption origins, since a session resumed on a
/// new connection may land on another worker than the handshake it
/// resumes.
#[derive(Clone, Default)]
pub struct Shared {
    links: SharedLinks,
    ids: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

/// What an analysis counted, apart from its flows: [`Analyzer::close`]
/// gives it, [`Totals::absorb`] adds up several analyzers' (fanout
/// workers), [`Totals::report`] makes the report with its summary warnings.
#[derive(Debug, Default)]
pub struct Totals {
    stats: Stats,
    counts: FinishCounts,
}

impl Totals {
    /// The counters so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Add another analyzer's counts.
    pub fn absorb(&mut self, o: &Totals) {
        self.stats.absorb(&o.stats);
        self.counts.absorb(o.counts);
    }

    /// The report (its `flows` empty: they went to the sink), with the
    /// warnings these counts call for after `warnings`.
    pub fn report(self, inputs: Vec<model::Input>, warnings: Vec<Warning>) -> Report {
        conclude(self.stats, self.counts, inputs, warnings, None)
    }
}

impl<S: FlowSink> Output<S> {
    fn new(sink: S, keys: KeyLog) -> Self {
        Output {
            progress: sink.wants_progress(),
            sink,
            caches: record::Caches::default(),
            linker: SharedLinks::default(),
            stats: Stats::default(),
            counts: FinishCounts::default(),
            keys,
            hold_for: None,
            held: std::collections::VecDeque::new(),
        }
    }
}

impl<S: FlowSink> Analyzer<S> {
    /// A fresh engine writing finished flows to `sink`, sharing flow ids
    /// and resumption origins with the other analyzers of the same capture.
    pub fn with_shared(cfg: Config, sink: S, shared: &Shared) -> Self {
        let mut a = Analyzer::new(cfg, sink);
        a.out.linker = shared.links.clone();
        a.out.hold_for = Some(HOLD_FOR_ORIGIN);
        a.table.share_ids(std::sync::Arc::clone(&shared.ids));
        a
    }

    /// A fresh engine writing finished flows to `sink`.
    pub fn new(cfg: Config, sink: S) -> Self {
        Analyzer {
            decoder: Decoder::new(),
            table: FlowTable::new(cfg.flows),
            out: Output::new(sink, KeyLog::default()),
        }
    }

    /// Add key log text (a file, or a pcapng Decryption Secrets Block):
    /// TLS 1.3 handshakes whose ServerHello comes later are decrypted.
    pub fn add_secrets(&mut self, source: &str, text: &[u8]) {
        self.out.keys.add(source, text);
    }

    /// The secrets known so far.
    pub fn keys(&self) -> &KeyLog {
        &self.out.keys
    }

    /// Finish the flows idle past the timeout at `now`. A file's packets
    /// carry the clock; a live capture calls this as wall-clock time passes,
    /// so an idle link still finishes its flows.
    pub fn tick(&mut self, now: Nanos) {
        let out = &mut self.out;
        self.table
            .expire_idle(now, &mut |f, exit| out.finish(f, exit));
        out.release(false);
        out.sink.tick();
    }

    /// Flows tracked now.
    pub fn active_flows(&self) -> usize {
        self.table.len()
    }

    /// Counters so far (a live capture's metrics).
    pub fn stats(&self) -> &Stats {
        &self.out.stats
    }

    /// Analyse one captured frame.
    pub fn packet(&mut self, ts: Nanos, link: LinkType, data: &[u8], orig_len: u32) {
        let cut = count_frame(&mut self.out.stats, data, orig_len);
        let Self {
            decoder,
            table,
            out,
        } = self;
        decoder.decode(ts, link, data, &mut |d| {
            on_packet(table, out, ts, d, cut);
        });
    }

    /// Finish every flow; returns the report (its `flows` empty: they went
    /// to the sink) and the sink.
    pub fn finish(self, inputs: Vec<model::Input>, warnings: Vec<Warning>) -> (Report, S) {
        let (totals, sink) = self.close();
        (totals.report(inputs, warnings), sink)
    }

    /// Finish every flow; returns what was counted and the sink.
    pub fn close(mut self) -> (Totals, S) {
        for flow in self.table.drain() {
            self.out.finish(flow, Exit::End);
        }
        self.out.release(true);
        let mut stats = std::mem::take(&mut self.out.stats);
        stats.evicted_flows = self.table.evicted;
        stats.buffer_budget_flows = self.table.over_budget;
        stats.packets_after_close = self.table.stragglers;
        decoder_stats(&mut stats, &self.decoder);
        let totals = Totals {
            stats,
            counts: self.out.counts,
        };
        (totals, self.out.sink)
    }
}

/// Count a captured frame; returns whether the snap length cut it.
fn count_frame(stats: &mut Stats, data: &[u8], orig_len: u32) -> bool {
    stats.packets += 1;
    stats.bytes += u64::from(orig_len);
    let cut = (orig_len as usize) > data.len();
    if cut {
        stats.truncated_packets += 1;
    }
    cut
}

/// The decoder's counters into the report's.
fn decoder_stats(stats: &mut Stats, decoder: &Decoder) {
    stats.decode_errors = decoder
        .stats
        .errors
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
    stats.tunnelled_packets = decoder
        .stats
        .tunnelled
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
    stats.ip_fragments_reassembled = decoder.defrag_stats().0;
    stats.ip_fragments_dropped = decoder.defrag_stats().1;
}

fn on_packet<S: FlowSink>(
    table: &mut FlowTable<FlowAnalysis>,
    out: &mut Output<S>,
    ts: Nanos,
    d: &Decoded<'_>,
    cut: bool,
) {
    let Some((key, side)) = key_of(d) else {
        out.stats.other_ip_packets += 1;
        return;
    };
    let Some(flow) = admit(table, key, side, ts, d, &mut |f, exit| out.finish(f, exit)) else {
        return;
    };
    if flow.packets == [0, 0] && out.progress {
        out.sink.opened(
            flow.id,
            &FlowOpened {
                transport: record::transport_name(key.proto),
                src: key.endpoint(side),
                dst: key.endpoint(side ^ 1),
                ts,
            },
        );
    }
    // Only TCP flows buffer (reassembly, handshake parsing): count what
    // this segment changes for the memory budget.
    let held_before = flow.tcp.is_some().then(|| flow.buffered());
    update_flow(flow, side, ts, d, cut, out);
    if let Some(held_before) = held_before {
        let closed = flow.is_closed();
        let held_after = flow.buffered();
        table.account(held_before, held_after, &mut |f, exit| out.finish(f, exit));
        if closed {
            table.close(&key, ts, &mut |f, exit| out.finish(f, exit));
        }
    }
}

/// A decoded packet's flow key and the side that sent it; `None` for IP
/// protocols without flows (counted as `other_ip_packets`).
fn key_of(d: &Decoded<'_>) -> Option<(FlowKey, Side)> {
    let (proto, sport, dport) = match d.l4 {
        L4::Tcp(t) => (6u8, t.src_port, t.dst_port),
        L4::Udp {
            src_port, dst_port, ..
        } => (17, src_port, dst_port),
        L4::Esp => (50, 0, 0),
        L4::Other(_) => return None,
    };
    Some(FlowKey::of(
        proto,
        endpoint(d.src, sport),
        endpoint(d.dst, dport),
    ))
}

/// The table's part of a packet: a straggler of a closed connection is
/// absorbed (`None`), a new SYN restarts a reset connection, and the flow
/// is found or created (finishing idle or evicted flows through `done`).
/// The one-thread engine and the sharded one's dispatcher both decide flow
/// lifetimes here, so they split flows alike.
fn admit<'t, A: Default + crate::flow::Buffered>(
    table: &'t mut FlowTable<A>,
    key: FlowKey,
    side: Side,
    ts: Nanos,
    d: &Decoded<'_>,
    done: &mut dyn FnMut(Flow<A>, Exit),
) -> Option<&'t mut Flow<A>> {
    let tcp = match d.l4 {
        L4::Tcp(seg) => Some(seg.flags.syn && !seg.flags.ack),
        _ => None,
    };
    table.admit(key, side, ts, tcp, done)
}

/// What analysing a flow's packets needs from whoever runs it: the key
/// log, and what becomes of a handshake once it is decided.
trait FlowWork {
    /// TLS 1.3 handshake secrets.
    fn keys(&self) -> &KeyLog;
    /// The flow's handshake was just decided.
    fn settle(&mut self, flow: &mut Flow<FlowAnalysis>);
}

/// A packet's effect on its own flow: counters, underlay, reassembly and
/// handshake parsing. Nothing here looks at other flows.
fn update_flow(
    flow: &mut Flow<FlowAnalysis>,
    side: Side,
    ts: Nanos,
    d: &Decoded<'_>,
    cut: bool,
    work: &mut impl FlowWork,
) {
    let payload_len = match d.l4 {
        L4::Tcp(t) => t.payload_len as u64,
        L4::Udp { payload, .. } => payload.len() as u64,
        L4::Esp => u64::from(d.ip_len),
        L4::Other(_) => 0,
    };
    flow.last_seen = ts;
    flow.packets[side] += 1;
    flow.bytes[side] += payload_len;
    flow.truncated |= cut || d.truncated;
    if flow.app.inside.is_none() {
        flow.app.inside = d.inside;
    }
    match d.l4 {
        L4::Tcp(seg) => {
            if flow.packets == [1, 0] || flow.packets == [0, 1] {
                flow.app.underlay = underlay::classify_tcp(seg.src_port, seg.dst_port);
            }
            let was_decided = flow.app.decided;
            on_tcp(flow, side, &seg, work.keys());
            if flow.app.decided && !was_decided {
                work.settle(flow);
            }
        }
        L4::Udp {
            src_port,
            dst_port,
            payload,
        } => {
            if flow.packets == [1, 0] || flow.packets == [0, 1] {
                flow.app.underlay = underlay::classify_udp(src_port, dst_port, payload);
            } else {
                // IKE on UDP 4500 is followed by ESP on the same ports.
                flow.app.underlay =
                    underlay::reclassify_udp(flow.app.underlay, src_port, dst_port, payload);
            }
            if flow.app.datagram.is_none() && flow.app.underlay.is_none() {
                flow.app.datagram = datagram::classify(src_port, dst_port, payload);
            }
        }
        L4::Esp => flow.app.underlay = Some(underlay::Underlay::Esp),
        L4::Other(_) => {}
    }
}

fn on_tcp(flow: &mut Flow<FlowAnalysis>, side: usize, seg: &TcpSegment<'_>, keys: &KeyLog) {
    let Flow {
        tcp, app, client, ..
    } = flow;
    let Some(tcp) = tcp else { return };
    if seg.flags.syn {
        tcp.syn[side] = true;
        // SYN without ACK comes from the client; SYN-ACK from the server.
        let client_side = if seg.flags.ack { side ^ 1 } else { side };
        if !matches!(client, Some((_, RoleSource::Syn))) {
            *client = Some((client_side, RoleSource::Syn));
        }
        tcp.streams[side].syn(seg.seq, seg.payload);
    }
    let client_hint = client.map(|(c, _)| c);
    if !app.decided {
        // A stream "starts at the start" when its SYN was captured.
        let (fs, fs_other) = (tcp.syn[side], tcp.syn[side ^ 1]);
        let (mine, theirs) = split_streams(&mut tcp.streams, side);
        if seg.flags.syn && seg.flags.ack {
            theirs.syn_acked(seg.ack, &mut |c| {
                app.on_chunk(side ^ 1, c, fs_other, client_hint, keys)
            });
        }
        if !seg.flags.syn && !seg.payload.is_empty() {
            mine.segment(seg.seq, seg.payload, &mut |c| {
                app.on_chunk(side, c, fs, client_hint, keys)
            });
        }
        if seg.flags.ack && !seg.flags.syn {
            theirs.acked(seg.ack, &mut |c| {
                app.on_chunk(side ^ 1, c, fs_other, client_hint, keys)
            });
        }
        if seg.flags.fin || seg.flags.rst {
            mine.flush(&mut |c| app.on_chunk(side, c, fs, client_hint, keys));
        }
        if let Some(s) = app.tls()
            && let Some(c) = s.client_dir()
            && !matches!(client, Some((_, RoleSource::Syn)))
        {
            *client = Some((c, RoleSource::ClientHello));
        }
        if app.decided {
            tcp.streams[0].close();
            tcp.streams[1].close();
        }
    }
    tcp.fin[side] |= seg.flags.fin;
    tcp.rst |= seg.flags.rst;
}

fn split_streams(
    s: &mut [crate::flow::Reassembler; 2],
    side: usize,
) -> (&mut crate::flow::Reassembler, &mut crate::flow::Reassembler) {
    let (a, b) = s.split_at_mut(1);
    if side == 0 {
        (&mut a[0], &mut b[0])
    } else {
        (&mut b[0], &mut a[0])
    }
}

impl<S: FlowSink> FlowWork for Output<S> {
    fn keys(&self) -> &KeyLog {
        &self.keys
    }

    /// The handshake is decided: read its certificates now and free what the
    /// parsers held, so a long-lived connection costs little until it ends;
    /// and remember its verdict for sessions that will resume it.
    fn settle(&mut self, flow: &mut Flow<FlowAnalysis>) {
        if let Some((link, origin)) = settle(flow, &mut self.caches) {
            self.linker.lock().register(&link, origin);
        }
        if self.progress && flow.app.tls().is_some() {
            let rec = record::build(flow, Exit::End, &mut self.caches);
            self.sink.decided(flow.id, &rec);
        }
    }
}

impl<S: FlowSink> Output<S> {
    fn finish(&mut self, flow: Flow<FlowAnalysis>, exit: Exit) {
        let done = finish(flow, exit, &mut self.caches, &self.keys, &mut self.counts);
        self.deliver(done);
    }

    /// A finished flow's record goes out, in the order flows finish: a
    /// resumed session inherits the verdict of the handshake it resumes,
    /// the flow becomes an origin for later resumptions, and it is counted.
    fn deliver(&mut self, done: Finished) {
        if let (Some(wait), Some((link, _)), Some(tls)) =
            (self.hold_for, &done.link, done.rec.tls.as_ref())
            && self.held.len() < MAX_HELD
            && self.linker.lock().lacks_origin(link, tls)
        {
            self.held.push_back(Held {
                until: std::time::Instant::now() + wait,
                done,
            });
            return;
        }
        self.send(done);
    }

    /// Held resumed sessions go out once their origin is known, or once
    /// they have waited long enough (`all`: now, the capture is over and
    /// every worker has read its packets), in the order they were held.
    fn release(&mut self, all: bool) {
        if self.held.is_empty() {
            return;
        }
        let now = std::time::Instant::now();
        let held = std::mem::take(&mut self.held);
        for h in held {
            let ready = all
                || h.until <= now
                || match (&h.done.link, h.done.rec.tls.as_ref()) {
                    (Some((link, _)), Some(tls)) => !self.linker.lock().lacks_origin(link, tls),
                    _ => true,
                };
            if ready {
                self.send(h.done);
            } else {
                self.held.push_back(h);
            }
        }
    }

    fn send(&mut self, done: Finished) {
        let Finished { id, mut rec, link } = done;
        if let (Some((link, origin)), Some(tls)) = (link, rec.tls.as_mut()) {
            let mut linker = self.linker.lock();
            linker.resolve(&link, tls);
            linker.register(
                &link,
                resumption::Origin {
                    mutual: tls.mutual,
                    requested: tls.client_cert_requested,
                    group: tls.key_exchange.as_ref().and_then(|k| k.group_id),
                    ..origin
                },
            );
        }
        self.stats.count_flow(&rec);
        self.sink.flow(id, rec);
    }
}

/// Threads when `--threads` is not given: two (the analysis and a thread
/// reading ahead) when two CPUs are available, else one. Measured on two
/// cores, two threads take less time than one and more take longer
/// (`docs/threads.md`); more cores than two were not measured, so more
/// threads are asked for, not assumed.
pub fn default_threads() -> usize {
    available_threads().min(2)
}

/// Threads for `--threads 0`: the CPUs this process may use (one when
/// that cannot be told).
pub fn available_threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Analyse capture files (merged in time order; `-` is standard input),
/// keeping the flows in memory.
pub fn analyze_files<T: AsRef<str>>(paths: &[T], cfg: &Config) -> Result<Report, CaptureError> {
    Ok(analyze_readers(open_all(paths)?, cfg))
}

/// [`analyze_files`] with TLS 1.3 handshake secrets.
pub fn analyze_files_with_keys<T: AsRef<str>>(
    paths: &[T],
    cfg: &Config,
    keys: KeyLog,
) -> Result<Report, CaptureError> {
    let (mut report, sink) = run_with_keys(open_all(paths)?, cfg, MemorySink::default(), keys);
    report.flows = sink.into_sorted();
    Ok(report)
}

/// Analyse already-opened captures, keeping the flows in memory.
pub fn analyze_readers(readers: Vec<CaptureReader>, cfg: &Config) -> Report {
    let (mut report, sink) = run(readers, cfg, MemorySink::default());
    report.flows = sink.into_sorted();
    report
}

/// Open every capture (`-` is standard input).
pub fn open_all<T: AsRef<str>>(paths: &[T]) -> Result<Vec<CaptureReader>, CaptureError> {
    open_all_with(paths, crate::capture::ReadLimits::default())
}

/// [`open_all`], with a gzip input's decompression cap.
pub fn open_all_with<T: AsRef<str>>(
    paths: &[T],
    limits: crate::capture::ReadLimits,
) -> Result<Vec<CaptureReader>, CaptureError> {
    paths
        .iter()
        .map(|p| CaptureReader::open_with(p.as_ref(), limits))
        .collect()
}

/// Analyse captures, sending finished flows to `sink`; returns the report
/// without its flows, and the sink.
pub fn run<S: FlowSink>(readers: Vec<CaptureReader>, cfg: &Config, sink: S) -> (Report, S) {
    run_with_keys(readers, cfg, sink, KeyLog::default())
}

/// [`run`], with TLS 1.3 handshake secrets from key log files; secrets in
/// the captures' pcapng Decryption Secrets Blocks are added as they come.
pub fn run_with_keys<S: FlowSink>(
    readers: Vec<CaptureReader>,
    cfg: &Config,
    sink: S,
    keys: KeyLog,
) -> (Report, S) {
    if cfg.shards() && !sink.wants_progress() {
        return parallel::run(readers, cfg, sink, keys);
    }
    let mut source = MergedSource::new(readers);
    let mut engine = Analyzer::new(*cfg, sink);
    engine.out.keys = keys;
    let mut unknown_link = false;
    let mut blocks = 0u64;
    source.for_each(&mut |item| match item {
        Item::Packet(p) => match p.link {
            Some(link) => engine.packet(p.ts, link, p.data, p.orig_len),
            None => unknown_link = true,
        },
        Item::Secrets { input, text } => {
            blocks += 1;
            engine.add_secrets(&secrets_source(input, blocks), text);
        }
    });
    let (inputs, warnings) = inputs_of(&source, engine.keys(), unknown_link);
    engine.finish(inputs, warnings)
}

/// How a pcapng Decryption Secrets Block is named in key log problems.
fn secrets_source(input: &str, block: u64) -> String {
    format!("{input} (Decryption Secrets Block {block})")
}

/// The report's inputs, and the warnings about the inputs and key logs.
fn inputs_of(
    source: &MergedSource,
    keys: &KeyLog,
    unknown_link: bool,
) -> (Vec<model::Input>, Vec<Warning>) {
    let mut warnings = keylog_warnings(keys);
    let inputs = source
        .summaries()
        .iter()
        .map(|s| {
            if let Some(warning) = ignored_secrets_warning(s) {
                warnings.push(warning);
            }
            if let Some(why) = &s.damage {
                warnings.push(Warning {
                    kind: WarningKind::DamagedCapture,
                    message: format!(
                        "{}: {why}; the {} packets before it were analysed",
                        s.name, s.packets
                    ),
                });
            }
            model::Input {
                name: s.name.clone(),
                format: s.format.to_string(),
                packets: s.packets,
                complete: s.damage.is_none(),
                live: None,
                first_packet: s.window.map(|w| crate::capture::format_ts(w.0)),
                last_packet: s.window.map(|w| crate::capture::format_ts(w.1)),
                reported_by: None,
            }
        })
        .collect();
    if unknown_link {
        warnings.push(Warning {
            kind: WarningKind::PacketWithoutInterface,
            message: "pcapng packets referred to an interface that was never described".into(),
        });
    }
    (inputs, warnings)
}

#[cfg(test)]
mod tests;
