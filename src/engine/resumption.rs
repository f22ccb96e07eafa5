//! Resumed TLS ≤ 1.2 sessions carry the client identity of the handshake
//! that created them. When that handshake is in the same capture, matched by
//! server and session ID or session ticket (compared as SHA-256 digests), the
//! resumed flow inherits its client-authentication verdict, labelled
//! `resumed-session` with the origin shown. TLS 1.3 tickets travel
//! encrypted and cannot be matched this way.

use std::collections::HashMap;

use crate::report::model::{FlowRecord, MutualInference, OriginFlow, ResumedFrom};
use crate::tls::TlsFacts;

/// What a flow offers or issues for resumption (digests and IDs only).
#[derive(Debug, Clone, Default)]
pub struct Link {
    server: String,
    offered_ticket: Option<[u8; 32]>,
    offered_session_id: Option<Vec<u8>>,
    issued_ticket: Option<[u8; 32]>,
    issued_session_id: Option<Vec<u8>>,
}

impl Link {
    /// The resumption material of a TLS flow.
    pub fn of(server: String, f: &TlsFacts) -> Link {
        let ch = f.client_hello.as_ref();
        let sh = f.server_hello.as_ref();
        let sid = |v: &Vec<u8>| (!v.is_empty()).then(|| v.clone());
        Link {
            server,
            offered_ticket: ch.and_then(|c| c.ticket_digest),
            offered_session_id: ch.and_then(|c| sid(&c.session_id)),
            issued_ticket: f.issued_ticket,
            issued_session_id: sh.and_then(|s| sid(&s.session_id)),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Ticket([u8; 32]),
    SessionId(Vec<u8>),
}

#[derive(Debug, Clone)]
struct Origin {
    mutual: Option<bool>,
    requested: Option<bool>,
    client: String,
    server: String,
    first_seen: String,
}

/// Resolve resumed flows against earlier handshakes, in time order.
pub fn link_resumed(records: &mut [(u64, FlowRecord, Option<Link>)]) {
    let mut origins: HashMap<(String, Key), Origin> = HashMap::new();
    for (_, rec, link) in records.iter_mut() {
        let (Some(link), Some(tls)) = (link.as_ref(), rec.tls.as_mut()) else {
            continue;
        };
        if tls.mutual_unknown_reason.as_deref() == Some("resumed") {
            let by_ticket = link
                .offered_ticket
                .and_then(|t| origins.get(&(link.server.clone(), Key::Ticket(t))))
                .map(|o| (o, "session-ticket"));
            let by_sid = || {
                link.offered_session_id.as_ref().and_then(|s| {
                    origins
                        .get(&(link.server.clone(), Key::SessionId(s.clone())))
                        .map(|o| (o, "session-id"))
                })
            };
            if let Some((o, matched_by)) = by_ticket.or_else(by_sid) {
                tls.mutual = o.mutual;
                tls.client_cert_requested = o.requested;
                tls.mutual_evidence = Some("resumed-session".into());
                tls.mutual_unknown_reason = None;
                tls.mutual_inference = Some(MutualInference::Resumed(ResumedFrom {
                    matched_by: matched_by.into(),
                    resumed_from: OriginFlow {
                        client: o.client.clone(),
                        server: o.server.clone(),
                        first_seen: o.first_seen.clone(),
                    },
                }));
            }
        }
        if tls.mutual.is_none() {
            continue;
        }
        let origin = Origin {
            mutual: tls.mutual,
            requested: tls.client_cert_requested,
            client: format!("{}:{}", rec.client.ip, rec.client.port),
            server: format!("{}:{}", rec.server.ip, rec.server.port),
            first_seen: rec.first_seen.clone(),
        };
        if let Some(t) = link.issued_ticket {
            origins.insert((link.server.clone(), Key::Ticket(t)), origin.clone());
        }
        if let Some(s) = &link.issued_session_id {
            origins.insert((link.server.clone(), Key::SessionId(s.clone())), origin);
        }
    }
}
