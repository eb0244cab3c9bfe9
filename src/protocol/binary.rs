//! The binary protocol of prepared statements: the COM_STMT_* requests,
//! COM_STMT_PREPARE_OK, and binary values both ways (parameters of
//! COM_STMT_EXECUTE, cells of binary resultset rows), plus the textual forms of
//! dates and times that text rows, rule files and SQL literals use.
//!
//! References: "COM_STMT_PREPARE", "COM_STMT_EXECUTE", "Binary Protocol
//! Resultset" and "Binary Protocol Value" in MySQL's protocol documentation.

use super::consts::coltype;
use super::error::{Error, Result};
use super::wire::{put_lenenc_str, put_u16, put_u32, put_u64, Reader};

/// A parameter's type as COM_STMT_EXECUTE declares it: the column type byte
/// and the unsigned flag (0x80 in the second byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ParamType {
    /// A `coltype::*` value.
    pub coltype: u8,
    /// The value is unsigned.
    pub unsigned: bool,
}

impl ParamType {
    /// A signed (or not unsigned: text, dates) type.
    pub const fn of(coltype: u8) -> ParamType {
        ParamType {
            coltype,
            unsigned: false,
        }
    }

    fn decode(v: u16) -> ParamType {
        ParamType {
            coltype: (v & 0xff) as u8,
            unsigned: v & 0x8000 != 0,
        }
    }

    /// The two bytes COM_STMT_EXECUTE carries.
    pub fn encode(self) -> u16 {
        u16::from(self.coltype) | if self.unsigned { 0x8000 } else { 0 }
    }
}

/// A calendar date and time of day, as the binary protocol carries it (no
/// validation beyond the field widths: MySQL sends zero dates too).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord)]
pub struct DateTime {
    /// Year, 0..=9999.
    pub year: u16,
    /// Month, 0..=12.
    pub month: u8,
    /// Day, 0..=31.
    pub day: u8,
    /// Hour.
    pub hour: u8,
    /// Minute.
    pub minute: u8,
    /// Second.
    pub second: u8,
    /// Microseconds, 0..=999999.
    pub micros: u32,
}

/// A TIME value: a signed duration of days, hours, minutes, seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Time {
    /// Below zero.
    pub negative: bool,
    /// Whole days.
    pub days: u32,
    /// Hours, 0..=23.
    pub hours: u8,
    /// Minutes.
    pub minutes: u8,
    /// Seconds.
    pub seconds: u8,
    /// Microseconds.
    pub micros: u32,
}

/// A value of the binary protocol, borrowed from its packet.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BinValue<'a> {
    /// NULL.
    Null,
    /// A signed integer (TINY, SHORT, INT24, LONG, LONGLONG, YEAR).
    Int(i64),
    /// An unsigned integer.
    UInt(u64),
    /// FLOAT.
    Float(f32),
    /// DOUBLE.
    Double(f64),
    /// DECIMAL, strings, blobs, JSON, ENUM, SET, BIT, GEOMETRY: the bytes.
    Bytes(&'a [u8]),
    /// DATE.
    Date(DateTime),
    /// DATETIME or TIMESTAMP.
    DateTime(DateTime),
    /// TIME.
    Time(Time),
}

/// COM_STMT_PREPARE_OK.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PrepareOk {
    /// The statement id the client uses from now on.
    pub statement_id: u32,
    /// Columns of the resultset an execution gives (0 for none).
    pub columns: u16,
    /// Placeholders (`?`) in the statement.
    pub params: u16,
    /// Warnings.
    pub warnings: u16,
}

impl PrepareOk {
    /// Appends the payload: status 0x00, id, counts, the reserved filler
    /// byte, warnings. (Column and parameter definitions follow as packets
    /// of their own.)
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(0x00); // status: OK
        put_u32(out, self.statement_id);
        put_u16(out, self.columns);
        put_u16(out, self.params);
        out.push(0x00); // reserved filler
        put_u16(out, self.warnings);
    }

    /// Decodes the payload (the warning count is optional, as older servers
    /// sent only 9 bytes).
    pub fn decode(payload: &[u8]) -> Result<PrepareOk> {
        let mut r = Reader::new(payload);
        if r.u8("prepare ok status")? != 0 {
            return Err(Error::Malformed("prepare ok status"));
        }
        let statement_id = r.u32("statement id")?;
        let columns = r.u16("column count")?;
        let params = r.u16("parameter count")?;
        r.skip(1, "filler")?;
        let warnings = if r.remaining() >= 2 {
            r.u16("warnings")?
        } else {
            0
        };
        Ok(PrepareOk {
            statement_id,
            columns,
            params,
            warnings,
        })
    }
}

/// The statement id that starts the body of COM_STMT_EXECUTE, CLOSE, RESET,
/// SEND_LONG_DATA and FETCH (the body is the payload after the command byte).
pub fn statement_id(body: &[u8]) -> Result<u32> {
    Reader::new(body).u32("statement id")
}

/// COM_STMT_EXECUTE's `flags`: the cursor type asked for.
pub mod cursor {
    /// No cursor: the rows follow at once.
    pub const NO_CURSOR: u8 = 0x00;
    /// A read-only cursor: rows come with COM_STMT_FETCH.
    pub const READ_ONLY: u8 = 0x01;
    /// A cursor for update (answered as read-only).
    pub const FOR_UPDATE: u8 = 0x02;
    /// A scrollable cursor (answered as read-only).
    pub const SCROLLABLE: u8 = 0x04;
}

/// A decoded COM_STMT_EXECUTE.
#[derive(Debug, Clone, PartialEq)]
pub struct Execute<'a> {
    /// Statement id.
    pub statement_id: u32,
    /// Cursor flags ([`cursor`]).
    pub flags: u8,
    /// Iteration count (always 1 in practice).
    pub iterations: u32,
    /// Parameter types sent with this execution (new-params-bound), which the
    /// server remembers for later executions that omit them.
    pub new_types: Option<Vec<ParamType>>,
    /// One value per parameter; a parameter whose data came with
    /// COM_STMT_SEND_LONG_DATA is `Null` here (the caller has its bytes).
    pub values: Vec<BinValue<'a>>,
}

/// Decodes the body of COM_STMT_EXECUTE (after the command byte) for a
/// statement with `params` placeholders. `remembered` are the types of the
/// last execution that sent them; entry `i` of `long_data` says parameter
/// `i` was sent with COM_STMT_SEND_LONG_DATA (its value is not in this packet).
pub fn decode_execute<'a>(
    body: &'a [u8],
    params: usize,
    remembered: &[ParamType],
    long_data: &[bool],
) -> Result<Execute<'a>> {
    let mut r = Reader::new(body);
    let statement_id = r.u32("statement id")?;
    let flags = r.u8("execute flags")?;
    let iterations = r.u32("iteration count")?;
    let mut ex = Execute {
        statement_id,
        flags,
        iterations,
        new_types: None,
        values: Vec::new(),
    };
    if params == 0 {
        return Ok(ex);
    }
    let bitmap = r.bytes(params.div_ceil(8), "null bitmap")?;
    let bound = r.u8("new params bound flag")?;
    let types: &[ParamType] = if bound == 1 {
        // invariant-free: each type is 2 bytes; a short packet is an error
        let raw = r.bytes(
            params
                .checked_mul(2)
                .ok_or(Error::Malformed("too many parameters"))?,
            "parameter types",
        )?;
        let t: Vec<ParamType> = raw
            .chunks_exact(2)
            .map(|c| ParamType::decode(<[u8; 2]>::try_from(c).map_or(0, u16::from_le_bytes)))
            .collect();
        ex.new_types = Some(t);
        ex.new_types.as_deref().unwrap_or_default()
    } else if remembered.len() == params {
        remembered
    } else {
        return Err(Error::Malformed("parameter types were never sent"));
    };
    let mut values = Vec::with_capacity(params);
    for (i, t) in types.iter().enumerate() {
        let null = bitmap.get(i / 8).is_some_and(|b| b & (1 << (i % 8)) != 0);
        if null || long_data.get(i).copied().unwrap_or(false) {
            values.push(BinValue::Null);
            continue;
        }
        values.push(decode_value(&mut r, *t)?);
    }
    ex.values = values;
    Ok(ex)
}

/// Decodes one value of type `t`.
pub fn decode_value<'a>(r: &mut Reader<'a>, t: ParamType) -> Result<BinValue<'a>> {
    let int = |v: i64, u: u64| {
        if t.unsigned {
            BinValue::UInt(u)
        } else {
            BinValue::Int(v)
        }
    };
    Ok(match t.coltype {
        coltype::NULL => BinValue::Null,
        coltype::TINY => {
            let v = r.u8("tiny")?;
            int(i64::from(v as i8), u64::from(v))
        }
        coltype::SHORT | coltype::YEAR => {
            let v = r.u16("short")?;
            int(i64::from(v as i16), u64::from(v))
        }
        coltype::LONG | coltype::INT24 => {
            let v = r.u32("long")?;
            int(i64::from(v as i32), u64::from(v))
        }
        coltype::LONGLONG => {
            let v = r.u64("longlong")?;
            int(v as i64, v)
        }
        coltype::FLOAT => BinValue::Float(f32::from_bits(r.u32("float")?)),
        coltype::DOUBLE => BinValue::Double(f64::from_bits(r.u64("double")?)),
        coltype::DATE => BinValue::Date(decode_datetime(r)?),
        coltype::DATETIME | coltype::TIMESTAMP | coltype::DATETIME2 | coltype::TIMESTAMP2 => {
            BinValue::DateTime(decode_datetime(r)?)
        }
        coltype::TIME | coltype::TIME2 => BinValue::Time(decode_time(r)?),
        _ => BinValue::Bytes(r.lenenc_str("string value")?),
    })
}

fn decode_datetime(r: &mut Reader<'_>) -> Result<DateTime> {
    let len = r.u8("datetime length")?;
    let mut d = DateTime::default();
    if !matches!(len, 0 | 4 | 7 | 11) {
        return Err(Error::Malformed("datetime length"));
    }
    if len >= 4 {
        d.year = r.u16("year")?;
        d.month = r.u8("month")?;
        d.day = r.u8("day")?;
    }
    if len >= 7 {
        d.hour = r.u8("hour")?;
        d.minute = r.u8("minute")?;
        d.second = r.u8("second")?;
    }
    if len == 11 {
        d.micros = r.u32("microseconds")?;
    }
    Ok(d)
}

fn decode_time(r: &mut Reader<'_>) -> Result<Time> {
    let len = r.u8("time length")?;
    let mut t = Time::default();
    if !matches!(len, 0 | 8 | 12) {
        return Err(Error::Malformed("time length"));
    }
    if len >= 8 {
        t.negative = r.u8("time sign")? == 1;
        t.days = r.u32("days")?;
        t.hours = r.u8("hours")?;
        t.minutes = r.u8("minutes")?;
        t.seconds = r.u8("seconds")?;
    }
    if len == 12 {
        t.micros = r.u32("microseconds")?;
    }
    Ok(t)
}

/// COM_STMT_SEND_LONG_DATA: a piece of one parameter's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LongData<'a> {
    /// Statement id.
    pub statement_id: u32,
    /// Parameter index, from 0.
    pub param: u16,
    /// The bytes to append.
    pub data: &'a [u8],
}

/// Decodes the body of COM_STMT_SEND_LONG_DATA.
pub fn decode_long_data(body: &[u8]) -> Result<LongData<'_>> {
    let mut r = Reader::new(body);
    Ok(LongData {
        statement_id: r.u32("statement id")?,
        param: r.u16("parameter id")?,
        data: r.rest(),
    })
}

/// Decodes the body of COM_STMT_FETCH: (statement id, rows wanted).
pub fn decode_fetch(body: &[u8]) -> Result<(u32, u32)> {
    let mut r = Reader::new(body);
    Ok((r.u32("statement id")?, r.u32("rows to fetch")?))
}

/// A cell does not fit the binary encoding of its column's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mismatch {
    /// The column type.
    pub coltype: u8,
    /// What was wrong.
    pub why: &'static str,
}

/// Writes binary resultset rows: the 0x00 header, the NULL bitmap (offset
/// 2), then each non-NULL value in its column type's encoding.
pub struct BinaryRow<'o> {
    out: &'o mut Vec<u8>,
    bitmap_at: usize,
    next: usize,
}

/// Bytes of the NULL bitmap of a binary row with `columns` columns.
pub fn row_bitmap_len(columns: usize) -> usize {
    (columns + 7 + 2) / 8
}

impl<'o> BinaryRow<'o> {
    /// Starts a row of `columns` cells.
    pub fn begin(out: &'o mut Vec<u8>, columns: usize) -> BinaryRow<'o> {
        out.push(0x00);
        let bitmap_at = out.len();
        out.resize(bitmap_at + row_bitmap_len(columns), 0);
        BinaryRow {
            out,
            bitmap_at,
            next: 0,
        }
    }

    /// The next cell is NULL.
    pub fn null(&mut self) {
        let bit = self.next + 2;
        if let Some(b) = self.out.get_mut(self.bitmap_at + bit / 8) {
            *b |= 1 << (bit % 8);
        }
        self.next += 1;
    }

    /// The next cell, in the encoding of `col` (its column type and whether
    /// it is unsigned). Nothing is written on a mismatch.
    pub fn value(&mut self, col: ParamType, v: &BinValue<'_>) -> std::result::Result<(), Mismatch> {
        if matches!(v, BinValue::Null) {
            self.null();
            return Ok(());
        }
        encode_value(self.out, col, v)?;
        self.next += 1;
        Ok(())
    }
}

fn mismatch(coltype: u8, why: &'static str) -> Mismatch {
    Mismatch { coltype, why }
}

/// Appends `v` in the binary encoding of a column of type `col`.
pub fn encode_value(
    out: &mut Vec<u8>,
    col: ParamType,
    v: &BinValue<'_>,
) -> std::result::Result<(), Mismatch> {
    let t = col.coltype;
    let as_i128 = |v: &BinValue<'_>| -> Option<i128> {
        match *v {
            BinValue::Int(i) => Some(i128::from(i)),
            BinValue::UInt(u) => Some(i128::from(u)),
            BinValue::Bytes(b) => std::str::from_utf8(b).ok()?.trim().parse().ok(),
            _ => None,
        }
    };
    let ranged = |lo: i128, hi: i128| -> std::result::Result<i128, Mismatch> {
        let i = as_i128(v).ok_or(mismatch(t, "not an integer"))?;
        let (lo, hi) = if col.unsigned {
            (0, hi * 2 + 1)
        } else {
            (lo, hi)
        };
        if i < lo || i > hi {
            return Err(mismatch(t, "integer out of the column type's range"));
        }
        Ok(i)
    };
    match t {
        coltype::TINY => out.push(ranged(-128, 127)? as u8),
        coltype::SHORT | coltype::YEAR => put_u16(out, ranged(-32768, 32767)? as u16),
        coltype::LONG | coltype::INT24 => {
            put_u32(out, ranged(-2_147_483_648, 2_147_483_647)? as u32)
        }
        coltype::LONGLONG => put_u64(
            out,
            ranged(i128::from(i64::MIN), i128::from(i64::MAX))? as u64,
        ),
        coltype::FLOAT | coltype::DOUBLE => {
            let f = match *v {
                BinValue::Float(f) => f64::from(f),
                BinValue::Double(d) => d,
                BinValue::Int(i) => i as f64,
                BinValue::UInt(u) => u as f64,
                BinValue::Bytes(b) => std::str::from_utf8(b)
                    .ok()
                    .and_then(|s| s.trim().parse().ok())
                    .ok_or(mismatch(t, "not a number"))?,
                _ => return Err(mismatch(t, "not a number")),
            };
            if t == coltype::FLOAT {
                put_u32(out, (f as f32).to_bits());
            } else {
                put_u64(out, f.to_bits());
            }
        }
        coltype::DATE
        | coltype::DATETIME
        | coltype::TIMESTAMP
        | coltype::DATETIME2
        | coltype::TIMESTAMP2 => {
            let d = match *v {
                BinValue::Date(d) | BinValue::DateTime(d) => d,
                BinValue::Bytes(b) => parse_datetime(b).ok_or(mismatch(t, "not a date"))?,
                _ => return Err(mismatch(t, "not a date")),
            };
            put_datetime(out, &d, t == coltype::DATE);
        }
        coltype::TIME | coltype::TIME2 => {
            let tm = match *v {
                BinValue::Time(tm) => tm,
                BinValue::Bytes(b) => parse_time(b).ok_or(mismatch(t, "not a time"))?,
                _ => return Err(mismatch(t, "not a time")),
            };
            put_time(out, &tm);
        }
        coltype::NULL => return Err(mismatch(t, "a NULL column holds only NULL")),
        _ => {
            // strings, blobs, DECIMAL, JSON, ...: the value's text
            let mut buf = [0u8; 64];
            let text = text_of(v, &mut buf, 6);
            put_lenenc_str(out, text.as_ref());
        }
    }
    Ok(())
}

/// The shortest binary DATE/DATETIME encoding of `d`.
pub fn put_datetime(out: &mut Vec<u8>, d: &DateTime, date_only: bool) {
    let has_time = !date_only && (d.hour, d.minute, d.second) != (0, 0, 0);
    let has_micros = !date_only && d.micros != 0;
    let zero_date = (d.year, d.month, d.day) == (0, 0, 0);
    let len: u8 = if has_micros {
        11
    } else if has_time {
        7
    } else if zero_date {
        0
    } else {
        4
    };
    out.push(len);
    if len >= 4 {
        put_u16(out, d.year);
        out.push(d.month);
        out.push(d.day);
    }
    if len >= 7 {
        out.push(d.hour);
        out.push(d.minute);
        out.push(d.second);
    }
    if len == 11 {
        put_u32(out, d.micros);
    }
}

/// The shortest binary TIME encoding of `t`.
pub fn put_time(out: &mut Vec<u8>, t: &Time) {
    let zero = t.days == 0 && (t.hours, t.minutes, t.seconds) == (0, 0, 0) && t.micros == 0;
    if zero {
        out.push(0);
        return;
    }
    out.push(if t.micros != 0 { 12 } else { 8 });
    out.push(u8::from(t.negative));
    put_u32(out, t.days);
    out.push(t.hours);
    out.push(t.minutes);
    out.push(t.seconds);
    if t.micros != 0 {
        put_u32(out, t.micros);
    }
}

/// A value's text as text rows carry it (and as SQL literals are built
/// from): integers in decimal, floats as the shortest text that reads back
/// the same, dates `YYYY-MM-DD`, datetimes `YYYY-MM-DD hh:mm:ss` and times
/// `hhh:mm:ss` (times optionally signed), each with a `.ffffff` fraction of
/// `decimals` digits, 0..=6, when the value has microseconds or `decimals`
/// asks for them. `buf` is scratch space for the formatted forms, so no
/// allocation is needed.
pub fn text_of<'v>(
    v: &BinValue<'v>,
    buf: &'v mut [u8; 64],
    decimals: u8,
) -> std::borrow::Cow<'v, [u8]> {
    use std::borrow::Cow;
    use std::io::Write;
    let mut w = std::io::Cursor::new(buf.as_mut_slice());
    let frac = |w: &mut std::io::Cursor<&mut [u8]>, micros: u32| {
        let d = usize::from(decimals.min(6));
        let d = if d == 0 && micros != 0 { 6 } else { d };
        if d > 0 {
            let mut digits = [b'0'; 6];
            let mut m = micros.min(999_999);
            for slot in digits.iter_mut().rev() {
                *slot = b'0' + (m % 10) as u8;
                m /= 10;
            }
            let _ = w.write_all(b".");
            let _ = w.write_all(digits.get(..d).unwrap_or(&digits));
        }
    };
    match *v {
        BinValue::Null => return Cow::Borrowed(b""),
        BinValue::Bytes(b) => return Cow::Borrowed(b),
        BinValue::Int(i) => {
            let _ = write!(w, "{i}");
        }
        BinValue::UInt(u) => {
            let _ = write!(w, "{u}");
        }
        // integral values below 1e15 as digits ("3"), the rest as Rust's
        // shortest round-trip text, with an exponent when it is long
        // ("0.1", "1e300", "1.25e-7"): at most 24 bytes, and a valid SQL literal
        BinValue::Float(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e15 => {
            let _ = write!(w, "{f}");
        }
        BinValue::Float(f) => {
            let _ = write!(w, "{f:?}");
        }
        BinValue::Double(d) if d.is_finite() && d.fract() == 0.0 && d.abs() < 1e15 => {
            let _ = write!(w, "{d}");
        }
        BinValue::Double(d) => {
            let _ = write!(w, "{d:?}");
        }
        BinValue::Date(d) => {
            let _ = write!(w, "{:04}-{:02}-{:02}", d.year, d.month, d.day);
        }
        BinValue::DateTime(d) => {
            let _ = write!(
                w,
                "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
                d.year, d.month, d.day, d.hour, d.minute, d.second
            );
            frac(&mut w, d.micros);
        }
        BinValue::Time(t) => {
            let hours = u64::from(t.days) * 24 + u64::from(t.hours);
            let sign = if t.negative { "-" } else { "" };
            let _ = write!(w, "{sign}{hours:02}:{:02}:{:02}", t.minutes, t.seconds);
            frac(&mut w, t.micros);
        }
    }
    let n = w.position() as usize;
    let buf: &'v [u8; 64] = buf;
    Cow::Borrowed(buf.get(..n).unwrap_or_default())
}

/// Parses `YYYY-MM-DD`, `YYYY-MM-DD hh:mm:ss` and `YYYY-MM-DD hh:mm:ss.ffffff`
/// (a `T` also separates date and time). Ranges are checked (month 0..=12,
/// day 0..=31, hour 0..=23, minute and second 0..=59); zero dates are allowed,
/// as MySQL has them.
pub fn parse_datetime(b: &[u8]) -> Option<DateTime> {
    let s = std::str::from_utf8(b).ok()?.trim();
    let (date, time) = match s.split_once([' ', 'T']) {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let mut d = date.splitn(3, '-');
    let year: u16 = num(d.next()?, 4)?;
    let month: u8 = num(d.next()?, 2)?;
    let day: u8 = num(d.next()?, 2)?;
    if year > 9999 || month > 12 || day > 31 {
        return None;
    }
    let mut dt = DateTime {
        year,
        month,
        day,
        ..DateTime::default()
    };
    if let Some(t) = time {
        let (hms, micros) = split_fraction(t)?;
        let mut p = hms.splitn(3, ':');
        dt.hour = num(p.next()?, 2)?;
        dt.minute = num(p.next()?, 2)?;
        dt.second = num(p.next()?, 2)?;
        if dt.hour > 23 || dt.minute > 59 || dt.second > 59 {
            return None;
        }
        dt.micros = micros;
    }
    Some(dt)
}

/// Parses a TIME: `hhh:mm:ss`, optionally signed, with a day count
/// (`D hhh:mm:ss`) and a fraction (`.ffffff`), hours up to 838 (MySQL's
/// range, -838:59:59 to 838:59:59), or `D hh:mm:ss`.
pub fn parse_time(b: &[u8]) -> Option<Time> {
    let s = std::str::from_utf8(b).ok()?.trim();
    let (negative, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (days, s) = match s.split_once(' ') {
        Some((d, rest)) => (num::<u32>(d, 2)?, rest),
        None => (0, s),
    };
    let (hms, micros) = split_fraction(s)?;
    let mut p = hms.splitn(3, ':');
    let hours: u32 = num(p.next()?, 3)?;
    let minutes: u8 = num(p.next()?, 2)?;
    let seconds: u8 = num(p.next()?, 2)?;
    let total_hours = days.checked_mul(24)?.checked_add(hours)?;
    if minutes > 59 || seconds > 59 || total_hours > 838 {
        return None;
    }
    Some(Time {
        negative,
        days: total_hours / 24,
        hours: (total_hours % 24) as u8,
        minutes,
        seconds,
        micros,
    })
}

/// `hh:mm:ss.ffffff` into (`hh:mm:ss`, microseconds); up to 6 digits.
fn split_fraction(t: &str) -> Option<(&str, u32)> {
    match t.split_once('.') {
        None => Some((t, 0)),
        Some((hms, f)) => {
            if f.is_empty() || f.len() > 6 || !f.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let v: u32 = f.parse().ok()?;
            Some((hms, v * 10u32.pow(6 - f.len() as u32)))
        }
    }
}

/// A field of at most `max_digits` decimal digits.
fn num<T: std::str::FromStr>(s: &str, max_digits: usize) -> Option<T> {
    if s.is_empty() || s.len() > max_digits || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::test_hex as hex;
    use ParamType as P;

    fn t(c: u8) -> ParamType {
        P::of(c)
    }

    /// COM_STMT_PREPARE_OK for a statement with 1 column and 2 parameters
    /// (MySQL's documented example: 0c 00 00 01 00 01 00 00 00 01 00 02 00 00 00 00).
    #[test]
    fn prepare_ok_documented_vector() {
        let ok = PrepareOk {
            statement_id: 1,
            columns: 1,
            params: 2,
            warnings: 0,
        };
        let mut out = Vec::new();
        ok.encode(&mut out);
        assert_eq!(out, hex("00 01 00 00 00 01 00 02 00 00 00 00"));
        assert_eq!(PrepareOk::decode(&out).expect("test vector"), ok);
    }

    /// COM_STMT_EXECUTE of statement 1 with one LONGLONG parameter 7, and one
    /// NULL VARCHAR, types bound; the same again without types.
    #[test]
    fn execute_with_types_then_without() {
        let body = hex("01 00 00 00 00 01 00 00 00 02 01 08 00 0f 00 07 00 00 00 00 00 00 00");
        let ex = decode_execute(&body, 2, &[], &[]).expect("test vector");
        assert_eq!(ex.statement_id, 1);
        assert_eq!(ex.values, vec![BinValue::Int(7), BinValue::Null]);
        let types = ex.new_types.clone().expect("test vector");
        assert_eq!(types, vec![t(coltype::LONGLONG), t(coltype::VARCHAR)]);
        // no types: the remembered ones apply
        let again = hex("01 00 00 00 00 01 00 00 00 02 00 09 00 00 00 00 00 00 00");
        let ex = decode_execute(&again, 2, &types, &[]).expect("test vector");
        assert_eq!(ex.values, vec![BinValue::Int(9), BinValue::Null]);
        assert!(
            decode_execute(&again, 2, &[], &[]).is_err(),
            "types never sent"
        );
        // every truncation is an error, never a panic
        for cut in 0..body.len() {
            assert!(
                decode_execute(&body[..cut], 2, &[], &[]).is_err(),
                "cut {cut}"
            );
        }
    }

    /// COM_STMT_EXECUTE bodies captured from mysql-connector-python 26.10's
    /// prepared cursor (a TCP relay in front of understudy, 2026-12-02):
    /// `SELECT ?, ?, ?, ?, ?, ?, ?, ?` with 7, -2, 'hé', 2.5, None,
    /// datetime(2024-01-31 12:34:56.123456), Decimal('12.340'), b'\x00\xff';
    /// then `SELECT ?, ?` with date(1999-12-31), timedelta(25:01:02.000003).
    #[test]
    fn captured_connector_python_executions() {
        let body = hex(
"01 00 00 00 00 01 00 00 00 10 01 01 80 01 00 fe 00 05 00 06 00 0c 00 00 00 fe 00 07 fe 03 68 c3 \
             a9 00 00 00 00 00 00 04 40 0b e8 07 01 1f 0c 22 38 40 e2 01 00 06 31 32 2e 33 34 30 02 00 ff",
        );
        let ex = decode_execute(&body, 8, &[], &[]).expect("test vector");
        assert_eq!((ex.statement_id, ex.flags, ex.iterations), (1, 0, 1));
        let types = ex.new_types.clone().expect("test vector");
        assert_eq!(
            types[0],
            P {
                coltype: coltype::TINY,
                unsigned: true
            }
        );
        assert_eq!(types[4], t(coltype::NULL));
        assert_eq!(
            types[6],
            t(coltype::DECIMAL),
            "DECIMAL (0x00), not NEWDECIMAL"
        );
        assert_eq!(types[7], t(coltype::STRING), "bytes go as STRING");
        assert_eq!(
            ex.values,
            vec![
                BinValue::UInt(7),
                BinValue::Int(-2),
                BinValue::Bytes("h\u{e9}".as_bytes()),
                BinValue::Double(2.5),
                BinValue::Null,
                BinValue::DateTime(DateTime {
                    year: 2024,
                    month: 1,
                    day: 31,
                    hour: 12,
                    minute: 34,
                    second: 56,
                    micros: 123_456,
                }),
                BinValue::Bytes(b"12.340"),
                BinValue::Bytes(b"\x00\xff"),
            ]
        );
        let body = hex("02 00 00 00 00 01 00 00 00 00 01 0a 00 0b 00 04 cf 07 0c 1f 0c 00 01 00 00 00 01 01 02 03 00 00 00");
        let ex = decode_execute(&body, 2, &[], &[]).expect("test vector");
        assert_eq!(
            ex.values,
            vec![
                BinValue::Date(DateTime {
                    year: 1999,
                    month: 12,
                    day: 31,
                    ..DateTime::default()
                }),
                BinValue::Time(Time {
                    negative: false,
                    days: 1,
                    hours: 1,
                    minutes: 1,
                    seconds: 2,
                    micros: 3,
                }),
            ]
        );
    }

    #[test]
    fn every_parameter_type_decodes() {
        let cases: Vec<(u16, &str, BinValue<'static>)> = vec![
            (0x01, "ff", BinValue::Int(-1)),
            (0x8001, "ff", BinValue::UInt(255)),
            (0x02, "fe ff", BinValue::Int(-2)),
            (0x03, "ff ff ff ff", BinValue::Int(-1)),
            (0x8003, "ff ff ff ff", BinValue::UInt(4_294_967_295)),
            (0x8008, "ff ff ff ff ff ff ff ff", BinValue::UInt(u64::MAX)),
            (0x04, "00 00 c0 3f", BinValue::Float(1.5)),
            (0x05, "00 00 00 00 00 00 f8 3f", BinValue::Double(1.5)),
            (0xf6, "04 31 2e 35 30", BinValue::Bytes(b"1.50")),
            (0x0d, "e8 07", BinValue::Int(2024)),
            (
                0x0a,
                "04 e8 07 01 1f",
                BinValue::Date(DateTime {
                    year: 2024,
                    month: 1,
                    day: 31,
                    ..DateTime::default()
                }),
            ),
            (
                0x0c,
                "0b e8 07 01 1f 0c 22 38 40 e2 01 00",
                BinValue::DateTime(DateTime {
                    year: 2024,
                    month: 1,
                    day: 31,
                    hour: 12,
                    minute: 34,
                    second: 56,
                    micros: 123_456,
                }),
            ),
            (
                0x0b,
                "08 01 22 00 00 00 0e 3b 3b",
                BinValue::Time(Time {
                    negative: true,
                    days: 34,
                    hours: 14,
                    minutes: 59,
                    seconds: 59,
                    micros: 0,
                }),
            ),
            (0x06, "", BinValue::Null),
        ];
        for (ty, bytes, want) in cases {
            let data = hex(bytes);
            let mut r = Reader::new(&data);
            let got = decode_value(&mut r, ParamType::decode(ty)).expect("test vector");
            assert_eq!(got, want, "type {ty:#x}");
            assert!(r.is_empty());
            // and the column encoding gives the same bytes back
            if want != BinValue::Null && ty & 0xff != 0xf6 {
                let mut out = Vec::new();
                encode_value(&mut out, ParamType::decode(ty), &want).expect("test vector");
                assert_eq!(out, data, "type {ty:#x}");
            }
        }
    }

    #[test]
    fn binary_row_null_bitmap_has_offset_two() {
        let mut out = Vec::new();
        let mut row = BinaryRow::begin(&mut out, 3);
        row.value(t(coltype::LONGLONG), &BinValue::Int(1))
            .expect("test vector");
        row.null();
        row.value(t(coltype::VAR_STRING), &BinValue::Bytes(b"ab"))
            .expect("test vector");
        // header, bitmap (bit 3 = column 1), 8-byte 1, lenenc "ab"
        assert_eq!(out, hex("00 08 01 00 00 00 00 00 00 00 02 61 62"));
    }

    #[test]
    fn values_that_do_not_fit_their_column_are_mismatches() {
        let mut out = Vec::new();
        assert!(encode_value(&mut out, t(coltype::TINY), &BinValue::Int(300)).is_err());
        let u = ParamType {
            coltype: coltype::TINY,
            unsigned: true,
        };
        assert!(encode_value(&mut out, u, &BinValue::Int(-1)).is_err());
        assert!(encode_value(&mut out, u, &BinValue::Int(255)).is_ok());
        assert!(encode_value(&mut out, t(coltype::DATE), &BinValue::Bytes(b"soon")).is_err());
        assert!(encode_value(&mut out, t(coltype::LONG), &BinValue::Bytes(b"12x")).is_err());
        assert!(encode_value(&mut out, t(coltype::LONG), &BinValue::Bytes(b"12")).is_ok());
    }

    #[test]
    fn dates_and_times_as_text() {
        let dt = parse_datetime(b"2024-01-31 12:34:56.123456").expect("test vector");
        let mut buf = [0u8; 64];
        assert_eq!(
            &*text_of(&BinValue::DateTime(dt), &mut buf, 6),
            b"2024-01-31 12:34:56.123456"
        );
        let dt = parse_datetime(b"2024-01-31 12:34:56").expect("test vector");
        assert_eq!(
            &*text_of(&BinValue::DateTime(dt), &mut buf, 0),
            b"2024-01-31 12:34:56"
        );
        assert_eq!(
            &*text_of(&BinValue::DateTime(dt), &mut buf, 3),
            b"2024-01-31 12:34:56.000"
        );
        let tm = parse_time(b"-838:59:59").expect("test vector");
        assert_eq!((tm.days, tm.hours), (34, 22));
        assert_eq!(&*text_of(&BinValue::Time(tm), &mut buf, 0), b"-838:59:59");
        let tm = parse_time(b"1 02:03:04.5").expect("test vector");
        assert_eq!(&*text_of(&BinValue::Time(tm), &mut buf, 1), b"26:03:04.5");
        assert!(parse_time(b"839:00:00").is_none());
        assert!(parse_datetime(b"2024-13-01").is_none());
        assert!(parse_datetime(b"2024-01-01 24:00:00").is_none());
        assert_eq!(parse_datetime(b"0000-00-00"), Some(DateTime::default()));
        assert_eq!(&*text_of(&BinValue::Int(-5), &mut buf, 0), b"-5");
        assert_eq!(&*text_of(&BinValue::Double(0.1), &mut buf, 0), b"0.1");
    }

    #[test]
    fn shortest_date_encodings() {
        let mut out = Vec::new();
        put_datetime(&mut out, &DateTime::default(), false);
        assert_eq!(out, [0]);
        let mut out = Vec::new();
        put_time(&mut out, &Time::default());
        assert_eq!(out, [0]);
    }
}
