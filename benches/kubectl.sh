#!/usr/bin/env bash
# The kubectl plugin's own overhead against the fake API server
# (tests/integration/fake_api.rs), for a 6-pod and a 5,006-pod cluster,
# beside the real kubectl listing the same pods in the same run:
#
#   benches/kubectl.sh
#
# Runs the ignored test `kubectl::bench_plugin_overhead` (debug build, the
# test profile, like the rest of the suite: the plugin and the fake server
# are both debug code, so the ratio to kubectl, a release Go binary, is what
# to read, not the seconds). Prints `kubectl-bench:` lines; asserts nothing
# about time.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo test --locked --test integration -- --ignored bench_plugin_overhead --nocapture 2>&1 |
    grep -E '^kubectl-bench:|test result'
