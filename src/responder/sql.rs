//! Just enough SQL lexing for the built-in answers: split a multi-statement
//! query, and cut one statement into tokens. This is not a parser: the built-in
//! answers recognise a small, documented set of statement shapes and nothing else.

use std::borrow::Cow;

/// A token, with its byte span in the statement (for column names "as written").
#[derive(Debug, Clone, PartialEq)]
pub struct Token<'a> {
    /// What it is.
    pub kind: Tok<'a>,
    /// Byte offset of the first character.
    pub start: usize,
    /// Byte offset after the last character.
    pub end: usize,
}

/// Token kinds.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok<'a> {
    /// A bare word: keyword, identifier or function name.
    Word(&'a str),
    /// A `backtick-quoted` identifier, unquoted.
    Ident(Cow<'a, str>),
    /// A number as written (`1`, `-` is a separate punctuation token).
    Number(&'a str),
    /// A quoted string literal, unescaped.
    Str(Cow<'a, str>),
    /// `@@name`, `@@session.name`, `@@global.name`: (scope, name).
    SysVar(Option<&'a str>, &'a str),
    /// `@name`.
    UserVar(&'a str),
    /// Any other single character (`,`, `(`, `=`, ...); `:=` is reported as `=`.
    Punct(u8),
}

impl Tok<'_> {
    /// True for a bare word equal to `kw`, ignoring case.
    pub fn is(&self, kw: &str) -> bool {
        matches!(self, Tok::Word(w) if w.eq_ignore_ascii_case(kw))
    }
}

/// Splits a query at top-level `;` (outside quotes and comments). Empty
/// statements (e.g. after a final `;`) are dropped; each statement is trimmed.
pub fn split_statements(sql: &str) -> Vec<&str> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\'' | b'"' | b'`' => i = skip_quoted(b, i),
            b'-' if b.get(i + 1) == Some(&b'-')
                && b.get(i + 2).is_none_or(|c| c.is_ascii_whitespace()) =>
            {
                i = skip_line(b, i)
            }
            b'#' => i = skip_line(b, i),
            b'/' if b.get(i + 1) == Some(&b'*') => i = skip_block(b, i),
            b';' => {
                push_trimmed(&mut out, &sql[start..i]);
                i += 1;
                start = i;
            }
            _ => i += 1,
        }
    }
    push_trimmed(&mut out, &sql[start.min(sql.len())..]);
    out
}

/// The statement that starts at or after byte `from` of a multi-statement
/// query, cut at the next top-level `;` (outside quotes and comments) and
/// trimmed, with the offset where the search for the one after it starts.
/// Empty statements and ones that are only comments are skipped; `None` when
/// no statement is left. Each call reads only up to the end of the statement it
/// returns (and works on bytes, so nothing re-validates the rest of the text),
/// so answering a list one statement at a time is linear in its length.
pub fn next_statement(b: &[u8], from: usize) -> Option<(&[u8], usize)> {
    let mut start = from.min(b.len());
    let mut i = start;
    loop {
        let end = loop {
            match b.get(i) {
                None => break b.len(),
                Some(b'\'' | b'"' | b'`') => i = skip_quoted(b, i),
                Some(b'-')
                    if b.get(i + 1) == Some(&b'-')
                        && b.get(i + 2).is_none_or(|c| c.is_ascii_whitespace()) =>
                {
                    i = skip_line(b, i)
                }
                Some(b'#') => i = skip_line(b, i),
                Some(b'/') if b.get(i + 1) == Some(&b'*') => i = skip_block(b, i),
                Some(b';') => break i,
                Some(_) => i += 1,
            }
        };
        let next = (end + 1).min(b.len());
        let t = b.get(start..end).unwrap_or_default().trim_ascii();
        let blank = t.is_empty() || std::str::from_utf8(t).is_ok_and(is_only_comments);
        if !blank {
            return Some((t, next));
        }
        if end >= b.len() {
            return None;
        }
        start = next;
        i = next;
    }
}

fn push_trimmed<'a>(out: &mut Vec<&'a str>, s: &'a str) {
    let t = s.trim();
    if !t.is_empty() && !is_only_comments(t) {
        out.push(t);
    }
}

fn is_only_comments(s: &str) -> bool {
    tokenize(s).is_ok_and(|t| t.is_empty())
}

/// Index after the closing quote of the quoted run starting at `i` (or the end).
pub(crate) fn skip_quoted(b: &[u8], i: usize) -> usize {
    let q = b[i];
    let mut j = i + 1;
    while j < b.len() {
        if b[j] == b'\\' && q != b'`' {
            j += 2;
            continue;
        }
        if b[j] == q {
            if b.get(j + 1) == Some(&q) {
                j += 2; // doubled quote
                continue;
            }
            return j + 1;
        }
        j += 1;
    }
    b.len()
}

pub(crate) fn skip_line(b: &[u8], i: usize) -> usize {
    b[i..]
        .iter()
        .position(|&c| c == b'\n')
        .map_or(b.len(), |p| i + p + 1)
}

pub(crate) fn skip_block(b: &[u8], i: usize) -> usize {
    let mut j = i + 2;
    while j + 1 < b.len() {
        if b[j] == b'*' && b[j + 1] == b'/' {
            return j + 2;
        }
        j += 1;
    }
    b.len()
}

/// Why a statement could not be cut into tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LexError;

/// Cuts a statement into tokens, dropping whitespace and comments. MySQL's
/// executable comments (`/*!40101 SET NAMES utf8 */`) count as their content.
pub fn tokenize(s: &str) -> Result<Vec<Token<'_>>, LexError> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        let kind = match c {
            _ if c.is_ascii_whitespace() => {
                i += 1;
                continue;
            }
            b'#' => {
                i = skip_line(b, i);
                continue;
            }
            b'-' if b.get(i + 1) == Some(&b'-')
                && b.get(i + 2).is_none_or(|c| c.is_ascii_whitespace()) =>
            {
                i = skip_line(b, i);
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                if b.get(i + 2) == Some(&b'!') {
                    // executable comment: skip "/*!" and a version number, keep the body
                    i += 3;
                    while i < b.len() && b[i].is_ascii_digit() {
                        i += 1;
                    }
                } else {
                    i = skip_block(b, i);
                }
                continue;
            }
            b'*' if b.get(i + 1) == Some(&b'/') => {
                // end of an executable comment
                i += 2;
                continue;
            }
            b'\'' | b'"' => {
                i = skip_quoted(b, i);
                if i > b.len() || b.get(i - 1) != Some(&c) || i - start < 2 {
                    return Err(LexError);
                }
                Tok::Str(unescape(&s[start + 1..i - 1], c))
            }
            b'`' => {
                i = skip_quoted(b, i);
                if b.get(i - 1) != Some(&b'`') || i - start < 2 {
                    return Err(LexError);
                }
                let inner = &s[start + 1..i - 1];
                Tok::Ident(if inner.contains("``") {
                    Cow::Owned(inner.replace("``", "`"))
                } else {
                    Cow::Borrowed(inner)
                })
            }
            b'@' => {
                if b.get(i + 1) == Some(&b'@') {
                    i += 2;
                    let w1 = take_word(b, &mut i);
                    let name1 = &s[start + 2..w1];
                    if b.get(i) == Some(&b'.') {
                        i += 1;
                        let w2s = i;
                        let w2 = take_word(b, &mut i);
                        Tok::SysVar(Some(name1), &s[w2s..w2])
                    } else {
                        Tok::SysVar(None, name1)
                    }
                } else {
                    i += 1;
                    let e = take_word(b, &mut i);
                    Tok::UserVar(&s[start + 1..e])
                }
            }
            b'0'..=b'9' => {
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.') {
                    i += 1;
                }
                Tok::Number(&s[start..i])
            }
            b'.' if b.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                i += 1;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                Tok::Number(&s[start..i])
            }
            _ if c.is_ascii_alphabetic() || c == b'_' || c == b'$' || c >= 0x80 => {
                let e = take_word(b, &mut i);
                Tok::Word(&s[start..e])
            }
            b':' if b.get(i + 1) == Some(&b'=') => {
                i += 2;
                Tok::Punct(b'=')
            }
            _ => {
                i += 1;
                Tok::Punct(c)
            }
        };
        out.push(Token {
            kind,
            start,
            end: i,
        });
    }
    Ok(out)
}

fn take_word(b: &[u8], i: &mut usize) -> usize {
    while *i < b.len()
        && (b[*i].is_ascii_alphanumeric() || b[*i] == b'_' || b[*i] == b'$' || b[*i] >= 0x80)
    {
        *i += 1;
    }
    *i
}

fn unescape(s: &str, quote: u8) -> Cow<'_, str> {
    if !s.contains('\\') && !s.contains(quote as char) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some('0') => out.push('\0'),
                Some('Z') => out.push('\x1a'),
                Some(other) => out.push(other),
                None => {}
            }
        } else if c as u32 == u32::from(quote) {
            // a doubled quote inside the literal
            out.push(c);
            chars.next();
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// SQL LIKE matching (`%` any run, `_` one character, `\` escapes), ignoring
/// ASCII case as MySQL's default collations do.
pub fn like(pattern: &str, s: &str) -> bool {
    fn rec(p: &[char], s: &[char]) -> bool {
        match p.split_first() {
            None => s.is_empty(),
            Some(('%', rest)) => (0..=s.len()).any(|k| rec(rest, &s[k..])),
            Some(('_', rest)) => !s.is_empty() && rec(rest, &s[1..]),
            Some(('\\', rest)) if !rest.is_empty() => {
                !s.is_empty() && s[0].eq_ignore_ascii_case(&rest[0]) && rec(&rest[1..], &s[1..])
            }
            Some((c, rest)) => !s.is_empty() && s[0].eq_ignore_ascii_case(c) && rec(rest, &s[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = s.chars().collect();
    rec(&p, &s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_outside_quotes_and_comments() {
        assert_eq!(
            split_statements("SELECT 1; SHOW DATABASES"),
            vec!["SELECT 1", "SHOW DATABASES"]
        );
        assert_eq!(
            split_statements("SELECT ';'; -- x;\n SELECT 2;"),
            vec!["SELECT ';'", "-- x;\n SELECT 2"]
        );
        assert_eq!(split_statements("select 1;  "), vec!["select 1"]);
        assert_eq!(
            split_statements("/* a; */ select `a;b`"),
            vec!["/* a; */ select `a;b`"]
        );
        assert!(split_statements(" ; ;").is_empty());
    }

    #[test]
    fn tokens_of_a_connector_j_query() {
        let t = tokenize("/* mysql-connector-j-8.0.33 */SELECT @@session.auto_increment_increment AS x, @@character_set_client").unwrap();
        let kinds: Vec<_> = t.iter().map(|t| t.kind.clone()).collect();
        assert_eq!(
            kinds,
            vec![
                Tok::Word("SELECT"),
                Tok::SysVar(Some("session"), "auto_increment_increment"),
                Tok::Word("AS"),
                Tok::Word("x"),
                Tok::Punct(b','),
                Tok::SysVar(None, "character_set_client"),
            ]
        );
    }

    #[test]
    fn strings_and_executable_comments() {
        let t = tokenize(r"/*!40101 SET NAMES utf8 */ 'it''s' 'a\'b' `x``y`").unwrap();
        let kinds: Vec<_> = t.iter().map(|t| t.kind.clone()).collect();
        assert_eq!(
            kinds,
            vec![
                Tok::Word("SET"),
                Tok::Word("NAMES"),
                Tok::Word("utf8"),
                Tok::Str("it's".into()),
                Tok::Str("a'b".into()),
                Tok::Ident("x`y".into()),
            ]
        );
        assert!(tokenize("'unterminated").is_err());
    }

    #[test]
    fn like_patterns() {
        assert!(like("char%", "character_set_client"));
        assert!(like("%_TIMEOUT", "wait_timeout"));
        assert!(like("version", "VERSION"));
        assert!(!like("version", "version_comment"));
        assert!(like("a\\_b", "a_b"));
        assert!(!like("a\\_b", "axb"));
    }
}
