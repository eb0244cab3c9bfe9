"""Shared bits of the real-client tests of understudy's rules.

The fixture `understudy` comes from the understudy-pytest plugin (installed
with `pip install ./python`); nothing here imports it.
"""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "examples" / "rules"


def rules(*names):
    """examples/rules/<name>.json paths, e.g. rules("01-results")."""
    return [RULES / (n if n.endswith(".json") else n + ".json") for n in names]


def write_rules(path, *rules_):
    """Write a rule file {"rules": [...]} at `path` and return the path."""
    path.write_text(json.dumps({"rules": list(rules_)}))
    return path


@pytest.fixture(scope="session")
def certs(tmp_path_factory):
    """A CA and a server certificate it signed (CN and SAN localhost, SAN IP
    127.0.0.1), made with openssl: ca.pem, server.pem, server.key."""
    if shutil.which("openssl") is None:
        pytest.skip("no openssl (apt-get install openssl)")
    d = tmp_path_factory.mktemp("certs")

    def run(*args):
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True, timeout=60)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=understudy test CA",
        "-keyout", "ca.key", "-out", "ca.pem")
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", "server.key", "-out", "server.csr")
    (d / "ext.cnf").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
        "-extfile", "ext.cnf", "-out", "server.pem")
    return d


def tls_args(certs):
    """The server options for the `certs` fixture's certificate."""
    return ["--ssl-cert", str(certs / "server.pem"), "--ssl-key", str(certs / "server.key")]


def connector(server, **kwargs):
    """A mysql-connector-python (pure Python) connection to `server`."""
    import mysql.connector

    args = dict(server.connect_args(), use_pure=True, connection_timeout=30, read_timeout=30, write_timeout=30)
    args.update(kwargs)
    return mysql.connector.connect(**args)


def cli(server, *argv, sql=None, timeout=30, check=False, port=None, user="u", password="p"):
    """Run the mariadb CLI against `server` (batch mode); a CompletedProcess."""
    exe = shutil.which("mariadb") or shutil.which("mysql")
    if exe is None:
        pytest.skip("no mariadb CLI (apt-get install mariadb-client)")
    cmd = [exe, "-h", server.host, "-P", str(port or server.port), "-u" + user, "-p" + password, "--batch"]
    cmd += list(argv)
    if sql is not None:
        cmd += ["-e", sql]
    return subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=timeout, check=check)


def query(conn, sql, args=None):
    """Run one statement on a DB-API connection; its rows as a list of tuples."""
    cur = conn.cursor()
    try:
        cur.execute(sql, args)
        return [tuple(r) for r in cur.fetchall()] if cur.description else []
    finally:
        cur.close()
