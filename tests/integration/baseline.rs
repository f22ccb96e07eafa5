//! The CI recipe with a baseline (issue 17 items 5 and 6), run as a
//! pipeline would: the first deploy's report is the baseline; a redeploy
//! that renames every pod changes nothing and passes the gate; a new
//! plaintext flow fails it, with one line on standard error whatever the
//! output format; `tls-audit diff` says the same for a pull request.
//! Real captures (fixtures/captures), the fixture cluster's pods, and the
//! same pods renamed as a rollout renames them.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::{root, temp_dir, validate_with_schema};

fn tls_audit(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tls-audit"))
        .args(args)
        .output()
        .expect("run tls-audit");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn capture(name: &str) -> String {
    root()
        .join(format!("fixtures/captures/{name}.pcap"))
        .to_string_lossy()
        .into_owned()
}

/// The fixture pods after a rollout: every ReplicaSet-owned pod gets a new
/// pod-template-hash (so a new ReplicaSet and a new pod name), as
/// `kubectl rollout restart` does; addresses and start times are kept so
/// the same captures name them.
fn redeployed_pods(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(root().join("fixtures/cluster/pods.json")).unwrap();
    let mut pods: Value = serde_json::from_str(&text).unwrap();
    let mut renamed = 0;
    for p in pods["items"].as_array_mut().unwrap() {
        let meta = &mut p["metadata"];
        let Some(hash) = meta["labels"]["pod-template-hash"]
            .as_str()
            .map(str::to_string)
        else {
            continue;
        };
        let owner = meta["ownerReferences"][0]["name"]
            .as_str()
            .unwrap()
            .to_string();
        let deployment = owner.strip_suffix(&format!("-{hash}")).unwrap().to_string();
        let new_hash = "6f8d9c7b5";
        meta["labels"]["pod-template-hash"] = Value::from(new_hash);
        meta["ownerReferences"][0]["name"] = Value::from(format!("{deployment}-{new_hash}"));
        meta["name"] = Value::from(format!("{deployment}-{new_hash}-r3d3p"));
        meta["uid"] = Value::from(format!("uid-redeployed-{renamed}"));
        renamed += 1;
    }
    assert!(renamed >= 2, "frontend and api are Deployment pods");
    let out = dir.join("pods-redeployed.json");
    std::fs::write(&out, serde_json::to_string(&pods).unwrap()).unwrap();
    out
}

fn report(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn a_redeploy_passes_and_a_new_plaintext_flow_fails_the_gate() {
    let d = temp_dir("baseline-ci-recipe");
    let pods = root().join("fixtures/cluster/pods.json");
    let pods = pods.to_str().unwrap();
    let redeployed = redeployed_pods(&d);
    let redeployed = redeployed.to_str().unwrap();
    let base = d.join("base.json");
    let now = ["--now", "2026-11-27T12:00:00Z"];

    // First deploy: the baseline. Its high finding (no client certificate)
    // fails a gate without a baseline.
    let (code, _, stderr) = tls_audit(
        &[
            &[
                "analyze",
                &capture("openssl-tls12-server-only"),
                "--pods",
                pods,
            ],
            &now[..],
            &[
                "--fail-on",
                "high",
                "-o",
                "json",
                "--output",
                base.to_str().unwrap(),
            ],
        ]
        .concat(),
    );
    assert_eq!(code, 1, "{stderr}");
    let gate_lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("tls-audit: gate failed"))
        .collect();
    assert_eq!(gate_lines.len(), 1, "{stderr}");
    assert!(gate_lines[0].contains("TA-NO-MTLS (high)"), "{stderr}");
    let base_findings = report(&base)["findings"].as_array().unwrap().len();
    assert!(base_findings > 0);

    // Redeploy (every pod renamed), same traffic, with the baseline: all
    // unchanged, the gate passes, and the output says why.
    let after = d.join("after.json");
    let (code, _, stderr) = tls_audit(
        &[
            &[
                "analyze",
                &capture("openssl-tls12-server-only"),
                "--pods",
                redeployed,
            ],
            &now[..],
            &["--fail-on", "high", "--baseline", base.to_str().unwrap()],
            &["-o", "json", "--output", after.to_str().unwrap()],
        ]
        .concat(),
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains("gate failed"), "{stderr}");
    assert!(stderr.contains("judges new findings only"), "{stderr}");
    let r = report(&after);
    let findings = r["findings"].as_array().unwrap();
    assert_eq!(findings.len(), base_findings);
    for f in findings {
        assert_eq!(f["baseline"], "unchanged", "{f}");
        if let Some(pod) = f["subject"]["pod"].as_object() {
            assert!(
                pod["name"].as_str().unwrap().contains("6f8d9c7b5"),
                "renamed: {f}"
            );
        }
    }
    let b = &r["verification"]["baseline"];
    assert_eq!(b["new"], 0);
    assert_eq!(b["unchanged"], base_findings);
    assert_eq!(b["fixed"], 0);
    assert_eq!(r["verification"]["gate"], "pass");
    // The same run without the baseline fails on the old finding.
    let (code, _, _) = tls_audit(
        &[
            &[
                "analyze",
                &capture("openssl-tls12-server-only"),
                "--pods",
                redeployed,
            ],
            &now[..],
            &["--fail-on", "high", "-o", "json"],
        ]
        .concat(),
    );
    assert_eq!(code, 1);

    let server_only = capture("openssl-tls12-server-only");
    let plaintext = capture("nginx-http-plaintext-80");
    // A new plaintext flow after the redeploy: the gate fails on it alone,
    // with one line on stderr, in JUnit as in any format.
    let junit = d.join("r.xml");
    let (code, stdout, stderr) = tls_audit(
        &[
            &["analyze", &server_only, &plaintext][..],
            &["--pods", redeployed],
            &now[..],
            &[
                "--fail-on",
                "high",
                "--baseline",
                base.to_str().unwrap(),
                "-o",
                "junit",
            ],
        ]
        .concat(),
    );
    assert_eq!(code, 1, "{stderr}");
    std::fs::write(&junit, &stdout).unwrap();
    let gate_lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("tls-audit: gate failed"))
        .collect();
    assert_eq!(gate_lines.len(), 1, "{stderr}");
    assert!(gate_lines[0].contains("new since the baseline"), "{stderr}");
    assert!(gate_lines[0].contains("TA-PLAINTEXT (high)"), "{stderr}");
    assert!(!gate_lines[0].contains("TA-NO-MTLS"), "{stderr}");
    // JUnit fails the plaintext case only; the unchanged finding is a note.
    assert!(stdout.contains("unchanged since the baseline"), "{stdout}");
    assert!(stdout.contains("documentation: https://"), "{stdout}");

    // The same as JSON, then `tls-audit diff` for the pull request.
    let regressed = d.join("regressed.json");
    let (code, _, stderr) = tls_audit(
        &[
            &["analyze", &server_only, &plaintext][..],
            &["--pods", redeployed],
            &now[..],
            &["--fail-on", "high", "--baseline", base.to_str().unwrap()],
            &["-o", "json", "--output", regressed.to_str().unwrap()],
        ]
        .concat(),
    );
    assert_eq!(code, 1, "{stderr}");
    let r = report(&regressed);
    let new: Vec<&Value> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["baseline"] == "new")
        .collect();
    assert!(!new.is_empty());
    assert!(new.iter().all(|f| f["rule"] != "TA-NO-MTLS"), "{new:?}");
    assert!(new.iter().any(|f| f["rule"] == "TA-PLAINTEXT"), "{new:?}");
    if let Some((n, errors)) = validate_with_schema(
        "report-v1.schema.json",
        &[after.clone(), regressed.clone()],
        false,
    ) {
        assert_eq!(n, 2);
        assert_eq!(errors, Vec::<String>::new());
    }

    let (code, json, stderr) = tls_audit(&[
        "diff",
        base.to_str().unwrap(),
        regressed.to_str().unwrap(),
        "-o",
        "json",
        "--fail-on",
        "high",
    ]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(
        stderr.lines().filter(|l| l.contains("gate failed")).count(),
        1,
        "{stderr}"
    );
    let diff: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(diff["schema"], "tls-audit/diff/v1");
    assert_eq!(diff["fixed"].as_array().unwrap().len(), 0);
    assert_eq!(diff["unchanged"].as_array().unwrap().len(), base_findings);
    assert!(
        diff["new"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["rule"] == "TA-PLAINTEXT")
    );
    let (code, md, _) = tls_audit(&[
        "diff",
        base.to_str().unwrap(),
        regressed.to_str().unwrap(),
        "-o",
        "markdown",
        "--docs-url",
        "https://docs.example.org/tls-audit/rules",
    ]);
    assert_eq!(code, 0);
    assert!(
        md.contains("[TA-PLAINTEXT](https://docs.example.org/tls-audit/rules/TA-PLAINTEXT.md)"),
        "{md}"
    );
    // Reversed: the plaintext finding is fixed.
    let (_, json, _) = tls_audit(&[
        "diff",
        regressed.to_str().unwrap(),
        base.to_str().unwrap(),
        "-o",
        "json",
    ]);
    let diff: Value = serde_json::from_str(&json).unwrap();
    assert!(diff["new"].as_array().unwrap().is_empty());
    assert!(
        diff["fixed"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["rule"] == "TA-PLAINTEXT")
    );

    // `report` with a baseline judges the saved findings the same way; its
    // SARIF says new or unchanged and points at the workload's manifest.
    let manifests = d.join("deploy");
    std::fs::create_dir_all(&manifests).unwrap();
    std::fs::write(
        manifests.join("api.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\n  namespace: pay\n",
    )
    .unwrap();
    let (code, sarif, stderr) = tls_audit(&[
        "report",
        regressed.to_str().unwrap(),
        "--baseline",
        base.to_str().unwrap(),
        "--fail-on",
        "high",
        "--manifests",
        manifests.to_str().unwrap(),
        "-o",
        "sarif",
    ]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("TA-PLAINTEXT (high)"), "{stderr}");
    let sarif: Value = serde_json::from_str(&sarif).unwrap();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert!(results.iter().any(|r| r["baselineState"] == "new"));
    assert!(results.iter().any(|r| r["baselineState"] == "unchanged"));
    let plaintext = results
        .iter()
        .find(|r| r["ruleId"] == "TA-PLAINTEXT")
        .unwrap();
    assert_eq!(
        plaintext["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "api.yaml"
    );
}

fn bad_baseline_and_docs_url_are_refused() {
    let d = temp_dir("baseline-bad");
    let junk = d.join("junk.json");
    std::fs::write(&junk, "{}").unwrap();
    let (code, _, stderr) = tls_audit(&[
        "analyze",
        &capture("nginx-http-plaintext-80"),
        "--baseline",
        junk.to_str().unwrap(),
        "-o",
        "json",
    ]);
    assert_eq!(code, 6, "{stderr}");
    assert!(stderr.contains("--baseline"), "{stderr}");
    let (code, _, stderr) = tls_audit(&[
        "analyze",
        &capture("nginx-http-plaintext-80"),
        "--docs-url",
        "docs/rules",
        "-o",
        "json",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("absolute"), "{stderr}");
}

/// This module's tests, as the harness lists them (`main.rs`).
pub(crate) fn tests() -> Vec<crate::runner::Test> {
    use crate::runner::Test;
    vec![
        Test::new(
            module_path!(),
            "a_redeploy_passes_and_a_new_plaintext_flow_fails_the_gate",
            a_redeploy_passes_and_a_new_plaintext_flow_fails_the_gate,
        ),
        Test::new(
            module_path!(),
            "bad_baseline_and_docs_url_are_refused",
            bad_baseline_and_docs_url_are_refused,
        ),
    ]
}
