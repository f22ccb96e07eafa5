//! The evaluators on small reports built for each case: the status moves
//! with the evidence (public or internal, admin port, login protocol,
//! waiver), and every status names what it rests on.

use serde_json::{Value, json};

use super::{ComplianceError, ControlResult, Status, evaluate};
use crate::model::report::Report;

fn report(flows: Vec<Value>, findings: Vec<Value>) -> Report {
    let mut r: Report = serde_json::from_value(json!({
        "schema": "tls-audit/report/v1",
        "tool": {"name": "tls-audit", "version": "0"},
        "inputs": [],
        "stats": {"packets": 0, "bytes": 0, "flows": 0, "tls_flows": 0, "mutual_tls_flows": 0,
            "evicted_flows": 0, "packets_after_close": 0, "truncated_packets": 0, "decode_errors": {},
            "tunnelled_packets": {}, "ip_fragments_reassembled": 0, "ip_fragments_dropped": 0,
            "other_ip_packets": 0},
        "warnings": [],
        "flows": []
    }))
    .unwrap();
    r.flows = flows
        .into_iter()
        .map(|f| serde_json::from_value(f).unwrap())
        .collect();
    r.findings = findings
        .into_iter()
        .map(|f| serde_json::from_value(f).unwrap())
        .collect();
    r
}

/// A flow `client` → `server:port` with this protection and protocol.
fn flow(n: u32, server: &str, port: u16, protection: &str, app: Option<&str>) -> Value {
    json!({"transport": "tcp", "client": {"ip": "10.0.0.1", "port": 40000 + n},
        "server": {"ip": server, "port": port}, "role_source": "syn",
        "first_seen": format!("2026-11-27T11:00:0{n}.000000Z"), "last_seen": "2026-11-27T11:00:09.000000Z", "packets": 4,
        "bytes": 100, "protection": protection, "app_protocol": app, "tls": null, "tcp": null,
        "inside": null, "ended_by": null, "truncated": false})
}

/// A TLS flow; with `cert`, its server sent that certificate.
fn tls_flow(n: u32, mutual: bool, cert: Option<&str>) -> Value {
    let mut f = flow(n, "10.0.0.2", 443, "tls", None);
    let chain: Vec<Value> = cert
        .map(|c| {
            json!({"subject": "CN=a", "issuer": "CN=ca", "serial": "01", "not_before": null,
            "not_after": null, "sha256": c, "dns_names": [], "uris": [], "ip_addresses": [],
            "emails": [], "spiffe_id": null, "key_type": null, "key_bits": null, "ec_curve": null,
            "signature_algorithm": null, "is_ca": null, "path_len": null, "key_usage": [],
            "extended_key_usage": [], "self_signed": false, "der_len": 0, "parse_error": null})
        })
        .into_iter()
        .collect();
    f["tls"] = json!({"handshake_seen": true, "version": "TLS1.3", "cipher_suite": null,
        "sni": null, "alpn_offered": [], "alpn": null, "resumed": false,
        "client_cert_requested": mutual, "mutual": mutual, "mutual_evidence": null,
        "mutual_unknown_reason": null, "mutual_inference": null, "server_chain": chain,
        "client_chain": [], "certificates_encrypted": cert.is_none(), "ja4": null,
        "versions_offered": [], "hello_retry_request": false, "starttls": false, "alerts": [],
        "record_version": null, "notes": []});
    f
}

/// A finding of `rule` about the flow `f`, bearing on `controls`.
fn finding(rule: &str, f: &Value, controls: &[&str], waived: bool) -> Value {
    let ep = |e: &Value| format!("{}:{}", e["ip"].as_str().unwrap(), e["port"]);
    let subject =
        json!({"role": "server", "endpoint": ep(&f["server"]), "pod": null, "node": null});
    json!({"rule": rule, "severity": "high",
        "flow": {"client": ep(&f["client"]), "server": ep(&f["server"]), "first_seen": f["first_seen"]},
        "occurrences": 1, "last_seen": f["first_seen"], "subject": subject, "peer": subject,
        "message": format!("{rule} here"), "evidence": {}, "remediation": "fix it",
        "controls": controls,
        "waived": if waived { json!({"index": 0, "reason": "accepted", "expires": "2027-01-01"}) } else { Value::Null }})
}

fn control<'a>(c: &'a super::Compliance, reference: &str) -> &'a ControlResult {
    c.frameworks
        .iter()
        .flat_map(|f| &f.controls)
        .find(|k| k.reference == reference)
        .unwrap_or_else(|| panic!("no {reference}"))
}

const PCI_421: &str = "PCI DSS 4.0.1 4.2.1";
const PLAINTEXT_CONTROLS: [&str; 3] = [PCI_421, "HIPAA 164.312(e)(1)", "HIPAA 164.312(e)(2)(ii)"];

#[test]
fn nothing_seen_is_not_applicable() {
    let c = evaluate(&report(vec![], vec![]), &["pci-dss-4.0.1,hipaa"]).unwrap();
    assert_eq!(c.frameworks.len(), 2);
    for k in c.frameworks.iter().flat_map(|f| &f.controls) {
        assert_eq!(k.status, Status::NotApplicable, "{}", k.reference);
        assert!(!k.caveat.is_empty() && !k.how_decided.is_empty());
    }
    assert_eq!(c.frameworks[0].counts["not-applicable"], 5);
}

#[test]
fn internal_plaintext_needs_review_public_plaintext_fails_pci() {
    let internal = flow(1, "10.0.0.2", 80, "plaintext", Some("http/1.1"));
    let f = finding("TA-PLAINTEXT", &internal, &PLAINTEXT_CONTROLS, false);
    let c = evaluate(&report(vec![internal], vec![f]), &["pci-dss", "hipaa"]).unwrap();
    let pci = control(&c, PCI_421);
    assert_eq!(pci.status, Status::NeedsReview);
    assert!(pci.caveat.contains("open, public networks"));
    assert_eq!(pci.evidence[0].finding, Some(0));
    assert_eq!(pci.evidence[0].flows, [0]);
    assert_eq!(control(&c, "HIPAA 164.312(e)(1)").status, Status::Fail);
    // Addressable: never worse than needs review.
    let enc = control(&c, "HIPAA 164.312(e)(2)(ii)");
    assert_eq!(enc.status, Status::NeedsReview);
    assert!(enc.caveat.contains("Addressable"));
    assert_eq!(
        control(&c, "PCI DSS 4.0.1 8.3.2").status,
        Status::NeedsReview
    );

    let public = flow(1, "203.0.113.5", 80, "plaintext", Some("http/1.1"));
    let f = finding("TA-PLAINTEXT", &public, &PLAINTEXT_CONTROLS, false);
    let c = evaluate(
        &report(vec![tls_flow(0, true, None), public], vec![f]),
        &["pci-dss-4.0.1"],
    )
    .unwrap();
    let pci = control(&c, PCI_421);
    assert_eq!(pci.status, Status::Fail);
    assert_eq!(pci.evidence[0].effect, Status::Fail);
    assert_eq!(pci.evidence[0].flows, [1], "the flow index in the report");
}

#[test]
fn waived_findings_need_review() {
    let public = flow(1, "203.0.113.5", 80, "plaintext", Some("http/1.1"));
    let f = finding("TA-PLAINTEXT", &public, &PLAINTEXT_CONTROLS, true);
    let c = evaluate(&report(vec![public], vec![f]), &["hipaa"]).unwrap();
    let k = control(&c, "HIPAA 164.312(e)(1)");
    assert_eq!(k.status, Status::NeedsReview);
    assert!(
        k.evidence[0]
            .reason
            .contains("waived until 2027-01-01: accepted")
    );
}

#[test]
fn administrative_access_by_port() {
    let c = evaluate(
        &report(
            vec![
                flow(1, "10.0.0.2", 22, "ssh", Some("ssh")),
                flow(2, "10.0.0.3", 10255, "plaintext", Some("http/1.1")),
            ],
            vec![],
        ),
        &["pci-dss-4.0.1"],
    )
    .unwrap();
    let k = control(&c, "PCI DSS 4.0.1 2.2.7");
    assert_eq!(k.status, Status::Fail);
    assert_eq!(k.in_scope.flows, 2);
    assert_eq!(k.evidence[0].flows, [1]);
    assert!(
        k.evidence[0].reason.contains("port 10255"),
        "{}",
        k.evidence[0].reason
    );

    let c = evaluate(
        &report(vec![flow(1, "10.0.0.2", 22, "ssh", Some("ssh"))], vec![]),
        &["pci-dss-4.0.1"],
    )
    .unwrap();
    let k = control(&c, "PCI DSS 4.0.1 2.2.7");
    assert_eq!(k.status, Status::Pass);
    assert_eq!(k.evidence[0].flows, [0]);
}

#[test]
fn authentication_factors_by_protocol() {
    let c = evaluate(
        &report(
            vec![
                flow(1, "10.0.0.2", 21, "plaintext", Some("ftp")),
                flow(2, "10.0.0.2", 6379, "plaintext", Some("redis")),
                flow(3, "10.0.0.2", 53, "plaintext", Some("dns")),
            ],
            vec![],
        ),
        &["pci-dss-4.0.1"],
    )
    .unwrap();
    let k = control(&c, "PCI DSS 4.0.1 8.3.2");
    assert_eq!(k.status, Status::Fail);
    let effects: Vec<(Status, Vec<u64>)> = k
        .evidence
        .iter()
        .map(|e| (e.effect, e.flows.clone()))
        .collect();
    assert_eq!(
        effects,
        [(Status::Fail, vec![0]), (Status::NeedsReview, vec![1])],
        "DNS carries no login"
    );

    let c = evaluate(
        &report(vec![tls_flow(1, true, Some("ab"))], vec![]),
        &["pci-dss-4.0.1"],
    )
    .unwrap();
    assert_eq!(control(&c, "PCI DSS 4.0.1 8.3.2").status, Status::Pass);
}

#[test]
fn protocols_in_use_are_listed_for_review_never_passed() {
    let mut weak = tls_flow(3, true, Some("cc33"));
    weak["tls"]["version"] = json!("TLS1.0");
    weak["tls"]["cipher_suite"] = json!("TLS_RSA_WITH_AES_128_CBC_SHA");
    weak["tls"]["key_exchange"] = json!({
        "method": "rsa", "group": null, "group_id": null, "group_kind": null,
        "group_bits": null, "group_source": null, "explicit_curve": false,
        "post_quantum": false, "forward_secrecy": false, "unknown_reason": null,
        "signature_scheme": null, "signature_source": null, "hello_retry_group": null,
        "groups_offered": [], "key_shares_offered": [], "pq_offered": false,
        "ech_offered": false, "ech_accepted": null
    });
    let mut finding = finding("TA-TLS-VERSION", &weak, &[PCI_421], false);
    finding["evidence"] = json!({"version": "TLS1.0"});
    let c = evaluate(
        &report(
            vec![
                tls_flow(1, true, Some("aa11")),
                tls_flow(2, true, Some("aa11")),
                weak,
            ],
            vec![finding],
        ),
        &["pci-dss-4.0.1"],
    )
    .unwrap();
    let k = control(&c, "PCI DSS 4.0.1 12.3.3");
    assert_eq!(k.status, Status::NeedsReview);
    assert_eq!(k.in_scope.flows, 3);
    let reasons: Vec<&str> = k.evidence.iter().map(|e| e.reason.as_str()).collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(
        reasons[0].starts_with(
            "TLS1.0 with TLS_RSA_WITH_AES_128_CBC_SHA, key exchange rsa, on 1 TLS flow; flagged by TA-TLS-VERSION"
        ),
        "{reasons:?}"
    );
    assert!(
        reasons[1].starts_with("TLS1.3 with not seen, key exchange not seen, on 2 TLS flows:"),
        "{reasons:?}"
    );
    assert_eq!(k.evidence[1].flows, [0, 1]);
    // Its source is the official document, not notes.
    assert!(
        k.source.contains("PCI Security Standards Council"),
        "{}",
        k.source
    );
    assert!(
        k.source.contains("https://www.pcisecuritystandards.org/"),
        "{}",
        k.source
    );
}

#[test]
fn every_control_cites_its_official_document() {
    let c = evaluate(&report(vec![], vec![]), &["pci-dss-4.0.1,hipaa"]).unwrap();
    assert!(
        !c.about.contains("shared/") && !c.about.contains("reference notes"),
        "{}",
        c.about
    );
    for k in c.frameworks.iter().flat_map(|f| &f.controls) {
        assert!(!k.source.contains("shared/"), "{}", k.source);
        assert!(k.source.contains("https://"), "{}", k.source);
        let url = if k.reference.starts_with("HIPAA") {
            "https://www.ecfr.gov/current/title-45/"
        } else {
            "https://www.pcisecuritystandards.org/document_library/"
        };
        assert!(k.source.contains(url), "{}", k.source);
        assert!(k.source.contains(&k.id), "{}: {}", k.id, k.source);
    }
}

#[test]
fn certificate_inventory_lists_what_was_seen() {
    let c = evaluate(
        &report(
            vec![
                tls_flow(1, true, Some("aa11")),
                tls_flow(2, false, Some("bb22")),
            ],
            vec![],
        ),
        &["pci-dss-4.0.1"],
    )
    .unwrap();
    let k = control(&c, "PCI DSS 4.0.1 4.2.1.1");
    assert_eq!(k.status, Status::Pass);
    assert_eq!(k.in_scope.certificates, 2);
    assert_eq!(k.evidence[0].certificates, ["aa11", "bb22"]);

    let c = evaluate(
        &report(
            vec![tls_flow(1, true, Some("aa11")), tls_flow(2, true, None)],
            vec![],
        ),
        &["pci-dss-4.0.1"],
    )
    .unwrap();
    let k = control(&c, "PCI DSS 4.0.1 4.2.1.1");
    assert_eq!(k.status, Status::NeedsReview);
    assert_eq!(k.evidence[0].flows, [1]);
}

#[test]
fn mutual_tls_coverage_decides_entity_authentication() {
    let ok = tls_flow(1, true, None);
    let c = evaluate(&report(vec![ok.clone()], vec![]), &["hipaa"]).unwrap();
    let k = control(&c, "HIPAA 164.312(d)");
    assert_eq!(k.status, Status::Pass);
    assert!(k.summary.contains("Mutual TLS on 1 of 1"), "{}", k.summary);

    let no = tls_flow(2, false, None);
    let f = finding("TA-NO-MTLS", &no, &["HIPAA 164.312(d)", PCI_421], false);
    let c = evaluate(&report(vec![ok, no], vec![f]), &["hipaa"]).unwrap();
    let k = control(&c, "HIPAA 164.312(d)");
    assert_eq!(k.status, Status::Fail);
    assert_eq!(
        (k.evidence[0].rule.as_deref(), &k.evidence[0].flows[..]),
        (Some("TA-NO-MTLS"), &[1u64][..])
    );
}

#[test]
fn unknown_framework_lists_the_known_ones() {
    let err = evaluate(&report(vec![], vec![]), &["pci-dss-4.0.1,soc2"]).unwrap_err();
    assert_eq!(
        err,
        ComplianceError::UnknownFramework {
            name: "soc2".into(),
            known: vec!["pci-dss-4.0.1".into(), "hipaa".into()]
        }
    );
    assert!(err.to_string().contains("known: pci-dss-4.0.1, hipaa"));
}

/// Issue 22: a capture read only in part (damaged, cut, stopped at the gzip
/// decompression cap) cannot let a control pass on the traffic it did show.
#[test]
fn an_incomplete_input_needs_review_not_pass() {
    let mut r = report(vec![tls_flow(0, true, Some("ab"))], vec![]);
    let c = evaluate(&r, &["hipaa"]).unwrap();
    assert_eq!(control(&c, "HIPAA 164.312(e)(1)").status, Status::Pass);
    r.inputs = serde_json::from_value(json!([{"name": "bomb.pcap.gz", "format": "pcap",
        "packets": 7, "complete": false}]))
    .unwrap();
    let c = evaluate(&r, &["hipaa"]).unwrap();
    let k = control(&c, "HIPAA 164.312(e)(1)");
    assert_eq!(k.status, Status::NeedsReview);
    assert!(
        k.evidence[0]
            .reason
            .contains("bomb.pcap.gz was read only in part")
    );
}
