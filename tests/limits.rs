//! Bad input and hostile clients: each must get a clear error (or be closed)
//! without taking the server down or disturbing other connections.

mod common;

use mysql::prelude::Queryable;
use mysql::Conn;
use std::io::{ErrorKind, Read, Write};
use std::time::{Duration, Instant};
use understudy::protocol::response::decode_err;

/// Another client still gets full answers.
fn others_unaffected(server: &understudy::ServerHandle) {
    let mut c = Conn::new(common::opts(server, "u", "p", None)).expect("another client logs in");
    let dbs: Vec<String> = c.query("SHOW DATABASES").unwrap();
    assert_eq!(dbs.len(), 70);
}

fn expect_err_then_close(s: &mut std::net::TcpStream, code: u16) {
    let (_, p) = common::read_packet(s).expect("an ERR packet");
    let e = decode_err(&p).unwrap_or_else(|_| panic!("ERR expected, got {p:?}"));
    assert_eq!(e.code, code, "{}", String::from_utf8_lossy(e.message));
    assert!(
        common::read_packet(s).is_none(),
        "connection closed after the error"
    );
}

#[test]
fn garbage_instead_of_a_handshake_response() {
    let server = common::start(common::config());
    let mut s = common::raw(&server);
    let _ = common::read_packet(&mut s).unwrap();
    common::write_packet(&mut s, 1, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    expect_err_then_close(&mut s, 1043);
    others_unaffected(&server);
}

#[test]
fn http_request_bytes_as_a_packet_header() {
    // Raw non-MySQL bytes: the header decodes as a 5 MB packet at sequence 'T'.
    let server = common::start(common::config());
    let mut s = common::raw(&server);
    let _ = common::read_packet(&mut s).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    expect_err_then_close(&mut s, 1156);
    others_unaffected(&server);
}

#[test]
fn truncated_packet_then_close() {
    let server = common::start(common::config());
    let mut s = common::login(&server, "u", "p");
    s.write_all(&[100, 0, 0, 0, 3, b'S', b'E']).unwrap(); // promises 100 bytes, sends 3
    drop(s);
    others_unaffected(&server);
    let mut s = common::raw(&server);
    s.write_all(&[50, 0]).unwrap(); // half a header during the handshake
    drop(s);
    others_unaffected(&server);
}

#[test]
fn wrong_sequence_id() {
    let server = common::start(common::config());
    let mut s = common::login(&server, "u", "p");
    common::write_packet(&mut s, 5, b"\x03SELECT 1");
    expect_err_then_close(&mut s, 1156);
    // in the handshake too
    let mut s = common::raw(&server);
    let _ = common::read_packet(&mut s).unwrap();
    common::write_packet(&mut s, 0, b"whatever");
    expect_err_then_close(&mut s, 1156);
    others_unaffected(&server);
}

#[test]
fn zero_length_packet() {
    let server = common::start(common::config());
    let mut s = common::login(&server, "u", "p");
    common::write_packet(&mut s, 0, b"");
    expect_err_then_close(&mut s, 1835);
    others_unaffected(&server);
}

#[test]
fn packet_over_max_packet() {
    let mut cfg = common::config();
    cfg.max_packet = 64 * 1024;
    let server = common::start(cfg);
    let mut s = common::login(&server, "u", "p");
    // Only the header is needed for the server to refuse it.
    s.write_all(&[0, 0, 2, 0, 3]).unwrap();
    expect_err_then_close(&mut s, 1153);
    // a packet just under the limit is fine
    let mut s = common::login(&server, "u", "p");
    let q = format!("SELECT '{}'", "x".repeat(60 * 1024));
    let a = common::query(&mut s, &q);
    assert_ne!(a[0][0], 0xff);
    others_unaffected(&server);
}

#[test]
fn silent_client_is_closed_after_the_handshake_timeout() {
    let mut cfg = common::config();
    cfg.handshake_timeout = Duration::from_millis(300);
    let server = common::start(cfg);
    let mut silent = common::raw(&server);
    let t0 = Instant::now();
    let _ = common::read_packet(&mut silent).unwrap(); // greeting, then say nothing
    others_unaffected(&server); // meanwhile, another client works
    let mut buf = [0u8; 16];
    let n = silent.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "closed without further bytes");
    assert!(t0.elapsed() >= Duration::from_millis(250));
    assert!(server.stats().handshakes_failed.get() >= 1);
}

#[test]
fn logged_in_client_survives_the_handshake_timeout_but_not_the_idle_timeout() {
    let mut cfg = common::config();
    cfg.handshake_timeout = Duration::from_millis(100);
    cfg.idle_timeout = Some(Duration::from_millis(400));
    let server = common::start(cfg);
    let mut s = common::login(&server, "u", "p");
    std::thread::sleep(Duration::from_millis(200));
    let a = common::query(&mut s, "SELECT 1");
    assert_ne!(a[0][0], 0xff, "still alive after the handshake timeout");
    let (_, p) = common::read_packet(&mut s).expect("idle timeout error");
    assert_eq!(decode_err(&p).unwrap().code, 4031);
    assert!(common::read_packet(&mut s).is_none());
}

#[test]
fn pipelined_and_byte_by_byte_commands() {
    let server = common::start(common::config());
    let mut s = common::login(&server, "u", "p");
    // three commands in one write
    let mut out = Vec::new();
    for q in ["SELECT 1", "SHOW DATABASES", "SELECT 2"] {
        let mut seq = 0;
        let mut p = vec![3];
        p.extend_from_slice(q.as_bytes());
        understudy::protocol::packet::write_packet(&mut out, &mut seq, &p);
    }
    s.write_all(&out).unwrap();
    let a = common::read_answer(&mut s);
    assert_eq!(a.len(), 4); // count, column, row, end
    let b = common::read_answer(&mut s);
    assert_eq!(b.len(), 73);
    let c = common::read_answer(&mut s);
    assert_eq!(&c[2][..], b"\x012");
    // one command a byte at a time
    let mut seq = 0;
    let mut one = Vec::new();
    understudy::protocol::packet::write_packet(&mut one, &mut seq, b"\x03SELECT 3");
    for b in one {
        s.write_all(&[b]).unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    let d = common::read_answer(&mut s);
    assert_eq!(&d[2][..], b"\x013");
}

#[test]
fn payloads_over_16_mib_both_ways() {
    let server = common::start(common::config());
    let mut s = common::login(&server, "u", "p");
    let big = "y".repeat(17 << 20);
    let q = format!("SELECT '{big}' AS big");
    let a = common::query(&mut s, &q);
    // count, column def, row, end; the row is > 16 MiB and was split by the server
    assert_eq!(a.len(), 4);
    let row = &a[2];
    assert_eq!(row.len(), 17 * (1 << 20) + 9); // lenenc: fe + 8 bytes
    assert!(row[9..].iter().all(|&b| b == b'y'));
    let mut c = Conn::new(common::opts(&server, "u", "p", None)).unwrap();
    let v: Option<String> = c
        .query_first(format!("SELECT '{}'", "z".repeat(16 << 20)))
        .unwrap();
    assert_eq!(v.map(|v| v.len()), Some(16 << 20));
}

#[test]
fn client_vanishes_mid_resultset() {
    let server = common::start(common::config());
    for _ in 0..5 {
        let mut s = common::login(&server, "u", "p");
        let q = format!("SELECT '{}'", "v".repeat(8 << 20));
        let mut p = vec![3];
        p.extend_from_slice(q.as_bytes());
        common::write_packet(&mut s, 0, &p);
        let mut first = [0u8; 100];
        s.read_exact(&mut first).unwrap(); // the answer has started
        drop(s); // and the client is gone
    }
    others_unaffected(&server);
}

/// A client that sends queries but never reads the answers: the server stops
/// reading from it once its pending output passes the high-water mark, so the
/// client's writes block instead of the server's memory growing; once the
/// client reads, every answer arrives, nothing lost.
#[test]
fn client_that_never_reads_its_results() {
    let mut cfg = common::config();
    cfg.write_high_water = 64 * 1024;
    let server = common::start(cfg);
    let mut s = common::login(&server, "u", "p");
    s.set_write_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut one = Vec::new();
    let mut seq = 0;
    understudy::protocol::packet::write_packet(&mut one, &mut seq, b"\x03SHOW DATABASES");
    let batch: Vec<u8> = one.iter().copied().cycle().take(one.len() * 1000).collect();
    let mut sent = 0usize;
    let limit = 64 << 20; // 64 MiB of queries = 4.5 GiB of answers if buffered
    loop {
        // a write cut short by the timeout is resumed where it stopped, so the
        // stream stays a sequence of whole queries
        match s.write(&batch[sent % batch.len()..]) {
            Ok(n) => sent += n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
            Err(e) => panic!("{e}"),
        }
        assert!(
            sent < limit,
            "server kept reading {sent} bytes without the client reading"
        );
    }
    others_unaffected(&server);
    // Now read everything: one full answer per whole query sent. Every answer
    // is the same bytes, so read the first one packet by packet and the rest in bulk.
    let mut queries = sent / one.len();
    s.set_write_timeout(None).unwrap();
    let partial = sent % one.len();
    let writer = (partial != 0).then(|| {
        // finish the partial last query so the stream stays well formed
        queries += 1;
        let rest = one[partial..].to_vec();
        let mut w = s.try_clone().unwrap();
        std::thread::spawn(move || w.write_all(&rest).unwrap())
    });
    let first = common::read_answer(&mut s);
    assert_eq!(first.len(), 73);
    let mut framed = Vec::new();
    let mut seq = 1;
    for p in &first {
        understudy::protocol::packet::write_packet(&mut framed, &mut seq, p);
    }
    let mut rest = vec![0u8; framed.len() * (queries - 1)];
    s.read_exact(&mut rest).unwrap();
    assert!(
        rest.chunks(framed.len()).all(|c| c == framed.as_slice()),
        "answers intact and in order"
    );
    if let Some(t) = writer {
        t.join().unwrap();
    }
    let a = common::query(&mut s, "SELECT 1");
    assert_eq!(a.len(), 4);
}

#[test]
fn com_quit_gets_no_reply() {
    let server = common::start(common::config());
    let mut s = common::login(&server, "u", "p");
    common::write_packet(&mut s, 0, &[0x01]);
    let mut buf = [0u8; 8];
    assert_eq!(s.read(&mut buf).unwrap_or(0), 0);
}

#[test]
fn stop_is_graceful() {
    let server = common::start(common::config());
    let mut c = Conn::new(common::opts(&server, "u", "p", None)).unwrap();
    c.ping().unwrap();
    server.stop().unwrap();
    assert!(
        c.ping().is_err(),
        "server closed the connection on shutdown"
    );
}

#[test]
fn an_active_client_is_not_idle_closed() {
    let mut cfg = common::config();
    cfg.idle_timeout = Some(Duration::from_millis(1000));
    let server = common::start(cfg);
    let mut s = common::login(&server, "u", "p");
    // a query every 100 ms for 2.5 s, well past the 1 s idle timeout
    for _ in 0..25 {
        let a = common::query(&mut s, "SELECT 1");
        assert_eq!(a.len(), 4, "still answered");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (_, p) = common::read_packet(&mut s).expect("idle timeout error once silent");
    assert_eq!(decode_err(&p).unwrap().code, 4031);
}
