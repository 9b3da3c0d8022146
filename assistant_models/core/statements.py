"""Statement caching: build each query shape once, bind new values on every call.

A filter on the model's own columns with plain values is described by a hashable
*token* (fields, lookups, and the few value facts that change the SQL, such as
``None``); its values travel as bound parameters. A QuerySet made only of such
refinements has a hashable *shape*, and its SELECT is built once and kept in a
bounded LRU cache, so repeated calls skip statement construction and SQLAlchemy
reuses the compiled SQL.
"""

from __future__ import annotations

import operator
import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ClauseElement

from assistant_models.core.base import lookup_value
from assistant_models.core.lookups import (
    SEP,
    TEXT_LOOKUPS,
    F,
    Resolver,
    like,
    like_pattern,
    nullable,
    text_column,
)
from assistant_models.exceptions import ValidationError

__all__ = ["LRU", "bound_filter"]

_COMPARE = {"gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le}


class LRU:
    """A small thread-safe least-recently-used mapping."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._data: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any:
        """Return the value for ``key`` (refreshing it), or ``None``."""
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: Hashable, value: Any) -> None:
        """Store ``value``, evicting the least recently used entry when full."""
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self._size:
                self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)


_CONDITIONS = LRU(2048)


def _marker(lookup: str, value: Any) -> Hashable | None:
    """Return the part of a value that shapes the SQL, or ``None`` if the value cannot be bound."""
    if isinstance(value, (F, ClauseElement)):
        return None
    if lookup == "isnull":
        return value if isinstance(value, bool) else None
    if value is None:
        return "null" if lookup in ("exact", "iexact") else None  # others: the slow path refuses None
    if lookup in ("in", "range"):
        return "seq" if isinstance(value, Iterable) and not isinstance(value, (str, bytes, Mapping)) else None
    return "v"


def filter_token(resolver: Resolver, kwargs: Mapping[str, Any], negate: bool) -> tuple[Any, ...] | None:
    """Return the hashable shape of ``filter(**kwargs)``, or ``None`` if it cannot be cached."""
    parts = []
    for path, value in sorted(kwargs.items()):
        field, lookup = resolver.split_lookup(path)
        marker = _marker(lookup, value)
        if marker is None or SEP in field:
            return None
        parts.append((field, lookup, marker))
    return ("exclude" if negate else "filter", *parts)


def _bound(col: Any, lookup: str, name: str, marker: Hashable) -> Any:
    """Return the condition of one lookup with its value as bound parameter ``name``."""
    if lookup == "isnull":
        return col.is_(None) if marker else col.is_not(None)
    if marker == "null":
        return col.is_(None)
    if lookup == "exact":
        return col == sa.bindparam(name, type_=col.type)
    if lookup == "iexact":
        return sa.func.lower(text_column(col)) == sa.func.lower(sa.bindparam(name, type_=sa.String()))
    if lookup in TEXT_LOOKUPS:
        return like(col, lookup, sa.bindparam(name, type_=sa.String()))
    if lookup == "in":
        return col.in_(sa.bindparam(name, expanding=True, type_=col.type))
    if lookup == "range":
        return col.between(
            sa.bindparam(f"{name}_lo", type_=col.type), sa.bindparam(f"{name}_hi", type_=col.type)
        )
    return _COMPARE[lookup](col, sa.bindparam(name, type_=col.type))


def _value(lookup: str, name: str, marker: Hashable, value: Any, path: str, model: str) -> dict[str, Any]:
    """Return the bound parameters one lookup needs for ``value``."""
    if marker in ("null", True, False) and lookup in ("isnull", "exact", "iexact"):
        return {}
    if lookup == "iexact":
        return {name: str(value)}
    if lookup in TEXT_LOOKUPS:
        return {name: like_pattern(lookup, value)}
    if lookup == "in":
        return {name: list(value)}
    if lookup == "range":
        pair = list(value)
        if len(pair) != 2:
            raise ValidationError.single(path, "range lookup needs a (low, high) pair", model)
        return {f"{name}_lo": pair[0], f"{name}_hi": pair[1]}
    return {name: value}


def bound_filter(
    resolver: Resolver, kwargs: Mapping[str, Any], token: tuple[Any, ...], index: int
) -> tuple[Any, dict[str, Any]]:
    """Return the (cached) condition of a cacheable filter and the parameters of this call.

    Args:
        resolver: Resolves and checks the field names (first build only).
        kwargs: The filter's keyword lookups.
        token: Its shape, from :func:`filter_token`.
        index: Position of the filter in its QuerySet; parameter names carry it, so
            filters of one statement never share a name.
    """
    model = resolver.model
    key = (model, resolver.live_only, index, token)
    names = [f"am{index}_{i}" for i in range(len(token) - 1)]
    condition: Any = _CONDITIONS.get(key)
    if condition is None:
        parts: list[Any] = []
        negated = token[0] == "exclude"
        for (field, lookup, marker), name in zip(token[1:], names, strict=True):
            col = resolver.column(field)
            cond = None if col is None else _bound(col, lookup, name, marker)
            if negated and cond is not None and lookup != "isnull" and marker != "null" and nullable(col):
                cond = sa.and_(cond, col.is_not(None))  # Django's exclude keeps rows whose field is NULL
            parts.append(cond)
        resolver.check()
        condition = sa.and_(*parts) if len(parts) > 1 else parts[0]
        if token[0] == "exclude":
            condition = sa.not_(condition)
        _CONDITIONS.put(key, condition)
    params: dict[str, Any] = {}
    items = sorted(kwargs.items())
    for (field, lookup, marker), name, (path, value) in zip(token[1:], names, items, strict=True):
        if marker == "v" or marker == "seq":
            key = model.__mapper__.primary_key[0].key if field == "pk" else field
            value = lookup_value(model, key, lookup, value, path)
        params.update(_value(lookup, name, marker, value, path, model.__name__))
    return condition, params
