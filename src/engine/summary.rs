//! What a finished run tells besides its flows: the report's header
//! (inputs, totals) and the warnings its counters call for (snap length,
//! evictions, budget, gaps, oversized messages, key log lines, ignored
//! Decryption Secrets Blocks).

use super::FinishCounts;
use crate::model::WarningKind;
use crate::model::report::{self as model, Report, Stats, Warning};
use crate::tls::KeyLog;

/// The report of a finished run, its flows (in the sink) aside.
/// `shards` is set when flows were analysed by that many workers, each
/// holding its share of the memory budget.
pub(super) fn conclude(
    stats: Stats,
    counts: FinishCounts,
    inputs: Vec<model::Input>,
    mut warnings: Vec<Warning>,
    shards: Option<usize>,
) -> Report {
    warnings.extend(summary_warnings(
        &stats,
        counts.oversized_messages,
        counts.flows_with_gaps,
        shards,
    ));
    Report {
        inputs,
        stats,
        warnings,
        ..Report::empty()
    }
}

pub(super) fn keylog_warnings(keys: &KeyLog) -> Vec<Warning> {
    if keys.bad_lines == 0 {
        return Vec::new();
    }
    vec![Warning {
        kind: WarningKind::KeylogLines,
        message: format!(
            "{} key log lines could not be read and were skipped: {}",
            keys.bad_lines,
            keys.problems.join("; ")
        ),
    }]
}

/// Decryption Secrets Blocks of other kinds than TLS key logs, counted.
pub(super) fn ignored_secrets_warning(s: &crate::capture::InputSummary) -> Option<Warning> {
    if s.ignored_secrets.is_empty() {
        return None;
    }
    let kinds: Vec<String> = s
        .ignored_secrets
        .iter()
        .map(|&(kind, n)| format!("{n} of type {}", secrets_type_name(kind)))
        .collect();
    Some(Warning {
        kind: WarningKind::DecryptionSecretsIgnored,
        message: format!(
            "{}: Decryption Secrets Blocks ignored ({}): only TLS key logs (TLSK) are used",
            s.name,
            kinds.join(", ")
        ),
    })
}

/// A pcapng secrets type by its four letters, with its meaning when known.
fn secrets_type_name(kind: u32) -> String {
    let letters: String = kind
        .to_be_bytes()
        .iter()
        .map(|&b| {
            if b.is_ascii_graphic() {
                char::from(b)
            } else {
                '?'
            }
        })
        .collect();
    match kind {
        0x5747_4b4c => format!("{letters} (WireGuard key log)"),
        0x5a4e_574b => format!("{letters} (ZigBee network key)"),
        0x5a41_504b => format!("{letters} (ZigBee APS key)"),
        _ => format!("{letters} (0x{kind:08x})"),
    }
}

fn summary_warnings(
    stats: &Stats,
    oversized: u64,
    gaps: u64,
    shards: Option<usize>,
) -> Vec<Warning> {
    let mut w = Vec::new();
    if stats.truncated_packets > 0 {
        w.push(Warning {
            kind: WarningKind::Snaplen,
            message: format!(
                "{} packets were cut by the capture's snap length; their flows were analysed as far as the bytes go",
                stats.truncated_packets
            ),
        });
    }
    if stats.evicted_flows > 0 {
        w.push(Warning {
            kind: WarningKind::FlowTableFull,
            message: format!(
                "{} flows were evicted from the full flow table before they ended (raise --max-flows)",
                stats.evicted_flows
            ),
        });
    }
    if stats.buffer_budget_flows > 0 {
        w.push(Warning {
            kind: WarningKind::BufferBudget,
            message: format!(
                "{} flows were finished before they ended: the flow table's entries and buffers together \
                 exceeded the memory budget (raise --buffer-budget-mib; a flood of new or undecided flows does this){}",
                stats.buffer_budget_flows,
                shards.map_or(String::new(), |n| format!(
                    "; with --threads {n} each of the {n} workers held 1/{n} of the budget for its flows' buffers \
                     and reached it, so which flows were finished early can differ from --threads 1"
                ))
            ),
        });
    }
    if gaps > 0 {
        w.push(Warning {
            kind: WarningKind::CaptureGaps,
            message: format!("{gaps} TCP flows have bytes the capture missed (see tcp.gaps)"),
        });
    }
    if oversized > 0 {
        w.push(Warning {
            kind: WarningKind::OversizedHandshake,
            message: format!("{oversized} flows had a handshake message too large to reassemble"),
        });
    }
    if let Some(n) = stats.decode_errors.get("unsupported_link_type") {
        w.push(Warning {
            kind: WarningKind::UnsupportedLinkType,
            message: format!("{n} packets have a link type tls-audit does not decode"),
        });
    }
    w
}
