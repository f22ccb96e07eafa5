//! Inline SVG charts, drawn here so the page needs nothing else: labelled
//! horizontal bars, stacked bars, and certificate validity against pod age
//! on a logarithmic time axis. Labels are text, escaped by [`Html`].

use super::markup::{Fixed, Html, html};

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
pub fn bars(title: &str, bars: &[Bar<'_>]) -> Html {
    let max = bars.iter().map(|b| b.value).max().unwrap_or(0).max(1);
    let height = ROW * bars.len().max(1) as u32 + 8;
    let mut s = svg_open(title, height);
    for (i, b) in bars.iter().enumerate() {
        let y = 4 + ROW * i as u32;
        let len = ((WIDTH - LABEL - 60) as f64 * b.value as f64 / max as f64).round() as u32;
        html!(&mut s;
            "<text x=\"" (LABEL - 6) "\" y=\"" (y + 14) "\" text-anchor=\"end\">"
            (clip(&b.label, 20)) "</text>"
            "<rect x=\"" (LABEL) "\" y=\"" (y) "\" width=\"" (len.max(u32::from(b.value > 0)))
            "\" height=\"" (ROW - 6) "\" fill=\"" (b.colour) "\">"
            "<title>" (b.label) ": " (b.value) "</title></rect>"
            "<text x=\"" (LABEL + len + 6) "\" y=\"" (y + 14) "\">" (b.value) "</text>");
    }
    html!(&mut s; "</svg>");
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
pub fn stacks(title: &str, rows: &[Stack<'_>]) -> Html {
    let height = ROW * rows.len().max(1) as u32 + 8;
    let mut s = svg_open(title, height);
    let span = (WIDTH - LABEL - 50) as f64;
    for (i, r) in rows.iter().enumerate() {
        let y = 4 + ROW * i as u32;
        let total: u64 = r.parts.iter().map(|p| p.0).sum();
        html!(&mut s;
            "<text x=\"" (LABEL - 6) "\" y=\"" (y + 14) "\" text-anchor=\"end\">"
            (clip(&r.label, 20)) "</text>");
        let mut x = LABEL as f64;
        for (value, colour, name) in &r.parts {
            if *value == 0 || total == 0 {
                continue;
            }
            let w = span * *value as f64 / total as f64;
            html!(&mut s;
                "<rect x=\"" (Fixed(x, 1)) "\" y=\"" (y) "\" width=\"" (Fixed(w, 1))
                "\" height=\"" (ROW - 6) "\" fill=\"" (colour) "\">"
                "<title>" (r.label) ": " (name) " " (value) " of " (total) "</title></rect>");
            x += w;
        }
        let first = r.parts.first().map_or(0, |p| p.0);
        let pct = (first * 100).checked_div(total).unwrap_or(0);
        html!(&mut s;
            "<text x=\"" (LABEL as f64 + span + 6.0) "\" y=\"" (y + 14) "\">" (pct) "%</text>");
    }
    html!(&mut s; "</svg>");
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
pub fn lifetimes(title: &str, rows: &[Lifetime]) -> Html {
    let label = 250u32;
    let width = 760u32;
    let span = (width - label - 20) as f64;
    let x = |secs: i64| {
        let v = (secs.max(60) as f64).clamp(MINUTE, TEN_YEARS);
        label as f64 + span * (v / MINUTE).ln() / (TEN_YEARS / MINUTE).ln()
    };
    let row = 26u32;
    let height = row * rows.len().max(1) as u32 + 40;
    let mut s = Html::new();
    html!(&mut s;
        "<svg class=\"lifetime\" role=\"img\" aria-label=\"" (title)
        "\" viewBox=\"0 0 " (width) " " (height)
        "\" width=\"100%\" preserveAspectRatio=\"xMinYMin meet\"><title>" (title) "</title>");
    for (secs, name) in [
        (60, "1 min"),
        (3600, "1 h"),
        (86400, "1 d"),
        (7 * 86400, "7 d"),
        (30 * 86400, "30 d"),
        (365 * 86400, "1 y"),
        (3650 * 86400, "10 y"),
    ] {
        let at = Fixed(x(secs), 1);
        html!(&mut s;
            "<line class=\"axis\" x1=\"" (at) "\" x2=\"" (at) "\" y1=\"0\" y2=\"" (height - 22)
            "\" stroke-dasharray=\"2 3\"/>"
            "<text class=\"small\" x=\"" (at) "\" y=\"" (height - 8)
            "\" text-anchor=\"middle\">" (name) "</text>");
    }
    for (i, r) in rows.iter().enumerate() {
        let y = 4 + row * i as u32;
        html!(&mut s;
            "<a href=\"#" (r.anchor) "\">"
            "<text x=\"" (label - 6) "\" y=\"" (y + 14) "\" text-anchor=\"end\">"
            (clip(&r.label, 36)) "</text></a>"
            "<rect x=\"" (label) "\" y=\"" (y) "\" width=\"" (Fixed(x(r.validity) - label as f64, 1))
            "\" height=\"9\" fill=\"#1f6fb2\">"
            "<title>certificate valid for " (human(r.validity)) "</title></rect>");
        match r.pod_age {
            Some(age) => html!(&mut s;
                "<rect x=\"" (label) "\" y=\"" (y + 11) "\" width=\"" (Fixed(x(age) - label as f64, 1))
                "\" height=\"9\" fill=\"#8a949e\">"
                "<title>pod had run " (human(age)) "</title></rect>"),
            None => html!(&mut s;
                "<text class=\"small\" x=\"" (label + 4) "\" y=\"" (y + 20) "\">"
                "pod age unknown</text>"),
        }
    }
    html!(&mut s; "</svg>");
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

fn svg_open(title: &str, height: u32) -> Html {
    let mut s = Html::new();
    html!(&mut s; "<svg role=\"img\" aria-label=\"" (title) "\" viewBox=\"0 0 " (WIDTH) " " (height)
        "\" width=\"100%\" preserveAspectRatio=\"xMinYMin meet\"><title>" (title) "</title>");
    s
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
