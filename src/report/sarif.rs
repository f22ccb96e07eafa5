//! SARIF 2.1.0, so that code scanning (GitHub's and others) and SARIF
//! viewers hold tls-audit's findings next to other tools' results.
//!
//! One run; `tool.driver.rules` is the whole catalogue (`rules::ALL`), each
//! with its default level, title, remediation as help, and its page as an
//! absolute `helpUri` (`--docs-url`, see [`super::links`]). Each finding
//! is one result whose level follows the finding's severity (after policy
//! overrides): critical and high are `error`, medium `warning`, low and
//! info `note`.
//!
//! Locations. A finding is about a workload, not a file, but code scanning
//! refuses a result without a physical location. With `--manifests DIR`
//! the location is the manifest that defines the subject's workload (its
//! Deployment, StatefulSet, DaemonSet..., see [`super::manifests`]), at the
//! line its document starts. Otherwise it is a stable synthetic artifact,
//! as other Kubernetes scanners write: `k8s/<namespace>/<Kind>/<name>` for
//! a pod's workload, `k8s/_cluster/Node/<name>` for a host-network end,
//! `network/<ip>/<port>` for a server known only by its address and
//! `network/<ip>` for such a client, at line 1. Every result also carries
//! a `logicalLocations` entry (kind `resource`) naming the workload and the
//! pod seen. Path segments are percent-encoded: names off the wire or out
//! of the cluster never break the URI.
//!
//! `partialFingerprints["tlsAuditFinding/v2"]` is the SHA-256 of the
//! finding's identity ([`super::identity`]: rule, subject workload and
//! service account, peer workload, server port, variant), so a redeploy
//! that renames pods keeps its alerts. With a baseline (`--baseline`) each
//! result has `baselineState` `new` or `unchanged`.
//!
//! Waived findings stay in the log with an external, accepted suppression
//! whose justification is the waiver's reason. Warnings and checks that
//! could not run become notifications of the one invocation, and the gate
//! verdict its properties. Text off the wire is carried as JSON strings, so
//! serde_json's escaping is all it needs; output is deterministic.

use super::identity;
use super::model::{Finding, Report, Severity, Subject};
use super::options::RenderOptions;
use crate::model::rules;
use serde_json::{Map, Value, json};

/// The `$schema` written in every log.
pub const SARIF_SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// The name of the partial fingerprint tls-audit writes (v2: the workload
/// identity; v1 named pods, which a redeploy renames).
pub const FINGERPRINT: &str = "tlsAuditFinding/v2";

/// Render the report as a SARIF 2.1.0 log (pretty-printed JSON and a newline).
pub fn render_sarif(report: &Report) -> String {
    render_sarif_with(report, &RenderOptions::default())
}

/// [`render_sarif`] with rule pages under `opts.docs_url` and results
/// located in `opts.manifests` where they define the workload.
pub fn render_sarif_with(report: &Report, opts: &RenderOptions) -> String {
    let results: Vec<Value> = report.findings.iter().map(|f| result(f, opts)).collect();
    let log = json!({
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": report.tool.name,
                    "version": report.tool.version,
                    "informationUri": env!("CARGO_PKG_REPOSITORY"),
                    "rules": rules::ALL.iter().map(|r| rule(r, &opts.docs_url)).collect::<Vec<_>>(),
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
    // Bidirectional and C1 controls as `\uXXXX` (same value, safe to `cat`).
    super::escape_json_string(out)
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

fn rule(r: &rules::Rule, docs: &str) -> Value {
    json!({
        "helpUri": super::links::rule_url(r.id, docs),
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

fn result(f: &Finding, opts: &RenderOptions) -> Value {
    let mut r = Map::new();
    r.insert("ruleId".into(), json!(f.rule));
    if let Some(i) = rules::ALL.iter().position(|r| r.id == f.rule) {
        r.insert("ruleIndex".into(), json!(i));
    }
    r.insert("level".into(), json!(level(f.severity)));
    r.insert("message".into(), json!({"text": f.message}));
    r.insert("locations".into(), json!([location(&f.subject, opts)]));
    r.insert(
        "partialFingerprints".into(),
        json!({ FINGERPRINT: identity::fingerprint(f) }),
    );
    if let Some(b) = f.baseline {
        r.insert("baselineState".into(), json!(b.as_str()));
    }
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

/// Where a result is: the manifest of its workload, else a synthetic
/// artifact; and the workload and pod as a logical location.
fn location(s: &Subject, opts: &RenderOptions) -> Value {
    let manifest = opts.manifests.as_ref().and_then(|m| m.locate(s));
    let (uri, line) = match manifest {
        Some(m) => (
            m.path
                .split('/')
                .map(uri_segment)
                .collect::<Vec<_>>()
                .join("/"),
            m.line,
        ),
        None => (synthetic_uri(s), 1),
    };
    let mut logical = Map::new();
    logical.insert("name".into(), json!(identity::endpoint_identity(s)));
    logical.insert("kind".into(), json!("resource"));
    if let Some(p) = &s.pod {
        logical.insert(
            "fullyQualifiedName".into(),
            json!(format!("{}/pod/{}", p.namespace, p.name)),
        );
    }
    json!({
        "physicalLocation": {
            "artifactLocation": {"uri": uri},
            "region": {"startLine": line},
        },
        "logicalLocations": [Value::Object(logical)],
    })
}

/// `k8s/<namespace>/<Kind>/<name>`, `k8s/_cluster/Node/<name>`,
/// `network/<ip>/<port>` or `network/<ip>`: stable across runs as far as
/// the subject is.
pub fn synthetic_uri(s: &Subject) -> String {
    let segments: Vec<String> = match (&s.pod, &s.node) {
        (Some(p), _) => {
            let (kind, name) = match &p.workload {
                Some(w) => (w.kind.as_str(), w.name.as_str()),
                None => ("Pod", p.name.as_str()),
            };
            vec!["k8s".into(), p.namespace.clone(), kind.into(), name.into()]
        }
        (None, Some(node)) => vec!["k8s".into(), "_cluster".into(), "Node".into(), node.clone()],
        (None, None) => {
            let mut v = vec!["network".to_string()];
            match s.endpoint.parse::<std::net::SocketAddr>() {
                Ok(a) if s.role == "server" => {
                    v.push(a.ip().to_string());
                    v.push(a.port().to_string());
                }
                Ok(a) => v.push(a.ip().to_string()),
                Err(_) => v.push(s.endpoint.clone()),
            }
            v
        }
    };
    segments
        .iter()
        .map(|x| uri_segment(x))
        .collect::<Vec<_>>()
        .join("/")
}

/// Percent-encode all but RFC 3986's unreserved characters; an empty or
/// dot-only segment is encoded or replaced (`_`), so no segment means
/// "here" or "up".
fn uri_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric()
            || b"-_~".contains(&b)
            || (b == b'.' && !s.bytes().all(|c| c == b'.'))
        {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.is_empty() {
        out.push('_');
    }
    out
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
    fn uri_segments_are_safe() {
        assert_eq!(uri_segment("api-7d9f.x_~"), "api-7d9f.x_~");
        assert_eq!(uri_segment("a/b c"), "a%2Fb%20c");
        assert_eq!(uri_segment(".."), "%2E%2E");
        assert_eq!(uri_segment("fe80::1"), "fe80%3A%3A1");
        assert_eq!(uri_segment("é"), "%C3%A9");
        assert_eq!(uri_segment(""), "_");
    }

    #[test]
    fn names_and_levels() {
        assert_eq!(pascal_name("TA-NO-MTLS"), "NoMtls");
        assert_eq!(pascal_name("TA-CERT-NOT-YET-VALID"), "CertNotYetValid");
        assert_eq!(level(Severity::Critical), "error");
        assert_eq!(level(Severity::Medium), "warning");
        assert_eq!(level(Severity::Info), "note");
    }
}
