//! The first page an auditor reads: what was audited and what came of it.
//! Cluster, namespaces and pods; each capture by name with its window and
//! duration; the policy, trust bundle and waivers in force; findings by
//! severity; and each framework's controls with their status. Inputs are
//! named by file name (`--full-paths` for the path as given).

use super::markup::{Html, html};
use crate::report::model::{Report, Severity};
use crate::report::options::RenderOptions;

/// Pods named on the page at most; the rest are counted.
const MAX_PODS: usize = 50;

/// A row of the scope table: its heading (text) and value (markup).
type Row = (String, Html);

/// The summary and scope section.
pub fn scope(r: &Report, opts: &RenderOptions, out: &mut Html) {
    html!(out; "<section id=\"scope\" class=\"page\">\n<h2>Summary and scope</h2>\n<table class=\"kv\"><tbody>\n");
    let mut rows = Vec::new();
    audited(r, opts, &mut rows);
    verified(r, opts, &mut rows);
    for (k, v) in rows {
        html!(out; "<tr><th scope=\"row\">" (k) "</th><td>" (v) "</td></tr>\n");
    }
    html!(out; "</tbody></table>\n");
    captures(r, opts, out);
    controls(r, out);
    html!(out; "</section>\n");
}

/// Markup of `text`, escaped.
fn text(text: &str) -> Html {
    let mut out = Html::new();
    html!(&mut out; (text));
    out
}

/// The rows on what was audited: the tool, the cluster, its namespaces
/// and pods, the traffic.
fn audited(r: &Report, opts: &RenderOptions, rows: &mut Vec<Row>) {
    let mut row = |k: &str, v: Html| rows.push((k.to_string(), v));
    let m = r.metadata.as_ref();
    let mut report = Html::new();
    html!(&mut report; (r.tool.name) " " (r.tool.version));
    if let Some(s) = m.and_then(|m| m.rendered_from.as_ref()) {
        html!(&mut report; "; rendered from " (display_name(&s.name, opts.full_paths)) " (" (s.bytes)
            " bytes, SHA-256 " (id(&s.sha256)) ")");
    }
    row("report", report);
    row(
        "cluster",
        m.and_then(|m| m.cluster.as_deref())
            .map_or_else(|| text("not named (--cluster-name)"), text),
    );
    if let Some(m) = m {
        row(
            "namespaces",
            if m.namespaces.is_empty() {
                text("none identified (no pod snapshot)")
            } else {
                text(&m.namespaces.join(", "))
            },
        );
        let mut pods: Vec<Html> = m
            .pods
            .iter()
            .take(MAX_PODS)
            .map(|p| id(&format!("{}/{}", p.namespace, p.name)))
            .collect();
        if m.pods.len() > MAX_PODS {
            pods.push(text(&format!("and {} more", m.pods.len() - MAX_PODS)));
        }
        row(
            &format!("pods ({})", m.pods.len()),
            if pods.is_empty() {
                text("none identified")
            } else {
                Html::join(pods, ", ")
            },
        );
    }
    let mut totals = Html::new();
    let s = &r.stats;
    html!(&mut totals; (s.flows) " flows (" (s.tls_flows) " TLS, " (s.mutual_tls_flows) " mutual TLS), "
        (s.packets) " packets");
    row("traffic", totals);
}

/// The rows on what it was judged by: policy, trust bundle, waivers,
/// findings, baseline.
fn verified(r: &Report, opts: &RenderOptions, rows: &mut Vec<Row>) {
    let mut row = |k: &str, v: Html| rows.push((k.to_string(), v));
    let Some(v) = &r.verification else {
        row(
            "verification",
            text("not verified: the report holds facts only"),
        );
        return;
    };
    let mut policy = Html::new();
    html!(&mut policy; (display_name(&v.policy.source, opts.full_paths)) " (SHA-256 " (id(&v.policy.sha256))
        "), evaluated " (id(&v.evaluated_at)));
    row("policy", policy);
    if let Some(t) = &v.trust_bundle {
        let mut bundle = Html::new();
        html!(&mut bundle; (display_name(&t.path, opts.full_paths)) " (" (t.anchors) " anchors)");
        row("trust bundle", bundle);
    }
    let active: Vec<Html> = v
        .waivers
        .iter()
        .filter(|w| w.status == "active")
        .map(|w| {
            let mut h = Html::new();
            html!(&mut h; (w.index + 1) " " (id(&w.rule)) " until " (id(&w.expires)) ": " (w.reason));
            h
        })
        .collect();
    row(
        "waivers in force",
        if active.is_empty() {
            text("none")
        } else {
            Html::join(active, "<br>")
        },
    );
    let counts = Severity::ALL.iter().rev().map(|s| {
        let mut h = Html::new();
        let n = v.counts.get(s.as_str()).copied().unwrap_or(0);
        html!(&mut h; "<span class=\"nowrap\">" (n) " " (s.as_str()) "</span>");
        h
    });
    let mut findings = Html::join(counts, ", ");
    html!(&mut findings; ", <span class=\"nowrap\">" (v.waived) " waived</span>");
    row("findings", findings);
    if let Some(b) = &v.baseline {
        let mut baseline = Html::new();
        html!(&mut baseline;
            (display_name(&b.report.name, opts.full_paths)) " (SHA-256 " (id(&b.report.sha256)) "): "
            (b.new) " new, " (b.unchanged) " unchanged, " (b.fixed) " fixed; " (b.gate_scope));
        row("baseline", baseline);
    }
}

/// Captures by name, with their windows and durations.
fn captures(r: &Report, opts: &RenderOptions, out: &mut Html) {
    html!(out; "<h3>Captures</h3>\n<table><thead><tr><th class=\"num\">#</th><th>input</th><th>format</th>\
         <th class=\"num\">packets</th><th>first packet</th><th>last packet</th><th class=\"num\">duration</th></tr></thead><tbody>\n");
    for (n, i) in r.inputs.iter().enumerate() {
        let duration = match (&i.first_packet, &i.last_packet) {
            (Some(a), Some(b)) => match (micros(a), micros(b)) {
                (Some(a), Some(b)) => human_micros(b - a),
                _ => "unknown".into(),
            },
            _ => "not recorded".into(),
        };
        let time = |t: &Option<String>| t.as_deref().map_or_else(|| text("–"), id);
        let name = display_name(&i.name, opts.full_paths);
        html!(out; "<tr><td class=\"num\">" (n + 1) "</td><td>" (id(&name)));
        if !i.complete {
            html!(out; " <strong>(incomplete)</strong>");
        }
        html!(out; "</td><td>" (i.format) "</td><td class=\"num\">" (i.packets)
            "</td><td>" (time(&i.first_packet)) "</td><td>" (time(&i.last_packet))
            "</td><td class=\"num\">" (duration) "</td></tr>\n");
    }
    html!(out; "</tbody></table>\n");
}

/// Each framework's controls and their status.
fn controls(r: &Report, out: &mut Html) {
    let Some(c) = &r.compliance else { return };
    for fw in &c.frameworks {
        let counts = fw.counts.iter().filter(|(_, n)| **n > 0).map(|(k, n)| {
            let mut h = Html::new();
            html!(&mut h; (n) " " (k.replace('-', " ")));
            h
        });
        html!(out; "<h3>" (fw.framework) " " (fw.version) ": " (Html::join(counts, ", "))
            "</h3>\n<table><thead><tr><th>control</th><th>title</th><th>status</th><th class=\"num\">in scope</th></tr></thead><tbody>\n");
        for k in &fw.controls {
            let anchor = super::sections::slug(&k.reference);
            html!(out; "<tr><td><a class=\"id\" href=\"#control-" (anchor) "\">" (k.id)
                "</a></td><td>" (k.title)
                "</td><td><span class=\"status " (k.status.as_str()) "\">" (k.status.label())
                "</span></td><td class=\"num\">" (k.in_scope.flows) "</td></tr>\n");
        }
        html!(out; "</tbody></table>\n<p class=\"muted\">" (fw.document) "</p>\n");
    }
}

/// An identifier or number that must not wrap: kept on one line, cut with
/// an ellipsis when long, the whole value in the tooltip.
pub fn id(s: &str) -> Html {
    let mut out = Html::new();
    html!(&mut out; "<span class=\"id\" title=\"" (s) "\">" (s) "</span>");
    out
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
