//! Which compliance controls each rule bears on (PCI DSS 4.0.1, HIPAA
//! 164.312). The catalog is data, `reports/controls/catalog.json`, with the
//! control texts, their scope caveats and their sources; findings carry the
//! references in `controls`.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

/// The catalog as shipped.
pub const CATALOG_JSON: &str = include_str!("../../reports/controls/catalog.json");

/// The control catalog.
#[derive(Debug, Clone, Deserialize)]
pub struct Catalog {
    /// Format version (1).
    pub format: u32,
    /// Where the texts come from, and how sure they are.
    pub about: String,
    /// The frameworks the controls come from, and the documents quoted.
    #[serde(default)]
    pub sources: Vec<Source>,
    /// The controls.
    pub controls: Vec<Control>,
    /// Rule id → control references.
    pub rules: BTreeMap<String, Vec<String>>,
}

/// One framework (`--compliance` names it by `key` or an alias).
#[derive(Debug, Clone, Deserialize)]
pub struct Source {
    /// The name `--compliance` takes, e.g. `pci-dss-4.0.1`.
    pub key: String,
    /// Other names accepted for it.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// `PCI DSS` or `HIPAA`, as in [`Control::framework`].
    pub framework: String,
    /// The version quoted.
    pub version: String,
    /// The document.
    pub document: String,
    /// The public URL of the official document.
    #[serde(default)]
    pub reference: String,
}

impl Catalog {
    /// The framework `--compliance` names `name` (its key or an alias).
    pub fn source(&self, name: &str) -> Option<&Source> {
        let name = name.trim().to_ascii_lowercase();
        self.sources
            .iter()
            .find(|s| s.key == name || s.aliases.contains(&name))
    }

    /// The controls of one framework, in catalog order.
    pub fn controls_of<'a>(&'a self, source: &'a Source) -> impl Iterator<Item = &'a Control> {
        self.controls
            .iter()
            .filter(move |c| c.framework == source.framework)
    }
}

/// How a control's status is decided from a report. The method names the
/// evaluator (`findings`, `certificate-inventory`, `protocol-inventory`,
/// `admin-access`, `authentication-in-transit`); the rest are its parameters, so the
/// judgement can be read and reviewed here rather than in code.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Evaluation {
    /// Which evaluator decides.
    pub method: String,
    /// What counts as in scope: `flows`, `tls-flows`, `admin-flows`.
    #[serde(default)]
    pub in_scope: String,
    /// `public-networks` (problems on internal flows only need review) or
    /// `any-network`.
    #[serde(default)]
    pub scope: String,
    /// Rules whose findings only ever need review for this control.
    #[serde(default)]
    pub review_rules: Vec<String>,
    /// Rules whose findings on an in-scope flow fail it (`admin-access`)
    /// or need review (`authentication-in-transit`); for
    /// `protocol-inventory`, the rules that flag a version or suite as weak.
    #[serde(default)]
    pub weak_rules: Vec<String>,
    /// What plaintext and unproven-encryption flows mean when no finding
    /// maps them to this control: `ignore`, `review` or `fail`.
    #[serde(default)]
    pub unprotected_flows: String,
    /// The worst status the control can have (`needs-review` for
    /// addressable specifications); empty for none.
    #[serde(default)]
    pub cap: String,
    /// Server ports of administrative interfaces (`admin-access`).
    #[serde(default)]
    pub admin_ports: Vec<u16>,
    /// Application protocols that are administrative (`admin-access`).
    #[serde(default)]
    pub admin_protocols: Vec<String>,
    /// Cleartext protocols whose sessions begin with a login (`authentication-in-transit`: fail).
    #[serde(default)]
    pub login_protocols: Vec<String>,
    /// Cleartext protocols that can carry credentials (`authentication-in-transit`: review).
    #[serde(default)]
    pub credential_protocols: Vec<String>,
    /// How the status is decided, for people.
    #[serde(default)]
    pub how_decided: String,
}

/// One control.
#[derive(Debug, Clone, Deserialize)]
pub struct Control {
    /// The reference findings carry, e.g. `PCI DSS 4.0.1 4.2.1`.
    #[serde(rename = "ref")]
    pub reference: String,
    /// `PCI DSS` or `HIPAA`.
    pub framework: String,
    /// The control's own number.
    pub id: String,
    /// A short title.
    #[serde(default)]
    pub title: String,
    /// `required` or `addressable` (HIPAA 164.306(d)(3)).
    #[serde(default)]
    pub obligation: String,
    /// Its text, as quoted in the sources.
    pub text: String,
    /// What a reader must know before calling it passed or failed.
    pub scope_note: String,
    /// Where the text and its reading come from.
    #[serde(default)]
    pub source: String,
    /// How tls-audit decides its status.
    #[serde(default)]
    pub evaluation: Evaluation,
}

/// The shipped catalog, parsed once. `None` only if the file shipped with
/// the binary does not parse, which a test rules out.
pub fn catalog() -> Option<&'static Catalog> {
    static CATALOG: OnceLock<Option<Catalog>> = OnceLock::new();
    CATALOG
        .get_or_init(|| serde_json::from_str(CATALOG_JSON).ok())
        .as_ref()
}

/// The control references of `rule` (empty for a rule the catalog does not
/// map).
pub fn for_rule(rule: &str) -> Vec<String> {
    catalog()
        .and_then(|c| c.rules.get(rule))
        .cloned()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::rules;

    /// Every rule is mapped, every reference names a control, every control
    /// is used or explains why not.
    #[test]
    fn catalog_is_complete_and_consistent() {
        let c = catalog().expect("the shipped catalog parses");
        assert_eq!(c.format, 1);
        let refs: Vec<&str> = c.controls.iter().map(|k| k.reference.as_str()).collect();
        for r in rules::ALL {
            let mapped = c
                .rules
                .get(r.id)
                .unwrap_or_else(|| panic!("{} not mapped", r.id));
            // An info rule may bear on no control by itself (TA-KEX-NOT-PQ:
            // classical key exchange fails no control today; it feeds the
            // crypto inventory instead).
            assert!(
                !mapped.is_empty() || r.severity == crate::model::report::Severity::Info,
                "{}",
                r.id
            );
            for m in mapped {
                assert!(refs.contains(&m.as_str()), "{}: unknown control {m}", r.id);
            }
        }
        for k in rules::ALL.iter().map(|r| r.id) {
            assert!(c.rules.contains_key(k));
        }
        assert!(c.rules.keys().all(|k| rules::by_id(k).is_some()));
        for k in &c.controls {
            let used = c.rules.values().any(|v| v.contains(&k.reference));
            assert!(used || !k.scope_note.is_empty(), "{}", k.reference);
            assert!(!k.text.is_empty());
        }
        assert_eq!(
            for_rule("TA-NO-MTLS"),
            ["HIPAA 164.312(d)", "PCI DSS 4.0.1 4.2.1"]
        );
        assert!(for_rule("TA-NOPE").is_empty());
        // Every control can be evaluated, and every framework has controls.
        for k in &c.controls {
            let e = &k.evaluation;
            assert!(
                [
                    "findings",
                    "certificate-inventory",
                    "protocol-inventory",
                    "admin-access",
                    "authentication-in-transit"
                ]
                .contains(&e.method.as_str()),
                "{}: method {}",
                k.reference,
                e.method
            );
            assert!(
                !e.how_decided.is_empty() && !k.source.is_empty(),
                "{}",
                k.reference
            );
            assert!(["required", "addressable"].contains(&k.obligation.as_str()));
            assert!(["", "needs-review"].contains(&e.cap.as_str()));
            assert!(["", "ignore", "review", "fail"].contains(&e.unprotected_flows.as_str()));
            for r in e.review_rules.iter().chain(&e.weak_rules) {
                assert!(rules::by_id(r).is_some(), "{}: {r}", k.reference);
            }
            assert!(c.sources.iter().any(|s| s.framework == k.framework));
        }
        for s in &c.sources {
            assert!(c.controls_of(s).count() >= 4, "{}", s.key);
        }
        assert_eq!(
            c.source("PCI-DSS").map(|s| s.key.as_str()),
            Some("pci-dss-4.0.1")
        );
        assert_eq!(c.source("hipaa").map(|s| s.key.as_str()), Some("hipaa"));
        assert!(c.source("soc2").is_none());
    }
}
