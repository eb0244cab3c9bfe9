//! JSON rules (issue 10) through the Rust `mysql` crate (text queries and
//! server-side prepared statements) and raw sockets: every answer kind of
//! examples/rules/, precedence, `times`, `probability` with a seed, reloads
//! and bad files. Faults, the journal and the admin port: tests/faults.rs,
//! tests/journal.rs, tests/admin.rs.

mod common;

use mysql::prelude::Queryable;
use mysql::{Conn, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use understudy::responder::chain::Unknown;

fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("examples/rules")
        .join(name)
}

fn server_with(rules: &[PathBuf], seed: Option<u64>) -> understudy::ServerHandle {
    let mut cfg = common::config();
    cfg.rules = rules.to_vec();
    cfg.seed = seed;
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

#[test]
fn every_type_by_text_and_by_prepared_statement() {
    let server = server_with(&[example("01-results.json")], None);
    let mut c = conn(&server);
    let text: Vec<mysql::Row> = c.query("SELECT * FROM typed").unwrap();
    let bin: Vec<mysql::Row> = c.exec("SELECT * FROM typed", ()).unwrap();
    assert_eq!(text.len(), 3);
    assert_eq!(bin.len(), 3);
    let cols = text[0].columns_ref();
    assert_eq!(cols.len(), 16);
    use mysql::consts::ColumnType as T;
    let types: Vec<T> = cols.iter().map(|c| c.column_type()).collect();
    assert_eq!(
        types,
        vec![
            T::MYSQL_TYPE_TINY,
            T::MYSQL_TYPE_SHORT,
            T::MYSQL_TYPE_LONG,
            T::MYSQL_TYPE_LONGLONG,
            T::MYSQL_TYPE_LONGLONG,
            T::MYSQL_TYPE_FLOAT,
            T::MYSQL_TYPE_DOUBLE,
            T::MYSQL_TYPE_NEWDECIMAL,
            T::MYSQL_TYPE_VAR_STRING,
            T::MYSQL_TYPE_BLOB,
            T::MYSQL_TYPE_DATE,
            T::MYSQL_TYPE_DATETIME,
            T::MYSQL_TYPE_TIMESTAMP,
            T::MYSQL_TYPE_TIME,
            T::MYSQL_TYPE_YEAR,
            T::MYSQL_TYPE_JSON,
        ]
    );
    for rows in [&text, &bin] {
        let r = &rows[0];
        assert_eq!(r.get::<i64, _>(0), Some(-128));
        assert_eq!(r.get::<i64, _>(3), Some(i64::MIN));
        assert_eq!(r.get::<u64, _>(4), Some(u64::MAX));
        assert_eq!(r.get::<f64, _>(6), Some(-2.25));
        assert_eq!(r.get::<String, _>(7).as_deref(), Some("12345678.123456"));
        assert_eq!(
            r.get::<String, _>(8).as_deref(),
            Some("h\u{e9}llo \u{2713}")
        );
        assert_eq!(r.get::<Vec<u8>, _>(9), Some(vec![0, 1, 255]));
        assert_eq!(r.get::<String, _>(15).as_deref(), Some(r#"{"a":[1,2]}"#));
        assert_eq!(rows[1].get::<String, _>(7).as_deref(), Some("-0.000001"));
        assert!(rows[2].as_ref(0) == Some(&Value::NULL));
    }
    // dates and times: typed values in binary rows, text in text rows
    assert_eq!(
        bin[0].as_ref(11),
        Some(&Value::Date(2024, 1, 31, 12, 34, 56, 123_456))
    );
    assert_eq!(
        bin[0].as_ref(13),
        Some(&Value::Time(true, 34, 22, 59, 59, 0))
    );
    assert_eq!(
        text[0].as_ref(11),
        Some(&Value::Bytes(b"2024-01-31 12:34:56.123456".to_vec()))
    );
    assert_eq!(
        text[0].as_ref(13),
        Some(&Value::Bytes(b"-838:59:59.000000".to_vec()))
    );
}

#[test]
fn one_question_mark_matches_a_parameter_and_a_literal() {
    let server = server_with(&[example("01-results.json")], None);
    let mut c = conn(&server);
    let t: Option<String> = c
        .query_first("select  name from users where id=7;")
        .unwrap();
    assert_eq!(t.as_deref(), Some("ada"));
    let p: Option<String> = c
        .exec_first("SELECT name FROM users WHERE id = ?", (7,))
        .unwrap();
    assert_eq!(p.as_deref(), Some("ada"));
    // a string parameter holding the number matches too (drivers bind so)
    let p: Option<String> = c
        .exec_first("SELECT name FROM users WHERE id = ?", ("7",))
        .unwrap();
    assert_eq!(p.as_deref(), Some("ada"));
    let none: Vec<String> = c.exec("SELECT name FROM users WHERE id = ?", (8,)).unwrap();
    assert!(none.is_empty());
    // real column definitions at prepare: table, schema, NOT NULL (a fresh
    // connection: the crate's statement cache takes each execution's columns)
    let mut c2 = conn(&server);
    let st = c2.prep("SELECT name FROM users WHERE id = ?").unwrap();
    let col = &st.columns()[0];
    assert_eq!(col.name_str(), "name");
    assert_eq!(col.table_str(), "users");
    assert_eq!(col.schema_str(), "app");
    assert!(col
        .flags()
        .contains(mysql::consts::ColumnFlags::NOT_NULL_FLAG));
    // regex and csv
    let n: Option<i64> = c
        .query_first("select COUNT(*) from clicks where day = 3")
        .unwrap();
    assert_eq!(n, Some(42));
    let orders: Vec<(u64, Option<String>, String)> = c
        .query("SELECT id, total, placed FROM orders ORDER BY id")
        .unwrap();
    assert_eq!(orders.len(), 1000);
    assert_eq!(orders[0].0, 1);
    assert_eq!(orders[99].1, None, "\\N is NULL");
    assert_eq!(orders[0].1.as_deref(), Some("37.01"));
}

#[test]
fn ok_error_and_several_results() {
    let server = server_with(&[example("02-ok-error.json")], None);
    let mut c = conn(&server);
    c.query_drop("INSERT INTO orders VALUES (1), (2), (3)")
        .unwrap();
    assert_eq!(c.affected_rows(), 3);
    assert_eq!(c.last_insert_id(), 42);
    assert_eq!(c.info_str(), "Records: 3  Duplicates: 0  Warnings: 0");
    let e = err_of(c.query_drop("SELECT * FROM missing").unwrap_err());
    assert_eq!(
        e,
        (
            1146,
            "42S02".into(),
            "Table 'app.missing' doesn't exist".into()
        )
    );
    // params decide between two rules of one shape
    let e = err_of(
        c.exec_drop("INSERT INTO users (id, name) VALUES (?, ?)", (1, "ada"))
            .unwrap_err(),
    );
    assert_eq!(e.0, 1062);
    c.exec_drop("INSERT INTO users (id, name) VALUES (?, ?)", (2, "bob"))
        .unwrap();
    assert_eq!(c.affected_rows(), 1);
    // a multi-statement query answered whole
    let mut r = c.query_iter("SELECT 1 AS a; SELECT 'two' AS b").unwrap();
    let mut sets = Vec::new();
    while let Some(set) = r.iter() {
        let rows: Vec<mysql::Row> = set.map(|x| x.unwrap()).collect();
        sets.push(rows);
    }
    assert_eq!(sets.len(), 2);
    assert_eq!(sets[1][0].get::<String, _>(0).as_deref(), Some("two"));
}

#[test]
fn a_delay_holds_one_answer_and_nobody_else() {
    let server = server_with(&[example("03-delay.json")], None);
    let mut slow = conn(&server);
    let mut other = conn(&server);
    let t = Instant::now();
    let h = std::thread::spawn(move || {
        let v: Option<String> = slow.query_first("SELECT 'slow'").unwrap();
        (v, Instant::now())
    });
    std::thread::sleep(Duration::from_millis(50));
    let v: Option<i64> = other.query_first("SELECT 1").unwrap();
    let other_done = Instant::now();
    assert_eq!(v, Some(1));
    let (v, slow_done) = h.join().unwrap();
    assert_eq!(v.as_deref(), Some("slow"));
    assert!(
        slow_done - t >= Duration::from_millis(290),
        "{:?}",
        slow_done - t
    );
    assert!(
        other_done < slow_done,
        "the other connection waited for the delay"
    );
    // the distributions stay in their range
    let mut c = conn(&server);
    for _ in 0..3 {
        let t = Instant::now();
        let _: Option<String> = c.query_first("SELECT 'uniform'").unwrap();
        assert!(t.elapsed() >= Duration::from_millis(49));
    }
    let _: Option<String> = c.query_first("SELECT 'lognormal'").unwrap();
}

#[test]
fn a_prefix_keeps_its_trailing_space() {
    let server = understudy::Builder::new(common::config())
        .rule(r#"{"match": {"prefix": "INSERT INTO t "}, "ok": {"affected_rows": 3}}"#)
        .start()
        .unwrap();
    let mut c = conn(&server);
    c.query_drop("insert  into t values (1)").unwrap();
    assert_eq!(c.affected_rows(), 3);
    assert_eq!(
        err_of(c.query_drop("INSERT INTO tables VALUES (1)").unwrap_err()).0,
        101
    );
}

#[test]
fn times_then_the_next_rule() {
    let server = server_with(&[example("05-times-probability.json")], None);
    let mut c = conn(&server);
    for _ in 0..2 {
        let e = err_of(c.query_drop("UPDATE accounts SET balance = 0").unwrap_err());
        assert_eq!(e.0, 1213);
    }
    c.query_drop("UPDATE accounts SET balance = 0").unwrap();
    assert_eq!(c.affected_rows(), 1);
    c.query_drop("UPDATE accounts SET balance = 1").unwrap();
}

/// The outcomes of 64 draws of the 50 % rule.
fn flaky_run(seed: u64) -> Vec<bool> {
    let server = server_with(&[example("05-times-probability.json")], Some(seed));
    let mut c = conn(&server);
    (0..64)
        .map(|i| {
            c.exec_first::<String, _, _>("SELECT balance FROM accounts WHERE id = ?", (i,))
                .is_ok()
        })
        .collect()
}

#[test]
fn probability_is_drawn_from_the_seed() {
    let a = flaky_run(7);
    assert_eq!(a, flaky_run(7), "the same seed repeats the run");
    let ok = a.iter().filter(|x| **x).count();
    assert!((12..=52).contains(&ok), "{ok} of 64 answered");
    assert_ne!(a, flaky_run(8));
}

#[test]
fn commands_users_and_databases() {
    let server = server_with(&[example("06-commands.json")], None);
    let mut c = conn(&server);
    // a query with literals first (PyMySQL sends SET AUTOCOMMIT = 0): the
    // INIT_DB rule is matched by the name alone
    c.query_drop("SET AUTOCOMMIT = 0").unwrap();
    let _: Option<i64> = c.query_first("SELECT 1").unwrap();
    let e = err_of(c.select_db("nosuchdb").unwrap_err());
    assert_eq!(e.0, 1049);
    c.select_db("app").unwrap();
    assert!(
        c.query_drop("SELECT current_report()").is_err(),
        "only in reports"
    );
    c.select_db("reports").unwrap();
    let v: Option<String> = c.query_first("SELECT current_report()").unwrap();
    assert_eq!(v.as_deref(), Some("q4"));
    assert!(c.ping().is_ok());
    let mut probe = Conn::new(common::opts(&server, "probe", "", None)).unwrap();
    assert!(
        probe.ping().is_err(),
        "the rule answers probe's pings with an ERR"
    );
    let e = c
        .change_user(mysql::ChangeUserOpts::default().with_user(Some("intruder".into())))
        .unwrap_err();
    assert_eq!(err_of(e).0, 1045);
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("understudy-rules-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

const ONE: &str = r#"{"rules": [{"match": {"sql": "SELECT v"}, "result": {"columns": [{"name": "v", "type": "INT"}], "rows": [[1]]}}]}"#;
const TWO: &str = r#"{"rules": [{"match": {"sql": "SELECT v"}, "result": {"columns": [{"name": "v", "type": "INT"}], "rows": [[2]]}}]}"#;

#[test]
fn precedence_script_then_rules_then_builtin_then_unknown() {
    let dir = tmp("precedence");
    write(
        &dir.join("r.json"),
        r#"{"rules": [
            {"match": {"sql": "SELECT @@version_comment"}, "result": {"columns": [{"name": "@@version_comment", "type": "VARCHAR(32)"}], "rows": [["from a rule"]]}},
            {"match": {"sql": "SELECT 'script'"}, "result": {"columns": [{"name": "x", "type": "VARCHAR(32)"}], "rows": [["from a rule"]]}}
        ]}"#,
    );
    write(
        &dir.join("s.lua"),
        r#"function read_query(p)
             if p:sub(2) == "SELECT 'script'" then
               proxy.response = { type = proxy.MYSQLD_PACKET_OK, resultset = { fields = { { name = "x", type = proxy.MYSQL_TYPE_VAR_STRING } }, rows = { { "from the script" } } } }
               return proxy.PROXY_SEND_RESULT
             end
           end"#,
    );
    let mut cfg = common::config();
    cfg.rules = vec![dir.join("r.json")];
    cfg.lua_script = Some(dir.join("s.lua"));
    cfg.lua_all_queries = true;
    let server = common::start(cfg);
    let mut c = conn(&server);
    let v: Option<String> = c.query_first("SELECT 'script'").unwrap();
    assert_eq!(v.as_deref(), Some("from the script"));
    let v: Option<String> = c.query_first("SELECT @@version_comment").unwrap();
    assert_eq!(v.as_deref(), Some("from a rule"));
    let v: Option<i64> = c.query_first("SELECT 1").unwrap();
    assert_eq!(v, Some(1), "built-in");
    assert_eq!(
        err_of(c.query_drop("CREATE TABLE t (a INT)").unwrap_err()).0,
        101
    );
    for (unknown, check) in [(Unknown::Ok, 0usize), (Unknown::Empty, 1)] {
        let mut cfg = common::config();
        cfg.unknown = unknown;
        let s = common::start(cfg);
        let mut c = conn(&s);
        let rows: Vec<mysql::Row> = c.query("CREATE TABLE t (a INT)").unwrap();
        assert!(rows.is_empty());
        if check == 1 {
            let r = c.query_iter("DROP SCHEMA x").unwrap();
            assert_eq!(r.columns().as_ref().len(), 1, "an empty resultset");
        }
    }
}

#[test]
fn reload_on_sighup_and_on_change_atomically() {
    let dir = tmp("reload");
    let f = dir.join("r.json");
    write(&f, ONE);
    let server = server_with(std::slice::from_ref(&f), None);
    let mut c = conn(&server);
    let v: Option<i64> = c.query_first("SELECT v").unwrap();
    assert_eq!(v, Some(1));
    // a bad file: the old set stays
    write(
        &f,
        r#"{"rules": [{"match": {"sql": "SELECT v"}, "result": {"columns": [{"name": "v", "type": "INT"}], "rows": [["x"]]}}]}"#,
    );
    server.control().reload();
    std::thread::sleep(Duration::from_millis(100));
    let v: Option<i64> = c.query_first("SELECT v").unwrap();
    assert_eq!(v, Some(1), "a bad file is not half-loaded");
    // a good one: the new set (the change is noticed within a few seconds
    // without a signal; liveness bound, not a timing assertion)
    write(&f, TWO);
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let v: Option<i64> = c.query_first("SELECT v").unwrap();
        if v == Some(2) {
            break;
        }
        assert!(
            Instant::now() < until,
            "the changed file was never reloaded"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // a directory: its *.json in name order, the first match wins
    let d = tmp("reload-dir");
    write(&d.join("a.json"), TWO);
    write(&d.join("b.json"), ONE);
    write(&d.join("notes.txt"), "not a rule file");
    let server = server_with(&[d], None);
    let mut c = conn(&server);
    let v: Option<i64> = c.query_first("SELECT v").unwrap();
    assert_eq!(v, Some(2));
}

fn start_error(text: &str) -> String {
    let dir = tmp("bad");
    let f = dir.join("bad.json");
    write(&f, text);
    let mut cfg = common::config();
    cfg.rules = vec![f];
    match understudy::start(cfg) {
        Ok(_) => panic!("a bad rule file started: {text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_bad_file_stops_start_up_and_says_where() {
    let e = start_error("{\"rules\": [\n  {\"match\": {\"sql\": \"x\"}, \"ok\": {},}\n]}");
    assert!(e.contains("bad.json") && e.contains("line 2"), "{e}");
    let e = start_error(
        r#"{"rules": [{"name": "n", "match": {"sql": "x"}, "result": {"columns": [{"name": "a", "type": "INT"}, {"name": "b", "type": "TINYINT"}], "rows": [[1, 2], [3, 300]]}}]}"#,
    );
    assert!(
        e.contains("rule 0 (\"n\")")
            && e.contains("row 2 column 2 (b)")
            && e.contains("out of range"),
        "{e}"
    );
    let e = start_error(
        r#"{"rules": [{"match": {"sql": "x"}, "result": {"columns": [{"name": "a", "type": "WIBBLE"}], "rows": []}}]}"#,
    );
    assert!(e.contains("unknown type"), "{e}");
    let e = start_error(r#"{"rules": [{"match": {"regex": "(unclosed"}, "ok": {}}]}"#);
    assert!(e.contains("regex"), "{e}");
    let e = start_error(r#"{"rules": [{"match": {"sql": "x", "prefix": "y"}, "ok": {}}]}"#);
    assert!(e.contains("one of sql, prefix, regex"), "{e}");
    let e = start_error(r#"{"rules": [{"match": {"sql": "x"}, "ok": {}, "error": {"code": 1}}]}"#);
    assert!(e.contains("exactly one answer"), "{e}");
    let e = start_error("{\"rules\": [\n{\"match\": {\"sql\": \"x\"}, \"ok\": {}},\n\n{\"name\": \"k\", \"match\": {\"sql\": \"y\"}, \"ok\": {},\n \"colour\": 1}]}");
    assert!(
        e.contains("rule 1 (\"k\")") && e.contains("unknown field") && e.contains("line 5"),
        "{e}"
    );
    let e = start_error(
        r#"{"rules": [{"name": "a", "match": {"sql": "x"}, "ok": {}}, {"name": "a", "match": {"sql": "y"}, "ok": {}}]}"#,
    );
    assert!(e.contains("two rules are named \"a\""), "{e}");
    let e = start_error(r#"{"rules": [{"match": {"sql": "x = ?", "params": [1, 2]}, "ok": {}}]}"#);
    assert!(e.contains("2 values for 1"), "{e}");
    let e = start_error(r#"{"rules": [{"match": {"sql": "x"}, "ok": {}, "probability": 2}]}"#);
    assert!(e.contains("probability"), "{e}");
    let mut cfg = common::config();
    cfg.rules = vec![PathBuf::from("/nonexistent/rules.json")];
    assert!(understudy::start(cfg).is_err());
}

/// Hostile patterns: a regex built to explode a backtracking matcher runs in
/// linear time (the regex crate), and a long statement against many rules
/// stays bounded.
#[test]
fn hostile_patterns_and_statements_stay_bounded() {
    let dir = tmp("hostile");
    let mut rules = Vec::new();
    for i in 0..1000 {
        rules.push(format!(
            r#"{{"match": {{"regex": "^(a+)+b{i}$"}}, "ok": {{}}}}"#
        ));
    }
    write(
        &dir.join("r.json"),
        &format!(r#"{{"rules": [{}]}}"#, rules.join(",")),
    );
    let server = server_with(&[dir.join("r.json")], None);
    let mut c = conn(&server);
    let evil = format!("{}c", "a".repeat(100_000));
    assert_eq!(err_of(c.query_drop(&evil).unwrap_err()).0, 101);
    drop(c);
    // an 8 MiB statement with the journal on: recorded cut, answered
    let server = understudy::Builder::new({
        let mut cfg = common::config();
        cfg.rules = vec![dir.join("r.json")];
        cfg
    })
    .journal()
    .start()
    .unwrap();
    let mut c = conn(&server);
    let huge = format!("INSERT INTO t VALUES ('{}')", "x".repeat(8 << 20));
    assert_eq!(err_of(c.query_drop(&huge).unwrap_err()).0, 101);
    let j = server.journal().unwrap();
    let e = j.commands(|e| e.sql().is_some_and(|s| s.starts_with("INSERT INTO t")));
    let ev = e[0].command().unwrap();
    assert!(ev.truncated && ev.sql.as_ref().unwrap().len() <= understudy::journal::MAX_TEXT);
    c.query_drop("aaab7").unwrap();
    let v: Option<i64> = c.query_first("SELECT 1").unwrap();
    assert_eq!(v, Some(1));
}

/// The README's complete example is examples/readme-rules.json, and it
/// answers as the README says.
#[test]
fn the_readme_example_loads_and_answers() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let file = std::fs::read_to_string(root.join("examples/readme-rules.json")).unwrap();
    let at = readme.find("### A complete example").unwrap();
    let start = readme[at..].find("```json\n").unwrap() + at + 8;
    let end = readme[start..].find("```").unwrap() + start;
    assert_eq!(
        &readme[start..end],
        file,
        "README and examples/readme-rules.json differ"
    );
    let server = server_with(&[root.join("examples/readme-rules.json")], Some(1));
    let mut c = conn(&server);
    let r: Option<(u64, String, mysql::Value)> = c
        .exec_first("SELECT id, name, created FROM users WHERE id = ?", (7,))
        .unwrap();
    let r = r.unwrap();
    assert_eq!((r.0, r.1.as_str()), (7, "ada"));
    assert_eq!(r.2, Value::Date(2024, 1, 31, 12, 34, 56, 123_456));
    let none: Vec<(u64, String, String)> = c
        .query("SELECT id, name, created FROM users WHERE id = 8")
        .unwrap();
    assert!(none.is_empty());
    let orders: Vec<(i64, Option<String>, String)> = c.query("SELECT * FROM orders").unwrap();
    assert_eq!(orders.len(), 1000);
    assert_eq!(orders[0].2, "2024-02-02 01:01:00");
    for _ in 0..2 {
        assert_eq!(
            err_of(c.query_drop("UPDATE accounts SET x = 1").unwrap_err()).0,
            1213
        );
    }
    c.query_drop("UPDATE accounts SET x = 1").unwrap();
    let n: Option<i64> = c.query_first("SELECT count(*) FROM report_daily").unwrap();
    assert_eq!(n, Some(42));
    c.query_drop("INSERT INTO orders VALUES (1)").unwrap();
    assert_eq!(c.last_insert_id(), 42);
}
