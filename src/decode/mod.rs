//! From link-layer bytes to IP endpoints and a TCP segment or UDP datagram.
//!
//! Every link type a pod or node capture produces is unwrapped here
//! (Ethernet with VLAN tags, Linux cooked v1/v2, raw IP, BSD loopback, PPP,
//! PPPoE, MPLS), IPv4 fragments are reassembled in a bounded pool, and
//! tunnels are opened (IP-in-IP, GRE, VXLAN, Geneve) so the pod-to-pod flow
//! inside is analysed as well as the underlay packet that carried it.
//! Parsing is lax on purpose: a snaplen-cut packet still yields its headers
//! and whatever payload was captured, flagged as truncated.
// Hostile input: no indexing or slicing, no arithmetic that can overflow
// (unwrap, expect and panic are denied crate-wide in Cargo.toml).
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)
)]

mod defrag;
mod link;
pub mod underlay;

use std::collections::BTreeMap;
use std::net::IpAddr;

use etherparse::{IpNumber, LaxIpPayloadSlice, LaxIpSlice};

use crate::capture::{LinkType, Nanos};
pub use defrag::Ipv4Defrag;
pub use underlay::Underlay;

/// GTP-U (mobile core user plane) carries IP packets over UDP.
const GTP_U_PORT: u16 = 2152;
/// How deep tunnels may nest before we stop opening them.
const MAX_TUNNEL_DEPTH: u8 = 4;

/// One decoded IP packet.
#[derive(Debug, Clone, Copy)]
pub struct Decoded<'a> {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// The transport layer.
    pub l4: L4<'a>,
    /// Bytes of the IP packet on the wire (from the IP header's length).
    pub ip_len: u32,
    /// The capture holds fewer bytes than the IP header announces.
    pub truncated: bool,
    /// This packet was carried inside a tunnel of this kind.
    pub inside: Option<Underlay>,
}

/// The transport layer of a decoded packet.
#[derive(Debug, Clone, Copy)]
pub enum L4<'a> {
    /// A TCP segment.
    Tcp(TcpSegment<'a>),
    /// A UDP datagram.
    Udp {
        /// Source port.
        src_port: u16,
        /// Destination port.
        dst_port: u16,
        /// The captured payload.
        payload: &'a [u8],
    },
    /// IPsec Encapsulating Security Payload (IP protocol 50).
    Esp,
    /// Any other IP protocol.
    Other(u8),
}

/// The parts of a TCP segment the flow layer uses.
#[derive(Debug, Clone, Copy)]
pub struct TcpSegment<'a> {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number (meaningful when `flags.ack`).
    pub ack: u32,
    /// Control flags.
    pub flags: TcpFlags,
    /// The captured payload (shorter than sent when `truncated`).
    pub payload: &'a [u8],
    /// Payload bytes the sender sent, as the IP length says.
    pub payload_len: u32,
}

/// TCP control flags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcpFlags {
    /// SYN.
    pub syn: bool,
    /// ACK.
    pub ack: bool,
    /// FIN.
    pub fin: bool,
    /// RST.
    pub rst: bool,
}

/// Why a packet could not be decoded (counted per kind in the report).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// A link type we do not decode.
    #[error("unsupported link type {0}")]
    UnsupportedLink(u32),
    /// The frame ends inside a link-layer header.
    #[error("link header truncated")]
    LinkTruncated,
    /// A frame that carries no IP (ARP, LLDP, ...). Not damage, but counted.
    #[error("not IP")]
    NotIp,
    /// The IP header is malformed or cut.
    #[error("bad IP header")]
    BadIp,
    /// The TCP or UDP header is malformed or cut.
    #[error("bad transport header")]
    BadTransport,
    /// An IP fragment that is being held for reassembly (not an error).
    #[error("fragment held")]
    FragmentHeld,
    /// An IPv6 fragment: counted, not reassembled.
    #[error("IPv6 fragment")]
    Ipv6Fragment,
}

impl DecodeError {
    /// A stable key for `stats.decode_errors`.
    pub fn kind(self) -> &'static str {
        match self {
            DecodeError::UnsupportedLink(_) => "unsupported_link_type",
            DecodeError::LinkTruncated => "link_truncated",
            DecodeError::NotIp => "not_ip",
            DecodeError::BadIp => "bad_ip_header",
            DecodeError::BadTransport => "bad_transport_header",
            DecodeError::FragmentHeld => "ip_fragment_held",
            DecodeError::Ipv6Fragment => "ipv6_fragment_not_reassembled",
        }
    }
}

/// Counters the decoder keeps on its own.
#[derive(Debug, Clone, Default)]
pub struct DecodeStats {
    /// Errors and skipped packets by kind.
    pub errors: BTreeMap<&'static str, u64>,
    /// Packets opened from inside a tunnel, by tunnel kind.
    pub tunnelled: BTreeMap<&'static str, u64>,
}

/// Decodes packets; owns the IPv4 fragment pool.
#[derive(Default)]
pub struct Decoder {
    defrag: Ipv4Defrag,
    /// Counters for the report.
    pub stats: DecodeStats,
}

impl Decoder {
    /// A decoder with an empty fragment pool.
    pub fn new() -> Self {
        Self::default()
    }

    /// Decode one frame; `emit` is called for each IP packet found (the outer
    /// packet of a tunnel, then the inner one).
    pub fn decode(
        &mut self,
        ts: Nanos,
        link: LinkType,
        frame: &[u8],
        emit: &mut dyn FnMut(&Decoded<'_>),
    ) {
        let r = match link::network_layer(link, frame) {
            Ok(link::Network::Ip(ip)) => self.decode_ip(ts, ip, None, 0, emit),
            Ok(link::Network::Ethernet(eth)) => self.decode_ethernet(ts, eth, None, 0, emit),
            Err(e) => Err(e),
        };
        if let Err(e) = r {
            self.count_error(e);
        }
    }

    fn count_error(&mut self, e: DecodeError) {
        count(self.stats.errors.entry(e.kind()).or_default());
    }

    fn decode_ethernet(
        &mut self,
        ts: Nanos,
        frame: &[u8],
        inside: Option<Underlay>,
        depth: u8,
        emit: &mut dyn FnMut(&Decoded<'_>),
    ) -> Result<(), DecodeError> {
        let ip = link::ethernet_payload(frame)?;
        self.decode_ip(ts, ip, inside, depth, emit)
    }

    fn decode_ip(
        &mut self,
        ts: Nanos,
        bytes: &[u8],
        inside: Option<Underlay>,
        depth: u8,
        emit: &mut dyn FnMut(&Decoded<'_>),
    ) -> Result<(), DecodeError> {
        // The IP layer alone, then the transport header as etherparse's
        // `LaxSlicedPacket::from_ip` would slice it: building that whole
        // packet view (link extensions, every transport kind) and copying
        // it around cost more than the rest of decoding.
        let (ip, stopped) = LaxIpSlice::from_slice(bytes).map_err(|_| DecodeError::BadIp)?;
        let (src, dst, payload, ip_len) = ip_layer(&ip);
        let truncated = payload.incomplete;
        if payload.fragmented {
            let LaxIpSlice::Ipv4(v4) = &ip else {
                return Err(DecodeError::Ipv6Fragment);
            };
            let h = v4.header();
            let Some(whole) = self.defrag.add(ts, &h, payload.ip_number, payload.payload) else {
                return Err(DecodeError::FragmentHeld);
            };
            let l4 = transport_from_bytes(payload.ip_number, &whole, whole.len() as u32, &whole)?;
            let d = Decoded {
                src,
                dst,
                l4,
                ip_len: (whole.len() as u32).saturating_add(20),
                truncated,
                inside,
            };
            emit(&d);
            return self.open_tunnel(ts, &d, depth, emit);
        }
        let ip_number = payload.ip_number;
        let l4 = match ip_number {
            // Past a damaged extension header there is no transport header
            // to read, as etherparse's packet view stopped there (with
            // etherparse 0.21 the payload's number is then the damaged
            // header's own, never TCP or UDP: kept in case that changes).
            IpNumber::TCP | IpNumber::UDP if stopped.is_some() => {
                return Err(DecodeError::BadTransport);
            }
            _ => transport_from_bytes(ip_number, payload.payload, ip_len, bytes)?,
        };
        let d = Decoded {
            src,
            dst,
            l4,
            ip_len,
            truncated,
            inside,
        };
        emit(&d);
        self.carried(ts, ip_number, payload.payload, &d, depth, emit)
    }

    /// What an IP packet's payload carries, decoded in turn: an inner IP
    /// packet, GRE's, or a UDP tunnel's frames.
    fn carried(
        &mut self,
        ts: Nanos,
        ip_number: IpNumber,
        payload: &[u8],
        d: &Decoded<'_>,
        depth: u8,
        emit: &mut dyn FnMut(&Decoded<'_>),
    ) -> Result<(), DecodeError> {
        let inside = d.inside;
        match ip_number {
            // IP-in-IP (4) and IPv6-in-IP (41): the inner packet follows directly.
            IpNumber(4) | IpNumber(41) if depth < MAX_TUNNEL_DEPTH => {
                count(self.stats.tunnelled.entry("ip-in-ip").or_default());
                self.decode_ip(ts, payload, inside, depth.saturating_add(1), emit)
            }
            IpNumber::GRE if depth < MAX_TUNNEL_DEPTH => {
                count(self.stats.tunnelled.entry("gre").or_default());
                match link::gre_payload(payload)? {
                    link::Network::Ip(ip) => {
                        self.decode_ip(ts, ip, inside, depth.saturating_add(1), emit)
                    }
                    link::Network::Ethernet(eth) => {
                        self.decode_ethernet(ts, eth, inside, depth.saturating_add(1), emit)
                    }
                }
            }
            _ => self.open_tunnel(ts, d, depth, emit),
        }
    }

    /// VXLAN and Geneve carry whole Ethernet frames over UDP: analyse them too.
    fn open_tunnel(
        &mut self,
        ts: Nanos,
        d: &Decoded<'_>,
        depth: u8,
        emit: &mut dyn FnMut(&Decoded<'_>),
    ) -> Result<(), DecodeError> {
        let L4::Udp {
            src_port,
            dst_port,
            payload,
        } = d.l4
        else {
            return Ok(());
        };
        if depth >= MAX_TUNNEL_DEPTH {
            return Ok(());
        }
        if src_port == GTP_U_PORT || dst_port == GTP_U_PORT {
            if let Some(inner) = link::gtp_u_payload(payload) {
                count(self.stats.tunnelled.entry("gtp-u").or_default());
                if let Err(e) = self.decode_ip(ts, inner, d.inside, depth.saturating_add(1), emit) {
                    self.count_error(e);
                }
            }
            return Ok(());
        }
        let Some(kind) = underlay::classify_udp(src_port, dst_port, payload) else {
            return Ok(());
        };
        let Some(offset) = underlay::inner_ethernet_offset(kind, payload) else {
            return Ok(());
        };
        let Some(inner) = payload.get(offset..) else {
            return Ok(());
        };
        count(self.stats.tunnelled.entry(kind.as_str()).or_default());
        // Damage inside a tunnel is counted but does not undo the outer packet.
        if let Err(e) = self.decode_ethernet(ts, inner, Some(kind), depth.saturating_add(1), emit) {
            self.count_error(e);
        }
        Ok(())
    }
}

fn tcp_segment<'a>(t: &etherparse::TcpSlice<'a>, ip_len: u32, ip_start: &[u8]) -> TcpSegment<'a> {
    let header_len = t.header_slice().len() as u32;
    let payload = t.payload();
    // The IP length tells how much the sender sent even when the capture is
    // cut; the IP header length is where the TCP header starts.
    let ip_header = (t.slice().as_ptr() as usize).wrapping_sub(ip_start.as_ptr() as usize) as u32;
    let sent = ip_len
        .saturating_sub(ip_header)
        .saturating_sub(header_len)
        .max(payload.len() as u32);
    TcpSegment {
        src_port: t.source_port(),
        dst_port: t.destination_port(),
        seq: t.sequence_number(),
        ack: t.acknowledgment_number(),
        flags: TcpFlags {
            syn: t.syn(),
            ack: t.ack(),
            fin: t.fin(),
            rst: t.rst(),
        },
        payload,
        payload_len: sent,
    }
}

/// The transport header at the start of `bytes`, an IP packet's payload.
/// `ip_len` and `ip_start` (the IP packet's length on the wire and its
/// first captured byte) tell how much a cut TCP segment carried.
fn transport_from_bytes<'a>(
    ip_number: IpNumber,
    bytes: &'a [u8],
    ip_len: u32,
    ip_start: &[u8],
) -> Result<L4<'a>, DecodeError> {
    match ip_number {
        IpNumber::TCP => {
            let t =
                etherparse::TcpSlice::from_slice(bytes).map_err(|_| DecodeError::BadTransport)?;
            Ok(L4::Tcp(tcp_segment(&t, ip_len, ip_start)))
        }
        IpNumber::UDP => {
            let u = etherparse::UdpSlice::from_slice_lax(bytes)
                .map_err(|_| DecodeError::BadTransport)?;
            Ok(L4::Udp {
                src_port: u.source_port(),
                dst_port: u.destination_port(),
                payload: u.payload(),
            })
        }
        IpNumber::ENCAPSULATING_SECURITY_PAYLOAD => Ok(L4::Esp),
        other => Ok(L4::Other(other.0)),
    }
}

impl Decoder {
    /// IPv4 datagrams (reassembled, dropped).
    pub fn defrag_stats(&self) -> (u64, u64) {
        (self.defrag.reassembled, self.defrag.dropped)
    }
}

/// One more in a counter (saturating: a counter never wraps).
fn count(n: &mut u64) {
    *n = n.saturating_add(1);
}

/// The two addresses, the payload and the length the header declares
/// (IPv6: its payload length plus the fixed header) of an IP packet.
fn ip_layer<'b, 'a>(ip: &'b LaxIpSlice<'a>) -> (IpAddr, IpAddr, &'b LaxIpPayloadSlice<'a>, u32) {
    match ip {
        LaxIpSlice::Ipv4(v4) => {
            let h = v4.header();
            (
                IpAddr::from(h.source_addr()),
                IpAddr::from(h.destination_addr()),
                v4.payload(),
                u32::from(h.total_len()),
            )
        }
        LaxIpSlice::Ipv6(v6) => {
            let h = v6.header();
            (
                IpAddr::from(h.source_addr()),
                IpAddr::from(h.destination_addr()),
                v6.payload(),
                u32::from(h.payload_length()) + 40,
            )
        }
    }
}

#[cfg(test)]
mod tests;
