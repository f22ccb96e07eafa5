//! `tls-audit pod` / `kubectl tls-audit pod` against a fake API server
//! (`fake_api.rs`): the real kube-rs client through a real kubeconfig, the
//! requests it sends checked exactly, the error paths a cluster produces,
//! and the real `kubectl` finding and running the plugin.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value, json};

use crate::fake_api::{
    FakeApi, PatchAnswer, PortServers, Recorded, Script, TOKEN, api_pod_copy, status,
};
use crate::support::root;

const POD: &str = "api-7d9f8b6c5-x2k4p";

fn events(name: &str) -> Vec<u8> {
    std::fs::read(
        root()
            .join("fixtures/events")
            .join(format!("{name}.events.ndjson")),
    )
    .expect("events")
}

fn accept(log: Vec<u8>) -> Script {
    Script {
        patch: PatchAnswer::Accept {
            waiting: vec![("ContainerCreating", "")],
            runs: true,
        },
        log,
        exit_code: 0,
    }
}

fn run_bin(bin: &str, api: &FakeApi, args: &[&str]) -> Output {
    Command::new(bin)
        .args(args)
        .env_remove("KUBECONFIG")
        .env("HOME", &api.dir)
        .output()
        .expect("run")
}

fn run(api: &FakeApi, args: &[&str]) -> (i32, String, String) {
    let kc = api.kubeconfig.to_string_lossy().to_string();
    let mut all: Vec<&str> = vec!["pod", "--kubeconfig", &kc];
    all.extend_from_slice(args);
    let out = run_bin(env!("CARGO_BIN_EXE_tls-audit"), api, &all);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    // Every JSON report the plugin writes follows the published schema.
    if stdout.starts_with("{\"schema\":\"tls-audit/report/v1\"") {
        let file = api.dir.join(format!("report-{}.json", std::process::id()));
        std::fs::write(&file, &stdout).unwrap();
        if let Some((n, errors)) =
            crate::support::validate_with_schema("report-v1.schema.json", &[file], false)
        {
            assert_eq!((n, errors), (1, Vec::<String>::new()), "{args:?}");
        }
    }
    (
        out.status.code().unwrap_or(-1),
        stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn only<'a>(reqs: &'a [Recorded], method: &str, suffix: &str) -> Vec<&'a Recorded> {
    reqs.iter()
        .filter(|r| r.method == method && r.path.ends_with(suffix))
        .collect()
}

/// The container spec of probes/ephemeral-container.yaml as the plugin
/// must fill it in.
fn expected_container(name: &str, target: &str, duration: &str) -> Value {
    let text =
        std::fs::read_to_string(root().join("probes/ephemeral-container.yaml")).expect("probe");
    let mut c: Value = serde_saphyr::from_str(&text).expect("yaml");
    c["name"] = name.into();
    c["targetContainerName"] = target.into();
    for a in c["args"].as_array_mut().expect("args") {
        if a.as_str().is_some_and(|s| s.starts_with("--duration=")) {
            *a = format!("--duration={duration}").into();
        }
    }
    c
}

fn one_pod_audit_sends_the_exact_requests_and_reports_the_replayed_flows() {
    let api = FakeApi::start("one-pod");
    api.script(
        &format!("pay/{POD}"),
        accept(events("nginx-http-plaintext-80")),
    );
    let (code, stdout, stderr) = run(&api, &[POD, "-n", "pay", "--duration", "3s", "-o", "json"]);
    assert_eq!(code, 0, "stderr: {stderr}");
    let reqs = api.requests();

    // Every request carries the kubeconfig's bearer token.
    assert!(
        reqs.iter()
            .all(|r| r.header("authorization") == Some(&format!("Bearer {TOKEN}")))
    );

    // Preflight: three SelfSubjectAccessReviews, exactly these attributes.
    let ssar: Vec<Value> = only(&reqs, "POST", "/selfsubjectaccessreviews")
        .iter()
        .map(|r| r.json()["spec"]["resourceAttributes"].clone())
        .collect();
    assert_eq!(
        ssar,
        vec![
            json!({"group": "", "namespace": "pay", "resource": "pods", "verb": "list"}),
            json!({"group": "", "namespace": "pay", "resource": "pods", "subresource": "ephemeralcontainers", "verb": "patch"}),
            json!({"group": "", "namespace": "pay", "resource": "pods", "subresource": "log", "verb": "get"}),
            // --via auto (the default) reads the namespace's Pod Security labels.
            json!({"group": "", "namespace": "pay", "resource": "namespaces", "verb": "get"}),
        ]
    );

    // The PATCH: strategic merge, the probe's container filled in.
    let patches = only(&reqs, "PATCH", "/ephemeralcontainers");
    assert_eq!(patches.len(), 1);
    let p = patches[0];
    assert_eq!(
        p.path,
        format!("/api/v1/namespaces/pay/pods/{POD}/ephemeralcontainers")
    );
    assert_eq!(p.query, "&fieldManager=kubectl-tls-audit");
    assert_eq!(
        p.header("content-type"),
        Some("application/strategic-merge-patch+json")
    );
    let body = p.json();
    let name = body["spec"]["ephemeralContainers"][0]["name"]
        .as_str()
        .expect("name")
        .to_string();
    let suffix = name.strip_prefix("tls-audit-").expect("prefix");
    assert_eq!(suffix.len(), 5);
    assert!(
        suffix
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    );
    // The pod's default-container annotation names `api`.
    assert_eq!(
        body,
        json!({"spec": {"ephemeralContainers": [expected_container(&name, "api", "3s")]}})
    );

    // The watch on that one pod, from the patched version.
    let watches: Vec<&Recorded> = reqs
        .iter()
        .filter(|r| r.query.contains("watch=true"))
        .collect();
    assert_eq!(watches.len(), 1);
    assert!(
        watches[0]
            .query
            .contains(&format!("fieldSelector=metadata.name%3D{POD}")),
        "{}",
        watches[0].query
    );
    // The log follow.
    let logs = only(&reqs, "GET", "/log");
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].query, format!("&container={name}&follow=true"));
    // Context: pods in all namespaces, nodes, services.
    for path in ["/api/v1/pods", "/api/v1/nodes", "/api/v1/services"] {
        assert_eq!(
            reqs.iter()
                .filter(|r| r.method == "GET" && r.path == path)
                .count(),
            1,
            "{path}"
        );
    }
    // The ephemeral container stays in the pod, and that is said.
    assert_eq!(
        api.pod(&format!("pay/{POD}"))["spec"]["ephemeralContainers"][0]["name"],
        name.as_str()
    );
    assert!(stderr.contains("cannot remove them"), "{stderr}");

    // The report: the replayed flow, both ends named from the pod list.
    let report: Value = serde_json::from_str(&stdout).expect("json report");
    let flows = report["flows"].as_array().expect("flows");
    assert_eq!(flows.len(), 1);
    assert_eq!(flows[0]["protection"], "plaintext");
    assert_eq!(
        flows[0]["client"]["pod"]["name"],
        "frontend-5c6b7d8f9-q7r2m"
    );
    assert_eq!(flows[0]["server"]["pod"]["name"], POD);
    assert_eq!(flows[0]["server"]["pod"]["namespace"], "pay");
    let ids: Vec<&str> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["rule"].as_str())
        .collect();
    assert!(ids.contains(&"TA-PLAINTEXT"), "{ids:?}");
    assert_eq!(
        report["inputs"][0]["name"]
            .as_str()
            .map(|n| n.starts_with(&format!("pay/{POD} {name}: "))),
        Some(true)
    );
    assert_eq!(report["verification"]["inventory"]["nodes"], 2);
}

fn a_selector_audits_three_pods_and_one_failing_is_reported_beside_the_others() {
    let api = FakeApi::start("selector");
    for (i, ip) in [(2, "10.200.0.22"), (3, "10.200.0.23")] {
        api.add_pod(api_pod_copy(&format!("api-7d9f8b6c5-n{i}"), ip));
    }
    api.script(
        &format!("pay/{POD}"),
        accept(events("openssl-tls12-mutual")),
    );
    api.script(
        "pay/api-7d9f8b6c5-n2",
        accept(events("nginx-http-plaintext-80")),
    );
    let psa = "pods \"api-7d9f8b6c5-n3\" is forbidden: violates PodSecurity \"baseline:latest\": non-default capabilities (container \"tls-audit-abcde\" must not include \"NET_RAW\" in securityContext.capabilities.add)";
    api.script(
        "pay/api-7d9f8b6c5-n3",
        Script {
            patch: PatchAnswer::Reject(
                422,
                status(
                    422,
                    "Invalid",
                    psa,
                    json!({"name": "api-7d9f8b6c5-n3", "kind": "Pod"}),
                ),
            ),
            log: Vec::new(),
            exit_code: 0,
        },
    );
    let (code, stdout, stderr) = run(
        &api,
        &[
            "-l",
            "app=api",
            "--duration",
            "2s",
            "--max-concurrent",
            "2",
            "-o",
            "json",
        ],
    );
    assert_eq!(code, 4, "partial: {stderr}");
    let list = api
        .requests()
        .into_iter()
        .find(|r| r.path == "/api/v1/namespaces/pay/pods" && !r.query.contains("watch"))
        .expect("list");
    assert_eq!(list.query, "&labelSelector=app%3Dapi&limit=500");
    assert_eq!(
        only(&api.requests(), "PATCH", "/ephemeralcontainers").len(),
        3
    );
    let report: Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(report["flows"].as_array().expect("flows").len(), 2);
    let inputs = report["inputs"].as_array().expect("inputs");
    assert_eq!(inputs.len(), 3);
    let failed: Vec<&Value> = inputs.iter().filter(|i| i["complete"] == false).collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["name"], "pay/api-7d9f8b6c5-n3");
    let warn = warning_of(&report, "pod-failed");
    assert!(
        warn["message"].as_str().expect("msg").contains(psa),
        "{warn}"
    );
    // Per-pod status lines on stderr (not a terminal: plain lines).
    assert!(
        stderr.contains(&format!("pay/{POD}: done: 1 flow\n")),
        "{stderr}"
    );
    assert!(
        stderr.contains("pay/api-7d9f8b6c5-n2: done: 1 flow\n"),
        "{stderr}"
    );
    assert!(
        stderr.contains("pay/api-7d9f8b6c5-n3: failed: Pod Security admission rejected the agent"),
        "{stderr}"
    );
}

fn a_denied_permission_is_one_line_naming_verb_resource_and_the_role() {
    let api = FakeApi::start("denied");
    api.deny("patch pods/ephemeralcontainers");
    let (code, stdout, stderr) = run(&api, &[POD, "--duration", "2s"]);
    assert_eq!(code, 7);
    assert!(stdout.is_empty());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("tls-audit: you cannot patch pods/ephemeralcontainers in namespace pay: grant the ClusterRole tls-audit-auditor"), "{stderr}");
    assert!(
        stderr.contains(
            "kubectl create rolebinding tls-audit-$USER -n pay --clusterrole=tls-audit-auditor"
        ),
        "{stderr}"
    );
    assert!(only(&api.requests(), "PATCH", "/ephemeralcontainers").is_empty());
}

fn single_failure(test: &str, script: Script) -> (i32, String, FakeApi) {
    let api = FakeApi::start(test);
    api.script(&format!("pay/{POD}"), script);
    let (code, _, stderr) = run(
        &api,
        &[POD, "--duration", "2s", "--pod-running-timeout", "10s"],
    );
    (code, stderr, api)
}

fn ephemeral_containers_disabled_is_said_plainly() {
    let s = status(
        404,
        "NotFound",
        "the server could not find the requested resource",
        Value::Null,
    );
    let (code, stderr, _) = single_failure(
        "disabled",
        Script {
            patch: PatchAnswer::Reject(404, s),
            log: Vec::new(),
            exit_code: 0,
        },
    );
    assert_eq!(code, 7);
    assert!(
        stderr.contains(&format!(
            "pay/{POD}: failed: ephemeral containers are disabled for this cluster"
        )),
        "{stderr}"
    );
}

fn an_image_pull_back_off_names_the_reason_and_the_flag() {
    let script = Script {
        patch: PatchAnswer::Accept {
            waiting: vec![
                ("ContainerCreating", ""),
                (
                    "ImagePullBackOff",
                    "Back-off pulling image \"ghcr.io/tls-audit/tls-audit:0.1.0\"",
                ),
            ],
            runs: false,
        },
        log: Vec::new(),
        exit_code: 0,
    };
    let (code, stderr, api) = single_failure("pull", script);
    assert_eq!(code, 7);
    assert!(
        stderr.contains(
            "the agent's image cannot be pulled (ImagePullBackOff): Back-off pulling image"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("pass --image"), "{stderr}");
    assert!(only(&api.requests(), "GET", "/log").is_empty());
}

fn an_agent_that_never_starts_times_out_with_the_flag_named() {
    let api = FakeApi::start("never");
    let script = Script {
        patch: PatchAnswer::Accept {
            waiting: vec![("ContainerCreating", "")],
            runs: false,
        },
        log: Vec::new(),
        exit_code: 0,
    };
    api.script(&format!("pay/{POD}"), script);
    let started = std::time::Instant::now();
    let (code, _, stderr) = run(
        &api,
        &[POD, "--duration", "2s", "--pod-running-timeout", "2s"],
    );
    assert_eq!(code, 7);
    assert!(started.elapsed() < std::time::Duration::from_secs(15));
    assert!(
        stderr.contains("failed: timed out after 2s waiting for tls-audit-"),
        "{stderr}"
    );
    assert!(stderr.contains("(--pod-running-timeout)"), "{stderr}");
}

fn an_agent_that_exits_early_is_reported_with_its_code_and_message() {
    let log = b"{\"schema\":\"tls-audit/event/v1\",\"seq\":0,\"event\":\"error\",\"message\":\"cannot open eth0: You don't have permission to capture on that device (socket: Operation not permitted); the agent needs CAP_NET_RAW\"}\n".to_vec();
    let (code, stderr, _) = single_failure(
        "exits",
        Script {
            patch: PatchAnswer::Accept {
                waiting: vec![],
                runs: true,
            },
            log,
            exit_code: 3,
        },
    );
    // Its log was read (a stream with no flows), so a report is written;
    // the pod's failure makes it partial.
    assert_eq!(code, 4, "{stderr}");
    assert!(
        stderr.contains("failed: the agent exited with code 3: cannot open eth0"),
        "{stderr}"
    );
    assert!(stderr.contains("needs CAP_NET_RAW"), "{stderr}");
}

fn a_running_agent_of_the_same_image_is_reused_not_added_again() {
    let api = FakeApi::start("reuse");
    let mut pod = api.pod(&format!("pay/{POD}"));
    let image = "ghcr.io/tls-audit/tls-audit:0.1.0";
    pod["spec"]["ephemeralContainers"] =
        json!([{"name": "tls-audit-q7k2p", "image": image, "targetContainerName": "api"}]);
    pod["status"]["ephemeralContainerStatuses"] = json!([{"name": "tls-audit-q7k2p", "image": image, "imageID": "", "ready": false, "restartCount": 0, "state": {"running": {"startedAt": "2026-11-27T15:03:20Z"}}}]);
    api.add_pod(pod);
    api.script(
        &format!("pay/{POD}"),
        accept(events("openssl-tls12-mutual")),
    );
    let (code, stdout, stderr) = run(&api, &[POD, "--duration", "2s", "-o", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let reqs = api.requests();
    assert!(only(&reqs, "PATCH", "/ephemeralcontainers").is_empty());
    assert_eq!(
        only(&reqs, "GET", "/log")[0].query,
        "&container=tls-audit-q7k2p&follow=true"
    );
    assert!(
        stderr.contains("reusing tls-audit-q7k2p, already running with the same image"),
        "{stderr}"
    );
    let report: Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(report["flows"][0]["tls"]["version"], "TLS1.2");
}

fn a_throttled_list_is_retried_by_the_client() {
    let api = FakeApi::start("retry");
    api.throttle_once("/api/v1/nodes");
    api.script(
        &format!("pay/{POD}"),
        accept(events("nginx-http-plaintext-80")),
    );
    let (code, _, stderr) = run(&api, &[POD, "--duration", "2s", "-o", "json"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        api.requests()
            .iter()
            .filter(|r| r.path == "/api/v1/nodes")
            .count(),
        2
    );
}

fn the_table_names_the_pods() {
    let api = FakeApi::start("table");
    api.script(
        &format!("pay/{POD}"),
        accept(events("nginx-http-plaintext-80")),
    );
    let (code, stdout, stderr) = run(&api, &[POD, "--duration", "2s", "-o", "table"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains(&format!("pay/{POD}")), "{stdout}");
    assert!(stdout.contains("web/frontend-5c6b7d8f9-q7r2m"), "{stdout}");
    assert!(stdout.contains("plaintext"), "{stdout}");
}

fn a_peer_at_a_service_ip_is_named_by_its_service() {
    let api = FakeApi::start("service");
    // The agent in the client pod sees the ClusterIP before kube-proxy
    // rewrites it on the node.
    let log = String::from_utf8(events("nginx-http-plaintext-80"))
        .expect("utf8")
        .replace("\"10.200.0.2\"", "\"10.100.0.20\"");
    api.script(&format!("pay/{POD}"), accept(log.into_bytes()));
    let (code, stdout, stderr) = run(&api, &[POD, "--duration", "2s", "-o", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).expect("json");
    let server = &report["flows"][0]["server"];
    assert_eq!(server["ip"], "10.100.0.20");
    assert_eq!(server["service"], "pay/api");
    assert!(server.get("pod").is_none());
}

fn a_saved_capture_is_audited_with_the_live_cluster_context() {
    let api = FakeApi::start("pcap");
    let pcap = root()
        .join("fixtures/captures/openssl-tls12-mutual.pcap")
        .to_string_lossy()
        .to_string();
    let (code, stdout, stderr) = run(&api, &["--pcap", &pcap, "-o", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let reqs = api.requests();
    // No container, no preflight for one: only the lists.
    assert!(only(&reqs, "PATCH", "/ephemeralcontainers").is_empty());
    let paths: Vec<&str> = reqs.iter().map(|r| r.path.as_str()).collect();
    // The lists, then the CNI DaemonSets (none exists here: no settings read).
    assert_eq!(
        paths,
        vec![
            "/api/v1/pods",
            "/api/v1/nodes",
            "/api/v1/services",
            "/apis/apps/v1/namespaces/kube-system/daemonsets/aws-node",
            "/apis/apps/v1/namespaces/kube-system/daemonsets/cilium",
            "/apis/apps/v1/namespaces/kube-system/daemonsets/calico-node",
            "/apis/apps/v1/namespaces/calico-system/daemonsets/calico-node",
            "/apis/apps/v1/namespaces/kube-system/daemonsets/weave-net",
            "/apis/apps/v1/namespaces/kube-flannel/daemonsets/kube-flannel-ds",
            "/apis/apps/v1/namespaces/kube-system/daemonsets/kube-flannel-ds",
        ]
    );
    assert!(
        report_warning(&stdout, "no known CNI"),
        "the unknown CNI is said"
    );
    let report: Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(report["flows"][0]["server"]["pod"]["name"], POD);
    assert_eq!(report["flows"][0]["client"]["pod"]["namespace"], "web");
}

fn node_agents_are_read_on_the_pods_nodes_and_filtered_to_the_pods_addresses() {
    let api = FakeApi::start("node-agents");
    // A window in the middle of the agent's stream: sequence numbers far
    // from zero, and a flow between two other pods on the node.
    let mine = String::from_utf8(events("openssl-tls12-mutual")).expect("utf8");
    let other = String::from_utf8(events("nginx-http-plaintext-80"))
        .expect("utf8")
        .replace("10.200.0.2\"", "10.200.0.98\"")
        .replace("10.200.0.1\"", "10.200.0.97\"");
    let shift = |text: &str, by: u64| -> String {
        text.lines()
            .map(|l| {
                let mut v: Value = serde_json::from_str(l).expect("event");
                v["seq"] = (v["seq"].as_u64().expect("seq") + by).into();
                format!("{v}\n")
            })
            .collect()
    };
    let log = format!("{}{}", shift(&other, 900), shift(&mine, 1000));
    node_agent(&api, log.into_bytes());
    let (code, stdout, stderr) = run(
        &api,
        &[
            POD,
            "--via",
            "node-agents",
            "--duration",
            "2s",
            "-o",
            "json",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let reqs = api.requests();
    assert!(only(&reqs, "PATCH", "/ephemeralcontainers").is_empty());
    let agents = reqs
        .iter()
        .find(|r| r.path == "/api/v1/namespaces/tls-audit/pods")
        .expect("agents listed");
    assert_eq!(
        agents.query,
        "&labelSelector=app.kubernetes.io%2Fname%3Dtls-audit%2Capp.kubernetes.io%2Fcomponent%3Dnode-agent"
    );
    let logs = only(&reqs, "GET", "/log");
    assert_eq!(logs.len(), 1);
    assert_eq!(
        logs[0].path,
        "/api/v1/namespaces/tls-audit/pods/tls-audit-agent-7xq2m/log"
    );
    assert_eq!(logs[0].query, "&container=agent&follow=true&sinceSeconds=1");
    let report: Value = serde_json::from_str(&stdout).expect("json");
    let flows = report["flows"].as_array().expect("flows");
    assert_eq!(flows.len(), 1, "only the audited pod's flow");
    assert_eq!(flows[0]["server"]["pod"]["name"], POD);
    let kinds: Vec<&str> = report["warnings"]
        .as_array()
        .expect("w")
        .iter()
        .filter_map(|w| w["kind"].as_str())
        .collect();
    assert!(
        !kinds.contains(&"events-lost") && !kinds.contains(&"events-cut"),
        "{kinds:?}"
    );
    assert_eq!(report["inputs"][0]["format"], "node-agent");
}

/// The real kubectl, if installed: plugin discovery, help, and one audit.
fn kubectl_finds_the_plugin_and_runs_an_audit() {
    let kubectl = which("kubectl").expect("kubectl (listed as needed)");
    let api = FakeApi::start("kubectl");
    api.script(
        &format!("pay/{POD}"),
        accept(events("openssl-tls12-mutual")),
    );
    let bin_dir = api.dir.join("bin");
    std::fs::create_dir_all(&bin_dir).expect("bin");
    std::fs::copy(
        env!("CARGO_BIN_EXE_kubectl-tls_audit"),
        bin_dir.join("kubectl-tls_audit"),
    )
    .expect("copy");
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let kubectl_run = |args: &[&str]| {
        Command::new(&kubectl)
            .args(args)
            .env("PATH", &path)
            .env_remove("KUBECONFIG")
            .env("HOME", &api.dir)
            .output()
            .expect("kubectl")
    };
    let list = kubectl_run(&["plugin", "list"]);
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(
        listed.contains(&bin_dir.join("kubectl-tls_audit").display().to_string()),
        "{listed}"
    );
    let help = kubectl_run(&["tls-audit", "--help"]);
    assert!(help.status.success());
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("Usage: kubectl tls-audit <COMMAND>"),
        "{help}"
    );
    assert!(help.contains("pod "), "{help}");
    let kc = api.kubeconfig.to_string_lossy().to_string();
    let audit = kubectl_run(&[
        "tls-audit",
        "pod",
        POD,
        "-n",
        "pay",
        "--kubeconfig",
        &kc,
        "--duration",
        "2s",
        "-o",
        "json",
    ]);
    let stderr = String::from_utf8_lossy(&audit.stderr);
    assert_eq!(audit.status.code(), Some(0), "{stderr}");
    let report: Value = serde_json::from_slice(&audit.stdout).expect("json");
    let flow = &report["flows"][0];
    assert_eq!(flow["tls"]["version"], "TLS1.2");
    assert_eq!(flow["tls"]["mutual"], true);
    assert_eq!(flow["client"]["pod"]["name"], "frontend-5c6b7d8f9-q7r2m");
    assert_eq!(flow["server"]["pod"]["name"], POD);
    assert_eq!(
        only(&api.requests(), "PATCH", "/ephemeralcontainers").len(),
        1
    );
}

fn which(name: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|f| Path::new(f).is_file())
    })
}

fn the_krew_manifest_names_the_plugin_and_the_binary_cargo_builds() {
    let text = std::fs::read_to_string(root().join("plugins/tls-audit.yaml")).expect("manifest");
    let m: Value = serde_saphyr::from_str(&text).expect("yaml");
    assert_eq!(
        m["apiVersion"],
        "krew.googlecontainertools.github.com/v1alpha2"
    );
    assert_eq!(m["kind"], "Plugin");
    assert_eq!(m["metadata"]["name"], "tls-audit");
    let cargo = std::fs::read_to_string(root().join("Cargo.toml")).expect("Cargo.toml");
    assert_eq!(
        m["spec"]["version"],
        format!("v{}", env!("CARGO_PKG_VERSION"))
    );
    for p in m["spec"]["platforms"].as_array().expect("platforms") {
        assert_eq!(p["bin"], "kubectl-tls_audit");
        assert!(cargo.contains("name = \"kubectl-tls_audit\""));
        assert!(p["uri"].as_str().expect("uri").ends_with(".tar.gz"));
        assert_eq!(p["selector"]["matchLabels"]["os"], "linux");
    }
}

/// The weave-net DaemonSet the fake cluster serves: a password from a
/// Secret, and `--trusted-subnets` when given.
fn weave_net(trusted: Option<&str>) -> Value {
    let mut env = vec![
        json!({"name": "WEAVE_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "weave-passwd", "key": "weave-passwd"}}}),
    ];
    if let Some(t) = trusted {
        env.push(json!({"name": "EXTRA_ARGS", "value": format!("--trusted-subnets={t}")}));
    }
    json!({"apiVersion": "apps/v1", "kind": "DaemonSet",
           "metadata": {"name": "weave-net", "namespace": "kube-system"},
           "spec": {"template": {"spec": {"containers": [
               {"name": "weave", "image": "weaveworks/weave-kube:2.8.1", "env": env},
               {"name": "weave-npc", "image": "weaveworks/weave-npc:2.8.1"}]}}}})
}

/// (rule, verdict, covered_by) of the plaintext finding of a report.
fn plaintext_verdict(report: &Value) -> (String, String, Value) {
    let f = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"].as_str().unwrap().starts_with("TA-PLAINTEXT"))
        .unwrap_or_else(|| panic!("no plaintext finding: {report}"));
    let u = &f["evidence"]["underlay"];
    (
        f["rule"].as_str().unwrap().into(),
        u["verdict"].as_str().unwrap().into(),
        u["covered_by"].clone(),
    )
}

/// The CNI's encryption is read from the cluster: Weave with a password
/// covers the plaintext flow between the two nodes; with the nodes in its
/// trusted subnets it does not; a --cluster-config file wins, and then the
/// cluster is not asked.
fn the_cni_is_read_from_the_cluster_for_underlay_coverage() {
    const WEAVE: &str = "/apis/apps/v1/namespaces/kube-system/daemonsets/weave-net";
    let audit = |test: &str, trusted: Option<&str>, extra: &[&str]| {
        let api = FakeApi::start(test);
        api.add_object(WEAVE, weave_net(trusted));
        api.script(
            &format!("pay/{POD}"),
            accept(events("nginx-http-plaintext-80")),
        );
        let mut args = vec![POD, "-n", "pay", "--duration", "3s", "-o", "json"];
        args.extend(extra);
        let (code, stdout, stderr) = run(&api, &args);
        assert!(matches!(code, 0 | 1), "{code}: {stderr}");
        let report: Value = serde_json::from_str(&stdout).expect("json report");
        (report, api.requests())
    };

    let (report, reqs) = audit("cni-weave", None, &[]);
    let (rule, verdict, by) = plaintext_verdict(&report);
    assert_eq!(
        (rule.as_str(), verdict.as_str()),
        ("TA-PLAINTEXT-UNDERLAY", "covered")
    );
    assert!(by.as_str().unwrap().starts_with("weave"), "{by}");
    // Asked once each: the DaemonSets and ConfigMaps that name a CNI.
    let asked: Vec<&str> = reqs
        .iter()
        .filter(|r| r.path.contains("/daemonsets/") || r.path.contains("felixconfigurations"))
        .map(|r| r.path.as_str())
        .collect();
    assert!(asked.contains(&WEAVE), "{asked:?}");
    assert!(asked.contains(&"/apis/apps/v1/namespaces/kube-system/daemonsets/aws-node"));

    let (report, _) = audit("cni-weave-trusted", Some("10.200.0.0/24"), &[]);
    let (rule, verdict, _) = plaintext_verdict(&report);
    assert_eq!(
        (rule.as_str(), verdict.as_str()),
        ("TA-PLAINTEXT", "not-covered")
    );
    let finding = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "TA-PLAINTEXT")
        .unwrap();
    assert!(
        finding["evidence"]["underlay"]
            .to_string()
            .contains("trusted"),
        "{finding}"
    );

    let file = root().join("src/coverage/cluster-config.example.json");
    let (report, reqs) = audit(
        "cni-file-wins",
        None,
        &["--cluster-config", file.to_str().unwrap()],
    );
    assert!(
        !reqs.iter().any(|r| r.path.contains("/daemonsets/")),
        "a --cluster-config file means the cluster is not asked"
    );
    assert!(plaintext_verdict(&report).0.starts_with("TA-PLAINTEXT"));
}

fn report_warning(stdout: &str, text: &str) -> bool {
    let report: Value = serde_json::from_str(stdout).expect("json");
    report["warnings"].as_array().is_some_and(|w| {
        w.iter()
            .any(|w| w["message"].as_str().is_some_and(|m| m.contains(text)))
    })
}

/// A copy of the api pod at `ip`, labelled `app=probed`, whose `api` and
/// `istio-proxy` containers declare these ports.
fn probed_pod(name: &str, ip: &str, api_ports: Value, proxy_ports: Value) -> Value {
    let mut p = api_pod_copy(name, ip);
    p["metadata"]["labels"] = json!({"app": "probed"});
    for c in p["spec"]["containers"].as_array_mut().expect("containers") {
        c["ports"] = if c["name"] == "api" {
            api_ports.clone()
        } else {
            proxy_ports.clone()
        };
    }
    p
}

/// Pod A (127.0.0.2): TLS, plaintext HTTP and a UDP port in `api`, a
/// closed port in `istio-proxy`; pod B (127.0.0.3): one TLS port.
fn probed_pods(api: &FakeApi) -> (PortServers, PortServers) {
    let (a, b) = (
        PortServers::start("127.0.0.2"),
        PortServers::start("127.0.0.3"),
    );
    api.add_pod(probed_pod(
        "probe-a",
        a.ip,
        json!([
            {"containerPort": a.tls, "name": "https", "protocol": "TCP"},
            {"containerPort": a.http, "name": "http"},
            {"containerPort": 5353, "name": "mdns", "protocol": "UDP"}
        ]),
        json!([{"containerPort": a.closed, "protocol": "TCP"}]),
    ));
    api.add_pod(probed_pod(
        "probe-b",
        b.ip,
        json!([{"containerPort": b.tls, "name": "https", "protocol": "TCP"}]),
        json!([]),
    ));
    (a, b)
}

fn probe_at<'a>(report: &'a Value, target: &str) -> &'a Value {
    report["probes"]
        .as_array()
        .expect("probes")
        .iter()
        .find(|p| p["target"] == target)
        .unwrap_or_else(|| panic!("no probe of {target}: {report:#}"))
}

fn flows_to<'a>(report: &'a Value, ip: &str, port: u16) -> Vec<&'a Value> {
    report["flows"]
        .as_array()
        .expect("flows")
        .iter()
        .filter(|f| f["server"]["ip"] == ip && f["server"]["port"] == port)
        .collect()
}

/// `--active-only`: the declared TCP ports of the selected pods probed at
/// their pod IPs, nothing added to the pods, one report naming the pods.
fn active_only_probes_the_declared_ports_without_an_agent() {
    let api = FakeApi::start("active-only");
    let (a, b) = probed_pods(&api);
    let (code, stdout, stderr) = run(
        &api,
        &[
            "-l",
            "app=probed",
            "--active-only",
            "--probe-timeout",
            "2s",
            "-o",
            "json",
        ],
    );
    // The closed port could not be probed: partial.
    assert_eq!(code, 4, "{stderr}");
    assert!(
        stderr.contains("probing 4 declared port(s) of 2 pod(s) from this host"),
        "{stderr}"
    );
    let reqs = api.requests();
    assert!(only(&reqs, "PATCH", "/ephemeralcontainers").is_empty());
    assert!(only(&reqs, "GET", "/log").is_empty());
    assert!(!reqs.iter().any(|r| r.query.contains("watch=true")));
    let ssar: Vec<Value> = only(&reqs, "POST", "/selfsubjectaccessreviews")
        .iter()
        .map(|r| r.json()["spec"]["resourceAttributes"].clone())
        .collect();
    assert_eq!(
        ssar,
        vec![json!({"group": "", "namespace": "pay", "resource": "pods", "verb": "list"})]
    );

    let report: Value = serde_json::from_str(&stdout).expect("json report");
    // One record per declared TCP port (the UDP one is skipped), each
    // naming its pod, container and port.
    let probes = report["probes"].as_array().expect("probes");
    let targets: Vec<&str> = probes.iter().filter_map(|p| p["target"].as_str()).collect();
    assert_eq!(
        targets,
        [
            a.target(a.tls),
            a.target(a.http),
            a.target(a.closed),
            b.target(b.tls)
        ]
    );
    let pod = |name: &str, container: &str, port: Option<&str>| json!({"namespace": "pay", "name": name, "container": container, "port_name": port});
    assert_eq!(
        probe_at(&report, &a.target(a.tls))["pod"],
        pod("probe-a", "api", Some("https"))
    );
    assert_eq!(
        probe_at(&report, &a.target(a.http))["pod"],
        pod("probe-a", "api", Some("http"))
    );
    assert_eq!(
        probe_at(&report, &a.target(a.closed))["pod"],
        pod("probe-a", "istio-proxy", None)
    );
    assert_eq!(
        probe_at(&report, &b.target(b.tls))["pod"],
        pod("probe-b", "api", Some("https"))
    );

    // The TLS ports: answered, and their flows are probe flows whose
    // server is named from the live pod list.
    for (servers, name) in [(&a, "probe-a"), (&b, "probe-b")] {
        let p = probe_at(&report, &servers.target(servers.tls));
        assert!(p["error"].is_null(), "{p:#}");
        assert_eq!(p["address"], servers.target(servers.tls).as_str());
        let flows = flows_to(&report, servers.ip, servers.tls);
        assert!(!flows.is_empty(), "no flow to {name}");
        for f in &flows {
            assert_eq!(f["source"], "probe");
            assert_eq!(f["server"]["pod"]["name"], name);
            assert_eq!(f["server"]["pod"]["namespace"], "pay");
        }
        assert!(
            flows
                .iter()
                .any(|f| f["protection"] == "tls" && f["tls"]["version"] == "TLS1.3"),
            "{flows:#?}"
        );
    }
    // The plaintext port answers a plaintext request.
    let http = probe_at(&report, &a.target(a.http));
    assert_eq!(http["plaintext"]["accepted"], true, "{http:#}");
    let plaintext = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["subject"]["endpoint"] == a.target(a.http).as_str())
        .unwrap_or_else(|| panic!("no finding at the plaintext port: {report:#}"));
    assert_eq!(plaintext["rule"], "TA-PLAINTEXT-ACCEPTED");
    assert_eq!(plaintext["subject"]["pod"]["name"], "probe-a");
    let http_flows = flows_to(&report, a.ip, a.http);
    assert_eq!(http_flows.len(), 1, "{http_flows:#?}");
    assert_eq!(http_flows[0]["protection"], "plaintext");
    assert_eq!(http_flows[0]["server"]["pod"]["name"], "probe-a");
    // The closed port is an error, said as a warning, not a crash.
    let closed = probe_at(&report, &a.target(a.closed));
    assert_eq!(closed["error"]["kind"], "refused", "{closed:#}");
    assert!(flows_to(&report, a.ip, a.closed).is_empty());
    let failed: Vec<&str> = report["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .filter(|w| w["kind"] == "probe-failed")
        .filter_map(|w| w["message"].as_str())
        .collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(
        failed[0].starts_with(&format!(
            "{} (pay/probe-a istio-proxy): ",
            a.target(a.closed)
        )),
        "{failed:?}"
    );
    // No capture: no inputs; the totals are the probe's flows.
    assert_eq!(report["inputs"], json!([]));
    assert_eq!(
        report["stats"]["flows"],
        report["flows"].as_array().expect("flows").len()
    );
    validate(&api, &stdout);
}

/// `--active` with the capture: one report with the replayed (captured)
/// flows and the probe's, and the capture's requests as before.
fn active_adds_the_probe_to_the_capture() {
    let api = FakeApi::start("active");
    let (a, _b) = probed_pods(&api);
    api.script("pay/probe-a", accept(events("openssl-tls12-mutual")));
    let (code, stdout, stderr) = run(
        &api,
        &[
            "probe-a",
            "--active",
            "--duration",
            "2s",
            "--probe-timeout",
            "2s",
            "-o",
            "json",
        ],
    );
    assert_eq!(code, 4, "the closed port: {stderr}");
    let reqs = api.requests();
    assert_eq!(only(&reqs, "PATCH", "/ephemeralcontainers").len(), 1);
    // The three of an ephemeral audit, and `get namespaces` (--via auto
    // reads the namespace's Pod Security labels).
    assert_eq!(only(&reqs, "POST", "/selfsubjectaccessreviews").len(), 4);
    let report: Value = serde_json::from_str(&stdout).expect("json");
    let flows = report["flows"].as_array().expect("flows");
    let captured: Vec<&Value> = flows.iter().filter(|f| f.get("source").is_none()).collect();
    assert_eq!(captured.len(), 1, "{flows:#?}");
    assert_eq!(captured[0]["tls"]["version"], "TLS1.2");
    assert_eq!(captured[0]["server"]["pod"]["name"], POD);
    let probe_flows = flows_to(&report, a.ip, a.tls);
    assert!(!probe_flows.is_empty());
    assert!(
        probe_flows
            .iter()
            .all(|f| f["source"] == "probe" && f["server"]["pod"]["name"] == "probe-a")
    );
    assert_eq!(
        flows.len(),
        captured.len() + flows.iter().filter(|f| f["source"] == "probe").count()
    );
    // Only pod A was selected: its three TCP ports.
    let targets: Vec<&str> = report["probes"]
        .as_array()
        .expect("probes")
        .iter()
        .filter_map(|p| p["target"].as_str())
        .collect();
    assert_eq!(
        targets,
        [a.target(a.tls), a.target(a.http), a.target(a.closed)]
    );
    // The capture's input is complete; the partial exit is the probe's.
    let inputs = report["inputs"].as_array().expect("inputs");
    assert_eq!(inputs.len(), 1);
    assert_eq!(inputs[0]["complete"], true);
    assert_eq!(report["stats"]["flows"], flows.len());
    validate(&api, &stdout);
}

/// The probe's flags need --active; --active-only takes no capture flags.
fn active_flags_are_checked() {
    let api = FakeApi::start("active-flags");
    for args in [
        &[POD, "--probe-timeout", "1s"][..],
        &[POD, "--probe-concurrency", "2"],
        &[POD, "--active-only", "--duration", "3s"],
        &[POD, "--active-only", "--via", "node-agents"],
        &[POD, "--active", "--pcap", "x.pcap"],
    ] {
        let (code, _, stderr) = run(&api, args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
    }
    assert!(api.requests().is_empty());
    // A pod that declares no TCP port: nothing to probe, no report.
    let mut quiet = probed_pod(
        "quiet",
        "127.0.0.4",
        json!([{"containerPort": 5353, "protocol": "UDP"}]),
        json!([]),
    );
    quiet["metadata"]["labels"] = json!({"app": "quiet"});
    api.add_pod(quiet);
    let (code, stdout, stderr) = run(&api, &["-l", "app=quiet", "--active-only"]);
    assert_eq!(code, 7, "{stderr}");
    assert!(stdout.is_empty());
    assert!(stderr.contains("declare no TCP port to probe"), "{stderr}");
    assert!(
        stderr.contains("pay/quiet: declares no TCP containerPort"),
        "{stderr}"
    );
    assert!(only(&api.requests(), "PATCH", "/ephemeralcontainers").is_empty());
}

/// Validate a report with the published schema (Python jsonschema).
fn validate(api: &FakeApi, report: &str) {
    let path = api.dir.join("report.json");
    std::fs::write(&path, report).expect("write");
    crate::probe::validate_schema(&path);
}

/// Ctrl-C while the agent still captures: the plugin stops waiting and
/// writes the report with the flows read so far, says the stream was cut,
/// and exits 4 (partial), long before --duration.
fn ctrl_c_writes_the_report_with_what_was_read() {
    let api = FakeApi::start("ctrl-c");
    // The agent's events so far: no summary yet, it is still running.
    let log = String::from_utf8(events("nginx-http-plaintext-80")).unwrap();
    let so_far: String = log
        .lines()
        .filter(|l| !l.contains("\"event\":\"summary\""))
        .map(|l| format!("{l}\n"))
        .collect();
    api.script(&format!("pay/{POD}"), accept(so_far.into_bytes()));
    api.stall_log(&format!("pay/{POD}"));
    let kc = api.kubeconfig.to_string_lossy().to_string();
    let child = Command::new(env!("CARGO_BIN_EXE_tls-audit"))
        .args([
            "pod",
            "--kubeconfig",
            &kc,
            POD,
            "-n",
            "pay",
            "--duration",
            "5m",
            "-o",
            "json",
        ])
        .env_remove("KUBECONFIG")
        .env("HOME", &api.dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("plugin");
    // Once the log is being read and its lines have gone by, interrupt.
    let t0 = std::time::Instant::now();
    while only(&api.requests(), "GET", "/log").is_empty() {
        assert!(
            t0.elapsed() < std::time::Duration::from_secs(20),
            "no log request"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_secs(1));
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        t0.elapsed() < std::time::Duration::from_secs(30),
        "waited for --duration"
    );
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    let report: Value = serde_json::from_slice(&out.stdout).expect("a report");
    assert_eq!(report["flows"].as_array().unwrap().len(), 1, "{report}");
    assert_eq!(report["flows"][0]["protection"], "plaintext");
    assert!(report_warning(
        &String::from_utf8_lossy(&out.stdout),
        "without a summary"
    ));
}

/// A fake API server whose pod `POD` runs an agent replaying `stream`.
fn one_pod(test: &str, stream: &str) -> FakeApi {
    let api = FakeApi::start(test);
    api.script(&format!("pay/{POD}"), accept(events(stream)));
    api
}

/// A running node agent (probes/daemonset.yaml) on the audited pod's
/// node, whose log is `log`.
fn node_agent(api: &FakeApi, log: Vec<u8>) {
    let mut agent = api_pod_copy("tls-audit-agent-7xq2m", "10.200.0.10");
    agent["metadata"]["namespace"] = "tls-audit".into();
    agent["metadata"]["labels"] =
        json!({"app.kubernetes.io/name": "tls-audit", "app.kubernetes.io/component": "node-agent"});
    agent["spec"]["hostNetwork"] = true.into();
    api.add_pod(agent);
    api.script("tls-audit/tls-audit-agent-7xq2m", accept(log));
}

/// The report's first warning of `kind`.
fn warning_of<'a>(report: &'a Value, kind: &str) -> &'a Value {
    report["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .find(|w| w["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} warning: {}", report["warnings"]))
}

fn warning_kinds(report: &Value) -> Vec<String> {
    report["warnings"]
        .as_array()
        .map(|w| {
            w.iter()
                .filter_map(|w| w["kind"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Issue 16 (1): the runtime merges the agent's stderr (its start line
/// and libpcap's counters) into the log the kubelet serves; a real audit
/// warns about nothing. Issue 16 (5): requests say who sends them.
fn the_agents_stderr_in_its_log_is_not_a_warning_and_requests_name_the_plugin() {
    let api = one_pod("stderr-merged", "openssl-tls12-mutual");
    let (code, stdout, stderr) = run(&api, &[POD, "--duration", "2s", "-o", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).expect("json");
    assert!(
        warning_kinds(&report).iter().all(|k| k != "events-skipped"),
        "{:?}",
        report["warnings"]
    );
    assert!(!stderr.contains("were not events"), "{stderr}");
    // The fake did merge the agent's stderr into the log.
    assert_eq!(report["stats"]["mutual_tls_flows"], 1);
    let agent = format!("tls-audit/{}", env!("CARGO_PKG_VERSION"));
    for r in api.requests() {
        assert_eq!(r.header("user-agent"), Some(agent.as_str()), "{}", r.path);
    }
}

/// Issue 16 (2): Pod Security `enforce` answers the PATCH with 403
/// Forbidden and a `violates PodSecurity` Status; with `--via ephemeral`
/// (no automatic route) that is one line with the advice, exit 7.
fn a_pod_security_403_is_recognised_with_its_advice() {
    let api = one_pod("psa-403", "openssl-tls12-mutual");
    api.label_namespace("pay", "pod-security.kubernetes.io/enforce", "baseline");
    let (code, stdout, stderr) = run(
        &api,
        &[POD, "--via", "ephemeral", "--duration", "2s", "-o", "json"],
    );
    assert_eq!(code, 7, "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    let failed: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains(": failed: "))
        .collect();
    assert_eq!(failed.len(), 1, "{stderr}");
    assert!(
        failed[0].contains("Pod Security admission rejected the agent")
            && failed[0].contains("violates PodSecurity \"baseline:latest\"")
            && failed[0].contains("must not include \"NET_RAW\"")
            && failed[0].contains("--via node-agents"),
        "{stderr}"
    );
    // The cause is said once, not again in the closing line.
    assert_eq!(
        stderr.matches("violates PodSecurity").count(),
        1,
        "{stderr}"
    );
    assert!(
        !stderr.contains("forbidden: pods"),
        "not the generic 403 line: {stderr}"
    );
}

/// Issue 22 (privileges): a namespace that enforces baseline or
/// restricted is read through the node agents automatically (no PATCH, no
/// relabelling); the preflight asked for `get namespaces`.
fn a_restricted_namespace_is_audited_through_the_node_agents_automatically() {
    let api = FakeApi::start("psa-auto");
    api.label_namespace("pay", "pod-security.kubernetes.io/enforce", "restricted");
    node_agent(&api, events("openssl-tls12-mutual"));
    let (code, stdout, stderr) = run(&api, &[POD, "--duration", "2s", "-o", "json"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("namespace pay enforces Pod Security \"restricted\"")
            && stderr.contains("node agents"),
        "{stderr}"
    );
    let reqs = api.requests();
    assert!(only(&reqs, "PATCH", "/ephemeralcontainers").is_empty());
    assert_eq!(only(&reqs, "GET", "/api/v1/namespaces/pay").len(), 1);
    let ssar: Vec<Value> = only(&reqs, "POST", "/selfsubjectaccessreviews")
        .iter()
        .map(|r| r.json()["spec"]["resourceAttributes"].clone())
        .collect();
    assert!(ssar.contains(
        &json!({"group": "", "namespace": "pay", "resource": "namespaces", "verb": "get"})
    ));
    assert!(ssar.contains(
        &json!({"group": "", "namespace": "tls-audit", "resource": "pods", "subresource": "log", "verb": "get"})
    ));
    let report: Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(report["flows"].as_array().map(Vec::len), Some(1));
    assert_eq!(report["inputs"][0]["format"], "node-agent");
    assert!(!stderr.contains("ephemeral container(s) added"), "{stderr}");
}

/// Issue 16 (2): Pod Security `warn` admits with a `Warning: 299` header;
/// the plugin says it and the report keeps it.
fn a_pod_security_warning_header_is_said_and_reported() {
    let api = one_pod("psa-warn", "openssl-tls12-mutual");
    api.label_namespace("pay", "pod-security.kubernetes.io/warn", "baseline");
    let (code, stdout, stderr) = run(&api, &[POD, "--duration", "2s", "-o", "json"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains(
            "the API server warns: would violate PodSecurity \"baseline:latest\": non-default capabilities"
        ),
        "{stderr}"
    );
    let report: Value = serde_json::from_str(&stdout).expect("json");
    let w = warning_of(&report, "api-warning");
    assert!(
        w["message"]
            .as_str()
            .is_some_and(|m| m.contains("must not include \"NET_RAW\"")),
        "{w}"
    );
}

/// Issue 16 (3, decided): the only pod's agent fails at once (no such
/// interface) with an error event. Its log was read, so a report is
/// written (exit 4, partial): no flows, the pod's failure as a
/// `pod-failed` warning, its input incomplete; not "ended without a
/// summary" (issue 16 (4)), and the cause said once on stderr.
fn the_only_agent_failing_at_once_gives_a_partial_report_naming_its_error_once() {
    let api = FakeApi::start("agent-fails");
    let log = b"{\"schema\":\"tls-audit/event/v1\",\"seq\":0,\"event\":\"error\",\"message\":\"no interface eth0 (available: lo)\"}\ntls-audit: no interface eth0 (available: lo)\n".to_vec();
    api.script(
        &format!("pay/{POD}"),
        Script {
            patch: PatchAnswer::Exits,
            log,
            exit_code: 2,
        },
    );
    let (code, stdout, stderr) = run(&api, &[POD, "--duration", "6s", "-o", "json"]);
    assert_eq!(code, 4, "{stderr}");
    assert!(
        stderr.contains("already ended (exit 2); reading its log"),
        "{stderr}"
    );
    assert!(!stderr.contains("capturing for"), "{stderr}");
    assert_eq!(
        stderr.matches("no interface eth0").count(),
        1,
        "the cause once: {stderr}"
    );
    assert!(
        stderr.contains("failed: the agent exited with code 2: no interface eth0"),
        "{stderr}"
    );
    let report: Value = serde_json::from_str(&stdout).expect("a report");
    assert_eq!(report["flows"].as_array().map(Vec::len), Some(0));
    let kinds = warning_kinds(&report);
    assert!(kinds.contains(&"pod-failed".to_string()), "{kinds:?}");
    assert!(!kinds.contains(&"events-cut".to_string()), "{kinds:?}");
    assert!(!kinds.contains(&"events-skipped".to_string()), "{kinds:?}");
    assert_eq!(report["inputs"][0]["complete"], false);
}

/// Issue 16 (5): the kubelet posts the agent's `terminated` status a few
/// seconds after its log ends; an agent that failed without an error
/// event is caught (before: five reads in 2 s lost it and the pod passed).
fn a_termination_posted_late_is_waited_for() {
    let api = FakeApi::start("late-exit");
    // A run cut short: a start and nothing else, then exit 1.
    let log = b"{\"schema\":\"tls-audit/event/v1\",\"seq\":0,\"event\":\"start\",\"interface\":\"eth0\"}\n".to_vec();
    api.script(
        &format!("pay/{POD}"),
        Script {
            patch: PatchAnswer::Accept {
                waiting: vec![],
                runs: true,
            },
            log,
            exit_code: 1,
        },
    );
    api.late_exit(&format!("pay/{POD}"), std::time::Duration::from_secs(4));
    let started = std::time::Instant::now();
    let (code, _stdout, stderr) = run(&api, &[POD, "--duration", "2s", "-o", "json"]);
    assert_eq!(code, 4, "{stderr}");
    assert!(
        stderr.contains("failed: the agent exited with code 1"),
        "{stderr}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(25));
    // It was watched for, not polled.
    let watches = api
        .requests()
        .into_iter()
        .filter(|r| r.query.contains("watch=true"))
        .count();
    assert!(watches >= 2, "the start and the termination: {watches}");
}

/// Issue 16 (5): a log connection dropped while the agent still runs is
/// followed again; what the new connection replays is not counted twice.
fn a_log_dropped_while_the_agent_runs_is_followed_again() {
    let api = FakeApi::start("log-dropped");
    let key = format!("pay/{POD}");
    api.script(&key, accept(events("openssl-tls12-mutual")));
    api.drop_log_after(&key, 3);
    let (code, stdout, stderr) = run(&api, &[POD, "--duration", "2s", "-o", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let logs = only(&api.requests(), "GET", "/log").len();
    assert_eq!(logs, 2, "followed again once");
    let report: Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(report["flows"].as_array().map(Vec::len), Some(1));
    assert_eq!(report["flows"][0]["tls"]["mutual"], true);
    let kinds = warning_kinds(&report);
    for k in [
        "events-cut",
        "events-lost",
        "events-restarted",
        "events-skipped",
    ] {
        assert!(!kinds.contains(&k.to_string()), "{k}: {kinds:?}");
    }
    assert_eq!(report["inputs"][0]["complete"], true);
}

/// Issue 16 (4): a refused connection names the server's URL; `pod
/// --help` does not offer flags `pod` refuses.
fn a_refused_connection_names_the_server_and_help_offers_what_works() {
    let api = FakeApi::start("refused");
    // A port that was bound, then freed: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let url = format!("https://127.0.0.1:{port}");
    let (code, _, stderr) = run(&api, &[POD, "--server", &url, "--duration", "2s"]);
    assert_eq!(code, 7, "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!("cannot reach the API server at {url}")),
        "{stderr}"
    );
    assert!(stderr.to_lowercase().contains("refused"), "{stderr}");
    let help = run_bin(env!("CARGO_BIN_EXE_tls-audit"), &api, &["pod", "--help"]);
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(!help.contains("--pods"), "{help}");
    assert!(!help.contains("--nodes"), "{help}");
    for flag in [
        "--as ",
        "--as-group",
        "--token",
        "--server",
        "--certificate-authority",
        "--insecure-skip-tls-verify",
    ] {
        assert!(help.contains(flag), "{flag}: {help}");
    }
}

/// kubectl's connection flags: `--server` and `--token` without a
/// kubeconfig, `--certificate-authority`, and impersonation headers.
fn kubectl_connection_flags_reach_the_server_as_kubectl_sends_them() {
    let api = one_pod("flags", "openssl-tls12-mutual");
    let kc = std::fs::read_to_string(&api.kubeconfig).expect("kubeconfig");
    let server = kc
        .lines()
        .find_map(|l| l.trim().strip_prefix("server: "))
        .expect("server")
        .to_string();
    let ca_b64 = kc
        .lines()
        .find_map(|l| l.trim().strip_prefix("certificate-authority-data: "))
        .expect("ca");
    use base64::Engine as _;
    let ca = api.dir.join("ca.pem");
    std::fs::write(
        &ca,
        base64::engine::general_purpose::STANDARD
            .decode(ca_b64)
            .expect("b64"),
    )
    .expect("ca");
    let out = Command::new(env!("CARGO_BIN_EXE_tls-audit"))
        .args([
            "pod",
            POD,
            "-n",
            "pay",
            "--server",
            &server,
            "--token",
            TOKEN,
            "--certificate-authority",
            &ca.to_string_lossy(),
            "--as",
            "alice",
            "--as-group",
            "auditors",
            "--duration",
            "2s",
            "-o",
            "json",
        ])
        .env_remove("KUBECONFIG")
        .env("HOME", &api.dir)
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let reqs = api.requests();
    assert!(!reqs.is_empty());
    for r in &reqs {
        assert_eq!(r.header("impersonate-user"), Some("alice"), "{}", r.path);
        assert_eq!(
            r.header("impersonate-group"),
            Some("auditors"),
            "{}",
            r.path
        );
    }
    // --as-group alone is refused with the fix.
    let (code, _, stderr) = run(&api, &[POD, "--as-group", "x"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--as"), "{stderr}");
}

/// Issue 16: on a terminal, each pod has a live line while its agent
/// captures (elapsed of --duration, flows, TLS, mutual, plaintext). The
/// plugin runs under `script`, which gives it a pseudo-terminal for stderr.
fn a_terminal_shows_a_live_line_per_pod() {
    let script = which("script").expect("`script` (listed as needed)");
    let api = one_pod("live-line", "openssl-tls12-mutual");
    let report = api.dir.join("live.json");
    let command = format!(
        "{} pod --kubeconfig {} {POD} --duration 3s -o json --out-file {}",
        env!("CARGO_BIN_EXE_tls-audit"),
        api.kubeconfig.display(),
        report.display()
    );
    let out = Command::new(script)
        .args(["-qfec", &command, "/dev/null"])
        .env_remove("KUBECONFIG")
        .env("HOME", &api.dir)
        .env("COLUMNS", "120")
        .output()
        .expect("script");
    let screen = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{screen}");
    assert!(screen.contains("/3s: "), "{screen}");
    assert!(
        screen.contains("1 flow, 1 TLS, 1 mutual, 0 plaintext"),
        "{screen}"
    );
    let r: Value = serde_json::from_slice(&std::fs::read(&report).expect("report")).expect("json");
    assert_eq!(r["stats"]["mutual_tls_flows"], 1);
}

/// Issue 22: a namespace without an enforce label can still refuse the
/// agent (the API server's admission configuration sets a cluster-wide
/// default, invisible in the labels): with `--via auto`, the refused pod
/// is read through the node agent on its node instead.
fn a_refusal_by_a_cluster_wide_default_is_rerouted_to_the_node_agents() {
    let api = FakeApi::start("psa-default");
    let psa = format!(
        "pods \"{POD}\" is forbidden: violates PodSecurity \"baseline:latest\": non-default capabilities (container \"tls-audit-abcde\" must not include \"NET_RAW\" in securityContext.capabilities.add)"
    );
    api.script(
        &format!("pay/{POD}"),
        Script {
            patch: PatchAnswer::Reject(
                403,
                status(403, "Forbidden", &psa, json!({"name": POD, "kind": "pods"})),
            ),
            log: Vec::new(),
            exit_code: 0,
        },
    );
    node_agent(&api, events("openssl-tls12-mutual"));
    let (code, stdout, stderr) = run(&api, &[POD, "--duration", "2s", "-o", "json"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("a cluster-wide default"), "{stderr}");
    assert_eq!(
        only(&api.requests(), "PATCH", "/ephemeralcontainers").len(),
        1
    );
    let report: Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(report["inputs"][0]["format"], "node-agent");
    assert_eq!(report["flows"][0]["server"]["pod"]["name"], POD);
    assert!(
        !warning_kinds(&report).contains(&"pod-failed".to_string()),
        "{}",
        report["warnings"]
    );
}

/// A node agent whose container runs `args` (probes/daemonset.yaml's, plus
/// what an overlay adds), with `log` as its log.
fn node_agent_with_args(api: &FakeApi, log: Vec<u8>, args: &[&str]) {
    node_agent(api, log);
    let mut agent = api.pod("tls-audit/tls-audit-agent-7xq2m");
    agent["spec"]["containers"] = json!([{
        "name": "agent",
        "image": "ghcr.io/tls-audit/tls-audit:0.1.0",
        "args": args,
    }]);
    api.add_pod(agent);
}

const DAEMONSET_ARGS: &[&str] = &[
    "capture",
    "--interface=any",
    "--emit=ndjson",
    "--metrics-addr=127.0.0.1:9464",
    "--max-flows=100000",
    "--buffer-mib=64",
    "--buffer-budget-mib=192",
];

/// Issue 15 (3): `--enrich probe` reads the node agents (the vantage that
/// reaches each peer's own TLS endpoint), even where ephemeral containers
/// would be allowed; a TLS 1.3 flow's server chain, hidden on the wire,
/// comes with the agent's handshake's provenance and its DER (checked), and
/// the run's enrichment record is labelled as the agent's.
fn enrich_probe_reads_the_enriching_node_agents() {
    let api = FakeApi::start("enrich-node-agents");
    let mut args = DAEMONSET_ARGS.to_vec();
    args.push("--enrich=probe");
    node_agent_with_args(&api, events("node-agent-tls13-mutual-enriched"), &args);
    let (code, stdout, stderr) = run(
        &api,
        &[POD, "--enrich", "probe", "--duration", "2s", "-o", "json"],
    );
    assert_eq!(code, 0, "{stderr}");
    let reqs = api.requests();
    assert!(
        only(&reqs, "PATCH", "/ephemeralcontainers").is_empty(),
        "no agent added to the pod"
    );
    assert_eq!(only(&reqs, "GET", "/log").len(), 1);
    let report: Value = serde_json::from_str(&stdout).expect("json");
    validate(&api, &stdout);
    let flows = report["flows"].as_array().expect("flows");
    assert_eq!(flows.len(), 1);
    let tls = &flows[0]["tls"];
    assert_eq!(tls["version"], "TLS1.3");
    assert_eq!(tls["certificates_encrypted"], true);
    assert_eq!(
        tls["server_chain"][0]["spiffe_id"],
        "spiffe://cluster.local/ns/pay/sa/api"
    );
    let src = &tls["enrichment"]["server_chain_source"];
    assert_eq!(src["source"], "probe");
    assert_eq!(src["same_on_repeat"], true);
    assert!(tls["client_chain"].as_array().expect("chain").is_empty());
    let e = &report["enrichment"];
    assert!(
        e["vantage"]
            .as_str()
            .unwrap_or_default()
            .starts_with("reported by the agent"),
        "{e:#}"
    );
    assert_eq!(e["flows_enriched"], 1);
    assert!(!warning_kinds(&report).contains(&"enrich-unavailable".to_string()));
    // The certificate rules ran on it: no "certificates-encrypted" left.
    let not_checked = report["verification"]["not_checked"].to_string();
    assert!(
        !not_checked.contains("certificates-encrypted"),
        "{not_checked}"
    );
}

/// Node agents without enrichment: said, naming the agent; and an agent
/// inside the pod is refused for enrichment before anything is asked.
fn enrich_probe_says_when_the_agents_do_not_enrich_and_refuses_ephemeral() {
    let api = FakeApi::start("enrich-not-enabled");
    node_agent_with_args(&api, events("openssl-tls12-mutual"), DAEMONSET_ARGS);
    let (code, stdout, stderr) = run(
        &api,
        &[POD, "--enrich", "probe", "--duration", "2s", "-o", "json"],
    );
    assert_eq!(code, 0, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).expect("json");
    let w = warning_of(&report, "enrich-unavailable");
    let message = w["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("tls-audit-agent-7xq2m") && message.contains("deploy/overlays/enrich"),
        "{message}"
    );

    let api = FakeApi::start("enrich-ephemeral");
    let (code, _, stderr) = run(&api, &[POD, "--enrich", "probe", "--via", "ephemeral"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("--via ephemeral") && stderr.contains("sidecar"),
        "{stderr}"
    );
    assert!(api.requests().is_empty(), "refused before any request");
}

/// `n` running pods in namespace `aaa-filler` (listed before the fixture's
/// `pay` and `web` pods, so those land on the last page).
fn add_filler_pods(api: &FakeApi, n: usize) {
    for i in 0..n {
        let mut p = api_pod_copy(
            "api-7d9f8b6c5-x2k4p",
            &format!("10.201.{}.{}", i / 250, i % 250 + 1),
        );
        p["metadata"]["namespace"] = "aaa-filler".into();
        p["metadata"]["name"] = format!("filler-{i:05}").into();
        p["metadata"]["uid"] = format!("filler-uid-{i}").into();
        api.add_pod(p);
    }
}

/// Issue 21 (kubectl): lists are paged (`limit=500`, `continue`) as
/// kubectl and client-go page them, so a large cluster is not one answer;
/// the pages join into one inventory (the audited pod's peer, on the last
/// page, is still named).
fn cluster_lists_are_paged() {
    let api = one_pod("paged", "openssl-tls12-mutual");
    add_filler_pods(&api, 1203);
    let (code, stdout, stderr) = run(&api, &[POD, "--duration", "2s", "-o", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let all: Vec<Recorded> = api
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path == "/api/v1/pods")
        .collect();
    assert_eq!(all.len(), 3, "1,205 pods in pages of 500");
    assert_eq!(all[0].query, "&limit=500");
    assert!(
        all[1].query.starts_with("&limit=500&continue="),
        "{}",
        all[1].query
    );
    let report: Value = serde_json::from_str(&stdout).expect("json");
    let flow = &report["flows"][0];
    assert_eq!(flow["server"]["pod"]["name"], POD);
    assert_eq!(
        flow["client"]["pod"]["namespace"], "web",
        "the peer from the last page"
    );
}

/// A continue token the server no longer honours (410 Expired, after an
/// etcd compaction): the list starts again in one request, as client-go's
/// pager does, and nothing is lost.
fn an_expired_continue_token_starts_the_list_again() {
    let api = one_pod("paged-expired", "openssl-tls12-mutual");
    add_filler_pods(&api, 600);
    api.expire_continue_once();
    let (code, stdout, stderr) = run(&api, &[POD, "--duration", "2s", "-o", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let all: Vec<Recorded> = api
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path == "/api/v1/pods")
        .collect();
    let queries: Vec<&str> = all.iter().map(|r| r.query.as_str()).collect();
    assert_eq!(queries.len(), 3, "{queries:?}");
    assert_eq!(queries[0], "&limit=500");
    assert!(
        queries[1].starts_with("&limit=500&continue="),
        "{queries:?}"
    );
    assert_eq!(queries[2], "", "the whole list at once: {queries:?}");
    let report: Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(report["flows"][0]["client"]["pod"]["namespace"], "web");
}

/// Benchmark (ignored; `benches/kubectl.sh` runs it): the plugin's own
/// time (preflight, lists, patch, watch, log, verification, rendering)
/// against the fake API server, for a small and a 5,000-pod cluster,
/// beside the real kubectl listing the same pods (`kubectl get --raw`, one
/// request: the floor of any client) in the same run. The fake agent's log
/// ends at once (it does not capture for `--duration`), so the whole wall
/// time is the plugin's overhead. Prints numbers; asserts nothing about
/// time.
fn bench_plugin_overhead() {
    let runs = 5;
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    for filler in [0usize, 5000] {
        let api = one_pod(&format!("bench-{filler}"), "openssl-tls12-mutual");
        add_filler_pods(&api, filler);
        let mut overhead = Vec::new();
        for _ in 0..runs {
            api.script(
                &format!("pay/{POD}"),
                accept(events("openssl-tls12-mutual")),
            );
            let t = std::time::Instant::now();
            let (code, _, stderr) = run(&api, &[POD, "--duration", "1s", "-o", "json"]);
            assert_eq!(code, 0, "{stderr}");
            overhead.push(t.elapsed().as_secs_f64());
        }
        let mut listing = Vec::new();
        if let Some(kubectl) = which("kubectl") {
            for _ in 0..runs {
                let t = std::time::Instant::now();
                let out = Command::new(&kubectl)
                    .args(["get", "--raw", "/api/v1/pods"])
                    .env("KUBECONFIG", &api.kubeconfig)
                    .output()
                    .expect("kubectl");
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                listing.push(t.elapsed().as_secs_f64());
            }
        }
        let pods = filler + crate::fake_api::fixture_pods().len();
        let o = median(overhead);
        let lists = api
            .requests()
            .iter()
            .filter(|r| {
                r.method == "GET"
                    && r.path == "/api/v1/pods"
                    && r.header("user-agent")
                        .is_some_and(|u| !u.starts_with("kubectl/"))
            })
            .count()
            / runs;
        print!(
            "kubectl-bench: {pods} pods: plugin overhead beyond --duration {o:.3} s (median of {runs}), {lists} pod-list requests per audit"
        );
        if !listing.is_empty() {
            let l = median(listing);
            print!(
                "; kubectl get --raw /api/v1/pods {l:.3} s; ratio {:.1}x",
                o / l
            );
        }
        println!();
    }
}

/// An enriching agent enriches a flow when it ends: a flow still open when
/// the audit window closes (read from its `handshake` event) has no chain
/// yet, and says so (`probe-pending`), not `certificates-encrypted`.
fn enrich_probe_marks_flows_still_open_as_pending() {
    let api = FakeApi::start("enrich-pending");
    let mut args = DAEMONSET_ARGS.to_vec();
    args.push("--enrich=probe");
    // The agent's real stream, up to its handshake event: the window
    // closed before the flow ended.
    let stream = String::from_utf8(events("node-agent-tls13-mutual-enriched")).expect("utf8");
    let cut: String = stream
        .lines()
        .take_while(|l| !l.contains("\"event\":\"flow\""))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(cut.contains("\"event\":\"handshake\""));
    node_agent_with_args(&api, cut.into_bytes(), &args);
    let (code, stdout, stderr) = run(
        &api,
        &[POD, "--enrich", "probe", "--duration", "2s", "-o", "json"],
    );
    assert_eq!(code, 0, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).expect("json");
    let tls = &report["flows"][0]["tls"];
    assert!(tls["server_chain"].as_array().expect("chain").is_empty());
    assert!(
        tls["enrichment"]["server_error"]
            .as_str()
            .unwrap_or_default()
            .starts_with("pending"),
        "{tls:#}"
    );
    let not_checked = report["verification"]["not_checked"].to_string();
    assert!(not_checked.contains("probe-pending"), "{not_checked}");
    assert!(
        !not_checked.contains("certificates-encrypted"),
        "{not_checked}"
    );
    assert!(!warning_kinds(&report).contains(&"enrich-unavailable".to_string()));
}

/// This module's tests, as the harness lists them (`main.rs`).
pub(crate) fn tests() -> Vec<crate::runner::Test> {
    use crate::runner::{Need, Test};
    vec![
        Test::new(
            module_path!(),
            "one_pod_audit_sends_the_exact_requests_and_reports_the_replayed_flows",
            one_pod_audit_sends_the_exact_requests_and_reports_the_replayed_flows,
        ),
        Test::new(
            module_path!(),
            "a_selector_audits_three_pods_and_one_failing_is_reported_beside_the_others",
            a_selector_audits_three_pods_and_one_failing_is_reported_beside_the_others,
        ),
        Test::new(
            module_path!(),
            "a_denied_permission_is_one_line_naming_verb_resource_and_the_role",
            a_denied_permission_is_one_line_naming_verb_resource_and_the_role,
        ),
        Test::new(
            module_path!(),
            "ephemeral_containers_disabled_is_said_plainly",
            ephemeral_containers_disabled_is_said_plainly,
        ),
        Test::new(
            module_path!(),
            "an_image_pull_back_off_names_the_reason_and_the_flag",
            an_image_pull_back_off_names_the_reason_and_the_flag,
        ),
        Test::new(
            module_path!(),
            "an_agent_that_never_starts_times_out_with_the_flag_named",
            an_agent_that_never_starts_times_out_with_the_flag_named,
        ),
        Test::new(
            module_path!(),
            "an_agent_that_exits_early_is_reported_with_its_code_and_message",
            an_agent_that_exits_early_is_reported_with_its_code_and_message,
        ),
        Test::new(
            module_path!(),
            "a_running_agent_of_the_same_image_is_reused_not_added_again",
            a_running_agent_of_the_same_image_is_reused_not_added_again,
        ),
        Test::new(
            module_path!(),
            "a_throttled_list_is_retried_by_the_client",
            a_throttled_list_is_retried_by_the_client,
        ),
        Test::new(
            module_path!(),
            "the_table_names_the_pods",
            the_table_names_the_pods,
        ),
        Test::new(
            module_path!(),
            "a_peer_at_a_service_ip_is_named_by_its_service",
            a_peer_at_a_service_ip_is_named_by_its_service,
        ),
        Test::new(
            module_path!(),
            "a_saved_capture_is_audited_with_the_live_cluster_context",
            a_saved_capture_is_audited_with_the_live_cluster_context,
        ),
        Test::new(
            module_path!(),
            "node_agents_are_read_on_the_pods_nodes_and_filtered_to_the_pods_addresses",
            node_agents_are_read_on_the_pods_nodes_and_filtered_to_the_pods_addresses,
        ),
        Test::new(
            module_path!(),
            "kubectl_finds_the_plugin_and_runs_an_audit",
            kubectl_finds_the_plugin_and_runs_an_audit,
        )
        .needs(&[Need::Tool("kubectl")]),
        Test::new(
            module_path!(),
            "the_krew_manifest_names_the_plugin_and_the_binary_cargo_builds",
            the_krew_manifest_names_the_plugin_and_the_binary_cargo_builds,
        ),
        Test::new(
            module_path!(),
            "the_cni_is_read_from_the_cluster_for_underlay_coverage",
            the_cni_is_read_from_the_cluster_for_underlay_coverage,
        ),
        Test::new(
            module_path!(),
            "active_only_probes_the_declared_ports_without_an_agent",
            active_only_probes_the_declared_ports_without_an_agent,
        ),
        Test::new(
            module_path!(),
            "active_adds_the_probe_to_the_capture",
            active_adds_the_probe_to_the_capture,
        ),
        Test::new(
            module_path!(),
            "active_flags_are_checked",
            active_flags_are_checked,
        ),
        Test::new(
            module_path!(),
            "ctrl_c_writes_the_report_with_what_was_read",
            ctrl_c_writes_the_report_with_what_was_read,
        ),
        Test::new(
            module_path!(),
            "the_agents_stderr_in_its_log_is_not_a_warning_and_requests_name_the_plugin",
            the_agents_stderr_in_its_log_is_not_a_warning_and_requests_name_the_plugin,
        ),
        Test::new(
            module_path!(),
            "a_pod_security_403_is_recognised_with_its_advice",
            a_pod_security_403_is_recognised_with_its_advice,
        ),
        Test::new(
            module_path!(),
            "a_restricted_namespace_is_audited_through_the_node_agents_automatically",
            a_restricted_namespace_is_audited_through_the_node_agents_automatically,
        ),
        Test::new(
            module_path!(),
            "a_pod_security_warning_header_is_said_and_reported",
            a_pod_security_warning_header_is_said_and_reported,
        ),
        Test::new(
            module_path!(),
            "the_only_agent_failing_at_once_gives_a_partial_report_naming_its_error_once",
            the_only_agent_failing_at_once_gives_a_partial_report_naming_its_error_once,
        ),
        Test::new(
            module_path!(),
            "a_termination_posted_late_is_waited_for",
            a_termination_posted_late_is_waited_for,
        ),
        Test::new(
            module_path!(),
            "a_log_dropped_while_the_agent_runs_is_followed_again",
            a_log_dropped_while_the_agent_runs_is_followed_again,
        ),
        Test::new(
            module_path!(),
            "a_refused_connection_names_the_server_and_help_offers_what_works",
            a_refused_connection_names_the_server_and_help_offers_what_works,
        ),
        Test::new(
            module_path!(),
            "kubectl_connection_flags_reach_the_server_as_kubectl_sends_them",
            kubectl_connection_flags_reach_the_server_as_kubectl_sends_them,
        ),
        Test::new(
            module_path!(),
            "a_terminal_shows_a_live_line_per_pod",
            a_terminal_shows_a_live_line_per_pod,
        )
        .needs(&[Need::Tool("script")]),
        Test::new(
            module_path!(),
            "a_refusal_by_a_cluster_wide_default_is_rerouted_to_the_node_agents",
            a_refusal_by_a_cluster_wide_default_is_rerouted_to_the_node_agents,
        ),
        Test::new(
            module_path!(),
            "enrich_probe_reads_the_enriching_node_agents",
            enrich_probe_reads_the_enriching_node_agents,
        ),
        Test::new(
            module_path!(),
            "enrich_probe_says_when_the_agents_do_not_enrich_and_refuses_ephemeral",
            enrich_probe_says_when_the_agents_do_not_enrich_and_refuses_ephemeral,
        ),
        Test::new(
            module_path!(),
            "cluster_lists_are_paged",
            cluster_lists_are_paged,
        ),
        Test::new(
            module_path!(),
            "an_expired_continue_token_starts_the_list_again",
            an_expired_continue_token_starts_the_list_again,
        ),
        Test::new(
            module_path!(),
            "bench_plugin_overhead",
            bench_plugin_overhead,
        )
        .ignored("benchmark: run by benches/kubectl.sh"),
        Test::new(
            module_path!(),
            "enrich_probe_marks_flows_still_open_as_pending",
            enrich_probe_marks_flows_still_open_as_pending,
        ),
    ]
}
