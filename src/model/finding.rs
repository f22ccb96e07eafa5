//! The verdict half of a report: `findings[]` and the `verification`
//! summary that says what was checked, against which policy, and what could
//! not be checked. Rule ids and field names are a public contract.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::kinds::Gate;
use super::report::OriginFlow;

/// How bad a finding is. Ordered: `Info < Low < Medium < High < Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; never a failure by itself.
    Info,
    /// Below best practice.
    Low,
    /// A weakness to fix.
    Medium,
    /// A control is not met.
    High,
    /// Traffic is effectively unprotected.
    Critical,
}

impl Severity {
    /// Every severity, lowest first.
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// The name used in reports, policies and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl std::str::FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Severity::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| format!("unknown severity `{s}` (info, low, medium, high, critical)"))
    }
}

/// A pod, as named in findings and flow endpoints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodRef {
    /// Namespace.
    pub namespace: String,
    /// Pod name.
    pub name: String,
    /// Service account the pod runs as.
    pub service_account: String,
    /// The workload that owns the pod (its `Deployment`, `StatefulSet`,
    /// `DaemonSet`..., from `ownerReferences` with the `pod-template-hash`
    /// taken off a `ReplicaSet`'s name): what stays the same when a
    /// redeploy renames the pods. Absent in reports written before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<WorkloadRef>,
}

/// A workload: the owner that outlives its pods.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct WorkloadRef {
    /// `Deployment`, `StatefulSet`, `DaemonSet`, `Job`, ... or `Pod` for a
    /// pod without owner.
    pub kind: String,
    /// Its name.
    pub name: String,
}

/// Who a finding is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// `client` or `server`: the side of the flow.
    pub role: String,
    /// `ip:port` (the port of a client is the first flow's).
    pub endpoint: String,
    /// The pod at that address when the flow was captured, if known.
    pub pod: Option<PodRef>,
    /// The node, when the address is a node's (host network).
    pub node: Option<String>,
}

impl PodRef {
    /// `namespace/name`.
    pub fn label(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

impl Subject {
    /// How reports name the subject: its pod, else a server's `ip:port`,
    /// else a client's address alone (its port is ephemeral and names
    /// nothing).
    pub fn label(&self) -> String {
        match &self.pod {
            Some(p) => p.label(),
            None if self.role == "client" => self
                .endpoint
                .parse::<std::net::SocketAddr>()
                .map(|a| a.ip().to_string())
                .unwrap_or_else(|_| self.endpoint.clone()),
            None => self.endpoint.clone(),
        }
    }
}

/// A waiver that applied to a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedWaiver {
    /// Position of the waiver in the policy's `waivers` list (from 0).
    pub index: usize,
    /// Why the finding is accepted.
    pub reason: String,
    /// Last day the waiver applies (`YYYY-MM-DD`).
    pub expires: String,
}

/// One finding: a rule that fired, about one subject, with the facts it rests on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable rule id (`TA-...`), documented in `docs/rules/`.
    pub rule: String,
    /// Severity after the policy's overrides.
    pub severity: Severity,
    /// The first flow it was found in.
    pub flow: OriginFlow,
    /// Flows it was found in: identical findings (same rule, subject, peer
    /// address and evidence kind) are reported once and counted here.
    pub occurrences: u64,
    /// The last of those flows' first packet.
    pub last_seen: super::time::CaptureTime,
    /// The endpoint the finding is about.
    pub subject: Subject,
    /// The other end of the flow.
    pub peer: Subject,
    /// One sentence for people.
    pub message: String,
    /// The facts the finding rests on, by name. Inferences say so here
    /// (`"inferred": true` and the numbers used).
    pub evidence: BTreeMap<String, serde_json::Value>,
    /// What to change.
    pub remediation: String,
    /// Compliance controls the rule bears on (`PCI DSS 4.0.1 4.2.1`,
    /// `HIPAA 164.312(d)`...), from `reports/controls/catalog.json`, whose
    /// scope notes say how to read them (PCI DSS 4.2.1 concerns open,
    /// public networks).
    pub controls: Vec<String>,
    /// The waiver that accepts this finding, if one applies.
    pub waived: Option<AppliedWaiver>,
    /// Against a baseline report (`--baseline`): `new` (not in it) or
    /// `unchanged` (the same finding identity is in it). Absent without a
    /// baseline. See `docs/evidence.md`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<BaselineState>,
}

impl Finding {
    /// Whether the gate judges this finding: not waived, and not already in
    /// the baseline when one is given.
    pub fn counts_for_gate(&self) -> bool {
        self.waived.is_none() && self.baseline != Some(BaselineState::Unchanged)
    }
}

/// A finding's state against a baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BaselineState {
    /// Not in the baseline: a regression, what the gate judges.
    New,
    /// In the baseline already.
    Unchanged,
}

impl BaselineState {
    /// The name used in reports (SARIF's `baselineState` uses the same words).
    pub fn as_str(self) -> &'static str {
        match self {
            BaselineState::New => "new",
            BaselineState::Unchanged => "unchanged",
        }
    }
}

/// What verification ran with and what it could not do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verification {
    /// The policy used.
    pub policy: PolicySource,
    /// The pod and node snapshot used, if any.
    pub inventory: Option<InventorySource>,
    /// The trust bundle used, if any.
    pub trust_bundle: Option<TrustBundleSource>,
    /// When waivers were judged (RFC 3339); certificates are judged at capture time.
    pub evaluated_at: String,
    /// Unwaived findings by severity (every severity listed).
    pub counts: BTreeMap<String, u64>,
    /// Findings accepted by a waiver.
    pub waived: u64,
    /// `--fail-on`, if given.
    pub fail_on: Option<Severity>,
    /// `pass` or `fail` against `--fail-on`; null without it. With a
    /// baseline, judged on new findings only.
    pub gate: Option<Gate>,
    /// The baseline compared with (`--baseline`) and what it showed;
    /// absent without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<BaselineSummary>,
    /// Checks that could not run, by rule and reason, with the flows affected.
    pub not_checked: Vec<NotChecked>,
    /// Flows the policy exempts from a rule, by rule and exemption name.
    pub exempted: Vec<Exempted>,
    /// Every waiver in the policy and what became of it.
    pub waivers: Vec<WaiverStatus>,
    /// Distinct findings not kept because the limit was reached.
    pub findings_dropped: u64,
    /// Pod-to-pod underlay coverage between the snapshot's nodes (with
    /// `--nodes`): which node pairs Nitro, WireGuard, IPsec or Weave
    /// encrypt, and the underlay kinds seen between them on the wire.
    #[serde(default)]
    pub coverage_matrix: Option<super::coverage::CoverageMatrix>,
}

/// Where the policy came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicySource {
    /// `built-in` or the path given.
    pub source: String,
    /// SHA-256 of the policy text, so a report names the exact policy.
    pub sha256: String,
}

/// The cluster snapshot used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventorySource {
    /// Pods read.
    pub pods: usize,
    /// Nodes read.
    pub nodes: usize,
}

/// The trust bundle used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustBundleSource {
    /// The path given.
    pub path: String,
    /// Certificates in it.
    pub anchors: usize,
}

/// A check that could not run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotChecked {
    /// The rule.
    pub rule: String,
    /// Stable reason: `no-inventory`, `handshake-not-seen`, `certificates-encrypted`, ...
    pub reason: String,
    /// Flows affected.
    pub flows: u64,
}

/// Flows a policy exemption took out of a rule's scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exempted {
    /// The rule.
    pub rule: String,
    /// The exemption's `name` in the policy.
    pub exemption: String,
    /// Flows exempted.
    pub flows: u64,
}

/// One policy waiver and its effect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaiverStatus {
    /// Position in the policy's `waivers` list (from 0).
    pub index: usize,
    /// The rule it waives.
    pub rule: String,
    /// Its reason.
    pub reason: String,
    /// Its last day.
    pub expires: String,
    /// `active`, or `expired` (it no longer applies).
    pub status: String,
    /// Findings it accepted (active) or would have accepted (expired).
    pub matched: u64,
}

/// What a report's `verification.baseline` says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaselineSummary {
    /// The baseline report (path given, SHA-256, size).
    pub report: super::metadata::SourceReport,
    /// Findings not in the baseline.
    pub new: u64,
    /// Findings in the baseline too.
    pub unchanged: u64,
    /// Baseline findings no longer found.
    pub fixed: u64,
    /// How the gate treats them, for people.
    pub gate_scope: String,
}

/// The gate's verdict against `--fail-on` (`pass` or `fail`; `None`
/// without it): fail when a finding the gate judges (unwaived, and new when
/// a baseline is given) is at least that severe.
pub fn gate(findings: &[Finding], fail_on: Option<Severity>) -> Option<Gate> {
    fail_on.map(|on| {
        let failed = findings
            .iter()
            .any(|f| f.counts_for_gate() && f.severity >= on);
        if failed { Gate::Fail } else { Gate::Pass }
    })
}

/// The findings that fail the gate at `on`, worst first.
pub fn gate_failures(findings: &[Finding], on: Severity) -> Vec<&Finding> {
    let mut failing: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.counts_for_gate() && f.severity >= on)
        .collect();
    failing.sort_by_key(|f| std::cmp::Reverse(f.severity));
    failing
}
