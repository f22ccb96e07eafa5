//! Every rule, positive and negative, through the real verifier: flow
//! records as the engine writes them, certificates issued here with rcgen
//! (and, for what rcgen cannot make, OpenSSL), a pod snapshot as kubectl
//! writes it.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType,
};
use serde_json::json;

use super::chain::TrustBundle;
use super::chain::tests::pem_block;
use super::policy::Policy;
use super::{Collected, Verifier, parse_time};
use crate::inventory::Inventory;
use crate::model::report::{FlowRecord, FlowTls, Severity};
use crate::x509::Certificate;

/// Flows are captured at 11:00; the pods started at 10:00.
const CAPTURED: &str = "2026-11-27T11:00:00.000000Z";

fn at(s: &str) -> i64 {
    parse_time(s).unwrap()
}

fn pods() -> Inventory {
    let pod = |ns: &str, name: &str, sa: &str, ip: &str, host: bool| {
        json!({
            "metadata": {"name": name, "namespace": ns, "labels": {"app": name}},
            "spec": {"serviceAccountName": sa, "nodeName": "node-1", "hostNetwork": host},
            "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                       "startTime": "2026-11-27T10:00:00Z"}
        })
    };
    let list = json!({"kind": "List", "items": [
        pod("web", "frontend", "frontend", "10.0.0.1", false),
        pod("pay", "api", "api", "10.0.0.2", false),
        pod("kube-system", "aws-node", "aws-node", "10.0.0.10", true),
    ]});
    Inventory::from_json(Some(list.to_string().as_bytes()), None).unwrap()
}

fn flow(protection: &str, client: (&str, u16), server: (&str, u16)) -> FlowRecord {
    serde_json::from_value(json!({
        "transport": "tcp",
        "client": {"ip": client.0, "port": client.1},
        "server": {"ip": server.0, "port": server.1},
        "role_source": "syn", "first_seen": CAPTURED, "last_seen": CAPTURED,
        "packets": 10, "bytes": 1000, "protection": protection,
        "app_protocol": if protection == "plaintext" { Some("http/1.1") } else { None },
        "tls": null, "tcp": null, "inside": null, "ended_by": null, "truncated": false
    }))
    .unwrap()
}

fn tls() -> FlowTls {
    serde_json::from_value(json!({
        "handshake_seen": true, "version": "TLS1.2",
        "cipher_suite": "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "sni": null,
        "alpn_offered": [], "alpn": null, "resumed": false, "client_cert_requested": true,
        "mutual": true, "mutual_evidence": "observed-client-certificate",
        "mutual_unknown_reason": null, "mutual_inference": null,
        "server_chain": [], "client_chain": [], "certificates_encrypted": false, "ja4": null,
        "versions_offered": ["TLS1.2"], "hello_retry_request": false, "starttls": false,
        "alerts": [], "record_version": null, "notes": []
    }))
    .unwrap()
}

/// A TLS flow from the frontend pod to the api pod.
fn tls_flow(edit: impl FnOnce(&mut FlowTls)) -> FlowRecord {
    let mut f = flow("tls", ("10.0.0.1", 40000), ("10.0.0.2", 443));
    let mut t = tls();
    edit(&mut t);
    f.tls = Some(Box::new(t));
    f
}

struct Run {
    policy: Policy,
    inventory: Option<Inventory>,
    bundle: Option<TrustBundle>,
    now: i64,
}

impl Default for Run {
    fn default() -> Self {
        Run {
            policy: Policy::default(),
            inventory: Some(pods()),
            bundle: None,
            now: at("2026-11-27T12:00:00Z"),
        }
    }
}

impl Run {
    fn policy(yaml: &str) -> Self {
        Run {
            policy: Policy::from_yaml(&format!("version: 1\n{yaml}")).unwrap(),
            ..Run::default()
        }
    }

    fn go(self, flows: Vec<FlowRecord>) -> Collected {
        let mut v = Verifier::new(self.policy, self.inventory, self.bundle, self.now);
        for mut f in flows {
            v.flow(&mut f);
        }
        v.finish().2
    }
}

fn rules(c: &Collected) -> Vec<&str> {
    c.findings.iter().map(|f| f.rule.as_str()).collect()
}

fn only<'a>(c: &'a Collected, rule: &str) -> &'a crate::model::report::Finding {
    let found: Vec<_> = c.findings.iter().filter(|f| f.rule == rule).collect();
    assert_eq!(found.len(), 1, "{rule} in {:?}", rules(c));
    found[0]
}

// ---- certificates -------------------------------------------------------

type Ca = CertifiedIssuer<'static, KeyPair>;

fn ca(cn: &str) -> Ca {
    let mut p = CertificateParams::default();
    p.distinguished_name = dn(cn);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    CertifiedIssuer::self_signed(p, KeyPair::generate().unwrap()).unwrap()
}

fn dn(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn
}

fn cert_of(der: &[u8]) -> Arc<Certificate> {
    Arc::new(Certificate {
        der: Some(Arc::from(der)),
        ..Certificate::from_der(der)
    })
}

/// A workload leaf: SPIFFE `uris`, digitalSignature, both EKUs, valid
/// from `from` to `to` (RFC 3339), issued by `issuer`.
#[derive(Clone)]
struct Leaf<'a> {
    uris: Vec<&'a str>,
    from: &'a str,
    to: &'a str,
    ca_flag: bool,
    usages: Vec<KeyUsagePurpose>,
}

impl Default for Leaf<'_> {
    fn default() -> Self {
        Leaf {
            uris: vec!["spiffe://cluster.local/ns/pay/sa/api"],
            from: "2026-11-27T09:00:00Z",
            to: "2026-11-28T09:00:00Z",
            ca_flag: false,
            usages: vec![
                KeyUsagePurpose::DigitalSignature,
                KeyUsagePurpose::KeyEncipherment,
            ],
        }
    }
}

impl Leaf<'_> {
    fn issue(&self, issuer: &Ca) -> Arc<Certificate> {
        let mut p = CertificateParams::default();
        p.distinguished_name = dn("workload");
        p.subject_alt_names = self
            .uris
            .iter()
            .map(|u| SanType::URI((*u).try_into().unwrap()))
            .collect();
        p.is_ca = if self.ca_flag {
            IsCa::Ca(BasicConstraints::Unconstrained)
        } else {
            IsCa::ExplicitNoCa
        };
        p.key_usages.clone_from(&self.usages);
        p.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        p.not_before = time::OffsetDateTime::from_unix_timestamp(at(self.from)).unwrap();
        p.not_after = time::OffsetDateTime::from_unix_timestamp(at(self.to)).unwrap();
        let cert = p
            .signed_by(&KeyPair::generate().unwrap(), &**issuer)
            .unwrap();
        cert_of(cert.der())
    }
}

/// Server chain leaf + CA, a good 24 h api SVID unless edited.
fn served(leaf: Leaf<'_>) -> FlowRecord {
    let root = ca("Mesh Root");
    let chain = vec![leaf.issue(&root), cert_of(root.der())];
    tls_flow(|t| {
        t.server_chain = chain;
    })
}

// ---- flow rules ---------------------------------------------------------

#[test]
fn sound_mutual_tls_between_pods_has_no_findings() {
    let c = Run::default().go(vec![served(Leaf::default())]);
    assert_eq!(rules(&c), Vec::<&str>::new());
    assert!(c.not_checked.is_empty(), "{:?}", c.not_checked);
}

#[test]
fn plaintext() {
    let c = Run::default().go(vec![flow("plaintext", ("10.0.0.1", 1), ("10.0.0.2", 80))]);
    let f = only(&c, "TA-PLAINTEXT");
    assert_eq!(f.severity, Severity::High);
    assert_eq!(f.subject.pod.as_ref().unwrap().name, "api");
    assert_eq!(f.peer.pod.as_ref().unwrap().namespace, "web");
    assert_eq!(f.evidence["app_protocol"], "http/1.1");
    assert!(f.message.contains("http/1.1 in cleartext"), "{}", f.message);
    assert_eq!(
        f.controls,
        [
            "PCI DSS 4.0.1 4.2.1",
            "HIPAA 164.312(e)(1)",
            "HIPAA 164.312(e)(2)(ii)"
        ]
    );

    // No payload: nothing was sent in the clear.
    let mut empty = flow("plaintext", ("10.0.0.1", 1), ("10.0.0.2", 80));
    empty.bytes = 0;
    // DNS is exempt by default, and counted.
    let dns = flow("plaintext", ("10.0.0.1", 2), ("10.0.0.53", 53));
    let c = Run::default().go(vec![empty, dns]);
    assert_eq!(rules(&c), Vec::<&str>::new());
    assert_eq!(c.exempted.len(), 1);
    assert_eq!(
        (c.exempted[0].exemption.as_str(), c.exempted[0].flows),
        ("dns", 1)
    );
}

#[test]
fn encryption_unknown() {
    let c = Run::default().go(vec![flow("unknown", ("10.0.0.1", 1), ("10.0.0.2", 9000))]);
    assert_eq!(rules(&c), ["TA-ENCRYPTION-UNKNOWN"]);
    let c = Run::default().go(vec![flow("ipsec", ("10.0.0.1", 1), ("10.0.0.2", 9000))]);
    assert_eq!(rules(&c), Vec::<&str>::new());
}

#[test]
fn no_mtls_between_pods() {
    let observed = tls_flow(|t| {
        t.mutual = Some(false);
        t.mutual_evidence = Some("observed-no-certificate-request".into());
        t.client_cert_requested = Some(false);
    });
    let c = Run::default().go(vec![observed.clone()]);
    let f = only(&c, "TA-NO-MTLS");
    assert_eq!(f.evidence["inferred"], false);
    assert!(f.message.contains("(observed)"));

    // From the node (host network: kubelet probes) is not pod-to-pod.
    let mut from_node = observed.clone();
    from_node.client.ip = "10.0.0.10".into();
    // To an address that is no pod.
    let mut to_outside = observed.clone();
    to_outside.server.ip = "192.0.2.7".into();
    let c = Run::default().go(vec![from_node, to_outside]);
    assert_eq!(rules(&c), Vec::<&str>::new());

    // `require: all` reaches them; `none` reaches nothing.
    let mut to_outside = observed.clone();
    to_outside.server.ip = "192.0.2.7".into();
    let c = Run::policy("mtls: {require: all}").go(vec![to_outside.clone()]);
    assert_eq!(rules(&c), ["TA-NO-MTLS"]);
    let c = Run::policy("mtls: {require: none}").go(vec![observed.clone()]);
    assert_eq!(rules(&c), Vec::<&str>::new());

    // Scope and exemptions narrow it; exemptions are counted.
    let c = Run::policy("mtls: {scope: {namespaces: [other]}}").go(vec![observed.clone()]);
    assert_eq!(rules(&c), Vec::<&str>::new());
    let c =
        Run::policy("mtls: {exempt: [{name: legacy, ports: [443]}]}").go(vec![observed.clone()]);
    assert_eq!(rules(&c), Vec::<&str>::new());
    assert_eq!(c.exempted[0].exemption, "legacy");
}

#[test]
fn no_mtls_without_a_snapshot_says_it_could_not_check() {
    let observed = tls_flow(|t| t.mutual = Some(false));
    let run = Run {
        inventory: None,
        ..Run::default()
    };
    let c = run.go(vec![observed]);
    assert_eq!(rules(&c), Vec::<&str>::new());
    assert!(
        c.not_checked
            .iter()
            .any(|n| n.rule == "TA-NO-MTLS" && n.reason == "no-inventory" && n.flows == 1)
    );
}

#[test]
fn an_inferred_verdict_says_so() {
    let inferred = tls_flow(|t| {
        t.version = Some("TLS1.3".into());
        t.cipher_suite = Some("TLS_AES_128_GCM_SHA256".into());
        t.mutual = Some(false);
        t.mutual_evidence = Some("encrypted-flight-size".into());
        t.certificates_encrypted = true;
    });
    let c = Run::default().go(vec![inferred]);
    let f = only(&c, "TA-NO-MTLS");
    assert_eq!(f.evidence["inferred"], true);
    assert_eq!(f.evidence["basis"], "encrypted-flight-size");
    assert!(f.message.contains("inferred"));
    // The certificates were encrypted: every certificate rule says so.
    let encrypted: Vec<_> = c
        .not_checked
        .iter()
        .filter(|n| n.reason == "certificates-encrypted")
        .map(|n| n.rule.as_str())
        .collect();
    assert!(encrypted.contains(&"TA-CERT-EXPIRED") && encrypted.contains(&"TA-SVID-MISMATCH"));
}

#[test]
fn mtls_unknown() {
    let c = Run::default().go(vec![tls_flow(|t| {
        t.mutual = None;
        t.mutual_evidence = None;
        t.mutual_unknown_reason = Some("handshake-not-seen".into());
        t.version = None;
        t.cipher_suite = None;
    })]);
    let f = only(&c, "TA-MTLS-UNKNOWN");
    assert_eq!(f.evidence["reason"], "handshake-not-seen");
    assert_eq!(f.severity, Severity::Medium);
    // A client that offers post-handshake authentication (or pads every
    // record) gets no lesser finding than one that sends no certificate.
    for reason in ["post-handshake-auth", "flight-ambiguous"] {
        let c = Run::default().go(vec![tls_flow(|t| {
            t.mutual = None;
            t.mutual_evidence = None;
            t.mutual_unknown_reason = Some(reason.into());
        })]);
        assert_eq!(
            only(&c, "TA-MTLS-UNKNOWN").severity,
            Severity::High,
            "{reason}"
        );
    }
    assert!(c.not_checked.iter().any(|n| n.rule == "TA-TLS-VERSION"));
}

/// `mtls.evidence: observed`: an inferred yes is not enough, an observed
/// one is.
#[test]
fn observed_evidence_refuses_an_inferred_yes() {
    let inferred = tls_flow(|t| {
        t.mutual = Some(true);
        t.mutual_evidence = Some("encrypted-flight-size".into());
    });
    let observed = tls_flow(|t| {
        t.mutual = Some(true);
        t.mutual_evidence = Some("keylog-decrypted".into());
    });
    let strict = "mtls: {evidence: observed}";
    let c = Run::policy(strict).go(vec![inferred.clone()]);
    let f = only(&c, "TA-MTLS-UNKNOWN");
    assert_eq!(f.evidence["reason"], "inferred-only");
    assert_eq!(f.severity, Severity::High, "as TA-NO-MTLS");
    assert!(Run::policy(strict).go(vec![observed]).findings.is_empty());
    assert!(Run::default().go(vec![inferred]).findings.is_empty());
}

#[test]
fn tls_version() {
    let with = |v: &str| tls_flow(|t| t.version = Some(v.to_string().into()));
    let c = Run::default().go(vec![
        with("TLS1.0"),
        with("SSL3.0"),
        with("TLS1.2"),
        with("TLS1.3"),
    ]);
    let sev: Vec<_> = c
        .findings
        .iter()
        .map(|f| (f.evidence["version"].clone(), f.severity))
        .collect();
    assert_eq!(
        sev,
        [
            (json!("SSL3.0"), Severity::Critical),
            (json!("TLS1.0"), Severity::High)
        ]
    );
    let c = Run::policy("tls: {require_tls13: true}").go(vec![with("TLS1.2"), with("TLS1.3")]);
    assert_eq!(only(&c, "TA-TLS-VERSION").severity, Severity::Low);
    let c = Run::policy("tls: {min_version: TLS1.3}").go(vec![with("TLS1.2")]);
    assert_eq!(only(&c, "TA-TLS-VERSION").severity, Severity::High);
}

#[test]
fn weak_cipher() {
    let with = |s: &str| tls_flow(|t| t.cipher_suite = Some(s.to_string().into()));
    let c = Run::default().go(vec![with("TLS_RSA_WITH_3DES_EDE_CBC_SHA")]);
    let f = only(&c, "TA-WEAK-CIPHER");
    assert_eq!(f.severity, Severity::Medium);
    let ids: Vec<_> = f.evidence["weaknesses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["3des", "static-rsa", "cbc-sha1"]);
    let c = Run::default().go(vec![with("TLS_RSA_WITH_NULL_SHA256")]);
    assert_eq!(only(&c, "TA-WEAK-CIPHER").severity, Severity::Critical);
    let c = Run::default().go(vec![
        with("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"),
        with("0xeeee"),
    ]);
    assert_eq!(rules(&c), Vec::<&str>::new());
}

// ---- collection, waivers, severity --------------------------------------

#[test]
fn identical_findings_are_counted_once() {
    let a = flow("plaintext", ("10.0.0.1", 1), ("10.0.0.2", 80));
    let mut b = a.clone();
    b.client.port = 2;
    b.first_seen = crate::model::time::CaptureTime::parse("2026-11-27T11:30:00.000000Z").unwrap();
    let c = Run::default().go(vec![a, b]);
    let f = only(&c, "TA-PLAINTEXT");
    assert_eq!(f.occurrences, 2);
    assert_eq!(f.last_seen.to_string(), "2026-11-27T11:30:00.000000Z");
    assert_eq!(f.flow.client, "10.0.0.1:1");
}

#[test]
fn waivers_apply_until_they_expire() {
    let plain = || flow("plaintext", ("10.0.0.1", 1), ("10.0.0.2", 80));
    let policy = |expires: &str| {
        format!(
            "waivers:\n  - rule: TA-PLAINTEXT\n    match: {{namespaces: [pay], ports: [80]}}\n    reason: metrics port\n    expires: {expires}\n"
        )
    };
    let c = Run::policy(&policy("2026-12-31")).go(vec![plain()]);
    let f = only(&c, "TA-PLAINTEXT");
    assert_eq!(f.waived.as_ref().unwrap().reason, "metrics port");
    assert_eq!(
        (c.waivers[0].status.as_str(), c.waivers[0].matched),
        ("active", 1)
    );

    // The last day still counts; the day after does not.
    let mut run = Run::policy(&policy("2026-11-27"));
    run.now = at("2026-11-27T23:59:59Z");
    assert!(
        only(&run.go(vec![plain()]), "TA-PLAINTEXT")
            .waived
            .is_some()
    );
    let c = Run::policy(&policy("2026-11-26")).go(vec![plain()]);
    let f = only(&c, "TA-PLAINTEXT");
    assert!(f.waived.is_none());
    assert_eq!(f.evidence["expired_waiver"]["index"], 0);
    assert_eq!(c.waivers[0].status, "expired");

    // A waiver for other flows leaves this one alone.
    let c = Run::policy(&policy("2026-12-31").replace("[80]", "[8080]")).go(vec![plain()]);
    assert!(only(&c, "TA-PLAINTEXT").waived.is_none());
    assert_eq!(c.waivers[0].matched, 0);
}

#[test]
fn severity_overrides_and_the_gate() {
    let plain = flow("plaintext", ("10.0.0.1", 1), ("10.0.0.2", 80));
    let c = Run::policy("severity: {TA-PLAINTEXT: low}").go(vec![plain.clone()]);
    assert_eq!(only(&c, "TA-PLAINTEXT").severity, Severity::Low);
    let gate = |c: Collected, on: Severity| {
        let info = super::RunInfo {
            policy: crate::model::report::PolicySource {
                source: "test".into(),
                sha256: "0".repeat(64),
            },
            inventory: None,
            trust_bundle: None,
            now: 0,
            fail_on: Some(on),
        };
        super::conclude(c, info).0.gate.unwrap().as_str()
    };
    let low = || Run::policy("severity: {TA-PLAINTEXT: low}").go(vec![plain.clone()]);
    assert_eq!(gate(low(), Severity::Medium), "pass");
    assert_eq!(gate(low(), Severity::Low), "fail");
    let waived =
        Run::policy("waivers: [{rule: TA-PLAINTEXT, reason: accepted, expires: 2099-01-01}]")
            .go(vec![plain]);
    assert_eq!(gate(waived, Severity::Info), "pass");
}

#[test]
fn distinct_findings_are_bounded() {
    let mut flows = Vec::new();
    for i in 0..(super::MAX_FINDINGS + 10) {
        let ip = format!("10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255);
        flows.push(flow("plaintext", (&ip, 1), ("10.0.0.2", 80)));
    }
    let c = Run::default().go(flows);
    assert_eq!(c.findings.len(), super::MAX_FINDINGS);
    assert_eq!(c.dropped, 10);
}

#[test]
fn lifetime_is_about_workload_certificates_only() {
    // A 90-day certificate without a SPIFFE ID, served by the api pod.
    let ninety = Leaf {
        uris: vec![],
        from: "2026-11-01T00:00:00Z",
        to: "2027-01-30T00:00:00Z",
        ..Leaf::default()
    };
    // To another pod: a workload certificate, judged.
    let c = Run::default().go(vec![served(ninety.clone())]);
    assert_eq!(rules(&c), ["TA-CERT-LIFETIME"]);
    // To a client outside the cluster (an ingress pod's public certificate): not.
    let mut public = served(ninety);
    public.client.ip = "198.51.100.7".into();
    let c = Run::default().go(vec![public.clone()]);
    assert_eq!(rules(&c), Vec::<&str>::new());
    // Without a snapshot this cannot be told apart, and the report says so.
    let c = Run {
        inventory: None,
        ..Run::default()
    }
    .go(vec![public]);
    assert!(
        c.not_checked
            .iter()
            .any(|n| n.rule == "TA-CERT-LIFETIME" && n.reason == "no-inventory")
    );
}

#[test]
fn nodes_alone_name_no_pods() {
    let nodes = json!({"kind": "List", "items": [{
        "metadata": {"name": "node-1"},
        "status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.10"}]}
    }]});
    let inventory = Inventory::from_json(None, Some(nodes.to_string().as_bytes())).unwrap();
    let run = Run {
        inventory: Some(inventory),
        ..Run::default()
    };
    let c = run.go(vec![tls_flow(|t| t.mutual = Some(false))]);
    assert_eq!(rules(&c), Vec::<&str>::new());
    assert!(
        c.not_checked
            .iter()
            .any(|n| n.rule == "TA-NO-MTLS" && n.reason == "no-inventory")
    );
}

#[test]
fn one_leaf_with_two_chains_is_two_chain_findings() {
    let root = ca("Mesh Root");
    let leaf = Leaf::default().issue(&root);
    // The leaf sent with one unrelated certificate after it (twice), and
    // with another: two broken chains, each counted.
    let with =
        |extra: &Ca| tls_flow(|t| t.server_chain = vec![Arc::clone(&leaf), cert_of(extra.der())]);
    let (x, y) = (ca("Unrelated X"), ca("Unrelated Y"));
    let a = with(&x);
    let mut again = a.clone();
    again.client.port = 40001;
    let c = Run::default().go(vec![a, again, with(&y), served(Leaf::default())]);
    let chain: Vec<_> = c.findings.iter().filter(|f| f.rule == "TA-CHAIN").collect();
    assert_eq!(chain.len(), 2);
    assert_eq!(chain.iter().map(|f| f.occurrences).sum::<u64>(), 3);
    assert_eq!(chain[0].evidence["problems"][0]["kind"], "issuer-mismatch");
}

mod cert_rules;
mod kex_rules;
mod probe;
mod underlay;
