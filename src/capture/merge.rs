//! Several captures read as one, in timestamp order (a k-way merge; ties go
//! to the input named first, so the order is deterministic).

use super::{CaptureReader, PacketBuf, ReadOutcome};

/// What happened to one input, for the report.
#[derive(Debug, Clone, Default)]
pub struct InputSummary {
    /// The name the user gave.
    pub name: String,
    /// `pcap` or `pcapng`.
    pub format: &'static str,
    /// Packets read from it.
    pub packets: u64,
    /// Why reading stopped early, if it did.
    pub damage: Option<String>,
    /// Timestamps of its first and last packet (the earliest and latest:
    /// captures are not always in order), if it held any.
    pub window: Option<(super::Nanos, super::Nanos)>,
    /// Decryption Secrets Blocks of a type other than a TLS key log,
    /// ignored: (secrets type, blocks).
    pub ignored_secrets: Vec<(u32, u64)>,
}

/// All inputs, merged.
pub struct MergedSource {
    readers: Vec<CaptureReader>,
    heads: Vec<Option<PacketBuf>>,
    summaries: Vec<InputSummary>,
    /// Decryption Secrets Blocks already handed out, per input.
    secrets_given: Vec<usize>,
}

/// What `for_each` hands out, in order.
pub enum Item<'a> {
    /// A packet.
    Packet(super::Packet<'a>),
    /// Key log text from a pcapng Decryption Secrets Block of input `input`,
    /// given before the packets that follow it in that input.
    Secrets {
        /// The input's name.
        input: &'a str,
        /// The block's secrets (NSS key log text).
        text: &'a [u8],
    },
}

impl MergedSource {
    /// Merge these readers; they are read lazily.
    pub fn new(readers: Vec<CaptureReader>) -> Self {
        let summaries = readers
            .iter()
            .map(|r| InputSummary {
                name: r.name().to_string(),
                ..InputSummary::default()
            })
            .collect();
        let mut merged = MergedSource {
            heads: vec![None; readers.len()],
            secrets_given: vec![0; readers.len()],
            readers,
            summaries,
        };
        for i in 0..merged.readers.len() {
            merged.refill(i, PacketBuf::default());
        }
        merged
    }

    fn refill(&mut self, i: usize, mut buf: PacketBuf) {
        match self.readers[i].next_into(&mut buf) {
            ReadOutcome::Packet => {
                buf.source = i;
                let s = &mut self.summaries[i];
                s.packets += 1;
                widen(&mut s.window, buf.ts);
                self.heads[i] = Some(buf);
            }
            ReadOutcome::End => self.heads[i] = None,
            ReadOutcome::Damaged(why) => {
                self.summaries[i].damage = Some(why);
                self.heads[i] = None;
            }
            // `next_into` reads on past secrets blocks.
            ReadOutcome::Secrets => self.heads[i] = None,
        }
        self.summaries[i].format = self.readers[i].format();
        self.summaries[i].ignored_secrets = self.readers[i].ignored_secrets().to_vec();
    }

    /// The next packet in time order, swapped into `out` (whose old buffer is reused).
    pub fn next_into(&mut self, out: &mut PacketBuf) -> bool {
        let mut best: Option<usize> = None;
        for (i, head) in self.heads.iter().enumerate() {
            if let Some(p) = head {
                let better = match best.and_then(|b| self.heads[b].as_ref()) {
                    Some(cur) => p.ts < cur.ts,
                    None => true,
                };
                if better {
                    best = Some(i);
                }
            }
        }
        let Some(i) = best else { return false };
        let Some(head) = self.heads[i].take() else {
            return false;
        };
        let spare = std::mem::replace(out, head);
        self.refill(i, spare);
        true
    }

    /// Hand every packet, in time order, to `f`. With one input the packets
    /// come straight from its read buffer; several inputs are merged
    /// through copies.
    pub fn for_each(&mut self, f: &mut dyn FnMut(Item<'_>)) {
        // Secrets blocks read with the first packets come before them.
        self.give_secrets(f);
        if self.readers.len() == 1 {
            // The head read by `new` first, then the rest without copying.
            if let Some(head) = self.heads[0].take() {
                f(Item::Packet(super::Packet {
                    ts: head.ts,
                    link: head.link,
                    data: &head.data,
                    orig_len: head.orig_len,
                }));
                // The window must follow every packet, not only the head:
                // with one input it was the head's instant alone.
                let mut window = self.summaries[0].window;
                loop {
                    let step = self.readers[0].next_with(&mut |p| {
                        widen(&mut window, p.ts);
                        f(Item::Packet(p))
                    });
                    match step {
                        ReadOutcome::Packet => self.summaries[0].packets += 1,
                        ReadOutcome::Secrets => self.give_secrets(f),
                        ReadOutcome::End => break,
                        ReadOutcome::Damaged(why) => {
                            self.summaries[0].damage = Some(why);
                            break;
                        }
                    }
                }
                self.summaries[0].window = window;
            }
            self.summaries[0].format = self.readers[0].format();
            self.summaries[0].ignored_secrets = self.readers[0].ignored_secrets().to_vec();
            return;
        }
        let mut buf = PacketBuf::default();
        while self.next_into(&mut buf) {
            // A head just read may have had a secrets block before it.
            self.give_secrets(f);
            f(Item::Packet(super::Packet {
                ts: buf.ts,
                link: buf.link,
                data: &buf.data,
                orig_len: buf.orig_len,
            }));
        }
    }

    /// Hand out the secrets blocks read since the last call.
    fn give_secrets(&mut self, f: &mut dyn FnMut(Item<'_>)) {
        for (i, r) in self.readers.iter().enumerate() {
            for text in &r.decryption_secrets()[self.secrets_given[i]..] {
                f(Item::Secrets {
                    input: r.name(),
                    text,
                });
            }
            self.secrets_given[i] = r.decryption_secrets().len();
        }
    }

    /// Per-input summaries (complete once `next_into` has returned false).
    pub fn summaries(&self) -> &[InputSummary] {
        &self.summaries
    }

    /// Secrets from pcapng Decryption Secrets Blocks of every input.
    pub fn decryption_secrets(&self) -> impl Iterator<Item = &[u8]> {
        self.readers
            .iter()
            .flat_map(|r| r.decryption_secrets().iter().map(Vec::as_slice))
    }
}

/// Stretch a capture window to cover `ts` (captures are not always in
/// time order, so the earliest and the latest, not the first and the last read).
fn widen(window: &mut Option<(super::Nanos, super::Nanos)>, ts: super::Nanos) {
    *window = Some(match *window {
        Some((first, last)) => (first.min(ts), last.max(ts)),
        None => (ts, ts),
    });
}
