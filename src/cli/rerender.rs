//! `tls-audit report`: a saved JSON report rendered again, without the
//! captures (for a table at a terminal, or another format in a pipeline).
//! The saved flows are streamed from the document into a spill file, as
//! `analyze` spills its flows, and rendered from there: JSON and the table
//! with memory flat in the number of flows; the formats that need every
//! flow at once read them back as `analyze` does.

use std::io::IsTerminal;
use std::path::PathBuf;

use super::{Format, compliance_frameworks, evidence, exit, write_out};
use crate::engine::{FlowSink, SpillSink};
use crate::report::compliance::Evaluator;
use crate::report::inventory::InventoryBuilder;
use crate::report::metadata::MetadataBuilder;
use crate::report::model::Severity;
use crate::report::saved::read_report_streamed;

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
    let mut spill = match SpillSink::new() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("tls-audit: cannot create a temporary file: {e}");
            return exit::OUTPUT;
        }
    };
    // The metadata and an inventory (used when the report has none) need
    // no header: they are built as the flows are read.
    let mut meta = MetadataBuilder::default();
    let mut inventory = InventoryBuilder::default();
    let mut id = 0u64;
    let read = read_report_streamed(&args.input, &mut |flow| {
        meta.flow(&flow);
        inventory.flow(&flow);
        id += 1;
        spill.flow(id, flow);
    });
    let (mut report, source) = match read {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tls-audit: {e}");
            return exit::INPUT;
        }
    };
    let flows = match spill.into_spilled() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("tls-audit: cannot write the temporary file: {e}");
            return exit::OUTPUT;
        }
    };
    if let (Some(on), Some(v)) = (args.fail_on, report.verification.as_mut()) {
        v.fail_on = Some(on);
        v.gate = crate::verify::gate(&report.findings, Some(on));
    }
    evidence::apply_baseline(&mut report, evidence.baseline.as_ref());
    // Compliance needs the header (findings, verification): a pass over
    // the spilled flows, only when asked for.
    if let Some((catalog, chosen)) = frameworks {
        let mut eval = Evaluator::new(catalog, chosen, &report);
        let mut index = 0u64;
        let pass = flows.for_each(|f| {
            eval.flow(index, &f);
            index += 1;
            Ok(())
        });
        if let Err(e) = pass {
            eprintln!("tls-audit: cannot read the temporary file: {e}");
            return exit::OUTPUT;
        }
        report.compliance = Some(eval.finish(&report));
    }
    if report.inventory.is_none() {
        report.inventory = Some(inventory.finish());
    }
    let mut meta = meta.finish(&report, None);
    meta.rendered_from = Some(source);
    report.metadata = Some(meta);
    let dest = args.dest.resolved();
    let terminal = dest.file.is_none() && std::io::stdout().is_terminal();
    let format = dest.format.unwrap_or(if terminal {
        Format::Table
    } else {
        Format::Json
    });
    if let Err(code) = write_out(
        dest.file.as_ref(),
        &report,
        &flows,
        format,
        &evidence.render,
        dest.wide,
    ) {
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
