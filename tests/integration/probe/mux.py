"""Two small servers for the probe lab (tests/integration/probe/lab.sh).

both HOST PORT CERT KEY: one port, TLS and plaintext HTTP. It peeks at the
    first byte: 0x16 (a TLS handshake record) gets TLS, anything else a
    cleartext HTTP answer, as a mesh sidecar in PERMISSIVE mode does.
reset HOST PORT: reads the first bytes of the ClientHello, then resets the
    connection (SO_LINGER 0), a server dying mid-handshake.
"""
import socket
import ssl
import struct
import sys
import threading

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n"


def serve(mode, conn, ctx):
    try:
        conn.settimeout(5)
        if mode == "reset":
            conn.recv(16)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return
        first = conn.recv(1, socket.MSG_PEEK)
        if first == b"\x16":
            tls = ctx.wrap_socket(conn, server_side=True)
            if tls.recv(4096):
                tls.sendall(ANSWER)
            tls.close()
        elif first:
            conn.recv(4096)
            conn.sendall(ANSWER)
    except (OSError, ssl.SSLError):
        pass
    finally:
        conn.close()


def main():
    mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    ctx = None
    if mode == "both":
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[4], sys.argv[5])
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host, port))
    ls.listen(128)
    while True:
        conn, _ = ls.accept()
        threading.Thread(target=serve, args=(mode, conn, ctx), daemon=True).start()


if __name__ == "__main__":
    main()
