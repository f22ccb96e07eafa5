//! Was the client authenticated with a certificate? Observed where the
//! handshake is cleartext (TLS ≤ 1.2), inferred from record sizes where it
//! is not (TLS 1.3 without keys), and undecided otherwise. An inference is
//! always labelled as one and carries the numbers it used.
//!
//! The TLS 1.3 inference. After the ServerHello the client's second flight
//! is `[Certificate, CertificateVerify,] Finished` (an empty Certificate and
//! no CertificateVerify when it was asked and has none), encrypted as
//! `content + 1 byte inner type + padding + AEAD tag` per record (RFC 8446
//! §5.2, §5.4). Stacks differ in what the wire shows: OpenSSL and GnuTLS
//! send one message per record, rustls coalesces the flight into one; Java
//! pads every record; OpenSSL's `-record_padding` rounds every record up
//! to a block; padding is legal on any record, of any length.
//! The rules therefore rest only on what padding cannot fake:
//!
//! - **No certificate**: the client's first record is too small to hold a
//!   Certificate message with any certificate in it (a 128-byte X.509
//!   certificate at the least; 44 bytes for an RFC 7250 raw public key when
//!   the ClientHello offers that). Padding only adds bytes, so this holds
//!   for every padding scheme. Whether a certificate was *requested* is
//!   read only from exact layouts: a Finished alone, an empty Certificate,
//!   or the two each padded by the same amount.
//! - **A certificate**: the first record is larger than the smallest
//!   certificate-carrying message by more than the largest padding the
//!   client's own records allow. With constant or block padding a client
//!   pads every record; its smallest record (a Finished, an alert, a small
//!   request) bounds the padding, so a padded Finished is never read as a
//!   certificate. A client that sent only one record gives no such bound,
//!   and stays undecided.
//! - **Post-handshake authentication** (the ClientHello offers
//!   `post_handshake_auth`): the server may ask for a certificate after the
//!   handshake, under application keys tls-audit never uses, so "no
//!   certificate in the handshake" is not "no client authentication":
//!   undecided, with its own reason.
//!
//! What this cannot resist: a client that pads only its handshake records,
//! on purpose, to look authenticated. Size inference is evidence about
//! ordinary stacks, not proof against a hostile client; the policy's
//! `mtls.evidence: observed` refuses inferred verdicts (see the README).

pub use crate::model::inference::FlightInference;

use super::hello::{ServerHello, ext};
use super::session::TlsFacts;

/// The smallest X.509 certificate a client could send: an Ed25519 key with
/// empty names and a one-byte serial is about 165 bytes of DER; real
/// workload certificates are many hundreds.
const MIN_CERTIFICATE_DER: u16 = 128;
/// The smallest raw public key (RFC 7250): an Ed25519 SubjectPublicKeyInfo.
const MIN_RAW_PUBLIC_KEY: u16 = 44;
/// Certificate message bytes around one certificate: message header (4),
/// context length (1), list length (3), entry length (3), entry extensions (2).
const CERTIFICATE_OVERHEAD: u16 = 4 + 1 + 3 + 3 + 2;
/// An empty Certificate message: header (4), context length (1), list length (3).
const EMPTY_CERTIFICATE: u16 = 8;
/// Records of the client's flight that settle a TLS 1.3 inference early.
pub const SETTLING_RECORDS: usize = 4;

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
    /// TLS 1.3: the client offered post-handshake authentication, so a
    /// certificate may be asked for and sent after the handshake, where
    /// tls-audit does not look.
    PostHandshakeAuth,
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
            Unknown::PostHandshakeAuth => "post-handshake-auth",
        }
    }
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
    // The shape of a full handshake: a Certificate, or the ServerHelloDone
    // that ends every full TLS ≤ 1.2 server flight (PSK and anonymous
    // suites send no Certificate). An abbreviated one has neither.
    if f.server_chain.is_some() || f.server_hello_done {
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
        let m = match decrypted_tls13(f) {
            Some(m) => m,
            None => {
                let mut m = infer_tls13(f, sh);
                if f.decryption.as_ref().is_some_and(|d| d.finished[1]) {
                    // The server's decrypted flight says whether it asked.
                    m.client_cert_requested = Some(f.certificate_request);
                }
                m
            }
        };
        return post_handshake_auth(f, m);
    }
    observe_tls12(f)
}

/// A "no" in a TLS 1.3 handshake whose client offered post-handshake
/// authentication, and whose server did not ask during the handshake, is
/// not a fact: the server may ask later (Apache httpd's per-location
/// `SSLVerifyClient`, Python's `verify_client_post_handshake`), under keys
/// tls-audit does not use. Undecided, keeping the numbers.
fn post_handshake_auth(f: &TlsFacts, m: Mutual) -> Mutual {
    let offered = f
        .client_hello
        .as_ref()
        .is_some_and(|ch| ch.extensions.contains(&ext::POST_HANDSHAKE_AUTH));
    if !offered || m.mutual != Some(false) || m.client_cert_requested == Some(true) {
        return m;
    }
    Mutual {
        mutual: None,
        evidence: None,
        unknown: Some(Unknown::PostHandshakeAuth),
        ..m
    }
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

/// The client's records as inner plaintext lengths (content, inner type
/// and padding: the record less its tag). None if a record is too short
/// to be a TLS 1.3 record at all.
fn inner_lengths(records: &[u16], tag: u16) -> Option<Vec<u16>> {
    records
        .iter()
        .map(|&r| r.checked_sub(tag).filter(|&x| x >= 2))
        .collect()
}

fn infer_tls13(f: &TlsFacts, sh: &ServerHello) -> Mutual {
    let Some(&first) = f.client_flight.first() else {
        return undecided(Unknown::NoClientFlight, None);
    };
    let Some((hash, tag)) = suite_sizes(sh.cipher_suite) else {
        return undecided(Unknown::FlightAmbiguous, None);
    };
    let ch = f.client_hello.as_ref();
    let offers = |e| ch.is_some_and(|ch| ch.extensions.contains(&e));
    let smallest_key = if offers(ext::CLIENT_CERTIFICATE_TYPE) {
        MIN_RAW_PUBLIC_KEY
    } else {
        MIN_CERTIFICATE_DER
    };
    let layouts = Layouts::new(hash, smallest_key);
    let inference = layouts.inference(f, first, tag);
    let Some(xs) = inner_lengths(&f.client_flight, tag) else {
        return flight_verdict(
            None,
            None,
            "a client record is shorter than its tag",
            inference,
        );
    };
    let [x1, rest @ ..] = xs.as_slice() else {
        return undecided(Unknown::NoClientFlight, None);
    };
    let x1 = *x1;
    if offers(ext::EARLY_DATA) {
        // 0-RTT records (other keys, any size) can stand before the flight.
        return flight_verdict(
            None,
            None,
            "the client offered early data: 0-RTT records cannot be told from its flight",
            inference,
        );
    }
    if x1 < layouts.certificate_min {
        // Too small for any certificate whatever the padding.
        let (requested, rule) = layouts.requested_without_certificate(x1, rest.first().copied());
        return flight_verdict(Some(false), requested, rule, inference);
    }
    certificate_beyond_padding(&xs, layouts.certificate_min, inference)
}

/// Inner lengths (content + 1 byte inner type) of the unpadded layouts a
/// client's first TLS 1.3 record can have.
struct Layouts {
    /// A Finished alone.
    finished: u16,
    /// An empty Certificate alone.
    empty_cert: u16,
    /// An empty Certificate and a Finished in one record.
    empty_cert_and_finished: u16,
    /// A Certificate with the smallest certificate (or raw key) in it.
    certificate_min: u16,
}

impl Layouts {
    /// The layouts for a suite's hash length and the smallest key the
    /// client could send.
    // Proven: hash <= 48 (suite_sizes), the other terms are the constants
    // above (at most 128): every sum is below 300.
    #[allow(clippy::arithmetic_side_effects)]
    fn new(hash: u16, smallest_key: u16) -> Self {
        Layouts {
            finished: 4 + hash + 1,
            empty_cert: EMPTY_CERTIFICATE + 1,
            empty_cert_and_finished: EMPTY_CERTIFICATE + 4 + hash + 1,
            certificate_min: CERTIFICATE_OVERHEAD + smallest_key + 1,
        }
    }

    /// The numbers the inference shows, its rule not yet chosen: the
    /// client's first record and the records (inner length and `tag`) of
    /// three layouts.
    // Proven: tag <= 16 (suite_sizes) and each layout is below 300.
    #[allow(clippy::arithmetic_side_effects)]
    fn inference(&self, f: &TlsFacts, first: u16, tag: u16) -> FlightInference {
        FlightInference {
            client_first_record_len: first,
            finished_record_len: self.finished + tag,
            empty_certificate_record_len: self.empty_cert + tag,
            certificate_record_min_len: self.certificate_min + tag,
            max_padding: None,
            client_records: f.client_flight.clone(),
            server_records: f.server_flight.clone(),
            rule: "".into(),
        }
    }

    /// A first record `x1` too small for a certificate (and the second,
    /// `x2`): was one asked for? Only exact layouts say.
    fn requested_without_certificate(
        &self,
        x1: u16,
        x2: Option<u16>,
    ) -> (Option<bool>, &'static str) {
        if x1 == self.finished {
            (
                Some(false),
                "first record is exactly a Finished: no certificate, none requested",
            )
        } else if x1 == self.empty_cert_and_finished
            || (x1 == self.empty_cert && x2 == Some(self.finished))
        {
            (
                Some(true),
                "first record is an empty Certificate: requested, none sent",
            )
        } else if let Some(pad) = x1.checked_sub(self.empty_cert).filter(|&p| p > 0)
            && x2.and_then(|x2| x2.checked_sub(self.finished)) == Some(pad)
        {
            (
                Some(true),
                "an empty Certificate then a Finished, each padded by the same amount: requested, none sent",
            )
        } else {
            (
                None,
                "first record is too small to hold a certificate under any padding; whether one was requested is not visible",
            )
        }
    }
}

/// A first record large enough for a certificate (inner lengths `xs`, at
/// least one). Padding could inflate a Finished to any size, but a client
/// that pads pads every record: its smallest record bounds the padding,
/// and only a first record beyond that bound shows a certificate.
fn certificate_beyond_padding(
    xs: &[u16],
    certificate_min: u16,
    mut inference: FlightInference,
) -> Mutual {
    let x1 = xs.first().copied().unwrap_or_default();
    let smallest = xs.iter().copied().min().unwrap_or(x1);
    let max_padding = smallest.saturating_sub(2);
    inference.max_padding = Some(max_padding);
    if xs.len() < 2 {
        return flight_verdict(
            None,
            None,
            "the client sent a single record: padding cannot be bounded, so its size does not show a certificate",
            inference,
        );
    }
    if x1.saturating_sub(max_padding) >= certificate_min {
        flight_verdict(
            Some(true),
            Some(true),
            "first record is larger than the smallest certificate-carrying message by more than the padding the client's records allow: it carries a certificate",
            inference,
        )
    } else {
        flight_verdict(
            None,
            None,
            "the client's records allow enough padding to explain the first record's size without a certificate",
            inference,
        )
    }
}

/// A verdict from the encrypted flight's sizes, with the rule that gave it.
fn flight_verdict(
    mutual: Option<bool>,
    requested: Option<bool>,
    rule: &'static str,
    inference: FlightInference,
) -> Mutual {
    Mutual {
        mutual,
        evidence: mutual.is_some().then_some(Evidence::EncryptedFlightSize),
        client_cert_requested: requested,
        unknown: mutual.is_none().then_some(Unknown::FlightAmbiguous),
        inference: Some(FlightInference {
            rule: rule.into(),
            ..inference
        }),
    }
}

/// Whether a TLS 1.3 client flight needs no more records to be decided
/// (the session may then stop parsing): the verdict cannot change any
/// more. A "yes" stays a yes (more records only lower the padding bound);
/// a "no" is settled once the record after the first is in (an empty
/// Certificate is followed by its Finished); an undecided flight waits for
/// up to `SETTLING_RECORDS` records.
pub fn flight_settled(f: &TlsFacts) -> bool {
    let n = f.client_flight.len();
    if n >= SETTLING_RECORDS {
        return true;
    }
    // Called after every chunk of an undecided TLS 1.3 flow: skip the
    // inference while it cannot settle (one record gives no "yes", and a
    // "no" waits for the next record).
    if n < 2 {
        return false;
    }
    match decide(f).mutual {
        Some(true) => true,
        Some(false) => n >= 2,
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::session::ChainCert;

    fn flight(records: &[u16], suite: u16, extensions: &[u16]) -> TlsFacts {
        TlsFacts {
            client_hello: Some(crate::tls::hello::ClientHello {
                extensions: extensions.to_vec(),
                ..Default::default()
            }),
            server_hello: Some(ServerHello {
                version: 0x0304,
                cipher_suite: suite,
                ..ServerHello::default()
            }),
            client_flight: records.to_vec(),
            ..TlsFacts::default()
        }
    }

    fn tls13(first_client_record: u16, suite: u16) -> TlsFacts {
        flight(&[first_client_record, 40], suite, &[])
    }

    fn verdict(records: &[u16]) -> (Option<bool>, Option<bool>) {
        let m = decide(&flight(records, 0x1301, &[]));
        (m.mutual, m.client_cert_requested)
    }

    #[test]
    fn tls13_finished_alone_is_not_mutual() {
        let m = decide(&tls13(53, 0x1301));
        assert_eq!(m.mutual, Some(false));
        assert_eq!(m.client_cert_requested, Some(false));
        assert_eq!(m.evidence, Some(Evidence::EncryptedFlightSize));
        assert_eq!(m.inference.unwrap().finished_record_len, 53);
        assert_eq!(decide(&tls13(69, 0x1302)).mutual, Some(false));
    }

    #[test]
    fn tls13_empty_certificate_is_requested_not_mutual() {
        // An empty Certificate record, then the Finished record.
        assert_eq!(verdict(&[25, 53, 40]), (Some(false), Some(true)));
        // Both in one record (ChaCha20: 16-byte tag).
        let m = decide(&tls13(61, 0x1303));
        assert_eq!(
            (m.mutual, m.client_cert_requested),
            (Some(false), Some(true))
        );
    }

    #[test]
    fn tls13_large_first_record_is_mutual_and_small_ones_are_not() {
        let m = decide(&tls13(900, 0x1301));
        assert_eq!(m.mutual, Some(true));
        let inf = m.inference.unwrap();
        assert_eq!(inf.max_padding, Some(22), "bounded by the 40-byte record");
        // Too small for any certificate: no, but whether one was asked for
        // is not visible at this size.
        let m = decide(&tls13(70, 0x1301));
        assert_eq!((m.mutual, m.client_cert_requested), (Some(false), None));
        assert!(m.inference.is_some(), "the numbers are shown");
    }

    /// Java JSSE pads every TLS 1.3 record by 16 bytes and sends one
    /// handshake message per record.
    #[test]
    fn constant_padding_one_message_per_record() {
        // No certificate requested: a padded Finished (37 + 16 + 16 tag).
        assert_eq!(verdict(&[69, 200]), (Some(false), None));
        // Requested, none sent: empty Certificate and Finished, each +16.
        assert_eq!(verdict(&[41, 69, 200]), (Some(false), Some(true)));
        // A certificate: Certificate, CertificateVerify, Finished, each +16.
        assert_eq!(verdict(&[916, 106, 69, 200]), (Some(true), Some(true)));
    }

    /// OpenSSL `-record_padding 512` rounds every record up to 512 bytes:
    /// a padded Finished is never read as a certificate; a flight of more
    /// than a block is.
    #[test]
    fn block_padding_never_fakes_a_certificate() {
        let m = decide(&flight(&[528], 0x1301, &[]));
        assert_eq!(m.mutual, None, "one padded record: {m:?}");
        assert_eq!(m.unknown, Some(Unknown::FlightAmbiguous));
        assert_eq!(verdict(&[528, 528]).0, None);
        assert_eq!(verdict(&[528, 528, 528, 528]).0, None);
        assert_eq!(verdict(&[1552, 528]), (Some(true), Some(true)));
        // Any first record paired with records at least as large: undecided.
        for first in [160u16, 300, 528, 1000] {
            assert_eq!(verdict(&[first, first]).0, None, "{first}");
        }
    }

    #[test]
    fn post_handshake_auth_offered_makes_no_undecided() {
        let pha = [ext::POST_HANDSHAKE_AUTH];
        let m = decide(&flight(&[53, 40], 0x1301, &pha));
        assert_eq!(m.mutual, None);
        assert_eq!(m.unknown, Some(Unknown::PostHandshakeAuth));
        assert!(m.inference.is_some(), "the numbers are kept");
        // A certificate in the handshake is still one.
        assert_eq!(decide(&flight(&[900, 40], 0x1301, &pha)).mutual, Some(true));
        // Asked during the handshake and refused: still a no.
        assert_eq!(decide(&flight(&[25, 53], 0x1301, &pha)).mutual, Some(false));
    }

    #[test]
    fn raw_public_keys_lower_the_certificate_threshold() {
        // Certificate with an Ed25519 SPKI (57), CertificateVerify (72) and
        // Finished (36), coalesced: 166 + 1 + 16.
        let raw = [183, 19];
        assert_eq!(verdict(&raw).0, Some(true));
        // 183 without the raw-key offer would also be a certificate; 100 is
        // one only when raw keys are offered.
        assert_eq!(verdict(&[100, 19]).0, Some(false));
        let offered = decide(&flight(&[100, 19], 0x1301, &[ext::CLIENT_CERTIFICATE_TYPE]));
        assert_eq!(offered.mutual, Some(true));
    }

    #[test]
    fn early_data_offered_is_undecided() {
        let m = decide(&flight(&[53, 40], 0x1301, &[ext::EARLY_DATA]));
        assert_eq!(m.mutual, None);
    }

    #[test]
    fn flights_settle_after_enough_records() {
        // One large record: padding not bounded yet; a yes is final.
        assert!(!flight_settled(&flight(&[900], 0x1301, &[])));
        assert!(flight_settled(&flight(&[900, 40], 0x1301, &[])));
        assert!(!flight_settled(&flight(&[528, 528], 0x1301, &[])));
        assert!(flight_settled(&flight(&[528, 528, 528, 528], 0x1301, &[])));
        assert!(!flight_settled(&flight(&[53], 0x1301, &[])));
        assert!(flight_settled(&flight(&[53, 40], 0x1301, &[])));
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
