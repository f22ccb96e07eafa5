//! One capture file (or stream) read record by record into a reusable buffer.

use std::fs::File;
use std::io::Read;
use std::num::{NonZeroU64, NonZeroU128};

use pcap_parser::pcapng::{Block, SecretsType};
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{PcapBlockOwned, PcapError};

use super::ahead::Ahead;
use super::gzip::{ReadLimits, Tripped};
use super::{CaptureError, LinkType, Nanos};
use crate::hex::lower as hex;

/// The reader's initial buffer; it grows for larger records up to `MAX_RECORD`.
pub(super) const INITIAL_BUFFER: usize = 256 * 1024;
/// The largest record we accept. Real captures stay below 256 KiB (the
/// largest snaplen in use); anything bigger is a corrupt length field.
const MAX_RECORD: usize = 16 * 1024 * 1024;
/// A legacy pcap file header's length.
pub(super) const LEGACY_HEADER: usize = 24;
/// The legacy pcap magics (micro- and nanosecond, either byte order) as a
/// file's first bytes; the "modified" format's is not among them.
const LEGACY_MAGICS: [[u8; 4]; 4] = [
    [0xd4, 0xc3, 0xb2, 0xa1],
    [0xa1, 0xb2, 0xc3, 0xd4],
    [0x4d, 0x3c, 0xb2, 0xa1],
    [0xa1, 0xb2, 0x3c, 0x4d],
];

/// Distinct Decryption Secrets Block types counted when ignored.
const MAX_SECRET_TYPES: usize = 16;

/// Decryption Secrets Blocks kept for later use, in total bytes.
const MAX_SECRETS: usize = 4 * 1024 * 1024;

/// One packet copied out of the capture, reused from packet to packet.
#[derive(Debug, Default, Clone)]
pub struct PacketBuf {
    /// Capture time.
    pub ts: Nanos,
    /// How the bytes start.
    pub link: Option<LinkType>,
    /// The captured bytes (at most the snap length).
    pub data: Vec<u8>,
    /// The packet's length on the wire; larger than `data.len()` when cut by the snap length.
    pub orig_len: u32,
    /// Which input this packet came from (index into the inputs).
    pub source: usize,
}

/// One packet, borrowed from the reader's buffer.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    /// Capture time.
    pub ts: Nanos,
    /// How the bytes start.
    pub link: Option<LinkType>,
    /// The captured bytes.
    pub data: &'a [u8],
    /// The packet's length on the wire.
    pub orig_len: u32,
}

/// What one read step produced.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadOutcome {
    /// A packet was copied into the buffer.
    Packet,
    /// The input ended cleanly.
    End,
    /// The input is damaged here; nothing more can be read from it.
    Damaged(String),
    /// A Decryption Secrets Block was read (see `decryption_secrets`); no
    /// packet yet. Only `next_with` returns this, so that the secrets can be
    /// used before the packet that follows them.
    Secrets,
}

#[derive(Debug, Clone, Copy)]
struct Interface {
    link: LinkType,
    /// Units per second of the timestamps.
    resolution: NonZeroU64,
    offset_secs: i64,
}

/// A capture file being read.
pub struct CaptureReader {
    name: String,
    inner: Box<dyn PcapReaderIterator + Send>,
    state: State,
    buffer_size: usize,
    /// Set when a gzip input passed its decompression cap.
    gzip_cap: Tripped,
    /// A legacy pcap file read ahead by a thread of its own: its ordinary
    /// records are read from the chunks that thread fills until one is not
    /// (see `next_with`).
    ahead: Option<Ahead>,
}

#[derive(Default)]
struct State {
    format: &'static str,
    legacy_link: Option<LinkType>,
    legacy_nanos: bool,
    /// A legacy pcap's record headers are little-endian (`Some(false)`)
    /// or big-endian (`Some(true)`); `None` until its header is read, for
    /// pcapng and for the "modified" pcap format (longer record headers).
    legacy_big_endian: Option<bool>,
    interfaces: Vec<Interface>,
    last_ts: Nanos,
    secrets: Vec<Vec<u8>>,
    secrets_bytes: usize,
    /// Decryption Secrets Blocks of other types: (type, count).
    ignored_secrets: Vec<(u32, u64)>,
}

impl CaptureReader {
    /// Open a file by path; `-` reads standard input.
    pub fn open(path: &str) -> Result<Self, CaptureError> {
        Self::open_with(path, ReadLimits::default())
    }

    /// [`open`](Self::open), with a gzip input's decompression cap.
    pub fn open_with(path: &str, limits: ReadLimits) -> Result<Self, CaptureError> {
        if path == "-" {
            return Self::from_reader_with("<stdin>", std::io::stdin(), limits);
        }
        let io_err = |source| CaptureError::Io {
            name: path.to_string(),
            source,
        };
        let file = File::open(path).map_err(io_err)?;
        // The header decides: a regular file that starts as a legacy pcap
        // is read ahead; anything else (pcapng, gzip, not a capture, a
        // pipe) exactly as without `read_ahead`, from its first byte.
        let mut header = vec![0u8; LEGACY_HEADER];
        let legacy = limits.read_ahead
            && std::os::unix::fs::FileExt::read_exact_at(&file, &mut header, 0).is_ok()
            && header
                .first_chunk::<4>()
                .is_some_and(|m| LEGACY_MAGICS.contains(m));
        if !legacy {
            return Self::from_reader_with(path, file, limits);
        }
        // The chunks are read from past the header, which is handed over
        // as it is.
        let mut capture =
            Self::from_reader_with(path, std::io::Cursor::new(header.clone()), limits)?;
        capture.ahead = Some(Ahead::start(file, header));
        Ok(capture)
    }

    /// Read a capture from any byte stream (gzip-compressed or not).
    pub fn from_reader<R: Read + Send + 'static>(
        name: &str,
        reader: R,
    ) -> Result<Self, CaptureError> {
        Self::from_reader_with(name, reader, ReadLimits::default())
    }

    /// [`from_reader`](Self::from_reader), with a gzip input's decompression cap.
    pub fn from_reader_with<R: Read + Send + 'static>(
        name: &str,
        reader: R,
        limits: ReadLimits,
    ) -> Result<Self, CaptureError> {
        let io_err = |source| CaptureError::Io {
            name: name.to_string(),
            source,
        };
        let mut reader = SniffMagic::new(reader);
        let head = reader.peek(2).map_err(io_err)?;
        if head.starts_with(&[0x1f, 0x8b]) {
            let (unzipped, tripped) = super::gzip::capped(reader, limits);
            let mut capture = Self::from_plain_reader(name, SniffMagic::new(unzipped))?;
            capture.gzip_cap = tripped;
            return Ok(capture);
        }
        Self::from_plain_reader(name, reader)
    }

    fn from_plain_reader<R: Read + Send + 'static>(
        name: &str,
        mut reader: SniffMagic<R>,
    ) -> Result<Self, CaptureError> {
        let head = reader.peek_header().map_err(|source| CaptureError::Io {
            name: name.to_string(),
            source,
        })?;
        if head.is_empty() {
            return Err(CaptureError::Empty { name: name.into() });
        }
        let magic_hex = hex(head.get(..4).unwrap_or(&head));
        let inner = pcap_parser::create_reader(INITIAL_BUFFER, reader).map_err(|e| match e {
            PcapError::Eof => CaptureError::Empty { name: name.into() },
            other => CaptureError::NotACapture {
                name: name.into(),
                magic: magic_hex.clone(),
                detail: describe(&other),
            },
        })?;
        Ok(CaptureReader {
            name: name.to_string(),
            inner,
            state: State::default(),
            buffer_size: INITIAL_BUFFER,
            gzip_cap: Tripped::default(),
            ahead: None,
        })
    }

    /// The name given at open time.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `"pcap"` or `"pcapng"` once the header has been read.
    pub fn format(&self) -> &'static str {
        self.state.format
    }

    /// Key-log secrets found in pcapng Decryption Secrets Blocks, raw.
    pub fn decryption_secrets(&self) -> &[Vec<u8>] {
        &self.state.secrets
    }

    /// Decryption Secrets Blocks skipped because they are not TLS key logs
    /// (WireGuard `WGKL`, ...): (secrets type, blocks), in order first seen.
    pub fn ignored_secrets(&self) -> &[(u32, u64)] {
        &self.state.ignored_secrets
    }

    /// Copy the next packet into `buf` (secrets blocks on the way are kept
    /// in `decryption_secrets`).
    pub fn next_into(&mut self, buf: &mut PacketBuf) -> ReadOutcome {
        loop {
            let outcome = self.next_with(&mut |p| {
                buf.ts = p.ts;
                buf.link = p.link;
                buf.data.clear();
                buf.data.extend_from_slice(p.data);
                buf.orig_len = p.orig_len;
            });
            if outcome != ReadOutcome::Secrets {
                return outcome;
            }
        }
    }

    /// Hand the next packet to `f` straight from the read buffer (no copy).
    pub fn next_with(&mut self, f: &mut dyn FnMut(Packet<'_>)) -> ReadOutcome {
        loop {
            if let Some(outcome) = self.next_ahead(f) {
                return outcome;
            }
            // A legacy pcap record wholly in the buffer is read here, as
            // `pcap_parser` would read it, without its block enum built
            // and copied for every packet; anything else (the header, a
            // record cut by the buffer's end, the end of the input) goes
            // through `pcap_parser`.
            if let Some(big_endian) = self.state.legacy_big_endian
                && let Some((len, words, data)) = legacy_record(self.inner.data(), big_endian)
            {
                f(self.state.legacy_packet(words, data));
                self.inner.consume_noshift(len);
                return ReadOutcome::Packet;
            }
            match self.inner.next() {
                Ok((offset, block)) => {
                    let secrets = self.state.secrets.len();
                    let got = match self.state.take_block(block) {
                        Some(p) => {
                            f(p);
                            true
                        }
                        None => false,
                    };
                    // Shifting the buffer on every record costs a memmove of
                    // the rest of it; `refill` shifts once when it must.
                    self.inner.consume_noshift(offset);
                    if got {
                        return ReadOutcome::Packet;
                    }
                    if self.state.secrets.len() > secrets {
                        return ReadOutcome::Secrets;
                    }
                }
                Err(PcapError::Eof) => return ReadOutcome::End,
                Err(PcapError::Incomplete(_)) => {
                    if let Err(e) = self.inner.refill() {
                        let detail = format!("read error: {e:?}");
                        return self.read_error(detail);
                    }
                }
                Err(PcapError::BufferTooSmall) => {
                    if self.buffer_size >= MAX_RECORD {
                        return ReadOutcome::Damaged(format!(
                            "record longer than {} MiB: corrupt length field",
                            MAX_RECORD >> 20
                        ));
                    }
                    // Below MAX_RECORD: doubling does not saturate.
                    self.buffer_size = self.buffer_size.saturating_mul(2);
                    if !self.inner.grow(self.buffer_size) {
                        return ReadOutcome::Damaged("cannot grow the read buffer".into());
                    }
                    if let Err(e) = self.inner.refill() {
                        let detail = format!("read error: {e:?}");
                        return self.read_error(detail);
                    }
                }
                Err(PcapError::UnexpectedEof) => {
                    return ReadOutcome::Damaged(
                        "file ends in the middle of a record (truncated capture)".into(),
                    );
                }
                Err(PcapError::ReadError) => return self.read_error("read error".into()),
                Err(e) => {
                    return ReadOutcome::Damaged(format!("corrupt record: {}", describe(&e)));
                }
            }
        }
    }
}

impl CaptureReader {
    /// After the header of a file read ahead: its next record if it is an
    /// ordinary one; anything else, and the rest of the file, goes to the
    /// stream (`None`: read on there).
    fn next_ahead(&mut self, f: &mut dyn FnMut(Packet<'_>)) -> Option<ReadOutcome> {
        let ahead = self.ahead.as_mut()?;
        if self.state.format != "pcap" {
            return None;
        }
        if let Some(big_endian) = self.state.legacy_big_endian
            && let Some((words, data)) = ahead.record(big_endian)
        {
            f(self.state.legacy_packet(words, data));
            return Some(ReadOutcome::Packet);
        }
        self.stream_the_rest().err()
    }

    /// From here on, read the file read ahead through `pcap_parser`.
    fn stream_the_rest(&mut self) -> Result<(), ReadOutcome> {
        let Some(ahead) = self.ahead.take() else {
            return Ok(());
        };
        let mut inner = pcap_parser::create_reader(INITIAL_BUFFER, ahead.into_stream())
            // The same header was read at open.
            .map_err(|e| ReadOutcome::Damaged(describe(&e)))?;
        // The header, read already: skipped, so that it is not taken for a
        // record.
        let header = inner.next().map_or(0, |(len, _)| len);
        inner.consume_noshift(header);
        self.inner = inner;
        self.buffer_size = INITIAL_BUFFER;
        Ok(())
    }

    /// A read that failed: the decompression cap says why when it was hit.
    fn read_error(&self, detail: String) -> ReadOutcome {
        ReadOutcome::Damaged(self.gzip_cap.reason().unwrap_or(detail))
    }
}

impl State {
    /// Record what a block says; return it if it is a packet.
    fn take_block<'b>(&mut self, block: PcapBlockOwned<'b>) -> Option<Packet<'b>> {
        match block {
            PcapBlockOwned::LegacyHeader(h) => {
                self.format = "pcap";
                self.legacy_link = Some(LinkType(h.network.0 as u32));
                self.legacy_nanos = h.is_nanosecond_precision();
                self.legacy_big_endian = (!h.is_modified_format()).then(|| h.is_bigendian());
                None
            }
            PcapBlockOwned::Legacy(b) => {
                Some(self.legacy_packet([b.ts_sec, b.ts_usec, b.caplen, b.origlen], b.data))
            }
            PcapBlockOwned::NG(block) => self.take_ng_block(block),
        }
    }

    /// A legacy pcap record: its header's four words (seconds, fraction,
    /// captured and original length) and its data.
    fn legacy_packet<'b>(
        &mut self,
        [ts_sec, ts_frac, caplen, origlen]: [u32; 4],
        data: &'b [u8],
    ) -> Packet<'b> {
        let frac = if self.legacy_nanos {
            i64::from(ts_frac)
        } else {
            i64::from(ts_frac).saturating_mul(1000)
        };
        // At most 2^32 seconds and 2^32 milliseconds: no saturation.
        let ts = i64::from(ts_sec)
            .saturating_mul(1_000_000_000)
            .saturating_add(frac);
        self.last_ts = ts;
        packet(ts, self.legacy_link, captured(data, caplen), origlen)
    }

    fn take_ng_block<'b>(&mut self, block: Block<'b>) -> Option<Packet<'b>> {
        match block {
            Block::SectionHeader(_) => {
                // A new section starts with a new interface list.
                self.format = "pcapng";
                self.interfaces.clear();
                None
            }
            Block::InterfaceDescription(idb) => {
                self.interfaces.push(Interface {
                    link: LinkType(idb.linktype.0 as u32),
                    resolution: NonZeroU64::new(idb.ts_resolution().unwrap_or(1_000_000))
                        .unwrap_or(NonZeroU64::MIN),
                    offset_secs: idb.ts_offset(),
                });
                None
            }
            Block::EnhancedPacket(epb) => {
                let iface = self.interfaces.get(epb.if_id as usize).copied();
                let raw = u64::from(epb.ts_high) << 32 | u64::from(epb.ts_low);
                let ts = match iface {
                    Some(i) => to_nanos(raw, i.resolution, i.offset_secs),
                    None => to_nanos(raw, MICROSECONDS, 0),
                };
                self.last_ts = ts;
                let data = captured(epb.data, epb.caplen);
                Some(packet(ts, iface.map(|i| i.link), data, epb.origlen))
            }
            Block::SimplePacket(spb) => {
                // Simple packets carry no timestamp: keep the previous one.
                let data = captured(spb.data, spb.origlen);
                let link = self.interfaces.first().map(|i| i.link);
                Some(packet(self.last_ts, link, data, spb.origlen))
            }
            Block::DecryptionSecrets(dsb) if dsb.secrets_type != SecretsType::TlsKeyLog => {
                // Only TLS key logs (`TLSK`) are used; other kinds are counted.
                let kind = dsb.secrets_type.0;
                let room = self.ignored_secrets.len() < MAX_SECRET_TYPES;
                match self.ignored_secrets.iter_mut().find(|(t, _)| *t == kind) {
                    Some((_, n)) => *n = n.saturating_add(1),
                    None if room => self.ignored_secrets.push((kind, 1)),
                    None => {}
                }
                None
            }
            Block::DecryptionSecrets(dsb) => {
                // The secrets length, not the 4-byte padded data.
                let len = usize::try_from(dsb.secrets_len).unwrap_or(usize::MAX);
                let data = dsb.data.get(..len).unwrap_or(dsb.data);
                if let Some(total) = self
                    .secrets_bytes
                    .checked_add(data.len())
                    .filter(|&total| total <= MAX_SECRETS)
                {
                    self.secrets_bytes = total;
                    self.secrets.push(data.to_vec());
                }
                None
            }
            _ => None,
        }
    }
}

/// The legacy pcap record at the start of `buf` if it is all there: its
/// length, its header's four words and its data (`pcap_parser`'s
/// `parse_pcap_frame` and `parse_pcap_frame_be`).
pub(super) fn legacy_record(buf: &[u8], big_endian: bool) -> Option<(usize, [u32; 4], &[u8])> {
    let (head, rest) = buf.split_first_chunk::<16>()?;
    let word = |i: usize| {
        let b = head.get(i..)?.first_chunk::<4>()?;
        Some(if big_endian {
            u32::from_be_bytes(*b)
        } else {
            u32::from_le_bytes(*b)
        })
    };
    let words @ [_, _, caplen, _] = [word(0)?, word(4)?, word(8)?, word(12)?];
    let caplen = usize::try_from(caplen).ok()?;
    let data = rest.get(..caplen)?;
    Some((caplen.checked_add(16)?, words, data))
}

fn packet(ts: Nanos, link: Option<LinkType>, data: &[u8], orig_len: u32) -> Packet<'_> {
    Packet {
        ts,
        link,
        data,
        orig_len: orig_len.max(data.len() as u32),
    }
}

/// The first `len` bytes of a block's data (the captured length), or all
/// of them when it says more than there are.
fn captured(data: &[u8], len: u32) -> &[u8] {
    data.get(..len as usize).unwrap_or(data)
}

/// The pcapng default timestamp resolution (no `if_tsresol`).
const MICROSECONDS: NonZeroU64 = match NonZeroU64::new(1_000_000) {
    Some(n) => n,
    None => NonZeroU64::MIN,
};

fn to_nanos(ts: u64, resolution: NonZeroU64, offset_secs: i64) -> Nanos {
    let secs = ts / resolution;
    let frac = ts % resolution;
    // frac < 2^64, so frac * 10^9 < 2^94: no saturation.
    let nanos =
        (u128::from(frac).saturating_mul(1_000_000_000) / NonZeroU128::from(resolution)) as i64;
    (secs as i64)
        .saturating_add(offset_secs)
        .saturating_mul(1_000_000_000)
        .saturating_add(nanos)
}

fn describe(e: &PcapError<&[u8]>) -> String {
    match e {
        PcapError::NomError(_, kind) => format!("{kind:?}"),
        PcapError::OwnedNomError(_, kind) => format!("{kind:?}"),
        PcapError::HeaderNotRecognized => "header not recognized".into(),
        other => format!("{other:?}"),
    }
}

/// Lets us look at the first bytes (for the error message) without losing them.
struct SniffMagic<R> {
    inner: R,
    head: Vec<u8>,
    pos: usize,
}

impl<R: Read> SniffMagic<R> {
    fn new(inner: R) -> Self {
        SniffMagic {
            inner,
            head: Vec::new(),
            pos: 0,
        }
    }

    /// Make sure at least `n` bytes (or all there are) are held; return them.
    fn peek(&mut self, n: usize) -> std::io::Result<Vec<u8>> {
        let mut chunk = [0u8; 4096];
        while self.head.len() < n {
            let want = n.saturating_sub(self.head.len()).min(chunk.len());
            let Some(room) = chunk.get_mut(..want) else {
                break;
            };
            match self.inner.read(room) {
                Ok(0) => break,
                // A reader reports at most the bytes it was given room for.
                Ok(k) => self.head.extend_from_slice(room.get(..k).unwrap_or(room)),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(self.head.clone())
    }

    /// Hold the whole file header, so the pcap reader can decide the format
    /// from its first read even when a pipe delivers bytes in dribbles: a
    /// pcap header is 24 bytes; a pcapng Section Header Block says its own
    /// length (bounded here to 64 KiB).
    fn peek_header(&mut self) -> std::io::Result<Vec<u8>> {
        let head = self.peek(12)?;
        // Block type, block length, byte-order magic.
        if let [0x0a, 0x0d, 0x0d, 0x0a, l0, l1, l2, l3, m0, m1, m2, m3, ..] = *head.as_slice() {
            let le = [m0, m1, m2, m3] == [0x4d, 0x3c, 0x2b, 0x1a];
            let raw = [l0, l1, l2, l3];
            let len = if le {
                u32::from_le_bytes(raw)
            } else {
                u32::from_be_bytes(raw)
            };
            return self.peek((len as usize).clamp(12, 64 * 1024));
        }
        self.peek(24)
    }
}

impl<R: Read> Read for SniffMagic<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let held = self.head.get(self.pos..).unwrap_or_default();
        if !held.is_empty() {
            // Hand back the peeked bytes and as much as one more read gives:
            // the pcap reader decides the format from its first read.
            let n = held.len().min(out.len());
            out.iter_mut().zip(held).for_each(|(o, &h)| *o = h);
            self.pos = self.pos.saturating_add(n);
            return Ok(n);
        }
        self.inner.read(out)
    }
}

#[cfg(test)]
mod tests;
