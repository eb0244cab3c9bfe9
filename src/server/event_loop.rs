//! The event loop: one mio `Poll` on one thread, the listeners, a slab of
//! connections, a timer heap and a ready queue.
//!
//! Every connection is registered once for both readable and writable edges.
//! On any event, [`EventLoop::drive`] does all it can for that connection:
//! flush pending output, read (into one shared scratch buffer), decode and answer
//! whole packets (into one shared output buffer), and write the answers with one
//! `write` per batch. Only leftovers (a partial packet, output the socket would
//! not take) are copied into the connection's own buffers.

use super::buffer::{Buf, READ_CHUNK, SCRATCH_KEEP};
use super::compress::{Codecs, Compressed};
use super::connection::{self, Connection, Ctx, Next, Phase};
use super::listener::{self, Refusal, Spare};
use super::nonce::NonceSource;
use super::stream::{Listener, Stream};
use super::tls::{Fed, Tls};
use crate::config::Config;
use crate::limits;
use crate::protocol::compress::Algorithm;
use crate::responder::{Peer, Responder, Session};
use crate::stats::Stats;
use log::{debug, info, warn};
use mio::{Events, Interest, Poll, Token, Waker};
use slab::Slab;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Stale timer entries tolerated before the heap is swept (see `close`):
/// 4096 entries are 160 KiB.
const STALE_TIMERS_FLOOR: usize = 4096;

const TCP_LISTENER: Token = Token(usize::MAX - 1);
const UNIX_LISTENER: Token = Token(usize::MAX - 2);
const WAKER: Token = Token(usize::MAX - 3);
const ADMIN_LISTENER: Token = Token(usize::MAX - 4);

/// Most admin connections at once: a handful of test harnesses and
/// operators; the admin port is not a load-test target.
pub const MAX_ADMIN_CONNECTIONS: usize = 64;

/// Reads or batches per connection per turn before others get a go.
const STEP_BUDGET: usize = 32;

/// How long a closing connection may take to drain its last answer, and how long
/// a graceful shutdown waits for all of them.
const LINGER: Duration = Duration::from_secs(5);

/// Handles to a running loop from other threads: stop it, ask for a reload.
#[derive(Debug, Clone)]
pub struct Control {
    inner: Arc<ControlInner>,
}

#[derive(Debug)]
struct ControlInner {
    waker: Waker,
    shutdown: AtomicBool,
    reload: AtomicBool,
}

impl Control {
    /// Stop accepting, flush what is in flight, return from `run`.
    pub fn shutdown(&self) {
        self.inner.shutdown.store(true, Ordering::SeqCst);
        let _ = self.inner.waker.wake();
    }

    /// Reload scripts (SIGHUP).
    pub fn reload(&self) {
        self.inner.reload.store(true, Ordering::SeqCst);
        let _ = self.inner.waker.wake();
    }
}

/// What a timer entry is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum TimerKind {
    Handshake,
    Idle,
    Hold,
    Linger,
    Wait,
}

/// Which listener a client came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Tcp,
    Unix,
    Admin,
}

/// What [`EventLoop::process`] is to do for a connection.
#[derive(Debug, Clone, Copy)]
enum Work {
    /// `scratch_in[..n]` was just read.
    Fresh(usize),
    /// `scratch_plain` was just decrypted or inflated (fresh input of a TLS or
    /// compressed connection).
    Decrypted,
    /// Answer what the connection has buffered.
    Buffered,
    /// Carry on an answer that paused at the high-water mark.
    Resume,
    /// Poll an answer not known yet (`true`: its deadline has passed).
    Poll(bool),
}

/// A connection slot: the socket, the protocol state and the leftovers.
struct Slot {
    stream: Stream,
    conn: Connection,
    /// Unconsumed input (a partial packet, or input held back by back-pressure).
    input: Buf,
    /// Output the socket did not take yet.
    output: Buf,
    /// Output held back by a responder delay (boxed: rare, and idle slots stay small).
    held: Option<Box<Buf>>,
    /// Unique id: guards timer entries against slab key reuse.
    id: u32,
    /// An idle-timeout timer is in the heap for this connection.
    idle_armed: bool,
    /// A connection of the admin port.
    admin: bool,
    /// In `EventLoop::waiting`: its answer is to come later.
    waiting: bool,
    /// TLS, after an SSLRequest: `input` and `held` hold plaintext,
    /// `output` ciphertext (boxed: plain connections pay a pointer).
    tls: Option<Box<Tls>>,
    /// The compressed protocol, after the login OK: `input` and `held` hold
    /// packets, `output` frames (sealed over TLS).
    compress: Option<Box<Compressed>>,
}

/// The admin port's side of the loop.
pub struct AdminPort {
    /// Who answers admin connections.
    pub responder: Box<dyn Responder>,
    /// What the admin responder and the loop share (connections, kills).
    pub registry: std::rc::Rc<std::cell::RefCell<crate::admin::Registry>>,
    /// Where it listens.
    pub addr: SocketAddr,
}

/// What a server runs with besides its configuration and responders.
#[derive(Default)]
pub struct Extras {
    /// The journal to write.
    pub journal: Option<crate::journal::Journal>,
    /// The admin port.
    pub admin: Option<AdminPort>,
}

struct Admin {
    listener: Listener,
    config: Config,
    responder: Box<dyn Responder>,
    registry: std::rc::Rc<std::cell::RefCell<crate::admin::Registry>>,
    open: usize,
    addr: SocketAddr,
    /// The admin connections' own counters: SHOW STATS reports the clients'.
    stats: Stats,
}

/// The server loop. Build with [`EventLoop::bind`], run with [`EventLoop::run`].
pub struct EventLoop {
    poll: Poll,
    config: Config,
    tcp: Option<Listener>,
    unix: Option<Listener>,
    local_addr: SocketAddr,
    conns: Slab<Slot>,
    timers: BinaryHeap<Reverse<(Instant, TimerKind, usize, u32)>>,
    ready: VecDeque<usize>,
    responder: Box<dyn Responder>,
    stats: Arc<Stats>,
    control: Control,
    nonces: NonceSource,
    next_id: u32,
    scratch_in: Vec<u8>,
    scratch_out: Vec<u8>,
    scratch_payload: Vec<u8>,
    /// What one read took from the socket, for a TLS or compressed
    /// connection (a plain one reads into `scratch_in`).
    scratch_tls: Vec<u8>,
    /// TLS and compressed connections' plaintext: what one read decrypted
    /// or inflated to.
    scratch_plain: Vec<u8>,
    /// The other buffer of a layered connection: frames inflated from, or a
    /// batch compressed or sealed into (then swapped with `scratch_out`).
    scratch_z: Vec<u8>,
    /// zlib's and zstd's contexts, for all connections (see [`Codecs`]).
    codecs: Codecs,
    shutting_down: Option<Instant>,
    /// The descriptor given up to refuse a client when descriptors run out.
    spare: Spare,
    /// Accepting stopped for want of descriptors with clients possibly still in
    /// the backlog; edge-triggered readiness will not report the listener again,
    /// so it is retried when a connection closes and on the one-second tick.
    accept_starved: bool,
    /// A close asked (through the waker) for the starved accept to be retried.
    resume_requested: bool,
    journal: Option<crate::journal::Journal>,
    admin: Option<Admin>,
    /// Connections whose answer is to come later ([`Next::Wait`]).
    waiting: Vec<(usize, u32)>,
}

impl EventLoop {
    /// Binds the listeners. The responder is built by the caller (on this thread:
    /// a Lua state cannot move between threads).
    pub fn bind(
        config: Config,
        responder: Box<dyn Responder>,
        stats: Arc<Stats>,
    ) -> io::Result<EventLoop> {
        EventLoop::bind_with(config, responder, stats, Extras::default())
    }

    /// [`EventLoop::bind`] with a journal and an admin port.
    pub fn bind_with(
        config: Config,
        responder: Box<dyn Responder>,
        stats: Arc<Stats>,
        extras: Extras,
    ) -> io::Result<EventLoop> {
        let poll = Poll::new()?;
        let addr: SocketAddr = format!("{}:{}", config.bind, config.port)
            .parse()
            .or_else(|_| {
                use std::net::ToSocketAddrs;
                (config.bind.as_str(), config.port)
                    .to_socket_addrs()?
                    .next()
                    .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address"))
            })
            .map_err(|e| io::Error::new(e.kind(), format!("--bind {}: {e}", config.bind)))?;
        let mut tcp = listener::bind_tcp(addr, config.back_log)
            .map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))?;
        let local_addr = tcp.local_addr()?;
        poll.registry()
            .register(&mut tcp, TCP_LISTENER, Interest::READABLE)?;
        let mut unix = None;
        if let Some(path) = &config.socket {
            // Replaces only a stale socket of an earlier run; refuses anything else.
            let mut l = listener::bind_unix(path, config.back_log)?;
            poll.registry()
                .register(&mut l, UNIX_LISTENER, Interest::READABLE)?;
            unix = Some(Listener::Unix(l));
        }
        let admin = match extras.admin {
            None => None,
            Some(a) => {
                let mut l = listener::bind_tcp(a.addr, 128).map_err(|e| {
                    io::Error::new(
                        e.kind(),
                        format!("cannot open the admin port on {}: {e}", a.addr),
                    )
                })?;
                let addr = l.local_addr()?;
                poll.registry()
                    .register(&mut l, ADMIN_LISTENER, Interest::READABLE)?;
                info!("admin port listening on {addr}");
                let mut ac = config.clone();
                ac.users = config.admin_user.iter().cloned().collect();
                ac.max_connections = MAX_ADMIN_CONNECTIONS;
                ac.idle_timeout = None;
                Some(Admin {
                    listener: Listener::Tcp(l),
                    config: ac,
                    responder: a.responder,
                    registry: a.registry,
                    open: 0,
                    addr,
                    stats: Stats::default(),
                })
            }
        };
        let waker = Waker::new(poll.registry(), WAKER)?;
        listener::check_fd_budget(config.max_connections);
        let control = Control {
            inner: Arc::new(ControlInner {
                waker,
                shutdown: AtomicBool::new(false),
                reload: AtomicBool::new(false),
            }),
        };
        info!(
            "understudy listening on {local_addr}{}",
            config
                .socket
                .as_ref()
                .map(|p| format!(" and {}", p.display()))
                .unwrap_or_default()
        );
        Ok(EventLoop {
            poll,
            config,
            tcp: Some(Listener::Tcp(tcp)),
            unix,
            local_addr,
            conns: Slab::with_capacity(1024),
            timers: BinaryHeap::new(),
            ready: VecDeque::new(),
            responder,
            stats,
            control,
            nonces: NonceSource::default(),
            next_id: 1,
            scratch_in: vec![0; READ_CHUNK],
            scratch_out: Vec::with_capacity(READ_CHUNK),
            scratch_payload: Vec::new(),
            scratch_tls: vec![0; READ_CHUNK],
            scratch_plain: Vec::new(),
            scratch_z: Vec::new(),
            codecs: Codecs::default(),
            shutting_down: None,
            spare: Spare::open(),
            accept_starved: false,
            resume_requested: false,
            journal: extras.journal,
            admin,
            waiting: Vec::new(),
        })
    }

    /// The admin port's address, when it is open.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().map(|a| a.addr)
    }

    /// The TCP address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A handle to stop or reload the loop from another thread.
    pub fn control(&self) -> Control {
        self.control.clone()
    }

    /// Runs until [`Control::shutdown`]; then stops accepting, lets in-flight
    /// answers drain (for at most a few seconds) and returns.
    pub fn run(mut self) -> io::Result<()> {
        self.responder.listening(self.local_addr);
        if let Some(a) = self.admin.as_mut() {
            a.responder.listening(a.addr);
        }
        let mut events = Events::with_capacity(1024);
        let mut last_tick = Instant::now();
        let mut last_stats = (Instant::now(), self.stats.snapshot());
        loop {
            let now = Instant::now();
            let timeout = if !self.ready.is_empty() {
                Some(Duration::ZERO)
            } else {
                let t = self
                    .timers
                    .peek()
                    .map(|Reverse((t, ..))| t.saturating_duration_since(now));
                let mut tick = Duration::from_secs(1).saturating_sub(now - last_tick);
                if let Some(every) = self.config.stats_interval {
                    tick = tick.min(every.saturating_sub(now - last_stats.0));
                }
                Some(t.map_or(tick, |t| t.min(tick)))
            };
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            for ev in events.iter() {
                match ev.token() {
                    TCP_LISTENER => self.accept(true),
                    UNIX_LISTENER => self.accept(false),
                    ADMIN_LISTENER => self.accept_admin(),
                    WAKER => self.on_wake(),
                    // A connection: readable, writable, error or hang-up all lead to
                    // the same attempt to make progress; spurious events are harmless.
                    Token(key) => self.drive(key),
                }
            }
            for _ in 0..self.ready.len() {
                if let Some(key) = self.ready.pop_front() {
                    self.drive(key);
                }
            }
            self.fire_timers();
            self.serve_admin();
            // lines written since the last answer (disconnects, a refused
            // login's) reach the file at the end of the turn
            if let Some(j) = &self.journal {
                j.flush();
            }
            if last_tick.elapsed() >= Duration::from_secs(1) {
                last_tick = Instant::now();
                let responder = &mut self.responder;
                let _ = connection::guarded(0, || responder.tick());
                if let Some(a) = self.admin.as_mut() {
                    let r = &mut a.responder;
                    let _ = connection::guarded(0, || r.tick());
                }
                self.resume_accept();
            }
            if let Some(every) = self.config.stats_interval {
                if last_stats.0.elapsed() >= every {
                    let (line, snap) = self
                        .stats
                        .line(&last_stats.1, last_stats.0.elapsed().as_secs_f64());
                    eprintln!("{line}");
                    last_stats = (Instant::now(), snap);
                }
            }
            if let Some(since) = self.shutting_down {
                let busy = self
                    .conns
                    .iter()
                    .any(|(_, s)| !s.output.is_empty() || s.held.is_some());
                if !busy || since.elapsed() > LINGER {
                    self.close_all();
                    if self.config.stats_interval.is_some() {
                        let (line, _) = self.stats.line(
                            &Default::default(),
                            self.stats.started.elapsed().as_secs_f64(),
                        );
                        eprintln!("{}", line.replacen("stats:", "stats (total):", 1));
                    }
                    info!("understudy stopped");
                    return Ok(());
                }
            }
        }
    }

    fn on_wake(&mut self) {
        self.resume_accept();
        if self.control.inner.reload.swap(false, Ordering::SeqCst) {
            info!("reload requested");
            let responder = &mut self.responder;
            let _ = connection::guarded(0, || responder.reload());
        }
        if self.control.inner.shutdown.load(Ordering::SeqCst) && self.shutting_down.is_none() {
            info!(
                "shutting down: no new connections, flushing {} open",
                self.conns.len()
            );
            self.shutting_down = Some(Instant::now());
            for mut l in [self.tcp.take(), self.unix.take()].into_iter().flatten() {
                let _ = self.poll.registry().deregister(&mut l);
            }
            if let Some(a) = self.admin.as_mut() {
                let _ = self.poll.registry().deregister(&mut a.listener);
            }
            if let Some(p) = &self.config.socket {
                let _ = std::fs::remove_file(p);
            }
            // Idle connections have nothing in flight: they go now; busy ones drain.
            let idle: Vec<usize> = self
                .conns
                .iter()
                .filter(|(_, s)| s.output.is_empty() && s.held.is_none())
                .map(|(k, _)| k)
                .collect();
            for k in idle {
                self.close(k, "server shutdown");
            }
            for (_, s) in self.conns.iter_mut() {
                s.conn.close();
            }
        }
    }

    fn accept(&mut self, tcp: bool) {
        self.accept_on(if tcp { Side::Tcp } else { Side::Unix });
    }

    fn accept_admin(&mut self) {
        self.accept_on(Side::Admin);
    }

    fn accept_on(&mut self, side: Side) {
        loop {
            let l = match side {
                Side::Tcp => self.tcp.as_ref(),
                Side::Unix => self.unix.as_ref(),
                Side::Admin => self.admin.as_ref().map(|a| &a.listener),
            };
            let Some(l) = l else { return };
            let (mut stream, peer) = match l.accept() {
                Ok(x) => x,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // That client reset before we took it: the next may be there.
                Err(e) if listener::is_per_connection(&e) => continue,
                Err(e) if listener::is_fd_exhaustion(&e) => {
                    // Out of descriptors: the pending client would hang in the
                    // backlog. Refuse it with ERR 1040 through the spare and
                    // go on with the next (each refusal takes one from the
                    // backlog, so this ends).
                    match listener::refuse_one(l, &mut self.spare) {
                        Refusal::Refused => {
                            self.stats.accepted.add(1);
                            self.stats.refused.add(1);
                            debug!("refused a client: out of descriptors ({e})");
                            continue;
                        }
                        Refusal::NonePending => return,
                        Refusal::Starved => return self.starve(&e),
                    }
                }
                // ENOBUFS, ENOMEM and the like: retried later. Never fatal.
                Err(e) => return self.starve(&e),
            };
            let admin = side == Side::Admin;
            let admin_open = self.admin.as_ref().map_or(0, |a| a.open);
            if admin {
                if admin_open >= MAX_ADMIN_CONNECTIONS {
                    listener::refuse(&mut stream);
                    debug!("refused admin client {peer}: too many admin connections");
                    continue;
                }
            } else {
                self.stats.accepted.add(1);
                // admin connections do not count against --max-connections
                if self.conns.len() - admin_open >= self.config.max_connections {
                    listener::refuse(&mut stream);
                    self.stats.refused.add(1);
                    debug!("refused {peer}: too many connections");
                    continue;
                }
            }
            let local = match &stream {
                // The listener's address is the connection's local address unless
                // it listens on a wildcard: only then ask the kernel (one syscall
                // less per handshake in the common case).
                Stream::Tcp(_) if !admin && !self.local_addr.ip().is_unspecified() => {
                    Peer::Tcp(self.local_addr)
                }
                Stream::Tcp(s) => s.local_addr().map(Peer::Tcp).unwrap_or(Peer::Unix),
                Stream::Unix(_) => Peer::Unix,
            };
            let id = self.next_id;
            self.next_id = self.next_id.wrapping_add(1).max(1);
            let entry = self.conns.vacant_entry();
            let key = entry.key();
            if let Err(e) = self.poll.registry().register(
                &mut stream,
                Token(key),
                Interest::READABLE | Interest::WRITABLE,
            ) {
                warn!("register failed: {e}");
                continue;
            }
            let now = Instant::now();
            debug!(
                "conn {id}: accepted from {peer}{}",
                if admin { " (admin)" } else { "" }
            );
            entry.insert(Slot {
                stream,
                conn: Connection::new(Session::new(id, peer, local), now),
                input: Buf::default(),
                output: Buf::default(),
                held: None,
                id,
                idle_armed: false,
                admin,
                waiting: false,
                tls: None,
                compress: None,
            });
            if let (true, Some(a)) = (admin, self.admin.as_mut()) {
                a.open += 1;
            } else {
                self.stats.open.add(1);
            }
            self.timers.push(Reverse((
                limits::deadline(now, self.config.handshake_timeout),
                TimerKind::Handshake,
                key,
                id,
            )));
            let nonce = self.nonces.next_nonce();
            let slot = &mut self.conns[key];
            let mut ctx = ctx_for(
                &mut self.admin,
                admin,
                &self.config,
                &mut self.responder,
                self.journal.as_ref(),
                &self.stats,
                &mut self.scratch_payload,
                now,
            );
            self.scratch_out.clear();
            let out = &mut self.scratch_out;
            if connection::guarded(id, || slot.conn.start(&mut ctx, out, nonce)).is_none() {
                self.scratch_out.clear();
                self.close(key, "internal error");
                continue;
            }
            self.write_out(key);
        }
    }

    /// Does all that can be done for one connection now.
    fn drive(&mut self, key: usize) {
        let Some(slot) = self.conns.get_mut(key) else {
            return; // event for a connection closed earlier in this turn
        };
        // 1. pending output first: it may unblock reading
        if !slot.output.is_empty() && !flush(slot, &self.stats) {
            return self.close(key, "write failed");
        }
        let mut steps = 0;
        // A read that returned less than asked emptied the socket: the next read
        // would only say WouldBlock, so it is skipped (one read per readiness);
        // new bytes bring a new edge.
        let mut drained = false;
        loop {
            let slot = &mut self.conns[key]; // invariant: key checked above; close() returns early
            let next = slot.conn.next();
            if matches!(next, Next::Close | Next::HoldUntil(_) | Next::Wait(_))
                || slot.held.is_some()
            {
                break;
            }
            if slot.output.len() >= self.config.write_high_water {
                // Back-pressure: the client is not reading its answers. The output
                // is only non-empty after a write hit WouldBlock, so a writable
                // edge will bring us back here.
                break;
            }
            if steps >= STEP_BUDGET {
                self.ready.push_back(key); // fairness: others get a turn first
                break;
            }
            steps += 1;
            // 2. an answer that paused at the high-water mark goes on first:
            // the client has read enough of it for the output to drop below.
            if next == Next::Resume {
                self.process(key, Work::Resume);
                if !self.conns.contains(key) {
                    return;
                }
                continue;
            }
            // 3. answer what is already buffered, before reading more: the input
            // must not grow while answers are held back.
            if !slot.input.is_empty() {
                let before = slot.input.len();
                self.process(key, Work::Buffered);
                match self.conns.get(key) {
                    None => return,
                    Some(s) if s.input.len() < before => continue,
                    Some(_) => {} // only a partial packet is buffered: read more
                }
            }
            // 4. read more: a plain connection's bytes are packets; over TLS
            // or compressed, they are decrypted and inflated as they are fed
            let slot = &mut self.conns[key];
            if drained {
                break;
            }
            let layered = slot.tls.is_some() || slot.compress.is_some();
            let buf = if layered {
                &mut self.scratch_tls
            } else {
                &mut self.scratch_in
            };
            match slot.stream.read(buf) {
                Ok(0) => return self.close(key, "client closed the connection"),
                Ok(n) => {
                    drained = n < buf.len();
                    if layered {
                        if let Err(why) = self.feed_wire(key, n) {
                            return self.close(key, &why);
                        }
                    } else {
                        self.process(key, Work::Fresh(n));
                    }
                    if !self.conns.contains(key) {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    debug!("conn {}: read error: {e}", slot.id);
                    return self.close(key, "read failed");
                }
            }
        }
        if let Some(slot) = self.conns.get(key) {
            if slot.conn.phase() == Phase::Closing && slot.output.is_empty() && slot.held.is_none()
            {
                self.close(key, "closing");
            }
        }
    }

    /// Decodes and answers whole packets, from a fresh read or from the
    /// connection's buffered input, or carries on a paused answer; then writes
    /// the batch. A panic in the connection's own code closes that connection.
    fn process(&mut self, key: usize, work: Work) {
        let slot = &mut self.conns[key]; // invariant: callers pass a live key
        let mut ctx = ctx_for(
            &mut self.admin,
            slot.admin,
            &self.config,
            &mut self.responder,
            self.journal.as_ref(),
            &self.stats,
            &mut self.scratch_payload,
            Instant::now(),
        );
        self.scratch_out.clear();
        let queued = slot.output.len();
        let out = &mut self.scratch_out;
        let fresh: &[u8] = match work {
            Work::Fresh(n) => &self.scratch_in[..n],
            Work::Decrypted => &self.scratch_plain,
            _ => &[],
        };
        let done = connection::guarded(slot.id, || match work {
            Work::Resume => slot.conn.resume(queued, &mut ctx, out),
            Work::Poll(timed_out) => {
                slot.conn.poll_later(timed_out, &mut ctx, out);
            }
            Work::Fresh(_) | Work::Decrypted if slot.input.is_empty() => {
                // Fast path: process straight from the read buffer; keep only leftovers.
                let consumed = slot.conn.on_input(fresh, queued, &mut ctx, out);
                if consumed < fresh.len() && slot.conn.phase() != Phase::Closing {
                    slot.input.extend(&fresh[consumed..]);
                }
            }
            Work::Fresh(_) | Work::Decrypted | Work::Buffered => {
                slot.input.extend(fresh);
                let consumed = slot
                    .conn
                    .on_input(slot.input.bytes(), queued, &mut ctx, out);
                slot.input.consume(consumed);
                if slot.conn.phase() == Phase::Closing {
                    slot.input.consume(usize::MAX);
                }
            }
        });
        if done.is_none() {
            self.scratch_out.clear();
            return self.close(key, "internal error");
        }
        if slot.conn.take_start_tls() {
            return self.start_tls(key);
        }
        if let Some((until, mark)) = slot.conn.hold() {
            if slot.held.is_none() {
                let mut held = Buf::default();
                held.extend(&self.scratch_out[mark..]);
                slot.held = Some(Box::new(held));
                self.scratch_out.truncate(mark);
                self.timers
                    .push(Reverse((until, TimerKind::Hold, key, slot.id)));
            }
        }
        if let (Next::Wait(until), false) = (slot.conn.next(), slot.waiting) {
            slot.waiting = true;
            self.waiting.push((key, slot.id));
            self.timers
                .push(Reverse((until, TimerKind::Wait, key, slot.id)));
        }
        if slot.conn.phase() == Phase::Closing {
            self.timers.push(Reverse((
                limits::deadline(Instant::now(), LINGER),
                TimerKind::Linger,
                key,
                slot.id,
            )));
        }
        // One idle timer per connection at a time: armed at login, and when it
        // fires early (the client was active since) it re-arms itself. Arming
        // on every command would grow the heap with the request rate.
        if slot.conn.is_logged_in() && !slot.idle_armed {
            if let Some(idle) = self.config.idle_timeout {
                slot.idle_armed = true;
                self.timers.push(Reverse((
                    limits::deadline(slot.conn.last_active(), idle),
                    TimerKind::Idle,
                    key,
                    slot.id,
                )));
            }
        }
        let compress = slot.conn.take_start_compression();
        self.write_out(key);
        if let Some(algo) = compress {
            self.start_compression(key, algo);
        }
    }

    /// Writes `scratch_out` to the connection (one `write` for the batch), after
    /// anything already pending; keeps what the socket does not take. Over
    /// TLS the batch is sealed first (one pass, records of up to 16 KiB).
    fn write_out(&mut self, key: usize) {
        let Some(slot) = self.conns.get_mut(key) else {
            return;
        };
        if self.scratch_out.is_empty() {
            return;
        }
        if let Some(c) = slot.compress.as_mut() {
            self.scratch_z.clear();
            c.wrap(&mut self.codecs, &self.scratch_out, &mut self.scratch_z);
            std::mem::swap(&mut self.scratch_out, &mut self.scratch_z);
        }
        if let Some(tls) = slot.tls.as_mut() {
            self.scratch_z.clear();
            tls.seal(&self.scratch_out, &mut self.scratch_z);
            std::mem::swap(&mut self.scratch_out, &mut self.scratch_z);
        }
        if self.scratch_z.capacity() > SCRATCH_KEEP {
            self.scratch_z = Vec::new();
        }
        self.write_raw(key);
    }

    /// A client sent an SSLRequest: TLS starts on the bytes after it (the
    /// start of the ClientHello, often in the same read).
    fn start_tls(&mut self, key: usize) {
        let Some(cfg) = self.config.tls.clone() else {
            return self.close(key, "TLS asked without a TLS configuration");
        };
        let slot = &mut self.conns[key];
        let tls = match Tls::new(&cfg) {
            Ok(t) => t,
            Err(e) => {
                warn!("conn {}: cannot start TLS: {e}", slot.id);
                return self.close(key, "TLS start failed");
            }
        };
        slot.tls = Some(Box::new(tls));
        let early = std::mem::take(&mut slot.input);
        let n = early.len();
        if n == 0 {
            return;
        }
        if self.scratch_tls.len() < n {
            self.scratch_tls.resize(n, 0);
        }
        self.scratch_tls[..n].copy_from_slice(early.bytes());
        if let Err(why) = self.feed_wire(key, n) {
            self.close(key, &why);
        }
    }

    /// The login OK went out to a client that asked for the compressed
    /// protocol: from here on both ways are frames. Input after the login
    /// packet (a client that did not wait for the OK) is frames already.
    fn start_compression(&mut self, key: usize, algo: Algorithm) {
        let Some(slot) = self.conns.get_mut(key) else {
            return;
        };
        debug!("conn {}: compressed protocol ({})", slot.id, algo.name());
        slot.compress = Some(Box::new(Compressed::new(algo)));
        let early = std::mem::take(&mut slot.input);
        if early.is_empty() {
            return;
        }
        self.scratch_plain.clear();
        self.scratch_plain.extend_from_slice(early.bytes());
        if let Err(why) = self.inflate(key, None) {
            self.close(key, &why);
        }
    }

    /// Hands `scratch_tls[..n]` (what one read took from the socket) to the
    /// connection's layers: TLS decrypts it (and what TLS answers, handshake
    /// messages or alerts, is sent), the compressed protocol inflates it,
    /// and the packets are answered. Err: the connection is to close, and why.
    fn feed_wire(&mut self, key: usize, n: usize) -> Result<(), String> {
        let slot = &mut self.conns[key];
        let Some(tls) = slot.tls.as_mut() else {
            return self.inflate(key, Some(n));
        };
        self.scratch_out.clear();
        self.scratch_plain.clear();
        let fed = tls.feed(
            &mut self.scratch_tls[..n],
            &mut self.scratch_plain,
            &mut self.scratch_out,
        );
        if slot.conn.session().tls.is_none() && !tls.is_handshaking() {
            if let Some(d) = tls.describe() {
                debug!("conn {}: TLS established: {} {}", slot.id, d.0, d.1);
                slot.conn.set_tls(d);
            }
        }
        self.write_raw(key);
        match fed {
            Fed::Ok => self.inflate(key, None),
            Fed::Closed => Err("client ended TLS".to_string()),
            Fed::Failed(e) => {
                debug!("conn {key}: TLS failed: {e}");
                if !self.conns.get(key).is_some_and(|s| s.conn.is_logged_in()) {
                    self.stats.handshakes_failed.add(1);
                }
                Err(format!("TLS error: {e}"))
            }
        }
    }

    /// Answers fresh input of a layered connection: `scratch_tls[..n]` as
    /// read (`Some(n)`: a compressed connection without TLS) or
    /// `scratch_plain` as decrypted (`None`), inflated first when the
    /// connection is compressed.
    fn inflate(&mut self, key: usize, raw: Option<usize>) -> Result<(), String> {
        let Some(slot) = self.conns.get_mut(key) else {
            return Ok(()); // closed while writing what TLS answered
        };
        if let Some(c) = slot.compress.as_mut() {
            let src = match raw {
                Some(n) => &self.scratch_tls[..n],
                None => &self.scratch_plain[..],
            };
            self.scratch_z.clear();
            if let Err(e) = c.unwrap(&mut self.codecs, src, &mut self.scratch_z) {
                self.stats.protocol_errors.add(1);
                return Err(format!("compressed protocol: {e}"));
            }
            std::mem::swap(&mut self.scratch_plain, &mut self.scratch_z);
        }
        if !self.scratch_plain.is_empty() {
            self.process(key, Work::Decrypted);
        }
        for v in [&mut self.scratch_plain, &mut self.scratch_z] {
            if v.capacity() > SCRATCH_KEEP {
                *v = Vec::new();
            }
        }
        Ok(())
    }

    /// Writes `scratch_out` as it is (a plain batch, or ciphertext).
    fn write_raw(&mut self, key: usize) {
        let Some(slot) = self.conns.get_mut(key) else {
            return;
        };
        if self.scratch_out.is_empty() {
            return;
        }
        // the journal's lines reach the file before the answers they record
        // reach the client
        if let Some(j) = &self.journal {
            j.flush();
        }
        if !slot.output.is_empty() {
            slot.output.extend(&self.scratch_out);
        } else {
            let mut written = 0;
            while written < self.scratch_out.len() {
                match slot.stream.write(&self.scratch_out[written..]) {
                    Ok(0) => break,
                    Ok(n) => written += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        debug!("conn {}: write error: {e}", slot.id);
                        slot.conn.close();
                        slot.output = Buf::default();
                        self.scratch_out.clear();
                        return self.close(key, "write failed");
                    }
                }
            }
            self.stats.bytes_out.add(written as u64);
            if written < self.scratch_out.len() {
                slot.output.extend(&self.scratch_out[written..]);
            }
        }
        self.scratch_out.clear();
        if self.scratch_out.capacity() > SCRATCH_KEEP {
            self.scratch_out = Vec::with_capacity(READ_CHUNK);
        }
    }

    fn fire_timers(&mut self) {
        let now = Instant::now();
        while let Some(Reverse((t, kind, key, id))) = self.timers.peek().copied() {
            if t > now {
                break;
            }
            self.timers.pop();
            let Some(slot) = self.conns.get_mut(key) else {
                continue;
            };
            if slot.id != id {
                continue; // the slot was reused by a newer connection
            }
            match kind {
                TimerKind::Handshake => {
                    if !slot.conn.is_logged_in() && slot.conn.phase() != Phase::Closing {
                        slot.conn.on_handshake_timeout(&self.stats);
                        self.close(key, "handshake timeout");
                    }
                }
                TimerKind::Idle => {
                    let Some(idle) = self.config.idle_timeout else {
                        continue;
                    };
                    let due = limits::deadline(slot.conn.last_active(), idle);
                    if !slot.conn.is_logged_in() {
                        slot.idle_armed = false;
                    } else if due <= now && slot.output.is_empty() {
                        self.scratch_out.clear();
                        slot.conn.on_idle_timeout(&mut self.scratch_out);
                        self.write_out(key);
                        self.close(key, "idle timeout");
                    } else {
                        // active since (or still sending): look again later
                        let at = if due > now {
                            due
                        } else {
                            limits::deadline(now, idle)
                        };
                        self.timers.push(Reverse((at, TimerKind::Idle, key, id)));
                    }
                }
                TimerKind::Hold => {
                    if slot.conn.hold().is_none_or(|(until, _)| until > now) {
                        continue;
                    }
                    match (slot.conn.drip(), slot.held.take()) {
                        (Some((bytes, every)), Some(mut held)) if held.len() > bytes => {
                            // a drip: one piece now, the next one later
                            queue(
                                slot,
                                &mut self.codecs,
                                &held.bytes()[..bytes],
                                &mut self.scratch_z,
                            );
                            held.consume(bytes);
                            slot.held = Some(held);
                            let next = limits::deadline(now, every);
                            slot.conn.rearm_hold(next);
                            self.timers.push(Reverse((next, TimerKind::Hold, key, id)));
                        }
                        (_, held) => {
                            slot.conn.release_hold();
                            if let Some(held) = held {
                                queue(slot, &mut self.codecs, held.bytes(), &mut self.scratch_z);
                            }
                        }
                    }
                    self.drive(key);
                }
                TimerKind::Wait => {
                    if matches!(slot.conn.next(), Next::Wait(until) if until <= now) {
                        self.process(key, Work::Poll(true));
                        self.after_wait(key);
                    }
                }
                TimerKind::Linger => {
                    if slot.conn.phase() == Phase::Closing {
                        self.close(key, "closing connection did not drain in time");
                    }
                }
            }
        }
    }

    fn close(&mut self, key: usize, why: &str) {
        if !self.conns.contains(key) {
            return;
        }
        // No explicit deregister: closing the socket removes it from the epoll
        // set (the fd is never duplicated), which saves an epoll_ctl per close.
        let slot = self.conns.remove(key);
        if slot.conn.resets() {
            slot.stream.reset_on_close();
        }
        match (&mut self.admin, slot.admin) {
            (Some(a), true) => {
                a.open -= 1;
                let r = &mut a.responder;
                let _ = connection::guarded(slot.id, || r.disconnect(slot.conn.session()));
            }
            _ => {
                let responder = &mut self.responder;
                let _ = connection::guarded(slot.id, || responder.disconnect(slot.conn.session()));
                self.stats.open.sub(1);
                if let Some(j) = &self.journal {
                    j.record(
                        slot.id,
                        crate::journal::What::Disconnect {
                            reason: why.to_string(),
                        },
                    );
                }
            }
        }
        debug!("conn {}: closed ({why})", slot.id);
        // A closed connection's timers (handshake, linger, idle) stay in the
        // heap until they come due, so handshake churn fills it with stale
        // entries (10 s of logins at 11k/s: 8 MiB). Past twice the live
        // connections (plus a floor, so small servers never bother) they are
        // dropped in one pass: amortised O(1) per close.
        if self.timers.len() > 2 * self.conns.len() + STALE_TIMERS_FLOOR {
            let conns = &self.conns;
            self.timers
                .retain(|Reverse((_, _, k, id))| conns.get(*k).is_some_and(|s| s.id == *id));
        }
        if self.accept_starved && !self.resume_requested {
            // A descriptor is free now: accept again, but from the top of the
            // loop (through the waker), not from inside whatever closed this.
            self.resume_requested = true;
            let _ = self.control.inner.waker.wake();
        }
    }

    /// The admin port's requests that need the loop (a snapshot of the
    /// connections, kills), then the answers that were to come later.
    fn serve_admin(&mut self) {
        if let Some(a) = &self.admin {
            let reg = a.registry.clone();
            let (wanted, kills) = {
                let mut r = reg.borrow_mut();
                (std::mem::take(&mut r.wanted), std::mem::take(&mut r.kills))
            };
            if wanted {
                let snap = self.snapshot();
                let mut r = reg.borrow_mut();
                r.snapshot_for = r.requests;
                r.snapshot = Some(snap);
            }
            for id in kills {
                let key = self
                    .conns
                    .iter()
                    .find(|(_, s)| s.id == id && !s.admin)
                    .map(|(k, _)| k);
                if let Some(k) = key {
                    if let Some(s) = self.conns.get_mut(k) {
                        s.conn.close();
                        s.output = Buf::default();
                        s.held = None;
                    }
                    self.close(k, "killed from the admin port");
                }
                reg.borrow_mut().killed.push((id, key.is_some()));
            }
        }
        if self.waiting.is_empty() {
            return;
        }
        for (key, id) in std::mem::take(&mut self.waiting) {
            match self.conns.get(key) {
                Some(s) if s.id == id => {}
                _ => continue,
            }
            if matches!(self.conns[key].conn.next(), Next::Wait(_)) {
                self.process(key, Work::Poll(false));
            }
            self.after_wait(key);
        }
    }

    /// After a poll: still waiting, it stays in the list; answered, the
    /// connection goes on with what it has buffered.
    fn after_wait(&mut self, key: usize) {
        let Some(slot) = self.conns.get_mut(key) else {
            return;
        };
        if matches!(slot.conn.next(), Next::Wait(_)) {
            if !self.waiting.contains(&(key, slot.id)) {
                self.waiting.push((key, slot.id));
            }
        } else {
            slot.waiting = false;
            self.drive(key);
        }
    }

    /// The open client connections, for the admin port's SHOW CONNECTIONS.
    fn snapshot(&self) -> Vec<crate::admin::ConnInfo> {
        let now = Instant::now();
        self.conns
            .iter()
            .filter(|(_, s)| !s.admin)
            .map(|(_, s)| {
                let sess = s.conn.session();
                crate::admin::ConnInfo {
                    id: s.id,
                    user: sess.user.clone(),
                    database: sess.database.clone(),
                    address: sess.peer.to_string(),
                    state: match s.conn.phase() {
                        Phase::Handshake | Phase::AuthSwitch { .. } | Phase::FullAuth { .. } => {
                            "handshake"
                        }
                        Phase::Command if s.conn.has_pending() => "sending",
                        Phase::Command if s.conn.hold().is_some() => "delayed",
                        Phase::Command => "idle",
                        Phase::LocalInfile { .. } => "local_infile",
                        Phase::Stalled => "stalled",
                        Phase::Closing => "closing",
                    },
                    idle_secs: now
                        .saturating_duration_since(s.conn.last_active())
                        .as_secs(),
                }
            })
            .collect()
    }

    /// Accepting stopped with clients possibly pending: say so once, retry later.
    fn starve(&mut self, e: &io::Error) {
        if !self.accept_starved {
            warn!("accept failed: {e}; retrying when a connection closes (and every second)");
        }
        self.accept_starved = true;
    }

    /// Retries a starved accept (see `accept_starved`): takes the spare back
    /// if it was lost, then accepts (or refuses) what the backlogs hold.
    fn resume_accept(&mut self) {
        self.resume_requested = false;
        if !self.accept_starved {
            return;
        }
        self.accept_starved = false;
        self.spare.restore();
        self.accept(true);
        self.accept(false);
    }

    fn close_all(&mut self) {
        let keys: Vec<usize> = self.conns.iter().map(|(k, _)| k).collect();
        for k in keys {
            self.close(k, "server shutdown");
        }
    }
}

/// What a connection's commands run with: the admin port's configuration,
/// responders and counters for an admin connection (and no journal), the
/// server's for a client.
#[allow(clippy::too_many_arguments)]
fn ctx_for<'a>(
    admin: &'a mut Option<Admin>,
    is_admin: bool,
    config: &'a Config,
    responder: &'a mut Box<dyn Responder>,
    journal: Option<&'a crate::journal::Journal>,
    stats: &'a Stats,
    scratch: &'a mut Vec<u8>,
    now: Instant,
) -> Ctx<'a> {
    let (config, responder, journal, stats) = match (admin, is_admin) {
        (Some(a), true) => (&a.config, a.responder.as_mut(), None, &a.stats),
        _ => (config, responder.as_mut(), journal, stats),
    };
    Ctx {
        config,
        responder,
        stats,
        scratch,
        now,
        journal,
        note: None,
    }
}

/// Appends plaintext (held output let out) to a slot's output, compressed
/// and sealed first as the connection's layers want (`scratch`: the loop's
/// buffer for that).
fn queue(slot: &mut Slot, codecs: &mut Codecs, plain: &[u8], scratch: &mut Vec<u8>) {
    scratch.clear();
    let wire: &[u8] = match (slot.compress.as_mut(), slot.tls.as_mut()) {
        (None, None) => plain,
        (Some(c), None) => {
            c.wrap(codecs, plain, scratch);
            scratch
        }
        (None, Some(tls)) => {
            tls.seal(plain, scratch);
            scratch
        }
        (Some(c), Some(tls)) => {
            // held output let out: rare (a delay or a drip), so one vector
            let mut framed = Vec::new();
            c.wrap(codecs, plain, &mut framed);
            tls.seal(&framed, scratch);
            scratch
        }
    };
    slot.output.extend(wire);
    if scratch.capacity() > SCRATCH_KEEP {
        *scratch = Vec::new();
    }
}

/// Writes pending output until it is gone or the socket is full. False on a
/// write error (the connection must close).
fn flush(slot: &mut Slot, stats: &Stats) -> bool {
    while !slot.output.is_empty() {
        match slot.stream.write(slot.output.bytes()) {
            Ok(0) => return false,
            Ok(n) => {
                stats.bytes_out.add(n as u64);
                slot.output.consume(n);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                debug!("conn {}: write error: {e}", slot.id);
                return false;
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    /// An idle connection costs its slab slot plus a few small heap strings;
    /// the budget is 512 bytes per idle connection (see the README's figures),
    /// so the slot itself must stay well under it. 400: TLS and the
    /// compressed protocol added 16 bytes to every slot (their boxed state,
    /// None on a plain connection) and 8 to the session (TLS' version and
    /// cipher, boxed).
    #[test]
    fn an_idle_slot_stays_small() {
        let size = std::mem::size_of::<super::Slot>();
        assert!(size <= 400, "Slot grew to {size} bytes");
    }
}
