#!/usr/bin/env bash
# The floor: tls-audit analyze against a bare libpcap read, nothing else.
#
#   benches/floor.sh CAPTURE [NAME=BINARY ...]
#
# Times `tcpdump -r CAPTURE -w /dev/null` and `BINARY analyze CAPTURE -o json
# > /dev/null` (verification on, default policy) in interleaved rounds on the
# same warm file, and prints medians of wall time, user+sys CPU and peak RSS
# with each tool's ratio to the bare read measured in the same rounds.
# Without NAME=BINARY it times target/bench/release/tls-audit --threads 1,
# the one-thread floor (build it with `CARGO_TARGET_DIR=target/bench cargo
# build --release`); a NAME=BINARY without --threads runs the tool's
# default (2 threads on a machine with two CPUs or more). Words after a
# binary are added to its command line: NAME="BINARY --threads 2" (see
# threads.sh). Several binaries
# (e.g. before=... after=...) are timed in the same rounds, so they compare
# with each other and with tcpdump under the same machine load. run.sh does
# the full comparison with tshark; this is the quick loop for one change.
#
# Besides the medians, each tool's wall time over the bare read's is taken
# round by round: their median ("round med") and the rounds at or below the
# bare read ("<= bare").
# Environment: FORMAT (json: the report format, -o), RUNS (9), BENCH_DIR
# (/tmp/tls-audit-bench), CPUS (a taskset CPU list, e.g. 0: every tool runs
# pinned to those CPUs, so "one core" means one core whatever threads a
# tool starts). Nothing here passes or fails; it prints numbers.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
CAP=${1:?usage: floor.sh CAPTURE [NAME=BINARY ...]}
shift
RUNS=${RUNS:-9}
CPUS=${CPUS:-}
FORMAT=${FORMAT:-json}
BENCH_DIR=${BENCH_DIR:-/tmp/tls-audit-bench}
[ -f "$CAP" ] || { echo "floor: no such capture: $CAP" >&2; exit 1; }
[ $# -gt 0 ] || set -- "tls-audit=$REPO/target/bench/release/tls-audit --threads 1"
command -v tcpdump >/dev/null || { echo "floor: tcpdump missing" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "floor: GNU time missing (apt-get install time)" >&2; exit 1; }

mkdir -p "$BENCH_DIR"
T=$(mktemp -d "$BENCH_DIR/floor.XXXXXX")
trap 'rm -rf "$T"' EXIT

# One tool per line: its label, then its argv, tab-separated.
tab=$'\t'
echo "tcpdump${tab}tcpdump${tab}-r${tab}$CAP${tab}-w${tab}/dev/null" >"$T/tools"
for nb in "$@"; do
    # NAME=BINARY [ARGS...]: words after the binary are added to its
    # command line (e.g. "t2=target/bench/release/tls-audit --threads 2").
    name=${nb%%=*}
    read -ra words <<<"${nb#*=}"
    bin=${words[0]}
    [ -x "$bin" ] || { echo "floor: not executable: $bin" >&2; exit 1; }
    line="$name${tab}$bin${tab}analyze${tab}$CAP${tab}-o${tab}$FORMAT"
    for w in "${words[@]:1}"; do line+="${tab}$w"; done
    echo "$line" >>"$T/tools"
done

cat "$CAP" >/dev/null
# Timed with wait4(2): wall clock to the nanosecond and the child's user+sys
# CPU (GNU time rounds both to 10 ms, too coarse here); peak RSS from GNU time.
python3 - "$T/tools" "$CAP" "$RUNS" "$T/rss" "$CPUS" "$FORMAT" <<'EOF'
import os, statistics, sys, time
tools_file, cap, runs, rss_file, cpus, fmt = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
pin = ["taskset", "-c", cpus] if cpus else []
tools = [line.rstrip("\n").split("\t") for line in open(tools_file)]
rows = {t[0]: [] for t in tools}
quiet = [(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
         (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0)]
for r in range(runs):
    print(f"floor: round {r + 1}/{runs}", file=sys.stderr)
    for label, *argv in tools:
        # Peak RSS from GNU time around the tool: a child spawned from
        # Python would count this Python process's pages as its own peak.
        t0 = time.perf_counter()
        pid = os.posix_spawnp("/usr/bin/time", ["/usr/bin/time", "-f", "%M", "-o", rss_file] + pin + argv,
                              os.environ, file_actions=quiet)
        _, status, ru = os.wait4(pid, 0)
        wall = time.perf_counter() - t0
        if status != 0:
            sys.exit(f"floor: {label} failed (wait status {status}): {' '.join(argv)}")
        rss = int(open(rss_file).read().split()[-1]) / 1024
        rows[label].append((wall, ru.ru_utime + ru.ru_stime, rss))
med = {k: [statistics.median(x[i] for x in v) for i in range(3)] for k, v in rows.items()}
base = med["tcpdump"]
print(f"capture: {cap} ({os.path.getsize(cap) / 1e6:.0f} MB); -o {fmt}; medians of {runs} interleaved rounds; "
      f"{'pinned to CPUs ' + cpus + '; ' if cpus else ''}load average {open('/proc/loadavg').read().split()[0]} on {os.cpu_count()} CPUs")
hdr = (f"{'tool':<24} {'wall s':>7} {'CPU s':>7} {'RSS MiB':>8} {'wall/bare':>10} {'CPU/bare':>9}"
       f" {'round med':>10} {'<= bare':>8}   runs (wall s)")
print(hdr)
print("-" * len(hdr))
bare = [x[0] for x in rows["tcpdump"]]
for label, (wall, cpu, rss) in med.items():
    walls = " ".join(f"{x[0]:.3f}" for x in rows[label])
    # Round by round: this tool's wall time over the bare read's.
    ratios = [x[0] / b for x, b in zip(rows[label], bare)]
    below = sum(r <= 1.0 for r in ratios)
    print(f"{label:<24} {wall:>7.3f} {cpu:>7.3f} {rss:>8.1f} {wall / base[0]:>9.2f}x {cpu / base[1]:>8.2f}x"
          f" {statistics.median(ratios):>9.2f}x {below:>4}/{runs:<3}   {walls}")
EOF
