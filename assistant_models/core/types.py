"""Column helpers that pin PostgreSQL types.

Each helper returns keyword arguments for :func:`sqlmodel.Field`, never a shared
``Column`` object (a ``Column`` can belong to one table only).
"""

from __future__ import annotations

import enum
import json
import re
from datetime import UTC, datetime
from typing import Any, NoReturn

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.orm import Session

from assistant_models.exceptions import DatabaseError

__all__ = [
    "JSONB",
    "MAX_JSON_DEPTH",
    "UTCDateTime",
    "UnreadableDocumentError",
    "UnreadableJSON",
    "json_depth_exceeds",
    "json_dumps",
    "json_loads",
    "server_now",
    "str_enum",
    "utcnow",
]

#: How deeply documents (JSONB values, lookup sequences) may nest. Writes refuse
#: deeper ones with a ValidationError; a deeper one written by another client reads
#: back as :class:`UnreadableJSON`. Python's own recursion limit (about 1,000) is
#: what makes deep documents dangerous: parsing, validating, copying or printing
#: them raises ``RecursionError``.
MAX_JSON_DEPTH = 64


def utcnow() -> datetime:
    """Return the current time by this machine's clock, timezone-aware, in UTC."""
    return datetime.now(UTC)


def server_now(session: Session) -> datetime:
    """Return the database server's current time (``clock_timestamp()``), in UTC.

    Expiry times must come from the clock that checks them: queries compare with
    the server's ``now()``, so a deadline computed from a client clock that runs
    behind or ahead would be off by the skew. ``clock_timestamp()`` rather than
    ``now()`` (the transaction's start), so two moments of one transaction differ.
    """
    with session.no_autoflush:  # reading the clock is no reason to flush pending changes
        now: datetime = session.execute(sa.select(sa.func.clock_timestamp())).scalar_one()
    return now


#: Timezone-aware timestamp column type (``timestamptz``).
UTCDateTime = sa.DateTime(timezone=True)

#: JSONB column type, with JSON for other dialects' sake. ``None`` is SQL NULL, as in Django
#: and as COPY writes it (``isnull`` finds it); JSON ``null`` is ``sa.JSON.NULL``.
JSONB = sa.JSON(none_as_null=True).with_variant(pg.JSONB(none_as_null=True), "postgresql")


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
    from pydantic_core import to_jsonable_python

    return json.dumps(to_jsonable_python(value), separators=(",", ":"))


class UnreadableDocumentError(DatabaseError):
    """A stored JSON document could not be read: it nests deeper than :data:`MAX_JSON_DEPTH`."""


class UnreadableJSON:
    """Stands in for a stored JSON document too deeply nested to load safely.

    Another client may store any JSONB value; loading one nested a thousand levels
    deep would raise ``RecursionError`` in the driver and take the whole row (or a
    task queue) down with it. Such a document is read as this placeholder instead:
    the row loads, its other fields work, and saving it leaves the document as it
    is, since only changed fields are written. Reading the document's content raises
    :class:`UnreadableDocumentError`; replace the field with a new value to repair
    the row.

    Attributes:
        length: Length of the stored document's text, in characters.
    """

    __slots__ = ("length",)

    def __init__(self, length: int) -> None:
        self.length = length

    def __repr__(self) -> str:
        return f"UnreadableJSON(length={self.length}, deeper than {MAX_JSON_DEPTH} levels)"

    def _refuse(self, *args: object, **kwargs: object) -> NoReturn:
        raise UnreadableDocumentError(
            f"the stored JSON document ({self.length} characters) nests deeper than "
            f"{MAX_JSON_DEPTH} levels and was not loaded; assign a new value to replace it"
        )

    __getitem__ = __iter__ = __len__ = __contains__ = _refuse
    get = keys = values = items = _refuse


#: A JSON string literal (escapes included), matched without backtracking.
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
#: Characters of JSON besides strings and brackets: numbers, literals, separators, blanks.
_NOT_BRACKETS = str.maketrans("", "", " \t\n\r,:0123456789.+-eEtruefalsn")
_INNERMOST_PAIR = re.compile(r"\[\]|\{\}")


def json_depth_exceeds(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Return whether the JSON document ``text`` nests containers deeper than ``limit``.

    Runs at C speed and without recursion: strings and scalars are dropped, then
    each pass removes the innermost empty pairs of brackets, one level a pass.
    Documents with no more than ``limit`` brackets are answered at once.
    """
    if text.count("[") + text.count("{") <= limit:
        return False
    brackets = _JSON_STRING.sub("", text).translate(_NOT_BRACKETS)
    for _ in range(limit):
        brackets = _INNERMOST_PAIR.sub("", brackets)
        if not brackets:
            return False
    return True


def json_loads(text: str | bytes) -> Any:
    """Load a stored JSON document, or an :class:`UnreadableJSON` if it nests too deep.

    The engine's ``json_deserializer``; one function for every driver, so a row
    another client wrote never makes a read raise ``RecursionError``.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    if json_depth_exceeds(text):
        return UnreadableJSON(len(text))
    try:
        return json.loads(text)
    except RecursionError:  # within the limit, but read on an already deep call stack
        return UnreadableJSON(len(text))
