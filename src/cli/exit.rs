//! Exit codes: a public contract for scripts and CI, documented in docs/cli.md.
//! Every command returns a `Status` or an `AuditError`; `of_status` and
//! `of_error` are the only places either becomes a number.

/// The report was written and every input was read completely.
pub const OK: i32 = 0;
/// The report was written, and it holds an unwaived finding at or above
/// `--fail-on` (the CI gate; with `--baseline`, a new one); one line on
/// standard error names the count and the worst rules. Takes precedence
/// over `PARTIAL`. `report`: only with `--fail-on` or `--baseline`.
/// `diff --fail-on`: a new finding at or above it.
pub const FINDINGS: i32 = 1;
/// The command line was wrong (clap's own usage errors use 2 as well).
pub const USAGE: i32 = 2;
/// An input could not be read as a capture at all (for `probe`: the
/// `--targets` file; for `report` and `diff`: a saved report); no report
/// was written.
pub const INPUT: i32 = 3;
/// The report was written, but an input was damaged or truncated and was
/// analysed only up to the damage (see `warnings` and `inputs[].complete`);
/// for `probe` and `pod --active`, an endpoint could not be probed
/// (`probes[].error`); for `pod`, a pod was not audited fully (its agent
/// was refused, did not start, or failed: a single selected pod whose
/// agent ran and failed at once included, since its log was read).
pub const PARTIAL: i32 = 4;
/// The report could not be written.
pub const OUTPUT: i32 = 5;
/// A policy, cluster snapshot, trust bundle, cluster configuration or Nitro
/// table, a `--baseline` report or the `--manifests` directory could not
/// be read or is invalid, or a key log could not be read
/// (missing, unreadable, over 256 MiB; bad lines inside one are only warned
/// about); nothing was analysed.
pub const CONFIG: i32 = 6;
/// `pod`: the Kubernetes API could not be used or refused: no kubeconfig,
/// the server unreachable (named), a permission missing (the preflight
/// names it), no pod found, or not one selected pod's agent log could be
/// read (`--active-only`: none declares a TCP port). No report was
/// written.
pub const CLUSTER: i32 = 7;
/// A second SIGINT or SIGTERM ended a live capture at once, without its
/// summary or report (the first one stops it cleanly).
pub const INTERRUPTED: i32 = 130;

/// The exit code of an audit that could not run or write its report.
pub fn of_error(e: &crate::audit::AuditError) -> i32 {
    use crate::audit::ErrorClass;
    match e.class() {
        ErrorClass::Usage => USAGE,
        ErrorClass::Input => INPUT,
        ErrorClass::Config => CONFIG,
        ErrorClass::Cluster => CLUSTER,
        ErrorClass::Output => OUTPUT,
    }
}

/// The exit code of an audit that wrote its report.
pub fn of_status(s: crate::audit::Status) -> i32 {
    use crate::audit::Status;
    match s {
        Status::Clean => OK,
        Status::Findings => FINDINGS,
        Status::Partial => PARTIAL,
    }
}
