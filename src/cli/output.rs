//! Where a report goes, spelled as kubectl users spell it: `-o/--output
//! FORMAT` names the format (`-o json`, `-o wide`), `--out-file FILE` the
//! file. Before, `--output` named the file and `-o` was short for
//! `--format`; old scripts keep working: `--format` is still read, and an
//! `--output` value that is plainly a path (it has a `/` or a `.`) is
//! written to, with a deprecation note. A value that could be either
//! (`--output json` next to `--format`, or a bare word that is no format)
//! is refused with the one-line fix, never guessed.

use std::path::PathBuf;

use clap::ValueEnum;

use super::Format;

/// The flags, as parsed.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Destination {
    /// Output format: table, wide (the table with more columns), json,
    /// yaml, markdown, junit, sarif, html, github (default: table on a
    /// terminal, JSON otherwise). Also spelled --output, as in kubectl.
    #[arg(short = 'o', value_name = "FORMAT")]
    short: Option<String>,
    /// The output format, as -o. (A path here is the former, deprecated
    /// meaning, the file to write: use --out-file.)
    #[arg(long = "output", value_name = "FORMAT")]
    output: Option<String>,
    /// The format's former name (kept for scripts; same as -o).
    #[arg(long = "format", value_enum, hide = true)]
    legacy_format: Option<Format>,
    /// Write the report to this file instead of standard output.
    #[arg(long = "out-file", value_name = "FILE")]
    out_file: Option<PathBuf>,
}

/// What the flags mean.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Resolved {
    /// The format asked for (`None`: by the terminal).
    pub(crate) format: Option<Format>,
    /// `-o wide`: the table with its extra columns.
    pub(crate) wide: bool,
    /// The file to write (`None`: standard output).
    pub(crate) file: Option<PathBuf>,
    /// A deprecation note to print once.
    pub(crate) note: Option<String>,
}

/// A format name as `-o` takes it.
fn format_named(v: &str) -> Option<Format> {
    Format::from_str(v, false).ok()
}

fn format_names() -> String {
    let mut names: Vec<String> = Format::value_variants()
        .iter()
        .filter_map(|f| f.to_possible_value().map(|p| p.get_name().to_string()))
        .collect();
    names.insert(1, "wide".into());
    names.join(", ")
}

/// The flags as given.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Given<'a> {
    /// `-o`.
    pub(crate) short: Option<&'a str>,
    /// `--output`.
    pub(crate) output: Option<&'a str>,
    /// `--format`.
    pub(crate) legacy_format: Option<Format>,
    /// `--out-file`.
    pub(crate) out_file: Option<&'a PathBuf>,
}

/// Decide what the flags mean.
///
/// # Errors
///
/// The one line to print (a usage error) when the flags are ambiguous or
/// `-o` names no format.
pub(crate) fn resolve(g: Given<'_>) -> Result<Resolved, String> {
    let mut r = Resolved {
        file: g.out_file.cloned(),
        ..Resolved::default()
    };
    let mut named: Option<&str> = None;
    if g.short == Some("name") || g.output == Some("name") {
        // kubectl's `-o name` lists objects; a report is not a list.
        return Err(
            "-o name: a report is not a list of Kubernetes objects; for the pods it names, use \
             -o json (flows[].client.pod, flows[].server.pod, findings[].subject.pod)"
                .into(),
        );
    }
    if let Some(v) = g.short {
        if format_named(v).is_none() {
            return Err(format!(
                "-o {v}: not a format ({}); to write to a file, use --out-file {v}",
                format_names()
            ));
        }
        named = Some(v);
    }
    if let Some(v) = g.output {
        if format_named(v).is_some() {
            if named.is_some() || g.legacy_format.is_some() {
                // `-o F --output json`: in old scripts, a file named json.
                return Err(format!(
                    "--output {v} names the format now (as in kubectl), and the format is given \
                     already: to write to a file named {v}, use --out-file {v}"
                ));
            }
            named = Some(v);
        } else if !(v.contains('/') || v.contains('.')) {
            return Err(format!(
                "--output {v}: not a format ({}); to write to a file named {v}, use --out-file {v}",
                format_names()
            ));
        } else if g.out_file.is_some() {
            return Err(format!(
                "--output {v} and --out-file both name a file: give it once, with --out-file"
            ));
        } else {
            r.file = Some(PathBuf::from(v));
            r.note = Some(format!(
                "note: --output FILE is deprecated: write --out-file {v} (-o/--output names the \
                 format, as in kubectl)"
            ));
        }
    }
    if let (Some(v), Some(_)) = (named, g.legacy_format) {
        return Err(format!(
            "-o {v} and --format both name the format: give it once, with -o"
        ));
    }
    r.format = named.and_then(format_named).or(g.legacy_format);
    r.wide = named == Some("wide");
    Ok(r)
}

impl Destination {
    /// What the flags mean (checked when the command line was parsed, so
    /// an error here is not expected; it falls back to the defaults).
    pub(crate) fn resolved(&self) -> Resolved {
        resolve(Given {
            short: self.short.as_deref(),
            output: self.output.as_deref(),
            legacy_format: self.legacy_format,
            out_file: self.out_file.as_ref(),
        })
        .unwrap_or_default()
    }
}

/// Check the destination flags of the parsed subcommand, as soon as the
/// command line is read (before a capture starts): the usage error, or
/// the deprecation note to print.
pub(crate) fn check(matches: &clap::ArgMatches) -> Result<Option<String>, String> {
    let Some((_, sub)) = matches.subcommand() else {
        return Ok(None);
    };
    // Subcommands without these flags answer "no such id": nothing given.
    let text = |id: &str| {
        sub.try_get_one::<String>(id)
            .ok()
            .flatten()
            .map(String::as_str)
    };
    resolve(Given {
        short: text("short"),
        output: text("output"),
        legacy_format: sub
            .try_get_one::<Format>("legacy_format")
            .ok()
            .flatten()
            .copied(),
        out_file: sub.try_get_one::<PathBuf>("out_file").ok().flatten(),
    })
    .map(|r| r.note)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn given<'a>(
        short: Option<&'a str>,
        output: Option<&'a str>,
        legacy_format: Option<Format>,
        out_file: Option<&'a PathBuf>,
    ) -> Given<'a> {
        Given {
            short,
            output,
            legacy_format,
            out_file,
        }
    }

    #[test]
    fn a_format_name_is_the_format_and_a_path_is_a_deprecated_file() {
        let json = resolve(given(None, Some("json"), None, None)).expect("ok");
        assert_eq!((json.format, json.file), (Some(Format::Json), None));
        let wide = resolve(given(Some("wide"), None, None, None)).expect("ok");
        assert_eq!((wide.format, wide.wide), (Some(Format::Table), true));
        // The old spelling: -o json --output FILE.
        let old = resolve(given(Some("json"), Some("out/report.json"), None, None)).expect("ok");
        assert_eq!(old.format, Some(Format::Json));
        assert_eq!(old.file, Some(PathBuf::from("out/report.json")));
        assert!(
            old.note
                .expect("note")
                .contains("--out-file out/report.json")
        );
        let legacy = resolve(given(None, Some("r.json"), Some(Format::Json), None)).expect("ok");
        assert_eq!(legacy.format, Some(Format::Json));
        let file = PathBuf::from("r.sarif");
        let new = resolve(given(Some("sarif"), None, None, Some(&file))).expect("ok");
        assert_eq!(new.format, Some(Format::Sarif));
        assert_eq!(new.file, Some(file));
        assert_eq!(new.note, None);
    }

    #[test]
    fn ambiguous_values_are_refused_with_the_fix() {
        let e = resolve(given(Some("table"), Some("json"), None, None)).expect_err("ambiguous");
        assert!(e.contains("--out-file json"), "{e}");
        let e =
            resolve(given(None, Some("json"), Some(Format::Table), None)).expect_err("ambiguous");
        assert!(e.contains("--out-file json"), "{e}");
        let e = resolve(given(None, Some("report"), None, None)).expect_err("bare word");
        assert!(
            e.contains("not a format") && e.contains("--out-file report"),
            "{e}"
        );
        let e = resolve(given(Some("name"), None, None, None)).expect_err("-o name");
        assert!(e.contains("not a list"), "{e}");
        let e = resolve(given(Some("jsn"), None, None, None)).expect_err("typo");
        assert!(e.contains("not a format"), "{e}");
        let other = PathBuf::from("b.json");
        let e = resolve(given(None, Some("a.json"), None, Some(&other))).expect_err("two files");
        assert!(e.contains("give it once"), "{e}");
    }
}
