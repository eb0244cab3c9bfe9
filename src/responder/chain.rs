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

/// What a query nobody answers gets (`--unknown`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Unknown {
    /// The seed's ERR 101 "I haven't learnt how to handle that query".
    #[default]
    Error,
    /// OK: DDL and writes nobody described succeed (`sysbench prepare`).
    Ok,
    /// An empty resultset (one column, no rows).
    Empty,
}

impl std::str::FromStr for Unknown {
    type Err = String;
    fn from_str(s: &str) -> Result<Unknown, String> {
        match s {
            "error" => Ok(Unknown::Error),
            "ok" => Ok(Unknown::Ok),
            "empty" => Ok(Unknown::Empty),
            _ => Err(format!("{s:?}: one of error, ok, empty")),
        }
    }
}

/// One responder of the chain and the name the journal gives its answers.
struct Link {
    label: std::rc::Rc<str>,
    responder: Box<dyn Responder>,
}

/// Responders asked in order.
pub struct Chain {
    links: Vec<Link>,
    unknown: Unknown,
    unknown_label: std::rc::Rc<str>,
}

impl Chain {
    /// A chain of these responders (each with the name the journal gives
    /// its answers: `builtin`, `lua`, …), asked in this order; `unknown`
    /// answers what none answers.
    pub fn new(links: Vec<(&str, Box<dyn Responder>)>, unknown: Unknown) -> Chain {
        Chain {
            links: links
                .into_iter()
                .map(|(label, responder)| Link {
                    label: label.into(),
                    responder,
                })
                .collect(),
            unknown,
            unknown_label: "unknown".into(),
        }
    }
}

/// The answer when every responder declined: the unknown-query ERR (or
/// what `--unknown` says) for a query, ERR 1047 for a command nobody
/// implements, and a decline for what the server itself handles (see the
/// module's comment).
pub fn fallback(request: &Request<'_>, unknown: Unknown) -> Answer {
    match request.command {
        Command::Query(_) if request.part == Part::Whole => Answer::decline(),
        Command::Query(_) => match unknown {
            Unknown::Error => Reply::err(er::UNKNOWN_QUERY).into(),
            Unknown::Ok => Reply::ok().into(),
            Unknown::Empty => Reply::rows(
                vec![crate::protocol::response::ColumnDef::new(
                    b"result",
                    crate::protocol::consts::coltype::VAR_STRING,
                )],
                Vec::new(),
            )
            .into(),
        },
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
            let g = l.responder.greeting(session);
            if greeting.is_none() {
                greeting = g;
            }
        }
        greeting
    }

    fn auth(&mut self, session: &mut Session, response: &HandshakeResponse41) -> AuthDecision {
        for l in &mut self.links {
            let d = l.responder.auth(session, response);
            if d != AuthDecision::Default {
                return d;
            }
        }
        AuthDecision::Default
    }

    fn answer(&mut self, session: &mut Session, request: &Request<'_>) -> Answer {
        for l in &mut self.links {
            let mut a = l.responder.answer(session, request);
            if !a.declined() {
                if a.by.is_none() {
                    a.by = Some(l.label.clone());
                }
                return a;
            }
        }
        let mut a = fallback(request, self.unknown);
        if matches!(request.command, Command::Query(_)) && !a.declined() {
            a.by = Some(self.unknown_label.clone());
            if !request.describe {
                self.unmatched(session, request);
            }
        }
        a
    }

    fn unmatched(&mut self, session: &Session, request: &Request<'_>) {
        self.links
            .iter_mut()
            .for_each(|l| l.responder.unmatched(session, request));
    }

    fn listening(&mut self, addr: std::net::SocketAddr) {
        self.links
            .iter_mut()
            .for_each(|l| l.responder.listening(addr));
    }

    fn disconnect(&mut self, session: &Session) {
        self.links
            .iter_mut()
            .for_each(|l| l.responder.disconnect(session));
    }

    fn reload(&mut self) {
        self.links.iter_mut().for_each(|l| l.responder.reload());
    }

    fn tick(&mut self) {
        self.links.iter_mut().for_each(|l| l.responder.tick());
    }
}
