"""The suite uses the package's own pytest plugin, exactly as an application would."""

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine

pytest_plugins = ["assistant_models.testing.plugin"]


@pytest.fixture
def scratch_url(database) -> Iterator[str]:
    """Yield the URL of a new, empty database on the test server; drop it afterwards.

    For code that commits (examples, the README's tour), so the shared test
    database only ever sees rolled-back work.
    """
    name = f"am_scratch_{uuid.uuid4().hex[:10]}"
    server_url = database.engine.url.render_as_string(hide_password=False)
    server = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield database.engine.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        server.dispose()
