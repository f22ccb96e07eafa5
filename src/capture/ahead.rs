//! A regular legacy pcap file read ahead by a thread of its own (`analyze
//! --threads 2` and more), its records parsed in place.
//!
//! `perf` puts about a third of a one-thread run's samples in the kernel
//! copying the file through `read(2)`. Here a reading thread makes that
//! copy into chunk buffers while the analysing thread works, and the
//! analysing thread reads the records where they lie in the chunks: it
//! touches their headers and the bytes it parses, not every byte a second
//! time. What that saved in wall time was less than the samples suggested
//! (`docs/threads.md`, "What it costs").
//!
//! Only whole, ordinary records are read from the chunks (see
//! `CaptureReader::next_with`): one cut by a chunk's end is joined in front
//! of the next chunk (each chunk keeps [`CARRY`] free bytes ahead of its
//! data for it). The file header, and everything from the first record
//! that is not whole and ordinary (cut or corrupt, as long as the
//! streaming reader's first buffer or longer, the end of the file, a read
//! error), go through `pcap_parser` as a stream, as for a file read
//! without this thread: [`Ahead::into_stream`] gives it the bytes.

use std::io::Read;
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};

/// Bytes the reading thread reads into one chunk.
const CHUNK: usize = 1 << 20;
/// Chunks read ahead of the analysing thread: what it will read next stays
/// in the shared cache.
const AHEAD: usize = 3;
/// Free bytes in front of each chunk's data, for the end of a record cut by
/// the previous chunk's end: ordinary records are shorter (see
/// [`Ahead::record`]).
pub(super) const CARRY: usize = super::reader::INITIAL_BUFFER;

/// What the reading thread sends.
enum Chunk {
    /// Bytes, from offset [`CARRY`] of the buffer.
    Data(Vec<u8>),
    /// The file ended.
    End,
    /// Reading failed.
    Failed(std::io::Error),
}

/// The analysing side: chunks in, records out.
pub(super) struct Ahead {
    chunks: Receiver<Chunk>,
    spare: Sender<Vec<u8>>,
    /// The chunk being read; its unread bytes are `buf[at..]`.
    buf: Vec<u8>,
    at: usize,
    /// What came after the last chunk, once it came: the end or an error.
    last: Option<Chunk>,
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
    /// Start a thread reading `file` (positioned after the pcap header,
    /// `header`). Gives `file` back when the thread cannot be started.
    pub(super) fn start<R: Read + Send + 'static>(file: R, header: Vec<u8>) -> Result<Ahead, R> {
        let (tx, chunks) = sync_channel(AHEAD);
        let (spare, spares) = channel();
        // The file goes to the thread once it runs, so that it is still
        // here should it not start.
        let (give, take) = sync_channel::<R>(1);
        let started = std::thread::Builder::new()
            .name("tls-audit-read".into())
            .spawn(move || {
                if let Ok(file) = take.recv() {
                    fill(file, &tx, &spares);
                }
            });
        let Ok(thread) = started else {
            return Err(file);
        };
        // Fails only if the thread has ended already.
        give.send(file).map_err(|refused| refused.0)?;
        Ok(Ahead {
            chunks,
            spare,
            buf: Vec::new(),
            at: 0,
            last: None,
            thread: Some(thread),
            header,
        })
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
        let mut next = match self.chunks.recv() {
            Ok(Chunk::Data(next)) => next,
            Ok(other) => {
                self.last = Some(other);
                return false;
            }
            Err(_) => {
                self.last = Some(Chunk::End);
                return false;
            }
        };
        let rest = self.buf.get(self.at..).unwrap_or_default();
        let from = CARRY.saturating_sub(rest.len());
        if let Some(room) = next.get_mut(from..CARRY) {
            room.copy_from_slice(rest);
        }
        let spent = std::mem::replace(&mut self.buf, next);
        // The reading thread may have ended: the buffer is then dropped.
        let _ = self.spare.send(spent);
        self.at = from;
        true
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

/// The reading thread: chunks until the end of the file, an error, or the
/// analysing side going away.
fn fill<R: Read>(mut file: R, tx: &SyncSender<Chunk>, spares: &Receiver<Vec<u8>>) {
    loop {
        let mut buf = spares.try_recv().unwrap_or_default();
        buf.resize(CARRY.saturating_add(CHUNK), 0);
        let mut filled = CARRY;
        let mut failed = None;
        while let Some(room) = buf.get_mut(filled..).filter(|r| !r.is_empty()) {
            match file.read(room) {
                Ok(0) => break,
                // A reader reports at most the bytes it was given room for.
                Ok(n) => filled = filled.saturating_add(n),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        let ended = filled < buf.len();
        buf.truncate(filled);
        if filled > CARRY && tx.send(Chunk::Data(buf)).is_err() {
            return;
        }
        if let Some(e) = failed {
            let _ = tx.send(Chunk::Failed(e));
            return;
        }
        if ended {
            let _ = tx.send(Chunk::End);
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
                    return match a.last.take() {
                        Some(Chunk::Failed(e)) => Err(e),
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
