//! Placeholder until the HTML renderer lands.

use super::model::Report;

/// Render the report as one self-contained HTML page.
pub fn render_html(_report: &Report) -> String {
    String::new()
}
