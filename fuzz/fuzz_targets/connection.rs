//! The connection state machine from accept: arbitrary bytes before a login,
//! and arbitrary commands after a valid one, fed in chunks of fuzzer-chosen
//! sizes, with the built-in answers.
//!
//! Input: a flags byte, a chunk-size byte, then the client's bytes.
//! - flags bit 0: log in first (a valid HandshakeResponse41 over the
//!   greeting's nonce, answering an auth switch when there is one);
//! - bits 1, 2: ask for CLIENT_DEPRECATE_EOF, CLIENT_MULTI_STATEMENTS;
//! - bit 3: "framed": the rest is records (one length byte, then that many
//!   bytes), each sent as a packet with the sequence id the server expects,
//!   so that the fuzzer's bytes reach the command decoders directly;
//!   otherwise the rest is sent raw, headers and all;
//! - bits 4..7: the configuration (see `understudy_fuzz::config_from`):
//!   max packet 200 (just above the harness's login) or 4096, high-water
//!   mark 4 KiB or 1 MiB, accounts or none, the server's auth plugin.
//!
//! The chunk byte seeds the read sizes (0: everything in one read).
//! Invariants: those of `understudy_fuzz::Harness::feed` (consumed <= input,
//! output whole packets and bounded per call, no stall, quiet once closing).
#![no_main]

use libfuzzer_sys::fuzz_target;
use understudy::protocol::consts::{cap, plugin};
use understudy_fuzz::{Choices, Harness, XorShift};

fuzz_target!(|data: &[u8]| {
    let mut c = Choices::new(data);
    let flags = c.byte();
    let chunk = c.byte();
    let rest = c.rest();
    let mut h = Harness::new(flags >> 4);
    if flags & 1 != 0 {
        let mut extra = 0;
        if flags & 2 != 0 {
            extra |= cap::DEPRECATE_EOF;
        }
        if flags & 4 != 0 {
            extra |= cap::MULTI_STATEMENTS;
        }
        h.login(extra, plugin::NATIVE);
    }
    let mut rng = XorShift(u64::from(chunk).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut piece = |len: usize| -> usize {
        if chunk == 0 {
            len
        } else {
            1 + (rng.next_u64() % 64) as usize
        }
    };
    if flags & 8 != 0 {
        let mut r = rest;
        while let Some((&n, tail)) = r.split_first() {
            let n = usize::from(n).min(tail.len());
            let (body, more) = tail.split_at(n);
            h.send(body);
            r = more;
        }
    } else {
        let mut pos = 0;
        while pos < rest.len() {
            let end = (pos + piece(rest.len())).min(rest.len());
            h.feed(&rest[pos..end]);
            pos = end;
        }
    }
    // A closing connection stays quiet whatever else arrives.
    if h.conn.phase() == understudy::server::connection::Phase::Closing {
        let before = h.written;
        h.feed(b"\x01\x00\x00\x00\x0e");
        assert_eq!(h.written, before);
    }
});
