//! The CI and evidence options every report-writing command shares
//! (`--baseline`, `--docs-url`, `--manifests`, `--full-paths`), the gate's
//! line on standard error, and `tls-audit diff`.

use std::path::PathBuf;

use crate::audit::{AuditError, Status};
use crate::report::baseline::{self, Baseline, Diff};
use crate::report::links::{DEFAULT_DOCS_URL, docs_base};
use crate::report::manifests::Manifests;
use crate::report::model::{Finding, Gate, Severity};
use crate::report::{RenderOptions, Report};

/// Options for CI and for evidence.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct EvidenceArgs {
    /// A saved JSON report to compare with: findings are marked new or
    /// unchanged (by rule, workload, peer workload and server port), and
    /// --fail-on judges new findings only.
    #[arg(long, value_name = "REPORT.json")]
    pub(crate) baseline: Option<PathBuf>,
    /// Base URL of the rule pages linked from Markdown, HTML, SARIF and
    /// JUnit (default: this version's pages in the project's repository).
    #[arg(long, value_name = "URL", value_parser = parse_docs_url)]
    pub(crate) docs_url: Option<String>,
    /// Directory of the Kubernetes manifests deployed (YAML): SARIF results
    /// point at the Deployment/StatefulSet/... that owns the pod.
    #[arg(long, value_name = "DIR")]
    pub(crate) manifests: Option<PathBuf>,
    /// Name inputs by the path given, not by file name alone (HTML).
    #[arg(long)]
    pub(crate) full_paths: bool,
}

/// `--docs-url`, checked when the command line is read.
fn parse_docs_url(s: &str) -> Result<String, String> {
    docs_base(s).map_err(|e| e.to_string())
}

/// What the options load to.
pub(crate) struct Evidence {
    pub(crate) baseline: Option<Baseline>,
    pub(crate) render: RenderOptions,
}

impl EvidenceArgs {
    /// Read the baseline and manifests.
    pub(crate) fn load(&self) -> Result<Evidence, AuditError> {
        let docs_url = self
            .docs_url
            .clone()
            .unwrap_or_else(|| DEFAULT_DOCS_URL.to_string());
        let baseline = match &self.baseline {
            Some(p) => Some(
                Baseline::load(p).map_err(|e| AuditError::Config(format!("--baseline: {e}")))?,
            ),
            None => None,
        };
        let manifests = match &self.manifests {
            Some(dir) => Some(Manifests::load(dir).map_err(|e| AuditError::Config(e.to_string()))?),
            None => None,
        };
        Ok(Evidence {
            baseline,
            render: RenderOptions {
                docs_url,
                manifests,
                full_paths: self.full_paths,
            },
        })
    }
}

/// Rule ids named in the gate's line at most.
const GATE_LINE_RULES: usize = 5;

/// The one line a failed gate prints on standard error, whatever the
/// format: how many findings failed it, and the worst ones' rule ids.
pub(crate) fn gate_line(report: &Report) -> Option<String> {
    let v = report.verification.as_ref()?;
    let on = v.fail_on?;
    if v.gate != Some(Gate::Fail) {
        return None;
    }
    let failing = crate::verify::gate_failures(&report.findings, on);
    Some(failed_line(&failing, on, v.baseline.is_some()))
}

/// `gate failed (--fail-on X): N findings ... at or above X: RULE (sev), ...`.
fn failed_line(failing: &[&Finding], on: Severity, against_baseline: bool) -> String {
    let mut ids: Vec<String> = Vec::new();
    for f in failing {
        let id = format!("{} ({})", f.rule, f.severity.as_str());
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    let more = ids.len().saturating_sub(GATE_LINE_RULES);
    ids.truncate(GATE_LINE_RULES);
    format!(
        "tls-audit: gate failed (--fail-on {on}): {n} unwaived finding{s}{scope} at or above {on}: {ids}{more}",
        on = on.as_str(),
        n = failing.len(),
        s = if failing.len() == 1 { "" } else { "s" },
        scope = if against_baseline {
            " new since the baseline"
        } else {
            ""
        },
        ids = crate::report::sanitize(&ids.join(", ")),
        more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        }
    )
}

/// Say on standard error what the baseline (if one was given) made of
/// the findings, and what the gate judges.
pub(crate) fn say_baseline(report: &Report) {
    if let Some(s) = report
        .verification
        .as_ref()
        .and_then(|v| v.baseline.as_ref())
    {
        eprintln!(
            "tls-audit: against the baseline {}: {} new, {} unchanged, {} fixed findings; {}",
            crate::report::sanitize(&s.report.name),
            s.new,
            s.unchanged,
            s.fixed,
            baseline::GATE_SCOPE
        );
    }
}

/// `tls-audit diff`.
#[derive(Debug, clap::Args)]
pub(crate) struct DiffArgs {
    /// The baseline: a saved JSON report (`-` reads stdin).
    base: PathBuf,
    /// The report to compare with it.
    head: PathBuf,
    /// Output format (default: table on a terminal, JSON otherwise).
    #[arg(short = 'o', long = "format", value_enum)]
    format: Option<DiffFormat>,
    /// Write to this file instead of standard output.
    #[arg(long)]
    output: Option<PathBuf>,
    /// Exit 1 when a new unwaived finding is at least this severe.
    #[arg(long, value_name = "SEVERITY")]
    fail_on: Option<Severity>,
    /// Base URL of the rule pages linked from Markdown.
    #[arg(long, value_name = "URL", value_parser = parse_docs_url)]
    docs_url: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum DiffFormat {
    /// New and fixed findings, one per line, after the counts.
    Table,
    /// `tls-audit/diff/v1`: new, fixed and unchanged findings.
    Json,
    /// For a pull-request comment.
    Markdown,
}

/// Run `tls-audit diff`.
pub(crate) fn diff_command(args: &DiffArgs) -> Result<Status, AuditError> {
    use std::io::IsTerminal;
    let docs = args
        .docs_url
        .clone()
        .unwrap_or_else(|| DEFAULT_DOCS_URL.to_string());
    let base = baseline::read_report(&args.base)?;
    let head = baseline::read_report(&args.head)?;
    let diff = Diff::of(base, head);
    let terminal = args.output.is_none() && std::io::stdout().is_terminal();
    let format = args.format.unwrap_or(if terminal {
        DiffFormat::Table
    } else {
        DiffFormat::Json
    });
    let text = match format {
        DiffFormat::Table => diff.render_table(),
        DiffFormat::Json => diff.render_json(),
        DiffFormat::Markdown => diff.render_markdown(&docs),
    };
    super::write_to(args.output.as_ref(), |out| {
        out.write_all(text.as_bytes())?;
        out.flush()
    })?;
    match args.fail_on {
        Some(on) if diff.fails(on) => {
            let failing = crate::verify::gate_failures(&diff.new, on);
            eprintln!("{}", failed_line(&failing, on, true));
            Ok(Status::Findings)
        }
        _ => Ok(Status::Clean),
    }
}
