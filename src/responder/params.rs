//! Placeholders of prepared statements and their substitution: an execution
//! is answered as the text query with each `?` replaced by its bound value
//! written as a SQL literal, so every responder answers prepared and text
//! queries by the same rules.

use super::sql::{skip_block, skip_line, skip_quoted};
use crate::protocol::binary::{self, BinValue, ParamType};
use crate::protocol::consts::coltype;

/// Most placeholders a statement may have: PREPARE_OK counts them in 16 bits.
pub const MAX_PLACEHOLDERS: usize = u16::MAX as usize;

/// Byte offsets of the `?` placeholders of a statement: outside quotes,
/// backticks and comments. Linear in the statement's length; it stops after
/// [`MAX_PLACEHOLDERS`] + 1 of them (a statement with more is refused), so a
/// packet of question marks costs no more than that.
pub fn placeholders(sql: &[u8]) -> Vec<usize> {
    let mut at = Vec::new();
    let mut i = 0;
    while let Some(&c) = sql.get(i) {
        match c {
            b'\'' | b'"' | b'`' => i = skip_quoted(sql, i),
            b'#' => i = skip_line(sql, i),
            b'-' if sql.get(i + 1) == Some(&b'-')
                && sql.get(i + 2).is_none_or(|c| c.is_ascii_whitespace()) =>
            {
                i = skip_line(sql, i)
            }
            b'/' if sql.get(i + 1) == Some(&b'*') => i = skip_block(sql, i),
            b'?' => {
                at.push(i);
                if at.len() > MAX_PLACEHOLDERS {
                    break;
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    at
}

/// The statement with each placeholder (at the offsets `at`) replaced by the
/// SQL literal of its value. `values` and `types` are in placeholder order; a
/// missing value is NULL.
pub fn substitute(
    sql: &[u8],
    at: &[usize],
    values: &[BinValue<'_>],
    types: &[ParamType],
) -> Vec<u8> {
    substitute_into(&[], sql, at, values, types, None)
}

/// As [`substitute`], also giving where each literal landed in the text
/// (byte ranges, in placeholder order): a responder can tell a `?` from a
/// literal the client wrote (the built-in SELECT names such a column `?`
/// and types it as the parameter, as MySQL does).
///
/// The text comes after `prefix` in the buffer returned (a COM_QUERY
/// payload's command byte: one allocation for the payload); the ranges count
/// from the end of the prefix.
pub fn substitute_with_spans(
    prefix: &[u8],
    sql: &[u8],
    at: &[usize],
    values: &[BinValue<'_>],
    types: &[ParamType],
) -> (Vec<u8>, Vec<(usize, usize)>) {
    let mut spans = Vec::with_capacity(at.len());
    let text = substitute_into(prefix, sql, at, values, types, Some(&mut spans));
    (text, spans)
}

fn substitute_into(
    prefix: &[u8],
    sql: &[u8],
    at: &[usize],
    values: &[BinValue<'_>],
    types: &[ParamType],
    mut spans: Option<&mut Vec<(usize, usize)>>,
) -> Vec<u8> {
    let extra: usize = values
        .iter()
        .map(|v| match v {
            BinValue::Bytes(b) => 3 + b.len() * 2,
            _ => 32,
        })
        .sum();
    let mut out = Vec::with_capacity(prefix.len() + sql.len() + extra);
    out.extend_from_slice(prefix);
    let mut from = 0;
    for (k, &pos) in at.iter().enumerate() {
        out.extend_from_slice(sql.get(from..pos).unwrap_or_default());
        let v = values.get(k).unwrap_or(&BinValue::Null);
        let t = types.get(k).copied().unwrap_or_default();
        let start = out.len();
        put_literal(&mut out, v, t);
        if let Some(s) = spans.as_deref_mut() {
            s.push((start - prefix.len(), out.len() - prefix.len()));
        }
        from = pos + 1;
    }
    out.extend_from_slice(sql.get(from..).unwrap_or_default());
    out
}

/// Appends `v` as a SQL literal: NULL; numbers as digits; strings quoted and
/// escaped as `mysql_real_escape_string` does; bytes (a BLOB parameter, or a
/// string that is not UTF-8) as `X'…'`; dates and times quoted.
pub fn put_literal(out: &mut Vec<u8>, v: &BinValue<'_>, t: ParamType) {
    match v {
        BinValue::Null => out.extend_from_slice(b"NULL"),
        BinValue::Bytes(b) => {
            let blob = matches!(
                t.coltype,
                coltype::TINY_BLOB | coltype::MEDIUM_BLOB | coltype::LONG_BLOB | coltype::BLOB
            );
            let number = t.coltype == coltype::NEWDECIMAL || t.coltype == coltype::DECIMAL;
            if number && is_decimal(b) {
                out.extend_from_slice(b);
            } else if blob || std::str::from_utf8(b).is_err() {
                put_hex(out, b);
            } else {
                put_quoted(out, b);
            }
        }
        BinValue::Date(_) | BinValue::DateTime(_) | BinValue::Time(_) => {
            let mut buf = [0u8; 64];
            let text = binary::text_of(v, &mut buf, 0);
            put_quoted(out, &text);
        }
        BinValue::Float(f) if !f.is_finite() => out.extend_from_slice(b"NULL"),
        BinValue::Double(d) if !d.is_finite() => out.extend_from_slice(b"NULL"),
        _ => {
            let mut buf = [0u8; 64];
            out.extend_from_slice(&binary::text_of(v, &mut buf, 0));
        }
    }
}

fn is_decimal(b: &[u8]) -> bool {
    let digits = b.strip_prefix(b"-").unwrap_or(b);
    let mut dots = 0;
    !digits.is_empty()
        && digits.iter().all(|&c| {
            if c == b'.' {
                dots += 1;
                dots == 1
            } else {
                c.is_ascii_digit()
            }
        })
        && digits != b"."
}

fn put_hex(out: &mut Vec<u8>, b: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.extend_from_slice(b"X'");
    for &c in b {
        out.push(HEX[usize::from(c >> 4)]);
        out.push(HEX[usize::from(c & 0xf)]);
    }
    out.push(b'\'');
}

/// `'…'` with MySQL's escapes (as `mysql_real_escape_string`).
pub fn put_quoted(out: &mut Vec<u8>, b: &[u8]) {
    out.push(b'\'');
    for &c in b {
        match c {
            0 => out.extend_from_slice(b"\\0"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            0x1a => out.extend_from_slice(b"\\Z"),
            b'\'' => out.extend_from_slice(b"\\'"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            _ => out.push(c),
        }
    }
    out.push(b'\'');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::binary::{DateTime, Time};

    const fn t(c: u8) -> ParamType {
        ParamType::of(c)
    }

    #[test]
    fn placeholders_outside_quotes_and_comments() {
        let sql = b"SELECT ?, '?', \"?\", `?`, ? -- ?\n/* ? */ # ?\n FROM t WHERE a = ?";
        let at = placeholders(sql);
        assert_eq!(at.len(), 3);
        assert!(at.iter().all(|&i| sql[i] == b'?'));
        assert_eq!(placeholders(b"SELECT 'it''s ?'"), Vec::<usize>::new());
        assert_eq!(placeholders(b"SELECT 'a\\'?' , ?").len(), 1);
        assert!(placeholders(b"SELECT '?").is_empty(), "unterminated quote");
    }

    #[test]
    fn values_become_literals() {
        let sql = b"SELECT name FROM users WHERE id = ? AND s = ? AND b = ? AND d = ? AND n = ?";
        let at = placeholders(sql);
        let values = [
            BinValue::Int(7),
            BinValue::Bytes(b"O'Brien\\\n"),
            BinValue::Bytes(&[0, 255]),
            BinValue::DateTime(DateTime {
                year: 2024,
                month: 1,
                day: 31,
                hour: 1,
                minute: 2,
                second: 3,
                micros: 500_000,
            }),
            BinValue::Null,
        ];
        let types = [
            t(coltype::LONGLONG),
            t(coltype::VAR_STRING),
            t(coltype::BLOB),
            t(coltype::DATETIME),
            t(coltype::NULL),
        ];
        let got = substitute(sql, &at, &values, &types);
        assert_eq!(
            String::from_utf8(got).unwrap(),
            "SELECT name FROM users WHERE id = 7 AND s = 'O\\'Brien\\\\\\n' AND b = X'00FF' AND d = '2024-01-31 01:02:03.500000' AND n = NULL"
        );
        let mut out = Vec::new();
        put_literal(&mut out, &BinValue::Bytes(b"12.50"), t(coltype::NEWDECIMAL));
        put_literal(
            &mut out,
            &BinValue::Bytes(b"1;DROP"),
            t(coltype::NEWDECIMAL),
        );
        put_literal(&mut out, &BinValue::UInt(u64::MAX), t(coltype::LONGLONG));
        put_literal(
            &mut out,
            &BinValue::Time(Time {
                negative: true,
                days: 1,
                hours: 2,
                minutes: 3,
                seconds: 4,
                micros: 0,
            }),
            t(coltype::TIME),
        );
        put_literal(&mut out, &BinValue::Double(f64::NAN), t(coltype::DOUBLE));
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "12.50'1;DROP'18446744073709551615'-26:03:04'NULL"
        );
    }
}
