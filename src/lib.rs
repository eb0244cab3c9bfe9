//! # understudy
//!
//! A programmable stand-in MySQL server. Real MySQL clients connect, log in and
//! send queries; the answers come from built-in rules (and, later, scripts)
//! instead of a database.
//!
//! ## Layers
//! - [`protocol`]: the wire format as pure functions over bytes (framing,
//!   handshake, auth scrambles, commands, OK/ERR/EOF, column definitions, rows).
//! - [`server`]: one mio `Poll` on one thread owning a slab of connections, each
//!   an explicit state machine (Handshake → AuthSwitch → Command → Closing), with
//!   shared scratch buffers, back-pressure, timers and limits.
//! - [`responder`]: what answers a command, as data: a [`responder::reply::Answer`]
//!   (OK, ERR, a resultset of typed columns whose rows an encoder pulls from a
//!   row source, a canned answer, raw packets, LOCAL INFILE, nothing, or
//!   *decline*). [`responder::chain::Chain`] asks each responder in turn: the
//!   drivers' bootstrap, a Lua script ([`responder::lua`]), the built-in
//!   answers ([`responder::builtin::Builtin`]), then the unknown-query ERR.
//! - [`limits`]: the bounds every path over client input and script output
//!   is held to (delays, deadlines, the pre-login packet, one answer's size);
//!   MySQL's error codes live in one table, [`protocol::errcodes`].
//!
//! A query's path: the loop reads into a shared buffer →
//! `Connection::on_input` frames and checks the packet and decodes the
//! command once → the chain answers with data → [`server::encode`] writes it
//! in the framing the client agreed and the row format the command needs
//! (text rows for COM_QUERY, binary for COM_STMT_EXECUTE), pausing at the
//! write high-water mark (inside a resultset or between the statements of a
//! list; the loop resumes it as the client reads) → one `write` per batch.
//! A prepared statement's execution takes the same path as the text query
//! with its values substituted (`server::connection`'s `prepared` module,
//! [`server::statements`]).
//!
//! Dependencies point one way: server → {protocol, responder}; responder → protocol.
//!
//! ## Embedding
//! ```no_run
//! let mut cfg = understudy::Config::default();
//! cfg.port = 0; // any free port
//! let server = understudy::start(cfg).unwrap();
//! println!("listening on {}", server.addr());
//! server.stop().unwrap();
//! ```
//!
//! ## Note to developers
//! Protocol references: MySQL's "Client/Server Protocol" pages
//! (`PAGE_PROTOCOL.html`: Connection Phase, Text Protocol, OK/ERR/EOF packets).
//! A peer must never make the server panic: decoders are bounds-checked and
//! return `protocol::Error`; the connection then answers ERR and closes.
#![warn(missing_docs)]

pub mod admin;
pub mod config;
pub mod journal;
pub mod limits;
pub mod protocol;
pub mod responder;
pub mod rules;
pub mod server;
pub mod stats;

pub use config::Config;
pub use server::listener::raise_fd_limit;
pub use server::Control;
pub use stats::Stats;

use responder::vars::ServerFacts;
use responder::Responder;
use std::io;
use std::net::SocketAddr;
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;

/// The facts variables such as `@@version` report, from the configuration.
pub fn server_facts(config: &Config, port: u16) -> ServerFacts {
    ServerFacts {
        version: config.server_version.clone(),
        max_packet: config.max_packet,
        max_connections: config.max_connections,
        port,
        socket: config
            .socket
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        hostname: std::fs::read_to_string("/etc/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "localhost".to_string()),
        auth_plugin: config.auth_plugin.to_string(),
        ssl: config.ssl,
        require_secure_transport: config.require_secure_transport,
        compression: [
            ("zlib", config.compress_zlib),
            ("zstd", config.compress_zstd),
            ("uncompressed", true),
        ]
        .iter()
        .filter(|a| a.1)
        .map(|a| a.0)
        .collect::<Vec<_>>()
        .join(","),
        overrides: config
            .vars
            .iter()
            .map(|(k, v)| {
                let value = match v.parse::<i64>() {
                    Ok(i) => responder::value::Value::Int(i),
                    Err(_) => responder::value::Value::str(v.clone()),
                };
                (k.clone(), value)
            })
            .collect(),
    }
}

/// Makes a responder on the server's thread (responders need not be `Send`:
/// a Lua state cannot move between threads).
pub type MakeResponder = Box<dyn FnOnce() -> Box<dyn Responder> + Send>;

/// What a server is built from besides its [`Config`]: rules and responders
/// given in code (the embedding API, [`Builder`]).
#[derive(Default)]
struct Embedded {
    rules: Vec<String>,
    responders: Vec<(String, MakeResponder)>,
}

/// Builds the responders a configuration asks for, as a chain, and what the
/// loop runs besides (the journal, the admin port). The chain: responders
/// given in code, then with a script the drivers' bootstrap (unless
/// `--lua-all-queries`) and the script, then the rules, then the built-in
/// answers; the last word is `--unknown` ([`responder::chain::fallback`]).
fn build(
    config: &Config,
    stats: &Arc<Stats>,
    embedded: Embedded,
) -> io::Result<(
    Box<dyn Responder>,
    server::event_loop::Extras,
    Option<journal::Journal>,
)> {
    use responder::builtin::Builtin;
    use std::cell::RefCell;
    use std::rc::Rc;
    let bad = |e: String| io::Error::new(io::ErrorKind::InvalidInput, e);
    let facts = || server_facts(config, config.port);
    let mut links: Vec<(&str, Box<dyn Responder>)> = Vec::new();
    let mut labels = Vec::new();
    for (label, make) in embedded.responders {
        labels.push(label);
        links.push(("", make()));
    }
    match &config.lua_script {
        None => {}
        #[cfg(feature = "lua")]
        Some(path) => {
            if !config.lua_all_queries {
                links.push((
                    "builtin",
                    Box::new(Builtin::bootstrap(facts(), stats.clone())),
                ));
            }
            let lua =
                responder::lua::LuaResponder::new(path, &config.server_version, config.lua_timeout)
                    .map_err(|e| bad(format!("--lua-script: {e}")))?;
            links.push(("lua", Box::new(lua)));
        }
        #[cfg(not(feature = "lua"))]
        Some(_) => {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "--lua-script: this build has no Lua (built without the `lua` feature)",
            ))
        }
    }
    let origin = rules::file::Origin {
        file: "code".into(),
        dir: std::env::current_dir().unwrap_or_default(),
    };
    let code = embedded
        .rules
        .iter()
        .enumerate()
        .map(|(i, r)| {
            rules::file::parse_rule(r, &origin, i)
                .map_err(|e| format!("rule {i} given in code: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(bad)?;
    let seed = config.seed.unwrap_or_else(|| {
        let mut b = [0u8; 8];
        let _ = getrandom::getrandom(&mut b);
        u64::from_le_bytes(b)
    });
    let state = rules::responder::RuleState::load(config.rules.clone(), code, seed)
        .map_err(|e| bad(format!("--rules: {e}")))?;
    if !state.rules().is_empty() {
        log::info!("rules: {} in all; --seed {seed}", state.rules().len());
    }
    let state = Rc::new(RefCell::new(state));
    links.push((
        "rules",
        Box::new(rules::responder::RulesResponder::new(state.clone())),
    ));
    links.push(("builtin", Box::new(Builtin::new(facts(), stats.clone()))));
    let labels: Vec<String> = labels;
    let mut chain_links: Vec<(&str, Box<dyn Responder>)> = Vec::new();
    let mut custom = labels.iter();
    for (label, r) in links {
        match label {
            "" => chain_links.push((custom.next().map_or("custom", String::as_str), r)),
            l => chain_links.push((l, r)),
        }
    }
    let chain = responder::chain::Chain::new(chain_links, config.unknown);
    let want_journal =
        config.journal.is_some() || config.admin_port.is_some() || config.journal_in_memory;
    let journal = if want_journal {
        Some(journal::Journal::new(config.journal.as_deref())?)
    } else {
        None
    };
    let mut extras = server::event_loop::Extras {
        journal: journal.clone(),
        admin: None,
    };
    if let (Some(port), Some(_)) = (config.admin_port, &config.admin_user) {
        let ip: std::net::IpAddr = config.admin_bind.parse().map_err(|_| {
            bad(format!(
                "--admin-bind {}: not an IP address",
                config.admin_bind
            ))
        })?;
        let registry = Rc::new(RefCell::new(admin::Registry::default()));
        let j = journal
            .clone()
            .ok_or_else(|| io::Error::other("admin port without a journal"))?;
        let admin_chain = responder::chain::Chain::new(
            vec![
                (
                    "builtin",
                    Box::new(Builtin::bootstrap(facts(), stats.clone())),
                ),
                (
                    "admin",
                    Box::new(admin::AdminResponder::new(
                        state,
                        j,
                        stats.clone(),
                        registry.clone(),
                    )),
                ),
            ],
            responder::chain::Unknown::Error,
        );
        extras.admin = Some(server::event_loop::AdminPort {
            responder: Box::new(admin_chain),
            registry,
            addr: SocketAddr::new(ip, port),
        });
    }
    Ok((Box::new(chain), extras, journal))
}

/// Loads or generates the RSA key of caching_sha2_password's full
/// authentication when logins are checked with that plugin (or a key file
/// is given), and reports its public key as
/// `@@caching_sha2_password_public_key`.
pub fn prepare_keys(config: &mut Config) -> io::Result<()> {
    use protocol::consts::plugin;
    if config.tls.is_none() {
        config.tls = server::tls::server_config(config)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    }
    // with or without --user: accepting anyone still runs the plugin's
    // exchange, full authentication and its key request included
    let needed = config.auth_plugin == plugin::CACHING_SHA2 || config.auth_plugin == plugin::SHA256;
    if config.auth_key.is_none() && (needed || config.rsa_private_key.is_some()) {
        let key = match &config.rsa_private_key {
            Some(p) => server::keys::AuthKey::load(p),
            None => server::keys::AuthKey::generate(),
        }
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        log::info!(
            "caching_sha2_password: RSA key {} for full authentication",
            if config.rsa_private_key.is_some() {
                "loaded"
            } else {
                "generated"
            }
        );
        for var in [
            "caching_sha2_password_public_key",
            "sha256_password_public_key",
        ] {
            config
                .vars
                .push((var.to_string(), key.public_pem().to_string()));
        }
        config.auth_key = Some(Arc::new(key));
    }
    Ok(())
}

/// Builds the responders a configuration asks for (see `build`).
pub fn make_responder(config: &Config, stats: &Arc<Stats>) -> io::Result<Box<dyn Responder>> {
    build(config, stats, Embedded::default()).map(|(r, ..)| r)
}

/// Binds and runs a server on the current thread until `Control::shutdown`.
/// `ready` is called once listening, with the bound address and a control handle.
///
/// First raises the process's soft descriptor limit to the hard one
/// ([`raise_fd_limit`]): a server is its descriptors. [`start`] leaves the
/// limit to its embedder.
pub fn run(mut config: Config, ready: impl FnOnce(SocketAddr, Control)) -> io::Result<()> {
    if let Err(e) = raise_fd_limit() {
        log::warn!("cannot read the descriptor limit: {e}");
    }
    prepare_keys(&mut config)?;
    let stats = Arc::new(Stats::default());
    let (responder, extras, _) = build(&config, &stats, Embedded::default())?;
    let lp = server::EventLoop::bind_with(config, responder, stats, extras)?;
    if let Some(a) = lp.admin_addr() {
        eprintln!("understudy: admin port on {a}");
    }
    ready(lp.local_addr(), lp.control());
    lp.run()
}

/// A server running on a thread of its own (for tests and embedding).
pub struct ServerHandle {
    addr: SocketAddr,
    admin: Option<SocketAddr>,
    control: Control,
    stats: Arc<Stats>,
    journal: Option<journal::Journal>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

/// Starts a server on a new thread; returns once it listens.
pub fn start(config: Config) -> io::Result<ServerHandle> {
    Builder::new(config).start()
}

/// A server built in code: a configuration, rules given as JSON, rule
/// files, responders of your own placed first in the chain, a journal kept
/// in memory.
///
/// ```
/// use understudy::{Builder, Config};
/// let mut cfg = Config::default();
/// cfg.port = 0; // any free port
/// let server = Builder::new(cfg)
///     .rule(r#"{ "match": { "sql": "SELECT name FROM users WHERE id = ?" },
///                "result": { "columns": [ { "name": "name", "type": "VARCHAR(64)" } ],
///                            "rows": [ [ "ada" ] ] } }"#)
///     .journal()
///     .start()
///     .unwrap();
/// // the code under test connects to server.addr() and queries…
/// let url = format!("mysql://root@{}", server.addr());
/// let mut conn = mysql::Conn::new(mysql::Opts::from_url(&url).unwrap()).unwrap();
/// use mysql::prelude::Queryable;
/// let name: Option<String> = conn.query_first("SELECT name FROM users WHERE id = 7").unwrap();
/// assert_eq!(name.as_deref(), Some("ada"));
/// // …and the test asserts on what it sent
/// let sent = server.journal().unwrap().commands(|e| e.sql().is_some_and(|s| s.contains("users")));
/// assert_eq!(sent.len(), 1);
/// assert_eq!(sent[0].command().unwrap().rule, "code:0");
/// server.stop().unwrap();
/// ```
pub struct Builder {
    config: Config,
    embedded: Embedded,
}

impl Builder {
    /// A server with this configuration.
    pub fn new(config: Config) -> Builder {
        Builder {
            config,
            embedded: Embedded::default(),
        }
    }

    /// Loads a rule file or a directory of them (as `--rules`).
    pub fn rules_file(mut self, path: impl Into<std::path::PathBuf>) -> Builder {
        self.config.rules.push(path.into());
        self
    }

    /// A rule, as one rule object of a rule file. Rules given in code come
    /// before the files, in the order given; the default name is `code:N`.
    pub fn rule(mut self, json: impl Into<String>) -> Builder {
        self.embedded.rules.push(json.into());
        self
    }

    /// A responder of your own, first in the chain (before scripts and
    /// rules): what it answers, it answers; what it declines goes on down
    /// the chain. `make` runs on the server's thread; `label` names its
    /// answers in the journal.
    pub fn responder(
        mut self,
        label: &str,
        make: impl FnOnce() -> Box<dyn Responder> + Send + 'static,
    ) -> Builder {
        self.embedded
            .responders
            .push((label.to_string(), Box::new(make)));
        self
    }

    /// Keeps the journal in memory ([`ServerHandle::journal`]).
    pub fn journal(mut self) -> Builder {
        self.config.journal_in_memory = true;
        self
    }

    /// Starts the server on a thread of its own; returns once it listens.
    pub fn start(self) -> io::Result<ServerHandle> {
        let Builder {
            mut config,
            embedded,
        } = self;
        prepare_keys(&mut config)?;
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("understudy".into())
            .spawn(move || {
                let stats = Arc::new(Stats::default());
                let lp = build(&config, &stats, embedded).and_then(|(r, extras, journal)| {
                    server::EventLoop::bind_with(config, r, stats.clone(), extras)
                        .map(|lp| (lp, journal))
                });
                match lp {
                    Ok((lp, journal)) => {
                        let _ = tx.send(Ok((
                            lp.local_addr(),
                            lp.admin_addr(),
                            lp.control(),
                            stats,
                            journal,
                        )));
                        lp.run()
                    }
                    Err(e) => {
                        let kind = e.kind();
                        let _ = tx.send(Err(e));
                        Err(io::Error::new(kind, "server failed to start"))
                    }
                }
            })?;
        match rx.recv() {
            Ok(Ok((addr, admin, control, stats, journal))) => Ok(ServerHandle {
                addr,
                admin,
                control,
                stats,
                journal,
                thread: Some(thread),
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => Err(io::Error::other("server thread died while starting")),
        }
    }
}

impl ServerHandle {
    /// The TCP address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Live counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The admin port's address, when it is open.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin
    }

    /// The journal, when one is kept ([`Builder::journal`], `--journal`,
    /// or an admin port): what clients sent and how it was answered.
    pub fn journal(&self) -> Option<&journal::Journal> {
        self.journal.as_ref()
    }

    /// A control handle (shutdown, reload).
    pub fn control(&self) -> Control {
        self.control.clone()
    }

    /// Stops the server gracefully and waits for its thread.
    pub fn stop(mut self) -> io::Result<()> {
        self.shutdown_and_join()
    }

    fn shutdown_and_join(&mut self) -> io::Result<()> {
        self.control.shutdown();
        match self.thread.take() {
            Some(t) => t
                .join()
                .map_err(|_| io::Error::other("server thread panicked"))?,
            None => Ok(()),
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        let _ = self.shutdown_and_join();
    }
}
