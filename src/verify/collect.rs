//! Findings collection: identical findings from many flows become one
//! finding with a count, waivers and severity overrides are applied, and the
//! number of distinct findings is bounded (a hostile capture can make
//! millions of flows; the report must stay readable and memory flat).

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use super::controls;
use super::policy::Policy;
use super::rules::{self, Rule};
use super::selector::{FlowContext, OwnedContext, Selector};
use super::underlay::{self, PendingEnd};
use crate::coverage::Coverage;
use crate::model::report::{
    AppliedWaiver, Exempted, Finding, NotChecked, OriginFlow, Severity, Subject, WaiverStatus,
};

/// Distinct findings kept; beyond it they are counted in `findings_dropped`.
pub const MAX_FINDINGS: usize = 5_000;

/// A finding about to be recorded.
pub struct Candidate {
    /// The rule.
    pub rule: &'static Rule,
    /// Severity as found (before overrides).
    pub severity: Severity,
    /// Whom it is about.
    pub subject: Subject,
    /// The other end.
    pub peer: Subject,
    /// For people.
    pub message: String,
    /// Facts.
    pub evidence: BTreeMap<String, Value>,
    /// What makes it the same finding as another.
    pub key: Key,
    /// A plaintext flow whose underlay coverage is decided at the end.
    pub underlay: Option<Box<PendingPlaintext>>,
}

/// A plaintext finding's flow, kept to decide its underlay coverage (and
/// the waivers of the rule it may turn into) when the report is finished.
#[derive(Debug, Clone)]
pub struct PendingPlaintext {
    /// The client end.
    pub client: PendingEnd,
    /// The server end.
    pub server: PendingEnd,
    /// What waivers match on.
    pub context: OwnedContext,
}

/// What makes two findings the same finding. Ordered, so findings that
/// sort equal on what the report shows still come out in one order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    rule: &'static str,
    subject: String,
    peer: String,
    kind: String,
}

impl Key {
    /// A flow rule's finding about a server (address and port), counted
    /// per client address; `kind` tells its variants apart.
    pub fn flow(rule: &'static str, server: &str, client: &str, kind: String) -> Key {
        Key {
            rule,
            subject: server.to_string(),
            peer: ip_of(client).to_string(),
            kind,
        }
    }

    /// A certificate finding: a server's certificate counted per server
    /// (address and port); a client certificate once, whichever client
    /// presents it (clients are many and come and go). `kind` starts with
    /// the certificate's digest.
    pub fn certificate(rule: &'static str, server: Option<&str>, kind: String) -> Key {
        Key {
            rule,
            subject: server.unwrap_or("any client").to_string(),
            peer: String::new(),
            kind,
        }
    }
}

/// Collects findings for one report.
pub struct Collector {
    /// Looked up for every rule that fires on every flow: foldhash (seeded
    /// at random, as the flow table: keys hold names from the packets)
    /// instead of SipHash, which was a tenth of verifying. The order is
    /// made at the end (`finish`).
    findings: HashMap<Key, Finding, foldhash::fast::RandomState>,
    order: u64,
    dropped: u64,
    /// Counted for every rule and flow that could not be checked: hashed,
    /// and sorted once at the end.
    not_checked: HashMap<(&'static str, &'static str), u64, foldhash::fast::RandomState>,
    exempted: BTreeMap<(&'static str, String), u64>,
    waiver_matches: Vec<u64>,
    now: i64,
    pending: Vec<(Key, PendingPlaintext)>,
}

impl Collector {
    /// An empty collector; `now` (Unix seconds) judges waiver expiry.
    pub fn new(policy: &Policy, now: i64) -> Self {
        Collector {
            findings: HashMap::default(),
            order: 0,
            dropped: 0,
            not_checked: HashMap::default(),
            exempted: BTreeMap::new(),
            waiver_matches: vec![0; policy.waivers.len()],
            now,
            pending: Vec::new(),
        }
    }

    /// A check that could not run on one flow.
    pub fn not_checked(&mut self, rule: &'static Rule, reason: &'static str) {
        *self.not_checked.entry((rule.id, reason)).or_default() += 1;
    }

    /// Is the flow exempt from `rule` by one of `exempt`? Counts it if so.
    pub fn exempt(
        &mut self,
        rule: &'static Rule,
        exempt: &[Selector],
        ctx: &FlowContext<'_>,
    ) -> bool {
        match exempt.iter().find(|s| s.matches(ctx)) {
            Some(s) => {
                *self.exempted.entry((rule.id, s.label())).or_default() += 1;
                true
            }
            None => false,
        }
    }

    /// Record a finding seen in `flow`.
    pub fn add(&mut self, policy: &Policy, c: Candidate, flow: &OriginFlow, ctx: &FlowContext<'_>) {
        let key = c.key;
        if self.bump(&key, flow) {
            return;
        }
        if self.findings.len() >= MAX_FINDINGS {
            self.dropped += 1;
            return;
        }
        if let Some(p) = c.underlay {
            self.pending.push((key.clone(), *p));
        }
        let mut evidence = c.evidence;
        let waived = self.waiver_for(policy, c.rule.id, ctx, &mut evidence);
        self.order += 1;
        let finding = Finding {
            rule: c.rule.id.to_string(),
            severity: policy.severity_of(c.rule.id, c.severity),
            flow: flow.clone(),
            occurrences: 1,
            last_seen: flow.first_seen,
            subject: c.subject,
            peer: c.peer,
            message: c.message,
            evidence,
            remediation: c.rule.remediation.to_string(),
            controls: controls::for_rule(c.rule.id),
            waived,
            baseline: None,
        };
        self.findings.insert(key, finding);
    }

    /// Count one more occurrence of a finding already recorded; false if
    /// there is none (so a rule can skip building its evidence when true).
    pub fn bump(&mut self, key: &Key, flow: &OriginFlow) -> bool {
        match self.findings.get_mut(key) {
            Some(f) => {
                f.occurrences += 1;
                f.last_seen = f.last_seen.max(flow.first_seen);
                true
            }
            None => false,
        }
    }

    /// The first active waiver that accepts this finding. An expired one
    /// that would have matched is noted in the evidence instead.
    fn waiver_for(
        &mut self,
        policy: &Policy,
        rule: &str,
        ctx: &FlowContext<'_>,
        evidence: &mut BTreeMap<String, Value>,
    ) -> Option<AppliedWaiver> {
        for (i, w) in policy.waivers.iter().enumerate() {
            if w.rule != rule || !w.matches.matches(ctx) {
                continue;
            }
            self.waiver_matches[i] += 1;
            if w.ends_at().is_some_and(|end| self.now < end) {
                return Some(AppliedWaiver {
                    index: i,
                    reason: w.reason.clone(),
                    expires: w.expires.clone(),
                });
            }
            evidence.insert(
                "expired_waiver".into(),
                serde_json::json!({"index": i, "expires": w.expires}),
            );
        }
        None
    }

    /// Decide the underlay coverage of every plaintext finding: covered
    /// ones become `TA-PLAINTEXT-UNDERLAY` (with that rule's severity,
    /// remediation and waivers); all carry the verdict in `evidence.underlay`.
    pub fn settle_underlay(
        &mut self,
        policy: &Policy,
        decide: impl Fn(&PendingPlaintext) -> Coverage,
    ) {
        for (key, p) in std::mem::take(&mut self.pending) {
            let c = decide(&p);
            let ctx = p.context.as_ctx();
            let mut evidence = BTreeMap::new();
            let waived = if underlay::covers(&c) {
                let rule = rules::PLAINTEXT_UNDERLAY.id;
                Some(self.waiver_for(policy, rule, &ctx, &mut evidence))
            } else {
                None
            };
            let Some(f) = self.findings.get_mut(&key) else {
                continue;
            };
            if let Some(waived) = waived {
                // It is no longer a TA-PLAINTEXT finding: the TA-PLAINTEXT
                // waivers it matched (active or expired) matched nothing.
                for (i, w) in policy.waivers.iter().enumerate() {
                    if w.rule == rules::PLAINTEXT.id && w.matches.matches(&ctx) {
                        self.waiver_matches[i] = self.waiver_matches[i].saturating_sub(1);
                    }
                }
                f.evidence.remove("expired_waiver");
                let u = &rules::PLAINTEXT_UNDERLAY;
                f.rule = u.id.to_string();
                f.severity = policy.severity_of(u.id, u.severity);
                f.remediation = u.remediation.to_string();
                f.controls = controls::for_rule(u.id);
                f.waived = waived;
                if let Some(by) = c.covered_by {
                    f.message = format!("{} (encrypted underneath: {})", f.message, by.as_str());
                }
            }
            f.evidence.append(&mut evidence);
            f.evidence.insert(
                "underlay".into(),
                serde_json::to_value(&c).unwrap_or(Value::Null),
            );
        }
    }

    /// Everything collected, findings most severe first.
    pub fn finish(self, policy: &Policy) -> Collected {
        let mut findings: Vec<(Key, Finding)> = self.findings.into_iter().collect();
        // The key last: two findings can agree on everything before it (two
        // certificates of one server with the same problem), and the map's
        // order is random.
        findings.sort_by(|(ka, a), (kb, b)| {
            b.severity
                .cmp(&a.severity)
                .then_with(|| a.rule.cmp(&b.rule))
                .then_with(|| a.flow.first_seen.cmp(&b.flow.first_seen))
                .then_with(|| a.subject.endpoint.cmp(&b.subject.endpoint))
                .then_with(|| a.peer.endpoint.cmp(&b.peer.endpoint))
                .then_with(|| a.message.cmp(&b.message))
                .then_with(|| ka.cmp(kb))
        });
        let findings: Vec<Finding> = findings.into_iter().map(|(_, f)| f).collect();
        let waivers = policy
            .waivers
            .iter()
            .enumerate()
            .map(|(i, w)| WaiverStatus {
                index: i,
                rule: w.rule.clone(),
                reason: w.reason.clone(),
                expires: w.expires.clone(),
                status: if w.ends_at().is_some_and(|end| self.now < end) {
                    "active"
                } else {
                    "expired"
                }
                .into(),
                matched: self.waiver_matches[i],
            })
            .collect();
        Collected {
            findings,
            dropped: self.dropped,
            not_checked: self
                .not_checked
                .into_iter()
                .collect::<BTreeMap<_, _>>()
                .into_iter()
                .map(|((rule, reason), flows)| NotChecked {
                    rule: rule.into(),
                    reason: reason.into(),
                    flows,
                })
                .collect(),
            exempted: self
                .exempted
                .into_iter()
                .map(|((rule, exemption), flows)| Exempted {
                    rule: rule.into(),
                    exemption,
                    flows,
                })
                .collect(),
            waivers,
            coverage_matrix: None,
        }
    }
}

/// What a collector ends with.
pub struct Collected {
    /// Findings, most severe first.
    pub findings: Vec<Finding>,
    /// Distinct findings over the limit.
    pub dropped: u64,
    /// Checks that could not run.
    pub not_checked: Vec<NotChecked>,
    /// Exempted flows.
    pub exempted: Vec<Exempted>,
    /// Waivers and their effect.
    pub waivers: Vec<WaiverStatus>,
    /// Pod-to-pod underlay coverage between the snapshot's nodes.
    pub coverage_matrix: Option<underlay::CoverageMatrix>,
}

/// The address part of `ip:port` / `[ip]:port`.
fn ip_of(endpoint: &str) -> &str {
    let host = endpoint.rsplit_once(':').map_or(endpoint, |(h, _)| h);
    host.trim_start_matches('[').trim_end_matches(']')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject(role: &str, endpoint: &str) -> Subject {
        Subject {
            role: role.into(),
            endpoint: endpoint.into(),
            pod: None,
            node: None,
        }
    }

    fn context(server_port: u16) -> FlowContext<'static> {
        FlowContext {
            client_ip: None,
            server_ip: None,
            server_port,
            client_pod: None,
            server_pod: None,
            server_labels: None,
            app_protocol: None,
            certificate: None,
        }
    }

    #[test]
    fn ip_of_endpoints() {
        assert_eq!(ip_of("10.0.0.1:443"), "10.0.0.1");
        assert_eq!(ip_of("[fd00::1]:443"), "fd00::1");
    }

    /// Findings equal on everything the report sorts by (one server's
    /// certificates with the same problem) come out in key order, whatever
    /// order they were found in; the map's order varied run to run.
    #[test]
    fn findings_equal_on_shown_fields_are_ordered_by_key() {
        let policy = Policy::default();
        let flow = OriginFlow {
            client: "10.0.0.1:5000".into(),
            server: "10.0.0.2:443".into(),
            first_seen: crate::model::time::CaptureTime::parse("2026-12-05T10:00:00.000000Z")
                .unwrap(),
        };
        let ctx = context(443);
        let digests: Vec<String> = (0..40)
            .map(|i| format!("{:064x}", i * 7919 % 101))
            .collect();
        let run = |order: &mut dyn Iterator<Item = &String>| {
            let mut c = Collector::new(&policy, 0);
            for d in order {
                let candidate = Candidate {
                    rule: &rules::CERT_LIFETIME,
                    severity: Severity::Medium,
                    subject: subject("server", "10.0.0.2:443"),
                    peer: subject("client", "10.0.0.1:5000"),
                    message:
                        "workload certificate valid for 30d: server certificate of 10.0.0.2:443"
                            .into(),
                    evidence: BTreeMap::from([("sha256".to_string(), Value::from(d.as_str()))]),
                    key: Key::certificate(rules::CERT_LIFETIME.id, Some("10.0.0.2:443"), d.clone()),
                    underlay: None,
                };
                c.add(&policy, candidate, &flow, &ctx);
            }
            c.finish(&policy)
                .findings
                .iter()
                .map(|f| {
                    f.evidence["sha256"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string()
                })
                .collect::<Vec<_>>()
        };
        let mut sorted = digests.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(run(&mut digests.iter()), sorted);
        assert_eq!(run(&mut digests.iter().rev()), sorted);
    }

    /// `last_seen` is the latest of the occurrences, whatever their order.
    #[test]
    fn last_seen_is_the_latest_occurrence_by_time() {
        use crate::model::time::CaptureTime;
        let policy = Policy::default();
        let at = |text: &str| OriginFlow {
            client: "10.0.0.1:5000".into(),
            server: "10.0.0.2:80".into(),
            first_seen: CaptureTime::parse(text).unwrap(),
        };
        let ctx = context(80);
        let key = Key::certificate(rules::CERT_LIFETIME.id, Some("10.0.0.2:80"), "d".into());
        let mut c = Collector::new(&policy, 0);
        let first = at("2026-12-05T10:00:00.000000Z");
        c.add(
            &policy,
            Candidate {
                rule: &rules::CERT_LIFETIME,
                severity: Severity::Medium,
                subject: subject("server", "10.0.0.2:80"),
                peer: subject("client", "10.0.0.1:5000"),
                message: "m".into(),
                evidence: BTreeMap::new(),
                key: key.clone(),
                underlay: None,
            },
            &first,
            &ctx,
        );
        for flow in [
            &at("2026-12-05T11:00:00.000000Z"),
            &at("2026-12-05T09:00:00.000000Z"),
            &at("2026-12-05T10:30:00.000000Z"),
        ] {
            assert!(c.bump(&key, flow));
        }
        let report = c.finish(&policy);
        let f = &report.findings[0];
        assert_eq!(f.occurrences, 4);
        assert_eq!(f.last_seen.to_string(), "2026-12-05T11:00:00.000000Z");
    }
}
