"""Session-wide listeners: validation before flush, audit rows after it, soft-delete visibility.

Nothing is installed on import. :func:`install` is called by ``Database()`` and by
``Manager.using()``; it is idempotent. The listeners act only on instances of
:class:`~assistant_models.core.base.AssistantModel`, so other models sharing the
process are left alone.
"""

from __future__ import annotations

import re
import threading
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import (
    MANYTOONE,
    InstanceState,
    Mapper,
    ORMExecuteState,
    Session,
    UOWTransaction,
    with_loader_criteria,
)
from sqlalchemy.sql.elements import ClauseElement, ColumnElement

from assistant_models import exceptions
from assistant_models.core.audit import build_audit_row, note_computed
from assistant_models.core.audit_sql import audit_table
from assistant_models.core.base import (
    AssistantModel,
    mapper_registry,
    metadata,
    refuse_nulls,
    sql_fields,
    validate_fields,
)
from assistant_models.core.concerns import LIVE, Audited, SoftDelete, concern, concerns_of
from assistant_models.core.direct import allow_listener
from assistant_models.core.expressions import is_sql_value
from assistant_models.core.sql_values import compile_fields
from assistant_models.core.tracking import document_keys, track, track_documents
from assistant_models.exceptions import ValidationError

__all__ = ["INCLUDE_DELETED", "install"]

#: Execution option that turns soft-delete filtering off for one statement.
INCLUDE_DELETED = "include_deleted"
#: Execution option of statements that filter soft-deleted rows themselves.
HANDLED = "assistant_models_visibility_handled"

_lock = threading.Lock()
_installed = False


def install() -> None:
    """Install the package's listeners on :class:`sqlalchemy.orm.Session`, once."""
    global _installed
    with _lock:
        if _installed:
            return
        event.listen(Session, "before_flush", _validate_before_flush)
        event.listen(Session, "after_flush", _audit_after_flush)
        event.listen(Session, "do_orm_execute", allow_listener(_hide_soft_deleted))
        event.listen(Mapper, "after_configured", _load_live_relations_by_sql)
        event.listen(Mapper, "after_configured", _keep_history_of_audited)
        event.listen(Mapper, "load", allow_listener(_track_loaded), raw=True)
        event.listen(Mapper, "refresh", _track_loaded, raw=True)
        event.listen(Session, "after_attach", _track_attached)
        event.listen(Mapper, "after_configured", _track_assigned_documents)
        _installed = True
    refresh_constraint_fields()
    _load_live_relations_by_sql()
    _keep_history_of_audited()
    _track_assigned_documents()


_tracked: set[Any] = set()


def _keep_old_value(target: Any, value: Any, oldvalue: Any, initiator: Any) -> None:
    """Do nothing: listening with ``active_history`` is what makes SQLAlchemy load the old value."""


def _keep_history_of_audited() -> None:
    """Make a change of an expired attribute of an audited model load the value it replaces.

    Without it the audit diff of such a change would record ``before: null``.
    """
    for mapper in list(mapper_registry.mappers):
        if mapper in _tracked or not mapper.configured or concern(mapper.class_, Audited) is None:
            continue
        for attr in mapper.column_attrs:
            event.listen(getattr(mapper.class_, attr.key), "set", _keep_old_value, active_history=True)
        _tracked.add(mapper)


def _load_live_relations_by_sql() -> None:
    """Make many-to-one loads of soft-deletable targets always ask the database.

    SQLAlchemy answers such a load from the identity map when the target is
    already there, even if it was loaded through ``all_objects`` and is deleted.
    Turning that shortcut off sends the load through ``do_orm_execute``, where the
    soft-delete criteria apply. ``use_get`` is the lazy loader's own switch for it.
    """
    for mapper in list(mapper_registry.mappers):
        if not mapper.configured:
            continue
        for rel in mapper.relationships:
            if rel.direction is MANYTOONE and concern(rel.mapper.class_, SoftDelete) is not None:
                strategy = rel._get_strategy((("lazy", "select"),))
                strategy.use_get = False  # type: ignore[attr-defined]


def _checked_columns(table: sa.Table, constraint: sa.CheckConstraint) -> list[str]:
    """Return the columns a check constraint's expression names, in table order."""
    text = str(constraint.sqltext)
    return [c.name for c in table.columns if re.search(rf"\b{re.escape(c.name)}\b", text)]


def refresh_constraint_fields() -> None:
    """Map every unique and check constraint and unique index name to the fields it guards."""
    mapping: dict[str, str] = {}
    for table in metadata.tables.values():
        for constraint in table.constraints:
            if isinstance(constraint, sa.UniqueConstraint) and isinstance(constraint.name, str):
                mapping[constraint.name] = ", ".join(c.name for c in constraint.columns)
            if isinstance(constraint, sa.CheckConstraint) and isinstance(constraint.name, str):
                columns = _checked_columns(table, constraint)
                if columns:  # the name the database reports: the naming convention's
                    name = str(constraint.name)
                    full = name if name.startswith("ck_") else f"ck_{table.name}__{name}"
                    mapping[full] = mapping[name] = ", ".join(columns)
        for index in table.indexes:
            if index.unique and isinstance(index.name, str):
                field = index.info.get("field") or ", ".join(c.name for c in index.columns)
                mapping[index.name] = field
    exceptions.CONSTRAINT_FIELDS.update(mapping)


def _changed_values(obj: AssistantModel) -> dict[str, Any]:
    """Return the fields changed since the row was loaded: values and SQL expressions."""
    state = sa.inspect(obj)
    values: dict[str, Any] = {}
    for attr in state.mapper.column_attrs:
        added = state.attrs[attr.key].history.added
        if added and attr.key in type(obj).model_fields:
            value = added[0]
            if not isinstance(value, ClauseElement) or isinstance(value, ColumnElement):
                values[attr.key] = value
    return values


def _check_write(obj: Any, operation: str) -> None:
    for each in concerns_of(type(obj)):
        each.check_write(type(obj), operation)


def _refuse_frozen(obj: Any, values: dict[str, Any]) -> None:
    """Refuse changing a loaded row's key, or a field a concern keeps (version, server times)."""
    model = type(obj)
    mapper = sa.inspect(model)
    frozen = {mapper.get_property_by_column(c).key for c in mapper.primary_key}
    frozen.update(f for c in concerns_of(model) for f in c.frozen(model))
    errors = [
        {"field": name, "message": "is kept by the database and cannot be changed"}
        for name in sorted(values)
        if name in frozen
    ]
    if errors:
        raise ValidationError(errors, model.__name__)


def _validate_before_flush(session: Session, flush_context: UOWTransaction, instances: Any) -> None:
    for obj in session.new:
        if isinstance(obj, AssistantModel):
            obj.clean_changes()
            compile_fields(obj, sql_fields(obj), inserting=True)
    for obj in session.dirty:
        if not isinstance(obj, AssistantModel) or not session.is_modified(obj):
            continue
        _check_write(obj, "update")
        values = _changed_values(obj)
        if not values:
            continue
        _refuse_frozen(obj, values)
        sql = [k for k, v in values.items() if is_sql_value(v)]
        plain = {k: v for k, v in values.items() if k not in sql}
        refuse_nulls(type(obj), plain)
        cleaned = validate_fields(type(obj), plain)
        for key, value in cleaned.items():
            if value is not plain[key] and value != plain[key]:
                setattr(obj, key, value)
        compile_fields(obj, sql, inserting=False)
        if concern(type(obj), Audited) is not None:
            note_computed(sa.inspect(obj), sql)
    for obj in session.deleted:
        if isinstance(obj, AssistantModel):
            _check_write(obj, "delete")


def _track_loaded(state: InstanceState[Any], *args: Any) -> None:
    obj = state.obj()
    if isinstance(obj, AssistantModel):
        track_documents(obj)


def _track_attached(session: Session, obj: Any) -> None:
    """Track the documents of a row attached as it stands (``create``, ``bulk_create``, ``add``)."""
    if isinstance(obj, AssistantModel):
        track_documents(obj)


_documents_tracked: set[Any] = set()


def _track_assigned(target: Any, value: Any, oldvalue: Any, initiator: Any) -> Any:
    try:
        tracked = track(value)
    except RecursionError:  # a document too deep to wrap: left as is, the flush refuses it
        return value
    owners = getattr(tracked, "_owners", None)
    if owners is not None:
        owners[sa.inspect(target)] = initiator.key
    return tracked


def _track_assigned_documents() -> None:
    """Make an assigned document (``user.meta = {...}``) tracked from the moment it is set."""
    for mapper in list(mapper_registry.mappers):
        if mapper in _documents_tracked or not mapper.configured:
            continue
        model: Any = mapper.class_
        for key in document_keys(model):
            event.listen(getattr(mapper.class_, key), "set", _track_assigned, retval=True)
        _documents_tracked.add(mapper)


def _audit_after_flush(session: Session, flush_context: UOWTransaction) -> None:
    rows: list[dict[str, Any]] = []
    for kind, objs in (("new", session.new), ("dirty", session.dirty), ("deleted", session.deleted)):
        for obj in objs:
            if concern(type(obj), Audited) is not None:
                row = build_audit_row(obj, sa.inspect(obj), kind)
                if row is not None:
                    rows.append(row)
    table = audit_table()
    if rows and table is not None:
        session.connection().execute(table.insert(), rows)


_soft_cache: dict[int, tuple[Any, ...]] = {}


def _live(model: type[Any]) -> Any:
    condition = concern(model, SoftDelete).visibility(model, LIVE)
    return condition


def _soft_delete_criteria() -> tuple[Any, ...]:
    """Return one loader criterion per soft-deletable model, rebuilt when models are added."""
    mappers = mapper_registry.mappers
    key = len(mappers)
    cached = _soft_cache.get(key)
    if cached is None:
        cached = tuple(
            with_loader_criteria(m.class_, _live(m.class_), include_aliases=True, propagate_to_loaders=True)
            for m in sorted(mappers, key=lambda m: m.class_.__name__)
            if concern(m.class_, SoftDelete) is not None
        )
        _soft_cache.clear()
        _soft_cache[key] = cached
    return cached


def _hide_soft_deleted(state: ORMExecuteState) -> None:
    options = state.execution_options
    if not state.is_select or options.get(INCLUDE_DELETED, False) or options.get(HANDLED, False):
        return
    if state.is_column_load:  # refreshing an object already in hand
        return
    if not any(concern(m.class_, SoftDelete) is not None for m in state.all_mappers):
        return  # nothing soft-deletable in this statement (other models of the process pay nothing)
    criteria = _soft_delete_criteria()
    if criteria:
        state.statement = state.statement.options(*criteria)
