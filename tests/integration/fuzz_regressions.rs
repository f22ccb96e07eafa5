//! Replays the fuzz inputs under stable `cargo test`: every file in
//! `fuzz/regressions/<target>/` (inputs that once crashed, hung or ran out of
//! memory, kept after the fix) and `fuzz/corpus/<target>/` (the seed corpus)
//! goes through the same harness the fuzz target runs — the harness source
//! is included from `fuzz/src/lib.rs`, so the calls cannot drift apart. Each
//! harness asserts its invariants; here no input may panic, and every target
//! must have replayed at least one input.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use crate::support;

#[path = "../../fuzz/src/lib.rs"]
#[allow(dead_code)]
mod harness;

type Harness = fn(&[u8]);

const TARGETS: [(&str, Harness); 12] = [
    ("capture_file", harness::capture_file),
    ("decode_frame", harness::decode_frame),
    ("tls_stream", harness::tls_stream),
    ("hello", harness::hello),
    ("x509", harness::x509),
    ("plaintext", harness::plaintext),
    ("reassembly", harness::reassembly),
    ("verify_chain", harness::verify_chain),
    ("events", harness::events),
    ("probe_answer", harness::probe_answer),
    ("saved_report", harness::saved_report),
    ("capture_ahead", harness::capture_ahead),
];

/// Files directly in `dir`, sorted (none if the folder is absent).
fn inputs(dir: &Path) -> Vec<std::path::PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<_> = rd
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            !name.starts_with('.') && !name.starts_with("README")
        })
        .collect();
    v.sort();
    v
}

fn fuzz_corpus_and_regressions_replay_without_panics() {
    let fuzz = support::root().join("fuzz");
    let mut failures = Vec::new();
    let mut summary = Vec::new();
    for (target, run) in TARGETS {
        let mut replayed = 0;
        for kind in ["regressions", "corpus"] {
            for path in inputs(&fuzz.join(kind).join(target)) {
                let data = std::fs::read(&path).unwrap();
                replayed += 1;
                if let Err(e) = catch_unwind(AssertUnwindSafe(|| run(&data))) {
                    let msg = e
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    failures.push(format!("{target}: {}: {msg}", path.display()));
                }
            }
        }
        summary.push(format!("{target}={replayed}"));
        assert!(
            replayed > 0,
            "no fuzz input replayed for {target}: fuzz/corpus/{target}/ and fuzz/regressions/{target}/ are empty"
        );
    }
    eprintln!("fuzz inputs replayed: {}", summary.join(" "));
    assert!(
        failures.is_empty(),
        "fuzz inputs that panic:\n{}",
        failures.join("\n")
    );
}

/// This module's tests, as the harness lists them (`main.rs`).
pub(crate) fn tests() -> Vec<crate::runner::Test> {
    use crate::runner::Test;
    vec![Test::new(
        module_path!(),
        "fuzz_corpus_and_regressions_replay_without_panics",
        fuzz_corpus_and_regressions_replay_without_panics,
    )]
}
