//! Per-pod progress of `pod`: a live display (indicatif) on a terminal,
//! one plain line per step otherwise (CI logs).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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
    fn note(&self, message: &str) {
        eprintln!("tls-audit: {}", sanitize(message));
    }
}

/// A spinner per pod, and while its agent captures, a live line: time
/// elapsed of the capture, flows ended so far, how many were TLS, mutual
/// TLS, plaintext, and handshakes of flows still open.
pub struct Live {
    multi: MultiProgress,
    bars: Mutex<HashMap<String, ProgressBar>>,
    /// When each pod's capture started, and for how long.
    windows: Mutex<HashMap<String, (Instant, Duration)>>,
}

impl Live {
    /// A display on standard error.
    pub fn new() -> Self {
        Live {
            multi: MultiProgress::new(),
            bars: Mutex::new(HashMap::new()),
            windows: Mutex::new(HashMap::new()),
        }
    }

    fn bar(&self, pod: &str) -> ProgressBar {
        let mut bars = lock(&self.bars);
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
    fn capturing(&self, pod: &str, message: &str, duration: Duration) {
        lock(&self.windows).insert(pod.to_string(), (Instant::now(), duration));
        self.step(pod, message);
    }
    fn tally(&self, pod: &str, t: Tally) {
        let window = lock(&self.windows).get(pod).copied();
        self.bar(pod).set_message(live_line(window, t));
    }
    fn done(&self, pod: &str, summary: &str, failed: bool) {
        let mark = if failed { "✗" } else { "✓" };
        self.bar(pod)
            .finish_with_message(format!("{mark} {}", sanitize(summary)));
    }
    fn note(&self, message: &str) {
        // Above the bars, which are drawn again after it.
        self.multi
            .suspend(|| eprintln!("tls-audit: {}", sanitize(message)));
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// `12s/30s: 4 flows, 3 TLS, 2 mutual, 1 plaintext, 1 handshake open`.
fn live_line(window: Option<(Instant, Duration)>, t: Tally) -> String {
    let time = match window {
        Some((start, duration)) => format!(
            "{}s/{}s: ",
            start.elapsed().as_secs().min(duration.as_secs()),
            duration.as_secs()
        ),
        None => String::new(),
    };
    // Each TLS flow has a handshake event before its flow event.
    let open = t.handshakes.saturating_sub(t.tls);
    format!(
        "{time}{}, {} TLS, {} mutual, {} plaintext, {} open",
        crate::report::plural(t.flows, "flow"),
        t.tls,
        t.mutual,
        t.plaintext,
        crate::report::plural(open, "handshake")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_live_line_says_time_flows_and_protection() {
        let t = Tally {
            handshakes: 4,
            flows: 3,
            tls: 2,
            mutual: 1,
            plaintext: 1,
        };
        let line = live_line(Some((Instant::now(), Duration::from_secs(30))), t);
        assert_eq!(
            line,
            "0s/30s: 3 flows, 2 TLS, 1 mutual, 1 plaintext, 2 handshakes open"
        );
    }
}
