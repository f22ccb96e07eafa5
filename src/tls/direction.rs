//! One direction of a TLS connection: records out of the byte stream,
//! handshake messages out of the records.
//!
//! Handshake messages may be split across records and records across TCP
//! segments; both are joined here, within bounds. Record bodies we do not
//! need (ciphertext) are skipped without being buffered.

use super::decrypt::{OpenError, RecordDecrypter};
use super::record::{self, Header, Incomplete, RecordHeader, Sync, content_type};

/// Handshake messages larger than this are not reassembled (the per-flow
/// stream cap usually binds first).
pub const MAX_HANDSHAKE_MESSAGE: usize = 1024 * 1024;
/// Bytes searched for a record boundary after a gap or a mid-stream start.
const MAX_RESYNC_WINDOW: usize = 32 * 1024;
/// New bytes that make another search for a record boundary worthwhile.
const RESYNC_STEP: usize = 1024;
/// Searches made sooner than `RESYNC_STEP` because a plausible record was
/// about to be complete (a SYN-less flow whose first record spans
/// segments); bounded so that a stream of near-misses stays linear.
const MAX_EARLY_RESYNCS: u8 = 16;

/// What one direction produced, handed to the session.
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// A record header (every record), and whether it is ciphertext.
    Record(RecordHeader, bool),
    /// A complete plaintext handshake message: type and body.
    Handshake(u8, &'a [u8]),
    /// An SSL 2.0-framed hello (after its length header): its type (1
    /// CLIENT-HELLO, 4 SERVER-HELLO) and the message.
    Sslv2Hello(u8, &'a [u8]),
    /// A plaintext ChangeCipherSpec.
    ChangeCipherSpec,
    /// A plaintext alert: level, description.
    Alert(u8, u8),
    /// A handshake message was too large to reassemble.
    Oversized(u8, usize),
    /// The stream stopped looking like TLS.
    NotTls,
    /// An encrypted handshake record did not open with the keys given.
    DecryptFailed(OpenError),
}

/// What the session asks of a direction after an event.
#[derive(Debug)]
pub enum Switch {
    /// Records from here on are ciphertext (true) or cleartext (false).
    Encrypted(bool),
    /// Records from here on are ciphertext that these keys open.
    Decrypt(Box<RecordDecrypter>),
    /// Stop opening records (the direction's handshake is over, or the keys
    /// do not fit); what follows is skipped as ciphertext.
    StopDecrypting,
}

/// The session's answer to an event.
pub type Reply = Option<Switch>;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// At the start of the stream: TLS or SSLv2 framing both possible.
    #[default]
    Start,
    /// Between records.
    Records,
    /// Looking for a record boundary (mid-stream start or after a gap).
    Resync,
    /// Not TLS any more; ignore the rest.
    Broken,
}

/// Record and handshake parsing state for one direction.
#[derive(Debug, Default)]
pub struct Direction {
    mode: Mode,
    /// Unconsumed bytes: a partial header or a body we need.
    buf: Vec<u8>,
    /// Bytes of the current record body still to skip unread.
    skip: usize,
    /// Partial handshake message across records.
    hs: Vec<u8>,
    /// Bytes of an oversized handshake message still to pass over.
    hs_skip: usize,
    /// Buffered length at which the next search for a record boundary is
    /// due (0: at once).
    resync_due: usize,
    /// Early searches made (see `MAX_EARLY_RESYNCS`).
    resync_early: u8,
    /// Records from here on are ciphertext.
    pub encrypted: bool,
    /// Opens this direction's encrypted handshake records (TLS 1.3 with keys).
    decrypter: Option<Box<RecordDecrypter>>,
    /// Records seen.
    pub records: u32,
}

impl Direction {
    /// A direction picked up mid-stream: find a record boundary first.
    pub fn resyncing() -> Self {
        Direction {
            mode: Mode::Resync,
            ..Self::default()
        }
    }

    /// Bytes held in buffers (the table's memory budget counts them).
    pub fn buffered(&self) -> usize {
        self.buf.capacity().saturating_add(self.hs.capacity())
    }

    /// Free the buffers (the session has decided; nothing more is parsed).
    pub fn release(&mut self) {
        self.buf = Vec::new();
        self.hs = Vec::new();
        self.decrypter = None;
        self.mode = Mode::Broken;
    }

    /// Do what the session asked; true when the rest of the current
    /// handshake bytes must not be read as cleartext.
    pub fn apply(&mut self, reply: Reply) -> bool {
        match reply {
            None => false,
            Some(Switch::Encrypted(enc)) => {
                self.encrypted = enc;
                enc
            }
            Some(Switch::Decrypt(d)) => {
                self.encrypted = true;
                self.decrypter = Some(d);
                true
            }
            Some(Switch::StopDecrypting) => {
                self.decrypter = None;
                true
            }
        }
    }

    /// Whether this direction has given up on TLS.
    pub fn is_broken(&self) -> bool {
        self.mode == Mode::Broken
    }

    /// Feed stream bytes; events go to `on`, which may switch `encrypted` on
    /// through the returned flag (it is consulted between records).
    pub fn feed(&mut self, data: &[u8], on: &mut dyn FnMut(Event<'_>) -> Reply) {
        if self.mode == Mode::Broken {
            return;
        }
        let data = pass_over(data, &mut self.skip);
        if data.is_empty() {
            return;
        }
        if self.buf.is_empty() {
            // The common case: parse straight from the segment and keep
            // only an unfinished record's bytes.
            let used = self.drain(data, on);
            self.buf
                .extend_from_slice(data.get(used..).unwrap_or_default());
        } else {
            let mut buf = std::mem::take(&mut self.buf);
            buf.extend_from_slice(data);
            let used = self.drain(&buf, on);
            buf.drain(..used);
            self.buf = buf;
        }
        if self.mode == Mode::Broken {
            self.buf = Vec::new();
        }
    }

    /// The capture lost `n` bytes of this direction.
    pub fn gap(&mut self, n: u64) {
        if self.mode == Mode::Broken {
            return;
        }
        if self.buf.is_empty()
            && let Some(left) = (self.skip as u64).checked_sub(n)
        {
            // Below `skip`, so it fits.
            self.skip = left as usize;
            return;
        }
        // Whatever was half-read is lost; look for the next record.
        self.skip = 0;
        self.buf.clear();
        self.hs.clear();
        self.hs_skip = 0;
        self.resync_due = 0;
        self.resync_early = 0;
        self.mode = Mode::Resync;
    }

    /// Parse what `input` holds; returns how many bytes were used (the rest
    /// is an unfinished record or header to keep for the next segment).
    fn drain(&mut self, input: &[u8], on: &mut dyn FnMut(Event<'_>) -> Reply) -> usize {
        // What is left of `input`; every step moves it on to a suffix.
        let mut rest = input;
        while !rest.is_empty() {
            let next = match self.mode {
                Mode::Broken => None,
                Mode::Resync => self.resync(rest, on),
                Mode::Start => self.start(rest, on),
                Mode::Records => self.record(rest, on),
            };
            match next {
                Some(next) => rest = next,
                None => break,
            }
        }
        // `rest` is a suffix of `input`.
        input.len().saturating_sub(rest.len())
    }

    /// Look for a record boundary in `rest`. Returns what is left from the
    /// boundary on, or `None` to wait for more bytes (or when the search
    /// gave up and the stream is not TLS).
    fn resync<'a>(
        &mut self,
        rest: &'a [u8],
        on: &mut dyn FnMut(Event<'_>) -> Reply,
    ) -> Option<&'a [u8]> {
        // Search again only once enough new bytes arrived: a stream of tiny
        // segments would otherwise cost a full rescan each (quadratic;
        // found by fuzzing).
        let len = rest.len();
        if len < self.resync_due && len <= MAX_RESYNC_WINDOW {
            return None;
        }
        let miss = match record::search_sync(rest) {
            Sync::At(k) => {
                self.resync_due = 0;
                self.resync_early = 0;
                self.mode = Mode::Records;
                return Some(rest.get(k..).unwrap_or_default());
            }
            miss => miss,
        };
        if len > MAX_RESYNC_WINDOW {
            self.mode = Mode::Broken;
            on(Event::NotTls);
            return None;
        }
        // At most MAX_RESYNC_WINDOW here: no saturation.
        let step = len.saturating_add(RESYNC_STEP);
        self.resync_due = match miss {
            // A record that the next segments complete: look again then,
            // not 1 KiB later.
            Sync::Pending { until } if until < step && self.resync_early < MAX_EARLY_RESYNCS => {
                self.resync_early = self.resync_early.saturating_add(1);
                until
            }
            _ => step,
        };
        None
    }

    /// The first bytes of the stream: a TLS record header (read on as
    /// records) or an SSL 2.0-framed hello (handed on whole). Returns what
    /// is left, or `None` to wait for more bytes or when it is not TLS.
    fn start<'a>(
        &mut self,
        rest: &'a [u8],
        on: &mut dyn FnMut(Event<'_>) -> Reply,
    ) -> Option<&'a [u8]> {
        match record::parse_start(rest) {
            Err(Incomplete) => None,
            Ok(None) => {
                self.mode = Mode::Broken;
                on(Event::NotTls);
                None
            }
            Ok(Some(Header::Record(_))) => {
                self.mode = Mode::Records;
                Some(rest)
            }
            Ok(Some(Header::Sslv2Hello {
                msg_type,
                header_len,
                len,
            })) => {
                let (msg, after) = rest.get(header_len..)?.split_at_checked(len)?;
                on(Event::Sslv2Hello(msg_type, msg));
                // An SSL 2.0 server goes on in SSL 2.0 framing, which we do
                // not read; a client may switch to records.
                self.mode = if msg_type == 4 {
                    Mode::Broken
                } else {
                    Mode::Records
                };
                Some(after)
            }
        }
    }

    /// One record at the start of `rest`: its header goes to the session,
    /// its body is read when wanted (cleartext handshake, alert and
    /// ChangeCipherSpec, or ciphertext we hold keys for) and skipped
    /// otherwise. Returns what follows it, or `None` to wait for more
    /// bytes or when it is not TLS.
    fn record<'a>(
        &mut self,
        rest: &'a [u8],
        on: &mut dyn FnMut(Event<'_>) -> Reply,
    ) -> Option<&'a [u8]> {
        let h = match record::parse_header(rest) {
            Err(Incomplete) => return None,
            Ok(None) => {
                self.mode = Mode::Broken;
                on(Event::NotTls);
                return None;
            }
            Ok(Some(h)) => h,
        };
        // parse_header saw 5 bytes; the `?` is not taken.
        let (header, after) = rest.split_first_chunk::<5>()?;
        let body_len = usize::from(h.len);
        let decrypt = self.encrypted
            && self.decrypter.is_some()
            && h.content_type == content_type::APPLICATION_DATA;
        let wanted = decrypt
            || !self.encrypted
                && matches!(
                    h.content_type,
                    content_type::HANDSHAKE
                        | content_type::ALERT
                        | content_type::CHANGE_CIPHER_SPEC
                );
        let whole = after.split_at_checked(body_len);
        if wanted && whole.is_none() {
            return None; // need the whole body
        }
        self.records = self.records.saturating_add(1);
        let reply = on(Event::Record(h, self.encrypted));
        self.apply(reply);
        let Some((body, next)) = whole else {
            // Skip the body without keeping it: what is here now, and the
            // rest as it arrives.
            self.skip = body_len.saturating_sub(after.len());
            return Some(&[]);
        };
        if decrypt {
            self.decrypt_record(header, body, on);
        } else if wanted {
            self.plaintext_record(h.content_type, body, on);
        }
        Some(next)
    }

    /// Open one encrypted record (header and body) and read what it holds.
    fn decrypt_record(
        &mut self,
        header: &[u8; 5],
        body: &[u8],
        on: &mut dyn FnMut(Event<'_>) -> Reply,
    ) {
        let Some(d) = self.decrypter.as_mut() else {
            return;
        };
        match d.open(header, body) {
            Ok((content_type::HANDSHAKE, plain)) => self.handshake_bytes(&plain, on),
            Ok((content_type::ALERT, plain)) => alerts(&plain, on),
            // Handshake keys never open application data; anything else
            // inside is not ours to read.
            Ok(_) => {}
            Err(e) => {
                let reply = on(Event::DecryptFailed(e));
                self.apply(reply);
            }
        }
    }

    fn plaintext_record(&mut self, ct: u8, body: &[u8], on: &mut dyn FnMut(Event<'_>) -> Reply) {
        match ct {
            content_type::CHANGE_CIPHER_SPEC => {
                let reply = on(Event::ChangeCipherSpec);
                self.apply(reply);
            }
            content_type::ALERT => alerts(body, on),
            _ => self.handshake_bytes(body, on),
        }
    }

    fn handshake_bytes(&mut self, body: &[u8], on: &mut dyn FnMut(Event<'_>) -> Reply) {
        let body = pass_over(body, &mut self.hs_skip);
        // Messages are read in place: `hs` is taken out of `self` while they
        // are handed over (`apply` needs `self`), not copied each.
        let mut hs = std::mem::take(&mut self.hs);
        hs.extend_from_slice(body);
        // Bytes of `hs` read as whole messages.
        let mut at = 0;
        // A 4-byte header: type and a 3-byte length.
        while let Some((&[msg_type, l0, l1, l2], after)) =
            hs.get(at..).and_then(<[u8]>::split_first_chunk::<4>)
        {
            let len = u32::from_be_bytes([0, l0, l1, l2]) as usize;
            if len > MAX_HANDSHAKE_MESSAGE {
                on(Event::Oversized(msg_type, len));
                // Pass over the rest of it, so the next message is read in step.
                self.hs_skip = len.saturating_sub(after.len());
                at = hs.len();
                break;
            }
            let Some((body, next)) = after.split_at_checked(len) else {
                break;
            };
            let reply = on(Event::Handshake(msg_type, body));
            // `next` is a suffix of `hs`.
            at = hs.len().saturating_sub(next.len());
            if self.apply(reply) {
                // Anything after this message in the record is ciphertext
                // (or, after a Finished, no longer ours to read).
                at = hs.len();
                break;
            }
        }
        hs.drain(..at);
        self.hs = hs;
    }
}

/// Pass over up to `*skip` bytes at the front of `data`, counting them off.
fn pass_over<'d>(data: &'d [u8], skip: &mut usize) -> &'d [u8] {
    let (passed, rest) = data.split_at_checked(*skip).unwrap_or((data, &[]));
    *skip = skip.saturating_sub(passed.len());
    rest
}

/// The alerts in a record body: level and description, two bytes each (a
/// trailing odd byte is not an alert).
fn alerts(body: &[u8], on: &mut dyn FnMut(Event<'_>) -> Reply) {
    for &[level, description] in body.as_chunks::<2>().0 {
        on(Event::Alert(level, description));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(chunks: &[&[u8]]) -> Vec<String> {
        let mut d = Direction::default();
        let mut out = Vec::new();
        for c in chunks {
            d.feed(c, &mut |e| {
                out.push(format!("{e:?}"));
                None
            });
        }
        out
    }

    fn handshake_record(msgs: &[u8]) -> Vec<u8> {
        let mut r = vec![22, 3, 3];
        r.extend((msgs.len() as u16).to_be_bytes());
        r.extend(msgs);
        r
    }

    #[test]
    fn message_split_across_records_and_segments() {
        let msg = [1u8, 0, 0, 3, 7, 8, 9];
        let r1 = handshake_record(&msg[..5]);
        let r2 = handshake_record(&msg[5..]);
        let mut stream = r1.clone();
        stream.extend(&r2);
        // Every split of the stream into two segments gives the same events.
        let whole = events(&[&stream]);
        assert!(
            whole.contains(&"Handshake(1, [7, 8, 9])".to_string()),
            "{whole:?}"
        );
        for cut in 0..stream.len() {
            assert_eq!(
                events(&[&stream[..cut], &stream[cut..]]),
                whole,
                "cut {cut}"
            );
        }
    }

    #[test]
    fn ciphertext_bodies_are_skipped_not_parsed() {
        let mut s = vec![23, 3, 3, 0, 4, 1, 0, 0, 0];
        s.extend([21, 3, 3, 0, 2, 2, 40]);
        let ev = events(&[&s[..7], &s[7..]]);
        assert_eq!(ev.len(), 3, "{ev:?}");
        assert_eq!(ev[2], "Alert(2, 40)");
    }

    #[test]
    fn plaintext_is_rejected() {
        assert_eq!(events(&[b"GET / HTTP/1.1\r\n"]), vec!["NotTls".to_string()]);
    }

    #[test]
    fn oversized_message_is_reported_not_buffered_and_passed_over() {
        let len = MAX_HANDSHAKE_MESSAGE + 1;
        let mut first = vec![11u8];
        first.extend(&(len as u32).to_be_bytes()[1..]);
        first.extend([0u8; 16000]);
        let mut stream = handshake_record(&first);
        let mut left = len - 16000;
        while left > 0 {
            let n = left.min(16384);
            stream.extend(handshake_record(&vec![0x6c; n]));
            left -= n;
        }
        stream.extend(handshake_record(&[14, 0, 0, 0]));
        let ev = events(&[&stream]);
        assert_eq!(ev[1], format!("Oversized(11, {len})"));
        assert_eq!(ev.iter().filter(|e| e.starts_with("Oversized")).count(), 1);
        assert_eq!(ev.last().unwrap(), "Handshake(14, [])");
    }

    #[test]
    fn resync_after_gap() {
        let mut d = Direction::default();
        let mut n = 0;
        d.feed(&[23, 3, 3, 0, 10, 1, 2], &mut |_| {
            n += 1;
            None
        });
        d.gap(100);
        d.feed(&[9, 9, 23, 3, 3, 0, 1, 5, 23, 3, 3, 0, 1, 6], &mut |_| {
            n += 1;
            None
        });
        assert_eq!(n, 3);
        assert!(!d.is_broken());
    }
}
