#!/usr/bin/env bash
# Where `analyze --threads N` spends its CPU, thread by thread.
#
#   benches/thread-cpu.sh CAPTURE [BINARY]
#
# For each N in THREADS (default "1 2 4"), runs `BINARY analyze CAPTURE -o
# json --threads N` RUNS times (default 5) under `perf record -e task-clock`
# (a sample every 100 us of a thread's CPU time, so each thread's CPU is
# known to about 0.1 ms) and prints, as medians over the runs: the wall
# time of a run without perf (one before each recorded run; perf's own
# start and its writing of samples would be counted otherwise), the CPU of
# the whole process, its peak RSS (GNU time, same run as the wall time), and
# the CPU of each thread by its role:
#   calling   the thread that ran `analyze` (with N <= 2 it analyses every
#             packet; with N > 2 it merges the workers' results, links
#             resumptions and writes the report)
#   read      the thread reading the file ahead (capture::ahead)
#   reader    with N > 2, the thread decoding every frame and keeping the
#             flows' lifetimes (engine::parallel)
#   workers   with N > 2, the busiest worker and all of them together
#   spill     the sink thread writing records' JSON to the spill file
#   verify    the sink thread enriching, verifying and gathering records
#   parse     with N > 1, the threads parsing records read back from the
#             spill file (engine::sink), all of them together
# and the busiest thread. No thread can finish before it has had its CPU
# time, so the busiest thread's CPU is a lower bound on the wall time even
# with a core for every thread: an inference about a machine with more
# cores than this one, not a measurement of it. The threads here share this
# machine's cores, so each one's CPU includes what sharing costs (caches,
# switches); on idle cores it would be somewhat lower.
# Needs perf (Debian's linux-perf) and the permission to use it (root, or
# kernel.perf_event_paranoid <= 1). Sampling adds a few per cent of CPU to
# the recorded runs. ARGS: more words for analyze's command line (e.g.
# "--keylog FILE"). Nothing passes or fails on the numbers.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
CAP=${1:?usage: thread-cpu.sh CAPTURE [BINARY]}
BIN=${2:-$REPO/target/bench/release/tls-audit}
THREADS=${THREADS:-1 2 4}
RUNS=${RUNS:-5}
read -r -a EXTRA <<<"${ARGS:-}"
BENCH_DIR=${BENCH_DIR:-/tmp/tls-audit-bench}
[ -x "$BIN" ] || { echo "thread-cpu: not executable: $BIN" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "thread-cpu: GNU time missing (apt-get install time)" >&2; exit 1; }
command -v perf >/dev/null || { echo "thread-cpu: perf missing (apt-get install linux-perf)" >&2; exit 1; }
mkdir -p "$BENCH_DIR"
T=$(mktemp -d "$BENCH_DIR/thread-cpu.XXXXXX")
trap 'rm -rf "$T"' EXIT

# One run: "wall" and its wall time in microseconds and "rss" and its peak
# RSS in KiB (without perf), then one line per thread of the recorded run:
# tid, name, CPU ms.
one_run() {
    local n=$1 start end
    start=$(date +%s%N)
    /usr/bin/time -f %M -o "$T/rss" "$BIN" analyze "$CAP" -o json --threads "$n" "${EXTRA[@]}" >/dev/null 2>&1 || true
    end=$(date +%s%N)
    echo "wall $(( (end - start) / 1000 ))"
    echo "rss $(tail -1 "$T/rss")"
    perf record -q -e task-clock -c 100000 -o "$T/perf.data" -- \
        "$BIN" analyze "$CAP" -o json --threads "$n" "${EXTRA[@]}" >/dev/null 2>"$T/err" ||
        { echo "thread-cpu: --threads $n failed:" >&2; cat "$T/err" >&2; exit 1; }
    # Every sample is 100 us of one thread's CPU.
    perf script -i "$T/perf.data" -F tid,comm 2>/dev/null |
        awk '{n[$2" "$1]++} END {for (k in n) print k, n[k] / 10}'
}

echo "capture: $CAP ($(( $(stat -c %s "$CAP") / 1000000 )) MB); medians of $RUNS runs; load average $(cut -d' ' -f1 /proc/loadavg) on $(nproc) CPUs"
printf '%-8s %7s %7s %7s %7s %7s %7s %7s %7s %7s %7s %7s  %s\n' \
    threads wall_ms rss_MiB cpu_ms calling read reader worker1 workers spill verify parse busiest
for n in $THREADS; do
    : >"$T/rows"
    for _ in $(seq "$RUNS"); do
        one_run "$n" >"$T/run"
        # Roles by name; the two sink threads by creation order (the spill
        # file's thread is made first), so by thread id.
        awk -v n="$n" '
            $1 == "wall" { wall = $2 / 1000; next }
            $1 == "rss" { rss = $2 / 1024; next }
            { tid = $1; comm = $2; ms = $3; cpu += ms
              if (comm ~ /^tls-audit-sink/) { sink[tid] = ms }
              else if (comm ~ /^tls-audit-reade/) reader += ms
              else if (comm == "tls-audit-read") read += ms
              else if (comm ~ /^tls-audit-w[0-9]/) { workers += ms; if (ms > w1) w1 = ms }
              else if (comm ~ /^tls-audit-pars/) parse += ms
              else calling += ms
              if (ms > top) { top = ms; topname = comm } }
            END {
              k = 0; for (t in sink) ids[++k] = t + 0
              if (k == 2 && ids[1] > ids[2]) { x = ids[1]; ids[1] = ids[2]; ids[2] = x }
              spill = (k >= 1) ? sink[ids[1]] : 0; verify = (k >= 2) ? sink[ids[2]] : 0
              if (topname ~ /^tls-audit-sink/) topname = (top == spill) ? "spill" : "verify"
              else if (topname ~ /^tls-audit-reade/) topname = "reader"
              else if (topname == "tls-audit-read") topname = "read"
              else if (topname ~ /^tls-audit-w/) topname = "worker"
              else if (topname ~ /^tls-audit-pars/) topname = "parse"
              else topname = "calling"
              printf "%.1f %.1f %.1f %.1f %.1f %.1f %.1f %.1f %.1f %.1f %.1f %s\n",
                  wall, rss, cpu, calling, read, reader, w1, workers, spill, verify, parse, topname }' \
            "$T/run" >>"$T/rows"
    done
    # Medians, column by column; the busiest role most often seen.
    awk -v n="$n" -v runs="$RUNS" '
        { for (i = 1; i <= 11; i++) col[i, NR] = $i; role[$12]++ }
        END {
          line = sprintf("%-8s", n)
          for (i = 1; i <= 11; i++) {
            m = 0; for (r = 1; r <= NR; r++) v[++m] = col[i, r]
            for (a = 1; a <= m; a++) for (b = a + 1; b <= m; b++) if (v[b] < v[a]) { x = v[a]; v[a] = v[b]; v[b] = x }
            med = (m % 2) ? v[(m + 1) / 2] : (v[m / 2] + v[m / 2 + 1]) / 2
            line = line sprintf(" %7.1f", med)
          }
          best = ""; for (r in role) if (best == "" || role[r] > role[best]) best = r
          print line "  " best " (" role[best] " of " runs " runs)" }' "$T/rows"
done
echo "(ms; worker1 = the busiest worker, workers = all of them; the busiest thread's CPU bounds the wall time from below on any number of cores)"
