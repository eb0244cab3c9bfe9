//! Per-connection leftovers.
//!
//! The event loop reads into one shared scratch buffer and encodes answers into
//! another, so in the common case (a whole command per read, an answer the socket
//! takes at once) a connection touches no buffer of its own. Only what is left
//! over, a partial packet or output the socket would not take, is copied into
//! the connection's [`Buf`], which frees its memory as soon as it is drained: an
//! idle connection holds no buffer at all.

/// A scratch buffer that grew past this while encoding a large answer is shrunk
/// back afterwards, so one big resultset does not pin memory for good.
pub const SCRATCH_KEEP: usize = 1 << 20;

/// Size of the loop's read scratch buffer: one `read` takes up to this much.
pub const READ_CHUNK: usize = 64 * 1024;

/// Bytes waiting to be consumed (input) or sent (output): a `Vec` and a start
/// offset, so consuming from the front is O(1) until the buffer is drained.
#[derive(Debug, Default)]
pub struct Buf {
    data: Vec<u8>,
    start: usize,
}

impl Buf {
    /// Unconsumed bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.data[self.start..]
    }

    /// Number of unconsumed bytes.
    pub fn len(&self) -> usize {
        self.data.len() - self.start
    }

    /// True when nothing is left to consume.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Memory held (for stats and tests).
    pub fn capacity(&self) -> usize {
        self.data.capacity()
    }

    /// The vector to append to.
    pub fn vec(&mut self) -> &mut Vec<u8> {
        &mut self.data
    }

    /// Appends bytes.
    pub fn extend(&mut self, b: &[u8]) {
        self.data.extend_from_slice(b);
    }

    /// Marks `n` bytes at the front as consumed. When everything is consumed the
    /// memory is freed; when more than half is consumed the rest is moved down.
    pub fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.data.len());
        if self.start == self.data.len() {
            self.data = Vec::new();
            self.start = 0;
        } else if self.start > self.data.len() / 2 {
            self.data.drain(..self.start);
            self.start = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drained_buffer_holds_no_memory() {
        let mut b = Buf::default();
        assert_eq!(b.capacity(), 0);
        b.extend(b"hello");
        b.consume(2);
        assert_eq!(b.bytes(), b"llo");
        b.consume(3);
        assert!(b.is_empty());
        assert_eq!(b.capacity(), 0);
    }

    #[test]
    fn compacts_past_half() {
        let mut b = Buf::default();
        b.extend(b"0123456789");
        b.consume(6);
        assert_eq!(b.bytes(), b"6789");
        b.extend(b"ab");
        assert_eq!(b.bytes(), b"6789ab");
    }
}
