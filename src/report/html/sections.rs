//! The static sections of the page: header and audit trail, summary
//! charts, compliance views, findings, certificate inventory, warnings.

use super::charts::{self, Bar, Lifetime, Stack};
use super::flows::{CertSeen, FlowIndex};
use super::markup::{Html, html};
use crate::model::compliance::Evidence;
use crate::model::time::parse_time;
use crate::report::compliance::Status;
use crate::report::model::{Finding, Report, Severity};
use std::collections::BTreeMap;

/// Colours of the charts (the same as the page's CSS).
mod colour {
    pub const TLS: &str = "#2e8540";
    pub const PLAINTEXT: &str = "#c62828";
    pub const UNKNOWN: &str = "#e08a00";
    pub const TUNNEL: &str = "#1f7a8c";
    pub const OTHER: &str = "#8a949e";
    pub const CRITICAL: &str = "#7b1fa2";
    pub const LOW: &str = "#1f6fb2";
}

fn protection_colour(p: &str) -> &'static str {
    match p {
        "tls" => colour::TLS,
        "plaintext" => colour::PLAINTEXT,
        "unknown" => colour::UNKNOWN,
        "ssh" | "ipsec" | "wireguard" => colour::TUNNEL,
        _ => colour::OTHER,
    }
}

fn severity_colour(s: Severity) -> &'static str {
    match s {
        Severity::Critical => colour::CRITICAL,
        Severity::High => colour::PLAINTEXT,
        Severity::Medium => colour::UNKNOWN,
        Severity::Low => colour::LOW,
        Severity::Info => colour::OTHER,
    }
}

/// Title, verdict, table of contents and the audit trail.
pub fn header(r: &Report, out: &mut Html) {
    html!(out; "<header>\n<h1>tls-audit report</h1>\n"
        "<nav class=\"toc\"><a href=\"#scope\">Summary and scope</a><a href=\"#summary\">Traffic</a>");
    if r.compliance.is_some() {
        html!(out; "<a href=\"#compliance\">Compliance</a>");
    }
    html!(out;
        "<a href=\"#findings\">Findings</a><a href=\"#certificates\">Certificates</a><a href=\"#flows\">Flows</a></nav>\n");
    match r.verification.as_ref() {
        None => html!(out;
            "<div class=\"banner none\">Not verified: the report holds facts only; no rule ran.</div>\n"),
        Some(v) => match (&v.gate, v.fail_on) {
            (Some(g), Some(on)) => {
                let over = r
                    .findings
                    .iter()
                    .filter(|f| f.waived.is_none() && f.severity >= on)
                    .count();
                html!(out; "<div class=\"banner " (g.as_str()) "\">Gate " (g.as_str().to_uppercase())
                    ": " (over) " unwaived finding" (if over == 1 { "" } else { "s" })
                    " at or above " (on.as_str()) " (--fail-on " (on.as_str()) ").</div>\n");
            }
            _ => html!(out; "<div class=\"banner none\">No gate (--fail-on not given).</div>\n"),
        },
    }
    html!(out; "</header>\n");
}

/// The rule, linked to its page when the catalogue knows it.
fn rule_link(id: &str, docs: &str) -> Html {
    let mut out = Html::new();
    match crate::report::links::rule_url(id, docs) {
        Some(url) => html!(&mut out; "<a class=\"id\" href=\"" (url) "\">" (id) "</a>"),
        None => html!(&mut out; (id)),
    }
    out
}

/// The three summary pictures.
pub fn summary(r: &Report, out: &mut Html) {
    let s = &r.stats;
    html!(out; "<section id=\"summary\">\n<h2>Summary</h2>\n<p>" (s.flows) " flows (" (s.tls_flows) " TLS, "
        (s.mutual_tls_flows) " mutual TLS) in " (s.packets) " packets.</p>\n<div class=\"cards\">\n");
    let mut protection: BTreeMap<&str, u64> = BTreeMap::new();
    let mut ns: BTreeMap<String, [u64; 4]> = BTreeMap::new();
    for f in &r.flows {
        *protection.entry(f.protection.as_str()).or_default() += 1;
        let key = f
            .server
            .pod
            .as_ref()
            .map_or_else(|| "(no known pod)".to_string(), |p| p.namespace.clone());
        let t = ns.entry(key).or_default();
        match f
            .tls
            .as_ref()
            .filter(|_| f.protection == crate::model::Protection::Tls)
            .map(|t| t.mutual)
        {
            Some(Some(true)) => t[0] += 1,
            Some(Some(false)) => t[1] += 1,
            Some(None) => t[2] += 1,
            None => t[3] += 1,
        }
    }
    let bars: Vec<Bar<'_>> = protection
        .iter()
        .map(|(p, n)| Bar {
            label: p.to_string(),
            value: *n,
            colour: protection_colour(p),
        })
        .collect();
    html!(out; "<div class=\"card\"><h3>Flows by protection</h3>"
        (charts::bars("Flows by protection", &bars)) "</div>\n");
    namespaces(ns, out);
    let mut sev: Vec<Bar<'_>> = Vec::new();
    for s in Severity::ALL.iter().rev() {
        let n = r
            .findings
            .iter()
            .filter(|f| f.waived.is_none() && f.severity == *s)
            .count() as u64;
        sev.push(Bar {
            label: s.as_str().to_string(),
            value: n,
            colour: severity_colour(*s),
        });
    }
    sev.push(Bar {
        label: "waived".into(),
        value: r.findings.iter().filter(|f| f.waived.is_some()).count() as u64,
        colour: colour::OTHER,
    });
    html!(out; "<div class=\"card\"><h3>Findings by severity</h3>"
        (charts::bars("Distinct findings by severity", &sev)) "</div>\n" "</div>\n");
    lifetimes(r, out);
    html!(out; "</section>\n");
}

/// Mutual TLS per server namespace: the 15 with the most flows drawn.
fn namespaces(ns: BTreeMap<String, [u64; 4]>, out: &mut Html) {
    let mut rows: Vec<(String, [u64; 4])> = ns.into_iter().collect();
    rows.sort_by(|a, b| {
        b.1.iter()
            .sum::<u64>()
            .cmp(&a.1.iter().sum::<u64>())
            .then(a.0.cmp(&b.0))
    });
    let shown = rows.len().min(15);
    let stacks: Vec<Stack<'_>> = rows
        .iter()
        .take(shown)
        .map(|(name, t)| Stack {
            label: name.clone(),
            parts: vec![
                (t[0], colour::TLS, "mutual TLS"),
                (t[1], colour::PLAINTEXT, "TLS without client certificate"),
                (t[2], colour::UNKNOWN, "mutual TLS undecided"),
                (t[3], colour::OTHER, "not TLS"),
            ],
        })
        .collect();
    html!(out; "<div class=\"card\"><h3>Mutual TLS by server namespace</h3>"
        (charts::stacks("Mutual TLS coverage by server namespace (share of flows)", &stacks))
        "<div class=\"legend\"><span><i class=\"k-mtls\"></i>mutual TLS</span><span><i class=\"k-one\"></i>TLS, no client certificate</span>\
         <span><i class=\"k-undecided\"></i>undecided</span><span><i class=\"k-none\"></i>not TLS</span></div>");
    if rows.len() > shown {
        html!(out; "<p class=\"muted\">" (rows.len() - shown) " more namespaces not drawn.</p>");
    }
    html!(out; "</div>\n");
}

/// Leaf certificates: validity against the presenting pod's age.
fn lifetimes(r: &Report, out: &mut Html) {
    let index = FlowIndex::new(r);
    let starts: BTreeMap<(&str, &str), i64> = r
        .metadata
        .iter()
        .flat_map(|m| &m.pods)
        .filter_map(|p| {
            let t = parse_time(p.started.as_deref()?)?;
            Some(((p.namespace.as_str(), p.name.as_str()), t))
        })
        .collect();
    let mut rows: Vec<Lifetime> = index
        .certificates
        .iter()
        .filter(|(_, c)| c.leaf && c.cert.is_ca != Some(true))
        .filter_map(|(fp, c)| {
            // The Unix-time fields are not serialised: a report read back has the text only.
            let from = parse_time(c.cert.not_before.as_deref()?)?;
            let until = parse_time(c.cert.not_after.as_deref()?)?;
            let validity = until - from;
            let seen = Some(c.seen_at.unix_seconds());
            let pod_age = match (c.pod, seen) {
                (Some(pod), Some(at)) => starts.get(&pod).map(|start| at - start),
                _ => None,
            };
            let who = c
                .pod
                .map(|(ns, name)| format!("{ns}/{name}"))
                .or_else(|| c.presenters.first().cloned())
                .unwrap_or_default();
            let name = c.cert.subject.as_deref().unwrap_or("(no subject)");
            Some(Lifetime {
                label: format!("{who} · {name}"),
                validity,
                pod_age,
                anchor: format!("cert-{fp}"),
            })
        })
        .collect();
    if rows.is_empty() {
        return;
    }
    rows.sort_by(|a, b| ratio(b).total_cmp(&ratio(a)).then(a.label.cmp(&b.label)));
    let more = rows.len().saturating_sub(30);
    rows.truncate(30);
    html!(out; "<div class=\"card\"><h3>Certificate lifetime against pod lifetime</h3>\
         <p class=\"muted\">Blue: how long the leaf certificate is valid. Grey: how long the pod presenting it had run when it was seen. \
         Workload certificates should live about as long as their pods (hours), not for years.</p>"
        (charts::lifetimes("Certificate validity against pod age", &rows)));
    if more > 0 {
        html!(out; "<p class=\"muted\">" (more) " more certificates not drawn.</p>");
    }
    html!(out; "</div>\n");
}

fn ratio(l: &Lifetime) -> f64 {
    l.validity as f64 / l.pod_age.unwrap_or(i64::MAX).max(1) as f64
}

/// The compliance views: each control, its status, why, the caveat, and
/// its evidence linked.
pub fn compliance(r: &Report, out: &mut Html) {
    let Some(c) = &r.compliance else { return };
    html!(out; "<section id=\"compliance\">\n<h2>Compliance</h2>\n"
        "<p class=\"muted\">Statuses are decided from the wire and are input to an assessment, not the assessment. "
        (c.about) "</p>\n");
    for fw in &c.frameworks {
        html!(out; "<h3 id=\"compliance-" (fw.key) "\">" (fw.framework) " " (fw.version) "</h3>\n<p>");
        for s in Status::ALL {
            let n = fw.counts.get(s.as_str()).copied().unwrap_or(0);
            html!(out; "<span class=\"status " (s.as_str()) "\">" (n) " " (s.label()) "</span> ");
        }
        html!(out; "<span class=\"muted\">· " (fw.document) "</span></p>\n");
        for k in &fw.controls {
            let status = k.status.as_str();
            html!(out; "<article class=\"control " (status) "\" id=\"control-" (slug(&k.reference)) "\"><h4>"
                (k.id) " · " (k.title) " <span class=\"status " (status) "\">" (k.status.label())
                "</span> <span class=\"muted\">(" (k.obligation) ")</span></h4><p>" (k.summary)
                "</p><p class=\"caveat\"><strong>Scope caveat:</strong> " (k.caveat) "</p>");
            if !k.evidence.is_empty() {
                html!(out; "<ul class=\"evidence\">");
                for e in &k.evidence {
                    evidence(e, out);
                }
                html!(out; "</ul>");
            }
            html!(out; "<details><summary>Control text, how the status is decided, source</summary>\
                 <p><em>" (k.text) "</em></p><p>" (k.how_decided) "</p><p class=\"muted\">Source: " (k.source)
                "</p></details></article>\n");
        }
    }
    html!(out; "</section>\n");
}

/// One piece of a control's evidence, its finding, flows and certificates linked.
fn evidence(e: &Evidence, out: &mut Html) {
    html!(out; "<li><span class=\"status " (e.effect.as_str()) "\">" (e.effect.label())
        "</span> " (e.reason));
    if let Some(f) = e.finding {
        html!(out; " · <a href=\"#finding-" (f) "\">finding " (f + 1) "</a>");
    }
    if !e.flows.is_empty() {
        html!(out; " · flows ");
        for (i, f) in e.flows.iter().enumerate() {
            if i > 0 {
                html!(out; ", ");
            }
            html!(out; "<a href=\"#flow-" (f) "\">" (f + 1) "</a>");
        }
        if e.more_flows > 0 {
            html!(out; " and " (e.more_flows) " more");
        }
    }
    if !e.certificates.is_empty() {
        html!(out; " · certificates ");
        for (i, fp) in e.certificates.iter().take(20).enumerate() {
            if i > 0 {
                html!(out; ", ");
            }
            html!(out; "<a class=\"mono\" href=\"#cert-" (fp) "\">" (prefix(fp, 12)) "</a>");
        }
        if e.certificates.len() > 20 {
            html!(out; " and " (e.certificates.len() - 20) " more");
        }
    }
    html!(out; "</li>");
}

/// The first `n` characters of `s`.
fn prefix(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// `PCI DSS 4.0.1 4.2.1` → `pci-dss-4-0-1-4-2-1`.
pub(super) fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

/// Findings, most severe first, each linked to its flow and certificate.
pub fn findings(r: &Report, index: &FlowIndex<'_>, docs: &str, out: &mut Html) {
    html!(out; "<section id=\"findings\">\n<h2>Findings (" (r.findings.len()) ")</h2>\n");
    if r.findings.is_empty() {
        html!(out; "<p>No findings.</p>\n</section>\n");
        return;
    }
    html!(out; "<div class=\"table-wrap\"><table><thead><tr><th>#</th><th>severity</th><th>rule</th><th>subject</th>\
         <th>message</th><th class=\"num\">flows</th><th>evidence</th></tr></thead><tbody>\n");
    for (i, f) in r.findings.iter().enumerate() {
        finding(i, f, index, docs, out);
    }
    html!(out; "</tbody></table></div>\n</section>\n");
}

/// One finding's row.
fn finding(i: usize, f: &Finding, index: &FlowIndex<'_>, docs: &str, out: &mut Html) {
    let sev = f.severity.as_str();
    let subject = format!("{} ({})", f.subject.label(), f.subject.role);
    html!(out; "<tr id=\"finding-" (i) "\"><td class=\"num\">" (i + 1)
        "</td><td><span class=\"sev " (sev) "\">" (sev)
        "</span></td><td class=\"nowrap\">" (rule_link(&f.rule, docs))
        "</td><td class=\"nowrap\">" (subject) "</td><td>" (f.message));
    if let Some(w) = &f.waived {
        html!(out; "<br><em>waived until " (w.expires) ": " (w.reason) "</em>");
    }
    html!(out; "<br><span class=\"muted\">" (f.remediation) "</span>");
    if !f.controls.is_empty() {
        html!(out; "<br><span class=\"muted\">controls: " (f.controls.join("; ")) "</span>");
    }
    html!(out; "</td><td class=\"num\">" (f.occurrences) "</td><td>");
    match index.finding_flow.get(i).copied().flatten() {
        Some(n) => html!(out; "<a href=\"#flow-" (n) "\">flow " (n + 1) "</a>"),
        None => html!(out; (f.flow.client) " → " (f.flow.server) " at " (f.flow.first_seen)),
    }
    let cert = f
        .evidence
        .get("certificate")
        .and_then(|c| c.get("sha256"))
        .and_then(|s| s.as_str());
    if let Some(fp) = cert {
        html!(out; " · <a class=\"mono\" href=\"#cert-" (fp) "\">certificate " (prefix(fp, 12)) "</a>");
    }
    html!(out; "<details><summary>facts</summary><pre class=\"evidence\">");
    // Line by line: the pretty JSON's own line breaks stay breaks
    // (escaping would show them as `\n`); text inside it is escaped.
    let evidence = serde_json::to_string_pretty(&f.evidence).unwrap_or_default();
    for (n, line) in evidence.lines().enumerate() {
        if n > 0 {
            html!(out; "\n");
        }
        html!(out; (line));
    }
    html!(out; "</pre></details></td></tr>\n");
}

/// Every certificate seen, leaf or not, with where it was seen.
pub fn certificates(_r: &Report, index: &FlowIndex<'_>, out: &mut Html) {
    html!(out; "<section id=\"certificates\">\n<h2>Certificate inventory (" (index.certificates.len()) ")</h2>\n\
         <p class=\"muted\">Every certificate seen in a handshake, both directions: input to the inventory PCI DSS 4.2.1.1 asks for (issuing CA and expiry included). TLS 1.3 hides certificates unless a key log was given.</p>\n");
    if index.certificates.is_empty() {
        html!(out; "<p>No certificate was visible.</p>\n</section>\n");
        return;
    }
    html!(out; "<div class=\"table-wrap\"><table><thead><tr><th>SHA-256</th><th>subject</th><th>issuer</th><th>names</th>\
         <th>valid from</th><th>valid until</th><th>key</th><th>signature</th><th>CA</th><th class=\"num\">flows</th><th>presented by</th></tr></thead><tbody>\n");
    for (fp, c) in &index.certificates {
        certificate(fp, c, out);
    }
    html!(out; "</tbody></table></div>\n</section>\n");
}

/// One certificate's row.
fn certificate(fp: &str, c: &CertSeen<'_>, out: &mut Html) {
    let k = c.cert.as_ref();
    let names: Vec<&str> = k
        .dns_names
        .iter()
        .chain(&k.uris)
        .chain(&k.ip_addresses)
        .chain(&k.emails)
        .map(String::as_str)
        .collect();
    let key = match (&k.key_type, k.key_bits, &k.ec_curve) {
        (Some(t), _, Some(curve)) => format!("{t} {curve}"),
        (Some(t), Some(b), None) => format!("{t} {b}"),
        (Some(t), None, None) => t.clone(),
        _ => String::new(),
    };
    let ca = match k.is_ca {
        Some(true) => "yes",
        Some(false) => "no",
        None => "",
    };
    html!(out; "<tr id=\"cert-" (fp) "\"><td class=\"mono\" title=\"" (fp) "\">" (prefix(fp, 16))
        "…</td><td>" (text(&k.subject)) "</td><td>" (text(&k.issuer)) "</td><td>" (names.join(", "))
        "</td><td class=\"nowrap\">" (text(&k.not_before)) "</td><td class=\"nowrap\">" (text(&k.not_after))
        "</td><td>" (key) "</td><td>" (text(&k.signature_algorithm)) "</td><td>" (ca)
        "</td><td class=\"num\"><a href=\"#flow-" (c.first_flow) "\">" (c.flows) "</a></td><td>"
        (c.presenters.join(", ")) "</td></tr>\n");
}

/// The text of an optional field, empty when absent.
fn text(s: &Option<String>) -> &str {
    s.as_deref().unwrap_or("")
}

/// The report's warnings.
pub fn warnings(r: &Report, out: &mut Html) {
    if r.warnings.is_empty() {
        return;
    }
    html!(out; "<section id=\"warnings\">\n<h2>Warnings</h2>\n<ul>");
    for w in &r.warnings {
        html!(out; "<li><code>" (w.kind.as_str()) "</code> " (w.message) "</li>");
    }
    html!(out; "</ul>\n</section>\n");
}
