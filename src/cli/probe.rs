//! `tls-audit probe`: ask endpoints directly, then verify what they said
//! with the same rules as `analyze`.

use std::path::PathBuf;
use std::time::Duration;

use super::{OutputArgs, Publish, exit, verification};
use crate::engine::{FlowSink, SpillSink};
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
    #[command(flatten)]
    out: OutputArgs,
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
    /// Do not ask a TLS 1.3 endpoint which key-exchange groups it accepts
    /// (post-quantum hybrids and classical groups, one connection each).
    #[arg(long)]
    no_groups: bool,
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
    let frameworks = match super::compliance_frameworks(&args.out.compliance) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let (verifier, info, starts) = match verification::load(&args.verify) {
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
        groups: !args.no_groups,
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
    let mut report = probe::report(results, verifier, info);
    // The flows go where a capture's go, so every format, the compliance
    // views and the metadata treat them alike.
    let mut spill = match SpillSink::new() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("tls-audit: cannot create a temporary file: {e}");
            return exit::OUTPUT;
        }
    };
    for (i, f) in report.flows.drain(..).enumerate() {
        spill.flow(i as u64 + 1, f);
    }
    let flows = match spill.into_spilled() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("tls-audit: cannot write the temporary file: {e}");
            return exit::OUTPUT;
        }
    };
    let publish = Publish {
        frameworks,
        starts,
        out: &args.out,
    };
    publish.write(report, &flows, failed > 0)
}

fn load_identity(cert: &PathBuf, key: &PathBuf) -> Result<Identity, String> {
    let c = std::fs::read(cert).map_err(|e| format!("cannot read {}: {e}", cert.display()))?;
    let k = std::fs::read(key).map_err(|e| format!("cannot read {}: {e}", key.display()))?;
    Identity::from_pem(&c, &k).map_err(|e| format!("--cert/--key: {e}"))
}
