//! The live capture agent (`tls-audit capture`) on real interfaces: each
//! test makes its own network namespace and runs OpenSSL and curl on its
//! loopback, so the traffic never leaves it. The agent's run beside
//! tcpdump over every real-stack scenario is in `live.rs`.
//!
//! Needs root and the tools scripts/install-deps.sh installs (`NEEDS`):
//! ignored otherwise, failed in CI.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::runner::Need;
use crate::support::{self, Killed, temp_dir, wait_until};

const AGENT: &str = env!("CARGO_BIN_EXE_tls-audit");

/// A network namespace with its loopback up; deleted when dropped.
struct Netns(String);

impl Netns {
    fn new(name: &str) -> Netns {
        let _ = Command::new("ip")
            .args(["netns", "del", name])
            .stderr(Stdio::null())
            .status();
        run_ok(Command::new("ip").args(["netns", "add", name]));
        let ns = Netns(name.to_string());
        run_ok(ns.cmd("ip").args(["link", "set", "lo", "up"]));
        ns
    }

    /// `prog` inside the namespace.
    fn cmd(&self, prog: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.0, prog]);
        c
    }

    /// An OpenSSL server with the fixture PKI on 127.0.0.1:`port`.
    fn tls_server(&self, port: u16, extra: &[&str]) -> Killed {
        let extra: Vec<&str> = ["-www"].iter().chain(extra).copied().collect();
        support::fixture_tls_server(&self.0, "127.0.0.1", port, "server", &extra)
    }

    /// The agent's metrics page, served on 127.0.0.1:9464 in the namespace
    /// (empty until it answers).
    fn metrics(&self) -> String {
        self.cmd("curl")
            .args(["-s", "--max-time", "2", "http://127.0.0.1:9464/metrics"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    fn curl(&self, url: &str) {
        run_ok(
            self.cmd("curl")
                .args(["-sk", "--max-time", "5", "-o", "/dev/null", url]),
        );
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn run_ok(c: &mut Command) -> Output {
    let out = c.output().expect("spawn");
    assert!(
        out.status.success(),
        "{c:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// What every agent test needs: root, and the tools it drives.
const NEEDS: &[Need] = &[
    Need::Root,
    Need::Tool("ip"),
    Need::Tool("ss"),
    Need::Tool("openssl"),
    Need::Tool("curl"),
    Need::Tool("setpriv"),
    Need::Tool("setcap"),
];

/// The agent's event lines, parsed.
fn events(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn of_kind<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event"] == kind).collect()
}

/// Every line is a v1 event, and sequence numbers run 0, 1, 2...
fn assert_well_formed(events: &[Value]) {
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["schema"], "tls-audit/event/v1", "{e}");
        assert_eq!(e["seq"], i as u64, "{e}");
    }
    assert_eq!(events.first().map(|e| &e["event"]), Some(&"start".into()));
    assert_eq!(events.last().map(|e| &e["event"]), Some(&"summary".into()));
}

fn duration_ends_on_time_on_an_idle_link() {
    let ns = Netns::new("tlsa-agent-idle");
    let t0 = Instant::now();
    let out = ns
        .cmd(AGENT)
        .args([
            "capture",
            "-i",
            "lo",
            "--duration",
            "2s",
            "--emit",
            "ndjson",
        ])
        .output()
        .expect("agent");
    let took = t0.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // No packet ever arrives; the deadline alone ends the capture.
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_millis(3500),
        "took {took:?}"
    );
    let ev = events(&out.stdout);
    assert_well_formed(&ev);
    let live = &ev.last().unwrap()["report"]["inputs"][0]["live"];
    assert_eq!(live["stopped_by"], "duration");
    assert_eq!(live["received"], 0);
    assert_eq!(ev.last().unwrap()["report"]["stats"]["flows"], 0);
    println!("idle capture of 2s ended after {took:?}");
    // The stream follows the event schema, and the schema can say no.
    let dir = temp_dir("agent-idle");
    let good = dir.join("idle.ndjson");
    std::fs::write(&good, &out.stdout).unwrap();
    let bad = dir.join("bad.ndjson");
    std::fs::write(
        &bad,
        concat!(
            "{\"schema\":\"tls-audit/event/v2\",\"seq\":0,\"event\":\"start\"}\n",
            "{\"schema\":\"tls-audit/event/v1\",\"seq\":1,\"event\":\"flow\",\"id\":1}\n",
            "{\"schema\":\"tls-audit/event/v1\",\"seq\":2,\"event\":\"start\",\"interface\":\"lo\"}\n",
        ),
    )
    .unwrap();
    if let Some((n, errors)) =
        support::validate_with_schema("event-v1.schema.json", &[good, bad], true)
    {
        assert_eq!(n, ev.len() + 3);
        let bad_lines: std::collections::BTreeSet<&str> = errors
            .iter()
            .map(|e| e.split(": ").next().unwrap())
            .collect();
        assert_eq!(
            bad_lines.len(),
            3,
            "only the three bad lines fail: {errors:#?}"
        );
        assert!(
            bad_lines.iter().all(|l| l.contains("bad.ndjson")),
            "{errors:#?}"
        );
    }
}

fn sigterm_mid_flow_still_gives_the_summary_and_the_open_flow() {
    let ns = Netns::new("tlsa-agent-term");
    let root_ca = support::root().join("fixtures/pki/root-ca.crt");
    let _server = ns.tls_server(
        8443,
        &["-Verify", "1", "-CAfile", root_ca.to_str().unwrap()],
    );
    let agent = ns
        .cmd(AGENT)
        .args([
            "capture",
            "-i",
            "lo",
            "--bpf",
            "tcp port 8443",
            "--emit",
            "ndjson",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("agent");
    let mut agent = Killed(agent);
    let (tx, rx) = mpsc::channel::<String>();
    let stdout = agent.0.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let wait_event = |kind: &str, seen: &mut Vec<String>| {
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until {
            if let Ok(l) = rx.recv_timeout(Duration::from_millis(100)) {
                let hit = l.contains(&format!("\"event\":\"{kind}\""));
                seen.push(l);
                if hit {
                    return;
                }
            }
        }
        panic!("no {kind} event; saw {seen:?}");
    };
    let mut seen = Vec::new();
    wait_event("start", &mut seen);
    // A client that completes mutual TLS 1.3 and then stays connected.
    let pki = support::root().join("fixtures/pki");
    let client = ns
        .cmd("openssl")
        .args([
            "s_client",
            "-connect",
            "127.0.0.1:8443",
            "-tls1_3",
            "-quiet",
        ])
        .arg("-cert")
        .arg(pki.join("client.crt"))
        .arg("-key")
        .arg(pki.join("client.key"))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("s_client");
    let _client = Killed(client);
    wait_event("handshake", &mut seen);
    run_ok(Command::new("kill").args(["-TERM", &agent.0.id().to_string()]));
    let status = agent.0.wait().expect("agent exit");
    reader.join().unwrap();
    seen.extend(rx.try_iter());
    assert!(status.success(), "agent exit {status:?}");
    let ev: Vec<Value> = seen
        .iter()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    assert_well_formed(&ev);
    let summary = ev.last().unwrap();
    assert_eq!(
        summary["report"]["inputs"][0]["live"]["stopped_by"],
        "signal"
    );
    // The connection was still open: its record comes at the end, complete
    // with what the handshake showed.
    let flows = of_kind(&ev, "flow");
    assert_eq!(flows.len(), 1, "{flows:?}");
    let f = &flows[0]["flow"];
    assert_eq!(f["tls"]["version"], "TLS1.3");
    assert_eq!(f["tcp"]["fin_seen"], false);
    assert_eq!(f["server"]["port"], 8443);
    assert_eq!(f["tls"]["mutual"], true, "{f}");
    assert_eq!(f["tls"]["mutual_evidence"], "encrypted-flight-size");
    assert_eq!(of_kind(&ev, "handshake")[0]["id"], flows[0]["id"]);
}

fn metrics_and_report_from_a_running_agent() {
    let ns = Netns::new("tlsa-agent-metrics");
    let _server = ns.tls_server(8443, &[]);
    let dir = temp_dir("agent-metrics");
    let report = dir.join("report.json");
    let agent = ns
        .cmd(AGENT)
        .args([
            "capture",
            "-i",
            "lo",
            "--duration",
            "6s",
            "--emit",
            "report",
            "-o",
            "json",
        ])
        .args(["--metrics-addr", "127.0.0.1:9464", "--out-file"])
        .arg(&report)
        .arg("--write-pcap")
        .arg(dir.join("saved.pcap"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("agent");
    let mut agent = Killed(agent);
    let metrics = || ns.metrics();
    wait_until("the metrics endpoint", || {
        metrics().contains("tls_audit_flows_total")
    });
    for _ in 0..3 {
        ns.curl("https://127.0.0.1:8443/");
    }
    // Closed flows are counted once their FIN exchange is seen. curl offers
    // post-handshake authentication, so "no certificate in the handshake"
    // is not "no client authentication": unknown, not no.
    wait_until("three TLS flows in the metrics", || {
        metrics().contains(
            r#"tls_audit_flows_total{protection="tls",mutual="unknown",version="TLS1.3"} 3"#,
        )
    });
    let text = metrics();
    // The certificate is encrypted in TLS 1.3: no expiry series from it.
    assert!(text.contains("# TYPE tls_audit_cert_expiry_seconds gauge"));
    assert!(text.contains("tls_audit_packets_dropped_total 0"), "{text}");
    let status = agent.0.wait().expect("agent exit");
    let mut err = String::new();
    std::io::Read::read_to_string(agent.0.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(status.success(), "{status:?}: {err}");
    let r: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(r["stats"]["tls_flows"], 3, "{r}");
    assert_eq!(r["inputs"][0]["format"], "live");
    assert_eq!(r["inputs"][0]["live"]["dropped"], 0);
    assert!(r["verification"].is_object());
    assert!(err.contains("packets received"), "{err}");
    // Issue 17 item 8: the agent's own scrapes (cleartext HTTP to its
    // metrics port) are counted apart and exempted, not TA-PLAINTEXT.
    assert!(
        !text.contains("tls_audit_own_scrapes_total 0"),
        "scrapes not counted: {text}"
    );
    assert!(text.contains("tls_audit_build_info{version="), "{text}");
    let plaintext_on_metrics = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["rule"] == "TA-PLAINTEXT" && f["subject"]["endpoint"] == "127.0.0.1:9464");
    assert!(!plaintext_on_metrics, "{}", r["findings"]);
    assert!(
        r["verification"]["exempted"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["exemption"]
                .as_str()
                .is_some_and(|e| e.starts_with("tls-audit-metrics"))),
        "{}",
        r["verification"]["exempted"]
    );
    // The packets it saved give the same flows when analysed afterwards.
    let saved = Command::new(AGENT)
        .args(["analyze", "-o", "json"])
        .arg(dir.join("saved.pcap"))
        .output()
        .unwrap();
    let saved: Value = serde_json::from_slice(&saved.stdout).expect("saved pcap report");
    assert_eq!(saved["flows"], r["flows"]);
    assert_eq!(saved["inputs"][0]["packets"], r["inputs"][0]["packets"]);
    // The live report follows the published schema, `inputs[].live` too.
    if let Some((n, errors)) =
        support::validate_with_schema("report-v1.schema.json", &[report], false)
    {
        assert_eq!((n, errors), (1, Vec::<String>::new()));
    }
}

fn tls12_certificates_become_expiry_metrics() {
    let ns = Netns::new("tlsa-agent-expiry");
    let _server = ns.tls_server(8443, &["-tls1_2"]);
    let agent = ns
        .cmd(AGENT)
        .args([
            "capture",
            "-i",
            "lo",
            "--duration",
            "5s",
            "--emit",
            "ndjson",
        ])
        .args(["--metrics-addr", "127.0.0.1:9464"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("agent");
    let agent = Killed(agent);
    let metrics = || ns.metrics();
    wait_until("the metrics endpoint", || {
        metrics().contains("tls_audit_flows_total")
    });
    ns.curl("https://127.0.0.1:8443/");
    wait_until("the certificate series", || {
        metrics().contains("tls_audit_cert_expiry_seconds{role=\"server\"")
    });
    let text = metrics();
    let line = text
        .lines()
        .find(|l| l.starts_with("tls_audit_cert_expiry_seconds{role=\"server\""))
        .unwrap();
    // The fixture's server certificate: its notAfter, as OpenSSL reads it.
    let pki = support::root().join("fixtures/pki/server.crt");
    let end = run_ok(
        Command::new("openssl")
            .args(["x509", "-noout", "-enddate", "-dateopt", "iso_8601", "-in"])
            .arg(&pki),
    );
    let not_after = String::from_utf8_lossy(&end.stdout)
        .trim()
        .trim_start_matches("notAfter=")
        .to_string();
    let not_after = time::OffsetDateTime::parse(
        &not_after.replace(' ', "T"),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap_or_else(|e| panic!("{not_after}: {e}"));
    let value: i64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    let expect = not_after.unix_timestamp() - time::OffsetDateTime::now_utc().unix_timestamp();
    assert!((value - expect).abs() < 30, "{line} vs {expect}");
    assert!(line.contains("server=\"127.0.0.1:8443\""), "{line}");
    drop(agent);
}

fn bad_interface_filter_and_missing_capability_are_said_clearly() {
    let ns = Netns::new("tlsa-agent-bad");
    let run = |c: &mut Command| {
        let o = c.output().expect("agent");
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (code, err) = run(ns
        .cmd(AGENT)
        .args(["capture", "-i", "nosuch0", "--duration", "1s"]));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("no interface named \"nosuch0\""), "{err}");
    assert!(
        err.contains("lo"),
        "the message lists the interfaces: {err}"
    );

    let (code, err) = run(ns.cmd(AGENT).args([
        "capture",
        "-i",
        "lo",
        "--bpf",
        "tcp port",
        "--duration",
        "1s",
    ]));
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("BPF filter \"tcp port\" does not compile"),
        "{err}"
    );

    // Root without CAP_NET_RAW in its bounding set (as a container without it).
    let (code, err) = run(ns
        .cmd("setpriv")
        .args(["--bounding-set=-net_raw", "--inh-caps=-all", AGENT])
        .args(["capture", "-i", "lo", "--duration", "1s"]));
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("CAP_NET_RAW"), "{err}");
    assert!(err.contains("securityContext.capabilities"), "{err}");

    // The NDJSON stream says it too, for a reader of the pod log.
    let out = ns
        .cmd(AGENT)
        .args(["capture", "-i", "nosuch0", "--emit", "ndjson"])
        .output()
        .unwrap();
    let ev = events(&out.stdout);
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0]["event"], "error");
    assert!(ev[0]["message"].as_str().unwrap().contains("nosuch0"));
}

/// The privileges `probes/` and the Dockerfile grant are the ones that
/// work: root with NET_RAW alone (the ephemeral container, sidecar and
/// DaemonSet), and a non-root user with the binary's file capability (the
/// image's default user, outside Kubernetes); without either, a clear
/// refusal.
fn privileges_as_the_manifests_grant_them() {
    let ns = Netns::new("tlsa-agent-caps");
    let dir = PathBuf::from(format!("/tmp/tlsa-agent-caps-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let copy = dir.join("tls-audit");
    std::fs::copy(AGENT, &copy).unwrap();
    run_ok(Command::new("chmod").args(["755"]).arg(&dir).arg(&copy));
    let capture = |prefix: &[&str], bin: &Path| {
        let o = ns
            .cmd("setpriv")
            .args(prefix)
            .arg(bin)
            .args([
                "capture",
                "-i",
                "lo",
                "--duration",
                "1s",
                "--emit",
                "ndjson",
            ])
            .output()
            .expect("agent");
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    // Root, every capability but NET_RAW gone, with the ephemeral
    // container's own arguments (on lo, for a second, with a filter).
    let spec = &crate::probes::documents("ephemeral-container.yaml")[0];
    let args: Vec<String> = crate::probes::agent_args(spec)
        .into_iter()
        .map(|a| match a.as_str() {
            "--interface=eth0" => "--interface=lo".into(),
            a if a.starts_with("--duration=") => "--duration=1s".into(),
            _ => a,
        })
        .chain(["--bpf=tcp port 443".to_string()])
        .collect();
    let o = ns
        .cmd("setpriv")
        .args(["--bounding-set=-all,+net_raw", "--inh-caps=-all", AGENT])
        .args(&args)
        .output()
        .expect("agent");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        o.status.code(),
        Some(0),
        "root with NET_RAW only, {args:?}: {err}"
    );
    let ev = events(&o.stdout);
    assert_well_formed(&ev);
    assert_eq!(ev[0]["filter"], "tcp port 443");
    let nonroot = [
        "--reuid=65532",
        "--regid=65532",
        "--clear-groups",
        "--inh-caps=-all",
    ];
    // Non-root, no file capability: refused, with the fix in the message.
    let (code, err) = capture(&nonroot, &copy);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("setcap cap_net_raw+ep"), "{err}");
    // Non-root with the file capability, as the image installs it.
    run_ok(Command::new("setcap").arg("cap_net_raw+ep").arg(&copy));
    let (code, err) = capture(&nonroot, &copy);
    assert_eq!(code, Some(0), "non-root with the file capability: {err}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn a_reader_that_goes_away_ends_the_capture() {
    let ns = Netns::new("tlsa-agent-pipe");
    let _server = ns.tls_server(8443, &[]);
    let mut agent = ns
        .cmd(AGENT)
        .args(["capture", "-i", "lo", "--emit", "ndjson"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("agent");
    let mut first = String::new();
    let mut out = BufReader::new(agent.stdout.take().unwrap());
    out.read_line(&mut first).unwrap();
    assert!(first.contains("\"event\":\"start\""), "{first}");
    drop(out); // the reader leaves
    let t0 = Instant::now();
    ns.curl("https://127.0.0.1:8443/"); // events to write, into a closed pipe
    let status = loop {
        if let Some(s) = agent.try_wait().unwrap() {
            break s;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "the agent ran on unread"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(agent.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(err.contains("the event reader went away"), "{err}");
}

/// This module's tests, as the harness lists them (`main.rs`).
pub(crate) fn tests() -> Vec<crate::runner::Test> {
    use crate::runner::Test;
    vec![
        Test::new(
            module_path!(),
            "duration_ends_on_time_on_an_idle_link",
            duration_ends_on_time_on_an_idle_link,
        )
        .needs(NEEDS),
        Test::new(
            module_path!(),
            "sigterm_mid_flow_still_gives_the_summary_and_the_open_flow",
            sigterm_mid_flow_still_gives_the_summary_and_the_open_flow,
        )
        .needs(NEEDS),
        Test::new(
            module_path!(),
            "metrics_and_report_from_a_running_agent",
            metrics_and_report_from_a_running_agent,
        )
        .needs(NEEDS),
        Test::new(
            module_path!(),
            "tls12_certificates_become_expiry_metrics",
            tls12_certificates_become_expiry_metrics,
        )
        .needs(NEEDS),
        Test::new(
            module_path!(),
            "bad_interface_filter_and_missing_capability_are_said_clearly",
            bad_interface_filter_and_missing_capability_are_said_clearly,
        )
        .needs(NEEDS),
        Test::new(
            module_path!(),
            "privileges_as_the_manifests_grant_them",
            privileges_as_the_manifests_grant_them,
        )
        .needs(NEEDS),
        Test::new(
            module_path!(),
            "a_reader_that_goes_away_ends_the_capture",
            a_reader_that_goes_away_ends_the_capture,
        )
        .needs(NEEDS),
    ]
}
