"""caching_sha2_password's full authentication without TLS (--auth-cache
cold): PyMySQL (with the cryptography package) and the mariadb CLI
(libmariadb) ask for the server's RSA public key and send the password
encrypted with it; a wrong password gets 1045. mysql-connector-python's pure
Python plugin sends the password in clear after "perform full
authentication" (it expects TLS), which MySQL refuses on a plain connection
and so does understudy."""

import pymysql
import pytest

from conftest import cli, connector, query

ARGS = ["--user", "u:s3cret", "--auth-plugin", "caching_sha2_password", "--auth-cache", "cold"]


def test_pymysql_full_authentication_through_rsa(understudy):
    server = understudy(args=ARGS)
    # PyMySQL takes TLS whenever it is offered (it is, by default)
    conn = server.connect(password="s3cret", ssl_disabled=True)
    assert query(conn, "SELECT 1") == [(1,)]
    (pem,) = query(conn, "SELECT @@caching_sha2_password_public_key")[0]
    assert pem.startswith("-----BEGIN PUBLIC KEY-----")
    with pytest.raises(pymysql.err.OperationalError) as e:
        server.connect(password="wrong", ssl_disabled=True)
    assert e.value.args[0] == 1045
    logins = [e for e in server.journal.entries() if e["event"] == "login"]
    assert [e["result"] for e in logins] == ["ok", "error"]


def test_mariadb_cli_full_authentication_through_rsa(understudy):
    server = understudy(args=ARGS)
    r = cli(server, "--ssl=0", sql="SELECT 1", password="s3cret")
    assert r.returncode == 0 and r.stdout.split() == ["1", "1"], r.stderr
    r = cli(server, "--ssl=0", sql="SELECT 1", password="wrong")
    assert r.returncode != 0 and "1045" in r.stderr


def test_connector_pure_cleartext_on_a_plain_connection_is_refused(understudy):
    import mysql.connector

    server = understudy(args=ARGS)
    with pytest.raises(mysql.connector.Error) as e:
        connector(server, password="s3cret", ssl_disabled=True)
    assert e.value.errno == 1045
    # and the server goes on
    assert query(server.connect(password="s3cret", ssl_disabled=True), "SELECT 1") == [(1,)]
