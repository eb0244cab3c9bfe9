//! Encoding a responder's [`Reply`] for one connection: the framing its
//! capabilities agreed (EOF or DEPRECATE_EOF), the row format its command
//! needs (text for COM_QUERY, binary for COM_STMT_EXECUTE), the session's
//! status flags, and pausing when the output reaches the high-water mark.

use crate::protocol::consts::status as st;
use crate::protocol::errcodes as er;
use crate::protocol::response::ColumnDef;
use crate::protocol::response::{Encoder, ErrPacket, OkPacket};
use crate::responder::canned::{CannedSet, SharedRows};
use crate::responder::reply::{
    CellError, ErrReply, Reply, ResultSet, RowFormat, RowSink, RowSource,
};
use std::collections::VecDeque;
use std::rc::Rc;

/// Rows still to send of a resultset that paused.
pub struct PausedRows {
    rows: Box<dyn RowSource>,
    columns: Vec<ColumnDef>,
    format: RowFormat,
    warnings: u16,
    /// The status flags the resultset ends with (MORE_RESULTS when `rest` is not empty).
    status: u16,
    /// Replies after this one (the rest of a multi-statement answer).
    rest: VecDeque<Reply>,
    /// The resultset is cut short (a rule's fault).
    cut: Option<Box<Cut>>,
    /// A canned answer too large to go at once, copied in pieces: the set
    /// and where the next piece starts (no rows are encoded).
    tail: Option<(Rc<CannedSet>, usize)>,
    /// The answer drips out (a rule's fault): each resumed piece is held
    /// and let out this many bytes at a time.
    drip: Option<(usize, std::time::Duration)>,
}

impl PausedRows {
    /// A resultset about to be written (its column definitions are out).
    fn new(rs: ResultSet, format: RowFormat, status: u16, cut: Option<Box<Cut>>) -> PausedRows {
        PausedRows {
            columns: rs.columns,
            rows: rs.rows,
            format,
            warnings: rs.warnings,
            status,
            rest: VecDeque::new(),
            cut,
            tail: None,
            drip: None,
        }
    }

    /// Makes the rest of the answer drip out too.
    pub fn set_drip(&mut self, drip: (usize, std::time::Duration)) {
        self.drip = Some(drip);
    }

    /// The drip the rest of the answer goes out with.
    pub fn drip(&self) -> Option<(usize, std::time::Duration)> {
        self.drip
    }
}

/// A resultset cut short after some rows (a rule's `close_after_rows` and
/// `error_after_rows`).
#[derive(Debug, Clone)]
pub struct Cut {
    /// Rows still to send before the cut.
    pub rows: u64,
    /// The ERR that ends it; `None`: the connection closes mid-resultset.
    pub then: Option<ErrReply>,
}

impl std::fmt::Debug for PausedRows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PausedRows")
            .field("format", &self.format)
            .field("rest", &self.rest.len())
            .finish_non_exhaustive()
    }
}

/// How far an encoding got.
#[derive(Debug)]
pub enum Progress {
    /// All of it is written.
    Done,
    /// The output reached the high-water mark inside a resultset: carry on
    /// with [`resume`] once the client has read.
    Paused(Box<PausedRows>),
}

/// What encoding wrote, for the journal and the stats.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    /// Rows sent.
    pub rows: u64,
    /// The code of the ERR sent, if one was.
    pub error: Option<u16>,
    /// A resultset was cut with no end: the connection is to close now.
    pub cut: bool,
}

/// What the client is told when an answer that cannot pause (a script's raw
/// packets) is larger than the per-command budget (`max_answer`).
pub const ANSWER_TOO_LARGE: &str =
    "understudy: the answer is larger than the server's per-command limit (max_answer): not sent";

/// Encodes `reply` with the session's `status` flags.
pub fn encode(
    enc: &mut Encoder<'_>,
    reply: Reply,
    format: RowFormat,
    status: u16,
    written: &mut Written,
) -> Progress {
    let mut list = match reply {
        Reply::Multi(list) => VecDeque::from(list),
        one => VecDeque::from([one]),
    };
    while let Some(r) = list.pop_front() {
        let more = if list.is_empty() {
            0
        } else {
            st::MORE_RESULTS_EXISTS
        };
        match one(enc, r, format, status | more, written) {
            One::Next => {}
            One::Stop => return Progress::Done,
            One::Paused(mut p) => {
                p.rest = list;
                return Progress::Paused(p);
            }
        }
    }
    Progress::Done
}

/// Encodes `reply` (a resultset) with its rows cut short as `cut` says:
/// `cut.rows` rows, then an ERR or nothing at all ([`Written::cut`]). A reply
/// that is not a resultset is encoded as usual.
pub fn encode_cut(
    enc: &mut Encoder<'_>,
    reply: Reply,
    format: RowFormat,
    status: u16,
    written: &mut Written,
    cut: Cut,
) -> Progress {
    let rs = match reply {
        Reply::Rows(rs) => rs,
        Reply::Canned(set) => rows_of(set),
        other => return encode(enc, other, format, status, written),
    };
    enc.columns(&rs.columns, status);
    let mut p = PausedRows::new(rs, format, status, Some(Box::new(cut)));
    match rows(enc, &mut p, written) {
        One::Next | One::Stop => Progress::Done,
        One::Paused(()) => Progress::Paused(Box::new(p)),
    }
}

/// Carries on a resultset that paused.
pub fn resume(enc: &mut Encoder<'_>, mut p: Box<PausedRows>, written: &mut Written) -> Progress {
    if let Some((set, at)) = p.tail.take() {
        match canned_part(enc, set, p.format, p.status, at, written) {
            None => {}
            Some(tail) => {
                p.tail = Some(tail);
                return Progress::Paused(p);
            }
        }
    } else {
        match rows(enc, &mut p, written) {
            One::Next => {}
            One::Stop => return Progress::Done,
            One::Paused(()) => return Progress::Paused(p),
        }
    }
    let rest = std::mem::take(&mut p.rest);
    let base = p.status & !st::MORE_RESULTS_EXISTS;
    encode(enc, Reply::Multi(rest.into()), p.format, base, written)
}

/// Opens a cursor on a resultset (COM_STMT_EXECUTE with a read-only cursor):
/// the column definitions and an EOF with SERVER_STATUS_CURSOR_EXISTS go out
/// now, the rows stay for COM_STMT_FETCH. A reply that is not a resultset is
/// encoded as usual (`None`).
pub fn open_cursor(
    enc: &mut Encoder<'_>,
    reply: Reply,
    status: u16,
    written: &mut Written,
) -> Option<Box<PausedRows>> {
    let rs = match reply {
        Reply::Rows(rs) => rs,
        Reply::Canned(set) => rows_of(set),
        other => {
            encode(enc, other, RowFormat::Binary, status, written);
            return None;
        }
    };
    // classic framing: the EOF after the definitions carries the flag; under
    // DEPRECATE_EOF an OK-framed EOF says that no rows follow now
    enc.columns(&rs.columns, status | st::CURSOR_EXISTS);
    if enc.deprecate_eof() {
        enc.end(0, status | st::CURSOR_EXISTS);
    }
    Some(Box::new(PausedRows::new(
        rs,
        RowFormat::Binary,
        status,
        None,
    )))
}

/// COM_STMT_FETCH: up to `n` rows of an open cursor, then an EOF with
/// SERVER_STATUS_CURSOR_EXISTS, and LAST_ROW_SENT once the rows are done
/// (true: the cursor is finished). A cell that does not fit ends it with an ERR.
pub fn fetch(enc: &mut Encoder<'_>, p: &mut PausedRows, n: u32, written: &mut Written) -> bool {
    let r = {
        let mut sink = RowSink::new(enc, p.format, &p.columns, u64::from(n));
        let r = p.rows.write_rows(&mut sink);
        written.rows += sink.rows();
        r
    };
    match r {
        Ok(done) => {
            let last = if done { st::LAST_ROW_SENT } else { 0 };
            enc.end(p.warnings, p.status | st::CURSOR_EXISTS | last);
            done
        }
        Err(e) => {
            cell_error(enc, &e, written);
            true
        }
    }
}

enum One<P> {
    /// Written; go on with the next reply of the list.
    Next,
    /// Written, and it was an ERR: the list ends here.
    Stop,
    /// A resultset paused.
    Paused(P),
}

fn one(
    enc: &mut Encoder<'_>,
    reply: Reply,
    format: RowFormat,
    status: u16,
    written: &mut Written,
) -> One<Box<PausedRows>> {
    match reply {
        Reply::Decline => {
            // a chain always ends in a responder that answers; this is a bug
            // elsewhere, answered as the unknown query rather than with silence
            send_err(enc, &ErrReply::standard(er::UNKNOWN_QUERY), written);
            One::Stop
        }
        Reply::Nothing => One::Next,
        Reply::Later(_) => {
            // only a whole answer can come later (the connection waits for
            // it); inside a list or a cursor it is a responder's mistake
            let e = ErrReply::with(
                er::ER_UNKNOWN_ERROR,
                &b"understudy: an answer to come later cannot be part of another"[..],
            );
            send_err(enc, &e, written);
            One::Stop
        }
        Reply::Ok(ok) => {
            enc.ok(&OkPacket {
                affected_rows: ok.affected_rows,
                last_insert_id: ok.last_insert_id,
                status: ok.status.unwrap_or(status) | (status & st::MORE_RESULTS_EXISTS),
                warnings: ok.warnings,
                info: &ok.info,
            });
            One::Next
        }
        Reply::Err(e) => {
            send_err(enc, &e, written);
            One::Stop
        }
        Reply::Raw(packets) => {
            // a script's packets cannot pause: bounded by the per-command budget
            let total = packets
                .iter()
                .map(Vec::len)
                .fold(0usize, usize::saturating_add);
            if total > enc.budget_end().saturating_sub(enc.raw().len()) {
                let e = ErrReply::with(er::ER_UNKNOWN_ERROR, ANSWER_TOO_LARGE.as_bytes());
                log::warn!("{ANSWER_TOO_LARGE} ({total} bytes of raw packets)");
                send_err(enc, &e, written);
                return One::Stop;
            }
            for p in &packets {
                enc.packet(|o| o.extend_from_slice(p));
            }
            One::Next
        }
        Reply::Eof => {
            enc.end(0, status);
            One::Next
        }
        Reply::Canned(set) => {
            let canned = match format {
                RowFormat::Text => &set.text,
                RowFormat::Binary => &set.binary,
            };
            match canned.len_for(enc.deprecate_eof()) {
                // larger than the room before the high-water mark: in
                // pieces, each copied from the same bytes as the client reads
                Some(len) if len > enc.room() => {
                    return match canned_part(enc, set, format, status, 0, written) {
                        None => One::Next,
                        Some(tail) => One::Paused(Box::new(PausedRows {
                            rows: Box::new(crate::responder::reply::OwnedRows::default()),
                            columns: Vec::new(),
                            format,
                            warnings: 0,
                            status,
                            rest: VecDeque::new(),
                            cut: None,
                            tail: Some(tail),
                            drip: None,
                        })),
                    };
                }
                Some(_) if canned.write(enc, status) => {
                    written.rows += set.rows.len() as u64;
                    return One::Next;
                }
                _ => {}
            }
            one(enc, Reply::Rows(rows_of(set)), format, status, written)
        }
        Reply::LocalInfile(name) => {
            enc.packet(|o| {
                o.push(0xfb);
                o.extend_from_slice(&name);
            });
            One::Next
        }
        Reply::Multi(list) => {
            // nested lists are flattened: their results are part of this one
            match encode(enc, Reply::Multi(list), format, status, written) {
                Progress::Done => One::Next,
                Progress::Paused(p) => One::Paused(p),
            }
        }
        Reply::Rows(rs) => {
            enc.columns(&rs.columns, status);
            // boxed only if it pauses: most resultsets are written at once
            let mut p = PausedRows::new(rs, format, status, None);
            match rows(enc, &mut p, written) {
                One::Next => One::Next,
                One::Stop => One::Stop,
                One::Paused(()) => One::Paused(Box::new(p)),
            }
        }
    }
}

/// A canned answer as a resultset whose rows are encoded one by one (a
/// cursor, a cut, a framing that was never recorded).
fn rows_of(set: Rc<CannedSet>) -> ResultSet {
    ResultSet {
        columns: set.columns.clone(),
        rows: Box::new(SharedRows::new(set)),
        warnings: 0,
    }
}

/// The next piece of a canned answer from byte `at`: `None` once it is all
/// written, else the set and where the piece after starts.
fn canned_part(
    enc: &mut Encoder<'_>,
    set: Rc<CannedSet>,
    format: RowFormat,
    status: u16,
    at: usize,
    written: &mut Written,
) -> Option<(Rc<CannedSet>, usize)> {
    let canned = match format {
        RowFormat::Text => &set.text,
        RowFormat::Binary => &set.binary,
    };
    let len = canned.len_for(enc.deprecate_eof()).unwrap_or(0);
    let room = enc.room();
    let next = canned.write_part(enc, status, at, room).unwrap_or(len);
    if next < len {
        return Some((set, next));
    }
    written.rows += set.rows.len() as u64;
    None
}

/// Pulls rows from a resultset's source; ends the resultset when the source
/// is done, with an ERR when a cell does not fit its column.
fn rows(enc: &mut Encoder<'_>, p: &mut PausedRows, written: &mut Written) -> One<()> {
    let limit = p.cut.as_ref().map_or(u64::MAX, |c| c.rows);
    let r = {
        let mut sink = RowSink::new(enc, p.format, &p.columns, limit);
        let r = p.rows.write_rows(&mut sink);
        written.rows += sink.rows();
        if let Some(c) = p.cut.as_mut() {
            c.rows -= sink.rows().min(c.rows);
        }
        r
    };
    if let (Ok(false), Some(c)) = (&r, &p.cut) {
        if c.rows == 0 {
            match &c.then {
                Some(e) => send_err(enc, e, written),
                None => written.cut = true,
            }
            return One::Stop;
        }
    }
    match r {
        Ok(true) => {
            enc.end(p.warnings, p.status);
            One::Next
        }
        Ok(false) => One::Paused(()),
        Err(e) => {
            cell_error(enc, &e, written);
            One::Stop
        }
    }
}

/// A cell that does not fit: the rows so far are sent and the resultset
/// ends with an ERR, as a query that fails part-way ends (never a malformed packet).
fn cell_error(enc: &mut Encoder<'_>, e: &CellError, written: &mut Written) {
    let msg = format!("understudy: the answer's {e}");
    log::warn!("{msg}");
    send_err(
        enc,
        &ErrReply::with(er::ER_UNKNOWN_ERROR, msg.into_bytes()),
        written,
    );
}

fn send_err(enc: &mut Encoder<'_>, e: &ErrReply, written: &mut Written) {
    enc.err(&ErrPacket::new(e.code, &e.sqlstate, &e.message));
    written.error = Some(e.code);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::consts::{cap, coltype};
    use crate::protocol::packet::decode_frame;
    use crate::protocol::response::ColumnDef;
    use crate::responder::reply::{Cell, OwnedRows, ResultSet};
    use std::borrow::Cow;

    fn packets(mut b: &[u8]) -> Vec<Vec<u8>> {
        let mut v = Vec::new();
        while let Some(f) = decode_frame(b, usize::MAX).unwrap() {
            let mut s = Vec::new();
            v.push(f.payload(b, &mut s).to_vec());
            b = &b[f.consumed..];
        }
        v
    }

    fn table(n: usize) -> Reply {
        let rows = (0..n)
            .map(|i| {
                vec![
                    Cell::Int(i as i64),
                    Cell::Bytes(Cow::Owned(format!("row {i}").into_bytes())),
                    Cell::Null,
                ]
            })
            .collect();
        Reply::Rows(ResultSet {
            columns: vec![
                ColumnDef::new(b"id", coltype::LONGLONG),
                ColumnDef::new(b"name", coltype::VAR_STRING),
                ColumnDef::new(b"nothing", coltype::VAR_STRING),
            ],
            rows: Box::new(OwnedRows::new(rows)),
            warnings: 0,
        })
    }

    /// Text rows from a Reply are the bytes the Encoder writes directly.
    #[test]
    fn text_resultset_matches_the_encoder() {
        let caps = cap::PROTOCOL_41 | cap::DEPRECATE_EOF;
        let mut got = Vec::new();
        let mut enc = Encoder::new(&mut got, 1, caps);
        let mut w = Written::default();
        assert!(matches!(
            encode(&mut enc, table(2), RowFormat::Text, st::AUTOCOMMIT, &mut w),
            Progress::Done
        ));
        assert_eq!(w.rows, 2);
        let mut want = Vec::new();
        let mut e = Encoder::new(&mut want, 1, caps);
        e.columns(
            &[
                ColumnDef::new(b"id", coltype::LONGLONG),
                ColumnDef::new(b"name", coltype::VAR_STRING),
                ColumnDef::new(b"nothing", coltype::VAR_STRING),
            ],
            st::AUTOCOMMIT,
        );
        e.row([Some(&b"0"[..]), Some(b"row 0"), None]);
        e.row([Some(&b"1"[..]), Some(b"row 1"), None]);
        e.end(0, st::AUTOCOMMIT);
        assert_eq!(got, want);
    }

    #[test]
    fn binary_rows_and_a_cell_that_does_not_fit() {
        let mut out = Vec::new();
        let mut enc = Encoder::new(&mut out, 1, cap::PROTOCOL_41 | cap::DEPRECATE_EOF);
        let mut w = Written::default();
        encode(&mut enc, table(1), RowFormat::Binary, 0, &mut w);
        let p = packets(&out);
        // count, 3 definitions, one row, OK
        assert_eq!(p.len(), 6);
        assert_eq!(
            p[4],
            [0x00, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 5, b'r', b'o', b'w', b' ', b'0']
        );
        // a text cell in a LONGLONG column that is not a number: ERR after the rows
        let bad = Reply::Rows(ResultSet {
            columns: vec![ColumnDef::new(b"n", coltype::LONGLONG)],
            rows: Box::new(OwnedRows::new(vec![
                vec![Cell::Int(1)],
                vec![Cell::Bytes(Cow::Borrowed(b"seven"))],
            ])),
            warnings: 0,
        });
        let mut out = Vec::new();
        let mut enc = Encoder::new(&mut out, 1, cap::PROTOCOL_41 | cap::DEPRECATE_EOF);
        let mut w = Written::default();
        encode(&mut enc, bad, RowFormat::Binary, 0, &mut w);
        let p = packets(&out);
        assert_eq!(p.len(), 4, "count, definition, one row, ERR");
        assert_eq!(p[3][0], 0xff);
        assert_eq!(
            w,
            Written {
                rows: 1,
                error: Some(1105),
                cut: false,
            }
        );
    }

    /// A canned answer larger than the room goes out in pieces, whole
    /// packets each, that join to exactly the unpaused bytes (status flags
    /// and sequence ids included), in both framings and row formats.
    #[test]
    fn canned_answers_pause_in_pieces() {
        use crate::responder::canned::CannedSet;
        let rows: Vec<Vec<Cell>> = (0..500)
            .map(|i| {
                vec![
                    Cell::Int(i),
                    Cell::Bytes(Cow::Owned(format!("row {i}").into_bytes())),
                ]
            })
            .collect();
        let set = std::rc::Rc::new(
            CannedSet::new(
                vec![
                    ColumnDef::new(b"id", coltype::LONGLONG),
                    ColumnDef::new(b"name", coltype::VAR_STRING),
                ],
                rows,
                st::AUTOCOMMIT,
            )
            .unwrap(),
        );
        for caps in [cap::PROTOCOL_41, cap::PROTOCOL_41 | cap::DEPRECATE_EOF] {
            for format in [RowFormat::Text, RowFormat::Binary] {
                let list = || Reply::Multi(vec![Reply::Canned(set.clone()), Reply::ok()]);
                let status = st::AUTOCOMMIT | st::IN_TRANS;
                let mut whole = Vec::new();
                let mut enc = Encoder::new(&mut whole, 3, caps);
                encode(&mut enc, list(), format, status, &mut Written::default());
                let mut got = Vec::new();
                let mut w = Written::default();
                let mut seq = 3;
                let mut progress = {
                    let mut enc = Encoder::new(&mut got, seq, caps).bounded(1000, usize::MAX);
                    let p = encode(&mut enc, list(), format, status, &mut w);
                    seq = enc.seq;
                    p
                };
                let mut pieces = 1;
                while let Progress::Paused(p) = progress {
                    pieces += 1;
                    let mut chunk = Vec::new();
                    let mut enc = Encoder::new(&mut chunk, seq, caps).bounded(1000, usize::MAX);
                    progress = resume(&mut enc, p, &mut w);
                    seq = enc.seq;
                    assert!(chunk.len() < 1100, "a piece of {} bytes", chunk.len());
                    got.extend(chunk);
                }
                assert!(pieces > 5);
                assert_eq!(got, whole, "caps {caps:x} {format:?}");
                assert_eq!(w.rows, 500);
            }
        }
    }

    /// A resultset pauses at the encoder's high-water mark and resumes to
    /// exactly the bytes of an unpaused encoding, then the rest of the list.
    #[test]
    fn pause_and_resume_give_the_same_bytes() {
        let caps = cap::PROTOCOL_41;
        let list = || Reply::Multi(vec![table(500), Reply::ok(), table(3)]);
        let mut whole = Vec::new();
        let mut enc = Encoder::new(&mut whole, 1, caps);
        let mut w = Written::default();
        assert!(matches!(
            encode(&mut enc, list(), RowFormat::Text, st::AUTOCOMMIT, &mut w),
            Progress::Done
        ));
        let mut got = Vec::new();
        let mut seq = 1;
        let mut w2 = Written::default();
        let mut progress = {
            let mut enc = Encoder::new(&mut got, seq, caps).bounded(1000, usize::MAX);
            let p = encode(&mut enc, list(), RowFormat::Text, st::AUTOCOMMIT, &mut w2);
            seq = enc.seq;
            p
        };
        let mut turns = 0;
        while let Progress::Paused(p) = progress {
            turns += 1;
            let at = got.len();
            let mut chunk = Vec::new();
            let mut enc = Encoder::new(&mut chunk, seq, caps).bounded(1000, usize::MAX);
            progress = resume(&mut enc, p, &mut w2);
            seq = enc.seq;
            assert!(
                chunk.len() < 1200,
                "paused near the mark ({} bytes)",
                chunk.len()
            );
            got.extend(chunk);
            assert!(got.len() > at);
        }
        assert!(turns > 5);
        assert_eq!(got, whole);
        assert_eq!(w2.rows, 503);
    }
}
