//! What makes two findings the same finding across runs: the identity that
//! baselines (`--baseline`, `tls-audit diff`) and SARIF's
//! `partialFingerprints` rest on.
//!
//! A finding is the rule, about a subject workload, with a peer workload,
//! at a server port. A workload is the pod's owner (`Deployment`,
//! `StatefulSet`, `DaemonSet`... from `ownerReferences`, the
//! `pod-template-hash` taken off a `ReplicaSet`'s name) in its namespace,
//! with the pod's service account: a redeploy that renames every pod keeps
//! it. Without a pod snapshot an endpoint is its address (a server's
//! `ip:port`, a client's IP), which a redeploy may change; a host-network
//! end is its node.
//!
//! Certificate findings are about the certificate a workload presents,
//! whoever asked, so their peer is left out; and the certificate's digest
//! is left out too, or every rotation (24 hours in a mesh) would make the
//! same problem a new finding. What tells a rule's variants apart stays in
//! (the mTLS basis or reason, the cipher suite, the version, the
//! application protocol). Counts, times, messages, severities, pod names
//! and client ports never enter.

use serde_json::Value;

use super::model::{Finding, Subject};

/// The identity of a finding, as text (fields joined by NUL, which no
/// field holds unescaped). Equal for the same finding in tomorrow's run.
pub fn finding_identity(f: &Finding) -> String {
    let certificate = f
        .evidence
        .get("certificate")
        .and_then(|c| c.get("sha256"))
        .is_some();
    let peer = if certificate {
        String::new()
    } else {
        endpoint_identity(&f.peer)
    };
    [
        f.rule.as_str(),
        f.subject.role.as_str(),
        &endpoint_identity(&f.subject),
        &peer,
        &server_port(f),
        &variant(&f.evidence),
    ]
    .join("\u{0}")
}

/// SHA-256 (hex) of [`finding_identity`].
pub fn fingerprint(f: &Finding) -> String {
    super::metadata::sha256_hex(finding_identity(f).as_bytes())
}

/// How a finding's end is known across runs: `ns/Kind/name sa=SA` for a
/// pod with its workload; `ns/Pod/name sa=SA` for a pod whose owner is not
/// recorded (reports made before workloads were); `node/NAME`; else its
/// address (a client's without its ephemeral port).
pub fn endpoint_identity(s: &Subject) -> String {
    match (&s.pod, &s.node) {
        (Some(p), _) => {
            let (kind, name) = match &p.workload {
                Some(w) => (w.kind.as_str(), w.name.as_str()),
                None => ("Pod", p.name.as_str()),
            };
            format!("{}/{}/{} sa={}", p.namespace, kind, name, p.service_account)
        }
        (None, Some(node)) => format!("node/{node}"),
        (None, None) => s.label(),
    }
}

/// The server's port of the finding's first flow (`ip:port`, IPv6 in
/// brackets); empty when it does not parse.
fn server_port(f: &Finding) -> String {
    f.flow
        .server
        .rsplit_once(':')
        .map(|(_, port)| port.to_string())
        .unwrap_or_default()
}

/// The evidence that tells a rule's variants apart.
fn variant(e: &std::collections::BTreeMap<String, Value>) -> String {
    ["basis", "reason", "cipher_suite", "version", "app_protocol"]
        .iter()
        .find_map(|k| {
            e.get(*k)
                .filter(|v| !v.is_null())
                .map(|v| format!("{k}={v}"))
        })
        .unwrap_or_default()
}
