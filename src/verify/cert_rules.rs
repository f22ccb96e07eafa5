//! Rules about the certificates each side presented: validity at capture
//! time, key and signature strength, chain, workload lifetime, SPIFFE.
//! A certificate's finding is about the endpoint that presented it; the
//! same certificate presented in many flows is one finding with a count.

use std::sync::Arc;

use serde_json::json;

use super::collect::Key;
use super::flow_rules::Found;
use super::rules::{self, Rule};
use super::spiffe::{self, SpiffeId};
use super::verifier::{End, Seen, Verifier, evidence};
use crate::model::enrichment::ChainSource;
use crate::model::report::Severity;
use crate::model::time::format_time;
use crate::x509::Certificate;

/// The rules that need certificates.
const CERT_RULES: [&Rule; 10] = [
    &rules::CERT_EXPIRED,
    &rules::CERT_NOT_YET_VALID,
    &rules::CERT_EXPIRING,
    &rules::CERT_WEAK_KEY,
    &rules::CERT_WEAK_SIGNATURE,
    &rules::CERT_LIFETIME,
    &rules::CHAIN,
    &rules::SVID_INVALID,
    &rules::SVID_MISMATCH,
    &rules::TRUST_DOMAIN,
];

/// Which side presented a chain.
#[derive(Clone, Copy)]
enum Side {
    Server,
    Client,
}

/// Run the certificate rules on both chains of a TLS flow.
pub(super) fn check(v: &mut Verifier, seen: &Seen<'_>, out: &mut Found) {
    let Some(tls) = seen.rec.tls.as_deref() else {
        return;
    };
    let enrichment = tls.enrichment.as_deref();
    let client_identity = enrichment.and_then(|e| e.client_identity.as_ref());
    // Say why certificates that exist were not read: the handshake hid
    // them and enrichment (if asked for) could not fill them in.
    let hidden =
        tls.server_chain.is_empty() && (tls.certificates_encrypted || tls.resumed == Some(true));
    let reason = if let Some(why) = enrichment
        .and_then(|e| e.server_error.as_deref())
        .filter(|_| hidden)
    {
        Some(probe_reason(why))
    } else if hidden && tls.resumed == Some(true) {
        Some("resumed")
    } else if hidden {
        Some("certificates-encrypted")
    } else if tls.client_chain.is_empty()
        && client_identity.is_none()
        && tls.mutual == Some(true)
        && tls.mutual_evidence.as_deref() == Some("encrypted-flight-size")
    {
        // The client sent one (inferred) but its flight was not decrypted.
        Some("client-certificate-encrypted")
    } else {
        None
    };
    if let Some(unread) = tls.certificates_unread.as_deref() {
        unchecked(v, seen, unread, out);
    }
    if let Some(reason) = reason {
        let spiffe = &v.policy.spiffe;
        let off = |r: &Rule| {
            (r.id == rules::TRUST_DOMAIN.id && spiffe.trust_domains.is_empty())
                || (r.id == rules::SVID_MISMATCH.id && spiffe.id_template.is_empty())
        };
        for rule in CERT_RULES.into_iter().filter(|r| !off(r)) {
            v.collector.not_checked(rule, reason);
        }
    }
    let server_source = enrichment.and_then(|e| e.server_chain_source.as_ref());
    // The client's inferred identity stands in only where it sent none.
    let inferred_client = client_identity
        .filter(|_| tls.client_chain.is_empty())
        .map(|i| (Side::Client, &i.chain, Some(&i.source), true));
    let chains = [
        Some((Side::Server, &tls.server_chain, server_source, false)),
        Some((Side::Client, &tls.client_chain, None, false)),
        inferred_client,
    ];
    for (side, chain, source, inferred) in chains.into_iter().flatten() {
        if !chain.is_empty() {
            Chain {
                v: &mut *v,
                seen,
                side,
                chain,
                source,
                inferred,
                out: &mut *out,
            }
            .run();
        }
    }
}

/// The not-checked reason for a flow whose chain enrichment could not
/// obtain: `probe-` and the failure's kind (`unreachable`, `refused`,
/// `timeout`, `no-certificate`, `over-limit`, `unstable`, ...).
fn probe_reason(error: &str) -> &'static str {
    match error.split(':').next().unwrap_or("") {
        "unreachable" => "probe-unreachable",
        "refused" => "probe-refused",
        "timeout" => "probe-timeout",
        "no-certificate" => "probe-no-certificate",
        "over-limit" => "probe-over-limit",
        "unstable" => "probe-unstable",
        "not-enabled" => "probe-not-enabled",
        "pending" => "probe-pending",
        _ => "probe-failed",
    }
}

/// Certificates were sent in the clear but not read (over the reassembly
/// cap, too large, compressed): every certificate rule is `not_checked`,
/// and a TA-CERT-UNCHECKED finding (high unless the policy's `severity`
/// lowers it) keeps the gate and the compliance view from passing on
/// checks that never ran. A peer could otherwise hide an expired or
/// foreign certificate by padding its chain.
fn unchecked(v: &mut Verifier, seen: &Seen<'_>, unread: &str, out: &mut Found) {
    let reason = match unread {
        "certificate-compressed" => "certificate-compressed",
        "certificate-too-large" => "certificate-too-large",
        "no-certificate-bytes" => "no-certificate-bytes",
        _ => "reassembly-cap",
    };
    for rule in CERT_RULES {
        v.collector.not_checked(rule, reason);
    }
    let rule = &rules::CERT_UNCHECKED;
    super::flow_rules::emit(v, seen, rule, rule.severity, reason, out, || {
        let how = match reason {
            "certificate-compressed" => "compressed (RFC 8879), which tls-audit does not decode",
            "certificate-too-large" => "larger than tls-audit reassembles",
            "no-certificate-bytes" => {
                "named by an agent's event stream without its bytes (a claim, not evidence)"
            }
            _ => "larger than the reassembly cap (--stream-cap)",
        };
        let ev = json!({
            "reason": reason,
            "version": seen.rec.tls.as_deref().and_then(|t| t.version.clone()),
            "rules_not_checked": CERT_RULES.iter().map(|r| r.id).collect::<Vec<_>>(),
        });
        (
            format!("certificates not read: the Certificate message was {how}"),
            ev,
        )
    });
}

struct Chain<'a, 'b> {
    v: &'a mut Verifier,
    seen: &'a Seen<'b>,
    side: Side,
    chain: &'a [Arc<Certificate>],
    /// Where the chain came from when not off the wire (`--enrich`).
    source: Option<&'a ChainSource>,
    /// The chain is the client workload's inferred identity, not what the
    /// client sent on this connection.
    inferred: bool,
    out: &'a mut Found,
}

impl Chain<'_, '_> {
    fn presenter(&self) -> &End {
        match self.side {
            Side::Server => &self.seen.server,
            Side::Client => &self.seen.client,
        }
    }

    fn role(&self) -> &'static str {
        match self.side {
            Side::Server => "server",
            Side::Client => "client",
        }
    }

    fn push(
        &mut self,
        rule: &'static Rule,
        severity: Severity,
        cert: &Certificate,
        make: impl FnOnce() -> (String, serde_json::Value),
    ) {
        self.push_kind(rule, severity, cert, "", make);
    }

    /// `kind` tells apart findings about the same certificate (a chain's
    /// problems: the same leaf may come with a good and a broken chain).
    /// `make` (message, evidence) runs only for a finding not seen before:
    /// the same certificate comes back in thousands of flows.
    fn push_kind(
        &mut self,
        rule: &'static Rule,
        severity: Severity,
        cert: &Certificate,
        kind: &str,
        make: impl FnOnce() -> (String, serde_json::Value),
    ) {
        let (me, other) = match self.side {
            Side::Server => (&self.seen.server, &self.seen.client),
            Side::Client => (&self.seen.client, &self.seen.server),
        };
        let server = matches!(self.side, Side::Server).then_some(me.endpoint.as_str());
        let key = Key::certificate(rule.id, server, format!("{}{kind}", cert.sha256));
        if self.v.collector.bump(&key, &self.seen.origin) {
            return;
        }
        let (message, ev) = make();
        let mut ev = evidence(ev);
        ev.insert("certificate".into(), describe(cert));
        ev.insert("presented_by".into(), json!(self.role()));
        let provenance = match (self.source, self.inferred) {
            (Some(source), inferred) => {
                ev.insert("chain_source".into(), json!(source));
                ev.insert("inferred".into(), json!(inferred));
                if inferred {
                    " (inferred: the identity the client's own TLS listener presented to a probe handshake)"
                } else {
                    " (chain obtained by a probe handshake after the capture)"
                }
            }
            (None, _) => "",
        };
        let candidate = super::collect::Candidate {
            rule,
            severity,
            subject: me.subject(self.role()),
            peer: other.subject(if matches!(self.side, Side::Server) {
                "client"
            } else {
                "server"
            }),
            message: format!(
                "{message}: {} certificate of {}{provenance}",
                self.role(),
                super::verifier::who(me)
            ),
            evidence: ev,
            key,
            underlay: None,
        };
        self.out.push((candidate, Some(cert.sha256.clone())));
    }

    fn run(mut self) {
        let last = self.chain.len() - 1;
        for (i, cert) in self.chain.iter().enumerate() {
            if cert.parse_error.is_some() {
                continue;
            }
            // A self-signed certificate at the end of a chain is a trust
            // anchor sent along: it is trusted by itself, so the hash of its
            // self-signature does not matter. Its dates and key still do.
            let is_root = i > 0 && i == last && cert.self_signed;
            self.validity(cert);
            self.key(cert);
            if !is_root {
                self.signature(cert);
            }
        }
        self.chain_links();
        let leaf = Arc::clone(&self.chain[0]);
        if leaf.parse_error.is_none() {
            self.lifetime(&leaf);
            self.spiffe(&leaf);
        }
        for cert in self.chain.iter().skip(1).cloned().collect::<Vec<_>>() {
            if cert.spiffe_id.is_some() && cert.parse_error.is_none() {
                self.svid(&cert, false);
            }
        }
    }

    fn validity(&mut self, cert: &Certificate) {
        let (Some(at), Some(nb), Some(na)) =
            (self.seen.at, cert.not_before_unix, cert.not_after_unix)
        else {
            return;
        };
        let dates = || {
            json!({
                "captured_at": format_time(at),
                "not_before": cert.not_before,
                "not_after": cert.not_after,
            })
        };
        if na < at {
            self.push(
                &rules::CERT_EXPIRED,
                rules::CERT_EXPIRED.severity,
                cert,
                || {
                    let msg = format!("expired {} before the capture", span(at - na));
                    (msg, dates())
                },
            );
        } else if nb > at {
            let rule = &rules::CERT_NOT_YET_VALID;
            self.push(rule, rule.severity, cert, || {
                let msg = format!("not valid until {} after the capture", span(nb - at));
                (msg, dates())
            });
        } else if na - at < self.expiry_window(na - nb) {
            let p = self.v.policy.certificates.clone();
            let rule = &rules::CERT_EXPIRING;
            self.push(rule, rule.severity, cert, || {
                let mut ev = dates();
                ev["expiry_warning"] = json!(p.expiry_warning.to_string());
                ev["expiry_warning_fraction"] = json!(p.expiry_warning_fraction);
                let left = (na - at) as f64 / (na - nb).max(1) as f64;
                ev["remaining_fraction"] = json!((left * 1000.0).round() / 1000.0);
                (format!("expires {} after the capture", span(na - at)), ev)
            });
        }
    }

    /// Seconds before expiry that count as "expiring" for a certificate
    /// valid for `validity` seconds.
    fn expiry_window(&self, validity: i64) -> i64 {
        let p = &self.v.policy.certificates;
        let fraction = (validity.max(0) as f64 * p.expiry_warning_fraction) as i64;
        p.expiry_warning.secs().min(fraction)
    }

    fn key(&mut self, cert: &Certificate) {
        let (Some(kind), Some(bits)) = (cert.key_type.as_deref(), cert.key_bits) else {
            return;
        };
        let p = &self.v.policy.certificates;
        let min = match kind {
            "RSA" | "RSA-PSS" | "DSA" | "DH" => p.min_rsa_bits,
            "EC" => p.min_ec_bits,
            _ => return,
        };
        if bits < min {
            let rule = &rules::CERT_WEAK_KEY;
            self.push(rule, rule.severity, cert, || {
                let ev = json!({"key_type": kind, "key_bits": bits, "minimum_bits": min, "ec_curve": cert.ec_curve});
                (format!("{kind} {bits}-bit key (minimum {min})"), ev)
            });
        }
    }

    fn signature(&mut self, cert: &Certificate) {
        let Some(alg) = cert.signature_algorithm.as_deref() else {
            return;
        };
        let weak = ["md2", "md4", "md5", "sha1", "sha-1"]
            .into_iter()
            .find(|h| contains_ignore_case(alg, h));
        if let Some(hash) = weak {
            let rule = &rules::CERT_WEAK_SIGNATURE;
            self.push(rule, rule.severity, cert, || {
                let ev = json!({"signature_algorithm": alg, "hash": hash.replace('-', "")});
                (format!("signed with {alg}"), ev)
            });
        }
    }

    fn chain_links(&mut self) {
        let chain_id: Vec<&str> = self.chain.iter().map(|c| c.sha256.as_str()).collect();
        let chain_id = chain_id.join(",");
        let Some(check) = self.v.check_chain(&chain_id, self.chain) else {
            return;
        };
        let problems: Vec<_> = check
            .problems
            .iter()
            .filter(|p| p.kind != "unsupported-signature-algorithm")
            .collect();
        if check.problems.len() != problems.len() {
            self.v
                .collector
                .not_checked(&rules::CHAIN, "unsupported-signature-algorithm");
        }
        let Some(worst) = problems.iter().map(|p| chain_severity(p.kind)).max() else {
            return;
        };
        let leaf = Arc::clone(&self.chain[0]);
        let kind = format!(":{chain_id}");
        let chain = self.chain;
        self.push_kind(&rules::CHAIN, worst, &leaf, &kind, || {
            let kinds: Vec<&str> = problems.iter().map(|p| p.kind).collect();
            let ev = json!({
                "problems": problems,
                "anchored": check.anchored,
                "signatures_verified": check.signatures_verified,
                "chain": chain.iter().map(|c| json!({"subject": c.subject, "sha256": c.sha256})).collect::<Vec<_>>(),
            });
            (format!("chain {}", kinds.join(", ")), ev)
        });
    }

    /// A SPIFFE identity, or a certificate one pod shows another: the
    /// certificates the "align validity with pod lifetime" guidance is
    /// about (a public certificate an ingress pod serves is not).
    fn is_workload(&self, leaf: &Certificate) -> bool {
        leaf.spiffe_id.is_some() || (self.seen.client.is_pod() && self.seen.server.is_pod())
    }

    fn lifetime(&mut self, leaf: &Certificate) {
        let (Some(nb), Some(na)) = (leaf.not_before_unix, leaf.not_after_unix) else {
            return;
        };
        if !self.is_workload(leaf) {
            if leaf.spiffe_id.is_none() && !self.v.has_pods() {
                // Without pods it cannot be told whether this is a workload.
                self.v
                    .collector
                    .not_checked(&rules::CERT_LIFETIME, "no-inventory");
            }
            return;
        }
        let validity = na.saturating_sub(nb);
        let p = self.v.policy.certificates.clone();
        let mut reasons = Vec::new();
        if validity > p.max_workload_validity.secs() {
            reasons.push(json!({"reason": "exceeds-max-workload-validity", "limit": p.max_workload_validity.to_string()}));
        }
        let presenter = self.presenter().clone();
        match (presenter.started, self.seen.at) {
            (Some(start), Some(at)) => {
                let age = (at - start).max(p.min_pod_age.secs()).max(1);
                let ratio = validity as f64 / age as f64;
                if validity > p.lifetime_ratio_floor.secs() && ratio > p.max_validity_to_pod_age {
                    reasons.push(json!({
                        "reason": "exceeds-pod-age-ratio",
                        "pod_started": format_time(start),
                        "pod_age_at_handshake": span(at - start),
                        "ratio": (ratio * 10.0).round() / 10.0,
                        "limit": p.max_validity_to_pod_age,
                    }));
                }
            }
            _ if !self.v.has_pods() => {
                self.v
                    .collector
                    .not_checked(&rules::CERT_LIFETIME, "no-inventory");
            }
            _ => {}
        }
        if reasons.is_empty() {
            return;
        }
        let ev = json!({"validity": span(validity), "validity_seconds": validity, "reasons": reasons, "pod": presenter.pod});
        let msg = format!("workload certificate valid for {}", span(validity));
        self.push(
            &rules::CERT_LIFETIME,
            rules::CERT_LIFETIME.severity,
            leaf,
            move || (msg, ev),
        );
    }

    fn spiffe(&mut self, leaf: &Certificate) {
        if leaf.spiffe_id.is_none() {
            return;
        }
        let ok = self.svid(leaf, true);
        let Some(id) = leaf
            .spiffe_id
            .as_deref()
            .and_then(|u| spiffe::parse_spiffe_id(u).ok())
        else {
            return;
        };
        if !ok && leaf.uris.len() != 1 {
            return;
        }
        self.trust_domain(leaf, &id);
        self.mismatch(leaf, &id);
    }

    /// TA-SVID-INVALID; true when the certificate is a valid SVID.
    fn svid(&mut self, cert: &Certificate, is_leaf: bool) -> bool {
        let violations = self.v.svid_violations(cert, is_leaf);
        if violations.is_empty() {
            return true;
        }
        let rule = &rules::SVID_INVALID;
        self.push(rule, rule.severity, cert, || {
            let ids: Vec<&str> = violations.iter().map(|v| v.rule).collect();
            let ev = json!({"spiffe_id": cert.spiffe_id, "uris": cert.uris, "violations": *violations, "leaf": is_leaf});
            (format!("invalid X509-SVID ({})", ids.join(", ")), ev)
        });
        false
    }

    fn trust_domain(&mut self, leaf: &Certificate, id: &SpiffeId) {
        let allowed = &self.v.policy.spiffe.trust_domains;
        if allowed.is_empty() || allowed.contains(&id.trust_domain) {
            return;
        }
        let ev = json!({"spiffe_id": leaf.spiffe_id, "trust_domain": id.trust_domain, "allowed": allowed});
        let msg = format!("trust domain {} not allowed", id.trust_domain);
        self.push(
            &rules::TRUST_DOMAIN,
            rules::TRUST_DOMAIN.severity,
            leaf,
            move || (msg, ev),
        );
    }

    fn mismatch(&mut self, leaf: &Certificate, id: &SpiffeId) {
        let template = self.v.policy.spiffe.id_template.clone();
        if template.is_empty() {
            return;
        }
        let presenter = self.presenter().clone();
        let Some(pod) = presenter.pod.as_ref() else {
            if !self.v.has_pods() {
                self.v
                    .collector
                    .not_checked(&rules::SVID_MISMATCH, "no-inventory");
            }
            return;
        };
        let expected = template
            .replace("{trust_domain}", &id.trust_domain)
            .replace("{namespace}", &pod.namespace)
            .replace("{service_account}", &pod.service_account)
            .replace("{pod}", &pod.name);
        let presented = format!("spiffe://{}{}", id.trust_domain, id.path);
        if presented == expected {
            return;
        }
        let ev =
            json!({"spiffe_id": presented, "expected": expected, "template": template, "pod": pod});
        let msg = format!("presents {presented}, expected {expected}");
        self.push(
            &rules::SVID_MISMATCH,
            rules::SVID_MISMATCH.severity,
            leaf,
            move || (msg, ev),
        );
    }
}

fn chain_severity(kind: &str) -> Severity {
    match kind {
        "chain-order" | "duplicate-certificate" => Severity::Low,
        "chain-too-long" => Severity::Medium,
        _ => Severity::High,
    }
}

/// ASCII case-insensitive substring test, without allocating.
fn contains_ignore_case(hay: &str, needle: &str) -> bool {
    hay.as_bytes()
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// The certificate as evidence: enough to find it again, no more.
fn describe(c: &Certificate) -> serde_json::Value {
    json!({
        "subject": c.subject,
        "issuer": c.issuer,
        "serial": c.serial,
        "sha256": c.sha256,
        "spiffe_id": c.spiffe_id,
    })
}

/// A duration for people: `400d`, `3d 4h`, `2h 30m`, `90s`.
fn span(secs: i64) -> String {
    let secs = secs.max(0);
    let (d, h, m) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    let two = |a: i64, ua: &str, b: i64, ub: &str| match b {
        0 => format!("{a}{ua}"),
        b => format!("{a}{ua} {b}{ub}"),
    };
    match secs {
        s if s >= 30 * 86_400 => format!("{d}d"),
        s if s >= 86_400 => two(d, "d", h, "h"),
        s if s >= 3600 => two(h, "h", m, "m"),
        s if s >= 60 => two(m, "m", s % 60, "s"),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::span;

    #[test]
    fn spans() {
        assert_eq!(span(400 * 86_400 + 5), "400d");
        assert_eq!(span(3 * 86_400 + 4 * 3600 + 7), "3d 4h");
        assert_eq!(span(86_400), "1d");
        assert_eq!(span(9000), "2h 30m");
        assert_eq!(span(90), "1m 30s");
        assert_eq!(span(-5), "0s");
    }
}
