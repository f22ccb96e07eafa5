#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what the tests need when it
# is missing, then builds once (debug profile) and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo fmt --all -- --check
# Lab peers for the key-exchange test (tests/integration/kex.rs): rustls on
# aws-lc-rs (post-quantum hybrids), a separate Cargo project so aws-lc-rs
# stays out of tls-audit's own build; and Go's crypto/tls.
CARGO_TARGET_DIR=target cargo build --locked --manifest-path tests/lab/pq-peer/Cargo.toml ||
  echo "NOTICE: tests/lab/pq-peer did not build; the key-exchange lab will be skipped" >&2
if command -v go >/dev/null 2>&1; then
  (cd tests/lab/go-peer && GOFLAGS=-mod=mod go build -o ../../../target/debug/tlsa-go-peer .) ||
    echo "NOTICE: tests/lab/go-peer did not build; the key-exchange lab will be skipped" >&2
fi
cargo test --locked
# The Dockerfile: linted, and its steps run without a Docker engine
# (scripts/dockerfile-steps.py; reuses the dev build above).
if command -v hadolint >/dev/null 2>&1; then
  hadolint Dockerfile
else
  echo "NOTICE: hadolint not installed; Dockerfile lint skipped" >&2
fi
python3 scripts/dockerfile-steps.py
