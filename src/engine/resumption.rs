//! Resumed TLS ≤ 1.2 sessions carry the client identity of the handshake
//! that created them. When that handshake is in the same capture, matched by
//! server and session ID or session ticket (compared as SHA-256 digests), the
//! resumed flow inherits its client-authentication verdict, labelled
//! `resumed-session` with the origin shown, and the key-exchange group
//! that made its keys (`group_source: resumed-session`). Origins are registered when
//! their handshake is decided, which precedes any resumption of it, so the
//! matching works as flows finish, in any order. TLS 1.3 tickets travel
//! encrypted and cannot be matched this way.

use std::collections::HashMap;
use std::net::SocketAddr;

use crate::capture::Nanos;
use crate::model::time::CaptureTime;

use crate::model::report::{FlowTls, MutualInference, OriginFlow, ResumedFrom, socket_addr_text};
use crate::tls::TlsFacts;

/// What a flow offers or issues for resumption (digests and IDs only).
#[derive(Debug, Clone)]
pub struct Link {
    server: SocketAddr,
    offered_ticket: Option<[u8; 32]>,
    offered_session_id: Option<Vec<u8>>,
    issued_ticket: Option<[u8; 32]>,
    issued_session_id: Option<Vec<u8>>,
}

impl Link {
    /// The resumption material of a TLS flow.
    ///
    /// A TLS 1.3 ServerHello issues no session ID: its
    /// `legacy_session_id_echo` is the client's `legacy_session_id` sent
    /// back (RFC 8446 §4.1.3), random in middlebox compatibility mode, and
    /// a TLS 1.3 session is resumed by a PSK, never by a session ID
    /// (§2.2). So it is not remembered as one; nor is the session ID a
    /// client offers looked up when the server answered in TLS 1.3, which
    /// means it resumed no earlier session by that ID (a client may offer
    /// the ID a TLS 1.2 server gave it, §4.1.2). (Remembering them also
    /// cost about 6 % of the analysing thread's `perf` samples while
    /// packets were read, on a capture of TLS 1.3 handshakes: a copy, a
    /// hash, a map entry and the map's growth for each.)
    pub fn of(server: SocketAddr, f: &TlsFacts) -> Link {
        let ch = f.client_hello.as_ref();
        let sh = f.server_hello.as_ref();
        let tls13 = sh.is_some_and(|s| s.is_tls13());
        let sid = |v: &Vec<u8>| (!tls13 && !v.is_empty()).then(|| v.clone());
        Link {
            server,
            offered_ticket: ch.and_then(|c| c.ticket_digest),
            offered_session_id: ch.and_then(|c| sid(&c.session_id)),
            issued_ticket: f.issued_ticket,
            issued_session_id: sh.and_then(|s| sid(&s.session_id)),
        }
    }

    /// Whether it issued a ticket or a session ID a later session could be
    /// resumed by (else [`Linker::register`] has nothing to remember).
    pub fn issues_anything(&self) -> bool {
        self.issued_ticket.is_some() || self.issued_session_id.is_some()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Ticket([u8; 32]),
    SessionId(Vec<u8>),
}

/// A full handshake's verdict and who it was between (kept small: the
/// names are formatted only when a resumed session is matched).
#[derive(Debug, Clone, Copy)]
pub struct Origin {
    /// Its client-authentication verdict.
    pub mutual: Option<bool>,
    /// Whether the server asked for a certificate.
    pub requested: Option<bool>,
    /// The key-exchange group its handshake negotiated (the resumed
    /// session's keys derive from that exchange).
    pub group: Option<u16>,
    /// Client endpoint.
    pub client: SocketAddr,
    /// Server endpoint.
    pub server: SocketAddr,
    /// Its first packet.
    pub first_seen: Nanos,
}

/// Verdicts of full handshakes by the resumption material they issued,
/// bounded; resumed sessions look themselves up here as they finish.
#[derive(Default)]
pub struct Linker {
    /// Hashed like the flow table: fast, randomly seeded (the peers choose
    /// the session ids and tickets).
    origins: HashMap<(SocketAddr, Key), Origin, foldhash::fast::RandomState>,
}

/// Origins remembered; past it the oldest knowledge is dropped wholesale.
const MAX_ORIGINS: usize = 64 * 1024;

impl Linker {
    /// Remember the verdict of a full handshake under what it issued.
    pub fn register(&mut self, link: &Link, o: Origin) {
        let nothing_to_inherit = o.mutual.is_none() && o.group.is_none();
        if nothing_to_inherit || !link.issues_anything() {
            return;
        }
        if self.origins.len() >= MAX_ORIGINS {
            self.origins.clear();
        }
        if let Some(t) = link.issued_ticket {
            self.origins.insert((link.server, Key::Ticket(t)), o);
        }
        if let Some(sid) = &link.issued_session_id {
            self.origins
                .insert((link.server, Key::SessionId(sid.clone())), o);
        }
    }

    /// Whether `tls` is a resumed session whose origin this linker has not
    /// seen (yet: with fanout workers, it may still be on its way).
    pub fn lacks_origin(&self, link: &Link, tls: &FlowTls) -> bool {
        is_resumed(tls) && self.origin(link).is_none()
    }

    /// The full handshake `link` resumes, and what matched it: the ticket
    /// it offered, else its session id.
    fn origin(&self, link: &Link) -> Option<(&Origin, &'static str)> {
        let by_ticket = link
            .offered_ticket
            .and_then(|t| self.origins.get(&(link.server, Key::Ticket(t))))
            .map(|o| (o, "session-ticket"));
        by_ticket.or_else(|| {
            link.offered_session_id.as_ref().and_then(|s| {
                self.origins
                    .get(&(link.server, Key::SessionId(s.clone())))
                    .map(|o| (o, "session-id"))
            })
        })
    }

    /// A resumed session inherits the verdict of the handshake it resumes,
    /// when that handshake was seen.
    pub fn resolve(&self, link: &Link, tls: &mut FlowTls) {
        if !is_resumed(tls) {
            return;
        }
        let kex_resumed = tls
            .key_exchange
            .as_ref()
            .is_some_and(|k| k.unknown_reason.as_deref() == Some("resumed"));
        let Some((o, matched_by)) = self.origin(link) else {
            return;
        };
        if let (Some(k), Some(g), true) = (tls.key_exchange.as_mut(), o.group, kex_resumed) {
            super::key_exchange::inherit_group(k, g);
        }
        if tls.mutual_unknown_reason.as_deref() != Some("resumed") || o.mutual.is_none() {
            return;
        }
        tls.mutual = o.mutual;
        tls.client_cert_requested = o.requested;
        tls.mutual_evidence = Some("resumed-session".into());
        tls.mutual_unknown_reason = None;
        tls.mutual_inference = Some(MutualInference::Resumed(ResumedFrom {
            matched_by: matched_by.into(),
            resumed_from: OriginFlow {
                client: socket_addr_text(o.client),
                server: socket_addr_text(o.server),
                first_seen: CaptureTime::from_nanos(o.first_seen),
            },
        }));
    }
}

/// A resumed session: its verdict or its key exchange is the origin's.
fn is_resumed(tls: &FlowTls) -> bool {
    tls.mutual_unknown_reason.as_deref() == Some("resumed")
        || tls
            .key_exchange
            .as_ref()
            .is_some_and(|k| k.unknown_reason.as_deref() == Some("resumed"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::hello::{ClientHello, ServerHello};

    fn facts(version: u16, echoed: &[u8], offered: &[u8]) -> TlsFacts {
        TlsFacts {
            client_hello: Some(ClientHello {
                session_id: offered.to_vec(),
                ..Default::default()
            }),
            server_hello: Some(ServerHello {
                version,
                session_id: echoed.to_vec(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn origin(server: SocketAddr) -> Origin {
        Origin {
            mutual: Some(true),
            requested: Some(true),
            group: Some(29),
            client: "10.0.0.1:40000".parse().unwrap(),
            server,
            first_seen: 1,
        }
    }

    /// A TLS 1.2 server's session ID is found again by the session that
    /// offers it; a TLS 1.3 ServerHello's echo of the client's random
    /// legacy_session_id is no session ID, and a session that offers the
    /// same bytes (to the same server) does not inherit from it; nor does
    /// a session the server answered in TLS 1.3 that offered the TLS 1.2
    /// session's ID.
    #[test]
    fn only_a_tls12_session_id_is_an_origin() {
        let server: SocketAddr = "10.0.0.2:443".parse().unwrap();
        let mut linker = Linker::default();
        for (version, id) in [(0x0303, [7u8; 32]), (0x0304, [9; 32]), (0x7f12, [8; 32])] {
            linker.register(&Link::of(server, &facts(version, &id, &id)), origin(server));
        }
        let resumes = |id: [u8; 32]| Link::of(server, &facts(0x0303, &id, &id));
        let found = linker.origin(&resumes([7; 32]));
        assert!(matches!(found, Some((o, "session-id")) if o.mutual == Some(true)));
        assert!(linker.origin(&resumes([9; 32])).is_none(), "TLS 1.3");
        assert!(
            linker.origin(&resumes([8; 32])).is_none(),
            "a TLS 1.3 draft"
        );
        assert_eq!(linker.origins.len(), 1);
        let answered_in_tls13 = Link::of(server, &facts(0x0304, &[7; 32], &[7; 32]));
        assert!(linker.origin(&answered_in_tls13).is_none());
    }
}
