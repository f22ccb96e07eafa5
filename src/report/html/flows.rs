//! The flow table: a JSON island of rows and the empty table the page's
//! script fills, a page at a time; and the index that ties findings and
//! certificates to flows.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::{Value, json};

use super::markup::{Html, html, json_island};
use crate::model::time::CaptureTime;
use crate::report::model::{Endpoint, FlowRecord, Report};
use crate::x509::Certificate;

/// Where each finding's first flow and each certificate are in the report.
pub struct FlowIndex<'r> {
    /// Finding index → flow index.
    pub finding_flow: Vec<Option<usize>>,
    /// Flow index → first finding about it.
    pub flow_finding: HashMap<usize, usize>,
    /// Certificate digest → what is known of it, in digest order.
    pub certificates: BTreeMap<&'r str, CertSeen<'r>>,
}

/// A certificate and where it was seen.
pub struct CertSeen<'r> {
    /// The certificate.
    pub cert: &'r Arc<Certificate>,
    /// Flows that carried it.
    pub flows: u64,
    /// The first of them.
    pub first_flow: usize,
    /// Who presented it (pod, else address), a few.
    pub presenters: Vec<String>,
    /// Sent as a leaf (first in its chain).
    pub leaf: bool,
    /// The first flow's first packet, and the presenter's pod, if a leaf.
    pub seen_at: CaptureTime,
    /// The presenting pod (namespace, name), if known.
    pub pod: Option<(&'r str, &'r str)>,
}

/// Presenters listed per certificate at most.
const MAX_PRESENTERS: usize = 5;

impl<'r> FlowIndex<'r> {
    /// Index `report`.
    pub fn new(report: &'r Report) -> Self {
        let mut by_origin: HashMap<(String, String, CaptureTime), usize> = HashMap::new();
        let mut certificates: BTreeMap<&str, CertSeen<'r>> = BTreeMap::new();
        for (i, f) in report.flows.iter().enumerate() {
            by_origin
                .entry((f.client.socket(), f.server.socket(), f.first_seen))
                .or_insert(i);
            let Some(tls) = &f.tls else { continue };
            for (chain, end, server) in [
                (&tls.server_chain, &f.server, true),
                (&tls.client_chain, &f.client, false),
            ] {
                for (pos, cert) in chain.iter().enumerate() {
                    let who = end_label(end, server);
                    let seen = certificates
                        .entry(cert.sha256.as_str())
                        .or_insert(CertSeen {
                            cert,
                            flows: 0,
                            first_flow: i,
                            presenters: Vec::new(),
                            leaf: false,
                            seen_at: f.first_seen,
                            pod: None,
                        });
                    seen.flows += 1;
                    if pos == 0 {
                        seen.leaf = true;
                        if seen.pod.is_none() {
                            seen.pod = end
                                .pod
                                .as_ref()
                                .map(|p| (p.namespace.as_str(), p.name.as_str()));
                            seen.seen_at = f.first_seen;
                        }
                    }
                    if seen.presenters.len() < MAX_PRESENTERS && !seen.presenters.contains(&who) {
                        seen.presenters.push(who);
                    }
                }
            }
        }
        let finding_flow: Vec<Option<usize>> = report
            .findings
            .iter()
            .map(|f| {
                by_origin
                    .get(&(
                        f.flow.client.clone(),
                        f.flow.server.clone(),
                        f.flow.first_seen,
                    ))
                    .copied()
            })
            .collect();
        let mut flow_finding = HashMap::new();
        for (fi, flow) in finding_flow.iter().enumerate() {
            if let Some(flow) = flow {
                flow_finding.entry(*flow).or_insert(fi);
            }
        }
        FlowIndex {
            finding_flow,
            flow_finding,
            certificates,
        }
    }
}

/// A flow end for people: its pod, else its address (with the port of a server).
pub fn end_label(e: &Endpoint, server: bool) -> String {
    match (&e.pod, &e.node) {
        (Some(p), _) => p.label(),
        (None, Some(n)) if server => format!("{} (node {n})", e.socket()),
        (None, Some(n)) => format!("{} (node {n})", e.ip),
        (None, None) if server => e.socket(),
        (None, None) => e.ip.clone(),
    }
}

/// The columns of the flow table: key, heading, numeric.
const COLUMNS: [(&str, &str, bool); 13] = [
    ("index", "#", true),
    ("first_seen", "first packet", false),
    ("client", "client", false),
    ("server", "server", false),
    ("transport", "transport", false),
    ("protection", "protection", false),
    ("app", "application", false),
    ("version", "TLS", false),
    ("cipher", "cipher suite", false),
    ("sni", "SNI", false),
    ("mtls", "mTLS", false),
    ("cert", "server certificate", false),
    ("finding", "finding", false),
];

fn row(i: usize, f: &FlowRecord, index: &FlowIndex<'_>) -> Value {
    let tls = f.tls.as_deref();
    let mtls = match tls.map(|t| t.mutual) {
        None => "",
        Some(Some(true)) => "yes",
        Some(Some(false)) => "no",
        Some(None) => "unknown",
    };
    json!([
        i,
        f.first_seen,
        end_label(&f.client, false),
        end_label(&f.server, true),
        f.transport,
        f.protection,
        f.app_protocol
            .as_deref()
            .or(tls.and_then(|t| t.alpn.as_deref()))
            .unwrap_or(""),
        tls.and_then(|t| t.version.as_deref()).unwrap_or(""),
        tls.and_then(|t| t.cipher_suite.as_deref()).unwrap_or(""),
        tls.and_then(|t| t.sni.as_deref()).unwrap_or(""),
        mtls,
        // A chain obtained by `--enrich probe`, not off the wire, says so.
        tls.and_then(|t| {
            let leaf = t.server_chain.first()?;
            let probed = t
                .enrichment
                .as_deref()
                .is_some_and(|e| e.server_chain_source.is_some());
            Some(if probed {
                format!("{} (probed)", leaf.sha256)
            } else {
                leaf.sha256.clone()
            })
        })
        .unwrap_or_default(),
        index
            .flow_finding
            .get(&i)
            .map(|n| n.to_string())
            .unwrap_or_default(),
    ])
}

/// The flow table section.
pub fn table(report: &Report, index: &FlowIndex<'_>, out: &mut Html) {
    let columns: Vec<Value> = COLUMNS
        .iter()
        .map(|(k, h, n)| json!({"key": k, "heading": h, "numeric": n}))
        .collect();
    let rows: Vec<Value> = report
        .flows
        .iter()
        .enumerate()
        .map(|(i, f)| row(i, f, index))
        .collect();
    let mut protections: Vec<&str> = report.flows.iter().map(|f| f.protection.as_str()).collect();
    protections.sort_unstable();
    protections.dedup();
    html!(out; "<section id=\"flows\">\n<h2>Flows (" (report.flows.len()) ")</h2>\n\
         <p class=\"muted\">Sort by a column heading; filter on any text (words must all match). 100 flows per page; links to a flow open its page.</p>\n\
         <div class=\"controls-bar\"><input type=\"search\" id=\"flow-filter\" placeholder=\"filter: pod, address, SNI, cipher…\" aria-label=\"filter flows\">\
         <select id=\"flow-protection\" aria-label=\"protection\"><option value=\"\">any protection</option>");
    for p in protections {
        html!(out; "<option value=\"" (p) "\">" (p) "</option>");
    }
    html!(out; "</select><button type=\"button\" id=\"flow-prev\">◀ previous</button>\
         <button type=\"button\" id=\"flow-next\">next ▶</button><span id=\"flow-info\" class=\"muted\"></span></div>\n\
         <noscript><p>Without JavaScript the first 100 flows are shown, unsorted; the JSON report holds every flow.</p></noscript>\n\
         <div class=\"table-wrap\"><table id=\"flow-table\"><thead><tr id=\"flow-head\">");
    for (k, h, n) in COLUMNS {
        let num = if n { " num" } else { "" };
        html!(out; "<th class=\"sortable" (num) "\" data-key=\"" (k) "\">" (h) "</th>");
    }
    html!(out; "</tr></thead><tbody id=\"flow-rows\">");
    // The first page as markup, for readers without JavaScript (and a
    // print of the page as written); the script replaces it.
    for r in rows.iter().take(STATIC_ROWS) {
        static_row(r, out);
    }
    let island = serde_json::to_string(&json!({"columns": columns, "rows": rows}))
        .unwrap_or_else(|_| "null".into());
    html!(out; "</tbody></table></div>\n<script type=\"application/json\" id=\"flow-data\">"
        (json_island(&island)) "</script>\n</section>\n");
}

/// Flows written as markup (the script's page size).
const STATIC_ROWS: usize = 100;

/// One row of the flow table as the script writes it: numbers from 1, the
/// certificate as a short digest linking to the inventory, the finding
/// linked.
fn static_row(r: &Value, out: &mut Html) {
    let Some(cells) = r.as_array() else { return };
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    let index = cells.first().and_then(Value::as_u64).unwrap_or(0);
    html!(out; "<tr id=\"flow-" (index) "\">");
    for ((key, _, numeric), v) in COLUMNS.iter().zip(cells) {
        let t = text(v);
        match *key {
            "index" => html!(out; "<td class=\"num\">" (index + 1) "</td>"),
            "protection" => {
                let class: String = t
                    .chars()
                    .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')
                    .collect();
                html!(out; "<td><span class=\"prot " (class) "\">" (t) "</span></td>");
            }
            "cert" if !t.is_empty() => {
                let short: String = t.chars().take(12).collect();
                html!(out; "<td class=\"mono\"><a href=\"#cert-" (t) "\">" (short) "</a></td>");
            }
            "finding" if !t.is_empty() => {
                let n = t.parse::<u64>().map_or(0, |n| n + 1);
                html!(out; "<td><a href=\"#finding-" (t) "\">#" (n) "</a></td>");
            }
            _ if *numeric => html!(out; "<td class=\"num\">" (t) "</td>"),
            _ => html!(out; "<td>" (t) "</td>"),
        }
    }
    html!(out; "</tr>");
}
