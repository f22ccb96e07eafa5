//! Per-pod progress of `pod`: a live display (indicatif) on a terminal,
//! one plain line per step otherwise (CI logs).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::cluster::audit::Progress;
use crate::cluster::logs::Tally;
use crate::report::sanitize;

/// Plain lines on standard error.
pub struct Lines;

impl Progress for Lines {
    fn step(&self, pod: &str, message: &str) {
        eprintln!("tls-audit: {pod}: {}", sanitize(message));
    }
    fn tally(&self, _pod: &str, _tally: Tally) {}
    fn done(&self, pod: &str, summary: &str, failed: bool) {
        let word = if failed { "failed" } else { "done" };
        eprintln!("tls-audit: {pod}: {word}: {}", sanitize(summary));
    }
}

/// A spinner per pod.
pub struct Live {
    multi: MultiProgress,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl Live {
    /// A display on standard error.
    pub fn new() -> Self {
        Live {
            multi: MultiProgress::new(),
            bars: Mutex::new(HashMap::new()),
        }
    }

    fn bar(&self, pod: &str) -> ProgressBar {
        let mut bars = match self.bars.lock() {
            Ok(b) => b,
            Err(p) => p.into_inner(),
        };
        bars.entry(pod.to_string())
            .or_insert_with(|| {
                let bar = self.multi.add(ProgressBar::new_spinner());
                let style = ProgressStyle::with_template("{spinner} {prefix:.bold} {wide_msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner());
                bar.set_style(style);
                bar.set_prefix(pod.to_string());
                bar.enable_steady_tick(Duration::from_millis(120));
                bar
            })
            .clone()
    }
}

impl Progress for Live {
    fn step(&self, pod: &str, message: &str) {
        self.bar(pod).set_message(sanitize(message));
    }
    fn tally(&self, pod: &str, t: Tally) {
        self.bar(pod).set_message(format!(
            "capturing: {} handshakes, {} flows ended",
            t.handshakes, t.flows
        ));
    }
    fn done(&self, pod: &str, summary: &str, failed: bool) {
        let mark = if failed { "✗" } else { "✓" };
        self.bar(pod)
            .finish_with_message(format!("{mark} {}", sanitize(summary)));
    }
}
