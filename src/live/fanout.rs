//! Every core of a busy node: one capture socket per worker thread, joined
//! in a kernel fanout group (`PACKET_FANOUT`, packet(7)) in hash mode, so
//! the kernel spreads the interface's packets over the workers by flow.
//! The kernel's fanout hash is the symmetric flow hash
//! (`__skb_get_hash_symmetric`), so both directions of a connection reach
//! the same worker (`tests/integration/fanout.rs` checks it on real
//! traffic); IP fragments are reassembled before hashing
//! (`PACKET_FANOUT_FLAG_DEFRAG`).
//!
//! Each worker runs its own [`Analyzer`] on its own ring; what they decide
//! goes over a bounded channel to the calling thread, which owns the one
//! sink (events, metrics, report), so the output path is the one-socket
//! path's. Flow ids come from one counter, so they stay unique and follow
//! the order the workers created the flows in (within a worker, the
//! packets' order; across workers, the order they were read in); resumed
//! sessions are matched across workers through one shared table. Before
//! any worker finishes its remaining flows, every worker has read what its
//! ring held.
//!
//! Opening: each socket gets a filter that passes nothing until every
//! socket has joined the group, and what it queued before (also the ring
//! block handed over at its timeout) is thrown away, so no packet is seen
//! twice (a socket outside the group sees every packet). Then the real filter goes on every socket. If a socket cannot
//! be opened or joined, the capture goes on with the first socket alone
//! and says why ([`super::LiveHandle::fallback`]).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::{Duration, Instant};

use pcap::{Active, Capture};

use super::source::{
    BLOCK_WAIT, Clock, Ended, LibpcapCounts, LiveOptions, LiveOutcome, Progress, StopReason,
    Worker, open_handle, set_filter,
};
use super::{LiveError, sys};
use crate::capture::{LinkType, Nanos};
use crate::engine::{Analyzer, Config, FlowOpened, FlowSink, Shared, Totals};
use crate::model::WarningKind;
use crate::model::report::{Fanout, FanoutWorker, FlowRecord, Warning};

/// A filter no packet passes (`len <= 0`), for a socket not yet in the
/// group.
const PASS_NOTHING: &str = "less 0";

/// Decisions in flight from the workers to the sink; a full channel makes
/// a worker wait (its ring takes up the slack, as when one thread writes).
const CHANNEL: usize = 4096;

/// Sockets in a fanout group, its id, or one socket and why not.
type Group = (Vec<Capture<Active>>, Option<u16>, Option<String>);

/// Open `opts.workers` sockets in one fanout group. The first socket's
/// errors are the capture's (no interface, no permission, bad filter);
/// failures after it fall back to that socket alone, with the reason.
pub(super) fn open_group(opts: &LiveOptions) -> Result<Group, LiveError> {
    let first = open_handle(opts, Some(PASS_NOTHING))?;
    let mut handles = vec![first];
    let joined = join_all(opts, &mut handles);
    if joined.is_err() {
        // The others leave the group as they close; the first is alone in
        // it and gets every packet.
        handles.truncate(1);
    }
    for h in &mut handles {
        // An empty expression passes every packet.
        set_filter(h, opts.filter.as_deref().unwrap_or(""))?;
    }
    match joined {
        Ok(group) => Ok((handles, Some(group), None)),
        Err(why) => Ok((
            handles,
            None,
            Some(format!(
                "packet fanout over {} capture sockets is not available on {}: {why}; capturing with one worker",
                opts.workers, opts.interface
            )),
        )),
    }
}

/// Open the other sockets (passing nothing), throw away what every socket
/// queued before its filter, then make the group and join them all.
fn join_all(opts: &LiveOptions, handles: &mut Vec<Capture<Active>>) -> Result<u16, String> {
    for n in 1..opts.workers {
        let h = open_handle(opts, Some(PASS_NOTHING))
            .map_err(|e| format!("capture socket {} of {}: {e}", n + 1, opts.workers))?;
        handles.push(h);
    }
    discard_queued(handles)?;
    let (first, rest) = handles.split_first().ok_or("no first socket")?;
    let group =
        sys::fanout_create(first).map_err(|e| format!("setsockopt(PACKET_FANOUT) failed: {e}"))?;
    for h in rest {
        sys::fanout_join(h, group)
            .map_err(|e| format!("setsockopt(PACKET_FANOUT) to join group {group} failed: {e}"))?;
    }
    Ok(group)
}

/// Read out and drop what the sockets queued before their filter was set,
/// including the ring block the kernel hands over only at its timeout.
/// Nothing new enters (the filter passes nothing), so this ends.
fn discard_queued(handles: &mut [Capture<Active>]) -> Result<(), String> {
    let until = Instant::now() + BLOCK_WAIT;
    while Instant::now() < until {
        for h in handles.iter_mut() {
            loop {
                match h.next_packet() {
                    Ok(_) => {}
                    Err(pcap::Error::TimeoutExpired) => break,
                    Err(e) => return Err(format!("emptying a capture socket: {e}")),
                }
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

/// What a worker tells the thread that owns the sink.
enum Msg {
    Opened(u64, FlowOpened),
    Decided(u64, Box<FlowRecord>),
    Flow(u64, Box<FlowRecord>),
    Tick,
    Progress(usize, Progress),
}

/// A worker's sink: everything goes to the owning thread.
struct Forward {
    tx: SyncSender<Msg>,
    worker: usize,
    progress: bool,
}

impl Forward {
    fn send(&self, m: Msg) {
        // The receiver lives until every worker is done: a send fails only
        // if the owning thread is gone, and then nothing is listening.
        let _ = self.tx.send(m);
    }
}

impl FlowSink for Forward {
    fn flow(&mut self, id: u64, record: FlowRecord) {
        self.send(Msg::Flow(id, Box::new(record)));
    }

    fn wants_progress(&self) -> bool {
        self.progress
    }

    fn opened(&mut self, id: u64, opened: &FlowOpened) {
        self.send(Msg::Opened(id, *opened));
    }

    fn decided(&mut self, id: u64, record: &FlowRecord) {
        self.send(Msg::Decided(id, Box::new(record.clone())));
    }

    fn tick(&mut self) {
        // The sink ticks once per tick, not once per worker.
        if self.worker == 0 {
            self.send(Msg::Tick);
        }
    }
}

/// A worker's result.
struct Done {
    totals: Totals,
    counters: LibpcapCounts,
    window: Option<(Nanos, Nanos)>,
    stopped_by: StopReason,
    unread: bool,
}

/// Counts a worker as arrived when dropped, also when it unwinds, so the
/// others never wait for a worker that is gone.
struct Arrival<'a>(&'a AtomicUsize);

impl Drop for Arrival<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// The flow table limits of one of `n` workers: the configured totals
/// shared out, so the agent's memory bounds stay what was asked for.
fn worker_config(cfg: &Config, n: usize) -> Config {
    let mut c = *cfg;
    c.flows.max_flows = cfg.flows.max_flows.div_ceil(n).max(1);
    c.flows.buffer_budget = cfg.flows.buffer_budget / n;
    c
}

/// Capture with one worker per handle (all in fanout group `group`) until
/// the duration ends or `stop` is set.
#[allow(clippy::too_many_arguments)]
pub(super) fn run<S: FlowSink>(
    handles: Vec<Capture<Active>>,
    group: u16,
    link: LinkType,
    opts: &LiveOptions,
    cfg: &Config,
    mut sink: S,
    stop: &AtomicBool,
    on_tick: &mut dyn FnMut(&Progress),
) -> LiveOutcome<S> {
    let n = handles.len();
    let started = super::wall_clock();
    let clock = Clock::start_unsignalled(opts);
    let wcfg = worker_config(cfg, n);
    let shared = Shared::default();
    let progress = sink.wants_progress();
    let failed = AtomicBool::new(false);
    let arrived = AtomicUsize::new(0);
    let (tx, rx) = sync_channel(CHANNEL);
    let results: Vec<Option<Done>> = std::thread::scope(|scope| {
        let joins: Vec<_> = handles
            .into_iter()
            .enumerate()
            .map(|(w, handle)| {
                let forward = Forward {
                    tx: tx.clone(),
                    worker: w,
                    progress,
                };
                let ticks = tx.clone();
                let shared = shared.clone();
                let (clock, failed, arrived) = (&clock, &failed, &arrived);
                std::thread::Builder::new()
                    .name(format!("capture-{w}"))
                    .spawn_scoped(scope, move || {
                        let arrival = Arrival(arrived);
                        let engine = Analyzer::with_shared(wcfg, forward, &shared);
                        let mut worker = Worker::new(handle, None, link, engine);
                        let should_stop =
                            || stop.load(Ordering::Relaxed) || failed.load(Ordering::Relaxed);
                        let mut tick = |p: &Progress| {
                            let _ = ticks.send(Msg::Progress(w, *p));
                        };
                        let stopped_by = worker.capture(clock, &should_stop, &mut tick);
                        if matches!(stopped_by, StopReason::Error(_)) {
                            failed.store(true, Ordering::Relaxed);
                        }
                        // Every worker has read its ring before any finishes
                        // its flows: a resumed session's origin, decided on
                        // another worker, is known by then.
                        drop(arrival);
                        while arrived.load(Ordering::SeqCst) < n {
                            std::thread::sleep(Duration::from_millis(1));
                        }
                        let counters = worker.counters();
                        let (window, unread) = (worker.window, worker.unread);
                        let (totals, _) = worker.engine.close();
                        Done {
                            totals,
                            counters,
                            window,
                            stopped_by,
                            unread,
                        }
                    })
            })
            .collect();
        drop(tx);
        collect(&rx, &mut sink, n, on_tick);
        joins
            .into_iter()
            .map(|j| j.ok().and_then(|h| h.join().ok()))
            .collect()
    });
    finish(results, group, link, started, opts, sink, on_tick)
}

/// Hand the workers' decisions to the sink until every worker is done.
fn collect<S: FlowSink>(
    rx: &Receiver<Msg>,
    sink: &mut S,
    n: usize,
    on_tick: &mut dyn FnMut(&Progress),
) {
    let mut latest = vec![Progress::default(); n];
    for msg in rx {
        match msg {
            Msg::Opened(id, o) => sink.opened(id, &o),
            Msg::Decided(id, r) => sink.decided(id, &r),
            Msg::Flow(id, r) => sink.flow(id, *r),
            Msg::Tick => sink.tick(),
            Msg::Progress(w, p) => {
                if let Some(slot) = latest.get_mut(w) {
                    *slot = p;
                }
                // Once per tick (the first worker's), with every worker's
                // latest counters summed.
                if w == 0 {
                    on_tick(&sum(&latest));
                }
            }
        }
    }
}

fn sum(ps: &[Progress]) -> Progress {
    ps.iter().fold(Progress::default(), |a, p| Progress {
        received: a.received.saturating_add(p.received),
        dropped: a.dropped.saturating_add(p.dropped),
        if_dropped: a.if_dropped.saturating_add(p.if_dropped),
        packets: a.packets.saturating_add(p.packets),
        active_flows: a.active_flows.saturating_add(p.active_flows),
        flows: a.flows.saturating_add(p.flows),
    })
}

/// One report from the workers' results.
fn finish<S: FlowSink>(
    results: Vec<Option<Done>>,
    group: u16,
    link: LinkType,
    started: Nanos,
    opts: &LiveOptions,
    sink: S,
    on_tick: &mut dyn FnMut(&Progress),
) -> LiveOutcome<S> {
    let mut totals = Totals::default();
    let mut counters = LibpcapCounts::default();
    let mut window: Option<(Nanos, Nanos)> = None;
    let mut stopped_by: Option<StopReason> = None;
    let mut unread = false;
    let mut workers = Vec::with_capacity(results.len());
    let mut last = Vec::with_capacity(results.len());
    for (w, r) in results.into_iter().enumerate() {
        let Some(d) = r else {
            // A worker that panicked: its flows and counts are lost.
            stopped_by = Some(StopReason::Error(format!("capture worker {w} failed")));
            workers.push(FanoutWorker {
                received: 0,
                dropped: 0,
                if_dropped: 0,
                packets: 0,
                flows: 0,
            });
            continue;
        };
        totals.absorb(&d.totals);
        counters.absorb(&d.counters);
        unread |= d.unread;
        if let Some((a, b)) = d.window {
            window = Some(window.map_or((a, b), |(x, y)| (x.min(a), y.max(b))));
        }
        workers.push(FanoutWorker {
            received: d.counters.received,
            dropped: d.counters.dropped,
            if_dropped: d.counters.if_dropped,
            packets: d.totals.stats().packets,
            flows: d.totals.stats().flows,
        });
        last.push(Progress {
            received: d.counters.received,
            dropped: d.counters.dropped,
            if_dropped: d.counters.if_dropped,
            packets: d.totals.stats().packets,
            active_flows: 0,
            flows: d.totals.stats().flows,
        });
        // An error anywhere is the capture's; otherwise the first worker's
        // reason (they all saw the same stop flag and deadline).
        let keep = matches!(stopped_by, Some(StopReason::Error(_)))
            || (stopped_by.is_some() && !matches!(d.stopped_by, StopReason::Error(_)));
        if !keep {
            stopped_by = Some(d.stopped_by);
        }
    }
    on_tick(&sum(&last));
    let ended = Ended {
        started,
        counters,
        window,
        stopped_by: stopped_by.unwrap_or(StopReason::Signal),
        fanout: Some(Fanout {
            mode: "hash".into(),
            group,
            workers,
        }),
        unread,
    };
    let mut warnings: Vec<Warning> = tunnel_warning(totals.stats()).into_iter().collect();
    let input = ended.input(opts, link, totals.stats().packets, &mut warnings);
    LiveOutcome {
        report: totals.report(vec![input], warnings),
        sink,
        stopped_by: ended.stopped_by,
    }
}

/// Tunnels carried in UDP, whose inner flows the kernel's fanout hash
/// does not see (its flow dissector follows IP-in-IP and GRE to the inner
/// header, not UDP encapsulations).
const UDP_TUNNELS: [&str; 4] = ["vxlan", "geneve", "weave-sleeve", "gtp-u"];

/// The kernel hashes a UDP tunnel's packets on their outer headers, and a
/// tunnel's two directions carry different outer source ports: the two
/// halves of a flow inside it can reach two workers and be reported as two
/// partial flows. Said whenever such packets were seen, since which flows
/// were split is not known.
fn tunnel_warning(stats: &crate::model::report::Stats) -> Option<Warning> {
    let seen: Vec<(&str, u64)> = stats
        .tunnelled_packets
        .iter()
        .filter(|(k, _)| UDP_TUNNELS.contains(&k.as_str()))
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    let n: u64 = seen.iter().map(|(_, v)| v).sum();
    let kinds: Vec<&str> = seen.iter().map(|(k, _)| *k).collect();
    (n > 0).then(|| Warning {
        kind: WarningKind::FanoutTunnels,
        message: format!(
            "{n} packets came inside UDP tunnels ({}): with several workers the kernel spreads them by their outer \
             headers, so the two directions of a flow inside them may have reached different workers and been \
             reported as two partial flows; for exact results capture with --workers 1 or filter the tunnel out \
             (the decapsulated copies on the pod interfaces are spread correctly)",
            kinds.join(", ")
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_shared_out() {
        let cfg = Config::default();
        let c = worker_config(&cfg, 3);
        assert_eq!(c.flows.max_flows, cfg.flows.max_flows.div_ceil(3));
        assert_eq!(c.flows.buffer_budget, cfg.flows.buffer_budget / 3);
        assert_eq!(c.flows.idle_timeout, cfg.flows.idle_timeout);
        let one = worker_config(&cfg, 1);
        assert_eq!(one.flows.max_flows, cfg.flows.max_flows);
    }

    #[test]
    fn tunnelled_packets_are_warned_about() {
        let mut stats = crate::model::report::Stats::default();
        assert!(tunnel_warning(&stats).is_none());
        // IP-in-IP and GRE are hashed on their inner header.
        stats.tunnelled_packets.insert("gre".into(), 5);
        assert!(tunnel_warning(&stats).is_none());
        stats.tunnelled_packets.insert("vxlan".into(), 3);
        stats.tunnelled_packets.insert("geneve".into(), 1);
        let w = tunnel_warning(&stats).expect("warning");
        assert_eq!(w.kind, "fanout-tunnels");
        assert!(
            w.message
                .starts_with("4 packets came inside UDP tunnels (geneve, vxlan)"),
            "{}",
            w.message
        );
    }

    /// The fixture's full TLS 1.2 mutual handshake (client port 32898) on
    /// one analyzer and the session that resumes it (32900) on another, as
    /// two fanout workers would see them. Sharing state, the resumed flow
    /// inherits its origin's client certificate; without it, it cannot.
    #[test]
    fn a_resumption_is_linked_across_workers() {
        use crate::capture::{Item, MergedSource};
        use crate::engine::MemorySink;

        let run = |shared: Option<&Shared>| {
            let new = || match shared {
                Some(s) => Analyzer::with_shared(Config::default(), MemorySink::default(), s),
                None => Analyzer::new(Config::default(), MemorySink::default()),
            };
            let mut workers = [new(), new()];
            let path = concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/fixtures/captures/openssl-tls12-resumption.pcap"
            );
            let mut source = MergedSource::new(crate::engine::open_all(&[path]).unwrap());
            source.for_each(&mut |item| {
                let Item::Packet(p) = item else { return };
                // Ethernet, IPv4: the TCP ports follow the IP header.
                let ihl = usize::from(p.data[14] & 0x0f) * 4;
                let ports = &p.data[14 + ihl..14 + ihl + 4];
                let resumed =
                    ports[..2] == 32900u16.to_be_bytes() || ports[2..] == 32900u16.to_be_bytes();
                workers[usize::from(resumed)].packet(p.ts, p.link.unwrap(), p.data, p.orig_len);
            });
            let [a, b] = workers;
            let (_, sa) = a.close();
            let (_, sb) = b.close();
            (sa.into_sorted(), sb.into_sorted())
        };
        let shared = Shared::default();
        let (origin, resumed) = run(Some(&shared));
        assert_eq!((origin.len(), resumed.len()), (1, 1));
        assert_eq!(origin[0].client.port, 32898);
        let tls = resumed[0].tls.as_ref().unwrap();
        assert_eq!(tls.resumed, Some(true));
        assert_eq!(tls.mutual, Some(true));
        assert_eq!(tls.mutual_evidence.as_deref(), Some("resumed-session"));
        // Apart, the worker with the resumption knows nothing of its origin.
        let (_, apart) = run(None);
        let tls = apart[0].tls.as_ref().unwrap();
        assert_eq!(tls.mutual, None);
        assert_eq!(tls.mutual_unknown_reason.as_deref(), Some("resumed"));
    }

    /// The resumed session's worker reads it, to its end, before the
    /// origin's worker has read the origin (its ring block came later): the
    /// resumed flow waits for the origin and still inherits its verdict.
    #[test]
    fn a_resumption_read_before_its_origin_waits_for_it() {
        use crate::capture::{Item, MergedSource};
        use crate::engine::MemorySink;

        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/captures/openssl-tls12-resumption.pcap"
        );
        let mut source = MergedSource::new(crate::engine::open_all(&[path]).unwrap());
        let (mut origin, mut resumed) = (Vec::new(), Vec::new());
        source.for_each(&mut |item| {
            let Item::Packet(p) = item else { return };
            let ihl = usize::from(p.data[14] & 0x0f) * 4;
            let ports = &p.data[14 + ihl..14 + ihl + 4];
            let is_resumed =
                ports[..2] == 32900u16.to_be_bytes() || ports[2..] == 32900u16.to_be_bytes();
            let packet = (p.ts, p.link.unwrap(), p.data.to_vec(), p.orig_len);
            if is_resumed {
                resumed.push(packet);
            } else {
                origin.push(packet);
            }
        });
        let shared = Shared::default();
        let mut a = Analyzer::with_shared(Config::default(), MemorySink::default(), &shared);
        let mut b = Analyzer::with_shared(Config::default(), MemorySink::default(), &shared);
        for (ts, link, data, len) in &resumed {
            b.packet(*ts, *link, data, *len);
        }
        // The resumed connection ended: it waits, not yet out.
        assert_eq!(b.active_flows(), 0);
        for (ts, link, data, len) in &origin {
            a.packet(*ts, *link, data, *len);
        }
        let last = origin.last().unwrap().0;
        b.tick(last);
        let (_, sb) = b.close();
        let (_, _) = a.close();
        let flows = sb.into_sorted();
        assert_eq!(flows.len(), 1);
        let tls = flows[0].tls.as_ref().unwrap();
        assert_eq!(tls.mutual, Some(true), "{tls:?}");
        assert_eq!(tls.mutual_evidence.as_deref(), Some("resumed-session"));
    }

    #[test]
    fn progress_is_summed() {
        let p = Progress {
            received: 2,
            dropped: 1,
            if_dropped: 0,
            packets: 2,
            active_flows: 3,
            flows: 4,
        };
        let s = sum(&[p, p]);
        assert_eq!(
            (s.received, s.dropped, s.active_flows, s.flows),
            (4, 2, 6, 8)
        );
    }
}
