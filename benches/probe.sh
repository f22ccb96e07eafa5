#!/usr/bin/env bash
# Active-probe benchmark: tls-audit probe vs sslyze vs testssl.sh on the same
# local endpoints in one run, then tls-audit probe on 1,000 endpoints.
#
#   sudo benches/probe.sh
#
# Two network namespaces joined by a veth pair (tlsa-pbn-c 10.209.0.1 <->
# tlsa-pbn-s 10.209.0.2; no other address is used). In the server namespace
# examples/probe_fleet.rs serves N (default 1000) rustls endpoints on ports
# 20000.. (client authentication none / optional / required by port % 3).
# From the client namespace, timed by wall clock:
#   tls-audit probe   on the first CMP ports (default 12)
#   sslyze            on the same CMP ports (--sslv3 .. --tlsv1_3 --certinfo)
#   testssl.sh -p -S  on the first TESTSSL_N ports (default 3, one after another)
# then the three tools' verdicts on versions, client-certificate policy and
# chain are compared (benches/probe-compare.py), and tls-audit probe runs on
# all N endpoints (--targets FILE). Per-endpoint time = wall time / endpoints.
# Needs root; nothing passes or fails on the numbers.
#
# Environment: N (1000), CMP (12), TESTSSL_N (3), CONCURRENCY (64),
# BENCH_DIR (/tmp/tls-audit-probe-bench), SKIP_BUILD=1 (use target/bench).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
N=${N:-1000}
CMP=${CMP:-12}
TESTSSL_N=${TESTSSL_N:-3}
CONCURRENCY=${CONCURRENCY:-64}
BENCH_DIR=${BENCH_DIR:-/tmp/tls-audit-probe-bench}
export CARGO_TARGET_DIR=$REPO/target/bench
TLS_AUDIT=$CARGO_TARGET_DIR/release/tls-audit
FLEET=$CARGO_TARGET_DIR/release/examples/probe_fleet
NS_C=tlsa-pbn-c
NS_S=tlsa-pbn-s
SRV=10.209.0.2
FIRST=20000

log() { echo "bench: $*" >&2; }
inc() { ip netns exec "$NS_C" "$@"; }

cleanup() {
    [ -n "${FLEET_PID:-}" ] && kill "$FLEET_PID" 2>/dev/null || true
    ip netns del "$NS_C" 2>/dev/null || true
    ip netns del "$NS_S" 2>/dev/null || true
}
trap cleanup EXIT

if [ "${SKIP_BUILD:-}" != 1 ]; then
    log "building the release binary and the fleet server in $CARGO_TARGET_DIR"
    (cd "$REPO" && cargo build --release --locked --bin tls-audit --example probe_fleet)
fi

mkdir -p "$BENCH_DIR"
cd "$BENCH_DIR"
rm -f ./*.json ./*.out
# A throw-away CA and a server certificate (with AKI, as RFC 5280 wants).
# keyUsage on the CA: RFC 5280 4.2.1.3 requires it, and sslyze (Python
# cryptography's verifier) rejects chains whose CA lacks it.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj /CN=bench-ca -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign -keyout ca.key -out ca.pem 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=fleet \
    -keyout srv.key -out srv.csr 2>/dev/null
printf 'subjectAltName=IP:%s\nauthorityKeyIdentifier=keyid\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' "$SRV" >srv.ext
openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 \
    -extfile srv.ext -out srv.pem 2>/dev/null

cleanup
ip netns add "$NS_C"
ip netns add "$NS_S"
ip link add pbnc0 netns "$NS_C" type veth peer name pbns0 netns "$NS_S"
for ns in "$NS_C" "$NS_S"; do ip netns exec "$ns" ip link set lo up; done
inc ip addr add 10.209.0.1/24 dev pbnc0
ip netns exec "$NS_S" ip addr add "$SRV/24" dev pbns0
inc ip link set pbnc0 up
ip netns exec "$NS_S" ip link set pbns0 up
# Many connections from one address: widen the ephemeral port range.
inc sysctl -qw net.ipv4.ip_local_port_range="10000 65000"

ip netns exec "$NS_S" timeout 1200 "$FLEET" --listen "$SRV" --first-port "$FIRST" --count "$N" \
    --cert srv.pem --key srv.key --client-ca ca.pem --seconds 1100 2>fleet.log &
FLEET_PID=$!
for _ in $(seq 100); do
    [ "$(ip netns exec "$NS_S" ss -ltnH | wc -l)" -ge "$N" ] && break
    sleep 0.1
done

targets() { for i in $(seq 0 $(($1 - 1))); do echo "$SRV:$((FIRST + i))"; done; }
targets "$CMP" >cmp.txt
targets "$TESTSSL_N" >testssl.txt
targets "$N" >all.txt

now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc -l; }

log "tls-audit probe on $CMP endpoints"
t0=$(now)
inc "$TLS_AUDIT" probe --targets cmp.txt --trust-bundle ca.pem --concurrency "$CONCURRENCY" -o json --out-file tls-audit.json || true
t_ours=$(secs "$t0" "$(now)")

t_sslyze=""
if command -v sslyze >/dev/null; then
    log "sslyze on the same $CMP endpoints"
    t0=$(now)
    # shellcheck disable=SC2046
    inc sslyze --quiet --json_out=sslyze.json --sslv3 --tlsv1 --tlsv1_1 --tlsv1_2 --tlsv1_3 \
        --certinfo --certinfo_ca_file=ca.pem $(cat cmp.txt) >/dev/null 2>&1 || true
    t_sslyze=$(secs "$t0" "$(now)")
else
    log "NOTICE: sslyze not installed (pip install sslyze): skipped"
fi

t_testssl=""
TESTSSL=$(command -v testssl || command -v testssl.sh || true)
if [ -n "$TESTSSL" ]; then
    log "testssl.sh -p -S on $TESTSSL_N endpoints"
    t0=$(now)
    while read -r t; do
        inc timeout 300 "$TESTSSL" --quiet --color 0 --warnings off -p -S --add-ca=ca.pem \
            --jsonfile "testssl-${t##*:}.json" "$t" >/dev/null 2>&1 || true
    done <testssl.txt
    t_testssl=$(secs "$t0" "$(now)")
else
    log "NOTICE: testssl.sh not installed (apt-get install testssl.sh): skipped"
fi

log "tls-audit probe on $N endpoints (concurrency $CONCURRENCY)"
t0=$(now)
inc "$TLS_AUDIT" probe --targets all.txt --trust-bundle ca.pem --concurrency "$CONCURRENCY" -o json --out-file all.json || true
t_all=$(secs "$t0" "$(now)")

echo
echo "== per-endpoint wall time (same endpoints, same run) =="
per() { echo "scale=4; $1 / $2" | bc -l; }
p_ours=$(per "$t_ours" "$CMP")
printf '%-12s %3d endpoints %8.2f s  %8.4f s/endpoint\n' tls-audit "$CMP" "$t_ours" "$p_ours"
if [ -n "$t_sslyze" ]; then
    p=$(per "$t_sslyze" "$CMP")
    printf '%-12s %3d endpoints %8.2f s  %8.4f s/endpoint  tls-audit is %.1fx faster\n' sslyze "$CMP" "$t_sslyze" "$p" "$(echo "$p / $p_ours" | bc -l)"
fi
if [ -n "$t_testssl" ]; then
    p=$(per "$t_testssl" "$TESTSSL_N")
    printf '%-12s %3d endpoints %8.2f s  %8.4f s/endpoint  tls-audit is %.1fx faster\n' testssl.sh "$TESTSSL_N" "$t_testssl" "$p" "$(echo "$p / $p_ours" | bc -l)"
fi
python3 "$HERE/probe-compare.py" tls-audit.json sslyze.json testssl-*.json || true
echo
echo "== tls-audit probe, $N endpoints =="
python3 - "$t_all" all.json <<'PY'
import json, sys
secs = float(sys.argv[1])
r = json.load(open(sys.argv[2]))
probes = r["probes"]
failed = [p for p in probes if p["error"]]
policies = {}
for p in probes:
    policies[p["client_auth"]["policy"]] = policies.get(p["client_auth"]["policy"], 0) + 1
print(f"{len(probes)} endpoints in {secs:.1f} s ({len(probes) / secs:.0f}/s), {len(failed)} failed; "
      f"client auth {policies}; {len(r['flows'])} flows, {len(r['findings'])} findings")
PY
