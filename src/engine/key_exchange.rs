//! A session's key-exchange facts become the flow's `tls.key_exchange`.
//!
//! What is observed and what is inferred, and from what:
//! - TLS 1.3: the group is the ServerHello's key_share (observed); a
//!   ServerHello without a key_share resumed with `psk_ke` (no forward
//!   secrecy). Only a HelloRetryRequest seen: its selected group is the one
//!   the client must use, reported with `group_source: hello-retry-request`.
//! - TLS ≤ 1.2: the cipher suite names the method (registry); the
//!   ServerKeyExchange names the curve or carries the DH prime. RSA key
//!   transport and static DH have no ServerKeyExchange: no forward secrecy
//!   follows from the suite alone. An ECDHE/DHE suite whose
//!   ServerKeyExchange was not seen has forward secrecy (the suite requires
//!   ephemeral keys) but no group.
//! - An abbreviated TLS ≤ 1.2 handshake (session resumption) reuses the
//!   master secret of an earlier handshake: the method comes from the
//!   suite; the group is that handshake's, filled in by `resumption` when
//!   it is in the same capture (`group_source: resumed-session`), else
//!   null with `unknown_reason: resumed`.

use crate::model::report::{KeyExchangeRecord, Name};
use crate::tls::TlsFacts;
use crate::tls::hello::{ServerHello, ext, is_grease};
use crate::tls::kex::{self, GroupKind, SuiteKex, group_kind, group_name};
use crate::tls::names::is_tls13;

/// The `key_exchange` object of a session (with `unknown_reason`
/// `handshake-not-seen` for a flow picked up mid-stream).
pub(crate) fn record(f: &TlsFacts) -> KeyExchangeRecord {
    let ch = f.client_hello.as_ref();
    let mut k = KeyExchangeRecord::default();
    if let Some(ch) = ch {
        let names = |ids: &[u16]| -> Vec<Name> {
            ids.iter()
                .filter(|g| !is_grease(**g))
                .map(|g| group_name(*g))
                .collect()
        };
        k.groups_offered = names(&ch.supported_groups);
        k.key_shares_offered = names(&ch.key_share_groups);
        let pq = |g: &u16| group_kind(*g).post_quantum() == Some(true);
        k.pq_offered =
            Some(ch.supported_groups.iter().any(pq) || ch.key_share_groups.iter().any(pq));
        k.ech_offered = Some(ch.extensions.contains(&ext::ECH));
    }
    if let Some(hrr) = f.retry_request.as_ref() {
        k.hello_retry_group = hrr.key_share_group.map(group_name);
        if hrr.extensions.contains(&ext::ECH) {
            k.ech_accepted = Some(true);
        }
    }
    if let Some(cv) = f.server_certificate_verify {
        k.signature_scheme = Some(kex::signature_scheme_name(cv));
        k.signature_source = Some("certificate-verify".into());
    }
    match chosen(f) {
        Chosen::NoServerHello => match f.retry_request.as_ref().and_then(|h| h.key_share_group) {
            Some(g) => set_group(&mut k, g, "hello-retry-request"),
            None => {
                k.unknown_reason = Some(
                    if f.retry_request.is_some() || ch.is_some() {
                        "server-hello-not-seen"
                    } else {
                        "handshake-not-seen"
                    }
                    .into(),
                )
            }
        },
        Chosen::SslV2 => k.unknown_reason = Some("sslv2".into()),
        Chosen::Tls13(sh) => match sh.key_share_group {
            Some(g) => set_group(&mut k, g, "server-hello"),
            None if sh.extensions.contains(&ext::PRE_SHARED_KEY) => {
                // psk_ke: resumption without a fresh (EC)DHE (RFC 8446 §4.2.9).
                k.method = Some("psk".into());
                k.forward_secrecy = Some(false);
                k.post_quantum = Some(false);
            }
            None => k.unknown_reason = Some("server-hello-without-key-share".into()),
        },
        Chosen::Tls13Suite(sh) => match sh.key_share_group {
            Some(g) => set_group(&mut k, g, "server-hello"),
            None => k.unknown_reason = Some("unknown-cipher-suite".into()),
        },
        Chosen::Tls12(suite) => tls12(&mut k, f, suite),
    }
    k
}

/// The `group_id` [`record`] gives, without making the rest of the record
/// (a decided handshake registers its group for resumptions of it).
pub(crate) fn group_id(f: &TlsFacts) -> Option<u16> {
    match chosen(f) {
        Chosen::NoServerHello => f.retry_request.as_ref().and_then(|h| h.key_share_group),
        Chosen::SslV2 => None,
        Chosen::Tls13(sh) | Chosen::Tls13Suite(sh) => sh.key_share_group,
        Chosen::Tls12(SuiteKex::Ecdhe { .. } | SuiteKex::Dhe { .. }) => {
            f.server_key_exchange.as_ref().and_then(|k| k.named_group)
        }
        Chosen::Tls12(_) => None,
    }
}

/// The kind of handshake the server chose, as the key exchange reads it:
/// decided once here for [`record`] and [`group_id`].
enum Chosen<'f> {
    /// No ServerHello seen (a HelloRetryRequest's group may stand in).
    NoServerHello,
    /// An SSLv2 ServerHello.
    SslV2,
    /// TLS 1.3.
    Tls13(&'f ServerHello),
    /// A TLS 1.3 suite under a TLS 1.2 version (pre-final drafts, odd
    /// stacks): the key_share, if any, is what was used.
    Tls13Suite(&'f ServerHello),
    /// TLS ≤ 1.2: the suite names the method.
    Tls12(SuiteKex),
}

fn chosen(f: &TlsFacts) -> Chosen<'_> {
    match f.server_hello.as_ref() {
        None => Chosen::NoServerHello,
        Some(sh) if sh.version == 0x0002 => Chosen::SslV2,
        Some(sh) if is_tls13(sh.version) => Chosen::Tls13(sh),
        Some(sh) => match SuiteKex::of_suite(sh.cipher_suite) {
            SuiteKex::Tls13 => Chosen::Tls13Suite(sh),
            suite => Chosen::Tls12(suite),
        },
    }
}

/// A resumed TLS ≤ 1.2 session matched to the full handshake that made
/// its master secret: that handshake's group, `group_source:
/// resumed-session`; the method stays the suite's.
pub(crate) fn inherit_group(k: &mut KeyExchangeRecord, id: u16) {
    let method = k.method.clone();
    set_group(k, id, "resumed-session");
    k.method = method;
    k.post_quantum = Some(false);
    k.unknown_reason = None;
}

fn set_group(k: &mut KeyExchangeRecord, id: u16, source: &'static str) {
    let kind = group_kind(id);
    k.group = Some(group_name(id));
    k.group_id = Some(id);
    k.group_kind = Some(kind.as_str().into());
    k.group_bits = kex::group(id).map(|g| u32::from(g.bits)).filter(|b| *b > 0);
    k.group_source = Some(source.into());
    k.explicit_curve = kex::EXPLICIT_CURVES.contains(&id);
    k.post_quantum = kind.post_quantum();
    k.method = Some(
        match kind {
            GroupKind::Ec => "ecdhe",
            GroupKind::Ff => "dhe",
            GroupKind::Hybrid => "hybrid",
            GroupKind::PostQuantum => "kem",
            GroupKind::Unknown => "other",
        }
        .into(),
    );
    // Every TLS 1.3 key_share group and every ServerKeyExchange is ephemeral.
    k.forward_secrecy = Some(true);
}

fn tls12(k: &mut KeyExchangeRecord, f: &TlsFacts, suite: SuiteKex) {
    if suite != SuiteKex::Tls13 {
        k.method = Some(suite.method().into());
    }
    match suite {
        SuiteKex::Rsa | SuiteKex::StaticDh | SuiteKex::Psk => {
            k.forward_secrecy = Some(false);
            k.post_quantum = Some(false);
        }
        SuiteKex::Ecdhe { .. } | SuiteKex::Dhe { .. } => {
            k.forward_secrecy = Some(true);
            k.post_quantum = Some(false);
            match &f.server_key_exchange {
                Some(ske) => {
                    if let Some(g) = ske.named_group {
                        set_group(k, g, "server-key-exchange");
                        // TLS ≤ 1.2 has no hybrid groups: the suite decides.
                        k.method = Some(suite.method().into());
                        k.post_quantum = Some(false);
                    } else if let Some(t) = ske.explicit_curve {
                        k.explicit_curve = true;
                        k.group = Some(group_name(if t == 1 { 0xff01 } else { 0xff02 }));
                        k.group_kind = Some(GroupKind::Ec.as_str().into());
                        k.group_source = Some("server-key-exchange".into());
                    } else if let Some(bits) = ske.dh_prime_bits {
                        k.group_kind = Some(GroupKind::Ff.as_str().into());
                        k.group_bits = Some(bits);
                        k.group_source = Some("server-key-exchange".into());
                    }
                    if let Some(s) = ske.signature_scheme {
                        k.signature_scheme = Some(kex::signature_scheme_name(s));
                        k.signature_source = Some("server-key-exchange".into());
                    }
                }
                None if f.server_key_exchange_seen => {
                    k.unknown_reason = Some("server-key-exchange-unparsed".into());
                }
                None if f.abbreviated => {
                    k.unknown_reason = Some("resumed".into());
                }
                None => k.unknown_reason = Some("server-key-exchange-not-seen".into()),
            }
        }
        SuiteKex::Tls13 | SuiteKex::Other => {
            k.unknown_reason = Some("unknown-cipher-suite".into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::kex::ServerKeyExchange;

    /// `group_id` agrees with the record's on every shape of handshake:
    /// with and without a ServerHello (SSLv2, TLS 1.3, TLS 1.2 with each
    /// kind of suite, a TLS 1.3 suite under 1.2) or a HelloRetryRequest,
    /// with and without a key_share, with each kind of ServerKeyExchange.
    #[test]
    fn group_id_is_the_records() {
        let hellos = || {
            let mut out = vec![None];
            for version in [0x0002, 0x0300, 0x0303, 0x0304, 0x7f17] {
                // TLS 1.3, ECDHE, DHE, RSA, static DH, PSK, unknown.
                for suite in [0x1301, 0xc02f, 0x009e, 0x009c, 0x0030, 0x00a8, 0xfefe] {
                    for share in [None, Some(29), Some(0x11ec)] {
                        for psk in [false, true] {
                            out.push(Some(ServerHello {
                                version,
                                cipher_suite: suite,
                                key_share_group: share,
                                extensions: if psk {
                                    vec![ext::PRE_SHARED_KEY]
                                } else {
                                    vec![]
                                },
                                ..ServerHello::default()
                            }));
                        }
                    }
                }
            }
            out
        };
        let exchanges = [
            None,
            Some(ServerKeyExchange::default()),
            Some(ServerKeyExchange {
                named_group: Some(23),
                ..ServerKeyExchange::default()
            }),
            Some(ServerKeyExchange {
                explicit_curve: Some(1),
                ..ServerKeyExchange::default()
            }),
            Some(ServerKeyExchange {
                dh_prime_bits: Some(2048),
                ..ServerKeyExchange::default()
            }),
        ];
        let mut shapes = 0;
        for server_hello in hellos() {
            for retry_request in [None, Some(29), Some(0x11ec)].map(|g| {
                g.map(|g| ServerHello {
                    version: 0x0304,
                    key_share_group: Some(g),
                    is_hrr: true,
                    ..ServerHello::default()
                })
            }) {
                for server_key_exchange in exchanges.clone() {
                    for (abbreviated, seen) in [(false, false), (true, false), (false, true)] {
                        let f = TlsFacts {
                            server_hello: server_hello.clone(),
                            retry_request: retry_request.clone(),
                            server_key_exchange: server_key_exchange.clone(),
                            server_key_exchange_seen: seen,
                            abbreviated,
                            ..TlsFacts::default()
                        };
                        assert_eq!(group_id(&f), record(&f).group_id, "{f:?}");
                        shapes += 1;
                    }
                }
            }
        }
        assert!(shapes > 9_000, "{shapes} shapes");
    }
}
