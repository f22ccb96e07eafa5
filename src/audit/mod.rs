//! The audit façade: what a command read (captures, event streams, probe
//! answers, a live capture's flows, a saved report) and its options in; a
//! verified, annotated report, its flows and its [`Status`] out, or one
//! [`AuditError`].
//!
//! Every report-writing command goes through here (`analyze`, `capture
//! --emit report`, `probe`, `pod`, `report`), so a library user runs an
//! audit as the CLI does:
//!
//! ```no_run
//! use tls_audit::audit::{self, Conclusion, Publish, VerifySettings};
//! // The built-in policy, no cluster snapshot, no trust bundle.
//! let loaded = VerifySettings::default().load()?;
//! let done = Conclusion {
//!     info: loaded.info,
//!     publish: Publish { starts: loaded.starts, ..Publish::default() },
//! };
//! let audited = audit::analyze_captures(
//!     &["capture.pcap".to_string()],
//!     Default::default(), // no key log
//!     &Default::default(), // the engine's default limits
//!     None,               // no enrichment
//!     loaded.verifier,
//!     done,
//!     Vec::new(),
//! )?;
//! println!("{} findings, {:?}", audited.report.findings.len(), audited.status);
//! # Ok::<(), tls_audit::audit::AuditError>(())
//! ```
//!
//! The CLI parses arguments into these calls, renders what comes back, and
//! maps [`AuditError`] and [`Status`] to exit codes in one place
//! (`cli::exit`).

pub mod capture;
mod error;
pub mod pod;
mod settings;
mod spill;

use std::path::{Path, PathBuf};

pub use error::{AuditError, ErrorClass};
pub use settings::{Loaded, VerifySettings, read_policy};
pub use spill::{Gathered, GatheringSpill, TableCells};

use crate::compliance::Evaluator;
use crate::engine::{self, Behind, Config, FlowSink, Spilled};
use crate::enrich::EnrichConfig;
use crate::model::Gate;
use crate::model::controls::{Catalog, Source};
use crate::model::report::{Input, Report, Severity, Warning};
use crate::report::baseline::{self, Baseline};
use crate::report::inventory::InventoryBuilder;
use crate::report::metadata::PodStarts;
use crate::verify::{self, RunInfo, Verifier, VerifyingSink};

/// How an audit that produced its report ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Every input was read whole and the gate (if any) passed.
    Clean,
    /// An unwaived finding is at or above `--fail-on` (with a baseline: a
    /// new one). Takes precedence over [`Status::Partial`].
    Findings,
    /// An input was damaged or truncated, a pod was not audited fully, or
    /// an endpoint could not be probed.
    Partial,
}

/// A concluded report, its flows (in a temporary file, in report order)
/// and how the audit ended.
pub struct Audited {
    /// The report, its `flows` empty: they are in `flows`.
    pub report: Report,
    /// The flows.
    pub flows: Spilled,
    /// The table, when it was made as the flows were spilled
    /// ([`Publish::table`]).
    pub table: Option<TableCells>,
    /// How the audit ended.
    pub status: Status,
}

/// What turns analysed flows into a report: verification's conclusions,
/// then [`Publish`].
pub struct Conclusion {
    /// The policy, snapshot and trust bundle used, and the clock.
    pub info: RunInfo,
    /// What the verified report gets.
    pub publish: Publish,
}

/// What a verified report gets before it is written: the baseline's marks,
/// compliance views, metadata and inventory.
#[derive(Default)]
pub struct Publish {
    /// The compliance views asked for.
    pub frameworks: Option<(&'static Catalog, Vec<&'static Source>)>,
    /// When the snapshot's pods started (the metadata's lifetimes).
    pub starts: PodStarts,
    /// The cluster's name, for the metadata.
    pub cluster_name: Option<String>,
    /// A saved report to mark findings against (new, unchanged, fixed).
    pub baseline: Option<Baseline>,
    /// The report is written as a table: it is made as the flows are
    /// spilled (column widths, each flow's cells), so writing it reads no
    /// record back.
    pub table: bool,
}

/// Largest key log file read.
const MAX_KEYLOG_BYTES: u64 = 256 << 20;

/// Read NSS key log files (TLS 1.3 handshake secrets).
pub fn load_keylogs(paths: &[PathBuf]) -> Result<crate::tls::KeyLog, AuditError> {
    let mut keys = crate::tls::KeyLog::default();
    for p in paths {
        let too_big = std::fs::metadata(p).is_ok_and(|m| m.len() > MAX_KEYLOG_BYTES);
        if too_big {
            return Err(AuditError::Config(format!(
                "key log {} is larger than 256 MiB",
                p.display()
            )));
        }
        let text = std::fs::read(p)
            .map_err(|e| AuditError::Config(format!("cannot read key log {}: {e}", p.display())))?;
        keys.add(&p.display().to_string(), &text);
    }
    Ok(keys)
}

/// A sink that verifies flows and keeps them in a temporary file, for
/// `done` (the table made as they are spilled, when the report is written
/// as one). Read back, the records are parsed on the threads `analyze`
/// uses by default ([`engine::default_threads`]).
pub fn verifying_spill(
    verifier: Verifier,
    done: &Conclusion,
) -> Result<VerifyingSink<GatheringSpill>, AuditError> {
    Ok(VerifyingSink {
        verifier,
        inner: GatheringSpill::new()?
            .measuring(done.publish.table)?
            .threads(engine::default_threads()),
    })
}

/// Analyse capture files with the key logs, enrich (when asked) and verify
/// them; `extra` warnings join the report.
pub fn analyze_captures(
    captures: &[String],
    keys: crate::tls::KeyLog,
    cfg: &Config,
    enrich: Option<&EnrichConfig>,
    verifier: Verifier,
    done: Conclusion,
    extra: Vec<Warning>,
) -> Result<Audited, AuditError> {
    let readers = engine::open_all_with(captures, cfg.read_limits())?;
    // Finished flows go to an unlinked temporary file, so memory stays flat
    // however many flows the captures hold.
    // With more than one thread, finished flows are enriched, verified and
    // gathered for the header on a thread of their own, and written to the
    // spill file as JSON on another, in the order they finish: at the end
    // of a capture with thousands of flows still open, one thread doing
    // both held the analysing thread up.
    let spill = VerifyingSink {
        verifier,
        inner: GatheringSpill::behind(cfg.threads > 1)?.measuring(done.publish.table)?,
    };
    let sink = crate::enrich::Enrichment::new(spill, enrich);
    let sink = Behind::new(sink, cfg.threads > 1);
    let (mut report, sink) = engine::run_with_keys(readers, cfg, sink, keys);
    let (sink, enrichment) = sink.join().finish();
    // Reading the records back (the inventory in report order, a table,
    // a whole report) is mostly parsing their JSON again: with more than
    // one thread, that is done on as many threads as asked for, ahead of
    // the calling one.
    let sink = VerifyingSink {
        verifier: sink.verifier,
        inner: sink.inner.join().threads(cfg.threads),
    };
    report.enrichment = enrichment;
    report.warnings.extend(extra);
    done.conclude(report, sink, false)
}

/// Read saved `tls-audit capture --emit ndjson` event streams (`-` is
/// standard input).
pub fn read_event_streams(names: &[String]) -> Result<Vec<crate::live::Replayed>, AuditError> {
    let mut replays = Vec::new();
    for name in names {
        let replayed = if name == "-" {
            crate::live::read_events("<stdin>", std::io::stdin().lock())
        } else {
            let f = std::fs::File::open(name).map_err(|source| AuditError::OpenEvents {
                name: name.clone(),
                source,
            })?;
            crate::live::read_events(name, std::io::BufReader::new(f))
        };
        replays.push(replayed?);
    }
    Ok(replays)
}

/// Verify the flows of rebuilt event streams, and those of probed
/// endpoints (`pod --active`), merge their headers into one report (with
/// `extra` inputs and warnings, e.g. pods that could not be audited) and
/// conclude it. An endpoint that could not be probed makes the run
/// partial, as in `tls-audit probe`.
pub fn conclude_replays(
    replays: Vec<crate::live::Replayed>,
    extra: Vec<(Option<Input>, Warning)>,
    probed: Vec<crate::probe::EndpointResult>,
    enrich: Option<&EnrichConfig>,
    verifier: Verifier,
    done: Conclusion,
) -> Result<Audited, AuditError> {
    // Replayed flows are records like captured ones: with --enrich they
    // get the chains their handshakes hid, before verification.
    let mut enriching = crate::enrich::Enrichment::new(verifying_spill(verifier, &done)?, enrich);
    // What the agents enriched themselves (`capture --enrich probe`).
    let mut reported = crate::enrich::Reported::default();
    let mut merged: Option<Report> = None;
    let mut id = 0u64;
    for mut replayed in replays {
        // One record at a time from the stream's temporary file.
        for flow in replayed.flows.iter() {
            let mut flow = flow.map_err(AuditError::temp_read)?;
            id += 1;
            if let Some(why) = replayed.unenriched {
                crate::enrich::mark_not_obtained(&mut flow, why);
            }
            reported.observe(&flow);
            enriching.flow(id, flow);
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
    let (mut sink, enrichment) = enriching.finish();
    let mut report = match merged {
        Some(r) => r,
        None if !extra.is_empty() || !probed.is_empty() => Report::empty(),
        None => {
            return Err(AuditError::Usage(
                "no event stream, pod or probed endpoint to report on".into(),
            ));
        }
    };
    // The agents' summaries are claims; their flows carry the chains.
    report.enrichment = crate::enrich::merge_records(enrichment, reported.record());
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
        report
            .warnings
            .extend(crate::probe::incomplete_warning(&r.record));
        sink.verifier.probe_record(&r.record);
        probe_flows.extend(r.flows);
        report.probes.push(r.record);
    }
    probe_flows.sort_by_key(|f| f.first_seen);
    report.stats.absorb(&crate::probe::stats(&probe_flows));
    for flow in probe_flows {
        id += 1;
        sink.flow(id, flow);
    }
    // The agent's report carried no verification: this run's is the one.
    report.verification = None;
    report.findings.clear();
    report.metadata = None;
    report.compliance = None;
    done.conclude(report, sink, partial)
}

/// Probe endpoints and verify their answers; an endpoint that could not be
/// probed makes the run partial.
pub fn probe(
    targets: &[crate::probe::Target],
    cfg: &crate::probe::ProbeConfig,
    verifier: Verifier,
    done: Conclusion,
) -> Result<Audited, AuditError> {
    let results =
        crate::probe::probe_blocking(targets, cfg).map_err(|source| AuditError::Runtime {
            what: "probe",
            source,
        })?;
    let failed = results.iter().any(|r| r.record.error.is_some());
    let mut report = crate::probe::report(results, verifier, done.info);
    // The flows go where a capture's go, so every format (a table made as
    // they are spilled among them), the compliance views and the metadata
    // treat them alike.
    let mut spill = GatheringSpill::new()?.measuring(done.publish.table)?;
    for (id, f) in (1u64..).zip(report.flows.drain(..)) {
        spill.flow(id, f);
    }
    done.publish.publish(report, spill.finish()?, failed)
}

impl Conclusion {
    /// Conclude verification over the flows `sink` verified, then
    /// [`Publish::publish`]; `partial` when something other than the
    /// inputs was incomplete (an endpoint that could not be probed).
    pub fn conclude(
        self,
        mut report: Report,
        sink: VerifyingSink<GatheringSpill>,
        partial: bool,
    ) -> Result<Audited, AuditError> {
        let (_, _, collected) = sink.verifier.finish();
        let (verification, findings, warnings) = verify::conclude(collected, self.info);
        report.verification = Some(verification);
        report.findings = findings;
        report.warnings.extend(warnings);
        self.publish.publish(report, sink.inner.finish()?, partial)
    }
}

impl Publish {
    /// Mark the findings against the baseline, then add the metadata, the
    /// inventory and the compliance views. What was gathered as the flows
    /// were spilled is used as it is; a pass over the spilled flows (in
    /// report order) only for the compliance views, and for an inventory
    /// that depends on the order it was fed in. `partial` when some input
    /// could not be read whole (besides `inputs[].complete`).
    pub fn publish(
        self,
        mut report: Report,
        gathered: Gathered,
        partial: bool,
    ) -> Result<Audited, AuditError> {
        let Gathered {
            flows,
            mut meta,
            inventory,
            table,
        } = gathered;
        if let Some(b) = &self.baseline {
            baseline::apply(&mut report, b);
        }
        let failed = report
            .verification
            .as_ref()
            .is_some_and(|v| v.gate == Some(Gate::Fail));
        let mut eval = self.frameworks.map(|(c, f)| Evaluator::new(c, f, &report));
        meta.set_pod_starts(self.starts);
        let mut inv = inventory.order_sensitive().then(InventoryBuilder::default);
        if eval.is_some() || inv.is_some() {
            let mut index = 0u64;
            flows
                .for_each(|f| {
                    if let Some(i) = &mut inv {
                        i.flow(&f);
                    }
                    if let Some(e) = &mut eval {
                        e.flow(index, &f);
                    }
                    index += 1;
                    Ok(())
                })
                .map_err(AuditError::temp_read)?;
        }
        report.inventory = Some(inv.unwrap_or(inventory).finish());
        if let Some(e) = eval {
            report.compliance = Some(e.finish(&report));
        }
        report.metadata = Some(meta.finish(&report, self.cluster_name));
        let status = if failed {
            Status::Findings
        } else if partial || !report.inputs.iter().all(|i| i.complete) {
            Status::Partial
        } else {
            Status::Clean
        };
        Ok(Audited {
            report,
            flows,
            table,
            status,
        })
    }
}

/// A saved JSON report (`-` is standard input) concluded again: judged at
/// `fail_on` when given, marked against a baseline, compliance views
/// recomputed when `frameworks` are given (else those saved are kept), an
/// inventory built when it has none, and new metadata naming the saved
/// report. The flows are streamed into a temporary file, so memory stays
/// flat in their number. [`Status::Findings`] only when the gate is asked
/// for here (`fail_on` or a baseline) and fails. `table`: the report is
/// written as a table, made as the saved flows are spilled.
pub fn rerender(
    input: &Path,
    fail_on: Option<Severity>,
    frameworks: Option<(&'static Catalog, Vec<&'static Source>)>,
    baseline: Option<&Baseline>,
    table: bool,
) -> Result<Audited, AuditError> {
    let mut spill = GatheringSpill::new()?
        .measuring(table)?
        .threads(engine::default_threads());
    // The metadata and an inventory (used when the report has none) need
    // no header: they are built as the flows are read, in report order.
    let mut id = 0u64;
    let (mut report, source) = crate::report::saved::read_report_streamed(input, &mut |flow| {
        id += 1;
        spill.flow(id, flow);
    })?;
    let Gathered {
        flows,
        meta,
        inventory,
        table,
    } = spill.finish()?;
    if let (Some(on), Some(v)) = (fail_on, report.verification.as_mut()) {
        v.fail_on = Some(on);
        v.gate = verify::gate(&report.findings, Some(on));
    }
    if let Some(b) = baseline {
        baseline::apply(&mut report, b);
    }
    // Compliance needs the header (findings, verification): a pass over
    // the spilled flows, only when asked for.
    if let Some((catalog, chosen)) = frameworks {
        let mut eval = Evaluator::new(catalog, chosen, &report);
        let mut index = 0u64;
        flows
            .for_each(|f| {
                eval.flow(index, &f);
                index += 1;
                Ok(())
            })
            .map_err(AuditError::temp_read)?;
        report.compliance = Some(eval.finish(&report));
    }
    if report.inventory.is_none() {
        report.inventory = Some(inventory.finish());
    }
    let mut meta = meta.finish(&report, None);
    meta.rendered_from = Some(source);
    report.metadata = Some(meta);
    let gated = report
        .verification
        .as_ref()
        .is_some_and(|v| v.fail_on.is_some() && v.gate == Some(Gate::Fail));
    let status = if gated && (fail_on.is_some() || baseline.is_some()) {
        Status::Findings
    } else {
        Status::Clean
    };
    Ok(Audited {
        report,
        flows,
        table,
        status,
    })
}
