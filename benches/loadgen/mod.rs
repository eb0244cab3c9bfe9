//! understudy's load generator: a single-threaded mio client speaking the
//! client side of the MySQL protocol with the crate's own codec.
//!
//! Workloads (each bounded in time):
//! - `handshake`: C connections, each looping connect → greeting → login → OK
//!   → COM_QUIT → close.
//! - `query`: C persistent connections, each sending one query back to back.
//! - `big`: one connection reading one large resultset.
//! - `idle`: N logged-in connections held open; then one query on each.
//! - `storm`: N connections opened with C in flight, each logged in and held;
//!   a per-connection timeout turns a client the server never answered into
//!   a counted failure instead of a hung run.
//! - `soak` (see `soak.rs`): N held connections beside a mixed load for a long
//!   while, the server's RSS sampled, every held connection checked at the end.
//!
//! With `Target::tls` every workload logs in over TLS (SSLRequest, then the
//! rest of the login inside rustls): with one shared client config whose
//! session store resumes later handshakes (tickets), or with resumption off,
//! so that each login pays a full handshake. `big` can also compress.
//!
//! Results are plain numbers; `report` formats them as one JSON object.
#![allow(dead_code)]

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use std::collections::{BTreeMap, VecDeque};
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use understudy::protocol::auth::{caching_sha2_scramble, native_scramble};
use understudy::protocol::compress::Algorithm;
use understudy::protocol::consts::{cap, status};
use understudy::protocol::handshake::{decode_auth_switch, HandshakeResponse41, HandshakeV10};
use understudy::protocol::packet::{self, decode_frame};
use understudy::protocol::response::{decode_err, decode_ok, is_eof};
use understudy::server::compress::{Codecs, Compressed};

pub mod soak;

/// Who to connect to and as whom.
#[derive(Debug, Clone)]
pub struct Target {
    /// Server address.
    pub addr: SocketAddr,
    /// User name.
    pub user: String,
    /// Password.
    pub password: String,
    /// Ask for CLIENT_DEPRECATE_EOF (servers that lack it answer in EOF framing).
    pub deprecate_eof: bool,
    /// Log in over TLS (a server that does not offer it is an error).
    pub tls: Option<TlsClient>,
    /// Ask for CLIENT_COMPRESS (zlib); only `big` reads compressed answers.
    pub compress: bool,
}

/// TLS 1.3 tickets the load generator keeps for its one server. rustls' own
/// store keeps 8 per server; a 50-connection reconnect loop whose logins
/// complete in bursts of more than 8 would then start full handshakes for
/// want of a ticket, and the "resumed" row would measure the store instead
/// of the server. 4,096 covers the most connections a run keeps in flight.
const TICKETS: usize = 4096;

/// A session store for one server (the name is not looked at: a run speaks
/// to one server).
#[derive(Debug, Default)]
struct Tickets {
    kx: std::sync::Mutex<Option<rustls::NamedGroup>>,
    tls12: std::sync::Mutex<Option<rustls::client::Tls12ClientSessionValue>>,
    tls13: std::sync::Mutex<VecDeque<rustls::client::Tls13ClientSessionValue>>,
}

type Name<'a> = rustls::pki_types::ServerName<'a>;

impl rustls::client::ClientSessionStore for Tickets {
    fn set_kx_hint(&self, _: Name<'static>, group: rustls::NamedGroup) {
        *self.kx.lock().expect("kx") = Some(group);
    }
    fn kx_hint(&self, _: &Name<'_>) -> Option<rustls::NamedGroup> {
        *self.kx.lock().expect("kx")
    }
    fn set_tls12_session(&self, _: Name<'static>, v: rustls::client::Tls12ClientSessionValue) {
        *self.tls12.lock().expect("tls12") = Some(v);
    }
    fn tls12_session(&self, _: &Name<'_>) -> Option<rustls::client::Tls12ClientSessionValue> {
        self.tls12.lock().expect("tls12").clone()
    }
    fn remove_tls12_session(&self, _: &Name<'static>) {
        *self.tls12.lock().expect("tls12") = None;
    }
    fn insert_tls13_ticket(&self, _: Name<'static>, v: rustls::client::Tls13ClientSessionValue) {
        let mut t = self.tls13.lock().expect("tls13");
        if t.len() >= TICKETS {
            t.pop_front();
        }
        t.push_back(v);
    }
    fn take_tls13_ticket(
        &self,
        _: &Name<'static>,
    ) -> Option<rustls::client::Tls13ClientSessionValue> {
        self.tls13.lock().expect("tls13").pop_back()
    }
}

/// The client side of TLS: one config for every connection of a run, so that
/// its session store (when resumption is on) resumes later handshakes.
#[derive(Debug, Clone)]
pub struct TlsClient {
    /// rustls' client config.
    pub config: Arc<rustls::ClientConfig>,
    /// The name the certificate is checked against.
    pub name: rustls::pki_types::ServerName<'static>,
}

impl TlsClient {
    /// A client trusting the CA certificates in the PEM file `ca`, with TLS
    /// session resumption on or off, TLS 1.3 and 1.2 (or 1.2 only).
    pub fn new(ca: &str, host: &str, resume: bool, tls12_only: bool) -> Result<TlsClient, String> {
        use rustls::pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        for c in rustls::pki_types::CertificateDer::pem_file_iter(ca)
            .map_err(|e| format!("{ca}: {e}"))?
        {
            roots
                .add(c.map_err(|e| format!("{ca}: {e}"))?)
                .map_err(|e| format!("{ca}: {e}"))?;
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let versions: &[&rustls::SupportedProtocolVersion] = if tls12_only {
            &[&rustls::version::TLS12]
        } else {
            rustls::DEFAULT_VERSIONS
        };
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.resumption = if resume {
            rustls::client::Resumption::store(Arc::new(Tickets::default()))
        } else {
            rustls::client::Resumption::disabled()
        };
        let name =
            rustls::pki_types::ServerName::try_from(host.to_string()).map_err(|e| e.to_string())?;
        Ok(TlsClient {
            config: Arc::new(config),
            name,
        })
    }
}

/// Counters and latencies of one run.
#[derive(Debug, Default, Clone)]
pub struct Outcome {
    /// Completed operations (logins, queries).
    pub ops: u64,
    /// Rows received.
    pub rows: u64,
    /// Payload bytes received.
    pub bytes: u64,
    /// Errors by kind.
    pub errors: BTreeMap<String, u64>,
    /// Latencies in microseconds: every `lat_stride`-th one (see `record`).
    pub lat_us: Vec<u32>,
    /// Latencies seen, kept or not.
    pub lat_seen: u64,
    /// Keep one latency in this many (0 or 1: all).
    pub lat_stride: u64,
    /// The largest latency seen.
    pub lat_max: u32,
    /// Wall time.
    pub secs: f64,
    /// Logins over TLS that resumed a session (the rest were full handshakes).
    pub resumed: u64,
}

/// Most latencies one run keeps (4 MiB of them). A soak's query load makes
/// over 100 million operations; keeping each would take gigabytes. Past this,
/// every other kept sample is dropped and the stride doubles, so the samples
/// stay spread evenly over the whole run and the percentiles unbiased.
const LAT_KEEP: usize = 1 << 20;

impl Outcome {
    fn error(&mut self, kind: &str) {
        *self.errors.entry(kind.to_string()).or_default() += 1;
    }

    /// Counts `n` occurrences of `kind` (the soak's per-component tallies).
    pub fn count(&mut self, kind: &str, n: u64) {
        *self.errors.entry(kind.to_string()).or_default() += n;
    }

    /// Records one latency (microseconds), decimating past `LAT_KEEP`.
    pub fn record(&mut self, us: u32) {
        self.lat_max = self.lat_max.max(us);
        let stride = self.lat_stride.max(1);
        self.lat_seen += 1;
        if !self.lat_seen.is_multiple_of(stride) {
            return;
        }
        self.lat_us.push(us);
        if self.lat_us.len() >= LAT_KEEP {
            let mut k = 0;
            self.lat_us.retain(|_| {
                k += 1;
                k % 2 == 0
            });
            self.lat_stride = stride * 2;
        }
    }

    /// The p-th percentile latency in microseconds.
    pub fn percentile(&mut self, p: f64) -> u32 {
        if self.lat_us.is_empty() {
            return 0;
        }
        self.lat_us.sort_unstable();
        let i = ((self.lat_us.len() as f64 - 1.0) * p).round() as usize;
        self.lat_us[i.min(self.lat_us.len() - 1)]
    }

    /// Total errors.
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// One JSON object (flat: numbers and strings).
    pub fn json(&mut self, workload: &str, extra: &[(&str, String)]) -> String {
        let p50 = self.percentile(0.50);
        let p99 = self.percentile(0.99);
        let max = self.lat_max.max(self.lat_us.last().copied().unwrap_or(0));
        let errs: Vec<String> = self
            .errors
            .iter()
            .map(|(k, v)| format!("{k}:{v}"))
            .collect();
        let mut s = format!(
            "{{\"workload\":\"{workload}\",\"ops\":{},\"ops_per_sec\":{:.1},\"rows\":{},\"rows_per_sec\":{:.1},\"mb_per_sec\":{:.2},\"p50_us\":{p50},\"p99_us\":{p99},\"max_us\":{max},\"errors\":{},\"error_kinds\":\"{}\",\"secs\":{:.3},\"tls_resumed\":{}",
            self.ops,
            self.ops as f64 / self.secs.max(1e-9),
            self.rows,
            self.rows as f64 / self.secs.max(1e-9),
            self.bytes as f64 / self.secs.max(1e-9) / 1e6,
            self.error_count(),
            errs.join(","),
            self.secs,
            self.resumed
        );
        for (k, v) in extra {
            if v.parse::<f64>().is_ok() {
                s.push_str(&format!(",\"{k}\":{v}"));
            } else {
                s.push_str(&format!(",\"{k}\":\"{v}\""));
            }
        }
        s.push('}');
        s
    }
}

/// Reads one text-protocol answer packet by packet; knows when it is complete.
#[derive(Debug, Default)]
struct ResultReader {
    /// Columns still to read in the current resultset (None before the first packet).
    columns_left: Option<u64>,
    in_rows: bool,
    eof_after_columns: bool,
    rows: u64,
}

enum Step {
    More,
    Done,
    Error(u16),
}

impl ResultReader {
    fn new(deprecate_eof: bool) -> Self {
        ResultReader {
            eof_after_columns: !deprecate_eof,
            ..Default::default()
        }
    }

    fn feed(&mut self, p: &[u8]) -> Step {
        if self.in_rows {
            if is_eof(p) {
                let more = terminator_status(p) & status::MORE_RESULTS_EXISTS != 0;
                return self.next_result(more);
            }
            if p.first() == Some(&0xff) {
                return Step::Error(decode_err(p).map(|e| e.code).unwrap_or(0));
            }
            self.rows += 1;
            return Step::More;
        }
        match self.columns_left {
            None => match p.first() {
                Some(0x00) => {
                    let more = decode_ok(p).map(|o| o.status).unwrap_or(0)
                        & status::MORE_RESULTS_EXISTS
                        != 0;
                    self.next_result(more)
                }
                Some(0xff) => Step::Error(decode_err(p).map(|e| e.code).unwrap_or(0)),
                _ => {
                    let n = understudy::protocol::wire::Reader::new(p)
                        .lenenc_int("column count")
                        .ok()
                        .flatten()
                        .unwrap_or(0);
                    self.columns_left = Some(n);
                    Step::More
                }
            },
            Some(0) => {
                // the EOF after the column definitions (classic framing)
                self.in_rows = true;
                Step::More
            }
            Some(n) => {
                self.columns_left = Some(n - 1);
                if n == 1 && !self.eof_after_columns {
                    self.in_rows = true;
                }
                Step::More
            }
        }
    }

    fn next_result(&mut self, more: bool) -> Step {
        self.columns_left = None;
        self.in_rows = false;
        if more {
            Step::More
        } else {
            Step::Done
        }
    }
}

fn terminator_status(p: &[u8]) -> u16 {
    // EOF: fe warnings(2) status(2); OK(0xFE): fe lenenc lenenc status(2)
    if p.len() == 5 {
        u16::from_le_bytes([p[3], p[4]])
    } else {
        decode_ok(p).map(|o| o.status).unwrap_or(0)
    }
}

/// How many loopback source addresses a storm spreads its connections over.
const SOURCES: u32 = 64;

/// Starts a non-blocking connect to `addr`. To a loopback address it goes from
/// one of 127.0.0.2 … 127.0.0.65 in turn (bound with IP_BIND_ADDRESS_NO_PORT,
/// so the port is still picked at connect time, per 4-tuple). A storm leaves
/// tens of thousands of its own sockets in TIME_WAIT (the client closes first,
/// as real clients do); from one source address the kernel's ephemeral port
/// search walks past them on every connect(), which took a third of the load
/// generator's core (perf: `__inet_hash_connect`, `__inet_check_established`)
/// and made the load generator, not the server, the bottleneck.
fn connect_spread(addr: SocketAddr) -> io::Result<std::net::TcpStream> {
    use socket2::{Domain, Protocol, Socket, Type};
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let sock = Socket::new(
        Domain::for_address(addr),
        Type::STREAM.nonblocking().cloexec(),
        Some(Protocol::TCP),
    )?;
    if let SocketAddr::V4(v4) = addr {
        if v4.ip().is_loopback() {
            let k = NEXT.fetch_add(1, Ordering::Relaxed) % SOURCES;
            bind_address_no_port(&sock)?;
            let src = std::net::Ipv4Addr::new(127, 0, 0, 2 + k as u8);
            sock.bind(&SocketAddr::from((src, 0)).into())?;
        }
    }
    match sock.connect(&addr.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return Err(e),
    }
    Ok(sock.into())
}

/// IP_BIND_ADDRESS_NO_PORT: bind() takes the address only; the port is chosen
/// by connect(), unique per 4-tuple rather than per address.
fn bind_address_no_port(sock: &socket2::Socket) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let one: libc::c_int = 1;
    // SAFETY: a valid socket descriptor and a pointer to a c_int of the size given.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// A client connection's phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Greeting,
    Auth,
    Ready,
    /// COM_STMT_PREPARE sent: reading PREPARE_OK and its definitions.
    Preparing,
    Query,
    Closed,
}

struct Client {
    stream: TcpStream,
    phase: Phase,
    rbuf: Vec<u8>,
    wbuf: Vec<u8>,
    nonce: Vec<u8>,
    deprecate_eof: bool,
    started: Instant,
    result: ResultReader,
    /// Registered for writability too (a flush left bytes behind).
    write_interest: bool,
    /// Prepared mode: packets of the PREPARE answer still to read (None
    /// until PREPARE_OK arrives), and the COM_STMT_EXECUTE to send.
    prepare_left: Option<usize>,
    execute: Vec<u8>,
    /// TLS once the SSLRequest is sent: `rbuf` and `wbuf` then hold plaintext.
    tls: Option<Box<rustls::ClientConnection>>,
    /// CLIENT_COMPRESS was agreed (from the byte after the login OK).
    compressed: bool,
}

impl Client {
    fn connect(addr: SocketAddr) -> io::Result<Client> {
        // No TCP_NODELAY: the client never writes while a write is unacknowledged
        // (it always waits for the answer), so Nagle never delays it, and the
        // storm saves a syscall per connection.
        Ok(Client::on(TcpStream::from_std(connect_spread(addr)?)))
    }

    fn on(stream: TcpStream) -> Client {
        Client {
            stream,
            phase: Phase::Greeting,
            rbuf: Vec::with_capacity(4096),
            wbuf: Vec::with_capacity(256),
            nonce: Vec::new(),
            deprecate_eof: false,
            started: Instant::now(),
            result: ResultReader::default(),
            write_interest: false,
            prepare_left: None,
            execute: Vec::new(),
            tls: None,
            compressed: false,
        }
    }

    /// Output not yet on the socket (packets, or TLS records rustls holds).
    fn has_output(&self) -> bool {
        !self.wbuf.is_empty() || self.tls.as_ref().is_some_and(|t| t.wants_write())
    }

    /// The next request of a query job: the query again, or the prepared
    /// statement's COM_STMT_EXECUTE (nothing for a reconnecting job).
    fn next_request(&mut self, job: &Job) {
        self.result = ResultReader::new(self.deprecate_eof);
        self.started = Instant::now();
        let mut s = 0;
        match job {
            Job::Query(q) => packet::write_packet(&mut self.wbuf, &mut s, q),
            Job::Prepared(_) => packet::write_packet(&mut self.wbuf, &mut s, &self.execute),
            Job::Reconnect => {}
        }
    }

    fn send(&mut self, seq: u8, payload: &[u8]) {
        let mut s = seq;
        packet::write_packet(&mut self.wbuf, &mut s, payload);
    }

    /// COM_QUIT sent with MSG_MORE, so that the close() that follows sends it
    /// and the FIN in one segment, as one loopback delivery instead of two
    /// (for the server too: one wakeup reads the command and the end).
    fn quit(&mut self) {
        /// COM_QUIT, framed: length 1, sequence id 0.
        const COM_QUIT: [u8; 5] = [1, 0, 0, 0, 0x01];
        if self.tls.is_some() {
            // inside a TLS record, as a TLS client sends it
            self.wbuf.extend_from_slice(&COM_QUIT);
            let _ = self.flush();
            return;
        }
        let _ = socket2::SockRef::from(&self.stream).send_with_flags(&COM_QUIT, libc::MSG_MORE);
    }

    fn flush(&mut self) -> io::Result<()> {
        if let Some(tls) = self.tls.as_deref_mut() {
            if !self.wbuf.is_empty() {
                tls.writer().write_all(&self.wbuf)?;
                self.wbuf.clear();
            }
            while tls.wants_write() {
                match tls.write_tls(&mut self.stream) {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                    Err(e) => return Err(e),
                }
            }
            return Ok(());
        }
        while !self.wbuf.is_empty() {
            match self.stream.write(&self.wbuf) {
                Ok(n) => {
                    self.wbuf.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Reads what is there; Ok(false) on EOF.
    fn fill(&mut self, buf: &mut [u8], out: &mut Outcome) -> io::Result<bool> {
        loop {
            match self.read_once(buf, out) {
                Ok(0) => return Ok(false),
                Ok(n) if n < buf.len() => return Ok(true),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
                Err(e) => return Err(e),
            }
        }
    }

    /// One read from the socket onto `rbuf` (through TLS when it is on);
    /// the bytes read off the socket, 0 at its end.
    fn read_once(&mut self, buf: &mut [u8], out: &mut Outcome) -> io::Result<usize> {
        let n = self.stream.read(buf)?;
        out.bytes += n as u64;
        match self.tls.as_deref_mut() {
            None => self.rbuf.extend_from_slice(&buf[..n]),
            Some(tls) => {
                let mut cipher = &buf[..n];
                while !cipher.is_empty() {
                    tls.read_tls(&mut cipher)?;
                    let st = tls
                        .process_new_packets()
                        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                    let len = st.plaintext_bytes_to_read();
                    if len > 0 {
                        let at = self.rbuf.len();
                        self.rbuf.resize(at + len, 0);
                        tls.reader().read_exact(&mut self.rbuf[at..])?;
                    }
                }
            }
        }
        Ok(n)
    }

    /// Whether this login resumed a TLS session.
    fn resumed(&self) -> bool {
        self.tls
            .as_ref()
            .is_some_and(|t| t.handshake_kind() == Some(rustls::HandshakeKind::Resumed))
    }

    /// The next whole packet (payload) from the read buffer.
    fn next_packet(&mut self) -> Option<(u8, Vec<u8>)> {
        let f = decode_frame(&self.rbuf, usize::MAX).ok()??;
        let mut scratch = Vec::new();
        let p = f.payload(&self.rbuf, &mut scratch).to_vec();
        self.rbuf.drain(..f.consumed);
        Some((f.last_seq, p))
    }
}

/// What a connection does once logged in.
#[derive(Debug, Clone)]
pub enum Job {
    /// Quit and reconnect (handshake storm).
    Reconnect,
    /// Send this query again and again.
    Query(Vec<u8>),
    /// Prepare this statement (a COM_STMT_PREPARE payload) once per
    /// connection, then execute it again and again (binary rows).
    Prepared(Vec<u8>),
}

/// Handles one packet in the login phase; returns Some(true) when logged in.
fn on_login_packet(
    c: &mut Client,
    t: &Target,
    seq: u8,
    p: &[u8],
    out: &mut Outcome,
) -> Option<bool> {
    match c.phase {
        Phase::Greeting => {
            let Ok(g) = HandshakeV10::decode(p) else {
                out.error(if p.first() == Some(&0xff) {
                    "refused"
                } else {
                    "bad_greeting"
                });
                return None;
            };
            c.nonce = g.nonce.clone();
            let mut caps = cap::LONG_PASSWORD
                | cap::PROTOCOL_41
                | cap::SECURE_CONNECTION
                | cap::PLUGIN_AUTH
                | cap::TRANSACTIONS
                | cap::MULTI_RESULTS
                | cap::MULTI_STATEMENTS;
            if t.deprecate_eof {
                caps |= cap::DEPRECATE_EOF;
            }
            if t.tls.is_some() {
                caps |= cap::SSL;
            }
            if t.compress {
                caps |= cap::COMPRESS;
            }
            caps &= g.capabilities | cap::PROTOCOL_41;
            c.deprecate_eof = caps & cap::DEPRECATE_EOF != 0;
            c.compressed = caps & cap::COMPRESS != 0;
            let mut seq = seq;
            if let Some(tls) = &t.tls {
                if caps & cap::SSL == 0 {
                    out.error("tls_not_offered");
                    return None;
                }
                // the SSLRequest (the response's first 32 bytes) goes out in
                // the clear, alone, before rustls writes its ClientHello
                let mut req = Vec::with_capacity(32);
                req.extend_from_slice(&caps.to_le_bytes());
                req.extend_from_slice(&(1u32 << 30).to_le_bytes());
                req.push(45);
                req.extend_from_slice(&[0; 23]);
                c.send(seq.wrapping_add(1), &req);
                if c.flush().is_err() || !c.wbuf.is_empty() {
                    out.error("write");
                    return None;
                }
                seq = seq.wrapping_add(1);
                match rustls::ClientConnection::new(tls.config.clone(), tls.name.clone()) {
                    Ok(mut conn) => {
                        // rustls holds at most 64 KiB of plaintext to send
                        // unless told otherwise; a long query is one write
                        conn.set_buffer_limit(None);
                        c.tls = Some(Box::new(conn));
                    }
                    Err(_) => {
                        out.error("tls_client");
                        return None;
                    }
                }
            }
            let resp = HandshakeResponse41 {
                capabilities: caps,
                max_packet: 1 << 30,
                charset: 45,
                username: t.user.as_bytes().to_vec(),
                auth_response: native_scramble(
                    t.password.as_bytes(),
                    &g.nonce[..g.nonce.len().min(20)],
                ),
                database: None,
                auth_plugin: Some(b"mysql_native_password".to_vec()),
                attributes: Vec::new(),
                zstd_level: None,
            };
            let mut body = Vec::new();
            resp.encode(&mut body);
            c.send(seq.wrapping_add(1), &body);
            c.phase = Phase::Auth;
            Some(false)
        }
        Phase::Auth => match p.first() {
            Some(0x00) => {
                if c.resumed() {
                    out.resumed += 1;
                }
                Some(true)
            }
            Some(0xff) => {
                out.error(&format!(
                    "auth_err_{}",
                    decode_err(p).map(|e| e.code).unwrap_or(0)
                ));
                None
            }
            Some(0xfe) => {
                let Ok(sw) = decode_auth_switch(p) else {
                    out.error("bad_auth_switch");
                    return None;
                };
                let nonce = &sw.data[..sw.data.len().min(20)];
                let r = if sw.plugin == b"caching_sha2_password" {
                    caching_sha2_scramble(t.password.as_bytes(), nonce)
                } else {
                    native_scramble(t.password.as_bytes(), nonce)
                };
                c.send(seq.wrapping_add(1), &r);
                Some(false)
            }
            Some(0x01) => Some(false), // fast auth success (0x01 0x03): the OK follows
            _ => {
                out.error("bad_auth_reply");
                None
            }
        },
        _ => None,
    }
}

/// Runs C connections doing `job` for `secs`; returns counters and latencies
/// (login latency for Reconnect, query latency for Query).
pub fn run(t: &Target, conns: usize, secs: f64, job: Job) -> Outcome {
    let mut out = Outcome::default();
    let mut poll = Poll::new().expect("poll");
    let mut events = Events::with_capacity(1024);
    let mut clients: Vec<Option<Client>> = Vec::with_capacity(conns);
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(secs);
    let open = |poll: &Poll, i: usize, out: &mut Outcome| -> Option<Client> {
        match Client::connect(t.addr) {
            Ok(mut c) => {
                poll.registry()
                    .register(
                        &mut c.stream,
                        Token(i),
                        // Readable only: every write answers a read and is a few
                        // bytes, so it goes out at once; write interest is added
                        // only if a flush leaves bytes behind. (With it from the
                        // start, the connect's completion costs a wakeup and a
                        // read that finds nothing.)
                        Interest::READABLE,
                    )
                    .ok()?;
                Some(c)
            }
            Err(_) => {
                out.error("connect");
                None
            }
        }
    };
    for i in 0..conns {
        let c = open(&poll, i, &mut out);
        clients.push(c);
    }
    let mut scratch = vec![0u8; 65536];
    while Instant::now() < deadline {
        if poll
            .poll(&mut events, Some(Duration::from_millis(50)))
            .is_err()
        {
            continue;
        }
        let ready: Vec<usize> = events.iter().map(|e| e.token().0).collect();
        for i in ready {
            let mut reopen = false;
            {
                let Some(c) = clients.get_mut(i).and_then(|c| c.as_mut()) else {
                    continue;
                };
                let alive = match c.fill(&mut scratch, &mut out) {
                    Ok(a) => a,
                    Err(_) => {
                        out.error("read");
                        false
                    }
                };
                while let Some((seq, p)) = c.next_packet() {
                    match c.phase {
                        Phase::Greeting | Phase::Auth => {
                            match on_login_packet(c, t, seq, &p, &mut out) {
                                Some(true) => match &job {
                                    Job::Reconnect => {
                                        out.ops += 1;
                                        out.record(c.started.elapsed().as_micros() as u32);
                                        c.quit();
                                        c.phase = Phase::Closed;
                                        reopen = true;
                                        break;
                                    }
                                    Job::Query(_) => {
                                        c.phase = Phase::Query;
                                        c.next_request(&job);
                                    }
                                    Job::Prepared(q) => {
                                        c.phase = Phase::Preparing;
                                        c.prepare_left = None;
                                        c.send(0, q);
                                    }
                                },
                                Some(false) => {}
                                None => {
                                    c.phase = Phase::Closed;
                                    reopen = true;
                                    break;
                                }
                            }
                        }
                        Phase::Preparing => match prepare_step(c, &p) {
                            Ok(true) => {
                                c.phase = Phase::Query;
                                c.next_request(&job);
                            }
                            Ok(false) => {}
                            Err(code) => {
                                out.error(&format!("prepare_err_{code}"));
                                c.phase = Phase::Closed;
                                reopen = true;
                                break;
                            }
                        },
                        Phase::Query => match c.result.feed(&p) {
                            Step::More => {}
                            Step::Done => {
                                out.ops += 1;
                                out.rows += c.result.rows;
                                out.record(c.started.elapsed().as_micros() as u32);
                                c.next_request(&job);
                            }
                            Step::Error(code) => {
                                out.error(&format!("query_err_{code}"));
                                c.next_request(&job);
                            }
                        },
                        Phase::Ready | Phase::Closed => {}
                    }
                }
                if c.phase != Phase::Closed {
                    if c.flush().is_err() {
                        out.error("write");
                        reopen = true;
                    } else if !alive {
                        out.error("closed_by_server");
                        reopen = true;
                    } else if c.has_output() && !c.write_interest {
                        c.write_interest = poll
                            .registry()
                            .reregister(
                                &mut c.stream,
                                Token(i),
                                Interest::READABLE | Interest::WRITABLE,
                            )
                            .is_ok();
                    }
                }
            }
            if reopen {
                // Dropping the socket closes it, which also takes it out of epoll:
                // no epoll_ctl(DEL) per connection.
                drop(clients[i].take());
                if Instant::now() < deadline {
                    clients[i] = open(&poll, i, &mut out);
                }
            }
        }
    }
    out.secs = start.elapsed().as_secs_f64();
    out
}

/// One packet of the answer to COM_STMT_PREPARE: true once it is all read
/// (and `execute` is ready), an error code on ERR.
fn prepare_step(c: &mut Client, p: &[u8]) -> Result<bool, u16> {
    match c.prepare_left {
        None => {
            if p.first() == Some(&0xff) {
                return Err(decode_err(p).map(|e| e.code).unwrap_or(0));
            }
            let ok = understudy::protocol::binary::PrepareOk::decode(p).map_err(|_| 0u16)?;
            let defs = |n: u16| {
                if n == 0 {
                    0
                } else {
                    usize::from(n) + usize::from(!c.deprecate_eof)
                }
            };
            let left = defs(ok.params) + defs(ok.columns);
            let mut e = vec![0x17];
            e.extend(ok.statement_id.to_le_bytes());
            e.push(0); // no cursor
            e.extend(1u32.to_le_bytes());
            c.execute = e;
            c.prepare_left = Some(left);
            Ok(left == 0)
        }
        Some(n) => {
            let n = n.saturating_sub(1);
            c.prepare_left = Some(n);
            Ok(n == 0)
        }
    }
}

/// Handshake storm.
pub fn handshake(t: &Target, conns: usize, secs: f64) -> Outcome {
    run(t, conns, secs, Job::Reconnect)
}

/// Back-to-back queries on C connections.
pub fn query(t: &Target, conns: usize, secs: f64, sql: &str) -> Outcome {
    let mut q = vec![0x03];
    q.extend_from_slice(sql.as_bytes());
    run(t, conns, secs, Job::Query(q))
}

/// A statement prepared once per connection, executed back to back (binary rows).
pub fn prepared(t: &Target, conns: usize, secs: f64, sql: &str) -> Outcome {
    let mut q = vec![0x16];
    q.extend_from_slice(sql.as_bytes());
    run(t, conns, secs, Job::Prepared(q))
}

/// Connections a storm logged in, held open on the poll that opened them.
pub struct Held {
    poll: Poll,
    /// Indexed by token; `None` where a connection failed or was dropped.
    clients: Vec<Option<Client>>,
}

impl Held {
    /// Connections still held.
    pub fn len(&self) -> usize {
        self.clients.iter().filter(|c| c.is_some()).count()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sends the command `cmd` (a command payload: COM_PING, or COM_QUERY and
    /// its text) on every held connection at once and waits up to `timeout`
    /// for every answer. `ops` counts the answers that completed without ERR;
    /// an ERR, a close or no answer at all is counted by kind.
    pub fn check(&mut self, cmd: &[u8], timeout: Duration) -> Outcome {
        let mut out = Outcome::default();
        let start = Instant::now();
        let deadline = start + timeout;
        let mut waiting = 0usize;
        for c in self.clients.iter_mut().flatten() {
            c.rbuf.clear();
            c.result = ResultReader::new(c.deprecate_eof);
            c.phase = Phase::Query;
            c.started = Instant::now();
            c.send(0, cmd);
            if c.flush().is_err() || c.has_output() {
                // a command of a few bytes on an idle socket goes out at once
                out.error("check_write");
                c.phase = Phase::Closed;
            } else {
                waiting += 1;
            }
        }
        let mut events = Events::with_capacity(1024);
        let mut scratch = vec![0u8; 65536];
        // The answers to the check are new data, so each raises an edge; data
        // that arrived while the connections were held unread (it should not)
        // is still on epoll's ready list and is reported by the first poll.
        let mut sweep = false;
        while waiting > 0 {
            let now = Instant::now();
            let ready: Vec<usize> = if sweep {
                (0..self.clients.len()).collect()
            } else {
                if now >= deadline {
                    // one last look at every connection still waiting
                    sweep = true;
                    continue;
                }
                let wait = deadline
                    .saturating_duration_since(now)
                    .min(Duration::from_millis(100));
                if self.poll.poll(&mut events, Some(wait)).is_err() {
                    continue;
                }
                events.iter().map(|e| e.token().0).collect()
            };
            for i in ready {
                let Some(c) = self.clients.get_mut(i).and_then(|c| c.as_mut()) else {
                    continue;
                };
                if c.phase != Phase::Query {
                    continue;
                }
                let alive = c.fill(&mut scratch, &mut out).unwrap_or(false);
                while let Some((_, p)) = c.next_packet() {
                    match c.result.feed(&p) {
                        Step::More => continue,
                        Step::Done => {
                            out.ops += 1;
                            out.record(c.started.elapsed().as_micros() as u32);
                        }
                        Step::Error(code) => out.error(&format!("check_err_{code}")),
                    }
                    c.phase = Phase::Ready;
                    waiting -= 1;
                    break;
                }
                if c.phase == Phase::Query && !alive {
                    out.error("check_closed");
                    c.phase = Phase::Closed;
                    waiting -= 1;
                }
            }
            if sweep {
                break;
            }
        }
        if waiting > 0 {
            out.count("check_no_answer", waiting as u64);
        }
        out.secs = start.elapsed().as_secs_f64();
        out
    }

    /// COM_QUIT on every held connection, then close them all.
    pub fn quit_all(mut self) {
        for c in self.clients.iter_mut().flatten() {
            c.quit();
        }
    }
}

/// A connection storm: `total` connections opened with `in_flight` of them
/// logging in at a time, each held open once logged in. A connection that has
/// not logged in within `timeout` of its connect() is a failure ("no_greeting"
/// if it never got one, "login_timeout" after it): a client whose final ACK
/// the kernel dropped believes it is connected and would wait forever.
/// `secs` is the time until every connection had logged in or failed; `ops`
/// the logins that succeeded, `lat_us` their connect-to-OK latencies.
pub fn storm(t: &Target, total: usize, in_flight: usize, timeout: Duration) -> (Outcome, Held) {
    let mut out = Outcome::default();
    let mut poll = Poll::new().expect("poll");
    let mut events = Events::with_capacity(1024);
    let mut clients: Vec<Option<Client>> = Vec::with_capacity(total);
    // Every connection gets the same timeout, so deadlines come due in the
    // order the connections were opened: a queue, not a heap.
    let mut deadlines: VecDeque<(Instant, usize)> = VecDeque::with_capacity(in_flight + 1);
    let in_flight = in_flight.max(1);
    let (mut pending, mut settled) = (0usize, 0usize);
    let mut scratch = vec![0u8; 65536];
    let start = Instant::now();
    while settled < total {
        while clients.len() < total && pending < in_flight {
            let i = clients.len();
            let c = Client::connect(t.addr).ok().and_then(|mut c| {
                poll.registry()
                    .register(&mut c.stream, Token(i), Interest::READABLE)
                    .ok()?;
                Some(c)
            });
            match c {
                Some(c) => {
                    deadlines.push_back((c.started + timeout, i));
                    pending += 1;
                    clients.push(Some(c));
                }
                None => {
                    out.error("connect");
                    settled += 1;
                    clients.push(None);
                }
            }
        }
        let now = Instant::now();
        while let Some(&(due, i)) = deadlines.front() {
            if due > now {
                break;
            }
            deadlines.pop_front();
            let Some(slot) = clients.get_mut(i) else {
                continue;
            };
            match slot.as_ref().map(|c| c.phase) {
                Some(Phase::Greeting) => out.error("no_greeting"),
                Some(Phase::Auth) => out.error("login_timeout"),
                _ => continue, // logged in (or failed) before its deadline
            }
            *slot = None;
            pending -= 1;
            settled += 1;
        }
        if settled >= total {
            break;
        }
        let wait = deadlines
            .front()
            .map(|&(due, _)| due.saturating_duration_since(now))
            .unwrap_or(Duration::from_millis(50))
            .min(Duration::from_millis(50));
        if poll.poll(&mut events, Some(wait)).is_err() {
            continue;
        }
        for i in events.iter().map(|e| e.token().0) {
            let Some(slot) = clients.get_mut(i) else {
                continue;
            };
            let Some(c) = slot.as_mut() else {
                continue;
            };
            let alive = match c.fill(&mut scratch, &mut out) {
                Ok(a) => a,
                Err(_) if c.phase == Phase::Ready => false, // counted just below
                Err(_) => {
                    out.error("read");
                    false
                }
            };
            if c.phase == Phase::Ready {
                // a held connection should hear nothing until it asks
                if !alive {
                    out.error("held_closed");
                    *slot = None;
                } else if !c.rbuf.is_empty() {
                    out.error("held_unasked_data");
                    c.rbuf.clear();
                }
                continue;
            }
            let mut failed = false;
            while let Some((seq, p)) = c.next_packet() {
                match on_login_packet(c, t, seq, &p, &mut out) {
                    Some(true) => {
                        out.ops += 1;
                        out.record(c.started.elapsed().as_micros() as u32);
                        c.phase = Phase::Ready;
                        // held for long: give back the read buffer's room
                        c.rbuf = Vec::new();
                        break;
                    }
                    Some(false) => {}
                    None => {
                        failed = true;
                        break;
                    }
                }
            }
            if !failed && c.phase != Phase::Ready {
                if c.flush().is_err() {
                    out.error("write");
                    failed = true;
                } else if !alive {
                    out.error("closed_by_server");
                    failed = true;
                } else if c.has_output() && !c.write_interest {
                    c.write_interest = poll
                        .registry()
                        .reregister(
                            &mut c.stream,
                            Token(i),
                            Interest::READABLE | Interest::WRITABLE,
                        )
                        .is_ok();
                }
            }
            if c.phase == Phase::Ready {
                pending -= 1;
                settled += 1;
            } else if failed {
                *slot = None;
                pending -= 1;
                settled += 1;
            }
        }
    }
    out.secs = start.elapsed().as_secs_f64();
    (out, Held { poll, clients })
}

/// Raises this process's soft RLIMIT_NOFILE to its hard limit (a storm or a
/// soak holds tens of thousands of sockets) and returns the soft limit then.
pub fn raise_nofile() -> u64 {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: a valid pointer to an rlimit for getrlimit/setrlimit to fill or read.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) != 0 {
            return 1024;
        }
        if r.rlim_cur < r.rlim_max {
            let want = libc::rlimit {
                rlim_cur: r.rlim_max,
                rlim_max: r.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &want) == 0 {
                r.rlim_cur = r.rlim_max;
            }
        }
    }
    r.rlim_cur
}

/// One connection reading one (big) answer (over TLS and compressed when
/// the target says so: the plaintext then passes through rustls and the
/// server's own frame decoder before the packets are read).
pub fn big(t: &Target, sql: &str, timeout: f64) -> Outcome {
    let mut out = Outcome::default();
    let start = Instant::now();
    let Some(b) = login_blocking(t, &mut out) else {
        out.secs = start.elapsed().as_secs_f64();
        return out;
    };
    let mut c = b.client;
    let t0 = Instant::now();
    let mut q = vec![0x03];
    q.extend_from_slice(sql.as_bytes());
    let mut z = c.compressed.then(|| Compressed::new(Algorithm::Zlib));
    let mut codecs = Codecs::default();
    send_command(&mut c, z.as_mut(), &mut codecs, &q);
    if c.flush().is_err() || c.has_output() {
        out.error("write");
        return out;
    }
    let mut reader = ResultReader::new(c.deprecate_eof);
    let mut buf = vec![0u8; 1 << 20];
    // the packets once inflated (compressed connections only)
    let mut plain: Vec<u8> = Vec::new();
    let mut pos = 0;
    let _ =
        socket2::SockRef::from(&c.stream).set_read_timeout(Some(Duration::from_secs_f64(timeout)));
    'outer: loop {
        match c.read_once(&mut buf, &mut out) {
            Ok(0) | Err(_) => {
                out.error("read");
                break;
            }
            Ok(_) => {}
        }
        let packets = match z.as_mut() {
            None => &mut c.rbuf,
            Some(z) => {
                if z.unwrap(&mut codecs, &c.rbuf, &mut plain).is_err() {
                    out.error("bad_frame");
                    break;
                }
                c.rbuf.clear();
                &mut plain
            }
        };
        while let Ok(Some(f)) = decode_frame(&packets[pos..], usize::MAX) {
            let mut scratch = Vec::new();
            let p = f.payload(&packets[pos..], &mut scratch);
            let step = reader.feed(p);
            pos += f.consumed;
            match step {
                Step::More => {}
                Step::Done => {
                    out.ops = 1;
                    break 'outer;
                }
                Step::Error(code) => {
                    out.error(&format!("query_err_{code}"));
                    break 'outer;
                }
            }
        }
        packets.drain(..pos);
        pos = 0;
    }
    out.rows = reader.rows;
    out.secs = t0.elapsed().as_secs_f64();
    out.record((out.secs * 1e6) as u32);
    out
}

/// Queues one command (sequence id 0) on `c`, in a frame of its own when the
/// connection is compressed.
fn send_command(c: &mut Client, z: Option<&mut Compressed>, codecs: &mut Codecs, cmd: &[u8]) {
    let mut w = Vec::new();
    packet::write_packet(&mut w, &mut 0, cmd);
    match z {
        None => c.wbuf.extend_from_slice(&w),
        Some(z) => {
            *z = Compressed::new(Algorithm::Zlib); // each command's frames count from 0
            z.wrap(codecs, &w, &mut c.wbuf);
        }
    }
}

/// A logged-in connection on a blocking socket.
pub struct Blocking {
    client: Client,
}

impl Blocking {
    /// The socket, for a caller that speaks to it directly (plain
    /// connections only: a TLS one would lose its session), and whether
    /// CLIENT_DEPRECATE_EOF is on.
    pub fn take(self) -> (std::net::TcpStream, bool) {
        assert!(self.client.tls.is_none(), "take() of a TLS connection");
        let eof = self.client.deprecate_eof;
        let fd = std::os::fd::OwnedFd::from(self.client.stream);
        (std::net::TcpStream::from(fd), eof)
    }
}

/// Logs in with a blocking socket (for `big`, `idle` and `startup`), with the
/// non-blocking workloads' login state machine.
pub fn login_blocking(t: &Target, out: &mut Outcome) -> Option<Blocking> {
    let s = match std::net::TcpStream::connect(t.addr) {
        Ok(s) => s,
        Err(_) => {
            out.error("connect");
            return None;
        }
    };
    let _ = s.set_nodelay(true);
    let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
    let mut c = Client::on(TcpStream::from_std(s));
    let mut buf = vec![0u8; 16384];
    loop {
        while let Some((seq, p)) = c.next_packet() {
            match on_login_packet(&mut c, t, seq, &p, out) {
                Some(true) => {
                    c.phase = Phase::Ready;
                    return Some(Blocking { client: c });
                }
                Some(false) => {}
                None => return None,
            }
        }
        if c.flush().is_err() || c.has_output() {
            out.error("write");
            return None;
        }
        match c.read_once(&mut buf, out) {
            Ok(0) | Err(_) => {
                out.error("closed_by_server");
                return None;
            }
            Ok(_) => {}
        }
    }
}

/// Reads the answer to the command sent on a blocking connection: its rows,
/// or the error code.
fn answer_blocking(c: &mut Client, buf: &mut [u8]) -> Result<u64, String> {
    let mut reader = ResultReader::new(c.deprecate_eof);
    let mut scratch = Outcome::default();
    loop {
        while let Some((_, p)) = c.next_packet() {
            match reader.feed(&p) {
                Step::More => {}
                Step::Done => return Ok(reader.rows),
                Step::Error(code) => return Err(format!("query_err_{code}")),
            }
        }
        match c.read_once(buf, &mut scratch) {
            Ok(0) | Err(_) => return Err("closed".into()),
            Ok(_) => {}
        }
    }
}

/// Sends `sql` on a logged-in blocking connection and reads the whole answer.
pub fn query_blocking(b: &mut Blocking, sql: &str) -> Result<u64, String> {
    let c = &mut b.client;
    let mut q = vec![0x03];
    q.extend_from_slice(sql.as_bytes());
    c.send(0, &q);
    c.flush().map_err(|e| e.to_string())?;
    answer_blocking(c, &mut [0u8; 16384])
}

/// Resident memory of a process in bytes (from /proc/PID/status).
pub fn rss(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Idle: open N logged-in connections, read the server's RSS, then one query
/// on every connection. Returns the outcome with `ops` = answered queries and
/// (rss_before, rss_after) in bytes.
pub fn idle(t: &Target, n: usize, server_pid: u32) -> (Outcome, u64, u64, usize) {
    let mut out = Outcome::default();
    let start = Instant::now();
    let before = rss(server_pid).unwrap_or(0);
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        match login_blocking(t, &mut out) {
            Some(c) => conns.push(c),
            None => {
                if out.error_count() > 50 {
                    break;
                }
            }
        }
    }
    let opened = conns.len();
    std::thread::sleep(Duration::from_secs(1));
    let after = rss(server_pid).unwrap_or(0);
    // one query on every connection: pipelined send, then read
    for b in conns.iter_mut() {
        b.client.send(0, b"\x03SELECT 1");
        if b.client.flush().is_err() {
            out.error("write");
        }
    }
    let mut buf = vec![0u8; 16384];
    for b in conns.iter_mut() {
        match answer_blocking(&mut b.client, &mut buf) {
            Ok(_) => out.ops += 1,
            Err(e) => out.error(&e),
        }
    }
    out.secs = start.elapsed().as_secs_f64();
    (out, before, after, opened)
}

/// Startup: spawns `cmd` (split on spaces), polls until a login succeeds;
/// returns (outcome, idle RSS after login, milliseconds from exec to login).
pub fn startup(t: &Target, cmd: &str) -> (Outcome, u64, f64) {
    let mut out = Outcome::default();
    let mut parts = cmd.split_whitespace();
    let Some(prog) = parts.next() else {
        out.error("no_command");
        return (out, 0, 0.0);
    };
    let t0 = Instant::now();
    let mut child = match std::process::Command::new(prog)
        .args(parts)
        .stderr(std::process::Stdio::null())
        .spawn()
    {
        Ok(c) => c,
        Err(_) => {
            out.error("spawn");
            return (out, 0, 0.0);
        }
    };
    let mut ms = 0.0;
    let deadline = t0 + Duration::from_secs(10);
    while Instant::now() < deadline {
        let mut scratch = Outcome::default();
        if let Some(mut b) = login_blocking(t, &mut scratch) {
            ms = t0.elapsed().as_secs_f64() * 1e3;
            out.ops = 1;
            let _ = query_blocking(&mut b, "SELECT 1");
            break;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    if out.ops == 0 {
        out.error("never_answered");
    }
    std::thread::sleep(Duration::from_millis(200));
    let rss = rss(child.id()).unwrap_or(0);
    let _ = child.kill();
    let _ = child.wait();
    out.secs = t0.elapsed().as_secs_f64();
    (out, rss, ms)
}

/// CPU seconds (user + system) a process has used, from /proc/PID/stat.
pub fn cpu_secs(pid: u32) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = s.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    // clock ticks: 100 per second on Linux (USER_HZ)
    Some((utime + stime) / 100.0)
}
