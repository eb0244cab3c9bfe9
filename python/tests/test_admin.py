"""The admin port (--admin-port, --admin-user) through PyMySQL: SHOW
STATS/RULES/JOURNAL/UNMATCHED/CONNECTIONS, ADD/DELETE/LOAD RULE(S), RESET
JOURNAL/STATS, KILL, WAIT FOR JOURNAL."""

import json
import threading
import time

import pymysql
import pytest

from conftest import query, rules


@pytest.fixture
def server(understudy):
    return understudy(rules=rules("01-results"), admin=True)


def stats(server):
    return {r["name"]: r["value"] for r in server.admin("SHOW STATS")}


def test_admin_login_is_checked(server):
    with pytest.raises(pymysql.err.OperationalError) as e:
        pymysql.connect(host=server.host, port=server.admin_port, user="admin", password="nope", connect_timeout=10)
    assert e.value.args[0] == 1045


def test_show_stats(server):
    query(server.connect(), "SELECT name FROM users WHERE id = 7")
    s = stats(server)
    assert s["rules"] == 5 and s["rule_hits"] == 1 and s["connections_total"] == 1
    assert s["rows_sent"] >= 1 and s["bytes_in"] > 0 and s["bytes_out"] > 0
    assert isinstance(s["seed"], int)


def test_show_rules(server):
    query(server.connect(), "SELECT name FROM users WHERE id = 7")
    listed = server.admin("SHOW RULES")
    assert [r["name"] for r in listed] == ["typed", "user-by-id", "user-unknown", "orders-csv", "report-regex"]
    by_name = {r["name"]: r for r in listed}
    assert by_name["user-by-id"] == {
        "name": "user-by-id", "file": "01-results.json", "command": "query", "match": "sql",
        "pattern": "SELECT name FROM users WHERE id = ?", "answer": "result", "hits": 1, "remaining": None,
    }
    assert by_name["report-regex"]["match"] == "regex"


def test_show_journal_like_limit(server):
    conn = server.connect()
    for i in (7, 8, 9):
        query(conn, "SELECT name FROM users WHERE id = %s", (i,))
    rows = server.admin("SHOW JOURNAL LIKE '%users%'")
    assert [r["sql"] for r in rows] == ["SELECT name FROM users WHERE id = %d" % i for i in (7, 8, 9)]
    assert [r["rule"] for r in rows] == ["user-by-id", "user-unknown", "user-unknown"]
    limited = server.admin("SHOW JOURNAL LIKE '%users%' LIMIT 2")
    assert len(limited) == 2
    # the same lines as the file's
    file_seqs = {e["seq"] for e in server.journal.commands(like="%users%")}
    assert {r["seq"] for r in rows} == file_seqs


def test_show_unmatched(server):
    conn = server.connect()
    for _ in range(2):
        with pytest.raises(pymysql.err.InternalError):
            query(conn, "SELECT name FROM user WHERE id = 7")
    [row] = server.admin("SHOW UNMATCHED")
    assert row["sql"] == "SELECT name FROM user WHERE id = 7" and row["count"] == 2
    assert row["nearest_rule"] == "user-by-id"


def test_show_connections_and_kill(server):
    victim = server.connect(database="app")
    bystander = server.connect(user="other", database=None)
    conns = server.admin("SHOW CONNECTIONS")
    assert sorted((c["user"], c["database"]) for c in conns) == [("other", None), ("u", "app")]
    [target] = [c for c in conns if c["user"] == "u"]
    assert target["state"] == "idle" and target["address"].startswith("127.0.0.1:")
    server.admin("KILL %d" % target["id"])
    with pytest.raises(pymysql.err.OperationalError) as e:
        query(victim, "SELECT 1")
    assert e.value.args[0] == 2013
    assert query(bystander, "SELECT 1") == [(1,)]
    assert [c["user"] for c in server.admin("SHOW CONNECTIONS")] == ["other"]
    with pytest.raises(pymysql.err.MySQLError):
        server.admin("KILL 999999")


def test_add_rule_then_delete_it(server):
    conn = server.connect()
    rule = {"name": "added", "match": {"sql": "SELECT name FROM users WHERE id = ?"},
            "result": {"columns": [{"name": "name", "type": "TEXT"}], "rows": [["grace"]]}}
    server.admin("ADD RULE '%s'" % json.dumps(rule))
    assert query(conn, "SELECT name FROM users WHERE id = 7") == [("grace",)]  # the newest rule answers first
    assert server.journal.commands()[-1]["rule"] == "added"
    assert "added" in [r["name"] for r in server.admin("SHOW RULES")]
    server.admin("DELETE RULE 'added'")
    assert query(conn, "SELECT name FROM users WHERE id = 7") == [("ada",)]
    with pytest.raises(pymysql.err.OperationalError) as e:
        server.admin("DELETE RULE 'added'")
    assert e.value.args == (1105, 'DELETE RULE: no rule named "added"')


def test_add_rule_rejects_a_bad_rule(server):
    with pytest.raises(pymysql.err.OperationalError) as e:
        server.admin("""ADD RULE '{"name": "x", "match": {"sql": "x"}}'""")
    assert e.value.args[0] == 1105 and "give exactly one answer" in e.value.args[1]
    with pytest.raises(pymysql.err.OperationalError):
        server.admin("ADD RULE '{not json'")
    assert len(server.admin("SHOW RULES")) == 5


def test_load_rules(server):
    conn = server.connect()
    with pytest.raises(pymysql.err.InternalError):
        query(conn, "SELECT * FROM missing")
    server.admin("LOAD RULES '%s'" % rules("02-ok-error")[0])
    with pytest.raises(pymysql.err.ProgrammingError) as e:
        query(conn, "SELECT * FROM missing")
    assert e.value.args[0] == 1146
    assert query(conn, "SELECT name FROM users WHERE id = 7") == [("ada",)]  # 01's rules are still there
    with pytest.raises(pymysql.err.OperationalError) as e:
        server.admin("LOAD RULES '/nonexistent/rules.json'")
    assert "No such file" in e.value.args[1]


def test_reset_journal(server):
    query(server.connect(), "SELECT name FROM users WHERE id = 7")
    assert server.admin("SHOW JOURNAL LIKE '%users%'")
    server.admin("RESET JOURNAL")
    assert server.admin("SHOW JOURNAL") == []
    query(server.connect(), "SELECT COUNT(*) FROM events")
    assert [r["sql"] for r in server.admin("SHOW JOURNAL LIKE 'SELECT COUNT%'")] == ["SELECT COUNT(*) FROM events"]
    # the file keeps everything
    assert server.journal.commands(like="%users%")


def test_reset_stats(server):
    query(server.connect(), "SELECT name FROM users WHERE id = 7")
    assert stats(server)["rule_hits"] == 1
    server.admin("RESET STATS")
    s = stats(server)
    assert s["rule_hits"] == 0 and s["connections_total"] == 0 and s["rows_sent"] == 0
    assert s["rules"] == 5  # not a counter


def test_admin_traffic_is_not_counted(server):
    server.admin("RESET STATS")
    first, second = stats(server), stats(server)
    assert second["logins_ok"] == first["logins_ok"] == second["connections_total"] == 0
    assert second["commands"] == first["commands"]


def test_wait_for_journal(server):
    waiting = server.admin_connect(read_timeout=30)
    result = {}

    def wait():
        with waiting.cursor(pymysql.cursors.DictCursor) as cur:
            cur.execute("WAIT FOR JOURNAL LIKE '%FROM clicks%' TIMEOUT 20")
            result["rows"] = cur.fetchall()

    waiter = threading.Thread(target=wait, daemon=True)
    waiter.start()
    time.sleep(0.2)  # let the WAIT arrive first (if it does not, it finds the line anyway)
    # while it waits: other clients and another admin connection are answered
    client = server.connect(read_timeout=5)
    assert query(client, "SELECT COUNT(*) FROM events") == [(42,)]
    assert len(server.admin("SHOW RULES")) == 5
    assert waiter.is_alive()
    assert query(client, "SELECT COUNT(*) FROM clicks") == [(42,)]
    waiter.join(10)
    assert not waiter.is_alive(), "WAIT FOR JOURNAL did not return"
    [row] = result["rows"]
    assert (row["sql"], row["rule"], row["event"]) == ("SELECT COUNT(*) FROM clicks", "report-regex", "command")


def test_wait_for_journal_timeout(server):
    t0 = time.monotonic()
    with pytest.raises(pymysql.err.MySQLError) as e:
        server.admin("WAIT FOR JOURNAL LIKE '%never sent%' TIMEOUT 1")
    assert e.value.args[0] == 3024
    assert "within 1" in e.value.args[1]
    assert time.monotonic() - t0 >= 0.9
    assert query(server.connect(), "SELECT 1") == [(1,)]


def test_admin_statements_are_not_on_the_client_port(server):
    with pytest.raises(pymysql.err.InternalError) as e:
        query(server.connect(), "SHOW STATS")
    assert e.value.args[0] == 101
