//! What the fuzz targets share: a connection driven without sockets (as the
//! unit-test harness at the bottom of `src/server/connection.rs` drives it),
//! a valid login built from the greeting's nonce, and the checks every target
//! makes on what the server writes.
//!
//! Invariants checked here, for every input:
//! - `on_input` never consumes more than it was given;
//! - everything written is whole packets (a client can always parse it);
//! - one call's output stays under [`OUT_PER_CALL`] (memory bounded: the loop
//!   stops reading a connection whose unsent output passed the high-water
//!   mark, and a long answer pauses there);
//! - everything written grows at most linearly with what was received
//!   ([`AMPLIFY`] bytes per byte);
//! - a connection that is not closing, not holding a delayed answer and has a
//!   whole packet in its input makes progress (no silent stall);
//! - a closing connection consumes and writes nothing more.
//!
//! "No panic" and "no hang" are libFuzzer's own: a panic aborts the process,
//! and `-timeout` reports an input that runs too long.

use std::sync::Arc;
use std::time::Instant;
use understudy::config::{Config, User};
use understudy::protocol::auth;
use understudy::protocol::consts::{cap, plugin};
use understudy::protocol::handshake::{HandshakeResponse41, HandshakeV10};
use understudy::protocol::packet::{self, decode_frame};
use understudy::responder::builtin::Builtin;
use understudy::responder::{Peer, Session};
use understudy::server::connection::{Connection, Ctx, Phase};
use understudy::Stats;

/// Largest output one `on_input` or `resume` call may produce with the
/// targets' configurations (max packet at most 4 KiB, high-water mark at
/// most 1 MiB): the high-water mark plus one statement's answer (a few KiB;
/// before answers paused, one packet's: 4 KiB of `SHOW VARIABLES;` repeated
/// answers about 0.7 MiB).
pub const OUT_PER_CALL: usize = 4 << 20;

/// Most bytes all the answers to one fuzz input may take: inputs are at most
/// a few KiB (libFuzzer's default `-max_len` is 4096), so this is far beyond
/// any amplification the built-in answers have (170 bytes per byte for
/// `SHOW VARIABLES;` repeated), and an answer that never ends reaches it.
pub const TOTAL_OUT: usize = 64 << 20;

/// Bytes of answer per byte of input that no built-in table needs (the
/// largest, `SHOW VARIABLES` in a 20-byte packet, answers about 2.4 KB: 120
/// per byte), beyond [`AMPLIFY_BASE`] and the max_allowed_packet / 8 a
/// SELECT row of a long variable may take: answers that pass it grow faster
/// than what the client sent, which no bound on a packet's size contains.
pub const AMPLIFY: usize = 256;
/// What a connection may write whatever it was sent (a greeting, errors).
pub const AMPLIFY_BASE: usize = 64 << 10;

/// Most `on_input`/`resume` calls for one read: each consumes input or
/// writes at least a packet of a paused answer, and a 4 KiB-high-water
/// configuration pauses every 4 KiB of output.
const ROUNDS: usize = 1 << 20;

/// The user the harness logs in as when the configuration has accounts.
pub const USER: &str = "fuzz";
/// Its password.
pub const PASSWORD: &str = "secret";

/// A byte cursor over the fuzz input for choices (never fails: past the end
/// every choice reads as zero).
pub struct Choices<'a> {
    data: &'a [u8],
}

impl<'a> Choices<'a> {
    /// Choices drawn from the front of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Choices { data }
    }

    /// The next byte (0 past the end).
    pub fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    /// The next 4 bytes, little-endian.
    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }

    /// Everything not taken yet.
    pub fn rest(self) -> &'a [u8] {
        self.data
    }
}

/// A tiny xorshift generator (chunk sizes, never security).
pub struct XorShift(pub u64);

impl XorShift {
    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

/// Checks that `out` is a run of whole packets and returns them as
/// (sequence id, payload length, first payload byte).
pub fn whole_packets(out: &[u8]) -> Vec<(u8, usize, Option<u8>)> {
    let mut v = Vec::new();
    let mut rest = out;
    while !rest.is_empty() {
        let f = match decode_frame(rest, usize::MAX) {
            Ok(Some(f)) => f,
            other => panic!(
                "server output is not whole packets: {other:?} at offset {}",
                out.len() - rest.len()
            ),
        };
        let mut scratch = Vec::new();
        let first = f.payload(rest, &mut scratch).first().copied();
        v.push((f.seq, f.len, first));
        rest = &rest[f.consumed..];
    }
    v
}

/// A built-in responder for `config`, made once per configuration and shared
/// by every input, as one responder serves every connection of a server
/// (making one reads /etc/hostname and pre-encodes SHOW DATABASES: most of
/// an input's time if done each time).
pub fn builtin_for(config: &Config) -> Builtin {
    Builtin::new(
        understudy::server_facts(config, 4040),
        Arc::new(Stats::default()),
    )
}

thread_local! {
    static CACHE: std::cell::RefCell<Vec<Option<(u8, Builtin)>>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

fn cached_builtin(bits: u8, config: &Config) -> Builtin {
    CACHE
        .with(|c| {
            let mut c = c.borrow_mut();
            c.iter_mut()
                .find(|e| e.as_ref().is_some_and(|(b, _)| *b == bits))
                .and_then(Option::take)
        })
        .map_or_else(|| builtin_for(config), |(_, b)| b)
}

/// The server side of one connection, with the loop's pieces it needs.
pub struct Harness {
    /// Server configuration.
    pub config: Config,
    bits: u8,
    responder: Option<Builtin>,
    stats: Arc<Stats>,
    scratch: Vec<u8>,
    /// The connection under test.
    pub conn: Connection,
    /// Input received and not consumed yet (the loop's read buffer).
    pub input: Vec<u8>,
    /// The greeting's nonce.
    pub nonce: Vec<u8>,
    /// Sequence id of the last packet the server wrote.
    pub last_seq: u8,
    /// Total bytes written.
    pub written: usize,
    /// Total bytes consumed.
    pub consumed: usize,
    /// Packets written, as (sequence id, length, first byte), since the last
    /// [`Harness::take_packets`].
    pub packets: Vec<(u8, usize, Option<u8>)>,
}

impl Harness {
    /// A harness with a fresh connection, greeted, under the configuration
    /// [`config_from`] makes of `bits`.
    pub fn new(bits: u8) -> Harness {
        let config = config_from(bits);
        let stats = Arc::new(Stats::default());
        let responder = Some(cached_builtin(bits, &config));
        let conn = Connection::new(Session::new(7, Peer::Unix, Peer::Unix), Instant::now());
        let mut h = Harness {
            config,
            bits,
            responder,
            stats,
            scratch: Vec::new(),
            conn,
            input: Vec::new(),
            nonce: Vec::new(),
            last_seq: 0,
            written: 0,
            consumed: 0,
            packets: Vec::new(),
        };
        let mut out = Vec::new();
        let mut ctx = Ctx {
            config: &h.config,
            responder: h.responder.as_mut().expect("invariant: set until drop"),
            stats: &h.stats,
            scratch: &mut h.scratch,
            now: Instant::now(),
            journal: None,
            note: None,
        };
        h.conn.start(&mut ctx, &mut out, *b"0123456789abcdefghij");
        let packets = whole_packets(&out);
        assert_eq!(packets.len(), 1, "one greeting packet");
        let mut scratch = Vec::new();
        let f = decode_frame(&out, usize::MAX)
            .expect("greeting frames")
            .expect("whole greeting");
        let g = HandshakeV10::decode(f.payload(&out, &mut scratch)).expect("greeting decodes");
        h.nonce = g.nonce;
        h.last_seq = 0;
        h.written = out.len();
        h
    }

    /// Receives `chunk` as one read and runs the connection until it needs
    /// more input, checking the invariants after every call. The client is
    /// taken to read everything at once (output drained after each call), so
    /// an answer that paused at the high-water mark is resumed at once, and a
    /// held (delayed) answer is released at once, as the loop's timer would.
    pub fn feed(&mut self, chunk: &[u8]) {
        self.input.extend_from_slice(chunk);
        // Each round consumes input or writes part of a paused answer, or
        // ends; the bound is a backstop that turns a livelock into a failure.
        for _ in 0..ROUNDS {
            let closing_before = self.conn.phase() == Phase::Closing;
            let resuming = self.conn.has_pending();
            let mut out = Vec::new();
            let mut ctx = Ctx {
                config: &self.config,
                responder: self.responder.as_mut().expect("invariant: set until drop"),
                stats: &self.stats,
                scratch: &mut self.scratch,
                now: Instant::now(),
                journal: None,
                note: None,
            };
            let n = if resuming {
                self.conn.resume(0, &mut ctx, &mut out);
                0
            } else {
                self.conn.on_input(&self.input, 0, &mut ctx, &mut out)
            };
            assert!(
                n <= self.input.len(),
                "consumed {n} of {} bytes",
                self.input.len()
            );
            assert!(
                out.len() <= OUT_PER_CALL,
                "one call wrote {} bytes (resuming: {resuming})",
                out.len()
            );
            if closing_before {
                assert_eq!((n, out.len()), (0, 0), "a closing connection is quiet");
            }
            let packets = whole_packets(&out);
            if let Some(&(seq, _, _)) = packets.last() {
                self.last_seq = seq;
            }
            self.packets.extend(packets);
            self.written += out.len();
            assert!(
                self.written <= TOTAL_OUT,
                "answers to one input passed {TOTAL_OUT} bytes"
            );
            self.consumed += n;
            // A SELECT row may take up to max_allowed_packet for the few
            // bytes of `SELECT @v`: that much more per byte is allowed.
            let per_byte = AMPLIFY + self.config.max_packet / 8;
            assert!(
                self.written <= AMPLIFY_BASE + per_byte * self.consumed,
                "{} bytes written for {} bytes received",
                self.written,
                self.consumed
            );
            self.input.drain(..n);
            if self.conn.take_start_compression().is_some() {
                // the client asked for the compressed protocol: the loop
                // switches to frames here, which this harness does not speak
                return;
            }
            if self.conn.hold().is_some() {
                self.conn.release_hold();
                continue; // the timer fired: go on with the input
            }
            if self.conn.phase() == Phase::Closing {
                return;
            }
            if resuming {
                assert!(
                    !out.is_empty() || !self.conn.has_pending(),
                    "a resumed answer wrote nothing and is still pending"
                );
                continue;
            }
            if n == 0 && !self.conn.has_pending() {
                // Stopped for want of input (an empty output cannot have
                // passed the high-water mark): there must not be a whole
                // packet waiting, nor a header the framing refuses.
                assert!(
                    matches!(decode_frame(&self.input, self.config.max_packet), Ok(None)),
                    "stalled with a whole packet in its input ({:?}, {} bytes, phase {:?})",
                    decode_frame(&self.input, self.config.max_packet),
                    self.input.len(),
                    self.conn.phase()
                );
                return;
            }
        }
        panic!("no end to the answers after {ROUNDS} rounds");
    }

    /// The packets written since the last call.
    pub fn take_packets(&mut self) -> Vec<(u8, usize, Option<u8>)> {
        std::mem::take(&mut self.packets)
    }

    /// Sends one payload framed with the sequence id the connection expects:
    /// 0 in the command phase, else one past the server's last packet.
    pub fn send(&mut self, payload: &[u8]) {
        let mut seq = if self.conn.phase() == Phase::Command {
            0
        } else {
            self.last_seq.wrapping_add(1)
        };
        let mut framed = Vec::with_capacity(payload.len() + 4);
        packet::write_packet(&mut framed, &mut seq, payload);
        self.feed(&framed);
    }

    /// Logs in with a valid HandshakeResponse41 over the greeting's nonce,
    /// answering an AuthSwitchRequest if the server sends one. Panics if the
    /// login does not succeed (the harness's configurations all allow it).
    pub fn login(&mut self, extra_caps: u32, client_plugin: &str) {
        let caps = cap::PROTOCOL_41
            | cap::SECURE_CONNECTION
            | cap::PLUGIN_AUTH
            | cap::PLUGIN_AUTH_LENENC_CLIENT_DATA
            | cap::CONNECT_ATTRS
            | cap::CONNECT_WITH_DB
            | cap::MULTI_RESULTS
            | extra_caps;
        let auth_response = scramble(client_plugin, &self.nonce);
        let r = HandshakeResponse41 {
            capabilities: caps,
            max_packet: 1 << 24,
            charset: 45,
            username: USER.as_bytes().to_vec(),
            auth_response,
            database: Some(b"db_1".to_vec()),
            auth_plugin: Some(client_plugin.as_bytes().to_vec()),
            attributes: vec![(b"_client_name".to_vec(), b"fuzz".to_vec())],
            zstd_level: None,
        };
        let mut p = Vec::new();
        r.encode(&mut p);
        self.take_packets();
        self.send(&p);
        if let Phase::AuthSwitch { plugin } = self.conn.phase() {
            // The switch request carries the same nonce; answer for its plugin.
            let answer = scramble(plugin, &self.nonce);
            self.send(&answer);
        }
        assert_eq!(self.conn.phase(), Phase::Command, "the login succeeds");
        let answers = self.take_packets();
        assert_eq!(
            answers.last().map(|p| p.2),
            Some(Some(0)),
            "login ends in OK"
        );
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(b) = self.responder.take() {
            use understudy::responder::Responder;
            let mut b = b;
            b.disconnect(self.conn.session());
            let bits = self.bits;
            CACHE.with(|c| {
                let mut c = c.borrow_mut();
                match c.iter_mut().find(|e| e.is_none()) {
                    Some(slot) => *slot = Some((bits, b)),
                    None => c.push(Some((bits, b))),
                }
            });
        }
    }
}

fn scramble(client_plugin: &str, nonce: &[u8]) -> Vec<u8> {
    if client_plugin == plugin::CACHING_SHA2 {
        auth::caching_sha2_scramble(PASSWORD.as_bytes(), nonce)
    } else {
        auth::native_scramble(PASSWORD.as_bytes(), nonce)
    }
}

/// The configurations the connection target picks from with one byte:
/// accounts or not, the server's plugin, a small max packet, a small
/// high-water mark.
pub fn config_from(bits: u8) -> Config {
    let mut c = Config {
        max_packet: if bits & 1 != 0 { 200 } else { 4096 },
        write_high_water: if bits & 2 != 0 { 4096 } else { 1 << 20 },
        ..Config::default()
    };
    if bits & 4 != 0 {
        c.users = vec![User {
            name: USER.into(),
            password: PASSWORD.into(),
        }];
    }
    if bits & 8 != 0 {
        c.auth_plugin = plugin::CACHING_SHA2;
    }
    c
}
