#!/usr/bin/env bash
# libpcap's two Linux ring modes side by side, with tcpdump as the reader:
# immediate mode (TPACKET_V2: one slot per packet, as large as the snap
# length when the interface offloads segmentation) against the default
# mode (TPACKET_V3: blocks that hold packets at their own length, handed
# over when full or after the read timeout). The same ring size, snap
# length and replays for both; tcpreplay (pinned to CPU 0) sends the
# capture into a veth between two namespaces, tcpdump reads the other end
# on CPU 1. Why `tls-audit capture` does not use immediate mode.
#
#   sudo benches/ring-mode.sh [CAPTURE]
#
# Knobs: RATE (200000 packets/s), LIMIT (300000 packets), BUFFER_MIB (32),
# SNAPLEN (262144), ROUNDS (2), NS_PREFIX (tlsa-rm). Prints numbers;
# nothing passes or fails on them.
set -euo pipefail

CAP=${1:-/tmp/tls-audit-bench/capture-500MB.pcap}
RATE=${RATE:-200000}
LIMIT=${LIMIT:-300000}
BUFFER_MIB=${BUFFER_MIB:-32}
SNAPLEN=${SNAPLEN:-262144}
ROUNDS=${ROUNDS:-2}
NS_PREFIX=${NS_PREFIX:-tlsa-rm}
TX=$NS_PREFIX-tx RX=$NS_PREFIX-rx

[ "$(id -u)" = 0 ] || { echo "ring-mode: must run as root" >&2; exit 1; }
[ -s "$CAP" ] || { echo "ring-mode: no capture $CAP (benches/make-capture.sh makes one)" >&2; exit 1; }
RUN=
cleanup() {
    ip netns del "$TX" 2>/dev/null || true
    ip netns del "$RX" 2>/dev/null || true
    [ -z "$RUN" ] || rm -rf "$RUN"
}
trap cleanup EXIT
cleanup
RUN=$(mktemp -d)
ip netns add "$TX"
ip netns add "$RX"
ip link add "$NS_PREFIX-0" netns "$TX" type veth peer name "$NS_PREFIX-1" netns "$RX"
ip netns exec "$TX" ip link set "$NS_PREFIX-0" up
ip netns exec "$RX" ip link set "$NS_PREFIX-1" up
echo "offloads of the capturing veth: $(ip netns exec "$RX" ethtool -k "$NS_PREFIX-1" 2>/dev/null \
    | grep -E '^(tcp-segmentation-offload|generic-segmentation-offload|generic-receive-offload):' | tr '\n' ' ')"
echo "ring ${BUFFER_MIB} MiB, snap length $SNAPLEN, $LIMIT packets at $RATE packets/s per replay"
for round in $(seq "$ROUNDS"); do
    for mode in immediate default; do
        flag=()
        [ "$mode" = immediate ] && flag=(--immediate-mode)
        ip netns exec "$RX" taskset -c 1 tcpdump -i "$NS_PREFIX-1" -n -s "$SNAPLEN" -B $((BUFFER_MIB * 1024)) \
            "${flag[@]}" -w /dev/null 2>"$RUN/err" &
        pid=$!
        for _ in $(seq 100); do grep -q "listening on" "$RUN/err" && break; sleep 0.05; done
        sleep 0.3
        ip netns exec "$TX" taskset -c 0 tcpreplay -q -K -i "$NS_PREFIX-0" --pps="$RATE" --limit="$LIMIT" "$CAP" \
            >"$RUN/replay" 2>&1 || true
        sleep 1
        kill -TERM "$pid"
        wait "$pid" || true
        achieved=$(sed -n 's/.*Rated: [0-9.]* Bps, [0-9.]* Mbps, \([0-9.]*\) pps.*/\1/p' "$RUN/replay" | head -1)
        rcv=$(sed -n 's/^\([0-9]*\) packets received by filter.*/\1/p' "$RUN/err")
        drp=$(sed -n 's/^\([0-9]*\) packets dropped by kernel.*/\1/p' "$RUN/err")
        printf 'round %s  tcpdump %-9s  achieved %8.0f pps  received %7s  dropped %7s\n' \
            "$round" "$mode" "${achieved:-0}" "${rcv:-?}" "${drp:-?}"
    done
done
