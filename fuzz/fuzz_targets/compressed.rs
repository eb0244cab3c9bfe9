//! The compressed protocol's frames as the server reads them: arbitrary
//! bytes through `server::compress::Compressed::unwrap` with the real zlib
//! and zstd contexts, split in two reads at a chosen point (a frame whose
//! end has not come in yet is kept for later).
//!
//! Input: one byte choosing the algorithm (zlib, or zstd at a level), one
//! the split point (a fraction of the input), then the bytes off the wire.
//! Checks: no panic; what comes out is never more than the frames consumed
//! announce (a bomb cannot inflate past its stated length), the partial
//! frame held is never more than one frame; and whatever plaintext came out
//! goes back through `wrap` and `unwrap` unchanged, so the writer and the
//! reader of frames cannot drift apart.
#![no_main]

use libfuzzer_sys::fuzz_target;
use understudy::protocol::compress::{self, Algorithm, HEADER_LEN, MAX_FRAME};
use understudy::server::compress::{Codecs, Compressed};
use understudy_fuzz::Choices;

/// The sum of the uncompressed sizes the whole frames in `input` announce
/// (a stored frame's is its length): the most that unwrapping may produce.
fn announced(input: &[u8]) -> usize {
    let (mut at, mut total) = (0, 0);
    while let Some(h) = input.get(at..).and_then(compress::parse_header) {
        if input.len() < at + HEADER_LEN + h.len {
            break;
        }
        total += if h.uncompressed == 0 {
            h.len
        } else {
            h.uncompressed
        };
        at += HEADER_LEN + h.len;
    }
    total
}

fuzz_target!(|data: &[u8]| {
    let mut c = Choices::new(data);
    let algo = match c.byte() {
        0..=127 => Algorithm::Zlib,
        b => Algorithm::Zstd(b % 22 + 1),
    };
    let split = c.byte() as usize;
    let wire = c.rest();
    let cut = wire.len() * split / 255;
    let mut codecs = Codecs::default();
    let mut z = Compressed::new(algo);
    let mut plain = Vec::new();
    let first = z.unwrap(&mut codecs, &wire[..cut], &mut plain);
    if first.is_ok() && z.unwrap(&mut codecs, &wire[cut..], &mut plain).is_ok() {
        assert!(plain.len() <= announced(wire), "more out than announced");
        assert!(z.held() <= HEADER_LEN + MAX_FRAME, "more than a frame held");
    }
    // round trip of what came out
    let mut framed = Vec::new();
    Compressed::new(algo).wrap(&mut codecs, &plain, &mut framed);
    let mut back = Vec::new();
    Compressed::new(algo)
        .unwrap(&mut codecs, &framed, &mut back)
        .expect("our own frames decode");
    assert_eq!(back, plain, "wrap then unwrap changed the bytes");
});
