//! The compressed protocol between the socket (or TLS) and the packet
//! framing, once a client that asked for it has logged in.
//!
//! The loop owns one [`Codecs`] for all connections: every frame is a whole
//! zlib stream or zstd frame, independent of the one before, so no codec
//! state belongs to a connection and an idle compressed connection costs
//! only its [`Compressed`] (a few bytes, and a partial frame while one is
//! coming in). Each library's context is made the first time a client uses
//! that algorithm and reset between frames.
//!
//! What the server sends is compressed a batch at a time (the batch the
//! encoder wrote rows into, at most the write high-water mark and one
//! answer): no copy or call per row.

use super::buffer::Buf;
use crate::protocol::compress::{self, Algorithm, Codec};
use crate::protocol::Result;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// The compression libraries' contexts, shared by the loop's connections.
#[derive(Default)]
pub struct Codecs {
    deflate: Option<Compress>,
    inflate: Option<Decompress>,
    zstd_out: Option<(zstd::bulk::Compressor<'static>, u8)>,
    zstd_in: Option<zstd::bulk::Decompressor<'static>>,
}

impl std::fmt::Debug for Codecs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Codecs").finish_non_exhaustive()
    }
}

impl Codec for Codecs {
    fn compress(&mut self, algo: Algorithm, input: &[u8], out: &mut [u8]) -> Option<usize> {
        match algo {
            Algorithm::Zlib => {
                let c = self.deflate.get_or_insert_with(|| {
                    Compress::new(Compression::new(compress::ZLIB_LEVEL as u32), true)
                });
                c.reset();
                match c.compress(input, out, FlushCompress::Finish) {
                    Ok(Status::StreamEnd) => usize::try_from(c.total_out()).ok(),
                    _ => None, // out of room: not worth compressing
                }
            }
            Algorithm::Zstd(level) => {
                if self.zstd_out.as_ref().is_none_or(|(_, l)| *l != level) {
                    match self.zstd_out.as_mut() {
                        Some((c, l)) => {
                            c.set_compression_level(i32::from(level)).ok()?;
                            *l = level;
                        }
                        None => {
                            self.zstd_out =
                                Some((zstd::bulk::Compressor::new(i32::from(level)).ok()?, level))
                        }
                    }
                }
                let (c, _) = self.zstd_out.as_mut()?;
                c.compress_to_buffer(input, out).ok()
            }
        }
    }

    fn decompress(&mut self, algo: Algorithm, input: &[u8], out: &mut [u8]) -> bool {
        match algo {
            Algorithm::Zlib => {
                let d = self.inflate.get_or_insert_with(|| Decompress::new(true));
                d.reset(true);
                matches!(
                    d.decompress(input, out, FlushDecompress::Finish),
                    Ok(Status::StreamEnd)
                ) && d.total_out() == out.len() as u64
            }
            Algorithm::Zstd(_) => {
                if self.zstd_in.is_none() {
                    self.zstd_in = zstd::bulk::Decompressor::new().ok();
                }
                let Some(d) = self.zstd_in.as_mut() else {
                    return false;
                };
                d.decompress_to_buffer(input, out)
                    .is_ok_and(|n| n == out.len())
            }
        }
    }
}

/// A connection's side of the compressed protocol (boxed in the slot:
/// only compressed connections pay).
#[derive(Debug)]
pub struct Compressed {
    algo: Algorithm,
    /// The id of the next frame the server sends: one past the client's
    /// last (the compressed protocol numbers each command's exchange apart
    /// from the packets inside it).
    seq: u8,
    /// A frame not wholly in yet.
    partial: Buf,
}

impl Compressed {
    /// Compression from now on, with `algo`.
    pub fn new(algo: Algorithm) -> Compressed {
        Compressed {
            algo,
            seq: 0,
            partial: Buf::default(),
        }
    }

    /// Appends `plain` (whole packets, or a piece of an answer) to `out` as
    /// frames.
    pub fn wrap(&mut self, codecs: &mut Codecs, plain: &[u8], out: &mut Vec<u8>) {
        compress::encode(codecs, self.algo, &mut self.seq, plain, out);
    }

    /// Inflates the whole frames of what came in (after a partial frame
    /// kept from before) onto `plain`; keeps a partial one for later.
    pub fn unwrap(&mut self, codecs: &mut Codecs, input: &[u8], plain: &mut Vec<u8>) -> Result<()> {
        let d = if self.partial.is_empty() {
            let d = compress::decode(codecs, self.algo, input, plain)?;
            self.partial.extend(&input[d.consumed..]);
            d
        } else {
            self.partial.extend(input);
            let d = compress::decode(codecs, self.algo, self.partial.bytes(), plain)?;
            self.partial.consume(d.consumed);
            d
        };
        if let Some(s) = d.last_seq {
            self.seq = s.wrapping_add(1);
        }
        Ok(())
    }

    /// Bytes of a partial frame held (a frame is at most 16 MiB and 7
    /// bytes: the bound on what a client can make a connection hold here).
    pub fn held(&self) -> usize {
        self.partial.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_algorithms_round_trip_through_the_real_libraries() {
        let mut codecs = Codecs::default();
        let rows: Vec<u8> = (0..100_000u32)
            .flat_map(|i| format!("row-{i:08}").into_bytes())
            .collect();
        for algo in [Algorithm::Zlib, Algorithm::Zstd(3), Algorithm::Zstd(19)] {
            let mut server = Compressed::new(algo);
            let mut wire = Vec::new();
            server.wrap(&mut codecs, &rows, &mut wire);
            assert!(
                wire.len() < rows.len() / 3,
                "{algo:?}: {} bytes",
                wire.len()
            );
            // the client's side of it, in pieces as a socket delivers them
            let mut client = Compressed::new(algo);
            let mut back = Vec::new();
            for piece in wire.chunks(1000) {
                client.unwrap(&mut codecs, piece, &mut back).unwrap();
            }
            assert_eq!(client.held(), 0);
            assert!(back == rows, "{algo:?}");
        }
    }

    #[test]
    fn a_bomb_is_refused_not_inflated() {
        // a zlib stream of 16 MiB of zeros in a frame that says 100 bytes
        let mut codecs = Codecs::default();
        let zeros = vec![0u8; 16 << 20];
        let mut z = vec![0u8; 1 << 20];
        let n = codecs.compress(Algorithm::Zlib, &zeros, &mut z).unwrap();
        let mut frame = compress::header(n, 0, 100).to_vec();
        frame.extend_from_slice(&z[..n]);
        let mut c = Compressed::new(Algorithm::Zlib);
        let mut back = Vec::new();
        assert!(c.unwrap(&mut codecs, &frame, &mut back).is_err());
        assert!(back.is_empty());
        // garbage that claims to be zstd
        let mut frame = compress::header(4, 0, 50).to_vec();
        frame.extend_from_slice(b"junk");
        let mut c = Compressed::new(Algorithm::Zstd(3));
        assert!(c.unwrap(&mut codecs, &frame, &mut back).is_err());
    }
}
