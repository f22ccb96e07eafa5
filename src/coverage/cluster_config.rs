//! The `--cluster-config` snapshot: what the CNI and the VPC do about
//! encryption, written down once by someone who can read the cluster.
//!
//! Whether WireGuard, IPsec or Weave encryption protects pod traffic is
//! cluster *configuration* (a Felix setting, a Helm value, an environment
//! variable on a DaemonSet), and the auditor runs offline, from captures and
//! `kubectl` snapshots, without cluster credentials. So the facts are read
//! from a small JSON file instead of the API, and every fact records how it
//! was established: a value from this file is "configured", which is weaker
//! than what the wire shows ("observed") and stronger than a default.
//!
//! The file is strict ([`serde` `deny_unknown_fields`]): a misspelt key must
//! fail loudly, because a silently ignored `"wireguard_enabeld": true` would
//! turn into "not encrypted" (or the opposite) in an audit report. Sections
//! that cannot apply to the named CNI are refused for the same reason
//! ([`ConfigError::SectionMismatch`]).
//!
//! # Format (version 1)
//!
//! ```json
//! {
//!   "cni": "weave",
//!   "comment": "prod-eu1, collected 2026-08-01 from kube-system",
//!   "weave": {"password_set": true, "trusted_subnets": ["10.0.0.0/16"]},
//!   "vpc": {"nodes_share_vpc": true, "encryption_controls": "off"}
//! }
//! ```
//!
//! | Key | Type | Meaning |
//! |---|---|---|
//! | `cni` | `"aws-vpc-cni"`, `"weave"`, `"calico"`, `"cilium"`, `"flannel"`, `"other"` | **Required.** The plugin that gives pods their addresses and carries pod-to-pod traffic. `aws-vpc-cni` has no encryption of its own; add a `calico` or `cilium` section when one runs on top of it (Calico network policy with WireGuard, Cilium chaining). `other`: a CNI this format does not describe; its encryption is unknown. |
//! | `comment` | string | Optional, any section. Free text: where the facts came from. |
//! | `weave.password_set` | bool | **Required.** `WEAVE_PASSWORD` (or `--password`) is set on the `weave` container of the `weave-net` DaemonSet. |
//! | `weave.trusted_subnets` | list of CIDR | `--trusted-subnets` (in Kubernetes usually passed in the `EXTRA_ARGS` env of the `weave` container): peers that both consider the other inside these subnets talk **unencrypted** even with a password. Default `[]`. |
//! | `weave.fast_datapath` | bool | Fast datapath not disabled (no `--no-fastdp`; Weave ≥ 1.9): encrypted data travels as ESP, else as NaCl sleeve. Weave may still fall back to sleeve per connection. Default `true`. |
//! | `calico.wireguard_enabled` | bool | **Required.** FelixConfiguration `wireguardEnabled` (IPv4 pod traffic). |
//! | `calico.wireguard_enabled_v6` | bool | FelixConfiguration `wireguardEnabledV6`. Default `false`. |
//! | `calico.wireguard_host_encryption_enabled` | bool | FelixConfiguration `wireguardHostEncryptionEnabled`: host-network traffic is encrypted too. Default `false`. |
//! | `cilium.wireguard` | bool | **Required.** Helm `encryption.enabled=true` with `encryption.type=wireguard`. |
//! | `cilium.ipsec` | bool | **Required.** Helm `encryption.enabled=true` with `encryption.type=ipsec`. At most one of the two. |
//! | `cilium.node_encryption` | bool | Helm `encryption.nodeEncryption=true`: host-network traffic is encrypted too. Default `false`. |
//! | `flannel.backend` | `"vxlan"`, `"host-gw"`, `"udp"`, `"ipip"`, `"wireguard"`, `"ipsec"`, `"other"` | **Required.** `Backend.Type` in `net-conf.json`. |
//! | `vpc.nodes_share_vpc` | bool | All nodes are in one VPC, or in VPCs peered with each other, in one Region (Nitro's precondition). Absent: assumed, and every Nitro verdict says so. `false`: Nitro coverage is never concluded. |
//! | `vpc.encryption_controls` | `"off"`, `"monitor"`, `"enforce"` | VPC Encryption Controls mode. `enforce` guarantees Nitro encryption inside the VPC, for any instance type and Fargate. Default `"off"`. |
//!
//! Sections allowed per `cni`: `weave` with `weave`; `calico` with `calico`
//! or `aws-vpc-cni`; `cilium` with `cilium` or `aws-vpc-cni`; `flannel` with
//! `flannel`; `vpc` with any. An absent section for the named CNI means
//! "not described": the CNI's encryption is unknown, never assumed off.
//!
//! `src/cluster-config.example.json` is a complete, commented example.

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Largest config file read (1 MiB).
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// Why a cluster config could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be opened or read.
    #[error("cannot read cluster config {}: {source}", .path.display())]
    Io {
        /// The file as given.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The file is over [`MAX_CONFIG_BYTES`].
    #[error("cluster config {} is too large ({bytes} bytes; the limit is {MAX_CONFIG_BYTES})", .path.display())]
    TooLarge {
        /// The file as given.
        path: PathBuf,
        /// Its size, or the bytes read before giving up.
        bytes: u64,
    },
    /// Not JSON, an unknown key, a missing required key, a wrong type, an
    /// unknown `cni` or a bad CIDR. The message carries line and column.
    #[error("cannot parse cluster config: {0}")]
    Json(#[from] serde_json::Error),
    /// A section that cannot apply to the named CNI, e.g. `weave` with
    /// `"cni": "calico"`.
    #[error("cluster config: a \"{section}\" section does not apply to \"cni\": \"{cni}\"")]
    SectionMismatch {
        /// The section's key.
        section: &'static str,
        /// The `cni` value.
        cni: &'static str,
    },
    /// `cilium.wireguard` and `cilium.ipsec` both true: Cilium's
    /// `encryption.type` is one value.
    #[error(
        "cluster config: cilium.wireguard and cilium.ipsec are both true, but Cilium runs one encryption type"
    )]
    CiliumBothModes,
}

/// The CNI plugin carrying pod traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cni {
    /// Amazon VPC CNI: pods on VPC addresses, no encryption of its own.
    AwsVpcCni,
    /// Weave Net.
    Weave,
    /// Calico (its own dataplane).
    Calico,
    /// Cilium.
    Cilium,
    /// Flannel.
    Flannel,
    /// A CNI this format does not describe.
    Other,
    /// No `--cluster-config` given ([`ClusterConfig::default`]); not
    /// accepted in a file.
    #[default]
    #[serde(skip_deserializing)]
    Unspecified,
}

impl Cni {
    /// The file's name for the CNI (`unspecified` for no config).
    pub fn as_str(self) -> &'static str {
        match self {
            Cni::AwsVpcCni => "aws-vpc-cni",
            Cni::Weave => "weave",
            Cni::Calico => "calico",
            Cni::Cilium => "cilium",
            Cni::Flannel => "flannel",
            Cni::Other => "other",
            Cni::Unspecified => "unspecified",
        }
    }
}

/// A cluster's encryption-relevant configuration (the `--cluster-config`
/// file). [`ClusterConfig::default`] stands for "no file given": nothing
/// is known about the CNI.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// The CNI carrying pod traffic.
    pub cni: Cni,
    /// Free text, e.g. where the facts came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Weave Net settings (`cni: weave`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weave: Option<WeaveConfig>,
    /// Calico settings (`cni: calico` or `aws-vpc-cni`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calico: Option<CalicoConfig>,
    /// Cilium settings (`cni: cilium` or `aws-vpc-cni`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cilium: Option<CiliumConfig>,
    /// Flannel settings (`cni: flannel`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flannel: Option<FlannelConfig>,
    /// VPC facts for Nitro encryption.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc: Option<VpcConfig>,
}

/// Weave Net encryption settings (`standards.md` §4.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeaveConfig {
    /// `WEAVE_PASSWORD` / `--password` is set: peers encrypt, except
    /// between trusted subnets.
    pub password_set: bool,
    /// `--trusted-subnets`: two peers that each see the other inside one of
    /// these talk unencrypted.
    #[serde(default)]
    pub trusted_subnets: Vec<Cidr>,
    /// Fast datapath on (encrypted as ESP); `false`: sleeve only (NaCl).
    #[serde(default = "yes")]
    pub fast_datapath: bool,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// Calico WireGuard settings (FelixConfiguration; `standards.md` §4.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalicoConfig {
    /// `wireguardEnabled`: IPv4 pod-to-pod traffic between nodes.
    pub wireguard_enabled: bool,
    /// `wireguardEnabledV6`: the same for IPv6.
    #[serde(default)]
    pub wireguard_enabled_v6: bool,
    /// `wireguardHostEncryptionEnabled`: host-network traffic too.
    #[serde(default)]
    pub wireguard_host_encryption_enabled: bool,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// Cilium transparent encryption settings (`standards.md` §4.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CiliumConfig {
    /// `encryption.type=wireguard` (and `encryption.enabled=true`).
    pub wireguard: bool,
    /// `encryption.type=ipsec` (and `encryption.enabled=true`).
    pub ipsec: bool,
    /// `encryption.nodeEncryption=true`: host-network traffic too.
    #[serde(default)]
    pub node_encryption: bool,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// Flannel settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlannelConfig {
    /// `Backend.Type` in `net-conf.json`.
    pub backend: FlannelBackend,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// A Flannel backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FlannelBackend {
    /// VXLAN: plaintext overlay.
    Vxlan,
    /// Direct routes: no encapsulation, no encryption.
    HostGw,
    /// Userspace UDP: plaintext.
    Udp,
    /// IP-in-IP: plaintext.
    Ipip,
    /// WireGuard: encrypted.
    Wireguard,
    /// IPsec (strongSwan, ESP): encrypted.
    Ipsec,
    /// Anything else: unknown.
    Other,
}

/// VPC facts for Nitro encryption (`standards.md` §3.1).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VpcConfig {
    /// All nodes in one VPC (or peered VPCs) in one Region. `None`:
    /// assumed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes_share_vpc: Option<bool>,
    /// VPC Encryption Controls mode.
    #[serde(default)]
    pub encryption_controls: EncryptionControls,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// VPC Encryption Controls mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EncryptionControls {
    /// Not enabled.
    #[default]
    Off,
    /// Reports unencrypted traffic, blocks nothing.
    Monitor,
    /// Every resource in the VPC must encrypt in transit.
    Enforce,
}

/// serde default `true`.
fn yes() -> bool {
    true
}

impl ClusterConfig {
    /// Parses and checks a config from JSON text.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Json`] (with line and column),
    /// [`ConfigError::SectionMismatch`], [`ConfigError::CiliumBothModes`].
    pub fn from_json(text: &str) -> Result<Self, ConfigError> {
        let config: ClusterConfig = serde_json::from_str(text)?;
        config.validate()?;
        Ok(config)
    }

    /// Reads a config file.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Io`], [`ConfigError::TooLarge`], and the
    /// [`ClusterConfig::from_json`] errors.
    pub fn from_path(path: &Path) -> Result<Self, ConfigError> {
        let io = |source| ConfigError::Io {
            path: path.to_owned(),
            source,
        };
        let too_large = |bytes| ConfigError::TooLarge {
            path: path.to_owned(),
            bytes,
        };
        let file = File::open(path).map_err(io)?;
        let size = file.metadata().map_err(io)?.len();
        if size > MAX_CONFIG_BYTES {
            return Err(too_large(size));
        }
        let mut text = String::new();
        file.take(MAX_CONFIG_BYTES.saturating_add(1))
            .read_to_string(&mut text)
            .map_err(io)?;
        let read = text.len() as u64;
        if read > MAX_CONFIG_BYTES {
            return Err(too_large(read));
        }
        Self::from_json(&text)
    }

    /// Checks the rules serde cannot express.
    fn validate(&self) -> Result<(), ConfigError> {
        let cni = self.cni;
        let mismatch = |section| {
            Err(ConfigError::SectionMismatch {
                section,
                cni: cni.as_str(),
            })
        };
        if self.weave.is_some() && cni != Cni::Weave {
            return mismatch("weave");
        }
        if self.calico.is_some() && !matches!(cni, Cni::Calico | Cni::AwsVpcCni) {
            return mismatch("calico");
        }
        if self.cilium.is_some() && !matches!(cni, Cni::Cilium | Cni::AwsVpcCni) {
            return mismatch("cilium");
        }
        if self.flannel.is_some() && cni != Cni::Flannel {
            return mismatch("flannel");
        }
        if self.calico.is_some() && self.cilium.is_some() {
            // Only reachable with aws-vpc-cni: two policy engines chained.
            return mismatch("cilium");
        }
        if self.cilium.as_ref().is_some_and(|c| c.wireguard && c.ipsec) {
            return Err(ConfigError::CiliumBothModes);
        }
        Ok(())
    }

    /// Whether the VPC section says nodes share a VPC: `Some(true|false)`
    /// when configured, `None` when assumed.
    pub fn nodes_share_vpc(&self) -> Option<bool> {
        self.vpc.as_ref().and_then(|v| v.nodes_share_vpc)
    }

    /// The VPC Encryption Controls mode (`off` when not configured).
    pub fn encryption_controls(&self) -> EncryptionControls {
        self.vpc
            .as_ref()
            .map_or(EncryptionControls::Off, |v| v.encryption_controls)
    }
}

/// An IP prefix such as `10.0.0.0/16` or `fd00::/8`. Host bits are cleared
/// (`10.0.0.7/16` is `10.0.0.0/16`), as Weave's Go `net.ParseCIDR` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

/// Why a string is not a CIDR.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not a CIDR prefix like 10.0.0.0/16 ({why})")]
pub struct CidrError {
    /// The input.
    pub input: String,
    /// What is wrong.
    pub why: &'static str,
}

impl Cidr {
    /// The network address (host bits cleared).
    pub fn network(&self) -> IpAddr {
        self.network
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// One address: a /32, or a /128 for IPv6 (an IPv4-mapped IPv6
    /// address is its IPv4 address).
    pub fn host(ip: IpAddr) -> Cidr {
        let network = ip.to_canonical();
        let prefix = if network.is_ipv4() { 32 } else { 128 };
        Cidr { network, prefix }
    }

    /// Whether `ip` is inside. IPv4-mapped IPv6 addresses count as IPv4.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = mask_v4(self.prefix);
                u32::from(ip) & mask == u32::from(net)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = mask_v6(self.prefix);
                u128::from(ip) & mask == u128::from(net)
            }
            _ => false,
        }
    }
}

/// The IPv4 netmask of a prefix length (0..=32).
fn mask_v4(prefix: u8) -> u32 {
    u32::MAX
        .checked_shl(32u32.saturating_sub(u32::from(prefix)))
        .unwrap_or(0)
}

/// The IPv6 netmask of a prefix length (0..=128).
fn mask_v6(prefix: u8) -> u128 {
    u128::MAX
        .checked_shl(128u32.saturating_sub(u32::from(prefix)))
        .unwrap_or(0)
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |why| CidrError {
            input: s.to_owned(),
            why,
        };
        let (addr, len) = s.trim().split_once('/').ok_or_else(|| err("no /length"))?;
        let addr: IpAddr = addr.parse().map_err(|_| err("bad address"))?;
        if len.is_empty() || !len.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err("bad length"));
        }
        let prefix: u8 = len.parse().map_err(|_| err("length too large"))?;
        let network = match addr {
            IpAddr::V4(a) if prefix <= 32 => IpAddr::V4((u32::from(a) & mask_v4(prefix)).into()),
            IpAddr::V6(a) if prefix <= 128 => IpAddr::V6((u128::from(a) & mask_v6(prefix)).into()),
            _ => return Err(err("length too large")),
        };
        Ok(Cidr { network, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl Serialize for Cidr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("cluster-config.example.json");

    fn parse(json: &str) -> Result<ClusterConfig, ConfigError> {
        ClusterConfig::from_json(json)
    }

    fn cidr(s: &str) -> Cidr {
        s.parse().expect("valid cidr")
    }

    #[test]
    fn example_file_parses_with_every_section_it_documents() {
        let c = parse(EXAMPLE).expect("example is valid");
        assert_eq!(c.cni, Cni::Weave);
        let w = c.weave.as_ref().expect("weave section");
        assert!(w.password_set);
        assert_eq!(w.trusted_subnets, [cidr("10.0.0.0/16")]);
        assert!(w.fast_datapath);
        assert!(
            w.comment
                .as_deref()
                .is_some_and(|t| t.contains("WEAVE_PASSWORD"))
        );
        assert_eq!(c.nodes_share_vpc(), Some(true));
        assert_eq!(c.encryption_controls(), EncryptionControls::Off);
        assert!(c.comment.is_some());
    }

    #[test]
    fn minimal_configs_and_defaults() {
        let c = parse(r#"{"cni": "aws-vpc-cni"}"#).expect("valid");
        assert_eq!(c.cni, Cni::AwsVpcCni);
        assert_eq!(c.nodes_share_vpc(), None);
        assert_eq!(c.encryption_controls(), EncryptionControls::Off);
        assert_eq!(
            (c.weave, c.calico, c.cilium, c.flannel),
            (None, None, None, None)
        );

        let c = parse(r#"{"cni": "weave", "weave": {"password_set": false}}"#).expect("valid");
        let w = c.weave.expect("weave");
        assert_eq!((w.password_set, w.fast_datapath), (false, true));
        assert!(w.trusted_subnets.is_empty());

        let c =
            parse(r#"{"cni": "calico", "calico": {"wireguard_enabled": true}}"#).expect("valid");
        let k = c.calico.expect("calico");
        assert_eq!(
            (
                k.wireguard_enabled,
                k.wireguard_enabled_v6,
                k.wireguard_host_encryption_enabled
            ),
            (true, false, false)
        );

        let c = parse(
            r#"{"cni": "cilium", "cilium": {"wireguard": false, "ipsec": true, "node_encryption": true},
                "vpc": {"encryption_controls": "enforce"}}"#,
        )
        .expect("valid");
        let k = c.cilium.as_ref().expect("cilium");
        assert_eq!(
            (k.wireguard, k.ipsec, k.node_encryption),
            (false, true, true)
        );
        assert_eq!(c.encryption_controls(), EncryptionControls::Enforce);
        assert_eq!(c.nodes_share_vpc(), None);

        let c = parse(r#"{"cni": "flannel", "flannel": {"backend": "host-gw"}}"#).expect("valid");
        assert_eq!(c.flannel.map(|f| f.backend), Some(FlannelBackend::HostGw));

        let d = ClusterConfig::default();
        assert_eq!(d.cni, Cni::Unspecified);
        assert_eq!(d.cni.as_str(), "unspecified");
    }

    #[test]
    fn chained_calico_or_cilium_on_vpc_cni_is_allowed() {
        let c = parse(r#"{"cni": "aws-vpc-cni", "calico": {"wireguard_enabled": true}}"#);
        assert!(
            c.expect("valid")
                .calico
                .is_some_and(|k| k.wireguard_enabled)
        );
        let c = parse(r#"{"cni": "aws-vpc-cni", "cilium": {"wireguard": true, "ipsec": false}}"#);
        assert!(c.expect("valid").cilium.is_some_and(|k| k.wireguard));
    }

    #[test]
    fn unknown_keys_and_missing_required_keys_are_refused() {
        let e =
            parse(r#"{"cni": "calico", "calico": {"wireguard_enabeld": true}}"#).expect_err("typo");
        assert!(
            e.to_string().contains("unknown field `wireguard_enabeld`"),
            "{e}"
        );
        let e = parse(r#"{"cni": "weave", "weave": {}}"#).expect_err("no password_set");
        assert!(
            e.to_string().contains("missing field `password_set`"),
            "{e}"
        );
        let e = parse(r#"{"cni": "cilium", "cilium": {"wireguard": true}}"#).expect_err("no ipsec");
        assert!(e.to_string().contains("missing field `ipsec`"), "{e}");
        let e = parse(r#"{"weave": {"password_set": true}}"#).expect_err("no cni");
        assert!(e.to_string().contains("missing field `cni`"), "{e}");
        let e = parse(r#"{"cni": "aws-vpc-cni", "extra": 1}"#).expect_err("extra");
        assert!(matches!(e, ConfigError::Json(_)));
        let e = parse(r#"{"cni": "kube-router"}"#).expect_err("unknown cni");
        assert!(
            e.to_string().contains("unknown variant `kube-router`"),
            "{e}"
        );
        let e = parse(r#"{"cni": "unspecified"}"#).expect_err("not for files");
        assert!(matches!(e, ConfigError::Json(_)));
        let e = parse(r#"{"cni": "other", "vpc": {"encryption_controls": "strict"}}"#)
            .expect_err("bad mode");
        assert!(e.to_string().contains("unknown variant `strict`"), "{e}");
        let e = parse("{\"cni\": \"other\",\n \"vpc\": 3}").expect_err("wrong type");
        assert!(e.to_string().contains("line 2"), "{e}");
    }

    #[test]
    fn sections_must_fit_the_cni() {
        let cases = [
            (
                r#"{"cni": "calico", "weave": {"password_set": true}}"#,
                "weave",
                "calico",
            ),
            (
                r#"{"cni": "weave", "calico": {"wireguard_enabled": true}}"#,
                "calico",
                "weave",
            ),
            (
                r#"{"cni": "flannel", "cilium": {"wireguard": true, "ipsec": false}}"#,
                "cilium",
                "flannel",
            ),
            (
                r#"{"cni": "aws-vpc-cni", "flannel": {"backend": "vxlan"}}"#,
                "flannel",
                "aws-vpc-cni",
            ),
            (
                r#"{"cni": "aws-vpc-cni", "calico": {"wireguard_enabled": true}, "cilium": {"wireguard": true, "ipsec": false}}"#,
                "cilium",
                "aws-vpc-cni",
            ),
        ];
        for (json, want_section, want_cni) in cases {
            match parse(json) {
                Err(ConfigError::SectionMismatch { section, cni }) => {
                    assert_eq!((section, cni), (want_section, want_cni), "{json}");
                }
                other => panic!("{json}: expected SectionMismatch, got {other:?}"),
            }
        }
    }

    #[test]
    fn cilium_cannot_run_both_modes() {
        let e = parse(r#"{"cni": "cilium", "cilium": {"wireguard": true, "ipsec": true}}"#);
        assert!(matches!(e, Err(ConfigError::CiliumBothModes)), "{e:?}");
    }

    #[test]
    fn cidr_parsing_and_containment() {
        let c = cidr("10.0.0.0/16");
        assert!(c.contains("10.0.255.1".parse().expect("ip")));
        assert!(!c.contains("10.1.0.1".parse().expect("ip")));
        assert!(c.contains("::ffff:10.0.3.4".parse().expect("ip")));
        assert!(!c.contains("fd00::1".parse().expect("ip")));
        // Host bits are cleared.
        let c = cidr("192.168.7.9/24");
        assert_eq!(c.to_string(), "192.168.7.0/24");
        assert_eq!(c.prefix(), 24);
        assert_eq!(c.network(), "192.168.7.0".parse::<IpAddr>().expect("ip"));
        // Edges.
        assert!(cidr("0.0.0.0/0").contains("203.0.113.5".parse().expect("ip")));
        assert!(cidr("10.0.0.5/32").contains("10.0.0.5".parse().expect("ip")));
        assert!(!cidr("10.0.0.5/32").contains("10.0.0.6".parse().expect("ip")));
        let v6 = cidr("fd00:1::/32");
        assert!(v6.contains("fd00:1:ffff::1".parse().expect("ip")));
        assert!(!v6.contains("fd00:2::1".parse().expect("ip")));
        assert!(cidr("::/0").contains("2001:db8::1".parse().expect("ip")));
        for bad in [
            "10.0.0.0",
            "10.0.0.0/33",
            "10.0.0.0/",
            "10.0.0/8",
            "fd00::/129",
            "10.0.0.0/+8",
            "x/8",
            "10.0.0.0/999",
        ] {
            let e = bad.parse::<Cidr>().expect_err(bad);
            assert_eq!(e.input, bad);
        }
    }

    #[test]
    fn bad_cidr_in_file_names_the_value() {
        let e = parse(r#"{"cni": "weave", "weave": {"password_set": true, "trusted_subnets": ["10.0.0.0/40"]}}"#)
            .expect_err("bad cidr");
        assert!(e.to_string().contains("10.0.0.0/40"), "{e}");
    }

    #[test]
    fn config_round_trips_through_json() {
        let c = parse(EXAMPLE).expect("valid");
        let text = serde_json::to_string(&c).expect("serialize");
        assert!(
            text.contains(r#""trusted_subnets":["10.0.0.0/16"]"#),
            "{text}"
        );
        assert_eq!(parse(&text).expect("reparse"), c);
    }

    #[test]
    fn from_path_reads_files_and_reports_io_errors() {
        let dir = std::env::temp_dir().join(format!("cluster-config-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("cfg.json");
        std::fs::write(
            &path,
            r#"{"cni": "calico", "calico": {"wireguard_enabled": false}}"#,
        )
        .expect("write");
        let c = ClusterConfig::from_path(&path).expect("valid");
        assert_eq!(c.calico.map(|k| k.wireguard_enabled), Some(false));
        let e = ClusterConfig::from_path(&dir.join("missing.json")).expect_err("missing");
        assert!(
            matches!(&e, ConfigError::Io { path, .. } if path.ends_with("missing.json")),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
