//! Bounded in-order reassembly of one direction of a TCP connection.
//!
//! Only the first bytes of each direction matter to us (the handshake), so
//! the reassembler delivers contiguous bytes up to a cap and then only
//! counts. It handles retransmissions and overlaps (first copy wins, as in
//! the BSD policy most stacks follow), out-of-order segments (held, within a
//! byte budget), sequence wrap (offsets are relative to the first sequence
//! number), data on a SYN that the peer did not acknowledge (TCP Fast Open
//! refused: the retransmission is what counts) and holes the capture never
//! fills (skipped explicitly, and reported as gaps).

use std::collections::BTreeMap;

/// Out-of-order bytes held per direction while waiting for a hole to fill.
const MAX_PENDING_BYTES: usize = 64 * 1024;
/// Out-of-order segments held per direction.
const MAX_PENDING_SEGMENTS: usize = 64;

/// What the consumer is told about the stream.
#[derive(Debug, PartialEq, Eq)]
pub enum Chunk<'a> {
    /// The next contiguous bytes.
    Data(&'a [u8]),
    /// This many bytes were lost in the capture before the next data.
    Gap(u64),
}

/// Counters for one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamStats {
    /// Segments that repeated bytes already delivered.
    pub retransmissions: u32,
    /// Segments that arrived ahead of a hole.
    pub out_of_order: u32,
    /// Holes skipped because the capture never filled them.
    pub gaps: u32,
    /// Bytes in those holes.
    pub gap_bytes: u64,
    /// Delivery stopped at the byte cap (not because the consumer decided).
    pub capped: bool,
}

/// One direction's reassembly state.
#[derive(Debug, Default)]
pub struct Reassembler {
    /// Sequence number of stream offset 0.
    base: Option<u32>,
    /// Next offset to deliver.
    next: u64,
    /// Out-of-order segments by offset.
    pending: BTreeMap<u64, Vec<u8>>,
    pending_bytes: usize,
    /// Data carried on the SYN, held until the peer acknowledges it.
    syn_data: Option<Vec<u8>>,
    /// Deliver at most this many bytes, then only count.
    cap: u64,
    /// Stop delivering (the consumer has decided).
    closed: bool,
    /// Counters.
    pub stats: StreamStats,
}

impl Reassembler {
    /// A reassembler that delivers at most `cap` bytes.
    pub fn new(cap: usize) -> Self {
        Reassembler {
            cap: cap as u64,
            ..Self::default()
        }
    }

    /// Bytes held: out-of-order segments and unacknowledged SYN data.
    pub fn buffered(&self) -> usize {
        self.pending_bytes
            .saturating_add(self.syn_data.as_ref().map_or(0, Vec::len))
    }

    /// Stop delivering and free buffers: the rest of the stream is only counted.
    pub fn close(&mut self) {
        self.closed = true;
        self.pending.clear();
        self.pending_bytes = 0;
        self.syn_data = None;
    }

    /// Whether delivery has stopped (closed, or the cap was reached).
    pub fn is_done(&self) -> bool {
        self.closed || self.next >= self.cap
    }

    /// Bytes delivered so far (the stream offset of the next byte).
    pub fn offset(&self) -> u64 {
        self.next
    }

    /// Whether the stream's start is known from a SYN.
    pub fn has_base(&self) -> bool {
        self.base.is_some()
    }

    /// A SYN from this direction: the stream starts at `seq + 1`.
    pub fn syn(&mut self, seq: u32, payload: &[u8]) {
        if self.base.is_some() && self.next > 0 {
            return; // a late or repeated SYN after data: ignore
        }
        self.base = Some(seq.wrapping_add(1));
        self.next = 0;
        self.syn_data = (!payload.is_empty()).then(|| payload.to_vec());
    }

    /// The peer acknowledged up to `ack` in a SYN-ACK: SYN data counts only if covered.
    pub fn syn_acked(&mut self, ack: u32, out: &mut dyn FnMut(Chunk<'_>)) {
        let (Some(base), Some(data)) = (self.base, self.syn_data.take()) else {
            return;
        };
        let acked = u64::from(ack.wrapping_sub(base));
        if acked >= data.len() as u64 && acked < 1 << 31 {
            self.insert(0, &data, out);
        }
    }

    /// A data segment from this direction.
    pub fn segment(&mut self, seq: u32, payload: &[u8], out: &mut dyn FnMut(Chunk<'_>)) {
        if payload.is_empty() {
            return;
        }
        if self.is_done() {
            // Bytes past a cap that was reached exactly are still cut off.
            let end = |b: u32| seq.wrapping_add(payload.len() as u32).wrapping_sub(b) as i32;
            if !self.closed
                && self
                    .base
                    .is_some_and(|b| i64::from(end(b)) > self.next as i64)
            {
                self.stats.capped = true;
            }
            return;
        }
        if let Some(data) = self.syn_data.take() {
            // No SYN-ACK seen before more data: the SYN data stands.
            self.insert(0, &data, out);
        }
        let base = *self.base.get_or_insert(seq);
        let rel = seq.wrapping_sub(base) as i32;
        if rel < 0 {
            // Before the start we know (mid-stream pickup): keep what overlaps.
            let skip = rel.unsigned_abs() as usize;
            match payload.get(skip..) {
                Some(overlap) if !overlap.is_empty() => self.insert(0, overlap, out),
                _ => self.stats.retransmissions = self.stats.retransmissions.saturating_add(1),
            }
            return;
        }
        self.insert(rel as u64, payload, out);
    }

    /// The peer acknowledged `ack`: bytes before it were sent, so a hole below
    /// it that we still hold data beyond will never be filled by the capture.
    pub fn acked(&mut self, ack: u32, out: &mut dyn FnMut(Chunk<'_>)) {
        let Some(base) = self.base else { return };
        let acked = ack.wrapping_sub(base) as i32;
        if acked > 0 && (acked as u64) > self.next && !self.pending.is_empty() {
            self.skip_hole(out);
        }
    }

    /// The connection ended or the flow is being finalised: give up on holes.
    pub fn flush(&mut self, out: &mut dyn FnMut(Chunk<'_>)) {
        while !self.pending.is_empty() && !self.is_done() {
            self.skip_hole(out);
        }
    }

    fn insert(&mut self, offset: u64, payload: &[u8], out: &mut dyn FnMut(Chunk<'_>)) {
        // Offsets are below 2^31 (and `next` near the byte cap): no saturation.
        let end = offset.saturating_add(payload.len() as u64);
        if end <= self.next {
            self.stats.retransmissions = self.stats.retransmissions.saturating_add(1);
            return;
        }
        if let Some(delivered) = self.next.checked_sub(offset) {
            // offset <= next < end: the bytes from `next` on are new.
            let fresh = payload.get(delivered as usize..).unwrap_or_default();
            if self.pending.is_empty() {
                self.deliver(fresh, out);
            } else {
                // Bytes already held win over this copy (first copy wins).
                self.hold(self.next, fresh);
                self.drain_pending(out);
            }
            return;
        }
        self.stats.out_of_order = self.stats.out_of_order.saturating_add(1);
        self.hold(offset, payload);
        if self.pending_bytes > MAX_PENDING_BYTES || self.pending.len() > MAX_PENDING_SEGMENTS {
            self.skip_hole(out);
        }
    }

    /// Keep an out-of-order segment, without duplicating bytes already held
    /// (the first copy of any byte wins).
    fn hold(&mut self, offset: u64, payload: &[u8]) {
        let mut start = offset;
        let end = offset.saturating_add(payload.len() as u64);
        let mut pieces = Vec::new();
        for (&o, held) in self.pending.range(..end) {
            let held_end = o.saturating_add(held.len() as u64);
            if held_end <= start {
                continue;
            }
            if o > start {
                pieces.push((start, o.min(end)));
            }
            start = start.max(held_end);
            if start >= end {
                break;
            }
        }
        if start < end {
            pieces.push((start, end));
        }
        for (s, e) in pieces {
            // offset <= s < e <= end: a part of `payload`.
            let (from, to) = (s.saturating_sub(offset), e.saturating_sub(offset));
            let Some(slice) = payload.get(from as usize..to as usize) else {
                continue;
            };
            self.pending_bytes = self.pending_bytes.saturating_add(slice.len());
            self.pending.insert(s, slice.to_vec());
        }
    }

    fn drain_pending(&mut self, out: &mut dyn FnMut(Chunk<'_>)) {
        while let Some(entry) = self.pending.first_entry() {
            let o = *entry.key();
            if o > self.next {
                break;
            }
            let data = entry.remove();
            // `pending_bytes` is the sum of the held lengths.
            self.pending_bytes = self.pending_bytes.saturating_sub(data.len());
            // o <= next: what is held from `next` on is new.
            let delivered = self.next.saturating_sub(o);
            if let Some(fresh) = data.get(delivered as usize..).filter(|f| !f.is_empty()) {
                self.deliver(fresh, out);
            }
        }
    }

    fn skip_hole(&mut self, out: &mut dyn FnMut(Chunk<'_>)) {
        let Some((&o, _)) = self.pending.first_key_value() else {
            return;
        };
        if let Some(missing) = o.checked_sub(self.next).filter(|&m| m > 0) {
            self.stats.gaps = self.stats.gaps.saturating_add(1);
            self.stats.gap_bytes = self.stats.gap_bytes.saturating_add(missing);
            if !self.is_done() {
                out(Chunk::Gap(missing));
            }
            self.next = o;
        }
        self.drain_pending(out);
    }

    fn deliver(&mut self, fresh: &[u8], out: &mut dyn FnMut(Chunk<'_>)) {
        let room = self.cap.saturating_sub(self.next) as usize;
        // The first `room` bytes, or all of them.
        let delivered = fresh.get(..room).unwrap_or(fresh);
        if delivered.len() < fresh.len() && !self.closed {
            self.stats.capped = true;
        }
        if !delivered.is_empty() && !self.closed {
            out(Chunk::Data(delivered));
        }
        self.next = self.next.saturating_add(fresh.len() as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feed segments, collect what comes out as a byte string with gaps as `#`.
    fn run(cap: usize, steps: &[(&str, u32, &[u8])]) -> (Vec<u8>, StreamStats) {
        let mut r = Reassembler::new(cap);
        let mut got = Vec::new();
        for (what, seq, data) in steps {
            let mut sink = |c: Chunk<'_>| match c {
                Chunk::Data(d) => got.extend_from_slice(d),
                Chunk::Gap(n) => got.extend(std::iter::repeat_n(b'#', n as usize)),
            };
            match *what {
                "syn" => r.syn(*seq, data),
                "synack" => r.syn_acked(*seq, &mut sink),
                "ack" => r.acked(*seq, &mut sink),
                "flush" => r.flush(&mut sink),
                _ => r.segment(*seq, data, &mut sink),
            }
        }
        (got, r.stats)
    }

    #[test]
    fn in_order_with_retransmission() {
        let (got, st) = run(
            100,
            &[
                ("syn", 999, b""),
                ("d", 1000, b"abc"),
                ("d", 1000, b"abc"),
                ("d", 1003, b"def"),
            ],
        );
        assert_eq!(got, b"abcdef");
        assert_eq!(st.retransmissions, 1);
    }

    #[test]
    fn out_of_order_and_overlap_first_copy_wins() {
        let (got, st) = run(
            100,
            &[
                ("syn", 0, b""),
                ("d", 4, b"DEF"),
                ("d", 6, b"xGH"),
                ("d", 1, b"abcz"),
            ],
        );
        // offsets 3..6 = "DEF" held first: "x" (offset 5) loses to "F" and
        // "z" (offset 3) loses to "D"
        assert_eq!(got, b"abcDEFGH");
        assert_eq!(st.out_of_order, 2);
    }

    #[test]
    fn sequence_wrap() {
        let (got, _) = run(
            100,
            &[
                ("syn", u32::MAX - 2, b""),
                ("d", u32::MAX - 1, b"ab"),
                ("d", 0, b"cd"),
            ],
        );
        assert_eq!(got, b"abcd");
    }

    #[test]
    fn midstream_pickup_and_earlier_retransmission() {
        let (got, _) = run(
            100,
            &[
                ("d", 5000, b"hello"),
                ("d", 4998, b"xxhello!"),
                ("d", 5006, b"?"),
            ],
        );
        assert_eq!(got, b"hello!?");
    }

    #[test]
    fn hole_skipped_when_peer_acks_beyond_it() {
        let (got, st) = run(
            100,
            &[
                ("syn", 0, b""),
                ("d", 1, b"ab"),
                ("d", 6, b"fg"),
                ("ack", 8, b""),
            ],
        );
        assert_eq!(got, b"ab###fg");
        assert_eq!((st.gaps, st.gap_bytes), (1, 3));
    }

    #[test]
    fn flush_skips_remaining_holes() {
        let (got, _) = run(
            100,
            &[
                ("syn", 0, b""),
                ("d", 3, b"c"),
                ("d", 6, b"f"),
                ("flush", 0, b""),
            ],
        );
        assert_eq!(got, b"##c##f");
    }

    #[test]
    fn cap_stops_delivery_but_not_counting() {
        let mut r = Reassembler::new(4);
        let mut got = Vec::new();
        r.syn(0, b"");
        r.segment(1, b"abcdef", &mut |c| {
            if let Chunk::Data(d) = c {
                got.extend_from_slice(d)
            }
        });
        assert_eq!(got, b"abcd");
        assert!(r.is_done());
        assert!(r.stats.capped);
        assert_eq!(r.offset(), 6);
    }

    /// Issue 22 item 1: a segment that fills the cap exactly, then more
    /// bytes: the later ones are cut off too, and that must be said.
    #[test]
    fn bytes_after_a_cap_reached_exactly_are_capped() {
        let mut r = Reassembler::new(4);
        r.syn(0, b"");
        r.segment(1, b"abcd", &mut |_| {});
        assert!(r.is_done() && !r.stats.capped);
        r.segment(5, b"ef", &mut |_| {});
        assert!(r.stats.capped);
    }

    #[test]
    fn syn_data_not_acked_is_dropped_for_the_retransmission() {
        let (got, _) = run(
            100,
            &[("syn", 0, b"JUNK"), ("synack", 1, b""), ("d", 1, b"real")],
        );
        assert_eq!(got, b"real");
        let (got, _) = run(
            100,
            &[("syn", 0, b"GET "), ("synack", 5, b""), ("d", 5, b"/")],
        );
        assert_eq!(got, b"GET /");
    }

    #[test]
    fn pending_budget_forces_a_gap() {
        let mut steps: Vec<(&str, u32, &[u8])> = vec![("syn", 0, b"")];
        let block = [7u8; 1000];
        for i in 0..70u32 {
            steps.push(("d", 1001 + i * 1000, &block));
        }
        let (got, st) = run(1 << 20, &steps);
        assert_eq!(st.gaps, 1);
        assert!(got.starts_with(&[b'#'; 1000]));
    }
}
