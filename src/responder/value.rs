//! Values of the built-in answers: what a literal, a server variable or a
//! function evaluates to, and how each is typed in a column definition.

use crate::protocol::consts::coltype;
use std::borrow::Cow;

/// A scalar value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// An integer (BIGINT column).
    Int(i64),
    /// An unsigned integer beyond i64 (BIGINT UNSIGNED column).
    UInt(u64),
    /// A decimal literal kept as written (DECIMAL column).
    Decimal(String),
    /// A literal with an exponent (DOUBLE column).
    Double(f64),
    /// A string (VARCHAR utf8mb4 column).
    Str(Cow<'static, str>),
    /// Bytes: a hex literal `X'…'`, as a prepared statement's BLOB
    /// parameter arrives (VARBINARY column).
    Bytes(Vec<u8>),
}

impl Value {
    /// A string value.
    pub fn str(s: impl Into<Cow<'static, str>>) -> Value {
        Value::Str(s.into())
    }

    /// Column type MySQL reports for an expression of this value.
    pub fn coltype(&self) -> u8 {
        match self {
            Value::Null => coltype::NULL,
            Value::Int(_) | Value::UInt(_) => coltype::LONGLONG,
            Value::Decimal(_) => coltype::NEWDECIMAL,
            Value::Double(_) => coltype::DOUBLE,
            Value::Str(_) | Value::Bytes(_) => coltype::VAR_STRING,
        }
    }

    /// Appends the text-protocol form; `None` for NULL.
    pub fn text<'a>(&'a self, scratch: &'a mut String) -> Option<&'a [u8]> {
        match self {
            Value::Null => None,
            Value::Int(i) => {
                scratch.clear();
                use std::fmt::Write;
                let _ = write!(scratch, "{i}");
                Some(scratch.as_bytes())
            }
            Value::UInt(u) => {
                scratch.clear();
                use std::fmt::Write;
                let _ = write!(scratch, "{u}");
                Some(scratch.as_bytes())
            }
            Value::Decimal(s) => Some(s.as_bytes()),
            Value::Double(d) => {
                scratch.clear();
                let mut buf = [0u8; 64];
                let t = crate::protocol::binary::text_of(
                    &crate::protocol::binary::BinValue::Double(*d),
                    &mut buf,
                    0,
                );
                scratch.push_str(&String::from_utf8_lossy(&t));
                Some(scratch.as_bytes())
            }
            Value::Str(s) => Some(s.as_bytes()),
            Value::Bytes(b) => Some(b),
        }
    }

    /// Bytes of the text-protocol form (at most 20 for numbers).
    pub fn text_len(&self) -> usize {
        match self {
            Value::Null => 0,
            Value::Int(_) | Value::UInt(_) => 20,
            Value::Double(_) => 24,
            Value::Decimal(s) => s.len(),
            Value::Str(s) => s.len(),
            Value::Bytes(b) => b.len(),
        }
    }

    /// The value as a resultset cell.
    pub fn into_cell(self) -> crate::responder::reply::Cell {
        use crate::responder::reply::Cell;
        match self {
            Value::Null => Cell::Null,
            Value::Int(i) => Cell::Int(i),
            Value::UInt(u) => Cell::UInt(u),
            Value::Decimal(d) => Cell::Bytes(Cow::Owned(d.into_bytes())),
            Value::Double(d) => Cell::Double(d),
            Value::Str(Cow::Borrowed(s)) => Cell::Bytes(Cow::Borrowed(s.as_bytes())),
            Value::Str(Cow::Owned(s)) => Cell::Bytes(Cow::Owned(s.into_bytes())),
            Value::Bytes(b) => Cell::Bytes(Cow::Owned(b)),
        }
    }

    /// The value as SHOW VARIABLES prints it.
    pub fn to_text(&self) -> String {
        match self {
            Value::Null => String::new(),
            Value::Int(i) => i.to_string(),
            Value::UInt(u) => u.to_string(),
            Value::Decimal(s) => s.clone(),
            Value::Double(_) => {
                let mut sc = String::new();
                self.text(&mut sc);
                sc
            }
            Value::Str(s) => s.to_string(),
            Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        }
    }
}
