#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what the tests need when it
# is missing, then builds once (debug profile) and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo fmt --all -- --check
cargo test --locked
