//! Verification: facts become findings.
//!
//! Each finished flow record passes through a [`Verifier`] (as a
//! [`VerifyingSink`] in front of the engine's sink). It names the pods at
//! both ends from a cluster snapshot, runs the flow rules (`flow_rules`:
//! plaintext, mutual TLS, version, cipher; `kex_rules`: key exchange) and the certificate rules
//! (`cert_rules`: validity at capture time, key and signature strength,
//! chain, lifetime, SPIFFE), and collects findings (`collect`: one finding
//! per rule, subject and evidence kind, counted; waivers; bounded). Rules
//! are catalogued in `rules` and documented in `docs/rules/`; the policy
//! (`policy`, `selector`) sets thresholds, scopes and waivers.
//!
//! Certificates are judged at the time their flow was captured, not when
//! the report is made; waivers are judged at the time the report is made.

mod cert_rules;
pub mod chain;
pub mod cipher;
mod collect;
mod flow_rules;
mod kex_rules;
pub mod policy;
pub mod selector;
pub mod spiffe;
mod summary;
#[cfg(test)]
mod tests;
pub mod underlay;
mod verifier;

pub use crate::model::report::{gate, gate_failures};
pub use crate::model::time::{format_time, parse_time};
pub use crate::model::{controls, rules};
pub use collect::{Collected, MAX_FINDINGS};
pub use policy::{DEFAULT_POLICY, Policy, PolicyError};
pub use summary::{RunInfo, conclude, policy_digest};
pub use verifier::{Verifier, VerifyingSink};

use crate::capture::CaptureError;
use crate::engine::{self, Config, MemorySink};
use crate::model::Report;
use crate::tls::KeyLog;

/// Analyse captures in memory and verify every flow: the library's
/// counterpart of `tls-audit analyze` (which spills flows to disk instead).
///
/// ```no_run
/// use tls_audit::report::model::PolicySource;
/// use tls_audit::verify::{self, Policy, RunInfo, Verifier};
/// let info = RunInfo {
///     policy: PolicySource {
///         source: "built-in".into(),
///         sha256: verify::policy_digest(verify::DEFAULT_POLICY),
///     },
///     inventory: None,
///     trust_bundle: None,
///     now: verify::parse_time("2026-11-27T12:00:00Z").unwrap(),
///     fail_on: None,
/// };
/// let verifier = Verifier::new(Policy::default(), None, None, info.now);
/// let keys = tls_audit::tls::KeyLog::default();
/// let report = verify::analyze_files(&["capture.pcap"], &Default::default(), keys, verifier, info)?;
/// for f in &report.findings {
///     println!("{} {}", f.rule, f.message);
/// }
/// # Ok::<(), tls_audit::capture::CaptureError>(())
/// ```
pub fn analyze_files<T: AsRef<str>>(
    paths: &[T],
    cfg: &Config,
    keys: KeyLog,
    verifier: Verifier,
    info: RunInfo,
) -> Result<Report, CaptureError> {
    let sink = VerifyingSink {
        verifier,
        inner: MemorySink::default(),
    };
    let (mut report, sink) = engine::run_with_keys(engine::open_all(paths)?, cfg, sink, keys);
    let (_, _, collected) = sink.verifier.finish();
    let (verification, findings, warnings) = conclude(collected, info);
    report.verification = Some(verification);
    report.findings = findings;
    report.warnings.extend(warnings);
    report.flows = sink.inner.into_sorted();
    Ok(report)
}
