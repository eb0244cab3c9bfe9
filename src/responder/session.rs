//! What a responder knows about one connection: who logged in, the current
//! database, transaction state and session variables.
//!
//! Kept small on purpose: one of these lives for every open connection, idle or
//! not. Rarely used parts (session variable overrides, connection attributes)
//! are boxed and absent until a client sets them.

use super::value::Value;
use crate::protocol::consts::{cap, status};
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;

/// Most variables (session overrides and user variables together) one session
/// may hold. Drivers set about a dozen on connect (Connector/J, libmysqlclient,
/// PyMySQL), ORMs and applications a few dozen user variables more; 4096 is a
/// hundred times that, and keeps a hostile session's table and its SHOW
/// VARIABLES rows (each matched against a LIKE) to a few thousand.
pub const MAX_VARS: usize = 4096;

/// Most bytes of names and values one session's variables may hold. 4 MiB is
/// MySQL 5.7's default `max_allowed_packet`, so any value an old default server
/// accepts fits (a JSON document kept in `@doc`); with [`MAX_VARS`] it bounds a
/// session's variables at a few MiB, where drivers use a few hundred bytes.
pub const MAX_VAR_BYTES: usize = 4 << 20;

/// Longest variable name, in characters (user variables not counting the
/// `@`): MySQL's limit for user variable names and identifiers (`NAME_CHAR_LEN`);
/// every system variable's name is shorter. It bounds what one name costs a
/// LIKE (see `sql::Like`).
pub const MAX_VAR_NAME_CHARS: usize = 64;

/// Why a SET was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarError {
    /// A name longer than [`MAX_VAR_NAME_CHARS`] (`user`: a user variable).
    NameTooLong {
        /// True for `@name`.
        user: bool,
    },
    /// A new variable beyond [`MAX_VARS`].
    TooMany,
    /// Names and values beyond [`MAX_VAR_BYTES`].
    TooLarge,
}

impl VarError {
    /// MySQL's error code: 3061 (ER_ILLEGAL_USER_VAR) and 1059
    /// (ER_TOO_LONG_IDENT) for names, as MySQL answers them; 1105
    /// (ER_UNKNOWN_ERROR) for the limits MySQL has no code for.
    pub fn code(self) -> u16 {
        match self {
            VarError::NameTooLong { user: true } => 3061,
            VarError::NameTooLong { user: false } => 1059,
            VarError::TooMany | VarError::TooLarge => 1105,
        }
    }

    /// The SQLSTATE that goes with [`VarError::code`].
    pub fn sqlstate(self) -> &'static str {
        match self {
            VarError::NameTooLong { .. } => "42000",
            VarError::TooMany | VarError::TooLarge => "HY000",
        }
    }

    /// The message for `name` (cut to 100 characters, as MySQL cuts names in
    /// its messages).
    pub fn message(self, name: &str) -> String {
        let shown: String = name.trim_start_matches('@').chars().take(100).collect();
        match self {
            VarError::NameTooLong { user: true } => {
                format!("User variable name '{shown}' is illegal")
            }
            VarError::NameTooLong { user: false } => {
                format!("Identifier name '{shown}' is too long")
            }
            VarError::TooMany => {
                format!("Too many session variables: a session holds at most {MAX_VARS}")
            }
            VarError::TooLarge => format!(
                "Session variables too large: a session holds at most {MAX_VAR_BYTES} bytes of names and values"
            ),
        }
    }
}

/// A session's variables: names lower-cased (they are case-insensitive), user
/// variables with their leading `@`, bounded by [`MAX_VARS`], [`MAX_VAR_BYTES`]
/// and [`MAX_VAR_NAME_CHARS`]. A map, so that a SET of many variables costs
/// one lookup each (a list searched per item made `SET @v0=1,…,@v99999=1`
/// take 12 s).
#[derive(Debug, Default, Clone)]
pub struct Vars {
    map: HashMap<String, Value>,
    /// Bytes of names and values held.
    bytes: usize,
}

/// Bytes a value holds for [`MAX_VAR_BYTES`]: its text, or 8 for a number.
fn value_bytes(v: &Value) -> usize {
    match v {
        Value::Null => 0,
        Value::Int(_) | Value::UInt(_) | Value::Double(_) => 8,
        Value::Decimal(d) => d.len(),
        Value::Str(s) => s.len(),
        Value::Bytes(b) => b.len(),
    }
}

/// Longest name in bytes: [`MAX_VAR_NAME_CHARS`] characters of up to four
/// bytes, and the `@`. Anything longer is not in the table.
const MAX_KEY_BYTES: usize = 4 * MAX_VAR_NAME_CHARS + 1;

impl Vars {
    /// The value of `name` (any case).
    pub fn get(&self, name: &str) -> Option<&Value> {
        if name.len() > MAX_KEY_BYTES {
            return None;
        }
        if name.bytes().any(|b| b.is_ascii_uppercase()) {
            self.map.get(&name.to_ascii_lowercase())
        } else {
            self.map.get(name)
        }
    }

    /// Sets `name` (any case) to `value`, unless that breaks a limit; then
    /// nothing changes.
    pub fn set(&mut self, name: &str, value: Value) -> Result<(), VarError> {
        let user = name.starts_with('@');
        let bare = if user { &name[1..] } else { name };
        if bare.len() > MAX_VAR_NAME_CHARS && bare.chars().count() > MAX_VAR_NAME_CHARS {
            return Err(VarError::NameTooLong { user });
        }
        let key = name.to_ascii_lowercase();
        let old = self.map.get(&key).map(|v| value_bytes(v) + key.len());
        if old.is_none() && self.map.len() >= MAX_VARS {
            return Err(VarError::TooMany);
        }
        let bytes = self
            .bytes
            .saturating_sub(old.unwrap_or(0))
            .saturating_add(key.len())
            .saturating_add(value_bytes(&value));
        if bytes > MAX_VAR_BYTES {
            return Err(VarError::TooLarge);
        }
        self.bytes = bytes;
        self.map.insert(key, value);
        Ok(())
    }

    /// Every variable, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.map.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// How many there are.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

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
#[derive(Debug, Clone)]
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
    /// Session variable and user variable overrides, set by SET; `None` (one
    /// pointer) until the first, so idle connections stay small.
    pub vars: Option<Box<Vars>>,
    /// Connection attributes, kept as one block (key, value, key, value, each
    /// length-prefixed) so that a connection holds one allocation for them, not
    /// two per attribute; [`Session::attributes`] decodes them.
    pub attributes_raw: Option<Box<[u8]>>,
    /// Bumped whenever `user` or `database` changes, so that responders that
    /// mirror them (the Lua `proxy.connection.client` table) copy them only then.
    pub revision: u32,
    /// TLS in use: the version and cipher suite (`TLSv1.3`,
    /// `TLS_AES_128_GCM_SHA256`), None on a plain connection.
    /// (Boxed: plain sessions pay a pointer, and idle connections stay small.)
    pub tls: Option<Box<(&'static str, &'static str)>>,
    /// The compressed protocol in use, if any (from the login OK on).
    pub compression: Option<crate::protocol::compress::Algorithm>,
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
            tls: None,
            compression: None,
        }
    }

    /// A secure transport, as MySQL counts it: TLS or a Unix socket
    /// (`--require-secure-transport`, passwords in clear).
    pub fn is_secure(&self) -> bool {
        self.tls.is_some() || matches!(self.peer, Peer::Unix)
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
        self.vars.as_ref()?.get(name)
    }

    /// Sets an override, within the limits of [`Vars`].
    pub fn set_var(&mut self, name: &str, value: Value) -> Result<(), VarError> {
        self.vars
            .get_or_insert_with(Default::default)
            .set(name, value)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        Session::new(1, Peer::Unix, Peer::Unix)
    }

    #[test]
    fn variables_are_found_in_any_case() {
        let mut s = session();
        assert!(s.vars.is_none(), "no table until the first SET");
        s.set_var("SQL_Mode", Value::str("ANSI")).unwrap();
        s.set_var("@Foo", Value::Int(1)).unwrap();
        assert_eq!(s.var("sql_mode"), Some(&Value::str("ANSI")));
        assert_eq!(s.var("SQL_MODE"), Some(&Value::str("ANSI")));
        assert_eq!(s.var("@FOO"), Some(&Value::Int(1)));
        assert_eq!(s.var("foo"), None);
        s.set_var("@foo", Value::Int(2)).unwrap();
        assert_eq!(s.var("@Foo"), Some(&Value::Int(2)));
        assert_eq!(s.vars.as_ref().map(|v| v.len()), Some(2));
        s.reset();
        assert!(s.vars.is_none());
    }

    #[test]
    fn names_longer_than_mysqls_limit_are_refused() {
        let mut s = session();
        let ok = "é".repeat(MAX_VAR_NAME_CHARS);
        s.set_var(&format!("@{ok}"), Value::Int(1)).unwrap();
        s.set_var(&ok, Value::Int(1)).unwrap();
        let long = "x".repeat(MAX_VAR_NAME_CHARS + 1);
        let user = s.set_var(&format!("@{long}"), Value::Int(1)).unwrap_err();
        assert_eq!(user, VarError::NameTooLong { user: true });
        assert_eq!(user.code(), 3061);
        let sys = s.set_var(&long, Value::Int(1)).unwrap_err();
        assert_eq!((sys.code(), sys.sqlstate()), (1059, "42000"));
        assert_eq!(s.var(&long), None);
        assert!(sys.message(&"y".repeat(3000)).len() < 200);
    }

    #[test]
    fn a_session_holds_at_most_max_vars() {
        let mut s = session();
        for i in 0..MAX_VARS {
            s.set_var(&format!("@v{i}"), Value::Int(1)).unwrap();
        }
        assert_eq!(
            s.set_var("@one_more", Value::Int(1)),
            Err(VarError::TooMany)
        );
        // Changing one that exists is no new variable.
        s.set_var("@V0", Value::str("x")).unwrap();
        assert_eq!(s.var("@v0"), Some(&Value::str("x")));
    }

    #[test]
    fn a_session_holds_at_most_max_var_bytes() {
        let mut s = session();
        let half = "x".repeat(MAX_VAR_BYTES / 2);
        s.set_var("@a", Value::str(half.clone())).unwrap();
        assert_eq!(
            s.set_var("@b", Value::str(half.clone())),
            Err(VarError::TooLarge)
        );
        assert_eq!(s.var("@b"), None, "a refused SET changes nothing");
        // Replacing a value gives its bytes back.
        s.set_var("@a", Value::Int(0)).unwrap();
        s.set_var("@b", Value::str(half)).unwrap();
        assert_eq!(VarError::TooLarge.code(), 1105);
    }
}
