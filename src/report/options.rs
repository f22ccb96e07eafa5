//! What a rendering needs besides the report: where the rule pages are
//! (`--docs-url`), the manifests that define the workloads
//! (`--manifests`, SARIF), and whether inputs are shown by full path.

use super::links::DEFAULT_DOCS_URL;
use super::manifests::Manifests;

/// Options of the renderers; [`Default`] is what a report gets without flags.
#[derive(Debug, Clone)]
pub struct RenderOptions {
    /// Base URL of the rule pages, ending in `/`.
    pub docs_url: String,
    /// The workloads' manifests, for SARIF locations.
    pub manifests: Option<Manifests>,
    /// Show inputs by the path given rather than by file name (HTML).
    pub full_paths: bool,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            docs_url: DEFAULT_DOCS_URL.to_string(),
            manifests: None,
            full_paths: false,
        }
    }
}
