"""The suite uses the package's own pytest plugin, exactly as an application would."""

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import pytest
from scratch import scratch_database
from sqlalchemy import event

pytest_plugins = ["assistant_models.testing.plugin"]


@pytest.fixture
def scratch_url(database) -> Iterator[str]:
    """Yield the URL of a new, empty database on the test server; drop it afterwards.

    For code that commits (examples, the README's tour), so the shared test
    database only ever sees rolled-back work.
    """
    with scratch_database(database) as url:
        yield url


@pytest.fixture
def record_sql(db_session) -> Callable[[], AbstractContextManager[list[str]]]:
    """Return a context manager that collects the SQL the test's connection sends inside it."""

    @contextmanager
    def record() -> Iterator[list[str]]:
        sent: list[str] = []
        conn = db_session.connection()

        def collect(_conn, _cursor, statement, *_rest) -> None:
            sent.append(statement)

        event.listen(conn, "before_cursor_execute", collect)
        try:
            yield sent
        finally:
            event.remove(conn, "before_cursor_execute", collect)

    return record


@pytest.fixture
def statements(record_sql) -> Iterator[list[str]]:
    """Collect every SQL statement the test sends, from this point to its end."""
    with record_sql() as sent:
        yield sent


@pytest.fixture
def lab(db_session):
    """Create the lab models' tables inside the test's transaction."""
    from lab_models import create_lab_tables

    create_lab_tables(db_session.connection())
    return db_session


@pytest.fixture
def vector_lab(lab):
    """Create the ``vector`` extension and the vector lab tables in the test's transaction.

    Skips the test when the server has no pgvector (PostgreSQL 15 in CI has none).
    """
    from lab_models import create_vector_lab_tables

    conn = lab.connection()
    available = conn.exec_driver_sql("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'").first()
    if available is None:
        pytest.skip("the test server has no pgvector extension (vector tests need it)")
    conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS vector")
    create_vector_lab_tables(conn)
    return lab


class Api:
    """Call manager and QuerySet methods the synchronous way or through their awaited twins.

    ``api(Task.objects, "claim_next", "w1")`` is ``Task.objects.claim_next("w1")`` under
    the sync API and ``await Task.objects.aclaim_next("w1")`` under the async one, so one
    test body checks both and the twin cannot drift.
    """

    def __init__(self, name: str, run=None) -> None:
        self.name = name
        self.run = run

    @property
    def is_async(self) -> bool:
        return self.run is not None

    def __call__(self, target, method: str, *args, **kwargs):
        if self.run is None:
            return getattr(target, method)(*args, **kwargs)
        return self.run(getattr(target, f"a{method}")(*args, **kwargs))

    def rows(self, qs) -> list:
        """Return the rows of ``qs`` by iterating it (``for`` or ``async for``)."""
        if self.run is None:
            return list(qs)

        async def collect() -> list:
            return [row async for row in qs]

        return self.run(collect())

    def __repr__(self) -> str:
        return self.name


@pytest.fixture(params=["sync", "async"])
def api(request) -> Api:
    """Run the test once on ``db_session`` (psycopg2) and once on ``adb_session`` (asyncpg)."""
    if request.param == "sync":
        request.getfixturevalue("db_session")
        return Api("sync")
    request.getfixturevalue("adb_session")
    return Api("async", request.getfixturevalue("arun"))
