//! Probe records (`source: probe`) through the verifier: plaintext answers
//! are TA-PLAINTEXT-ACCEPTED (never TA-PLAINTEXT), optional client
//! authentication is TA-MTLS-OPTIONAL, records read only up to the
//! ServerHello say nothing about mutual TLS, and under `pod-to-pod` a probed
//! server is in scope when it is a pod (the probe's client never is).

use crate::model::report::FlowSource;

use super::*;

/// A probe flow from tls-audit (10.9.9.9, not a pod) to the api pod.
fn probe(protection: &str) -> FlowRecord {
    let mut f = flow(protection, ("10.9.9.9", 50000), ("10.0.0.2", 443));
    f.source = FlowSource::Probe;
    f.role_source = crate::model::RoleSource::Probe;
    f
}

fn probe_tls(edit: impl FnOnce(&mut FlowTls)) -> FlowRecord {
    let mut f = probe("tls");
    let mut t = tls();
    edit(&mut t);
    f.tls = Some(Box::new(t));
    f
}

#[test]
fn an_answered_plaintext_request_is_plaintext_accepted() {
    let c = Run::default().go(vec![probe("plaintext")]);
    let f = only(&c, "TA-PLAINTEXT-ACCEPTED");
    assert_eq!(f.evidence["source"], "probe");
    assert_eq!(f.evidence["app_protocol"], "http/1.1");
    assert!(
        f.message
            .starts_with("answers a plaintext request (http/1.1)"),
        "{}",
        f.message
    );
    assert!(!rules(&c).contains(&"TA-PLAINTEXT"));
    // Not named: still accepted, not TA-ENCRYPTION-UNKNOWN.
    let c = Run::default().go(vec![probe("unknown")]);
    assert_eq!(rules(&c), ["TA-PLAINTEXT-ACCEPTED"]);
    // Exempted like TA-PLAINTEXT.
    let c = Run::policy("plaintext:\n  exempt: [{name: web, ports: [443]}]\n")
        .go(vec![probe("plaintext")]);
    assert_eq!(rules(&c), Vec::<&str>::new());
}

#[test]
fn optional_client_authentication() {
    let optional = probe_tls(|t| {
        t.mutual = Some(false);
        t.mutual_evidence = Some("probe-accepted-without-certificate".into());
        t.client_cert_requested = Some(true);
    });
    // pod-to-pod: the server is a pod, the client (tls-audit) is not.
    let c = Run::default().go(vec![optional.clone()]);
    let f = only(&c, "TA-MTLS-OPTIONAL");
    assert_eq!(f.evidence["basis"], "probe-accepted-without-certificate");
    assert_eq!(f.evidence["client_cert_requested"], true);
    assert!(
        f.message.contains("requested but not required"),
        "{}",
        f.message
    );
    // Not asked at all: TA-NO-MTLS.
    let none = probe_tls(|t| {
        t.mutual = Some(false);
        t.mutual_evidence = Some("probe-accepted-without-certificate".into());
        t.client_cert_requested = Some(false);
    });
    let c = Run::default().go(vec![none]);
    assert_eq!(rules(&c), ["TA-NO-MTLS"]);
    // Refused without a certificate: nothing.
    let required = probe_tls(|t| {
        t.mutual = Some(true);
        t.mutual_evidence = Some("probe-refused-without-certificate".into());
    });
    assert_eq!(
        rules(&Run::default().go(vec![required])),
        Vec::<&str>::new()
    );
    // mtls.require none: nothing either.
    let c = Run::policy("mtls:\n  require: none\n").go(vec![optional]);
    assert_eq!(rules(&c), Vec::<&str>::new());
}

#[test]
fn server_hello_only_records_say_nothing_about_mutual_tls() {
    let legacy = probe_tls(|t| {
        t.version = Some("TLS1.0".into());
        t.cipher_suite = Some("TLS_RSA_WITH_AES_128_CBC_SHA".into());
        t.mutual = None;
        t.mutual_evidence = None;
        t.mutual_unknown_reason = Some("handshake-incomplete".into());
        t.client_cert_requested = None;
    });
    let c = Run::policy("mtls:\n  require: all\n").go(vec![legacy]);
    let mut r = rules(&c);
    r.sort_unstable();
    assert_eq!(r, ["TA-TLS-VERSION", "TA-WEAK-CIPHER"]);
}

#[test]
fn a_probed_server_that_is_not_a_pod_is_out_of_pod_to_pod_scope() {
    let mut f = probe_tls(|t| {
        t.mutual = Some(false);
        t.mutual_evidence = Some("probe-accepted-without-certificate".into());
        t.client_cert_requested = Some(false);
    });
    f.server.ip = "10.9.9.8".into();
    assert_eq!(rules(&Run::default().go(vec![f])), Vec::<&str>::new());
}
