"""Read every timestamp PostgreSQL can store, including those Python cannot hold.

PostgreSQL keeps timestamps from 4713 BC to 294276 AD; Python's ``datetime`` stops
at year 9999, and psycopg2 raises a raw ``ValueError`` on a row holding a later
(or a BC) value, which another client may well have written. psycopg2 already reads
``infinity`` as ``datetime.max`` and ``-infinity`` as ``datetime.min``; the casters
installed by :func:`install` extend that to every out-of-range value, so such a
row reads (clamped) instead of failing its query, or a task queue.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg2
import psycopg2.extensions as ext

__all__ = ["install", "parse_timestamp", "parse_timestamptz"]

_LATEST = datetime.max
_EARLIEST = datetime.min


def _clamped(text: str, aware: bool) -> datetime:
    """Return the ``datetime`` bound nearest an out-of-range timestamp's text."""
    bound = _EARLIEST if text.rstrip().endswith("BC") else _LATEST
    return bound.replace(tzinfo=UTC) if aware else bound


def parse_timestamptz(text: str | None, cursor: Any) -> datetime | None:
    """Read a ``timestamptz`` as psycopg2 does, clamping years Python cannot hold."""
    if text is None:
        return None
    try:
        value: datetime | None = ext.PYDATETIMETZ(text, cursor)
    except (ValueError, psycopg2.DataError):  # a year past 9999, or BC
        return _clamped(text, aware=True)
    return value


def parse_timestamp(text: str | None, cursor: Any) -> datetime | None:
    """Read a ``timestamp`` as psycopg2 does, clamping years Python cannot hold."""
    if text is None:
        return None
    try:
        value: datetime | None = ext.PYDATETIME(text, cursor)
    except (ValueError, psycopg2.DataError):
        return _clamped(text, aware=False)
    return value


_TIMESTAMPTZ = ext.new_type(ext.PYDATETIMETZ.values, "AM_TIMESTAMPTZ", parse_timestamptz)
_TIMESTAMP = ext.new_type(ext.PYDATETIME.values, "AM_TIMESTAMP", parse_timestamp)
_CASTERS = (
    _TIMESTAMPTZ,
    _TIMESTAMP,
    ext.new_array_type(ext.PYDATETIMETZARRAY.values, "AM_TIMESTAMPTZ_ARRAY", _TIMESTAMPTZ),
    ext.new_array_type(ext.PYDATETIMEARRAY.values, "AM_TIMESTAMP_ARRAY", _TIMESTAMP),
)


def install(dbapi_connection: Any, connection_record: Any = None) -> None:
    """Register the clamping casters on one psycopg2 connection (an engine ``connect`` listener)."""
    for caster in _CASTERS:
        ext.register_type(caster, dbapi_connection)
