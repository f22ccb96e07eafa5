//! The one way anything enters the HTML page: [`Html`], a string of markup
//! that only this file can write to. Markup comes from `&'static str` (the
//! literals of the `html!` macro, and the page's own style and script),
//! or from another [`Html`]; everything else goes through [`Render`], which
//! escapes text (control and bidirectional characters made visible, then
//! `& < > " '` as entities, the same in text and in attribute values) and
//! writes numbers as they are. A `String` from a report cannot become markup
//! without being escaped: there is no method that takes one, and the
//! buffer inside [`Html`] is private here. Forgetting to escape is a
//! compile error, not an injection (maud's `Render`/`PreEscaped` split, with
//! no public way to wrap a `String` as pre-escaped).
//!
//! ```text
//! html!(out; "<td class=\"num\">" (n) "</td><td>" (subject) "</td>");
//! //          literal: markup     number  literal  text: escaped
//! out.raw(&subject);    // error[E0597]: `subject` does not live long enough
//! html!(out; subject);  // error: no rules expected `subject`
//! ```
//!
//! The test `the_compiler_refuses_unescaped_markup` compiles such misuses
//! against this very file with rustc and checks that each is refused, with
//! the error it should be refused with, and that the right use compiles in
//! the same harness. (A `compile_fail` doctest cannot do it: the module is
//! private, so a doctest would fail to compile for that reason alone.)
//!
//! Limits, on purpose: `raw` takes any `&'static str`, so a string leaked
//! with `Box::leak` would pass; that is not a mistake anyone makes by
//! forgetting. The flow table's data is the one other way in:
//! [`json_island`], JSON text in which nothing can close its
//! `<script type="application/json">` (for that element only: it leaves
//! quotes as they are).
//!
//! Not maud or askama: their escapers do not make control and
//! bidirectional characters visible (and maud's leaves `'` as it is), so
//! the page would change, and maud's `PreEscaped` has a public field that
//! wraps any `String`; the type here is a few dozen lines.

use std::fmt::Write;

/// Markup: a page, or a piece of one. Written only by this module.
#[derive(Debug, Default)]
pub struct Html(String);

/// A value that can be written into markup: text is escaped, numbers are
/// written as they are, [`Html`] is appended unchanged.
pub trait Render {
    /// Append `self` to `out`.
    fn render_to(&self, out: &mut Html);
}

impl Html {
    /// Empty markup.
    pub fn new() -> Self {
        Html(String::new())
    }

    /// Empty markup with room for `n` bytes.
    pub fn with_capacity(n: usize) -> Self {
        Html(String::with_capacity(n))
    }

    /// Markup from a literal (or the page's own style and script): never
    /// text from a report, which is not `'static`.
    pub fn raw(&mut self, markup: &'static str) -> &mut Self {
        self.0.push_str(markup);
        self
    }

    /// Append `value`: escaped if it is text.
    pub fn render<T: Render + ?Sized>(&mut self, value: &T) -> &mut Self {
        value.render_to(self);
        self
    }

    /// The pieces with `sep` (markup) between them.
    pub fn join(pieces: impl IntoIterator<Item = Html>, sep: &'static str) -> Html {
        let mut out = Html::new();
        for (i, p) in pieces.into_iter().enumerate() {
            if i > 0 {
                out.raw(sep);
            }
            out.render(&p);
        }
        out
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The finished page.
    pub fn into_string(self) -> String {
        self.0
    }

    /// Text escaped: control and bidirectional characters as visible
    /// escapes (as in the terminal table), then `&`, `<`, `>`, `"` and `'`
    /// as entities.
    fn escape(&mut self, text: &str) {
        for c in super::sanitize(text).chars() {
            match c {
                '&' => self.0.push_str("&amp;"),
                '<' => self.0.push_str("&lt;"),
                '>' => self.0.push_str("&gt;"),
                '"' => self.0.push_str("&quot;"),
                '\'' => self.0.push_str("&#39;"),
                c => self.0.push(c),
            }
        }
    }
}

/// Write markup: string literals are markup, `(expr)` is [`Render`]ed
/// (text escaped, numbers as they are, [`Html`] unchanged). `out` is a
/// `&mut Html`.
macro_rules! html {
    (@ $out:ident $lit:literal) => {
        $out.raw($lit);
    };
    (@ $out:ident ($e:expr)) => {
        $out.render(&$e);
    };
    ($out:expr; $($part:tt)*) => {{
        let out = &mut *$out;
        $( html!(@ out $part); )*
    }};
}
pub(crate) use html;

impl Render for str {
    fn render_to(&self, out: &mut Html) {
        out.escape(self);
    }
}

impl Render for String {
    fn render_to(&self, out: &mut Html) {
        out.escape(self);
    }
}

impl<T: Render + ?Sized> Render for &T {
    fn render_to(&self, out: &mut Html) {
        (**self).render_to(out);
    }
}

impl Render for Html {
    fn render_to(&self, out: &mut Html) {
        out.0.push_str(&self.0);
    }
}

/// Numbers, in their `Display` form (digits, `-`, `.`: nothing to escape).
macro_rules! render_numbers {
    ($($t:ty),*) => {$(
        impl Render for $t {
            fn render_to(&self, out: &mut Html) {
                let _ = write!(out.0, "{self}");
            }
        }
    )*};
}
render_numbers!(u8, u16, u32, u64, usize, i32, i64, f64);

/// A number with a fixed count of decimals (`Fixed(3.14159, 1)` is `3.1`).
pub struct Fixed(pub f64, pub usize);

impl Render for Fixed {
    fn render_to(&self, out: &mut Html) {
        let _ = write!(out.0, "{:.*}", self.1, self.0);
    }
}

/// JSON text (serde_json's) as the content of a `<script
/// type="application/json">` island: `<`, `>` and `&` become `\u` escapes,
/// so nothing in it can close the element or start a comment, and line
/// separators are escaped. The same JSON value; for that element only.
pub fn json_island(json: &str) -> Html {
    let mut out = String::with_capacity(json.len() + 64);
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    Html(out)
}

#[cfg(test)]
mod tests {
    use super::{Fixed, Html, json_island};

    const HOSTILE: &str = "\"><script>alert('x')</script>&\u{1b}[31m\n\u{202e}\u{2028}";
    const ESCAPED: &str = "&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;\\u{1b}[31m\\n\\u{202e}\u{2028}";

    #[test]
    fn text_is_escaped_in_text_and_attributes() {
        let mut out = Html::new();
        let dynamic = HOSTILE.to_string();
        html!(&mut out; "<a title=\"" (dynamic) "\">" (HOSTILE) "</a>");
        assert_eq!(
            out.into_string(),
            format!("<a title=\"{ESCAPED}\">{ESCAPED}</a>")
        );
        let mut plain = Html::new();
        html!(&mut plain; ("api.pay.svc"));
        assert_eq!(plain.into_string(), "api.pay.svc");
    }

    #[test]
    fn numbers_as_they_are_and_markup_unchanged() {
        let mut inner = Html::new();
        html!(&mut inner; "<b>" ("<i>") "</b>");
        let mut out = Html::new();
        html!(&mut out; (42u64) " " (-7i64) " " (386.0f64) " " (Fixed(2.0 / 3.0, 1)) " " (inner));
        assert_eq!(out.into_string(), "42 -7 386 0.7 <b>&lt;i&gt;</b>");
        let joined = Html::join(
            ["a<", "b"].map(|t| {
                let mut h = Html::new();
                html!(&mut h; (t));
                h
            }),
            "<br>",
        );
        assert_eq!(joined.into_string(), "a&lt;<br>b");
    }

    #[test]
    fn json_island_cannot_close_its_script() {
        let v = serde_json::json!([
            "</script><script>alert(1)</script><!--",
            "a\u{2028}b\u{2029}&"
        ]);
        let s = json_island(&serde_json::to_string(&v).unwrap()).into_string();
        assert!(!s.contains('<') && !s.contains('>') && !s.contains('&'));
        assert!(!s.contains('\u{2028}') && !s.contains('\u{2029}'));
        let back: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(back, v);
    }

    /// Compile `body` (statements with `out: Html` and `dynamic: String` in
    /// scope) against this very file with rustc; its exit status and
    /// messages.
    fn compile(name: &str, body: &str) -> (bool, String) {
        let dir =
            std::env::temp_dir().join(format!("tls-audit-markup-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let markup = concat!(env!("CARGO_MANIFEST_DIR"), "/src/report/html/markup.rs");
        let main = format!(
            "#![allow(dead_code, unused)]\n\
             fn sanitize(s: &str) -> String {{ s.to_string() }}\n\
             #[path = {markup:?}]\nmod markup;\nuse markup::{{Html, html}};\n\
             fn main() {{\n let dynamic: String = std::env::args().collect();\n let mut out = Html::new();\n{body}\n}}\n"
        );
        let src = dir.join("main.rs");
        std::fs::write(&src, main).expect("write");
        let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
        let run = std::process::Command::new(rustc)
            .args([
                "--edition",
                "2024",
                "--crate-type",
                "bin",
                "--emit",
                "metadata",
                "-o",
            ])
            .arg(dir.join("out"))
            .arg(&src)
            .output()
            .expect("rustc runs");
        let _ = std::fs::remove_dir_all(&dir);
        (
            run.status.success(),
            String::from_utf8_lossy(&run.stderr).into_owned(),
        )
    }

    /// The guarantee this module exists for: text from a report cannot be
    /// written as markup. Each misuse is refused by the compiler, for the
    /// reason given; the same harness compiles the right use, so a refusal
    /// is not the harness failing.
    #[test]
    fn the_compiler_refuses_unescaped_markup() {
        let (ok, err) = compile(
            "ok",
            "html!(&mut out; \"<td>\" (dynamic) \"</td>\" (1u64)); out.raw(\"<br>\"); let _ = out.into_string();",
        );
        assert!(ok, "the right use compiles: {err}");
        for (name, body, why) in [
            // A borrowed String is not `'static`.
            ("raw-borrowed", "out.raw(&dynamic);", "E0597"),
            // A String is not a `&str` at all.
            ("raw-owned", "out.raw(dynamic);", "E0308"),
            // The buffer is private to the markup module.
            ("field", "out.0.push_str(&dynamic);", "E0616"),
            ("construct", "let h = Html(dynamic);", "E0423"),
            // The macro takes literals and parenthesised values only.
            ("bare", "html!(&mut out; dynamic);", "no rules expected"),
        ] {
            let (ok, err) = compile(name, body);
            assert!(!ok, "{name}: `{body}` compiled");
            assert!(
                err.contains(why),
                "{name}: refused, but not for {why}: {err}"
            );
        }
    }
}
