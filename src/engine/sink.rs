//! Where finished flow records go. In memory for the library's `Report`;
//! to a spill file for the command line, so memory stays flat however many
//! flows a capture holds: only a 16-byte index entry per flow stays resident.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::FileExt;

use crate::capture::Nanos;
use crate::model::cert_json::CertJson;
use crate::model::report::FlowRecord;

/// Receives each flow record once, as its flow finishes (not in order).
/// Live consumers can also hear of flows as they open and as their
/// handshakes are decided.
///
/// A sink that wraps another (verifies, counts or enriches records, then
/// passes them on) names it in [`FlowSink::inner`]: every method it does
/// not state is passed on to that sink unchanged.
pub trait FlowSink {
    /// A finished flow and its creation order.
    fn flow(&mut self, id: u64, record: FlowRecord);

    /// The sink this one passes records on to; `None` (the default) at the
    /// end of the chain, where the other methods' defaults do nothing.
    fn inner(&self) -> Option<&dyn FlowSink> {
        None
    }

    /// [`FlowSink::inner`], to pass a call on.
    fn inner_mut(&mut self) -> Option<&mut dyn FlowSink> {
        None
    }

    /// Whether [`FlowSink::opened`] and [`FlowSink::decided`] are wanted:
    /// building a record at decision time costs, so only live output asks.
    fn wants_progress(&self) -> bool {
        self.inner().is_some_and(|s| s.wants_progress())
    }

    /// A flow's first packet was seen.
    fn opened(&mut self, id: u64, opened: &FlowOpened) {
        if let Some(s) = self.inner_mut() {
            s.opened(id, opened);
        }
    }

    /// A TLS flow's handshake is decided: the record as it stands then
    /// (counters still running; the record given to `flow` is the final one).
    fn decided(&mut self, id: u64, record: &FlowRecord) {
        if let Some(s) = self.inner_mut() {
            s.decided(id, record);
        }
    }

    /// A live capture's clock ticked (about once a second, with or without
    /// packets): a sink that holds flows may pass some on.
    fn tick(&mut self) {
        if let Some(s) = self.inner_mut() {
            s.tick();
        }
    }
}

/// The first packet of a flow: who sent it to whom. (The client is only
/// known later, from the SYN or the ClientHello.)
#[derive(Debug, Clone, Copy)]
pub struct FlowOpened {
    /// `tcp`, `udp` or `esp`.
    pub transport: &'static str,
    /// Sender of the first packet.
    pub src: std::net::SocketAddr,
    /// Its receiver.
    pub dst: std::net::SocketAddr,
    /// When it was captured.
    pub ts: Nanos,
}

/// Keeps every record in memory.
#[derive(Default)]
pub struct MemorySink {
    records: Vec<(u64, FlowRecord)>,
}

impl FlowSink for MemorySink {
    fn flow(&mut self, id: u64, record: FlowRecord) {
        self.records.push((id, record));
    }
}

impl MemorySink {
    /// The records in creation order.
    pub fn into_sorted(mut self) -> Vec<FlowRecord> {
        self.records.sort_by_key(|(id, _)| *id);
        self.records.into_iter().map(|(_, r)| r).collect()
    }
}

/// Writes each record as compact JSON to an unlinked temporary file.
pub struct SpillSink {
    writer: BufWriter<File>,
    reader: File,
    offset: u64,
    index: Vec<(u64, u64, u32)>,
    error: Option<io::Error>,
    buf: Vec<u8>,
    /// Certificates' JSON, made once for the flows that share them.
    certs: CertJson,
}

impl SpillSink {
    /// A spill file in the system's temporary directory, unlinked at once
    /// so nothing is left behind whatever happens to the process.
    pub fn new() -> io::Result<Self> {
        let file = unlinked_temp_file()?;
        let reader = file.try_clone()?;
        Ok(SpillSink {
            writer: BufWriter::with_capacity(256 * 1024, file),
            reader,
            offset: 0,
            index: Vec::new(),
            error: None,
            buf: Vec::new(),
            certs: CertJson::default(),
        })
    }

    /// Finish writing; the records become readable in creation order.
    pub fn into_spilled(mut self) -> io::Result<Spilled> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.writer.flush()?;
        self.index.sort_unstable_by_key(|(id, _, _)| *id);
        Ok(Spilled {
            file: self.reader,
            index: self.index,
            end: self.offset,
        })
    }
}

impl FlowSink for SpillSink {
    fn flow(&mut self, id: u64, record: FlowRecord) {
        if self.error.is_some() {
            return;
        }
        // One buffer for every record (a fresh one grew by doubling each time).
        let bytes = &mut self.buf;
        bytes.clear();
        if let Err(e) = self.certs.write(&mut *bytes, &record) {
            self.error = Some(io::Error::other(e));
            return;
        }
        if let Err(e) = self.writer.write_all(bytes) {
            self.error = Some(e);
            return;
        }
        self.index.push((id, self.offset, bytes.len() as u32));
        self.offset += bytes.len() as u64;
    }
}

/// A new file in the system's temporary directory, unlinked at once so
/// nothing is left behind whatever happens to the process.
pub(crate) fn unlinked_temp_file() -> io::Result<File> {
    static MADE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let path = std::env::temp_dir().join(format!(
        "tls-audit-{}-{}-{}.spill",
        std::process::id(),
        MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
    ));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)?;
    std::fs::remove_file(&path)?;
    Ok(file)
}

/// The most bytes of the spill file read at once when reading records back.
const READ_WINDOW: usize = 1 << 20;
/// What is read at once after a jump in the file.
const FIRST_WINDOW: usize = 16 << 10;

/// Spilled records, readable one at a time in creation order.
pub struct Spilled {
    file: File,
    index: Vec<(u64, u64, u32)>,
    /// Bytes written (where the file ends).
    end: u64,
}

impl Spilled {
    /// How many records.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Visit each record's compact JSON, in creation order.
    ///
    /// Records were written as flows finished, which is mostly creation
    /// order, so they are read through a window of the file that grows
    /// while reading stays sequential (up to `READ_WINDOW`) and shrinks back
    /// to `FIRST_WINDOW` at a jump: few reads for the common order (a read
    /// per record cost a tenth of `analyze` on a capture of short
    /// connections), and little read ahead in vain when records come from
    /// all over the file.
    pub fn for_each_json(&self, mut f: impl FnMut(&[u8]) -> io::Result<()>) -> io::Result<()> {
        let mut window = Vec::new();
        let mut window_at = 0u64;
        let mut ahead = FIRST_WINDOW;
        let mut last_end = 0u64;
        for &(_, offset, len) in &self.index {
            let len = len as usize;
            let from = offset
                .checked_sub(window_at)
                .and_then(|d| usize::try_from(d).ok())
                .filter(|&d| d.saturating_add(len) <= window.len());
            let from = match from {
                Some(from) => from,
                None => {
                    ahead = if offset == last_end {
                        (ahead * 2).min(READ_WINDOW)
                    } else {
                        FIRST_WINDOW
                    };
                    let left =
                        usize::try_from(self.end.saturating_sub(offset)).unwrap_or(usize::MAX);
                    window.resize(ahead.min(left).max(len), 0);
                    self.file.read_exact_at(&mut window, offset)?;
                    window_at = offset;
                    0
                }
            };
            last_end = offset + len as u64;
            let record = window
                .get(from..from + len)
                .ok_or_else(|| io::Error::other("spill record outside the read window"))?;
            f(record)?;
        }
        Ok(())
    }

    /// Visit each record, in creation order.
    pub fn for_each(&self, mut f: impl FnMut(FlowRecord) -> io::Result<()>) -> io::Result<()> {
        self.for_each_json(|json| f(serde_json::from_slice(json).map_err(io::Error::other)?))
    }
}
