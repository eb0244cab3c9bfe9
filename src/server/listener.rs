//! Listening sockets that survive connection storms and descriptor exhaustion:
//! the backlog (`--back-log`), the process's descriptor limit, the spare
//! descriptor that lets a server out of descriptors still tell a client "Too
//! many connections", and the `--socket` path's stale-file check.
//!
//! Why each matters:
//! - std's and mio's listeners use a backlog of 128. A storm of a few hundred
//!   connections in flight overflows it; the kernel then drops the client's
//!   final ACK (ListenOverflows in /proc/net/netstat), the client believes it
//!   is connected and waits for a greeting that comes seconds later, or never.
//! - A server started under a low soft `ulimit -n` runs out of descriptors long
//!   before `--max-connections`, although the hard limit would allow more.
//! - When accept(2) fails with EMFILE the pending client stays in the backlog,
//!   and with edge-triggered readiness the listener is not reported again: the
//!   client hangs. Closing a spare descriptor makes room to accept it, answer
//!   ERR 1040 and close it (the "reserve fd" trick of libev, nginx and others).

use super::connection;
use super::stream::{Listener, Stream};
use log::{info, warn};
use socket2::{Domain, SockAddr, Socket, Type};
use std::fs::File;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

/// Default `--back-log`: MySQL's largest `back_log`. The kernel silently caps
/// any backlog at `net.core.somaxconn` (4096 by default since Linux 5.4), so
/// asking for the most lets the administrator's sysctl decide; a storm of
/// 10,000 clients with 500 in flight overflowed std's 128.
pub const DEFAULT_BACK_LOG: u32 = 65_535;

/// Largest `--back-log` accepted: MySQL's own maximum for `back_log` (the
/// kernel would cap it at `net.core.somaxconn` anyway).
pub const MAX_BACK_LOG: u32 = 65_535;

/// Descriptors the server needs besides its connections: stdin, stdout and
/// stderr, the epoll instance, the waker, two listeners, the spare, the
/// signal thread's pipe, with a margin for a script's files and the logger.
pub const RESERVED_FDS: u64 = 16;

/// Where the kernel's cap on listen backlogs is readable.
const SOMAXCONN: &str = "/proc/sys/net/core/somaxconn";

/// The kernel's cap on listen backlogs (`net.core.somaxconn`), if readable.
pub fn somaxconn() -> Option<u32> {
    std::fs::read_to_string(SOMAXCONN).ok()?.trim().parse().ok()
}

/// The backlog the kernel will actually use for `requested`; logs it at info,
/// and warns when `net.core.somaxconn` cuts it short.
fn effective_backlog(requested: u32) -> u32 {
    match somaxconn() {
        Some(cap) if cap < requested => {
            if requested != DEFAULT_BACK_LOG {
                warn!("--back-log {requested}: the kernel caps it at net.core.somaxconn = {cap}");
            } else {
                info!("listen backlog {cap} (net.core.somaxconn; asked for {requested})");
            }
            cap
        }
        _ => {
            info!("listen backlog {requested}");
            requested
        }
    }
}

/// The backlog as listen(2) takes it: an int (the value is at most
/// [`MAX_BACK_LOG`] from the command line; an embedder's larger value is the
/// kernel's to cap).
fn backlog_arg(backlog: u32) -> i32 {
    i32::try_from(backlog).unwrap_or(i32::MAX)
}

/// A non-blocking TCP listener on `addr` with the given backlog, set up as std
/// does (SO_REUSEADDR, so a restart does not wait for TIME_WAIT; close-on-exec).
pub fn bind_tcp(addr: SocketAddr, backlog: u32) -> io::Result<mio::net::TcpListener> {
    let backlog = effective_backlog(backlog);
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    s.set_reuse_address(true)?;
    s.bind(&addr.into())?;
    s.listen(backlog_arg(backlog))?;
    s.set_nonblocking(true)?;
    Ok(mio::net::TcpListener::from_std(s.into()))
}

/// A non-blocking Unix listener at `path` with the given backlog. A stale
/// socket there is replaced; anything else is refused (see [`claim_socket_path`]).
pub fn bind_unix(path: &Path, backlog: u32) -> io::Result<mio::net::UnixListener> {
    claim_socket_path(path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // e.g. /run/mysqld, where clients look by default, may not exist yet
        std::fs::create_dir_all(dir)
            .map_err(|e| io::Error::new(e.kind(), format!("--socket {}: {e}", path.display())))?;
    }
    let bound = (|| {
        let s = Socket::new(Domain::UNIX, Type::STREAM, None)?;
        s.bind(&SockAddr::unix(path)?)?;
        s.listen(backlog_arg(backlog.min(somaxconn().unwrap_or(backlog))))?;
        s.set_nonblocking(true)?;
        Ok::<_, io::Error>(mio::net::UnixListener::from_std(s.into()))
    })();
    bound.map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("--socket {}: cannot listen: {e}", path.display()),
        )
    })
}

/// Makes `path` free for a new Unix socket: nothing there is fine; a *stale*
/// socket (a socket file nobody listens on: connecting is refused) is removed,
/// as a crashed earlier run leaves one; anything else (a regular file, a
/// directory, a link, a socket another server listens on) is refused with an
/// error naming `--socket` and the path, and left as it is.
pub fn claim_socket_path(path: &Path) -> io::Result<()> {
    let refuse = |kind: io::ErrorKind, what: &str| {
        Err(io::Error::new(
            kind,
            format!(
                "--socket {}: {what}; refusing to replace it",
                path.display()
            ),
        ))
    };
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return refuse(e.kind(), &format!("cannot look at it ({e})")),
    };
    let ft = meta.file_type();
    if !ft.is_socket() {
        let what = if ft.is_dir() {
            "a directory is there"
        } else if ft.is_file() {
            "a regular file is there"
        } else if ft.is_symlink() {
            "a symbolic link is there"
        } else {
            "something other than a socket is there"
        };
        return refuse(io::ErrorKind::AlreadyExists, what);
    }
    match std::os::unix::net::UnixStream::connect(path) {
        // Someone answers: another server owns it.
        Ok(_) => refuse(
            io::ErrorKind::AddrInUse,
            "another server is listening on it",
        ),
        // Nobody listens: a leftover of an earlier run.
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            info!("removing stale socket {}", path.display());
            std::fs::remove_file(path)
                .map_err(|e| io::Error::new(e.kind(), format!("--socket {}: {e}", path.display())))
        }
        Err(e) => refuse(e.kind(), &format!("cannot tell whether it is in use ({e})")),
    }
}

fn getrlimit() -> io::Result<libc::rlimit> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct it is given, which we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(lim)
}

fn setrlimit(lim: &libc::rlimit) -> io::Result<()> {
    // SAFETY: setrlimit only reads the struct it is given.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The process's soft descriptor limit (`RLIMIT_NOFILE`).
pub fn fd_limit() -> io::Result<u64> {
    Ok(getrlimit()?.rlim_cur)
}

/// Raises the soft descriptor limit to the hard one (a process may do so
/// without privileges) and returns the limit now in force, logged at info.
/// `understudy::run`, which the binary uses, calls it at start; an embedder
/// may call it too (it changes the whole process).
pub fn raise_fd_limit() -> io::Result<u64> {
    let lim = getrlimit()?;
    if lim.rlim_cur < lim.rlim_max {
        // An unlimited hard limit cannot be the soft one on Linux (it is capped
        // by fs.nr_open): fall back to that cap.
        let nr_open = std::fs::read_to_string("/proc/sys/fs/nr_open")
            .ok()
            .and_then(|s| s.trim().parse::<libc::rlim_t>().ok());
        let mut want = lim.rlim_max;
        if want == libc::RLIM_INFINITY {
            want = nr_open.unwrap_or(1 << 20);
        }
        let raised = libc::rlimit {
            rlim_cur: want,
            rlim_max: lim.rlim_max,
        };
        if let Err(e) = setrlimit(&raised) {
            warn!(
                "cannot raise the descriptor limit from {} to {want}: {e}",
                lim.rlim_cur
            );
        }
    }
    let now = fd_limit()?;
    info!("descriptor limit (RLIMIT_NOFILE) {now}");
    Ok(now)
}

/// Warns when `max_connections` clients plus the server's own descriptors
/// cannot be open under the current descriptor limit: clients beyond it get
/// ERR 1040 although `--max-connections` is not reached.
pub fn check_fd_budget(max_connections: usize) {
    let Ok(limit) = fd_limit() else { return };
    let need = (max_connections as u64).saturating_add(RESERVED_FDS);
    if need > limit {
        // The default (100,000) is a ceiling, not a request: running under a
        // smaller descriptor limit is normal then, and worth an info line;
        // a --max-connections the operator chose that cannot be reached is
        // worth a warning.
        let level = if max_connections == crate::Config::default().max_connections {
            log::Level::Info
        } else {
            log::Level::Warn
        };
        log::log!(
            level,
            "--max-connections {max_connections} needs about {need} descriptors but the limit \
             (ulimit -n) is {limit}: beyond about {} clients get ERR 1040 Too many connections",
            limit.saturating_sub(RESERVED_FDS)
        );
    }
}

/// Whether an accept error means the process or the system is out of
/// descriptors (EMFILE, ENFILE).
pub fn is_fd_exhaustion(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}

/// Whether an accept error concerns only the one pending connection (it was
/// reset or refused before accept took it): the next may be accepted at once.
pub fn is_per_connection(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::ConnectionAborted
        || matches!(
            e.raw_os_error(),
            Some(libc::EPROTO | libc::EPERM | libc::ECONNRESET)
        )
}

/// One descriptor held in reserve (on /dev/null) so that a server out of
/// descriptors can still accept a client to refuse it.
#[derive(Debug)]
pub struct Spare(Option<File>);

impl Spare {
    /// Opens the spare (none if even that fails: then refusing starves, and
    /// accepting is retried later).
    pub fn open() -> Spare {
        let mut s = Spare(None);
        s.restore();
        s
    }

    /// Whether the spare is held.
    pub fn is_held(&self) -> bool {
        self.0.is_some()
    }

    /// Reopens the spare if it is not held; whether it is held now.
    pub fn restore(&mut self) -> bool {
        if self.0.is_none() {
            self.0 = File::open("/dev/null").ok();
        }
        self.0.is_some()
    }
}

/// What [`refuse_one`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A pending client got ERR 1040 and was closed; the spare is back.
    Refused,
    /// No client was pending (the spare is back).
    NonePending,
    /// No descriptor could be freed or the spare could not be reopened:
    /// accepting must be retried later (when a connection closes, or on a
    /// tick), as the listener will not be reported ready again.
    Starved,
}

/// Called after accept failed for want of descriptors: frees the spare,
/// accepts one pending client, answers it ERR 1040 "Too many connections"
/// and closes it, then takes the spare back.
pub fn refuse_one(l: &Listener, spare: &mut Spare) -> Refusal {
    if spare.0.take().is_none() && !spare.restore() {
        return Refusal::Starved;
    }
    // The spare may have just been reopened above (a descriptor freed up since):
    // give it up again to make room.
    spare.0 = None;
    let got = loop {
        match l.accept() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => break other,
        }
    };
    let result = match got {
        Ok((mut stream, _)) => {
            refuse(&mut stream);
            drop(stream);
            Refusal::Refused
        }
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Refusal::NonePending,
        // Another client reset before we took it: this one freed nothing, but
        // the next accept may work.
        Err(e) if is_per_connection(&e) => Refusal::Refused,
        Err(_) => Refusal::Starved,
    };
    if spare.restore() {
        result
    } else {
        Refusal::Starved
    }
}

/// Writes ERR 1040 to a client the server cannot take. The socket is fresh and
/// the packet small: one non-blocking write takes it whole, or the client is
/// gone and nothing is lost.
pub fn refuse(stream: &mut Stream) {
    let mut out = Vec::with_capacity(32);
    connection::too_many_connections(&mut out);
    let _ = stream.write(&out);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("understudy-lst-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        let _ = std::fs::remove_file(&p);
        p
    }

    #[test]
    fn a_stale_socket_is_removed_anything_else_refused() {
        let p = tmp("stale.sock");
        assert!(claim_socket_path(&p).is_ok(), "nothing there");
        drop(std::os::unix::net::UnixListener::bind(&p).unwrap());
        assert!(p.exists());
        claim_socket_path(&p).unwrap();
        assert!(!p.exists(), "stale socket removed");

        let live = std::os::unix::net::UnixListener::bind(&p).unwrap();
        let e = claim_socket_path(&p).unwrap_err().to_string();
        assert!(e.contains("--socket") && e.contains("listening"), "{e}");
        assert!(p.exists());
        drop(live);
        std::fs::remove_file(&p).unwrap();

        std::fs::write(&p, "precious").unwrap();
        let e = claim_socket_path(&p).unwrap_err().to_string();
        assert!(e.contains("regular file") && e.contains(&*p.to_string_lossy()));
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "precious");
        std::fs::remove_file(&p).unwrap();

        std::fs::create_dir(&p).unwrap();
        assert!(claim_socket_path(&p)
            .unwrap_err()
            .to_string()
            .contains("directory"));
        std::fs::remove_dir(&p).unwrap();
    }

    #[test]
    fn fd_errors_are_classified() {
        assert!(is_fd_exhaustion(&io::Error::from_raw_os_error(
            libc::EMFILE
        )));
        assert!(is_fd_exhaustion(&io::Error::from_raw_os_error(
            libc::ENFILE
        )));
        assert!(!is_fd_exhaustion(&io::Error::from_raw_os_error(
            libc::ENOBUFS
        )));
        assert!(is_per_connection(&io::Error::from_raw_os_error(
            libc::ECONNABORTED
        )));
        assert!(!is_per_connection(&io::Error::from_raw_os_error(
            libc::EMFILE
        )));
    }

    #[test]
    fn the_spare_is_held_and_given_back() {
        let mut s = Spare::open();
        assert!(s.is_held());
        // A listener with nobody pending: the spare comes back.
        let l = Listener::Tcp(bind_tcp("127.0.0.1:0".parse().unwrap(), 16).unwrap());
        assert_eq!(refuse_one(&l, &mut s), Refusal::NonePending);
        assert!(s.is_held());
        // A pending client is taken, answered ERR 1040 and closed.
        let Listener::Tcp(t) = &l else { unreachable!() };
        let mut c = std::net::TcpStream::connect(t.local_addr().unwrap()).unwrap();
        c.set_read_timeout(Some(std::time::Duration::from_secs(20)))
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        // The connection is in the accept queue once connect returns, but be
        // lenient with a slow machine.
        while refuse_one(&l, &mut s) == Refusal::NonePending {
            assert!(std::time::Instant::now() < deadline, "never pending");
            std::thread::yield_now();
        }
        assert!(s.is_held());
        let mut got = Vec::new();
        std::io::Read::read_to_end(&mut c, &mut got).unwrap();
        // header (4) + 0xff + code 1040 little-endian + '#08004'
        assert_eq!(got.get(4..7), Some(&[0xff, 0x10, 0x04][..]), "{got:?}");
        assert!(got.ends_with(b"#08004Too many connections"), "{got:?}");
    }
}
