#!/usr/bin/env bash
# Build the agent image from the Dockerfile with a real container engine and
# run it as probes/ runs it. No registry and no Docker daemon are needed:
#
#   base     `debootstrap --variant=minbase bookworm` (Debian's mirror), the
#            root filesystem cached as a tarball in $TLSA_IMAGE_CACHE
#            (/var/cache/tls-audit) and imported with `podman import`
#   build    `buildah bud --isolation chroot` with BASE_IMAGE= that base and
#            BINARY_FROM=prebuilt: the binary is this tree's dev build
#            (`cargo build`, already done by the test suite), so the
#            Dockerfile's runtime stage runs for real; its build stage is the
#            one scripts/dockerfile-steps.py replays (a release build inside
#            the image would double CI's build time; IMAGE_BINARY=release
#            puts target/release/tls-audit in the image instead)
#   run      `podman run --runtime runc`, with a containers.conf that sets
#            `default_ulimits = []` and `cgroup_manager = "cgroupfs"` (crun
#            fails here on hybrid cgroups and on raising RLIMIT_NPROC), in a
#            network namespace made here, while OpenSSL runs a mutual-TLS
#            handshake on its loopback:
#              1. as the manifests run it (UID 0, --cap-drop ALL --cap-add
#                 NET_RAW, --read-only, no-new-privileges): the agent must
#                 report that flow as TLS 1.2 with mutual TLS observed;
#              2. as the image's non-root user with the file capability
#                 (--cap-drop ALL --cap-add NET_RAW --read-only): the same;
#              3. that user without NET_RAW, and with no-new-privileges
#                 (which disables file capabilities): it must refuse to
#                 capture with exit 3, so 1 and 2 show the privileges are
#                 what grants capture.
#
#   scripts/image-test.sh              (root; needs buildah podman runc debootstrap)
#
# Exits 0 with a NOTICE when a tool is missing outside CI; in CI (CI=true)
# that is a failure. It makes a network namespace (tlsa-install-img-PID):
# on a shared machine run it as the other namespace tests are run,
# under `flock /tmp/tlsa-netns.lock`.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

say() { echo "image-test: $*" >&2; }
fail() { echo "image-test: FAIL: $*" >&2; exit 1; }

missing=()
for t in buildah podman runc debootstrap openssl ip python3; do
  command -v "$t" >/dev/null 2>&1 || missing+=("$t")
done
if [ ${#missing[@]} -gt 0 ] || [ "$(id -u)" -ne 0 ]; then
  why="missing: ${missing[*]:-}; uid $(id -u)"
  [ "${CI:-}" = "true" ] && fail "cannot build the image ($why; scripts/install-deps.sh installs the tools, and it runs as root)"
  echo "NOTICE: image-test skipped ($why)" >&2
  exit 0
fi

cache=${TLSA_IMAGE_CACHE:-/var/cache/tls-audit}
base=localhost/tls-audit-base:bookworm-minbase
image=localhost/tls-audit:image-test
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
work=$(mktemp -d /tmp/tlsa-image-test.XXXXXX)
ns=tlsa-install-img-$$
cleanup() {
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# podman's and buildah's settings for this machine, not the system's.
cat > "$work/containers.conf" <<'EOF'
[containers]
default_ulimits = []

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
EOF
export CONTAINERS_CONF=$work/containers.conf

# 1. The base image: a minimal Debian bookworm, debootstrapped once.
tarball=$cache/debian-bookworm-minbase.tar.gz
if ! podman image exists "$base"; then
  if [ ! -s "$tarball" ]; then
    say "debootstrap --variant=minbase bookworm (once; cached in $cache)"
    mkdir -p "$cache"
    t0=$SECONDS
    debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" > "$work/debootstrap.log" 2>&1 ||
      { tail -20 "$work/debootstrap.log" >&2; fail "debootstrap failed"; }
    # The suite's security and update sources, as Debian's own images have.
    cat > "$work/rootfs/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb ${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security} bookworm-security main
EOF
    rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"*
    tar -C "$work/rootfs" -czf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
    rm -rf "$work/rootfs"
    say "base root filesystem made in $((SECONDS - t0)) s ($(du -h "$tarball" | cut -f1))"
  fi
  podman import --quiet "$tarball" "$base" >/dev/null
  say "imported $tarball as $base"
fi

# 2. The image, from the Dockerfile, with this tree's binary.
arch=$(podman info --format '{{.Host.Arch}}')
profile=${IMAGE_BINARY:-debug}
case "$profile" in
  debug) cargo build --locked --quiet --bin tls-audit ;;
  release) cargo build --release --locked --quiet --bin tls-audit ;;
  *) fail "IMAGE_BINARY must be debug or release" ;;
esac
mkdir -p "dist/linux-$arch"
cp "target/$profile/tls-audit" "dist/linux-$arch/tls-audit"
strip "dist/linux-$arch/tls-audit"
say "buildah bud (BASE_IMAGE=$base, BINARY_FROM=prebuilt: target/$profile/tls-audit)"
t0=$SECONDS
buildah bud --quiet --isolation chroot --layers \
  --build-arg BASE_IMAGE="$base" --build-arg BINARY_FROM=prebuilt --build-arg TARGETARCH="$arch" \
  -t "$image" -f Dockerfile . > "$work/build.log" 2>&1 ||
  { tail -30 "$work/build.log" >&2; fail "buildah bud failed"; }
say "image built in $((SECONDS - t0)) s: $(podman image inspect --format '{{.Size}}' "$image" | numfmt --to=iec)"

# The image's own settings, as the Dockerfile promises them.
podman image inspect "$image" > "$work/inspect.json"
python3 - "$work/inspect.json" <<'EOF' || fail "image settings"
import json, sys
img = json.load(open(sys.argv[1]))[0]
cfg = img["Config"]
want = {"User": "65532:65532", "Entrypoint": ["/usr/local/bin/tls-audit"], "Cmd": ["--help"]}
for k, v in want.items():
    if cfg.get(k) != v:
        sys.exit(f"{k} is {cfg.get(k)!r}, want {v!r}")
labels = cfg.get("Labels") or {}
for k in ("org.opencontainers.image.title", "org.opencontainers.image.source", "org.opencontainers.image.licenses", "org.opencontainers.image.version"):
    if not labels.get(k):
        sys.exit(f"missing label {k}")
if labels["org.opencontainers.image.licenses"] != "Apache-2.0":
    sys.exit("licence label")
EOF
run=(podman run --rm --runtime runc)
# libcap2-bin is purged from the image: read the binary's capability from
# the image's file system with the host's getcap.
mnt=$(podman image mount "$image")
caps=$(getcap "$mnt/usr/local/bin/tls-audit" || true)
podman image unmount "$image" >/dev/null
case "$caps" in
  *cap_net_raw*) say "file capability: ${caps##* }" ;;
  *) fail "/usr/local/bin/tls-audit has no cap_net_raw file capability ('$caps')" ;;
esac
"${run[@]}" "$image" --version > "$work/version" || fail "the image's entrypoint does not run"
say "runs: $(cat "$work/version")"

# 3. Capture in a network namespace, under the manifests' privileges.
ip netns add "$ns"
ip netns exec "$ns" ip link set lo up
pki=$repo/fixtures/pki

# One mutual-TLS 1.2 handshake across the namespace's loopback while the
# agent in the container captures `lo`; its events on stdout. The podman
# options come first, then `--` and what follows the image name (by default
# the image's entrypoint takes `capture ...`).
capture() { # NAME podman-options... [-- words before `capture`]
  local name=$1; shift
  local opts=() pre=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do opts+=("$1"); shift; done
  [ $# -gt 0 ] && { shift; pre=("$@"); }
  local out=$work/$name.ndjson err=$work/$name.err
  "${run[@]}" --network "ns:/run/netns/$ns" "${opts[@]}" "$image" "${pre[@]}" \
    capture -i lo --duration 6s --emit ndjson > "$out" 2> "$err" &
  local pid=$!
  for _ in $(seq 1 150); do
    grep -q '"event":"start"' "$out" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if grep -q '"event":"start"' "$out"; then
    ip netns exec "$ns" openssl s_server -quiet -naccept 1 -accept 127.0.0.1:8443 \
      -cert "$pki/server.crt" -key "$pki/server.key" -cert_chain "$pki/intermediate-ca.crt" \
      -Verify 2 -CAfile "$pki/ca-bundle.pem" -tls1_2 </dev/null >/dev/null 2>&1 &
    local srv=$!
    sleep 0.5
    ip netns exec "$ns" openssl s_client -connect 127.0.0.1:8443 -servername image-test.local \
      -cert "$pki/client.crt" -key "$pki/client.key" -cert_chain "$pki/intermediate-ca.crt" \
      -tls1_2 </dev/null >/dev/null 2>&1 || true
    wait "$srv" 2>/dev/null || true
  fi
  local rc=0
  wait "$pid" || rc=$?
  echo "$rc" > "$work/$name.rc"
}

check_flow() { # NAME WHO
  local name=$1 who=$2 rc
  rc=$(cat "$work/$name.rc")
  [ "$rc" = 0 ] || fail "$who: the agent exited $rc: $(tail -3 "$work/$name.err")"
  python3 - "$work/$name.ndjson" <<'PY' || fail "$who: $(head -c 600 "$work/$name.ndjson")"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
kinds = [e["event"] for e in ev]
assert kinds[0] == "start" and kinds[-1] == "summary", kinds
flows = [e["flow"] for e in ev if e["event"] == "flow" and e["flow"]["server"]["port"] == 8443]
assert len(flows) == 1, f"{len(flows)} flows to 8443"
tls = flows[0]["tls"]
assert flows[0]["protection"] == "tls", flows[0]["protection"]
assert tls["version"] == "TLS1.2" and tls["sni"] == "image-test.local", (tls["version"], tls["sni"])
assert tls["mutual"] is True and tls["mutual_evidence"] == "observed-client-certificate", (tls["mutual"], tls["mutual_evidence"])
PY
  say "ok: $who: captured the handshake (TLS1.2, SNI image-test.local, mutual TLS observed)"
}

# The capture could not start: want exit WANT and WORDS on standard error.
check_refused() { # NAME WHO WANT WORDS
  local name=$1 who=$2 want=$3 words=$4 rc
  rc=$(cat "$work/$name.rc")
  [ "$rc" = "$want" ] || fail "$who: want exit $want, got $rc: $(tail -3 "$work/$name.err")"
  grep -qi "$words" "$work/$name.err" || fail "$who: standard error does not say '$words': $(cat "$work/$name.err")"
  ! grep -q '"event":"flow"' "$work/$name.ndjson" || fail "$who: captured a flow"
  say "ok: $who: refused (exit $rc, '$words')"
}

ro=(--cap-drop ALL --read-only --read-only-tmpfs=false)
# As probes/*.yaml: runAsUser 0, drop ALL, add NET_RAW, readOnlyRootFilesystem
# (Kubernetes mounts no tmpfs), allowPrivilegeEscalation false (no_new_privs).
capture as-manifests "${ro[@]}" --cap-add NET_RAW --user 0:0 --security-opt no-new-privileges
check_flow as-manifests "UID 0, NET_RAW only, read-only, no-new-privileges (the manifests)"

# As the image's user 65532. podman gives a non-root user the added
# capabilities as ambient ones, which Kubernetes does not
# (kubernetes/kubernetes#56374); setpriv drops them (and the inheritable
# set) before the binary starts, so only its file capability can grant
# NET_RAW.
filecap=(--entrypoint /usr/bin/setpriv)
nonamb=(--inh-caps=-all --ambient-caps=-all --)
capture as-user "${ro[@]}" --cap-add NET_RAW "${filecap[@]}" -- "${nonamb[@]}" /usr/local/bin/tls-audit
check_flow as-user "user 65532, NET_RAW only, no ambient capabilities (the file capability)"

capture as-user-nnp "${ro[@]}" --cap-add NET_RAW --security-opt no-new-privileges "${filecap[@]}" \
  -- "${nonamb[@]}" /usr/local/bin/tls-audit
check_flow as-user-nnp "user 65532 as above, with no-new-privileges (runc)"

# The same user and privileges running a copy of the binary without the
# file capability (cp drops it) must not capture: it is the file capability
# that grants it, and the agent says what is missing.
# shellcheck disable=SC2016
capture no-filecap --cap-drop ALL --cap-add NET_RAW --read-only --tmpfs /tmp:rw,exec,size=512m \
  --entrypoint /bin/sh -- -c 'cp /usr/local/bin/tls-audit /tmp/t && exec setpriv --inh-caps=-all --ambient-caps=-all -- /tmp/t "$@"' sh
check_refused no-filecap "user 65532, a copy without the file capability" 3 CAP_NET_RAW

# Without NET_RAW in the bounding set the kernel refuses to start the binary
# at all (its capability is "+ep": the effective bit makes execve fail when
# the capability cannot be granted), whatever the subcommand.
capture no-net-raw "${ro[@]}"
check_refused no-net-raw "user 65532 without NET_RAW" 1 "operation not permitted"

# Earlier builds of the test image, untagged by this one.
podman image prune -f --filter label=org.opencontainers.image.title=tls-audit >/dev/null 2>&1 || true
say "ok: image $image built from the Dockerfile and captured as the manifests run it"
