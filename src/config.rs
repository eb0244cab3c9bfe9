//! Server configuration and its command line.

use crate::protocol::consts::plugin;
use getopts::Options;
use std::path::PathBuf;
use std::time::Duration;

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
    /// Address to listen on (`--bind`).
    pub bind: String,
    /// TCP port (`--port`); 0 picks a free one.
    pub port: u16,
    /// Optional Unix socket path (`--socket`).
    pub socket: Option<PathBuf>,
    /// Most connections open at once (`--max-connections`).
    pub max_connections: usize,
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
    /// MySQL Proxy Lua script answering instead of the built-in rules (`--lua-script`).
    pub lua_script: Option<PathBuf>,
    /// Longest a single Lua hook call may run (`--lua-timeout`).
    pub lua_timeout: Duration,
    /// Let `read_query` see session-setting statements too (`--lua-all-queries`).
    pub lua_all_queries: bool,
    /// Print a line of counters to stderr this often (`--stats-interval`).
    pub stats_interval: Option<Duration>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: "127.0.0.1".to_string(),
            port: 4040,
            socket: None,
            max_connections: 100_000,
            handshake_timeout: Duration::from_secs(10),
            idle_timeout: None,
            max_packet: 64 << 20,
            server_version: "8.0.36-understudy".to_string(),
            users: Vec::new(),
            auth_plugin: plugin::NATIVE,
            write_high_water: 1 << 20,
            max_answer: crate::limits::MAX_ANSWER,
            lua_script: None,
            lua_timeout: Duration::from_secs(5),
            lua_all_queries: false,
            stats_interval: None,
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

fn num<T: std::str::FromStr>(m: &getopts::Matches, name: &str) -> Result<Option<T>, String> {
    match m.opt_str(name) {
        None => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| format!("--{name}: '{v}' is not a valid number")),
    }
}

fn secs(m: &getopts::Matches, name: &str) -> Result<Option<Duration>, String> {
    match m.opt_str(name) {
        None => Ok(None),
        Some(v) => v
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(|s| Some(Duration::from_secs_f64(s)))
            .ok_or_else(|| format!("--{name}: '{v}' is not a number of seconds")),
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
            c.bind = b;
        }
        c.port = num(&m, "port").map_err(bad)?.unwrap_or(c.port);
        c.socket = m.opt_str("socket").map(PathBuf::from);
        for u in m.opt_strs("user") {
            let (name, password) = u
                .split_once(':')
                .ok_or_else(|| bad(format!("--user '{u}': expected NAME:PASSWORD")))?;
            c.users.push(User {
                name: name.to_string(),
                password: password.to_string(),
            });
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
        c.max_connections = num(&m, "max-connections")
            .map_err(bad)?
            .unwrap_or(c.max_connections);
        c.max_packet = num(&m, "max-packet").map_err(bad)?.unwrap_or(c.max_packet);
        if c.max_packet < 1024 {
            return Err(bad("--max-packet must be at least 1024".to_string()));
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
}
