//! tlsa-pq-peer: one TLS connection, as client or server, on rustls with the
//! aws-lc-rs provider, offering exactly the key-exchange groups asked for.
//! tls-audit's key-exchange lab (tests/integration/kex.rs) runs it across
//! network namespaces to make real post-quantum hybrid handshakes
//! (X25519MLKEM768, SecP256r1MLKEM768, SecP384r1MLKEM1024), mixed offers
//! and HelloRetryRequests, and checks what tls-audit reads off the wire.
//!
//! Usage:
//!   tlsa-pq-peer server ADDR:PORT CERT.pem KEY.pem GROUPS [tls12|tls13] [many]
//!   tlsa-pq-peer client ADDR:PORT SNI CA.pem GROUPS [tls12]
//! GROUPS is a comma-separated preference list of rustls group names
//! (X25519MLKEM768, SECP256R1MLKEM768, MLKEM768, MLKEM1024, X25519,
//! secp256r1, secp384r1). The server serves one connection (`many`: until
//! killed), answers the
//! client's line with `ok`, and exits; the client prints the negotiated
//! group and the reply, and exits 0 on a completed handshake.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;

use rustls::crypto::aws_lc_rs::{self, kx_group};
use rustls::crypto::{CryptoProvider, SupportedKxGroup};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

fn group(name: &str) -> Result<&'static dyn SupportedKxGroup, String> {
    Ok(match name {
        "X25519MLKEM768" => kx_group::X25519MLKEM768,
        "SECP256R1MLKEM768" => kx_group::SECP256R1MLKEM768,
        "MLKEM768" => kx_group::MLKEM768,
        "MLKEM1024" => kx_group::MLKEM1024,
        "X25519" => kx_group::X25519,
        "secp256r1" => kx_group::SECP256R1,
        "secp384r1" => kx_group::SECP384R1,
        other => return Err(format!("unknown group {other}")),
    })
}

fn provider(groups: &str) -> Result<Arc<CryptoProvider>, String> {
    let kx_groups = groups.split(',').map(group).collect::<Result<Vec<_>, _>>()?;
    Ok(Arc::new(CryptoProvider {
        kx_groups,
        ..aws_lc_rs::default_provider()
    }))
}

static TLS12_ONLY: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS12];
static TLS13_ONLY: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13];

fn versions(tls12: bool) -> &'static [&'static rustls::SupportedProtocolVersion] {
    if tls12 { TLS12_ONLY } else { TLS13_ONLY }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let a = |i: usize| {
        args.get(i)
            .map(String::as_str)
            .ok_or_else(|| "usage: tlsa-pq-peer server|client ...".to_string())
    };
    let tls12 = args.get(6).is_some_and(|s| s == "tls12");
    let e = |x: &dyn std::fmt::Display| x.to_string();
    match a(1)? {
        "server" => {
            let certs = CertificateDer::pem_file_iter(a(3)?)
                .map_err(|x| e(&x))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|x| e(&x))?;
            let key = PrivateKeyDer::from_pem_file(a(4)?).map_err(|x| e(&x))?;
            let config = rustls::ServerConfig::builder_with_provider(provider(a(5)?)?)
                .with_protocol_versions(versions(tls12))
                .map_err(|x| e(&x))?
                .with_no_client_auth()
                .with_single_cert(certs, key)
                .map_err(|x| e(&x))?;
            let listener = TcpListener::bind(a(2)?).map_err(|x| e(&x))?;
            println!("listening");
            std::io::stdout().flush().map_err(|x| e(&x))?;
            let config = Arc::new(config);
            // `many`: serve connections until killed (for `tls-audit probe`).
            let many = args.iter().skip(6).any(|s| s == "many");
            loop {
                let (mut tcp, _) = listener.accept().map_err(|x| e(&x))?;
                let served = serve(config.clone(), &mut tcp);
                if !many {
                    return served;
                }
            }
        }
        "client" => {
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_file_iter(a(4)?).map_err(|x| e(&x))? {
                roots.add(c.map_err(|x| e(&x))?).map_err(|x| e(&x))?;
            }
            let config = rustls::ClientConfig::builder_with_provider(provider(a(5)?)?)
                .with_protocol_versions(versions(tls12))
                .map_err(|x| e(&x))?
                .with_root_certificates(roots)
                .with_no_client_auth();
            let name = ServerName::try_from(a(3)?.to_string()).map_err(|x| e(&x))?;
            let mut conn =
                rustls::ClientConnection::new(Arc::new(config), name).map_err(|x| e(&x))?;
            let mut tcp = TcpStream::connect(a(2)?).map_err(|x| e(&x))?;
            let mut tls = rustls::Stream::new(&mut conn, &mut tcp);
            tls.write_all(b"hello\n").map_err(|x| e(&x))?;
            let mut reply = Vec::new();
            let _ = tls.read_to_end(&mut reply);
            let kx = conn.negotiated_key_exchange_group().map(|g| g.name());
            println!("negotiated {kx:?}, reply {:?}", String::from_utf8_lossy(&reply));
            // openssl s_server -quiet answers nothing: a completed handshake is enough.
            if conn.is_handshaking() {
                Err("handshake not completed".into())
            } else {
                Ok(())
            }
        }
        other => Err(format!("unknown mode {other}")),
    }
}

fn serve(config: Arc<rustls::ServerConfig>, tcp: &mut TcpStream) -> Result<(), String> {
    let e = |x: &dyn std::fmt::Display| x.to_string();
    let mut conn = rustls::ServerConnection::new(config).map_err(|x| e(&x))?;
    let mut tls = rustls::Stream::new(&mut conn, tcp);
    let mut line = String::new();
    BufReader::new(&mut tls).read_line(&mut line).map_err(|x| e(&x))?;
    tls.write_all(b"ok\n").map_err(|x| e(&x))?;
    tls.flush().map_err(|x| e(&x))?;
    conn.send_close_notify();
    let _ = conn.complete_io(tcp);
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("tlsa-pq-peer: {e}");
        std::process::exit(1);
    }
}
