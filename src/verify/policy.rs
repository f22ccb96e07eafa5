//! The verification policy: thresholds, scopes, severity overrides and
//! waivers, read from YAML. The built-in defaults are a YAML file too
//! (`default-policy.yaml`, printed by `tls-audit policy --default`), so the
//! documented defaults and the effective ones cannot drift apart.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::rules;
use super::selector::Selector;
use crate::model::report::Severity;

/// The built-in policy text.
pub const DEFAULT_POLICY: &str = include_str!("default-policy.yaml");

/// Why a policy could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The YAML did not parse or did not fit the policy's shape.
    #[error("{0}")]
    Yaml(String),
    /// The YAML parsed but says something impossible.
    #[error("{0}")]
    Invalid(String),
}

/// A whole policy.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Always 1.
    pub version: u32,
    /// Protocol versions.
    #[serde(default)]
    pub tls: TlsPolicy,
    /// TA-PLAINTEXT and TA-ENCRYPTION-UNKNOWN.
    #[serde(default)]
    pub plaintext: PlaintextPolicy,
    /// TA-NO-MTLS and TA-MTLS-UNKNOWN.
    #[serde(default)]
    pub mtls: MtlsPolicy,
    /// Certificate rules.
    #[serde(default)]
    pub certificates: CertificatePolicy,
    /// SPIFFE rules.
    #[serde(default)]
    pub spiffe: SpiffePolicy,
    /// Key-exchange rules (TA-KEX-NOT-PQ, TA-WEAK-KEX).
    #[serde(default)]
    pub key_exchange: KeyExchangePolicy,
    /// Rule id → severity for every finding of that rule.
    #[serde(default)]
    pub severity: BTreeMap<String, Severity>,
    /// Accepted findings.
    #[serde(default)]
    pub waivers: Vec<Waiver>,
}

/// `tls:`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsPolicy {
    /// Lowest acceptable version, as reports name it (`TLS1.2`).
    pub min_version: String,
    /// TLS 1.2 is a (low) finding too.
    pub require_tls13: bool,
}

impl Default for TlsPolicy {
    fn default() -> Self {
        TlsPolicy {
            min_version: "TLS1.2".into(),
            require_tls13: false,
        }
    }
}

/// `plaintext:`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlaintextPolicy {
    /// Flows out of scope.
    pub exempt: Vec<Selector>,
}

impl Default for PlaintextPolicy {
    fn default() -> Self {
        PlaintextPolicy {
            exempt: vec![Selector {
                name: Some("dns".into()),
                ports: vec![53],
                ..Selector::default()
            }],
        }
    }
}

/// Which TLS flows must be mutual.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MtlsRequire {
    /// Both ends are pods (not on the host network).
    PodToPod,
    /// Every TLS flow.
    All,
    /// None.
    None,
}

/// `mtls:`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MtlsPolicy {
    /// The base scope.
    pub require: MtlsRequire,
    /// Narrows `require`.
    pub scope: Selector,
    /// Flows out of scope.
    pub exempt: Vec<Selector>,
    /// What a "yes" must rest on.
    pub evidence: MtlsEvidence,
}

/// Which verdicts satisfy the mTLS rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MtlsEvidence {
    /// Observed verdicts and TLS 1.3 size inferences alike.
    Any,
    /// Only verdicts read from the handshake (TLS ≤ 1.2 cleartext, a key
    /// log, a probe): an inferred "yes" is TA-MTLS-UNKNOWN
    /// (`inferred-only`), since a hostile client can pad its way to one.
    Observed,
}

impl Default for MtlsPolicy {
    fn default() -> Self {
        MtlsPolicy {
            require: MtlsRequire::PodToPod,
            scope: Selector::default(),
            exempt: Vec::new(),
            evidence: MtlsEvidence::Any,
        }
    }
}

/// `key_exchange:`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeyExchangePolicy {
    /// TA-WEAK-KEX below this finite-field (DHE) prime size.
    pub min_dh_bits: u32,
    /// TA-WEAK-KEX below this curve size (X25519 counts as 256).
    pub min_ec_bits: u32,
    /// Flows that must use a post-quantum key exchange: TA-KEX-NOT-PQ on
    /// them is rated `post_quantum_severity` instead of info.
    pub post_quantum_required: Vec<Selector>,
    /// The severity of TA-KEX-NOT-PQ on flows `post_quantum_required` selects.
    pub post_quantum_severity: Severity,
}

impl Default for KeyExchangePolicy {
    fn default() -> Self {
        KeyExchangePolicy {
            min_dh_bits: 2048,
            min_ec_bits: 256,
            post_quantum_required: Vec::new(),
            post_quantum_severity: Severity::Medium,
        }
    }
}

/// `certificates:`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CertificatePolicy {
    /// TA-CERT-EXPIRING window.
    pub expiry_warning: Duration,
    /// ... or this fraction of the certificate's validity, if shorter.
    pub expiry_warning_fraction: f64,
    /// Smallest acceptable RSA (and DSA, DH) key.
    pub min_rsa_bits: u32,
    /// Smallest acceptable EC key.
    pub min_ec_bits: u32,
    /// Longest acceptable workload certificate validity.
    pub max_workload_validity: Duration,
    /// Largest acceptable validity / pod age.
    pub max_validity_to_pod_age: f64,
    /// Validities at or below this are never judged against pod age.
    pub lifetime_ratio_floor: Duration,
    /// Pods younger than this count as this old.
    pub min_pod_age: Duration,
}

impl Default for CertificatePolicy {
    fn default() -> Self {
        CertificatePolicy {
            expiry_warning: Duration(7 * DAY),
            expiry_warning_fraction: 0.1,
            min_rsa_bits: 2048,
            min_ec_bits: 256,
            max_workload_validity: Duration(7 * DAY),
            max_validity_to_pod_age: 30.0,
            lifetime_ratio_floor: Duration(DAY),
            min_pod_age: Duration(3600),
        }
    }
}

/// `spiffe:`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpiffePolicy {
    /// Allowed trust domains; empty allows any.
    pub trust_domains: Vec<String>,
    /// The ID a pod must present; empty turns TA-SVID-MISMATCH off.
    pub id_template: String,
}

impl Default for SpiffePolicy {
    fn default() -> Self {
        SpiffePolicy {
            trust_domains: Vec::new(),
            id_template: "spiffe://{trust_domain}/ns/{namespace}/sa/{service_account}".into(),
        }
    }
}

/// One accepted finding.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Waiver {
    /// The rule waived.
    pub rule: String,
    /// Which flows; `{}` = all.
    #[serde(default, rename = "match")]
    pub matches: Selector,
    /// Why it is accepted.
    pub reason: String,
    /// Last day it applies, `YYYY-MM-DD`.
    pub expires: String,
}

impl Waiver {
    /// The first second after the waiver's last day (UTC), as Unix seconds.
    pub fn ends_at(&self) -> Option<i64> {
        let fmt = time::macros::format_description!("[year]-[month]-[day]");
        let day = time::Date::parse(&self.expires, fmt).ok()?;
        let next = day.next_day()?;
        Some(next.midnight().assume_utc().unix_timestamp())
    }
}

const DAY: i64 = 86_400;

/// A span of time written `90m`, `24h`, `7d` (or `3600s`); seconds inside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Duration(pub i64);

impl Duration {
    /// Parse `<number><s|m|h|d>`.
    pub fn parse(s: &str) -> Result<Duration, String> {
        let s = s.trim();
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (num, unit) = s.split_at(split);
        let n: i64 = num
            .parse()
            .map_err(|_| format!("`{s}` is not a duration (e.g. 90m, 24h, 7d)"))?;
        let scale = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => DAY,
            _ => return Err(format!("`{s}`: the unit must be s, m, h or d")),
        };
        n.checked_mul(scale)
            .map(Duration)
            .ok_or_else(|| format!("`{s}` is too long"))
    }

    /// Seconds.
    pub fn secs(self) -> i64 {
        self.0
    }
}

impl std::fmt::Display for Duration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        format_secs(self.0, f)
    }
}

/// `7d`, `36h`, `90m`, `45s`: the largest unit that divides exactly.
pub(crate) fn format_secs(s: i64, f: &mut impl std::fmt::Write) -> std::fmt::Result {
    for (unit, size) in [("d", DAY), ("h", 3600), ("m", 60)] {
        if s != 0 && s % size == 0 {
            return write!(f, "{}{unit}", s / size);
        }
    }
    write!(f, "{s}s")
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Duration::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            version: 1,
            tls: TlsPolicy::default(),
            plaintext: PlaintextPolicy::default(),
            mtls: MtlsPolicy::default(),
            certificates: CertificatePolicy::default(),
            spiffe: SpiffePolicy::default(),
            key_exchange: KeyExchangePolicy::default(),
            severity: BTreeMap::new(),
            waivers: Vec::new(),
        }
    }
}

impl Policy {
    /// Read a policy from YAML and check it.
    pub fn from_yaml(text: &str) -> Result<Policy, PolicyError> {
        let policy: Policy =
            serde_saphyr::from_str(text).map_err(|e| PolicyError::Yaml(e.to_string()))?;
        policy.validate()?;
        Ok(policy)
    }

    /// The rank of the lowest acceptable version.
    pub fn min_version_rank(&self) -> u8 {
        version_rank(&self.tls.min_version).unwrap_or(4)
    }

    /// Severity of a finding of `rule` whose own rating is `found`.
    pub fn severity_of(&self, rule: &str, found: Severity) -> Severity {
        self.severity.get(rule).copied().unwrap_or(found)
    }

    fn validate(&self) -> Result<(), PolicyError> {
        let bad = |m: String| Err(PolicyError::Invalid(m));
        if self.version != 1 {
            return bad(format!(
                "policy version {} is not supported (this tls-audit reads version 1)",
                self.version
            ));
        }
        if version_rank(&self.tls.min_version).is_none() {
            return bad(format!(
                "tls.min_version `{}` is not one of SSL2.0, SSL3.0, TLS1.0, TLS1.1, TLS1.2, TLS1.3",
                self.tls.min_version
            ));
        }
        let c = &self.certificates;
        if !(0.0..=1.0).contains(&c.expiry_warning_fraction) {
            return bad("certificates.expiry_warning_fraction must be between 0 and 1".into());
        }
        if !(c.max_validity_to_pod_age.is_finite() && c.max_validity_to_pod_age > 0.0) {
            return bad("certificates.max_validity_to_pod_age must be a positive number".into());
        }
        for rule in self.severity.keys() {
            if rules::by_id(rule).is_none() {
                return bad(format!("severity: unknown rule `{rule}`"));
            }
        }
        for td in &self.spiffe.trust_domains {
            if let Err(v) = super::spiffe::parse_spiffe_id(&format!("spiffe://{td}")) {
                return bad(format!(
                    "spiffe.trust_domains: `{td}` is not a valid trust domain ({})",
                    v[0].detail
                ));
            }
        }
        check_template(&self.spiffe.id_template).map_err(PolicyError::Invalid)?;
        let selectors = self
            .plaintext
            .exempt
            .iter()
            .chain(&self.mtls.exempt)
            .chain([&self.mtls.scope])
            .chain(&self.key_exchange.post_quantum_required)
            .chain(self.waivers.iter().map(|w| &w.matches));
        for s in selectors {
            s.validate().map_err(PolicyError::Invalid)?;
        }
        for (i, w) in self.waivers.iter().enumerate() {
            if rules::by_id(&w.rule).is_none() {
                return bad(format!("waivers[{i}]: unknown rule `{}`", w.rule));
            }
            if w.reason.trim().is_empty() {
                return bad(format!("waivers[{i}]: a waiver needs a reason"));
            }
            if w.ends_at().is_none() {
                return bad(format!(
                    "waivers[{i}]: expires `{}` is not a date (YYYY-MM-DD)",
                    w.expires
                ));
            }
        }
        Ok(())
    }
}

/// Versions in order: 0 SSL2.0 … 5 TLS1.3 (drafts and experiments count as 1.3).
pub fn version_rank(v: &str) -> Option<u8> {
    Some(match v {
        "SSL2.0" => 0,
        "SSL3.0" => 1,
        "TLS1.0" => 2,
        "TLS1.1" => 3,
        "TLS1.2" => 4,
        v if v.starts_with("TLS1.3") => 5,
        _ => return None,
    })
}

const PLACEHOLDERS: [&str; 4] = [
    "{trust_domain}",
    "{namespace}",
    "{service_account}",
    "{pod}",
];

fn check_template(t: &str) -> Result<(), String> {
    if t.is_empty() {
        return Ok(());
    }
    if !t.starts_with("spiffe://") {
        return Err(format!(
            "spiffe.id_template `{t}` must start with spiffe://"
        ));
    }
    let mut rest = t;
    while let Some(open) = rest.find('{') {
        let after = &rest[open..];
        match PLACEHOLDERS.iter().find(|p| after.starts_with(**p)) {
            Some(p) => rest = &after[p.len()..],
            None => {
                return Err(format!(
                    "spiffe.id_template: unknown placeholder at `{}` (known: {})",
                    after.chars().take(20).collect::<String>(),
                    PLACEHOLDERS.join(", ")
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The printed defaults are the effective defaults.
    #[test]
    fn default_yaml_is_the_default() {
        assert_eq!(
            Policy::from_yaml(DEFAULT_POLICY).unwrap(),
            Policy::default()
        );
        assert_eq!(
            Policy::from_yaml("version: 1\n").unwrap(),
            Policy::default()
        );
    }

    #[test]
    fn partial_policy_keeps_other_defaults() {
        let p = Policy::from_yaml(
            "version: 1\ncertificates:\n  expiry_warning: 30d\nmtls:\n  require: all\n",
        )
        .unwrap();
        assert_eq!(p.certificates.expiry_warning, Duration(30 * DAY));
        assert_eq!(p.certificates.min_rsa_bits, 2048);
        assert_eq!(p.mtls.require, MtlsRequire::All);
        assert_eq!(p.plaintext, PlaintextPolicy::default());
    }

    #[test]
    fn mistakes_are_reported_with_their_place() {
        let err = |y: &str| Policy::from_yaml(y).unwrap_err().to_string();
        assert!(err("version: 1\ntls:\n  min_verison: TLS1.3\n").contains("min_verison"));
        assert!(err("version: 2\n").contains("version 2"));
        assert!(err("version: 1\ntls: {min_version: TLS9}\n").contains("TLS9"));
        assert!(err("version: 1\nseverity: {TA-NOPE: high}\n").contains("TA-NOPE"));
        assert!(err("version: 1\nseverity: {TA-CHAIN: severe}\n").contains("severe"));
        assert!(err("version: 1\ncertificates: {expiry_warning: 7w}\n").contains("unit"));
        assert!(
            err("version: 1\nspiffe: {trust_domains: [Example.org]}\n").contains("Example.org")
        );
        assert!(
            err("version: 1\nspiffe: {id_template: 'spiffe://x/{ns}'}\n").contains("placeholder")
        );
        let waiver = |w: &str| err(&format!("version: 1\nwaivers:\n  - {w}\n"));
        assert!(waiver("{rule: TA-CHAIN, reason: '', expires: 2027-01-01}").contains("reason"));
        assert!(waiver("{rule: TA-CHAIN, reason: x, expires: soon}").contains("soon"));
        assert!(waiver("{rule: TA-X, reason: x, expires: 2027-01-01}").contains("TA-X"));
        assert!(waiver("{rule: TA-CHAIN, reason: x}").contains("expires"));
        assert!(
            waiver(
                "{rule: TA-CHAIN, reason: x, expires: 2027-01-01, match: {servers: [10.0.0.0/33]}}"
            )
            .contains("10.0.0.0/33")
        );
    }

    #[test]
    fn durations() {
        assert_eq!(Duration::parse("90m"), Ok(Duration(5400)));
        assert_eq!(Duration::parse("7d"), Ok(Duration(7 * DAY)));
        assert_eq!(Duration::parse("3600s"), Ok(Duration(3600)));
        assert!(Duration::parse("7").is_err());
        assert!(Duration::parse("d").is_err());
        assert!(Duration::parse("99999999999999999999d").is_err());
        assert_eq!(Duration(7 * DAY).to_string(), "7d");
        assert_eq!(Duration(36 * 3600).to_string(), "36h");
        assert_eq!(Duration(61).to_string(), "61s");
    }

    #[test]
    fn waiver_end_is_the_end_of_its_last_day() {
        let w = Waiver {
            rule: "TA-CHAIN".into(),
            matches: Selector::default(),
            reason: "r".into(),
            expires: "2027-01-31".into(),
        };
        // 2027-02-01T00:00:00Z
        assert_eq!(w.ends_at(), Some(1_801_440_000));
    }

    #[test]
    fn versions_rank_in_order() {
        let order = ["SSL2.0", "SSL3.0", "TLS1.0", "TLS1.1", "TLS1.2", "TLS1.3"];
        for pair in order.windows(2) {
            assert!(version_rank(pair[0]) < version_rank(pair[1]));
        }
        assert_eq!(version_rank("TLS1.3-draft-18"), Some(5));
        assert_eq!(version_rank("0x1234"), None);
    }
}
