//! The command-line edge: argument parsing, output, exit codes. The work is
//! in the library; this module only wires it to files and the terminal.

pub mod exit;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::engine::{self, Config};
use crate::flow::FlowConfig;
use crate::report::{self, Report};

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
    /// Analyse pcap/pcapng captures (several are merged in time order; `-` reads stdin).
    Analyze(AnalyzeArgs),
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Table,
    Json,
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
        Command::Analyze(args) => analyze(args),
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
    let report = match engine::analyze_files(&args.captures, &cfg) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tls-audit: {e}");
            return exit::INPUT;
        }
    };
    let to_terminal = args.output.is_none() && std::io::stdout().is_terminal();
    let format = args.format.unwrap_or(if to_terminal {
        Format::Table
    } else {
        Format::Json
    });
    if let Err(code) = write_out(args.output.as_ref(), &report, format) {
        return code;
    }
    if let Some(path) = &args.output
        && (std::io::stderr().is_terminal() || format == Format::Json)
    {
        eprintln!(
            "tls-audit: {} flows ({} TLS) written to {}",
            report.stats.flows,
            report.stats.tls_flows,
            path.display()
        );
    }
    // The table prints its warnings itself; elsewhere they go to stderr.
    if format != Format::Table || args.output.is_some() {
        for w in &report.warnings {
            eprintln!("tls-audit: warning: {}", report::sanitize(&w.message));
        }
    }
    exit_code(&report)
}

fn exit_code(report: &Report) -> i32 {
    if report.inputs.iter().all(|i| i.complete) {
        exit::OK
    } else {
        exit::PARTIAL
    }
}

fn write_out(path: Option<&PathBuf>, report: &Report, format: Format) -> Result<(), i32> {
    let render = |out: &mut dyn Write| match format {
        Format::Json => report::write_json(report, out),
        Format::Table => out
            .write_all(report::render_table(report).as_bytes())
            .and_then(|_| out.flush()),
    };
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
