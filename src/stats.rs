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

    /// Back to zero (single writer).
    pub fn reset(&self) {
        self.0.store(0, Relaxed);
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
    /// Resultset rows sent (text and binary).
    pub rows_sent: Counter,
    /// Prepared statements the server created (COM_STMT_PREPARE it answered).
    pub prepared: Counter,
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
            rows_sent: Counter::default(),
            prepared: Counter::default(),
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

    /// Every counter back to zero except the connections open now (the
    /// admin port's RESET STATS; called on the loop's thread, the writer).
    pub fn reset(&self) {
        for c in [
            &self.accepted,
            &self.refused,
            &self.handshakes_ok,
            &self.handshakes_failed,
            &self.statements,
            &self.rows_sent,
            &self.prepared,
            &self.protocol_errors,
            &self.bytes_in,
            &self.bytes_out,
        ] {
            c.reset();
        }
        self.commands.iter().for_each(Counter::reset);
    }

    /// (name, count) of each command kind received at least once.
    pub fn commands_by_kind(&self) -> Vec<(String, u64)> {
        self.commands
            .iter()
            .enumerate()
            .filter(|(_, c)| c.get() > 0)
            .map(|(i, c)| (command_name(i), c.get()))
            .collect()
    }
}

/// A copy of the counters at one moment, for rates between two snapshots.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Connections accepted.
    pub accepted: u64,
    /// Connections open.
    pub open: u64,
    /// Refused with ERR 1040.
    pub refused: u64,
    /// Successful logins.
    pub handshakes_ok: u64,
    /// Failed logins.
    pub handshakes_failed: u64,
    /// COM_QUERY commands.
    pub queries: u64,
    /// All commands.
    pub commands: u64,
    /// Protocol errors.
    pub protocol_errors: u64,
    /// Bytes read.
    pub bytes_in: u64,
    /// Bytes written.
    pub bytes_out: u64,
}

impl Stats {
    /// The counters now.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            accepted: self.accepted.get(),
            open: self.open.get(),
            refused: self.refused.get(),
            handshakes_ok: self.handshakes_ok.get(),
            handshakes_failed: self.handshakes_failed.get(),
            queries: self.commands[3].get(),
            commands: self.total_commands(),
            protocol_errors: self.protocol_errors.get(),
            bytes_in: self.bytes_in.get(),
            bytes_out: self.bytes_out.get(),
        }
    }

    /// One line for `--stats-interval`: totals, and per-second rates since `prev`
    /// taken `secs` ago.
    pub fn line(&self, prev: &Snapshot, secs: f64) -> (String, Snapshot) {
        let now = self.snapshot();
        let rate = |a: u64, b: u64| (a.saturating_sub(b)) as f64 / secs.max(1e-9);
        let mut by_kind = String::new();
        for (name, n) in self.commands_by_kind() {
            by_kind.push_str(&format!(" {name}={n}"));
        }
        let line = format!(
            "stats: open={} accepted={} ({:.0}/s) refused={} handshakes ok={} ({:.0}/s) failed={} commands={} ({:.0}/s){} rows={} prepared={} protocol_errors={} bytes in={} ({:.0}/s) out={} ({:.0}/s)",
            now.open,
            now.accepted,
            rate(now.accepted, prev.accepted),
            now.refused,
            now.handshakes_ok,
            rate(now.handshakes_ok, prev.handshakes_ok),
            now.handshakes_failed,
            now.commands,
            rate(now.commands, prev.commands),
            by_kind,
            self.rows_sent.get(),
            self.prepared.get(),
            now.protocol_errors,
            now.bytes_in,
            rate(now.bytes_in, prev.bytes_in),
            now.bytes_out,
            rate(now.bytes_out, prev.bytes_out),
        );
        (line, now)
    }
}

/// Short names of command bytes for the stats line.
fn command_name(i: usize) -> String {
    match i {
        0x01 => "quit".into(),
        0x02 => "init_db".into(),
        0x03 => "query".into(),
        0x04 => "field_list".into(),
        0x09 => "statistics".into(),
        0x0e => "ping".into(),
        0x11 => "change_user".into(),
        0x16 => "stmt_prepare".into(),
        0x17 => "stmt_execute".into(),
        0x18 => "stmt_send_long_data".into(),
        0x19 => "stmt_close".into(),
        0x1a => "stmt_reset".into(),
        0x1c => "stmt_fetch".into(),
        0x1b => "set_option".into(),
        0x1f => "reset_connection".into(),
        32 => "other".into(),
        n => format!("cmd_{n:02x}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_reports_totals_and_rates() {
        let s = Stats::default();
        let prev = s.snapshot();
        s.accepted.add(10);
        s.command(3);
        s.command(3);
        s.command(0x0e);
        let (line, snap) = s.line(&prev, 2.0);
        assert!(line.contains("accepted=10 (5/s)"), "{line}");
        assert!(line.contains("query=2 ping=1"), "{line}");
        assert_eq!(snap.queries, 2);
    }
}
