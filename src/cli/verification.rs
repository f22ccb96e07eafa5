//! Verification's options (policy, cluster snapshot, trust bundle...; loaded
//! by `audit::VerifySettings`) and the `policy` and `rules` commands.

use std::path::PathBuf;

use crate::audit::{AuditError, Status, VerifySettings, read_policy};
use crate::report::model::Severity;
use crate::verify::{self, DEFAULT_POLICY, rules};

/// Verification options of `analyze` and `probe`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// Verification policy (YAML); without it the built-in policy
    /// (`tls-audit policy --default`) is used.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Pods: the output of `kubectl get pods -A -o json`. Names the pod at
    /// each address, for pod-to-pod mTLS, lifetime and SPIFFE identity checks.
    #[arg(long, value_name = "FILE")]
    pub pods: Option<PathBuf>,
    /// Nodes: the output of `kubectl get nodes -o json`.
    #[arg(long, value_name = "FILE")]
    pub nodes: Option<PathBuf>,
    /// PEM file of trusted CA certificates; chains must reach one of them.
    #[arg(long, value_name = "FILE")]
    pub trust_bundle: Option<PathBuf>,
    /// Cluster encryption settings (CNI WireGuard/IPsec, Weave, VPC), JSON:
    /// decides whether plaintext flows are encrypted underneath.
    #[arg(long, value_name = "FILE")]
    pub cluster_config: Option<PathBuf>,
    /// Nitro in-transit encryption table (JSON) instead of the built-in one.
    #[arg(long, value_name = "FILE")]
    pub nitro_table: Option<PathBuf>,
    /// Exit 1 when an unwaived finding is at least this severe
    /// (info, low, medium, high, critical).
    #[arg(long, value_name = "SEVERITY")]
    pub fail_on: Option<Severity>,
    /// Judge waiver expiry at this time (RFC 3339) instead of now, for
    /// reproducible reports. Certificates are always judged at capture time.
    #[arg(long, value_name = "TIME", value_parser = parse_now)]
    pub now: Option<i64>,
}

impl VerifyArgs {
    /// Where verification's inputs are.
    pub fn settings(&self) -> VerifySettings {
        VerifySettings {
            policy: self.policy.clone(),
            pods: self.pods.clone(),
            nodes: self.nodes.clone(),
            trust_bundle: self.trust_bundle.clone(),
            cluster_config: self.cluster_config.clone(),
            nitro_table: self.nitro_table.clone(),
            fail_on: self.fail_on,
            now: self.now,
        }
    }
}

fn parse_now(s: &str) -> Result<i64, String> {
    verify::parse_time(s).ok_or_else(|| "not an RFC 3339 time (2026-11-27T12:00:00Z)".into())
}

/// `tls-audit policy`.
#[derive(Debug, clap::Args)]
pub struct PolicyArgs {
    /// Print the built-in policy, with its documentation.
    #[arg(long, conflicts_with = "check")]
    pub default: bool,
    /// Check a policy file and say what is wrong with it.
    #[arg(long, value_name = "FILE")]
    pub check: Option<PathBuf>,
}

/// Run `tls-audit policy`.
pub fn policy_command(args: &PolicyArgs) -> Result<Status, AuditError> {
    match &args.check {
        Some(path) => {
            let (p, _) = read_policy(path)?;
            println!(
                "{}: valid ({} waivers, {} severity overrides)",
                path.display(),
                p.waivers.len(),
                p.severity.len()
            );
            Ok(Status::Clean)
        }
        None if args.default => {
            print!("{DEFAULT_POLICY}");
            Ok(Status::Clean)
        }
        None => Err(AuditError::Usage(
            "policy needs --default or --check FILE".into(),
        )),
    }
}

/// Run `tls-audit rules`: the catalogue, one rule per line.
pub fn rules_command() -> Status {
    for r in rules::ALL {
        println!("{:<24} {:<8} {}", r.id, r.severity.as_str(), r.title);
    }
    println!("\nEach rule is documented in docs/rules/<ID>.md.");
    Status::Clean
}
