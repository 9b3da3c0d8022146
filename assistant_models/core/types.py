"""Column helpers that pin PostgreSQL types.

Each helper returns keyword arguments for :func:`sqlmodel.Field`, never a shared
``Column`` object (a ``Column`` can belong to one table only).
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

__all__ = ["JSONB", "UTCDateTime", "json_dumps", "str_enum", "utcnow"]


def utcnow() -> datetime:
    """Return the current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


#: Timezone-aware timestamp column type (``timestamptz``).
UTCDateTime = sa.DateTime(timezone=True)

#: JSONB column type, with JSON for other dialects' sake.
JSONB = sa.JSON().with_variant(pg.JSONB(), "postgresql")


def str_enum(enum_cls: type[enum.Enum], length: int = 32) -> sa.Enum:
    """Return a VARCHAR + CHECK enum type whose values come back as members.

    ``native_enum=False`` keeps migrations simple (no ``CREATE TYPE``) and
    ``values_callable`` stores the member values, not their names.
    """
    return sa.Enum(
        enum_cls,
        native_enum=False,
        create_constraint=True,
        length=length,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
        name=enum_cls.__name__.lower(),
    )


def json_dumps(value: Any) -> str:
    """Serialize a JSON column's value as pydantic's JSON mode does (datetimes, UUIDs, enums...)."""
    import json

    from pydantic_core import to_jsonable_python

    return json.dumps(to_jsonable_python(value), separators=(",", ":"))
