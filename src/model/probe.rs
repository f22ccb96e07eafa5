//! The `probes[]` section of a report: what `tls-audit probe` learned about
//! each endpoint by asking it. The per-connection facts (version, cipher,
//! chain) are `flows[]` records with `"source": "probe"`, judged by the same
//! rules as captured flows; this section holds what only a prober knows:
//! which versions and weak suites the endpoint *accepts*, its client
//! certificate policy, whether it answers plaintext, and why a probe failed.
//!
//! Every verdict carries the evidence it rests on, as observed (`alert
//! certificate_required`, `HTTP/1.1 200 OK`...): nothing here is inferred
//! from sizes or timing except where `evidence` says `deadline`.

use serde::{Deserialize, Serialize};

/// One endpoint asked.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProbeRecord {
    /// The target as given (`10.0.3.7:8443`, `api.pay.svc:443`, `[fd00::7]:443`).
    pub target: String,
    /// The name sent as SNI (targets given by name), else null.
    pub sni: Option<String>,
    /// The address probed (`ip:port`); null when the name did not resolve.
    pub address: Option<String>,
    /// When the probe started (RFC 3339, microseconds).
    pub started: String,
    /// Wall time of the whole probe, milliseconds.
    pub duration_ms: u64,
    /// Why the endpoint could not be probed at all (connection refused,
    /// timeout, reset, unresolvable name); null when it answered.
    pub error: Option<ProbeError>,
    /// One entry per protocol version tried, highest first.
    pub versions: Vec<VersionProbe>,
    /// Weak cipher-suite families offered alone (TLS 1.2 and below).
    pub weak_suites: Vec<SuiteProbe>,
    /// The server's client-certificate policy.
    pub client_auth: ClientAuth,
    /// Whether the port answers a plaintext request.
    pub plaintext: PlaintextProbe,
    /// The mutual-TLS handshake with the given identity (`--cert/--key`);
    /// null when none was given.
    pub identity: Option<IdentityProbe>,
    /// The key-exchange groups the endpoint accepts in TLS 1.3, asked one
    /// at a time (post-quantum hybrids first); empty when TLS 1.3 was not
    /// accepted or `--no-groups` was given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<GroupProbe>,
    /// The pod whose declared port this is (`kubectl tls-audit pod
    /// --active`); absent for endpoints given by hand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<ProbePod>,
}

impl ProbeRecord {
    /// The protocol versions the endpoint accepted, highest first.
    pub fn accepted_versions(&self) -> Vec<&str> {
        self.versions
            .iter()
            .filter(|v| v.accepted == Some(true))
            .map(|v| v.version.as_str())
            .collect()
    }

    /// The weak suite families it accepted.
    pub fn accepted_weak_suites(&self) -> Vec<&str> {
        self.weak_suites
            .iter()
            .filter(|w| w.accepted == Some(true))
            .map(|w| w.family.as_str())
            .collect()
    }
}

/// Does the endpoint accept one key-exchange group (TLS 1.3)?
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct GroupProbe {
    /// IANA name (`X25519MLKEM768`, `x25519`...).
    pub group: String,
    /// Its code point.
    pub group_id: u16,
    /// ML-KEM, alone or hybrid.
    pub post_quantum: bool,
    /// true: a HelloRetryRequest (or ServerHello) selected it; false: an
    /// alert, a close, or another group; null: no TLS 1.3 answer, or the
    /// connection failed (`detail`).
    pub accepted: Option<bool>,
    /// What the answer was: `hello-retry-request selecting it`, `alert
    /// handshake_failure (40)`, `closed`...
    pub detail: Option<String>,
}

impl ProbeRecord {
    /// The post-quantum groups the endpoint accepted; None when no group
    /// was probed.
    pub fn accepted_pq_groups(&self) -> Option<Vec<&str>> {
        (!self.groups.is_empty()).then(|| {
            self.groups
                .iter()
                .filter(|g| g.post_quantum && g.accepted == Some(true))
                .map(|g| g.group.as_str())
                .collect()
        })
    }
}

/// Where a probed endpoint came from: a pod's declared container port.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProbePod {
    /// The pod's namespace.
    pub namespace: String,
    /// The pod's name.
    pub name: String,
    /// The container that declares the port.
    pub container: String,
    /// The port's name in `spec.containers[].ports[].name`, if it has one.
    pub port_name: Option<String>,
}

/// Why a probe or one of its connections failed, with the exact text.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProbeError {
    /// `refused`, `timeout`, `reset`, `resolve`, `unreachable`, `closed`,
    /// `tls` (a TLS error other than an alert), `too-large`, `io`.
    pub kind: String,
    /// The error as the system or rustls said it.
    pub message: String,
}

/// Did the endpoint accept one protocol version?
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct VersionProbe {
    /// `SSL3.0`, `TLS1.0`, `TLS1.1`, `TLS1.2`, `TLS1.3`.
    pub version: String,
    /// true: the server chose this version; false: it refused (alert, or a
    /// ServerHello for another version); null: the probe failed (`error`).
    pub accepted: Option<bool>,
    /// `handshake` (a full rustls handshake) or `server-hello` (a
    /// hand-built ClientHello, answer read up to the ServerHello).
    pub method: String,
    /// The cipher suite the server chose, when it accepted.
    pub cipher_suite: Option<String>,
    /// What the refusal was: `alert handshake_failure (40)`,
    /// `server-hello TLS1.2`, `closed`...
    pub detail: Option<String>,
    /// Why the probe failed, when `accepted` is null.
    pub error: Option<ProbeError>,
}

/// A family of weak cipher suites offered on its own.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SuiteProbe {
    /// `null`, `export`, `rc4`, `3des`, `cbc`.
    pub family: String,
    /// As in [`VersionProbe::accepted`].
    pub accepted: Option<bool>,
    /// The suite the server chose.
    pub cipher_suite: Option<String>,
    /// The version it chose it with.
    pub version: Option<String>,
    /// The refusal, as in [`VersionProbe::detail`].
    pub detail: Option<String>,
}

/// The client-certificate policy, and what it rests on.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ClientAuth {
    /// `none` (no CertificateRequest), `optional` (requested, and the
    /// connection went on without one), `required` (requested, and the
    /// server refused to go on without one), `unknown`.
    pub policy: String,
    /// `no-certificate-request`; `completed-without-certificate`
    /// (TLS 1.2: the server sent its Finished) or
    /// `no-alert-before-deadline` (TLS 1.3: no alert within the wait after
    /// the handshake; weaker); `alert <name> (<n>)` (the refusal);
    /// `no-tls-handshake` (nothing to judge).
    pub evidence: String,
    /// The version whose handshake decided it.
    pub version: Option<String>,
    /// Acceptable CA names from the CertificateRequest (RFC 4514).
    pub ca_names: Vec<String>,
    /// Signature schemes from the CertificateRequest.
    pub signature_schemes: Vec<String>,
}

/// The answer to a plaintext request.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct PlaintextProbe {
    /// true: a non-TLS answer (HTTP or another protocol); false: a TLS
    /// alert, a close, or the HTTPS-port refusal of nginx-style servers;
    /// null: no answer before the deadline, or the probe failed.
    pub accepted: Option<bool>,
    /// What was sent last: `http/1.1` or `h2` (the HTTP/2 preface).
    pub request: Option<String>,
    /// The protocol of the answer, where named (`http/1.1`, `h2`, `redis`...).
    pub protocol: Option<String>,
    /// The first line of the answer (printable ASCII, at most 120
    /// characters), or `tls-alert`, `tls-record` (another TLS record),
    /// `closed`, `deadline`.
    pub evidence: String,
}

/// The mutual-TLS handshake with the given client certificate.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct IdentityProbe {
    /// true: the server accepted it (TLS 1.2: Finished received; TLS 1.3:
    /// no alert within the wait); false: it refused with an alert.
    pub accepted: Option<bool>,
    /// The version used.
    pub version: Option<String>,
    /// The alert or error, if any.
    pub detail: Option<String>,
    /// Why it failed, when `accepted` is null.
    pub error: Option<ProbeError>,
}
