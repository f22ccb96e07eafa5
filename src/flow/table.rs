//! The table of live flows: bounded by a flow count and a memory budget,
//! swept of idle flows, with a short memory of closed connections so that
//! their stragglers do not open new flows.
// Hostile input: no indexing or slicing, no arithmetic that can overflow
// (unwrap, expect and panic are denied crate-wide in Cargo.toml).
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)
)]

use std::collections::HashMap;

use super::{Buffered, Flow, FlowKey, Side};
use crate::capture::Nanos;

/// Limits of the flow table.
#[derive(Debug, Clone, Copy)]
pub struct FlowConfig {
    /// Flows tracked at once; beyond it the least recently seen are evicted.
    pub max_flows: usize,
    /// A flow with no packet for this long is finished.
    pub idle_timeout: Nanos,
    /// After a TCP connection closes with FIN both ways its flow is finished
    /// at once; for this long afterwards its late packets (the last ACK,
    /// retransmitted FINs) are absorbed instead of starting a new flow. A
    /// reset connection is finished after this much quiet instead (its
    /// peer's data in flight still arrives).
    pub closed_linger: Nanos,
    /// Bytes reassembled per direction.
    pub stream_cap: usize,
    /// Bytes the table may hold: its entries ([`ENTRY_BYTES`] each, at
    /// most half of it) and the flows' buffers while undecided. Past it,
    /// the least recently seen flows (for entries) or the longest-idle
    /// flows that hold buffers are finished early.
    pub buffer_budget: usize,
}

/// What one table entry costs, counted against the memory budget: measured
/// peak RSS of a SYN flood with `--max-flows` out of the way is 1.4 KiB per
/// flow at 100,000 flows and 1.8 KiB at 1,000,000 (the hash map's spare
/// capacity included; benches/README.md), rounded up. A test keeps the
/// entry's own size well below it.
pub const ENTRY_BYTES: usize = 2048;

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            max_flows: 100_000,
            idle_timeout: 300 * 1_000_000_000,
            closed_linger: 10 * 1_000_000_000,
            stream_cap: 64 * 1024,
            buffer_budget: 256 << 20,
        }
    }
}

/// Why a flow left the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// It was idle longer than the timeout.
    Idle,
    /// The table was full.
    Evicted,
    /// The flows' buffers together exceeded the memory budget.
    Budget,
    /// The TCP connection closed.
    Closed,
    /// The capture ended.
    End,
}

/// The table of live flows. Its hasher is randomly seeded per process:
/// the keys come from the packets, so a fixed hash would let a sender aim
/// collisions at it.
pub struct FlowTable<A> {
    /// Flows boxed: an entry is large, and the map moves its entries when
    /// it grows or clears its deleted slots (flows come and go all the time).
    map: HashMap<FlowKey, Box<Flow<A>>, foldhash::fast::RandomState>,
    /// Recently closed connections and when they closed.
    closed: HashMap<FlowKey, Nanos, foldhash::fast::RandomState>,
    /// Packets absorbed as stragglers of closed connections.
    pub stragglers: u64,
    cfg: FlowConfig,
    /// The last flow id given, shared by the tables that split one capture
    /// (the live agent's fanout workers) so ids stay unique.
    next_id: std::sync::Arc<std::sync::atomic::AtomicU64>,
    last_sweep: Nanos,
    /// Packets since the last sweep: a sweep scans the whole table, so it
    /// waits for enough packets to pay for it, whatever the timestamps do.
    since_sweep: usize,
    /// Table entries visited by sweeps (the cost the packets must pay for).
    pub(super) scanned: u64,
    /// Flows evicted because the table was full.
    pub evicted: u64,
    /// Flows finished early because buffers exceeded the budget.
    pub over_budget: u64,
    /// Bytes held by the flows in the table, as last measured.
    held: usize,
}

impl<A: Default + Buffered> FlowTable<A> {
    /// An empty table.
    pub fn new(cfg: FlowConfig) -> Self {
        FlowTable {
            map: HashMap::with_hasher(foldhash::fast::RandomState::default()),
            closed: HashMap::with_hasher(foldhash::fast::RandomState::default()),
            stragglers: 0,
            cfg,
            next_id: std::sync::Arc::default(),
            last_sweep: Nanos::MIN,
            since_sweep: 0,
            scanned: 0,
            evicted: 0,
            over_budget: 0,
            held: 0,
        }
    }

    /// Number flows from `ids`, shared with other tables, instead of from
    /// this table's own count (call before the first packet).
    pub fn share_ids(&mut self, ids: std::sync::Arc<std::sync::atomic::AtomicU64>) {
        self.next_id = ids;
    }

    /// Flows currently tracked.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no flow is tracked.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The flow for a packet, created if new; `done` receives flows that
    /// had to leave the table to make room or because they went idle.
    pub fn get_or_insert(
        &mut self,
        key: FlowKey,
        side: Side,
        ts: Nanos,
        done: &mut dyn FnMut(Flow<A>, Exit),
    ) -> &mut Flow<A> {
        self.since_sweep = self.since_sweep.saturating_add(1);
        self.sweep(ts, done);
        if !self.map.contains_key(&key)
            && let Some(exit) = self.eviction_due()
        {
            self.evict_oldest(exit, done);
        }
        let cap = self.cfg.stream_cap;
        let next_id = &self.next_id;
        self.map
            .entry(key)
            .or_insert_with(|| Box::new(Flow::new(key, fresh_id(next_id), side, ts, cap)))
    }

    /// A packet's flow: `None` when it is a straggler of a connection
    /// that closed lately; a new SYN on the 5-tuple of a reset connection
    /// still lingering finishes the old flow first; otherwise the flow,
    /// created if new (as [`get_or_insert`](Self::get_or_insert)). `tcp`
    /// is `Some(starts)` for a TCP segment, `starts` when it is a SYN
    /// without ACK (a new connection). `done` receives the flows that left.
    ///
    /// One hash lookup for the usual packet (a known flow, no sweep or
    /// eviction due): a key is never both in the table and among the
    /// closed connections (a flow leaves the table as its tombstone is
    /// made, and a tombstone goes before its key's flow is created), so
    /// only a key missing from the table needs the closed-connection
    /// lookup.
    pub fn admit(
        &mut self,
        key: FlowKey,
        side: Side,
        ts: Nanos,
        tcp: Option<bool>,
        done: &mut dyn FnMut(Flow<A>, Exit),
    ) -> Option<&mut Flow<A>> {
        let starts = tcp == Some(true);
        if starts || self.sweep_due(ts) || self.near_limit() {
            if tcp.is_some() && self.is_straggler(&key, starts) {
                return None;
            }
            if starts {
                self.restart_if_reset(&key, done);
            }
            return Some(self.get_or_insert(key, side, ts, done));
        }
        // Neither a sweep nor an eviction is due: what `get_or_insert`
        // would do after its checks.
        let FlowTable {
            map,
            closed,
            stragglers,
            since_sweep,
            next_id,
            cfg,
            ..
        } = self;
        match map.entry(key) {
            std::collections::hash_map::Entry::Occupied(o) => {
                *since_sweep = since_sweep.saturating_add(1);
                Some(&mut **o.into_mut())
            }
            std::collections::hash_map::Entry::Vacant(v) => {
                if tcp.is_some() && !closed.is_empty() && closed.contains_key(&key) {
                    *stragglers = stragglers.saturating_add(1);
                    return None;
                }
                *since_sweep = since_sweep.saturating_add(1);
                let id = fresh_id(next_id);
                Some(v.insert(Box::new(Flow::new(key, id, side, ts, cfg.stream_cap))))
            }
        }
    }

    /// Would [`get_or_insert`](Self::get_or_insert) at `now` sweep (or move
    /// the sweep clock back)?
    fn sweep_due(&self, now: Nanos) -> bool {
        now < self.last_sweep
            || (now.saturating_sub(self.last_sweep) >= 1_000_000_000
                && self.since_sweep.saturating_add(1) >= self.map.len() / 8)
    }

    /// Would a new flow make [`get_or_insert`](Self::get_or_insert) evict?
    fn near_limit(&self) -> bool {
        self.eviction_due().is_some()
    }

    /// Why a new flow must first evict the oldest: the table is at its
    /// flow limit, or one more entry would pass half the memory budget
    /// (entries take at most half, so a flood of new flows cannot crowd
    /// out the buffers of the handshakes in progress, nor grow past the
    /// budget).
    fn eviction_due(&self) -> Option<Exit> {
        if self.map.len() >= self.cfg.max_flows {
            Some(Exit::Evicted)
        } else if self.map.len().saturating_add(1).saturating_mul(ENTRY_BYTES)
            > self.cfg.buffer_budget / 2
        {
            Some(Exit::Budget)
        } else {
            None
        }
    }

    /// The flow under `key`, created with `id` if there is none, without
    /// sweeping or evicting: for a shard of a table whose owner decides
    /// when flows end (`engine::parallel`). Returns whether it was created.
    pub fn get_or_insert_with_id(
        &mut self,
        key: FlowKey,
        side: Side,
        ts: Nanos,
        id: u64,
    ) -> (&mut Flow<A>, bool) {
        let cap = self.cfg.stream_cap;
        let mut created = false;
        let flow = self.map.entry(key).or_insert_with(|| {
            created = true;
            Box::new(Flow::new(key, id, side, ts, cap))
        });
        (&mut **flow, created)
    }

    /// Take a flow out of the table (its owner decided that it ended).
    pub fn remove(&mut self, key: &FlowKey) -> Option<Flow<A>> {
        self.take(key)
    }

    /// Finish a closed connection now and remember its key for a while, so
    /// its stragglers are not taken for a new flow.
    pub fn close(&mut self, key: &FlowKey, ts: Nanos, done: &mut dyn FnMut(Flow<A>, Exit)) {
        if let Some(f) = self.take(key) {
            if self.closed.len() >= self.cfg.max_flows {
                self.closed.clear(); // bounded; the worst case is a spurious tiny flow
            }
            self.closed.insert(*key, ts);
            done(f, Exit::Closed);
        }
    }

    /// A new SYN on the 5-tuple of a reset connection that is still
    /// lingering: finish the old flow so the new connection starts afresh.
    pub fn restart_if_reset(&mut self, key: &FlowKey, done: &mut dyn FnMut(Flow<A>, Exit)) {
        if self.map.get(key).is_some_and(|f| f.is_reset())
            && let Some(f) = self.take(key)
        {
            done(f, Exit::Closed);
        }
    }

    /// Is this a straggler of a connection that closed lately? A new SYN on
    /// the same 5-tuple (`starts` true) is a new connection instead.
    pub fn is_straggler(&mut self, key: &FlowKey, starts: bool) -> bool {
        if self.closed.is_empty() || !self.closed.contains_key(key) {
            return false;
        }
        if starts {
            self.closed.remove(key);
            return false;
        }
        self.stragglers = self.stragglers.saturating_add(1);
        true
    }

    /// Finish the flows idle at `now` (at most once per second of clock).
    pub fn expire_idle(&mut self, now: Nanos, done: &mut dyn FnMut(Flow<A>, Exit)) {
        // Called as wall-clock time passes (a live capture): not driven by
        // packets, so it need not wait for them.
        self.since_sweep = usize::MAX;
        self.sweep(now, done);
    }

    /// Finish idle flows, at most once per second of capture time.
    fn sweep(&mut self, now: Nanos, done: &mut dyn FnMut(Flow<A>, Exit)) {
        // Time can go backwards (captures appended rather than merged, clock
        // steps): sweep on the new clock rather than stop sweeping.
        if now < self.last_sweep {
            self.last_sweep = now;
        }
        // Timestamps that step back and forth (T, T+1 s, T, ...) would
        // otherwise make every forward step a full scan: quadratic time.
        // A scan costs the table's size, so it waits for an eighth of that
        // many packets: linear in the packets, whatever the clock does.
        if now.saturating_sub(self.last_sweep) < 1_000_000_000
            || self.since_sweep < self.map.len() / 8
        {
            return;
        }
        self.last_sweep = now;
        self.since_sweep = 0;
        self.scanned = self.scanned.saturating_add(self.map.len() as u64);
        let cfg = self.cfg;
        self.closed
            .retain(|_, at| now.saturating_sub(*at) <= cfg.closed_linger);
        // One pass: the idle flows, and what the others hold (the table's
        // entries are large, so a second pass costs a cache miss each).
        let mut idle: Vec<(u64, FlowKey)> = Vec::new();
        let mut held = 0usize;
        for (k, f) in &self.map {
            let timeout = if f.is_reset() {
                cfg.closed_linger.min(cfg.idle_timeout)
            } else {
                cfg.idle_timeout
            };
            if now.saturating_sub(f.last_seen) > timeout {
                idle.push((f.id, *k));
            } else {
                held = held.saturating_add(f.buffered());
            }
        }
        // In creation order, not the map's (randomly seeded) order: what
        // finishes first is verified first, and the report must not vary
        // from run to run.
        idle.sort_unstable();
        for (_, k) in idle {
            if let Some(f) = self.take(&k) {
                done(f, Exit::Idle);
            }
        }
        // Measured afresh once a second, so the running count cannot drift.
        self.held = held;
    }

    /// Make room: evict the least recently seen eighth of the table at once,
    /// so the scan is paid once per many insertions; `why` is `Evicted` (the
    /// table is full) or `Budget` (its entries reached their share of the
    /// memory budget).
    fn evict_oldest(&mut self, why: Exit, done: &mut dyn FnMut(Flow<A>, Exit)) {
        let mut ages: Vec<(Nanos, FlowKey)> =
            self.map.iter().map(|(k, f)| (f.last_seen, *k)).collect();
        // Nothing to evict (a table configured with no room at all, which
        // the CLI's bounds rule out): the new flow goes in regardless.
        if ages.is_empty() {
            return;
        }
        let n = (ages.len() / 8).max(1);
        // 1 <= n <= ages.len(): the n oldest.
        ages.select_nth_unstable(n.saturating_sub(1));
        ages.truncate(n);
        // Oldest first, whatever order the map gave (see `sweep`).
        ages.sort_unstable();
        for (_, k) in ages {
            if let Some(f) = self.take(&k) {
                match why {
                    Exit::Budget => self.over_budget = self.over_budget.saturating_add(1),
                    _ => self.evicted = self.evicted.saturating_add(1),
                }
                done(f, why);
            }
        }
    }

    /// Remove a flow, and its buffers from the count.
    fn take(&mut self, key: &FlowKey) -> Option<Flow<A>> {
        let f = self.map.remove(key)?;
        self.held = self.held.saturating_sub(f.buffered());
        Some(*f)
    }

    /// Bytes the flows in the table hold in buffers, as last measured.
    pub fn held(&self) -> usize {
        self.held
    }

    /// Bytes counted against the memory budget: entries and buffers.
    pub fn footprint(&self) -> usize {
        self.map
            .len()
            .saturating_mul(ENTRY_BYTES)
            .saturating_add(self.held)
    }

    /// Bytes the flows hold, measured now (tests check the running count).
    #[cfg(test)]
    pub(crate) fn measured(&self) -> usize {
        self.map.values().map(|f| f.buffered()).sum()
    }

    /// A flow's buffers went from `before` to `after` bytes while a packet
    /// was analysed. Over the budget (entries and buffers together), the
    /// longest-idle flows that hold buffers are finished early
    /// (`Exit::Budget`) until the total is back under seven eighths of it:
    /// memory stays bounded whatever the packets do, and the loss is
    /// counted and said rather than silent.
    pub fn account(&mut self, before: usize, after: usize, done: &mut dyn FnMut(Flow<A>, Exit)) {
        self.held = self.held.saturating_add(after).saturating_sub(before);
        if self.footprint() <= self.cfg.buffer_budget {
            return;
        }
        let target = (self.cfg.buffer_budget / 8).saturating_mul(7);
        let mut holders: Vec<(Nanos, FlowKey)> = self
            .map
            .iter()
            .filter(|(_, f)| f.buffered() > 0)
            .map(|(k, f)| (f.last_seen, *k))
            .collect();
        holders.sort_unstable();
        for (_, k) in holders {
            if self.footprint() <= target {
                break;
            }
            if let Some(f) = self.take(&k) {
                self.over_budget = self.over_budget.saturating_add(1);
                done(f, Exit::Budget);
            }
        }
    }

    /// Take every flow out, in creation order (the capture has ended).
    /// The flows stay boxed until they are taken one by one: sorting the
    /// large entries themselves moved each many times (8 ms for 6,800
    /// flows at the end of a capture, against well under one for their
    /// boxes).
    pub fn drain(&mut self) -> impl Iterator<Item = Flow<A>> + use<A> {
        self.held = 0;
        let mut all: Vec<Box<Flow<A>>> = self.map.drain().map(|(_, f)| f).collect();
        all.sort_unstable_by_key(|f| f.id);
        all.into_iter().map(|f| *f)
    }
}

/// A new flow's id: one more than the last id given (ids start at 1).
fn fresh_id(next_id: &std::sync::atomic::AtomicU64) -> u64 {
    next_id
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        .saturating_add(1)
}
