//! caching_sha2_password's full authentication (issue 11, the part without
//! TLS): `--auth-cache cold` makes every login take it; the client asks for
//! the RSA public key and sends its password encrypted (the Rust `mysql`
//! crate does, as libmysql does), or in clear over a Unix socket.

mod common;

use mysql::prelude::Queryable;
use mysql::Conn;
use understudy::config::User;
use understudy::protocol::consts::plugin;

fn server(extra: impl FnOnce(&mut understudy::Config)) -> understudy::ServerHandle {
    let mut cfg = common::config();
    cfg.users = vec![User {
        name: "u".into(),
        password: "s3cret".into(),
    }];
    cfg.auth_plugin = plugin::CACHING_SHA2;
    cfg.auth_cache_cold = true;
    extra(&mut cfg);
    common::start(cfg)
}

use common::code;

#[test]
fn full_authentication_through_the_rsa_key_exchange() {
    let s = server(|_| {});
    let mut c = Conn::new(common::opts(&s, "u", "s3cret", None)).unwrap();
    let v: Option<i64> = c.query_first("SELECT 1").unwrap();
    assert_eq!(v, Some(1));
    let pem: Option<String> = c
        .query_first("SELECT @@caching_sha2_password_public_key")
        .unwrap();
    assert!(pem.unwrap().starts_with("-----BEGIN PUBLIC KEY-----"));
    assert_eq!(
        code(Conn::new(common::opts(&s, "u", "wrong", None)).unwrap_err()),
        1045
    );
    assert_eq!(
        code(Conn::new(common::opts(&s, "nobody", "s3cret", None)).unwrap_err()),
        1045
    );
    // the warm cache still takes the fast path
    let warm = server(|c| c.auth_cache_cold = false);
    let mut c = Conn::new(common::opts(&warm, "u", "s3cret", None)).unwrap();
    c.query_drop("SELECT 1").unwrap();
}

#[test]
fn a_key_from_a_file_and_cleartext_over_a_unix_socket() {
    use aws_lc_rs::encoding::AsDer;
    use pkcs8::der::pem::{encode_string, LineEnding};
    let dir = std::env::temp_dir().join(format!("understudy-key-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // a PKCS#1 file (`BEGIN RSA PRIVATE KEY`), as MySQL writes private_key.pem
    let pkcs8 = aws_lc_rs::rsa::PrivateDecryptingKey::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
        .unwrap()
        .as_der()
        .unwrap();
    let pkcs1 = pkcs8::PrivateKeyInfo::try_from(pkcs8.as_ref())
        .unwrap()
        .private_key;
    let path = dir.join("private_key.pem");
    std::fs::write(
        &path,
        encode_string("RSA PRIVATE KEY", LineEnding::LF, pkcs1).unwrap(),
    )
    .unwrap();
    let sock = dir.join("s.sock");
    let s = server(|c| {
        c.rsa_private_key = Some(path.clone());
        c.socket = Some(sock.clone());
    });
    let mut c = Conn::new(common::opts(&s, "u", "s3cret", None)).unwrap();
    c.query_drop("SELECT 1").unwrap();
    let opts = mysql::OptsBuilder::new()
        .socket(Some(sock.to_str().unwrap()))
        .user(Some("u"))
        .pass(Some("s3cret"));
    let mut c = Conn::new(opts).unwrap();
    c.query_drop("SELECT 1").unwrap();
    let bad = mysql::OptsBuilder::new()
        .socket(Some(sock.to_str().unwrap()))
        .user(Some("u"))
        .pass(Some("nope"));
    assert_eq!(code(Conn::new(bad).unwrap_err()), 1045);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Garbage where the encrypted password belongs: ERR 1045, the connection
/// closed, nobody else disturbed.
#[test]
fn garbage_instead_of_the_encrypted_password() {
    use understudy::protocol::auth;
    use understudy::protocol::handshake::{HandshakeResponse41, HandshakeV10};
    let s = server(|_| {});
    let mut raw = common::raw(&s);
    let (_, g) = common::read_packet(&mut raw).unwrap();
    let g = HandshakeV10::decode(&g).unwrap();
    let resp = HandshakeResponse41 {
        capabilities: 0x000f_a685,
        max_packet: 1 << 24,
        charset: 45,
        username: b"u".to_vec(),
        auth_response: auth::caching_sha2_scramble(b"s3cret", &g.nonce),
        database: None,
        auth_plugin: Some(plugin::CACHING_SHA2.as_bytes().to_vec()),
        attributes: vec![],
        zstd_level: None,
    };
    let mut p = Vec::new();
    resp.encode(&mut p);
    common::write_packet(&mut raw, 1, &p);
    let (seq, more) = common::read_packet(&mut raw).unwrap();
    assert_eq!((seq, more), (2, vec![1, 4]), "perform full authentication");
    common::write_packet(&mut raw, 3, &[2]);
    let (_, key) = common::read_packet(&mut raw).unwrap();
    assert!(key[1..].starts_with(b"-----BEGIN PUBLIC KEY-----"));
    common::write_packet(&mut raw, 5, &[0xab; 256]);
    let (_, err) = common::read_packet(&mut raw).unwrap();
    let e = understudy::protocol::response::decode_err(&err).unwrap();
    assert_eq!(e.code, 1045);
    assert!(common::read_packet(&mut raw).is_none(), "closed");
    let mut c = Conn::new(common::opts(&s, "u", "s3cret", None)).unwrap();
    c.query_drop("SELECT 1").unwrap();
}

/// Without `--user` every login succeeds, but only after the plugin's own
/// exchange, as a real account's: caching_sha2_password's fast-auth byte
/// (0x01 0x03) before the OK, or with a cold cache its full authentication
/// (0x01 0x04, the key request, the encrypted password); a client that
/// speaks another plugin is switched to the configured one. A bare OK in
/// their place broke libmariadb ("Got packets out of order").
#[test]
fn accepting_anyone_still_runs_the_plugins_exchange() {
    use understudy::protocol::auth;
    use understudy::protocol::handshake::{HandshakeResponse41, HandshakeV10};
    let login = |s: &understudy::ServerHandle, client_plugin: &str| {
        let mut c = common::raw(s);
        let (_, greeting) = common::read_packet(&mut c).unwrap();
        let g = HandshakeV10::decode(&greeting).unwrap();
        let scramble = match client_plugin {
            plugin::CACHING_SHA2 => auth::caching_sha2_scramble(b"any", &g.nonce),
            _ => auth::native_scramble(b"any", &g.nonce),
        };
        let resp = HandshakeResponse41 {
            capabilities: common::CLIENT_CAPS,
            max_packet: 1 << 30,
            charset: 45,
            username: b"whoever".to_vec(),
            auth_response: scramble,
            database: None,
            auth_plugin: Some(client_plugin.as_bytes().to_vec()),
            attributes: vec![],
            zstd_level: None,
        };
        let mut p = Vec::new();
        resp.encode(&mut p);
        common::write_packet(&mut c, 1, &p);
        (c, g)
    };
    // warm: the fast path
    let s = server(|c| {
        c.users.clear();
        c.auth_cache_cold = false;
    });
    let (mut c, _) = login(&s, plugin::CACHING_SHA2);
    assert_eq!(common::read_packet(&mut c).unwrap(), (2, vec![1, 3]));
    assert_eq!(common::read_packet(&mut c).unwrap().1[0], 0, "OK");
    // a native client is switched to caching_sha2_password, then fast auth
    let (mut c, _) = login(&s, plugin::NATIVE);
    let (seq, sw) = common::read_packet(&mut c).unwrap();
    assert_eq!((seq, sw[0]), (2, 0xfe), "auth switch");
    assert!(sw[1..].starts_with(b"caching_sha2_password\0"));
    // cold: full authentication through the RSA key; what does not decrypt
    // is no password, even when any password would do
    let s = server(|c| c.users.clear());
    let (mut c, _) = login(&s, plugin::CACHING_SHA2);
    assert_eq!(common::read_packet(&mut c).unwrap(), (2, vec![1, 4]));
    common::write_packet(&mut c, 3, &[2]); // the public key, please
    let (seq, key) = common::read_packet(&mut c).unwrap();
    assert_eq!((seq, key[0]), (4, 1));
    assert!(key[1..].starts_with(b"-----BEGIN PUBLIC KEY-----"));
    common::write_packet(&mut c, 5, &[0xab; 256]);
    let (_, err) = common::read_packet(&mut c).unwrap();
    assert_eq!(
        understudy::protocol::response::decode_err(&err)
            .unwrap()
            .code,
        1045
    );
    // the Rust mysql crate logs in to both with any password (cold: its RSA
    // exchange, as libmysql's)
    for cold in [false, true] {
        let s = server(|c| {
            c.users.clear();
            c.auth_cache_cold = cold;
        });
        let mut m = Conn::new(common::opts(&s, "who", "ever", None)).unwrap();
        let v: Option<i64> = m.query_first("SELECT 1").unwrap();
        assert_eq!(v, Some(1), "cold={cold}");
    }
}
