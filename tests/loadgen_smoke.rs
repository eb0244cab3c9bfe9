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
        tls: None,
        compress: false,
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

/// A server with a certificate (rcgen, for localhost) in files, and the
/// loadgen trusting it: TLS logins, queries and answers (compressed too) through
/// the loadgen's rustls client, and session resumption by tickets, TLS 1.3
/// and 1.2: with a session store every login after the first resumes; with
/// none, none does.
#[test]
fn every_workload_runs_over_tls_and_logins_resume() {
    let dir = std::env::temp_dir().join(format!("understudy-loadgen-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.key_pair.serialize_pem()).unwrap();
    let mut cfg = common::config();
    cfg.ssl_cert = Some(cert.clone());
    cfg.ssl_key = Some(key);
    let server = common::start(cfg);
    let ca = cert.to_str().unwrap();
    for tls12 in [false, true] {
        let with = |resume: bool| loadgen::Target {
            tls: Some(loadgen::TlsClient::new(ca, "localhost", resume, tls12).unwrap()),
            ..target(&server, true)
        };
        let v = if tls12 { "TLS 1.2" } else { "TLS 1.3" };
        // one connection at a time: each login after the first has a ticket
        let r = loadgen::handshake(&with(true), 1, 0.3);
        assert!(
            r.ops > 2 && r.error_count() == 0,
            "{v} resumed: {:?}",
            r.errors
        );
        assert_eq!(
            r.resumed,
            r.ops - 1,
            "{v}: every login but the first resumes"
        );
        let f = loadgen::handshake(&with(false), 2, 0.3);
        assert!(
            f.ops > 0 && f.error_count() == 0,
            "{v} full: {:?}",
            f.errors
        );
        assert_eq!(f.resumed, 0, "{v}: no session store, no resumption");
        let q = loadgen::query(&with(true), 4, 0.3, "SHOW DATABASES");
        assert!(
            q.ops > 0 && q.rows == 70 * q.ops && q.error_count() == 0,
            "{v} query: {:?}",
            q.errors
        );
        for compress in [false, true] {
            let t = loadgen::Target {
                compress,
                ..with(true)
            };
            let b = loadgen::big(&t, &format!("SELECT '{}'", "x".repeat(3 << 20)), 30.0);
            assert_eq!(
                (b.ops, b.rows),
                (1, 1),
                "{v} big compress={compress}: {:?}",
                b.errors
            );
        }
        let (out, _, _, opened) = loadgen::idle(&with(true), 20, std::process::id());
        assert_eq!(
            (opened, out.ops, out.error_count()),
            (20, 20, 0),
            "{v} idle: {:?}",
            out.errors
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
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

#[test]
fn soak_runs_a_short_round_and_every_held_connection_answers() {
    let mut cfg = common::config();
    // the oversized probes declare more than this
    cfg.max_packet = 1 << 20;
    // a probe the server ignores is closed at once instead of after 10 s
    cfg.handshake_timeout = std::time::Duration::from_secs(1);
    let server = common::start(cfg);
    let soak = loadgen::soak::Config {
        target: target(&server, true),
        server_pid: std::process::id(),
        held: 100,
        in_flight: 50,
        login_timeout: std::time::Duration::from_secs(20),
        secs: 1.5,
        warmup: 0.5,
        sample: 0.5,
        churn: 4,
        query_conns: 4,
        sql: "SHOW DATABASES".into(),
        multi: 200,
        stuck: 2,
        check_sql: None,
        max_packet: 1 << 20,
        probe_timeout: std::time::Duration::from_secs(20),
    };
    let r = loadgen::soak::soak(&soak);
    let summary = r.summary("smoke");
    eprintln!("{summary}");
    assert_eq!(r.held_opened, 100, "{summary}");
    assert_eq!((r.check_asked, r.check_answered), (100, 100), "{summary}");
    assert!(r.fresh_login && r.server_alive, "{summary}");
    for part in ["churn", "query", "stuck", "vanish", "probes"] {
        assert!(
            r.ops.get(part).copied().unwrap_or(0) > 0,
            "{part}: {summary}"
        );
    }
    // the well-behaved parts of the load meet no error; the probes' outcomes
    // depend on the server's limits and are the soak's to report
    assert!(
        !r.unexpected
            .keys()
            .any(|k| ["churn:", "query:", "check:", "vanish:"]
                .iter()
                .any(|p| k.starts_with(p))),
        "{summary}"
    );
    assert!(r.rss.len() >= 2 && r.json("smoke").contains("\"rss_series\":[["));
}

#[test]
fn storm_logs_every_connection_in_and_holds_it() {
    let server = common::start(common::config());
    let t = target(&server, true);
    let (mut out, mut held) = loadgen::storm(&t, 300, 50, std::time::Duration::from_secs(20));
    assert_eq!((out.ops, out.error_count()), (300, 0), "{:?}", out.errors);
    assert!(out.percentile(0.99) > 0);
    assert_eq!(held.len(), 300);
    let check = held.check(&[0x0e], std::time::Duration::from_secs(20));
    assert_eq!(
        (check.ops, check.error_count()),
        (300, 0),
        "{:?}",
        check.errors
    );
    held.quit_all();
}
