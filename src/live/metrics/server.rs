//! The metrics endpoint: `GET /metrics` (Prometheus text format) and
//! `GET /healthz` (liveness). It must keep answering whatever its clients
//! do, because kubelet's liveness probe and Prometheus depend on it and
//! anyone who can reach the port can connect: one thread polls every
//! connection without blocking, each connection has a deadline for its
//! whole request (not per read: a byte every second keeps no one waiting),
//! and past `MAX_CONNECTIONS` the oldest connection is dropped for the new
//! one. `/healthz` never touches the metrics. With a token, `/metrics`
//! answers only `Authorization: Bearer <token>`.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use super::Metrics;

/// Connections served at once; a new one beyond it replaces the oldest.
const MAX_CONNECTIONS: usize = 64;
/// Longest request head read.
const MAX_REQUEST: usize = 4096;
/// Time for a client to send its whole request head.
const REQUEST_DEADLINE: Duration = Duration::from_secs(2);
/// Time for a client to take the whole answer.
const ANSWER_DEADLINE: Duration = Duration::from_secs(5);
/// Pause when nothing happened.
const IDLE_POLL: Duration = Duration::from_millis(5);

/// Options of the endpoint.
#[derive(Debug, Clone, Default)]
pub struct MetricsServer {
    /// Bearer token `/metrics` requires (`--metrics-token-file`).
    pub token: Option<String>,
}

/// Serve the endpoint on `addr` from a background thread; returns the
/// bound address (port 0 picks one).
pub fn serve_metrics(
    addr: SocketAddr,
    metrics: Metrics,
    options: MetricsServer,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    let bound = listener.local_addr()?;
    std::thread::Builder::new()
        .name("metrics".into())
        .spawn(move || run(&listener, &metrics, &options))?;
    Ok(bound)
}

struct Conn {
    stream: TcpStream,
    request: Vec<u8>,
    answer: Vec<u8>,
    sent: usize,
    deadline: Instant,
}

fn run(listener: &TcpListener, metrics: &Metrics, options: &MetricsServer) {
    let mut conns: Vec<Conn> = Vec::new();
    loop {
        let mut busy = false;
        loop {
            match listener.accept() {
                Ok((stream, _)) => {
                    busy = true;
                    if stream.set_nonblocking(true).is_err() {
                        continue;
                    }
                    if conns.len() >= MAX_CONNECTIONS {
                        conns.remove(0);
                    }
                    conns.push(Conn {
                        stream,
                        request: Vec::new(),
                        answer: Vec::new(),
                        sent: 0,
                        deadline: Instant::now() + REQUEST_DEADLINE,
                    });
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                // Out of descriptors and the like: try again after a pause.
                Err(_) => break,
            }
        }
        let now = Instant::now();
        conns.retain_mut(|c| {
            let (keep, moved) = step(c, now, metrics, options);
            busy |= moved;
            keep
        });
        if !busy {
            std::thread::sleep(IDLE_POLL);
        }
    }
}

/// Move one connection on: (keep it, something happened).
fn step(c: &mut Conn, now: Instant, metrics: &Metrics, options: &MetricsServer) -> (bool, bool) {
    if now > c.deadline {
        return (false, true);
    }
    let mut moved = false;
    if c.answer.is_empty() {
        let mut buf = [0u8; 1024];
        loop {
            match c.stream.read(&mut buf) {
                Ok(0) => return (false, true),
                Ok(n) => {
                    moved = true;
                    let room = MAX_REQUEST.saturating_sub(c.request.len());
                    c.request.extend_from_slice(&buf[..n.min(room)]);
                    if head_done(&c.request) || c.request.len() >= MAX_REQUEST {
                        break;
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return (false, true),
            }
        }
        if !(head_done(&c.request) || c.request.len() >= MAX_REQUEST) {
            return (true, moved);
        }
        c.answer = answer(&c.request, metrics, options);
        c.deadline = now + ANSWER_DEADLINE;
        moved = true;
    }
    while c.sent < c.answer.len() {
        match c.stream.write(&c.answer[c.sent..]) {
            Ok(0) => return (false, true),
            Ok(n) => {
                c.sent += n;
                moved = true;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return (true, moved),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return (false, true),
        }
    }
    let _ = c.stream.flush();
    (false, true)
}

fn head_done(r: &[u8]) -> bool {
    r.windows(4).any(|w| w == b"\r\n\r\n") || r.windows(2).any(|w| w == b"\n\n")
}

/// The whole HTTP answer to a request head.
fn answer(request: &[u8], metrics: &Metrics, options: &MetricsServer) -> Vec<u8> {
    let request = String::from_utf8_lossy(request);
    let mut lines = request.lines();
    let first = lines.next().unwrap_or("");
    let mut parts = first.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    let (status, extra, body) = match (method, path) {
        ("GET", "/healthz") => ("200 OK", "", "ok\n".to_string()),
        ("GET", "/metrics") if !authorised(lines, options) => (
            "401 Unauthorized",
            "WWW-Authenticate: Bearer\r\n",
            "a bearer token is required (Authorization: Bearer ...)\n".to_string(),
        ),
        ("GET", "/metrics") => ("200 OK", "", metrics.render(crate::live::wall_clock())),
        _ => (
            "404 Not Found",
            "",
            "not found: try GET /metrics or GET /healthz\n".to_string(),
        ),
    };
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body.as_bytes());
    out
}

/// With a token configured: the request carries it as a bearer token
/// (compared in constant time).
fn authorised<'a>(headers: impl Iterator<Item = &'a str>, options: &MetricsServer) -> bool {
    let Some(token) = &options.token else {
        return true;
    };
    headers
        .filter_map(|h| h.split_once(':'))
        .filter(|(name, _)| name.trim().eq_ignore_ascii_case("authorization"))
        .filter_map(|(_, v)| v.trim().strip_prefix("Bearer "))
        .any(|given| same(given.trim().as_bytes(), token.as_bytes()))
}

/// Equal bytes, in time that depends on the lengths only.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(addr: SocketAddr, request: &str) -> String {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out
    }

    /// Issue 22 item 7: a client sending a byte every 1.5 s (and a crowd of
    /// idle ones) blocked every scrape; scrapes and `/healthz` must be
    /// answered meanwhile.
    #[test]
    fn scrapes_are_answered_during_a_slowloris() {
        let addr = serve_metrics(
            "127.0.0.1:0".parse().unwrap(),
            Metrics::default(),
            MetricsServer::default(),
        )
        .unwrap();
        let slow = std::thread::spawn(move || {
            let mut s = TcpStream::connect(addr).unwrap();
            for b in b"GET /metrics HTTP/1.1\r\n" {
                if s.write_all(&[*b]).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(1500));
            }
        });
        let idle: Vec<TcpStream> = (0..130)
            .filter_map(|_| TcpStream::connect(addr).ok())
            .collect();
        for _ in 0..5 {
            let t = Instant::now();
            let out = get(addr, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
            assert!(out.starts_with("HTTP/1.1 200"), "{out}");
            assert!(out.contains("tls_audit_build_info{version="));
            // Served behind the slow client, a scrape would wait for its
            // next byte (1.5 s apart) or its 2 s request deadline; served
            // beside it, milliseconds. Under the 2 s deadline, with room
            // for a loaded machine (a run beside cargo-fuzz took 1.004 s).
            assert!(
                t.elapsed() < REQUEST_DEADLINE.mul_f32(0.95),
                "{:?}",
                t.elapsed()
            );
            let out = get(addr, "GET /healthz HTTP/1.1\r\n\r\n");
            assert!(out.starts_with("HTTP/1.1 200") && out.ends_with("ok\n"));
            std::thread::sleep(Duration::from_millis(300));
        }
        drop(idle);
        drop(slow);
    }

    #[test]
    fn a_token_guards_metrics_not_health() {
        let addr = serve_metrics(
            "127.0.0.1:0".parse().unwrap(),
            Metrics::default(),
            MetricsServer {
                token: Some("s3cret".into()),
            },
        )
        .unwrap();
        let out = get(addr, "GET /metrics HTTP/1.1\r\n\r\n");
        assert!(out.starts_with("HTTP/1.1 401"), "{out}");
        let out = get(
            addr,
            "GET /metrics HTTP/1.1\r\nAuthorization: Bearer wrong\r\n\r\n",
        );
        assert!(out.starts_with("HTTP/1.1 401"), "{out}");
        let out = get(
            addr,
            "GET /metrics HTTP/1.1\r\nauthorization: Bearer s3cret\r\n\r\n",
        );
        assert!(out.starts_with("HTTP/1.1 200"), "{out}");
        let out = get(addr, "GET /healthz HTTP/1.1\r\n\r\n");
        assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    }
}
