//! Auth nonces from the OS random generator, fetched in batches so that a
//! handshake storm does not cost one `getrandom` syscall per connection.

/// Nonces per refill.
const BATCH: usize = 256;

/// A source of 20-byte nonces.
#[derive(Debug)]
pub struct NonceSource {
    buf: Vec<u8>,
    pos: usize,
}

impl Default for NonceSource {
    fn default() -> Self {
        NonceSource {
            buf: vec![0; BATCH * 20],
            pos: BATCH * 20,
        }
    }
}

impl NonceSource {
    /// The next nonce. Bytes are in 1..=127 and never '$': libmysql reads the
    /// second part of the greeting's nonce as a C string, and MySQL's own salt
    /// generator keeps to the same range.
    pub fn next_nonce(&mut self) -> [u8; 20] {
        if self.pos + 20 > self.buf.len() {
            if let Err(e) = getrandom::getrandom(&mut self.buf) {
                // Not expected on Linux; fall back to time-derived bytes rather than die.
                log::warn!("getrandom failed ({e}); nonces are weak");
                let t = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or(0);
                for (i, b) in self.buf.iter_mut().enumerate() {
                    *b = (t >> (i % 16 * 8)) as u8 ^ i as u8;
                }
            }
            self.pos = 0;
        }
        let mut n = [0u8; 20];
        for (d, s) in n.iter_mut().zip(&self.buf[self.pos..self.pos + 20]) {
            let mut b = s & 0x7f;
            if b == 0 || b == b'$' {
                b += 1;
            }
            *d = b;
        }
        self.pos += 20;
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_differ_and_have_no_nul() {
        let mut s = NonceSource::default();
        let a = s.next_nonce();
        let b = s.next_nonce();
        assert_ne!(a, b);
        for _ in 0..1000 {
            assert!(s
                .next_nonce()
                .iter()
                .all(|&c| c != 0 && c != b'$' && c < 128));
        }
    }
}
