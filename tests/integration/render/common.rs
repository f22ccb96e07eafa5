//! Reports for the renderer tests: the real analysis of the committed
//! fixture captures, verified with the fixture cluster and the built-in
//! policy, and a hostile variant of one; and the Python consumers.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use tls_audit::report::model::{AppliedWaiver, PodRef, Report, Severity};

/// The three captures the tests use.
pub const CAPTURES: [&str; 3] = [
    "openssl-tls12-server-only",
    "nginx-http-plaintext-80",
    "openssl-tls13-mutual",
];

/// A string with everything a renderer must escape.
pub const HOSTILE: &str = "<script>alert(1)</script>&\"'\u{1}|`*_[x](javascript:y)\n# $x$ ~s~ https://evil.example www.evil.example \u{1b}[31m\r\\";

/// Analyse `captures` (names under fixtures/captures) together, gated at `fail_on`.
pub fn report(captures: &[&str], fail_on: Option<Severity>) -> Report {
    let dir = crate::support::root().join("fixtures/captures");
    let paths: Vec<PathBuf> = captures
        .iter()
        .map(|c| dir.join(format!("{c}.pcap")))
        .collect();
    let paths: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    crate::support::verified(&paths, fail_on)
}

/// All three captures, gated at high.
pub fn combined() -> Report {
    report(&CAPTURES, Some(Severity::High))
}

/// The combined report with hostile text: the first finding's message and
/// evidence; a critical finding about a pod with a hostile name (in no
/// flow); a waived high finding with a hostile reason.
pub fn hostile() -> Report {
    let mut r = combined();
    let first = r.findings[0].clone();
    r.findings[0].message = HOSTILE.into();
    r.findings[0]
        .evidence
        .insert("sni".into(), serde_json::Value::String(HOSTILE.into()));

    let mut evil = first.clone();
    evil.rule = "TA-TLS-VERSION".into();
    evil.severity = Severity::Critical;
    evil.message = format!("SSL3.0 {HOSTILE}");
    evil.subject.pod = Some(PodRef {
        namespace: "evil<ns>&\"'".into(),
        name: "pod\u{1}|*".into(),
        service_account: "sa".into(),
        workload: None,
    });
    r.findings.insert(0, evil);

    let mut waived = first;
    waived.rule = "TA-WEAK-CIPHER".into();
    waived.message = "TLS_RSA_WITH_AES_128_CBC_SHA (static-rsa)".into();
    waived.waived = Some(AppliedWaiver {
        index: 0,
        reason: format!("legacy partner {HOSTILE}"),
        expires: "2027-01-31".into(),
    });
    r.findings.push(waived);
    r
}

/// A file under the test's scratch directory holding `text`.
pub fn write(name: &str, text: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("renderers");
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path
}

/// Run `tests/py/<script>` on `file`; its stdout, and whether it exited 0.
pub fn python(script: &str, file: &Path) -> (String, bool) {
    let script = crate::support::root()
        .join("tests/render-data/py")
        .join(script);
    let out = Command::new("python3")
        .arg(&script)
        .arg(file)
        .output()
        .expect("python3 runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() || !out.stdout.is_empty(),
        "{} failed: {stderr}",
        script.display()
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.success(),
    )
}

/// A subject as the renderers name it.
pub fn label(s: &tls_audit::report::model::Subject) -> String {
    s.label()
}

/// The combined report with the compliance views and metadata, as
/// `analyze --compliance pci-dss-4.0.1,hipaa --cluster-name fixture`
/// writes them (pod start times from the fixture snapshot).
pub fn with_compliance(mut r: Report) -> Report {
    use tls_audit::report::{compliance, metadata};
    r.compliance = Some(compliance::evaluate(&r, &["pci-dss-4.0.1", "hipaa"]).expect("frameworks"));
    let cluster = crate::support::root().join("fixtures/cluster");
    let inventory = tls_audit::inventory::Inventory::load(
        Some(&cluster.join("pods.json")),
        Some(&cluster.join("nodes.json")),
    )
    .expect("fixture inventory");
    r.metadata = Some(metadata::of(
        &r,
        Some("fixture".into()),
        inventory.pod_starts(),
    ));
    r
}

/// Compare `text` with `tests/snapshots/render/<name>`, the checkout's
/// path replaced by `<root>` so the snapshot holds in any clone. With
/// `UPDATE_SNAPSHOTS=1` the snapshot is rewritten instead.
pub fn snapshot(name: &str, text: &str) {
    let root = crate::support::root().display().to_string();
    let text = text.replace(&root, "<root>");
    let path = crate::support::root()
        .join("tests/snapshots/render")
        .join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().expect("dir")).expect("snapshot dir");
        std::fs::write(&path, &text).expect("write snapshot");
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (UPDATE_SNAPSHOTS=1 cargo test --test integration render writes it)",
            path.display()
        )
    });
    if want != text {
        let line = want
            .lines()
            .zip(text.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| want.lines().count().min(text.lines().count()));
        panic!(
            "{name} differs from {} at line {} (UPDATE_SNAPSHOTS=1 to accept):\n  want: {:?}\n  got:  {:?}",
            path.display(),
            line + 1,
            want.lines().nth(line),
            text.lines().nth(line)
        );
    }
}
