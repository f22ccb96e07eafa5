//! Following an agent's log: the NDJSON event stream goes, line by line
//! as it arrives, into [`crate::live::read_events`] on a blocking thread,
//! which rebuilds the report. Everything here is bounded: the length of a
//! line, the bytes of a stream, and the time (a deadline after which the
//! stream is cut and its open flows count from their handshakes).

use std::collections::{HashSet, VecDeque};
use std::io::Read;
use std::net::IpAddr;
use std::time::Duration;

use futures::{AsyncBufRead, AsyncBufReadExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, LogParams};
use serde_json::Value;
use tokio::time::Instant;

use super::{ClusterError, timed};
use crate::live::{EventError, Replayed, read_events};

/// Longest log line read (as the event reader's own bound).
pub const MAX_LINE: usize = 16 << 20;

/// Most bytes read from one agent's log; past it the stream is cut.
pub const MAX_STREAM_BYTES: u64 = 512 << 20;

/// What stands for a line over [`MAX_LINE`].
const OVERLONG: &[u8] = b"[a log line over 16 MiB, skipped]\n";

/// Lines of the log that were not events, kept to explain a failure.
const LAST_LINES: usize = 5;

/// Which events of a stream to keep.
#[derive(Debug, Clone, Default)]
pub enum LineFilter {
    /// Every line (an agent in the audited pod).
    #[default]
    All,
    /// Only `flow` and `handshake` events with an end at one of these
    /// addresses (a node agent sees every pod on its node). Sequence
    /// numbers are dropped, since the gaps are chosen.
    Touching(HashSet<IpAddr>),
}

/// Counts the progress display shows.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tally {
    /// `handshake` events.
    pub handshakes: u64,
    /// `flow` events.
    pub flows: u64,
}

/// How a stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The server closed it (the container ended).
    Eof,
    /// The deadline came first.
    Deadline,
    /// [`MAX_STREAM_BYTES`] were read.
    TooLong,
    /// The user interrupted the audit (Ctrl-C).
    Interrupted,
}

/// What one log gave.
pub struct LogRead {
    /// The rebuilt report and flows, or why the stream was not events.
    pub replayed: Result<Replayed, EventError>,
    /// The message of the agent's `error` event, if it wrote one.
    pub agent_error: Option<String>,
    /// The last lines that were not events.
    pub last_lines: Vec<String>,
    /// How the stream ended.
    pub ended: Ended,
}

/// Follow `container`'s log in `pod` until it ends or `deadline`.
///
/// # Errors
///
/// The log request's own failure (403, 404, a timeout before the server
/// answered). Once the stream flows, problems end it rather than fail it.
pub async fn follow(
    api: &Api<Pod>,
    pod: &str,
    params: &LogParams,
    name: String,
    deadline: Instant,
    filter: LineFilter,
    tick: impl Fn(Tally) + Send,
) -> Result<LogRead, ClusterError> {
    let wait = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_secs(1));
    let stream = timed(
        wait,
        "waiting for the agent's log",
        api.log_stream(pod, params),
    )
    .await?;
    Ok(read_stream(stream, name, deadline, filter, tick).await)
}

/// Read an event stream (a log body) into a report.
pub async fn read_stream(
    stream: impl AsyncBufRead + Unpin,
    name: String,
    deadline: Instant,
    filter: LineFilter,
    tick: impl Fn(Tally) + Send,
) -> LogRead {
    let (tx, rx) = tokio::sync::mpsc::channel::<Vec<u8>>(256);
    let reader = tokio::task::spawn_blocking(move || {
        read_events(
            &name,
            std::io::BufReader::new(ChannelReader {
                rx,
                current: Vec::new(),
                pos: 0,
            }),
        )
    });
    let mut stream = stream;
    let mut tally = Tally::default();
    let mut agent_error = None;
    let mut last = VecDeque::new();
    let mut total = 0u64;
    let ended = loop {
        let mut line = Vec::new();
        let next = tokio::select! {
            n = tokio::time::timeout_at(deadline, read_line(&mut stream, &mut line)) => n,
            () = super::interrupted() => break Ended::Interrupted,
        };
        match next {
            Err(_) => break Ended::Deadline,
            Ok(Err(_)) | Ok(Ok(false)) if line.is_empty() => break Ended::Eof,
            Ok(_) => {}
        }
        total += line.len() as u64;
        if total > MAX_STREAM_BYTES {
            break Ended::TooLong;
        }
        let Some(kept) = inspect(&line, &filter, &mut tally, &mut agent_error, &mut last) else {
            continue;
        };
        tick(tally);
        if tx.send(kept).await.is_err() {
            break Ended::Eof;
        }
    };
    drop(tx);
    let replayed = match reader.await {
        Ok(r) => r,
        Err(e) => Err(EventError::Io {
            name: "event reader".into(),
            source: std::io::Error::other(e.to_string()),
        }),
    };
    LogRead {
        replayed,
        agent_error,
        last_lines: last.into_iter().collect(),
        ended,
    }
}

/// Look at one line: count it, remember errors and non-event lines, and
/// return the bytes to pass on (`None`: filtered out).
fn inspect(
    line: &[u8],
    filter: &LineFilter,
    tally: &mut Tally,
    agent_error: &mut Option<String>,
    last: &mut VecDeque<String>,
) -> Option<Vec<u8>> {
    let text = String::from_utf8_lossy(line);
    let trimmed = text.trim();
    let value: Option<Value> = trimmed
        .starts_with('{')
        .then(|| serde_json::from_str(trimmed).ok())
        .flatten();
    let Some(mut value) = value else {
        if !trimmed.is_empty() {
            if last.len() == LAST_LINES {
                last.pop_front();
            }
            last.push_back(trimmed.chars().take(300).collect());
        }
        return matches!(filter, LineFilter::All).then(|| line.to_vec());
    };
    let event = value.get("event").and_then(Value::as_str).unwrap_or("");
    match event {
        "flow" => tally.flows += 1,
        "handshake" => tally.handshakes += 1,
        "error" => {
            *agent_error = value
                .get("message")
                .and_then(Value::as_str)
                .map(|m| m.chars().take(500).collect());
        }
        _ => {}
    }
    match filter {
        LineFilter::All => Some(line.to_vec()),
        LineFilter::Touching(ips) => {
            if !matches!(event, "flow" | "handshake") || !touches(&value, ips) {
                return None;
            }
            if let Some(o) = value.as_object_mut() {
                o.remove("seq");
            }
            let mut bytes = serde_json::to_vec(&value).ok()?;
            bytes.push(b'\n');
            Some(bytes)
        }
    }
}

/// Whether a flow event has an end at one of `ips`.
fn touches(event: &Value, ips: &HashSet<IpAddr>) -> bool {
    let flow = &event["flow"];
    ["client", "server"].iter().any(|end| {
        flow[end]["ip"]
            .as_str()
            .and_then(|s| s.parse::<IpAddr>().ok())
            .is_some_and(|ip| ips.contains(&ip.to_canonical()))
    })
}

/// Read one line (with its newline) of at most [`MAX_LINE`] bytes; a
/// longer one is read past and replaced by a marker line. `false` at
/// the end of the stream.
async fn read_line(
    stream: &mut (impl AsyncBufRead + Unpin),
    line: &mut Vec<u8>,
) -> std::io::Result<bool> {
    loop {
        let buf = stream.fill_buf().await?;
        if buf.is_empty() {
            return Ok(!line.is_empty());
        }
        let (take, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        let room = MAX_LINE.saturating_sub(line.len());
        let overflow = take > room;
        line.extend_from_slice(&buf[..take.min(room)]);
        stream.consume_unpin(take);
        if !overflow && done {
            return Ok(true);
        }
        if overflow || line.len() >= MAX_LINE {
            // Not an event (the agent's lines are far shorter): replaced by
            // a marker, which the event reader counts as a skipped line.
            line.clear();
            line.extend_from_slice(OVERLONG);
            if !done {
                skip_line(stream).await?;
            }
            return Ok(true);
        }
    }
}

/// Read past the rest of a line.
async fn skip_line(stream: &mut (impl AsyncBufRead + Unpin)) -> std::io::Result<()> {
    loop {
        let buf = stream.fill_buf().await?;
        if buf.is_empty() {
            return Ok(());
        }
        match buf.iter().position(|&b| b == b'\n') {
            Some(i) => {
                stream.consume_unpin(i + 1);
                return Ok(());
            }
            None => {
                let n = buf.len();
                stream.consume_unpin(n);
            }
        }
    }
}

/// The lines sent from the async side, as a blocking reader.
struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<Vec<u8>>,
    current: Vec<u8>,
    pos: usize,
}

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos >= self.current.len() {
            match self.rx.blocking_recv() {
                Some(next) => {
                    self.current = next;
                    self.pos = 0;
                }
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.current.len() - self.pos);
        out[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &'static [u8], filter: LineFilter) -> LogRead {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime");
        rt.block_on(read_stream(
            futures::io::Cursor::new(input),
            "test".into(),
            Instant::now() + Duration::from_secs(5),
            filter,
            |_| {},
        ))
    }

    #[test]
    fn an_agent_error_and_the_last_plain_lines_are_kept() {
        let got = run(
            b"runtime says hello\n{\"schema\":\"tls-audit/event/v1\",\"seq\":0,\"event\":\"error\",\"message\":\"no CAP_NET_RAW\"}\n",
            LineFilter::All,
        );
        assert_eq!(got.agent_error.as_deref(), Some("no CAP_NET_RAW"));
        assert_eq!(got.last_lines, vec!["runtime says hello".to_string()]);
        assert_eq!(got.ended, Ended::Eof);
        let r = got.replayed.expect("events");
        assert!(r.flows.is_empty());
        assert!(r.report.warnings.iter().any(|w| w.kind == "events-skipped"));
    }

    /// A body that sends one line, then nothing, never closing.
    struct Stalled(bool);

    impl futures::AsyncRead for Stalled {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &mut [u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            if self.0 {
                return std::task::Poll::Pending;
            }
            self.0 = true;
            let line = b"{\"schema\":\"tls-audit/event/v1\",\"seq\":0,\"event\":\"start\"}\n";
            buf[..line.len()].copy_from_slice(line);
            std::task::Poll::Ready(Ok(line.len()))
        }
    }

    #[test]
    fn a_stream_that_stalls_is_cut_at_the_deadline() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime");
        let started = std::time::Instant::now();
        let got = rt.block_on(read_stream(
            futures::io::BufReader::new(Stalled(false)),
            "stalled".into(),
            Instant::now() + Duration::from_millis(300),
            LineFilter::All,
            |_| {},
        ));
        assert_eq!(got.ended, Ended::Deadline);
        assert!(started.elapsed() < Duration::from_secs(5));
        let r = got.replayed.expect("events");
        assert!(r.report.warnings.iter().any(|w| w.kind == "events-cut"));
    }

    #[test]
    fn an_overlong_line_is_cut_and_skipped_not_buffered_whole() {
        let mut body = vec![b'x'; MAX_LINE + 100];
        body.push(b'\n');
        body.extend_from_slice(
            b"{\"schema\":\"tls-audit/event/v1\",\"seq\":0,\"event\":\"start\"}\n",
        );
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime");
        let got = rt.block_on(read_stream(
            futures::io::Cursor::new(body),
            "long".into(),
            Instant::now() + Duration::from_secs(30),
            LineFilter::All,
            |_| {},
        ));
        assert_eq!(got.ended, Ended::Eof);
        assert_eq!(got.last_lines.len(), 1);
        assert_eq!(got.last_lines[0], "[a log line over 16 MiB, skipped]");
        let r = got.replayed.expect("events");
        assert!(r.report.warnings.iter().any(|w| w.kind == "events-skipped"));
    }

    #[test]
    fn a_node_filter_keeps_only_flows_touching_the_addresses() {
        let input: &'static [u8] = b"{\"schema\":\"tls-audit/event/v1\",\"seq\":7,\"event\":\"stats\"}\n\
{\"schema\":\"tls-audit/event/v1\",\"seq\":8,\"event\":\"handshake\",\"id\":1,\"flow\":{\"client\":{\"ip\":\"10.0.0.1\"},\"server\":{\"ip\":\"10.0.0.9\"}}}\n";
        let mut line = input.split(|&b| b == b'\n').nth(1).expect("line").to_vec();
        line.push(b'\n');
        let ips: HashSet<IpAddr> = ["10.0.0.9".parse().expect("ip")].into();
        let mut tally = Tally::default();
        let kept = inspect(
            &line,
            &LineFilter::Touching(ips.clone()),
            &mut tally,
            &mut None,
            &mut VecDeque::new(),
        )
        .expect("kept");
        let v: Value = serde_json::from_slice(&kept).expect("json");
        assert!(v.get("seq").is_none());
        assert_eq!(tally.handshakes, 1);
        let other: HashSet<IpAddr> = ["10.0.0.5".parse().expect("ip")].into();
        assert!(
            inspect(
                &line,
                &LineFilter::Touching(other),
                &mut tally,
                &mut None,
                &mut VecDeque::new()
            )
            .is_none()
        );
        let stats = input.split(|&b| b == b'\n').next().expect("line");
        assert!(
            inspect(
                stats,
                &LineFilter::Touching(ips),
                &mut tally,
                &mut None,
                &mut VecDeque::new()
            )
            .is_none()
        );
    }
}
