#!/usr/bin/env bash
# Throughput / memory benchmark: tls-audit vs tshark vs a bare libpcap read.
#
#   sudo benches/run.sh [CAPTURE]
#
# Without CAPTURE, benches/make-capture.sh makes one (SIZE_MB, default 500) in
# BENCH_DIR.  Then, on the same file and in the same run (peers are compared
# against each other, so machine noise mostly cancels out):
#   tcpdump  -r CAPTURE -w /dev/null                         bare libpcap read
#   tls-audit analyze CAPTURE -o json --out-file FILE          release build
#   tshark   -r CAPTURE -o tcp.desegment_tcp_streams:TRUE -Y <ClientHello|ServerHello|Certificate>
#            -T fields -e sni -e type -e ciphersuite -e certificate
# RUNS times (default 3; tcpdump and tls-audit FAST_RUNS, default 7), in
# interleaved rounds, timed by /usr/bin/time; medians of
# wall time, user+sys CPU and peak RSS are printed with the ratios.  Then
# tls-audit runs on a 2x capture (the capture + a time-shifted copy of itself,
# mergecap -a) to show how peak RSS scales.  Benchmarks print numbers; nothing
# here passes or fails on them.
#
# Environment: RUNS (3), FAST_RUNS (7), SIZE_MB (500), BENCH_DIR (/tmp/tls-audit-bench),
# TSHARK_MAX_MB (1000: on larger captures tshark, and tls-audit once more, are
# timed on a prefix of this size), SKIP_SCALING=1, SKIP_BUILD=1 (use the
# binary already in target/bench).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
RUNS=${RUNS:-3}
FAST_RUNS=${FAST_RUNS:-7}
[ "$FAST_RUNS" -ge "$RUNS" ] || FAST_RUNS=$RUNS
SIZE_MB=${SIZE_MB:-500}
BENCH_DIR=${BENCH_DIR:-/tmp/tls-audit-bench}
TSHARK_MAX_MB=${TSHARK_MAX_MB:-1000}
export CARGO_TARGET_DIR=$REPO/target/bench
TLS_AUDIT=$CARGO_TARGET_DIR/release/tls-audit

log() { echo "bench: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

mkdir -p "$BENCH_DIR"
T=$(mktemp -d "$BENCH_DIR/run.XXXXXX")
trap 'rm -f "$T"/*.pcap' EXIT

if [ ! -x /usr/bin/time ]; then
    log "installing GNU time"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null || die "cannot install the time package"
fi
for t in tcpdump tshark editcap mergecap capinfos python3 cargo; do
    command -v "$t" >/dev/null || die "missing tool: $t (apt-get install tcpdump tshark; rustup for cargo)"
done

# ---------------------------------------------------------------- capture
if [ $# -ge 1 ]; then
    CAP=$(realpath "$1")
    [ -f "$CAP" ] || die "no such capture: $CAP"
else
    CAP=$BENCH_DIR/capture-${SIZE_MB}MB.pcap
    log "making a ${SIZE_MB} MB capture: $CAP"
    "$HERE/make-capture.sh" "$CAP" "$SIZE_MB"
fi

# ---------------------------------------------------------------- build
if [ "${SKIP_BUILD:-}" != 1 ]; then
    for attempt in 1 2 3 4 5; do
        log "building tls-audit (release, CARGO_TARGET_DIR=$CARGO_TARGET_DIR), attempt $attempt"
        if cargo build --release --quiet --manifest-path "$REPO/Cargo.toml" 2>"$T/build.log"; then
            break
        fi
        # Others edit src/ concurrently: a half-done edit fails the build for a while.
        [ $attempt = 5 ] && { cat "$T/build.log" >&2; die "build failed"; }
        log "build failed (a concurrent edit?); retrying in 60 s"; sleep 60
    done
fi
[ -x "$TLS_AUDIT" ] || die "no binary at $TLS_AUDIT"
# Others commit to this tree all the time: say which source was measured
# (recorded at build time, next to the binary).
if [ "${SKIP_BUILD:-}" != 1 ] || [ ! -f "$TLS_AUDIT.bench-rev" ]; then
    rev=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
    git -C "$REPO" diff --quiet HEAD -- src Cargo.toml Cargo.lock 2>/dev/null || rev="$rev + uncommitted changes in src/"
    [ "${SKIP_BUILD:-}" != 1 ] || rev="binary built earlier; tree now at $rev"
    echo "$rev" >"$TLS_AUDIT.bench-rev"
fi
SRC_REV=$(cat "$TLS_AUDIT.bench-rev")
export SRC_REV

# ---------------------------------------------------------------- tshark input
cap_bytes=$(stat -c %s "$CAP")
TS_CAP=$CAP
if [ "$cap_bytes" -gt $((TSHARK_MAX_MB * 1000 * 1000)) ]; then
    # The first TSHARK_MAX_MB of the file, cut at a packet boundary (classic
    # pcap only).  tls-audit is timed on the same prefix too, so the ratio
    # compares like with like; the full-file tshark time is extrapolated.
    TS_CAP=$T/tshark-prefix.pcap
    python3 - "$CAP" "$TS_CAP" "$((TSHARK_MAX_MB * 1000 * 1000))" <<'PY' || die "cannot cut a prefix (pcapng? use a classic pcap)"
import struct, sys
src, dst, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(src, "rb") as f:
    head = f.read(24)
    magic = head[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"): end = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"): end = ">"
    else: sys.exit(1)
    off = 24
    while True:
        f.seek(off)
        rec = f.read(16)
        if len(rec) < 16: break
        incl = struct.unpack(end + "IIII", rec)[2]
        if off + 16 + incl > limit: break
        off += 16 + incl
    f.seek(0)
    with open(dst, "wb") as out:
        left = off
        while left:
            chunk = f.read(min(left, 1 << 20)); out.write(chunk); left -= len(chunk)
PY
    log "tshark will read only the first $(stat -c %s "$TS_CAP") bytes; tls-audit is timed on that prefix too"
fi

# ---------------------------------------------------------------- measure
# measure NAME INPUT CMD... : one timed run, appended to $T/results as
# "name input_bytes wall user sys maxrss_kb exit_status".
measure() {
    local name=$1 input=$2; shift 2
    local i=$(( $(grep -c "^$name " "$T/results" 2>/dev/null || true) + 1 ))
    local rc=0
    /usr/bin/time -f '%e %U %S %M' -o "$T/time.txt" "$@" >"$T/$name.out.$i" 2>"$T/$name.err.$i" || rc=$?
    echo "$name $(stat -c %s "$input") $(tail -n 1 "$T/time.txt") $rc" >>"$T/results"
}

warm() { for f in "$@"; do cat "$f" >/dev/null; done; }

TS_FILTER='tls.handshake.type==1 || tls.handshake.type==2 || tls.handshake.type==11'
: >"$T/results"
warm "$CAP" "$TS_CAP" "$TLS_AUDIT"
# tcpdump and tls-audit take about a second, so they get FAST_RUNS (>= RUNS)
# rounds; a median of more samples resists this shared machine's noise better.
for run in $(seq "$FAST_RUNS"); do
    log "round $run/$FAST_RUNS: tcpdump, tls-audit$([ "$run" -le "$RUNS" ] && echo ', tshark')"
    measure tcpdump "$CAP" tcpdump -r "$CAP" -w /dev/null
    measure tls-audit "$CAP" "$TLS_AUDIT" analyze "$CAP" -o json --out-file "$T/report.json"
    [ "$run" -le "$RUNS" ] || continue
    [ "$TS_CAP" = "$CAP" ] || measure tls-audit-prefix "$TS_CAP" "$TLS_AUDIT" analyze "$TS_CAP" -o json --out-file "$T/report-prefix.json"
    measure tshark "$TS_CAP" tshark -r "$TS_CAP" -o tcp.desegment_tcp_streams:TRUE -Y "$TS_FILTER" \
        -T fields -e tls.handshake.extensions_server_name -e tls.handshake.type \
        -e tls.handshake.ciphersuite -e tls.handshake.certificate
done

# ---------------------------------------------------------------- memory scaling
if [ "${SKIP_SCALING:-}" != 1 ]; then
    log "memory scaling: making a 2x capture (capture + time-shifted copy, mergecap -a)"
    read -r t0 t1 < <(capinfos -a -e -S -T -r "$CAP" | cut -f2,3)
    shift_s=$(python3 -c "print(int($t1 - $t0) + 60)")
    editcap -t "$shift_s" "$CAP" "$T/shifted.pcap"
    mergecap -F pcap -a -w "$T/double.pcap" "$CAP" "$T/shifted.pcap"
    rm -f "$T/shifted.pcap"
    warm "$T/double.pcap"
    for run in $(seq "$FAST_RUNS"); do
        log "round $run/$FAST_RUNS: tls-audit on the 2x capture"
        measure tls-audit-2x "$T/double.pcap" "$TLS_AUDIT" analyze "$T/double.pcap" -o json --out-file "$T/report-2x.json"
    done
fi

# ---------------------------------------------------------------- report
python3 - "$T" "$CAP" "$TS_CAP" <<'EOF'
import json, os, statistics, sys
T, cap, ts_cap = sys.argv[1:4]
rows = {}
for line in open(os.path.join(T, "results")):
    name, size, wall, user, sys_, rss, rc = line.split()
    rows.setdefault(name, []).append((int(size), float(wall), float(user) + float(sys_), int(rss), int(rc)))
med = {}
for name, rs in rows.items():
    size = rs[0][0]
    wall = statistics.median(r[1] for r in rs)
    cpu = statistics.median(r[2] for r in rs)
    rss = statistics.median(r[3] for r in rs) / 1024
    med[name] = dict(size=size, wall=wall, cpu=cpu, rss=rss, mbs=size / 1e6 / max(wall, 0.005),
                     runs=len(rs), walls=[r[1] for r in rs], rcs={r[4] for r in rs})

cap_mb = os.path.getsize(cap) / 1e6
print()
print(f"capture: {cap} ({cap_mb:.0f} MB); tls-audit source: {os.environ.get('SRC_REV', '?')}")
print(f"load average at the end: {open('/proc/loadavg').read().split()[0]} on {os.cpu_count()} CPUs")
print(f"medians of {med['tshark']['runs']} runs (tshark) / {med['tls-audit']['runs']} runs (tcpdump, tls-audit); "
      "MB = 10^6 bytes; CPU = user+sys; MB/s = input bytes / wall")
print()
hdr = f"{'tool':<22} {'input MB':>9} {'wall s':>8} {'CPU s':>8} {'MB/s':>9} {'peak RSS MiB':>13}   runs (wall s)"
print(hdr); print("-" * len(hdr))
labels = {"tcpdump": "tcpdump -r (bare read)", "tls-audit": "tls-audit analyze",
          "tshark": "tshark (handshakes)", "tls-audit-2x": "tls-audit, 2x capture",
          "tls-audit-prefix": "tls-audit, prefix"}
for name in ["tcpdump", "tls-audit", "tshark", "tls-audit-prefix", "tls-audit-2x"]:
    if name in med:
        m = med[name]
        flag = "" if m["rcs"] == {0} else f"  exit {sorted(m['rcs'])}"
        print(f"{labels[name]:<22} {m['size']/1e6:>9.0f} {m['wall']:>8.2f} {m['cpu']:>8.2f} {m['mbs']:>9.1f} {m['rss']:>13.1f}   "
              + " ".join(f"{w:.2f}" for w in m["walls"]) + flag)
print()
ta, td, ts = med["tls-audit"], med["tcpdump"], med["tshark"]
prefix = ts["size"] != ta["size"]
# /usr/bin/time has 10 ms resolution: floor the divisors at 5 ms.
q = lambda a, b: a / max(b, 0.005)
print(f"tls-audit / tcpdump wall time:       {q(ta['wall'], td['wall']):7.2f}x   (target <= 2x)")
print(f"tls-audit / tcpdump CPU time:        {q(ta['cpu'], td['cpu']):7.2f}x")
tp = med.get("tls-audit-prefix", ta)
print(f"tls-audit / tshark throughput:       {tp['mbs']/ts['mbs']:7.1f}x   (target >= 100x)"
      + (f"  [both on the first {ts['size']/1e6:.0f} MB only]" if prefix else ""))
print(f"tls-audit / tshark CPU per MB:       {q(ts['cpu'], tp['cpu']) * tp['size'] / ts['size']:7.1f}x less CPU")
if prefix:
    print(f"tshark on the whole file, extrapolated from the prefix's MB/s: ~{ta['size']/1e6/ts['mbs']:.0f} s "
          f"(the prefix's mix of handshakes and bulk may differ from the whole file's)")
print(f"tls-audit peak RSS:                  {ta['rss']:7.1f} MiB (target <= 64 MiB)")
if "tls-audit-2x" in med:
    m2 = med["tls-audit-2x"]
    print(f"tls-audit peak RSS, 2x capture:      {m2['rss']:7.1f} MiB  ({m2['rss']/ta['rss']:.2f}x of 1x)")

def stats(path):
    try:
        return json.load(open(path))["stats"]
    except Exception as e:
        return None
print()
for label, path in [("capture", "report.json"), ("prefix", "report-prefix.json"), ("2x capture", "report-2x.json")]:
    s = stats(os.path.join(T, path))
    if s:
        print(f"tls-audit found ({label}): {s['packets']} packets, {s['flows']} flows, {s['tls_flows']} TLS flows, "
              f"{s['mutual_tls_flows']} mTLS flows, {s['evicted_flows']} evicted")
counts = {}
lines = 0
for line in open(os.path.join(T, "tshark.out.1"), errors="replace"):
    lines += 1
    f = line.rstrip("\n").split("\t")
    if len(f) > 1:
        for t in f[1].split(","):
            counts[t] = counts.get(t, 0) + 1
print(f"tshark found{' (prefix)' if prefix else ''}: {lines} frames; {counts.get('1',0)} ClientHello, "
      f"{counts.get('2',0)} ServerHello, {counts.get('11',0)} Certificate messages (cleartext, i.e. TLS <= 1.2)")
EOF
log "raw results and outputs kept in $T"
