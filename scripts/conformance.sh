#!/usr/bin/env bash
# External conformance suites from ../shared/conformance (read there, never
# copied: the Wireshark captures are GPL-2.0+), run against a built binary.
# Prints each suite's figure; fails when a suite falls below its floor (the
# figure last reached, raised as the product improves), so a regression is
# a red run. Skips with a notice when ../shared is absent.
#
#   scripts/conformance.sh target/debug/tls-audit
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:?usage: scripts/conformance.sh path/to/tls-audit}
shared=../shared/conformance

# Wireshark's own TLS captures against tshark's facts. Out of scope (see
# the README's limits): none left once the pcapng secrets-block, draft and
# DTLS-version fixes land; until then the floor is what main reaches.
WIRESHARK_FLOOR=1101

if [ ! -d "$shared/wireshark" ]; then
  echo "NOTICE: $shared/wireshark absent; Wireshark conformance skipped" >&2
else
  out=$(python3 "$shared/wireshark/check.py" "$bin" "$shared/wireshark" || true)
  echo "$out" | grep -E '^(FAIL) ' || true
  figure=$(echo "$out" | grep -E '^wireshark: [0-9]+/[0-9]+ fields$' || true)
  if [ -z "$figure" ]; then
    echo "$out" | tail -20
    echo "conformance: the Wireshark check printed no figure" >&2
    exit 1
  fi
  echo "$figure"
  got=$(echo "$figure" | sed -E 's/^wireshark: ([0-9]+)\/.*/\1/')
  if [ "$got" -lt "$WIRESHARK_FLOOR" ]; then
    echo "conformance: wireshark $got fields agree, below the floor of $WIRESHARK_FLOOR" >&2
    exit 1
  fi
fi
