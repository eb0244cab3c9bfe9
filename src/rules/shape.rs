//! A statement's *shape*: its tokens with whitespace collapsed, comments and
//! a trailing `;` dropped, case folded outside quotes, and every literal
//! (string, number, NULL, `X'…'`) replaced by `?`, the literals kept aside
//! in order. Two statements that differ only in their literals have the
//! same shape, so a rule's `sql` is found by one hash lookup and its `?`
//! positions then accept any literal; a prepared statement's execution,
//! whose values the server substitutes into its text, has the shape of the
//! statement as prepared.

use crate::responder::sql::{Lexer, Tok};
use std::borrow::Cow;

/// A literal of a statement, in the form rules compare.
#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    /// NULL.
    Null,
    /// A number as written (a leading `-` folded in).
    Num(String),
    /// A string, unescaped (an `X'…'` literal's bytes, read as UTF-8).
    Str(String),
    /// A `?` placeholder: in a rule, any literal matches it.
    Any,
}

impl Lit {
    /// True when a rule's literal `self` accepts the statement's `got`.
    pub fn accepts(&self, got: &Lit) -> bool {
        match (self, got) {
            (Lit::Any, _) => true,
            (Lit::Num(a), Lit::Num(b)) => a == b || same_number(a, b),
            (a, b) => a == b,
        }
    }

    /// True when the JSON value of a rule's `params` entry equals this literal:
    /// `null` is NULL; a number equals a literal of the same value (quoted or
    /// not: drivers bind numbers as strings too); a string equals the
    /// literal's text.
    pub fn equals_json(&self, want: &serde_json::Value) -> bool {
        use serde_json::Value as J;
        match (want, self) {
            (J::Null, Lit::Null) => true,
            (J::Number(n), Lit::Num(s) | Lit::Str(s)) => same_number(&n.to_string(), s),
            (J::String(w), Lit::Str(s) | Lit::Num(s)) => w == s,
            (J::Bool(b), Lit::Num(s)) => same_number(if *b { "1" } else { "0" }, s),
            _ => false,
        }
    }
}

fn same_number(a: &str, b: &str) -> bool {
    match (a.trim().parse::<i128>(), b.trim().parse::<i128>()) {
        (Ok(x), Ok(y)) => x == y,
        _ => match (a.trim().parse::<f64>(), b.trim().parse::<f64>()) {
            (Ok(x), Ok(y)) => x == y,
            _ => false,
        },
    }
}

/// Words after which a `-` starts a negative number rather than a subtraction.
const BEFORE_NEGATIVE: &[&str] = &[
    "select", "where", "and", "or", "not", "by", "values", "value", "set", "then", "else", "when",
    "limit", "offset", "in", "like", "between", "is", "return", "case", "on", "having",
];

/// A statement's shape and its literals; reused between statements (the
/// buffers keep their capacity).
#[derive(Debug, Default, Clone)]
pub struct Shaped {
    /// The shape.
    pub shape: String,
    /// The literals, in order.
    pub lits: Vec<Lit>,
}

impl Shaped {
    /// Shapes `sql`. A statement the lexer cannot cut (an unterminated
    /// quote) is shaped as its collapsed text, with no literals.
    pub fn of(&mut self, sql: &str) {
        self.shape.clear();
        self.lits.clear();
        let mut prev: Option<Prev> = None;
        let mut minus = false;
        let mut lexer = Lexer::new(sql).peekable();
        while let Some(t) = lexer.next() {
            let Ok(t) = t else {
                self.lits.clear();
                self.shape.clear();
                collapse_into(sql, true, &mut self.shape);
                return;
            };
            // `X'00ff'`, `_utf8mb4'text'`, `_binary 'x'`: one literal
            if let Tok::Word(w) = &t.kind {
                let intro = w.eq_ignore_ascii_case("x")
                    || w.eq_ignore_ascii_case("b")
                    || (w.starts_with('_') && w.len() > 1);
                if intro {
                    if let Some(Ok(next)) = lexer.peek() {
                        if let Tok::Str(s) = &next.kind {
                            let lit = if w.eq_ignore_ascii_case("x") {
                                Lit::Str(String::from_utf8_lossy(&unhex(s)).into_owned())
                            } else {
                                Lit::Str(s.to_string())
                            };
                            lexer.next();
                            self.flush_minus(&mut minus);
                            self.push_word("?");
                            self.lits.push(lit);
                            prev = Some(Prev::Literal);
                            continue;
                        }
                    }
                }
            }
            let lit = match &t.kind {
                Tok::Number(n) => Some(Lit::Num(if minus {
                    minus = false;
                    format!("-{n}")
                } else {
                    n.to_string()
                })),
                Tok::Str(s) => Some(Lit::Str(s.to_string())),
                Tok::Word(w) if w.eq_ignore_ascii_case("null") => Some(Lit::Null),
                Tok::Punct(b'?') => Some(Lit::Any),
                _ => None,
            };
            if let Some(l) = lit {
                self.flush_minus(&mut minus);
                self.push_word("?");
                self.lits.push(l);
                prev = Some(Prev::Literal);
                continue;
            }
            self.flush_minus(&mut minus);
            match &t.kind {
                Tok::Punct(b'-') if folds_minus(prev.as_ref()) => {
                    minus = true;
                    continue;
                }
                Tok::Punct(c) => {
                    let mut b = [0u8; 4];
                    let s = char::from(*c).encode_utf8(&mut b);
                    self.push_word(s);
                    prev = Some(if *c == b')' { Prev::Close } else { Prev::Punct });
                }
                Tok::Word(w) => {
                    self.push_lower(w);
                    prev = Some(
                        if BEFORE_NEGATIVE.iter().any(|k| k.eq_ignore_ascii_case(w)) {
                            Prev::Keyword
                        } else {
                            Prev::Name
                        },
                    );
                }
                Tok::Ident(i) => {
                    self.push_lower(i);
                    prev = Some(Prev::Name);
                }
                Tok::SysVar(scope, name) => {
                    let v = match scope {
                        Some(s) => format!("@@{s}.{name}"),
                        None => format!("@@{name}"),
                    };
                    self.push_word(&v.to_lowercase());
                    prev = Some(Prev::Name);
                }
                Tok::UserVar(n) => {
                    self.push_word(&format!("@{}", n.to_lowercase()));
                    prev = Some(Prev::Name);
                }
                Tok::Rest(r) => {
                    let mut c = String::new();
                    collapse_into(r, true, &mut c);
                    self.push_word(&c);
                }
                Tok::Number(_) | Tok::Str(_) => {}
            }
        }
        self.flush_minus(&mut minus);
        // a trailing `;` (or several) is not part of the statement
        while self.shape.ends_with(" ;") || self.shape == ";" {
            let cut = self.shape.len() - if self.shape == ";" { 1 } else { 2 };
            self.shape.truncate(cut);
        }
    }

    fn flush_minus(&mut self, minus: &mut bool) {
        if std::mem::take(minus) {
            self.push_word("-");
        }
    }

    /// A word, lower-cased as it is appended (no allocation of its own).
    fn push_lower(&mut self, w: &str) {
        if !self.shape.is_empty() {
            self.shape.push(' ');
        }
        if w.is_ascii() {
            self.shape.extend(w.chars().map(|c| c.to_ascii_lowercase()));
        } else {
            self.shape.extend(w.chars().flat_map(char::to_lowercase));
        }
    }

    fn push_word(&mut self, w: &str) {
        if !self.shape.is_empty() {
            self.shape.push(' ');
        }
        self.shape.push_str(w);
    }
}

enum Prev {
    Literal,
    Name,
    Keyword,
    Punct,
    Close,
}

fn folds_minus(prev: Option<&Prev>) -> bool {
    matches!(prev, None | Some(Prev::Keyword | Prev::Punct))
}

fn unhex(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    b.chunks(2)
        .filter_map(|p| std::str::from_utf8(p).ok())
        .filter_map(|p| u8::from_str_radix(p, 16).ok())
        .collect()
}

/// The statement with runs of whitespace outside quotes made one space,
/// trimmed, a trailing `;` dropped; `lower` folds ASCII case outside quotes.
/// What `prefix` rules (lower-cased) and `regex` rules (case kept) see.
pub fn collapse(sql: &str, lower: bool) -> String {
    let mut out = String::with_capacity(sql.len());
    collapse_into(sql, lower, &mut out);
    out
}

/// [`collapse`] into `out` (cleared first), keeping its capacity.
pub fn collapse_reuse(sql: &str, lower: bool, out: &mut String) {
    out.clear();
    collapse_into(sql, lower, out);
}

fn collapse_into(sql: &str, lower: bool, out: &mut String) {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut space = false;
    for c in sql.trim().chars() {
        if let Some(q) = quote {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' && q != '`' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        if c.is_whitespace() {
            space = true;
            continue;
        }
        if space && !out.is_empty() {
            out.push(' ');
        }
        space = false;
        if matches!(c, '\'' | '"' | '`') {
            quote = Some(c);
        }
        out.push(if lower { c.to_ascii_lowercase() } else { c });
    }
    while out.ends_with(';') {
        out.pop();
        while out.ends_with(' ') {
            out.pop();
        }
    }
}

/// A borrowed or lossily decoded statement text (queries need not be UTF-8).
pub fn text(b: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(s: &str) -> (String, Vec<Lit>) {
        let mut sh = Shaped::default();
        sh.of(s);
        (sh.shape, sh.lits)
    }

    #[test]
    fn literals_whitespace_case_and_the_trailing_semicolon() {
        let (a, la) = shape("SELECT name FROM users WHERE id = ?");
        let (b, lb) = shape("select  name\n from `users` where id=7 ;");
        assert_eq!(a, b);
        assert_eq!(a, "select name from users where id = ?");
        assert_eq!(la, vec![Lit::Any]);
        assert_eq!(lb, vec![Lit::Num("7".into())]);
        let (c, lc) = shape("SELECT * FROM t WHERE a = 'It''s' AND b = -5 AND c IS NULL -- x");
        assert_eq!(c, "select * from t where a = ? and b = ? and c is ?");
        assert_eq!(
            lc,
            vec![Lit::Str("It's".into()), Lit::Num("-5".into()), Lit::Null]
        );
        // a subtraction keeps its minus
        assert_eq!(shape("SELECT a - 1").0, "select a - ?");
        assert_eq!(
            shape("SELECT X'4142', _utf8mb4'z'").1,
            vec![Lit::Str("AB".into()), Lit::Str("z".into())]
        );
        // case inside quotes is kept as a literal's value
        assert_eq!(shape("select 'ABC'").1, vec![Lit::Str("ABC".into())]);
        // an unterminated quote: the collapsed text
        assert_eq!(shape("SELECT  'abc").0, "select 'abc");
    }

    #[test]
    fn params_compare_loosely_as_drivers_bind() {
        assert!(Lit::Num("7".into()).equals_json(&serde_json::json!(7)));
        assert!(Lit::Str("7".into()).equals_json(&serde_json::json!(7)));
        assert!(Lit::Num("7.0".into()).equals_json(&serde_json::json!(7)));
        assert!(Lit::Str("bob".into()).equals_json(&serde_json::json!("bob")));
        assert!(!Lit::Str("bob".into()).equals_json(&serde_json::json!("Bob")));
        assert!(Lit::Null.equals_json(&serde_json::Value::Null));
        assert!(!Lit::Num("1".into()).equals_json(&serde_json::Value::Null));
    }

    /// Random statements built from SQL's troublesome pieces (quotes,
    /// escapes, comments, minus signs, introducers, placeholders, bytes that
    /// are not UTF-8 read lossily) never panic, and shaping is stable.
    #[test]
    fn random_statements_never_panic() {
        let pieces = [
            "'",
            "\"",
            "`",
            "\\",
            "--",
            "/*",
            "*/",
            "/*!40101",
            "#",
            "\n",
            "-",
            "- 5",
            "?",
            "X'4",
            "x'41'",
            "_utf8mb4'a'",
            "NULL",
            " ",
            ";",
            "1e+",
            "0x1F",
            ".5",
            "@@a.b",
            "@x",
            "é",
            "\u{fffd}",
            "SELECT",
            "(",
        ];
        let mut rng = crate::rules::behaviour::Rng::new(9);
        let mut sh = Shaped::default();
        for _ in 0..20_000 {
            let n = (rng.next_u64() % 12) as usize;
            let s: String = (0..n)
                .map(|_| pieces[(rng.next_u64() % pieces.len() as u64) as usize])
                .collect();
            sh.of(&s);
            let first = sh.shape.clone();
            sh.of(&s);
            assert_eq!(first, sh.shape);
            let _ = collapse(&s, true);
        }
    }

    #[test]
    fn collapsing() {
        assert_eq!(
            collapse("  INSERT   INTO t\n VALUES ('A  B');; ", true),
            "insert into t values ('A  B')"
        );
        assert_eq!(collapse("SELECT  1", false), "SELECT 1");
    }
}
