//! Rules about a flow as a whole: is it encrypted, is it mutual, which
//! version and cipher suite did it negotiate.

use serde_json::json;

use super::cipher;
use super::collect::Candidate;
use super::policy::version_rank;
use super::rules;
use super::verifier::{Seen, Verifier, evidence};
use crate::report::model::{MutualInference, Severity, TlsRecord};

/// Findings with the certificate they are about (none for flow rules).
pub(super) type Found = Vec<(Candidate, Option<String>)>;

/// Run the flow rules on one flow.
pub(super) fn check(v: &mut Verifier, seen: &Seen<'_>, out: &mut Found) {
    let rec = seen.rec;
    match rec.protection.as_str() {
        "plaintext" if rec.bytes > 0 => cleartext(v, seen, &rules::PLAINTEXT, out),
        "unknown" if rec.bytes > 0 => cleartext(v, seen, &rules::ENCRYPTION_UNKNOWN, out),
        "tls" => {
            mutual(v, seen, out);
            if let Some(tls) = rec.tls.as_deref() {
                version(v, seen, tls, out);
                cipher_suite(seen, tls, out);
            }
        }
        _ => {}
    }
}

fn cleartext(v: &mut Verifier, seen: &Seen<'_>, rule: &'static rules::Rule, out: &mut Found) {
    let exempt = std::mem::take(&mut v.policy.plaintext.exempt);
    let is_exempt = v.exempt(rule, &exempt, &seen.context());
    v.policy.plaintext.exempt = exempt;
    if is_exempt {
        return;
    }
    let rec = seen.rec;
    let app = rec.app_protocol.as_deref();
    let message = match (rule.id, app) {
        ("TA-PLAINTEXT", Some(p)) => format!("{p} in cleartext: {}", seen.path()),
        ("TA-PLAINTEXT", None) => format!("cleartext: {}", seen.path()),
        _ => format!(
            "{} bytes neither TLS nor a known cleartext protocol: {}",
            rec.bytes,
            seen.path()
        ),
    };
    let mut c = seen.about_server(rule, message);
    c.evidence = evidence(json!({
        "protection": rec.protection,
        "app_protocol": app,
        "transport": rec.transport,
        "payload_bytes": rec.bytes,
        "packets": rec.packets,
    }));
    c.kind = app.unwrap_or("").to_string();
    out.push((c, None));
}

fn mutual(v: &mut Verifier, seen: &Seen<'_>, out: &mut Found) {
    let required = match v.mtls_required(seen) {
        Some(r) => r,
        None => {
            v.collector.not_checked(&rules::NO_MTLS, "no-inventory");
            return;
        }
    };
    if !required {
        return;
    }
    let Some(tls) = seen.rec.tls.as_deref() else {
        // DTLS and QUIC are recognised, not parsed.
        let app = seen.rec.app_protocol.clone().unwrap_or_default();
        let mut c = seen.about_server(
            &rules::MTLS_UNKNOWN,
            format!("{app} handshake not parsed: {}", seen.path()),
        );
        c.evidence = evidence(json!({"reason": "not-parsed", "app_protocol": app}));
        c.kind = "not-parsed".into();
        out.push((c, None));
        return;
    };
    match tls.mutual {
        Some(true) => {}
        Some(false) => {
            let inferred = tls.mutual_evidence.as_deref() == Some("encrypted-flight-size");
            let how = if inferred {
                "inferred from the size of the client's encrypted flight"
            } else {
                "observed"
            };
            let mut c = seen.about_server(
                &rules::NO_MTLS,
                format!("no client certificate ({how}): {}", seen.path()),
            );
            c.evidence = evidence(json!({
                "mutual": false,
                "basis": tls.mutual_evidence,
                "inferred": inferred,
                "inference": inference(tls),
                "client_cert_requested": tls.client_cert_requested,
                "version": tls.version,
            }));
            c.kind = tls.mutual_evidence.clone().unwrap_or_default();
            out.push((c, None));
        }
        None => {
            let reason = tls.mutual_unknown_reason.clone().unwrap_or_default();
            let mut c = seen.about_server(
                &rules::MTLS_UNKNOWN,
                format!(
                    "cannot tell whether the client sent a certificate ({reason}): {}",
                    seen.path()
                ),
            );
            c.evidence = evidence(json!({
                "reason": reason,
                "inference": inference(tls),
                "version": tls.version,
                "handshake_seen": tls.handshake_seen,
                "resumed": tls.resumed,
            }));
            c.kind = reason;
            out.push((c, None));
        }
    }
}

fn inference(tls: &TlsRecord) -> serde_json::Value {
    match &tls.mutual_inference {
        Some(MutualInference::FlightSize(f)) => serde_json::to_value(f).unwrap_or_default(),
        Some(MutualInference::Resumed(r)) => serde_json::to_value(r).unwrap_or_default(),
        None => serde_json::Value::Null,
    }
}

fn version(v: &mut Verifier, seen: &Seen<'_>, tls: &TlsRecord, out: &mut Found) {
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
    let min = v.policy.min_version_rank();
    let severity = if rank < min {
        if rank <= 1 {
            Severity::Critical
        } else {
            Severity::High
        }
    } else if rank == 4 && v.policy.tls.require_tls13 {
        Severity::Low
    } else {
        return;
    };
    let mut c = seen.about_server(
        &rules::TLS_VERSION,
        format!(
            "{name} negotiated (policy minimum {}{}): {}",
            v.policy.tls.min_version,
            if v.policy.tls.require_tls13 {
                ", TLS 1.3 required"
            } else {
                ""
            },
            seen.path()
        ),
    );
    c.severity = severity;
    c.evidence = evidence(json!({
        "version": name,
        "versions_offered": tls.versions_offered,
        "min_version": v.policy.tls.min_version,
        "require_tls13": v.policy.tls.require_tls13,
    }));
    c.kind = name.to_string();
    out.push((c, None));
}

fn cipher_suite(seen: &Seen<'_>, tls: &TlsRecord, out: &mut Found) {
    let Some(name) = tls.cipher_suite.as_deref() else {
        return;
    };
    let weak = cipher::weaknesses(name);
    let Some(worst) = weak.iter().map(|w| w.severity).max() else {
        return;
    };
    let ids: Vec<&str> = weak.iter().map(|w| w.id).collect();
    let mut c = seen.about_server(
        &rules::WEAK_CIPHER,
        format!("{name} ({}): {}", ids.join(", "), seen.path()),
    );
    c.severity = worst;
    c.evidence = evidence(json!({
        "cipher_suite": name,
        "version": tls.version,
        "weaknesses": weak.iter().map(|w| json!({"id": w.id, "severity": w.severity, "why": w.why})).collect::<Vec<_>>(),
    }));
    c.kind = name.to_string();
    out.push((c, None));
}
