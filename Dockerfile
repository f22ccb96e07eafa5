# tls-audit: the analysis engine and the in-cluster capture agent
# (probes/ runs this image as an ephemeral container, sidecar or DaemonSet).
#
#   docker build -t tls-audit .
#   docker run --rm -v "$PWD:/data:ro" tls-audit analyze /data/capture.pcap
#   docker run --rm --net=host --cap-drop ALL --cap-add NET_RAW tls-audit capture -i eth0 --duration 30s
#
# The binary carries the cap_net_raw file capability (+ep), so it starts
# only where NET_RAW is in the container's bounding set (Docker's default
# set has it): with --cap-drop ALL, add NET_RAW back even to `analyze`.
#
# Build arguments (all optional):
#   RUST_IMAGE   the build stage's image (rust:1.95-bookworm)
#   BASE_IMAGE   the runtime image (debian:bookworm-slim); any Debian
#                bookworm root filesystem will do: scripts/image-test.sh
#                builds on a local `debootstrap --variant=minbase bookworm`
#   BINARY_FROM  `build` (default): compile in the build stage; `prebuilt`:
#                take an already built binary from the build context at
#                dist/linux-$TARGETARCH/tls-audit (the release workflow's
#                per-architecture builds; the test's debug build)
#
# scripts/image-test.sh (in the test command) builds this file with buildah
# and runs the image with podman and runc as probes/ runs it.

ARG RUST_IMAGE=rust:1.95-bookworm
ARG BASE_IMAGE=debian:bookworm-slim
ARG BINARY_FROM=build

# Build stage: the Rust toolchain and libpcap headers (for live capture).
FROM ${RUST_IMAGE} AS build
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpcap-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependencies first, so source edits do not rebuild them. Cargo needs every
# target the manifest names to exist, hence the stubs.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src/bin tests/integration \
 && echo 'fn main() {}' > src/bin/tls-audit.rs \
 && echo 'fn main() {}' > src/bin/kubectl-tls_audit.rs \
 && touch src/lib.rs tests/integration/main.rs \
 && cargo fetch --locked
COPY src ./src
COPY reports ./reports
COPY probes ./probes
RUN cargo build --release --locked --bin tls-audit \
 && strip target/release/tls-audit \
 && mkdir -p /out \
 && cp target/release/tls-audit /out/tls-audit

# Or a binary built beforehand, from the build context.
FROM scratch AS prebuilt
ARG TARGETARCH
COPY dist/linux-${TARGETARCH}/tls-audit /out/tls-audit

# hadolint ignore=DL3006
FROM ${BINARY_FROM} AS binary

# Runtime stage: the binary and libpcap. The default user is not root; the
# binary carries the cap_net_raw file capability so that user can capture
# where the runtime grants NET_RAW (docker run --cap-add NET_RAW). The
# Kubernetes manifests run it as UID 0 with every capability but NET_RAW
# dropped instead (probes/README.md says why).
# hadolint ignore=DL3006
FROM ${BASE_IMAGE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="tls-audit" \
      org.opencontainers.image.description="Transit-encryption auditor for Kubernetes: TLS, mutual TLS and certificates from the wire" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/tls-audit/tls-audit"
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpcap0.8 ca-certificates libcap2-bin \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 65532 --no-create-home --shell /usr/sbin/nologin tls-audit
COPY LICENSE NOTICE /usr/share/doc/tls-audit/
COPY --from=binary /out/tls-audit /usr/local/bin/tls-audit
RUN setcap cap_net_raw+ep /usr/local/bin/tls-audit \
 && apt-get purge -y libcap2-bin
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/tls-audit"]
CMD ["--help"]
