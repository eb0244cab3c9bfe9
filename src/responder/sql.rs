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
    /// The rest of a statement longer than [`MAX_TOKENS`], not lexed: always
    /// the last token, and no statement shape accepts it.
    Rest(&'a str),
}

impl Tok<'_> {
    /// True for a bare word equal to `kw`, ignoring case.
    pub fn is(&self, kw: &str) -> bool {
        matches!(self, Tok::Word(w) if w.eq_ignore_ascii_case(kw))
    }
}

/// Splits a query at top-level `;` (outside quotes and comments). Empty
/// statements (e.g. after a final `;`) are dropped; each statement is trimmed.
/// [`Statements`] gives them one at a time.
pub fn split_statements(sql: &str) -> Vec<&str> {
    Statements::new(sql).collect()
}

/// The statements of a multi-statement query, one at a time, as
/// [`split_statements`] cuts them: no list of them is built (a query of
/// millions of `SELECT 1;` needs none), each byte is looked at once or twice
/// (the split, then the check for a comment-only statement), and
/// [`Statements::offset`] tells where to resume.
#[derive(Debug, Clone)]
pub struct Statements<'a> {
    sql: &'a str,
    pos: usize,
}

impl<'a> Statements<'a> {
    /// The statements of `sql`.
    pub fn new(sql: &'a str) -> Statements<'a> {
        Statements { sql, pos: 0 }
    }

    /// The statements of `sql` from byte `offset` on (a value
    /// [`Statements::offset`] returned).
    pub fn resume(sql: &'a str, offset: usize) -> Statements<'a> {
        Statements {
            sql,
            pos: offset.min(sql.len()),
        }
    }

    /// Byte offset of the text not split yet: after the `;` that ended the
    /// last statement returned.
    pub fn offset(&self) -> usize {
        self.pos
    }
}

impl<'a> Iterator for Statements<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let (t, next) = next_statement(self.sql.as_bytes(), self.pos)?;
        self.pos = next;
        // invariant: statements start and end at ASCII bytes (after a `;`,
        // trimmed of ASCII space), so they are on char boundaries
        std::str::from_utf8(t).ok()
    }
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

/// True when `s` has no token (whitespace and comments only); looks no further
/// than the first token.
fn is_only_comments(s: &str) -> bool {
    Lexer::new(s).next().is_none()
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

/// Most tokens [`tokenize`] cuts from one statement; the rest of a longer
/// statement becomes one [`Tok::Rest`]. A token costs 48 bytes, so this bounds
/// a statement's token list at 1.5 MiB whatever its size (a 64 MiB packet of
/// `1,` would otherwise take 1.5 GiB). 8 × 4096 leaves room for every statement
/// the built-in answers can carry out: a SELECT of 4096 items (MySQL's column
/// limit) of at most six tokens each (`f ( ) AS a ,`), a SET of 4096
/// assignments of five (`SESSION x = 1 ,`), a SHOW … WHERE list of thousands.
pub const MAX_TOKENS: usize = 8 * 4096;

/// Cuts a statement into tokens, dropping whitespace and comments. MySQL's
/// executable comments (`/*!40101 SET NAMES utf8 */`) count as their content.
/// After [`MAX_TOKENS`] tokens the rest of the statement is one [`Tok::Rest`]
/// (not lexed further, so an unterminated quote in it is no error): work and
/// memory stay bounded, and every consumer sees that the statement goes on.
pub fn tokenize(s: &str) -> Result<Vec<Token<'_>>, LexError> {
    let mut lexer = Lexer::new(s);
    let mut out = Vec::new();
    while let Some(t) = lexer.next() {
        out.push(t?);
        if out.len() == MAX_TOKENS {
            if let Some(rest) = lexer.rest() {
                out.push(rest);
            }
            break;
        }
    }
    Ok(out)
}

/// The tokens of a statement one at a time (what [`tokenize`] collects): a
/// caller that needs only the first tokens stops there, with no list built.
/// After an error it yields nothing more.
#[derive(Debug, Clone)]
pub struct Lexer<'a> {
    s: &'a str,
    i: usize,
}

impl<'a> Lexer<'a> {
    /// A lexer at the start of `s`.
    pub fn new(s: &'a str) -> Lexer<'a> {
        Lexer { s, i: 0 }
    }

    /// What is left after the tokens taken so far, as one [`Tok::Rest`]
    /// (`None` when only whitespace is left).
    fn rest(&self) -> Option<Token<'a>> {
        let rest = self.s.get(self.i..)?;
        let trimmed = rest.trim_start();
        if trimmed.is_empty() {
            return None;
        }
        let start = self.s.len() - trimmed.len();
        Some(Token {
            kind: Tok::Rest(trimmed),
            start,
            end: self.s.len(),
        })
    }
}

impl<'a> Iterator for Lexer<'a> {
    type Item = Result<Token<'a>, LexError>;

    fn next(&mut self) -> Option<Self::Item> {
        let s = self.s;
        let b = s.as_bytes();
        let mut i = self.i;
        while let Some(&c) = b.get(i) {
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
                        while b.get(i).is_some_and(u8::is_ascii_digit) {
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
                    if b.get(i - 1) != Some(&c) || i - start < 2 {
                        self.i = b.len();
                        return Some(Err(LexError));
                    }
                    Tok::Str(unescape(&s[start + 1..i - 1], c))
                }
                b'`' => {
                    i = skip_quoted(b, i);
                    if b.get(i - 1) != Some(&b'`') || i - start < 2 {
                        self.i = b.len();
                        return Some(Err(LexError));
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
                    while let Some(&c) = b.get(i) {
                        // an exponent's sign: 1e+300, 1.25E-7
                        let signed_exponent = (c == b'+' || c == b'-')
                            && matches!(b.get(i - 1), Some(b'e' | b'E'))
                            && b.get(i + 1).is_some_and(u8::is_ascii_digit)
                            && !s[start..i].contains(['x', 'X', 'b', 'B']);
                        if c.is_ascii_alphanumeric() || c == b'.' || signed_exponent {
                            i += 1;
                        } else {
                            break;
                        }
                    }
                    Tok::Number(&s[start..i])
                }
                b'.' if b.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                    i += 1;
                    while b.get(i).is_some_and(u8::is_ascii_digit) {
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
            self.i = i;
            return Some(Ok(Token {
                kind,
                start,
                end: i,
            }));
        }
        self.i = i;
        None
    }
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
                // Kept as written, as MySQL keeps them, for LIKE to see.
                Some(c @ ('%' | '_')) => {
                    out.push('\\');
                    out.push(c);
                }
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
/// ASCII case as MySQL's default collations do. Without recursion and in
/// O(pattern × text) time at worst (the two-pointer matcher of
/// [`Like::matches_raw`]); see [`Like`] to match one pattern against many
/// names in one pass over each.
pub fn like(pattern: &str, s: &str) -> bool {
    Like::matches_raw(pattern, literals(pattern), s)
}

/// A LIKE pattern prepared once for many names (the rows of SHOW VARIABLES).
///
/// A pattern of at most [`Nfa::MAX_PIECES`] pieces besides `%` (any pattern
/// that can match a name of up to 127 characters; session variable names have
/// at most 64) becomes a bit-parallel automaton: one pass over a name, one
/// step per character, whatever the pattern. A longer pattern keeps its
/// pieces, with runs of `%` collapsed to one, for the two-pointer matcher,
/// which refuses at once a name shorter than the pieces. Preparing is linear
/// in the pattern (300,000 `%` are one state with a loop).
#[derive(Debug, Clone)]
pub struct Like(Prepared);

#[derive(Debug, Clone)]
enum Prepared {
    Nfa(Box<Nfa>),
    Pieces { pattern: String, literals: usize },
}

/// The pattern as a nondeterministic automaton whose states are bits of a
/// `u128` (shift-and, as in agrep): state `j` means "the first `j` pieces
/// other than `%` matched"; a `%` is a loop on the state before it. One text
/// character moves every live state at once:
/// `live = ((live << 1) & accepts(c)) | (live & loops)`.
#[derive(Debug, Clone)]
struct Nfa {
    /// States with a `%` loop.
    loops: u128,
    /// Bit `j + 1` for each `_` piece `j`.
    one: u128,
    /// For each ASCII character (lower-cased), bit `j + 1` for each piece `j`
    /// that is that character in either case.
    ascii: [u128; 128],
    /// The pieces that are other characters (compared exactly: ignoring
    /// ASCII case changes nothing for them), with their bits.
    other: Vec<(char, u128)>,
    /// The accepting state: all pieces matched.
    last: u128,
}

impl Nfa {
    /// Most pieces besides `%`: one state more must fit in 128 bits.
    const MAX_PIECES: usize = 127;

    /// The automaton of `pattern`, if it has at most [`Nfa::MAX_PIECES`]
    /// pieces besides `%`.
    fn new(pattern: &str) -> Option<Nfa> {
        let mut nfa = Nfa {
            loops: 0,
            one: 0,
            ascii: [0; 128],
            other: Vec::new(),
            last: 1,
        };
        let mut j = 0usize;
        let mut i = 0;
        while let Some((piece, next)) = piece_at(pattern, i) {
            i = next;
            let bit = match piece {
                Piece::Any => {
                    nfa.loops |= 1u128 << j; // invariant: j <= MAX_PIECES < 128
                    continue;
                }
                _ if j == Nfa::MAX_PIECES => return None,
                _ => 1u128 << (j + 1),
            };
            match piece {
                Piece::One => nfa.one |= bit,
                Piece::Char(c) if c.is_ascii() => {
                    // invariant: an ASCII character's code is below 128
                    nfa.ascii[usize::from(c.to_ascii_lowercase() as u8)] |= bit;
                }
                Piece::Char(c) => nfa.other.push((c, bit)),
                Piece::Any => {}
            }
            j += 1;
            nfa.last = bit;
        }
        Some(nfa)
    }

    fn matches(&self, s: &str) -> bool {
        let mut live: u128 = 1;
        for c in s.chars() {
            let accepts = self.one
                | if c.is_ascii() {
                    self.ascii[usize::from(c.to_ascii_lowercase() as u8)]
                } else {
                    self.other
                        .iter()
                        .filter(|(p, _)| *p == c)
                        .fold(0, |m, (_, bit)| m | bit)
                };
            live = ((live << 1) & accepts) | (live & self.loops);
            if live == 0 {
                return false;
            }
        }
        live & self.last != 0
    }
}

/// One piece of a pattern.
#[derive(Debug, Clone, Copy)]
enum Piece {
    /// `%`: any run of characters, the empty one included.
    Any,
    /// `_`: exactly one character.
    One,
    /// A character (`\x` is `x`; a lone `\` at the end is itself).
    Char(char),
}

impl Piece {
    fn accepts(self, c: char) -> bool {
        match self {
            Piece::Any | Piece::One => true,
            Piece::Char(p) => p.eq_ignore_ascii_case(&c),
        }
    }
}

/// The piece of `p` at byte `i` and the byte index after it; `None` at the end.
fn piece_at(p: &str, i: usize) -> Option<(Piece, usize)> {
    let c = p.get(i..)?.chars().next()?;
    let after = i + c.len_utf8();
    Some(match c {
        '%' => (Piece::Any, after),
        '_' => (Piece::One, after),
        '\\' => match p.get(after..).and_then(|r| r.chars().next()) {
            Some(e) => (Piece::Char(e), after + e.len_utf8()),
            None => (Piece::Char('\\'), after),
        },
        c => (Piece::Char(c), after),
    })
}

/// How many pieces of `p` are not `%`: the fewest characters a match takes.
fn literals(p: &str) -> usize {
    let mut n = 0;
    let mut i = 0;
    while let Some((piece, next)) = piece_at(p, i) {
        n += usize::from(!matches!(piece, Piece::Any));
        i = next;
    }
    n
}

/// Where matching resumes when the last `%` takes one more character.
#[derive(Clone, Copy)]
struct Resume {
    /// Pattern index after that `%`.
    p: usize,
    /// Text index where its run ends now.
    t: usize,
    /// Pieces (not `%`) left in the pattern after it.
    need: usize,
    /// Characters left in the text after its run.
    left: usize,
}

impl Like {
    /// Prepares `pattern`.
    pub fn new(pattern: &str) -> Like {
        if let Some(nfa) = Nfa::new(pattern) {
            return Like(Prepared::Nfa(Box::new(nfa)));
        }
        let mut out = String::with_capacity(pattern.len());
        let mut literals = 0;
        let mut after_any = false;
        let mut i = 0;
        while let Some((piece, next)) = piece_at(pattern, i) {
            let any = matches!(piece, Piece::Any);
            if !(any && after_any) {
                out.push_str(&pattern[i..next]);
            }
            literals += usize::from(!any);
            after_any = any;
            i = next;
        }
        Like(Prepared::Pieces {
            pattern: out,
            literals,
        })
    }

    /// True when `s` matches.
    pub fn matches(&self, s: &str) -> bool {
        match &self.0 {
            Prepared::Nfa(nfa) => nfa.matches(s),
            Prepared::Pieces { pattern, literals } => Like::matches_raw(pattern, *literals, s),
        }
    }

    /// The two-pointer matcher: pieces and characters advance together; on a
    /// mismatch the last `%` seen takes one more character and matching
    /// resumes after it. Earlier `%`s never need to be revisited (a match of
    /// the pieces between two `%`s at its earliest place leaves the most text
    /// for the rest), so the work is at most (text length) restarts of one
    /// stretch between `%`s. A restart is refused at once when the text left
    /// is shorter than the pieces left (`literals` is their count in
    /// `pattern`), which keeps a stretch's work under the text's length.
    fn matches_raw(pattern: &str, literals: usize, s: &str) -> bool {
        let mut left = s.chars().count();
        if literals > left {
            return false;
        }
        let (mut pi, mut ti, mut need) = (0, 0, literals);
        let mut resume: Option<Resume> = None;
        loop {
            let piece = piece_at(pattern, pi);
            if let Some((Piece::Any, next)) = piece {
                pi = next;
                if need > left {
                    return false;
                }
                resume = Some(Resume {
                    p: pi,
                    t: ti,
                    need,
                    left,
                });
                continue;
            }
            let c = s.get(ti..).and_then(|r| r.chars().next());
            match (piece, c) {
                (None, None) => return true,
                (Some((piece, next)), Some(c)) if piece.accepts(c) => {
                    pi = next;
                    ti += c.len_utf8();
                    need = need.saturating_sub(1);
                    left = left.saturating_sub(1);
                    continue;
                }
                _ => {}
            }
            // A mismatch: the last `%` takes one more character, if it can.
            let Some(r) = resume.as_mut() else {
                return false;
            };
            let Some(c) = s.get(r.t..).and_then(|rest| rest.chars().next()) else {
                return false;
            };
            r.t += c.len_utf8();
            r.left = r.left.saturating_sub(1);
            if r.need > r.left {
                return false;
            }
            (pi, ti, need, left) = (r.p, r.t, r.need, r.left);
        }
    }
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
    fn statements_one_at_a_time_and_resumed() {
        let sql = "SELECT 1; /* only a comment */; SELECT ';' ; ;SHOW DATABASES";
        let mut it = Statements::new(sql);
        assert_eq!(it.next(), Some("SELECT 1"));
        let at = it.offset();
        assert_eq!(&sql[..at], "SELECT 1;");
        let rest: Vec<_> = Statements::resume(sql, at).collect();
        assert_eq!(rest, vec!["SELECT ';'", "SHOW DATABASES"]);
        assert_eq!(it.collect::<Vec<_>>(), rest);
        assert_eq!(Statements::resume(sql, usize::MAX).next(), None);
        let many = "SELECT 1;".repeat(100_000);
        assert_eq!(Statements::new(&many).count(), 100_000);
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
        // `\%` and `\_` stay escaped (MySQL's rule), so that LIKE sees them.
        let t = tokenize(r"'a\_b\%' 'a\nb'").unwrap();
        assert_eq!(t[0].kind, Tok::Str(r"a\_b\%".into()));
        assert_eq!(t[1].kind, Tok::Str("a\nb".into()));
        assert!(!like(r"a\_b", "axb"));
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

    /// Every pattern through both entry points, which must agree.
    fn both(p: &str, s: &str) -> bool {
        let raw = like(p, s);
        assert_eq!(raw, Like::new(p).matches(s), "{p:?} on {s:?}");
        raw
    }

    #[test]
    fn like_wildcards_and_escapes() {
        let yes = [
            ("", ""),
            ("%", ""),
            ("%%", "abc"),
            ("a%", "a"),
            ("%a", "bca"),
            ("a%c", "abbbc"),
            ("a%b%c", "a_b_c"),
            ("_", "é"),
            ("_b", "éb"),
            ("é%", "éclair"),
            ("%ss%", "mississippi"),
            ("%issip%", "mississippi"),
            ("m%i%s%s%i%p%i", "mississippi"),
            ("\\%", "%"),
            ("\\%%", "%abc"),
            ("%\\%", "100%"),
            ("a\\\\b", "a\\b"),
            ("a\\", "a\\"),
            ("%_%_%", "ab"),
            ("CHAR%SET%", "character_set_client"),
        ];
        for (p, s) in yes {
            assert!(both(p, s), "{p:?} should match {s:?}");
        }
        let no = [
            ("", "a"),
            ("a", ""),
            ("_", ""),
            ("a%", "ba"),
            ("%a", "ab"),
            ("a%c", "abcd"),
            ("%issix%", "mississippi"),
            ("\\%", "a"),
            ("%\\%", "100"),
            ("a\\", "a"),
            ("%_%_%", "a"),
            ("__", "é"),
        ];
        for (p, s) in no {
            assert!(!both(p, s), "{p:?} should not match {s:?}");
        }
    }

    /// r8 (issue 8, item 1): the old matcher recursed once per `%` and tried
    /// every split, exponential in the `%`s and deep enough to overflow the
    /// stack at 300,000 of them.
    #[test]
    fn r8_like_is_iterative_and_bounded() {
        let many = format!("{}x", "%".repeat(300_000));
        assert!(!both(&many, "character_set_client"));
        assert!(both(&many, "max_connections_x"));
        let p25 = format!("{}x", "%".repeat(25));
        assert!(!both(&p25, "character_set_client"));
        let long = format!("x{}", "a".repeat(3000));
        assert!(!both("%%%b", &long));
        assert!(both("%%%a", &long));
        // The greedy matcher's worst case: one stretch retried at every place.
        let text = "a".repeat(3000);
        let stretch = format!("%{}b", "a".repeat(1500));
        assert!(!both(&stretch, &text));
        let alternating = "%a".repeat(1500) + "%b";
        assert!(!both(&alternating, &text));
        let ones = "_".repeat(3001);
        assert!(!both(&ones, &text));
        assert!(both(&"_".repeat(3000), &text));
    }

    /// The textbook dynamic program over pieces and characters, as a reference.
    fn like_reference(p: &str, s: &str) -> bool {
        let mut pieces = Vec::new();
        let mut i = 0;
        while let Some((piece, next)) = piece_at(p, i) {
            pieces.push(piece);
            i = next;
        }
        let s: Vec<char> = s.chars().collect();
        // m[j]: pieces[..k] match s[..j], row by row over k.
        let mut m = vec![false; s.len() + 1];
        m[0] = true;
        for piece in pieces {
            let mut next = vec![false; s.len() + 1];
            for j in 0..=s.len() {
                next[j] = match piece {
                    Piece::Any => m[j] || (j > 0 && next[j - 1]),
                    _ => j > 0 && m[j - 1] && piece.accepts(s[j - 1]),
                };
            }
            m = next;
        }
        m[s.len()]
    }

    #[test]
    fn like_agrees_with_the_reference_on_random_patterns() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut rand = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let pat_chars = ['a', 'B', '%', '_', '\\', 'é'];
        let text_chars = ['a', 'b', 'A', '%', '_', 'é'];
        for _ in 0..20_000 {
            let p: String = (0..rand(8)).map(|_| pat_chars[rand(6)]).collect();
            let t: String = (0..rand(8)).map(|_| text_chars[rand(6)]).collect();
            assert_eq!(both(&p, &t), like_reference(&p, &t), "{p:?} on {t:?}");
        }
    }

    #[test]
    fn prepared_patterns_either_side_of_the_automatons_size() {
        for n in [126, 127, 128, 129] {
            let text = "Ab".repeat(n);
            let p = "a_".repeat(n / 2) + &"%b".repeat(n - n / 2);
            assert!(both(&p, &text), "{n}");
            assert!(!both(&(p.clone() + "_"), &text), "{n}");
            assert!(both(&("%".to_string() + &p + "%"), &text), "{n}");
        }
        assert!(matches!(Like::new(&"x".repeat(127)).0, Prepared::Nfa(_)));
        assert!(matches!(
            Like::new(&"x".repeat(128)).0,
            Prepared::Pieces { .. }
        ));
        // Non-ASCII pieces, exact; ASCII pieces in either case.
        assert!(both("%É_é%", "xÉeé"));
        assert!(!both("%É_é%", "xée É"));
    }

    #[test]
    fn long_statements_end_in_one_rest_token() {
        let sql = format!("SELECT {}1", "1,".repeat(MAX_TOKENS));
        let t = tokenize(&sql).unwrap();
        assert_eq!(t.len(), MAX_TOKENS + 1);
        match &t[MAX_TOKENS].kind {
            Tok::Rest(r) => assert!(r.ends_with(",1,1") && sql.ends_with(r)),
            other => panic!("expected Rest, got {other:?}"),
        }
        // Exactly MAX_TOKENS tokens: no Rest; an unterminated quote after the
        // cap is not looked at.
        let exact = format!("SELECT {}", "1,".repeat((MAX_TOKENS - 2) / 2)) + "1";
        let t = tokenize(&exact).unwrap();
        assert_eq!(t.len(), MAX_TOKENS);
        assert!(!t.iter().any(|t| matches!(t.kind, Tok::Rest(_))));
        let quote = format!("{} 'unterminated", "x ".repeat(MAX_TOKENS));
        assert!(matches!(
            tokenize(&quote).unwrap().last().map(|t| &t.kind),
            Some(Tok::Rest(_))
        ));
    }

    #[test]
    fn comment_only_statements_are_dropped_without_a_token_list() {
        assert!(split_statements("/* a */ ; -- b\n ; # c").is_empty());
        assert!(is_only_comments("  /* x */ "));
        assert!(!is_only_comments("/* x */ 'open"));
        assert!(!is_only_comments("/*!40101 SET */"));
    }
}
