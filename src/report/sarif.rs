//! SARIF 2.1.0, so that code-scanning dashboards and SARIF viewers can hold
//! tls-audit's findings next to other tools' results.
//!
//! One run; `tool.driver.rules` is the whole catalogue (`rules::ALL`), each
//! with its default level, title, remediation as help, and its page
//! (`docs/rules/<ID>.md`). The page is given as `properties.helpPath`,
//! relative to the tool's repository, and not as `helpUri`: SARIF requires
//! `helpUri` (like `informationUri`) to be an absolute URI, and a report
//! does not know where its documentation is served. Each finding is one
//! result whose level follows the finding's severity (after policy
//! overrides): critical and high are `error`, medium `warning`, low and
//! info `note`.
//!
//! A finding is about a pod or an endpoint, not a file, so its location is
//! logical only: one `logicalLocations` entry of kind `resource` naming the
//! pod (`namespace/name`), else the server's `ip:port`, else the client's
//! address. (Consumers that place results in files, such as GitHub code
//! scanning, may not show such results; the Multitool's GitHub rules accept
//! them.)
//!
//! `partialFingerprints["tlsAuditFinding/v1"]` is the SHA-256 of what makes
//! two findings the same finding for tls-audit: the rule, the subject (role
//! and pod, else address), the peer (pod, else address) for flow rules
//! (certificate findings are per certificate, whoever the peer), and the
//! evidence that tells a rule's variants apart (the certificate's digest;
//! else the mTLS basis or reason, cipher suite, version, or application
//! protocol). Counts, times, messages, severities and client ports are left
//! out, so the same finding in tomorrow's capture has the same fingerprint.
//!
//! Waived findings stay in the log with an external, accepted suppression
//! whose justification is the waiver's reason. Warnings and checks that
//! could not run become notifications of the one invocation, and the gate
//! verdict its properties. Text off the wire is carried as JSON strings, so
//! serde_json's escaping is all it needs; output is deterministic.

use super::model::{Finding, Report, Severity};
use crate::verify::{policy_digest, rules};
use serde_json::{Map, Value, json};

/// The `$schema` written in every log.
pub const SARIF_SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// The name of the partial fingerprint tls-audit writes.
pub const FINGERPRINT: &str = "tlsAuditFinding/v1";

/// Render the report as a SARIF 2.1.0 log (pretty-printed JSON and a newline).
pub fn render_sarif(report: &Report) -> String {
    let results: Vec<Value> = report.findings.iter().map(result).collect();
    let log = json!({
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": report.tool.name,
                    "version": report.tool.version,
                    "rules": rules::ALL.iter().map(rule).collect::<Vec<_>>(),
                }
            },
            "invocations": [invocation(report)],
            "results": results,
        }]
    });
    let mut out = serde_json::to_string_pretty(&log).unwrap_or_else(|e| {
        // Serialising a `Value` cannot fail; say so loudly if it ever does.
        json!({"error": format!("cannot serialise SARIF: {e}")}).to_string()
    });
    out.push('\n');
    out
}

/// SARIF's level for a severity.
pub fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// GitHub's numeric `security-severity` for a severity (its bands: over
/// 9.0 critical, 7.0 high, 4.0 medium, 0.1 low; info is 0, none).
fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "0.0",
    }
}

fn rule(r: &rules::Rule) -> Value {
    json!({
        "id": r.id,
        "name": pascal_name(r.id),
        "shortDescription": {"text": r.title},
        // GitHub code scanning requires a full description (GH2012).
        "fullDescription": {"text": r.title},
        "help": {"text": r.remediation},
        "defaultConfiguration": {"level": level(r.severity)},
        "properties": {
            "helpPath": format!("docs/rules/{}.md", r.id),
            "severity": r.severity.as_str(),
            "security-severity": security_severity(r.severity),
            "tags": ["security", "tls"],
        },
    })
}

/// `TA-NO-MTLS` → `NoMtls`: SARIF's readable rule name.
fn pascal_name(id: &str) -> String {
    id.trim_start_matches("TA-")
        .split('-')
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(first) => first
                    .to_uppercase()
                    .chain(c.flat_map(char::to_lowercase))
                    .collect(),
                None => String::new(),
            }
        })
        .collect()
}

fn result(f: &Finding) -> Value {
    let mut r = Map::new();
    r.insert("ruleId".into(), json!(f.rule));
    if let Some(i) = rules::ALL.iter().position(|r| r.id == f.rule) {
        r.insert("ruleIndex".into(), json!(i));
    }
    r.insert("level".into(), json!(level(f.severity)));
    r.insert("message".into(), json!({"text": f.message}));
    r.insert(
        "locations".into(),
        json!([{
            "logicalLocations": [{
                "name": f.subject.label(),
                "kind": "resource",
            }]
        }]),
    );
    r.insert(
        "partialFingerprints".into(),
        json!({ FINGERPRINT: fingerprint(f) }),
    );
    if let Some(w) = &f.waived {
        r.insert(
            "suppressions".into(),
            json!([{
                "kind": "external",
                "status": "accepted",
                "justification": w.reason,
                "properties": {"expires": w.expires, "waiverIndex": w.index},
            }]),
        );
    }
    r.insert(
        "properties".into(),
        json!({
            "severity": f.severity.as_str(),
            "occurrences": f.occurrences,
            "firstFlow": f.flow,
            "lastSeen": f.last_seen,
            "subject": f.subject,
            "peer": f.peer,
            "evidence": f.evidence,
            "controls": f.controls,
        }),
    );
    Value::Object(r)
}

/// SHA-256 (hex) of the finding's identity; see the module documentation.
fn fingerprint(f: &Finding) -> String {
    let e = &f.evidence;
    let certificate = e
        .get("certificate")
        .and_then(|c| c.get("sha256"))
        .and_then(Value::as_str);
    let variant = match certificate {
        Some(digest) => format!("certificate={digest}"),
        None => ["basis", "reason", "cipher_suite", "version", "app_protocol"]
            .iter()
            .find_map(|k| {
                e.get(*k)
                    .filter(|v| !v.is_null())
                    .map(|v| format!("{k}={v}"))
            })
            .unwrap_or_default(),
    };
    // A flow rule's finding is counted per client address; a certificate's
    // is not, so its peer (the first flow's) stays out.
    let peer = match certificate {
        Some(_) => String::new(),
        None => f.peer.label(),
    };
    // Fields are joined by a character no field can hold unescaped.
    let identity = [
        f.rule.as_str(),
        f.subject.role.as_str(),
        &f.subject.label(),
        &peer,
        &variant,
    ]
    .join("\u{0}");
    policy_digest(&identity)
}

fn invocation(report: &Report) -> Value {
    let mut notes: Vec<Value> = report
        .warnings
        .iter()
        .map(|w| {
            json!({
                "level": "warning",
                "message": {"text": w.message},
                "descriptor": {"id": w.kind},
            })
        })
        .collect();
    let mut props = Map::new();
    if let Some(v) = &report.verification {
        for n in &v.not_checked {
            let mut rule = Map::new();
            rule.insert("id".into(), json!(n.rule));
            if let Some(i) = rules::ALL.iter().position(|r| r.id == n.rule) {
                rule.insert("index".into(), json!(i));
            }
            notes.push(json!({
                "level": "note",
                "message": {"text": format!("{} not checked on {} flows: {}", n.rule, n.flows, n.reason)},
                "descriptor": {"id": format!("not-checked/{}", n.reason)},
                "associatedRule": rule,
            }));
        }
        props.insert("gate".into(), json!(v.gate));
        props.insert("failOn".into(), json!(v.fail_on));
        props.insert("evaluatedAt".into(), json!(v.evaluated_at));
        props.insert("policy".into(), json!(v.policy));
        props.insert("counts".into(), json!(v.counts));
        props.insert("waived".into(), json!(v.waived));
        props.insert("exempted".into(), json!(v.exempted));
        props.insert("findingsDropped".into(), json!(v.findings_dropped));
    }
    props.insert("inputs".into(), json!(report.inputs));
    if let Some(c) = &report.compliance {
        // Controls are not rules of this tool: their verdicts ride along as
        // properties (framework, control, status, why, caveat).
        let controls: Vec<Value> = c
            .frameworks
            .iter()
            .flat_map(|fw| {
                fw.controls.iter().map(|k| {
                    json!({
                        "framework": fw.key,
                        "control": k.reference,
                        "status": k.status,
                        "summary": k.summary,
                        "caveat": k.caveat,
                    })
                })
            })
            .collect();
        props.insert("compliance".into(), json!(controls));
    }
    if let Some(m) = &report.metadata {
        props.insert("metadata".into(), json!(m));
    }
    json!({
        "executionSuccessful": true,
        "toolExecutionNotifications": notes,
        "properties": props,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_levels() {
        assert_eq!(pascal_name("TA-NO-MTLS"), "NoMtls");
        assert_eq!(pascal_name("TA-CERT-NOT-YET-VALID"), "CertNotYetValid");
        assert_eq!(level(Severity::Critical), "error");
        assert_eq!(level(Severity::Medium), "warning");
        assert_eq!(level(Severity::Info), "note");
    }
}
