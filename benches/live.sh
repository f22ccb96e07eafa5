#!/usr/bin/env bash
# Live capture benchmark: the highest replay rate the agent takes with zero
# drops, its CPU and peak RSS, against tcpdump (a bare libpcap reader)
# capturing the same replays; then memory over a long run of ever-new flows.
#
#   sudo benches/live.sh [CAPTURE]        (default: the run.sh capture)
#
# Two network namespaces joined by a veth pair. Each step sends the same
# LIMIT packets (the capture's first) out of one end and a reader captures
# the other end: tcpdump and `tls-audit capture --workers 1` pinned to CPU 1
# (one core; both in libpcap's default, non-immediate mode, TPACKET_V3), and
# for each N > 1 in WORKERS, `tls-audit capture --workers N` (packet fanout)
# on CPUs 0..N-1, sharing them with the sender when the machine has no more.
# Steps: each rate in RATES (packets/s) with tcpreplay (pinned to CPU 0, the
# packets preloaded into memory, no flow statistics), then one top-speed
# step for each word of TOP_CPUS: SENDER at top speed, one process per CPU
# in the word ("0": one sender on CPU 0; "0,1": two, on CPUs 0 and 1, each
# replaying its share of the flows, both directions of each, with about as
# many packets as the others: benches/split-flows.py).
# SENDER is netsniff-ng (default: replays the pcap through a PACKET_MMAP TX
# ring, bypassing the qdisc, so far fewer system calls than tcpreplay's one
# per packet; installed when missing) or tcpreplay (--topspeed).
# On a veth the receiving side's kernel work (the copy into every reader's
# ring) runs on the sending CPU, inside the sender's system calls.
# For each tool and step: packets sent, the rate the senders really achieved
# (all senders' packets over the longest sender's time), what libpcap
# received and dropped, the reader's CPU seconds and share of one core,
# peak RSS, the CPUs the reader and the senders were pinned to (taskset),
# and for the agent the rate its packets arrived at (their count over the
# span of their kernel timestamps). The load average is printed before and
# after.
# Then the agent alone (one worker) under LOOPS replays with --unique-ip
# (every loop's flows are new), --max-flows 20000: RSS sampled as it runs
# (SKIP_MEMORY=1 leaves it out).
# BUFFER_MIB (default: the agent's own default, read from its --help) sets
# every reader's kernel ring (per worker), SNAPLEN (default: the agent's,
# 262144) its bytes kept per packet. BIN: another tls-audit binary to
# measure (with SKIP_BUILD=1). NS_PREFIX names the namespaces and the
# veth ends. Prints numbers; nothing passes or fails on them.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/tmp/tls-audit-bench}
CAP=${1:-$BENCH_DIR/capture-500MB.pcap}
RATES=${RATES:-"100000 200000 300000 400000"}   # tcpreplay --pps steps
TOP_CPUS=${TOP_CPUS:-"0 0,1"}  # top-speed steps: the CPUs of their sender processes
SENDER=${SENDER:-netsniff-ng}  # the top-speed sender: netsniff-ng or tcpreplay
LIMIT=${LIMIT:-300000}
LOOPS=${LOOPS:-6}
BUFFER_MIB=${BUFFER_MIB:-}     # the kernel ring, for every reader (per worker); default: the agent's
WORKERS=${WORKERS:-"1 2"}      # tls-audit rows: --workers N for each N
SNAPLEN=${SNAPLEN:-262144}     # bytes kept per packet, for every reader
export CARGO_TARGET_DIR=$REPO/target/bench
BIN=${BIN:-$CARGO_TARGET_DIR/release/tls-audit}   # the agent measured (built unless SKIP_BUILD)
NS_PREFIX=${NS_PREFIX:-tlsa-lb}
TX=$NS_PREFIX-tx RX=$NS_PREFIX-rx
TXDEV=${NS_PREFIX}0 RXDEV=${NS_PREFIX}1

log() { echo "live bench: $*" >&2; }
[ "$(id -u)" = 0 ] || { log "must run as root"; exit 1; }
command -v tcpreplay >/dev/null || { log "tcpreplay missing (scripts/install-deps.sh)"; exit 1; }
case $SENDER in
    netsniff-ng)
        command -v netsniff-ng >/dev/null ||
            DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends netsniff-ng >&2 ;;
    tcpreplay) ;;
    *) log "SENDER must be netsniff-ng or tcpreplay, not $SENDER"; exit 1 ;;
esac
mkdir -p "$BENCH_DIR"
[ -s "$CAP" ] || bash "$HERE/make-capture.sh" "$CAP" 500
[ -n "${SKIP_BUILD:-}" ] || cargo build --release --locked --quiet --manifest-path "$REPO/Cargo.toml" --bin tls-audit
# The agent's default ring, so that "default" rows are the default.
[ -n "$BUFFER_MIB" ] || BUFFER_MIB=$("$BIN" capture --help | sed -n '/--buffer-mib/,/default:/s/.*\[default: \([0-9]*\)\].*/\1/p')
[ -n "$BUFFER_MIB" ] || { log "cannot read the agent's default --buffer-mib"; exit 1; }

RUN=$(mktemp -d "$BENCH_DIR/live.XXXXXX")
READER_PID=
cleanup() {
    [ -n "$READER_PID" ] && kill -TERM "$READER_PID" 2>/dev/null || true
    ip netns del "$TX" 2>/dev/null || true
    ip netns del "$RX" 2>/dev/null || true
    rm -f "$RUN"/*.pcap
}
trap cleanup EXIT
ip netns add "$TX"
ip netns add "$RX"
# No IPv6 on the veth ends: their own neighbour and router solicitations
# would be counted among the replayed packets.
for ns in "$TX" "$RX"; do ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 || true; done
ip link add "$TXDEV" netns "$TX" type veth peer name "$RXDEV" netns "$RX"
ip netns exec "$TX" ip link set "$TXDEV" up
ip netns exec "$RX" ip link set "$RXDEV" up
# Frames up to the capture's largest (1514 bytes) fit the default MTU.

# The CPUs a reader is pinned to.
reader_cpus() { # TOOL
    case $1 in
        tls-audit/1 | tcpdump) echo 1 ;;
        tls-audit/*) echo "0-$((${1#tls-audit/} - 1))" ;;
    esac
}

start_reader() { # TOOL OUTFILE
    local tool=$1 out=$2
    case $tool in
        tls-audit/*)
            ip netns exec "$RX" /usr/bin/time -f "%e %U %S %M" -o "$out.time" \
                taskset -c "$(reader_cpus "$tool")" "$BIN" capture -i "$RXDEV" --emit ndjson --buffer-mib "$BUFFER_MIB" \
                --snaplen "$SNAPLEN" --workers "${tool#tls-audit/}" >"$out.events" 2>"$out.err" &
            READER_PID=$!
            for _ in $(seq 100); do grep -q '"event":"start"' "$out.events" 2>/dev/null && break; sleep 0.05; done ;;
        tcpdump)
            ip netns exec "$RX" /usr/bin/time -f "%e %U %S %M" -o "$out.time" \
                taskset -c "$(reader_cpus "$tool")" tcpdump -i "$RXDEV" -n -s "$SNAPLEN" -B $((BUFFER_MIB * 1024)) -w /dev/null \
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
# received dropped if_dropped flows rx_pps, from the reader's own report
counts() { # TOOL OUTFILE
    case $1 in
        tls-audit*) python3 - "$2.events" <<'EOF'
import datetime, json, sys
last = [json.loads(l) for l in open(sys.argv[1]) if l.strip()][-1]
inp = last["report"]["inputs"][0]
live = inp["live"]
# The arrival rate: packets over the span of their kernel timestamps.
t = lambda s: datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
span = t(inp["last_packet"]) - t(inp["first_packet"]) if inp.get("first_packet") else 0
rate = f"{inp['packets'] / span:.0f}" if span > 0 else "-"
print(live["received"], live["dropped"], live["if_dropped"], last["report"]["stats"]["flows"], rate)
EOF
        ;;
        tcpdump)
            local rcv drp ifd
            rcv=$(sed -n 's/^\([0-9]*\) packets received by filter.*/\1/p' "$2.err")
            drp=$(sed -n 's/^\([0-9]*\) packets dropped by kernel.*/\1/p' "$2.err")
            ifd=$(sed -n 's/^\([0-9]*\) packets dropped by interface.*/\1/p' "$2.err")
            echo "${rcv:-?} ${drp:-?} ${ifd:-0} - -" ;;
    esac
}

# The packets of the top-speed steps: the capture's first LIMIT (the rated
# steps' packets), and for a step with n senders n shares of them, whole
# flows with about as many packets each (split-flows.py).
FIRST=$RUN/first.pcap
tcpdump -r "$CAP" -c "$LIMIT" -w "$FIRST" 2>/dev/null
share() { # N I -> the file of share I of N
    local n=$1 i=$2
    if [ "$n" = 1 ]; then echo "$FIRST"; return; fi
    [ -s "$RUN/share$n-$i.pcap" ] || python3 "$HERE/split-flows.py" "$FIRST" "$n" "$RUN/share$n" >/dev/null
    echo "$RUN/share$n-$i.pcap"
}
# Send one step's packets: STEP is a rate (tcpreplay on CPU 0) or top@CPUS
# (SENDER at top speed, one process per CPU). Prints "sent seconds".
send() { # STEP OUT
    local step=$1 out=$2 pids=() i=0 cpu
    if [ "${step#top@}" = "$step" ]; then
        ip netns exec "$TX" taskset -c 0 tcpreplay -q -K --no-flow-stats -i "$TXDEV" --pps="$step" \
            --limit="$LIMIT" "$CAP" >"$out.replay0" 2>&1 || true
    else
        local cpus n
        IFS=, read -r -a cpus <<<"${step#top@}"
        n=${#cpus[@]}
        for cpu in "${cpus[@]}"; do
            local file
            file=$(share "$n" "$i")
            case $SENDER in
                # -k 1000: the kernel is asked to send what the ring holds every
                # millisecond (its 10 us default spends more on the timer);
                # -A: the socket memory sysctls are not the namespace's to tune;
                # -Q: no IRQ affinity (a veth has no IRQ).
                netsniff-ng)
                    ip netns exec "$TX" taskset -c "$cpu" netsniff-ng --in "$file" --mmap --out "$TXDEV" \
                        --silent --bind-cpu "$cpu" --no-sock-mem --notouch-irq --ring-size 64MiB \
                        --kernel-pull 1000 >"$out.replay$i" 2>&1 & ;;
                tcpreplay)
                    ip netns exec "$TX" taskset -c "$cpu" tcpreplay -q -K --no-flow-stats -i "$TXDEV" \
                        --topspeed "$file" >"$out.replay$i" 2>&1 & ;;
            esac
            pids+=($!)
            i=$((i + 1))
        done
        for pid in "${pids[@]}"; do wait "$pid" || true; done
    fi
    # Every sender's count and time: tcpreplay's "Actual: N packets (B bytes)
    # sent in S seconds", netsniff-ng's "N packets outgoing" and "S sec, U usec
    # in total".
    local f total=0 secs=0 n t
    for f in "$out".replay*; do
        n=$(sed -n -e 's/.*Actual: \([0-9]*\) packets.*/\1/p' -e 's/^[^0-9]*\([0-9]*\) packets outgoing.*/\1/p' "$f" | head -1)
        t=$(sed -n -e 's/.*packets ([0-9]* bytes) sent in \([0-9.]*\) seconds.*/\1/p' \
            -e 's/^[^0-9]*\([0-9]*\) sec, \([0-9]*\) usec in total.*/\1 \2/p' "$f" | head -1 |
            awk 'NF == 2 {printf "%.6f", $1 + $2 / 1e6; next} {print}')
        if [ -z "$n" ] || [ -z "$t" ]; then
            log "a sender did not finish ($f): $(tail -n 2 "$f" | tr '\n' ' ')"
            continue
        fi
        total=$((total + n))
        secs=$(awk -v a="$secs" -v b="$t" 'BEGIN{print (b > a) ? b : a}')
    done
    echo "$total $secs"
}

readers=()
for n in $WORKERS; do readers+=("tls-audit/$n"); done
readers+=(tcpdump)
echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) before; ring ${BUFFER_MIB} MiB per reader socket; top-speed sender: $SENDER" | tee "$RUN/table"
printf '%-12s %9s %9s %10s %10s %9s %9s %8s %6s %8s %7s %7s %7s %7s\n' \
    tool asked_pps sent achieved received dropped if_drop flows cpu_s core% rss_MiB rd_cpus tx_cpus rx_pps | tee -a "$RUN/table"
steps=($RATES)
for c in $TOP_CPUS; do steps+=("top@$c"); done
for step in "${steps[@]}"; do
    for tool in "${readers[@]}"; do
        out=$RUN/${tool/\//-}-$step
        start_reader "$tool" "$out"
        read -r sent secs < <(send "$step" "$out")
        stop_reader
        if [ "${step#top@}" = "$step" ]; then tx_cpus=0; else tx_cpus=${step#top@}; fi
        read -r rcv drp ifd flows rx_pps < <(counts "$tool" "$out")
        read -r _wall usr sys rss < "$out.time"
        cpu=$(awk -v u="$usr" -v s="$sys" 'BEGIN{printf "%.2f", u+s}')
        share=$(awk -v c="$cpu" -v t="$secs" 'BEGIN{ if (t>0) printf "%.0f", 100*c/(t+1.3); else print "-"}')
        achieved=$(awk -v n="$sent" -v t="$secs" 'BEGIN{ if (t>0) printf "%.0f", n/t; else print 0}')
        printf '%-12s %9s %9s %10s %10s %9s %9s %8s %6s %8s %7.1f %7s %7s %7s\n' \
            "$tool" "$step" "$sent" "$achieved" "$rcv" "$drp" "$ifd" "$flows" "$cpu" "$share" \
            "$(awk -v k="$rss" 'BEGIN{print k/1024}')" "$(reader_cpus "$tool")" "$tx_cpus" "$rx_pps" | tee -a "$RUN/table"
    done
done
echo "machine: load average $(cut -d' ' -f1-3 /proc/loadavg) after" | tee -a "$RUN/table"
echo "(asked_pps: a rate is tcpreplay --pps on CPU 0; top@C is $SENDER at top speed, one process per CPU in C, each sending its share of the flows; sent and achieved = all senders' packets over the longest sender's time; rd_cpus/tx_cpus = the reader's and the senders' CPUs (taskset); rx_pps = the packets the agent analysed over the span of their kernel timestamps; core% = CPU seconds over the replay time plus the 1.3 s the reader also waited, in % of one core; tls-audit/N = --workers N)"
rm -f "$RUN"/*.pcap

[ -z "${SKIP_MEMORY:-}" ] || { log "raw outputs in $RUN"; exit 0; }

# Memory over a long run: every loop rewrites the addresses (--unique-ip), so
# each loop's flows are new to the agent and the table turns over.
log "memory: $LOOPS loops of the whole capture with --unique-ip at top speed, --max-flows 20000"
out=$RUN/memory
ip netns exec "$RX" taskset -c 1 "$BIN" capture -i "$RXDEV" --emit ndjson --buffer-mib "$BUFFER_MIB" --workers 1 --max-flows 20000 \
    >"$out.events" 2>"$out.err" &
READER_PID=$!
for _ in $(seq 100); do grep -q '"event":"start"' "$out.events" 2>/dev/null && break; sleep 0.05; done
# The reader's pid inside `ip netns exec` is the agent itself (exec).
( while kill -0 "$READER_PID" 2>/dev/null; do
      ps -o rss= -p "$READER_PID" 2>/dev/null || true
      sleep 1
  done ) >"$out.rss" &
SAMPLER=$!
ip netns exec "$TX" taskset -c 0 tcpreplay -q -i "$TXDEV" --topspeed --loop="$LOOPS" --unique-ip "$CAP" >"$out.replay" 2>&1 || true
stop_reader
wait "$SAMPLER" 2>/dev/null || true
read -r rcv drp ifd flows _ < <(counts tls-audit "$out")
echo
echo "memory run: $(sed -n 's/.*Actual: \([0-9]*\) packets.*/\1/p' "$out.replay" | head -1) packets sent, $rcv received, $drp dropped, $flows flows finished"
echo "RSS MiB, one sample a second:"
awk '{printf "%.1f ", $1/1024} END {print ""}' "$out.rss"
log "raw outputs in $RUN"
