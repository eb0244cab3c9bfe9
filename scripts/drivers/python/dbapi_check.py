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

tls runs (scripts/drivers.sh sets DRIVERS_TLS_CA and DRIVERS_TLS_PORTS, and
only then): every connection is TLS with the server's certificate checked
against DRIVERS_TLS_CA, chain and name (HOST, the certificate's SAN IP):
PyMySQL and connector by ssl_verify_identity, MySQLdb by ssl={'ca': ...} plus
libmariadb's ssl-verify-server-cert from an option file (MySQLdb 1.4.6 has no
argument for it, and libmariadb checks the chain but not the name without it).
After the usual scenarios: tls-native, tls-sha2, tls-sha256, tls-clear (a
login to that plugin's TLS-only server, built-in answers) and tls-compress
(the compressed protocol over TLS, SELECT * FROM big).
"""
import atexit
import contextlib
import datetime as dt
import os
import struct
import sys
import tempfile
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

# tls runs only (unset otherwise): the CA to verify the servers with, and the
# per-plugin servers, "native=P sha2=P sha256=P clear=P"
TLS_CA = os.environ.get("DRIVERS_TLS_CA") or None
TLS_PORTS = dict(w.split("=", 1) for w in os.environ.get("DRIVERS_TLS_PORTS", "").split()
                 if "=" in w) if TLS_CA else {}


class Fail(Exception):
    pass


class NotApplicable(Exception):
    """The driver has no way to do what the scenario asks (the reason)."""


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def option_file(*lines):
    """A libmariadb option file ([client] and `lines`) for MySQLdb's
    read_default_file, removed at exit."""
    fd, path = tempfile.mkstemp(prefix="dbapi-check-", suffix=".cnf")
    with os.fdopen(fd, "w") as f:
        f.write("[client]\n" + "".join(line + "\n" for line in lines))
    atexit.register(os.unlink, path)
    return path


VERIFY_CNF = SHA256_CNF = None
if TLS_CA and DRIVER == "mysqlclient":
    # libmariadb checks the host name only with ssl-verify-server-cert, and
    # MySQLdb 1.4.6 has no ssl_mode or verify argument: the option file has
    # it (libmariadb's parser wants the `=1`; a bare flag is ignored)
    VERIFY_CNF = option_file("ssl-verify-server-cert=1")
    # tls-sha256: as the greeting's plugin, libmariadb 3.3's sha256_password
    # runs before CLIENT_SSL is in its client flags, so even over TLS it asks
    # for the RSA key (0x01 in the handshake response) and sends the password
    # RSA-encrypted; over TLS a server reads the reply as the password itself
    # (MySQL already takes the 0x01 for it): ERR 1045. Logging in as
    # mysql_native_password, the server's switch to sha256_password runs the
    # plugin after TLS is up, and it sends the password in clear, as it
    # should.
    SHA256_CNF = option_file("ssl-verify-server-cert=1", "default-auth=mysql_native_password")
if TLS_CA and DRIVER == "connector":
    # connector builds an SSLContext per connection and loads OpenSSL's
    # default trust store into it (load_default_certs, twice) even with
    # ssl_ca: Debian's bundle of 140-odd roots, 0.2 s holding the GIL each time,
    # so 500 connections at once outlast the server's 10 s handshake timeout
    # (MySQL's connect_timeout). This process's default store is the run's
    # CA alone (OpenSSL reads SSL_CERT_FILE at each load); verification is
    # unchanged: ssl_ca, the chain and the name.
    os.environ["SSL_CERT_FILE"] = TLS_CA


def tls_options():
    """connect() arguments: TLS with the certificate verified (chain and name)
    in tls runs, none (plain) otherwise."""
    if not TLS_CA:
        return {"ssl_disabled": True} if DRIVER in ("pymysql", "connector") else {}
    if DRIVER in ("pymysql", "connector"):
        return {"ssl_ca": TLS_CA, "ssl_verify_cert": True, "ssl_verify_identity": True}
    return {"ssl": {"ca": TLS_CA}, "read_default_file": VERIFY_CNF}


def connect(port=None, **extra):
    """A connection to HOST:PORT (or `port`); `extra`: more driver arguments
    (compress, auth_plugin, read_default_file), over tls_options()'s."""
    port = PORT if port is None else port
    extra = {**tls_options(), **extra}
    if DRIVER == "pymysql":
        return drv.connect(host=HOST, port=port, user=USER, password=PASSWORD, database=DB,
                           charset="utf8mb4", connect_timeout=60, read_timeout=120, **extra)
    if DRIVER == "connector":
        return drv.connect(host=HOST, port=port, user=USER, password=PASSWORD, database=DB,
                           use_pure=True, connection_timeout=120, charset="utf8mb4", **extra)
    return drv.connect(host=HOST, port=port, user=USER, password=PASSWORD, database=DB,
                       charset="utf8mb4", connect_timeout=60, read_timeout=120, **extra)


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


def read_big(c, ps):
    """SELECT * FROM big on connection c, every row checked: the detail."""
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
    n, want_id, want_val = big_expected()
    got = (cnt, s_id, s_val)
    check(got == (n, want_id, want_val),
          f"count/sum(id)/sum(val) {got}, want {(n, want_id, want_val)}")
    check(bad_name is None, f"name: {bad_name}")
    return f"{cnt} rows, sum(id)={s_id}, sum(val)={s_val}, names row-<id>, {wall:.1f}s"


def sc_big(ps):
    if not RULES:
        return None
    c = connect()
    try:
        return read_big(c, ps)
    finally:
        c.close()


SCENARIOS = [("params", sc_params), ("types", sc_types), ("ok", sc_ok), ("error", sc_error),
             ("twice", sc_twice), ("many", sc_many), ("big", sc_big)]


# --- tls-* (tls runs only) ----------------------------------------------------------
def text(v):
    return bytes(v).decode() if isinstance(v, (bytes, bytearray)) else v


def session_status(cur, name):
    """The value of one SHOW SESSION STATUS variable (exactly one row)."""
    cur.execute(f"SHOW SESSION STATUS LIKE '{name}'")
    rows = [tuple(text(x) for x in r) for r in cur.fetchall()]
    check(len(rows) == 1 and rows[0][0] == name, f"SHOW SESSION STATUS LIKE '{name}': {rows}")
    return rows[0][1]


def tls_session(cur):
    """(TLS version, cipher) of the session; the cipher must not be empty."""
    cipher = session_status(cur, "Ssl_cipher")
    version = session_status(cur, "Ssl_version")
    check(cipher, f"Ssl_cipher is empty (Ssl_version {version!r}): not a TLS session")
    return version, cipher


DATABASES = [f"db_{i}" for i in range(1, 71)]


def check_databases(cur, when=""):
    cur.execute("SHOW DATABASES")
    got = [text(r[0]) for r in cur.fetchall()]
    check(got == DATABASES, f"SHOW DATABASES{' ' + when if when else ''}: {len(got)} rows "
          f"{got[:3]}..{got[-2:]}, want db_1..db_70")


def init_db(c, db):
    """COM_INIT_DB through the driver's own call."""
    if DRIVER == "connector":
        c.cmd_init_db(db)
    else:
        c.select_db(db)


@contextlib.contextmanager
def sha2_more_data(seen):
    """Records in `seen` the AuthMoreData status caching_sha2_password's
    server sent after the scramble (0x03 fast auth, 0x04 full), by wrapping
    the driver's own handler of it: PyMySQL's _auth.caching_sha2_password_auth
    (given the packet 01 xx when the greeting's plugin is
    caching_sha2_password), connector's auth_more_response (given xx).
    libmariadb's is C: nothing recorded."""
    if DRIVER == "pymysql":
        import pymysql._auth as mod
        name, orig = "caching_sha2_password_auth", mod.caching_sha2_password_auth

        def spy(conn, pkt):
            data = bytes(pkt.get_all_data())
            if data[:1] == b"\x01":
                seen.append(data[1:2])
            return orig(conn, pkt)
    elif DRIVER == "connector":
        from mysql.connector.plugins import caching_sha2_password as plug
        mod = plug.MySQLCachingSHA2PasswordAuthPlugin
        name, orig = "auth_more_response", mod.auth_more_response

        def spy(self, sock, auth_data, **kw):
            seen.append(bytes(auth_data))
            return orig(self, sock, auth_data, **kw)
    else:
        yield
        return
    setattr(mod, name, spy)
    try:
        yield
    finally:
        setattr(mod, name, orig)


# (scenario, DRIVERS_TLS_PORTS key, the server's plugin)
TLS_PLUGINS = [("tls-native", "native", "mysql_native_password"),
               ("tls-sha2", "sha2", "caching_sha2_password"),
               ("tls-sha256", "sha256", "sha256_password"),
               ("tls-clear", "clear", "mysql_clear_password")]


def sc_tls_plugin(key, plugin):
    port = TLS_PORTS.get(key)
    check(port and port.isdigit() and port != "0",
          f"no {key}= port in DRIVERS_TLS_PORTS={os.environ.get('DRIVERS_TLS_PORTS', '')!r}")
    extra = {}
    how = plugin
    # mysql_clear_password: PyMySQL answers the greeting's with the password
    # as is, and libmariadb 3.3 loads its plugin without being asked (it has
    # no enable-cleartext-plugin option nor LIBMYSQL_ENABLE_CLEARTEXT_PLUGIN:
    # the mariadb CLI calls the option obsolete); connector follows the
    # greeting too, but naming the plugin is its documented switch for it
    if plugin == "mysql_clear_password" and DRIVER == "connector":
        extra["auth_plugin"] = plugin
    if plugin == "sha256_password" and DRIVER == "mysqlclient":
        extra["read_default_file"] = SHA256_CNF  # see SHA256_CNF
        how += " (via auth switch from default-auth mysql_native_password)"
    seen = []
    with sha2_more_data(seen):
        try:
            c = connect(port=int(port), **extra)
        except drv.Error as e:
            raise Fail(f"{plugin} login over TLS to {HOST}:{port} failed: "
                       f"{type(e).__name__} {err_parts(e)}")
    try:
        if plugin == "caching_sha2_password":
            # the server's cache is cold: every login must be the full
            # authentication (0x04, then the password in clear over TLS)
            if DRIVER == "mysqlclient":
                how += " (cold cache; which path libmariadb took is not visible)"
            else:
                check(seen == [b"\x04"], "caching_sha2_password: AuthMoreData after the scramble "
                      f"{seen}, want [b'\\x04'] (full authentication; [] = the server sent OK "
                      "at once)")
                how += " full auth"
        cur = c.cursor()
        version, cipher = tls_session(cur)
        check_databases(cur)
        try:
            cur.execute("SELECT * FROM nothing")
            cur.fetchall()
            raise Fail("SELECT * FROM nothing: no error")
        except drv.Error as e:
            want_error(e, UNKNOWN)
        # usable after: COM_INIT_DB gets OK, and the same answers again
        init_db(c, "db_1")
        cur = c.cursor()
        check_databases(cur, "after the error and COM_INIT_DB")
    finally:
        c.close()
    return (f"{how} over {version} {cipher}: 70 databases, 101 error, "
            "usable after (COM_INIT_DB db_1 OK, 70 databases again)")


def sc_tls_compress():
    if not RULES:
        raise NotApplicable("builtin mode has no such table (rules only)")
    try:
        c = connect(compress=True)
    except NotImplementedError as e:
        # PyMySQL refuses the argument itself, before connecting
        raise NotApplicable(f"no protocol compression in {NAME}: connect(compress=True) "
                            f"raises NotImplementedError({e})")
    try:
        cur = c.cursor()
        version, cipher = tls_session(cur)
        comp = session_status(cur, "Compression")
        alg = session_status(cur, "Compression_algorithm")
        check(comp == "ON", f"Compression is {comp!r} (algorithm {alg!r}), want ON")
        try:
            big = read_big(c, False)
        except struct.error as e:
            if not connector_split_header(e):
                raise
            raise NotApplicable(
                f"Compression ON ({alg}) over {version} {cipher}, but connector's pure-Python "
                "reader cannot read SELECT * FROM big compressed: a frame ending 1-2 bytes into "
                "a packet header (MySQL's net buffer splits anywhere too; libmariadb reads this "
                f"stream) makes _recv_compressed_pkt unpack a short length ({e})")
    finally:
        c.close()
    return f"Compression ON ({alg}) over {version} {cipher}: SELECT * FROM big {big}"


def connector_split_header(e):
    """connector's known compressed-reader bug: it takes each packet's 3-byte
    length from what is left of the inflated frame, without reading the next
    frame first when fewer than 3 bytes are left (struct.error, raised in
    _recv_compressed_pkt itself)."""
    tb = traceback.extract_tb(e.__traceback__)
    return DRIVER == "connector" and bool(tb) and tb[-1].name == "_recv_compressed_pkt"


TLS_SCENARIOS = [(label, (lambda k=key, p=plugin: sc_tls_plugin(k, p)))
                 for label, key, plugin in TLS_PLUGINS] + [("tls-compress", sc_tls_compress)]


def run(scen, fn, ps):
    label = ("ps-" if ps else "text-") + scen
    return report(label, lambda: fn(ps))


def report(label, fn):
    """Runs one scenario and prints its verdict line; False if it failed."""
    try:
        r = fn()
        if r is None:
            print(f"N/A {NAME} {MODE} {label} builtin mode has no such table (rules only)")
            return True
        print(f"PASS {NAME} {MODE} {label} {r}")
        return True
    except NotApplicable as e:
        print(f"N/A {NAME} {MODE} {label} {e}")
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
    if TLS_CA:
        for label, fn in TLS_SCENARIOS:
            ok &= report(label, fn)
            sys.stdout.flush()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
