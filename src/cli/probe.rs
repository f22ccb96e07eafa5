//! `tls-audit probe`: ask endpoints directly, then verify what they said
//! with the same rules as `analyze`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use super::{Format, exit, render_whole, verification, write_to};
use crate::probe::{self, Identity, ProbeConfig, Target};

#[derive(Debug, clap::Args)]
pub(super) struct ProbeArgs {
    /// Endpoints: HOST:PORT, IP:PORT or [IPv6]:PORT. Names are resolved and
    /// sent as SNI.
    targets: Vec<String>,
    /// A file of endpoints, one per line (`#` comments).
    #[arg(long = "targets", value_name = "FILE")]
    targets_file: Option<PathBuf>,
    /// Client certificate chain (PEM) for a mutual-TLS handshake.
    #[arg(long, value_name = "FILE", requires = "key")]
    cert: Option<PathBuf>,
    /// Its private key (PEM).
    #[arg(long, value_name = "FILE", requires = "cert")]
    key: Option<PathBuf>,
    /// Output format (default: table on a terminal, JSON otherwise).
    #[arg(short = 'o', long = "format", value_enum)]
    format: Option<Format>,
    /// Write the report to this file instead of standard output.
    #[arg(long)]
    output: Option<PathBuf>,
    /// Endpoints probed at once.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Per-connection deadline for connect, handshake and reads, in
    /// milliseconds (a connect timeout is retried once).
    #[arg(long, value_name = "MS", default_value_t = 5000)]
    timeout: u64,
    /// Longest wait for a TLS 1.3 server's refusal of a missing client
    /// certificate after the handshake, in milliseconds (the wait is eight
    /// handshake times, at least 250 ms, at most this).
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    alert_wait: u64,
    /// Do not try SSL 3.0, TLS 1.0, TLS 1.1 or weak suites.
    #[arg(long)]
    no_legacy: bool,
    /// Do not send a plaintext request.
    #[arg(long)]
    no_plaintext: bool,
    #[command(flatten)]
    verify: verification::VerifyArgs,
}

/// Run `tls-audit probe`; returns the exit code.
pub(super) fn probe_command(args: ProbeArgs) -> i32 {
    let mut targets = Vec::new();
    for t in &args.targets {
        match Target::parse(t) {
            Ok(t) => targets.push(t),
            Err(e) => {
                eprintln!("tls-audit: {e}");
                return exit::USAGE;
            }
        }
    }
    if let Some(path) = &args.targets_file {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("tls-audit: cannot read {}: {e}", path.display());
                return exit::INPUT;
            }
        };
        match Target::parse_list(&text) {
            Ok(t) => targets.extend(t),
            Err(e) => {
                eprintln!("tls-audit: {}: {e}", path.display());
                return exit::INPUT;
            }
        }
    }
    if targets.is_empty() {
        eprintln!("tls-audit: probe needs at least one HOST:PORT (or --targets FILE)");
        return exit::USAGE;
    }
    let identity = match (&args.cert, &args.key) {
        (Some(c), Some(k)) => match load_identity(c, k) {
            Ok(i) => Some(i),
            Err(e) => {
                eprintln!("tls-audit: {e}");
                return exit::CONFIG;
            }
        },
        _ => None,
    };
    let (verifier, info) = match verification::load(&args.verify) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("tls-audit: {e}");
            return exit::CONFIG;
        }
    };
    let io = Duration::from_millis(args.timeout.max(1));
    let cfg = ProbeConfig {
        connect_timeout: io,
        io_timeout: io,
        alert_wait: Duration::from_millis(args.alert_wait),
        plaintext_wait: io.min(Duration::from_secs(2)),
        concurrency: args.concurrency.max(1),
        legacy: !args.no_legacy,
        plaintext: !args.no_plaintext,
        identity,
        ..ProbeConfig::default()
    };
    let results = match probe::probe_blocking(&targets, &cfg) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tls-audit: cannot start the probe runtime: {e}");
            return exit::OUTPUT;
        }
    };
    let failed = results.iter().filter(|r| r.record.error.is_some()).count();
    let report = probe::report(results, verifier, info);
    let to_terminal = args.output.is_none() && std::io::stdout().is_terminal();
    let format = args.format.unwrap_or(if to_terminal {
        Format::Table
    } else {
        Format::Json
    });
    let text = render_whole(&report, format);
    if let Err(code) = write_to(args.output.as_ref(), |out| out.write_all(text.as_bytes())) {
        return code;
    }
    if format != Format::Table || args.output.is_some() {
        for w in &report.warnings {
            eprintln!(
                "tls-audit: warning: {}",
                crate::report::sanitize(&w.message)
            );
        }
    }
    let gate_failed = report
        .verification
        .as_ref()
        .is_some_and(|v| v.gate.as_deref() == Some("fail"));
    if gate_failed {
        exit::FINDINGS
    } else if failed > 0 {
        exit::PARTIAL
    } else {
        exit::OK
    }
}

fn load_identity(cert: &PathBuf, key: &PathBuf) -> Result<Identity, String> {
    let c = std::fs::read(cert).map_err(|e| format!("cannot read {}: {e}", cert.display()))?;
    let k = std::fs::read(key).map_err(|e| format!("cannot read {}: {e}", key.display()))?;
    Identity::from_pem(&c, &k).map_err(|e| format!("--cert/--key: {e}"))
}
