//! Compliance views (`--compliance pci-dss-4.0.1,hipaa`): each control of
//! the chosen frameworks gets a status (pass, fail, needs review, not
//! applicable) decided from the report's flows and findings, the evidence
//! it rests on (flow indices, certificate digests, finding indices), and
//! the scope caveats written out.
//!
//! What each control means, how its status is decided and what a reader
//! must know before trusting it are data (`reports/controls/catalog.json`,
//! `evaluation` of each control); this module only runs the evaluators the
//! catalog names. The status is input to an assessment, never the
//! assessment: PCI DSS 4.2.1 concerns open, public networks, HIPAA
//! 164.312(e)(2) specifications are addressable, and tls-audit reads no
//! payload.
//!
//! Evaluation streams: [`Evaluator::flow`] sees each flow once, in report
//! order, so `tls-audit analyze` can evaluate flows it keeps on disk.

mod evaluate;
mod network;

pub use crate::model::compliance::{
    Compliance, ControlResult, Evidence, FrameworkResult, InScope, Status,
};
pub use evaluate::Evaluator;
pub use network::is_public;

use crate::model::controls::{self, Catalog, Source};
use crate::model::report::Report;

pub use crate::model::compliance::MAX_EVIDENCE_FLOWS;
/// Certificates listed in the certificate-inventory evidence at most.
pub const MAX_EVIDENCE_CERTIFICATES: usize = 500;

/// Why compliance could not be evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ComplianceError {
    /// `--compliance` named a framework the catalog does not have.
    #[error("unknown compliance framework `{name}` (known: {})", known.join(", "))]
    UnknownFramework {
        /// The name given.
        name: String,
        /// The names the catalog knows.
        known: Vec<String>,
    },
    /// The shipped control catalog does not parse (a test rules it out).
    #[error("the control catalog shipped with tls-audit does not parse")]
    Catalog,
}

/// The catalog and the frameworks named in `names` (comma-separated lists
/// allowed, each name its key or an alias; duplicates dropped).
pub fn frameworks<S: AsRef<str>>(
    names: &[S],
) -> Result<(&'static Catalog, Vec<&'static Source>), ComplianceError> {
    let catalog = controls::catalog().ok_or(ComplianceError::Catalog)?;
    let mut chosen: Vec<&Source> = Vec::new();
    for name in names
        .iter()
        .flat_map(|n| n.as_ref().split(','))
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        let source = catalog
            .source(name)
            .ok_or_else(|| ComplianceError::UnknownFramework {
                name: name.to_string(),
                known: catalog.sources.iter().map(|s| s.key.clone()).collect(),
            })?;
        if !chosen.iter().any(|c| c.key == source.key) {
            chosen.push(source);
        }
    }
    Ok((catalog, chosen))
}

/// Evaluate the frameworks named in `names` over an in-memory report.
pub fn evaluate<S: AsRef<str>>(
    report: &Report,
    names: &[S],
) -> Result<Compliance, ComplianceError> {
    let (catalog, chosen) = frameworks(names)?;
    let mut ev = Evaluator::new(catalog, chosen, report);
    for (i, f) in report.flows.iter().enumerate() {
        ev.flow(i as u64, f);
    }
    Ok(ev.finish(report))
}

#[cfg(test)]
mod tests;
