"""A batch client on Oracle's libmysqlclient, the C library of MySQL's own
`mysql` CLI: the one inside mysql-connector-python's C extension (the wheel
links it statically and exports its C API; Debian packages no MySQL client,
only MariaDB's). It is the real client for what no Debian client does:
`--compression-algorithms=zstd` with a zstd level, caching_sha2_password's
RSA key exchange through `--get-server-public-key` (what MySQL's CLI and
mysql-connector-python's C extension run on), `--ssl-mode` PREFERRED (the
default) to VERIFY_IDENTITY, and TLS session reuse with
`mysql_get_ssl_session_data`.

Run as a program, in its own process: the wheel's libmysqlclient needs the
OpenSSL 3.2+ it carries in mysql/vendor, and a process that has imported
Python's ssl module has Debian's 3.0 loaded under the same name. So nothing
here imports ssl; the vendored libcrypto and libssl are loaded first.

    python libmysql.py --port P [--user U --password W] [options] -e SQL ...

prints one JSON object: {"cipher": ..., "reused": ..., "results": [...]},
a result per -e (rows as lists of strings or None; with --count, only
{"count", "first", "last"}), or {"error": [errno, sqlstate, message]} and
exits 1 when the connection or a statement fails.
"""

import argparse
import ctypes
import importlib.util
import json
import os
import sys

# enum mysql_option, in mysql.h's order (MySQL 8.0.x to 9.x)
OPT_CONNECT_TIMEOUT = 0
OPT_PROTOCOL = 9
PROTOCOL_TCP = 1
OPT_READ_TIMEOUT = 11
OPT_WRITE_TIMEOUT = 12
PLUGIN_DIR = 16
DEFAULT_AUTH = 17
OPT_SSL_CA = 21
SERVER_PUBLIC_KEY = 29
ENABLE_CLEARTEXT_PLUGIN = 30
OPT_TLS_VERSION = 34
OPT_SSL_MODE = 35
OPT_GET_SERVER_PUBLIC_KEY = 36
OPT_COMPRESSION_ALGORITHMS = 41
OPT_ZSTD_COMPRESSION_LEVEL = 42
OPT_SSL_SESSION_DATA = 45
SSL_MODES = {"DISABLED": 1, "PREFERRED": 2, "REQUIRED": 3, "VERIFY_CA": 4, "VERIFY_IDENTITY": 5}


def load():
    """libmysqlclient's C API, from the connector's C extension, and the
    folder of its client plugins."""
    spec = importlib.util.find_spec("_mysql_connector")
    if spec is None or not spec.origin:
        raise SystemExit("mysql-connector-python's C extension (_mysql_connector) is not installed")
    vendor = os.path.join(os.path.dirname(spec.origin), "mysql", "vendor")
    for lib in ("libcrypto.so.3", "libssl.so.3"):
        path = os.path.join(vendor, lib)
        if os.path.exists(path):
            ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
    c = ctypes.CDLL(spec.origin)
    p, s, u = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_uint
    for name, res, args in [
        ("mysql_init", p, [p]),
        ("mysql_options", ctypes.c_int, [p, ctypes.c_int, p]),
        ("mysql_real_connect", p, [p, s, s, s, s, u, s, ctypes.c_ulong]),
        ("mysql_real_query", ctypes.c_int, [p, s, ctypes.c_ulong]),
        ("mysql_store_result", p, [p]),
        ("mysql_num_fields", u, [p]),
        ("mysql_fetch_row", ctypes.POINTER(ctypes.c_void_p), [p]),
        ("mysql_fetch_lengths", ctypes.POINTER(ctypes.c_ulong), [p]),
        ("mysql_free_result", None, [p]),
        ("mysql_field_count", u, [p]),
        ("mysql_errno", u, [p]),
        ("mysql_sqlstate", s, [p]),
        ("mysql_error", s, [p]),
        ("mysql_get_ssl_cipher", s, [p]),
        ("mysql_get_ssl_session_data", p, [p, u, ctypes.POINTER(u)]),
        ("mysql_free_ssl_session_data", ctypes.c_bool, [p, p]),
        ("mysql_get_ssl_session_reused", ctypes.c_bool, [p]),
        ("mysql_get_client_info", s, []),
        ("mysql_close", None, [p]),
    ]:
        f = getattr(c, name)
        f.restype, f.argtypes = res, args
    return c, os.path.join(vendor, "plugin")


class Failed(Exception):
    pass


def fail(c, m):
    raise Failed([c.mysql_errno(m), (c.mysql_sqlstate(m) or b"").decode(), (c.mysql_error(m) or b"").decode("utf-8", "replace")])


def connect(c, plugins, a, session=None):
    m = c.mysql_init(None)
    keep = []  # option values live until connect

    def opt(o, v):
        if isinstance(v, bytes):
            arg = ctypes.c_char_p(v)
        elif isinstance(v, bool):
            arg = ctypes.c_bool(v)
        else:
            arg = ctypes.c_uint(v)
        keep.append(arg)
        ptr = ctypes.cast(arg, ctypes.c_void_p) if isinstance(v, bytes) else ctypes.c_void_p(ctypes.addressof(arg))
        if c.mysql_options(m, o, ptr) != 0:
            raise Failed([0, "", "mysql_options(%d) refused" % o])

    for o in (OPT_CONNECT_TIMEOUT, OPT_READ_TIMEOUT, OPT_WRITE_TIMEOUT):
        opt(o, a.timeout)
    opt(OPT_PROTOCOL, PROTOCOL_TCP)  # "localhost" too: not the Unix socket
    # mysql_native_password is a loadable client plugin since MySQL 9
    opt(PLUGIN_DIR, plugins.encode())
    opt(OPT_SSL_MODE, SSL_MODES[a.ssl_mode])
    if a.ssl_ca:
        opt(OPT_SSL_CA, a.ssl_ca.encode())
    if a.tls_version:
        opt(OPT_TLS_VERSION, a.tls_version.encode())
    if a.compression_algorithms:
        opt(OPT_COMPRESSION_ALGORITHMS, a.compression_algorithms.encode())
    if a.zstd_compression_level:
        opt(OPT_ZSTD_COMPRESSION_LEVEL, a.zstd_compression_level)
    if a.get_server_public_key:
        opt(OPT_GET_SERVER_PUBLIC_KEY, True)
    if a.server_public_key_path:
        opt(SERVER_PUBLIC_KEY, a.server_public_key_path.encode())
    if a.default_auth:
        opt(DEFAULT_AUTH, a.default_auth.encode())
    if a.enable_cleartext_plugin:
        opt(ENABLE_CLEARTEXT_PLUGIN, True)
    if session:
        if c.mysql_options(m, OPT_SSL_SESSION_DATA, session) != 0:
            raise Failed([0, "", "MYSQL_OPT_SSL_SESSION_DATA refused"])
    if not c.mysql_real_connect(m, a.host.encode(), a.user.encode(), a.password.encode(), None, a.port, None, 0):
        try:
            fail(c, m)
        finally:
            c.mysql_close(m)
    return m


def run(c, m, sql, count_only):
    q = sql.encode()
    if c.mysql_real_query(m, q, len(q)) != 0:
        fail(c, m)
    res = c.mysql_store_result(m)
    if not res:
        if c.mysql_field_count(m) != 0:
            fail(c, m)
        return {"count": 0} if count_only else {"rows": []}
    try:
        n = c.mysql_num_fields(res)
        rows, count, first, last = [], 0, None, None
        while True:
            row = c.mysql_fetch_row(res)
            if not row:
                break
            lens = c.mysql_fetch_lengths(res)
            vals = [None if row[i] is None else ctypes.string_at(row[i], lens[i]).decode("utf-8", "replace") for i in range(n)]
            count += 1
            if count_only:
                first = first or vals
                last = vals
            else:
                rows.append(vals)
        if c.mysql_errno(m):
            fail(c, m)
        return {"count": count, "first": first, "last": last} if count_only else {"rows": rows}
    finally:
        c.mysql_free_result(res)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user", default="u")
    ap.add_argument("--password", default="p")
    ap.add_argument("--ssl-mode", default="PREFERRED", choices=sorted(SSL_MODES))
    ap.add_argument("--ssl-ca")
    ap.add_argument("--tls-version")
    ap.add_argument("--compression-algorithms")
    ap.add_argument("--zstd-compression-level", type=int)
    ap.add_argument("--get-server-public-key", action="store_true")
    ap.add_argument("--server-public-key-path")
    ap.add_argument("--default-auth")
    ap.add_argument("--enable-cleartext-plugin", action="store_true")
    ap.add_argument("--reconnect-with-session", action="store_true",
                    help="after the statements, reconnect with the first session's TLS session data and report reuse")
    ap.add_argument("--count", action="store_true", help="report row counts, first and last rows only")
    ap.add_argument("--timeout", type=int, default=30)
    ap.add_argument("-e", dest="sql", action="append", default=[])
    a = ap.parse_args(argv)
    c, plugins = load()
    out = {"client": c.mysql_get_client_info().decode()}
    try:
        m = connect(c, plugins, a)
        try:
            cipher = c.mysql_get_ssl_cipher(m)
            out["cipher"] = cipher.decode() if cipher else None
            out["results"] = [run(c, m, s, a.count) for s in a.sql]
            if a.reconnect_with_session:
                n = ctypes.c_uint(0)
                data = c.mysql_get_ssl_session_data(m, 0, ctypes.byref(n))
                if not data:
                    raise Failed([0, "", "no TLS session data to reuse"])
                try:
                    m2 = connect(c, plugins, a, session=data)
                finally:
                    c.mysql_free_ssl_session_data(m, data)
                out["reused"] = bool(c.mysql_get_ssl_session_reused(m2))
                out["reconnect_results"] = [run(c, m2, s, a.count) for s in a.sql]
                c.mysql_close(m2)
        finally:
            c.mysql_close(m)
    except Failed as e:
        out["error"] = e.args[0]
        print(json.dumps(out))
        return 1
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
