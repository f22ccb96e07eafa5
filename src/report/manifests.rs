//! `--manifests DIR`: the Kubernetes manifests a repository deploys, so
//! that SARIF results point at the file that defines the workload a finding
//! is about (code scanning shows a result in a file, on a line).
//!
//! Every `*.yaml`/`*.yml` file under the directory is split into its
//! documents (`---` lines) and each document read for `kind`,
//! `metadata.name` and `metadata.namespace`. A finding's workload (from the
//! pod's `ownerReferences`, see [`super::identity`]) matches the document of
//! the same kind and name in the same namespace, or, when the document
//! names no namespace (applied with `kubectl apply -n`), the only document
//! of that kind and name. The location is the file (relative to the
//! directory when it is given as an absolute path, else the path as given,
//! so relative to where CI runs: the repository root) and the document's
//! first line. Bounded: at most
//! [`MAX_FILES`] files of [`MAX_FILE_BYTES`] each; files that do not parse
//! are skipped and counted (templates, Helm charts).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::model::Subject;

/// Files read at most.
pub const MAX_FILES: usize = 10_000;
/// Largest manifest file read.
pub const MAX_FILE_BYTES: u64 = 4 << 20;
/// Directory depth walked at most.
const MAX_DEPTH: usize = 16;

/// Where a workload is defined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestLocation {
    /// The file, with `/` separators (see the module documentation).
    pub path: String,
    /// The first line of its document (1-based).
    pub line: usize,
}

/// The documents of one kind and name: (namespace as written, location).
type Documents = Vec<(Option<String>, ManifestLocation)>;

/// The workloads the manifests define.
#[derive(Debug, Clone, Default)]
pub struct Manifests {
    /// (kind, name) → its documents.
    by_name: BTreeMap<(String, String), Documents>,
    /// Files read.
    pub files: usize,
    /// Documents that were not Kubernetes objects or did not parse.
    pub skipped: usize,
}

/// Why the manifests could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestsError {
    /// The directory could not be listed.
    #[error("--manifests {path}: {source}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// More files than [`MAX_FILES`].
    #[error("--manifests {0}: more than {MAX_FILES} YAML files")]
    TooMany(PathBuf),
}

#[derive(Deserialize)]
struct Object {
    kind: Option<String>,
    metadata: Option<Meta>,
}

#[derive(Deserialize)]
struct Meta {
    name: Option<String>,
    namespace: Option<String>,
}

impl Manifests {
    /// Read every YAML file under `dir`.
    pub fn load(dir: &Path) -> Result<Self, ManifestsError> {
        let mut files = Vec::new();
        walk(dir, 0, &mut files)?;
        files.sort();
        let mut m = Manifests::default();
        for file in files {
            // Relative to the directory; under it as given when that is
            // relative (to the repository root, where CI runs).
            let shown = if dir.is_relative() {
                file.as_path()
            } else {
                file.strip_prefix(dir).unwrap_or(&file)
            };
            let rel = shown
                .components()
                .filter(|c| !matches!(c, std::path::Component::CurDir))
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            let too_big = std::fs::metadata(&file).map_or(true, |md| md.len() > MAX_FILE_BYTES);
            let text = match std::fs::read_to_string(&file) {
                Ok(t) if !too_big => t,
                _ => {
                    m.skipped += 1;
                    continue;
                }
            };
            m.files += 1;
            m.add_file(&rel, &text);
        }
        Ok(m)
    }

    /// Index the documents of one file's text.
    pub fn add_file(&mut self, rel: &str, text: &str) {
        for (line, doc) in documents(text) {
            let parsed: Option<Object> = serde_saphyr::from_str(&doc).ok();
            let Some((kind, meta)) = parsed.and_then(|o| Some((o.kind?, o.metadata?))) else {
                if !doc.trim().is_empty() {
                    self.skipped += 1;
                }
                continue;
            };
            let Some(name) = meta.name else {
                self.skipped += 1;
                continue;
            };
            self.by_name.entry((kind, name)).or_default().push((
                meta.namespace,
                ManifestLocation {
                    path: rel.to_string(),
                    line,
                },
            ));
        }
    }

    /// Where the workload of `subject` is defined, if a manifest says.
    pub fn locate(&self, subject: &Subject) -> Option<&ManifestLocation> {
        let pod = subject.pod.as_ref()?;
        let w = pod.workload.as_ref()?;
        let found = self.by_name.get(&(w.kind.clone(), w.name.clone()))?;
        found
            .iter()
            .find(|(ns, _)| ns.as_deref() == Some(pod.namespace.as_str()))
            .or_else(|| match found.as_slice() {
                [(None, _)] => found.first(),
                _ => None,
            })
            .map(|(_, loc)| loc)
    }
}

fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<(), ManifestsError> {
    let entries = std::fs::read_dir(dir).map_err(|source| ManifestsError::Dir {
        path: dir.to_path_buf(),
        source,
    })?;
    for e in entries.flatten() {
        let path = e.path();
        let Ok(kind) = e.file_type() else { continue };
        if kind.is_dir() && depth < MAX_DEPTH {
            let hidden = e.file_name().to_string_lossy().starts_with('.');
            if !hidden {
                walk(&path, depth + 1, out)?;
            }
        } else if kind.is_file() && path.extension().is_some_and(|x| x == "yaml" || x == "yml") {
            if out.len() >= MAX_FILES {
                return Err(ManifestsError::TooMany(dir.to_path_buf()));
            }
            out.push(path);
        }
    }
    Ok(())
}

/// The documents of a YAML stream and the line each starts on (1-based,
/// the first line after its `---`).
fn documents(text: &str) -> Vec<(usize, String)> {
    let mut docs = Vec::new();
    let mut start = 1;
    let mut cur = String::new();
    for (i, line) in text.lines().enumerate() {
        if line == "---" || line.starts_with("--- ") || line == "..." {
            docs.push((start, std::mem::take(&mut cur)));
            start = i + 2;
            continue;
        }
        if cur.is_empty() && (line.trim().is_empty() || line.trim_start().starts_with('#')) {
            start = i + 2;
            continue;
        }
        cur.push_str(line);
        cur.push('\n');
    }
    docs.push((start, cur));
    docs.retain(|(_, d)| !d.trim().is_empty());
    docs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::{PodRef, WorkloadRef};

    fn subject(ns: &str, kind: &str, name: &str) -> Subject {
        Subject {
            role: "server".into(),
            endpoint: "10.0.0.1:443".into(),
            pod: Some(PodRef {
                namespace: ns.into(),
                name: format!("{name}-7d9f8b6c5-x2k4p"),
                service_account: "sa".into(),
                workload: Some(WorkloadRef {
                    kind: kind.into(),
                    name: name.into(),
                }),
            }),
            node: None,
        }
    }

    #[test]
    fn documents_match_by_kind_name_and_namespace() {
        let mut m = Manifests::default();
        m.add_file(
            "deploy/api.yaml",
            "# the API\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\n  namespace: pay\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: api\n  namespace: pay\n---\n\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\n  namespace: shop\n",
        );
        m.add_file(
            "web.yml",
            "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: web}\n",
        );
        m.add_file("broken.yaml", "kind: [\n");
        assert_eq!(
            m.locate(&subject("pay", "Deployment", "api")),
            Some(&ManifestLocation {
                path: "deploy/api.yaml".into(),
                line: 2
            })
        );
        assert_eq!(
            m.locate(&subject("shop", "Deployment", "api"))
                .map(|l| l.line),
            Some(15)
        );
        assert_eq!(m.locate(&subject("other", "Deployment", "api")), None);
        // No namespace in the file: the one document of that kind and name.
        assert_eq!(
            m.locate(&subject("web", "StatefulSet", "web"))
                .map(|l| l.path.as_str()),
            Some("web.yml")
        );
        assert_eq!(m.locate(&subject("pay", "DaemonSet", "api")), None);
        assert_eq!(m.skipped, 1);
    }
}
