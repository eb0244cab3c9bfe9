//! Protocol constants, named as in the MySQL source (`mysql_com.h`, `field_types.h`).

/// Capability flags (`CLIENT_*`), exchanged in the greeting and the handshake response.
pub mod cap {
    /// New, more secure passwords (4.1 auth).
    pub const LONG_PASSWORD: u32 = 0x0000_0001;
    /// Send found rows instead of affected rows in OK packets.
    pub const FOUND_ROWS: u32 = 0x0000_0002;
    /// Get all column flags.
    pub const LONG_FLAG: u32 = 0x0000_0004;
    /// A database name may be given in the handshake response.
    pub const CONNECT_WITH_DB: u32 = 0x0000_0008;
    /// Don't allow `database.table.column`.
    pub const NO_SCHEMA: u32 = 0x0000_0010;
    /// The compressed protocol with zlib (see [`crate::protocol::compress`]).
    pub const COMPRESS: u32 = 0x0000_0020;
    /// ODBC client.
    pub const ODBC: u32 = 0x0000_0040;
    /// LOAD DATA LOCAL INFILE.
    pub const LOCAL_FILES: u32 = 0x0000_0080;
    /// Ignore spaces before `(`.
    pub const IGNORE_SPACE: u32 = 0x0000_0100;
    /// The 4.1 protocol: 5-byte SQLSTATE in ERR, 2-byte status and warnings in EOF/OK.
    pub const PROTOCOL_41: u32 = 0x0000_0200;
    /// Interactive client (wait_timeout vs interactive_timeout).
    pub const INTERACTIVE: u32 = 0x0000_0400;
    /// The client asks to switch to TLS.
    pub const SSL: u32 = 0x0000_0800;
    /// Ignore SIGPIPE (client side only).
    pub const IGNORE_SIGPIPE: u32 = 0x0000_1000;
    /// The server knows about transactions (status flags in OK/EOF).
    pub const TRANSACTIONS: u32 = 0x0000_2000;
    /// Old flag for the 4.1 protocol.
    pub const RESERVED: u32 = 0x0000_4000;
    /// Length-prefixed auth response (4.1 secure connection).
    pub const SECURE_CONNECTION: u32 = 0x0000_8000;
    /// Several statements in one COM_QUERY.
    pub const MULTI_STATEMENTS: u32 = 0x0001_0000;
    /// Several resultsets for one command.
    pub const MULTI_RESULTS: u32 = 0x0002_0000;
    /// Several resultsets for COM_STMT_EXECUTE.
    pub const PS_MULTI_RESULTS: u32 = 0x0004_0000;
    /// Pluggable authentication: plugin names in greeting and response.
    pub const PLUGIN_AUTH: u32 = 0x0008_0000;
    /// Connection attributes in the handshake response.
    pub const CONNECT_ATTRS: u32 = 0x0010_0000;
    /// Auth response longer than 255 bytes, length-encoded.
    pub const PLUGIN_AUTH_LENENC_CLIENT_DATA: u32 = 0x0020_0000;
    /// The client can handle expired passwords.
    pub const CAN_HANDLE_EXPIRED_PASSWORDS: u32 = 0x0040_0000;
    /// Session state tracking in OK packets.
    pub const SESSION_TRACK: u32 = 0x0080_0000;
    /// OK (0xFE header) instead of EOF packets at the end of resultsets.
    pub const DEPRECATE_EOF: u32 = 0x0100_0000;
    /// The compressed protocol with zstd; the handshake response then ends
    /// with the client's zstd level.
    pub const ZSTD_COMPRESSION_ALGORITHM: u32 = 0x0400_0000;
}

/// Server status flags (`SERVER_STATUS_*`), carried in OK and EOF packets.
pub mod status {
    /// A transaction is open.
    pub const IN_TRANS: u16 = 0x0001;
    /// Autocommit mode is on.
    pub const AUTOCOMMIT: u16 = 0x0002;
    /// Another resultset follows this one.
    pub const MORE_RESULTS_EXISTS: u16 = 0x0008;
    /// No good index was used (informational).
    pub const NO_GOOD_INDEX_USED: u16 = 0x0010;
    /// No index was used (informational).
    pub const NO_INDEX_USED: u16 = 0x0020;
    /// A cursor exists for a prepared statement.
    pub const CURSOR_EXISTS: u16 = 0x0040;
    /// The last row of a cursor was sent.
    pub const LAST_ROW_SENT: u16 = 0x0080;
    /// The current database was dropped.
    pub const DB_DROPPED: u16 = 0x0100;
    /// Backslash is not an escape character.
    pub const NO_BACKSLASH_ESCAPES: u16 = 0x0200;
    /// Metadata changed (prepared statements).
    pub const METADATA_CHANGED: u16 = 0x0400;
    /// The query was slow.
    pub const QUERY_WAS_SLOW: u16 = 0x0800;
    /// Prepared statement has OUT parameters.
    pub const PS_OUT_PARAMS: u16 = 0x1000;
    /// The open transaction is read-only.
    pub const IN_TRANS_READONLY: u16 = 0x2000;
    /// Session state changed (SESSION_TRACK).
    pub const SESSION_STATE_CHANGED: u16 = 0x4000;
}

/// Command bytes (`enum_server_command`), the first byte of a command-phase packet.
pub mod com {
    /// COM_SLEEP (internal to the server).
    pub const SLEEP: u8 = 0x00;
    /// COM_QUIT: close the connection, no answer.
    pub const QUIT: u8 = 0x01;
    /// COM_INIT_DB: change the default database.
    pub const INIT_DB: u8 = 0x02;
    /// COM_QUERY: a text query.
    pub const QUERY: u8 = 0x03;
    /// COM_FIELD_LIST: column definitions of a table.
    pub const FIELD_LIST: u8 = 0x04;
    /// COM_CREATE_DB (deprecated).
    pub const CREATE_DB: u8 = 0x05;
    /// COM_DROP_DB (deprecated).
    pub const DROP_DB: u8 = 0x06;
    /// COM_REFRESH.
    pub const REFRESH: u8 = 0x07;
    /// COM_SHUTDOWN.
    pub const SHUTDOWN: u8 = 0x08;
    /// COM_STATISTICS: a human-readable status string.
    pub const STATISTICS: u8 = 0x09;
    /// COM_PROCESS_INFO.
    pub const PROCESS_INFO: u8 = 0x0a;
    /// COM_CONNECT (internal).
    pub const CONNECT: u8 = 0x0b;
    /// COM_PROCESS_KILL.
    pub const PROCESS_KILL: u8 = 0x0c;
    /// COM_DEBUG.
    pub const DEBUG: u8 = 0x0d;
    /// COM_PING.
    pub const PING: u8 = 0x0e;
    /// COM_TIME (internal).
    pub const TIME: u8 = 0x0f;
    /// COM_DELAYED_INSERT (internal).
    pub const DELAYED_INSERT: u8 = 0x10;
    /// COM_CHANGE_USER: re-authenticate.
    pub const CHANGE_USER: u8 = 0x11;
    /// COM_BINLOG_DUMP.
    pub const BINLOG_DUMP: u8 = 0x12;
    /// COM_TABLE_DUMP.
    pub const TABLE_DUMP: u8 = 0x13;
    /// COM_CONNECT_OUT (internal).
    pub const CONNECT_OUT: u8 = 0x14;
    /// COM_REGISTER_SLAVE.
    pub const REGISTER_SLAVE: u8 = 0x15;
    /// COM_STMT_PREPARE.
    pub const STMT_PREPARE: u8 = 0x16;
    /// COM_STMT_EXECUTE.
    pub const STMT_EXECUTE: u8 = 0x17;
    /// COM_STMT_SEND_LONG_DATA.
    pub const STMT_SEND_LONG_DATA: u8 = 0x18;
    /// COM_STMT_CLOSE: no answer.
    pub const STMT_CLOSE: u8 = 0x19;
    /// COM_STMT_RESET.
    pub const STMT_RESET: u8 = 0x1a;
    /// COM_SET_OPTION: multi-statements on/off.
    pub const SET_OPTION: u8 = 0x1b;
    /// COM_STMT_FETCH.
    pub const STMT_FETCH: u8 = 0x1c;
    /// COM_DAEMON (internal).
    pub const DAEMON: u8 = 0x1d;
    /// COM_BINLOG_DUMP_GTID.
    pub const BINLOG_DUMP_GTID: u8 = 0x1e;
    /// COM_RESET_CONNECTION: reset session state without re-auth.
    pub const RESET_CONNECTION: u8 = 0x1f;
}

/// Column types (`enum_field_types`).
pub mod coltype {
    /// DECIMAL (old).
    pub const DECIMAL: u8 = 0x00;
    /// TINYINT.
    pub const TINY: u8 = 0x01;
    /// SMALLINT.
    pub const SHORT: u8 = 0x02;
    /// INT.
    pub const LONG: u8 = 0x03;
    /// FLOAT.
    pub const FLOAT: u8 = 0x04;
    /// DOUBLE.
    pub const DOUBLE: u8 = 0x05;
    /// NULL.
    pub const NULL: u8 = 0x06;
    /// TIMESTAMP.
    pub const TIMESTAMP: u8 = 0x07;
    /// BIGINT.
    pub const LONGLONG: u8 = 0x08;
    /// MEDIUMINT.
    pub const INT24: u8 = 0x09;
    /// DATE.
    pub const DATE: u8 = 0x0a;
    /// TIME.
    pub const TIME: u8 = 0x0b;
    /// DATETIME.
    pub const DATETIME: u8 = 0x0c;
    /// YEAR.
    pub const YEAR: u8 = 0x0d;
    /// NEWDATE (internal).
    pub const NEWDATE: u8 = 0x0e;
    /// VARCHAR.
    pub const VARCHAR: u8 = 0x0f;
    /// BIT.
    pub const BIT: u8 = 0x10;
    /// TIMESTAMP2 (internal).
    pub const TIMESTAMP2: u8 = 0x11;
    /// DATETIME2 (internal).
    pub const DATETIME2: u8 = 0x12;
    /// TIME2 (internal).
    pub const TIME2: u8 = 0x13;
    /// JSON.
    pub const JSON: u8 = 0xf5;
    /// DECIMAL (precision math).
    pub const NEWDECIMAL: u8 = 0xf6;
    /// ENUM.
    pub const ENUM: u8 = 0xf7;
    /// SET.
    pub const SET: u8 = 0xf8;
    /// TINYBLOB.
    pub const TINY_BLOB: u8 = 0xf9;
    /// MEDIUMBLOB.
    pub const MEDIUM_BLOB: u8 = 0xfa;
    /// LONGBLOB.
    pub const LONG_BLOB: u8 = 0xfb;
    /// BLOB / TEXT.
    pub const BLOB: u8 = 0xfc;
    /// VARCHAR as sent by the server for most string expressions.
    pub const VAR_STRING: u8 = 0xfd;
    /// CHAR.
    pub const STRING: u8 = 0xfe;
    /// GEOMETRY.
    pub const GEOMETRY: u8 = 0xff;
}

/// Column definition flags (`*_FLAG`).
pub mod colflag {
    /// NOT NULL.
    pub const NOT_NULL: u16 = 0x0001;
    /// Part of the primary key.
    pub const PRI_KEY: u16 = 0x0002;
    /// Part of a unique key.
    pub const UNIQUE_KEY: u16 = 0x0004;
    /// Part of a key.
    pub const MULTIPLE_KEY: u16 = 0x0008;
    /// BLOB or TEXT.
    pub const BLOB: u16 = 0x0010;
    /// UNSIGNED.
    pub const UNSIGNED: u16 = 0x0020;
    /// ZEROFILL.
    pub const ZEROFILL: u16 = 0x0040;
    /// Binary collation.
    pub const BINARY: u16 = 0x0080;
    /// ENUM.
    pub const ENUM: u16 = 0x0100;
    /// AUTO_INCREMENT.
    pub const AUTO_INCREMENT: u16 = 0x0200;
    /// TIMESTAMP.
    pub const TIMESTAMP: u16 = 0x0400;
    /// SET.
    pub const SET: u16 = 0x0800;
    /// Numeric column.
    pub const NUM: u16 = 0x8000;
}

/// Character set / collation ids used in column definitions and the greeting.
pub mod charset {
    /// latin1_swedish_ci, MySQL Proxy's default.
    pub const LATIN1: u16 = 8;
    /// utf8mb3_general_ci.
    pub const UTF8: u16 = 33;
    /// utf8mb4_general_ci: what text columns use by default.
    pub const UTF8MB4: u16 = 45;
    /// binary: numbers, blobs, dates.
    pub const BINARY: u16 = 63;
    /// utf8mb4_0900_ai_ci, MySQL 8.0's default collation, advertised in the greeting.
    pub const UTF8MB4_0900_AI_CI: u16 = 255;
}

/// Auth plugin names.
pub mod plugin {
    /// SHA-1 based challenge/response (MySQL 4.1 .. 5.7 default).
    pub const NATIVE: &str = "mysql_native_password";
    /// SHA-256 based challenge/response with fast-auth cache (MySQL 8.0 default).
    pub const CACHING_SHA2: &str = "caching_sha2_password";
    /// Cleartext password (accepted over TLS or a Unix socket only).
    pub const CLEAR: &str = "mysql_clear_password";
    /// The password in clear over TLS, or RSA-encrypted without.
    pub const SHA256: &str = "sha256_password";
}

/// The largest payload one physical packet carries; a payload of exactly this size
/// continues in the next packet.
pub const MAX_PAYLOAD: usize = 0xFF_FFFF;
