//! SARIF 2.1.0: valid against the SARIF schemas (tests/data, with strict
//! formats), against GitHub code scanning's documented ingestion rules
//! (`check_github_sarif.py`) and, where `SARIF_MULTITOOL` names it,
//! Microsoft's SARIF Multitool; results match findings; fingerprints are
//! stable across redeploys and distinct; locations point at manifests.

use std::collections::BTreeSet;
use std::process::Command;

use serde_json::{Value, json};
use tls_audit::model::time::CaptureTime;
use tls_audit::report::model::{Report, Severity};
use tls_audit::report::render_sarif;
use tls_audit::verify::rules;

fn validate(name: &str, report: &Report) -> Value {
    validate_text(name, &render_sarif(report))
}

fn validate_text(name: &str, text: &str) -> Value {
    let path = super::common::write(name, text);
    let (out, ok) = super::common::python("check_sarif.py", &path);
    assert!(ok, "{} is not valid SARIF:\n{out}", path.display());
    assert_eq!(out.matches(": 0 errors").count(), 2, "{out}");
    let (out, ok) = super::common::python("check_github_sarif.py", &path);
    assert!(ok, "{} breaks GitHub's rules:\n{out}", path.display());
    assert!(out.contains("github: 0 errors"), "{out}");
    if let Some(errors) = multitool(&path) {
        assert_eq!(errors, Vec::<String>::new(), "{}", path.display());
    }
    serde_json::from_str(text).expect("SARIF is JSON")
}

/// Microsoft's validator, where `SARIF_MULTITOOL` names it: the SARIF rules
/// and GitHub Advanced Security's, errors only (its warnings and notes are
/// advice, e.g. to give an `informationUri`, or rule ids like `CS2001`).
/// The error lines; `None` without the tool.
fn multitool(path: &std::path::Path) -> Option<Vec<String>> {
    let tool = std::env::var_os("SARIF_MULTITOOL")?;
    let out = Command::new(tool)
        .args(["validate", "--level", "Error", "--rule-kind", "Sarif;Ghas"])
        .args(["--log", "ForceOverwrite", "--output"])
        .arg(path.with_extension("validation.sarif"))
        .arg(path)
        .env("DOTNET_SYSTEM_GLOBALIZATION_INVARIANT", "1")
        .output()
        .expect("SARIF Multitool runs");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("Analysis completed successfully"), "{said}");
    Some(
        said.lines()
            .filter(|l| l.contains(": error "))
            .map(str::to_string)
            .collect(),
    )
}

fn run(log: &Value) -> &Value {
    &log["runs"][0]
}

fn every_fixture_is_valid_sarif_with_one_result_per_finding() {
    for capture in super::common::CAPTURES {
        let r = super::common::report(&[capture], Some(Severity::High));
        let log = validate(&format!("{capture}.sarif"), &r);
        assert_eq!(log["version"], "2.1.0");
        assert_eq!(
            log["$schema"],
            "https://json.schemastore.org/sarif-2.1.0.json"
        );
        let results = run(&log)["results"].as_array().unwrap();
        assert_eq!(results.len(), r.findings.len(), "{capture}");
        for (res, f) in results.iter().zip(&r.findings) {
            assert_eq!(res["ruleId"], f.rule.as_str());
            assert_eq!(res["message"]["text"], f.message.as_str());
            assert_eq!(res["properties"]["occurrences"], f.occurrences);
            assert_eq!(res["properties"]["evidence"], json!(f.evidence));
            assert_eq!(res["properties"]["firstFlow"], json!(f.flow));
        }
    }
}

fn rules_are_the_catalogue() {
    let log = validate("combined.sarif", &super::common::combined());
    let driver = &run(&log)["tool"]["driver"];
    assert_eq!(driver["name"], "tls-audit");
    assert_eq!(
        driver["version"],
        super::common::combined().tool.version.as_str()
    );
    assert_eq!(driver["informationUri"], env!("CARGO_PKG_REPOSITORY"));
    let sarif_rules = driver["rules"].as_array().unwrap();
    assert_eq!(sarif_rules.len(), rules::ALL.len());
    for (s, r) in sarif_rules.iter().zip(rules::ALL) {
        assert_eq!(s["id"], r.id);
        assert_eq!(s["shortDescription"]["text"], r.title);
        assert_eq!(s["help"]["text"], r.remediation);
        assert_eq!(
            s["properties"]["helpPath"],
            format!("docs/rules/{}.md", r.id)
        );
        let page = crate::support::root().join(s["properties"]["helpPath"].as_str().unwrap());
        assert!(page.is_file(), "{}", page.display());
        // Absolute, under the default base, ending in the same page.
        let uri = s["helpUri"].as_str().unwrap();
        assert_eq!(
            uri,
            format!("{}{}.md", tls_audit::report::links::DEFAULT_DOCS_URL, r.id)
        );
        assert!(uri.starts_with("https://"), "{uri}");
        let want = match r.severity {
            Severity::Critical | Severity::High => "error",
            Severity::Medium => "warning",
            Severity::Low | Severity::Info => "note",
        };
        assert_eq!(s["defaultConfiguration"]["level"], want, "{}", r.id);
    }
    let no_mtls = sarif_rules
        .iter()
        .find(|s| s["id"] == "TA-NO-MTLS")
        .unwrap();
    assert_eq!(no_mtls["name"], "NoMtls");
}

fn combined_results_levels_locations_and_notifications() {
    let r = super::common::combined();
    let log = validate("combined-detail.sarif", &r);
    let results = run(&log)["results"].as_array().unwrap();
    let by_rule = |id: &str| results.iter().find(|x| x["ruleId"] == id).unwrap();
    let no_mtls = by_rule("TA-NO-MTLS");
    assert_eq!(no_mtls["level"], "error");
    assert_eq!(
        rules::ALL[no_mtls["ruleIndex"].as_u64().unwrap() as usize].id,
        "TA-NO-MTLS"
    );
    // The pod's workload (ReplicaSet api-7d9f8b6c5 with that
    // pod-template-hash: Deployment api), a synthetic artifact at line 1.
    assert_eq!(
        no_mtls["locations"],
        json!([{
            "physicalLocation": {
                "artifactLocation": {"uri": "k8s/pay/Deployment/api"},
                "region": {"startLine": 1},
            },
            "logicalLocations": [{
                "name": "pay/Deployment/api sa=api",
                "kind": "resource",
                "fullyQualifiedName": "pay/pod/api-7d9f8b6c5-x2k4p",
            }],
        }])
    );
    assert!(results.iter().all(|x| x.get("baselineState").is_none()));
    assert_eq!(no_mtls["properties"]["severity"], "high");
    assert_eq!(by_rule("TA-CERT-LIFETIME")["level"], "warning");
    assert!(results.iter().all(|x| x.get("suppressions").is_none()));
    let inv = &run(&log)["invocations"][0];
    assert_eq!(inv["executionSuccessful"], true);
    assert_eq!(inv["properties"]["gate"], "fail");
    assert_eq!(inv["properties"]["failOn"], "high");
    let notes = inv["toolExecutionNotifications"].as_array().unwrap();
    assert_eq!(notes.len(), 9);
    assert_eq!(notes[0]["associatedRule"]["id"], "TA-CERT-EXPIRED");
    assert_eq!(
        notes[0]["message"]["text"],
        "TA-CERT-EXPIRED not checked on 1 flows: certificates-encrypted"
    );
}

fn hostile_text_and_waivers() {
    let r = super::common::hostile();
    let log = validate("hostile.sarif", &r);
    let results = run(&log)["results"].as_array().unwrap();
    assert_eq!(results.len(), r.findings.len());
    let evil = &results[0];
    assert_eq!(evil["level"], "error");
    assert_eq!(
        evil["message"]["text"],
        format!("SSL3.0 {}", super::common::HOSTILE)
    );
    assert_eq!(
        evil["locations"][0]["logicalLocations"][0]["name"],
        "evil<ns>&\"'/Pod/pod\u{1}|* sa=sa"
    );
    // Hostile names are percent-encoded in the artifact's URI.
    assert_eq!(
        evil["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "k8s/evil%3Cns%3E%26%22%27/Pod/pod%01%7C%2A"
    );
    assert_eq!(
        results[1]["properties"]["evidence"]["sni"],
        super::common::HOSTILE
    );
    let waived = results.last().unwrap();
    assert_eq!(
        waived["suppressions"],
        json!([{
            "kind": "external",
            "status": "accepted",
            "justification": format!("legacy partner {}", super::common::HOSTILE),
            "properties": {"expires": "2027-01-31", "waiverIndex": 0},
        }])
    );
}

fn fingerprints(log: &Value) -> Vec<String> {
    run(log)["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            x["partialFingerprints"]["tlsAuditFinding/v2"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

fn fingerprints_are_stable_and_distinct() {
    let r = super::common::combined();
    let log: Value = serde_json::from_str(&render_sarif(&r)).unwrap();
    let fps = fingerprints(&log);
    assert!(fps.iter().all(|f| f.len() == 64));
    assert_eq!(fps.iter().collect::<BTreeSet<_>>().len(), fps.len());

    // The same findings from a capture alone: the same fingerprints.
    let alone = super::common::report(&["openssl-tls12-server-only"], Some(Severity::High));
    let alone_fps = fingerprints(&serde_json::from_str(&render_sarif(&alone)).unwrap());
    for (f, fp) in alone.findings.iter().zip(&alone_fps) {
        let i = r.findings.iter().position(|g| g.rule == f.rule).unwrap();
        assert_eq!(&fps[i], fp, "{}", f.rule);
    }

    // Another day: other client ports, times, counts, waivers and severity.
    let mut later = r.clone();
    for f in &mut later.findings {
        f.occurrences += 41;
        f.flow.client = "10.200.0.1:50000".into();
        f.flow.first_seen = CaptureTime::parse("2026-12-01T00:00:00Z").unwrap();
        f.last_seen = CaptureTime::parse("2026-12-02T00:00:00Z").unwrap();
        f.peer.endpoint = "10.200.0.1:50001".into();
        f.message.push_str(" (again)");
        f.severity = Severity::Low;
    }
    assert_eq!(
        fingerprints(&serde_json::from_str(&render_sarif(&later)).unwrap()),
        fps
    );

    // Another subject (another workload; a pod's own name is not part of
    // it) or another rule: another fingerprint.
    let mut moved = r.clone();
    let pod = moved.findings[0].subject.pod.as_mut().unwrap();
    pod.workload.as_mut().unwrap().name = "api-other".into();
    moved.findings[1].rule = "TA-ENCRYPTION-UNKNOWN".into();
    let moved_fps = fingerprints(&serde_json::from_str(&render_sarif(&moved)).unwrap());
    assert_ne!(moved_fps[0], fps[0]);
    assert_ne!(moved_fps[1], fps[1]);
    assert_eq!(moved_fps[2..], fps[2..]);
}

fn facts_only_report_is_valid_with_no_results() {
    let mut r = super::common::combined();
    r.verification = None;
    r.findings.clear();
    let log = validate("facts.sarif", &r);
    assert_eq!(run(&log)["results"], json!([]));
    assert_eq!(
        run(&log)["tool"]["driver"]["rules"]
            .as_array()
            .unwrap()
            .len(),
        rules::ALL.len()
    );
}

fn output_is_deterministic() {
    let r = super::common::hostile();
    let again: Report = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
    assert_eq!(render_sarif(&r), render_sarif(&again));
}

/// The validation is live: a relative `helpUri` (which SARIF requires to be
/// absolute), an unknown level and an unknown property are caught.
fn the_validators_reject_what_sarif_forbids() {
    let good: Value = serde_json::from_str(&render_sarif(&super::common::combined())).unwrap();
    let mut log = good.clone();
    log["runs"][0]["tool"]["driver"]["rules"][0]["helpUri"] = json!("docs/rules/TA-PLAINTEXT.md");
    log["runs"][0]["results"][0]["level"] = json!("fatal");
    let path = super::common::write("broken.sarif", &log.to_string());
    let (out, ok) = super::common::python("check_sarif.py", &path);
    assert!(!ok, "{out}");
    assert_eq!(out.matches("is not a 'uri'").count(), 2, "{out}");
    assert_eq!(out.matches("'fatal' is not one of").count(), 2, "{out}");

    // The Multitool 5.7.0 reports nothing at all for a log with an unknown
    // level (it cannot read it), so it gets an unknown property instead.
    let mut log = good;
    log["runs"][0]["tool"]["driver"]["rules"][0]["helpUri"] = json!("docs/rules/TA-PLAINTEXT.md");
    log["runs"][0]["results"][0]["foo"] = json!(1);
    let path = super::common::write("broken-multitool.sarif", &log.to_string());
    if let Some(errors) = multitool(&path) {
        assert!(errors.iter().any(|e| e.contains("SARIF1005")), "{errors:?}");
        assert!(errors.iter().any(|e| e.contains("JSON1005")), "{errors:?}");
    }
}

/// Issue 17: a redeploy renames every pod (a new pod-template-hash, new
/// random suffixes, new IPs); the alerts must stay the same alerts.
fn a_redeploy_keeps_the_fingerprints() {
    let r = super::common::combined();
    let fps = fingerprints(&serde_json::from_str(&render_sarif(&r)).unwrap());
    let mut redeployed = r.clone();
    let mut renamed = 0;
    for f in &mut redeployed.findings {
        for s in [&mut f.subject, &mut f.peer] {
            if let Some(p) = &mut s.pod {
                assert!(p.workload.is_some(), "{}", p.name);
                p.name = format!("{}-5c4b3a2f1-zz9qq", p.workload.as_ref().unwrap().name);
                renamed += 1;
            }
            s.endpoint = s.endpoint.replace("10.200.0.", "10.200.9.");
        }
        f.flow.client = f.flow.client.replace("10.200.0.", "10.200.9.");
        f.flow.server = f.flow.server.replace("10.200.0.", "10.200.9.");
    }
    assert!(renamed > 0);
    let after = fingerprints(&serde_json::from_str(&render_sarif(&redeployed)).unwrap());
    assert_eq!(after, fps);
    // Another workload is another alert.
    let mut other = r.clone();
    let pod = other.findings[0].subject.pod.as_mut().unwrap();
    pod.workload.as_mut().unwrap().name = "billing".into();
    let other_fps = fingerprints(&serde_json::from_str(&render_sarif(&other)).unwrap());
    assert_ne!(other_fps[0], fps[0]);
}

/// `--manifests`: results point at the file and line of the workload's
/// manifest; others keep their synthetic artifact. With a baseline each
/// result says new or unchanged.
fn manifests_and_baseline_states() {
    use tls_audit::report::RenderOptions;
    use tls_audit::report::baseline::{self, Baseline};
    use tls_audit::report::manifests::Manifests;

    let d = crate::support::temp_dir("sarif-manifests");
    std::fs::create_dir_all(d.join("deploy")).unwrap();
    std::fs::write(
        d.join("deploy/pay.yaml"),
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: api\n  namespace: pay\n---\n\
         apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\n  namespace: pay\nspec:\n  replicas: 2\n",
    )
    .unwrap();
    let opts = RenderOptions {
        manifests: Some(Manifests::load(&d).unwrap()),
        ..RenderOptions::default()
    };
    let mut r = super::common::combined();
    // The baseline: the same report without its first finding.
    let mut base = r.clone();
    let first = base.findings.remove(0);
    baseline::apply(
        &mut r,
        &Baseline::of(
            base,
            tls_audit::report::metadata::SourceReport::of("base.json", b"{}"),
        ),
    );
    let log = validate_text(
        "manifests.sarif",
        &tls_audit::report::render_sarif_with(&r, &opts),
    );
    let results = run(&log)["results"].as_array().unwrap();
    let mut located = 0;
    for (res, f) in results.iter().zip(&r.findings) {
        let loc = &res["locations"][0]["physicalLocation"];
        let in_pay_api = f.subject.pod.as_ref().is_some_and(|p| {
            p.namespace == "pay" && p.workload.as_ref().is_some_and(|w| w.name == "api")
        });
        if in_pay_api {
            located += 1;
            assert_eq!(loc["artifactLocation"]["uri"], "deploy/pay.yaml");
            assert_eq!(loc["region"]["startLine"], 7);
        } else {
            assert_ne!(loc["artifactLocation"]["uri"], "deploy/pay.yaml");
        }
    }
    assert!(located > 0);
    assert_eq!(results[0]["ruleId"], first.rule.as_str());
    assert_eq!(results[0]["baselineState"], "new");
    assert!(
        results[1..]
            .iter()
            .all(|x| x["baselineState"] == "unchanged"),
        "{results:?}"
    );
}

/// The GitHub check is live: what `upload-sarif` refuses is caught.
fn the_github_check_rejects_what_code_scanning_refuses() {
    let good: Value = serde_json::from_str(&render_sarif(&super::common::combined())).unwrap();
    let mut log = good.clone();
    log["runs"][0]["results"][0]
        .as_object_mut()
        .unwrap()
        .remove("locations");
    log["runs"][0]["results"][1]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] =
        json!("file:///etc/passwd");
    log["runs"][0]["results"][2]["locations"][0]["physicalLocation"]
        .as_object_mut()
        .unwrap()
        .remove("region");
    log["runs"][0]["tool"]["driver"]["rules"][0]["helpUri"] = json!("docs/rules/TA-PLAINTEXT.md");
    let path = super::common::write("github-broken.sarif", &log.to_string());
    let (out, ok) = super::common::python("check_github_sarif.py", &path);
    assert!(!ok, "{out}");
    assert!(out.contains("at least one location is required"), "{out}");
    assert!(out.contains("relative to the repository root"), "{out}");
    assert!(out.contains("region.startLine"), "{out}");
    assert!(out.contains("helpUri must be an absolute"), "{out}");
    assert!(out.contains("github: 4 errors"), "{out}");
}

/// This module's tests, as the harness lists them (`main.rs`).
pub(crate) fn tests() -> Vec<crate::runner::Test> {
    use crate::runner::Test;
    vec![
        Test::new(
            module_path!(),
            "every_fixture_is_valid_sarif_with_one_result_per_finding",
            every_fixture_is_valid_sarif_with_one_result_per_finding,
        ),
        Test::new(
            module_path!(),
            "rules_are_the_catalogue",
            rules_are_the_catalogue,
        ),
        Test::new(
            module_path!(),
            "combined_results_levels_locations_and_notifications",
            combined_results_levels_locations_and_notifications,
        ),
        Test::new(
            module_path!(),
            "hostile_text_and_waivers",
            hostile_text_and_waivers,
        ),
        Test::new(
            module_path!(),
            "fingerprints_are_stable_and_distinct",
            fingerprints_are_stable_and_distinct,
        ),
        Test::new(
            module_path!(),
            "facts_only_report_is_valid_with_no_results",
            facts_only_report_is_valid_with_no_results,
        ),
        Test::new(
            module_path!(),
            "output_is_deterministic",
            output_is_deterministic,
        ),
        Test::new(
            module_path!(),
            "the_validators_reject_what_sarif_forbids",
            the_validators_reject_what_sarif_forbids,
        ),
        Test::new(
            module_path!(),
            "a_redeploy_keeps_the_fingerprints",
            a_redeploy_keeps_the_fingerprints,
        ),
        Test::new(
            module_path!(),
            "manifests_and_baseline_states",
            manifests_and_baseline_states,
        ),
        Test::new(
            module_path!(),
            "the_github_check_rejects_what_code_scanning_refuses",
            the_github_check_rejects_what_code_scanning_refuses,
        ),
    ]
}
