//! The agent's event stream: one self-contained JSON object per line,
//! versioned by `"schema": "tls-audit/event/v1"`, so a reader of a pod's
//! log (the kubectl plugin) needs no other context; and the reader that
//! rebuilds a report from a saved stream (`analyze --events`).
//!
//! Events, in order: `start` (the capture runs), `flow-opened` (a flow's
//! first packet), `handshake` (a TLS handshake decided: the record as it
//! stood then), `stats` (libpcap's counters, every ten seconds), `flow` (a
//! flow finished: the record the report holds) and a final `summary` (the
//! report without its flows). Every line carries a sequence number, so a
//! reader can tell when lines were lost.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::capture::format_ts;
use crate::engine::{FlowOpened, FlowSink};
use crate::model::WarningKind;
use crate::model::time::CaptureTime;
use crate::report::model::{FlowRecord, Input, Report, Stats, Warning};
use crate::x509::Certificate;

mod spill;

pub use spill::Flows;
use spill::Table;

/// The version every event line names.
pub const EVENT_SCHEMA: &str = "tls-audit/event/v1";

/// Longest event line read back (a flow record with a long chain is a few
/// tens of KiB; this bounds a hostile or corrupted stream).
const MAX_LINE: usize = 16 << 20;

/// Writes event lines; shared between the engine's sink and the capture
/// loop, so sequence numbers stay in order across both.
#[derive(Clone)]
pub struct EventSink {
    inner: Arc<Mutex<Writer>>,
}

struct Writer {
    out: Box<dyn Write + Send>,
    seq: u64,
    error: Option<std::io::Error>,
    /// Certificates whose DER this stream has carried already.
    sent: HashSet<String>,
    /// Their DER bytes.
    sent_bytes: usize,
    /// Set when writing fails: nobody reads the events any more.
    stop: Option<Arc<AtomicBool>>,
    /// Whole lines of flow events not yet written out.
    pending: Vec<u8>,
}

impl Writer {
    /// Write out the pending lines, in one write and a flush.
    fn pass_on(&mut self) {
        if self.pending.is_empty() || self.error.is_some() {
            return;
        }
        let result = self
            .out
            .write_all(&self.pending)
            .and_then(|()| self.out.flush());
        self.pending.clear();
        if let Err(e) = result {
            self.error = Some(e);
            if let Some(stop) = &self.stop {
                stop.store(true, Ordering::Relaxed);
            }
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.pass_on();
    }
}

/// Certificates remembered as sent; past it (or past `MAX_SENT_BYTES` of
/// their DER) the set starts again (sending one twice costs bytes, not
/// correctness). The reader keeps twice as much.
const MAX_SENT: usize = 4096;
/// DER bytes sent before the set of sent certificates starts again.
const MAX_SENT_BYTES: usize = 8 << 20;

/// Flow events (`flow-opened`, `handshake`, `flow`) are held up to this
/// many bytes of whole lines, and written out when they reach it, at the
/// capture's tick (about a second) and before any other event: one write
/// per line cost the agent a system call per event, about 15 % of its CPU
/// on short connections (benches/README.md, "Live at 400k pps").
const PENDING: usize = 64 << 10;

impl EventSink {
    /// Events go to `out` (standard output for the agent).
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        EventSink {
            inner: Arc::new(Mutex::new(Writer {
                out,
                seq: 0,
                error: None,
                sent: HashSet::new(),
                sent_bytes: 0,
                stop: None,
                pending: Vec::new(),
            })),
        }
    }

    /// Set `stop` when a write fails (the reader went away), so a capture
    /// feeding this sink ends instead of running on unread.
    pub fn stop_on_error(&self, stop: Arc<AtomicBool>) {
        self.lock().stop = Some(stop);
    }

    /// Write one event: `fields` (an object) with the schema, sequence
    /// number and event name put first. It goes out at once, after the
    /// flow events held before it.
    pub fn emit(&self, event: &str, fields: Value) {
        self.write(event, &fields, true);
    }

    /// Add an event's line to the pending ones; write them out when `now`
    /// or when they reach [`PENDING`] bytes.
    fn write<T: Serialize + ?Sized>(&self, event: &str, fields: &T, now: bool) {
        let mut guard = self.lock();
        let w = &mut *guard;
        if w.error.is_some() {
            return;
        }
        // schema, seq and event first, for people reading the log; then
        // the event's own fields.
        let start = w.pending.len();
        let head = write!(
            w.pending,
            "{{\"schema\":\"{EVENT_SCHEMA}\",\"seq\":{},\"event\":{}",
            w.seq,
            Value::from(event)
        );
        let fields_at = w.pending.len();
        if let Err(e) = head.and_then(|()| {
            serde_json::to_writer(&mut w.pending, fields).map_err(std::io::Error::other)
        }) {
            w.pending.truncate(start);
            w.error = Some(e);
            return;
        }
        w.seq += 1;
        let object = w.pending.get(fields_at) == Some(&b'{') && w.pending.len() > fields_at + 2;
        if object {
            // `{"a":..}` continues the head: `,"a":..}`.
            if let Some(b) = w.pending.get_mut(fields_at) {
                *b = b',';
            }
        } else {
            // `{}` (or anything but an object) adds nothing.
            w.pending.truncate(fields_at);
            w.pending.push(b'}');
        }
        w.pending.push(b'\n');
        // Lines go out whole: a log reader never sees half of one.
        if now || w.pending.len() >= PENDING {
            w.pass_on();
        }
    }

    /// A flow record and the DER of its certificates not sent before: the
    /// reader needs the bytes to check signatures, as the report's JSON
    /// leaves them out. Certificates are handshake metadata, not payload.
    fn emit_flow(&self, event: &str, id: u64, record: &FlowRecord) {
        let mut certs = serde_json::Map::new();
        if let Some(t) = record.tls.as_deref() {
            let mut w = self.lock();
            for c in t.server_chain.iter().chain(&t.client_chain) {
                let Some(der) = &c.der else { continue };
                if w.sent.len() >= MAX_SENT || w.sent_bytes >= MAX_SENT_BYTES {
                    w.sent.clear();
                    w.sent_bytes = 0;
                }
                if w.sent.insert(c.sha256.clone()) {
                    w.sent_bytes += der.len();
                    certs.insert(c.sha256.clone(), BASE64.encode(der).into());
                }
            }
        }
        let mut fields = json!({ "id": id, "flow": record });
        if !certs.is_empty() {
            fields["certificates"] = Value::Object(certs);
        }
        self.write(event, &fields, false);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Writer> {
        match self.inner.lock() {
            Ok(w) => w,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// The final event: the report without its flows.
    pub fn summary(&self, report: &Report) {
        let mut header = report.clone();
        header.flows.clear();
        self.emit("summary", json!({ "report": header }));
    }

    /// The first write error, if writing failed (a closed pipe).
    pub fn take_error(&self) -> Option<std::io::Error> {
        self.lock().error.take()
    }
}

impl FlowSink for EventSink {
    fn flow(&mut self, id: u64, record: FlowRecord) {
        self.emit_flow("flow", id, &record);
    }

    fn wants_progress(&self) -> bool {
        true
    }

    fn opened(&mut self, id: u64, o: &FlowOpened) {
        self.write("flow-opened", &Opened::new(id, o), false);
    }

    fn decided(&mut self, id: u64, record: &FlowRecord) {
        self.emit_flow("handshake", id, record);
    }

    /// The held flow events go out at least once a tick.
    fn tick(&mut self) {
        self.lock().pass_on();
    }
}

/// A `flow-opened` event's fields, written straight from the flow
/// (without a `Value` in between), in the order a `Value` object writes
/// its keys (sorted), so the line is the same either way.
#[derive(Serialize)]
struct Opened {
    dst: End,
    id: u64,
    src: End,
    transport: &'static str,
    ts: String,
}

/// One end of a flow in a `flow-opened` event.
#[derive(Serialize)]
struct End {
    ip: std::net::IpAddr,
    port: u16,
}

impl Opened {
    fn new(id: u64, o: &FlowOpened) -> Self {
        let end = |a: std::net::SocketAddr| End {
            ip: a.ip(),
            port: a.port(),
        };
        Opened {
            dst: end(o.dst),
            id,
            src: end(o.src),
            transport: o.transport,
            ts: format_ts(o.ts),
        }
    }
}

/// Why an event stream could not be read.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    /// Reading failed.
    #[error("{name}: {source}")]
    Io {
        /// The stream.
        name: String,
        /// The error.
        source: std::io::Error,
    },
    /// A line is not an event of a known version.
    #[error("{name}:{line}: {problem}")]
    Line {
        /// The stream.
        name: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        problem: String,
    },
}

/// A report rebuilt from an event stream: the header (inputs, stats,
/// warnings) and the flow records in creation order.
pub struct Replayed {
    /// The report without its flows (and without verification).
    pub report: Report,
    /// Flow records, in the order the agent created them, waiting in a
    /// temporary file (memory stays flat in the number of flows).
    pub flows: Flows,
    /// Why the chains its flows' handshakes hid were not obtained, when its
    /// agent could not obtain them (`kubectl tls-audit pod --enrich
    /// probe`): given to each such flow as it is read
    /// ([`crate::enrich::mark_not_obtained`]).
    pub unenriched: Option<&'static str>,
}

#[derive(Deserialize)]
struct Line {
    #[serde(default)]
    seq: Option<u64>,
    event: String,
    #[serde(default)]
    id: Option<u64>,
    #[serde(default)]
    flow: Option<FlowRecord>,
    #[serde(default)]
    report: Option<Report>,
    #[serde(default)]
    certificates: BTreeMap<String, String>,
}

/// Rebuild the report from one event stream. Lines that are not events
/// (not JSON objects, or objects without a `schema`) are skipped with a
/// warning: a log stream can carry a runtime's own lines. A line of another
/// schema version is an error. A stream cut before its summary still gives
/// its flows: those whose end was not seen come from their handshake
/// events, marked `ended_by: stream-ended`. An agent that restarted within
/// one log (a sidecar's container restart) starts a new run at its `start`
/// line; its flows are kept apart from the first run's, not mixed by id.
pub fn read_events(name: &str, input: impl BufRead) -> Result<Replayed, EventError> {
    let mut stream = Stream::new(name)?;
    for (n, line) in bounded_lines(input).enumerate() {
        let line = line.map_err(|source| stream.io(source))?;
        stream.line(n + 1, &line)?;
    }
    stream.finish()
}

/// An event stream being read: its flows (keyed by run and flow id: ids
/// start again at 1 in each run), its runs' summaries, and what was odd.
struct Stream<'n> {
    name: &'n str,
    table: Table,
    summaries: BTreeMap<u32, Report>,
    run: u32,
    seen_event: bool,
    skipped: u64,
    missing_seq: u64,
    next_seq: u64,
    ders: Ders,
    /// `flow` events read per run, to hold against the summary's count.
    flow_events: BTreeMap<u32, u64>,
}

impl<'n> Stream<'n> {
    fn new(name: &'n str) -> Result<Self, EventError> {
        let table = Table::new().map_err(|source| EventError::Io {
            name: name.to_string(),
            source,
        })?;
        Ok(Stream {
            name,
            table,
            summaries: BTreeMap::new(),
            run: 0,
            seen_event: false,
            skipped: 0,
            missing_seq: 0,
            next_seq: 0,
            ders: Ders::default(),
            flow_events: BTreeMap::new(),
        })
    }

    fn io(&self, source: std::io::Error) -> EventError {
        EventError::Io {
            name: self.name.to_string(),
            source,
        }
    }

    /// One line of the stream (`lineno` from 1).
    fn line(&mut self, lineno: usize, line: &[u8]) -> Result<(), EventError> {
        let bad = |problem: String| EventError::Line {
            name: self.name.to_string(),
            line: lineno,
            problem,
        };
        let text = String::from_utf8_lossy(line);
        let text = text.trim();
        if !text.starts_with('{') {
            if !text.is_empty() {
                self.skipped += 1;
            }
            return Ok(());
        }
        let Ok(value) = serde_json::from_str::<Value>(text) else {
            self.skipped += 1;
            return Ok(());
        };
        let Some(schema) = value.get("schema").and_then(Value::as_str) else {
            self.skipped += 1;
            return Ok(());
        };
        if schema != EVENT_SCHEMA {
            return Err(bad(format!(
                "event schema {schema:?} is not {EVENT_SCHEMA:?} (a newer or older agent?)"
            )));
        }
        let ev: Line = serde_json::from_value(value).map_err(|e| bad(e.to_string()))?;
        self.ders
            .add(&ev.certificates, &mut self.table)
            .map_err(|e| self.io(e))?;
        if ev.event == "start" {
            if self.seen_event {
                self.run = self.run.saturating_add(1);
            }
            self.next_seq = 0;
        }
        self.seen_event = true;
        if let Some(seq) = ev.seq {
            self.missing_seq = self
                .missing_seq
                .saturating_add(seq.saturating_sub(self.next_seq));
            self.next_seq = seq.saturating_add(1);
        }
        let run = self.run;
        match ev.event.as_str() {
            "flow" => {
                let (Some(id), Some(flow)) = (ev.id, ev.flow) else {
                    return Err(bad("a flow event without its id or record".into()));
                };
                let flow = self.ders.restore(flow, true);
                self.table.close((run, id), &flow).map_err(|e| self.io(e))?;
                *self.flow_events.entry(run).or_default() += 1;
            }
            "handshake" => {
                if let (Some(id), Some(flow)) = (ev.id, ev.flow) {
                    let flow = self.ders.restore(flow, false);
                    self.table
                        .opened((run, id), &flow)
                        .map_err(|e| self.io(e))?;
                }
            }
            "summary" => {
                let Some(report) = ev.report else {
                    return Err(bad("a summary event without its report".into()));
                };
                self.summaries.insert(run, report);
            }
            // start, flow-opened, stats, and events a later v1 adds.
            _ => {}
        }
        Ok(())
    }

    /// The stream read: each run's header (its summary, or counted from
    /// its flows when it has none) merged, the flows, and the warnings on
    /// what the stream lacked.
    fn finish(mut self) -> Result<Replayed, EventError> {
        let name = self.name;
        let unfinished = self
            .table
            .end_open(|flow| flow.ended_by = Some("stream-ended".into()))
            .map_err(|e| self.io(e))?;
        let runs = self.run + 1;
        let cut: Vec<u32> = (0..runs)
            .filter(|r| !self.summaries.contains_key(r))
            .collect();
        let mut report: Option<Report> = None;
        let mut uncounted = 0u64;
        for r in 0..runs {
            let header = match self.summaries.remove(&r) {
                Some(h) => {
                    let read = self.flow_events.get(&r).copied().unwrap_or(0);
                    uncounted = uncounted.saturating_add(h.stats.flows.abs_diff(read));
                    agent_said(name, h)
                }
                None => {
                    let mut header = HeaderCount::default();
                    self.table
                        .each_of_run(r, |f| header.add(f))
                        .map_err(|e| self.io(e))?;
                    header.report(name)
                }
            };
            match &mut report {
                None => report = Some(header),
                Some(m) => {
                    m.inputs.extend(header.inputs);
                    m.stats.absorb(&header.stats);
                    m.warnings.extend(header.warnings);
                }
            }
        }
        let io = |source| EventError::Io {
            name: name.to_string(),
            source,
        };
        let flows = self.table.finish().map_err(io)?;
        let mut report = report.unwrap_or_else(|| HeaderCount::default().report(name));
        report.flows.clear();
        let lacks = Lacks {
            cut: cut.len(),
            runs,
            read: flows.len(),
            unfinished,
            skipped: self.skipped,
            missing_seq: self.missing_seq,
            uncounted,
            unbacked: self.ders.unbacked,
        };
        report.warnings.extend(lacks.warnings(name));
        Ok(Replayed {
            report,
            flows,
            unenriched: None,
        })
    }
}

/// What a stream lacked, counted as it was read.
struct Lacks {
    /// Runs without a summary, of `runs`.
    cut: usize,
    runs: u32,
    /// Flows read, `unfinished` of them from their handshake only.
    read: usize,
    unfinished: usize,
    /// Lines that were not events.
    skipped: u64,
    /// Event lines missing (sequence gaps).
    missing_seq: u64,
    /// Flows the summaries count more or fewer than the stream carries.
    uncounted: u64,
    /// Flow records naming certificates whose bytes the stream lacks.
    unbacked: u64,
}

impl Lacks {
    fn warnings(&self, name: &str) -> Vec<Warning> {
        let mut out = Vec::new();
        let mut say = |kind, message| out.push(Warning { kind, message });
        if self.cut > 0 {
            say(
                WarningKind::EventsCut,
                format!(
                    "{name}: {} of {} agent runs in the stream ended without a summary (the agent was \
                     stopped or its log cut); {} flows were read, {} of them from their handshake only",
                    self.cut, self.runs, self.read, self.unfinished
                ),
            );
        }
        if self.runs > 1 {
            say(
                WarningKind::EventsRestarted,
                format!(
                    "{name}: the agent started {} times in this stream (restarted); each run's flows are kept",
                    self.runs
                ),
            );
        }
        if self.skipped > 0 {
            say(
                WarningKind::EventsSkipped,
                format!(
                    "{name}: {} lines were not events and were skipped",
                    self.skipped
                ),
            );
        }
        if self.missing_seq > 0 {
            say(
                WarningKind::EventsLost,
                format!(
                    "{name}: {} event lines are missing (sequence numbers skip)",
                    self.missing_seq
                ),
            );
        }
        if self.uncounted > 0 {
            say(
                WarningKind::EventsLost,
                format!(
                    "{name}: the agent's summary counts {} flows more or fewer than the stream carries; flow lines were lost or removed",
                    self.uncounted
                ),
            );
        }
        if self.unbacked > 0 {
            say(
                WarningKind::AgentReported,
                format!(
                    "{name}: {} flow records named certificates (or a TLS 1.2 handshake without any) the stream did not carry the bytes of; \
                     an agent's word is not evidence, so those certificates are not used (TA-CERT-UNCHECKED) and a client certificate \
                     without its bytes does not show mutual TLS",
                    self.unbacked
                ),
            );
        }
        out
    }
}

/// The header of an agent's summary, labelled as the agent's word: its
/// inputs name the stream that reported them, its warnings say who said
/// them.
fn agent_said(name: &str, mut h: Report) -> Report {
    for i in &mut h.inputs {
        i.reported_by = Some(name.to_string());
    }
    for w in &mut h.warnings {
        w.message = format!("agent ({name}): {}", w.message);
    }
    h
}

/// Certificate bytes carried by the stream, by SHA-256 (the oldest
/// dropped past `MAX_HELD_DER_BYTES`, which is twice what the writer sends
/// before it starts sending again), parsed once through a cache bounded by
/// bytes; and how many flows named certificates the stream never carried.
#[derive(Default)]
struct Ders {
    by_sha256: HashMap<String, Arc<[u8]>>,
    order: std::collections::VecDeque<String>,
    held: usize,
    parsed: crate::engine::certs::CertCache,
    unbacked: u64,
}

/// DER bytes the reader keeps (a stream of distinct 60 KB certificates
/// took 1.15 GiB from 80 MB before).
const MAX_HELD_DER_BYTES: usize = 2 * MAX_SENT_BYTES;

impl Ders {
    /// Parse what a line carries; bytes whose digest is not their name
    /// (a corrupted or forged stream) are ignored.
    /// The DER verified is also kept on disk with the stream's records
    /// (`table`), so records read back later get their bytes whatever this
    /// bounded map has forgotten by then.
    fn add(&mut self, certs: &BTreeMap<String, String>, table: &mut Table) -> std::io::Result<()> {
        for (sha256, b64) in certs {
            if self.by_sha256.contains_key(sha256) {
                continue;
            }
            let Ok(der) = BASE64.decode(b64) else {
                continue;
            };
            if crate::report::metadata::sha256_hex(&der) != *sha256 {
                continue;
            }
            table.der(sha256, &der)?;
            self.held += der.len();
            self.by_sha256.insert(sha256.clone(), Arc::from(der));
            self.order.push_back(sha256.clone());
            while self.held > MAX_HELD_DER_BYTES || self.order.len() > 2 * MAX_SENT {
                let Some(old) = self.order.pop_front() else {
                    break;
                };
                if let Some(d) = self.by_sha256.remove(&old) {
                    self.held -= d.len();
                }
            }
        }
        Ok(())
    }

    /// The record's certificates as the agent had them (with their bytes
    /// and validity in seconds, which the report's JSON leaves out).
    /// Provenance: a certificate the stream names without its bytes is a
    /// claim, not evidence; it is dropped and the flow's certificates are
    /// `certificates_unread: no-certificate-bytes` (TA-CERT-UNCHECKED), and
    /// mutual TLS shown by a client certificate without its bytes is
    /// undecided (`agent-unbacked`). A TLS 1.2 full handshake with no server
    /// certificate at all is the same claim.
    /// `count`: a flow's final record (its handshake event is counted
    /// with it, not apart).
    fn restore(&mut self, mut flow: FlowRecord, count: bool) -> FlowRecord {
        let Some(t) = flow.tls.as_deref_mut() else {
            return flow;
        };
        let before = t.server_chain.len() + t.client_chain.len();
        for chain in [&mut t.server_chain, &mut t.client_chain] {
            let backed: Vec<Arc<Certificate>> = chain
                .iter()
                .filter_map(|c| self.by_sha256.get(&c.sha256).map(Arc::clone))
                .map(|der| self.parsed.get(&der))
                .collect();
            *chain = backed;
        }
        let stripped = before != t.server_chain.len() + t.client_chain.len();
        let tls12_full = t.handshake_seen
            && t.resumed != Some(true)
            && matches!(
                t.version.as_deref(),
                Some("TLS1.2" | "TLS1.1" | "TLS1.0" | "SSL3.0")
            );
        let no_server_cert = tls12_full && t.server_chain.is_empty();
        // A capture that could not read them says so already.
        let unbacked = stripped || (no_server_cert && t.certificates_unread.is_none());
        if unbacked {
            t.certificates_unread = Some("no-certificate-bytes".into());
            if count {
                self.unbacked = self.unbacked.saturating_add(1);
            }
        }
        if t.mutual == Some(true)
            && t.mutual_evidence.as_deref() == Some("observed-client-certificate")
            && t.client_chain.is_empty()
        {
            t.mutual = None;
            t.mutual_evidence = None;
            t.mutual_unknown_reason = Some("agent-unbacked".into());
        }
        flow
    }
}

/// A header for a stream without a summary: counts from the flows read,
/// one at a time.
#[derive(Default)]
struct HeaderCount {
    stats: Stats,
    first: Option<CaptureTime>,
    last: Option<CaptureTime>,
}

impl HeaderCount {
    fn add(&mut self, f: &FlowRecord) {
        let stats = &mut self.stats;
        stats.count_flow(f);
        stats.packets = stats.packets.saturating_add(f.packets);
        stats.bytes = stats.bytes.saturating_add(f.bytes);
        if self.first.is_none_or(|t| f.first_seen < t) {
            self.first = Some(f.first_seen);
        }
        if self.last.is_none_or(|t| f.last_seen > t) {
            self.last = Some(f.last_seen);
        }
    }

    fn report(self, name: &str) -> Report {
        let stats = self.stats;
        Report {
            inputs: vec![Input {
                name: name.to_string(),
                format: "events".into(),
                packets: stats.packets,
                complete: false,
                live: None,
                first_packet: self.first.map(|t| t.to_string()),
                last_packet: self.last.map(|t| t.to_string()),
                reported_by: Some(name.to_string()),
            }],
            stats,
            ..Report::empty()
        }
    }
}

/// Lines of at most `MAX_LINE` bytes; a longer line is an error rather
/// than unbounded memory.
fn bounded_lines(mut input: impl BufRead) -> impl Iterator<Item = std::io::Result<Vec<u8>>> {
    std::iter::from_fn(move || {
        let mut line = Vec::new();
        loop {
            let buf = match input.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Some(Err(e)),
            };
            if buf.is_empty() {
                return (!line.is_empty()).then_some(Ok(line));
            }
            let (take, done) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (buf.len(), false),
            };
            if line.len() + take > MAX_LINE {
                return Some(Err(std::io::Error::other(format!(
                    "an event line is longer than {} MiB",
                    MAX_LINE >> 20
                ))));
            }
            line.extend_from_slice(&buf[..take]);
            input.consume(take);
            if done {
                return Some(Ok(line));
            }
        }
    })
}

#[cfg(test)]
mod tests;
