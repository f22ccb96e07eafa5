//! The README and docs/ as a newcomer meets them: every `tls-audit` and
//! `kubectl tls-audit` command in their code blocks parses, and every
//! relative link, with its `#anchor`, leads somewhere (issue 19).
//!
//! A command is checked by running the real binary with `--help` appended:
//! clap reads the arguments in order and rejects an unknown subcommand,
//! option or value before it reaches `--help`, and prints help (exit 0)
//! only when everything before it parsed. Files named in the command are
//! not opened. Synopsis lines (`[...]`, `FORMAT`-style placeholders) are
//! not commands and are left out.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::root;

const TLS_AUDIT: &str = env!("CARGO_BIN_EXE_tls-audit");
const PLUGIN: &str = env!("CARGO_BIN_EXE_kubectl-tls_audit");

/// README.md and every Markdown file under docs/.
fn markdown_files() -> Vec<PathBuf> {
    let mut out = vec![root().join("README.md")];
    let mut dirs = vec![root().join("docs")];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).expect("docs/") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "md") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// (fenced code blocks, the text outside them).
fn split_fences(text: &str) -> (Vec<String>, String) {
    let (mut blocks, mut prose, mut cur, mut inside) = (vec![], String::new(), None, false);
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            inside = !inside;
            if inside {
                cur = Some(String::new());
            } else if let Some(b) = cur.take() {
                blocks.push(b);
            }
            continue;
        }
        let target = if inside {
            cur.as_mut().expect("block")
        } else {
            &mut prose
        };
        target.push_str(line);
        target.push('\n');
    }
    (blocks, prose)
}

/// Shell words of one command: quotes removed, redirections dropped.
fn words(segment: &str) -> Vec<String> {
    let (mut out, mut cur, mut quote, mut any) = (vec![], String::new(), None, false);
    for c in segment.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                any = true;
            }
            (None, c) if c.is_whitespace() => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                any = false;
            }
            (None, c) => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    let mut kept = vec![];
    let mut skip_next = false;
    for w in out {
        if skip_next {
            skip_next = false;
        } else if matches!(w.as_str(), ">" | ">>" | "<" | "2>" | "2>>") {
            skip_next = true;
        } else if !(w.starts_with('>') || w.starts_with("2>")) {
            kept.push(w);
        }
    }
    kept
}

/// The tls-audit commands in a code block: (binary, arguments, the line).
fn commands(block: &str) -> Vec<(&'static str, Vec<String>, String)> {
    let joined = block.replace("\\\n", " ");
    let mut out = vec![];
    for line in joined.lines() {
        // A shell comment: `#` after a space, outside the command.
        let code = match line.find(" #") {
            Some(i) => &line[..i],
            None => line,
        };
        let code = code
            .trim()
            .trim_start_matches("- ")
            .trim_start_matches("run: ");
        if code.contains('[') || code.contains("FORMAT") || code.contains("SEVERITY") {
            continue; // a synopsis
        }
        for seg in code.split(['|', ';']).flat_map(|s| s.split("&&")) {
            let w = words(seg.trim());
            let (bin, rest) = match w.first().map(String::as_str) {
                Some("tls-audit" | "./target/release/tls-audit" | "./target/debug/tls-audit") => {
                    (TLS_AUDIT, &w[1..])
                }
                Some("kubectl") if w.get(1).map(String::as_str) == Some("tls-audit") => {
                    (PLUGIN, &w[2..])
                }
                _ => continue,
            };
            out.push((bin, rest.to_vec(), line.trim().to_string()));
        }
    }
    out
}

fn every_command_in_the_readme_and_docs_parses() {
    let mut checked = 0;
    let mut readme = 0;
    let mut failures = vec![];
    for file in markdown_files() {
        let text = std::fs::read_to_string(&file).expect("read");
        for block in split_fences(&text).0 {
            for (bin, args, line) in commands(&block) {
                let out = Command::new(bin)
                    .args(&args)
                    .arg("--help")
                    .env_remove("KUBECONFIG")
                    .output()
                    .expect("run");
                checked += 1;
                if file == root().join("README.md") {
                    readme += 1;
                }
                if !out.status.success() || !String::from_utf8_lossy(&out.stdout).contains("Usage:")
                {
                    failures.push(format!(
                        "{}: `{line}`: exit {:?}: {}",
                        file.strip_prefix(root()).unwrap_or(&file).display(),
                        out.status.code(),
                        String::from_utf8_lossy(&out.stderr).trim()
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The README's three use cases hold four commands; a change
    // that hides them from this test (a new fence style) must not pass.
    eprintln!("{checked} commands parsed, {readme} of them in README.md");
    assert!(readme >= 4, "only {readme} commands found in README.md");
    assert!(checked >= 25, "only {checked} commands found");
}

/// The check itself: a misspelt option and a wrong value are caught.
fn a_wrong_option_or_value_fails_the_help_path() {
    let block = "tls-audit analyze x.pcap --fail-onn high\nkubectl tls-audit pod --via nodes\n";
    let cmds = commands(block);
    assert_eq!(cmds.len(), 2);
    for (bin, args, line) in cmds {
        let out = Command::new(bin)
            .args(&args)
            .arg("--help")
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(2), "{line} parsed");
    }
}

/// GitHub's heading anchors: lower case, punctuation but `-` and `_`
/// dropped, spaces as `-`, a `-N` suffix for repeats.
fn anchors(text: &str) -> HashSet<String> {
    let (_, prose) = split_fences(text);
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out = HashSet::new();
    for line in prose.lines() {
        let Some(h) = line.strip_prefix('#') else {
            continue;
        };
        let title = h.trim_start_matches('#').trim();
        let slug: String = title
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        let n = seen.entry(slug.clone()).or_insert(0);
        out.insert(if *n == 0 {
            slug.clone()
        } else {
            format!("{slug}-{n}")
        });
        *n += 1;
    }
    out
}

/// `](target)` links outside code.
fn links(text: &str) -> Vec<String> {
    let (_, prose) = split_fences(text);
    let mut out = vec![];
    let mut rest = prose.as_str();
    while let Some(i) = rest.find("](") {
        rest = &rest[i + 2..];
        if let Some(end) = rest.find(')') {
            out.push(rest[..end].to_string());
            rest = &rest[end..];
        }
    }
    out
}

fn every_link_in_the_readme_and_docs_resolves() {
    let mut broken = vec![];
    let mut checked = 0;
    for file in markdown_files() {
        let text = std::fs::read_to_string(&file).expect("read");
        for link in links(&text) {
            if link.starts_with("http://") || link.starts_with("https://") || link.contains(' ') {
                continue;
            }
            checked += 1;
            let (path, anchor) = link.split_once('#').unwrap_or((&link, ""));
            let target = if path.is_empty() {
                file.clone()
            } else {
                file.parent().unwrap_or(Path::new(".")).join(path)
            };
            let name = file
                .strip_prefix(root())
                .unwrap_or(&file)
                .display()
                .to_string();
            if !target.exists() {
                broken.push(format!("{name}: {link}: no such file"));
                continue;
            }
            if !anchor.is_empty() && target.extension().is_some_and(|x| x == "md") {
                let t = std::fs::read_to_string(&target).expect("read target");
                if !anchors(&t).contains(anchor) {
                    broken.push(format!("{name}: {link}: no heading #{anchor}"));
                }
            }
        }
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
    assert!(checked >= 30, "only {checked} links found");
}

fn the_readme_stays_short_and_points_to_the_docs() {
    let text = std::fs::read_to_string(root().join("README.md")).expect("README");
    let lines = text.lines().count();
    assert!(
        lines <= 260,
        "README.md has {lines} lines: move reference material to docs/"
    );
    assert!(
        links(&text).iter().any(|l| l == "docs/README.md"),
        "README.md does not link the docs index"
    );
    // Every page in docs/ is reachable: linked from the README or the index.
    let index = std::fs::read_to_string(root().join("docs/README.md")).expect("docs/README.md");
    let mut linked: HashSet<String> = links(&text)
        .into_iter()
        .filter_map(|l| l.split('#').next().map(str::to_string))
        .collect();
    linked.extend(
        links(&index)
            .into_iter()
            .filter_map(|l| l.split('#').next().map(|p| format!("docs/{p}"))),
    );
    for f in markdown_files() {
        let rel = f.strip_prefix(root()).expect("rel").display().to_string();
        let top = rel.starts_with("docs/") && rel.matches('/').count() == 1;
        if top && rel != "docs/README.md" {
            assert!(
                linked.contains(&rel),
                "{rel} is linked from neither README.md nor docs/README.md"
            );
        }
    }
}

/// The table the README shows is the one the demo prints: the demo's
/// captures and cluster snapshot (read from scripts/demo.sh), `-o table`.
fn the_readme_shows_what_the_demo_prints() {
    let demo = std::fs::read_to_string(root().join("scripts/demo.sh")).expect("demo.sh");
    let captures: Vec<&str> = demo
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("fixtures/captures/"))
        .collect();
    assert_eq!(captures.len(), 5, "{captures:?}");
    assert!(demo.contains("--pods fixtures/cluster/pods.json --nodes fixtures/cluster/nodes.json"));
    let out = Command::new(TLS_AUDIT)
        .current_dir(root())
        .arg("analyze")
        .args(&captures)
        .args(["--pods", "fixtures/cluster/pods.json"])
        .args(["--nodes", "fixtures/cluster/nodes.json", "-o", "table"])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README");
    let shown = split_fences(&readme)
        .0
        .into_iter()
        .find(|b| b.starts_with("CLIENT "))
        .expect("the README shows the demo's table");
    assert_eq!(
        shown.trim(),
        printed.trim(),
        "README.md's demo table is stale"
    );
}

/// This module's tests, as the harness lists them (`main.rs`).
pub(crate) fn tests() -> Vec<crate::runner::Test> {
    use crate::runner::Test;
    vec![
        Test::new(
            module_path!(),
            "every_command_in_the_readme_and_docs_parses",
            every_command_in_the_readme_and_docs_parses,
        ),
        Test::new(
            module_path!(),
            "a_wrong_option_or_value_fails_the_help_path",
            a_wrong_option_or_value_fails_the_help_path,
        ),
        Test::new(
            module_path!(),
            "every_link_in_the_readme_and_docs_resolves",
            every_link_in_the_readme_and_docs_resolves,
        ),
        Test::new(
            module_path!(),
            "the_readme_stays_short_and_points_to_the_docs",
            the_readme_stays_short_and_points_to_the_docs,
        ),
        Test::new(
            module_path!(),
            "the_readme_shows_what_the_demo_prints",
            the_readme_shows_what_the_demo_prints,
        ),
    ]
}
