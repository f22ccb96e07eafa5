#!/usr/bin/env bash
# Run tls-audit on captures shipped in fixtures/, with the cluster snapshot
# taken at the time (fixtures/cluster), and write a JSON report.
#   scripts/demo.sh [REPORT.json]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
report=${1:-tls-audit-report.json}
captures=(
  fixtures/captures/openssl-tls13-mutual.pcap
  fixtures/captures/openssl-tls13-server-only.pcap
  fixtures/captures/openssl-tls12-mutual.pcap
  fixtures/captures/openssl-tls12-resumption.pcap
  fixtures/captures/nginx-http-plaintext-443.pcap
)
cluster=(--pods fixtures/cluster/pods.json --nodes fixtures/cluster/nodes.json)
cargo build --quiet --locked
./target/debug/tls-audit analyze "${captures[@]}" "${cluster[@]}" -o table
./target/debug/tls-audit analyze "${captures[@]}" "${cluster[@]}" -o json --out-file "$report"
