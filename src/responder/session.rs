//! What a responder knows about one connection: who logged in, the current
//! database, transaction state and session variables.
//!
//! Kept small on purpose: one of these lives for every open connection, idle or
//! not. Rarely used parts (session variable overrides, connection attributes)
//! are boxed and absent until a client sets them.

use super::value::Value;
use crate::protocol::consts::{cap, status};
use std::borrow::Cow;
use std::fmt;
use std::net::SocketAddr;

/// Where a peer is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    /// A TCP peer.
    Tcp(SocketAddr),
    /// A Unix socket peer (its address is unnamed for clients).
    Unix,
}

impl Peer {
    /// The host part as MySQL shows it in "Access denied for user 'u'@'host'".
    pub fn host(&self) -> String {
        match self {
            Peer::Tcp(a) => a.ip().to_string(),
            Peer::Unix => "localhost".to_string(),
        }
    }
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Peer::Tcp(a) => write!(f, "{a}"),
            Peer::Unix => write!(f, "unix socket"),
        }
    }
}

/// Per-connection state visible to responders.
#[derive(Debug)]
pub struct Session {
    /// Connection id (the greeting's thread id).
    pub id: u32,
    /// The client's address.
    pub peer: Peer,
    /// Our address the client connected to.
    pub local: Peer,
    /// Logged-in user (empty before login).
    pub user: String,
    /// Current default database.
    pub database: Option<String>,
    /// Negotiated capabilities (server's offer AND client's request).
    pub capabilities: u32,
    /// Client collation id from the handshake response.
    pub charset: u8,
    /// Auth plugin the client used.
    /// (The well-known names are static: no allocation per connection.)
    pub auth_plugin: Cow<'static, str>,
    /// The nonce of the greeting.
    pub nonce: [u8; 20],
    /// Autocommit mode (SET autocommit).
    pub autocommit: bool,
    /// A transaction is open (BEGIN .. COMMIT).
    pub in_transaction: bool,
    /// COM_SET_OPTION state; starts as the MULTI_STATEMENTS capability.
    pub multi_statements: bool,
    /// LAST_INSERT_ID() of the session.
    pub last_insert_id: u64,
    /// Session variable and user variable overrides, set by SET.
    pub vars: Option<Box<Vec<(String, Value)>>>,
    /// Connection attributes, kept as one block (key, value, key, value, each
    /// length-prefixed) so that a connection holds one allocation for them, not
    /// two per attribute; [`Session::attributes`] decodes them.
    pub attributes_raw: Option<Box<[u8]>>,
    /// Bumped whenever `user` or `database` changes, so that responders that
    /// mirror them (the Lua `proxy.connection.client` table) copy them only then.
    pub revision: u32,
}

impl Session {
    /// A session for a new connection.
    pub fn new(id: u32, peer: Peer, local: Peer) -> Session {
        Session {
            id,
            peer,
            local,
            user: String::new(),
            database: None,
            capabilities: 0,
            charset: 0,
            auth_plugin: Cow::Borrowed(""),
            nonce: [0; 20],
            autocommit: true,
            in_transaction: false,
            multi_statements: false,
            last_insert_id: 0,
            vars: None,
            attributes_raw: None,
            revision: 0,
        }
    }

    /// Keeps the connection attributes of a handshake response.
    pub fn set_attributes(&mut self, attrs: &[(Vec<u8>, Vec<u8>)]) {
        if attrs.is_empty() {
            self.attributes_raw = None;
            return;
        }
        let mut raw = Vec::new();
        for (k, v) in attrs {
            crate::protocol::wire::put_lenenc_str(&mut raw, k);
            crate::protocol::wire::put_lenenc_str(&mut raw, v);
        }
        self.attributes_raw = Some(raw.into_boxed_slice());
    }

    /// The connection attributes the client sent (`_client_name`, `_os`, ...).
    pub fn attributes(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Some(raw) = &self.attributes_raw {
            let mut r = crate::protocol::wire::Reader::new(raw);
            while let (Ok(k), Ok(v)) = (r.lenenc_str("key"), r.lenenc_str("value")) {
                out.push((
                    String::from_utf8_lossy(k).into_owned(),
                    String::from_utf8_lossy(v).into_owned(),
                ));
            }
        }
        out
    }

    /// Changes the default database.
    pub fn set_database(&mut self, db: Option<String>) {
        self.database = db;
        self.revision = self.revision.wrapping_add(1);
    }

    /// Changes the logged-in user.
    pub fn set_user(&mut self, user: String) {
        self.user = user;
        self.revision = self.revision.wrapping_add(1);
    }

    /// Status flags for OK/EOF packets from the transaction state.
    pub fn status(&self) -> u16 {
        let mut s = 0;
        if self.autocommit {
            s |= status::AUTOCOMMIT;
        }
        if self.in_transaction {
            s |= status::IN_TRANS;
        }
        s
    }

    /// True when the client negotiated CLIENT_DEPRECATE_EOF.
    pub fn deprecate_eof(&self) -> bool {
        self.capabilities & cap::DEPRECATE_EOF != 0
    }

    /// A session variable or user variable override (names are case-insensitive;
    /// user variables keep their leading '@').
    pub fn var(&self, name: &str) -> Option<&Value> {
        self.vars
            .as_ref()?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Sets an override.
    pub fn set_var(&mut self, name: &str, value: Value) {
        let vars = self.vars.get_or_insert_with(Default::default);
        match vars.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case(name)) {
            Some(slot) => slot.1 = value,
            None => vars.push((name.to_ascii_lowercase(), value)),
        }
    }

    /// COM_RESET_CONNECTION / COM_CHANGE_USER: back to a fresh session, keeping
    /// identity and database.
    pub fn reset(&mut self) {
        self.autocommit = true;
        self.in_transaction = false;
        self.last_insert_id = 0;
        self.vars = None;
    }
}
