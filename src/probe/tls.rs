//! Full handshakes with rustls (ring), one protocol version at a time.
//!
//! The probe observes; it does not authenticate. Its certificate verifier
//! accepts every chain and keeps a copy (the chain is judged afterwards by
//! `verify`, so a bad chain is a finding, not a failed connection), and
//! accepts every handshake signature. Its client-certificate resolver is
//! called by rustls only when the server sent a CertificateRequest, so it
//! records that, with the acceptable CA names and signature schemes; it
//! answers with the `--cert/--key` identity, or with no certificate.
//!
//! rustls is driven by hand over a tokio socket (no tokio-rustls): the
//! connection's negotiated version and suite stay readable after an alert,
//! every read has a deadline and every connection a byte cap.
//!
//! Keep the verifier and resolver here: rustls 0.24 renames both traits.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::client::ResolvesClientCert;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime, pem::PemObject};
use rustls::sign::CertifiedKey;
use rustls::{
    AlertDescription, ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme,
    SupportedProtocolVersion,
};
use tokio::time::Instant;

use super::ProbeConfig;
use super::conn::{Conn, Got};
use super::error::ProbeFailure;

/// What a CertificateRequest asked for.
#[derive(Debug, Clone, Default)]
pub(crate) struct CertRequest {
    /// Acceptable CA names, DER.
    pub ca_names: Vec<Vec<u8>>,
    /// Signature schemes the server accepts.
    pub schemes: Vec<SignatureScheme>,
}

#[derive(Debug, Default)]
struct Seen {
    chain: Mutex<Vec<CertificateDer<'static>>>,
    request: Mutex<Option<CertRequest>>,
}

#[derive(Debug)]
struct RecordingVerifier(Arc<Seen>);

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Ok(mut chain) = self.0.chain.lock() {
            chain.clear();
            chain.push(end_entity.clone().into_owned());
            chain.extend(intermediates.iter().map(|c| c.clone().into_owned()));
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        // Every scheme a server may sign with: the probe watches, it does
        // not refuse (SHA-1 and PKCS#1 included, so old servers answer).
        use SignatureScheme as S;
        vec![
            S::ECDSA_NISTP256_SHA256,
            S::ECDSA_NISTP384_SHA384,
            S::ECDSA_NISTP521_SHA512,
            S::ED25519,
            S::ED448,
            S::RSA_PSS_SHA256,
            S::RSA_PSS_SHA384,
            S::RSA_PSS_SHA512,
            S::RSA_PKCS1_SHA256,
            S::RSA_PKCS1_SHA384,
            S::RSA_PKCS1_SHA512,
            S::RSA_PKCS1_SHA1,
            S::ECDSA_SHA1_Legacy,
        ]
    }
}

#[derive(Debug)]
struct RecordingResolver {
    seen: Arc<Seen>,
    identity: Option<Arc<CertifiedKey>>,
}

impl ResolvesClientCert for RecordingResolver {
    fn resolve(
        &self,
        root_hint_subjects: &[&[u8]],
        sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        if let Ok(mut r) = self.seen.request.lock() {
            *r = Some(CertRequest {
                ca_names: root_hint_subjects.iter().map(|s| s.to_vec()).collect(),
                schemes: sigschemes.to_vec(),
            });
        }
        self.identity.clone()
    }

    /// Must be true: rustls keeps the transcript for client authentication
    /// (and so calls `resolve`) only then.
    fn has_certs(&self) -> bool {
        true
    }
}

/// A client certificate and key (`--cert/--key`).
#[derive(Debug, Clone)]
pub struct Identity {
    pub(crate) key: Arc<CertifiedKey>,
}

/// Why `--cert/--key` cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// No CERTIFICATE block in the certificate file.
    #[error("no certificate in the certificate file")]
    NoCertificate,
    /// The PEM is damaged.
    #[error("certificate file: {0}")]
    BadCertificate(String),
    /// No usable private key.
    #[error("key file: {0}")]
    BadKey(String),
    /// The key is not the certificate's.
    #[error("the key does not belong to the certificate: {0}")]
    Mismatch(String),
}

impl Identity {
    /// A certificate chain (PEM, leaf first) and its private key (PEM).
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<Identity, IdentityError> {
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
            .collect::<Result<_, _>>()
            .map_err(|e| IdentityError::BadCertificate(e.to_string()))?;
        if chain.is_empty() {
            return Err(IdentityError::NoCertificate);
        }
        let key = PrivateKeyDer::from_pem_slice(key_pem)
            .map_err(|e| IdentityError::BadKey(e.to_string()))?;
        let signer = provider()
            .key_provider
            .load_private_key(key)
            .map_err(|e| IdentityError::BadKey(e.to_string()))?;
        let certified = CertifiedKey::new(chain, signer);
        certified
            .keys_match()
            .map_err(|e| IdentityError::Mismatch(e.to_string()))?;
        Ok(Identity {
            key: Arc::new(certified),
        })
    }

    /// The certificates, leaf first.
    pub fn chain(&self) -> &[CertificateDer<'static>] {
        &self.key.cert
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// How a handshake ended.
#[derive(Debug)]
pub(crate) enum End {
    /// Complete; in TLS 1.3 after a CertificateRequest, no alert came
    /// within the wait either.
    Completed,
    /// A fatal alert from the server before the handshake completed.
    AlertDuring(AlertDescription),
    /// A fatal alert from the server after our Finished (TLS 1.3).
    AlertAfter(AlertDescription),
    /// The server closed right after the handshake, without an alert.
    ClosedAfter,
    /// After the handshake the server answered our HTTP request (ALPN
    /// `http/1.1`): it serves this client. The answer's first line.
    Served(String),
    /// ... with nginx's refusal page for a missing client certificate
    /// (`ssl_verify_client on` refuses at the HTTP layer, not in TLS).
    HttpRefused(String),
    /// Something else went wrong.
    Failed(ProbeFailure),
}

/// One handshake's facts.
#[derive(Debug)]
pub(crate) struct Handshake {
    pub version: Option<u16>,
    pub cipher: Option<u16>,
    pub alpn: Option<Vec<u8>>,
    pub chain: Vec<CertificateDer<'static>>,
    pub request: Option<CertRequest>,
    pub end: End,
    pub local: Option<SocketAddr>,
    pub started: time::OffsetDateTime,
    pub finished: time::OffsetDateTime,
    pub bytes: u64,
    /// We waited for a refusal after the handshake (certificate requested;
    /// TLS 1.3, or an HTTP request sent over ALPN `http/1.1`).
    pub waited: bool,
}

/// ALPN offered by the probe.
pub(crate) const ALPN: [&str; 2] = ["h2", "http/1.1"];

/// Handshake with `addr` at exactly `version`. `Err` only when no TCP
/// connection could be made; everything after that is in [`Handshake::end`].
pub(crate) async fn handshake(
    addr: SocketAddr,
    sni: Option<&str>,
    version: &'static SupportedProtocolVersion,
    identity: Option<&Identity>,
    cfg: &ProbeConfig,
) -> Result<Handshake, ProbeFailure> {
    let alpn: Vec<Vec<u8>> = ALPN.iter().map(|p| p.as_bytes().to_vec()).collect();
    let offer = Offer {
        versions: &[version],
        alpn: &alpn,
        wait_for_refusal: true,
    };
    handshake_with(addr, sni, &offer, identity, cfg).await
}

/// What a handshake offers, and whether it lingers for a refusal.
pub(crate) struct Offer<'a> {
    /// Protocol versions offered.
    pub versions: &'a [&'static SupportedProtocolVersion],
    /// ALPN protocols offered, in order.
    pub alpn: &'a [Vec<u8>],
    /// After a CertificateRequest, wait for the server's refusal (and, over
    /// ALPN `http/1.1`, send one request). Identity enrichment does not:
    /// it sends nothing after the handshake but its close_notify.
    pub wait_for_refusal: bool,
}

/// Handshake with `addr` as `offer` says (see [`handshake`]).
pub(crate) async fn handshake_with(
    addr: SocketAddr,
    sni: Option<&str>,
    offer: &Offer<'_>,
    identity: Option<&Identity>,
    cfg: &ProbeConfig,
) -> Result<Handshake, ProbeFailure> {
    let seen = Arc::new(Seen::default());
    let config = client_config(offer, identity, &seen)?;
    let name = match sni.map(|s| ServerName::try_from(s.to_string())) {
        Some(Ok(n)) => n,
        _ => ServerName::IpAddress(addr.ip().into()),
    };
    let started = time::OffsetDateTime::now_utc();
    let mut sock = Conn::open(
        addr,
        cfg.connect_timeout,
        cfg.io_timeout,
        cfg.max_server_bytes,
    )
    .await?;
    let mut tls = ClientConnection::new(Arc::new(config), name).map_err(ProbeFailure::Tls)?;
    let mut buf = vec![0u8; 18 * 1024];
    let began = Instant::now();
    let mut end = complete(&mut tls, &mut sock, &mut buf, began + cfg.io_timeout).await;
    let requested = seen.request.lock().map(|r| r.is_some()).unwrap_or(false);
    let tls13 = tls.protocol_version() == Some(rustls::ProtocolVersion::TLSv1_3);
    let http = tls.alpn_protocol() == Some(b"http/1.1".as_slice());
    let waited =
        offer.wait_for_refusal && matches!(end, End::Completed) && requested && (tls13 || http);
    if waited {
        let host = http.then(|| sni.map_or_else(|| addr.ip().to_string(), str::to_string));
        end = await_refusal(&mut tls, &mut sock, &mut buf, host, began, cfg.alert_wait).await;
    }
    if matches!(end, End::Completed | End::Served(_)) {
        tls.send_close_notify();
        let _ = flush(&mut tls, &mut sock).await;
    }
    let out = Handshake {
        version: tls.protocol_version().map(u16::from),
        cipher: tls.negotiated_cipher_suite().map(|s| u16::from(s.suite())),
        alpn: tls.alpn_protocol().map(<[u8]>::to_vec),
        chain: seen.chain.lock().map(|c| c.clone()).unwrap_or_default(),
        request: seen.request.lock().ok().and_then(|r| r.clone()),
        end,
        local: sock.local(),
        started,
        finished: time::OffsetDateTime::now_utc(),
        bytes: (sock.read + sock.written) as u64,
        waited,
    };
    sock.close().await;
    Ok(out)
}

/// The rustls client for `offer`: it accepts any server certificate and
/// records it, and records a CertificateRequest (answering it with
/// `identity`, if given), in `seen`; no resumption.
fn client_config(
    offer: &Offer<'_>,
    identity: Option<&Identity>,
    seen: &Arc<Seen>,
) -> Result<ClientConfig, ProbeFailure> {
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(offer.versions)
        .map_err(ProbeFailure::Tls)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(RecordingVerifier(Arc::clone(seen))))
        .with_client_cert_resolver(Arc::new(RecordingResolver {
            seen: Arc::clone(seen),
            identity: identity.map(|i| Arc::clone(&i.key)),
        }));
    config.alpn_protocols = offer.alpn.to_vec();
    config.resumption = rustls::client::Resumption::disabled();
    Ok(config)
}

/// Run the handshake until it completes, fails, or the server sends an
/// alert (ours, if rustls queued one, is sent before stopping).
async fn complete(
    tls: &mut ClientConnection,
    sock: &mut Conn,
    buf: &mut [u8],
    deadline: Instant,
) -> End {
    loop {
        if let Err(e) = flush(tls, sock).await {
            return End::Failed(e);
        }
        if !tls.is_handshaking() {
            return End::Completed;
        }
        match sock.read(buf, Some(deadline), "handshake").await {
            Ok(Got::Data(n)) => {
                if let Err(e) = feed(tls, buf.get(..n).unwrap_or_default()) {
                    let _ = flush(tls, sock).await;
                    return match e {
                        Fed::Alert(a) => End::AlertDuring(a),
                        Fed::Failure(f) => End::Failed(f),
                    };
                }
            }
            Ok(Got::Eof) => return End::Failed(ProbeFailure::Closed("the handshake")),
            Err(e) => return End::Failed(e),
        }
    }
}

/// After a completed handshake in which a certificate was requested: send
/// one HTTP request when ALPN chose `http/1.1` (`http_host` names the
/// host), then wait for the refusal (see [`refusal_wait`]).
async fn await_refusal(
    tls: &mut ClientConnection,
    sock: &mut Conn,
    buf: &mut [u8],
    http_host: Option<String>,
    began: Instant,
    alert_wait: Duration,
) -> End {
    if let Some(host) = http_host {
        let req = super::plaintext::http1_request(&host);
        if let Err(e) = std::io::Write::write_all(&mut tls.writer(), req.as_bytes()) {
            return End::Failed(ProbeFailure::Io(e));
        }
    }
    let wait = refusal_wait(began.elapsed(), alert_wait);
    wait_for_refusal(tls, sock, buf, wait).await
}

/// How long to wait for a refusal: the refusal is one round trip after our
/// Finished, so eight times the handshake's own time, at least 250 ms, at
/// most `max` (`--alert-wait`).
fn refusal_wait(handshake: Duration, max: Duration) -> Duration {
    (handshake * 8).clamp(Duration::from_millis(250).min(max), max)
}

/// TLS 1.3 refuses a missing client certificate after the handshake (the
/// client's Finished went first), and nginx refuses in HTTP: read until an
/// alert, an answer to our request, a close, or the wait.
async fn wait_for_refusal(
    tls: &mut ClientConnection,
    sock: &mut Conn,
    buf: &mut [u8],
    wait: Duration,
) -> End {
    let until = Instant::now() + wait;
    loop {
        if let Err(e) = flush(tls, sock).await {
            return End::Failed(e);
        }
        match sock.read(buf, Some(until), "alert").await {
            Ok(Got::Data(n)) => match feed(tls, buf.get(..n).unwrap_or_default()) {
                Err(Fed::Alert(a)) => return End::AlertAfter(a),
                Err(Fed::Failure(f)) => return End::Failed(f),
                Ok(()) => {
                    // Application data means the server went on serving us,
                    // unless it is nginx's page refusing the request.
                    let mut answer = [0u8; 4096];
                    let n = std::io::Read::read(&mut tls.reader(), &mut answer).unwrap_or(0);
                    if let Some(a) = answer.get(..n).filter(|a| !a.is_empty()) {
                        let line = super::plaintext::first_line(a);
                        let text = String::from_utf8_lossy(a);
                        return match NGINX_REFUSALS.iter().find(|r| text.contains(*r)) {
                            Some(why) => End::HttpRefused(format!("{line}: {why}")),
                            None => End::Served(line),
                        };
                    }
                }
            },
            Ok(Got::Eof) | Err(ProbeFailure::Reset(_)) => return End::ClosedAfter,
            Err(ProbeFailure::Timeout { .. }) => return End::Completed,
            Err(e) => return End::Failed(e),
        }
    }
}

/// nginx's pages for a client certificate missing or failing verification
/// (`ssl_verify_client on`; its internal codes 496 and 495).
const NGINX_REFUSALS: [&str; 2] = [
    "No required SSL certificate was sent",
    "The SSL certificate error",
];

enum Fed {
    Alert(AlertDescription),
    Failure(ProbeFailure),
}

/// Give rustls the bytes read.
fn feed(tls: &mut ClientConnection, mut data: &[u8]) -> Result<(), Fed> {
    while !data.is_empty() {
        tls.read_tls(&mut data)
            .map_err(|e| Fed::Failure(ProbeFailure::Io(e)))?;
        tls.process_new_packets().map_err(|e| match e {
            rustls::Error::AlertReceived(a) => Fed::Alert(a),
            e => Fed::Failure(ProbeFailure::Tls(e)),
        })?;
    }
    Ok(())
}

/// Send what rustls has to send.
async fn flush(tls: &mut ClientConnection, sock: &mut Conn) -> Result<(), ProbeFailure> {
    while tls.wants_write() {
        let mut out = Vec::new();
        tls.write_tls(&mut out).map_err(ProbeFailure::Io)?;
        sock.write(&out).await?;
    }
    Ok(())
}

/// The report's name of an alert, as RFC 8446 spells it:
/// `certificate_required (116)`; unknown ones as `alert (200)`.
pub(crate) fn alert_name(n: u8) -> String {
    let a = AlertDescription::from(n);
    let camel = format!("{a:?}");
    if matches!(a, AlertDescription::Unknown(_)) {
        return format!("alert ({n})");
    }
    let mut snake = String::with_capacity(camel.len() + 4);
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            snake.push('_');
        }
        snake.push(c.to_ascii_lowercase());
    }
    format!("{snake} ({n})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_waits_scale_with_the_handshake() {
        let ms = Duration::from_millis;
        assert_eq!(refusal_wait(ms(2), ms(1000)), ms(250));
        assert_eq!(refusal_wait(ms(50), ms(1000)), ms(400));
        assert_eq!(refusal_wait(ms(900), ms(1000)), ms(1000));
        assert_eq!(refusal_wait(ms(2), ms(100)), ms(100));
    }

    #[test]
    fn alert_names() {
        assert_eq!(alert_name(116), "certificate_required (116)");
        assert_eq!(alert_name(40), "handshake_failure (40)");
        assert_eq!(alert_name(70), "protocol_version (70)");
        assert_eq!(alert_name(200), "alert (200)");
    }

    #[test]
    fn identities_load_and_mismatches_are_refused() {
        let a = rcgen::generate_simple_self_signed(vec!["a".into()]).unwrap();
        let b = rcgen::generate_simple_self_signed(vec!["b".into()]).unwrap();
        let cert = a.cert.pem();
        let id = Identity::from_pem(cert.as_bytes(), a.signing_key.serialize_pem().as_bytes());
        assert_eq!(id.unwrap().chain().len(), 1);
        let wrong = Identity::from_pem(cert.as_bytes(), b.signing_key.serialize_pem().as_bytes());
        assert!(
            matches!(wrong, Err(IdentityError::Mismatch(_))),
            "{wrong:?}"
        );
        let none = Identity::from_pem(b"", a.signing_key.serialize_pem().as_bytes());
        assert!(matches!(none, Err(IdentityError::NoCertificate)));
    }
}
