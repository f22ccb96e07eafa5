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
    inputs: Vec<Input>,
}

/// One input: its reader, the packet read ahead for the merge, and what
/// happened to it.
struct Input {
    /// The input's place among the inputs (`PacketBuf::source`).
    index: usize,
    reader: CaptureReader,
    head: Option<PacketBuf>,
    summary: InputSummary,
    /// Decryption Secrets Blocks already handed out.
    secrets_given: usize,
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
        let inputs = readers
            .into_iter()
            .enumerate()
            .map(|(index, reader)| {
                let mut input = Input {
                    index,
                    summary: InputSummary {
                        name: reader.name().to_string(),
                        ..InputSummary::default()
                    },
                    reader,
                    head: None,
                    secrets_given: 0,
                };
                input.refill(PacketBuf::default());
                input
            })
            .collect();
        MergedSource { inputs }
    }

    /// The next packet in time order, swapped into `out` (whose old buffer is reused).
    pub fn next_into(&mut self, out: &mut PacketBuf) -> bool {
        // The earliest head; of equal ones, the first input's.
        let Some(input) = self
            .inputs
            .iter_mut()
            .filter(|input| input.head.is_some())
            .min_by_key(|input| input.head.as_ref().map(|p| p.ts))
        else {
            return false;
        };
        let Some(head) = input.head.take() else {
            return false;
        };
        let spare = std::mem::replace(out, head);
        input.refill(spare);
        true
    }

    /// Hand every packet, in time order, to `f`. With one input the packets
    /// come straight from its read buffer; several inputs are merged
    /// through copies.
    pub fn for_each(&mut self, f: &mut dyn FnMut(Item<'_>)) {
        // Secrets blocks read with the first packets come before them.
        self.give_secrets(f);
        if let [input] = self.inputs.as_mut_slice() {
            input.for_each(f);
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
        for input in &mut self.inputs {
            input.give_secrets(f);
        }
    }

    /// Per-input summaries (complete once `next_into` has returned false).
    pub fn summaries(&self) -> Vec<InputSummary> {
        self.inputs.iter().map(|i| i.summary.clone()).collect()
    }

    /// Secrets from pcapng Decryption Secrets Blocks of every input.
    pub fn decryption_secrets(&self) -> impl Iterator<Item = &[u8]> {
        self.inputs
            .iter()
            .flat_map(|i| i.reader.decryption_secrets().iter().map(Vec::as_slice))
    }
}

impl Input {
    /// Read the next packet into `buf` as this input's head.
    fn refill(&mut self, mut buf: PacketBuf) {
        self.head = match self.reader.next_into(&mut buf) {
            ReadOutcome::Packet => {
                buf.source = self.index;
                let s = &mut self.summary;
                s.packets = s.packets.saturating_add(1);
                widen(&mut s.window, buf.ts);
                Some(buf)
            }
            ReadOutcome::End => None,
            ReadOutcome::Damaged(why) => {
                self.summary.damage = Some(why);
                None
            }
            // `next_into` reads on past secrets blocks.
            ReadOutcome::Secrets => None,
        };
        self.note_format();
    }

    /// The only input: the head read by `new` first, then the rest straight
    /// from the read buffer, without copying.
    fn for_each(&mut self, f: &mut dyn FnMut(Item<'_>)) {
        if let Some(head) = self.head.take() {
            f(Item::Packet(super::Packet {
                ts: head.ts,
                link: head.link,
                data: &head.data,
                orig_len: head.orig_len,
            }));
            // The window must follow every packet, not only the head:
            // with one input it was the head's instant alone.
            let mut window = self.summary.window;
            loop {
                let step = self.reader.next_with(&mut |p| {
                    widen(&mut window, p.ts);
                    f(Item::Packet(p))
                });
                match step {
                    ReadOutcome::Packet => {
                        self.summary.packets = self.summary.packets.saturating_add(1);
                    }
                    ReadOutcome::Secrets => self.give_secrets(f),
                    ReadOutcome::End => break,
                    ReadOutcome::Damaged(why) => {
                        self.summary.damage = Some(why);
                        break;
                    }
                }
            }
            self.summary.window = window;
        }
        self.note_format();
    }

    /// What the reader has learnt of the format and the ignored secrets.
    fn note_format(&mut self) {
        self.summary.format = self.reader.format();
        self.summary.ignored_secrets = self.reader.ignored_secrets().to_vec();
    }

    /// Hand out the secrets blocks read since the last call.
    fn give_secrets(&mut self, f: &mut dyn FnMut(Item<'_>)) {
        let secrets = self.reader.decryption_secrets();
        for text in secrets.iter().skip(self.secrets_given) {
            f(Item::Secrets {
                input: self.reader.name(),
                text,
            });
        }
        self.secrets_given = secrets.len();
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
