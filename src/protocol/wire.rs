//! Primitive wire encodings: fixed-width little-endian integers, length-encoded
//! integers and strings, NUL-terminated strings.
//!
//! Decoding goes through [`Reader`], a cursor that never panics: every read is
//! bounds-checked and a short input is `Error::Malformed` naming the field.
//! Encoding appends straight to a `Vec<u8>` (the connection's write buffer), so
//! rows are written without intermediate allocations.

use super::error::{Error, Result};
use byteorder::{ByteOrder, LittleEndian};

/// A bounds-checked cursor over a payload.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// True when everything was read.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The next byte, without consuming it.
    pub fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    /// The next `n` bytes.
    pub fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).ok_or(Error::Malformed(what))?;
        let s = self.buf.get(self.pos..end).ok_or(Error::Malformed(what))?;
        self.pos = end;
        Ok(s)
    }

    /// Everything not read yet.
    pub fn rest(&mut self) -> &'a [u8] {
        let s = self.buf.get(self.pos..).unwrap_or(&[]);
        self.pos = self.buf.len();
        s
    }

    /// Skips `n` bytes.
    pub fn skip(&mut self, n: usize, what: &'static str) -> Result<()> {
        self.bytes(n, what).map(|_| ())
    }

    /// A 1-byte integer.
    pub fn u8(&mut self, what: &'static str) -> Result<u8> {
        Ok(self.bytes(1, what)?[0]) // invariant: bytes(1) returned exactly one byte
    }

    /// A 2-byte little-endian integer.
    pub fn u16(&mut self, what: &'static str) -> Result<u16> {
        Ok(LittleEndian::read_u16(self.bytes(2, what)?))
    }

    /// A 3-byte little-endian integer.
    pub fn u24(&mut self, what: &'static str) -> Result<u32> {
        Ok(LittleEndian::read_u24(self.bytes(3, what)?))
    }

    /// A 4-byte little-endian integer.
    pub fn u32(&mut self, what: &'static str) -> Result<u32> {
        Ok(LittleEndian::read_u32(self.bytes(4, what)?))
    }

    /// An 8-byte little-endian integer.
    pub fn u64(&mut self, what: &'static str) -> Result<u64> {
        Ok(LittleEndian::read_u64(self.bytes(8, what)?))
    }

    /// A length-encoded integer. `Ok(None)` is the NULL marker 0xFB.
    pub fn lenenc_int(&mut self, what: &'static str) -> Result<Option<u64>> {
        match self.u8(what)? {
            n @ 0..=0xfa => Ok(Some(u64::from(n))),
            0xfb => Ok(None),
            0xfc => Ok(Some(u64::from(self.u16(what)?))),
            0xfd => Ok(Some(u64::from(self.u24(what)?))),
            0xfe => Ok(Some(self.u64(what)?)),
            // 0xff is an ERR packet header, never a length.
            _ => Err(Error::Malformed(what)),
        }
    }

    /// A length-encoded string; NULL (0xFB) is `None`.
    pub fn lenenc_bytes(&mut self, what: &'static str) -> Result<Option<&'a [u8]>> {
        match self.lenenc_int(what)? {
            None => Ok(None),
            Some(n) => {
                let n = usize::try_from(n).map_err(|_| Error::Malformed(what))?;
                self.bytes(n, what).map(Some)
            }
        }
    }

    /// A length-encoded string where NULL is not allowed.
    pub fn lenenc_str(&mut self, what: &'static str) -> Result<&'a [u8]> {
        self.lenenc_bytes(what)?.ok_or(Error::Malformed(what))
    }

    /// A NUL-terminated string (the NUL is consumed, not returned).
    pub fn nul_str(&mut self, what: &'static str) -> Result<&'a [u8]> {
        let rest = self.buf.get(self.pos..).ok_or(Error::Malformed(what))?;
        let n = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or(Error::Malformed(what))?;
        let s = &rest[..n]; // invariant: n < rest.len() from position()
        self.pos += n + 1;
        Ok(s)
    }

    /// A NUL-terminated string, or the rest of the payload when no NUL follows
    /// (several clients omit the final NUL of the last field).
    pub fn nul_str_or_rest(&mut self, what: &'static str) -> Result<&'a [u8]> {
        let rest = self.buf.get(self.pos..).ok_or(Error::Malformed(what))?;
        match rest.iter().position(|&b| b == 0) {
            Some(_) => self.nul_str(what),
            None => Ok(self.rest()),
        }
    }
}

/// Appends a 2-byte little-endian integer.
#[inline]
pub fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Appends a 3-byte little-endian integer (the low 24 bits of `v`).
#[inline]
pub fn put_u24(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes()[..3]); // invariant: a u32 has 4 bytes
}

/// Appends a 4-byte little-endian integer.
#[inline]
pub fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Appends an 8-byte little-endian integer.
#[inline]
pub fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Appends a length-encoded integer in its shortest form.
#[inline]
pub fn put_lenenc_int(out: &mut Vec<u8>, v: u64) {
    match v {
        0..=0xfa => out.push(v as u8),
        0xfb..=0xffff => {
            out.push(0xfc);
            put_u16(out, v as u16);
        }
        0x1_0000..=0xff_ffff => {
            out.push(0xfd);
            put_u24(out, v as u32);
        }
        _ => {
            out.push(0xfe);
            put_u64(out, v);
        }
    }
}

/// Appends a length-encoded string.
#[inline]
pub fn put_lenenc_str(out: &mut Vec<u8>, s: &[u8]) {
    put_lenenc_int(out, s.len() as u64);
    out.extend_from_slice(s);
}

/// Appends a NUL-terminated string.
#[inline]
pub fn put_nul_str(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(s);
    out.push(0);
}

/// How many bytes `put_lenenc_int(v)` writes.
pub fn lenenc_int_len(v: u64) -> usize {
    match v {
        0..=0xfa => 1,
        0xfb..=0xffff => 3,
        0x1_0000..=0xff_ffff => 4,
        _ => 9,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenenc_int_boundaries_round_trip() {
        for v in [
            0u64,
            1,
            250,
            251,
            252,
            0xffff,
            0x1_0000,
            0xff_ffff,
            0x100_0000,
            u64::MAX,
        ] {
            let mut out = Vec::new();
            put_lenenc_int(&mut out, v);
            assert_eq!(out.len(), lenenc_int_len(v), "len of {v}");
            let mut r = Reader::new(&out);
            assert_eq!(r.lenenc_int("v").expect("test vector"), Some(v));
            assert!(r.is_empty());
        }
    }

    #[test]
    fn lenenc_int_vectors_from_the_docs() {
        // Protocol::LengthEncodedInteger examples: 0xfa, 0xfc fb 00, 0xfd 00 00 01.
        assert_eq!(
            Reader::new(&[0xfa]).lenenc_int("x").expect("test vector"),
            Some(250)
        );
        assert_eq!(
            Reader::new(&[0xfc, 0xfb, 0x00])
                .lenenc_int("x")
                .expect("test vector"),
            Some(251)
        );
        assert_eq!(
            Reader::new(&[0xfd, 0x00, 0x00, 0x01])
                .lenenc_int("x")
                .expect("test vector"),
            Some(65536)
        );
        assert_eq!(
            Reader::new(&[0xfb]).lenenc_int("x").expect("test vector"),
            None
        );
        assert!(Reader::new(&[0xff]).lenenc_int("x").is_err());
        assert!(Reader::new(&[0xfc, 0x01]).lenenc_int("x").is_err());
    }

    #[test]
    fn nul_str_needs_terminator() {
        let mut r = Reader::new(b"abc\0def");
        assert_eq!(r.nul_str("a").expect("test vector"), b"abc");
        assert!(r.clone().nul_str("b").is_err());
        assert_eq!(r.nul_str_or_rest("b").expect("test vector"), b"def");
        assert!(r.is_empty());
    }

    #[test]
    fn huge_lenenc_string_length_is_an_error_not_a_panic() {
        let mut r = Reader::new(&[0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1]);
        assert!(r.lenenc_bytes("s").is_err());
    }
}
