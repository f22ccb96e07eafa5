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

use std::net::SocketAddr;

use super::ProbeConfig;
use super::conn::{Conn, Got};
use super::error::ProbeFailure;
use super::legacy::{self, Answer, Incomplete};
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
    if let Some(name) = sni.filter(|n| n.len() < 256) {
        let n = name.as_bytes();
        let mut list = vec![0];
        list.extend(u16_len(n.len()));
        list.extend(n);
        let mut data = u16_len(list.len()).to_vec();
        data.extend(list);
        push_ext(&mut exts, ext::SERVER_NAME, &data);
    }
    let [g0, g1] = group.to_be_bytes();
    push_ext(&mut exts, ext::SUPPORTED_GROUPS, &[0, 2, g0, g1]);
    let algs: [u16; 9] = [
        0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0807, 0x0401, 0x0501,
    ];
    let mut data = u16_len(algs.len() * 2).to_vec();
    for a in algs {
        data.extend(a.to_be_bytes());
    }
    push_ext(&mut exts, ext::SIGNATURE_ALGORITHMS, &data);
    push_ext(&mut exts, ext::SUPPORTED_VERSIONS, &[2, 3, 4]);
    push_ext(&mut exts, 45, &[1, 1]); // psk_key_exchange_modes: psk_dhe_ke
    push_ext(&mut exts, ext::KEY_SHARE, &[0, 0]); // no share: ask for an HRR
    body.extend(u16_len(exts.len()));
    body.extend(exts);
    let mut msg = vec![1];
    msg.extend(&u32::try_from(body.len()).unwrap_or(0).to_be_bytes()[1..]);
    msg.extend(body);
    let mut rec = vec![22, 3, 1];
    rec.extend(u16_len(msg.len()));
    rec.extend(msg);
    rec
}

fn u16_len(n: usize) -> [u8; 2] {
    u16::try_from(n).unwrap_or(u16::MAX).to_be_bytes()
}

fn push_ext(out: &mut Vec<u8>, kind: u16, data: &[u8]) {
    out.extend(kind.to_be_bytes());
    out.extend(u16_len(data.len()));
    out.extend(data);
}

/// What one answer says about `group`.
pub fn verdict(group: u16, answer: &Answer) -> GroupProbe {
    let mut p = GroupProbe {
        group: group_name(group),
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
                    .map_or_else(|| "none".to_string(), kex::group_name)
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
        let p = match ask(addr, g, sni, cfg).await {
            Ok(answer) => verdict(g, &answer),
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

async fn ask(
    addr: SocketAddr,
    group: u16,
    sni: Option<&str>,
    cfg: &ProbeConfig,
) -> Result<Answer, ProbeFailure> {
    let mut conn = Conn::open(
        addr,
        cfg.connect_timeout,
        cfg.io_timeout,
        cfg.max_server_bytes,
    )
    .await?;
    conn.write(&hello(group, sni, legacy::client_random()))
        .await?;
    let mut buf = vec![0u8; 4096];
    let mut got: Vec<u8> = Vec::new();
    let deadline = tokio::time::Instant::now() + cfg.io_timeout;
    let answer = loop {
        match conn.read(&mut buf, Some(deadline), "server-hello").await? {
            Got::Data(n) => got.extend_from_slice(buf.get(..n).unwrap_or_default()),
            Got::Eof if got.is_empty() => break Err(ProbeFailure::Closed("the ServerHello")),
            Got::Eof => break Ok(Answer::Malformed("closed mid-record")),
        }
        match legacy::read_answer(&got) {
            Ok(a) => break Ok(a),
            Err(Incomplete) => continue,
        }
    };
    conn.close().await;
    answer
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
