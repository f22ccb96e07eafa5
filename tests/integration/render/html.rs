//! HTML: a snapshot of the page's content, hostile text shown as text, and
//! the page in a real browser (Debian's headless Chromium): a screenshot,
//! no console errors, the flow table filtered, sorted and paged by its
//! script, links to flows on later pages, and 10,000 flows staying usable.
//! Browser tests skip with a notice where Chromium is missing, but not in
//! CI (scripts/install-deps.sh installs it).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tls_audit::report::model::Report;
use tls_audit::report::render_html;

/// A certificate subject that tries to end the data island and run script.
const SCRIPT_SUBJECT: &str = "CN=</script><script>alert(1)</script><img src=x onerror=alert(2)>";

/// The page without its style, script and CSP (their own files; the CSP
/// hashes them): what the report says.
fn content(html: &str) -> String {
    let mut out = String::new();
    for line in html.split_inclusive('\n') {
        if line.starts_with("<meta http-equiv=\"Content-Security-Policy\"") {
            continue;
        }
        out.push_str(line);
    }
    for (open, close) in [("<style>", "</style>"), ("<script>", "</script>")] {
        if let (Some(a), Some(b)) = (out.find(open), out.rfind(close)) {
            out.replace_range(a + open.len()..b, "…");
        }
    }
    out
}

fn hostile() -> Report {
    let mut r = super::common::with_compliance(super::common::hostile());
    let tls = r
        .flows
        .iter_mut()
        .find_map(|f| f.tls.as_mut().filter(|t| !t.server_chain.is_empty()))
        .expect("a flow with a certificate");
    Arc::make_mut(&mut tls.server_chain[0]).subject = Some(SCRIPT_SUBJECT.into());
    tls.sni = Some(super::common::HOSTILE.into());
    r
}

fn page_content_snapshot() {
    let r = super::common::with_compliance(super::common::combined());
    let html = render_html(&r);
    super::common::snapshot("combined.html", &content(&html));
    for anchor in [
        "id=\"summary\"",
        "id=\"compliance\"",
        "id=\"findings\"",
        "id=\"certificates\"",
        "id=\"flows\"",
        "id=\"flow-data\"",
    ] {
        assert!(html.contains(anchor), "{anchor}");
    }
    // Every finding links to its flow, every flow link has a flow.
    for i in 0..r.findings.len() {
        assert!(html.contains(&format!("<tr id=\"finding-{i}\">")));
    }
    assert!(html.contains("<a href=\"#flow-"));
    // Self-contained: nothing fetched from anywhere.
    // Links to rule pages and official documents are navigations, not fetches.
    for remote in ["src=\"http", "src=\"//", "@import", "url("] {
        let outside_data = html.replace("https://evil.example", "");
        assert!(!outside_data.contains(remote), "{remote}");
    }
    assert!(html.contains("default-src 'none'; style-src 'sha256-"));
}

fn hostile_text_stays_text_in_the_markup() {
    let html = render_html(&hostile());
    assert_eq!(
        html.matches("<script").count(),
        2,
        "the data island and the page's script only"
    );
    assert!(!html.contains("<script>alert") && !html.contains("<img src=x"));
    assert!(html.contains(
        "CN=&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;"
    ));
    let island = html
        .split("id=\"flow-data\">")
        .nth(1)
        .unwrap()
        .split("</script>")
        .next()
        .unwrap();
    assert!(!island.contains('<') && !island.contains('>') && !island.contains('&'));
    assert!(island.contains("\\u003cscript\\u003ealert(1)"));
}

/// Text that tries every way out of HTML text and attribute values: a
/// quote to end the attribute, a tag, an entity, a comment, a terminal
/// escape, a line separator and a right-to-left override.
const EVERY_WAY_OUT: &str = "\"><script>alert('x')</script>&\u{1b}[31m\u{2028}\u{202e}<!--";

/// [`EVERY_WAY_OUT`] as the page writes it, in text and attributes alike:
/// entities, the controls as visible escapes. U+2028 stays as it is: it
/// means nothing to HTML (the JSON island, where script reads it, has
/// `\u2028`).
const EVERY_WAY_OUT_ESCAPED: &str = "&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;\\u{1b}[31m\u{2028}\\u{202e}&lt;!--";

/// Fields that are enums, times or the schema name: a report with text
/// there would not read.
const TYPED: [&str; 13] = [
    "schema",
    "fail_on",
    "gate",
    "severity",
    "status",
    "effect",
    "first_seen",
    "last_seen",
    "transport",
    "role_source",
    "protection",
    "kind",
    "method",
];

/// `v` with [`EVERY_WAY_OUT`] appended to every string but the typed ones.
fn poison(v: &mut serde_json::Value, key: &str) {
    use serde_json::Value;
    match v {
        Value::String(s) if !TYPED.contains(&key) => s.push_str(EVERY_WAY_OUT),
        Value::Array(a) => a.iter_mut().for_each(|x| poison(x, key)),
        Value::Object(o) => o.iter_mut().for_each(|(k, x)| poison(x, k)),
        _ => {}
    }
}

/// The combined report with every part the page has (waivers, trust
/// bundle, baseline, re-rendering, enrichment, warnings) and hostile text
/// in every text field of the model.
fn hostile_everywhere() -> Report {
    let mut r = super::common::with_compliance(super::common::combined());
    r.inventory = Some(tls_audit::report::inventory::CryptoInventory::of_flows(
        &r.flows,
    ));
    let mut v = serde_json::to_value(&r).expect("report as JSON");
    let verification = &mut v["verification"];
    verification["trust_bundle"] = serde_json::json!({"path": "/etc/ca/bundle.pem", "anchors": 3});
    verification["waivers"] = serde_json::json!([{"index": 0, "rule": "TA-PLAINTEXT", "reason": "legacy",
        "expires": "2027-01-31", "status": "active", "matched": 1}]);
    verification["baseline"] = serde_json::json!({"report": {"name": "base.json", "sha256": "21c6", "bytes": 3636},
        "new": 4, "unchanged": 0, "fixed": 1, "gate_scope": "new findings only"});
    v["metadata"]["rendered_from"] =
        serde_json::json!({"name": "saved.json", "sha256": "c400", "bytes": 17800});
    v["findings"][0]["waived"] =
        serde_json::json!({"index": 0, "reason": "legacy", "expires": "2027-01-31"});
    // As `analyze --events` writes it for an agent's probe (snapshot of
    // fixtures/events/node-agent-tls13-mutual-enriched.events.ndjson).
    v["enrichment"] = serde_json::json!({"method": "probe", "vantage": "reported by the agent: vm",
        "flows_enriched": 1, "flows_not_enriched": 0, "client_identities": 0, "endpoints_over_limit": 0,
        "endpoints": [{"endpoint": "10.200.0.2:8443", "sni": "api", "alpn_offered": ["h2"],
            "obtained_at": "2026-12-05T10:34:43Z", "version": "TLS1.3", "cipher_suite": "TLS_AES_256_GCM_SHA384",
            "chain_sha256": ["2002"], "client_cert_requested": true, "same_on_repeat": true, "flows": 1,
            "error": "refused"}]});
    v["warnings"] = serde_json::json!([{"kind": "no-inventory", "message": "no pods"}]);
    poison(&mut v, "");
    serde_json::from_value(v).expect("the poisoned report reads")
}

/// Issue 20: every section of the page writes hostile text as text. Each
/// section holds the escaped form (so the text reached it), none holds the
/// raw form or a raw piece of it, and the only `<script` elements are the
/// page's own two.
fn every_section_escapes_hostile_text() {
    let html = render_html(&hostile_everywhere());
    assert_eq!(
        html.matches("<script").count(),
        2,
        "the data island and the page's script"
    );
    let island = html
        .split("id=\"flow-data\">")
        .nth(1)
        .and_then(|s| s.split("</script>").next())
        .expect("the island");
    let markup = html.replace(island, "");
    for raw in ["<script>alert", "'x'", "<!--", "\u{1b}", "\u{202e}"] {
        assert!(!markup.contains(raw), "{raw:?} written raw");
    }
    let sections = [
        "scope",
        "summary",
        "compliance",
        "findings",
        "crypto-inventory",
        "enrichment",
        "certificates",
        "flows",
        "warnings",
    ];
    for id in sections {
        let section = markup
            .split(&format!("<section id=\"{id}\""))
            .nth(1)
            .and_then(|s| s.split("</section>").next())
            .unwrap_or_else(|| panic!("section {id}"));
        assert!(
            section.contains(EVERY_WAY_OUT_ESCAPED),
            "section {id}: hostile text not shown escaped"
        );
        // In attribute values too (a tooltip, a link to a certificate),
        // where an unescaped quote would end the value early.
        if ["scope", "certificates", "flows"].contains(&id) {
            assert!(
                section.contains(&format!("{EVERY_WAY_OUT_ESCAPED}\"")),
                "section {id}: no attribute value holds the text"
            );
        }
    }
    // In the head: the generator's content attribute and the title.
    assert!(html.contains(&format!(
        "<meta name=\"generator\" content=\"tls-audit{EVERY_WAY_OUT_ESCAPED} "
    )));
    assert!(html.contains(&format!(
        "<title>tls-audit report: fixture{EVERY_WAY_OUT_ESCAPED}</title>"
    )));
    // The island: the same text as JSON escapes, U+2028 included.
    assert!(!island.contains(['<', '>', '&', '\u{2028}']));
    assert!(
        island.contains(
            "\\u003cscript\\u003ealert('x')\\u003c/script\\u003e\\u0026\\u001b[31m\\u2028"
        )
    );
}

/// Headless Chromium, when it is there.
fn chromium() -> Option<PathBuf> {
    let path = PathBuf::from("/usr/bin/chromium");
    if path.is_file() {
        return Some(path);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "chromium is missing in CI (scripts/install-deps.sh installs it)"
    );
    eprintln!("NOTICE: /usr/bin/chromium not installed; browser tests skipped");
    None
}

/// What one Chromium run printed, and how long it took.
struct Run {
    stdout: String,
    stderr: String,
    took: Duration,
}

impl Run {
    /// Console errors, uncaught exceptions and CSP refusals in the log.
    fn errors(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| {
                l.contains("Uncaught")
                    || l.contains("Refused to")
                    || (l.contains("CONSOLE") && (l.contains(":ERROR:") || l.contains("Error")))
            })
            .collect()
    }

    /// Flow rows the script put in the table.
    fn rows(&self) -> Vec<u64> {
        self.stdout
            .split("<tr id=\"flow-")
            .skip(1)
            .filter_map(|s| s.split('"').next()?.parse().ok())
            .collect()
    }
}

fn browse(browser: &Path, name: &str, file: &Path, suffix: &str, extra: &[&str]) -> Run {
    let profile = crate::support::temp_dir(&format!("chromium-{name}"));
    let url = format!("file://{}{suffix}", file.display());
    let start = Instant::now();
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=10000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(&url)
        .output()
        .expect("chromium runs");
    let run = Run {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        took: start.elapsed(),
    };
    assert!(
        out.status.success(),
        "chromium failed on {url}: {}",
        run.stderr
    );
    run
}

fn dump(browser: &Path, name: &str, file: &Path, suffix: &str) -> Run {
    let run = browse(browser, name, file, suffix, &["--dump-dom"]);
    assert!(
        run.stdout.contains("id=\"js-ready\""),
        "{name}: the script did not finish: {}",
        run.stderr
    );
    assert!(
        run.errors().is_empty(),
        "{name}: console errors: {:#?}",
        run.errors()
    );
    run
}

fn the_console_check_can_fail() {
    let browser = chromium().expect("chromium (listed as needed)");
    let page = super::common::write(
        "broken.html",
        "<!DOCTYPE html><p>x</p><script>undefinedFunction();</script>",
    );
    let run = browse(&browser, "broken", &page, "", &["--dump-dom"]);
    assert!(
        !run.errors().is_empty(),
        "a thrown error is seen: {}",
        run.stderr
    );
}

fn chromium_renders_screenshot_and_escapes() {
    let browser = chromium().expect("chromium (listed as needed)");
    let r = super::common::with_compliance(super::common::combined());
    let page = super::common::write("combined.html", &render_html(&r));
    let shot = page.with_extension("png");
    let _ = std::fs::remove_file(&shot);
    let arg = format!("--screenshot={}", shot.display());
    let run = browse(
        &browser,
        "shot",
        &page,
        "",
        &[&arg, "--window-size=1400,1800"],
    );
    let png = std::fs::read(&shot).expect("a screenshot");
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 50_000,
        "{} bytes",
        png.len()
    );
    assert!(run.errors().is_empty(), "{:#?}", run.errors());
    println!(
        "screenshot {} ({} bytes, {:?})",
        shot.display(),
        png.len(),
        run.took
    );

    let run = dump(&browser, "combined", &page, "");
    assert_eq!(run.rows(), (0..r.flows.len() as u64).collect::<Vec<_>>());
    // Filtered and sorted by the page's script, from the address bar.
    let run = dump(&browser, "filtered", &page, "?q=plaintext");
    let plain: Vec<u64> = (0..r.flows.len() as u64)
        .filter(|&i| r.flows[i as usize].protection == tls_audit::model::Protection::Plaintext)
        .collect();
    assert_eq!(run.rows(), plain);
    let run = dump(&browser, "sorted", &page, "?sort=index&dir=desc");
    assert_eq!(
        run.rows(),
        (0..r.flows.len() as u64).rev().collect::<Vec<_>>()
    );

    let page = super::common::write("hostile.html", &render_html(&hostile()));
    let run = dump(&browser, "hostile", &page, "");
    // In the DOM the browser built: the subject is text in a cell, the SNI
    // a cell the script filled; neither became an element.
    assert!(run.stdout.contains(
        "CN=&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;"
    ));
    assert!(
        run.stdout
            .contains("&lt;script&gt;alert(1)&lt;/script&gt;&amp;\"'"),
        "the SNI cell"
    );
    assert!(!run.stdout.contains("<img src=\"x\"") && !run.stdout.contains("<script>alert"));
}

/// The combined report's flows, copied to `n` with other client addresses.
fn many(n: usize) -> Report {
    let mut r = super::common::with_compliance(super::common::combined());
    let base = r.flows.clone();
    r.flows = (0..n)
        .map(|i| {
            let mut f = base[i % base.len()].clone();
            if i >= base.len() {
                f.client.ip = format!("10.{}.{}.{}", 100 + i / 65536, (i / 256) % 256, i % 256);
                f.client.port = 20000 + (i % 40000) as u16;
                f.client.pod = None;
            }
            f
        })
        .collect();
    r.stats.flows = n as u64;
    r
}

fn ten_thousand_flows_stay_usable() {
    let r = many(10_000);
    let start = Instant::now();
    let html = render_html(&r);
    let rendered = start.elapsed();
    let page = super::common::write("many.html", &html);
    println!(
        "10,000 flows: {} bytes of HTML, rendered in {rendered:?}",
        html.len()
    );
    assert!(html.len() < 12 << 20, "{} bytes", html.len());
    let Some(browser) = chromium() else { return };
    let run = dump(&browser, "many", &page, "");
    assert!(
        run.stdout
            .contains("<div id=\"js-ready\" hidden=\"\">10000</div>")
    );
    assert_eq!(
        run.rows(),
        (0..100).collect::<Vec<_>>(),
        "one page of 100 rows"
    );
    assert!(run.stdout.contains("10000 of 10000 flows · page 1 of 100"));
    println!("chromium: loaded and ran the page in {:?}", run.took);
    // A link to a flow on the last page opens that page.
    let run = dump(&browser, "many-link", &page, "#flow-9876");
    assert!(run.rows().contains(&9876), "{:?}", run.rows());
    assert!(
        run.stdout
            .contains("<tr id=\"flow-9876\" class=\"target\">")
    );
    // Filter and sort over all 10,000.
    let run = dump(
        &browser,
        "many-filter",
        &page,
        "?q=10.100.38.&sort=index&dir=desc",
    );
    let want: Vec<u64> = (0..10_000u64)
        .rev()
        .filter(|&i| i >= 3 && (i / 256) % 256 == 38)
        .take(100)
        .collect();
    assert_eq!(run.rows(), want);
    println!(
        "chromium: filtered and sorted 10,000 flows in {:?}",
        run.took
    );
    assert!(run.took < Duration::from_secs(30), "{:?}", run.took);
}

/// A poppler-utils tool (`pdftoppm`, `pdftotext`, `pdfinfo`), when it is there.
fn poppler(tool: &str) -> Option<PathBuf> {
    let path = PathBuf::from("/usr/bin").join(tool);
    if path.is_file() {
        return Some(path);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{tool} is missing in CI (scripts/install-deps.sh installs poppler-utils)"
    );
    eprintln!("NOTICE: {tool} not installed; PDF checks skipped");
    None
}

/// Issue 17: the auditor's PDF. The page printed by headless Chromium
/// (`--print-to-pdf`) starts with the summary and scope (cluster, captures
/// by name with windows and durations, controls with their status), cites
/// the official documents and no internal notes, numbers from 1, and every
/// page rasterises (pdftoppm). The PNG pages are kept beside the PDF for a
/// person to look at.
fn the_printed_pdf_reads_as_evidence() {
    let browser = chromium().expect("chromium (listed as needed)");
    let tool = |t: &str| poppler(t).expect("poppler-utils (listed as needed)");
    let (pdftoppm, pdftotext, pdfinfo) = (tool("pdftoppm"), tool("pdftotext"), tool("pdfinfo"));
    let r = super::common::with_compliance(super::common::combined());
    let page = super::common::write("audit.html", &render_html(&r));
    let pdf = page.with_extension("pdf");
    let _ = std::fs::remove_file(&pdf);
    let arg = format!("--print-to-pdf={}", pdf.display());
    browse(
        &browser,
        "pdf",
        &page,
        "",
        &[&arg, "--no-pdf-header-footer"],
    );
    let bytes = std::fs::read(&pdf).expect("a PDF");
    assert!(bytes.starts_with(b"%PDF-"), "not a PDF");

    let info = Command::new(pdfinfo)
        .arg(&pdf)
        .output()
        .expect("pdfinfo runs");
    let info = String::from_utf8_lossy(&info.stdout).into_owned();
    let pages: usize = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("page count");
    assert!((2..=60).contains(&pages), "{pages} pages:\n{info}");
    assert!(info.contains("A4") || info.contains("595."), "{info}");

    // Every page rasterises (into a directory of its own: no stale pages).
    let pages_dir = crate::support::temp_dir("pdf-pages");
    let prefix = pages_dir.join("audit.page");
    let out = Command::new(pdftoppm)
        .args(["-png", "-r", "60"])
        .arg(&pdf)
        .arg(&prefix)
        .output()
        .expect("pdftoppm runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = prefix.parent().unwrap();
    let stem = prefix.file_name().unwrap().to_string_lossy().into_owned();
    let pngs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(&format!("{stem}-")))
                && p.extension().is_some_and(|x| x == "png")
        })
        .collect();
    assert_eq!(pngs.len(), pages, "{pngs:?}");
    for png in &pngs {
        let b = std::fs::read(png).unwrap();
        assert!(
            b.starts_with(b"\x89PNG\r\n\x1a\n") && b.len() > 2_000,
            "{}",
            png.display()
        );
    }

    // Page 1: the summary and scope, nothing else first.
    let text = |first: usize, last: usize| {
        let out = Command::new(&pdftotext)
            .args(["-layout", "-f", &first.to_string(), "-l", &last.to_string()])
            .arg(&pdf)
            .arg("-")
            .output()
            .expect("pdftotext runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let first = text(1, 1);
    for want in [
        "tls-audit report",
        "Summary and scope",
        "fixture",
        "openssl-tls12-server-only.pcap",
        "Captures",
        "PCI DSS",
        "HIPAA",
        "12.3.3",
    ] {
        assert!(first.contains(want), "page 1 lacks {want:?}:\n{first}");
    }
    // Inputs by name, not absolute path.
    assert!(!first.contains("/fixtures/captures/"), "{first}");
    let all = text(1, pages);
    assert!(!all.contains("shared/reference"), "internal notes cited");
    assert!(
        !all.contains("Re-quote"),
        "remarks on how texts were compiled"
    );
    assert!(all.contains("PCI Security Standards Council"));
    assert!(all.contains("www.ecfr.gov"));
    // Identifiers, times and numbers are not broken across lines.
    for whole in [
        "TA-NO-MTLS",
        "TA-CERT-LIFETIME",
        "pay/api-7d9f8b6c5-x2k4p (server)",
        "2026-11-27T11:04:44.462360Z",
        "164.312(e)(2)(ii)",
        "2035-12-31T00:00:00Z",
    ] {
        assert!(all.contains(whole), "{whole:?} broken in:\n{all}");
    }
    // Findings and flows are numbered from 1.
    assert!(
        all.lines().any(|l| l.trim_start().starts_with("1 ")),
        "{all}"
    );
    println!(
        "PDF {} ({pages} pages), pages as {}-N.png",
        pdf.display(),
        prefix.display()
    );
}

/// Without JavaScript the page still shows its content: the flows as
/// markup (numbered from 1), findings, controls.
fn the_page_reads_without_javascript() {
    let r = super::common::with_compliance(super::common::combined());
    let html = render_html(&r);
    let body = html.split("<tbody id=\"flow-rows\">").nth(1).unwrap();
    let rows = body.split("</tbody>").next().unwrap();
    assert_eq!(rows.matches("<tr id=\"flow-").count(), r.flows.len());
    assert!(
        rows.starts_with("<tr id=\"flow-0\"><td class=\"num\">1</td>"),
        "{rows}"
    );
    assert!(html.contains("<tr id=\"finding-0\"><td class=\"num\">1</td>"));
    // The summary and scope come before anything else in the body.
    let scope = html.find("id=\"scope\"").unwrap();
    for later in [
        "id=\"summary\"",
        "id=\"compliance\"",
        "id=\"findings\"",
        "id=\"flows\"",
    ] {
        assert!(html.find(later).unwrap() > scope, "{later}");
    }
    // Rule ids link to their absolute pages.
    assert!(html.contains(&format!(
        "href=\"{}TA-NO-MTLS.md\"",
        tls_audit::report::links::DEFAULT_DOCS_URL
    )));
}

/// This module's tests, as the harness lists them (`main.rs`).
pub(crate) fn tests() -> Vec<crate::runner::Test> {
    use crate::runner::{Need, Test};
    vec![
        Test::new(
            module_path!(),
            "page_content_snapshot",
            page_content_snapshot,
        ),
        Test::new(
            module_path!(),
            "hostile_text_stays_text_in_the_markup",
            hostile_text_stays_text_in_the_markup,
        ),
        Test::new(
            module_path!(),
            "every_section_escapes_hostile_text",
            every_section_escapes_hostile_text,
        ),
        Test::new(
            module_path!(),
            "the_console_check_can_fail",
            the_console_check_can_fail,
        )
        .needs(&[Need::Tool("/usr/bin/chromium")]),
        Test::new(
            module_path!(),
            "chromium_renders_screenshot_and_escapes",
            chromium_renders_screenshot_and_escapes,
        )
        .needs(&[Need::Tool("/usr/bin/chromium")]),
        Test::new(
            module_path!(),
            "ten_thousand_flows_stay_usable",
            ten_thousand_flows_stay_usable,
        ),
        Test::new(
            module_path!(),
            "the_printed_pdf_reads_as_evidence",
            the_printed_pdf_reads_as_evidence,
        )
        .needs(&[
            Need::Tool("/usr/bin/chromium"),
            Need::Tool("/usr/bin/pdftoppm"),
            Need::Tool("/usr/bin/pdftotext"),
            Need::Tool("/usr/bin/pdfinfo"),
        ]),
        Test::new(
            module_path!(),
            "the_page_reads_without_javascript",
            the_page_reads_without_javascript,
        ),
    ]
}
