//! The built-in answers: the seed's mock (SHOW DATABASES with db_1 .. db_70, OK
//! to COM_INIT_DB, error 101 for everything else) plus the handful of statements
//! real drivers send on their own when they connect, answered from the variable
//! table in [`super::vars`]. The recognised shapes:
//!
//! | statement | answer |
//! |---|---|
//! | `SHOW DATABASES` / `SHOW SCHEMAS` | one column `Database`, db_1 .. db_70 (pre-encoded) |
//! | `SELECT item, ...` of literals, `@@vars`, `@uservars` and a few functions, optional `FROM DUAL`, `LIMIT` | one row |
//! | `SHOW [GLOBAL\|SESSION] VARIABLES [LIKE 'p' \| WHERE ...]` | the variable table |
//! | `SHOW [GLOBAL\|SESSION] STATUS [LIKE 'p']` | a few live counters |
//! | `SHOW WARNINGS` / `SHOW ERRORS` / `SHOW TABLES` / `SHOW COLLATION` / `SHOW CHARACTER SET` | empty or small tables |
//! | `SET NAMES`, `SET [SESSION] x = v, ...`, `SET autocommit`, `SET TRANSACTION ...` | OK, session updated |
//! | `BEGIN`, `START TRANSACTION`, `COMMIT`, `ROLLBACK` | OK with the right status flags |
//! | `USE db` | OK, database changed |
//! | anything else | ERR 101 "I haven't learnt how to handle that query" |

use super::canned::CannedSet;
use super::reply::{Answer, Cell, ErrReply, Reply};
use super::session::Session;
use super::sql::{self, Tok, Token};
use super::value::Value;
use super::vars::{self, ServerFacts};
use super::{Execution, Part, Request, Responder};
use crate::protocol::binary::BinValue;
use crate::protocol::command::Command;
use crate::protocol::consts::{coltype, status};
use crate::protocol::errcodes as er;
use crate::protocol::response::ColumnDef;
use crate::stats::Stats;
use std::borrow::Cow;
use std::collections::HashSet;
use std::rc::Rc;
use std::sync::Arc;

/// The seed's error for anything it does not know.
pub const UNKNOWN_QUERY_CODE: u16 = 101;
/// Its message.
pub const UNKNOWN_QUERY_MSG: &str = "I haven't learnt how to handle that query";

/// How many databases SHOW DATABASES lists (the seed's 70).
pub const DATABASES: usize = 70;

/// The built-in responder.
#[derive(Debug)]
pub struct Builtin {
    facts: ServerFacts,
    stats: Arc<Stats>,
    show_databases: Rc<CannedSet>,
    /// Answer only the drivers' bootstrap ([`is_bootstrap`]) and decline the
    /// rest: the link before a script in the chain.
    bootstrap_only: bool,
    /// The statement being answered was not UTF-8 and is read as latin1
    /// (one character per byte): its string literals are sent back as the
    /// bytes the client wrote (a driver's `_binary'…'` with raw bytes).
    raw_bytes: bool,
}

impl Builtin {
    /// A built-in responder for a server with these facts.
    pub fn new(facts: ServerFacts, stats: Arc<Stats>) -> Builtin {
        let rows = (1..=DATABASES)
            .map(|i| vec![Cell::Bytes(Cow::Owned(format!("db_{i}").into_bytes()))])
            .collect();
        let columns = vec![ColumnDef::new(b"Database", coltype::VAR_STRING)];
        // invariant: text cells always fit a VAR_STRING column
        let show_databases = Rc::new(
            CannedSet::new(columns, rows, status::AUTOCOMMIT).expect("text cells fit VAR_STRING"),
        );
        Builtin {
            facts,
            stats,
            show_databases,
            bootstrap_only: false,
            raw_bytes: false,
        }
    }

    /// A responder that answers only what drivers send on their own when
    /// they connect ([`is_bootstrap`]) and declines everything else.
    pub fn bootstrap(facts: ServerFacts, stats: Arc<Stats>) -> Builtin {
        Builtin {
            bootstrap_only: true,
            ..Builtin::new(facts, stats)
        }
    }

    /// Answers one statement of a COM_QUERY (the server splits
    /// multi-statement queries); `Decline` for what it does not know.
    /// `exec`: the prepared statement this query is an execution of.
    pub fn query(&mut self, s: &mut Session, sql: &[u8], exec: Option<&Execution<'_>>) -> Reply {
        self.stats.statements.add(1);
        let latin1: String;
        let text = match std::str::from_utf8(sql) {
            Ok(t) => {
                self.raw_bytes = false;
                t
            }
            Err(_) => {
                // one char per byte: offsets change, but only where a byte
                // is >= 0x80, and the statement's bytes come back exactly
                latin1 = sql.iter().map(|&b| char::from(b)).collect();
                self.raw_bytes = true;
                &latin1
            }
        };
        let trimmed = text.trim_start();
        let params = exec.map(|e| Params {
            exec: e,
            shift: text.len() - trimmed.len(),
        });
        self.statement(
            s,
            trimmed.trim_end().trim_end_matches(';').trim_end(),
            params,
        )
    }

    fn statement(&mut self, s: &mut Session, sql: &str, params: Option<Params<'_, '_>>) -> Reply {
        // The seed's query as drivers and load tests send it: straight to the
        // pre-encoded answer, without tokenizing (no allocation on this path).
        if sql.eq_ignore_ascii_case("SHOW DATABASES") || sql.eq_ignore_ascii_case("SHOW SCHEMAS") {
            return Reply::Canned(self.show_databases.clone());
        }
        let Ok(toks) = sql::tokenize(sql) else {
            // an unterminated quote: not a statement the built-in answers know
            return Reply::Decline;
        };
        let kinds: Vec<&Tok<'_>> = toks.iter().map(|t| &t.kind).collect();
        match kinds.as_slice() {
            [] => Reply::err(er::ER_EMPTY_QUERY),
            [k, ..] if k.is("SELECT") => self.select(s, sql, &toks[1..], params),
            [k, rest @ ..] if k.is("SHOW") => self.show(s, rest),
            [k, ..] if k.is("SET") => self.set(s, &toks[1..]),
            [k, db] if k.is("USE") => match name_of(db) {
                Some(name) => {
                    s.set_database(Some(name));
                    Reply::ok()
                }
                None => Reply::Decline,
            },
            [k, rest @ ..]
                if k.is("BEGIN")
                    && (rest.is_empty() || (rest.len() == 1 && rest[0].is("WORK"))) =>
            {
                s.in_transaction = true;
                Reply::ok()
            }
            [k, t, ..] if k.is("START") && t.is("TRANSACTION") => {
                s.in_transaction = true;
                Reply::ok()
            }
            [k, ..] if k.is("COMMIT") || k.is("ROLLBACK") => {
                s.in_transaction = false;
                Reply::ok()
            }
            _ => Reply::Decline,
        }
    }

    fn select(
        &mut self,
        s: &Session,
        sql: &str,
        items: &[Token<'_>],
        params: Option<Params<'_, '_>>,
    ) -> Reply {
        let mut cols: Vec<ColumnDef> = Vec::new();
        let mut vals: Vec<Cell> = Vec::new();
        let mut i = 0;
        let mut limit: Option<u64> = None;
        // The row's size: a short statement naming a long variable many times
        // (`SELECT @v,@v,…`) would otherwise make a row thousands of times its
        // size. As MySQL, a row is at most max_allowed_packet (found by fuzzing).
        let mut row_bytes = 0usize;
        loop {
            let Some(t) = items.get(i) else {
                return Reply::Decline;
            };
            if cols.len() == MAX_SELECT_ITEMS {
                return Reply::err(er::ER_TOO_MANY_FIELDS);
            }
            let (first, start) = (i, t.start);
            let (v, next) = match self.expr(s, items, i) {
                Ok(Some(x)) => x,
                Ok(None) => return Reply::Decline,
                Err(e) => return e.reply(),
            };
            let end = items[next - 1].end; // invariant: expr consumed at least one token
            i = next;
            // The column is named as written, a lone string by its text;
            // optional alias: [AS] name
            let mut name = match &t.kind {
                Tok::Str(text) if next == first + 1 => text.to_string(),
                _ => sql[start..end].to_string(),
            };
            let aliased = items
                .get(i)
                .is_some_and(|t| t.kind.is("AS") || bare_alias_of(&t.kind).is_some());
            if items.get(i).is_some_and(|t| t.kind.is("AS")) {
                i += 1;
                match items.get(i).and_then(|t| alias_of(&t.kind)) {
                    Some(a) => name = a,
                    None => return Reply::Decline,
                }
                i += 1;
            } else if let Some(a) = items.get(i).and_then(|t| bare_alias_of(&t.kind)) {
                name = a;
                i += 1;
            }
            let mut c = ColumnDef::new(name.as_bytes(), v.coltype());
            if let Value::Decimal(d) = &v {
                // A literal of more digits than the column fields hold says
                // MySQL's maxima (30 decimals, 65 digits and some).
                let decimals = d.split('.').nth(1).map_or(0, str::len);
                c.decimals = u8::try_from(decimals).unwrap_or(u8::MAX).min(30);
                c.length = u32::try_from(d.len()).unwrap_or(u32::MAX);
            }
            if matches!(v, Value::UInt(_)) {
                c.flags |= crate::protocol::consts::colflag::UNSIGNED;
            }
            if matches!(v, Value::Double(_)) {
                c.decimals = 31; // MySQL's "not fixed": the shortest exact text
            }
            if matches!(v, Value::Bytes(_)) {
                c.charset = crate::protocol::consts::charset::BINARY;
                c.flags |= crate::protocol::consts::colflag::BINARY;
            }
            row_bytes = row_bytes.saturating_add(v.text_len());
            if row_bytes > self.facts.max_packet {
                let msg = format!(
                    "Result of SELECT was larger than max_allowed_packet ({}) - not sent",
                    self.facts.max_packet
                );
                return Reply::err_with(er::ER_WARN_ALLOWED_PACKET_OVERFLOWED, msg.into_bytes());
            }
            // `SELECT ?` of a prepared statement: named `?` and typed as the
            // parameter, as MySQL does
            match params.and_then(|p| p.at(start, end)) {
                Some(b) => {
                    let (mut typed, cell) = param_column(b, &c);
                    if aliased {
                        typed.name = std::mem::take(&mut c.name);
                    }
                    c = typed;
                    vals.push(cell);
                }
                None => vals.push(v.into_cell()),
            }
            cols.push(c);
            match items.get(i).map(|t| &t.kind) {
                Some(Tok::Punct(b',')) => i += 1,
                None => break,
                Some(k) if k.is("FROM") => {
                    if items.get(i + 1).is_some_and(|t| t.kind.is("DUAL")) {
                        i += 2;
                    } else {
                        return Reply::Decline;
                    }
                    match parse_limit(&items[i..]) {
                        Some(l) => limit = l,
                        None => return Reply::Decline,
                    }
                    break;
                }
                Some(k) if k.is("LIMIT") => {
                    match parse_limit(&items[i..]) {
                        Some(l) => limit = l,
                        None => return Reply::Decline,
                    }
                    break;
                }
                Some(_) => return Reply::Decline,
            }
        }
        let rows = if limit == Some(0) {
            Vec::new()
        } else {
            vec![vals]
        };
        Reply::rows(cols, rows)
    }

    /// Evaluates the expression at `items[i]`; returns the value and the index
    /// after it, `Ok(None)` when it is not a recognised expression.
    fn expr(
        &self,
        s: &Session,
        items: &[Token<'_>],
        i: usize,
    ) -> Result<Option<(Value, usize)>, SqlError> {
        let Some(t) = items.get(i) else {
            return Ok(None);
        };
        let call = items.get(i + 1).is_some_and(|t| t.kind == Tok::Punct(b'('))
            && items.get(i + 2).is_some_and(|t| t.kind == Tok::Punct(b')'));
        Ok(Some(match &t.kind {
            Tok::Number(n) => (number(n), i + 1),
            Tok::Punct(b'-') => match items.get(i + 1).map(|t| &t.kind) {
                Some(Tok::Number(n)) => match number(n) {
                    Value::Int(v) => (Value::Int(-v), i + 2),
                    // -9223372036854775808: the digits alone are past i64
                    Value::UInt(u) if u == 1 << 63 => (Value::Int(i64::MIN), i + 2),
                    Value::UInt(u) => (Value::Decimal(format!("-{u}")), i + 2),
                    Value::Decimal(d) => (Value::Decimal(format!("-{d}")), i + 2),
                    Value::Double(d) => (Value::Double(-d), i + 2),
                    _ => return Ok(None),
                },
                _ => return Ok(None),
            },
            // a character set introducer: _binary'…', _utf8mb4 '…'
            Tok::Word(w) if w.starts_with('_') && w.len() > 1 => match items.get(i + 1) {
                Some(Token {
                    kind: Tok::Str(v), ..
                }) => {
                    if self.raw_bytes {
                        (Value::Bytes(latin1_bytes(v)), i + 2)
                    } else if w.eq_ignore_ascii_case("_binary") {
                        (Value::Bytes(v.as_bytes().to_vec()), i + 2)
                    } else {
                        (Value::str(v.to_string()), i + 2)
                    }
                }
                _ => return Ok(None),
            },
            Tok::Str(v) if self.raw_bytes => (Value::Bytes(latin1_bytes(v)), i + 1),
            Tok::Str(v) => (Value::str(v.to_string()), i + 1),
            // X'00ff': a hex literal, as a prepared BLOB parameter is written
            Tok::Word(w) if w.eq_ignore_ascii_case("X") => match items.get(i + 1) {
                Some(Token {
                    kind: Tok::Str(h),
                    start,
                    ..
                }) if *start == t.end => match decode_hex(h) {
                    Some(b) => (Value::Bytes(b), i + 2),
                    None => return Ok(None),
                },
                _ => return Ok(None),
            },
            Tok::SysVar(scope, name) => {
                let global = scope.is_some_and(|sc| sc.eq_ignore_ascii_case("global"));
                match vars::get(name, global, &self.facts, s) {
                    Some(v) => (v, i + 1),
                    None => return Err(SqlError::unknown_var(name)),
                }
            }
            Tok::UserVar(name) => (
                s.var(&format!("@{name}")).cloned().unwrap_or(Value::Null),
                i + 1,
            ),
            Tok::Word(w) if w.eq_ignore_ascii_case("NULL") => (Value::Null, i + 1),
            Tok::Word(w) if w.eq_ignore_ascii_case("TRUE") => (Value::Int(1), i + 1),
            Tok::Word(w) if w.eq_ignore_ascii_case("FALSE") => (Value::Int(0), i + 1),
            Tok::Word(w) if call || w.eq_ignore_ascii_case("CURRENT_USER") => {
                let next = if call { i + 3 } else { i + 1 };
                match self.function(s, w) {
                    Some(v) => (v, next),
                    None => return Ok(None),
                }
            }
            _ => return Ok(None),
        }))
    }

    fn function(&self, s: &Session, name: &str) -> Option<Value> {
        let n = name.to_ascii_uppercase();
        Some(match n.as_str() {
            "DATABASE" | "SCHEMA" => s.database.clone().map_or(Value::Null, Value::str),
            "USER" | "SESSION_USER" | "SYSTEM_USER" => {
                Value::str(format!("{}@{}", s.user, s.peer.host()))
            }
            "CURRENT_USER" => Value::str(format!("{}@%", s.user)),
            "VERSION" => Value::str(self.facts.version.clone()),
            "CONNECTION_ID" => Value::Int(i64::from(s.id)),
            "LAST_INSERT_ID" => Value::Int(s.last_insert_id as i64),
            "ROW_COUNT" => Value::Int(-1),
            "FOUND_ROWS" => Value::Int(0),
            _ => return None,
        })
    }

    fn show(&mut self, s: &Session, rest: &[&Tok<'_>]) -> Reply {
        let (global, rest) = match rest.split_first() {
            Some((k, r)) if k.is("GLOBAL") => (true, r),
            Some((k, r)) if k.is("SESSION") || k.is("LOCAL") => (false, r),
            _ => (false, rest),
        };
        match rest {
            [k] if k.is("DATABASES") || k.is("SCHEMAS") => {
                Reply::Canned(self.show_databases.clone())
            }
            [k, filter @ ..] if k.is("VARIABLES") => {
                let filter = match Filter::parse(filter) {
                    Ok(f) => f,
                    Err(e) => return e.reply(),
                };
                let rows = vars::all(global, &self.facts, s);
                name_value_table(rows.into_iter().filter(|(k, _)| filter.accepts(k)))
            }
            [k, filter @ ..] if k.is("STATUS") => {
                let filter = match Filter::parse(filter) {
                    Ok(f) => f,
                    Err(e) => return e.reply(),
                };
                let rows = self.status_rows(s);
                name_value_table(rows.into_iter().filter(|(k, _)| filter.accepts(k)))
            }
            [k, ..] if k.is("WARNINGS") || k.is("ERRORS") => {
                let cols = vec![
                    ColumnDef::new(b"Level", coltype::VAR_STRING),
                    ColumnDef::new(b"Code", coltype::LONG),
                    ColumnDef::new(b"Message", coltype::VAR_STRING),
                ];
                Reply::rows(cols, Vec::new())
            }
            [k, ..]
                if k.is("TABLES")
                    || (k.is("FULL") && rest.get(1).is_some_and(|t| t.is("TABLES"))) =>
            {
                let Some(db) = s.database.as_deref() else {
                    return Reply::err(er::ER_NO_DB_ERROR);
                };
                let name = format!("Tables_in_{db}");
                Reply::rows(
                    vec![ColumnDef::new(name.as_bytes(), coltype::VAR_STRING)],
                    Vec::new(),
                )
            }
            [k, ..] if k.is("COLLATION") => {
                let cols = [
                    "Collation",
                    "Charset",
                    "Id",
                    "Default",
                    "Compiled",
                    "Sortlen",
                ];
                let rows: [[&str; 6]; 4] = [
                    ["latin1_swedish_ci", "latin1", "8", "Yes", "Yes", "1"],
                    ["utf8mb3_general_ci", "utf8mb3", "33", "Yes", "Yes", "1"],
                    ["utf8mb4_general_ci", "utf8mb4", "45", "", "Yes", "1"],
                    ["binary", "binary", "63", "Yes", "Yes", "1"],
                ];
                text_table(&cols, rows.iter().map(|r| r.as_slice()))
            }
            [k, c, ..] if k.is("CHARACTER") && c.is("SET") => {
                let cols = ["Charset", "Description", "Default collation", "Maxlen"];
                let rows: [[&str; 4]; 4] = [
                    ["binary", "Binary pseudo charset", "binary", "1"],
                    ["latin1", "cp1252 West European", "latin1_swedish_ci", "1"],
                    ["utf8mb3", "UTF-8 Unicode", "utf8mb3_general_ci", "3"],
                    ["utf8mb4", "UTF-8 Unicode", "utf8mb4_0900_ai_ci", "4"],
                ];
                text_table(&cols, rows.iter().map(|r| r.as_slice()))
            }
            _ => Reply::Decline,
        }
    }

    fn status_rows(&self, s: &Session) -> Vec<(String, String)> {
        let st = &self.stats;
        let (version, cipher) = s.tls.as_deref().copied().unwrap_or(("", ""));
        let mut rows = vec![
            (
                "Aborted_connects".to_string(),
                st.handshakes_failed.get().to_string(),
            ),
            ("Bytes_received".to_string(), st.bytes_in.get().to_string()),
            ("Bytes_sent".to_string(), st.bytes_out.get().to_string()),
            (
                "Compression".to_string(),
                if s.compression.is_some() { "ON" } else { "OFF" }.to_string(),
            ),
            (
                "Compression_algorithm".to_string(),
                s.compression.map_or("", |a| a.name()).to_string(),
            ),
            (
                "Compression_level".to_string(),
                s.compression.map_or(0, |a| a.level()).to_string(),
            ),
            ("Connections".to_string(), st.accepted.get().to_string()),
            ("Questions".to_string(), st.total_commands().to_string()),
            ("Ssl_cipher".to_string(), cipher.to_string()),
            ("Ssl_version".to_string(), version.to_string()),
            ("Threads_connected".to_string(), st.open.get().to_string()),
            (
                "Uptime".to_string(),
                st.started.elapsed().as_secs().to_string(),
            ),
        ];
        rows.sort();
        rows
    }

    fn set(&mut self, s: &mut Session, toks: &[Token<'_>]) -> Reply {
        if is_cut(toks) {
            // Longer than any SET we could carry out: refused before any of
            // it is applied.
            return SqlError::too_long().reply();
        }
        if let Err(e) = self.assign(s, toks) {
            return e.reply();
        }
        Reply::ok()
    }

    /// Carries out a SET list in order; an error stops it there (earlier
    /// assignments stay done, as with MySQL's SET of several variables when
    /// one fails at run time).
    fn assign(&mut self, s: &mut Session, toks: &[Token<'_>]) -> Result<(), SqlError> {
        for assignment in split_top_level(toks) {
            let k: Vec<&Tok<'_>> = assignment.iter().map(|t| &t.kind).collect();
            match k.as_slice() {
                [n, cs, rest @ ..] if n.is("NAMES") => {
                    let Some(cs) = name_of(cs) else {
                        return Err(SqlError::syntax());
                    };
                    let cs = if cs.eq_ignore_ascii_case("DEFAULT") {
                        "utf8mb4".to_string()
                    } else {
                        cs
                    };
                    for v in [
                        "character_set_client",
                        "character_set_connection",
                        "character_set_results",
                    ] {
                        set_var(s, v, Value::str(cs.clone()))?;
                    }
                    let coll = match rest {
                        [c, name] if c.is("COLLATE") => name_of(name),
                        _ => None,
                    };
                    set_var(
                        s,
                        "collation_connection",
                        Value::str(coll.unwrap_or_else(|| default_collation(&cs))),
                    )?;
                }
                [c, sset, cs]
                    if (c.is("CHARACTER") && sset.is("SET"))
                        || (c.is("CHARSET") && *sset == *cs) =>
                {
                    let Some(cs) = name_of(cs) else {
                        return Err(SqlError::syntax());
                    };
                    set_var(s, "character_set_client", Value::str(cs.clone()))?;
                    set_var(s, "character_set_results", Value::str(cs))?;
                }
                [c, cs] if c.is("CHARSET") => {
                    let Some(cs) = name_of(cs) else {
                        return Err(SqlError::syntax());
                    };
                    set_var(s, "character_set_client", Value::str(cs.clone()))?;
                    set_var(s, "character_set_results", Value::str(cs))?;
                }
                [t, ..] if t.is("TRANSACTION") => set_transaction(s, &k[1..])?,
                [scope, t, ..]
                    if (scope.is("SESSION") || scope.is("GLOBAL") || scope.is("LOCAL"))
                        && t.is("TRANSACTION") =>
                {
                    set_transaction(s, &k[2..])?
                }
                _ => {
                    // [GLOBAL|SESSION|LOCAL|PERSIST] name = expr, @@[scope.]name = expr, @name = expr
                    let mut j = 0;
                    if k.first().is_some_and(|t| {
                        t.is("GLOBAL") || t.is("SESSION") || t.is("LOCAL") || t.is("PERSIST")
                    }) {
                        j = 1;
                    }
                    let name = match k.get(j) {
                        Some(Tok::Word(w)) => w.to_string(),
                        Some(Tok::Ident(w)) => w.to_string(),
                        Some(Tok::SysVar(_, w)) => w.to_string(),
                        Some(Tok::UserVar(w)) => format!("@{w}"),
                        _ => return Err(SqlError::syntax()),
                    };
                    if k.get(j + 1) != Some(&&Tok::Punct(b'=')) {
                        return Err(SqlError::syntax());
                    }
                    let rhs = &assignment[j + 2..];
                    let value = self.set_value(s, &name, rhs)?;
                    if name.eq_ignore_ascii_case("autocommit") {
                        let on = match &value {
                            Some(Value::Int(i)) => *i != 0,
                            Some(Value::Str(v)) => {
                                v.eq_ignore_ascii_case("ON") || v.eq_ignore_ascii_case("TRUE")
                            }
                            _ => true,
                        };
                        if on && !s.autocommit {
                            s.in_transaction = false; // enabling autocommit commits
                        }
                        s.autocommit = on;
                    } else if let Some(v) = value {
                        set_var(s, &name, v)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// The value of the right-hand side of a SET; `Ok(None)` for an expression
    /// too complex to evaluate (accepted, not stored: drivers' `SET sql_mode =
    /// CONCAT(...)` must not fail).
    fn set_value(
        &self,
        s: &Session,
        name: &str,
        rhs: &[Token<'_>],
    ) -> Result<Option<Value>, SqlError> {
        match rhs.iter().map(|t| &t.kind).collect::<Vec<_>>().as_slice() {
            [] => Err(SqlError::syntax()),
            [Tok::Word(w)] if w.eq_ignore_ascii_case("DEFAULT") => {
                Ok(vars::get(name, true, &self.facts, s))
            }
            [Tok::Word(w)] if w.eq_ignore_ascii_case("ON") || w.eq_ignore_ascii_case("TRUE") => {
                Ok(Some(Value::Int(1)))
            }
            [Tok::Word(w)] if w.eq_ignore_ascii_case("OFF") || w.eq_ignore_ascii_case("FALSE") => {
                Ok(Some(Value::Int(0)))
            }
            [Tok::Word(w)] if w.eq_ignore_ascii_case("NULL") => Ok(Some(Value::Null)),
            [Tok::Word(w)] => Ok(Some(Value::str(w.to_string()))),
            _ => match self.expr(s, rhs, 0)? {
                Some((v, n)) if n == rhs.len() => Ok(Some(v)),
                _ => Ok(None),
            },
        }
    }
}

/// True for a statement that only changes session settings the server tracks
/// itself: `SET NAMES`, `SET CHARACTER SET`, `SET [SESSION] TRANSACTION ...`, and
/// `SET` of system variables (autocommit among them) — not user variables. Every
/// driver sends some of these on connect; scripts see them only when asked to.
pub fn is_session_setting(sql: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(sql) else {
        return false;
    };
    // Every query of a script's connection comes here: look at the first
    // token before cutting the whole text into tokens.
    if !sql::Lexer::new(text)
        .next()
        .is_some_and(|t| t.is_ok_and(|t| t.kind.is("SET")))
    {
        return false;
    }
    let Ok(toks) = sql::tokenize(text) else {
        return false;
    };
    let Some((_, rest)) = toks.split_first() else {
        return false;
    };
    if rest.is_empty() || is_cut(rest) {
        return false;
    }
    split_top_level(rest)
        .into_iter()
        .all(|a| match a.first().map(|t| &t.kind) {
            Some(Tok::SysVar(..)) => true,
            Some(Tok::UserVar(_)) | None => false,
            Some(k)
                if k.is("NAMES") || k.is("CHARSET") || k.is("CHARACTER") || k.is("TRANSACTION") =>
            {
                true
            }
            Some(Tok::Word(_)) => a.get(1).is_some_and(|t| {
                t.kind == Tok::Punct(b'=')
                    || t.kind.is("TRANSACTION")
                    || matches!(t.kind, Tok::Word(_))
            }),
            _ => false,
        })
}

/// True for what drivers send on their own when they connect, which the
/// server answers before a script sees it (unless `--lua-all-queries`): a
/// session setting ([`is_session_setting`]), a read of system variables only
/// (`SELECT @@a, @@session.b AS b … [LIMIT n]`: the Rust `mysql` crate,
/// Connector/J, the mysql CLI's `@@version_comment`), and `SHOW VARIABLES`.
pub fn is_bootstrap(sql: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(sql) else {
        return false;
    };
    // Every query of a script's connection comes here: the tokens are read
    // one at a time and the first that does not fit ends it (no token list
    // is built for a script's own SELECTs).
    // A statement the lexer refuses (an unterminated quote) is not one.
    let lex_error = std::cell::Cell::new(false);
    let mut toks = sql::Lexer::new(text.trim().trim_end_matches(';'))
        .map_while(|t| t.map_err(|_| lex_error.set(true)).ok());
    let Some(first) = toks.next() else {
        return false;
    };
    if first.kind.is("SET") {
        return is_session_setting(sql);
    }
    let fits = if first.kind.is("SHOW") {
        let show = match toks.next().map(|t| t.kind) {
            Some(g) if g.is("GLOBAL") || g.is("SESSION") => {
                toks.next().is_some_and(|t| t.kind.is("VARIABLES"))
            }
            Some(v) => v.is("VARIABLES"),
            None => false,
        };
        show && toks.all(|_| true) // the rest must lex, as the answer reads it
    } else {
        first.kind.is("SELECT") && variable_items(&mut toks)
    };
    fits && !lex_error.get()
}

/// `@@a [AS x], @@b … [LIMIT n]`: system variables only.
fn variable_items<'a>(k: impl Iterator<Item = Token<'a>>) -> bool {
    let mut k = k.map(|t| t.kind).peekable();
    loop {
        if !matches!(k.next(), Some(Tok::SysVar(..))) {
            return false;
        }
        match k.peek() {
            Some(t) if t.is("AS") => {
                k.next();
                k.next();
            }
            Some(Tok::Word(w)) if !w.eq_ignore_ascii_case("LIMIT") => {
                k.next();
            }
            _ => {}
        }
        match k.next() {
            None => return true,
            Some(Tok::Punct(b',')) => {}
            Some(l) if l.is("LIMIT") => {
                return matches!(k.next(), Some(Tok::Number(_))) && k.next().is_none();
            }
            Some(_) => return false,
        }
    }
}

/// Splits a SET list at commas outside parentheses
/// (`sql_mode = CONCAT(@@sql_mode, ',X'), autocommit = 1` is two assignments).
fn split_top_level<'t, 'a>(toks: &'t [Token<'a>]) -> Vec<&'t [Token<'a>]> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, t) in toks.iter().enumerate() {
        match t.kind {
            Tok::Punct(b'(') => depth = depth.saturating_add(1),
            Tok::Punct(b')') => depth = depth.saturating_sub(1),
            Tok::Punct(b',') if depth == 0 => {
                out.push(&toks[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&toks[start..]);
    out
}

fn set_transaction(s: &mut Session, k: &[&Tok<'_>]) -> Result<(), SqlError> {
    if let [i, l, level @ ..] = k {
        if i.is("ISOLATION") && l.is("LEVEL") {
            let words: Vec<String> = level
                .iter()
                .take(2)
                .filter_map(|t| {
                    if let Tok::Word(w) = t {
                        Some(w.to_ascii_uppercase())
                    } else {
                        None
                    }
                })
                .collect();
            set_var(s, "transaction_isolation", Value::str(words.join("-")))?;
        }
    }
    if k.windows(2).any(|w| w[0].is("READ") && w[1].is("ONLY")) {
        set_var(s, "transaction_read_only", Value::Int(1))?;
    }
    Ok(())
}

/// Sets a session variable; a limit of [`Session::set_var`] is the SET's error.
fn set_var(s: &mut Session, name: &str, value: Value) -> Result<(), SqlError> {
    // a system variable under its alias is stored under its own name, so
    // `SET tx_isolation = …` is what `@@transaction_isolation` reads
    let name = if name.starts_with('@') {
        name
    } else {
        vars::canonical(name)
    };
    s.set_var(name, value).map_err(|e| SqlError {
        code: e.code(),
        state: e.sqlstate(),
        message: e.message(name),
    })
}

/// True when the tokens end in the uncut rest of a statement longer than
/// [`sql::MAX_TOKENS`].
fn is_cut(toks: &[Token<'_>]) -> bool {
    toks.last().is_some_and(|t| matches!(t.kind, Tok::Rest(_)))
}

fn default_collation(cs: &str) -> String {
    match cs.to_ascii_lowercase().as_str() {
        "utf8mb4" => "utf8mb4_0900_ai_ci".into(),
        "binary" => "binary".into(),
        "latin1" => "latin1_swedish_ci".into(),
        other => format!("{other}_general_ci"),
    }
}

impl Responder for Builtin {
    fn answer(&mut self, s: &mut Session, req: &Request<'_>) -> Answer {
        if self.bootstrap_only {
            return match req.command {
                Command::Query(sql) if req.part != Part::Whole && is_bootstrap(sql) => {
                    self.query(s, sql, req.execution).into()
                }
                _ => Answer::decline(),
            };
        }
        let reply = match req.command {
            Command::Query(_) if req.part == Part::Whole => Reply::Decline,
            Command::Query(sql) => self.query(s, sql, req.execution),
            Command::InitDb(db) => {
                s.set_database(Some(String::from_utf8_lossy(db).into_owned()));
                Reply::ok()
            }
            Command::Ping => Reply::ok(),
            Command::ResetConnection => {
                s.reset();
                Reply::ok()
            }
            Command::SetOption(v) if *v > 1 => Reply::err(er::ER_UNKNOWN_COM_ERROR),
            Command::SetOption(v) => {
                s.multi_statements = *v == 0;
                Reply::Eof
            }
            Command::Statistics => {
                let st = &self.stats;
                let up = st.started.elapsed().as_secs().max(1);
                let q = st.total_commands();
                let text = format!(
                    "Uptime: {up}  Threads: {}  Questions: {q}  Slow queries: 0  Opens: 0  Flush tables: 1  Open tables: 0  Queries per second avg: {:.3}",
                    st.open.get(),
                    q as f64 / up as f64
                );
                Reply::Raw(vec![text.into_bytes()])
            }
            // No tables exist: an empty column list, ended as the client expects.
            Command::FieldList { .. } => Reply::Eof,
            Command::Quit => Reply::Nothing,
            _ => Reply::Decline,
        };
        reply.into()
    }

    fn listening(&mut self, addr: std::net::SocketAddr) {
        self.facts.port = addr.port();
    }
}

/// An error produced while evaluating a statement.
struct SqlError {
    code: u16,
    state: &'static str,
    message: String,
}

impl SqlError {
    fn unknown_var(name: &str) -> SqlError {
        SqlError {
            code: 1193,
            state: "HY000",
            message: format!("Unknown system variable '{name}'"),
        }
    }

    fn syntax() -> SqlError {
        SqlError {
            code: UNKNOWN_QUERY_CODE,
            state: "HY000",
            message: UNKNOWN_QUERY_MSG.to_string(),
        }
    }

    /// A statement cut at [`sql::MAX_TOKENS`] where all of it matters.
    fn too_long() -> SqlError {
        SqlError {
            code: 1105,
            state: "HY000",
            message: format!(
                "Statement too long for the built-in answers (more than {} tokens)",
                sql::MAX_TOKENS
            ),
        }
    }

    fn reply(self) -> Reply {
        Reply::Err(ErrReply {
            code: self.code,
            sqlstate: Cow::Borrowed(self.state),
            message: Cow::Owned(self.message.into_bytes()),
        })
    }
}

/// A prepared statement's parameters as the built-in SELECT sees them: the
/// literal at `start..end` of the statement (its text after `shift` bytes
/// of leading space) is parameter `k` when it is exactly where the server
/// substituted value `k`.
#[derive(Clone, Copy)]
struct Params<'e, 'a> {
    exec: &'e Execution<'a>,
    shift: usize,
}

impl<'e, 'a> Params<'e, 'a> {
    fn at(self, start: usize, end: usize) -> Option<&'e BinValue<'a>> {
        // the literals are in text order: a binary search, so that a SELECT
        // of 4,096 items over 65,535 parameters stays linear-logarithmic
        let span = (start + self.shift, end + self.shift);
        let k = self.exec.literals.binary_search(&span).ok()?;
        self.exec.values.get(k)
    }
}

/// The column and cell of `SELECT ?`: named `?`, typed by the value bound.
fn param_column(v: &BinValue<'_>, like: &ColumnDef) -> (ColumnDef, Cell) {
    use crate::protocol::consts::{charset, colflag};
    let (t, cell) = match *v {
        BinValue::Null => (coltype::NULL, Cell::Null),
        BinValue::Int(i) => (coltype::LONGLONG, Cell::Int(i)),
        BinValue::UInt(u) => (coltype::LONGLONG, Cell::UInt(u)),
        BinValue::Float(f) => (coltype::FLOAT, Cell::Double(f64::from(f))),
        BinValue::Double(d) => (coltype::DOUBLE, Cell::Double(d)),
        BinValue::Date(d) => (coltype::DATE, Cell::Date(d)),
        BinValue::DateTime(d) => (coltype::DATETIME, Cell::DateTime(d)),
        BinValue::Time(t) => (coltype::TIME, Cell::Time(t)),
        // strings, blobs and decimals: as their literal was typed
        BinValue::Bytes(b) => {
            let c = ColumnDef {
                name: b"?".to_vec(),
                ..like.clone()
            };
            return (c, Cell::Bytes(Cow::Owned(b.to_vec())));
        }
    };
    let mut c = ColumnDef::new(b"?", t);
    if matches!(v, BinValue::UInt(_)) {
        c.flags |= colflag::UNSIGNED;
    }
    let micros = match v {
        BinValue::DateTime(d) => d.micros != 0,
        BinValue::Time(t) => t.micros != 0,
        _ => false,
    };
    if micros {
        c.decimals = 6;
    }
    if matches!(v, BinValue::Double(_) | BinValue::Float(_)) {
        c.decimals = 31; // MySQL's "not fixed": print the shortest exact text
    }
    c.charset = if matches!(t, coltype::NULL) {
        charset::BINARY
    } else {
        c.charset
    };
    (c, cell)
}

/// The bytes of text read as latin1 (every char below 256).
fn latin1_bytes(v: &str) -> Vec<u8> {
    v.chars()
        .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
        .collect()
}

/// The bytes of a hex literal's digits (an even number of them).
fn decode_hex(h: &str) -> Option<Vec<u8>> {
    let d = h.as_bytes();
    if !d.len().is_multiple_of(2) {
        return None;
    }
    let nib = |c: u8| (c as char).to_digit(16).map(|v| v as u8);
    d.chunks_exact(2)
        .map(|p| Some(nib(p[0])? << 4 | nib(p[1])?))
        .collect()
}

fn number(n: &str) -> Value {
    match n.parse::<i64>() {
        Ok(i) => Value::Int(i),
        Err(_) => match n.parse::<u64>() {
            Ok(u) => Value::UInt(u),
            // a literal with an exponent is a DOUBLE, as in MySQL
            Err(_) if n.contains(['e', 'E']) => match n.parse::<f64>() {
                Ok(d) if d.is_finite() => Value::Double(d),
                _ => Value::Decimal(n.to_string()),
            },
            Err(_) => Value::Decimal(n.to_string()),
        },
    }
}

fn name_of(t: &Tok<'_>) -> Option<String> {
    match t {
        Tok::Word(w) => Some(w.to_string()),
        Tok::Ident(w) | Tok::Str(w) => Some(w.to_string()),
        _ => None,
    }
}

fn alias_of(t: &Tok<'_>) -> Option<String> {
    name_of(t)
}

/// An alias without AS: a bare word that is not a keyword that may follow an item.
fn bare_alias_of(t: &Tok<'_>) -> Option<String> {
    match t {
        Tok::Word(w)
            if ["FROM", "LIMIT", "AS"]
                .iter()
                .any(|k| w.eq_ignore_ascii_case(k)) =>
        {
            None
        }
        Tok::Word(_) | Tok::Ident(_) | Tok::Str(_) => name_of(t),
        _ => None,
    }
}

/// `LIMIT n`, `LIMIT m, n`, `LIMIT n OFFSET m` (or nothing): `Some(limit)` with
/// the effective row limit for a one-row answer, `None` when it is not a limit.
fn parse_limit(t: &[Token<'_>]) -> Option<Option<u64>> {
    let k: Vec<&Tok<'_>> = t.iter().map(|t| &t.kind).collect();
    let num = |t: &Tok<'_>| match t {
        Tok::Number(n) => n.parse::<u64>().ok(),
        _ => None,
    };
    match k.as_slice() {
        [] => Some(None),
        [l, n] if l.is("LIMIT") => Some(Some(num(n)?)),
        [l, off, Tok::Punct(b','), n] if l.is("LIMIT") => {
            Some(Some(if num(off)? > 0 { 0 } else { num(n)? }))
        }
        [l, n, o, off] if l.is("LIMIT") && o.is("OFFSET") => {
            Some(Some(if num(off)? > 0 { 0 } else { num(n)? }))
        }
        _ => None,
    }
}

/// Most `LIKE` alternatives a SHOW … WHERE may have. Each is matched against
/// every row (up to about 4,200 with a session's [`MAX_VARS`] variables), so
/// their number multiplies the work; clients send one or two (GUI tools a
/// handful). `=` alternatives cost one lookup per row and have no limit of
/// their own (the statement's token limit bounds them).
///
/// [`MAX_VARS`]: super::session::MAX_VARS
pub const MAX_WHERE_LIKES: usize = 16;

/// Most items of a SELECT: MySQL's limit on a table's or a result's columns.
pub const MAX_SELECT_ITEMS: usize = 4096;

/// SHOW ... LIKE 'p' / WHERE Variable_name = 'x' [OR ...] / nothing. Patterns
/// are prepared once for all rows.
enum Filter {
    All,
    Like(sql::Like),
    /// The alternatives of a WHERE clause: names compared with `=` (lower-cased)
    /// and LIKE patterns.
    Any {
        names: HashSet<String>,
        likes: Vec<sql::Like>,
    },
}

impl Filter {
    fn parse(t: &[&Tok<'_>]) -> Result<Filter, SqlError> {
        if t.last().is_some_and(|k| matches!(k, Tok::Rest(_))) {
            return Err(SqlError::too_long());
        }
        match t {
            [] => Ok(Filter::All),
            [l, Tok::Str(p)] if l.is("LIKE") => Ok(Filter::Like(sql::Like::new(p))),
            [w, rest @ ..] if w.is("WHERE") => {
                let mut names = HashSet::new();
                let mut likes = Vec::new();
                let mut like = false;
                for k in rest {
                    match k {
                        Tok::Word(w) if w.eq_ignore_ascii_case("LIKE") => like = true,
                        Tok::Punct(b'=') => like = false,
                        Tok::Str(p) if like => {
                            if likes.len() == MAX_WHERE_LIKES {
                                return Err(SqlError {
                                    code: 1105,
                                    state: "HY000",
                                    message: format!(
                                        "SHOW ... WHERE takes at most {MAX_WHERE_LIKES} LIKE alternatives"
                                    ),
                                });
                            }
                            likes.push(sql::Like::new(p));
                        }
                        Tok::Str(p) => {
                            names.insert(p.to_ascii_lowercase());
                        }
                        _ => {}
                    }
                }
                Ok(Filter::Any { names, likes })
            }
            _ => Err(SqlError::syntax()),
        }
    }

    fn accepts(&self, name: &str) -> bool {
        match self {
            Filter::All => true,
            Filter::Like(p) => p.matches(name),
            Filter::Any { names, likes } => {
                let listed = if name.bytes().any(|b| b.is_ascii_uppercase()) {
                    names.contains(&name.to_ascii_lowercase())
                } else {
                    names.contains(name)
                };
                listed || likes.iter().any(|p| p.matches(name))
            }
        }
    }
}

fn name_value_table(rows: impl Iterator<Item = (String, String)>) -> Reply {
    let cols = vec![
        ColumnDef::new(b"Variable_name", coltype::VAR_STRING),
        ColumnDef::new(b"Value", coltype::VAR_STRING),
    ];
    let rows = rows
        .map(|(k, v)| {
            vec![
                Cell::Bytes(Cow::Owned(k.into_bytes())),
                Cell::Bytes(Cow::Owned(v.into_bytes())),
            ]
        })
        .collect();
    Reply::rows(cols, rows)
}

fn text_table<'r>(cols: &[&str], rows: impl Iterator<Item = &'r [&'r str]>) -> Reply {
    let defs: Vec<ColumnDef> = cols
        .iter()
        .map(|c| ColumnDef::new(c.as_bytes(), coltype::VAR_STRING))
        .collect();
    let rows = rows
        .map(|r| {
            r.iter()
                .map(|c| Cell::Bytes(Cow::Owned(c.as_bytes().to_vec())))
                .collect()
        })
        .collect();
    Reply::rows(defs, rows)
}

#[cfg(test)]
mod tests {
    use super::is_bootstrap;

    /// What the server answers before a script: the drivers' own reads.
    #[test]
    fn bootstrap_statements_and_not() {
        for yes in [
            "SELECT @@max_allowed_packet",
            "select @@version_comment limit 1",
            "/* mysql-connector-java */SELECT @@session.auto_increment_increment AS a, @@b",
            "SELECT @@max_allowed_packet,@@system_time_zone,@@time_zone",
            "SHOW VARIABLES LIKE 'sql_mode'",
            "SHOW SESSION VARIABLES",
            "SET NAMES utf8mb4",
            "SELECT @@a;",
        ] {
            assert!(is_bootstrap(yes.as_bytes()), "{yes}");
        }
        for no in [
            "SELECT 1",
            "SELECT @@a, 1",
            "SELECT @@a LIMIT x",
            "SELECT @@a 'unterminated",
            "SHOW VARIABLES LIKE 'unterminated",
            "SHOW DATABASES",
            "SET @user = 1",
            "SELECT c FROM sbtest1 WHERE id=5",
            "",
        ] {
            assert!(!is_bootstrap(no.as_bytes()), "{no}");
        }
    }
}
