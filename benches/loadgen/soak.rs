//! The soak (`loadgen soak`, `make soak`): many connections held open for a
//! long while beside a mixed, partly hostile load, with the server's resident
//! memory sampled throughout. It asks three things of the server: that its
//! RSS stays flat once warmed up (no leak, no growth from clients that never
//! read), that the load meets no error it did not ask for, and that every held
//! connection still answers at the end.
//!
//! Phases:
//! 1. Open: `held` connections logged in through a storm (`super::storm`,
//!    `in_flight` at a time, each with a login timeout), then held idle.
//! 2. Load, for `secs`, each part on its own thread:
//!    - churn: `churn` connections looping connect → login → COM_QUIT;
//!    - queries: `query_conns` connections sending `sql` back to back;
//!    - stuck: `stuck` clients that send queries and never read (half of them
//!      one long multi-statement when `multi` > 0), each replaced after a
//!      while so that new ones keep arriving while the population stays fixed;
//!    - vanish: clients that send a burst whose answer is large, read a
//!      little of it and close (every other one with a reset);
//!    - probes: oversized packets (a header over `max_packet`, before and after
//!      login; a pre-login packet over the server's pre-login limit), a wrong
//!      sequence id, an HTTP request instead of a handshake (before and after
//!      the greeting), a garbage handshake response, an empty packet.
//!      Each must get an ERR and then the close: that is "expected"; anything
//!      else (no ERR, another code, no close, no answer) is "unexpected".
//!
//!    The main thread reads the server's VmRSS every `sample` seconds.
//! 3. Check: one COM_PING (or `check_sql`) on every held connection, all at
//!    once, every answer awaited; then one fresh login and query.
//!
//! Descriptors: this process holds `held` + `query_conns` + `churn` +
//! `stuck` + 2 sockets at once (the vanish and probe threads use one at a
//! time). The soft limit is raised to the hard one; if the sum does not
//! fit, the churn concurrency is reduced to what fits, and the report says so.

use super::{login_blocking, raise_nofile, rss, storm, Outcome, Target};
use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use understudy::protocol::packet;
use understudy::protocol::response::decode_err;

/// What a soak run does (see the module docs).
#[derive(Debug, Clone)]
pub struct Config {
    /// The server.
    pub target: Target,
    /// Its pid, for VmRSS (0: not sampled).
    pub server_pid: u32,
    /// Connections held open for the whole run.
    pub held: usize,
    /// Logins in flight while opening them.
    pub in_flight: usize,
    /// A connection not logged in this long after its connect() has failed.
    pub login_timeout: Duration,
    /// Length of the load phase, seconds.
    pub secs: f64,
    /// RSS samples taken before this (seconds into the load) are warm-up.
    pub warmup: f64,
    /// Seconds between RSS samples.
    pub sample: f64,
    /// Handshake-churn connections.
    pub churn: usize,
    /// Query-load connections.
    pub query_conns: usize,
    /// The statement of the query load, and of the stuck and vanishing clients.
    pub sql: String,
    /// Statements in the stuck and vanishing clients' multi-statement (0: none;
    /// a server without CLIENT_MULTI_STATEMENTS answers it with one ERR).
    pub multi: usize,
    /// Clients that never read, present at any time.
    pub stuck: usize,
    /// The final check's statement; None: COM_PING.
    pub check_sql: Option<String>,
    /// The server's --max-packet: the oversized probes declare more.
    pub max_packet: usize,
    /// Longest a probe waits for its answer (beyond the server's handshake
    /// timeout, so that a probe the server ignores is seen closed, not hung).
    pub probe_timeout: Duration,
}

/// Sockets beyond the connections: stdio, epoll descriptors (one per loop),
/// the vanish and probe sockets, and room for the kernel's and Rust's own.
const FD_SPARE: usize = 64;

/// How long a stuck client stays before it is replaced. Long enough to fill
/// every buffer between it and the server (that takes milliseconds), short
/// enough that a 10-minute run sees some 20 generations of each slot.
const STUCK_LIFE: Duration = Duration::from_secs(30);

/// How often the stuck clients try to write more (a blocked write costs one
/// syscall that returns EAGAIN).
const STUCK_ROUND: Duration = Duration::from_millis(100);

/// Queries a vanishing client sends in one write (without `multi`): ~200
/// answers of the 70-row SHOW DATABASES, some 300 KB, more than the socket
/// buffers take at once, so that the client leaves while the server writes.
const VANISH_BURST: usize = 200;

/// Pause between vanishing clients, and between probes. The churn and query
/// loads already keep the server's core busy; the misbehaving clients are
/// about variety, so they are paced (a few hundred a second) rather than
/// crowding out the load beside them.
const MISBEHAVE_PAUSE: Duration = Duration::from_millis(5);

/// Longest the final check waits for every held connection's answer.
const CHECK_TIMEOUT: Duration = Duration::from_secs(60);

/// Allowed RSS spread after warm-up: (max - min) / min.
pub const FLAT_WITHIN: f64 = 0.05;

/// What a soak run found.
#[derive(Debug, Default)]
pub struct Report {
    /// Connections asked to be held, and those that logged in.
    pub held_asked: usize,
    /// Held connections that logged in.
    pub held_opened: u64,
    /// Seconds the opening storm took.
    pub open_secs: f64,
    /// Opening failures by kind.
    pub open_errors: BTreeMap<String, u64>,
    /// (seconds into the load, VmRSS bytes).
    pub rss: Vec<(f64, u64)>,
    /// Warm-up, seconds.
    pub warmup: f64,
    /// Operations per part of the load.
    pub ops: BTreeMap<&'static str, u64>,
    /// Outcomes that were asked for (a probe's ERR), "part:kind:detail".
    pub expected: BTreeMap<String, u64>,
    /// Everything else, "part:kind".
    pub unexpected: BTreeMap<String, u64>,
    /// Held connections that answered the final check.
    pub check_answered: u64,
    /// Held connections checked.
    pub check_asked: usize,
    /// Whether a fresh login and query worked after the check.
    pub fresh_login: bool,
    /// Whether the server process was still there at the end.
    pub server_alive: bool,
    /// Most bytes one stuck client got written before its writes blocked.
    pub stuck_max_written: u64,
    /// Churn connections actually used (reduced to fit the descriptor limit).
    pub churn: usize,
    /// Descriptor limit of this process.
    pub nofile: u64,
    /// Anything the run had to change or could not do.
    pub notes: Vec<String>,
}

impl Report {
    /// RSS samples from the end of warm-up on.
    fn settled(&self) -> Vec<u64> {
        self.rss
            .iter()
            .filter(|(t, _)| *t >= self.warmup)
            .map(|&(_, b)| b)
            .collect()
    }

    /// (min, max) RSS after warm-up.
    pub fn rss_range(&self) -> Option<(u64, u64)> {
        let s = self.settled();
        Some((*s.iter().min()?, *s.iter().max()?))
    }

    /// (max - min) / min after warm-up.
    pub fn rss_spread(&self) -> Option<f64> {
        let (lo, hi) = self.rss_range()?;
        (lo > 0).then(|| (hi - lo) as f64 / lo as f64)
    }

    /// RSS within `FLAT_WITHIN` after warm-up (None: no samples to judge).
    pub fn flat(&self) -> Option<bool> {
        self.rss_spread().map(|s| s <= FLAT_WITHIN)
    }

    /// Unexpected outcomes in all.
    pub fn unexpected_total(&self) -> u64 {
        self.unexpected.values().sum()
    }

    /// Flat, nothing unexpected, every held connection opened and answering,
    /// a fresh login working, the server alive.
    pub fn passed(&self) -> bool {
        self.flat() == Some(true)
            && self.unexpected_total() == 0
            && self.held_opened == self.held_asked as u64
            && self.check_answered == self.held_asked as u64
            && self.fresh_login
            && self.server_alive
    }

    /// One JSON object.
    pub fn json(&self, label: &str) -> String {
        let map = |m: &BTreeMap<String, u64>| {
            let v: Vec<String> = m
                .iter()
                .map(|(k, n)| format!("\"{}\":{n}", k.replace('"', "'")))
                .collect();
            format!("{{{}}}", v.join(","))
        };
        let ops: BTreeMap<String, u64> =
            self.ops.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        let series: Vec<String> = self
            .rss
            .iter()
            .map(|(t, b)| format!("[{t:.1},{b}]"))
            .collect();
        let (lo, hi) = self.rss_range().unwrap_or((0, 0));
        let opt = |b: Option<bool>| b.map_or("null".to_string(), |b| b.to_string());
        let notes: Vec<String> = self
            .notes
            .iter()
            .map(|n| format!("\"{}\"", n.replace('"', "'")))
            .collect();
        format!(
            "{{\"workload\":\"soak\",\"label\":\"{}\",\"held\":{},\"held_opened\":{},\"open_secs\":{:.3},\"open_errors\":{},\"warmup_secs\":{},\"rss_series\":[{}],\"rss_min_after_warmup\":{lo},\"rss_max_after_warmup\":{hi},\"rss_spread\":{:.4},\"flat\":{},\"ops\":{},\"expected\":{},\"unexpected\":{},\"unexpected_total\":{},\"check_asked\":{},\"check_answered\":{},\"fresh_login\":{},\"server_alive\":{},\"stuck_max_written\":{},\"churn_conns\":{},\"nofile\":{},\"notes\":[{}],\"pass\":{}}}",
            label.replace('"', "'"),
            self.held_asked,
            self.held_opened,
            self.open_secs,
            map(&self.open_errors),
            self.warmup,
            series.join(","),
            self.rss_spread().unwrap_or(0.0),
            opt(self.flat()),
            map(&ops),
            map(&self.expected),
            map(&self.unexpected),
            self.unexpected_total(),
            self.check_asked,
            self.check_answered,
            self.fresh_login,
            self.server_alive,
            self.stuck_max_written,
            self.churn,
            self.nofile,
            notes.join(","),
            self.passed()
        )
    }

    /// A few lines for people.
    pub fn summary(&self, label: &str) -> String {
        let mib = |b: u64| b as f64 / 1048576.0;
        let series: Vec<String> = self
            .rss
            .iter()
            .map(|(t, b)| format!("{t:.0}s {:.1}", mib(*b)))
            .collect();
        let kinds = |m: &BTreeMap<String, u64>| {
            if m.is_empty() {
                "none".to_string()
            } else {
                m.iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        let ops: Vec<String> = self.ops.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let (lo, hi) = self.rss_range().unwrap_or((0, 0));
        let mut s = format!(
            "soak {label}: {}\n  held {} of {} opened in {:.2} s (failures: {}); churn at {} conns\n  RSS MiB: {}\n  after warm-up ({} s): min {:.2} max {:.2} MiB, spread {:.1} % (flat within {} %: {})\n  ops: {}\n  expected: {}\n  unexpected: {}\n  check: {} of {} held connections answered; fresh login {}; server alive {}; a stuck client's writes blocked after {:.1} MiB at most",
            if self.passed() { "PASS" } else { "FAIL" },
            self.held_opened,
            self.held_asked,
            self.open_secs,
            kinds(&self.open_errors),
            self.churn,
            series.join(", "),
            self.warmup,
            mib(lo),
            mib(hi),
            self.rss_spread().unwrap_or(0.0) * 100.0,
            FLAT_WITHIN * 100.0,
            match self.flat() {
                Some(true) => "pass",
                Some(false) => "FAIL",
                None => "no samples",
            },
            ops.join(", "),
            kinds(&self.expected),
            kinds(&self.unexpected),
            self.check_answered,
            self.check_asked,
            if self.fresh_login { "ok" } else { "FAILED" },
            self.server_alive,
            mib(self.stuck_max_written),
        );
        for n in &self.notes {
            s.push_str(&format!("\n  note: {n}"));
        }
        s
    }
}

/// Runs the soak.
pub fn soak(cfg: &Config) -> Report {
    let mut r = Report {
        held_asked: cfg.held,
        warmup: cfg.warmup,
        nofile: raise_nofile(),
        ..Report::default()
    };
    let fixed = cfg.held + cfg.query_conns + cfg.stuck + FD_SPARE;
    r.churn = cfg.churn.min((r.nofile as usize).saturating_sub(fixed));
    if r.churn < cfg.churn {
        r.notes.push(format!(
            "churn reduced from {} to {} connections: {} held + {} querying + {} stuck + {FD_SPARE} spare must fit under this process's {} descriptors",
            cfg.churn, r.churn, cfg.held, cfg.query_conns, cfg.stuck, r.nofile
        ));
    }
    if fixed > r.nofile as usize {
        r.notes.push(format!(
            "{} held + {} querying + {} stuck + {FD_SPARE} spare exceed this process's {} descriptors: the held connections that do not fit fail to open",
            cfg.held, cfg.query_conns, cfg.stuck, r.nofile
        ));
    }

    eprintln!(
        "soak: opening {} connections ({} in flight)",
        cfg.held, cfg.in_flight
    );
    let (open, mut held) = storm(&cfg.target, cfg.held, cfg.in_flight, cfg.login_timeout);
    r.held_opened = open.ops;
    r.open_secs = open.secs;
    r.open_errors = open.errors;

    let t = &cfg.target;
    let start = Instant::now();
    let load = Duration::from_secs_f64(cfg.secs.max(0.0));
    let deadline = start + load;
    let pid = cfg.server_pid;
    eprintln!(
        "soak: {} held; mixed load for {:.0} s",
        r.held_opened, cfg.secs
    );
    std::thread::scope(|sc| {
        let churn_conns = r.churn;
        let churn =
            (churn_conns > 0).then(|| sc.spawn(move || super::handshake(t, churn_conns, cfg.secs)));
        let query = (cfg.query_conns > 0)
            .then(|| sc.spawn(|| super::query(t, cfg.query_conns, cfg.secs, &cfg.sql)));
        let stuck = sc.spawn(|| stuck(cfg, deadline));
        let vanish = sc.spawn(|| vanish(cfg, deadline));
        let probes = sc.spawn(|| probes(cfg, deadline));
        let every = Duration::from_secs_f64(cfg.sample.max(0.1));
        let mut next = start;
        loop {
            let at = start.elapsed().as_secs_f64();
            let b = rss(pid).unwrap_or(0);
            r.rss.push((at, b));
            eprintln!(
                "soak: {at:6.1} s  server RSS {:.2} MiB",
                b as f64 / 1048576.0
            );
            next += every;
            // No sample at the deadline itself: the load's threads stop
            // then, and a sample racing their exit measures the end of the
            // load, not the server under it.
            if next >= deadline {
                break;
            }
            std::thread::sleep(next.saturating_duration_since(Instant::now()));
        }
        let mut part = |name: &'static str, out: Outcome| {
            r.ops.insert(name, out.ops);
            for (k, v) in out.errors {
                *r.unexpected.entry(format!("{name}:{k}")).or_default() += v;
            }
        };
        if let Some(h) = churn {
            part("churn", h.join().unwrap_or_default());
        }
        if let Some(h) = query {
            part("query", h.join().unwrap_or_default());
        }
        let (out, written) = stuck.join().unwrap_or_default();
        r.stuck_max_written = written;
        part("stuck", out);
        part("vanish", vanish.join().unwrap_or_default());
        let (expected, mut unexpected) = probes.join().unwrap_or_default();
        unexpected.ops += expected.ops;
        part("probes", unexpected);
        for (k, v) in expected.errors {
            *r.expected.entry(format!("probe:{k}")).or_default() += v;
        }
    });

    eprintln!("soak: checking every held connection");
    r.check_asked = held.len();
    let check = match &cfg.check_sql {
        Some(sql) => {
            let mut q = vec![0x03];
            q.extend_from_slice(sql.as_bytes());
            held.check(&q, CHECK_TIMEOUT)
        }
        None => held.check(&[0x0e], CHECK_TIMEOUT), // COM_PING
    };
    r.check_answered = check.ops;
    for (k, v) in check.errors {
        *r.unexpected.entry(format!("check:{k}")).or_default() += v;
    }
    // Held connections that never opened were counted in open_errors; the
    // check is over those that did, and passed() compares with the asked count.
    let mut scratch = Outcome::default();
    r.fresh_login = login_blocking(t, &mut scratch)
        .map(|mut b| super::query_blocking(&mut b, &cfg.sql).is_ok())
        .unwrap_or(false);
    r.server_alive = pid == 0 || std::path::Path::new(&format!("/proc/{pid}")).exists();
    held.quit_all();
    r
}

/// A COM_QUERY packet (sequence id 0) appended to `w`.
fn com_query(w: &mut Vec<u8>, sql: &str) {
    let mut q = Vec::with_capacity(sql.len() + 1);
    q.push(0x03);
    q.extend_from_slice(sql.as_bytes());
    let mut seq = 0;
    packet::write_packet(w, &mut seq, &q);
}

/// `n` COM_QUERY packets of `sql`, pipelined.
fn pipelined(sql: &str, n: usize) -> Vec<u8> {
    let mut w = Vec::new();
    for _ in 0..n {
        com_query(&mut w, sql);
    }
    w
}

/// One COM_QUERY of `n` copies of `sql` joined by ';'.
fn multi_statement(sql: &str, n: usize) -> Vec<u8> {
    let text = vec![sql; n.max(1)].join(";");
    let mut w = Vec::new();
    com_query(&mut w, &text);
    w
}

/// One client that sends and never reads.
struct StuckClient {
    stream: TcpStream,
    born: Instant,
    life: Duration,
    /// What it is writing now, and how far it got.
    unit: Vec<u8>,
    pos: usize,
    written: u64,
}

/// Keeps `cfg.stuck` clients that never read their answers. Each writes
/// until its writes block (the server stopped reading from it: its unsent
/// answers passed the high-water mark) and tries again every round; each is
/// replaced after `STUCK_LIFE` (the first generation staggered over it), so
/// that the population stays the same while its members change. Returns the
/// clients opened (`ops`), unexpected events, and the most bytes one client
/// got written.
fn stuck(cfg: &Config, deadline: Instant) -> (Outcome, u64) {
    let mut out = Outcome::default();
    let mut max_written = 0u64;
    if cfg.stuck == 0 {
        return (out, 0);
    }
    // ~64 KiB of pipelined queries per unit
    let per = cfg.sql.len() + 5;
    let chunk = pipelined(&cfg.sql, (65536 / per).max(1));
    let multi = (cfg.multi > 0).then(|| multi_statement(&cfg.sql, cfg.multi));
    let mut slots: Vec<Option<StuckClient>> = (0..cfg.stuck).map(|_| None).collect();
    let mut first = true;
    // at least one round, however short the run (the smoke test counts on it)
    loop {
        for (i, slot) in slots.iter_mut().enumerate() {
            if slot.as_ref().is_some_and(|s| s.born.elapsed() >= s.life) {
                if let Some(s) = slot.take() {
                    max_written = max_written.max(s.written);
                }
            }
            if slot.is_none() {
                let Some(b) = login_blocking(&cfg.target, &mut out) else {
                    continue;
                };
                let (stream, _) = b.take();
                if stream.set_nonblocking(true).is_err() {
                    out.error("stuck_nonblocking");
                    continue;
                }
                let life = if first {
                    STUCK_LIFE.mul_f64((i + 1) as f64 / cfg.stuck as f64)
                } else {
                    STUCK_LIFE
                };
                let unit = match &multi {
                    Some(m) if i % 2 == 1 => m.clone(),
                    _ => chunk.clone(),
                };
                out.ops += 1;
                *slot = Some(StuckClient {
                    stream,
                    born: Instant::now(),
                    life,
                    unit,
                    pos: 0,
                    written: 0,
                });
            }
            let Some(s) = slot.as_mut() else {
                continue;
            };
            loop {
                match s.stream.write(&s.unit[s.pos..]) {
                    Ok(0) => break,
                    Ok(n) => {
                        s.pos += n;
                        s.written += n as u64;
                        if s.pos >= s.unit.len() {
                            // after the multi-statement (or a chunk), more pipelined queries
                            s.unit.clone_from(&chunk);
                            s.pos = 0;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        // the server closed a client whose only fault is not reading
                        out.error(&format!("stuck_write_{:?}", e.kind()));
                        max_written = max_written.max(s.written);
                        *slot = None;
                        break;
                    }
                }
            }
        }
        first = false;
        if Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(STUCK_ROUND.min(deadline.saturating_duration_since(Instant::now())));
    }
    for s in slots.into_iter().flatten() {
        max_written = max_written.max(s.written);
    }
    (out, max_written)
}

/// Clients that vanish mid-answer until `deadline`: log in, send a burst
/// whose answer is large (every other one a single multi-statement when
/// `cfg.multi` > 0), read the first bytes of the answer, close; every other
/// close is a reset (SO_LINGER 0).
fn vanish(cfg: &Config, deadline: Instant) -> Outcome {
    let mut out = Outcome::default();
    let burst = pipelined(&cfg.sql, VANISH_BURST);
    let multi = (cfg.multi > 0).then(|| multi_statement(&cfg.sql, cfg.multi));
    let mut n = 0u64;
    let mut buf = vec![0u8; 4096];
    // at least one, however short the run
    let mut first = true;
    while first || Instant::now() < deadline {
        first = false;
        std::thread::sleep(MISBEHAVE_PAUSE);
        let Some(b) = login_blocking(&cfg.target, &mut out) else {
            continue;
        };
        let (mut s, _) = b.take();
        n += 1;
        let w = match &multi {
            Some(m) if n.is_multiple_of(2) => m,
            _ => &burst,
        };
        if s.write_all(w).is_err() {
            out.error("write");
            continue;
        }
        let _ = s.set_read_timeout(Some(cfg.probe_timeout));
        match s.read(&mut buf) {
            Ok(0) => out.error("closed_before_answer"),
            Ok(_) => out.ops += 1,
            Err(_) => out.error("no_answer"),
        }
        if n % 2 == 1 {
            let _ = socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO));
        }
    }
    out
}

/// How a probe's connection ended.
#[derive(Debug)]
enum End {
    Eof,
    Timeout,
    Error,
}

/// One packet's payload from a blocking socket with a read timeout.
fn read_packet(s: &mut TcpStream, buf: &mut Vec<u8>) -> Result<Vec<u8>, End> {
    loop {
        if let Ok(Some(f)) = packet::decode_frame(buf, usize::MAX) {
            let mut scratch = Vec::new();
            let p = f.payload(buf, &mut scratch).to_vec();
            buf.drain(..f.consumed);
            return Ok(p);
        }
        let mut chunk = [0u8; 4096];
        match s.read(&mut chunk) {
            Ok(0) => return Err(End::Eof),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(End::Timeout)
            }
            Err(_) => return Err(End::Error),
        }
    }
}

/// The probes, each a kind of bad input and the ERR code it must get
/// (None: any ERR).
#[derive(Debug, Clone, Copy)]
enum Probe {
    /// After login, a header declaring 16 MiB - 1 (over --max-packet).
    OversizedCommand,
    /// Before login, the same.
    OversizedPrelogin,
    /// Before login, a header declaring 1 MiB: under --max-packet, over the
    /// pre-login limit (64 KiB), trickled (only the header and a few bytes).
    BigPrelogin,
    /// After login, a COM_QUERY with sequence id 3.
    WrongSeq,
    /// After the greeting, an HTTP request instead of a handshake response.
    HttpPrelogin,
    /// An HTTP request sent at once, before the greeting has arrived.
    HttpBeforeGreeting,
    /// A handshake response of three garbage bytes.
    GarbageHandshake,
    /// After login, a packet of length zero.
    EmptyPacket,
}

const PROBES: [Probe; 8] = [
    Probe::OversizedCommand,
    Probe::OversizedPrelogin,
    Probe::BigPrelogin,
    Probe::WrongSeq,
    Probe::HttpPrelogin,
    Probe::HttpBeforeGreeting,
    Probe::GarbageHandshake,
    Probe::EmptyPacket,
];

const HTTP: &[u8] = b"GET / HTTP/1.1\r\nHost: understudy\r\n\r\n";

impl Probe {
    fn name(self) -> &'static str {
        match self {
            Probe::OversizedCommand => "oversized_command",
            Probe::OversizedPrelogin => "oversized_prelogin",
            Probe::BigPrelogin => "big_prelogin",
            Probe::WrongSeq => "wrong_seq",
            Probe::HttpPrelogin => "http_prelogin",
            Probe::HttpBeforeGreeting => "http_before_greeting",
            Probe::GarbageHandshake => "garbage_handshake",
            Probe::EmptyPacket => "empty_packet",
        }
    }

    /// The ERR code it must get; None: any ERR will do.
    fn code(self) -> Option<u16> {
        match self {
            Probe::OversizedCommand | Probe::OversizedPrelogin | Probe::BigPrelogin => Some(1153),
            // the sequence id is checked first: 'GET ' is length "GET", seq ' '
            Probe::WrongSeq | Probe::HttpPrelogin | Probe::HttpBeforeGreeting => Some(1156),
            Probe::GarbageHandshake | Probe::EmptyPacket => None,
        }
    }

    /// Sends the bad input; Ok(the socket, ready to read the ERR, and any
    /// bytes already read past the greeting).
    fn send(self, cfg: &Config) -> Result<(TcpStream, Vec<u8>), &'static str> {
        let connect = || -> Result<TcpStream, &'static str> {
            let s = TcpStream::connect(cfg.target.addr).map_err(|_| "connect")?;
            let _ = s.set_nodelay(true);
            let _ = s.set_read_timeout(Some(cfg.probe_timeout));
            Ok(s)
        };
        let greeted = || -> Result<TcpStream, &'static str> {
            let mut s = connect()?;
            let mut buf = Vec::new();
            read_packet(&mut s, &mut buf).map_err(|_| "no_greeting")?;
            Ok(s)
        };
        let logged_in = || -> Result<TcpStream, &'static str> {
            // a failed login is this probe's one unexpected outcome, named below
            let b = login_blocking(&cfg.target, &mut Outcome::default()).ok_or("login")?;
            let (s, _) = b.take();
            let _ = s.set_read_timeout(Some(cfg.probe_timeout));
            Ok(s)
        };
        // a header declaring `len` bytes with sequence id `seq`
        let header = |len: usize, seq: u8| {
            let l = (len.min(0xFF_FFFF) as u32).to_le_bytes();
            [l[0], l[1], l[2], seq]
        };
        let over = cfg.max_packet.saturating_add(1).min(0xFF_FFFF);
        let (mut s, bytes): (TcpStream, Vec<u8>) = match self {
            Probe::OversizedCommand => (logged_in()?, header(over, 0).to_vec()),
            Probe::OversizedPrelogin => (greeted()?, header(over, 1).to_vec()),
            Probe::BigPrelogin => {
                let mut b = header(1 << 20, 1).to_vec();
                b.extend_from_slice(&[0x85, 0xa6, 0x3f, 0x20]); // a response's first bytes
                (greeted()?, b)
            }
            Probe::WrongSeq => {
                let mut w = Vec::new();
                let mut seq = 3;
                packet::write_packet(&mut w, &mut seq, b"\x03SELECT 1");
                (logged_in()?, w)
            }
            Probe::HttpPrelogin => (greeted()?, HTTP.to_vec()),
            Probe::HttpBeforeGreeting => {
                let mut s = connect()?;
                s.write_all(HTTP).map_err(|_| "write")?;
                let mut buf = Vec::new();
                read_packet(&mut s, &mut buf).map_err(|_| "no_greeting")?;
                // the ERR may have come in with the greeting: it is in `buf`
                return Ok((s, buf));
            }
            Probe::GarbageHandshake => {
                let mut w = Vec::new();
                let mut seq = 1;
                packet::write_packet(&mut w, &mut seq, &[0xde, 0xad, 0x01]);
                (greeted()?, w)
            }
            Probe::EmptyPacket => (logged_in()?, header(0, 0).to_vec()),
        };
        s.write_all(&bytes).map_err(|_| "write")?;
        Ok((s, Vec::new()))
    }
}

/// Runs one probe: Ok("kind:err_CODE") when it got the ERR it must and then
/// the close; Err("kind:what happened") otherwise.
fn probe(p: Probe, cfg: &Config) -> Result<String, String> {
    let name = p.name();
    let (mut s, mut buf) = p.send(cfg).map_err(|e| format!("{name}:{e}"))?;
    let pkt = read_packet(&mut s, &mut buf).map_err(|e| {
        format!(
            "{name}:{}",
            match e {
                End::Eof => "closed_without_err",
                End::Timeout => "no_answer",
                End::Error => "reset_without_err",
            }
        )
    })?;
    if pkt.first() != Some(&0xff) {
        return Err(format!("{name}:answer_not_err"));
    }
    let code = decode_err(&pkt).map(|e| e.code).unwrap_or(0);
    if p.code().is_some_and(|want| want != code) {
        return Err(format!("{name}:err_{code}"));
    }
    // then the close, promptly
    let _ = s.set_read_timeout(Some(cfg.probe_timeout.min(Duration::from_secs(5))));
    match read_packet(&mut s, &mut buf) {
        Err(End::Eof) | Err(End::Error) => Ok(format!("{name}:err_{code}")),
        Err(End::Timeout) => Err(format!("{name}:err_{code}_not_closed")),
        Ok(_) => Err(format!("{name}:err_{code}_then_more")),
    }
}

/// Runs every probe in turn, in whole rounds, until `deadline`; returns (expected outcomes,
/// unexpected ones), `ops` = probes run.
fn probes(cfg: &Config, deadline: Instant) -> (Outcome, Outcome) {
    let (mut expected, mut unexpected) = (Outcome::default(), Outcome::default());
    // whole rounds, at least one, however short the run
    let mut first = true;
    while first || Instant::now() < deadline {
        first = false;
        for p in PROBES {
            std::thread::sleep(MISBEHAVE_PAUSE);
            match probe(p, cfg) {
                Ok(kind) => {
                    expected.ops += 1;
                    expected.count(&kind, 1);
                }
                Err(kind) => {
                    unexpected.ops += 1;
                    unexpected.count(&kind, 1);
                }
            }
        }
    }
    (expected, unexpected)
}
