//! The active probe against real servers (OpenSSL, GnuTLS, nginx, Python)
//! in network namespaces of its own (`probe/lab.sh`: 10.207.0.0/24, names
//! `tlsa-prb-*`, so it runs beside the other namespace tests), every verdict
//! asserted; then testssl.sh and sslyze on the same endpoints, agreement
//! printed as a table (`compare`). Needs root and the tools
//! scripts/install-deps.sh installs (`LAB_NEEDS`): ignored otherwise,
//! failed in CI.

mod compare;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use serde_json::Value;

use crate::runner::Need;
use crate::support::{self, temp_dir};

/// The server namespace's address.
pub const SRV: &str = "10.207.0.2";
/// The client namespace (probes and the tools run there).
pub const CLIENT_NS: &str = "tlsa-prb-c";

/// The lab, torn down on drop (also when an assertion fails).
pub struct Lab {
    pub work: PathBuf,
    pub pki: PathBuf,
}

impl Lab {
    fn up(name: &str) -> Lab {
        let work = temp_dir(name);
        let pki = work.join("pki");
        std::fs::create_dir_all(&pki).unwrap();
        make_pki(&pki);
        let status = Command::new("bash")
            .arg(lab_script())
            .args([
                "up",
                pki.to_str().unwrap(),
                work.join("lab").to_str().unwrap(),
            ])
            .status()
            .expect("run lab.sh");
        let lab = Lab { work, pki };
        assert!(status.success(), "lab.sh up failed");
        lab
    }

    /// `tls-audit probe ARGS -o json` from the client namespace: exit code,
    /// report, seconds taken.
    pub fn probe(&self, args: &[&str]) -> (i32, Value, f64) {
        let t0 = Instant::now();
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                CLIENT_NS,
                env!("CARGO_BIN_EXE_tls-audit"),
                "probe",
            ])
            .args(args)
            .args(["-o", "json"])
            .output()
            .expect("run tls-audit probe");
        let secs = t0.elapsed().as_secs_f64();
        let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "probe output is not JSON ({e}); stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (out.status.code().unwrap_or(-1), report, secs)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(lab_script())
            .args(["down", self.work.join("lab").to_str().unwrap()])
            .status();
    }
}

fn lab_script() -> PathBuf {
    support::root().join("tests/integration/probe/lab.sh")
}

/// Root and every tool the lab needs.
const LAB_NEEDS: &[Need] = &[
    Need::Root,
    Need::Tool("ip"),
    Need::Tool("nft"),
    Need::Tool("openssl"),
    Need::Tool("gnutls-serv"),
    Need::Tool("nginx"),
    Need::Tool("python3"),
    Need::Tool("ss"),
];

pub fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// CA, server leaf (valid now, SAN srv.probe.test and 10.207.0.2), an
/// expired server leaf, a client leaf from the CA, and a client leaf from
/// a stranger CA; PEM files in `dir`.
fn make_pki(dir: &Path) {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
        IsCa, KeyPair, KeyUsagePurpose, SanType,
    };
    let now = time::OffsetDateTime::now_utc();
    let day = time::Duration::days(1);
    let ca = |cn: &str| {
        let mut p = CertificateParams::default();
        p.distinguished_name.push(DnType::CommonName, cn);
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        p.not_before = now - day;
        p.not_after = now + 365 * day;
        CertifiedIssuer::self_signed(p, KeyPair::generate().unwrap()).unwrap()
    };
    let root = ca("Probe Lab CA");
    let stranger = ca("Stranger CA");
    let write = |name: &str, pem: String| std::fs::write(dir.join(name), pem).unwrap();
    write("ca.pem", root.pem());
    let leaf = |name: &str, from, to, client: bool, issuer: &CertifiedIssuer<'_, KeyPair>| {
        let mut p = CertificateParams::new(vec!["srv.probe.test".to_string()]).unwrap();
        p.distinguished_name.push(DnType::CommonName, name);
        p.subject_alt_names
            .push(SanType::IpAddress(SRV.parse().unwrap()));
        p.is_ca = IsCa::ExplicitNoCa;
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.extended_key_usages = vec![if client {
            ExtendedKeyUsagePurpose::ClientAuth
        } else {
            ExtendedKeyUsagePurpose::ServerAuth
        }];
        p.not_before = from;
        p.not_after = to;
        // RFC 5280 4.2.1.1: conforming CAs include it; sslyze (Python
        // cryptography's verifier) rejects leaves without it.
        p.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate().unwrap();
        let cert = p.signed_by(&key, &**issuer).unwrap();
        write(&format!("{name}.pem"), cert.pem());
        write(&format!("{name}.key"), key.serialize_pem());
    };
    leaf("srv", now - day, now + 30 * day, false, &root);
    leaf("expired", now - 60 * day, now - 30 * day, false, &root);
    leaf("client", now - day, now + 30 * day, true, &root);
    leaf("intruder", now - day, now + 30 * day, true, &stranger);
    write(
        "mtls-all.yaml",
        "version: 1\nmtls:\n  require: all\n".into(),
    );
}

/// The `probes[]` entry of `port`.
pub fn probe_of(report: &Value, port: u16) -> &Value {
    let target = format!("{SRV}:{port}");
    report["probes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["target"] == target.as_str())
        .unwrap_or_else(|| panic!("no probe of {target}"))
}

/// `version` → accepted (true/false/null) for one probe.
pub fn accepted(p: &Value, version: &str) -> Value {
    p["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["version"] == version)
        .map(|v| v["accepted"].clone())
        .unwrap_or(Value::Null)
}

/// Rules found about `port`'s server.
fn rules_at(report: &Value, port: u16) -> Vec<String> {
    let ep = format!("{SRV}:{port}");
    let mut r: Vec<String> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["flow"]["server"] == ep.as_str())
        .map(|f| f["rule"].as_str().unwrap().to_string())
        .collect();
    r.sort();
    r.dedup();
    r
}

/// What every endpoint must say.
struct Expect {
    port: u16,
    versions: [Option<bool>; 5],
    client_auth: &'static str,
    plaintext: Option<bool>,
    rules: &'static [&'static str],
}

const VERSIONS: [&str; 5] = ["TLS1.3", "TLS1.2", "TLS1.1", "TLS1.0", "SSL3.0"];
const Y: Option<bool> = Some(true);
const N: Option<bool> = Some(false);
/// TLS 1.3 and 1.2 (OpenSSL 3 at its default security level).
const MODERN: [Option<bool>; 5] = [Y, Y, N, N, N];
/// TLS 1.0 to 1.3 (OpenSSL at SECLEVEL=0; Debian's GnuTLS defaults).
const LEGACY: [Option<bool>; 5] = [Y, Y, Y, Y, N];
/// TLS 1.2 only (nginx 1.22's default ssl_protocols lack TLS 1.3; the
/// system OpenSSL refuses 1.0 and 1.1).
const TLS12_ONLY: [Option<bool>; 5] = [N, Y, N, N, N];
const NO_TLS: [Option<bool>; 5] = [N; 5];
/// Every TLS server here accepts some CBC suite offered alone (low).
const CBC: &str = "TA-WEAK-CIPHER";

/// The lab's endpoints and their true verdicts (by construction of lab.sh),
/// under `mtls.require: all` with the lab CA as trust bundle.
#[rustfmt::skip]
const EXPECTED: &[Expect] = &[
    Expect { port: 4431, versions: MODERN, client_auth: "none", plaintext: N, rules: &["TA-NO-MTLS", CBC] },
    Expect { port: 4432, versions: MODERN, client_auth: "optional", plaintext: N, rules: &["TA-MTLS-OPTIONAL", CBC] },
    Expect { port: 4433, versions: MODERN, client_auth: "required", plaintext: N, rules: &[CBC] },
    Expect { port: 4434, versions: LEGACY, client_auth: "none", plaintext: N, rules: &["TA-NO-MTLS", "TA-TLS-VERSION", CBC] },
    // gnutls-serv asks for a client certificate unless told not to.
    Expect { port: 4435, versions: LEGACY, client_auth: "optional", plaintext: N, rules: &["TA-MTLS-OPTIONAL", "TA-TLS-VERSION", CBC] },
    // nginx `on` completes TLS without a certificate and refuses in HTTP.
    Expect { port: 4436, versions: TLS12_ONLY, client_auth: "required", plaintext: N, rules: &[CBC] },
    Expect { port: 4437, versions: TLS12_ONLY, client_auth: "optional", plaintext: N, rules: &["TA-MTLS-OPTIONAL", CBC] },
    Expect { port: 4438, versions: MODERN, client_auth: "none", plaintext: Y, rules: &["TA-NO-MTLS", "TA-PLAINTEXT-ACCEPTED", CBC] },
    Expect { port: 4439, versions: MODERN, client_auth: "none", plaintext: N, rules: &["TA-CERT-EXPIRED", "TA-NO-MTLS", CBC] },
    Expect { port: 8080, versions: NO_TLS, client_auth: "unknown", plaintext: Y, rules: &["TA-PLAINTEXT-ACCEPTED"] },
];

fn probe_verdicts_on_real_servers() {
    let lab = Lab::up("probe-lab");
    let pki = |f: &str| lab.pki.join(f).to_str().unwrap().to_string();
    let mut targets: Vec<String> = EXPECTED
        .iter()
        .map(|e| format!("{SRV}:{}", e.port))
        .collect();
    for port in [4440, 4441, 4442] {
        targets.push(format!("{SRV}:{port}"));
    }
    let (ca, policy) = (pki("ca.pem"), pki("mtls-all.yaml"));
    let mut args: Vec<&str> = targets.iter().map(String::as_str).collect();
    args.extend([
        "--trust-bundle",
        &ca,
        "--policy",
        &policy,
        "--timeout",
        "1500",
    ]);
    let (code, report, secs) = lab.probe(&args);
    std::fs::write(lab.work.join("report.json"), report.to_string()).unwrap();
    // Closed, black-holed and resetting endpoints: partial (4), not a crash.
    assert_eq!(code, 4, "{report:#}");
    assert_eq!(report["probes"].as_array().unwrap().len(), targets.len());

    let mut checked = 0;
    for e in EXPECTED {
        let p = probe_of(&report, e.port);
        assert!(p["error"].is_null(), "{}: {}", e.port, p["error"]);
        for (v, want) in VERSIONS.iter().zip(e.versions) {
            assert_eq!(
                accepted(p, v),
                serde_json::json!(want),
                "{} {v}: {p:#}",
                e.port
            );
            checked += 1;
        }
        assert_eq!(
            p["client_auth"]["policy"], e.client_auth,
            "{}: {p:#}",
            e.port
        );
        assert_eq!(
            p["plaintext"]["accepted"],
            serde_json::json!(e.plaintext),
            "{}: {p:#}",
            e.port
        );
        assert_eq!(rules_at(&report, e.port), e.rules, "{}", e.port);
        checked += 3;
    }
    // The evidence behind the client-certificate verdicts.
    let ev = |port| probe_of(&report, port)["client_auth"]["evidence"].clone();
    assert_eq!(ev(4433), "alert certificate_required (116)"); // TLS 1.3, after the handshake
    assert_eq!(
        ev(4436),
        "http-refusal: HTTP/1.1 400 Bad Request: No required SSL certificate was sent"
    );
    assert_eq!(ev(4437), "served-without-certificate: HTTP/1.1 200 OK");
    assert_eq!(ev(4432), "completed-without-certificate"); // TLS 1.2 Finished beats the 1.3 wait
    assert_eq!(
        probe_of(&report, 4433)["client_auth"]["ca_names"],
        serde_json::json!(["CN=Probe Lab CA"])
    );
    // nginx answers cleartext on its TLS port with a refusal page.
    assert_eq!(
        probe_of(&report, 4436)["plaintext"]["evidence"],
        "HTTP/1.1 400 Bad Request"
    );
    // Legacy: TLS 1.0/1.1 read from the ServerHello; 3DES offered alone is taken.
    let legacy = probe_of(&report, 4434);
    let weak: Vec<&str> = legacy["weak_suites"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["accepted"] == true)
        .map(|w| w["family"].as_str().unwrap())
        .collect();
    assert!(weak.contains(&"cbc"), "{weak:?}");
    // Failures: each with its kind and the system's words.
    for (port, kind) in [(4440, "refused"), (4441, "timeout"), (4442, "reset")] {
        let p = probe_of(&report, port);
        assert_eq!(p["error"]["kind"], kind, "{port}: {p:#}");
        checked += 1;
    }
    // Every TLS flow is marked as the probe's, with the chain it was sent.
    let flows = report["flows"].as_array().unwrap();
    assert!(
        flows
            .iter()
            .all(|f| f["source"] == "probe" && f["role_source"] == "probe")
    );
    let expired_flow = flows
        .iter()
        .find(|f| {
            f["server"]["port"] == 4439
                && f["tls"]["server_chain"]
                    .as_array()
                    .is_some_and(|c| !c.is_empty())
        })
        .expect("a handshake flow to 4439");
    assert_eq!(
        expired_flow["tls"]["server_chain"][0]["subject"],
        "CN=expired"
    );
    validate_schema(&lab.work.join("report.json"));
    println!(
        "probe lab: {checked} verdicts as built, {} endpoints in {secs:.2} s",
        targets.len()
    );

    identity_runs(&lab);
    compare::with_testssl_and_sslyze(&lab, &report);
}

/// `--cert/--key`: the lab CA's client certificate is accepted where a
/// certificate is required; a stranger's is refused.
fn identity_runs(lab: &Lab) {
    let pki = |f: &str| lab.pki.join(f).to_str().unwrap().to_string();
    let (cert, key) = (pki("client.pem"), pki("client.key"));
    let targets = [
        format!("{SRV}:4433"),
        format!("{SRV}:4436"),
        format!("{SRV}:4431"),
    ];
    let mut args: Vec<&str> = targets.iter().map(String::as_str).collect();
    args.extend([
        "--cert",
        &cert,
        "--key",
        &key,
        "--no-legacy",
        "--no-plaintext",
    ]);
    let (code, report, _) = lab.probe(&args);
    assert_eq!(code, 0, "{report:#}");
    for port in [4433, 4436] {
        let id = &probe_of(&report, port)["identity"];
        assert_eq!(id["accepted"], true, "{port}: {id}");
    }
    // Not asked for, so not sent: neither accepted nor refused.
    let id = &probe_of(&report, 4431)["identity"];
    assert!(id["accepted"].is_null(), "{id}");
    let mutual = report["flows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["tls"]["mutual_evidence"] == "probe-client-certificate-accepted")
        .count();
    assert_eq!(mutual, 2);
    assert_eq!(report["stats"]["mutual_tls_flows"], 2);

    // A certificate from another CA: OpenSSL refuses it with an alert,
    // nginx with its HTTP 400 page.
    let (cert, key) = (pki("intruder.pem"), pki("intruder.key"));
    let (a, b) = (format!("{SRV}:4433"), format!("{SRV}:4436"));
    let (_, report, _) = lab.probe(&[
        &a,
        &b,
        "--cert",
        &cert,
        "--key",
        &key,
        "--no-legacy",
        "--no-plaintext",
    ]);
    let id = &probe_of(&report, 4433)["identity"];
    assert_eq!(id["accepted"], false, "{id}");
    assert!(id["detail"].as_str().unwrap().starts_with("alert "), "{id}");
    let id = &probe_of(&report, 4436)["identity"];
    assert_eq!(id["accepted"], false, "{id}");
    assert!(
        id["detail"]
            .as_str()
            .unwrap()
            .ends_with("The SSL certificate error"),
        "{id}"
    );
}

/// The report validates against the published schema (Python jsonschema,
/// through [`support::validate_with_schema`]).
pub fn validate_schema(report: &Path) {
    if let Some((n, errors)) =
        support::validate_with_schema("report-v1.schema.json", &[report.to_path_buf()], false)
    {
        assert_eq!(n, 1);
        assert!(errors.is_empty(), "report does not validate: {errors:?}");
    }
}

/// Usage, input and configuration errors map to their exit codes; a
/// closed loopback port is a report with a `refused` probe (exit 4).
fn probe_command_line_errors_and_a_closed_port() {
    let run = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_tls-audit"))
            .arg("probe")
            .args(args)
            .output()
            .expect("run tls-audit");
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (code, _, err) = run(&[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("at least one HOST:PORT"), "{err}");
    let (code, _, err) = run(&["fd00::1:443"]);
    assert_eq!(code, 2);
    assert!(err.contains("brackets"), "{err}");
    let (code, _, err) = run(&["--targets", "/nonexistent/targets.txt"]);
    assert_eq!(code, 3, "{err}");
    let dir = temp_dir("probe-cli");
    let list = dir.join("targets.txt");
    std::fs::write(&list, "127.0.0.1:1\nnot a target\n").unwrap();
    let (code, _, err) = run(&["--targets", list.to_str().unwrap()]);
    assert_eq!(code, 3);
    assert!(err.contains("line 2"), "{err}");
    let junk = dir.join("junk.pem");
    std::fs::write(&junk, "nothing").unwrap();
    let j = junk.to_str().unwrap();
    let (code, _, err) = run(&["127.0.0.1:1", "--cert", j, "--key", j]);
    assert_eq!(code, 6, "{err}");
    assert!(err.contains("--cert/--key"), "{err}");

    // A port nothing listens on (bound, then closed, so it is free now).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let target = format!("127.0.0.1:{port}");
    let (code, out, err) = run(&[&target, "-o", "json"]);
    assert_eq!(code, 4, "{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    let p = &report["probes"][0];
    assert_eq!(p["error"]["kind"], "refused", "{p}");
    // Endpoints given by hand name no pod (`pod --active` fills it).
    assert!(p.get("pod").is_none(), "{p}");
    assert_eq!(report["warnings"][0]["kind"], "probe-failed");
    assert!(report["flows"].as_array().unwrap().is_empty());
}

/// This module's tests, as the harness lists them (`main.rs`).
pub(crate) fn tests() -> Vec<crate::runner::Test> {
    use crate::runner::Test;
    vec![
        Test::new(
            module_path!(),
            "probe_verdicts_on_real_servers",
            probe_verdicts_on_real_servers,
        )
        .needs(LAB_NEEDS),
        Test::new(
            module_path!(),
            "probe_command_line_errors_and_a_closed_port",
            probe_command_line_errors_and_a_closed_port,
        ),
    ]
}
