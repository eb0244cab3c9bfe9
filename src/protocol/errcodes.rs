//! Every MySQL error the server sends, with its SQLSTATE and its standard
//! message, in one table: the code and the state of an error never drift
//! apart between the places that send it, and the README's list of what the
//! server answers is this table.

use super::response::ErrPacket;

/// One MySQL error: code, SQLSTATE, and the standard message (a template
/// where MySQL's has `%s` parts; senders that fill them in use
/// [`MysqlError::with`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MysqlError {
    /// The error code (`ER_*` number).
    pub code: u16,
    /// The SQLSTATE, 5 characters.
    pub sqlstate: &'static str,
    /// MySQL's name for it.
    pub name: &'static str,
    /// The standard message.
    pub message: &'static str,
}

impl MysqlError {
    /// The error with its standard message.
    pub fn packet(&self) -> ErrPacket<'static> {
        ErrPacket::new(self.code, self.sqlstate, self.message.as_bytes())
    }

    /// The error with another message (the standard one filled in, or more
    /// precise).
    pub fn with<'m>(&self, message: &'m [u8]) -> ErrPacket<'m> {
        ErrPacket::new(self.code, self.sqlstate, message)
    }
}

macro_rules! table {
    ($($(#[$doc:meta])* $name:ident = $code:literal, $state:literal, $msg:literal;)*) => {
        $(
            $(#[$doc])*
            pub const $name: MysqlError = MysqlError {
                code: $code,
                sqlstate: $state,
                name: stringify!($name),
                message: $msg,
            };
        )*
        /// Every error in the table, in code order.
        pub const ALL: &[MysqlError] = &[$($name),*];
    };
}

table! {
    /// The seed's answer to anything it does not know (MySQL Proxy's
    /// server_mock.lua); also `--unknown error`.
    UNKNOWN_QUERY = 101, "HY000", "I haven't learnt how to handle that query";
    /// More clients than `--max-connections`, or no descriptor left.
    ER_CON_COUNT_ERROR = 1040, "08004", "Too many connections";
    /// A per-connection memory limit reached (prepared statements' text and long data).
    ER_OUT_OF_RESOURCES = 1041, "HY000", "Out of memory";
    /// A handshake response that cannot be decoded.
    ER_HANDSHAKE_ERROR = 1043, "08S01", "Bad handshake";
    /// A login refused.
    ER_ACCESS_DENIED_ERROR = 1045, "28000", "Access denied";
    /// A statement that needs a default database, without one.
    ER_NO_DB_ERROR = 1046, "3D000", "No database selected";
    /// A command byte the server does not implement.
    ER_UNKNOWN_COM_ERROR = 1047, "08S01", "Unknown command";
    /// An admin statement the admin port does not know.
    ER_PARSE_ERROR = 1064, "42000", "You have an error in your SQL syntax";
    /// An empty query.
    ER_EMPTY_QUERY = 1065, "42000", "Query was empty";
    /// KILL of a connection id that is not open.
    ER_NO_SUCH_THREAD = 1094, "HY000", "Unknown thread id";
    /// Anything else: a script's error, an internal error.
    ER_UNKNOWN_ERROR = 1105, "HY000", "Unknown error";
    /// A SELECT list of more than 4096 items.
    ER_TOO_MANY_FIELDS = 1117, "HY000", "Too many columns";
    /// A packet over `--max-packet` (or before login, over the pre-login limit).
    ER_NET_PACKET_TOO_LARGE = 1153, "08S01", "Got a packet bigger than 'max_allowed_packet' bytes";
    /// A packet with the wrong sequence id.
    ER_NET_PACKETS_OUT_OF_ORDER = 1156, "08S01", "Got packets out of order";
    /// `@@name` of a variable the server does not know.
    ER_UNKNOWN_SYSTEM_VARIABLE = 1193, "HY000", "Unknown system variable";
    /// A wrong parameter count or a truncated parameter block for a prepared statement.
    ER_WRONG_ARGUMENTS = 1210, "HY000", "Incorrect arguments to mysqld_stmt_execute";
    /// An unknown prepared statement id.
    ER_UNKNOWN_STMT_HANDLER = 1243, "HY000", "Unknown prepared statement handler given to mysqld_stmt_execute";
    /// A result row larger than max_allowed_packet (MySQL's is a warning
    /// with a truncated value; the built-in answers refuse the statement).
    ER_WARN_ALLOWED_PACKET_OVERFLOWED = 1301, "HY000", "Result was larger than max_allowed_packet";
    /// A query stopped part-way, as KILL QUERY stops one.
    ER_QUERY_INTERRUPTED = 1317, "70100", "Query execution was interrupted";
    /// A prepared statement of more than 65,535 placeholders.
    ER_PS_MANY_PARAM = 1390, "HY000", "Prepared statement contains too many placeholders";
    /// COM_STMT_FETCH for a statement whose execution opened no cursor.
    ER_STMT_HAS_NO_OPEN_CURSOR = 1421, "HY000", "The statement has no open cursor";
    /// More prepared statements than the per-connection limit.
    ER_MAX_PREPARED_STMT_COUNT_REACHED = 1461, "42000", "Can't create more than max_prepared_stmt_count statements";
    /// An execution whose answer has another number of columns than its
    /// prepare announced (clients built on libmysql would fail with CR 2057).
    ER_NEED_REPREPARE = 1615, "HY000", "Prepared statement needs to be re-prepared";
    /// A packet whose contents cannot be decoded.
    ER_MALFORMED_PACKET = 1835, "HY000", "Malformed communication packet";
    /// WAIT FOR JOURNAL ran out of time (MySQL's max_execution_time error).
    ER_QUERY_TIMEOUT = 3024, "HY000", "Query execution was interrupted, maximum statement execution time exceeded";
    /// A plain login under `--require-secure-transport`.
    ER_SECURE_TRANSPORT_REQUIRED = 3159, "HY000", "Connections using insecure transport are prohibited while --require_secure_transport=ON.";
    /// The idle timeout (MySQL 8.0.24's ER_CLIENT_INTERACTION_TIMEOUT).
    ER_CLIENT_INTERACTION_TIMEOUT = 4031, "HY000", "The client was disconnected by the server because of inactivity.";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_sorted_and_states_five_characters() {
        for w in ALL.windows(2) {
            assert!(w[0].code < w[1].code, "{} before {}", w[0].name, w[1].name);
        }
        for e in ALL {
            assert_eq!(e.sqlstate.len(), 5, "{}", e.name);
            assert!(!e.message.is_empty());
        }
    }
}
