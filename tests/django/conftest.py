"""Fixtures of the Django ports: port tables created inside each test's rolled-back transaction."""

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from port_base import port_metadata
from sqlalchemy.orm import Session

Saver = Callable[..., Any]


def _app_tables(module: Any) -> list[Any] | None:
    """Return the tables of the test module's app (its ``port_app`` base), or None for all."""
    base = getattr(module, "port_app", None)
    if base is None:
        return None
    return [mapper.local_table for mapper in base._sa_registry.mappers]


@pytest.fixture
def save(db_session: Session, request: pytest.FixtureRequest) -> Iterator[Saver]:
    """Create the port tables (DDL is transactional in PostgreSQL) and return a row writer.

    ``save(*objs)`` adds and flushes through the session directly, so loading a
    Django test's ``setUpTestData`` does not depend on the manager methods under test;
    it returns its single argument, or the tuple of them. Only the tables of the test
    module's ``port_app`` are created, which keeps the DDL per test small.
    """
    port_metadata.create_all(db_session.connection(), tables=_app_tables(request.module), checkfirst=False)

    def write(*objs: Any) -> Any:
        db_session.add_all(objs)
        db_session.flush()
        return objs[0] if len(objs) == 1 else objs

    yield write
