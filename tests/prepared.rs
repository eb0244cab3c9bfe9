//! Prepared statements (issue 9) through the Rust `mysql` crate's `exec*`
//! (always server-side prepared, binary rows) and raw sockets for the limits.

mod common;

use mysql::prelude::Queryable;
use mysql::{Conn, Value};
use std::path::PathBuf;
use understudy::protocol::response::decode_err;

fn rules_server() -> understudy::ServerHandle {
    let mut cfg = common::config();
    cfg.lua_script = Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/rules.lua"));
    common::start(cfg)
}

fn conn(server: &understudy::ServerHandle) -> Conn {
    Conn::new(common::opts(server, "u", "p", None)).unwrap()
}

fn err_of(e: mysql::Error) -> (u16, String, String) {
    match e {
        mysql::Error::MySqlError(e) => (e.code, e.state, e.message),
        other => panic!("not a server error: {other:?}"),
    }
}

/// The built-in answers answer prepared statements by the text rules: one
/// parameter of each type comes back as the literal it was substituted as.
#[test]
fn built_in_answers_answer_prepared_selects() {
    let server = common::start(common::config());
    let mut c = conn(&server);
    let v: Option<i64> = c.exec_first("SELECT ?", (-7i64,)).unwrap();
    assert_eq!(v, Some(-7));
    let v: Option<u64> = c.exec_first("SELECT ?", (u64::MAX,)).unwrap();
    assert_eq!(v, Some(u64::MAX));
    let v: Option<String> = c.exec_first("SELECT ?", ("it's \\ \u{e9}",)).unwrap();
    assert_eq!(v.as_deref(), Some("it's \\ \u{e9}"));
    let v: Option<Vec<u8>> = c.exec_first("SELECT ?", (vec![0u8, 0xff, b'\''],)).unwrap();
    assert_eq!(v, Some(vec![0u8, 0xff, b'\'']));
    let v: Option<f64> = c.exec_first("SELECT ?", (2.5f64,)).unwrap();
    assert_eq!(v, Some(2.5));
    let row: Option<mysql::Row> = c.exec_first("SELECT ?, ?", (Value::NULL, 3)).unwrap();
    let row = row.unwrap();
    assert_eq!(row.get::<Option<i64>, _>(0), Some(None));
    assert_eq!(row.get::<i64, _>(1), Some(3));
    // `SELECT ?` is named `?` and typed as the parameter, as MySQL does
    let when = Value::Date(2024, 1, 31, 12, 34, 56, 123_456);
    let row: mysql::Row = c.exec_first("SELECT ?", (when.clone(),)).unwrap().unwrap();
    assert_eq!(row.columns_ref()[0].name_str(), "?");
    assert_eq!(
        row.columns_ref()[0].column_type(),
        mysql::consts::ColumnType::MYSQL_TYPE_DATETIME
    );
    assert_eq!(row.as_ref(0), Some(&when));
    let row: mysql::Row = c
        .exec_first("SELECT ? AS t, 'lit'", (Value::Time(true, 1, 2, 3, 4, 5),))
        .unwrap()
        .unwrap();
    assert_eq!(row.columns_ref()[0].name_str(), "t");
    assert_eq!(row.as_ref(0), Some(&Value::Time(true, 1, 2, 3, 4, 5)));
    assert_eq!(row.columns_ref()[1].name_str(), "lit");
    // SHOW DATABASES, variables, SET, BEGIN: as in text
    let dbs: Vec<String> = c.exec("SHOW DATABASES", ()).unwrap();
    assert_eq!(dbs.len(), 70);
    assert_eq!(dbs[69], "db_70");
    let p: Option<u64> = c.exec_first("SELECT @@max_allowed_packet", ()).unwrap();
    assert_eq!(p, Some(64 << 20));
    c.exec_drop("SET @a = ?", (42,)).unwrap();
    let a: Option<i64> = c.query_first("SELECT @a").unwrap();
    assert_eq!(a, Some(42));
    c.exec_drop("BEGIN", ()).unwrap();
    c.exec_drop("COMMIT", ()).unwrap();
    // the unknown query: the seed's ERR, and the connection goes on
    let e = c
        .exec_drop("SELECT * FROM nothing WHERE id = ?", (1,))
        .unwrap_err();
    assert_eq!(
        err_of(e),
        (
            101,
            "HY000".to_string(),
            "I haven't learnt how to handle that query".to_string()
        )
    );
    let one: Option<i64> = c.exec_first("SELECT ?", (1,)).unwrap();
    assert_eq!(one, Some(1));
}

/// A script's text rules answer executions too, in binary rows typed by the
/// script's fields: every type decoded exactly, OK counts, ERR, the same
/// statement twice, a 200,000-row answer.
#[test]
fn text_rules_of_a_script_answer_executions() {
    let server = rules_server();
    let mut c = conn(&server);
    let rows: Vec<mysql::Row> = c.exec("SELECT * FROM typed", ()).unwrap();
    assert_eq!(rows.len(), 3);
    let r = &rows[0];
    assert_eq!(r.get::<i8, _>(0), Some(-128));
    assert_eq!(r.get::<i16, _>(1), Some(-32768));
    assert_eq!(r.get::<i32, _>(2), Some(i32::MIN));
    assert_eq!(r.get::<i64, _>(3), Some(i64::MIN));
    assert_eq!(r.get::<u64, _>(4), Some(u64::MAX));
    assert_eq!(r.get::<f32, _>(5), Some(1.5));
    assert_eq!(r.get::<f64, _>(6), Some(-2.25));
    assert_eq!(r.get::<String, _>(7).as_deref(), Some("12345678.123456"));
    assert_eq!(
        r.get::<String, _>(8).as_deref(),
        Some("h\u{e9}llo \u{2713}")
    );
    assert_eq!(r.get::<Vec<u8>, _>(9), Some(vec![0, 1, 255]));
    assert_eq!(r.as_ref(10), Some(&Value::Date(2024, 1, 31, 0, 0, 0, 0)));
    assert_eq!(
        r.as_ref(11),
        Some(&Value::Date(2024, 1, 31, 12, 34, 56, 123456))
    );
    assert_eq!(
        r.as_ref(12),
        Some(&Value::Date(1999, 12, 31, 23, 59, 59, 0))
    );
    assert_eq!(r.as_ref(13), Some(&Value::Time(true, 34, 22, 59, 59, 0)));
    assert_eq!(r.get::<u16, _>(14), Some(2024));
    assert!(rows[2].clone().unwrap().iter().all(|v| *v == Value::NULL));
    // OK with counts
    let res = c.exec_iter("INSERT INTO t VALUES (?)", (1,)).unwrap();
    assert_eq!((res.affected_rows(), res.last_insert_id()), (3, Some(42)));
    drop(res);
    // ERR, connection usable after
    let e = c.exec_drop("SELECT * FROM missing", ()).unwrap_err();
    assert_eq!(
        err_of(e),
        (
            1146,
            "42S02".to_string(),
            "Table 'test.missing' doesn't exist".to_string()
        )
    );
    // the same statement twice
    let stmt = c.prep("SELECT name FROM users WHERE id = ?").unwrap();
    assert_eq!(stmt.num_columns(), 1, "columns announced at prepare");
    assert_eq!(stmt.num_params(), 1);
    for id in [7, 8] {
        let n: Option<String> = c.exec_first(&stmt, (id,)).unwrap();
        assert_eq!(n, Some(format!("user-{id}")));
    }
    // 200,000 binary rows
    let mut count = 0u64;
    let mut sum_id = 0i64;
    let mut sum_val = 0i64;
    c.exec_map(
        "SELECT * FROM big",
        (),
        |(id, _name, val): (i64, String, i64)| {
            count += 1;
            sum_id += id;
            sum_val += val;
        },
    )
    .unwrap();
    let want_val: i64 = (1..=200_000i64)
        .map(|i| (i * 7919) % 100_003 - 50_000)
        .sum();
    assert_eq!(
        (count, sum_id, sum_val),
        (200_000, 20_000_100_000, want_val)
    );
}

/// Limits, each a clear ERR with the connection going on: an unknown
/// statement id (1243), a truncated parameter block (1210), more statements
/// than `max_prepared_stmts` (1461); long data, reset and close.
#[test]
fn statement_limits_and_commands_on_a_raw_socket() {
    let mut cfg = common::config();
    cfg.max_prepared_stmts = 3;
    let server = common::start(cfg);
    let mut s = common::login(&server, "u", "p");
    let exec = |id: u32, rest: &[u8]| {
        let mut p = vec![0x17];
        p.extend(id.to_le_bytes());
        p.push(0); // flags
        p.extend(1u32.to_le_bytes());
        p.extend_from_slice(rest);
        p
    };
    // unknown id
    common::write_packet(&mut s, 0, &exec(99, &[]));
    let a = common::read_answer(&mut s);
    assert_eq!(decode_err(&a[0]).unwrap().code, 1243);
    // prepare `SELECT ?`: PREPARE_OK, one param definition, one column
    common::write_packet(&mut s, 0, b"\x16SELECT ?");
    let (_, ok) = common::read_packet(&mut s).unwrap();
    let ok = understudy::protocol::binary::PrepareOk::decode(&ok).unwrap();
    assert_eq!((ok.params, ok.columns), (1, 1));
    // DEPRECATE_EOF was negotiated by common::login: param def, column def
    for _ in 0..2 {
        common::read_packet(&mut s).unwrap();
    }
    let id = ok.statement_id;
    // a truncated parameter block: the types say LONGLONG, no value follows
    common::write_packet(&mut s, 0, &exec(id, &[0x00, 0x01, 0x08, 0x00]));
    let a = common::read_answer(&mut s);
    assert_eq!(decode_err(&a[0]).unwrap().code, 1210);
    // long data for parameter 0, then an execution that takes it
    let mut ld = vec![0x18];
    ld.extend(id.to_le_bytes());
    ld.extend(0u16.to_le_bytes());
    ld.extend_from_slice(b"long 'data'");
    common::write_packet(&mut s, 0, &ld);
    common::write_packet(&mut s, 0, &exec(id, &[0x00, 0x01, 0xfe, 0x00]));
    let a = common::read_answer(&mut s);
    assert_eq!(a.len(), 4, "count, column, row, OK: {a:?}");
    assert_eq!(&a[2][..], b"\x00\x00\x0blong 'data'");
    // the types are remembered: an execution without them, with a value
    common::write_packet(&mut s, 0, &exec(id, &[0x00, 0x00, 0x02, b'h', b'i']));
    let a = common::read_answer(&mut s);
    assert_eq!(&a[2][..], b"\x00\x00\x02hi");
    // COM_STMT_RESET answers OK; COM_STMT_CLOSE nothing
    let mut reset = vec![0x1a];
    reset.extend(id.to_le_bytes());
    common::write_packet(&mut s, 0, &reset);
    assert_eq!(common::read_packet(&mut s).unwrap().1[0], 0x00);
    // the per-connection limit: 3 statements, the 4th refused
    for _ in 0..2 {
        common::write_packet(&mut s, 0, b"\x16SELECT 1");
        let a = common::read_answer_one(&mut s);
        assert_eq!(a[0][0], 0x00);
        common::read_packet(&mut s).unwrap(); // the column definition
    }
    common::write_packet(&mut s, 0, b"\x16SELECT 1");
    let a = common::read_answer(&mut s);
    assert_eq!(decode_err(&a[0]).unwrap().code, 1461);
    let mut close = vec![0x19];
    close.extend(id.to_le_bytes());
    common::write_packet(&mut s, 0, &close);
    // closed: its id is unknown now, and there is room for one more
    common::write_packet(&mut s, 0, &exec(id, &[]));
    let a = common::read_answer(&mut s);
    assert_eq!(decode_err(&a[0]).unwrap().code, 1243);
    common::write_packet(&mut s, 0, b"\x16SELECT 1");
    let a = common::read_answer_one(&mut s);
    assert_eq!(a[0][0], 0x00, "room again after CLOSE");
    common::read_packet(&mut s).unwrap();
    // and the connection still answers text queries
    assert_eq!(common::query(&mut s, "SELECT 1").len(), 4);
}

/// A read-only cursor: the execution sends the columns with
/// SERVER_STATUS_CURSOR_EXISTS, COM_STMT_FETCH the rows in batches, the last
/// batch with LAST_ROW_SENT.
#[test]
fn cursor_fetches_rows_in_batches() {
    let server = common::start(common::config());
    let mut s = common::login(&server, "u", "p");
    common::write_packet(&mut s, 0, b"\x16SHOW DATABASES");
    let (_, ok) = common::read_packet(&mut s).unwrap();
    let ok = understudy::protocol::binary::PrepareOk::decode(&ok).unwrap();
    assert_eq!((ok.params, ok.columns), (0, 1));
    common::read_packet(&mut s).unwrap();
    let mut p = vec![0x17];
    p.extend(ok.statement_id.to_le_bytes());
    p.push(0x01); // CURSOR_TYPE_READ_ONLY
    p.extend(1u32.to_le_bytes());
    common::write_packet(&mut s, 0, &p);
    let a = common::read_answer(&mut s);
    assert_eq!(a.len(), 3, "count, column, EOF: {a:?}");
    let status = u16::from_le_bytes([a[2][3], a[2][4]]);
    assert_ne!(status & 0x0040, 0, "CURSOR_EXISTS");
    let mut rows = 0;
    let mut fetches = 0;
    loop {
        let mut f = vec![0x1c];
        f.extend(ok.statement_id.to_le_bytes());
        f.extend(30u32.to_le_bytes());
        common::write_packet(&mut s, 0, &f);
        // binary rows start with 0x00: read to the 0xFE terminator
        let mut a = Vec::new();
        loop {
            let (_, p) = common::read_packet(&mut s).unwrap();
            let end = p[0] == 0xfe && p.len() < 9;
            a.push(p);
            if end {
                break;
            }
        }
        fetches += 1;
        rows += a.len() - 1;
        let end = a.last().unwrap();
        let status = u16::from_le_bytes([end[3], end[4]]);
        if status & 0x0080 != 0 {
            break;
        }
        assert!(fetches < 10, "{rows} rows, last {end:?}");
    }
    assert_eq!((rows, fetches), (70, 3));
    // no cursor any more
    let mut f = vec![0x1c];
    f.extend(ok.statement_id.to_le_bytes());
    f.extend(30u32.to_le_bytes());
    common::write_packet(&mut s, 0, &f);
    let a = common::read_answer(&mut s);
    assert_eq!(decode_err(&a[0]).unwrap().code, 1421);
}

/// A script that answers a PREPARE in raw packets owns the statement: its
/// executions reach read_query raw; one that does not leaves it to the server.
#[test]
fn a_script_owns_the_statements_it_prepares() {
    let shared = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/compat/lua/compat.lua");
    if !shared.exists() {
        panic!("../shared/compat/lua/compat.lua is missing");
    }
    let mut cfg = common::config();
    cfg.lua_script = Some(shared);
    let server = common::start(cfg);
    let mut c = conn(&server);
    for id in [7, 8] {
        let n: Option<String> = c
            .exec_first("SELECT name FROM users WHERE id = ?", (id,))
            .unwrap();
        assert_eq!(n, Some(format!("user-{id}")), "the script's own statement");
    }
    // left to the server: answered by the script's COM_QUERY rules
    let rows: Vec<mysql::Row> = c.exec("SELECT * FROM typed", ()).unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0].get::<i64, _>(2), Some(9_007_199_254_740_993));
    let dbs: Vec<String> = c.exec("SHOW DATABASES", ()).unwrap();
    assert_eq!(dbs.len(), 70);
}

/// Literals drivers write when they substitute parameters themselves (and
/// that the server writes for executions): the smallest BIGINT, exponents
/// with a sign, character set introducers (found by the Go and Java checks).
#[test]
fn literals_drivers_write_are_understood() {
    let server = common::start(common::config());
    let mut c = conn(&server);
    let v: Option<i64> = c.query_first("SELECT -9223372036854775808").unwrap();
    assert_eq!(v, Some(i64::MIN));
    let v: Option<i64> = c.exec_first("SELECT ?", (i64::MIN,)).unwrap();
    assert_eq!(v, Some(i64::MIN));
    for (text, want) in [
        ("1e+300", 1e300),
        ("1.25e-07", 1.25e-7),
        ("1.25E-7", 1.25e-7),
        ("-2.5e3", -2500.0),
    ] {
        let row: mysql::Row = c.query_first(format!("SELECT {text}")).unwrap().unwrap();
        assert_eq!(
            row.columns_ref()[0].column_type(),
            mysql::consts::ColumnType::MYSQL_TYPE_DOUBLE,
            "{text}"
        );
        assert_eq!(row.get::<f64, _>(0), Some(want), "{text}");
    }
    let v: Option<f64> = c.exec_first("SELECT ?", (1e300f64,)).unwrap();
    assert_eq!(v, Some(1e300));
    let v: Option<Vec<u8>> = c.query_first("SELECT _binary'\\0x'").unwrap();
    assert_eq!(v, Some(b"\0x".to_vec()));
    let v: Option<String> = c.query_first("SELECT _utf8mb4 'h\u{e9}'").unwrap();
    assert_eq!(v.as_deref(), Some("h\u{e9}"));
    // a query that is not UTF-8: Go's and Connector/J's bytes, raw
    let mut s = common::login(&server, "u", "p");
    common::write_packet(&mut s, 0, b"\x03SELECT _binary'\xff\x00\\'' , 'caf\xe9'");
    let a = common::read_answer(&mut s);
    assert_eq!(a.len(), 5, "{a:?}");
    assert_eq!(&a[3][..], b"\x03\xff\x00'\x04caf\xe9");
}

/// `SET tx_isolation` (MySQL 5.7's name) is what `@@transaction_isolation`
/// reads, and the other way round.
#[test]
fn variable_aliases_share_one_value() {
    let server = common::start(common::config());
    let mut c = conn(&server);
    c.query_drop("SET tx_isolation = 'READ-COMMITTED'").unwrap();
    let v: Option<String> = c.query_first("SELECT @@transaction_isolation").unwrap();
    assert_eq!(v.as_deref(), Some("READ-COMMITTED"));
    c.query_drop("SET SESSION transaction_isolation = 'SERIALIZABLE'")
        .unwrap();
    let v: Option<String> = c.query_first("SELECT @@tx_isolation").unwrap();
    assert_eq!(v.as_deref(), Some("SERIALIZABLE"));
}
