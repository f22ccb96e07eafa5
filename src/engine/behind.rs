//! A sink on a thread of its own, behind the analysis (`analyze --threads
//! 2` and more).
//!
//! What becomes of a finished flow in `analyze`'s sink (enrichment,
//! verification, the metadata and inventory gathered from it, its record's
//! JSON in the spill file) needs nothing from the flow table, and much of
//! it comes at the end of a capture, when the flows still open are
//! finished all at once.
//! [`Behind`] hands records over in the order they come, in batches, to a
//! thread that passes them to the sink in that same order: the sink sees
//! exactly the calls it would see on the calling thread.

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use super::FlowSink;
use crate::model::report::FlowRecord;

/// Records handed over at once.
const BATCH: usize = 32;
/// Batches waiting for the sink's thread: the analysis stops when the sink
/// falls behind, so memory stays bounded.
const QUEUE: usize = 8;

type Batch = Vec<(u64, FlowRecord)>;

/// A sink fed on the calling thread, or on a thread of its own.
pub enum Behind<S> {
    /// Records go to the sink as they come.
    Here(S),
    /// Records go to the sink on its thread.
    Thread(Box<Feeding<S>>),
}

/// The calling side of a sink on its own thread.
pub struct Feeding<S> {
    tx: Option<SyncSender<Batch>>,
    batch: Batch,
    /// Gives the sink back; `None` only if it never reached the thread,
    /// which [`Behind::new`] rules out.
    thread: JoinHandle<Option<S>>,
}

impl<S: FlowSink + Send + 'static> Behind<S> {
    /// `sink` on a thread of its own when `thread`, if one can be started
    /// and the sink does not want to hear of flows as they open and decide
    /// (live output: those calls stay on the calling thread); on the
    /// calling thread otherwise.
    pub fn new(sink: S, thread: bool) -> Self {
        if !thread || sink.wants_progress() {
            return Behind::Here(sink);
        }
        let (tx, rx) = sync_channel(QUEUE);
        // The sink goes to the thread once it runs, so that it is still
        // here should it not start.
        let (give, take) = sync_channel::<S>(1);
        let started = std::thread::Builder::new()
            .name("tls-audit-sink".into())
            .spawn(move || take.recv().ok().map(|sink| drain(sink, &rx)));
        let Ok(thread) = started else {
            return Behind::Here(sink);
        };
        // Fails only if the thread has ended already.
        if let Err(refused) = give.send(sink) {
            return Behind::Here(refused.0);
        }
        Behind::Thread(Box::new(Feeding {
            tx: Some(tx),
            batch: Vec::with_capacity(BATCH),
            thread,
        }))
    }

    /// Every record passed on; the sink back. A panic on the sink's thread
    /// goes on here, as it would have on the calling thread.
    pub fn join(self) -> S {
        let mut feeding = match self {
            Behind::Here(sink) => return sink,
            Behind::Thread(feeding) => feeding,
        };
        feeding.hand_over();
        drop(feeding.tx.take());
        match feeding.thread.join() {
            Ok(Some(sink)) => sink,
            Ok(None) => std::panic::resume_unwind(Box::new("the sink never reached its thread")),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

impl<S> Feeding<S> {
    fn hand_over(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        // The thread ends early only by panicking, which `join` passes on.
        if let Some(tx) = &self.tx
            && tx.send(batch).is_err()
        {
            self.tx = None;
        }
    }
}

impl<S: FlowSink> FlowSink for Behind<S> {
    fn flow(&mut self, id: u64, record: FlowRecord) {
        match self {
            Behind::Here(sink) => sink.flow(id, record),
            Behind::Thread(feeding) => {
                feeding.batch.push((id, record));
                if feeding.batch.len() >= BATCH {
                    feeding.hand_over();
                }
            }
        }
    }

    /// On the calling thread the sink is asked as usual; on its own thread
    /// it hears of flows only as they finish.
    fn inner(&self) -> Option<&dyn FlowSink> {
        match self {
            Behind::Here(sink) => Some(sink),
            Behind::Thread(_) => None,
        }
    }

    fn inner_mut(&mut self) -> Option<&mut dyn FlowSink> {
        match self {
            Behind::Here(sink) => Some(sink),
            Behind::Thread(_) => None,
        }
    }
}

/// The sink's thread: batches until the calling side is done.
fn drain<S: FlowSink>(mut sink: S, rx: &Receiver<Batch>) -> S {
    for batch in rx {
        for (id, record) in batch {
            sink.flow(id, record);
        }
    }
    sink
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Remembers what it was given, in order; panics at `panic_at`.
    #[derive(Default)]
    struct Recording {
        got: Vec<(u64, FlowRecord)>,
        thread: Option<String>,
        panic_at: Option<u64>,
    }

    impl FlowSink for Recording {
        fn flow(&mut self, id: u64, record: FlowRecord) {
            assert_ne!(self.panic_at, Some(id), "the sink failed at flow {id}");
            self.thread = std::thread::current().name().map(str::to_string);
            self.got.push((id, record));
        }
    }

    /// A plaintext flow record from client port `port`.
    fn record(port: u32) -> FlowRecord {
        serde_json::from_value(serde_json::json!({
            "transport": "tcp", "client": {"ip": "10.0.0.1", "port": port % 65536},
            "server": {"ip": "10.0.0.2", "port": 80}, "role_source": "syn",
            "first_seen": "2026-11-27T11:00:00.000000Z",
            "last_seen": "2026-11-27T11:01:00.000000Z", "packets": port, "bytes": 100,
            "protection": "plaintext", "app_protocol": null, "tcp": null, "inside": null,
            "ended_by": null, "truncated": false, "tls": null
        }))
        .unwrap()
    }

    fn records(n: u32) -> Vec<(u64, FlowRecord)> {
        // Ids out of order, as flows finish: the sink keeps the order given.
        (0..n)
            .map(|i| (u64::from((i * 7) % n), record(i)))
            .collect()
    }

    /// On its own thread the sink gets every record, in the order given,
    /// with every batch size the end can leave (none, some, a whole
    /// batch); on the calling thread, the same.
    #[test]
    fn the_sink_gets_every_record_in_order_on_either_thread() {
        for n in [0, 1, BATCH as u32 - 1, BATCH as u32, BATCH as u32 + 1, 1000] {
            let given = records(n);
            for thread in [false, true] {
                let mut behind = Behind::new(Recording::default(), thread);
                assert_eq!(matches!(behind, Behind::Thread(_)), thread);
                for (id, r) in given.clone() {
                    behind.flow(id, r);
                }
                let sink = behind.join();
                assert_eq!(sink.got, given, "n = {n}, thread = {thread}");
                if n > 0 {
                    let on = sink.thread.as_deref();
                    assert_eq!(on == Some("tls-audit-sink"), thread, "ran on {on:?}");
                }
            }
        }
    }

    /// A panic in the sink on its thread is not lost: `join` panics with
    /// it, as the sink would have on the calling thread; the calling side
    /// neither blocks nor panics before that, however many records follow.
    #[test]
    fn a_panic_on_the_sinks_thread_comes_out_of_join() {
        let sink = Recording {
            panic_at: Some(5),
            ..Recording::default()
        };
        let mut behind = Behind::new(sink, true);
        for (id, r) in records(2000) {
            behind.flow(id, r);
        }
        let joined = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| behind.join()));
        let panic = joined.err().expect("join passes the panic on");
        let text = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .unwrap_or_default();
        assert!(text.contains("the sink failed at flow 5"), "{text}");
    }

    /// A sink that wants to hear of flows as they open and decide (live
    /// output) stays on the calling thread, where those calls are made.
    #[test]
    fn a_sink_wanting_progress_stays_on_the_calling_thread() {
        struct Live;
        impl FlowSink for Live {
            fn flow(&mut self, _: u64, _: FlowRecord) {}
            fn wants_progress(&self) -> bool {
                true
            }
        }
        let behind = Behind::new(Live, true);
        assert!(matches!(behind, Behind::Here(_)));
        assert!(behind.wants_progress());
    }
}
