//! The Lua module's SQL tokenizer (`responder::lua::tokenizer::tokenize`,
//! MySQL Proxy's token rules in Rust), and, for inputs whose first byte is
//! odd, the `proxy.tokenizer` helpers scripts call on its output
//! (`normalize`, `tokens_to_query`, `bare_tokens`, ...) in one LuaJIT state.
//!
//! Checks: no panic; every token stands for at least one byte of the query
//! and a borrowed token text lies inside it, so the token list is never
//! larger than the query; the tokenizer is deterministic; the helpers'
//! strings grow at most linearly with the query.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mlua::{Function, Lua, Table};
use std::borrow::Cow;
use understudy::responder::lua::tokenizer::{self, lua as tlua, word_id};

thread_local! {
    /// One Lua state for the run: `proxy.tokenizer` loaded on top of
    /// `mysql.tokenizer`, as a script's `require` would.
    static LUA: (Lua, Table) = {
        let lua = Lua::new();
        let preload: Table = lua
            .globals()
            .get::<Table>("package")
            .and_then(|p| p.get("preload"))
            .expect("package.preload");
        preload
            .set(
                "mysql.tokenizer",
                lua.create_function(|lua, ()| tlua::mysql_tokenizer(lua)).expect("fn"),
            )
            .expect("preload");
        let m = tlua::proxy_tokenizer(&lua).expect("proxy.tokenizer loads");
        (lua, m)
    };
}

fn helpers(query: &[u8]) {
    LUA.with(|(lua, m)| {
        let q = lua.create_string(query).expect("string");
        let tokenize: Function = m.get("tokenize").expect("tokenize");
        let tokens: Table = tokenize.call(q).expect("tokenize never fails");
        let bound = 8 * query.len() + 16;
        for name in ["normalize", "tokens_to_query"] {
            let f: Function = m.get(name).expect(name);
            let s: mlua::String = f.call(&tokens).expect(name);
            assert!(s.as_bytes().len() <= bound, "{name} grew past {bound}");
        }
        for name in ["bare_tokens", "tokens_without_comments"] {
            let f: Function = m.get(name).expect(name);
            let t: Table = f.call((&tokens, true)).expect(name);
            assert!(t.raw_len() <= query.len());
        }
        let f: Function = m.get("first_stmt_token").expect("first_stmt_token");
        let _: mlua::Value = f.call(&tokens).expect("first_stmt_token");
    });
}

fuzz_target!(|data: &[u8]| {
    let tokens = tokenizer::tokenize(data);
    assert!(tokens.len() <= data.len(), "more tokens than bytes");
    let mut text_total = 0;
    let (lo, hi) = (data.as_ptr() as usize, data.as_ptr() as usize + data.len());
    for t in &tokens {
        assert!(!t.name().is_empty());
        text_total += t.text.len();
        if let Cow::Borrowed(b) = &t.text {
            let p = b.as_ptr() as usize;
            assert!(b.is_empty() || (p >= lo && p + b.len() <= hi));
        }
    }
    assert!(
        text_total <= data.len(),
        "token texts longer than the query"
    );
    assert_eq!(tokenizer::tokenize(data), tokens, "deterministic");
    let _ = word_id(data);
    if data.first().is_some_and(|b| b & 1 == 1) {
        helpers(data);
    }
});
