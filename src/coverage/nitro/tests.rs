use super::*;

fn table() -> NitroTable {
    NitroTable::builtin().expect("embedded table parses")
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A minimal valid table with the given groups and exceptions JSON.
fn tiny(groups: &str, exceptions: &str) -> String {
    format!(
        r#"{{"format": 1, "title": "t", "rule": "r", "rule_url": "u", "compiled_from": "c",
            "snapshot_date": "2026-01-01", "runtime_check": "aws ...",
            "sources": [{{"id": "s", "reference": "ref", "date": null, "how": "h"}}],
            "groups": {groups}, "exceptions": {exceptions}}}"#
    )
}

#[test]
fn builtin_table_records_its_provenance() {
    let t = table();
    assert_eq!(t.snapshot_date(), "2026-08-04");
    assert_eq!(t.family_count(), 182);
    let ids: Vec<&str> = t.sources().iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["karpenter", "control-tower", "ec2-user-guide-2023"]);
    assert_eq!(t.sources()[0].date.as_deref(), Some("2026-08-04"));
    assert_eq!(t.sources()[1].date, None);
    assert!(t.rule().0.contains("same VPC or peered VPCs"));
    assert!(t.rule().1.ends_with("#encryption-transit"));
    assert!(
        t.runtime_check()
            .contains("encryption-in-transit-supported")
    );
    assert!(t.compiled_from().contains("3.2"));
    assert!(t.title().contains("Nitro"));
}

#[test]
fn families_from_all_groups_resolve() {
    let t = table();
    // In both sources.
    assert_eq!(t.encrypts_in_transit("m5n.large"), Some(true));
    assert_eq!(t.encrypts_in_transit("m6i.2xlarge"), Some(true));
    assert_eq!(t.encrypts_in_transit("c7i-flex.xlarge"), Some(true));
    assert_eq!(t.encrypts_in_transit("p6-b200.48xlarge"), Some(true));
    assert_eq!(t.encrypts_in_transit("u7in-32tb.224xlarge"), Some(true));
    // Karpenter only (2026 API).
    assert_eq!(t.encrypts_in_transit("m8i-flex.large"), Some(true));
    assert_eq!(t.encrypts_in_transit("c8gb.medium"), Some(true));
    // Control Tower only.
    assert_eq!(t.encrypts_in_transit("dl1.24xlarge"), Some(true));
    assert_eq!(t.encrypts_in_transit("u-12tb1.112xlarge"), Some(true));
    // Reported false by DescribeInstanceTypes.
    assert_eq!(t.encrypts_in_transit("t3.medium"), Some(false));
    assert_eq!(t.encrypts_in_transit("m4.large"), Some(false));
    assert_eq!(t.encrypts_in_transit("m5.large"), Some(false));
    assert_eq!(t.encrypts_in_transit("c5.metal"), Some(false));
    assert_eq!(t.encrypts_in_transit("r6g.medium"), Some(false));
}

#[test]
fn family_is_the_prefix_before_the_dot_not_a_string_prefix() {
    let t = table();
    // m5 is false, m5n true, m5dn true, m5zn true: each its own family.
    assert_eq!(t.encrypts_in_transit("m5.xlarge"), Some(false));
    assert_eq!(t.encrypts_in_transit("m5d.xlarge"), Some(false));
    assert_eq!(t.encrypts_in_transit("m5dn.xlarge"), Some(true));
    assert_eq!(t.encrypts_in_transit("m5zn.xlarge"), Some(true));
    // c6g false, c6gn true.
    assert_eq!(t.encrypts_in_transit("c6g.large"), Some(false));
    assert_eq!(t.encrypts_in_transit("c6gn.large"), Some(true));
    let l = t.lookup("m5n.large").expect("well formed");
    assert_eq!((l.family.as_str(), l.size.as_str()), ("m5n", "large"));
    assert_eq!(
        l.answer,
        Answer::Listed {
            encrypts: true,
            sources: &["karpenter".to_owned(), "control-tower".to_owned()]
        }
    );
}

#[test]
fn metal_sizes_follow_their_family() {
    let t = table();
    assert_eq!(t.encrypts_in_transit("m6i.metal"), Some(true));
    assert_eq!(t.encrypts_in_transit("c7i.metal-24xl"), Some(true));
    assert_eq!(t.encrypts_in_transit("x2idn.metal"), Some(true));
    assert_eq!(t.encrypts_in_transit("i3.metal"), Some(false));
    let l = t.lookup("c7i.metal-48xl").expect("well formed");
    assert_eq!(l.size, "metal-48xl");
}

#[test]
fn high_memory_u_metal_is_the_exception() {
    let t = table();
    // Virtualized u-* sizes follow their family...
    assert_eq!(t.encrypts_in_transit("u-6tb1.56xlarge"), Some(true));
    assert_eq!(t.encrypts_in_transit("u-6tb1.112xlarge"), Some(true));
    // ...bare metal is "virtualized only" in the EC2 list: unknown.
    assert_eq!(t.encrypts_in_transit("u-6tb1.metal"), None);
    assert_eq!(t.encrypts_in_transit("u-12tb1.metal"), None);
    let l = t.lookup("u-9tb1.metal").expect("well formed");
    match l.answer {
        Answer::Exception { encrypts, note } => {
            assert_eq!(encrypts, None);
            assert!(note.contains("virtualized only"));
        }
        other => panic!("expected the exception, got {other:?}"),
    }
    // u7i is a different family naming (no "u-" prefix): not excepted.
    assert_eq!(t.encrypts_in_transit("u7i-12tb.224xlarge"), Some(true));
}

#[test]
fn unknown_and_malformed_strings_are_none() {
    let t = table();
    assert_eq!(t.encrypts_in_transit("zz9.large"), None);
    assert_eq!(t.encrypts_in_transit("mac2.metal"), None);
    assert_eq!(
        t.lookup("zz9.large").map(|l| l.answer),
        Some(Answer::UnknownFamily)
    );
    for bad in [
        "",
        "m5n",
        ".large",
        "m5n.",
        "m5n.large.x",
        "9xl.large",
        "m5n large",
        "m5n.lar ge",
        "fargate",
        "m5n.large\u{0}",
        "\u{e9}6i.large",
    ] {
        assert_eq!(t.lookup(bad), None, "{bad:?}");
        assert_eq!(t.encrypts_in_transit(bad), None, "{bad:?}");
    }
    let long = format!("m6i.{}", "x".repeat(100));
    assert_eq!(t.encrypts_in_transit(&long), None);
}

#[test]
fn lookup_ignores_case_and_whitespace() {
    let t = table();
    assert_eq!(t.encrypts_in_transit("M6I.Large"), Some(true));
    assert_eq!(t.encrypts_in_transit("  t3.micro\n"), Some(false));
    let l = t.lookup("C7I-FLEX.XLARGE").expect("well formed");
    assert_eq!(l.family, "c7i-flex");
}

#[test]
fn label_wins_over_table_and_disagreement_is_reported() {
    let t = table();
    // Table says m6i encrypts; the Karpenter label says not.
    let c = t.node_capability(Some("m6i.large"), &labels(&[(KARPENTER_LABEL, "false")]));
    assert_eq!(c.encrypts, Some(false));
    assert_eq!(c.basis, CapabilityBasis::Label(KARPENTER_LABEL));
    assert_eq!(c.table, Some(true));
    assert_eq!(c.disagreements.len(), 1);
    assert!(c.disagreements[0].contains("m6i.large encrypts"));
    // Table says t3 does not; the EKS label says it does.
    let c = t.node_capability(Some("t3.large"), &labels(&[(EKS_AUTO_MODE_LABEL, "true")]));
    assert_eq!(c.encrypts, Some(true));
    assert_eq!(c.basis, CapabilityBasis::Label(EKS_AUTO_MODE_LABEL));
    assert!(c.disagreements[0].contains("does not encrypt"));
}

#[test]
fn label_answers_unknown_types_without_disagreement() {
    let t = table();
    let c = t.node_capability(Some("zz9.large"), &labels(&[(KARPENTER_LABEL, "TRUE")]));
    assert_eq!(c.encrypts, Some(true));
    assert_eq!(c.table, None);
    assert!(c.disagreements.is_empty());
    // Label without any instance type.
    let c = t.node_capability(None, &labels(&[(EKS_AUTO_MODE_LABEL, "false")]));
    assert_eq!(c.encrypts, Some(false));
    assert_eq!(c.basis, CapabilityBasis::Label(EKS_AUTO_MODE_LABEL));
}

#[test]
fn agreeing_label_has_no_disagreement() {
    let t = table();
    let l = labels(&[(KARPENTER_LABEL, "true"), (EKS_AUTO_MODE_LABEL, "true")]);
    let c = t.node_capability(Some("m7g.large"), &l);
    assert_eq!(c.encrypts, Some(true));
    assert_eq!(c.basis, CapabilityBasis::Label(KARPENTER_LABEL));
    assert!(c.disagreements.is_empty());
}

#[test]
fn conflicting_labels_make_the_capability_unknown() {
    let t = table();
    let l = labels(&[(KARPENTER_LABEL, "true"), (EKS_AUTO_MODE_LABEL, "false")]);
    let c = t.node_capability(Some("m6i.large"), &l);
    assert_eq!(c.encrypts, None);
    assert_eq!(c.basis, CapabilityBasis::Unknown);
    assert_eq!(c.table, Some(true));
    assert!(c.disagreements[0].starts_with("labels disagree"));
}

#[test]
fn malformed_label_is_ignored_and_reported() {
    let t = table();
    let c = t.node_capability(Some("m6i.large"), &labels(&[(KARPENTER_LABEL, "yes")]));
    assert_eq!(c.encrypts, Some(true));
    assert_eq!(c.basis, CapabilityBasis::Table);
    assert_eq!(c.disagreements.len(), 1);
    assert!(c.disagreements[0].contains("\"yes\""));
}

#[test]
fn no_label_no_type_is_unknown() {
    let t = table();
    let c = t.node_capability(None, &BTreeMap::new());
    assert_eq!(c.encrypts, None);
    assert_eq!(c.basis, CapabilityBasis::Unknown);
    assert!(c.disagreements.is_empty());
    let c = t.node_capability(Some("t3.small"), &BTreeMap::new());
    assert_eq!((c.encrypts, c.basis), (Some(false), CapabilityBasis::Table));
}

#[test]
fn override_table_from_json_and_path() {
    let json = tiny(
        r#"[{"encrypts": true, "sources": ["s"], "families": ["Zz9"]},
            {"encrypts": false, "sources": ["s"], "families": ["m6i"]}]"#,
        "[]",
    );
    let t = NitroTable::from_json(&json).expect("valid");
    assert_eq!(t.family_count(), 2);
    assert_eq!(t.encrypts_in_transit("zz9.large"), Some(true));
    assert_eq!(t.encrypts_in_transit("m6i.large"), Some(false));
    assert_eq!(t.encrypts_in_transit("m5n.large"), None);

    let dir = std::env::temp_dir().join(format!("nitro-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("table.json");
    std::fs::write(&path, &json).expect("write");
    let t = NitroTable::from_path(&path).expect("valid file");
    assert_eq!(t.encrypts_in_transit("zz9.large"), Some(true));
    let missing = NitroTable::from_path(&dir.join("missing.json"));
    assert!(matches!(missing, Err(NitroError::Io { .. })), "{missing:?}");
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn invalid_tables_are_typed_errors() {
    let group = |f: &str| format!(r#"[{{"encrypts": true, "sources": ["s"], "families": [{f}]}}]"#);
    let err = |json: &str| NitroTable::from_json(json).expect_err("invalid");

    assert!(matches!(err("not json"), NitroError::Json(_)));
    assert!(matches!(err("{}"), NitroError::Json(_)));
    let dup = tiny(&group(r#""m6i", "M6I""#), "[]");
    assert!(matches!(err(&dup), NitroError::DuplicateFamily { family } if family == "m6i"));
    let bad = tiny(&group(r#""m6i.large""#), "[]");
    assert!(matches!(err(&bad), NitroError::BadFamily { family } if family == "m6i.large"));
    let src = tiny(
        r#"[{"encrypts": true, "sources": ["nope"], "families": ["m6i"]}]"#,
        "[]",
    );
    assert!(matches!(err(&src), NitroError::UnknownSource { id } if id == "nope"));
    let exc = tiny(
        &group(r#""m6i""#),
        r#"[{"family_prefix": "", "size_prefix": "metal", "encrypts": null, "source": "s", "note": "n"}]"#,
    );
    assert!(matches!(err(&exc), NitroError::EmptyException));
    let version = tiny(&group(r#""m6i""#), "[]").replace(r#""format": 1"#, r#""format": 2"#);
    assert!(matches!(err(&version), NitroError::Format { found: 2 }));
    let unknown_field =
        tiny(&group(r#""m6i""#), "[]").replace(r#""title""#, r#""extra": 1, "title""#);
    let e = err(&unknown_field);
    assert!(e.to_string().contains("unknown field `extra`"), "{e}");
}

#[test]
fn exceptions_with_an_answer_override_the_family() {
    let json = tiny(
        r#"[{"encrypts": true, "sources": ["s"], "families": ["m6i"]}]"#,
        r#"[{"family_prefix": "m6", "size_prefix": "metal", "encrypts": false, "source": "s", "note": "why"}]"#,
    );
    let t = NitroTable::from_json(&json).expect("valid");
    assert_eq!(t.encrypts_in_transit("m6i.large"), Some(true));
    assert_eq!(t.encrypts_in_transit("m6i.metal"), Some(false));
    assert_eq!(
        t.lookup("m6i.metal").map(|l| l.answer),
        Some(Answer::Exception {
            encrypts: Some(false),
            note: "why"
        })
    );
}
