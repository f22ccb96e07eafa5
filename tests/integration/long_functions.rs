//! Function length in `src/` (issue 20): no non-test function is longer
//! than [`LIMIT`] lines, so each one can be read at once. Reads every
//! `src/**/*.rs` file (test files and `#[cfg(test)]` items left out),
//! finds each `fn` with a body and counts its lines from the `fn` line to
//! the closing brace. A longer one that must stay for a while is listed
//! in [`ALLOWED`] with its length (none today), and the list can only
//! shrink: a new long function, or a listed one that grew, fails here with
//! its file, name and length; a listed one that got short enough fails too,
//! until its entry is removed.

use std::path::{Path, PathBuf};

use crate::support::root;

/// The most lines a function may have, signature and closing brace
/// included.
const LIMIT: usize = 80;

/// Functions over [`LIMIT`] today, each with its length: (file under
/// `src/`, function name, lines). They may get shorter, never longer.
/// Empty since the last three were split (2026-12-05): every non-test
/// function is within the limit.
const ALLOWED: &[(&str, &str, usize)] = &[];

/// `code` with comments, string and character literals blanked to spaces
/// (newlines kept), so braces and keywords in them are not counted.
fn blank_literals(code: &str) -> String {
    let chars: Vec<char> = code.chars().collect();
    let mut out = String::with_capacity(code.len());
    let blank = |out: &mut String, c: char| out.push(if c == '\n' { '\n' } else { ' ' });
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let prev_ident = i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                blank(&mut out, chars[i]);
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            loop {
                if i >= chars.len() {
                    break;
                }
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    blank(&mut out, '/');
                    blank(&mut out, '*');
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    blank(&mut out, '*');
                    blank(&mut out, '/');
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    blank(&mut out, chars[i]);
                    i += 1;
                }
            }
        } else if !prev_ident && (c == 'r' || (c == 'b' && next == Some('r'))) && {
            // A raw string: r"..", r#".."#, br"..".
            let start = if c == 'b' { i + 2 } else { i + 1 };
            let hashes = chars[start.min(chars.len())..]
                .iter()
                .take_while(|&&h| h == '#')
                .count();
            chars.get(start + hashes) == Some(&'"')
        } {
            let start = if c == 'b' { i + 2 } else { i + 1 };
            let hashes = chars[start..].iter().take_while(|&&h| h == '#').count();
            let mut j = start + hashes + 1;
            loop {
                if j >= chars.len() {
                    break;
                }
                if chars[j] == '"'
                    && chars[j + 1..]
                        .iter()
                        .take(hashes)
                        .filter(|&&h| h == '#')
                        .count()
                        == hashes
                {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            for &x in &chars[i..j.min(chars.len())] {
                blank(&mut out, x);
            }
            i = j;
        } else if c == '"' {
            blank(&mut out, c);
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    blank(&mut out, chars[i]);
                    i += 1;
                }
                if i < chars.len() {
                    blank(&mut out, chars[i]);
                    i += 1;
                }
            }
            if i < chars.len() {
                blank(&mut out, chars[i]);
                i += 1;
            }
        } else if c == '\''
            && (next == Some('\\') || (next.is_some() && chars.get(i + 2) == Some(&'\'')))
        {
            // A character literal ('x', '\n', '\u{..}'), not a lifetime.
            blank(&mut out, c);
            i += 1;
            if chars.get(i) == Some(&'\\') {
                // The escaped character, whatever it is ('\'' too).
                blank(&mut out, '\\');
                i += 1;
                if i < chars.len() {
                    blank(&mut out, chars[i]);
                    i += 1;
                }
            }
            while i < chars.len() && chars[i] != '\'' {
                blank(&mut out, chars[i]);
                i += 1;
            }
            if i < chars.len() {
                blank(&mut out, chars[i]);
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// From byte `from` of blanked `code`, the end of the item that starts
/// there: the byte index of its body's closing brace, or `None` when a
/// `;` ends it first (no body). Brackets and parentheses are skipped, so
/// `[u8; 4]` in a signature is not the end.
fn item_end(code: &str, from: usize) -> Option<usize> {
    let bytes = code.as_bytes();
    let mut nesting = 0i32;
    let mut i = from;
    while i < bytes.len() {
        match bytes[i] {
            b'(' | b'[' => nesting += 1,
            b')' | b']' => nesting -= 1,
            b';' if nesting == 0 => return None,
            b'{' if nesting == 0 => {
                let mut depth = 0i32;
                for (j, &b) in bytes.iter().enumerate().skip(i) {
                    match b {
                        b'{' => depth += 1,
                        b'}' => {
                            depth -= 1;
                            if depth == 0 {
                                return Some(j);
                            }
                        }
                        _ => {}
                    }
                }
                return None;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Each function with a body in `code` outside `#[cfg(test)]` items:
/// (name, lines from its `fn` line to its closing brace).
fn function_lengths(code: &str) -> Vec<(String, usize)> {
    let text = blank_literals(code);
    let bytes = text.as_bytes();
    let line_of = |at: usize| text[..at].matches('\n').count();
    // Byte ranges of `#[cfg(test)]` items.
    let mut test_items = Vec::new();
    let mut from = 0;
    while let Some(at) = text[from..].find("#[cfg(test)]") {
        let start = from + at;
        let after = start + "#[cfg(test)]".len();
        if let Some(end) = item_end(&text, after) {
            test_items.push(start..end);
        }
        from = after;
    }
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = text[from..].find("fn") {
        let start = from + at;
        from = start + 2;
        if (start > 0 && is_ident(bytes[start - 1]))
            || !bytes.get(start + 2).is_some_and(u8::is_ascii_whitespace)
        {
            continue;
        }
        let name: String = text[start + 2..]
            .trim_start()
            .bytes()
            .take_while(|&b| is_ident(b))
            .map(char::from)
            .collect();
        if name.is_empty() || test_items.iter().any(|r| r.contains(&start)) {
            continue;
        }
        if let Some(end) = item_end(&text, start) {
            out.push((name, line_of(end) - line_of(start) + 1));
        }
    }
    out
}

/// Whether `path` (under `src/`) holds tests only: a `tests.rs` or
/// `*_tests.rs` file, or one in a `tests/` directory.
fn is_test_file(path: &Path) -> bool {
    path.components().any(|c| c.as_os_str() == "tests")
        || path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n == "tests.rs" || n.ends_with("_tests.rs"))
}

/// Every non-test `.rs` file under `src/`, relative to it, sorted.
fn source_files() -> Vec<PathBuf> {
    let src = root().join("src");
    let mut out = Vec::new();
    let mut dirs = vec![src.clone()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let rel = p.strip_prefix(&src).unwrap().to_path_buf();
                if !is_test_file(&rel) {
                    out.push(rel);
                }
            }
        }
    }
    out.sort();
    out
}

/// Every non-test function in `src/` over [`LIMIT`] lines: (file, name,
/// lines), longest first.
fn long_functions() -> Vec<(String, String, usize)> {
    let src = root().join("src");
    let mut out = Vec::new();
    for rel in source_files() {
        let code = std::fs::read_to_string(src.join(&rel)).unwrap();
        for (name, lines) in function_lengths(&code) {
            if lines > LIMIT {
                out.push((rel.display().to_string(), name, lines));
            }
        }
    }
    out.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.cmp(b)));
    out
}

fn no_function_is_longer_than_the_limit() {
    assert!(
        source_files().len() > 100,
        "too few source files: is the scan reading src/?"
    );
    let found = long_functions();
    let mut problems = Vec::new();
    for (file, name, lines) in &found {
        match ALLOWED.iter().find(|(f, n, _)| f == file && n == name) {
            None => problems.push(format!(
                "src/{file}: fn {name} has {lines} lines (at most {LIMIT}): split it into named steps"
            )),
            Some(&(_, _, allowed)) if *lines > allowed => problems.push(format!(
                "src/{file}: fn {name} grew to {lines} lines (allowed {allowed}, at most {LIMIT} for new code)"
            )),
            Some(&(_, _, allowed)) if *lines < allowed => problems.push(format!(
                "src/{file}: fn {name} shrank to {lines} lines: lower its entry in ALLOWED from {allowed}"
            )),
            Some(_) => {}
        }
    }
    for (file, name, allowed) in ALLOWED {
        if !found.iter().any(|(f, n, _)| f == file && n == name) {
            problems.push(format!(
                "src/{file}: fn {name} (allowed {allowed}) is now at most {LIMIT} lines or gone: remove its entry from ALLOWED"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "function length (tests/integration/long_functions.rs):\n{}",
        problems.join("\n")
    );
}

fn the_counter_skips_literals_comments_and_tests() {
    let code = "fn short() {\n    let s = \"}\";\n    let c = '}';\n    // }\n}\n\
                fn long<'a>(x: &'a [u8; 4]) -> usize\nwhere\n    u8: Copy,\n{\n    /* { */\n    let r = r#\"}\"#;\n    x.len()\n}\n\
                trait T {\n    fn declared(&self);\n    fn provided(&self) {}\n}\n\
                #[cfg(test)]\nmod tests {\n    fn helper() {\n    }\n}\n\
                #[cfg(test)]\nfn only_in_tests() {}\n\
                fn pointer(f: fn(u8) -> u8) -> u8 { f(1) }\n\
                fn quote() -> [char; 2] {\n    ['\\'', '{']\n}\n";
    assert_eq!(
        function_lengths(code),
        [
            ("short".to_string(), 5),
            ("long".to_string(), 8),
            ("provided".to_string(), 1),
            ("pointer".to_string(), 1),
            ("quote".to_string(), 3),
        ]
    );
    assert!(is_test_file(Path::new("tls/session/decryption_tests.rs")));
    assert!(is_test_file(Path::new("x509/tests/crafted.rs")));
    assert!(!is_test_file(Path::new("tls/session.rs")));
}

/// This module's tests, as the harness lists them (`main.rs`).
pub(crate) fn tests() -> Vec<crate::runner::Test> {
    use crate::runner::Test;
    vec![
        Test::new(
            module_path!(),
            "no_function_is_longer_than_the_limit",
            no_function_is_longer_than_the_limit,
        ),
        Test::new(
            module_path!(),
            "the_counter_skips_literals_comments_and_tests",
            the_counter_skips_literals_comments_and_tests,
        ),
    ]
}
