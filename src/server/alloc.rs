//! Where large buffers get their memory and where it goes when they are done.
//!
//! Measured under `make soak` (issue 8: server RSS flat within 5 % after
//! warm-up). With glibc's default *dynamic* mmap threshold, the first freed
//! mmapped chunk (a 2 MiB scratch buffer, a never-reading client's 1 MiB
//! backlog) raises the threshold to that chunk's size, and from then on every
//! large buffer, a never-reading client's backlog, a vanishing client's
//! answer, comes from the brk heap, interleaved with the small allocations of
//! thousands of short connections. The heap then fragments and is trimmed only
//! at its top: RSS moved in 1 to 2 MiB steps as never-reading clients came and
//! went (a 9 % band in 600 s, heap 15 to 17 MiB against 1.7 MiB for everything
//! else), or crept upwards, according to layout, not to what was in use.
//!
//! So the threshold is pinned at its usual starting value ([`pin_mmap_threshold`],
//! called once at process start): every allocation of 128 KiB or more is its
//! own mapping, returned to the kernel when freed, and the heap keeps only
//! small objects. RSS is then what is in use.
//!
//! Returning memory has a price: a fresh mapping is faulted in page by page,
//! about 2.5 µs per 4 KiB page on the bench machines (1 MiB taken, written
//! and freed: 640 to 730 µs from a fresh mapping, 30 to 45 µs reused from the
//! heap), which halved the 1M-row bench answer's throughput. Hence a few
//! drained large buffers are kept for reuse ([`take_spare`], [`give_back`]):
//! bounded in number and bytes, so what is kept is a small constant rather than
//! whatever the heap's layout happens to hold.

use std::cell::RefCell;

/// Allocations of at least this many bytes are mmapped: glibc's default
/// starting threshold, which its dynamic adjustment only ever raises. Below it
/// the heap serves (no page faults for the many small objects).
pub const MMAP_THRESHOLD: usize = 128 * 1024;

/// Buffers of at least this capacity are worth keeping for reuse (smaller ones
/// live in the heap, which reuses them without faults anyway).
pub const SPARE_MIN: usize = MMAP_THRESHOLD;

/// Most bytes one kept buffer may hold, and all kept buffers together: the
/// largest answer whose buffers are reused rather than faulted in again. 32 MiB
/// is where glibc's own dynamic threshold stops (`DEFAULT_MMAP_THRESHOLD_MAX`
/// on 64-bit), so answers up to that size cost what they did before the pin:
/// the 1M-row bench answer is 27 MiB, encoded whole, and its unsent part (17
/// to 24 MiB) goes to the connection's output buffer.
pub const SPARE_BYTES: usize = 32 << 20;

/// Most buffers kept: a couple of never-reading clients replaced at once, a
/// big answer's output, with room to spare. Finding one is a scan of this many.
pub const SPARE_COUNT: usize = 8;

/// Pins glibc's mmap threshold at [`MMAP_THRESHOLD`] (which also stops its
/// dynamic adjustment of the trim threshold; that stays at its 128 KiB
/// default). Call once at process start, before any large allocation. Returns
/// whether it took effect (false off glibc, where it is not needed: the
/// dynamic threshold is glibc's).
pub fn pin_mmap_threshold() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // invariant: 128 KiB fits a c_int
        let v = libc::c_int::try_from(MMAP_THRESHOLD).unwrap_or(libc::c_int::MAX);
        // SAFETY: mallopt only sets an allocator parameter; it takes the
        // allocator's lock and touches no memory of ours.
        unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, v) == 1 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

/// Drained large buffers kept for reuse by this thread (the event loop's).
#[derive(Default)]
struct Spares {
    list: Vec<Vec<u8>>,
    bytes: usize,
}

thread_local! {
    static SPARES: RefCell<Spares> = RefCell::new(Spares::default());
}

/// An empty kept buffer of at least `need` bytes of capacity, the smallest
/// that fits; None when none does (allocate afresh).
pub fn take_spare(need: usize) -> Option<Vec<u8>> {
    if need < SPARE_MIN {
        return None;
    }
    SPARES
        .try_with(|s| {
            let mut s = s.borrow_mut();
            let i = s
                .list
                .iter()
                .enumerate()
                .filter(|(_, v)| v.capacity() >= need)
                .min_by_key(|(_, v)| v.capacity())
                .map(|(i, _)| i)?;
            let v = s.list.swap_remove(i);
            s.bytes = s.bytes.saturating_sub(v.capacity());
            Some(v)
        })
        .ok()
        .flatten()
}

/// Hands a buffer back: kept (emptied) when it is large and there is room
/// under [`SPARE_COUNT`] and [`SPARE_BYTES`], made by freeing smaller kept
/// ones if need be (the larger buffer is the dearer one to fault in again);
/// freed otherwise.
pub fn give_back(mut v: Vec<u8>) {
    let cap = v.capacity();
    if !(SPARE_MIN..=SPARE_BYTES).contains(&cap) {
        return;
    }
    v.clear();
    // during thread teardown the list may be gone: then `v` is simply freed
    let _ = SPARES.try_with(|s| {
        let s = &mut *s.borrow_mut();
        while s.list.len() >= SPARE_COUNT || s.bytes.saturating_add(cap) > SPARE_BYTES {
            let smallest = s
                .list
                .iter()
                .enumerate()
                .min_by_key(|(_, k)| k.capacity())
                .map(|(i, k)| (i, k.capacity()));
            match smallest {
                Some((i, c)) if c < cap => {
                    s.list.swap_remove(i);
                    s.bytes = s.bytes.saturating_sub(c);
                }
                _ => return, // nothing smaller to give up: `v` is freed
            }
        }
        s.bytes += cap;
        s.list.push(v);
    });
}

/// (buffers, bytes) kept on this thread, for tests.
pub fn spares() -> (usize, usize) {
    SPARES
        .try_with(|s| {
            let s = s.borrow();
            (s.list.len(), s.bytes)
        })
        .unwrap_or((0, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_buffers_are_not_kept() {
        give_back(Vec::with_capacity(SPARE_MIN - 1));
        assert_eq!(spares(), (0, 0));
        assert!(take_spare(1000).is_none());
    }

    #[test]
    fn kept_buffers_are_reused_smallest_first() {
        give_back(Vec::with_capacity(4 << 20));
        give_back(Vec::with_capacity(1 << 20));
        assert_eq!(spares(), (2, 5 << 20));
        let v = take_spare(600 << 10).expect("a 1 MiB spare");
        assert!(v.is_empty() && v.capacity() >= 1 << 20 && v.capacity() < 4 << 20);
        assert!(take_spare(8 << 20).is_none());
        assert_eq!(spares(), (1, 4 << 20));
    }

    #[test]
    fn what_is_kept_is_bounded() {
        for _ in 0..SPARE_COUNT + 4 {
            give_back(Vec::with_capacity(SPARE_MIN));
        }
        assert_eq!(spares().0, SPARE_COUNT);
        give_back(Vec::with_capacity(SPARE_BYTES + 1));
        assert!(spares().1 <= SPARE_BYTES);
    }

    #[test]
    fn kept_bytes_stay_under_the_bound() {
        give_back(Vec::with_capacity(20 << 20));
        give_back(Vec::with_capacity(20 << 20));
        assert_eq!(spares(), (1, 20 << 20));
    }

    #[test]
    fn a_larger_buffer_displaces_smaller_ones() {
        for _ in 0..SPARE_COUNT {
            give_back(Vec::with_capacity(2 << 20));
        }
        give_back(Vec::with_capacity(SPARE_BYTES));
        assert_eq!(spares(), (1, SPARE_BYTES));
        // and a smaller one does not displace it
        give_back(Vec::with_capacity(1 << 20));
        assert_eq!(spares(), (1, SPARE_BYTES));
    }
}
