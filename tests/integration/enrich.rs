//! Identity enrichment (`analyze --enrich probe`) against real OpenSSL
//! servers in two network namespaces: TLS 1.3 flows captured without keys
//! get the chain their server presents to a mirrored handshake, with its
//! provenance; the certificate rules run on it; the client's identity is
//! inferred from its own listener; and every way it can fail (server gone,
//! silent, presenting another chain since) is said, never hidden.

use std::path::Path;
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::Duration;

use serde_json::Value;

use crate::support::{self, Killed, temp_dir, wait_until};

const BIN: &str = env!("CARGO_BIN_EXE_tls-audit");
const NS_S: &str = "tlsa-enr-s";
const NS_C: &str = "tlsa-enr-c";
const IP_S: &str = "10.231.0.2";
const IP_C: &str = "10.231.0.1";

/// Two namespaces joined by a veth; deleted when dropped.
struct Lab;

impl Lab {
    fn up() -> Option<Lab> {
        for ns in [NS_S, NS_C] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
            if !run(Command::new("ip").args(["netns", "add", ns])) {
                return None;
            }
        }
        let lab = Lab;
        let ok = run(Command::new("ip").args([
            "link", "add", "enr-c0", "netns", NS_C, "type", "veth", "peer", "name", "enr-s0",
            "netns", NS_S,
        ])) && [(NS_C, "enr-c0", IP_C), (NS_S, "enr-s0", IP_S)].iter().all(
            |(ns, dev, ip)| {
                run(ns_cmd(ns, "ip").args(["addr", "add", &format!("{ip}/24"), "dev", dev]))
                    && run(ns_cmd(ns, "ip").args(["link", "set", dev, "up"]))
                    && run(ns_cmd(ns, "ip").args(["link", "set", "lo", "up"]))
            },
        );
        ok.then_some(lab)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for ns in [NS_S, NS_C] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

fn run(c: &mut Command) -> bool {
    c.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn ns_cmd(ns: &str, prog: &str) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns, prog]);
    c
}

/// `openssl s_server` in `ns` on `port` with a fixture certificate.
fn server(ns: &str, ip: &str, port: u16, cert: &str, extra: &[&str]) -> Killed {
    let extra: Vec<&str> = ["-naccept", "100"].iter().chain(extra).copied().collect();
    support::fixture_tls_server(ns, ip, port, cert, &extra)
}

/// tcpdump on the client's veth into `pcap`, once it is writing. In
/// immediate mode: without it libpcap reads a TPACKET_V3 ring whose blocks
/// are handed over when full or after a timeout, and the packets of the
/// last moments before the SIGINT could be lost with the unfinished block
/// (this test's flake: "no TLS1.3 flow to port 8452", the last server).
fn tcpdump(pcap: &Path, filter: &str) -> Killed {
    let dump = Killed(
        ns_cmd(NS_C, "tcpdump")
            .args(["-i", "enr-c0", "-U", "--immediate-mode", "-s", "0", "-w"])
            .arg(pcap)
            .arg(filter)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tcpdump"),
    );
    wait_until("tcpdump", || pcap.metadata().is_ok_and(|m| m.len() > 0));
    dump
}

/// One `openssl s_client` connection from `ns` that completes its
/// handshake and closes.
fn connect(ns: &str, to: &str, extra: &[&str]) {
    use std::io::BufRead;
    let mut c = ns_cmd(ns, "timeout");
    c.args(["10", "openssl", "s_client", "-connect", to])
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = c.spawn().expect("s_client");
    // s_client prints its session summary, ending with the verify result,
    // once the handshake is done (a fixed sleep lost the last handshakes
    // on a loaded machine); then closing stdin makes it send close_notify
    // and end. A handshake that fails ends the output (or the timeout does).
    // The output is read to its end, so s_client never writes to a closed
    // pipe.
    let out = child.stdout.take().expect("s_client stdout");
    let (done, handshake) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            if line.contains("Verify return code") {
                let _ = done.send(());
            }
        }
    });
    let _ = handshake.recv_timeout(Duration::from_secs(10));
    drop(child.stdin.take());
    let _ = child.wait();
    let _ = reader.join();
}

/// `tls-audit analyze INPUT... -o json EXTRA...` in the client namespace,
/// its report checked against the schema.
fn analyze(dir: &Path, input: &[&Path], extra: &[&str]) -> Value {
    analyze_in(ns_cmd(NS_C, BIN), dir, input, extra)
}

/// `analyze` run by `cmd` (the binary, in a namespace or not).
fn analyze_in(mut cmd: Command, dir: &Path, input: &[&Path], extra: &[&str]) -> Value {
    let out = cmd
        .arg("analyze")
        .args(input)
        .args(["-o", "json"])
        .args(extra)
        .output()
        .expect("tls-audit analyze");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let path = dir.join(format!("report-{}-{}.json", input.len(), extra.len()));
    std::fs::write(&path, &text).expect("write report");
    if let Some((n, errors)) =
        support::validate_with_schema("report-v1.schema.json", &[path], false)
    {
        assert_eq!(n, 1);
        assert!(errors.is_empty(), "schema: {errors:?}");
    }
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{e}: {text}\n{}", String::from_utf8_lossy(&out.stderr)))
}

fn flow_to<'a>(r: &'a Value, port: u16, version: &str) -> &'a Value {
    r["flows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["server"]["port"] == port && f["tls"]["version"] == version)
        .unwrap_or_else(|| panic!("no {version} flow to port {port}"))
}

fn not_checked(r: &Value) -> Vec<String> {
    r["verification"]["not_checked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            format!(
                "{} {}",
                n["rule"].as_str().unwrap(),
                n["reason"].as_str().unwrap()
            )
        })
        .collect()
}

fn tls13_identities_are_enriched_with_provenance_and_failures_are_said() {
    let _lab = Lab::up().expect("network namespaces (root: listed as needed)");
    let dir = temp_dir("enrich");
    let pki = support::root().join("fixtures/pki");
    let (cc, ck) = (pki.join("client.crt"), pki.join("client.key"));
    let (cc, ck) = (cc.to_str().unwrap(), ck.to_str().unwrap());
    // Servers: mutual TLS 1.3 (requires a client certificate); one that
    // will present another chain; one that will be gone; one that will
    // fall silent; and the client pod's own listener (its identity).
    let mtls = server(NS_S, IP_S, 8443, "server", &["-Verify", "1"]);
    let mut changes = Some(server(NS_S, IP_S, 8445, "server", &[]));
    let mut gone = Some(server(NS_S, IP_S, 8446, "server", &[]));
    let mut silent = Some(server(NS_S, IP_S, 8447, "server", &[]));
    let _listener = server(NS_C, IP_C, 9443, "client", &[]);
    // Other stacks' TLS 1.3 servers that require a client certificate: Go
    // crypto/tls (RequireAndVerifyClientCert), nginx (ssl_verify_client
    // on), rustls (WebPkiClientVerifier).
    let stacks = other_stacks(&dir);

    let pcap = dir.join("enrich.pcap");
    let mut dump = tcpdump(&pcap, "tcp");
    // The same without the client's listener's traffic: its identity can
    // then come only from the ports its pod declares.
    let unseen = dir.join("no-listener.pcap");
    let mut dump2 = tcpdump(&unseen, "tcp and not port 9443");
    // The capture agent beside tcpdump: its event stream is enriched too.
    let events = dir.join("agent.ndjson");
    let mut agent = Killed(
        ns_cmd(NS_C, BIN)
            .args([
                "capture", "-i", "enr-c0", "--bpf", "tcp", "--emit", "ndjson",
            ])
            .args(["--duration", "60s"])
            .stdout(std::fs::File::create(&events).expect("events file"))
            .stderr(Stdio::null())
            .spawn()
            .expect("agent"),
    );
    wait_until("the agent's start event", || {
        std::fs::read_to_string(&events).is_ok_and(|t| t.contains("\"event\":\"start\""))
    });
    let s = |port: u16| format!("{IP_S}:{port}");
    connect(NS_C, &s(8443), &["-tls1_3", "-cert", cc, "-key", ck]);
    connect(NS_S, &format!("{IP_C}:9443"), &["-tls1_3"]);
    connect(NS_C, &s(8445), &["-tls1_2"]);
    connect(NS_C, &s(8445), &["-tls1_3"]);
    connect(NS_C, &s(8446), &["-tls1_3"]);
    connect(NS_C, &s(8447), &["-tls1_3"]);
    for (_, port, _) in &stacks {
        connect(NS_C, &s(*port), &["-tls1_3", "-cert", cc, "-key", ck]);
    }
    sleep(Duration::from_millis(500));
    for pid in [dump.0.id(), dump2.0.id(), agent.0.id()] {
        let _ = Command::new("kill")
            .args(["-INT", &pid.to_string()])
            .status();
    }
    let _ = dump.0.wait();
    let _ = dump2.0.wait();
    let _ = agent.0.wait();

    // After the capture: 8445 now presents another chain, 8446 is gone,
    // 8447 accepts and never answers.
    drop(changes.take());
    let _changed = server(NS_S, IP_S, 8445, "big-server", &[]);
    drop(gone.take());
    drop(silent.take());
    let quiet = ns_cmd(NS_S, "python3")
        .args([
            "-c",
            "import socket,time\ns=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\ns.bind(('10.231.0.2',8447));s.listen(8)\nc=[]\nwhile True: c.append(s.accept())",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3");
    let _quiet = Killed(quiet);
    wait_until("silent listener", || support::ns_listening(NS_S, 8447));

    // Without enrichment: the certificate rules could not look.
    let plain = analyze(&dir, &[&pcap], &[]);
    assert!(plain.get("enrichment").is_none());
    assert!(
        not_checked(&plain).contains(&"TA-CERT-LIFETIME certificates-encrypted".to_string()),
        "{:?}",
        not_checked(&plain)
    );
    assert!(
        flow_to(&plain, 8443, "TLS1.3")["tls"]["server_chain"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    let r = analyze(
        &dir,
        &[&pcap],
        &["--enrich", "probe", "--enrich-timeout", "2s"],
    );
    // The agent's stream of the same connections, enriched the same way.
    let replayed = analyze(
        &dir,
        &[Path::new("--events"), &events],
        &["--enrich", "probe", "--enrich-timeout", "2s"],
    );
    // The client pod declares 8080 (nothing listens) and 9443 (its TLS
    // listener): with --pods, its identity is asked there.
    let started = time::OffsetDateTime::now_utc() - time::Duration::hours(1);
    let started = started
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let pods = dir.join("pods.json");
    std::fs::write(
        &pods,
        serde_json::json!({"apiVersion": "v1", "kind": "List", "items": [{
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "frontend-5c7b9d-abcde", "namespace": "web", "creationTimestamp": started},
            "spec": {"serviceAccountName": "frontend", "containers": [{"name": "web", "ports": [
                {"containerPort": 8080, "protocol": "TCP"}, {"containerPort": 9443, "protocol": "TCP"}]}]},
            "status": {"phase": "Running", "podIP": IP_C, "startTime": started}
        }]})
        .to_string(),
    )
    .unwrap();
    let pods = pods.to_str().unwrap();
    let enrich = ["--enrich", "probe", "--enrich-timeout", "2s"];
    let declared = analyze(&dir, &[&unseen], &[&enrich[..], &["--pods", pods]].concat());
    let undeclared = analyze(&dir, &[&unseen], &enrich);
    drop(mtls);
    // Every other stack's server chain, obtained although each refused
    // tls-audit's handshake for want of a client certificate.
    for (stack, port, _) in &stacks {
        let f = flow_to(&r, *port, "TLS1.3");
        let tls = &f["tls"];
        assert_eq!(tls["certificates_encrypted"], true, "{stack}");
        assert_eq!(
            tls["server_chain"][0]["spiffe_id"], "spiffe://cluster.local/ns/pay/sa/api",
            "{stack}: {tls:#}"
        );
        let src = &tls["enrichment"]["server_chain_source"];
        assert_eq!(src["client_cert_requested"], true, "{stack}");
        assert_eq!(src["same_on_repeat"], true, "{stack}");
        println!(
            "enrich: {stack} (port {port}): server chain obtained, {}",
            src["version"]
        );
    }
    let id = &flow_to(&declared, 8443, "TLS1.3")["tls"]["enrichment"]["client_identity"];
    assert_eq!(id["evidence"], "inferred", "{id:#}");
    assert_eq!(id["basis"], "declared-port");
    assert_eq!(id["source"]["endpoint"], format!("{IP_C}:9443"));
    assert_eq!(
        id["chain"][0]["spiffe_id"],
        "spiffe://cluster.local/ns/web/sa/frontend"
    );
    // 8080 was asked first and refused: listed, attached to nothing.
    let e8080 = declared["enrichment"]["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["endpoint"] == format!("{IP_C}:8080"))
        .expect("8080 asked");
    assert!(
        e8080["error"]
            .as_str()
            .unwrap_or_default()
            .starts_with("refused")
    );
    // No listener seen and none declared: nothing inferred.
    assert!(flow_to(&undeclared, 8443, "TLS1.3")["tls"]["enrichment"]["client_identity"].is_null());

    // The mutual TLS 1.3 flow: the server's chain, marked as obtained by a
    // probe handshake (the server required a certificate tls-audit did not
    // have, and still sent its own first).
    let f = flow_to(&r, 8443, "TLS1.3");
    let tls = &f["tls"];
    assert_eq!(tls["mutual"], true, "the flight shows a client certificate");
    assert_eq!(
        tls["server_chain"][0]["spiffe_id"], "spiffe://cluster.local/ns/pay/sa/api",
        "{tls:#}"
    );
    let src = &tls["enrichment"]["server_chain_source"];
    assert_eq!(src["source"], "probe");
    assert_eq!(src["endpoint"], format!("{IP_S}:8443"));
    assert_eq!(src["version"], "TLS1.3");
    assert!(
        src["matches_wire"].is_null(),
        "no cleartext chain to compare with"
    );
    assert!(
        tls["client_chain"].as_array().unwrap().is_empty(),
        "never client_chain"
    );
    // The client's identity, inferred from its own listener on 9443.
    let id = &tls["enrichment"]["client_identity"];
    assert_eq!(id["evidence"], "inferred");
    assert_eq!(id["basis"], "client-listener");
    assert_eq!(id["source"]["endpoint"], format!("{IP_C}:9443"));
    assert_eq!(
        id["chain"][0]["spiffe_id"],
        "spiffe://cluster.local/ns/web/sa/frontend"
    );
    // The rules ran on both, with their provenance in the evidence.
    let lifetime: Vec<&Value> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["rule"] == "TA-CERT-LIFETIME")
        .collect();
    let by = |role: &str| {
        lifetime
            .iter()
            .find(|x| {
                x["evidence"]["presented_by"] == role && x["evidence"]["chain_source"].is_object()
            })
            .unwrap_or_else(|| panic!("no enriched {role} lifetime finding: {lifetime:#?}"))
    };
    assert_eq!(by("server")["evidence"]["inferred"], false);
    assert_eq!(by("server")["evidence"]["chain_source"]["source"], "probe");
    assert_eq!(by("client")["evidence"]["inferred"], true);
    assert!(
        by("client")["message"]
            .as_str()
            .unwrap()
            .contains("inferred")
    );

    // 8445: the server presents another chain now than on the wire then.
    let changed = &flow_to(&r, 8445, "TLS1.3")["tls"];
    assert_eq!(
        changed["enrichment"]["server_chain_source"]["matches_wire"],
        false
    );
    assert_eq!(
        changed["server_chain"][0]["spiffe_id"],
        "spiffe://cluster.local/ns/pay/sa/big"
    );
    let wire = &flow_to(&r, 8445, "TLS1.2")["tls"];
    assert!(
        wire.get("enrichment").is_none(),
        "a chain seen on the wire is not replaced"
    );

    // 8446 gone, 8447 silent: said per flow, per endpoint and in not_checked.
    let err = |port| {
        flow_to(&r, port, "TLS1.3")["tls"]["enrichment"]["server_error"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    assert!(err(8446).starts_with("refused"), "{}", err(8446));
    assert!(err(8447).starts_with("timeout"), "{}", err(8447));
    let nc = not_checked(&r);
    assert!(
        nc.contains(&"TA-CERT-LIFETIME probe-refused".to_string()),
        "{nc:?}"
    );
    assert!(
        nc.contains(&"TA-CERT-LIFETIME probe-timeout".to_string()),
        "{nc:?}"
    );
    assert!(
        !nc.iter().any(|n| n.ends_with("certificates-encrypted")),
        "{nc:?}"
    );
    let run = &r["enrichment"];
    assert_eq!(run["method"], "probe");
    // 8443, 8445 (TLS 1.3), the listener's own flow on 9443 and each other
    // stack's.
    let n = stacks.len();
    assert_eq!(run["flows_enriched"], 3 + n);
    assert_eq!(run["flows_not_enriched"], 2);
    // The mutual flows' client (10.231.0.1) serves 9443: 8443's and the
    // other stacks'.
    assert_eq!(run["client_identities"], 1 + n);
    // Each endpoint asked once (two handshakes): 8443, 8445, 8446, 8447,
    // the listener and the other stacks.
    assert_eq!(run["endpoints"].as_array().unwrap().len(), 5 + n, "{run:#}");

    // The human formats say where the chains came from.
    let saved = dir.join("enriched.json");
    std::fs::write(&saved, r.to_string()).unwrap();
    let render = |format: &str| {
        let out = Command::new(BIN)
            .args(["report"])
            .arg(&saved)
            .args(["-o", format])
            .output()
            .expect("tls-audit report");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let markdown = render("markdown");
    assert!(markdown.contains("### Identity enrichment"), "{markdown}");
    assert!(markdown.contains(&format!("| {IP_S}:8443 |")), "{markdown}");
    let html = render("html");
    assert!(html.contains("<h2>Identity enrichment</h2>"));
    assert!(
        html.contains(" (probed)"),
        "the flow table marks probed chains"
    );
    assert!(render("table").contains("(probed)"));

    // From the agent's events: the same chain, the same provenance.
    let f = flow_to(&replayed, 8443, "TLS1.3");
    assert_eq!(
        f["tls"]["enrichment"]["server_chain_source"]["source"], "probe",
        "{f:#}"
    );
    assert_eq!(
        f["tls"]["server_chain"][0]["spiffe_id"],
        "spiffe://cluster.local/ns/pay/sa/api"
    );
    assert_eq!(replayed["enrichment"]["method"], "probe");
    drop(stacks);
}

/// Go, nginx and rustls TLS 1.3 servers requiring a client certificate, in
/// `NS_S` on 8450, 8451, 8452 (Go is built from tests/lab/go; a stack whose
/// tool is missing is skipped with a notice, and fails the test in CI).
fn other_stacks(dir: &Path) -> Vec<(&'static str, u16, Killed)> {
    let pki = support::root().join("fixtures/pki");
    let p = |f: &str| pki.join(f).to_string_lossy().into_owned();
    let bundle = dir.join("client-cas.pem");
    let cas = [p("root-ca.crt"), p("intermediate-ca.crt")]
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect::<String>();
    std::fs::write(&bundle, cas).unwrap();
    let bundle = bundle.to_string_lossy().into_owned();
    let missing = |what: &str| {
        assert!(std::env::var_os("CI").is_none(), "{what} is missing in CI");
        eprintln!("NOTICE: {what} missing; that stack's enrichment case skipped");
    };
    let spawn = |port: u16, cmd: &mut Command| -> Killed {
        let k = Killed(
            cmd.stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("server"),
        );
        wait_until("server listening", || support::ns_listening(NS_S, port));
        k
    };
    let mut out = Vec::new();
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let go = target.join("labpeer-go");
    let built = Command::new("go")
        .args(["build", "-o"])
        .arg(&go)
        .arg("labpeer.go")
        .current_dir(support::root().join("tests/lab/go"))
        .env("GOCACHE", target.join("gocache"))
        .env("GOPATH", target.join("gopath"))
        .env("GO111MODULE", "off")
        .env("GOFLAGS", "")
        .status()
        .is_ok_and(|st| st.success());
    if built {
        let mut c = ns_cmd(NS_S, go.to_str().unwrap());
        c.args(["-mode", "server", "-listen", &format!("{IP_S}:8450")])
            .args(["-cert", &p("server-chain.pem"), "-key", &p("server.key")])
            .args(["-ca", &bundle, "-version", "1.3", "-client-auth", "require"])
            .args(["-count", "10"]);
        out.push(("go", 8450, spawn(8450, &mut c)));
    } else {
        missing("go");
    }
    let conf = dir.join("nginx.conf");
    let d = dir.to_string_lossy();
    std::fs::write(
        &conf,
        format!(
            "daemon off; master_process off; user root; worker_processes 1; pid {d}/nginx.pid;\n\
             error_log {d}/nginx-error.log info; events {{ worker_connections 64; }}\n\
             http {{ access_log off; client_body_temp_path {d}/nginx-tmp; proxy_temp_path {d}/nginx-tmp;\n\
             fastcgi_temp_path {d}/nginx-tmp; uwsgi_temp_path {d}/nginx-tmp; scgi_temp_path {d}/nginx-tmp;\n\
             server {{ listen {IP_S}:8451 ssl; ssl_certificate {}; ssl_certificate_key {};\n\
             ssl_client_certificate {bundle}; ssl_verify_client on; ssl_verify_depth 3;\n\
             ssl_protocols TLSv1.3; location / {{ return 200 \"hello\\n\"; }} }} }}\n",
            p("server-chain.pem"),
            p("server.key"),
        ),
    )
    .unwrap();
    if Command::new("nginx").arg("-v").output().is_ok() {
        let _ = std::fs::create_dir_all(dir.join("nginx-tmp"));
        let mut c = ns_cmd(NS_S, "nginx");
        c.args(["-e", &format!("{d}/nginx-error.log"), "-c"])
            .arg(&conf);
        out.push(("nginx", 8451, spawn(8451, &mut c)));
    } else {
        missing("nginx");
    }
    let rustls = target
        .parent()
        .map(|t| t.join("debug/examples/rustls_peer"))
        .filter(|p| p.exists());
    match rustls {
        Some(bin) => {
            let mut c = ns_cmd(NS_S, bin.to_str().unwrap());
            c.args(["server", "--listen", IP_S, "--port", "8452", "--tls13"])
                .args(["--cert", &p("server-chain.pem"), "--key", &p("server.key")])
                .args([
                    "--client-ca",
                    &bundle,
                    "--require-client-auth",
                    "--count",
                    "10",
                ]);
            out.push(("rustls", 8452, spawn(8452, &mut c)));
        }
        None => missing("examples/rustls_peer (cargo build --example rustls_peer)"),
    }
    out
}

/// Where enrichment handshakes must come from (docs/enrichment.md, "Where
/// the handshakes come from"). A node (`tlsa-van-n`) routes between a
/// meshed pod (`tlsa-van-p`, whose "sidecar" redirects every outbound TCP
/// connection to port 8443 to itself, except its own uid 1337's, as
/// Istio's iptables do) and a peer (`tlsa-van-s`, mutual TLS 1.3). The
/// sidecar's connection to the peer is captured by two agents with
/// `--enrich probe`: one inside the pod (an ephemeral container's vantage),
/// one on the node (the node agent's). From the pod, the handshake meets
/// the sidecar and gets its identity, not the peer's; from the node, the
/// peer's own. `kubectl tls-audit pod --enrich probe` therefore reads the
/// node agents, and refuses `--via ephemeral`.
fn enrichment_from_the_node_reaches_the_peer_and_from_inside_a_meshed_pod_the_sidecar() {
    const P: &str = "tlsa-van-p";
    const N: &str = "tlsa-van-n";
    const S: &str = "tlsa-van-s";
    struct Vantage;
    impl Drop for Vantage {
        fn drop(&mut self) {
            for ns in [P, N, S] {
                let _ = run(Command::new("ip").args(["netns", "del", ns]));
            }
        }
    }
    for ns in [P, N, S] {
        let _ = run(Command::new("ip").args(["netns", "del", ns]));
        assert!(
            run(Command::new("ip").args(["netns", "add", ns])),
            "network namespaces (root: listed as needed)"
        );
    }
    let _lab = Vantage;
    let sh = |ns: &str, cmd: &str| {
        assert!(
            run(ns_cmd(ns, "sh").args(["-c", cmd])),
            "{ns}: {cmd} failed"
        );
    };
    assert!(run(Command::new("ip").args([
        "link", "add", "van-p0", "netns", P, "type", "veth", "peer", "name", "van-np", "netns", N
    ])));
    assert!(run(Command::new("ip").args([
        "link", "add", "van-s0", "netns", S, "type", "veth", "peer", "name", "van-ns", "netns", N
    ])));
    sh(
        P,
        "ip addr add 10.232.0.1/24 dev van-p0 && ip link set van-p0 up && ip link set lo up && ip route add default via 10.232.0.254",
    );
    sh(
        N,
        "ip addr add 10.232.0.254/24 dev van-np && ip addr add 10.232.1.254/24 dev van-ns && ip link set van-np up && ip link set van-ns up && ip link set lo up && sysctl -qw net.ipv4.ip_forward=1",
    );
    sh(
        S,
        "ip addr add 10.232.1.2/24 dev van-s0 && ip link set van-s0 up && ip link set lo up && ip route add default via 10.232.1.254",
    );
    // The mesh's redirect: outbound TCP to 8443 goes to the sidecar on
    // 15001, except the sidecar's own (uid 1337).
    sh(
        P,
        "iptables -t nat -A OUTPUT -p tcp --dport 8443 -m owner ! --uid-owner 1337 -j REDIRECT --to-ports 15001",
    );
    let _peer = server(
        S,
        "10.232.1.2",
        8443,
        "server",
        &["-Verify", "1", "-tls1_3"],
    );
    let _sidecar = server(P, "0.0.0.0", 15001, "big-server", &[]);

    let dir = temp_dir("vantage");
    let agent = |ns: &str, dev: &str, out: &Path| {
        let k = Killed(
            ns_cmd(ns, BIN)
                .args([
                    "capture",
                    "-i",
                    dev,
                    "--bpf",
                    "tcp port 8443",
                    "--emit",
                    "ndjson",
                ])
                .args([
                    "--enrich",
                    "probe",
                    "--enrich-timeout",
                    "3s",
                    "--duration",
                    "60s",
                ])
                .stdout(std::fs::File::create(out).expect("events file"))
                .stderr(Stdio::null())
                .spawn()
                .expect("agent"),
        );
        wait_until("the agent's start event", || {
            std::fs::read_to_string(out).is_ok_and(|t| t.contains("\"event\":\"start\""))
        });
        k
    };
    let (in_pod, on_node) = (dir.join("pod.ndjson"), dir.join("node.ndjson"));
    let mut pod_agent = agent(P, "van-p0", &in_pod);
    let mut node_agent = agent(N, "van-np", &on_node);

    // The sidecar's own mutual TLS 1.3 connection to the peer (uid 1337:
    // not redirected), with its workload certificate.
    let pki = support::root().join("fixtures/pki");
    let mut c = ns_cmd(P, "setpriv");
    c.args(["--reuid=1337", "--regid=1337", "--clear-groups"])
        .args([
            "timeout",
            "5",
            "openssl",
            "s_client",
            "-connect",
            "10.232.1.2:8443",
            "-tls1_3",
        ])
        .arg("-cert")
        .arg(pki.join("client.crt"))
        .arg("-key")
        .arg(pki.join("client.key"))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = c.spawn().expect("s_client");
    sleep(Duration::from_millis(300));
    drop(child.stdin.take());
    let _ = child.wait();
    // Each agent passes the flow on once its handshakes are in (ticks).
    let flow_out =
        |p: &Path| std::fs::read_to_string(p).is_ok_and(|t| t.contains("\"event\":\"flow\""));
    wait_until("both agents' enriched flow", || {
        flow_out(&in_pod) && flow_out(&on_node)
    });
    for a in [&mut pod_agent, &mut node_agent] {
        let _ = Command::new("kill")
            .args(["-INT", &a.0.id().to_string()])
            .status();
        let _ = a.0.wait();
    }

    let read = |events: &Path| {
        analyze_in(
            Command::new(BIN),
            &dir,
            &[Path::new("--events"), events],
            &[],
        )
    };
    let (from_pod, from_node) = (read(&in_pod), read(&on_node));
    let leaf = |r: &Value| {
        let f = flow_to(r, 8443, "TLS1.3");
        assert_eq!(f["tls"]["certificates_encrypted"], true);
        assert_eq!(
            f["tls"]["enrichment"]["server_chain_source"]["source"], "probe",
            "{:#}",
            f["tls"]
        );
        f["tls"]["server_chain"][0]["spiffe_id"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    // The node reaches the peer: its identity.
    assert_eq!(leaf(&from_node), "spiffe://cluster.local/ns/pay/sa/api");
    // From inside the pod, the sidecar answered: another identity.
    assert_eq!(leaf(&from_pod), "spiffe://cluster.local/ns/pay/sa/big");
    // Provenance: the agent's word, with where it came from.
    let e = &from_node["enrichment"];
    assert!(
        e["vantage"]
            .as_str()
            .unwrap_or_default()
            .starts_with("reported by the agent"),
        "{e:#}"
    );
    assert_eq!(e["endpoints"][0]["endpoint"], "10.232.1.2:8443");
    assert_eq!(e["endpoints"][0]["same_on_repeat"], true);
    assert_eq!(e["flows_enriched"], 1);
}

/// This module's tests, as the harness lists them (`main.rs`).
pub(crate) fn tests() -> Vec<crate::runner::Test> {
    use crate::runner::{Need, Test};
    vec![
        Test::new(
            module_path!(),
            "tls13_identities_are_enriched_with_provenance_and_failures_are_said",
            tls13_identities_are_enriched_with_provenance_and_failures_are_said,
        )
        .needs(&[Need::Root, Need::Tool("ip"), Need::Tool("openssl")]),
        Test::new(
            module_path!(),
            "enrichment_from_the_node_reaches_the_peer_and_from_inside_a_meshed_pod_the_sidecar",
            enrichment_from_the_node_reaches_the_peer_and_from_inside_a_meshed_pod_the_sidecar,
        )
        .needs(&[
            Need::Root,
            Need::Tool("ip"),
            Need::Tool("iptables"),
            Need::Tool("openssl"),
        ]),
    ]
}
