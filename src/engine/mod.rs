//! The analysis engine: packets in, a `tls-audit/report/v1` report out.
//!
//! ```no_run
//! let report = tls_audit::engine::analyze_files(&["capture.pcap"], &Default::default())?;
//! println!("{} flows", report.flows.len());
//! # Ok::<(), tls_audit::capture::CaptureError>(())
//! ```

mod analysis;
pub mod certs;
mod datagram;
mod key_exchange;
mod record;
mod resumption;
mod sink;

pub use analysis::{AppState, FlowAnalysis};
pub(crate) use sink::unlinked_temp_file;
pub use sink::{FlowOpened, FlowSink, MemorySink, SpillSink, Spilled};

use crate::capture::{CaptureError, CaptureReader, Item, LinkType, MergedSource, Nanos};
use crate::decode::{Decoded, Decoder, L4, TcpSegment, underlay};
use crate::flow::{Exit, Flow, FlowConfig, FlowKey, FlowTable, RoleSource, endpoint};
use crate::model::WarningKind;
use crate::model::report::{self as model, Report, Stats, Warning};
use crate::tls::KeyLog;

/// Engine settings.
#[derive(Debug, Clone, Copy, Default)]
pub struct Config {
    /// Flow table limits.
    pub flows: FlowConfig,
    /// How far a gzip-compressed capture may expand.
    pub read: crate::capture::ReadLimits,
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
    oversized_messages: u64,
    flows_with_gaps: u64,
    /// TLS 1.3 handshake secrets (key log files and pcapng DSBs).
    keys: KeyLog,
    /// The sink wants flows as they open and decide (live output).
    progress: bool,
}

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
    oversized_messages: u64,
    flows_with_gaps: u64,
}

impl Totals {
    /// The counters so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Add another analyzer's counts.
    pub fn absorb(&mut self, o: &Totals) {
        self.stats.absorb(&o.stats);
        self.oversized_messages = self.oversized_messages.saturating_add(o.oversized_messages);
        self.flows_with_gaps = self.flows_with_gaps.saturating_add(o.flows_with_gaps);
    }

    /// The report (its `flows` empty: they went to the sink), with the
    /// warnings these counts call for after `warnings`.
    pub fn report(self, inputs: Vec<model::Input>, mut warnings: Vec<Warning>) -> Report {
        let stats = self.stats;
        warnings.extend(summary_warnings(
            &stats,
            self.oversized_messages,
            self.flows_with_gaps,
        ));
        Report {
            inputs,
            stats,
            warnings,
            ..Report::empty()
        }
    }
}

impl<S: FlowSink> Analyzer<S> {
    /// A fresh engine writing finished flows to `sink`, sharing flow ids
    /// and resumption origins with the other analyzers of the same capture.
    pub fn with_shared(cfg: Config, sink: S, shared: &Shared) -> Self {
        let mut a = Analyzer::new(cfg, sink);
        a.out.linker = shared.links.clone();
        a.table.share_ids(std::sync::Arc::clone(&shared.ids));
        a
    }

    /// A fresh engine writing finished flows to `sink`.
    pub fn new(cfg: Config, sink: S) -> Self {
        let progress = sink.wants_progress();
        Analyzer {
            decoder: Decoder::new(),
            table: FlowTable::new(cfg.flows),
            out: Output {
                sink,
                caches: record::Caches::default(),
                linker: SharedLinks::default(),
                stats: Stats::default(),
                oversized_messages: 0,
                flows_with_gaps: 0,
                keys: KeyLog::default(),
                progress,
            },
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
        let stats = &mut self.out.stats;
        stats.packets += 1;
        stats.bytes += u64::from(orig_len);
        let cut = (orig_len as usize) > data.len();
        if cut {
            stats.truncated_packets += 1;
        }
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
        let out = &mut self.out;
        let mut stats = std::mem::take(&mut out.stats);
        stats.evicted_flows = self.table.evicted;
        stats.buffer_budget_flows = self.table.over_budget;
        stats.packets_after_close = self.table.stragglers;
        stats.decode_errors = self
            .decoder
            .stats
            .errors
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect();
        stats.tunnelled_packets = self
            .decoder
            .stats
            .tunnelled
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect();
        stats.ip_fragments_reassembled = self.decoder.defrag_stats().0;
        stats.ip_fragments_dropped = self.decoder.defrag_stats().1;
        let totals = Totals {
            stats,
            oversized_messages: out.oversized_messages,
            flows_with_gaps: out.flows_with_gaps,
        };
        (totals, self.out.sink)
    }
}

fn on_packet<S: FlowSink>(
    table: &mut FlowTable<FlowAnalysis>,
    out: &mut Output<S>,
    ts: Nanos,
    d: &Decoded<'_>,
    cut: bool,
) {
    let (proto, sport, dport, payload_len) = match d.l4 {
        L4::Tcp(t) => (6u8, t.src_port, t.dst_port, t.payload_len as u64),
        L4::Udp {
            src_port,
            dst_port,
            payload,
        } => (17, src_port, dst_port, payload.len() as u64),
        L4::Esp => (50, 0, 0, u64::from(d.ip_len)),
        L4::Other(_) => {
            out.stats.other_ip_packets += 1;
            return;
        }
    };
    let (key, side) = FlowKey::of(proto, endpoint(d.src, sport), endpoint(d.dst, dport));
    if let L4::Tcp(seg) = d.l4 {
        let starts = seg.flags.syn && !seg.flags.ack;
        if table.is_straggler(&key, starts) {
            return;
        }
        if starts {
            table.restart_if_reset(&key, &mut |f, exit| out.finish(f, exit));
        }
    }
    let flow = table.get_or_insert(key, side, ts, &mut |f, exit| out.finish(f, exit));
    if flow.packets == [0, 0] && out.progress {
        out.sink.opened(
            flow.id,
            &FlowOpened {
                transport: record::transport_name(proto),
                src: endpoint(d.src, sport),
                dst: endpoint(d.dst, dport),
                ts,
            },
        );
    }
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
            // Only TCP flows buffer (reassembly, handshake parsing): count
            // what this segment changes for the memory budget.
            let held_before = flow.buffered();
            let was_decided = flow.app.decided;
            on_tcp(flow, side, &seg, &out.keys);
            if flow.app.decided && !was_decided {
                out.settle(flow);
            }
            let closed = flow.is_closed();
            let held_after = flow.buffered();
            table.account(held_before, held_after, &mut |f, exit| out.finish(f, exit));
            if closed {
                table.close(&key, ts, &mut |f, exit| out.finish(f, exit));
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

impl<S: FlowSink> Output<S> {
    /// The handshake is decided: read its certificates now and free what the
    /// parsers held, so a long-lived connection costs little until it ends;
    /// and remember its verdict for sessions that will resume it.
    fn settle(&mut self, flow: &mut Flow<FlowAnalysis>) {
        let origin = origin_of(flow);
        let AppState::Tls(s) = &mut flow.app.state else {
            return;
        };
        self.caches.certs.intern(&mut s.facts.server_chain);
        self.caches.certs.intern(&mut s.facts.client_chain);
        s.shrink();
        let verdict = crate::tls::mtls::decide(&s.facts);
        let link = resumption::Link::of(origin.server, &s.facts);
        self.linker.lock().register(
            &link,
            resumption::Origin {
                mutual: verdict.mutual,
                requested: verdict.client_cert_requested,
                group: key_exchange::record(&s.facts).group_id,
                ..origin
            },
        );
        if self.progress {
            let rec = record::build(flow, Exit::End, &mut self.caches);
            self.sink.decided(flow.id, &rec);
        }
    }

    fn finish(&mut self, mut flow: Flow<FlowAnalysis>, exit: Exit) {
        // Give up on holes that never filled, so the last bytes are analysed.
        if let Some(tcp) = &mut flow.tcp {
            if !flow.app.decided {
                let hint = flow.client.map(|(c, _)| c);
                for side in 0..2 {
                    let fs = tcp.syn[side];
                    let keys = &self.keys;
                    tcp.streams[side].flush(&mut |c| flow.app.on_chunk(side, c, fs, hint, keys));
                }
            }
            if tcp.streams.iter().any(|s| s.stats.gaps > 0) {
                self.flows_with_gaps += 1;
            }
        }
        flow.app.finalize();
        if let Some(s) = flow.app.tls()
            && s.facts.oversized.is_some()
        {
            self.oversized_messages += 1;
        }
        let mut rec = record::build(&flow, exit, &mut self.caches);
        if let (Some(s), Some(tls)) = (flow.app.tls(), rec.tls.as_mut()) {
            let origin = origin_of(&flow);
            let link = resumption::Link::of(origin.server, &s.facts);
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
        self.sink.flow(flow.id, rec);
    }
}

/// A flow as an origin for later resumptions (verdict not yet filled in).
fn origin_of(flow: &Flow<FlowAnalysis>) -> resumption::Origin {
    let (client, _) = flow.client_side();
    resumption::Origin {
        mutual: None,
        requested: None,
        group: None,
        client: flow.key.endpoint(client),
        server: flow.key.endpoint(client ^ 1),
        first_seen: flow.first_seen,
    }
}

fn keylog_warnings(keys: &KeyLog) -> Vec<Warning> {
    if keys.bad_lines == 0 {
        return Vec::new();
    }
    vec![Warning {
        kind: WarningKind::KeylogLines,
        message: format!(
            "{} key log lines could not be read and were skipped: {}",
            keys.bad_lines,
            keys.problems.join("; ")
        ),
    }]
}

/// Decryption Secrets Blocks of other kinds than TLS key logs, counted.
fn ignored_secrets_warning(s: &crate::capture::InputSummary) -> Option<Warning> {
    if s.ignored_secrets.is_empty() {
        return None;
    }
    let kinds: Vec<String> = s
        .ignored_secrets
        .iter()
        .map(|&(kind, n)| format!("{n} of type {}", secrets_type_name(kind)))
        .collect();
    Some(Warning {
        kind: WarningKind::DecryptionSecretsIgnored,
        message: format!(
            "{}: Decryption Secrets Blocks ignored ({}): only TLS key logs (TLSK) are used",
            s.name,
            kinds.join(", ")
        ),
    })
}

/// A pcapng secrets type by its four letters, with its meaning when known.
fn secrets_type_name(kind: u32) -> String {
    let letters: String = kind
        .to_be_bytes()
        .iter()
        .map(|&b| {
            if b.is_ascii_graphic() {
                char::from(b)
            } else {
                '?'
            }
        })
        .collect();
    match kind {
        0x5747_4b4c => format!("{letters} (WireGuard key log)"),
        0x5a4e_574b => format!("{letters} (ZigBee network key)"),
        0x5a41_504b => format!("{letters} (ZigBee APS key)"),
        _ => format!("{letters} (0x{kind:08x})"),
    }
}

fn summary_warnings(stats: &Stats, oversized: u64, gaps: u64) -> Vec<Warning> {
    let mut w = Vec::new();
    if stats.truncated_packets > 0 {
        w.push(Warning {
            kind: WarningKind::Snaplen,
            message: format!(
                "{} packets were cut by the capture's snap length; their flows were analysed as far as the bytes go",
                stats.truncated_packets
            ),
        });
    }
    if stats.evicted_flows > 0 {
        w.push(Warning {
            kind: WarningKind::FlowTableFull,
            message: format!(
                "{} flows were evicted from the full flow table before they ended (raise --max-flows)",
                stats.evicted_flows
            ),
        });
    }
    if stats.buffer_budget_flows > 0 {
        w.push(Warning {
            kind: WarningKind::BufferBudget,
            message: format!(
                "{} flows were finished before they ended: the flow table's entries and buffers together \
                 exceeded the memory budget (raise --buffer-budget-mib; a flood of new or undecided flows does this)",
                stats.buffer_budget_flows
            ),
        });
    }
    if gaps > 0 {
        w.push(Warning {
            kind: WarningKind::CaptureGaps,
            message: format!("{gaps} TCP flows have bytes the capture missed (see tcp.gaps)"),
        });
    }
    if oversized > 0 {
        w.push(Warning {
            kind: WarningKind::OversizedHandshake,
            message: format!("{oversized} flows had a handshake message too large to reassemble"),
        });
    }
    if let Some(n) = stats.decode_errors.get("unsupported_link_type") {
        w.push(Warning {
            kind: WarningKind::UnsupportedLinkType,
            message: format!("{n} packets have a link type tls-audit does not decode"),
        });
    }
    w
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
            engine.add_secrets(
                &format!("{input} (Decryption Secrets Block {blocks})"),
                text,
            );
        }
    });
    let mut warnings = keylog_warnings(engine.keys());
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
    engine.finish(inputs, warnings)
}

#[cfg(test)]
mod tests;
