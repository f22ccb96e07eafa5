//! Link-layer headers: where the IP packet (or an Ethernet frame) starts.

use super::DecodeError;
use crate::capture::LinkType;

/// What follows a link or tunnel header.
#[derive(Debug)]
pub enum Network<'a> {
    /// An IPv4 or IPv6 packet.
    Ip(&'a [u8]),
    /// An Ethernet frame.
    Ethernet(&'a [u8]),
}

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88a8;
const ETHERTYPE_QINQ_OLD: u16 = 0x9100;
const ETHERTYPE_PPPOE_SESSION: u16 = 0x8864;
const ETHERTYPE_MPLS: u16 = 0x8847;
const ETHERTYPE_MPLS_MULTICAST: u16 = 0x8848;
const ETHERTYPE_TEB: u16 = 0x6558;
const ETHERTYPE_ERSPAN_2: u16 = 0x88be;
const ETHERTYPE_ERSPAN_3: u16 = 0x22eb;

/// MPLS label stacks deeper than this are treated as malformed.
const MAX_MPLS_LABELS: usize = 8;

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([
        *b.get(at)?,
        *b.get(at.checked_add(1)?)?,
    ]))
}

/// Strip the capture's link header.
pub fn network_layer(link: LinkType, frame: &[u8]) -> Result<Network<'_>, DecodeError> {
    match link {
        LinkType::ETHERNET => Ok(Network::Ethernet(frame)),
        LinkType::RAW | LinkType::IPV4 | LinkType::IPV6 | LinkType(12) | LinkType(14) => {
            Ok(Network::Ip(frame))
        }
        LinkType::NULL | LinkType::LOOP => {
            let (family, rest) = frame
                .split_first_chunk::<4>()
                .ok_or(DecodeError::LinkTruncated)?;
            // The family is in the writer's byte order; both orders of the
            // small values are unambiguous.
            let le = u32::from_le_bytes(*family);
            let be = u32::from_be_bytes(*family);
            let v = if le < 256 { le } else { be };
            match v {
                2 | 10 | 24 | 28 | 30 => Ok(Network::Ip(rest)),
                _ => Err(DecodeError::NotIp),
            }
        }
        LinkType::LINUX_SLL => {
            let proto = be16(frame, 14).ok_or(DecodeError::LinkTruncated)?;
            by_ethertype(proto, frame.get(16..).ok_or(DecodeError::LinkTruncated)?)
        }
        LinkType::LINUX_SLL2 => {
            let proto = be16(frame, 0).ok_or(DecodeError::LinkTruncated)?;
            by_ethertype(proto, frame.get(20..).ok_or(DecodeError::LinkTruncated)?)
        }
        LinkType::PPP => ppp_payload(frame),
        LinkType(other) => Err(DecodeError::UnsupportedLink(other)),
    }
}

/// Skip the Ethernet header and any VLAN tags.
///
/// Iterative, not recursive: Ethernet-over-MPLS nests as deep as the frame
/// is long, and a recursion that deep overflows the stack.
pub fn ethernet_payload(mut frame: &[u8]) -> Result<&[u8], DecodeError> {
    loop {
        let mut ethertype = be16(frame, 12).ok_or(DecodeError::LinkTruncated)?;
        let mut at: usize = 14;
        while matches!(
            ethertype,
            ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD
        ) {
            ethertype = at
                .checked_add(2)
                .and_then(|tag| be16(frame, tag))
                .ok_or(DecodeError::LinkTruncated)?;
            at = at.checked_add(4).ok_or(DecodeError::LinkTruncated)?;
        }
        let rest = frame.get(at..).ok_or(DecodeError::LinkTruncated)?;
        match by_ethertype(ethertype, rest)? {
            Network::Ip(ip) => return Ok(ip),
            Network::Ethernet(inner) => frame = inner,
        }
    }
}

/// Iterative over VLAN tags for the same reason as `ethernet_payload`.
fn by_ethertype(mut ethertype: u16, mut rest: &[u8]) -> Result<Network<'_>, DecodeError> {
    loop {
        match ethertype {
            ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD => {
                ethertype = be16(rest, 2).ok_or(DecodeError::LinkTruncated)?;
                rest = rest.get(4..).ok_or(DecodeError::LinkTruncated)?;
            }
            ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => return Ok(Network::Ip(rest)),
            ETHERTYPE_PPPOE_SESSION => {
                return ppp_payload(rest.get(6..).ok_or(DecodeError::LinkTruncated)?);
            }
            ETHERTYPE_MPLS | ETHERTYPE_MPLS_MULTICAST => return mpls_payload(rest),
            _ => return Err(DecodeError::NotIp),
        }
    }
}

/// PPP: an optional `ff 03` address/control, then a 1- or 2-byte protocol.
fn ppp_payload(frame: &[u8]) -> Result<Network<'_>, DecodeError> {
    let b = frame.strip_prefix(&[0xff, 0x03]).unwrap_or(frame);
    let (&first, after_first) = b.split_first().ok_or(DecodeError::LinkTruncated)?;
    // Protocol-field compression: an odd first byte is a 1-byte protocol.
    let (proto, rest) = if first & 1 == 1 {
        (u16::from(first), after_first)
    } else {
        let (proto, rest) = b
            .split_first_chunk::<2>()
            .ok_or(DecodeError::LinkTruncated)?;
        (u16::from_be_bytes(*proto), rest)
    };
    match proto {
        0x0021 | 0x0057 => Ok(Network::Ip(rest)),
        _ => Err(DecodeError::NotIp),
    }
}

/// MPLS: skip labels to the bottom of the stack; the IP version nibble says what follows.
fn mpls_payload(frame: &[u8]) -> Result<Network<'_>, DecodeError> {
    for i in 0..MAX_MPLS_LABELS {
        // At most MAX_MPLS_LABELS * 4 bytes in: no overflow.
        let at = i.saturating_mul(4);
        let end = at.saturating_add(4);
        let label = frame.get(at..end).ok_or(DecodeError::LinkTruncated)?;
        if label.get(2).is_some_and(|s| s & 1 == 1) {
            let rest = frame.get(end..).ok_or(DecodeError::LinkTruncated)?;
            return match rest.first().map(|b| b >> 4) {
                Some(4) | Some(6) => Ok(Network::Ip(rest)),
                Some(_) => Ok(Network::Ethernet(rest)),
                None => Err(DecodeError::LinkTruncated),
            };
        }
    }
    Err(DecodeError::NotIp)
}

/// GRE (RFC 2784/2890) and ERSPAN inside it.
pub fn gre_payload(b: &[u8]) -> Result<Network<'_>, DecodeError> {
    let flags = be16(b, 0).ok_or(DecodeError::LinkTruncated)?;
    let proto = be16(b, 2).ok_or(DecodeError::LinkTruncated)?;
    let mut at: usize = 4;
    for bit in [0x8000u16, 0x2000, 0x1000] {
        // checksum(+reserved), key, sequence number: 4 bytes each when present
        if flags & bit != 0 {
            at = at.saturating_add(4);
        }
    }
    let rest = b.get(at..).ok_or(DecodeError::LinkTruncated)?;
    match proto {
        ETHERTYPE_TEB => Ok(Network::Ethernet(rest)),
        ETHERTYPE_ERSPAN_2 => Ok(Network::Ethernet(
            rest.get(8..).ok_or(DecodeError::LinkTruncated)?,
        )),
        ETHERTYPE_ERSPAN_3 => Ok(Network::Ethernet(
            rest.get(12..).ok_or(DecodeError::LinkTruncated)?,
        )),
        other => by_ethertype(other, rest),
    }
}

/// GTP-U version 1 G-PDU (3GPP TS 29.281): an 8-byte header, 4 more when
/// any of the E/S/PN flags is set, then extension headers, then an IP packet.
pub fn gtp_u_payload(b: &[u8]) -> Option<&[u8]> {
    let flags = *b.first()?;
    if flags >> 5 != 1 || *b.get(1)? != 0xff {
        return None;
    }
    let mut at = 8;
    if flags & 0x07 != 0 {
        let mut next = *b.get(11)?;
        at = 12;
        // Extension headers: a length in 4-byte units, the last byte names the next.
        for _ in 0..8 {
            if next == 0 {
                break;
            }
            let units = usize::from(*b.get(at)?);
            if units == 0 {
                return None;
            }
            at = at.checked_add(units.checked_mul(4)?)?;
            next = *b.get(at.checked_sub(1)?)?;
        }
    }
    let inner = b.get(at..)?;
    matches!(inner.first().map(|v| v >> 4), Some(4) | Some(6)).then_some(inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip_of(n: Result<Network<'_>, DecodeError>) -> Option<&[u8]> {
        match n {
            Ok(Network::Ip(b)) => Some(b),
            _ => None,
        }
    }

    #[test]
    fn strips_vlan_tags() {
        let mut f = vec![0u8; 12];
        f.extend([0x81, 0x00, 0x00, 0x05, 0x81, 0x00, 0x00, 0x06, 0x08, 0x00]);
        f.extend([0x45, 1, 2]);
        assert_eq!(ethernet_payload(&f).unwrap(), &[0x45, 1, 2]);
    }

    #[test]
    fn linux_cooked_v1_and_v2() {
        let mut v1 = vec![0u8; 14];
        v1.extend([0x86, 0xdd, 0x60, 0]);
        assert_eq!(
            ip_of(network_layer(LinkType::LINUX_SLL, &v1)),
            Some(&[0x60, 0][..])
        );
        let mut v2 = vec![0x08, 0x00];
        v2.extend([0u8; 18]);
        v2.extend([0x45]);
        assert_eq!(
            ip_of(network_layer(LinkType::LINUX_SLL2, &v2)),
            Some(&[0x45][..])
        );
        assert_eq!(
            network_layer(LinkType::LINUX_SLL2, &[8, 0, 1]).err(),
            Some(DecodeError::LinkTruncated)
        );
    }

    #[test]
    fn null_loopback_in_both_byte_orders() {
        assert!(ip_of(network_layer(LinkType::NULL, &[2, 0, 0, 0, 0x45])).is_some());
        assert!(ip_of(network_layer(LinkType::NULL, &[0, 0, 0, 30, 0x60])).is_some());
        assert_eq!(
            network_layer(LinkType::NULL, &[7, 0, 0, 0]).err(),
            Some(DecodeError::NotIp)
        );
    }

    #[test]
    fn pppoe_and_mpls() {
        let mut f = vec![0u8; 12];
        f.extend([0x88, 0x64, 0x11, 0, 0, 1, 0, 10, 0x00, 0x21, 0x45]);
        assert_eq!(ethernet_payload(&f).unwrap(), &[0x45]);
        let mut m = vec![0u8; 12];
        m.extend([0x88, 0x47, 0, 0, 0, 64, 0, 0, 1, 64, 0x45]);
        assert_eq!(ethernet_payload(&m).unwrap(), &[0x45]);
    }

    #[test]
    fn gtp_u() {
        let mut b = vec![0x30, 0xff, 0, 4, 0, 0, 0, 1, 0x45];
        assert_eq!(gtp_u_payload(&b), Some(&[0x45][..]));
        b[0] = 0x32; // sequence flag: 4 more bytes
        b.truncate(8);
        b.extend([0, 0, 0, 0, 0x60]);
        assert_eq!(gtp_u_payload(&b), Some(&[0x60][..]));
        assert_eq!(gtp_u_payload(&[0x30, 0x01, 0, 0]), None);
    }

    /// Regression (fuzz/regressions/decode_frame/): 16,000 stacked VLAN tags after a Linux
    /// cooked header, and Ethernet-in-MPLS nested 60,000 deep, used to recurse
    /// once per tag or level and overflow the stack.
    #[test]
    fn deep_vlan_and_mpls_nesting_does_not_recurse() {
        let mut sll = vec![0u8; 14];
        sll.extend([0x81, 0x00]);
        for _ in 0..16_000 {
            sll.extend([0, 0, 0x81, 0x00]);
        }
        sll.extend([0, 0, 0x08, 0x00, 0x45]);
        assert_eq!(
            ip_of(network_layer(LinkType::LINUX_SLL, &sll)),
            Some(&[0x45][..])
        );
        let unit = [0u8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x88, 0x47, 0, 0, 1, 0];
        let mut eth = unit.repeat(60_000);
        eth.extend([0u8; 12]);
        eth.extend([0x08, 0x00, 0x45]);
        assert_eq!(ethernet_payload(&eth).unwrap(), &[0x45]);
    }

    #[test]
    fn never_panics_on_short_frames() {
        for link in [0, 1, 9, 101, 108, 113, 228, 229, 276, 147] {
            for len in 0..24 {
                let frame = vec![0x81u8; len];
                let _ = network_layer(LinkType(link), &frame);
                let _ = ethernet_payload(&frame);
                let _ = gre_payload(&frame);
                let _ = gtp_u_payload(&frame);
            }
        }
    }
}
