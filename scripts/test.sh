#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what the tests need when it
# is missing, then builds once (debug profile) and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo fmt --all -- --check
cargo test --locked
# External conformance: SPIFFE's X509-SVID vectors served on the wire, judged
# from the debug binary cargo test built (skips without ../shared or root).
bash scripts/conformance-spiffe.sh target/debug/tls-audit
# The Dockerfile: linted, and its steps run without a Docker engine
# (scripts/dockerfile-steps.py; reuses the dev build above).
if command -v hadolint >/dev/null 2>&1; then
  hadolint Dockerfile
else
  echo "NOTICE: hadolint not installed; Dockerfile lint skipped" >&2
fi
python3 scripts/dockerfile-steps.py
