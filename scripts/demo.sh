#!/usr/bin/env bash
# From a fresh clone to a first report: build tls-audit (release) and run it
# on captures shipped in fixtures/, with the cluster snapshot taken at the
# time (fixtures/cluster). Prints a table and writes a JSON report.
#
#   scripts/demo.sh [REPORT.json]
#
# Needs Rust (cargo) and, on Debian or Ubuntu, three packages, which it
# installs with apt-get when they are missing (as root, or through sudo):
# build-essential (the C compiler and linker), pkg-config and libpcap-dev
# (libpcap, for live capture). Nothing else: the test suite's tools are
# scripts/install-deps.sh's business (scripts/test.sh runs it).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
report=${1:-tls-audit-report.json}

command -v cargo >/dev/null 2>&1 || {
  echo "demo: cargo not found: install Rust first (rustup, or your distribution's rust toolchain 1.89 or later)" >&2
  exit 1
}

packages=(build-essential pkg-config libpcap-dev)
if command -v dpkg-query >/dev/null 2>&1; then
  missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "demo: installing ${missing[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
elif ! pkg-config --exists libpcap 2>/dev/null; then
  echo "demo: not Debian: install a C toolchain, pkg-config and libpcap's headers (libpcap-devel, libpcap-dev) first" >&2
fi

echo "demo: cargo build --release (the first build compiles every dependency: minutes)" >&2
build_start=$SECONDS
cargo build --release --locked --bin tls-audit
build=$((SECONDS - build_start))

captures=(
  fixtures/captures/openssl-tls13-mutual.pcap
  fixtures/captures/openssl-tls13-server-only.pcap
  fixtures/captures/openssl-tls12-mutual.pcap
  fixtures/captures/openssl-tls12-resumption.pcap
  fixtures/captures/nginx-http-plaintext-443.pcap
)
cluster=(--pods fixtures/cluster/pods.json --nodes fixtures/cluster/nodes.json)
./target/release/tls-audit analyze "${captures[@]}" "${cluster[@]}" -o table
./target/release/tls-audit analyze "${captures[@]}" "${cluster[@]}" -o json --out-file "$report"
echo >&2
echo "demo: report in $report; $((SECONDS - start)) s in all, of which $build s building" >&2
