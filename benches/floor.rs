//! `floor`: the practical limit for understudy's hot paths, for `make bench`.
//!
//! A server that does nothing but what no MySQL server can avoid: one mio
//! loop, accept, write a pre-encoded greeting, read packets by their 4-byte
//! headers only, answer the login with a pre-encoded OK and every query with a
//! pre-encoded answer (the 70-row SHOW DATABASES answer for `SHOW DATABASES`,
//! the `SELECT 1` answer for anything else), close on COM_QUIT. No auth check,
//! no parsing, no session, no timers, no limits, a fixed nonce. understudy's
//! server CPU per operation is compared with this one's in the same run: the
//! distance is what understudy's own work costs.
//!
//! `cargo bench --bench floor -- --port PORT` (DEPRECATE_EOF framing: the
//! load generator asks for it).

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use slab::Slab;
use std::io::{self, Read, Write};
use std::process::ExitCode;
use understudy::protocol::consts::{coltype, status};
use understudy::protocol::handshake::HandshakeV10;
use understudy::protocol::packet;
use understudy::protocol::response::{ColumnDef, Encoder, OkPacket};
use understudy::server::connection::SERVER_CAPABILITIES;

const LISTENER: Token = Token(usize::MAX);

/// The capabilities understudy offers, so that clients answer alike.
const CAPS: u32 = SERVER_CAPABILITIES;

/// Every answer, encoded once.
struct Answers {
    greeting: Vec<u8>,
    login_ok: Vec<u8>,
    select1: Vec<u8>,
    rows70: Vec<u8>,
}

fn answers() -> Answers {
    let mut greeting = Vec::new();
    let mut seq = 0;
    let mut g = Vec::new();
    HandshakeV10 {
        server_version: b"8.0.36-understudy".to_vec(),
        connection_id: 1,
        nonce: b"0123456789abcdefghij".to_vec(),
        capabilities: CAPS,
        charset: 45,
        status: status::AUTOCOMMIT,
        auth_plugin: b"mysql_native_password".to_vec(),
    }
    .encode(&mut g);
    packet::write_packet(&mut greeting, &mut seq, &g);
    let mut login_ok = Vec::new();
    Encoder::new(&mut login_ok, 2, CAPS).ok(&OkPacket {
        status: status::AUTOCOMMIT,
        ..OkPacket::default()
    });
    let resultset = |name: &[u8], t: u8, rows: &[Vec<u8>]| {
        let mut out = Vec::new();
        let mut enc = Encoder::new(&mut out, 1, CAPS);
        enc.columns(&[ColumnDef::new(name, t)], status::AUTOCOMMIT);
        for r in rows {
            enc.packet(|o| understudy::protocol::wire::put_lenenc_str(o, r));
        }
        enc.end(0, status::AUTOCOMMIT);
        out
    };
    let dbs: Vec<Vec<u8>> = (1..=70).map(|i| format!("db_{i}").into_bytes()).collect();
    Answers {
        greeting,
        login_ok,
        select1: resultset(b"1", coltype::LONGLONG, &[b"1".to_vec()]),
        rows70: resultset(b"Database", coltype::VAR_STRING, &dbs),
    }
}

struct Conn {
    stream: TcpStream,
    input: Vec<u8>,
    output: Vec<u8>,
    logged_in: bool,
}

impl Conn {
    /// Answers every whole packet in `input`; false on COM_QUIT.
    fn answer(&mut self, a: &Answers) -> bool {
        let mut at = 0;
        while self.input.len() - at >= 4 {
            let h = &self.input[at..];
            let len = usize::from(h[0]) | usize::from(h[1]) << 8 | usize::from(h[2]) << 16;
            if self.input.len() - at < 4 + len {
                break;
            }
            let payload = &self.input[at + 4..at + 4 + len];
            if !self.logged_in {
                self.logged_in = true;
                self.output.extend_from_slice(&a.login_ok);
            } else if payload.first() == Some(&0x01) {
                return false;
            } else if payload == b"\x03SHOW DATABASES" {
                self.output.extend_from_slice(&a.rows70);
            } else {
                self.output.extend_from_slice(&a.select1);
            }
            at += 4 + len;
        }
        self.input.drain(..at);
        true
    }

    /// Writes what is pending until the socket would block; Err if it is gone.
    fn flush(&mut self) -> io::Result<()> {
        while !self.output.is_empty() {
            match self.stream.write(&self.output) {
                Ok(n) => {
                    self.output.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let port = args
        .iter()
        .position(|a| a == "--port")
        .and_then(|i| args.get(i + 1))
        .and_then(|p| p.parse::<u16>().ok())
        .unwrap_or(4041);
    match serve(port) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("floor: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(port: u16) -> io::Result<()> {
    let a = answers();
    let mut poll = Poll::new()?;
    let mut listener = TcpListener::bind(([127, 0, 0, 1], port).into())?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    eprintln!("floor: listening on 127.0.0.1:{port}");
    let mut conns: Slab<Conn> = Slab::new();
    let mut events = Events::with_capacity(1024);
    let mut scratch = vec![0u8; 65536];
    loop {
        poll.poll(&mut events, None)?;
        for ev in events.iter() {
            if ev.token() == LISTENER {
                loop {
                    match listener.accept() {
                        Ok((mut stream, _)) => {
                            let _ = stream.set_nodelay(true);
                            let _ = stream.write(&a.greeting);
                            let entry = conns.vacant_entry();
                            poll.registry().register(
                                &mut stream,
                                Token(entry.key()),
                                Interest::READABLE,
                            )?;
                            entry.insert(Conn {
                                stream,
                                input: Vec::new(),
                                output: Vec::new(),
                                logged_in: false,
                            });
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(_) => break,
                    }
                }
                continue;
            }
            let key = ev.token().0;
            let Some(c) = conns.get_mut(key) else {
                continue;
            };
            let mut open = true;
            loop {
                match c.stream.read(&mut scratch) {
                    Ok(0) => {
                        open = false;
                        break;
                    }
                    Ok(n) => {
                        c.input.extend_from_slice(&scratch[..n]);
                        if n < scratch.len() {
                            break;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(_) => {
                        open = false;
                        break;
                    }
                }
            }
            if open && c.answer(&a) && c.flush().is_ok() {
                if !c.output.is_empty() {
                    poll.registry().reregister(
                        &mut c.stream,
                        ev.token(),
                        Interest::READABLE | Interest::WRITABLE,
                    )?;
                }
                continue;
            }
            conns.remove(key);
        }
    }
}
