//! The MySQL client/server protocol as pure functions over bytes: no sockets, no
//! mio, nothing of the rest of the crate. Both directions are implemented so that
//! the server, the tests and the load generator share one codec.
//!
//! References: the "Client/Server Protocol" chapter of the MySQL Internals manual
//! (dev.mysql.com/doc/dev/mysql-server/latest/PAGE_PROTOCOL.html).

pub mod auth;
pub mod binary;
pub mod command;
pub mod compress;
pub mod consts;
pub mod errcodes;
pub mod error;
pub mod handshake;
pub mod packet;
pub mod response;
pub mod wire;

pub use error::{Error, Result};

/// Test vectors are written as space-separated hex bytes ("01 00 00 00 0e").
#[cfg(test)]
pub(crate) fn test_hex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).expect("test vector is hex"))
        .collect()
}
