#!/usr/bin/env bash
# Pack a release archive: the two binaries (`tls-audit`, and
# `kubectl-tls_audit`, the same program under the name kubectl looks for),
# LICENSE, NOTICE and README.md, flat, so that the extracted directory can
# go on PATH as it is: it holds no other file named kubectl-* (a build
# directory does: target/release/kubectl-tls_audit.d makes `kubectl plugin
# list` exit 1).
#
#   scripts/release-archive.sh VERSION PLATFORM BIN_DIR OUT_DIR
#   scripts/release-archive.sh v0.1.0 linux-amd64 target/release dist
#
# Writes OUT_DIR/tls-audit-VERSION-PLATFORM.tar.gz (reproducible: sorted
# names, fixed owner and times) and prints its path.
set -euo pipefail
[ $# -eq 4 ] || { sed -n '2,12p' "$0" >&2; exit 2; }
version=$1 platform=$2 bin_dir=$3 out_dir=$4
repo=$(cd "$(dirname "$0")/.." && pwd)
case "$version" in v[0-9]*) ;; *) echo "release-archive: VERSION must look like v1.2.3, not '$version'" >&2; exit 2 ;; esac
case "$platform" in linux-amd64|linux-arm64) ;; *) echo "release-archive: PLATFORM must be linux-amd64 or linux-arm64" >&2; exit 2 ;; esac

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
for b in tls-audit kubectl-tls_audit; do
  [ -x "$bin_dir/$b" ] || { echo "release-archive: $bin_dir/$b missing (cargo build --release)" >&2; exit 1; }
  install -m 0755 "$bin_dir/$b" "$stage/$b"
  strip "$stage/$b" 2>/dev/null || true
done
for f in LICENSE NOTICE README.md; do install -m 0644 "$repo/$f" "$stage/$f"; done

mkdir -p "$out_dir"
archive=$out_dir/tls-audit-$version-$platform.tar.gz
# SOURCE_DATE_EPOCH (the tagged commit's time in the release workflow) or 0.
mtime=@${SOURCE_DATE_EPOCH:-0}
tar -C "$stage" --sort=name --owner=0 --group=0 --numeric-owner --mtime="$mtime" \
  -cf - kubectl-tls_audit tls-audit LICENSE NOTICE README.md | gzip -n -9 > "$archive.tmp"
mv "$archive.tmp" "$archive"
echo "$archive"
