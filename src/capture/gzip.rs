//! Gzip-compressed captures, read through a cap on the decompressed size.
//!
//! Reading a capture is linear in its decompressed size, and gzip (deflate)
//! compresses a run of zeros about 1,000 to 1: a 10 MiB `.pcap.gz` of
//! zero-padded records is 10 GiB of empty packets, minutes of CPU for
//! nothing. Memory stays flat either way (the reader streams), so the cap
//! is on work, not bytes held: reading stops once the decompressed bytes
//! pass both a floor and a ratio to the compressed bytes read so far
//! (counted as they are read, so a pipe on standard input is capped the
//! same way as a file). The input is then reported as damaged (incomplete,
//! with a `damaged-capture` warning naming the cap and the option that
//! raises it), like any capture whose reading stopped early.
//!
//! Why these defaults: real captures compress 2-20 to 1 (headers, timestamps
//! and encrypted payload do not compress); 100 to 1 leaves room for captures
//! of idle keep-alives or zero-filled test traffic, while a bomb (near the
//! deflate limit of 1032 to 1) stops after a tenth of its promise. The 1 GiB
//! floor keeps any small capture, however compressible, readable in full.

use std::io::Read;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// The default ratio of decompressed to compressed bytes.
pub const DEFAULT_MAX_RATIO: u64 = 100;
/// The default floor below which any ratio is accepted, in MiB.
pub const DEFAULT_FLOOR_MIB: u64 = 1024;

/// How capture files are read: how far a compressed one may expand, and
/// whether a thread reads ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLimits {
    /// Decompressed bytes allowed per compressed byte read (0: no cap).
    pub gzip_max_ratio: u64,
    /// Decompressed bytes always allowed, whatever the ratio.
    pub gzip_floor: u64,
    /// A regular file that starts as a legacy pcap is read by a thread of
    /// its own and its records parsed in place (`analyze --threads 2` and
    /// more; see `capture::ahead`). The packets are the same either way.
    pub read_ahead: bool,
}

impl Default for ReadLimits {
    fn default() -> Self {
        ReadLimits {
            gzip_max_ratio: DEFAULT_MAX_RATIO,
            gzip_floor: DEFAULT_FLOOR_MIB << 20,
            read_ahead: false,
        }
    }
}

impl ReadLimits {
    /// The decompressed bytes allowed after `compressed` bytes were read.
    fn allowed(&self, compressed: u64) -> u64 {
        self.gzip_max_ratio
            .saturating_mul(compressed)
            .max(self.gzip_floor)
    }
}

/// Counts the compressed bytes the decoder takes.
pub(super) struct Counted<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(out)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Why a capped input stopped, once it has; shared with the capture reader.
#[derive(Debug, Clone, Default)]
pub(super) struct Tripped(Arc<Mutex<Option<String>>>);

impl Tripped {
    /// The message, when the cap was hit.
    pub(super) fn reason(&self) -> Option<String> {
        self.0.lock().ok().and_then(|g| g.clone())
    }

    fn set(&self, why: String) {
        if let Ok(mut g) = self.0.lock() {
            g.get_or_insert(why);
        }
    }
}

/// The decompressed stream, failing once it passes the cap.
pub(super) struct Capped<D> {
    inner: D,
    compressed: Arc<AtomicU64>,
    decompressed: u64,
    limits: ReadLimits,
    tripped: Tripped,
}

impl<D: Read> Read for Capped<D> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if let Some(why) = self.tripped.reason() {
            return Err(std::io::Error::other(why));
        }
        let n = self.inner.read(out)?;
        self.decompressed = self.decompressed.saturating_add(n as u64);
        if self.limits.gzip_max_ratio > 0 {
            let compressed = self.compressed.load(Ordering::Relaxed);
            if self.decompressed > self.limits.allowed(compressed) {
                let why = format!(
                    "gzip input expands past the decompression cap ({} MiB from {} KiB compressed; \
                     at most {} to 1 beyond {} MiB, --gunzip-max-ratio / --gunzip-floor-mib): \
                     reading stopped there (a decompression bomb, or a capture that needs a higher cap)",
                    self.decompressed >> 20,
                    compressed >> 10,
                    self.limits.gzip_max_ratio,
                    self.limits.gzip_floor >> 20,
                );
                self.tripped.set(why.clone());
                return Err(std::io::Error::other(why));
            }
        }
        Ok(n)
    }
}

/// Wrap a gzip stream: decompress it under `limits`; `tripped` says why it stopped.
pub(super) fn capped<R: Read + Send + 'static>(
    compressed: R,
    limits: ReadLimits,
) -> (Capped<flate2::read::MultiGzDecoder<Counted<R>>>, Tripped) {
    let read = Arc::new(AtomicU64::new(0));
    let counted = Counted {
        inner: compressed,
        read: Arc::clone(&read),
    };
    let tripped = Tripped::default();
    let stream = Capped {
        inner: flate2::read::MultiGzDecoder::new(counted),
        compressed: read,
        decompressed: 0,
        limits,
        tripped: tripped.clone(),
    };
    (stream, tripped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    fn drain(mut r: impl Read) -> (u64, Option<std::io::Error>) {
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0u64;
        loop {
            match r.read(&mut buf) {
                Ok(0) => return (total, None),
                Ok(n) => total += n as u64,
                Err(e) => return (total, Some(e)),
            }
        }
    }

    #[test]
    fn a_bomb_stops_near_the_cap() {
        let zeros = vec![0u8; 32 << 20];
        let bomb = gzip(&zeros);
        assert!(bomb.len() < 64 << 10, "{}", bomb.len());
        let limits = ReadLimits {
            gzip_max_ratio: 100,
            gzip_floor: 1 << 20,
            read_ahead: false,
        };
        let ceiling = 100 * bomb.len() as u64 + (64 << 10);
        let (r, tripped) = capped(std::io::Cursor::new(bomb), limits);
        let (total, err) = drain(r);
        assert!(err.is_some(), "read {total} bytes without stopping");
        // The ratio to what the decoder took (at most the whole file), plus
        // at most one read's worth; far from the 32 MiB promised.
        assert!(total <= ceiling && total < 8 << 20, "{total}");
        assert!(
            tripped
                .reason()
                .is_some_and(|m| m.contains("--gunzip-max-ratio"))
        );
    }

    #[test]
    fn ordinary_data_and_a_zero_ratio_pass_in_full() {
        // Incompressible bytes (a simple generator), well past the floor.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let noise: Vec<u8> = (0..(3 << 20))
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let limits = ReadLimits {
            gzip_max_ratio: 2,
            gzip_floor: 1 << 20,
            read_ahead: false,
        };
        let (r, tripped) = capped(std::io::Cursor::new(gzip(&noise)), limits);
        assert_eq!(drain(r).0, 3 << 20);
        assert!(tripped.reason().is_none());
        let off = ReadLimits {
            gzip_max_ratio: 0,
            gzip_floor: 0,
            read_ahead: false,
        };
        let (r, _) = capped(std::io::Cursor::new(gzip(&vec![0u8; 8 << 20])), off);
        assert_eq!(drain(r).0, 8 << 20);
    }
}
