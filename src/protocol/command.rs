//! Command-phase requests, decoded from the payload of a packet with sequence id 0.

use super::consts::{cap, com};
use super::error::{Error, Result};
use super::wire::{put_nul_str, put_u16, Reader};

/// A decoded command. Borrowed from the payload: no allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command<'a> {
    /// COM_QUIT.
    Quit,
    /// COM_INIT_DB with the database name.
    InitDb(&'a [u8]),
    /// COM_QUERY with the query text (the optional query attributes of
    /// CLIENT_QUERY_ATTRIBUTES are never negotiated, so the text is the rest).
    Query(&'a [u8]),
    /// COM_FIELD_LIST: table name and column wildcard.
    FieldList {
        /// Table name.
        table: &'a [u8],
        /// Column name pattern.
        wildcard: &'a [u8],
    },
    /// COM_STATISTICS.
    Statistics,
    /// COM_PING.
    Ping,
    /// COM_CHANGE_USER.
    ChangeUser(ChangeUser<'a>),
    /// COM_RESET_CONNECTION.
    ResetConnection,
    /// COM_SET_OPTION: 0 = multi-statements on, 1 = off.
    SetOption(u16),
    /// COM_STMT_PREPARE with the statement text.
    Prepare(&'a [u8]),
    /// COM_STMT_EXECUTE: the body after the command byte (decoding it needs
    /// the statement's parameter count: [`super::binary::decode_execute`]).
    Execute(&'a [u8]),
    /// COM_STMT_SEND_LONG_DATA: the body ([`super::binary::decode_long_data`]).
    LongData(&'a [u8]),
    /// COM_STMT_CLOSE with the statement id.
    StmtClose(u32),
    /// COM_STMT_RESET with the statement id.
    StmtReset(u32),
    /// COM_STMT_FETCH: statement id and the number of rows asked for.
    Fetch {
        /// Statement id.
        id: u32,
        /// Rows to send.
        rows: u32,
    },
    /// Any other command byte, with its payload.
    Other(u8, &'a [u8]),
}

impl Command<'_> {
    /// True for the commands of prepared statements.
    pub fn is_statement(&self) -> bool {
        matches!(
            self,
            Command::Prepare(_)
                | Command::Execute(_)
                | Command::LongData(_)
                | Command::StmtClose(_)
                | Command::StmtReset(_)
                | Command::Fetch { .. }
        )
    }
}

/// The body of COM_CHANGE_USER.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChangeUser<'a> {
    /// New user name.
    pub username: &'a [u8],
    /// Auth response computed over the connection's original nonce.
    pub auth_response: &'a [u8],
    /// New default database (empty for none).
    pub database: &'a [u8],
    /// Client collation, if sent.
    pub charset: Option<u16>,
    /// Plugin the response was computed for, if sent.
    pub auth_plugin: Option<&'a [u8]>,
}

impl<'a> Command<'a> {
    /// Decodes a command payload under the negotiated capabilities.
    pub fn decode(payload: &'a [u8], capabilities: u32) -> Result<Command<'a>> {
        let (&c, body) = payload
            .split_first()
            .ok_or(Error::Malformed("empty command packet"))?;
        Ok(match c {
            com::QUIT => Command::Quit,
            com::INIT_DB => Command::InitDb(body),
            com::QUERY => Command::Query(body),
            com::FIELD_LIST => {
                let mut r = Reader::new(body);
                let table = r.nul_str_or_rest("field list table")?;
                Command::FieldList {
                    table,
                    wildcard: r.rest(),
                }
            }
            com::STATISTICS => Command::Statistics,
            com::PING => Command::Ping,
            com::CHANGE_USER => Command::ChangeUser(decode_change_user(body, capabilities)?),
            com::RESET_CONNECTION => Command::ResetConnection,
            com::SET_OPTION => Command::SetOption(Reader::new(body).u16("set option value")?),
            com::STMT_PREPARE => Command::Prepare(body),
            com::STMT_EXECUTE => {
                super::binary::statement_id(body)?;
                Command::Execute(body)
            }
            com::STMT_SEND_LONG_DATA => {
                super::binary::decode_long_data(body)?;
                Command::LongData(body)
            }
            com::STMT_CLOSE => Command::StmtClose(super::binary::statement_id(body)?),
            com::STMT_RESET => Command::StmtReset(super::binary::statement_id(body)?),
            com::STMT_FETCH => {
                let (id, rows) = super::binary::decode_fetch(body)?;
                Command::Fetch { id, rows }
            }
            other => Command::Other(other, body),
        })
    }
}

fn decode_change_user(body: &[u8], capabilities: u32) -> Result<ChangeUser<'_>> {
    let mut r = Reader::new(body);
    let username = r.nul_str("change user name")?;
    let auth_response = if capabilities & cap::SECURE_CONNECTION != 0 {
        let n = r.u8("change user auth length")?;
        r.bytes(usize::from(n), "change user auth response")?
    } else {
        r.nul_str("change user auth response")?
    };
    let database = r.nul_str_or_rest("change user database")?;
    let mut cu = ChangeUser {
        username,
        auth_response,
        database,
        ..ChangeUser::default()
    };
    if r.remaining() >= 2 {
        cu.charset = Some(r.u16("change user charset")?);
        if capabilities & cap::PLUGIN_AUTH != 0 && !r.is_empty() {
            cu.auth_plugin = Some(r.nul_str_or_rest("change user plugin")?);
        }
        // connection attributes may follow; they are not needed to answer
    }
    Ok(cu)
}

/// Appends a COM_QUERY payload (for clients: the tests and the load generator).
pub fn encode_query(out: &mut Vec<u8>, sql: &[u8]) {
    out.push(com::QUERY);
    out.extend_from_slice(sql);
}

/// Appends a COM_CHANGE_USER payload for a SECURE_CONNECTION + PLUGIN_AUTH client.
pub fn encode_change_user(out: &mut Vec<u8>, cu: &ChangeUser<'_>) {
    out.push(com::CHANGE_USER);
    put_nul_str(out, cu.username);
    out.push(cu.auth_response.len().min(255) as u8);
    let a = cu.auth_response;
    out.extend_from_slice(a.get(..255).unwrap_or(a));
    put_nul_str(out, cu.database);
    put_u16(out, cu.charset.unwrap_or(45));
    put_nul_str(out, cu.auth_plugin.unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_simple_commands() {
        let caps = cap::PROTOCOL_41 | cap::SECURE_CONNECTION | cap::PLUGIN_AUTH;
        assert_eq!(
            Command::decode(&[0x0e], caps).expect("test vector"),
            Command::Ping
        );
        assert_eq!(
            Command::decode(&[0x01], caps).expect("test vector"),
            Command::Quit
        );
        assert_eq!(
            Command::decode(b"\x03select 1", caps).expect("test vector"),
            Command::Query(b"select 1")
        );
        assert_eq!(
            Command::decode(b"\x02db_1", caps).expect("test vector"),
            Command::InitDb(b"db_1")
        );
        assert_eq!(
            Command::decode(&[0x1b, 1, 0], caps).expect("test vector"),
            Command::SetOption(1)
        );
        assert_eq!(
            Command::decode(b"\x04t1\0%", caps).expect("test vector"),
            Command::FieldList {
                table: b"t1",
                wildcard: b"%"
            }
        );
        assert_eq!(
            Command::decode(&[0x16, b'x'], caps).expect("test vector"),
            Command::Prepare(b"x")
        );
        assert_eq!(
            Command::decode(&[0x19, 7, 0, 0, 0], caps).expect("test vector"),
            Command::StmtClose(7)
        );
        assert!(Command::decode(&[0x19, 7, 0], caps).is_err());
        assert_eq!(
            Command::decode(&[0x1c, 1, 0, 0, 0, 5, 0, 0, 0], caps).expect("test vector"),
            Command::Fetch { id: 1, rows: 5 }
        );
        assert_eq!(
            Command::decode(&[0x20, b'x'], caps).expect("test vector"),
            Command::Other(0x20, b"x")
        );
        assert!(Command::decode(&[], caps).is_err());
        assert!(Command::decode(&[0x1b, 1], caps).is_err());
    }

    #[test]
    fn change_user_round_trip() {
        let caps = cap::PROTOCOL_41 | cap::SECURE_CONNECTION | cap::PLUGIN_AUTH;
        let cu = ChangeUser {
            username: b"bob",
            auth_response: &[1; 20],
            database: b"shop",
            charset: Some(45),
            auth_plugin: Some(b"mysql_native_password"),
        };
        let mut out = Vec::new();
        encode_change_user(&mut out, &cu);
        assert_eq!(
            Command::decode(&out, caps).expect("test vector"),
            Command::ChangeUser(cu)
        );
        for cut in 1..out.len() {
            let _ = Command::decode(&out[..cut], caps); // never panics
        }
    }
}
