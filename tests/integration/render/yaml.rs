//! YAML: PyYAML (a real consumer) reads back the same document the JSON
//! report is, hostile strings and all; and a snapshot.

use tls_audit::report::model::Report;
use tls_audit::report::{render_json, render_yaml};

fn same_as_json(name: &str, r: &Report) {
    let yaml = super::common::write(&format!("{name}.yaml"), &render_yaml(r));
    let json = super::common::write(&format!("{name}.json"), &render_json(r));
    let out = std::process::Command::new("python3")
        .arg(crate::support::root().join("tests/render-data/py/check_yaml.py"))
        .arg(&yaml)
        .arg(&json)
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{name}: YAML and JSON differ: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["same"], true);
}

fn yaml_reads_back_as_the_json_document() {
    let r = super::common::with_compliance(super::common::combined());
    super::common::snapshot("combined.yaml", &render_yaml(&r));
    same_as_json("combined", &r);
    let mut hostile = super::common::hostile();
    // Strings YAML would read as other types, or that need quoting.
    hostile.findings[1].message = "yes".into();
    hostile.findings[2].message = "0x1F: null ~ - [a] {b} #c &d *e !f %g @h `i".into();
    hostile.warnings.push(tls_audit::report::model::Warning {
        kind: tls_audit::model::WarningKind::Snaplen,
        message: "\u{2028}\u{feff}\t'\"".into(),
    });
    same_as_json("hostile", &hostile);
}

/// This module's tests, as the harness lists them (`main.rs`).
pub(crate) fn tests() -> Vec<crate::runner::Test> {
    use crate::runner::Test;
    vec![Test::new(
        module_path!(),
        "yaml_reads_back_as_the_json_document",
        yaml_reads_back_as_the_json_document,
    )]
}
