//! A regular legacy pcap file read ahead by a thread of its own (`analyze
//! --threads 2` and more), its records parsed in place.
//!
//! `perf` puts about a third of a one-thread run's samples in the kernel
//! copying the file through `read(2)`. Here the file is read in 1 MiB
//! chunks at fixed offsets (`pread`), each claimed from a shared counter by
//! whichever thread reads it: a reading thread claims the next chunk as
//! soon as it has sent the last one (at most [`AHEAD`] waiting), and the
//! analysing thread, when the chunk it needs is not there yet, claims and
//! reads the next one nobody claimed instead of waiting idle. Where
//! analysing is quicker than reading (bulk transfers) the two share the
//! copy; where it is slower (handshakes) the reading thread keeps ahead.
//! The analysing thread takes the chunks in file order and reads the
//! records where they lie in them: it touches their headers and the bytes
//! it parses, not every byte a second time. Should the reading thread not
//! start, the analysing thread reads every chunk itself.
//!
//! Only whole, ordinary records are read from the chunks (see
//! `CaptureReader::next_with`): one cut by a chunk's end is joined in front
//! of the next chunk (each chunk keeps [`CARRY`] free bytes ahead of its
//! data for it). The file header, and everything from the first record
//! that is not whole and ordinary (cut or corrupt, as long as the
//! streaming reader's first buffer or longer, the end of the file, a read
//! error), go through `pcap_parser` as a stream, as for a file read
//! without this thread: [`Ahead::into_stream`] gives it the bytes.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, SyncSender, TryRecvError, channel, sync_channel};

/// Bytes in one chunk.
const CHUNK: usize = 1 << 20;
/// Chunks the reading thread reads ahead of the analysing thread: what it
/// will read next stays in the shared cache.
const AHEAD: usize = 3;
/// Free bytes in front of each chunk's data, for the end of a record cut by
/// the previous chunk's end: ordinary records are shorter (see
/// [`Ahead::record`]).
pub(super) const CARRY: usize = super::reader::INITIAL_BUFFER;
/// Where chunk 0 starts: right after the pcap header.
const START: u64 = super::reader::LEGACY_HEADER as u64;

/// One chunk of the file, as read.
struct Piece {
    /// Its bytes, from offset [`CARRY`] (none past the end of the file).
    buf: Vec<u8>,
    /// Set when the file ends in this chunk or reading it failed: nothing
    /// after it is read.
    end: Option<End>,
}

impl Piece {
    /// No bytes: the chunks went wrong, said with `why`.
    fn failed(why: &str) -> Piece {
        Piece {
            buf: Vec::new(),
            end: Some(End::Failed(std::io::Error::other(why.to_string()))),
        }
    }
}

/// Why a file read ahead stops.
enum End {
    /// It ended.
    Eof,
    /// Reading failed.
    Failed(std::io::Error),
}

/// The file, and which of its chunks were claimed: each chunk is read once,
/// by whichever thread claims it.
struct Source {
    file: File,
    claimed: AtomicU64,
}

impl Source {
    /// The first chunk nobody claimed yet, now this thread's.
    fn claim(&self) -> u64 {
        self.claimed.fetch_add(1, Ordering::Relaxed)
    }

    /// Read chunk `index` into `buf` (after [`CARRY`] free bytes).
    fn read(&self, index: u64, mut buf: Vec<u8>) -> Piece {
        buf.resize(CARRY.saturating_add(CHUNK), 0);
        let at = index
            .checked_mul(CHUNK as u64)
            .and_then(|o| o.checked_add(START));
        let mut filled = CARRY;
        let mut end = None;
        while let Some(room) = buf.get_mut(filled..).filter(|r| !r.is_empty()) {
            let Some(offset) =
                at.and_then(|at| at.checked_add(filled.saturating_sub(CARRY) as u64))
            else {
                end = Some(End::Eof);
                break;
            };
            match self.file.read_at(room, offset) {
                Ok(0) => {
                    end = Some(End::Eof);
                    break;
                }
                // A reader reports at most the bytes it was given room for.
                Ok(n) => filled = filled.saturating_add(n),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    end = Some(End::Failed(e));
                    break;
                }
            }
        }
        buf.truncate(filled);
        Piece { buf, end }
    }
}

/// The analysing side: chunks in, records out.
pub(super) struct Ahead {
    source: Arc<Source>,
    /// The reading thread's chunks, in the order it claimed them.
    chunks: Receiver<(u64, Piece)>,
    spare: Sender<Vec<u8>>,
    /// The chunk being read; its unread bytes are `buf[at..]`.
    buf: Vec<u8>,
    at: usize,
    /// The index of the next chunk to read.
    next: u64,
    /// A chunk this thread claimed and read while waiting for an earlier
    /// one (at most one at a time).
    own: Option<(u64, Piece)>,
    /// A spent buffer kept for this thread's own reads.
    mine: Option<Vec<u8>>,
    /// Chunks this thread read itself.
    pub(super) own_reads: u64,
    /// Why the chunks ended, once they did.
    last: Option<End>,
    /// The reading thread, joined when this is dropped.
    thread: Option<std::thread::JoinHandle<()>>,
    /// The file's pcap header, for the stream should it take over.
    header: Vec<u8>,
}

impl Drop for Ahead {
    /// The reading thread does not outlive the reader: with the chunks'
    /// receiver gone its next send fails and it ends (a read of a regular
    /// file returns first).
    fn drop(&mut self) {
        let (_, gone) = sync_channel(0);
        drop(std::mem::replace(&mut self.chunks, gone));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Ahead {
    /// Start a thread reading `file` from past its pcap header, `header`.
    /// Should the thread not start, this thread reads every chunk itself.
    pub(super) fn start(file: File, header: Vec<u8>) -> Ahead {
        Ahead::start_with(file, header, Some(std::time::Duration::ZERO))
    }

    /// [`Ahead::start`], the reading thread pausing `pace` before each
    /// chunk; no reading thread with `None` (tests: both share the
    /// reading, or this thread reads alone).
    pub(super) fn start_with(
        file: File,
        header: Vec<u8>,
        pace: Option<std::time::Duration>,
    ) -> Ahead {
        let source = Arc::new(Source {
            file,
            claimed: AtomicU64::new(0),
        });
        let (tx, chunks) = sync_channel(AHEAD);
        let (spare, spares) = channel();
        let theirs = Arc::clone(&source);
        // When it cannot start, the closure and its sender are dropped:
        // the chunks' channel is then closed from the start.
        let thread = pace.and_then(|pace| {
            std::thread::Builder::new()
                .name("tls-audit-read".into())
                .spawn(move || fill(&theirs, &tx, &spares, pace))
                .ok()
        });
        Ahead {
            source,
            chunks,
            spare,
            buf: Vec::new(),
            at: 0,
            next: 0,
            own: None,
            mine: None,
            own_reads: 0,
            last: None,
            thread,
            header,
        }
    }

    /// The next record if it is whole and ordinary (shorter than the
    /// streaming reader's first buffer): its header's four words and its
    /// data. `None`: the stream must take over from here.
    pub(super) fn record(&mut self, big_endian: bool) -> Option<([u32; 4], &[u8])> {
        loop {
            let rest = self.buf.get(self.at..).unwrap_or_default();
            let short = rest.len() < CARRY;
            let found =
                super::reader::legacy_record(rest, big_endian).map(|(len, words, _)| (len, words));
            match found {
                Some((len, _)) if len >= CARRY => return None,
                Some((len, words)) => {
                    let start = self.at.saturating_add(16);
                    let end = self.at.saturating_add(len);
                    self.at = end;
                    // The next record's headers are fetched while this one
                    // is analysed.
                    prefetch(self.buf.get(end..).unwrap_or_default());
                    return Some((words, self.buf.get(start..end)?));
                }
                // Cut by the chunk's end, and short enough to be joined to
                // the next one.
                None if short && self.next_chunk() => {}
                None => return None,
            }
        }
    }

    /// Move to the next chunk, the unread bytes of this one joined in front
    /// of it; `false` when there is none.
    fn next_chunk(&mut self) -> bool {
        if self.last.is_some() {
            return false;
        }
        let Piece { buf: mut next, end } = self.take(self.next);
        self.next = self.next.saturating_add(1);
        self.last = end;
        if next.len() <= CARRY {
            self.last.get_or_insert(End::Eof);
            self.recycle(next);
            return false;
        }
        let rest = self.buf.get(self.at..).unwrap_or_default();
        let from = CARRY.saturating_sub(rest.len());
        if let Some(room) = next.get_mut(from..CARRY) {
            room.copy_from_slice(rest);
        }
        let spent = std::mem::replace(&mut self.buf, next);
        self.recycle(spent);
        self.at = from;
        true
    }

    /// Chunk `want`: the one this thread read itself, or the reading
    /// thread's. While the reading thread has not finished it, this thread
    /// claims and reads the next chunk nobody claimed instead of waiting
    /// idle (where analysing is quicker than reading, the two threads
    /// then share the reading).
    fn take(&mut self, want: u64) -> Piece {
        if let Some((_, piece)) = self.own.take_if(|(i, _)| *i == want) {
            return piece;
        }
        let got = match self.chunks.try_recv() {
            Ok(got) => Some(got),
            Err(TryRecvError::Empty) => {
                if self.own.is_none() {
                    let index = self.source.claim();
                    let piece = self.read_here(index);
                    if index == want {
                        // Nobody had claimed it.
                        return piece;
                    }
                    self.own = Some((index, piece));
                }
                self.chunks.recv().ok()
            }
            Err(TryRecvError::Disconnected) => None,
        };
        match got {
            Some((index, piece)) if index == want => piece,
            // The reading thread claims chunks in order and sends each, so
            // the next it sends is `want` unless this thread claimed it.
            Some(_) => Piece::failed("chunks read ahead out of order"),
            // The reading thread has ended (or never started): what it had
            // claimed was sent, so `want` is nobody's yet.
            None => {
                let index = self.source.claim();
                if index == want {
                    self.read_here(index)
                } else {
                    Piece::failed("a chunk read ahead went missing")
                }
            }
        }
    }

    /// Read chunk `index` on this thread.
    fn read_here(&mut self, index: u64) -> Piece {
        self.own_reads = self.own_reads.saturating_add(1);
        let buf = self.mine.take().unwrap_or_default();
        self.source.read(index, buf)
    }

    /// A spent chunk buffer: kept for this thread's own reads, or given
    /// back to the reading thread.
    fn recycle(&mut self, buf: Vec<u8>) {
        if self.mine.is_none() {
            self.mine = Some(buf);
        } else {
            // The reading thread may have ended: the buffer is then dropped.
            let _ = self.spare.send(buf);
        }
    }

    /// The pcap header followed by every byte not yet read, as a stream:
    /// what `pcap_parser` reads from here on.
    pub(super) fn into_stream(mut self) -> impl Read + Send + 'static {
        Stream {
            header: std::mem::take(&mut self.header),
            header_at: 0,
            ahead: self,
        }
    }
}

/// Ask the CPU to bring the first two cache lines of `bytes` (a record's
/// header and its frame's headers) closer while other work goes on: the
/// chunk was written by the reading thread's core, and waiting for it is
/// otherwise most of the cost of reading records in place.
#[allow(unsafe_code)]
fn prefetch(bytes: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    for line in bytes.iter().step_by(64).take(2) {
        // SAFETY: a prefetch is only a hint: it never faults nor changes
        // memory, and the address is a byte of a live slice.
        unsafe {
            use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(line).cast::<i8>());
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = bytes;
}

/// The reading thread: the next unclaimed chunk, until the end of the
/// file, an error, or the analysing side going away.
fn fill(
    source: &Source,
    tx: &SyncSender<(u64, Piece)>,
    spares: &Receiver<Vec<u8>>,
    pace: std::time::Duration,
) {
    loop {
        if !pace.is_zero() {
            std::thread::sleep(pace);
        }
        let index = source.claim();
        let piece = source.read(index, spares.try_recv().unwrap_or_default());
        let ended = piece.end.is_some();
        if tx.send((index, piece)).is_err() || ended {
            return;
        }
    }
}

/// The stream `pcap_parser` reads once the records are no longer read
/// from the chunks: the header, the unread bytes, the chunks still to come.
struct Stream {
    header: Vec<u8>,
    header_at: usize,
    ahead: Ahead,
}

impl Read for Stream {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let header = self.header.get(self.header_at..).unwrap_or_default();
        let held = if header.is_empty() {
            loop {
                let a = &mut self.ahead;
                if a.at < a.buf.len() {
                    break a.buf.get(a.at..).unwrap_or_default();
                }
                if !a.next_chunk() {
                    return match a.last.replace(End::Eof) {
                        Some(End::Failed(e)) => Err(e),
                        _ => Ok(0),
                    };
                }
            }
        } else {
            header
        };
        let n = held.len().min(out.len());
        if let (Some(to), Some(from)) = (out.get_mut(..n), held.get(..n)) {
            to.copy_from_slice(from);
        }
        if self.header_at < self.header.len() {
            self.header_at = self.header_at.saturating_add(n);
        } else {
            self.ahead.at = self.ahead.at.saturating_add(n);
        }
        Ok(n)
    }
}
