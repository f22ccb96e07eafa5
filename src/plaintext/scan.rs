//! Bounds-checked byte helpers shared by the detectors.

/// Does `needle` occur in `data`? A naive scan is enough: inputs are a few KiB
/// and needles a few bytes.
pub(super) fn contains(data: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && data.windows(needle.len()).any(|w| w == needle)
}

/// ASCII case-insensitive [`contains`].
pub(super) fn contains_ci(data: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty()
        && data
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
}

/// The complete lines at the start of `data`, without their LF or CRLF. A
/// final line with no terminator yet is not yielded: it may still grow.
pub(super) fn lines(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    data.split_inclusive(|&b| b == b'\n').map_while(|line| {
        let line = line.strip_suffix(b"\n")?;
        Some(line.strip_suffix(b"\r").unwrap_or(line))
    })
}

/// The first line of `data` (all of it when no terminator has arrived yet).
pub(super) fn first_line(data: &[u8]) -> &[u8] {
    lines(data).next().unwrap_or(data)
}

/// The first space-separated word of `line`.
pub(super) fn first_word(line: &[u8]) -> &[u8] {
    line.split(|&b| b == b' ').next().unwrap_or(line)
}

/// Splits off 1..=`max` leading ASCII digits.
pub(super) fn digits(data: &[u8], max: usize) -> Option<&[u8]> {
    let n = data.iter().take_while(|b| b.is_ascii_digit()).count();
    if n == 0 || n > max {
        return None;
    }
    data.get(n..)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_only_yields_terminated_lines() {
        let got: Vec<&[u8]> = lines(b"EHLO a\r\nrset\nSTART").collect();
        assert_eq!(got, [&b"EHLO a"[..], b"rset"]);
        assert_eq!(first_line(b"220 x\r\n250"), b"220 x");
        assert_eq!(first_line(b"220 x"), b"220 x");
        assert_eq!(lines(b"").count(), 0);
    }

    #[test]
    fn words_digits_and_searches() {
        assert_eq!(first_word(b"AUTH TLS"), b"AUTH");
        assert_eq!(first_word(b""), b"");
        assert_eq!(digits(b"12\r\n", 3), Some(&b"\r\n"[..]));
        assert_eq!(digits(b"1234", 3), None);
        assert_eq!(digits(b"x", 3), None);
        assert!(contains_ci(b"220 (vsFTPd 3.0.5)", b"FTP"));
        assert!(!contains(b"", b""));
    }
}
