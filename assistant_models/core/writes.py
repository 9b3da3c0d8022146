"""Set-based writes: update, delete, bulk_create, bulk_update, get_or_create.

For audited models the audit rows are written by the same statement as the change
(PostgreSQL data-modifying CTEs), so they share its transaction and cost no extra
round trip.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm.util import identity_key
from sqlalchemy.sql.elements import ClauseElement

from assistant_models.core.audit import ACTOR_PARAM, REDACTED, AuditAction, current_actor
from assistant_models.core.base import refuse_nulls, validate_fields
from assistant_models.core.copy import copy_instances
from assistant_models.core.events import HANDLED
from assistant_models.core.lookups import F, Resolver
from assistant_models.core.persistence import translating
from assistant_models.core.statements import LRU
from assistant_models.exceptions import ConflictError, FieldError, ValidationError

if TYPE_CHECKING:
    from assistant_models.core.base import AssistantModel
    from assistant_models.core.query import QuerySet

__all__ = ["bulk_create", "bulk_update", "delete", "get_or_create", "update", "update_or_create"]

M = TypeVar("M", bound="AssistantModel")

#: Set-based writes filter soft-deleted rows themselves (through the QuerySet's
#: visibility), so the session-wide listener must not add its criteria again.
OWN_VISIBILITY = {HANDLED: True}


def _pk(model: type[Any]) -> sa.Column[Any]:
    return model.__table__.primary_key.columns[0]  # type: ignore[no-any-return]


def _refuse_append_only(model: type[Any]) -> None:
    from assistant_models.core.audit import AuditLogBase

    if issubclass(model, AuditLogBase):
        raise ValidationError.single("audit_logs", "is append-only: rows cannot be changed", model.__name__)


def _writable(model: type[Any], names: Sequence[str]) -> None:
    _refuse_append_only(model)
    table, problems = model.__table__, []
    for name in names:
        if name not in table.c or name not in model.model_fields:
            problems.append(f"{name!r}: {model.__name__} has no field {name!r}")
        elif table.c[name].primary_key:
            problems.append(f"{name!r} is the primary key and cannot be updated")
        elif name == "version" and getattr(model.__mapper__, "version_id_col", None) is not None:
            problems.append("'version' is kept by optimistic locking and cannot be set")
    if problems:
        raise FieldError(problems, model.__name__)


def _set_clause(qs: QuerySet[Any], values: dict[str, Any]) -> dict[str, Any]:
    model = qs.model
    _writable(model, list(values))
    refuse_nulls(model, values)
    plain = {k: v for k, v in values.items() if not isinstance(v, (F, ClauseElement))}
    cleaned = validate_fields(model, plain)
    resolver = Resolver(model)
    clause: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, F):
            value = resolver.expression(value)
        clause[name] = cleaned.get(name, value)
    resolver.check()
    return _bump(model, clause)


def _bump(model: type[Any], clause: dict[str, Any]) -> dict[str, Any]:
    table = model.__table__
    if "version" in table.c and getattr(model.__mapper__, "version_id_col", None) is not None:
        clause.setdefault("version", table.c.version + 1)
    if "updated_at" in table.c:
        clause.setdefault("updated_at", sa.func.now())
    return clause


_ACTOR: Any = sa.bindparam(ACTOR_PARAM, type_=sa.Uuid())
_UPDATES = LRU(512)
_REDACTED_JSON: Any = sa.literal_column(f"to_jsonb('{REDACTED}'::text)")


def _json(col: Any, secret: bool) -> Any:
    return _REDACTED_JSON if secret else sa.func.to_jsonb(col)


def _audit_insert(model: type[Any], upd: Any, fields: list[str]) -> Any:
    from assistant_models.core.events import _audit_table

    audit = _audit_table()
    if audit is None:
        return None
    secret = model.__secret_fields__
    changed = {f: upd.c[f"new_{f}"].is_distinct_from(upd.c[f"old_{f}"]) for f in fields}
    parts = [
        sa.case(
            (
                cond,
                sa.func.jsonb_build_object(
                    f,
                    sa.func.jsonb_build_object(
                        "before",
                        _json(upd.c[f"old_{f}"], f in secret),
                        "after",
                        _json(upd.c[f"new_{f}"], f in secret),
                    ),
                ),
            ),
            else_=sa.literal_column("'{}'::jsonb"),
        )
        for f, cond in changed.items()
    ]
    diff: Any = parts[0]
    for part in parts[1:]:
        diff = diff.op("||")(part)
    action: Any = sa.literal(AuditAction.UPDATE.value)
    if "deleted_at" in fields:
        action = sa.case(
            (~changed["deleted_at"], sa.literal(AuditAction.UPDATE.value)),
            (upd.c.new_deleted_at.is_(None), sa.literal(AuditAction.RESTORE.value)),
            else_=sa.literal(AuditAction.SOFT_DELETE.value),
        )
    rows = sa.select(
        sa.func.gen_random_uuid(),
        action,
        sa.literal(model.__tablename__),
        sa.cast(upd.c.am_pk, sa.Text),
        _ACTOR,
        sa.func.jsonb_build_object("fields", diff),
    ).where(sa.or_(*changed.values()))
    cols = ["id", "action", "table_name", "row_id", "actor_id", "changes"]
    return audit.insert().from_select(cols, rows).cte("am_audit")


def _update_statement(
    model: type[Any], old: Callable[[], Any], clause: dict[str, Any], source: Any, where: Any
) -> Any:
    """Build the UPDATE statement of a set-based write.

    Audited models get ``UPDATE ... FROM old RETURNING`` with the audit insert as a
    CTE; the others a plain ``UPDATE ... WHERE ... RETURNING`` when ``where`` is given.
    """
    table, pk = model.__table__, _pk(model)
    fields = [f for f in clause if f not in ("version", "updated_at", *model.__audit_exclude__)]
    audited = getattr(model, "__audited__", False) and bool(fields)
    if not audited and where is not None:
        return (
            sa.update(table).where(*where()).values(clause).returning(pk).execution_options(**OWN_VISIBILITY)
        )
    old_cte = old().cte("am_old")
    stmt = sa.update(table).where(pk == old_cte.c.am_pk).values(clause)
    if source is not None:
        stmt = stmt.where(pk == source.c.am_pk)
    if not audited:
        return stmt.returning(pk).execution_options(**OWN_VISIBILITY)
    upd = stmt.returning(
        pk.label("am_pk"),
        *[table.c[f].label(f"new_{f}") for f in fields],
        *[old_cte.c[f].label(f"old_{f}") for f in fields],
    ).cte("am_upd")
    final = sa.select(upd.c.am_pk)
    audit = _audit_insert(model, upd, fields)
    return (final.add_cte(audit) if audit is not None else final).execution_options(**OWN_VISIBILITY)


def run_update(
    qs: QuerySet[Any],
    old: Callable[[], Any],
    clause: dict[str, Any],
    source: Any = None,
    params: dict[str, Any] | None = None,
    key: tuple[Any, ...] | None = None,
    where: Callable[[], Any] | None = None,
) -> list[Any]:
    """Run ``UPDATE ... FROM old`` (and the audit insert) and return the updated keys.

    Args:
        qs: Supplies the model, the session and the filter's bound values.
        old: Builds the SELECT of the key and the old values of the changed fields, FOR UPDATE.
        clause: Column name to new value or SQL expression.
        source: An extra FROM (e.g. VALUES) the clause refers to, joined on the key.
        params: Bound values of ``clause``.
        key: Cache key of the statement's shape; ``None`` builds it afresh.
        where: Builds the QuerySet's own conditions, when it joins nothing: then a
            model that is not audited gets a plain UPDATE, with no lock-and-compare CTE.
    """
    stmt = _UPDATES.get(key) if key is not None else None
    if stmt is None:
        stmt = _update_statement(qs.model, old, clause, source, where)
        if key is not None:
            _UPDATES.put(key, stmt)
    bound = {**qs._params, ACTOR_PARAM: current_actor(), **(params or {})}
    session = qs.session
    with translating():
        session.flush()
        # a Core statement: the session's connection runs it without the ORM's execution layer
        return list(session.connection().execute(stmt, bound).scalars())


def _old_select(qs: QuerySet[Any], fields: Sequence[str]) -> Any:
    if qs._limit is not None or qs._offset:
        raise ValidationError.single("slice", "cannot update or delete a sliced QuerySet", qs.model.__name__)
    table = qs.model.__table__
    cols = [_pk(qs.model).label("am_pk"), *[table.c[f] for f in fields]]
    rows = qs._chain()
    rows._distinct = False  # DISTINCT cannot lock rows, and the keys are distinct anyway
    return rows._statement(*cols, ordered=False).with_for_update(of=table)


def _expire(qs: QuerySet[Any], keys: list[Any], attrs: Sequence[str]) -> None:
    session, model = qs.session, qs.model
    for key in keys:
        obj = session.identity_map.get(identity_key(model, key))
        if obj is not None:
            session.expire(obj, list(attrs))


def update(qs: QuerySet[Any], values: dict[str, Any]) -> int:
    """Update every matching row; see :meth:`QuerySet.update`."""
    if not values:
        raise ValidationError.single("values", "update() needs at least one field", qs.model.__name__)
    shape = qs._cache_key("update")
    if shape is None or any(isinstance(v, (F, ClauseElement)) for v in values.values()):
        clause, params, key = _set_clause(qs, values), None, None
    else:
        clause, params = _bound_set_clause(qs.model, values)
        key = (*shape, tuple(sorted(values)))
    fields = [f for f in clause if f not in ("version", "updated_at")]
    where = None if qs._plan.joins else qs._conditions
    keys = run_update(qs, lambda: _old_select(qs, fields), clause, params=params, key=key, where=where)
    _expire(qs, keys, list(clause))
    return len(keys)


def _bound_set_clause(model: type[Any], values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return a SET clause of bound parameters (one shape for any values) and their validated values."""
    _writable(model, list(values))
    refuse_nulls(model, values)
    cleaned = validate_fields(model, values)
    table = model.__table__
    clause = {name: sa.bindparam(f"am_set_{name}", type_=table.c[name].type) for name in sorted(values)}
    return _bump(model, clause), {f"am_set_{name}": cleaned[name] for name in values}


def delete(qs: QuerySet[Any], hard: bool) -> int:
    """Delete matching rows; see :meth:`QuerySet.delete`."""
    _refuse_append_only(qs.model)
    if qs.soft_delete and not hard:
        live = qs.filter(deleted_at__isnull=True)
        clause = _bump(qs.model, {"deleted_at": sa.func.now()})
        shape = live._cache_key("soft_delete")
        where = None if live._plan.joins else live._conditions
        keys = run_update(live, lambda: _old_select(live, ["deleted_at"]), clause, key=shape, where=where)
        _expire(qs, keys, list(clause))
        return len(keys)
    return _hard_delete(qs)


def _hard_delete(qs: QuerySet[Any]) -> int:
    model, session = qs.model, qs.session
    table, pk = model.__table__, _pk(model)
    with translating():
        session.flush()
        locked = session.execute(_old_select(qs, []).execution_options(**OWN_VISIBILITY), qs._params or None)
        targets = list(locked.scalars())
    if not targets:
        return 0
    _cascade_to_audited_children(qs, targets)
    stmt = sa.delete(table).where(pk.in_(targets))
    with translating():
        if not getattr(model, "__audited__", False):
            keys = list(
                session.execute(
                    stmt.returning(pk).execution_options(**OWN_VISIBILITY), qs._params or None
                ).scalars()
            )
        else:
            gone = stmt.returning(*table.c).cte("am_gone")
            final = sa.select(gone.c[pk.name])
            audit = _delete_audit(model, gone, pk.name)
            final = final.add_cte(audit) if audit is not None else final
            keys = list(
                session.execute(
                    final.execution_options(**OWN_VISIBILITY), {**qs._params, ACTOR_PARAM: current_actor()}
                ).scalars()
            )
    for key in keys:
        obj = session.identity_map.get(identity_key(model, key))
        if obj is not None:
            session.expunge(obj)
    return len(keys)


def _cascade_to_audited_children(qs: QuerySet[Any], keys: list[Any]) -> None:
    """Apply ON DELETE CASCADE / SET NULL of audited child tables through audited writes.

    The database would do it silently; doing it first, row by row through the
    children's own QuerySets, gives every changed child its audit row.
    """
    from assistant_models.core.base import mapper_registry
    from assistant_models.core.query import ALL, QuerySet

    parent = qs.model.__table__
    for mapper in sorted(mapper_registry.mappers, key=lambda m: m.class_.__name__):
        child = mapper.class_
        if not getattr(child, "__audited__", False):
            continue
        for fk in child.__table__.foreign_keys:
            if fk.column.table is not parent or fk.ondelete not in ("CASCADE", "SET NULL"):
                continue
            rows = QuerySet(child, visibility=ALL).using(qs.session).filter(**{f"{fk.parent.key}__in": keys})
            if fk.ondelete == "CASCADE":
                rows.delete(hard=True)
            else:
                rows.update(**{fk.parent.key: None})


def _delete_audit(model: type[Any], gone: Any, pk_name: str) -> Any:
    insert = snapshot_audit(model, gone, pk_name, AuditAction.DELETE, "before", _ACTOR)
    return None if insert is None else insert.cte("am_audit")


AUDIT_COLUMNS = ["id", "action", "table_name", "row_id", "actor_id", "changes"]


def snapshot_audit(
    model: type[Any], rows: Any, pk_name: str, action: AuditAction, side: str, actor: Any, where: Any = None
) -> Any:
    """Return ``INSERT INTO audit_logs ... SELECT`` auditing every row of ``rows`` as a whole snapshot.

    Args:
        model: The audited model (its secret fields are redacted).
        rows: A CTE (``INSERT/DELETE ... RETURNING *``) or an alias of the model's table.
        pk_name: The key column's name.
        action: ``create`` or ``delete``.
        side: ``"after"`` for creates, ``"before"`` for deletes.
        actor: SQL expression of the actor's id.
        where: Optional condition on ``rows``.

    Returns:
        The INSERT statement, or ``None`` when no audit table is mapped.
    """
    from assistant_models.core.events import _audit_table

    audit = _audit_table()
    if audit is None:
        return None
    snapshot: Any = sa.func.to_jsonb(sa.literal_column(rows.name))
    for name in sorted(model.__secret_fields__):
        snapshot = snapshot.op("||")(
            sa.func.jsonb_build_object(sa.literal_column(f"'{name}'"), _REDACTED_JSON)
        )
    select = sa.select(
        sa.func.gen_random_uuid(),
        sa.literal(action.value),
        sa.literal(model.__tablename__),
        sa.cast(rows.c[pk_name], sa.Text),
        actor,
        sa.func.jsonb_build_object(side, snapshot),
    ).select_from(rows)
    if where is not None:
        select = select.where(where)
    return audit.insert().from_select(AUDIT_COLUMNS, select)


def bulk_create(qs: QuerySet[M], objs: Sequence[M], batch_size: int | None) -> list[M]:
    """Insert validated instances with COPY; see :meth:`QuerySet.bulk_create`."""
    objs = list(objs)
    wrong = sorted({type(o).__name__ for o in objs if type(o) is not qs.model})
    if wrong:
        raise ValidationError.single("objs", f"must all be {qs.model.__name__} instances, not {wrong}")
    if not objs:
        return objs
    for obj in objs:
        obj.clean_changes()
    with translating():
        copy_instances(qs.session, qs.model, objs, batch_size)
    return objs


def bulk_update(qs: QuerySet[M], objs: Sequence[M], fields: Sequence[str], batch_size: int | None) -> int:
    """Write ``fields`` of many instances; see :meth:`QuerySet.bulk_update`.

    Only rows the QuerySet sees are written (soft-deleted rows and rows outside
    its filters are left alone); for versioned models a stale instance raises.
    """
    model, objs, fields = qs.model, list(objs), list(fields)
    if not fields:
        raise ValidationError.single("fields", "bulk_update() needs at least one field", model.__name__)
    _writable(model, fields)
    if not objs:
        return 0
    table, pk = model.__table__, _pk(model)  # type: ignore[attr-defined]
    rows = []
    for obj in objs:
        values = {f: getattr(obj, f) for f in fields}
        refuse_nulls(model, values)
        rows.append((getattr(obj, pk.key), *validate_fields(model, values).values()))
    size, total = batch_size or 1000, 0
    for start in range(0, len(rows), size):
        batch = rows[start : start + size]
        scope = qs.filter(pk__in=[r[0] for r in batch])
        _refuse_stale(scope, objs[start : start + size])
        source = sa.values(
            sa.column("am_pk", pk.type), *[sa.column(f, table.c[f].type) for f in fields], name="am_src"
        ).data(batch)
        clause = _bump(model, {f: source.c[f] for f in fields})
        keys = run_update(scope, lambda scope=scope: _old_select(scope, fields), clause, source)  # type: ignore[misc]
        _expire(qs, keys, list(clause))
        total += len(keys)
    return total


def _refuse_stale(scope: QuerySet[Any], objs: Sequence[Any]) -> None:
    """Raise ``ConflictError`` if a versioned instance is older than its row (rows locked meanwhile)."""
    if getattr(scope.model.__mapper__, "version_id_col", None) is None:
        return
    current = dict(scope.select_for_update().values_list("pk", "version"))
    if any(o.id in current and current[o.id] != o.version for o in objs):
        raise ConflictError(
            f"{scope.model.__name__}: a row was changed by another transaction (stale version)", "version"
        )


def _create_params(
    model: type[Any], lookups: dict[str, Any], defaults: dict[str, Any] | None
) -> dict[str, Any]:
    pk = str(sa.inspect(model).primary_key[0].key)
    params = {(pk if k == "pk" else k): v for k, v in lookups.items() if "__" not in k}
    params.update(defaults or {})
    return params


def get_or_create(
    qs: QuerySet[M], defaults: dict[str, Any] | None, lookups: dict[str, Any]
) -> tuple[M, bool]:
    """Return the matching row or create it in a savepoint; see :meth:`QuerySet.get_or_create`."""
    try:
        return qs.get(**lookups), False
    except qs.model.DoesNotExist:
        pass
    session = qs.session
    try:
        with translating(), session.begin_nested():
            obj = qs.model(**_create_params(qs.model, lookups, defaults))
            session.add(obj)
        return obj, True
    except ConflictError as conflict:
        try:  # another transaction created the row first...
            return qs.get(**lookups), False
        except qs.model.DoesNotExist:  # ...or another unique field clashes: that is the error
            raise conflict from None


def update_or_create(
    qs: QuerySet[M], defaults: dict[str, Any] | None, lookups: dict[str, Any]
) -> tuple[M, bool]:
    """Update the matching row with ``defaults`` or create it; see :meth:`QuerySet.update_or_create`."""
    try:
        obj = qs.select_for_update().get(**lookups)
    except qs.model.DoesNotExist:
        return get_or_create(qs, defaults, lookups)
    values = validate_fields(qs.model, dict(defaults or {}))
    for key, value in values.items():
        setattr(obj, key, value)
    with translating():
        qs.session.flush()
    return obj, False
