//! Reading a large capture file ahead, on a thread of its own.
//!
//! Copying the file out of the page cache (`read(2)`) was the largest single
//! cost of `analyze` on a large capture (about a quarter of its CPU, issue
//! 21). With a second core it overlaps with the analysis: a thread reads
//! the file in `CHUNK`-byte pieces, at most `AHEAD` pieces ahead, and the
//! reader takes them in order. The bytes, and so the report, are exactly
//! those of a plain read; only when they are copied changes. (Mapping the
//! file instead was measured slower on the benchmark machine, see
//! benches/README.md.)

use std::fs::File;
use std::io::{self, Read};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

/// Bytes read at once by the thread.
const CHUNK: usize = 1 << 20;
/// Chunks read ahead at most (so at most `AHEAD + 2` chunks are held).
const AHEAD: usize = 4;
/// Files smaller than this are read in place: a thread would cost more
/// than it saves.
const MIN_FILE: u64 = 16 << 20;

/// Whether to read `file` ahead: a large regular file, and a second core.
pub(super) fn worth_it(file: &File) -> bool {
    file.metadata()
        .is_ok_and(|m| m.is_file() && m.len() >= MIN_FILE)
        && std::thread::available_parallelism().is_ok_and(|n| n.get() > 1)
}

/// A file read by a helper thread, chunk by chunk, in order.
pub(super) struct ReadAhead {
    chunks: Receiver<io::Result<Vec<u8>>>,
    /// Emptied chunks go back to the thread to be filled again.
    spent: SyncSender<Vec<u8>>,
    current: Vec<u8>,
    pos: usize,
    done: bool,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ReadAhead {
    /// Start reading `file` ahead; `None` if no thread can be started (the
    /// caller reads the file itself).
    pub(super) fn start(file: File) -> Option<Self> {
        Self::with_chunk(file, CHUNK)
    }

    fn with_chunk(mut file: File, chunk: usize) -> Option<Self> {
        let (to_reader, chunks) = sync_channel::<io::Result<Vec<u8>>>(AHEAD);
        let (spent, recycled) = sync_channel::<Vec<u8>>(AHEAD + 2);
        let thread = std::thread::Builder::new()
            .name("tls-audit-read".into())
            .spawn(move || {
                loop {
                    let mut buf = recycled.try_recv().unwrap_or_default();
                    buf.resize(chunk, 0);
                    let got = read_full(&mut file, &mut buf);
                    let end = match &got {
                        Ok(n) => {
                            buf.truncate(*n);
                            *n == 0
                        }
                        Err(_) => true,
                    };
                    // The reader hung up (it stopped early): stop too.
                    if to_reader.send(got.map(|_| buf)).is_err() || end {
                        return;
                    }
                }
            })
            .ok()?;
        Some(ReadAhead {
            chunks,
            spent,
            current: Vec::new(),
            pos: 0,
            done: false,
            thread: Some(thread),
        })
    }
}

impl Drop for ReadAhead {
    /// Hang up, so the thread stops at its next chunk, and wait for it.
    fn drop(&mut self) {
        let (_, closed) = sync_channel(0);
        drop(std::mem::replace(&mut self.chunks, closed));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Fill `buf` unless the file ends first; the bytes read.
fn read_full(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

impl Read for ReadAhead {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos >= self.current.len() {
            if self.done {
                return Ok(0);
            }
            let next = match self.chunks.recv() {
                Ok(chunk) => chunk?,
                Err(_) => return Err(io::Error::other("the read-ahead thread stopped")),
            };
            if next.is_empty() {
                self.done = true;
            }
            let old = std::mem::replace(&mut self.current, next);
            self.pos = 0;
            // Best effort: a full return channel just drops the buffer.
            let _ = self.spent.try_send(old);
        }
        let rest = self.current.get(self.pos..).unwrap_or_default();
        let n = Read::read(&mut &*rest, out)?;
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn temp_file(bytes: &[u8]) -> (std::path::PathBuf, File) {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "tls-audit-readahead-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        File::create(&path).unwrap().write_all(bytes).unwrap();
        let f = File::open(&path).unwrap();
        (path, f)
    }

    #[test]
    fn the_bytes_are_the_files_whatever_the_read_sizes() {
        let bytes: Vec<u8> = (0..200_003u32).map(|i| (i * 31 % 251) as u8).collect();
        for chunk in [1, 7, 4096, 65_536, 1 << 20] {
            let (path, f) = temp_file(&bytes);
            let mut r = ReadAhead::with_chunk(f, chunk).unwrap();
            let mut back = Vec::new();
            let mut piece = vec![0u8; 3001];
            loop {
                let n = r.read(&mut piece).unwrap();
                if n == 0 {
                    break;
                }
                back.extend_from_slice(&piece[..n]);
            }
            assert_eq!(back, bytes, "chunk {chunk}");
            // The end stays the end.
            assert_eq!(r.read(&mut piece).unwrap(), 0);
            std::fs::remove_file(path).unwrap();
        }
    }

    #[test]
    fn an_empty_file_ends_at_once() {
        let (path, f) = temp_file(&[]);
        let mut r = ReadAhead::start(f).unwrap();
        assert_eq!(r.read(&mut [0u8; 10]).unwrap(), 0);
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn stopping_early_ends_the_thread() {
        let bytes = vec![5u8; 64 << 10];
        let (path, f) = temp_file(&bytes);
        let mut r = ReadAhead::with_chunk(f, 1024).unwrap();
        let mut one = [0u8; 10];
        assert_eq!(r.read(&mut one).unwrap(), 10);
        // Dropping joins the thread: it must see the hang-up and return
        // (a thread that kept waiting to send would hang this test).
        drop(r);
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn read_errors_reach_the_reader() {
        // A directory opens as a File on Linux but cannot be read.
        let dir = std::env::temp_dir();
        let f = File::open(&dir).unwrap();
        let mut r = ReadAhead::start(f).unwrap();
        assert!(r.read(&mut [0u8; 10]).is_err());
    }
}
