//! The admin port (issue 10) through the Rust `mysql` crate: credentials,
//! its own connection budget, every statement, WAIT FOR JOURNAL without
//! blocking anybody, KILL.

mod common;

use mysql::prelude::Queryable;
use mysql::{Conn, Row};
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn server(max_connections: usize) -> understudy::ServerHandle {
    let mut cfg = common::config();
    cfg.rules =
        vec![PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/rules/01-results.json")];
    cfg.admin_port = Some(0);
    cfg.admin_user = Some(understudy::config::User {
        name: "admin".into(),
        password: "secret".into(),
    });
    cfg.max_connections = max_connections;
    common::start(cfg)
}

fn admin(server: &understudy::ServerHandle, password: &str) -> mysql::Result<Conn> {
    let port = server.admin_addr().expect("admin port open").port();
    let opts = mysql::OptsBuilder::new()
        .ip_or_hostname(Some("127.0.0.1"))
        .tcp_port(port)
        .user(Some("admin"))
        .pass(Some(password))
        .read_timeout(Some(Duration::from_secs(20)));
    Conn::new(opts)
}

fn client(server: &understudy::ServerHandle) -> Conn {
    Conn::new(common::opts(server, "u", "p", None)).unwrap()
}

fn table(c: &mut Conn, sql: &str) -> Vec<Vec<Option<String>>> {
    let rows: Vec<Row> = c.query(sql).unwrap();
    rows.into_iter()
        .map(|r| {
            (0..r.len())
                .map(|i| r.get::<Option<String>, _>(i).flatten())
                .collect()
        })
        .collect()
}

fn stat(c: &mut Conn, name: &str) -> u64 {
    table(c, "SHOW STATS")
        .into_iter()
        .find(|r| r[0].as_deref() == Some(name))
        .and_then(|r| r[1].clone())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in SHOW STATS"))
}

use common::code;

#[test]
fn closed_without_credentials_and_refusing_wrong_ones() {
    let mut cfg = common::config();
    cfg.admin_port = Some(0);
    let s = common::start(cfg);
    assert!(s.admin_addr().is_none(), "no --admin-user: no admin port");
    let args: Vec<String> = ["--admin-port", "0"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let e = understudy::config::Config::from_args(&args).unwrap_err();
    assert!(e.message.contains("--admin-user"), "{}", e.message);
    let s = server(10);
    assert_eq!(code(admin(&s, "wrong").unwrap_err()), 1045);
    assert!(admin(&s, "secret").is_ok());
}

#[test]
fn admin_connections_do_not_count_against_max_connections() {
    let s = server(1);
    let mut only = client(&s);
    assert!(
        Conn::new(common::opts(&s, "u", "p", None)).is_err(),
        "the second client is refused"
    );
    let mut a = admin(&s, "secret").unwrap();
    assert_eq!(stat(&mut a, "connections_open"), 1);
    let v: Option<i64> = only.query_first("SELECT 1").unwrap();
    assert_eq!(v, Some(1));
}

#[test]
fn stats_rules_journal_and_unmatched() {
    let s = server(100);
    let mut a = admin(&s, "secret").unwrap();
    let mut c = client(&s);
    let _: Option<String> = c
        .query_first("SELECT name FROM users WHERE id = 7")
        .unwrap();
    let _: Option<String> = c
        .query_first("SELECT name FROM users WHERE id = 7")
        .unwrap();
    let _ = c.query_drop("SELECT name FROM user WHERE id = 7");
    assert!(stat(&mut a, "logins_ok") >= 1);
    assert!(stat(&mut a, "com_query") >= 3);
    let rules = table(&mut a, "SHOW RULES");
    let by_id = rules
        .iter()
        .find(|r| r[0].as_deref() == Some("user-by-id"))
        .unwrap();
    assert_eq!(by_id[1].as_deref(), Some("01-results.json"));
    assert_eq!(by_id[6].as_deref(), Some("2"), "hits");
    assert_eq!(by_id[7], None, "no times: no remaining");
    let j = table(&mut a, "SHOW JOURNAL LIKE '%users WHERE%' LIMIT 1");
    assert_eq!(j.len(), 1);
    assert_eq!(
        j[0][7].as_deref(),
        Some("SELECT name FROM users WHERE id = 7")
    );
    assert_eq!(j[0][9].as_deref(), Some("user-by-id"));
    let un = table(&mut a, "SHOW UNMATCHED");
    assert_eq!(un.len(), 1, "{un:?}");
    assert_eq!(
        un[0][0].as_deref(),
        Some("SELECT name FROM user WHERE id = 7")
    );
    assert_eq!(un[0][2].as_deref(), Some("user-by-id"), "the nearest rule");
    a.query_drop("RESET JOURNAL").unwrap();
    assert!(table(&mut a, "SHOW JOURNAL").is_empty());
    assert!(table(&mut a, "SHOW UNMATCHED").is_empty());
    a.query_drop("RESET STATS").unwrap();
    assert_eq!(stat(&mut a, "com_query"), 0);
    assert_eq!(stat(&mut a, "rule_hits"), 0);
    // the admin's own commands are not journaled
    assert!(table(&mut a, "SHOW JOURNAL").is_empty());
    assert_eq!(code(a.query_drop("SHOW WIBBLE").unwrap_err()), 1064);
}

#[test]
fn rules_added_deleted_and_loaded_at_run_time() {
    let s = server(100);
    let mut a = admin(&s, "secret").unwrap();
    let mut c = client(&s);
    a.query_drop(
        r#"ADD RULE '{"name": "hot", "match": {"regex": "^SELECT name FROM users"}, "times": 1, "error": {"code": 1205, "message": "it''s locked"}}'"#,
    )
    .unwrap();
    match c.query_drop("SELECT name FROM users WHERE id = 7") {
        Err(mysql::Error::MySqlError(e)) => {
            assert_eq!((e.code, e.message.as_str()), (1205, "it's locked"))
        }
        other => panic!("the added rule answers first: {other:?}"),
    }
    let v: Option<String> = c
        .query_first("SELECT name FROM users WHERE id = 7")
        .unwrap();
    assert_eq!(v.as_deref(), Some("ada"), "times: 1, then the file's rule");
    let hot = table(&mut a, "SHOW RULES").remove(0);
    assert_eq!(
        (hot[0].as_deref(), hot[7].as_deref()),
        (Some("hot"), Some("0"))
    );
    assert!(
        a.query_drop(r#"ADD RULE '{"name": "hot", "match": {"sql": "x"}, "ok": {}}'"#)
            .is_err(),
        "names are unique"
    );
    assert!(a
        .query_drop(r#"ADD RULE '{"match": {"sql": "x"}}'"#)
        .is_err());
    a.query_drop("DELETE RULE 'hot'").unwrap();
    assert!(a.query_drop("DELETE RULE 'hot'").is_err());
    let extra = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/rules/02-ok-error.json");
    a.query_drop(format!("LOAD RULES '{}'", extra.display()))
        .unwrap();
    assert_eq!(a.affected_rows(), 5);
    assert_eq!(
        code(c.query_drop("SELECT * FROM missing").unwrap_err()),
        1146
    );
    assert!(a.query_drop("LOAD RULES '/nonexistent.json'").is_err());
}

#[test]
fn wait_for_journal_returns_when_the_command_arrives() {
    let s = server(100);
    let mut a = admin(&s, "secret").unwrap();
    let t = Instant::now();
    let waiter = {
        let port = s.admin_addr().unwrap().port();
        std::thread::spawn(move || {
            let opts = mysql::OptsBuilder::new()
                .ip_or_hostname(Some("127.0.0.1"))
                .tcp_port(port)
                .user(Some("admin"))
                .pass(Some("secret"));
            let mut w = Conn::new(opts).unwrap();
            let rows: Vec<Row> = w
                .query("WAIT FOR JOURNAL LIKE '%FROM orders%' TIMEOUT 30")
                .unwrap();
            (
                rows.len(),
                rows[0].get::<String, _>(7).unwrap(),
                Instant::now(),
            )
        })
    };
    std::thread::sleep(Duration::from_millis(200));
    // meanwhile everybody else is served: the admin port and the clients
    let mut c = client(&s);
    let v: Option<i64> = c.query_first("SELECT 1").unwrap();
    assert_eq!(v, Some(1));
    assert!(stat(&mut a, "connections_open") >= 1);
    let sent = Instant::now();
    let _: Vec<mysql::Row> = c.query("SELECT id, total, placed FROM orders").unwrap();
    let (n, sql, returned) = waiter.join().unwrap();
    assert_eq!(n, 1);
    assert_eq!(sql, "SELECT id, total, placed FROM orders");
    assert!(returned >= sent);
    assert!(
        returned - t < Duration::from_secs(25),
        "it returned on the command, not the timeout"
    );
    // a command already journaled: at once
    let rows: Vec<Row> = a
        .query("WAIT FOR JOURNAL LIKE 'SELECT 1' TIMEOUT 30")
        .unwrap();
    assert_eq!(rows.len(), 1);
    // none: ERR 3024 at the timeout
    assert_eq!(
        code(
            a.query_drop("WAIT FOR JOURNAL LIKE 'never%' TIMEOUT 0.2")
                .unwrap_err()
        ),
        3024
    );
}

#[test]
fn show_connections_and_kill() {
    let s = server(100);
    let mut a = admin(&s, "secret").unwrap();
    let mut c = client(&s);
    let id = c.connection_id();
    let conns = table(&mut a, "SHOW CONNECTIONS");
    let me = conns
        .iter()
        .find(|r| r[0].as_deref() == Some(&id.to_string()))
        .expect("the client is listed");
    assert_eq!(me[1].as_deref(), Some("u"));
    assert_eq!(me[4].as_deref(), Some("idle"));
    assert!(
        conns.iter().all(|r| r[1].as_deref() != Some("admin")),
        "admin connections are not listed"
    );
    a.query_drop(format!("KILL {id}")).unwrap();
    assert!(c.query_drop("SELECT 1").is_err(), "killed");
    assert_eq!(code(a.query_drop(format!("KILL {id}")).unwrap_err()), 1094);
    assert_eq!(code(a.query_drop("KILL 4294967296").unwrap_err()), 1094);
}
