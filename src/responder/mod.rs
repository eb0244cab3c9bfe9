//! Responders: what answers a client. The server owns the protocol mechanics
//! (framing, login, sequence ids, prepared statements' bookkeeping); a
//! responder decides the content, as data ([`reply::Answer`]), and may
//! decline so that the next one in the [`chain::Chain`] decides.
//!
//! - [`builtin::Builtin`]: the seed's answers plus what real drivers ask on connect.
//! - [`lua::LuaResponder`]: a MySQL Proxy script.
//! - [`chain::Chain`]: asks each in turn; the last word is the unknown-query ERR.
//!
//! Responders run on the event-loop thread and must never block.

pub mod builtin;
pub mod canned;
pub mod chain;
#[cfg(feature = "lua")]
pub mod lua;
pub mod params;
pub mod reply;
pub mod session;
pub mod sql;
pub mod value;
pub mod vars;

use crate::protocol::binary::{BinValue, ParamType};
use crate::protocol::command::Command;
use crate::protocol::handshake::HandshakeResponse41;
pub use reply::{Answer, Reply};
pub use session::{Peer, Session};

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

/// Which part of a COM_QUERY a request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The whole query, of one statement (or not a query at all).
    Single,
    /// The whole text of a multi-statement query, before it is split. A
    /// responder that answers whole queries (a script, which MySQL Proxy showed
    /// every packet) answers or declines; one that answers statements
    /// declines, and the server then asks again statement by statement.
    Whole,
    /// One statement of a multi-statement query; `last` says no statement
    /// follows it.
    Statement {
        /// No statement follows.
        last: bool,
    },
}

/// A prepared statement's execution (or its dry run at prepare time), as
/// responders see it beside the substituted query text.
#[derive(Debug, Clone, Copy)]
pub struct Execution<'a> {
    /// The statement id the client uses.
    pub id: u32,
    /// The statement's text, with its `?` placeholders.
    pub text: &'a [u8],
    /// The parameters' types (empty at prepare time).
    pub types: &'a [ParamType],
    /// The bound values, in placeholder order (all NULL at prepare time).
    pub values: &'a [BinValue<'a>],
    /// Where each value's literal is in the substituted query text (byte
    /// ranges, in placeholder order).
    pub literals: &'a [(usize, usize)],
}

/// One command to answer.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The command's payload (`payload[0]` is the command byte). For a
    /// prepared statement's execution: a COM_QUERY payload carrying the
    /// statement with its values substituted.
    pub payload: &'a [u8],
    /// The payload, decoded once by the server.
    pub command: &'a Command<'a>,
    /// Which part of a query this is.
    pub part: Part,
    /// Set for a prepared statement's execution, and for its dry run.
    pub execution: Option<&'a Execution<'a>>,
    /// A dry run at prepare time: only the answer's columns are used (they are
    /// announced in PREPARE_OK) and the session changes made are dropped. A
    /// responder with side effects of its own should skip them.
    pub describe: bool,
}

impl<'a> Request<'a> {
    /// A request for a command as the client sent it.
    pub fn plain(payload: &'a [u8], command: &'a Command<'a>) -> Request<'a> {
        Request {
            payload,
            command,
            part: Part::Single,
            execution: None,
            describe: false,
        }
    }
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

    /// What to answer to one command, as data; [`Answer::decline`] lets the
    /// next responder decide. The server encodes the reply in the framing the
    /// client agreed and the row format the command needs, after this
    /// returns (so a status change made here, a BEGIN, shows in the answer).
    ///
    /// Commands the server handles itself when every responder declines:
    /// COM_QUIT (the answer is never sent), COM_CHANGE_USER (declined: the
    /// server re-authenticates; an OK adopts the new user), and the prepared
    /// statement commands (declined: the server prepares the statement and
    /// asks again with each execution's substituted text).
    fn answer(&mut self, session: &mut Session, request: &Request<'_>) -> Answer;

    /// The server is listening at `addr` (the bound address: with `--port 0`
    /// the port the kernel chose), before the first client. Variables such as
    /// `@@port` report it.
    fn listening(&mut self, _addr: std::net::SocketAddr) {}

    /// No responder answered this query: the unknown-query answer goes out.
    /// (Rules keep it, with the nearest rule, for SHOW UNMATCHED.)
    fn unmatched(&mut self, _session: &Session, _request: &Request<'_>) {}

    /// The connection ended, for whatever reason.
    fn disconnect(&mut self, _session: &Session) {}

    /// SIGHUP: reload scripts or fixtures.
    fn reload(&mut self) {}

    /// Periodic housekeeping, called about once a second from the loop.
    fn tick(&mut self) {}
}
