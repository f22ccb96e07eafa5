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
        if n > self.b.len() {
            return None;
        }
        let (head, tail) = self.b.split_at(n);
        self.b = tail;
        Some(head)
    }

    /// One byte.
    pub fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    /// A big-endian u16.
    pub fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }

    /// A big-endian u24.
    pub fn u24(&mut self) -> Option<u32> {
        self.take(3)
            .map(|b| u32::from_be_bytes([0, b[0], b[1], b[2]]))
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
