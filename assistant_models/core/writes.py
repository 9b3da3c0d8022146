"""Writes that make rows: create, bulk_create (COPY or INSERT ... ON CONFLICT), get_or_create.

Updates and deletes live in :mod:`~assistant_models.core.updates` and
:mod:`~assistant_models.core.deletes`; this module is the one entry point the
QuerySet calls for every write.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

import sqlalchemy as sa

from assistant_models.core.base import sql_fields, validate_fields
from assistant_models.core.concerns import Versioned, concern
from assistant_models.core.copy import copy_instances
from assistant_models.core.deletes import delete
from assistant_models.core.inserts import insert_many, insert_one
from assistant_models.core.paths import primary_key
from assistant_models.core.persistence import translating
from assistant_models.core.sql_values import compile_fields
from assistant_models.core.updates import bulk_update, check_batch_size, update
from assistant_models.exceptions import ConflictError, FieldError, ValidationError

if TYPE_CHECKING:
    from assistant_models.core.base import AssistantModel
    from assistant_models.core.queryset import QuerySet

__all__ = [
    "Conflicts",
    "bulk_create",
    "bulk_update",
    "create",
    "delete",
    "get_or_create",
    "update",
    "update_or_create",
]

M = TypeVar("M", bound="AssistantModel")


class Conflicts(NamedTuple):
    """What ``bulk_create`` does with rows that collide with existing ones."""

    ignore: bool = False
    update: bool = False
    unique_fields: tuple[str, ...] = ()
    update_fields: tuple[str, ...] = ()


def _attach_relations(model: type[Any], objs: Sequence[Any]) -> None:
    """Copy keys of related objects set through relation attributes (``Book(author=a)``) to their columns."""
    mapper = sa.inspect(model)
    relations = [r for r in mapper.relationships if not r.uselist]
    for obj in objs:
        values = obj.__dict__
        for rel in relations:
            related = values.get(rel.key)
            if related is None:
                continue
            for local, remote in rel.local_remote_pairs:
                key = mapper.get_property_by_column(local).key
                value = getattr(related, rel.mapper.get_property_by_column(remote).key)
                if value is None:
                    raise ValidationError.single(
                        rel.key, f"the related {rel.mapper.class_.__name__} is not saved yet", model.__name__
                    )
                values[key] = value


def create(qs: QuerySet[M], values: dict[str, Any]) -> M:
    """Validate and insert one row; see :meth:`QuerySet.create`.

    Raises:
        ValidationError: ``values`` sets the version a versioned model keeps itself.
    """
    versioned = concern(qs.model, Versioned)
    if versioned is not None and versioned.column in values:
        raise ValidationError.single(
            versioned.column, "is kept by the model and cannot be set", qs.model.__name__
        )
    return insert_one(qs.session, qs.model(**values))


def bulk_create(qs: QuerySet[M], objs: Sequence[M], batch_size: int | None, conflicts: Conflicts) -> list[M]:
    """Insert validated instances; see :meth:`QuerySet.bulk_create`."""
    objs = list(objs)
    check_batch_size(batch_size)
    wrong = sorted({type(o).__name__ for o in objs if type(o) is not qs.model})
    if wrong:
        raise ValidationError.single("objs", f"must all be {qs.model.__name__} instances, not {wrong}")
    _check_conflicts(qs.model, conflicts)
    if not objs:
        return objs
    computed = False
    for obj in objs:
        obj.clean_changes()
        fields = sql_fields(obj)
        if fields:  # compiled before any row is sent: a refused value writes nothing
            compile_fields(obj, fields, inserting=True)
            computed = True
    _attach_relations(qs.model, objs)
    session = qs.session
    pending = [o for o in objs if o in session and sa.inspect(o).pending]
    with warnings.catch_warnings():
        # a relation's back-reference cascaded these into the session; they are inserted below,
        # not by this flush, which would otherwise warn about the collection that holds them
        warnings.filterwarnings("ignore", "Object of type .* not in session", sa.exc.SAWarning)
        for obj in pending:
            session.expunge(obj)
        with translating():
            session.flush()
    keys_made_by_server = any(getattr(o, k) is None for o in objs for k in primary_key(qs.model))
    with translating():  # COPY carries values, never SQL: rows holding SQL are INSERTed
        if conflicts.ignore or conflicts.update or keys_made_by_server or computed:
            insert_many(session, qs.model, objs, batch_size, conflicts)
        else:
            copy_instances(session, qs.model, objs, batch_size)
    return objs


def _check_conflicts(model: type[Any], conflicts: Conflicts) -> None:
    if conflicts.ignore and conflicts.update:
        raise ValidationError.single(
            "ignore_conflicts", "cannot be used with update_conflicts", model.__name__
        )
    if not conflicts.update:
        if conflicts.unique_fields or conflicts.update_fields:
            raise ValidationError.single("update_fields", "need update_conflicts=True", model.__name__)
        return
    problems = []
    if not conflicts.update_fields:
        problems.append("update_conflicts needs update_fields")
    for name in (*conflicts.unique_fields, *conflicts.update_fields):
        if name != "pk" and name not in model.__table__.c:
            problems.append(f"{name!r}: {model.__name__} has no field {name!r}")
    keys = {"pk", *primary_key(model)}
    problems += [
        f"{name!r}: a primary key cannot be in update_fields"
        for name in conflicts.update_fields
        if name in keys
    ]
    if problems:
        raise FieldError(problems, model.__name__)


def _resolved(values: dict[str, Any] | None) -> dict[str, Any]:
    """Return ``values`` with callables called (Django calls them only when a row is written)."""
    return {k: v() if callable(v) else v for k, v in (values or {}).items()}


def _create_params(
    model: type[Any], lookups: dict[str, Any], defaults: dict[str, Any] | None
) -> dict[str, Any]:
    pk = primary_key(model)[0]
    params = {(pk if k == "pk" else k): v for k, v in lookups.items() if "__" not in k}
    params.update(_resolved(defaults))
    return params


def get_or_create(
    qs: QuerySet[M],
    defaults: dict[str, Any] | None,
    create_defaults: dict[str, Any] | None,
    lookups: dict[str, Any],
) -> tuple[M, bool]:
    """Return the matching row or create it in a savepoint; see :meth:`QuerySet.get_or_create`."""
    try:
        return qs.get(**lookups), False
    except qs.model.DoesNotExist:
        pass
    values = create_defaults if create_defaults is not None else defaults
    session = qs.session
    try:
        with translating(), session.begin_nested():
            obj = qs.model(**_create_params(qs.model, lookups, values))
            session.add(obj)
        return obj, True
    except ConflictError as conflict:
        try:  # another transaction created the row first...
            return qs.get(**lookups), False
        except qs.model.DoesNotExist:  # ...or another unique field clashes: that is the error
            raise conflict from None


def update_or_create(
    qs: QuerySet[M],
    defaults: dict[str, Any] | None,
    create_defaults: dict[str, Any] | None,
    lookups: dict[str, Any],
) -> tuple[M, bool]:
    """Update the matching row with ``defaults`` or create it; see :meth:`QuerySet.update_or_create`."""
    try:
        obj = qs.select_for_update().get(**lookups)
    except qs.model.DoesNotExist:
        values = create_defaults if create_defaults is not None else defaults
        return get_or_create(qs, values, None, lookups)
    changes = _resolved(defaults)
    relations = {k: v for k, v in changes.items() if k in sa.inspect(qs.model).relationships}
    values = validate_fields(qs.model, {k: v for k, v in changes.items() if k not in relations})
    for key, value in {**values, **relations}.items():
        setattr(obj, key, value)
    with translating():
        qs.session.flush()
    return obj, False
