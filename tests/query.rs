//! Built-in answers through the real `mysql` crate.

mod common;

use mysql::prelude::Queryable;
use mysql::{Conn, Row, Value};

fn conn(server: &understudy::ServerHandle) -> Conn {
    Conn::new(common::opts(server, "anyone", "any", None)).expect("login")
}

#[test]
fn show_databases_lists_db_1_to_db_70() {
    let server = common::start(common::config());
    let mut c = conn(&server);
    let names: Vec<String> = c.query("SHOW DATABASES").unwrap();
    let want: Vec<String> = (1..=70).map(|i| format!("db_{i}")).collect();
    assert_eq!(names, want);
    // case and trailing ';'/spaces do not matter
    let names: Vec<String> = c.query("show databases ;  ").unwrap();
    assert_eq!(names.len(), 70);
    let rs = c.query_iter("SHOW DATABASES").unwrap();
    let cols = rs.columns();
    assert_eq!(cols.as_ref()[0].name_str(), "Database");
}

#[test]
fn unknown_query_is_error_101_and_connection_stays_usable() {
    let server = common::start(common::config());
    let mut c = conn(&server);
    let err = c.query_drop("SELECT foo FROM bar").unwrap_err();
    match err {
        mysql::Error::MySqlError(e) => {
            assert_eq!(e.code, 101);
            assert_eq!(e.message, "I haven't learnt how to handle that query");
        }
        other => panic!("unexpected {other:?}"),
    }
    let one: Option<i64> = c.query_first("SELECT 1").unwrap();
    assert_eq!(one, Some(1));
}

#[test]
fn default_database_and_use() {
    let server = common::start(common::config());
    let mut c = Conn::new(common::opts(&server, "a", "b", Some("somedb"))).unwrap();
    let db: Option<String> = c.query_first("SELECT DATABASE()").unwrap();
    assert_eq!(db.as_deref(), Some("somedb"));
    c.select_db("other").unwrap(); // COM_INIT_DB
    let db: Option<String> = c.query_first("SELECT DATABASE()").unwrap();
    assert_eq!(db.as_deref(), Some("other"));
    c.query_drop("USE `third`").unwrap();
    let db: Option<String> = c.query_first("select database()").unwrap();
    assert_eq!(db.as_deref(), Some("third"));
}

#[test]
fn select_lists_of_literals_variables_and_functions() {
    let server = common::start(common::config());
    let mut c = conn(&server);
    let row: Row = c
        .query_first("select @@version_comment limit 1")
        .unwrap()
        .unwrap();
    assert!(row.get::<String, _>(0).unwrap().contains("understudy"));
    assert_eq!(row.columns_ref()[0].name_str(), "@@version_comment");

    let row: Row = c
        .query_first("SELECT 1, 'two' AS t, NULL, -3, 2.50, @@session.auto_increment_increment AS aii, @@max_allowed_packet, CONNECTION_ID(), VERSION(), USER()")
        .unwrap()
        .unwrap();
    let names: Vec<String> = row
        .columns_ref()
        .iter()
        .map(|c| c.name_str().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "1",
            "t",
            "NULL",
            "-3",
            "2.50",
            "aii",
            "@@max_allowed_packet",
            "CONNECTION_ID()",
            "VERSION()",
            "USER()"
        ]
    );
    assert_eq!(row.get::<i64, _>(0), Some(1));
    assert_eq!(row.get::<String, _>(1).as_deref(), Some("two"));
    assert_eq!(row.as_ref(2), Some(&Value::NULL));
    assert_eq!(row.get::<i64, _>(3), Some(-3));
    assert_eq!(row.get::<String, _>(4).as_deref(), Some("2.50"));
    assert_eq!(row.get::<i64, _>(5), Some(1));
    assert_eq!(row.get::<i64, _>(6), Some(64 << 20));
    assert_eq!(row.get::<u32, _>(7), Some(c.connection_id()));
    assert_eq!(
        row.get::<String, _>(8).as_deref(),
        Some("8.0.36-understudy")
    );
    assert!(row.get::<String, _>(9).unwrap().starts_with("anyone@"));

    // LIMIT 0: columns, no rows
    let rows: Vec<Row> = c.query("SELECT 1 LIMIT 0").unwrap();
    assert!(rows.is_empty());
    // unknown variable: ER_UNKNOWN_SYSTEM_VARIABLE
    match c.query_drop("SELECT @@no_such_thing").unwrap_err() {
        mysql::Error::MySqlError(e) => assert_eq!(e.code, 1193),
        other => panic!("{other:?}"),
    }
}

#[test]
fn set_and_show_variables() {
    let server = common::start(common::config());
    let mut c = conn(&server);
    c.query_drop("SET NAMES utf8mb4 COLLATE utf8mb4_general_ci")
        .unwrap();
    c.query_drop("SET @@session.sql_mode = 'ANSI', SESSION wait_timeout = 5, @x = 'hello'")
        .unwrap();
    let (mode, wt, x, coll): (String, i64, String, String) = c
        .query_first("SELECT @@sql_mode, @@wait_timeout, @x, @@collation_connection")
        .unwrap()
        .unwrap();
    assert_eq!(
        (mode.as_str(), wt, x.as_str(), coll.as_str()),
        ("ANSI", 5, "hello", "utf8mb4_general_ci")
    );
    let rows: Vec<(String, String)> = c.query("SHOW VARIABLES LIKE 'character_set_c%'").unwrap();
    assert_eq!(
        rows,
        vec![
            ("character_set_client".to_string(), "utf8mb4".to_string()),
            (
                "character_set_connection".to_string(),
                "utf8mb4".to_string()
            )
        ]
    );
    let rows: Vec<(String, String)> = c
        .query("SHOW SESSION VARIABLES WHERE Variable_name = 'wait_timeout' OR Variable_name = 'autocommit'")
        .unwrap();
    assert_eq!(
        rows,
        vec![
            ("autocommit".to_string(), "ON".to_string()),
            ("wait_timeout".to_string(), "5".to_string())
        ]
    );
    let rows: Vec<(String, String)> = c
        .query("SHOW GLOBAL VARIABLES LIKE 'wait_timeout'")
        .unwrap();
    assert_eq!(rows[0].1, "28800");
    let warnings: Vec<Row> = c.query("SHOW WARNINGS").unwrap();
    assert!(warnings.is_empty());
}

#[test]
fn transactions_set_status_flags() {
    let server = common::start(common::config());
    let mut s = common::login(&server, "u", "p");
    let status = |p: &[u8]| understudy::protocol::response::decode_ok(p).unwrap().status;
    let a = common::query(&mut s, "BEGIN");
    assert_eq!(
        status(&a[0]) & 0x0003,
        0x0003,
        "in transaction + autocommit"
    );
    let a = common::query(&mut s, "COMMIT");
    assert_eq!(status(&a[0]) & 0x0003, 0x0002);
    let a = common::query(&mut s, "SET autocommit=0");
    assert_eq!(status(&a[0]) & 0x0003, 0x0000);
    let a = common::query(&mut s, "START TRANSACTION READ ONLY");
    assert_eq!(status(&a[0]) & 0x0003, 0x0001);
    let a = common::query(&mut s, "ROLLBACK");
    assert_eq!(status(&a[0]) & 0x0003, 0x0000);
    let a = common::query(&mut s, "SET @@session.autocommit = ON");
    assert_eq!(status(&a[0]) & 0x0003, 0x0002);

    let server2 = common::start(common::config());
    let mut c = Conn::new(common::opts(&server2, "a", "b", None)).unwrap();
    let mut tx = c.start_transaction(mysql::TxOpts::default()).unwrap();
    let one: Option<i64> = tx.query_first("SELECT 1").unwrap();
    assert_eq!(one, Some(1));
    tx.commit().unwrap();
}

#[test]
fn multi_statements_answer_each_statement() {
    let server = common::start(common::config());
    let mut c = conn(&server);
    let mut result = c
        .query_iter("SELECT 1; SHOW DATABASES; SELECT 'x' AS y")
        .unwrap();
    let mut sets = Vec::new();
    while let Some(set) = result.iter() {
        let rows: Vec<Row> = set.map(|r| r.unwrap()).collect();
        sets.push(rows.len());
    }
    assert_eq!(sets, vec![1, 70, 1]);
    drop(result);
    // an error stops the rest, and the connection stays usable
    let err = c
        .query_iter("SELECT 1; SELECT nope FROM nowhere; SELECT 2")
        .and_then(|mut r| {
            while let Some(set) = r.iter() {
                for row in set {
                    row?;
                }
            }
            Ok(())
        });
    assert!(err.is_err());
    let one: Option<i64> = c.query_first("SELECT 1").unwrap();
    assert_eq!(one, Some(1));
}

#[test]
fn ping_reset_and_statistics() {
    let server = common::start(common::config());
    let mut c = conn(&server);
    assert!(c.ping().is_ok());
    c.query_drop("SET @x = 'kept?'").unwrap();
    c.reset().unwrap();
    let x: Option<Option<String>> = c.query_first("SELECT @x").unwrap();
    assert_eq!(x, Some(None), "COM_RESET_CONNECTION clears user variables");
    // COM_STATISTICS through a raw socket: a plain string
    let mut s = common::login(&server, "u", "p");
    common::write_packet(&mut s, 0, &[0x09]);
    let (seq, p) = common::read_packet(&mut s).unwrap();
    assert_eq!(seq, 1);
    assert!(String::from_utf8(p).unwrap().starts_with("Uptime: "));
    // COM_SET_OPTION off, then a multi-statement is one (unknown) statement
    common::write_packet(&mut s, 0, &[0x1b, 1, 0]);
    let (_, p) = common::read_packet(&mut s).unwrap();
    assert_eq!(p[0], 0xfe);
    let a = common::query(&mut s, "SELECT 1; SELECT 2");
    assert_eq!(a.last().unwrap()[0], 0xff);
    // an unknown command: ERR 1047, connection usable
    common::write_packet(&mut s, 0, &[0x1d]);
    let (_, p) = common::read_packet(&mut s).unwrap();
    assert_eq!(&p[..3], &[0xff, 0x17, 0x04]);
    let a = common::query(&mut s, "SELECT 1");
    assert_ne!(a[0][0], 0xff);
}

#[test]
fn a_thousand_concurrent_connections_each_query() {
    let server = common::start(common::config());
    let addr = server.addr();
    let threads: Vec<_> = (0..20)
        .map(|_| {
            std::thread::spawn(move || {
                let opts: mysql::Opts = mysql::OptsBuilder::new()
                    .ip_or_hostname(Some("127.0.0.1"))
                    .tcp_port(addr.port())
                    .user(Some("u"))
                    .pass(Some("p"))
                    .into();
                // 50 connections per thread, all open at once
                let mut conns: Vec<Conn> =
                    (0..50).map(|_| Conn::new(opts.clone()).unwrap()).collect();
                for c in conns.iter_mut() {
                    let n: Vec<String> = c.query("SHOW DATABASES").unwrap();
                    assert_eq!(n.len(), 70);
                }
                conns.len()
            })
        })
        .collect();
    let total: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(total, 1000);
    assert!(server.stats().handshakes_ok.get() >= 1000);
}

/// What MariaDB Connector/J 2.7 sends right after login (seen by running it).
#[test]
fn jdbc_connect_time_statements() {
    let server = common::start(common::config());
    let mut c = conn(&server);
    c.query_drop("set autocommit=1, sql_mode = concat(@@sql_mode,',STRICT_TRANS_TABLES')")
        .unwrap();
    let row: (i64, String, String, i64) = c
        .query_first(
            "SELECT @@max_allowed_packet,@@system_time_zone,@@time_zone,@@auto_increment_increment",
        )
        .unwrap()
        .unwrap();
    assert_eq!(row, (64 << 20, "UTC".into(), "SYSTEM".into(), 1));
}
