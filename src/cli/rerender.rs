//! `tls-audit report`: a saved JSON report rendered again, without the
//! captures (for a table at a terminal, or another format in a pipeline).

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;

use super::{Format, compliance_frameworks, exit, render_whole, write_to};
use crate::report::compliance::Evaluator;
use crate::report::metadata::{self, SourceReport};
use crate::report::{Report, model::SCHEMA};

/// Largest report read back.
const MAX_REPORT_BYTES: u64 = 4 << 30;

/// `tls-audit report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// A report written by `tls-audit analyze -o json` (`-` reads stdin).
    input: PathBuf,
    /// Output format (default: table on a terminal, JSON otherwise).
    #[arg(short = 'o', long = "format", value_enum)]
    format: Option<Format>,
    /// Write to this file instead of standard output.
    #[arg(long)]
    output: Option<PathBuf>,
    /// Compliance views to (re)compute, comma-separated: pci-dss-4.0.1,
    /// hipaa. Without it, those in the saved report are kept.
    #[arg(long, value_name = "FRAMEWORKS", value_delimiter = ',')]
    compliance: Vec<String>,
}

/// Run `tls-audit report`; returns the exit code (3 when the input is not a
/// tls-audit report).
pub fn report_command(args: &ReportArgs) -> i32 {
    let frameworks = match compliance_frameworks(&args.compliance) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let (mut report, source) = match read(args) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tls-audit: {e}");
            return exit::INPUT;
        }
    };
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
    let terminal = args.output.is_none() && std::io::stdout().is_terminal();
    let format = args.format.unwrap_or(if terminal {
        Format::Table
    } else {
        Format::Json
    });
    let render = |out: &mut dyn Write| {
        out.write_all(render_whole(&report, format).as_bytes())?;
        out.flush()
    };
    match write_to(args.output.as_ref(), render) {
        Ok(()) => exit::OK,
        Err(code) => code,
    }
}

fn read(args: &ReportArgs) -> Result<(Report, SourceReport), String> {
    let name = args.input.display().to_string();
    let mut bytes = Vec::new();
    let result = if name == "-" {
        std::io::stdin()
            .take(MAX_REPORT_BYTES)
            .read_to_end(&mut bytes)
    } else {
        std::fs::File::open(&args.input)
            .and_then(|f| f.take(MAX_REPORT_BYTES).read_to_end(&mut bytes))
    };
    result.map_err(|e| format!("cannot read {name}: {e}"))?;
    let report: Report = serde_json::from_slice(&bytes)
        .map_err(|e| format!("{name} is not a tls-audit JSON report: {e}"))?;
    if report.schema != SCHEMA {
        return Err(format!(
            "{name} is a `{}` report; this tls-audit reads `{SCHEMA}`",
            report.schema
        ));
    }
    Ok((report, SourceReport::of(&name, &bytes)))
}
