//! Inventory tests: the committed cluster snapshot resolved at capture time,
//! and the time, reuse and hostNetwork rules on small inline documents.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use time::macros::datetime;

use super::kube_json::{self, PodKind};
use super::{Inventory, InventoryError, MAX_FILE_BYTES, Pod, Resolved, read_limited};

/// During the committed captures (2026-11-27 11:04:42Z .. 11:05:41Z).
const CAPTURE_TIME: i64 = datetime!(2026-11-27 11:05:00 UTC).unix_timestamp();

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/cluster")
        .join(name)
}

fn cluster() -> Inventory {
    Inventory::load(Some(&fixture("pods.json")), Some(&fixture("nodes.json"))).unwrap()
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn ts(text: &str) -> i64 {
    kube_json::parse_time(Some(text)).unwrap()
}

fn pods_only(json: &str) -> Inventory {
    Inventory::from_json(Some(json.as_bytes()), None).unwrap()
}

fn pods_error(json: &str) -> InventoryError {
    Inventory::from_json(Some(json.as_bytes()), None).unwrap_err()
}

/// The pod an address resolves to, as `namespace/name`, or a description.
fn who(inv: &Inventory, addr: &str, at: i64) -> String {
    let names = |pods: &[&Pod]| {
        let names: Vec<String> = pods
            .iter()
            .map(|p| format!("{}/{}", p.namespace, p.name))
            .collect();
        names.join(",")
    };
    match inv.resolve(ip(addr), at) {
        Resolved::Pod(p) => format!("{}/{}", p.namespace, p.name),
        Resolved::Node {
            node,
            host_network_pods,
        } => {
            format!("node {} [{}]", node.name, names(&host_network_pods))
        }
        Resolved::Ambiguous(pods) => format!("ambiguous [{}]", names(&pods)),
        Resolved::Unknown => "unknown".into(),
    }
}

/// A running pod with one IP and the given lifetime (Unix seconds).
fn pod_json(name: &str, addr: &str, start: Option<i64>, end: Option<i64>) -> String {
    let time = |t: i64| {
        let t = time::OffsetDateTime::from_unix_timestamp(t).unwrap();
        let text = t
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        format!("\"{text}\"")
    };
    let start = start.map_or("null".into(), time);
    let (phase, finished) = match end {
        Some(end) => ("Succeeded", time(end)),
        None => ("Running", "null".into()),
    };
    format!(
        r#"{{"kind":"Pod","metadata":{{"name":"{name}","namespace":"ns"}},
        "status":{{"phase":"{phase}","podIP":"{addr}","startTime":{start},
        "containerStatuses":[{{"name":"c","restartCount":0,
        "state":{{"terminated":{{"finishedAt":{finished}}}}}}}]}}}}"#
    )
}

fn list(items: &[String]) -> String {
    format!(r#"{{"kind":"List","items":[{}]}}"#, items.join(","))
}

// ---- the committed snapshot ----

#[test]
fn fixture_pods_are_read() {
    let inv = cluster();
    let names: Vec<&str> = inv.pods().iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "aws-node-7k2vd",
            "aws-node-m9xq4",
            "coredns-6b9575c64c-8fxqv",
            "api-7d9f8b6c5-x2k4p",
            "cache-warmup-29928060-h5sgn",
            "frontend-5c6b7d8f9-q7r2m",
        ]
    );
    let api = inv.pod_by_name("pay", "api-7d9f8b6c5-x2k4p").unwrap();
    assert_eq!(
        api.uid.as_deref(),
        Some("5b3e9f12-8a4c-4d6e-a7b1-c2d3e4f5a6b7")
    );
    assert_eq!(api.service_account, "api");
    assert_eq!(api.node.as_deref(), Some("ip-10-200-0-10.ec2.internal"));
    assert!(!api.host_network);
    assert_eq!(api.phase.as_deref(), Some("Running"));
    assert_eq!(api.ips, [ip("10.200.0.2"), ip("fd00:200::2")]);
    assert_eq!(api.labels.get("app").map(String::as_str), Some("api"));
    let owner = api.owner.as_ref().unwrap();
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str()),
        ("ReplicaSet", "api-7d9f8b6c5")
    );
    assert_eq!(api.start_time, Some(ts("2026-11-27T10:03:56Z")));
    assert_eq!(api.end_time, None);
    assert_eq!(api.restarts, 1);
    let containers: Vec<(&str, u32, Option<i64>)> = api
        .containers
        .iter()
        .map(|c| (c.name.as_str(), c.restarts, c.started_at))
        .collect();
    assert_eq!(
        containers,
        [
            ("api", 0, Some(ts("2026-11-27T10:04:01Z"))),
            ("istio-proxy", 1, Some(ts("2026-11-27T10:04:10Z"))),
        ]
    );
}

#[test]
fn fixture_job_pod_ended_the_day_before() {
    let inv = cluster();
    let job = inv
        .pod_by_name("web", "cache-warmup-29928060-h5sgn")
        .unwrap();
    assert_eq!(job.phase.as_deref(), Some("Succeeded"));
    assert_eq!(job.owner.as_ref().map(|o| o.kind.as_str()), Some("Job"));
    assert_eq!(job.start_time, Some(ts("2026-11-26T09:00:00Z")));
    assert_eq!(job.end_time, Some(ts("2026-11-26T09:01:27Z")));
    assert_eq!(job.ips, [ip("10.200.0.1"), ip("fd00:200::1")]);
}

#[test]
fn fixture_nodes_are_read() {
    let inv = cluster();
    let nodes = inv.nodes();
    assert_eq!(nodes.len(), 2);
    assert_eq!(nodes[0].name, "ip-10-200-0-10.ec2.internal");
    assert_eq!(nodes[0].ips, [ip("10.200.0.10")]);
    assert_eq!(nodes[0].instance_type.as_deref(), Some("m5.large"));
    assert_eq!(
        nodes[0].provider_id.as_deref(),
        Some("aws:///us-east-1a/i-0a3f5c7e9b1d24680")
    );
    let zone = nodes[0].labels.get("topology.kubernetes.io/zone");
    assert_eq!(zone.map(String::as_str), Some("us-east-1a"));
    assert_eq!(nodes[1].instance_type.as_deref(), Some("t3.medium"));
    assert_eq!(
        inv.node_by_name("ip-10-200-0-11.ec2.internal")
            .map(|n| n.ips.clone()),
        Some(vec![ip("10.200.0.11")])
    );
}

#[test]
fn fixture_resolves_capture_endpoints() {
    let inv = cluster();
    let t = CAPTURE_TIME;
    assert_eq!(who(&inv, "10.200.0.1", t), "web/frontend-5c6b7d8f9-q7r2m");
    assert_eq!(who(&inv, "fd00:200::1", t), "web/frontend-5c6b7d8f9-q7r2m");
    assert_eq!(who(&inv, "10.200.0.2", t), "pay/api-7d9f8b6c5-x2k4p");
    assert_eq!(who(&inv, "fd00:200::2", t), "pay/api-7d9f8b6c5-x2k4p");
    assert_eq!(who(&inv, "::ffff:10.200.0.2", t), "pay/api-7d9f8b6c5-x2k4p");
    assert_eq!(
        who(&inv, "10.200.0.53", t),
        "kube-system/coredns-6b9575c64c-8fxqv"
    );
    assert_eq!(
        who(&inv, "10.200.0.10", t),
        "node ip-10-200-0-10.ec2.internal [kube-system/aws-node-7k2vd]"
    );
    assert_eq!(
        who(&inv, "10.200.0.11", t),
        "node ip-10-200-0-11.ec2.internal [kube-system/aws-node-m9xq4]"
    );
    assert_eq!(who(&inv, "10.200.0.99", t), "unknown");
    assert_eq!(who(&inv, "fd00:200::99", t), "unknown");
}

#[test]
fn fixture_resolves_reused_ip_by_time() {
    let inv = cluster();
    let job_time = ts("2026-11-26T09:00:30Z");
    assert_eq!(
        who(&inv, "10.200.0.1", job_time),
        "web/cache-warmup-29928060-h5sgn"
    );
    assert_eq!(
        who(&inv, "fd00:200::1", job_time),
        "web/cache-warmup-29928060-h5sgn"
    );
    // Between the job's end and the frontend's start nobody had it.
    assert_eq!(
        who(&inv, "10.200.0.1", ts("2026-11-26T20:00:00Z")),
        "unknown"
    );
    // The api pod did not exist yet on the day before.
    assert_eq!(who(&inv, "10.200.0.2", job_time), "unknown");
}

#[test]
fn pods_serialize_with_ips_as_text() {
    let inv = cluster();
    let api = inv.pod_by_name("pay", "api-7d9f8b6c5-x2k4p").unwrap();
    let json = serde_json::to_value(api).unwrap();
    assert_eq!(
        json["ips"],
        serde_json::json!(["10.200.0.2", "fd00:200::2"])
    );
    assert_eq!(json["owner"]["name"], "api-7d9f8b6c5");
}

// ---- time rules ----

#[test]
fn reused_ip_resolves_to_the_pod_of_the_time() {
    let inv = pods_only(&list(&[
        pod_json("old", "10.0.0.5", Some(1_000), Some(2_000)),
        pod_json("new", "10.0.0.5", Some(3_000), None),
    ]));
    assert_eq!(who(&inv, "10.0.0.5", 1_500), "ns/old");
    assert_eq!(who(&inv, "10.0.0.5", 3_500), "ns/new");
    assert_eq!(who(&inv, "10.0.0.5", 2_500), "unknown");
    assert_eq!(who(&inv, "10.0.0.5", 500), "unknown");
}

#[test]
fn overlapping_holders_are_ambiguous() {
    let inv = pods_only(&list(&[
        pod_json("old", "10.0.0.5", Some(1_000), Some(2_000)),
        pod_json("new", "10.0.0.5", Some(2_100), None),
    ]));
    assert_eq!(who(&inv, "10.0.0.5", 2_050), "ambiguous [ns/old,ns/new]");
    assert_eq!(who(&inv, "10.0.0.5", 2_121), "ns/new");
}

#[test]
fn grace_period_is_120_seconds_each_side() {
    let inv = pods_only(&list(&[pod_json(
        "p",
        "10.0.0.5",
        Some(1_000),
        Some(2_000),
    )]));
    assert_eq!(who(&inv, "10.0.0.5", 880), "ns/p");
    assert_eq!(who(&inv, "10.0.0.5", 879), "unknown");
    assert_eq!(who(&inv, "10.0.0.5", 2_120), "ns/p");
    assert_eq!(who(&inv, "10.0.0.5", 2_121), "unknown");
}

#[test]
fn pending_pod_without_start_time_does_not_match() {
    let json = r#"{"kind":"Pod","metadata":{"name":"p","namespace":"ns",
        "creationTimestamp":"2026-11-27T10:00:00Z"},
        "status":{"phase":"Pending","podIP":"10.0.0.5"}}"#;
    let inv = pods_only(json);
    assert_eq!(inv.pods()[0].start_time, None);
    assert_eq!(who(&inv, "10.0.0.5", ts("2026-11-27T10:00:30Z")), "unknown");
}

#[test]
fn creation_time_stands_in_for_missing_start_time() {
    let json = r#"{"kind":"Pod","metadata":{"name":"p","namespace":"ns",
        "creationTimestamp":"2026-11-27T10:00:00Z"},
        "status":{"phase":"Running","podIP":"10.0.0.5"}}"#;
    let inv = pods_only(json);
    assert_eq!(inv.pods()[0].start_time, Some(ts("2026-11-27T10:00:00Z")));
    assert_eq!(who(&inv, "10.0.0.5", ts("2026-11-27T10:00:30Z")), "ns/p");
}

#[test]
fn end_time_is_latest_finish_or_deletion() {
    let json = r#"[
      {"metadata":{"name":"done","deletionTimestamp":"2026-11-27T12:00:00Z"},
       "status":{"phase":"Failed","startTime":"2026-11-27T10:00:00Z","containerStatuses":[
         {"name":"a","state":{"terminated":{"finishedAt":"2026-11-27T10:05:00Z"}}},
         {"name":"b","restartCount":2,
          "state":{"terminated":{"finishedAt":"2026-11-27T10:07:00Z"}},
          "lastState":{"terminated":{"finishedAt":"2026-11-27T10:06:00Z"}}}]}},
      {"metadata":{"name":"going","deletionTimestamp":"2026-11-27T12:00:00Z"},
       "status":{"phase":"Running","startTime":"2026-11-27T10:00:00Z","containerStatuses":[
         {"name":"a","lastState":{"terminated":{"finishedAt":"2026-11-27T10:05:00Z"}}}]}}
    ]"#;
    let inv = pods_only(json);
    assert_eq!(inv.pods()[0].end_time, Some(ts("2026-11-27T10:07:00Z")));
    assert_eq!(inv.pods()[0].restarts, 2);
    assert_eq!(inv.pods()[1].end_time, Some(ts("2026-11-27T12:00:00Z")));
}

// ---- hostNetwork ----

#[test]
fn host_network_pods_resolve_to_their_node() {
    let pods = r#"{"kind":"PodList","items":[
      {"metadata":{"name":"kube-proxy-a","namespace":"kube-system"},
       "spec":{"hostNetwork":true,"nodeName":"n1"},
       "status":{"phase":"Running","podIP":"10.0.0.10","hostIP":"10.0.0.10","startTime":"2026-11-27T09:00:00Z"}},
      {"metadata":{"name":"node-exporter-a","namespace":"monitoring"},
       "spec":{"hostNetwork":true,"nodeName":"n1"},
       "status":{"phase":"Running","podIP":"10.0.0.10","startTime":"2026-11-27T09:00:00Z"}},
      {"metadata":{"name":"old-agent","namespace":"kube-system"},
       "spec":{"hostNetwork":true,"nodeName":"n1"},
       "status":{"phase":"Succeeded","podIP":"10.0.0.10","startTime":"2026-11-20T09:00:00Z",
         "containerStatuses":[{"name":"a","state":{"terminated":{"finishedAt":"2026-11-20T09:10:00Z"}}}]}}
    ]}"#;
    let nodes = r#"{"kind":"NodeList","items":[{"metadata":{"name":"n1"},
      "status":{"addresses":[{"type":"InternalIP","address":"10.0.0.10"},
        {"type":"ExternalIP","address":"203.0.113.10"},{"type":"Hostname","address":"n1"}]}}]}"#;
    let inv = Inventory::from_json(Some(pods.as_bytes()), Some(nodes.as_bytes())).unwrap();
    let t = ts("2026-11-27T10:00:00Z");
    let expected = "node n1 [kube-system/kube-proxy-a,monitoring/node-exporter-a]";
    assert_eq!(who(&inv, "10.0.0.10", t), expected);
    assert_eq!(who(&inv, "203.0.113.10", t), expected);
    assert_eq!(inv.nodes()[0].ips, [ip("10.0.0.10"), ip("203.0.113.10")]);
}

#[test]
fn host_network_pods_imply_a_node_without_nodes_file() {
    let pods = r#"[{"metadata":{"name":"aws-node-x","namespace":"kube-system"},
       "spec":{"hostNetwork":true,"nodeName":"n9"},
       "status":{"phase":"Running","podIP":"10.0.0.9","startTime":"2026-11-27T09:00:00Z"}}]"#;
    let inv = pods_only(pods);
    assert!(inv.nodes().is_empty());
    assert_eq!(
        who(&inv, "10.0.0.9", ts("2026-11-27T10:00:00Z")),
        "node n9 [kube-system/aws-node-x]"
    );
    assert_eq!(
        inv.node_by_name("n9").map(|n| n.ips.clone()),
        Some(vec![ip("10.0.0.9")])
    );
}

#[test]
fn node_ip_wins_over_a_stale_pod_ip() {
    let pods = list(&[pod_json("p", "10.0.0.10", Some(1_000), None)]);
    let nodes = r#"{"kind":"Node","metadata":{"name":"n1"},
      "status":{"addresses":[{"type":"InternalIP","address":"10.0.0.10"}]}}"#;
    let inv = Inventory::from_json(Some(pods.as_bytes()), Some(nodes.as_bytes())).unwrap();
    assert_eq!(who(&inv, "10.0.0.10", 2_000), "node n1 []");
}

// ---- document shapes ----

#[test]
fn single_pod_object() {
    let inv = pods_only(&pod_json("solo", "10.0.0.7", Some(1_000), None));
    assert_eq!(inv.pods().len(), 1);
    assert_eq!(who(&inv, "10.0.0.7", 1_000), "ns/solo");
}

#[test]
fn bare_array_of_pods() {
    let json = format!(
        "[{},{}]",
        pod_json("a", "10.0.0.1", Some(1_000), None),
        pod_json("b", "10.0.0.2", Some(1_000), None)
    );
    let inv = pods_only(&json);
    assert_eq!(who(&inv, "10.0.0.2", 1_000), "ns/b");
    assert_eq!(inv.pods().len(), 2);
}

#[test]
fn single_node_object_and_beta_instance_type() {
    let nodes = r#"{"apiVersion":"v1","kind":"Node","metadata":{"name":"n1","labels":{
      "beta.kubernetes.io/instance-type":"c5n.xlarge",
      "eks.amazonaws.com/instance-encryption-in-transit-supported":"true"}},
      "spec":{"providerID":"aws:///us-east-1b/i-0123456789abcdef0"}}"#;
    let inv = Inventory::from_json(None, Some(nodes.as_bytes())).unwrap();
    let node = &inv.nodes()[0];
    assert_eq!(node.instance_type.as_deref(), Some("c5n.xlarge"));
    assert_eq!(
        node.provider_id.as_deref(),
        Some("aws:///us-east-1b/i-0123456789abcdef0")
    );
    let label = node
        .labels
        .get("eks.amazonaws.com/instance-encryption-in-transit-supported");
    assert_eq!(label.map(String::as_str), Some("true"));
    assert!(node.ips.is_empty());
}

#[test]
fn mixed_list_keeps_only_pods() {
    let json = format!(
        r#"{{"kind":"List","items":[{{"kind":"Service","metadata":{{"name":"svc"}}}},{}]}}"#,
        pod_json("p", "10.0.0.5", Some(1_000), None)
    );
    let inv = pods_only(&json);
    let names: Vec<&str> = inv.pods().iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["p"]);
}

#[test]
fn empty_list_is_an_empty_inventory() {
    let inv = pods_only(
        r#"{"apiVersion":"v1","items":[],"kind":"List","metadata":{"resourceVersion":""}}"#,
    );
    assert!(inv.pods().is_empty());
    assert_eq!(who(&inv, "10.0.0.1", 0), "unknown");
    let inv = Inventory::from_json(None, None).unwrap();
    assert!(inv.pods().is_empty() && inv.nodes().is_empty());
}

#[test]
fn missing_fields_take_defaults() {
    let inv = pods_only(r#"{"items":[{"metadata":{"name":"bare"}},{}]}"#);
    let pod = &inv.pods()[0];
    assert_eq!(pod.name, "bare");
    assert_eq!(pod.namespace, "default");
    assert_eq!(pod.service_account, "default");
    assert_eq!(pod.uid, None);
    assert_eq!(pod.node, None);
    assert!(!pod.host_network);
    assert_eq!(pod.phase, None);
    assert!(pod.ips.is_empty() && pod.labels.is_empty() && pod.containers.is_empty());
    assert_eq!(
        (
            pod.owner.as_ref(),
            pod.start_time,
            pod.end_time,
            pod.restarts
        ),
        (None, None, None, 0)
    );
    assert_eq!(inv.pods()[1].name, "");
    assert_eq!(
        inv.pod_by_name("default", "bare").map(|p| p.name.as_str()),
        Some("bare")
    );
    assert_eq!(inv.pod_by_name("other", "bare"), None);
}

#[test]
fn service_account_owner_and_nulls() {
    let json = r#"{"kind":"Pod","metadata":{"name":"p","namespace":"ns","labels":null,
        "ownerReferences":[{"kind":"Node","name":"n1"},
                           {"kind":"StatefulSet","name":"db","controller":true}]},
      "spec":{"serviceAccount":"legacy","serviceAccountName":""},
      "status":{"podIPs":null,"containerStatuses":null}}"#;
    let pod = pods_only(json).pods()[0].clone();
    assert_eq!(pod.service_account, "legacy");
    let owner = pod.owner.unwrap();
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str()),
        ("StatefulSet", "db")
    );
}

#[test]
fn malformed_values_are_absent_not_errors() {
    let json = r#"{"kind":"Pod","metadata":{"name":"p","creationTimestamp":"yesterday"},
      "status":{"phase":"Running","startTime":"2026-13-45T99:00:00Z",
        "podIP":"not-an-ip","podIPs":[{"ip":"10.0.0.5"},{"ip":""},{}],
        "containerStatuses":[{"name":"c","state":{"running":{"startedAt":"soon"}}}]}}"#;
    let pod = pods_only(json).pods()[0].clone();
    assert_eq!(pod.start_time, None);
    assert_eq!(pod.ips, [ip("10.0.0.5")]);
    assert_eq!(pod.containers[0].started_at, None);
}

// ---- errors ----

#[test]
fn malformed_json_names_line_and_file() {
    let bad = "{\n  \"kind\": \"List\",\n  \"items\": [\n    {\"metadata\": {\"name\": \"a\",}}\n  ]\n}\n";
    let err = pods_error(bad);
    assert!(
        matches!(
            err,
            InventoryError::Json {
                what: "pods",
                path: None,
                ..
            }
        ),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.starts_with("cannot parse pods JSON: "), "{message}");
    assert!(message.contains("line 4 column"), "{message}");

    let dir = scratch_dir("malformed");
    let path = dir.join("nodes.json");
    std::fs::write(&path, bad).unwrap();
    let message = Inventory::load(None, Some(&path)).unwrap_err().to_string();
    let prefix = format!("cannot parse nodes file {}: ", path.display());
    assert!(message.starts_with(&prefix), "{message}");
    assert!(message.contains("line 4 column"), "{message}");
}

#[test]
fn wrong_field_type_is_a_json_error_with_line() {
    let err = pods_error(
        "{\"kind\":\"Pod\",\n\"status\":{\"containerStatuses\":[{\"restartCount\":\"x\"}]}}",
    );
    let message = err.to_string();
    assert!(matches!(err, InventoryError::Json { .. }), "{message}");
    assert!(message.contains("invalid type: string \"x\""), "{message}");
    assert!(message.contains("line 2"), "{message}");
}

#[test]
fn not_json_at_all() {
    let err = pods_error("apiVersion: v1\nkind: List\n");
    let message = err.to_string();
    assert!(matches!(err, InventoryError::Json { .. }), "{message}");
    assert!(message.contains("line 1 column 1"), "{message}");
    assert!(matches!(pods_error(""), InventoryError::Json { .. }));
}

#[test]
fn nodes_given_as_pods_is_not_a_list() {
    let nodes = std::fs::read(fixture("nodes.json")).unwrap();
    let err = Inventory::from_json(Some(&nodes), None).unwrap_err();
    match &err {
        InventoryError::NotAList { what, found, .. } => {
            assert_eq!(*what, "pods");
            assert_eq!(found, "a List of Node objects");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "pods JSON: expected the output of `kubectl get pods -A -o json` \
         (a List of Pod objects), found a List of Node objects"
    );
}

#[test]
fn unrecognisable_documents_are_not_lists() {
    let found = |json: &str| match pods_error(json) {
        InventoryError::NotAList { found, .. } => found,
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!(
        found(r#"{"kind":"NodeList","items":[]}"#),
        "a NodeList object"
    );
    assert_eq!(
        found(r#"{"kind":"Node","metadata":{"name":"n"}}"#),
        "a Node object"
    );
    assert_eq!(
        found(r#"{"hello":"world"}"#),
        "a JSON object with neither `items` nor `kind`"
    );
    assert_eq!(
        found(r#"[{"kind":"Service"}]"#),
        "a JSON array of Service objects"
    );
    assert_eq!(found(" 42 "), "a JSON number");
    assert_eq!(found(r#""pods""#), "a JSON string");
    assert_eq!(found("null"), "JSON null");
}

#[test]
fn utf8_bom_is_skipped_and_utf16_is_explained() {
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend_from_slice(pod_json("p", "10.0.0.5", Some(1_000), None).as_bytes());
    let inv = Inventory::from_json(Some(&bytes), None).unwrap();
    assert_eq!(inv.pods().len(), 1);
    let utf16 = b"\xFF\xFE{\0}\0";
    let err = Inventory::from_json(Some(utf16), None).unwrap_err();
    assert!(err.to_string().contains("UTF-16"), "{err}");
}

#[test]
fn item_cap_is_enforced() {
    let three = r#"{"items":[{},{},{}]}"#;
    assert_eq!(
        kube_json::parse_capped::<PodKind, 3>(three.as_bytes())
            .unwrap()
            .len(),
        3
    );
    let err = kube_json::parse_capped::<PodKind, 2>(three.as_bytes())
        .err()
        .unwrap();
    match err {
        kube_json::ParseError::Json(e) => {
            assert!(e.to_string().contains("more than 2 items"), "{e}");
        }
        kube_json::ParseError::Shape(s) => panic!("unexpected shape error {s}"),
    }
}

#[test]
fn too_large_files_are_refused() {
    let dir = scratch_dir("large");
    let path = dir.join("pods.json");
    std::fs::write(&path, "[]").unwrap();
    assert_eq!(read_limited(&path, 2).unwrap(), b"[]");
    match read_limited(&path, 1).unwrap_err() {
        InventoryError::TooLarge { path: p, bytes } => assert_eq!((p, bytes), (path.clone(), 2)),
        other => panic!("unexpected {other:?}"),
    }
    let message = read_limited(&path, 1).unwrap_err().to_string();
    assert!(
        message.contains(&format!(
            "({} bytes; the limit is {MAX_FILE_BYTES} bytes",
            2
        )),
        "{message}"
    );
}

#[test]
fn missing_file_is_an_io_error_naming_it() {
    let path = scratch_dir("missing").join("nope.json");
    let err = Inventory::load(Some(&path), None).unwrap_err();
    assert!(
        matches!(&err, InventoryError::Io { path: p, .. } if *p == path),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
}

/// A per-test directory under the system temporary directory.
fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir()
        .join(format!("tls-audit-inventory-{}", std::process::id()))
        .join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn workloads_survive_a_rollout() {
    let pods = br#"{"items":[
      {"metadata":{"name":"api-7d9f8b6c5-x2k4p","namespace":"pay","labels":{"pod-template-hash":"7d9f8b6c5"},
        "ownerReferences":[{"kind":"ReplicaSet","name":"api-7d9f8b6c5","controller":true}]},"spec":{},"status":{}},
      {"metadata":{"name":"db-0","namespace":"pay","ownerReferences":[{"kind":"StatefulSet","name":"db","controller":true}]},"spec":{},"status":{}},
      {"metadata":{"name":"rs-abc12","namespace":"pay","ownerReferences":[{"kind":"ReplicaSet","name":"rs","controller":true}]},"spec":{},"status":{}},
      {"metadata":{"name":"debug","namespace":"pay"},"spec":{},"status":{}}
    ]}"#;
    let inv = Inventory::from_json(Some(pods), None).unwrap();
    let w: Vec<(String, String)> = inv
        .pods()
        .iter()
        .map(|p| {
            let w = p.workload();
            (w.kind, w.name)
        })
        .collect();
    let want = [
        ("Deployment", "api"),
        ("StatefulSet", "db"),
        // A ReplicaSet of its own (no pod-template-hash): itself.
        ("ReplicaSet", "rs"),
        ("Pod", "debug"),
    ];
    assert_eq!(
        w,
        want.iter()
            .map(|(k, n)| (k.to_string(), n.to_string()))
            .collect::<Vec<_>>()
    );
}

/// Declared TCP ports, by address and time: containers' then native
/// sidecars' ports, UDP and duplicates skipped, bounded; an address two
/// pods could have held names no ports; hostNetwork pods none.
#[test]
fn declared_ports_by_address_and_time() {
    let with_spec = |json: String, spec: &str| {
        json.replacen(r#""status":"#, &format!(r#""spec":{spec},"status":"#), 1)
    };
    let many: Vec<String> = (1..=40)
        .map(|p| format!(r#"{{"containerPort":{p}}}"#))
        .collect();
    let inv = pods_only(&list(&[
        with_spec(
            pod_json("a", "10.0.0.1", Some(1000), None),
            r#"{"containers":[{"name":"app","ports":[{"containerPort":8080},{"containerPort":53,"protocol":"UDP"},{"containerPort":8080,"name":"again"}]}],
                "initContainers":[{"name":"proxy","restartPolicy":"Always","ports":[{"containerPort":15006}]},{"name":"init","ports":[{"containerPort":9}]}]}"#,
        ),
        with_spec(
            pod_json("b", "10.0.0.2", Some(1000), None),
            &format!(
                r#"{{"containers":[{{"name":"c","ports":[{}]}}]}}"#,
                many.join(",")
            ),
        ),
        with_spec(
            pod_json("c1", "10.0.0.3", Some(1000), None),
            r#"{"containers":[{"name":"c","ports":[{"containerPort":1}]}]}"#,
        ),
        with_spec(
            pod_json("c2", "10.0.0.3", Some(1000), None),
            r#"{"containers":[{"name":"c","ports":[{"containerPort":2}]}]}"#,
        ),
        with_spec(
            pod_json("h", "10.0.0.4", Some(1000), None),
            r#"{"hostNetwork":true,"containers":[{"name":"c","ports":[{"containerPort":10250}]}]}"#,
        ),
    ]));
    let d = inv.declared_ports();
    assert_eq!(d.at(ip("10.0.0.1"), 5000), &[8080, 15006]);
    assert_eq!(d.at(ip("::ffff:10.0.0.1"), 5000), &[8080, 15006]);
    assert!(
        d.at(ip("10.0.0.1"), 100).is_empty(),
        "before the pod started"
    );
    assert_eq!(d.at(ip("10.0.0.2"), 5000).len(), 16, "bounded");
    assert!(
        d.at(ip("10.0.0.3"), 5000).is_empty(),
        "two pods: none guessed"
    );
    assert!(d.at(ip("10.0.0.4"), 5000).is_empty(), "hostNetwork");
    assert!(d.at(ip("10.9.9.9"), 5000).is_empty());
}
