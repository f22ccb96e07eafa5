//! Tiny blocking rustls (ring provider) client and server used to make the
//! capture fixtures in `fixtures/captures/` (see `fixtures/gen/make-captures.sh`).
//!
//! ```text
//! rustls_peer server --cert CHAIN.pem --key KEY.pem --port N
//!                    [--client-ca CA.pem (--require-client-auth | --optional-client-auth)]
//!                    [--listen ADDR] [--tls12 | --tls13] [--count N]
//! rustls_peer client --connect IP:PORT --sni NAME --ca CA.pem
//!                    [--cert CHAIN.pem --key KEY.pem] [--tls12 | --tls13]
//! ```
//!
//! The client sends one line, the server answers one line, both send
//! close_notify and exit (the server after `--count` connections, default 1).
//! When `SSLKEYLOGFILE` is set, both sides append their secrets to it.
//! A summary (version, cipher, whether the client presented a certificate)
//! is printed on stderr.

use std::{
    io::{self, BufRead, BufReader, Read, Write},
    net::{TcpListener, TcpStream},
    sync::Arc,
    time::Duration,
};

use rustls::{
    ClientConfig, ClientConnection, KeyLogFile, RootCertStore, ServerConfig, ServerConnection,
    StreamOwned, SupportedProtocolVersion,
    pki_types::{CertificateDer, PrivateKeyDer, ServerName, pem::PemObject},
    server::WebPkiClientVerifier,
};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

#[derive(Default)]
struct Args {
    cert: Option<String>,
    key: Option<String>,
    ca: Option<String>,
    client_ca: Option<String>,
    require_client_auth: bool,
    optional_client_auth: bool,
    port: Option<u16>,
    listen: Option<String>,
    connect: Option<String>,
    sni: Option<String>,
    tls12: bool,
    tls13: bool,
    count: Option<usize>,
}

fn usage() -> ! {
    eprintln!(
        "usage:\n  rustls_peer server --cert CHAIN --key KEY --port N [--client-ca CA \
         (--require-client-auth|--optional-client-auth)] [--listen ADDR] [--tls12|--tls13] [--count N]\n  \
         rustls_peer client --connect IP:PORT --sni NAME --ca CA [--cert CHAIN --key KEY] [--tls12|--tls13]"
    );
    std::process::exit(2)
}

fn parse(it: impl Iterator<Item = String>) -> Args {
    let mut a = Args::default();
    let mut it = it.peekable();
    while let Some(flag) = it.next() {
        let mut val = || it.next().unwrap_or_else(|| usage());
        match flag.as_str() {
            "--cert" => a.cert = Some(val()),
            "--key" => a.key = Some(val()),
            "--ca" => a.ca = Some(val()),
            "--client-ca" => a.client_ca = Some(val()),
            "--require-client-auth" => a.require_client_auth = true,
            "--optional-client-auth" => a.optional_client_auth = true,
            "--port" => a.port = Some(val().parse().unwrap_or_else(|_| usage())),
            "--listen" => a.listen = Some(val()),
            "--connect" => a.connect = Some(val()),
            "--sni" => a.sni = Some(val()),
            "--tls12" => a.tls12 = true,
            "--tls13" => a.tls13 = true,
            "--count" => a.count = Some(val().parse().unwrap_or_else(|_| usage())),
            _ => {
                eprintln!("unknown argument {flag}");
                usage()
            }
        }
    }
    a
}

fn versions(a: &Args) -> Vec<&'static SupportedProtocolVersion> {
    match (a.tls12, a.tls13) {
        (true, false) => vec![&rustls::version::TLS12],
        (false, true) => vec![&rustls::version::TLS13],
        _ => vec![&rustls::version::TLS13, &rustls::version::TLS12],
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn load_certs(path: &str) -> Res<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)?.collect::<Result<Vec<_>, _>>()?;
    if certs.is_empty() {
        return Err(format!("no certificate in {path}").into());
    }
    Ok(certs)
}

fn load_key(path: &str) -> Res<PrivateKeyDer<'static>> {
    Ok(PrivateKeyDer::from_pem_file(path)?)
}

fn roots(path: &str) -> Res<Arc<RootCertStore>> {
    let mut store = RootCertStore::empty();
    for c in load_certs(path)? {
        store.add(c)?;
    }
    Ok(Arc::new(store))
}

/// Reads until EOF or close_notify, ignoring a peer that just drops the TCP
/// connection without close_notify.
fn drain(r: &mut impl Read) {
    let mut buf = [0u8; 1024];
    loop {
        match r.read(&mut buf) {
            Ok(0) => break,
            Ok(_) => continue,
            Err(_) => break,
        }
    }
}

fn server(a: Args) -> Res<()> {
    let chain = load_certs(a.cert.as_deref().unwrap_or_else(|| usage()))?;
    let key = load_key(a.key.as_deref().unwrap_or_else(|| usage()))?;
    let port = a.port.unwrap_or_else(|| usage());
    let builder =
        ServerConfig::builder_with_provider(provider()).with_protocol_versions(&versions(&a))?;
    let builder = match &a.client_ca {
        Some(ca) => {
            let v = WebPkiClientVerifier::builder_with_provider(roots(ca)?, provider());
            let v = if a.optional_client_auth && !a.require_client_auth {
                v.allow_unauthenticated()
            } else {
                v
            };
            builder.with_client_cert_verifier(v.build()?)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(chain, key)?;
    config.key_log = Arc::new(KeyLogFile::new());
    let config = Arc::new(config);

    let addr = format!("{}:{port}", a.listen.as_deref().unwrap_or("[::]"));
    let listener = TcpListener::bind(&addr)?;
    eprintln!("rustls server listening on {addr}");
    for _ in 0..a.count.unwrap_or(1) {
        let (tcp, peer) = listener.accept()?;
        // One connection that fails (a client without the certificate this
        // server requires) does not end the server.
        if let Err(e) = serve_one(&config, tcp, peer) {
            eprintln!("server: peer={peer}: {e}");
        }
    }
    Ok(())
}

fn serve_one(config: &Arc<ServerConfig>, tcp: TcpStream, peer: std::net::SocketAddr) -> Res<()> {
    tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
    let conn = ServerConnection::new(config.clone())?;
    let mut tls = StreamOwned::new(conn, tcp);
    let mut line = String::new();
    BufReader::new(&mut tls).read_line(&mut line)?;
    let c = &tls.conn;
    eprintln!(
        "server: peer={peer} version={:?} cipher={:?} sni={:?} client_cert={}",
        c.protocol_version(),
        c.negotiated_cipher_suite().map(|s| s.suite()),
        c.server_name(),
        c.peer_certificates().map(|p| p.len()).unwrap_or(0),
    );
    eprintln!("server: got {:?}", line.trim_end());
    tls.write_all(b"pong from rustls server\n")?;
    tls.conn.send_close_notify();
    tls.flush()?;
    drain(&mut tls);
    Ok(())
}

fn client(a: Args) -> Res<()> {
    let connect = a.connect.clone().unwrap_or_else(|| usage());
    let sni = ServerName::try_from(a.sni.clone().unwrap_or_else(|| usage()))?;
    let builder = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&versions(&a))?
        .with_root_certificates(roots(a.ca.as_deref().unwrap_or_else(|| usage()))?);
    let mut config = match (&a.cert, &a.key) {
        (Some(c), Some(k)) => builder.with_client_auth_cert(load_certs(c)?, load_key(k)?)?,
        (None, None) => builder.with_no_client_auth(),
        _ => usage(),
    };
    config.key_log = Arc::new(KeyLogFile::new());
    let tcp = TcpStream::connect(&connect)?;
    tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
    let conn = ClientConnection::new(Arc::new(config), sni)?;
    let mut tls = StreamOwned::new(conn, tcp);
    tls.write_all(b"ping from rustls client\n")?;
    tls.flush()?;
    let mut line = String::new();
    BufReader::new(&mut tls).read_line(&mut line)?;
    eprintln!(
        "client: version={:?} cipher={:?} got {:?}",
        tls.conn.protocol_version(),
        tls.conn.negotiated_cipher_suite().map(|s| s.suite()),
        line.trim_end()
    );
    tls.conn.send_close_notify();
    tls.flush()?;
    drain(&mut tls);
    if line.is_empty() {
        return Err(io::Error::other("no answer from server").into());
    }
    Ok(())
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| usage());
    let a = parse(args);
    let r = match mode.as_str() {
        "server" => server(a),
        "client" => client(a),
        _ => usage(),
    };
    if let Err(e) = r {
        eprintln!("rustls_peer {mode}: error: {e}");
        std::process::exit(1);
    }
}
