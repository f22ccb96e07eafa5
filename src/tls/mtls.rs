//! Was the client authenticated with a certificate? Observed where the
//! handshake is cleartext (TLS ≤ 1.2), inferred from record sizes where it
//! is not (TLS 1.3 without keys), and undecided otherwise. An inference is
//! always labelled as one and carries the numbers it used.
//!
//! The TLS 1.3 inference: after the ServerHello the client's first flight is
//! `[Certificate, CertificateVerify,] Finished`, each handshake message
//! encrypted as `body + 1 byte inner content type + AEAD tag`. Finished alone
//! is `4 + Hash.length` bytes, so a first client record of exactly
//! `4 + hash + 1 + tag` bytes is a Finished with no Certificate before it;
//! an empty Certificate (`4 + 1 + 3` bytes: requested, none sent) gives
//! `8 + 1 + tag`, or `8 + 4 + hash + 1 + tag` when sent in one record with
//! the Finished; a record larger than a Finished by more than any empty
//! Certificate could account for holds a client certificate. Record padding
//! (RFC 8446 §5.4) would blur this; implementations in use do not pad
//! handshake records, and a size that fits no rule is left undecided.

use serde::{Deserialize, Serialize};

use super::hello::ServerHello;
use super::session::TlsFacts;

/// A client certificate is at least this much larger than an empty
/// Certificate message (real DER certificates are hundreds of bytes).
const MIN_CERTIFICATE_EXTRA: u16 = 64;

/// The evidence behind a client-authentication verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evidence {
    /// A non-empty client Certificate message was seen in cleartext.
    ObservedClientCertificate,
    /// The client answered a CertificateRequest with an empty Certificate.
    ObservedEmptyClientCertificate,
    /// The server requested a certificate and the client sent none.
    ObservedNoClientCertificate,
    /// The whole cleartext handshake was seen and the server never asked.
    ObservedNoCertificateRequest,
    /// Inferred from the sizes of the client's encrypted TLS 1.3 flight.
    EncryptedFlightSize,
    /// Read from the TLS 1.3 handshake, decrypted with a key log.
    KeylogDecrypted,
}

impl Evidence {
    /// The report's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Evidence::ObservedClientCertificate => "observed-client-certificate",
            Evidence::ObservedEmptyClientCertificate => "observed-empty-client-certificate",
            Evidence::ObservedNoClientCertificate => "observed-no-client-certificate",
            Evidence::ObservedNoCertificateRequest => "observed-no-certificate-request",
            Evidence::EncryptedFlightSize => "encrypted-flight-size",
            Evidence::KeylogDecrypted => "keylog-decrypted",
        }
    }
}

/// Why client authentication could not be decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unknown {
    /// The capture does not contain the handshake.
    HandshakeNotSeen,
    /// The handshake is cut short in the capture.
    HandshakeIncomplete,
    /// A resumed session re-uses the identity of an earlier handshake.
    Resumed,
    /// TLS 1.3: the client's encrypted flight was not captured.
    NoClientFlight,
    /// TLS 1.3: the flight sizes fit no rule (padding, unknown suite).
    FlightAmbiguous,
}

impl Unknown {
    /// The report's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Unknown::HandshakeNotSeen => "handshake-not-seen",
            Unknown::HandshakeIncomplete => "handshake-incomplete",
            Unknown::Resumed => "resumed",
            Unknown::NoClientFlight => "no-client-flight",
            Unknown::FlightAmbiguous => "flight-ambiguous",
        }
    }
}

/// The numbers a TLS 1.3 inference used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlightInference {
    /// Length of the client's first encrypted record after the ServerHello.
    pub client_first_record_len: u16,
    /// What a record holding only Finished would measure for this suite.
    pub finished_record_len: u16,
    /// What a record holding only an empty Certificate would measure.
    pub empty_certificate_record_len: u16,
    /// Lengths of the client's encrypted records, in order.
    pub client_records: Vec<u16>,
    /// Lengths of the server's encrypted records before the client's flight.
    pub server_records: Vec<u16>,
    /// The rule that matched, in words.
    pub rule: String,
}

/// The client-authentication verdict for one connection.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Mutual {
    /// true / false, or None when it cannot be decided.
    pub mutual: Option<bool>,
    /// What the verdict rests on.
    pub evidence: Option<Evidence>,
    /// Did the server ask for a client certificate?
    pub client_cert_requested: Option<bool>,
    /// Why `mutual` is None.
    pub unknown: Option<Unknown>,
    /// For TLS 1.3 inferences: the numbers.
    pub inference: Option<FlightInference>,
}

/// Was the session resumed rather than fully negotiated? None if unknown.
pub fn resumed(f: &TlsFacts) -> Option<bool> {
    let sh = f.server_hello.as_ref()?;
    if sh.is_tls13() {
        return Some(sh.extensions.contains(&super::hello::ext::PRE_SHARED_KEY));
    }
    if f.abbreviated {
        return Some(true);
    }
    if f.server_chain.is_some() {
        return Some(false);
    }
    let sid_echo = f
        .client_hello
        .as_ref()
        .is_some_and(|ch| !ch.session_id.is_empty() && ch.session_id == sh.session_id);
    Some(sid_echo)
}

/// Decide client authentication from what the session saw.
pub fn decide(f: &TlsFacts) -> Mutual {
    let Some(sh) = &f.server_hello else {
        let unknown = if f.client_hello.is_some() {
            Unknown::HandshakeIncomplete
        } else {
            Unknown::HandshakeNotSeen
        };
        return undecided(unknown, None);
    };
    if resumed(f) == Some(true) {
        return undecided(Unknown::Resumed, None);
    }
    if sh.is_tls13() {
        if let Some(m) = decrypted_tls13(f) {
            return m;
        }
        let mut m = infer_tls13(f, sh);
        if f.decryption.as_ref().is_some_and(|d| d.finished[1]) {
            // The server's decrypted flight says whether it asked.
            m.client_cert_requested = Some(f.certificate_request);
        }
        return m;
    }
    observe_tls12(f)
}

/// TLS 1.3 read with a key log: the client's decrypted flight (up to its
/// Finished) shows its Certificate or its absence; the server's alone shows
/// whether a certificate was asked for at all.
fn decrypted_tls13(f: &TlsFacts) -> Option<Mutual> {
    let d = f.decryption.as_ref()?;
    let [client_done, server_done] = d.finished;
    let keylog = |mutual, requested| observed(mutual, Evidence::KeylogDecrypted, requested);
    if client_done {
        return Some(match &f.client_chain {
            Some(chain) if !chain.is_empty() => keylog(true, true),
            Some(_) => keylog(false, true),
            None => keylog(false, f.certificate_request),
        });
    }
    (server_done && !f.certificate_request).then(|| keylog(false, false))
}

fn undecided(unknown: Unknown, requested: Option<bool>) -> Mutual {
    Mutual {
        unknown: Some(unknown),
        client_cert_requested: requested,
        ..Mutual::default()
    }
}

fn observed(mutual: bool, evidence: Evidence, requested: bool) -> Mutual {
    Mutual {
        mutual: Some(mutual),
        evidence: Some(evidence),
        client_cert_requested: Some(requested),
        ..Mutual::default()
    }
}

fn observe_tls12(f: &TlsFacts) -> Mutual {
    match &f.client_chain {
        Some(chain) if !chain.is_empty() => {
            return observed(true, Evidence::ObservedClientCertificate, true);
        }
        Some(_) => return observed(false, Evidence::ObservedEmptyClientCertificate, true),
        None => {}
    }
    // A CertificateRequest can only come before ServerHelloDone.
    let server_flight_done = f.server_hello_done || f.ccs[1];
    match (f.certificate_request, f.ccs[0]) {
        (true, true) => observed(false, Evidence::ObservedNoClientCertificate, true),
        (false, _) if server_flight_done => {
            observed(false, Evidence::ObservedNoCertificateRequest, false)
        }
        (requested, _) => undecided(Unknown::HandshakeIncomplete, requested.then_some(true)),
    }
}

/// (hash length, AEAD tag length) of the TLS 1.3 suites.
fn suite_sizes(suite: u16) -> Option<(u16, u16)> {
    match suite {
        0x1301 | 0x1303 | 0x1304 => Some((32, 16)),
        0x1302 => Some((48, 16)),
        0x1305 => Some((32, 8)),
        _ => None,
    }
}

fn infer_tls13(f: &TlsFacts, sh: &ServerHello) -> Mutual {
    let Some(&first) = f.client_flight.first() else {
        return undecided(Unknown::NoClientFlight, None);
    };
    let Some((hash, tag)) = suite_sizes(sh.cipher_suite) else {
        return undecided(Unknown::FlightAmbiguous, None);
    };
    let finished = 4 + hash + 1 + tag;
    let empty_cert = 8 + 1 + tag;
    let empty_cert_and_finished = 8 + 4 + hash + 1 + tag;
    let (mutual, requested, rule) = if first == finished {
        (
            Some(false),
            Some(false),
            "first record is exactly a Finished",
        )
    } else if first == empty_cert || first == empty_cert_and_finished {
        (
            Some(false),
            Some(true),
            "first record is an empty Certificate (requested, none sent)",
        )
    } else if first >= empty_cert_and_finished + MIN_CERTIFICATE_EXTRA {
        (
            Some(true),
            Some(true),
            "first record is larger than an empty Certificate and Finished: it carries a certificate",
        )
    } else {
        (None, None, "the first record's size fits no rule")
    };
    Mutual {
        mutual,
        evidence: mutual.is_some().then_some(Evidence::EncryptedFlightSize),
        client_cert_requested: requested,
        unknown: mutual.is_none().then_some(Unknown::FlightAmbiguous),
        inference: Some(FlightInference {
            client_first_record_len: first,
            finished_record_len: finished,
            empty_certificate_record_len: empty_cert,
            client_records: f.client_flight.clone(),
            server_records: f.server_flight.clone(),
            rule: rule.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::session::ChainCert;

    fn tls13(first_client_record: u16, suite: u16) -> TlsFacts {
        TlsFacts {
            server_hello: Some(ServerHello {
                version: 0x0304,
                cipher_suite: suite,
                ..ServerHello::default()
            }),
            client_flight: vec![first_client_record, 40],
            ..TlsFacts::default()
        }
    }

    #[test]
    fn tls13_finished_alone_is_not_mutual() {
        let m = decide(&tls13(53, 0x1301));
        assert_eq!(m.mutual, Some(false));
        assert_eq!(m.evidence, Some(Evidence::EncryptedFlightSize));
        assert_eq!(m.inference.unwrap().finished_record_len, 53);
        assert_eq!(decide(&tls13(69, 0x1302)).mutual, Some(false));
    }

    #[test]
    fn tls13_empty_certificate_is_requested_not_mutual() {
        let m = decide(&tls13(25, 0x1301));
        assert_eq!(
            (m.mutual, m.client_cert_requested),
            (Some(false), Some(true))
        );
        let m = decide(&tls13(61, 0x1303));
        assert_eq!(
            (m.mutual, m.client_cert_requested),
            (Some(false), Some(true))
        );
    }

    #[test]
    fn tls13_large_first_record_is_mutual_and_odd_sizes_undecided() {
        let m = decide(&tls13(900, 0x1301));
        assert_eq!(m.mutual, Some(true));
        let m = decide(&tls13(70, 0x1301));
        assert_eq!(m.mutual, None);
        assert_eq!(m.unknown, Some(Unknown::FlightAmbiguous));
        assert!(
            m.inference.is_some(),
            "the numbers are shown even when undecided"
        );
    }

    #[test]
    fn tls12_observations() {
        let mut f = TlsFacts {
            server_hello: Some(ServerHello {
                version: 0x0303,
                ..ServerHello::default()
            }),
            server_chain: Some(vec![ChainCert::Der(vec![1])]),
            ..TlsFacts::default()
        };
        assert_eq!(decide(&f).unknown, Some(Unknown::HandshakeIncomplete));
        f.server_hello_done = true;
        assert_eq!(
            decide(&f).evidence,
            Some(Evidence::ObservedNoCertificateRequest)
        );
        f.ccs = [true, true];
        assert_eq!(
            decide(&f).evidence,
            Some(Evidence::ObservedNoCertificateRequest)
        );
        f.certificate_request = true;
        assert_eq!(
            decide(&f).evidence,
            Some(Evidence::ObservedNoClientCertificate)
        );
        f.client_chain = Some(vec![]);
        assert_eq!(decide(&f).mutual, Some(false));
        f.client_chain = Some(vec![ChainCert::Der(vec![0x30])]);
        assert_eq!(decide(&f).mutual, Some(true));
    }

    #[test]
    fn resumption_is_undecided() {
        let f = TlsFacts {
            server_hello: Some(ServerHello {
                version: 0x0303,
                ..ServerHello::default()
            }),
            abbreviated: true,
            ..TlsFacts::default()
        };
        assert_eq!(decide(&f).unknown, Some(Unknown::Resumed));
        assert_eq!(
            decide(&TlsFacts::default()).unknown,
            Some(Unknown::HandshakeNotSeen)
        );
    }
}
