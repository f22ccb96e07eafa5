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
    /// The controls.
    pub controls: Vec<Control>,
    /// Rule id → control references.
    pub rules: BTreeMap<String, Vec<String>>,
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
    /// Its text, as quoted in the sources.
    pub text: String,
    /// What a reader must know before calling it passed or failed.
    pub scope_note: String,
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
    use crate::verify::rules;

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
            assert!(!mapped.is_empty(), "{}", r.id);
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
    }
}
