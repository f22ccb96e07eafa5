#!/usr/bin/env python3
"""A large capture of TLS 1.3 handshakes with their key log, for the key-log
benchmark (benches/keylog.sh).

    benches/make-keyed-capture.py OUT.pcap OUT.keys [COPIES]

Takes the real TLS 1.3 handshakes of fixtures/captures that have a key log
(Ethernet, IPv4) and writes COPIES (default 2500) copies of each: every copy
gets its own client address (10.64.0.0/10) and a later timestamp, so each is
a flow of its own. The key log is the fixtures' logs concatenated: copies of
one handshake share its client random and secrets, so every flow decrypts,
as in a real capture of many handshakes. TCP/IP checksums are not fixed
(tls-audit does not check them). Pure Python, no dependencies.
"""

import glob
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "fixtures", "captures")


def packets(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    if magic != 0xA1B2C3D4:
        return None  # only little-endian microsecond pcap
    if struct.unpack("<I", data[20:24])[0] != 1:
        return None  # only Ethernet
    at, out = 24, []
    while at + 16 <= len(data):
        sec, usec, incl, orig = struct.unpack("<IIII", data[at : at + 16])
        out.append((sec, usec, bytearray(data[at + 16 : at + 16 + incl]), orig))
        at += 16 + incl
    return out


def client_ip(pkts):
    """The address that sent the first SYN."""
    for _, _, frame, _ in pkts:
        if len(frame) >= 34 + 14 and frame[12:14] == b"\x08\x00" and frame[23] == 6:
            ihl = (frame[14] & 15) * 4
            flags = frame[14 + ihl + 13]
            if flags & 0x12 == 0x02:
                return bytes(frame[26:30])
    return None


def main():
    out_pcap, out_keys = sys.argv[1], sys.argv[2]
    copies = int(sys.argv[3]) if len(sys.argv) > 3 else 2500
    sources = []
    keys = b""
    for k in sorted(glob.glob(os.path.join(FIXTURES, "*.keys"))):
        pcap = k[: -len(".keys")] + ".pcap"
        pkts = packets(pcap)
        if not pkts:
            continue
        cip = client_ip(pkts)
        if cip is None:
            continue
        sources.append((os.path.basename(pcap), pkts, cip))
        with open(k, "rb") as f:
            keys += f.read().rstrip(b"\n") + b"\n"
    with open(out_keys, "wb") as f:
        f.write(keys)
    base = 1_800_000_000
    n = 0
    with open(out_pcap, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for c in range(copies):
            for s, (name, pkts, cip) in enumerate(sources):
                flow = c * len(sources) + s
                new_ip = bytes([10, 64 + (flow >> 16) % 64, (flow >> 8) & 255, flow & 255])
                t0 = pkts[0][0] * 1_000_000 + pkts[0][1]
                for sec, usec, frame, orig in pkts:
                    fr = bytearray(frame)
                    if fr[26:30] == cip:
                        fr[26:30] = new_ip
                    if fr[30:34] == cip:
                        fr[30:34] = new_ip
                    t = base * 1_000_000 + flow * 2_000 + (sec * 1_000_000 + usec - t0)
                    f.write(struct.pack("<IIII", t // 1_000_000, t % 1_000_000, len(fr), orig))
                    f.write(fr)
                n += 1
    names = ", ".join(name for name, _, _ in sources)
    print(f"{out_pcap}: {copies} copies of {len(sources)} captures ({names}); "
          f"{os.path.getsize(out_pcap) // 1_000_000} MB; key log {out_keys}", file=sys.stderr)


if __name__ == "__main__":
    main()
