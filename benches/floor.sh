#!/usr/bin/env bash
# The floor: tls-audit analyze against a bare libpcap read, nothing else.
#
#   benches/floor.sh CAPTURE [NAME=BINARY ...]
#
# Times `tcpdump -r CAPTURE -w /dev/null` and `BINARY analyze CAPTURE -o json
# > /dev/null` (verification on, default policy) in interleaved rounds on the
# same warm file, and prints medians of wall time, user+sys CPU and peak RSS
# with each tool's ratio to the bare read measured in the same rounds.
# Without NAME=BINARY it times target/bench/release/tls-audit (build it with
# `CARGO_TARGET_DIR=target/bench cargo build --release`). Several binaries
# (e.g. before=... after=...) are timed in the same rounds, so they compare
# with each other and with tcpdump under the same machine load. run.sh does
# the full comparison with tshark; this is the quick loop for one change.
#
# Environment: RUNS (9), THREADS (e.g. "1 2": each binary is also timed with
# --threads N for each N; empty: the binary's default), BENCH_DIR
# (/tmp/tls-audit-bench). Nothing here passes or fails; it prints numbers.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
CAP=${1:?usage: floor.sh CAPTURE [NAME=BINARY ...]}
shift
RUNS=${RUNS:-9}
THREADS=${THREADS:-}
BENCH_DIR=${BENCH_DIR:-/tmp/tls-audit-bench}
[ -f "$CAP" ] || { echo "floor: no such capture: $CAP" >&2; exit 1; }
[ $# -gt 0 ] || set -- "tls-audit=$REPO/target/bench/release/tls-audit"
command -v tcpdump >/dev/null || { echo "floor: tcpdump missing" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "floor: GNU time missing (apt-get install time)" >&2; exit 1; }

mkdir -p "$BENCH_DIR"
T=$(mktemp -d "$BENCH_DIR/floor.XXXXXX")
trap 'rm -rf "$T"' EXIT

# tool label -> command line (one per line, tab-separated)
: >"$T/tools"
printf 'tcpdump\ttcpdump -r %q -w /dev/null\n' "$CAP" >>"$T/tools"
for nb in "$@"; do
    name=${nb%%=*} bin=${nb#*=}
    [ -x "$bin" ] || { echo "floor: not executable: $bin" >&2; exit 1; }
    if [ -z "$THREADS" ]; then
        printf '%s\t%q analyze %q -o json\n' "$name" "$bin" "$CAP" >>"$T/tools"
    else
        for n in $THREADS; do
            printf '%s --threads %s\t%q analyze %q -o json --threads %s\n' "$name" "$n" "$bin" "$CAP" "$n" >>"$T/tools"
        done
    fi
done

cat "$CAP" >/dev/null
: >"$T/results"
for run in $(seq "$RUNS"); do
    echo "floor: round $run/$RUNS" >&2
    while IFS=$'\t' read -r label cmd; do
        /usr/bin/time -f '%e %U %S %M' -o "$T/time" bash -c "$cmd >/dev/null 2>$T/err" \
            || { echo "floor: $label failed:" >&2; cat "$T/err" >&2; exit 1; }
        printf '%s\t%s\n' "$label" "$(tail -n 1 "$T/time")" >>"$T/results"
    done <"$T/tools"
done

python3 - "$T/results" "$CAP" <<'EOF'
import os, statistics, sys
res, cap = sys.argv[1:3]
rows = {}
for line in open(res):
    label, nums = line.rstrip("\n").split("\t")
    wall, user, sys_, rss = nums.split()
    rows.setdefault(label, []).append((float(wall), float(user) + float(sys_), int(rss) / 1024))
med = {k: [statistics.median(r[i] for r in v) for i in range(3)] for k, v in rows.items()}
base = med["tcpdump"]
print(f"capture: {cap} ({os.path.getsize(cap) / 1e6:.0f} MB); medians of {len(rows['tcpdump'])} interleaved rounds; "
      f"load average {open('/proc/loadavg').read().split()[0]} on {os.cpu_count()} CPUs")
hdr = f"{'tool':<28} {'wall s':>7} {'CPU s':>7} {'RSS MiB':>8} {'wall/bare':>10} {'CPU/bare':>9}   runs (wall s)"
print(hdr)
print("-" * len(hdr))
for label, (wall, cpu, rss) in med.items():
    walls = " ".join(f"{r[0]:.2f}" for r in rows[label])
    print(f"{label:<28} {wall:>7.3f} {cpu:>7.3f} {rss:>8.1f} {wall / base[0]:>9.2f}x {cpu / base[1]:>8.2f}x   {walls}")
EOF
