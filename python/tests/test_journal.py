"""The journal (--journal FILE): login, command and disconnect lines, an
execution's parameters, and when a line is in the file."""

import datetime
import decimal
import time

import pymysql
import pytest

from conftest import connector, query, rules


def test_login_command_disconnect_lines(understudy):
    server = understudy(rules=rules("01-results"))
    conn = server.connect()
    assert query(conn, "SELECT name FROM users WHERE id = 7") == [("ada",)]
    conn.close()
    server.stop()  # the whole journal is in the file once the server has exited
    entries = server.journal.entries()
    assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
    login, *commands, bye = entries
    assert login["event"] == "login" and bye["event"] == "disconnect"
    assert {e["conn"] for e in entries} == {login["conn"]}
    assert (login["user"], login["plugin"], login["result"]) == ("u", "mysql_native_password", "ok")
    assert login["address"].startswith("127.0.0.1:")
    assert login["attributes"]["_client_name"] == "pymysql"
    assert [c["sql"] for c in commands] == ["SET NAMES utf8mb4", "SET AUTOCOMMIT = 0",
                                            "SELECT name FROM users WHERE id = 7"]
    last = commands[-1]
    assert (last["event"], last["command"], last["user"], last["database"]) == ("command", "query", "u", "app")
    assert (last["rule"], last["answer"], last["rows"]) == ("user-by-id", "result", 1)
    assert last["bytes"] > 0 and last["duration_us"] >= 0
    datetime.datetime.strptime(last["time"], "%Y-%m-%dT%H:%M:%S.%fZ")


def test_failed_login_line(understudy):
    server = understudy(args=["--user", "u:p"])
    with pytest.raises(pymysql.err.OperationalError) as e:
        server.connect(password="wrong")
    assert e.value.args[0] == 1045
    line = server.journal.wait_for(lambda e: e["event"] == "login", timeout=5)
    assert (line["user"], line["result"], line["error"]) == ("u", "error", 1045)


def test_error_line(understudy):
    server = understudy(rules=rules("02-ok-error"))
    with pytest.raises(pymysql.err.ProgrammingError):
        query(server.connect(), "SELECT * FROM missing")
    [line] = server.journal.commands(rule="missing-table")
    assert (line["answer"], line["error"]) == ("error", 1146)


def test_execution_params(understudy):
    server = understudy(rules=rules("01-results"), args=["--unknown", "ok"])
    conn = connector(server)
    cur = conn.cursor(prepared=True)
    cur.execute("SELECT name FROM users WHERE id = ?", (7,))
    assert cur.fetchall() == [("ada",)]
    values = (7, -1, "x'y", None, 1.5, decimal.Decimal("1.25"), datetime.date(2024, 1, 2),
              datetime.datetime(2024, 1, 2, 3, 4, 5, 6), b"\x00\xff")
    cur.execute("INSERT INTO t VALUES (%s)" % ", ".join("?" * len(values)), values)
    prepare, execute = server.journal.commands(like="SELECT name FROM users%")
    assert (prepare["command"], prepare["answer"]) == ("prepare", "prepare_ok")
    assert (execute["command"], execute["sql"], execute["params"], execute["rule"]) == (
        "execute", "SELECT name FROM users WHERE id = ?", [7], "user-by-id")
    assert isinstance(execute["statement"], int)
    [insert] = server.journal.commands(like="INSERT INTO t%", command="execute")
    assert insert["params"] == [7, -1, "x'y", None, 1.5, "1.25", "2024-01-02", "2024-01-02 03:04:05.000006",
                                {"hex": "00ff"}]
    assert insert["rule"] == "unknown"


def test_line_is_in_the_file_when_the_query_returns(understudy):
    server = understudy(rules=rules("01-results", "02-ok-error"))
    conn = server.connect()
    statements = ["SELECT name FROM users WHERE id = 7", "INSERT INTO orders (id) VALUES (1)",
                  "SELECT * FROM missing", "SELECT COUNT(*) FROM events", "SELECT 1"]
    for i in range(30):
        sql = statements[i % len(statements)]
        try:
            query(conn, sql)
        except pymysql.err.ProgrammingError:
            pass
        # read at once, no waiting: the line was written before the answer left
        assert server.journal.commands()[-1]["sql"] == sql, i


def test_mark_and_since(understudy):
    server = understudy(rules=rules("01-results"))
    conn = server.connect()
    query(conn, "SELECT COUNT(*) FROM events")
    mark = server.journal.mark()
    query(conn, "SELECT COUNT(*) FROM clicks")
    assert [e["sql"] for e in server.journal.since(mark)] == ["SELECT COUNT(*) FROM clicks"]
    assert server.journal.sql(since=mark, rule="report-regex") == ["SELECT COUNT(*) FROM clicks"]


# --- lines of answers sent later (timers, faults) and of disconnects -----------------------


@pytest.mark.parametrize("sql", ["SELECT 'slow'", "SELECT 'drip'", "SELECT 'close_before'", "SELECT 'reset'"])
def test_line_of_a_timer_answer_is_written_before_the_answer(understudy, sql):
    server = understudy(rules=rules("03-delay", "04-faults"))
    conn = server.connect()
    try:
        query(conn, sql)
    except pymysql.err.OperationalError:
        pass
    time.sleep(0.2)  # not needed by the contract; shows it is not a matter of a few milliseconds
    assert server.journal.commands()[-1]["sql"] == sql


def test_disconnect_line_is_written_when_the_client_leaves(understudy):
    server = understudy()
    conn = server.connect()
    query(conn, "SELECT 1")
    conn.close()
    server.journal.wait_for(lambda e: e["event"] == "disconnect", timeout=3)
