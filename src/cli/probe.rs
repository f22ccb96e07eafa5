//! `tls-audit probe`: ask endpoints directly, then verify what they said
//! with the same rules as `analyze`.

use std::path::PathBuf;
use std::time::Duration;

use super::{OutputArgs, Prepared, publish, verification};
use crate::audit::{self, AuditError, Status};
use crate::probe::{Identity, ProbeConfig, Target};

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

/// Run `tls-audit probe`.
pub(super) fn probe_command(args: ProbeArgs) -> Result<Status, AuditError> {
    let mut targets = Vec::new();
    for t in &args.targets {
        targets.push(Target::parse(t).map_err(|e| AuditError::Usage(e.to_string()))?);
    }
    if let Some(path) = &args.targets_file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| AuditError::Input(format!("cannot read {}: {e}", path.display())))?;
        let listed = Target::parse_list(&text)
            .map_err(|e| AuditError::Input(format!("{}: {e}", path.display())))?;
        targets.extend(listed);
    }
    if targets.is_empty() {
        return Err(AuditError::Usage(
            "probe needs at least one HOST:PORT (or --targets FILE)".into(),
        ));
    }
    let identity = match (&args.cert, &args.key) {
        (Some(c), Some(k)) => Some(load_identity(c, k)?),
        _ => None,
    };
    let prepared = Prepared::load(&args.out)?;
    let loaded = args.verify.settings().load()?;
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
    let (verifier, done, render) = prepared.conclusion(&args.out, loaded);
    let audited = audit::probe(&targets, &cfg, verifier, done)?;
    publish(&audited, &args.out, &render)
}

fn load_identity(cert: &PathBuf, key: &PathBuf) -> Result<Identity, AuditError> {
    let read = |p: &PathBuf| {
        std::fs::read(p)
            .map_err(|e| AuditError::Config(format!("cannot read {}: {e}", p.display())))
    };
    let (c, k) = (read(cert)?, read(key)?);
    Identity::from_pem(&c, &k).map_err(|e| AuditError::Config(format!("--cert/--key: {e}")))
}
