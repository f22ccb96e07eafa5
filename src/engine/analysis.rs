//! What the engine keeps per flow above TCP: is it TLS, cleartext, or not
//! yet known, and the TLS session when it is TLS.
//!
//! Cleartext is named from the first bytes of each side, held only until
//! the flow is classified and never written anywhere: the report carries
//! the protocol's name, not its payload.

use crate::decode::Underlay;
use crate::flow::Chunk;
use crate::plaintext::{self, AppProtocol};
use crate::tls::KeyLog;
use crate::tls::TlsSession;
use crate::tls::record::{self, Header, Incomplete, content_type};

/// Bytes of each side kept for naming a cleartext protocol.
const PREFIX_LIMIT: usize = 2048;
/// Bytes of a mid-stream flow searched for TLS records before calling it cleartext.
const MIDSTREAM_PROBE_LIMIT: usize = 32 * 1024;
/// New bytes that make another mid-stream search worthwhile (searching on
/// every tiny segment would be quadratic; found by fuzzing).
const PROBE_STEP: usize = 1024;

/// The application-layer state of a flow.
#[derive(Debug, Default)]
pub enum AppState {
    /// No payload yet.
    #[default]
    Empty,
    /// Picked up mid-stream; searching the bytes for TLS records.
    Probing,
    /// TLS (possibly after a cleartext prelude).
    Tls(Box<TlsSession>),
    /// Cleartext; still watching for a STARTTLS-style switch to TLS.
    Plaintext,
}

/// Per-flow analysis state.
#[derive(Debug, Default)]
pub struct FlowAnalysis {
    /// TLS, cleartext, or undecided.
    pub state: AppState,
    /// An underlay recognised on this flow's packets.
    pub underlay: Option<Underlay>,
    /// For UDP flows: what the datagrams carry.
    pub datagram: Option<super::datagram::Datagram>,
    /// The flow was found inside this tunnel.
    pub inside: Option<Underlay>,
    /// First bytes per side (transient; never reported).
    pub prefix: [Vec<u8>; 2],
    /// Cleartext came before TLS.
    pub starttls: bool,
    /// The cleartext protocol, named when TLS took over (STARTTLS).
    pub prelude_protocol: Option<AppProtocol>,
    /// Nothing more to learn: stop reassembling.
    pub decided: bool,
    /// Prefix lengths at the last mid-stream search, per side.
    probed: [usize; 2],
    /// While a switch from cleartext to TLS started by a ClientHello is not
    /// yet answered by the peer in TLS: the cleartext prefixes from before
    /// it. Any ClientHello-looking bytes inside cleartext (an upload, a
    /// request body) would otherwise turn a cleartext flow into "TLS".
    unconfirmed: Option<Box<[Vec<u8>; 2]>>,
}

impl crate::flow::Buffered for FlowAnalysis {
    fn buffered(&self) -> usize {
        // A decided flow gave its buffers back as it was settled
        // (`engine::settle` shrinks the session; the prefixes went to it
        // when TLS started) and nothing feeds them since: the session is
        // not read again (a cache miss per flow in every sweep).
        if self.decided {
            debug_assert_eq!(self.tls().map_or(0, TlsSession::buffered), 0);
            return 0;
        }
        let tls = match &self.state {
            AppState::Tls(s) => s.buffered(),
            _ => 0,
        };
        let held = self
            .unconfirmed
            .as_ref()
            .map_or(0, |p| p[0].capacity() + p[1].capacity());
        self.prefix[0].capacity() + self.prefix[1].capacity() + tls + held
    }
}

impl FlowAnalysis {
    /// Reassembled bytes (or a hole) from `side`. `from_start` is true when
    /// the stream's beginning was captured (its SYN was seen).
    pub fn on_chunk(
        &mut self,
        side: usize,
        chunk: Chunk<'_>,
        from_start: bool,
        client: Option<usize>,
        keys: &KeyLog,
    ) {
        match chunk {
            Chunk::Gap(n) => self.on_gap(side, n),
            Chunk::Data(bytes) => self.on_data(side, bytes, from_start, client, keys),
        }
    }

    fn on_gap(&mut self, side: usize, n: u64) {
        match &mut self.state {
            AppState::Tls(s) => s.gap(side, n),
            AppState::Empty => self.state = AppState::Probing,
            AppState::Probing | AppState::Plaintext => self.prefix[side].clear(),
        }
    }

    fn on_data(
        &mut self,
        side: usize,
        bytes: &[u8],
        from_start: bool,
        client: Option<usize>,
        keys: &KeyLog,
    ) {
        match &mut self.state {
            AppState::Tls(s) => {
                s.feed(side, bytes, keys);
                self.decided = s.is_decided();
                self.check_switch(side, bytes);
            }
            AppState::Empty => {
                let kept = self.keep_prefix(side, bytes, PREFIX_LIMIT);
                if !from_start {
                    self.state = AppState::Probing;
                    self.probe(side, &bytes[kept..], false, keys);
                    return;
                }
                match record::parse_start(&self.prefix[side]) {
                    Err(Incomplete) => {}
                    Ok(Some(_)) => {
                        self.start_tls(side, client, false, keys);
                        self.feed_rest(side, &bytes[kept..], keys);
                    }
                    Ok(None) => self.state = AppState::Plaintext,
                }
            }
            AppState::Probing => {
                let kept = self.keep_prefix(side, bytes, MIDSTREAM_PROBE_LIMIT);
                self.probe(side, &bytes[kept..], false, keys);
            }
            AppState::Plaintext => {
                if let Some(hello) = starts_hello(bytes) {
                    self.prelude_protocol = self.name_cleartext(client, 0);
                    let before = std::mem::take(&mut self.prefix);
                    self.prefix[side] = bytes.to_vec();
                    // The ClientHello's sender is the client; the ServerHello's
                    // receiver is (when the ClientHello was not captured).
                    let tls_client = if hello == 1 { side } else { side ^ 1 };
                    self.start_tls(side, Some(tls_client), true, keys);
                    // A ServerHello is the server's own answer; a ClientHello
                    // counts only once the peer answers it in TLS.
                    if hello == 1 {
                        self.unconfirmed = Some(Box::new(before));
                        self.check_switch(side, bytes);
                    }
                } else {
                    self.keep_prefix(side, bytes, PREFIX_LIMIT);
                }
            }
        }
    }

    /// A tentative STARTTLS switch (see `unconfirmed`): confirmed when the
    /// peer answers in TLS (a ServerHello, a HelloRetryRequest or an alert);
    /// undone when either side's bytes stop being TLS records first, and
    /// the flow is cleartext again (the bytes since the switch were
    /// cleartext all along). `bytes` is the chunk just fed from `side`.
    fn check_switch(&mut self, side: usize, bytes: &[u8]) {
        let AppState::Tls(s) = &self.state else {
            return;
        };
        if self.unconfirmed.is_none() {
            return;
        }
        let f = &s.facts;
        let answered = f.server_hello.is_some()
            || f.retry_request.is_some()
            || f.alerts.iter().any(|a| a.from_client == Some(false));
        if answered {
            self.unconfirmed = None;
        } else if s.is_broken(0) || s.is_broken(1) {
            self.revert_switch();
            self.keep_prefix(side, bytes, PREFIX_LIMIT);
        } else {
            // Keep reassembling until the answer decides.
            self.decided = false;
        }
    }

    /// Undo a tentative switch: back to cleartext with the bytes held
    /// before it (the ClientHello-looking bytes are not kept).
    fn revert_switch(&mut self) {
        if let Some(before) = self.unconfirmed.take() {
            self.prefix = *before;
            self.state = AppState::Plaintext;
            self.starttls = false;
            self.prelude_protocol = None;
            self.decided = false;
        }
    }

    /// Hold the start of `bytes` up to `limit` in all; returns how many were held.
    fn keep_prefix(&mut self, side: usize, bytes: &[u8], limit: usize) -> usize {
        let p = &mut self.prefix[side];
        let n = limit.saturating_sub(p.len()).min(bytes.len());
        p.extend_from_slice(&bytes[..n]);
        n
    }

    /// Bytes of the chunk that started TLS beyond what the prefix held (a
    /// large segment: offloads, reassembled data) go on to the session.
    fn feed_rest(&mut self, side: usize, rest: &[u8], keys: &KeyLog) {
        if let AppState::Tls(s) = &mut self.state
            && !rest.is_empty()
        {
            s.feed(side, rest, keys);
            self.decided = s.is_decided();
        }
    }

    /// Start TLS with the bytes held so far; `side` holds the first record.
    fn start_tls(&mut self, side: usize, client: Option<usize>, starttls: bool, keys: &KeyLog) {
        let mut s = TlsSession::new(client);
        let first = std::mem::take(&mut self.prefix[side]);
        s.feed(side, &first, keys);
        let other = std::mem::take(&mut self.prefix[side ^ 1]);
        if !other.is_empty() && !starttls {
            s.feed(side ^ 1, &other, keys);
        }
        self.starttls = starttls;
        self.decided = s.is_decided();
        self.state = AppState::Tls(Box::new(s));
    }

    /// Mid-stream: a side whose bytes hold a run of TLS records makes it TLS.
    /// `rest` is what the current chunk of `side` had beyond the prefix;
    /// `force` searches even if few bytes arrived since the last search.
    fn probe(&mut self, side: usize, rest: &[u8], force: bool, keys: &KeyLog) {
        let synced = (0..2).find(|&d| {
            let p = &self.prefix[d];
            let due = force
                || self.probed[d] == 0
                || p.len() >= self.probed[d] + PROBE_STEP
                || p.len() >= MIDSTREAM_PROBE_LIMIT;
            if p.is_empty() || !due || p.len() == self.probed[d] {
                return false;
            }
            self.probed[d] = p.len();
            record::parse_start(p).is_ok_and(|h| h.is_some()) || record::find_sync(p).is_some()
        });
        if let Some(_d) = synced {
            let mut s = TlsSession::mid_stream(None);
            for d in 0..2 {
                let bytes = std::mem::take(&mut self.prefix[d]);
                if !bytes.is_empty() {
                    s.feed(d, &bytes, keys);
                }
            }
            self.decided = s.is_decided();
            self.state = AppState::Tls(Box::new(s));
            self.feed_rest(side, rest, keys);
        } else if self.prefix.iter().any(|p| p.len() >= MIDSTREAM_PROBE_LIMIT) {
            self.state = AppState::Plaintext;
        }
    }

    /// The flow is ending: an unanswered STARTTLS switch is undone, and a
    /// mid-stream flow gets its last search for TLS.
    pub fn finalize(&mut self) {
        // A ClientHello in cleartext that nobody answered in TLS: the flow
        // was cleartext (the switch was never shown to happen).
        self.revert_switch();
        if matches!(self.state, AppState::Probing) {
            // A mid-stream start has no handshake to open: no keys needed.
            self.probe(0, &[], true, &KeyLog::default());
        }
    }

    /// Name the cleartext protocol from the bytes held, given the server's port.
    pub fn name_cleartext(&self, client: Option<usize>, server_port: u16) -> Option<AppProtocol> {
        let c = client.unwrap_or(0);
        plaintext::detect(&self.prefix[c], &self.prefix[c ^ 1], server_port)
    }

    /// Is this flow TLS?
    pub fn tls(&self) -> Option<&TlsSession> {
        match &self.state {
            AppState::Tls(s) => Some(s),
            _ => None,
        }
    }
}

/// A chunk that starts with a handshake record holding a ClientHello (1) or
/// a ServerHello (2): the switch from cleartext to TLS on one connection
/// (STARTTLS, SSLRequest, SOCKS, HTTP CONNECT...).
fn starts_hello(b: &[u8]) -> Option<u8> {
    match record::parse_start(b) {
        Ok(Some(Header::Record(h))) if h.content_type == content_type::HANDSHAKE => {
            b.get(5).copied().filter(|t| *t == 1 || *t == 2)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client_hello_record() -> Vec<u8> {
        let mut body = vec![3, 3];
        body.extend([7u8; 32]);
        body.extend([0, 0, 2, 0x13, 0x01, 1, 0]);
        let mut msg = vec![1, 0, 0, body.len() as u8];
        msg.extend(body);
        let mut rec = vec![22, 3, 1, 0, msg.len() as u8];
        rec.extend(msg);
        rec
    }

    #[test]
    fn tls_from_the_first_byte() {
        let mut a = FlowAnalysis::default();
        let rec = client_hello_record();
        // a record header split over two segments still starts TLS
        a.on_chunk(0, Chunk::Data(&rec[..3]), true, Some(0), &KeyLog::default());
        assert!(matches!(a.state, AppState::Empty));
        a.on_chunk(0, Chunk::Data(&rec[3..]), true, Some(0), &KeyLog::default());
        let s = a.tls().expect("tls");
        assert!(s.facts.client_hello.is_some());
    }

    /// One segment larger than the prefix (offloaded captures carry up to
    /// 64 KiB per packet) must reach the TLS parser whole.
    #[test]
    fn a_large_first_segment_is_not_cut() {
        let mut a = FlowAnalysis::default();
        let mut bytes = client_hello_record();
        // An application-data record after the ClientHello, far past the prefix limit.
        bytes.extend([23, 3, 3, 0x27, 0x10]);
        bytes.extend(vec![0xaa; 10_000]);
        bytes.extend([21, 3, 3, 0, 2, 2, 40]);
        a.on_chunk(0, Chunk::Data(&bytes), true, Some(0), &KeyLog::default());
        let s = a.tls().expect("tls");
        assert!(!s.is_broken(0), "record framing lost");
        assert_eq!(s.facts.alerts.len(), 1, "the alert after 10 KB was read");
    }

    #[test]
    fn starttls_after_cleartext() {
        let mut a = FlowAnalysis::default();
        a.on_chunk(
            1,
            Chunk::Data(b"220 mail ESMTP\r\n"),
            true,
            Some(0),
            &KeyLog::default(),
        );
        a.on_chunk(
            0,
            Chunk::Data(b"STARTTLS\r\n"),
            true,
            Some(0),
            &KeyLog::default(),
        );
        assert!(matches!(a.state, AppState::Plaintext));
        a.on_chunk(
            0,
            Chunk::Data(&client_hello_record()),
            true,
            Some(0),
            &KeyLog::default(),
        );
        assert!(a.starttls);
        assert!(a.tls().unwrap().facts.client_hello.is_some());
    }

    fn server_hello_record() -> Vec<u8> {
        let mut body = vec![3, 3];
        body.extend([9u8; 32]);
        body.extend([0, 0x13, 0x01, 0, 0, 0]);
        let mut msg = vec![2, 0, 0, body.len() as u8];
        msg.extend(body);
        let mut rec = vec![22, 3, 3, 0, msg.len() as u8];
        rec.extend(msg);
        rec
    }

    fn feed(a: &mut FlowAnalysis, side: usize, bytes: &[u8]) {
        a.on_chunk(side, Chunk::Data(bytes), true, Some(0), &KeyLog::default());
    }

    /// Issue 22 item 2: an HTTP upload whose body starts, at a segment
    /// boundary, with a ClientHello record is still cleartext: the server
    /// answers in HTTP, and every later byte is cleartext too.
    #[test]
    fn a_client_hello_inside_cleartext_is_not_a_switch() {
        let mut a = FlowAnalysis::default();
        feed(
            &mut a,
            0,
            b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 60\r\n\r\n",
        );
        feed(&mut a, 0, &client_hello_record());
        feed(&mut a, 1, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        feed(&mut a, 0, b"GET /secret-data HTTP/1.1\r\nHost: x\r\n\r\n");
        a.finalize();
        assert!(matches!(a.state, AppState::Plaintext), "{:?}", a.state);
        assert!(!a.starttls);
        assert_eq!(a.name_cleartext(Some(0), 8080), Some(AppProtocol::Http1));
    }

    /// The same bytes with nothing after them: no TLS answer, no switch.
    #[test]
    fn an_unanswered_client_hello_in_cleartext_is_not_a_switch() {
        let mut a = FlowAnalysis::default();
        feed(&mut a, 0, b"POST /upload HTTP/1.1\r\nHost: x\r\n\r\n");
        feed(&mut a, 0, &client_hello_record());
        assert!(a.tls().is_some() && !a.decided, "tentative until answered");
        a.finalize();
        assert!(matches!(a.state, AppState::Plaintext));
        assert_eq!(a.name_cleartext(Some(0), 8080), Some(AppProtocol::Http1));
    }

    /// A real switch is confirmed by the server's ServerHello and stays.
    #[test]
    fn starttls_confirmed_by_the_server_hello() {
        let mut a = FlowAnalysis::default();
        feed(&mut a, 1, b"220 mail ESMTP\r\n");
        feed(&mut a, 0, b"STARTTLS\r\n");
        feed(&mut a, 1, b"220 go ahead\r\n");
        feed(&mut a, 0, &client_hello_record());
        feed(&mut a, 1, &server_hello_record());
        a.finalize();
        assert!(a.starttls);
        let s = a.tls().expect("tls");
        assert!(s.facts.server_hello.is_some());
        assert_eq!(a.prelude_protocol, Some(AppProtocol::Smtp));
    }

    #[test]
    fn mid_stream_tls_is_tls_without_handshake() {
        let mut a = FlowAnalysis::default();
        let mut bytes = vec![0x55u8; 10]; // tail of an earlier record
        bytes.extend([23, 3, 3, 0, 2, 1, 2, 23, 3, 3, 0, 1, 9]);
        a.on_chunk(0, Chunk::Data(&bytes), false, None, &KeyLog::default());
        let s = a.tls().expect("tls");
        assert!(s.facts.client_hello.is_none());
        assert_eq!(s.facts.record_version, Some(0x0303));
    }

    #[test]
    fn mid_stream_cleartext_stays_cleartext() {
        let mut a = FlowAnalysis::default();
        for _ in 0..40 {
            a.on_chunk(
                0,
                Chunk::Data(&[b'x'; 1000]),
                false,
                None,
                &KeyLog::default(),
            );
        }
        assert!(matches!(a.state, AppState::Plaintext));
    }
}
