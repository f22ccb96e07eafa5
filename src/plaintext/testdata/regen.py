#!/usr/bin/env python3
"""Regenerate the plaintext-detection fixtures from packet captures.

Each fixture is the in-order TCP payload one side sent (client -> `NAME.client`,
server -> `NAME.server`), cut at LIMIT bytes, exactly as `tshark -z follow,tcp,raw`
reassembles it. Corpus captures live in ../shared/corpus (see its MANIFEST.json);
the `local:` ones were captured on loopback as README.md describes.

usage: regen.py CORPUS_DIR [LOCAL_PCAP_DIR]
"""
import os
import subprocess
import sys

LIMIT = 512
HERE = os.path.dirname(os.path.abspath(__file__))

# name -> (capture, tcp.stream)
FIXTURES = {
    "http1_get": ("local:http-redis-dns-grpc.pcap", 3),
    "http1_connect": ("nDPI/http_connect.pcap/http_connect.pcap", 0),
    "h2c_curl": ("local:http-redis-dns-grpc.pcap", 5),
    "grpc_python": ("local:http-redis-dns-grpc.pcap", 4),
    "redis_set": ("local:http-redis-dns-grpc.pcap", 0),
    "dns_tcp": ("local:http-redis-dns-grpc.pcap", 2),
    "ldap_bind_search": ("local:ldapsearch.pcap", 0),
    "postgres_startup": ("zeek/postgresql__psql-aws-ssl-disable.pcap/psql-aws-ssl-disable.pcap", 0),
    "postgres_sslrequest": ("zeek/postgresql__psql-aws-ssl-require.pcap/psql-aws-ssl-require.pcap", 0),
    "mysql8_sslrequest": ("zeek/mysql__tls-13-amazon-rds.pcap/tls-13-amazon-rds.pcap", 0),
    "mariadb10_sslrequest": ("zeek/mysql__encrypted.pcap/encrypted.pcap", 0),
    "smtp_rset_starttls": ("suricata-verify/smtp-rset-starttls/input.pcap", 0),
    "smtp_starttls": ("zeek/tls__smtp-starttls.pcap/smtp-starttls.pcap", 0),
    "imap_starttls": ("zeek/tls__imap-starttls.pcap/imap-starttls.pcap", 0),
    "pop3_starttls": ("zeek/tls__pop3-starttls.pcap/pop3-starttls.pcap", 0),
    "pop3_capa_stls": ("nDPI/pop3_stls.pcap/pop3_stls.pcap", 0),
    "ftp_auth_tls": ("zeek/ftp__ftp-auth-tls.pcap/ftp-auth-tls.pcap", 0),
    "ftp_plain_banner": ("nDPI/ftp-start-tls.pcap/ftp-start-tls.pcap", 0),
    "ldap_starttls": ("zeek/ldap__ldap-starttls.pcap/ldap-starttls.pcap", 0),
    "xmpp_starttls": ("zeek/tls__xmpp-starttls.pcap/xmpp-starttls.pcap", 0),
    "ssh_openssh": ("ja4/ssh2.pcapng/ssh2.pcapng", 14),
    "ssh_cisco": ("suricata-verify/bypass-ssh-enabled/input.pcap", 0),
    "irc_starttls": ("zeek/tls__irc-starttls.pcap/irc-starttls.pcap", 0),
    "tls_to_http_server": ("zeek/tls__ssl-to-http-server.pcap/ssl-to-http-server.pcap", 0),
    "tls12_clienthello": ("zeek/tls__tls1.2.pcap/tls1.2.pcap", 0),
}


def follow(pcap, stream):
    """Return (client_bytes, server_bytes); node 0 of `follow` is the side that opened."""
    out = subprocess.run(
        ["tshark", "-r", pcap, "-q", "-z", f"follow,tcp,raw,{stream}"],
        check=True, capture_output=True, text=True,
    ).stdout
    sides = [bytearray(), bytearray()]
    body = out.split("=" * 67)[1]
    for line in body.splitlines():
        if not line.strip() or ":" in line:
            continue  # "Follow:", "Filter:", "Node N:" headers
        side = 1 if line.startswith("\t") else 0
        sides[side] += bytes.fromhex(line.strip())
    return bytes(sides[0][:LIMIT]), bytes(sides[1][:LIMIT])


def main():
    corpus = sys.argv[1]
    local = sys.argv[2] if len(sys.argv) > 2 else None
    for name, (capture, stream) in FIXTURES.items():
        if capture.startswith("local:"):
            if local is None:
                continue
            pcap = os.path.join(local, capture[len("local:"):])
        else:
            pcap = os.path.join(corpus, capture)
        client, server = follow(pcap, stream)
        for suffix, data in (("client", client), ("server", server)):
            with open(os.path.join(HERE, f"{name}.{suffix}"), "wb") as f:
                f.write(data)
        print(f"{name}: client {len(client)} B, server {len(server)} B")


if __name__ == "__main__":
    main()
