//! The compressed protocol (issue 11): the Rust `mysql` crate with zlib
//! (plain and over TLS), a raw zstd client at levels it picks, and what a
//! hostile client can send once compression is on: a frame that inflates
//! past what it says (a bomb), garbage that claims to be compressed. Each
//! closes only its own connection.

mod common;

use mysql::prelude::Queryable;
use mysql::{Conn, Opts, OptsBuilder, SslOpts};
use std::io::{Read, Write};
use std::net::TcpStream;
use understudy::protocol::compress::{self, Algorithm, Codec};
use understudy::protocol::consts::cap;
use understudy::protocol::handshake::HandshakeV10;
use understudy::protocol::packet;
use understudy::server::compress::{Codecs, Compressed};

fn compressed(opts: Opts) -> Opts {
    OptsBuilder::from_opts(opts)
        .compress(Some(mysql::Compression::fast()))
        .into()
}

fn status(c: &mut Conn, name: &str) -> String {
    let row: Option<(String, String)> =
        c.query_first(format!("SHOW STATUS LIKE '{name}'")).unwrap();
    row.map(|r| r.1).unwrap_or_default()
}

/// A server with a 200,000-row answer for `SELECT * FROM big`.
fn big_server(extra: impl FnOnce(&mut understudy::Config)) -> understudy::ServerHandle {
    let rule = common::big_rule();
    let mut cfg = common::config();
    cfg.write_high_water = 64 << 10;
    extra(&mut cfg);
    understudy::Builder::new(cfg).rule(rule).start().unwrap()
}

fn seed_and_big(c: &mut Conn) {
    let dbs: Vec<String> = c.query("SHOW DATABASES").unwrap();
    assert_eq!(dbs.len(), 70);
    assert_eq!(dbs[69], "db_70");
    let got: Vec<(i64, String)> = c.query("SELECT * FROM big").unwrap();
    assert_eq!(got.len(), 200_000);
    assert_eq!(got.iter().map(|r| r.0).sum::<i64>(), 199_999 * 200_000 / 2);
    assert_eq!(got[123_456].1, "row-00123456");
    // a large query in: split over frames by the client
    let big: String = (0..(1 << 20))
        .map(|i| (b'a' + (i % 26) as u8) as char)
        .collect();
    let v: Option<String> = c.exec_first("SELECT ?", (big.as_str(),)).unwrap();
    assert_eq!(v.as_deref(), Some(big.as_str()));
    let e = c.query_drop("SELECT nothing FROM nowhere").unwrap_err();
    assert_eq!(common::code(e), 101, "an ERR, compressed");
    let v: Option<i64> = c.query_first("SELECT 1").unwrap();
    assert_eq!(v, Some(1));
}

#[test]
fn the_mysql_crate_with_zlib() {
    let s = big_server(|_| {});
    let mut c = Conn::new(compressed(common::opts(&s, "any", "", None))).unwrap();
    assert_eq!(status(&mut c, "Compression"), "ON");
    assert_eq!(status(&mut c, "Compression_algorithm"), "zlib");
    seed_and_big(&mut c);
    // bytes on the wire: far fewer than the rows' plaintext (about 5 MiB)
    let mut plain = Conn::new(common::opts(&s, "any", "", None)).unwrap();
    assert_eq!(status(&mut plain, "Compression"), "OFF");
}

#[test]
fn zlib_over_tls() {
    let s = big_server(|_| {}); // TLS is on by default
    let o = OptsBuilder::from_opts(compressed(common::opts(&s, "any", "", None))).ssl_opts(Some(
        SslOpts::default().with_danger_accept_invalid_certs(true),
    ));
    let mut c = Conn::new(o).unwrap();
    assert!(status(&mut c, "Ssl_cipher").starts_with("TLS_"));
    assert_eq!(status(&mut c, "Compression"), "ON");
    seed_and_big(&mut c);
}

#[test]
fn not_offered_when_turned_off() {
    let s = big_server(|c| {
        c.compress_zlib = false;
        c.compress_zstd = false;
    });
    let mut raw = common::raw(&s);
    let (_, greeting) = common::read_packet(&mut raw).unwrap();
    let g = HandshakeV10::decode(&greeting).unwrap();
    assert_eq!(
        g.capabilities & (cap::COMPRESS | cap::ZSTD_COMPRESSION_ALGORITHM),
        0
    );
    // a client that asks anyway is served uncompressed
    let mut c = Conn::new(compressed(common::opts(&s, "any", "", None))).unwrap();
    assert_eq!(status(&mut c, "Compression"), "OFF");
    let dbs: Vec<String> = c.query("SHOW DATABASES").unwrap();
    assert_eq!(dbs.len(), 70);
}

/// A raw client of the compressed protocol, with the server's own codecs.
struct Client {
    s: TcpStream,
    codecs: Codecs,
    algo: Algorithm,
    framing: Compressed,
    plain: Vec<u8>,
}

impl Client {
    /// Logs in asking for `caps` (COMPRESS or ZSTD) and `level`.
    fn login(server: &understudy::ServerHandle, caps: u32, level: Option<u8>) -> Client {
        let (s, g) = common::login_asking(common::raw(server), "u", "", caps, level);
        assert_ne!(g.capabilities & caps, 0, "compression offered");
        let algo = if caps & cap::ZSTD_COMPRESSION_ALGORITHM != 0 {
            Algorithm::Zstd(3)
        } else {
            Algorithm::Zlib
        };
        Client {
            s,
            codecs: Codecs::default(),
            algo,
            framing: Compressed::new(algo),
            plain: Vec::new(),
        }
    }

    fn send(&mut self, payload: &[u8]) {
        let mut p = Vec::new();
        let mut seq = 0;
        packet::write_packet(&mut p, &mut seq, payload);
        let mut wire = Vec::new();
        // each command's frames are numbered from 0
        self.framing = Compressed::new(self.algo);
        self.framing.wrap(&mut self.codecs, &p, &mut wire);
        self.s.write_all(&wire).unwrap();
    }

    /// The next packet's payload, None when the server closed.
    fn packet(&mut self) -> Option<Vec<u8>> {
        loop {
            if self.plain.len() >= 4 {
                let len = usize::from(self.plain[0])
                    | usize::from(self.plain[1]) << 8
                    | usize::from(self.plain[2]) << 16;
                if self.plain.len() >= 4 + len {
                    let p = self.plain[4..4 + len].to_vec();
                    self.plain.drain(..4 + len);
                    return Some(p);
                }
            }
            let mut buf = [0u8; 65536];
            let n = self.s.read(&mut buf).ok()?;
            if n == 0 {
                return None;
            }
            self.framing
                .unwrap(&mut self.codecs, &buf[..n], &mut self.plain)
                .expect("the server's frames inflate");
        }
    }

    /// A text query's rows (DEPRECATE_EOF framing), first cells only.
    fn query(&mut self, sql: &str) -> Vec<Vec<u8>> {
        let mut p = vec![3u8];
        p.extend_from_slice(sql.as_bytes());
        self.send(&p);
        let head = self.packet().unwrap();
        assert_ne!(head[0], 0xff, "ERR: {head:?}");
        let ncols = head[0] as usize;
        for _ in 0..ncols {
            self.packet().unwrap();
        }
        let mut rows = Vec::new();
        loop {
            let r = self.packet().unwrap();
            if r[0] == 0xfe && r.len() < 0xff_ffff {
                return rows;
            }
            let n = r[0] as usize;
            rows.push(r[1..1 + n].to_vec());
        }
    }
}

#[test]
fn a_raw_zstd_client_at_its_level() {
    let s = common::start(common::config());
    for (asked, used) in [(Some(7u8), "7"), (None, "3"), (Some(200), "22")] {
        let mut c = Client::login(&s, cap::ZSTD_COMPRESSION_ALGORITHM, asked);
        let dbs = c.query("SHOW DATABASES");
        assert_eq!(dbs.len(), 70);
        assert_eq!(dbs[0], b"db_1");
        let alg = c.query("SHOW STATUS LIKE 'Compression_algorithm'");
        assert_eq!(alg.len(), 1);
        let lvl = c.query("SELECT @@protocol_compression_algorithms");
        assert_eq!(lvl[0], b"zlib,zstd,uncompressed");
        // Compression_level: its value is the second cell; ask for it alone
        let mut p = vec![3u8];
        p.extend_from_slice(b"SHOW STATUS LIKE 'Compression_level'");
        c.send(&p);
        let head = c.packet().unwrap();
        for _ in 0..head[0] {
            c.packet().unwrap();
        }
        let row = c.packet().unwrap();
        let name_len = row[0] as usize;
        let v = &row[1 + name_len + 1..];
        assert_eq!(v, used.as_bytes(), "level asked {asked:?}");
    }
}

/// A frame of `payload` that says it inflates to `says` bytes.
fn frame(payload: &[u8], says: usize) -> Vec<u8> {
    let mut f = compress::header(payload.len(), 0, says).to_vec();
    f.extend_from_slice(payload);
    f
}

fn closes(c: &mut Client) {
    let mut b = [0u8; 512];
    loop {
        match c.s.read(&mut b) {
            Ok(0) => return,
            Ok(_) => {} // an ERR first is fine
            Err(e) => panic!("the server kept the connection open: {e}"),
        }
    }
}

#[test]
fn bombs_and_garbage_close_only_their_connection() {
    let s = common::start(common::config());
    let mut other = Conn::new(compressed(common::opts(&s, "any", "", None))).unwrap();
    // 16 MiB of zeros, deflated to about 16 KiB, in a frame that says 100
    let mut codecs = Codecs::default();
    let zeros = vec![0u8; (16 << 20) - 1];
    let mut z = vec![0u8; 1 << 20];
    let n = codecs.compress(Algorithm::Zlib, &zeros, &mut z).unwrap();
    let mut bomb = Client::login(&s, cap::COMPRESS, None);
    bomb.s.write_all(&frame(&z[..n], 100)).unwrap();
    closes(&mut bomb);
    // the same stream honestly announced as 16 MiB is a 16 MiB packet
    // header and all: inflated, then refused as a packet larger than it is
    // long (its first bytes are zeros: a zero-length COM packet... of
    // garbage); either way that connection alone ends
    let mut honest = Client::login(&s, cap::COMPRESS, None);
    honest.s.write_all(&frame(&z[..n], zeros.len())).unwrap();
    let _ = honest.packet();
    // garbage said to be zlib, and said to be zstd
    for caps in [cap::COMPRESS, cap::ZSTD_COMPRESSION_ALGORITHM] {
        let mut g = Client::login(&s, caps, Some(3));
        g.s.write_all(&frame(
            b"this is not a compressed stream at all, not one bit",
            60,
        ))
        .unwrap();
        closes(&mut g);
    }
    // a frame header that promises more than ever comes: the client is
    // gone when it closes, nothing was held for it but its partial frame
    let mut partial = Client::login(&s, cap::COMPRESS, None);
    partial
        .s
        .write_all(&[0xff, 0xff, 0xff, 0, 0, 0, 0, 1, 2, 3])
        .unwrap();
    drop(partial);
    let dbs: Vec<String> = other.query("SHOW DATABASES").unwrap();
    assert_eq!(dbs.len(), 70);
    let mut fresh = Conn::new(compressed(common::opts(&s, "any", "", None))).unwrap();
    let v: Option<i64> = fresh.query_first("SELECT 1").unwrap();
    assert_eq!(v, Some(1));
}
