//! The admin port: a MySQL-speaking control interface (as MySQL Proxy had
//! one), so any client or test framework drives it. Opened only with
//! `--admin-port` and `--admin-user`; its connections do not count against
//! `--max-connections` and its commands are not journaled.
//!
//! Statements (each answered with a resultset or an OK):
//! `SHOW STATS`, `SHOW RULES`, `SHOW JOURNAL [LIKE 'p'] [LIMIT n]`,
//! `SHOW UNMATCHED`, `SHOW CONNECTIONS`, `RESET JOURNAL`, `RESET STATS`,
//! `LOAD RULES 'path'`, `ADD RULE '<json>'`, `DELETE RULE 'name'`,
//! `KILL [CONNECTION] n`, `WAIT FOR JOURNAL LIKE 'p' [TIMEOUT s]`.
//!
//! What needs the loop (the list of connections, closing one) goes through
//! the [`Registry`] the loop serves after each turn; the answer comes as a
//! [`Reply::Later`], so nobody waits. WAIT FOR JOURNAL is a `Later` too,
//! answered as soon as a matching command is journaled.

use crate::journal::{Event, Journal, What};
use crate::protocol::command::Command;
use crate::protocol::consts::coltype;
use crate::protocol::errcodes as er;
use crate::protocol::response::ColumnDef;
use crate::responder::reply::{Answer, Cell, Later, OkReply, Reply};
use crate::responder::sql::{self, Like, Tok};
use crate::responder::{Request, Responder, Session};
use crate::rules::responder::RuleState;
use crate::rules::{Pattern, Template};
use crate::stats::Stats;
use std::borrow::Cow;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// WAIT FOR JOURNAL's timeout when none is given.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(10);
/// Longest WAIT FOR JOURNAL: an hour (a test that waits longer is stuck).
pub const MAX_WAIT: Duration = Duration::from_secs(3600);
/// How long SHOW CONNECTIONS and KILL wait for the loop (it answers them
/// at the end of the same turn; this only bounds a bug).
const LOOP_ANSWER: Duration = Duration::from_secs(5);

/// An open client connection, as SHOW CONNECTIONS lists it.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    /// Connection id.
    pub id: u32,
    /// User.
    pub user: String,
    /// Default database.
    pub database: Option<String>,
    /// Client address.
    pub address: String,
    /// `handshake`, `idle`, `sending`, `delayed`, `stalled`, `closing`, …
    pub state: &'static str,
    /// Seconds since its last command.
    pub idle_secs: u64,
}

/// What the admin port asks of the loop, and the loop's answers.
#[derive(Debug, Default)]
pub struct Registry {
    /// A list of the connections is wanted.
    pub wanted: bool,
    /// Requests for a list so far.
    pub requests: u64,
    /// The latest list, and the request it answers.
    pub snapshot: Option<Vec<ConnInfo>>,
    /// The request the snapshot answers.
    pub snapshot_for: u64,
    /// Connection ids to close.
    pub kills: Vec<u32>,
    /// Kills done: (id, it was open).
    pub killed: Vec<(u32, bool)>,
}

/// Answers the admin port's statements.
pub struct AdminResponder {
    rules: Rc<RefCell<RuleState>>,
    journal: Journal,
    stats: Arc<Stats>,
    registry: Rc<RefCell<Registry>>,
}

impl AdminResponder {
    /// An admin responder over the server's rules, journal, counters and loop.
    pub fn new(
        rules: Rc<RefCell<RuleState>>,
        journal: Journal,
        stats: Arc<Stats>,
        registry: Rc<RefCell<Registry>>,
    ) -> AdminResponder {
        AdminResponder {
            rules,
            journal,
            stats,
            registry,
        }
    }

    fn statement(&mut self, text: &str) -> Reply {
        let toks = match sql::tokenize(text) {
            Ok(t) => t,
            Err(_) => return syntax(text),
        };
        let word = |i: usize| match toks.get(i).map(|t| &t.kind) {
            Some(Tok::Word(w)) => w.to_ascii_uppercase(),
            _ => String::new(),
        };
        let string = |i: usize| match toks.get(i).map(|t| &t.kind) {
            Some(Tok::Str(s)) => Some(s.to_string()),
            _ => None,
        };
        let number = |i: usize| match toks.get(i).map(|t| &t.kind) {
            Some(Tok::Number(n)) => n.parse::<u64>().ok(),
            _ => None,
        };
        let mut n = toks.len();
        if matches!(toks.last().map(|t| &t.kind), Some(Tok::Punct(b';'))) {
            n -= 1;
        }
        match (word(0).as_str(), word(1).as_str()) {
            ("SHOW", "STATS") if n == 2 => self.show_stats(),
            ("SHOW", "RULES") if n == 2 => self.show_rules(),
            ("SHOW", "UNMATCHED") if n == 2 => self.show_unmatched(),
            ("SHOW", "CONNECTIONS" | "PROCESSLIST") if n == 2 => {
                let mut r = self.registry.borrow_mut();
                r.wanted = true;
                r.requests += 1;
                Reply::Later(Box::new(ConnectionsLater {
                    registry: self.registry.clone(),
                    asked: r.requests,
                    deadline: deadline(LOOP_ANSWER),
                }))
            }
            ("SHOW", "JOURNAL") => {
                let mut i = 2;
                let mut like = None;
                let mut limit = None;
                if word(i) == "LIKE" {
                    let Some(p) = string(i + 1) else {
                        return syntax(text);
                    };
                    like = Some(Like::new(&p));
                    i += 2;
                }
                if word(i) == "LIMIT" {
                    let Some(l) = number(i + 1) else {
                        return syntax(text);
                    };
                    limit = Some(l as usize);
                    i += 2;
                }
                if i != n {
                    return syntax(text);
                }
                self.show_journal(like.as_ref(), limit)
            }
            ("RESET", "JOURNAL") if n == 2 => {
                self.journal.reset();
                self.rules.borrow_mut().reset_unmatched();
                Reply::ok()
            }
            ("RESET", "STATS") if n == 2 => {
                self.stats.reset();
                for r in self.rules.borrow().rules() {
                    r.hits.set(0);
                }
                Reply::ok()
            }
            ("LOAD", "RULES") if n == 3 => match string(2) {
                Some(p) => {
                    let r = self.rules.borrow_mut().add_source(std::path::Path::new(&p));
                    match r {
                        Ok(count) => {
                            ok_info(count as u64, format!("{count} rules loaded from {p}"))
                        }
                        Err(e) => error(&format!("LOAD RULES: {e}")),
                    }
                }
                None => syntax(text),
            },
            ("ADD", "RULE") => match raw_string(text) {
                Some(json) => {
                    let r = self.rules.borrow_mut().add_rule(&json);
                    match r {
                        Ok(name) => ok_info(1, format!("rule {name} added")),
                        Err(e) => error(&format!("ADD RULE: {e}")),
                    }
                }
                None => syntax(text),
            },
            ("DELETE", "RULE") if n == 3 => match string(2) {
                Some(name) => match self.rules.borrow_mut().delete(&name) {
                    Ok(true) => ok_info(1, format!("rule {name} deleted")),
                    Ok(false) => error(&format!("DELETE RULE: no rule named {name:?}")),
                    Err(e) => error(&format!("DELETE RULE: {e}")),
                },
                None => syntax(text),
            },
            ("KILL", w) => {
                let at = if w == "CONNECTION" || w == "QUERY" {
                    2
                } else {
                    1
                };
                match (number(at), at + 1 == n) {
                    (Some(id), true) => match u32::try_from(id) {
                        Ok(id) => {
                            self.registry.borrow_mut().kills.push(id);
                            Reply::Later(Box::new(KillLater {
                                registry: self.registry.clone(),
                                id,
                                deadline: deadline(LOOP_ANSWER),
                            }))
                        }
                        Err(_) => no_such_thread(id),
                    },
                    _ => syntax(text),
                }
            }
            ("WAIT", "FOR") if word(2) == "JOURNAL" && word(3) == "LIKE" => {
                let Some(p) = string(4) else {
                    return syntax(text);
                };
                let mut timeout = DEFAULT_WAIT;
                let mut i = 5;
                if word(i) == "TIMEOUT" {
                    let secs = match toks.get(i + 1).map(|t| &t.kind) {
                        Some(Tok::Number(s)) => s.parse::<f64>().ok(),
                        _ => None,
                    };
                    let Some(secs) = secs.filter(|s| s.is_finite() && *s >= 0.0) else {
                        return syntax(text);
                    };
                    timeout = Duration::try_from_secs_f64(secs)
                        .unwrap_or(MAX_WAIT)
                        .min(MAX_WAIT);
                    i += 2;
                }
                if i != n {
                    return syntax(text);
                }
                let like = Like::new(&p);
                if let Some(e) = self.journal.find_after(0, |e| matches_like(e, &like)) {
                    return journal_rows(&[e]);
                }
                Reply::Later(Box::new(JournalWait {
                    journal: self.journal.clone(),
                    seen: self.journal.last_seq(),
                    like,
                    pattern: p,
                    timeout,
                    deadline: deadline(timeout),
                }))
            }
            _ => syntax(text),
        }
    }

    fn show_stats(&self) -> Reply {
        let s = &self.stats;
        let mut rows: Vec<(String, u64)> = vec![
            ("connections_open".into(), s.open.get()),
            ("connections_total".into(), s.accepted.get()),
            ("connections_refused".into(), s.refused.get()),
            ("logins_ok".into(), s.handshakes_ok.get()),
            ("logins_failed".into(), s.handshakes_failed.get()),
            ("commands".into(), s.total_commands()),
            ("statements".into(), s.statements.get()),
            ("rows_sent".into(), s.rows_sent.get()),
            ("prepared".into(), s.prepared.get()),
            ("protocol_errors".into(), s.protocol_errors.get()),
            ("bytes_in".into(), s.bytes_in.get()),
            ("bytes_out".into(), s.bytes_out.get()),
            ("uptime_secs".into(), s.started.elapsed().as_secs()),
        ];
        // the common commands always (a count of 0 says something too),
        // then any other that came
        let always = [
            "query",
            "stmt_prepare",
            "stmt_execute",
            "init_db",
            "ping",
            "quit",
        ];
        let by_kind = s.commands_by_kind();
        for name in always {
            let n = by_kind
                .iter()
                .find(|(k, _)| k == name)
                .map_or(0, |(_, n)| *n);
            rows.push((format!("com_{name}"), n));
        }
        for (name, n) in by_kind {
            if !always.contains(&name.as_str()) {
                rows.push((format!("com_{name}"), n));
            }
        }
        let st = self.rules.borrow();
        rows.push(("rules".into(), st.rules().len() as u64));
        rows.push((
            "rule_hits".into(),
            st.rules().iter().map(|r| r.hits.get()).sum(),
        ));
        rows.push((
            "unmatched".into(),
            st.unmatched().iter().map(|u| u.count).sum(),
        ));
        rows.push(("journal_events".into(), self.journal.last_seq()));
        rows.push(("seed".into(), st.seed));
        Reply::rows(
            vec![text_col("name"), num_col("value")],
            rows.into_iter()
                .map(|(k, v)| vec![text(k), Cell::UInt(v)])
                .collect(),
        )
    }

    fn show_rules(&self) -> Reply {
        let st = self.rules.borrow();
        let rows = st
            .rules()
            .iter()
            .map(|r| {
                let kind = match r.pattern {
                    Pattern::Sql { .. } => "sql",
                    Pattern::Prefix(_) => "prefix",
                    Pattern::Regex(_) => "regex",
                    Pattern::Any => "any",
                };
                vec![
                    text(r.name.to_string()),
                    text(r.file.clone()),
                    text(r.command.name().to_string()),
                    text(kind.to_string()),
                    text(r.text.clone()),
                    text(Template::kind(&r.answer).to_string()),
                    Cell::UInt(r.hits.get()),
                    r.remaining.get().map_or(Cell::Null, Cell::UInt),
                ]
            })
            .collect();
        Reply::rows(
            vec![
                text_col("name"),
                text_col("file"),
                text_col("command"),
                text_col("match"),
                text_col("pattern"),
                text_col("answer"),
                num_col("hits"),
                num_col("remaining"),
            ],
            rows,
        )
    }

    fn show_unmatched(&self) -> Reply {
        let rows = self
            .rules
            .borrow()
            .unmatched()
            .into_iter()
            .map(|u| {
                let (near, d) = match u.nearest {
                    Some((n, d)) => (text(n), Cell::UInt(d as u64)),
                    None => (Cell::Null, Cell::Null),
                };
                vec![text(u.sql), Cell::UInt(u.count), near, d]
            })
            .collect();
        Reply::rows(
            vec![
                text_col("sql"),
                num_col("count"),
                text_col("nearest_rule"),
                num_col("distance"),
            ],
            rows,
        )
    }

    fn show_journal(&self, like: Option<&Like>, limit: Option<usize>) -> Reply {
        let mut events = match like {
            Some(l) => self.journal.commands(|e| matches_like(e, l)),
            None => self.journal.events(),
        };
        if let Some(n) = limit {
            let skip = events.len().saturating_sub(n);
            events.drain(..skip);
        }
        journal_rows(&events)
    }
}

impl Responder for AdminResponder {
    fn answer(&mut self, _session: &mut Session, req: &Request<'_>) -> Answer {
        match req.command {
            Command::Query(q) => self.statement(&String::from_utf8_lossy(q)).into(),
            _ => Answer::decline(),
        }
    }
}

fn deadline(d: Duration) -> Instant {
    crate::limits::deadline(Instant::now(), d)
}

fn matches_like(e: &Event, like: &Like) -> bool {
    e.sql().is_some_and(|s| like.matches(s))
}

fn text_col(name: &str) -> ColumnDef {
    ColumnDef::new(name.as_bytes(), coltype::VAR_STRING)
}

fn num_col(name: &str) -> ColumnDef {
    let mut c = ColumnDef::new(name.as_bytes(), coltype::LONGLONG);
    c.flags |= crate::protocol::consts::colflag::UNSIGNED;
    c
}

fn text(s: String) -> Cell {
    Cell::Bytes(Cow::Owned(s.into_bytes()))
}

fn opt_text(s: Option<String>) -> Cell {
    s.map_or(Cell::Null, text)
}

fn ok_info(affected: u64, info: String) -> Reply {
    Reply::Ok(OkReply {
        affected_rows: affected,
        info: Cow::Owned(info.into_bytes()),
        ..OkReply::default()
    })
}

fn error(msg: &str) -> Reply {
    Reply::err_with(er::ER_UNKNOWN_ERROR, msg.as_bytes().to_vec())
}

fn no_such_thread(id: u64) -> Reply {
    Reply::err_with(
        er::ER_NO_SUCH_THREAD,
        format!("Unknown thread id: {id}").into_bytes(),
    )
}

fn syntax(text: &str) -> Reply {
    let t: String = text.chars().take(80).collect();
    Reply::err_with(
        er::ER_PARSE_ERROR,
        format!(
            "the admin port does not know `{t}`; it knows SHOW STATS, SHOW RULES, SHOW JOURNAL [LIKE 'p'] [LIMIT n], SHOW UNMATCHED, SHOW CONNECTIONS, RESET JOURNAL, RESET STATS, LOAD RULES 'path', ADD RULE '<json>', DELETE RULE 'name', KILL n, WAIT FOR JOURNAL LIKE 'p' [TIMEOUT s]"
        )
        .into_bytes(),
    )
}

/// The text between the first `'` and the last `'` of a statement, with
/// `''` and `\'` read as `'` and every other backslash kept: ADD RULE's JSON
/// goes through as written (`"\\s+"` stays a JSON escape).
fn raw_string(stmt: &str) -> Option<String> {
    let open = stmt.find('\'')?;
    let close = stmt.rfind('\'')?;
    if close <= open {
        return None;
    }
    let inner = &stmt[open + 1..close];
    Some(inner.replace("\\'", "'").replace("''", "'"))
}

/// Journal events as a resultset (SHOW JOURNAL, WAIT FOR JOURNAL).
fn journal_rows(events: &[Event]) -> Reply {
    let columns = vec![
        num_col("seq"),
        text_col("time"),
        num_col("conn"),
        text_col("event"),
        text_col("user"),
        text_col("database"),
        text_col("command"),
        text_col("sql"),
        text_col("params"),
        text_col("rule"),
        text_col("answer"),
        num_col("rows"),
        num_col("error"),
        num_col("bytes"),
        num_col("duration_us"),
    ];
    let rows = events
        .iter()
        .map(|e| {
            let mut row = vec![
                Cell::UInt(e.seq),
                text(e.time.clone()),
                Cell::UInt(u64::from(e.conn)),
            ];
            match &e.what {
                What::Command(c) => row.extend([
                    text("command".into()),
                    text(c.user.clone()),
                    opt_text(c.database.clone()),
                    text(c.command.to_string()),
                    opt_text(c.sql.clone()),
                    opt_text(
                        c.params
                            .as_ref()
                            .map(|p| serde_json::Value::from(p.clone()).to_string()),
                    ),
                    text(c.rule.clone()),
                    text(c.answer.to_string()),
                    Cell::UInt(c.rows),
                    c.error.map_or(Cell::Null, |e| Cell::UInt(u64::from(e))),
                    Cell::UInt(c.bytes),
                    Cell::UInt(c.duration_us),
                ]),
                What::Login {
                    user,
                    result,
                    error,
                    ..
                } => row.extend([
                    text("login".into()),
                    text(user.clone()),
                    Cell::Null,
                    text((*result).to_string()),
                    Cell::Null,
                    Cell::Null,
                    Cell::Null,
                    Cell::Null,
                    Cell::Null,
                    error.map_or(Cell::Null, |e| Cell::UInt(u64::from(e))),
                    Cell::Null,
                    Cell::Null,
                ]),
                What::Disconnect { reason } => row.extend([
                    text("disconnect".into()),
                    Cell::Null,
                    Cell::Null,
                    Cell::Null,
                    text(reason.clone()),
                    Cell::Null,
                    Cell::Null,
                    Cell::Null,
                    Cell::Null,
                    Cell::Null,
                    Cell::Null,
                    Cell::Null,
                ]),
            }
            row
        })
        .collect();
    Reply::rows(columns, rows)
}

/// WAIT FOR JOURNAL LIKE: answered by the first command after `seen` whose
/// text matches, or with ERR 3024 at the deadline.
struct JournalWait {
    journal: Journal,
    seen: u64,
    like: Like,
    pattern: String,
    timeout: Duration,
    deadline: Instant,
}

impl Later for JournalWait {
    fn poll(&mut self, timed_out: bool) -> Option<Reply> {
        let last = self.journal.last_seq();
        if last > self.seen {
            let like = &self.like;
            let found = self
                .journal
                .find_after(self.seen, |e| matches_like(e, like));
            self.seen = last;
            if let Some(e) = found {
                return Some(journal_rows(&[e]));
            }
        }
        timed_out.then(|| {
            Reply::err_with(
                er::ER_QUERY_TIMEOUT,
                format!(
                    "WAIT FOR JOURNAL: no command LIKE '{}' within {:.3} s",
                    self.pattern,
                    self.timeout.as_secs_f64()
                )
                .into_bytes(),
            )
        })
    }

    fn deadline(&self) -> Instant {
        self.deadline
    }
}

/// SHOW CONNECTIONS: the loop's list.
struct ConnectionsLater {
    registry: Rc<RefCell<Registry>>,
    asked: u64,
    deadline: Instant,
}

impl Later for ConnectionsLater {
    fn poll(&mut self, timed_out: bool) -> Option<Reply> {
        let r = self.registry.borrow();
        match &r.snapshot {
            Some(list) if r.snapshot_for >= self.asked => {
                let rows = list
                    .iter()
                    .map(|c| {
                        vec![
                            Cell::UInt(u64::from(c.id)),
                            text(c.user.clone()),
                            opt_text(c.database.clone()),
                            text(c.address.clone()),
                            text(c.state.to_string()),
                            Cell::UInt(c.idle_secs),
                        ]
                    })
                    .collect();
                Some(Reply::rows(
                    vec![
                        num_col("id"),
                        text_col("user"),
                        text_col("database"),
                        text_col("address"),
                        text_col("state"),
                        num_col("idle_secs"),
                    ],
                    rows,
                ))
            }
            _ => timed_out.then(|| error("SHOW CONNECTIONS: the loop did not answer")),
        }
    }

    fn deadline(&self) -> Instant {
        self.deadline
    }
}

/// KILL n: the loop closes the connection and says whether it was open.
struct KillLater {
    registry: Rc<RefCell<Registry>>,
    id: u32,
    deadline: Instant,
}

impl Later for KillLater {
    fn poll(&mut self, timed_out: bool) -> Option<Reply> {
        let mut r = self.registry.borrow_mut();
        if let Some(i) = r.killed.iter().position(|(id, _)| *id == self.id) {
            let (_, found) = r.killed.remove(i);
            return Some(if found {
                Reply::ok()
            } else {
                no_such_thread(u64::from(self.id))
            });
        }
        timed_out.then(|| error("KILL: the loop did not answer"))
    }

    fn deadline(&self) -> Instant {
        self.deadline
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_json_goes_through() {
        assert_eq!(
            raw_string(
                r#"ADD RULE '{"match": {"regex": "^SELECT\\s+1"}, "ok": {"info": "it''s"}}';"#
            )
            .unwrap(),
            r#"{"match": {"regex": "^SELECT\\s+1"}, "ok": {"info": "it's"}}"#
        );
        assert!(raw_string("ADD RULE").is_none());
    }
}
