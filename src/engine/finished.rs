//! What becomes of one flow when its handshake is decided and when it
//! finishes: everything that needs that flow alone, so that the calling
//! thread (`Output`) and the sharded workers (`parallel`) do the same.
//! What needs the flows that finished before it (resumption links, the
//! order records go out in) is `Output`'s.

use super::analysis::{AppState, FlowAnalysis};
use super::{key_exchange, record, resumption};
use crate::flow::{Exit, Flow};
use crate::model::report::FlowRecord;
use crate::tls::KeyLog;

/// A decided TLS handshake: its certificates read, its parsers' buffers
/// freed, and the verdict it registers for resumptions of it.
pub(super) fn settle(
    flow: &mut Flow<FlowAnalysis>,
    caches: &mut record::Caches,
) -> Option<(resumption::Link, resumption::Origin)> {
    let origin = origin_of(flow);
    let AppState::Tls(s) = &mut flow.app.state else {
        return None;
    };
    caches.certs.intern(&mut s.facts.server_chain);
    caches.certs.intern(&mut s.facts.client_chain);
    s.shrink();
    let link = resumption::Link::of(origin.server, &s.facts);
    // Nothing to resume it by (every TLS 1.3 handshake without its keys):
    // no origin to register, so no verdict to work out for one.
    if !link.issues_anything() {
        return None;
    }
    let verdict = crate::tls::mtls::decide(&s.facts);
    Some((
        link,
        resumption::Origin {
            mutual: verdict.mutual,
            requested: verdict.client_cert_requested,
            group: key_exchange::group_id(&s.facts),
            ..origin
        },
    ))
}

/// Counted as flows finish, for the report's warnings.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct FinishCounts {
    pub(super) oversized_messages: u64,
    pub(super) flows_with_gaps: u64,
}

impl FinishCounts {
    pub(super) fn absorb(&mut self, o: FinishCounts) {
        self.oversized_messages = self.oversized_messages.saturating_add(o.oversized_messages);
        self.flows_with_gaps = self.flows_with_gaps.saturating_add(o.flows_with_gaps);
    }
}

/// A finished flow's record, before resumption linking (which needs the
/// flows that finished before it).
pub(super) struct Finished {
    pub(super) id: u64,
    pub(super) rec: FlowRecord,
    /// Its resumption material and origin (TLS flows).
    pub(super) link: Option<(resumption::Link, resumption::Origin)>,
}

/// Build a finished flow's record: everything that needs the flow alone.
pub(super) fn finish(
    mut flow: Flow<FlowAnalysis>,
    exit: Exit,
    caches: &mut record::Caches,
    keys: &KeyLog,
    counts: &mut FinishCounts,
) -> Finished {
    // Give up on holes that never filled, so the last bytes are analysed.
    if let Some(tcp) = &mut flow.tcp {
        if !flow.app.decided {
            let hint = flow.client.map(|(c, _)| c);
            for side in 0..2 {
                let fs = tcp.syn[side];
                tcp.streams[side].flush(&mut |c| flow.app.on_chunk(side, c, fs, hint, keys));
            }
        }
        if tcp.streams.iter().any(|s| s.stats.gaps > 0) {
            counts.flows_with_gaps += 1;
        }
    }
    flow.app.finalize();
    if let Some(s) = flow.app.tls()
        && s.facts.oversized.is_some()
    {
        counts.oversized_messages += 1;
    }
    let rec = record::build(&flow, exit, caches);
    let link = flow
        .app
        .tls()
        .map(|s| {
            let origin = origin_of(&flow);
            (resumption::Link::of(origin.server, &s.facts), origin)
        })
        .filter(|_| rec.tls.is_some());
    Finished {
        id: flow.id,
        rec,
        link,
    }
}

/// A flow as an origin for later resumptions (verdict not yet filled in).
fn origin_of(flow: &Flow<FlowAnalysis>) -> resumption::Origin {
    let (client, _) = flow.client_side();
    resumption::Origin {
        mutual: None,
        requested: None,
        group: None,
        client: flow.key.endpoint(client),
        server: flow.key.endpoint(client ^ 1),
        first_seen: flow.first_seen,
    }
}
