//! The report's `verification` block, its warnings, and the gate verdict.

use crate::model::WarningKind;
use std::collections::BTreeMap;

use super::collect::{Collected, MAX_FINDINGS};
use crate::model::report::{
    Finding, InventorySource, PolicySource, Severity, TrustBundleSource, Verification, Warning,
};

/// What the run used, for the report.
#[derive(Debug, Clone)]
pub struct RunInfo {
    /// Where the policy came from (`built-in` or its path) and the SHA-256 of its text.
    pub policy: PolicySource,
    /// Pods and nodes in the snapshot, if one was given.
    pub inventory: Option<InventorySource>,
    /// The trust bundle, if one was given.
    pub trust_bundle: Option<TrustBundleSource>,
    /// When the report is made (Unix seconds); judges waiver expiry.
    pub now: i64,
    /// `--fail-on`.
    pub fail_on: Option<Severity>,
}

/// `not_checked` reasons for certificates that were sent in the clear but
/// not read (see TA-CERT-UNCHECKED).
const UNREAD: [&str; 4] = [
    "reassembly-cap",
    "certificate-too-large",
    "certificate-compressed",
    "no-certificate-bytes",
];

/// SHA-256 of a policy text, lower-case hex.
pub fn policy_digest(text: &str) -> String {
    ring::digest::digest(&ring::digest::SHA256, text.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The verification block, the findings, and warnings for the report.
pub fn conclude(c: Collected, info: RunInfo) -> (Verification, Vec<Finding>, Vec<Warning>) {
    let mut counts: BTreeMap<String, u64> = Severity::ALL
        .iter()
        .map(|s| (s.as_str().to_string(), 0))
        .collect();
    let mut waived = 0;
    for f in &c.findings {
        if f.waived.is_some() {
            waived += 1;
        } else {
            *counts.entry(f.severity.as_str().into()).or_default() += 1;
        }
    }
    let gate = crate::model::report::gate(&c.findings, info.fail_on);
    let mut warnings = Vec::new();
    for w in c.waivers.iter().filter(|w| w.status == "expired") {
        warnings.push(Warning {
            kind: WarningKind::WaiverExpired,
            message: format!(
                "waiver {} ({}) expired on {} and no longer applies; it matched {} finding(s)",
                w.index, w.rule, w.expires, w.matched
            ),
        });
    }
    if c.dropped > 0 {
        warnings.push(Warning {
            kind: WarningKind::FindingsLimit,
            message: format!(
                "{} distinct findings over the limit of {MAX_FINDINGS} were not kept; the counts are incomplete",
                c.dropped
            ),
        });
    }
    if c.not_checked.iter().any(|n| n.reason == "no-inventory") {
        warnings.push(Warning {
            kind: WarningKind::NoInventory,
            message: "without pods (--pods), pod-to-pod mTLS, pod lifetime and SPIFFE identity checks did not run (see verification.not_checked)".into(),
        });
    }
    let unread: Vec<_> = c
        .not_checked
        .iter()
        .filter(|n| n.rule == super::rules::CERT_EXPIRED.id && UNREAD.contains(&n.reason.as_str()))
        .collect();
    if !unread.is_empty() {
        let flows: u64 = unread.iter().map(|n| n.flows).sum();
        let reasons: Vec<&str> = unread.iter().map(|n| n.reason.as_str()).collect();
        warnings.push(Warning {
            kind: WarningKind::CertificatesUnread,
            message: format!(
                "certificates sent in the clear were not read on {flows} flow(s) ({}); no certificate rule ran on them (TA-CERT-UNCHECKED, verification.not_checked)",
                reasons.join(", ")
            ),
        });
    }
    let verification = Verification {
        policy: info.policy,
        inventory: info.inventory,
        trust_bundle: info.trust_bundle,
        evaluated_at: super::format_time(info.now),
        counts,
        waived,
        fail_on: info.fail_on,
        gate,
        baseline: None,
        not_checked: c.not_checked,
        exempted: c.exempted,
        waivers: c.waivers,
        findings_dropped: c.dropped,
        coverage_matrix: c.coverage_matrix,
    };
    (verification, c.findings, warnings)
}
