"""The audit trail: who changed what, written in the same transaction as the change."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any, ClassVar

import sqlalchemy as sa
from pydantic_core import to_jsonable_python
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import InstanceState
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field

from assistant_models.core.base import AssistantModel
from assistant_models.core.concerns import AppendOnly, Concern, SoftDelete, concern, concerns_of
from assistant_models.core.types import JSONB, UTCDateTime, str_enum

__all__ = ["AuditAction", "AuditLogBase", "audit_actor", "build_audit_row", "current_actor", "note_computed"]

#: Key in SQLAlchemy's per-instance ``info`` of the old values of fields a flush computes in SQL.
COMPUTED = "assistant_models_computed"

REDACTED = "[redacted]"
_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]
#: Name of the bound parameter that carries the actor into SQL-built audit rows.
ACTOR_PARAM = "am_actor"

_actor: ContextVar[uuid.UUID | None] = ContextVar("assistant_models_audit_actor", default=None)


class AuditAction(enum.StrEnum):
    """What happened to the audited row."""

    CREATE = "create"
    UPDATE = "update"
    SOFT_DELETE = "soft_delete"
    RESTORE = "restore"
    DELETE = "delete"


@contextmanager
def audit_actor(actor_id: uuid.UUID | str | None) -> Iterator[None]:
    """Attribute every audited change made inside the block to ``actor_id``.

    Example:
        >>> with audit_actor(admin.id):  # doctest: +SKIP
        ...     task.title = "Renamed"
    """
    token = _actor.set(uuid.UUID(str(actor_id)) if actor_id is not None else None)
    try:
        yield
    finally:
        _actor.reset(token)


def current_actor() -> uuid.UUID | None:
    """Return the actor set by the innermost :func:`audit_actor`, if any."""
    return _actor.get()


class AuditLogBase(AssistantModel):
    """Columns of the append-only audit log; the table model lives in the domain package."""

    __table_args__ = (sa.Index("ix_audit_logs__row", "table_name", "row_id", "created_at"),)
    __concerns__: ClassVar[tuple[Concern, ...]] = (AppendOnly(),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    action: AuditAction = Field(sa_type=str_enum(AuditAction, 16), index=True)
    table_name: str = Field(max_length=63)
    row_id: str = Field(max_length=64)
    actor_id: uuid.UUID | None = Field(default=None, index=True)
    changes: dict[str, Any] = Field(default_factory=dict, sa_type=JSONB)
    created_at: datetime | None = Field(
        default=None,
        sa_type=UTCDateTime,
        nullable=False,
        index=True,
        # clock_timestamp(), not now(): changes within one transaction keep their order
        sa_column_kwargs={"server_default": sa.func.clock_timestamp()},
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    return to_jsonable_python(value, fallback=str)


def stored(model: type[Any], key: str, value: Any) -> Any:
    """Return ``value`` as the column ``key`` stores it: a decorated type's own conversion applied."""
    attr = sa.inspect(model).column_attrs.get(key)
    kind = attr.columns[0].type if attr is not None else None
    if value is None or not isinstance(kind, TypeDecorator):
        return value
    if type(kind).process_bind_param is TypeDecorator.process_bind_param:
        return value
    return kind.process_bind_param(value, _DIALECT)


def _snapshot(obj: AssistantModel, secret: frozenset[str]) -> dict[str, Any]:
    values, model = obj.__dict__, type(obj)
    return {
        name: REDACTED if name in secret else _jsonable(stored(model, name, values[name]))
        for name in model.model_fields
        if name in values
    }


def note_computed(state: InstanceState[Any], names: list[str]) -> None:
    """Keep the values ``names`` had before a flush writes SQL to them (``obj.n = F("n") + 1``).

    The flush expires such fields and forgets their history: the audit row reads the
    values kept here and what the row holds afterwards.
    """
    if names:
        state.info[COMPUTED] = {n: _before(state, n) for n in names}
    else:
        state.info.pop(COMPUTED, None)


def _before(state: InstanceState[Any], name: str) -> Any:
    deleted = state.attrs[name].history.deleted
    return deleted[0] if deleted else None


def _diff(state: InstanceState[Any], secret: frozenset[str]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    computed: dict[str, Any] = state.info.pop(COMPUTED, {})
    obj = state.obj()
    for attr in state.mapper.column_attrs:
        history = state.attrs[attr.key].history
        if attr.key in computed:  # the UPDATE computed it: the row reloads with what it stored
            before, after = computed[attr.key], getattr(obj, attr.key)
        elif not history.added and not history.deleted:
            continue
        else:
            before = history.deleted[0] if history.deleted else None
            after = history.added[0] if history.added else None
        if before == after or isinstance(after, sa.sql.ClauseElement):
            continue
        if attr.key in secret:
            changes[attr.key] = {"before": REDACTED, "after": REDACTED}
        else:
            model = state.mapper.class_
            changes[attr.key] = {
                "before": _jsonable(stored(model, attr.key, before)),
                "after": _jsonable(stored(model, attr.key, after)),
            }
    return changes


def _update_action(model: type[Any], changes: dict[str, Any]) -> AuditAction:
    soft = concern(model, SoftDelete)
    deleted = changes.get(soft.column) if soft is not None else None
    if deleted is None:
        return AuditAction.UPDATE
    return AuditAction.RESTORE if deleted["after"] is None else AuditAction.SOFT_DELETE


def build_audit_row(obj: AssistantModel, state: InstanceState[Any], kind: str) -> dict[str, Any] | None:
    """Return the audit row values for one flushed change, or ``None`` if nothing changed.

    Args:
        obj: The audited instance.
        state: Its SQLAlchemy instance state, history still intact (``after_flush``).
        kind: ``"new"``, ``"dirty"`` or ``"deleted"``.
    """
    cls = type(obj)
    secret = cls.__secret_fields__
    if kind == "new":
        for name in state.expired_attributes & cls.model_fields.keys():
            getattr(obj, name)  # computed by the INSERT (a SQL expression): reload what it stored
        action, changes = AuditAction.CREATE, {"after": _snapshot(obj, secret)}
    elif kind == "deleted":
        action, changes = AuditAction.DELETE, {"before": _snapshot(obj, secret)}
    else:
        diff = _diff(state, secret)
        for name in (*cls.__audit_exclude__, *(f for c in concerns_of(cls) for f in c.unaudited())):
            diff.pop(name, None)
        if not diff:
            return None
        action, changes = _update_action(cls, diff), {"fields": diff}
    identity = state.mapper.primary_key_from_instance(obj)
    return {
        "id": uuid.uuid4(),
        "action": action.value,
        "table_name": cls.__tablename__,
        "row_id": ",".join(str(v) for v in identity),
        "actor_id": current_actor(),
        "changes": changes,
    }
