#!/usr/bin/env bash
# Make a large, realistic capture for benches/run.sh.
#
#   sudo benches/make-capture.sh OUT.pcap [SIZE_MB]      (default SIZE_MB=500)
#
# Two network namespaces joined by a veth pair with private test addresses
# (client 10.201.0.1/24 <-> server 10.201.0.2/24); no traffic goes anywhere
# else.  Offloads (TSO/GSO/GRO) are off on both ends, so every packet on the
# wire is at most MTU-sized, as on a real NIC.  In the server namespace:
#   nginx   :443  TLS 1.2+1.3, ssl_verify_client optional (mTLS when the client
#                 sends a certificate), small page + a large random file
#           :80   plain HTTP, same files
#   openssl s_server :8443  TLS, client certificate REQUIRED (-Verify 1)
# From the client namespace, concurrently:
#   handshakes: openssl s_time -new / -reuse (TLS 1.2 and 1.3, with and without
#               a client certificate, to nginx and to s_server) and a bounded
#               curl loop (SNI, TLS 1.2/1.3, +/- client cert, plain HTTP);
#   bulk:       curl downloads of the large file over HTTPS and plain HTTP,
#               in parallel, until the capture is about SIZE_MB (10^6 bytes).
# tcpdump -i <server veth> -s 0 records everything.  A trap removes the
# namespaces and stops every process started here.  Every loop is bounded in
# count and time; a run takes about a minute.
#
# Environment knobs: HS_SECONDS (seconds per s_time run, default 4),
# CURL_HANDSHAKES (curl loop iterations, default 300), BULK_FILE_MB (default 32).
set -euo pipefail

OUT=${1:?usage: make-capture.sh OUT.pcap [SIZE_MB]}
SIZE_MB=${2:-500}
HS_SECONDS=${HS_SECONDS:-4}
CURL_HANDSHAKES=${CURL_HANDSHAKES:-300}
BULK_FILE_MB=${BULK_FILE_MB:-32}

log() { echo "make-capture: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (network namespaces, tcpdump)"
case $SIZE_MB in ''|*[!0-9]*) die "SIZE_MB must be a whole number" ;; esac
for t in ip ethtool tcpdump openssl nginx curl timeout; do
    command -v "$t" >/dev/null || die "missing tool: $t (apt-get install iproute2 ethtool tcpdump openssl nginx-light curl coreutils)"
done

OUT=$(realpath -m "$OUT")
mkdir -p "$(dirname "$OUT")"

# Names unique to this run so parallel runs cannot collide.
TAG=$$
NS_C=tlsab-c$TAG
NS_S=tlsab-s$TAG
VETH_C=tbc$TAG
VETH_S=tbs$TAG
CLI=10.201.0.1
SRV=10.201.0.2
SNI=api.pay.svc.cluster.local
WORK=$(mktemp -d /tmp/tlsa-bench.XXXXXX)
PIDS=()
CAP_PID=

cleanup() {
    local rc=$?
    set +e
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null
    [ -n "$CAP_PID" ] && kill -TERM "$CAP_PID" 2>/dev/null
    for p in "${PIDS[@]}" $CAP_PID; do wait "$p" 2>/dev/null; done
    # Anything still running inside the namespaces was started by this run.
    for ns in "$NS_C" "$NS_S"; do
        pids=$(ip netns pids "$ns" 2>/dev/null)
        [ -n "$pids" ] && kill $pids 2>/dev/null
    done
    sleep 0.2
    ip netns del "$NS_C" 2>/dev/null
    ip netns del "$NS_S" 2>/dev/null
    if [ "$rc" != 0 ]; then
        rm -f "$WORK/www/big.bin"
        log "FAILED (rc=$rc); logs kept in $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

inc() { ip netns exec "$NS_C" "$@"; }
ins() { ip netns exec "$NS_S" "$@"; }

# ---------------------------------------------------------------- network
ip netns add "$NS_C"
ip netns add "$NS_S"
ip link add "$VETH_C" netns "$NS_C" type veth peer name "$VETH_S" netns "$NS_S"
inc ip addr add $CLI/24 dev "$VETH_C"
ins ip addr add $SRV/24 dev "$VETH_S"
for ns in "$NS_C" "$NS_S"; do ip netns exec "$ns" ip link set lo up; done
inc ip link set "$VETH_C" up
ins ip link set "$VETH_S" up
inc ethtool -K "$VETH_C" tso off gso off gro off >/dev/null
ins ethtool -K "$VETH_S" tso off gso off gro off >/dev/null
# Plenty of ephemeral ports and quick reuse for thousands of short connections.
inc sysctl -qw net.ipv4.ip_local_port_range="20000 60999" net.ipv4.tcp_tw_reuse=1

# ---------------------------------------------------------------- PKI
# A small CA (ECDSA P-256, like a mesh CA), a server cert with DNS + SPIFFE
# SANs, and a client cert with a SPIFFE SAN.
P=$WORK/pki; mkdir -p "$P"
( cd "$P"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
      -keyout ca.key -out ca.crt -subj "/O=tls-audit bench/CN=bench root CA" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
      -keyout server.key -out server.csr -subj "/O=pay/CN=$SNI" 2>/dev/null
  printf 'subjectAltName=DNS:%s,DNS:api.pay,URI:spiffe://cluster.local/ns/pay/sa/api\nextendedKeyUsage=serverAuth,clientAuth\n' "$SNI" > server.ext
  openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
      -extfile server.ext -out server.crt 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
      -keyout client.key -out client.csr -subj "/O=web/CN=frontend" 2>/dev/null
  printf 'subjectAltName=URI:spiffe://cluster.local/ns/web/sa/frontend\nextendedKeyUsage=clientAuth\n' > client.ext
  openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
      -extfile client.ext -out client.crt 2>/dev/null
  cat server.crt ca.crt > server-chain.pem )

# ---------------------------------------------------------------- servers
mkdir -p "$WORK/www"
chmod 755 "$WORK" "$WORK/www"   # nginx workers run as nobody
echo '<html><body>ok</body></html>' > "$WORK/www/index.html"
head -c $((BULK_FILE_MB * 1024 * 1024)) /dev/urandom > "$WORK/www/big.bin"
chmod 644 "$WORK/www/"*
cat > "$WORK/nginx.conf" <<EOF
daemon on;
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    keepalive_requests 1000;
    client_body_temp_path $WORK/tmp; proxy_temp_path $WORK/tmp;
    fastcgi_temp_path $WORK/tmp; uwsgi_temp_path $WORK/tmp; scgi_temp_path $WORK/tmp;
    server {
        listen $SRV:80;
        root $WORK/www;
    }
    server {
        listen $SRV:443 ssl;
        server_name $SNI;
        root $WORK/www;
        ssl_certificate $P/server-chain.pem;
        ssl_certificate_key $P/server.key;
        ssl_client_certificate $P/ca.crt;
        ssl_verify_client optional;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache shared:bench:1m;
    }
}
EOF
mkdir -p "$WORK/tmp"
ins nginx -c "$WORK/nginx.conf" -e "$WORK/nginx-error.log" 2>"$WORK/nginx.start" \
    || { cat "$WORK/nginx.start" >&2; die "nginx did not start"; }

ip netns exec "$NS_S" openssl s_server -quiet -accept $SRV:8443 -www -Verify 1 \
    -cert "$P/server.crt" -key "$P/server.key" -cert_chain "$P/ca.crt" -CAfile "$P/ca.crt" \
    >"$WORK/s_server.log" 2>&1 &
PIDS+=($!)

for port in 80 443 8443; do
    for _ in $(seq 50); do
        inc bash -c "exec 3<>/dev/tcp/$SRV/$port" 2>/dev/null && break
        sleep 0.1
    done
done

# ---------------------------------------------------------------- capture
# 128 MiB kernel buffer so tcpdump keeps up with the bulk transfers.
# Started directly (not through a shell function) so that $! is tcpdump itself;
# it is stopped with SIGTERM (background jobs of a script ignore SIGINT).
: > "$WORK/tcpdump.log"
ip netns exec "$NS_S" tcpdump -i "$VETH_S" -s 0 -n -B 131072 -w "$OUT" 2>"$WORK/tcpdump.log" &
CAP_PID=$!
for _ in $(seq 100); do grep -q 'listening on' "$WORK/tcpdump.log" && break; sleep 0.1; done
grep -q 'listening on' "$WORK/tcpdump.log" || die "tcpdump did not start: $(cat "$WORK/tcpdump.log")"
log "capturing on $VETH_S into $OUT (target ${SIZE_MB} MB)"
START=$(date +%s)

# ---------------------------------------------------------------- handshakes
handshakes() {
    local st="timeout $((HS_SECONDS + 10)) openssl s_time -connect"
    local cc="-cert $P/client.crt -key $P/client.key"
    inc $st $SRV:443  -new   -tls1_3 -time "$HS_SECONDS" -www /        >"$WORK/st1.log" 2>&1 || true
    inc $st $SRV:443  -new   -tls1_2 -time "$HS_SECONDS" -www /        >"$WORK/st2.log" 2>&1 || true
    inc $st $SRV:443  -new   -tls1_2 -time "$HS_SECONDS" -www / $cc    >"$WORK/st3.log" 2>&1 || true
    inc $st $SRV:443  -new   -tls1_3 -time "$HS_SECONDS" -www / $cc    >"$WORK/st4.log" 2>&1 || true
    inc $st $SRV:8443 -new   -tls1_2 -time "$HS_SECONDS" $cc           >"$WORK/st5.log" 2>&1 || true
    inc $st $SRV:8443 -new   -tls1_3 -time "$HS_SECONDS" $cc           >"$WORK/st6.log" 2>&1 || true
    inc $st $SRV:443  -reuse -tls1_2 -time 1 -www /        >"$WORK/st7.log" 2>&1 || true
    # curl: SNI, ALPN, HTTP/1.1, a mix of versions and client certs, plain HTTP.
    local i args fails=0
    for i in $(seq "$CURL_HANDSHAKES"); do
        case $((i % 5)) in
            0) args=(--tlsv1.2 --tls-max 1.2 "https://$SNI/") ;;
            1) args=(--tlsv1.3 "https://$SNI/") ;;
            2) args=(--tlsv1.2 --tls-max 1.2 --cert "$P/client.crt" --key "$P/client.key" "https://$SNI/") ;;
            3) args=(--tlsv1.3 --cert "$P/client.crt" --key "$P/client.key" "https://$SNI/") ;;
            4) args=("http://$SRV/") ;;
        esac
        inc curl -sf -o /dev/null --max-time 5 --cacert "$P/ca.crt" \
            --resolve "$SNI:443:$SRV" "${args[@]}" || fails=$((fails + 1))
    done
    echo "$fails" > "$WORK/curl-failures"
}

# ---------------------------------------------------------------- bulk
bulk() {
    local target=$((SIZE_MB * 1000 * 1000)) i size
    for i in $(seq 200); do   # bounded; each round moves 2 x BULK_FILE_MB
        size=$(stat -c %s "$OUT" 2>/dev/null || echo 0)
        # Stop when one more round (2 x BULK_FILE_MB, ~5% framing) would overshoot by more than half.
        [ $((size + BULK_FILE_MB * 1024 * 1024 * 105 / 100)) -ge "$target" ] && break
        [ $(( $(date +%s) - START )) -ge 240 ] && { log "bulk: time limit reached"; break; }
        inc curl -sf -o /dev/null --max-time 60 --cacert "$P/ca.crt" \
            --resolve "$SNI:443:$SRV" "https://$SNI/big.bin" &
        local a=$! ok=1
        inc curl -sf -o /dev/null --max-time 60 "http://$SRV/big.bin" &
        local b=$!
        wait $a || ok=0
        wait $b || ok=0
        [ $ok = 1 ] || { log "bulk: a download failed; stopping the bulk phase"; break; }
    done
}

handshakes & HS_PID=$!; PIDS+=("$HS_PID")
bulk     & BK_PID=$!; PIDS+=("$BK_PID")
wait $BK_PID || true
wait $HS_PID || true
sleep 1
kill -TERM "$CAP_PID"; wait "$CAP_PID" || true; CAP_PID=

stats=$(grep -E 'captured|dropped' "$WORK/tcpdump.log" | tr '\n' ' ')
n_new=0
for f in "$WORK"/st*.log; do
    c=$(sed -n 's/^\([0-9][0-9]*\) connections in.*/\1/p' "$f" | head -1)
    n_new=$((n_new + ${c:-0}))
done
log "done in $(( $(date +%s) - START )) s: $(( $(stat -c %s "$OUT") / 1000000 )) MB; s_time connections: $n_new, curl requests: $CURL_HANDSHAKES ($(cat "$WORK/curl-failures" 2>/dev/null || echo '?') failed); tcpdump: $stats"
if grep -q ' [1-9][0-9]* packets dropped by kernel' "$WORK/tcpdump.log"; then
    log "WARNING: tcpdump dropped packets; the capture has gaps"
fi
