//! The numbers behind an inferred verdict, as reported (decided in
//! `tls::mtls`).

use serde::{Deserialize, Serialize};

/// The numbers a TLS 1.3 inference used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlightInference {
    /// Length of the client's first encrypted record after the ServerHello.
    pub client_first_record_len: u16,
    /// What a record holding only Finished would measure for this suite.
    pub finished_record_len: u16,
    /// What a record holding only an empty Certificate would measure.
    pub empty_certificate_record_len: u16,
    /// The smallest record that could carry a Certificate message with a
    /// certificate (or raw public key) in it, unpadded.
    pub certificate_record_min_len: u16,
    /// The most padding the client's own records allow on each record
    /// (its smallest record, less a one-byte content and the inner type and
    /// tag); None when the flight is too small for padding to matter.
    pub max_padding: Option<u16>,
    /// Lengths of the client's encrypted records, in order.
    pub client_records: Vec<u16>,
    /// Lengths of the server's encrypted records before the client's flight.
    pub server_records: Vec<u16>,
    /// The rule that matched, in words.
    pub rule: super::Name,
}
