"""Run understudy as a child process and read its journal.

    from understudy_pytest import Understudy

    with Understudy.start(rules=["examples/rules/01-results.json"]) as server:
        engine = sqlalchemy.create_engine(server.sqlalchemy_url())
        ...
        assert server.journal.commands(like="SELECT name FROM users%")

Everything here is the standard library; `connect()` and `admin()` import
PyMySQL when they are called.
"""

import collections
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import weakref

__all__ = ["Understudy", "Journal", "UnderstudyError", "find_binary"]

#: How long start() waits for the "listening on" line (a liveness bound).
START_TIMEOUT = 20.0
#: How long stop() waits after SIGTERM before it kills the server.
STOP_TIMEOUT = 10.0

_LISTENING = "understudy: listening on "
_ADMIN = "understudy: admin port on "
_RELOAD = re.compile(r"rules (not )?reloaded \((SIGHUP|a rule file changed)\)")


class UnderstudyError(Exception):
    """understudy could not be found or started, or exited with an error.

    ``returncode`` is the server's exit code (None while it runs or when it
    was never started); ``output`` is what it printed (stderr, then stdout).
    """

    def __init__(self, message, returncode=None, output=""):
        super().__init__(message)
        self.returncode = returncode
        self.output = output


def _executable(path):
    return bool(path) and os.path.isfile(path) and os.access(path, os.X_OK)


def _repo_builds(start):
    """target/release/understudy and target/<triple>/release/understudy of the
    first folder at or above `start` that has a Cargo.toml."""
    here = os.path.abspath(start)
    while True:
        if os.path.isfile(os.path.join(here, "Cargo.toml")):
            found = [os.path.join(here, "target", "release", "understudy")]
            found += sorted(glob.glob(os.path.join(here, "target", "*", "release", "understudy")))
            return [p for p in found if _executable(p)]
        parent = os.path.dirname(here)
        if parent == here:
            return []
        here = parent


def find_binary(binary=None):
    """The understudy executable to run, as an absolute path.

    In this order: `binary` (an argument or ``--understudy-bin``), the
    environment variable ``UNDERSTUDY_BIN``, ``understudy`` on ``PATH``, and
    last a cargo build (``target/release/understudy`` or
    ``target/<triple>/release/understudy``) of the repository this package was
    loaded from or the current directory is in. Raises UnderstudyError naming
    what it tried.
    """
    tried = []
    for label, value in (("argument", binary), ("UNDERSTUDY_BIN", os.environ.get("UNDERSTUDY_BIN"))):
        if value:
            value = os.fspath(value)
            if _executable(value):
                return os.path.abspath(value)
            tried.append("%s %r is not an executable file" % (label, value))
            # an explicit choice that does not exist is an error, not a hint
            raise UnderstudyError("understudy binary not found: " + "; ".join(tried))
    on_path = shutil.which("understudy")
    if on_path:
        return os.path.abspath(on_path)
    tried.append("no understudy on PATH")
    for start in (os.path.dirname(os.path.abspath(__file__)), os.getcwd()):
        builds = _repo_builds(start)
        if builds:
            return max(builds, key=os.path.getmtime)
        tried.append("no cargo build above %s" % start)
    raise UnderstudyError(
        "understudy binary not found (pass --understudy-bin or set UNDERSTUDY_BIN): " + "; ".join(tried)
    )


def _like_to_regex(pattern):
    """SQL LIKE (% any run, _ one character; case-insensitive) as a regex."""
    out = []
    for ch in pattern:
        if ch == "%":
            out.append(".*")
        elif ch == "_":
            out.append(".")
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out) + r"\Z", re.IGNORECASE | re.DOTALL)


def _sql_matcher(like):
    """A function sql -> bool for `like`: a compiled regex (searched), a
    string with % (SQL LIKE, whole text, case-insensitive) or any other
    string (a case-insensitive substring)."""
    if like is None:
        return lambda sql: True
    if isinstance(like, re.Pattern):
        return lambda sql: sql is not None and like.search(sql) is not None
    if "%" in like:
        rx = _like_to_regex(like)
        return lambda sql: sql is not None and rx.match(sql) is not None
    needle = like.lower()
    return lambda sql: sql is not None and needle in sql.lower()


class Journal:
    """The JSON-lines journal understudy writes with ``--journal FILE``.

    One dict per event, as the server wrote it: ``seq``, ``time``, ``conn``,
    ``event`` (``login``, ``command``, ``disconnect``) and the event's fields
    (a command: ``command``, ``sql``, ``params``, ``rule``, ``answer``,
    ``rows``, ``error``, ...). Only whole lines are read, so a line the
    server is still writing is never half-parsed. Reading never changes the
    file: to look at what happened after a point, take ``mark()`` and later
    ask for ``since(mark)``.
    """

    def __init__(self, path):
        self.path = os.fspath(path)
        self._entries = []
        self._offset = 0
        self._lock = threading.Lock()

    def _refresh(self):
        with self._lock:
            try:
                with open(self.path, "rb") as f:
                    size = os.fstat(f.fileno()).st_size
                    if size < self._offset:  # a new or truncated file: read it again
                        self._entries, self._offset = [], 0
                    f.seek(self._offset)
                    data = f.read()
            except FileNotFoundError:
                return list(self._entries)
            end = data.rfind(b"\n")
            if end >= 0:
                for line in data[: end + 1].splitlines():
                    if line.strip():
                        self._entries.append(json.loads(line))
                self._offset += end + 1
            return list(self._entries)

    def entries(self, since=None):
        """Every event so far (after `since`, a mark(), when given)."""
        entries = self._refresh()
        if since is not None:
            entries = [e for e in entries if e.get("seq", 0) > since]
        return entries

    def commands(self, like=None, since=None, **fields):
        """Command events, optionally only those whose ``sql`` matches `like`
        and whose fields equal `fields` (e.g. ``rule="user-by-id"``,
        ``command="execute"``).

        `like` is a compiled regex (searched), a string with ``%`` (SQL LIKE
        over the whole statement: ``%`` any run, ``_`` one character,
        case-insensitive) or another string (a case-insensitive substring).
        """
        match = _sql_matcher(like)
        return [
            e
            for e in self.entries(since)
            if e.get("event") == "command"
            and match(e.get("sql"))
            and all(e.get(k) == v for k, v in fields.items())
        ]

    def sql(self, since=None, **fields):
        """The ``sql`` of each command event (after `since`), in order."""
        return [e.get("sql") for e in self.commands(since=since, **fields)]

    def mark(self):
        """A point in the journal: the highest ``seq`` written so far (0 when
        empty). ``since(mark)`` is what came after it."""
        entries = self._refresh()
        return max((e.get("seq", 0) for e in entries), default=0)

    def since(self, mark):
        """The events written after `mark` (from ``mark()``)."""
        return self.entries(since=mark)

    def wait_for(self, what, timeout=5.0, since=None, interval=0.02):
        """Poll the journal until an event matches, and return that event.

        `what` is a predicate called with each event dict, or a `like` as in
        commands() (then only command events match). Events up to `since` (a
        mark()) are not looked at. Raises TimeoutError after `timeout`
        seconds (a liveness bound: the journal line of a command is written
        before its answer leaves the server, so a query that has returned is
        already there).
        """
        if callable(what):
            pred = what
        else:
            match = _sql_matcher(what)
            pred = lambda e: e.get("event") == "command" and match(e.get("sql"))  # noqa: E731
        deadline = time.monotonic() + timeout
        while True:
            for entry in self.entries(since):
                if pred(entry):
                    return entry
            if time.monotonic() >= deadline:
                last = self.entries(since)[-5:]
                raise TimeoutError(
                    "no journal event matched %r within %.1f s; the last ones: %s"
                    % (what, timeout, json.dumps(last))
                )
            time.sleep(interval)

    def __len__(self):
        return len(self.entries())

    def __repr__(self):
        return "<Journal %s>" % self.path


class Understudy:
    """One running understudy server.

    Start it with ``Understudy.start(...)`` (or the pytest fixture
    ``understudy``), stop it with ``stop()`` or a ``with`` block.

    Attributes: ``host``, ``port``, ``admin_port`` (None without admin),
    ``admin_user``/``admin_password``, ``journal`` (a Journal, None with
    ``journal=False``), ``binary``, ``argv``, ``process`` (the Popen),
    ``url`` (``sqlalchemy_url()`` with its defaults).
    """

    def __init__(self, binary, argv, process, journal_path, admin_user=None, admin_password=None, tempdir=None):
        self.binary = binary
        self.argv = argv
        self.process = process
        self.host = None
        self.port = None
        self.admin_port = None
        self.admin_user = admin_user
        self.admin_password = admin_password
        self.journal = Journal(journal_path) if journal_path else None
        self._lines = collections.deque(maxlen=5000)
        self._cond = threading.Condition()
        self._reloads = []  # (ok, why) per reload line, in order
        self._listening = False
        self._threads = []
        self._stopped = False
        if tempdir:
            self._cleanup = weakref.finalize(self, shutil.rmtree, tempdir, True)

    # -- starting -------------------------------------------------------

    @classmethod
    def start(
        cls,
        binary=None,
        rules=(),
        args=(),
        journal=True,
        admin=False,
        env=None,
        cwd=None,
        timeout=START_TIMEOUT,
    ):
        """Start a server on a free port and wait until it listens.

        binary   the executable (default: find_binary()).
        rules    rule files or folders, each passed as ``--rules PATH`` (a
                 single path may be given as a string); relative paths are
                 relative to `cwd` (default: the current directory).
        args     more command-line options, e.g. ``["--unknown", "ok"]``,
                 ``["--seed", "7"]``, ``["--lua-script", "x.lua"]``.
        journal  True: ``--journal`` to a temporary file; a path: that file;
                 False: no journal.
        admin    True: ``--admin-port 0 --admin-user admin:admin``; a string
                 ``"NAME:PASSWORD"``: that login.
        env      extra environment variables for the server (RUST_LOG
                 defaults to ``info``: reload() reads its reload lines).
        timeout  seconds to wait for the "listening on" line.

        Raises UnderstudyError (with ``returncode`` and ``output``) when the
        server exits first or does not listen in time.
        """
        binary = find_binary(binary)
        if isinstance(rules, (str, bytes, os.PathLike)):
            rules = [rules]
        argv = [binary, "--port", "0"]
        tempdir = None
        journal_path = None
        if journal is True:
            tempdir = tempfile.mkdtemp(prefix="understudy-")
            journal_path = os.path.join(tempdir, "journal.jsonl")
        elif journal:
            journal_path = os.fspath(journal)
        if journal_path:
            argv += ["--journal", journal_path]
        for path in rules:
            argv += ["--rules", os.fspath(path)]
        admin_user = admin_password = None
        if admin:
            login = "admin:admin" if admin is True else str(admin)
            admin_user, _, admin_password = login.partition(":")
            argv += ["--admin-port", "0", "--admin-user", login]
        argv += [os.fspath(a) for a in args]
        child_env = dict(os.environ)
        child_env.setdefault("RUST_LOG", "info")
        child_env.update(env or {})
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=child_env,
            cwd=cwd,
            text=True,
            errors="replace",
        )
        server = cls(binary, argv, process, journal_path, admin_user, admin_password, tempdir)
        server._read(process.stderr)
        server._read(process.stdout)
        server._wait_listening(timeout)
        return server

    def _read(self, stream):
        def pump():
            for line in stream:
                line = line.rstrip("\n")
                with self._cond:
                    self._lines.append(line)
                    if line.startswith(_ADMIN) and self.admin_port is None:
                        self.admin_port = int(line.rsplit(":", 1)[1])
                    elif line.startswith(_LISTENING) and self.port is None:
                        host, _, port = line[len(_LISTENING):].strip().rpartition(":")
                        host = host.strip("[]")
                        self.host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
                        self.port = int(port)
                        self._listening = True
                    else:
                        m = _RELOAD.search(line)
                        if m:
                            self._reloads.append((m.group(1) is None, m.group(2)))
                    self._cond.notify_all()
            with self._cond:
                self._cond.notify_all()

        t = threading.Thread(target=pump, name="understudy-output", daemon=True)
        t.start()
        self._threads.append(t)

    def _wait_listening(self, timeout):
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._listening:
                rc = self.process.poll()
                left = deadline - time.monotonic()
                if rc is not None or left <= 0:
                    break
                self._cond.wait(min(left, 0.1))
        if self._listening:
            return
        rc = self.process.poll()
        if rc is None:
            self._terminate()
            raise UnderstudyError(
                "understudy did not print 'listening on' within %.0f s: %s\n%s"
                % (timeout, " ".join(self.argv), self.output),
                returncode=self.process.returncode,
                output=self.output,
            )
        for t in self._threads:
            t.join(2)
        self._stopped = True
        raise UnderstudyError(
            "understudy exited with code %s before listening: %s\n%s" % (rc, " ".join(self.argv), self.output),
            returncode=rc,
            output=self.output,
        )

    # -- what it printed ---------------------------------------------------

    @property
    def output(self):
        """What the server printed so far (stderr and stdout lines, in the
        order they were read; the last 5000)."""
        with self._cond:
            return "\n".join(self._lines)

    @property
    def returncode(self):
        """The exit code, or None while the server runs."""
        return self.process.poll()

    @property
    def alive(self):
        return self.process.poll() is None

    # -- addresses ---------------------------------------------------------

    def connect_args(self, user="u", password="p", database="app"):
        """Keyword arguments for PyMySQL's or mysql-connector's connect()."""
        args = {"host": self.host, "port": self.port, "user": user, "password": password}
        if database is not None:
            args["database"] = database
        return args

    def sqlalchemy_url(self, db="app", user="u", password="p", driver="pymysql"):
        """A SQLAlchemy URL, e.g. ``mysql+pymysql://u:p@127.0.0.1:PORT/app``."""
        host = "[%s]" % self.host if ":" in self.host else self.host
        return "mysql+%s://%s:%s@%s:%d/%s" % (driver, user, password, host, self.port, db or "")

    @property
    def url(self):
        return self.sqlalchemy_url()

    def connect(self, user="u", password="p", database="app", **kwargs):
        """A PyMySQL connection to the server (PyMySQL must be installed).

        connect_timeout defaults to 10 s and read_timeout to 60 s: liveness
        bounds, so that a server that never answers fails the test instead
        of hanging it (pass read_timeout=None to wait for ever)."""
        import pymysql

        kwargs.setdefault("connect_timeout", 10)
        kwargs.setdefault("read_timeout", 60)
        return pymysql.connect(**self.connect_args(user, password, database), **kwargs)

    def admin_connect(self, **kwargs):
        """A PyMySQL connection to the admin port (start with admin=True)."""
        import pymysql

        if self.admin_port is None:
            raise UnderstudyError("no admin port: start the server with admin=True")
        kwargs.setdefault("connect_timeout", 10)
        kwargs.setdefault("read_timeout", 60)
        return pymysql.connect(
            host=self.host, port=self.admin_port, user=self.admin_user, password=self.admin_password, **kwargs
        )

    def admin(self, statement):
        """Run one admin statement on a new admin connection; its rows as
        dicts (an empty list for a statement without a result)."""
        import pymysql.cursors

        conn = self.admin_connect(cursorclass=pymysql.cursors.DictCursor)
        try:
            with conn.cursor() as cur:
                cur.execute(statement)
                return list(cur.fetchall())
        finally:
            conn.close()

    # -- signals -----------------------------------------------------------

    def reload(self, timeout=10.0):
        """Send SIGHUP and wait for the server's verdict: True when the rules
        were reloaded, False when a bad file kept the old set (its message is
        in ``output``). Needs RUST_LOG at info or more (the default here)."""
        with self._cond:
            seen = len(self._reloads)
        self.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for ok, why in self._reloads[seen:]:
                    if why == "SIGHUP":
                        return ok
                left = deadline - time.monotonic()
                if left <= 0 or self.process.poll() is not None:
                    raise UnderstudyError(
                        "no reload line after SIGHUP within %.0f s\n%s" % (timeout, "\n".join(self._lines)),
                        returncode=self.process.poll(),
                        output="\n".join(self._lines),
                    )
                self._cond.wait(min(left, 0.1))

    def _terminate(self, timeout=STOP_TIMEOUT):
        """SIGTERM, wait, then SIGKILL; True when it had to kill."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
                return True
        return False

    def stop(self, timeout=STOP_TIMEOUT):
        """Stop the server (SIGTERM; SIGKILL after `timeout` seconds) and
        return its exit code. Raises UnderstudyError when it had to be killed
        or exited non-zero (a crash during the test shows up here). Calling
        it again does nothing."""
        if self._stopped:
            return self.process.returncode
        self._stopped = True
        killed = self._terminate(timeout)
        for t in self._threads:
            t.join(2)
        for stream in (self.process.stdout, self.process.stderr):
            try:
                stream.close()
            except Exception:
                pass
        rc = self.process.returncode
        if killed:
            raise UnderstudyError(
                "understudy did not stop within %.0f s of SIGTERM and was killed\n%s" % (timeout, self.output),
                returncode=rc,
                output=self.output,
            )
        if rc != 0:
            raise UnderstudyError(
                "understudy exited with code %s\n%s" % (rc, self.output), returncode=rc, output=self.output
            )
        return rc

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def __repr__(self):
        state = "running" if self.alive else "exited %s" % self.returncode
        return "<Understudy %s:%s %s>" % (self.host, self.port, state)
