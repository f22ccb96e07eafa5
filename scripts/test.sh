#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what the tests need when it
# is missing, then builds once (debug profile) and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo fmt --all -- --check
cargo test --locked
# External conformance suites (../shared/conformance), on the binary cargo
# test just built; each prints its figure and fails below its floor.
bash scripts/conformance.sh target/debug/tls-audit
# The Dockerfile: linted, and its steps run without a Docker engine
# (scripts/dockerfile-steps.py; reuses the dev build above).
if command -v hadolint >/dev/null 2>&1; then
  hadolint Dockerfile
else
  echo "NOTICE: hadolint not installed; Dockerfile lint skipped" >&2
fi
python3 scripts/dockerfile-steps.py
