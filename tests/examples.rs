//! Every script in examples/ works as its header says (so they cannot rot).
#![cfg(feature = "lua")]

mod common;

use mysql::prelude::Queryable;
use mysql::Conn;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn start(name: &str) -> understudy::ServerHandle {
    let mut cfg = common::config();
    cfg.lua_script = Some(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("examples")
            .join(name),
    );
    common::start(cfg)
}

fn conn(s: &understudy::ServerHandle, user: &str, pw: &str) -> Conn {
    Conn::new(common::opts(s, user, pw, None)).unwrap()
}

use common::code;

#[test]
fn canned() {
    let s = start("canned.lua");
    let mut c = conn(&s, "u", "p");
    let r: Option<(i64, String)> = c
        .query_first("SELECT id, name FROM users WHERE id = 7")
        .unwrap();
    assert_eq!(r, Some((7, "user-7".into())));
    let n: Option<i64> = c.query_first("SELECT COUNT(*) FROM users").unwrap();
    assert_eq!(n, Some(3));
    c.query_drop("DELETE FROM users WHERE id = 1").unwrap();
    assert_eq!(c.affected_rows(), 1);
    assert_eq!(code(c.query_drop("DROP TABLE users").unwrap_err()), 1142);
    let dbs: Vec<String> = c.query("SHOW DATABASES").unwrap();
    assert_eq!(
        dbs.len(),
        70,
        "unmatched queries fall through to the built-in answers"
    );
}

#[test]
fn fake_table() {
    let s = start("fake_table.lua");
    let mut a = conn(&s, "u", "p");
    let mut b = conn(&s, "u", "p");
    a.query_drop("INSERT INTO notes VALUES ('hello')").unwrap();
    assert_eq!(a.last_insert_id(), 1);
    b.query_drop("INSERT INTO notes VALUES ('world')").unwrap();
    let rows: Vec<(i64, String)> = a.query("SELECT * FROM notes").unwrap();
    assert_eq!(rows, vec![(1, "hello".into()), (2, "world".into())]);
    b.query_drop("DELETE FROM notes").unwrap();
    assert_eq!(b.affected_rows(), 2);
    let rows: Vec<(i64, String)> = a.query("SELECT * FROM notes").unwrap();
    assert!(rows.is_empty());
}

#[test]
fn per_user() {
    let s = start("per_user.lua");
    let rows: Vec<(i64, String)> = conn(&s, "alice", "x")
        .query("SELECT * FROM orders")
        .unwrap();
    assert_eq!(rows.len(), 2);
    let rows: Vec<(i64, String)> = conn(&s, "bob", "x").query("SELECT * FROM orders").unwrap();
    assert_eq!(rows, vec![(3, "kettle".into())]);
    assert_eq!(
        code(
            conn(&s, "carol", "x")
                .query_drop("SELECT * FROM orders")
                .unwrap_err()
        ),
        1142
    );
}

#[test]
fn delay() {
    let s = start("delay.lua");
    let mut c = conn(&s, "u", "p");
    let t0 = Instant::now();
    let v: Option<i64> = c.query_first("SELECT SLEEP(0.3)").unwrap();
    assert_eq!(v, Some(0));
    assert!(t0.elapsed() >= Duration::from_millis(280));
}

#[test]
fn crash() {
    let s = start("crash.lua");
    let mut c = conn(&s, "u", "p");
    // the mysql crate's own connect-time query counted as the first
    let mut failed_at = None;
    for i in 0..5 {
        if c.query_drop("SELECT 1").is_err() {
            failed_at = Some(i);
            break;
        }
    }
    assert!(failed_at.is_some(), "the connection was dropped");
    assert!(c.ping().is_err(), "and stays closed");
    conn(&s, "u", "p").ping().unwrap();
}

#[test]
fn login_check() {
    let s = start("login_check.lua");
    conn(&s, "app", "app-secret").ping().unwrap();
    conn(&s, "readonly", "ro").ping().unwrap();
    let e = Conn::new(common::opts(&s, "app", "wrong", None)).unwrap_err();
    assert_eq!(code(e), 1045);
    let e = Conn::new(common::opts(&s, "nobody", "x", None)).unwrap_err();
    assert_eq!(code(e), 1045);
}

#[test]
fn big() {
    let s = start("big.lua");
    let mut c = conn(&s, "u", "p");
    let rows: Vec<(i64, String, i64)> = c.query("SELECT * FROM big LIMIT 50000").unwrap();
    assert_eq!(rows.len(), 50000);
    assert_eq!(
        rows[49999],
        (50000, "row-50000".into(), (50000 * 7919) % 100003 - 50000)
    );
}
