"""understudy-pytest: run understudy, the programmable stand-in MySQL server,
from Python tests, and read what it was sent from its journal.

Installed (``pip install ./python``), it is a pytest plugin: the fixture
``understudy`` is there without an import::

    def test_user_names(understudy):
        server = understudy(rules=["examples/rules/01-results.json"])
        conn = server.connect()                   # PyMySQL, u:p@host:port/app
        ...
        assert server.journal.commands(like="SELECT name FROM users%")

Outside pytest, ``Understudy.start(...)`` does the same (see its docstring).
"""

from .server import Journal, Understudy, UnderstudyError, find_binary

__all__ = ["Understudy", "Journal", "UnderstudyError", "find_binary"]
__version__ = "0.1.0"
