"""Every kind of answer a rule gives (examples/rules/01-results.json and
02-ok-error.json), as real clients decode it: PyMySQL (text protocol),
mysql-connector-python's prepared cursor (binary protocol) and the mariadb
CLI."""

import datetime
import json
from decimal import Decimal

import pymysql
import pytest
from pymysql.constants import CLIENT, FIELD_TYPE, FLAG

from conftest import cli, connector, query, rules, write_rules

D = datetime.datetime
TYPED_ROWS = [
    (
        -128, -32768, -2147483648, -9223372036854775808, 18446744073709551615, 1.5, -2.25,
        Decimal("12345678.123456"), "h\u00e9llo \u2713", b"\x00\x01\xff", datetime.date(2024, 1, 31),
        D(2024, 1, 31, 12, 34, 56, 123456), D(1999, 12, 31, 23, 59, 59),
        -datetime.timedelta(hours=838, minutes=59, seconds=59), 2024, '{"a":[1,2]}',
    ),
    (
        127, 32767, 2147483647, 9223372036854775807, 0, 0.0, 0.0, Decimal("-0.000001"), "", b"",
        datetime.date(1000, 1, 1), D(1000, 1, 1), D(2038, 1, 19, 3, 14, 7),
        datetime.timedelta(hours=25, microseconds=1), 1901, "[]",
    ),
    (None,) * 16,
]
TYPED_CODES = [
    FIELD_TYPE.TINY, FIELD_TYPE.SHORT, FIELD_TYPE.LONG, FIELD_TYPE.LONGLONG, FIELD_TYPE.LONGLONG,
    FIELD_TYPE.FLOAT, FIELD_TYPE.DOUBLE, FIELD_TYPE.NEWDECIMAL, FIELD_TYPE.VAR_STRING, FIELD_TYPE.BLOB,
    FIELD_TYPE.DATE, FIELD_TYPE.DATETIME, FIELD_TYPE.TIMESTAMP, FIELD_TYPE.TIME, FIELD_TYPE.YEAR,
    FIELD_TYPE.JSON,
]


@pytest.fixture
def server(understudy):
    return understudy(rules=rules("01-results", "02-ok-error"))


# --- result ------------------------------------------------------------------


def test_result_every_type_text(server):
    conn = server.connect()
    cur = conn.cursor()
    cur.execute("SELECT * FROM typed")
    assert [tuple(r) for r in cur.fetchall()] == TYPED_ROWS
    fields = cur._result.fields
    assert [f.name for f in fields][:3] == ["c_tiny", "c_short", "c_long"]
    assert [f.type_code for f in fields] == TYPED_CODES
    unsigned = [f.name for f in fields if f.flags & FLAG.UNSIGNED]
    assert unsigned == ["c_ulonglong", "c_year"]  # MySQL's YEAR is UNSIGNED ZEROFILL
    by_name = {f.name: f for f in fields}
    assert by_name["c_decimal"].scale == 6 and by_name["c_datetime"].scale == 6
    assert by_name["c_string"].charsetnr == 45  # utf8mb4_general_ci, as the rule says
    assert by_name["c_blob"].charsetnr == 63 and by_name["c_blob"].flags & FLAG.BINARY
    assert all(f.flags & FLAG.NOT_NULL == 0 for f in fields)  # nullable by default


def test_result_prepared(server):
    conn = connector(server)
    cur = conn.cursor(prepared=True)
    cur.execute("SELECT name FROM users WHERE id = ?", (7,))
    assert cur.fetchall() == [("ada",)]
    cur.execute("SELECT name FROM users WHERE id = ?", (8,))
    assert cur.fetchall() == []
    cur.execute("SELECT id, total, placed FROM orders")
    orders = cur.fetchall()
    assert len(orders) == 1000 and orders[0] == (1, Decimal("37.01"), D(2024, 2, 2, 1, 1))
    assert orders[99] == (100, None, D(2024, 5, 17, 4, 40))
    executes = server.journal.commands(command="execute")
    assert [(e["sql"], e["params"], e["rule"]) for e in executes] == [
        ("SELECT name FROM users WHERE id = ?", [7], "user-by-id"),
        ("SELECT name FROM users WHERE id = ?", [8], "user-unknown"),
        ("SELECT id, total, placed FROM orders", [], "orders-csv"),
    ]
    conn.close()


def test_result_every_type_prepared(understudy, tmp_path):
    # one rule per column of the typed rule, so each binary value is decoded alone:
    # mysql-connector's pure-Python binary decoder reads YEAR as a string and
    # negates only the days of a negative TIME (client limitations, not the
    # server's: the bytes are MySQL's), so those two are checked by their bytes
    typed = json.loads(rules("01-results")[0].read_text())["rules"][0]["result"]
    per_column = [
        {
            "name": c["name"],
            "match": {"sql": "SELECT %s FROM typed" % c["name"]},
            "result": {"columns": [c], "rows": [[row[i]] for row in typed["rows"]]},
        }
        for i, c in enumerate(typed["columns"])
    ]
    server = understudy(rules=[write_rules(tmp_path / "typed.json", *per_column)])
    conn = connector(server)
    for i, column in enumerate(typed["columns"]):
        name = column["name"]
        cur = conn.cursor(prepared=True)
        cur.execute("SELECT %s FROM typed" % name)
        got = [r[0] for r in cur.fetchall()]
        want = [row[i] for row in TYPED_ROWS]
        if name == "c_year":
            # int<2> little-endian on the wire (2024 = e8 07, 1901 = 6d 07): the
            # connector reads a length byte (0xe8, 0x6d) and gets the last byte
            assert got == [b"\x07", b"\x07", None]
        elif name == "c_time":
            # -838:59:59 is sent as negative, 34 days, 22:59:59; the connector
            # negates the days only
            assert got == [datetime.timedelta(days=-34, hours=22, minutes=59, seconds=59), want[1], None]
        elif name == "c_json":
            assert got == [w.encode() if w else w for w in want]  # the connector gives JSON as bytes
        else:
            assert got == want, name
        cur.close()
    conn.close()


def test_result_user_by_id_params(server):
    conn = server.connect()
    assert query(conn, "SELECT name FROM users WHERE id = %s", (7,)) == [("ada",)]
    assert query(conn, "SELECT name FROM users WHERE id = %s", (8,)) == []
    cur = conn.cursor()
    cur.execute("SELECT name FROM users WHERE id = 7")
    f = cur._result.fields[0]
    assert (f.table_name, f.db, f.flags & FLAG.NOT_NULL) == ("users", b"app", FLAG.NOT_NULL)
    assert [(c["sql"], c["rule"]) for c in server.journal.commands(like="SELECT name FROM users%")] == [
        ("SELECT name FROM users WHERE id = 7", "user-by-id"),
        ("SELECT name FROM users WHERE id = 8", "user-unknown"),
        ("SELECT name FROM users WHERE id = 7", "user-by-id"),
    ]


def test_result_rows_csv(server):
    rows = query(server.connect(), "SELECT id, total, placed FROM orders WHERE placed > '2024'")
    assert len(rows) == 1000
    assert rows[0] == (1, Decimal("37.01"), D(2024, 2, 2, 1, 1))
    assert [r[0] for r in rows if r[1] is None] == [100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]


def test_result_regex(server):
    conn = server.connect()
    assert query(conn, "SELECT COUNT(*) FROM events") == [(42,)]
    assert query(conn, "select count(*) from clicks where day = '2024-01-01'") == [(42,)]
    with pytest.raises(pymysql.err.InternalError) as e:
        query(conn, "SELECT COUNT(*) FROM users")
    assert e.value.args[0] == 101


def test_result_cli(server):
    out = cli(server, "--skip-column-names", sql="SELECT * FROM typed", check=True).stdout.splitlines()
    assert out[0].split("\t")[:8] == [
        "-128", "-32768", "-2147483648", "-9223372036854775808", "18446744073709551615", "1.5", "-2.25",
        "12345678.123456",
    ]
    assert out[0].split("\t")[10:] == [
        "2024-01-31", "2024-01-31 12:34:56.123456", "1999-12-31 23:59:59", "-838:59:59.000000", "2024", '{"a":[1,2]}',
    ]
    assert out[2].split("\t") == ["NULL"] * 16
    orders = cli(server, "--skip-column-names", sql="SELECT id, total, placed FROM orders", check=True)
    lines = orders.stdout.splitlines()
    assert len(lines) == 1000 and lines[99] == "100\tNULL\t2024-05-17 04:40:00"


# --- ok --------------------------------------------------------------------------


def test_ok_affected_insert_id_info(server):
    conn = server.connect()
    cur = conn.cursor()
    assert cur.execute("INSERT INTO orders (id, total) VALUES (1, 2), (3, 4), (5, 6)") == 3
    assert (cur.rowcount, cur.lastrowid, conn.insert_id()) == (3, 42, 42)
    # the info string is length-encoded, as MySQL writes it (PyMySQL keeps the raw rest of the packet)
    info = b"Records: 3  Duplicates: 0  Warnings: 0"
    assert conn._result.message == bytes([len(info)]) + info
    assert cur.execute("INSERT INTO users (id, name) VALUES (%s, %s)", (2, "bob")) == 1


def test_ok_prepared(server):
    conn = connector(server)
    cur = conn.cursor(prepared=True)
    cur.execute("INSERT INTO orders (id) VALUES (?)", (1,))
    assert (cur.rowcount, cur.lastrowid) == (3, 42)
    cur.execute("INSERT INTO users (id, name) VALUES (?, ?)", (2, "bob"))
    assert cur.rowcount == 1
    executes = server.journal.commands(command="execute")
    assert [(e["params"], e["rule"]) for e in executes] == [([1], "insert-order"), ([2, "bob"], "insert-user")]


def test_ok_info_cli(server):
    out = cli(server, "-vvv", sql="INSERT INTO orders (id) VALUES (1), (2), (3)", check=True).stdout
    assert "Query OK, 3 rows affected" in out
    assert "Records: 3  Duplicates: 0  Warnings: 0" in out


# --- error -------------------------------------------------------------------------


def test_error_code_state_message(server):
    conn = server.connect()
    with pytest.raises(pymysql.err.ProgrammingError) as e:
        query(conn, "SELECT * FROM missing")
    assert e.value.args == (1146, "Table 'app.missing' doesn't exist")
    with pytest.raises(pymysql.err.IntegrityError) as e:
        query(conn, "INSERT INTO users (id, name) VALUES (%s, %s)", (1, "ada"))
    assert e.value.args == (1062, "Duplicate entry '1' for key 'users.PRIMARY'")
    assert query(conn, "SELECT 1") == [(1,)]  # the connection is fine after an error


def test_error_sqlstate_prepared(server):
    import mysql.connector

    conn = connector(server)
    cur = conn.cursor(prepared=True)
    with pytest.raises(mysql.connector.errors.IntegrityError) as e:
        cur.execute("INSERT INTO users (id, name) VALUES (?, ?)", (1, "ada"))
    assert (e.value.errno, e.value.sqlstate, e.value.msg) == (1062, "23000", "Duplicate entry '1' for key 'users.PRIMARY'")
    with pytest.raises(mysql.connector.errors.ProgrammingError) as e:
        conn.cursor().execute("SELECT * FROM missing")
    assert (e.value.errno, e.value.sqlstate) == (1146, "42S02")


def test_error_cli(server):
    r = cli(server, sql="SELECT * FROM missing")
    assert r.returncode == 1
    assert "ERROR 1146 (42S02) at line 1: Table 'app.missing' doesn't exist" in r.stderr


# --- results (multi-statement) -----------------------------------------------------


def test_results_multi_statement(server):
    conn = server.connect(client_flag=CLIENT.MULTI_STATEMENTS)
    cur = conn.cursor()
    cur.execute("SELECT 1 AS a; SELECT 'two' AS b")
    assert cur.fetchall() == ((1,),) and cur.description[0][0] == "a"
    assert cur.nextset()
    assert cur.fetchall() == (("two",),) and cur.description[0][0] == "b"
    assert not cur.nextset()
    assert query(conn, "SELECT 1") == [(1,)]
    [line] = server.journal.commands(rule="two-results")
    assert (line["answer"], line["rows"]) == ("results", 2)


def test_results_cli(server):
    # the CLI sends the text between delimiters whole, with CLIENT_MULTI_STATEMENTS
    out = cli(server, "--delimiter=//", sql="SELECT 1 AS a; SELECT 'two' AS b//", check=True).stdout
    assert out.splitlines() == ["a", "1", "b", "two"]


# --- what drivers and ORMs send on their own ---------------------------------------


@pytest.mark.parametrize("sql", [
    "SELECT DATABASE()", "SELECT VERSION()", "SELECT @@sql_mode", "SELECT @@lower_case_table_names",
    "SELECT @@transaction_isolation", "SELECT @@tx_isolation", "SHOW VARIABLES LIKE 'sql_mode'",
    "SHOW VARIABLES LIKE 'lower_case_table_names'", "SHOW COLLATION", "SELECT @@version_comment LIMIT 1",
    "SELECT @@session.transaction_read_only", "SELECT @@max_allowed_packet", "SHOW WARNINGS", "ROLLBACK",
    "COMMIT", "SET NAMES utf8mb4",
])
def test_builtin_answers_for_connect_time_queries(understudy, sql):
    # SQLAlchemy (and other ORMs) send these when they connect; no rule is needed
    server = understudy()
    query(server.connect(), sql)
    line = server.journal.commands(like=sql, command="query")[-1]
    assert (line["sql"], line["rule"]) == (sql, "builtin")
