//! Loading what verification needs (policy, cluster snapshot, trust
//! bundle) and the `policy` and `rules` commands.

use std::path::{Path, PathBuf};

use crate::coverage::cluster_config::ClusterConfig;
use crate::coverage::nitro::NitroTable;
use crate::inventory::Inventory;
use crate::report::metadata::PodStarts;
use crate::report::model::{InventorySource, PolicySource, Severity, TrustBundleSource};
use crate::verify::chain::TrustBundle;
use crate::verify::{self, DEFAULT_POLICY, Policy, RunInfo, Verifier, rules};

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

/// Everything loaded; errors are for people and map to `exit::CONFIG`.
/// Also returns when the snapshot's pods started, for the report's metadata.
pub fn load(args: &VerifyArgs) -> Result<(Verifier, RunInfo, PodStarts), String> {
    let inventory = match (&args.pods, &args.nodes) {
        (None, None) => None,
        (pods, nodes) => {
            Some(Inventory::load(pods.as_deref(), nodes.as_deref()).map_err(|e| e.to_string())?)
        }
    };
    load_with(args, inventory, None)
}

/// As [`load`], with an inventory built elsewhere (the live cluster's) and
/// the CNI settings read from it (a `--cluster-config` file wins).
pub fn load_with(
    args: &VerifyArgs,
    inventory: Option<Inventory>,
    discovered: Option<ClusterConfig>,
) -> Result<(Verifier, RunInfo, PodStarts), String> {
    let (policy, source, text) = match &args.policy {
        Some(path) => {
            let text = read_text(path, "policy")?;
            let policy =
                Policy::from_yaml(&text).map_err(|e| format!("policy {}: {e}", path.display()))?;
            (policy, path.display().to_string(), text)
        }
        None => (
            Policy::default(),
            "built-in".to_string(),
            DEFAULT_POLICY.to_string(),
        ),
    };
    let bundle = match &args.trust_bundle {
        Some(path) => {
            let pem = std::fs::read(path)
                .map_err(|e| format!("cannot read trust bundle {}: {e}", path.display()))?;
            Some((
                path,
                TrustBundle::from_pem(&pem)
                    .map_err(|e| format!("trust bundle {}: {e}", path.display()))?,
            ))
        }
        None => None,
    };
    let now = args
        .now
        .unwrap_or_else(|| time::OffsetDateTime::now_utc().unix_timestamp());
    let info = RunInfo {
        policy: PolicySource {
            source,
            sha256: verify::policy_digest(&text),
        },
        inventory: inventory.as_ref().map(|i| InventorySource {
            pods: i.pods().len(),
            nodes: i.nodes().len(),
        }),
        trust_bundle: bundle.as_ref().map(|(p, b)| TrustBundleSource {
            path: p.display().to_string(),
            anchors: b.len(),
        }),
        now,
        fail_on: args.fail_on,
    };
    let cluster = match (&args.cluster_config, discovered) {
        (Some(p), _) => ClusterConfig::from_path(p).map_err(|e| e.to_string())?,
        (None, Some(c)) => c,
        (None, None) => ClusterConfig::default(),
    };
    let nitro = match &args.nitro_table {
        Some(p) => NitroTable::from_path(p).map_err(|e| e.to_string())?,
        None => NitroTable::builtin().map_err(|e| format!("built-in Nitro table: {e}"))?,
    };
    let starts = inventory
        .as_ref()
        .map(Inventory::pod_starts)
        .unwrap_or_default();
    let verifier =
        Verifier::new(policy, inventory, bundle.map(|(_, b)| b), now).with_underlay(cluster, nitro);
    Ok((verifier, info, starts))
}

fn parse_now(s: &str) -> Result<i64, String> {
    verify::parse_time(s).ok_or_else(|| "not an RFC 3339 time (2026-11-27T12:00:00Z)".into())
}

fn read_text(path: &Path, what: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {what} {}: {e}", path.display()))
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

/// Run `tls-audit policy`; returns the exit code.
pub fn policy_command(args: &PolicyArgs) -> i32 {
    use super::exit;
    match &args.check {
        Some(path) => match read_text(path, "policy").and_then(|t| {
            Policy::from_yaml(&t).map_err(|e| format!("policy {}: {e}", path.display()))
        }) {
            Ok(p) => {
                println!(
                    "{}: valid ({} waivers, {} severity overrides)",
                    path.display(),
                    p.waivers.len(),
                    p.severity.len()
                );
                exit::OK
            }
            Err(e) => {
                eprintln!("tls-audit: {e}");
                exit::CONFIG
            }
        },
        None if args.default => {
            print!("{DEFAULT_POLICY}");
            exit::OK
        }
        None => {
            eprintln!("tls-audit: policy needs --default or --check FILE");
            exit::USAGE
        }
    }
}

/// Run `tls-audit rules`: the catalogue, one rule per line.
pub fn rules_command() -> i32 {
    for r in rules::ALL {
        println!("{:<24} {:<8} {}", r.id, r.severity.as_str(), r.title);
    }
    println!("\nEach rule is documented in docs/rules/<ID>.md.");
    super::exit::OK
}
