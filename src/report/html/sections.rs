//! The static sections of the page: header and audit trail, summary
//! charts, compliance views, findings, certificate inventory, warnings.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::charts::{self, Bar, Lifetime, Stack};
use super::esc;
use super::flows::FlowIndex;
use crate::model::time::parse_time;
use crate::report::compliance::Status;
use crate::report::model::{Report, Severity};

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
pub fn header(r: &Report, out: &mut String) {
    out.push_str("<header>\n<h1>tls-audit report</h1>\n");
    out.push_str("<nav class=\"toc\"><a href=\"#scope\">Summary and scope</a><a href=\"#summary\">Traffic</a>");
    if r.compliance.is_some() {
        out.push_str("<a href=\"#compliance\">Compliance</a>");
    }
    out.push_str(
        "<a href=\"#findings\">Findings</a><a href=\"#certificates\">Certificates</a><a href=\"#flows\">Flows</a></nav>\n",
    );
    match r.verification.as_ref() {
        None => out.push_str(
            "<div class=\"banner none\">Not verified: the report holds facts only; no rule ran.</div>\n",
        ),
        Some(v) => match (&v.gate, v.fail_on) {
            (Some(g), Some(on)) => {
                let over = r
                    .findings
                    .iter()
                    .filter(|f| f.waived.is_none() && f.severity >= on)
                    .count();
                let class = g.as_str();
                let _ = writeln!(
                    out,
                    "<div class=\"banner {class}\">Gate {}: {over} unwaived finding{} at or above {} (--fail-on {}).</div>",
                    esc(&g.as_str().to_uppercase()),
                    if over == 1 { "" } else { "s" },
                    on.as_str(),
                    on.as_str()
                );
            }
            _ => out.push_str(
                "<div class=\"banner none\">No gate (--fail-on not given).</div>\n",
            ),
        },
    }
    out.push_str("</header>\n");
}

/// The rule, linked to its page when the catalogue knows it.
fn rule_link(id: &str, docs: &str) -> String {
    match crate::report::links::rule_url(id, docs) {
        Some(url) => format!("<a class=\"id\" href=\"{}\">{}</a>", esc(&url), esc(id)),
        None => esc(id),
    }
}

/// The three summary pictures.
pub fn summary(r: &Report, out: &mut String) {
    let s = &r.stats;
    let _ = write!(
        out,
        "<section id=\"summary\">\n<h2>Summary</h2>\n<p>{} flows ({} TLS, {} mutual TLS) in {} packets.</p>\n<div class=\"cards\">\n",
        s.flows, s.tls_flows, s.mutual_tls_flows, s.packets
    );
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
    let _ = writeln!(
        out,
        "<div class=\"card\"><h3>Flows by protection</h3>{}</div>",
        charts::bars("Flows by protection", &bars)
    );
    let mut rows: Vec<(String, [u64; 4])> = ns.into_iter().collect();
    rows.sort_by(|a, b| {
        b.1.iter()
            .sum::<u64>()
            .cmp(&a.1.iter().sum::<u64>())
            .then(a.0.cmp(&b.0))
    });
    let shown = rows.len().min(15);
    let stacks: Vec<Stack<'_>> = rows[..shown]
        .iter()
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
    let _ = writeln!(
        out,
        "<div class=\"card\"><h3>Mutual TLS by server namespace</h3>{}\
         <div class=\"legend\"><span><i class=\"k-mtls\"></i>mutual TLS</span><span><i class=\"k-one\"></i>TLS, no client certificate</span>\
         <span><i class=\"k-undecided\"></i>undecided</span><span><i class=\"k-none\"></i>not TLS</span></div>{}</div>",
        charts::stacks(
            "Mutual TLS coverage by server namespace (share of flows)",
            &stacks
        ),
        if rows.len() > shown {
            format!(
                "<p class=\"muted\">{} more namespaces not drawn.</p>",
                rows.len() - shown
            )
        } else {
            String::new()
        }
    );
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
    let _ = writeln!(
        out,
        "<div class=\"card\"><h3>Findings by severity</h3>{}</div>",
        charts::bars("Distinct findings by severity", &sev)
    );
    out.push_str("</div>\n");
    lifetimes(r, out);
    out.push_str("</section>\n");
}

/// Leaf certificates: validity against the presenting pod's age.
fn lifetimes(r: &Report, out: &mut String) {
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
    let _ = writeln!(
        out,
        "<div class=\"card\"><h3>Certificate lifetime against pod lifetime</h3>\
         <p class=\"muted\">Blue: how long the leaf certificate is valid. Grey: how long the pod presenting it had run when it was seen. \
         Workload certificates should live about as long as their pods (hours), not for years.</p>{}{}</div>",
        charts::lifetimes("Certificate validity against pod age", &rows),
        if more > 0 {
            format!("<p class=\"muted\">{more} more certificates not drawn.</p>")
        } else {
            String::new()
        }
    );
}

fn ratio(l: &Lifetime) -> f64 {
    l.validity as f64 / l.pod_age.unwrap_or(i64::MAX).max(1) as f64
}

/// The compliance views: each control, its status, why, the caveat, and
/// its evidence linked.
pub fn compliance(r: &Report, out: &mut String) {
    let Some(c) = &r.compliance else { return };
    out.push_str("<section id=\"compliance\">\n<h2>Compliance</h2>\n");
    let _ = writeln!(
        out,
        "<p class=\"muted\">Statuses are decided from the wire and are input to an assessment, not the assessment. {}</p>",
        esc(&c.about)
    );
    for fw in &c.frameworks {
        let _ = write!(
            out,
            "<h3 id=\"compliance-{}\">{} {}</h3>\n<p>",
            esc(&fw.key),
            esc(&fw.framework),
            esc(&fw.version)
        );
        for s in Status::ALL {
            let n = fw.counts.get(s.as_str()).copied().unwrap_or(0);
            let _ = write!(
                out,
                "<span class=\"status {}\">{} {}</span> ",
                s.as_str(),
                n,
                s.label()
            );
        }
        let _ = writeln!(
            out,
            "<span class=\"muted\">· {}</span></p>",
            esc(&fw.document)
        );
        for k in &fw.controls {
            let _ = write!(
                out,
                "<article class=\"control {0}\" id=\"control-{1}\"><h4>{2} · {3} <span class=\"status {0}\">{4}</span> <span class=\"muted\">({5})</span></h4>\
                 <p>{6}</p><p class=\"caveat\"><strong>Scope caveat:</strong> {7}</p>",
                k.status.as_str(),
                esc(&slug(&k.reference)),
                esc(&k.id),
                esc(&k.title),
                k.status.label(),
                esc(&k.obligation),
                esc(&k.summary),
                esc(&k.caveat)
            );
            if !k.evidence.is_empty() {
                out.push_str("<ul class=\"evidence\">");
                for e in &k.evidence {
                    let _ = write!(
                        out,
                        "<li><span class=\"status {}\">{}</span> {}",
                        e.effect.as_str(),
                        e.effect.label(),
                        esc(&e.reason)
                    );
                    if let Some(f) = e.finding {
                        let _ = write!(out, " · <a href=\"#finding-{f}\">finding {}</a>", f + 1);
                    }
                    if !e.flows.is_empty() {
                        out.push_str(" · flows ");
                        for (i, f) in e.flows.iter().enumerate() {
                            let _ = write!(
                                out,
                                "{}<a href=\"#flow-{f}\">{}</a>",
                                if i > 0 { ", " } else { "" },
                                f + 1
                            );
                        }
                        if e.more_flows > 0 {
                            let _ = write!(out, " and {} more", e.more_flows);
                        }
                    }
                    if !e.certificates.is_empty() {
                        out.push_str(" · certificates ");
                        for (i, fp) in e.certificates.iter().take(20).enumerate() {
                            let _ = write!(
                                out,
                                "{}<a class=\"mono\" href=\"#cert-{}\">{}</a>",
                                if i > 0 { ", " } else { "" },
                                esc(fp),
                                esc(&fp.chars().take(12).collect::<String>())
                            );
                        }
                        if e.certificates.len() > 20 {
                            let _ = write!(out, " and {} more", e.certificates.len() - 20);
                        }
                    }
                    out.push_str("</li>");
                }
                out.push_str("</ul>");
            }
            let _ = writeln!(
                out,
                "<details><summary>Control text, how the status is decided, source</summary>\
                 <p><em>{}</em></p><p>{}</p><p class=\"muted\">Source: {}</p></details></article>",
                esc(&k.text),
                esc(&k.how_decided),
                esc(&k.source)
            );
        }
    }
    out.push_str("</section>\n");
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
pub fn findings(r: &Report, index: &FlowIndex<'_>, docs: &str, out: &mut String) {
    let _ = write!(
        out,
        "<section id=\"findings\">\n<h2>Findings ({})</h2>\n",
        r.findings.len()
    );
    if r.findings.is_empty() {
        out.push_str("<p>No findings.</p>\n</section>\n");
        return;
    }
    out.push_str(
        "<div class=\"table-wrap\"><table><thead><tr><th>#</th><th>severity</th><th>rule</th><th>subject</th>\
         <th>message</th><th class=\"num\">flows</th><th>evidence</th></tr></thead><tbody>\n",
    );
    for (i, f) in r.findings.iter().enumerate() {
        let flow = match index.finding_flow.get(i).copied().flatten() {
            Some(n) => format!("<a href=\"#flow-{n}\">flow {}</a>", n + 1),
            None => format!(
                "{} → {} at {}",
                esc(&f.flow.client),
                esc(&f.flow.server),
                esc(&f.flow.first_seen.to_string())
            ),
        };
        let cert = f
            .evidence
            .get("certificate")
            .and_then(|c| c.get("sha256"))
            .and_then(|s| s.as_str())
            .map(|fp| {
                format!(
                    " · <a class=\"mono\" href=\"#cert-{}\">certificate {}</a>",
                    esc(fp),
                    esc(&fp.chars().take(12).collect::<String>())
                )
            })
            .unwrap_or_default();
        let waived = f
            .waived
            .as_ref()
            .map(|w| {
                format!(
                    "<br><em>waived until {}: {}</em>",
                    esc(&w.expires),
                    esc(&w.reason)
                )
            })
            .unwrap_or_default();
        // Line by line: the pretty JSON's own line breaks stay breaks
        // (esc would show them as `\n`); text inside it is escaped.
        let evidence = serde_json::to_string_pretty(&f.evidence)
            .unwrap_or_default()
            .lines()
            .map(esc)
            .collect::<Vec<_>>()
            .join("\n");
        let _ = writeln!(
            out,
            "<tr id=\"finding-{i}\"><td class=\"num\">{number}</td><td><span class=\"sev {sev}\">{sev}</span></td><td class=\"nowrap\">{rule}</td>\
             <td class=\"nowrap\">{subject}</td><td>{message}{waived}<br><span class=\"muted\">{fix}</span>{controls}</td><td class=\"num\">{n}</td>\
             <td>{flow}{cert}<details><summary>facts</summary><pre class=\"evidence\">{evidence}</pre></details></td></tr>",
            number = i + 1,
            sev = f.severity.as_str(),
            rule = rule_link(&f.rule, docs),
            subject = esc(&format!("{} ({})", f.subject.label(), f.subject.role)),
            message = esc(&f.message),
            fix = esc(&f.remediation),
            controls = if f.controls.is_empty() {
                String::new()
            } else {
                format!(
                    "<br><span class=\"muted\">controls: {}</span>",
                    esc(&f.controls.join("; "))
                )
            },
            n = f.occurrences,
            evidence = evidence,
        );
    }
    out.push_str("</tbody></table></div>\n</section>\n");
}

/// Every certificate seen, leaf or not, with where it was seen.
pub fn certificates(_r: &Report, index: &FlowIndex<'_>, out: &mut String) {
    let _ = write!(
        out,
        "<section id=\"certificates\">\n<h2>Certificate inventory ({})</h2>\n\
         <p class=\"muted\">Every certificate seen in a handshake, both directions: input to the inventory PCI DSS 4.2.1.1 asks for (issuing CA and expiry included). TLS 1.3 hides certificates unless a key log was given.</p>\n",
        index.certificates.len()
    );
    if index.certificates.is_empty() {
        out.push_str("<p>No certificate was visible.</p>\n</section>\n");
        return;
    }
    out.push_str(
        "<div class=\"table-wrap\"><table><thead><tr><th>SHA-256</th><th>subject</th><th>issuer</th><th>names</th>\
         <th>valid from</th><th>valid until</th><th>key</th><th>signature</th><th>CA</th><th class=\"num\">flows</th><th>presented by</th></tr></thead><tbody>\n",
    );
    for (fp, c) in &index.certificates {
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
        let _ = writeln!(
            out,
            "<tr id=\"cert-{fp}\"><td class=\"mono\" title=\"{fp}\">{short}…</td><td>{subject}</td><td>{issuer}</td><td>{names}</td>\
             <td class=\"nowrap\">{nb}</td><td class=\"nowrap\">{na}</td><td>{key}</td><td>{sig}</td><td>{ca}</td><td class=\"num\"><a href=\"#flow-{first}\">{flows}</a></td><td>{who}</td></tr>",
            fp = esc(fp),
            short = esc(&fp.chars().take(16).collect::<String>()),
            subject = esc(k.subject.as_deref().unwrap_or("")),
            issuer = esc(k.issuer.as_deref().unwrap_or("")),
            names = esc(&names.join(", ")),
            nb = esc(k.not_before.as_deref().unwrap_or("")),
            na = esc(k.not_after.as_deref().unwrap_or("")),
            key = esc(&key),
            sig = esc(k.signature_algorithm.as_deref().unwrap_or("")),
            ca = match k.is_ca {
                Some(true) => "yes",
                Some(false) => "no",
                None => "",
            },
            first = c.first_flow,
            flows = c.flows,
            who = esc(&c.presenters.join(", ")),
        );
    }
    out.push_str("</tbody></table></div>\n</section>\n");
}

/// The report's warnings.
pub fn warnings(r: &Report, out: &mut String) {
    if r.warnings.is_empty() {
        return;
    }
    out.push_str("<section id=\"warnings\">\n<h2>Warnings</h2>\n<ul>");
    for w in &r.warnings {
        let _ = write!(
            out,
            "<li><code>{}</code> {}</li>",
            esc(w.kind.as_str()),
            esc(&w.message)
        );
    }
    out.push_str("</ul>\n</section>\n");
}
