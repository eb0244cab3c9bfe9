//! One client connection as an explicit state machine, with no socket in it:
//! bytes in, bytes out. The event loop owns the socket and calls
//! [`Connection::on_input`] with what it read; state-machine tests drive the same
//! function with byte vectors.
//!
//! ```text
//!   accept ──greeting──▶ Handshake ──response ok──────────────▶ Command ◀─┐
//!                            │  └─other plugin─▶ AuthSwitch ─ok─▶   │  commands
//!                            │                       │              │──────┘
//!                            └──bad/denied/timeout───┴──────────▶ Closing ──▶ closed
//! ```
//! COM_CHANGE_USER goes from Command through AuthSwitch (when the plugin differs)
//! back to Command, or to Closing when the login is refused (as MySQL does).

mod commands;
mod prepared;
mod record;

pub use record::Note;

use crate::config::{Config, User};
use crate::limits;
use crate::protocol::command::{ChangeUser, Command};
use crate::protocol::compress::{self, Algorithm};
use crate::protocol::consts::{cap, charset, plugin, status};
use crate::protocol::errcodes as er;
use crate::protocol::handshake::{self, HandshakeResponse41, HandshakeV10};
use crate::protocol::packet;
use crate::protocol::response::{Encoder, ErrPacket, OkPacket};
use crate::protocol::{auth, Error as ProtoError};
use crate::responder::reply::{Reply, RowFormat};
use crate::responder::{AuthDecision, Request, Responder, Session};
use crate::server::encode::PausedRows;
use crate::server::statements::Statements;
use crate::stats::Stats;
use log::{debug, error};
use std::borrow::Cow;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

/// Capabilities understudy offers in its own greeting.
pub const SERVER_CAPABILITIES: u32 = cap::LONG_PASSWORD
    | cap::FOUND_ROWS
    | cap::LONG_FLAG
    | cap::CONNECT_WITH_DB
    | cap::PROTOCOL_41
    | cap::TRANSACTIONS
    | cap::SECURE_CONNECTION
    | cap::MULTI_STATEMENTS
    | cap::MULTI_RESULTS
    | cap::PS_MULTI_RESULTS
    | cap::PLUGIN_AUTH
    | cap::CONNECT_ATTRS
    | cap::PLUGIN_AUTH_LENENC_CLIENT_DATA
    | cap::DEPRECATE_EOF;

/// Where the connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Greeting sent; waiting for the HandshakeResponse41.
    Handshake,
    /// AuthSwitchRequest sent; waiting for the client's auth data.
    AuthSwitch {
        /// The plugin we switched to.
        plugin: &'static str,
    },
    /// Full authentication (caching_sha2_password after "perform full
    /// authentication", or sha256_password after it asked for the key):
    /// waiting for a public-key request or the password (RSA-encrypted; in
    /// clear over TLS or a Unix socket).
    FullAuth {
        /// caching_sha2_password or sha256_password.
        plugin: &'static str,
    },
    /// Logged in: commands.
    Command,
    /// LOAD DATA LOCAL INFILE: reading the client's file data until an empty packet.
    LocalInfile {
        /// Bytes received so far.
        bytes: u64,
    },
    /// A rule's `stall` fault: never answer again, keep the socket open;
    /// what the client sends is read and dropped.
    Stalled,
    /// Answer sent (or not): close once output is flushed; input is ignored.
    Closing,
}

/// What a connection asks of the loop next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Read more from the client (and answer what is buffered).
    Read,
    /// Carry on an answer that paused at the write high-water mark, once the
    /// output has room ([`Connection::resume`]); nothing else is read meanwhile.
    Resume,
    /// Hold the output from the given offset back until then (a delay), then
    /// [`Connection::release_hold`].
    HoldUntil(Instant),
    /// An answer is not known yet ([`Reply::Later`]): poll it as the loop
    /// turns ([`Connection::poll_later`]), and at the latest then.
    Wait(Instant),
    /// Flush what is queued and close.
    Close,
}

/// What the connection needs from its server while handling input.
pub struct Ctx<'a> {
    /// Server configuration.
    pub config: &'a Config,
    /// Who answers commands.
    pub responder: &'a mut dyn Responder,
    /// Counters.
    pub stats: &'a Stats,
    /// Reassembly buffer for payloads split over several packets.
    pub scratch: &'a mut Vec<u8>,
    /// The loop's idea of now (one clock read per poll turn).
    pub now: Instant,
    /// The journal, when one is kept (never for the admin port's own commands).
    pub journal: Option<&'a crate::journal::Journal>,
    /// The command being answered, for the journal (set by `ask`).
    pub note: Option<Note>,
}

/// A connection's protocol state. The contract with the loop: the loop
/// feeds it input ([`Connection::on_input`], which returns the bytes it
/// consumed) or lets it carry on a paused answer ([`Connection::resume`]);
/// [`Connection::next`] says what comes next (read, resume, hold the output
/// until a deadline, close), [`Connection::last_active`] is where the idle
/// deadline counts from. The loop changes it only through those calls, the
/// timeouts, [`Connection::close`] and [`Connection::release_hold`]: no
/// field of it is the loop's to write.
#[derive(Debug)]
pub struct Connection {
    /// What responders see.
    session: Session,
    /// Life-cycle phase.
    phase: Phase,
    /// Capabilities our greeting promised.
    server_caps: u32,
    /// Sequence id the next client packet must carry in the connection
    /// phase; in the command phase, the id of the next packet of the answer.
    seq: u8,
    /// Output held back (a responder delay, a drip; boxed: rare, and idle
    /// connections stay small).
    hold: Option<Box<Hold>>,
    /// Last time a command arrived (for the idle timeout).
    last_active: Instant,
    /// An answer that paused at the write high-water mark, to be resumed once
    /// the client has read (boxed: rare, and idle connections stay small).
    pending: Option<Box<Pending>>,
    /// Prepared statements (none until the first PREPARE).
    statements: Option<Box<Statements>>,
    /// Close with a reset (RST) rather than a FIN (a rule's `reset` fault).
    reset: bool,
    /// An SSLRequest was accepted: the loop is to start TLS on what follows
    /// it ([`Connection::take_start_tls`]); nothing more is read until then.
    start_tls: bool,
    /// The compressed protocol is on (the session's `compression`, asked for
    /// in the handshake response, starts after the login OK).
    compressing: bool,
    /// The login OK was written: the loop is to compress from the next byte
    /// on both ways ([`Connection::take_start_compression`]); nothing more is
    /// read until then.
    start_compression: bool,
}

/// Output held back from `mark` onward until `until`; with a drip, then let
/// out `drip.0` bytes every `drip.1`.
#[derive(Debug, Clone, Copy)]
struct Hold {
    until: Instant,
    mark: usize,
    drip: Option<(usize, std::time::Duration)>,
}

/// The rest of a command's answer, still to be produced.
#[derive(Debug)]
struct Pending {
    /// The COM_QUERY payload of a statement list (empty when `next` is None).
    payload: Box<[u8]>,
    /// Offset in the query text of the next statement of the list to answer.
    next: Option<usize>,
    /// A resultset that paused between rows.
    rows: Option<Box<PausedRows>>,
    /// The sequence id the next packet of the answer carries.
    seq: u8,
    /// An answer not known yet (the admin port's WAIT FOR JOURNAL).
    later: Option<Box<dyn crate::responder::reply::Later>>,
}

impl Connection {
    /// A connection for a freshly accepted client.
    pub fn new(session: Session, now: Instant) -> Connection {
        Connection {
            session,
            phase: Phase::Handshake,
            server_caps: SERVER_CAPABILITIES,
            seq: 1,
            hold: None,
            last_active: now,
            pending: None,
            statements: None,
            reset: false,
            start_tls: false,
            compressing: false,
            start_compression: false,
        }
    }

    /// What the loop should do with this connection next.
    pub fn next(&self) -> Next {
        if self.phase == Phase::Closing {
            Next::Close
        } else if let Some((until, _)) = self.hold() {
            Next::HoldUntil(until)
        } else if let Some(l) = self.pending.as_ref().and_then(|p| p.later.as_ref()) {
            Next::Wait(l.deadline())
        } else if self.pending.is_some() {
            Next::Resume
        } else {
            Next::Read
        }
    }

    /// True while an answer paused at the high-water mark waits to be resumed.
    pub fn has_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// What responders see of this connection.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The life-cycle phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Stops the connection: nothing more is read or answered (shutdown, a
    /// write that failed); what is queued may still be flushed.
    pub fn close(&mut self) {
        self.phase = Phase::Closing;
        self.pending = None;
    }

    /// An answer held back by a delay: until when, and from which offset of
    /// the output produced in the same call.
    pub fn hold(&self) -> Option<(Instant, usize)> {
        self.hold.as_deref().map(|h| (h.until, h.mark))
    }

    /// A drip (a rule's fault): the held output goes out this many bytes at
    /// a time, one piece every so often.
    pub fn drip(&self) -> Option<(usize, std::time::Duration)> {
        self.hold.as_deref().and_then(|h| h.drip)
    }

    /// The next piece of a drip is due then.
    pub fn rearm_hold(&mut self, until: Instant) {
        if let Some(h) = self.hold.as_deref_mut() {
            h.until = until;
        }
    }

    /// The delay is over: answering goes on.
    pub fn release_hold(&mut self) {
        self.hold = None;
    }

    /// True once, after an SSLRequest was accepted: the bytes after it are the
    /// client's TLS handshake, for the loop to hand to TLS.
    pub fn take_start_tls(&mut self) -> bool {
        std::mem::take(&mut self.start_tls)
    }

    /// Once, after the login OK was written to a client that asked for the
    /// compressed protocol: the loop compresses what follows the OK, and
    /// inflates what comes in after it.
    pub fn take_start_compression(&mut self) -> Option<Algorithm> {
        if !std::mem::take(&mut self.start_compression) {
            return None;
        }
        self.session.compression
    }

    /// TLS is established (its version and cipher), for the session's variables.
    pub fn set_tls(&mut self, tls: (&'static str, &'static str)) {
        self.session.tls = Some(Box::new(tls));
    }

    /// True when the connection is to end with a reset (RST), not a FIN.
    pub fn resets(&self) -> bool {
        self.reset
    }

    /// When the last command arrived (the idle deadline counts from it).
    pub fn last_active(&self) -> Instant {
        self.last_active
    }

    /// Writes the greeting: the responder's if it has one (parsed, so that the rest
    /// of the conversation follows what it promised), else our own.
    pub fn start(&mut self, ctx: &mut Ctx<'_>, out: &mut Vec<u8>, nonce: [u8; 20]) {
        self.session.nonce = nonce;
        if ctx.config.tls.is_some() {
            self.server_caps |= cap::SSL;
        }
        if ctx.config.compress_zlib {
            self.server_caps |= cap::COMPRESS;
        }
        if ctx.config.compress_zstd {
            self.server_caps |= cap::ZSTD_COMPRESSION_ALGORITHM;
        }
        let mut seq = 0;
        if let Some(raw) = ctx.responder.greeting(&mut self.session) {
            match HandshakeV10::decode(&raw) {
                Ok(g) => {
                    self.server_caps = g.capabilities;
                    let mut n = [0u8; 20];
                    for (d, s) in n.iter_mut().zip(g.nonce.iter()) {
                        *d = *s;
                    }
                    self.session.nonce = n;
                }
                Err(e) => debug!(
                    "conn {}: scripted greeting is not a HandshakeV10 ({e}); sent as is",
                    self.session.id
                ),
            }
            packet::write_packet(out, &mut seq, &raw);
            return;
        }
        let g = HandshakeV10 {
            server_version: ctx.config.server_version.as_bytes().to_vec(),
            connection_id: self.session.id,
            nonce: nonce.to_vec(),
            capabilities: self.server_caps,
            charset: charset::UTF8MB4_0900_AI_CI as u8,
            status: status::AUTOCOMMIT,
            auth_plugin: ctx.config.auth_plugin.as_bytes().to_vec(),
        };
        let start = packet::begin(out);
        g.encode(out);
        packet::finish(out, start, &mut seq);
    }

    /// Consumes whole packets from `input`, appending answers to `out`. Stops at a
    /// partial packet, when the connection starts closing, when a responder asks
    /// for a delay, or when `out` (plus `pending` bytes already queued) passes the
    /// high-water mark.
    pub fn on_input(
        &mut self,
        input: &[u8],
        queued: usize,
        ctx: &mut Ctx<'_>,
        out: &mut Vec<u8>,
    ) -> usize {
        if self.phase == Phase::Stalled {
            ctx.stats.bytes_in.add(input.len() as u64);
            return input.len(); // a stalled server reads and never answers
        }
        let mut consumed = 0;
        while self.phase != Phase::Closing
            && self.hold.is_none()
            && self.pending.is_none()
            && !self.start_tls
            && !self.start_compression
        {
            if out.len() + queued >= ctx.config.write_high_water {
                break;
            }
            let rest = &input[consumed..];
            // Check the sequence id as soon as the header is in: a peer speaking
            // something else entirely (an HTTP request, say) is refused at once
            // instead of being waited on for a payload length it never meant.
            if let Some(&seq) = rest.get(3) {
                let want = if self.phase == Phase::Command {
                    0
                } else {
                    self.seq
                };
                if seq != want {
                    self.out_of_order(seq, ctx, out);
                    break;
                }
            }
            // Before login a packet can only be a handshake or auth answer: a
            // larger one is refused as soon as its header is in.
            let max = if self.is_logged_in() {
                ctx.config.max_packet
            } else {
                ctx.config.max_packet.min(limits::MAX_PRELOGIN_PACKET)
            };
            let frame = match packet::decode_frame(rest, max) {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => {
                    self.protocol_error(e, ctx, out);
                    break;
                }
            };
            // A payload split over several packets is joined in the loop's scratch
            // vector, taken out of `ctx` for the duration of the call.
            let mut joined = std::mem::take(ctx.scratch);
            let payload = frame.payload(rest, &mut joined);
            consumed += frame.consumed;
            ctx.stats.bytes_in.add(frame.consumed as u64);
            self.on_packet(frame.seq, frame.last_seq, payload, queued, ctx, out);
            joined.clear();
            if joined.capacity() > crate::server::buffer::SCRATCH_KEEP {
                joined = Vec::new(); // a 16 MiB packet does not pin 16 MiB for good
            }
            *ctx.scratch = joined;
        }
        consumed
    }

    fn on_packet(
        &mut self,
        seq: u8,
        last_seq: u8,
        payload: &[u8],
        queued: usize,
        ctx: &mut Ctx<'_>,
        out: &mut Vec<u8>,
    ) {
        match self.phase {
            Phase::Handshake | Phase::AuthSwitch { .. } | Phase::FullAuth { .. } => {
                if seq != self.seq {
                    return self.out_of_order(seq, ctx, out);
                }
                self.seq = last_seq.wrapping_add(1);
                match self.phase {
                    Phase::AuthSwitch { plugin } => {
                        self.on_switch_response(plugin, payload, ctx, out)
                    }
                    Phase::FullAuth { plugin } => self.on_full_auth(plugin, payload, ctx, out),
                    _ => self.on_handshake_response(payload, ctx, out),
                }
            }
            Phase::LocalInfile { bytes } => {
                if seq != self.seq {
                    return self.out_of_order(seq, ctx, out);
                }
                self.seq = last_seq.wrapping_add(1);
                if payload.is_empty() {
                    // end of the file: OK, as a server does after loading it
                    let mut enc =
                        Encoder::new(out, self.seq, self.session.capabilities | cap::PROTOCOL_41);
                    enc.ok(&OkPacket {
                        status: self.session.status(),
                        ..OkPacket::default()
                    });
                    debug!(
                        "conn {}: LOCAL INFILE data received: {bytes} bytes",
                        self.session.id
                    );
                    self.phase = Phase::Command;
                } else {
                    self.phase = Phase::LocalInfile {
                        bytes: bytes + payload.len() as u64,
                    };
                }
            }
            Phase::Command => {
                if seq != 0 {
                    return self.out_of_order(seq, ctx, out);
                }
                self.last_active = ctx.now;
                self.seq = last_seq.wrapping_add(1);
                self.on_command(payload, queued, ctx, out)
            }
            Phase::Closing | Phase::Stalled => {}
        }
    }

    fn on_handshake_response(&mut self, payload: &[u8], ctx: &mut Ctx<'_>, out: &mut Vec<u8>) {
        if handshake::is_ssl_request(payload) {
            if self.server_caps & cap::SSL != 0 && self.session.tls.is_none() {
                debug!("conn {}: SSLRequest: starting TLS", self.session.id);
                self.start_tls = true;
                return;
            }
            debug!("conn {}: client asked for TLS", self.session.id);
            ctx.stats.handshakes_failed.add(1);
            return self.fail(
                ctx,
                out,
                er::ER_HANDSHAKE_ERROR.with(b"TLS is not enabled on this server: connect without SSL (e.g. --ssl-mode=DISABLED)"),
            );
        }
        let resp = match HandshakeResponse41::decode_for(payload, self.server_caps) {
            Ok(r) => r,
            Err(e) => {
                debug!("conn {}: bad handshake response: {e}", self.session.id);
                ctx.stats.handshakes_failed.add(1);
                ctx.stats.protocol_errors.add(1);
                return self.fail(ctx, out, er::ER_HANDSHAKE_ERROR.packet());
            }
        };
        if ctx.config.require_secure_transport && !self.session.is_secure() {
            debug!(
                "conn {}: plain login refused (--require-secure-transport)",
                self.session.id
            );
            ctx.stats.handshakes_failed.add(1);
            return self.fail(ctx, out, er::ER_SECURE_TRANSPORT_REQUIRED.packet());
        }
        let s = &mut self.session;
        s.capabilities = resp.capabilities & self.server_caps;
        s.compression = if s.capabilities & cap::ZSTD_COMPRESSION_ALGORITHM != 0 {
            let level = resp
                .zstd_level
                .map_or(compress::ZSTD_DEFAULT_LEVEL, i32::from);
            Some(Algorithm::Zstd(
                level.clamp(*compress::ZSTD_LEVELS.start(), *compress::ZSTD_LEVELS.end()) as u8,
            ))
        } else if s.capabilities & cap::COMPRESS != 0 {
            Some(Algorithm::Zlib)
        } else {
            None
        };
        s.multi_statements = s.capabilities & cap::MULTI_STATEMENTS != 0;
        s.charset = resp.charset;
        s.set_user(String::from_utf8_lossy(&resp.username).into_owned());
        let db = resp
            .database
            .as_ref()
            .filter(|d| !d.is_empty() && s.capabilities & cap::CONNECT_WITH_DB != 0)
            .map(|d| String::from_utf8_lossy(d).into_owned());
        s.set_database(db);
        let client_plugin = match &resp.auth_plugin {
            Some(p) if s.capabilities & cap::PLUGIN_AUTH != 0 => {
                String::from_utf8_lossy(p).into_owned()
            }
            _ => plugin::NATIVE.to_string(),
        };
        s.auth_plugin = static_plugin_name(&client_plugin);
        s.set_attributes(&resp.attributes);
        debug!(
            "conn {}: login user '{}' db {:?} plugin {} caps {:#010x}",
            s.id, s.user, s.database, client_plugin, s.capabilities
        );
        match ctx.responder.auth(&mut self.session, &resp) {
            AuthDecision::Accept => self.login_ok(ctx, out, false),
            AuthDecision::Reject {
                code,
                sqlstate,
                message,
            } => {
                ctx.stats.handshakes_failed.add(1);
                self.record_login(ctx, Some(code));
                self.fail(
                    ctx,
                    out,
                    ErrPacket::new(code, &sqlstate, message.as_bytes()),
                )
            }
            AuthDecision::Default => {
                self.check_login(&client_plugin, &resp.auth_response, ctx, out)
            }
        }
    }

    /// The server's own login rules: accept all, or verify against `--user`.
    fn check_login(
        &mut self,
        client_plugin: &str,
        response: &[u8],
        ctx: &mut Ctx<'_>,
        out: &mut Vec<u8>,
    ) {
        let want = ctx.config.auth_plugin;
        if client_plugin != want && self.session.capabilities & cap::PLUGIN_AUTH != 0 {
            debug!(
                "conn {}: auth switch {client_plugin} -> {want}",
                self.session.id
            );
            let mut data = self.session.nonce.to_vec();
            data.push(0);
            let mut seq = self.seq;
            let start = packet::begin(out);
            handshake::encode_auth_switch(out, want, &data);
            packet::finish(out, start, &mut seq);
            self.seq = seq;
            self.phase = Phase::AuthSwitch { plugin: want };
            return;
        }
        let plugin = match client_plugin {
            plugin::CACHING_SHA2 => plugin::CACHING_SHA2,
            p if p == want => want, // sha256_password, mysql_clear_password
            _ => plugin::NATIVE,
        };
        self.verify(plugin, response, ctx, out);
    }

    fn on_switch_response(
        &mut self,
        plugin: &'static str,
        payload: &[u8],
        ctx: &mut Ctx<'_>,
        out: &mut Vec<u8>,
    ) {
        self.verify(plugin, payload, ctx, out);
    }

    /// Full authentication: caching_sha2_password's after "perform full
    /// authentication", sha256_password's from its first response. Over
    /// plain TCP `0x02` (sha256_password: `0x01`) asks for the public key
    /// (sent, PEM, in an AuthMoreData) and anything else is the password
    /// RSA-encrypted with it (XOR the nonce); over TLS or a Unix socket
    /// (which MySQL counts as secure) the reply is the password in clear.
    /// Checked against `--user`: OK, or ERR 1045 and close.
    fn on_full_auth(
        &mut self,
        plugin: &'static str,
        payload: &[u8],
        ctx: &mut Ctx<'_>,
        out: &mut Vec<u8>,
    ) {
        let key = ctx.config.auth_key.clone();
        // the public key request: 0x02 for caching_sha2_password, 0x01 for
        // sha256_password
        let request = if plugin == plugin::SHA256 { 1 } else { 2 };
        // over TLS or a Unix socket the reply is the password itself, as
        // MySQL reads it: a client that asks for the key there (libmariadb's
        // sha256_password decides before TLS is up) is refused as by MySQL,
        // not sent a key whose ciphertext would then be read as a password
        if payload == [request] && !self.session.is_secure() {
            let Some(key) = key else {
                return self.deny(ctx, out, true);
            };
            self.more_data(out, key.public_pem().as_bytes());
            self.phase = Phase::FullAuth { plugin };
            return;
        }
        let password = if payload.is_empty() || payload == [0] {
            Some(Vec::new()) // an empty password is sent as nothing (or a NUL)
        } else if self.session.is_secure() {
            Some(payload.strip_suffix(&[0]).unwrap_or(payload).to_vec())
        } else {
            key.and_then(|k| k.password(payload, &self.session.nonce))
        };
        let ok = password.is_some_and(|p| {
            self.account_ok(ctx, |u| auth::constant_time_eq(u.password.as_bytes(), &p))
        });
        if ok {
            self.session.auth_plugin = Cow::Borrowed(plugin);
            return self.login_ok(ctx, out, false);
        }
        self.deny(ctx, out, !payload.is_empty() && payload != [0]);
    }

    /// Whether the session's account passes `check`. With no `--user`
    /// every account does (any user, any password), but only once the
    /// plugin's exchange has run as it would for a real account: a
    /// caching_sha2_password client waits for its fast-auth byte or its
    /// full authentication, and a bare OK in their place breaks libmysql.
    fn account_ok(&self, ctx: &Ctx<'_>, check: impl FnOnce(&User) -> bool) -> bool {
        if ctx.config.users.is_empty() {
            return true;
        }
        ctx.config
            .users
            .iter()
            .find(|u| u.name == self.session.user)
            .is_some_and(check)
    }

    fn verify(
        &mut self,
        plugin: &'static str,
        response: &[u8],
        ctx: &mut Ctx<'_>,
        out: &mut Vec<u8>,
    ) {
        if plugin == plugin::CACHING_SHA2 && ctx.config.auth_cache_cold && !response.is_empty() {
            // a cold cache: the scramble cannot be checked against a cached
            // hash, so "perform full authentication" (0x04)
            debug!(
                "conn {}: caching_sha2_password full authentication",
                self.session.id
            );
            self.more_data(out, &[4]);
            self.phase = Phase::FullAuth {
                plugin: plugin::CACHING_SHA2,
            };
            return;
        }
        if plugin == plugin::SHA256 {
            // the password itself: in clear over a secure transport, RSA-
            // encrypted with the server's key, or a request for that key
            return self.on_full_auth(plugin, response, ctx, out);
        }
        if plugin == plugin::CLEAR {
            if !self.session.is_secure() {
                // a password in clear over plain TCP: refused, as a server
                // that cares about it would (clients need
                // --enable-cleartext-plugin to send it at all)
                debug!(
                    "conn {}: mysql_clear_password refused without TLS",
                    self.session.id
                );
                return self.deny(ctx, out, !response.is_empty());
            }
            let password = response.strip_suffix(&[0]).unwrap_or(response);
            let ok = self.account_ok(ctx, |u| {
                auth::constant_time_eq(u.password.as_bytes(), password)
            });
            if ok {
                self.session.auth_plugin = Cow::Borrowed(plugin);
                return self.login_ok(ctx, out, false);
            }
            return self.deny(ctx, out, !password.is_empty());
        }
        let ok = self.account_ok(ctx, |u| {
            auth::verify(plugin, u.password.as_bytes(), &self.session.nonce, response)
        });
        if ok {
            self.session.auth_plugin = Cow::Borrowed(plugin);
            let fast_auth = plugin == plugin::CACHING_SHA2 && !response.is_empty();
            return self.login_ok(ctx, out, fast_auth);
        }
        self.deny(ctx, out, !response.is_empty());
    }

    /// ERR 1045 "Access denied", counted and journaled, and close.
    fn deny(&mut self, ctx: &mut Ctx<'_>, out: &mut Vec<u8>, with_password: bool) {
        ctx.stats.handshakes_failed.add(1);
        let msg = format!(
            "Access denied for user '{}'@'{}' (using password: {})",
            self.session.user,
            self.session.peer.host(),
            if with_password { "YES" } else { "NO" }
        );
        debug!("conn {}: {msg}", self.session.id);
        self.record_login(ctx, Some(er::ER_ACCESS_DENIED_ERROR.code));
        self.fail(ctx, out, er::ER_ACCESS_DENIED_ERROR.with(msg.as_bytes()));
    }

    /// An AuthMoreData packet (next in the login's sequence).
    fn more_data(&mut self, out: &mut Vec<u8>, data: &[u8]) {
        let start = packet::begin(out);
        handshake::encode_auth_more_data(out, data);
        packet::finish(out, start, &mut self.seq);
    }

    fn login_ok(&mut self, ctx: &mut Ctx<'_>, out: &mut Vec<u8>, fast_auth: bool) {
        if fast_auth {
            // caching_sha2_password: "fast auth success" before the OK.
            self.more_data(out, &[3]);
        }
        let mut enc = Encoder::new(out, self.seq, self.session.capabilities | cap::PROTOCOL_41);
        enc.ok(&OkPacket {
            status: self.session.status(),
            ..OkPacket::default()
        });
        self.phase = Phase::Command;
        self.last_active = ctx.now;
        if self.session.compression.is_some() && !self.compressing {
            // from the byte after this OK on (COM_CHANGE_USER's OK is
            // already inside the compressed stream)
            self.compressing = true;
            self.start_compression = true;
        }
        ctx.stats.handshakes_ok.add(1);
        self.record_login(ctx, None);
        debug!(
            "conn {}: logged in as '{}'",
            self.session.id, self.session.user
        );
    }

    fn on_command(&mut self, payload: &[u8], queued: usize, ctx: &mut Ctx<'_>, out: &mut Vec<u8>) {
        if let Some(&c) = payload.first() {
            ctx.stats.command(c);
        }
        let cmd = match Command::decode(payload, self.session.capabilities) {
            Ok(c) => c,
            Err(e) => return self.malformed_command(payload, e, ctx, out),
        };
        if log::log_enabled!(log::Level::Debug) {
            debug!("conn {}: {}", self.session.id, describe(&cmd));
        }
        match cmd {
            Command::Quit => {
                // The responders hear of it (a script's read_query sees
                // COM_QUIT); nothing is sent: the client is gone.
                let _ = self.ask(&Request::plain(payload, &cmd), ctx, out);
                debug!("conn {}: COM_QUIT", self.session.id);
                self.phase = Phase::Closing;
            }
            Command::ChangeUser(ref cu) => {
                // A script may answer COM_CHANGE_USER itself; declined, the
                // server re-authenticates.
                let Some(answer) = self.ask(&Request::plain(payload, &cmd), ctx, out) else {
                    return;
                };
                if answer.declined() {
                    return self.on_change_user(cu.clone(), ctx, out);
                }
                if matches!(answer.reply, Reply::Ok(_)) {
                    // the responder said OK: the new identity stands
                    let s = &mut self.session;
                    s.set_user(String::from_utf8_lossy(cu.username).into_owned());
                    s.set_database(
                        (!cu.database.is_empty())
                            .then(|| String::from_utf8_lossy(cu.database).into_owned()),
                    );
                    s.reset();
                    self.statements = None;
                }
                self.emit(answer, RowFormat::Text, false, queued, ctx, out);
            }
            Command::Query(sql) => self.query(payload, &cmd, sql, queued, ctx, out),
            Command::Prepare(sql) => self.prepare(payload, &cmd, sql, queued, ctx, out),
            Command::Execute(body) => self.execute(payload, &cmd, body, queued, ctx, out),
            Command::LongData(body) => self.long_data(payload, &cmd, body, ctx, out),
            Command::StmtClose(id) => self.close_statement(payload, &cmd, id, ctx, out),
            Command::StmtReset(id) => self.reset_statement(payload, &cmd, id, queued, ctx, out),
            Command::Fetch { id, rows } => self.fetch(payload, &cmd, id, rows, queued, ctx, out),
            Command::ResetConnection => {
                self.statements = None;
                self.simple(&Request::plain(payload, &cmd), queued, ctx, out)
            }
            _ => self.simple(&Request::plain(payload, &cmd), queued, ctx, out),
        }
    }

    fn on_change_user(&mut self, cu: ChangeUser<'_>, ctx: &mut Ctx<'_>, out: &mut Vec<u8>) {
        let s = &mut self.session;
        // Through the setters: responders that mirror the identity (a Lua
        // script's proxy.connection.client) see the change (issue 8, case 8).
        s.set_user(String::from_utf8_lossy(cu.username).into_owned());
        s.set_database(
            (!cu.database.is_empty()).then(|| String::from_utf8_lossy(cu.database).into_owned()),
        );
        if let Some(c) = cu.charset {
            s.charset = c as u8;
        }
        s.reset();
        self.statements = None;
        let client_plugin = cu.auth_plugin.map_or_else(
            || plugin::NATIVE.to_string(),
            |p| String::from_utf8_lossy(p).into_owned(),
        );
        debug!(
            "conn {}: COM_CHANGE_USER to '{}' ({client_plugin})",
            s.id, s.user
        );
        self.check_login(&client_plugin, cu.auth_response, ctx, out);
    }

    /// A command too short to decode. A prepared-statement command is refused
    /// and the connection goes on, as MySQL does (CLOSE and SEND_LONG_DATA,
    /// which are never answered, are dropped); anything else is a protocol
    /// error that closes the connection.
    fn malformed_command(
        &mut self,
        payload: &[u8],
        e: ProtoError,
        ctx: &mut Ctx<'_>,
        out: &mut Vec<u8>,
    ) {
        use crate::protocol::consts::com;
        match payload.first().copied() {
            Some(com::STMT_CLOSE | com::STMT_SEND_LONG_DATA) => {
                debug!("conn {}: {e}: dropped", self.session.id);
            }
            Some(com::STMT_EXECUTE | com::STMT_RESET | com::STMT_FETCH) => {
                debug!("conn {}: {e}", self.session.id);
                ctx.stats.protocol_errors.add(1);
                let mut enc = Encoder::new(out, self.seq, self.caps());
                enc.err(&er::ER_MALFORMED_PACKET.packet());
            }
            _ => self.protocol_error(e, ctx, out),
        }
    }

    /// Sends `err` and closes. A client that was greeted without PROTOCOL_41
    /// (a script's pre-4.1 greeting) gets a pre-4.1 ERR, without '#'+SQLSTATE,
    /// which it would otherwise read as part of the message.
    fn fail(&mut self, _ctx: &mut Ctx<'_>, out: &mut Vec<u8>, err: ErrPacket<'_>) {
        let caps = if self.server_caps & cap::PROTOCOL_41 == 0 {
            0
        } else {
            self.session.capabilities | cap::PROTOCOL_41
        };
        let mut enc = Encoder::new(out, self.seq, caps);
        enc.err(&err);
        self.phase = Phase::Closing;
    }

    fn out_of_order(&mut self, got: u8, ctx: &mut Ctx<'_>, out: &mut Vec<u8>) {
        log::info!(
            "conn {}: packet out of order (sequence id {got}, expected {}) in {:?}; closing",
            self.session.id,
            if self.phase == Phase::Command {
                0
            } else {
                self.seq
            },
            self.phase
        );
        ctx.stats.protocol_errors.add(1);
        self.seq = got.wrapping_add(1);
        self.fail(ctx, out, er::ER_NET_PACKETS_OUT_OF_ORDER.packet());
    }

    fn protocol_error(&mut self, e: ProtoError, ctx: &mut Ctx<'_>, out: &mut Vec<u8>) {
        log::info!("conn {}: {e} in {:?}; closing", self.session.id, self.phase);
        ctx.stats.protocol_errors.add(1);
        if self.phase == Phase::Command {
            self.seq = 1;
        }
        match e {
            ProtoError::TooLarge { .. } => {
                self.fail(ctx, out, er::ER_NET_PACKET_TOO_LARGE.packet())
            }
            _ => self.fail(ctx, out, er::ER_MALFORMED_PACKET.packet()),
        }
    }

    /// The handshake deadline passed: close without a word (as MySQL does).
    pub fn on_handshake_timeout(&mut self, stats: &Stats) {
        debug!("conn {}: handshake timeout", self.session.id);
        stats.handshakes_failed.add(1);
        self.phase = Phase::Closing;
    }

    /// The idle deadline passed: tell the client why (MySQL 8.0.24's ER_CLIENT_INTERACTION_TIMEOUT), then close.
    pub fn on_idle_timeout(&mut self, out: &mut Vec<u8>) {
        debug!("conn {}: idle timeout", self.session.id);
        let mut enc = Encoder::new(out, 0, self.session.capabilities | cap::PROTOCOL_41);
        enc.err(&er::ER_CLIENT_INTERACTION_TIMEOUT.packet());
        self.phase = Phase::Closing;
    }

    /// True once logged in.
    pub fn is_logged_in(&self) -> bool {
        matches!(
            self.phase,
            Phase::Command | Phase::LocalInfile { .. } | Phase::Stalled
        )
    }
}

/// Runs a responder call, catching a panic: `None` (and the panic logged with
/// the connection id) instead of unwinding into the loop, so that a bug in one
/// command's handling costs that connection, not the server.
pub fn guarded<T>(conn: u32, f: impl FnOnce() -> T) -> Option<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => Some(v),
        Err(e) => {
            let what = e
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| e.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "(no message)".to_string());
            error!("conn {conn}: panic while answering, closing this connection: {what}");
            None
        }
    }
}

/// The plugin name, without an allocation when it is one of the known ones.
fn static_plugin_name(name: &str) -> Cow<'static, str> {
    match name {
        plugin::NATIVE => Cow::Borrowed(plugin::NATIVE),
        plugin::CACHING_SHA2 => Cow::Borrowed(plugin::CACHING_SHA2),
        plugin::CLEAR => Cow::Borrowed(plugin::CLEAR),
        plugin::SHA256 => Cow::Borrowed(plugin::SHA256),
        other => Cow::Owned(other.to_string()),
    }
}

/// Writes ERR 1040 "Too many connections" in place of a greeting.
pub fn too_many_connections(out: &mut Vec<u8>) {
    let mut enc = Encoder::new(out, 0, cap::PROTOCOL_41);
    enc.err(&er::ER_CON_COUNT_ERROR.packet());
}

/// Text for the debug log, cut at 300 bytes.
fn cut(b: &[u8]) -> String {
    let t = String::from_utf8_lossy(b.get(..300).unwrap_or(b)).into_owned();
    if b.len() > 300 {
        format!("{t}... ({} bytes)", b.len())
    } else {
        t
    }
}

/// One line about a command for the debug log.
fn describe(cmd: &Command<'_>) -> String {
    match cmd {
        Command::Query(q) => format!("COM_QUERY {}", cut(q)),
        Command::InitDb(d) => format!("COM_INIT_DB {}", cut(d)),
        Command::FieldList { table, .. } => format!("COM_FIELD_LIST {}", cut(table)),
        Command::Prepare(q) => format!("COM_STMT_PREPARE {}", cut(q)),
        Command::Execute(b) => format!(
            "COM_STMT_EXECUTE statement {} ({} bytes)",
            crate::protocol::binary::statement_id(b).unwrap_or(0),
            b.len()
        ),
        Command::LongData(b) => format!(
            "COM_STMT_SEND_LONG_DATA statement {} ({} bytes)",
            crate::protocol::binary::statement_id(b).unwrap_or(0),
            b.len()
        ),
        Command::Other(c, _) => format!("command 0x{c:02x}"),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    //! The state machine driven with byte vectors: no sockets.
    use super::*;
    use crate::protocol::packet::decode_frame;
    use crate::responder::builtin::Builtin;
    use crate::responder::Peer;
    use std::sync::Arc;

    struct Harness {
        config: Config,
        responder: Builtin,
        stats: Arc<Stats>,
        scratch: Vec<u8>,
        conn: Connection,
    }

    impl Harness {
        fn new(config: Config) -> Harness {
            let stats = Arc::new(Stats::default());
            let responder = Builtin::new(crate::server_facts(&config, 4040), stats.clone());
            let conn = Connection::new(Session::new(7, Peer::Unix, Peer::Unix), Instant::now());
            Harness {
                config,
                responder,
                stats,
                scratch: Vec::new(),
                conn,
            }
        }

        fn ctx(&mut self) -> Ctx<'_> {
            Ctx {
                config: &self.config,
                responder: &mut self.responder,
                stats: &self.stats,
                scratch: &mut self.scratch,
                now: Instant::now(),
                journal: None,
                note: None,
            }
        }

        /// Starts the connection; returns the greeting payload.
        fn greet(&mut self) -> HandshakeV10 {
            let mut out = Vec::new();
            let mut conn = std::mem::replace(
                &mut self.conn,
                Connection::new(Session::new(0, Peer::Unix, Peer::Unix), Instant::now()),
            );
            conn.start(&mut self.ctx(), &mut out, [b'n'; 20]);
            self.conn = conn;
            let packets = split(&out);
            assert_eq!(packets.len(), 1);
            assert_eq!(packets[0].0, 0);
            HandshakeV10::decode(&packets[0].1).unwrap()
        }

        /// Feeds bytes; returns (consumed, answers as (seq, payload)).
        fn feed(&mut self, input: &[u8]) -> (usize, Vec<(u8, Vec<u8>)>) {
            let mut out = Vec::new();
            let mut conn = std::mem::replace(
                &mut self.conn,
                Connection::new(Session::new(0, Peer::Unix, Peer::Unix), Instant::now()),
            );
            let consumed = conn.on_input(input, 0, &mut self.ctx(), &mut out);
            self.conn = conn;
            (consumed, split(&out))
        }
    }

    impl Harness {
        /// Resumes a paused answer; returns the packets it wrote.
        fn resume(&mut self) -> Vec<(u8, Vec<u8>)> {
            let mut out = Vec::new();
            let mut conn = std::mem::replace(
                &mut self.conn,
                Connection::new(Session::new(0, Peer::Unix, Peer::Unix), Instant::now()),
            );
            conn.resume(0, &mut self.ctx(), &mut out);
            self.conn = conn;
            split(&out)
        }
    }

    /// A long multi-statement list pauses at the high-water mark and, resumed,
    /// gives exactly the packets an unbounded answer has (issue 8, case 3).
    #[test]
    fn r8_a_long_statement_list_pauses_and_resumes() {
        let list = vec!["SHOW DATABASES"; 40].join("; ") + "; SELECT 1";
        let mut query = vec![3u8];
        query.extend_from_slice(list.as_bytes());
        let whole = {
            let mut h = Harness::new(Config::default());
            let g = h.greet();
            h.feed(&response("bob", "x", &g.nonce));
            let (_, out) = h.feed(&framed(0, &query));
            assert!(!h.conn.has_pending());
            out
        };
        assert_eq!(whole.len(), 40 * 73 + 4);
        let mut h = Harness::new(Config {
            write_high_water: 4096,
            ..Config::default()
        });
        let g = h.greet();
        h.feed(&response("bob", "x", &g.nonce));
        let mut input = framed(0, &query);
        input.extend(framed(0, b"\x0e")); // a COM_PING pipelined behind it
        let (n, mut got) = h.feed(&input);
        assert!(h.conn.has_pending(), "paused");
        assert!(got.len() < whole.len() / 4, "{} packets at once", got.len());
        let mut turns = 0;
        while h.conn.has_pending() {
            let more = h.resume();
            assert!(!more.is_empty());
            got.extend(more);
            turns += 1;
        }
        assert!(turns > 5, "{turns}");
        assert_eq!(got, whole);
        // the pipelined ping was not answered in between; it is now
        let (_, ping) = h.feed(&input[n..]);
        assert_eq!(ping, vec![(1, vec![0, 0, 0, 2, 0, 0, 0])]);
    }

    /// Before login, a packet header declaring more than the pre-login limit is
    /// refused at once with ERR 1153 (issue 8, case 6).
    #[test]
    fn r8_prelogin_packet_limit() {
        let mut h = Harness::new(Config::default());
        h.greet();
        let (_, out) = h.feed(&[0xff, 0xff, 0xff, 1]);
        assert_eq!(out.len(), 1);
        let e = crate::protocol::response::decode_err(&out[0].1).unwrap();
        assert_eq!(e.code, 1153);
        assert_eq!(h.conn.phase, Phase::Closing);
    }

    fn split(mut b: &[u8]) -> Vec<(u8, Vec<u8>)> {
        let mut v = Vec::new();
        while let Some(f) = decode_frame(b, usize::MAX).unwrap() {
            let mut s = Vec::new();
            v.push((f.seq, f.payload(b, &mut s).to_vec()));
            b = &b[f.consumed..];
        }
        v
    }

    fn framed(seq: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut s = seq;
        packet::write_packet(&mut out, &mut s, payload);
        out
    }

    fn response(user: &str, pw: &str, nonce: &[u8]) -> Vec<u8> {
        let r = HandshakeResponse41 {
            capabilities: cap::PROTOCOL_41
                | cap::SECURE_CONNECTION
                | cap::PLUGIN_AUTH
                | cap::CONNECT_ATTRS
                | cap::DEPRECATE_EOF
                | cap::MULTI_STATEMENTS
                | cap::MULTI_RESULTS,
            max_packet: 1 << 24,
            charset: 45,
            username: user.as_bytes().to_vec(),
            auth_response: auth::native_scramble(pw.as_bytes(), nonce),
            database: None,
            auth_plugin: Some(plugin::NATIVE.as_bytes().to_vec()),
            attributes: vec![(b"_client_name".to_vec(), b"unit".to_vec())],
            zstd_level: None,
        };
        let mut p = Vec::new();
        r.encode(&mut p);
        framed(1, &p)
    }

    #[test]
    fn login_then_query_transcript() {
        let mut h = Harness::new(Config::default());
        let g = h.greet();
        assert_eq!(g.nonce, vec![b'n'; 20]);
        let (n, out) = h.feed(&response("bob", "x", &g.nonce));
        assert!(n > 0);
        assert_eq!(
            out,
            vec![(2, vec![0, 0, 0, 2, 0, 0, 0])],
            "OK, seq 2, autocommit"
        );
        assert_eq!(h.conn.phase, Phase::Command);
        assert_eq!(
            h.conn.session.attributes(),
            vec![("_client_name".to_string(), "unit".to_string())]
        );
        // SELECT 1 under DEPRECATE_EOF: count, column, row, OK(0xFE)
        let (_, out) = h.feed(&framed(0, b"\x03SELECT 1"));
        let seqs: Vec<u8> = out.iter().map(|p| p.0).collect();
        assert_eq!(seqs, vec![1, 2, 3, 4]);
        assert_eq!(out[0].1, vec![1]);
        assert_eq!(out[2].1, b"\x011".to_vec());
        assert_eq!(out[3].1, vec![0xfe, 0, 0, 2, 0, 0, 0]);
    }

    #[test]
    fn every_split_of_a_transcript_gives_the_same_answers() {
        let mut whole = Harness::new(Config::default());
        let g = whole.greet();
        let mut input = response("bob", "x", &g.nonce);
        input.extend(framed(0, b"\x03SHOW DATABASES"));
        input.extend(framed(0, b"\x0e"));
        let (n, want) = whole.feed(&input);
        assert_eq!(n, input.len());
        for cut in 1..input.len() {
            let mut h = Harness::new(Config::default());
            h.greet();
            let (n1, mut got) = h.feed(&input[..cut]);
            let (n2, more) = h.feed(&input[n1..]);
            got.extend(more);
            assert_eq!(n1 + n2, input.len(), "cut {cut}");
            assert_eq!(got, want, "cut {cut}");
        }
    }

    #[test]
    fn wrong_password_with_users_configured() {
        let cfg = Config {
            users: vec![crate::config::User {
                name: "bob".into(),
                password: "right".into(),
            }],
            ..Config::default()
        };
        let mut h = Harness::new(cfg);
        let g = h.greet();
        let (_, out) = h.feed(&response("bob", "wrong", &g.nonce));
        assert_eq!(out.len(), 1);
        let e = crate::protocol::response::decode_err(&out[0].1).unwrap();
        assert_eq!(e.code, 1045);
        assert_eq!(h.conn.phase, Phase::Closing);
        // input after closing is ignored
        let (n, out) = h.feed(&framed(0, b"\x0e"));
        assert_eq!((n, out.len()), (0, 0));
    }

    #[test]
    fn sequence_id_wraps_at_255_in_long_answers() {
        let mut h = Harness::new(Config::default());
        let g = h.greet();
        h.feed(&response("bob", "x", &g.nonce));
        // four pre-encoded 73-packet answers in one multi-statement reply: 292
        // packets, numbered 1, 2, ... 255, 0, 1, ... with the canned bytes renumbered
        let (_, out) = h.feed(&framed(
            0,
            b"\x03SHOW DATABASES; SHOW DATABASES; SHOW DATABASES; SHOW DATABASES",
        ));
        assert_eq!(out.len(), 4 * 73);
        for (i, (seq, _)) in out.iter().enumerate() {
            assert_eq!(*seq, (i + 1) as u8, "packet {i}");
        }
        let ends: Vec<&Vec<u8>> = out.iter().map(|p| &p.1).filter(|p| p[0] == 0xfe).collect();
        assert_eq!(ends.len(), 4);
        for (i, e) in ends.iter().enumerate() {
            let more = e[3] & 0x08 != 0;
            assert_eq!(
                more,
                i < 3,
                "SERVER_MORE_RESULTS_EXISTS on all but the last"
            );
        }
    }

    #[test]
    fn fuzzed_input_never_panics() {
        // a seeded xorshift stream of random bytes, fed in random chunk sizes
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..300 {
            let mut h = Harness::new(Config {
                max_packet: 4096,
                ..Config::default()
            });
            let g = h.greet();
            let mut input = if next() % 2 == 0 {
                response("u", "p", &g.nonce)
            } else {
                Vec::new()
            };
            let len = (next() % 200) as usize;
            for _ in 0..len {
                input.push(next() as u8);
            }
            let mut pos = 0;
            while pos < input.len() {
                let chunk = 1 + (next() % 17) as usize;
                let end = (pos + chunk).min(input.len());
                let (n, _) = h.feed(&input[pos..end]);
                assert!(n <= end - pos);
                pos = end;
            }
        }
    }
}
