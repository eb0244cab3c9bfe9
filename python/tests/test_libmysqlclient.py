"""Oracle's libmysqlclient (26.x, from mysql-connector-python's C extension;
see libmysql.py) against understudy: TLS by default (its --ssl-mode
PREFERRED takes the generated certificate), VERIFY_IDENTITY with a CA, TLS
session reuse, zstd at the level it asks and zlib (plain and over TLS, the
200,000-row answer included), caching_sha2_password's full authentication
without TLS through the RSA key exchange (--get-server-public-key, or the key
file), sha256_password, and mysql_clear_password over TLS. Debian has no
MySQL client; this library is what MySQL's own `mysql` CLI runs on."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, tls_args

HELPER = Path(__file__).with_name("libmysql.py")
RULES = str(REPO / "examples" / "rules.lua")

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("_mysql_connector") is None,
    reason="mysql-connector-python's C extension is not installed",
)


def libmysql(server, *args, password="p", user="u", check=True):
    """Run libmysql.py against `server`; its JSON report."""
    cmd = [sys.executable, str(HELPER), "--host", server.host, "--port", str(server.port),
           "--user", user, "--password", password, *args]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.stdout, r.stderr
    out = json.loads(r.stdout)
    if check:
        assert r.returncode == 0 and "error" not in out, out
    assert out["client"].split(".")[0].isdigit()
    return out


def sql(*statements):
    return [a for s in statements for a in ("-e", s)]


def status(out, i=0):
    """The rows of a SHOW STATUS result as a dict."""
    return dict(out["results"][i]["rows"])


def verified(certs):
    return ["--ssl-mode", "VERIFY_IDENTITY", "--ssl-ca", str(certs / "ca.pem")]


def test_tls_by_default_with_the_generated_certificate(understudy):
    server = understudy()
    out = libmysql(server, *sql("SHOW STATUS LIKE 'Ssl_cipher'", "SHOW DATABASES"))
    assert out["cipher"], "PREFERRED took no TLS from a default server"
    assert status(out)["Ssl_cipher"] == out["cipher"]
    assert len(out["results"][1]["rows"]) == 70
    # the seed's error, over TLS
    out = libmysql(server, *sql("SELECT foo FROM bar"), check=False)
    assert out["error"][0] == 101 and "haven't learnt" in out["error"][2]
    # --no-ssl: plain, and REQUIRED is refused by the client
    plain = understudy(args=["--no-ssl"])
    assert libmysql(plain, *sql("SELECT 1"))["cipher"] is None
    out = libmysql(plain, "--ssl-mode", "REQUIRED", *sql("SELECT 1"), check=False)
    assert out["error"][0] == 2026, out


def test_verified_tls_and_session_reuse(understudy, certs):
    server = understudy(args=tls_args(certs) + ["--lua-script", RULES])
    statements = sql("SHOW DATABASES", "SELECT * FROM big")
    out = libmysql(server, *verified(certs), "--reconnect-with-session", "--count", *statements)
    assert out["cipher"] and out["reused"] is True, out
    for results in (out["results"], out["reconnect_results"]):
        assert results[0]["count"] == 70
        assert results[1]["count"] == 200000
        assert results[1]["first"][0] == "1"
    # the same name through "localhost"; a CA that did not sign it is refused
    assert libmysql(server, "--host", "localhost", *verified(certs), *sql("SELECT 1"))["cipher"]
    out = libmysql(server, "--ssl-mode", "VERIFY_CA", "--ssl-ca", "/etc/ssl/certs/ca-certificates.crt",
                   *sql("SELECT 1"), check=False)
    assert out["error"][0] == 2026, out
    assert libmysql(server, *sql("SELECT 1"))["results"][0]["rows"] == [["1"]]


@pytest.mark.parametrize("algo,level", [("zstd", 7), ("zstd", 19), ("zlib", None)])
@pytest.mark.parametrize("tls", [False, True])
def test_compression(understudy, certs, algo, level, tls):
    server = understudy(args=tls_args(certs) + ["--lua-script", RULES])
    args = ["--compression-algorithms", algo] + (["--zstd-compression-level", str(level)] if level else [])
    args += verified(certs) if tls else ["--ssl-mode", "DISABLED"]
    out = libmysql(server, *args, *sql("SHOW STATUS LIKE 'Compression%'", "SHOW DATABASES"))
    assert bool(out["cipher"]) == tls
    st = status(out)
    assert st["Compression"] == "ON", st
    assert st["Compression_algorithm"] == algo
    if level:
        assert st["Compression_level"] == str(level)
    assert len(out["results"][1]["rows"]) == 70
    big = libmysql(server, *args, "--count", *sql("SELECT * FROM big"))["results"][0]
    assert big["count"] == 200000 and big["first"][0] == "1"


def test_no_zstd_offered_falls_back_to_what_the_client_allows(understudy):
    server = understudy(args=["--compression-algorithms", "zlib"])
    out = libmysql(server, "--compression-algorithms", "zstd,uncompressed", *sql("SHOW STATUS LIKE 'Compression'"))
    assert status(out)["Compression"] == "OFF"
    out = libmysql(server, "--compression-algorithms", "zstd,zlib", *sql("SHOW STATUS LIKE 'Compression_algorithm'"))
    assert status(out)["Compression_algorithm"] == "zlib"


FULL_AUTH = ["--user", "u:s3cret", "--auth-plugin", "caching_sha2_password", "--auth-cache", "cold"]


def test_caching_sha2_full_authentication_through_rsa(understudy, tmp_path):
    server = understudy(args=FULL_AUTH)
    plain = ["--ssl-mode", "DISABLED"]
    out = libmysql(server, *plain, "--get-server-public-key", password="s3cret",
                   *sql("SELECT @@caching_sha2_password_public_key", "SHOW DATABASES"))
    assert out["cipher"] is None
    pem = out["results"][0]["rows"][0][0]
    assert pem.startswith("-----BEGIN PUBLIC KEY-----")
    assert len(out["results"][1]["rows"]) == 70
    # the key from a file, as --server-public-key-path
    key = tmp_path / "server.pub"
    key.write_text(pem)
    libmysql(server, *plain, "--server-public-key-path", str(key), password="s3cret", *sql("SELECT 1"))
    out = libmysql(server, *plain, "--get-server-public-key", password="wrong", *sql("SELECT 1"), check=False)
    assert out["error"][0] == 1045, out
    # without a key the client itself refuses to send the password in clear
    out = libmysql(server, *plain, password="s3cret", *sql("SELECT 1"), check=False)
    assert out["error"][0] == 2061, out
    logins = [e for e in server.journal.entries() if e["event"] == "login"]
    assert [e["result"] for e in logins] == ["ok", "ok", "error"]
    assert logins[0]["attributes"].get("_client_name") == "libmysql"


def test_caching_sha2_full_authentication_over_tls(understudy, certs):
    server = understudy(args=tls_args(certs) + FULL_AUTH)
    out = libmysql(server, *verified(certs), password="s3cret", *sql("SHOW DATABASES"))
    assert out["cipher"] and len(out["results"][0]["rows"]) == 70
    out = libmysql(server, *verified(certs), password="wrong", *sql("SELECT 1"), check=False)
    assert out["error"][0] == 1045


@pytest.mark.parametrize("tls", [True, False])
def test_sha256_password(understudy, certs, tls):
    server = understudy(args=tls_args(certs) + ["--user", "u:s3cret", "--auth-plugin", "sha256_password"])
    # without TLS libmysqlclient asks for the server's RSA key by itself
    mode = verified(certs) if tls else ["--ssl-mode", "DISABLED"]
    out = libmysql(server, *mode, password="s3cret", *sql("SHOW DATABASES"))
    assert bool(out["cipher"]) == tls
    assert len(out["results"][0]["rows"]) == 70
    out = libmysql(server, *mode, password="wrong", *sql("SELECT 1"), check=False)
    assert out["error"][0] == 1045


def test_mysql_clear_password_over_tls(understudy, certs):
    server = understudy(args=tls_args(certs) + ["--user", "u:s3cret", "--auth-plugin", "mysql_clear_password"])
    out = libmysql(server, *verified(certs), "--enable-cleartext-plugin", password="s3cret", *sql("SHOW DATABASES"))
    assert out["cipher"] and len(out["results"][0]["rows"]) == 70
    # without --enable-cleartext-plugin libmysqlclient will not send it
    out = libmysql(server, *verified(certs), password="s3cret", *sql("SELECT 1"), check=False)
    assert out["error"][0] == 2059, out
    # and over plain TCP the server refuses it before looking at it
    out = libmysql(server, "--ssl-mode", "DISABLED", "--enable-cleartext-plugin", password="s3cret",
                   *sql("SELECT 1"), check=False)
    assert out["error"][0] == 1045, out
