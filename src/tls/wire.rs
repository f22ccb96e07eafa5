//! A bounds-checked cursor over TLS wire encoding: every read returns
//! `None` instead of panicking when the bytes run out.

/// Cursor over a byte slice.
#[derive(Debug, Clone, Copy)]
pub struct Reader<'a> {
    b: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Start at the beginning of `b`.
    pub fn new(b: &'a [u8]) -> Self {
        Reader { b }
    }

    /// Nothing left.
    pub fn is_empty(&self) -> bool {
        self.b.is_empty()
    }

    /// Take `n` bytes.
    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, tail) = self.b.split_at_checked(n)?;
        self.b = tail;
        Some(head)
    }

    /// Take `N` bytes as an array.
    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, tail) = self.b.split_first_chunk::<N>()?;
        self.b = tail;
        Some(*head)
    }

    /// One byte.
    pub fn u8(&mut self) -> Option<u8> {
        self.array().map(u8::from_be_bytes)
    }

    /// A big-endian u16.
    pub fn u16(&mut self) -> Option<u16> {
        self.array().map(u16::from_be_bytes)
    }

    /// A big-endian u24.
    pub fn u24(&mut self) -> Option<u32> {
        self.array()
            .map(|[b0, b1, b2]| u32::from_be_bytes([0, b0, b1, b2]))
    }

    /// A vector with a 1-byte length.
    pub fn vec8(&mut self) -> Option<&'a [u8]> {
        let n = self.u8()?;
        self.take(usize::from(n))
    }

    /// A vector with a 2-byte length.
    pub fn vec16(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }

    /// A vector with a 3-byte length.
    pub fn vec24(&mut self) -> Option<&'a [u8]> {
        let n = self.u24()?;
        self.take(n as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::Reader;

    #[test]
    fn reads_and_refuses_past_the_end() {
        let mut r = Reader::new(&[0, 2, 7, 8, 1]);
        assert_eq!(r.vec16(), Some(&[7u8, 8][..]));
        assert_eq!(r.vec8(), None);
        let mut r = Reader::new(&[0, 0, 5, 1]);
        assert_eq!(r.vec24(), None);
    }
}
