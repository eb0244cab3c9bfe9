"""The walkthrough: code that talks to MySQL through SQLAlchemy, tested
against understudy with a rule file instead of a database.

    pip install ./python SQLAlchemy PyMySQL
    UNDERSTUDY_BIN=target/release/understudy pytest python/examples/test_walkthrough.py
"""

from pathlib import Path

import pymysql
import pytest
import sqlalchemy as sa

RULES = Path(__file__).with_name("walkthrough.json")

# --- the code under test: a tiny repository over SQLAlchemy Core ----------

metadata = sa.MetaData()
users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(64), nullable=False),
)


class UserRepository:
    def __init__(self, engine):
        self.engine = engine

    def name(self, user_id):
        """The user's name, or None when there is no such user."""
        with self.engine.connect() as conn:
            return conn.execute(sa.select(users.c.name).where(users.c.id == user_id)).scalar_one_or_none()

    def names(self, ids):
        return {i: self.name(i) for i in ids}

    def rename(self, user_id, name, attempts=3):
        """Rename in a transaction, retrying a deadlock (MySQL error 1213)."""
        for attempt in range(1, attempts + 1):
            try:
                with self.engine.begin() as conn:
                    result = conn.execute(sa.update(users).where(users.c.id == user_id).values(name=name))
                    return result.rowcount == 1
            except sa.exc.OperationalError as e:
                if e.orig.args[0] != 1213 or attempt == attempts:
                    raise


# --- the tests ----------------------------------------------------------------


def test_names(understudy):
    server = understudy(rules=[RULES])
    engine = sa.create_engine(server.sqlalchemy_url())
    try:
        mark = server.journal.mark()
        assert UserRepository(engine).names([7, 8]) == {7: "ada", 8: None}
    finally:
        engine.dispose()

    # exactly these two statements reached the server, answered by these rules
    sent = [(c["sql"], c["rule"]) for c in server.journal.commands(like="SELECT users.name%", since=mark)]
    assert sent == [
        ("SELECT users.name \nFROM users \nWHERE users.id = 7", "name-of-7"),
        ("SELECT users.name \nFROM users \nWHERE users.id = 8", "name-of-nobody"),
    ]
    # and SQLAlchemy's own connect-time queries (SELECT DATABASE(), @@sql_mode, ...)
    # were all answered by understudy's built-in answers, none by --unknown
    assert not [c for c in server.journal.commands() if c["rule"] == "unknown" or c["answer"] == "error"]


def test_rename_retries_a_deadlock(understudy):
    server = understudy(rules=[RULES])
    engine = sa.create_engine(server.sqlalchemy_url())
    try:
        assert UserRepository(engine).rename(7, "grace") is True
    finally:
        engine.dispose()

    updates = server.journal.commands(like="UPDATE users%")
    assert [u["sql"] for u in updates] == ["UPDATE users SET name='grace' WHERE users.id = 7"] * 2
    assert [(u["rule"], u["answer"], u.get("error")) for u in updates] == [
        ("rename-deadlock", "error", 1213),
        ("rename", "ok", None),
    ]
    # each attempt in its own transaction: the failed one rolled back, the second committed
    statements = [c["sql"] for c in server.journal.commands() if c["command"] == "query"]
    second = statements.index(updates[1]["sql"], statements.index(updates[0]["sql"]) + 1)
    assert statements[second + 1] == "COMMIT"
    assert "ROLLBACK" in statements[statements.index(updates[0]["sql"]) + 1 : second]


def test_rename_gives_up(understudy):
    # one attempt meets the deadlock: the caller gets MySQL's error as PyMySQL raises it
    server = understudy(rules=[RULES])
    engine = sa.create_engine(server.sqlalchemy_url())
    try:
        with pytest.raises(sa.exc.OperationalError) as raised:
            UserRepository(engine).rename(7, "grace", attempts=1)
    finally:
        engine.dispose()
    assert isinstance(raised.value.orig, pymysql.err.OperationalError)
    assert raised.value.orig.args == (1213, "Deadlock found when trying to get lock; try restarting transaction")
    assert [c["rule"] for c in server.journal.commands(like="UPDATE users%")] == ["rename-deadlock"]
