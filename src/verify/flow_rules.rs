//! Rules about a flow as a whole: is it encrypted, is it mutual, which
//! version and cipher suite did it negotiate. Their findings are about the
//! server (it decides what it accepts), counted per client address.

use serde_json::{Value, json};

use super::cipher;
use super::collect::{Candidate, Key, PendingPlaintext};
use super::policy::{MtlsEvidence, version_rank};
use super::rules::{self, Rule};
use super::selector::OwnedContext;
use super::underlay::PendingEnd;
use super::verifier::{Seen, Verifier, evidence};
use crate::model::report::{FlowSource, FlowTls, MutualInference, Severity};

/// Findings with the certificate they are about (none for flow rules).
pub(super) type Found = Vec<(Candidate, Option<String>)>;

/// Run the flow rules on one flow.
pub(super) fn check(v: &mut Verifier, seen: &Seen<'_>, out: &mut Found) {
    let rec = seen.rec;
    let probe = rec.source == FlowSource::Probe;
    match rec.protection.as_str() {
        // The probe's own plaintext request was answered.
        "plaintext" | "unknown" if probe && rec.bytes > 0 => {
            cleartext(v, seen, &rules::PLAINTEXT_ACCEPTED, out);
        }
        "plaintext" if rec.bytes > 0 => cleartext(v, seen, &rules::PLAINTEXT, out),
        "unknown" if rec.bytes > 0 => cleartext(v, seen, &rules::ENCRYPTION_UNKNOWN, out),
        "tls" => {
            mutual(v, seen, out);
            if let Some(tls) = rec.tls.as_deref() {
                version(v, seen, tls, out);
                cipher_suite(v, seen, tls, out);
                super::kex_rules::check(v, seen, tls, out);
            }
        }
        _ => {}
    }
}

/// Record a finding about the server of `seen`, unless the same finding
/// (rule, server, client address, `kind`) is already counted: then only its
/// count moves, and `make` (message, evidence) is never run.
pub(super) fn emit(
    v: &mut Verifier,
    seen: &Seen<'_>,
    rule: &'static Rule,
    severity: Severity,
    kind: &str,
    out: &mut Found,
    make: impl FnOnce() -> (String, Value),
) -> bool {
    let (server, client) = (&seen.server.endpoint, &seen.client.endpoint);
    let key = Key::flow(rule.id, server, client, kind.to_string());
    if v.collector.bump(&key, &seen.origin) {
        return false;
    }
    let (message, ev) = make();
    let mut c = seen.about_server(rule, format!("{message}: {}", seen.path()), key);
    c.severity = severity;
    c.evidence = evidence(ev);
    out.push((c, None));
    true
}

fn cleartext(v: &mut Verifier, seen: &Seen<'_>, rule: &'static Rule, out: &mut Found) {
    let ctx = seen.context();
    if v.collector.exempt(rule, &v.policy.plaintext.exempt, &ctx) {
        return;
    }
    let rec = seen.rec;
    let app = rec.app_protocol.as_deref();
    let new = emit(v, seen, rule, rule.severity, app.unwrap_or(""), out, || {
        let message = match (rule.id, app) {
            ("TA-PLAINTEXT", Some(p)) => format!("{p} in cleartext"),
            ("TA-PLAINTEXT", None) => "cleartext".to_string(),
            ("TA-PLAINTEXT-ACCEPTED", Some(p)) => format!("answers a plaintext request ({p})"),
            ("TA-PLAINTEXT-ACCEPTED", None) => {
                "answers a plaintext request (protocol not named)".to_string()
            }
            _ => format!(
                "{} bytes neither TLS nor a known cleartext protocol",
                rec.bytes
            ),
        };
        let mut ev = json!({
            "protection": rec.protection,
            "app_protocol": app,
            "transport": rec.transport,
            "payload_bytes": rec.bytes,
            "packets": rec.packets,
        });
        if rec.source == FlowSource::Probe {
            ev["source"] = json!("probe");
        }
        (message, ev)
    });
    // Whether something under it still encrypts a cleartext flow is decided
    // when the report is finished (see `underlay`).
    if new
        && rule.id == rules::PLAINTEXT.id
        && let (Some(client), Some(server), Some((c, _))) = (
            PendingEnd::of(&seen.client),
            PendingEnd::of(&seen.server),
            out.last_mut(),
        )
    {
        c.underlay = Some(Box::new(PendingPlaintext {
            client,
            server,
            context: OwnedContext::of(&ctx),
        }));
    }
}

/// TA-NO-MTLS and its kin, where the inventory asks for mutual TLS.
fn mutual(v: &mut Verifier, seen: &Seen<'_>, out: &mut Found) {
    let probe = seen.rec.source == FlowSource::Probe;
    // A probe connection read only up to the ServerHello (legacy versions,
    // weak suites) says nothing about client certificates; the full
    // handshakes to the same server do.
    if probe && seen.rec.tls.as_deref().is_none_or(|t| t.mutual.is_none()) {
        return;
    }
    match v.mtls_required(seen) {
        Some(true) => {}
        Some(false) => return,
        None => {
            v.collector.not_checked(&rules::NO_MTLS, "no-inventory");
            return;
        }
    }
    let Some(tls) = seen.rec.tls.as_deref() else {
        handshake_not_parsed(v, seen, out);
        return;
    };
    // A "yes" resting on the size inference, when the policy asks for
    // observed evidence, is as good as undecided.
    let inferred_only = v.policy.mtls.evidence == MtlsEvidence::Observed
        && tls.mutual_evidence.as_deref() == Some("encrypted-flight-size");
    match tls.mutual {
        Some(true) if !inferred_only => {}
        Some(false) => no_client_certificate(v, seen, tls, out),
        Some(true) | None => client_certificate_unknown(v, seen, tls, inferred_only, out),
    }
}

/// DTLS and QUIC are recognised, not parsed: TA-MTLS-UNKNOWN.
fn handshake_not_parsed(v: &mut Verifier, seen: &Seen<'_>, out: &mut Found) {
    let unknown = &rules::MTLS_UNKNOWN;
    let app = seen.rec.app_protocol.clone().unwrap_or_default();
    emit(
        v,
        seen,
        unknown,
        unknown.severity,
        "not-parsed",
        out,
        || {
            let ev = json!({"reason": "not-parsed", "app_protocol": app});
            (format!("{app} handshake not parsed"), ev)
        },
    );
}

/// No client certificate (observed, or inferred from the flight's size):
/// TA-NO-MTLS, or TA-MTLS-OPTIONAL when the probe saw the server ask for
/// one and go on without it.
fn no_client_certificate(v: &mut Verifier, seen: &Seen<'_>, tls: &FlowTls, out: &mut Found) {
    let probe = seen.rec.source == FlowSource::Probe;
    let basis = tls.mutual_evidence.as_deref().unwrap_or("");
    let rule = if probe && tls.client_cert_requested == Some(true) {
        &rules::MTLS_OPTIONAL
    } else {
        &rules::NO_MTLS
    };
    emit(v, seen, rule, rule.severity, basis, out, || {
        let inferred = basis == "encrypted-flight-size";
        let how = if inferred {
            "inferred from the size of the client's encrypted flight"
        } else if rule.id == rules::MTLS_OPTIONAL.id {
            "requested but not required: the server accepted the probe without one"
        } else if probe {
            "the server accepted the probe without one"
        } else {
            "observed"
        };
        let ev = json!({
            "mutual": false,
            "basis": tls.mutual_evidence,
            "inferred": inferred,
            "inference": inference(tls),
            "client_cert_requested": tls.client_cert_requested,
            "version": tls.version,
        });
        (format!("no client certificate ({how})"), ev)
    });
}

/// Whether the client sent a certificate is undecided, or only inferred
/// where the policy asks for observed evidence: TA-MTLS-UNKNOWN.
fn client_certificate_unknown(
    v: &mut Verifier,
    seen: &Seen<'_>,
    tls: &FlowTls,
    inferred_only: bool,
    out: &mut Found,
) {
    let unknown = &rules::MTLS_UNKNOWN;
    let reason = if inferred_only {
        "inferred-only"
    } else {
        tls.mutual_unknown_reason.as_deref().unwrap_or("")
    };
    // Reasons the client controls (padding every record, offering
    // post-handshake authentication, padding only its handshake) must not
    // turn a missing certificate into a lesser finding: they take
    // TA-NO-MTLS's severity.
    let severity = if CLIENT_CONTROLLED.contains(&reason) {
        rules::NO_MTLS.severity
    } else {
        unknown.severity
    };
    emit(v, seen, unknown, severity, reason, out, || {
        let ev = json!({
            "reason": reason,
            "inference": inference(tls),
            "version": tls.version,
            "handshake_seen": tls.handshake_seen,
            "resumed": tls.resumed,
        });
        let msg = if inferred_only {
            "a client certificate is only inferred from record sizes; the policy asks for observed evidence".to_string()
        } else {
            format!("cannot tell whether the client sent a certificate ({reason})")
        };
        (msg, ev)
    });
}

/// TA-MTLS-UNKNOWN reasons that a client can bring about at will.
const CLIENT_CONTROLLED: [&str; 3] = ["flight-ambiguous", "post-handshake-auth", "inferred-only"];

fn inference(tls: &FlowTls) -> Value {
    match &tls.mutual_inference {
        Some(MutualInference::FlightSize(f)) => serde_json::to_value(f).unwrap_or_default(),
        Some(MutualInference::Resumed(r)) => serde_json::to_value(r).unwrap_or_default(),
        None => Value::Null,
    }
}

fn version(v: &mut Verifier, seen: &Seen<'_>, tls: &FlowTls, out: &mut Found) {
    let Some(name) = tls.version.as_deref() else {
        v.collector
            .not_checked(&rules::TLS_VERSION, "handshake-not-seen");
        return;
    };
    let Some(rank) = version_rank(name) else {
        v.collector
            .not_checked(&rules::TLS_VERSION, "unknown-version");
        return;
    };
    let tls_policy = v.policy.tls.clone();
    let severity = match rank {
        r if r < v.policy.min_version_rank() && r <= 1 => Severity::Critical,
        r if r < v.policy.min_version_rank() => Severity::High,
        4 if tls_policy.require_tls13 => Severity::Low,
        _ => return,
    };
    emit(v, seen, &rules::TLS_VERSION, severity, name, out, || {
        let required = if tls_policy.require_tls13 {
            ", TLS 1.3 required"
        } else {
            ""
        };
        let ev = json!({
            "version": name,
            "versions_offered": tls.versions_offered,
            "min_version": tls_policy.min_version,
            "require_tls13": tls_policy.require_tls13,
        });
        let msg = format!(
            "{name} negotiated (policy minimum {}{required})",
            tls_policy.min_version
        );
        (msg, ev)
    });
}

fn cipher_suite(v: &mut Verifier, seen: &Seen<'_>, tls: &FlowTls, out: &mut Found) {
    let Some(name) = tls.cipher_suite.as_deref() else {
        return;
    };
    let weak = cipher::weaknesses(name);
    let Some(worst) = weak.iter().map(|w| w.severity).max() else {
        return;
    };
    emit(v, seen, &rules::WEAK_CIPHER, worst, name, out, || {
        let ids: Vec<&str> = weak.iter().map(|w| w.id).collect();
        let ev = json!({
            "cipher_suite": name,
            "version": tls.version,
            "weaknesses": weak
                .iter()
                .map(|w| json!({"id": w.id, "severity": w.severity, "why": w.why}))
                .collect::<Vec<_>>(),
        });
        (format!("{name} ({})", ids.join(", ")), ev)
    });
}
