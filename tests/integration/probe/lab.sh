#!/usr/bin/env bash
# The probe test lab: two network namespaces joined by a veth pair
# (${PROBE_NS}-c 10.207.0.1 <-> ${PROBE_NS}-s 10.207.0.2; no traffic leaves
# them) and, in the server namespace, one server per verdict:
#
#   4431 openssl s_server, TLS 1.2-1.3, no client auth
#   4432 openssl s_server -verify 1 (client certificate optional)
#   4433 openssl s_server -Verify 1 -verify_return_error (client
#        certificate required, and verified: without -verify_return_error
#        s_server takes any certificate)
#   4434 openssl s_server, TLS 1.0-1.3, ALL:@SECLEVEL=0 (legacy)
#   4435 gnutls-serv, defaults
#   4436 nginx ssl_verify_client on
#   4437 nginx ssl_verify_client optional
#   4438 one port speaking TLS and plaintext HTTP (mux.py both)
#   4439 openssl s_server with an expired certificate
#   4440 closed (nothing listens)
#   4441 black hole (nft drops the SYNs)
#   4442 resets the connection after the first bytes of the ClientHello
#   8080 plaintext HTTP (python3 -m http.server)
#
# usage: lab.sh up PKI_DIR WORK_DIR | lab.sh down WORK_DIR
# PKI_DIR holds ca.pem, srv.pem, srv.key, expired.pem, expired.key.
# Every server runs under `timeout`, so nothing outlives a crashed test.
set -euo pipefail
NS=${PROBE_NS:-tlsa-prb}
C=$NS-c
S=$NS-s
SRV=10.207.0.2
HERE=$(cd "$(dirname "$0")" && pwd)
ins() { ip netns exec "$S" "$@"; }

down() {
    local work=$1
    [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
    for p in "$work"/*.pid; do
        [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null || true
    done
    ip netns del "$C" 2>/dev/null || true
    ip netns del "$S" 2>/dev/null || true
}

bg() { # name command...: run in the server namespace, remember the pid
    local name=$1
    shift
    ip netns exec "$S" timeout 600 "$@" >"$WORK/$name.log" 2>&1 &
    echo $! >"$WORK/$name.pid"
}

up() {
    PKI=$1
    WORK=$2
    mkdir -p "$WORK"
    down "$WORK"
    ip netns add "$C"
    ip netns add "$S"
    ip link add "${NS}c0" netns "$C" type veth peer name "${NS}s0" netns "$S"
    for ns in "$C" "$S"; do ip netns exec "$ns" ip link set lo up; done
    ip netns exec "$C" ip addr add 10.207.0.1/24 dev "${NS}c0"
    ins ip addr add "$SRV/24" dev "${NS}s0"
    ip netns exec "$C" ip link set "${NS}c0" up
    ins ip link set "${NS}s0" up
    ins nft -f - <<NFT
table inet probe_lab {
    chain input { type filter hook input priority 0; tcp dport 4441 drop; }
}
NFT
    local ossl=(openssl s_server -quiet -www -cert "$PKI/srv.pem" -key "$PKI/srv.key")
    bg s4431 "${ossl[@]}" -accept "$SRV:4431"
    bg s4432 "${ossl[@]}" -accept "$SRV:4432" -verify 1 -CAfile "$PKI/ca.pem"
    bg s4433 "${ossl[@]}" -accept "$SRV:4433" -Verify 1 -verify_return_error -CAfile "$PKI/ca.pem"
    bg s4434 "${ossl[@]}" -accept "$SRV:4434" -cipher 'ALL:@SECLEVEL=0' -min_protocol TLSv1
    bg s4435 gnutls-serv --port 4435 --x509certfile "$PKI/srv.pem" --x509keyfile "$PKI/srv.key"
    bg s4438 python3 "$HERE/mux.py" both "$SRV" 4438 "$PKI/srv.pem" "$PKI/srv.key"
    bg s4439 openssl s_server -quiet -www -cert "$PKI/expired.pem" -key "$PKI/expired.key" -accept "$SRV:4439"
    bg s4442 python3 "$HERE/mux.py" reset "$SRV" 4442
    bg s8080 python3 -m http.server 8080 --bind "$SRV" --directory "$WORK"
    cat >"$WORK/nginx.conf" <<CONF
daemon on;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path $WORK/nginx-body;
    proxy_temp_path $WORK/nginx-proxy;
    fastcgi_temp_path $WORK/nginx-fastcgi;
    uwsgi_temp_path $WORK/nginx-uwsgi;
    scgi_temp_path $WORK/nginx-scgi;
    ssl_certificate $PKI/srv.pem;
    ssl_certificate_key $PKI/srv.key;
    ssl_client_certificate $PKI/ca.pem;
    server { listen $SRV:4436 ssl; ssl_verify_client on; location / { return 200 "on\n"; } }
    server { listen $SRV:4437 ssl; ssl_verify_client optional; location / { return 200 "optional\n"; } }
}
CONF
    ins nginx -c "$WORK/nginx.conf" -p "$WORK" -e "$WORK/nginx-error.log"
    # Ready when every port listens (10 s at most).
    local port listening missing
    for _ in $(seq 100); do
        listening=$(ins ss -ltnH)
        missing=0
        for port in 4431 4432 4433 4434 4435 4436 4437 4438 4439 4442 8080; do
            grep -q ":$port " <<<"$listening" || missing=1
        done
        [ "$missing" -eq 0 ] && return 0
        sleep 0.1
    done
    echo "lab.sh: servers did not all start:" >&2
    ins ss -ltn >&2
    tail -n 3 "$WORK"/*.log >&2 || true
    return 1
}

case "${1:-}" in
up) up "$2" "$3" ;;
down) down "$2" ;;
*) echo "usage: lab.sh up PKI WORK | down WORK" >&2; exit 2 ;;
esac
