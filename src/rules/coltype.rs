//! Column types written as in `CREATE TABLE` (`BIGINT UNSIGNED`,
//! `DECIMAL(20,6)`, `VARCHAR(64)`, `DATETIME(6)`, …) into column
//! definitions, and a rule file's cells checked against them once, at load.

use crate::protocol::binary::{parse_datetime, parse_time};
use crate::protocol::consts::{charset, colflag, coltype};
use crate::protocol::response::ColumnDef;
use crate::responder::reply::Cell;
use base64::Engine as _;
use serde_json::Value as Json;
use std::borrow::Cow;

/// What a column's cells may hold: the check and conversion for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An integer of `bits` bits.
    Int {
        /// UNSIGNED.
        unsigned: bool,
        /// 8, 16, 24, 32 or 64.
        bits: u32,
    },
    /// FLOAT or DOUBLE.
    Float,
    /// DECIMAL(precision, scale).
    Decimal {
        /// Digits in all.
        precision: u32,
        /// Digits after the point.
        scale: u32,
    },
    /// Text of at most this many characters (`None`: TEXT's 4 GiB).
    Text(Option<u64>),
    /// Bytes, at most this many.
    Bytes(Option<u64>),
    /// DATE.
    Date,
    /// DATETIME or TIMESTAMP.
    DateTime,
    /// TIME.
    Time,
    /// YEAR.
    Year,
    /// JSON: any JSON value, sent as its text.
    Json,
    /// BIT(n).
    Bit(u32),
}

/// A column type: its definition (name empty) and what its cells may hold.
#[derive(Debug, Clone)]
pub struct ColType {
    /// The column definition MySQL sends for a column of this type.
    pub def: ColumnDef,
    /// The cells' check.
    pub kind: Kind,
}

/// Parses a type as `CREATE TABLE` writes it. Case and spaces do not matter.
pub fn parse(s: &str) -> Result<ColType, String> {
    let norm = s.trim().to_ascii_uppercase();
    let (head, args, tail) = split_args(&norm)?;
    let mut words = tail.split_whitespace();
    let mut unsigned = false;
    let mut zerofill = false;
    for w in words.by_ref() {
        match w {
            "UNSIGNED" => unsigned = true,
            "SIGNED" => {}
            "ZEROFILL" => {
                zerofill = true;
                unsigned = true;
            }
            other => return Err(format!("type {s:?}: unexpected {other:?}")),
        }
    }
    let arg = |i: usize| args.get(i).copied();
    let int = |t: u8, bits: u32, width: u32| ColType {
        def: def(t, width, colflag::NUM, 0),
        kind: Kind::Int { unsigned, bits },
    };
    let mut ct = match head.as_str() {
        "TINYINT" | "BOOL" | "BOOLEAN" => int(coltype::TINY, 8, 4),
        "SMALLINT" => int(coltype::SHORT, 16, 6),
        "MEDIUMINT" => int(coltype::INT24, 24, 9),
        "INT" | "INTEGER" => int(coltype::LONG, 32, 11),
        "BIGINT" => int(coltype::LONGLONG, 64, 20),
        "FLOAT" => ColType {
            def: def(coltype::FLOAT, 12, colflag::NUM, 31),
            kind: Kind::Float,
        },
        "DOUBLE" | "REAL" | "DOUBLE PRECISION" => ColType {
            def: def(coltype::DOUBLE, 22, colflag::NUM, 31),
            kind: Kind::Float,
        },
        "DECIMAL" | "NUMERIC" | "DEC" | "FIXED" => {
            let precision = arg(0).unwrap_or(10);
            let scale = arg(1).unwrap_or(0);
            if !(1..=65).contains(&precision) || scale > 30 || scale > precision {
                return Err(format!("type {s:?}: DECIMAL(M,D) needs 1 <= M <= 65, D <= 30, D <= M"));
            }
            // display length: digits, the point, the sign
            let len = precision + u32::from(scale > 0) + u32::from(!unsigned);
            ColType {
                def: def(coltype::NEWDECIMAL, len, colflag::NUM, scale as u8),
                kind: Kind::Decimal { precision, scale },
            }
        }
        "CHAR" | "VARCHAR" => {
            let n = arg(0).unwrap_or(if head == "CHAR" { 1 } else { 255 });
            let t = if head == "CHAR" {
                coltype::STRING
            } else {
                coltype::VAR_STRING
            };
            ColType {
                def: text_def(t, n.saturating_mul(4)),
                kind: Kind::Text(Some(u64::from(n))),
            }
        }
        "BINARY" | "VARBINARY" => {
            let n = arg(0).unwrap_or(if head == "BINARY" { 1 } else { 255 });
            let t = if head == "BINARY" {
                coltype::STRING
            } else {
                coltype::VAR_STRING
            };
            ColType {
                def: def(t, n, colflag::BINARY, 0),
                kind: Kind::Bytes(Some(u64::from(n))),
            }
        }
        "TINYTEXT" => blob(true, 255),
        "TEXT" => blob(true, 65_535),
        "MEDIUMTEXT" => blob(true, 16_777_215),
        "LONGTEXT" => blob(true, u32::MAX),
        "TINYBLOB" => blob(false, 255),
        "BLOB" => blob(false, 65_535),
        "MEDIUMBLOB" => blob(false, 16_777_215),
        "LONGBLOB" => blob(false, u32::MAX),
        "DATE" => ColType {
            def: def(coltype::DATE, 10, colflag::BINARY, 0),
            kind: Kind::Date,
        },
        "DATETIME" | "TIMESTAMP" => {
            let fsp = fsp(s, arg(0))?;
            let t = if head == "DATETIME" {
                coltype::DATETIME
            } else {
                coltype::TIMESTAMP
            };
            let flags = colflag::BINARY
                | if head == "TIMESTAMP" {
                    colflag::TIMESTAMP
                } else {
                    0
                };
            ColType {
                def: def(t, 19 + fsp + u32::from(fsp > 0), flags, fsp as u8),
                kind: Kind::DateTime,
            }
        }
        "TIME" => {
            let fsp = fsp(s, arg(0))?;
            ColType {
                def: def(coltype::TIME, 10 + fsp + u32::from(fsp > 0), colflag::BINARY, fsp as u8),
                kind: Kind::Time,
            }
        }
        "YEAR" => ColType {
            def: def(coltype::YEAR, 4, colflag::NUM | colflag::UNSIGNED | colflag::ZEROFILL, 0),
            kind: Kind::Year,
        },
        "JSON" => ColType {
            def: def(coltype::JSON, u32::MAX, colflag::BLOB | colflag::BINARY, 0),
            kind: Kind::Json,
        },
        "BIT" => {
            let n = arg(0).unwrap_or(1);
            if !(1..=64).contains(&n) {
                return Err(format!("type {s:?}: BIT(M) needs 1 <= M <= 64"));
            }
            ColType {
                def: def(coltype::BIT, n, colflag::UNSIGNED, 0),
                kind: Kind::Bit(n),
            }
        }
        other => {
            return Err(format!(
                "type {s:?}: unknown type {other:?} (write it as in CREATE TABLE: INT, BIGINT UNSIGNED, DECIMAL(10,2), VARCHAR(64), TEXT, BLOB, DATE, DATETIME(6), TIME, YEAR, JSON, …)"
            ))
        }
    };
    if unsigned {
        match ct.kind {
            Kind::Int { .. } | Kind::Float | Kind::Decimal { .. } => {
                ct.def.flags |= colflag::UNSIGNED
            }
            _ => return Err(format!("type {s:?}: UNSIGNED only applies to numbers")),
        }
    }
    if zerofill {
        ct.def.flags |= colflag::ZEROFILL;
    }
    if let Some(w) = arg(0).filter(|_| matches!(ct.kind, Kind::Int { .. })) {
        ct.def.length = w.clamp(1, 255); // INT(11): a display width
    }
    Ok(ct)
}

fn def(t: u8, length: u32, flags: u16, decimals: u8) -> ColumnDef {
    let mut d = ColumnDef::new(b"", t);
    d.charset = charset::BINARY;
    d.length = length;
    d.flags = flags;
    d.decimals = decimals;
    d
}

fn text_def(t: u8, length: u32) -> ColumnDef {
    let mut d = def(t, length, 0, 0);
    d.charset = charset::UTF8MB4_0900_AI_CI;
    d
}

fn blob(text: bool, max: u32) -> ColType {
    if text {
        let mut d = text_def(coltype::BLOB, max);
        d.flags = colflag::BLOB;
        ColType {
            def: d,
            kind: Kind::Text(Some(u64::from(max))),
        }
    } else {
        ColType {
            def: def(coltype::BLOB, max, colflag::BLOB | colflag::BINARY, 0),
            kind: Kind::Bytes(Some(u64::from(max))),
        }
    }
}

fn fsp(s: &str, a: Option<u32>) -> Result<u32, String> {
    match a {
        None => Ok(0),
        Some(n) if n <= 6 => Ok(n),
        Some(_) => Err(format!("type {s:?}: fractional seconds precision is 0..6")),
    }
}

/// `DECIMAL(20, 6) UNSIGNED` into (`DECIMAL`, [20, 6], `UNSIGNED`); ENUM and
/// SET lists are accepted and ignored (their values are not checked).
fn split_args(s: &str) -> Result<(String, Vec<u32>, &str), String> {
    let Some(open) = s.find('(') else {
        // two-word names first: DOUBLE PRECISION
        if let Some(rest) = s.strip_prefix("DOUBLE PRECISION") {
            return Ok(("DOUBLE".into(), Vec::new(), rest));
        }
        let end = s.find(char::is_whitespace).unwrap_or(s.len());
        return Ok((s[..end].to_string(), Vec::new(), &s[end..]));
    };
    let close = s[open..]
        .find(')')
        .map(|c| open + c)
        .ok_or_else(|| format!("type {s:?}: unclosed '('"))?;
    let head = s[..open].trim().to_string();
    let inner = &s[open + 1..close];
    let args = if head == "ENUM" || head == "SET" {
        Vec::new()
    } else {
        inner
            .split(',')
            .map(|a| {
                a.trim()
                    .parse::<u32>()
                    .map_err(|_| format!("type {s:?}: {a:?} is not a number"))
            })
            .collect::<Result<_, _>>()?
    };
    Ok((head, args, &s[close + 1..]))
}

/// A cell of a rule file as the column's type needs it, checked.
pub fn cell(kind: Kind, v: &Json) -> Result<Cell, String> {
    match v {
        Json::Null => Ok(Cell::Null),
        Json::Object(o) => {
            let bytes = if let Some(Json::String(h)) = o.get("hex") {
                hex(h)?
            } else if let Some(Json::String(b)) = o.get("base64") {
                base64::engine::general_purpose::STANDARD
                    .decode(b)
                    .map_err(|e| format!("bad base64: {e}"))?
            } else if kind == Kind::Json {
                return Ok(Cell::Bytes(Cow::Owned(v.to_string().into_bytes())));
            } else {
                return Err("an object cell must be { \"hex\": … } or { \"base64\": … }".into());
            };
            bytes_cell(kind, bytes)
        }
        Json::Array(_) if kind == Kind::Json => {
            Ok(Cell::Bytes(Cow::Owned(v.to_string().into_bytes())))
        }
        Json::Array(_) => Err("an array is only a cell of a JSON column".into()),
        Json::Bool(b) => match kind {
            Kind::Json => Ok(Cell::Bytes(Cow::Owned(b.to_string().into_bytes()))),
            _ => text_cell(kind, if *b { "1" } else { "0" }),
        },
        Json::Number(n) => match kind {
            Kind::Json => Ok(Cell::Bytes(Cow::Owned(n.to_string().into_bytes()))),
            Kind::Float => n
                .as_f64()
                .map(Cell::Double)
                .ok_or_else(|| "not a number".into()),
            // serde_json writes small and large floats with an exponent
            // (-1e-6); a DECIMAL is checked in positional notation
            Kind::Decimal { scale, .. } if n.to_string().contains(['e', 'E']) => {
                let f = n.as_f64().ok_or("not a number")?;
                text_cell(kind, &format!("{f:.*}", scale as usize))
            }
            _ => text_cell(kind, &n.to_string()),
        },
        Json::String(s) => text_cell(kind, s),
    }
}

/// A cell given as text (a JSON string, a CSV field), checked and converted.
pub fn text_cell(kind: Kind, s: &str) -> Result<Cell, String> {
    match kind {
        Kind::Int { unsigned, bits } => {
            let t = s.trim();
            if unsigned {
                let u: u64 = t
                    .parse()
                    .map_err(|_| format!("{s:?} is not an unsigned integer"))?;
                if bits < 64 && u >> bits != 0 {
                    return Err(format!(
                        "{u} is out of range for a {bits}-bit unsigned integer"
                    ));
                }
                Ok(Cell::UInt(u))
            } else {
                let i: i64 = t.parse().map_err(|_| format!("{s:?} is not an integer"))?;
                if bits < 64 {
                    let lim = 1i64 << (bits - 1);
                    if i < -lim || i >= lim {
                        return Err(format!("{i} is out of range for a {bits}-bit integer"));
                    }
                }
                Ok(Cell::Int(i))
            }
        }
        Kind::Float => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(Cell::Double)
            .ok_or_else(|| format!("{s:?} is not a number")),
        Kind::Decimal { precision, scale } => decimal(s.trim(), precision, scale).map(owned),
        Kind::Text(max) => {
            if let Some(m) = max {
                let chars = s.chars().count() as u64;
                if chars > m {
                    return Err(format!("{chars} characters, longer than the column's {m}"));
                }
            }
            Ok(owned(s.as_bytes().to_vec()))
        }
        Kind::Bytes(_) | Kind::Bit(_) => bytes_cell(kind, s.as_bytes().to_vec()),
        Kind::Date => parse_datetime(s.as_bytes())
            .filter(|d| (d.hour, d.minute, d.second, d.micros) == (0, 0, 0, 0))
            .map(Cell::Date)
            .ok_or_else(|| format!("{s:?} is not a date (YYYY-MM-DD)")),
        Kind::DateTime => parse_datetime(s.as_bytes())
            .map(Cell::DateTime)
            .ok_or_else(|| format!("{s:?} is not a datetime (YYYY-MM-DD hh:mm:ss[.ffffff])")),
        Kind::Time => parse_time(s.as_bytes()).map(Cell::Time).ok_or_else(|| {
            format!("{s:?} is not a time ([-]hhh:mm:ss[.ffffff], -838:59:59 to 838:59:59)")
        }),
        Kind::Year => {
            let y: u16 = s
                .trim()
                .parse()
                .map_err(|_| format!("{s:?} is not a year"))?;
            if y != 0 && !(1901..=2155).contains(&y) {
                return Err(format!("{y} is out of YEAR's range (1901..2155, or 0)"));
            }
            Ok(Cell::Int(i64::from(y)))
        }
        Kind::Json => {
            serde_json::from_str::<Json>(s).map_err(|e| format!("not a JSON document: {e}"))?;
            Ok(owned(s.as_bytes().to_vec()))
        }
    }
}

fn owned(b: Vec<u8>) -> Cell {
    Cell::Bytes(Cow::Owned(b))
}

fn bytes_cell(kind: Kind, b: Vec<u8>) -> Result<Cell, String> {
    match kind {
        Kind::Bytes(Some(m)) if b.len() as u64 > m => {
            Err(format!("{} bytes, longer than the column's {m}", b.len()))
        }
        Kind::Bit(bits) => {
            // BIT(n) is sent as ceil(n/8) bytes, big-endian; a number is its value
            let width = bits.div_ceil(8) as usize;
            let digits = std::str::from_utf8(&b)
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok());
            let raw = match digits {
                Some(v) if bits == 64 || v >> bits == 0 => v.to_be_bytes()[8 - width..].to_vec(),
                Some(v) => return Err(format!("{v} does not fit BIT({bits})")),
                None if b.len() <= width => {
                    let mut v = vec![0; width - b.len()];
                    v.extend(b);
                    v
                }
                None => return Err(format!("{} bytes do not fit BIT({bits})", b.len())),
            };
            Ok(owned(raw))
        }
        Kind::Text(_) => std::str::from_utf8(&b)
            .map_err(|_| "bytes that are not UTF-8 in a text column".to_string())
            .and_then(|s| text_cell(kind, s)),
        Kind::Bytes(_) | Kind::Json => Ok(owned(b)),
        _ => Err("bytes ({ hex } or { base64 }) only fit a string, BLOB or BIT column".into()),
    }
}

fn hex(h: &str) -> Result<Vec<u8>, String> {
    let h = h.trim();
    if !h.len().is_multiple_of(2) {
        return Err("hex needs an even number of digits".into());
    }
    (0..h.len())
        .step_by(2)
        .map(|i| {
            h.get(i..i + 2)
                .and_then(|d| u8::from_str_radix(d, 16).ok())
                .ok_or_else(|| format!("{h:?} is not hex"))
        })
        .collect()
}

/// A DECIMAL's text, checked against its precision and scale and written
/// with exactly `scale` digits after the point (as MySQL sends it).
fn decimal(s: &str, precision: u32, scale: u32) -> Result<Vec<u8>, String> {
    let bad = || format!("{s:?} is not a DECIMAL({precision},{scale})");
    let (neg, digits) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().all(|c| c.is_ascii_digit())
        || !frac.bytes().all(|c| c.is_ascii_digit())
    {
        return Err(bad());
    }
    let int = int.trim_start_matches('0');
    let frac_kept = frac.trim_end_matches('0');
    if int.len() as u32 > precision - scale || frac_kept.len() as u32 > scale {
        return Err(format!("{s:?} does not fit DECIMAL({precision},{scale})"));
    }
    let mut out = String::with_capacity(precision as usize + 3);
    if neg && (!int.is_empty() || !frac_kept.is_empty()) {
        out.push('-');
    }
    out.push_str(if int.is_empty() { "0" } else { int });
    if scale > 0 {
        out.push('.');
        out.push_str(frac_kept);
        for _ in frac_kept.len()..scale as usize {
            out.push('0');
        }
    }
    Ok(out.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_as_create_table_writes_them() {
        let t = parse("bigint unsigned").unwrap();
        assert_eq!(t.def.coltype, coltype::LONGLONG);
        assert!(t.def.flags & colflag::UNSIGNED != 0);
        let t = parse("DECIMAL(20, 6)").unwrap();
        assert_eq!((t.def.coltype, t.def.decimals), (coltype::NEWDECIMAL, 6));
        let t = parse("VARCHAR(64)").unwrap();
        assert_eq!((t.def.coltype, t.def.length), (coltype::VAR_STRING, 256));
        assert_eq!(parse("DATETIME(6)").unwrap().def.decimals, 6);
        assert_eq!(parse("TIME(3)").unwrap().def.coltype, coltype::TIME);
        assert_eq!(parse("json").unwrap().def.coltype, coltype::JSON);
        assert_eq!(parse("INT(11)").unwrap().def.length, 11);
        for bad in [
            "VARCHAR(x)",
            "DATETIME(7)",
            "WIBBLE",
            "TEXT UNSIGNED",
            "DECIMAL(5,6)",
            "INT(3",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cells_are_checked_against_their_type() {
        let k = |t: &str| parse(t).unwrap().kind;
        assert_eq!(
            cell(k("TINYINT"), &Json::from(127)).unwrap(),
            Cell::Int(127)
        );
        assert!(cell(k("TINYINT"), &Json::from(128)).is_err());
        assert!(cell(k("INT UNSIGNED"), &Json::from(-1)).is_err());
        assert_eq!(
            cell(k("BIGINT UNSIGNED"), &Json::from(u64::MAX)).unwrap(),
            Cell::UInt(u64::MAX)
        );
        assert_eq!(
            cell(k("DECIMAL(20,6)"), &Json::from(1.5)).unwrap(),
            owned(b"1.500000".to_vec())
        );
        assert!(cell(k("DECIMAL(4,2)"), &Json::from("123.4")).is_err());
        assert!(cell(k("VARCHAR(3)"), &Json::from("abcd")).is_err());
        assert!(cell(k("DATE"), &Json::from("2024-02-30x")).is_err());
        assert!(matches!(
            cell(k("TIME(6)"), &Json::from("-838:59:59")).unwrap(),
            Cell::Time(_)
        ));
        assert_eq!(
            cell(k("BLOB"), &serde_json::json!({"hex": "00ff"})).unwrap(),
            owned(vec![0, 255])
        );
        assert_eq!(
            cell(k("VARBINARY(4)"), &serde_json::json!({"base64": "AP8="})).unwrap(),
            owned(vec![0, 255])
        );
        assert_eq!(
            cell(k("JSON"), &serde_json::json!({"a": [1]})).unwrap(),
            owned(br#"{"a":[1]}"#.to_vec())
        );
        assert_eq!(
            cell(k("BIT(16)"), &Json::from(258)).unwrap(),
            owned(vec![1, 2])
        );
        assert!(cell(k("YEAR"), &Json::from(1800)).is_err());
        assert_eq!(cell(k("INT"), &Json::Null).unwrap(), Cell::Null);
    }
}
