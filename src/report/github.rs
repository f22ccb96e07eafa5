//! GitHub Actions workflow commands: one annotation per finding
//! (`::error`, `::warning`, `::notice`), one per compliance control that
//! fails or needs review, and a closing notice with the totals, so that a
//! `tls-audit ... -o github` step shows its findings on the run's summary.
//!
//! Severity decides the command: critical and high are errors, medium a
//! warning, low and info notices; a waived finding is a notice whatever its
//! severity. Everything is escaped the way GitHub's own toolkit
//! (`@actions/core`, `command.ts`) does: in the message `%`, CR and LF
//! become `%25`, `%0D`, `%0A`; in a property (`title`) `:` and `,` become
//! `%3A` and `%2C` as well. Control characters off the wire are first
//! written as escapes (as in the terminal table), so a hostile name can
//! neither end the command line nor start another command.

use std::fmt::Write;

use super::compliance::Status;
use super::model::{Finding, Report, Severity};
use super::sanitize;

/// Render the report as workflow commands, one per line.
pub fn render_github(report: &Report) -> String {
    let mut out = String::new();
    for f in &report.findings {
        let command = match (f.severity, &f.waived) {
            (_, Some(_)) => "notice",
            (Severity::Critical | Severity::High, None) => "error",
            (Severity::Medium, None) => "warning",
            (Severity::Low | Severity::Info, None) => "notice",
        };
        let title = format!("{} {} ({})", f.rule, f.subject.label(), f.severity.as_str());
        let _ = writeln!(
            out,
            "::{command} title={}::{}",
            property(&title),
            data(&describe(f))
        );
    }
    if let Some(c) = &report.compliance {
        for fw in &c.frameworks {
            for k in &fw.controls {
                let command = match k.status {
                    Status::Fail => "error",
                    Status::NeedsReview => "warning",
                    Status::Pass | Status::NotApplicable => continue,
                };
                let title = format!("{} {}: {}", k.reference, k.title, k.status.label());
                let message = [k.summary.clone(), format!("Caveat: {}", k.caveat)];
                let _ = writeln!(
                    out,
                    "::{command} title={}::{}",
                    property(&title),
                    data(&message)
                );
            }
        }
    }
    let s = &report.stats;
    let mut total = format!(
        "{} flows ({} TLS, {} mutual TLS), {} findings",
        s.flows,
        s.tls_flows,
        s.mutual_tls_flows,
        report.findings.len()
    );
    if let Some(v) = &report.verification {
        if let (Some(gate), Some(on)) = (&v.gate, v.fail_on) {
            let _ = write!(total, "; gate {gate} at --fail-on {}", on.as_str());
        }
    } else {
        total.push_str("; not verified (facts only)");
    }
    let _ = writeln!(
        out,
        "::notice title={}::{}",
        property("tls-audit"),
        data(&[total])
    );
    out
}

/// A finding's message, where, how often, and what to do: one line each.
fn describe(f: &Finding) -> Vec<String> {
    let mut lines = vec![
        f.message.clone(),
        format!(
            "{} -> {} first at {}; {} occurrence{}",
            f.flow.client,
            f.flow.server,
            f.flow.first_seen,
            f.occurrences,
            if f.occurrences == 1 { "" } else { "s" }
        ),
    ];
    if let Some(w) = &f.waived {
        lines.push(format!("waived until {}: {}", w.expires, w.reason));
    }
    if !f.controls.is_empty() {
        lines.push(format!("controls: {}", f.controls.join("; ")));
    }
    lines.push(format!("remediation: {}", f.remediation));
    lines
}

/// A command's message: our lines, each sanitised of control characters
/// (so a newline off the wire shows as `\n`), joined by escaped newlines.
fn data(lines: &[String]) -> String {
    let lines: Vec<String> = lines.iter().map(|l| sanitize(l)).collect();
    escape(&lines.join("\n"), false)
}

/// Escape a command property value.
fn property(s: &str) -> String {
    escape(&sanitize(s), true)
}

fn escape(s: &str, property: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            ':' if property => out.push_str("%3A"),
            ',' if property => out.push_str("%2C"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{data, property};

    fn lines(l: &[&str]) -> Vec<String> {
        l.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn escapes_as_the_actions_toolkit_does() {
        assert_eq!(property("a:b,c%d\r\n"), "a%3Ab%2Cc%25d\\r\\n");
        assert_eq!(
            data(&lines(&["line 1: a,b 100%", "line 2\r"])),
            "line 1: a,b 100%25%0Aline 2\\r"
        );
        // A newline inside a line (off the wire) cannot start a new command.
        assert_eq!(data(&lines(&["x\n::add-mask::y"])), "x\\n::add-mask::y");
        assert_eq!(data(&lines(&["x\u{1b}[31m"])), "x\\u{1b}[31m");
    }
}
