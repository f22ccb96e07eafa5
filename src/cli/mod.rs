//! The command-line edge: argument parsing, rendering, exit codes. The work
//! is in the library (`crate::audit` runs an audit); this module turns
//! arguments into its calls, writes what comes back to files and the
//! terminal, and maps its errors and status to exit codes (`exit`).

mod capture;
mod evidence;
pub mod exit;
mod output;
mod pod;
mod probe;
mod progress;
mod rerender;
mod verification;

use std::io::{IsTerminal, Write};
use std::os::fd::AsFd;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::audit::{self, AuditError, Audited, Conclusion, Publish, Status};
use crate::engine::{self, Config};
use crate::flow::FlowConfig;
use crate::report::{self, Report, inventory};
use crate::verify;
use crate::verify::controls::{Catalog, Source};

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
    /// Capture live from an interface and analyse as packets arrive (the
    /// in-cluster agent: ephemeral container, sidecar or node DaemonSet).
    Capture(Box<capture::CaptureArgs>),
    /// Probe endpoints directly (TLS versions, chain, client-certificate
    /// policy, plaintext acceptance) and verify the answers against a policy.
    Probe(Box<probe::ProbeArgs>),
    /// Print or check a verification policy.
    Policy(verification::PolicyArgs),
    /// List the verification rules.
    Rules,
    /// Render a saved JSON report again, in another format.
    Report(rerender::ReportArgs),
    /// Compare two saved JSON reports' findings: new, fixed, unchanged
    /// (table, JSON, or Markdown for a pull-request comment).
    Diff(evidence::DiffArgs),
    /// Audit running pods through the Kubernetes API (`kubectl tls-audit
    /// pod`): add the capture agent as an ephemeral container, read its
    /// events, and verify them with the cluster's pods, nodes and Services;
    /// with --active (or --active-only) probe the pods' declared ports too.
    Pod(Box<pod::PodArgs>),
}

#[derive(Debug, clap::Args)]
struct AnalyzeArgs {
    /// Capture files; `-` reads a pcap stream from standard input.
    #[arg(required_unless_present = "events", conflicts_with = "events")]
    captures: Vec<String>,
    /// Rebuild the report from a saved `tls-audit capture --emit ndjson`
    /// event stream instead of captures (repeatable; `-` is standard input).
    #[arg(long, value_name = "FILE")]
    events: Vec<String>,
    #[command(flatten)]
    out: OutputArgs,
    #[command(flatten)]
    engine: EngineArgs,
    /// A gzip-compressed capture stops being read (incomplete, exit 4) once
    /// it has expanded past this many bytes per compressed byte read, and
    /// past --gunzip-floor-mib (a decompression bomb); 0: no cap.
    #[arg(long, value_name = "N", default_value_t = crate::capture::DEFAULT_MAX_RATIO)]
    gunzip_max_ratio: u64,
    /// MiB a gzip-compressed capture may always expand to, whatever the ratio.
    #[arg(long, value_name = "MIB", default_value_t = crate::capture::DEFAULT_FLOOR_MIB)]
    gunzip_floor_mib: u64,
    /// NSS key log file (SSLKEYLOGFILE) with TLS 1.3 handshake secrets;
    /// repeatable. Secrets in pcapng Decryption Secrets Blocks are used too.
    /// Only handshakes are decrypted, never application data.
    #[arg(long, value_name = "FILE")]
    keylog: Vec<PathBuf>,
    /// Threads analysing the captures: 1 does everything on one thread;
    /// 2 adds a thread that reads pcap files ahead, one that verifies
    /// finished flows and one that writes them; N > 2 also spreads the
    /// flows over N workers behind a reader thread; 0: one per available
    /// CPU. Default: 2 when two CPUs are available, else 1. The report is
    /// the same whatever N; docs/threads.md says what more threads cost
    /// and when they pay off.
    #[arg(long, value_name = "N",
          value_parser = clap::value_parser!(u16).range(0..=256))]
    threads: Option<u16>,
    #[command(flatten)]
    enrich: EnrichArgs,
    #[command(flatten)]
    verify: verification::VerifyArgs,
}

/// Identity enrichment (`--enrich probe`).
#[derive(Debug, clap::Args)]
pub(crate) struct EnrichArgs {
    /// Obtain the certificates a TLS 1.3 (or resumed) handshake hid: `probe`
    /// makes a TLS handshake, from here, to each such server endpoint,
    /// offering the captured ClientHello's server name, ALPN and versions,
    /// and a second one to check the answer is stable, and attaches the
    /// chain it presents to those flows, marked with where and when it was
    /// obtained. Handshakes only; nothing else is sent.
    #[arg(long, value_enum, value_name = "METHOD")]
    enrich: Option<EnrichMethod>,
    /// Deadline of each enrichment handshake (and of its connect).
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = humantime::parse_duration)]
    enrich_timeout: std::time::Duration,
    /// Enrichment handshakes at once.
    #[arg(long, value_name = "N", default_value_t = 16)]
    enrich_concurrency: usize,
    /// Distinct endpoints asked at most (the rest are reported `over-limit`;
    /// `capture` makes room by forgetting the endpoint asked longest ago).
    #[arg(long, value_name = "N", default_value_t = 1024)]
    enrich_max_endpoints: usize,
    /// `capture`: an endpoint is asked again once its answer is this old
    /// (workload certificates rotate; meshes' last hours).
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = humantime::parse_duration)]
    enrich_refresh: std::time::Duration,
}

/// How identities hidden by the handshake are obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum EnrichMethod {
    /// A handshake with each server from where tls-audit runs.
    Probe,
}

impl EnrichArgs {
    /// The run's enrichment limits, or None when not asked for. `live`: a
    /// capture that runs on (flows go on as their handshakes end, answers
    /// are refreshed).
    pub(crate) fn config(&self, live: bool) -> Option<crate::enrich::EnrichConfig> {
        self.enrich?;
        let mut cfg = crate::enrich::EnrichConfig {
            max_endpoints: self.enrich_max_endpoints.max(1),
            refresh: live.then_some(self.enrich_refresh.max(std::time::Duration::from_secs(1))),
            ..Default::default()
        };
        cfg.probe.connect_timeout = self.enrich_timeout;
        cfg.probe.io_timeout = self.enrich_timeout;
        cfg.probe.concurrency = self.enrich_concurrency.clamp(1, 256);
        Some(cfg)
    }
}

/// Where the report goes and what it adds, shared by `analyze` and `capture`.
#[derive(Debug, clap::Args)]
pub(crate) struct OutputArgs {
    #[command(flatten)]
    dest: output::Destination,
    /// Compliance views to add, comma-separated: pci-dss-4.0.1, hipaa.
    /// Each control gets a status (pass, fail, needs review, not
    /// applicable), its evidence, and its scope caveats.
    #[arg(long, value_name = "FRAMEWORKS", value_delimiter = ',')]
    compliance: Vec<String>,
    /// The cluster's name, recorded in the report's metadata.
    #[arg(long, value_name = "NAME")]
    cluster_name: Option<String>,
    #[command(flatten)]
    evidence: evidence::EvidenceArgs,
    /// Warning kinds the command already said on standard error as they
    /// happened (`pod`'s per-pod failures): not repeated there at the end.
    #[arg(skip)]
    pub(crate) said: Vec<crate::model::WarningKind>,
}

/// Limits of the engine, shared by `analyze` and `capture`.
#[derive(Debug, clap::Args)]
pub(crate) struct EngineArgs {
    /// Flows tracked at once; the least recently seen are evicted beyond it.
    #[arg(long, default_value_t = FlowConfig::default().max_flows)]
    max_flows: usize,
    /// Bytes reassembled per TCP direction to find a handshake.
    #[arg(long, default_value_t = FlowConfig::default().stream_cap)]
    stream_cap: usize,
    /// Seconds without a packet after which a flow is finished.
    #[arg(long, default_value_t = 300)]
    idle_timeout: u64,
    /// MiB the flow table may hold: its entries (2 KiB each, at most half
    /// of it) and all undecided flows' buffers together; past it the least
    /// recently seen or longest-idle flows are finished early (counted and
    /// warned about).
    #[arg(long, default_value_t = FlowConfig::default().buffer_budget >> 20)]
    buffer_budget_mib: usize,
}

impl EngineArgs {
    pub(crate) fn config(&self) -> Config {
        Config {
            flows: FlowConfig {
                max_flows: self.max_flows.max(1),
                stream_cap: self.stream_cap.max(1024),
                idle_timeout: i64::try_from(self.idle_timeout)
                    .unwrap_or(i64::MAX / 1_000_000_000)
                    .saturating_mul(1_000_000_000),
                buffer_budget: self.buffer_budget_mib.clamp(1, 1 << 20) << 20,
                ..FlowConfig::default()
            },
            ..Config::default()
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// A table of flows, findings and warnings (`wide`: with more
    /// columns, as kubectl's `-o wide`).
    #[value(alias = "wide")]
    Table,
    Json,
    /// Markdown summary (CI job summaries, pull-request comments).
    Markdown,
    /// JUnit XML: a test suite per subject, a test case per rule.
    Junit,
    /// SARIF 2.1.0 for code-scanning tools.
    Sarif,
    /// YAML: the JSON report's document, in YAML.
    Yaml,
    /// One self-contained HTML page (charts, certificate inventory,
    /// sortable and filterable flow table, compliance views).
    Html,
    /// GitHub Actions workflow commands (`::error` ...), one per finding.
    Github,
    /// The cryptographic inventory as CSV: each distinct (version, cipher
    /// suite, key-exchange group, signature scheme, certificate key and
    /// signature) with flows, first/last seen, workloads, endpoints (PCI DSS
    /// 12.3.3).
    Inventory,
    /// The certificate inventory as CSV: issuer, subject, SPIFFE ID, serial,
    /// validity, where seen (PCI DSS 4.2.1.1).
    InventoryCertificates,
    /// Both inventories as one JSON document.
    InventoryJson,
}

/// How the table looks: wide or not; on a terminal, coloured (not with
/// `NO_COLOR`) and fitted to its width (`COLUMNS`, else 120).
pub(crate) fn table_style(to_stdout: bool, wide: bool) -> report::TableStyle {
    let terminal = to_stdout && std::io::stdout().is_terminal();
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    report::TableStyle {
        wide,
        color: terminal && !no_color,
        // Fitted on a terminal; in a file or a pipe, whole (as kubectl).
        width: (terminal && !wide).then(terminal_width),
    }
}

/// The terminal's width: `COLUMNS` when set, else 120.
fn terminal_width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|&c| c >= 40)
        .unwrap_or(120)
}

/// Render an in-memory report in one of the whole-document formats, with
/// the rendering options (`--docs-url`, `--manifests`...).
pub(crate) fn render_whole_with(
    report: &Report,
    format: Format,
    opts: &report::RenderOptions,
) -> String {
    match format {
        Format::Json => report::render_json(report),
        Format::Table => report::render_table(report),
        Format::Markdown => report::render_markdown_with(report, opts),
        Format::Junit => report::render_junit_with(report, opts),
        Format::Sarif => report::render_sarif_with(report, opts),
        Format::Yaml => report::render_yaml(report),
        Format::Html => report::render_html_with(report, opts),
        Format::Github => report::render_github(report),
        Format::Inventory | Format::InventoryCertificates | Format::InventoryJson => {
            let inv = report
                .inventory
                .clone()
                .unwrap_or_else(|| inventory::CryptoInventory::of_flows(&report.flows));
            render_inventory(&inv, format)
        }
    }
}

/// One of the inventory formats.
fn render_inventory(inv: &inventory::CryptoInventory, format: Format) -> String {
    match format {
        Format::InventoryCertificates => inventory::render_certificates_csv(inv),
        Format::InventoryJson => {
            let mut s = serde_json::to_string_pretty(inv).unwrap_or_default();
            s.push('\n');
            report::escape_json_string(s)
        }
        _ => inventory::render_configurations_csv(inv),
    }
}

/// The frameworks `--compliance` names.
pub(crate) fn compliance_frameworks(
    names: &[String],
) -> Result<Option<(&'static Catalog, Vec<&'static Source>)>, AuditError> {
    if names.is_empty() {
        return Ok(None);
    }
    report::compliance::frameworks(names)
        .map(Some)
        .map_err(|e| AuditError::Usage(format!("--compliance: {e}")))
}

/// Run the command line; returns the process exit code.
pub fn main() -> i32 {
    let cli = match parse_args() {
        Ok(c) => c,
        Err(ParseFail::Usage(line)) => {
            eprintln!("tls-audit: {line}");
            return exit::USAGE;
        }
        Err(ParseFail::Clap(e)) => {
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            let _ = e.print();
            return code;
        }
    };
    let ran = match cli.command {
        Command::Analyze(args) => analyze(*args),
        Command::Capture(args) => capture::capture_command(&args),
        Command::Probe(args) => probe::probe_command(*args),
        Command::Policy(args) => verification::policy_command(&args),
        Command::Rules => Ok(verification::rules_command()),
        Command::Report(args) => rerender::report_command(&args),
        Command::Diff(args) => evidence::diff_command(&args),
        Command::Pod(args) => pod::pod_command(*args),
    };
    match ran {
        Ok(status) => exit::of_status(status),
        Err(e) => {
            eprintln!("tls-audit: {e}");
            exit::of_error(&e)
        }
    }
}

/// Parse the command line. Run as `kubectl-tls_audit` (a kubectl plugin),
/// usage and help name the command as the user types it:
/// `kubectl tls-audit`.
fn parse_args() -> Result<Cli, ParseFail> {
    use clap::{CommandFactory, FromArgMatches};
    let plugin = std::env::args_os()
        .next()
        .map(PathBuf::from)
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .is_some_and(|n| n.starts_with("kubectl-"));
    let mut cmd = Cli::command();
    if plugin {
        cmd = cmd.name("kubectl tls-audit").bin_name("kubectl tls-audit");
    }
    let matches = cmd.try_get_matches().map_err(ParseFail::Clap)?;
    match output::check(&matches) {
        Ok(Some(note)) => eprintln!("tls-audit: {note}"),
        Ok(None) => {}
        Err(e) => return Err(ParseFail::Usage(e)),
    }
    Cli::from_arg_matches(&matches).map_err(ParseFail::Clap)
}

/// Why the command line was not run.
enum ParseFail {
    /// clap's own error (or `--help`, `--version`).
    Clap(clap::Error),
    /// A usage error of ours: one line, with the fix.
    Usage(String),
}

fn analyze(args: AnalyzeArgs) -> Result<Status, AuditError> {
    let prepared = Prepared::load(&args.out)?;
    let loaded = args.verify.settings().load()?;
    let mut cfg = args.engine.config();
    cfg.threads = match args.threads {
        None => engine::default_threads(),
        Some(0) => engine::available_threads(),
        Some(n) => usize::from(n),
    };
    cfg.read = crate::capture::ReadLimits {
        gzip_max_ratio: args.gunzip_max_ratio,
        gzip_floor: args.gunzip_floor_mib.saturating_mul(1 << 20),
        ..crate::capture::ReadLimits::default()
    };
    let keys = audit::load_keylogs(&args.keylog)?;
    let enrich = args.enrich.config(false).map(|mut c| {
        c.declared = loaded.verifier.declared_ports().map(std::sync::Arc::new);
        c
    });
    let (verifier, done, render) = prepared.conclusion(&args.out, loaded);
    let audited = if args.events.is_empty() {
        audit::analyze_captures(
            &args.captures,
            keys,
            &cfg,
            enrich.as_ref(),
            verifier,
            done,
            Vec::new(),
        )?
    } else {
        let replays = audit::read_event_streams(&args.events)?;
        audit::conclude_replays(
            replays,
            Vec::new(),
            Vec::new(),
            enrich.as_ref(),
            verifier,
            done,
        )?
    };
    publish(&audited, &args.out, &render)
}

/// What the output options load to before anything is analysed: the
/// compliance views asked for, the baseline, the manifests.
pub(crate) struct Prepared {
    frameworks: Option<(&'static Catalog, Vec<&'static Source>)>,
    evidence: evidence::Evidence,
}

impl Prepared {
    /// Check `--compliance` and read `--baseline` and `--manifests`.
    pub(crate) fn load(out: &OutputArgs) -> Result<Self, AuditError> {
        Ok(Prepared {
            frameworks: compliance_frameworks(&out.compliance)?,
            evidence: out.evidence.load()?,
        })
    }

    /// With verification loaded: the verifier, what concludes the run, and
    /// the rendering options.
    pub(crate) fn conclusion(
        self,
        out: &OutputArgs,
        loaded: audit::Loaded,
    ) -> (verify::Verifier, Conclusion, report::RenderOptions) {
        let done = Conclusion {
            info: loaded.info,
            publish: Publish {
                frameworks: self.frameworks,
                starts: loaded.starts,
                cluster_name: out.cluster_name.clone(),
                baseline: self.evidence.baseline,
                table: format_of(&out.dest.resolved()) == Format::Table,
            },
        };
        (loaded.verifier, done, self.evidence.render)
    }
}

/// The format a report is written in: the one asked for, else a table on
/// a terminal and JSON elsewhere.
pub(crate) fn format_of(dest: &output::Resolved) -> Format {
    let to_terminal = dest.file.is_none() && std::io::stdout().is_terminal();
    dest.format.unwrap_or(if to_terminal {
        Format::Table
    } else {
        Format::Json
    })
}

/// Write an audited report as the output options say, and say on standard
/// error what a reader of the terminal or the log needs: the baseline's
/// counts, where the report went, the warnings, the gate's line.
pub(crate) fn publish(
    audited: &Audited,
    out: &OutputArgs,
    render: &report::RenderOptions,
) -> Result<Status, AuditError> {
    let report = &audited.report;
    evidence::say_baseline(report);
    let dest = out.dest.resolved();
    let output = dest.file.as_ref();
    let format = format_of(&dest);
    write_out(
        output,
        report,
        &audited.flows,
        audited.table.as_ref(),
        format,
        render,
        dest.wide,
    )?;
    if let Some(path) = output
        && (std::io::stderr().is_terminal() || format == Format::Json)
    {
        eprintln!(
            "tls-audit: {} ({} TLS), {} written to {}",
            report::plural(report.stats.flows, "flow"),
            report.stats.tls_flows,
            report::plural(
                u64::try_from(report.findings.len()).unwrap_or(u64::MAX),
                "finding"
            ),
            path.display()
        );
    }
    // The table prints its warnings itself; elsewhere they go to stderr.
    if format != Format::Table || output.is_some() {
        for w in report
            .warnings
            .iter()
            .filter(|w| !out.said.contains(&w.kind))
        {
            eprintln!("tls-audit: warning: {}", report::sanitize(&w.message));
        }
    }
    if let Some(line) = evidence::gate_line(report) {
        eprintln!("{line}");
    }
    Ok(audited.status)
}

pub(crate) fn write_out(
    path: Option<&PathBuf>,
    report: &Report,
    flows: &engine::Spilled,
    table: Option<&audit::TableCells>,
    format: Format,
    opts: &report::RenderOptions,
    wide: bool,
) -> Result<(), AuditError> {
    let render = |out: &mut dyn Write| match format {
        Format::Json => report::write_json_streamed(report, out, |emit| flows.for_each_json(emit)),
        Format::Table => {
            let style = table_style(path.is_none(), wide);
            // Made as the flows were spilled (every command asks for it
            // when its output is a table): written from their cells. A
            // report concluded without it is measured in a pass of its own.
            if let Some(cells) = table {
                let mut table = report::TableWriter::measured(style, &cells.widths);
                out.write_all(table.header().as_bytes())?;
                cells.for_each_line(&table, |line| out.write_all(line.as_bytes()))?;
                out.write_all(table.footer(report).as_bytes())?;
                return out.flush();
            }
            let mut table = report::TableWriter::new(style);
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
        Format::Markdown
        | Format::Junit
        | Format::Sarif
        | Format::Yaml
        | Format::Html
        | Format::Github => {
            let mut whole = report.clone();
            flows.for_each(|f| {
                whole.flows.push(f);
                Ok(())
            })?;
            out.write_all(render_whole_with(&whole, format, opts).as_bytes())?;
            out.flush()
        }
        // Built from the flows already (`annotate`).
        Format::Inventory | Format::InventoryCertificates | Format::InventoryJson => {
            out.write_all(render_whole_with(report, format, opts).as_bytes())?;
            out.flush()
        }
    };
    write_to(path, render)
}

/// Bytes gathered per write of a report (a JSON report is one long line).
const OUT_BUFFER: usize = 256 << 10;

/// Write to `path` (else standard output) with `render`; a closed pipe is
/// not an error.
pub(crate) fn write_to(
    path: Option<&PathBuf>,
    render: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), AuditError> {
    let result = match path {
        Some(p) => std::fs::File::create(p)
            .and_then(|f| render(&mut std::io::BufWriter::with_capacity(OUT_BUFFER, f))),
        None => {
            let mut stdout = std::io::stdout().lock();
            // Standard output's own writer scans every write for a line's
            // end; a report is written to its file descriptor (a copy of
            // it) directly, once what it holds is out.
            match stdout
                .flush()
                .and_then(|()| stdout.as_fd().try_clone_to_owned())
            {
                Ok(fd) => render(&mut std::io::BufWriter::with_capacity(
                    OUT_BUFFER,
                    std::fs::File::from(fd),
                )),
                Err(_) => render(&mut std::io::BufWriter::with_capacity(OUT_BUFFER, stdout)),
            }
        }
    };
    match result {
        Ok(()) => Ok(()),
        // A closed pipe (`| head`) is the reader's choice, not a failure.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(AuditError::write(path, e)),
    }
}
