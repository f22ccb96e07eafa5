//! The `compliance` section of a report: each control's status, evidence
//! and scope caveats (evaluated by `compliance`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Flow indices listed per evidence item at most; the rest are counted.
pub const MAX_EVIDENCE_FLOWS: usize = 20;

/// The `compliance` section of a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Compliance {
    /// Where the control texts come from and how sure they are.
    pub about: String,
    /// One entry per framework asked for.
    pub frameworks: Vec<FrameworkResult>,
}

/// The controls of one framework.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameworkResult {
    /// The name `--compliance` takes (`pci-dss-4.0.1`, `hipaa`).
    pub key: String,
    /// `PCI DSS`, `HIPAA`.
    pub framework: String,
    /// The version quoted.
    pub version: String,
    /// The document quoted.
    pub document: String,
    /// Controls by status (every status listed).
    pub counts: BTreeMap<String, u64>,
    /// The controls, in catalog order.
    pub controls: Vec<ControlResult>,
}

/// A control's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Nothing in scope was seen.
    NotApplicable,
    /// In-scope traffic was seen and nothing speaks against the control.
    Pass,
    /// A person must decide (scope, waivers, addressable specifications,
    /// what the wire cannot show).
    NeedsReview,
    /// The evidence contradicts the control.
    Fail,
}

impl Status {
    /// Every status, best first.
    pub const ALL: [Status; 4] = [
        Status::Pass,
        Status::NotApplicable,
        Status::NeedsReview,
        Status::Fail,
    ];

    /// The name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::NotApplicable => "not-applicable",
            Status::Pass => "pass",
            Status::NeedsReview => "needs-review",
            Status::Fail => "fail",
        }
    }

    /// For people: `not applicable`, `needs review`.
    pub fn label(self) -> &'static str {
        match self {
            Status::NotApplicable => "not applicable",
            Status::Pass => "pass",
            Status::NeedsReview => "needs review",
            Status::Fail => "fail",
        }
    }
}

/// One control and its verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlResult {
    /// The reference findings carry, e.g. `PCI DSS 4.0.1 4.2.1`.
    #[serde(rename = "ref")]
    pub reference: String,
    /// The control's own number.
    pub id: String,
    /// A short title.
    pub title: String,
    /// `required` or `addressable`.
    pub obligation: String,
    /// The status.
    pub status: Status,
    /// Why, in one sentence with the numbers.
    pub summary: String,
    /// The scope caveat: what a reader must know before trusting the status.
    pub caveat: String,
    /// How the status is decided.
    pub how_decided: String,
    /// The control text, as quoted.
    pub text: String,
    /// Where the text and its reading come from.
    pub source: String,
    /// How much was in scope.
    pub in_scope: InScope,
    /// What the status rests on, worst first.
    pub evidence: Vec<Evidence>,
}

/// How much of the report a control looked at.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InScope {
    /// Flows in scope.
    pub flows: u64,
    /// Distinct certificates in scope (certificate inventory only).
    pub certificates: u64,
}

/// One piece of evidence for a control.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// What it does to the status: `fail`, `needs-review` or `pass`.
    pub effect: Status,
    /// For people.
    pub reason: String,
    /// The rule of the finding, if it is one.
    pub rule: Option<String>,
    /// The finding, as an index into `findings[]`.
    pub finding: Option<usize>,
    /// Flows, as indices into `flows[]` (at most [`MAX_EVIDENCE_FLOWS`]).
    pub flows: Vec<u64>,
    /// Further flows not listed.
    pub more_flows: u64,
    /// Certificates, by SHA-256 of their DER.
    pub certificates: Vec<String>,
}
