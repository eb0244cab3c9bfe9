//! The command phase: asking the responders, encoding their answer once in
//! the framing and row format the command needs, multi-statement lists, and
//! answers that pause at the write high-water mark.

use super::record::Outcome;
use super::{guarded, Connection, Ctx, Hold, Pending, Phase};
use crate::protocol::command::Command;
use crate::protocol::consts::status;
use crate::protocol::errcodes as er;
use crate::protocol::response::Encoder;
use crate::responder::reply::{Answer, Fault, Reply, RowFormat};
use crate::responder::sql;
use crate::responder::{Part, Request};
use crate::server::encode::{self, PausedRows, Progress, Written};
use log::debug;

/// What encoding one answer came to.
pub(super) struct Emitted {
    /// Rows still to send: a resultset paused at the high-water mark.
    pub paused: Option<Box<PausedRows>>,
    /// The answer was (or ended with) an ERR: a statement list stops there.
    pub failed: bool,
}

impl Connection {
    /// Capabilities to encode answers with.
    pub(super) fn caps(&self) -> u32 {
        self.session.capabilities | crate::protocol::consts::cap::PROTOCOL_41
    }

    /// Asks the responders. `None` when one panicked: the client then has
    /// ERR 1105 and the connection is closing.
    pub(super) fn ask(
        &mut self,
        req: &Request<'_>,
        ctx: &mut Ctx<'_>,
        out: &mut Vec<u8>,
    ) -> Option<Answer> {
        let id = self.session.id;
        self.take_note(req, ctx);
        let a = guarded(id, || ctx.responder.answer(&mut self.session, req));
        if a.is_none() {
            self.internal_error(out, out.len(), self.seq);
        }
        a
    }

    /// Encodes `answer` after what `out` holds, in `format`, and follows what
    /// it asks for around it: a delay (the output from here on is held), a
    /// fault, a close, LOCAL INFILE, an answer to come later. Writes the
    /// command's journal line. `more`: statements follow in the same list.
    pub(super) fn emit(
        &mut self,
        answer: Answer,
        format: RowFormat,
        more: bool,
        queued: usize,
        ctx: &mut Ctx<'_>,
        out: &mut Vec<u8>,
    ) -> Emitted {
        let mark = out.len();
        let Answer {
            reply,
            delay,
            close,
            fault,
            by,
        } = answer;
        let kind = reply.kind();
        let outcome = |written, bytes| Outcome {
            by: by.as_deref(),
            kind,
            written,
            bytes,
            delay,
            fault: fault.as_ref(),
            close,
        };
        let stop = Emitted {
            paused: None,
            failed: true,
        };
        match &fault {
            Some(Fault::CloseBefore | Fault::Reset) => {
                self.record(ctx, outcome(Written::default(), 0));
                self.reset = fault == Some(Fault::Reset);
                self.phase = Phase::Closing;
                return stop;
            }
            Some(Fault::Stall) => {
                self.record(ctx, outcome(Written::default(), 0));
                self.phase = Phase::Stalled;
                return stop;
            }
            _ => {}
        }
        if let Reply::Later(later) = reply {
            self.record(ctx, outcome(Written::default(), 0));
            self.pending = Some(Box::new(Pending {
                payload: Box::default(),
                next: None,
                rows: None,
                seq: self.seq,
                later: Some(later),
            }));
            return Emitted {
                paused: None,
                failed: false,
            };
        }
        let local_infile = matches!(reply, Reply::LocalInfile(_));
        let room = ctx
            .config
            .write_high_water
            .saturating_sub(queued + out.len());
        let caps = self.caps();
        let mut enc = Encoder::new(out, self.seq, caps).bounded(room, ctx.config.max_answer);
        let st = self.session.status() | if more { status::MORE_RESULTS_EXISTS } else { 0 };
        let mut written = Written::default();
        let cut = match &fault {
            Some(Fault::CloseAfterRows(n)) => Some(encode::Cut {
                rows: *n,
                then: None,
            }),
            Some(Fault::ErrorAfterRows(n, e)) => Some(encode::Cut {
                rows: *n,
                then: Some(e.clone()),
            }),
            _ => None,
        };
        let mut progress = match cut {
            Some(c) => encode::encode_cut(&mut enc, reply, format, st, &mut written, c),
            None => encode::encode(&mut enc, reply, format, st, &mut written),
        };
        if let (Some(Fault::Drip { bytes, every }), Progress::Paused(p)) = (&fault, &mut progress) {
            p.set_drip(((*bytes).max(1), *every));
        }
        self.seq = enc.seq;
        ctx.stats.rows_sent.add(written.rows);
        if fault == Some(Fault::Malformed) {
            // the first packet of the answer carries a sequence id one off
            if let Some(b) = out.get_mut(mark + 3) {
                *b = b.wrapping_add(1);
            }
        }
        self.record(ctx, outcome(written, out.len() - mark));
        let failed = written.error.is_some();
        if close || written.cut {
            self.phase = Phase::Closing;
            return stop;
        }
        let drip = match fault {
            Some(Fault::Drip { bytes, every }) => Some((bytes.max(1), every)),
            _ => None,
        };
        let delay = delay.filter(|d| !d.is_zero());
        if (delay.is_some() || drip.is_some()) && self.hold.is_none() {
            let d = delay.unwrap_or_default();
            let until = crate::limits::deadline(ctx.now, crate::limits::cap_delay(d));
            self.hold = Some(Box::new(Hold { until, mark, drip }));
        }
        if local_infile && !failed {
            self.phase = Phase::LocalInfile { bytes: 0 };
        }
        Emitted {
            paused: match progress {
                Progress::Done => None,
                Progress::Paused(p) => Some(p),
            },
            failed,
        }
    }

    /// Polls an answer not known yet ([`Reply::Later`]); `timed_out`: its
    /// deadline has passed. True when it was answered (into `out`).
    pub fn poll_later(&mut self, timed_out: bool, ctx: &mut Ctx<'_>, out: &mut Vec<u8>) -> bool {
        let Some(p) = self.pending.as_mut() else {
            return false;
        };
        let Some(later) = p.later.as_mut() else {
            return false;
        };
        let id = self.session.id;
        let Some(polled) = guarded(id, || later.poll(timed_out)) else {
            self.internal_error(out, out.len(), self.seq);
            return true;
        };
        let Some(reply) = polled else {
            return false;
        };
        self.pending = None;
        let e = self.emit(reply.into(), RowFormat::Text, false, 0, ctx, out);
        if let Some(rows) = e.paused {
            self.pause_rows(rows);
        }
        true
    }

    /// A command answered by the responders and encoded as text.
    pub(super) fn simple(
        &mut self,
        req: &Request<'_>,
        queued: usize,
        ctx: &mut Ctx<'_>,
        out: &mut Vec<u8>,
    ) {
        let Some(answer) = self.ask(req, ctx, out) else {
            return;
        };
        let e = self.emit(answer, RowFormat::Text, false, queued, ctx, out);
        if let Some(rows) = e.paused {
            self.pause_rows(rows);
        }
    }

    /// COM_QUERY: one statement, or a multi-statement list (offered whole to
    /// the responders first, then statement by statement).
    pub(super) fn query(
        &mut self,
        payload: &[u8],
        cmd: &Command<'_>,
        sql_text: &[u8],
        queued: usize,
        ctx: &mut Ctx<'_>,
        out: &mut Vec<u8>,
    ) {
        let list = self.session.multi_statements && sql_text.contains(&b';');
        let first = if list {
            sql::next_statement(sql_text, 0)
        } else {
            None
        };
        let second = first.and_then(|(_, next)| sql::next_statement(sql_text, next));
        if second.is_none() {
            return self.simple(&Request::plain(payload, cmd), queued, ctx, out);
        }
        let whole = Request {
            part: Part::Whole,
            ..Request::plain(payload, cmd)
        };
        let Some(answer) = self.ask(&whole, ctx, out) else {
            return;
        };
        if !answer.declined() {
            let e = self.emit(answer, RowFormat::Text, false, queued, ctx, out);
            if let Some(rows) = e.paused {
                self.pause_rows(rows);
            }
            return;
        }
        self.statements(payload, 0, queued, ctx, out);
    }

    /// Answers the statements of the list in `payload` (a COM_QUERY) from
    /// byte `at` of its text, until the list ends, an ERR ends it, or the
    /// output reaches the high-water mark (then the rest waits in `pending`).
    pub(super) fn statements(
        &mut self,
        payload: &[u8],
        at: usize,
        queued: usize,
        ctx: &mut Ctx<'_>,
        out: &mut Vec<u8>,
    ) {
        let text = payload.get(1..).unwrap_or_default();
        let mut cur = sql::next_statement(text, at);
        while let Some((stmt, next)) = cur {
            let after = sql::next_statement(text, next);
            let cmd = Command::Query(stmt);
            let req = Request {
                part: Part::Statement {
                    last: after.is_none(),
                },
                ..Request::plain(payload, &cmd)
            };
            let Some(answer) = self.ask(&req, ctx, out) else {
                return;
            };
            let e = self.emit(answer, RowFormat::Text, after.is_some(), queued, ctx, out);
            if e.failed || self.phase != Phase::Command {
                return;
            }
            cur = after;
            let full = out.len() + queued >= ctx.config.write_high_water;
            if e.paused.is_some() || (cur.is_some() && (full || self.hold.is_some())) {
                self.pause(Pending {
                    payload: payload.into(),
                    next: cur.map(|_| next),
                    rows: e.paused,
                    seq: self.seq,
                    later: None,
                });
                return;
            }
        }
    }

    /// A resultset paused: the rest of its rows wait for the client to read.
    pub(super) fn pause_rows(&mut self, rows: Box<PausedRows>) {
        self.pause(Pending {
            payload: Box::default(),
            next: None,
            rows: Some(rows),
            seq: self.seq,
            later: None,
        });
    }

    fn pause(&mut self, p: Pending) {
        if p.rows.is_some() || p.next.is_some() {
            self.pending = Some(Box::new(p));
        }
    }

    /// Carries on a paused answer, appending to `out`; `queued` bytes are
    /// already waiting to be sent.
    pub fn resume(&mut self, queued: usize, ctx: &mut Ctx<'_>, out: &mut Vec<u8>) {
        let Some(mut p) = self.pending.take() else {
            return;
        };
        if p.later.is_some() {
            self.pending = Some(p); // answered by poll_later
            return;
        }
        if self.phase != Phase::Command {
            return; // closing (shutdown, a timeout): the rest is not wanted
        }
        self.seq = p.seq;
        if let Some(rows) = p.rows.take() {
            let mark = out.len();
            let drip = rows.drip();
            let room = ctx
                .config
                .write_high_water
                .saturating_sub(queued + out.len());
            let caps = self.caps();
            let mut enc = Encoder::new(out, self.seq, caps).bounded(room, ctx.config.max_answer);
            let mut written = Written::default();
            let progress = guarded(self.session.id, || {
                encode::resume(&mut enc, rows, &mut written)
            });
            self.seq = enc.seq;
            ctx.stats.rows_sent.add(written.rows);
            if drip.is_some() && out.len() > mark && self.hold.is_none() {
                // the rest of a dripping answer drips too
                self.hold = Some(Box::new(Hold {
                    until: ctx.now,
                    mark,
                    drip,
                }));
            }
            if written.cut {
                self.phase = Phase::Closing; // a rule's close_after_rows
                return;
            }
            match progress {
                None => return self.internal_error(out, out.len(), p.seq),
                Some(Progress::Paused(rows)) => {
                    p.rows = Some(rows);
                    p.seq = self.seq;
                    self.pending = Some(p);
                    return;
                }
                Some(Progress::Done) if written.error.is_some() => return,
                Some(Progress::Done) => {}
            }
        }
        if let Some(at) = p.next {
            self.statements(&p.payload, at, queued, ctx, out);
        }
    }

    /// A responder panicked while answering: whatever it wrote of its answer
    /// is dropped, the client gets ERR 1105, and the connection closes (its
    /// state may be half-updated). Every other connection goes on.
    pub(super) fn internal_error(&mut self, out: &mut Vec<u8>, mark: usize, seq: u8) {
        out.truncate(mark);
        self.pending = None;
        self.hold = None;
        self.seq = seq;
        let mut enc = Encoder::new(out, seq, self.caps());
        enc.err(&er::ER_UNKNOWN_ERROR.with(
            b"understudy: internal error while answering this command (see the server log); closing the connection",
        ));
        self.phase = Phase::Closing;
        debug!("conn {}: closing after an internal error", self.session.id);
    }
}
