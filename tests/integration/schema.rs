//! Every report we can produce validates against the published JSON Schema
//! (`reports/report-v1.schema.json`), checked by an independent validator
//! (Python's `jsonschema`).

use tls_audit::engine::{self, Config};
use tls_audit::report::compliance::evaluate;
use tls_audit::report::{metadata, render_json};

use crate::support::{self, pcap_with_hellos, temp_dir};

fn reports_validate_against_the_published_schema() {
    let dir = temp_dir("schema");
    let mut inputs: Vec<String> = Vec::new();
    let synthetic = dir.join("synthetic.pcap");
    std::fs::write(
        &synthetic,
        pcap_with_hellos(&[45001, 45002], 1_700_000_000_000_000, "x.example"),
    )
    .unwrap();
    inputs.push(synthetic.to_string_lossy().into());
    let fixtures = support::root().join("fixtures").join("captures");
    for entry in std::fs::read_dir(&fixtures).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.extension().is_some_and(|e| e == "pcap" || e == "pcapng") {
            inputs.push(p.to_string_lossy().into());
        }
    }
    if let Some(shared) = support::shared() {
        // A spread of odd corpus captures: tunnels, damage, STARTTLS, SSLv2, drafts.
        for case in [
            "arkime/arkime_synthetic.pcap/arkime_synthetic.pcap",
            "suricata-verify/bug-1450-04/tls_DER-incomplete-header.pcap",
            "zeek/tls__tls13draft23-chrome67.0.3368.0-canary.pcap/tls13draft23-chrome67.0.3368.0-canary.pcap",
            "zeek/tls__ssl-v2.pcap/ssl-v2.pcap",
            "suricata-verify/pgsql__pgsql-upgrade-tls/pgsql-upgrade-tls.pcap",
        ] {
            let p = shared.join("corpus").join(case);
            if p.is_file() {
                inputs.push(p.to_string_lossy().into());
            }
        }
    }
    let mut written = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        // The fixtures are verified (findings, pods); the rest are facts only.
        let report = if input.contains("fixtures/captures") {
            let mut r = crate::findings::verify_capture(std::path::Path::new(input));
            // Every other fixture report carries the compliance views and
            // the metadata, as `analyze --compliance` writes them.
            if i % 2 == 0 {
                r.compliance = Some(evaluate(&r, &["pci-dss-4.0.1", "hipaa"]).unwrap());
                r.metadata = Some(metadata::of(&r, Some("fixture".into()), Default::default()));
            }
            r
        } else {
            engine::analyze_files(&[input.as_str()], &Config::default())
                .unwrap_or_else(|e| panic!("{input}: {e}"))
        };
        let out = dir.join(format!("report-{i}.json"));
        std::fs::write(&out, render_json(&report)).unwrap();
        written.push(out);
    }
    let (n, errors) = support::validate_with_schema("report-v1.schema.json", &written, false)
        .expect("jsonschema (listed as needed)");
    assert_eq!(n, written.len());
    assert!(errors.is_empty(), "{errors:#?}");
    // The check must be able to fail: a report with a protection value
    // outside the contract, a missing field and a malformed finding is
    // rejected, each.
    let mut broken: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&written[0]).unwrap()).unwrap();
    broken["flows"][0]["protection"] = "probably-fine".into();
    broken["stats"].as_object_mut().unwrap().remove("flows");
    broken["findings"] = serde_json::json!([{"rule": "TA-NO-MTLS", "severity": "severe"}]);
    let broken_path = dir.join("broken.json");
    std::fs::write(&broken_path, broken.to_string()).unwrap();
    let (_, caught) =
        support::validate_with_schema("report-v1.schema.json", &[broken_path], false).unwrap();
    assert!(caught.len() >= 3, "{caught:#?}");
    let verified = written
        .iter()
        .filter(|f| {
            let r: serde_json::Value = serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap();
            r["findings"].as_array().is_some_and(|a| !a.is_empty())
        })
        .count();
    println!(
        "validated {n} reports, 0 errors; broken copy: {} errors; reports with findings: {verified}",
        caught.len()
    );
    assert!(verified >= 10, "{verified} reports with findings");
    assert!(written.len() >= 2);
}

/// The warning kinds the code can write (the closed `WarningKind`) are
/// exactly those the schema names: the schema's list is closed, so a new
/// kind must be added there too, and a kind dropped from the code must
/// leave it.
fn every_warning_kind_is_in_the_schema() {
    let schema: serde_json::Value = serde_json::from_slice(
        &std::fs::read(support::root().join("reports/report-v1.schema.json")).unwrap(),
    )
    .unwrap();
    let mut allowed: Vec<&str> =
        schema["properties"]["warnings"]["items"]["properties"]["kind"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
    let mut written: Vec<&str> = tls_audit::model::WarningKind::ALL
        .iter()
        .map(|k| k.as_str())
        .collect();
    allowed.sort_unstable();
    written.sort_unstable();
    assert_eq!(written, allowed);
    // Each word reads back as its kind (a saved report, an event stream).
    for k in tls_audit::model::WarningKind::ALL {
        let back: tls_audit::model::WarningKind =
            serde_json::from_value(serde_json::json!(k.as_str())).unwrap();
        assert_eq!(back, *k);
    }
}

/// This module's tests, as the harness lists them (`main.rs`).
pub(crate) fn tests() -> Vec<crate::runner::Test> {
    use crate::runner::{Need, Test};
    vec![
        Test::new(
            module_path!(),
            "reports_validate_against_the_published_schema",
            reports_validate_against_the_published_schema,
        )
        .needs(&[Need::Python("jsonschema")]),
        Test::new(
            module_path!(),
            "every_warning_kind_is_in_the_schema",
            every_warning_kind_is_in_the_schema,
        ),
    ]
}
