#!/usr/bin/env bash
# `analyze --threads N` against the bare read, in the same rounds.
#
#   benches/threads.sh CAPTURE [BINARY]
#
# Times `tcpdump -r CAPTURE -w /dev/null` and `BINARY analyze CAPTURE -o json
# --threads N` for each N in THREADS (default "1 2") in interleaved rounds
# on the same warm file (benches/floor.sh does the timing: medians of wall
# time, user+sys CPU from wait4, peak RSS, ratios to the bare read of the
# same rounds). BINARY defaults to target/bench/release/tls-audit (build it
# with `CARGO_TARGET_DIR=target/bench cargo build --release`). The reports
# of every N are checked to be the same as N=1's first (but for the time of
# verification), so the numbers compare equal work. Environment: THREADS,
# RUNS (9), BENCH_DIR. Nothing passes or fails on the numbers.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
CAP=${1:?usage: threads.sh CAPTURE [BINARY]}
BIN=${2:-$REPO/target/bench/release/tls-audit}
THREADS=${THREADS:-1 2}
BENCH_DIR=${BENCH_DIR:-/tmp/tls-audit-bench}
[ -x "$BIN" ] || { echo "threads: not executable: $BIN" >&2; exit 1; }
mkdir -p "$BENCH_DIR"
T=$(mktemp -d "$BENCH_DIR/threads.XXXXXX")
trap 'rm -rf "$T"' EXIT

strip() { sed 's/"evaluated_at":"[^"]*"//'; }
"$BIN" analyze "$CAP" -o json --threads 1 2>/dev/null | strip >"$T/1.json" || true
specs=()
for n in $THREADS; do
    if [ "$n" != 1 ]; then
        "$BIN" analyze "$CAP" -o json --threads "$n" 2>/dev/null | strip >"$T/n.json" || true
        cmp -s "$T/1.json" "$T/n.json" ||
            { echo "threads: --threads $n report differs from --threads 1" >&2; exit 1; }
    fi
    specs+=("tls-audit-t$n=$BIN --threads $n")
done
echo "threads: reports of --threads ${THREADS// /, } are identical ($(wc -c <"$T/1.json") bytes)" >&2
exec "$HERE/floor.sh" "$CAP" "${specs[@]}"
