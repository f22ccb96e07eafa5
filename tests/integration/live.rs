//! Live: the test makes its own network namespaces, runs the real TLS
//! stacks (OpenSSL, GnuTLS, nginx + curl, rustls) across them with tcpdump
//! listening (fixtures/gen/make-captures.sh, into a temporary directory),
//! and checks the engine and the verifier on what was just captured, as
//! for the committed fixtures. Needs root, the tools scripts/install-deps.sh installs, and the
//! corpus oracle in ../shared; skips with a notice otherwise (in CI, only
//! when ../shared is absent).

use std::process::Command;

use crate::fixtures::check_capture_dir;
use crate::support::{self, temp_dir};

#[test]
fn live_captures_of_real_stacks() {
    let root_user = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let tools = [
        "ip",
        "tcpdump",
        "tshark",
        "openssl",
        "gnutls-serv",
        "nginx",
        "curl",
    ]
    .iter()
    .all(|t| {
        Command::new("sh")
            .args(["-c", &format!("command -v {t}")])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    let shared = support::shared();
    if !(root_user && tools && shared.is_some()) {
        // CI runs as root with ../shared beside the clone and the tools
        // installed by scripts/install-deps.sh: there the test must run.
        assert!(
            !(std::env::var_os("CI").is_some() && root_user && shared.is_some()),
            "the live namespace test must run in CI (root={root_user} tools={tools})"
        );
        eprintln!(
            "NOTICE: live namespace test skipped (root={root_user}, tools={tools}, ../shared={})",
            shared.is_some()
        );
        return;
    }
    // `cargo test` builds the examples (as plain binaries) next to the tests.
    let examples = std::path::PathBuf::from(env!("CARGO_BIN_EXE_tls-audit"))
        .parent()
        .unwrap()
        .join("examples");
    let rustls_peer = examples.join("rustls_peer");
    assert!(
        rustls_peer.is_file(),
        "{} missing: run the suite with `cargo test` (it builds the examples)",
        rustls_peer.display()
    );
    let out = temp_dir("live-captures");
    let status = Command::new("bash")
        .arg(support::root().join("fixtures/gen/make-captures.sh"))
        .env("CAPTURE_OUT", &out)
        .env("RUSTLS_PEER", &rustls_peer)
        .env(
            "TSHARK_FACTS",
            shared.unwrap().join("corpus/tshark_facts.py"),
        )
        .status()
        .expect("run make-captures.sh");
    assert!(status.success(), "make-captures.sh failed");
    let n = check_capture_dir(&out);
    // The same findings as the committed captures.
    crate::findings::assert_matches_snapshot(&crate::findings::digest_dir(&out), true);
    // Their key logs open every TLS 1.3 handshake as configured and as tshark reads them.
    let keyed = crate::keylog::check_keyed_dir(&out);
    assert!(keyed >= 11, "{keyed}");
    println!(
        "live: {} scenarios, {} TLS sessions, {} TLS 1.3 inferences, all as configured",
        n.scenarios, n.sessions, n.inferred
    );
    assert!(n.scenarios >= 20 && n.inferred >= 7);
}
