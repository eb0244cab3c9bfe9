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
