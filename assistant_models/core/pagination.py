"""Page-number and keyset (cursor) pagination.

Cursors are signed with HMAC-SHA256. The key comes from the environment variable
``ASSISTANT_MODELS_SECRET_KEY``; without it, a random key is made per process, so
set it when several processes serve the same cursors.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import os
import secrets
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

import pydantic
import sqlalchemy as sa
from pydantic_core import to_jsonable_python

from assistant_models.core.statements import LRU
from assistant_models.exceptions import FieldError, ValidationError

if TYPE_CHECKING:
    from assistant_models.core.base import AssistantModel
    from assistant_models.core.query import QuerySet

__all__ = ["MAX_PER_PAGE", "CursorPage", "Page", "cursor_paginate", "paginate"]

#: The largest ``per_page`` / ``first`` accepted.
MAX_PER_PAGE = 100

M = TypeVar("M", bound="AssistantModel")


@dataclass(frozen=True)
class Page(Generic[M]):
    """One page of a numbered pagination."""

    items: list[M]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        """Return the number of pages (at least 1)."""
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_next(self) -> bool:
        """Return whether a later page exists."""
        return self.page < self.pages

    @property
    def has_prev(self) -> bool:
        """Return whether an earlier page exists."""
        return self.page > 1


@dataclass(frozen=True)
class CursorPage(Generic[M]):
    """One page of a keyset pagination; pass ``next_cursor`` as ``after`` for the next."""

    items: list[M]
    next_cursor: str | None
    has_next: bool


def _check_size(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_PER_PAGE:
        raise ValidationError.single(name, f"must be an integer from 1 to {MAX_PER_PAGE}")
    return value


def paginate(qs: QuerySet[M], page: int, per_page: int) -> Page[M]:
    """Return page ``page`` (from 1) of ``per_page`` rows, ordered by the QuerySet's order or key.

    Raises:
        ValidationError: ``page`` below 1 or ``per_page`` outside 1..:data:`MAX_PER_PAGE`.
    """
    if isinstance(page, bool) or not isinstance(page, int) or page < 1:
        raise ValidationError.single("page", "must be an integer of 1 or more")
    _check_size("per_page", per_page)
    ordered = qs if qs._order or qs._search else qs.order_by("pk")
    total = qs.count()
    start = (page - 1) * per_page
    items = list(ordered[start : start + per_page]) if start < total else []
    return Page(items=items, total=total, page=page, per_page=per_page)


@cache
def _key() -> bytes:
    configured = os.environ.get("ASSISTANT_MODELS_SECRET_KEY")
    return configured.encode() if configured else secrets.token_bytes(32)


def _sign(payload: bytes) -> bytes:
    return hmac.new(_key(), payload, hashlib.sha256).digest()[:16]


def _keyset_fields(qs: QuerySet[Any]) -> list[str]:
    mapper = sa.inspect(qs.model)
    pk = mapper.primary_key[0].key
    fields = [f.lstrip("-") for f in qs._order]
    problems = []
    for name in fields:
        attr = mapper.column_attrs.get("pk" if name == "pk" else name)
        if name != "pk" and (attr is None or attr.columns[0].nullable):
            problems.append(f"{name!r}: cursor pagination orders by non-null fields of the model itself")
    if problems:
        raise FieldError(problems, qs.model.__name__)
    order = list(qs._order)
    if pk not in fields and "pk" not in fields:
        order.append("-pk" if order and order[-1].startswith("-") else "pk")
    return order


def _fingerprint(model: type[Any], order: list[str], scope: str = "") -> str:
    text = f"{model.__tablename__}:{','.join(order)}:{scope}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _scope(qs: QuerySet[Any]) -> str:
    """Describe what a QuerySet selects, so its cursors are refused by any other query."""
    if qs._shape is None:  # conditions not described by a shape: bind to visibility only
        return qs._visibility
    return repr((qs._visibility, qs._shape, sorted((k, repr(v)) for k, v in qs._params.items())))


def encode_cursor(model: type[Any], order: list[str], obj: Any, scope: str = "") -> str:
    """Return the signed cursor that points just after ``obj`` in ``order`` within ``scope``."""
    pk = sa.inspect(model).primary_key[0].key
    values = [getattr(obj, pk if f.lstrip("-") == "pk" else f.lstrip("-")) for f in order]
    payload = json.dumps(
        [_fingerprint(model, order, scope), to_jsonable_python(values)], separators=(",", ":")
    ).encode()
    return base64.urlsafe_b64encode(_sign(payload) + payload).decode().rstrip("=")


def decode_cursor(model: type[Any], order: list[str], cursor: str, scope: str = "") -> list[Any]:
    """Return the key values in ``cursor``.

    Raises:
        ValidationError: The cursor is garbled, forged, or from another ordering.
    """
    bad = ValidationError.single("after", "is not a valid cursor for this query", model.__name__)
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        signature, payload = raw[:16], raw[16:]
        if not hmac.compare_digest(signature, _sign(payload)):
            raise bad
        fingerprint, values = json.loads(payload)
    except (binascii.Error, ValueError, TypeError, AttributeError):
        raise bad from None
    if (
        fingerprint != _fingerprint(model, order, scope)
        or not isinstance(values, list)
        or len(values) != len(order)
    ):
        raise bad
    return [_typed(model, f.lstrip("-"), v, bad) for f, v in zip(order, values, strict=True)]


def _typed(model: type[Any], name: str, value: Any, bad: ValidationError) -> Any:
    from assistant_models.core.base import field_adapter

    if name == "pk":
        name = sa.inspect(model).primary_key[0].key
    try:
        return field_adapter(cast(Any, model), name).validate_python(value)
    except pydantic.ValidationError:
        raise bad from None


_KEYSETS = LRU(256)


def _after(model: type[Any], order: tuple[str, ...], index: int) -> Any:
    """Return the (cached) condition "after the cursor", its values as parameters ``am_after<index>_<i>``."""
    key = (model, order, index)
    condition = _KEYSETS.get(key)
    if condition is not None:
        return condition
    pk = sa.inspect(model).primary_key[0].key
    cols = [getattr(model, pk if f.lstrip("-") == "pk" else f.lstrip("-")) for f in order]
    values = [sa.bindparam(f"am_after{index}_{i}", type_=c.type) for i, c in enumerate(cols)]
    descending = [f.startswith("-") for f in order]
    if all(descending) or not any(descending):
        lhs, rhs = sa.tuple_(*cols), sa.tuple_(*values)
        condition = lhs < rhs if descending[0] else lhs > rhs
    else:
        ors = []
        for i, col in enumerate(cols):
            equal = [cols[j] == values[j] for j in range(i)]
            step = col < values[i] if descending[i] else col > values[i]
            ors.append(sa.and_(*equal, step))
        condition = sa.or_(*ors)
    _KEYSETS.put(key, condition)
    return condition


def cursor_paginate(qs: QuerySet[M], first: int, after: str | None) -> CursorPage[M]:
    """Return ``first`` rows after the cursor ``after``, by the QuerySet's order plus the key.

    The key breaks ties in the direction of the last ordering field
    (``order_by("-priority")`` pages by ``-priority, -pk``).

    The cost does not grow with depth: the cursor becomes a ``WHERE (keys) > (values)``
    condition that an index on the ordering serves directly.

    Raises:
        ValidationError: ``first`` out of range, or a garbled or forged cursor.
        FieldError: The ordering uses a nullable field or a relation.
    """
    _check_size("first", first)
    if qs._search is not None:
        raise FieldError(
            ["a search is ordered by rank, which no cursor can follow: page it with paginate()"],
            qs.model.__name__,
        )
    order = _keyset_fields(qs)
    ordered = qs.order_by(*order)
    if after is not None:
        if not isinstance(after, str):
            raise ValidationError.single("after", "must be a cursor string", qs.model.__name__)
        values = decode_cursor(qs.model, order, after, _scope(qs))
        index = len(ordered._where)
        params = {f"am_after{index}_{i}": value for i, value in enumerate(values)}
        ordered = ordered._refined(_after(qs.model, tuple(order), index), ("after", tuple(order)), params)
    rows = list(ordered[: first + 1])
    has_next = len(rows) > first
    items = rows[:first]
    cursor = encode_cursor(qs.model, order, items[-1], _scope(qs)) if has_next else None
    return CursorPage(items=items, next_cursor=cursor, has_next=has_next)
