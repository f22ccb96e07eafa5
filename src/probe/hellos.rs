//! The hand-built ClientHello probes of one endpoint: a TLS 1.2 fallback
//! when rustls's suites found no match, SSL 3.0 / TLS 1.0 / TLS 1.1, and
//! each weak suite family alone; an accepted one becomes a flow record read
//! up to the ServerHello.

use std::net::SocketAddr;

use super::ProbeConfig;
use super::endpoint::EndpointResult;
use super::error::ProbeFailure;
use super::legacy::{self, Answer, Reply, SSL3, TLS10, TLS11, TLS12, WEAK_FAMILIES};
use super::record::{self, TlsFacts};
use super::tls::alert_name;
use crate::report::model::{SuiteProbe, VersionProbe};
use crate::tls::names::{cipher_suite_name, version_name};

/// Offer `version` with `suites` in a hand-built ClientHello; the
/// connection's ends when the server accepted.
pub(super) async fn hello_probe(
    addr: SocketAddr,
    version: u16,
    suites: &[u16],
    sni: Option<&str>,
    cfg: &ProbeConfig,
) -> Result<(VersionProbe, Option<Ends>), ProbeFailure> {
    let mut ends = None;
    let mut p = VersionProbe {
        version: version_name(version).into_owned(),
        accepted: None,
        method: "server-hello".into(),
        cipher_suite: None,
        detail: None,
        error: None,
    };
    match legacy::ask(addr, version, suites, sni, cfg).await {
        Ok(Reply {
            answer: Answer::Hello(sh),
            local,
            started,
        }) if sh.version == version => {
            p.accepted = Some(true);
            p.cipher_suite = Some(cipher_suite_name(sh.cipher_suite).into_owned());
            ends = Some((local, addr, started));
        }
        Ok(r) => {
            p.accepted = Some(false);
            p.detail = Some(answer_text(&r.answer));
        }
        Err(e) if e.is_fatal_for_endpoint() => return Err(e),
        // A server that hangs up on an old ClientHello refuses it.
        Err(ProbeFailure::Closed(_) | ProbeFailure::Reset(_)) => {
            p.accepted = Some(false);
            p.detail = Some("closed".into());
        }
        Err(e) => p.error = Some(e.record()),
    }
    Ok((p, ends))
}

fn answer_text(a: &Answer) -> String {
    match a {
        Answer::Hello(sh) => format!("server-hello {}", version_name(sh.version)),
        Answer::Alert { description, .. } => format!("alert {}", alert_name(*description)),
        Answer::Malformed(why) => format!("malformed: {why}"),
        Answer::NotTls => "not-tls".into(),
    }
}

/// The probe's address, the server's, and when the connection opened.
pub(super) type Ends = (Option<SocketAddr>, SocketAddr, time::OffsetDateTime);

pub(super) fn add_hello_flow(
    out: &mut EndpointResult,
    ends: Ends,
    sni: Option<&str>,
    p: &VersionProbe,
    note: &str,
) {
    let version = match p.version.as_str() {
        "SSL3.0" => SSL3,
        "TLS1.0" => TLS10,
        "TLS1.1" => TLS11,
        _ => TLS12,
    };
    let cipher = p
        .cipher_suite
        .as_deref()
        .and_then(|n| tls_parser::TlsCipherSuite::from_name(n).map(|c| c.id.0));
    push_hello_flow(out, ends, sni, version, cipher, note);
}

fn push_hello_flow(
    out: &mut EndpointResult,
    (local, server, started): Ends,
    sni: Option<&str>,
    version: u16,
    cipher: Option<u16>,
    note: &str,
) {
    let conn = record::Conn {
        local,
        server,
        started,
        finished: time::OffsetDateTime::now_utc(),
        bytes: 0,
    };
    let mut f = record::flow(&conn, crate::model::Protection::Tls, None);
    f.tls = Some(Box::new(record::tls_record(&TlsFacts {
        version,
        cipher,
        sni,
        alpn: None,
        server_chain: &[],
        client_chain: &[],
        requested: None,
        mutual: (None, "handshake-incomplete"),
        alert: None,
        note: note.to_string(),
    })));
    out.flows.push(f);
}

/// Each weak family alone, at the highest version up to TLS 1.2 accepted.
pub(super) async fn weak_suites(
    addr: SocketAddr,
    sni: Option<&str>,
    cfg: &ProbeConfig,
    out: &mut EndpointResult,
) -> Result<(), ProbeFailure> {
    let best = [
        ("TLS1.2", TLS12),
        ("TLS1.1", TLS11),
        ("TLS1.0", TLS10),
        ("SSL3.0", SSL3),
    ]
    .into_iter()
    .find(|(name, _)| {
        out.record
            .versions
            .iter()
            .any(|v| v.version == *name && v.accepted == Some(true))
    });
    let Some((_, version)) = best else {
        return Ok(());
    };
    for family in WEAK_FAMILIES {
        let mut s = SuiteProbe {
            family: family.name.into(),
            accepted: None,
            cipher_suite: None,
            version: None,
            detail: None,
        };
        match legacy::ask(addr, version, family.suites, sni, cfg).await {
            Ok(Reply {
                answer: Answer::Hello(sh),
                local,
                started,
            }) if family.suites.contains(&sh.cipher_suite) && sh.cipher_suite != 0x00ff => {
                s.accepted = Some(true);
                s.cipher_suite = Some(cipher_suite_name(sh.cipher_suite).into_owned());
                s.version = Some(version_name(sh.version).into_owned());
                push_hello_flow(
                    out,
                    (local, addr, started),
                    sni,
                    sh.version,
                    Some(sh.cipher_suite),
                    "probe: weak suite accepted; read up to the ServerHello",
                );
            }
            Ok(r) => {
                s.accepted = Some(false);
                s.detail = Some(answer_text(&r.answer));
            }
            Err(e) if e.is_fatal_for_endpoint() => return Err(e),
            Err(ProbeFailure::Closed(_) | ProbeFailure::Reset(_)) => {
                s.accepted = Some(false);
                s.detail = Some("closed".into());
            }
            Err(e) => s.detail = Some(e.to_string()),
        }
        out.record.weak_suites.push(s);
    }
    Ok(())
}
