//! Responders in a row: each is asked in turn and the first that does not
//! decline answers. With `--lua-script` the chain is the driver bootstrap
//! (session settings, variable reads: the server's business, unless
//! `--lua-all-queries`), the script, then the built-in answers; the last
//! word is the unknown-query ERR (the seed's 101) for queries and 1047 for
//! commands nobody knows.
//!
//! What stays declined when every link declines, for the server to handle:
//! a multi-statement query's whole text (split and asked again statement by
//! statement), COM_CHANGE_USER (re-authentication), COM_QUIT, and the
//! prepared-statement commands (the server's own statements).

use super::reply::{Answer, Reply};
use super::session::Session;
use super::{AuthDecision, Part, Request, Responder};
use crate::protocol::command::Command;
use crate::protocol::errcodes as er;
use crate::protocol::handshake::HandshakeResponse41;

/// Responders asked in order.
pub struct Chain {
    links: Vec<Box<dyn Responder>>,
}

impl Chain {
    /// A chain of these responders, asked in this order.
    pub fn new(links: Vec<Box<dyn Responder>>) -> Chain {
        Chain { links }
    }
}

/// The answer when every responder declined: the unknown-query ERR for a
/// query, ERR 1047 for a command nobody implements, and a decline for what
/// the server itself handles (see the module's comment).
pub fn fallback(request: &Request<'_>) -> Answer {
    match request.command {
        Command::Query(_) if request.part == Part::Whole => Answer::decline(),
        Command::Query(_) => Reply::err(er::UNKNOWN_QUERY).into(),
        Command::Quit => Reply::Nothing.into(),
        Command::ChangeUser(_) => Answer::decline(),
        c if c.is_statement() => Answer::decline(),
        _ => Reply::err(er::ER_UNKNOWN_COM_ERROR).into(),
    }
}

impl Responder for Chain {
    fn greeting(&mut self, session: &mut Session) -> Option<Vec<u8>> {
        // every link sets up its state for the connection; the first
        // greeting given is the one sent
        let mut greeting = None;
        for l in &mut self.links {
            let g = l.greeting(session);
            if greeting.is_none() {
                greeting = g;
            }
        }
        greeting
    }

    fn auth(&mut self, session: &mut Session, response: &HandshakeResponse41) -> AuthDecision {
        for l in &mut self.links {
            let d = l.auth(session, response);
            if d != AuthDecision::Default {
                return d;
            }
        }
        AuthDecision::Default
    }

    fn answer(&mut self, session: &mut Session, request: &Request<'_>) -> Answer {
        for l in &mut self.links {
            let a = l.answer(session, request);
            if !a.declined() {
                return a;
            }
        }
        fallback(request)
    }

    fn listening(&mut self, addr: std::net::SocketAddr) {
        self.links.iter_mut().for_each(|l| l.listening(addr));
    }

    fn disconnect(&mut self, session: &Session) {
        self.links.iter_mut().for_each(|l| l.disconnect(session));
    }

    fn reload(&mut self) {
        self.links.iter_mut().for_each(|l| l.reload());
    }

    fn tick(&mut self) {
        self.links.iter_mut().for_each(|l| l.tick());
    }
}
