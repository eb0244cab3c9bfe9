//! A rule's faults (examples/rules/04-faults.json): what the client sees is
//! what it would see from a real server failing that way, checked through
//! the Rust `mysql` crate (the error a driver reports) and raw sockets (the
//! bytes), and nothing else is disturbed.

mod common;

use mysql::prelude::Queryable;
use mysql::Conn;
use std::io::{ErrorKind, Read};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn server() -> understudy::ServerHandle {
    let mut cfg = common::config();
    cfg.rules =
        vec![PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/rules/04-faults.json")];
    common::start(cfg)
}

fn send_query(s: &mut TcpStream, sql: &str) {
    let mut p = vec![3u8];
    p.extend_from_slice(sql.as_bytes());
    common::write_packet(s, 0, &p);
}

/// Reads until the peer closes: the bytes, and how it ended.
fn read_to_end(s: &mut TcpStream) -> (Vec<u8>, Option<ErrorKind>) {
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (all, None),
            Ok(n) => all.extend_from_slice(&buf[..n]),
            Err(e) => return (all, Some(e.kind())),
        }
    }
}

/// The server still answers everybody else.
fn others_unaffected(server: &understudy::ServerHandle) {
    let mut c = Conn::new(common::opts(server, "u", "p", None)).unwrap();
    let v: Option<i64> = c.query_first("SELECT 1").unwrap();
    assert_eq!(v, Some(1));
}

#[test]
fn close_before_and_after() {
    let server = server();
    let mut s = common::login(&server, "u", "p");
    send_query(&mut s, "SELECT 'close_before'");
    assert_eq!(
        read_to_end(&mut s),
        (Vec::new(), None),
        "closed with no answer"
    );
    // a driver reports the lost connection
    let mut c = Conn::new(common::opts(&server, "u", "p", None)).unwrap();
    let e = c.query_drop("SELECT 'close_before'").unwrap_err();
    assert!(!matches!(e, mysql::Error::MySqlError(_)), "{e:?}");
    // close_after: the whole answer, then the close
    let mut s = common::login(&server, "u", "p");
    send_query(&mut s, "SELECT 'close_after'");
    let answer = common::read_answer(&mut s);
    assert_eq!(answer.len(), 4, "count, definition, row, end");
    assert_eq!(answer[2], b"\x011");
    assert_eq!(read_to_end(&mut s), (Vec::new(), None));
    others_unaffected(&server);
}

#[test]
fn reset_sends_an_rst() {
    let server = server();
    let mut s = common::login(&server, "u", "p");
    send_query(&mut s, "SELECT 'reset'");
    let (bytes, end) = read_to_end(&mut s);
    assert!(bytes.is_empty());
    assert_eq!(end, Some(ErrorKind::ConnectionReset));
    others_unaffected(&server);
}

#[test]
fn stall_never_answers_and_keeps_the_socket() {
    let server = server();
    let mut s = common::login(&server, "u", "p");
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    send_query(&mut s, "SELECT 'stall'");
    let mut b = [0u8; 16];
    let e = s.read(&mut b).unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{e:?}"
    );
    // more input is read and dropped: still no answer, still open
    send_query(&mut s, "SELECT 1");
    let e = s.read(&mut b).unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{e:?}"
    );
    others_unaffected(&server);
    // a driver with a read timeout gives up
    let opts = mysql::OptsBuilder::from_opts(common::opts(&server, "u", "p", None))
        .read_timeout(Some(Duration::from_millis(300)));
    let mut c = Conn::new(opts).unwrap();
    assert!(c.query_drop("SELECT 'stall'").is_err());
}

#[test]
fn malformed_has_a_wrong_sequence_id() {
    let server = server();
    let mut s = common::login(&server, "u", "p");
    send_query(&mut s, "SELECT 'malformed'");
    let (seq, first) = common::read_packet(&mut s).unwrap();
    assert_eq!((seq, first), (2, vec![1]), "sequence id 2 where 1 is due");
    let mut c = Conn::new(common::opts(&server, "u", "p", None)).unwrap();
    let e = c.query_drop("SELECT 'malformed'").unwrap_err();
    assert!(format!("{e:?}").contains("out of sync"), "{e:?}");
    others_unaffected(&server);
}

#[test]
fn close_or_error_after_rows() {
    let server = server();
    let mut s = common::login(&server, "u", "p");
    send_query(&mut s, "SELECT * FROM orders_cut");
    let (bytes, end) = read_to_end(&mut s);
    assert_eq!(end, None);
    // count, definition, two rows, then nothing: closed mid-resultset
    let mut p = &bytes[..];
    let mut packets = Vec::new();
    while p.len() >= 4 {
        let n = usize::from(p[0]) | usize::from(p[1]) << 8 | usize::from(p[2]) << 16;
        packets.push(p[4..4 + n].to_vec());
        p = &p[4 + n..];
    }
    assert_eq!(packets.len(), 4, "{packets:?}");
    assert_eq!(packets[2], b"\x011");
    assert_eq!(packets[3], b"\x012");
    let mut c = Conn::new(common::opts(&server, "u", "p", None)).unwrap();
    let rows: Result<Vec<i64>, _> = c.query("SELECT * FROM orders_cut");
    assert!(rows.is_err());
    // error_after_rows: two rows, then the ERR a killed query ends with
    let mut s = common::login(&server, "u", "p");
    send_query(&mut s, "SELECT * FROM orders_killed");
    let a = common::read_answer_one(&mut s);
    assert_eq!(a.len(), 5, "count, definition, 2 rows, ERR");
    let e = understudy::protocol::response::decode_err(&a[4]).unwrap();
    assert_eq!(e.code, 1317);
    let mut c = Conn::new(common::opts(&server, "u", "p", None)).unwrap();
    match c.query::<i64, _>("SELECT * FROM orders_killed") {
        Err(mysql::Error::MySqlError(e)) => assert_eq!((e.code, e.state.as_str()), (1317, "70100")),
        other => panic!("{other:?}"),
    }
    // and the connection goes on, as after a killed query
    let v: Option<i64> = c.query_first("SELECT 1").unwrap();
    assert_eq!(v, Some(1));
}

#[test]
fn drip_trickles_the_answer_out() {
    let server = server();
    let mut s = common::login(&server, "u", "p");
    let t = Instant::now();
    send_query(&mut s, "SELECT 'drip'");
    let a = common::read_answer(&mut s);
    // about 60 bytes, 8 at a time, one piece every 20 ms: at least 7 gaps
    assert!(
        t.elapsed() >= Duration::from_millis(7 * 20),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(a.len(), 4);
    assert_eq!(a[2], b"\x04drip");
    // the connection goes on normally
    let a = common::query(&mut s, "SELECT 1");
    assert_eq!(a[2], b"\x011");
    let mut c = Conn::new(common::opts(&server, "u", "p", None)).unwrap();
    let v: Option<String> = c.query_first("SELECT 'drip'").unwrap();
    assert_eq!(v.as_deref(), Some("drip"));
}

/// Faults on prepared statements: the execution fails as the text query does.
#[test]
fn faults_on_prepared_executions() {
    let server = server();
    let mut c = Conn::new(common::opts(&server, "u", "p", None)).unwrap();
    match c.exec::<i64, _, _>("SELECT * FROM orders_killed", ()) {
        Err(mysql::Error::MySqlError(e)) => assert_eq!(e.code, 1317),
        other => panic!("{other:?}"),
    }
    let mut c = Conn::new(common::opts(&server, "u", "p", None)).unwrap();
    assert!(c.exec_drop("SELECT 'close_before'", ()).is_err());
    others_unaffected(&server);
}

/// A dripping answer larger than the write high-water mark: it pauses and
/// resumes, and every piece drips; the client gets it whole and in order.
#[test]
fn a_large_answer_drips_whole() {
    let rows: Vec<String> = (0..300).map(|i| format!("[{i}, \"row {i}\"]")).collect();
    let rule = format!(
        r#"{{"match": {{"sql": "SELECT * FROM dripping"}}, "fault": {{"drip": {{"bytes": 700, "every_ms": 1}}}},
            "result": {{"columns": [{{"name": "id", "type": "INT"}}, {{"name": "name", "type": "VARCHAR(16)"}}], "rows": [{}]}}}}"#,
        rows.join(",")
    );
    let mut cfg = common::config();
    cfg.write_high_water = 1024;
    let server = understudy::Builder::new(cfg).rule(rule).start().unwrap();
    let mut c = Conn::new(common::opts(&server, "u", "p", None)).unwrap();
    for _ in 0..2 {
        let got: Vec<(i64, String)> = c.query("SELECT * FROM dripping").unwrap();
        assert_eq!(got.len(), 300);
        assert!(got
            .iter()
            .enumerate()
            .all(|(i, (id, name))| *id == i as i64 && *name == format!("row {i}")));
        let got: Vec<(i64, String)> = c.exec("SELECT * FROM dripping", ()).unwrap();
        assert_eq!(got.len(), 300);
    }
}
