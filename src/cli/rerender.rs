//! `tls-audit report`: a saved JSON report rendered again, without the
//! captures (for a table at a terminal, or another format in a pipeline).
//! `audit::rerender` streams the saved flows into a spill file, as
//! `analyze` spills its flows; they are rendered from there: JSON and the
//! table with memory flat in the number of flows; the formats that need
//! every flow at once read them back as `analyze` does.

use std::path::PathBuf;

use super::{Format, compliance_frameworks, evidence, format_of, write_out};
use crate::audit::{self, AuditError, Status};
use crate::report::model::Severity;

/// `tls-audit report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// A report written by `tls-audit analyze -o json` (`-` reads stdin).
    input: PathBuf,
    #[command(flatten)]
    dest: super::output::Destination,
    /// Compliance views to (re)compute, comma-separated: pci-dss-4.0.1,
    /// hipaa. Without it, those in the saved report are kept.
    #[arg(long, value_name = "FRAMEWORKS", value_delimiter = ',')]
    compliance: Vec<String>,
    /// Judge the saved findings again at this severity (exit 1 when an
    /// unwaived finding, a new one with --baseline, is at least this severe).
    #[arg(long, value_name = "SEVERITY")]
    fail_on: Option<Severity>,
    #[command(flatten)]
    evidence: evidence::EvidenceArgs,
}

/// Run `tls-audit report` (an input that is not a tls-audit report is an
/// input error).
pub fn report_command(args: &ReportArgs) -> Result<Status, AuditError> {
    let frameworks = compliance_frameworks(&args.compliance)?;
    let evidence = args.evidence.load()?;
    let dest = args.dest.resolved();
    let format = format_of(&dest);
    let audited = audit::rerender(
        &args.input,
        args.fail_on,
        frameworks,
        evidence.baseline.as_ref(),
        format == Format::Table,
    )?;
    evidence::say_baseline(&audited.report);
    write_out(
        dest.file.as_ref(),
        &audited.report,
        &audited.flows,
        audited.table.as_ref(),
        format,
        &evidence.render,
        dest.wide,
    )?;
    if audited.status == Status::Findings
        && let Some(line) = evidence::gate_line(&audited.report)
    {
        eprintln!("{line}");
    }
    Ok(audited.status)
}
