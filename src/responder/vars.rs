//! The table of server variables the built-in answers know, with MySQL 8.0's
//! defaults. `SELECT @@x`, `SHOW VARIABLES` and `SET x = ...` all read or write
//! through here; a session's `SET` overrides live on the [`Session`].
//!
//! The table is sorted by name (as SHOW VARIABLES prints it; a unit test checks).

use super::session::Session;
use super::value::Value;

/// Server-wide facts some variables report.
#[derive(Debug, Clone)]
pub struct ServerFacts {
    /// `@@version`.
    pub version: String,
    /// `@@max_allowed_packet`.
    pub max_packet: usize,
    /// `@@max_connections`.
    pub max_connections: usize,
    /// `@@port`.
    pub port: u16,
    /// `@@socket`.
    pub socket: String,
    /// `@@hostname`.
    pub hostname: String,
    /// `@@default_authentication_plugin`.
    pub auth_plugin: String,
    /// TLS is offered (`@@have_ssl`, `@@require_secure_transport`).
    pub ssl: bool,
    /// `--require-secure-transport`.
    pub require_secure_transport: bool,
    /// `@@protocol_compression_algorithms`: what `--compression-algorithms` allows.
    pub compression: String,
    /// Values set with `--var`: they replace the table's defaults, and names
    /// the table lacks are added.
    pub overrides: Vec<(String, Value)>,
}

impl ServerFacts {
    fn overridden(&self, name: &str) -> Option<&Value> {
        self.overrides
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }
}

/// How a variable gets its default.
#[derive(Debug, Clone, Copy)]
enum Def {
    Int(i64),
    UInt(u64),
    Bool(bool),
    Str(&'static str),
    /// Computed from the server or the session.
    Dyn(fn(&ServerFacts, &Session) -> Value),
}

const SQL_MODE: &str = "ONLY_FULL_GROUP_BY,STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION";

/// The variables, sorted by name.
const VARS: &[(&str, Def)] = &[
    ("auto_increment_increment", Def::Int(1)),
    ("auto_increment_offset", Def::Int(1)),
    ("autocommit", Def::Dyn(|_, s| Value::Int(i64::from(s.autocommit)))),
    ("basedir", Def::Str("/usr/")),
    ("binlog_format", Def::Str("ROW")),
    ("character_set_client", Def::Str("utf8mb4")),
    ("character_set_connection", Def::Str("utf8mb4")),
    ("character_set_database", Def::Str("utf8mb4")),
    ("character_set_filesystem", Def::Str("binary")),
    ("character_set_results", Def::Str("utf8mb4")),
    ("character_set_server", Def::Str("utf8mb4")),
    ("character_set_system", Def::Str("utf8mb3")),
    ("collation_connection", Def::Str("utf8mb4_0900_ai_ci")),
    ("collation_database", Def::Str("utf8mb4_0900_ai_ci")),
    ("collation_server", Def::Str("utf8mb4_0900_ai_ci")),
    ("connect_timeout", Def::Int(10)),
    ("datadir", Def::Str("/var/lib/mysql/")),
    ("default_authentication_plugin", Def::Dyn(|f, _| Value::str(f.auth_plugin.clone()))),
    ("default_storage_engine", Def::Str("InnoDB")),
    ("div_precision_increment", Def::Int(4)),
    ("error_count", Def::Int(0)),
    ("event_scheduler", Def::Str("OFF")),
    ("explicit_defaults_for_timestamp", Def::Bool(true)),
    ("foreign_key_checks", Def::Bool(true)),
    ("group_concat_max_len", Def::Int(1024)),
    ("gtid_mode", Def::Str("OFF")),
    ("have_openssl", Def::Dyn(|f, _| Value::str(if f.ssl { "YES" } else { "DISABLED" }))),
    ("have_ssl", Def::Dyn(|f, _| Value::str(if f.ssl { "YES" } else { "DISABLED" }))),
    ("hostname", Def::Dyn(|f, _| Value::str(f.hostname.clone()))),
    ("identity", Def::Dyn(|_, s| Value::Int(s.last_insert_id as i64))),
    ("init_connect", Def::Str("")),
    ("innodb_lock_wait_timeout", Def::Int(50)),
    ("innodb_read_only", Def::Bool(false)),
    ("interactive_timeout", Def::Int(28800)),
    ("last_insert_id", Def::Dyn(|_, s| Value::Int(s.last_insert_id as i64))),
    ("lc_messages", Def::Str("en_US")),
    ("license", Def::Str("GPL")),
    ("local_infile", Def::Bool(false)),
    ("lock_wait_timeout", Def::Int(31_536_000)),
    ("log_bin", Def::Bool(false)),
    ("lower_case_table_names", Def::Int(0)),
    ("max_allowed_packet", Def::Dyn(|f, _| Value::Int(f.max_packet as i64))),
    ("max_connections", Def::Dyn(|f, _| Value::Int(f.max_connections as i64))),
    ("max_execution_time", Def::Int(0)),
    ("net_buffer_length", Def::Int(16384)),
    ("net_read_timeout", Def::Int(30)),
    ("net_write_timeout", Def::Int(60)),
    ("performance_schema", Def::Bool(false)),
    ("port", Def::Dyn(|f, _| Value::Int(i64::from(f.port)))),
    ("protocol_compression_algorithms", Def::Dyn(|f, _| Value::str(f.compression.clone()))),
    ("protocol_version", Def::Int(10)),
    ("query_cache_size", Def::Int(0)),
    ("query_cache_type", Def::Str("OFF")),
    ("read_only", Def::Bool(false)),
    ("require_secure_transport", Def::Dyn(|f, _| Value::Int(i64::from(f.require_secure_transport)))),
    ("server_id", Def::Int(1)),
    ("session_track_schema", Def::Bool(true)),
    ("session_track_state_change", Def::Bool(false)),
    ("session_track_system_variables", Def::Str("time_zone,autocommit,character_set_client,character_set_results,character_set_connection")),
    ("socket", Def::Dyn(|f, _| Value::str(f.socket.clone()))),
    ("sql_auto_is_null", Def::Bool(false)),
    ("sql_mode", Def::Str(SQL_MODE)),
    ("sql_require_primary_key", Def::Bool(false)),
    ("sql_safe_updates", Def::Bool(false)),
    ("sql_select_limit", Def::UInt(u64::MAX)),
    ("sql_warnings", Def::Bool(false)),
    ("ssl_cipher", Def::Dyn(|_, s| Value::str(s.tls.as_deref().map_or("", |t| t.1)))),
    ("storage_engine", Def::Str("InnoDB")),
    ("super_read_only", Def::Bool(false)),
    ("system_time_zone", Def::Str("UTC")),
    ("time_zone", Def::Str("SYSTEM")),
    ("tls_version", Def::Dyn(|f, _| Value::str(if f.ssl { "TLSv1.2,TLSv1.3" } else { "" }))),
    ("tmpdir", Def::Str("/tmp")),
    ("transaction_isolation", Def::Str("REPEATABLE-READ")),
    ("transaction_read_only", Def::Bool(false)),
    ("tx_isolation", Def::Str("REPEATABLE-READ")),
    ("tx_read_only", Def::Bool(false)),
    ("unique_checks", Def::Bool(true)),
    ("version", Def::Dyn(|f, _| Value::str(f.version.clone()))),
    ("version_comment", Def::Str("understudy, a programmable stand-in MySQL server")),
    ("version_compile_machine", Def::Str("x86_64")),
    ("version_compile_os", Def::Str("Linux")),
    ("wait_timeout", Def::Int(28800)),
    ("warning_count", Def::Int(0)),
];

/// Aliases: the session names MySQL accepts for the same variable.
/// (`tx_isolation` is MySQL 5.7's name of `transaction_isolation`: both read and write one value.)
pub fn canonical(name: &str) -> &str {
    if name.eq_ignore_ascii_case("tx_isolation") {
        "transaction_isolation"
    } else if name.eq_ignore_ascii_case("tx_read_only") {
        "transaction_read_only"
    } else {
        name
    }
}

fn default_of(def: Def, facts: &ServerFacts, s: &Session) -> Value {
    match def {
        Def::Int(i) => Value::Int(i),
        Def::UInt(u) => Value::UInt(u),
        Def::Bool(b) => Value::Int(i64::from(b)),
        Def::Str(v) => Value::str(v),
        Def::Dyn(f) => f(facts, s),
    }
}

fn find(name: &str) -> Option<Def> {
    VARS.binary_search_by(|(k, _)| cmp_ignore_case(k, name))
        .ok()
        .map(|i| VARS[i].1) // invariant: binary_search returned an index into VARS
}

fn cmp_ignore_case(a: &str, b: &str) -> std::cmp::Ordering {
    a.bytes()
        .map(|c| c.to_ascii_lowercase())
        .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
}

/// True when `name` is a known server variable.
pub fn is_known(name: &str) -> bool {
    find(canonical(name)).is_some()
}

/// The value of `@@name` for a session: its override, else the server default.
/// `global` ignores session overrides. `None` for an unknown variable that no
/// SET has created either.
pub fn get(name: &str, global: bool, facts: &ServerFacts, s: &Session) -> Option<Value> {
    let name = canonical(name);
    if !global {
        if let Some(v) = s.var(name) {
            return Some(v.clone());
        }
    }
    if let Some(v) = facts.overridden(name) {
        return Some(v.clone());
    }
    find(name).map(|d| default_of(d, facts, s))
}

/// How SHOW VARIABLES prints a value: booleans as ON/OFF.
fn show_text(def: Option<Def>, v: &Value) -> String {
    match (def, v) {
        (Some(Def::Bool(_)), Value::Int(i)) => if *i != 0 { "ON" } else { "OFF" }.to_string(),
        _ => v.to_text(),
    }
}

/// All variables as (name, text) pairs, sorted by name, for SHOW VARIABLES,
/// with session overrides applied unless `global`.
pub fn all(global: bool, facts: &ServerFacts, s: &Session) -> Vec<(String, String)> {
    let mut rows: Vec<(String, String)> = VARS
        .iter()
        .map(|(k, d)| {
            let v = get(k, global, facts, s).unwrap_or_else(|| default_of(*d, facts, s));
            let text = if *k == "autocommit" {
                if s.autocommit { "ON" } else { "OFF" }.to_string()
            } else {
                show_text(Some(*d), &v)
            };
            (k.to_string(), text)
        })
        .collect();
    let mut added = false;
    for (k, v) in &facts.overrides {
        if find(k).is_none() && (global || s.var(k).is_none()) {
            rows.push((k.clone(), v.to_text()));
            added = true;
        }
    }
    if added {
        rows.sort_by(|a, b| a.0.cmp(&b.0));
    }
    if !global {
        if let Some(vars) = &s.vars {
            // Variables a SET created beside the table's (not user variables);
            // the session's table holds each name once.
            for (k, v) in vars.iter() {
                if !k.starts_with('@') && find(k).is_none() {
                    rows.push((k.to_string(), v.to_text()));
                }
            }
            rows.sort_by(|a, b| a.0.cmp(&b.0));
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::responder::session::Peer;

    fn facts() -> ServerFacts {
        ServerFacts {
            version: "8.0.36-understudy".into(),
            max_packet: 64 << 20,
            max_connections: 10,
            port: 4040,
            socket: String::new(),
            hostname: "h".into(),
            auth_plugin: "mysql_native_password".into(),
            ssl: false,
            require_secure_transport: false,
            compression: "zlib,zstd,uncompressed".into(),
            overrides: Vec::new(),
        }
    }

    /// `--var` replaces a table default and adds names the table lacks.
    #[test]
    fn overrides_from_the_command_line() {
        let mut f = facts();
        f.overrides = vec![
            ("version_comment".into(), Value::str("staging")),
            ("innodb_extra".into(), Value::Int(7)),
        ];
        let s = Session::new(1, Peer::Unix, Peer::Unix);
        assert_eq!(
            get("VERSION_COMMENT", false, &f, &s),
            Some(Value::str("staging"))
        );
        assert_eq!(get("innodb_extra", true, &f, &s), Some(Value::Int(7)));
        let all = all(false, &f, &s);
        assert!(all.contains(&("innodb_extra".to_string(), "7".to_string())));
        assert_eq!(
            all.iter().filter(|(k, _)| k == "version_comment").count(),
            1
        );
        assert!(all.windows(2).all(|w| w[0].0 <= w[1].0));
    }

    #[test]
    fn table_is_sorted_and_unique() {
        for w in VARS.windows(2) {
            assert!(w[0].0 < w[1].0, "{} before {}", w[0].0, w[1].0);
        }
    }

    #[test]
    fn lookups_and_overrides() {
        let mut s = Session::new(1, Peer::Unix, Peer::Unix);
        let f = facts();
        assert_eq!(
            get("MAX_ALLOWED_PACKET", false, &f, &s),
            Some(Value::Int(64 << 20))
        );
        assert_eq!(
            get("tx_isolation", false, &f, &s),
            Some(Value::str("REPEATABLE-READ"))
        );
        assert_eq!(get("nope", false, &f, &s), None);
        s.set_var("sql_mode", Value::str("")).unwrap();
        assert_eq!(get("sql_mode", false, &f, &s), Some(Value::str("")));
        assert_eq!(get("sql_mode", true, &f, &s), Some(Value::str(SQL_MODE)));
        s.autocommit = false;
        assert_eq!(get("autocommit", false, &f, &s), Some(Value::Int(0)));
        let all = all(false, &f, &s);
        assert!(all.iter().any(|(k, v)| k == "sql_mode" && v.is_empty()));
        assert!(all.iter().any(|(k, v)| k == "autocommit" && v == "OFF"));
        assert!(all.iter().any(|(k, v)| k == "read_only" && v == "OFF"));
    }
}
