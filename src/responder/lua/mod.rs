//! MySQL Proxy Lua scripting: run MySQL Proxy 0.8 scripts written for a
//! backend-less proxy (the seed's `server_mock.lua` among them) unchanged.
//!
//! - One LuaJIT state with its JIT compiler off (vendored; MySQL Proxy scripts
//!   are Lua 5.1 code and rely on `setfenv` environments, which LuaJIT keeps),
//!   on the event-loop thread.
//! - The script is compiled once; its chunk runs once per connection in an
//!   environment table whose `__index` is `_G`, so plain globals are per
//!   connection while `proxy.global` is shared by all.
//! - Hooks: `connect_server`, `read_auth`, `read_query`, `disconnect_client`.
//!   Backend-only hooks may exist and are never called.
//! - Without a decision from `read_query`, the next responder of the chain
//!   (the built-in answers) plays the part of MySQL Proxy's backend.
//! - Prepared statements: a script that answers COM_STMT_PREPARE in raw
//!   packets owns the statement; otherwise each execution reaches
//!   `read_query` as a COM_QUERY with the values substituted, with
//!   `proxy.statement` describing it (see `api::set_statement`).
//! - Every hook call has a time budget; a runaway script gets an error, not
//!   the server.

mod api;
mod chassis;
mod lua51;
mod modules;
mod response;
pub mod tokenizer;

use super::canned::CannedSet;
use super::reply::{Answer, ErrReply, Reply};
use super::session::{Peer, Session};
use super::{AuthDecision, Part, Request, Responder};
use crate::protocol::command::Command;
use crate::protocol::consts::status;
use crate::protocol::handshake::HandshakeResponse41;
use log::{debug, error, info, warn};
use mlua::{Function, HookTriggers, Lua, LuaOptions, StdLib, Table, Value, VmState};
use std::cell::Cell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

/// MySQL Proxy's hook return values.
pub const PROXY_SEND_QUERY: i64 = 1;
/// The script answered: send `proxy.response`.
pub const PROXY_SEND_RESULT: i64 = 2;
/// Send nothing.
pub const PROXY_IGNORE_RESULT: i64 = 4;

/// What the client is told about an invalid `proxy.response` (MySQL Proxy's text).
pub const RESPONSE_FAILED: &str = "(lua) handling proxy.response failed, check error-log";

/// How often (in VM instructions) the budget hook looks at the clock.
const HOOK_EVERY: u32 = 10_000;

/// A compiled script and what identifies its file version.
struct Script {
    path: PathBuf,
    chunk: Function,
    modified: Option<SystemTime>,
    size: u64,
}

/// Answers commands from a MySQL Proxy Lua script; declines what the script
/// leaves alone.
pub struct LuaResponder {
    lua: Lua,
    script: Script,
    /// `conns[id]` = that connection's environment table.
    conns: Table,
    /// The server version the built-in greeting announces (for
    /// `proxy.connection.client.mysqld_version`).
    version: Vec<u8>,
    /// Deadline of the hook call in progress, read by the VM hook.
    deadline: Rc<Cell<Option<Instant>>>,
    timeout: Duration,
    last_check: Instant,
    /// Session revision last mirrored into each connection's `client` table.
    synced: HashMap<u32, u32>,
    /// Encoded `cache = true` resultsets by table identity, with the table pinned.
    cache: HashMap<usize, (Rc<CannedSet>, mlua::RegistryKey)>,
    /// Bytes held by `cache`.
    cache_bytes: usize,
    /// The metatable of `_G.proxy`, re-pointed at the running connection's
    /// proxy table before each hook (see `api::install`).
    global_proxy_mt: Table,
}

/// Most bytes of encoded answers the response cache keeps.
const CACHE_LIMIT: usize = 1 << 30;

/// Why a script could not be loaded.
#[derive(Debug)]
pub struct LoadError(pub String);

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn file_version(path: &Path) -> (Option<SystemTime>, u64) {
    match std::fs::metadata(path) {
        Ok(m) => (m.modified().ok(), m.len()),
        Err(_) => (None, 0),
    }
}

fn compile(lua: &Lua, path: &Path) -> Result<Script, LoadError> {
    let (modified, size) = file_version(path);
    let source = std::fs::read(path).map_err(|e| LoadError(format!("{}: {e}", path.display())))?;
    // The file name as the chunk name, as MySQL Proxy loaded it: messages and
    // tracebacks read `[string "path"]:12:` exactly as they did there.
    let load = |src: &[u8]| {
        lua.load(src)
            .set_name(path.display().to_string())
            .into_function()
    };
    let chunk = match load(&source) {
        Ok(f) => f,
        Err(e) if lua_message(&e).contains("invalid escape sequence") => {
            // Lua 5.1 read an unknown escape as the character; LuaJIT refuses it.
            let Some(lenient) = lua51::rewrite_escapes(&source) else {
                return Err(LoadError(lua_message(&e)));
            };
            let f = load(&lenient).map_err(|e| LoadError(lua_message(&e)))?;
            info!(
                "lua: {}: unknown escapes in strings (such as \\.) read as Lua 5.1 did: as the character",
                path.display()
            );
            f
        }
        Err(e) => return Err(LoadError(lua_message(&e))),
    };
    Ok(Script {
        path: path.to_path_buf(),
        chunk,
        modified,
        size,
    })
}

/// The message of a Lua error without mlua's stack-traceback decoration.
pub(crate) fn lua_message(e: &mlua::Error) -> String {
    match e {
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        mlua::Error::RuntimeError(m) => m.clone(),
        mlua::Error::CallbackError { cause, .. } => lua_message(cause),
        other => other.to_string(),
    }
    .lines()
    .next()
    .unwrap_or_default()
    .to_string()
}

impl LuaResponder {
    /// Loads `path`: compiles it (a syntax error is a `LoadError` with file, line
    /// and message) and runs it once in a scratch environment, so that a script
    /// that fails at load time is refused before the server listens.
    pub fn new(path: &Path, version: &str, timeout: Duration) -> Result<LuaResponder, LoadError> {
        // Lua's standard libraries as MySQL Proxy opened them (luaL_openlibs),
        // `debug` included: scripts call debug.traceback(). mlua counts `debug`
        // as unsafe because it reaches past the sandbox (getregistry,
        // setupvalue, sethook: replacing the hook would also lift the time
        // budget); the scripts are the operator's own code, as in MySQL Proxy.
        // LuaJIT's `ffi` stays out.
        // SAFETY: see above; no other unsafe library is loaded.
        let lua =
            unsafe { Lua::unsafe_new_with(StdLib::ALL_SAFE | StdLib::DEBUG, LuaOptions::new()) };
        let deadline: Rc<Cell<Option<Instant>>> = Rc::new(Cell::new(None));
        let d = deadline.clone();
        lua.set_hook(
            HookTriggers::new().every_nth_instruction(HOOK_EVERY),
            move |_, _| match d.get() {
                Some(t) if Instant::now() > t => Err(mlua::Error::RuntimeError(
                    "script exceeded its time budget (--lua-timeout)".to_string(),
                )),
                _ => Ok(VmState::Continue),
            },
        )
        .map_err(|e| LoadError(e.to_string()))?;
        // LuaJIT's interpreter only: count hooks (the time budget above) are not
        // run inside JIT-compiled traces, so with the compiler on a script doing
        // `while true do end` would hang the loop for good. The interpreter still
        // beats PUC Lua 5.1 here (README: "Why LuaJIT's interpreter").
        lua.load("if jit then jit.off() end")
            .exec()
            .map_err(|e| LoadError(format!("turning the JIT compiler off: {e}")))?;
        api::install(&lua).map_err(|e| LoadError(format!("setting up the proxy API: {e}")))?;
        let script = compile(&lua, path)?;
        let conns = lua.create_table().map_err(|e| LoadError(e.to_string()))?;
        let global_proxy_mt = api::global_proxy_mt(&lua).map_err(|e| LoadError(e.to_string()))?;
        let r = LuaResponder {
            lua,
            script,
            conns,
            version: version.as_bytes().to_vec(),
            deadline,
            timeout,
            last_check: Instant::now(),
            synced: HashMap::new(),
            cache: HashMap::new(),
            cache_bytes: 0,
            global_proxy_mt,
        };
        // Run the chunk once in a throwaway environment: errors at load time
        // (a call to a missing function at top level, say) surface now.
        let probe = Session::new(0, Peer::Unix, Peer::Unix);
        r.new_env(&probe).map_err(|e| LoadError(lua_message(&e)))?;
        r.conns
            .raw_set(0, Value::Nil)
            .map_err(|e| LoadError(e.to_string()))?;
        Ok(r)
    }

    /// Creates a connection's environment and runs the chunk in it.
    fn new_env(&self, s: &Session) -> mlua::Result<Table> {
        let env = api::connection_env(&self.lua, s)?;
        self.conns.raw_set(s.id, &env)?;
        // setfenv on the shared compiled chunk, then run it: function definitions
        // land in this connection's environment.
        self.script.chunk.set_environment(env.clone())?;
        api::point_global_proxy(&self.global_proxy_mt, &env)?;
        self.with_budget(|| self.script.chunk.call::<()>(()))?;
        Ok(env)
    }

    /// `proxy.response` as data. A resultset marked `cache = true` is
    /// encoded once and copied from then on, for as long as the script hands
    /// back the same table (kept alive here so that its identity stays
    /// unique); in an execution (binary rows) it is sent as any other.
    fn reply(&mut self, env: &Table, binary: bool) -> Result<Answer, String> {
        let cacheable = if binary {
            None
        } else {
            response::cacheable(env)
        };
        let Some(r) = cacheable else {
            return response::answer(&self.lua, env);
        };
        let key = r.to_pointer() as usize;
        let mut answer = response::outcome(env, &r)?;
        if let Some((set, _)) = self.cache.get(&key) {
            answer.reply = Reply::Canned(set.clone());
            return Ok(answer);
        }
        let rs: Table = r.raw_get("resultset").map_err(|e| e.to_string())?;
        let (columns, rows) = response::owned_resultset(&self.lua, &rs)?;
        let set = CannedSet::new(columns, rows, status::AUTOCOMMIT).map_err(|e| e.to_string())?;
        let size = set.text.size();
        if self.cache_bytes + size > CACHE_LIMIT {
            warn!(
                "lua: response cache full ({CACHE_LIMIT} bytes): not caching another {size} bytes"
            );
            return response::answer(&self.lua, env);
        }
        self.cache_bytes += size;
        let set = Rc::new(set);
        let pin = self
            .lua
            .create_registry_value(r)
            .map_err(|e| e.to_string())?;
        self.cache.insert(key, (set.clone(), pin));
        answer.reply = Reply::Canned(set);
        Ok(answer)
    }

    /// Mirrors user and database into `proxy.connection.client` when they changed.
    fn sync(&mut self, env: &Table, s: &Session) -> mlua::Result<()> {
        if self.synced.get(&s.id) != Some(&s.revision) {
            api::refresh(env, s)?;
            self.synced.insert(s.id, s.revision);
        }
        Ok(())
    }

    fn env(&self, id: u32) -> Option<Table> {
        self.conns.raw_get::<Option<Table>>(id).ok().flatten()
    }

    fn with_budget<T>(&self, f: impl FnOnce() -> mlua::Result<T>) -> mlua::Result<T> {
        self.deadline.set(Some(Instant::now() + self.timeout));
        let r = f();
        self.deadline.set(None);
        r
    }

    /// Calls hook `name` of a connection's environment, if the script defines it.
    fn call_hook(
        &self,
        env: &Table,
        name: &str,
        arg: Option<Value>,
    ) -> mlua::Result<Option<Value>> {
        let f: Value = env.get(name)?;
        let Value::Function(f) = f else {
            return Ok(None);
        };
        api::point_global_proxy(&self.global_proxy_mt, env)?;
        let v = self.with_budget(|| match arg {
            Some(a) => f.call::<Value>(a),
            None => f.call::<Value>(()),
        })?;
        Ok(Some(v))
    }

    /// Checks the script file at most once a second; a changed file (mtime or
    /// size) is compiled for new connections. A failed reload keeps the old one.
    fn maybe_reload(&mut self, force: bool) {
        let (modified, size) = file_version(&self.script.path);
        if !force && modified == self.script.modified && size == self.script.size {
            return;
        }
        match compile(&self.lua, &self.script.path) {
            Ok(s) => {
                info!("lua: reloaded {}", s.path.display());
                self.script = s;
                // a new script may build other answers: forget the old encodings
                self.cache.clear();
                self.cache_bytes = 0;
            }
            Err(e) => {
                error!(
                    "lua: reload of {} failed, keeping the old script: {e}",
                    self.script.path.display()
                );
                // do not retry until the file changes again
                self.script.modified = modified;
                self.script.size = size;
            }
        }
    }

    fn hook_error(&self, id: u32, hook: &str, e: &mlua::Error) -> Answer {
        let msg = lua_message(e);
        warn!("lua: conn {id}: {hook}() failed: {msg}");
        let text = format!("(lua) {hook}() failed: {msg}");
        Reply::Err(ErrReply::new(1105, "HY000", text.as_bytes())).into()
    }
}

impl Responder for LuaResponder {
    fn greeting(&mut self, s: &mut Session) -> Option<Vec<u8>> {
        let env = match self.new_env(s) {
            Ok(env) => env,
            Err(e) => {
                warn!(
                    "lua: conn {}: the script failed for this connection: {}",
                    s.id,
                    lua_message(&e)
                );
                return None;
            }
        };
        if let Err(e) = api::refresh(&env, s) {
            debug!("lua: conn {}: {e}", s.id);
        }
        let greeting = match self.call_hook(&env, "connect_server", None) {
            Ok(Some(Value::Integer(PROXY_SEND_RESULT))) => {
                match response::greeting(&self.lua, &env) {
                    Ok(p) => p,
                    Err(e) => {
                        warn!(
                            "lua: conn {}: (lua) handling proxy.response failed: {e}",
                            s.id
                        );
                        None
                    }
                }
            }
            Ok(Some(Value::Number(n))) if n as i64 == PROXY_SEND_RESULT => {
                response::greeting(&self.lua, &env).ok().flatten()
            }
            Ok(_) => None,
            Err(e) => {
                warn!(
                    "lua: conn {}: connect_server() failed: {}",
                    s.id,
                    lua_message(&e)
                );
                None
            }
        };
        // proxy.connection.client.mysqld_version: the version the client was
        // greeted with, as MySQL Proxy's number (8.0.36 -> 80036).
        let version = match greeting.as_deref() {
            Some(g) => crate::protocol::handshake::HandshakeV10::decode(g)
                .map(|h| h.server_version)
                .unwrap_or_default(),
            None => self.version.clone(),
        };
        if let Err(e) =
            api::set_client_field(&env, "mysqld_version", modules::version_number(&version))
        {
            debug!("lua: conn {}: {e}", s.id);
        }
        greeting
    }

    fn auth(&mut self, s: &mut Session, resp: &HandshakeResponse41) -> AuthDecision {
        let Some(env) = self.env(s.id) else {
            return AuthDecision::Default;
        };
        if let Err(e) = api::on_auth(&self.lua, &env, s, resp) {
            debug!("lua: conn {}: {e}", s.id);
        }
        if let Err(e) = api::reset_response(&self.lua, &env) {
            debug!("lua: conn {}: {e}", s.id);
        }
        match self.call_hook(&env, "read_auth", None) {
            Ok(Some(v)) if is_send_result(&v) => {
                response::auth_decision(&env).unwrap_or_else(|e| AuthDecision::Reject {
                    code: 1105,
                    sqlstate: "HY000".into(),
                    message: {
                        warn!("lua: conn {}: handling proxy.response failed: {e}", s.id);
                        RESPONSE_FAILED.to_string()
                    },
                })
            }
            Ok(_) => AuthDecision::Default,
            Err(e) => AuthDecision::Reject {
                code: 1105,
                sqlstate: "HY000".into(),
                message: format!("(lua) read_auth() failed: {}", lua_message(&e)),
            },
        }
    }

    fn answer(&mut self, s: &mut Session, req: &Request<'_>) -> Answer {
        if matches!(req.part, Part::Statement { .. }) {
            return Answer::decline(); // the script saw the whole query
        }
        let Some(env) = self.env(s.id) else {
            return Answer::decline();
        };
        let prepared = self
            .sync(&env, s)
            .and_then(|_| api::reset_response(&self.lua, &env))
            .and_then(|_| api::set_statement(&self.lua, &env, req.execution, req.describe))
            .and_then(|_| self.lua.create_string(req.payload));
        let packet = match prepared {
            Ok(p) => p,
            Err(e) => return self.hook_error(s.id, "read_query", &e),
        };
        let decision = self.call_hook(&env, "read_query", Some(Value::String(packet)));
        if req.execution.is_some() {
            let _ = api::set_statement(&self.lua, &env, None, false);
        }
        if matches!(req.command, Command::Quit) {
            return Reply::Nothing.into(); // the client is gone: nothing is sent
        }
        match decision {
            Ok(Some(v)) if is_send_result(&v) => {
                match self.reply(&env, req.execution.is_some()) {
                    Ok(answer) => answer,
                    Err(e) => {
                        // MySQL Proxy's words to the client; the reason goes to the log
                        // (printed by default: the default log level is warn).
                        warn!("lua: conn {}: handling proxy.response failed: {e}", s.id);
                        Reply::Err(ErrReply::new(1105, "07000", RESPONSE_FAILED.as_bytes())).into()
                    }
                }
            }
            Ok(Some(v)) if as_int(&v) == Some(PROXY_IGNORE_RESULT) => Reply::Nothing.into(),
            Ok(_) => {
                api::drop_queries(&env, s.id);
                Answer::decline()
            }
            Err(e) => self.hook_error(s.id, "read_query", &e),
        }
    }

    fn disconnect(&mut self, s: &Session) {
        if let Some(env) = self.env(s.id) {
            let _ = api::refresh(&env, s);
            if let Err(e) = self.call_hook(&env, "disconnect_client", None) {
                warn!(
                    "lua: conn {}: disconnect_client() failed: {}",
                    s.id,
                    lua_message(&e)
                );
            }
        }
        let _ = self.conns.raw_set(s.id, Value::Nil);
        self.synced.remove(&s.id);
    }

    fn reload(&mut self) {
        self.maybe_reload(true);
    }

    fn tick(&mut self) {
        if self.last_check.elapsed() >= Duration::from_secs(1) {
            self.last_check = Instant::now();
            self.maybe_reload(false);
        }
    }
}

fn as_int(v: &Value) -> Option<i64> {
    match v {
        Value::Integer(i) => Some(*i),
        Value::Number(n) => Some(*n as i64),
        _ => None,
    }
}

fn is_send_result(v: &Value) -> bool {
    as_int(v) == Some(PROXY_SEND_RESULT)
}
