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
