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

// Real packets from fixtures/captures-underlay/ipsec-outer.pcap (strongSwan
// 5.9.8, kernel-libipsec: IKEv2 with AES-GCM-16-256, ESP in UDP 4500), as hex.
/// Frame 1, UDP 500 -> 500: IKE_SA_INIT request (232 bytes, length field 232).
const IKE_SA_INIT: &str = "b04ca3962248c40200000000000000002120220800000000000000e8220000280000002401010003\
    0300000c01000014800e01000300000802000005000000080400001f28000028001f00002471cc7b\
    2e6c7ba139340b576beb7e97d14f71de9ef3b71b9128d6ed682f9044290000243039566ad9c04277\
    aac7dab26fccc63f5b7cd024ab043d76809f2cbfcd6a56602900001c000040048fa81e6b82b443c5\
    09eafbd19067c465f51282bc2900001c0000400594d69e1e2ab77ae8d497bfc94435086ec0a3a9c0\
    290000080000402e290000100000402f00020003000400050000000800004016";
/// Frame 3, UDP 4500 -> 4500: the non-ESP marker, then IKE_AUTH (257 bytes).
const IKE_AUTH_IN_UDP_4500: &str = "00000000b04ca3962248c40228c9dde1eb42478e2e2023080000000100000101230000e5a7a7e1b6\
    a5486de7062e0b2fe4a3600984c4ddf16e22c0432f10d9fe20ffc5ffdc0f0c26eb7f641e6dd2dc7c\
    d85e26f114c1a3bd7cd5d5bcad37ef54b637f60f2c4f6a0dbb377ef204f1ee8e778f3735b269642a\
    70b0989f3978b95e5f87628b1cc0501199eb2602ae3ecf16bd06d83bc7c6fda0819a2834f89b127d\
    b5624a38cf343e09989790c8e212e27b1d95741dc2aff993587f2dc9766051961aaed3bc973bd7c1\
    f9991083d778a097726d52091579611adcc87b06155860660856f14344e9baf78edf91335e80be41\
    f8d704e9347acf88eb8dccf5eea845c54f2c25478b";
/// Frame 5, UDP 4500 -> 4500: ESP, SPI 0xb9f20ab1, sequence 1 (96 bytes).
const ESP_IN_UDP: &str = "b9f20ab100000001938f24bcb5b22a790a0db559ea556b9a0c4771bce88c1f0b33563bddabf278ad\
    4d0475318efa78a025911323a080957536fc46293f0532fa06108c1892970feea7fecfe91ba713d7\
    5ff1a7eb8fa90bbca95e80fb529e803f";
/// Frame 20, UDP 4500 -> 4500: the non-ESP marker, then an INFORMATIONAL request.
const IKE_INFORMATIONAL_IN_UDP_4500: &str = "00000000b04ca3962248c40228c9dde1eb42478e2e2025000000000000000041290000250fb1ba1b\
    9d82fe7eaff95e56f66aa979e197686fb4380c25ea7a4c3cc57c03e2d8";

fn unhex(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn esp_in_udp_real_packets() {
    let esp = unhex(ESP_IN_UDP);
    assert_eq!(esp.len(), 96);
    assert_eq!(classify_udp(4500, 4500, &esp), Some(Esp));
    // Behind a NAT one end is the NAT's mapping, on an unprivileged port.
    assert_eq!(classify_udp(4500, 61234, &esp), Some(Esp));
    assert_eq!(classify_udp(61234, 4500, &esp), Some(Esp));
    // Not on 4500: these bytes are nothing we know.
    assert_eq!(classify_udp(4501, 4501, &esp), None);
    assert_eq!(inner_ethernet_offset(Esp, &esp), None);
    // The IKE messages of the same capture are IPsec's control plane.
    let init = unhex(IKE_SA_INIT);
    assert_eq!(init.len(), 232);
    assert_eq!(classify_udp(500, 500, &init), Some(Ike));
    assert_eq!(classify_udp(500, 35000, &init), Some(Ike));
    for ike in [IKE_AUTH_IN_UDP_4500, IKE_INFORMATIONAL_IN_UDP_4500] {
        let ike = unhex(ike);
        assert_eq!(ike[..4], [0, 0, 0, 0]);
        assert_eq!(classify_udp(4500, 4500, &ike), Some(Ike));
        // Without the marker, on 500, it is IKE too; with it, on 500, not.
        assert_eq!(classify_udp(500, 500, &ike[4..]), Some(Ike));
        assert_eq!(classify_udp(500, 500, &ike), None);
    }
    // IKE_SA_INIT sent to 4500 without the marker would be ESP with the
    // initiator SPI's first four bytes as its SPI: RFC 3948 says so.
    assert_eq!(classify_udp(4500, 4500, &init), Some(Esp));
    assert_eq!(
        classify_udp(4500, 4500, &NAT_KEEPALIVE),
        Some(Ike),
        "NAT-keepalive"
    );
}

#[test]
fn ike_then_esp_on_the_same_ports() {
    let (auth, esp) = (unhex(IKE_AUTH_IN_UDP_4500), unhex(ESP_IN_UDP));
    let first = classify_udp(4500, 4500, &auth);
    assert_eq!(first, Some(Ike));
    assert_eq!(reclassify_udp(first, 4500, 4500, &auth), Some(Ike));
    assert_eq!(reclassify_udp(first, 4500, 4500, &NAT_KEEPALIVE), Some(Ike));
    let now = reclassify_udp(first, 4500, 4500, &esp);
    assert_eq!(now, Some(Esp));
    // ESP stays ESP when IKE (a rekey, a delete) follows.
    assert_eq!(reclassify_udp(now, 4500, 4500, &auth), Some(Esp));
    // Nothing else is reconsidered: IKE on 500 never becomes ESP, and an
    // unnamed flow stays unnamed.
    assert_eq!(reclassify_udp(Some(Ike), 500, 500, &esp), Some(Ike));
    assert_eq!(reclassify_udp(None, 4500, 4500, &esp), None);
    assert_eq!(
        reclassify_udp(Some(WireGuard), 4500, 4500, &esp),
        Some(WireGuard)
    );
}

#[test]
fn esp_in_udp_needs_a_valid_spi_length_and_ports() {
    let esp = unhex(ESP_IN_UDP);
    // SPIs 1-255 are reserved and never sent.
    for spi in [1u32, 255] {
        let mut bad = esp.clone();
        bad[..4].copy_from_slice(&spi.to_be_bytes());
        assert_eq!(classify_udp(4500, 4500, &bad), None, "SPI {spi}");
    }
    let mut low = esp.clone();
    low[..4].copy_from_slice(&256u32.to_be_bytes());
    assert_eq!(classify_udp(4500, 4500, &low), Some(Esp));
    // Shorter than header + trailer + the shortest ICV.
    assert_eq!(classify_udp(4500, 4500, &esp[..19]), None);
    assert_eq!(classify_udp(4500, 4500, &esp[..20]), Some(Esp));
    // A well-known port at the other end is a service, not a NAT mapping.
    for other in [53, 123, 443, 1023] {
        assert_eq!(classify_udp(other, 4500, &esp), None, "port {other}");
        assert_eq!(classify_udp(4500, other, &esp), None, "port {other}");
    }
    assert_eq!(classify_udp(1024, 4500, &esp), Some(Esp));
    // A non-ESP marker with no IKE header after it is neither.
    for bad in [&[0u8, 0, 0, 0][..], &[0, 0, 0, 0, 0xff], &[0xff, 0xff], &[]] {
        assert_eq!(classify_udp(4500, 4500, bad), None, "{bad:?}");
    }
}

#[test]
fn ike_header_checks() {
    let init = unhex(IKE_SA_INIT);
    // The capture may have cut the message: the length field covers more.
    assert_eq!(classify_udp(500, 500, &init[..100]), Some(Ike));
    assert_eq!(classify_udp(500, 500, &init[..28]), Some(Ike));
    assert_eq!(classify_udp(500, 500, &init[..27]), None);
    // More bytes than the length field says: not one IKE message.
    let longer = [&init[..], &[0u8]].concat();
    assert_eq!(classify_udp(500, 500, &longer), None);
    let with = |at: usize, value: &[u8]| {
        let mut m = init.clone();
        m[at..at + value.len()].copy_from_slice(value);
        classify_udp(500, 500, &m)
    };
    assert_eq!(with(0, &[0; 8]), None, "zero initiator SPI");
    assert_eq!(with(17, &[0x10]), Some(Ike), "IKEv1 (ISAKMP 1.0)");
    for version in [0x00, 0x30, 0xf0] {
        assert_eq!(with(17, &[version]), None, "version {version:#x}");
    }
    for length in [0u32, 27, 231, 65536, u32::MAX] {
        assert_eq!(with(24, &length.to_be_bytes()), None, "length {length}");
    }
    assert_eq!(with(24, &65535u32.to_be_bytes()), Some(Ike));
    // Only on IKE's ports.
    assert_eq!(classify_udp(501, 40000, &init), None);
}

#[test]
fn arbitrary_bytes_never_panic_and_offsets_stay_in_bounds() {
    let ports = [
        53, 123, 500, 4500, 4789, 6081, 6783, 6784, 8472, 51820, 40000,
    ];
    let n = ports.len() as u64;
    for seed in 1..6000u64 {
        let mut data = noise(seed, (seed % 200) as usize);
        if seed % 3 == 0 && !data.is_empty() {
            data[0] = [0x08, 0x00, 0x01, 0x04][(seed % 4) as usize];
        }
        if seed % 5 == 0 {
            // The non-ESP marker, then noise (a hostile "IKE header").
            data = [&[0, 0, 0, 0][..], &data].concat();
        }
        let (src, dst) = (ports[(seed % n) as usize], ports[(seed / n % n) as usize]);
        let first = classify_udp(src, dst, &data);
        let _ = reclassify_udp(first, src, dst, &data);
        let _ = reclassify_udp(Some(Ike), src, dst, &data);
        let _ = weave_handshake_encrypted(&data);
        for kind in [Vxlan, Geneve] {
            if let Some(offset) = inner_ethernet_offset(kind, &data) {
                assert!(offset + 14 <= data.len());
            }
        }
    }
}
