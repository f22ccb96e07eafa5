//! The decoder against etherparse's whole-packet view, which it used to
//! build for every packet: the same packets, the same verdicts.

use super::*;
use etherparse::{LaxNetSlice, LaxSlicedPacket, PacketBuilder, TransportSlice};

/// What the decoder made of an IP packet before it sliced the IP layer
/// alone (`LaxSlicedPacket::from_ip`, the earlier `decode_ip`), as text;
/// `None` for a fragment (held for reassembly, compared elsewhere).
fn whole_packet_view(bytes: &[u8]) -> Option<Result<String, DecodeError>> {
    let sliced = match LaxSlicedPacket::from_ip(bytes) {
        Ok(s) => s,
        Err(_) => return Some(Err(DecodeError::BadIp)),
    };
    let Some(net) = &sliced.net else {
        return Some(Err(DecodeError::BadIp));
    };
    let (src, dst, payload, ip_len) = match net {
        LaxNetSlice::Ipv4(v4) => {
            let h = v4.header();
            (
                IpAddr::from(h.source_addr()),
                IpAddr::from(h.destination_addr()),
                v4.payload(),
                u32::from(h.total_len()),
            )
        }
        LaxNetSlice::Ipv6(v6) => {
            let h = v6.header();
            (
                IpAddr::from(h.source_addr()),
                IpAddr::from(h.destination_addr()),
                v6.payload(),
                u32::from(h.payload_length()) + 40,
            )
        }
        _ => return Some(Err(DecodeError::BadIp)),
    };
    if payload.fragmented {
        return None;
    }
    let l4 = match &sliced.transport {
        Some(TransportSlice::Tcp(t)) => L4::Tcp(tcp_segment(t, ip_len, bytes)),
        Some(TransportSlice::Udp(u)) => L4::Udp {
            src_port: u.source_port(),
            dst_port: u.destination_port(),
            payload: u.payload(),
        },
        _ => match payload.ip_number {
            IpNumber::TCP | IpNumber::UDP => return Some(Err(DecodeError::BadTransport)),
            IpNumber::ENCAPSULATING_SECURITY_PAYLOAD => L4::Esp,
            other => L4::Other(other.0),
        },
    };
    let d = Decoded {
        src,
        dst,
        l4,
        ip_len,
        truncated: payload.incomplete,
        inside: None,
    };
    Some(Ok(format!("{d:?}")))
}

/// What the decoder makes of it now: the first packet it emits, or the
/// error it counts.
fn decoded(bytes: &[u8]) -> Result<String, DecodeError> {
    let mut decoder = Decoder::new();
    let mut first = None;
    let r = decoder.decode_ip(0, bytes, None, 0, &mut |d| {
        first.get_or_insert_with(|| format!("{d:?}"));
    });
    match first {
        Some(d) => Ok(d),
        None => Err(r.err().unwrap_or(DecodeError::BadIp)),
    }
}

/// Well-formed packets of every shape the decoder reads on its own.
fn packets() -> Vec<Vec<u8>> {
    let payload: Vec<u8> = (0..64u8).collect();
    let mut out = Vec::new();
    let v4 = || PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64);
    let v6 = || PacketBuilder::ipv6([1; 16], [2; 16], 64);
    let mut push = |b: Vec<u8>| out.push(b);
    let mut w = Vec::new();
    v4().tcp(40000, 443, 7, 1000)
        .syn()
        .ack(9)
        .write(&mut w, &payload)
        .unwrap();
    push(std::mem::take(&mut w));
    v4().udp(5353, 53).write(&mut w, &payload).unwrap();
    push(std::mem::take(&mut w));
    v6().tcp(40000, 443, 7, 1000)
        .fin()
        .write(&mut w, &payload)
        .unwrap();
    push(std::mem::take(&mut w));
    v6().udp(4789, 4789).write(&mut w, &payload).unwrap();
    push(std::mem::take(&mut w));
    // VXLAN inside: the decoder opens it after emitting the outer packet.
    v4().udp(40000, 4789).write(&mut w, &payload).unwrap();
    push(std::mem::take(&mut w));
    // IPv4 with 8 bytes of options (IHL 7).
    let mut o = Vec::new();
    v4().tcp(1, 2, 3, 4).write(&mut o, &payload).unwrap();
    o[0] = 0x47;
    let total = u16::from_be_bytes([o[2], o[3]]) + 8;
    o[2..4].copy_from_slice(&total.to_be_bytes());
    o.splice(20..20, [1u8; 8]);
    push(o);
    // IPv6 with a hop-by-hop header before TCP.
    let mut h = Vec::new();
    v6().tcp(1, 2, 3, 4).write(&mut h, &payload).unwrap();
    h[6] = 0; // next header: hop-by-hop
    let plen = u16::from_be_bytes([h[4], h[5]]) + 8;
    h[4..6].copy_from_slice(&plen.to_be_bytes());
    h.splice(40..40, [6u8, 0, 1, 4, 0, 0, 0, 0]);
    push(h);
    // IPv4 carrying ESP, GRE and an unknown protocol.
    for proto in [50u8, 47, 253] {
        let mut e = Vec::new();
        v4().udp(1, 2).write(&mut e, &payload).unwrap();
        e[9] = proto;
        push(e);
    }
    // IPv4 with an authentication header before TCP.
    let mut a = Vec::new();
    v4().tcp(1, 2, 3, 4).write(&mut a, &payload).unwrap();
    a[9] = 51;
    let total = u16::from_be_bytes([a[2], a[3]]) + 12;
    a[2..4].copy_from_slice(&total.to_be_bytes());
    a.splice(20..20, [6u8, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1]);
    push(a);
    out
}

/// Every well-formed shape, cut at every length, and with each of its
/// first 80 bytes (the headers) set to values that break length fields,
/// versions, flags and protocol numbers: decoded alike.
#[test]
fn the_ip_layer_alone_decodes_as_the_whole_packet_view_did() {
    let mut compared = 0;
    let mut check = |bytes: &[u8]| {
        if let Some(want) = whole_packet_view(bytes) {
            assert_eq!(decoded(bytes), want, "{bytes:02x?}");
            compared += 1;
        }
    };
    for p in packets() {
        for len in 0..=p.len() {
            check(&p[..len]);
        }
        // Trailing bytes past the IP length (Ethernet padding).
        let mut padded = p.clone();
        padded.extend([0u8; 6]);
        check(&padded);
        for at in 0..p.len().min(80) {
            for v in [0u8, 1, 4, 5, 6, 17, 0x20, 0x45, 0x60, 0x7f, 0xff] {
                let mut m = p.clone();
                m[at] = v;
                check(&m);
                check(&m[..m.len() - 10]);
            }
            let mut m = p.clone();
            m[at] ^= 0x10;
            check(&m);
        }
    }
    assert!(compared > 10_000, "{compared}");
}
