//! Many TLS endpoints in one process, for the probe benchmark
//! (`benches/probe.sh`): rustls (ring) servers on COUNT consecutive ports.
//!
//! ```text
//! probe_fleet --listen IP --first-port N --count C --cert CHAIN.pem --key KEY.pem
//!             --client-ca CA.pem [--seconds S]
//! ```
//!
//! Port `first + i` has client authentication by `i % 3`: 0 none, 1
//! optional, 2 required. TLS 1.2 and 1.3; a client that completes the
//! handshake and sends anything gets one HTTP/1.1 answer. Exits after S
//! seconds (default 600).

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, ServerConnection};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn need(name: &str) -> String {
    arg(name).unwrap_or_else(|| {
        eprintln!(
            "usage: probe_fleet --listen IP --first-port N --count C --cert CHAIN --key KEY --client-ca CA [--seconds S]"
        );
        std::process::exit(2)
    })
}

fn configs(cert: &str, key: &str, ca: &str) -> Res<[Arc<ServerConfig>; 3]> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(cert)?.collect::<Result<_, _>>()?;
    let key = PrivateKeyDer::from_pem_file(key)?;
    let mut roots = RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca)? {
        roots.add(c?)?;
    }
    let roots = Arc::new(roots);
    let make = |auth: u8| -> Res<Arc<ServerConfig>> {
        let b = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()?;
        let b = match auth {
            0 => b.with_no_client_auth(),
            1 => b.with_client_cert_verifier(
                WebPkiClientVerifier::builder_with_provider(
                    Arc::clone(&roots),
                    Arc::clone(&provider),
                )
                .allow_unauthenticated()
                .build()?,
            ),
            _ => b.with_client_cert_verifier(
                WebPkiClientVerifier::builder_with_provider(
                    Arc::clone(&roots),
                    Arc::clone(&provider),
                )
                .build()?,
            ),
        };
        let mut c = b.with_single_cert(chain.clone(), key.clone_key())?;
        c.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(c))
    };
    Ok([make(0)?, make(1)?, make(2)?])
}

/// One connection: handshake, one answer, close. Errors end it quietly.
async fn serve(mut sock: TcpStream, config: Arc<ServerConfig>) {
    let Ok(mut tls) = ServerConnection::new(config) else {
        return;
    };
    let mut buf = vec![0u8; 18 * 1024];
    let mut answered = false;
    for _ in 0..64 {
        let n = match tokio::time::timeout(Duration::from_secs(5), sock.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => n,
            _ => return,
        };
        let mut data = &buf[..n];
        let mut failed = false;
        while !data.is_empty() && !failed {
            if tls.read_tls(&mut data).is_err() || tls.process_new_packets().is_err() {
                failed = true;
            }
        }
        if !tls.is_handshaking() && !answered {
            let mut sink = [0u8; 4096];
            if tls.reader().read(&mut sink).is_ok_and(|k| k > 0) {
                let _ = tls.writer().write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n",
                );
                tls.send_close_notify();
                answered = true;
            }
        }
        let mut out = Vec::new();
        while tls.wants_write() {
            if tls.write_tls(&mut out).is_err() {
                return;
            }
        }
        if sock.write_all(&out).await.is_err() || failed || answered {
            return;
        }
    }
}

#[tokio::main]
async fn main() -> Res<()> {
    let ip: std::net::IpAddr = need("--listen").parse()?;
    let first: u16 = need("--first-port").parse()?;
    let count: u16 = need("--count").parse()?;
    let seconds: u64 = arg("--seconds").map_or(Ok(600), |s| s.parse())?;
    let configs = configs(&need("--cert"), &need("--key"), &need("--client-ca"))?;
    for i in 0..count {
        let listener = TcpListener::bind(SocketAddr::new(ip, first + i)).await?;
        let config = Arc::clone(&configs[usize::from(i % 3)]);
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                tokio::spawn(serve(sock, Arc::clone(&config)));
            }
        });
    }
    eprintln!("probe_fleet: {count} endpoints on {ip}:{first}..");
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    Ok(())
}
