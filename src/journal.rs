//! The journal: what clients did (logins, commands with their text or a
//! statement's parameters, who answered and how, disconnects), as JSON lines
//! in a file (`--journal FILE`) and in memory for the admin port
//! (`SHOW JOURNAL`, `WAIT FOR JOURNAL`) and embedders
//! ([`crate::ServerHandle::journal`]).
//!
//! A command's line is written (to the operating system) before its
//! answer's first byte is written to the client: the loop flushes the
//! journal before each socket write ([`Journal::flush`]), so a test can read
//! the file as soon as its query returns. The memory part is bounded (oldest
//! events dropped first) and so is each event (statement text cut).

use serde::Serialize;
use serde_json::Value as Json;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

/// Events kept in memory: enough for any test's assertions; older ones
/// are dropped first (the file keeps everything).
pub const MAX_EVENTS: usize = 100_000;

/// Bytes of events kept in memory (roughly: text and parameters).
pub const MAX_BYTES: usize = 64 << 20;

/// Longest statement text (and parameter) recorded: longer ones are cut,
/// with `truncated` set. A 64 MiB query does not make a 64 MiB line.
pub const MAX_TEXT: usize = 64 << 10;

/// One event.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    /// Its number, from 1, in arrival order.
    pub seq: u64,
    /// When (RFC 3339, UTC, microseconds).
    pub time: String,
    /// The connection id.
    pub conn: u32,
    /// What happened.
    #[serde(flatten)]
    pub what: What,
}

/// What an event records.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum What {
    /// A login, accepted or refused.
    Login {
        /// The user name sent.
        user: String,
        /// The client's address.
        address: String,
        /// The connection attributes.
        attributes: serde_json::Map<String, Json>,
        /// The auth plugin.
        plugin: String,
        /// `ok` or `error`.
        result: &'static str,
        /// The error code of a refusal.
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<u16>,
    },
    /// A command and its answer.
    Command(Box<CommandEvent>),
    /// The connection ended.
    Disconnect {
        /// Why.
        reason: String,
    },
}

/// A command and how it was answered.
#[derive(Debug, Clone, Serialize, Default)]
pub struct CommandEvent {
    /// The user.
    pub user: String,
    /// The default database.
    pub database: Option<String>,
    /// `query`, `execute`, `prepare`, `init_db`, `ping`, …
    pub command: &'static str,
    /// The statement: a query's text, an execution's statement text (with
    /// its `?`), a database name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sql: Option<String>,
    /// An execution's statement id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statement: Option<u32>,
    /// An execution's parameters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub params: Option<Vec<Json>>,
    /// Who answered: a rule's name, `builtin`, `lua`, `unknown`, `server`.
    pub rule: String,
    /// The answer's kind: `result`, `ok`, `error`, `results`, …
    pub answer: &'static str,
    /// Rows sent (of the answer's first part, for one that paused).
    pub rows: u64,
    /// The ERR's code, if the answer was or ended with one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<u16>,
    /// Bytes of the answer (of its first part, for one that paused).
    pub bytes: u64,
    /// Microseconds from the command's arrival to its answer's encoding.
    pub duration_us: u64,
    /// The answer is held back this long.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// The fault staged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault: Option<&'static str>,
    /// The text or a parameter was cut at [`MAX_TEXT`].
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

impl Event {
    /// The statement text of a command event.
    pub fn sql(&self) -> Option<&str> {
        match &self.what {
            What::Command(c) => c.sql.as_deref(),
            _ => None,
        }
    }

    /// The command event, if this is one.
    pub fn command(&self) -> Option<&CommandEvent> {
        match &self.what {
            What::Command(c) => Some(c),
            _ => None,
        }
    }

    /// The event as its JSON line (without the newline).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}

#[derive(Debug)]
struct Inner {
    events: VecDeque<Event>,
    bytes: usize,
    next_seq: u64,
    file: Option<BufWriter<File>>,
    dirty: bool,
    failed: bool,
}

#[derive(Debug)]
struct Shared {
    inner: Mutex<Inner>,
    changed: Condvar,
    /// The last event's `seq` (read without the lock by waiters' polls).
    last: AtomicU64,
}

/// The journal; clones share it (the loop writes, any thread reads).
#[derive(Debug, Clone)]
pub struct Journal {
    shared: Arc<Shared>,
}

impl Journal {
    /// A journal in memory, and in `file` (created or truncated) if given.
    pub fn new(file: Option<&Path>) -> io::Result<Journal> {
        let file = match file {
            Some(p) => Some(BufWriter::new(File::create(p).map_err(|e| {
                io::Error::new(e.kind(), format!("--journal {}: {e}", p.display()))
            })?)),
            None => None,
        };
        Ok(Journal {
            shared: Arc::new(Shared {
                inner: Mutex::new(Inner {
                    events: VecDeque::new(),
                    bytes: 0,
                    next_seq: 1,
                    file,
                    dirty: false,
                    failed: false,
                }),
                changed: Condvar::new(),
                last: AtomicU64::new(0),
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // a reader that panicked while holding the lock leaves the data intact
        self.shared.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records an event for connection `conn`.
    pub fn record(&self, conn: u32, what: What) {
        let mut g = self.lock();
        let seq = g.next_seq;
        g.next_seq += 1;
        let e = Event {
            seq,
            time: humantime::format_rfc3339_micros(SystemTime::now()).to_string(),
            conn,
            what,
        };
        if g.file.is_some() && !g.failed {
            let mut line = e.to_json();
            line.push('\n');
            let failed = g
                .file
                .as_mut()
                .map(|f| f.write_all(line.as_bytes()))
                .is_some_and(|r| r.is_err());
            if failed {
                log::warn!("--journal: write failed; the file journal stops here");
                g.failed = true;
            }
            g.dirty = true;
        }
        let size = event_size(&e);
        g.bytes += size;
        g.events.push_back(e);
        while g.events.len() > MAX_EVENTS || (g.bytes > MAX_BYTES && g.events.len() > 1) {
            if let Some(old) = g.events.pop_front() {
                g.bytes = g.bytes.saturating_sub(event_size(&old));
            }
        }
        drop(g);
        self.shared.last.store(seq, Ordering::Release);
        self.shared.changed.notify_all();
    }

    /// Writes buffered lines to the file (the loop calls this before it
    /// writes answers to clients).
    pub fn flush(&self) {
        let mut g = self.lock();
        if g.dirty {
            g.dirty = false;
            if let Some(f) = g.file.as_mut() {
                if let Err(e) = f.flush() {
                    log::warn!("--journal: flush failed: {e}");
                }
            }
        }
    }

    /// The `seq` of the last event (0 before the first).
    pub fn last_seq(&self) -> u64 {
        self.shared.last.load(Ordering::Acquire)
    }

    /// The events kept in memory, oldest first.
    pub fn events(&self) -> Vec<Event> {
        self.lock().events.iter().cloned().collect()
    }

    /// The command events whose statement text matches `pred`, oldest first.
    pub fn commands(&self, mut pred: impl FnMut(&Event) -> bool) -> Vec<Event> {
        self.lock()
            .events
            .iter()
            .filter(|e| e.command().is_some() && pred(e))
            .cloned()
            .collect()
    }

    /// The first event after `after_seq` for which `pred` holds.
    pub fn find_after(
        &self,
        after_seq: u64,
        mut pred: impl FnMut(&Event) -> bool,
    ) -> Option<Event> {
        let g = self.lock();
        // events are in seq order: skip the older ones from the back
        let start = g.events.partition_point(|e| e.seq <= after_seq);
        g.events.range(start..).find(|e| pred(e)).cloned()
    }

    /// Blocks (another thread than the loop's) until an event for which
    /// `pred` holds is in the journal, or `timeout` passes.
    pub fn wait_for(
        &self,
        timeout: Duration,
        mut pred: impl FnMut(&Event) -> bool,
    ) -> Option<Event> {
        let until = crate::limits::deadline(Instant::now(), timeout);
        let mut g = self.lock();
        let mut seen = 0u64;
        loop {
            let start = g.events.partition_point(|e| e.seq <= seen);
            if let Some(e) = g.events.range(start..).find(|e| pred(e)) {
                return Some(e.clone());
            }
            seen = g.events.back().map_or(seen, |e| e.seq);
            let now = Instant::now();
            if now >= until {
                return None;
            }
            g = self
                .shared
                .changed
                .wait_timeout(g, until - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Forgets the events kept in memory (the file is left as it is).
    pub fn reset(&self) {
        let mut g = self.lock();
        g.events.clear();
        g.bytes = 0;
    }
}

fn event_size(e: &Event) -> usize {
    let body = match &e.what {
        What::Command(c) => {
            c.sql.as_ref().map_or(0, String::len)
                + c.params
                    .as_ref()
                    .map_or(0, |p| p.iter().map(json_size).sum())
                + c.rule.len()
        }
        What::Login {
            user, attributes, ..
        } => {
            user.len()
                + attributes
                    .iter()
                    .map(|(k, v)| k.len() + json_size(v))
                    .sum::<usize>()
        }
        What::Disconnect { reason } => reason.len(),
    };
    body + 256
}

fn json_size(v: &Json) -> usize {
    match v {
        Json::String(s) => s.len() + 2,
        _ => 16,
    }
}

/// Text cut at [`MAX_TEXT`] (at a character boundary), and whether it was.
pub fn cut(s: &str) -> (String, bool) {
    if s.len() <= MAX_TEXT {
        return (s.to_string(), false);
    }
    let mut end = MAX_TEXT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    (s[..end].to_string(), true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(sql: &str) -> What {
        What::Command(Box::new(CommandEvent {
            command: "query",
            sql: Some(sql.into()),
            rule: "r".into(),
            answer: "ok",
            ..CommandEvent::default()
        }))
    }

    #[test]
    fn lines_in_the_file_and_events_in_memory() {
        let dir = std::env::temp_dir().join(format!("understudy-journal-{}", std::process::id()));
        let j = Journal::new(Some(&dir)).unwrap();
        j.record(1, cmd("SELECT 1"));
        j.record(
            1,
            What::Disconnect {
                reason: "bye".into(),
            },
        );
        j.flush();
        let text = std::fs::read_to_string(&dir).unwrap();
        let lines: Vec<Json> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["event"], "command");
        assert_eq!(lines[0]["sql"], "SELECT 1");
        assert_eq!(lines[0]["seq"], 1);
        assert_eq!(lines[1]["event"], "disconnect");
        assert_eq!(j.last_seq(), 2);
        assert_eq!(j.commands(|_| true).len(), 1);
        assert!(j.find_after(1, |e| e.sql().is_some()).is_none());
        let _ = std::fs::remove_file(&dir);
    }

    #[test]
    fn memory_is_bounded() {
        let j = Journal::new(None).unwrap();
        let big = "x".repeat(MAX_TEXT);
        for _ in 0..(MAX_BYTES / MAX_TEXT + 100) {
            j.record(1, cmd(&big));
        }
        let n = j.events().len();
        assert!(n * MAX_TEXT <= MAX_BYTES, "{n} events kept");
        assert_eq!(cut(&"é".repeat(MAX_TEXT)).0.len(), MAX_TEXT);
    }

    #[test]
    fn a_waiter_on_another_thread_sees_the_event() {
        let j = Journal::new(None).unwrap();
        let j2 = j.clone();
        let t = std::thread::spawn(move || {
            j2.wait_for(Duration::from_secs(10), |e| e.sql() == Some("SELECT 2"))
        });
        std::thread::sleep(Duration::from_millis(50));
        j.record(1, cmd("SELECT 1"));
        j.record(1, cmd("SELECT 2"));
        assert_eq!(t.join().unwrap().unwrap().seq, 2);
        assert!(j
            .wait_for(Duration::from_millis(10), |e| e.sql() == Some("nope"))
            .is_none());
    }
}
