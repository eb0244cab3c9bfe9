//! Server counters, readable from any thread while the loop updates them.
//!
//! Only the loop thread writes, so increments are a relaxed load and store (no
//! locked read-modify-write): they cost what a plain `u64` add costs.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;

/// A counter written by one thread and read by any.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds `n` (single writer: the event loop).
    #[inline]
    pub fn add(&self, n: u64) {
        self.0.store(self.0.load(Relaxed).wrapping_add(n), Relaxed);
    }

    /// Subtracts `n` (single writer).
    #[inline]
    pub fn sub(&self, n: u64) {
        self.0.store(self.0.load(Relaxed).wrapping_sub(n), Relaxed);
    }

    /// Current value.
    #[inline]
    pub fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }
}

/// Every counter the server keeps.
#[derive(Debug)]
pub struct Stats {
    /// When the server started.
    pub started: Instant,
    /// Connections accepted.
    pub accepted: Counter,
    /// Connections open now.
    pub open: Counter,
    /// Connections refused with ERR 1040.
    pub refused: Counter,
    /// Successful logins (incl. COM_CHANGE_USER).
    pub handshakes_ok: Counter,
    /// Failed logins, bad handshakes and handshake timeouts.
    pub handshakes_failed: Counter,
    /// Commands received, by command byte (index 0x20 and up are counted in the last slot).
    pub commands: [Counter; 33],
    /// COM_QUERY statements answered (a multi-statement query counts each).
    pub statements: Counter,
    /// Protocol errors (malformed, out of order, oversized).
    pub protocol_errors: Counter,
    /// Bytes read from clients.
    pub bytes_in: Counter,
    /// Bytes written to clients.
    pub bytes_out: Counter,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            started: Instant::now(),
            accepted: Counter::default(),
            open: Counter::default(),
            refused: Counter::default(),
            handshakes_ok: Counter::default(),
            handshakes_failed: Counter::default(),
            commands: std::array::from_fn(|_| Counter::default()),
            statements: Counter::default(),
            protocol_errors: Counter::default(),
            bytes_in: Counter::default(),
            bytes_out: Counter::default(),
        }
    }
}

impl Stats {
    /// Counts one command by its first byte.
    #[inline]
    pub fn command(&self, byte: u8) {
        self.commands[usize::from(byte).min(32)].add(1);
    }

    /// Total commands of all kinds.
    pub fn total_commands(&self) -> u64 {
        self.commands.iter().map(Counter::get).sum()
    }
}
