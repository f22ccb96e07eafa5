//! The first page an auditor reads: what was audited and what came of it.
//! Cluster, namespaces and pods; each capture by name with its window and
//! duration; the policy, trust bundle and waivers in force; findings by
//! severity; and each framework's controls with their status. Inputs are
//! named by file name (`--full-paths` for the path as given).

use std::fmt::Write;

use super::esc;
use crate::report::model::{Report, Severity};
use crate::report::options::RenderOptions;

/// Pods named on the page at most; the rest are counted.
const MAX_PODS: usize = 50;

/// The summary and scope section.
pub fn scope(r: &Report, opts: &RenderOptions, out: &mut String) {
    out.push_str("<section id=\"scope\" class=\"page\">\n<h2>Summary and scope</h2>\n<table class=\"kv\"><tbody>\n");
    let mut rows = Vec::new();
    audited(r, opts, &mut rows);
    verified(r, opts, &mut rows);
    for (k, v) in rows {
        let _ = writeln!(
            out,
            "<tr><th scope=\"row\">{}</th><td>{v}</td></tr>",
            esc(&k)
        );
    }
    out.push_str("</tbody></table>\n");
    captures(r, opts, out);
    controls(r, out);
    out.push_str("</section>\n");
}

/// The rows on what was audited: the tool, the cluster, its namespaces
/// and pods, the traffic.
fn audited(r: &Report, opts: &RenderOptions, rows: &mut Vec<(String, String)>) {
    let mut row = |k: &str, v: String| rows.push((k.to_string(), v));
    let m = r.metadata.as_ref();
    row(
        "report",
        format!(
            "{} {}{}",
            esc(&r.tool.name),
            esc(&r.tool.version),
            m.and_then(|m| m.rendered_from.as_ref())
                .map(|s| format!(
                    "; rendered from {} ({} bytes, SHA-256 {})",
                    esc(&display_name(&s.name, opts.full_paths)),
                    s.bytes,
                    id(&s.sha256)
                ))
                .unwrap_or_default()
        ),
    );
    row(
        "cluster",
        m.and_then(|m| m.cluster.as_deref())
            .map_or_else(|| "not named (--cluster-name)".into(), esc),
    );
    if let Some(m) = m {
        row(
            "namespaces",
            if m.namespaces.is_empty() {
                "none identified (no pod snapshot)".into()
            } else {
                esc(&m.namespaces.join(", "))
            },
        );
        let mut pods: Vec<String> = m
            .pods
            .iter()
            .take(MAX_PODS)
            .map(|p| id(&format!("{}/{}", p.namespace, p.name)))
            .collect();
        if m.pods.len() > MAX_PODS {
            pods.push(format!("and {} more", m.pods.len() - MAX_PODS));
        }
        row(
            &format!("pods ({})", m.pods.len()),
            if pods.is_empty() {
                "none identified".into()
            } else {
                pods.join(", ")
            },
        );
    }
    let totals = format!(
        "{} flows ({} TLS, {} mutual TLS), {} packets",
        r.stats.flows, r.stats.tls_flows, r.stats.mutual_tls_flows, r.stats.packets
    );
    row("traffic", totals);
}

/// The rows on what it was judged by: policy, trust bundle, waivers,
/// findings, baseline.
fn verified(r: &Report, opts: &RenderOptions, rows: &mut Vec<(String, String)>) {
    let mut row = |k: &str, v: String| rows.push((k.to_string(), v));
    if let Some(v) = &r.verification {
        row(
            "policy",
            format!(
                "{} (SHA-256 {}), evaluated {}",
                esc(&display_name(&v.policy.source, opts.full_paths)),
                id(&v.policy.sha256),
                id(&v.evaluated_at)
            ),
        );
        if let Some(t) = &v.trust_bundle {
            row(
                "trust bundle",
                format!(
                    "{} ({} anchors)",
                    esc(&display_name(&t.path, opts.full_paths)),
                    t.anchors
                ),
            );
        }
        let active: Vec<String> = v
            .waivers
            .iter()
            .filter(|w| w.status == "active")
            .map(|w| {
                format!(
                    "{} {} until {}: {}",
                    w.index + 1,
                    id(&w.rule),
                    id(&w.expires),
                    esc(&w.reason)
                )
            })
            .collect();
        row(
            "waivers in force",
            if active.is_empty() {
                "none".into()
            } else {
                active.join("<br>")
            },
        );
        let counts: Vec<String> = Severity::ALL
            .iter()
            .rev()
            .map(|s| {
                format!(
                    "<span class=\"nowrap\">{} {}</span>",
                    v.counts.get(s.as_str()).copied().unwrap_or(0),
                    s.as_str()
                )
            })
            .collect();
        row(
            "findings",
            format!(
                "{}, <span class=\"nowrap\">{} waived</span>",
                counts.join(", "),
                v.waived
            ),
        );
        if let Some(b) = &v.baseline {
            row(
                "baseline",
                format!(
                    "{} (SHA-256 {}): {} new, {} unchanged, {} fixed; {}",
                    esc(&display_name(&b.report.name, opts.full_paths)),
                    id(&b.report.sha256),
                    b.new,
                    b.unchanged,
                    b.fixed,
                    esc(&b.gate_scope)
                ),
            );
        }
    } else {
        row(
            "verification",
            "not verified: the report holds facts only".into(),
        );
    }
}

/// Captures by name, with their windows and durations.
fn captures(r: &Report, opts: &RenderOptions, out: &mut String) {
    out.push_str(
        "<h3>Captures</h3>\n<table><thead><tr><th class=\"num\">#</th><th>input</th><th>format</th>\
         <th class=\"num\">packets</th><th>first packet</th><th>last packet</th><th class=\"num\">duration</th></tr></thead><tbody>\n",
    );
    for (n, i) in r.inputs.iter().enumerate() {
        let duration = match (&i.first_packet, &i.last_packet) {
            (Some(a), Some(b)) => match (micros(a), micros(b)) {
                (Some(a), Some(b)) => human_micros(b - a),
                _ => "unknown".into(),
            },
            _ => "not recorded".into(),
        };
        let _ = writeln!(
            out,
            "<tr><td class=\"num\">{}</td><td>{}{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td></tr>",
            n + 1,
            id(&display_name(&i.name, opts.full_paths)),
            if i.complete {
                ""
            } else {
                " <strong>(incomplete)</strong>"
            },
            esc(&i.format),
            i.packets,
            i.first_packet.as_deref().map_or_else(|| "–".into(), id),
            i.last_packet.as_deref().map_or_else(|| "–".into(), id),
            esc(&duration)
        );
    }
    out.push_str("</tbody></table>\n");
}

/// Each framework's controls and their status.
fn controls(r: &Report, out: &mut String) {
    if let Some(c) = &r.compliance {
        for fw in &c.frameworks {
            let counts: Vec<String> = fw
                .counts
                .iter()
                .filter(|(_, n)| **n > 0)
                .map(|(k, n)| format!("{n} {}", esc(&k.replace('-', " "))))
                .collect();
            let _ = writeln!(
                out,
                "<h3>{} {}: {}</h3>\n<table><thead><tr><th>control</th><th>title</th><th>status</th><th class=\"num\">in scope</th></tr></thead><tbody>",
                esc(&fw.framework),
                esc(&fw.version),
                counts.join(", ")
            );
            for k in &fw.controls {
                let _ = writeln!(
                    out,
                    "<tr><td><a class=\"id\" href=\"#control-{}\">{}</a></td><td>{}</td><td><span class=\"status {}\">{}</span></td><td class=\"num\">{}</td></tr>",
                    super::sections::slug(&k.reference),
                    esc(&k.id),
                    esc(&k.title),
                    k.status.as_str(),
                    k.status.label(),
                    k.in_scope.flows
                );
            }
            out.push_str("</tbody></table>\n");
            let _ = writeln!(out, "<p class=\"muted\">{}</p>", esc(&fw.document));
        }
    }
}

/// An identifier or number that must not wrap: kept on one line, cut with
/// an ellipsis when long, the whole value in the tooltip.
pub fn id(s: &str) -> String {
    let e = esc(s);
    format!("<span class=\"id\" title=\"{e}\">{e}</span>")
}

/// The file name of a path, unless the whole path is wanted.
fn display_name(name: &str, full: bool) -> String {
    if full || name.starts_with('<') {
        return name.to_string();
    }
    name.rsplit(['/', '\\'])
        .next()
        .filter(|n| !n.is_empty())
        .unwrap_or(name)
        .to_string()
}

/// An RFC 3339 time in microseconds since the epoch.
fn micros(s: &str) -> Option<i64> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1000).ok()
}

/// A duration in microseconds, for people (`3.887 ms`, `42.1 s`, `2 h 5 min`).
fn human_micros(us: i64) -> String {
    match us {
        us if us < 0 => "unknown".into(),
        us if us < 1_000 => format!("{us} µs"),
        us if us < 1_000_000 => format!("{:.3} ms", us as f64 / 1e3),
        us if us < 60_000_000 => format!("{:.3} s", us as f64 / 1e6),
        us => super::charts::human(us / 1_000_000),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_durations() {
        assert_eq!(display_name("/captures/day1/a.pcap", false), "a.pcap");
        assert_eq!(
            display_name("/captures/day1/a.pcap", true),
            "/captures/day1/a.pcap"
        );
        assert_eq!(display_name("<stdin>", false), "<stdin>");
        assert_eq!(human_micros(3_887), "3.887 ms");
        assert_eq!(human_micros(12), "12 µs");
        assert_eq!(human_micros(-1), "unknown");
    }
}
