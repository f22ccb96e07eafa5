//! Baselines for CI: a saved JSON report is the state a pipeline accepted;
//! a new run's findings are `new` or `unchanged` against it, and its
//! findings that are gone are `fixed`. With a baseline, `--fail-on` judges
//! new findings only, so the first deploy's findings do not fail every
//! later build, and a regression (a new plaintext flow) still does.
//!
//! Findings are matched by [`super::identity::finding_identity`] (rule,
//! subject workload and service account, peer workload, server port), as a
//! set: a redeploy that renames the pods, or scales a Deployment, changes
//! nothing. `tls-audit diff BASE.json NEW.json` prints the comparison
//! (table, JSON `tls-audit/diff/v1`, Markdown for a pull-request comment).

use std::collections::BTreeSet;
use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::identity::finding_identity;
use super::metadata::SourceReport;
use super::model::{BaselineState, Finding, Report, SCHEMA, Severity};

/// Largest report read back.
pub const MAX_REPORT_BYTES: u64 = 4 << 30;

/// The schema identifier of `tls-audit diff -o json`.
pub const DIFF_SCHEMA: &str = "tls-audit/diff/v1";

/// Why a saved report could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SavedReportError {
    /// The file (or standard input) could not be read.
    #[error("cannot read {name}: {source}")]
    Read {
        /// The path given.
        name: String,
        /// Why.
        source: std::io::Error,
    },
    /// It is not a tls-audit JSON report.
    #[error("{name} is not a tls-audit JSON report: {source}")]
    NotAReport {
        /// The path given.
        name: String,
        /// What the parser said.
        source: serde_json::Error,
    },
    /// It is a report of another schema version.
    #[error("{name} is a `{schema}` report; this tls-audit reads `{SCHEMA}`")]
    Schema {
        /// The path given.
        name: String,
        /// The schema it names.
        schema: String,
    },
}

/// Read a report written by `tls-audit ... -o json` (`-` is standard
/// input), with the digest of its bytes for the audit trail.
pub fn read_report(path: &Path) -> Result<(Report, SourceReport), SavedReportError> {
    let name = path.display().to_string();
    let mut bytes = Vec::new();
    let result = if name == "-" {
        std::io::stdin()
            .take(MAX_REPORT_BYTES)
            .read_to_end(&mut bytes)
    } else {
        std::fs::File::open(path).and_then(|f| f.take(MAX_REPORT_BYTES).read_to_end(&mut bytes))
    };
    result.map_err(|source| SavedReportError::Read {
        name: name.clone(),
        source,
    })?;
    let report: Report =
        serde_json::from_slice(&bytes).map_err(|source| SavedReportError::NotAReport {
            name: name.clone(),
            source,
        })?;
    if report.schema != SCHEMA {
        return Err(SavedReportError::Schema {
            name,
            schema: report.schema,
        });
    }
    let source = SourceReport::of(&name, &bytes);
    Ok((report, source))
}

/// A baseline: the saved report's findings, by identity.
#[derive(Debug, Clone)]
pub struct Baseline {
    /// The report it was read from.
    pub source: SourceReport,
    /// Its findings.
    pub findings: Vec<Finding>,
    identities: BTreeSet<String>,
}

impl Baseline {
    /// The baseline of a saved report.
    pub fn of(report: Report, source: SourceReport) -> Self {
        let identities = report.findings.iter().map(finding_identity).collect();
        Baseline {
            source,
            findings: report.findings,
            identities,
        }
    }

    /// Read a saved report as a baseline.
    pub fn load(path: &Path) -> Result<Self, SavedReportError> {
        let (report, source) = read_report(path)?;
        Ok(Baseline::of(report, source))
    }

    /// Whether the same finding is in the baseline.
    pub fn contains(&self, f: &Finding) -> bool {
        self.identities.contains(&finding_identity(f))
    }
}

pub use crate::model::report::BaselineSummary;

/// The sentence every output carries when a baseline decides the gate's scope.
pub const GATE_SCOPE: &str = "with a baseline, --fail-on judges new findings only; unchanged ones are listed but do not fail the gate";

/// Mark each finding of `report` new or unchanged against `base`, record
/// the comparison in `verification.baseline`, and judge the gate again on
/// new findings only.
pub fn apply(report: &mut Report, base: &Baseline) {
    let mut seen = BTreeSet::new();
    let (mut new, mut unchanged) = (0, 0);
    for f in &mut report.findings {
        let id = finding_identity(f);
        let state = if base.identities.contains(&id) {
            unchanged += 1;
            BaselineState::Unchanged
        } else {
            new += 1;
            BaselineState::New
        };
        f.baseline = Some(state);
        seen.insert(id);
    }
    let fixed = base.identities.difference(&seen).count() as u64;
    if let Some(v) = &mut report.verification {
        v.gate = crate::model::report::gate(&report.findings, v.fail_on);
        v.baseline = Some(BaselineSummary {
            report: base.source.clone(),
            new,
            unchanged,
            fixed,
            gate_scope: GATE_SCOPE.into(),
        });
    }
}

/// `tls-audit diff`: two reports' findings compared.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Diff {
    /// Always [`DIFF_SCHEMA`].
    pub schema: String,
    /// The baseline report.
    pub base: SourceReport,
    /// The report compared with it.
    pub head: SourceReport,
    /// Findings of `head` not in `base`.
    pub new: Vec<Finding>,
    /// Findings of `base` not in `head`.
    pub fixed: Vec<Finding>,
    /// Findings of `head` also in `base`.
    pub unchanged: Vec<Finding>,
}

impl Diff {
    /// Compare two reports' findings by identity.
    pub fn of(base: (Report, SourceReport), head: (Report, SourceReport)) -> Self {
        let baseline = Baseline::of(base.0, base.1);
        let head_ids: BTreeSet<String> = head.0.findings.iter().map(finding_identity).collect();
        let (unchanged, new): (Vec<Finding>, Vec<Finding>) = head
            .0
            .findings
            .into_iter()
            .partition(|f| baseline.contains(f));
        let fixed = baseline
            .findings
            .iter()
            .filter(|f| !head_ids.contains(&finding_identity(f)))
            .cloned()
            .collect();
        Diff {
            schema: DIFF_SCHEMA.into(),
            base: baseline.source,
            head: head.1,
            new: mark(new, BaselineState::New),
            fixed,
            unchanged: mark(unchanged, BaselineState::Unchanged),
        }
    }

    /// Whether a new unwaived finding is at least `on` severe.
    pub fn fails(&self, on: Severity) -> bool {
        self.new
            .iter()
            .any(|f| f.waived.is_none() && f.severity >= on)
    }

    /// As compact JSON and a newline.
    pub fn render_json(&self) -> String {
        let mut s = serde_json::to_string(self)
            .unwrap_or_else(|e| format!("{{\"error\": \"cannot serialise the diff: {e}\"}}"));
        s.push('\n');
        s
    }

    /// For a terminal: counts, then one line per new and fixed finding.
    pub fn render_table(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} new, {} fixed, {} unchanged findings ({} → {})",
            self.new.len(),
            self.fixed.len(),
            self.unchanged.len(),
            super::sanitize(&self.base.name),
            super::sanitize(&self.head.name)
        );
        for (label, list) in [("NEW", &self.new), ("FIXED", &self.fixed)] {
            for f in list {
                let _ = writeln!(
                    out,
                    "{label:<6} {:<24} {:<8} {:<40} {}",
                    f.rule,
                    f.severity.as_str(),
                    super::sanitize(&f.subject.label()),
                    super::sanitize(&f.message)
                );
            }
        }
        out
    }

    /// Markdown for a pull-request comment; rule ids link to `docs_url`.
    pub fn render_markdown(&self, docs_url: &str) -> String {
        use std::fmt::Write;
        let cell = super::markdown::md;
        let mut out = String::from("## tls-audit: findings against the baseline\n\n");
        let _ = writeln!(
            out,
            "**{} new**, {} fixed, {} unchanged.\n",
            self.new.len(),
            self.fixed.len(),
            self.unchanged.len()
        );
        for (title, list) in [("New", &self.new), ("Fixed", &self.fixed)] {
            if list.is_empty() {
                continue;
            }
            let _ = writeln!(
                out,
                "### {title}\n\n| Rule | Severity | Subject | Peer | Message |\n|---|---|---|---|---|"
            );
            for f in list {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} |",
                    super::links::rule_markdown(&f.rule, docs_url),
                    f.severity.as_str(),
                    cell(&f.subject.label()),
                    cell(&f.peer.label()),
                    cell(&f.message)
                );
            }
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "Baseline `{}` (SHA-256 `{}`), compared with `{}` (SHA-256 `{}`).",
            cell(&self.base.name),
            self.base.sha256,
            cell(&self.head.name),
            self.head.sha256
        );
        out
    }
}

fn mark(mut findings: Vec<Finding>, state: BaselineState) -> Vec<Finding> {
    for f in &mut findings {
        f.baseline = Some(state);
    }
    findings
}
