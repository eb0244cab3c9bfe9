//! Shared helpers for the integration tests: start a server on an ephemeral
//! port, connect with the `mysql` crate or a raw socket, speak raw packets.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;
use understudy::protocol::auth;
use understudy::protocol::consts::cap;
use understudy::protocol::handshake::{HandshakeResponse41, HandshakeV10};
use understudy::protocol::packet;
use understudy::{Config, ServerHandle};

/// A config on 127.0.0.1:0 with the defaults.
pub fn config() -> Config {
    Config {
        port: 0,
        ..Config::default()
    }
}

/// The defaults under `--no-ssl`: CLIENT_SSL not offered.
pub fn no_ssl_config() -> Config {
    Config {
        ssl: false,
        ..config()
    }
}

/// Starts a server with `cfg`.
pub fn start(cfg: Config) -> ServerHandle {
    let _ = env_logger_init();
    understudy::start(cfg).expect("server starts")
}

fn env_logger_init() -> Result<(), log::SetLoggerError> {
    env_logger::builder().is_test(true).try_init()
}

/// `mysql` crate options for a server.
pub fn opts(server: &ServerHandle, user: &str, pass: &str, db: Option<&str>) -> mysql::Opts {
    mysql::OptsBuilder::new()
        .ip_or_hostname(Some("127.0.0.1"))
        .tcp_port(server.addr().port())
        .user(Some(user))
        .pass(Some(pass))
        .db_name(db)
        .tcp_connect_timeout(Some(Duration::from_secs(10)))
        .read_timeout(Some(Duration::from_secs(20)))
        .into()
}

/// The error code of a server error (a test failure for anything else).
pub fn code(e: mysql::Error) -> u16 {
    match e {
        mysql::Error::MySqlError(e) => e.code,
        other => panic!("not a server error: {other:?}"),
    }
}

/// A raw client socket with timeouts (tests must never hang).
pub fn raw(server: &ServerHandle) -> TcpStream {
    let s = TcpStream::connect(server.addr()).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(20))).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

/// Reads one logical packet: (sequence id, payload). `None` on EOF.
pub fn read_packet(s: &mut TcpStream) -> Option<(u8, Vec<u8>)> {
    let mut payload = Vec::new();
    let mut first_seq = None;
    loop {
        let mut h = [0u8; 4];
        s.read_exact(&mut h).ok()?;
        let len = h[0] as usize | (h[1] as usize) << 8 | (h[2] as usize) << 16;
        first_seq.get_or_insert(h[3]);
        let mut body = vec![0; len];
        s.read_exact(&mut body).ok()?;
        payload.extend_from_slice(&body);
        if len < 0xff_ffff {
            return Some((first_seq?, payload));
        }
    }
}

/// Writes one packet with the given sequence id.
pub fn write_packet(s: &mut TcpStream, seq: u8, payload: &[u8]) {
    let mut out = Vec::new();
    let mut seq = seq;
    packet::write_packet(&mut out, &mut seq, payload);
    s.write_all(&out).expect("write");
}

/// Capabilities of a modern client.
pub const CLIENT_CAPS: u32 = cap::LONG_PASSWORD
    | cap::PROTOCOL_41
    | cap::SECURE_CONNECTION
    | cap::PLUGIN_AUTH
    | cap::PLUGIN_AUTH_LENENC_CLIENT_DATA
    | cap::CONNECT_WITH_DB
    | cap::TRANSACTIONS
    | cap::MULTI_STATEMENTS
    | cap::MULTI_RESULTS
    | cap::DEPRECATE_EOF;

/// Reads the greeting and logs in with mysql_native_password; returns the
/// socket after the OK.
pub fn login(server: &ServerHandle, user: &str, pass: &str) -> TcpStream {
    login_at(server.addr().port(), user, pass)
}

/// [`login`] to a server at 127.0.0.1:`port` (one not started by [`start`]).
pub fn login_at(port: u16, user: &str, pass: &str) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(20))).unwrap();
    s.set_nodelay(true).unwrap();
    login_on(s, user, pass)
}

fn login_on(s: TcpStream, user: &str, pass: &str) -> TcpStream {
    login_asking(s, user, pass, 0, None).0
}

/// Logs in on `s` with mysql_native_password, asking for `extra_caps` on top
/// of [`CLIENT_CAPS`] (and a zstd level); returns the socket after the OK
/// and the greeting.
pub fn login_asking(
    mut s: TcpStream,
    user: &str,
    pass: &str,
    extra_caps: u32,
    zstd_level: Option<u8>,
) -> (TcpStream, HandshakeV10) {
    let (_, greeting) = read_packet(&mut s).expect("greeting");
    let g = HandshakeV10::decode(&greeting).expect("valid greeting");
    let resp = HandshakeResponse41 {
        capabilities: CLIENT_CAPS | extra_caps,
        max_packet: 1 << 30,
        charset: 45,
        username: user.as_bytes().to_vec(),
        auth_response: auth::native_scramble(pass.as_bytes(), &g.nonce),
        database: Some(b"test".to_vec()),
        auth_plugin: Some(b"mysql_native_password".to_vec()),
        attributes: vec![],
        zstd_level,
    };
    let mut p = Vec::new();
    resp.encode(&mut p);
    write_packet(&mut s, 1, &p);
    let (seq, ok) = read_packet(&mut s).expect("auth answer");
    assert_eq!(seq, 2);
    assert_eq!(ok[0], 0, "login OK, got {ok:?}");
    (s, g)
}

/// A JSON rule answering `SELECT * FROM big` with 200,000 rows (id INT,
/// v VARCHAR(20) `row-%08d`): about 5 MiB encoded.
pub fn big_rule() -> String {
    let rows: Vec<String> = (0..200_000)
        .map(|i| format!("[{i}, \"row-{i:08}\"]"))
        .collect();
    format!(
        r#"{{"name": "big", "match": {{"sql": "SELECT * FROM big"}},
            "result": {{"columns": [{{"name": "id", "type": "INT"}}, {{"name": "v", "type": "VARCHAR(20)"}}],
                        "rows": [{}]}}}}"#,
        rows.join(",")
    )
}

/// Sends COM_QUERY and reads packets until the final EOF/OK/ERR of the last
/// resultset (DEPRECATE_EOF framing); returns all payloads.
pub fn query(s: &mut TcpStream, sql: &str) -> Vec<Vec<u8>> {
    let mut p = vec![3u8];
    p.extend_from_slice(sql.as_bytes());
    write_packet(s, 0, &p);
    read_answer(s)
}

/// Reads one answer (possibly several resultsets) in DEPRECATE_EOF framing.
pub fn read_answer(s: &mut TcpStream) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let (_, first) = read_packet(s).expect("answer");
        let more;
        match first[0] {
            0x00 => {
                let ok = understudy::protocol::response::decode_ok(&first).unwrap();
                more = ok.status & 0x0008 != 0;
                out.push(first);
            }
            0xff => {
                out.push(first);
                return out;
            }
            _ => {
                let ncols = first[0] as usize;
                out.push(first);
                for _ in 0..ncols {
                    out.push(read_packet(s).unwrap().1);
                }
                loop {
                    let (_, p) = read_packet(s).unwrap();
                    let end = p[0] == 0xfe && p.len() < 0xff_ffff && p.len() < 9;
                    out.push(p.clone());
                    if end {
                        let ok = understudy::protocol::response::decode_ok(&p).unwrap();
                        more = ok.status & 0x0008 != 0;
                        break;
                    }
                }
            }
        }
        if !more {
            return out;
        }
    }
}

/// Reads exactly one result (a resultset, an OK or an ERR) of an answer in
/// DEPRECATE_EOF framing, whatever follows it; returns its payloads.
pub fn read_answer_one(s: &mut TcpStream) -> Vec<Vec<u8>> {
    let (_, first) = read_packet(s).expect("answer");
    if first[0] == 0x00 || first[0] == 0xff {
        return vec![first];
    }
    let ncols = first[0] as usize;
    let mut out = vec![first];
    for _ in 0..ncols {
        out.push(read_packet(s).expect("column").1);
    }
    loop {
        let (_, p) = read_packet(s).expect("row or end");
        let end = (p[0] == 0xfe && p.len() < 9) || p[0] == 0xff;
        out.push(p);
        if end {
            return out;
        }
    }
}
