#!/usr/bin/env bash
# Live capture benchmark: the highest replay rate the agent takes with zero
# drops, its CPU and peak RSS, against tcpdump (a bare libpcap reader)
# capturing the same replays; then memory over a long run of ever-new flows.
#
#   sudo benches/live.sh [CAPTURE]        (default: the run.sh capture)
#
# Two network namespaces joined by a veth pair; tcpreplay (pinned to CPU 0,
# the capture preloaded into memory)
# sends the capture out of one end at each rate in RATES (packets/s, LIMIT
# packets per step, then --topspeed), and the reader captures the other
# end: tcpdump and `tls-audit capture --workers 1` pinned to CPU 1 (one
# core; both in libpcap's default, non-immediate mode, TPACKET_V3), and for each N > 1 in WORKERS, `tls-audit capture --workers N`
# (packet fanout) on CPUs 0..N-1, sharing CPU 0 with tcpreplay when the
# machine has no more. For each tool and rate: packets sent, the rate
# tcpreplay really achieved, what libpcap received and dropped, the
# reader's CPU seconds and share of one core, peak RSS.
# Then the agent alone (one worker) under LOOPS replays with --unique-ip
# (every loop's flows are new), --max-flows 20000: RSS sampled as it runs
# (SKIP_MEMORY=1 leaves it out).
# BUFFER_MIB (default: the agent's default, 64) sets every reader's kernel
# ring (per worker), SNAPLEN (default: the agent's, 262144) its bytes kept
# per packet. NS_PREFIX names the namespaces. Prints numbers;
# nothing passes or fails on them.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/tmp/tls-audit-bench}
CAP=${1:-$BENCH_DIR/capture-500MB.pcap}
RATES=${RATES:-"50000 100000 200000 300000 400000"}
LIMIT=${LIMIT:-300000}
LOOPS=${LOOPS:-6}
BUFFER_MIB=${BUFFER_MIB:-64}   # the kernel ring, for every reader (per worker)
WORKERS=${WORKERS:-"1 2"}      # tls-audit rows: --workers N for each N
SNAPLEN=${SNAPLEN:-262144}     # bytes kept per packet, for every reader
export CARGO_TARGET_DIR=$REPO/target/bench
BIN=$CARGO_TARGET_DIR/release/tls-audit
NS_PREFIX=${NS_PREFIX:-tlsa-lb}
TX=$NS_PREFIX-tx RX=$NS_PREFIX-rx

log() { echo "live bench: $*" >&2; }
[ "$(id -u)" = 0 ] || { log "must run as root"; exit 1; }
command -v tcpreplay >/dev/null || { log "tcpreplay missing (scripts/install-deps.sh)"; exit 1; }
mkdir -p "$BENCH_DIR"
[ -s "$CAP" ] || bash "$HERE/make-capture.sh" "$CAP" 500
[ -n "${SKIP_BUILD:-}" ] || cargo build --release --locked --quiet --manifest-path "$REPO/Cargo.toml" --bin tls-audit

RUN=$(mktemp -d "$BENCH_DIR/live.XXXXXX")
READER_PID=
cleanup() {
    [ -n "$READER_PID" ] && kill -TERM "$READER_PID" 2>/dev/null || true
    ip netns del "$TX" 2>/dev/null || true
    ip netns del "$RX" 2>/dev/null || true
}
trap cleanup EXIT
ip netns add "$TX"
ip netns add "$RX"
ip link add tlsa-lb0 netns "$TX" type veth peer name tlsa-lb1 netns "$RX"
ip netns exec "$TX" ip link set tlsa-lb0 up
ip netns exec "$RX" ip link set tlsa-lb1 up
# Frames up to the capture's largest (1514 bytes) fit the default MTU.

start_reader() { # TOOL OUTFILE
    local tool=$1 out=$2
    case $tool in
        tls-audit/*)
            local n=${tool#tls-audit/} cpus=1
            [ "$n" = 1 ] || cpus=0-$((n - 1))
            ip netns exec "$RX" /usr/bin/time -f "%e %U %S %M" -o "$out.time" \
                taskset -c "$cpus" "$BIN" capture -i tlsa-lb1 --emit ndjson --buffer-mib "$BUFFER_MIB" \
                --snaplen "$SNAPLEN" --workers "$n" >"$out.events" 2>"$out.err" &
            READER_PID=$!
            for _ in $(seq 100); do grep -q '"event":"start"' "$out.events" 2>/dev/null && break; sleep 0.05; done ;;
        tcpdump)
            ip netns exec "$RX" /usr/bin/time -f "%e %U %S %M" -o "$out.time" \
                taskset -c 1 tcpdump -i tlsa-lb1 -n -s "$SNAPLEN" -B $((BUFFER_MIB * 1024)) -w /dev/null \
                2>"$out.err" &
            READER_PID=$!
            for _ in $(seq 100); do grep -q "listening on" "$out.err" 2>/dev/null && break; sleep 0.05; done ;;
    esac
    sleep 0.3
}
stop_reader() {
    sleep 1
    # Under /usr/bin/time the reader is time's child: signal it, not time.
    pkill -TERM -P "$READER_PID" 2>/dev/null || kill -TERM "$READER_PID"
    wait "$READER_PID" || true
    READER_PID=
}
# received dropped if_dropped, from the reader's own report
counts() { # TOOL OUTFILE
    case $1 in
        tls-audit*) python3 - "$2.events" <<'EOF'
import json, sys
last = [json.loads(l) for l in open(sys.argv[1]) if l.strip()][-1]
live = last["report"]["inputs"][0]["live"]
print(live["received"], live["dropped"], live["if_dropped"], last["report"]["stats"]["flows"])
EOF
        ;;
        tcpdump)
            local rcv drp ifd
            rcv=$(sed -n 's/^\([0-9]*\) packets received by filter.*/\1/p' "$2.err")
            drp=$(sed -n 's/^\([0-9]*\) packets dropped by kernel.*/\1/p' "$2.err")
            ifd=$(sed -n 's/^\([0-9]*\) packets dropped by interface.*/\1/p' "$2.err")
            echo "${rcv:-?} ${drp:-?} ${ifd:-0} -" ;;
    esac
}

readers=()
for n in $WORKERS; do readers+=("tls-audit/$n"); done
readers+=(tcpdump)
printf '%-12s %9s %9s %10s %10s %9s %9s %8s %6s %8s %7s\n' \
    tool asked_pps sent achieved received dropped if_drop flows cpu_s core% rss_MiB | tee "$RUN/table"
for rate in $RATES top; do
    for tool in "${readers[@]}"; do
        out=$RUN/${tool/\//-}-$rate
        start_reader "$tool" "$out"
        if [ "$rate" = top ]; then speed=(--topspeed); else speed=(--pps="$rate"); fi
        ip netns exec "$TX" taskset -c 0 tcpreplay -q -K -i tlsa-lb0 "${speed[@]}" --limit="$LIMIT" "$CAP" >"$out.replay" 2>&1 || true
        stop_reader
        sent=$(sed -n 's/.*Actual: \([0-9]*\) packets.*/\1/p' "$out.replay" | head -1)
        secs=$(sed -n 's/.*packets ([0-9]* bytes) sent in \([0-9.]*\) seconds.*/\1/p' "$out.replay" | head -1)
        achieved=$(sed -n 's/.*Rated: [0-9.]* Bps, [0-9.]* Mbps, \([0-9.]*\) pps.*/\1/p' "$out.replay" | head -1)
        read -r rcv drp ifd flows < <(counts "$tool" "$out")
        read -r _wall usr sys rss < "$out.time"
        cpu=$(awk -v u="$usr" -v s="$sys" 'BEGIN{printf "%.2f", u+s}')
        share=$(awk -v c="$cpu" -v t="${secs:-0}" 'BEGIN{ if (t>0) printf "%.0f", 100*c/(t+1.3); else print "-"}')
        printf '%-12s %9s %9s %10.0f %10s %9s %9s %8s %6s %8s %7.1f\n' \
            "$tool" "$rate" "${sent:-?}" "${achieved:-0}" "$rcv" "$drp" "$ifd" "$flows" "$cpu" "$share" \
            "$(awk -v k="$rss" 'BEGIN{print k/1024}')" | tee -a "$RUN/table"
    done
done
echo "(core% = CPU seconds over the replay time plus the 1.3 s the reader also waited, in % of one core; sent = tcpreplay's count; tls-audit/N = --workers N)"

[ -z "${SKIP_MEMORY:-}" ] || { log "raw outputs in $RUN"; exit 0; }

# Memory over a long run: every loop rewrites the addresses (--unique-ip), so
# each loop's flows are new to the agent and the table turns over.
log "memory: $LOOPS loops of the whole capture with --unique-ip at top speed, --max-flows 20000"
out=$RUN/memory
ip netns exec "$RX" taskset -c 1 "$BIN" capture -i tlsa-lb1 --emit ndjson --buffer-mib "$BUFFER_MIB" --workers 1 --max-flows 20000 \
    >"$out.events" 2>"$out.err" &
READER_PID=$!
for _ in $(seq 100); do grep -q '"event":"start"' "$out.events" 2>/dev/null && break; sleep 0.05; done
# The reader's pid inside `ip netns exec` is the agent itself (exec).
( while kill -0 "$READER_PID" 2>/dev/null; do
      ps -o rss= -p "$READER_PID" 2>/dev/null || true
      sleep 1
  done ) >"$out.rss" &
SAMPLER=$!
ip netns exec "$TX" taskset -c 0 tcpreplay -q -i tlsa-lb0 --topspeed --loop="$LOOPS" --unique-ip "$CAP" >"$out.replay" 2>&1 || true
stop_reader
wait "$SAMPLER" 2>/dev/null || true
read -r rcv drp ifd flows < <(counts tls-audit "$out")
echo
echo "memory run: $(sed -n 's/.*Actual: \([0-9]*\) packets.*/\1/p' "$out.replay" | head -1) packets sent, $rcv received, $drp dropped, $flows flows finished"
echo "RSS MiB, one sample a second:"
awk '{printf "%.1f ", $1/1024} END {print ""}' "$out.rss"
log "raw outputs in $RUN"
