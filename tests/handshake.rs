//! Logins: accept-all, `--user` checks with both plugins, auth switch,
//! COM_CHANGE_USER, TLS requests, too many connections.

mod common;

use mysql::prelude::Queryable;
use mysql::Conn;
use understudy::config::User;
use understudy::protocol::auth;
use understudy::protocol::consts::cap;
use understudy::protocol::handshake::{decode_auth_switch, HandshakeResponse41, HandshakeV10};
use understudy::protocol::response::decode_err;

fn with_users(plugin: &'static str) -> understudy::Config {
    let mut c = common::config();
    c.users = vec![
        User {
            name: "alice".into(),
            password: "s3cret".into(),
        },
        User {
            name: "bob".into(),
            password: "".into(),
        },
    ];
    c.auth_plugin = plugin;
    c
}

use common::code;

#[test]
fn without_users_every_login_succeeds() {
    let server = common::start(common::config());
    for (u, p) in [("root", ""), ("x", "anything"), ("", "")] {
        let mut c = Conn::new(common::opts(&server, u, p, None)).unwrap();
        c.ping().unwrap();
    }
}

#[test]
fn user_checks_with_mysql_native_password() {
    let server = common::start(with_users("mysql_native_password"));
    let mut c = Conn::new(common::opts(&server, "alice", "s3cret", Some("db"))).unwrap();
    let u: Option<String> = c.query_first("SELECT CURRENT_USER()").unwrap();
    assert_eq!(u.as_deref(), Some("alice@%"));
    Conn::new(common::opts(&server, "bob", "", None)).unwrap();
    let e = Conn::new(common::opts(&server, "alice", "wrong", None)).unwrap_err();
    assert_eq!(code(e), 1045);
    let e = Conn::new(common::opts(&server, "mallory", "s3cret", None)).unwrap_err();
    assert_eq!(code(e), 1045);
}

#[test]
fn wrong_password_message_names_user_and_host() {
    let server = common::start(with_users("mysql_native_password"));
    match Conn::new(common::opts(&server, "alice", "nope", None)).unwrap_err() {
        mysql::Error::MySqlError(e) => {
            assert_eq!(e.code, 1045);
            assert_eq!(e.state, "28000");
            assert_eq!(
                e.message,
                "Access denied for user 'alice'@'127.0.0.1' (using password: YES)"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn user_checks_with_caching_sha2_password() {
    // The mysql crate proposes mysql_native_password unless the greeting names
    // caching_sha2; either way it must end in a verified login.
    let server = common::start(with_users("caching_sha2_password"));
    let mut c = Conn::new(common::opts(&server, "alice", "s3cret", None)).unwrap();
    c.ping().unwrap();
    let e = Conn::new(common::opts(&server, "alice", "bad", None)).unwrap_err();
    assert_eq!(code(e), 1045);
}

/// A client proposing mysql_native_password to a caching_sha2 server gets an
/// AuthSwitchRequest with the same nonce, answers it, and gets fast-auth + OK.
#[test]
fn auth_switch_round_trip_on_the_wire() {
    let server = common::start(with_users("caching_sha2_password"));
    let mut s = common::raw(&server);
    let (_, g) = common::read_packet(&mut s).unwrap();
    let g = HandshakeV10::decode(&g).unwrap();
    assert_eq!(g.auth_plugin, b"caching_sha2_password");
    let resp = HandshakeResponse41 {
        capabilities: common::CLIENT_CAPS,
        max_packet: 1 << 24,
        charset: 45,
        username: b"alice".to_vec(),
        auth_response: auth::native_scramble(b"s3cret", &g.nonce),
        database: None,
        auth_plugin: Some(b"mysql_native_password".to_vec()),
        attributes: vec![],
        zstd_level: None,
    };
    let mut p = Vec::new();
    resp.encode(&mut p);
    common::write_packet(&mut s, 1, &p);
    let (seq, sw) = common::read_packet(&mut s).unwrap();
    assert_eq!(seq, 2);
    let sw = decode_auth_switch(&sw).unwrap();
    assert_eq!(sw.plugin, b"caching_sha2_password");
    assert_eq!(&sw.data[..20], &g.nonce[..]);
    common::write_packet(&mut s, 3, &auth::caching_sha2_scramble(b"s3cret", &g.nonce));
    assert_eq!(
        common::read_packet(&mut s).unwrap(),
        (4, vec![1, 3]),
        "fast auth success"
    );
    let (seq, ok) = common::read_packet(&mut s).unwrap();
    assert_eq!((seq, ok[0]), (5, 0));
}

/// A public-key request where the server asked for no full authentication
/// (here: the answer to an auth switch) is a wrong password: ERR 1045, close.
/// (The full authentication itself: tests/full_auth.rs.)
#[test]
fn full_auth_request_out_of_place_is_refused() {
    let server = common::start(with_users("caching_sha2_password"));
    let mut s = common::raw(&server);
    let (_, g) = common::read_packet(&mut s).unwrap();
    let g = HandshakeV10::decode(&g).unwrap();
    let resp = HandshakeResponse41 {
        capabilities: common::CLIENT_CAPS,
        max_packet: 1 << 24,
        charset: 45,
        username: b"alice".to_vec(),
        auth_response: vec![1; 20],
        database: None,
        auth_plugin: Some(b"sha256_password".to_vec()),
        attributes: vec![],
        zstd_level: None,
    };
    let mut p = Vec::new();
    resp.encode(&mut p);
    common::write_packet(&mut s, 1, &p);
    let (_, sw) = common::read_packet(&mut s).unwrap();
    assert_eq!(sw[0], 0xfe);
    let _ = g;
    common::write_packet(&mut s, 3, &[2]);
    let (_, e) = common::read_packet(&mut s).unwrap();
    let e = decode_err(&e).unwrap();
    assert_eq!(e.code, 1045);
    assert!(String::from_utf8_lossy(e.message).contains("Access denied"));
    assert!(
        common::read_packet(&mut s).is_none(),
        "closed after the error"
    );
}

#[test]
fn change_user_reauthenticates() {
    let server = common::start(with_users("mysql_native_password"));
    let mut c = Conn::new(common::opts(&server, "alice", "s3cret", None)).unwrap();
    c.query_drop("SET @v = 1").unwrap();
    c.change_user(
        mysql::ChangeUserOpts::default()
            .with_user(Some("bob".into()))
            .with_pass(Some("".into()))
            .with_db_name(Some("shop".into())),
    )
    .unwrap();
    let (u, db, v): (String, String, Option<i64>) = c
        .query_first("SELECT CURRENT_USER(), DATABASE(), @v")
        .unwrap()
        .unwrap();
    assert_eq!((u.as_str(), db.as_str(), v), ("bob@%", "shop", None));
    let e = c
        .change_user(
            mysql::ChangeUserOpts::default()
                .with_user(Some("alice".into()))
                .with_pass(Some("bad".into())),
        )
        .unwrap_err();
    assert_eq!(code(e), 1045);
}

#[test]
fn ssl_request_gets_a_clear_error_under_no_ssl() {
    let server = common::start(common::no_ssl_config());
    let mut s = common::raw(&server);
    let _ = common::read_packet(&mut s).unwrap();
    let mut p = Vec::new();
    p.extend_from_slice(&(common::CLIENT_CAPS | cap::SSL).to_le_bytes());
    p.extend_from_slice(&(1u32 << 24).to_le_bytes());
    p.push(45);
    p.extend_from_slice(&[0; 23]);
    common::write_packet(&mut s, 1, &p);
    let (seq, e) = common::read_packet(&mut s).unwrap();
    assert_eq!(seq, 2);
    let e = decode_err(&e).unwrap();
    assert!(String::from_utf8_lossy(e.message).contains("TLS is not enabled"));
    assert!(common::read_packet(&mut s).is_none());
}

#[test]
fn greeting_has_fresh_nonce_and_connection_id() {
    let server = common::start(common::config());
    let mut a = common::raw(&server);
    let mut b = common::raw(&server);
    let ga = HandshakeV10::decode(&common::read_packet(&mut a).unwrap().1).unwrap();
    let gb = HandshakeV10::decode(&common::read_packet(&mut b).unwrap().1).unwrap();
    assert_ne!(ga.nonce, gb.nonce);
    assert_ne!(ga.connection_id, gb.connection_id);
    assert_eq!(ga.nonce.len(), 20);
    assert_eq!(ga.server_version, b"8.0.36-understudy");
    for c in [
        cap::PROTOCOL_41,
        cap::SECURE_CONNECTION,
        cap::PLUGIN_AUTH,
        cap::DEPRECATE_EOF,
        cap::CONNECT_ATTRS,
        cap::MULTI_STATEMENTS,
    ] {
        assert_ne!(ga.capabilities & c, 0, "capability {c:#x}");
    }
    // TLS is on by default, as in MySQL 8
    assert_ne!(ga.capabilities & cap::SSL, 0);
}

#[test]
fn too_many_connections_gets_err_1040() {
    let mut cfg = common::config();
    cfg.max_connections = 2;
    let server = common::start(cfg);
    let _a = common::login(&server, "u", "p");
    let _b = common::login(&server, "u", "p");
    let mut c = common::raw(&server);
    let (seq, e) = common::read_packet(&mut c).unwrap();
    assert_eq!(seq, 0);
    let e = decode_err(&e).unwrap();
    assert_eq!((e.code, e.message), (1040, &b"Too many connections"[..]));
    assert!(common::read_packet(&mut c).is_none());
    let e = Conn::new(common::opts(&server, "u", "p", None)).unwrap_err();
    assert_eq!(code(e), 1040);
    drop(_a);
    // a slot frees up once a client leaves
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match Conn::new(common::opts(&server, "u", "p", None)) {
            Ok(_) => break,
            Err(_) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn unix_socket_listener() {
    let dir = std::env::temp_dir().join(format!("understudy-sock-{}", std::process::id()));
    let path = dir.join("sub").join("mysqld.sock"); // the directory is created
    let mut cfg = common::config();
    cfg.socket = Some(path.clone());
    let server = common::start(cfg);
    let opts: mysql::Opts = mysql::OptsBuilder::new()
        .socket(Some(path.to_str().unwrap()))
        .user(Some("a"))
        .pass(Some("b"))
        .prefer_socket(true)
        .into();
    let mut c = Conn::new(opts).unwrap();
    let u: Option<String> = c.query_first("SELECT USER()").unwrap();
    assert_eq!(u.as_deref(), Some("a@localhost"));
    drop(c);
    server.stop().unwrap();
    assert!(!path.exists(), "socket file removed at shutdown");
}
