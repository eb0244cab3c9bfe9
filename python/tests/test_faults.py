"""Faults and delays (examples/rules/04-faults.json, 03-delay.json): what a
real driver raises when the server misbehaves on purpose. Delays are checked
as lower bounds only; every wait has a liveness bound."""

import time

import pymysql
import pytest

from conftest import connector, query, rules


@pytest.fixture
def server(understudy):
    return understudy(rules=rules("04-faults", "03-delay"))


def lost(excinfo):
    """The error PyMySQL raises for a connection the server dropped."""
    assert isinstance(excinfo.value, pymysql.err.OperationalError), repr(excinfo.value)
    assert excinfo.value.args[0] == 2013, excinfo.value.args
    return excinfo.value.args[1]


def test_close_before(server):
    conn = server.connect()
    with pytest.raises(pymysql.err.OperationalError) as e:
        query(conn, "SELECT 'close_before'")
    assert lost(e) == "Lost connection to MySQL server during query"


def test_close_after(server):
    conn = server.connect()
    assert query(conn, "SELECT 'close_after'") == [(1,)]  # the answer arrives whole
    with pytest.raises(pymysql.err.OperationalError) as e:
        query(conn, "SELECT 1")  # then the connection is gone
    lost(e)


def test_reset(server):
    # plain TCP: over TLS (PyMySQL takes it when offered, as by default)
    # Python's ssl reads the reset as an end of stream, like a close
    conn = server.connect(ssl_disabled=True)
    with pytest.raises(pymysql.err.OperationalError) as e:
        query(conn, "SELECT 'reset'")
    assert "Connection reset by peer" in lost(e)
    tls = server.connect()
    with pytest.raises(pymysql.err.OperationalError) as e:
        query(tls, "SELECT 'reset'")
    lost(e)
    assert query(server.connect(), "SELECT 1") == [(1,)]


def test_stall(server):
    conn = server.connect(read_timeout=1)
    t0 = time.monotonic()
    with pytest.raises(pymysql.err.OperationalError) as e:
        query(conn, "SELECT 'stall'")
    assert "timed out" in lost(e)
    assert time.monotonic() - t0 >= 0.9  # the driver's own read timeout ended it
    conn.close()


def test_malformed(server):
    conn = server.connect()
    with pytest.raises(pymysql.err.InternalError) as e:
        query(conn, "SELECT 'malformed'")
    assert "Packet sequence number wrong" in e.value.args[0]


def test_close_after_rows(server):
    conn = server.connect()
    with pytest.raises(pymysql.err.OperationalError) as e:
        query(conn, "SELECT * FROM orders_cut")
    lost(e)
    [line] = server.journal.commands(rule="close-after-rows")
    assert line["fault"] == "close_after_rows"


def test_close_after_rows_unbuffered_sees_the_first_rows(server):
    conn = server.connect(cursorclass=pymysql.cursors.SSCursor)
    cur = conn.cursor()
    cur.execute("SELECT * FROM orders_cut")
    assert cur.fetchone() == (1,) and cur.fetchone() == (2,)
    with pytest.raises(pymysql.err.OperationalError) as e:
        cur.fetchone()
    lost(e)
    # PyMySQL's unbuffered result would try to read the rest of it when it is
    # collected, and complain that the socket is gone: it is over
    cur._result.unbuffered_active = False


def test_error_after_rows(server):
    conn = server.connect()
    with pytest.raises(pymysql.err.OperationalError) as e:
        query(conn, "SELECT * FROM orders_killed")
    assert e.value.args == (1317, "Query execution was interrupted")
    assert query(conn, "SELECT 1") == [(1,)]  # an ERR ends the result: the connection stays usable


def test_faults_prepared(server):
    # the binary protocol (COM_STMT_EXECUTE) through mysql-connector's prepared
    # cursor. Not error_after_rows: the pure-Python connector does not expect an
    # ERR after binary rows (read_binary_result keeps the last row and reads on),
    # so it waits for a packet that never comes, as it would with MySQL.
    import mysql.connector

    def run(sql):
        conn = connector(server)
        cur = conn.cursor(prepared=True)
        cur.execute(sql)
        return conn, cur.fetchall()

    for sql in ("SELECT 'close_before'", "SELECT * FROM orders_cut"):
        with pytest.raises(mysql.connector.errors.InterfaceError) as e:
            run(sql)
        assert e.value.errno == 2013, sql
    conn, rows = run("SELECT 'close_after'")
    assert rows == [(1,)]
    with pytest.raises(mysql.connector.errors.Error):  # "MySQL Connection not available"
        conn.cursor(prepared=True).execute("SELECT 'close_after'")
    assert run("SELECT 'drip'")[1] == [("drip",)]


def test_drip_still_answers(server):
    conn = server.connect()
    t0 = time.monotonic()
    assert query(conn, "SELECT 'drip'") == [("drip",)]
    took = time.monotonic() - t0
    assert query(conn, "SELECT 1") == [(1,)]
    # (the SELECT 1 also makes the server write the drip's journal line: see
    # test_journal.py::test_line_of_a_timer_answer_is_written_before_the_answer)
    [line] = server.journal.commands(rule="drip")
    assert line["fault"] == "drip"
    # 8 bytes every 20 ms: at least (bytes / 8 - 1) * 20 ms
    assert took >= (line["bytes"] // 8 - 1) * 0.020 * 0.9


@pytest.mark.parametrize(
    "sql, rule, at_least",
    [("SELECT 'slow'", "slow-fixed", 0.300), ("SELECT 'uniform'", "slow-uniform", 0.050),
     ("SELECT 'lognormal'", "slow-lognormal", 0.0)],
)
def test_delay_lower_bound(server, sql, rule, at_least):
    conn = server.connect()
    t0 = time.monotonic()
    assert query(conn, sql) == [(sql.split("'")[1],)]
    took = time.monotonic() - t0
    assert took >= at_least * 0.95  # (5 % for clock granularity)
    assert query(conn, "SELECT 1") == [(1,)]  # not delayed; also flushes the journal line (see above)
    [line] = server.journal.commands(rule=rule)
    assert line["delay_ms"] >= at_least * 1000
    if rule == "slow-uniform":
        assert 50 <= line["delay_ms"] <= 150
    assert took >= line["delay_ms"] / 1000.0 * 0.95  # lower bound only (5 % for clock granularity)
