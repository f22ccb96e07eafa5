#!/usr/bin/env python3
"""Rebuild the seed corpora in fuzz/corpus/<target>/ (see README.md).

    python3 fuzz/make_seeds.py [SHARED_CORPUS_DIR]   (default ../shared/corpus)

Needs tshark (TCP stream reassembly) and editcap (pcap -> pcapng), both from
Debian's tshark package. Only captures from suricata-verify (MIT), Zeek (BSD)
and Arkime (Apache-2.0), plus this project's own fixtures and test data, are
used. Nothing from nDPI or ja4.
"""

import base64
import gzip
import os
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHARED = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "..", "shared", "corpus")
OUT = os.path.join(HERE, "corpus")

# Whole captures for capture_file: link types NULL, Ethernet, PPP(oE), raw IPv4,
# raw IP, Linux SLL v1/v2; TLS 1.0-1.3, SSLv2 hello, HRR, PSK, alerts, STARTTLS,
# TFO, DTLS/QUIC (UDP), damaged certificate.
CAPTURES = {
    "sv-smtp-rset-starttls.pcap": "suricata-verify/smtp-rset-starttls/input.pcap",
    "sv-tls-duplicate-hello.pcap": "suricata-verify/tls-duplicate-hello/input.pcap",
    "sv-tls-pre-1970.pcap": "suricata-verify/tls__tls-pre-1970/input.pcap",
    "sv-tls-extra-alert.pcap": "suricata-verify/tls-extra-alert/input.pcap",
    "sv-tls13-draft23.pcap": "suricata-verify/tls__tls13-draft23/tls13_draft23.pcap",
    "sv-der-incomplete-header.pcap": "suricata-verify/bug-1450-04/tls_DER-incomplete-header.pcap",
    "sv-tfo-syn-data-nack.pcap": "suricata-verify/tcp-fastopen-11-reject-syn-data/tlpw-tcp-tfo-data-on-syn-nack.pcap",
    "zeek-ocsp-empty-responderid.pcap": "zeek/tls__ocsp-empty-responderid.pcap/ocsp-empty-responderid.pcap",
    "zeek-tls12-handshake-failure.pcap": "zeek/tls__tls-1.2-handshake-failure.pcap/tls-1.2-handshake-failure.pcap",
    "zeek-tls13-psk.pcap": "zeek/tls__tls13_psk_succesfull.pcap/tls13_psk_succesfull.pcap",
    "zeek-openjdk-sll2.pcap": "zeek/tls__openjdk-25.0.2-zeek.org.pcap/openjdk-25.0.2-zeek.org.pcap",
    "zeek-irc-starttls-sll.pcap": "zeek/tls__irc-starttls.pcap/irc-starttls.pcap",
    "zeek-ssl-v2.pcap": "zeek/tls__ssl-v2.pcap/ssl-v2.pcap",
    "zeek-hrr.pcap": "zeek/tls__hrr.pcap/hrr.pcap",
    "zeek-dtls1_2.pcap": "zeek/tls__dtls1_2.pcap/dtls1_2.pcap",
    "zeek-quic-ppp.pcap": "zeek/quic__interop__quic-go_quic-go__handshake.pcap/handshake.pcap",
    "zeek-psql-ssl-require.pcap": "zeek/postgresql__psql-aws-ssl-require.pcap/psql-aws-ssl-require.pcap",
    "arkime-pppoe.pcap": "arkime/pppoe.pcap/pppoe.pcap",
    "arkime-tls13.pcap": "arkime/tls13.pcap/tls13.pcap",
    "arkime-tls-client-sessionid.pcap": "arkime/tls-client-sessionid.pcap/tls-client-sessionid.pcap",
    "arkime-mysql-tls.pcap": "arkime/mysql-tls.pcap/mysql-tls.pcap",
}
# This project's own captures (fixtures/gen/make-captures.sh), mutual TLS.
FIXTURES = [
    "openssl-tls12-mutual.pcap",
    "openssl-tls13-mutual.pcap",
    "openssl-tls12-resumption.pcap",
]

# TCP streams for tls_stream / hello / x509 (stream 0 of each).
STREAMS = {
    "sv-tls-extra-alert": "suricata-verify/tls-extra-alert/input.pcap",
    "sv-tls13-draft23": "suricata-verify/tls__tls13-draft23/tls13_draft23.pcap",
    "sv-der-incomplete-header": "suricata-verify/bug-1450-04/tls_DER-incomplete-header.pcap",
    "sv-client-auth": "suricata-verify/tls__tls-store-02/tls-client-auth.pcap",
    "zeek-ssl-v2": "zeek/tls__ssl-v2.pcap/ssl-v2.pcap",
    "zeek-hrr": "zeek/tls__hrr.pcap/hrr.pcap",
    "zeek-tls13-psk": "zeek/tls__tls13_psk_succesfull.pcap/tls13_psk_succesfull.pcap",
    "zeek-ecdsa-cert": "zeek/tls__ecdsa-cert.pcap/ecdsa-cert.pcap",
    "zeek-tls1_1": "zeek/tls__tls1_1.pcap/tls1_1.pcap",
    "arkime-ssl3": "arkime/openssl-ssl3.pcap/openssl-ssl3.pcap",
    "arkime-tls-client-sessionid": "arkime/tls-client-sessionid.pcap/tls-client-sessionid.pcap",
}
FIXTURE_STREAMS = {
    "fixture-openssl-tls12-mutual": "openssl-tls12-mutual.pcap",
    "fixture-openssl-tls13-mutual": "openssl-tls13-mutual.pcap",
}
# Key-exchange lab captures (fixtures/captures-kex): hybrid key shares, an
# HRR to a hybrid, ECDHE and DHE ServerKeyExchange bodies for `hello`.
KEX_STREAMS = {
    "kex-rustls-x25519mlkem768": "rustls-x25519mlkem768.pcap",
    "kex-rustls-hrr-x25519mlkem768": "rustls-hrr-x25519mlkem768.pcap",
    "kex-rustls-tls12-ecdhe": "rustls-tls12-ecdhe.pcap",
    "kex-openssl-tls12-dhe1024": "openssl-tls12-dhe1024.pcap",
}


def kex_seeds():
    """`hello` seeds from the key-exchange lab: every ClientHello,
    ServerHello (HRR included) and ServerKeyExchange body."""
    kex = os.path.join(ROOT, "fixtures", "captures-kex")
    for name, pcap in KEX_STREAMS.items():
        chunks = follow(os.path.join(kex, pcap))
        for d in (0, 1):
            data = b"".join(b for dd, b in chunks if dd == d)
            n = 0
            for t, body in handshake_messages(data):
                if t in (1, 2, 12):
                    put("hello", f"{name}-{t}-{d}-{n}", body)
                    n += 1

# Plaintext fixtures from src/plaintext/testdata whose source is Zeek,
# Suricata or a local loopback capture (not nDPI or ja4): name -> server port.
PLAINTEXT = {
    "dns_tcp": 15353,
    "grpc_python": 50051,
    "h2c_curl": 50051,
    "http1_get": 18080,
    "imap_starttls": 143,
    "irc_starttls": 6667,
    "ldap_bind_search": 13890,
    "ldap_starttls": 389,
    "mariadb10_sslrequest": 3306,
    "mysql8_sslrequest": 3306,
    "pop3_starttls": 110,
    "postgres_sslrequest": 5432,
    "postgres_startup": 5432,
    "redis_set": 16379,
    "smtp_rset_starttls": 25,
    "smtp_starttls": 25,
    "ssh_cisco": 22,
    "tls_to_http_server": 80,
    "xmpp_starttls": 5222,
}

STREAM_LIMIT = 12 * 1024  # bytes per direction kept in tls_stream seeds


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def follow(pcap):
    """[(dir, bytes)] of TCP stream 0, in capture order (dir 0 = first sender)."""
    out = subprocess.run(
        ["tshark", "-r", pcap, "-q", "-z", "follow,tcp,raw,0"],
        check=False, capture_output=True, text=True,  # exits 2 on a damaged file, after the output
    ).stdout
    chunks = []
    for line in out.splitlines():
        if not line.strip() or line.startswith(("=", "Follow:", "Filter:", "Node ")):
            continue
        d = 1 if line.startswith("\t") else 0
        chunks.append((d, bytes.fromhex(line.strip())))
    return chunks


def stream_seed(chunks, mid_stream_skip=0):
    mode = 1 if mid_stream_skip else 0
    out = bytearray([mode])
    sent = [0, 0]
    for d, b in chunks:
        if mid_stream_skip and d == 0 and sent[0] == 0:
            b = b[mid_stream_skip:]
        b = b[: max(0, STREAM_LIMIT - sent[d])]
        sent[d] += len(b)
        for i in range(0, len(b), 0xFFFF):
            piece = b[i:i + 0xFFFF]
            out += bytes([d]) + struct.pack(">H", len(piece)) + piece
    return bytes(out)


def handshake_messages(data):
    """(type, body) of the plaintext handshake messages in one direction's bytes."""
    msgs, hs, i = [], bytearray(), 0
    if len(data) >= 3 and data[0] & 0x80 and data[2] == 1:  # SSLv2-framed ClientHello
        n = ((data[0] & 0x7F) << 8) | data[1]
        msgs.append((-1, bytes(data[2:2 + n])))
        i = 2 + n
    while i + 5 <= len(data):
        ctype, n = data[i], struct.unpack(">H", data[i + 3:i + 5])[0]
        body = data[i + 5:i + 5 + n]
        i += 5 + n
        if ctype == 20:  # ChangeCipherSpec: the rest is encrypted
            break
        if ctype == 22:
            hs += body
    j = 0
    while j + 4 <= len(hs):
        t, n = hs[j], int.from_bytes(hs[j + 1:j + 4], "big")
        if j + 4 + n > len(hs):
            break
        msgs.append((t, bytes(hs[j + 4:j + 4 + n])))
        j += 4 + n
    return msgs


def certs_tls12(body):
    out, n = [], int.from_bytes(body[0:3], "big")
    lst, k = body[3:3 + n], 0
    while k + 3 <= len(lst):
        m = int.from_bytes(lst[k:k + 3], "big")
        out.append(lst[k + 3:k + 3 + m])
        k += 3 + m
    return out


def pcap_frames(path, limit):
    """(linktype, [frames]) of a classic pcap."""
    with open(path, "rb") as f:
        raw = f.read()
    magic = raw[:4]
    e = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    link = struct.unpack(e + "I", raw[20:24])[0] & 0x0FFFFFFF
    frames, i = [], 24
    while i + 16 <= len(raw) and len(frames) < limit:
        incl = struct.unpack(e + "I", raw[i + 8:i + 12])[0]
        frames.append(raw[i + 16:i + 16 + incl])
        i += 16 + incl
    return link, frames


def underlay_seeds():
    """decode_frame and plaintext seeds from the project's real IPsec capture
    (fixtures/gen/make-ipsec-captures.sh, strongSwan kernel-libipsec): IKE on
    UDP 500, IKE behind the non-ESP marker on UDP 4500, ESP in UDP 4500."""
    path = os.path.join(ROOT, "fixtures", "captures-underlay", "ipsec-outer.pcap")
    link, frames = pcap_frames(path, 6)
    assert link == 1, link  # Ethernet
    sel = [0, 1, 9, 101, 108, 113, 228, 229, 276].index(link)
    for k in (0, 2, 4):
        put("decode_frame", f"ipsec-outer-{k}", bytes([sel]) + frames[k])
    seq = bytearray([sel | 0x80])
    for fr in frames:
        seq += struct.pack(">H", len(fr)) + fr
    put("decode_frame", "ipsec-outer-seq", bytes(seq))

    def udp_payload(fr):
        ihl = (fr[14] & 0x0F) * 4
        return fr[14 + ihl + 8:]

    for name, k, port in (("ike-sa-init", 0, 500), ("ike-nat-t", 2, 4500), ("esp-in-udp", 4, 4500)):
        put("plaintext", name, struct.pack(">HH", port, 4500) + udp_payload(frames[k]))


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    fixtures = os.path.join(ROOT, "fixtures", "captures")

    # capture_file
    for name, rel in CAPTURES.items():
        with open(os.path.join(SHARED, rel), "rb") as f:
            put("capture_file", name, f.read())
    for name in FIXTURES:
        with open(os.path.join(fixtures, name), "rb") as f:
            put("capture_file", "fixture-" + name, f.read())
    with tempfile.TemporaryDirectory() as tmp:
        ng = os.path.join(tmp, "x.pcapng")
        subprocess.run(["editcap", "-F", "pcapng", os.path.join(SHARED, CAPTURES["zeek-hrr.pcap"]), ng], check=True)
        with open(ng, "rb") as f:
            put("capture_file", "zeek-hrr.pcapng", f.read())
    with open(os.path.join(SHARED, CAPTURES["arkime-tls13.pcap"]), "rb") as f:
        put("capture_file", "arkime-tls13.pcap.gz", gzip.compress(f.read(), mtime=0))

    # decode_frame: a few frames of each link type, single (bit 7 clear) and
    # as a length-prefixed sequence (bit 7 set).
    links = [0, 1, 9, 101, 108, 113, 228, 229, 276]
    for name in CAPTURES:
        path = os.path.join(OUT, "capture_file", name)
        link, frames = pcap_frames(path, 6)
        if link not in links:
            continue
        sel = links.index(link)
        stem = name.rsplit(".", 1)[0]
        for k, fr in enumerate(frames[:3]):
            put("decode_frame", f"{stem}-{k}", bytes([sel]) + fr)
        seq = bytearray([sel | 0x80])
        for fr in frames:
            seq += struct.pack(">H", len(fr)) + fr
        put("decode_frame", f"{stem}-seq", bytes(seq))

    kex_seeds()
    # tls_stream, hello, x509
    streams = {k: os.path.join(SHARED, v) for k, v in STREAMS.items()}
    streams.update({k: os.path.join(fixtures, v) for k, v in FIXTURE_STREAMS.items()})
    seen_certs = set()
    for name, path in streams.items():
        chunks = follow(path)
        put("tls_stream", name, stream_seed(chunks))
        if name in ("zeek-tls1_1", "fixture-openssl-tls13-mutual"):
            put("tls_stream", name + "-midstream", stream_seed(chunks, mid_stream_skip=7))
        for d in (0, 1):
            data = b"".join(b for dd, b in chunks if dd == d)
            for t, body in handshake_messages(data):
                if t == -1:
                    put("hello", f"{name}-sslv2-client-hello", body)
                elif t == 1:
                    put("hello", f"{name}-client-hello", body)
                elif t == 2:
                    put("hello", f"{name}-server-hello-{d}", body)
                elif t == 11:
                    put("hello", f"{name}-certificate-{d}", body)
                    for k, der in enumerate(certs_tls12(body)):
                        if der and der not in seen_certs and len(seen_certs) < 12:
                            seen_certs.add(der)
                            put("x509", f"{name}-{d}-{k}.der", der)
    pki = os.path.join(ROOT, "fixtures", "pki")
    for crt in ("client.crt", "big-server.crt"):
        der = subprocess.run(
            ["openssl", "x509", "-in", os.path.join(pki, crt), "-outform", "DER"],
            check=True, capture_output=True,
        ).stdout
        put("x509", "fixture-" + crt.replace(".crt", ".der"), der)
    with open(os.path.join(ROOT, "src", "x509", "testdata", "rsa2048.der"), "rb") as f:
        put("x509", "testdata-rsa2048.der", f.read())

    # plaintext: port, client length, client bytes, server bytes
    td = os.path.join(ROOT, "src", "plaintext", "testdata")
    for name, port in PLAINTEXT.items():
        with open(os.path.join(td, name + ".client"), "rb") as f:
            c = f.read()
        with open(os.path.join(td, name + ".server"), "rb") as f:
            s = f.read()
        put("plaintext", name, struct.pack(">HH", port, len(c)) + c + s)
    # underlay shapes: VXLAN (I flag) and Geneve (TEB) headers before an Ethernet header,
    # WireGuard handshake initiation (type 1, 148 bytes), Weave preamble.
    eth = bytes(12) + b"\x08\x00" + bytes(20)
    put("plaintext", "vxlan", struct.pack(">HH", 4789, 0) + b"\x08\x00\x00\x00\x00\x00\x01\x00" + eth)
    put("plaintext", "geneve", struct.pack(">HH", 6081, 0) + b"\x00\x00\x65\x58\x00\x00\x01\x00" + eth)
    put("plaintext", "wireguard-init", struct.pack(">HH", 51820, 0) + b"\x01\x00\x00\x00" + bytes(144))
    put("plaintext", "weave-preamble", struct.pack(">HH", 6783, 9) + b"weave\x01\x02\x01" + bytes(33))
    underlay_seeds()

    # reassembly: hand-written operation sequences (see fuzz/src/lib.rs)
    def syn(seq, p=b""):
        return b"\x00" + struct.pack(">IB", seq, len(p)) + p

    def seg(seq, p):
        return b"\x02" + struct.pack(">IH", seq, len(p)) + p

    def ack(a, synack=False):
        return (b"\x01" if synack else b"\x03") + struct.pack(">I", a)

    cap = struct.pack(">H", 4096)
    put("reassembly", "in-order", cap + syn(999) + seg(1000, b"abc") + seg(1003, b"def") + ack(1006))
    put("reassembly", "out-of-order-overlap",
        cap + syn(0) + seg(4, b"DEF") + seg(6, b"xGH") + seg(1, b"abcz") + b"\x04")
    put("reassembly", "wrap", cap + syn(0xFFFFFFFD) + seg(0xFFFFFFFE, b"ab") + seg(0, b"cd"))
    put("reassembly", "hole-acked", cap + syn(0) + seg(1, b"ab") + seg(6, b"fg") + ack(8) + b"\x05" + seg(8, b"zz"))
    put("reassembly", "tfo", cap + syn(0, b"GET ") + ack(5, synack=True) + seg(5, b"/ HTTP/1.1"))
    put("reassembly", "midstream", cap + seg(5000, b"hello") + seg(4998, b"xxhello!") + seg(5006, b"?"))
    put("reassembly", "cap", struct.pack(">H", 4) + syn(0) + seg(1, b"abcdef") + seg(7, b"gh") + b"\x04")
    big = bytearray(struct.pack(">H", 0xFFFF)) + syn(0)
    for i in range(70):
        big += seg(1001 + i * 1000, bytes([7]) * 200)
    put("reassembly", "pending-budget", bytes(big))

    # tls_stream: a TLS 1.3 handshake whose client random is all zeros, the
    # random the harness has key-log secrets for, so the decryption path
    # runs (its records are random bytes: they fail to authenticate).
    def rec(ct, body):
        return bytes([ct, 3, 3]) + struct.pack(">H", len(body)) + body

    def msg(t, body):
        return bytes([t]) + struct.pack(">I", len(body))[1:] + body

    def ext(t, data):
        return struct.pack(">HH", t, len(data)) + data

    ch = b"\x03\x03" + bytes(32) + b"\x00" + b"\x00\x02\x13\x01" + b"\x01\x00"
    exts = ext(43, b"\x02\x03\x04") + ext(42, b"")
    ch += struct.pack(">H", len(exts)) + exts
    sh = b"\x03\x03" + bytes([7]) * 32 + b"\x00" + b"\x13\x01\x00"
    sexts = ext(43, b"\x03\x04")
    sh += struct.pack(">H", len(sexts)) + sexts
    server = rec(22, msg(2, sh)) + rec(20, b"\x01") + rec(23, bytes(range(60))) + rec(23, bytes(40))
    client = rec(23, bytes([1]) * 30) + rec(23, bytes(53))
    put("tls_stream", "tls13-keyed-zero-random",
        stream_seed([(0, rec(22, msg(1, ch))), (1, server), (0, client)]))

    # verify_chain: the fixture PKI's chains, framed as a TLS 1.2 Certificate
    # message's list (3-byte lengths), in order, reversed, repeated.
    def pem_ders(name):
        text = open(os.path.join(pki, name)).read()
        blocks = text.split("-----BEGIN CERTIFICATE-----")[1:]
        return [base64.b64decode("".join(b.split("-----END")[0].split())) for b in blocks]

    def frame(ders):
        return b"".join(len(d).to_bytes(3, "big") + d for d in ders)

    root = pem_ders("root-ca.crt")
    server = pem_ders("server-chain.pem")
    put("verify_chain", "fixture-server-chain.bin", frame(server))
    put("verify_chain", "fixture-client-chain.bin", frame(pem_ders("client-chain.pem")))
    put("verify_chain", "fixture-big-server-chain.bin", frame(pem_ders("big-server-chain.pem")))
    put("verify_chain", "fixture-server-chain-with-root.bin", frame(server + root))
    put("verify_chain", "fixture-server-chain-reversed.bin", frame(list(reversed(server + root))))
    put("verify_chain", "fixture-root-alone.bin", frame(root))
    put("verify_chain", "fixture-leaf-twice.bin", frame(pem_ders("server.crt") * 2))


if __name__ == "__main__":
    main()
