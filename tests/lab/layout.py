#!/usr/bin/env python3
"""layout: tshark's view of the TLS records of a stack-lab capture, and a
check that the capture shows what the lab configured.

  layout.py [--check] CASE.truth.json      # prints the record layout
  layout.py --table OUTDIR                 # one summary line per connection

For every TCP connection (tshark's tcp.stream, in order: connection N of
the truth) it prints each TLS record as `C`/`S` (client/server), its length
on the wire and what it carried: cleartext handshake types, CCS, or for an
encrypted record (opaque type 23) its inner type and handshake messages when
the key log opens it, with the padding worked out as
  length - 16 (AEAD tag) - 1 (inner content type) - sum(4 + message length).
Application data is never printed, only its record lengths.

With --check it also compares what the wire shows in clear (and, with a key
log, what the decrypted handshake shows) against the truth: the version,
HelloRetryRequest, resumption (ServerHello pre_shared_key in TLS 1.3; no
server Certificate in TLS 1.2), the CertificateRequest, and whether the
client's Certificate carried a certificate. Exit 1 on a mismatch: the truth
file must never claim what did not happen.
"""
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

HRR_RANDOM = "cf:21:ad:74:e5:9a:61:11:be:1d:8c:02:1e:65:b8:91:c2:a2:11:16:7a:bb:8c:5e:07:9e:09:e2:c8:a8:33:9c"
HS_NAMES = {
    0: "HelloRequest", 1: "ClientHello", 2: "ServerHello", 4: "NewSessionTicket", 5: "EndOfEarlyData",
    8: "EncryptedExtensions", 11: "Certificate", 12: "ServerKeyExchange", 13: "CertificateRequest",
    14: "ServerHelloDone", 15: "CertificateVerify", 16: "ClientKeyExchange", 20: "Finished",
    24: "KeyUpdate",
}
CT_NAMES = {20: "CCS", 21: "Alert", 22: "HS", 23: "AppData"}
SUITES = {"0x1301": "AES_128_GCM_SHA256", "0x1302": "AES_256_GCM_SHA384", "0x1303": "CHACHA20_POLY1305_SHA256",
          "0xc02b": "ECDHE_ECDSA_AES_128_GCM_SHA256", "0xc02c": "ECDHE_ECDSA_AES_256_GCM_SHA384",
          "0xcca9": "ECDHE_ECDSA_CHACHA20_POLY1305"}
TAG = 16  # every suite the lab negotiates (AES-GCM, ChaCha20-Poly1305) has a 16-byte tag


def fields(elem, name):
    return [f for f in elem.iter("field") if f.get("name") == name]


def first(elem, name):
    for f in elem.iter("field"):
        if f.get("name") == name:
            return f.get("show")
    return None


def records(pcap, keys, server_port):
    """Yield (stream, from_client, record dict) in capture order."""
    # -d: tshark's TLS heuristic misses a ClientHello split over segments
    cmd = ["tshark", "-n", "-r", pcap, "-T", "pdml", "-J", "tcp tls", "-d", f"tcp.port=={server_port},tls",
           "-o", "tls.desegment_ssl_records:TRUE", "-o", "tls.desegment_ssl_application_data:TRUE"]
    if keys:
        cmd += ["-o", f"tls.keylog_file:{keys}"]
    out = subprocess.run(cmd, capture_output=True, check=True).stdout
    root = ET.fromstring(out)
    clients = {}
    for pkt in root.iter("packet"):
        tcp = tls = None
        for proto in pkt.iter("proto"):
            if proto.get("name") == "tcp":
                tcp = proto
            elif proto.get("name") == "tls":
                tls = proto
        if tcp is None:
            continue
        stream = int(first(tcp, "tcp.stream"))
        src = int(first(tcp, "tcp.srcport"))
        if stream not in clients:
            # the client is the side that is not the lab's server port
            dst = int(first(tcp, "tcp.dstport"))
            clients[stream] = src if dst == server_port else dst
        if tls is None:
            continue
        for proto in pkt.iter("proto"):
            if proto.get("name") != "tls":
                continue
            for rec in proto:
                if rec.get("name") != "tls.record":
                    continue
                r = {"len": int(first(rec, "tls.record.length") or 0)}
                opaque = first(rec, "tls.record.opaque_type")
                ct = first(rec, "tls.record.content_type")
                r["encrypted"] = opaque is not None
                r["type"] = int(ct) if ct is not None else None
                msgs = []
                for hs in fields(rec, "tls.handshake"):
                    t = first(hs, "tls.handshake.type")
                    if t is None:
                        continue
                    m = {"type": int(t), "len": int(first(hs, "tls.handshake.length") or 0)}
                    m["ext"] = [int(e.get("show")) for e in fields(hs, "tls.handshake.extension.type")]
                    m["random"] = first(hs, "tls.handshake.random")
                    m["supported_version"] = first(hs, "tls.handshake.extensions.supported_version")
                    m["suite"] = first(hs, "tls.handshake.ciphersuite")
                    cl = first(hs, "tls.handshake.certificates_length")
                    m["certs_len"] = int(cl) if cl is not None else None
                    msgs.append(m)
                r["msgs"] = msgs
                yield stream, src == clients[stream], r


def describe(r):
    if not r["encrypted"]:
        name = CT_NAMES.get(r["type"], str(r["type"]))
        if r["type"] == 22 and not r["msgs"]:
            return f"{r['len']} HS(encrypted, TLS 1.2)"
        if r["type"] == 22:
            return f"{r['len']} " + "+".join(HS_NAMES.get(m["type"], str(m["type"])) for m in r["msgs"])
        return f"{r['len']} {name}"
    if r["type"] is None:
        return f"{r['len']} enc"
    inner = CT_NAMES.get(r["type"], str(r["type"]))
    if r["type"] == 22 and r["msgs"]:
        body = sum(4 + m["len"] for m in r["msgs"])
        pad = r["len"] - TAG - 1 - body
        names = "+".join(HS_NAMES.get(m["type"], str(m["type"]))
                         + ("(empty)" if m["type"] == 11 and m["certs_len"] == 0 else "") for m in r["msgs"])
        return f"{r['len']} enc[{names}]" + (f" pad={pad}" if pad else "")
    return f"{r['len']} enc[{inner}]"


def analyse(truth_path):
    truth = json.load(open(truth_path))
    d = os.path.dirname(truth_path)
    keys = os.path.join(d, truth["keys"]) if truth.get("keys") else None
    conns = {}
    for stream, from_client, r in records(os.path.join(d, truth["pcap"]), keys, truth.get("server_port", 8443)):
        conns.setdefault(stream, []).append((from_client, r))
    return truth, [conns[k] for k in sorted(conns)], keys


def facts(recs):
    """What the wire shows about one connection."""
    f = {"suite": None, "version": None, "hrr": False, "resumed": None, "cr": None, "client_cert": None,
         "pha_offered": False, "early_data_offered": False, "decrypted": False}
    server_cert = False
    shd = False
    for from_client, r in recs:
        if r["encrypted"] and r["type"] is not None:
            f["decrypted"] = True
        for m in r["msgs"]:
            if m["type"] == 1 and from_client:
                f["pha_offered"] = f["pha_offered"] or 49 in m["ext"]
                f["early_data_offered"] = f["early_data_offered"] or 42 in m["ext"]
            if m["type"] == 2 and not from_client:
                if m["random"] == HRR_RANDOM:
                    f["hrr"] = True
                    continue
                f["version"] = "TLS1.3" if m["supported_version"] == "0x0304" else "TLS1.2"
                f["suite"] = SUITES.get(m["suite"], m["suite"])
                if f["version"] == "TLS1.3":
                    f["resumed"] = 41 in m["ext"]
            if m["type"] == 11 and not from_client:
                server_cert = True
            if m["type"] == 14:
                shd = True
            if m["type"] == 13 and not from_client and f["cr"] is None:
                f["cr"] = True
            if m["type"] == 11 and from_client and f["client_cert"] is None:
                f["client_cert"] = (m["certs_len"] or 0) > 0
    if f["version"] == "TLS1.2":
        f["resumed"] = not server_cert and not shd
        f["cr"] = bool(f["cr"])
        f["client_cert"] = bool(f["client_cert"])
    elif f["decrypted"]:
        f["cr"] = bool(f["cr"])
        f["client_cert"] = bool(f["client_cert"])
    return f


def check(truth, conns):
    errs = []
    if len(conns) != len(truth["connections"]):
        return [f"{len(conns)} TCP connections in the capture, {len(truth['connections'])} in the truth"]
    for t, recs in zip(truth["connections"], conns):
        f = facts(recs)
        i = t["index"]
        if f["version"] is None and t["handshake_ok"]:
            errs.append(f"conn {i}: no ServerHello")
            continue
        if f["version"] and f["version"] != t["version"]:
            errs.append(f"conn {i}: version {f['version']}, truth {t['version']}")
        if f["hrr"] != t["hello_retry_request"]:
            errs.append(f"conn {i}: HRR {f['hrr']}, truth {t['hello_retry_request']}")
        if f["resumed"] is not None and f["resumed"] != t["resumed"]:
            errs.append(f"conn {i}: resumed {f['resumed']}, truth {t['resumed']}")
        if t.get("early_data") and not f["early_data_offered"]:
            errs.append(f"conn {i}: the ClientHello does not offer early_data")
        if t["post_handshake_auth"] != "none" and not f["pha_offered"]:
            errs.append(f"conn {i}: the ClientHello does not offer post_handshake_auth")
        # a post-handshake CertificateRequest is part of what tshark decrypts
        want_cr = t["client_cert_requested"] or t["post_handshake_auth"] == "request"
        if f["cr"] is not None and f["cr"] != want_cr and t["handshake_ok"]:
            errs.append(f"conn {i}: CertificateRequest {f['cr']}, truth {want_cr}")
        if f["client_cert"] is not None and f["client_cert"] != t["client_sent_cert"]:
            errs.append(f"conn {i}: client certificate {f['client_cert']}, truth {t['client_sent_cert']}")
    return errs


def flight_summary(recs):
    """The client's records after the ServerHello up to its first
    application data, and the server's records after its ServerHello."""
    out = {"C": [], "S": []}
    seen_sh = False
    for from_client, r in recs:
        if not r["encrypted"] and any(m["type"] == 2 for m in r["msgs"]):
            seen_sh = True
            continue
        if not seen_sh or (not r["encrypted"] and r["type"] == 22 and any(m["type"] == 1 for m in r["msgs"])):
            continue
        out["C" if from_client else "S"].append(describe(r))
    return out


def main():
    args = sys.argv[1:]
    if args and args[0] == "--table":
        d = args[1]
        for name in sorted(os.listdir(d)):
            if not name.endswith(".truth.json"):
                continue
            truth, conns, keys = analyse(os.path.join(d, name))
            for t, recs in zip(truth["connections"], conns):
                fs = flight_summary(recs)
                print(f"{truth['case']}#{t['index']} [{facts(recs)['suite']}, {'keys' if keys else 'no keys'}]")
                print(f"  S: {' | '.join(fs['S'][:12])}")
                print(f"  C: {' | '.join(fs['C'][:12])}")
        return 0
    do_check = args and args[0] == "--check"
    if do_check:
        args = args[1:]
    truth, conns, keys = analyse(args[0])
    print(f"# {truth['case']}: {truth['description']}")
    print(f"# client {truth['client_stack']}; server {truth['server_stack']}; key log: {keys is not None}")
    for n, recs in enumerate(conns):
        f = facts(recs)
        print(f"conn {n}: version={f['version']} suite={f['suite']} hrr={f['hrr']} resumed={f['resumed']} "
              f"certificate_request={f['cr']} client_certificate={f['client_cert']} "
              f"pha_offered={f['pha_offered']} early_data_offered={f['early_data_offered']} decrypted={f['decrypted']}")
        for from_client, r in recs:
            print(f"  {'C' if from_client else 'S'} {describe(r)}")
    if do_check:
        errs = check(truth, conns)
        for e in errs:
            print(f"MISMATCH {e}")
            print(f"layout: {truth['case']}: {e}", file=sys.stderr)
        return 1 if errs else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
