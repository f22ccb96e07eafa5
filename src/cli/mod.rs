//! The command-line edge: argument parsing, output, exit codes. The work is
//! in the library; this module only wires it to files and the terminal.

mod capture;
pub mod exit;
mod pod;
mod probe;
mod progress;
mod rerender;
mod verification;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::engine::{self, Config};
use crate::flow::FlowConfig;
use crate::report::compliance::Evaluator;
use crate::report::metadata::MetadataBuilder;
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
    /// NSS key log file (SSLKEYLOGFILE) with TLS 1.3 handshake secrets;
    /// repeatable. Secrets in pcapng Decryption Secrets Blocks are used too.
    /// Only handshakes are decrypted, never application data.
    #[arg(long, value_name = "FILE")]
    keylog: Vec<PathBuf>,
    #[command(flatten)]
    verify: verification::VerifyArgs,
}

/// Where the report goes and what it adds, shared by `analyze` and `capture`.
#[derive(Debug, clap::Args)]
pub(crate) struct OutputArgs {
    /// Output format (default: table on a terminal, JSON otherwise).
    #[arg(short = 'o', long = "format", value_enum)]
    format: Option<Format>,
    /// Write the report to this file instead of standard output.
    #[arg(long)]
    output: Option<PathBuf>,
    /// Compliance views to add, comma-separated: pci-dss-4.0.1, hipaa.
    /// Each control gets a status (pass, fail, needs review, not
    /// applicable), its evidence, and its scope caveats.
    #[arg(long, value_name = "FRAMEWORKS", value_delimiter = ',')]
    compliance: Vec<String>,
    /// The cluster's name, recorded in the report's metadata.
    #[arg(long, value_name = "NAME")]
    cluster_name: Option<String>,
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
    /// MiB all undecided flows may hold in buffers together; past it the
    /// longest-idle of them are finished early (counted and warned about).
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
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// A table of flows, findings and warnings (`wide` is accepted, as
    /// kubectl users type it, and gives the same table).
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

/// Render an in-memory report in one of the whole-document formats.
pub(crate) fn render_whole(report: &Report, format: Format) -> String {
    match format {
        Format::Json => report::render_json(report),
        Format::Table => report::render_table(report),
        Format::Markdown => report::render_markdown(report),
        Format::Junit => report::render_junit(report),
        Format::Sarif => report::render_sarif(report),
        Format::Yaml => report::render_yaml(report),
        Format::Html => report::render_html(report),
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
            s
        }
        _ => inventory::render_configurations_csv(inv),
    }
}

/// The frameworks `--compliance` names, or the usage error to print.
pub(crate) fn compliance_frameworks(
    names: &[String],
) -> Result<Option<(&'static Catalog, Vec<&'static Source>)>, i32> {
    if names.is_empty() {
        return Ok(None);
    }
    match report::compliance::frameworks(names) {
        Ok(chosen) => Ok(Some(chosen)),
        Err(e) => {
            eprintln!("tls-audit: --compliance: {e}");
            Err(exit::USAGE)
        }
    }
}

/// Run the command line; returns the process exit code.
pub fn main() -> i32 {
    let cli = match parse_args() {
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
        Command::Capture(args) => capture::capture_command(&args),
        Command::Probe(args) => probe::probe_command(*args),
        Command::Policy(args) => verification::policy_command(&args),
        Command::Rules => verification::rules_command(),
        Command::Report(args) => rerender::report_command(&args),
        Command::Pod(args) => pod::pod_command(*args),
    }
}

/// Parse the command line. Run as `kubectl-tls_audit` (a kubectl plugin),
/// usage and help name the command as the user types it:
/// `kubectl tls-audit`.
fn parse_args() -> Result<Cli, clap::Error> {
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
    Cli::from_arg_matches(&cmd.try_get_matches()?)
}

fn analyze(args: AnalyzeArgs) -> i32 {
    let frameworks = match compliance_frameworks(&args.out.compliance) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let cfg = args.engine.config();
    let (verifier, info, starts) = match verification::load(&args.verify) {
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
    let done = Conclusion {
        info,
        publish: Publish {
            frameworks,
            starts,
            out: &args.out,
        },
    };
    if !args.events.is_empty() {
        return replay_events(&args.events, verifier, done);
    }
    analyze_captures(&args.captures, keys, &cfg, verifier, done, Vec::new())
}

/// Analyse capture files with the key logs and verify them.
pub(crate) fn analyze_captures(
    captures: &[String],
    keys: crate::tls::KeyLog,
    cfg: &Config,
    verifier: verify::Verifier,
    done: Conclusion<'_>,
    extra: Vec<crate::report::model::Warning>,
) -> i32 {
    let readers = match engine::open_all(captures) {
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
    let (mut report, sink) = engine::run_with_keys(readers, cfg, sink, keys);
    report.warnings.extend(extra);
    done.write(report, sink)
}

/// `analyze --events`: the flows of saved event streams go through
/// verification as if they had just been captured.
fn replay_events(names: &[String], verifier: verify::Verifier, done: Conclusion<'_>) -> i32 {
    let mut replays = Vec::new();
    for name in names {
        let replayed = if name == "-" {
            crate::live::read_events("<stdin>", std::io::stdin().lock())
        } else {
            match std::fs::File::open(name) {
                Ok(f) => crate::live::read_events(name, std::io::BufReader::new(f)),
                Err(e) => {
                    eprintln!("tls-audit: cannot open {name}: {e}");
                    return exit::INPUT;
                }
            }
        };
        match replayed {
            Ok(r) => replays.push(r),
            Err(e) => {
                eprintln!("tls-audit: {e}");
                return exit::INPUT;
            }
        }
    }
    conclude_replays(replays, Vec::new(), Vec::new(), verifier, done)
}

/// Verify the flows of rebuilt event streams, and those of probed
/// endpoints (`pod --active`), merge their headers into one report (with
/// `extra` inputs and warnings, e.g. pods that could not be audited) and
/// write it. An endpoint that could not be probed makes the run partial,
/// as in `tls-audit probe`.
pub(crate) fn conclude_replays(
    replays: Vec<crate::live::Replayed>,
    extra: Vec<(Option<report::model::Input>, report::model::Warning)>,
    probed: Vec<crate::probe::EndpointResult>,
    verifier: verify::Verifier,
    done: Conclusion<'_>,
) -> i32 {
    let spill = match engine::SpillSink::new() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("tls-audit: cannot create a temporary file: {e}");
            return exit::OUTPUT;
        }
    };
    let mut sink = verify::VerifyingSink {
        verifier,
        inner: spill,
    };
    let mut merged: Option<Report> = None;
    let mut id = 0u64;
    for replayed in replays {
        for flow in replayed.flows {
            id += 1;
            engine::FlowSink::flow(&mut sink, id, flow);
        }
        match &mut merged {
            None => merged = Some(replayed.report),
            Some(m) => {
                m.inputs.extend(replayed.report.inputs);
                m.stats.absorb(&replayed.report.stats);
                m.warnings.extend(replayed.report.warnings);
            }
        }
    }
    let mut report = match merged {
        Some(r) => r,
        None if !extra.is_empty() || !probed.is_empty() => crate::live::empty_report(),
        None => return exit::USAGE,
    };
    for (input, warning) in extra {
        report.inputs.extend(input);
        report.warnings.push(warning);
    }
    // The probe's flows after the captured ones, in order of first packet,
    // verified by the same verifier (so with the same inventory).
    let partial = probed.iter().any(|r| r.record.error.is_some());
    let mut probe_flows = Vec::new();
    for r in probed {
        report
            .warnings
            .extend(crate::probe::failure_warning(&r.record));
        probe_flows.extend(r.flows);
        report.probes.push(r.record);
    }
    probe_flows.sort_by(|a, b| a.first_seen.cmp(&b.first_seen));
    report.stats.absorb(&crate::probe::stats(&probe_flows));
    for flow in probe_flows {
        id += 1;
        engine::FlowSink::flow(&mut sink, id, flow);
    }
    // The agent's report carried no verification: this run's is the one.
    report.verification = None;
    report.findings.clear();
    report.metadata = None;
    report.compliance = None;
    done.write_partial(report, sink, partial)
}

/// What turns an analysed run into a written report: verification's
/// conclusions, compliance views, metadata, and the output settings.
pub(crate) struct Conclusion<'a> {
    pub(crate) info: verify::RunInfo,
    pub(crate) publish: Publish<'a>,
}

impl Conclusion<'_> {
    /// Conclude and write the report; returns the exit code.
    pub(crate) fn write(
        self,
        report: Report,
        sink: verify::VerifyingSink<engine::SpillSink>,
    ) -> i32 {
        self.write_partial(report, sink, false)
    }

    /// [`Conclusion::write`]; `partial` when something other than the
    /// inputs was incomplete (an endpoint that could not be probed).
    pub(crate) fn write_partial(
        self,
        mut report: Report,
        sink: verify::VerifyingSink<engine::SpillSink>,
        partial: bool,
    ) -> i32 {
        let (_, _, collected) = sink.verifier.finish();
        let (verification, findings, warnings) = verify::conclude(collected, self.info);
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
        self.publish.write(report, &flows, partial)
    }
}

/// What a verified report gets before it is written: compliance views,
/// metadata, and the output settings.
pub(crate) struct Publish<'a> {
    pub(crate) frameworks: Option<(&'static Catalog, Vec<&'static Source>)>,
    pub(crate) starts: crate::report::metadata::PodStarts,
    pub(crate) out: &'a OutputArgs,
}

impl Publish<'_> {
    /// Annotate and write a verified report whose flows are in `flows`;
    /// `partial` when some input could not be read whole (besides
    /// `inputs[].complete`). Returns the exit code.
    pub(crate) fn write(self, mut report: Report, flows: &engine::Spilled, partial: bool) -> i32 {
        let failed = report
            .verification
            .as_ref()
            .is_some_and(|v| v.gate.as_deref() == Some("fail"));
        let meta = MetadataBuilder::with_pod_starts(self.starts);
        if let Err(e) = annotate(
            &mut report,
            flows,
            self.frameworks,
            meta,
            self.out.cluster_name.clone(),
        ) {
            eprintln!("tls-audit: cannot read the temporary file: {e}");
            return exit::OUTPUT;
        }
        let output = self.out.output.as_ref();
        let to_terminal = output.is_none() && std::io::stdout().is_terminal();
        let format = self.out.format.unwrap_or(if to_terminal {
            Format::Table
        } else {
            Format::Json
        });
        if let Err(code) = write_out(output, &report, flows, format) {
            return code;
        }
        if let Some(path) = output
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
        if format != Format::Table || output.is_some() {
            for w in &report.warnings {
                eprintln!("tls-audit: warning: {}", report::sanitize(&w.message));
            }
        }
        if partial && !failed {
            return exit::PARTIAL;
        }
        exit_code(&report, failed)
    }
}

/// Add the metadata, and the compliance views when asked for, in one pass
/// over the spilled flows.
fn annotate(
    report: &mut Report,
    flows: &engine::Spilled,
    frameworks: Option<(&'static Catalog, Vec<&'static Source>)>,
    mut meta: MetadataBuilder,
    cluster: Option<String>,
) -> std::io::Result<()> {
    let mut eval = frameworks.map(|(c, f)| Evaluator::new(c, f, report));
    let mut index = 0u64;
    let mut inv = inventory::InventoryBuilder::default();
    flows.for_each(|f| {
        meta.flow(&f);
        inv.flow(&f);
        if let Some(e) = &mut eval {
            e.flow(index, &f);
        }
        index += 1;
        Ok(())
    })?;
    report.inventory = Some(inv.finish());
    if let Some(e) = eval {
        report.compliance = Some(e.finish(report));
    }
    report.metadata = Some(meta.finish(report, cluster));
    Ok(())
}

/// Largest key log file read.
const MAX_KEYLOG_BYTES: u64 = 256 << 20;

pub(crate) fn load_keylogs(paths: &[PathBuf]) -> Result<crate::tls::KeyLog, String> {
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
            out.write_all(render_whole(&whole, format).as_bytes())?;
            out.flush()
        }
        // Built from the flows already (`annotate`).
        Format::Inventory | Format::InventoryCertificates | Format::InventoryJson => {
            out.write_all(render_whole(report, format).as_bytes())?;
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
