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
use crate::protocol::response::{type_defaults, ColumnDef, Encoder, ErrPacket, OkPacket};
use crate::responder::session::Session;
use crate::responder::{AuthDecision, Outcome};
use mlua::{Lua, Table, Value};
use std::time::Duration;

/// Why an answer was refused when it grew past [`limits::MAX_ANSWER`]; the
/// client is told this text (not MySQL Proxy's generic one): it is the
/// script's answer that is too big, not a mistake in it.
pub const ANSWER_TOO_LARGE: &str =
    "(lua) the answer is larger than the server's per-command limit (max_answer): not sent";

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
/// `delay` extension.
pub fn outcome(env: &Table, r: &Table) -> Result<Outcome, String> {
    let mut outcome = Outcome::default();
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

/// Writes the answer a `read_query` returned PROXY_SEND_RESULT with.
pub fn send(lua: &Lua, env: &Table, s: &Session, enc: &mut Encoder<'_>) -> Result<Outcome, String> {
    let r = response_table(env)?;
    let mut outcome = outcome(env, &r)?;
    let status = s.status();
    match response_type(&r)? {
        OK => match r.raw_get::<Value>("resultset").map_err(|e| e.to_string())? {
            Value::Table(rs) => resultset(lua, &rs, enc, status)?,
            Value::Nil => {
                let info = bytes_field(lua, &r, "message")?.unwrap_or_default();
                enc.ok(&OkPacket {
                    affected_rows: int_field(&r, "affected_rows")?.unwrap_or(0) as u64,
                    last_insert_id: int_field(&r, "insert_id")?.unwrap_or(0) as u64,
                    status: int_field(&r, "server_status")?.map_or(status, |v| v as u16),
                    warnings: int_field(&r, "warnings")?.unwrap_or(0) as u16,
                    info: &info,
                });
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
            enc.err(&ErrPacket::new(code, &state, &msg));
        }
        RAW => {
            let packets = raw_packets(lua, &r)?;
            if packets.first().is_some_and(|p| p.first() == Some(&0xfb)) {
                outcome.local_infile = true;
            }
            let total = packets
                .iter()
                .map(Vec::len)
                .fold(0usize, usize::saturating_add);
            if total > enc.budget_end().saturating_sub(enc.raw().len()) {
                return Err(ANSWER_TOO_LARGE.to_string());
            }
            for p in &packets {
                enc.packet(|o| o.extend_from_slice(p));
            }
        }
        t => return Err(format!("unknown proxy.response.type {t}")),
    }
    Ok(outcome)
}

fn field_def(lua: &Lua, f: &Table) -> Result<ColumnDef, String> {
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

/// Encodes a resultset; on error nothing of it stays in the output.
fn resultset(lua: &Lua, rs: &Table, enc: &mut Encoder<'_>, status: u16) -> Result<(), String> {
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
    let rows: Option<Table> = match rs.raw_get::<Value>("rows").map_err(|e| e.to_string())? {
        Value::Table(t) => Some(t),
        Value::Nil => None,
        other => {
            return Err(format!(
                "resultset.rows must be a table, not a {}",
                other.type_name()
            ))
        }
    };
    let mark = enc.raw().len();
    let seq = enc.seq;
    let r = (|| {
        enc.columns(&cols, status);
        if enc.over_budget() {
            return Err(ANSWER_TOO_LARGE.to_string());
        }
        if let Some(rows) = rows {
            let rows_mark = enc.raw().len();
            let rows_seq = enc.seq;
            if rows_from_stack(lua, &rows, n, enc)? == RawRows::NeedsLua {
                enc.raw().truncate(rows_mark);
                enc.seq = rows_seq;
                rows_through_mlua(lua, &rows, n, enc)?;
            }
        }
        enc.end(0, status);
        Ok(())
    })();
    if r.is_err() {
        enc.raw().truncate(mark);
        enc.seq = seq;
    }
    r
}

/// How far [`rows_from_stack`] got.
#[derive(Debug, PartialEq, Eq)]
enum RawRows {
    /// Every row is encoded.
    Done,
    /// A cell needs Lua's own number formatting (a non-integral number): the
    /// caller drops what was written and takes the general path.
    NeedsLua,
}

fn row_not_table(i: usize, type_name: &str) -> String {
    format!("rows[{i}] must be a table, not a {type_name}")
}

fn row_too_long(i: usize, len: usize, n: usize) -> String {
    format!("rows[{i}] has {len} cells but there are {n} fields")
}

/// The fast path for rows: reads every cell straight off the Lua stack and
/// writes it into the packet, with no handle, reference or allocation per row
/// or cell. (Through mlua's safe API each row and each string cell is a
/// reference in its auxiliary thread, created and released: most of the cost of
/// a 70-row answer besides the script itself.)
fn rows_from_stack(
    lua: &Lua,
    rows: &Table,
    n: usize,
    enc: &mut Encoder<'_>,
) -> Result<RawRows, String> {
    use mlua::ffi;
    let mut outcome: Result<RawRows, String> = Ok(RawRows::Done);
    // SAFETY: `exec_raw` runs the closure in protected mode with `rows` at
    // stack index 1. Only functions that cannot raise a Lua error are used
    // (rawgeti, objlen, type, typename, tonumber, and tolstring on
    // values that already are strings, which neither converts nor allocates),
    // and the stack is put back to one slot after every row.
    let ran = unsafe {
        lua.exec_raw::<()>(rows, |l| {
            let count = ffi::lua_objlen(l, 1);
            let type_name = |t| {
                std::ffi::CStr::from_ptr(ffi::lua_typename(l, t))
                    .to_string_lossy()
                    .into_owned()
            };
            for i in 1..=count {
                if ffi::lua_rawgeti(l, 1, i as ffi::lua_Integer) != ffi::LUA_TTABLE {
                    outcome = Err(row_not_table(i, &type_name(ffi::lua_type(l, -1))));
                    break;
                }
                let len = ffi::lua_objlen(l, 2);
                if len > n {
                    outcome = Err(row_too_long(i, len, n));
                    break;
                }
                let mut stop = None;
                let budget_end = enc.budget_end();
                enc.packet(|o| {
                    for j in 1..=n {
                        if o.len() > budget_end {
                            stop = Some(Err(ANSWER_TOO_LARGE.to_string()));
                            break;
                        }
                        match ffi::lua_rawgeti(l, 2, j as ffi::lua_Integer) {
                            ffi::LUA_TSTRING => {
                                let mut len = 0usize;
                                let p = ffi::lua_tolstring(l, 3, &mut len);
                                let bytes = std::slice::from_raw_parts(p.cast::<u8>(), len);
                                crate::protocol::wire::put_lenenc_str(o, bytes);
                            }
                            ffi::LUA_TNUMBER => match integral(ffi::lua_tonumber(l, 3)) {
                                Some(k) => put_int_text(o, k),
                                None => stop = Some(Ok(RawRows::NeedsLua)),
                            },
                            // nil, and as in MySQL Proxy (whose lua_tostring() gives
                            // NULL for them) booleans, tables, functions, userdata
                            _ => o.push(0xfb),
                        }
                        ffi::lua_settop(l, 2);
                        if stop.is_some() {
                            break;
                        }
                    }
                });
                ffi::lua_settop(l, 1);
                if let Some(s) = stop {
                    outcome = s;
                    break;
                }
                if enc.over_budget() {
                    outcome = Err(ANSWER_TOO_LARGE.to_string());
                    break;
                }
            }
            ffi::lua_settop(l, 0);
        })
    };
    ran.map_err(|e| e.to_string())?;
    outcome
}

/// `x` as an integer when Lua 5.1 would print it as one ("%.14g" of an
/// integral number below 1e14).
fn integral(x: f64) -> Option<i64> {
    (x.fract() == 0.0 && x.abs() < 1e14).then_some(x as i64)
}

/// The general path for rows, through mlua's values: also formats non-integral
/// numbers exactly as Lua's `tostring` does.
fn rows_through_mlua(
    lua: &Lua,
    rows: &Table,
    n: usize,
    enc: &mut Encoder<'_>,
) -> Result<(), String> {
    let mut cells: Vec<Cell> = Vec::with_capacity(n);
    for i in 1..=rows.raw_len() {
        let row: Table = match rows.raw_get::<Value>(i).map_err(|e| e.to_string())? {
            Value::Table(t) => t,
            other => return Err(row_not_table(i, other.type_name())),
        };
        let len = row.raw_len();
        if len > n {
            return Err(row_too_long(i, len, n));
        }
        cells.clear();
        for j in 1..=n {
            let v: Value = row.raw_get(j).map_err(|e| e.to_string())?;
            cells.push(match v {
                Value::Nil => Cell::Null,
                Value::String(s) => Cell::Str(s),
                Value::Integer(k) => Cell::Int(k),
                Value::Number(x) if integral(x).is_some() => Cell::Int(x as i64),
                Value::Number(_) => match lua.coerce_string(v).map_err(|e| e.to_string())? {
                    Some(s) => Cell::Str(s),
                    None => Cell::Null,
                },
                // booleans, tables, functions, userdata: NULL, as in MySQL Proxy
                _ => Cell::Null,
            });
        }
        let budget_end = enc.budget_end();
        enc.packet(|o| {
            for c in &cells {
                if o.len() > budget_end {
                    break; // over budget: the check below gives up on the answer
                }
                match c {
                    Cell::Null => o.push(0xfb),
                    Cell::Str(s) => crate::protocol::wire::put_lenenc_str(o, &s.as_bytes()),
                    Cell::Int(k) => put_int_text(o, *k),
                }
            }
        });
        if enc.over_budget() {
            return Err(ANSWER_TOO_LARGE.to_string());
        }
    }
    Ok(())
}

/// A resultset cell on its way to the wire.
enum Cell {
    Null,
    Str(mlua::String),
    /// An integral number: written as digits straight into the packet, which
    /// is what Lua 5.1's `tostring` ("%.14g") prints for integers below 1e14,
    /// without creating (and interning) a Lua string per cell.
    Int(i64),
}

/// Appends `k` in decimal as a length-encoded string.
fn put_int_text(o: &mut Vec<u8>, k: i64) {
    let mut digits = [0u8; 20];
    let mut pos = digits.len();
    let mut u = k.unsigned_abs();
    loop {
        pos -= 1;
        digits[pos] = b'0' + (u % 10) as u8;
        u /= 10;
        if u == 0 {
            break;
        }
    }
    let neg = usize::from(k < 0);
    o.push((digits.len() - pos + neg) as u8); // at most 20 bytes: a 1-byte length
    if k < 0 {
        o.push(b'-');
    }
    o.extend_from_slice(&digits[pos..]);
}

#[cfg(test)]
mod tests {
    use super::put_int_text;

    #[test]
    fn integers_print_as_lua_does() {
        for (k, want) in [
            (0i64, "0"),
            (7, "7"),
            (-1, "-1"),
            (99_999_999_999_999, "99999999999999"),
            (i64::MIN, "-9223372036854775808"),
        ] {
            let mut o = Vec::new();
            put_int_text(&mut o, k);
            assert_eq!(o[0] as usize, want.len());
            assert_eq!(&o[1..], want.as_bytes());
        }
    }
}
