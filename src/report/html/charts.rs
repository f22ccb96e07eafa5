//! Inline SVG charts, drawn here so the page needs nothing else: labelled
//! horizontal bars, stacked bars, and certificate validity against pod age
//! on a logarithmic time axis. Labels go through [`esc`].

use std::fmt::Write;

use super::esc;

/// One bar: label, value, CSS colour variable.
pub struct Bar<'a> {
    /// Label at the left.
    pub label: String,
    /// Its length.
    pub value: u64,
    /// Fill colour (`#2e8540`).
    pub colour: &'a str,
}

const WIDTH: u32 = 420;
const LABEL: u32 = 130;
const ROW: u32 = 22;

/// Horizontal bars with their values.
pub fn bars(title: &str, bars: &[Bar<'_>]) -> String {
    let max = bars.iter().map(|b| b.value).max().unwrap_or(0).max(1);
    let height = ROW * bars.len().max(1) as u32 + 8;
    let mut s = svg_open(title, height);
    for (i, b) in bars.iter().enumerate() {
        let y = 4 + ROW * i as u32;
        let len = ((WIDTH - LABEL - 60) as f64 * b.value as f64 / max as f64).round() as u32;
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\
             <rect x=\"{LABEL}\" y=\"{y}\" width=\"{}\" height=\"{}\" fill=\"{}\"><title>{}: {}</title></rect>\
             <text x=\"{}\" y=\"{}\">{}</text>",
            LABEL - 6,
            y + 14,
            esc(&clip(&b.label, 20)),
            len.max(u32::from(b.value > 0)),
            ROW - 6,
            b.colour,
            esc(&b.label),
            b.value,
            LABEL + len + 6,
            y + 14,
            b.value
        );
    }
    s.push_str("</svg>");
    s
}

/// One stacked bar: label and segments (value, colour, name).
pub struct Stack<'a> {
    /// Label at the left.
    pub label: String,
    /// The parts, left to right.
    pub parts: Vec<(u64, &'a str, &'a str)>,
}

/// Stacked bars of equal length (shares of each row's total), with the
/// first part's share written at the end.
pub fn stacks(title: &str, rows: &[Stack<'_>]) -> String {
    let height = ROW * rows.len().max(1) as u32 + 8;
    let mut s = svg_open(title, height);
    let span = (WIDTH - LABEL - 50) as f64;
    for (i, r) in rows.iter().enumerate() {
        let y = 4 + ROW * i as u32;
        let total: u64 = r.parts.iter().map(|p| p.0).sum();
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            LABEL - 6,
            y + 14,
            esc(&clip(&r.label, 20))
        );
        let mut x = LABEL as f64;
        for (value, colour, name) in &r.parts {
            if *value == 0 || total == 0 {
                continue;
            }
            let w = span * *value as f64 / total as f64;
            let _ = write!(
                s,
                "<rect x=\"{x:.1}\" y=\"{y}\" width=\"{w:.1}\" height=\"{}\" fill=\"{colour}\"><title>{}: {} {value} of {total}</title></rect>",
                ROW - 6,
                esc(&r.label),
                esc(name)
            );
            x += w;
        }
        let first = r.parts.first().map_or(0, |p| p.0);
        let pct = (first * 100).checked_div(total).unwrap_or(0);
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\">{pct}%</text>",
            LABEL as f64 + span + 6.0,
            y + 14
        );
    }
    s.push_str("</svg>");
    s
}

/// One certificate: label, validity (seconds), the presenting pod's age
/// when it was seen (seconds), if known.
pub struct Lifetime {
    /// Certificate and pod.
    pub label: String,
    /// notAfter - notBefore.
    pub validity: i64,
    /// How long the pod had run when the certificate was seen.
    pub pod_age: Option<i64>,
    /// Anchor of the certificate row.
    pub anchor: String,
}

const MINUTE: f64 = 60.0;
const TEN_YEARS: f64 = 10.0 * 365.0 * 86400.0;

/// Validity against pod age, both on one log axis from a minute to ten years.
pub fn lifetimes(title: &str, rows: &[Lifetime]) -> String {
    let label = 250u32;
    let width = 760u32;
    let span = (width - label - 20) as f64;
    let x = |secs: i64| {
        let v = (secs.max(60) as f64).clamp(MINUTE, TEN_YEARS);
        label as f64 + span * (v / MINUTE).ln() / (TEN_YEARS / MINUTE).ln()
    };
    let row = 26u32;
    let height = row * rows.len().max(1) as u32 + 40;
    let mut s = format!(
        "<svg class=\"lifetime\" role=\"img\" aria-label=\"{0}\" viewBox=\"0 0 {width} {height}\" width=\"100%\" preserveAspectRatio=\"xMinYMin meet\"><title>{0}</title>",
        esc(title)
    );
    for (secs, name) in [
        (60, "1 min"),
        (3600, "1 h"),
        (86400, "1 d"),
        (7 * 86400, "7 d"),
        (30 * 86400, "30 d"),
        (365 * 86400, "1 y"),
        (3650 * 86400, "10 y"),
    ] {
        let _ = write!(
            s,
            "<line class=\"axis\" x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"0\" y2=\"{1}\" stroke-dasharray=\"2 3\"/>\
             <text class=\"small\" x=\"{0:.1}\" y=\"{2}\" text-anchor=\"middle\">{name}</text>",
            x(secs),
            height - 22,
            height - 8
        );
    }
    for (i, r) in rows.iter().enumerate() {
        let y = 4 + row * i as u32;
        let _ = write!(
            s,
            "<a href=\"#{}\"><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text></a>\
             <rect x=\"{label}\" y=\"{y}\" width=\"{:.1}\" height=\"9\" fill=\"#1f6fb2\"><title>certificate valid for {}</title></rect>",
            esc(&r.anchor),
            label - 6,
            y + 14,
            esc(&clip(&r.label, 36)),
            x(r.validity) - label as f64,
            human(r.validity)
        );
        match r.pod_age {
            Some(age) => {
                let _ = write!(
                    s,
                    "<rect x=\"{label}\" y=\"{}\" width=\"{:.1}\" height=\"9\" fill=\"#8a949e\"><title>pod had run {}</title></rect>",
                    y + 11,
                    x(age) - label as f64,
                    human(age)
                );
            }
            None => {
                let _ = write!(
                    s,
                    "<text class=\"small\" x=\"{}\" y=\"{}\">pod age unknown</text>",
                    label + 4,
                    y + 20
                );
            }
        }
    }
    s.push_str("</svg>");
    s
}

/// Seconds for people: `3651d`, `5h`, `12m`.
pub fn human(secs: i64) -> String {
    match secs {
        s if s >= 2 * 86400 => format!("{}d", s / 86400),
        s if s >= 2 * 3600 => format!("{}h", s / 3600),
        s if s >= 120 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

fn svg_open(title: &str, height: u32) -> String {
    format!(
        "<svg role=\"img\" aria-label=\"{0}\" viewBox=\"0 0 {WIDTH} {height}\" width=\"100%\" preserveAspectRatio=\"xMinYMin meet\"><title>{0}</title>",
        esc(title)
    )
}

/// At most `n` characters, with an ellipsis when cut.
fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut c: String = s.chars().take(n - 1).collect();
        c.push('…');
        c
    }
}
