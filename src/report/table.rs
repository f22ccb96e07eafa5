//! One line per flow for people at a terminal.
//!
//! Everything shown here came off the wire (SNI, certificate names), so
//! control characters are escaped before they reach the terminal.

use std::fmt::Write;

use super::model::{FlowRecord, Report, Severity};

const HEADER: [&str; 7] = [
    "CLIENT",
    "SERVER",
    "PROTECTION",
    "VERSION",
    "MTLS",
    "SNI",
    "SERVER IDENTITY",
];

/// Writes the table in two passes over the flows (measure, then write), so
/// the flows need not all be in memory at once.
#[derive(Debug, Clone)]
pub struct TableWriter {
    widths: [usize; 7],
}

impl Default for TableWriter {
    fn default() -> Self {
        TableWriter {
            widths: HEADER.map(str::len),
        }
    }
}

impl TableWriter {
    /// Pass 1: account for one flow's cells.
    pub fn measure(&mut self, f: &FlowRecord) {
        for (w, cell) in self.widths.iter_mut().zip(row(f).iter()) {
            *w = (*w).max(cell.chars().count());
        }
    }

    /// Pass 2, first: the header line.
    pub fn header(&self) -> String {
        self.line(&HEADER)
    }

    /// Pass 2: one flow's line.
    pub fn row(&self, f: &FlowRecord) -> String {
        let cells = row(f);
        let refs: Vec<&str> = cells.iter().map(String::as_str).collect();
        self.line(&refs)
    }

    /// Pass 2, last: the summary and the warnings.
    pub fn footer(&self, r: &Report) -> String {
        let s = &r.stats;
        let mut out = format!(
            "\n{} flows ({} TLS, {} mutual TLS) in {} packets\n",
            s.flows, s.tls_flows, s.mutual_tls_flows, s.packets
        );
        findings(r, &mut out);
        probes(r, &mut out);
        compliance(r, &mut out);
        for w in &r.warnings {
            let _ = writeln!(out, "warning: {}", sanitize(&w.message));
        }
        out
    }

    fn line(&self, cells: &[&str]) -> String {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                l.push_str(c);
            } else {
                let _ = write!(l, "{:<w$}  ", c, w = self.widths[i]);
            }
        }
        let mut l = l.trim_end().to_string();
        l.push('\n');
        l
    }
}

/// What `tls-audit probe` learned, one line per endpoint: the versions it
/// accepted, its client-certificate policy, plaintext, and the pod.
fn probes(r: &Report, out: &mut String) {
    if r.probes.is_empty() {
        return;
    }
    let _ = writeln!(out, "\nPROBES");
    let width = r
        .probes
        .iter()
        .map(|p| sanitize(&p.target).chars().count())
        .max()
        .unwrap_or(0);
    for p in &r.probes {
        let target = sanitize(&p.target);
        let pod = p
            .pod
            .as_ref()
            .map(|pod| format!("  [{}/{}]", sanitize(&pod.namespace), sanitize(&pod.name)))
            .unwrap_or_default();
        if let Some(e) = &p.error {
            let _ = writeln!(
                out,
                "{target:<width$}  not probed: {} ({}){pod}",
                sanitize(&e.kind),
                sanitize(&e.message)
            );
            continue;
        }
        let accepted = p.accepted_versions();
        let weak = p.accepted_weak_suites();
        let versions = if accepted.is_empty() {
            "no TLS version".to_string()
        } else {
            accepted.join(" ")
        };
        let weak = if weak.is_empty() {
            String::new()
        } else {
            format!(", weak suites: {}", weak.join(" "))
        };
        let plaintext = match p.plaintext.accepted {
            Some(true) => "PLAINTEXT ACCEPTED",
            Some(false) => "plaintext refused",
            None => "plaintext: no answer",
        };
        let _ = writeln!(
            out,
            "{target:<width$}  {}{}; client certificate {}; {plaintext}{pod}",
            sanitize(&versions),
            sanitize(&weak),
            sanitize(&p.client_auth.policy),
        );
    }
}

/// The compliance views, one line per control.
fn compliance(r: &Report, out: &mut String) {
    let Some(c) = &r.compliance else {
        return;
    };
    for fw in &c.frameworks {
        let _ = writeln!(
            out,
            "\nCOMPLIANCE {} {} (status decided from the wire; see the caveats in the JSON or HTML report)",
            sanitize(&fw.framework),
            sanitize(&fw.version)
        );
        for k in &fw.controls {
            let _ = writeln!(
                out,
                "{:<18}  {:<14}  {}",
                sanitize(&k.id),
                k.status.label().to_uppercase(),
                sanitize(&k.summary)
            );
        }
    }
}

/// The findings, one line each, and the verdict.
fn findings(r: &Report, out: &mut String) {
    let Some(v) = &r.verification else {
        return;
    };
    if !r.findings.is_empty() {
        out.push_str("\nFINDINGS\n");
    }
    for f in &r.findings {
        let waived = if f.waived.is_some() { " (waived)" } else { "" };
        let count = match f.occurrences {
            1 => String::new(),
            n => format!(" [{n} flows]"),
        };
        let _ = writeln!(
            out,
            "{:<8}  {:<22}  {}{count}{waived}",
            f.severity.as_str().to_uppercase(),
            f.rule,
            sanitize(&f.message)
        );
    }
    let counts: Vec<String> = Severity::ALL
        .iter()
        .rev()
        .filter_map(|s| {
            let n = v.counts.get(s.as_str()).copied().unwrap_or(0);
            (n > 0).then(|| format!("{n} {}", s.as_str()))
        })
        .collect();
    let _ = writeln!(
        out,
        "\n{} findings{}{}",
        r.findings.len(),
        if counts.is_empty() {
            String::new()
        } else {
            format!(" ({})", counts.join(", "))
        },
        if v.waived > 0 {
            format!(", {} waived", v.waived)
        } else {
            String::new()
        }
    );
    // One line per reason and flow count: "certificates-encrypted" alone
    // concerns every certificate rule.
    let mut groups: Vec<(&str, u64, Vec<&str>)> = Vec::new();
    for n in &v.not_checked {
        match groups
            .iter_mut()
            .find(|g| g.0 == n.reason && g.1 == n.flows)
        {
            Some(g) => g.2.push(&n.rule),
            None => groups.push((&n.reason, n.flows, vec![&n.rule])),
        }
    }
    for (reason, flows, rules) in groups {
        let _ = writeln!(
            out,
            "not checked ({reason}, {flows} flows): {}",
            rules.join(", ")
        );
    }
    if let (Some(gate), Some(on)) = (&v.gate, v.fail_on) {
        let _ = writeln!(
            out,
            "gate --fail-on {}: {}",
            on.as_str(),
            gate.to_uppercase()
        );
    }
}

/// Render an in-memory report's flows as an aligned table followed by a
/// summary line.
pub fn render_table(r: &Report) -> String {
    let mut t = TableWriter::default();
    r.flows.iter().for_each(|f| t.measure(f));
    let mut out = t.header();
    for f in &r.flows {
        out.push_str(&t.row(f));
    }
    out.push_str(&t.footer(r));
    out
}

fn row(f: &FlowRecord) -> [String; 7] {
    let endpoint = |ip: &str, port: u16| {
        if ip.contains(':') {
            format!("[{ip}]:{port}")
        } else {
            format!("{ip}:{port}")
        }
    };
    let protection = match &f.app_protocol {
        Some(p) => format!("{} ({})", f.protection, p),
        None => f.protection.clone(),
    };
    let (version, mtls, sni, identity) = match &f.tls {
        Some(t) => {
            let mtls = match (t.mutual, t.mutual_evidence.as_deref()) {
                (Some(true), Some("encrypted-flight-size")) => "yes (inferred)".to_string(),
                (Some(false), Some("encrypted-flight-size")) => "no (inferred)".to_string(),
                (Some(true), Some("resumed-session")) => "yes (resumed)".to_string(),
                (Some(false), Some("resumed-session")) => "no (resumed)".to_string(),
                (Some(true), _) => "yes".to_string(),
                (Some(false), _) => "no".to_string(),
                (None, _) => "?".to_string(),
            };
            // A chain obtained by `--enrich probe`, not off the wire, says so.
            let probed = t
                .enrichment
                .as_deref()
                .is_some_and(|e| e.server_chain_source.is_some());
            let identity = t
                .server_chain
                .first()
                .map(|c| {
                    let name = c
                        .spiffe_id
                        .clone()
                        .or_else(|| c.dns_names.first().cloned())
                        .or_else(|| c.subject.clone())
                        .unwrap_or_default();
                    if probed {
                        format!("{name} (probed)")
                    } else {
                        name
                    }
                })
                .unwrap_or_else(|| {
                    if t.certificates_encrypted {
                        "(encrypted)".into()
                    } else {
                        "-".into()
                    }
                });
            (
                t.version.clone().unwrap_or_else(|| "?".into()),
                mtls,
                t.sni.clone().unwrap_or_else(|| "-".into()),
                identity,
            )
        }
        None => ("-".into(), "-".into(), "-".into(), "-".into()),
    };
    [
        endpoint(&f.client.ip, f.client.port),
        format!("→ {}", endpoint(&f.server.ip, f.server.port)),
        protection,
        version,
        mtls,
        sanitize(&sni),
        sanitize(&identity),
    ]
}

/// Escape control characters (C0, DEL, C1, and the terminal's escape
/// sequences with them) and bidirectional formatting characters, which
/// would let a name from the wire reorder what a reader sees (a
/// certificate subject with U+202E shown backwards).
pub fn sanitize(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if c.is_control() || is_bidi_control(c) {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

/// Unicode's bidirectional formatting characters (UAX #9): embeddings,
/// overrides, isolates and marks.
pub fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

#[cfg(test)]
mod tests {
    use super::sanitize;

    /// The PROBES section, from the probe records of a real run (an
    /// OpenSSL server asking for an optional client certificate, and a
    /// closed port); a hostile target name stays one line.
    #[test]
    fn probes_get_one_line_each() {
        let mut r: crate::report::Report = serde_json::from_str(
            r#"{"schema":"tls-audit/report/v1","tool":{"name":"tls-audit","version":"0"},"inputs":[],
            "stats":{"packets":0,"bytes":0,"flows":0,"tls_flows":0,"mutual_tls_flows":0,"evicted_flows":0,
            "packets_after_close":0,"truncated_packets":0,"decode_errors":{},"tunnelled_packets":{},
            "ip_fragments_reassembled":0,"ip_fragments_dropped":0,"other_ip_packets":0},"warnings":[],"flows":[]}"#,
        )
        .unwrap();
        r.probes = serde_json::from_str(include_str!("testdata/probes.json")).unwrap();
        r.probes[1].target = "evil\n\u{1b}[2Jhost:1".into();
        let text = super::render_table(&r);
        let section = text.split("\nPROBES\n").nth(1).expect("a PROBES section");
        let lines: Vec<&str> = section.lines().take(2).collect();
        assert_eq!(
            lines[0].split_whitespace().collect::<Vec<_>>().join(" "),
            "127.0.0.1:18443 TLS1.3 TLS1.2, weak suites: cbc; client certificate optional; plaintext refused"
        );
        assert!(
            lines[1].starts_with("evil\\n\\u{1b}[2Jhost:1  not probed: refused"),
            "{}",
            lines[1]
        );
    }

    #[test]
    fn escapes_terminal_controls() {
        assert_eq!(sanitize("a\u{1b}[31mb\n"), "a\\u{1b}[31mb\\n");
        assert_eq!(sanitize("api.pay.svc"), "api.pay.svc");
    }

    /// Issue 22 (display): U+202E passed raw into table, Markdown, HTML and
    /// JUnit; U+009B (C1 CSI) is a terminal escape on its own.
    #[test]
    fn neutralises_bidi_and_c1() {
        assert_eq!(sanitize("evil\u{202E}moc.rab"), "evil\\u{202e}moc.rab");
        assert_eq!(sanitize("a\u{2066}b\u{200F}"), "a\\u{2066}b\\u{200f}");
        assert_eq!(sanitize("x\u{9B}31m"), "x\\u{9b}31m");
    }
}
