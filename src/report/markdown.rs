//! A Markdown summary for pull-request comments and CI job summaries
//! (GitHub-flavoured: pipe tables). It answers what a reviewer asks first:
//! did the gate pass, what was found and where, what could not be checked,
//! and what the traffic looked like. The JSON report stays the record; this
//! is its cover page.
//!
//! Everything that may have come off the wire or out of the cluster (SNI
//! and certificate names inside messages, pod names, input paths, waiver
//! reasons) is escaped before it is written: control characters are shown
//! as escapes (as in the terminal table), `<`, `>` and `&` become entities
//! so no HTML gets through, and the characters Markdown gives meaning to
//! (`\`, `` ` ``, `*`, `_`, `[`, `]`, `|`, `~`, `$`) are backslash-escaped,
//! so a hostile name can neither break a table row nor start a link, an
//! emphasis, a code span or (on GitHub) a formula. `://` and `www.` are
//! broken up so that no URL in such a string becomes a link (an address
//! like `a@b.example` still becomes a `mailto:` link under GFM, which
//! builds those after escapes are resolved).

use std::collections::BTreeMap;
use std::fmt::Write;

use super::model::{Finding, Report, Severity, Subject};
use super::options::RenderOptions;
use super::sanitize;

/// Finding rows written at most; the rest are counted. Findings come most
/// severe first, and a PR comment must stay under GitHub's 65,536
/// characters (a report may hold 5,000 findings).
pub const MAX_FINDING_ROWS: usize = 100;

/// Render the report as a Markdown summary (ending in a newline).
pub fn render_markdown(report: &Report) -> String {
    render_markdown_with(report, &RenderOptions::default())
}

/// [`render_markdown`], rule ids linked under `opts.docs_url`.
pub fn render_markdown_with(report: &Report, opts: &RenderOptions) -> String {
    let docs = opts.docs_url.as_str();
    let mut out = String::from("## tls-audit report\n\n");
    gate(report, &mut out);
    header(report, &mut out);
    findings(report, docs, &mut out);
    checks(report, docs, &mut out);
    compliance(report, &mut out);
    probes(report, &mut out);
    enrichment(report, &mut out);
    flows(report, &mut out);
    super::inventory::markdown_section(report, &mut out);
    if !report.warnings.is_empty() {
        out.push_str("\n### Warnings\n\n");
        for w in &report.warnings {
            let _ = writeln!(out, "- {}: {}", md(w.kind.as_str()), md(&w.message));
        }
    }
    out
}

fn gate(r: &Report, out: &mut String) {
    let Some(v) = &r.verification else {
        out.push_str("**Not verified**: the report holds facts only; no rule ran.\n");
        return;
    };
    match (&v.gate, v.fail_on) {
        (Some(gate), Some(on)) => {
            let over = r
                .findings
                .iter()
                .filter(|f| f.counts_for_gate() && f.severity >= on)
                .count();
            let new = if v.baseline.is_some() { " new" } else { "" };
            let _ = writeln!(
                out,
                "**Gate {}** (`--fail-on {}`): {over}{new} unwaived finding{} at or above {}.",
                md(&gate.as_str().to_uppercase()),
                on.as_str(),
                plural(over as u64),
                on.as_str()
            );
        }
        _ => out.push_str("**No gate** (`--fail-on` not given).\n"),
    }
    if let Some(b) = &v.baseline {
        let _ = writeln!(
            out,
            "\nAgainst the baseline `{}`: **{} new**, {} unchanged, {} fixed; {}.",
            md(&b.report.name),
            b.new,
            b.unchanged,
            b.fixed,
            md(&b.gate_scope)
        );
    }
}

fn header(r: &Report, out: &mut String) {
    let _ = write!(out, "\n{} {}", md(&r.tool.name), md(&r.tool.version));
    if let Some(v) = &r.verification {
        let short: String = v.policy.sha256.chars().take(12).collect();
        let _ = write!(
            out,
            " · policy {} (sha256 {}) · evaluated {}",
            md(&v.policy.source),
            md(&short),
            md(&v.evaluated_at)
        );
        if let Some(i) = &v.inventory {
            let _ = write!(out, " · inventory {} pods, {} nodes", i.pods, i.nodes);
        }
        if let Some(t) = &v.trust_bundle {
            let _ = write!(
                out,
                " · trust bundle {} ({} anchors)",
                md(&t.path),
                t.anchors
            );
        }
    }
    if let Some(m) = &r.metadata {
        if let Some(c) = &m.cluster {
            let _ = write!(out, " · cluster {}", md(c));
        }
        if !m.namespaces.is_empty() {
            let _ = write!(out, " · namespaces {}", md(&m.namespaces.join(", ")));
        }
        if let Some(src) = &m.rendered_from {
            let short: String = src.sha256.chars().take(12).collect();
            let _ = write!(
                out,
                " · rendered from {} (sha256 {})",
                md(&src.name),
                md(&short)
            );
        }
    }
    out.push_str("\n\n| input | format | packets | complete |\n|---|---|---:|---|\n");
    for i in &r.inputs {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            md(&i.name),
            md(&i.format),
            i.packets,
            if i.complete { "yes" } else { "**no**" }
        );
    }
}

fn findings(r: &Report, docs: &str, out: &mut String) {
    let Some(v) = &r.verification else {
        return;
    };
    out.push_str("\n### Findings\n\n");
    out.push_str("| critical | high | medium | low | info | waived |\n");
    out.push_str("|---:|---:|---:|---:|---:|---:|\n|");
    for s in Severity::ALL.iter().rev() {
        let _ = write!(out, " {} |", v.counts.get(s.as_str()).copied().unwrap_or(0));
    }
    let _ = writeln!(out, " {} |", v.waived);
    if v.findings_dropped > 0 {
        let _ = writeln!(
            out,
            "\n**{} more distinct findings were not kept** (limit reached); the counts are incomplete.",
            v.findings_dropped
        );
    }
    if r.findings.is_empty() {
        out.push_str("\nNo findings.\n");
        return;
    }
    let baseline = v.baseline.is_some();
    out.push_str("\n| severity | rule | subject | message | occurrences | waived |");
    out.push_str(if baseline { " baseline |\n" } else { "\n" });
    out.push_str("|---|---|---|---|---:|---|");
    out.push_str(if baseline { "---|\n" } else { "\n" });
    for f in r.findings.iter().take(MAX_FINDING_ROWS) {
        let _ = write!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            f.severity.as_str(),
            rule_link(&f.rule, docs),
            subject(&f.subject),
            md(&f.message),
            f.occurrences,
            waived(f)
        );
        if baseline {
            let state = f.baseline.map_or("", |b| b.as_str());
            let _ = write!(out, " {state} |");
        }
        out.push('\n');
    }
    if let Some(more) = r
        .findings
        .len()
        .checked_sub(MAX_FINDING_ROWS)
        .filter(|n| *n > 0)
    {
        let _ = writeln!(
            out,
            "\n{more} more finding{} not shown here; the JSON report has them all.",
            plural(more as u64)
        );
    }
}

fn checks(r: &Report, docs: &str, out: &mut String) {
    let Some(v) = &r.verification else {
        return;
    };
    if !v.not_checked.is_empty() {
        out.push_str("\n### Not checked\n\n| rule | reason | flows |\n|---|---|---:|\n");
        for n in &v.not_checked {
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                rule_link(&n.rule, docs),
                md(&n.reason),
                n.flows
            );
        }
    }
    if !v.exempted.is_empty() {
        out.push_str("\n### Exemptions\n\n| rule | exemption | flows |\n|---|---|---:|\n");
        for e in &v.exempted {
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                rule_link(&e.rule, docs),
                md(&e.exemption),
                e.flows
            );
        }
    }
    if !v.waivers.is_empty() {
        out.push_str(
            "\n### Waivers\n\n| # | rule | reason | expires | status | matched |\n|---:|---|---|---|---|---:|\n",
        );
        for w in &v.waivers {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                w.index,
                rule_link(&w.rule, docs),
                md(&w.reason),
                md(&w.expires),
                md(&w.status),
                w.matched
            );
        }
    }
}

/// One table per framework: control, status, why, and the caveat.
fn compliance(r: &Report, out: &mut String) {
    let Some(c) = &r.compliance else {
        return;
    };
    for fw in &c.frameworks {
        let _ = writeln!(
            out,
            "\n### Compliance: {} {}\n\n| control | title | status | why | caveat |\n|---|---|---|---|---|",
            md(&fw.framework),
            md(&fw.version)
        );
        for k in &fw.controls {
            let _ = writeln!(
                out,
                "| {} | {} | **{}** | {} | {} |",
                md(&k.id),
                md(&k.title),
                k.status.label(),
                md(&k.summary),
                md(&k.caveat)
            );
        }
    }
    out.push_str("\nStatuses are decided from the wire and are input to an assessment, not the assessment; the JSON report lists each control's evidence.\n");
}

/// Mutual TLS tallies for one server namespace.
#[derive(Default)]
struct Tally {
    flows: u64,
    not_tls: u64,
    yes: u64,
    no: u64,
    unknown: u64,
}

/// What `tls-audit probe` learned, a row per endpoint.
fn probes(r: &Report, out: &mut String) {
    if r.probes.is_empty() {
        return;
    }
    out.push_str(
        "\n### Probed endpoints\n\n| endpoint | pod | versions accepted | weak suites accepted | client certificate | plaintext |\n|---|---|---|---|---|---|\n",
    );
    for p in &r.probes {
        let pod = p
            .pod
            .as_ref()
            .map(|pod| md(&format!("{}/{}", pod.namespace, pod.name)))
            .unwrap_or_default();
        if let Some(e) = &p.error {
            let _ = writeln!(
                out,
                "| {} | {pod} | not probed: {} | | | |",
                md(&p.target),
                md(&format!("{} ({})", e.kind, e.message))
            );
            continue;
        }
        let pick = |v: Vec<&str>| {
            if v.is_empty() {
                "none".to_string()
            } else {
                md(&v.join(", "))
            }
        };
        let versions = pick(p.accepted_versions());
        let weak = pick(p.accepted_weak_suites());
        let plaintext = match p.plaintext.accepted {
            Some(true) => "**accepted**",
            Some(false) => "refused",
            None => "no answer",
        };
        let _ = writeln!(
            out,
            "| {} | {pod} | {versions} | {weak} | {} | {plaintext} |",
            md(&p.target),
            md(&p.client_auth.policy)
        );
    }
}

/// Rows of the enrichment table written at most.
const MAX_ENRICHED_ROWS: usize = 500;

/// `--enrich probe`: where the hidden chains came from, an endpoint a row.
fn enrichment(r: &Report, out: &mut String) {
    use super::enrichment::ENDPOINT_COLUMNS;
    let Some(e) = &r.enrichment else {
        return;
    };
    let _ = writeln!(out, "\n### Identity enrichment\n\n{}\n", md(&e.summary()));
    if e.endpoints.is_empty() {
        return;
    }
    let head: Vec<String> = ENDPOINT_COLUMNS
        .iter()
        .map(|c| c.replace('_', " "))
        .collect();
    let _ = writeln!(out, "| {} |", head.join(" | "));
    let _ = writeln!(
        out,
        "|{}",
        ENDPOINT_COLUMNS
            .iter()
            .map(|c| if *c == "flows" { "---:|" } else { "---|" })
            .collect::<String>()
    );
    for ep in e.endpoints.iter().take(MAX_ENRICHED_ROWS) {
        let cells: Vec<String> = ep.cells().iter().map(|c| md(c)).collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    if e.endpoints.len() > MAX_ENRICHED_ROWS {
        let _ = writeln!(
            out,
            "\n{} more endpoints in the JSON report.",
            e.endpoints.len() - MAX_ENRICHED_ROWS
        );
    }
}

fn flows(r: &Report, out: &mut String) {
    let s = &r.stats;
    let _ = writeln!(
        out,
        "\n### Flows\n\n{} flow{} ({} TLS, {} mutual TLS) in {} packets.",
        s.flows,
        plural(s.flows),
        s.tls_flows,
        s.mutual_tls_flows,
        s.packets
    );
    if r.flows.is_empty() {
        return;
    }
    let mut protection: BTreeMap<&str, u64> = BTreeMap::new();
    // Keyed by namespace; `None` (flows to no known pod) sorts first and is
    // written last.
    let mut by_ns: BTreeMap<Option<&str>, Tally> = BTreeMap::new();
    for f in &r.flows {
        *protection.entry(f.protection.as_str()).or_default() += 1;
        let t = by_ns
            .entry(f.server.pod.as_ref().map(|p| p.namespace.as_str()))
            .or_default();
        t.flows += 1;
        match f
            .tls
            .as_ref()
            .filter(|_| f.protection == crate::model::Protection::Tls)
        {
            None => t.not_tls += 1,
            Some(tls) => match tls.mutual {
                Some(true) => t.yes += 1,
                Some(false) => t.no += 1,
                None => t.unknown += 1,
            },
        }
    }
    out.push_str("\n| protection | flows |\n|---|---:|\n");
    for (p, n) in &protection {
        let _ = writeln!(out, "| {} | {n} |", md(p));
    }
    if by_ns.keys().all(Option::is_none) {
        return;
    }
    out.push_str(
        "\n| server namespace | flows | not TLS | mTLS yes | mTLS no | mTLS unknown |\n\
         |---|---:|---:|---:|---:|---:|\n",
    );
    let rows = by_ns
        .iter()
        .filter(|(k, _)| k.is_some())
        .chain(by_ns.iter().filter(|(k, _)| k.is_none()));
    for (ns, t) in rows {
        let name = ns.map_or_else(|| "_no known pod_".to_string(), md);
        let _ = writeln!(
            out,
            "| {name} | {} | {} | {} | {} | {} |",
            t.flows, t.not_tls, t.yes, t.no, t.unknown
        );
    }
}

/// The rule, linked to its page when the catalogue knows it (only known
/// ids go into a link target).
fn rule_link(id: &str, docs: &str) -> String {
    super::links::rule_markdown(id, docs)
}

/// The subject: its pod, else the server's `ip:port`, else the client's
/// address; then its role.
fn subject(s: &Subject) -> String {
    let who = s.label();
    let node = match (&s.pod, &s.node) {
        (None, Some(n)) => format!(", node {n}"),
        _ => String::new(),
    };
    md(&format!("{who} ({}{node})", s.role))
}

fn waived(f: &Finding) -> String {
    match &f.waived {
        Some(w) => format!("yes: {} (until {})", md(&w.reason), md(&w.expires)),
        None => "no".into(),
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Escape text for Markdown table cells and lines; see the module
/// documentation for what and why.
pub fn md(s: &str) -> String {
    let chars: Vec<char> = sanitize(s).chars().collect();
    let mut out = String::with_capacity(chars.len());
    for (i, &c) in chars.iter().enumerate() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' | '$' => {
                out.push('\\');
                out.push(c);
            }
            // `scheme://` and `www.` would become links.
            ':' if chars.get(i + 1) == Some(&'/') => out.push_str("\\:"),
            '.' if i >= 3
                && chars[i - 3..i]
                    .iter()
                    .collect::<String>()
                    .eq_ignore_ascii_case("www") =>
            {
                out.push_str("\\.")
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::md;

    /// Probed endpoints, from the records of a real run.
    #[test]
    fn probed_endpoints_are_a_table() {
        let mut r: crate::report::Report = serde_json::from_str(
            r#"{"schema":"tls-audit/report/v1","tool":{"name":"tls-audit","version":"0"},"inputs":[],
            "stats":{"packets":0,"bytes":0,"flows":0,"tls_flows":0,"mutual_tls_flows":0,"evicted_flows":0,
            "packets_after_close":0,"truncated_packets":0,"decode_errors":{},"tunnelled_packets":{},
            "ip_fragments_reassembled":0,"ip_fragments_dropped":0,"other_ip_packets":0},"warnings":[],"flows":[]}"#,
        )
        .unwrap();
        r.probes = serde_json::from_str(include_str!("testdata/probes.json")).unwrap();
        let text = super::render_markdown(&r);
        let rows: Vec<&str> = text
            .split("### Probed endpoints")
            .nth(1)
            .expect("the section")
            .lines()
            .filter(|l| l.starts_with("| 127"))
            .collect();
        assert_eq!(rows.len(), 2, "{text}");
        assert!(
            rows[0].contains("| TLS1.3, TLS1.2 | cbc | optional | refused |"),
            "{}",
            rows[0]
        );
        assert!(rows[1].contains("not probed: refused"), "{}", rows[1]);
    }

    #[test]
    fn escapes_markdown_and_html() {
        assert_eq!(
            md("a|b <i>*x*</i> `c` [l](u) _e_ ~s~ $m$ \\ & https://x www.y"),
            "a\\|b &lt;i&gt;\\*x\\*&lt;/i&gt; \\`c\\` \\[l\\](u) \\_e\\_ \\~s\\~ \\$m\\$ \\\\ &amp; https\\://x www\\.y"
        );
        assert_eq!(md("l1\nl2\u{1b}"), "l1\\\\nl2\\\\u{1b}");
        assert_eq!(md("api.pay.svc"), "api.pay.svc");
    }
}
