#!/usr/bin/env python3
"""Split a capture into N shares of whole flows with about as many packets
each, for several senders replaying one capture in parallel (benches/live.sh,
its top-speed steps with more than one sender).

    benches/split-flows.py IN.pcap N OUT_PREFIX

Writes OUT_PREFIX-0.pcap .. OUT_PREFIX-(N-1).pcap. A flow is an IPv4 or IPv6
TCP or UDP conversation keyed on its two endpoints in either order, so both
directions of a connection go to one share and keep their order there.
Flows are dealt largest first to the share with the fewest packets so far.
Packets that are not TCP/UDP over IP on Ethernet (ARP, ICMPv6, other link
types) go to the first share. Classic pcap in (either byte order, micro- or
nanosecond), classic pcap out with the same header. Pure Python.
"""

import struct
import sys

ETHERNET = 1


def records(data, endian):
    """(offset, length) of every record, header included."""
    off = 24
    while off + 16 <= len(data):
        incl = struct.unpack_from(endian + "I", data, off + 8)[0]
        end = off + 16 + incl
        if end > len(data):
            break
        yield off, end
        off = end


def flow_key(frame):
    """Both endpoints, order-free, of a TCP/UDP packet over IP; else None."""
    if len(frame) < 14:
        return None
    etype = struct.unpack_from("!H", frame, 12)[0]
    at = 14
    while etype in (0x8100, 0x88A8) and len(frame) >= at + 4:  # VLAN tags
        etype = struct.unpack_from("!H", frame, at + 2)[0]
        at += 4
    if etype == 0x0800 and len(frame) >= at + 20:
        ihl = (frame[at] & 0x0F) * 4
        proto = frame[at + 9]
        src, dst = frame[at + 12 : at + 16], frame[at + 16 : at + 20]
        frag = struct.unpack_from("!H", frame, at + 6)[0] & 0x1FFF
        l4 = at + ihl if frag == 0 else None
    elif etype == 0x86DD and len(frame) >= at + 40:
        proto = frame[at + 6]
        src, dst = frame[at + 8 : at + 24], frame[at + 24 : at + 40]
        l4 = at + 40
    else:
        return None
    if proto not in (6, 17) or l4 is None or len(frame) < l4 + 4:
        return None
    sport, dport = struct.unpack_from("!HH", frame, l4)
    return (proto,) + tuple(sorted([(src, sport), (dst, dport)]))


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    path, n, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    if n < 1:
        sys.exit("N must be at least 1")
    with open(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        sys.exit(f"{path}: not a classic pcap file")
    linktype = struct.unpack_from(endian + "I", data, 20)[0] & 0x0FFFFFFF
    recs = list(records(data, endian))
    keys = [
        flow_key(data[a + 16 : b]) if linktype == ETHERNET else None
        for a, b in recs
    ]
    counts = {}
    for k in keys:
        if k is not None:
            counts[k] = counts.get(k, 0) + 1
    load = [0] * n
    load[0] = sum(1 for k in keys if k is None)
    share = {}
    for k, c in sorted(counts.items(), key=lambda kc: -kc[1]):
        i = min(range(n), key=lambda j: load[j])
        share[k] = i
        load[i] += c
    outs = [open(f"{prefix}-{i}.pcap", "wb") for i in range(n)]
    for o in outs:
        o.write(data[:24])
    for (a, b), k in zip(recs, keys):
        outs[0 if k is None else share[k]].write(data[a:b])
    for o in outs:
        o.close()
    print(" ".join(str(x) for x in load))


if __name__ == "__main__":
    main()
