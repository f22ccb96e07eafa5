//! Why an audit could not run or could not produce its report: one enum for
//! every command, mapped to the documented exit codes in one place
//! (`cli::exit::of_error`).

use std::path::PathBuf;

/// An audit that could not run, or whose report could not be produced.
/// Each variant belongs to one exit code class; [`AuditError::class`]
/// names it.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The command line asked for something that cannot be done (beyond
    /// what the argument parser checks).
    #[error("{0}")]
    Usage(String),
    /// A capture could not be opened or is not a capture at all.
    #[error(transparent)]
    Capture(#[from] crate::capture::CaptureError),
    /// An event stream could not be opened.
    #[error("cannot open {name}: {source}")]
    OpenEvents {
        /// The file named.
        name: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// An event stream could not be read.
    #[error(transparent)]
    Events(#[from] crate::live::EventError),
    /// A saved report (`report`, `diff`) could not be read or is not one.
    #[error(transparent)]
    SavedReport(#[from] crate::report::baseline::SavedReportError),
    /// Another input (a `--targets` file) could not be read.
    #[error("{0}")]
    Input(String),
    /// A policy, snapshot, trust bundle, cluster configuration, Nitro table,
    /// key log, baseline, manifests directory or client identity could not
    /// be read or is invalid.
    #[error("{0}")]
    Config(String),
    /// The live capture could not start.
    #[error(transparent)]
    Live(#[from] crate::live::LiveError),
    /// The Kubernetes API could not be used, or no pod could be audited.
    #[error("{0}")]
    Cluster(String),
    /// A temporary file (where flows wait) could not be created, written or
    /// read back.
    #[error("cannot {doing} a temporary file: {source}")]
    TempFile {
        /// `create`, `write` or `read back`.
        doing: &'static str,
        /// What the system said.
        source: std::io::Error,
    },
    /// A runtime (threads for probing, the async runtime) could not start.
    #[error("cannot start the {what} runtime: {source}")]
    Runtime {
        /// `probe` or `async`.
        what: &'static str,
        /// What the system said.
        source: std::io::Error,
    },
    /// The report (or diff) could not be written.
    #[error("cannot write the report to {to}: {source}")]
    Write {
        /// The file, or `standard output`.
        to: String,
        /// What the system said.
        source: std::io::Error,
    },
}

/// The classes of [`AuditError`], one per exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The command line.
    Usage,
    /// An input could not be read at all.
    Input,
    /// A setting (policy, snapshot, key log, ...).
    Config,
    /// The cluster.
    Cluster,
    /// Writing (the report, temporary files, runtimes).
    Output,
}

impl AuditError {
    /// The class, which decides the exit code.
    pub fn class(&self) -> ErrorClass {
        match self {
            AuditError::Usage(_) => ErrorClass::Usage,
            AuditError::Live(e) if e.is_usage() => ErrorClass::Usage,
            AuditError::Capture(_)
            | AuditError::OpenEvents { .. }
            | AuditError::Events(_)
            | AuditError::SavedReport(_)
            | AuditError::Input(_)
            | AuditError::Live(_) => ErrorClass::Input,
            AuditError::Config(_) => ErrorClass::Config,
            AuditError::Cluster(_) => ErrorClass::Cluster,
            AuditError::TempFile { .. } | AuditError::Runtime { .. } | AuditError::Write { .. } => {
                ErrorClass::Output
            }
        }
    }

    /// A temporary file could not be created.
    pub(crate) fn temp_create(source: std::io::Error) -> Self {
        AuditError::TempFile {
            doing: "create",
            source,
        }
    }

    /// A temporary file could not be written.
    pub(crate) fn temp_write(source: std::io::Error) -> Self {
        AuditError::TempFile {
            doing: "write",
            source,
        }
    }

    /// A temporary file could not be read back.
    pub(crate) fn temp_read(source: std::io::Error) -> Self {
        AuditError::TempFile {
            doing: "read back",
            source,
        }
    }

    /// The report could not be written to `path` (else standard output).
    pub fn write(path: Option<&PathBuf>, source: std::io::Error) -> Self {
        AuditError::Write {
            to: path.map_or_else(
                || "standard output".to_string(),
                |p| p.display().to_string(),
            ),
            source,
        }
    }
}
