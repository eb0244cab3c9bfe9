//! The `proxy` table and the per-connection environment a script sees.

use super::modules;
use crate::protocol::handshake::HandshakeResponse41;
use crate::responder::session::{Peer, Session};
use mlua::{Lua, MetaMethod, Table, UserData, UserDataMethods, Value};

/// MySQL Proxy 0.8.5's version as `proxy.PROXY_VERSION` reports it (0xMMmmpp).
pub const PROXY_VERSION: i64 = 0x000805;

const CONSTANTS: &[(&str, i64)] = &[
    ("PROXY_SEND_QUERY", 1),
    ("PROXY_SEND_RESULT", 2),
    ("PROXY_IGNORE_RESULT", 4),
    ("PROXY_SEND_NONE", 0),
    ("MYSQLD_PACKET_OK", 0),
    ("MYSQLD_PACKET_RAW", 0xfa),
    ("MYSQLD_PACKET_ERR", 0xff),
    ("MYSQLD_PACKET_EOF", 0xfe),
    ("MYSQLD_PACKET_NULL", 0xfb),
    ("BACKEND_STATE_UNKNOWN", 0),
    ("BACKEND_STATE_UP", 1),
    ("BACKEND_STATE_DOWN", 2),
    ("BACKEND_TYPE_UNKNOWN", 0),
    ("BACKEND_TYPE_RW", 1),
    ("BACKEND_TYPE_RO", 2),
    ("COM_SLEEP", 0x00),
    ("COM_QUIT", 0x01),
    ("COM_INIT_DB", 0x02),
    ("COM_QUERY", 0x03),
    ("COM_FIELD_LIST", 0x04),
    ("COM_CREATE_DB", 0x05),
    ("COM_DROP_DB", 0x06),
    ("COM_REFRESH", 0x07),
    ("COM_SHUTDOWN", 0x08),
    ("COM_STATISTICS", 0x09),
    ("COM_PROCESS_INFO", 0x0a),
    ("COM_CONNECT", 0x0b),
    ("COM_PROCESS_KILL", 0x0c),
    ("COM_DEBUG", 0x0d),
    ("COM_PING", 0x0e),
    ("COM_TIME", 0x0f),
    ("COM_DELAYED_INSERT", 0x10),
    ("COM_CHANGE_USER", 0x11),
    ("COM_BINLOG_DUMP", 0x12),
    ("COM_TABLE_DUMP", 0x13),
    ("COM_CONNECT_OUT", 0x14),
    ("COM_REGISTER_SLAVE", 0x15),
    ("COM_STMT_PREPARE", 0x16),
    ("COM_STMT_EXECUTE", 0x17),
    ("COM_STMT_SEND_LONG_DATA", 0x18),
    ("COM_STMT_CLOSE", 0x19),
    ("COM_STMT_RESET", 0x1a),
    ("COM_SET_OPTION", 0x1b),
    ("COM_STMT_FETCH", 0x1c),
    ("COM_DAEMON", 0x1d),
    // not in MySQL Proxy 0.8 (it predates the command); added here
    ("COM_RESET_CONNECTION", 0x1f),
    ("MYSQL_TYPE_DECIMAL", 0x00),
    ("MYSQL_TYPE_TINY", 0x01),
    ("MYSQL_TYPE_SHORT", 0x02),
    ("MYSQL_TYPE_LONG", 0x03),
    ("MYSQL_TYPE_FLOAT", 0x04),
    ("MYSQL_TYPE_DOUBLE", 0x05),
    ("MYSQL_TYPE_NULL", 0x06),
    ("MYSQL_TYPE_TIMESTAMP", 0x07),
    ("MYSQL_TYPE_LONGLONG", 0x08),
    ("MYSQL_TYPE_INT24", 0x09),
    ("MYSQL_TYPE_DATE", 0x0a),
    ("MYSQL_TYPE_TIME", 0x0b),
    ("MYSQL_TYPE_DATETIME", 0x0c),
    ("MYSQL_TYPE_YEAR", 0x0d),
    ("MYSQL_TYPE_NEWDATE", 0x0e),
    ("MYSQL_TYPE_VARCHAR", 0x0f),
    ("MYSQL_TYPE_BIT", 0x10),
    ("MYSQL_TYPE_NEWDECIMAL", 0xf6),
    ("MYSQL_TYPE_ENUM", 0xf7),
    ("MYSQL_TYPE_SET", 0xf8),
    ("MYSQL_TYPE_TINY_BLOB", 0xf9),
    ("MYSQL_TYPE_MEDIUM_BLOB", 0xfa),
    ("MYSQL_TYPE_LONG_BLOB", 0xfb),
    ("MYSQL_TYPE_BLOB", 0xfc),
    ("MYSQL_TYPE_VAR_STRING", 0xfd),
    ("MYSQL_TYPE_STRING", 0xfe),
    ("MYSQL_TYPE_GEOMETRY", 0xff),
];

/// `proxy.queries`: a queue that exists for scripts written for a backend.
/// Without a backend nothing is ever sent from it; it only counts.
#[derive(Debug, Default)]
pub struct Queries {
    /// Queued entries: (id, packet).
    pub items: Vec<(i64, Vec<u8>)>,
}

impl UserData for Queries {
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        m.add_method_mut(
            "append",
            |_, q, (id, packet, _opts): (i64, mlua::String, Value)| {
                q.items.push((id, packet.as_bytes().to_vec()));
                Ok(())
            },
        );
        m.add_method_mut(
            "prepend",
            |_, q, (id, packet, _opts): (i64, mlua::String, Value)| {
                q.items.insert(0, (id, packet.as_bytes().to_vec()));
                Ok(())
            },
        );
        m.add_method_mut("reset", |_, q, ()| {
            q.items.clear();
            Ok(())
        });
        m.add_method("len", |_, q, ()| Ok(q.items.len()));
        m.add_meta_method(MetaMethod::Len, |_, q, ()| Ok(q.items.len()));
    }
}

/// Sets up the shared state: the `proxy` table with its constants and
/// `proxy.global`, the metatables every connection shares, and the modules.
pub fn install(lua: &Lua) -> mlua::Result<()> {
    let g = lua.globals();
    let proxy = lua.create_table()?;
    for (k, v) in CONSTANTS {
        proxy.raw_set(*k, *v)?;
    }
    proxy.raw_set("PROXY_VERSION", PROXY_VERSION)?;
    proxy.raw_set("global", lua.create_table()?)?;
    // `_G.proxy`, for code whose environment is _G (a chunk from loadstring, a
    // module): as in MySQL Proxy it reads and writes the proxy table of the
    // connection whose hook is running. It is an empty table whose metatable
    // is pointed at that connection's table before every hook call
    // (`point_global_proxy`); a connection's table falls back to the shared
    // constants, so no lookup can loop.
    let global_proxy = lua.create_table()?;
    let global_proxy_mt = lua.create_table()?;
    global_proxy_mt.raw_set("__index", &proxy)?; // until a hook runs
    global_proxy.set_metatable(Some(global_proxy_mt.clone()))?;
    g.raw_set("proxy", &global_proxy)?;
    lua.set_named_registry_value("understudy.global_proxy_mt", global_proxy_mt)?;
    // Environment metatable: unknown names resolve in _G.
    let env_mt = lua.create_table()?;
    env_mt.raw_set("__index", &g)?;
    lua.set_named_registry_value("understudy.env_mt", env_mt)?;
    // Per-connection proxy tables resolve constants and `global` in the shared one.
    let proxy_mt = lua.create_table()?;
    proxy_mt.raw_set("__index", &proxy)?;
    lua.set_named_registry_value("understudy.proxy_mt", proxy_mt)?;
    modules::install(lua)?;
    Ok(())
}

fn address(lua: &Lua, p: &Peer) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    match p {
        Peer::Tcp(a) => {
            t.raw_set("name", a.to_string())?;
            t.raw_set("address", a.ip().to_string())?;
            t.raw_set("port", a.port())?;
            // the socket family number, as MySQL Proxy reported it (AF_INET = 2, AF_INET6 = 10)
            t.raw_set("type", if a.is_ipv4() { 2 } else { 10 })?;
        }
        Peer::Unix => {
            t.raw_set("name", "")?;
            t.raw_set("address", "")?;
            t.raw_set("port", 0)?;
            t.raw_set("type", 1)?; // AF_UNIX
        }
    }
    Ok(t)
}

/// A new connection's environment: `{ proxy = { response, connection, queries } }`
/// over `_G`.
pub fn connection_env(lua: &Lua, s: &Session) -> mlua::Result<Table> {
    let env = lua.create_table()?;
    env.set_metatable(Some(
        lua.named_registry_value::<Table>("understudy.env_mt")?,
    ))?;
    let proxy = lua.create_table()?;
    proxy.set_metatable(Some(
        lua.named_registry_value::<Table>("understudy.proxy_mt")?,
    ))?;
    proxy.raw_set("response", lua.create_table()?)?;
    proxy.raw_set("queries", Queries::default())?;
    let conn = lua.create_table()?;
    let client = lua.create_table()?;
    client.raw_set("src", address(lua, &s.peer)?)?;
    client.raw_set("dst", address(lua, &s.local)?)?;
    client.raw_set("thread_id", s.id)?;
    client.raw_set("scramble_buffer", lua.create_string(s.nonce)?)?;
    client.raw_set("default_db", "")?;
    client.raw_set("username", "")?;
    conn.raw_set("client", client)?;
    // `server` stays nil: there is no backend.
    proxy.raw_set("connection", conn)?;
    env.raw_set("proxy", proxy)?;
    Ok(env)
}

/// The metatable of `_G.proxy` (see `install`), to keep in the responder.
pub fn global_proxy_mt(lua: &Lua) -> mlua::Result<Table> {
    lua.named_registry_value("understudy.global_proxy_mt")
}

/// Points `_G.proxy` at this connection's proxy table: called before each of
/// its hooks runs, as MySQL Proxy rewrote `_G.proxy`'s metatable.
pub fn point_global_proxy(global_proxy_mt: &Table, env: &Table) -> mlua::Result<()> {
    let p = proxy_of(env)?;
    global_proxy_mt.raw_set("__index", &p)?;
    global_proxy_mt.raw_set("__newindex", &p)
}

fn proxy_of(env: &Table) -> mlua::Result<Table> {
    env.raw_get("proxy")
}

/// The connection's `client` table, if the script has not replaced it.
fn client_of(env: &Table) -> mlua::Result<Option<Table>> {
    let conn: Option<Table> = proxy_of(env)?.raw_get("connection")?;
    match conn {
        Some(c) => c.raw_get("client"),
        None => Ok(None),
    }
}

/// Brings `proxy.connection.client` up to date with the session.
pub fn refresh(env: &Table, s: &Session) -> mlua::Result<()> {
    if let Some(c) = client_of(env)? {
        c.raw_set("default_db", s.database.as_deref().unwrap_or(""))?;
        c.raw_set("username", s.user.as_str())?;
        c.raw_set("thread_id", s.id)?;
    }
    Ok(())
}

/// What `read_auth` sees: the handshake response's fields on `proxy.connection.client`.
pub fn on_auth(
    lua: &Lua,
    env: &Table,
    s: &Session,
    resp: &HandshakeResponse41,
) -> mlua::Result<()> {
    if let Some(c) = client_of(env)? {
        c.raw_set("username", lua.create_string(&resp.username)?)?;
        c.raw_set(
            "scrambled_password",
            lua.create_string(&resp.auth_response)?,
        )?;
        c.raw_set("default_db", s.database.as_deref().unwrap_or(""))?;
        c.raw_set("auth_plugin_name", s.auth_plugin.as_ref())?;
        // what the client and the server agreed: a script writing RAW
        // answers needs it (EOF packets or not, with mysql.proto's encoders)
        c.raw_set("capabilities", s.capabilities)?;
        c.raw_set("scramble_buffer", lua.create_string(s.nonce)?)?;
    }
    Ok(())
}

/// `proxy.response = {}` before each hook call, as MySQL Proxy does.
pub fn reset_response(lua: &Lua, env: &Table) -> mlua::Result<()> {
    proxy_of(env)?.raw_set("response", lua.create_table()?)
}

/// With no backend, queued queries go nowhere: say so and drop them.
pub fn drop_queries(env: &Table, id: u32) {
    let Ok(p) = proxy_of(env) else { return };
    let Ok(q) = p.raw_get::<mlua::AnyUserData>("queries") else {
        return;
    };
    if let Ok(mut q) = q.borrow_mut::<Queries>() {
        if !q.items.is_empty() {
            log::info!(
                "lua: conn {id}: no backend: dropping {} queued quer{}",
                q.items.len(),
                if q.items.len() == 1 { "y" } else { "ies" }
            );
            q.items.clear();
        }
    }
}

/// `proxy.connection` of an environment (for response handling).
pub fn connection_of(env: &Table) -> mlua::Result<Option<Table>> {
    proxy_of(env)?.raw_get("connection")
}

/// `proxy.response` of an environment.
pub fn response_of(env: &Table) -> mlua::Result<Option<Table>> {
    proxy_of(env)?.raw_get("response")
}

/// Sets one field of `proxy.connection.client`.
pub fn set_client_field(env: &Table, k: &str, v: i64) -> mlua::Result<()> {
    if let Some(c) = client_of(env)? {
        c.raw_set(k, v)?;
    }
    Ok(())
}

/// `proxy.statement` while a prepared statement's execution (or its dry run
/// at prepare time) reaches `read_query` as the substituted COM_QUERY, and
/// nil otherwise:
///
/// ```lua
/// proxy.statement = {
///   id = 1,                                   -- the statement id
///   text = "SELECT name FROM users WHERE id = ?", -- as prepared
///   describe = false,  -- true at prepare time: only the answer's columns are used
///   params = { { type = proxy.MYSQL_TYPE_LONGLONG, unsigned = false, value = 7 }, ... },
/// }
/// ```
///
/// Values are Lua integers, numbers or strings (dates and times as text, a
/// BIGINT UNSIGNED above 2^63 as its digits); a NULL has no `value`.
pub fn set_statement(
    lua: &Lua,
    env: &Table,
    exec: Option<&crate::responder::Execution<'_>>,
    describe: bool,
) -> mlua::Result<()> {
    let proxy = proxy_of(env)?;
    let Some(e) = exec else {
        return proxy.raw_set("statement", Value::Nil);
    };
    let t = lua.create_table()?;
    t.raw_set("id", e.id)?;
    t.raw_set("text", lua.create_string(e.text)?)?;
    t.raw_set("describe", describe)?;
    let params = lua.create_table()?;
    for (i, v) in e.values.iter().enumerate() {
        let p = lua.create_table()?;
        // at prepare time (describe) no types are known yet
        if let Some(ty) = e.types.get(i) {
            p.raw_set("type", ty.coltype)?;
            p.raw_set("unsigned", ty.unsigned)?;
        }
        p.raw_set("value", bin_value(lua, v)?)?;
        params.raw_set(i + 1, p)?;
    }
    t.raw_set("params", params)?;
    proxy.raw_set("statement", t)
}

/// A parameter's value as Lua sees it: an integer, a number, a string (dates
/// and times as text, a BIGINT UNSIGNED above 2^63 as its digits), or nil.
pub fn bin_value(lua: &Lua, v: &crate::protocol::binary::BinValue<'_>) -> mlua::Result<Value> {
    use crate::protocol::binary::{self, BinValue};
    Ok(match v {
        BinValue::Null => Value::Nil,
        BinValue::Int(k) => Value::Integer(*k),
        BinValue::UInt(u) => match i64::try_from(*u) {
            Ok(k) => Value::Integer(k),
            Err(_) => Value::String(lua.create_string(u.to_string())?),
        },
        BinValue::Float(f) => Value::Number(f64::from(*f)),
        BinValue::Double(d) => Value::Number(*d),
        BinValue::Bytes(b) => Value::String(lua.create_string(b)?),
        other => {
            let mut buf = [0u8; 64];
            let text = binary::text_of(other, &mut buf, 6);
            Value::String(lua.create_string(text.as_ref())?)
        }
    })
}
