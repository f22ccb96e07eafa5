#!/usr/bin/env bash
# External conformance suites from ../shared/conformance (read there, never
# copied: the Wireshark captures are GPL-2.0+), run against a built binary.
# Prints each suite's figure; fails when a suite falls below its floor (the
# figure last reached, raised as the product improves; for SPIFFE, every
# vector), so a regression is a red run. Skips with a notice when ../shared
# is absent (and the SPIFFE suite when not root: it needs namespaces).
#
#   scripts/conformance.sh target/debug/tls-audit
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:?usage: scripts/conformance.sh path/to/tls-audit}
shared=../shared/conformance

# Wireshark's own TLS captures against tshark's facts: every field agrees
# (pcapng secrets-block types, TLS 1.3 draft 18-24 decryption and OpenSSL's
# pre-standard DTLS were the last differences).
WIRESHARK_FLOOR=1114

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

# SPIFFE's X509-SVID / SPIFFE-ID vectors (go-spiffe, rust-spiffe, the spec
# text) served with openssl between two network namespaces (fixed names
# sv-srv/sv-cli: one run per machine at a time; callers that share the
# machine hold /tmp/tlsa-netns.lock around the whole script, so it takes no
# lock itself, which would deadlock under theirs). check.sh
# exits 0 only when every representable vector passes: the target is all.
if [ ! -d "$shared/spiffe" ]; then
  echo "NOTICE: $shared/spiffe absent; SPIFFE conformance skipped" >&2
elif [ "$(id -u)" != 0 ]; then
  echo "NOTICE: not root (network namespaces); SPIFFE conformance skipped" >&2
else
  rc=0
  out=$(bash "$shared/spiffe/check.sh" "$bin" 2>&1) || rc=$?
  echo "$out" | grep -E '^FAIL ' || true
  figure=$(echo "$out" | grep -E '^svid: [0-9]+/[0-9]+$' || true)
  if [ -z "$figure" ]; then
    echo "$out" | tail -20
    echo "conformance: the SPIFFE check printed no figure (exit $rc)" >&2
    exit 1
  fi
  echo "$figure"
  if [ "$rc" -ne 0 ]; then
    echo "conformance: SPIFFE vectors failed (exit $rc)" >&2
    exit 1
  fi
fi
