//! The live agent on every core (`tls-audit capture --workers N`, packet
//! fanout): two network namespaces joined by a veth pair, OpenSSL servers
//! in one, curl and `openssl s_client` in the other making many real TLS
//! connections (TLS 1.2 and 1.3, mutual, resumed sessions), the agent on
//! the server's veth. The same traffic with two workers and with one must
//! give the same flows and verdicts; every flow must be whole (both
//! directions reached one worker: the kernel's fanout hash is symmetric,
//! which this checks rather than assumes); both workers must have had
//! flows; and where fanout cannot be used the agent says so.
//!
//! Needs root and the tools scripts/install-deps.sh installs (`NEEDS`):
//! ignored otherwise, failed in CI. Run it under the namespace lock.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::agent::run_ok;
use crate::runner::Need;
use crate::support::{self, Killed, temp_dir, wait_until};

const AGENT: &str = env!("CARGO_BIN_EXE_tls-audit");
const SERVER_IP: &str = "10.77.0.2";
const CLIENT_IP: &str = "10.77.0.1";

/// Two namespaces joined by a veth pair; deleted when dropped.
struct Pair {
    cli: String,
    srv: String,
}

impl Pair {
    fn new(tag: &str) -> Pair {
        let pair = Pair {
            cli: format!("fanout-{tag}-c"),
            srv: format!("fanout-{tag}-s"),
        };
        pair.delete();
        for ns in [&pair.cli, &pair.srv] {
            run_ok(Command::new("ip").args(["netns", "add", ns]));
            run_ok(in_ns(ns, "ip").args(["link", "set", "lo", "up"]));
        }
        run_ok(Command::new("ip").args([
            "link",
            "add",
            "fanout-c0",
            "netns",
            &pair.cli,
            "type",
            "veth",
            "peer",
            "name",
            "fanout-s0",
            "netns",
            &pair.srv,
        ]));
        for (ns, dev, ip) in [
            (&pair.cli, "fanout-c0", CLIENT_IP),
            (&pair.srv, "fanout-s0", SERVER_IP),
        ] {
            run_ok(in_ns(ns, "ip").args(["addr", "add", &format!("{ip}/24"), "dev", dev]));
            run_ok(in_ns(ns, "ip").args(["link", "set", dev, "up"]));
        }
        pair
    }

    fn delete(&self) {
        for ns in [&self.cli, &self.srv] {
            let _ = Command::new("ip")
                .args(["netns", "del", ns])
                .stderr(Stdio::null())
                .status();
        }
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        self.delete();
    }
}

fn in_ns(ns: &str, prog: &str) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns, prog]);
    c
}

/// What the fanout tests need: root, and the tools they drive.
const NEEDS: &[Need] = &[
    Need::Root,
    Need::Tool("ip"),
    Need::Tool("ss"),
    Need::Tool("openssl"),
    Need::Tool("curl"),
];

/// Connections the traffic pattern makes.
const CONNECTIONS: u64 = 16 + 8 + 2 * RESUMPTIONS;
const RESUMPTIONS: u64 = 6;

/// The servers: 8443 without client authentication, 8444 requiring a
/// client certificate. Killed when dropped.
fn servers(pair: &Pair) -> [Killed; 2] {
    let root_ca = support::root().join("fixtures/pki/root-ca.crt");
    let ca = root_ca.to_str().unwrap();
    [
        support::fixture_tls_server(&pair.srv, SERVER_IP, 8443, "server", &["-www"]),
        support::fixture_tls_server(
            &pair.srv,
            SERVER_IP,
            8444,
            "server",
            &["-www", "-Verify", "1", "-CAfile", ca],
        ),
    ]
}

/// The same connections every time, one after another: curl with TLS 1.2
/// and 1.3, mutual TLS 1.3 and 1.2 with s_client, and TLS 1.2 mutual
/// handshakes each followed by a session that resumes it.
fn traffic(pair: &Pair, dir: &Path) {
    let pki = support::root().join("fixtures/pki");
    let url = format!("https://{SERVER_IP}:8443/");
    for i in 0..16 {
        let version: &[&str] = if i % 2 == 0 {
            &["--tls-max", "1.2"]
        } else {
            &["--tlsv1.3"]
        };
        run_ok(
            in_ns(&pair.cli, "curl")
                .args(["-sk", "--max-time", "5", "-o", "/dev/null"])
                .args(version)
                .arg(&url),
        );
    }
    let s_client = |extra: &[&str]| {
        let mut c = in_ns(&pair.cli, "openssl");
        c.args(["s_client", "-connect", &format!("{SERVER_IP}:8444")])
            .args(extra)
            .stdin(Stdio::null());
        run_ok(&mut c);
    };
    let (cert, key) = (pki.join("client.crt"), pki.join("client.key"));
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    for i in 0..8 {
        let version = if i % 2 == 0 { "-tls1_3" } else { "-tls1_2" };
        s_client(&[version, "-cert", cert, "-key", key]);
    }
    for i in 0..RESUMPTIONS {
        let sess = dir.join(format!("session-{i}.pem"));
        let sess = sess.to_str().unwrap();
        s_client(&["-tls1_2", "-cert", cert, "-key", key, "-sess_out", sess]);
        s_client(&["-tls1_2", "-sess_in", sess]);
    }
}

/// The agent on the server's veth with `args`, the traffic, SIGTERM; its
/// JSON report and standard error.
fn audit(pair: &Pair, dir: &Path, args: &[&str]) -> (Value, String) {
    let err_path = dir.join(format!("agent-{}.err", args.join("_").replace('/', "-")));
    let agent = in_ns(&pair.srv, AGENT)
        .args(["capture", "-i", "fanout-s0", "--bpf", "tcp", "-o", "json"])
        .args(["--now", "2026-11-27T12:00:00Z"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .expect("agent");
    let mut agent = Killed(agent);
    wait_until("the agent listening", || {
        std::fs::read_to_string(&err_path).is_ok_and(|e| e.contains("listening on"))
    });
    traffic(pair, dir);
    run_ok(Command::new("kill").args(["-TERM", &agent.0.id().to_string()]));
    let mut stdout = agent.0.stdout.take().unwrap();
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut stdout, &mut out).unwrap();
    let status = agent.0.wait().expect("agent exit");
    let stderr = std::fs::read_to_string(&err_path).unwrap();
    assert!(
        matches!(status.code(), Some(0 | 1)),
        "agent {args:?}: {status:?}: {stderr}"
    );
    let report: Value = serde_json::from_slice(&out)
        .unwrap_or_else(|e| panic!("agent {args:?}: not a JSON report ({e}): {stderr}"));
    (report, stderr)
}

/// What a flow was found to be, without its addresses, ports and times
/// (which differ between two runs of the same traffic).
fn verdict(f: &Value) -> String {
    let t = &f["tls"];
    format!(
        "{} server:{} {} {} mutual={} evidence={} resumed={} inherited={}",
        f["protection"],
        f["server"]["port"],
        t["version"],
        t["cipher_suite"],
        t["mutual"],
        t["mutual_evidence"],
        t["resumed"],
        t["mutual_inference"]["matched_by"],
    )
}

/// Verdicts with their counts.
fn verdicts(report: &Value) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for f in report["flows"].as_array().expect("flows") {
        *m.entry(verdict(f)).or_default() += 1;
    }
    m
}

/// Findings' occurrences by rule and severity (their endpoints hold the
/// client's ports, which differ between runs).
fn findings(report: &Value) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for f in report["findings"].as_array().expect("findings") {
        let key = format!("{} {}", f["rule"], f["severity"]);
        *m.entry(key).or_default() += f["occurrences"].as_u64().expect("occurrences");
    }
    m
}

fn two_workers_give_the_flows_and_verdicts_of_one() {
    let dir = temp_dir("fanout");
    let pair = Pair::new("eq");
    let _servers = servers(&pair);
    let (two, err2) = audit(&pair, &dir, &["--workers", "2"]);
    let (one, _) = audit(&pair, &dir, &["--workers", "1"]);
    let live2 = &two["inputs"][0]["live"];
    let live1 = &one["inputs"][0]["live"];
    assert!(err2.contains("2 workers"), "{err2}");
    assert!(!err2.contains("not available"), "{err2}");
    assert!(live1.get("fanout").is_none(), "{live1}");

    // Every connection is one flow, in both runs.
    for (name, r) in [("2 workers", &two), ("1 worker", &one)] {
        assert_eq!(r["stats"]["flows"], CONNECTIONS, "{name}: {}", r["stats"]);
        assert_eq!(r["inputs"][0]["live"]["dropped"], 0, "{name}");
        // Every packet the sockets received was analysed.
        assert_eq!(
            r["stats"]["packets"], r["inputs"][0]["live"]["received"],
            "{name}"
        );
    }
    assert_eq!(live2["stopped_by"], "signal");

    // Both directions of every connection reached one worker: no
    // connection is reported twice, and every flow holds both sides of its
    // handshake (a half seen by each worker would be two flows, each
    // with one hello).
    let flows = two["flows"].as_array().unwrap();
    let tuples: BTreeSet<String> = flows
        .iter()
        .map(|f| format!("{} {}", f["client"], f["server"]))
        .collect();
    assert_eq!(tuples.len(), flows.len(), "a connection reported twice");
    for f in flows {
        assert_eq!(f["role_source"], "syn", "{f}");
        assert_eq!(f["client"]["ip"], CLIENT_IP, "{f}");
        assert_eq!(f["tcp"]["syn_seen"], true, "{f}");
        assert_eq!(f["tcp"]["fin_seen"], true, "{f}");
        assert_eq!(f["tls"]["handshake_seen"], true, "{f}");
        assert!(f["tls"]["version"].is_string(), "{f}");
        assert!(f["tls"]["cipher_suite"].is_string(), "{f}");
    }

    // The kernel spread the flows: each worker had some, and the
    // per-worker counters add up to the totals.
    let workers = live2["fanout"]["workers"].as_array().expect("fanout");
    assert_eq!(workers.len(), 2, "{live2}");
    assert_eq!(live2["fanout"]["mode"], "hash");
    let total = |k: &str| workers.iter().map(|w| w[k].as_u64().unwrap()).sum::<u64>();
    assert_eq!(total("flows"), CONNECTIONS);
    assert_eq!(Some(total("received")), live2["received"].as_u64());
    assert_eq!(Some(total("packets")), two["stats"]["packets"].as_u64());
    for w in workers {
        assert!(
            w["flows"].as_u64().unwrap() > 0,
            "a worker had no flow: {live2}"
        );
    }

    // The same flows and verdicts as one worker, resumed sessions included:
    // each inherited its origin's client certificate, wherever it landed.
    assert_eq!(verdicts(&two), verdicts(&one));
    assert_eq!(findings(&two), findings(&one));
    let inherited = flows
        .iter()
        .filter(|f| f["tls"]["mutual_evidence"] == "resumed-session")
        .count() as u64;
    assert_eq!(inherited, RESUMPTIONS, "{:#?}", verdicts(&two));
    // Both runs' reports follow the schema.
    let paths = [dir.join("two.json"), dir.join("one.json")];
    std::fs::write(&paths[0], two.to_string()).unwrap();
    std::fs::write(&paths[1], one.to_string()).unwrap();
    if let Some((n, errors)) = support::validate_with_schema("report-v1.schema.json", &paths, false)
    {
        assert!(errors.is_empty(), "{errors:#?}");
        assert_eq!(n, 2);
    }
    println!(
        "fanout: {CONNECTIONS} connections, workers' flows {:?}, verdicts as one worker's: {:#?}",
        workers.iter().map(|w| &w["flows"]).collect::<Vec<_>>(),
        verdicts(&two)
    );
}

fn without_fanout_the_agent_says_so_and_captures_with_one_worker() {
    let dir = temp_dir("fanout-fallback");
    let pair = Pair::new("fb");
    let _servers = servers(&pair);
    let pcap = dir.join("written.pcap");
    let (report, stderr) = audit(
        &pair,
        &dir,
        &["--workers", "2", "--write-pcap", pcap.to_str().unwrap()],
    );
    // Said on standard error and in the report, never silently.
    assert!(
        stderr.contains("tls-audit: warning: --write-pcap writes one file from one capture socket"),
        "{stderr}"
    );
    let kinds: Vec<&Value> = report["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| &w["kind"])
        .collect();
    assert!(
        kinds.contains(&&Value::from("fanout-unavailable")),
        "{kinds:?}"
    );
    let live = &report["inputs"][0]["live"];
    assert!(live.get("fanout").is_none(), "{live}");
    assert!(!stderr.contains("workers)"), "{stderr}");
    // One worker captured everything, and wrote it.
    assert_eq!(report["stats"]["flows"], CONNECTIONS);
    let from_file = Command::new(AGENT)
        .args(["analyze", pcap.to_str().unwrap(), "-o", "json"])
        .output()
        .unwrap();
    let from_file: Value = serde_json::from_slice(&from_file.stdout).unwrap();
    assert_eq!(from_file["stats"]["flows"], CONNECTIONS);
    assert_eq!(from_file["stats"]["packets"], report["stats"]["packets"]);
}

pub(crate) fn tests() -> Vec<crate::runner::Test> {
    use crate::runner::Test;
    vec![
        Test::new(
            module_path!(),
            "two_workers_give_the_flows_and_verdicts_of_one",
            two_workers_give_the_flows_and_verdicts_of_one,
        )
        .needs(NEEDS),
        Test::new(
            module_path!(),
            "without_fanout_the_agent_says_so_and_captures_with_one_worker",
            without_fanout_the_agent_says_so_and_captures_with_one_worker,
        )
        .needs(NEEDS),
    ]
}
