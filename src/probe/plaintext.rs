//! Does the port answer plaintext? A mesh left in PERMISSIVE mode, or a
//! server that multiplexes TLS and cleartext on one port, answers an HTTP
//! request sent without TLS. Send an HTTP/1.1 request; when that gets no
//! telling answer, send the HTTP/2 preface. A non-TLS answer is acceptance;
//! a TLS alert, a close, or nginx's "plain HTTP request was sent to HTTPS
//! port" page is refusal. [`classify`] is pure.

use std::net::SocketAddr;

use super::ProbeConfig;
use super::conn::{Conn, Got};
use super::error::ProbeFailure;
use crate::report::model::PlaintextProbe;

/// The HTTP/2 connection preface and an empty SETTINGS frame.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";

/// Bytes of an answer read.
const MAX_ANSWER: usize = 4096;

/// What an answer means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlaintextAnswer {
    /// Plaintext served: the protocol, when named.
    Accepted(Option<&'static str>),
    /// Refused: why (`tls-alert`, `tls-record` for another TLS record,
    /// `https-port-refusal`, `closed`).
    Refused(&'static str),
    /// No answer.
    Silent,
}

/// Judge the `answer` to `request` (either may be cut short).
pub fn classify(request: &[u8], answer: &[u8], port: u16) -> PlaintextAnswer {
    match answer {
        [] => PlaintextAnswer::Silent,
        // A TLS record: an alert, or another record (a confused
        // ServerHello...). TLS only, named for what it is.
        [21, 3, ..] => PlaintextAnswer::Refused("tls-alert"),
        [20 | 22..=24, 3, ..] => PlaintextAnswer::Refused("tls-record"),
        a if a.starts_with(b"HTTP/") => {
            let text = String::from_utf8_lossy(a);
            // nginx answers cleartext on an ssl port with a 400 page (its
            // internal code 497) saying so: a refusal, not service.
            if text.contains("plain HTTP request was sent to HTTPS port") {
                PlaintextAnswer::Refused("https-port-refusal")
            } else {
                PlaintextAnswer::Accepted(Some("http/1.1"))
            }
        }
        // An h2 frame header whose type is SETTINGS (4), stream 0.
        [_, _, _, 4, _, 0, 0, 0, 0, ..] if request.starts_with(b"PRI * HTTP/2.0") => {
            PlaintextAnswer::Accepted(Some("h2"))
        }
        // Named from the answer alone: the request is always ours. SSH
        // answers in clear text but encrypts what follows.
        a => match crate::plaintext::detect(&[], a, port) {
            Some(crate::plaintext::AppProtocol::Ssh) => PlaintextAnswer::Refused("ssh"),
            p => PlaintextAnswer::Accepted(p.map(|p| p.as_str())),
        },
    }
}

/// The first line of an answer, printable ASCII only, at most 120 characters.
pub fn first_line(answer: &[u8]) -> String {
    answer
        .iter()
        .take_while(|&&b| b != b'\r' && b != b'\n')
        .take(120)
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                char::from(b)
            } else {
                '.'
            }
        })
        .collect()
}

/// The probe's HTTP/1.1 request (also sent over TLS to tell nginx's
/// HTTP-layer refusal of a missing client certificate from service).
pub(crate) fn http1_request(host: &str) -> String {
    format!(
        "GET / HTTP/1.1\r\nHost: {host}\r\nUser-Agent: tls-audit-probe\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    )
}

/// Ask `addr` in plaintext; with the local address and the bytes of the
/// last exchange.
pub(crate) async fn probe(
    addr: SocketAddr,
    host: &str,
    cfg: &ProbeConfig,
) -> (PlaintextProbe, Option<SocketAddr>, u64) {
    let http1 = http1_request(host);
    let mut last = PlaintextProbe {
        accepted: None,
        request: None,
        protocol: None,
        evidence: String::new(),
    };
    let (mut local, mut bytes) = (None, 0);
    for (name, request) in [("http/1.1", http1.as_bytes()), ("h2", H2_PREFACE)] {
        let (verdict, evidence) = match ask(addr, request, cfg).await {
            Ok((answer, from)) => {
                local = from;
                bytes = (request.len() + answer.len()) as u64;
                let v = classify(request, &answer, addr.port());
                let e = match &v {
                    PlaintextAnswer::Silent => "deadline".to_string(),
                    PlaintextAnswer::Refused("https-port-refusal" | "ssh")
                    | PlaintextAnswer::Accepted(_) => first_line(&answer),
                    PlaintextAnswer::Refused(why) => (*why).to_string(),
                };
                (v, e)
            }
            Err(ProbeFailure::Closed(_)) => {
                (PlaintextAnswer::Refused("closed"), "closed".to_string())
            }
            Err(e) => (PlaintextAnswer::Silent, format!("{}: {e}", e.kind())),
        };
        last = PlaintextProbe {
            accepted: match verdict {
                PlaintextAnswer::Accepted(_) => Some(true),
                PlaintextAnswer::Refused(_) => Some(false),
                PlaintextAnswer::Silent => None,
            },
            request: Some(name.to_string()),
            protocol: match verdict {
                PlaintextAnswer::Accepted(p) => p.map(str::to_string),
                _ => None,
            },
            evidence,
        };
        // A TLS answer or an HTTP answer settles it; silence or a bare close
        // may still hide an h2c-only server.
        if matches!(
            verdict,
            PlaintextAnswer::Accepted(_)
                | PlaintextAnswer::Refused(
                    "tls-alert" | "tls-record" | "https-port-refusal" | "ssh"
                )
        ) {
            break;
        }
    }
    (last, local, bytes)
}

/// Send `request` and read the answer until the server closes, the cap,
/// or the deadline (an answer already begun is kept at the deadline).
async fn ask(
    addr: SocketAddr,
    request: &[u8],
    cfg: &ProbeConfig,
) -> Result<(Vec<u8>, Option<SocketAddr>), ProbeFailure> {
    let mut conn = Conn::open(addr, cfg.connect_timeout, cfg.io_timeout, MAX_ANSWER).await?;
    let local = conn.local();
    conn.write(request).await?;
    let deadline = tokio::time::Instant::now() + cfg.plaintext_wait;
    let mut answer = Vec::new();
    let mut buf = vec![0u8; MAX_ANSWER];
    loop {
        match conn.read(&mut buf, Some(deadline), "answer").await {
            Ok(Got::Data(n)) => answer.extend_from_slice(buf.get(..n).unwrap_or_default()),
            Ok(Got::Eof) if answer.is_empty() => return Err(ProbeFailure::Closed("the answer")),
            Ok(Got::Eof) => break,
            Err(ProbeFailure::TooLarge(_) | ProbeFailure::Timeout { .. }) => break,
            // A reset after an answer began still leaves the answer.
            Err(_) if !answer.is_empty() => break,
            Err(ProbeFailure::Reset(_)) => return Err(ProbeFailure::Closed("the answer")),
            Err(e) => return Err(e),
        }
    }
    conn.close().await;
    Ok((answer, local))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers() {
        let get = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        assert_eq!(
            classify(get, b"HTTP/1.0 200 OK\r\nServer: SimpleHTTP\r\n", 80),
            PlaintextAnswer::Accepted(Some("http/1.1"))
        );
        assert_eq!(
            classify(get, &[21, 3, 3, 0, 2, 2, 50], 443),
            PlaintextAnswer::Refused("tls-alert")
        );
        // Issue 22 item 9: a TLS answer that is not an alert is not called one.
        assert_eq!(
            classify(get, &[22, 3, 3, 0, 4, 2, 0, 0, 0], 443),
            PlaintextAnswer::Refused("tls-record")
        );
        let nginx = b"HTTP/1.1 400 Bad Request\r\nServer: nginx\r\n\r\n<html><head><title>400 The plain HTTP request was sent to HTTPS port</title>";
        assert_eq!(
            classify(get, nginx, 443),
            PlaintextAnswer::Refused("https-port-refusal")
        );
        assert_eq!(classify(get, b"", 443), PlaintextAnswer::Silent);
        assert_eq!(
            classify(get, b"SSH-2.0-OpenSSH_9.2p1\r\n", 2222),
            PlaintextAnswer::Refused("ssh")
        );
        assert_eq!(
            classify(get, b"\x01\x02garbage", 7000),
            PlaintextAnswer::Accepted(None)
        );
        let settings = [0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 100];
        assert_eq!(
            classify(H2_PREFACE, &settings, 80),
            PlaintextAnswer::Accepted(Some("h2"))
        );
    }

    #[test]
    fn first_lines_are_printable_and_short() {
        assert_eq!(first_line(b"HTTP/1.1 200 OK\r\nX: y"), "HTTP/1.1 200 OK");
        assert_eq!(first_line(b"\x1b[31mred\x00"), ".[31mred.");
        assert_eq!(first_line(&[b'a'; 500]).len(), 120);
    }
}
