//! A responder's decision as data: what to answer, never how it is framed.
//!
//! A responder returns an [`Answer`]: a [`Reply`] (OK, ERR, a resultset of
//! typed columns and rows, pre-encoded bytes, raw packets, LOCAL INFILE,
//! nothing, or *decline*: let the next responder answer) plus behaviour
//! around it (a delay, closing afterwards). The connection encodes it once, in
//! the framing the client negotiated and the row format the command needs:
//! text rows for COM_QUERY, binary rows for COM_STMT_EXECUTE.
//!
//! Rows come from a [`RowSource`] that the encoder pulls from through a
//! [`RowSink`]: a source writes cells straight into the packet (canned bytes
//! and a script's rows read off the Lua stack stay zero-copy), and stops when
//! the sink says the connection's output is full, to be called again once the
//! client has read.

use crate::protocol::binary::{self, BinValue, DateTime, Mismatch, ParamType, Time};
use crate::protocol::response::{ColumnDef, Encoder};
use crate::protocol::wire::put_lenenc_str;
use std::borrow::Cow;
use std::time::Duration;

/// How rows are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowFormat {
    /// Text protocol: every cell a length-encoded string (COM_QUERY).
    Text,
    /// Binary protocol: a NULL bitmap and each type's encoding (COM_STMT_EXECUTE).
    Binary,
}

/// An owned cell of a resultset built in code.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// NULL.
    Null,
    /// A signed integer.
    Int(i64),
    /// An unsigned integer.
    UInt(u64),
    /// A floating-point number.
    Double(f64),
    /// Text or bytes as they are sent in a text row (a DECIMAL as written).
    Bytes(Cow<'static, [u8]>),
    /// A DATE.
    Date(DateTime),
    /// A DATETIME or TIMESTAMP.
    DateTime(DateTime),
    /// A TIME.
    Time(Time),
}

impl Cell {
    /// The cell as a borrowed binary-protocol value.
    pub fn as_value(&self) -> BinValue<'_> {
        match self {
            Cell::Null => BinValue::Null,
            Cell::Int(i) => BinValue::Int(*i),
            Cell::UInt(u) => BinValue::UInt(*u),
            Cell::Double(d) => BinValue::Double(*d),
            Cell::Bytes(b) => BinValue::Bytes(b),
            Cell::Date(d) => BinValue::Date(*d),
            Cell::DateTime(d) => BinValue::DateTime(*d),
            Cell::Time(t) => BinValue::Time(*t),
        }
    }
}

/// A cell that cannot be sent in its column's type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellError {
    /// Row, from 1.
    pub row: u64,
    /// Column, from 1.
    pub column: usize,
    /// What was wrong.
    pub why: &'static str,
}

impl std::fmt::Display for CellError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "row {} column {}: {}", self.row, self.column, self.why)
    }
}

/// Writes the rows of one resultset in the format the command needs,
/// through the connection's encoder.
pub struct RowSink<'e, 'o> {
    enc: &'e mut Encoder<'o>,
    format: RowFormat,
    columns: &'e [ColumnDef],
    rows: u64,
    row_limit: u64,
}

impl<'e, 'o> RowSink<'e, 'o> {
    /// A sink for rows of `columns`, at most `row_limit` of them from now (a
    /// cursor's fetch size, or `u64::MAX`).
    pub fn new(
        enc: &'e mut Encoder<'o>,
        format: RowFormat,
        columns: &'e [ColumnDef],
        row_limit: u64,
    ) -> RowSink<'e, 'o> {
        RowSink {
            enc,
            format,
            columns,
            rows: 0,
            row_limit,
        }
    }

    /// Rows written through this sink.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// True when the source should stop and be called again later: the
    /// connection's output is at its high-water mark, or the row limit is reached.
    pub fn should_pause(&self) -> bool {
        self.rows >= self.row_limit || self.enc.should_pause()
    }

    /// Writes one row: `f` gives the cells in column order. On an error
    /// nothing of the row stays in the output.
    pub fn row(
        &mut self,
        f: impl FnOnce(&mut Cells<'_>) -> Result<(), &'static str>,
    ) -> Result<(), CellError> {
        let n = self.columns.len();
        let (format, columns) = (self.format, self.columns);
        let row = self.rows + 1;
        let mut failed = None;
        let mut column = 0;
        self.enc.packet_or_nothing(|o| {
            let bitmap_at = match format {
                RowFormat::Text => 0,
                RowFormat::Binary => {
                    o.push(0x00);
                    let at = o.len();
                    o.resize(at + binary::row_bitmap_len(n), 0);
                    at
                }
            };
            let mut cells = Cells {
                out: o,
                format,
                columns,
                bitmap_at,
                next: 0,
            };
            let r = f(&mut cells).and_then(|()| match cells.next.cmp(&n) {
                std::cmp::Ordering::Equal => Ok(()),
                std::cmp::Ordering::Less => Err("fewer cells than columns"),
                std::cmp::Ordering::Greater => Err("more cells than columns"),
            });
            column = cells.next.min(n.max(1));
            match r {
                Ok(()) => true,
                Err(why) => {
                    failed = Some(why);
                    false
                }
            }
        });
        match failed {
            None => {
                self.rows += 1;
                Ok(())
            }
            Some(why) => Err(CellError { row, column, why }),
        }
    }
}

/// The cells of one row being written.
pub struct Cells<'o> {
    out: &'o mut Vec<u8>,
    format: RowFormat,
    columns: &'o [ColumnDef],
    bitmap_at: usize,
    next: usize,
}

impl Cells<'_> {
    fn column(&self) -> Result<ParamType, &'static str> {
        self.columns
            .get(self.next)
            .map(|c| ParamType {
                coltype: c.coltype,
                unsigned: c.flags & crate::protocol::consts::colflag::UNSIGNED != 0,
            })
            .ok_or("more cells than columns")
    }

    /// A NULL cell.
    pub fn null(&mut self) -> Result<(), &'static str> {
        self.column()?;
        match self.format {
            RowFormat::Text => self.out.push(0xfb),
            RowFormat::Binary => {
                let bit = self.next + 2;
                if let Some(b) = self.out.get_mut(self.bitmap_at + bit / 8) {
                    *b |= 1 << (bit % 8);
                }
            }
        }
        self.next += 1;
        Ok(())
    }

    /// A cell given as text (or bytes): sent as is in a text row; in a
    /// binary row converted to the column's type (a number column parses it,
    /// a date column reads `YYYY-MM-DD ...`), an error when it does not fit.
    pub fn text(&mut self, b: &[u8]) -> Result<(), &'static str> {
        self.value(&BinValue::Bytes(b))
    }

    /// An integer cell.
    pub fn int(&mut self, i: i64) -> Result<(), &'static str> {
        self.value(&BinValue::Int(i))
    }

    /// A typed cell.
    pub fn value(&mut self, v: &BinValue<'_>) -> Result<(), &'static str> {
        let col = self.column()?;
        if matches!(v, BinValue::Null) {
            return self.null();
        }
        match self.format {
            RowFormat::Text => {
                let mut buf = [0u8; 64];
                let decimals = self.columns.get(self.next).map_or(0, |c| c.decimals);
                let text = binary::text_of(v, &mut buf, decimals);
                put_lenenc_str(self.out, &text);
            }
            RowFormat::Binary => {
                binary::encode_value(self.out, col, v).map_err(|m: Mismatch| m.why)?
            }
        }
        self.next += 1;
        Ok(())
    }
}

/// Where rows come from. The encoder calls [`RowSource::write_rows`] until it
/// returns `Ok(true)`; a source that returns `Ok(false)` (it stopped because
/// the sink said [`RowSink::should_pause`]) is kept and called again once the
/// client has read.
pub trait RowSource {
    /// Writes rows until there are no more (`Ok(true)`) or the sink says to
    /// pause (`Ok(false)`).
    fn write_rows(&mut self, sink: &mut RowSink<'_, '_>) -> Result<bool, CellError>;
}

/// Rows built in code, in memory.
#[derive(Debug, Default)]
pub struct OwnedRows {
    rows: Vec<Vec<Cell>>,
    next: usize,
}

impl OwnedRows {
    /// These rows.
    pub fn new(rows: Vec<Vec<Cell>>) -> OwnedRows {
        OwnedRows { rows, next: 0 }
    }
}

impl RowSource for OwnedRows {
    fn write_rows(&mut self, sink: &mut RowSink<'_, '_>) -> Result<bool, CellError> {
        while let Some(row) = self.rows.get(self.next) {
            if sink.should_pause() {
                return Ok(false);
            }
            sink.row(|c| row.iter().try_for_each(|cell| c.value(&cell.as_value())))?;
            self.next += 1;
        }
        Ok(true)
    }
}

/// An OK packet's contents.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OkReply {
    /// Rows changed.
    pub affected_rows: u64,
    /// Last AUTO_INCREMENT id.
    pub last_insert_id: u64,
    /// Warnings.
    pub warnings: u16,
    /// Human-readable info.
    pub info: Cow<'static, [u8]>,
    /// Status flags to send instead of the session's (a script's `server_status`).
    pub status: Option<u16>,
}

/// An ERR packet's contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrReply {
    /// Error code.
    pub code: u16,
    /// SQLSTATE (5 bytes on the wire; shorter is padded with '0').
    pub sqlstate: Cow<'static, str>,
    /// Message.
    pub message: Cow<'static, [u8]>,
}

impl ErrReply {
    /// An error with any code, state and message (a script's or a rule's).
    pub fn new(code: u16, sqlstate: &str, message: &[u8]) -> ErrReply {
        ErrReply {
            code,
            sqlstate: Cow::Owned(sqlstate.to_string()),
            message: Cow::Owned(message.to_vec()),
        }
    }

    /// An error from the table with its standard message.
    pub fn standard(e: crate::protocol::errcodes::MysqlError) -> ErrReply {
        ErrReply {
            code: e.code,
            sqlstate: Cow::Borrowed(e.sqlstate),
            message: Cow::Borrowed(e.message.as_bytes()),
        }
    }

    /// An error from the table with another message.
    pub fn with(
        e: crate::protocol::errcodes::MysqlError,
        message: impl Into<Cow<'static, [u8]>>,
    ) -> ErrReply {
        ErrReply {
            code: e.code,
            sqlstate: Cow::Borrowed(e.sqlstate),
            message: message.into(),
        }
    }
}

/// A resultset: typed columns, and rows pulled from a source.
pub struct ResultSet {
    /// Column definitions (their types decide each cell's binary encoding).
    pub columns: Vec<ColumnDef>,
    /// The rows.
    pub rows: Box<dyn RowSource>,
    /// Warnings on the final EOF/OK.
    pub warnings: u16,
}

impl std::fmt::Debug for ResultSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResultSet")
            .field("columns", &self.columns.len())
            .finish_non_exhaustive()
    }
}

/// What to answer.
#[derive(Debug)]
pub enum Reply {
    /// No answer from this responder: the next one in the chain decides.
    Decline,
    /// Send nothing (the client expects no answer, or a script said to ignore it).
    Nothing,
    /// An OK packet.
    Ok(OkReply),
    /// An ERR packet.
    Err(ErrReply),
    /// A resultset.
    Rows(ResultSet),
    /// A resultset encoded once and copied to every connection (text rows);
    /// binary rows are encoded from its data.
    Canned(std::rc::Rc<super::canned::CannedSet>),
    /// The end of an empty list: an EOF packet (OK with DEPRECATE_EOF), as
    /// COM_SET_OPTION and COM_FIELD_LIST are answered.
    Eof,
    /// Payloads to send as they are, each framed and numbered by the server
    /// (a script's RAW answer).
    Raw(Vec<Vec<u8>>),
    /// Ask the client for a LOAD DATA LOCAL INFILE file (the file name); the
    /// server reads the data and answers OK.
    LocalInfile(Vec<u8>),
    /// One result per statement of a multi-statement query: each but the last
    /// carries SERVER_MORE_RESULTS_EXISTS; an ERR ends the list.
    Multi(Vec<Reply>),
    /// An answer that is not known yet (the admin port's WAIT FOR JOURNAL):
    /// the connection waits, reading nothing more, and asks it again as the
    /// loop turns and at its deadline.
    Later(Box<dyn Later>),
}

/// An answer that is not known yet ([`Reply::Later`]). Polled on the loop's
/// thread: it must answer at once, never block.
pub trait Later {
    /// The answer if it is ready (`timed_out`: the deadline has passed, an
    /// answer is due now).
    fn poll(&mut self, timed_out: bool) -> Option<Reply>;
    /// When the answer is due at the latest.
    fn deadline(&self) -> std::time::Instant;
}

impl std::fmt::Debug for dyn Later {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Later")
    }
}

/// A failure to stage around an answer, as a real server or network fails
/// (a rule's `fault`).
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Close without answering: the client sees "Lost connection".
    CloseBefore,
    /// Reset the connection (RST) without answering.
    Reset,
    /// Never answer; keep the socket open (and read and drop what comes).
    Stall,
    /// Send the answer with a wrong sequence id in its first packet.
    Malformed,
    /// Send this many rows of the resultset, then close mid-resultset.
    CloseAfterRows(u64),
    /// Send this many rows, then this ERR instead of the end of the
    /// resultset (as a killed query ends).
    ErrorAfterRows(u64, ErrReply),
    /// Let the answer out `bytes` at a time, one piece every `every`.
    Drip {
        /// Bytes per piece (at least 1).
        bytes: usize,
        /// Time between pieces.
        every: Duration,
    },
}

impl Reply {
    /// An OK with no counts.
    pub fn ok() -> Reply {
        Reply::Ok(OkReply::default())
    }

    /// An error from the table with its standard message.
    pub fn err(e: crate::protocol::errcodes::MysqlError) -> Reply {
        Reply::Err(ErrReply::standard(e))
    }

    /// An error from the table with another message.
    pub fn err_with(
        e: crate::protocol::errcodes::MysqlError,
        message: impl Into<Cow<'static, [u8]>>,
    ) -> Reply {
        Reply::Err(ErrReply::with(e, message))
    }

    /// A resultset of rows built in code.
    pub fn rows(columns: Vec<ColumnDef>, rows: Vec<Vec<Cell>>) -> Reply {
        Reply::Rows(ResultSet {
            columns,
            rows: Box::new(OwnedRows::new(rows)),
            warnings: 0,
        })
    }

    /// The columns an execution of this reply would announce (for a
    /// prepared statement's PREPARE_OK): those of its first resultset.
    pub fn columns(&self) -> Option<&[ColumnDef]> {
        match self {
            Reply::Rows(rs) => Some(&rs.columns),
            Reply::Canned(c) => Some(&c.columns),
            Reply::Multi(list) => list.first().and_then(Reply::columns),
            _ => None,
        }
    }

    /// The kind of reply, as the journal names it.
    pub fn kind(&self) -> &'static str {
        match self {
            Reply::Decline => "decline",
            Reply::Nothing => "nothing",
            Reply::Ok(_) => "ok",
            Reply::Err(_) => "error",
            Reply::Rows(_) | Reply::Canned(_) => "result",
            Reply::Eof => "eof",
            Reply::Raw(_) => "raw",
            Reply::LocalInfile(_) => "local_infile",
            Reply::Multi(_) => "results",
            Reply::Later(_) => "later",
        }
    }
}

/// A reply and what to do around it.
#[derive(Debug)]
pub struct Answer {
    /// What to send.
    pub reply: Reply,
    /// Hold the answer back this long (a timer; capped at `limits::MAX_DELAY`).
    pub delay: Option<Duration>,
    /// Close the connection once the answer is sent.
    pub close: bool,
    /// A fault to stage (see [`Fault`]).
    pub fault: Option<Fault>,
    /// Who answered, for the journal: a rule's name; unset, the chain names
    /// the responder (`builtin`, `lua`, `unknown`).
    pub by: Option<std::rc::Rc<str>>,
}

impl From<Reply> for Answer {
    fn from(reply: Reply) -> Answer {
        Answer {
            reply,
            delay: None,
            close: false,
            fault: None,
            by: None,
        }
    }
}

impl Answer {
    /// No answer: the next responder decides.
    pub fn decline() -> Answer {
        Reply::Decline.into()
    }

    /// True when the responder declined.
    pub fn declined(&self) -> bool {
        matches!(self.reply, Reply::Decline)
    }
}
