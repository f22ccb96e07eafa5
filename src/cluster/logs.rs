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

/// Counts the progress display shows, from the events read so far.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tally {
    /// `handshake` events.
    pub handshakes: u64,
    /// `flow` events (flows ended).
    pub flows: u64,
    /// Ended flows the agent saw as TLS.
    pub tls: u64,
    /// Ended TLS flows with a client certificate.
    pub mutual: u64,
    /// Ended flows the agent saw as plaintext.
    pub plaintext: u64,
}

impl Tally {
    /// Count one `flow` event's record.
    fn flow(&mut self, flow: &Value) {
        self.flows += 1;
        match flow.get("protection").and_then(Value::as_str) {
            Some("plaintext") => self.plaintext += 1,
            Some(p) if p.starts_with("tls") => self.tls += 1,
            _ => {}
        }
        if flow.pointer("/tls/mutual").and_then(Value::as_bool) == Some(true) {
            self.mutual += 1;
        }
    }
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
    /// The last lines that were not events (the agent's own stderr lines,
    /// which the container runtime merges into its log, among them).
    pub last_lines: Vec<String>,
    /// The agent's `summary` event was read: its run ended normally.
    pub summarized: bool,
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
    let mut reader = Follower::new(name, filter);
    let stream = open(api, pod, params, deadline).await?;
    let ended = reader.read(stream, deadline, &tick).await;
    Ok(reader.finish(ended).await)
}

/// Open a log stream (the request bounded by the time left).
///
/// # Errors
///
/// The request's failure, or a timeout before the server answered.
pub async fn open(
    api: &Api<Pod>,
    pod: &str,
    params: &LogParams,
    deadline: Instant,
) -> Result<impl AsyncBufRead + Unpin + use<>, ClusterError> {
    let wait = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_secs(1));
    let stream = timed(
        wait,
        "waiting for the agent's log",
        api.log_stream(pod, params),
    )
    .await?;
    Ok(Box::pin(stream))
}

/// Read an event stream (a log body) into a report.
pub async fn read_stream(
    stream: impl AsyncBufRead + Unpin,
    name: String,
    deadline: Instant,
    filter: LineFilter,
    tick: impl Fn(Tally) + Send,
) -> LogRead {
    let mut reader = Follower::new(name, filter);
    let ended = reader.read(stream, deadline, &tick).await;
    reader.finish(ended).await
}

/// The prefix of every line the agent writes to its standard error (its
/// start line, libpcap's counters, its errors). Container runtimes merge
/// stderr into the log, so these lines come between the events: they are
/// the agent's own words, kept to explain a failure, not foreign lines.
const AGENT_STDERR: &str = "tls-audit: ";

/// One agent's log read into the event reader, over one or more
/// connections: a log request the server (or a proxy) drops while the
/// container still runs is opened again, and what the new connection
/// replays from the start is recognised by its sequence numbers and
/// dropped.
pub struct Follower {
    tx: tokio::sync::mpsc::Sender<Vec<u8>>,
    reader: tokio::task::JoinHandle<Result<Replayed, EventError>>,
    filter: LineFilter,
    tally: Tally,
    agent_error: Option<String>,
    last: VecDeque<String>,
    summarized: bool,
    total: u64,
    /// The highest sequence number passed on.
    last_seq: Option<u64>,
    /// Lines that were not events since that event (to skip again when a
    /// connection replays them).
    plain_after_seq: u64,
    /// While a new connection replays what was read: the plain lines still
    /// to skip once `last_seq` is reached again (`None`: not replaying).
    replaying: Option<(bool, u64)>,
    /// Connections opened.
    connections: u32,
    /// Lines passed on.
    passed: u64,
    /// The last connection's final bytes, when they did not end a line.
    partial: Option<Vec<u8>>,
}

impl Follower {
    /// A reader for the stream named `name`.
    pub fn new(name: String, filter: LineFilter) -> Self {
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
        Follower {
            tx,
            reader,
            filter,
            tally: Tally::default(),
            agent_error: None,
            last: VecDeque::new(),
            summarized: false,
            total: 0,
            last_seq: None,
            plain_after_seq: 0,
            replaying: None,
            connections: 0,
            passed: 0,
            partial: None,
        }
    }

    /// Connections read so far.
    pub fn connections(&self) -> u32 {
        self.connections
    }

    /// Read one connection's stream until it ends or `deadline`. From the
    /// second connection on, the lines already read are skipped.
    pub async fn read(
        &mut self,
        stream: impl AsyncBufRead + Unpin,
        deadline: Instant,
        tick: &(impl Fn(Tally) + Send),
    ) -> Ended {
        self.connections += 1;
        self.partial = None;
        if self.connections > 1 && self.last_seq.is_some() {
            self.replaying = Some((false, self.plain_after_seq));
        }
        let mut stream = stream;
        loop {
            let mut line = Vec::new();
            let next = tokio::select! {
                n = tokio::time::timeout_at(deadline, read_line(&mut stream, &mut line)) => n,
                () = super::interrupted() => return Ended::Interrupted,
            };
            match next {
                Err(_) => return Ended::Deadline,
                Ok(Err(_)) | Ok(Ok(false)) if line.is_empty() => return Ended::Eof,
                // The connection broke inside a line: what came of it is
                // not a line (a new connection brings it whole).
                Ok(Err(_)) => return Ended::Eof,
                // The stream's last bytes, without a newline: kept apart
                // until it is known whether another connection follows.
                Ok(Ok(true)) if line.last() != Some(&b'\n') => {
                    self.partial = Some(line);
                    return Ended::Eof;
                }
                Ok(_) => {}
            }
            self.total += line.len() as u64;
            if self.total > MAX_STREAM_BYTES {
                return Ended::TooLong;
            }
            let Some(kept) = self.inspect(&line) else {
                continue;
            };
            tick(self.tally);
            self.passed += 1;
            if self.tx.send(kept).await.is_err() {
                return Ended::Eof;
            }
        }
    }

    /// Lines passed on to the event reader so far.
    pub fn lines_passed(&self) -> u64 {
        self.passed
    }

    /// Close the stream and rebuild the report.
    pub async fn finish(mut self, ended: Ended) -> LogRead {
        if let Some(last) = self.partial.take()
            && let Some(kept) = self.inspect(&last)
        {
            let _ = self.tx.send(kept).await;
        }
        drop(self.tx);
        let replayed = match self.reader.await {
            Ok(r) => r,
            Err(e) => Err(EventError::Io {
                name: "event reader".into(),
                source: std::io::Error::other(e.to_string()),
            }),
        };
        LogRead {
            replayed,
            agent_error: self.agent_error,
            last_lines: self.last.into_iter().collect(),
            summarized: self.summarized,
            ended,
        }
    }

    /// Look at one line: skip what a new connection replays, count it,
    /// remember errors and non-event lines, and return the bytes to pass
    /// on (`None`: not passed on).
    fn inspect(&mut self, line: &[u8]) -> Option<Vec<u8>> {
        let text = String::from_utf8_lossy(line);
        let trimmed = text.trim();
        let value: Option<Value> = trimmed
            .starts_with('{')
            .then(|| serde_json::from_str(trimmed).ok())
            .flatten();
        let seq = value
            .as_ref()
            .and_then(|v| v.get("seq"))
            .and_then(Value::as_u64);
        if let Some((reached, plain_left)) = &mut self.replaying {
            match (seq, self.last_seq) {
                (Some(s), Some(last)) if s < last => return None,
                (Some(s), Some(last)) if s == last => {
                    *reached = true;
                    return None;
                }
                (Some(_), _) => self.replaying = None,
                (None, _) if !*reached => return None,
                (None, _) if *plain_left > 0 => {
                    *plain_left -= 1;
                    return None;
                }
                (None, _) => self.replaying = None,
            }
        }
        if let Some(s) = seq {
            self.last_seq = Some(s);
            self.plain_after_seq = 0;
        } else {
            self.plain_after_seq += 1;
        }
        let Some(mut value) = value else {
            if !trimmed.is_empty() {
                if self.last.len() == LAST_LINES {
                    self.last.pop_front();
                }
                self.last.push_back(trimmed.chars().take(300).collect());
            }
            // The agent's own stderr lines are not passed on: they are not
            // events, and not foreign either (no `events-skipped` warning).
            let agent_said = trimmed.starts_with(AGENT_STDERR);
            return (matches!(self.filter, LineFilter::All) && !agent_said).then(|| line.to_vec());
        };
        let event = value.get("event").and_then(Value::as_str).unwrap_or("");
        match event {
            "flow" => {
                if let Some(f) = value.get("flow") {
                    self.tally.flow(f);
                }
            }
            "handshake" => self.tally.handshakes += 1,
            "summary" => self.summarized = true,
            "error" => {
                self.agent_error = value
                    .get("message")
                    .and_then(Value::as_str)
                    .map(|m| m.chars().take(500).collect());
            }
            _ => {}
        }
        match &self.filter {
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

    /// A follower on a runtime, for `inspect` alone.
    fn follower(filter: LineFilter) -> (tokio::runtime::Runtime, Follower) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime");
        let f = rt.block_on(async { Follower::new("t".into(), filter) });
        (rt, f)
    }

    #[test]
    fn a_node_filter_keeps_only_flows_touching_the_addresses() {
        let input: &'static [u8] = b"{\"schema\":\"tls-audit/event/v1\",\"seq\":7,\"event\":\"stats\"}\n\
{\"schema\":\"tls-audit/event/v1\",\"seq\":8,\"event\":\"handshake\",\"id\":1,\"flow\":{\"client\":{\"ip\":\"10.0.0.1\"},\"server\":{\"ip\":\"10.0.0.9\"}}}\n";
        let mut line = input.split(|&b| b == b'\n').nth(1).expect("line").to_vec();
        line.push(b'\n');
        let ips: HashSet<IpAddr> = ["10.0.0.9".parse().expect("ip")].into();
        let (_rt, mut f) = follower(LineFilter::Touching(ips.clone()));
        let kept = f.inspect(&line).expect("kept");
        let v: Value = serde_json::from_slice(&kept).expect("json");
        assert!(v.get("seq").is_none());
        assert_eq!(f.tally.handshakes, 1);
        let other: HashSet<IpAddr> = ["10.0.0.5".parse().expect("ip")].into();
        let (_rt2, mut g) = follower(LineFilter::Touching(other));
        assert!(g.inspect(&line).is_none());
        let stats = input.split(|&b| b == b'\n').next().expect("line");
        assert!(f.inspect(stats).is_none());
    }

    /// Issue 16 (1): the runtime merges the agent's stderr into its log;
    /// its summary line is the agent's, not a foreign line to warn about.
    #[test]
    fn the_agents_own_stderr_lines_are_kept_but_not_warned_about() {
        let got = run(
            b"{\"schema\":\"tls-audit/event/v1\",\"seq\":0,\"event\":\"start\"}\n\
tls-audit: listening on eth0 (ethernet)\n\
tls-audit: eth0: 63 packets received, 0 dropped by the buffer, 0 by the interface; 2 flows; stopped by duration\n",
            LineFilter::All,
        );
        assert_eq!(got.last_lines.len(), 2);
        assert!(got.last_lines[1].contains("stopped by duration"));
        let r = got.replayed.expect("events");
        assert!(
            !r.report.warnings.iter().any(|w| w.kind == "events-skipped"),
            "{:?}",
            r.report
                .warnings
                .iter()
                .map(|w| &w.message)
                .collect::<Vec<_>>()
        );
    }

    /// Issue 16 (5): a second connection replays the log from its start;
    /// what was read already (events and plain lines) is dropped.
    #[test]
    fn a_second_connection_skips_what_the_first_read() {
        let first: &'static [u8] =
            b"{\"schema\":\"tls-audit/event/v1\",\"seq\":0,\"event\":\"start\"}\n\
tls-audit: listening on eth0 (ethernet)\n\
{\"schema\":\"tls-audit/event/v1\",\"seq\":1,\"event\":\"stats\"}\n\
runtime note\n";
        let second: &'static [u8] =
            b"{\"schema\":\"tls-audit/event/v1\",\"seq\":0,\"event\":\"start\"}\n\
tls-audit: listening on eth0 (ethernet)\n\
{\"schema\":\"tls-audit/event/v1\",\"seq\":1,\"event\":\"stats\"}\n\
runtime note\n\
{\"schema\":\"tls-audit/event/v1\",\"seq\":2,\"event\":\"stats\"}\n\
after\n";
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime");
        let got = rt.block_on(async {
            let mut f = Follower::new("re".into(), LineFilter::All);
            let deadline = Instant::now() + Duration::from_secs(5);
            let a = f
                .read(futures::io::Cursor::new(first), deadline, &|_| {})
                .await;
            assert_eq!(a, Ended::Eof);
            let b = f
                .read(futures::io::Cursor::new(second), deadline, &|_| {})
                .await;
            assert_eq!(f.connections(), 2);
            f.finish(b).await
        });
        assert_eq!(
            got.last_lines,
            vec![
                "tls-audit: listening on eth0 (ethernet)".to_string(),
                "runtime note".into(),
                "after".into()
            ]
        );
        let r = got.replayed.expect("events");
        let warnings: Vec<&str> = r
            .report
            .warnings
            .iter()
            .map(|w| w.message.as_str())
            .collect();
        // Two foreign lines, each once; no sequence gap, no duplicate start.
        assert!(
            warnings
                .iter()
                .any(|w| w.contains("2 lines were not events")),
            "{warnings:?}"
        );
        assert!(
            !r.report
                .warnings
                .iter()
                .any(|w| w.kind == "events-lost" || w.kind == "events-restarted"),
            "{warnings:?}"
        );
    }
}
