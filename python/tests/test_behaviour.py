"""How rules behave over time and beside the server's other answers:
precedence (Lua script > rules > built-in answers > --unknown), times,
probability with --seed, reloading (SIGHUP, a changed file, a broken file),
bad files at start-up, and the non-query commands of 06-commands.json."""

import os
import time
from decimal import Decimal

import pymysql
import pytest

from conftest import connector, query, rules, write_rules

from understudy_pytest import UnderstudyError


def one_rule(name, sql, value):
    return {
        "name": name,
        "match": {"sql": sql},
        "result": {"columns": [{"name": "v", "type": "VARCHAR(32)"}], "rows": [[value]]},
    }


# --- precedence ----------------------------------------------------------------

LUA = """
function read_query(packet)
    if packet:byte() ~= proxy.COM_QUERY then return end
    if packet:sub(2) == "SELECT name FROM users WHERE id = 7" then
        proxy.response = { type = proxy.MYSQLD_PACKET_OK,
                           resultset = { fields = { { name = "name" } }, rows = { { "from-lua" } } } }
        return proxy.PROXY_SEND_RESULT
    end
end
"""


def test_lua_script_beats_a_rule(understudy, tmp_path):
    script = tmp_path / "answer.lua"
    script.write_text(LUA)
    server = understudy(rules=rules("01-results"), args=["--lua-script", script])
    conn = server.connect()
    assert query(conn, "SELECT name FROM users WHERE id = 7") == [("from-lua",)]
    assert query(conn, "SELECT COUNT(*) FROM events") == [(42,)]  # the script passes: the rule answers
    answered = {c["sql"]: c["rule"] for c in server.journal.commands()}
    assert answered["SELECT name FROM users WHERE id = 7"] == "lua"
    assert answered["SELECT COUNT(*) FROM events"] == "report-regex"


def test_rule_beats_a_builtin_answer(understudy, tmp_path):
    plain = understudy()
    [(builtin,)] = query(plain.connect(), "SELECT @@version_comment")
    assert builtin.startswith("understudy")
    path = write_rules(tmp_path / "vc.json", one_rule("vc", "SELECT @@version_comment", "from-rule"))
    server = understudy(rules=[path])
    assert query(server.connect(), "SELECT @@version_comment") == [("from-rule",)]
    assert server.journal.commands(like="%version_comment")[0]["rule"] == "vc"
    # a driver's session settings stay built-in unless a rule names them
    assert [c["rule"] for c in server.journal.commands(like="SET NAMES%")] == ["builtin"]


@pytest.mark.parametrize("unknown", [None, "error", "ok", "empty"])
def test_unknown(understudy, unknown):
    server = understudy(args=["--unknown", unknown] if unknown else [])
    cur = server.connect().cursor()
    sql = "SELECT a, b FROM nowhere" if unknown == "empty" else "CREATE TABLE t (id INT PRIMARY KEY)"
    if unknown in (None, "error"):
        with pytest.raises(pymysql.err.InternalError) as e:
            cur.execute(sql)
        assert e.value.args == (101, "I haven't learnt how to handle that query")
    elif unknown == "ok":
        assert cur.execute(sql) == 0 and cur.description is None
    else:
        cur.execute(sql)
        assert cur.fetchall() == () and cur.description is not None  # a result with no rows
    assert server.journal.commands()[-1]["sql"] == sql
    assert server.journal.commands()[-1]["rule"] == "unknown"


# --- times, probability ------------------------------------------------------------


def test_times_deadlock_twice_then_ok(understudy):
    server = understudy(rules=rules("05-times-probability"), admin=True)
    conn = server.connect()
    outcomes = []
    for _ in range(4):
        try:
            outcomes.append(conn.cursor().execute("UPDATE accounts SET balance = balance - 1 WHERE id = 1"))
        except pymysql.err.OperationalError as e:
            outcomes.append(e.args[0])
    assert outcomes == [1213, 1213, 1, 1]
    by_name = {r["name"]: r for r in server.admin("SHOW RULES")}
    assert (by_name["deadlock-twice"]["hits"], by_name["deadlock-twice"]["remaining"]) == (2, 0)
    assert by_name["update-ok"]["hits"] == 2


def balance_outcomes(understudy, seed, n=50):
    server = understudy(rules=rules("05-times-probability"), args=["--seed", str(seed)])
    conn = server.connect()
    out = []
    for i in range(n):
        try:
            out.append(query(conn, "SELECT balance FROM accounts WHERE id = %s", (i,))[0][0])
        except pymysql.err.OperationalError as e:
            out.append(e.args[0])
    server.stop()
    return out


def test_probability_repeats_with_the_seed(understudy):
    first = balance_outcomes(understudy, 1)
    assert set(first) == {1205, Decimal("100.00")}  # both outcomes occur
    assert balance_outcomes(understudy, 1) == first
    assert balance_outcomes(understudy, 2) != first


# --- reloading ------------------------------------------------------------------------


def replace(path, *rules_):
    """Write a rule file whole (write a temporary file, then rename it over)."""
    tmp = path.with_suffix(".tmp")
    write_rules(tmp, *rules_)
    os.replace(tmp, path)


def test_sighup_reloads_a_changed_file(understudy, tmp_path):
    path = write_rules(tmp_path / "g.json", one_rule("greeting", "SELECT greeting", "hello"))
    server = understudy(rules=[path])
    conn = server.connect()
    assert query(conn, "SELECT greeting") == [("hello",)]
    replace(path, one_rule("greeting", "SELECT greeting", "bonjour"))
    assert server.reload() is True
    assert query(conn, "SELECT greeting") == [("bonjour",)]  # the same connection sees the new set
    assert query(server.connect(), "SELECT greeting") == [("bonjour",)]


def test_a_broken_file_keeps_the_old_rules(understudy, tmp_path):
    path = write_rules(tmp_path / "g.json", one_rule("greeting", "SELECT greeting", "hello"))
    server = understudy(rules=[path])
    conn = server.connect()
    broken = one_rule("greeting", "SELECT greeting", "bonjour")
    broken["ok"] = {}  # two answers
    replace(path, broken)
    assert server.reload() is False
    assert 'g.json: rule 0 ("greeting"): give exactly one answer' in server.output
    assert query(conn, "SELECT greeting") == [("hello",)]
    assert server.alive
    replace(path, one_rule("greeting", "SELECT greeting", "mended"))
    assert server.reload() is True
    assert query(conn, "SELECT greeting") == [("mended",)]


def test_a_changed_file_reloads_by_itself(understudy, tmp_path):
    path = write_rules(tmp_path / "g.json", one_rule("greeting", "SELECT greeting", "hello"))
    server = understudy(rules=[path])
    conn = server.connect()
    replace(path, one_rule("greeting", "SELECT greeting", "watched"))
    deadline = time.monotonic() + 15  # liveness bound: the server polls the file
    while query(conn, "SELECT greeting") != [("watched",)]:
        assert time.monotonic() < deadline, "the changed file was not reloaded:\n" + server.output
        time.sleep(0.1)
    assert "rules reloaded (a rule file changed)" in server.output


# --- bad files ----------------------------------------------------------------------

CSV_MISSING = {"name": "csv", "match": {"sql": "x"},
               "result": {"columns": [{"name": "a", "type": "INT"}], "rows_csv": "nope.csv"}}
BAD = {
    "no-answer": ({"name": "silent", "match": {"sql": "x"}}, 'rule 0 ("silent"): give exactly one answer'),
    "two-answers": ({"name": "both", "match": {"sql": "x"}, "ok": {}, "error": {"code": 1}},
                    'rule 0 ("both"): give exactly one answer'),
    "bad-type": ({"name": "t", "match": {"sql": "x"}, "result": {"columns": [{"name": "a", "type": "NOTATYPE"}],
                  "rows": []}}, 'rule 0 ("t"): result.columns[0] (a): type "NOTATYPE"'),
    "bad-regex": ({"name": "re", "match": {"regex": "("}, "ok": {}}, 'rule 0 ("re"): match.regex'),
    "csv-missing": (CSV_MISSING, 'rule 0 ("csv"): rows_csv '),
    "bad-fault": ({"name": "f", "match": {"sql": "x"}, "fault": "explode", "ok": {}}, 'rule 0 ("f"): fault "explode"'),
    "bad-cell": ({"name": "v", "match": {"sql": "x"}, "result": {"columns": [{"name": "a", "type": "INT"}],
                  "rows": [["abc"]]}}, 'rule 0 ("v"): row 1 column 1 (a): "abc" is not an integer'),
    "bad-probability": ({"name": "p", "match": {"sql": "x"}, "probability": 2, "ok": {}},
                        'rule 0 ("p"): probability 2'),
    "two-matches": ({"name": "m", "match": {"sql": "x", "prefix": "y"}, "ok": {}}, 'rule 0 ("m"): match'),
    "unnamed": ({"match": {"sql": "x"}}, "rule 1: give exactly one answer"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_file_stops_start_up(understudy, tmp_path, case):
    rule, message = BAD[case]
    good = {"name": "fine", "match": {"sql": "y"}, "ok": {}}
    path = write_rules(tmp_path / ("%s.json" % case), *([good, rule] if case == "unnamed" else [rule]))
    with pytest.raises(UnderstudyError) as e:
        understudy(rules=[path], cwd=tmp_path)
    assert e.value.returncode not in (0, None)
    assert "%s.json: %s" % (case, message) in e.value.output, e.value.output


def test_bad_json_names_the_file_and_place(understudy, tmp_path):
    path = tmp_path / "syntax.json"
    path.write_text('{"rules": [ {"name": "x", ')
    with pytest.raises(UnderstudyError) as e:
        understudy(rules=[path])
    assert e.value.returncode == 1
    assert "syntax.json: EOF while parsing" in e.value.output and "at line 1" in e.value.output


def test_bad_file_in_a_folder_is_named(understudy, tmp_path):
    folder = tmp_path / "rules.d"
    folder.mkdir()
    write_rules(folder / "01-good.json", {"name": "fine", "match": {"sql": "y"}, "ok": {}})
    write_rules(folder / "02-bad.json", {"name": "bad", "match": {"sql": "x"}})
    with pytest.raises(UnderstudyError) as e:
        understudy(rules=[folder])
    assert "02-bad.json: rule 0 (\"bad\"): give exactly one answer" in e.value.output


def test_unknown_field_names_the_rule(understudy, tmp_path):
    path = write_rules(tmp_path / "field.json", {"name": "k", "match": {"sql": "x"}, "ok": {}, "bogus": 1})
    with pytest.raises(UnderstudyError) as e:
        understudy(rules=[path])
    assert e.value.returncode == 1
    assert "unknown field `bogus`" in e.value.output
    assert 'rule 0 ("k")' in e.value.output, e.value.output


# --- commands other than queries (06-commands.json) ------------------------------------


def test_init_db_rule(understudy):
    server = understudy(rules=rules("06-commands"))
    conn = server.connect(autocommit=True)
    with pytest.raises(pymysql.err.OperationalError) as e:
        conn.select_db("nosuchdb")
    assert e.value.args == (1049, "Unknown database 'nosuchdb'")
    conn.select_db("reports")  # other databases: the built-in answer (OK)
    assert query(conn, "SELECT current_report()") == [("q4",)]
    assert [c["rule"] for c in server.journal.commands(command="init_db")] == ["no-such-db", "builtin"]



def test_init_db_rule_after_a_query_with_a_literal(understudy):
    server = understudy(rules=rules("06-commands"))
    conn = server.connect()  # PyMySQL's default autocommit=False: it sends SET AUTOCOMMIT = 0
    with pytest.raises(pymysql.err.OperationalError) as e:
        conn.select_db("nosuchdb")
    assert e.value.args[0] == 1049


def test_change_user_rule_after_a_query_with_a_literal(understudy):
    import mysql.connector

    server = understudy(rules=rules("06-commands"))
    conn = connector(server, autocommit=True)
    assert query(conn, "SELECT 1") == [(1,)]
    with pytest.raises(mysql.connector.errors.ProgrammingError) as e:
        conn.cmd_change_user(username="intruder", password="x")
    assert e.value.errno == 1045


def test_database_scoped_rule(understudy):
    server = understudy(rules=rules("06-commands"))
    with pytest.raises(pymysql.err.InternalError) as e:
        query(server.connect(database="app"), "SELECT current_report()")
    assert e.value.args[0] == 101  # the rule is for the database 'reports' only
    assert query(server.connect(database="reports"), "SELECT current_report()") == [("q4",)]


def test_ping_rule_per_user(understudy):
    server = understudy(rules=rules("06-commands"))
    server.connect(user="u").ping(reconnect=False)
    with pytest.raises(pymysql.err.OperationalError) as e:
        server.connect(user="probe").ping(reconnect=False)
    assert e.value.args == (2006, "MySQL server has gone away")
    assert [(c["user"], c["rule"]) for c in server.journal.commands(command="ping")] == [
        ("u", "builtin"), ("probe", "ping-down")]


def test_change_user_rule(understudy):
    import mysql.connector

    server = understudy(rules=rules("06-commands"))
    conn = connector(server, autocommit=True)
    with pytest.raises(mysql.connector.errors.ProgrammingError) as e:
        conn.cmd_change_user(username="intruder", password="x")
    assert (e.value.errno, e.value.sqlstate) == (1045, "28000")
    conn = connector(server, autocommit=True)
    conn.cmd_change_user(username="other", password="x", database="app")
    assert query(conn, "SELECT 1") == [(1,)]
    assert [c["rule"] for c in server.journal.commands(command="change_user")] == ["no-change-user"]
    # an accepted change_user is journaled as a new login on the same connection
    [again] = [e for e in server.journal.entries() if e["event"] == "login" and e["user"] == "other"]
    assert again["result"] == "ok"
