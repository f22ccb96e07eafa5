//! The evaluators the catalog names, fed one flow at a time.

use std::collections::{BTreeMap, HashMap};

use super::{
    Compliance, ControlResult, Evidence, FrameworkResult, InScope, MAX_EVIDENCE_CERTIFICATES,
    MAX_EVIDENCE_FLOWS, Status, is_public,
};
use crate::model::controls::{Catalog, Control, Evaluation, Source};
use crate::model::report::{Finding, FlowRecord, Protection, Report};
use crate::model::time::CaptureTime;

/// Flows counted, and the first few listed.
#[derive(Debug, Clone, Default)]
struct Sample {
    count: u64,
    flows: Vec<u64>,
}

impl Sample {
    fn add(&mut self, index: u64) {
        self.count += 1;
        if self.flows.len() < MAX_EVIDENCE_FLOWS {
            self.flows.push(index);
        }
    }

    fn evidence(&self, effect: Status, reason: String) -> Evidence {
        Evidence {
            effect,
            reason,
            rule: None,
            finding: None,
            flows: self.flows.clone(),
            more_flows: self.count - self.flows.len() as u64,
            certificates: Vec::new(),
        }
    }
}

/// What every evaluator may need from the flows.
#[derive(Debug, Default)]
struct Common {
    all: Sample,
    tls: Sample,
    /// Mutual TLS: yes, no, undecided.
    mutual: [u64; 3],
    /// Plaintext or unproven encryption, with a public address at either end.
    unprotected_public: Sample,
    /// The same, internal addresses only.
    unprotected_internal: Sample,
    /// TLS flows that showed no certificate (and were not resumed).
    certificates_hidden: Sample,
    /// Certificate digest → flows it was seen in.
    certificates: BTreeMap<String, u64>,
    /// (protocol version, cipher suite, key exchange) → TLS flows that
    /// negotiated them, for the inventory of protocols and suites in use
    /// (PCI DSS 12.3.3). The key exchange is the group (or `rsa` key
    /// transport) from `tls.key_exchange`.
    protocols: BTreeMap<(String, String, String), Sample>,
}

/// Per-control state of the evaluators that look at flows themselves.
#[derive(Debug, Default)]
struct Acc {
    /// Flows in scope (admin flows).
    scope: Sample,
    /// In-scope flows that pass on their own.
    good: Sample,
    /// Unprotected in-scope flows, by what they are (`ftp`, `port 23`...).
    bad: BTreeMap<String, Sample>,
    /// Cleartext protocols that need review, by protocol.
    review: BTreeMap<String, Sample>,
    /// Findings on in-scope flows.
    findings: Vec<usize>,
}

/// Evaluates the controls of the chosen frameworks over one report.
pub struct Evaluator<'c> {
    catalog: &'c Catalog,
    frameworks: Vec<&'c Source>,
    controls: Vec<(usize, &'c Control, Acc)>,
    /// (client, server, first_seen) of each finding's first flow → findings.
    origins: HashMap<(String, String, CaptureTime), Vec<usize>>,
    /// Per finding: its flow's index and whether the flow is public.
    finding_flow: Vec<Option<(u64, bool)>>,
    common: Common,
}

impl<'c> Evaluator<'c> {
    /// An evaluator for `frameworks`, over the findings of `report` (whose
    /// flows are given to [`Evaluator::flow`], in order).
    pub fn new(catalog: &'c Catalog, frameworks: Vec<&'c Source>, report: &Report) -> Self {
        let mut origins: HashMap<(String, String, CaptureTime), Vec<usize>> = HashMap::new();
        for (i, f) in report.findings.iter().enumerate() {
            let key = (
                f.flow.client.clone(),
                f.flow.server.clone(),
                f.flow.first_seen,
            );
            origins.entry(key).or_default().push(i);
        }
        let controls = frameworks
            .iter()
            .enumerate()
            .flat_map(|(fw, s)| catalog.controls_of(s).map(move |c| (fw, c, Acc::default())))
            .collect();
        Evaluator {
            catalog,
            frameworks,
            controls,
            origins,
            finding_flow: vec![None; report.findings.len()],
            common: Common::default(),
        }
    }

    /// See the flow at `index` of the report's `flows`.
    pub fn flow(&mut self, index: u64, f: &FlowRecord) {
        let public = is_public(&f.client.ip) || is_public(&f.server.ip);
        let here: &[usize] = self
            .origins
            .get(&(f.client.socket(), f.server.socket(), f.first_seen))
            .map_or(&[], Vec::as_slice);
        for &i in here {
            self.finding_flow[i] = Some((index, public));
        }
        let c = &mut self.common;
        c.all.add(index);
        let unprotected = matches!(f.protection, Protection::Plaintext | Protection::Unknown);
        if unprotected {
            if public {
                c.unprotected_public.add(index);
            } else {
                c.unprotected_internal.add(index);
            }
        }
        if let Some(tls) = f.tls.as_ref().filter(|_| f.protection == Protection::Tls) {
            c.tls.add(index);
            c.mutual[match tls.mutual {
                Some(true) => 0,
                Some(false) => 1,
                None => 2,
            }] += 1;
            if tls.server_chain.is_empty() && tls.resumed != Some(true) {
                c.certificates_hidden.add(index);
            }
            for cert in tls.server_chain.iter().chain(&tls.client_chain) {
                *c.certificates.entry(cert.sha256.clone()).or_default() += 1;
            }
            let unseen = || "not seen".to_string();
            let kex = tls
                .key_exchange
                .as_ref()
                .and_then(|k| k.group.as_deref().or(k.method.as_deref()))
                .map(str::to_string);
            c.protocols
                .entry((
                    tls.version.as_deref().map_or_else(unseen, str::to_string),
                    tls.cipher_suite
                        .as_deref()
                        .map_or_else(unseen, str::to_string),
                    kex.unwrap_or_else(unseen),
                ))
                .or_default()
                .add(index);
        }
        for (_, control, acc) in &mut self.controls {
            let e = &control.evaluation;
            match e.method.as_str() {
                "admin-access" => admin_flow(e, acc, index, f, unprotected, here),
                "authentication-in-transit" => auth_flow(e, acc, index, f),
                _ => {}
            }
        }
    }

    /// The compliance section, given the report's findings and verification.
    pub fn finish(self, report: &Report) -> Compliance {
        let mut frameworks: Vec<FrameworkResult> = self
            .frameworks
            .iter()
            .map(|s| FrameworkResult {
                key: s.key.clone(),
                framework: s.framework.clone(),
                version: s.version.clone(),
                document: s.document.clone(),
                counts: Status::ALL
                    .iter()
                    .map(|s| (s.as_str().to_string(), 0))
                    .collect(),
                controls: Vec::new(),
            })
            .collect();
        for (fw, control, acc) in &self.controls {
            let result = self.control(control, acc, report);
            let fr = &mut frameworks[*fw];
            *fr.counts.entry(result.status.as_str().into()).or_default() += 1;
            fr.controls.push(result);
        }
        Compliance {
            about: self.catalog.about.clone(),
            frameworks,
        }
    }

    fn control(&self, control: &Control, acc: &Acc, report: &Report) -> ControlResult {
        let e = &control.evaluation;
        let (mut evidence, in_scope, noun) = match e.method.as_str() {
            "certificate-inventory" => self.inventory(control, report),
            "protocol-inventory" => self.protocols(control, report),
            "admin-access" => self.admin(e, acc, report),
            "authentication-in-transit" => self.authentication(e, acc, report),
            _ => self.findings(control, report),
        };
        if !e.method.ends_with("-inventory") {
            evidence.extend(self.policy_gaps(control, report));
        }
        if e.cap == "needs-review" {
            cap_at_review(&mut evidence);
        }
        let worst = evidence.iter().map(|e| e.effect).max();
        let status = match worst {
            Some(s @ (Status::Fail | Status::NeedsReview)) => s,
            _ if in_scope.flows == 0 => Status::NotApplicable,
            _ => Status::Pass,
        };
        if status == Status::Pass && evidence.is_empty() {
            let sample = if e.in_scope == "tls-flows" {
                &self.common.tls
            } else {
                &self.common.all
            };
            evidence.push(sample.evidence(
                Status::Pass,
                format!(
                    "{} {noun} in scope, none with a finding that bears on this control",
                    in_scope.flows
                ),
            ));
        }
        evidence.sort_by_key(|e| std::cmp::Reverse(e.effect));
        let summary = self.summary(e, status, noun, in_scope.flows, &evidence);
        ControlResult {
            reference: control.reference.clone(),
            id: control.id.clone(),
            title: control.title.clone(),
            obligation: control.obligation.clone(),
            status,
            summary,
            caveat: control.scope_note.clone(),
            how_decided: e.how_decided.clone(),
            text: control.text.clone(),
            source: control.source.clone(),
            in_scope,
            evidence,
        }
    }

    /// A control's one-paragraph summary: its status in words, with the
    /// items that fail or need review counted, and the mutual TLS tally
    /// where the control is about TLS flows' findings.
    fn summary(
        &self,
        e: &Evaluation,
        status: Status,
        noun: &str,
        flows: u64,
        evidence: &[Evidence],
    ) -> String {
        let c = &self.common;
        let failing = evidence.iter().filter(|e| e.effect == Status::Fail).count();
        let review = evidence
            .iter()
            .filter(|e| e.effect == Status::NeedsReview)
            .count();
        let mut summary = match status {
            Status::NotApplicable => format!("No {noun} in scope were seen."),
            Status::Pass => format!("{flows} {noun} in scope; nothing speaks against the control."),
            Status::NeedsReview => format!(
                "{flows} {noun} in scope; {review} item{} need{} review, none fails the control.",
                plural(review),
                if review == 1 { "s" } else { "" }
            ),
            Status::Fail => format!(
                "{flows} {noun} in scope; {failing} item{} fail{} the control, {review} need{} review.",
                plural(failing),
                if failing == 1 { "s" } else { "" },
                if review == 1 { "s" } else { "" }
            ),
        };
        if e.in_scope == "tls-flows" && c.tls.count > 0 && e.method == "findings" {
            summary.push_str(&format!(
                " Mutual TLS on {} of {} TLS flows ({} without, {} undecided).",
                c.mutual[0], c.tls.count, c.mutual[1], c.mutual[2]
            ));
        }
        summary
    }

    /// `findings`: the findings that name the control, judged by scope.
    fn findings(
        &self,
        control: &Control,
        report: &Report,
    ) -> (Vec<Evidence>, InScope, &'static str) {
        let e = &control.evaluation;
        let c = &self.common;
        let mut out = self.named_findings(control, report);
        let unprotected = match e.unprotected_flows.as_str() {
            "fail" => Some(Status::Fail),
            "review" => Some(Status::NeedsReview),
            _ => None,
        };
        if let Some(effect) = unprotected {
            out.extend(self.unprotected(e, effect));
        }
        let flows = match e.in_scope.as_str() {
            "tls-flows" if unprotected.is_some() => {
                c.tls.count + c.unprotected_public.count + c.unprotected_internal.count
            }
            "tls-flows" => c.tls.count,
            _ => c.all.count,
        };
        let noun = if e.in_scope == "tls-flows" && unprotected.is_none() {
            "TLS flows"
        } else {
            "flows"
        };
        (
            out,
            InScope {
                flows,
                certificates: 0,
            },
            noun,
        )
    }

    /// The findings that name the control: each fails it, or needs review
    /// when waived, of a review-only rule, or on internal addresses only
    /// where the control is about public networks.
    fn named_findings(&self, control: &Control, report: &Report) -> Vec<Evidence> {
        let e = &control.evaluation;
        let mut out = Vec::new();
        for (i, f) in report.findings.iter().enumerate() {
            if !f.controls.contains(&control.reference) {
                continue;
            }
            let public = self
                .finding_flow
                .get(i)
                .copied()
                .flatten()
                .is_some_and(|(_, public)| public);
            let mut reason = format!("{}: {}", f.rule, f.message);
            let effect = if let Some(w) = &f.waived {
                reason.push_str(&format!(" (waived until {}: {})", w.expires, w.reason));
                Status::NeedsReview
            } else if e.review_rules.contains(&f.rule) {
                Status::NeedsReview
            } else if e.scope == "public-networks" && !public {
                reason.push_str(" (internal addresses only: see the caveat)");
                Status::NeedsReview
            } else {
                Status::Fail
            };
            out.push(self.of_finding(i, f, effect, reason));
        }
        out
    }

    /// Plaintext and unproven-encryption flows, with `effect` (those
    /// between internal addresses only need review where the control is
    /// about public networks).
    fn unprotected(&self, e: &Evaluation, effect: Status) -> Vec<Evidence> {
        let c = &self.common;
        let what = "plaintext or of unproven encryption";
        let mut out = Vec::new();
        if c.unprotected_public.count > 0 {
            out.push(c.unprotected_public.evidence(
                effect,
                format!(
                    "{} flows {what}, with a public address",
                    c.unprotected_public.count
                ),
            ));
        }
        if c.unprotected_internal.count > 0 {
            let effect = if e.scope == "public-networks" {
                Status::NeedsReview
            } else {
                effect
            };
            out.push(c.unprotected_internal.evidence(
                effect,
                format!(
                    "{} flows {what}, between internal addresses",
                    c.unprotected_internal.count
                ),
            ));
        }
        out
    }

    /// `certificate-inventory`: every certificate seen, and what kept the
    /// list from being complete.
    fn inventory(
        &self,
        control: &Control,
        report: &Report,
    ) -> (Vec<Evidence>, InScope, &'static str) {
        let c = &self.common;
        let mut out = Vec::new();
        if c.certificates_hidden.count > 0 {
            out.push(c.certificates_hidden.evidence(
                Status::NeedsReview,
                format!(
                    "{} TLS flows showed no certificate (TLS 1.3 encrypts them: give --keylog; or the handshake was not captured), so the list is incomplete",
                    c.certificates_hidden.count
                ),
            ));
        }
        for (i, f) in report.findings.iter().enumerate() {
            if control.evaluation.review_rules.contains(&f.rule)
                && f.controls.contains(&control.reference)
            {
                out.push(self.of_finding(
                    i,
                    f,
                    Status::NeedsReview,
                    format!(
                        "{}: {} (is its issuer in the inventory of trusted certificates?)",
                        f.rule, f.message
                    ),
                ));
            }
        }
        if c.certificates.is_empty() {
            if c.tls.count > 0 {
                out.push(c.tls.evidence(
                    Status::NeedsReview,
                    format!(
                        "{} TLS flows, and no certificate was visible in any",
                        c.tls.count
                    ),
                ));
            }
        } else {
            let listed: Vec<String> = c
                .certificates
                .keys()
                .take(MAX_EVIDENCE_CERTIFICATES)
                .cloned()
                .collect();
            out.push(Evidence {
                effect: Status::Pass,
                reason: format!(
                    "{} distinct certificates seen (leaves and intermediates, both directions), with subject, issuer and expiry in the report: input to the inventory{}",
                    c.certificates.len(),
                    if listed.len() < c.certificates.len() {
                        format!(" (the first {} listed here)", listed.len())
                    } else {
                        String::new()
                    }
                ),
                rule: None,
                finding: None,
                flows: c.tls.flows.clone(),
                more_flows: c.tls.count - c.tls.flows.len() as u64,
                certificates: listed,
            });
        }
        (
            out,
            InScope {
                flows: c.tls.count,
                certificates: c.certificates.len() as u64,
            },
            "TLS flows",
        )
    }

    /// `protocol-inventory`: the protocol versions and cipher suites in use,
    /// one item per combination with its flows, for the entity to document
    /// and review; findings of the control's weak rules say which are weak.
    /// Documenting and reviewing is the entity's act, which the wire
    /// cannot show: seen TLS makes the control `needs-review`, never `pass`.
    fn protocols(
        &self,
        control: &Control,
        report: &Report,
    ) -> (Vec<Evidence>, InScope, &'static str) {
        let c = &self.common;
        let mut out = Vec::new();
        for ((version, suite, kex), sample) in &c.protocols {
            let weak: Vec<&str> = report
                .findings
                .iter()
                .filter(|f| control.evaluation.weak_rules.contains(&f.rule))
                .filter(|f| {
                    let is = |key: &str, want: &str| {
                        f.evidence.get(key).and_then(|v| v.as_str()) == Some(want)
                    };
                    is("version", version) || is("cipher_suite", suite) || is("group", kex)
                })
                .map(|f| f.rule.as_str())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            let verdict = if weak.is_empty() {
                String::new()
            } else {
                format!("; flagged by {}", weak.join(", "))
            };
            out.push(sample.evidence(
                Status::NeedsReview,
                format!(
                    "{version} with {suite}, key exchange {kex}, on {} TLS flow{}{verdict}: document it and review it (input to the inventory)",
                    sample.count,
                    plural(sample.count as usize)
                ),
            ));
        }
        (
            out,
            InScope {
                flows: c.tls.count,
                certificates: 0,
            },
            "TLS flows",
        )
    }

    /// `admin-access`: flows to administrative ports, encrypted and sound.
    fn admin(
        &self,
        e: &Evaluation,
        acc: &Acc,
        report: &Report,
    ) -> (Vec<Evidence>, InScope, &'static str) {
        let mut out = Vec::new();
        for (what, s) in &acc.bad {
            out.push(s.evidence(
                Status::Fail,
                format!(
                    "{} administrative flows ({what}) in plaintext or of unproven encryption",
                    s.count
                ),
            ));
        }
        for &i in &acc.findings {
            let Some(f) = report
                .findings
                .get(i)
                .filter(|f| e.weak_rules.contains(&f.rule))
            else {
                continue;
            };
            let effect = if f.waived.is_some() {
                Status::NeedsReview
            } else {
                Status::Fail
            };
            out.push(self.of_finding(
                i,
                f,
                effect,
                format!("{} on an administrative flow: {}", f.rule, f.message),
            ));
        }
        if acc.good.count > 0 && out.is_empty() {
            out.push(acc.good.evidence(
                Status::Pass,
                format!("{} administrative flows, all TLS or SSH", acc.good.count),
            ));
        }
        (
            out,
            InScope {
                flows: acc.scope.count,
                certificates: 0,
            },
            "administrative flows",
        )
    }

    /// `authentication-in-transit`: cleartext protocols that carry logins
    /// or may carry credentials, and weak TLS.
    fn authentication(
        &self,
        e: &Evaluation,
        acc: &Acc,
        report: &Report,
    ) -> (Vec<Evidence>, InScope, &'static str) {
        let mut out = Vec::new();
        for (proto, s) in &acc.bad {
            out.push(s.evidence(
                Status::Fail,
                format!(
                    "{} cleartext {proto} flows: the protocol begins with a login",
                    s.count
                ),
            ));
        }
        for (proto, s) in &acc.review {
            let reason = if proto == UNPROVEN {
                format!(
                    "{} flows of unproven encryption (neither TLS nor a named protocol)",
                    s.count
                )
            } else {
                format!(
                    "{} cleartext {proto} flows: the protocol can carry passwords or tokens (tls-audit reads no payload)",
                    s.count
                )
            };
            out.push(s.evidence(Status::NeedsReview, reason));
        }
        for (i, f) in report.findings.iter().enumerate() {
            if e.weak_rules.contains(&f.rule) {
                out.push(Evidence {
                    certificates: Vec::new(),
                    ..self.of_finding(
                        i,
                        f,
                        Status::NeedsReview,
                        format!(
                            "{}: {} (authentication factors may cross it)",
                            f.rule, f.message
                        ),
                    )
                });
            }
        }
        (
            out,
            InScope {
                flows: self.common.all.count,
                certificates: 0,
            },
            "flows",
        )
    }

    /// The flow index of finding `i`, if its flow was seen.
    fn flow_of(&self, i: usize) -> Option<u64> {
        self.finding_flow.get(i).copied().flatten().map(|(x, _)| x)
    }

    /// Finding `i` as evidence, with `effect` and `reason`: its rule, its
    /// flow (when seen) and how many more, its certificates.
    fn of_finding(&self, i: usize, f: &Finding, effect: Status, reason: String) -> Evidence {
        Evidence {
            effect,
            reason,
            rule: Some(f.rule.clone()),
            finding: Some(i),
            flows: self.flow_of(i).into_iter().collect(),
            more_flows: f.occurrences.saturating_sub(1),
            certificates: certificate_of(f),
        }
    }

    /// Waivers are findings already; exemptions and checks that could not
    /// run take flows out of the rules that bear on the control: those need
    /// review.
    fn policy_gaps(&self, control: &Control, report: &Report) -> Vec<Evidence> {
        // An input read only in part (damaged, cut, past the decompression
        // cap): the traffic after that point was not seen by any control.
        let mut out: Vec<Evidence> = report
            .inputs
            .iter()
            .filter(|i| !i.complete)
            .map(|i| {
                note(format!(
                    "input {} was read only in part ({} packets; see warnings): traffic after that point was not analysed",
                    i.name, i.packets
                ))
            })
            .collect();
        let Some(v) = &report.verification else {
            return out;
        };
        let bears = |rule: &str| {
            self.catalog
                .rules
                .get(rule)
                .is_some_and(|refs| refs.contains(&control.reference))
        };
        for x in v.exempted.iter().filter(|x| bears(&x.rule)) {
            out.push(note(format!(
                "policy exemption `{}` took {} flows out of {}",
                x.exemption, x.flows, x.rule
            )));
        }
        let mut unchecked: BTreeMap<&str, (u64, Vec<&str>)> = BTreeMap::new();
        for n in v.not_checked.iter().filter(|n| bears(&n.rule)) {
            let entry = unchecked.entry(n.reason.as_str()).or_default();
            entry.0 = entry.0.max(n.flows);
            entry.1.push(n.rule.as_str());
        }
        for (reason, (flows, rules)) in unchecked {
            out.push(note(format!(
                "not checked ({reason}) on {flows} flows: {}",
                rules.join(", ")
            )));
        }
        out
    }
}

fn admin_flow(
    e: &Evaluation,
    acc: &mut Acc,
    index: u64,
    f: &FlowRecord,
    unprotected: bool,
    here: &[usize],
) {
    let proto = f.app_protocol.as_deref().unwrap_or("");
    let by_port = e.admin_ports.contains(&f.server.port);
    if !by_port && !e.admin_protocols.iter().any(|p| p == proto) {
        return;
    }
    acc.scope.add(index);
    if unprotected {
        let what = if proto.is_empty() {
            format!("port {}", f.server.port)
        } else {
            format!("{proto}, port {}", f.server.port)
        };
        acc.bad.entry(what).or_default().add(index);
    } else {
        acc.good.add(index);
    }
    for &i in here {
        if !acc.findings.contains(&i) {
            acc.findings.push(i);
        }
    }
}

fn auth_flow(e: &Evaluation, acc: &mut Acc, index: u64, f: &FlowRecord) {
    match f.protection {
        Protection::Plaintext => {
            let proto = f.app_protocol.as_deref().unwrap_or("");
            if e.login_protocols.iter().any(|p| p == proto) {
                acc.bad.entry(proto.to_string()).or_default().add(index);
            } else if e.credential_protocols.iter().any(|p| p == proto) {
                acc.review.entry(proto.to_string()).or_default().add(index);
            }
        }
        Protection::Unknown => acc.review.entry(UNPROVEN.into()).or_default().add(index),
        _ => {}
    }
}

/// The `review` key of flows whose payload is neither TLS nor named.
const UNPROVEN: &str = "unproven-encryption";

fn note(reason: String) -> Evidence {
    Evidence {
        effect: Status::NeedsReview,
        reason,
        rule: None,
        finding: None,
        flows: Vec::new(),
        more_flows: 0,
        certificates: Vec::new(),
    }
}

/// The certificate a finding is about, if it is a certificate finding.
fn certificate_of(f: &Finding) -> Vec<String> {
    f.evidence
        .get("certificate")
        .and_then(|c| c.get("sha256"))
        .and_then(|s| s.as_str())
        .map(|s| vec![s.to_string()])
        .unwrap_or_default()
}

/// An addressable specification never fails: what would fail it needs
/// review.
fn cap_at_review(evidence: &mut [Evidence]) {
    for ev in evidence.iter_mut().filter(|ev| ev.effect == Status::Fail) {
        ev.effect = Status::NeedsReview;
        ev.reason
            .push_str(" (addressable: needs review, see the caveat)");
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
