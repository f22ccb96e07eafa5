#!/usr/bin/env bash
# The SPIFFE X509-SVID / SPIFFE-ID conformance vectors
# (../shared/conformance/spiffe, served on the wire between two network
# namespaces) against a tls-audit binary; run by scripts/test.sh after
# `cargo test` with the debug binary it built.
#
# Usage: scripts/conformance-spiffe.sh [BIN]   (default target/debug/tls-audit)
#
# Skips with a notice (exit 0) when ../shared/conformance/spiffe is absent or
# the machine cannot create network namespaces (not root). Otherwise prints
# check.sh's figure (`svid: P/N`) and fails when any representable vector
# fails: the suite's target is all of them (see docs/rules/TA-CHAIN.md and
# TA-SVID-INVALID.md for the rules it exercises).
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-target/debug/tls-audit}
SUITE=../shared/conformance/spiffe
if [ ! -f "$SUITE/check.sh" ]; then
  echo "NOTICE: $SUITE absent; SPIFFE conformance skipped" >&2
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "NOTICE: not root (network namespaces); SPIFFE conformance skipped" >&2
  exit 0
fi
if [ ! -x "$BIN" ]; then
  echo "conformance-spiffe: $BIN not built" >&2
  exit 1
fi
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
# Namespaces sv-srv/sv-cli have fixed names: one run at a time per machine.
flock /tmp/tlsa-netns.lock bash "$SUITE/check.sh" "$BIN" >"$OUT" 2>&1
rc=$?
grep -E '^(FAIL|ERROR)' "$OUT" || true
figure=$(grep -E '^svid: [0-9]+/[0-9]+' "$OUT" | tail -1)
if [ -z "$figure" ]; then
  echo "conformance-spiffe: check.sh gave no figure (exit $rc); its output:" >&2
  tail -20 "$OUT" >&2
  exit 1
fi
echo "SPIFFE conformance: $figure"
passed=${figure#svid: }
passed=${passed%%/*}
total=${figure##*/}
total=${total%% *}
if [ "$rc" -ne 0 ] || [ "$passed" -ne "$total" ]; then
  echo "conformance-spiffe: $((total - passed)) vector(s) failed (exit $rc)" >&2
  exit 1
fi
