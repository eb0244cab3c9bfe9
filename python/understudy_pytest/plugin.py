"""The pytest side: the ``understudy`` fixture and the ``--understudy-bin``
option (registered through the ``pytest11`` entry point, so a test needs no
import).

``understudy`` (function scope) is a factory: each call starts one server,
with the arguments of ``Understudy.start`` (rules, args, journal, admin, env,
cwd, binary), and returns it running. Its journal goes to the test's
``tmp_path`` (kept by pytest for a look after a failure). Every server the
test started is stopped at teardown; one that crashed or exited non-zero
fails the test there.

The binary: ``binary=`` in the call, else ``--understudy-bin``, else
``UNDERSTUDY_BIN``, else ``understudy`` on PATH, else a cargo build of the
repository (see ``find_binary``). The fixture ``understudy_bin`` gives that
path.
"""

import pytest

from .server import Understudy, UnderstudyError, find_binary


def pytest_addoption(parser):
    group = parser.getgroup("understudy")
    group.addoption(
        "--understudy-bin",
        action="store",
        default=None,
        metavar="PATH",
        help="understudy executable for the understudy fixture (default: $UNDERSTUDY_BIN, PATH, a cargo build)",
    )


class UnderstudyFactory:
    """The ``understudy`` fixture: call it to start a server; ``servers``
    lists those started, in order."""

    def __init__(self, binary, tmp_path):
        self._binary = binary
        self._tmp_path = tmp_path
        self.servers = []

    def __call__(self, rules=(), args=(), journal=True, admin=False, binary=None, **kwargs):
        if journal is True:
            journal = self._tmp_path / ("understudy-journal-%d.jsonl" % (len(self.servers) + 1))
        server = Understudy.start(
            binary=binary or find_binary(self._binary), rules=rules, args=args, journal=journal, admin=admin, **kwargs
        )
        self.servers.append(server)
        return server

    def stop_all(self):
        errors = []
        for server in reversed(self.servers):
            try:
                server.stop()
            except UnderstudyError as e:
                errors.append(e)
        if errors:
            raise errors[0] if len(errors) == 1 else UnderstudyError("; ".join(str(e) for e in errors))


@pytest.fixture(scope="session")
def understudy_bin(request):
    """The understudy executable the fixture runs (see find_binary)."""
    return find_binary(request.config.getoption("understudy_bin"))


@pytest.fixture
def understudy(request, tmp_path):
    """Factory fixture: ``server = understudy(rules=[...], args=[...],
    admin=False)`` starts a server and returns it (an Understudy); all of
    them are stopped when the test ends."""
    factory = UnderstudyFactory(request.config.getoption("understudy_bin"), tmp_path)
    yield factory
    factory.stop_all()
