//! The command-phase decoders: `Command::decode` for every command byte under
//! arbitrary capabilities, and the other decoders of `src/protocol`: OK, ERR,
//! EOF, `ColumnDefinition41`, text rows and the wire reader's primitives.
//!
//! Input: 4 bytes of capabilities (little-endian; their bytes also script the
//! wire-reader walk), then the payload, given to every decoder.
//! Checks: no panic; decoded parts lie inside the payload; what the codec
//! encodes it decodes back (COM_CHANGE_USER, OK, ERR, column definitions and
//! rows), so a decoder and its encoder cannot drift apart.
#![no_main]

use libfuzzer_sys::fuzz_target;
use understudy::protocol::binary::{self, BinValue, ParamType};
use understudy::protocol::command::{self, Command};
use understudy::protocol::consts::cap;
use understudy::protocol::response::{self, ColumnDef, ErrPacket};
use understudy::protocol::wire::{self, Reader};
use understudy_fuzz::Choices;

fn within(part: &[u8], whole: &[u8]) -> bool {
    let (p, w) = (part.as_ptr() as usize, whole.as_ptr() as usize);
    part.is_empty() || (p >= w && p + part.len() <= w + whole.len())
}

fn commands(payload: &[u8], caps: u32) {
    let Ok(cmd) = Command::decode(payload, caps) else {
        return;
    };
    match cmd {
        Command::InitDb(b) | Command::Query(b) | Command::Other(_, b) => {
            assert!(within(b, payload))
        }
        Command::FieldList { table, wildcard } => {
            assert!(within(table, payload) && within(wildcard, payload));
            assert!(table.len() + wildcard.len() < payload.len());
        }
        Command::ChangeUser(cu) => {
            assert!(within(cu.username, payload) && within(cu.database, payload));
            assert!(within(cu.auth_response, payload));
            // Our encoder's output decodes to the same identity.
            let mut out = Vec::new();
            command::encode_change_user(&mut out, &cu);
            let both = cap::PROTOCOL_41 | cap::SECURE_CONNECTION | cap::PLUGIN_AUTH;
            match Command::decode(&out, both) {
                Ok(Command::ChangeUser(back)) => {
                    assert_eq!(back.username, cu.username);
                    assert_eq!(back.database, cu.database);
                    let n = cu.auth_response.len().min(255);
                    assert_eq!(back.auth_response, &cu.auth_response[..n]);
                }
                other => panic!("re-encoded COM_CHANGE_USER decodes as {other:?}"),
            }
        }
        Command::Prepare(b) => assert!(within(b, payload)),
        Command::Execute(body) => {
            assert!(within(body, payload));
            execute(body, caps);
        }
        Command::LongData(body) => {
            assert!(within(body, payload));
            let ld = binary::decode_long_data(body).expect("checked by Command::decode");
            assert!(within(ld.data, body));
        }
        Command::Quit
        | Command::Statistics
        | Command::Ping
        | Command::ResetConnection
        | Command::SetOption(_)
        | Command::StmtClose(_)
        | Command::StmtReset(_)
        | Command::Fetch { .. } => {}
    }
}

/// COM_STMT_EXECUTE's body for a statement of 0..=63 parameters (from the
/// capabilities' low byte), with remembered types or not, some parameters
/// sent as long data: no panic, byte values inside the body, and a value
/// re-encoded in its type decodes back the same.
fn execute(body: &[u8], caps: u32) {
    let n = (caps & 0x3f) as usize;
    let remembered: Vec<ParamType> = if caps & 0x40 != 0 {
        (0..n)
            .map(|i| ParamType::of((caps >> 8) as u8 ^ i as u8))
            .collect()
    } else {
        Vec::new()
    };
    let long: Vec<bool> = (0..n).map(|i| (caps >> (16 + i % 16)) & 1 == 1).collect();
    let Ok(ex) = binary::decode_execute(body, n, &remembered, &long) else {
        return;
    };
    assert_eq!(ex.values.len(), n);
    let types = ex.new_types.clone().unwrap_or(remembered);
    for (v, t) in ex.values.iter().zip(&types) {
        if let BinValue::Bytes(b) = v {
            assert!(within(b, body));
        }
        let mut out = Vec::new();
        if binary::encode_value(&mut out, *t, v).is_ok() && !matches!(v, BinValue::Null) {
            let mut r = Reader::new(&out);
            let back = binary::decode_value(&mut r, *t);
            assert!(back.is_ok(), "{v:?} as {t:?} does not decode back");
        }
    }
}

fn answers(payload: &[u8], caps: u32) {
    if let Ok(ok) = response::decode_ok(payload) {
        let mut out = Vec::new();
        ok.encode(&mut out, payload[0]);
        let back = response::decode_ok(&out).expect("re-encoded OK");
        assert_eq!(back, ok);
    }
    if let Ok(err) = response::decode_err(payload) {
        let mut out = Vec::new();
        err.encode(&mut out, caps | cap::PROTOCOL_41);
        // Under PROTOCOL_41 the SQLSTATE marker is always written, so even a
        // message that starts with '#' comes back exactly.
        assert_eq!(response::decode_err(&out), Ok(err));
        let mut out = Vec::new();
        ErrPacket::new(err.code, "", err.message).encode(&mut out, 0);
    }
    let _ = response::is_eof(payload);
    if let Ok(col) = ColumnDef::decode(payload) {
        for field_list in [false, true] {
            let mut out = Vec::new();
            col.encode(&mut out, field_list);
            assert_eq!(ColumnDef::decode(&out).expect("re-encoded column"), col);
        }
    }
    // A row of as many cells as the first byte says (the column count a
    // client read before): never more cells than bytes.
    if let Some((&n, row)) = payload.split_first() {
        if let Ok(cells) = response::decode_text_row(row, usize::from(n)) {
            assert!(cells.len() <= row.len());
            let mut out = Vec::new();
            response::encode_text_row(&mut out, cells.iter().copied());
            assert!(
                out.len() <= row.len(),
                "shortest lengths re-encode no longer"
            );
            assert_eq!(response::decode_text_row(&out, usize::from(n)), Ok(cells));
        }
    }
}

/// Walks the payload with the reader's primitives in an order taken from `script`.
fn reader_walk(payload: &[u8], script: [u8; 4]) {
    let mut r = Reader::new(payload);
    for step in 0..64usize {
        let op = script[step % 4].wrapping_add(step as u8);
        let before = r.remaining();
        let ok = match op % 11 {
            0 => r.u8("u8").is_ok(),
            1 => r.u16("u16").is_ok(),
            2 => r.u24("u24").is_ok(),
            3 => r.u32("u32").is_ok(),
            4 => r.u64("u64").is_ok(),
            5 => r.lenenc_int("lenenc").is_ok(),
            6 => r.lenenc_bytes("lenenc bytes").is_ok(),
            7 => r.nul_str("nul str").is_ok(),
            8 => r.nul_str_or_rest("nul str or rest").is_ok(),
            9 => r.skip(usize::from(op >> 4), "skip").is_ok(),
            _ => r.bytes(usize::from(op), "bytes").is_ok(),
        };
        assert!(r.remaining() <= before, "the reader never moves back");
        let _ = r.peek();
        if !ok || r.is_empty() {
            break;
        }
    }
    // Length-encoded integers round-trip and their length is what put writes.
    let mut r = Reader::new(payload);
    if let Ok(Some(v)) = r.lenenc_int("v") {
        let mut out = Vec::new();
        wire::put_lenenc_int(&mut out, v);
        assert_eq!(out.len(), wire::lenenc_int_len(v));
        assert_eq!(Reader::new(&out).lenenc_int("v"), Ok(Some(v)));
    }
}

fuzz_target!(|data: &[u8]| {
    let mut c = Choices::new(data);
    let caps = c.u32();
    let payload = c.rest();
    commands(payload, caps);
    answers(payload, caps);
    reader_walk(payload, caps.to_le_bytes());
});
