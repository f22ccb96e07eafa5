//! Links to the rule pages: absolute, so that a Markdown comment, an HTML
//! page, a SARIF log or a JUnit file read in the user's own repository or
//! CI still reaches them. The base is `--docs-url`, by default the pages of
//! the version that wrote the report in the project's repository.

use crate::model::rules;

/// Where the rule pages of this version are published: `<repository>/blob/v<version>/docs/rules/`.
pub const DEFAULT_DOCS_URL: &str = concat!(
    env!("CARGO_PKG_REPOSITORY"),
    "/blob/v",
    env!("CARGO_PKG_VERSION"),
    "/docs/rules/"
);

/// Why `--docs-url` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DocsUrlError {
    /// Not an absolute `https://` or `http://` URL.
    #[error(
        "--docs-url must be an absolute http(s) URL, e.g. https://example.com/tls-audit/rules/ (got `{0}`)"
    )]
    NotAbsolute(String),
}

/// A base URL for the rule pages, checked and ending in `/`.
pub fn docs_base(url: &str) -> Result<String, DocsUrlError> {
    let ok = ["https://", "http://"].iter().any(|s| {
        url.strip_prefix(s).is_some_and(|rest| {
            !rest.is_empty()
                && !rest.starts_with('/')
                && !rest
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || "\"<>`".contains(c))
        })
    });
    if !ok {
        return Err(DocsUrlError::NotAbsolute(url.to_string()));
    }
    Ok(if url.ends_with('/') {
        url.to_string()
    } else {
        format!("{url}/")
    })
}

/// The page of a rule the catalogue knows (`<base><ID>.md`); `None` for an
/// id it does not know (only known ids go into a link).
pub fn rule_url(id: &str, base: &str) -> Option<String> {
    rules::by_id(id).map(|r| format!("{base}{}.md", r.id))
}

/// The rule as a Markdown link to its page, else the id escaped.
pub fn rule_markdown(id: &str, base: &str) -> String {
    match rule_url(id, base) {
        Some(url) => format!("[{id}]({url})"),
        None => super::markdown::md(id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bases_are_absolute_and_end_in_a_slash() {
        assert!(DEFAULT_DOCS_URL.starts_with("https://"));
        assert_eq!(
            docs_base("https://docs.example/r").unwrap(),
            "https://docs.example/r/"
        );
        assert_eq!(docs_base("http://h/x/").unwrap(), "http://h/x/");
        for bad in [
            "docs/rules",
            "/docs",
            "https://",
            "https:///x",
            "ftp://h/",
            "https://h/a b",
            "javascript:alert(1)",
        ] {
            assert!(docs_base(bad).is_err(), "{bad}");
        }
        assert_eq!(
            rule_url("TA-PLAINTEXT", "https://d/").as_deref(),
            Some("https://d/TA-PLAINTEXT.md")
        );
        assert_eq!(rule_url("TA-NOPE", "https://d/"), None);
        assert_eq!(
            rule_markdown("TA-NOPE", "https://d/"),
            crate::report::markdown::md("TA-NOPE")
        );
    }
}
