"""Pytest plugin: a migrated test database per run, and a rolled-back session per test.

Enable it in a ``conftest.py`` with ``pytest_plugins = ["assistant_models.testing.plugin"]``.

Fixtures:
    database: One :class:`~assistant_models.Database` for the whole run, migrated to
        head once. It uses ``TEST_DATABASE_URL`` when set. Otherwise it creates a
        database of the run's own on the embedded PostgreSQL
        (``assistant_models_test_<pid>``), drops it when the run ends, and drops any
        left behind by runs that died; parallel runs never share one.
    db_session: A session bound to a connection whose transaction is rolled back
        after the test, and set as the current unit of work, so managers work
        without ``db.session()``. ``db.session()`` inside a test opens a savepoint,
        for every database handle: an application's own ``Database()`` (whatever its
        URL) works in the test database and the test's transaction too, and so do
        the FastAPI integration's requests.
    arun: Run a coroutine on the test's own event loop (``arun(main())``), so sync
        tests drive async code without an asyncio plugin; the loop closes after
        the test, and the async pool is emptied on it first.
    pgvector: Skips the test, saying why, unless the test database has pgvector (the
        ``vector`` extension, which ``ConversationMemory`` and vector fields need).
    adb_session: The async ``db_session`` (needs the ``async`` extra): an
        ``AsyncSession`` on an asyncpg connection whose transaction is rolled back
        after the test, current in the coroutines ``arun`` runs, so
        ``await Task.objects.acount()`` works without ``db.asession()``, which
        opens a savepoint inside it.

The plugin lowers the bcrypt cost to 4 rounds unless ``ASSISTANT_MODELS_BCRYPT_ROUNDS``
is set, since hashing at production cost would dominate test time.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Session

from assistant_models._migrations import installed_extensions
from assistant_models.aio import AsyncBinding, bind_async_session, unbind_async_session
from assistant_models.core.context import HOSTS_EVERY_DATABASE, bind_session, unbind_session
from assistant_models.database import Database

__all__ = ["AsyncRunner", "adb_session", "arun", "database", "db_session", "pgvector"]

T = TypeVar("T")

#: What the ``arun`` fixture is: it runs a coroutine to its end and returns its result.
AsyncRunner = Callable[[Coroutine[Any, Any, T]], T]

TEST_DATABASE_PREFIX = "assistant_models_test_"


def pytest_configure(config: pytest.Config) -> None:
    """Make password hashing cheap for the run unless the user chose a cost."""
    os.environ.setdefault("ASSISTANT_MODELS_BCRYPT_ROUNDS", "4")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _embedded_test_database() -> tuple[Database, Callable[[], None]]:
    """Create this run's database on the embedded server; return it and its dropper."""
    server = Database()
    name = f"{TEST_DATABASE_PREFIX}{os.getpid()}"
    admin = server.engine.execution_options(isolation_level="AUTOCOMMIT")  # CREATE DATABASE needs it

    def drop(victim: str) -> None:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{victim}" WITH (FORCE)')

    with admin.connect() as conn:
        found = (
            conn.execute(
                text("SELECT datname FROM pg_database WHERE datname LIKE :p"),
                {"p": TEST_DATABASE_PREFIX + "%"},
            )
            .scalars()
            .all()
        )
    for stale in found:
        suffix = stale.removeprefix(TEST_DATABASE_PREFIX)
        if stale == name or (suffix.isdigit() and not _pid_alive(int(suffix))):
            drop(stale)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = server.engine.url.set(database=name).render_as_string(hide_password=False)

    def finish() -> None:
        drop(name)
        server.dispose()

    return Database(url), finish


@pytest.fixture(scope="session")
def database() -> Iterator[Database]:
    """Return the run's migrated test database."""
    url = os.environ.get("TEST_DATABASE_URL")
    db, finish = (Database(url), None) if url else _embedded_test_database()
    try:
        db.migrate()
        yield db
    finally:
        db.dispose()
        if finish is not None:
            finish()


@pytest.fixture
def db_session(database: Database) -> Iterator[Session]:
    """Yield the test's current session; everything it wrote is rolled back afterwards."""
    connection = database.engine.connect()
    transaction = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    session.info[HOSTS_EVERY_DATABASE] = True  # the application's own Database() works in here too
    token = bind_session(session)
    try:
        yield session
    finally:
        unbind_session(token)
        session.close()
        transaction.rollback()
        connection.close()


@pytest.fixture(scope="session")
def _vector_installed(database: Database) -> bool:
    with database.engine.connect() as connection:
        return "vector" in installed_extensions(connection)


@pytest.fixture
def pgvector(_vector_installed: bool) -> None:
    """Skip the test unless the test database has the ``vector`` extension (pgvector)."""
    if not _vector_installed:
        pytest.skip("the test database has no pgvector (extension 'vector'): its server lacks it")


@pytest.fixture
def arun(database: Database) -> Iterator[AsyncRunner[Any]]:
    """Yield a function that runs a coroutine on this test's event loop and returns its result.

    Every call shares one loop and one context, so a session bound by one call is
    current in the next; the async pool is emptied before the loop closes, since
    asyncpg connections cannot outlive their loop.
    """
    with asyncio.Runner() as runner:
        try:
            yield runner.run
        finally:
            runner.run(database.adispose())


@pytest.fixture
def adb_session(database: Database, arun: AsyncRunner[Any]) -> Iterator[AsyncSession]:
    """Yield the test's current async session; everything it wrote is rolled back afterwards."""

    async def begin() -> tuple[AsyncConnection, AsyncSession, AsyncBinding]:
        connection = await database.async_engine.connect()
        await connection.begin()
        # the factory behind db.asession(), so the session is made as the application's are
        session = database.async_sessionmaker(bind=connection, join_transaction_mode="create_savepoint")
        session.sync_session.info[HOSTS_EVERY_DATABASE] = True
        return connection, session, bind_async_session(session)

    async def end() -> None:
        unbind_async_session(binding)
        await session.close()
        await connection.rollback()
        await connection.close()

    connection, session, binding = arun(begin())
    try:
        yield session
    finally:
        arun(end())
