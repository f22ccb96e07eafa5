//! probes/: the manifests the plugin embeds and cluster admins apply. They
//! must parse, grant NET_RAW and nothing else, and pass the agent arguments
//! it accepts. (Running the agent with these exact arguments and
//! privileges is `agent::privileges_as_the_manifests_grant_them`.)

use clap::Parser;
use serde_json::Value;

use crate::support;

/// Every YAML document of a probes/ file.
pub fn documents(file: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(support::root().join("probes").join(file)).unwrap();
    text.split("\n---\n")
        .map(|doc| serde_saphyr::from_str::<Value>(doc).unwrap_or_else(|e| panic!("{file}: {e}")))
        .collect()
}

/// The agent containers a file defines.
fn containers(file: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for doc in documents(file) {
        if doc.get("args").is_some() {
            out.push(doc); // an ephemeral container spec on its own
        } else if let Some(cs) = doc.pointer("/spec/template/spec/containers") {
            out.extend(cs.as_array().unwrap().iter().cloned());
        }
    }
    out
}

/// The agent arguments of a container, as strings.
pub fn agent_args(c: &Value) -> Vec<String> {
    c["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

fn every_agent_container_has_net_raw_only_and_valid_arguments() {
    let mut seen = 0;
    for file in ["ephemeral-container.yaml", "sidecar.yaml", "daemonset.yaml"] {
        let cs = containers(file);
        assert_eq!(cs.len(), 1, "{file}");
        for c in cs {
            let sc = &c["securityContext"];
            assert_eq!(
                sc["capabilities"]["drop"],
                serde_json::json!(["ALL"]),
                "{file}"
            );
            assert_eq!(
                sc["capabilities"]["add"],
                serde_json::json!(["NET_RAW"]),
                "{file}"
            );
            assert_eq!(sc["allowPrivilegeEscalation"], false, "{file}");
            assert_eq!(sc["privileged"], false, "{file}");
            assert_eq!(sc["readOnlyRootFilesystem"], true, "{file}");
            assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault", "{file}");
            let args = agent_args(&c);
            assert_eq!(args[0], "capture", "{file}");
            assert!(args.iter().any(|a| a == "--emit=ndjson"), "{file}");
            let mut argv = vec!["tls-audit".to_string()];
            argv.extend(args);
            if let Err(e) = tls_audit::cli::Cli::try_parse_from(&argv) {
                panic!("{file}: the agent rejects {argv:?}: {e}");
            }
            // Ephemeral containers may not set resources; the others must.
            let ephemeral = file.starts_with("ephemeral");
            assert_eq!(c.get("resources").is_none(), ephemeral, "{file}");
            assert!(c.get("ports").is_none() || !ephemeral, "{file}");
            seen += 1;
        }
    }
    assert_eq!(seen, 3);
}

fn the_node_agent_lives_in_its_own_privileged_namespace() {
    let docs = documents("daemonset.yaml");
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["Namespace", "ServiceAccount", "DaemonSet"]);
    assert_eq!(
        docs[0]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"],
        "privileged"
    );
    let ds = &docs[2];
    assert_eq!(ds["metadata"]["namespace"], "tls-audit");
    let spec = &ds["spec"]["template"]["spec"];
    assert_eq!(spec["hostNetwork"], true);
    assert_eq!(spec["automountServiceAccountToken"], false);
    let args = agent_args(&spec["containers"][0]);
    assert!(args.contains(&"--interface=any".to_string()), "{args:?}");
}

fn the_auditor_role_grants_what_the_plugin_uses() {
    let role = &documents("rbac.yaml")[0];
    assert_eq!(role["kind"], "ClusterRole");
    let rules = role["rules"].as_array().unwrap();
    let grants = |resource: &str, verb: &str| {
        rules.iter().any(|r| {
            r["resources"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x == resource)
                && r["verbs"].as_array().unwrap().iter().any(|x| x == verb)
        })
    };
    assert!(grants("pods/ephemeralcontainers", "patch"));
    // The plugin only patches (issue 22): `update` is not granted.
    assert!(!grants("pods/ephemeralcontainers", "update"));
    // --via auto reads the namespace's Pod Security labels.
    assert!(grants("namespaces", "get"));
    assert!(grants("pods/log", "get"));
    // What the CNI's encryption settings are read from.
    assert!(grants("daemonsets", "get"));
    assert!(grants("configmaps", "get"));
    assert!(grants("felixconfigurations", "get"));
    assert!(grants("pods", "list"));
    assert!(!grants("pods", "delete"), "nothing destructive");
    assert!(!grants("pods/exec", "create"), "no exec");
}

/// Issue 22: the sidecar shares the workload's pod, whose service-account
/// token the ServiceAccount admission plugin mounts into every container
/// without a mount of its own at the token's path; the agent has one (an
/// empty directory), so it receives no token.
fn the_sidecar_agent_receives_no_service_account_token() {
    let patch = &documents("sidecar.yaml")[0];
    let spec = &patch["spec"]["template"]["spec"];
    let agent = &spec["containers"][0];
    let mount = agent["volumeMounts"]
        .as_array()
        .expect("volumeMounts")
        .iter()
        .find(|m| m["mountPath"] == "/var/run/secrets/kubernetes.io/serviceaccount")
        .expect("a mount at the token's path");
    assert_eq!(mount["readOnly"], true);
    let volume = spec["volumes"]
        .as_array()
        .expect("volumes")
        .iter()
        .find(|v| v["name"] == mount["name"])
        .expect("its volume");
    assert!(volume.get("emptyDir").is_some(), "{volume}");
}

/// This module's tests, as the harness lists them (`main.rs`).
pub(crate) fn tests() -> Vec<crate::runner::Test> {
    use crate::runner::Test;
    vec![
        Test::new(
            module_path!(),
            "every_agent_container_has_net_raw_only_and_valid_arguments",
            every_agent_container_has_net_raw_only_and_valid_arguments,
        ),
        Test::new(
            module_path!(),
            "the_node_agent_lives_in_its_own_privileged_namespace",
            the_node_agent_lives_in_its_own_privileged_namespace,
        ),
        Test::new(
            module_path!(),
            "the_auditor_role_grants_what_the_plugin_uses",
            the_auditor_role_grants_what_the_plugin_uses,
        ),
        Test::new(
            module_path!(),
            "the_sidecar_agent_receives_no_service_account_token",
            the_sidecar_agent_receives_no_service_account_token,
        ),
    ]
}
