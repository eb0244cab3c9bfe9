//! MySQL Proxy's SQL tokenizer, rewritten in Rust: the token stream
//! `mysql.tokenizer.tokenize()` hands to scripts, and the `proxy.tokenizer`
//! helpers built on it (see [`lua`]).
//!
//! Scripts print and compare these tokens, so the rules are MySQL Proxy's own,
//! odd corners included (they are what scripts were written against):
//! - keywords, any case, are `TK_SQL_*`; other bare words are `TK_LITERAL`, and
//!   a bare word directly followed by `(` is `TK_FUNCTION`; `a.b.c` is split
//!   into words and `TK_DOT`s (at most three words are taken together);
//! - `'…'` and `"…"` are `TK_STRING`, `` `…` `` is `TK_LITERAL`, without the
//!   quotes; a doubled quote stands for one, a backslash escape is kept as
//!   written (`\'` stays two bytes); an unterminated quote runs to the end;
//! - `/* … */` is `TK_COMMENT` and `/*! … */` `TK_COMMENT_MYSQL`, with the text
//!   between the markers; `-- ` (dash dash blank) runs to the end of the line;
//!   `#` is *not* a comment (MySQL Proxy's tokenizer has no rule for it);
//! - numbers: `TK_INTEGER`, `TK_FLOAT` (`1.5`, `.5`, `1e5`, `1.5e-3`), where
//!   `1e` or `1e5x` are words; everything else is an operator or, byte by
//!   byte, `TK_UNKNOWN`.
//!
//! The scanner takes the longest match at each position, and the earlier rule
//! of MySQL Proxy's scanner on a tie, which is what decides `1e5` (a float)
//! against `1e5x` (a word).

mod ids;
pub mod lua;

pub use ids::{word_id, TokenId, NAMES};

use std::borrow::Cow;

/// One token: its id and its text (borrowed from the query unless quotes had
/// to be collapsed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token<'q> {
    /// What the token is (`token_id` in Lua).
    pub id: TokenId,
    /// Its text (`text` in Lua): without quotes or comment markers.
    pub text: Cow<'q, [u8]>,
}

impl Token<'_> {
    /// The token's name, `TK_…`.
    pub fn name(&self) -> &'static str {
        self.id.name()
    }
}

/// Splits a query into MySQL Proxy's tokens. Never fails: any byte sequence
/// has a token stream.
pub fn tokenize(query: &[u8]) -> Vec<Token<'_>> {
    tokenize_at_most(query, usize::MAX).unwrap_or_default()
}

/// [`tokenize`], giving up (`None`) once there are more than `max` tokens:
/// the work and the memory stay bounded whatever the query.
pub fn tokenize_at_most(query: &[u8], max: usize) -> Option<Vec<Token<'_>>> {
    let mut lexer = Lexer {
        q: query,
        pos: 0,
        out: Vec::new(),
    };
    lexer.run(max);
    (lexer.out.len() <= max).then_some(lexer.out)
}

struct Lexer<'q> {
    q: &'q [u8],
    pos: usize,
    out: Vec<Token<'q>>,
}

/// Text assembled from pieces of the query; stays a borrowed slice as long as
/// the pieces are adjacent, which they are unless quotes were collapsed.
struct Text<'q> {
    q: &'q [u8],
    start: usize,
    end: usize,
    owned: Option<Vec<u8>>,
}

impl<'q> Text<'q> {
    fn new(q: &'q [u8], at: usize) -> Self {
        Text {
            q,
            start: at,
            end: at,
            owned: None,
        }
    }

    fn push(&mut self, from: usize, to: usize) {
        match &mut self.owned {
            Some(v) => v.extend_from_slice(&self.q[from..to]),
            None if from == self.end => self.end = to,
            None => {
                let mut v = self.q[self.start..self.end].to_vec();
                v.extend_from_slice(&self.q[from..to]);
                self.owned = Some(v);
            }
        }
    }

    fn finish(self) -> Cow<'q, [u8]> {
        match self.owned {
            Some(v) => Cow::Owned(v),
            None => Cow::Borrowed(&self.q[self.start..self.end]),
        }
    }
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn is_quote(c: u8) -> bool {
    matches!(c, b'\'' | b'"' | b'`')
}

/// Bytes a bare word is made of (ASCII only, as MySQL Proxy's C-locale scanner).
fn is_word_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'@'
}

impl<'q> Lexer<'q> {
    fn at(&self, i: usize) -> Option<u8> {
        self.q.get(i).copied()
    }

    /// Appends the token `q[from..to]` and goes on after it.
    fn emit(&mut self, id: TokenId, from: usize, to: usize) {
        self.emit_then(id, from, to, to);
    }

    /// Appends the token `q[from..to]` and goes on at `resume` (after the
    /// closing marker of a comment).
    fn emit_then(&mut self, id: TokenId, from: usize, to: usize, resume: usize) {
        self.out.push(Token {
            id,
            text: Cow::Borrowed(&self.q[from..to]),
        });
        self.pos = resume;
    }

    fn run(&mut self, max: usize) {
        while let Some(c) = self.at(self.pos) {
            if self.out.len() > max {
                return;
            }
            let p = self.pos;
            let next = self.at(p + 1);
            match c {
                c if is_space(c) => self.pos += 1,
                c if is_quote(c) => self.quoted(c),
                b'-' if next == Some(b'-') => self.dash_dash(),
                b'/' if next == Some(b'*') => {
                    if self.at(p + 2) == Some(b'!') {
                        self.block_comment(TokenId::COMMENT_MYSQL, p + 3);
                    } else {
                        self.block_comment(TokenId::COMMENT, p + 2);
                    }
                }
                c if c.is_ascii_digit() || c == b'.' || is_word_byte(c) => self.word_or_number(),
                b'<' if next == Some(b'=') => self.emit(TokenId::LE, p, p + 2),
                b'<' if next == Some(b'>') => self.emit(TokenId::NE, p, p + 2),
                b'>' if next == Some(b'=') => self.emit(TokenId::GE, p, p + 2),
                b'!' if next == Some(b'=') => self.emit(TokenId::NE, p, p + 2),
                b':' if next == Some(b'=') => self.emit(TokenId::ASSIGN, p, p + 2),
                b'&' if next == Some(b'&') => self.emit(TokenId::LOGICAL_AND, p, p + 2),
                b'|' if next == Some(b'|') => self.emit(TokenId::LOGICAL_OR, p, p + 2),
                _ => self.emit(single_byte_id(c), p, p + 1),
            }
        }
    }

    /// `--` then a newline (an empty comment), a blank (a comment to the end of
    /// the line), or anything else (two minus signs).
    fn dash_dash(&mut self) {
        let p = self.pos;
        match (self.at(p + 2), self.at(p + 3)) {
            (Some(b'\n'), _) => self.emit_then(TokenId::COMMENT, p + 3, p + 3, p + 3),
            (Some(b'\r'), Some(b'\n')) => self.emit_then(TokenId::COMMENT, p + 4, p + 4, p + 4),
            (Some(b' ' | b'\t'), _) => self.line_comment(p + 3),
            _ => self.emit(TokenId::MINUS, p, p + 1),
        }
    }

    /// The body of a `-- ` comment: up to the newline, a `\r` before it
    /// included, except that a body that is just `\r\n` is empty.
    fn line_comment(&mut self, body: usize) {
        let rest = &self.q[body..];
        if rest.starts_with(b"\r\n") {
            return self.emit_then(TokenId::COMMENT, body, body, body + 2);
        }
        match rest.iter().position(|&c| c == b'\n') {
            Some(nl) => self.emit_then(TokenId::COMMENT, body, body + nl, body + nl + 1),
            None => self.emit_then(TokenId::COMMENT, body, self.q.len(), self.q.len()),
        }
    }

    /// The body of a `/* */` comment: up to the first `*/`, without the run
    /// of stars that closes it; an unclosed comment runs to the end.
    fn block_comment(&mut self, id: TokenId, body: usize) {
        let rest = &self.q[body..];
        match rest.windows(2).position(|w| w == b"*/") {
            Some(close) => {
                let stars = rest[..close]
                    .iter()
                    .rev()
                    .take_while(|&&c| c == b'*')
                    .count();
                self.emit_then(id, body, body + close - stars, body + close + 2)
            }
            None => self.emit_then(id, body, self.q.len(), self.q.len()),
        }
    }

    /// A quoted string or name. Inside, MySQL Proxy looks at quote characters
    /// in pairs: two of the opening quote are one quote; any other pair
    /// (`'"`, `` "` ``, even the closing quote followed by another kind)
    /// keeps its first character and goes on; a lone opening quote closes.
    fn quoted(&mut self, quote: u8) {
        let id = if quote == b'`' {
            TokenId::LITERAL
        } else {
            TokenId::STRING
        };
        let q = self.q;
        let mut p = self.pos + 1;
        let mut text = Text::new(q, p);
        while let Some(&c) = q.get(p) {
            let next = q.get(p + 1).copied();
            if c == b'\\' {
                match next {
                    // A backslash at the end or before a newline matches no
                    // rule of the scanner and is dropped.
                    None | Some(b'\n') => p += 1,
                    Some(_) => {
                        text.push(p, p + 2);
                        p += 2;
                    }
                }
            } else if is_quote(c) {
                match next {
                    Some(n) if is_quote(n) && c == quote && n == quote => {
                        text.push(p + 1, p + 2);
                        p += 2;
                    }
                    Some(n) if is_quote(n) => {
                        text.push(p, p + 1);
                        p += 1;
                    }
                    _ if c == quote => {
                        p += 1;
                        break;
                    }
                    _ => {
                        text.push(p, p + 1);
                        p += 1;
                    }
                }
            } else {
                let run = q[p..]
                    .iter()
                    .position(|&c| c == b'\\' || is_quote(c))
                    .unwrap_or(q.len() - p);
                text.push(p, p + run);
                p += run;
            }
        }
        self.out.push(Token {
            id,
            text: text.finish(),
        });
        self.pos = p;
    }

    /// Length of the digit run at `i`.
    fn digits(&self, i: usize) -> usize {
        self.q[i.min(self.q.len())..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count()
    }

    /// Length of a word part at `i`: a run of word bytes that is not all
    /// digits (0 if there is none).
    fn word_part(&self, i: usize) -> usize {
        let run = &self.q[i.min(self.q.len())..];
        let len = run.iter().take_while(|&&c| is_word_byte(c)).count();
        if run[..len].iter().all(u8::is_ascii_digit) {
            0
        } else {
            len
        }
    }

    /// Length of a float in scientific notation at `i`:
    /// `([0-9]*\.)?[0-9]+[eE][-+]?[0-9]+`, or 0.
    fn sci_float(&self, i: usize) -> usize {
        // With a dot the digits after it are the mantissa, else those at `i`.
        let int = self.digits(i);
        let mut p = if self.at(i + int) == Some(b'.') {
            i + int + 1
        } else {
            i
        };
        let mantissa = self.digits(p);
        if mantissa == 0 {
            return 0;
        }
        p += mantissa;
        if !matches!(self.at(p), Some(b'e' | b'E')) {
            return 0;
        }
        p += 1;
        if matches!(self.at(p), Some(b'-' | b'+')) {
            p += 1;
        }
        match self.digits(p) {
            0 => 0,
            exp => p + exp - i,
        }
    }

    /// The parts of a dotted word at `p` (`a`, `a.b`, `a.b.c`: MySQL Proxy
    /// takes at most three together), as ranges, and how many there are.
    fn dotted_word(&self, p: usize) -> ([(usize, usize); 3], usize) {
        let mut parts = [(0usize, 0usize); 3];
        let first = self.word_part(p);
        if first == 0 {
            return (parts, 0);
        }
        parts[0] = (p, p + first);
        let mut n = 1;
        while n < 3 {
            let dot = parts[n - 1].1;
            let len = match self.at(dot) {
                Some(b'.') => self.word_part(dot + 1),
                _ => 0,
            };
            if len == 0 {
                break;
            }
            parts[n] = (dot + 1, dot + 1 + len);
            n += 1;
        }
        (parts, n)
    }

    /// Something that starts with a digit, a dot or a word byte: the longest
    /// of a scientific float, a dotted word (up to three parts), that word as
    /// a function name, an integer, a float, a lone dot. Ties go to the one
    /// listed first, as in MySQL Proxy's scanner.
    fn word_or_number(&mut self) {
        let p = self.pos;
        let sci = self.sci_float(p);

        let (parts, n_parts) = self.dotted_word(p);
        let word_end = parts[..n_parts].last().map_or(p, |&(_, to)| to);
        let word = word_end - p;
        let function = if word > 0 && self.at(word_end) == Some(b'(') {
            word + 1
        } else {
            0
        };
        let int = self.digits(p);
        let float = match self.at(p + int) {
            Some(b'.') => match self.digits(p + int + 1) {
                0 => 0,
                frac => int + 1 + frac,
            },
            _ => 0,
        };
        let dot = usize::from(self.q[p] == b'.');

        let candidates = [sci, word, function, int, float, dot];
        let mut best = 0;
        for (i, &len) in candidates.iter().enumerate() {
            if len > candidates[best] {
                best = i;
            }
        }
        let len = candidates[best];
        match best {
            0 => self.emit(TokenId::FLOAT, p, p + len),
            1 | 2 => {
                for (i, &(from, to)) in parts[..n_parts].iter().enumerate() {
                    if i > 0 {
                        self.emit(TokenId::DOT, from - 1, from);
                    }
                    let last = i + 1 == n_parts;
                    let id = if last && best == 2 {
                        TokenId::FUNCTION
                    } else {
                        word_id(&self.q[from..to])
                    };
                    self.emit(id, from, to);
                }
            }
            3 => self.emit(TokenId::INTEGER, p, p + len),
            4 => self.emit(TokenId::FLOAT, p, p + len),
            _ => self.emit(TokenId::DOT, p, p + 1),
        }
    }
}

/// Tokens of one byte that need no look-ahead.
fn single_byte_id(c: u8) -> TokenId {
    match c {
        b',' => TokenId::COMMA,
        b'<' => TokenId::LT,
        b'>' => TokenId::GT,
        b'=' => TokenId::EQ,
        b'(' => TokenId::OBRACE,
        b')' => TokenId::CBRACE,
        b';' => TokenId::SEMICOLON,
        b'*' => TokenId::STAR,
        b'+' => TokenId::PLUS,
        b'/' => TokenId::DIV,
        b'-' => TokenId::MINUS,
        b'&' => TokenId::BITWISE_AND,
        b'|' => TokenId::BITWISE_OR,
        b'^' => TokenId::BITWISE_XOR,
        _ => TokenId::UNKNOWN,
    }
}

#[cfg(test)]
mod tests;
