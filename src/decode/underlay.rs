//! Recognising the network underneath pod traffic from a packet's outer layer.
//!
//! A node-level capture sees pod traffic wrapped by the CNI: in a plaintext
//! overlay (VXLAN, Geneve, Weave fast datapath or sleeve) the pod packets are
//! still readable inside, while WireGuard (Calico, Cilium, Flannel) and ESP
//! (Cilium/Flannel IPsec, encrypted Weave fastdp) hide them. The functions here
//! only name the wrapper; whether a flow is protected is decided later.
//!
//! Wire facts: `standards.md` section 4 (Weave `mesh/protocol.go`,
//! `router/fastdp.go`; wireguard-go `device/noise-protocol.go` @ `f333402`;
//! RFC 7348 VXLAN; RFC 8926 Geneve). Everything here reads hostile bytes: no
//! indexing, no arithmetic that can overflow, no allocation.
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

/// What a packet's outer layer says about the network underneath the pod traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Underlay {
    /// IPsec ESP (IP protocol 50). Recognised from the IP header by the caller,
    /// never by [`classify_udp`]; kept here so all underlays share one name.
    Esp,
    /// WireGuard, recognised by message shape on any UDP port.
    WireGuard,
    /// VXLAN (UDP 4789, 8472, and Weave fast datapath on 6784): plaintext inside.
    Vxlan,
    /// Geneve (UDP 6081): plaintext inside.
    Geneve,
    /// Weave sleeve data (UDP 6783/6784, not VXLAN): NaCl-encrypted or not, see standards.md 4.1.
    WeaveSleeve,
    /// Weave control plane (TCP 6783); [`weave_handshake_encrypted`] reads its preamble.
    WeaveControl,
}

/// RFC 7348 port and the Linux kernel's historical default (Flannel's VXLAN backend).
const VXLAN_PORTS: [u16; 2] = [4789, 8472];
const GENEVE_PORT: u16 = 6081;
/// Weave's mesh port: TCP control plane and UDP sleeve.
const WEAVE_PORT: u16 = 6783;
/// Weave fast datapath: VXLAN on the mesh port + 1 (`router/fastdp.go`).
const WEAVE_FASTDP_PORT: u16 = 6784;

const VXLAN_HEADER_LEN: usize = 8;
const GENEVE_BASE_LEN: usize = 8;
/// Geneve protocol type for an Ethernet payload (Transparent Ethernet Bridging).
const ETHERTYPE_TEB: u16 = 0x6558;
/// Destination MAC, source MAC, EtherType.
const ETHERNET_HEADER_LEN: usize = 14;

/// Services whose ordinary datagrams can take the WireGuard transport-data
/// shape: a DNS message with ID 0x0400 and no flags set (or an NTP packet
/// with those first bytes) starts `04 00 00 00`, and one length in 16 is a
/// multiple of 16. Type 1-3 messages have exact sizes and need no exclusion.
const WIREGUARD_LOOKALIKE_PORTS: [u16; 3] = [53, 123, 5353];

/// UDP: classify by port and payload shape. Returns None for ordinary UDP.
///
/// Order matters: an encapsulation on its own port wins, then Weave's ports,
/// then WireGuard's shape, which is checked on every port because Calico,
/// Cilium and Flannel each pick a different one and users change them.
pub fn classify_udp(src_port: u16, dst_port: u16, payload: &[u8]) -> Option<Underlay> {
    // VXLAN and Geneve senders pick a hashed source port; only the destination is fixed.
    let vxlan_port = VXLAN_PORTS.contains(&dst_port) || dst_port == WEAVE_FASTDP_PORT;
    if vxlan_port && vxlan_inner(payload).is_some() {
        return Some(Underlay::Vxlan);
    }
    if dst_port == GENEVE_PORT && geneve_header(payload).is_some() {
        return Some(Underlay::Geneve);
    }
    let weave_ports = [WEAVE_PORT, WEAVE_FASTDP_PORT];
    if weave_ports.contains(&src_port) || weave_ports.contains(&dst_port) {
        return Some(Underlay::WeaveSleeve);
    }
    is_wireguard(src_port, dst_port, payload).then_some(Underlay::WireGuard)
}

/// TCP: Weave control plane (TCP 6783) only.
pub fn classify_tcp(src_port: u16, dst_port: u16) -> Option<Underlay> {
    (src_port == WEAVE_PORT || dst_port == WEAVE_PORT).then_some(Underlay::WeaveControl)
}

/// For VXLAN/Geneve: the offset of the inner Ethernet frame in the UDP payload, if the header is well-formed
/// (VXLAN: 8-byte header with the I flag; Geneve: version 0, option length, protocol type 0x6558 Transparent Ethernet Bridging).
///
/// A returned offset always leaves at least a full Ethernet header (14 bytes)
/// in `payload`, so the caller can decode from it without another length check.
pub fn inner_ethernet_offset(kind: Underlay, payload: &[u8]) -> Option<usize> {
    let offset = match kind {
        Underlay::Vxlan => vxlan_inner(payload)?,
        Underlay::Geneve => match geneve_header(payload)? {
            (ETHERTYPE_TEB, len) => len,
            _ => return None,
        },
        _ => return None,
    };
    (payload.len().checked_sub(offset)? >= ETHERNET_HEADER_LEN).then_some(offset)
}

/// For Weave TCP 6783 handshakes: parse the `"weave"` + min/max version (+ v2 encryption flag byte) preamble when present.
///
/// `payload` is the start of one side's TCP stream. Each peer sends `weave`,
/// its min and max protocol version, then (protocol 2) a flag byte: 0 = plain,
/// 1 = encrypted, followed by a 32-byte public key. The flag is read when the
/// sender's max version is 2 or more; if the peers negotiated version 1 instead,
/// that byte starts a gob message, whose length byte is never 0 or 1, so the
/// flag cannot be misread. In version 1 the features map holds `PublicKey` only
/// when encrypting: its presence gives `Some(true)`, its absence proves nothing
/// in a cut stream and gives `None`, as does anything that is not a preamble.
pub fn weave_handshake_encrypted(payload: &[u8]) -> Option<bool> {
    let rest = payload.strip_prefix(b"weave")?;
    let (&[min_version, max_version], rest) = rest.split_first_chunk::<2>()?;
    if min_version == 0 || min_version > max_version {
        return None;
    }
    if max_version >= 2 {
        match rest.first() {
            Some(0) => return Some(false),
            Some(1) => return Some(true),
            _ => {}
        }
    }
    let needle: &[u8] = b"PublicKey";
    rest.windows(needle.len())
        .any(|w| w == needle)
        .then_some(true)
}

/// VXLAN header (RFC 7348) followed by an Ethernet header: the inner offset.
///
/// Stricter than "I flag set": the reserved fields must be zero as every
/// implementation sends them (bytes 1-3 may carry the Group Based Policy
/// extension when its G flag is set), because on UDP 6784 this test is what
/// tells Weave fastdp from a sleeve packet, which starts with a MAC address.
fn vxlan_inner(payload: &[u8]) -> Option<usize> {
    let (header, _) = payload.split_first_chunk::<VXLAN_HEADER_LEN>()?;
    let [flags, r1, r2, r3, _, _, _, r7] = *header;
    let well_formed = match flags {
        0x08 => [r1, r2, r3] == [0, 0, 0],
        0x88 => r1 & !0x48 == 0, // G + I: byte 1 holds the D and A bits, bytes 2-3 the policy ID
        _ => false,
    };
    let room = payload.len().checked_sub(VXLAN_HEADER_LEN)? >= ETHERNET_HEADER_LEN;
    (well_formed && r7 == 0 && room).then_some(VXLAN_HEADER_LEN)
}

/// Geneve header (RFC 8926): version 0 and the options fit. Returns
/// (protocol type, header length including options).
fn geneve_header(payload: &[u8]) -> Option<(u16, usize)> {
    let (header, _) = payload.split_first_chunk::<GENEVE_BASE_LEN>()?;
    let [ver_opt, _flags, p0, p1, _, _, _, _] = *header;
    if ver_opt >> 6 != 0 {
        return None;
    }
    // Option length counts 4-byte words in the low 6 bits: at most 252 bytes.
    let len = GENEVE_BASE_LEN.checked_add(usize::from(ver_opt & 0x3f).checked_mul(4)?)?;
    (payload.len() >= len).then_some((u16::from_be_bytes([p0, p1]), len))
}

/// WireGuard message shape: type 1..=4, three zero bytes, then the exact size
/// of that message (148 initiation, 92 response, 64 cookie reply) or, for
/// transport data, a 16-byte header plus ciphertext padded to 16 bytes plus a
/// 16-byte tag (at least 32: an empty keepalive).
fn is_wireguard(src_port: u16, dst_port: u16, payload: &[u8]) -> bool {
    let Some(([kind, 0, 0, 0], _)) = payload.split_first_chunk::<4>() else {
        return false;
    };
    let len = payload.len();
    match kind {
        1 => len == 148,
        2 => len == 92,
        3 => len == 64,
        4 => {
            let lookalike = WIREGUARD_LOOKALIKE_PORTS.contains(&src_port)
                || WIREGUARD_LOOKALIKE_PORTS.contains(&dst_port);
            len >= 32 && len.is_multiple_of(16) && !lookalike
        }
        _ => false,
    }
}

impl Underlay {
    /// Every kind.
    pub const ALL: [Underlay; 6] = [
        Underlay::Esp,
        Underlay::WireGuard,
        Underlay::Vxlan,
        Underlay::Geneve,
        Underlay::WeaveSleeve,
        Underlay::WeaveControl,
    ];

    /// The kind a report names (the inverse of [`Underlay::as_str`]).
    pub fn from_name(name: &str) -> Option<Underlay> {
        Self::ALL.into_iter().find(|u| u.as_str() == name)
    }

    /// The report's name for an underlay.
    pub fn as_str(self) -> &'static str {
        match self {
            Underlay::Esp => "esp",
            Underlay::WireGuard => "wireguard",
            Underlay::Vxlan => "vxlan",
            Underlay::Geneve => "geneve",
            Underlay::WeaveSleeve => "weave-sleeve",
            Underlay::WeaveControl => "weave-control",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Underlay::*;
    use super::*;

    /// Frame 1 of nDPI's `vxlan.pcap` (UDP 60887 -> 4789): VNI 0x457 around a
    /// DNS query for facebook.com, which starts at byte 50 (8 + 14 + 20 + 8).
    const VXLAN_DNS: &[u8] =
        b"\x08\x00\x00\x00\x00\x04\x57\x00\x66\x7a\x50\xaa\xff\x9a\x1e\xea\x69\x2a\x6f\xcf\
        \x08\x00\x45\x00\x00\x3a\x35\xb0\x40\x00\x40\x11\xd6\xe5\x0a\x0a\x14\x04\x08\x08\
        \x08\x08\xad\x95\x00\x35\x00\x26\x17\xe2\x90\xc6\x01\x00\x00\x01\x00\x00\x00\x00\
        \x00\x00\x08\x66\x61\x63\x65\x62\x6f\x6f\x6b\x03\x63\x6f\x6d\x00\x00\x01\x00\x01";

    /// Deterministic filler standing in for keys, MACs and ciphertext.
    fn noise(seed: u64, len: usize) -> Vec<u8> {
        let mut x = seed | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    /// A WireGuard message: type, three reserved zero bytes, body.
    fn wg(kind: u8, len: usize) -> Vec<u8> {
        [&[kind, 0, 0, 0][..], &noise(u64::from(kind), len - 4)].concat()
    }

    #[test]
    fn wireguard_handshake_messages_by_exact_size() {
        for (kind, len) in [(1, 148), (2, 92), (3, 64)] {
            for (src, dst) in [(51820, 51820), (51871, 40000), (53, 53)] {
                assert_eq!(classify_udp(src, dst, &wg(kind, len)), Some(WireGuard));
            }
            assert_eq!(classify_udp(51820, 51820, &wg(kind, len - 1)), None);
            assert_eq!(classify_udp(51820, 51820, &wg(kind, len + 1)), None);
        }
    }

    #[test]
    fn wireguard_transport_data_is_header_plus_padded_ciphertext_plus_tag() {
        for len in [32, 48, 96, 1440] {
            assert_eq!(classify_udp(51820, 51821, &wg(4, len)), Some(WireGuard));
        }
        for len in [16, 31, 33, 40, 1441] {
            assert_eq!(classify_udp(51820, 51821, &wg(4, len)), None, "len {len}");
        }
        let mut reserved = wg(4, 64);
        reserved[2] = 1;
        assert_eq!(classify_udp(51820, 51821, &reserved), None);
        assert_eq!(classify_udp(51820, 51821, &wg(5, 64)), None);
    }

    #[test]
    fn dns_shaped_like_transport_data_is_not_wireguard() {
        // ID 0x0400, flags 0, then counts: `04 00 00 00`, 48 bytes long.
        let dns = [&[0x04, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0][..], &noise(9, 36)].concat();
        for port in [53, 123, 5353] {
            assert_eq!(classify_udp(40000, port, &dns), None);
            assert_eq!(classify_udp(port, 40000, &dns), None);
        }
        // The same bytes between two other ports do carry WireGuard's shape.
        assert_eq!(classify_udp(40000, 40001, &dns), Some(WireGuard));
        assert_eq!(classify_udp(40000, 53, &VXLAN_DNS[50..]), None);
    }

    #[test]
    fn vxlan_real_packet() {
        for port in [4789, 8472, 6784] {
            assert_eq!(classify_udp(60887, port, VXLAN_DNS), Some(Vxlan));
        }
        let offset = inner_ethernet_offset(Vxlan, VXLAN_DNS).unwrap();
        assert_eq!(offset, 8);
        assert_eq!(VXLAN_DNS[offset + 12..offset + 14], [0x08, 0x00]); // inner IPv4
        // The destination port is the fixed one; a hashed source port of 4789 means nothing.
        assert_eq!(classify_udp(4789, 60887, VXLAN_DNS), None);
        assert_eq!(classify_udp(60887, 9999, VXLAN_DNS), None);
        for kind in [Esp, WireGuard, WeaveSleeve, WeaveControl] {
            assert_eq!(inner_ethernet_offset(kind, VXLAN_DNS), None);
        }
    }

    #[test]
    fn vxlan_header_must_be_well_formed() {
        let mut gbp = VXLAN_DNS.to_vec();
        gbp[0] = 0x88;
        gbp[2..4].copy_from_slice(&[0x12, 0x34]);
        assert_eq!(inner_ethernet_offset(Vxlan, &gbp), Some(8));
        for (at, value) in [(0, 0x00), (0, 0x0c), (1, 0x01), (3, 0x01), (7, 0x01)] {
            let mut bad = VXLAN_DNS.to_vec();
            bad[at] = value;
            assert_eq!(inner_ethernet_offset(Vxlan, &bad), None, "{at}: {value:#x}");
            assert_eq!(classify_udp(60887, 4789, &bad), None);
        }
        assert_eq!(inner_ethernet_offset(Vxlan, &VXLAN_DNS[..21]), None);
        assert_eq!(inner_ethernet_offset(Vxlan, &VXLAN_DNS[..22]), Some(8));
    }

    /// Sleeve frame layout from `router/frame_crypto.go`: sender name, then
    /// [src name][dst name][len u16][Ethernet frame] (names are 6-byte MACs).
    fn sleeve_packet(sender_first_byte: u8) -> Vec<u8> {
        let sender = [sender_first_byte, 0x3c, 0x1e, 0x52, 0x7d, 0x01];
        let (src, dst) = (
            [0x0a, 0x3c, 0x1e, 0x52, 0x7d, 0x01],
            [0xd2, 0x44, 0x60, 0x19, 0x8c, 0x11],
        );
        [&sender[..], &src, &dst, &42u16.to_be_bytes(), &noise(3, 42)].concat()
    }

    #[test]
    fn weave_sleeve_and_fastdp() {
        // 0x0a has the VXLAN I bit (0x08) set, but bytes 1-3 are not zero.
        for first in [0x0a, 0xda, 0x02] {
            let packet = sleeve_packet(first);
            assert_eq!(classify_udp(6783, 6783, &packet), Some(WeaveSleeve));
            assert_eq!(classify_udp(38000, 6784, &packet), Some(WeaveSleeve));
        }
        // Encrypted sleeve: sender name, 8-byte sequence/flags, secretbox output.
        let sealed = [&sleeve_packet(0x0a)[..6], &noise(5, 8 + 16 + 60)].concat();
        assert_eq!(classify_udp(6783, 6783, &sealed), Some(WeaveSleeve));
        assert_eq!(inner_ethernet_offset(WeaveSleeve, &sealed), None);
        assert_eq!(classify_udp(45000, 6784, VXLAN_DNS), Some(Vxlan));
    }

    /// Geneve as OVN sends it: 2 words of options (class 0x0102, type 0x80,
    /// one word of data), VNI 5, then an Ethernet frame.
    fn geneve(ver_opt: u8, protocol: u16) -> Vec<u8> {
        let [p0, p1] = protocol.to_be_bytes();
        let header = [
            ver_opt, 0, p0, p1, 0, 0, 5, 0, 0x01, 0x02, 0x80, 0x01, 0, 1, 0, 2,
        ];
        [&header[..], &VXLAN_DNS[8..]].concat()
    }

    #[test]
    fn geneve_with_options() {
        let packet = geneve(0x02, 0x6558);
        assert_eq!(classify_udp(50000, 6081, &packet), Some(Geneve));
        assert_eq!(inner_ethernet_offset(Geneve, &packet), Some(16));
        assert_eq!(inner_ethernet_offset(Geneve, &packet[..29]), None);
        assert_eq!(inner_ethernet_offset(Geneve, &packet[..30]), Some(16));
        assert_eq!(classify_udp(50000, 6082, &packet), None);
        // IPv4 directly inside (AWS GWLB style): Geneve, but no Ethernet frame.
        let ipv4 = geneve(0x02, 0x0800);
        assert_eq!(classify_udp(50000, 6081, &ipv4), Some(Geneve));
        assert_eq!(inner_ethernet_offset(Geneve, &ipv4), None);
        // Version 1; options longer than the packet.
        assert_eq!(classify_udp(50000, 6081, &geneve(0x42, 0x6558)), None);
        assert_eq!(classify_udp(50000, 6081, &geneve(0x3f, 0x6558)), None);
    }

    #[test]
    fn weave_control_is_tcp_6783_either_way() {
        assert_eq!(classify_tcp(41234, 6783), Some(WeaveControl));
        assert_eq!(classify_tcp(6783, 41234), Some(WeaveControl));
        assert_eq!(classify_tcp(41234, 6784), None);
        assert_eq!(classify_tcp(443, 41234), None);
    }

    #[test]
    fn weave_handshake_preamble() {
        // v2: flag byte, then (plain) the length-prefixed features message or (sealed) a public key.
        assert_eq!(
            weave_handshake_encrypted(b"weave\x01\x02\x00\x00\x00\x00\x5a"),
            Some(false)
        );
        let sealed = [&b"weave\x01\x02\x01"[..], &noise(7, 32)].concat();
        assert_eq!(weave_handshake_encrypted(&sealed), Some(true));
        // v1: a gob-encoded features map, with a hex PublicKey only when encrypting.
        let v1 = b"weave\x01\x01\x0e\xff\x81\x04\x01\x02\xff\x82\x00\x01\x0c\x01\x0c\x00\x00";
        assert_eq!(weave_handshake_encrypted(v1), None);
        let v1_key = [&v1[..], b"\x09PublicKey\x40"].concat();
        assert_eq!(weave_handshake_encrypted(&v1_key), Some(true));
        // A v2-capable peer whose partner only speaks v1 sends gob after the versions.
        let mut downgraded = v1.to_vec();
        downgraded[6] = 2;
        assert_eq!(weave_handshake_encrypted(&downgraded), None);
        let bad: [&[u8]; 5] = [
            b"weave\x01\x02",
            b"weave\x00\x02\x00",
            b"weave\x02\x01\x00",
            b"Weave\x01\x02\x00",
            b"",
        ];
        for bad in bad {
            assert_eq!(weave_handshake_encrypted(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_offsets_stay_in_bounds() {
        let ports = [53, 123, 4789, 6081, 6783, 6784, 8472, 51820, 40000];
        for seed in 1..4000u64 {
            let mut data = noise(seed, (seed % 200) as usize);
            if seed % 3 == 0 && !data.is_empty() {
                data[0] = [0x08, 0x00, 0x01, 0x04][(seed % 4) as usize];
            }
            let (src, dst) = (ports[(seed % 9) as usize], ports[(seed / 9 % 9) as usize]);
            let _ = classify_udp(src, dst, &data);
            let _ = weave_handshake_encrypted(&data);
            for kind in [Vxlan, Geneve] {
                if let Some(offset) = inner_ethernet_offset(kind, &data) {
                    assert!(offset + 14 <= data.len());
                }
            }
        }
    }
}
