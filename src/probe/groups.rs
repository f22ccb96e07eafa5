//! Which key-exchange groups a TLS 1.3 endpoint accepts, post-quantum
//! hybrids included, one group at a time: a hand-built TLS 1.3 ClientHello
//! names a single group in `supported_groups` and sends *no* key share, so
//! a server that supports the group must answer with a HelloRetryRequest
//! selecting it (RFC 8446 §4.1.4), and one that does not must refuse
//! (handshake_failure) or pick nothing it was offered. No key material is
//! needed and the handshake is never finished; [`legacy::read_answer`]
//! reads the answer.
//!
//! [`hello`] is pure (the bytes of the ClientHello record); [`verdict`]
//! turns an answer into a [`GroupProbe`].

#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

use std::net::SocketAddr;

use super::ProbeConfig;
use super::error::ProbeFailure;
use super::legacy::{self, Answer, push_ext, push_sni, u16_len};
use super::tls::alert_name;
use crate::report::model::GroupProbe;
use crate::tls::hello::ext;
use crate::tls::kex::{self, group_kind, group_name};

/// The groups asked about, post-quantum first: the ML-KEM hybrids of
/// draft-ietf-tls-ecdhe-mlkem, the Kyber draft code point still deployed,
/// then the classical groups a migration replaces.
pub const PROBED_GROUPS: &[u16] = &[
    0x11ec, // X25519MLKEM768
    0x11eb, // SecP256r1MLKEM768
    0x11ed, // SecP384r1MLKEM1024
    0x6399, // X25519Kyber768Draft00
    0x0201, // MLKEM768
    0x001d, // x25519
    0x0017, // secp256r1
    0x0018, // secp384r1
];

/// A TLS 1.3 ClientHello record offering only `group`, with an empty
/// key_share, the three TLS 1.3 AEAD suites, and SNI when named.
pub fn hello(group: u16, sni: Option<&str>, random: [u8; 32]) -> Vec<u8> {
    let mut body = Vec::with_capacity(256);
    body.extend([3, 3]);
    body.extend(random);
    body.push(32); // a session id, as middlebox-compatible clients send
    body.extend(random.iter().rev());
    body.extend([0, 6, 0x13, 0x01, 0x13, 0x02, 0x13, 0x03]);
    body.extend([1, 0]);
    let mut exts = Vec::new();
    push_sni(&mut exts, sni);
    let [g0, g1] = group.to_be_bytes();
    push_ext(&mut exts, ext::SUPPORTED_GROUPS, &[0, 2, g0, g1]);
    let algs: [u16; 9] = [
        0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0807, 0x0401, 0x0501,
    ];
    let mut data = u16_len(algs.len().saturating_mul(2)).to_vec();
    for a in algs {
        data.extend(a.to_be_bytes());
    }
    push_ext(&mut exts, ext::SIGNATURE_ALGORITHMS, &data);
    push_ext(&mut exts, ext::SUPPORTED_VERSIONS, &[2, 3, 4]);
    push_ext(&mut exts, 45, &[1, 1]); // psk_key_exchange_modes: psk_dhe_ke
    push_ext(&mut exts, ext::KEY_SHARE, &[0, 0]); // no share: ask for an HRR
    body.extend(u16_len(exts.len()));
    body.extend(exts);
    legacy::client_hello_record(&body, 1)
}

/// What one answer says about `group`.
pub fn verdict(group: u16, answer: &Answer) -> GroupProbe {
    let mut p = GroupProbe {
        group: group_name(group).into_owned(),
        group_id: group,
        post_quantum: group_kind(group).post_quantum().unwrap_or(false),
        accepted: None,
        detail: None,
    };
    match answer {
        Answer::Hello(sh) if sh.is_tls13() && sh.key_share_group == Some(group) => {
            p.accepted = Some(true);
            p.detail = Some(
                if sh.is_hrr {
                    "hello-retry-request selecting it"
                } else {
                    "server-hello key_share"
                }
                .into(),
            );
        }
        Answer::Hello(sh) if !sh.is_tls13() => {
            p.detail = Some(format!(
                "server-hello {} (no TLS 1.3)",
                crate::tls::names::version_name(sh.version)
            ));
        }
        Answer::Hello(sh) => {
            // A group it was not offered, or none: not this one.
            p.accepted = Some(false);
            p.detail = Some(format!(
                "server-hello with key_share {}",
                sh.key_share_group
                    .map_or(std::borrow::Cow::Borrowed("none"), kex::group_name)
            ));
        }
        Answer::Alert { description, .. } => {
            p.accepted = Some(false);
            p.detail = Some(format!("alert {}", alert_name(*description)));
        }
        Answer::Malformed(why) => p.detail = Some(format!("malformed: {why}")),
        Answer::NotTls => p.detail = Some("not-tls".into()),
    }
    p
}

/// Ask `addr` about each of [`PROBED_GROUPS`], one connection each.
pub(super) async fn probe_groups(
    addr: SocketAddr,
    sni: Option<&str>,
    cfg: &ProbeConfig,
) -> Result<Vec<GroupProbe>, ProbeFailure> {
    let mut out = Vec::with_capacity(PROBED_GROUPS.len());
    for &g in PROBED_GROUPS {
        let hello = hello(g, sni, legacy::client_random());
        let p = match legacy::send_hello(addr, &hello, cfg).await {
            Ok(reply) => verdict(g, &reply.answer),
            Err(e) if e.is_fatal_for_endpoint() => return Err(e),
            // Hanging up on an unsupported group is a refusal.
            Err(ProbeFailure::Closed(_) | ProbeFailure::Reset(_)) => GroupProbe {
                accepted: Some(false),
                detail: Some("closed".into()),
                ..verdict(g, &Answer::NotTls)
            },
            Err(e) => GroupProbe {
                accepted: None,
                detail: Some(e.to_string()),
                ..verdict(g, &Answer::NotTls)
            },
        };
        out.push(p);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::{ClientHello, ServerHello};

    #[test]
    fn the_hello_offers_one_group_and_no_share() {
        let rec = hello(0x11ec, Some("api.pay.svc"), [7; 32]);
        let ch = ClientHello::parse(&rec[9..]).unwrap();
        assert_eq!(ch.supported_groups, [0x11ec]);
        assert!(ch.key_share_groups.is_empty());
        assert!(ch.extensions.contains(&ext::KEY_SHARE));
        assert_eq!(ch.supported_versions, [0x0304]);
        assert_eq!(ch.sni.as_deref(), Some("api.pay.svc"));
        assert_eq!(
            usize::from(u16::from_be_bytes([rec[3], rec[4]])),
            rec.len() - 5
        );
    }

    fn hrr(selected: u16) -> Answer {
        let mut b = vec![3, 3];
        b.extend(crate::tls::hello::HRR_RANDOM);
        b.extend([0, 0x13, 0x01, 0]);
        let [s0, s1] = selected.to_be_bytes();
        b.extend([0, 12, 0, 43, 0, 2, 3, 4, 0, 51, 0, 2, s0, s1]);
        Answer::Hello(ServerHello::parse(&b).unwrap())
    }

    #[test]
    fn verdicts() {
        let v = verdict(0x11ec, &hrr(0x11ec));
        assert_eq!((v.accepted, v.post_quantum), (Some(true), true));
        assert_eq!(v.group, "X25519MLKEM768");
        let v = verdict(0x11ec, &hrr(0x001d));
        assert_eq!(v.accepted, Some(false));
        let v = verdict(
            0x11ec,
            &Answer::Alert {
                level: 2,
                description: 40,
            },
        );
        assert_eq!(v.accepted, Some(false));
        assert!(v.detail.unwrap().contains("handshake_failure"));
        assert_eq!(verdict(29, &Answer::NotTls).accepted, None);
    }
}
