//! tls-audit's verdicts next to testssl.sh's and sslyze's on the same lab
//! endpoints: protocol versions, client-certificate policy, and the chain
//! (anchored in the lab CA and in date). Prints a table and returns it; a
//! disagreement fails the test unless it is one the tools' documented
//! limits explain (`known`), and those are printed as such. A tool that is
//! not installed is skipped with a notice.

use std::collections::BTreeMap;
use std::process::Command;

use serde_json::Value;

use super::{CLIENT_NS, Lab, SRV, accepted, have, probe_of};

/// The endpoints the tools are run on (TLS ones; the plaintext, closed,
/// black-holed and resetting ports have nothing for them to grade).
pub const PORTS: [u16; 9] = [4431, 4432, 4433, 4434, 4435, 4436, 4437, 4438, 4439];

/// One tool's verdicts on one endpoint; `None` where it says nothing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Verdicts {
    pub versions: BTreeMap<&'static str, Option<bool>>,
    /// `none`, `optional`, `required` (sslyze); `required` or
    /// `not-required` (testssl: it cannot see optional).
    pub client_auth: Option<String>,
    /// `ok`, `expired`, `untrusted`.
    pub chain: Option<String>,
}

/// Disagreements traced to the tool's method, with the reason (see
/// docs/probe-agreement.md). Anything else that differs fails the test.
const KNOWN: &[(&str, u16, &str, &str)] = &[
    ("sslyze", 4436, "client_auth", NGINX_ON),
    ("testssl.sh", 4436, "client_auth", NGINX_ON),
];

const NGINX_ON: &str = "nginx `ssl_verify_client on` completes the TLS handshake without a \
    client certificate and refuses at the HTTP layer (400 \"No required SSL certificate was \
    sent\"); the tool judges the handshake only";

/// A tool's verdicts by port, and the seconds it took.
type Run = (BTreeMap<u16, Verdicts>, f64);

const VERSIONS: [&str; 5] = ["TLS1.3", "TLS1.2", "TLS1.1", "TLS1.0", "SSL3.0"];

fn ours(report: &Value, port: u16) -> Verdicts {
    let p = probe_of(report, port);
    let mut v = Verdicts::default();
    for name in VERSIONS {
        v.versions.insert(name, accepted(p, name).as_bool());
    }
    v.client_auth = p["client_auth"]["policy"].as_str().map(str::to_string);
    let ep = format!("{SRV}:{port}");
    let chain_rules: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["flow"]["server"] == ep.as_str())
        .filter_map(|f| f["rule"].as_str())
        .filter(|r| matches!(*r, "TA-CERT-EXPIRED" | "TA-CHAIN"))
        .collect();
    v.chain = Some(
        if chain_rules.contains(&"TA-CERT-EXPIRED") {
            "expired"
        } else if chain_rules.contains(&"TA-CHAIN") {
            "untrusted"
        } else {
            "ok"
        }
        .into(),
    );
    v
}

/// Run `cmd` in the client namespace with a deadline; its wall time.
fn run_in_client(cmd: &[&str], secs: u32) -> f64 {
    let t0 = std::time::Instant::now();
    let status = Command::new("ip")
        .args(["netns", "exec", CLIENT_NS, "timeout", &secs.to_string()])
        .args(cmd)
        .output();
    if let Ok(o) = &status
        && !o.status.success()
    {
        eprintln!(
            "{}: exit {:?}: {}",
            cmd[0],
            o.status.code(),
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .last()
                .unwrap_or("")
        );
    }
    t0.elapsed().as_secs_f64()
}

/// sslyze on every port in one run (it scans servers concurrently).
fn sslyze(lab: &Lab) -> Option<Run> {
    if !have("sslyze") {
        eprintln!("NOTICE: sslyze not installed (pip install sslyze); comparison skipped");
        return None;
    }
    let out = lab.work.join("sslyze.json");
    let ca = lab.pki.join("ca.pem");
    let targets: Vec<String> = PORTS.iter().map(|p| format!("{SRV}:{p}")).collect();
    let json_out = format!("--json_out={}", out.display());
    let ca_arg = format!("--certinfo_ca_file={}", ca.display());
    let mut cmd = vec![
        "sslyze",
        "--quiet",
        &json_out,
        "--sslv3",
        "--tlsv1",
        "--tlsv1_1",
        "--tlsv1_2",
        "--tlsv1_3",
        "--certinfo",
        &ca_arg,
    ];
    cmd.extend(targets.iter().map(String::as_str));
    let secs = run_in_client(&cmd, 600);
    let doc: Value = serde_json::from_slice(&std::fs::read(&out).ok()?).ok()?;
    let mut all = BTreeMap::new();
    for s in doc["server_scan_results"].as_array()? {
        let port = s["server_location"]["port"].as_u64()? as u16;
        let mut v = Verdicts::default();
        let r = &s["scan_result"];
        for (name, key) in [
            ("TLS1.3", "tls_1_3_cipher_suites"),
            ("TLS1.2", "tls_1_2_cipher_suites"),
            ("TLS1.1", "tls_1_1_cipher_suites"),
            ("TLS1.0", "tls_1_0_cipher_suites"),
            ("SSL3.0", "ssl_3_0_cipher_suites"),
        ] {
            let accepted = r[key]["result"]["accepted_cipher_suites"].as_array();
            v.versions.insert(name, accepted.map(|a| !a.is_empty()));
        }
        v.client_auth = s["connectivity_result"]["client_auth_requirement"]
            .as_str()
            .map(|c| match c {
                "DISABLED" => "none".to_string(),
                other => other.to_lowercase(),
            });
        // The custom trust store is the last path validation result.
        let validations = r["certificate_info"]["result"]["certificate_deployments"][0]
            ["path_validation_results"]
            .as_array();
        v.chain = validations
            .and_then(|a| {
                a.iter()
                    .find(|x| x["trust_store"]["path"].as_str() == ca.to_str())
            })
            .map(|x| {
                if x["was_validation_successful"] == true {
                    "ok".to_string()
                } else if x["validation_error"]
                    .as_str()
                    .unwrap_or("")
                    .contains("expired")
                {
                    "expired".to_string()
                } else {
                    "untrusted".to_string()
                }
            });
        all.insert(port, v);
    }
    Some((all, secs))
}

/// testssl.sh, one endpoint after another (`-p` protocols, `-S` server
/// defaults: certificate and, indirectly, client authentication).
fn testssl(lab: &Lab) -> Option<Run> {
    let bin = ["testssl", "testssl.sh"].into_iter().find(|b| have(b));
    let Some(bin) = bin else {
        eprintln!(
            "NOTICE: testssl.sh not installed (apt-get install testssl.sh); comparison skipped"
        );
        return None;
    };
    let ca = lab.pki.join("ca.pem");
    let mut all = BTreeMap::new();
    let mut secs = 0.0;
    for port in PORTS {
        let out = lab.work.join(format!("testssl-{port}.json"));
        let _ = std::fs::remove_file(&out);
        let target = format!("{SRV}:{port}");
        let ca_arg = format!("--add-ca={}", ca.display());
        let json = out.to_str()?;
        secs += run_in_client(
            &[
                bin,
                "--quiet",
                "--color",
                "0",
                "--warnings",
                "off",
                "-p",
                "-S",
                &ca_arg,
                "--jsonfile",
                json,
                &target,
            ],
            300,
        );
        let Ok(doc) = std::fs::read(&out).map(|b| serde_json::from_slice::<Value>(&b)) else {
            continue;
        };
        let Ok(Value::Array(items)) = doc else {
            continue;
        };
        let find = |id: &str| {
            items
                .iter()
                .find(|i| i["id"] == id)
                .and_then(|i| i["finding"].as_str())
                .map(str::to_string)
        };
        let mut v = Verdicts::default();
        for (name, id) in [
            ("TLS1.3", "TLS1_3"),
            ("TLS1.2", "TLS1_2"),
            ("TLS1.1", "TLS1_1"),
            ("TLS1.0", "TLS1"),
            ("SSL3.0", "SSLv3"),
        ] {
            v.versions.insert(
                name,
                find(id).map(|f| f.starts_with("offered") && !f.contains("not offered")),
            );
        }
        // testssl 3.0 notices client authentication only when OpenSSL's
        // s_client fails without a certificate: it tells required from the
        // rest, and cannot see optional.
        // When that run fails otherwise it says "Couldn't determine service"
        // and nothing about client authentication.
        let service = find("service").unwrap_or_default();
        v.client_auth = if service.contains("certificate-based authentication") {
            Some("required".into())
        } else if service.contains("Couldn't determine service") {
            None
        } else {
            Some("not-required".into())
        };
        v.chain = find("cert_chain_of_trust").map(|f| {
            if f.starts_with("passed") {
                "ok".to_string()
            } else if f.contains("expired") {
                "expired".to_string()
            } else {
                "untrusted".to_string()
            }
        });
        // testssl rates expiry separately from the chain.
        if find("cert_expirationStatus").is_some_and(|f| f.starts_with("expired")) {
            v.chain = Some("expired".into());
        }
        all.insert(port, v);
    }
    Some((all, secs))
}

/// Does `theirs` agree with `ours` on `field`? `None`: the tool says nothing.
fn agrees(ours: &Verdicts, theirs: &Verdicts, field: &str) -> Option<bool> {
    match field {
        "client_auth" => {
            let t = theirs.client_auth.as_deref()?;
            let o = ours.client_auth.as_deref()?;
            Some(if t == "not-required" {
                o == "none" || o == "optional"
            } else {
                t == o
            })
        }
        "chain" => Some(theirs.chain.as_deref()? == ours.chain.as_deref()?),
        v => Some(
            theirs.versions.get(v).copied().flatten()?
                == ours.versions.get(v).copied().flatten()?,
        ),
    }
}

/// Compare, print the table (Markdown), fail on an unexplained disagreement.
pub fn with_testssl_and_sslyze(lab: &Lab, report: &Value) {
    let tools: Vec<(&str, Option<Run>)> =
        vec![("sslyze", sslyze(lab)), ("testssl.sh", testssl(lab))];
    let fields = [
        "TLS1.3",
        "TLS1.2",
        "TLS1.1",
        "TLS1.0",
        "SSL3.0",
        "client_auth",
        "chain",
    ];
    let mut table = String::from("| endpoint | field | tls-audit |");
    for (name, _) in &tools {
        table.push_str(&format!(" {name} |"));
    }
    table.push_str("\n|---|---|---|");
    table.push_str(&"---|".repeat(tools.len()));
    table.push('\n');
    let mut totals: BTreeMap<&str, (u32, u32)> = BTreeMap::new();
    let mut unexplained = Vec::new();
    let mut explained = Vec::new();
    for port in PORTS {
        let o = ours(report, port);
        for field in fields {
            let show = |v: &Verdicts| match field {
                "client_auth" => v.client_auth.clone().unwrap_or("-".into()),
                "chain" => v.chain.clone().unwrap_or("-".into()),
                f => match v.versions.get(f).copied().flatten() {
                    Some(true) => "yes".into(),
                    Some(false) => "no".into(),
                    None => "-".into(),
                },
            };
            let mut row = format!("| {port} | {field} | {} |", show(&o));
            for (name, result) in &tools {
                let cell = match result.as_ref().and_then(|(m, _)| m.get(&port)) {
                    None => "n/a".to_string(),
                    Some(t) => match agrees(&o, t, field) {
                        None => "-".into(),
                        Some(true) => {
                            totals.entry(name).or_default().0 += 1;
                            format!("{} ✓", show(t))
                        }
                        Some(false) => {
                            totals.entry(name).or_default().1 += 1;
                            let known = KNOWN
                                .iter()
                                .find(|k| (k.0, k.1, k.2) == (*name, port, field));
                            match known {
                                Some(k) => {
                                    explained.push(format!("{name} {port} {field}: {}", k.3))
                                }
                                None => unexplained.push(format!(
                                    "{name} {port} {field}: ours {} theirs {}",
                                    show(&o),
                                    show(t)
                                )),
                            }
                            format!("**{}** ✗", show(t))
                        }
                    },
                };
                row.push_str(&format!(" {cell} |"));
            }
            table.push_str(&row);
            table.push('\n');
        }
    }
    println!("\nprobe agreement (✓ agrees, ✗ differs, - not reported):\n{table}");
    for (name, result) in &tools {
        if let Some((_, secs)) = result {
            let (ok, bad) = totals.get(name).copied().unwrap_or_default();
            println!(
                "{name}: {ok} verdicts agree, {bad} differ; {secs:.1} s for {} endpoints",
                PORTS.len()
            );
        }
    }
    for e in &explained {
        println!("explained disagreement: {e}");
    }
    std::fs::write(lab.work.join("agreement.md"), &table).unwrap();
    assert!(unexplained.is_empty(), "disagreements: {unexplained:#?}");
}
