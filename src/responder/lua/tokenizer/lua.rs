//! The Lua side: `mysql.tokenizer` (the tokenizer itself, in Rust) and
//! `proxy.tokenizer` (the helpers, a Lua module of ours embedded in the binary).

use super::tokenize_at_most;
use mlua::{Lua, Table, Value};

/// `proxy.tokenizer`'s source: plain Lua, since its helpers take any list of
/// tokens (a script may hand them tables it built, or a list of strings).
const PROXY_TOKENIZER: &str = include_str!("proxy_tokenizer.lua");

/// Most tokens `tokenize` hands a script. Each becomes a Lua table of about
/// 250 bytes, and the query is the client's: without a bound a 64 MiB query
/// of `1,1,1,…` would make gigabytes of Lua tables (the script's time budget
/// is not checked inside this Rust function). A million tokens (about 250 MB
/// at most) is far beyond any statement a script wants to look at.
pub const MAX_SCRIPT_TOKENS: usize = 1 << 20;

/// The `mysql.tokenizer` module: `tokenize(query)`, MySQL Proxy's only function.
pub fn mysql_tokenizer(lua: &Lua) -> mlua::Result<Table> {
    let m = lua.create_table()?;
    m.set("tokenize", lua.create_function(tokenize_query)?)?;
    m.set(
        "_DESCRIPTION",
        "a simple tokenizer for mysql.* (understudy)",
    )?;
    m.set("_VERSION", "LuaMySQLTokenizer 0.1")?;
    Ok(m)
}

/// The `proxy.tokenizer` module, loaded from the embedded source.
pub fn proxy_tokenizer(lua: &Lua) -> mlua::Result<Table> {
    lua.load(PROXY_TOKENIZER)
        .set_name("=proxy.tokenizer")
        .call(())
}

/// `tokenize(query)`: an array of `{ token_id =, token_name =, text = }`.
///
/// MySQL Proxy handed out a userdata that behaves like this array for
/// `#tokens`, `tokens[i]` and `tokens[i] = nil`; a plain table does all of
/// that and also works with `ipairs`, `table.*` and `type() == "table"`.
fn tokenize_query(lua: &Lua, query: Value) -> mlua::Result<Table> {
    let query = match query {
        Value::String(s) => s,
        v @ (Value::Integer(_) | Value::Number(_)) => lua
            .coerce_string(v)?
            .ok_or_else(|| bad_argument("a number that has no text"))?,
        other => return Err(bad_argument(other.type_name())),
    };
    let bytes = query.as_bytes();
    let Some(tokens) = tokenize_at_most(&bytes, MAX_SCRIPT_TOKENS) else {
        return Err(mlua::Error::RuntimeError(format!(
            "tokenize: the query has more than {MAX_SCRIPT_TOKENS} tokens"
        )));
    };
    let list = lua.create_table_with_capacity(tokens.len(), 0)?;
    let (k_id, k_name, k_text) = (
        lua.create_string("token_id")?,
        lua.create_string("token_name")?,
        lua.create_string("text")?,
    );
    for (i, t) in tokens.iter().enumerate() {
        let entry = lua.create_table_with_capacity(0, 3)?;
        entry.raw_set(&k_id, t.id.0)?;
        entry.raw_set(&k_name, t.name())?;
        entry.raw_set(&k_text, lua.create_string(&t.text)?)?;
        list.raw_set(i + 1, entry)?;
    }
    Ok(list)
}

fn bad_argument(got: &str) -> mlua::Error {
    mlua::Error::RuntimeError(format!(
        "bad argument #1 to 'tokenize' (string expected, got {got})"
    ))
}
