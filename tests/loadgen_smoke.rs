//! Runs every load-generator workload for one short round against an
//! in-process server, so that the bench cannot rot (no timing is asserted).

#[path = "../benches/loadgen/mod.rs"]
mod loadgen;

mod common;

fn target(server: &understudy::ServerHandle, deprecate_eof: bool) -> loadgen::Target {
    loadgen::Target {
        addr: server.addr(),
        user: "u".into(),
        password: "p".into(),
        deprecate_eof,
    }
}

#[test]
fn every_workload_runs_one_short_round() {
    let server = common::start(common::config());
    for deprecate in [true, false] {
        let t = target(&server, deprecate);
        let mut h = loadgen::handshake(&t, 4, 0.3);
        assert!(
            h.ops > 0 && h.error_count() == 0,
            "handshake: {:?}",
            h.errors
        );
        assert!(h.percentile(0.5) > 0);
        let q = loadgen::query(&t, 4, 0.3, "SELECT 1");
        assert!(
            q.ops > 0 && q.rows == q.ops && q.error_count() == 0,
            "query: {:?}",
            q.errors
        );
        let s = loadgen::query(&t, 2, 0.3, "SHOW DATABASES");
        assert!(
            s.ops > 0 && s.rows == 70 * s.ops,
            "show databases: {} rows for {} ops",
            s.rows,
            s.ops
        );
        let m = loadgen::query(&t, 1, 0.3, "SELECT 1; SHOW DATABASES");
        assert!(
            m.ops > 0 && m.rows == 71 * m.ops,
            "multi-results: {} rows for {} ops",
            m.rows,
            m.ops
        );
        let b = loadgen::big(&t, "SHOW VARIABLES", 10.0);
        assert!(
            b.ops == 1 && b.rows > 50,
            "big: {} rows {:?}",
            b.rows,
            b.errors
        );
    }
    let big = loadgen::big(
        &target(&server, true),
        &format!("SELECT '{}'", "x".repeat(17 << 20)),
        30.0,
    );
    assert_eq!(
        (big.ops, big.rows),
        (1, 1),
        "a row over 16 MiB: {:?}",
        big.errors
    );
    let (out, _, _, opened) = loadgen::idle(&target(&server, true), 50, std::process::id());
    assert_eq!((opened, out.ops, out.error_count()), (50, 50, 0));
}

#[test]
fn errors_are_counted_by_kind() {
    let mut cfg = common::config();
    cfg.users = vec![understudy::config::User {
        name: "u".into(),
        password: "right".into(),
    }];
    let server = common::start(cfg);
    let h = loadgen::handshake(&target(&server, true), 2, 0.2);
    assert_eq!(h.ops, 0);
    assert!(
        h.errors.get("auth_err_1045").copied().unwrap_or(0) > 0,
        "{:?}",
        h.errors
    );
}
