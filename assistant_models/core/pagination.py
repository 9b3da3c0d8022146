"""Page-number and keyset (cursor) pagination.

Cursors are signed with HMAC-SHA256 under the key of
:func:`~assistant_models.core.signing.cursor_key`: ``ASSISTANT_MODELS_SECRET_KEY`` when
set, else a random key kept in the database, so every worker process accepts every
other's cursors without configuration.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

import pydantic
import sqlalchemy as sa
from pydantic_core import to_jsonable_python
from sqlalchemy.dialects import postgresql

from assistant_models.core.base import field_adapter
from assistant_models.core.paths import primary_key
from assistant_models.core.query import order_name
from assistant_models.core.signing import cursor_key
from assistant_models.core.statements import LRU
from assistant_models.exceptions import FieldError, ValidationError

if TYPE_CHECKING:
    from assistant_models.core.base import AssistantModel
    from assistant_models.core.queryset import QuerySet

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
    ordered = qs if qs.ordered else qs.order_by("pk")
    total = qs.count()
    start = (page - 1) * per_page
    items = list(ordered[start : start + per_page]) if start < total else []
    return Page(items=items, total=total, page=page, per_page=per_page)


def _sign(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, payload, hashlib.sha256).digest()[:16]


def _keyset_fields(qs: QuerySet[Any]) -> list[str]:
    """Return the ordering of ``qs`` as field names, the key appended to break ties.

    Raises:
        FieldError: An ordering a cursor cannot follow: an expression, an annotation
            (such as a search's ``search_rank``), a relation or a nullable field.
    """
    model = qs.model
    mapper = sa.inspect(model)
    order = qs.query.order
    if order is None:
        order = qs.query.add_ordering(getattr(model, "__ordering__", ()), [])
    names, problems = [], []
    for item in order:
        name = order_name(item)
        field = None if name is None else name.lstrip("-")
        attr = None if field is None else mapper.column_attrs.get(field)
        if field != "pk" and (attr is None or attr.columns[0].nullable):
            what = repr(field) if field is not None else repr(item)
            problems.append(f"{what}: cursor pagination orders by non-null fields of the model itself")
        names.append(name or "")
    if problems:
        raise FieldError(problems, model.__name__)
    pk = primary_key(model)
    if not {"pk", *pk} & {n.lstrip("-") for n in names}:
        names += [("-" if names and names[-1].startswith("-") else "") + k for k in pk]
    return names


_SCOPES = LRU(512)


def _scope(qs: QuerySet[Any]) -> str:
    """Return a digest of the SQL and parameters of ``qs``, so its cursors fit no other query."""
    shape = qs.query.shape
    text = _SCOPES.get(shape) if shape is not None else None
    if text is None:
        text = str(qs.statement().compile(dialect=postgresql.dialect()))  # type: ignore[no-untyped-call]
        if shape is not None:
            _SCOPES.put(shape, text)
    params = sorted((k, repr(v)) for k, v in qs.query.params.items())
    return hashlib.sha256(f"{text}|{params}".encode()).hexdigest()[:32]


def _fingerprint(model: type[Any], order: list[str], scope: str = "") -> str:
    text = f"{model.__tablename__}:{','.join(order)}:{scope}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def encode_cursor(model: type[Any], order: list[str], obj: Any, scope: str, key: bytes) -> str:
    """Return the signed cursor that points just after ``obj`` in ``order`` within ``scope``."""
    pk = primary_key(model)[0]
    values = [getattr(obj, pk if f.lstrip("-") == "pk" else f.lstrip("-")) for f in order]
    payload = json.dumps(
        [_fingerprint(model, order, scope), to_jsonable_python(values)], separators=(",", ":")
    ).encode()
    return base64.urlsafe_b64encode(_sign(key, payload) + payload).decode().rstrip("=")


def decode_cursor(model: type[Any], order: list[str], cursor: str, scope: str, key: bytes) -> list[Any]:
    """Return the key values in ``cursor``.

    Raises:
        ValidationError: The cursor is garbled, forged, or from another ordering.
    """
    bad = ValidationError.single("after", "is not a valid cursor for this query", model.__name__)
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        signature, payload = raw[:16], raw[16:]
        if not hmac.compare_digest(signature, _sign(key, payload)):
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
    if name == "pk":
        name = primary_key(model)[0]
    try:
        return field_adapter(cast(Any, model), name).validate_python(value)
    except pydantic.ValidationError:
        raise bad from None


_KEYSETS = LRU(256)


def _after(model: type[Any], order: tuple[str, ...]) -> Any:
    """Return the (cached) condition "after the cursor", its values as parameters ``am_after_<i>``."""
    key = (model, order)
    condition = _KEYSETS.get(key)
    if condition is not None:
        return condition
    pk = primary_key(model)[0]
    cols = [getattr(model, pk if f.lstrip("-") == "pk" else f.lstrip("-")) for f in order]
    values = [sa.bindparam(f"am_after_{i}", type_=c.type) for i, c in enumerate(cols)]
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
    order = _keyset_fields(qs)
    ordered = qs.order_by(*order)
    scope = _scope(qs)
    if after is not None:
        if not isinstance(after, str):
            raise ValidationError.single("after", "must be a cursor string", qs.model.__name__)
        values = decode_cursor(qs.model, order, after, scope, cursor_key(qs.session))
        params = {f"am_after_{i}": value for i, value in enumerate(values)}
        ordered = ordered.where(_after(qs.model, tuple(order)), params=params, shape=("after", tuple(order)))
    rows = list(ordered[: first + 1])
    has_next = len(rows) > first
    items = rows[:first]
    cursor = encode_cursor(qs.model, order, items[-1], scope, cursor_key(qs.session)) if has_next else None
    return CursorPage(items=items, next_cursor=cursor, has_next=has_next)
