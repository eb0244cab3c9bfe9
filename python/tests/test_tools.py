"""Whole tools against understudy: sysbench's prepare step and mariadb-slap's
generated load, on --unknown ok (every statement nothing answers gets OK)."""

import shutil
import subprocess

import pytest


def run(argv, timeout=120):
    return subprocess.run(argv, capture_output=True, text=True, errors="replace", timeout=timeout)


@pytest.mark.skipif(shutil.which("sysbench") is None, reason="no sysbench (scripts/drivers/install-sysbench.sh)")
def test_sysbench_prepare(understudy):
    server = understudy(args=["--unknown", "ok"])
    r = run(["sysbench", "oltp_read_write", "--db-driver=mysql", "--mysql-host=%s" % server.host,
             "--mysql-port=%d" % server.port, "--mysql-user=u", "--mysql-password=p",
             "--tables=1", "--table-size=100", "prepare"])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Creating table 'sbtest1'" in r.stdout and "Inserting 100 records" in r.stdout
    sent = server.journal.commands()
    assert any(c["sql"].startswith("CREATE TABLE sbtest1") and c["rule"] == "unknown" for c in sent)
    assert any(c["sql"].startswith("INSERT INTO sbtest1") for c in sent)
    assert not [c for c in sent if c["answer"] == "error"]


SLAP = shutil.which("mariadb-slap") or shutil.which("mysqlslap")


@pytest.mark.skipif(SLAP is None, reason="no mariadb-slap (Debian's mariadb-client)")
def test_mariadb_slap_auto_generate_sql(understudy):
    server = understudy(args=["--unknown", "ok"])
    r = run([SLAP, "-h", server.host, "-P", str(server.port), "-uu", "-pp", "--auto-generate-sql",
             "--concurrency=2", "--iterations=2", "--number-of-queries=50"])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Number of clients running queries: 2" in r.stdout
    sent = server.journal.commands()
    assert any(c["sql"] == "CREATE SCHEMA `mysqlslap`" for c in sent)
    assert any(c["command"] == "init_db" and c["sql"] == "mysqlslap" for c in sent)
    assert sum(1 for c in sent if c["sql"] and c["sql"].startswith("INSERT INTO t1")) >= 50
    assert not [c for c in sent if c["answer"] == "error"]
