//! tls-audit: decide from the wire whether traffic is encrypted, and how well.
//!
//! The modules follow the path of the data:
//!
//! `capture` (pcap/pcapng records) → `decode` (link, IP, TCP/UDP, underlay
//! recognition) → `flow` (bidirectional flow table, bounded TCP reassembly) →
//! `tls` (records, handshake messages, per-flow TLS state) / `plaintext`
//! (naming cleartext protocols) → `x509` (certificate facts); `engine` ties
//! them together and writes flows in the `model` (the `tls-audit/report/v1`
//! types, the rule and control catalogues, the report's time format).
//! `verify` turns the facts into findings under a policy, naming pods from
//! an `inventory` (a cluster snapshot); `compliance` evaluates the PCI DSS
//! and HIPAA views; `report` renders a finished report.
//!
//! `enrich` (opt-in) sits between the engine and `verify`: for flows whose
//! handshake hid the certificates it asks each server (a handshake that
//! mirrors the captured one, and a second that checks the answer), and
//! attaches the chain with its provenance; the agent does the same as it
//! captures.
//! `coverage` decides whether a plaintext flow is still encrypted underneath
//! (Nitro, WireGuard, IPsec, Weave); `verify` applies it to plaintext
//! findings.
//!
//! Around the engine: `live` is the capture agent (libpcap into the engine,
//! NDJSON events, metrics); `cluster` is the Kubernetes side of `kubectl
//! tls-audit pod` (the agent as an ephemeral container, its log replayed,
//! the cluster's pods, Services, nodes and CNI settings); `probe` asks
//! endpoints directly (rustls handshakes, hand-built legacy ClientHellos,
//! plaintext requests) and hands its records to the same `verify`. `audit`
//! is the façade every report-writing command goes through: inputs and
//! options in, a verified and annotated report and its status out, or one
//! `AuditError`. `cli` is the command-line edge: arguments into `audit`
//! calls, reports rendered, errors and status mapped to exit codes.
//!
//! ## Layers
//!
//! A module imports (`crate::…`) only modules of lower layers, never one of
//! its own layer or above: no cycles, and the model at the bottom is shared
//! by everything above it. `tests/integration/layers.rs` reads this table
//! and every `crate::` path under `src/`, and fails on an upward import.
//! Old paths kept as re-exports (`report::model`, `verify::rules`, ...)
//! are for users of the library; code inside names the module that owns
//! the item.
//!
//! | layer | modules |
//! |------:|---------|
//! | 0 | `hex` |
//! | 1 | `capture`, `x509`, `plaintext` |
//! | 2 | `model` |
//! | 3 | `decode`, `flow`, `tls` |
//! | 4 | `engine` |
//! | 5 | `inventory` |
//! | 6 | `coverage` |
//! | 7 | `verify`, `compliance` |
//! | 8 | `report` |
//! | 9 | `probe` |
//! | 10 | `enrich`, `live` |
//! | 11 | `cluster` |
//! | 12 | `audit` |
//! | 13 | `cli` |
//!
//! tls-audit keeps handshake metadata only. Application payload is never
//! stored or printed: after a flow's handshake is decided its bytes are only
//! counted.
// Lint policy is Cargo.toml's [lints] table: unsafe code is denied
// everywhere but `live::sys` (two libpcap/libc calls the pcap crate does
// not wrap); unwrap, expect and panic outside tests are denied.
#![warn(missing_docs)]

pub mod audit;
pub mod capture;
pub mod cli;
pub mod cluster;
pub mod compliance;
pub mod coverage;
pub mod decode;
pub mod engine;
pub mod enrich;
pub mod flow;
pub mod hex;
pub mod inventory;
pub mod live;
pub mod model;
pub mod plaintext;
pub mod probe;
pub mod report;
pub mod tls;
pub mod verify;
pub mod x509;
