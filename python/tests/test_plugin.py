"""The kit itself: the fixture, Understudy and Journal."""

import os
import re
import signal
import time

import pytest

from conftest import query, rules

import understudy_pytest
from understudy_pytest import Journal, Understudy, UnderstudyError, find_binary
from understudy_pytest.server import _repo_builds

pytest_plugins = ["pytester"]


def test_fixture_starts_and_stops(understudy):
    server = understudy(rules=rules("01-results"))
    assert server.alive and server.port > 0 and server.host == "127.0.0.1"
    assert server.sqlalchemy_url() == "mysql+pymysql://u:p@127.0.0.1:%d/app" % server.port
    assert server.url == server.sqlalchemy_url()
    assert server.sqlalchemy_url(db="x", driver="mysqlconnector").startswith("mysql+mysqlconnector://u:p@")
    assert server.admin_port is None
    assert understudy.servers == [server]
    assert server.stop() == 0 and not server.alive
    assert server.stop() == 0  # again: nothing


def test_several_servers(understudy):
    a, b = understudy(), understudy(admin=True)
    assert a.port != b.port and b.admin_port not in (None, a.port, b.port)
    assert query(a.connect(), "SELECT 1") == query(b.connect(), "SELECT 1") == [(1,)]
    assert a.journal.path != b.journal.path


def test_context_manager_and_temporary_journal(understudy_bin):
    with Understudy.start(binary=understudy_bin, rules=rules("01-results")) as server:
        query(server.connect(), "SELECT name FROM users WHERE id = 7")
        path = server.journal.path
        assert os.path.exists(path)
    assert not server.alive
    assert server.journal.commands(rule="user-by-id")


def test_no_journal(understudy):
    server = understudy(journal=False)
    assert server.journal is None and "--journal" not in server.argv


def test_stop_raises_when_the_server_died(understudy):
    server = understudy()
    os.kill(server.process.pid, signal.SIGKILL)
    server.process.wait(10)
    with pytest.raises(UnderstudyError) as e:
        server.stop()
    assert e.value.returncode == -signal.SIGKILL
    understudy.servers.remove(server)  # reported here, not again at teardown


def test_start_failure_is_an_error_with_the_output(understudy):
    with pytest.raises(UnderstudyError) as e:
        understudy(args=["--no-such-option"])
    assert e.value.returncode not in (0, None)
    assert "no-such-option" in e.value.output


def test_find_binary(understudy_bin, monkeypatch, tmp_path):
    assert find_binary(understudy_bin) == understudy_bin
    monkeypatch.setenv("UNDERSTUDY_BIN", understudy_bin)
    assert find_binary() == understudy_bin
    with pytest.raises(UnderstudyError):
        find_binary(tmp_path / "missing")
    monkeypatch.setenv("UNDERSTUDY_BIN", str(tmp_path / "missing"))
    with pytest.raises(UnderstudyError):
        find_binary()
    # a cargo build of the repository the current directory is in
    monkeypatch.delenv("UNDERSTUDY_BIN")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    repo = tmp_path / "repo"
    build = repo / "target" / "x86_64-unknown-linux-gnu" / "release"
    build.mkdir(parents=True)
    (repo / "Cargo.toml").write_text("[package]\nname = 'understudy'\n")
    os.symlink(understudy_bin, build / "understudy")
    monkeypatch.chdir(repo)
    # (an editable install inside a built repository would find that build first)
    if not _repo_builds(os.path.dirname(understudy_pytest.__file__)):
        assert find_binary() == str(build / "understudy")


def test_reload_without_rules(understudy):
    server = understudy()
    assert server.reload() is True  # "rules reloaded (SIGHUP): 0 rules"
    assert server.alive


def test_journal_filters(understudy):
    server = understudy(rules=rules("01-results"))
    conn = server.connect()
    for sql in ("SELECT COUNT(*) FROM events", "SELECT COUNT(*) FROM clicks", "SELECT name FROM users WHERE id = 7"):
        query(conn, sql)
    j = server.journal
    assert len(j.commands(like="count(*)")) == 2  # substring, any case
    assert [c["sql"] for c in j.commands(like="SELECT % FROM clicks")] == ["SELECT COUNT(*) FROM clicks"]  # LIKE
    assert len(j.commands(like="%from _vents")) == 1  # in a LIKE (a pattern with %), _ is one character
    assert j.commands(like="from _vents") == []  # without %, a plain substring
    assert len(j.commands(like="%events")) == 1
    assert len(j.commands(like=re.compile(r"id = \d+$"))) == 1
    assert len(j.commands(rule="report-regex", answer="result")) == 2
    assert j.commands(like="%nothing%") == []
    assert j.wait_for("FROM users")["rule"] == "user-by-id"
    assert j.wait_for(lambda e: e["event"] == "login")["user"] == "u"


def test_wait_for_times_out(understudy):
    server = understudy()
    t0 = time.monotonic()
    with pytest.raises(TimeoutError) as e:
        server.journal.wait_for("never sent", timeout=0.3)
    assert time.monotonic() - t0 >= 0.3
    assert "never sent" in str(e.value)


def test_journal_reads_whole_lines_only(tmp_path):
    path = tmp_path / "j.jsonl"
    path.write_text('{"seq": 1, "event": "login"}\n{"seq": 2, "ev')
    j = Journal(path)
    assert [e["seq"] for e in j.entries()] == [1] and j.mark() == 1
    with open(path, "a") as f:
        f.write('ent": "command", "sql": "SELECT 1"}\n')
    assert [e["sql"] for e in j.since(1)] == ["SELECT 1"]
    assert Journal(tmp_path / "absent.jsonl").entries() == []


def test_option_and_fixture_available_without_import(pytester, understudy_bin):
    pytester.makepyfile(
        """
        def test_it(understudy, understudy_bin):
            server = understudy()
            assert server.binary == understudy_bin
            assert server.alive
        """
    )
    result = pytester.runpytest_subprocess("--understudy-bin", understudy_bin, "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
