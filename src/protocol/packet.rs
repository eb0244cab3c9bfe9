//! Packet framing: a 3-byte little-endian payload length and a 1-byte sequence id.
//!
//! A payload of 0xFFFFFF bytes or more is split: every physical packet but the
//! last carries exactly 0xFFFFFF bytes, and the last carries the remainder, which
//! may be empty (a payload of exactly 0xFFFFFF bytes is followed by an empty
//! packet). [`decode_frame`] finds a whole logical packet in a buffer without
//! copying it; [`begin`]/[`finish`] encode in place.

use super::consts::MAX_PAYLOAD;
use super::error::{Error, Result};
use std::ops::Range;

/// Size of a packet header.
pub const HEADER_LEN: usize = 4;

/// A complete logical packet found at the start of a buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Sequence id of the first physical packet.
    pub seq: u8,
    /// Sequence id of the last physical packet (equal to `seq` unless split).
    pub last_seq: u8,
    /// Bytes of the buffer the logical packet occupies, headers included.
    pub consumed: usize,
    /// Total payload length after reassembly.
    pub len: usize,
    /// Number of physical packets (1 unless the payload reached 0xFFFFFF bytes).
    pub parts: usize,
}

impl Frame {
    /// The payload of a single-part frame, as a range of the buffer it was decoded from.
    pub fn single_range(&self) -> Option<Range<usize>> {
        (self.parts == 1).then(|| HEADER_LEN..HEADER_LEN + self.len)
    }

    /// The payload, borrowed from `buf` when it is one part, otherwise joined into
    /// `scratch` (cleared first). `buf` must be the buffer the frame was decoded from.
    pub fn payload<'a>(&self, buf: &'a [u8], scratch: &'a mut Vec<u8>) -> &'a [u8] {
        if let Some(r) = self.single_range() {
            return buf.get(r).unwrap_or(&[]);
        }
        scratch.clear();
        scratch.reserve(self.len);
        let mut pos = 0;
        while pos + HEADER_LEN <= self.consumed {
            let n = header_len(&buf[pos..]); // invariant: pos + 4 <= consumed <= buf.len()
            let body = buf
                .get(pos + HEADER_LEN..pos + HEADER_LEN + n)
                .unwrap_or(&[]);
            scratch.extend_from_slice(body);
            pos += HEADER_LEN + n;
        }
        scratch
    }
}

/// The payload length a packet header gives (`h` holds at least the 3
/// length bytes).
pub fn header_len(h: &[u8]) -> usize {
    match h {
        [a, b, c, ..] => usize::from(*a) | usize::from(*b) << 8 | usize::from(*c) << 16,
        _ => 0,
    }
}

/// Finds the logical packet at the start of `buf`.
///
/// Returns `Ok(None)` when more bytes are needed. Returns `Err(TooLarge)` as soon
/// as the declared length passes `max` (before the payload has arrived, so an
/// oversized packet is never buffered), and `Err(Malformed)` when the parts of a
/// split packet do not carry consecutive sequence ids.
pub fn decode_frame(buf: &[u8], max: usize) -> Result<Option<Frame>> {
    let mut pos = 0usize;
    let mut total = 0usize;
    let mut parts = 0usize;
    let mut first_seq = 0u8;
    let mut last_seq = 0u8;
    loop {
        let Some(h) = buf.get(pos..pos + HEADER_LEN) else {
            return Ok(None);
        };
        let n = header_len(h);
        let seq = h[3]; // invariant: h has 4 bytes
        if parts == 0 {
            first_seq = seq;
        } else if seq != last_seq.wrapping_add(1) {
            return Err(Error::Malformed("sequence id of a continuation packet"));
        }
        last_seq = seq;
        parts += 1;
        total += n;
        if total > max {
            return Err(Error::TooLarge { len: total, max });
        }
        let end = pos + HEADER_LEN + n;
        if buf.len() < end {
            return Ok(None);
        }
        pos = end;
        if n < MAX_PAYLOAD {
            return Ok(Some(Frame {
                seq: first_seq,
                last_seq,
                consumed: pos,
                len: total,
                parts,
            }));
        }
    }
}

/// Starts a packet at the end of `out`: reserves the header and returns its offset,
/// to be passed to [`finish`] once the payload has been appended.
#[inline]
pub fn begin(out: &mut Vec<u8>) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0, 0, 0, 0]);
    start
}

/// Completes the packet started at `start`: fills in its header with `*seq`, and
/// splits the payload into 0xFFFFFF-byte parts when it is that long. `*seq` is
/// advanced past every physical packet written (wrapping at 255).
pub fn finish(out: &mut Vec<u8>, start: usize, seq: &mut u8) {
    let len = out.len() - start - HEADER_LEN; // invariant: begin() appended HEADER_LEN bytes at `start`
    if len < MAX_PAYLOAD {
        let h = &mut out[start..start + HEADER_LEN]; // invariant: begin() reserved HEADER_LEN bytes at `start`
        write_header(h, len, *seq);
        *seq = seq.wrapping_add(1);
        return;
    }
    // Rare path (payloads >= 16 MiB): make room for the extra headers and move the
    // chunks into place from the back.
    let extra = len / MAX_PAYLOAD;
    let body = start + HEADER_LEN;
    out.resize(out.len() + extra * HEADER_LEN, 0);
    for i in (1..=extra).rev() {
        let chunk_start = body + i * MAX_PAYLOAD;
        let chunk_len = if i == extra {
            len - extra * MAX_PAYLOAD
        } else {
            MAX_PAYLOAD
        };
        let dest = chunk_start + i * HEADER_LEN;
        out.copy_within(chunk_start..chunk_start + chunk_len, dest);
    }
    for i in 0..=extra {
        let h = start + i * (MAX_PAYLOAD + HEADER_LEN);
        let n = if i == extra {
            len - extra * MAX_PAYLOAD
        } else {
            MAX_PAYLOAD
        };
        let head = &mut out[h..h + HEADER_LEN]; // invariant: the buffer was resized to hold every part's header
        write_header(head, n, *seq);
        *seq = seq.wrapping_add(1);
    }
}

/// Appends a whole packet with the given payload.
pub fn write_packet(out: &mut Vec<u8>, seq: &mut u8, payload: &[u8]) {
    let start = begin(out);
    out.extend_from_slice(payload);
    finish(out, start, seq);
}

fn write_header(h: &mut [u8], len: usize, seq: u8) {
    // 3-byte little-endian length, then the sequence id
    if let [l0, l1, l2, s, ..] = h {
        (*l0, *l1, *l2, *s) = (len as u8, (len >> 8) as u8, (len >> 16) as u8, seq);
    }
}

/// Walks the physical packets of an encoded stream and rewrites their sequence
/// ids starting at `seq`; returns the id after the last packet. Used when a
/// pre-encoded answer is sent at another point of a sequence than it was encoded at.
pub fn renumber(bytes: &mut [u8], seq: &mut u8) {
    let mut pos = 0;
    while pos + HEADER_LEN <= bytes.len() {
        let n = header_len(&bytes[pos..]); // invariant: pos + 4 <= bytes.len() (loop condition)
        bytes[pos + 3] = *seq; // invariant: pos + 4 <= bytes.len()
        *seq = seq.wrapping_add(1);
        pos += HEADER_LEN + n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::protocol::test_hex as hex;

    #[test]
    fn com_ping_frame_from_a_capture() {
        // mariadb client `mysqladmin ping` on loopback: 01 00 00 00 0e.
        let buf = hex("01 00 00 00 0e");
        let f = decode_frame(&buf, 1024)
            .expect("test vector")
            .expect("test vector");
        assert_eq!((f.seq, f.len, f.consumed, f.parts), (0, 1, 5, 1));
        let mut s = Vec::new();
        assert_eq!(f.payload(&buf, &mut s), &[0x0e]);
    }

    #[test]
    fn short_input_is_not_an_error() {
        let buf = hex("01 00 00 00 0e");
        for cut in 0..buf.len() {
            assert_eq!(
                decode_frame(&buf[..cut], 1024).expect("test vector"),
                None,
                "cut {cut}"
            );
        }
    }

    #[test]
    fn zero_length_packet() {
        let buf = hex("00 00 00 07");
        let f = decode_frame(&buf, 1024)
            .expect("test vector")
            .expect("test vector");
        assert_eq!((f.seq, f.len, f.consumed), (7, 0, 4));
    }

    #[test]
    fn oversize_is_reported_from_the_header_alone() {
        let buf = hex("00 00 01 00");
        assert_eq!(
            decode_frame(&buf, 1000),
            Err(Error::TooLarge {
                len: 65536,
                max: 1000
            })
        );
    }

    #[test]
    fn split_payloads_round_trip() {
        for len in [
            0,
            1,
            MAX_PAYLOAD - 1,
            MAX_PAYLOAD,
            MAX_PAYLOAD + 1,
            2 * MAX_PAYLOAD,
            2 * MAX_PAYLOAD + 3,
        ] {
            let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let mut out = vec![9, 9]; // something before, as in a shared write buffer
            let mut seq = 254;
            write_packet(&mut out, &mut seq, &payload);
            let parts = len / MAX_PAYLOAD + 1;
            assert_eq!(out.len(), 2 + len + parts * HEADER_LEN);
            assert_eq!(seq, 254u8.wrapping_add(parts as u8));
            let f = decode_frame(&out[2..], usize::MAX)
                .expect("test vector")
                .expect("test vector");
            assert_eq!(
                (f.seq, f.parts, f.len, f.consumed),
                (254, parts, len, out.len() - 2)
            );
            let mut scratch = Vec::new();
            assert!(
                f.payload(&out[2..], &mut scratch) == payload.as_slice(),
                "len {len}"
            );
        }
    }

    #[test]
    fn exact_max_payload_ends_with_an_empty_packet() {
        let payload = vec![7u8; MAX_PAYLOAD];
        let mut out = Vec::new();
        let mut seq = 0;
        write_packet(&mut out, &mut seq, &payload);
        assert_eq!(&out[out.len() - 4..], &[0, 0, 0, 1]);
        assert_eq!(&out[..4], &[0xff, 0xff, 0xff, 0]);
    }

    #[test]
    fn continuation_with_wrong_sequence_is_malformed() {
        let mut out = Vec::new();
        let mut seq = 0;
        write_packet(&mut out, &mut seq, &vec![1u8; MAX_PAYLOAD + 2]);
        let second = MAX_PAYLOAD + HEADER_LEN + 3;
        out[second] = 5;
        assert!(matches!(
            decode_frame(&out, usize::MAX),
            Err(Error::Malformed(_))
        ));
    }

    #[test]
    fn renumber_rewrites_each_header() {
        let mut out = Vec::new();
        let mut seq = 1;
        write_packet(&mut out, &mut seq, b"ab");
        write_packet(&mut out, &mut seq, b"");
        write_packet(&mut out, &mut seq, b"c");
        let mut s = 9;
        renumber(&mut out, &mut s);
        assert_eq!(s, 12);
        assert_eq!(out, hex("02 00 00 09 61 62 00 00 00 0a 01 00 00 0b 63"));
    }
}
