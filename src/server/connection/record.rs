//! The connection's part of the journal: a note taken when a command is
//! asked, completed with how it was answered once the answer is encoded
//! (before its first byte is written), and the logins.

use super::{Connection, Ctx};
use crate::journal::{self, CommandEvent, What};
use crate::protocol::binary::{self, BinValue};
use crate::protocol::command::Command;
use crate::responder::reply::Fault;
use crate::responder::Request;
use crate::server::encode::Written;
use serde_json::Value as Json;
use std::time::{Duration, Instant};

/// A command as the journal records it, taken when it is asked.
#[derive(Debug)]
pub struct Note {
    command: &'static str,
    sql: Option<String>,
    statement: Option<u32>,
    params: Option<Vec<Json>>,
    truncated: bool,
    started: Instant,
}

impl Note {
    fn of(req: &Request<'_>) -> Note {
        // cut the bytes first: a 64 MiB statement is never decoded whole
        let text = |b: &[u8]| {
            let head = b.get(..journal::MAX_TEXT + 4).unwrap_or(b);
            let (t, cut) = journal::cut(&String::from_utf8_lossy(head));
            (t, cut || head.len() < b.len())
        };
        let mut truncated = false;
        let mut sql = |b: &[u8]| {
            let (t, cut) = text(b);
            truncated |= cut;
            Some(t)
        };
        let (command, s) = match (req.execution, req.command) {
            (Some(ex), _) => ("execute", sql(ex.text)),
            (None, Command::Query(q)) => ("query", sql(q)),
            (None, Command::Prepare(q)) => ("prepare", sql(q)),
            (None, Command::InitDb(d)) => ("init_db", sql(d)),
            (None, Command::ChangeUser(cu)) => ("change_user", sql(cu.username)),
            (None, Command::FieldList { table, .. }) => ("field_list", sql(table)),
            (None, Command::Ping) => ("ping", None),
            (None, Command::Quit) => ("quit", None),
            (None, Command::ResetConnection) => ("reset_connection", None),
            (None, Command::Execute(_)) => ("execute", None),
            (None, Command::Fetch { .. }) => ("fetch", None),
            (None, Command::StmtReset(_)) => ("stmt_reset", None),
            (None, Command::StmtClose(_)) => ("stmt_close", None),
            (None, Command::LongData(_)) => ("long_data", None),
            (None, _) => ("other", None),
        };
        let params = req.execution.map(|ex| {
            ex.values
                .iter()
                .map(|v| {
                    let (j, cut) = json_of(v);
                    truncated |= cut;
                    j
                })
                .collect()
        });
        Note {
            command,
            sql: s,
            statement: req.execution.map(|e| e.id),
            params,
            truncated,
            started: Instant::now(),
        }
    }
}

/// A bound value as JSON: numbers as numbers, text as a string, other
/// bytes as `{ "hex": … }`, dates and times as their text.
fn json_of(v: &BinValue<'_>) -> (Json, bool) {
    match *v {
        BinValue::Null => (Json::Null, false),
        BinValue::Int(i) => (Json::from(i), false),
        BinValue::UInt(u) => (Json::from(u), false),
        BinValue::Float(f) => (Json::from(f64::from(f)), false),
        BinValue::Double(d) => (Json::from(d), false),
        BinValue::Bytes(b) => {
            let cut = b.len() > journal::MAX_TEXT;
            let b = b.get(..journal::MAX_TEXT).unwrap_or(b);
            match std::str::from_utf8(b) {
                Ok(s) => (Json::from(s), cut),
                Err(_) => {
                    let hex: String = b.iter().map(|c| format!("{c:02x}")).collect();
                    (serde_json::json!({ "hex": hex }), cut)
                }
            }
        }
        _ => {
            let mut buf = [0u8; 64];
            let t = binary::text_of(v, &mut buf, 0);
            (Json::from(String::from_utf8_lossy(&t).into_owned()), false)
        }
    }
}

fn fault_name(f: &Fault) -> &'static str {
    match f {
        Fault::CloseBefore => "close_before",
        Fault::Reset => "reset",
        Fault::Stall => "stall",
        Fault::Malformed => "malformed",
        Fault::CloseAfterRows(_) => "close_after_rows",
        Fault::ErrorAfterRows(..) => "error_after_rows",
        Fault::Drip { .. } => "drip",
    }
}

/// How an answer went, for its journal line.
pub(super) struct Outcome<'a> {
    pub by: Option<&'a str>,
    pub kind: &'static str,
    pub written: Written,
    pub bytes: usize,
    pub delay: Option<Duration>,
    pub fault: Option<&'a Fault>,
    pub close: bool,
}

impl Connection {
    /// Takes the note of a command about to be asked (nothing without a
    /// journal; a dry run at prepare is not a command of the client's).
    pub(super) fn take_note(&self, req: &Request<'_>, ctx: &mut Ctx<'_>) {
        if ctx.journal.is_some() && !req.describe {
            ctx.note = Some(Note::of(req));
        }
    }

    /// Writes the journal line of the command noted, with its outcome.
    pub(super) fn record(&self, ctx: &mut Ctx<'_>, o: Outcome<'_>) {
        let (Some(j), Some(n)) = (ctx.journal, ctx.note.take()) else {
            return;
        };
        let s = &self.session;
        let fault = match (o.fault, o.close) {
            (Some(f), _) => Some(fault_name(f)),
            (None, true) => Some("close_after"),
            _ => None,
        };
        j.record(
            s.id,
            What::Command(Box::new(CommandEvent {
                user: s.user.clone(),
                database: s.database.clone(),
                command: n.command,
                sql: n.sql,
                statement: n.statement,
                params: n.params,
                rule: o.by.unwrap_or("server").to_string(),
                answer: o.kind,
                rows: o.written.rows,
                error: o.written.error,
                bytes: o.bytes as u64,
                duration_us: n.started.elapsed().as_micros().min(u128::from(u64::MAX)) as u64,
                delay_ms: o
                    .delay
                    .map(|d| d.as_millis().min(u128::from(u64::MAX)) as u64),
                fault,
                truncated: n.truncated,
            })),
        );
    }

    /// Writes the journal line of a login (accepted, or refused with `error`).
    pub(super) fn record_login(&self, ctx: &Ctx<'_>, error: Option<u16>) {
        let Some(j) = ctx.journal else {
            return;
        };
        let s = &self.session;
        let attributes = s
            .attributes()
            .into_iter()
            .map(|(k, v)| (k, Json::from(v)))
            .collect();
        j.record(
            s.id,
            What::Login {
                user: s.user.clone(),
                address: s.peer.to_string(),
                attributes,
                plugin: s.auth_plugin.to_string(),
                result: if error.is_none() { "ok" } else { "error" },
                error,
            },
        );
    }
}
