//! The report's audit trail (`metadata`): what made it, from which
//! captures and when they ran, in which cluster and namespaces, under which
//! policy and waivers, and, for a report rendered again from saved JSON, the
//! digest of that JSON, so an auditor can tie a rendering to its record.
//! Every field may be absent: reports written before it still load.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::report::{FlowRecord, PolicySource, Report};

/// The audit trail of a report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// `tls-audit <version>` that wrote this document.
    #[serde(default)]
    pub generated_by: String,
    /// Each capture's first and last packet.
    #[serde(default)]
    pub capture_windows: Vec<CaptureWindow>,
    /// The cluster's name, when given (`--cluster-name`).
    #[serde(default)]
    pub cluster: Option<String>,
    /// Namespaces of the pods seen at either end of a flow, sorted.
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// The pods seen at either end of a flow and when each started (from
    /// the pod snapshot), for certificate lifetime against pod lifetime.
    #[serde(default)]
    pub pods: Vec<PodSeen>,
    /// The policy in force (the same as `verification.policy`).
    #[serde(default)]
    pub policy: Option<PolicySource>,
    /// Waivers that applied when the report was made (active ones), by
    /// their index in the policy; `verification.waivers` has the detail.
    #[serde(default)]
    pub waivers_in_force: Vec<WaiverInForce>,
    /// Compliance frameworks evaluated (`--compliance`).
    #[serde(default)]
    pub compliance_frameworks: Vec<String>,
    /// For `tls-audit report`: the JSON report this one was rendered from.
    #[serde(default)]
    pub rendered_from: Option<SourceReport>,
}

/// When one capture ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureWindow {
    /// The input, as named in `inputs[]`.
    pub input: String,
    /// Its first packet (RFC 3339), if known.
    pub first_packet: Option<String>,
    /// Its last packet.
    pub last_packet: Option<String>,
}

/// A pod at the end of a flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodSeen {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// When it started (RFC 3339), if the snapshot says.
    pub started: Option<String>,
}

/// When each pod of a snapshot started (Unix seconds), by namespace and name.
pub type PodStarts = std::collections::BTreeMap<(String, String), i64>;

/// A waiver that was in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaiverInForce {
    /// Its index in the policy's `waivers`.
    pub index: usize,
    /// The rule it waives.
    pub rule: String,
    /// Its last day.
    pub expires: String,
}

/// The saved report a rendering came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceReport {
    /// The path given (`-` for standard input).
    pub name: String,
    /// SHA-256 of its bytes, lower-case hex.
    pub sha256: String,
    /// Its size in bytes.
    pub bytes: u64,
}

impl SourceReport {
    /// Describe the saved report `bytes` read from `name`.
    pub fn of(name: &str, bytes: &[u8]) -> Self {
        SourceReport {
            name: name.to_string(),
            sha256: sha256_hex(bytes),
            bytes: bytes.len() as u64,
        }
    }
}

/// SHA-256 of `bytes`, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    crate::hex::lower(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref())
}

/// Builds [`Metadata`] from a report's header and its flows, seen one at a time.
#[derive(Debug, Default)]
pub struct MetadataBuilder {
    starts: PodStarts,
    pods: BTreeSet<(String, String)>,
}

impl MetadataBuilder {
    /// A builder that knows when the snapshot's pods started.
    pub fn with_pod_starts(starts: PodStarts) -> Self {
        MetadataBuilder {
            starts,
            pods: BTreeSet::new(),
        }
    }

    /// When the snapshot's pods started, for a builder made before they were known.
    pub fn set_pod_starts(&mut self, starts: PodStarts) {
        self.starts = starts;
    }

    /// Note the pods at both ends of a flow (in any order: they are a set).
    pub fn flow(&mut self, f: &FlowRecord) {
        for pod in [&f.client.pod, &f.server.pod].into_iter().flatten() {
            let key = (pod.namespace.clone(), pod.name.clone());
            if !self.pods.contains(&key) {
                self.pods.insert(key);
            }
        }
    }

    /// The metadata of `report` (whose flows were given to [`Self::flow`]).
    /// Without `cluster`, the name in the report's own metadata (a saved
    /// report read back) is kept.
    pub fn finish(self, report: &Report, cluster: Option<String>) -> Metadata {
        let previous = report.metadata.as_ref();
        let v = report.verification.as_ref();
        Metadata {
            generated_by: format!("tls-audit {}", env!("CARGO_PKG_VERSION")),
            capture_windows: report
                .inputs
                .iter()
                .map(|i| CaptureWindow {
                    input: i.name.clone(),
                    first_packet: i.first_packet.clone(),
                    last_packet: i.last_packet.clone(),
                })
                .collect(),
            cluster: cluster.or_else(|| previous.and_then(|m| m.cluster.clone())),
            namespaces: self
                .pods
                .iter()
                .map(|(ns, _)| ns.clone())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect(),
            pods: self
                .pods
                .iter()
                .map(|(ns, name)| PodSeen {
                    namespace: ns.clone(),
                    name: name.clone(),
                    started: self
                        .starts
                        .get(&(ns.clone(), name.clone()))
                        .map(|t| super::time::format_time(*t))
                        .or_else(|| previous_start(previous, ns, name)),
                })
                .collect(),
            policy: v.map(|v| v.policy.clone()),
            waivers_in_force: v
                .map(|v| {
                    v.waivers
                        .iter()
                        .filter(|w| w.status == "active")
                        .map(|w| WaiverInForce {
                            index: w.index,
                            rule: w.rule.clone(),
                            expires: w.expires.clone(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            compliance_frameworks: report
                .compliance
                .as_ref()
                .map(|c| c.frameworks.iter().map(|f| f.key.clone()).collect())
                .unwrap_or_default(),
            rendered_from: None,
        }
    }
}

/// A start time the report's own metadata already had (a saved report read back).
fn previous_start(previous: Option<&Metadata>, ns: &str, name: &str) -> Option<String> {
    previous?
        .pods
        .iter()
        .find(|p| p.namespace == ns && p.name == name)?
        .started
        .clone()
}

/// The metadata of an in-memory report (with the pods' start times, when known).
pub fn of(report: &Report, cluster: Option<String>, starts: PodStarts) -> Metadata {
    let mut b = MetadataBuilder::with_pod_starts(starts);
    report.flows.iter().for_each(|f| b.flow(f));
    b.finish(report, cluster)
}
