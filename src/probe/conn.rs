//! One TCP connection of the probe: connect with a deadline (a timeout is
//! retried once; a refusal never is), and read with a deadline and a cap on
//! the bytes taken from the server.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout, timeout_at};

use super::error::ProbeFailure;

/// A connected socket with the probe's limits.
pub(crate) struct Conn {
    stream: TcpStream,
    /// Bytes read so far.
    pub read: usize,
    /// Bytes written so far.
    pub written: usize,
    cap: usize,
    io_timeout: Duration,
}

/// What one read gave.
pub(crate) enum Got {
    /// This many bytes (at least one).
    Data(usize),
    /// The server closed its side.
    Eof,
}

impl Conn {
    /// Connect, retrying once after a timeout.
    pub async fn open(
        addr: SocketAddr,
        connect_timeout: Duration,
        io_timeout: Duration,
        cap: usize,
    ) -> Result<Conn, ProbeFailure> {
        let mut tries = 0;
        loop {
            tries += 1;
            let r = match timeout(connect_timeout, TcpStream::connect(addr)).await {
                Ok(Ok(stream)) => {
                    let _ = stream.set_nodelay(true);
                    return Ok(Conn {
                        stream,
                        read: 0,
                        written: 0,
                        cap,
                        io_timeout,
                    });
                }
                Ok(Err(e)) => ProbeFailure::from_io(e),
                Err(_) => ProbeFailure::Timeout {
                    after: connect_timeout,
                    what: "connect",
                },
            };
            if !(r.retryable() && tries < 2) {
                return Err(r);
            }
        }
    }

    /// The local address (the probe's end of the flow).
    pub fn local(&self) -> Option<SocketAddr> {
        self.stream.local_addr().ok()
    }

    /// Write all of `data` within the I/O deadline.
    pub async fn write(&mut self, data: &[u8]) -> Result<(), ProbeFailure> {
        match timeout(self.io_timeout, self.stream.write_all(data)).await {
            Ok(Ok(())) => {
                self.written += data.len();
                Ok(())
            }
            Ok(Err(e)) => Err(ProbeFailure::from_io(e)),
            Err(_) => Err(ProbeFailure::Timeout {
                after: self.io_timeout,
                what: "write",
            }),
        }
    }

    /// Read into `buf` until `deadline` (default: the I/O deadline from
    /// now). `what` names the wait in a timeout error.
    pub async fn read(
        &mut self,
        buf: &mut [u8],
        deadline: Option<Instant>,
        what: &'static str,
    ) -> Result<Got, ProbeFailure> {
        let left = self.cap.saturating_sub(self.read);
        if left == 0 {
            return Err(ProbeFailure::TooLarge(self.cap));
        }
        let n = buf.len().min(left);
        let dl = deadline.unwrap_or_else(|| Instant::now() + self.io_timeout);
        let after = dl.saturating_duration_since(Instant::now());
        match timeout_at(dl, self.stream.read(&mut buf[..n])).await {
            Ok(Ok(0)) => Ok(Got::Eof),
            Ok(Ok(k)) => {
                self.read += k;
                Ok(Got::Data(k))
            }
            Ok(Err(e)) => Err(ProbeFailure::from_io(e)),
            Err(_) => Err(ProbeFailure::Timeout { after, what }),
        }
    }

    /// Close our side; errors do not matter any more.
    pub async fn close(mut self) {
        let _ = timeout(Duration::from_millis(200), self.stream.shutdown()).await;
    }
}
