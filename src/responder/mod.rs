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

    /// The connection ended, for whatever reason.
    fn disconnect(&mut self, _session: &Session) {}

    /// SIGHUP: reload scripts or fixtures.
    fn reload(&mut self) {}

    /// Periodic housekeeping, called about once a second from the loop.
    fn tick(&mut self) {}
}
