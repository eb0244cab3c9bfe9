//! Server configuration and its command line.

use crate::protocol::consts::plugin;
use crate::server::listener::{DEFAULT_BACK_LOG, MAX_BACK_LOG};
use getopts::Options;
use std::net::{IpAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

/// Longest any seconds option may be: a year, MySQL's own maximum for
/// `wait_timeout`. Longer means "never" in practice, and the bound keeps
/// `Duration::from_secs_f64` (which panics on overflow) and every deadline
/// computed from it (`Instant + Duration`) far from overflowing.
pub const MAX_SECS: f64 = 31_536_000.0;

/// Largest `--max-packet`: MySQL's own maximum for `max_allowed_packet` (1 GiB).
pub const MAX_PACKET: u64 = 1 << 30;

/// Smallest `--max-packet`: MySQL's own minimum for `max_allowed_packet`.
pub const MIN_PACKET: u64 = 1024;

/// A login the server checks (`--user NAME:PASSWORD`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// User name.
    pub name: String,
    /// Cleartext password (needed to verify either plugin's scramble).
    pub password: String,
}

/// Everything the server needs to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on (`--bind`): from the command line always an IP
    /// address (a host name is resolved by [`Config::from_args`]).
    pub bind: String,
    /// TCP port (`--port`); 0 picks a free one.
    pub port: u16,
    /// Optional Unix socket path (`--socket`).
    pub socket: Option<PathBuf>,
    /// Most connections open at once (`--max-connections`).
    pub max_connections: usize,
    /// Listen backlog of the TCP and Unix listeners (`--back-log`, MySQL's
    /// `back_log`); the kernel caps it at `net.core.somaxconn`.
    pub back_log: u32,
    /// A client that has not logged in within this is closed (`--handshake-timeout`).
    pub handshake_timeout: Duration,
    /// A logged-in client silent for this long is closed (`--idle-timeout`).
    pub idle_timeout: Option<Duration>,
    /// Largest packet accepted from a client (`--max-packet`).
    pub max_packet: usize,
    /// Version string of the greeting (`--server-version`).
    pub server_version: String,
    /// Logins to check; empty means every login succeeds (`--user`).
    pub users: Vec<User>,
    /// The plugin accounts use (`--auth-plugin`).
    pub auth_plugin: &'static str,
    /// Pending output above which a connection is not read from (back-pressure),
    /// and at which a long answer pauses until the client reads.
    pub write_high_water: usize,
    /// Most bytes one answer that cannot pause may take (a script's
    /// resultset); past it the client gets an ERR instead (see `limits::MAX_ANSWER`).
    pub max_answer: usize,
    /// Most prepared statements one connection may hold (MySQL's
    /// `max_prepared_stmt_count`, which is server-wide there; ERR 1461 beyond).
    pub max_prepared_stmts: usize,
    /// Server variables set with `--var NAME=VALUE` (names lower-cased).
    pub vars: Vec<(String, String)>,
    /// MySQL Proxy Lua script answering instead of the built-in rules (`--lua-script`).
    pub lua_script: Option<PathBuf>,
    /// Longest a single Lua hook call may run (`--lua-timeout`).
    pub lua_timeout: Duration,
    /// Let `read_query` see session-setting statements too (`--lua-all-queries`).
    pub lua_all_queries: bool,
    /// Print a line of counters to stderr this often (`--stats-interval`).
    pub stats_interval: Option<Duration>,
    /// Rule files and directories (`--rules`, repeatable), in load order.
    pub rules: Vec<PathBuf>,
    /// What a query nobody answers gets (`--unknown`).
    pub unknown: crate::responder::chain::Unknown,
    /// The seed of rules' probabilities and delays (`--seed`); `None`: drawn
    /// at start and logged.
    pub seed: Option<u64>,
    /// Write the journal to this file as JSON lines (`--journal`).
    pub journal: Option<PathBuf>,
    /// Keep the journal in memory even without a file or an admin port
    /// (the embedding API's [`crate::ServerHandle::journal`]).
    pub journal_in_memory: bool,
    /// The admin port (`--admin-port`; 0 picks a free one), opened only
    /// with `admin_user`.
    pub admin_port: Option<u16>,
    /// The admin port's address (`--admin-bind`, default 127.0.0.1).
    pub admin_bind: String,
    /// The one login of the admin port (`--admin-user NAME:PASSWORD`).
    pub admin_user: Option<User>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: "127.0.0.1".to_string(),
            port: 4040,
            socket: None,
            max_connections: 100_000,
            back_log: DEFAULT_BACK_LOG,
            handshake_timeout: Duration::from_secs(10),
            idle_timeout: None,
            max_packet: 64 << 20,
            server_version: "8.0.36-understudy".to_string(),
            users: Vec::new(),
            auth_plugin: plugin::NATIVE,
            write_high_water: 1 << 20,
            max_answer: crate::limits::MAX_ANSWER,
            max_prepared_stmts: 16_382,
            vars: Vec::new(),
            lua_script: None,
            lua_timeout: Duration::from_secs(5),
            lua_all_queries: false,
            stats_interval: None,
            rules: Vec::new(),
            unknown: Default::default(),
            seed: None,
            journal: None,
            journal_in_memory: false,
            admin_port: None,
            admin_bind: "127.0.0.1".to_string(),
            admin_user: None,
        }
    }
}

/// A command line that could not be understood: the message, then the usage.
#[derive(Debug)]
pub struct Usage {
    /// What was wrong (empty for `--help`).
    pub message: String,
    /// The usage text.
    pub usage: String,
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Command {
    /// Run the server.
    Run(Box<Config>),
    /// Print help and exit 0.
    Help(String),
    /// Print the version and exit 0.
    Version,
}

fn options() -> Options {
    let mut o = Options::new();
    o.optopt(
        "b",
        "bind",
        "address to listen on (default 127.0.0.1)",
        "ADDR",
    );
    o.optopt(
        "P",
        "port",
        "TCP port (default 4040; 0 = any free port)",
        "PORT",
    );
    o.optopt("S", "socket", "also listen on this Unix socket", "PATH");
    o.optmulti(
        "u",
        "user",
        "check logins: accept only NAME with PASSWORD (repeatable); without it every login succeeds",
        "NAME:PASSWORD",
    );
    o.optopt(
        "",
        "auth-plugin",
        "plugin accounts use: mysql_native_password (default) or caching_sha2_password",
        "NAME",
    );
    o.optopt(
        "",
        "max-connections",
        "most open connections (default 100000)",
        "N",
    );
    o.optopt(
        "",
        "back-log",
        "listen backlog, MySQL's back_log (default 65535; the kernel caps it at net.core.somaxconn)",
        "N",
    );
    o.optopt(
        "",
        "max-packet",
        "largest client packet in bytes (default 67108864)",
        "BYTES",
    );
    o.optopt(
        "",
        "handshake-timeout",
        "seconds a client has to log in (default 10)",
        "SECS",
    );
    o.optopt(
        "",
        "idle-timeout",
        "close logged-in clients silent this long (default: never)",
        "SECS",
    );
    o.optopt(
        "",
        "server-version",
        "version in the greeting (default 8.0.36-understudy)",
        "TEXT",
    );
    o.optopt(
        "s",
        "lua-script",
        "answer with this MySQL Proxy Lua script (also --proxy-lua-script=FILE)",
        "FILE",
    );
    o.optopt(
        "",
        "proxy-lua-script",
        "MySQL Proxy's spelling of --lua-script",
        "FILE",
    );
    o.optopt(
        "",
        "lua-timeout",
        "longest one Lua hook call may run (default 5)",
        "SECS",
    );
    o.optflag(
        "",
        "lua-all-queries",
        "read_query sees SET NAMES/SET autocommit/... too (by default the server answers drivers' session settings itself)",
    );
    o.optopt(
        "",
        "stats-interval",
        "print counters (connections, handshakes, commands, bytes, rates) to stderr every SECS, and a summary at exit",
        "SECS",
    );
    o.optopt(
        "",
        "max-prepared-stmts",
        "most prepared statements one connection may hold (MySQL's max_prepared_stmt_count; default 16382)",
        "N",
    );
    o.optmulti(
        "",
        "var",
        "set a server variable, as @@NAME and SHOW VARIABLES report it (repeatable; e.g. version_comment=staging)",
        "NAME=VALUE",
    );
    o.optmulti(
        "",
        "rules",
        "answer from a JSON rule file, or every *.json of a directory in name order (repeatable; reloaded on SIGHUP and when a file changes)",
        "PATH",
    );
    o.optopt(
        "",
        "unknown",
        "what a query no rule, script or built-in answer knows gets: error (the seed's ERR 101, default), ok, empty",
        "error|ok|empty",
    );
    o.optopt(
        "",
        "seed",
        "seed of rules' probabilities and random delays, to repeat a run (default: drawn at start and logged)",
        "N",
    );
    o.optopt(
        "",
        "journal",
        "write every login, command (with its text or parameters and how it was answered) and disconnect to FILE as JSON lines",
        "FILE",
    );
    o.optopt(
        "",
        "admin-port",
        "open the admin port (MySQL protocol: SHOW STATS, SHOW RULES, SHOW JOURNAL, ADD RULE, WAIT FOR JOURNAL, ...); needs --admin-user",
        "PORT",
    );
    o.optopt(
        "",
        "admin-bind",
        "address of the admin port (default 127.0.0.1)",
        "ADDR",
    );
    o.optopt("", "admin-user", "the admin port's login", "NAME:PASSWORD");
    o.optflag("h", "help", "print this help");
    o.optflag("V", "version", "print the version");
    o
}

/// The usage text.
pub fn usage() -> String {
    options().usage(
        "Usage: understudy [options]\n\nA programmable stand-in MySQL server. Log with RUST_LOG=debug.",
    )
}

/// A whole-number option in `lo..=hi`, converted to the field's type.
fn num<T: TryFrom<u64>>(
    m: &getopts::Matches,
    name: &str,
    lo: u64,
    hi: u64,
) -> Result<Option<T>, String> {
    let Some(v) = m.opt_str(name) else {
        return Ok(None);
    };
    v.trim()
        .parse::<u64>()
        .ok()
        .filter(|n| (lo..=hi).contains(n))
        .and_then(|n| T::try_from(n).ok())
        .map(Some)
        .ok_or_else(|| format!("--{name}: '{v}' is not a whole number from {lo} to {hi}"))
}

/// A seconds option: a finite number from 0 to [`MAX_SECS`].
fn secs(m: &getopts::Matches, name: &str) -> Result<Option<Duration>, String> {
    let Some(v) = m.opt_str(name) else {
        return Ok(None);
    };
    let s = v
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .ok_or_else(|| format!("--{name}: '{v}' is not a number of seconds"))?;
    if s > MAX_SECS {
        return Err(format!(
            "--{name}: '{v}' is more than {MAX_SECS} seconds (a year, MySQL's longest wait_timeout)"
        ));
    }
    // invariant: 0 <= s <= MAX_SECS, far inside Duration's range
    Ok(Some(Duration::from_secs_f64(s)))
}

/// `--bind`: an IP address, or a host name resolved here (its first address),
/// so that a bad one is a usage error rather than a failure inside the loop.
fn bind_addr(v: &str) -> Result<String, String> {
    if let Ok(ip) = v.parse::<IpAddr>() {
        return Ok(ip.to_string());
    }
    match (v, 0).to_socket_addrs() {
        Ok(mut addrs) => addrs
            .next()
            .map(|a| a.ip().to_string())
            .ok_or_else(|| format!("--bind '{v}': not an IP address, and the name has no address")),
        Err(e) => Err(format!(
            "--bind '{v}': not an IP address, and the name does not resolve ({e})"
        )),
    }
}

impl Config {
    /// Parses the arguments after the program name.
    pub fn from_args(args: &[String]) -> Result<Command, Usage> {
        let bad = |message: String| Usage {
            message,
            usage: usage(),
        };
        let m = options().parse(args).map_err(|e| bad(e.to_string()))?;
        if m.opt_present("help") {
            return Ok(Command::Help(usage()));
        }
        if m.opt_present("version") {
            return Ok(Command::Version);
        }
        if let Some(extra) = m.free.first() {
            return Err(bad(format!("unexpected argument '{extra}'")));
        }
        let mut c = Config::default();
        if let Some(b) = m.opt_str("bind") {
            c.bind = bind_addr(&b).map_err(bad)?;
        }
        c.port = num(&m, "port", 0, u16::MAX.into())
            .map_err(bad)?
            .unwrap_or(c.port);
        c.socket = m.opt_str("socket").map(PathBuf::from);
        if c.socket.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
            return Err(bad("--socket: the path is empty".to_string()));
        }
        let user = |opt: &str, u: &str| {
            u.split_once(':')
                .map(|(name, password)| User {
                    name: name.to_string(),
                    password: password.to_string(),
                })
                .ok_or_else(|| bad(format!("--{opt} '{u}': expected NAME:PASSWORD")))
        };
        for u in m.opt_strs("user") {
            c.users.push(user("user", &u)?);
        }
        c.rules = m.opt_strs("rules").into_iter().map(PathBuf::from).collect();
        if let Some(u) = m.opt_str("unknown") {
            c.unknown = u.parse().map_err(|e| bad(format!("--unknown {e}")))?;
        }
        c.seed = num(&m, "seed", 0, u64::MAX).map_err(bad)?;
        c.journal = m.opt_str("journal").map(PathBuf::from);
        c.admin_port = num(&m, "admin-port", 0, u16::MAX.into()).map_err(bad)?;
        if let Some(b) = m.opt_str("admin-bind") {
            c.admin_bind = bind_addr(&b).map_err(bad)?;
        }
        if let Some(u) = m.opt_str("admin-user") {
            c.admin_user = Some(user("admin-user", &u)?);
        }
        if c.admin_port.is_some() && c.admin_user.is_none() {
            return Err(bad(
                "--admin-port needs --admin-user NAME:PASSWORD (without credentials the port stays closed)".to_string(),
            ));
        }
        if let Some(p) = m.opt_str("auth-plugin") {
            c.auth_plugin = match p.as_str() {
                plugin::NATIVE => plugin::NATIVE,
                plugin::CACHING_SHA2 => plugin::CACHING_SHA2,
                _ => {
                    return Err(bad(format!(
                    "--auth-plugin '{p}': expected mysql_native_password or caching_sha2_password"
                )))
                }
            };
        }
        // No upper bound of our own: the slab grows as clients come, and the
        // descriptor limit is checked (with a warning) at start.
        c.max_connections = num(&m, "max-connections", 1, u64::MAX)
            .map_err(bad)?
            .unwrap_or(c.max_connections);
        c.back_log = num(&m, "back-log", 1, MAX_BACK_LOG.into())
            .map_err(bad)?
            .unwrap_or(c.back_log);
        c.max_packet = num(&m, "max-packet", MIN_PACKET, MAX_PACKET)
            .map_err(bad)?
            .unwrap_or(c.max_packet);
        c.max_prepared_stmts = num(&m, "max-prepared-stmts", 0, 1 << 20)
            .map_err(bad)?
            .unwrap_or(c.max_prepared_stmts);
        for v in m.opt_strs("var") {
            let (name, value) = v
                .split_once('=')
                .ok_or_else(|| bad(format!("--var '{v}': expected NAME=VALUE")))?;
            let name = name.trim().trim_start_matches("@@").to_ascii_lowercase();
            let valid = !name.is_empty()
                && name.len() <= 64
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !valid {
                return Err(bad(format!(
                    "--var '{v}': the name must be 1 to 64 letters, digits or '_'"
                )));
            }
            c.vars.push((name, value.to_string()));
        }
        c.handshake_timeout = secs(&m, "handshake-timeout")
            .map_err(bad)?
            .unwrap_or(c.handshake_timeout);
        c.idle_timeout = secs(&m, "idle-timeout").map_err(bad)?;
        if let Some(v) = m.opt_str("server-version") {
            c.server_version = v;
        }
        c.lua_script = m
            .opt_str("lua-script")
            .or_else(|| m.opt_str("proxy-lua-script"))
            .map(PathBuf::from);
        c.lua_timeout = secs(&m, "lua-timeout")
            .map_err(bad)?
            .unwrap_or(c.lua_timeout);
        c.lua_all_queries = m.opt_present("lua-all-queries");
        c.stats_interval = secs(&m, "stats-interval")
            .map_err(bad)?
            .filter(|d| !d.is_zero());
        Ok(Command::Run(Box::new(c)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(a: &[&str]) -> Result<Command, Usage> {
        Config::from_args(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn server_variables_and_statement_limit() {
        let Ok(Command::Run(c)) = parse(&[
            "--var",
            "@@Version_Comment=staging box",
            "--var",
            "x=1",
            "--max-prepared-stmts",
            "5",
        ]) else {
            panic!()
        };
        assert_eq!(
            c.vars,
            vec![
                ("version_comment".to_string(), "staging box".to_string()),
                ("x".to_string(), "1".to_string())
            ]
        );
        assert_eq!(c.max_prepared_stmts, 5);
        for bad in [
            &["--var", "novalue"][..],
            &["--var", "a b=1"],
            &["--max-prepared-stmts", "x"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn defaults_and_options() {
        let Ok(Command::Run(c)) = parse(&[]) else {
            panic!()
        };
        assert_eq!((c.bind.as_str(), c.port), ("127.0.0.1", 4040));
        let Ok(Command::Run(c)) = parse(&[
            "--port",
            "0",
            "--user",
            "a:b:c",
            "-u",
            "x:",
            "--idle-timeout",
            "1.5",
        ]) else {
            panic!()
        };
        assert_eq!(c.port, 0);
        assert_eq!(
            c.users[0],
            User {
                name: "a".into(),
                password: "b:c".into()
            }
        );
        assert_eq!(c.users[1].password, "");
        assert_eq!(c.idle_timeout, Some(Duration::from_millis(1500)));
    }

    #[test]
    fn bad_input_is_a_usage_error() {
        assert!(parse(&["--port", "x"]).is_err());
        assert!(parse(&["--user", "nopassword"]).is_err());
        assert!(parse(&["--auth-plugin", "dialog"]).is_err());
        assert!(parse(&["stray"]).is_err());
        assert!(matches!(parse(&["--help"]), Ok(Command::Help(_))));
    }

    fn message(a: &[&str]) -> String {
        match parse(a) {
            Err(u) => u.message,
            Ok(_) => panic!("{a:?} was accepted"),
        }
    }

    /// Issue 8, item 7: every option error is a usage error naming the option.
    #[test]
    fn i8_option_errors_name_the_option() {
        for (args, name) in [
            (&["--idle-timeout", "1e30"][..], "--idle-timeout"),
            (&["--handshake-timeout", "1e300"], "--handshake-timeout"),
            (&["--lua-timeout", "31536001"], "--lua-timeout"),
            (&["--stats-interval", "inf"], "--stats-interval"),
            (&["--idle-timeout", "-1"], "--idle-timeout"),
            (&["--idle-timeout", "NaN"], "--idle-timeout"),
            (&["--bind", "999.1.1.1"], "--bind"),
            (&["--bind", "no.such.host.invalid"], "--bind"),
            (&["--max-connections", "0"], "--max-connections"),
            (&["--port", "70000"], "--port"),
            (&["--port", "-1"], "--port"),
            (&["--back-log", "lots"], "--back-log"),
            (&["--back-log", "0"], "--back-log"),
            (&["--back-log", "65536"], "--back-log"),
            (&["--max-packet", "1000"], "--max-packet"),
            (&["--max-packet", "99999999999999999999"], "--max-packet"),
            (&["--socket", ""], "--socket"),
        ] {
            let m = message(args);
            assert!(m.starts_with(name), "{args:?}: {m}");
        }
    }

    #[test]
    fn limits_at_their_maximum_are_accepted() {
        let Ok(Command::Run(c)) = parse(&[
            "--idle-timeout",
            "31536000",
            "--back-log",
            "65535",
            "--port",
            "65535",
            "--bind",
            "::1",
        ]) else {
            panic!()
        };
        assert_eq!(c.idle_timeout, Some(Duration::from_secs(31_536_000)));
        assert_eq!((c.back_log, c.port, c.bind.as_str()), (65535, 65535, "::1"));
        let Ok(Command::Run(c)) = parse(&["--bind", "localhost"]) else {
            panic!()
        };
        assert!(c.bind.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback()));
        let Ok(Command::Run(c)) = parse(&[]) else {
            panic!()
        };
        assert_eq!(c.back_log, DEFAULT_BACK_LOG);
    }
}
