//! Turning `proxy.response` into packets.
//!
//! - `type = MYSQLD_PACKET_OK`: an OK packet (`affected_rows`, `insert_id`,
//!   `server_status`, `warnings`, `message`), or with `resultset = { fields, rows }`
//!   a text resultset;
//! - `type = MYSQLD_PACKET_ERR`: `errmsg`, `errcode` (default 1105), `sqlstate`
//!   (default "07000"; always sent as 5 bytes: a shorter state such as the seed's
//!   "!101" is padded with '0', a longer one cut);
//! - `type = MYSQLD_PACKET_RAW`: `packets`, a list of payloads the server frames
//!   and numbers; an empty list sends nothing; a first payload of 0xFB+filename
//!   starts LOAD DATA LOCAL INFILE.
//!
//! Column definitions are modern by default (utf8mb4 text, binary numbers and
//! blobs, a display length that fits the type), overridable per field with
//! `charsetnr`, `length`, `decimals`, `flags` (and `table`, `org_table`,
//! `schema`, `org_name`).
//!
//! Anything invalid is an `Err(reason)`: the caller logs the reason and answers
//! with MySQL Proxy's ERR "(lua) handling proxy.response failed, check
//! error-log", never a malformed packet.

use super::api;
use crate::limits;
use crate::protocol::consts::coltype;
use crate::protocol::response::{type_defaults, ColumnDef, ErrPacket};
use crate::responder::reply::{
    Answer, Cell, CellError, ErrReply, OkReply, Reply, ResultSet, RowSink, RowSource,
};
use crate::responder::AuthDecision;
use mlua::{Lua, Table, Value};
use std::time::Duration;

const OK: i64 = 0x00;
const ERR: i64 = 0xff;
const RAW: i64 = 0xfa;

fn int_field(t: &Table, k: &str) -> Result<Option<i64>, String> {
    match t.raw_get::<Value>(k).map_err(|e| e.to_string())? {
        Value::Nil => Ok(None),
        Value::Integer(i) => Ok(Some(i)),
        Value::Number(n) => Ok(Some(n as i64)),
        Value::String(s) => s
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok())
            .map(Some)
            .ok_or_else(|| format!("{k} must be a number")),
        other => Err(format!("{k} must be a number, not a {}", other.type_name())),
    }
}

fn bytes_field(lua: &Lua, t: &Table, k: &str) -> Result<Option<Vec<u8>>, String> {
    let v: Value = t.raw_get(k).map_err(|e| e.to_string())?;
    match v {
        Value::Nil => Ok(None),
        Value::String(s) => Ok(Some(s.as_bytes().to_vec())),
        Value::Integer(_) | Value::Number(_) => Ok(lua
            .coerce_string(v)
            .map_err(|e| e.to_string())?
            .map(|s| s.as_bytes().to_vec())),
        other => Err(format!("{k} must be a string, not a {}", other.type_name())),
    }
}

fn response_table(env: &Table) -> Result<Table, String> {
    api::response_of(env)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| "proxy.response is not a table".to_string())
}

/// The type of a response (required, as in MySQL Proxy).
fn response_type(r: &Table) -> Result<i64, String> {
    int_field(r, "type")?.ok_or_else(|| "proxy.response.type is not set".to_string())
}

fn raw_packets(lua: &Lua, r: &Table) -> Result<Vec<Vec<u8>>, String> {
    let packets: Table = match r.raw_get::<Value>("packets").map_err(|e| e.to_string())? {
        Value::Table(t) => t,
        Value::Nil => return Ok(Vec::new()),
        other => {
            return Err(format!(
                "packets must be a table, not a {}",
                other.type_name()
            ))
        }
    };
    let mut out = Vec::new();
    for i in 1..=packets.raw_len() {
        match packets.raw_get::<Value>(i).map_err(|e| e.to_string())? {
            Value::String(s) => out.push(s.as_bytes().to_vec()),
            v @ (Value::Integer(_) | Value::Number(_)) => out.push(
                lua.coerce_string(v)
                    .map_err(|e| e.to_string())?
                    .map(|s| s.as_bytes().to_vec())
                    .unwrap_or_default(),
            ),
            other => {
                return Err(format!(
                    "packets[{i}] must be a string, not a {}",
                    other.type_name()
                ))
            }
        }
    }
    Ok(out)
}

/// (code, sqlstate, message) of an ERR response. Without `errmsg` the client
/// is told so, as MySQL Proxy did ("(lua) proxy.response.errmsg is nil").
fn err_packet(lua: &Lua, r: &Table) -> Result<(u16, String, Vec<u8>), String> {
    let Some(msg) = bytes_field(lua, r, "errmsg")? else {
        return Ok((
            1105,
            "07000".into(),
            b"(lua) proxy.response.errmsg is nil".to_vec(),
        ));
    };
    let code = int_field(r, "errcode")?.unwrap_or(1105);
    let code = u16::try_from(code).map_err(|_| format!("errcode {code} is out of range"))?;
    let state = bytes_field(lua, r, "sqlstate")?.unwrap_or_else(|| b"07000".to_vec());
    Ok((code, String::from_utf8_lossy(&state).into_owned(), msg))
}

/// A `connect_server` answer: the greeting payload to send (RAW), or an ERR
/// payload to refuse the connection with.
pub fn greeting(lua: &Lua, env: &Table) -> Result<Option<Vec<u8>>, String> {
    let r = response_table(env)?;
    match response_type(&r)? {
        RAW => Ok(raw_packets(lua, &r)?.into_iter().next()),
        ERR => {
            let (code, state, msg) = err_packet(lua, &r)?;
            let mut out = Vec::new();
            ErrPacket::new(code, &state, &msg)
                .encode(&mut out, crate::protocol::consts::cap::PROTOCOL_41);
            Ok(Some(out))
        }
        t => Err(format!(
            "connect_server can answer RAW or ERR, not type {t}"
        )),
    }
}

/// A `read_auth` answer: OK logs the client in, ERR refuses it.
pub fn auth_decision(env: &Table) -> Result<AuthDecision, String> {
    let r = response_table(env)?;
    match response_type(&r)? {
        OK => Ok(AuthDecision::Accept),
        ERR => {
            let code = int_field(&r, "errcode")?.unwrap_or(1045);
            let state: Option<mlua::String> = r.raw_get("sqlstate").map_err(|e| e.to_string())?;
            let msg: Option<mlua::String> = r.raw_get("errmsg").map_err(|e| e.to_string())?;
            Ok(AuthDecision::Reject {
                code: u16::try_from(code).unwrap_or(1045),
                sqlstate: state.map_or_else(|| "28000".to_string(), |s| s.to_string_lossy()),
                message: msg.map_or_else(String::new, |s| s.to_string_lossy()),
            })
        }
        t => Err(format!("read_auth can answer OK or ERR, not type {t}")),
    }
}

/// What to do around the answer: `proxy.connection.connection_close` and the
/// `delay` extension (the reply itself is left declined, for the caller to fill).
pub fn outcome(env: &Table, r: &Table) -> Result<Answer, String> {
    let mut outcome = Answer::decline();
    if let Some(conn) = api::connection_of(env).map_err(|e| e.to_string())? {
        outcome.close = matches!(
            conn.raw_get::<Value>("connection_close"),
            Ok(Value::Boolean(true))
        );
    }
    outcome.delay = match r.raw_get::<Value>("delay").map_err(|e| e.to_string())? {
        Value::Nil => None,
        // capped (limits::MAX_DELAY), so that no number a script returns
        // can overflow the loop's deadline arithmetic
        Value::Integer(i) if i >= 0 => Some(limits::cap_delay(Duration::from_secs(i as u64))),
        Value::Number(n) if n >= 0.0 => Some(limits::delay_from_secs(n)),
        other => return Err(format!("delay must be a number of seconds, not {other:?}")),
    };
    Ok(outcome)
}

/// `proxy.response` when it is a resultset the script marked `cache = true`
/// (understudy's extension: "this table will not change"), else None.
pub fn cacheable(env: &Table) -> Option<Table> {
    let r = api::response_of(env).ok()??;
    let marked = matches!(r.raw_get::<Value>("cache"), Ok(Value::Boolean(true)));
    let resultset = matches!(r.raw_get::<Value>("resultset"), Ok(Value::Table(_)));
    (marked && resultset && response_type(&r).ok() == Some(OK)).then_some(r)
}

/// The answer a `read_query` returned PROXY_SEND_RESULT with, as data.
pub fn answer(lua: &Lua, env: &Table) -> Result<Answer, String> {
    let r = response_table(env)?;
    let mut answer = outcome(env, &r)?;
    answer.reply = match response_type(&r)? {
        OK => match r.raw_get::<Value>("resultset").map_err(|e| e.to_string())? {
            Value::Table(rs) => Reply::Rows(resultset(lua, &rs)?),
            Value::Nil => {
                let info = bytes_field(lua, &r, "message")?.unwrap_or_default();
                Reply::Ok(OkReply {
                    affected_rows: int_field(&r, "affected_rows")?.unwrap_or(0) as u64,
                    last_insert_id: int_field(&r, "insert_id")?.unwrap_or(0) as u64,
                    status: int_field(&r, "server_status")?.map(|v| v as u16),
                    warnings: int_field(&r, "warnings")?.unwrap_or(0) as u16,
                    info: info.into(),
                })
            }
            other => {
                return Err(format!(
                    "resultset must be a table, not a {}",
                    other.type_name()
                ))
            }
        },
        ERR => {
            let (code, state, msg) = err_packet(lua, &r)?;
            Reply::Err(ErrReply::new(code, &state, &msg))
        }
        RAW => {
            let mut packets = raw_packets(lua, &r)?;
            match packets.first() {
                Some(p) if p.first() == Some(&0xfb) => {
                    let mut name = packets.swap_remove(0);
                    name.remove(0);
                    Reply::LocalInfile(name)
                }
                _ => Reply::Raw(packets),
            }
        }
        t => return Err(format!("unknown proxy.response.type {t}")),
    };
    Ok(answer)
}

/// A column definition from a field table (`name`, `type` and the optional
/// keys listed in the module's comment), with MySQL Proxy's defaults.
pub(super) fn field_def(lua: &Lua, f: &Table) -> Result<ColumnDef, String> {
    // MySQL Proxy's defaults for a missing type and name
    let t = match int_field(f, "type")? {
        Some(t) => u8::try_from(t).map_err(|_| format!("field type {t} is out of range"))?,
        None => coltype::STRING,
    };
    let name = bytes_field(lua, f, "name")?.unwrap_or_else(|| b"no-field-name".to_vec());
    let mut c = ColumnDef::new(&name, t);
    let (charset, length, flags, decimals) = type_defaults(t);
    c.charset = int_field(f, "charsetnr")?.map_or(charset, |v| v as u16);
    c.length = int_field(f, "length")?.map_or(length, |v| v as u32);
    c.flags = int_field(f, "flags")?.map_or(flags, |v| v as u16);
    c.decimals = int_field(f, "decimals")?.map_or(decimals, |v| v as u8);
    for (k, slot) in [
        ("table", &mut c.table),
        ("org_table", &mut c.org_table),
        ("schema", &mut c.schema),
        ("org_name", &mut c.org_name),
    ] {
        if let Some(v) = bytes_field(lua, f, k)? {
            *slot = v;
        }
    }
    Ok(c)
}

/// The column definitions of `resultset.fields`.
fn fields(lua: &Lua, rs: &Table) -> Result<Vec<ColumnDef>, String> {
    let fields: Table = rs
        .raw_get::<Option<Table>>("fields")
        .map_err(|e| e.to_string())?
        .ok_or("resultset.fields must be a table")?;
    let n = fields.raw_len();
    if n == 0 {
        return Err("resultset.fields is empty".to_string());
    }
    let mut cols = Vec::with_capacity(n);
    for i in 1..=n {
        let f: Table = fields
            .raw_get::<Option<Table>>(i)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("fields[{i}] must be a table"))?;
        cols.push(field_def(lua, &f)?);
    }
    Ok(cols)
}

/// `resultset.rows`, if any.
fn rows_of(rs: &Table) -> Result<Option<Table>, String> {
    match rs.raw_get::<Value>("rows").map_err(|e| e.to_string())? {
        Value::Table(t) => Ok(Some(t)),
        Value::Nil => Ok(None),
        other => Err(format!(
            "resultset.rows must be a table, not a {}",
            other.type_name()
        )),
    }
}

/// A resultset whose rows the encoder pulls straight off the Lua stack. The
/// shape of every row is checked first, so that a malformed answer is
/// refused whole (MySQL Proxy's ERR), never sent in part.
fn resultset(lua: &Lua, rs: &Table) -> Result<ResultSet, String> {
    let columns = fields(lua, rs)?;
    let rows = rows_of(rs)?;
    if let Some(rows) = &rows {
        check_rows(lua, rows, columns.len())?;
    }
    Ok(ResultSet {
        rows: Box::new(LuaRows {
            lua: lua.clone(),
            n: columns.len(),
            rows,
            next: 1,
        }),
        columns,
        warnings: 0,
    })
}

/// The rows of a `cache = true` resultset as data, to be encoded once.
pub fn owned_resultset(lua: &Lua, rs: &Table) -> Result<(Vec<ColumnDef>, Vec<Vec<Cell>>), String> {
    let columns = fields(lua, rs)?;
    let n = columns.len();
    let mut out = Vec::new();
    if let Some(rows) = rows_of(rs)? {
        check_rows(lua, &rows, n)?;
        for i in 1..=rows.raw_len() {
            let row: Table = rows.raw_get(i).map_err(|e| e.to_string())?;
            let mut cells = Vec::with_capacity(n);
            for j in 1..=n {
                let v: Value = row.raw_get(j).map_err(|e| e.to_string())?;
                cells.push(match lua_cell(lua, v)? {
                    LuaCell::Null => Cell::Null,
                    LuaCell::Str(s) => Cell::Bytes(s.as_bytes().to_vec().into()),
                    LuaCell::Int(k) => Cell::Int(k),
                });
            }
            out.push(cells);
        }
    }
    Ok((columns, out))
}

fn row_not_table(i: usize, type_name: &str) -> String {
    format!("rows[{i}] must be a table, not a {type_name}")
}

fn row_too_long(i: usize, len: usize, n: usize) -> String {
    format!("rows[{i}] has {len} cells but there are {n} fields")
}

/// Every row a table of at most `n` cells.
fn check_rows(lua: &Lua, rows: &Table, n: usize) -> Result<(), String> {
    use mlua::ffi;
    let mut outcome = Ok(());
    // SAFETY: `exec_raw` runs the closure in protected mode with `rows` at
    // stack index 1; rawgeti, objlen, type and typename cannot raise an
    // error, and the stack is put back to one slot after every row.
    let ran = unsafe {
        lua.exec_raw::<()>(rows, |l| {
            let count = ffi::lua_objlen(l, 1);
            for i in 1..=count {
                let t = ffi::lua_rawgeti(l, 1, i as ffi::lua_Integer);
                if t != ffi::LUA_TTABLE {
                    let name = std::ffi::CStr::from_ptr(ffi::lua_typename(l, t))
                        .to_string_lossy()
                        .into_owned();
                    outcome = Err(row_not_table(i, &name));
                    break;
                }
                let len = ffi::lua_objlen(l, 2);
                if len > n {
                    outcome = Err(row_too_long(i, len, n));
                    break;
                }
                ffi::lua_settop(l, 1);
            }
            ffi::lua_settop(l, 0);
        })
    };
    ran.map_err(|e| e.to_string())?;
    outcome
}

/// A script's rows, read cell by cell off the Lua stack into the packet:
/// no handle, reference or allocation per row or cell. (Through mlua's safe
/// API each row and each string cell is a reference in its auxiliary thread,
/// created and released: most of the cost of a 70-row answer besides the
/// script itself.) A row with a non-integral number is formatted through
/// mlua instead, exactly as Lua's `tostring` prints it.
struct LuaRows {
    lua: Lua,
    rows: Option<Table>,
    n: usize,
    /// The next row, from 1.
    next: usize,
}

/// Returned by a cell writer to say "this row needs Lua's own formatting".
const NEEDS_LUA: &str = "a number that needs Lua's formatting";

impl RowSource for LuaRows {
    fn write_rows(&mut self, sink: &mut RowSink<'_, '_>) -> Result<bool, CellError> {
        let Some(rows) = self.rows.clone() else {
            return Ok(true);
        };
        loop {
            match self.fast(&rows, sink)? {
                Fast::Done => return Ok(true),
                Fast::Paused => return Ok(false),
                Fast::NeedsLua => {
                    if sink.should_pause() {
                        return Ok(false);
                    }
                    self.slow_row(&rows, sink)?;
                    self.next += 1;
                }
            }
        }
    }
}

/// How far the fast path got.
enum Fast {
    Done,
    Paused,
    /// Row `next` needs the general path.
    NeedsLua,
}

impl LuaRows {
    fn fast(&mut self, rows: &Table, sink: &mut RowSink<'_, '_>) -> Result<Fast, CellError> {
        use mlua::ffi;
        let n = self.n;
        let mut result: Result<Fast, CellError> = Ok(Fast::Done);
        let next = &mut self.next;
        // SAFETY: as in `check_rows`: protected mode, `rows` at index 1, only
        // functions that cannot raise (rawgeti, objlen, type, tonumber, and
        // tolstring on values that already are strings, which neither
        // converts nor allocates); the stack is reset after every cell and row.
        let ran = unsafe {
            self.lua.exec_raw::<()>(rows, |l| {
                let count = ffi::lua_objlen(l, 1);
                while *next <= count {
                    if sink.should_pause() {
                        result = Ok(Fast::Paused);
                        break;
                    }
                    if ffi::lua_rawgeti(l, 1, *next as ffi::lua_Integer) != ffi::LUA_TTABLE {
                        // checked before: the script changed the table since
                        result = Ok(Fast::NeedsLua);
                        break;
                    }
                    let r = sink.row(|c| {
                        for j in 1..=n {
                            let r = match ffi::lua_rawgeti(l, 2, j as ffi::lua_Integer) {
                                ffi::LUA_TSTRING => {
                                    let mut len = 0usize;
                                    let p = ffi::lua_tolstring(l, 3, &mut len);
                                    c.text(std::slice::from_raw_parts(p.cast::<u8>(), len))
                                }
                                ffi::LUA_TNUMBER => match integral(ffi::lua_tonumber(l, 3)) {
                                    Some(k) => c.int(k),
                                    None => Err(NEEDS_LUA),
                                },
                                // nil, and as in MySQL Proxy (whose lua_tostring() gives
                                // NULL for them) booleans, tables, functions, userdata
                                _ => c.null(),
                            };
                            ffi::lua_settop(l, 2);
                            r?;
                        }
                        Ok(())
                    });
                    ffi::lua_settop(l, 1);
                    match r {
                        Ok(()) => *next += 1,
                        Err(e) if e.why == NEEDS_LUA => {
                            result = Ok(Fast::NeedsLua);
                            break;
                        }
                        Err(e) => {
                            result = Err(e);
                            break;
                        }
                    }
                }
                ffi::lua_settop(l, 0);
            })
        };
        if let Err(e) = ran {
            log::warn!("lua: reading the script's rows: {e}");
            return Err(CellError {
                row: self.next as u64,
                column: 1,
                why: "the script's rows could not be read",
            });
        }
        result
    }

    /// Row `next` through mlua's values.
    fn slow_row(&mut self, rows: &Table, sink: &mut RowSink<'_, '_>) -> Result<(), CellError> {
        let bad = |why| CellError {
            row: self.next as u64,
            column: 1,
            why,
        };
        let row: Table = match rows.raw_get::<Value>(self.next) {
            Ok(Value::Table(t)) => t,
            _ => return Err(bad("the row is not a table any more")),
        };
        let mut cells = Vec::with_capacity(self.n);
        for j in 1..=self.n {
            let v: Value = row
                .raw_get(j)
                .map_err(|_| bad("a cell could not be read"))?;
            cells.push(lua_cell(&self.lua, v).map_err(|_| bad("a number could not be formatted"))?);
        }
        sink.row(|c| {
            cells.iter().try_for_each(|cell| match cell {
                LuaCell::Null => c.null(),
                LuaCell::Str(s) => c.text(&s.as_bytes()),
                LuaCell::Int(k) => c.int(*k),
            })
        })
    }
}

/// `x` as an integer when Lua 5.1 would print it as one ("%.14g" of an
/// integral number below 1e14).
fn integral(x: f64) -> Option<i64> {
    (x.fract() == 0.0 && x.abs() < 1e14).then_some(x as i64)
}

/// A resultset cell on its way to the wire.
enum LuaCell {
    Null,
    Str(mlua::String),
    /// An integral number: written as digits straight into the packet, which
    /// is what Lua 5.1's `tostring` ("%.14g") prints for integers below 1e14,
    /// without creating (and interning) a Lua string per cell.
    Int(i64),
}

fn lua_cell(lua: &Lua, v: Value) -> Result<LuaCell, String> {
    Ok(match v {
        Value::Nil => LuaCell::Null,
        Value::String(s) => LuaCell::Str(s),
        Value::Integer(k) => LuaCell::Int(k),
        Value::Number(x) if integral(x).is_some() => LuaCell::Int(x as i64),
        Value::Number(_) => match lua.coerce_string(v).map_err(|e| e.to_string())? {
            Some(s) => LuaCell::Str(s),
            None => LuaCell::Null,
        },
        // booleans, tables, functions, userdata: NULL, as in MySQL Proxy
        _ => LuaCell::Null,
    })
}
