//! Bounded IPv4 fragment reassembly.
//!
//! etherparse's `IpDefragPool` is documented as unsafe against memory
//! exhaustion, so we keep its per-datagram buffer (`IpDefragBuf`) and bound
//! the pool ourselves: a cap on datagrams in flight, a timeout, and the
//! 64 KiB limit IPv4 itself puts on a datagram.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use etherparse::defrag::IpDefragBuf;
use etherparse::{IpNumber, Ipv4HeaderSlice};

use crate::capture::Nanos;

/// Datagrams being reassembled at once; beyond it the oldest is dropped.
const MAX_IN_FLIGHT: usize = 1024;
/// A datagram whose fragments have not all arrived by then is dropped.
const TIMEOUT: Nanos = 30_000_000_000;

type Key = (Ipv4Addr, Ipv4Addr, u16, u8);

/// The pool of IPv4 datagrams being reassembled.
#[derive(Default)]
pub struct Ipv4Defrag {
    active: HashMap<Key, (IpDefragBuf, Nanos)>,
    /// Datagrams completed.
    pub reassembled: u64,
    /// Datagrams dropped unfinished (timeout, pool full or inconsistent fragments).
    pub dropped: u64,
}

impl Ipv4Defrag {
    /// Add a fragment; returns the whole payload when this fragment completes it.
    pub fn add(
        &mut self,
        ts: Nanos,
        header: &Ipv4HeaderSlice<'_>,
        ip_number: IpNumber,
        payload: &[u8],
    ) -> Option<Vec<u8>> {
        let key = (
            header.source_addr(),
            header.destination_addr(),
            header.identification(),
            ip_number.0,
        );
        if !self.active.contains_key(&key) {
            self.make_room(ts);
        }
        let (buf, _) = self
            .active
            .entry(key)
            .or_insert_with(|| (IpDefragBuf::new(ip_number, Vec::new(), Vec::new()), ts));
        if buf
            .add(header.fragments_offset(), header.more_fragments(), payload)
            .is_err()
        {
            self.active.remove(&key);
            self.dropped = self.dropped.saturating_add(1);
            return None;
        }
        if !buf.is_complete() {
            return None;
        }
        let (buf, _) = self.active.remove(&key)?;
        self.reassembled = self.reassembled.saturating_add(1);
        Some(buf.take_bufs().0)
    }

    fn make_room(&mut self, now: Nanos) {
        let before = self.active.len();
        self.active
            .retain(|_, (_, start)| now.saturating_sub(*start) < TIMEOUT);
        if self.active.len() >= MAX_IN_FLIGHT
            && let Some(oldest) = self
                .active
                .iter()
                .min_by_key(|(_, (_, start))| *start)
                .map(|(k, _)| *k)
        {
            self.active.remove(&oldest);
        }
        self.dropped = self
            .dropped
            .saturating_add(before.saturating_sub(self.active.len()) as u64);
    }
}
