//! Command-phase answers: `OK_Packet`, `ERR_Packet`, `EOF_Packet`,
//! `ColumnDefinition41` and text resultset rows, plus [`Encoder`], which frames
//! them with sequence ids and follows the negotiated capabilities
//! (CLIENT_DEPRECATE_EOF decides whether resultsets end with EOF or with an OK
//! carrying the 0xFE header).

use super::consts::{cap, charset, coltype};
use super::error::{Error, Result};
use super::packet;
use super::wire::{put_lenenc_int, put_lenenc_str, put_u16, put_u32, Reader};

/// An OK packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OkPacket<'a> {
    /// Rows changed (or found, with CLIENT_FOUND_ROWS).
    pub affected_rows: u64,
    /// Last AUTO_INCREMENT id.
    pub last_insert_id: u64,
    /// Server status flags.
    pub status: u16,
    /// Warning count.
    pub warnings: u16,
    /// Human-readable info ("Rows matched: ...").
    pub info: &'a [u8],
}

/// Header byte of an OK packet.
pub const OK_HEADER: u8 = 0x00;
/// Header byte of an EOF packet, and of an OK packet that ends a resultset.
pub const EOF_HEADER: u8 = 0xfe;
/// Header byte of an ERR packet.
pub const ERR_HEADER: u8 = 0xff;

impl OkPacket<'_> {
    /// Appends the payload with the given header (0x00, or 0xFE to end a resultset
    /// under CLIENT_DEPRECATE_EOF).
    pub fn encode(&self, out: &mut Vec<u8>, header: u8) {
        out.push(header);
        put_lenenc_int(out, self.affected_rows);
        put_lenenc_int(out, self.last_insert_id);
        put_u16(out, self.status);
        put_u16(out, self.warnings);
        // The manual says string<EOF>; MySQL's net_send_ok writes a
        // length-encoded string (net_store_data), and libmysql's read_ok_ex
        // and the drivers read one. Nothing at all when there is no info.
        if !self.info.is_empty() {
            put_lenenc_str(out, self.info);
        }
    }
}

/// Decodes an OK payload (header 0x00 or 0xFE), 4.1 protocol.
pub fn decode_ok(payload: &[u8]) -> Result<OkPacket<'_>> {
    let mut r = Reader::new(payload);
    match r.u8("ok header")? {
        OK_HEADER | EOF_HEADER => {}
        _ => return Err(Error::Malformed("ok header")),
    }
    let affected_rows = r.lenenc_int("affected rows")?.unwrap_or(0);
    let last_insert_id = r.lenenc_int("last insert id")?.unwrap_or(0);
    let status = if r.is_empty() { 0 } else { r.u16("status")? };
    let warnings = if r.is_empty() { 0 } else { r.u16("warnings")? };
    // length-encoded, as MySQL writes it (see `OkPacket::encode`); a peer
    // that wrote it to the end of the packet is read as that
    let rest = r.rest();
    let mut ri = Reader::new(rest);
    let info = match ri.lenenc_str("info") {
        Ok(s) if ri.is_empty() => s,
        _ => rest,
    };
    Ok(OkPacket {
        affected_rows,
        last_insert_id,
        status,
        warnings,
        info,
    })
}

/// An ERR packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrPacket<'a> {
    /// MySQL error code, e.g. 1045.
    pub code: u16,
    /// SQLSTATE, always 5 bytes on the wire.
    pub sqlstate: [u8; 5],
    /// Message text.
    pub message: &'a [u8],
}

impl<'a> ErrPacket<'a> {
    /// An error with a message and the SQLSTATE given as text; a SQLSTATE that is
    /// not 5 bytes long is padded with '0' or truncated so the packet stays well formed.
    pub fn new(code: u16, sqlstate: &str, message: &'a [u8]) -> Self {
        ErrPacket {
            code,
            sqlstate: sqlstate_bytes(sqlstate.as_bytes()),
            message,
        }
    }

    /// Appends the payload. Without PROTOCOL_41 the '#'+SQLSTATE part is left out,
    /// as pre-4.1 clients expect.
    pub fn encode(&self, out: &mut Vec<u8>, capabilities: u32) {
        out.push(ERR_HEADER);
        put_u16(out, self.code);
        if capabilities & cap::PROTOCOL_41 != 0 {
            out.push(b'#');
            out.extend_from_slice(&self.sqlstate);
        }
        out.extend_from_slice(self.message);
    }
}

/// Fits any byte string into the 5-byte SQLSTATE field: the first 5 bytes, padded
/// with '0' when shorter (MySQL Proxy copied a short state unpadded and produced a
/// short field that clients then mis-parsed).
pub fn sqlstate_bytes(s: &[u8]) -> [u8; 5] {
    let mut st = *b"00000";
    for (d, s) in st.iter_mut().zip(s) {
        *d = *s;
    }
    st
}

/// Decodes an ERR payload (4.1 protocol: the SQLSTATE marker is optional).
pub fn decode_err(payload: &[u8]) -> Result<ErrPacket<'_>> {
    let mut r = Reader::new(payload);
    if r.u8("err header")? != ERR_HEADER {
        return Err(Error::Malformed("err header"));
    }
    let code = r.u16("error code")?;
    let mut sqlstate = *b"HY000";
    if r.peek() == Some(b'#') {
        r.skip(1, "sqlstate marker")?;
        sqlstate = r
            .bytes(5, "sqlstate")?
            .try_into()
            .map_err(|_| Error::Malformed("sqlstate"))?;
    }
    Ok(ErrPacket {
        code,
        sqlstate,
        message: r.rest(),
    })
}

/// Appends an EOF payload.
pub fn encode_eof(out: &mut Vec<u8>, warnings: u16, status: u16) {
    out.push(EOF_HEADER);
    put_u16(out, warnings);
    put_u16(out, status);
}

/// True for a payload that is an EOF packet (0xFE header, shorter than 9 bytes),
/// as opposed to a row that starts with a long lenenc value.
pub fn is_eof(payload: &[u8]) -> bool {
    payload.first() == Some(&EOF_HEADER) && payload.len() < 9
}

/// A column definition (`ColumnDefinition41`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnDef {
    /// Schema (database) name.
    pub schema: Vec<u8>,
    /// Table alias.
    pub table: Vec<u8>,
    /// Physical table name.
    pub org_table: Vec<u8>,
    /// Column alias: what clients show as the column name.
    pub name: Vec<u8>,
    /// Physical column name.
    pub org_name: Vec<u8>,
    /// Collation id; 63 (binary) for numbers, dates and blobs.
    pub charset: u16,
    /// Maximum display length.
    pub length: u32,
    /// Column type (`coltype::*`).
    pub coltype: u8,
    /// Column flags (`colflag::*`).
    pub flags: u16,
    /// Decimals (31 = not fixed, for floating point).
    pub decimals: u8,
}

impl ColumnDef {
    /// A column named `name` of type `coltype` with the charset, length and flags a
    /// MySQL 8 server would give an expression of that type.
    pub fn new(name: &[u8], coltype: u8) -> ColumnDef {
        let (charset, length, flags, decimals) = type_defaults(coltype);
        ColumnDef {
            schema: Vec::new(),
            table: Vec::new(),
            org_table: Vec::new(),
            name: name.to_vec(),
            org_name: Vec::new(),
            charset,
            length,
            coltype,
            flags,
            decimals,
        }
    }

    /// Appends the payload. `field_list` adds the (empty) default-value field that
    /// COM_FIELD_LIST answers carry.
    pub fn encode(&self, out: &mut Vec<u8>, field_list: bool) {
        put_lenenc_str(out, b"def"); // catalog: always "def"
        put_lenenc_str(out, &self.schema);
        put_lenenc_str(out, &self.table);
        put_lenenc_str(out, &self.org_table);
        put_lenenc_str(out, &self.name);
        put_lenenc_str(out, &self.org_name);
        out.push(0x0c); // length of the fixed-length fields that follow
        put_u16(out, self.charset);
        put_u32(out, self.length);
        out.push(self.coltype);
        put_u16(out, self.flags);
        out.push(self.decimals);
        put_u16(out, 0); // filler
        if field_list {
            out.push(0xfb); // default value: NULL
        }
    }

    /// Decodes a `ColumnDefinition41` payload.
    pub fn decode(payload: &[u8]) -> Result<ColumnDef> {
        let mut r = Reader::new(payload);
        let _catalog = r.lenenc_str("catalog")?;
        let schema = r.lenenc_str("schema")?.to_vec();
        let table = r.lenenc_str("table")?.to_vec();
        let org_table = r.lenenc_str("org_table")?.to_vec();
        let name = r.lenenc_str("name")?.to_vec();
        let org_name = r.lenenc_str("org_name")?.to_vec();
        let _fixed = r.lenenc_int("fixed length")?;
        Ok(ColumnDef {
            schema,
            table,
            org_table,
            name,
            org_name,
            charset: r.u16("charset")?,
            length: r.u32("column length")?,
            coltype: r.u8("column type")?,
            flags: r.u16("flags")?,
            decimals: r.u8("decimals")?,
        })
    }
}

/// (charset, length, flags, decimals) that MySQL 8 reports for an expression of
/// the given type: text is utf8mb4, everything else binary; lengths are the
/// type's display width so that drivers size their buffers correctly.
pub fn type_defaults(t: u8) -> (u16, u32, u16, u8) {
    use super::consts::colflag::{BINARY, BLOB, NUM};
    match t {
        coltype::TINY => (charset::BINARY, 4, NUM, 0),
        coltype::SHORT => (charset::BINARY, 6, NUM, 0),
        coltype::INT24 => (charset::BINARY, 9, NUM, 0),
        coltype::LONG => (charset::BINARY, 11, NUM, 0),
        coltype::LONGLONG => (charset::BINARY, 21, NUM, 0),
        coltype::FLOAT => (charset::BINARY, 12, NUM, 31),
        coltype::DOUBLE => (charset::BINARY, 22, NUM, 31),
        coltype::DECIMAL | coltype::NEWDECIMAL => (charset::BINARY, 12, NUM, 2),
        coltype::YEAR => (charset::BINARY, 4, NUM, 0),
        coltype::DATE | coltype::NEWDATE => (charset::BINARY, 10, BINARY, 0),
        coltype::TIME | coltype::TIME2 => (charset::BINARY, 10, BINARY, 0),
        coltype::DATETIME | coltype::DATETIME2 | coltype::TIMESTAMP | coltype::TIMESTAMP2 => {
            (charset::BINARY, 19, BINARY, 0)
        }
        coltype::NULL => (charset::BINARY, 0, BINARY, 0),
        coltype::BIT => (charset::BINARY, 1, 0, 0),
        coltype::TINY_BLOB | coltype::MEDIUM_BLOB | coltype::LONG_BLOB | coltype::BLOB => {
            (charset::BINARY, 65535, BLOB | BINARY, 0)
        }
        coltype::GEOMETRY => (charset::BINARY, 4_294_967_295, BLOB | BINARY, 0),
        coltype::JSON => (charset::BINARY, 4_294_967_295, BLOB | BINARY, 0),
        // VARCHAR-ish text: 256 characters of utf8mb4 (4 bytes each).
        _ => (charset::UTF8MB4, 1024, 0, 0),
    }
}

/// Appends a text-protocol row payload: each cell is NULL (0xFB) or a lenenc string.
#[inline]
pub fn encode_text_row<'c, I>(out: &mut Vec<u8>, cells: I)
where
    I: IntoIterator<Item = Option<&'c [u8]>>,
{
    for c in cells {
        match c {
            None => out.push(0xfb),
            Some(v) => put_lenenc_str(out, v),
        }
    }
}

/// Decodes a text-protocol row of `columns` cells.
pub fn decode_text_row(payload: &[u8], columns: usize) -> Result<Vec<Option<&[u8]>>> {
    let mut r = Reader::new(payload);
    let mut cells = Vec::with_capacity(columns);
    for _ in 0..columns {
        cells.push(r.lenenc_bytes("row cell")?);
    }
    if !r.is_empty() {
        return Err(Error::Malformed("row has more cells than columns"));
    }
    Ok(cells)
}

/// Writes framed answers into an output buffer, numbering packets from `seq` and
/// following the negotiated capabilities.
///
/// A resultset is `columns(..)`, any number of `row(..)`, then `end(..)`.
#[derive(Debug)]
pub struct Encoder<'a> {
    out: &'a mut Vec<u8>,
    /// Next sequence id.
    pub seq: u8,
    capabilities: u32,
    /// Length of `out` at which a producer that can pause should pause (the
    /// connection's write high-water mark, less what is already queued).
    pause_at: usize,
    /// Length of `out` past which an answer that cannot pause must be
    /// abandoned (the per-command answer budget).
    give_up_at: usize,
}

impl<'a> Encoder<'a> {
    /// An encoder appending to `out`, first packet numbered `seq`.
    pub fn new(out: &'a mut Vec<u8>, seq: u8, capabilities: u32) -> Self {
        Encoder {
            out,
            seq,
            capabilities,
            pause_at: usize::MAX,
            give_up_at: usize::MAX,
        }
    }

    /// Sets the bounds of this answer, as byte counts from the current end of
    /// the buffer: `pause_after` for producers that can resume later
    /// ([`Encoder::should_pause`]), `give_up_after` for those that cannot
    /// ([`Encoder::budget_end`]).
    pub fn bounded(mut self, pause_after: usize, give_up_after: usize) -> Self {
        let at = self.out.len();
        self.pause_at = at.saturating_add(pause_after);
        self.give_up_at = at.saturating_add(give_up_after);
        self
    }

    /// True once the answer has reached the point where a producer that can
    /// resume should stop and let the client read.
    pub fn should_pause(&self) -> bool {
        self.out.len() >= self.pause_at
    }

    /// Bytes that may still be written before [`Encoder::should_pause`].
    pub fn room(&self) -> usize {
        self.pause_at.saturating_sub(self.out.len())
    }

    /// The buffer length past which the answer is over budget.
    pub fn budget_end(&self) -> usize {
        self.give_up_at
    }

    /// Negotiated capabilities.
    pub fn capabilities(&self) -> u32 {
        self.capabilities
    }

    /// True when resultsets end with OK (0xFE) and column definitions are not
    /// followed by an EOF.
    pub fn deprecate_eof(&self) -> bool {
        self.capabilities & cap::DEPRECATE_EOF != 0
    }

    /// The underlying buffer, to append raw bytes (already framed).
    pub fn raw(&mut self) -> &mut Vec<u8> {
        self.out
    }

    /// Appends one packet whose payload is written by `f`.
    #[inline]
    pub fn packet(&mut self, f: impl FnOnce(&mut Vec<u8>)) {
        let start = packet::begin(self.out);
        f(self.out);
        packet::finish(self.out, start, &mut self.seq);
    }

    /// Appends one packet whose payload is written by `f`, unless `f` returns
    /// false: then nothing of it stays and the sequence id does not advance.
    #[inline]
    pub fn packet_or_nothing(&mut self, f: impl FnOnce(&mut Vec<u8>) -> bool) -> bool {
        let start = packet::begin(self.out);
        if f(self.out) {
            packet::finish(self.out, start, &mut self.seq);
            true
        } else {
            self.out.truncate(start);
            false
        }
    }

    /// An OK packet.
    pub fn ok(&mut self, ok: &OkPacket<'_>) {
        self.packet(|o| ok.encode(o, OK_HEADER));
    }

    /// An ERR packet.
    pub fn err(&mut self, err: &ErrPacket<'_>) {
        let caps = self.capabilities;
        self.packet(|o| err.encode(o, caps));
    }

    /// An EOF packet (or, under DEPRECATE_EOF, nothing: callers use [`Encoder::end`]).
    pub fn eof(&mut self, warnings: u16, status: u16) {
        self.packet(|o| encode_eof(o, warnings, status));
    }

    /// The column count, the definitions, and (without DEPRECATE_EOF) an EOF.
    pub fn columns(&mut self, cols: &[ColumnDef], status: u16) {
        self.packet(|o| put_lenenc_int(o, cols.len() as u64));
        for c in cols {
            self.packet(|o| c.encode(o, false));
        }
        if !self.deprecate_eof() {
            self.eof(0, status);
        }
    }

    /// One text row.
    #[inline]
    pub fn row<'c, I>(&mut self, cells: I)
    where
        I: IntoIterator<Item = Option<&'c [u8]>>,
    {
        self.packet(|o| encode_text_row(o, cells));
    }

    /// Ends a resultset: EOF, or OK with the 0xFE header under DEPRECATE_EOF.
    pub fn end(&mut self, warnings: u16, status: u16) {
        if self.deprecate_eof() {
            let ok = OkPacket {
                status,
                warnings,
                ..OkPacket::default()
            };
            self.packet(|o| ok.encode(o, EOF_HEADER));
        } else {
            self.eof(warnings, status);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::consts::status;

    use crate::protocol::test_hex as hex;

    /// OK_Packet example from the documentation: 07 00 00 02 00 00 00 02 00 00 00.
    #[test]
    fn ok_packet_documented_vector() {
        let mut out = Vec::new();
        let mut e = Encoder::new(&mut out, 2, cap::PROTOCOL_41);
        e.ok(&OkPacket {
            status: status::AUTOCOMMIT,
            ..OkPacket::default()
        });
        assert_eq!(out, hex("07 00 00 02 00 00 00 02 00 00 00"));
        let ok = decode_ok(&out[4..]).expect("test vector");
        assert_eq!(ok.status, status::AUTOCOMMIT);
    }

    /// ERR_Packet example from the documentation:
    /// ff 48 04 23 48 59 30 30 30 "No tables used".
    #[test]
    fn err_packet_documented_vector() {
        let mut out = Vec::new();
        ErrPacket::new(1096, "HY000", b"No tables used").encode(&mut out, cap::PROTOCOL_41);
        let mut want = hex("ff 48 04 23 48 59 30 30 30");
        want.extend_from_slice(b"No tables used");
        assert_eq!(out, want);
        let e = decode_err(&out).expect("test vector");
        assert_eq!(
            (e.code, &e.sqlstate, e.message),
            (1096, b"HY000", &b"No tables used"[..])
        );
    }

    /// EOF_Packet example from the documentation: 05 00 00 05 fe 00 00 02 00.
    #[test]
    fn eof_packet_documented_vector() {
        let mut out = Vec::new();
        let mut e = Encoder::new(&mut out, 5, cap::PROTOCOL_41);
        e.eof(0, status::AUTOCOMMIT);
        assert_eq!(out, hex("05 00 00 05 fe 00 00 02 00"));
    }

    #[test]
    fn short_sqlstate_is_padded() {
        assert_eq!(&sqlstate_bytes(b"!101"), b"!1010");
        assert_eq!(&sqlstate_bytes(b"42S02xyz"), b"42S02");
        assert_eq!(&sqlstate_bytes(b""), b"00000");
    }

    /// A column definition for `SELECT @@version_comment` as MySQL 8 sends it.
    #[test]
    fn column_definition_round_trip() {
        let c = ColumnDef::new(b"@@version_comment", coltype::VAR_STRING);
        let mut out = Vec::new();
        c.encode(&mut out, false);
        assert_eq!(&out[..4], b"\x03def");
        assert_eq!(ColumnDef::decode(&out).expect("test vector"), c);
        // (the 2-byte filler at the end is not required by the decoder)
        for cut in 0..out.len() - 2 {
            assert!(ColumnDef::decode(&out[..cut]).is_err());
        }
    }

    #[test]
    fn resultset_framing_follows_deprecate_eof() {
        let cols = [ColumnDef::new(b"a", coltype::LONGLONG)];
        for (caps, packets) in [
            (cap::PROTOCOL_41, 5),
            (cap::PROTOCOL_41 | cap::DEPRECATE_EOF, 4),
        ] {
            let mut out = Vec::new();
            let mut e = Encoder::new(&mut out, 1, caps);
            e.columns(&cols, status::AUTOCOMMIT);
            e.row([Some(&b"1"[..])]);
            e.end(0, status::AUTOCOMMIT);
            assert_eq!(e.seq, 1 + packets);
            let mut pos = 0;
            let mut last = Vec::new();
            let mut n = 0;
            let frames = |o: &[u8]| packet::decode_frame(o, 1 << 20).expect("test vector");
            while let Some(f) = frames(out.get(pos..).unwrap_or_default()) {
                last = out[pos + 4..pos + f.consumed].to_vec();
                pos += f.consumed;
                n += 1;
            }
            assert_eq!(n, packets);
            assert_eq!(last[0], EOF_HEADER);
        }
    }

    #[test]
    fn text_row_with_null() {
        let mut out = Vec::new();
        encode_text_row(&mut out, [Some(&b"ab"[..]), None, Some(&b""[..])]);
        assert_eq!(out, hex("02 61 62 fb 00"));
        assert_eq!(
            decode_text_row(&out, 3).expect("test vector"),
            vec![Some(&b"ab"[..]), None, Some(&b""[..])]
        );
        assert!(decode_text_row(&out, 2).is_err());
    }
}
