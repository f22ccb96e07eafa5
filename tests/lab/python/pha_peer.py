#!/usr/bin/env python3
"""pha_peer: TLS 1.3 post-handshake client authentication for tls-audit's
stack lab (tests/lab/run-lab.sh), on Python's ssl module (OpenSSL).

The server's handshake never carries a CertificateRequest: with
``post_handshake_auth`` on a server context, CPython sets
SSL_VERIFY_POST_HANDSHAKE, so the certificate can only be asked for after
the handshake. With ``--pha request`` it asks (SSLSocket.verify_client_post_handshake)
after the client's first line: the CertificateRequest goes out with the
reply, the client answers with Certificate (+ CertificateVerify) + Finished
while reading it, and the server reads that flight before the client's next
line. With ``--pha never`` the same exchange runs without the request.

  pha_peer.py server IP PORT --cert s.crt --key s.key --ca ca.crt --pha request|never
              [--verify optional|required] [--keylog FILE]
  pha_peer.py client IP PORT --sni NAME --ca ca.crt [--cert c.crt --key c.key] [--keylog FILE]

The exchange: client "ping" -> server "pong" (+ CertificateRequest) ->
client "bye" -> server "certs=N". Exit status: 0 as expected, 1 otherwise.
"""
import argparse
import socket
import ssl
import sys


def fail(msg):
    print(f"pha_peer: {msg}", file=sys.stderr)
    sys.exit(1)


def readline(s):
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(64)
        if not chunk:
            break
        buf += chunk
    return buf.decode("ascii", "replace").strip()


def server(a):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(a.cert, a.key)
    ctx.load_verify_locations(a.ca)
    ctx.verify_mode = ssl.CERT_REQUIRED if a.verify == "required" else ssl.CERT_OPTIONAL
    # Server side: defer the CertificateRequest to after the handshake.
    ctx.post_handshake_auth = True
    if a.keylog:
        ctx.keylog_filename = a.keylog
    with socket.create_server((a.ip, a.port)) as ls:
        print("listening", flush=True)
        raw, _ = ls.accept()
        raw.settimeout(15)
        with ctx.wrap_socket(raw, server_side=True) as s:
            if readline(s) != "ping":
                fail("server: expected ping")
            certs_in_handshake = 1 if s.getpeercert() else 0
            if a.pha == "request":
                s.verify_client_post_handshake()
            s.sendall(b"pong\n")
            if readline(s) != "bye":
                fail("server: expected bye")
            certs = 1 if s.getpeercert() else 0
            print(f"server: in-handshake client certs={certs_in_handshake}, after={certs}", flush=True)
            s.sendall(f"certs={certs}\n".encode())
            try:
                s.unwrap()  # close_notify (s_client treats a bare EOF as an error)
            except (OSError, ssl.SSLError):
                pass
            if certs_in_handshake:
                fail("server: a client certificate arrived in the handshake")
            if a.expect_cert is not None and certs != int(a.expect_cert):
                fail(f"server: client certificates {certs}, expected {a.expect_cert}")


def client(a):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_verify_locations(a.ca)
    if a.cert:
        ctx.load_cert_chain(a.cert, a.key)
    # Client side: offer the post_handshake_auth extension (49).
    ctx.post_handshake_auth = True
    if a.keylog:
        ctx.keylog_filename = a.keylog
    with socket.create_connection((a.ip, a.port), timeout=15) as raw:
        with ctx.wrap_socket(raw, server_hostname=a.sni) as s:
            s.sendall(b"ping\n")
            if readline(s) != "pong":
                fail("client: expected pong")
            s.sendall(b"bye\n")
            print(f"client: {readline(s)}", flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["server", "client"])
    p.add_argument("ip")
    p.add_argument("port", type=int)
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--ca", required=True)
    p.add_argument("--sni")
    p.add_argument("--pha", choices=["request", "never"], default="never")
    p.add_argument("--verify", choices=["optional", "required"], default="optional")
    p.add_argument("--expect-cert", choices=["0", "1"])
    p.add_argument("--keylog")
    a = p.parse_args()
    try:
        server(a) if a.mode == "server" else client(a)
    except (OSError, ssl.SSLError) as e:
        fail(f"{a.mode}: {e}")


if __name__ == "__main__":
    main()
