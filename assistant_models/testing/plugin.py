"""Pytest plugin: a migrated test database per run, and a rolled-back session per test.

Enable it in a ``conftest.py`` with ``pytest_plugins = ["assistant_models.testing.plugin"]``.

Fixtures:
    database: One :class:`~assistant_models.Database` for the whole run. It uses
        ``TEST_DATABASE_URL`` when set; otherwise the embedded PostgreSQL, in a
        database of its own (``assistant_models_test``) so the examples' data is
        untouched. The schema is migrated to head once.
    db_session: A session bound to a connection whose transaction is rolled back
        after the test, and set as the current unit of work, so managers work
        without ``db.session()``. ``db.session()`` inside a test opens a savepoint.

The plugin lowers the bcrypt cost to 4 rounds unless ``ASSISTANT_MODELS_BCRYPT_ROUNDS``
is set, since hashing at production cost would dominate test time.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from assistant_models.core.context import bind_session, unbind_session
from assistant_models.database import Database

__all__ = ["database", "db_session"]

TEST_DATABASE = "assistant_models_test"


def pytest_configure(config: pytest.Config) -> None:
    """Make password hashing cheap for the run unless the user chose a cost."""
    os.environ.setdefault("ASSISTANT_MODELS_BCRYPT_ROUNDS", "4")


def _embedded_test_database() -> Database:
    server = Database()
    try:
        with server.engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")  # CREATE DATABASE needs it
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": TEST_DATABASE})
            if exists.scalar() is None:
                conn.exec_driver_sql(f'CREATE DATABASE "{TEST_DATABASE}"')
        url = server.engine.url.set(database=TEST_DATABASE)
    finally:
        server.dispose()
    return Database(url.render_as_string(hide_password=False))


@pytest.fixture(scope="session")
def database() -> Iterator[Database]:
    """Return the run's migrated test database."""
    url = os.environ.get("TEST_DATABASE_URL")
    db = Database(url) if url else _embedded_test_database()
    db.migrate()
    try:
        yield db
    finally:
        db.dispose()


@pytest.fixture
def db_session(database: Database) -> Iterator[Session]:
    """Yield the test's current session; everything it wrote is rolled back afterwards."""
    connection = database.engine.connect()
    transaction = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    token = bind_session(session)
    try:
        yield session
    finally:
        unbind_session(token)
        session.close()
        transaction.rollback()
        connection.close()
