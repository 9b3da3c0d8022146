"""A database of its own on the test server, for code that commits."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine

from assistant_models import Database


@contextmanager
def scratch_database(database: Database, prefix: str = "am_scratch") -> Iterator[str]:
    """Yield the URL of a new, empty database on ``database``'s server; drop it afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    server = create_engine(
        database.engine.url.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT"
    )
    with server.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield database.engine.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        server.dispose()
