//! The codec's error type: small, `Copy`, no allocation (a peer can trigger it at will).

use std::fmt;

/// Why bytes from a peer could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// The bytes do not form the expected message; the text names the field.
    Malformed(&'static str),
    /// A packet (after reassembly) is larger than the configured maximum.
    TooLarge {
        /// Declared length so far.
        len: usize,
        /// The configured maximum.
        max: usize,
    },
    /// A command byte the codec does not know.
    UnknownCommand(u8),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Malformed(what) => write!(f, "malformed packet: {what}"),
            Error::TooLarge { len, max } => {
                write!(f, "packet of {len} bytes exceeds the maximum of {max}")
            }
            Error::UnknownCommand(c) => write!(f, "unknown command 0x{c:02x}"),
        }
    }
}

impl std::error::Error for Error {}

/// Codec result.
pub type Result<T> = std::result::Result<T, Error>;
