//! Which EC2 instance types encrypt traffic between instances in the Nitro
//! hardware, below anything a packet capture can see.
//!
//! A plaintext flow between two pods is not necessarily plaintext on the
//! physical network: on some instance types the Nitro card encrypts
//! instance-to-instance traffic (AEAD, 256-bit) when both instances are of
//! such a type, in the same Region and the same (or a peered) VPC, with no
//! load balancer or transit gateway in between (`standards.md` §3.1). The
//! auditor cannot observe that encryption, so it has to know it.
//!
//! The knowledge is data, not code: `nitro-instance-types.json` holds the
//! families from `standards.md` §3.2 with the source and snapshot date of
//! each group, embedded with `include_str!` ([`NitroTable::builtin`]) and
//! replaceable by a newer file ([`NitroTable::from_path`]) without a rebuild,
//! because AWS adds families every few months and the authoritative answer is
//! the EC2 API, not this table.
//!
//! Three answers, never a guess: `Some(true)` for a family listed as
//! encrypting, `Some(false)` for one listed as not, `None` for anything else
//! (a new family, a malformed string, a table exception). A `None` must be
//! treated as "not known to encrypt".
//!
//! The node label `karpenter.k8s.aws/instance-encryption-in-transit-supported`
//! (copied by Karpenter from `DescribeInstanceTypes`) and its EKS Auto Mode
//! twin are fresher than any table, so [`NitroTable::node_capability`] lets
//! them win and reports when they contradict the table.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The embedded table (`src/nitro-instance-types.json`).
pub const BUILTIN_JSON: &str = include_str!("nitro-instance-types.json");

/// The table format this code reads (`"format"` in the file).
pub const FORMAT_VERSION: u32 = 1;

/// Largest table file read (1 MiB); the real one is a few KiB.
pub const MAX_TABLE_BYTES: u64 = 1024 * 1024;

/// Longest instance-type string looked up; real ones are under 30 bytes.
const MAX_INSTANCE_TYPE_LEN: usize = 64;

/// Karpenter's node label, `"true"`/`"false"` straight from
/// `NetworkInfo.EncryptionInTransitSupported` (`standards.md` §3.3, V-code).
pub const KARPENTER_LABEL: &str = "karpenter.k8s.aws/instance-encryption-in-transit-supported";

/// The EKS Auto Mode equivalent of [`KARPENTER_LABEL`] (`standards.md` §3.3,
/// grade S: seen in node-label dumps).
pub const EKS_AUTO_MODE_LABEL: &str = "eks.amazonaws.com/instance-encryption-in-transit-supported";

/// Why a Nitro table could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NitroError {
    /// The file could not be opened or read.
    #[error("cannot read Nitro table {}: {source}", .path.display())]
    Io {
        /// The file as given.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The file is over [`MAX_TABLE_BYTES`].
    #[error("Nitro table {} is too large ({bytes} bytes; the limit is {MAX_TABLE_BYTES})", .path.display())]
    TooLarge {
        /// The file as given.
        path: PathBuf,
        /// Its size, or the bytes read before giving up.
        bytes: u64,
    },
    /// Not JSON, or not the table's shape (unknown field, wrong type). The
    /// message carries line and column.
    #[error("cannot parse Nitro table: {0}")]
    Json(#[from] serde_json::Error),
    /// A `"format"` this code does not read.
    #[error("Nitro table format {found} is not supported (expected {FORMAT_VERSION})")]
    Format {
        /// The file's `"format"`.
        found: u32,
    },
    /// A family name that cannot be an instance-type prefix.
    #[error(
        "Nitro table: {family:?} is not a valid instance family (lowercase letters, digits and '-', starting with a letter)"
    )]
    BadFamily {
        /// The offending name.
        family: String,
    },
    /// A family listed twice.
    #[error("Nitro table lists family {family:?} more than once")]
    DuplicateFamily {
        /// The family.
        family: String,
    },
    /// A group or exception names a source not in `"sources"`.
    #[error("Nitro table refers to source {id:?}, which is not in \"sources\"")]
    UnknownSource {
        /// The missing source id.
        id: String,
    },
    /// An exception with an empty prefix, which would match everything.
    #[error("Nitro table exception has an empty family_prefix or size_prefix")]
    EmptyException,
}

/// One source of the table, as recorded in the file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// Short id that groups and exceptions refer to, e.g. `karpenter`.
    pub id: String,
    /// Repository@commit and path, or document name.
    pub reference: String,
    /// Snapshot date (`YYYY-MM-DD` or `YYYY`), `None` when undated.
    pub date: Option<String>,
    /// How the source was produced.
    pub how: String,
}

/// The file's shape.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TableFile {
    format: u32,
    title: String,
    rule: String,
    rule_url: String,
    compiled_from: String,
    snapshot_date: String,
    runtime_check: String,
    sources: Vec<Source>,
    groups: Vec<GroupFile>,
    #[serde(default)]
    exceptions: Vec<ExceptionFile>,
}

/// A list of families sharing one answer and provenance.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupFile {
    encrypts: bool,
    sources: Vec<String>,
    /// Documentation only.
    #[serde(default, rename = "note")]
    _note: Option<String>,
    families: Vec<String>,
}

/// A rule that overrides the family answer for some sizes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExceptionFile {
    family_prefix: String,
    size_prefix: String,
    encrypts: Option<bool>,
    source: String,
    note: String,
}

/// An answer for a family, with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FamilyEntry {
    encrypts: bool,
    /// Index into `NitroTable::groups_sources`.
    group: usize,
}

/// An exception from the file, normalised to lowercase.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Exception {
    family_prefix: String,
    size_prefix: String,
    encrypts: Option<bool>,
    note: String,
}

/// The Nitro in-transit-encryption table: instance family to "encrypts".
#[derive(Debug, Clone)]
pub struct NitroTable {
    snapshot_date: String,
    title: String,
    rule: String,
    rule_url: String,
    compiled_from: String,
    runtime_check: String,
    sources: Vec<Source>,
    /// Per group: its source ids.
    groups_sources: Vec<Vec<String>>,
    families: HashMap<String, FamilyEntry>,
    exceptions: Vec<Exception>,
}

/// What the table says about one instance type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup<'t> {
    /// The family (prefix before the first `.`), lowercase.
    pub family: String,
    /// The size (after the `.`), lowercase, e.g. `large`, `metal-24xl`.
    pub size: String,
    /// The table's answer.
    pub answer: Answer<'t>,
}

/// The table's answer for a well-formed instance type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer<'t> {
    /// The family is listed.
    Listed {
        /// Whether its types encrypt in transit.
        encrypts: bool,
        /// The ids of the sources that list it.
        sources: &'t [String],
    },
    /// An exception of the table applies (it wins over the family).
    Exception {
        /// The exception's answer (`None`: not known).
        encrypts: Option<bool>,
        /// Why the exception exists.
        note: &'t str,
    },
    /// The family is in no list.
    UnknownFamily,
}

impl Answer<'_> {
    /// The answer as "encrypts": `None` when not known.
    pub fn encrypts(&self) -> Option<bool> {
        match self {
            Answer::Listed { encrypts, .. } => Some(*encrypts),
            Answer::Exception { encrypts, .. } => *encrypts,
            Answer::UnknownFamily => None,
        }
    }
}

/// What decided a node's capability in [`NitroTable::node_capability`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapabilityBasis {
    /// A node label (the key), which wins over the table.
    Label(&'static str),
    /// The table, from the node's instance type.
    Table,
    /// Nothing usable: no valid label and no table answer.
    Unknown,
}

/// Whether a node encrypts in transit, and on what basis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeCapability {
    /// `Some(true)`: encrypts; `Some(false)`: does not; `None`: not known.
    pub encrypts: Option<bool>,
    /// What decided `encrypts`.
    pub basis: CapabilityBasis,
    /// What the table alone says for the instance type (`None`: no answer).
    pub table: Option<bool>,
    /// Contradictions found: label against table, label against label, or
    /// a label value that is not `true`/`false`.
    pub disagreements: Vec<String>,
}

impl NitroTable {
    /// The table shipped with the binary (`nitro-instance-types.json`).
    ///
    /// # Errors
    ///
    /// None in practice (a unit test parses the embedded file); the
    /// [`NitroTable::from_json`] errors otherwise.
    pub fn builtin() -> Result<Self, NitroError> {
        Self::from_json(BUILTIN_JSON)
    }

    /// Reads a replacement table file in the same format.
    ///
    /// # Errors
    ///
    /// [`NitroError::Io`], [`NitroError::TooLarge`], and the
    /// [`NitroTable::from_json`] errors.
    pub fn from_path(path: &Path) -> Result<Self, NitroError> {
        let io = |source| NitroError::Io {
            path: path.to_owned(),
            source,
        };
        let too_large = |bytes| NitroError::TooLarge {
            path: path.to_owned(),
            bytes,
        };
        let file = File::open(path).map_err(io)?;
        let size = file.metadata().map_err(io)?.len();
        if size > MAX_TABLE_BYTES {
            return Err(too_large(size));
        }
        let mut text = String::new();
        file.take(MAX_TABLE_BYTES.saturating_add(1))
            .read_to_string(&mut text)
            .map_err(io)?;
        let read = text.len() as u64;
        if read > MAX_TABLE_BYTES {
            return Err(too_large(read));
        }
        Self::from_json(&text)
    }

    /// Parses a table from JSON text.
    ///
    /// # Errors
    ///
    /// [`NitroError::Json`] for bad JSON or an unknown field,
    /// [`NitroError::Format`], [`NitroError::BadFamily`],
    /// [`NitroError::DuplicateFamily`], [`NitroError::UnknownSource`],
    /// [`NitroError::EmptyException`].
    pub fn from_json(text: &str) -> Result<Self, NitroError> {
        let file: TableFile = serde_json::from_str(text)?;
        if file.format != FORMAT_VERSION {
            return Err(NitroError::Format { found: file.format });
        }
        let known: HashSet<&str> = file.sources.iter().map(|s| s.id.as_str()).collect();
        let check_source = |id: &str| {
            if known.contains(id) {
                Ok(())
            } else {
                Err(NitroError::UnknownSource { id: id.to_owned() })
            }
        };
        let mut families = HashMap::new();
        let mut groups_sources = Vec::with_capacity(file.groups.len());
        for (group, g) in file.groups.iter().enumerate() {
            for id in &g.sources {
                check_source(id)?;
            }
            for family in &g.families {
                let family = family.to_ascii_lowercase();
                if !valid_family(&family) {
                    return Err(NitroError::BadFamily { family });
                }
                let entry = FamilyEntry {
                    encrypts: g.encrypts,
                    group,
                };
                if families.insert(family.clone(), entry).is_some() {
                    return Err(NitroError::DuplicateFamily { family });
                }
            }
            groups_sources.push(g.sources.clone());
        }
        let mut exceptions = Vec::with_capacity(file.exceptions.len());
        for e in &file.exceptions {
            check_source(&e.source)?;
            if e.family_prefix.is_empty() || e.size_prefix.is_empty() {
                return Err(NitroError::EmptyException);
            }
            exceptions.push(Exception {
                family_prefix: e.family_prefix.to_ascii_lowercase(),
                size_prefix: e.size_prefix.to_ascii_lowercase(),
                encrypts: e.encrypts,
                note: e.note.clone(),
            });
        }
        Ok(NitroTable {
            snapshot_date: file.snapshot_date,
            title: file.title,
            rule: file.rule,
            rule_url: file.rule_url,
            compiled_from: file.compiled_from,
            runtime_check: file.runtime_check,
            sources: file.sources,
            groups_sources,
            families,
            exceptions,
        })
    }

    /// The table's snapshot date, e.g. `2026-08-04`.
    pub fn snapshot_date(&self) -> &str {
        &self.snapshot_date
    }

    /// The table's title.
    pub fn title(&self) -> &str {
        &self.title
    }

    /// The AWS rule the table encodes, quoted, and its URL.
    pub fn rule(&self) -> (&str, &str) {
        (&self.rule, &self.rule_url)
    }

    /// Where the table was compiled from.
    pub fn compiled_from(&self) -> &str {
        &self.compiled_from
    }

    /// The AWS CLI command that gives the authoritative, current answer.
    pub fn runtime_check(&self) -> &str {
        &self.runtime_check
    }

    /// The sources, as recorded in the file.
    pub fn sources(&self) -> &[Source] {
        &self.sources
    }

    /// How many families the table lists.
    pub fn family_count(&self) -> usize {
        self.families.len()
    }

    /// What the table says about `instance_type` (case-insensitive,
    /// surrounding whitespace ignored). `None` when the string is not of the
    /// form `family.size` (e.g. `""`, `m5n`, `m5n.large.x`, `fargate`).
    pub fn lookup(&self, instance_type: &str) -> Option<Lookup<'_>> {
        let (family, size) = split_instance_type(instance_type)?;
        let exception = self.exceptions.iter().find(|e| {
            family.starts_with(e.family_prefix.as_str()) && size.starts_with(e.size_prefix.as_str())
        });
        let answer = match (exception, self.families.get(&family)) {
            (Some(e), _) => Answer::Exception {
                encrypts: e.encrypts,
                note: &e.note,
            },
            (None, Some(entry)) => Answer::Listed {
                encrypts: entry.encrypts,
                sources: self
                    .groups_sources
                    .get(entry.group)
                    .map_or(&[][..], Vec::as_slice),
            },
            (None, None) => Answer::UnknownFamily,
        };
        Some(Lookup {
            family,
            size,
            answer,
        })
    }

    /// Whether `instance_type` encrypts traffic between instances:
    /// `Some(true)` for a listed encrypting family, `Some(false)` for a
    /// family listed as not encrypting, `None` for an unknown family, a
    /// table exception without an answer, or a malformed string.
    pub fn encrypts_in_transit(&self, instance_type: &str) -> Option<bool> {
        self.lookup(instance_type)?.answer.encrypts()
    }

    /// A node's capability from its instance type and labels.
    ///
    /// [`KARPENTER_LABEL`] and [`EKS_AUTO_MODE_LABEL`] (value `true` or
    /// `false`, case-insensitive) win over the table, and a contradiction
    /// with the table is reported. When both labels are present and
    /// disagree, the answer is `None`: neither can be trusted. A label with
    /// another value is ignored and reported.
    pub fn node_capability(
        &self,
        instance_type: Option<&str>,
        labels: &BTreeMap<String, String>,
    ) -> NodeCapability {
        let table = instance_type.and_then(|t| self.encrypts_in_transit(t));
        let mut disagreements = Vec::new();
        let mut read = |key: &'static str| {
            let value = labels.get(key)?;
            match value.trim().to_ascii_lowercase().as_str() {
                "true" => Some((key, true)),
                "false" => Some((key, false)),
                _ => {
                    disagreements.push(format!(
                        "label {key}={value:?} is neither \"true\" nor \"false\"; ignored"
                    ));
                    None
                }
            }
        };
        let karpenter = read(KARPENTER_LABEL);
        let eks = read(EKS_AUTO_MODE_LABEL);
        let label = match (karpenter, eks) {
            (Some((k1, v1)), Some((k2, v2))) if v1 != v2 => {
                disagreements.push(format!(
                    "labels disagree: {k1}={v1} but {k2}={v2}; capability unknown"
                ));
                return NodeCapability {
                    encrypts: None,
                    basis: CapabilityBasis::Unknown,
                    table,
                    disagreements,
                };
            }
            (Some(l), _) | (None, Some(l)) => Some(l),
            (None, None) => None,
        };
        match label {
            Some((key, value)) => {
                if let Some(t) = table.filter(|&t| t != value) {
                    let ty = instance_type.unwrap_or_default();
                    disagreements.push(format!(
                        "label {key}={value} but the Nitro table ({}) says {ty} {}; the label wins",
                        self.snapshot_date,
                        if t { "encrypts" } else { "does not encrypt" },
                    ));
                }
                NodeCapability {
                    encrypts: Some(value),
                    basis: CapabilityBasis::Label(key),
                    table,
                    disagreements,
                }
            }
            None => NodeCapability {
                encrypts: table,
                basis: if table.is_some() {
                    CapabilityBasis::Table
                } else {
                    CapabilityBasis::Unknown
                },
                table,
                disagreements,
            },
        }
    }
}

/// `family.size`, lowercase, or `None` when malformed.
fn split_instance_type(instance_type: &str) -> Option<(String, String)> {
    let t = instance_type.trim();
    if t.len() > MAX_INSTANCE_TYPE_LEN {
        return None;
    }
    let t = t.to_ascii_lowercase();
    let (family, size) = t.split_once('.')?;
    let size_ok = !size.is_empty()
        && size
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    (valid_family(family) && size_ok).then(|| (family.to_owned(), size.to_owned()))
}

/// Lowercase letters, digits and `-`, starting with a letter.
fn valid_family(family: &str) -> bool {
    family
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_lowercase())
        && family
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
mod tests;
