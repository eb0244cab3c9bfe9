//! Issue 8: no client, script or bug in one connection's handling may stop,
//! freeze or bloat the server. Each test sends the worst case through a real
//! socket and checks that the server answers it boundedly and that other
//! clients are not disturbed.

mod common;

use mysql::prelude::Queryable;
use mysql::Conn;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use understudy::protocol::response::decode_err;
use understudy::responder::builtin::Builtin;
use understudy::responder::{Answer, Request, Responder, Session};
use understudy::{Config, Stats};

/// Another client still gets full answers.
fn others_unaffected(port: u16) {
    let opts: mysql::Opts = mysql::OptsBuilder::new()
        .ip_or_hostname(Some("127.0.0.1"))
        .tcp_port(port)
        .user(Some("u"))
        .pass(Some("p"))
        .tcp_connect_timeout(Some(Duration::from_secs(10)))
        .read_timeout(Some(Duration::from_secs(20)))
        .into();
    let mut c = Conn::new(opts).expect("another client logs in");
    let dbs: Vec<String> = c.query("SHOW DATABASES").unwrap();
    assert_eq!(dbs.len(), 70);
}

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The server binary on a free port; killed on drop.
struct Binary {
    child: Child,
    port: u16,
}

impl Binary {
    // The child is waited for in Drop (clippy cannot see it: the panic path
    // below would leave it, and the test process reaps it when it exits).
    #[allow(clippy::zombie_processes)]
    fn start(args: &[&str]) -> Binary {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let child = Command::new(env!("CARGO_BIN_EXE_understudy"))
            .args(["--port", &port.to_string()])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the binary starts");
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Binary { child, port };
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("server did not listen on {port}");
    }

    /// Resident memory of the server process, in bytes.
    fn rss(&self) -> usize {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kb: usize = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS");
        kb * 1024
    }

    fn login(&self) -> std::net::TcpStream {
        login_port(self.port)
    }
}

/// A raw client logged in at `port`.
fn login_port(port: u16) -> std::net::TcpStream {
    common::login_at(port, "u", "p")
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Issue 8, case 3: a 1 MiB multi-statement list of `SHOW DATABASES` asks
/// for 70 MB of answers. From a client that does not read, the old server
/// built them all at once (memory grew by the whole answer); now the list
/// pauses at the write high-water mark, memory stays flat, and once the
/// client reads every answer arrives, in order.
#[test]
fn r8_statement_list_from_a_client_that_does_not_read() {
    let server = Binary::start(&[]);
    let mut s = server.login();
    others_unaffected(server.port);
    let before = server.rss();
    let stmt = "SHOW DATABASES;";
    let n = (1 << 20) / stmt.len();
    let mut q = vec![3u8];
    q.extend(stmt.repeat(n).as_bytes());
    common::write_packet(&mut s, 0, &q);
    // A few round trips of another client: the loop has read and started the
    // list by then (it serves every ready socket each turn).
    for _ in 0..3 {
        others_unaffected(server.port);
    }
    let grown = server.rss().saturating_sub(before);
    assert!(
        grown < 16 << 20,
        "server memory grew by {grown} bytes for a client that does not read"
    );
    // Now read it all: n resultsets of 73 packets each (DEPRECATE_EOF).
    let mut answers = 0;
    while answers < n {
        let a = common::read_answer_one(&mut s);
        assert_eq!(a.len(), 73, "answer {answers}");
        answers += 1;
    }
    let a = common::query(&mut s, "SELECT 1");
    assert_eq!(a.len(), 4, "the connection goes on");
}

/// Issue 8, case 3, the same through a Lua script that leaves the list to the
/// built-in answers: the pause and resume pass through the script's responder.
#[test]
fn r8_statement_list_through_a_script_pauses_too() {
    let mut cfg = common::config();
    cfg.lua_script = Some(repo("examples/delay.lua"));
    cfg.write_high_water = 16 * 1024;
    let server = common::start(cfg);
    let mut s = common::login(&server, "u", "p");
    let n = 300;
    let q = vec!["SHOW DATABASES"; n].join(";");
    let mut p = vec![3u8];
    p.extend(q.as_bytes());
    common::write_packet(&mut s, 0, &p);
    for i in 0..n {
        let a = common::read_answer_one(&mut s);
        assert_eq!(a.len(), 73, "answer {i}");
    }
    assert_eq!(common::query(&mut s, "SELECT 1").len(), 4);
}

/// Issue 8, case 4: `examples/delay.lua` with a delay near i64::MAX seconds
/// used to panic the loop thread on `Instant + Duration` overflow, after
/// which every client was refused. Now every delay is capped (a day): that
/// client waits, everybody else goes on.
#[test]
fn r8_absurd_script_delay_does_not_stop_the_server() {
    let mut cfg = common::config();
    cfg.lua_script = Some(repo("examples/delay.lua"));
    let server = common::start(cfg);
    let mut s = common::login(&server, "u", "p");
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut q = vec![3u8];
    q.extend_from_slice(b"SELECT SLEEP(9223372036854774784)");
    common::write_packet(&mut s, 0, &q);
    let mut b = [0u8; 1];
    assert!(s.read(&mut b).is_err(), "held back, not answered at once");
    // float seconds beyond Duration's range, too
    let mut s2 = common::login(&server, "u", "p");
    s2.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut q = vec![3u8];
    q.extend_from_slice(format!("SELECT SLEEP({})", "9".repeat(400)).as_bytes());
    common::write_packet(&mut s2, 0, &q);
    assert!(s2.read(&mut b).is_err());
    // the loop lives: new clients log in and are answered
    let mut c = Conn::new(common::opts(&server, "u", "p", None)).unwrap();
    let v: Option<u64> = c.query_first("SELECT SLEEP(0.01)").unwrap();
    assert_eq!(v, Some(0));
    others_unaffected(server.addr().port());
}

/// Issue 8, case 6: before login, a header declaring a 16 MiB packet (the
/// first part of a 64 MiB one) is refused with ERR 1153 as soon as it
/// arrives; the old server waited for the payload until the handshake timeout.
#[test]
fn r8_prelogin_packet_over_the_limit_is_refused_at_its_header() {
    let server = common::start(common::config());
    for len in [0xff_ffffu32, 64 * 1024 + 1] {
        let mut s = common::raw(&server);
        let _ = common::read_packet(&mut s).unwrap();
        let h = len.to_le_bytes();
        s.write_all(&[h[0], h[1], h[2], 1]).unwrap();
        let (_, p) = common::read_packet(&mut s).expect("an ERR at once");
        let e = decode_err(&p).expect("ERR");
        assert_eq!(e.code, 1153, "{}", String::from_utf8_lossy(e.message));
        assert!(common::read_packet(&mut s).is_none(), "then closed");
    }
    // a real client's login with generous connection attributes still works
    let mut s = common::raw(&server);
    let (_, greeting) = common::read_packet(&mut s).unwrap();
    let g = understudy::protocol::handshake::HandshakeV10::decode(&greeting).unwrap();
    let resp = understudy::protocol::handshake::HandshakeResponse41 {
        capabilities: common::CLIENT_CAPS | understudy::protocol::consts::cap::CONNECT_ATTRS,
        max_packet: 1 << 24,
        charset: 45,
        username: b"u".to_vec(),
        auth_response: understudy::protocol::auth::native_scramble(b"p", &g.nonce),
        database: None,
        auth_plugin: Some(b"mysql_native_password".to_vec()),
        attributes: (0..100)
            .map(|i| (format!("key{i}").into_bytes(), vec![b'v'; 300]))
            .collect(),
        zstd_level: None,
    };
    let mut p = Vec::new();
    resp.encode(&mut p);
    assert!(p.len() > 30_000);
    common::write_packet(&mut s, 1, &p);
    let (_, ok) = common::read_packet(&mut s).unwrap();
    assert_eq!(ok[0], 0, "login OK");
    others_unaffected(server.addr().port());
}

/// A responder with a bug: it panics on `SELECT boom` and on a greeting for
/// a client named in `boom_greeting`; everything else goes to the built-in answers.
struct Panicky(Builtin);

impl Responder for Panicky {
    fn answer(&mut self, s: &mut Session, req: &Request<'_>) -> Answer {
        if req.payload.ends_with(b"SELECT boom") {
            panic!("a bug in a responder");
        }
        self.0.answer(s, req)
    }
}

/// A panic while answering one command closes that connection with ERR 1105
/// and is logged with its id; every other connection goes on, and new ones
/// are served.
#[test]
fn r8_a_panicking_responder_costs_only_its_connection() {
    let config = common::config();
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let stats = Arc::new(Stats::default());
        let builtin = Builtin::new(understudy::server_facts(&config, 0), stats.clone());
        let lp =
            understudy::server::EventLoop::bind(config, Box::new(Panicky(builtin)), stats).unwrap();
        tx.send((lp.local_addr(), lp.control())).unwrap();
        lp.run()
    });
    let (addr, control) = rx.recv().unwrap();
    let port = addr.port();
    let mut bystander = login_port(port);
    let mut victim = login_port(port);
    let mut q = vec![3u8];
    q.extend_from_slice(b"SELECT boom");
    common::write_packet(&mut victim, 0, &q);
    let (seq, p) = common::read_packet(&mut victim).expect("an ERR");
    assert_eq!(seq, 1);
    let e = decode_err(&p).expect("ERR");
    assert_eq!(e.code, 1105);
    assert!(common::read_packet(&mut victim).is_none(), "then closed");
    assert_eq!(common::query(&mut bystander, "SELECT 1").len(), 4);
    others_unaffected(port);
    control.shutdown();
    thread.join().unwrap().unwrap();
}

/// Issue 8, case 8: after COM_CHANGE_USER a script sees the new user in
/// `proxy.connection.client.username` (the server's path used to set the
/// user without telling the responders that mirror it).
#[test]
fn r8_change_user_is_seen_by_a_script() {
    let dir = std::env::temp_dir().join(format!("understudy-r8-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("whoami.lua");
    std::fs::write(
        &script,
        r#"
function read_query(packet)
    if packet:sub(2) ~= "SELECT whoami" then return end
    proxy.response = {
        type = proxy.MYSQLD_PACKET_OK,
        resultset = { fields = { { name = "user", type = proxy.MYSQL_TYPE_STRING } },
                      rows = { { proxy.connection.client.username } } },
    }
    return proxy.PROXY_SEND_RESULT
end
"#,
    )
    .unwrap();
    let mut cfg = common::config();
    cfg.lua_script = Some(script);
    let server = common::start(cfg);
    let mut c = Conn::new(common::opts(&server, "alice", "p", None)).unwrap();
    let who: Option<String> = c.query_first("SELECT whoami").unwrap();
    assert_eq!(who.as_deref(), Some("alice"));
    c.change_user(
        mysql::ChangeUserOpts::default()
            .with_user(Some("bob".into()))
            .with_pass(Some("p".into())),
    )
    .unwrap();
    let who: Option<String> = c.query_first("SELECT whoami").unwrap();
    assert_eq!(who.as_deref(), Some("bob"));
    let _ = std::fs::remove_dir_all(dir);
}

/// Issue 8, case 8: with `--port 0`, `SELECT @@port` answers the port the
/// kernel chose (it answered 0).
#[test]
fn r8_port_zero_reports_the_bound_port() {
    let server = common::start(common::config());
    let mut c = Conn::new(common::opts(&server, "u", "p", None)).unwrap();
    let port: Option<u16> = c.query_first("SELECT @@port").unwrap();
    assert_eq!(port, Some(server.addr().port()));
    assert_ne!(server.addr().port(), 0);
}

/// A script's resultset of any size pauses at the high-water mark and
/// arrives whole; raw packets, which cannot pause, are bounded by the
/// per-command budget (`max_answer`): past it the client gets a clear ERR
/// and the connection goes on.
#[test]
fn r8_script_answer_over_the_budget_is_an_error() {
    let dir = std::env::temp_dir().join(format!("understudy-r8b-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("huge.lua");
    std::fs::write(
        &script,
        r#"
local big = string.rep("x", 64 * 1024)
function read_query(packet)
    local q = packet:sub(2)
    if q == "SELECT huge" then
        local packets = { "\001", "\003def\000\000\000\001a\000\012\045\000\000\000\000\000\253\000\000\000\000\000" }
        for i = 1, 128 do packets[#packets + 1] = "\252\000\000" .. big end
        proxy.response = { type = proxy.MYSQLD_PACKET_RAW, packets = packets }
        return proxy.PROXY_SEND_RESULT
    end
    if q ~= "SELECT big" then return end
    local rows = {}
    for i = 1, 64 do rows[i] = { big, big } end
    proxy.response = {
        type = proxy.MYSQLD_PACKET_OK,
        resultset = { fields = { { name = "a" }, { name = "b" } }, rows = rows },
    }
    return proxy.PROXY_SEND_RESULT
end
"#,
    )
    .unwrap();
    let mut cfg: Config = common::config();
    cfg.lua_script = Some(script);
    cfg.max_answer = 1 << 20; // the answers are 8 MiB
    let server = common::start(cfg);
    let mut s = common::login(&server, "u", "p");
    let a = common::query(&mut s, "SELECT huge");
    assert_eq!(a.len(), 1, "one ERR, no partial answer");
    let e = decode_err(&a[0]).expect("ERR");
    assert_eq!(e.code, 1105);
    assert!(
        String::from_utf8_lossy(e.message).contains("per-command limit"),
        "{}",
        String::from_utf8_lossy(e.message)
    );
    let a = common::query(&mut s, "SELECT big");
    assert_eq!(a.len(), 1 + 2 + 64 + 1, "the whole resultset");
    assert_eq!(common::query(&mut s, "SELECT 1").len(), 4);
    let _ = std::fs::remove_dir_all(dir);
}
