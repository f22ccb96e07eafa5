//! Packet sources: pcap and pcapng files (or a stream on stdin), merged in
//! timestamp order when there are several.
//!
//! Files are read with `pcap-parser` (pure Rust, no libpcap needed offline).
//! A damaged file is not an error once it has yielded its header: the
//! packets before the damage are analysed and the damage becomes a warning,
//! the way tshark reads a truncated capture as far as it goes.
// Hostile input: no indexing or slicing, no arithmetic that can overflow
// (unwrap, expect and panic are denied crate-wide in Cargo.toml).
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)
)]

mod ahead;
mod gzip;
mod merge;
mod reader;

pub use gzip::{DEFAULT_FLOOR_MIB, DEFAULT_MAX_RATIO, ReadLimits};
pub use merge::{InputSummary, Item, MergedSource};
pub use reader::{CaptureReader, Packet, PacketBuf, ReadOutcome};

/// Capture-level errors: the input cannot be read as a capture at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaptureError {
    /// The file could not be opened or read.
    #[error("{name}: {source}")]
    Io {
        /// The file name as given by the user.
        name: String,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The input is empty.
    #[error("{name}: empty input, not a pcap or pcapng capture")]
    Empty {
        /// The file name as given by the user.
        name: String,
    },
    /// The first bytes are neither a pcap nor a pcapng header.
    #[error("{name}: not a pcap or pcapng capture (first bytes {magic}; {detail})")]
    NotACapture {
        /// The file name as given by the user.
        name: String,
        /// Hex of up to the first 4 bytes, for the error message.
        magic: String,
        /// What the reader said.
        detail: String,
    },
}

/// Link-layer header types we decode (the `LINKTYPE_*` registry values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LinkType(pub u32);

impl LinkType {
    /// BSD loopback: 4-byte address family in host byte order.
    pub const NULL: LinkType = LinkType(0);
    /// Ethernet II, with optional VLAN tags.
    pub const ETHERNET: LinkType = LinkType(1);
    /// PPP (RFC 1661), as some tunnels and dial-up captures have it.
    pub const PPP: LinkType = LinkType(9);
    /// Raw IP (the number used by Linux and most writers).
    pub const RAW: LinkType = LinkType(101);
    /// OpenBSD loopback: like NULL but the family is big-endian.
    pub const LOOP: LinkType = LinkType(108);
    /// Linux cooked capture v1 (16-byte header).
    pub const LINUX_SLL: LinkType = LinkType(113);
    /// Raw IPv4.
    pub const IPV4: LinkType = LinkType(228);
    /// Raw IPv6.
    pub const IPV6: LinkType = LinkType(229);
    /// Linux cooked capture v2 (20-byte header); what `tcpdump -i any` writes.
    pub const LINUX_SLL2: LinkType = LinkType(276);

    /// A short stable name for reports.
    pub fn name(self) -> String {
        match self {
            Self::NULL => "null".into(),
            Self::ETHERNET => "ethernet".into(),
            Self::PPP => "ppp".into(),
            Self::RAW | LinkType(12) | LinkType(14) => "raw".into(),
            Self::LOOP => "loop".into(),
            Self::LINUX_SLL => "linux-sll".into(),
            Self::IPV4 => "ipv4".into(),
            Self::IPV6 => "ipv6".into(),
            Self::LINUX_SLL2 => "linux-sll2".into(),
            LinkType(n) => format!("linktype-{n}"),
        }
    }
}

/// Nanoseconds since the Unix epoch, as captured.
pub type Nanos = i64;

/// Format a capture timestamp as RFC 3339 UTC with microseconds.
pub fn format_ts(ts: Nanos) -> String {
    let secs = ts.div_euclid(1_000_000_000);
    let micros = ts.rem_euclid(1_000_000_000) / 1000;
    match ::time::OffsetDateTime::from_unix_timestamp(secs) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            micros
        ),
        Err(_) => format!("@{secs}.{micros:06}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_timestamps_as_rfc3339_micros() {
        assert_eq!(format_ts(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            format_ts(1_700_000_000_123_456_789),
            "2023-11-14T22:13:20.123456Z"
        );
        assert_eq!(format_ts(-1_000), "1969-12-31T23:59:59.999999Z");
    }
}
