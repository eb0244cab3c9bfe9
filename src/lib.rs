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

pub mod config;
pub mod limits;
pub mod protocol;
pub mod responder;
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

/// Builds the responders a configuration asks for, as a chain: with a
/// script, the drivers' bootstrap first (unless `--lua-all-queries`), then
/// the script, then the built-in answers; the last word is the unknown-query
/// ERR ([`responder::chain::fallback`]).
pub fn make_responder(config: &Config, stats: &Arc<Stats>) -> io::Result<Box<dyn Responder>> {
    use responder::builtin::Builtin;
    let facts = || server_facts(config, config.port);
    let mut links: Vec<Box<dyn Responder>> = Vec::new();
    match &config.lua_script {
        None => {}
        #[cfg(feature = "lua")]
        Some(path) => {
            if !config.lua_all_queries {
                links.push(Box::new(Builtin::bootstrap(facts(), stats.clone())));
            }
            let lua =
                responder::lua::LuaResponder::new(path, &config.server_version, config.lua_timeout)
                    .map_err(|e| {
                        io::Error::new(io::ErrorKind::InvalidInput, format!("--lua-script: {e}"))
                    })?;
            links.push(Box::new(lua));
        }
        #[cfg(not(feature = "lua"))]
        Some(_) => {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "--lua-script: this build has no Lua (built without the `lua` feature)",
            ))
        }
    }
    links.push(Box::new(Builtin::new(facts(), stats.clone())));
    Ok(Box::new(responder::chain::Chain::new(links)))
}

/// Binds and runs a server on the current thread until `Control::shutdown`.
/// `ready` is called once listening, with the bound address and a control handle.
///
/// First raises the process's soft descriptor limit to the hard one
/// ([`raise_fd_limit`]): a server is its descriptors. [`start`] leaves the
/// limit to its embedder.
pub fn run(config: Config, ready: impl FnOnce(SocketAddr, Control)) -> io::Result<()> {
    if let Err(e) = raise_fd_limit() {
        log::warn!("cannot read the descriptor limit: {e}");
    }
    let stats = Arc::new(Stats::default());
    let responder = make_responder(&config, &stats)?;
    let lp = server::EventLoop::bind(config, responder, stats)?;
    ready(lp.local_addr(), lp.control());
    lp.run()
}

/// A server running on a thread of its own (for tests and embedding).
pub struct ServerHandle {
    addr: SocketAddr,
    control: Control,
    stats: Arc<Stats>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

/// Starts a server on a new thread; returns once it listens.
pub fn start(config: Config) -> io::Result<ServerHandle> {
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("understudy".into())
        .spawn(move || {
            let stats = Arc::new(Stats::default());
            let lp = make_responder(&config, &stats)
                .and_then(|r| server::EventLoop::bind(config, r, stats.clone()));
            match lp {
                Ok(lp) => {
                    let _ = tx.send(Ok((lp.local_addr(), lp.control(), stats)));
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
        Ok(Ok((addr, control, stats))) => Ok(ServerHandle {
            addr,
            control,
            stats,
            thread: Some(thread),
        }),
        Ok(Err(e)) => {
            let _ = thread.join();
            Err(e)
        }
        Err(_) => Err(io::Error::other("server thread died while starting")),
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
