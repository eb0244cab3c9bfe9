//! The SQL recognizer of the built-in answers: `sql::tokenize`,
//! `split_statements`, `like`, `is_session_setting`, and `Builtin::query` on
//! statements that start with the keywords whose paths take client text
//! (`SELECT …`, `SET …`, `SHOW VARIABLES LIKE/WHERE …`, `SHOW STATUS LIKE …`).
//!
//! Input: a selector byte, then the text.
//! - low 4 bits: 0 tokenize, 1 split_statements, 2 like (pattern before the
//!   first NUL, subject after it), 3 is_session_setting, 4.. a query with one
//!   of `PREFIXES` before the text;
//! - bit 4: multi-statements on; bit 5: CLIENT_DEPRECATE_EOF.
//!
//! Checks: no panic; tokens and statements are in-bounds, ordered spans of
//! the text; an answer is whole packets numbered from 1 without a gap, and
//! grows at most linearly with the statement (`ANSWER_PER_BYTE`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::cell::RefCell;
use understudy::protocol::consts::cap;
use understudy::protocol::response::Encoder;
use understudy::responder::builtin::{self, Builtin};
use understudy::responder::sql;
use understudy::responder::{Peer, Session};
use understudy::Config;
use understudy_fuzz::{builtin_for, whole_packets};

thread_local! {
    /// One responder for the run, as one serves every connection of a server.
    static BUILTIN: RefCell<Builtin> = RefCell::new(builtin_for(&Config::default()));
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

/// Bytes of answer per byte of statement that no built-in answer needs: the
/// largest, `SHOW VARIABLES` (14 bytes) answers about 2.4 KB, 170 per byte.
/// An answer past this grows faster than its input.
const ANSWER_PER_BYTE: usize = 512;

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
        }
        2 => {
            let (p, s) = match text.split_once('\0') {
                Some(x) => x,
                None => (&text[..], ""),
            };
            let _ = sql::like(p, s);
        }
        3 => {
            let _ = builtin::is_session_setting(body);
        }
        k => {
            let mut q = PREFIXES[usize::from(k - 4) % PREFIXES.len()]
                .as_bytes()
                .to_vec();
            q.extend_from_slice(body);
            let mut s = Session::new(1, Peer::Unix, Peer::Unix);
            s.capabilities = cap::PROTOCOL_41 | cap::MULTI_RESULTS;
            if sel & 0x20 != 0 {
                s.capabilities |= cap::DEPRECATE_EOF;
            }
            s.multi_statements = sel & 0x10 != 0;
            let mut out = Vec::new();
            let mut enc = Encoder::new(&mut out, 1, s.capabilities);
            BUILTIN.with(|b| b.borrow_mut().query(&mut s, &q, &mut enc));
            assert!(
                out.len() <= 64 * 1024 + ANSWER_PER_BYTE * q.len(),
                "a {}-byte query answered {} bytes",
                q.len(),
                out.len()
            );
            let packets = whole_packets(&out);
            assert!(!packets.is_empty(), "every query gets an answer");
            for (i, p) in packets.iter().enumerate() {
                assert_eq!(p.0, (i + 1) as u8, "sequence ids without a gap");
            }
        }
    }
});
