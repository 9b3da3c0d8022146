"""Concerns: what a mixin adds to every query and write of its models.

A mixin lists its concerns in ``__concerns__``; the core asks each model for them
(:func:`concerns_of`) and calls their hooks, so it never names a column of its own:
soft delete brings the visibility clause, versioning and timestamps bring their
``SET`` additions, append-only refuses changes, audit says which fields it ignores.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from assistant_models.exceptions import ValidationError

__all__ = [
    "ALL",
    "DELETED",
    "LIVE",
    "AppendOnly",
    "Audited",
    "Concern",
    "LiveParent",
    "SoftDelete",
    "Timestamped",
    "Versioned",
    "concern",
    "concerns_of",
]

LIVE, ALL, DELETED = "live", "all", "deleted"
VISIBILITIES = (LIVE, ALL, DELETED)


class Concern:
    """Hooks a concern may implement; each default does nothing."""

    def visibility(self, entity: Any, mode: str) -> ColumnElement[bool] | None:
        """Return the condition that shows the rows ``mode`` asks for (``None``: every row)."""
        return None

    def on_update(self, model: type[Any], clause: dict[str, Any]) -> None:
        """Add to the SET clause of a set-based update of ``model``."""

    def protected(self, model: type[Any]) -> Iterable[str]:
        """Return the fields this concern keeps and callers may not set."""
        return ()

    def check_write(self, model: type[Any], operation: str) -> None:
        """Raise if ``operation`` (``"update"``, ``"delete"``) is not allowed on ``model``."""

    def frozen(self, model: type[Any]) -> Iterable[str]:
        """Return the fields a loaded row's assignment may not change (the server or ORM keeps them)."""
        return ()

    def unaudited(self) -> Iterable[str]:
        """Return bookkeeping fields whose change alone is not worth an audit row."""
        return ()


class SoftDelete(Concern):
    """Rows are hidden by a timestamp column instead of removed."""

    def __init__(self, column: str = "deleted_at") -> None:
        self.column = column

    def visibility(self, entity: Any, mode: str) -> ColumnElement[bool] | None:
        """Return ``column IS NULL`` for live rows, ``IS NOT NULL`` for deleted ones."""
        if mode == ALL:
            return None
        col = getattr(entity, self.column)
        return col.is_(None) if mode == LIVE else col.is_not(None)  # type: ignore[no-any-return]

    def mark(self) -> dict[str, Any]:
        """Return the SET clause that soft-deletes a row."""
        return {self.column: sa.func.now()}


class Versioned(Concern):
    """Optimistic locking: every write bumps the version column."""

    def __init__(self, column: str = "version") -> None:
        self.column = column

    def on_update(self, model: type[Any], clause: dict[str, Any]) -> None:
        """Add ``version = version + 1``."""
        clause.setdefault(self.column, model.__table__.c[self.column] + 1)

    def protected(self, model: type[Any]) -> Iterable[str]:
        """Return the version column: only the ORM moves it."""
        return (self.column,)

    def unaudited(self) -> Iterable[str]:
        """Return the version column."""
        return (self.column,)

    def frozen(self, model: type[Any]) -> Iterable[str]:
        """Return the version column."""
        return (self.column,)


class Timestamped(Concern):
    """Server-set creation and modification times."""

    def __init__(self, created: str = "created_at", updated: str = "updated_at") -> None:
        self.created = created
        self.updated = updated

    def on_update(self, model: type[Any], clause: dict[str, Any]) -> None:
        """Add ``updated = now()``."""
        clause.setdefault(self.updated, sa.func.now())

    def unaudited(self) -> Iterable[str]:
        """Return the modification time."""
        return (self.updated,)

    def frozen(self, model: type[Any]) -> Iterable[str]:
        """Return both times: the server sets them."""
        return (self.created, self.updated)


class LiveParent(Concern):
    """Rows are hidden while the row they belong to is soft-deleted.

    A chat's messages, tool runs and confirmations disappear from every read with their
    chat, and come back with it on restore, without being written: the visibility
    clause asks for a live parent (``EXISTS``, served by the parent's key). Rows whose
    reference is NULL stay visible. ``all_objects`` shows every row, as for soft delete.

    Args:
        relation: The many-to-one relationship to the parent, by attribute name.
    """

    def __init__(self, relation: str) -> None:
        self.relation = relation

    def visibility(self, entity: Any, mode: str) -> ColumnElement[bool] | None:
        """Return ``EXISTS (live parent)`` for live rows; nothing for the other modes."""
        if mode != LIVE:
            return None
        relation = sa.inspect(entity).mapper.relationships[self.relation]
        parent_model = relation.mapper.class_
        soft = concern(parent_model, SoftDelete)
        if soft is None:
            return None
        parent = aliased(parent_model)
        pairs = [
            (getattr(entity, local.key), getattr(parent, remote.key))
            for local, remote in relation.local_remote_pairs
        ]
        live = sa.exists().where(*[remote == local for local, remote in pairs], soft.visibility(parent, LIVE))
        nullable = [
            local
            for (local, _), (column, _) in zip(pairs, relation.local_remote_pairs, strict=True)
            if column.nullable
        ]
        return sa.or_(*[c.is_(None) for c in nullable], live) if nullable else live


class Audited(Concern):
    """Every change writes an audit row in the same transaction."""


class AppendOnly(Concern):
    """Rows are written once and never changed nor deleted."""

    def check_write(self, model: type[Any], operation: str) -> None:
        """Refuse every update and delete."""
        raise ValidationError.single(
            model.__tablename__, f"is append-only: rows cannot be {operation}d", model.__name__
        )


_BY_MODEL: dict[type[Any], tuple[Concern, ...]] = {}


def concerns_of(model: type[Any]) -> tuple[Concern, ...]:
    """Return the concerns of ``model``, gathered from every class it inherits (each kind once)."""
    cached = _BY_MODEL.get(model)
    if cached is not None:
        return cached
    found: dict[type[Concern], Concern] = {}
    for klass in reversed(model.__mro__):
        for each in klass.__dict__.get("__concerns__", ()):
            found[type(each)] = each
    result = tuple(found.values())
    _BY_MODEL[model] = result
    return result


def concern(model: type[Any], kind: type[Any]) -> Any:
    """Return ``model``'s concern of class ``kind``, or ``None``."""
    return next((c for c in concerns_of(model) if isinstance(c, kind)), None)
