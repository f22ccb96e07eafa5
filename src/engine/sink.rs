//! Where finished flow records go. In memory for the library's `Report`;
//! to a spill file for the command line, so memory stays flat however many
//! flows a capture holds: only a 16-byte index entry per flow stays resident.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::FileExt;

use crate::capture::Nanos;
use crate::model::json_memo::JsonMemo;
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
    /// The JSON of certificates and key exchanges, made once for the
    /// flows that share them.
    memo: JsonMemo,
    /// A record's JSON, made here and then copied into the file's buffer
    /// whole: serde_json writes a record in hundreds of small pieces, and
    /// each piece costs less appended to a `Vec` than to a `BufWriter`
    /// (measured: 2-3 % of `analyze`'s wall time on the bench capture).
    scratch: Vec<u8>,
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
            memo: JsonMemo::default(),
            scratch: Vec::new(),
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
            helpers: 0,
            #[cfg(test)]
            bytes_read: std::sync::atomic::AtomicU64::new(0),
        })
    }
}

impl SpillSink {
    /// Spill `bytes` as the record of flow `id`, as they are (not a flow
    /// record's JSON): read back, in creation order, with
    /// [`Spilled::for_each_bytes`].
    pub fn bytes(&mut self, id: u64, bytes: &[u8]) {
        if self.error.is_none() {
            self.append(id, bytes);
        }
    }

    fn append(&mut self, id: u64, bytes: &[u8]) {
        let Ok(len) = u32::try_from(bytes.len()) else {
            self.error = Some(io::Error::other("a spilled record over 4 GiB"));
            return;
        };
        if let Err(e) = self.writer.write_all(bytes) {
            self.error = Some(e);
            return;
        }
        self.index.push((id, self.offset, len));
        self.offset += u64::from(len);
    }
}

impl FlowSink for SpillSink {
    fn flow(&mut self, id: u64, record: FlowRecord) {
        if self.error.is_some() {
            return;
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        match self.memo.write(&mut scratch, &record) {
            Ok(()) => self.append(id, &scratch),
            Err(e) => self.error = Some(io::Error::other(e)),
        }
        if scratch.capacity() <= SCRATCH_KEPT {
            self.scratch = scratch;
        }
    }
}

/// The most of a record's JSON buffer kept for the next record (a usual
/// record is 2 KiB; an unusual one is not held on to).
const SCRATCH_KEPT: usize = 256 << 10;

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
/// Small enough that the windows stay in the CPU's caches and cost few
/// page faults to make: with 1 MiB windows, writing the report on the
/// bench capture took 6.2 ms, a sixth of it faulting in and zeroing the
/// four fresh megabytes; with 64 KiB, 3.6 ms (medians of 7 runs; 128 KiB
/// 3.9, 256 KiB 4.0, 32 KiB 4.0). A record longer than this is read whole.
pub(super) const READ_WINDOW: usize = 64 << 10;
/// What is read at once after a jump in the file.
const FIRST_WINDOW: usize = 16 << 10;
/// Windows kept at once. Reading in creation order follows a few
/// sequential runs of the file at once: the flows finished at the end of a
/// capture (written in creation order) interleave with those finished while
/// it was read. With one window, each switch between two runs read a fresh
/// window and dropped the other's: 36 MB read for 20 MB of records.
const WINDOWS: usize = 4;

/// A part of the spill file read into memory.
#[derive(Default)]
struct Window {
    /// Where `buf` starts in the file.
    at: u64,
    /// The bytes read, in `buf[..filled]`. `buf` only grows: shrinking
    /// and growing it again zeroed it at every read after a jump.
    buf: Vec<u8>,
    filled: usize,
    /// How much its last read asked for (a sequential read asks twice as
    /// much, up to `READ_WINDOW`).
    ahead: usize,
    /// Where the last record taken from this window ends.
    next: Option<u64>,
    /// When it was last used (records visited so far).
    used: u64,
}

impl Window {
    /// Where the record at `offset` starts in `buf`, if `buf` holds it.
    fn holds(&self, offset: u64, len: usize) -> Option<usize> {
        offset
            .checked_sub(self.at)
            .and_then(|d| usize::try_from(d).ok())
            .filter(|&d| d.saturating_add(len) <= self.filled)
    }
}

/// Spilled records, readable one at a time in creation order.
pub struct Spilled {
    file: File,
    index: Vec<(u64, u64, u32)>,
    /// Bytes written (where the file ends).
    pub(super) end: u64,
    /// Threads that parse records ahead of [`Spilled::for_each`]'s caller
    /// (none: the caller parses them).
    helpers: usize,
    /// Bytes read back so far (tests check that little is read twice).
    #[cfg(test)]
    pub(super) bytes_read: std::sync::atomic::AtomicU64,
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

    /// Visit each record's bytes, in creation order: what
    /// [`SpillSink::bytes`] spilled.
    pub fn for_each_bytes(&self, f: impl FnMut(&[u8]) -> io::Result<()>) -> io::Result<()> {
        self.for_each_json(f)
    }

    /// Visit each record's compact JSON, in creation order.
    ///
    /// Records were written as flows finished, which is mostly creation
    /// order, so they are read through windows of the file (`WINDOWS` of
    /// them, one per sequential run being followed) that grow while reading
    /// stays sequential (up to `READ_WINDOW`) and start at `FIRST_WINDOW`
    /// after a jump: few reads for the common order (a read
    /// per record cost a tenth of `analyze` on a capture of short
    /// connections), and little read ahead in vain when records come from
    /// all over the file.
    pub fn for_each_json(&self, mut f: impl FnMut(&[u8]) -> io::Result<()>) -> io::Result<()> {
        let mut cursor = Cursor::new(self);
        for &(_, offset, len) in &self.index {
            f(cursor.record(offset, len)?)?;
        }
        Ok(())
    }

    /// Read the part of the file starting with the record at `offset`
    /// into a window: the one whose last record ends there (reading on
    /// sequentially, twice as much as it read last), else a new one or the
    /// least recently used; returns its place in `windows`.
    fn read_window(&self, windows: &mut Vec<Window>, offset: u64, len: usize) -> io::Result<usize> {
        let go_on = windows.iter().position(|w| w.next == Some(offset));
        let i = match go_on {
            Some(i) => i,
            None if windows.len() < WINDOWS => {
                windows.push(Window::default());
                windows.len() - 1
            }
            None => windows
                .iter()
                .enumerate()
                .min_by_key(|(_, w)| w.used)
                .map_or(0, |(i, _)| i),
        };
        let w = windows
            .get_mut(i)
            .ok_or_else(|| io::Error::other("spill read window missing"))?;
        w.ahead = if go_on.is_some() {
            w.ahead.saturating_mul(2).min(READ_WINDOW)
        } else {
            FIRST_WINDOW
        };
        let left = usize::try_from(self.end.saturating_sub(offset)).unwrap_or(usize::MAX);
        let want = w.ahead.min(left).max(len);
        if w.buf.len() < want {
            // What it held is read again anyway: not copied over. Made at
            // once as large as a window reads (or the file, if smaller):
            // growing it as reads doubled allocated and zeroed a new buffer
            // at each step, twice the bytes (writing the report on the
            // bench capture: 9.9 against 10.9 ms, medians of 10 runs).
            let full = READ_WINDOW.min(usize::try_from(self.end).unwrap_or(usize::MAX));
            w.buf = vec![0; want.max(full)];
        }
        w.filled = 0;
        let buf = w
            .buf
            .get_mut(..want)
            .ok_or_else(|| io::Error::other("spill read window too small"))?;
        self.file.read_exact_at(buf, offset)?;
        #[cfg(test)]
        self.bytes_read
            .fetch_add(want as u64, std::sync::atomic::Ordering::Relaxed);
        w.filled = want;
        w.at = offset;
        Ok(i)
    }

    /// Overwrite the first byte of the `n`th record (creation order), so
    /// that it cannot be parsed.
    #[cfg(test)]
    pub(super) fn damage_record(&self, n: usize) {
        let (_, offset, _) = self.index[n];
        self.file
            .write_all_at(b"x", offset)
            .expect("write the spill file");
    }

    /// Parse records on `helpers` threads of their own, ahead of
    /// [`Spilled::for_each`]'s caller (0, the default: on the caller's).
    /// The records and their order are the same either way.
    #[must_use]
    pub fn parsed_by(mut self, helpers: usize) -> Self {
        self.helpers = helpers;
        self
    }

    /// Visit each record, in creation order.
    ///
    /// Parsing the JSON back is most of the work of a pass over the
    /// records (a table's, the inventory's in report order, a whole
    /// report's): with helpers ([`Spilled::parsed_by`]), batches of
    /// `PARSED_BATCH` records are parsed on their threads, each taking
    /// every `helpers`-th batch, and handed to the caller in order through
    /// queues one batch deep, so memory stays bounded whatever the number
    /// of records. Should a helper not start, the caller parses its
    /// batches. Errors come in the same order as without helpers: the
    /// records before the first that cannot be read or parsed are visited,
    /// then its error is returned.
    pub fn for_each(&self, mut f: impl FnMut(FlowRecord) -> io::Result<()>) -> io::Result<()> {
        if self.helpers == 0 || self.index.len() <= PARSED_BATCH {
            return self
                .for_each_json(|json| f(serde_json::from_slice(json).map_err(io::Error::other)?));
        }
        let helpers = self.helpers;
        std::thread::scope(|scope| {
            let mut lanes = Vec::with_capacity(helpers);
            for lane in 0..helpers {
                let (give, take) = std::sync::mpsc::sync_channel::<Parsed>(1);
                let started = std::thread::Builder::new()
                    .name("tls-audit-parse".into())
                    .spawn_scoped(scope, move || {
                        let mut cursor = Cursor::new(self);
                        for batch in self.index.chunks(PARSED_BATCH).skip(lane).step_by(helpers) {
                            let parsed = cursor.parse(batch);
                            let failed = parsed.1.is_some();
                            // The caller stopped (an error of its own).
                            if give.send(parsed).is_err() || failed {
                                return;
                            }
                        }
                    });
                lanes.push(started.ok().map(|_| take));
            }
            let mut own = Cursor::new(self);
            for (b, batch) in self.index.chunks(PARSED_BATCH).enumerate() {
                let (records, error) = match lanes.get(b % helpers) {
                    Some(Some(lane)) => lane
                        .recv()
                        .map_err(|_| io::Error::other("a thread parsing the spill file stopped"))?,
                    _ => own.parse(batch),
                };
                for record in records {
                    f(record)?;
                }
                if let Some(e) = error {
                    return Err(e);
                }
            }
            Ok(())
        })
    }
}

/// Records a helper parses at once (see [`Spilled::for_each`]): big
/// enough that handing them over costs little, small enough that the
/// batches in flight hold little memory.
const PARSED_BATCH: usize = 128;

/// A batch of parsed records, and the error that cut it short if one did.
type Parsed = (Vec<FlowRecord>, Option<io::Error>);

/// Reads records back from a spill file, through its own windows.
struct Cursor<'a> {
    spilled: &'a Spilled,
    windows: Vec<Window>,
    visited: u64,
}

impl<'a> Cursor<'a> {
    fn new(spilled: &'a Spilled) -> Self {
        Cursor {
            spilled,
            windows: Vec::with_capacity(WINDOWS),
            visited: 0,
        }
    }

    /// The bytes (a flow record's JSON, or what [`SpillSink::bytes`]
    /// spilled) of the record at `offset`.
    fn record(&mut self, offset: u64, len: u32) -> io::Result<&[u8]> {
        self.visited += 1;
        let len = len as usize;
        let held = self
            .windows
            .iter()
            .enumerate()
            .find_map(|(i, w)| w.holds(offset, len).map(|from| (i, from)));
        let (i, from) = match held {
            Some(held) => held,
            None => (self.spilled.read_window(&mut self.windows, offset, len)?, 0),
        };
        let w = self
            .windows
            .get_mut(i)
            .ok_or_else(|| io::Error::other("spill read window missing"))?;
        w.next = Some(offset + len as u64);
        w.used = self.visited;
        w.buf
            .get(..w.filled)
            .and_then(|read| read.get(from..from + len))
            .ok_or_else(|| io::Error::other("spill record outside the read window"))
    }

    /// The records of `batch` (index entries), parsed.
    fn parse(&mut self, batch: &[(u64, u64, u32)]) -> Parsed {
        let mut records = Vec::with_capacity(batch.len());
        for &(_, offset, len) in batch {
            let parsed = self
                .record(offset, len)
                .and_then(|json| serde_json::from_slice(json).map_err(io::Error::other));
            match parsed {
                Ok(r) => records.push(r),
                Err(e) => return (records, Some(e)),
            }
        }
        (records, None)
    }
}
