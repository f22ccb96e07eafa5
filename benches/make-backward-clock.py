#!/usr/bin/env python3
"""A hostile capture for time bounds (issue 22 item 5): PACKETS TCP SYNs,
each a new flow, whose timestamps alternate T, T+1 s, T, T+1 s... (a
capture appended rather than merged looks like this too). Classic pcap,
10.66.x.y addresses: nothing is sent anywhere. With `forward`, the clock
runs forward instead (100,000 SYNs per second): a plain SYN flood, for the
flow table's memory bound.

    python3 benches/make-backward-clock.py OUT.pcap [PACKETS] [forward]"""
import struct
import sys

out, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 40_000
forward = sys.argv[3:] == ["forward"]


def frame(i):
    src = bytes([10, 66, (i >> 8) & 0xFF, i & 0xFF])
    dst = bytes([10, 67, 0, 1])
    sport = 1024 + (i >> 16)
    tcp = struct.pack("!HHIIBBHHH", sport, 443, 1000, 0, 5 << 4, 0x02, 65535, 0, 0)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 0, 0, 64, 6, 0, src, dst)
    return b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00" + ip + tcp


with open(out, "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for i in range(n):
        b = frame(i)
        if forward:
            sec, usec = 1_764_000_000 + i // 100_000, (i % 100_000) * 10
        else:
            sec, usec = 1_764_000_000 + i % 2, 0
        f.write(struct.pack("<IIII", sec, usec, len(b), len(b)) + b)
