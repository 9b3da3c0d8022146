"""Pooled connections are pinged only after sitting idle, and a stale one is replaced."""

import time

import pytest
from sqlalchemy import event, text

from assistant_models import Database


@pytest.fixture
def pinged(database):
    url = database.engine.url.render_as_string(hide_password=False)
    db = Database(url, ping_after=1, pool_size=1, max_overflow=0)
    sent: list[str] = []
    event.listen(db.engine, "before_cursor_execute", lambda *args: sent.append(args[2]))
    try:
        yield db, sent
    finally:
        db.dispose()


def _pid(db: Database) -> int:
    with db.session() as session:
        return int(session.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_a_connection_back_from_a_moment_ago_is_not_pinged(pinged):
    db, sent = pinged
    _pid(db)
    sent.clear()
    _pid(db)
    assert "SELECT 1" not in sent  # one round trip saved per unit of work


def test_a_connection_killed_while_idle_is_replaced_transparently(pinged, database):
    db, _sent = pinged
    first = _pid(db)
    with database.engine.connect() as admin:
        admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        admin.commit()
    time.sleep(1.2)
    assert _pid(db) != first  # the stale connection was found by the ping and replaced, no error
