#!/usr/bin/env bash
# Install what tls-audit's build, demo and tests need on Debian, skipping
# what is already there. Safe to run repeatedly; needs root (or sudo) only
# when something is missing.
set -euo pipefail

packages=(
  build-essential pkg-config libpcap-dev   # build (libpcap for live capture)
  tshark tcpdump                            # oracle and capture peers
  openssl gnutls-bin nginx-light curl       # real TLS stacks in the tests
  iproute2 ethtool procps                   # network namespaces for the tests
  python3 python3-cryptography python3-jsonschema  # oracle script, schema check
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; the default (no) is fine.
echo "wireshark-common wireshark-common/install-setuid boolean false" | $sudo debconf-set-selections 2>/dev/null || true
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
