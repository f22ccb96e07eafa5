//! One line per flow for people at a terminal.
//!
//! Everything shown here came off the wire (SNI, certificate names), so
//! control characters are escaped before they reach the terminal.

use std::fmt::Write;

use super::model::{FlowRecord, Report, Severity};

const HEADER: [&str; 11] = [
    "CLIENT",
    "SERVER",
    "PROTECTION",
    "VERSION",
    "MTLS",
    "SNI",
    "SERVER IDENTITY",
    // `-o wide` only:
    "CLIENT ADDRESS",
    "SERVER ADDRESS",
    "JA4",
    "EVIDENCE",
];

/// Columns without `-o wide`.
const NARROW: usize = 7;

/// Columns that give way when the table is wider than the terminal, in
/// turn: the server identity, then the SNI, then client and server
/// together (cut in the middle, so a pod's replica suffix and the port
/// stay); none below this width.
const SHRINK_ORDER: [&[usize]; 3] = [&[6], &[5], &[0, 1]];
const MIN_SHRUNK: usize = 14;

/// How the table looks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TableStyle {
    /// `-o wide`: the addresses, JA4 and the mutual-TLS evidence too.
    pub wide: bool,
    /// ANSI colours (a terminal without `NO_COLOR`).
    pub color: bool,
    /// Fit the flow lines to this many columns (long cells end in `…`).
    pub width: Option<usize>,
}

/// The widest cell of every column (`-o wide`'s too) over the flows
/// measured: pass 1 of a [`TableWriter`] ([`TableWriter::measured`]). A
/// maximum, so the flows can be measured in any order, as they are
/// spilled, instead of in a pass over the records of its own; their cells
/// are kept for pass 2 ([`TableWriter::row_of_cells`]).
#[derive(Debug, Clone)]
pub struct ColumnWidths([usize; HEADER.len()]);

impl Default for ColumnWidths {
    fn default() -> Self {
        ColumnWidths(HEADER.map(|h| h.chars().count()))
    }
}

impl ColumnWidths {
    /// Account for one flow's cells and append them to `out`, for
    /// [`TableWriter::row_of_cells`] to write its line from later without
    /// the record: each cell's length in bytes (4 bytes, little-endian),
    /// then its text.
    pub fn measure_into(&mut self, f: &FlowRecord, out: &mut Vec<u8>) {
        for (w, cell) in self.0.iter_mut().zip(row(f).iter()) {
            *w = (*w).max(cell.chars().count());
            // A cell is part of a record whose JSON is under 4 GiB (the
            // spill file's bound); a longer one would not read back.
            let len = u32::try_from(cell.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(cell.as_bytes());
        }
    }
}

/// Writes the table in two passes over the flows (measure, then write), so
/// the flows need not all be in memory at once.
#[derive(Debug, Clone)]
pub struct TableWriter {
    widths: Vec<usize>,
    style: TableStyle,
}

impl Default for TableWriter {
    fn default() -> Self {
        TableWriter::new(TableStyle::default())
    }
}

impl TableWriter {
    /// A writer of this style.
    pub fn new(style: TableStyle) -> Self {
        let n = if style.wide { HEADER.len() } else { NARROW };
        TableWriter {
            widths: HEADER[..n].iter().map(|h| h.chars().count()).collect(),
            style,
        }
    }

    /// Pass 1: account for one flow's cells.
    pub fn measure(&mut self, f: &FlowRecord) {
        for (w, cell) in self.widths.iter_mut().zip(row(f).iter()) {
            *w = (*w).max(cell.chars().count());
        }
    }

    /// A writer of this style with pass 1 done: `widths` measured every
    /// flow of the table.
    pub fn measured(style: TableStyle, widths: &ColumnWidths) -> Self {
        let mut t = TableWriter::new(style);
        for (w, &m) in t.widths.iter_mut().zip(&widths.0) {
            *w = (*w).max(m);
        }
        t
    }

    /// Pass 2, first: the header line.
    pub fn header(&mut self) -> String {
        self.fit();
        let cells: Vec<String> = HEADER[..self.widths.len()]
            .iter()
            .map(|h| (*h).to_string())
            .collect();
        self.line(&cells, false)
    }

    /// Pass 2: one flow's line.
    pub fn row(&self, f: &FlowRecord) -> String {
        let mut cells = row(f).to_vec();
        cells.truncate(self.widths.len());
        self.line(&cells, self.style.color)
    }

    /// Pass 2: one flow's line, from the cells [`ColumnWidths::measure_into`]
    /// kept of it (the same line as [`TableWriter::row`] of the record);
    /// `None` when `cells` is not exactly such cells.
    pub fn row_of_cells(&self, mut cells: &[u8]) -> Option<String> {
        let mut texts: Vec<&str> = Vec::with_capacity(HEADER.len());
        for _ in HEADER {
            let (len, rest) = cells.split_first_chunk::<4>()?;
            let len = usize::try_from(u32::from_le_bytes(*len)).ok()?;
            let (text, rest) = rest.split_at_checked(len)?;
            texts.push(std::str::from_utf8(text).ok()?);
            cells = rest;
        }
        if !cells.is_empty() {
            return None;
        }
        texts.truncate(self.widths.len());
        Some(self.line(&texts, self.style.color))
    }

    /// Pass 2, last: the summary and the warnings.
    pub fn footer(&self, r: &Report) -> String {
        let s = &r.stats;
        let mut out = format!(
            "\n{} ({} TLS, {} mutual TLS) in {}\n",
            plural(s.flows, "flow"),
            s.tls_flows,
            s.mutual_tls_flows,
            plural(s.packets, "packet")
        );
        findings(r, &mut out);
        probes(r, &mut out);
        compliance(r, &mut out);
        for w in &r.warnings {
            let _ = writeln!(out, "warning: {}", sanitize(&w.message));
        }
        out
    }

    /// Shrink the widest shrinkable columns until a line fits the width.
    fn fit(&mut self) {
        let Some(limit) = self.style.width else {
            return;
        };
        let total = |w: &[usize]| w.iter().sum::<usize>() + 2 * w.len().saturating_sub(1);
        for group in SHRINK_ORDER {
            while total(&self.widths) > limit {
                let widest = group
                    .iter()
                    .copied()
                    .filter(|&i| self.widths.get(i).is_some_and(|&w| w > MIN_SHRUNK))
                    .max_by_key(|&i| self.widths.get(i).copied().unwrap_or(0));
                let Some(i) = widest else {
                    break;
                };
                if let Some(w) = self.widths.get_mut(i) {
                    *w -= 1;
                }
            }
        }
    }

    fn line<S: AsRef<str>>(&self, cells: &[S], color: bool) -> String {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            let c = c.as_ref();
            let width = self.widths.get(i).copied().unwrap_or(0);
            let cell = if i < 2 {
                clip_middle(c, width)
            } else {
                clip(c, width)
            };
            let pad = width.saturating_sub(cell.chars().count());
            let painted = if color { paint(i, &cell) } else { cell };
            l.push_str(&painted);
            if i + 1 < cells.len() {
                l.push_str(&" ".repeat(pad + 2));
            }
        }
        let mut l = l.trim_end().to_string();
        l.push('\n');
        l
    }
}

/// `cell` in at most `width` characters, ending in `…` when cut.
fn clip(cell: &str, width: usize) -> String {
    if cell.chars().count() <= width || width == 0 {
        return cell.to_string();
    }
    let mut out: String = cell.chars().take(width - 1).collect();
    out.push('…');
    out
}

/// `cell` in at most `width` characters, its middle cut out for `…`.
fn clip_middle(cell: &str, width: usize) -> String {
    let n = cell.chars().count();
    if n <= width || width < 3 {
        return cell.to_string();
    }
    let tail = (width - 1) / 2;
    let head = width - 1 - tail;
    let mut out: String = cell.chars().take(head).collect();
    out.push('…');
    out.extend(cell.chars().skip(n - tail));
    out
}

/// The colour of a cell: plaintext red, TLS green, no mutual TLS yellow.
fn paint(column: usize, cell: &str) -> String {
    let code = match column {
        2 if cell.starts_with("plaintext") => "31",
        2 if cell.starts_with("tls") => "32",
        4 if cell.starts_with("no") => "33",
        4 if cell.starts_with("yes") => "32",
        _ => return cell.to_string(),
    };
    format!("\u{1b}[{code}m{cell}\u{1b}[0m")
}

/// `1 flow`, `2 flows`.
pub fn plural(n: u64, noun: &str) -> String {
    match n {
        1 => format!("1 {noun}"),
        n => format!("{n} {noun}s"),
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
            sanitize(&f.rule),
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
        "\n{}{}{}",
        plural(
            u64::try_from(r.findings.len()).unwrap_or(u64::MAX),
            "finding"
        ),
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
    // A saved report's names are whatever its file says.
    for (reason, flows, rules) in groups {
        let _ = writeln!(
            out,
            "not checked ({}, {}): {}",
            sanitize(reason),
            plural(flows, "flow"),
            sanitize(&rules.join(", "))
        );
    }
    if let (Some(gate), Some(on)) = (&v.gate, v.fail_on) {
        let _ = writeln!(
            out,
            "gate --fail-on {}: {}",
            on.as_str(),
            gate.as_str().to_uppercase()
        );
    }
}

/// Render an in-memory report's flows as an aligned table followed by a
/// summary line.
pub fn render_table(r: &Report) -> String {
    render_table_styled(r, TableStyle::default())
}

/// [`render_table`] in a style (`-o wide`, colour, terminal width).
pub fn render_table_styled(r: &Report, style: TableStyle) -> String {
    let mut t = TableWriter::new(style);
    r.flows.iter().for_each(|f| t.measure(f));
    let mut out = t.header();
    for f in &r.flows {
        out.push_str(&t.row(f));
    }
    out.push_str(&t.footer(r));
    out
}

/// An end by its name where the inventory knows it (`pay/api-7d9f:443`:
/// pod, else Service, else node), else its address.
fn named(e: &super::model::Endpoint, port: bool) -> String {
    let name = e
        .pod
        .as_ref()
        .map(|p| format!("{}/{}", p.namespace, p.name))
        .or_else(|| e.service.clone())
        .or_else(|| e.node.as_ref().map(|n| format!("node/{n}")));
    match (name, port) {
        (Some(n), true) => format!("{}:{}", sanitize(&n), e.port),
        (Some(n), false) => sanitize(&n),
        (None, _) => e.socket(),
    }
}

fn row(f: &FlowRecord) -> [String; 11] {
    let protection = match &f.app_protocol {
        Some(p) => format!("{} ({})", f.protection, p),
        None => f.protection.to_string(),
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
                t.version.as_deref().unwrap_or("?").to_string(),
                mtls,
                t.sni.clone().unwrap_or_else(|| "-".into()),
                identity,
            )
        }
        None => ("-".into(), "-".into(), "-".into(), "-".into()),
    };
    let (ja4, evidence) = match &f.tls {
        Some(t) => (
            t.ja4.clone().unwrap_or_else(|| "-".into()),
            t.mutual_evidence.clone().unwrap_or_else(|| "-".into()),
        ),
        None => ("-".into(), "-".into()),
    };
    [
        named(&f.client, false),
        format!("→ {}", named(&f.server, true)),
        protection,
        version,
        mtls,
        sanitize(&sni),
        sanitize(&identity),
        f.client.socket(),
        f.server.socket(),
        sanitize(&ja4),
        sanitize(&evidence),
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

    /// A flow record of a real agent stream (OpenSSL, TLS 1.2, mutual).
    fn flow() -> crate::report::model::FlowRecord {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/events/openssl-tls12-mutual.events.ndjson"
        ))
        .expect("fixture");
        let line = text
            .lines()
            .find(|l| l.contains("\"event\":\"flow\""))
            .expect("a flow event");
        let v: serde_json::Value = serde_json::from_str(line).expect("json");
        serde_json::from_value(v["flow"].clone()).expect("flow record")
    }

    /// Widths measured as flows are spilled, in another order, make the
    /// same table as the writer's own first pass, narrow and wide.
    #[test]
    fn widths_measured_in_any_order_make_the_same_table() {
        use super::{ColumnWidths, TableStyle, TableWriter};
        let mut flows = vec![flow(), flow(), flow()];
        flows[1].server.ip = "fd00:1234:5678:9abc:def0:1234:5678:9abc".into();
        if let Some(t) = flows[2].tls.as_mut() {
            t.sni = Some("a-rather-longer-server-name.example".into());
        }
        flows[2].client.pod = Some(crate::report::model::PodRef {
            namespace: "payments".into(),
            name: "checkout-5f6d7c8b9-x2x4z".into(),
            service_account: "checkout".into(),
            workload: None,
        });
        let mut gathered = ColumnWidths::default();
        for f in flows.iter().rev() {
            gathered.measure_into(f, &mut Vec::new());
        }
        for wide in [false, true] {
            let style = TableStyle {
                wide,
                color: false,
                width: None,
            };
            let mut two_pass = TableWriter::new(style);
            flows.iter().for_each(|f| two_pass.measure(f));
            let mut measured = TableWriter::measured(style, &gathered);
            assert_eq!(measured.header(), two_pass.header(), "wide {wide}");
            for f in &flows {
                assert_eq!(measured.row(f), two_pass.row(f), "wide {wide}");
                // The line again from the cells kept of the record.
                let mut cells = Vec::new();
                ColumnWidths::default().measure_into(f, &mut cells);
                let line = measured.row_of_cells(&cells);
                assert_eq!(line.as_deref(), Some(two_pass.row(f).as_str()));
                // Cells cut short, with a byte too many, or not UTF-8.
                assert_eq!(measured.row_of_cells(&cells[..cells.len() - 1]), None);
                cells.push(0);
                assert_eq!(measured.row_of_cells(&cells), None);
                cells.pop();
                cells[4] = 0xff;
                assert_eq!(measured.row_of_cells(&cells), None);
            }
            // Not the widths of a writer that measured nothing.
            assert_ne!(measured.header(), TableWriter::new(style).header());
        }
    }

    /// Issue 16: pods by name, fitted to the terminal, `-o wide` adds
    /// columns, colour only when asked.
    #[test]
    fn names_width_wide_and_colour() {
        use super::{TableStyle, TableWriter};
        let mut f = flow();
        f.server.pod = Some(crate::report::model::PodRef {
            namespace: "pay".into(),
            name: "api-7d9f".into(),
            service_account: "api".into(),
            workload: None,
        });
        if let Some(t) = f.tls.as_mut() {
            t.sni = Some(format!("{}.pay.svc.cluster.local", "a".repeat(150)));
        }
        let style = TableStyle {
            wide: false,
            color: false,
            width: Some(120),
        };
        let mut t = TableWriter::new(style);
        t.measure(&f);
        let header = t.header();
        let line = t.row(&f);
        assert!(
            line.contains(&format!("→ pay/api-7d9f:{}", f.server.port)),
            "{line}"
        );
        assert!(
            line.chars().count() <= 121,
            "{} {line}",
            line.chars().count()
        );
        assert!(header.chars().count() <= 121, "{header}");
        assert!(line.contains('…'), "{line}");
        assert!(!line.contains('\u{1b}'));
        let mut w = TableWriter::new(TableStyle {
            wide: true,
            color: true,
            width: None,
        });
        w.measure(&f);
        assert!(w.header().contains("JA4"));
        let wide = w.row(&f);
        assert!(
            wide.contains(&format!("{}:{}", f.server.ip, f.server.port)),
            "{wide}"
        );
        assert!(wide.contains("\u{1b}[32m"), "TLS in green: {wide}");
        assert!(wide.contains(&"a".repeat(150)), "not cut without a width");
    }

    #[test]
    fn counts_are_singular_and_plural() {
        assert_eq!(super::plural(1, "flow"), "1 flow");
        assert_eq!(super::plural(0, "flow"), "0 flows");
        assert_eq!(super::plural(2, "finding"), "2 findings");
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
