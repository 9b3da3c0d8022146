"""The built-in transforms and type-specific lookups: dates and times, JSONB documents.

Registered on their column types with :func:`~assistant_models.core.lookups.register_lookup`,
exactly as an application registers its own.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.types import TypeEngine

from assistant_models.core.lookups import (
    SQL,
    Coercer,
    Exact,
    IsNull,
    Lookup,
    Transform,
    find_lookup,
    register_lookup,
    register_transform_factory,
)

__all__ = ["DateTransform", "Extract", "JSONKey", "KeyTransform"]


class Extract(Transform):
    """A part of a date or time as an integer (``created_at__year=2026``)."""

    part: ClassVar[str] = ""
    output_type = sa.Integer()

    def as_sql(self) -> SQL:
        """Return ``EXTRACT(part FROM lhs)`` as an integer."""
        return sa.cast(sa.extract(self.part, self.lhs), sa.Integer)


class WeekDay(Extract):
    """The day of the week, Sunday = 1 ... Saturday = 7 (Django's ``week_day``)."""

    lookup_name = "week_day"

    def as_sql(self) -> SQL:
        """Return ``EXTRACT(DOW) + 1``."""
        return sa.cast(sa.extract("dow", self.lhs), sa.Integer) + 1


def _extract(name: str, part: str, *types: type[TypeEngine[Any]]) -> type[Extract]:
    cls = type(name.title(), (Extract,), {"lookup_name": name, "part": part, "__doc__": f"``__{name}``."})
    for type_ in types:
        register_lookup(type_, cls)
    return cls


DATES = (sa.Date, sa.DateTime)
for _name, _part in (
    ("year", "year"),
    ("iso_year", "isoyear"),
    ("month", "month"),
    ("day", "day"),
    ("week", "week"),
    ("iso_week_day", "isodow"),
    ("quarter", "quarter"),
):
    _extract(_name, _part, *DATES)
for _name, _part in (("hour", "hour"), ("minute", "minute"), ("second", "second")):
    _extract(_name, _part, sa.DateTime, sa.Time)
register_lookup(sa.Date, WeekDay)
register_lookup(sa.DateTime, WeekDay)


class DateTransform(Transform):
    """The date of a timestamp (connections work in UTC, so it is the UTC date)."""

    lookup_name = "date"
    output_type = sa.Date()

    def as_sql(self) -> SQL:
        """Return ``CAST(lhs AS DATE)``."""
        return sa.cast(self.lhs, sa.Date)


class TimeTransform(Transform):
    """The time of day of a timestamp."""

    lookup_name = "time"
    output_type = sa.Time()

    def as_sql(self) -> SQL:
        """Return ``CAST(lhs AS TIME)``."""
        return sa.cast(self.lhs, sa.Time)


register_lookup(sa.DateTime, DateTransform)
register_lookup(sa.DateTime, TimeTransform)


# -- JSONB -------------------------------------------------------------------------------------


class JSONKey(pg.JSONB):
    """The type of a value inside a JSONB document (``meta__plan``): lookups on it compare JSON."""

    cache_ok = True


class KeyTransform(Transform):
    """One key (or array index, for digits) of a JSONB document: ``meta__plan`` is ``meta -> 'plan'``."""

    key: ClassVar[str] = ""
    output_type = JSONKey()

    def as_sql(self) -> SQL:
        """Return ``lhs -> key``."""
        key: Any = int(self.key) if self.key.isdigit() else self.key
        return self.lhs.op("->", return_type=JSONKey())(sa.literal(key))

    def as_text(self) -> SQL:
        """Return ``lhs ->> key``: the value as text, for text lookups."""
        key: Any = int(self.key) if self.key.isdigit() else self.key
        return self.lhs.op("->>", return_type=sa.Text())(sa.literal(key))


_KEYS: dict[str, type[KeyTransform]] = {}


def key_transform(name: str) -> type[Transform] | None:
    """Return the transform reading key ``name`` of a JSONB document."""
    cls = _KEYS.get(name)
    if cls is None:
        cls = _KEYS[name] = type("KeyTransform", (KeyTransform,), {"lookup_name": name, "key": name})
    return cls


register_transform_factory(sa.JSON, key_transform)


class JSONLookup(Lookup):
    """A lookup whose value is a JSON document, bound as JSONB."""

    @classmethod
    def placeholder(cls, type_: TypeEngine[Any], name: str, shape: Hashable) -> Any:
        """Return a JSONB parameter."""
        return sa.bindparam(name, type_=pg.JSONB())

    @classmethod
    def prepare(cls, value: Any, coerce: Coercer) -> Any:
        """Return the document as given."""
        return value


@register_lookup(sa.JSON)
class JSONExact(JSONLookup):
    """Equality of documents (``meta={"a": 1}``, ``meta__plan="pro"``); ``None`` means SQL NULL."""

    lookup_name = "exact"
    accepts_none = True

    def as_sql(self) -> SQL:
        """Return ``lhs = rhs::jsonb``."""
        return Exact(self.lhs, self.rhs).as_sql()


@register_lookup(sa.JSON)
class JSONContains(JSONLookup):
    """The document contains the given one (``@>``)."""

    lookup_name = "contains"

    def as_sql(self) -> SQL:
        """Return ``lhs @> rhs``."""
        return self.lhs.op("@>", is_comparison=True)(self.rhs)


@register_lookup(sa.JSON)
class JSONContainedBy(JSONLookup):
    """The document is contained in the given one (``<@``)."""

    lookup_name = "contained_by"

    def as_sql(self) -> SQL:
        """Return ``lhs <@ rhs``."""
        return self.lhs.op("<@", is_comparison=True)(self.rhs)


@register_lookup(sa.JSON)
class HasKey(Lookup):
    """The document has the top-level key (``?``)."""

    lookup_name = "has_key"
    coerce_value = False

    @classmethod
    def prepare(cls, value: Any, coerce: Coercer) -> Any:
        """Return the key's text."""
        if not isinstance(value, str):
            raise TypeError("needs a key name")
        return value

    @classmethod
    def placeholder(cls, type_: TypeEngine[Any], name: str, shape: Hashable) -> Any:
        """Return a text parameter."""
        return sa.bindparam(name, type_=sa.Text())

    def as_sql(self) -> SQL:
        """Return ``lhs ? key``."""
        return self.lhs.op("?", is_comparison=True)(self.rhs)


@register_lookup(sa.JSON)
class HasKeys(HasKey):
    """The document has every key of the list (``?&``)."""

    lookup_name = "has_keys"
    operator: ClassVar[str] = "?&"

    @classmethod
    def prepare(cls, value: Any, coerce: Coercer) -> Any:
        """Return the keys as a list of text."""
        if isinstance(value, str) or not all(isinstance(k, str) for k in value):
            raise TypeError("needs a list of key names")
        return list(value)

    @classmethod
    def placeholder(cls, type_: TypeEngine[Any], name: str, shape: Hashable) -> Any:
        """Return a text array parameter."""
        return sa.bindparam(name, type_=pg.ARRAY(sa.Text()))

    def as_sql(self) -> SQL:
        """Return ``lhs ?& keys``."""
        return self.lhs.op(self.operator, is_comparison=True)(self.rhs)


@register_lookup(sa.JSON)
class HasAnyKeys(HasKeys):
    """The document has at least one key of the list (``?|``)."""

    lookup_name = "has_any_keys"
    operator = "?|"


@register_lookup(JSONKey)
class KeyIsNull(IsNull):
    """``meta__plan__isnull=True``: the key is missing (as in Django), not a JSON ``null``."""

    def as_sql(self) -> SQL:
        """Return ``NOT (parent ? key) OR parent IS NULL`` (Django's), or ``parent ? key``.

        A document that is SQL NULL has no key either: without ``IS NULL`` the ``NOT``
        of a NULL test would drop its row.
        """
        parent, key = _key_parts(self.lhs)
        has = parent.op("?", is_comparison=True)(sa.cast(key, sa.Text))
        if isinstance(self.rhs, sa.sql.elements.True_):
            return sa.or_(sa.not_(has), parent.is_(None))
        return has


def _key_parts(lhs: SQL) -> tuple[SQL, SQL]:
    """Return the document and the key of a ``doc -> key`` expression."""
    return lhs.left, lhs.right


class KeyText(Lookup):
    """Base of text lookups on a JSON key: they compare the key's text (``->>``)."""

    def __init__(self, lhs: SQL, rhs: Any) -> None:
        parent, key = _key_parts(lhs)
        super().__init__(parent.op("->>", return_type=sa.Text())(key), rhs)


def _key_text_lookups() -> None:
    for name in (
        "iexact",
        "icontains",
        "startswith",
        "istartswith",
        "endswith",
        "iendswith",
        "regex",
        "iregex",
    ):
        base = find_lookup(sa.String(), name)
        if base is None:  # pragma: no cover - registered in lookups.py
            raise LookupError(name)
        register_lookup(JSONKey, type(base.__name__, (KeyText, base), {"lookup_name": name}))


_key_text_lookups()
