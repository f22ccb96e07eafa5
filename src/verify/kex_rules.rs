//! Rules about a flow's key exchange (`tls.key_exchange`): no forward
//! secrecy (TA-NO-FORWARD-SECRECY), a weak group (TA-WEAK-KEX), and
//! classical-only key exchange (TA-KEX-NOT-PQ, info unless the policy
//! requires post-quantum key exchange for the flow). Like the other flow
//! rules, findings are about the server: it chooses the group.

use serde_json::{Value, json};

use super::flow_rules::{Found, emit};
use super::rules;
use super::verifier::{Seen, Verifier};
use crate::model::report::{FlowTls, KeyExchangeRecord, Severity};

/// DHE primes below this are broken outright (Logjam, RFC 7919 §1).
const BROKEN_DH_BITS: u32 = 1024;

/// Run the key-exchange rules on one TLS flow.
pub(super) fn check(v: &mut Verifier, seen: &Seen<'_>, tls: &FlowTls, out: &mut Found) {
    let Some(k) = tls.key_exchange.as_ref() else {
        // Reports of probes or of older versions carry no key exchange.
        return;
    };
    forward_secrecy(v, seen, tls, k, out);
    weak(v, seen, tls, k, out);
    post_quantum(v, seen, tls, k, out);
}

/// The evidence every key-exchange finding carries.
fn facts(tls: &FlowTls, k: &KeyExchangeRecord) -> Value {
    json!({
        "version": tls.version,
        "cipher_suite": tls.cipher_suite,
        "method": k.method,
        "group": k.group,
        "group_id": k.group_id,
        "group_bits": k.group_bits,
        "group_source": k.group_source,
        "groups_offered": k.groups_offered,
        "key_shares_offered": k.key_shares_offered,
        "hello_retry_group": k.hello_retry_group,
    })
}

fn forward_secrecy(
    v: &mut Verifier,
    seen: &Seen<'_>,
    tls: &FlowTls,
    k: &KeyExchangeRecord,
    out: &mut Found,
) {
    let rule = &rules::NO_FORWARD_SECRECY;
    match k.forward_secrecy {
        Some(false) => {}
        Some(true) => return,
        None => {
            v.collector.not_checked(rule, unknown_reason(k));
            return;
        }
    }
    let method = k.method.as_deref().unwrap_or_default();
    emit(v, seen, rule, rule.severity, method, out, || {
        let how = match method {
            "rsa" => {
                "RSA key transport: the server's certificate key decrypts every recorded session"
            }
            "static-dh" => "static (EC)DH from the certificate: its key derives every session",
            "psk" => "pre-shared key without a fresh (EC)DHE (psk_ke)",
            _ => "no ephemeral key exchange",
        };
        let mut ev = facts(tls, k);
        ev["basis"] = json!(if method == "psk" {
            "server-hello-without-key-share"
        } else {
            "cipher-suite"
        });
        (format!("no forward secrecy ({how})"), ev)
    });
}

fn weak(v: &mut Verifier, seen: &Seen<'_>, tls: &FlowTls, k: &KeyExchangeRecord, out: &mut Found) {
    let rule = &rules::WEAK_KEX;
    let policy = v.policy.key_exchange.clone();
    let bits = k.group_bits.unwrap_or(0);
    let (why, kind, severity) = match k.group_kind.as_deref() {
        _ if k.explicit_curve => (
            "explicit curve parameters (RFC 8422 §5.1.1: deprecated, not a named curve)"
                .to_string(),
            "explicit-curve",
            rule.severity,
        ),
        Some("ff") if bits > 0 && bits < policy.min_dh_bits => (
            format!(
                "DHE with a {bits}-bit prime (policy minimum {})",
                policy.min_dh_bits
            ),
            "dh",
            if bits < BROKEN_DH_BITS {
                Severity::Critical
            } else {
                rule.severity
            },
        ),
        Some("ec") if bits > 0 && bits < policy.min_ec_bits => (
            format!("a {bits}-bit curve (policy minimum {})", policy.min_ec_bits),
            "ec",
            rule.severity,
        ),
        _ => return,
    };
    emit(v, seen, rule, severity, kind, out, || {
        let mut ev = facts(tls, k);
        ev["explicit_curve"] = json!(k.explicit_curve);
        ev["min_dh_bits"] = json!(policy.min_dh_bits);
        ev["min_ec_bits"] = json!(policy.min_ec_bits);
        (format!("weak key exchange: {why}"), ev)
    });
}

fn post_quantum(
    v: &mut Verifier,
    seen: &Seen<'_>,
    tls: &FlowTls,
    k: &KeyExchangeRecord,
    out: &mut Found,
) {
    let rule = &rules::KEX_NOT_PQ;
    match k.post_quantum {
        Some(false) => {}
        Some(true) => return,
        None => {
            v.collector.not_checked(rule, unknown_reason(k));
            return;
        }
    }
    let ctx = seen.context();
    let required = v
        .policy
        .key_exchange
        .post_quantum_required
        .iter()
        .find(|s| s.matches(&ctx))
        .map(|s| s.label());
    let severity = if required.is_some() {
        v.policy.key_exchange.post_quantum_severity
    } else {
        rule.severity
    };
    let declined = k.pq_declined_by_server();
    let what = k.group.clone().or(k.method.clone()).unwrap_or_default();
    let kind = format!("{what}{}", if declined { "/pq-offered" } else { "" });
    emit(v, seen, rule, severity, &kind, out, || {
        let mut offered_pq: Vec<&str> = Vec::new();
        for g in k
            .groups_offered
            .iter()
            .chain(&k.key_shares_offered)
            .map(|g| &**g)
        {
            if is_pq_name(g) && !offered_pq.contains(&g) {
                offered_pq.push(g);
            }
        }
        let why = if declined {
            format!(
                "the client offered {} but the server chose {what}: the server is the one to upgrade",
                offered_pq.join(", ")
            )
        } else if k.pq_offered == Some(false) {
            "neither side offered a post-quantum group".to_string()
        } else {
            "the client's offer was not seen".to_string()
        };
        let mut ev = facts(tls, k);
        ev["pq_offered"] = json!(k.pq_offered);
        ev["pq_groups_offered"] = json!(offered_pq);
        ev["server_declined_pq"] = json!(declined);
        ev["post_quantum_required_by"] = json!(required);
        (format!("classical-only key exchange {what} ({why})"), ev)
    });
}

/// Why the key exchange is not known, as a `not_checked` reason.
fn unknown_reason(k: &KeyExchangeRecord) -> &'static str {
    match k.unknown_reason.as_deref() {
        Some("handshake-not-seen") => "handshake-not-seen",
        Some("server-hello-not-seen") => "server-hello-not-seen",
        Some("server-key-exchange-not-seen") => "server-key-exchange-not-seen",
        Some("server-key-exchange-unparsed") => "server-key-exchange-unparsed",
        Some("server-hello-without-key-share") => "server-hello-without-key-share",
        Some("resumed") => "resumed",
        Some("unknown-cipher-suite") => "unknown-cipher-suite",
        Some("sslv2") => "sslv2",
        _ => "unknown-group",
    }
}

/// A group name the registry marks post-quantum (ML-KEM alone or hybrid).
fn is_pq_name(name: &str) -> bool {
    crate::tls::kex::group_by_name(name).is_some_and(|g| g.kind.post_quantum() == Some(true))
}
