//! Packet framing and reassembly over arbitrary bytes, with any maximum.
//!
//! Input: one byte choosing the maximum packet size, then the buffer.
//! Checks, for every frame found: it lies inside the buffer, its declared
//! sizes add up (headers + payload = consumed), the payload reassembled from
//! its parts is `len` bytes and never over the maximum, one byte less of the
//! buffer is "incomplete" (no frame is reported before its last byte), and
//! re-encoding the payload gives a frame of the same shape back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use understudy::protocol::consts::MAX_PAYLOAD;
use understudy::protocol::packet::{self, decode_frame, HEADER_LEN};
use understudy::protocol::Error;
use understudy_fuzz::Choices;

/// The maxima that matter: none, tiny, the 4 KiB and 64 KiB the server uses
/// before and after login, the split boundary, and unlimited.
const MAXIMA: [usize; 8] = [
    0,
    1,
    16,
    4096,
    64 << 10,
    MAX_PAYLOAD - 1,
    MAX_PAYLOAD,
    usize::MAX,
];

fuzz_target!(|data: &[u8]| {
    let mut c = Choices::new(data);
    let sel = c.byte();
    let max = MAXIMA[usize::from(sel % 8)];
    let buf = c.rest();
    let mut rest = buf;
    let mut scratch = Vec::new();
    // Walk the buffer frame by frame, as the connection does.
    while !rest.is_empty() {
        match decode_frame(rest, max) {
            Ok(Some(f)) => {
                assert!(f.consumed <= rest.len(), "frame past the buffer");
                assert!(f.parts >= 1);
                assert_eq!(f.consumed, f.len + f.parts * HEADER_LEN);
                assert!(f.len <= max, "frame of {} over the maximum {max}", f.len);
                assert_eq!(f.last_seq, f.seq.wrapping_add((f.parts - 1) as u8));
                assert_eq!(
                    f.single_range().is_some(),
                    f.parts == 1,
                    "single range only for one part"
                );
                // No frame before its last byte has arrived.
                assert_eq!(decode_frame(&rest[..f.consumed - 1], max), Ok(None));
                let payload = f.payload(rest, &mut scratch).to_vec();
                assert_eq!(payload.len(), f.len);
                // Re-encoding gives the same shape back.
                let mut out = Vec::new();
                let mut seq = f.seq;
                packet::write_packet(&mut out, &mut seq, &payload);
                let g = decode_frame(&out, usize::MAX)
                    .expect("re-encoded frame")
                    .expect("whole");
                assert_eq!((g.seq, g.len, g.parts), (f.seq, f.len, f.parts));
                assert_eq!(seq, f.last_seq.wrapping_add(1));
                rest = &rest[f.consumed..];
            }
            Ok(None) => break,
            Err(Error::TooLarge { len, max: m }) => {
                assert_eq!(m, max);
                assert!(len > max);
                break;
            }
            Err(Error::Malformed(_)) => break,
            Err(e) => panic!("framing reported {e:?}"),
        }
    }
    // Renumbering any byte string walks it without running past its end.
    let mut copy = buf.to_vec();
    let mut seq = sel;
    packet::renumber(&mut copy, &mut seq);
});
