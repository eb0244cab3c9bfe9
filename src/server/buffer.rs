//! Per-connection leftovers.
//!
//! The event loop reads into one shared scratch buffer and encodes answers into
//! another, so in the common case (a whole command per read, an answer the socket
//! takes at once) a connection touches no buffer of its own. Only what is left
//! over, a partial packet or output the socket would not take, is copied into
//! the connection's [`Buf`], which frees its memory as soon as it is drained: an
//! idle connection holds no buffer at all.
//!
//! A connection whose client stops reading holds up to the write high-water
//! mark here for as long as it stays (the soak's never-reading clients hold
//! 1 MiB each for 30 s). [`Buf`] keeps such a buffer's footprint to its
//! content: it reuses the room its consumed head leaves instead of growing
//! past it, so that what a stalled connection costs does not depend on how the
//! kernel happened to drain it. Large drained buffers are kept for reuse,
//! within bounds, by [`alloc`] (faulting fresh memory in costs more than
//! copying into it).

use super::alloc;

/// A scratch buffer that grew past this while encoding a large answer is shrunk
/// back afterwards, so that one huge resultset (or a 16 MiB packet) does not
/// pin memory for good. It used to be 1 MiB, below what a batch at the default
/// write high-water mark grows to (1 MiB and one answer, in a vector doubled
/// from [`READ_CHUNK`]: 2 MiB of capacity), so every such batch (each long
/// answer's first, every client that stops reading) threw the buffer away and
/// regrew it from 64 KiB: five reallocations and fresh memory per batch. It is
/// now [`alloc::SPARE_BYTES`]: with the mmap threshold pinned (see
/// [`alloc`]) a dropped buffer goes back to the kernel and the next big answer
/// faults it in again page by page, which is what glibc's dynamic threshold
/// used to spare answers up to that size (the 1M-row bench answer, 27 MiB
/// encoded into this buffer whole, ran at half speed with a 4 MiB limit).
pub const SCRATCH_KEEP: usize = alloc::SPARE_BYTES;

/// Size of the loop's read scratch buffer: one `read` takes up to this much.
pub const READ_CHUNK: usize = 64 * 1024;

/// A consumed head at least this long is moved out of the way before more
/// bytes are appended, so that a buffer refilled as it drains (a slow or
/// stalled reader at the high-water mark) reuses its allocation instead of
/// growing it. It bounds the memmove: at most once per this many bytes
/// consumed, of at most the high-water mark (16 bytes moved per byte sent at
/// 1 MiB, only while a client reads slower than we write).
pub const COMPACT_SLACK: usize = 64 * 1024;

/// Bytes waiting to be consumed (input) or sent (output): a `Vec` and a start
/// offset, so consuming from the front is O(1) until the buffer is drained.
/// Its memory stays close to its content: given up when drained (a large
/// vector to [`alloc::give_back`], for the next buffer that grows large to
/// take), and the consumed head reused before the vector grows (see
/// [`COMPACT_SLACK`]).
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

    /// Unconsumed bytes, to change in place (TLS decrypts records where
    /// they lie).
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.data[self.start..]
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

    /// Appends bytes. A long consumed head, or one that leaves room for `b`
    /// without growing, is moved out of the way first: the bytes go where the
    /// sent ones were rather than past them.
    pub fn extend(&mut self, b: &[u8]) {
        let grows = self.data.len().saturating_add(b.len()) > self.data.capacity();
        if self.start >= COMPACT_SLACK || (self.start > 0 && grows) {
            self.compact();
        }
        let need = self.data.len().saturating_add(b.len());
        if need > self.data.capacity() && need >= alloc::SPARE_MIN {
            // A large vector comes from the kept ones, or is made with a
            // power-of-two capacity, so that it fits the next answer of about
            // its size when it is kept in turn (the unwritten tail of a mapping
            // costs no memory).
            let mut v = alloc::take_spare(need).unwrap_or_else(|| {
                Vec::with_capacity(need.checked_next_power_of_two().unwrap_or(need))
            });
            v.extend_from_slice(&self.data);
            v.extend_from_slice(b);
            alloc::give_back(std::mem::replace(&mut self.data, v));
            return;
        }
        self.data.extend_from_slice(b);
    }

    /// Marks `n` bytes at the front as consumed. When everything is consumed the
    /// memory is given up; when more than half is consumed the rest is moved
    /// down. (No shrinking in between: a large buffer is drained soon after,
    /// and a shrunk one could no longer be reused for the next large answer.)
    pub fn consume(&mut self, n: usize) {
        self.start = self.start.saturating_add(n).min(self.data.len());
        if self.start == self.data.len() {
            alloc::give_back(std::mem::take(&mut self.data));
            self.start = 0;
        } else if self.start > self.data.len() / 2 {
            self.compact();
        }
    }

    /// Moves the unconsumed bytes to the front.
    fn compact(&mut self) {
        self.data.drain(..self.start);
        self.start = 0;
    }
}

impl Drop for Buf {
    /// A closing connection's backlog (a never-reading client's 1 MiB) is
    /// kept for the next one rather than freed.
    fn drop(&mut self) {
        alloc::give_back(std::mem::take(&mut self.data));
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

    /// The soak's never-reading clients (issue 8): a backlog at the
    /// high-water mark that the kernel drains a little at a time, each time
    /// refilled. The old buffer let the consumed head grow to the backlog's
    /// own size before compacting, so the vector doubled, and what a stalled
    /// connection held (1 to 2 MiB) depended on how its socket drained.
    #[test]
    fn r8_refilled_backlog_keeps_its_allocation() {
        const MARK: usize = 1 << 20;
        let mut b = Buf::default();
        b.extend(&vec![7u8; MARK]);
        let cap = b.capacity();
        for round in 0..40u8 {
            b.consume(50_000);
            b.extend(&vec![round; 50_000]);
            assert_eq!(b.len(), MARK);
            assert_eq!(b.capacity(), cap, "grew in round {round}");
        }
        // the bytes end with the last rounds' appends, in order
        let tail: Vec<u8> = (20..40u8).flat_map(|r| vec![r; 50_000]).collect();
        assert_eq!(b.bytes()[MARK - tail.len()..], tail[..]);
    }

    #[test]
    fn drained_large_buffer_is_kept_and_reused() {
        let before = alloc::spares().0;
        let mut b = Buf::default();
        b.extend(&vec![1u8; 1 << 20]);
        b.consume(1 << 20);
        assert_eq!(b.capacity(), 0);
        assert_eq!(alloc::spares().0, before + 1);
        let mut c = Buf::default();
        c.extend(&vec![2u8; 1 << 19]);
        assert!(c.capacity() >= 1 << 20, "took the kept buffer");
        assert_eq!(alloc::spares().0, before);
        drop(c);
        assert_eq!(alloc::spares().0, before + 1);
    }

    #[test]
    fn a_large_buffer_gets_a_power_of_two_capacity() {
        let mut b = Buf::default();
        b.extend(&vec![1u8; 300_000]);
        assert_eq!(b.capacity(), 512 * 1024);
        b.extend(&vec![2u8; 300_000]);
        assert_eq!(b.capacity(), 1 << 20);
        assert_eq!(b.len(), 600_000);
        assert_eq!(b.bytes()[299_999..300_001], [1, 2]);
    }

    #[test]
    fn small_consumed_head_is_reused_before_growing() {
        let mut b = Buf::default();
        b.extend(b"0123456789");
        let cap = b.capacity();
        b.consume(3);
        b.extend(b"abc");
        assert_eq!(b.bytes(), b"3456789abc");
        assert_eq!(b.capacity(), cap);
    }

    #[test]
    fn consume_past_the_end_drains() {
        let mut b = Buf::default();
        b.extend(b"abc");
        b.consume(usize::MAX);
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
