//! A finished flow becomes a report record.

use crate::decode::Underlay;
use crate::flow::{Exit, Flow, Side};
use crate::model::report::{
    AlertRecord, DecryptionRecord, Endpoint, FlowRecord, FlowSource, FlowTls, MutualInference,
    Name, Protection, TcpRecord, Transport, ip_text,
};
use crate::model::time::CaptureTime;
use crate::plaintext::AppProtocol;
use crate::tls::hello::is_grease;
use crate::tls::session::Decryption;
use crate::tls::{TlsSession, ja4, mtls, names};

use super::analysis::{AppState, FlowAnalysis};
use super::certs::CertCache;

/// What record building reuses across flows.
#[derive(Default)]
pub struct Caches {
    /// Certificate facts by DER.
    pub certs: CertCache,
    /// JA4 by ClientHello shape.
    pub ja4: ja4::Ja4Cache,
}

/// The report's name for an IP protocol number.
pub fn transport_name(proto: u8) -> &'static str {
    Transport::of_protocol(proto).as_str()
}

/// Build the record of a finished flow.
pub fn build(flow: &Flow<FlowAnalysis>, exit: Exit, caches: &mut Caches) -> FlowRecord {
    let (client, role_source) = flow.client_side();
    let server = client ^ 1;
    let ep = |s: Side| {
        let a = flow.key.endpoint(s);
        Endpoint {
            ip: ip_text(a.ip()),
            port: a.port(),
            pod: None,
            node: None,
            service: None,
        }
    };
    let payload: u64 = flow.bytes.iter().sum();
    let server_port = flow.key.endpoint(server).port();
    let (protection, app_protocol, tls) = classify(flow, client, server_port, payload, caches);
    FlowRecord {
        source: FlowSource::Capture,
        transport: Transport::of_protocol(flow.key.proto),
        client: ep(client),
        server: ep(server),
        role_source: role_source.reported(),
        first_seen: CaptureTime::from_nanos(flow.first_seen),
        last_seen: CaptureTime::from_nanos(flow.last_seen),
        packets: flow.packets.iter().sum(),
        bytes: payload,
        protection,
        app_protocol,
        tls,
        tcp: flow.tcp.as_ref().map(|t| {
            let by_role = |f: &dyn Fn(usize) -> u32| [f(client), f(server)];
            TcpRecord {
                syn_seen: t.syn[client] || t.syn[server],
                fin_seen: t.fin[0] || t.fin[1],
                rst_seen: t.rst,
                gaps: by_role(&|s| t.streams[s].stats.gaps),
                retransmissions: by_role(&|s| t.streams[s].stats.retransmissions),
                out_of_order: by_role(&|s| t.streams[s].stats.out_of_order),
            }
        }),
        inside: flow.app.inside.map(|u| u.as_str().into()),
        ended_by: match exit {
            Exit::Evicted => Some("evicted".into()),
            Exit::Budget => Some("buffer-budget".into()),
            Exit::Idle | Exit::Closed | Exit::End => None,
        },
        truncated: flow.truncated,
    }
}

type Classified = (Protection, Option<Name>, Option<Box<FlowTls>>);

fn classify(
    flow: &Flow<FlowAnalysis>,
    client: Side,
    server_port: u16,
    payload: u64,
    caches: &mut Caches,
) -> Classified {
    let app = &flow.app;
    if let Some(u) = app.underlay {
        let protection = match u {
            // IKE too: IPsec's own key exchange, encrypted after IKE_SA_INIT.
            Underlay::Esp | Underlay::Ike => Protection::Ipsec,
            Underlay::WireGuard => Protection::Wireguard,
            _ => Protection::Overlay,
        };
        return (protection, Some(u.as_str().into()), None);
    }
    if flow.key.proto != 6 {
        use super::datagram::Datagram;
        return match app.datagram {
            Some(Datagram::Dtls) => (Protection::Tls, Some("dtls".into()), None),
            Some(Datagram::Quic) => (Protection::Tls, Some("quic".into()), None),
            Some(Datagram::Cleartext(p)) => (Protection::Plaintext, Some(p.as_str().into()), None),
            None => (Protection::Unknown, None, None),
        };
    }
    match &app.state {
        AppState::Tls(s) => {
            let prelude = app.prelude_protocol.map(|p| p.as_str().into());
            let capped = flow
                .tcp
                .as_ref()
                .is_some_and(|t| t.streams.iter().any(|r| r.stats.capped));
            let mut rec = tls_record(s, app.starttls, capped, caches);
            if capped && !app.decided {
                rec.notes.push(
                    "the handshake did not end within the reassembly cap (--stream-cap); facts after it are missing"
                        .into(),
                );
            }
            (Protection::Tls, prelude, Some(Box::new(rec)))
        }
        _ if payload == 0 => (Protection::Unknown, None, None),
        // Bytes that never showed a TLS record: cleartext only if we can
        // name the protocol; SSH is named but encrypted; otherwise we do not
        // know (a private encrypted protocol looks the same as binary
        // cleartext).
        AppState::Plaintext | AppState::Empty | AppState::Probing => {
            match app.name_cleartext(Some(client), server_port) {
                Some(AppProtocol::Ssh) => (Protection::Ssh, Some("ssh".into()), None),
                Some(p) => (Protection::Plaintext, Some(p.as_str().into()), None),
                None => (Protection::Unknown, None, None),
            }
        }
    }
}

fn tls_record(s: &TlsSession, starttls: bool, capped: bool, caches: &mut Caches) -> FlowTls {
    let f = &s.facts;
    let ch = f.client_hello.as_ref();
    let sh = f.server_hello.as_ref();
    // Without a final ServerHello, a HelloRetryRequest still names the
    // version and suite the server chose.
    let chosen = sh.or(f.retry_request.as_ref());
    let verdict = mtls::decide(f);
    let mut notes = Vec::new();
    if let Some((t, len)) = f.oversized {
        notes.push(format!(
            "handshake message type {t} of {len} bytes is larger than tls-audit reassembles"
        ));
    }
    if f.compressed_certificate {
        notes.push("the certificate was compressed (RFC 8879) and is not decoded".into());
    }
    if f.encrypted_alerts > 0 {
        notes.push(format!("{} encrypted alert records", f.encrypted_alerts));
    }
    let lossy = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    FlowTls {
        handshake_seen: ch.is_some() || sh.is_some(),
        version: chosen.map(|h| names::version_name(h.version)),
        cipher_suite: chosen.map(|h| names::cipher_suite_name(h.cipher_suite)),
        sni: ch.and_then(|c| c.sni.clone()),
        alpn_offered: ch
            .map(|c| c.alpn.iter().map(|p| lossy(p)).collect())
            .unwrap_or_default(),
        alpn: sh
            .and_then(|h| h.alpn.as_deref().map(lossy))
            .or_else(|| f.encrypted_alpn.clone()),
        resumed: mtls::resumed(f),
        client_cert_requested: verdict.client_cert_requested,
        mutual: verdict.mutual,
        mutual_evidence: verdict.evidence.map(|e| e.as_str().into()),
        mutual_unknown_reason: verdict.unknown.map(|u| u.as_str().into()),
        mutual_inference: verdict.inference.map(MutualInference::FlightSize),
        server_chain: caches.certs.facts(&f.server_chain),
        client_chain: caches.certs.facts(&f.client_chain),
        certificates_encrypted: sh.is_some_and(|h| h.is_tls13()) && f.server_chain.is_none(),
        certificates_unread: certificates_unread(f, capped).map(Name::from),
        ja4: ch.map(|c| caches.ja4.get(c, ja4::Transport::Tcp)),
        versions_offered: ch
            .map(|c| {
                if c.supported_versions.is_empty() {
                    vec![names::version_name(c.legacy_version)]
                } else {
                    c.supported_versions
                        .iter()
                        .filter(|v| !is_grease(**v))
                        .map(|v| names::version_name(*v))
                        .collect()
                }
            })
            .unwrap_or_default(),
        hello_retry_request: f.hello_retry_request,
        starttls,
        alerts: f
            .alerts
            .iter()
            .map(|a| AlertRecord {
                from: a
                    .from_client
                    .map(|c| if c { "client" } else { "server" }.into()),
                level: if a.level == 2 { "fatal" } else { "warning" }.into(),
                description: a.description,
            })
            .collect(),
        record_version: (ch.is_none() && sh.is_none())
            .then(|| f.record_version.map(names::version_name))
            .flatten(),
        notes,
        decryption: f.decryption.as_ref().map(decryption_record),
        enrichment: None,
        key_exchange: Some(super::key_exchange::record(f)),
    }
}

/// Why certificates that were sent in the clear were not read, if they
/// were not. A peer that can make its Certificate message larger than the
/// reassembly cap must not thereby skip every certificate check.
fn certificates_unread(f: &crate::tls::session::TlsFacts, capped: bool) -> Option<&'static str> {
    if f.compressed_certificate {
        return Some("certificate-compressed");
    }
    if f.oversized.is_some_and(|(t, _)| t == CERTIFICATE) {
        return Some("certificate-too-large");
    }
    // TLS 1.2 and older send the server's Certificate in the clear after
    // the ServerHello (unless the session is resumed); a capped stream
    // that never delivered it hides it.
    let clear = f
        .server_hello
        .as_ref()
        .is_some_and(|h| !h.is_tls13() && !f.abbreviated);
    let server_missing = clear && f.server_chain.is_none();
    let client_missing = clear && f.certificate_request && f.client_chain.is_none();
    (capped && (server_missing || client_missing)).then_some("reassembly-cap")
}

/// Handshake type of the Certificate message (RFC 8446 §4).
const CERTIFICATE: u8 = 11;

fn decryption_record(d: &Decryption) -> DecryptionRecord {
    let status = if !d.keys_found {
        "no-matching-keys"
    } else if d.unsupported_draft {
        "unsupported-draft"
    } else if !d.suite_supported {
        "unsupported-suite"
    } else if d.failed.is_some() {
        "authentication-failed"
    } else if d.finished == [true, true] {
        "decrypted"
    } else {
        "partial"
    };
    DecryptionRecord {
        status: status.into(),
        failed_side: d
            .failed
            .map(|(client, _)| if client { "client" } else { "server" }.into()),
        messages: d.messages,
        early_data_records_skipped: d.early_data_skipped,
    }
}
