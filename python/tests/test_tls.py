"""TLS and the compressed protocol with real clients (issue 11): a CA and a
server certificate made with openssl for the test, verified by the mariadb
CLI (--ssl-verify-server-cert --ssl-ca), PyMySQL (ssl=) and
mysql-connector-python; caching_sha2_password's full authentication with the
password in clear over TLS; --require-secure-transport; the mariadb CLI's and
mysql-connector's --compress, with and without TLS."""

import ssl

import pymysql
import pytest

from conftest import cli, connector, query, tls_args

FULL_AUTH = ["--user", "u:s3cret", "--auth-plugin", "caching_sha2_password", "--auth-cache", "cold"]


def verified(certs):
    ctx = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    ctx.check_hostname = False  # the server is reached as 127.0.0.1; the chain is verified
    return ctx


def test_mariadb_cli_verifies_the_certificate(understudy, certs):
    server = understudy(args=tls_args(certs) + FULL_AUTH)
    ca = "--ssl-ca=" + str(certs / "ca.pem")
    r = cli(server, "--ssl", "--ssl-verify-server-cert", ca, sql="SHOW STATUS LIKE 'Ssl_cipher'", password="s3cret")
    assert r.returncode == 0, r.stderr
    assert "TLS_" in r.stdout or "ECDHE" in r.stdout
    r = cli(server, "--ssl", ca, sql="SHOW DATABASES", password="s3cret")
    assert r.returncode == 0 and len(r.stdout.split()) == 71, r.stderr
    r = cli(server, "--ssl", ca, sql="SELECT 1", password="wrong")
    assert r.returncode != 0 and "1045" in r.stderr
    # a CA that did not sign it: refused by the client
    r = cli(server, "--ssl", "--ssl-verify-server-cert", "--ssl-ca=/etc/ssl/certs/ca-certificates.crt",
            sql="SELECT 1", password="s3cret")
    assert r.returncode != 0


def test_pymysql_over_tls_with_full_authentication(understudy, certs):
    server = understudy(args=tls_args(certs) + FULL_AUTH)
    conn = server.connect(password="s3cret", ssl=verified(certs))
    assert query(conn, "SHOW STATUS LIKE 'Ssl_version'")[0][1].startswith("TLSv1.")
    assert len(query(conn, "SHOW DATABASES")) == 70
    assert query(conn, "SELECT %s", (12345,)) == [(12345,)]
    with pytest.raises(pymysql.err.OperationalError) as e:
        server.connect(password="wrong", ssl=verified(certs))
    assert e.value.args[0] == 1045


def test_connector_over_tls_compressed(understudy, certs):
    server = understudy(args=tls_args(certs) + FULL_AUTH)
    conn = connector(server, password="s3cret", ssl_ca=str(certs / "ca.pem"), ssl_verify_cert=True, compress=True)
    assert query(conn, "SHOW STATUS LIKE 'Compression'") == [("Compression", "ON")]
    assert query(conn, "SHOW STATUS LIKE 'Ssl_cipher'")[0][1] != ""
    assert len(query(conn, "SHOW DATABASES")) == 70


def test_require_secure_transport(understudy, certs):
    server = understudy(args=tls_args(certs) + ["--require-secure-transport"])
    # PyMySQL takes TLS whenever the server offers it, unless told not to
    with pytest.raises(pymysql.err.OperationalError) as e:
        server.connect(ssl_disabled=True)
    assert e.value.args[0] == 3159
    r = cli(server, "--ssl=0", sql="SELECT 1")
    assert r.returncode != 0 and "3159" in r.stderr
    assert query(server.connect(ssl=verified(certs)), "SELECT @@require_secure_transport") == [(1,)]


def test_mariadb_cli_compress(understudy, certs):
    server = understudy(args=tls_args(certs))
    for extra in (["--ssl=0"], ["--ssl", "--ssl-ca=" + str(certs / "ca.pem")]):
        r = cli(server, "--compress", *extra, sql="SHOW STATUS LIKE 'Compression%'; SHOW DATABASES")
        assert r.returncode == 0, r.stderr
        assert "Compression\tON" in r.stdout and "Compression_algorithm\tzlib" in r.stdout
        assert "db_70" in r.stdout


@pytest.mark.parametrize("tls", [True, False])
def test_sha256_password(understudy, certs, tls):
    # over TLS the password goes in clear; without, PyMySQL asks for the
    # server's RSA key (0x01) and sends it encrypted
    server = understudy(args=tls_args(certs) + ["--user", "u:s3cret", "--auth-plugin", "sha256_password"])
    kw = {"ssl": verified(certs)} if tls else {"ssl_disabled": True}
    conn = server.connect(password="s3cret", **kw)
    assert len(query(conn, "SHOW DATABASES")) == 70
    (pem,) = query(conn, "SELECT @@sha256_password_public_key")[0]
    assert pem.startswith("-----BEGIN PUBLIC KEY-----")
    with pytest.raises(pymysql.err.OperationalError) as e:
        server.connect(password="wrong", **kw)
    assert e.value.args[0] == 1045


def test_mysql_clear_password_over_tls_only(understudy, certs):
    server = understudy(args=tls_args(certs) + ["--user", "u:s3cret", "--auth-plugin", "mysql_clear_password"])
    conn = server.connect(password="s3cret", ssl=verified(certs))
    assert query(conn, "SELECT 1") == [(1,)]
    with pytest.raises(pymysql.err.OperationalError) as e:
        server.connect(password="wrong", ssl=verified(certs))
    assert e.value.args[0] == 1045
    # without TLS the password is refused before it is looked at
    with pytest.raises(pymysql.err.OperationalError) as e:
        server.connect(password="s3cret", ssl_disabled=True)
    assert e.value.args[0] == 1045
    # the mariadb CLI sends it only when told to
    ca = "--ssl-ca=" + str(certs / "ca.pem")
    r = cli(server, "--ssl", ca, "--enable-cleartext-plugin", sql="SELECT 1", password="s3cret")
    assert r.returncode == 0, r.stderr
