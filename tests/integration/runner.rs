//! The test harness (`harness = false`, on `libtest-mimic`): every module
//! lists its tests (`tests()`), and a test that needs something this
//! machine may lack (root, a tool, `../shared`) says so when it is listed,
//! so that without it the harness reports the test as *ignored*, with the
//! reason on standard error, instead of a pass that checked nothing. In CI
//! (`CI` set) a missing need fails the test instead: CI installs all of
//! them (`scripts/install-deps.sh`).

use std::path::Path;
use std::process::Command;

/// Something a test needs from the machine.
#[derive(Debug, Clone, Copy)]
pub enum Need {
    /// Root: network namespaces, raw sockets.
    Root,
    /// A program on PATH (or an absolute path).
    Tool(&'static str),
    /// A Python module (`python3 -c "import M"`).
    Python(&'static str),
    /// A path under `../shared` (the reference corpora).
    Shared(&'static str),
    /// A file under the project root that the test command builds first
    /// (the lab peers in `target/debug`).
    Built(&'static str),
    /// Anything else: what it is, and how to tell.
    Check(&'static str, fn() -> bool),
}

impl Need {
    /// Whether this machine has it.
    fn met(self) -> bool {
        match self {
            Need::Root => crate::support::is_root(),
            Need::Tool(t) if t.starts_with('/') => Path::new(t).exists(),
            Need::Tool(t) => Command::new("sh")
                .args(["-c", &format!("command -v {t}")])
                .output()
                .is_ok_and(|o| o.status.success()),
            Need::Python(m) => Command::new("python3")
                .args(["-c", &format!("import {m}")])
                .output()
                .is_ok_and(|o| o.status.success()),
            Need::Shared(p) => crate::support::root()
                .join("..")
                .join("shared")
                .join(p)
                .exists(),
            Need::Built(p) => crate::support::root().join(p).is_file(),
            Need::Check(_, check) => check(),
        }
    }

    fn describe(self) -> String {
        match self {
            Need::Root => "root".into(),
            Need::Tool(t) => format!("`{t}`"),
            Need::Python(m) => format!("python3 module `{m}`"),
            Need::Shared(p) => format!("../shared/{p}"),
            Need::Built(p) => format!("{p} (scripts/test.sh builds it)"),
            Need::Check(what, _) => what.to_string(),
        }
    }
}

/// One test, as listed.
pub struct Test {
    name: String,
    run: fn(),
    ignored: Option<&'static str>,
    needs: Vec<Need>,
}

impl Test {
    /// `module` is the listing module's `module_path!()`; the test is
    /// named as libtest names it (`cli::foo`), so filters work as before.
    pub fn new(module: &str, name: &str, run: fn()) -> Self {
        let module = module.split_once("::").map_or("", |(_, m)| m);
        Test {
            name: if module.is_empty() {
                name.to_string()
            } else {
                format!("{module}::{name}")
            },
            run,
            ignored: None,
            needs: Vec::new(),
        }
    }

    /// Ignored unless asked for (`--ignored`), as `#[ignore = why]`.
    pub fn ignored(mut self, why: &'static str) -> Self {
        self.ignored = Some(why);
        self
    }

    /// Runs only where `needs` are met; elsewhere ignored (failed in CI).
    pub fn needs(mut self, needs: &[Need]) -> Self {
        self.needs.extend_from_slice(needs);
        self
    }

    /// The trial the harness runs; what is missing is said once here.
    fn trial(self, ci: bool) -> libtest_mimic::Trial {
        let missing: Vec<String> = self
            .needs
            .iter()
            .filter(|n| !n.met())
            .map(|n| n.describe())
            .collect();
        let run = self.run;
        if missing.is_empty() || ci {
            let name = self.name.clone();
            let trial = libtest_mimic::Trial::test(self.name, move || {
                if !missing.is_empty() {
                    return Err(format!(
                        "{name}: needs {} (CI must have everything: scripts/install-deps.sh)",
                        missing.join(", ")
                    )
                    .into());
                }
                run();
                Ok(())
            });
            return trial.with_ignored_flag(self.ignored.is_some());
        }
        eprintln!("SKIP {}: needs {}", self.name, missing.join(", "));
        libtest_mimic::Trial::test(self.name, move || {
            run();
            Ok(())
        })
        .with_ignored_flag(true)
    }
}

/// Run the listed tests with libtest's command line (filters, `--exact`,
/// `--ignored`, `--test-threads`...). libtest takes several filters (a
/// test runs when it matches any); libtest-mimic takes one, so they are
/// applied here.
pub fn main(tests: Vec<Test>) -> std::process::ExitCode {
    let (filters, rest) = split_filters(std::env::args());
    let args = libtest_mimic::Arguments::from_iter(rest);
    let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty());
    let chosen = |name: &str| {
        filters.is_empty()
            || filters.iter().any(|f| {
                if args.exact {
                    name == f
                } else {
                    name.contains(f.as_str())
                }
            })
    };
    let trials = tests
        .into_iter()
        .filter(|t| chosen(&t.name))
        .map(|t| t.trial(ci))
        .collect();
    libtest_mimic::run(&args, trials).exit_code()
}

/// The positional filters, and the other arguments (the program's name
/// first). Options that take a value are those libtest-mimic knows.
fn split_filters(args: impl Iterator<Item = String>) -> (Vec<String>, Vec<String>) {
    const VALUED: [&str; 5] = [
        "--test-threads",
        "--logfile",
        "--skip",
        "--color",
        "--format",
    ];
    let mut filters = Vec::new();
    let mut rest = Vec::new();
    let mut args = args.peekable();
    rest.extend(args.next());
    while let Some(a) = args.next() {
        if VALUED.contains(&a.as_str()) {
            rest.push(a);
            rest.extend(args.next());
        } else if a.starts_with('-') {
            rest.push(a);
        } else {
            filters.push(a);
        }
    }
    (filters, rest)
}
