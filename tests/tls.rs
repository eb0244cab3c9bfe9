//! TLS (issue 11): the Rust `mysql` crate (rustls) logs in over TLS, with
//! each of the login paths (no users, mysql_native_password, caching_sha2's
//! fast path and its full authentication with the password in clear over
//! TLS), reads the seed's answers and a long answer; `--require-secure-transport`
//! refuses plain logins; garbage after an SSLRequest and a TLS client that
//! stops halfway close only their own connection.

mod common;

use mysql::prelude::Queryable;
use mysql::{Conn, Opts, OptsBuilder, SslOpts};
use std::io::{Read, Write};
use std::time::Duration;
use understudy::config::User;
use understudy::protocol::consts::{cap, plugin};

fn tls_server(extra: impl FnOnce(&mut understudy::Config)) -> understudy::ServerHandle {
    let mut cfg = common::config(); // TLS is on by default
    extra(&mut cfg);
    common::start(cfg)
}

/// The server's certificate is self-signed (made at start): not verified here.
fn tls(opts: Opts) -> Opts {
    OptsBuilder::from_opts(opts)
        .ssl_opts(Some(
            SslOpts::default().with_danger_accept_invalid_certs(true),
        ))
        .into()
}

fn status(c: &mut Conn, name: &str) -> String {
    let row: Option<(String, String)> =
        c.query_first(format!("SHOW STATUS LIKE '{name}'")).unwrap();
    row.map(|r| r.1).unwrap_or_default()
}

#[test]
fn the_seed_answers_over_tls() {
    let s = tls_server(|_| {});
    let mut c = Conn::new(tls(common::opts(&s, "any", "", None))).unwrap();
    let dbs: Vec<String> = c.query("SHOW DATABASES").unwrap();
    assert_eq!(dbs.len(), 70);
    assert_eq!(dbs[69], "db_70");
    let cipher = status(&mut c, "Ssl_cipher");
    assert!(cipher.starts_with("TLS_"), "cipher {cipher:?}");
    assert!(status(&mut c, "Ssl_version").starts_with("TLSv1."));
    let have: Option<String> = c.query_first("SELECT @@have_ssl").unwrap();
    assert_eq!(have.as_deref(), Some("YES"));
    // prepared statements over TLS too
    let v: Option<i64> = c.exec_first("SELECT ?", (41 + 1,)).unwrap();
    assert_eq!(v, Some(42));
    // a plain client of the same server: no cipher
    let mut p = Conn::new(common::opts(&s, "any", "", None)).unwrap();
    assert_eq!(status(&mut p, "Ssl_cipher"), "");
}

#[test]
fn each_login_path_over_tls() {
    for (plugin, cold) in [
        (plugin::NATIVE, false),
        (plugin::CACHING_SHA2, false),
        (plugin::CACHING_SHA2, true),
    ] {
        let s = tls_server(|c| {
            c.users = vec![User {
                name: "u".into(),
                password: "s3cret".into(),
            }];
            c.auth_plugin = plugin;
            c.auth_cache_cold = cold;
        });
        let mut c = Conn::new(tls(common::opts(&s, "u", "s3cret", None)))
            .unwrap_or_else(|e| panic!("{plugin} cold={cold}: {e}"));
        assert!(status(&mut c, "Ssl_cipher").starts_with("TLS_"));
        let n: Vec<String> = c.query("SHOW DATABASES").unwrap();
        assert_eq!(n.len(), 70);
        // a wrong password: refused, over TLS as without
        let e = Conn::new(tls(common::opts(&s, "u", "wrong", None))).unwrap_err();
        assert_eq!(common::code(e), 1045, "{plugin} cold={cold}");
    }
}

#[test]
fn a_long_answer_over_tls() {
    // 200,000 rows (about 5 MiB) sealed in records of 16 KiB, the answer
    // paused at a small high-water mark and resumed as the client reads
    let rule = common::big_rule();
    let mut cfg = common::config();
    cfg.ssl = true;
    cfg.write_high_water = 64 << 10;
    let s = understudy::Builder::new(cfg).rule(rule).start().unwrap();
    let mut c = Conn::new(tls(common::opts(&s, "any", "", None))).unwrap();
    let got: Vec<(i64, String)> = c.query("SELECT * FROM big").unwrap();
    assert_eq!(got.len(), 200_000);
    assert_eq!(got.iter().map(|r| r.0).sum::<i64>(), 199_999 * 200_000 / 2);
    assert_eq!(got[123_456].1, "row-00123456");
    let dbs: Vec<String> = c.query("SHOW DATABASES").unwrap();
    assert_eq!(dbs.len(), 70);
}

#[test]
fn a_long_query_over_tls() {
    // 1 MiB in: more than rustls keeps of received plaintext (16 KiB) in
    // one read, decrypted into the packet buffer as it is fed
    let s = tls_server(|_| {});
    let mut c = Conn::new(tls(common::opts(&s, "any", "", None))).unwrap();
    let big: String = (0..(1 << 20))
        .map(|i| (b'a' + (i % 26) as u8) as char)
        .collect();
    let v: Option<String> = c.exec_first("SELECT ?", (big.as_str(),)).unwrap();
    assert_eq!(v.as_deref(), Some(big.as_str()));
    let q = format!("SELECT '{big}'");
    let v: Option<String> = c.query_first(q).unwrap();
    assert_eq!(v.as_deref(), Some(big.as_str()));
    let dbs: Vec<String> = c.query("SHOW DATABASES").unwrap();
    assert_eq!(dbs.len(), 70);
}

#[test]
fn require_secure_transport_refuses_plain_logins() {
    let s = tls_server(|c| c.require_secure_transport = true);
    let e = Conn::new(common::opts(&s, "any", "", None)).unwrap_err();
    assert_eq!(common::code(e), 3159);
    let mut c = Conn::new(tls(common::opts(&s, "any", "", None))).unwrap();
    let v: Option<i64> = c.query_first("SELECT @@require_secure_transport").unwrap();
    assert_eq!(v, Some(1));
}

/// The defaults: TLS offered with a certificate generated at start, as
/// MySQL 8's auto_generate_certs, and taken by a client that asks.
#[test]
fn tls_by_default_with_a_generated_certificate() {
    let s = common::start(common::config());
    assert!(offers_tls(&s), "CLIENT_SSL offered by default");
    let mut c = Conn::new(tls(common::opts(&s, "any", "", None))).unwrap();
    let v: Option<String> = c.query_first("SELECT @@have_ssl").unwrap();
    assert_eq!(v.as_deref(), Some("YES"));
    assert!(!status(&mut c, "Ssl_cipher").is_empty());
    // and a client that does not ask logs in plain
    let mut plain = Conn::new(common::opts(&s, "any", "", None)).unwrap();
    assert_eq!(status(&mut plain, "Ssl_cipher"), "");
}

/// Whether the server's greeting offers CLIENT_SSL.
fn offers_tls(s: &understudy::ServerHandle) -> bool {
    let mut raw = common::raw(s);
    let (_, greeting) = common::read_packet(&mut raw).unwrap();
    let g = understudy::protocol::handshake::HandshakeV10::decode(&greeting).unwrap();
    g.capabilities & cap::SSL != 0
}

#[test]
fn no_tls_under_no_ssl() {
    let s = common::start(common::no_ssl_config());
    assert!(!offers_tls(&s), "CLIENT_SSL offered under --no-ssl");
    let e = Conn::new(tls(common::opts(&s, "any", "", None))).unwrap_err();
    assert!(!matches!(e, mysql::Error::MySqlError(_)) || common::code(e) == 1043);
}

/// An SSLRequest, then what a TLS client would send next.
fn ssl_request(s: &understudy::ServerHandle) -> std::net::TcpStream {
    let mut raw = common::raw(s);
    let (_, greeting) = common::read_packet(&mut raw).unwrap();
    let g = understudy::protocol::handshake::HandshakeV10::decode(&greeting).unwrap();
    assert_ne!(g.capabilities & cap::SSL, 0);
    let mut p = Vec::new();
    p.extend_from_slice(&(cap::PROTOCOL_41 | cap::SSL | cap::SECURE_CONNECTION).to_le_bytes());
    p.extend_from_slice(&(16u32 << 20).to_le_bytes());
    p.push(255);
    p.extend_from_slice(&[0; 23]);
    common::write_packet(&mut raw, 1, &p);
    raw
}

#[test]
fn garbage_instead_of_a_client_hello_closes_that_connection_only() {
    let s = tls_server(|c| c.handshake_timeout = Duration::from_secs(2));
    let mut other = Conn::new(tls(common::opts(&s, "any", "", None))).unwrap();
    // garbage in the same write as the SSLRequest, and after it
    let mut raw = ssl_request(&s);
    raw.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut buf = [0u8; 256];
    let mut got = 0;
    loop {
        match raw.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) => panic!("the server kept a garbage TLS client open: {e}"),
        }
    }
    assert!(got < 256, "a TLS alert at most, got {got} bytes");
    // a client that stops halfway: the handshake timeout closes it
    let mut half = ssl_request(&s);
    half.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
        .unwrap();
    let t = std::time::Instant::now();
    let mut b = [0u8; 16];
    assert!(matches!(half.read(&mut b), Ok(0) | Err(_)));
    assert!(t.elapsed() < Duration::from_secs(15));
    // the other client never noticed
    let dbs: Vec<String> = other.query("SHOW DATABASES").unwrap();
    assert_eq!(dbs.len(), 70);
}

/// A ClientHello that declares 16 MiB and keeps coming, record after
/// record: the server holds at most a handshake message's worth of it
/// (64 KiB and a record) and closes the connection; others go on.
#[test]
fn an_endless_client_hello_is_refused_not_held() {
    let s = tls_server(|_| {});
    let mut other = Conn::new(tls(common::opts(&s, "any", "", None))).unwrap();
    let mut raw = ssl_request(&s);
    let mut first = true;
    let mut sent = 0usize;
    let mut closed = false;
    while sent < (4 << 20) {
        let mut body = vec![0x41u8; 16384];
        if first {
            body[..4].copy_from_slice(&[0x01, 0xff, 0xff, 0xff]); // ClientHello, 16 MiB
            first = false;
        }
        let mut rec = vec![0x16, 0x03, 0x01, 0x40, 0x00];
        rec.extend_from_slice(&body);
        if raw.write_all(&rec).is_err() {
            closed = true;
            break;
        }
        sent += rec.len();
    }
    if !closed {
        // everything was taken in (socket buffers): the close must follow
        let mut b = [0u8; 256];
        loop {
            match raw.read(&mut b) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    }
    assert!(sent < (4 << 20) || !closed, "sent {sent}");
    let dbs: Vec<String> = other.query("SHOW DATABASES").unwrap();
    assert_eq!(dbs.len(), 70);
}
