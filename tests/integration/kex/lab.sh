#!/usr/bin/env bash
# The key-exchange lab: real post-quantum, classical and mixed TLS handshakes
# between two network namespaces (pqc-tlsa-c 10.218.0.1 <-> pqc-tlsa-s
# 10.218.0.2, veth MTU 1280 so that a hybrid ClientHello spans several TCP
# segments; no traffic leaves them), one capture per scenario.
#
#   bash lab.sh OUT_DIR [SCENARIO ...]
#   bash lab.sh OUT_DIR probe     `tls-audit probe` (TLS_AUDIT) against a
#                                 rustls server offering X25519MLKEM768 and
#                                 an OpenSSL 3.0 one: OUT_DIR/probe.json
#
# Peers: tlsa-pq-peer (rustls 0.23 + aws-lc-rs: X25519MLKEM768,
# SecP256r1MLKEM768, MLKEM1024; tests/lab/pq-peer), tlsa-go-peer (Go's
# crypto/tls defaults; tests/lab/go-peer), openssl s_server / s_client
# (OpenSSL 3.0: classical only). PQ_PEER and GO_PEER name the binaries
# (default target/debug/tlsa-pq-peer, target/debug/tlsa-go-peer; a scenario
# whose peer is missing is skipped and listed in OUT_DIR/skipped.txt).
#
# Each scenario writes OUT_DIR/NAME.pcap (tcpdump on the server side) and a
# line in OUT_DIR/scenarios.txt: NAME and the peers. Needs root, iproute2,
# tcpdump, openssl. Every process runs under `timeout`.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
OUT=$(mkdir -p "$1" && cd "$1" && pwd)
shift
NS=pqc-tlsa
C=$NS-c
S=$NS-s
CLI=10.218.0.1
SRV=10.218.0.2
SNI=srv.kex.test
PQ_PEER=${PQ_PEER:-$REPO/target/debug/tlsa-pq-peer}
GO_PEER=${GO_PEER:-$REPO/target/debug/tlsa-go-peer}
WORK=$(mktemp -d /tmp/pqc-kex-lab.XXXXXX)
PIDS=()

cleanup() {
    set +e
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    ip netns del "$C" 2>/dev/null
    ip netns del "$S" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

log() { echo "kex-lab: $*" >&2; }

ip netns del "$C" 2>/dev/null || true
ip netns del "$S" 2>/dev/null || true
ip netns add "$C"
ip netns add "$S"
ip link add "${NS}c0" netns "$C" mtu 1280 type veth peer name "${NS}s0" netns "$S" mtu 1280
for ns in "$C" "$S"; do ip netns exec "$ns" ip link set lo up; done
ip netns exec "$C" ip addr add $CLI/24 dev "${NS}c0"
ip netns exec "$S" ip addr add $SRV/24 dev "${NS}s0"
ip netns exec "$C" ip link set "${NS}c0" up
ip netns exec "$S" ip link set "${NS}s0" up
# Segments as the wire carries them (no offload merging them in the capture).
ip netns exec "$S" ethtool -K "${NS}s0" gro off tso off gso off >/dev/null 2>&1 || true
ip netns exec "$C" ethtool -K "${NS}c0" gro off tso off gso off >/dev/null 2>&1 || true

# A CA and an RSA 2048 leaf (RSA so that the TLS 1.2 RSA key-transport and
# DHE-RSA suites can run), and 1024-bit DH parameters (TA-WEAK-KEX).
P=$WORK/pki
mkdir -p "$P"
(
    cd "$P"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 \
        -subj "/CN=tls-audit kex lab CA" -addext basicConstraints=critical,CA:TRUE \
        -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj "/CN=$SNI" 2>/dev/null
    printf 'subjectAltName=DNS:%s\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' "$SNI" >ext.cnf
    openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem \
        -days 2 -extfile ext.cnf 2>/dev/null
    openssl pkcs8 -topk8 -nocrypt -in srv.key -out srv.pk8
    openssl dhparam -out dh1024.pem 1024 2>/dev/null
)
echo "$SRV $SNI" >"$WORK/hosts"

wait_port() { # port
    for _ in $(seq 1 100); do
        ip netns exec "$S" ss -Hltn "sport = :$1" | grep -q . && return 0
        sleep 0.05
    done
    log "nothing listens on $1"
    return 1
}

# scenario NAME PORT "SERVER CMD" "CLIENT CMD": capture one connection.
scenario() {
    local name=$1 port=$2 server=$3 client=$4
    if [ "${#WANT[@]}" -gt 0 ] && [[ ! " ${WANT[*]} " =~ " $name " ]]; then return 0; fi
    for bin in "$PQ_PEER" "$GO_PEER"; do
        if [[ "$server $client" == *"$bin"* ]] && [ ! -x "$bin" ]; then
            log "$name skipped: $bin missing"
            echo "$name $bin missing" >>"$OUT/skipped.txt"
            return 0
        fi
    done
    log "$name"
    ip netns exec "$S" timeout 60 tcpdump --immediate-mode -i "${NS}s0" -s 0 -U -w "$OUT/$name.pcap" "tcp port $port" 2>"$WORK/$name.tcpdump.log" &
    local cap=$!
    PIDS+=("$cap")
    # tcpdump says "listening on" once its filter is in place.
    for _ in $(seq 1 200); do
        grep -q "listening on" "$WORK/$name.tcpdump.log" 2>/dev/null && break
        sleep 0.05
    done
    ip netns exec "$S" timeout 20 bash -c "$server" >"$WORK/$name.server.log" 2>&1 &
    local srv=$!
    PIDS+=("$srv")
    wait_port "$port" || { cat "$WORK/$name.server.log" >&2; echo "$name server-failed" >>"$OUT/skipped.txt"; }
    ip netns exec "$C" timeout 20 bash -c "$client" >"$WORK/$name.client.log" 2>&1 </dev/null || {
        log "$name: client failed"; cat "$WORK/$name.client.log" "$WORK/$name.server.log" >&2; }
    sleep 0.3
    kill "$srv" 2>/dev/null || true
    wait "$srv" 2>/dev/null || true
    sleep 0.5
    kill -INT "$cap" 2>/dev/null || true
    wait "$cap" 2>/dev/null || true
    if [ "$(stat -c %s "$OUT/$name.pcap" 2>/dev/null || echo 0)" -le 24 ]; then
        log "$name: nothing captured"
        cat "$WORK/$name.tcpdump.log" "$WORK/$name.client.log" "$WORK/$name.server.log" >&2
        echo "$name nothing-captured" >>"$OUT/skipped.txt"
    fi
    echo "$name | $server | $client" >>"$OUT/scenarios.txt"
}

if [ "${1:-}" = probe ]; then
    TLS_AUDIT=${TLS_AUDIT:-$REPO/target/debug/tls-audit}
    ip netns exec "$S" timeout 60 "$PQ_PEER" server $SRV:8461 "$P/srv.pem" "$P/srv.pk8" X25519MLKEM768,SECP256R1MLKEM768,X25519 tls13 many >"$WORK/pq.log" 2>&1 &
    PIDS+=("$!")
    ip netns exec "$S" timeout 60 openssl s_server -accept 8462 -cert "$P/srv.pem" -key "$P/srv.key" -tls1_3 -quiet >"$WORK/ossl.log" 2>&1 &
    PIDS+=("$!")
    wait_port 8461
    wait_port 8462
    ip netns exec "$C" "$TLS_AUDIT" probe $SRV:8461 $SRV:8462 --no-legacy --no-plaintext -o json >"$OUT/probe.json" 2>"$OUT/probe.stderr" || true
    exit 0
fi

WANT=("$@")
: >"$OUT/scenarios.txt"
rm -f "$OUT/skipped.txt"
PQS="$PQ_PEER server $SRV:%s $P/srv.pem $P/srv.pk8"
PQC="$PQ_PEER client $SRV:%s $SNI $P/ca.pem"
OSS="openssl s_server -accept %s -cert $P/srv.pem -key $P/srv.key -naccept 1 -quiet"
OSC="echo hello | openssl s_client -connect $SRV:%s -servername $SNI -CAfile $P/ca.pem -quiet"

# Post-quantum on both ends.
scenario rustls-x25519mlkem768 8441 "$(printf "$PQS" 8441) X25519MLKEM768,X25519" "$(printf "$PQC" 8441) X25519MLKEM768,X25519"
scenario rustls-secp256r1mlkem768 8442 "$(printf "$PQS" 8442) SECP256R1MLKEM768,secp256r1" "$(printf "$PQC" 8442) SECP256R1MLKEM768,secp256r1"
scenario rustls-mlkem1024 8443 "$(printf "$PQS" 8443) MLKEM1024" "$(printf "$PQC" 8443) MLKEM1024"
# HelloRetryRequest to a PQ group: the client's key share is X25519, the
# server accepts only the hybrid.
scenario rustls-hrr-x25519mlkem768 8444 "$(printf "$PQS" 8444) X25519MLKEM768" "$(printf "$PQC" 8444) X25519,X25519MLKEM768"
# The client offers PQ, a classical server chooses X25519.
scenario rustls-pq-to-openssl 8445 "$(printf "$OSS" 8445) -tls1_3" "$(printf "$PQC" 8445) X25519MLKEM768,X25519"
scenario rustls-pq-to-go 8446 "$GO_PEER server $SRV:8446 $P/srv.pem $P/srv.key" "$(printf "$PQC" 8446) X25519MLKEM768,X25519"
# Classical clients to a PQ-capable server.
scenario openssl-to-rustls-pq 8447 "$(printf "$PQS" 8447) X25519MLKEM768,X25519" "$(printf "$OSC" 8447) -tls1_3"
scenario go-to-rustls-pq 8448 "$(printf "$PQS" 8448) X25519MLKEM768,X25519,secp256r1" "$GO_PEER client $SRV:8448 $SNI $P/ca.pem"
# TLS 1.2: ECDHE from rustls, DHE (2048 and 1024 bits) and RSA key transport from OpenSSL.
scenario rustls-tls12-ecdhe 8449 "$(printf "$PQS" 8449) X25519MLKEM768,secp384r1 tls12" "$(printf "$PQC" 8449) X25519MLKEM768,secp384r1 tls12"
scenario openssl-tls12-dhe2048 8450 "$(printf "$OSS" 8450) -tls1_2 -cipher DHE-RSA-AES128-GCM-SHA256" "$(printf "$OSC" 8450) -tls1_2 -cipher DHE-RSA-AES128-GCM-SHA256"
# (Debian's OpenSSL refuses DH under 2048 bits at its default security level 2.)
scenario openssl-tls12-dhe1024 8451 "$(printf "$OSS" 8451) -tls1_2 -cipher DHE-RSA-AES128-GCM-SHA256:@SECLEVEL=0 -dhparam $P/dh1024.pem" "$(printf "$OSC" 8451) -tls1_2 -cipher DHE-RSA-AES128-GCM-SHA256:@SECLEVEL=0"
scenario openssl-tls12-rsa 8452 "$(printf "$OSS" 8452) -tls1_2 -cipher AES128-GCM-SHA256" "$(printf "$OSC" 8452) -tls1_2 -cipher AES128-GCM-SHA256"
log "captures in $OUT"
