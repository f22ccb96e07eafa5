#!/usr/bin/env bash
# Key-log benchmark: TLS 1.3 handshakes decrypted per second.
#
#   benches/keylog.sh [COPIES]
#
# benches/make-keyed-capture.py writes COPIES (default 2500) copies of each
# real TLS 1.3 handshake of fixtures/captures that has a key log, each with its
# own client address, and the matching key log. Then, in interleaved rounds
# on the same file (RUNS, default 5): tls-audit with the key log, tls-audit
# without it, and a bare libpcap read (tcpdump -r); once, tshark with the same
# key log extracting the decrypted certificates. Medians of wall time, CPU and
# peak RSS are printed with handshakes per second. Prints numbers; nothing
# passes or fails on them.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
COPIES=${1:-2500}
RUNS=${RUNS:-5}
BENCH_DIR=${BENCH_DIR:-/tmp/tls-audit-bench}
export CARGO_TARGET_DIR=$REPO/target/bench
BIN=$CARGO_TARGET_DIR/release/tls-audit
mkdir -p "$BENCH_DIR"
CAP=$BENCH_DIR/keyed-$COPIES.pcap
KEYS=$BENCH_DIR/keyed-$COPIES.keys

[ -n "${SKIP_BUILD:-}" ] || cargo build --release --locked --quiet --manifest-path "$REPO/Cargo.toml"
[ -s "$CAP" ] || python3 "$HERE/make-keyed-capture.py" "$CAP" "$KEYS" "$COPIES"

RUN_DIR=$(mktemp -d "$BENCH_DIR/keylog.XXXXXX")
timed() { # NAME CMD...: append "wall cpu rss_kb" to RUN_DIR/NAME
    local name=$1; shift
    /usr/bin/time -f "%e %U %S %M" -o "$RUN_DIR/$name.t" "$@" >/dev/null 2>"$RUN_DIR/$name.err"
    awk '{print $1, $2 + $3, $4}' "$RUN_DIR/$name.t" >>"$RUN_DIR/$name"
}
for r in $(seq "$RUNS"); do
    echo "keylog bench: round $r/$RUNS" >&2
    timed keys "$BIN" analyze "$CAP" --keylog "$KEYS" -o json --out-file "$RUN_DIR/keys.json"
    timed nokeys "$BIN" analyze "$CAP" -o json --out-file "$RUN_DIR/nokeys.json"
    timed tcpdump tcpdump -r "$CAP" -w /dev/null
done
echo "keylog bench: tshark (once)" >&2
timed tshark tshark -n -r "$CAP" -o "tls.keylog_file:$KEYS" -o tcp.desegment_tcp_streams:TRUE \
    -Y "tls.handshake.type == 11" -T fields -e tcp.stream -e tls.handshake.certificate

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
col() { awk -v c="$2" '{print $c}' "$RUN_DIR/$1" | median; }
decrypted=$(python3 -c "
import json,sys
r=json.load(open(sys.argv[1]))
print(sum(1 for f in r['flows'] if (f['tls'] or {}).get('decryption') and f['tls']['decryption']['status']=='decrypted'))
" "$RUN_DIR/keys.json")
mb=$(( $(stat -c %s "$CAP") / 1000000 ))
echo
echo "capture: $CAP ($mb MB), $decrypted TLS 1.3 handshakes decrypted by tls-audit"
printf '%-34s %8s %8s %12s %16s\n' tool "wall s" "CPU s" "RSS MiB" "handshakes/s"
for t in tcpdump nokeys keys tshark; do
    w=$(col $t 1); c=$(col $t 2); m=$(col $t 3)
    label=$t
    case $t in
        tcpdump) label="tcpdump -r (bare read)" ;;
        nokeys) label="tls-audit, no key log" ;;
        keys) label="tls-audit --keylog" ;;
        tshark) label="tshark -o tls.keylog_file (1 run)" ;;
    esac
    hs=$(awk -v n="$decrypted" -v w="$w" 'BEGIN {printf "%.0f", n / w}')
    [ "$t" = tcpdump ] || [ "$t" = nokeys ] && hs=-
    printf '%-34s %8s %8s %12.1f %16s\n' "$label" "$w" "$c" "$(awk -v k="$m" 'BEGIN {print k/1024}')" "$hs"
done
echo
awk -v a="$(col keys 1)" -v b="$(col tshark 1)" 'BEGIN {printf "tls-audit --keylog is %.1fx faster than tshark with the same keys\n", b / a}'
awk -v a="$(col keys 2)" -v b="$(col nokeys 2)" -v n="$decrypted" \
    'BEGIN {printf "decrypting and reading the handshakes costs %.1f us of CPU each\n", (a - b) * 1e6 / n}'
echo "raw results in $RUN_DIR"
