//! MySQL Proxy Lua scripting through the real `mysql` crate and raw sockets:
//! every hook, every response type, and every error path.
#![cfg(feature = "lua")]

mod common;

use mysql::prelude::Queryable;
use mysql::{Conn, Row, Value};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Writes a script to a fresh temp file.
fn script(name: &str, body: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("understudy-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(format!("{name}.lua"));
    std::fs::write(&p, body).unwrap();
    p
}

fn start(name: &str, body: &str) -> understudy::ServerHandle {
    let mut cfg = common::config();
    cfg.lua_script = Some(script(name, body));
    common::start(cfg)
}

fn conn(server: &understudy::ServerHandle) -> Conn {
    Conn::new(common::opts(server, "u", "p", None)).expect("login")
}

fn err(e: mysql::Error) -> (u16, String, String) {
    match e {
        mysql::Error::MySqlError(e) => (e.code, e.state, e.message),
        other => panic!("not a server error: {other:?}"),
    }
}

fn seed() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/compat/server_mock.lua")
}

#[test]
fn the_seed_script_runs_unchanged() {
    let mut cfg = common::config();
    cfg.lua_script = Some(seed());
    let server = common::start(cfg);
    // Raw socket: the greeting is the script's, byte for byte.
    let mut s = common::raw(&server);
    let (seq, g) = common::read_packet(&mut s).unwrap();
    assert_eq!(seq, 0);
    let g = understudy::protocol::handshake::HandshakeV10::decode(&g).unwrap();
    assert_eq!(g.server_version, b"5.0.45-proxy");
    assert_eq!(g.capabilities, 0x8201);
    let mut nonce = vec![0u8; 20];
    nonce[1] = 20;
    assert_eq!(g.nonce, nonce);
    // A client answering that greeting: the layout follows the flags both sides
    // set (no PLUGIN_AUTH, no DEPRECATE_EOF), the scramble is over the script's nonce.
    let resp = understudy::protocol::handshake::HandshakeResponse41 {
        capabilities: common::CLIENT_CAPS,
        max_packet: 1 << 24,
        charset: 8,
        username: b"x".to_vec(),
        auth_response: understudy::protocol::auth::native_scramble(b"y", &g.nonce),
        database: None,
        auth_plugin: None,
        attributes: vec![],
        zstd_level: None,
    };
    let mut p = Vec::new();
    resp.encode(&mut p);
    common::write_packet(&mut s, 1, &p);
    let (seq, ok) = common::read_packet(&mut s).unwrap();
    assert_eq!((seq, ok[0]), (2, 0));
    common::write_packet(&mut s, 0, b"\x03SHOW DATABASES");
    let mut packets = Vec::new();
    let mut eofs = 0;
    while eofs < 2 {
        let (_, p) = common::read_packet(&mut s).unwrap();
        if p[0] == 0xfe && p.len() < 9 {
            eofs += 1; // classic framing: EOF after the columns and after the rows
        }
        packets.push(p);
    }
    assert_eq!(packets.len(), 1 + 1 + 1 + 70 + 1);
    assert_eq!(&packets[3][..], b"\x04db_1");
    assert_eq!(&packets[72][..], b"\x05db_70");
    common::write_packet(&mut s, 0, b"\x03SELECT 1");
    let (_, e) = common::read_packet(&mut s).unwrap();
    let e = understudy::protocol::response::decode_err(&e).unwrap();
    assert_eq!(
        (e.code, e.message),
        (101, &b"I haven't learnt how to handle that query"[..])
    );
    assert_eq!(
        &e.sqlstate, b"!1010",
        "the seed's 4-byte sqlstate '!101' is padded to 5 bytes"
    );
    common::write_packet(&mut s, 0, b"\x02db_1");
    let (_, ok) = common::read_packet(&mut s).unwrap();
    assert_eq!(ok[0], 0, "COM_INIT_DB answered OK by the script");
    // The Rust driver's own connect-time query (`SELECT @@max_allowed_packet,
    // …`) is a read of system variables: the server answers it before the
    // script, so the driver connects (issue 9); its queries get the seed's 101.
    let mut c = Conn::new(common::opts(&server, "x", "y", None)).unwrap();
    let e = c.query_drop("SELECT 2").unwrap_err();
    assert_eq!(err(e).0, 101);
    let dbs: Vec<String> = c.query("SHOW DATABASES").unwrap();
    assert_eq!(dbs.len(), 70);
}

#[test]
fn read_query_sees_every_command_and_unanswered_ones_fall_through() {
    let server = start(
        "fallthrough",
        r#"
        seen = {}
        function read_query(packet)
            local cmd = packet:byte()
            proxy.global.cmds = (proxy.global.cmds or "") .. cmd .. ","
            if packet:sub(2) == "SELECT 'mine'" then
                proxy.response = { type = proxy.MYSQLD_PACKET_OK,
                    resultset = { fields = { { name = "who", type = proxy.MYSQL_TYPE_VAR_STRING } }, rows = { { "script" } } } }
                return proxy.PROXY_SEND_RESULT
            end
            if packet:sub(2) == "SELECT cmds" then
                proxy.response = { type = proxy.MYSQLD_PACKET_OK,
                    resultset = { fields = { { name = "cmds" } }, rows = { { proxy.global.cmds } } } }
                return proxy.PROXY_SEND_RESULT
            end
            -- no decision: the built-in answers play the backend
        end
        "#,
    );
    let mut c = conn(&server);
    let who: Option<String> = c.query_first("SELECT 'mine'").unwrap();
    assert_eq!(who.as_deref(), Some("script"));
    let dbs: Vec<String> = c.query("SHOW DATABASES").unwrap();
    assert_eq!(dbs.len(), 70, "built-in answer behind the script");
    c.ping().unwrap();
    let cmds: Option<String> = c.query_first("SELECT cmds").unwrap();
    let cmds = cmds.unwrap();
    assert!(
        cmds.contains("3,") && cmds.contains("14,"),
        "COM_QUERY and COM_PING seen: {cmds}"
    );
}

#[test]
fn globals_are_per_connection_and_proxy_global_is_shared() {
    let server = start(
        "globals",
        r#"
        counter = 0
        function read_query(packet)
            if packet:sub(2) ~= "x" then return end
            counter = counter + 1
            proxy.global.total = (proxy.global.total or 0) + 1
            proxy.response = { type = proxy.MYSQLD_PACKET_OK,
                resultset = { fields = { { name = "mine", type = proxy.MYSQL_TYPE_LONG }, { name = "all", type = proxy.MYSQL_TYPE_LONG } },
                              rows = { { counter, proxy.global.total } } } }
            return proxy.PROXY_SEND_RESULT
        end
        "#,
    );
    let mut a = conn(&server);
    let mut b = conn(&server);
    let r: (i64, i64) = a.query_first("x").unwrap().unwrap();
    assert_eq!(r, (1, 1));
    let r: (i64, i64) = a.query_first("x").unwrap().unwrap();
    assert_eq!(r, (2, 2));
    let r: (i64, i64) = b.query_first("x").unwrap().unwrap();
    assert_eq!(r, (1, 3));
}

#[test]
fn ok_err_and_resultset_responses() {
    let server = start(
        "responses",
        r#"
        function read_query(packet)
            local q = packet:sub(2)
            if q == "insert" then
                proxy.response = { type = proxy.MYSQLD_PACKET_OK, affected_rows = 3, insert_id = 42 }
            elseif q == "err" then
                proxy.response = { type = proxy.MYSQLD_PACKET_ERR, errmsg = "nope", errcode = 1146, sqlstate = "42S02" }
            elseif q == "err-defaults" then
                proxy.response = { type = proxy.MYSQLD_PACKET_ERR, errmsg = "d" }
            elseif q == "err-no-msg" then
                proxy.response = { type = proxy.MYSQLD_PACKET_ERR }
            elseif q == "no-name" then
                proxy.response = { type = proxy.MYSQLD_PACKET_OK, resultset = { fields = { { } }, rows = { { "v" } } } }
            elseif q == "typed" then
                proxy.response = { type = proxy.MYSQLD_PACKET_OK, resultset = {
                    fields = { { name = "i", type = proxy.MYSQL_TYPE_LONGLONG }, { name = "f", type = proxy.MYSQL_TYPE_DOUBLE },
                               { name = "s", type = proxy.MYSQL_TYPE_VAR_STRING }, { name = "b", type = proxy.MYSQL_TYPE_BLOB },
                               { name = "n" } },
                    rows = { { 7, 0.1, "héllo", "\0\1\255", nil }, { -1, 1e100, "", "", "x" } } } }
            elseif q == "empty" then
                proxy.response = { type = proxy.MYSQLD_PACKET_OK, resultset = { fields = { { name = "a" } }, rows = {} } }
            else
                return
            end
            return proxy.PROXY_SEND_RESULT
        end
        "#,
    );
    let mut c = conn(&server);
    c.query_drop("insert").unwrap();
    assert_eq!((c.affected_rows(), c.last_insert_id()), (3, 42));
    assert_eq!(
        err(c.query_drop("err").unwrap_err()),
        (1146, "42S02".into(), "nope".into())
    );
    assert_eq!(
        err(c.query_drop("err-defaults").unwrap_err()),
        (1105, "07000".into(), "d".into())
    );
    let rows: Vec<Row> = c.query("typed").unwrap();
    assert_eq!(rows.len(), 2);
    let r = &rows[0];
    assert_eq!(r.get::<i64, _>(0), Some(7));
    assert_eq!(
        r.as_ref(1),
        Some(&Value::Bytes(b"0.1".to_vec())),
        "Lua 5.1 tostring form"
    );
    assert_eq!(r.get::<String, _>(2).as_deref(), Some("héllo"));
    assert_eq!(r.get::<Vec<u8>, _>(3), Some(vec![0, 1, 255]));
    assert_eq!(r.as_ref(4), Some(&Value::NULL));
    assert_eq!(rows[1].as_ref(1), Some(&Value::Bytes(b"1e+100".to_vec())));
    let cols = r.columns_ref();
    assert_eq!(cols[0].character_set(), 63);
    assert_eq!(cols[2].character_set(), 45, "text columns are utf8mb4");
    assert_eq!(cols[3].character_set(), 63, "blobs are binary");
    let rows: Vec<Row> = c.query("empty").unwrap();
    assert!(rows.is_empty());
    let one: Option<i64> = c.query_first("SELECT 1").unwrap();
    assert_eq!(one, Some(1));
}

#[test]
fn raw_packets_and_ignore_result() {
    let server = start(
        "raw",
        r#"
        function read_query(packet)
            local q = packet:sub(2)
            if q == "raw-ok" then
                proxy.response = { type = proxy.MYSQLD_PACKET_RAW, packets = { "\000\005\000\002\000\000\000" } }
                return proxy.PROXY_SEND_RESULT
            elseif q == "nothing" then
                proxy.response = { type = proxy.MYSQLD_PACKET_RAW, packets = { } }
                return proxy.PROXY_SEND_RESULT
            elseif q == "ignore" then
                return proxy.PROXY_IGNORE_RESULT
            end
        end
        "#,
    );
    let mut s = common::login(&server, "u", "p");
    let a = common::query(&mut s, "raw-ok");
    assert_eq!(a, vec![b"\x00\x05\x00\x02\x00\x00\x00".to_vec()]);
    // nothing is sent for an empty RAW list or IGNORE: the next answer is the next query's
    common::write_packet(&mut s, 0, b"\x03nothing");
    common::write_packet(&mut s, 0, b"\x03ignore");
    let a = common::query(&mut s, "SELECT 1");
    assert_eq!(&a[2][..], b"\x011");
}

#[test]
fn read_auth_can_refuse_and_sees_the_login() {
    let server = start(
        "auth",
        r#"
        function read_auth()
            local c = proxy.connection.client
            if c.username == "blocked" then
                proxy.response = { type = proxy.MYSQLD_PACKET_ERR, errmsg = "go away " .. c.username, errcode = 1045, sqlstate = "28000" }
                return proxy.PROXY_SEND_RESULT
            end
            login_info = c.username .. "|" .. c.default_db .. "|" .. #c.scrambled_password .. "|" .. #c.scramble_buffer .. "|" .. c.mysqld_version
        end
        function read_query(packet)
            if packet:sub(2) == "whoami" then
                proxy.response = { type = proxy.MYSQLD_PACKET_OK, resultset = {
                    fields = { { name = "info" }, { name = "addr" } },
                    rows = { { login_info, proxy.connection.client.src.address .. "|" .. proxy.connection.client.src.type
                               .. "|" .. proxy.connection.client.dst.name } } } }
                return proxy.PROXY_SEND_RESULT
            end
        end
        "#,
    );
    let (code, _, msg) = err(Conn::new(common::opts(&server, "blocked", "x", None)).unwrap_err());
    assert_eq!((code, msg.as_str()), (1045, "go away blocked"));
    let mut c = Conn::new(common::opts(&server, "alice", "pw", Some("shop"))).unwrap();
    let (info, addr): (String, String) = c.query_first("whoami").unwrap().unwrap();
    assert_eq!(
        info, "alice|shop|20|20|80036",
        "mysqld_version of 8.0.36-understudy"
    );
    assert_eq!(addr, format!("127.0.0.1|2|{}", server.addr()));
}

#[test]
fn disconnect_client_is_called() {
    let server = start(
        "disconnect",
        r#"
        function disconnect_client()
            proxy.global.gone = (proxy.global.gone or 0) + 1
        end
        function read_query(packet)
            if packet:sub(2) == "gone" then
                proxy.response = { type = proxy.MYSQLD_PACKET_OK, resultset = { fields = { { name = "gone", type = proxy.MYSQL_TYPE_LONG } }, rows = { { proxy.global.gone or 0 } } } }
                return proxy.PROXY_SEND_RESULT
            end
        end
        "#,
    );
    for _ in 0..3 {
        conn(&server).ping().unwrap();
    }
    let mut c = conn(&server);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let n: Option<i64> = c.query_first("gone").unwrap();
        if n == Some(3) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "disconnect_client ran {n:?} times"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn runtime_errors_and_invalid_responses_are_errs_not_crashes() {
    let server = start(
        "errors",
        r#"
        function read_query(packet)
            local q = packet:sub(2)
            if q == "boom" then error("kaboom") end
            if q == "nil-call" then local t = nil; return t.x end
            if q == "bad-type" then proxy.response = { type = 77 } return proxy.PROXY_SEND_RESULT end
            if q == "too-many-cells" then
                proxy.response = { type = proxy.MYSQLD_PACKET_OK, resultset = { fields = { { name = "a" } }, rows = { { "1", "2" } } } }
                return proxy.PROXY_SEND_RESULT
            end
            if q == "no-fields" then
                proxy.response = { type = proxy.MYSQLD_PACKET_OK, resultset = { fields = { }, rows = { } } }
                return proxy.PROXY_SEND_RESULT
            end
            if q == "bad-packet" then
                proxy.response = { type = proxy.MYSQLD_PACKET_RAW, packets = { {} } }
                return proxy.PROXY_SEND_RESULT
            end
            if q == "no-type" then proxy.response = { errmsg = "x" } return proxy.PROXY_SEND_RESULT end
            if q == "loop" then while true do end end
        end
        "#,
    );
    let mut c = conn(&server);
    let (code, _, msg) = err(c.query_drop("boom").unwrap_err());
    assert_eq!(code, 1105);
    assert!(
        msg.contains("errors.lua\"]:4:") && msg.contains("kaboom"),
        "{msg}"
    );
    let (_, _, msg) = err(c.query_drop("nil-call").unwrap_err());
    assert!(msg.contains("errors.lua\"]:5:"), "{msg}");
    for q in [
        "bad-type",
        "too-many-cells",
        "no-fields",
        "bad-packet",
        "no-type",
    ] {
        let (code, state, msg) = err(c.query_drop(q).unwrap_err());
        assert_eq!((code, state.as_str()), (1105, "07000"), "{q}");
        assert_eq!(
            msg, "(lua) handling proxy.response failed, check error-log",
            "{q}"
        );
    }
    let mut other = conn(&server);
    let one: Option<i64> = other.query_first("SELECT 1").unwrap();
    assert_eq!(one, Some(1), "other connections go on");
    let one: Option<i64> = c.query_first("SELECT 1").unwrap();
    assert_eq!(one, Some(1), "and so does this one");
}

#[test]
fn a_script_that_loops_forever_is_stopped_by_the_budget() {
    let mut cfg = common::config();
    cfg.lua_script = Some(script(
        "forever",
        "function read_query(p) if p:sub(2) == 'loop' then while true do end end end",
    ));
    cfg.lua_timeout = Duration::from_millis(200);
    let server = common::start(cfg);
    let mut c = conn(&server);
    let (code, _, msg) = err(c.query_drop("loop").unwrap_err());
    assert_eq!(code, 1105);
    assert!(msg.contains("time budget"), "{msg}");
    let one: Option<i64> = c.query_first("SELECT 1").unwrap();
    assert_eq!(one, Some(1));
}

#[test]
fn a_script_that_fails_to_load_is_refused_before_listening() {
    let mut cfg = common::config();
    cfg.lua_script = Some(script("syntax", "function read_query(\n  oops oops\nend\n"));
    let e = understudy::start(cfg).err().expect("refused");
    let msg = e.to_string();
    assert!(msg.contains("syntax.lua\"]:2:"), "{msg}");
    let mut cfg = common::config();
    cfg.lua_script = Some(script("toplevel", "local x = nil\nx.y = 1\n"));
    let msg = understudy::start(cfg).err().expect("refused").to_string();
    assert!(msg.contains("toplevel.lua\"]:2:"), "{msg}");
    let mut cfg = common::config();
    cfg.lua_script = Some(PathBuf::from("/nonexistent/x.lua"));
    assert!(understudy::start(cfg).is_err());
}

#[test]
fn delay_holds_the_answer_without_blocking_others() {
    let server = start(
        "delay",
        r#"
        function read_query(packet)
            if packet:sub(2) == "slow" then
                proxy.response = { type = proxy.MYSQLD_PACKET_OK, delay = 3 }
                return proxy.PROXY_SEND_RESULT
            end
        end
        "#,
    );
    let mut slow = conn(&server);
    let (tx, rx) = std::sync::mpsc::channel();
    let t = std::thread::spawn(move || {
        let t0 = Instant::now();
        tx.send(()).unwrap();
        slow.query_drop("slow").unwrap();
        t0.elapsed()
    });
    rx.recv().unwrap();
    // While the slow answer is held, other clients log in and get answers: an
    // ordering check (the slow one is still pending), not a timing threshold.
    for _ in 0..3 {
        let mut fast = conn(&server);
        let one: Option<i64> = fast.query_first("SELECT 1").unwrap();
        assert_eq!(one, Some(1));
    }
    assert!(!t.is_finished(), "the delayed answer is still held back");
    assert!(
        t.join().unwrap() >= Duration::from_millis(2900),
        "and it waited its 3 s"
    );
}

#[test]
fn connection_close_closes_after_the_answer() {
    let server = start(
        "close",
        r#"
        function read_query(packet)
            if packet:sub(2) == "bye" then
                proxy.response = { type = proxy.MYSQLD_PACKET_OK }
                proxy.connection.connection_close = true
                return proxy.PROXY_SEND_RESULT
            end
        end
        "#,
    );
    let mut s = common::login(&server, "u", "p");
    let a = common::query(&mut s, "bye");
    assert_eq!(a[0][0], 0);
    assert!(common::read_packet(&mut s).is_none(), "closed");
}

#[test]
fn edited_script_is_picked_up_for_new_connections() {
    let path = script("reload", "function read_query(p) if p:sub(2) == 'v' then proxy.response = { type = proxy.MYSQLD_PACKET_ERR, errmsg = 'one' } return proxy.PROXY_SEND_RESULT end end");
    let mut cfg = common::config();
    cfg.lua_script = Some(path.clone());
    let server = common::start(cfg);
    let mut old = conn(&server);
    assert_eq!(err(old.query_drop("v").unwrap_err()).2, "one");
    std::fs::write(&path, "function read_query(p) if p:sub(2) == 'v' then proxy.response = { type = proxy.MYSQLD_PACKET_ERR, errmsg = 'two!' } return proxy.PROXY_SEND_RESULT end end").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let msg = err(conn(&server).query_drop("v").unwrap_err()).2;
        if msg == "two!" {
            break;
        }
        assert!(Instant::now() < deadline, "not reloaded");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        err(old.query_drop("v").unwrap_err()).2,
        "one",
        "existing connections keep their script"
    );
    // a broken edit keeps the working script
    std::fs::write(&path, "this is not lua").unwrap();
    server.control().reload();
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(err(conn(&server).query_drop("v").unwrap_err()).2, "two!");
}

#[test]
fn local_infile_through_a_raw_answer() {
    let server = start(
        "infile",
        r#"
        function read_query(packet)
            if packet:sub(2):match("^LOAD DATA") then
                proxy.response = { type = proxy.MYSQLD_PACKET_RAW, packets = { "\251/tmp/data.csv" } }
                return proxy.PROXY_SEND_RESULT
            end
        end
        "#,
    );
    let mut s = common::login(&server, "u", "p");
    common::write_packet(
        &mut s,
        0,
        b"\x03LOAD DATA LOCAL INFILE '/tmp/data.csv' INTO TABLE t",
    );
    let (seq, p) = common::read_packet(&mut s).unwrap();
    assert_eq!((seq, &p[..]), (1, &b"\xfb/tmp/data.csv"[..]));
    common::write_packet(&mut s, 2, b"1,a\n2,b\n");
    common::write_packet(&mut s, 3, b"");
    let (seq, ok) = common::read_packet(&mut s).unwrap();
    assert_eq!((seq, ok[0]), (4, 0));
    let a = common::query(&mut s, "SELECT 1");
    assert_eq!(&a[2][..], b"\x011");
}

#[test]
fn constants_have_mysql_proxy_values() {
    let server = start(
        "constants",
        r#"
        function read_query(packet)
            if packet:sub(2) ~= "x" then return end
            local p = proxy
            local checks = {
                p.PROXY_SEND_QUERY == 1, p.PROXY_SEND_RESULT == 2, p.PROXY_IGNORE_RESULT == 4,
                p.MYSQLD_PACKET_OK == 0, p.MYSQLD_PACKET_ERR == 255, p.MYSQLD_PACKET_RAW == 250,
                p.COM_QUERY == 3, p.COM_STMT_PREPARE == 22, p.COM_RESET_CONNECTION == 31,
                p.MYSQL_TYPE_VAR_STRING == 253, p.MYSQL_TYPE_LONGLONG == 8, p.BACKEND_STATE_UP == 1,
                type(p.PROXY_VERSION) == "number", proxy.connection.server == nil, #proxy.queries == 0,
            }
            proxy.queries:append(1, packet)
            local after = #proxy.queries
            local bad = {}
            for i, ok in ipairs(checks) do if not ok then bad[#bad + 1] = tostring(i) end end
            if after ~= 1 then bad[#bad + 1] = "queries" end
            proxy.response = { type = proxy.MYSQLD_PACKET_OK, resultset = { fields = { { name = "bad" } }, rows = { { table.concat(bad, ",") } } } }
            return proxy.PROXY_SEND_RESULT
        end
        "#,
    );
    let mut c = conn(&server);
    let bad: Option<String> = c.query_first("x").unwrap();
    assert_eq!(bad.as_deref(), Some(""));
}

#[test]
fn mysql_proto_and_password_modules() {
    let server = start(
        "modules",
        r#"
        local proto = require("mysql.proto")
        local password = require("mysql.password")
        local challenge = ("x"):rep(20)

        function connect_server()
            proxy.response = { type = proxy.MYSQLD_PACKET_RAW, packets = {
                proto.to_challenge_packet({ server_version = 50130, thread_id = 9, challenge = challenge,
                    capabilities = 0x8201 + 0x2000 + 0x8, charset = 33 }) } }
            return proxy.PROXY_SEND_RESULT
        end

        function read_auth()
            local c = proxy.connection.client
            local dbl = password.hash(password.hash("secret"))
            if not password.check(c.scramble_buffer, c.scrambled_password, dbl) then
                proxy.response = { type = proxy.MYSQLD_PACKET_ERR, errmsg = "bad password for " .. c.username, errcode = 1045, sqlstate = "28000" }
                return proxy.PROXY_SEND_RESULT
            end
            proxy.response = { type = proxy.MYSQLD_PACKET_OK }
            return proxy.PROXY_SEND_RESULT
        end

        function read_query(packet)
            local q = packet:sub(2)
            local out
            if q == "ok" then
                out = proto.to_ok_packet({ affected_rows = 5, insert_id = 6 })
                local back = proto.from_ok_packet(out)
                assert(back.affected_rows == 5 and back.insert_id == 6)
            elseif q == "err" then
                out = proto.to_err_packet({ errmsg = "made by proto", errcode = 1234, sqlstate = "HY001" })
                local back = proto.from_err_packet(out)
                assert(back.errcode == 1234 and back.sqlstate == "HY001" and back.errmsg == "made by proto")
            elseif q == "parse" then
                local ch = proto.from_challenge_packet(proto.to_challenge_packet({ server_version = 50130, challenge = challenge }))
                local eof = proto.from_eof_packet(proto.to_eof_packet({ server_status = 2, warnings = 1 }))
                local resp = proto.from_response_packet(proto.to_response_packet({ username = "bob", response = "r", database = "d" }))
                local s = table.concat({ ch.server_version, #ch.challenge, eof.server_status, eof.warnings,
                    resp.username, resp.database, proto.from_stmt_prepare_packet("\022SELECT ?").stmt_text,
                    proto.from_stmt_close_packet("\025\007\000\000\000").stmt_id,
                    proto.from_stmt_prepare_ok_packet("\000\003\000\000\000\002\000\001\000\000\000\000").num_params,
                    proto.stmt_id_from_stmt_execute_packet("\023\005\000\000\000\000\001\000\000\000"),
                    proto.from_stmt_execute_packet("\023\005\000\000\000\000\001\000\000\000\000\001\008\000\042\000\000\000\000\000\000\000", 1).params[1].value,
                    password.unscramble(challenge, password.scramble(challenge, password.hash("pw")), password.hash(password.hash("pw"))) == password.hash("pw") and "ok" or "bad" }, "|")
                proxy.response = { type = proxy.MYSQLD_PACKET_OK, resultset = { fields = { { name = "s" } }, rows = { { s } } } }
                return proxy.PROXY_SEND_RESULT
            else
                return
            end
            proxy.response = { type = proxy.MYSQLD_PACKET_RAW, packets = { out } }
            return proxy.PROXY_SEND_RESULT
        end
        "#,
    );
    let (code, _, msg) = err(Conn::new(common::opts(&server, "eve", "guess", None)).unwrap_err());
    assert_eq!((code, msg.as_str()), (1045, "bad password for eve"));
    let mut c = Conn::new(common::opts(&server, "bob", "secret", None))
        .expect("password.check accepts the right password");
    c.query_drop("ok").unwrap();
    assert_eq!((c.affected_rows(), c.last_insert_id()), (5, 6));
    assert_eq!(
        err(c.query_drop("err").unwrap_err()),
        (1234, "HY001".into(), "made by proto".into())
    );
    let s: Option<String> = c.query_first("parse").unwrap();
    assert_eq!(
        s.as_deref(),
        Some("50130|20|2|1|bob|d|SELECT ?|7|1|5|42|ok")
    );
}

#[test]
fn a_default_challenge_packet_is_a_greeting_clients_accept() {
    // MySQL Proxy's own tests greet with proto.to_challenge_packet({}).
    let server = start(
        "default_challenge",
        r#"
        local proto = require("mysql.proto")
        function connect_server()
            proxy.response = { type = proxy.MYSQLD_PACKET_RAW, packets = { proto.to_challenge_packet({}) } }
            return proxy.PROXY_SEND_RESULT
        end
        "#,
    );
    let mut s = common::raw(&server);
    let (_, g) = common::read_packet(&mut s).unwrap();
    let g = understudy::protocol::handshake::HandshakeV10::decode(&g).unwrap();
    assert_eq!(g.server_version, b"5.0.99");
    assert_eq!(g.nonce, b"01234567890123456789");
    let mut c = conn(&server);
    let dbs: Vec<String> = c.query("SHOW DATABASES").unwrap();
    assert_eq!(dbs.len(), 70);
}

#[test]
fn read_query_can_answer_change_user() {
    let mut cfg = common::config();
    // with --user checks on, only the script's answer lets "anyone" in
    cfg.users = vec![understudy::config::User {
        name: "real".into(),
        password: "pw".into(),
    }];
    cfg.lua_script = Some(script(
        "change_user",
        r#"
        function read_auth()
            proxy.response = { type = proxy.MYSQLD_PACKET_OK }
            return proxy.PROXY_SEND_RESULT
        end
        function read_query(packet)
            if packet:byte() == proxy.COM_CHANGE_USER then
                proxy.response = { type = proxy.MYSQLD_PACKET_OK }
                return proxy.PROXY_SEND_RESULT
            end
        end
        "#,
    ));
    let server = common::start(cfg);
    let mut c = Conn::new(common::opts(&server, "someone", "x", None)).unwrap();
    c.change_user(
        mysql::ChangeUserOpts::default()
            .with_user(Some("anyone".into()))
            .with_pass(Some("wrong".into()))
            .with_db_name(Some("db_9".into())),
    )
    .unwrap();
    let (u, db): (String, String) = c
        .query_first("SELECT CURRENT_USER(), DATABASE()")
        .unwrap()
        .unwrap();
    assert_eq!((u.as_str(), db.as_str()), ("anyone@%", "db_9"));
}

#[test]
fn cached_responses_are_encoded_once_and_replayed() {
    let server = start(
        "cache",
        r#"
        function read_query(packet)
            local q = packet:sub(2)
            if q == "cached" then
                if not proxy.global.r then
                    proxy.global.builds = (proxy.global.builds or 0) + 1
                    proxy.global.r = { type = proxy.MYSQLD_PACKET_OK, cache = true, resultset = {
                        fields = { { name = "n", type = proxy.MYSQL_TYPE_LONG }, { name = "s" } },
                        rows = { { 1, "one" }, { 2, "two" } } } }
                else
                    -- the contract of cache = true: the table does not change; if it
                    -- does anyway, the first encoding is what clients keep getting
                    proxy.global.r.resultset.rows[1][2] = "changed"
                end
                proxy.response = proxy.global.r
                return proxy.PROXY_SEND_RESULT
            end
        end
        "#,
    );
    let mut a = conn(&server);
    let mut b = conn(&server);
    for i in 0..3 {
        let c = if i == 1 { &mut b } else { &mut a };
        let rows: Vec<(i64, String)> = c.query("cached").unwrap();
        assert_eq!(rows, vec![(1, "one".into()), (2, "two".into())]);
    }
    // inside a transaction the status flags of the copy follow the session
    let mut s = common::login(&server, "u", "p");
    common::query(&mut s, "BEGIN");
    let answer = common::query(&mut s, "cached");
    let end = answer.last().unwrap();
    let st = understudy::protocol::response::decode_ok(end)
        .unwrap()
        .status;
    assert_eq!(
        st & 0x0001,
        0x0001,
        "SERVER_STATUS_IN_TRANS patched into the cached bytes"
    );
}

/// Cells that are neither strings nor numbers (booleans, tables, functions)
/// are NULL, as MySQL Proxy sent them (its lua_tostring() gives NULL); the
/// `debug` library is there, and tracebacks name the chunk as MySQL Proxy did:
/// `[string "path"]:line:`.
#[test]
fn non_text_cells_are_null_and_debug_traceback_names_the_file() {
    let server = start(
        "cells",
        r#"
        function read_query(packet)
            local q = packet:sub(2)
            local cell = debug.traceback()
            if q == "cells" then
                proxy.response = { type = proxy.MYSQLD_PACKET_OK, resultset = {
                    fields = { { name = "t" }, { name = "f" }, { name = "tab" }, { name = "fn" }, { name = "tb" } },
                    rows = { { true, false, {}, print, cell } } } }
                return proxy.PROXY_SEND_RESULT
            end
        end
        "#,
    );
    let mut c = conn(&server);
    let rows: Vec<Row> = c.query("cells").expect("cells");
    let r = &rows[0];
    for i in 0..4 {
        assert_eq!(r.as_ref(i), Some(&Value::NULL), "cell {i}");
    }
    let tb: String = r.get(4).expect("traceback");
    assert!(tb.starts_with("stack traceback:"), "{tb}");
    assert!(tb.contains("cells.lua\"]:4: in function <"), "{tb}");
}

/// A script that answers queries `tokenize:<sql>` with what `mysql.tokenizer`
/// and the `proxy.tokenizer` helpers make of `<sql>`: one `token` row per
/// token, then one row per helper. (Other queries, the driver's own among
/// them, fall through to the built-in answers.)
const TOKENIZER_SCRIPT: &str = r#"
    local lexer = require("mysql.tokenizer")
    local tk = require("proxy.tokenizer")

    local function show_token(t)
        if t == nil then return "nil" end
        return t.token_name .. " " .. t.text
    end

    function read_query(packet)
        if packet:byte() ~= proxy.COM_QUERY then return end
        local prefix = "tokenize:"
        if packet:sub(2, #prefix + 1) ~= prefix then return end
        local q = packet:sub(#prefix + 2)
        local rows = {}
        if q == "errors" then
            local ok, e = pcall(lexer.tokenize, nil)
            local ok2, e2 = pcall(tk.tokenize, {})
            local n = lexer.tokenize(42)
            local built = { { token_name = "TK_LITERAL", text = "x" }, { token_name = "TK_INTEGER", text = "1" } }
            rows = {
                { "nil", tostring(ok), tostring(e), "" },
                { "table", tostring(ok2), tostring(e2), "" },
                { "number", n[1].token_name, n[1].text, tostring(#n) },
                { "built", tk.normalize(built), tk.tokens_to_query(built), "" },
            }
        else
            local tokens = tk.tokenize(q)
            for i, t in ipairs(tokens) do
                rows[#rows + 1] = { "token", tostring(t.token_id), t.token_name, t.text }
            end
            local function add(kind, v) rows[#rows + 1] = { kind, v, "", "" } end
            add("normalize", tk.normalize(tokens))
            add("to_query", tk.tokens_to_query(tokens))
            add("to_query_4_7", tk.tokens_to_query(tokens, 4, 7))
            add("without_comments", table.concat(tk.tokens_without_comments(tokens), "|"))
            add("bare", table.concat(tk.bare_tokens(tokens), "|"))
            add("bare_quoted", table.concat(tk.bare_tokens(tokens, true), "|"))
            add("first", show_token(tk.first_stmt_token(tokens)))
            add("same_as_lexer", tostring(#lexer.tokenize(q) == #tokens))
        end
        proxy.response = { type = proxy.MYSQLD_PACKET_OK, resultset = {
            fields = { { name = "kind" }, { name = "a" }, { name = "b" }, { name = "c" } },
            rows = rows } }
        return proxy.PROXY_SEND_RESULT
    end
"#;

/// What the tokenizer script answers for one query.
struct Tokenized {
    /// `(id, name, text)` per token.
    tokens: Vec<(u16, String, String)>,
    helpers: std::collections::HashMap<String, String>,
}

impl Tokenized {
    fn helper(&self, kind: &str) -> &str {
        self.helpers
            .get(kind)
            .unwrap_or_else(|| panic!("no {kind} row"))
    }

    /// "NAME text" per token.
    fn named(&self) -> Vec<String> {
        self.tokens
            .iter()
            .map(|(_, n, x)| format!("{n} {x}"))
            .collect()
    }

    fn names(&self) -> Vec<&str> {
        self.tokens.iter().map(|(_, n, _)| n.as_str()).collect()
    }
}

fn tokenized(c: &mut Conn, sql: &str) -> Tokenized {
    let rows: Vec<(String, String, String, String)> = c
        .query(format!("tokenize:{sql}"))
        .expect("tokenizer script answers");
    let mut out = Tokenized {
        tokens: Vec::new(),
        helpers: Default::default(),
    };
    for (kind, a, b, text) in rows {
        if kind == "token" {
            out.tokens
                .push((a.parse().expect("token_id is a number"), b, text));
        } else {
            out.helpers.insert(kind, a);
        }
    }
    out
}

#[test]
fn tokenizer_matches_mysql_proxy_tokens2() {
    let server = start("tokenizer_ids", TOKENIZER_SCRIPT);
    let mut c = conn(&server);
    let t = tokenized(&mut c, "select count(*) from mysql.user");
    let want: Vec<(u16, &str, &str)> = vec![
        (204, "TK_SQL_SELECT", "select"),
        (10, "TK_FUNCTION", "count"),
        (16, "TK_OBRACE", "("),
        (19, "TK_STAR", "*"),
        (17, "TK_CBRACE", ")"),
        (105, "TK_SQL_FROM", "from"),
        (9, "TK_LITERAL", "mysql"),
        (13, "TK_DOT", "."),
        (9, "TK_LITERAL", "user"),
    ];
    let got: Vec<(u16, &str, &str)> = t
        .tokens
        .iter()
        .map(|(i, n, x)| (*i, n.as_str(), x.as_str()))
        .collect();
    assert_eq!(got, want);
    assert_eq!(t.helper("same_as_lexer"), "true");

    let t = tokenized(&mut c, "create table t1 (id int) engine = myisam");
    let ids: Vec<u16> = t.tokens.iter().map(|(i, _, _)| *i).collect();
    assert_eq!(ids, [59, 222, 9, 16, 9, 123, 17, 9, 5, 9]);

    let t = tokenized(&mut c, "/* comment */select /*! 1 */");
    let got: Vec<(u16, &str)> = t.tokens.iter().map(|(i, _, x)| (*i, x.as_str())).collect();
    assert_eq!(got, [(8, " comment "), (204, "select"), (261, " 1 ")]);

    let t = tokenized(&mut c, "select /*!50000 1 + */ 1");
    let got: Vec<(u16, &str)> = t.tokens.iter().map(|(i, _, x)| (*i, x.as_str())).collect();
    assert_eq!(got, [(204, "select"), (261, "50000 1 + "), (11, "1")]);
}

#[test]
fn tokenizer_helpers_match_mysql_proxy_tokens1_and_normalize() {
    let server = start("tokenizer_helpers", TOKENIZER_SCRIPT);
    let mut c = conn(&server);
    let rebuilt = "select count( * ) from information_schema . tables where table_schema = \"mysql\" and table_name like \"user\" ";
    for q in [
        "select count(*) from information_schema.tables where table_schema='mysql' and table_name like 'user'",
        "/*a comment*/select /*another comment*/ count(*) from information_schema.tables where table_schema='mysql' and table_name like 'user'",
    ] {
        let t = tokenized(&mut c, q);
        assert_eq!(t.helper("to_query"), rebuilt, "{q}");
        assert_eq!(t.helper("first"), "TK_SQL_SELECT select", "{q}");
        assert_eq!(
            t.helper("normalize"),
            "SELECT COUNT( * ) FROM `information_schema` . `tables` WHERE `table_schema` = ? AND `table_name` LIKE ? "
        );
    }
    for (q, normalized) in [
        ("select 1", "SELECT ? "),
        (
            "select count(*) from mysql.user",
            "SELECT COUNT( * ) FROM `mysql` . `user` ",
        ),
        (
            "create table t1 (id int) engine = myisam",
            "CREATE TABLE `t1` ( `id` INT ) `engine` = `myisam` ",
        ),
        ("/* comment */select /*! 1 */", "SELECT /*! 1 */ "),
        ("select /*!50000 1 + */ 1", "SELECT /*!50000 1 + */ ? "),
        ("SELECT @i := 1", "SELECT @i := ? "),
        ("COMMIT", "COMMIT "),
        ("ROLLBACK", "ROLLBACK "),
        ("START TRANSACTION", "START TRANSACTION "),
        ("start transaction", "START TRANSACTION "),
        ("BEGIN", "BEGIN "),
        ("begin work", "BEGIN `work` "),
        (
            "CREATE TABLE commit ( id int )",
            "CREATE TABLE `commit` ( `id` INT ) ",
        ),
        (
            "SET GLOBAL unknown.unknown = 1",
            "SET `GLOBAL` `unknown` . `unknown` = ? ",
        ),
    ] {
        assert_eq!(tokenized(&mut c, q).helper("normalize"), normalized, "{q}");
    }
}

#[test]
fn tokenizer_quotes_comments_numbers_and_statements() {
    let server = start("tokenizer_own", TOKENIZER_SCRIPT);
    let mut c = conn(&server);

    // Quotes: doubled quotes collapse, backslash escapes stay as written;
    // `--` comments run to the end of the line, `#` is no comment.
    let t = tokenized(
        &mut c,
        "SELECT 'it''s', \"a\\\"b\", `my col` FROM t -- trailing\n# hash",
    );
    assert_eq!(
        t.named(),
        [
            "TK_SQL_SELECT SELECT",
            "TK_STRING it's",
            "TK_COMMA ,",
            "TK_STRING a\\\"b",
            "TK_COMMA ,",
            "TK_LITERAL my col",
            "TK_SQL_FROM FROM",
            "TK_LITERAL t",
            "TK_COMMENT trailing",
            "TK_UNKNOWN #",
            "TK_LITERAL hash",
        ]
    );
    assert_eq!(
        t.helper("to_query"),
        "SELECT \"it's\" , \"a\\\\\\\"b\" , my col FROM t # hash "
    );
    assert_eq!(
        t.helper("bare"),
        "SELECT|it's|,|a\\\"b|,|my col|FROM|t|#|hash"
    );
    assert_eq!(
        t.helper("bare_quoted"),
        "SELECT|\"it's\"|,|\"a\\\\\\\"b\"|,|my col|FROM|t|#|hash"
    );
    assert_eq!(
        t.helper("normalize"),
        "SELECT ? , ? , `my col` FROM `t` # `hash` "
    );

    // Two statements, a leading comment, a version comment, variables, numbers.
    let t = tokenized(
        &mut c,
        "/* lead */ /*!40101 SET @a := 1.5e3 */; SELECT @@session.sql_mode, 1.5, .5, 3",
    );
    assert_eq!(
        t.names(),
        [
            "TK_COMMENT",
            "TK_COMMENT_MYSQL",
            "TK_SEMICOLON",
            "TK_SQL_SELECT",
            "TK_LITERAL",
            "TK_DOT",
            "TK_LITERAL",
            "TK_COMMA",
            "TK_FLOAT",
            "TK_COMMA",
            "TK_FLOAT",
            "TK_COMMA",
            "TK_INTEGER",
        ]
    );
    assert_eq!(t.tokens[1].2, "40101 SET @a := 1.5e3 ");
    assert_eq!(t.tokens[4].2, "@@session");
    // first_stmt_token skips TK_COMMENT only, as MySQL Proxy's does.
    assert_eq!(t.helper("first"), "TK_COMMENT_MYSQL 40101 SET @a := 1.5e3 ");
    assert_eq!(
        t.helper("normalize"),
        "/*!40101 SET @a := 1.5e3 */ ; SELECT @@session . `sql_mode` , ? , ? , ? "
    );
    assert_eq!(
        t.helper("to_query"),
        "40101 SET @a := 1.5e3  ; SELECT @@session . sql_mode , 1.5 , .5 , 3 "
    );
    assert_eq!(t.helper("to_query_4_7"), "SELECT @@session . sql_mode ");
    assert_eq!(
        t.helper("without_comments"),
        "40101 SET @a := 1.5e3 |;|SELECT|@@session|.|sql_mode|,|1.5|,|.5|,|3"
    );

    // Numbers against words: 1e5 is a float, 1e5x and 1e words.
    let t = tokenized(&mut c, "SELECT 1e5, 1e5x, 1e, 2.5E-3");
    assert_eq!(
        t.named(),
        [
            "TK_SQL_SELECT SELECT",
            "TK_FLOAT 1e5",
            "TK_COMMA ,",
            "TK_LITERAL 1e5x",
            "TK_COMMA ,",
            "TK_LITERAL 1e",
            "TK_COMMA ,",
            "TK_FLOAT 2.5E-3",
        ]
    );

    // Nothing but a comment.
    let t = tokenized(&mut c, "-- only a comment");
    assert_eq!(t.names(), ["TK_COMMENT"]);
    assert_eq!(t.tokens[0].2, "only a comment");
    assert_eq!(t.helper("first"), "nil");
    assert_eq!(t.helper("normalize"), "");
    assert_eq!(t.helper("to_query"), "");
}

#[test]
fn tokenizer_errors_and_other_arguments() {
    let server = start("tokenizer_errors", TOKENIZER_SCRIPT);
    let mut c = conn(&server);
    let rows: Vec<(String, String, String, String)> = c.query("tokenize:errors").expect("answer");
    assert_eq!(rows[0].1, "false");
    assert!(
        rows[0]
            .2
            .contains("bad argument #1 to 'tokenize' (string expected, got nil)"),
        "{}",
        rows[0].2
    );
    assert_eq!(rows[1].1, "false");
    assert!(
        rows[1].2.contains("(string expected, got table)"),
        "{}",
        rows[1].2
    );
    // A number is tokenized as its text, as luaL_checklstring allows.
    assert_eq!(
        (rows[2].1.as_str(), rows[2].2.as_str(), rows[2].3.as_str()),
        ("TK_INTEGER", "42", "1")
    );
    // The helpers take token tables a script built itself.
    assert_eq!((rows[3].1.as_str(), rows[3].2.as_str()), ("`x` ? ", "x 1 "));
}

/// Code whose environment is `_G` (a chunk from `loadstring`) sees the running
/// connection's `proxy.connection` through `_G.proxy`, as in MySQL Proxy; a
/// key nobody has is nil (no lookup loop); `chassis.log` logs and rejects an
/// unknown level.
#[test]
fn loadstring_chunks_see_the_running_connection_and_chassis_logs() {
    let server = start(
        "globalproxy",
        r#"
        local chassis = require("chassis")
        function read_query(packet)
            local q = packet:sub(2)
            local v
            if q:sub(1, 5) == "eval " then
                local ok, r = pcall(assert(loadstring(q:sub(6))))
                v = tostring(r)
                chassis.log("info", "evaluated " .. q)
            elseif q == "badlevel" then
                local ok, e = pcall(chassis.log, "loud", "x")
                v = tostring(e)
            else
                return
            end
            proxy.response = { type = proxy.MYSQLD_PACKET_OK,
                resultset = { fields = { { name = "v" } }, rows = { { v } } } }
            return proxy.PROXY_SEND_RESULT
        end
        "#,
    );
    let one = |c: &mut Conn, q: &str| -> String {
        c.query_first::<String, _>(q)
            .expect("query")
            .expect("one row")
    };
    let mut a = conn(&server);
    let mut b = Conn::new(common::opts(&server, "v", "p", None)).expect("login");
    for _ in 0..2 {
        assert_eq!(
            one(&mut a, "eval return proxy.connection.client.username"),
            "u"
        );
        assert_eq!(
            one(&mut b, "eval return proxy.connection.client.username"),
            "v"
        );
    }
    assert_eq!(one(&mut a, "eval return proxy.COM_QUERY"), "3");
    assert_eq!(one(&mut a, "eval return proxy.global ~= nil"), "true");
    assert_eq!(one(&mut a, "eval return proxy.no_such_key"), "nil");
    assert!(one(&mut a, "badlevel").contains("invalid option 'loud'"));
}

/// Lua 5.1 read an unknown escape as the character (`"\."` is `"."`), and
/// MySQL Proxy-era scripts rely on it; LuaJIT refuses it, so understudy reads
/// such a script as Lua 5.1 did.
#[test]
fn lua51_unknown_escapes_load_as_in_lua51() {
    let server = start(
        "escapes",
        r#"
        local pattern = "^(%d+)\.(%d+)$"
        function read_query(packet)
            local major, minor = packet:sub(2):match(pattern)
            if not major then return end
            proxy.response = { type = proxy.MYSQLD_PACKET_OK,
                resultset = { fields = { { name = "v" } }, rows = { { major .. "/" .. minor .. "\%" } } } }
            return proxy.PROXY_SEND_RESULT
        end
        "#,
    );
    let mut c = conn(&server);
    let v: Option<String> = c.query_first("12.34").expect("query");
    assert_eq!(v.as_deref(), Some("12/34%"));
}

/// A script's pre-4.1 greeting (MySQL Proxy's mysql-40 test sends one): the
/// pre-4.1 answer a client then sends is refused with a pre-4.1 ERR, without
/// the '#'+SQLSTATE such a client would read as part of the message.
#[test]
fn a_pre_41_greeting_gets_pre_41_errors() {
    let server = start(
        "mysql40",
        r#"
        function connect_server()
            proxy.response = { type = proxy.MYSQLD_PACKET_RAW, packets = {
                "\010" .. "4.0.24" .. "\000" .. "\001\000\000\000" .. "AAAAAAAA" .. "\000" ..
                "\044\032" .. "\008" .. "\002\000" .. ("\000"):rep(13) } }
            return proxy.PROXY_SEND_RESULT
        end
        "#,
    );
    let mut s = common::raw(&server);
    let (_, g) = common::read_packet(&mut s).expect("greeting");
    assert_eq!(&g[1..7], b"4.0.24");
    // a 4.0 client's answer: 2-byte caps, 3-byte max packet, user, scramble
    common::write_packet(&mut s, 1, b"\x84\x20\x00\x00\x01u\x00ABCDEFGH");
    let (_, err) = common::read_packet(&mut s).expect("an ERR");
    assert_eq!(err[0], 0xff);
    assert_eq!(u16::from_le_bytes([err[1], err[2]]), 1043);
    assert_eq!(
        &err[3..],
        b"Bad handshake",
        "no '#'+SQLSTATE for a pre-4.1 client"
    );
}

/// Issue 9: a script sees a server-prepared statement's text and typed
/// parameters in `proxy.statement` while answering its execution as a text
/// query, and can answer a PREPARE itself with mysql.proto's encoders for
/// PREPARE_OK, field definitions and binary rows, framed for the
/// capabilities the client agreed (`proxy.connection.client.capabilities`).
#[test]
fn r9_a_script_sees_statements_and_encodes_raw_prepared_answers() {
    let server = start(
        "statements",
        r#"
        local proto = require("mysql.proto")
        local function eof_framing()
            -- CLIENT_DEPRECATE_EOF is 1 << 24
            return math.floor(proxy.connection.client.capabilities / 16777216) % 2 == 0
        end
        local function finish(packets)
            if eof_framing() then
                packets[#packets + 1] = "\254\000\000\002\000"
            end
        end
        local field = { name = "v", type = proxy.MYSQL_TYPE_LONG }
        function read_query(packet)
            local cmd, body = packet:byte(), packet:sub(2)
            if cmd == proxy.COM_STMT_PREPARE and body == "SELECT mine" then
                local p = { proto.to_stmt_prepare_ok_packet({ stmt_id = 900, num_columns = 1, num_params = 0 }),
                    proto.to_field_packet(field) }
                finish(p)
                proxy.response = { type = proxy.MYSQLD_PACKET_RAW, packets = p }
                return proxy.PROXY_SEND_RESULT
            end
            if cmd == proxy.COM_STMT_EXECUTE and proto.stmt_id_from_stmt_execute_packet(packet) == 900 then
                local p = { "\001", proto.to_field_packet(field) }
                finish(p)
                p[#p + 1] = proto.to_binary_row_packet({ field }, { 42 })
                p[#p + 1] = eof_framing() and "\254\000\000\002\000" or "\254\000\000\002\000\000\000"
                proxy.response = { type = proxy.MYSQLD_PACKET_RAW, packets = p }
                return proxy.PROXY_SEND_RESULT
            end
            if cmd == proxy.COM_QUERY and body:sub(1, 11) == "SELECT echo" and proxy.statement then
                local st = proxy.statement
                local p = st.params[1] or {}
                proxy.response = { type = proxy.MYSQLD_PACKET_OK, resultset = {
                    fields = { { name = "text" }, { name = "describe" }, { name = "type" }, { name = "value" } },
                    rows = { { st.text, tostring(st.describe), p.type, p.value } } } }
                return proxy.PROXY_SEND_RESULT
            end
        end
        "#,
    );
    let mut c = Conn::new(common::opts(&server, "u", "p", None)).unwrap();
    let v: Option<i64> = c.exec_first("SELECT mine", ()).unwrap();
    assert_eq!(v, Some(42), "the script's own statement, raw binary row");
    let row: Option<(String, String, i64, String)> =
        c.exec_first("SELECT echo ?", ("hello",)).unwrap();
    assert_eq!(
        row,
        Some((
            "SELECT echo ?".to_string(),
            "false".to_string(),
            253,
            "hello".to_string()
        ))
    );
}
