//! What verification needs, loaded from files: the policy, the cluster
//! snapshot, the trust bundle, the cluster's encryption settings and the
//! Nitro table. Every loading error is an [`AuditError::Config`].

use std::path::{Path, PathBuf};

use super::AuditError;
use crate::coverage::cluster_config::ClusterConfig;
use crate::coverage::nitro::NitroTable;
use crate::inventory::Inventory;
use crate::model::metadata::PodStarts;
use crate::model::report::{InventorySource, PolicySource, Severity, TrustBundleSource};
use crate::verify::chain::TrustBundle;
use crate::verify::{self, DEFAULT_POLICY, Policy, RunInfo, Verifier};

/// Where verification's inputs are (each `None`: the built-in or none).
#[derive(Debug, Clone, Default)]
pub struct VerifySettings {
    /// Verification policy (YAML); `None`: the built-in policy.
    pub policy: Option<PathBuf>,
    /// `kubectl get pods -A -o json`.
    pub pods: Option<PathBuf>,
    /// `kubectl get nodes -o json`.
    pub nodes: Option<PathBuf>,
    /// PEM file of trusted CA certificates.
    pub trust_bundle: Option<PathBuf>,
    /// Cluster encryption settings (JSON).
    pub cluster_config: Option<PathBuf>,
    /// Nitro in-transit encryption table (JSON); `None`: the built-in one.
    pub nitro_table: Option<PathBuf>,
    /// The gate's severity.
    pub fail_on: Option<Severity>,
    /// Judge waiver expiry at this time (Unix seconds) instead of now.
    pub now: Option<i64>,
}

/// The loaded verifier, what the report says it used, and when the
/// snapshot's pods started (the report's metadata).
pub struct Loaded {
    /// The verifier.
    pub verifier: Verifier,
    /// Policy, snapshot and bundle sources; the clock; the gate.
    pub info: RunInfo,
    /// When the snapshot's pods started.
    pub starts: PodStarts,
}

impl VerifySettings {
    /// Load everything, the snapshot from `pods` and `nodes`.
    pub fn load(&self) -> Result<Loaded, AuditError> {
        self.load_with(self.inventory()?, None)
    }

    /// As [`VerifySettings::load`], and a second verifier from the same
    /// inputs (read once): a capture's metrics judge every flow apart from
    /// its report.
    pub fn load_with_judge(&self) -> Result<(Loaded, Verifier), AuditError> {
        let (inputs, info, starts) = self.read(self.inventory()?, None)?;
        let judge = inputs.clone().verifier();
        let loaded = Loaded {
            verifier: inputs.verifier(),
            info,
            starts,
        };
        Ok((loaded, judge))
    }

    /// The snapshot from `pods` and `nodes`, if either is given.
    fn inventory(&self) -> Result<Option<Inventory>, AuditError> {
        Ok(match (&self.pods, &self.nodes) {
            (None, None) => None,
            (pods, nodes) => Some(
                Inventory::load(pods.as_deref(), nodes.as_deref())
                    .map_err(|e| AuditError::Config(e.to_string()))?,
            ),
        })
    }

    /// As [`VerifySettings::load`], with an inventory built elsewhere (the
    /// live cluster's) and the CNI settings read from it (a
    /// `cluster_config` file wins).
    pub fn load_with(
        &self,
        inventory: Option<Inventory>,
        discovered: Option<ClusterConfig>,
    ) -> Result<Loaded, AuditError> {
        let (inputs, info, starts) = self.read(inventory, discovered)?;
        Ok(Loaded {
            verifier: inputs.verifier(),
            info,
            starts,
        })
    }

    /// Read what a verifier is built from, what the report says of it, and
    /// the snapshot's pod starts.
    fn read(
        &self,
        inventory: Option<Inventory>,
        discovered: Option<ClusterConfig>,
    ) -> Result<(Inputs, RunInfo, PodStarts), AuditError> {
        let (policy, source, text) = match &self.policy {
            Some(path) => {
                let (policy, text) = read_policy(path)?;
                (policy, path.display().to_string(), text)
            }
            None => (
                Policy::default(),
                "built-in".to_string(),
                DEFAULT_POLICY.to_string(),
            ),
        };
        let bundle = match &self.trust_bundle {
            Some(path) => {
                let pem = std::fs::read(path).map_err(|e| {
                    AuditError::Config(format!("cannot read trust bundle {}: {e}", path.display()))
                })?;
                let b = TrustBundle::from_pem(&pem).map_err(|e| {
                    AuditError::Config(format!("trust bundle {}: {e}", path.display()))
                })?;
                Some((path, b))
            }
            None => None,
        };
        let now = self
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
            fail_on: self.fail_on,
        };
        let config = |e: &dyn std::fmt::Display| AuditError::Config(e.to_string());
        let cluster = match (&self.cluster_config, discovered) {
            (Some(p), _) => ClusterConfig::from_path(p).map_err(|e| config(&e))?,
            (None, Some(c)) => c,
            (None, None) => ClusterConfig::default(),
        };
        let nitro = match &self.nitro_table {
            Some(p) => NitroTable::from_path(p).map_err(|e| config(&e))?,
            None => NitroTable::builtin()
                .map_err(|e| AuditError::Config(format!("built-in Nitro table: {e}")))?,
        };
        let starts = inventory
            .as_ref()
            .map(Inventory::pod_starts)
            .unwrap_or_default();
        let inputs = Inputs {
            policy,
            inventory,
            bundle: bundle.map(|(_, b)| b),
            now,
            cluster,
            nitro,
        };
        Ok((inputs, info, starts))
    }
}

/// What [`Verifier::new`] and [`Verifier::with_underlay`] take, as read.
#[derive(Clone)]
struct Inputs {
    policy: Policy,
    inventory: Option<Inventory>,
    bundle: Option<TrustBundle>,
    now: i64,
    cluster: ClusterConfig,
    nitro: NitroTable,
}

impl Inputs {
    fn verifier(self) -> Verifier {
        Verifier::new(self.policy, self.inventory, self.bundle, self.now)
            .with_underlay(self.cluster, self.nitro)
    }
}

/// Read and check a policy file; returns it and its text (whose digest the
/// report records).
pub fn read_policy(path: &Path) -> Result<(Policy, String), AuditError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| AuditError::Config(format!("cannot read policy {}: {e}", path.display())))?;
    let policy = Policy::from_yaml(&text)
        .map_err(|e| AuditError::Config(format!("policy {}: {e}", path.display())))?;
    Ok((policy, text))
}
