//! Answers encoded once and copied to every connection that asks.
//!
//! A canned answer is kept in both resultset framings (classic EOF and
//! CLIENT_DEPRECATE_EOF), numbered from sequence id 1 and with the most common
//! status flags (autocommit). Sending it is one `memcpy`; only when a session's
//! status or the sequence position differs are the recorded bytes patched after
//! the copy.

use super::reply::{Cell, CellError, RowFormat, RowSink, RowSource};
use crate::protocol::consts::cap;
use crate::protocol::packet::{self, HEADER_LEN};
use crate::protocol::response::{is_eof, ColumnDef, Encoder};
use std::rc::Rc;

/// One framing of a canned answer.
#[derive(Debug, Clone)]
struct Variant {
    /// Packets numbered from sequence id 1.
    bytes: Vec<u8>,
    /// Offsets of the 2-byte status fields of EOF/OK terminators.
    status_at: Vec<usize>,
    /// Physical packets in `bytes` (mod 256): how far the sequence advances.
    packets: u8,
    /// The status flags written in `bytes`.
    status: u16,
}

impl Variant {
    fn new(mut bytes: Vec<u8>, first_seq: u8, status: u16) -> Variant {
        if first_seq != 1 {
            let mut s = 1;
            packet::renumber(&mut bytes, &mut s);
        }
        Variant {
            status_at: status_offsets(&bytes),
            packets: packet_count(&bytes),
            bytes,
            status,
        }
    }
}

/// A pre-encoded answer.
#[derive(Debug, Clone, Default)]
pub struct Canned {
    classic: Option<Variant>,
    deprecate_eof: Option<Variant>,
}

impl Canned {
    /// Encodes the answer written by `f` (called once per framing) with status
    /// flags `status`.
    pub fn new(status: u16, mut f: impl FnMut(&mut Encoder<'_>, u16)) -> Canned {
        let mut make = |caps: u32| {
            let mut bytes = Vec::new();
            let mut enc = Encoder::new(&mut bytes, 1, caps);
            f(&mut enc, status);
            Some(Variant::new(bytes, 1, status))
        };
        Canned {
            classic: make(cap::PROTOCOL_41),
            deprecate_eof: make(cap::PROTOCOL_41 | cap::DEPRECATE_EOF),
        }
    }

    /// Keeps an answer that was just encoded (packets numbered from
    /// `first_seq`, with `status`) for one framing, to be copied from now on.
    pub fn record(&mut self, deprecate_eof: bool, bytes: Vec<u8>, first_seq: u8, status: u16) {
        let v = Some(Variant::new(bytes, first_seq, status));
        if deprecate_eof {
            self.deprecate_eof = v;
        } else {
            self.classic = v;
        }
    }

    /// True when the framing `enc` needs is there.
    pub fn has(&self, deprecate_eof: bool) -> bool {
        if deprecate_eof {
            self.deprecate_eof.is_some()
        } else {
            self.classic.is_some()
        }
    }

    /// Bytes held (both framings).
    pub fn size(&self) -> usize {
        [&self.classic, &self.deprecate_eof]
            .iter()
            .map(|v| v.as_ref().map_or(0, |v| v.bytes.len()))
            .sum()
    }

    /// Appends the answer to `enc`, with `status` and `enc`'s sequence ids.
    /// False (and nothing written) when this framing was never recorded.
    pub fn write(&self, enc: &mut Encoder<'_>, status: u16) -> bool {
        let v = if enc.deprecate_eof() {
            &self.deprecate_eof
        } else {
            &self.classic
        };
        let Some(v) = v else { return false };
        let seq = enc.seq;
        let out = enc.raw();
        let at = out.len();
        out.extend_from_slice(&v.bytes);
        if status != v.status {
            let [lo, hi] = status.to_le_bytes();
            for &o in &v.status_at {
                out[at + o] = lo;
                out[at + o + 1] = hi;
            }
        }
        let mut next = seq;
        if seq == 1 {
            next = seq.wrapping_add(v.packets);
        } else {
            packet::renumber(&mut out[at..], &mut next);
        }
        enc.seq = next;
        true
    }
}

impl Canned {
    /// Bytes of the framing `enc` needs (`None`: never recorded).
    pub fn len_for(&self, deprecate_eof: bool) -> Option<usize> {
        let v = if deprecate_eof {
            &self.deprecate_eof
        } else {
            &self.classic
        };
        v.as_ref().map(|v| v.bytes.len())
    }

    /// Appends whole packets of the answer from byte `from` of its
    /// encoding, at least one and then as many as fit in `max` bytes, with
    /// `status` and `enc`'s sequence ids: a large answer goes out in pieces
    /// as the client reads, copied from the same bytes. Returns where the
    /// next piece starts (the length when done); `None` when this framing
    /// was never recorded.
    pub fn write_part(
        &self,
        enc: &mut Encoder<'_>,
        status: u16,
        from: usize,
        max: usize,
    ) -> Option<usize> {
        let v = if enc.deprecate_eof() {
            self.deprecate_eof.as_ref()?
        } else {
            self.classic.as_ref()?
        };
        let bytes = &v.bytes;
        let mut end = from;
        while end + HEADER_LEN <= bytes.len() {
            let n = HEADER_LEN + packet::header_len(&bytes[end..]);
            if end > from && end + n - from > max {
                break;
            }
            end = (end + n).min(bytes.len());
        }
        let mut seq = enc.seq;
        let out = enc.raw();
        let at = out.len();
        out.extend_from_slice(&bytes[from..end]);
        if status != v.status {
            let [lo, hi] = status.to_le_bytes();
            for &o in v.status_at.iter().filter(|&&o| o >= from && o + 2 <= end) {
                out[at + o - from] = lo;
                out[at + o - from + 1] = hi;
            }
        }
        packet::renumber(&mut out[at..], &mut seq);
        enc.seq = seq;
        Some(end)
    }
}

/// A resultset that never changes, kept twice: as data (its columns and
/// rows, for binary rows and for a prepared statement's column definitions)
/// and pre-encoded as text rows in both framings (copied to every COM_QUERY
/// that asks for it).
#[derive(Debug)]
pub struct CannedSet {
    /// Column definitions.
    pub columns: Vec<ColumnDef>,
    /// The rows as data.
    pub rows: Vec<Vec<Cell>>,
    /// The text-protocol encoding.
    pub text: Canned,
    /// The binary-protocol encoding (a prepared statement's execution).
    pub binary: Canned,
}

impl CannedSet {
    /// Encodes `rows` of `columns` once, with status flags `status` (patched
    /// when a session's differ). An error when a cell does not fit its column.
    pub fn new(
        columns: Vec<ColumnDef>,
        rows: Vec<Vec<Cell>>,
        status: u16,
    ) -> Result<CannedSet, CellError> {
        let mut failed = None;
        let mut encode = |format| {
            Canned::new(status, |enc, st| {
                enc.columns(&columns, st);
                let mut sink = RowSink::new(enc, format, &columns, u64::MAX);
                for row in &rows {
                    if let Err(e) =
                        sink.row(|c| row.iter().try_for_each(|cell| c.value(&cell.as_value())))
                    {
                        failed = Some(e);
                        return;
                    }
                }
                enc.end(0, st);
            })
        };
        let text = encode(RowFormat::Text);
        let binary = encode(RowFormat::Binary);
        match failed {
            Some(e) => Err(e),
            None => Ok(CannedSet {
                columns,
                rows,
                text,
                binary,
            }),
        }
    }
}

/// The rows of a [`CannedSet`], pulled one by one (binary rows).
#[derive(Debug)]
pub struct SharedRows {
    set: Rc<CannedSet>,
    next: usize,
}

impl SharedRows {
    /// The set's rows from the first.
    pub fn new(set: Rc<CannedSet>) -> SharedRows {
        SharedRows { set, next: 0 }
    }
}

impl RowSource for SharedRows {
    fn write_rows(&mut self, sink: &mut RowSink<'_, '_>) -> Result<bool, CellError> {
        while let Some(row) = self.set.rows.get(self.next) {
            if sink.should_pause() {
                return Ok(false);
            }
            sink.row(|c| row.iter().try_for_each(|cell| c.value(&cell.as_value())))?;
            self.next += 1;
        }
        Ok(true)
    }
}

fn packet_count(bytes: &[u8]) -> u8 {
    let mut n = 0u8;
    let mut pos = 0;
    while let Ok(Some(f)) = packet::decode_frame(&bytes[pos..], usize::MAX) {
        pos += f.consumed;
        n = n.wrapping_add(f.parts as u8);
    }
    n
}

fn status_offsets(bytes: &[u8]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut pos = 0;
    while let Ok(Some(f)) = packet::decode_frame(&bytes[pos..], usize::MAX) {
        let payload = &bytes[pos + HEADER_LEN..pos + f.consumed];
        // EOF: fe warnings(2) status(2); OK/0xFE with zero counts: fe 00 00 status(2)
        if f.parts == 1 && is_eof(payload) && payload.len() >= 5 {
            out.push(pos + HEADER_LEN + 3);
        }
        pos += f.consumed;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::consts::{coltype, status};
    use crate::protocol::response::ColumnDef;

    fn sample() -> Canned {
        Canned::new(status::AUTOCOMMIT, |enc, st| {
            enc.columns(&[ColumnDef::new(b"Database", coltype::VAR_STRING)], st);
            enc.row([Some(&b"db_1"[..])]);
            enc.end(0, st);
        })
    }

    fn fresh(caps: u32, seq: u8, st: u16) -> (Vec<u8>, u8) {
        let mut out = Vec::new();
        let mut enc = Encoder::new(&mut out, seq, caps);
        enc.columns(&[ColumnDef::new(b"Database", coltype::VAR_STRING)], st);
        enc.row([Some(&b"db_1"[..])]);
        enc.end(0, st);
        let s = enc.seq;
        (out, s)
    }

    #[test]
    fn canned_equals_freshly_encoded_in_every_variant() {
        let c = sample();
        for caps in [cap::PROTOCOL_41, cap::PROTOCOL_41 | cap::DEPRECATE_EOF] {
            for seq in [1u8, 7, 254] {
                for st in [
                    status::AUTOCOMMIT,
                    status::IN_TRANS | status::MORE_RESULTS_EXISTS,
                ] {
                    let mut out = Vec::new();
                    let mut enc = Encoder::new(&mut out, seq, caps);
                    assert!(c.write(&mut enc, st));
                    let s = enc.seq;
                    assert_eq!(
                        (out, s),
                        fresh(caps, seq, st),
                        "caps {caps:x} seq {seq} st {st:x}"
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod record_tests {
    use super::*;
    use crate::protocol::consts::{coltype, status};
    use crate::protocol::response::ColumnDef;

    #[test]
    fn a_recorded_answer_replays_in_its_framing_only() {
        let caps = cap::PROTOCOL_41 | cap::DEPRECATE_EOF;
        let mut first = Vec::new();
        let mut enc = Encoder::new(&mut first, 3, caps);
        enc.columns(&[ColumnDef::new(b"a", coltype::LONG)], status::AUTOCOMMIT);
        enc.row([Some(&b"1"[..])]);
        enc.end(0, status::AUTOCOMMIT);
        let after = enc.seq;
        let mut c = Canned::default();
        assert!(!c.has(true));
        c.record(true, first.clone(), 3, status::AUTOCOMMIT);
        let mut again = Vec::new();
        let mut enc = Encoder::new(&mut again, 3, caps);
        assert!(c.write(&mut enc, status::AUTOCOMMIT));
        let seq = enc.seq;
        assert_eq!((again, seq), (first, after));
        let mut classic = Vec::new();
        assert!(!c.write(&mut Encoder::new(&mut classic, 1, cap::PROTOCOL_41), 0));
        assert!(classic.is_empty());
    }
}
