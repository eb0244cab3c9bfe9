//! Lua 5.1 source that LuaJIT's parser refuses.
//!
//! MySQL Proxy embedded PUC Lua 5.1, whose lexer reads an unknown escape in a
//! string literal as the character itself (`"\."` is `"."`, `"\%"` is `"%"`),
//! a leniency scripts of that era relied on (`"^(%d+)\.(%d+)"`). LuaJIT rejects
//! it: "invalid escape sequence". When a script fails to compile for that
//! reason, understudy rewrites exactly those escapes the way Lua 5.1 read them
//! and compiles again; nothing else in the source changes.

/// Escapes LuaJIT accepts after a backslash in a short string.
fn is_luajit_escape(c: u8) -> bool {
    matches!(
        c,
        b'a' | b'b'
            | b'f'
            | b'n'
            | b'r'
            | b't'
            | b'v'
            | b'\\'
            | b'"'
            | b'\''
            | b'\n'
            | b'\r'
            | b'x'
            | b'z'
            | b'u'
            | b'0'..=b'9'
    )
}

/// The level of a long bracket opening at `s[i]` (`[[` is 0, `[==[` is 2).
fn long_bracket(s: &[u8], i: usize) -> Option<usize> {
    if s.get(i) != Some(&b'[') {
        return None;
    }
    let eqs = s[i + 1..].iter().take_while(|&&c| c == b'=').count();
    (s.get(i + 1 + eqs) == Some(&b'[')).then_some(eqs)
}

/// Index just past the long bracket closing `level` that starts at or after `i`.
fn skip_long(s: &[u8], mut i: usize, level: usize) -> usize {
    while i < s.len() {
        if s[i] == b']' {
            let eqs = s[i + 1..].iter().take_while(|&&c| c == b'=').count();
            if eqs == level && s.get(i + 1 + eqs) == Some(&b']') {
                return i + eqs + 2;
            }
        }
        i += 1;
    }
    s.len()
}

/// `source` with every escape LuaJIT refuses in a short string literal
/// replaced by the character Lua 5.1 read; None if there is none.
pub fn rewrite_escapes(source: &[u8]) -> Option<Vec<u8>> {
    let s = source;
    let mut out = Vec::with_capacity(s.len());
    let mut changed = false;
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        if c == b'-' && s.get(i + 1) == Some(&b'-') {
            // a comment: long, or to the end of the line
            let end = match long_bracket(s, i + 2) {
                Some(level) => skip_long(s, i + 2 + level + 2, level),
                None => s[i..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(s.len(), |p| i + p),
            };
            out.extend_from_slice(&s[i..end]);
            i = end;
        } else if let Some(level) = long_bracket(s, i) {
            let end = skip_long(s, i + level + 2, level);
            out.extend_from_slice(&s[i..end]);
            i = end;
        } else if c == b'"' || c == b'\'' {
            out.push(c);
            i += 1;
            while i < s.len() && s[i] != c && s[i] != b'\n' {
                if s[i] == b'\\' && i + 1 < s.len() {
                    let e = s[i + 1];
                    if !is_luajit_escape(e) {
                        changed = true;
                    } else {
                        out.push(b'\\');
                    }
                    out.push(e);
                    i += 2;
                } else {
                    out.push(s[i]);
                    i += 1;
                }
            }
            if i < s.len() {
                out.push(s[i]);
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    changed.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::rewrite_escapes;

    fn rw(s: &str) -> Option<String> {
        rewrite_escapes(s.as_bytes()).map(|v| String::from_utf8(v).expect("utf-8"))
    }

    #[test]
    fn unknown_escapes_become_the_character() {
        assert_eq!(
            rw(r#"local v = "^(%d+)\.(%d+)""#).as_deref(),
            Some(r#"local v = "^(%d+).(%d+)""#)
        );
        assert_eq!(rw(r"x = '\%' .. '\['").as_deref(), Some(r"x = '%' .. '['"));
    }

    #[test]
    fn valid_escapes_comments_and_long_strings_stay() {
        assert_eq!(rw(r#"a = "\n\t\\\"\065\'" "#), None);
        assert_eq!(rw("-- a comment with \\. in it\nb = 1"), None);
        assert_eq!(rw("--[==[ \\. ]==] c = [[ \\. ]] d = [=[ \\. ]=]"), None);
        // an escaped quote does not end the string
        assert_eq!(rw(r#"e = "\"\." "#).as_deref(), Some(r#"e = "\"." "#));
    }
}
