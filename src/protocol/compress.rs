//! The compressed protocol's framing (CLIENT_COMPRESS, zlib; and
//! CLIENT_ZSTD_COMPRESSION_ALGORITHM, zstd): once the login is OK, both
//! directions carry frames of a 7-byte header (3 bytes of payload length, a
//! sequence id of its own, 3 bytes of uncompressed length) and a payload
//! that is a whole zlib stream or zstd frame of one or more ordinary
//! packets, or a piece of one; an uncompressed length of 0 says the payload
//! is sent as it is (MySQL does so under [`MIN_COMPRESS_LENGTH`] bytes, and
//! whenever compressing would not make it smaller).
//!
//! Pure functions over bytes: the codecs themselves (flate2, zstd) are
//! handed in by the caller, which owns them once for all its connections.

use super::error::{Error, Result};

/// Bytes of a compressed frame's header.
pub const HEADER_LEN: usize = 7;

/// Payloads shorter than this go uncompressed: MySQL's own threshold
/// (`MIN_COMPRESS_LENGTH` in `mysql_com.h`); below it zlib's header and
/// checksum cost more than they save.
pub const MIN_COMPRESS_LENGTH: usize = 50;

/// Largest payload (and uncompressed length) one frame can carry: its
/// length fields are 3 bytes.
pub const MAX_FRAME: usize = 0xFF_FFFF;

/// Which algorithm a connection uses, and zstd's level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// CLIENT_COMPRESS: deflate in zlib streams.
    Zlib,
    /// CLIENT_ZSTD_COMPRESSION_ALGORITHM, at the client's level (1..=22: a
    /// byte, so that an idle session stays small).
    Zstd(u8),
}

impl Algorithm {
    /// The name MySQL gives it (`Compression_algorithm`).
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Zlib => "zlib",
            Algorithm::Zstd(_) => "zstd",
        }
    }

    /// The level in use (`Compression_level`): zlib's is ours, zstd's the
    /// client's.
    pub fn level(self) -> i32 {
        match self {
            Algorithm::Zlib => ZLIB_LEVEL,
            Algorithm::Zstd(l) => i32::from(l),
        }
    }
}

/// zlib level for what the server sends: 1, the fastest. A stand-in server
/// is measured by how fast it answers; clients inflate any level alike.
pub const ZLIB_LEVEL: i32 = 1;

/// zstd's levels: a level from the handshake outside them is clamped (the
/// client's byte is not trusted to be one zstd accepts).
pub const ZSTD_LEVELS: std::ops::RangeInclusive<i32> = 1..=22;

/// zstd's level when the client sends none: MySQL's default.
pub const ZSTD_DEFAULT_LEVEL: i32 = 3;

/// A frame's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// Payload bytes after the header.
    pub len: usize,
    /// The compressed protocol's sequence id.
    pub seq: u8,
    /// Bytes the payload inflates to; 0: the payload is not compressed.
    pub uncompressed: usize,
}

/// The header at the start of `input`, or None while fewer than
/// [`HEADER_LEN`] bytes are in.
pub fn parse_header(input: &[u8]) -> Option<FrameHeader> {
    let h: [u8; HEADER_LEN] = input.get(..HEADER_LEN)?.try_into().ok()?;
    let [l0, l1, l2, seq, u0, u1, u2] = h;
    Some(FrameHeader {
        len: usize::from(l0) | usize::from(l1) << 8 | usize::from(l2) << 16,
        seq,
        uncompressed: usize::from(u0) | usize::from(u1) << 8 | usize::from(u2) << 16,
    })
}

/// A frame's header. Lengths are 3 bytes: callers keep them within
/// [`MAX_FRAME`] (higher bits are dropped; [`encode`], the one caller on the
/// server, makes frames of at most [`CHUNK`] bytes, lengths from its own
/// chunks and never from a peer).
pub fn header(len: usize, seq: u8, uncompressed: usize) -> [u8; HEADER_LEN] {
    let [l0, l1, l2, _] = (len as u32).to_le_bytes();
    let [u0, u1, u2, _] = (uncompressed as u32).to_le_bytes();
    [l0, l1, l2, seq, u0, u1, u2]
}

/// One algorithm's two directions over whole buffers, as the caller's codec
/// library does them.
pub trait Codec {
    /// Compresses `input` into `out` (its whole length the room there is);
    /// None when it does not fit, i.e. compressing does not pay.
    fn compress(&mut self, algo: Algorithm, input: &[u8], out: &mut [u8]) -> Option<usize>;
    /// Inflates `input` into exactly `out`; false when it is not a valid
    /// stream or does not inflate to exactly `out.len()` bytes.
    fn decompress(&mut self, algo: Algorithm, input: &[u8], out: &mut [u8]) -> bool;
}

/// Bytes of plaintext per frame the server sends. zlib's window is 32 KiB,
/// so larger frames would deflate little better; and a client inflates a
/// frame whole before it can read the rows in it.
pub const CHUNK: usize = 64 << 10;

/// Appends `plain` to `out` as frames of at most [`CHUNK`] bytes of
/// plaintext each, numbered from `*seq` on (left at the next number).
pub fn encode(
    codec: &mut dyn Codec,
    algo: Algorithm,
    seq: &mut u8,
    plain: &[u8],
    out: &mut Vec<u8>,
) {
    for chunk in plain.chunks(CHUNK) {
        let head = out.len();
        let body = head + HEADER_LEN;
        if chunk.len() >= MIN_COMPRESS_LENGTH {
            // room for a compressed payload smaller than the chunk, no more:
            // a codec that needs more means sending it as it is
            out.resize(body + chunk.len() - 1, 0);
            let room = out.get_mut(body..).unwrap_or_default();
            if let Some(n) = codec.compress(algo, chunk, room) {
                out.truncate(body + n);
                let h = out
                    .get_mut(head..body)
                    .and_then(|h| <&mut [u8; HEADER_LEN]>::try_from(h).ok());
                if let Some(h) = h {
                    *h = header(n, *seq, chunk.len());
                }
                *seq = seq.wrapping_add(1);
                continue;
            }
            out.truncate(head);
        }
        out.extend_from_slice(&header(chunk.len(), *seq, 0));
        out.extend_from_slice(chunk);
        *seq = seq.wrapping_add(1);
    }
}

/// What [`decode`] made of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decoded {
    /// Input bytes used (whole frames; a partial frame is left).
    pub consumed: usize,
    /// The sequence id of the last whole frame, if any.
    pub last_seq: Option<u8>,
}

/// Inflates the whole frames at the start of `input` onto `plain`. A frame
/// is inflated into exactly the length its header announces (at most
/// [`MAX_FRAME`]): a stream that inflates to more or less is an error, so
/// that a small frame cannot make the server inflate without bound.
pub fn decode(
    codec: &mut dyn Codec,
    algo: Algorithm,
    input: &[u8],
    plain: &mut Vec<u8>,
) -> Result<Decoded> {
    let mut d = Decoded {
        consumed: 0,
        last_seq: None,
    };
    while let Some(h) = input.get(d.consumed..).and_then(parse_header) {
        let start = d.consumed + HEADER_LEN;
        let Some(payload) = input.get(start..start + h.len) else {
            break;
        };
        if h.uncompressed == 0 {
            plain.extend_from_slice(payload);
        } else {
            let at = plain.len();
            plain.resize(at + h.uncompressed, 0);
            let room = plain.get_mut(at..).unwrap_or_default();
            if !codec.decompress(algo, payload, room) {
                plain.truncate(at);
                return Err(Error::Malformed(
                    "compressed frame does not inflate to its stated length",
                ));
            }
        }
        d.consumed = start + h.len;
        d.last_seq = Some(h.seq);
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A codec that "compresses" by run-length pairs: enough to test the
    /// framing without a real library.
    struct Rle;
    impl Codec for Rle {
        fn compress(&mut self, _: Algorithm, input: &[u8], out: &mut [u8]) -> Option<usize> {
            let mut n = 0;
            let mut i = 0;
            while i < input.len() {
                let b = input[i];
                let mut run = 1;
                while i + run < input.len() && input[i + run] == b && run < 255 {
                    run += 1;
                }
                *out.get_mut(n)? = run as u8;
                *out.get_mut(n + 1)? = b;
                n += 2;
                i += run;
            }
            Some(n)
        }
        fn decompress(&mut self, _: Algorithm, input: &[u8], out: &mut [u8]) -> bool {
            let mut n = 0;
            for p in input.chunks(2) {
                let [run, b] = p else { return false };
                for _ in 0..*run {
                    let Some(o) = out.get_mut(n) else {
                        return false;
                    };
                    *o = *b;
                    n += 1;
                }
            }
            n == out.len()
        }
    }

    #[test]
    fn header_round_trip() {
        let h = header(0x123456, 9, 0xabcdef);
        assert_eq!(h, [0x56, 0x34, 0x12, 9, 0xef, 0xcd, 0xab]);
        let p = parse_header(&h).unwrap();
        assert_eq!((p.len, p.seq, p.uncompressed), (0x123456, 9, 0xabcdef));
        assert_eq!(parse_header(&h[..6]), None);
    }

    #[test]
    fn short_payloads_go_as_they_are() {
        // a COM_PING as mysql sends it compressed: 5 bytes, uncompressed length 0
        let mut out = Vec::new();
        let mut seq = 0;
        encode(
            &mut Rle,
            Algorithm::Zlib,
            &mut seq,
            &[1, 0, 0, 0, 14],
            &mut out,
        );
        assert_eq!(out, [5, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 14]);
        assert_eq!(seq, 1);
    }

    #[test]
    fn incompressible_payloads_go_as_they_are() {
        let plain: Vec<u8> = (0..200u8).collect();
        let mut out = Vec::new();
        let mut seq = 3;
        encode(&mut Rle, Algorithm::Zlib, &mut seq, &plain, &mut out);
        let h = parse_header(&out).unwrap();
        assert_eq!((h.len, h.seq, h.uncompressed), (200, 3, 0));
        assert_eq!(&out[7..], &plain[..]);
    }

    #[test]
    fn large_answers_split_into_numbered_frames_and_decode_back() {
        let plain = vec![7u8; CHUNK * 2 + 10];
        let mut out = Vec::new();
        let mut seq = 255;
        encode(&mut Rle, Algorithm::Zstd(3), &mut seq, &plain, &mut out);
        assert_eq!(seq, 2, "three frames, the id wrapping");
        let mut back = Vec::new();
        let d = decode(&mut Rle, Algorithm::Zstd(3), &out, &mut back).unwrap();
        assert_eq!(d.consumed, out.len());
        assert_eq!(d.last_seq, Some(1));
        assert_eq!(back, plain);
        // a partial frame is left for later
        let mut back = Vec::new();
        let d = decode(&mut Rle, Algorithm::Zlib, &out[..out.len() - 1], &mut back).unwrap();
        assert!(d.consumed < out.len());
        assert_eq!(d.last_seq, Some(0));
    }

    #[test]
    fn a_frame_that_lies_about_its_length_is_an_error() {
        // says 1000 bytes, inflates to 4
        let mut f = header(2, 0, 1000).to_vec();
        f.extend_from_slice(&[4, b'x']);
        let mut back = Vec::new();
        assert!(decode(&mut Rle, Algorithm::Zlib, &f, &mut back).is_err());
        assert!(back.is_empty());
        // says 2, inflates to 4
        f[..7].copy_from_slice(&header(2, 0, 2));
        assert!(decode(&mut Rle, Algorithm::Zlib, &f, &mut back).is_err());
    }
}
