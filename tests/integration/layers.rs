//! The layering of `src/` (issue 20): every module imports only modules of
//! lower layers, as the table in `src/lib.rs`'s module map says. Reads each
//! module's files and every `crate::` path in their code (not comments),
//! `use crate::{a::.., b::..}` groups included, so an upward or circular
//! import fails here with its file and line.

use std::collections::BTreeMap;
use std::path::Path;

use crate::support::root;

/// The layer table from `src/lib.rs`: `//! | N | `a`, `b` |` rows.
fn layer_table(lib_rs: &str) -> BTreeMap<String, u32> {
    let mut layers = BTreeMap::new();
    for line in lib_rs.lines() {
        let Some(row) = line.strip_prefix("//! |") else {
            continue;
        };
        let mut cells = row.split('|').map(str::trim);
        let Some(Ok(layer)) = cells.next().map(str::parse::<u32>) else {
            continue;
        };
        for name in cells.next().unwrap_or("").split(',') {
            let name = name.trim().trim_matches('`');
            assert!(!name.is_empty(), "empty module name in row {line:?}");
            assert!(
                layers.insert(name.to_string(), layer).is_none(),
                "{name} twice in the layer table"
            );
        }
    }
    layers
}

/// The top-level modules `lib.rs` declares.
fn declared_modules(lib_rs: &str) -> Vec<String> {
    lib_rs
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod "))
        .filter_map(|l| l.strip_suffix(';'))
        .map(str::to_string)
        .collect()
}

/// The top-level modules named by `crate::` paths in `code`, with the line
/// of each. Comment lines are left out; a `crate::{..}` group names each
/// module in it.
fn crate_paths(code: &str) -> Vec<(usize, String)> {
    let text: String = code
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("//") {
                ""
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = Vec::new();
    let mut rest = text.as_str();
    let mut offset = 0;
    while let Some(at) = rest.find("crate::") {
        let start = offset + at + "crate::".len();
        let line = text[..start].matches('\n').count() + 1;
        let after = &text[start..];
        // `tls_audit::crate::` cannot occur; a preceding identifier
        // character would make this another word (`$crate::` in macros
        // names this crate too and is counted).
        if let Some(group) = after.strip_prefix('{') {
            let mut depth = 1;
            let mut end = 0;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    _ => {}
                }
                if depth == 0 {
                    end = i;
                    break;
                }
            }
            let mut depth = 0;
            let mut item = String::new();
            for c in group[..end].chars().chain(std::iter::once(',')) {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        let name = first_ident(item.trim());
                        if !name.is_empty() && name != "self" {
                            out.push((line, name));
                        }
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
        } else {
            out.push((line, first_ident(after)));
        }
        offset = start;
        rest = &text[start..];
    }
    out
}

fn first_ident(s: &str) -> String {
    s.chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

/// Every `.rs` file of a top-level module: `src/NAME.rs` or `src/NAME/**`.
fn module_files(src: &Path, name: &str) -> Vec<std::path::PathBuf> {
    let single = src.join(format!("{name}.rs"));
    if single.is_file() {
        return vec![single];
    }
    let mut out = Vec::new();
    let mut dirs = vec![src.join(name)];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let p = e.expect("dir entry").path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The imports of `module` (its file `file` holding `code`) that break the
/// table: to an unknown module, its own layer or above.
fn violations(layers: &BTreeMap<String, u32>, module: &str, file: &str, code: &str) -> Vec<String> {
    let own = layers[module];
    crate_paths(code)
        .into_iter()
        .filter(|(_, target)| target != module)
        .filter_map(|(line, target)| match layers.get(&target) {
            None => Some(format!(
                "{file}:{line}: crate::{target}: not a module in the layer table"
            )),
            Some(&l) if l >= own => Some(format!(
                "{file}:{line}: {module} (layer {own}) imports {target} (layer {l})"
            )),
            Some(_) => None,
        })
        .collect()
}

fn no_module_imports_its_own_layer_or_above() {
    let src = root().join("src");
    let lib_rs = std::fs::read_to_string(src.join("lib.rs")).expect("src/lib.rs");
    let layers = layer_table(&lib_rs);
    let declared = declared_modules(&lib_rs);
    let mut declared_sorted = declared.clone();
    declared_sorted.sort();
    assert_eq!(
        layers.keys().cloned().collect::<Vec<_>>(),
        declared_sorted,
        "the layer table in src/lib.rs must name every module lib.rs declares, once"
    );

    let mut problems = Vec::new();
    let mut edges = 0;
    for module in &declared {
        for path in module_files(&src, module) {
            let code = std::fs::read_to_string(&path).expect("source file");
            let file = path
                .strip_prefix(root())
                .unwrap_or(&path)
                .display()
                .to_string();
            edges += crate_paths(&code)
                .iter()
                .filter(|(_, t)| t != module)
                .count();
            problems.extend(violations(&layers, module, &file, &code));
        }
    }
    assert!(
        edges > 100,
        "only {edges} crate:: paths between modules found: is the scan reading src/?"
    );
    assert!(
        problems.is_empty(),
        "imports against the layer table in src/lib.rs:\n{}",
        problems.join("\n")
    );
}

fn the_check_catches_upward_and_grouped_imports() {
    let layers = layer_table(
        "//! | layer | modules |\n//! |---|---|\n//! | 0 | `model` |\n//! | 1 | `verify`, `compliance` |\n//! | 2 | `cli` |\n",
    );
    assert_eq!(layers.len(), 4);
    let code = "//! use crate::cli in a comment does not count\n\
                use crate::model::Report;\n\
                use crate::{\n    compliance::Status,\n    cli::{self, exit},\n};\n\
                fn f() { crate::verify::gate(); }\n";
    assert_eq!(
        crate_paths(code),
        [
            (2, "model".to_string()),
            (3, "compliance".to_string()),
            (3, "cli".to_string()),
            (7, "verify".to_string()),
        ]
    );
    assert_eq!(
        violations(&layers, "verify", "v.rs", code),
        [
            "v.rs:3: verify (layer 1) imports compliance (layer 1)",
            "v.rs:3: verify (layer 1) imports cli (layer 2)",
        ]
    );
    assert!(violations(&layers, "cli", "c.rs", code).is_empty());
    assert_eq!(
        violations(&layers, "model", "m.rs", "use crate::nowhere::X;"),
        ["m.rs:1: crate::nowhere: not a module in the layer table"]
    );
}

/// The integration binary has its own harness (`runner.rs`): a function
/// marked `#[test]` there would be compiled out and never run, silently.
/// Each test is a plain function listed in its module's `tests()` (an
/// unlisted one is dead code, which clippy refuses).
fn integration_tests_are_listed_not_attributed() {
    let mut found = Vec::new();
    let mut stack = vec![root().join("tests/integration")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let text = std::fs::read_to_string(&p).unwrap();
                for (n, line) in text.lines().enumerate() {
                    let t = line.trim_start();
                    if t.starts_with("#[test]") || t.starts_with("#[tokio::test") {
                        found.push(format!("{}:{}", p.display(), n + 1));
                    }
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "attributed tests that would never run: {found:?}"
    );
}

/// This module's tests, as the harness lists them (`main.rs`).
pub(crate) fn tests() -> Vec<crate::runner::Test> {
    use crate::runner::Test;
    vec![
        Test::new(
            module_path!(),
            "integration_tests_are_listed_not_attributed",
            integration_tests_are_listed_not_attributed,
        ),
        Test::new(
            module_path!(),
            "no_module_imports_its_own_layer_or_above",
            no_module_imports_its_own_layer_or_above,
        ),
        Test::new(
            module_path!(),
            "the_check_catches_upward_and_grouped_imports",
            the_check_catches_upward_and_grouped_imports,
        ),
    ]
}
