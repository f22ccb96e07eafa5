//! Where finished flow records go. In memory for the library's `Report`;
//! to a spill file for the command line, so memory stays flat however many
//! flows a capture holds: only a 16-byte index entry per flow stays resident.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::FileExt;

use crate::capture::Nanos;
use crate::model::report::FlowRecord;

/// Receives each flow record once, as its flow finishes (not in order).
/// Live consumers can also hear of flows as they open and as their
/// handshakes are decided.
pub trait FlowSink {
    /// A finished flow and its creation order.
    fn flow(&mut self, id: u64, record: FlowRecord);

    /// Whether [`FlowSink::opened`] and [`FlowSink::decided`] are wanted:
    /// building a record at decision time costs, so only live output asks.
    fn wants_progress(&self) -> bool {
        false
    }

    /// A flow's first packet was seen.
    fn opened(&mut self, _id: u64, _opened: &FlowOpened) {}

    /// A TLS flow's handshake is decided: the record as it stands then
    /// (counters still running; the record given to `flow` is the final one).
    fn decided(&mut self, _id: u64, _record: &FlowRecord) {}
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
}

impl SpillSink {
    /// A spill file in the system's temporary directory, unlinked at once
    /// so nothing is left behind whatever happens to the process.
    pub fn new() -> io::Result<Self> {
        let path = std::env::temp_dir().join(format!(
            "tls-audit-{}-{}.spill",
            std::process::id(),
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
        let reader = file.try_clone()?;
        Ok(SpillSink {
            writer: BufWriter::with_capacity(256 * 1024, file),
            reader,
            offset: 0,
            index: Vec::new(),
            error: None,
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
        })
    }
}

impl FlowSink for SpillSink {
    fn flow(&mut self, id: u64, record: FlowRecord) {
        if self.error.is_some() {
            return;
        }
        let bytes = match serde_json::to_vec(&record) {
            Ok(b) => b,
            Err(e) => {
                self.error = Some(io::Error::other(e));
                return;
            }
        };
        if let Err(e) = self.writer.write_all(&bytes) {
            self.error = Some(e);
            return;
        }
        self.index.push((id, self.offset, bytes.len() as u32));
        self.offset += bytes.len() as u64;
    }
}

/// Spilled records, readable one at a time in creation order.
pub struct Spilled {
    file: File,
    index: Vec<(u64, u64, u32)>,
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
    pub fn for_each_json(&self, mut f: impl FnMut(&[u8]) -> io::Result<()>) -> io::Result<()> {
        let mut buf = Vec::new();
        for &(_, offset, len) in &self.index {
            buf.resize(len as usize, 0);
            self.file.read_exact_at(&mut buf, offset)?;
            f(&buf)?;
        }
        Ok(())
    }

    /// Visit each record, in creation order.
    pub fn for_each(&self, mut f: impl FnMut(FlowRecord) -> io::Result<()>) -> io::Result<()> {
        self.for_each_json(|json| f(serde_json::from_slice(json).map_err(io::Error::other)?))
    }
}
