//! Live capture: the in-cluster agent's sniffer. libpcap delivers packets
//! from an interface (the pod's `eth0` from an ephemeral container or a
//! sidecar, or `any` on a node) straight into the engine; nothing is
//! uploaded into the target container and no payload leaves the process.
//!
//! A blocking libpcap read never returns on an idle interface (its timeout
//! only starts with the first packet on Linux), so the handle is put in
//! non-blocking mode and waited on with `poll(2)` against the deadline and
//! the stop flag: `--duration` ends on time, SIGTERM ends at once, and what
//! the kernel had buffered is still read before the summary.

mod events;
mod metrics;
mod source;
mod sys;

pub use events::{EVENT_SCHEMA, EventError, EventSink, Flows, Replayed, read_events};
pub use metrics::{Metrics, MetricsServer, MetricsSink, serve_metrics};
pub use source::{LiveHandle, LiveOptions, LiveOutcome, Progress, StopReason, open, run};

/// Now, on the same clock as packet timestamps (ns since the Unix epoch).
pub fn wall_clock() -> crate::capture::Nanos {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// Why a live capture could not start or go on.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// The interface does not exist.
    #[error("no interface named {name:?} here (interfaces: {available})")]
    NoSuchInterface {
        /// What was asked for.
        name: String,
        /// What libpcap lists.
        available: String,
    },
    /// The process may not open a raw socket.
    #[error(
        "not permitted to capture on {interface}: capturing needs the CAP_NET_RAW capability \
         (run as root; in Kubernetes add NET_RAW to the container's securityContext.capabilities; \
         or give the binary the file capability: setcap cap_net_raw+ep) [libpcap: {detail}]"
    )]
    Permission {
        /// The interface.
        interface: String,
        /// libpcap's message.
        detail: String,
    },
    /// The BPF filter did not compile.
    #[error("BPF filter {expr:?} does not compile: {detail}")]
    Filter {
        /// The filter as given.
        expr: String,
        /// libpcap's message.
        detail: String,
    },
    /// Any other failure to open the interface.
    #[error("cannot capture on {interface}: {detail}")]
    Open {
        /// The interface.
        interface: String,
        /// libpcap's message.
        detail: String,
    },
    /// Reading packets failed after the capture started.
    #[error("capture on {interface} failed: {detail}")]
    Read {
        /// The interface.
        interface: String,
        /// libpcap's message.
        detail: String,
    },
    /// The `--write-pcap` file could not be created.
    #[error("cannot write the capture file {path}: {detail}")]
    WritePcap {
        /// The file.
        path: String,
        /// libpcap's message.
        detail: String,
    },
}

impl LiveError {
    /// Whether the user's request itself was wrong (a bad filter or
    /// interface name) rather than the environment.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            LiveError::Filter { .. } | LiveError::NoSuchInterface { .. }
        )
    }
}
