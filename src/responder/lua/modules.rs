//! The Lua modules of MySQL Proxy a backend-less script may `require`:
//! `mysql.proto` (packet encoders/decoders, with MySQL Proxy's field names),
//! `mysql.password` (the mysql_native_password scramble helpers), and
//! `mysql.tokenizer` / `proxy.tokenizer` (the SQL tokenizer, see [`super::tokenizer`]),
//! and `chassis` (logging, see [`super::chassis`]).
//!
//! Encoders produce payloads without the 4-byte header, as MySQL Proxy's did:
//! they are meant for `proxy.response.packets`.

use super::tokenizer;
use crate::protocol::consts::{cap, coltype, status};
use crate::protocol::handshake::{HandshakeResponse41, HandshakeV10};
use crate::protocol::response::{decode_err, decode_ok, encode_eof, ErrPacket, OkPacket};
use crate::protocol::wire::Reader;
use mlua::{Lua, Table, Value};
use sha1::{Digest, Sha1};

/// Registers `mysql.proto`, `mysql.password`, `mysql.tokenizer`,
/// `proxy.tokenizer` and `chassis` in `package.preload`.
pub fn install(lua: &Lua) -> mlua::Result<()> {
    let preload: Table = lua.globals().get::<Table>("package")?.get("preload")?;
    preload.set("mysql.proto", lua.create_function(|lua, ()| proto(lua))?)?;
    preload.set(
        "mysql.password",
        lua.create_function(|lua, ()| password(lua))?,
    )?;
    preload.set(
        "mysql.tokenizer",
        lua.create_function(|lua, ()| tokenizer::lua::mysql_tokenizer(lua))?,
    )?;
    preload.set(
        "proxy.tokenizer",
        lua.create_function(|lua, ()| tokenizer::lua::proxy_tokenizer(lua))?,
    )?;
    preload.set(
        "chassis",
        lua.create_function(|lua, ()| super::chassis::module(lua))?,
    )?;
    Ok(())
}

fn bad(what: &str, e: impl std::fmt::Display) -> mlua::Error {
    mlua::Error::RuntimeError(format!("{what}: {e}"))
}

fn get_int(t: &Table, k: &str, default: i64) -> mlua::Result<i64> {
    Ok(match t.get::<Value>(k)? {
        Value::Integer(i) => i,
        Value::Number(n) => n as i64,
        _ => default,
    })
}

fn get_bytes(t: &Table, k: &str) -> mlua::Result<Vec<u8>> {
    Ok(match t.get::<Value>(k)? {
        Value::String(s) => s.as_bytes().to_vec(),
        Value::Integer(i) => i.to_string().into_bytes(),
        Value::Number(n) => n.to_string().into_bytes(),
        _ => Vec::new(),
    })
}

/// "5.0.45" -> 50045, as MySQL Proxy reports `server_version`.
pub(crate) fn version_number(v: &[u8]) -> i64 {
    let s = String::from_utf8_lossy(v);
    let mut parts = s
        .split(|c: char| !c.is_ascii_digit())
        .filter(|p| !p.is_empty());
    let mut n = 0;
    for scale in [10_000, 100, 1] {
        n += parts
            .next()
            .and_then(|p| p.parse::<i64>().ok())
            .unwrap_or(0)
            * scale;
    }
    n
}

fn proto(lua: &Lua) -> mlua::Result<Table> {
    let m = lua.create_table()?;

    m.set(
        "from_err_packet",
        lua.create_function(|lua, p: mlua::String| {
            let b = p.as_bytes();
            let e = decode_err(&b).map_err(|e| bad("from_err_packet", e))?;
            let t = lua.create_table()?;
            t.set("errcode", e.code)?;
            t.set("sqlstate", lua.create_string(e.sqlstate)?)?;
            t.set("errmsg", lua.create_string(e.message)?)?;
            Ok(t)
        })?,
    )?;
    m.set(
        "to_err_packet",
        lua.create_function(|lua, t: Table| {
            let msg = get_bytes(&t, "errmsg")?;
            let state = get_bytes(&t, "sqlstate")?;
            let state = if state.is_empty() {
                b"07000".to_vec()
            } else {
                state
            };
            let e = ErrPacket::new(
                get_int(&t, "errcode", 1105)? as u16,
                &String::from_utf8_lossy(&state),
                &msg,
            );
            let mut out = Vec::new();
            e.encode(&mut out, cap::PROTOCOL_41);
            lua.create_string(out)
        })?,
    )?;
    m.set(
        "from_ok_packet",
        lua.create_function(|lua, p: mlua::String| {
            let b = p.as_bytes();
            let ok = decode_ok(&b).map_err(|e| bad("from_ok_packet", e))?;
            let t = lua.create_table()?;
            t.set("affected_rows", ok.affected_rows)?;
            t.set("insert_id", ok.last_insert_id)?;
            t.set("server_status", ok.status)?;
            t.set("warnings", ok.warnings)?;
            t.set("message", lua.create_string(ok.info)?)?;
            Ok(t)
        })?,
    )?;
    m.set(
        "to_ok_packet",
        lua.create_function(|lua, t: Table| {
            let info = get_bytes(&t, "message")?;
            let ok = OkPacket {
                affected_rows: get_int(&t, "affected_rows", 0)? as u64,
                last_insert_id: get_int(&t, "insert_id", 0)? as u64,
                status: get_int(&t, "server_status", i64::from(status::AUTOCOMMIT))? as u16,
                warnings: get_int(&t, "warnings", 0)? as u16,
                info: &info,
            };
            let mut out = Vec::new();
            ok.encode(&mut out, 0);
            lua.create_string(out)
        })?,
    )?;
    m.set(
        "from_eof_packet",
        lua.create_function(|lua, p: mlua::String| {
            let b = p.as_bytes();
            let mut r = Reader::new(&b);
            if r.u8("eof header").map_err(|e| bad("from_eof_packet", e))? != 0xfe {
                return Err(bad("from_eof_packet", "not an EOF packet"));
            }
            let t = lua.create_table()?;
            t.set("warnings", r.u16("warnings").unwrap_or(0))?;
            t.set("server_status", r.u16("status").unwrap_or(0))?;
            Ok(t)
        })?,
    )?;
    m.set(
        "to_eof_packet",
        lua.create_function(|lua, t: Table| {
            let mut out = Vec::new();
            encode_eof(
                &mut out,
                get_int(&t, "warnings", 0)? as u16,
                get_int(&t, "server_status", i64::from(status::AUTOCOMMIT))? as u16,
            );
            lua.create_string(out)
        })?,
    )?;
    m.set(
        "from_challenge_packet",
        lua.create_function(|lua, p: mlua::String| {
            let b = p.as_bytes();
            let g = HandshakeV10::decode(&b).map_err(|e| bad("from_challenge_packet", e))?;
            let t = lua.create_table()?;
            t.set("protocol_version", 10)?;
            t.set("server_version", version_number(&g.server_version))?;
            t.set("thread_id", g.connection_id)?;
            t.set("challenge", lua.create_string(&g.nonce)?)?;
            t.set("capabilities", g.capabilities)?;
            t.set("charset", g.charset)?;
            t.set("server_status", g.status)?;
            t.set("auth_plugin_name", lua.create_string(&g.auth_plugin)?)?;
            Ok(t)
        })?,
    )?;
    m.set(
        "to_challenge_packet",
        lua.create_function(|lua, t: Table| {
            // MySQL Proxy's defaults: version "5.0.99" unless a number in range
            // is given (printed "%d.%02d.%02d", so 50114 is "5.01.14"), thread id
            // 0, PROTOCOL_41|SECURE_CONNECTION, charset 0, status 0, and the
            // challenge "01234567" + "890123456789".
            let v = get_int(&t, "server_version", 0)?;
            let version = if v > 30_000 && v < 100_000 {
                format!("{}.{:02}.{:02}", v / 10_000, v % 10_000 / 100, v % 100).into_bytes()
            } else {
                b"5.0.99".to_vec()
            };
            let mut nonce = get_bytes(&t, "challenge")?;
            if nonce.is_empty() {
                nonce = b"01234567890123456789".to_vec();
            }
            let caps = get_int(
                &t,
                "capabilities",
                i64::from(cap::PROTOCOL_41 | cap::SECURE_CONNECTION),
            )? as u32;
            let g = HandshakeV10 {
                server_version: version,
                connection_id: get_int(&t, "thread_id", 0)? as u32,
                nonce,
                capabilities: caps,
                charset: get_int(&t, "charset", 0)? as u8,
                status: get_int(&t, "server_status", 0)? as u16,
                auth_plugin: get_bytes(&t, "auth_plugin_name")?,
            };
            let mut out = Vec::new();
            g.encode(&mut out);
            lua.create_string(out)
        })?,
    )?;
    m.set(
        "from_response_packet",
        lua.create_function(|lua, p: mlua::String| {
            let b = p.as_bytes();
            let r = HandshakeResponse41::decode(&b).map_err(|e| bad("from_response_packet", e))?;
            let t = lua.create_table()?;
            t.set("capabilities", r.capabilities)?;
            t.set("server_capabilities", r.capabilities)?;
            t.set("max_packet_size", r.max_packet)?;
            t.set("charset", r.charset)?;
            t.set("username", lua.create_string(&r.username)?)?;
            t.set("response", lua.create_string(&r.auth_response)?)?;
            t.set(
                "database",
                lua.create_string(r.database.unwrap_or_default())?,
            )?;
            t.set(
                "auth_plugin_name",
                lua.create_string(r.auth_plugin.unwrap_or_default())?,
            )?;
            Ok(t)
        })?,
    )?;
    m.set(
        "to_response_packet",
        lua.create_function(|lua, t: Table| {
            let db = get_bytes(&t, "database")?;
            let mut caps = get_int(
                &t,
                "capabilities",
                i64::from(
                    cap::LONG_PASSWORD
                        | cap::LONG_FLAG
                        | cap::PROTOCOL_41
                        | cap::TRANSACTIONS
                        | cap::SECURE_CONNECTION,
                ),
            )? as u32;
            if !db.is_empty() {
                caps |= cap::CONNECT_WITH_DB;
            }
            let plugin = get_bytes(&t, "auth_plugin_name")?;
            let r = HandshakeResponse41 {
                capabilities: caps,
                max_packet: get_int(&t, "max_packet_size", 16 << 20)? as u32,
                charset: get_int(&t, "charset", 8)? as u8,
                username: get_bytes(&t, "username")?,
                auth_response: get_bytes(&t, "response")?,
                database: (!db.is_empty()).then_some(db),
                auth_plugin: (!plugin.is_empty()).then_some(plugin),
                attributes: Vec::new(),
                zstd_level: None,
            };
            let mut out = Vec::new();
            r.encode(&mut out);
            lua.create_string(out)
        })?,
    )?;
    m.set(
        "from_stmt_prepare_packet",
        lua.create_function(|lua, p: mlua::String| {
            let b = p.as_bytes();
            if b.first() != Some(&0x16) {
                return Err(bad(
                    "from_stmt_prepare_packet",
                    "not a COM_STMT_PREPARE packet",
                ));
            }
            let t = lua.create_table()?;
            t.set("stmt_text", lua.create_string(&b[1..])?)?;
            Ok(t)
        })?,
    )?;
    m.set(
        "from_stmt_close_packet",
        lua.create_function(|lua, p: mlua::String| {
            let b = p.as_bytes();
            let mut r = Reader::new(&b);
            if r.u8("command")
                .map_err(|e| bad("from_stmt_close_packet", e))?
                != 0x19
            {
                return Err(bad("from_stmt_close_packet", "not a COM_STMT_CLOSE packet"));
            }
            let t = lua.create_table()?;
            t.set(
                "stmt_id",
                r.u32("stmt_id")
                    .map_err(|e| bad("from_stmt_close_packet", e))?,
            )?;
            Ok(t)
        })?,
    )?;
    let stmt_id = lua.create_function(|_, p: mlua::String| {
        let b = p.as_bytes();
        let mut r = Reader::new(&b);
        r.skip(1, "command")
            .map_err(|e| bad("stmt_id_from_stmt_execute_packet", e))?;
        r.u32("stmt_id")
            .map_err(|e| bad("stmt_id_from_stmt_execute_packet", e))
    })?;
    m.set("stmt_id_from_stmt_execute_packet", stmt_id.clone())?;
    m.set("from_stmt_execute_packet_stmt_id", stmt_id)?;
    m.set(
        "from_stmt_prepare_ok_packet",
        lua.create_function(|lua, p: mlua::String| {
            let b = p.as_bytes();
            let mut r = Reader::new(&b);
            let e = |e| bad("from_stmt_prepare_ok_packet", e);
            if r.u8("status").map_err(e)? != 0 {
                return Err(bad(
                    "from_stmt_prepare_ok_packet",
                    "not a COM_STMT_PREPARE OK packet",
                ));
            }
            let t = lua.create_table()?;
            t.set("stmt_id", r.u32("stmt_id").map_err(e)?)?;
            t.set("num_columns", r.u16("num_columns").map_err(e)?)?;
            t.set("num_params", r.u16("num_params").map_err(e)?)?;
            r.skip(1, "filler").map_err(e)?;
            t.set("warnings", r.u16("warnings").unwrap_or(0))?;
            Ok(t)
        })?,
    )?;
    m.set(
        "to_stmt_prepare_ok_packet",
        lua.create_function(|lua, t: Table| {
            let ok = crate::protocol::binary::PrepareOk {
                statement_id: get_int(&t, "stmt_id", 0)? as u32,
                columns: get_int(&t, "num_columns", 0)? as u16,
                params: get_int(&t, "num_params", 0)? as u16,
                warnings: get_int(&t, "warnings", 0)? as u16,
            };
            let mut out = Vec::new();
            ok.encode(&mut out);
            lua.create_string(out)
        })?,
    )?;
    m.set(
        "to_field_packet",
        lua.create_function(|lua, f: Table| {
            let c = super::response::field_def(lua, &f).map_err(|e| bad("to_field_packet", e))?;
            let mut out = Vec::new();
            c.encode(&mut out, false);
            lua.create_string(out)
        })?,
    )?;
    m.set(
        "to_binary_row_packet",
        lua.create_function(|lua, (fields, row): (Table, Table)| {
            let out = binary_row(lua, &fields, &row).map_err(|e| bad("to_binary_row_packet", e))?;
            lua.create_string(out)
        })?,
    )?;
    m.set(
        "from_stmt_execute_packet",
        lua.create_function(|lua, (p, nparams): (mlua::String, Option<usize>)| {
            let b = p.as_bytes();
            stmt_execute(lua, &b, nparams.unwrap_or(0))
                .map_err(|e| bad("from_stmt_execute_packet", e))
        })?,
    )?;
    Ok(m)
}

/// Decodes COM_STMT_EXECUTE with `n` parameters: `stmt_id`, `flags`,
/// `iteration_count`, `new_params_bound`, `params = { {type=, unsigned=,
/// value=}, ... }` (with the protocol's decoder; types not sent in this
/// packet are taken as strings).
fn stmt_execute(lua: &Lua, b: &[u8], n: usize) -> Result<Table, String> {
    use crate::protocol::binary::{decode_execute, ParamType};
    let body = match b.split_first() {
        Some((0x17, body)) => body,
        _ => return Err("not a COM_STMT_EXECUTE packet".into()),
    };
    let strings = vec![ParamType::of(coltype::VAR_STRING); n];
    let ex = decode_execute(body, n, &strings, &[]).map_err(|e| e.to_string())?;
    let le = |e: mlua::Error| e.to_string();
    let t = lua.create_table().map_err(le)?;
    t.set("stmt_id", ex.statement_id).map_err(le)?;
    t.set("flags", ex.flags).map_err(le)?;
    t.set("iteration_count", ex.iterations).map_err(le)?;
    if n == 0 {
        return Ok(t);
    }
    t.set("new_params_bound", ex.new_types.is_some())
        .map_err(le)?;
    let types = ex.new_types.as_deref().unwrap_or(&strings);
    let params = lua.create_table().map_err(le)?;
    for (i, v) in ex.values.iter().enumerate() {
        let p = lua.create_table().map_err(le)?;
        let ty = types.get(i).copied().unwrap_or_default();
        p.set("type", ty.coltype).map_err(le)?;
        p.set("unsigned", ty.unsigned).map_err(le)?;
        p.set("value", super::api::bin_value(lua, v).map_err(le)?)
            .map_err(le)?;
        params.raw_set(i + 1, p).map_err(le)?;
    }
    t.set("params", params).map_err(le)?;
    Ok(t)
}

/// A binary resultset row for `fields` (their `type` and `flags`'
/// UNSIGNED bit decide each cell's encoding) from `row` (strings, numbers,
/// nil for NULL); an error names a cell that does not fit its type.
fn binary_row(lua: &Lua, fields: &Table, row: &Table) -> Result<Vec<u8>, String> {
    use crate::protocol::binary::{BinValue, BinaryRow, ParamType};
    let n = fields.raw_len();
    let mut out = Vec::new();
    let mut r = BinaryRow::begin(&mut out, n);
    for i in 1..=n {
        let f: Table = fields.raw_get(i).map_err(|e| e.to_string())?;
        let c = super::response::field_def(lua, &f)?;
        let col = ParamType {
            coltype: c.coltype,
            unsigned: c.flags & crate::protocol::consts::colflag::UNSIGNED != 0,
        };
        let v: Value = row.raw_get(i).map_err(|e| e.to_string())?;
        let bytes;
        let value = match &v {
            Value::Nil => BinValue::Null,
            Value::Integer(k) => BinValue::Int(*k),
            Value::Number(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => BinValue::Int(*x as i64),
            Value::Number(x) => BinValue::Double(*x),
            Value::String(s) => {
                bytes = s.as_bytes().to_vec();
                BinValue::Bytes(&bytes)
            }
            other => return Err(format!("cell {i} is a {}", other.type_name())),
        };
        r.value(col, &value)
            .map_err(|m| format!("cell {i}: {}", m.why))?;
    }
    Ok(out)
}

fn sha1(parts: &[&[u8]]) -> Vec<u8> {
    let mut h = Sha1::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().to_vec()
}

fn xor(a: &[u8], b: &[u8]) -> Vec<u8> {
    a.iter().zip(b).map(|(x, y)| x ^ y).collect()
}

fn password(lua: &Lua) -> mlua::Result<Table> {
    let m = lua.create_table()?;
    // hash(password) = SHA1(password): what the client XORs into its scramble
    m.set(
        "hash",
        lua.create_function(|lua, pw: mlua::String| lua.create_string(sha1(&[&pw.as_bytes()])))?,
    )?;
    // scramble(challenge, hashed) = hashed XOR SHA1(challenge ++ SHA1(hashed))
    m.set(
        "scramble",
        lua.create_function(|lua, (challenge, hashed): (mlua::String, mlua::String)| {
            let h = hashed.as_bytes();
            let token = sha1(&[&challenge.as_bytes(), &sha1(&[&h])]);
            lua.create_string(xor(&h, &token))
        })?,
    )?;
    // unscramble(challenge, response, double_hashed) = response XOR SHA1(challenge ++ double_hashed)
    m.set(
        "unscramble",
        lua.create_function(
            |lua, (challenge, response, dbl): (mlua::String, mlua::String, mlua::String)| {
                let token = sha1(&[&challenge.as_bytes(), &dbl.as_bytes()]);
                lua.create_string(xor(&response.as_bytes(), &token))
            },
        )?,
    )?;
    // check(challenge, response, double_hashed): SHA1(unscramble(...)) == double_hashed
    m.set(
        "check",
        lua.create_function(
            |_, (challenge, response, dbl): (mlua::String, mlua::String, mlua::String)| {
                let d = dbl.as_bytes();
                let token = sha1(&[&challenge.as_bytes(), &d]);
                let hashed = xor(&response.as_bytes(), &token);
                Ok(response.as_bytes().len() == 20 && sha1(&[&hashed]) == *d)
            },
        )?,
    )?;
    Ok(m)
}
