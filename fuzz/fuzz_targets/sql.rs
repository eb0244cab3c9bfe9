//! The SQL recognizer of the built-in answers: `sql::tokenize`,
//! `split_statements` / `next_statement`, `like` and `Like`,
//! `is_session_setting`, and `Builtin::query` on statements that start with
//! the keywords whose paths take client text (`SELECT …`, `SET …`,
//! `SHOW VARIABLES LIKE/WHERE …`, `SHOW STATUS LIKE …`).
//!
//! Input: a selector byte, then the text.
//! - low 4 bits: 0 tokenize, 1 split_statements, 2 like (pattern before the
//!   first NUL, subject after it), 3 is_session_setting, 4.. a query with one
//!   of `PREFIXES` before the text;
//! - bit 4: multi-statements on; bit 5: CLIENT_DEPRECATE_EOF; bit 6: the
//!   answer pauses every `PAUSE` bytes and is resumed, as at the high-water
//!   mark.
//!
//! Checks: no panic, no hang (the LIKE matcher is not exponential: libFuzzer's
//! `-timeout`); tokens and statements are in-bounds, ordered spans of the
//! text, and the byte-level `next_statement` cuts what `split_statements`
//! cuts; `like` and a prepared `Like` agree with a dynamic-programming
//! reference matcher; an answer is whole packets numbered from 1 without a
//! gap, has no packet much over max_allowed_packet, grows at most linearly
//! with the statement (`ANSWER_PER_BYTE`), and a paused and resumed answer
//! is the same bytes as one produced at once.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::cell::RefCell;
use understudy::protocol::consts::cap;
use understudy::protocol::consts::status;
use understudy::protocol::response::Encoder;
use understudy::responder::builtin::{self, Builtin};
use understudy::responder::reply::RowFormat;
use understudy::responder::sql;
use understudy::responder::{Peer, Session};
use understudy::server::encode::{self, Progress, Written};
use understudy::Config;
use understudy_fuzz::{builtin_for, whole_packets};

thread_local! {
    /// One responder for the run, as one serves every connection of a server.
    static BUILTIN: RefCell<Builtin> = RefCell::new(builtin_for(&Config {
        max_packet: MAX_PACKET,
        ..Config::default()
    }));
}

/// Statement starts that lead the text into the recognizer's deeper paths.
const PREFIXES: [&str; 12] = [
    "SELECT ",
    "SET ",
    "SHOW VARIABLES LIKE ",
    "SHOW VARIABLES WHERE ",
    "SHOW GLOBAL VARIABLES WHERE Variable_name LIKE ",
    "SHOW STATUS LIKE ",
    "SHOW ",
    "SET @v = ",
    "SET NAMES ",
    "SELECT @@",
    "USE ",
    "",
];

/// Output after which a paused answer stops (bit 6 of the selector): small,
/// so that a list of a few statements pauses several times.
const PAUSE: usize = 512;

/// The responder's max_allowed_packet: a SELECT row is at most this (ERR 1301
/// past it), so a short `SELECT @v,@v,…` of a long variable answers at most
/// this much.
const MAX_PACKET: usize = 16 << 10;

/// Bytes of answer per byte of query that no built-in answer needs: the
/// largest table, `SHOW VARIABLES;` (15 bytes), answers about 2.4 KB, 160 per
/// byte; a row may take up to `MAX_PACKET` for the 9 bytes of `SELECT @v`.
/// An answer past this (plus 64 KiB) grows faster than its input: before
/// rows were bounded, `SET @v = '<1,800 x>'; SELECT @v,@v,…` (4 KiB)
/// answered 1.4 MB, and 4 MB + 12 KB made a 16 GiB row.
const ANSWER_PER_BYTE: usize = 256 + MAX_PACKET / 8;

fn spans_ok(text: &str) {
    if let Ok(toks) = sql::tokenize(text) {
        let mut prev_end = 0;
        for t in &toks {
            assert!(t.start < t.end && t.end <= text.len(), "token span {t:?}");
            assert!(t.start >= prev_end, "tokens in order");
            assert!(text.is_char_boundary(t.start) && text.is_char_boundary(t.end));
            prev_end = t.end;
        }
    }
}

/// LIKE by the textbook dynamic programme (O(pattern × text), no cleverness):
/// `%` any run, `_` one character, `\` escapes the next character (a final
/// `\` is itself), ASCII case ignored.
fn like_reference(pattern: &str, s: &str) -> bool {
    enum P {
        Any,
        One,
        Char(char),
    }
    let mut pieces = Vec::new();
    let mut it = pattern.chars().peekable();
    while let Some(c) = it.next() {
        pieces.push(match c {
            '%' => P::Any,
            '_' => P::One,
            '\\' => P::Char(it.next().unwrap_or('\\')),
            c => P::Char(c),
        });
    }
    let text: Vec<char> = s.chars().collect();
    // row[j]: the pieces so far match text[..j]
    let mut row = vec![false; text.len() + 1];
    row[0] = true;
    for p in &pieces {
        let mut next = vec![false; text.len() + 1];
        for j in 0..=text.len() {
            next[j] = match p {
                P::Any => row[j] || (j > 0 && next[j - 1]),
                P::One => j > 0 && row[j - 1],
                P::Char(c) => j > 0 && row[j - 1] && text[j - 1].eq_ignore_ascii_case(c),
            };
        }
        row = next;
    }
    row[text.len()]
}

/// Answers `q` the way the connection does: statement by statement when it
/// is a multi-statement list, each reply encoded at once, or pausing every
/// `PAUSE` bytes (inside a resultset and between statements) and resuming
/// until the answer is complete.
fn answer(q: &[u8], sel: u8, pause: bool) -> Vec<u8> {
    let mut s = Session::new(1, Peer::Unix, Peer::Unix);
    s.capabilities = cap::PROTOCOL_41 | cap::MULTI_RESULTS;
    if sel & 0x20 != 0 {
        s.capabilities |= cap::DEPRECATE_EOF;
    }
    s.multi_statements = sel & 0x10 != 0;
    let caps = s.capabilities;
    let budget = if pause { PAUSE } else { usize::MAX };
    let mut statements: Vec<&[u8]> = Vec::new();
    if s.multi_statements && q.contains(&b';') {
        let mut from = 0;
        while let Some((st, next)) = sql::next_statement(q, from) {
            statements.push(st);
            from = next;
        }
    }
    if statements.len() < 2 {
        statements = vec![q];
    }
    let mut out = Vec::new();
    let mut seq = 1;
    BUILTIN.with(|b| {
        let mut b = b.borrow_mut();
        let last = statements.len() - 1;
        for (i, st) in statements.iter().enumerate() {
            let reply = b.query(&mut s, st, None);
            let more = if i < last {
                status::MORE_RESULTS_EXISTS
            } else {
                0
            };
            let mut written = Written::default();
            let mut enc = Encoder::new(&mut out, seq, caps).bounded(budget, usize::MAX);
            let mut progress = encode::encode(
                &mut enc,
                reply,
                RowFormat::Text,
                s.status() | more,
                &mut written,
            );
            seq = enc.seq;
            // every resumption writes at least one row or ends the resultset
            let mut turns = 0usize;
            while let Progress::Paused(p) = progress {
                assert!(pause, "an unbounded answer never pauses");
                turns += 1;
                assert!(turns <= q.len() + MAX_PACKET, "a paused answer never ends");
                let mut enc = Encoder::new(&mut out, seq, caps).bounded(budget, usize::MAX);
                progress = encode::resume(&mut enc, p, &mut written);
                seq = enc.seq;
            }
            if written.error.is_some() {
                return; // an ERR ends the list
            }
        }
    });
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(body);
    match sel & 0x0f {
        0 => spans_ok(&text),
        1 => {
            let stmts = sql::split_statements(&text);
            let base = text.as_ptr() as usize;
            let mut prev = 0;
            for s in &stmts {
                let at = s.as_ptr() as usize - base;
                assert!(!s.is_empty() && at >= prev && at + s.len() <= text.len());
                prev = at + s.len();
                spans_ok(s);
            }
            // The byte-level cut the multi-statement answer uses agrees.
            let b = text.as_bytes();
            let mut cut = Vec::new();
            let mut from = 0;
            while let Some((st, next)) = sql::next_statement(b, from) {
                assert!(next > from && next <= b.len(), "next_statement advances");
                cut.push(st);
                from = next;
            }
            let stmts: Vec<&[u8]> = stmts.iter().map(|s| s.as_bytes()).collect();
            assert_eq!(cut, stmts, "next_statement cuts what split_statements cuts");
        }
        2 => {
            let (p, s) = match text.split_once('\0') {
                Some(x) => x,
                None => (&text[..], ""),
            };
            let want = like_reference(p, s);
            assert_eq!(sql::like(p, s), want, "like({p:?}, {s:?})");
            assert_eq!(
                sql::Like::new(p).matches(s),
                want,
                "Like::new({p:?}).matches({s:?})"
            );
        }
        3 => {
            let _ = builtin::is_session_setting(body);
        }
        k => {
            let mut q = PREFIXES[usize::from(k - 4) % PREFIXES.len()]
                .as_bytes()
                .to_vec();
            q.extend_from_slice(body);
            let pause = sel & 0x40 != 0;
            let out = answer(&q, sel, pause);
            assert!(
                out.len() <= 64 * 1024 + ANSWER_PER_BYTE * q.len(),
                "a {}-byte query answered {} bytes",
                q.len(),
                out.len()
            );
            let packets = whole_packets(&out);
            assert!(!packets.is_empty(), "every query gets an answer");
            // A row (or a column definition) is at most max_allowed_packet
            // plus its cells' length prefixes, or a name as long as the query.
            let biggest = packets.iter().map(|p| p.1).max().unwrap_or(0);
            assert!(
                biggest <= MAX_PACKET + 9 * q.len() + 256,
                "a packet of {biggest} bytes for a {}-byte query",
                q.len()
            );
            for (i, p) in packets.iter().enumerate() {
                assert_eq!(p.0, (i + 1) as u8, "sequence ids without a gap");
            }
            // Paused and resumed, the answer is the same bytes (SHOW STATUS
            // reports live counters, which the first run moved).
            let live = q.windows(6).any(|w| w.eq_ignore_ascii_case(b"STATUS"));
            if pause && !live {
                assert!(answer(&q, sel, false) == out, "a resumed answer differs");
            }
        }
    }
});
