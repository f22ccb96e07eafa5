//! `analyze --threads N` with N > 2: a capture's flows analysed by N workers,
//! with the report one thread writes, byte for byte (2 threads read ahead
//! instead, `capture::ahead`: sharding did not pay off on two cores).
//!
//! One reader thread reads and decodes the frames (IP defragmentation keeps
//! state, so decoding stays in one place) and decides every flow's lifetime
//! with the same flow-table code as the one-thread engine, keeping only keys,
//! times and TCP flags: stragglers of closed connections, restarts after a
//! reset, idle expiry, eviction from a full table and the entries' share of
//! the memory budget come out as with one thread. Every packet and every
//! "this flow ended" gets a sequence number and goes to the worker that owns
//! its flow: a hash of the canonical flow key, which both directions share.
//! Workers reassemble, parse handshakes and build records in parallel.
//!
//! The calling thread merges what the workers return in sequence order and
//! does what needs every flow: resumption linking (a resumed session may
//! resume a handshake another worker saw), counting, and the sink
//! (verification, the spill file), in the order one thread finishes the
//! flows. A flow's id is the sequence number of the packet that created it,
//! so ordering by id is creation order, as with one thread.
//!
//! The one thing that cannot be the same: the bytes undecided flows hold
//! are held to the memory budget per worker (1/N of it each, so memory
//! stays bounded), and which flows a worker finishes early depends on its
//! share. Every check a worker makes is at least as strict as one thread's
//! on the whole table, so when no worker reached its share one thread would
//! not have reached the budget either (and the reports are identical);
//! when one did, the `buffer-budget` warning says that the flows finished
//! early can differ from `--threads 1`.

use std::collections::VecDeque;
use std::hash::BuildHasher;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use crate::capture::{CaptureReader, Item, LinkType, MergedSource, Nanos};
use crate::decode::{Decoded, Decoder, L4, TcpFlags, TcpSegment, Underlay};
use crate::flow::{Buffered, Exit, Flow, FlowConfig, FlowKey, FlowTable, Side};
use crate::model::report::{Report, Stats, Warning};
use crate::tls::KeyLog;

use super::{
    Config, FinishCounts, Finished, FlowAnalysis, FlowSink, FlowWork, Output, admit, count_frame,
    decoder_stats, finish, inputs_of, key_of, record, resumption, secrets_source, settle,
    update_flow,
};

/// Events the reader gathers before it hands a batch to every worker.
const BATCH_EVENTS: usize = 1024;
/// Payload bytes the reader gathers before it hands batches out.
const BATCH_BYTES: usize = 256 << 10;
/// Batches waiting per worker: the reader stops when a worker falls behind,
/// so memory stays bounded whatever the capture.
const QUEUE: usize = 2;

/// The worker that owns a flow. The key is canonical (both directions of
/// a connection have the same key), so both directions go to one worker.
/// The seed is fixed so that a run is reproducible.
pub(crate) fn shard_of(key: &FlowKey, workers: usize) -> usize {
    const SEED: foldhash::fast::FixedState = foldhash::fast::FixedState::with_seed(0x7415_a0d1);
    let h = SEED.hash_one(key);
    // Multiply-shift: the high bits of the hash, spread over the workers.
    usize::try_from((u128::from(h) * workers as u128) >> 64).unwrap_or(0)
}

/// What the reader tells a worker.
enum Event {
    /// A packet of one of its flows.
    Packet(Pkt),
    /// The flow under this key ended (as the flow table decided).
    Finish { key: FlowKey, exit: Exit },
    /// Key log text from a pcapng Decryption Secrets Block.
    Secrets { source: String, text: Vec<u8> },
}

/// Set by the worker once its flow is decided: nothing reads the flow's
/// TCP payload after that (only lengths and flags are counted), so the
/// reader stops copying it. Only a hint: the reader may see it late and
/// copy a few payloads for nothing, never early.
#[derive(Default)]
struct Decided(Arc<AtomicBool>);

impl Buffered for Decided {
    fn buffered(&self) -> usize {
        0
    }
}

/// A decoded packet, owned: its payload sits in the batch's arena.
struct Pkt {
    ts: Nanos,
    key: FlowKey,
    side: Side,
    l4: Wire,
    payload: Range<usize>,
    ip_len: u32,
    truncated: bool,
    inside: Option<Underlay>,
    cut: bool,
    /// On a flow's first packet: the flag its worker sets once decided.
    decided: Option<Decided>,
    /// The payload was left out: the flow was decided (see [`Decided`]).
    elided: bool,
}

/// The transport header fields a worker needs (ports come from the key).
#[derive(Clone, Copy)]
enum Wire {
    Tcp {
        seq: u32,
        ack: u32,
        flags: TcpFlags,
        payload_len: u32,
    },
    Udp,
    Esp,
}

impl Pkt {
    /// The packet as the decoder gave it.
    fn decoded<'a>(&self, arena: &'a [u8]) -> Decoded<'a> {
        let (src, dst) = (
            self.key.endpoint(self.side),
            self.key.endpoint(self.side ^ 1),
        );
        let payload = arena.get(self.payload.clone()).unwrap_or_default();
        let l4 = match self.l4 {
            Wire::Tcp {
                seq,
                ack,
                flags,
                payload_len,
            } => L4::Tcp(TcpSegment {
                src_port: src.port(),
                dst_port: dst.port(),
                seq,
                ack,
                flags,
                payload,
                payload_len,
            }),
            Wire::Udp => L4::Udp {
                src_port: src.port(),
                dst_port: dst.port(),
                payload,
            },
            Wire::Esp => L4::Esp,
        };
        Decoded {
            src: src.ip(),
            dst: dst.ip(),
            l4,
            ip_len: self.ip_len,
            truncated: self.truncated,
            inside: self.inside,
        }
    }
}

/// Events for one worker, each with its sequence number, and the highest
/// sequence number handed out when the batch was sent (the worker has
/// seen everything of its own up to there once it answers).
#[derive(Default)]
struct Batch {
    events: Vec<(u64, Event)>,
    arena: Vec<u8>,
    upto: u64,
}

/// What a worker's flows produced, for the merge.
enum Outcome {
    /// A handshake was decided: its verdict, for resumptions of it.
    Settled(Box<(resumption::Link, resumption::Origin)>),
    /// A flow finished.
    Finished(Box<Finished>),
}

/// A worker's answer to a batch; `end` with its totals after the last.
struct Answer {
    worker: usize,
    outcomes: Vec<(u64, Outcome)>,
    upto: u64,
    end: Option<WorkerTotals>,
}

#[derive(Default, Clone, Copy)]
struct WorkerTotals {
    /// Flows it finished early for its share of the memory budget.
    over_budget: u64,
    counts: FinishCounts,
}

/// Analyse captures with `cfg.threads` workers; see the module header.
/// Should the system refuse a thread, everything is analysed on the
/// calling thread instead (the report is the same).
pub(super) fn run<S: FlowSink>(
    readers: Vec<CaptureReader>,
    cfg: &Config,
    sink: S,
    keys: KeyLog,
) -> (Report, S) {
    let n = cfg.threads.max(1);
    let share = FlowConfig {
        buffer_budget: (cfg.flows.buffer_budget / n).max(1),
        ..cfg.flows
    };
    let mut out = Output::new(sink, KeyLog::default());
    let ran = std::thread::scope(|scope| {
        let (answers, answered) = sync_channel::<Answer>(QUEUE * n);
        // Handled batches go back to the reader to be filled again: fresh
        // ones cost an allocation that grows and a page fault per page.
        let (spare, spares) = std::sync::mpsc::channel::<Batch>();
        let mut to_workers = Vec::with_capacity(n);
        let mut workers = Vec::with_capacity(n);
        for i in 0..n {
            let (tx, rx) = sync_channel::<Batch>(QUEUE);
            let answers = answers.clone();
            let spare = spare.clone();
            let own_keys = keys.clone();
            to_workers.push(tx);
            let spawned = std::thread::Builder::new()
                .name(format!("tls-audit-w{i}"))
                .spawn_scoped(scope, move || work(i, rx, answers, spare, share, own_keys));
            match spawned {
                Ok(w) => workers.push(w),
                // The workers started see their queues close and end.
                Err(_) => return Err((readers, keys)),
            }
        }
        drop((answers, spare));
        // The inputs go to the reader once it runs, so that they are still
        // here should it not start.
        let (give, take) = sync_channel::<(Vec<CaptureReader>, KeyLog)>(1);
        let flows = cfg.flows;
        let spawned = std::thread::Builder::new()
            .name("tls-audit-reader".into())
            .spawn_scoped(scope, move || {
                let (readers, keys) = take.recv().ok()?;
                Some(read(readers, flows, keys, to_workers, spares))
            });
        let reader = match spawned {
            Ok(r) => r,
            Err(_) => return Err((readers, keys)),
        };
        if let Err(refused) = give.send((readers, keys)) {
            return Err(refused.0);
        }
        let totals = merge(answered, n, &mut out);
        for w in workers {
            if let Err(panic) = w.join() {
                std::panic::resume_unwind(panic);
            }
        }
        match reader.join() {
            Ok(Some(end)) => Ok((end, totals)),
            // It started, so it had the inputs: not reached.
            Ok(None) => Ok((ReaderEnd::default(), totals)),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    });
    let (end, totals) = match ran {
        Ok(ran) => ran,
        Err((readers, keys)) => {
            let one = Config { threads: 1, ..*cfg };
            return super::run_with_keys(readers, &one, out.sink, keys);
        }
    };
    let report = conclude_shards(end, totals, &out.stats, n);
    (report, out.sink)
}

/// The report from what the reader counted, what the merge counted
/// (`merged`) and the `n` workers' totals.
fn conclude_shards(end: ReaderEnd, totals: WorkerTotals, merged: &Stats, n: usize) -> Report {
    let ReaderEnd {
        mut stats,
        inputs,
        warnings,
    } = end;
    stats.absorb(merged);
    stats.buffer_budget_flows += totals.over_budget;
    let shards = (totals.over_budget > 0).then_some(n);
    super::conclude(stats, totals.counts, inputs, warnings, shards)
}

/// What the reader knows at the end: the packet, table and decoder
/// counters, the inputs and their warnings.
#[derive(Default)]
struct ReaderEnd {
    stats: Stats,
    inputs: Vec<crate::model::report::Input>,
    warnings: Vec<Warning>,
}

/// The reader thread: frames in, events out to the workers.
struct Reader {
    decoder: Decoder,
    table: FlowTable<Decided>,
    stats: Stats,
    keys: KeyLog,
    routes: Routes,
    to_workers: Vec<SyncSender<Batch>>,
    /// Batches the workers are done with.
    spares: Receiver<Batch>,
    /// A worker stopped answering (it panicked): stop reading.
    broken: bool,
}

/// The batches being filled, one per worker, and the sequence numbers.
struct Routes {
    seq: u64,
    batches: Vec<Batch>,
    pending: usize,
    pending_bytes: usize,
}

impl Routes {
    /// The batch of the worker that owns `key`.
    fn batch(&mut self, key: &FlowKey) -> Option<&mut Batch> {
        let n = self.batches.len();
        self.batches.get_mut(shard_of(key, n))
    }

    /// The flow under `key` ended.
    fn ended(&mut self, key: FlowKey, exit: Exit) {
        self.seq += 1;
        self.pending += 1;
        let seq = self.seq;
        if let Some(b) = self.batch(&key) {
            b.events.push((seq, Event::Finish { key, exit }));
        }
    }

    /// A packet for the worker that owns its flow; its payload is copied
    /// into the batch.
    fn packet(&mut self, mut pkt: Pkt, payload: &[u8]) {
        self.seq += 1;
        self.pending += 1;
        self.pending_bytes += payload.len();
        let seq = self.seq;
        if let Some(b) = self.batch(&pkt.key) {
            let at = b.arena.len();
            b.arena.extend_from_slice(payload);
            pkt.payload = at..b.arena.len();
            b.events.push((seq, Event::Packet(pkt)));
        }
    }
}

fn read(
    readers: Vec<CaptureReader>,
    flows: FlowConfig,
    keys: KeyLog,
    to_workers: Vec<SyncSender<Batch>>,
    spares: Receiver<Batch>,
) -> ReaderEnd {
    let mut r = Reader {
        decoder: Decoder::new(),
        table: FlowTable::new(flows),
        stats: Stats::default(),
        keys,
        routes: Routes {
            seq: 0,
            batches: to_workers.iter().map(|_| Batch::default()).collect(),
            pending: 0,
            pending_bytes: 0,
        },
        to_workers,
        spares,
        broken: false,
    };
    let mut source = MergedSource::new(readers);
    let mut unknown_link = false;
    let mut blocks = 0u64;
    source.for_each(&mut |item| match item {
        Item::Packet(p) => match p.link {
            Some(link) => r.frame(p.ts, link, p.data, p.orig_len),
            None => unknown_link = true,
        },
        Item::Secrets { input, text } => {
            blocks += 1;
            let source = secrets_source(input, blocks);
            r.keys.add(&source, text);
            // Every worker learns the secrets at this point of the stream.
            r.routes.seq += 1;
            for b in &mut r.routes.batches {
                b.events.push((
                    r.routes.seq,
                    Event::Secrets {
                        source: source.clone(),
                        text: text.to_vec(),
                    },
                ));
            }
        }
    });
    // The capture ended: every flow left finishes, in creation order.
    for flow in r.table.drain() {
        r.routes.ended(flow.key, Exit::End);
    }
    r.flush();
    let (inputs, warnings) = inputs_of(&source, &r.keys, unknown_link);
    let mut stats = std::mem::take(&mut r.stats);
    stats.evicted_flows = r.table.evicted;
    stats.buffer_budget_flows = r.table.over_budget;
    stats.packets_after_close = r.table.stragglers;
    decoder_stats(&mut stats, &r.decoder);
    ReaderEnd {
        stats,
        inputs,
        warnings,
    }
}

impl Reader {
    /// One captured frame: decoded here, its packets routed.
    fn frame(&mut self, ts: Nanos, link: LinkType, data: &[u8], orig_len: u32) {
        if self.broken {
            return;
        }
        let cut = count_frame(&mut self.stats, data, orig_len);
        let Reader {
            decoder,
            table,
            stats,
            routes,
            ..
        } = self;
        decoder.decode(ts, link, data, &mut |d| {
            let Some((key, side)) = key_of(d) else {
                stats.other_ip_packets += 1;
                return;
            };
            let Some(flow) = admit(table, key, side, ts, d, &mut |f, exit| {
                routes.ended(f.key, exit)
            }) else {
                return;
            };
            // What the table needs of the flow: when it was last seen and
            // whether it closed or was reset (`on_tcp` sets the same).
            flow.last_seen = ts;
            let first = flow.packets == [0, 0];
            flow.packets[side] += 1;
            let decided = flow.app.0.load(Ordering::Acquire);
            let (l4, payload, closed) = match (d.l4, &mut flow.tcp) {
                (L4::Tcp(seg), Some(tcp)) => {
                    tcp.fin[side] |= seg.flags.fin;
                    tcp.rst |= seg.flags.rst;
                    let wire = Wire::Tcp {
                        seq: seg.seq,
                        ack: seg.ack,
                        flags: seg.flags,
                        payload_len: seg.payload_len,
                    };
                    // SYN data is kept whatever the flow (`on_tcp` reads it).
                    let payload = if decided && !seg.flags.syn {
                        &[][..]
                    } else {
                        seg.payload
                    };
                    (wire, payload, tcp.fin[0] && tcp.fin[1])
                }
                (L4::Udp { payload, .. }, _) => (Wire::Udp, payload, false),
                _ => (Wire::Esp, &[][..], false),
            };
            let elided = match d.l4 {
                L4::Tcp(seg) => payload.len() < seg.payload.len(),
                _ => false,
            };
            let pkt = Pkt {
                ts,
                key,
                side,
                l4,
                payload: 0..0,
                ip_len: d.ip_len,
                truncated: d.truncated,
                inside: d.inside,
                cut,
                decided: first.then(|| Decided(Arc::clone(&flow.app.0))),
                elided,
            };
            routes.packet(pkt, payload);
            if closed {
                table.close(&key, ts, &mut |f, exit| routes.ended(f.key, exit));
            }
        });
        if self.routes.pending >= BATCH_EVENTS || self.routes.pending_bytes >= BATCH_BYTES {
            self.flush();
        }
    }

    /// Hand every worker its batch, empty or not, so that every worker
    /// can tell the merge how far it has got.
    fn flush(&mut self) {
        let upto = self.routes.seq;
        for (b, tx) in self.routes.batches.iter_mut().zip(&self.to_workers) {
            let mut batch = std::mem::replace(b, self.spares.try_recv().unwrap_or_default());
            batch.upto = upto;
            if tx.send(batch).is_err() {
                self.broken = true;
            }
        }
        self.routes.pending = 0;
        self.routes.pending_bytes = 0;
    }
}

/// A worker's flows and what they need.
struct Shard {
    /// The flags of undecided flows, set when they are decided.
    decided: std::collections::HashMap<FlowKey, Decided>,
    caches: record::Caches,
    keys: KeyLog,
    counts: FinishCounts,
    /// The sequence number of the event being handled.
    seq: u64,
    outcomes: Vec<(u64, Outcome)>,
}

impl FlowWork for Shard {
    fn keys(&self) -> &KeyLog {
        &self.keys
    }

    fn settle(&mut self, flow: &mut Flow<FlowAnalysis>) {
        if let Some(flag) = self.decided.remove(&flow.key) {
            flag.0.store(true, Ordering::Release);
        }
        if let Some((link, origin)) = settle(flow, &mut self.caches) {
            self.outcomes
                .push((self.seq, Outcome::Settled(Box::new((link, origin)))));
        }
    }
}

impl Shard {
    fn finished(&mut self, flow: Flow<FlowAnalysis>, exit: Exit) {
        self.decided.remove(&flow.key);
        let done = finish(flow, exit, &mut self.caches, &self.keys, &mut self.counts);
        self.outcomes
            .push((self.seq, Outcome::Finished(Box::new(done))));
    }
}

impl Shard {
    /// One packet of this worker's flows (its bytes in `arena`).
    fn packet(&mut self, table: &mut FlowTable<FlowAnalysis>, p: Pkt, arena: &[u8], seq: u64) {
        let d = p.decoded(arena);
        // A flow this worker finished early (its share of the budget)
        // starts again, as a new flow would.
        let (flow, created) = table.get_or_insert_with_id(p.key, p.side, p.ts, seq);
        if let Some(flag) = p.decided {
            self.decided.insert(p.key, flag);
        }
        // Left out for a decided flow; should a flow restarted here (its
        // share of the budget) get one, its bytes are missing: said as a
        // cut packet is, never guessed.
        flow.truncated |= p.elided && !flow.app.decided;
        let held_before = flow.buffered();
        update_flow(flow, p.side, p.ts, &d, p.cut, self);
        let held_after = flow.buffered();
        // One thread checks the budget on TCP packets; a worker also when
        // its table grows, so that its share is never exceeded unseen (see
        // the module header).
        if flow.tcp.is_some() || created {
            table.account(held_before, held_after, &mut |f, exit| {
                self.finished(f, exit)
            });
        }
    }
}

/// A worker: its flows' packets in, their outcomes out, batch by batch.
fn work(
    worker: usize,
    batches: Receiver<Batch>,
    answers: SyncSender<Answer>,
    spare: std::sync::mpsc::Sender<Batch>,
    share: FlowConfig,
    keys: KeyLog,
) {
    let mut table: FlowTable<FlowAnalysis> = FlowTable::new(share);
    let mut shard = Shard {
        decided: std::collections::HashMap::new(),
        caches: record::Caches::default(),
        keys,
        counts: FinishCounts::default(),
        seq: 0,
        outcomes: Vec::new(),
    };
    for mut batch in batches {
        for (seq, event) in batch.events.drain(..) {
            shard.seq = seq;
            match event {
                Event::Packet(p) => shard.packet(&mut table, p, &batch.arena, seq),
                Event::Finish { key, exit } => {
                    if let Some(f) = table.remove(&key) {
                        shard.finished(f, exit);
                    }
                }
                Event::Secrets { source, text } => shard.keys.add(&source, &text),
            }
        }
        let answer = Answer {
            worker,
            outcomes: std::mem::take(&mut shard.outcomes),
            upto: batch.upto,
            end: None,
        };
        if answers.send(answer).is_err() {
            return;
        }
        batch.arena.clear();
        // The reader may have ended: then the batch is simply dropped.
        let _ = spare.send(batch);
    }
    // Flows a worker restarted after finishing them early: the reader does
    // not know them, so they end here, after everything else.
    shard.seq = u64::MAX;
    for f in table.drain() {
        shard.finished(f, Exit::End);
    }
    let end = WorkerTotals {
        over_budget: table.over_budget,
        counts: shard.counts,
    };
    let _ = answers.send(Answer {
        worker,
        outcomes: std::mem::take(&mut shard.outcomes),
        upto: u64::MAX,
        end: Some(end),
    });
}

/// Put the workers' outcomes back in sequence order and deliver them as
/// one thread would have, as soon as no worker can still send an earlier
/// one. Returns the workers' totals.
fn merge<S: FlowSink>(answers: Receiver<Answer>, n: usize, out: &mut Output<S>) -> WorkerTotals {
    let mut queues: Vec<VecDeque<(u64, Outcome)>> = (0..n).map(|_| VecDeque::new()).collect();
    let mut upto = vec![0u64; n];
    let mut totals = WorkerTotals::default();
    for a in answers {
        if let (Some(q), Some(u)) = (queues.get_mut(a.worker), upto.get_mut(a.worker)) {
            q.extend(a.outcomes);
            *u = a.upto;
        }
        if let Some(end) = a.end {
            totals.over_budget += end.over_budget;
            totals.counts.oversized_messages += end.counts.oversized_messages;
            totals.counts.flows_with_gaps += end.counts.flows_with_gaps;
        }
        release(&mut queues, &upto, out);
    }
    // Every worker has ended (or died, and its panic is raised by the
    // caller): what is left is in order.
    release(&mut queues, &vec![u64::MAX; n], out);
    totals
}

/// Deliver outcomes while the earliest one waiting cannot be preceded by
/// one still to come: a worker with nothing waiting has handled every
/// event up to `upto`, and each worker's outcomes come in order.
fn release<S: FlowSink>(
    queues: &mut [VecDeque<(u64, Outcome)>],
    upto: &[u64],
    out: &mut Output<S>,
) {
    loop {
        let mut earliest: Option<(u64, usize)> = None;
        let mut bound = u64::MAX;
        for (i, q) in queues.iter().enumerate() {
            match q.front() {
                Some(&(seq, _)) => {
                    if earliest.is_none_or(|(s, _)| seq < s) {
                        earliest = Some((seq, i));
                    }
                }
                None => bound = bound.min(upto.get(i).copied().unwrap_or(0)),
            }
        }
        let Some((seq, i)) = earliest else { return };
        if seq > bound {
            return;
        }
        let Some((_, outcome)) = queues.get_mut(i).and_then(VecDeque::pop_front) else {
            return;
        };
        match outcome {
            Outcome::Settled(settled) => out.linker.lock().register(&settled.0, settled.1),
            Outcome::Finished(done) => out.deliver(*done),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    /// The worker the reader picks for a packet from `src` to `dst`: the
    /// same path as `Reader::frame` (the decoded packet's key, hashed).
    fn worker(proto: u8, src: SocketAddr, dst: SocketAddr, n: usize) -> usize {
        let flags = TcpFlags::default();
        let l4 = match proto {
            6 => L4::Tcp(TcpSegment {
                src_port: src.port(),
                dst_port: dst.port(),
                seq: 1,
                ack: 0,
                flags,
                payload: &[],
                payload_len: 0,
            }),
            _ => L4::Udp {
                src_port: src.port(),
                dst_port: dst.port(),
                payload: &[],
            },
        };
        let d = Decoded {
            src: src.ip(),
            dst: dst.ip(),
            l4,
            ip_len: 40,
            truncated: false,
            inside: None,
        };
        let (key, _) = key_of(&d).expect("a flow");
        shard_of(&key, n)
    }

    /// Both directions of a connection must reach the same worker, or
    /// each half would be analysed alone: a routing that is not symmetric
    /// fails here for some of the many pairs tried (IPv4 and IPv6, TCP and
    /// UDP, client port above and below the server's).
    #[test]
    fn both_directions_go_to_the_same_worker() {
        let mut spread = [0usize; 7];
        for i in 0..4000u32 {
            let (client, server): (SocketAddr, SocketAddr) = if i % 2 == 0 {
                (
                    format!("[fd01::{i:x}]:{}", 1024 + i).parse().unwrap(),
                    format!("[fd00::{:x}]:443", i % 97).parse().unwrap(),
                )
            } else {
                (
                    format!("10.{}.{}.1:{}", i % 7, i % 251, 1 + i * 13 % 65_000)
                        .parse()
                        .unwrap(),
                    format!("10.9.{}.2:{}", i % 13, 443 + i % 5)
                        .parse()
                        .unwrap(),
                )
            };
            for proto in [6u8, 17] {
                for n in 2..=8usize {
                    let w = worker(proto, client, server, n);
                    assert_eq!(
                        w,
                        worker(proto, server, client, n),
                        "{client} <-> {server}, {n} workers"
                    );
                    assert!(w < n);
                    if n == 7 && proto == 6 {
                        spread[w] += 1;
                    }
                }
            }
        }
        // And flows spread: no worker of seven gets twice its share.
        for &c in &spread {
            assert!(c > 0 && c < 2 * 4000 / 7, "{spread:?}");
        }
    }
}
