//! JSON text a terminal cannot be tricked by. serde_json writes every
//! character other than `"`, `\` and C0 controls raw, so a certificate
//! subject or SNI carrying U+202E (right-to-left override) or U+009B (the
//! C1 control sequence introducer) reaches `cat report.json` as is and can
//! reorder or hide what a reader sees. The JSON written here escapes them
//! as `\uXXXX`: the same JSON value, plain ASCII on the screen. Outside
//! strings, JSON text is ASCII (numbers, literals, punctuation), so any such
//! character serde_json wrote is inside a string and its escape is valid
//! there (RFC 8259 section 7).

use std::borrow::Cow;

/// Whether a character is one that is escaped: C1 controls (U+0080 to
/// U+009F) and the bidirectional formatting characters the human formats
/// neutralise too (U+061C, U+200E/F, U+202A to U+202E, U+2066 to U+2069;
/// Unicode Standard Annex 9).
pub fn is_invisible_control(c: char) -> bool {
    matches!(c, '\u{80}'..='\u{9f}') || super::table::is_bidi_control(c)
}

/// `json` with every such character written as `\uXXXX` (borrowed when it
/// holds none, which is the usual case). `json` must be JSON text as
/// serde_json writes it.
pub fn escape_json_controls(json: &[u8]) -> Cow<'_, [u8]> {
    if !may_hold_controls(json) {
        return Cow::Borrowed(json);
    }
    let Ok(text) = std::str::from_utf8(json) else {
        return Cow::Borrowed(json);
    };
    let mut out = String::with_capacity(json.len() + 16);
    for c in text.chars() {
        if is_invisible_control(c) {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out.into_bytes())
}

/// Whether `json` has a byte that starts an escaped character's UTF-8
/// (0xc2, 0xd8 or 0xe2). Every flow record's JSON is scanned, and most
/// hold no byte of 0x80 or above at all: the whole text is OR-ed together
/// first (a loop the compiler vectorises, twice as fast as doing so 32
/// bytes at a time), and only when that finds such a byte are blocks of 32
/// searched for the three.
fn may_hold_controls(json: &[u8]) -> bool {
    json.iter().fold(0, |all, &b| all | b) >= 0x80
        && json.chunks(32).any(|block| {
            block.iter().fold(0, |all, &b| all | b) >= 0x80
                && block.iter().any(|&b| matches!(b, 0xc2 | 0xd8 | 0xe2))
        })
}

/// [`escape_json_controls`] for a `String`.
pub fn escape_json_string(json: String) -> String {
    match escape_json_controls(json.as_bytes()) {
        Cow::Borrowed(_) => json,
        Cow::Owned(bytes) => String::from_utf8(bytes).unwrap_or(json),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn bidi_and_c1_are_escaped_and_the_value_is_unchanged() {
        let value = json!({"subject": "CN=admin\u{202e}gpj.exe", "sni": "a\u{9b}31mb",
            "marks": "\u{61c}\u{200e}\u{200f}\u{202a}\u{2066}\u{2069}", "ok": "é 中 \u{a0}"});
        let raw = serde_json::to_string(&value).unwrap();
        assert!(
            raw.contains('\u{202e}') && raw.contains('\u{9b}'),
            "serde_json writes them raw"
        );
        let safe = escape_json_string(raw);
        assert!(!safe.chars().any(is_invisible_control), "{safe}");
        assert!(safe.contains("\\u202e") && safe.contains("\\u009b") && safe.contains("\\u061c"));
        // Other non-ASCII text stays as it was.
        assert!(safe.contains("é 中 \u{a0}"));
        let back: Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back, value);
    }

    #[test]
    fn plain_json_is_borrowed() {
        let raw = br#"{"a":"b","c":[1,2]}"#;
        assert!(matches!(escape_json_controls(raw), Cow::Borrowed(_)));
        // Other non-ASCII text, in any block, is left as it is.
        let text = format!("{{\"a\":\"{}é中\"}}", "x".repeat(40));
        assert!(matches!(
            escape_json_controls(text.as_bytes()),
            Cow::Borrowed(_)
        ));
    }

    /// A control is found wherever it falls against the 32-byte blocks.
    #[test]
    fn controls_are_found_at_every_offset() {
        for pad in 0..70 {
            for c in ['\u{85}', '\u{61c}', '\u{202e}'] {
                let raw = serde_json::to_string(&format!("{}{c}", "a".repeat(pad))).unwrap();
                let safe = escape_json_controls(raw.as_bytes());
                assert!(matches!(safe, Cow::Owned(_)), "{pad} {c:?}");
                assert!(!String::from_utf8_lossy(&safe).contains(c), "{pad} {c:?}");
            }
        }
    }
}
