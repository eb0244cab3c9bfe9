//! The `understudy` binary itself: signals, exit codes, --stats-interval,
//! MySQL Proxy's option spellings.

// The spawned servers are waited for by `wait()` in every test that spawns one;
// clippy cannot see through the helper.
#![allow(clippy::zombie_processes)]

use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn spawn(args: &[&str]) -> (Child, u16, BufReader<std::process::ChildStderr>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_understudy"))
        .args(["--port", "0"])
        .args(args)
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn understudy");
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            err.read_line(&mut line).unwrap() > 0,
            "exited before listening"
        );
        if let Some(addr) = line.trim().strip_prefix("understudy: listening on ") {
            let port = addr.rsplit(':').next().unwrap().parse().unwrap();
            return (child, port, err);
        }
    }
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

fn wait(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        assert!(Instant::now() < deadline, "did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sigterm_and_sigint_exit_zero_and_stats_are_printed() {
    for sig in ["-TERM", "-INT"] {
        let (mut child, port, mut err) = spawn(&["--stats-interval", "0.2"]);
        let mut c = mysql::Conn::new(
            mysql::OptsBuilder::new()
                .ip_or_hostname(Some("127.0.0.1"))
                .tcp_port(port)
                .user(Some("u"))
                .pass(Some("p")),
        )
        .unwrap();
        use mysql::prelude::Queryable;
        let dbs: Vec<String> = c.query("SHOW DATABASES").unwrap();
        assert_eq!(dbs.len(), 70);
        std::thread::sleep(Duration::from_millis(300));
        signal(&child, sig);
        assert!(wait(&mut child).success(), "{sig}: exit 0");
        let mut rest = String::new();
        err.read_to_string(&mut rest).unwrap();
        assert!(rest.contains("stats: open="), "{rest}");
        assert!(rest.contains("query="), "{rest}");
        let total = rest
            .lines()
            .find(|l| l.starts_with("stats (total):"))
            .expect("summary at exit");
        assert!(total.contains("handshakes ok=1"), "{total}");
        assert!(
            TcpStream::connect(("127.0.0.1", port)).is_err(),
            "no longer listening"
        );
    }
}

#[test]
fn a_broken_script_exits_nonzero_before_listening() {
    let dir = std::env::temp_dir().join(format!("understudy-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.lua");
    std::fs::write(&bad, "function read_query(p)\n  return = 1\nend\n").unwrap();
    for flag in ["--lua-script", "--proxy-lua-script", "-s"] {
        let out = Command::new(env!("CARGO_BIN_EXE_understudy"))
            .args(["--port", "0", flag, bad.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{flag}");
        let err = String::from_utf8_lossy(&out.stderr);
        // MySQL Proxy's chunk naming: [string "path"]:line:
        assert!(err.contains("bad.lua\"]:2:"), "{flag}: {err}");
        assert!(!err.contains("listening"), "{flag}: {err}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_understudy"))
        .arg(format!(
            "--proxy-lua-script={}",
            dir.join("missing.lua").display()
        ))
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn usage_errors_exit_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_understudy"))
        .args(["--port", "nope"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Usage:"));
    let out = Command::new(env!("CARGO_BIN_EXE_understudy"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("--lua-script"));
}

#[test]
fn sighup_reloads_the_script() {
    let dir = std::env::temp_dir().join(format!("understudy-hup-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("s.lua");
    let script = |msg: &str| {
        format!("function read_query(p) if p:sub(2) == 'v' then proxy.response = {{ type = proxy.MYSQLD_PACKET_ERR, errmsg = '{msg}' }} return proxy.PROXY_SEND_RESULT end end")
    };
    std::fs::write(&path, script("one")).unwrap();
    let (mut child, port, _err) = spawn(&["--lua-script", path.to_str().unwrap()]);
    let opts = || -> mysql::Opts {
        mysql::OptsBuilder::new()
            .ip_or_hostname(Some("127.0.0.1"))
            .tcp_port(port)
            .user(Some("u"))
            .pass(Some("p"))
            .into()
    };
    use mysql::prelude::Queryable;
    let msg = |e: mysql::Error| match e {
        mysql::Error::MySqlError(e) => e.message,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        msg(mysql::Conn::new(opts())
            .unwrap()
            .query_drop("v")
            .unwrap_err()),
        "one"
    );
    // same size and (likely) same second: only SIGHUP makes it visible at once
    std::fs::write(&path, script("two")).unwrap();
    signal(&child, "-HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let m = msg(mysql::Conn::new(opts())
            .unwrap()
            .query_drop("v")
            .unwrap_err());
        if m == "two" {
            break;
        }
        assert!(Instant::now() < deadline, "not reloaded: {m}");
        std::thread::sleep(Duration::from_millis(50));
    }
    signal(&child, "-TERM");
    assert!(wait(&mut child).success());
}

/// How a launch of the binary ended: it exited (code, stderr), or it listens.
enum Launch {
    Exited(Option<i32>, String),
    Listening(Running, u16),
}

/// A server that is killed when the test lets go of it (also on a failed
/// assertion, so no server outlives its test).
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the binary and waits (at most 20 s) until it exits or says it listens.
fn launch(args: &[&str]) -> Launch {
    let mut child = Command::new(env!("CARGO_BIN_EXE_understudy"))
        .args(["--port", "0"])
        .args(args)
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn understudy");
    let err = BufReader::new(child.stderr.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in err.lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut text = String::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                if let Some(addr) = line.trim().strip_prefix("understudy: listening on ") {
                    let port = addr.rsplit(':').next().unwrap().parse().unwrap();
                    return Launch::Listening(Running(child), port);
                }
                text.push_str(&line);
                text.push('\n');
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                let st = wait(&mut child);
                return Launch::Exited(st.code(), text);
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{args:?}: neither exited nor listened within 20 s: {text}");
            }
        }
    }
}

/// Launches with `args` and expects a usage error (exit 2) naming `name`.
fn usage_error(args: &[&str], name: &str) -> String {
    match launch(args) {
        Launch::Exited(code, err) => {
            assert_eq!(
                code,
                Some(2),
                "{args:?}: exit 2 (usage), got {code:?}: {err}"
            );
            assert!(err.contains(name), "{args:?}: names {name}: {err}");
            assert!(!err.contains("panicked"), "{args:?}: {err}");
            err
        }
        Launch::Listening(..) => panic!("{args:?}: started instead of a usage error"),
    }
}

fn stop(mut server: Running) {
    signal(&server.0, "-TERM");
    assert!(wait(&mut server.0).success());
}

fn tmp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("understudy-i8-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Reads the first packet of a Unix-socket client and checks it is a greeting.
fn greeted_on(path: &std::path::Path) -> bool {
    let mut s = std::os::unix::net::UnixStream::connect(path).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut head = [0u8; 5];
    s.read_exact(&mut head).is_ok() && head[4] == 10 // protocol version 10
}

/// Issue 8, item 7: `--idle-timeout 1e30` panicked (Duration::from_secs_f64
/// overflow); every seconds option is now bounded by a year and a usage error past it.
#[test]
fn i8_seconds_beyond_a_year_are_a_usage_error() {
    for opt in [
        "--idle-timeout",
        "--handshake-timeout",
        "--lua-timeout",
        "--stats-interval",
    ] {
        usage_error(&[opt, "1e30"], opt);
    }
}

/// Issue 8, item 7: a bad `--bind` exited 1 from inside the loop; now it is a
/// usage error from the command line.
#[test]
fn i8_bad_bind_is_a_usage_error() {
    for bad in ["999.1.1.1", "no.such.host.invalid"] {
        usage_error(&["--bind", bad], "--bind");
    }
    // A host name that resolves is taken.
    match launch(&["--bind", "localhost"]) {
        Launch::Listening(child, port) => {
            assert!(port > 0);
            stop(child);
        }
        Launch::Exited(code, err) => panic!("--bind localhost: exit {code:?}: {err}"),
    }
}

/// Issue 8, item 7: out-of-range numbers are usage errors naming the option
/// (`--max-connections 0` used to start a server that refused every client).
#[test]
fn i8_numbers_out_of_range_are_usage_errors() {
    usage_error(&["--max-connections", "0"], "--max-connections");
    usage_error(&["--port", "70000"], "--port");
    let err = usage_error(&["--back-log", "lots"], "--back-log");
    assert!(err.contains("not a whole number"), "{err}");
    usage_error(&["--back-log", "0"], "--back-log");
    match launch(&["--back-log", "100"]) {
        Launch::Listening(child, _) => stop(child),
        Launch::Exited(code, err) => panic!("--back-log 100: exit {code:?}: {err}"),
    }
}

/// Issue 8, item 7: `--socket` over a regular file deleted it; now the server
/// refuses to start, names --socket and the path, and the file is untouched.
#[test]
fn i8_socket_over_a_regular_file_is_refused_and_kept() {
    let dir = tmp_dir("file");
    let path = dir.join("data.txt");
    std::fs::write(&path, "not a socket").unwrap();
    match launch(&["--socket", path.to_str().unwrap()]) {
        Launch::Exited(code, err) => {
            assert_eq!(code, Some(1), "{err}");
            assert!(err.contains("--socket"), "{err}");
            assert!(err.contains(path.to_str().unwrap()), "{err}");
        }
        Launch::Listening(..) => panic!("started over a regular file"),
    }
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "not a socket");
    // A directory is refused the same way.
    let sub = dir.join("sub");
    std::fs::create_dir(&sub).unwrap();
    assert!(matches!(
        launch(&["--socket", sub.to_str().unwrap()]),
        Launch::Exited(Some(1), e) if e.contains("--socket")
    ));
    assert!(sub.is_dir());
}

/// Issue 8, item 7: a socket another server listens on is refused (it used to
/// be unlinked from under that server), while a stale one is replaced.
#[test]
fn i8_socket_replaces_only_a_stale_socket() {
    let dir = tmp_dir("sock");
    let path = dir.join("s.sock");
    // Stale: bound, then dropped (the file stays, nobody listens).
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let child = match launch(&["--socket", path.to_str().unwrap()]) {
        Launch::Listening(child, _) => child,
        Launch::Exited(code, err) => panic!("over a stale socket: exit {code:?}: {err}"),
    };
    assert!(greeted_on(&path), "serves on the replaced socket");
    // Live: a second server on the same path must leave the first alone.
    match launch(&["--socket", path.to_str().unwrap()]) {
        Launch::Exited(code, err) => {
            assert_eq!(code, Some(1), "{err}");
            assert!(
                err.contains("--socket") && err.contains("listening"),
                "{err}"
            );
        }
        Launch::Listening(..) => panic!("started over a live socket"),
    }
    assert!(
        greeted_on(&path),
        "the first server still serves its socket"
    );
    stop(child);
}
