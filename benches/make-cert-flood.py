#!/usr/bin/env python3
"""A hostile capture for memory bounds (issue 22 item 4): FLOWS TCP
connections, each a TLS 1.2 ClientHello, ServerHello and a Certificate
message carrying a distinct certificate padded with NAMES one-letter
DNS SANs (19,800 make a ~60 KB certificate, under the 64 KiB stream cap). Written as a classic pcap
(Ethernet, 10.77.x.y addresses: nothing is sent anywhere).

    python3 benches/make-cert-flood.py OUT.pcap [FLOWS] [NAMES]

Needs python3-cryptography (scripts/install-deps.sh)."""
import datetime
import struct
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

out, flows = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1000
names = int(sys.argv[3]) if len(sys.argv) > 3 else 19_800
key = ec.generate_private_key(ec.SECP256R1())
sans = x509.SubjectAlternativeName([x509.DNSName(chr(97 + i % 26)) for i in range(names)])
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "flood")])


def cert(serial):
    b = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
         .public_key(key.public_key()).serial_number(serial)
         .not_valid_before(datetime.datetime(2026, 1, 1))
         .not_valid_after(datetime.datetime(2027, 1, 1))
         .add_extension(sans, critical=False))
    return b.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def u24(n):
    return struct.pack(">I", n)[1:]


def records(hs_type, body):
    msg = bytes([hs_type]) + u24(len(body)) + body
    out = b""
    for i in range(0, len(msg), 16384):
        frag = msg[i:i + 16384]
        out += b"\x16\x03\x03" + struct.pack(">H", len(frag)) + frag
    return out


hello = b"\x03\x03" + b"\x11" * 32 + b"\x00" + b"\x00\x02\xc0\x2f" + b"\x01\x00" + b"\x00\x00"
server_hello = b"\x03\x03" + b"\x22" * 32 + b"\x00" + b"\xc0\x2f" + b"\x00" + b"\x00\x00"


def csum(b):
    if len(b) % 2:
        b += b"\x00"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def frame(src, dst, sport, dport, seq, ack, flags, payload):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0, 64, 6, 0, bytes(src), bytes(dst))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00" + ip + tcp


with open(out, "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
    t = 1_764_000_000 * 1_000_000

    def put(b):
        global t
        t += 100
        f.write(struct.pack("<IIII", t // 1_000_000, t % 1_000_000, len(b), len(b)) + b)

    for i in range(flows):
        c, s = [10, 77, (i >> 8) & 0xFF, i & 0xFF], [10, 78, 0, 1]
        cp = 20000 + i % 40000
        der = cert(i + 1)
        certmsg = u24(len(der) + 3) + u24(len(der)) + der
        put(frame(c, s, cp, 443, 999, 0, 0x02, b""))
        put(frame(s, c, 443, cp, 4999, 1000, 0x12, b""))
        ch = records(1, hello)
        put(frame(c, s, cp, 443, 1000, 5000, 0x18, ch))
        data = records(2, server_hello) + records(11, certmsg) + records(14, b"")
        seq = 5000
        for k in range(0, len(data), 1448):
            seg = data[k:k + 1448]
            put(frame(s, c, 443, cp, seq, 1000 + len(ch), 0x18, seg))
            seq += len(seg)
        put(frame(c, s, cp, 443, 1000 + len(ch), seq, 0x11, b""))
        put(frame(s, c, 443, cp, seq, 1001 + len(ch), 0x11, b""))
