//! Recognising the network underneath pod traffic from a packet's outer layer.
//!
//! A node-level capture sees pod traffic wrapped by the CNI: in a plaintext
//! overlay (VXLAN, Geneve, Weave fast datapath or sleeve) the pod packets are
//! still readable inside, while WireGuard (Calico, Cilium, Flannel) and ESP
//! (Cilium/Flannel IPsec, encrypted Weave fastdp) hide them. The functions here
//! only name the wrapper; whether a flow is protected is decided later.
//! ESP comes bare (IP protocol 50, named by the caller from the IP header) or
//! UDP-encapsulated for NAT traversal (RFC 3948: UDP 4500, as strongSwan's
//! userspace kernel-libipsec always sends it, and Cilium, Libreswan or the
//! kernel whenever a NAT is detected or `encap` forced); IKE, the key
//! exchange that sets ESP up, shares UDP 4500 with it.
//!
//! Wire facts: `standards.md` section 4 (Weave `mesh/protocol.go`,
//! `router/fastdp.go`; wireguard-go `device/noise-protocol.go` @ `f333402`;
//! RFC 7348 VXLAN; RFC 8926 Geneve; RFC 4303 ESP; RFC 3948 ESP in UDP;
//! RFC 7296 IKEv2, RFC 2408 ISAKMP/IKEv1 header). Everything here reads hostile bytes: no
//! indexing, no arithmetic that can overflow (the lints of `decode`), no
//! allocation.

/// What a packet's outer layer says about the network underneath the pod traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Underlay {
    /// IPsec ESP: IP protocol 50, recognised from the IP header by the
    /// caller, or ESP in UDP (RFC 3948, UDP 4500), recognised by
    /// [`classify_udp`]. Either way the report calls the flow `ipsec`.
    Esp,
    /// IPsec's control plane: IKE (UDP 500, or UDP 4500 behind the four-byte
    /// zero non-ESP marker) and NAT-T keepalives (one 0xFF byte on UDP 4500).
    /// It carries no pod traffic and is no wire evidence by itself; a UDP
    /// 4500 flow that begins with IKE carries ESP next ([`reclassify_udp`]).
    Ike,
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

/// IKE (RFC 7296 2.23: ISAKMP's port) and ESP-in-UDP with IKE behind the
/// non-ESP marker (RFC 3948: NAT traversal).
const IKE_PORT: u16 = 500;
const NAT_T_PORT: u16 = 4500;
/// ESP header: SPI and sequence number (RFC 4303 2).
const ESP_HEADER_LEN: usize = 8;
/// The shortest ESP packet taken for one: header, the smallest 4-byte
/// aligned payload and trailer (RFC 4303 2.4), and the shortest ICV in use
/// (8 bytes, AES-GCM-8, RFC 4106). Real packets are far longer (an empty
/// AES-GCM-16 packet is 36 bytes with its IV).
const ESP_MIN_LEN: usize = ESP_HEADER_LEN + 4 + 8;
/// SPIs 1-255 are reserved by IANA and never sent (RFC 4303 2.1); 0 is the
/// non-ESP marker on UDP 4500.
const ESP_MIN_SPI: u32 = 256;
/// The ISAKMP/IKE header: initiator SPI (8), responder SPI (8), next payload,
/// version, exchange type, flags, message ID (4), length (4).
const IKE_HEADER_LEN: usize = 28;
/// The NAT-keepalive on UDP 4500 (RFC 3948 2.3).
const NAT_KEEPALIVE: [u8; 1] = [0xff];

/// Services whose ordinary datagrams can take the WireGuard transport-data
/// shape: a DNS message with ID 0x0400 and no flags set (or an NTP packet
/// with those first bytes) starts `04 00 00 00`, and one length in 16 is a
/// multiple of 16. Type 1-3 messages have exact sizes and need no exclusion.
const WIREGUARD_LOOKALIKE_PORTS: [u16; 3] = [53, 123, 5353];

/// UDP: classify by port and payload shape. Returns None for ordinary UDP.
///
/// Order matters: an encapsulation on its own port wins (IPsec's 500 and
/// 4500 included), then Weave's ports, then WireGuard's shape, which is
/// checked on every port because Calico, Cilium and Flannel each pick a
/// different one and users change them.
pub fn classify_udp(src_port: u16, dst_port: u16, payload: &[u8]) -> Option<Underlay> {
    // VXLAN and Geneve senders pick a hashed source port; only the destination is fixed.
    let vxlan_port = VXLAN_PORTS.contains(&dst_port) || dst_port == WEAVE_FASTDP_PORT;
    if vxlan_port && vxlan_inner(payload).is_some() {
        return Some(Underlay::Vxlan);
    }
    if dst_port == GENEVE_PORT && geneve_header(payload).is_some() {
        return Some(Underlay::Geneve);
    }
    if let Some(ipsec) = ipsec_udp(src_port, dst_port, payload) {
        return Some(ipsec);
    }
    let weave_ports = [WEAVE_PORT, WEAVE_FASTDP_PORT];
    if weave_ports.contains(&src_port) || weave_ports.contains(&dst_port) {
        return Some(Underlay::WeaveSleeve);
    }
    is_wireguard(src_port, dst_port, payload).then_some(Underlay::WireGuard)
}

/// A later packet of a UDP flow that [`classify_udp`] named `current` from
/// its first packet: what the flow is now. Only IKE changes: IKE moves to
/// UDP 4500 and ESP follows on the very same ports (RFC 7296 2.23, RFC 3948),
/// so such a flow becomes ESP at its first ESP packet. Everything else keeps
/// the name its first packet gave it.
pub fn reclassify_udp(
    current: Option<Underlay>,
    src_port: u16,
    dst_port: u16,
    payload: &[u8],
) -> Option<Underlay> {
    match current {
        Some(Underlay::Ike) if ipsec_udp(src_port, dst_port, payload) == Some(Underlay::Esp) => {
            Some(Underlay::Esp)
        }
        other => other,
    }
}

/// IPsec on UDP: IKE on port 500; on port 4500 (RFC 3948 2.2) a NAT-keepalive,
/// IKE behind the four-byte zero non-ESP marker, or ESP, whose SPI is never
/// zero. Port 4500 must be at one end and the other end must be 4500 too or
/// an unprivileged port (a NAT's mapping), so that a service's reply from a
/// well-known port is never taken for ESP.
fn ipsec_udp(src_port: u16, dst_port: u16, payload: &[u8]) -> Option<Underlay> {
    let nat_t = match (src_port, dst_port) {
        (NAT_T_PORT, other) | (other, NAT_T_PORT) => other == NAT_T_PORT || other >= 1024,
        _ => false,
    };
    if nat_t {
        if payload == NAT_KEEPALIVE {
            return Some(Underlay::Ike);
        }
        let (&spi, rest) = payload.split_first_chunk::<4>()?;
        let spi = u32::from_be_bytes(spi);
        return if spi == 0 {
            is_ike_header(rest).then_some(Underlay::Ike)
        } else {
            (spi >= ESP_MIN_SPI && payload.len() >= ESP_MIN_LEN).then_some(Underlay::Esp)
        };
    }
    let ike_port = src_port == IKE_PORT || dst_port == IKE_PORT;
    (ike_port && is_ike_header(payload)).then_some(Underlay::Ike)
}

/// An ISAKMP/IKE header (RFC 7296 3.1, RFC 2408 3.1) at the start of
/// `message`: a non-zero initiator SPI, major version 1 or 2, and a length
/// field that covers at least the header and everything captured (a message
/// travels whole in one datagram; a cut capture holds less of it).
fn is_ike_header(message: &[u8]) -> bool {
    let Some((header, _)) = message.split_first_chunk::<IKE_HEADER_LEN>() else {
        return false;
    };
    let [
        s0,
        s1,
        s2,
        s3,
        s4,
        s5,
        s6,
        s7,
        _,
        _,
        _,
        _,
        _,
        _,
        _,
        _,
        _,
        version,
        _,
        _,
        _,
        _,
        _,
        _,
        l0,
        l1,
        l2,
        l3,
    ] = *header;
    let initiator_spi = u64::from_be_bytes([s0, s1, s2, s3, s4, s5, s6, s7]);
    let length = u32::from_be_bytes([l0, l1, l2, l3]);
    let major = version >> 4;
    initiator_spi != 0
        && (major == 1 || major == 2)
        && usize::try_from(length).is_ok_and(|l| {
            (IKE_HEADER_LEN..=usize::from(u16::MAX)).contains(&l) && l >= message.len()
        })
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
    pub const ALL: [Underlay; 7] = [
        Underlay::Esp,
        Underlay::Ike,
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
            Underlay::Ike => "ike",
            Underlay::WireGuard => "wireguard",
            Underlay::Vxlan => "vxlan",
            Underlay::Geneve => "geneve",
            Underlay::WeaveSleeve => "weave-sleeve",
            Underlay::WeaveControl => "weave-control",
        }
    }
}

#[cfg(test)]
mod tests;
