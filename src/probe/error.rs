//! Why a probe connection failed. Each failure keeps the system's or
//! rustls's own words, and maps to one stable `kind` in the report.

use std::io;
use std::time::Duration;

use crate::report::model::ProbeError;

/// A connection of the probe that did not get as far as an answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProbeFailure {
    /// The name did not resolve (or resolved to no address).
    #[error("cannot resolve {name}: {message}")]
    Resolve {
        /// The name.
        name: String,
        /// The resolver's message.
        message: String,
    },
    /// The server's host answered the SYN with a reset: nothing listens.
    #[error("connection refused: {0}")]
    Refused(io::Error),
    /// No route, host down, network unreachable.
    #[error("unreachable: {0}")]
    Unreachable(io::Error),
    /// No answer within the deadline (a black hole, a stalled server).
    #[error("timed out after {} ms waiting for {what}", .after.as_millis())]
    Timeout {
        /// The deadline.
        after: Duration,
        /// What was awaited: `connect`, `server-hello`, `handshake`, `answer`.
        what: &'static str,
    },
    /// The server reset the connection.
    #[error("connection reset by the server: {0}")]
    Reset(io::Error),
    /// The server closed the connection before answering.
    #[error("connection closed by the server during {0}")]
    Closed(&'static str),
    /// The server sent more than the probe reads from one connection.
    #[error("the server sent more than {0} bytes")]
    TooLarge(usize),
    /// A TLS error other than an alert from the server (rustls's words).
    #[error("TLS: {0}")]
    Tls(rustls::Error),
    /// Any other socket error.
    #[error("{0}")]
    Io(io::Error),
}

impl ProbeFailure {
    /// The report's stable name for this failure.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Resolve { .. } => "resolve",
            Self::Refused(_) => "refused",
            Self::Unreachable(_) => "unreachable",
            Self::Timeout { .. } => "timeout",
            Self::Reset(_) => "reset",
            Self::Closed(_) => "closed",
            Self::TooLarge(_) => "too-large",
            Self::Tls(_) => "tls",
            Self::Io(_) => "io",
        }
    }

    /// A socket error, by its kind.
    pub fn from_io(e: io::Error) -> Self {
        use io::ErrorKind as K;
        match e.kind() {
            K::ConnectionRefused => Self::Refused(e),
            K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => Self::Reset(e),
            K::HostUnreachable | K::NetworkUnreachable | K::AddrNotAvailable => {
                Self::Unreachable(e)
            }
            K::TimedOut => Self::Timeout {
                after: Duration::ZERO,
                what: "connect",
            },
            _ => Self::Io(e),
        }
    }

    /// May the same connection be tried again? Only a timeout: a refusal
    /// or a reset is an answer, and asking twice would not change it.
    pub fn retryable(&self) -> bool {
        matches!(self, Self::Timeout { .. })
    }

    /// Nothing on this endpoint can be probed further (no listener, no
    /// route, no answer to a SYN).
    pub fn is_fatal_for_endpoint(&self) -> bool {
        matches!(
            self,
            Self::Resolve { .. } | Self::Refused(_) | Self::Unreachable(_)
        ) || matches!(
            self,
            Self::Timeout {
                what: "connect",
                ..
            }
        )
    }

    /// As the report writes it.
    pub fn record(&self) -> ProbeError {
        ProbeError {
            kind: self.kind().to_string(),
            message: self.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_retries() {
        let refused = ProbeFailure::from_io(io::Error::from(io::ErrorKind::ConnectionRefused));
        assert_eq!(refused.kind(), "refused");
        assert!(!refused.retryable());
        assert!(refused.is_fatal_for_endpoint());
        let reset = ProbeFailure::from_io(io::Error::from(io::ErrorKind::ConnectionReset));
        assert_eq!(reset.kind(), "reset");
        assert!(!reset.retryable() && !reset.is_fatal_for_endpoint());
        let t = ProbeFailure::Timeout {
            after: Duration::from_millis(1500),
            what: "connect",
        };
        assert!(t.retryable() && t.is_fatal_for_endpoint());
        assert_eq!(
            t.record().message,
            "timed out after 1500 ms waiting for connect"
        );
    }
}
