//! The `tls-audit/report/v1` model. Field names are a public contract:
//! pipelines script against them, so rename nothing; add fields instead.
//! The JSON Schema in `reports/report-v1.schema.json` describes the same.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use super::Name;
pub use super::finding::{
    AppliedWaiver, BaselineState, BaselineSummary, Exempted, Finding, InventorySource, NotChecked,
    PodRef, PolicySource, Severity, Subject, TrustBundleSource, Verification, WaiverStatus,
    WorkloadRef, gate, gate_failures,
};
pub use super::key_exchange::KeyExchangeRecord;
pub use super::kinds::{Gate, Protection, RoleSource, Transport};
pub use super::probe::{
    ClientAuth, GroupProbe, IdentityProbe, PlaintextProbe, ProbeError, ProbePod, ProbeRecord,
    SuiteProbe, VersionProbe,
};
use crate::x509::Certificate;

/// The schema identifier written in every report.
pub const SCHEMA: &str = "tls-audit/report/v1";

/// A whole report.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Report {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// The tool that wrote it.
    pub tool: Tool,
    /// The audit trail: capture windows, cluster and namespaces, policy and
    /// waivers in force, and for a re-rendered report the digest of the
    /// JSON it came from. Absent in reports written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<super::metadata::Metadata>,
    /// The captures read.
    pub inputs: Vec<Input>,
    /// Totals.
    pub stats: Stats,
    /// Things a reader should know about the completeness of the analysis.
    pub warnings: Vec<Warning>,
    /// What verification ran with and could not check; null when the
    /// report holds facts only (library use without a policy).
    #[serde(default)]
    pub verification: Option<Verification>,
    /// Findings, most severe first.
    #[serde(default)]
    pub findings: Vec<Finding>,
    /// Compliance views (`--compliance`): control, status, evidence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compliance: Option<super::compliance::Compliance>,
    /// The cryptographic inventory (`report::inventory`): configurations in
    /// use and certificates seen, counted and located. Written by the
    /// command line's reports; absent from library reports unless built.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory: Option<super::inventory::CryptoInventory>,
    /// What `tls-audit probe` learned about each endpoint it asked; absent
    /// from reports of captures. (Before `flows`: the streamed JSON writer
    /// needs `flows` last.)
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub probes: Vec<ProbeRecord>,
    /// Identity enrichment (`--enrich probe`): every endpoint asked and
    /// what came back. Absent without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrichment: Option<super::enrichment::EnrichmentRecord>,
    /// One entry per flow, in order of first packet.
    pub flows: Vec<FlowRecord>,
}

impl Report {
    /// A report by this tool with nothing in it yet: no input, no flow, no
    /// verification. Every report starts here.
    pub fn empty() -> Report {
        Report {
            schema: SCHEMA.to_string(),
            tool: Tool {
                name: "tls-audit".into(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
            metadata: None,
            inputs: Vec::new(),
            stats: Stats::default(),
            warnings: Vec::new(),
            verification: None,
            findings: Vec::new(),
            compliance: None,
            inventory: None,
            probes: Vec::new(),
            enrichment: None,
            flows: Vec::new(),
        }
    }
}

/// Tool identification.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Tool {
    /// `tls-audit`.
    pub name: String,
    /// The crate version.
    pub version: String,
}

/// One capture read.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Input {
    /// The path as given (`<stdin>` for `-`).
    pub name: String,
    /// `pcap` or `pcapng`; `live` for a live capture; `events` for a
    /// saved event stream.
    pub format: String,
    /// Packets read from it.
    pub packets: u64,
    /// false when the file was damaged or truncated and reading stopped early.
    pub complete: bool,
    /// For a live capture: the interface and what libpcap counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live: Option<LiveCapture>,
    /// Time of its first packet (RFC 3339, microseconds); absent when it
    /// held none, or in reports written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_packet: Option<String>,
    /// Time of its last packet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_packet: Option<String>,
    /// The event stream (file, `<stdin>`, or pod log) that reported this
    /// input: its packets were seen by an agent, not by this process, and
    /// its counts and facts are the agent's word. Absent for what this
    /// process observed itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reported_by: Option<String>,
}

/// A live capture: where, how long, and what libpcap saw and lost.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LiveCapture {
    /// The interface (`eth0`, `any`).
    pub interface: String,
    /// The link type libpcap delivered (`ethernet`, `linux-sll2`...).
    pub link_type: String,
    /// The BPF filter, if one was set.
    pub filter: Option<String>,
    /// Bytes kept per packet.
    pub snaplen: u32,
    /// When the capture started and ended (RFC 3339).
    pub started: String,
    /// When it ended.
    pub ended: String,
    /// `duration`, `signal` or `error`.
    pub stopped_by: String,
    /// Packets libpcap received (after the filter).
    pub received: u64,
    /// Packets dropped because the capture buffer was full.
    pub dropped: u64,
    /// Packets the interface or driver dropped.
    pub if_dropped: u64,
    /// With `--workers` above 1: the kernel's fanout group that spread the
    /// packets over one capture socket per worker, and each worker's share
    /// (the counters above are their sums). Absent with one socket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fanout: Option<Fanout>,
}

/// Packets spread over several capture sockets by the kernel
/// (`PACKET_FANOUT` in hash mode: both directions of a flow reach one socket).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Fanout {
    /// `hash` (the flow hash, with IP fragments reassembled first).
    pub mode: String,
    /// The group id the kernel gave the sockets.
    pub group: u16,
    /// Each worker's counters, in worker order.
    pub workers: Vec<FanoutWorker>,
}

/// One fanout worker's share.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FanoutWorker {
    /// Packets its socket received.
    pub received: u64,
    /// Packets its ring had no room for.
    pub dropped: u64,
    /// Packets the interface dropped, as its socket saw them.
    pub if_dropped: u64,
    /// Packets its engine analysed.
    pub packets: u64,
    /// Flows it finished.
    pub flows: u64,
}

impl Stats {
    /// Count one finished flow: in all, as TLS, as mutual TLS.
    pub fn count_flow(&mut self, f: &FlowRecord) {
        self.flows += 1;
        if f.protection == Protection::Tls {
            self.tls_flows += 1;
        }
        if f.tls.as_ref().is_some_and(|t| t.mutual == Some(true)) {
            self.mutual_tls_flows += 1;
        }
    }

    /// Add another analysis's totals (several event streams in one report).
    pub fn absorb(&mut self, o: &Stats) {
        self.packets = self.packets.saturating_add(o.packets);
        self.bytes = self.bytes.saturating_add(o.bytes);
        self.flows = self.flows.saturating_add(o.flows);
        self.tls_flows = self.tls_flows.saturating_add(o.tls_flows);
        self.mutual_tls_flows = self.mutual_tls_flows.saturating_add(o.mutual_tls_flows);
        self.evicted_flows = self.evicted_flows.saturating_add(o.evicted_flows);
        self.buffer_budget_flows = self
            .buffer_budget_flows
            .saturating_add(o.buffer_budget_flows);
        self.packets_after_close = self
            .packets_after_close
            .saturating_add(o.packets_after_close);
        self.truncated_packets = self.truncated_packets.saturating_add(o.truncated_packets);
        for (k, v) in &o.decode_errors {
            let e = self.decode_errors.entry(k.clone()).or_default();
            *e = e.saturating_add(*v);
        }
        for (k, v) in &o.tunnelled_packets {
            let e = self.tunnelled_packets.entry(k.clone()).or_default();
            *e = e.saturating_add(*v);
        }
        self.ip_fragments_reassembled = self
            .ip_fragments_reassembled
            .saturating_add(o.ip_fragments_reassembled);
        self.ip_fragments_dropped = self
            .ip_fragments_dropped
            .saturating_add(o.ip_fragments_dropped);
        self.other_ip_packets = self.other_ip_packets.saturating_add(o.other_ip_packets);
    }
}

/// Totals over the whole analysis.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Stats {
    /// Packets read.
    pub packets: u64,
    /// Bytes captured (frame lengths on the wire).
    pub bytes: u64,
    /// Flows reported.
    pub flows: u64,
    /// Flows with `protection == crate::model::Protection::Tls`.
    pub tls_flows: u64,
    /// Flows whose handshake was seen and that used a client certificate.
    pub mutual_tls_flows: u64,
    /// Flows evicted from a full flow table before they ended.
    pub evicted_flows: u64,
    /// Flows finished early because the flows' buffers together exceeded
    /// the memory budget (`--buffer-budget-mib`).
    #[serde(default)]
    pub buffer_budget_flows: u64,
    /// Packets that arrived after their TCP connection closed (the last
    /// ACK, retransmitted FINs): counted here, not in any flow.
    pub packets_after_close: u64,
    /// Packets cut short by the capture's snap length.
    pub truncated_packets: u64,
    /// Packets that could not be decoded, by reason.
    pub decode_errors: BTreeMap<String, u64>,
    /// Packets found inside tunnels, by tunnel kind.
    pub tunnelled_packets: BTreeMap<String, u64>,
    /// IPv4 datagrams reassembled from fragments.
    pub ip_fragments_reassembled: u64,
    /// IPv4 datagrams whose fragments never all arrived.
    pub ip_fragments_dropped: u64,
    /// IP packets of protocols other than TCP, UDP and ESP (ICMP, ...), counted only.
    pub other_ip_packets: u64,
}

/// A warning with a stable kind.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Warning {
    /// Stable identifier, e.g. `damaged-capture`, `snaplen`, `flow-table-full`.
    pub kind: super::WarningKind,
    /// For people.
    pub message: String,
}

/// One endpoint.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Endpoint {
    /// IP address.
    pub ip: String,
    /// Port (0 for protocols without ports).
    pub port: u16,
    /// The pod at this address when the flow was captured (with `--pods`);
    /// absent when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<PodRef>,
    /// The node, when the address is a node's (with `--nodes`); absent when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// The Service (`namespace/name`), when the address is a Service's
    /// virtual IP (`kubectl tls-audit pod` lists them); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
}

/// Where a flow record comes from.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum FlowSource {
    /// Seen in a capture (the default; not written).
    #[default]
    Capture,
    /// A connection `tls-audit probe` made itself.
    Probe,
}

/// `ip:port` as reports spell an endpoint: an address as `SocketAddr`
/// writes it (IPv6 in brackets); text that is not an address, as given,
/// bracketed when it holds a colon.
pub fn socket_text(ip: &str, port: u16) -> String {
    match ip.parse::<std::net::IpAddr>() {
        Ok(addr) => socket_addr_text(std::net::SocketAddr::new(addr, port)),
        Err(_) if ip.contains(':') => format!("[{ip}]:{port}"),
        Err(_) => format!("{ip}:{port}"),
    }
}

/// An address as `IpAddr` writes it (`Endpoint::ip`); IPv4 without the
/// formatter, which costs several times more for every flow's two ends.
pub fn ip_text(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V4(v4) => {
            let mut text = String::with_capacity(15);
            push_ipv4(&mut text, v4);
            text
        }
        std::net::IpAddr::V6(_) => ip.to_string(),
    }
}

/// `ip:port` as `SocketAddr` writes it; IPv4 without the formatter.
pub fn socket_addr_text(addr: std::net::SocketAddr) -> String {
    match addr {
        std::net::SocketAddr::V4(v4) => {
            let mut text = String::with_capacity(21);
            push_ipv4(&mut text, *v4.ip());
            text.push(':');
            push_decimal(&mut text, v4.port());
            text
        }
        std::net::SocketAddr::V6(_) => addr.to_string(),
    }
}

fn push_ipv4(text: &mut String, ip: std::net::Ipv4Addr) {
    for (i, octet) in ip.octets().into_iter().enumerate() {
        if i > 0 {
            text.push('.');
        }
        push_decimal(text, octet.into());
    }
}

/// `n` in decimal, as `Display` writes it.
fn push_decimal(text: &mut String, n: u16) {
    let mut digits = [b'0'; 5];
    let mut used = 0;
    let mut rest = n;
    for d in digits.iter_mut().rev() {
        *d = b'0' + (rest % 10) as u8;
        rest /= 10;
        used += 1;
        if rest == 0 {
            break;
        }
    }
    let digits = digits.get(digits.len() - used..).unwrap_or_default();
    text.push_str(std::str::from_utf8(digits).unwrap_or_default());
}

impl Endpoint {
    /// `ip:port` ([`socket_text`]).
    pub fn socket(&self) -> String {
        socket_text(&self.ip, self.port)
    }
}

impl FlowSource {
    /// Records from captures do not write the field.
    pub fn is_capture(&self) -> bool {
        *self == FlowSource::Capture
    }
}

/// One flow.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FlowRecord {
    /// `capture` (absent) or `probe`: a connection tls-audit made itself,
    /// whose `client` is tls-audit.
    #[serde(default, skip_serializing_if = "FlowSource::is_capture")]
    pub source: FlowSource,
    /// `tcp`, `udp`, `esp` or `ip`.
    pub transport: Transport,
    /// The side that opened the connection.
    pub client: Endpoint,
    /// The side that accepted it.
    pub server: Endpoint,
    /// How client and server were told apart: `syn`, `client-hello`, `port`;
    /// `probe` for probe records.
    pub role_source: RoleSource,
    /// First packet (RFC 3339, microseconds).
    pub first_seen: super::time::CaptureTime,
    /// Last packet.
    pub last_seen: super::time::CaptureTime,
    /// Packets in both directions.
    pub packets: u64,
    /// Transport payload bytes in both directions.
    pub bytes: u64,
    /// `tls`; `plaintext` (a cleartext protocol tls-audit can name);
    /// `ssh`; `ipsec`, `wireguard`, `overlay`; or `unknown` (payload that is
    /// neither TLS nor a protocol tls-audit can name: encryption unproven).
    pub protection: Protection,
    /// The application protocol, where named (`http/1.1`, `postgres`, `smtp`, `vxlan`...).
    pub app_protocol: Option<Name>,
    /// TLS facts; null for flows that are not TLS over TCP (DTLS and QUIC
    /// are recognised by `app_protocol`, not parsed).
    pub tls: Option<Box<FlowTls>>,
    /// TCP observations; null for other transports.
    pub tcp: Option<TcpRecord>,
    /// Encapsulation the flow was found inside (`vxlan`, `geneve`), if any.
    pub inside: Option<Name>,
    /// Why the flow record ended early, if it did: `evicted` (table full);
    /// `stream-ended` (rebuilt from an event stream cut before the flow ended);
    /// `buffer-budget` (finished early: the flows' buffers exceeded the budget).
    pub ended_by: Option<Name>,
    /// A packet of this flow was cut by the snap length.
    pub truncated: bool,
}

/// What TCP looked like.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TcpRecord {
    /// The SYN of the connection was captured.
    pub syn_seen: bool,
    /// FIN seen from client / server.
    pub fin_seen: bool,
    /// RST seen.
    pub rst_seen: bool,
    /// Holes the capture never filled (client→server, server→client).
    pub gaps: [u32; 2],
    /// Retransmitted segments (client→server, server→client).
    pub retransmissions: [u32; 2],
    /// Segments that arrived out of order.
    pub out_of_order: [u32; 2],
}

/// A TLS record's old name: it was never a TLS record (the wire unit of
/// `tls::record`) but a flow's `tls` object.
#[deprecated(note = "renamed FlowTls: a flow's `tls` object, not a TLS record")]
pub type TlsRecord = FlowTls;

/// The TLS facts of a flow: its report's `tls` object (named for the flow,
/// not "record": a TLS record is the wire unit `tls::record` frames). The
/// model's other `…Record` types are entries of the report.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FlowTls {
    /// A ClientHello or ServerHello was captured.
    pub handshake_seen: bool,
    /// Negotiated version: `SSL3.0`, `TLS1.0`, `TLS1.1`, `TLS1.2`, `TLS1.3` (drafts: `TLS1.3-draft-NN`).
    pub version: Option<Name>,
    /// IANA cipher-suite name.
    pub cipher_suite: Option<Name>,
    /// server_name from the ClientHello.
    pub sni: Option<String>,
    /// ALPN protocols offered by the client.
    pub alpn_offered: Vec<String>,
    /// ALPN protocol chosen by the server (null in TLS 1.3: it is encrypted).
    pub alpn: Option<String>,
    /// An abbreviated (session-id/ticket) or PSK handshake; null if unknown.
    pub resumed: Option<bool>,
    /// The server asked for a client certificate; null if unknown.
    pub client_cert_requested: Option<bool>,
    /// A client certificate authenticated the client; null if it cannot be decided.
    pub mutual: Option<bool>,
    /// What `mutual` rests on: `observed-client-certificate`, `observed-empty-client-certificate`,
    /// `observed-no-client-certificate`, `observed-no-certificate-request`,
    /// `resumed-session` (inherited from the full handshake it resumes),
    /// `probe-accepted-without-certificate`, `probe-refused-without-certificate`
    /// and `probe-client-certificate-accepted` (probe records: what the server
    /// did with tls-audit's connection),
    /// `encrypted-flight-size` (an inference), `keylog-decrypted` (read from the
    /// TLS 1.3 handshake decrypted with a key log).
    pub mutual_evidence: Option<Name>,
    /// Why `mutual` is null: `handshake-not-seen`, `handshake-incomplete`, `resumed`, `agent-unbacked`,
    /// `no-client-flight`, `flight-ambiguous`, `post-handshake-auth`.
    pub mutual_unknown_reason: Option<Name>,
    /// The numbers an inference used: record lengths and the rule for
    /// `encrypted-flight-size`, the original handshake for `resumed-session`.
    pub mutual_inference: Option<MutualInference>,
    /// The server's certificates, leaf first, as sent. Shared between the
    /// flows that sent the same certificate.
    #[serde(serialize_with = "super::json_memo::serialize_chain")]
    pub server_chain: Vec<Arc<Certificate>>,
    /// The client's certificates, leaf first, as sent.
    #[serde(serialize_with = "super::json_memo::serialize_chain")]
    pub client_chain: Vec<Arc<Certificate>>,
    /// The certificates were not visible (TLS 1.3 encrypts them).
    pub certificates_encrypted: bool,
    /// Certificates sent in the clear that tls-audit did not read, and why:
    /// `reassembly-cap` (the Certificate message did not fit in
    /// `--stream-cap`), `certificate-too-large` (larger than tls-audit
    /// reassembles), `certificate-compressed` (RFC 8879),
    /// `no-certificate-bytes` (an agent's event stream named certificates
    /// without carrying them). The certificate
    /// rules did not run on this flow (TA-CERT-UNCHECKED says so).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificates_unread: Option<Name>,
    /// JA4 fingerprint of the ClientHello.
    pub ja4: Option<String>,
    /// Versions the client offered (supported_versions, else its legacy version).
    pub versions_offered: Vec<Name>,
    /// A HelloRetryRequest was sent.
    pub hello_retry_request: bool,
    /// Cleartext preceded TLS on this connection (STARTTLS, SSLRequest, CONNECT...).
    pub starttls: bool,
    /// Alerts seen in cleartext.
    pub alerts: Vec<AlertRecord>,
    /// The record-layer version of the first record, for flows seen mid-stream.
    pub record_version: Option<Name>,
    /// Notes on partial analysis (oversized messages, compressed certificates...).
    pub notes: Vec<String>,
    /// TLS 1.3 handshake decryption with a key log (`--keylog`, pcapng
    /// secrets blocks); null when no key log was given or the flow is not
    /// TLS 1.3.
    #[serde(default)]
    pub decryption: Option<DecryptionRecord>,
    /// Identities obtained outside the capture (`--enrich probe`): how
    /// `server_chain` was obtained when the handshake hid it, and the
    /// client's inferred identity. Absent without enrichment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrichment: Option<Box<super::enrichment::TlsEnrichment>>,
    /// How the session keys were made (group, forward secrecy, post-quantum);
    /// null in reports written before it existed.
    #[serde(default)]
    #[serde(serialize_with = "super::json_memo::serialize_key_exchange")]
    pub key_exchange: Option<KeyExchangeRecord>,
}

/// How a TLS 1.3 handshake was decrypted.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DecryptionRecord {
    /// `decrypted` (both sides' flights read to their Finished),
    /// `partial` (one side only, or the capture ends first),
    /// `no-matching-keys` (the key log has no secrets for this client random),
    /// `unsupported-draft` (a TLS 1.3 draft before 18: another key
    /// schedule; drafts 18-24 are decrypted),
    /// `unsupported-suite` (TLS_AES_128_CCM_*),
    /// `authentication-failed` (the keys do not open the records: wrong
    /// keys, or changed bytes; evidence, not an error).
    pub status: String,
    /// Which side's records failed to open, for `authentication-failed`.
    pub failed_side: Option<String>,
    /// Handshake messages decrypted from the client and from the server.
    pub messages: [u32; 2],
    /// Client records skipped as 0-RTT early data.
    pub early_data_records_skipped: u32,
}

/// What a `mutual` verdict that is not a direct observation rests on.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum MutualInference {
    /// TLS 1.3 encrypted flight sizes.
    FlightSize(super::inference::FlightInference),
    /// Inherited from an earlier full handshake.
    Resumed(ResumedFrom),
}

/// The full handshake a resumed session was matched to.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ResumedFrom {
    /// `session-ticket` or `session-id`.
    pub matched_by: String,
    /// The original flow.
    pub resumed_from: OriginFlow,
}

/// Identifies a flow in the same report.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OriginFlow {
    /// `ip:port` of the client.
    pub client: String,
    /// `ip:port` of the server.
    pub server: String,
    /// Its first packet.
    pub first_seen: super::time::CaptureTime,
}

/// A TLS alert.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AlertRecord {
    /// `client`, `server` or null if roles were unknown.
    pub from: Option<Name>,
    /// `warning` or `fatal`.
    pub level: Name,
    /// AlertDescription number (RFC 8446 §6).
    pub description: u8,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

    /// The formatter-free text is `Display`'s, for every octet and port
    /// width, and IPv6 is `Display`'s own.
    #[test]
    fn address_text_is_displays() {
        let ports = [0u16, 9, 10, 99, 100, 999, 1000, 9999, 10000, 65535, 443];
        for a in [0u8, 1, 9, 10, 99, 100, 199, 255] {
            for b in [0u8, 7, 42, 250] {
                let ip = IpAddr::V4(Ipv4Addr::new(a, b, 255 - a, b / 3));
                assert_eq!(ip_text(ip), ip.to_string());
                for port in ports {
                    let s = SocketAddr::new(ip, port);
                    assert_eq!(socket_addr_text(s), s.to_string());
                    assert_eq!(socket_text(&ip.to_string(), port), s.to_string());
                }
            }
        }
        let v6 = IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1));
        assert_eq!(ip_text(v6), "fd00::1");
        assert_eq!(socket_addr_text(SocketAddr::new(v6, 443)), "[fd00::1]:443");
        assert_eq!(socket_text("not an address", 1), "not an address:1");
    }
}
