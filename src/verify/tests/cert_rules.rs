//! The certificate rules: validity at capture time, workload lifetime,
//! SVIDs, trust domains, chains, weak keys and signatures.

use super::*;

#[test]
fn validity_is_judged_at_capture_time() {
    // Valid today (27 Nov 2026) but expired when captured (Feb 2027).
    let leaf = Leaf {
        from: "2026-11-01T00:00:00Z",
        to: "2026-12-31T00:00:00Z",
        ..Leaf::default()
    };
    let mut late = served(leaf);
    late.first_seen = crate::model::time::CaptureTime::parse("2027-02-01T00:00:00Z").unwrap();
    let c = Run::policy("certificates: {max_workload_validity: 90d}").go(vec![late]);
    let f = only(&c, "TA-CERT-EXPIRED");
    assert_eq!(f.evidence["captured_at"], "2027-02-01T00:00:00Z");
    assert!(
        f.message.contains("expired 32d before the capture"),
        "{}",
        f.message
    );

    // Expired today, but valid when captured (an old capture): no finding.
    let leaf = Leaf {
        from: "2020-01-01T00:00:00Z",
        to: "2020-01-02T00:00:00Z",
        ..Leaf::default()
    };
    let mut old = served(leaf);
    old.first_seen = crate::model::time::CaptureTime::parse("2020-01-01T12:00:00Z").unwrap();
    old.client.ip = "10.9.9.9".into();
    let c = Run::default().go(vec![old]);
    assert_eq!(rules(&c), Vec::<&str>::new());
}

#[test]
fn not_yet_valid_and_expiring() {
    let early = served(Leaf {
        from: "2026-11-27T12:00:00Z",
        to: "2026-11-28T12:00:00Z",
        ..Leaf::default()
    });
    let c = Run::default().go(vec![early]);
    assert_eq!(rules(&c), ["TA-CERT-NOT-YET-VALID"]);
    let soon = served(Leaf {
        from: "2026-11-20T00:00:00Z",
        to: "2026-11-30T00:00:00Z",
        ..Leaf::default()
    });
    // 10 days valid, 2 d 13 h left at capture: within 7 days but above
    // 10% of its validity.
    let policy = |extra: &str| {
        format!(
            "certificates: {{max_workload_validity: 30d, max_validity_to_pod_age: 1000{extra}}}"
        )
    };
    let c = Run::policy(&policy("")).go(vec![soon.clone()]);
    assert_eq!(rules(&c), Vec::<&str>::new());
    let c = Run::policy(&policy(", expiry_warning_fraction: 0.5")).go(vec![soon.clone()]);
    let f = only(&c, "TA-CERT-EXPIRING");
    assert_eq!(f.evidence["expiry_warning"], "7d");
    assert_eq!(f.evidence["remaining_fraction"], 0.254);
    let c = Run::policy(&policy(
        ", expiry_warning_fraction: 0.5, expiry_warning: 1d",
    ))
    .go(vec![soon]);
    assert_eq!(rules(&c), Vec::<&str>::new());
    // A 24 h mesh certificate with 2 h left is late in its rotation.
    let late = served(Leaf {
        from: "2026-11-26T13:00:00Z",
        to: "2026-11-27T13:00:00Z",
        ..Leaf::default()
    });
    let c = Run::default().go(vec![late]);
    assert_eq!(rules(&c), ["TA-CERT-EXPIRING"]);
}

#[test]
fn workload_lifetime() {
    // A ten-year leaf on a pod one hour old: both reasons.
    let ten_years = served(Leaf {
        from: "2026-01-01T00:00:00Z",
        to: "2036-01-01T00:00:00Z",
        ..Leaf::default()
    });
    let c = Run::default().go(vec![ten_years]);
    let f = only(&c, "TA-CERT-LIFETIME");
    let reasons: Vec<_> = f.evidence["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons,
        ["exceeds-max-workload-validity", "exceeds-pod-age-ratio"]
    );
    assert_eq!(f.evidence["reasons"][1]["pod_age_at_handshake"], "1h");

    // Three days on a pod one hour old: only the ratio.
    let three_days = served(Leaf {
        from: "2026-11-27T09:00:00Z",
        to: "2026-11-30T09:00:00Z",
        ..Leaf::default()
    });
    let c = Run::default().go(vec![three_days.clone()]);
    assert_eq!(
        only(&c, "TA-CERT-LIFETIME").evidence["reasons"][0]["reason"],
        "exceeds-pod-age-ratio"
    );
    // ... and nothing without a snapshot, which says it could not check.
    let c = Run {
        inventory: None,
        ..Run::default()
    }
    .go(vec![three_days]);
    assert_eq!(rules(&c), Vec::<&str>::new());
    assert!(c.not_checked.iter().any(|n| n.rule == "TA-CERT-LIFETIME"));

    // The mesh default (24 h) on a young pod is fine.
    let c = Run::default().go(vec![served(Leaf::default())]);
    assert_eq!(rules(&c), Vec::<&str>::new());
}

#[test]
fn svid_rules_name_each_violation() {
    let cases: &[(Leaf<'_>, &str)] = &[
        (
            Leaf {
                uris: vec![
                    "spiffe://cluster.local/ns/pay/sa/api",
                    "spiffe://cluster.local/x",
                ],
                ..Leaf::default()
            },
            "svid-uri-san-count",
        ),
        (
            Leaf {
                ca_flag: true,
                ..Leaf::default()
            },
            "svid-leaf-is-ca",
        ),
        (
            Leaf {
                usages: vec![KeyUsagePurpose::KeyEncipherment],
                ..Leaf::default()
            },
            "svid-leaf-no-digital-signature",
        ),
        (
            Leaf {
                uris: vec!["spiffe://Cluster.Local/ns/pay/sa/api"],
                ..Leaf::default()
            },
            "spiffe-trust-domain-uppercase",
        ),
        (
            Leaf {
                uris: vec!["spiffe://cluster_local!/ns/pay/sa/api"],
                ..Leaf::default()
            },
            "spiffe-trust-domain-chars",
        ),
        (
            Leaf {
                uris: vec!["spiffe://cluster.local/ns/pay/sa/a%20pi"],
                ..Leaf::default()
            },
            "spiffe-percent-encoding",
        ),
        (
            Leaf {
                uris: vec!["spiffe://cluster.local/ns/../sa/api"],
                ..Leaf::default()
            },
            "spiffe-path-dot-segment",
        ),
        (
            Leaf {
                uris: vec!["spiffe://cluster.local"],
                ..Leaf::default()
            },
            "svid-leaf-no-path",
        ),
    ];
    for (leaf, violation) in cases {
        let c = Run::default().go(vec![served(leaf.clone())]);
        let f = only(&c, "TA-SVID-INVALID");
        let named: Vec<_> = f.evidence["violations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["rule"].as_str().unwrap().to_string())
            .collect();
        assert!(
            named.iter().any(|n| n == violation),
            "{violation}: {named:?}"
        );
    }
}

#[test]
fn svid_mismatch_and_trust_domain() {
    // The api pod presents the frontend's identity.
    let stolen = served(Leaf {
        uris: vec!["spiffe://cluster.local/ns/web/sa/frontend"],
        ..Leaf::default()
    });
    let c = Run::default().go(vec![stolen.clone()]);
    let f = only(&c, "TA-SVID-MISMATCH");
    assert_eq!(
        f.evidence["expected"],
        "spiffe://cluster.local/ns/pay/sa/api"
    );
    assert_eq!(f.subject.role, "server");
    // The template can be turned off, and it can be another layout.
    let c = Run::policy("spiffe: {id_template: ''}").go(vec![stolen.clone()]);
    assert_eq!(rules(&c), Vec::<&str>::new());
    let c =
        Run::policy("spiffe: {id_template: 'spiffe://{trust_domain}/{namespace}/{pod}'}").go(vec![
            served(Leaf {
                uris: vec!["spiffe://cluster.local/pay/api"],
                ..Leaf::default()
            }),
        ]);
    assert_eq!(rules(&c), Vec::<&str>::new());
    // Without a snapshot it cannot be checked, and says so.
    let c = Run {
        inventory: None,
        ..Run::default()
    }
    .go(vec![stolen]);
    assert!(c.not_checked.iter().any(|n| n.rule == "TA-SVID-MISMATCH"));

    let foreign = served(Leaf {
        uris: vec!["spiffe://evil.example/ns/pay/sa/api"],
        ..Leaf::default()
    });
    let c = Run::policy("spiffe: {trust_domains: [cluster.local]}").go(vec![foreign.clone()]);
    assert_eq!(
        only(&c, "TA-TRUST-DOMAIN").evidence["trust_domain"],
        "evil.example"
    );
    let c = Run::policy("spiffe: {trust_domains: [cluster.local, evil.example]}").go(vec![foreign]);
    assert_eq!(rules(&c), Vec::<&str>::new());
}

#[test]
fn client_certificates_are_the_clients_findings() {
    let root = ca("Mesh Root");
    let wrong = Leaf {
        uris: vec!["spiffe://cluster.local/ns/pay/sa/api"],
        ..Leaf::default()
    }
    .issue(&root);
    let f = tls_flow(|t| t.client_chain = vec![wrong, cert_of(root.der())]);
    let c = Run::default().go(vec![f]);
    let f = only(&c, "TA-SVID-MISMATCH");
    assert_eq!(f.subject.role, "client");
    assert_eq!(f.subject.pod.as_ref().unwrap().name, "frontend");
    assert_eq!(
        f.evidence["expected"],
        "spiffe://cluster.local/ns/web/sa/frontend"
    );
}

#[test]
fn chain_problems_and_trust_bundle() {
    // A self-signed leaf.
    let mut p = CertificateParams::default();
    p.distinguished_name = dn("lonely");
    let lonely = p.self_signed(&KeyPair::generate().unwrap()).unwrap();
    let f = tls_flow(|t| t.server_chain = vec![cert_of(lonely.der())]);
    let c = Run::default().go(vec![f]);
    let f = only(&c, "TA-CHAIN");
    assert_eq!(f.evidence["problems"][0]["kind"], "self-signed-leaf");
    assert_eq!(f.severity, Severity::High);

    // A good chain: anchored with the right bundle, not with another.
    let good = served(Leaf::default());
    let root_der = good.tls.as_ref().unwrap().server_chain[1]
        .der
        .clone()
        .unwrap();
    let bundle_of =
        |der: &[u8]| TrustBundle::from_pem(pem_block("CERTIFICATE", der).as_bytes()).unwrap();
    let c = Run {
        bundle: Some(bundle_of(&root_der)),
        ..Run::default()
    }
    .go(vec![good.clone()]);
    assert_eq!(rules(&c), Vec::<&str>::new());
    let other = ca("Other Root");
    let c = Run {
        bundle: Some(bundle_of(other.der())),
        ..Run::default()
    }
    .go(vec![good]);
    let f = only(&c, "TA-CHAIN");
    assert_eq!(f.evidence["anchored"], false);
    assert_eq!(f.evidence["problems"][0]["kind"], "not-anchored");
}

/// RSA-1024 keys and SHA-1 signatures: ring (and so rcgen) will not make
/// them, so OpenSSL issues these.
#[test]
fn weak_key_and_weak_signature_from_openssl() {
    let dir = std::env::temp_dir().join(format!("tls-audit-weak-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let openssl = |args: &[&str]| {
        std::process::Command::new("openssl")
            .args(args)
            .current_dir(&dir)
            .output()
    };
    match openssl(&["version"]) {
        Ok(o) if o.status.success() => {}
        _ => {
            assert!(std::env::var_os("CI").is_none(), "openssl is missing in CI");
            eprintln!("NOTICE: openssl not installed; RSA-1024/SHA-1 certificate test skipped");
            return;
        }
    }
    for args in [
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:1024",
            "-nodes",
            "-keyout",
            "k1.pem",
            "-out",
            "rsa1024.der",
            "-outform",
            "DER",
            "-sha256",
            "-days",
            "1",
            "-subj",
            "/CN=small-key",
        ][..],
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "k2.pem",
            "-out",
            "sha1.der",
            "-outform",
            "DER",
            "-sha1",
            "-days",
            "1",
            "-subj",
            "/CN=sha1-signed",
        ][..],
    ] {
        let o = openssl(args).unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let load = |name: &str| cert_of(&std::fs::read(dir.join(name)).unwrap());
    let (small, sha1) = (load("rsa1024.der"), load("sha1.der"));
    assert_eq!(
        (small.key_type.as_deref(), small.key_bits),
        (Some("RSA"), Some(1024))
    );
    // Judge them when they were made, so that only key and signature speak.
    let made = small.not_before_unix.unwrap() + 60;
    let at_made = |chain: Vec<Arc<Certificate>>| {
        let mut f = tls_flow(|t| t.server_chain = chain);
        f.first_seen = crate::model::time::CaptureTime::from_nanos(made * 1_000_000_000);
        f
    };
    let c = Run::policy("certificates: {expiry_warning: 1s}").go(vec![at_made(vec![small])]);
    let f = only(&c, "TA-CERT-WEAK-KEY");
    assert_eq!(
        (
            f.evidence["key_bits"].clone(),
            f.evidence["minimum_bits"].clone()
        ),
        (json!(1024), json!(2048))
    );
    let c = Run::policy("certificates: {expiry_warning: 1s}").go(vec![at_made(vec![sha1])]);
    let f = only(&c, "TA-CERT-WEAK-SIGNATURE");
    assert_eq!(f.evidence["signature_algorithm"], "sha1WithRSAEncryption");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn weak_ec_key_by_policy() {
    let c = Run::policy("certificates: {min_ec_bits: 384}").go(vec![served(Leaf::default())]);
    // Leaf and CA both have P-256 keys: two certificates, two findings.
    let weak: Vec<_> = c
        .findings
        .iter()
        .filter(|f| f.rule == "TA-CERT-WEAK-KEY")
        .collect();
    assert_eq!(weak.len(), 2);
    assert_eq!(weak[0].evidence["key_bits"], 256);
}

/// RFC 5280 §6.1.3 (a)(2): every certificate of the path must be valid at
/// the time in question, not only the leaf. An intermediate that expired
/// before the capture is its own TA-CERT-EXPIRED finding.
#[test]
fn an_expired_intermediate_is_reported() {
    let root = ca("Mesh Root");
    let mut p = CertificateParams::default();
    p.distinguished_name = dn("Mesh Intermediate");
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    p.not_before = time::OffsetDateTime::from_unix_timestamp(at("2026-01-01T00:00:00Z")).unwrap();
    p.not_after = time::OffsetDateTime::from_unix_timestamp(at("2026-11-01T00:00:00Z")).unwrap();
    let inter = CertifiedIssuer::signed_by(p, KeyPair::generate().unwrap(), &*root).unwrap();
    let leaf = Leaf::default().issue(&inter);
    let chain = vec![leaf, cert_of(inter.der()), cert_of(root.der())];
    let c = Run::default().go(vec![tls_flow(|t| t.server_chain = chain)]);
    let f = only(&c, "TA-CERT-EXPIRED");
    assert_eq!(f.evidence["certificate"]["subject"], "CN=Mesh Intermediate");
    assert_eq!(f.evidence["not_after"], "2026-11-01T00:00:00Z");
}

/// The RFC 5280 path rules reach TA-CHAIN with their own problem kinds: a
/// signing CA whose keyUsage lacks keyCertSign (its SVID rule says so too).
#[test]
fn path_rules_reach_the_chain_finding() {
    let mut p = CertificateParams::default();
    p.distinguished_name = dn("Signing Only");
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::CrlSign];
    let root = CertifiedIssuer::self_signed(p, KeyPair::generate().unwrap()).unwrap();
    let leaf = Leaf::default().issue(&root);
    let chain = vec![leaf, cert_of(root.der())];
    let c = Run::default().go(vec![tls_flow(|t| t.server_chain = chain)]);
    let f = only(&c, "TA-CHAIN");
    assert_eq!(f.severity, Severity::High);
    assert_eq!(f.evidence["problems"][0]["kind"], "issuer-no-keycertsign");
    assert_eq!(f.evidence["problems"][0]["index"], 1);
    assert!(f.message.contains("issuer-no-keycertsign"), "{}", f.message);
}
