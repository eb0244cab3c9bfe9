//! The Lua side: `mysql.tokenizer` (the tokenizer itself, in Rust) and
//! `proxy.tokenizer` (the helpers, a Lua module of ours embedded in the binary).

use super::tokenize;
use mlua::{Lua, Table, Value};

/// `proxy.tokenizer`'s source: plain Lua, since its helpers take any list of
/// tokens (a script may hand them tables it built, or a list of strings).
const PROXY_TOKENIZER: &str = include_str!("proxy_tokenizer.lua");

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
    let tokens = tokenize(&bytes);
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
