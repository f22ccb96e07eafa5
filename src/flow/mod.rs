//! Bidirectional flows: a bounded table keyed by the 5-tuple, client and
//! server roles, and per-direction TCP reassembly.
//!
//! The table is generic over what the layers above keep per flow (`A`), so
//! this module knows nothing about TLS.
// Hostile input: no indexing or slicing, no arithmetic that can overflow
// (unwrap, expect and panic are denied crate-wide in Cargo.toml).
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)
)]

pub mod reassembly;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use crate::capture::Nanos;
pub use reassembly::{Chunk, Reassembler, StreamStats};

/// One side of a flow, `A` or `B`, in the canonical (sorted) key order.
pub type Side = usize;

/// A flow's identity with the lower endpoint first, so both directions map
/// to the same key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct FlowKey {
    /// IP protocol number.
    pub proto: u8,
    /// The lower endpoint.
    pub a: SocketAddr,
    /// The higher endpoint.
    pub b: SocketAddr,
}

impl FlowKey {
    /// The key of a packet, and the side (0 = from `a`, 1 = from `b`) it was sent by.
    pub fn of(proto: u8, src: SocketAddr, dst: SocketAddr) -> (FlowKey, Side) {
        if src <= dst {
            (
                FlowKey {
                    proto,
                    a: src,
                    b: dst,
                },
                0,
            )
        } else {
            (
                FlowKey {
                    proto,
                    a: dst,
                    b: src,
                },
                1,
            )
        }
    }

    /// The endpoint on `side`.
    pub fn endpoint(&self, side: Side) -> SocketAddr {
        if side == 0 { self.a } else { self.b }
    }
}

/// Hashed as three words (the addresses as 128-bit numbers, then protocol
/// and ports), not field by field: the table looks a key up for every
/// packet, and the derived hash fed the hasher a dozen small pieces.
/// Keys that are equal hash equally (IPv6 flow labels and scopes, which
/// equality also compares, are left out of the hash only).
impl std::hash::Hash for FlowKey {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        fn ip(a: &SocketAddr) -> u128 {
            match a {
                SocketAddr::V4(v) => u128::from(v.ip().to_bits()) | 1 << 127,
                SocketAddr::V6(v) => v.ip().to_bits(),
            }
        }
        h.write_u128(ip(&self.a));
        h.write_u128(ip(&self.b));
        h.write_u64(
            u64::from(self.proto) << 32 | u64::from(self.a.port()) << 16 | u64::from(self.b.port()),
        );
    }
}

/// How the client was told apart from the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleSource {
    /// The side that sent the SYN.
    Syn,
    /// The side that sent the ClientHello (or received the ServerHello).
    ClientHello,
    /// Port numbers: the well-known or lower port is the server.
    Port,
}

/// Bytes a flow's analysis holds in buffers while it is undecided: what the
/// table's memory budget counts.
pub trait Buffered {
    /// Bytes held now.
    fn buffered(&self) -> usize;
}

impl Buffered for () {
    fn buffered(&self) -> usize {
        0
    }
}

/// TCP-specific state of a flow.
#[derive(Debug)]
pub struct TcpState {
    /// Reassembly per side.
    pub streams: [Reassembler; 2],
    /// A SYN was seen from each side.
    pub syn: [bool; 2],
    /// A FIN was seen from each side.
    pub fin: [bool; 2],
    /// A RST was seen.
    pub rst: bool,
}

/// One bidirectional flow.
#[derive(Debug)]
pub struct Flow<A> {
    /// Its key.
    pub key: FlowKey,
    /// Order of creation, for stable output.
    pub id: u64,
    /// First and last packet times.
    pub first_seen: Nanos,
    /// Time of the last packet.
    pub last_seen: Nanos,
    /// Packets sent by each side.
    pub packets: [u64; 2],
    /// Transport payload bytes sent by each side.
    pub bytes: [u64; 2],
    /// Which side is the client, and how we know.
    pub client: Option<(Side, RoleSource)>,
    /// The side that sent the first packet we saw.
    pub first_sender: Side,
    /// Present for TCP flows.
    pub tcp: Option<TcpState>,
    /// A packet of this flow was cut by the snap length.
    pub truncated: bool,
    /// What the layers above keep.
    pub app: A,
}

impl RoleSource {
    /// As the report says it.
    pub fn reported(self) -> crate::model::RoleSource {
        match self {
            RoleSource::Syn => crate::model::RoleSource::Syn,
            RoleSource::ClientHello => crate::model::RoleSource::ClientHello,
            RoleSource::Port => crate::model::RoleSource::Port,
        }
    }
}

impl<A: Buffered> Flow<A> {
    /// Bytes this flow holds: its analysis's buffers and TCP reassembly's
    /// out-of-order segments.
    pub fn buffered(&self) -> usize {
        let tcp = self.tcp.as_ref().map_or(0, |t| {
            t.streams[0]
                .buffered()
                .saturating_add(t.streams[1].buffered())
        });
        self.app.buffered().saturating_add(tcp)
    }
}

impl<A: Default> Flow<A> {
    /// A flow whose first packet, sent by `side`, was seen at `ts`.
    fn new(key: FlowKey, id: u64, side: Side, ts: Nanos, stream_cap: usize) -> Self {
        Flow {
            key,
            id,
            first_seen: ts,
            last_seen: ts,
            packets: [0; 2],
            bytes: [0; 2],
            client: None,
            first_sender: side,
            tcp: (key.proto == 6).then(|| TcpState {
                streams: [Reassembler::new(stream_cap), Reassembler::new(stream_cap)],
                syn: [false; 2],
                fin: [false; 2],
                rst: false,
            }),
            truncated: false,
            app: A::default(),
        }
    }
}

impl<A> Flow<A> {
    /// Record the client side unless a stronger source already decided it.
    pub fn set_client(&mut self, side: Side, source: RoleSource) {
        let rank = |s: RoleSource| match s {
            RoleSource::Syn => 3,
            RoleSource::ClientHello => 1,
            RoleSource::Port => 0,
        };
        match self.client {
            Some((_, old)) if rank(old) >= rank(source) => {}
            _ => self.client = Some((side, source)),
        }
    }

    /// Both sides of the TCP connection sent FIN: nothing new can follow.
    pub fn is_closed(&self) -> bool {
        self.tcp.as_ref().is_some_and(|t| t.fin[0] && t.fin[1])
    }

    /// A side reset the connection. The other side's data already in flight
    /// still arrives, so such a flow lingers before it is finished.
    pub fn is_reset(&self) -> bool {
        self.tcp.as_ref().is_some_and(|t| t.rst)
    }

    /// The client side; guessed from ports when nothing better is known.
    pub fn client_side(&self) -> (Side, RoleSource) {
        if let Some(c) = self.client {
            return c;
        }
        (
            guess_client_by_port(&self.key, self.first_sender),
            RoleSource::Port,
        )
    }
}

/// Lower port is the server when one port is privileged or well known and
/// the other is not; else the side that spoke first is the client.
fn guess_client_by_port(key: &FlowKey, first_sender: Side) -> Side {
    let (pa, pb) = (key.a.port(), key.b.port());
    let server_like = |p: u16| p < 1024 || WELL_KNOWN.contains(&p);
    match (server_like(pa), server_like(pb)) {
        (true, false) => 1,
        (false, true) => 0,
        _ => first_sender,
    }
}

/// Unprivileged ports that are servers in practice (Kubernetes and data stores).
const WELL_KNOWN: &[u16] = &[
    1433, 1521, 2379, 2380, 3000, 3306, 4222, 5432, 5672, 6379, 6443, 8080, 8443, 8888, 9000, 9042,
    9090, 9092, 9200, 9443, 10250, 11211, 15001, 15006, 15012, 15017, 27017,
];

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
    scanned: u64,
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
        if !self.map.contains_key(&key) {
            if self.map.len() >= self.cfg.max_flows {
                self.evict_oldest(Exit::Evicted, done);
            } else if self.map.len().saturating_add(1).saturating_mul(ENTRY_BYTES)
                > self.cfg.buffer_budget / 2
            {
                // Entries take at most half of the memory budget, so a
                // flood of new flows cannot crowd out the buffers of the
                // handshakes in progress (nor grow past the budget).
                self.evict_oldest(Exit::Budget, done);
            }
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
        self.map.len() >= self.cfg.max_flows
            || self.map.len().saturating_add(1).saturating_mul(ENTRY_BYTES)
                > self.cfg.buffer_budget / 2
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
    pub fn drain(&mut self) -> Vec<Flow<A>> {
        self.held = 0;
        let mut all: Vec<Flow<A>> = self.map.drain().map(|(_, f)| *f).collect();
        all.sort_by_key(|f| f.id);
        all
    }
}

/// A new flow's id: one more than the last id given (ids start at 1).
fn fresh_id(next_id: &std::sync::atomic::AtomicU64) -> u64 {
    next_id
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        .saturating_add(1)
}

/// An IP address and port as a socket address.
pub fn endpoint(ip: IpAddr, port: u16) -> SocketAddr {
    SocketAddr::new(ip, port)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn both_directions_share_a_key() {
        let (k1, s1) = FlowKey::of(6, sa("10.0.0.2:443"), sa("10.0.0.1:5555"));
        let (k2, s2) = FlowKey::of(6, sa("10.0.0.1:5555"), sa("10.0.0.2:443"));
        assert_eq!(k1, k2);
        assert_ne!(s1, s2);
    }

    #[test]
    fn role_sources_rank() {
        let mut t: FlowTable<()> = FlowTable::new(FlowConfig::default());
        let (k, s) = FlowKey::of(6, sa("10.0.0.1:40000"), sa("10.0.0.2:443"));
        let f = t.get_or_insert(k, s, 0, &mut |_, _| {});
        assert_eq!(f.client_side(), (0, RoleSource::Port));
        f.set_client(1, RoleSource::ClientHello);
        f.set_client(0, RoleSource::Port);
        assert_eq!(f.client_side(), (1, RoleSource::ClientHello));
        f.set_client(0, RoleSource::Syn);
        assert_eq!(f.client_side(), (0, RoleSource::Syn));
    }

    /// Issue 22 item 5: timestamps alternating T, T+1 s (each packet a new
    /// flow) made every forward step scan the whole table: 10k, 20k, 40k
    /// packets cost 0.58, 3.2, 13.9 s. The scans must stay linear in the
    /// packets.
    #[test]
    fn backward_timestamps_do_not_make_sweeps_quadratic() {
        let mut t: FlowTable<()> = FlowTable::new(FlowConfig::default());
        let n = 20_000u64;
        for i in 0..n {
            let ts = 1_000_000_000_000 + (i % 2) as i64 * 1_000_000_000;
            let port = 1024 + (i % 60_000) as u16;
            let ip = format!("10.{}.{}.1:{port}", (i >> 16) & 0xff, (i >> 8) & 0xff);
            let (k, s) = FlowKey::of(6, sa(&ip), sa("10.9.9.9:443"));
            t.get_or_insert(k, s, ts, &mut |_, _| {});
        }
        assert_eq!(t.len(), n as usize);
        assert!(
            t.scanned <= 16 * n,
            "{} entries scanned for {n} packets",
            t.scanned
        );
    }

    #[test]
    fn table_is_bounded_and_counts_evictions() {
        let cfg = FlowConfig {
            max_flows: 16,
            ..FlowConfig::default()
        };
        let mut t: FlowTable<()> = FlowTable::new(cfg);
        let mut out = Vec::new();
        for i in 0..100u16 {
            let (k, s) = FlowKey::of(
                17,
                sa("10.0.0.1:53"),
                SocketAddr::new([10, 0, 0, 2].into(), i),
            );
            t.get_or_insert(k, s, i64::from(i), &mut |f, e| out.push((f.id, e)));
        }
        assert!(t.len() <= 16);
        assert_eq!(t.evicted as usize, out.len());
        assert_eq!(out.len() + t.len(), 100);
        assert!(out.iter().all(|(_, e)| *e == Exit::Evicted));
    }

    /// Issue 22: a SYN flood with `--max-flows` out of the way grew the
    /// table by about 1.8 KiB per flow whatever the memory budget said.
    /// Entries now take at most half of the budget; the oldest leave as
    /// `Budget`, counted apart from a full table.
    #[test]
    fn entries_count_against_the_memory_budget() {
        let cfg = FlowConfig {
            max_flows: 1_000_000,
            buffer_budget: 1 << 20,
            ..FlowConfig::default()
        };
        let mut t: FlowTable<()> = FlowTable::new(cfg);
        let mut out = Vec::new();
        let n = 5_000u32;
        for i in 0..n {
            let ip = format!(
                "10.{}.{}.1:{}",
                (i >> 8) & 0xff,
                i & 0xff,
                1024 + i % 60_000
            );
            let (k, s) = FlowKey::of(6, sa(&ip), sa("10.9.9.9:443"));
            t.get_or_insert(k, s, i64::from(i), &mut |f, e| out.push((f.id, e)));
            assert!(t.footprint() <= (1 << 20) / 2, "{} entries", t.len());
        }
        assert!(
            t.len() >= (1 << 20) / 2 / ENTRY_BYTES * 7 / 8,
            "{}",
            t.len()
        );
        assert_eq!(t.over_budget as usize, out.len());
        assert_eq!(t.evicted, 0);
        assert_eq!(out.len() + t.len(), n as usize);
        assert!(out.iter().all(|(_, e)| *e == Exit::Budget));
        // The oldest left: the newest flow is still there.
        assert!(out.iter().all(|(id, _)| *id < u64::from(n)));
    }

    /// A table with no room (max_flows 0, or a budget below one entry)
    /// has nothing to evict: the flow goes in, nothing panics.
    #[test]
    fn a_table_without_room_does_not_panic() {
        for cfg in [
            FlowConfig {
                max_flows: 0,
                ..FlowConfig::default()
            },
            FlowConfig {
                buffer_budget: 0,
                ..FlowConfig::default()
            },
        ] {
            let mut t: FlowTable<()> = FlowTable::new(cfg);
            let (k, s) = FlowKey::of(6, sa("10.0.0.1:1"), sa("10.0.0.2:2"));
            t.get_or_insert(k, s, 0, &mut |_, _| {});
            assert_eq!(t.len(), 1);
        }
    }

    #[test]
    fn closed_connections_leave_at_once_and_absorb_stragglers() {
        let mut t: FlowTable<()> = FlowTable::new(FlowConfig::default());
        let (k, s) = FlowKey::of(6, sa("10.0.0.1:1"), sa("10.0.0.2:2"));
        t.get_or_insert(k, s, 0, &mut |_, _| {});
        let mut gone = Vec::new();
        t.close(&k, 1, &mut |f, e| gone.push((f.key, e)));
        assert_eq!(gone, vec![(k, Exit::Closed)]);
        assert!(t.is_empty());
        assert!(t.is_straggler(&k, false), "the last ACK is absorbed");
        assert!(!t.is_straggler(&k, true), "a new SYN is a new connection");
        assert!(!t.is_straggler(&k, false));
        assert_eq!(t.stragglers, 1);
        // Tombstones expire.
        t.close(&k, 2, &mut |_, _| {});
        let (k2, s2) = FlowKey::of(6, sa("10.0.0.1:3"), sa("10.0.0.2:2"));
        t.get_or_insert(k2, s2, 20_000_000_000, &mut |_, _| {});
        assert!(!t.is_straggler(&k, false));
    }

    #[test]
    fn idle_flows_leave() {
        let mut t: FlowTable<()> = FlowTable::new(FlowConfig::default());
        let (k, s) = FlowKey::of(6, sa("10.0.0.1:1"), sa("10.0.0.2:2"));
        t.get_or_insert(k, s, 0, &mut |_, _| {});
        let mut gone = 0;
        let (k2, s2) = FlowKey::of(6, sa("10.0.0.1:3"), sa("10.0.0.2:2"));
        t.get_or_insert(k2, s2, 400 * 1_000_000_000, &mut |_, e| {
            assert_eq!(e, Exit::Idle);
            gone += 1;
        });
        assert_eq!(gone, 1);
        assert_eq!(t.len(), 1);
    }

    /// Idle and evicted flows leave in creation order, not the map's
    /// randomly seeded order: which flow is verified first decides which
    /// one a merged finding names, so reports would vary run to run.
    #[test]
    fn flows_leave_in_creation_order() {
        let key = |i: u16| {
            FlowKey::of(
                6,
                sa("10.0.0.1:443"),
                SocketAddr::new([10, 0, 0, 2].into(), i),
            )
        };
        // Idle: 500 flows seen at the same time, swept together.
        let mut t: FlowTable<()> = FlowTable::new(FlowConfig::default());
        for i in 0..500u16 {
            let (k, s) = key(i);
            t.get_or_insert(k, s, 0, &mut |_, _| {});
        }
        let mut out = Vec::new();
        t.expire_idle(400 * 1_000_000_000, &mut |f, e| out.push((f.id, e)));
        assert_eq!(out.len(), 500);
        assert!(out.iter().all(|(_, e)| *e == Exit::Idle));
        assert!(out.windows(2).all(|w| w[0].0 < w[1].0), "{out:?}");
        // Evicted: the oldest eighth of a full table, oldest first (equal
        // times in key order, which is creation order here).
        let cfg = FlowConfig {
            max_flows: 256,
            ..FlowConfig::default()
        };
        let mut t: FlowTable<()> = FlowTable::new(cfg);
        let mut out = Vec::new();
        for i in 0..257u16 {
            let (k, s) = key(i);
            t.get_or_insert(k, s, i64::from(i / 4), &mut |f, e| out.push((f.id, e)));
        }
        assert_eq!(out.len(), 32);
        let ids: Vec<u64> = out.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, (1..=32).collect::<Vec<u64>>());
    }
}
