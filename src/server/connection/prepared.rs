//! Prepared statements: COM_STMT_PREPARE, EXECUTE, SEND_LONG_DATA, CLOSE,
//! RESET and FETCH.
//!
//! The responders are asked first, with the command as it came: a script
//! that answers a PREPARE in raw packets owns that statement, and its other
//! commands go to it raw. Otherwise the server prepares the statement
//! itself: the columns announced in PREPARE_OK come from a dry run (the
//! text with NULL for each `?`, `describe` set, on a copy of the session),
//! and each execution is asked as the text query with the bound values
//! substituted, so every responder answers prepared and text queries by the
//! same rules. The answer goes out as binary rows.

use super::record::Outcome;
use super::{guarded, Connection, Ctx};
use crate::protocol::binary::{self, cursor, BinValue, PrepareOk};
use crate::protocol::command::Command;
use crate::protocol::consts::{charset, coltype, com};
use crate::protocol::errcodes as er;
use crate::protocol::response::{ColumnDef, Encoder, OkPacket};
use crate::responder::reply::{Answer, Reply, RowFormat};
use crate::responder::{params, Execution, Part, Request};
use crate::server::encode::{self, Written};
use crate::server::statements::{Owner, Refused, Statement, Statements};
use log::debug;

impl Connection {
    fn table(&mut self) -> &mut Statements {
        self.statements.get_or_insert_with(Box::default)
    }

    fn owner(&self, id: u32) -> Option<Owner> {
        self.statements.as_ref()?.get(id).map(|s| s.owner)
    }

    /// Sends an ERR from the table with a message of its own.
    fn error(&mut self, e: er::MysqlError, msg: String, out: &mut Vec<u8>) {
        let mut enc = Encoder::new(out, self.seq, self.caps());
        enc.err(&e.with(msg.as_bytes()));
        self.seq = enc.seq;
    }

    /// COM_STMT_PREPARE.
    pub(super) fn prepare(
        &mut self,
        payload: &[u8],
        cmd: &Command<'_>,
        sql: &[u8],
        queued: usize,
        ctx: &mut Ctx<'_>,
        out: &mut Vec<u8>,
    ) {
        let Some(answer) = self.ask(&Request::plain(payload, cmd), ctx, out) else {
            return;
        };
        if !answer.declined() {
            return self.script_prepared(answer, sql, queued, ctx, out);
        }
        let max = ctx.config.max_prepared_stmts;
        if let Err(r) = self.table().room_for(sql.len(), max) {
            return self.refused(r, max, out);
        }
        let at = params::placeholders(sql);
        let Ok(nparams) = u16::try_from(at.len()) else {
            let msg = format!(
                "Prepared statement contains too many placeholders (more than {})",
                params::MAX_PLACEHOLDERS
            );
            return self.error(er::ER_PS_MANY_PARAM, msg, out);
        };
        // with what its parameters will hold (offsets, types, long-data slots)
        if let Err(r) = self
            .table()
            .room_for(Statements::cost(sql.len(), at.len()), max)
        {
            return self.refused(r, max, out);
        }
        let id = self.table().next_id();
        let Some(columns) = self.describe(id, sql, &at, ctx, out) else {
            return;
        };
        let Ok(ncols) = u16::try_from(columns.len()) else {
            return self.error(er::ER_TOO_MANY_FIELDS, "Too many columns".into(), out);
        };
        debug!(
            "conn {}: prepared statement {id} ({nparams} parameters, {ncols} columns): {}",
            self.session.id,
            super::cut(sql)
        );
        let st = self.session.status();
        let mut enc = Encoder::new(out, self.seq, self.caps());
        enc.packet(|o| {
            PrepareOk {
                statement_id: id,
                columns: ncols,
                params: nparams,
                warnings: 0,
            }
            .encode(o)
        });
        if nparams > 0 {
            let mut p = ColumnDef::new(b"?", coltype::VAR_STRING);
            p.charset = charset::BINARY;
            p.length = 0;
            for _ in 0..nparams {
                enc.packet(|o| p.encode(o, false));
            }
            if !enc.deprecate_eof() {
                enc.eof(0, st);
            }
        }
        if ncols > 0 {
            for c in &columns {
                enc.packet(|o| c.encode(o, false));
            }
            if !enc.deprecate_eof() {
                enc.eof(0, st);
            }
        }
        self.seq = enc.seq;
        ctx.stats.prepared.add(1);
        self.record(
            ctx,
            Outcome {
                by: Some("server"),
                kind: "prepare_ok",
                written: Written::default(),
                bytes: out.len(),
                delay: None,
                fault: None,
                close: false,
            },
        );
        self.table().insert(
            id,
            Statement {
                owner: Owner::Server,
                text: sql.into(),
                placeholders: at.into(),
                types: Vec::new(),
                long_data: Vec::new(),
                long_refused: false,
                columns: ncols,
                cursor: None,
            },
        );
    }

    /// A script answered the PREPARE: its answer is sent as it is, and when
    /// it is a PREPARE_OK the statement id is the script's from now on.
    fn script_prepared(
        &mut self,
        answer: Answer,
        sql: &[u8],
        queued: usize,
        ctx: &mut Ctx<'_>,
        out: &mut Vec<u8>,
    ) {
        if let Reply::Raw(packets) = &answer.reply {
            if let Some(ok) = packets.first().and_then(|p| PrepareOk::decode(p).ok()) {
                let max = ctx.config.max_prepared_stmts;
                match self.table().room_for(sql.len(), max) {
                    Ok(()) => self.table().insert(
                        ok.statement_id,
                        Statement {
                            owner: Owner::Script,
                            text: sql.into(),
                            placeholders: Box::default(),
                            types: Vec::new(),
                            long_data: Vec::new(),
                            long_refused: false,
                            columns: ok.columns,
                            cursor: None,
                        },
                    ),
                    Err(r) => return self.refused(r, max, out),
                }
                debug!(
                    "conn {}: statement {} is the script's: {}",
                    self.session.id,
                    ok.statement_id,
                    super::cut(sql)
                );
            }
        }
        self.emit(answer, RowFormat::Text, false, queued, ctx, out);
    }

    fn refused(&mut self, r: Refused, max: usize, out: &mut Vec<u8>) {
        let msg = match r {
            Refused::TooMany => format!(
                "Can't create more than max_prepared_stmt_count statements (current value: {max})"
            ),
            Refused::TooLarge => format!(
                "Prepared statements of this connection would hold more than {} bytes",
                crate::server::statements::MAX_STATEMENT_BYTES
            ),
        };
        let e = match r {
            Refused::TooMany => er::ER_MAX_PREPARED_STMT_COUNT_REACHED,
            Refused::TooLarge => er::ER_OUT_OF_RESOURCES,
        };
        self.error(e, msg, out);
    }

    /// The dry run: the columns an execution will have, from the responders'
    /// answer to the text with NULL for each placeholder, on a copy of the
    /// session (a `SET @a = ?` changes nothing at prepare time). `None` when
    /// a responder panicked.
    fn describe(
        &mut self,
        id: u32,
        sql: &[u8],
        at: &[usize],
        ctx: &mut Ctx<'_>,
        out: &mut Vec<u8>,
    ) -> Option<Vec<ColumnDef>> {
        let nulls = vec![BinValue::Null; at.len()];
        let (payload, literals) =
            params::substitute_with_spans(&[com::QUERY], sql, at, &nulls, &[]);
        let qcmd = Command::Query(payload.get(1..).unwrap_or_default());
        let exec = Execution {
            id,
            text: sql,
            types: &[],
            values: &nulls,
            literals: &literals,
        };
        let req = execution_request(&payload, &qcmd, &exec, true);
        let mut copy = self.session.clone();
        let a = guarded(self.session.id, || ctx.responder.answer(&mut copy, &req));
        let Some(a) = a else {
            self.internal_error(out, out.len(), self.seq);
            return None;
        };
        Some(
            a.reply
                .columns()
                .map(<[ColumnDef]>::to_vec)
                .unwrap_or_default(),
        )
    }

    /// COM_STMT_EXECUTE.
    pub(super) fn execute(
        &mut self,
        payload: &[u8],
        cmd: &Command<'_>,
        body: &[u8],
        queued: usize,
        ctx: &mut Ctx<'_>,
        out: &mut Vec<u8>,
    ) {
        let id = binary::statement_id(body).unwrap_or(0);
        if self.owner(id) != Some(Owner::Server) {
            return self.not_ours(payload, cmd, id, "mysqld_stmt_execute", queued, ctx, out);
        }
        // the table is taken out of the connection while the statement runs
        // (the responders need the connection), and put back after
        let Some(mut table) = self.statements.take() else {
            return;
        };
        if let Some(st) = table.get_mut(id) {
            self.execute_server(id, st, payload, body, queued, ctx, out);
        }
        table.clear_long_data(id);
        self.statements = Some(table);
    }

    #[allow(clippy::too_many_arguments)]
    fn execute_server(
        &mut self,
        id: u32,
        st: &mut Statement,
        _payload: &[u8],
        body: &[u8],
        queued: usize,
        ctx: &mut Ctx<'_>,
        out: &mut Vec<u8>,
    ) {
        if std::mem::take(&mut st.long_refused) {
            let msg = format!(
                "Parameter of prepared statement {id} is larger than max_long_data_size ({})",
                ctx.config.max_packet
            );
            return self.error(er::ER_OUT_OF_RESOURCES, msg, out);
        }
        let ex = match binary::decode_execute(body, st.params(), &st.types, &st.long_flags()) {
            Ok(ex) => ex,
            Err(e) => {
                debug!("conn {}: statement {id}: {e}", self.session.id);
                let msg = format!("Incorrect arguments to mysqld_stmt_execute ({e})");
                return self.error(er::ER_WRONG_ARGUMENTS, msg, out);
            }
        };
        if let Some(t) = &ex.new_types {
            st.types.clone_from(t);
        }
        let mut values = ex.values;
        for (v, long) in values.iter_mut().zip(&st.long_data) {
            if let Some(bytes) = long {
                *v = BinValue::Bytes(bytes);
            }
        }
        let (payload, literals) = params::substitute_with_spans(
            &[com::QUERY],
            &st.text,
            &st.placeholders,
            &values,
            &st.types,
        );
        if log::log_enabled!(log::Level::Debug) {
            debug!(
                "conn {}: COM_STMT_EXECUTE statement {id} params {:?}: {}",
                self.session.id,
                values,
                super::cut(payload.get(1..).unwrap_or_default())
            );
        }
        let qcmd = Command::Query(payload.get(1..).unwrap_or_default());
        let exec = Execution {
            id,
            text: &st.text,
            types: &st.types,
            values: &values,
            literals: &literals,
        };
        let req = execution_request(&payload, &qcmd, &exec, false);
        let Some(mut answer) = self.ask(&req, ctx, out) else {
            return;
        };
        if let Some(cols) = answer.reply.columns() {
            if st.columns != 0 && cols.len() != usize::from(st.columns) {
                log::warn!(
                    "conn {}: statement {id} was prepared with {} columns, its execution answered {}: ERR 1615",
                    self.session.id,
                    st.columns,
                    cols.len()
                );
                answer.reply = Reply::err(er::ER_NEED_REPREPARE);
            }
        }
        let wants_cursor =
            ex.flags & (cursor::READ_ONLY | cursor::FOR_UPDATE | cursor::SCROLLABLE) != 0;
        if wants_cursor
            && answer.reply.columns().is_some()
            && !answer.close
            && answer.fault.is_none()
        {
            let status = self.session.status();
            let mark = out.len();
            let mut enc = Encoder::new(out, self.seq, self.caps());
            let mut w = Written::default();
            let kind = answer.reply.kind();
            st.cursor = encode::open_cursor(&mut enc, answer.reply, status, &mut w);
            self.seq = enc.seq;
            self.record(
                ctx,
                Outcome {
                    by: answer.by.as_deref(),
                    kind,
                    written: w,
                    bytes: out.len() - mark,
                    delay: None,
                    fault: None,
                    close: false,
                },
            );
            return;
        }
        st.cursor = None;
        let e = self.emit(answer, RowFormat::Binary, false, queued, ctx, out);
        if let Some(rows) = e.paused {
            self.pause_rows(rows);
        }
    }

    /// A command for a statement the server does not own: a script's, or an
    /// id nobody gave out. The responders are asked with it as it came;
    /// declined, it is an unknown statement (ERR 1243).
    #[allow(clippy::too_many_arguments)]
    fn not_ours(
        &mut self,
        payload: &[u8],
        cmd: &Command<'_>,
        id: u32,
        what: &str,
        queued: usize,
        ctx: &mut Ctx<'_>,
        out: &mut Vec<u8>,
    ) {
        let Some(answer) = self.ask(&Request::plain(payload, cmd), ctx, out) else {
            return;
        };
        if answer.declined() {
            let msg = format!("Unknown prepared statement handler ({id}) given to {what}");
            return self.error(er::ER_UNKNOWN_STMT_HANDLER, msg, out);
        }
        let format = if matches!(cmd, Command::Execute(_) | Command::Fetch { .. }) {
            RowFormat::Binary
        } else {
            RowFormat::Text
        };
        self.emit(answer, format, false, queued, ctx, out);
    }

    /// COM_STMT_SEND_LONG_DATA: no answer, ever.
    pub(super) fn long_data(
        &mut self,
        payload: &[u8],
        cmd: &Command<'_>,
        body: &[u8],
        ctx: &mut Ctx<'_>,
        out: &mut Vec<u8>,
    ) {
        let Ok(ld) = binary::decode_long_data(body) else {
            return;
        };
        if self.owner(ld.statement_id) != Some(Owner::Server) {
            let _ = self.ask(&Request::plain(payload, cmd), ctx, out);
            return;
        }
        let max = ctx.config.max_packet;
        let t = self.table();
        if t.append_long_data(ld.statement_id, usize::from(ld.param), ld.data, max)
            .is_err()
        {
            if let Some(s) = t.get_mut(ld.statement_id) {
                s.long_refused = true;
            }
        }
    }

    /// COM_STMT_CLOSE: no answer, ever.
    pub(super) fn close_statement(
        &mut self,
        payload: &[u8],
        cmd: &Command<'_>,
        id: u32,
        ctx: &mut Ctx<'_>,
        out: &mut Vec<u8>,
    ) {
        if self.owner(id) != Some(Owner::Server) {
            let _ = self.ask(&Request::plain(payload, cmd), ctx, out);
        }
        if let Some(t) = self.statements.as_mut() {
            t.remove(id);
        }
    }

    /// COM_STMT_RESET: long data and any cursor dropped; OK.
    pub(super) fn reset_statement(
        &mut self,
        payload: &[u8],
        cmd: &Command<'_>,
        id: u32,
        queued: usize,
        ctx: &mut Ctx<'_>,
        out: &mut Vec<u8>,
    ) {
        if self.owner(id) != Some(Owner::Server) {
            return self.not_ours(payload, cmd, id, "mysqld_stmt_reset", queued, ctx, out);
        }
        self.table().reset(id);
        let status = self.session.status();
        let mut enc = Encoder::new(out, self.seq, self.caps());
        enc.ok(&OkPacket {
            status,
            ..OkPacket::default()
        });
        self.seq = enc.seq;
    }

    /// COM_STMT_FETCH: the next rows of an open cursor.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn fetch(
        &mut self,
        payload: &[u8],
        cmd: &Command<'_>,
        id: u32,
        rows: u32,
        queued: usize,
        ctx: &mut Ctx<'_>,
        out: &mut Vec<u8>,
    ) {
        if self.owner(id) != Some(Owner::Server) {
            return self.not_ours(payload, cmd, id, "mysqld_stmt_fetch", queued, ctx, out);
        }
        let caps = self.caps();
        let seq = self.seq;
        let Some(st) = self.statements.as_mut().and_then(|t| t.get_mut(id)) else {
            return;
        };
        let Some(cursor) = st.cursor.as_mut() else {
            let msg = format!("The statement ({id}) has no open cursor.");
            return self.error(er::ER_STMT_HAS_NO_OPEN_CURSOR, msg, out);
        };
        // at most what the client asked for, and no more than the output
        // takes: a batch cut short ends without LAST_ROW_SENT, and the client
        // fetches again
        let room = ctx
            .config
            .write_high_water
            .saturating_sub(queued + out.len());
        let mut enc = Encoder::new(out, seq, caps).bounded(room, ctx.config.max_answer);
        let mut w = Written::default();
        let done = encode::fetch(&mut enc, cursor, rows, &mut w);
        self.seq = enc.seq;
        ctx.stats.rows_sent.add(w.rows);
        if done {
            st.cursor = None;
        }
    }
}

/// The request for an execution (or, `describe`, the dry run at prepare):
/// the substituted COM_QUERY `payload`, decoded as `command`.
fn execution_request<'a>(
    payload: &'a [u8],
    command: &'a Command<'a>,
    exec: &'a Execution<'a>,
    describe: bool,
) -> Request<'a> {
    Request {
        payload,
        command,
        part: Part::Single,
        execution: Some(exec),
        describe,
    }
}
