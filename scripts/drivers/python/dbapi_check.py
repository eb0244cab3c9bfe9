#!/usr/bin/env python3
"""Driver-matrix check for the Python DB-API drivers (see scripts/drivers.sh).

usage: dbapi_check.py DRIVER HOST PORT MODE
    DRIVER  pymysql | mysqlclient | connector
    MODE    builtin (the built-in answers) | rules (examples/rules.lua)

Prints one line per scenario: PASS|FAIL|N/A <driver> <mode> <scenario> <detail>.
Exit status 1 if any scenario failed.

text-* scenarios use the driver's ordinary cursor (client-side parameter
interpolation, COM_QUERY); ps-* use server-side prepared statements
(COM_STMT_PREPARE/EXECUTE, binary rows), which only mysql-connector-python
has (`cursor(prepared=True)`); PyMySQL and mysqlclient print N/A for them.
mysql-connector-python runs pure Python (use_pure=True): its C extension is
built against a newer OpenSSL than Debian 12's and does not load here.

env: DRIVERS_MANY (500) connections for the *-many scenarios.
"""
import datetime as dt
import os
import sys
import threading
import time
import traceback
from decimal import Decimal

DRIVER, HOST, PORT, MODE = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
NAME = {"pymysql": "pymysql", "mysqlclient": "mysqlclient", "connector": "connector"}[DRIVER]
MANY = int(os.environ.get("DRIVERS_MANY", "500"))
RULES = MODE == "rules"
USER, PASSWORD, DB = "drivers", "drivers-pw", "test"

if DRIVER == "pymysql":
    import pymysql as drv
elif DRIVER == "connector":
    import mysql.connector as drv
else:
    import MySQLdb as drv

UNKNOWN = (101, "HY000", "I haven't learnt how to handle that query")
MISSING = (1146, "42S02", "Table 'test.missing' doesn't exist")


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def connect():
    if DRIVER == "pymysql":
        return drv.connect(host=HOST, port=PORT, user=USER, password=PASSWORD, database=DB,
                           charset="utf8mb4", connect_timeout=60, read_timeout=120,
                           ssl_disabled=True)
    if DRIVER == "connector":
        return drv.connect(host=HOST, port=PORT, user=USER, password=PASSWORD, database=DB,
                           use_pure=True, connection_timeout=120, charset="utf8mb4",
                           ssl_disabled=True)
    return drv.connect(host=HOST, port=PORT, user=USER, password=PASSWORD, database=DB,
                       charset="utf8mb4", connect_timeout=60, read_timeout=120)


def cursor(conn, ps):
    return conn.cursor(prepared=True) if ps else conn.cursor()


def mark(ps):
    """The placeholder: `?` for connector's prepared cursor, `%s` for the text cursors."""
    return "?" if ps else "%s"


def canon(v):
    """A value with its Python type, exactly: Decimal keeps its scale, bytes
    and bytearray are both bytes."""
    if isinstance(v, (bytes, bytearray)):
        return "bytes:" + bytes(v).hex()
    return f"{type(v).__name__}:{v!r}"


def err_parts(e):
    """(code, sqlstate, message); PyMySQL and MySQLdb do not expose the
    SQLSTATE (None)."""
    if DRIVER == "connector":
        return e.errno, e.sqlstate, e.msg
    return e.args[0], None, e.args[1]


def want_error(e, want):
    code, state, msg = err_parts(e)
    check((code, msg) == (want[0], want[2]), f"error {code} {state} {msg!r}, want {want}")
    check(state is None or state == want[1], f"sqlstate {state!r}, want {want[1]}")
    return f"{code}/{state or 'sqlstate-not-exposed'}/{msg!r}"


# --- ps-params / text-params --------------------------------------------------
# (label, value bound, expected result of `SELECT ?`). The built-in SELECT
# types a text query's literals as MySQL does: integers as BIGINT, decimal
# literals as DECIMAL, ones with an exponent as DOUBLE, strings as VARCHAR,
# bytes as VARBINARY, dates and times as strings; a prepared `SELECT ?` is
# typed as its parameter, as MySQL does (PS_TYPED below).
S = "it's \"quoted\" \\ back\\slash, h\u00e9llo \u2713 \U0001F600"
B = b"\x00\x01'\\\"\xff\xfe"
PARAMS = [
    ("tiny", -128, -128),
    ("short", -32768, -32768),
    ("long", -2147483648, -2147483648),
    ("i64min", -9223372036854775808, -9223372036854775808),
    ("i64max", 9223372036854775807, 9223372036854775807),
    ("u8", 255, 255),
    ("u16", 65535, 65535),
    ("u32", 4294967295, 4294967295),
    ("u64max", 18446744073709551615, 18446744073709551615),
    ("double", 1.5, Decimal("1.5")),
    ("double-neg", -2.25, Decimal("-2.25")),
    ("decimal", Decimal("12345678.123456"), Decimal("12345678.123456")),
    ("decimal-neg", Decimal("-0.000001"), Decimal("-0.000001")),
    ("string", S, S),
    ("empty", "", ""),
    ("bytes", B, B),
    ("date", dt.date(2024, 1, 31), "2024-01-31"),
    ("datetime", dt.datetime(2024, 1, 31, 12, 34, 56, 123456), "2024-01-31 12:34:56.123456"),
    ("time", dt.time(12, 34, 56, 789000), "12:34:56.789000"),
    ("time-days", dt.timedelta(days=1, hours=2, minutes=3, seconds=4, microseconds=500000),
     "26:03:04.500000"),
    ("time-neg", -dt.timedelta(days=1, hours=2, minutes=3, seconds=4), "-26:03:04"),
    ("null", None, None),
]


# connector's prepared `SELECT ?`: a float is bound as DOUBLE, dates as
# DATE/DATETIME, times as TIME, and come back as such
PS_TYPED = {
    "double": 1.5,
    "double-neg": -2.25,
    "date": dt.date(2024, 1, 31),
    "datetime": dt.datetime(2024, 1, 31, 12, 34, 56, 123456),
    "time": dt.timedelta(hours=12, minutes=34, seconds=56, microseconds=789000),
    "time-days": dt.timedelta(days=1, hours=2, minutes=3, seconds=4, microseconds=500000),
}


def params_expected(ps):
    """The expected answers; on the text path what comes back is what the
    driver's own interpolation wrote, and MySQLdb writes timedeltas as
    'D H:M:S' (no microseconds; a negative one as -2 days + 21:56:56), the
    same against MySQL."""
    out = []
    for label, value, expected in PARAMS:
        if ps and label == "time-neg":
            # connector's binary TIME parameter of a negative timedelta is
            # wrong (-2 days + 21:56:56 sent as negative, 2 days, 21:56:56),
            # as against MySQL: not a value it can bind
            continue
        if ps:
            expected = PS_TYPED.get(label, expected)
        elif DRIVER != "connector" and label in ("double", "double-neg"):
            # PyMySQL and MySQLdb write a float as 1.5e0: a DOUBLE literal
            # (connector writes 1.5, a DECIMAL one), as MySQL types them
            expected = float(expected)
        if not ps and DRIVER == "mysqlclient" and label == "time-days":
            expected = "1 2:3:4"
        if not ps and DRIVER == "mysqlclient" and label == "time-neg":
            expected = "-2 21:56:56"
        out.append((label, value, expected))
    return out


def sc_params(ps):
    c = connect()
    cur = cursor(c, ps)
    bad = []
    cases = params_expected(ps)
    for label, value, expected in cases:
        try:
            cur.execute(f"SELECT {mark(ps)}", (value,))
            rows = cur.fetchall()
        except drv.Error as e:
            bad.append((label, f"{type(e).__name__} {err_parts(e)}"))
            continue
        got = [tuple(canon(x) for x in r) for r in rows]
        want = [(canon(expected),)]
        if got != want:
            bad.append((label, f"got {got} want {want}"))
    c.close()
    check(not bad, f"{len(bad)}/{len(cases)} wrong [{' '.join(b[0] for b in bad)}]: "
          + "; ".join(f"{a}: {b}" for a, b in bad))
    return f"{len(cases)} values via SELECT {mark(ps)} decoded exactly"


# --- ps-types / text-types (rules) --------------------------------------------
COLS = ["c_tiny", "c_short", "c_long", "c_longlong", "c_ulonglong", "c_float", "c_double",
        "c_decimal", "c_string", "c_blob", "c_date", "c_datetime", "c_timestamp", "c_time",
        "c_year"]
TIME_NEG = -dt.timedelta(hours=838, minutes=59, seconds=59)
TYPED = [
    (-128, -32768, -2147483648, -9223372036854775808, 18446744073709551615, 1.5, -2.25,
     Decimal("12345678.123456"), "h\u00e9llo \u2713", b"\x00\x01\xff", dt.date(2024, 1, 31),
     dt.datetime(2024, 1, 31, 12, 34, 56, 123456), dt.datetime(1999, 12, 31, 23, 59, 59),
     TIME_NEG, 2024),
    (127, 32767, 2147483647, 9223372036854775807, 0, 0.0, 0.0, Decimal("-0.000001"), "", b"",
     dt.date(1000, 1, 1), dt.datetime(1000, 1, 1, 0, 0, 0), dt.datetime(2038, 1, 19, 3, 14, 7),
     dt.timedelta(hours=25, microseconds=1), 1901),
    (None,) * 15,
]


def typed_expected(ps):
    rows = [list(r) for r in TYPED]
    if ps and DRIVER == "connector":
        # Known connector quirks, the same against real MySQL, for the
        # correct wire bytes: a binary TIME is read as (sign * days) +
        # hh:mm:ss (-838:59:59 = -(34 days 22:59:59) comes back as -34 days
        # + 22:59:59), and a binary YEAR (2 bytes, little-endian) as a
        # length-prefixed string: 2024 = e8 07 reads length 0xe8, then the
        # one byte left, b'\x07' (1901 = 6d 07 likewise).
        rows[0][13] = dt.timedelta(days=-34, hours=22, minutes=59, seconds=59)
        rows[0][14] = b"\x07"
        rows[1][14] = b"\x07"
    return rows


def sc_types(ps):
    if not RULES:
        return None
    c = connect()
    cur = cursor(c, ps)
    cur.execute("SELECT * FROM typed")
    names = [d[0] for d in cur.description]
    rows = cur.fetchall()
    c.close()
    check(names == COLS, f"columns {names}")
    want = typed_expected(ps)
    check(len(rows) == len(want), f"{len(rows)} rows, want {len(want)}")
    bad = []
    for i, (r, w) in enumerate(zip(rows, want)):
        for j, (x, y) in enumerate(zip(r, w)):
            if canon(x) != canon(y):
                bad.append((f"{i + 1}.{COLS[j]}", f"got {canon(x)} want {canon(y)}"))
    check(not bad, f"{len(bad)} cells wrong [{' '.join(b[0] for b in bad)}]: "
          + "; ".join(f"{a}: {b}" for a, b in bad))
    return f"{len(rows)} rows x {len(names)} columns decoded exactly"


# --- ps-ok / text-ok -------------------------------------------------------------
def sc_ok(ps):
    c = connect()
    cur = cursor(c, ps)
    if RULES:
        cur.execute(f"INSERT INTO t VALUES ({mark(ps)})", (1,))
        rc, lid = cur.rowcount, cur.lastrowid
        c.close()
        check((rc, lid) == (3, 42), f"rowcount={rc} lastrowid={lid}, want 3, 42")
        return f"INSERT: rowcount={rc} lastrowid={lid}"
    v = "set 'by' \\ param \u2713"
    cur.execute(f"SET @a = {mark(ps)}", (v,))
    rc = cur.rowcount
    cur.execute("SELECT @a")
    rows = [tuple(canon(x) for x in r) for r in cur.fetchall()]
    c.close()
    check(rc == 0, f"SET rowcount={rc}, want 0")
    check(rows == [(canon(v),)], f"SELECT @a gave {rows}")
    return f"SET @a = {mark(ps)} OK (rowcount 0), SELECT @a gave it back"


# --- ps-error / text-error ---------------------------------------------------------
def sc_error(ps):
    c = connect()
    cur = cursor(c, ps)
    q, want = ("SELECT * FROM missing", MISSING) if RULES else ("SELECT * FROM nothing", UNKNOWN)
    try:
        cur.execute(q)
        cur.fetchall()
        raise Fail(f"{q}: no error")
    except drv.Error as e:
        got = want_error(e, want)
    # usable after: a statement on the same connection (a new cursor: the
    # failed prepared cursor holds no statement)
    cur = cursor(c, ps)
    cur.execute(f"SELECT {mark(ps)}", (7,))
    rows = cur.fetchall()
    c.close()
    check([tuple(r) for r in rows] == [(7,)], f"after the error SELECT 7 gave {rows}")
    return f"{got}; connection usable after"


# --- ps-twice / text-twice -----------------------------------------------------------
def sc_twice(ps):
    c = connect()
    cur = cursor(c, ps)
    out = []
    # one string object: connector's prepared cursor keeps its statement only
    # while it is given the very same operation (`is`), else re-prepares
    sql = f"SELECT name FROM users WHERE id = {mark(ps)}" if RULES else f"SELECT {mark(ps)}"
    stmt = None
    for i in (7, 8):
        cur.execute(sql, (i,))
        want = [(f"user-{i}",)] if RULES else [(i,)]
        rows = [tuple(r) for r in cur.fetchall()]
        check(rows == want, f"value {i}: {rows}, want {want}")
        out.append(str(rows[0][0]))
        if ps:
            sid = cur._prepared["statement_id"]  # connector's own record of it
            check(stmt in (None, sid), f"re-prepared: statement {stmt} then {sid}")
            stmt = sid
    c.close()
    how = f"statement {stmt} executed twice" if ps else "same query twice"
    return f"{how} -> " + ", ".join(out)


# --- ps-many / text-many ---------------------------------------------------------------
def sc_many(ps):
    threading.stack_size(256 * 1024)
    # two barriers: all connections open before any statement, and all still
    # open (with their statement prepared) until every one has its answer
    b1 = threading.Barrier(MANY, timeout=180)
    b2 = threading.Barrier(MANY, timeout=180)
    errors = []
    lock = threading.Lock()

    def worker(i):
        c = None
        try:
            c = connect()
        except Exception as e:
            with lock:
                errors.append(f"connect #{i}: {e!r}")
        try:
            b1.wait()
        except threading.BrokenBarrierError:
            pass
        try:
            if c is not None:
                cur = cursor(c, ps)
                if RULES:
                    cur.execute(f"SELECT name FROM users WHERE id = {mark(ps)}", (i,))
                    want = [(f"user-{i}",)]
                else:
                    cur.execute(f"SELECT {mark(ps)}", (i,))
                    want = [(i,)]
                rows = [tuple(r) for r in cur.fetchall()]
                if rows != want:
                    with lock:
                        errors.append(f"#{i}: {rows} want {want}")
        except Exception as e:
            with lock:
                errors.append(f"#{i}: {e!r}")
        try:
            b2.wait()
        except threading.BrokenBarrierError:
            pass
        if c is not None:
            try:
                c.close()
            except Exception:
                pass

    t0 = time.time()
    ts = [threading.Thread(target=worker, args=(i,)) for i in range(MANY)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    wall = time.time() - t0
    check(not errors, f"{len(errors)}/{MANY} failed; first: {errors[0][:300] if errors else ''}")
    what = f"users WHERE id = {mark(ps)}" if RULES else f"SELECT {mark(ps)}"
    return f"{MANY} connections at once (threads, open together), each {what} exact, {wall:.1f}s"


# --- ps-big / text-big (rules) --------------------------------------------------------
def big_expected():
    n = 200000
    return n, n * (n + 1) // 2, sum((i * 7919) % 100003 - 50000 for i in range(1, n + 1))


def sc_big(ps):
    if not RULES:
        return None
    c = connect()
    cur = cursor(c, ps)
    t0 = time.time()
    cur.execute("SELECT * FROM big")
    cnt = s_id = s_val = 0
    bad_name = None
    for r in cur.fetchall():
        a, b, v = r
        if isinstance(b, (bytes, bytearray)):
            b = bytes(b).decode()
        cnt += 1
        s_id += a
        s_val += v
        if bad_name is None and b != f"row-{a}":
            bad_name = f"id {a} name {b!r}"
    wall = time.time() - t0
    c.close()
    n, want_id, want_val = big_expected()
    got = (cnt, s_id, s_val)
    check(got == (n, want_id, want_val),
          f"count/sum(id)/sum(val) {got}, want {(n, want_id, want_val)}")
    check(bad_name is None, f"name: {bad_name}")
    return f"{cnt} rows, sum(id)={s_id}, sum(val)={s_val}, names row-<id>, {wall:.1f}s"


SCENARIOS = [("params", sc_params), ("types", sc_types), ("ok", sc_ok), ("error", sc_error),
             ("twice", sc_twice), ("many", sc_many), ("big", sc_big)]


def run(scen, fn, ps):
    label = ("ps-" if ps else "text-") + scen
    try:
        r = fn(ps)
        if r is None:
            print(f"N/A {NAME} {MODE} {label} builtin mode has no such table (rules only)")
            return True
        print(f"PASS {NAME} {MODE} {label} {r}")
        return True
    except Fail as e:
        print(f"FAIL {NAME} {MODE} {label} {e}")
    except Exception:
        tb = traceback.format_exc().strip().splitlines()[-1]
        print(f"FAIL {NAME} {MODE} {label} exception: {tb[:400]}")
    return False


def main():
    ok = True
    for scen, fn in SCENARIOS:
        ok &= run(scen, fn, False)
        sys.stdout.flush()
    for scen, fn in SCENARIOS:
        if DRIVER == "connector":
            ok &= run(scen, fn, True)
        else:
            print(f"N/A {NAME} {MODE} ps-{scen} no server-side prepared statements in {NAME}")
        sys.stdout.flush()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
