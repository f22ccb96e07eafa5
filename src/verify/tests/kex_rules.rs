//! The key-exchange rules on flow records: classical key exchange is info
//! unless the policy requires post-quantum for the flow (by namespace); a
//! server that declined an offered hybrid is named; RSA key transport and
//! PSK-only resumption lack forward secrecy; weak DHE and small curves are
//! TA-WEAK-KEX; unknown key exchange is "not checked", never a verdict.

use crate::model::report::{KeyExchangeRecord, Severity};

use super::*;

fn kex(edit: impl FnOnce(&mut KeyExchangeRecord)) -> FlowRecord {
    tls_flow(|t| {
        let mut k = KeyExchangeRecord {
            method: Some("ecdhe".into()),
            group: Some("x25519".into()),
            group_id: Some(29),
            group_kind: Some("ec".into()),
            group_bits: Some(256),
            group_source: Some("server-hello".into()),
            post_quantum: Some(false),
            forward_secrecy: Some(true),
            groups_offered: vec!["x25519".into(), "secp256r1".into()],
            key_shares_offered: vec!["x25519".into()],
            pq_offered: Some(false),
            ..KeyExchangeRecord::default()
        };
        edit(&mut k);
        t.version = Some("TLS1.3".into());
        t.cipher_suite = Some("TLS_AES_128_GCM_SHA256".into());
        t.key_exchange = Some(k);
    })
}

fn hybrid(k: &mut KeyExchangeRecord) {
    k.method = Some("hybrid".into());
    k.group = Some("X25519MLKEM768".into());
    k.group_id = Some(0x11ec);
    k.group_kind = Some("hybrid".into());
    k.post_quantum = Some(true);
    k.pq_offered = Some(true);
}

#[test]
fn classical_key_exchange_is_info_and_a_hybrid_is_nothing() {
    let c = Run::default().go(vec![kex(|_| {})]);
    let f = only(&c, "TA-KEX-NOT-PQ");
    assert_eq!(f.severity, Severity::Info);
    assert_eq!(f.evidence["server_declined_pq"], false);
    assert!(f.message.contains("neither side offered"), "{}", f.message);
    let c = Run::default().go(vec![kex(hybrid)]);
    assert_eq!(rules(&c), Vec::<&str>::new());
}

#[test]
fn a_server_that_declines_an_offered_hybrid_is_named() {
    let declined = kex(|k| {
        k.groups_offered.insert(0, "X25519MLKEM768".into());
        k.key_shares_offered.insert(0, "X25519MLKEM768".into());
        k.pq_offered = Some(true);
    });
    let c = Run::default().go(vec![declined]);
    let f = only(&c, "TA-KEX-NOT-PQ");
    assert_eq!(f.evidence["server_declined_pq"], true);
    assert_eq!(f.evidence["pq_groups_offered"], json!(["X25519MLKEM768"]));
    assert!(
        f.message.contains("the server is the one to upgrade"),
        "{}",
        f.message
    );
    assert_eq!(f.subject.role, "server");
}

#[test]
fn policy_raises_not_pq_for_chosen_namespaces_only() {
    let yaml = "key_exchange:\n  post_quantum_required: [{name: payments, namespaces: [pay]}]\n  post_quantum_severity: high\n";
    // The api pod (pay) serves: raised.
    let c = Run::policy(yaml).go(vec![kex(|_| {})]);
    let f = only(&c, "TA-KEX-NOT-PQ");
    assert_eq!(f.severity, Severity::High);
    assert_eq!(f.evidence["post_quantum_required_by"], "payments");
    // The frontend (web) serves: stays info.
    let mut other = kex(|_| {});
    std::mem::swap(&mut other.client, &mut other.server);
    let c = Run::policy(yaml).go(vec![other]);
    assert_eq!(only(&c, "TA-KEX-NOT-PQ").severity, Severity::Info);
    // A hybrid satisfies the requirement.
    assert!(Run::policy(yaml).go(vec![kex(hybrid)]).findings.is_empty());
}

#[test]
fn no_forward_secrecy() {
    let rsa = kex(|k| {
        *k = KeyExchangeRecord {
            method: Some("rsa".into()),
            post_quantum: Some(false),
            forward_secrecy: Some(false),
            pq_offered: Some(false),
            ..KeyExchangeRecord::default()
        };
    });
    let c = Run::default().go(vec![rsa]);
    let f = only(&c, "TA-NO-FORWARD-SECRECY");
    assert_eq!(f.severity, Severity::Medium);
    assert_eq!(f.evidence["basis"], "cipher-suite");
    assert!(f.message.contains("RSA key transport"), "{}", f.message);
    let psk = kex(|k| {
        *k = KeyExchangeRecord {
            method: Some("psk".into()),
            post_quantum: Some(false),
            forward_secrecy: Some(false),
            ..KeyExchangeRecord::default()
        };
    });
    let c = Run::default().go(vec![psk]);
    assert_eq!(
        only(&c, "TA-NO-FORWARD-SECRECY").evidence["basis"],
        "server-hello-without-key-share"
    );
}

#[test]
fn weak_groups() {
    let dhe = |bits: u32| {
        kex(move |k| {
            k.method = Some("dhe".into());
            k.group = None;
            k.group_id = None;
            k.group_kind = Some("ff".into());
            k.group_bits = Some(bits);
            k.group_source = Some("server-key-exchange".into());
        })
    };
    assert!(!rules(&Run::default().go(vec![dhe(2048)])).contains(&"TA-WEAK-KEX"));
    let c = Run::default().go(vec![dhe(1024)]);
    assert_eq!(only(&c, "TA-WEAK-KEX").severity, Severity::High);
    let c = Run::default().go(vec![dhe(768)]);
    assert_eq!(only(&c, "TA-WEAK-KEX").severity, Severity::Critical);
    // The threshold is policy.
    let c = Run::policy("key_exchange:\n  min_dh_bits: 3072\n").go(vec![dhe(2048)]);
    assert_eq!(only(&c, "TA-WEAK-KEX").evidence["min_dh_bits"], 3072);
    let small = kex(|k| {
        k.group = Some("secp224r1".into());
        k.group_id = Some(21);
        k.group_bits = Some(224);
    });
    let c = Run::default().go(vec![small]);
    assert!(only(&c, "TA-WEAK-KEX").message.contains("224-bit curve"));
    let explicit = kex(|k| {
        k.group = Some("arbitrary_explicit_prime_curves".into());
        k.group_bits = None;
        k.explicit_curve = true;
    });
    let c = Run::default().go(vec![explicit]);
    assert!(only(&c, "TA-WEAK-KEX").message.contains("explicit curve"));
}

#[test]
fn unknown_key_exchange_is_not_checked() {
    let unknown = kex(|k| {
        *k = KeyExchangeRecord {
            unknown_reason: Some("handshake-not-seen".into()),
            ..KeyExchangeRecord::default()
        };
    });
    let c = Run::default().go(vec![unknown]);
    assert!(
        !rules(&c)
            .iter()
            .any(|r| ["TA-KEX-NOT-PQ", "TA-NO-FORWARD-SECRECY", "TA-WEAK-KEX"].contains(r))
    );
    let nc: Vec<(&str, &str, u64)> = c
        .not_checked
        .iter()
        .filter(|n| n.rule.starts_with("TA-KEX") || n.rule.starts_with("TA-NO-FORWARD"))
        .map(|n| (n.rule.as_str(), n.reason.as_str(), n.flows))
        .collect();
    assert_eq!(
        nc,
        [
            ("TA-KEX-NOT-PQ", "handshake-not-seen", 1),
            ("TA-NO-FORWARD-SECRECY", "handshake-not-seen", 1)
        ]
    );
}
