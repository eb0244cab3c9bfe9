//! The journal (issue 10): the JSON lines of `--journal` (logins, commands
//! with their text or an execution's parameters and how they were answered,
//! disconnects), written before the answer leaves; and the embedding API's
//! journal in memory with a responder of one's own in the chain.

mod common;

use mysql::prelude::Queryable;
use mysql::Conn;
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;
use understudy::responder::reply::{Answer, Reply};
use understudy::responder::{Request, Responder, Session};

fn lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

fn commands(path: &std::path::Path) -> Vec<Value> {
    lines(path)
        .into_iter()
        .filter(|l| l["event"] == "command")
        .collect()
}

#[test]
fn every_event_is_a_json_line_written_before_the_answer() {
    let file =
        std::env::temp_dir().join(format!("understudy-journal-{}.jsonl", std::process::id()));
    let mut cfg = common::config();
    cfg.rules =
        vec![PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/rules/01-results.json")];
    cfg.journal = Some(file.clone());
    cfg.users = vec![understudy::config::User {
        name: "u".into(),
        password: "p".into(),
    }];
    let server = common::start(cfg);
    let mut c = Conn::new(common::opts(&server, "u", "p", Some("app"))).unwrap();
    let login = lines(&file)
        .into_iter()
        .find(|l| l["event"] == "login")
        .unwrap();
    assert_eq!(login["user"], "u");
    assert_eq!(login["result"], "ok");
    assert_eq!(login["plugin"], "mysql_native_password");
    assert!(login["address"].as_str().unwrap().starts_with("127.0.0.1:"));
    // each command's line is there as soon as its answer has arrived
    let _: Option<String> = c
        .query_first("SELECT name FROM users WHERE id = 7")
        .unwrap();
    let last = commands(&file).pop().unwrap();
    assert_eq!(last["sql"], "SELECT name FROM users WHERE id = 7");
    assert_eq!(last["command"], "query");
    assert_eq!(last["rule"], "user-by-id");
    assert_eq!(last["answer"], "result");
    assert_eq!(last["rows"], 1);
    assert_eq!(last["database"], "app");
    assert!(last["bytes"].as_u64().unwrap() > 20);
    let _: Option<String> = c
        .exec_first("SELECT name FROM users WHERE id = ?", (8,))
        .unwrap();
    let cmds = commands(&file);
    let prepare = cmds.iter().find(|l| l["command"] == "prepare").unwrap();
    assert_eq!(prepare["sql"], "SELECT name FROM users WHERE id = ?");
    let exec = cmds.last().unwrap();
    assert_eq!(exec["command"], "execute");
    assert_eq!(exec["sql"], "SELECT name FROM users WHERE id = ?");
    assert_eq!(exec["params"], serde_json::json!([8]));
    assert_eq!(exec["rule"], "user-unknown");
    assert_eq!(exec["rows"], 0);
    let _ = c.query_drop("SELECT * FROM nothing");
    let last = commands(&file).pop().unwrap();
    assert_eq!(
        (last["rule"].as_str(), last["error"].as_u64()),
        (Some("unknown"), Some(101))
    );
    let _: Option<i64> = c.query_first("SELECT 1").unwrap();
    assert_eq!(commands(&file).pop().unwrap()["rule"], "builtin");
    drop(c);
    // a refused login, and the disconnects
    assert!(Conn::new(common::opts(&server, "u", "wrong", None)).is_err());
    let until = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let all = lines(&file);
        let refused = all
            .iter()
            .any(|l| l["event"] == "login" && l["result"] == "error" && l["error"] == 1045);
        let gone = all.iter().filter(|l| l["event"] == "disconnect").count();
        if refused && gone >= 2 {
            break;
        }
        assert!(
            std::time::Instant::now() < until,
            "no disconnect lines: {all:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let seqs: Vec<u64> = lines(&file)
        .iter()
        .map(|l| l["seq"].as_u64().unwrap())
        .collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
    let _ = std::fs::remove_file(file);
}

/// A responder of one's own, first in the chain: it answers one statement
/// and declines the rest.
struct Greeter;

impl Responder for Greeter {
    fn answer(&mut self, _s: &mut Session, req: &Request<'_>) -> Answer {
        match req.command {
            understudy::protocol::command::Command::Query(q) if q == b"SELECT greeting()" => {
                Reply::rows(
                    vec![understudy::protocol::response::ColumnDef::new(
                        b"greeting()",
                        understudy::protocol::consts::coltype::VAR_STRING,
                    )],
                    vec![vec![understudy::responder::reply::Cell::Bytes(
                        b"hello"[..].into(),
                    )]],
                )
                .into()
            }
            _ => Answer::decline(),
        }
    }
}

#[test]
fn embedded_rules_responder_and_journal_in_memory() {
    let server = understudy::Builder::new(common::config())
        .rule(r#"{"name": "answer", "match": {"sql": "SELECT the_answer()"}, "result": {"columns": [{"name": "a", "type": "INT"}], "rows": [[42]]}}"#)
        .responder("greeter", || Box::new(Greeter))
        .journal()
        .start()
        .unwrap();
    let journal = server.journal().unwrap().clone();
    let waiter = std::thread::spawn(move || {
        journal.wait_for(Duration::from_secs(20), |e| {
            e.sql() == Some("SELECT the_answer()")
        })
    });
    let mut c = Conn::new(common::opts(&server, "u", "p", None)).unwrap();
    let g: Option<String> = c.query_first("SELECT greeting()").unwrap();
    assert_eq!(g.as_deref(), Some("hello"));
    let a: Option<i64> = c.query_first("SELECT the_answer()").unwrap();
    assert_eq!(a, Some(42));
    let seen = waiter.join().unwrap().expect("the waiter saw the command");
    assert_eq!(seen.command().unwrap().rule, "answer");
    let j = server.journal().unwrap();
    let by: Vec<String> = j
        .commands(|e| {
            e.sql()
                .is_some_and(|s| s.starts_with("SELECT g") || s.starts_with("SELECT t"))
        })
        .iter()
        .map(|e| e.command().unwrap().rule.clone())
        .collect();
    assert_eq!(by, vec!["greeter", "answer"]);
    // a bad rule given in code stops start-up
    let e = understudy::Builder::new(common::config())
        .rule(r#"{"match": {"sql": "x"}}"#)
        .start()
        .err()
        .expect("a rule without an answer is refused");
    assert!(e.to_string().contains("exactly one answer"), "{e}");
}
