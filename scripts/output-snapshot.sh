#!/bin/sh
# Snapshot every output format of `tls-audit` on the committed fixtures, to
# check that a refactoring changes no byte of any report.
#
#   scripts/output-snapshot.sh DIR [BINARY]
#   scripts/output-snapshot.sh --compare BEFORE AFTER [BINARY]
#
# The first form writes DIR (emptied first); the second writes AFTER and
# `diff -r`s it against BEFORE (exit 1 on any difference). BINARY defaults
# to target/debug/tls-audit (built by `cargo build --bins` first).
#
# Inputs: fixtures/captures (alone, and with the fixture cluster, key logs,
# both compliance views and --fail-on high), fixtures/lab (with their key
# logs), fixtures/captures-kex, fixtures/captures-underlay (with each cluster
# config), fixtures/corpus, fixtures/events (--events), `report` re-rendering
# a saved JSON report (with a baseline), `diff`, `rules` and `policy`. Every
# run records stdout, stderr and the exit status. `--now` pins the waiver
# clock; nothing else in the outputs depends on the time of the run.
set -eu

cd "$(dirname "$0")/.."
compare=
if [ "${1:-}" = "--compare" ]; then
    compare=$2
    shift 2
fi
out=${1:?usage: scripts/output-snapshot.sh [--compare BEFORE] DIR [BINARY]}
bin=${2:-target/debug/tls-audit}
if [ -z "${2:-}" ]; then
    cargo build -q --bins
fi
bin=$(realpath "$bin")

rm -rf "$out"
mkdir -p "$out"
formats="json yaml sarif junit html markdown table wide github"
now=2026-12-01T00:00:00Z

# run NAME ARGS...: stdout to NAME.out, stderr to NAME.err, status to NAME.rc.
run() {
    run_name=$1
    shift
    rc=0
    "$bin" "$@" >"$out/$run_name.out" 2>"$out/$run_name.err" || rc=$?
    echo "$rc" >"$out/$run_name.rc"
}

# analyze_all NAME FILE ARGS...: every format.
analyze_all() {
    name=$1
    file=$2
    shift 2
    for f in $formats; do
        run "$name.$f" analyze -o "$f" --now "$now" "$@" "$file"
    done
}

keylog_of() {
    k=${1%.pcap}.keys
    if [ -f "$k" ]; then echo "--keylog $k"; fi
}

cluster="--pods fixtures/cluster/pods.json --nodes fixtures/cluster/nodes.json"
for p in fixtures/captures/*.pcap; do
    n=captures.$(basename "$p" .pcap)
    analyze_all "$n" "$p"
    # shellcheck disable=SC2046,SC2086
    analyze_all "$n.full" "$p" $cluster $(keylog_of "$p") \
        --compliance pci-dss-4.0.1,hipaa --fail-on high --cluster-name snap
done
for p in fixtures/lab/*.pcap; do
    # shellcheck disable=SC2046
    analyze_all "lab.$(basename "$p" .pcap)" "$p" $(keylog_of "$p")
done
for p in fixtures/captures-kex/*.pcap fixtures/corpus/*.pcap; do
    d=$(basename "$(dirname "$p")")
    analyze_all "$d.$(basename "$p" .pcap)" "$p"
done
ucluster="--pods fixtures/cluster-underlay/pods.json --nodes fixtures/cluster-underlay/nodes.json"
for p in fixtures/captures-underlay/*.pcap; do
    n=underlay.$(basename "$p" .pcap)
    analyze_all "$n" "$p"
    for c in fixtures/cluster-underlay/*.json; do
        case $c in */pods.json | */nodes.json) continue ;; esac
        # shellcheck disable=SC2086
        analyze_all "$n.$(basename "$c" .json)" "$p" $ucluster \
            --cluster-config "$c" --compliance pci-dss-4.0.1,hipaa
    done
done
for e in fixtures/events/*.ndjson fixtures/captures-underlay/*.ndjson; do
    for f in $formats; do
        # shellcheck disable=SC2086
        run "events.$(basename "$e" .ndjson).$f" analyze -o "$f" --now "$now" \
            --events "$e" $cluster
    done
done

# Several captures merged, then `report` and `diff` on the saved reports.
# shellcheck disable=SC2086
run merged.json analyze -o json --now "$now" $cluster --fail-on medium \
    fixtures/captures/openssl-tls12-server-only.pcap \
    fixtures/captures/nginx-http-plaintext-80.pcap \
    fixtures/captures/openssl-tls13-mutual.pcap
run base.json analyze -o json --now "$now" fixtures/captures/nginx-http-plaintext-80.pcap
# Saved reports are named relative to $out: their paths appear in messages.
out_abs=$(realpath "$out")
(
    cd "$out"
    out=.
    for f in $formats; do
        run "report.$f" report -o "$f" merged.json.out
        run "report.compliance.$f" report -o "$f" --compliance pci-dss-4.0.1,hipaa \
            --fail-on low --baseline base.json.out merged.json.out
    done
    for f in table json markdown; do
        run "diff.$f" diff -o "$f" base.json.out merged.json.out
    done
)
run rules rules
run policy.default policy --default
run policy.check policy --check src/verify/default-policy.yaml

if [ -n "$compare" ]; then
    diff -r "$compare" "$out"
    echo "output-snapshot: $(find "$out" -type f | wc -l) files in $out_abs identical to $compare"
else
    echo "output-snapshot: $(find "$out" -type f | wc -l) files in $out"
fi
