//! Lower-case hex, the one encoder every layer uses (certificate digests,
//! capture magic numbers, report digests). It sits below everything and
//! imports nothing.

/// Lowercase hex of `bytes`.
// Proven: `b >> 4` and `b & 0x0f` are below 16, the length of DIGITS.
#[allow(clippy::indexing_slicing)]
pub fn lower(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len().saturating_mul(2));
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn lower_hex() {
        assert_eq!(super::lower(&[]), "");
        assert_eq!(super::lower(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
    }
}
