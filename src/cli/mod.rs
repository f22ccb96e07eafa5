//! The command-line edge: argument parsing, output, exit codes. The work is
//! in the library; this module only wires it to files and the terminal.

pub mod exit;
mod probe;
mod rerender;
mod verification;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::engine::{self, Config};
use crate::flow::FlowConfig;
use crate::report::{self, Report};
use crate::verify;

/// Transit-encryption auditor: decides from captured packets whether
/// traffic is TLS, mutual TLS, and sound. Keeps handshake metadata only.
#[derive(Debug, Parser)]
#[command(name = "tls-audit", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Analyse pcap/pcapng captures (several are merged in time order; `-` reads stdin)
    /// and verify them against a policy.
    Analyze(Box<AnalyzeArgs>),
    /// Probe endpoints directly (TLS versions, chain, client-certificate
    /// policy, plaintext acceptance) and verify the answers against a policy.
    Probe(Box<probe::ProbeArgs>),
    /// Print or check a verification policy.
    Policy(verification::PolicyArgs),
    /// List the verification rules.
    Rules,
    /// Render a saved JSON report again, in another format.
    Report(rerender::ReportArgs),
}

#[derive(Debug, clap::Args)]
struct AnalyzeArgs {
    /// Capture files; `-` reads a pcap stream from standard input.
    #[arg(required = true)]
    captures: Vec<String>,
    /// Output format (default: table on a terminal, JSON otherwise).
    #[arg(short = 'o', long = "format", value_enum)]
    format: Option<Format>,
    /// Write the report to this file instead of standard output.
    #[arg(long)]
    output: Option<PathBuf>,
    /// Flows tracked at once; the least recently seen are evicted beyond it.
    #[arg(long, default_value_t = FlowConfig::default().max_flows)]
    max_flows: usize,
    /// Bytes reassembled per TCP direction to find a handshake.
    #[arg(long, default_value_t = FlowConfig::default().stream_cap)]
    stream_cap: usize,
    /// Seconds without a packet after which a flow is finished.
    #[arg(long, default_value_t = 300)]
    idle_timeout: u64,
    /// NSS key log file (SSLKEYLOGFILE) with TLS 1.3 handshake secrets;
    /// repeatable. Secrets in pcapng Decryption Secrets Blocks are used too.
    /// Only handshakes are decrypted, never application data.
    #[arg(long, value_name = "FILE")]
    keylog: Vec<PathBuf>,
    #[command(flatten)]
    verify: verification::VerifyArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    Table,
    Json,
    /// Markdown summary (CI job summaries, pull-request comments).
    Markdown,
    /// JUnit XML: a test suite per subject, a test case per rule.
    Junit,
    /// SARIF 2.1.0 for code-scanning tools.
    Sarif,
}

/// Render an in-memory report in one of the whole-document formats.
pub(crate) fn render_whole(report: &Report, format: Format) -> String {
    match format {
        Format::Json => report::render_json(report),
        Format::Table => report::render_table(report),
        Format::Markdown => report::render_markdown(report),
        Format::Junit => report::render_junit(report),
        Format::Sarif => report::render_sarif(report),
    }
}

/// Run the command line; returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            let _ = e.print();
            return code;
        }
    };
    match cli.command {
        Command::Analyze(args) => analyze(*args),
        Command::Probe(args) => probe::probe_command(*args),
        Command::Policy(args) => verification::policy_command(&args),
        Command::Rules => verification::rules_command(),
        Command::Report(args) => rerender::report_command(&args),
    }
}

fn analyze(args: AnalyzeArgs) -> i32 {
    let cfg = Config {
        flows: FlowConfig {
            max_flows: args.max_flows.max(1),
            stream_cap: args.stream_cap.max(1024),
            idle_timeout: i64::try_from(args.idle_timeout)
                .unwrap_or(i64::MAX / 1_000_000_000)
                .saturating_mul(1_000_000_000),
            ..FlowConfig::default()
        },
    };
    let (verifier, info) = match verification::load(&args.verify) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("tls-audit: {e}");
            return exit::CONFIG;
        }
    };
    let keys = match load_keylogs(&args.keylog) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("tls-audit: {e}");
            return exit::CONFIG;
        }
    };
    let readers = match engine::open_all(&args.captures) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tls-audit: {e}");
            return exit::INPUT;
        }
    };
    // Finished flows go to an unlinked temporary file, so memory stays flat
    // however many flows the captures hold.
    let spill = match engine::SpillSink::new() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("tls-audit: cannot create a temporary file: {e}");
            return exit::OUTPUT;
        }
    };
    let sink = verify::VerifyingSink {
        verifier,
        inner: spill,
    };
    let (mut report, sink) = engine::run_with_keys(readers, &cfg, sink, keys);
    let (_, _, collected) = sink.verifier.finish();
    let (verification, findings, warnings) = verify::conclude(collected, info);
    let failed = verification.gate.as_deref() == Some("fail");
    report.verification = Some(verification);
    report.findings = findings;
    report.warnings.extend(warnings);
    let flows = match sink.inner.into_spilled() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("tls-audit: cannot write the temporary file: {e}");
            return exit::OUTPUT;
        }
    };
    let to_terminal = args.output.is_none() && std::io::stdout().is_terminal();
    let format = args.format.unwrap_or(if to_terminal {
        Format::Table
    } else {
        Format::Json
    });
    if let Err(code) = write_out(args.output.as_ref(), &report, &flows, format) {
        return code;
    }
    if let Some(path) = &args.output
        && (std::io::stderr().is_terminal() || format == Format::Json)
    {
        eprintln!(
            "tls-audit: {} flows ({} TLS), {} findings written to {}",
            report.stats.flows,
            report.stats.tls_flows,
            report.findings.len(),
            path.display()
        );
    }
    // The table prints its warnings itself; elsewhere they go to stderr.
    if format != Format::Table || args.output.is_some() {
        for w in &report.warnings {
            eprintln!("tls-audit: warning: {}", report::sanitize(&w.message));
        }
    }
    exit_code(&report, failed)
}

/// Largest key log file read.
const MAX_KEYLOG_BYTES: u64 = 256 << 20;

fn load_keylogs(paths: &[PathBuf]) -> Result<crate::tls::KeyLog, String> {
    let mut keys = crate::tls::KeyLog::default();
    for p in paths {
        let too_big = std::fs::metadata(p).is_ok_and(|m| m.len() > MAX_KEYLOG_BYTES);
        if too_big {
            return Err(format!("key log {} is larger than 256 MiB", p.display()));
        }
        let text =
            std::fs::read(p).map_err(|e| format!("cannot read key log {}: {e}", p.display()))?;
        keys.add(&p.display().to_string(), &text);
    }
    Ok(keys)
}

fn exit_code(report: &Report, gate_failed: bool) -> i32 {
    if gate_failed {
        exit::FINDINGS
    } else if report.inputs.iter().all(|i| i.complete) {
        exit::OK
    } else {
        exit::PARTIAL
    }
}

fn write_out(
    path: Option<&PathBuf>,
    report: &Report,
    flows: &engine::Spilled,
    format: Format,
) -> Result<(), i32> {
    let render = |out: &mut dyn Write| match format {
        Format::Json => report::write_json_streamed(report, out, |emit| flows.for_each_json(emit)),
        Format::Table => {
            let mut table = report::TableWriter::default();
            flows.for_each(|f| {
                table.measure(&f);
                Ok(())
            })?;
            out.write_all(table.header().as_bytes())?;
            flows.for_each(|f| out.write_all(table.row(&f).as_bytes()))?;
            out.write_all(table.footer(report).as_bytes())?;
            out.flush()
        }
        // These need every flow at once (subjects, summaries): read back
        // from the spill file into memory.
        Format::Markdown | Format::Junit | Format::Sarif => {
            let mut whole = report.clone();
            flows.for_each(|f| {
                whole.flows.push(f);
                Ok(())
            })?;
            out.write_all(render_whole(&whole, format).as_bytes())?;
            out.flush()
        }
    };
    write_to(path, render)
}

/// Write to `path` (else standard output) with `render`; errors are said
/// and become `exit::OUTPUT`, except a closed pipe.
fn write_to(
    path: Option<&PathBuf>,
    render: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), i32> {
    let result = match path {
        Some(p) => std::fs::File::create(p)
            .and_then(|f| render(&mut std::io::BufWriter::new(f)))
            .map_err(|e| (p.display().to_string(), e)),
        None => render(&mut std::io::BufWriter::new(std::io::stdout().lock()))
            .map_err(|e| ("standard output".to_string(), e)),
    };
    match result {
        Ok(()) => Ok(()),
        // A closed pipe (`| head`) is the reader's choice, not a failure.
        Err((_, e)) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err((what, e)) => {
            eprintln!("tls-audit: cannot write the report to {what}: {e}");
            Err(exit::OUTPUT)
        }
    }
}
