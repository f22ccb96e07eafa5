# tls-audit: the analysis engine and (later) the in-cluster capture agent.
#
#   docker build -t tls-audit .
#   docker run --rm -v "$PWD:/data:ro" tls-audit analyze /data/capture.pcap
#
# Build stage: the Rust toolchain and libpcap headers (for live capture).
FROM rust:1-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpcap-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependencies first, so source edits do not rebuild them.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src/bin \
 && echo 'fn main() {}' > src/bin/tls-audit.rs \
 && touch src/lib.rs \
 && cargo fetch --locked
COPY src ./src
RUN cargo build --release --locked --bin tls-audit \
 && strip target/release/tls-audit

# Runtime stage: the binary, libpcap, nothing else; a non-root user by default.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpcap0.8 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 65532 --no-create-home --shell /usr/sbin/nologin tls-audit
COPY --from=build /src/target/release/tls-audit /usr/local/bin/tls-audit
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/tls-audit"]
CMD ["--help"]
