//! `tls-audit report`: a saved JSON report rendered again, without the
//! captures (for a table at a terminal, or another format in a pipeline).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use super::{Format, compliance_frameworks, evidence, exit, render_whole_with, write_to};
use crate::report::baseline::read_report;
use crate::report::compliance::Evaluator;
use crate::report::metadata;
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

/// Run `tls-audit report`; returns the exit code (3 when the input is not a
/// tls-audit report).
pub fn report_command(args: &ReportArgs) -> i32 {
    let frameworks = match compliance_frameworks(&args.compliance) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let evidence = match args.evidence.load() {
        Ok(e) => e,
        Err(code) => return code,
    };
    let (mut report, source) = match read_report(&args.input) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tls-audit: {e}");
            return exit::INPUT;
        }
    };
    if let (Some(on), Some(v)) = (args.fail_on, report.verification.as_mut()) {
        v.fail_on = Some(on);
        v.gate = crate::verify::gate(&report.findings, Some(on));
    }
    evidence::apply_baseline(&mut report, evidence.baseline.as_ref());
    if let Some((catalog, chosen)) = frameworks {
        let mut eval = Evaluator::new(catalog, chosen, &report);
        for (i, f) in report.flows.iter().enumerate() {
            eval.flow(i as u64, f);
        }
        report.compliance = Some(eval.finish(&report));
    }
    if report.inventory.is_none() {
        report.inventory = Some(crate::report::inventory::CryptoInventory::of_flows(
            &report.flows,
        ));
    }
    let mut meta = metadata::of(&report, None, Default::default());
    meta.rendered_from = Some(source);
    report.metadata = Some(meta);
    let dest = args.dest.resolved();
    let terminal = dest.file.is_none() && std::io::stdout().is_terminal();
    let format = dest.format.unwrap_or(if terminal {
        Format::Table
    } else {
        Format::Json
    });
    let render = |out: &mut dyn Write| {
        let text = if format == Format::Table {
            crate::report::render_table_styled(
                &report,
                super::table_style(dest.file.is_none(), dest.wide),
            )
        } else {
            render_whole_with(&report, format, &evidence.render)
        };
        out.write_all(text.as_bytes())?;
        out.flush()
    };
    if let Err(code) = write_to(dest.file.as_ref(), render) {
        return code;
    }
    match evidence::gate_line(&report) {
        Some(line) if args.fail_on.is_some() || args.evidence.baseline.is_some() => {
            eprintln!("{line}");
            exit::FINDINGS
        }
        _ => exit::OK,
    }
}
