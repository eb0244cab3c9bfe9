//! Responders: what answers a client. The server owns the protocol mechanics
//! (framing, login, sequence ids); a responder decides the content.
//!
//! - [`builtin::Builtin`]: the seed's answers plus what real drivers ask on connect.
//!
//! Responders run on the event-loop thread and must never block.

pub mod builtin;
pub mod canned;
#[cfg(feature = "lua")]
pub mod lua;
pub mod params;
pub mod reply;
pub mod session;
pub mod sql;
pub mod value;
pub mod vars;

use crate::protocol::handshake::HandshakeResponse41;
use crate::protocol::response::Encoder;
pub use session::{Peer, Session};
use std::time::Duration;

/// A responder's verdict on a login, taken before the server's own checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthDecision {
    /// No opinion: the server's rules apply (accept all, or the `--user` checks).
    Default,
    /// Log the client in.
    Accept,
    /// Refuse with this error.
    Reject {
        /// Error code.
        code: u16,
        /// SQLSTATE.
        sqlstate: String,
        /// Message.
        message: String,
    },
}

/// What the server does after a command was answered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Close the connection once the answer is sent.
    pub close: bool,
    /// Hold the answer back this long before sending it (timer, never a sleep).
    pub delay: Option<Duration>,
    /// The answer asked for a LOAD DATA LOCAL INFILE file: read the client's
    /// data packets until an empty one, then answer OK.
    pub local_infile: bool,
    /// The answer is not finished: it paused (the encoder's
    /// [`Encoder::should_pause`]) with the statements from this byte offset
    /// of the command's payload still to answer. The server sends what was
    /// written, and once the client has read it calls [`Responder::resume`]
    /// with the same payload and this offset. Nothing else from the client is
    /// read in between, so one command's answer is held to the write
    /// high-water mark plus one statement's answer, however long the list.
    pub resume_at: Option<usize>,
}

/// Decides what to answer. One instance serves every connection of a server.
pub trait Responder {
    /// A greeting payload to send instead of the server's own (e.g. a Lua
    /// `connect_server` answer). The server parses it and follows what it promises.
    fn greeting(&mut self, _session: &mut Session) -> Option<Vec<u8>> {
        None
    }

    /// Called with the decoded handshake response, before the server checks it.
    fn auth(&mut self, _session: &mut Session, _response: &HandshakeResponse41) -> AuthDecision {
        AuthDecision::Default
    }

    /// Answers one command-phase packet (`payload[0]` is the command byte),
    /// writing the answer through `enc` (its sequence ids are already right).
    /// COM_QUIT reaches here only as a notification (anything written is
    /// dropped). For COM_CHANGE_USER, writing nothing lets the server
    /// re-authenticate; an answer written here is sent instead (an OK adopts the
    /// new user and database).
    fn command(&mut self, session: &mut Session, payload: &[u8], enc: &mut Encoder<'_>) -> Outcome;

    /// Continues an answer that paused ([`Outcome::resume_at`]): `payload` is
    /// the command's payload again, `at` the offset the responder gave. The
    /// encoder carries on the sequence ids where the first part stopped.
    fn resume(
        &mut self,
        _session: &mut Session,
        _payload: &[u8],
        _at: usize,
        _enc: &mut Encoder<'_>,
    ) -> Outcome {
        Outcome::default()
    }

    /// The server is listening at `addr` (the bound address: with `--port 0`
    /// the port the kernel chose), before the first client. Variables such as
    /// `@@port` report it.
    fn listening(&mut self, _addr: std::net::SocketAddr) {}

    /// The connection ended, for whatever reason.
    fn disconnect(&mut self, _session: &Session) {}

    /// SIGHUP: reload scripts or fixtures.
    fn reload(&mut self) {}

    /// Periodic housekeeping, called about once a second from the loop.
    fn tick(&mut self) {}
}
