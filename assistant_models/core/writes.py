"""Set-based writes: update, delete, bulk_create, bulk_update, get_or_create.

For audited models the audit rows are written by the same statement as the change
(PostgreSQL data-modifying CTEs), so they share its transaction and cost no extra
round trip.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm.util import identity_key
from sqlalchemy.sql.elements import ClauseElement

from assistant_models.core.audit import ACTOR_PARAM, REDACTED, AuditAction, current_actor
from assistant_models.core.base import refuse_nulls, validate_fields
from assistant_models.core.compiler import Compiler
from assistant_models.core.concerns import ALL, Audited, SoftDelete, Versioned, concern, concerns_of
from assistant_models.core.copy import copy_instances
from assistant_models.core.events import HANDLED
from assistant_models.core.expressions import Expression, as_expression
from assistant_models.core.inserts import insert_many, insert_one
from assistant_models.core.paths import PathError, describe, primary_key
from assistant_models.core.persistence import translating
from assistant_models.core.query import Query
from assistant_models.core.statements import LRU
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

#: Set-based writes filter soft-deleted rows themselves (through the QuerySet's
#: visibility), so the session-wide listener must not add its criteria again.
OWN_VISIBILITY = {HANDLED: True}


class Conflicts(NamedTuple):
    """What ``bulk_create`` does with rows that collide with existing ones."""

    ignore: bool = False
    update: bool = False
    unique_fields: tuple[str, ...] = ()
    update_fields: tuple[str, ...] = ()


def _pks(model: type[Any]) -> list[sa.Column[Any]]:
    return list(model.__table__.primary_key.columns)


def _pk(model: type[Any]) -> sa.Column[Any]:
    return _pks(model)[0]


def _check_write(model: type[Any], operation: str) -> None:
    for each in concerns_of(model):
        each.check_write(model, operation)


def _audited(model: type[Any]) -> bool:
    return concern(model, Audited) is not None


def _relation_values(model: type[Any], values: dict[str, Any]) -> dict[str, Any]:
    """Return ``values`` with relation names (``assignee=user``) turned into their key columns."""
    mapper = sa.inspect(model)
    result: dict[str, Any] = {}
    for name, value in values.items():
        rel = mapper.relationships.get(name)
        if rel is None or rel.uselist:
            result[name] = value
            continue
        local = next(iter(rel.local_columns))
        key = str(mapper.get_property_by_column(local).key)
        target = rel.mapper.class_
        if value is not None and not isinstance(value, (target, Expression, ClauseElement)):
            raise ValidationError.single(
                name, f"must be a {target.__name__} instance or None", model.__name__
            )
        if isinstance(value, target):
            value = getattr(value, primary_key(target)[0])
            if value is None:
                raise ValidationError.single(name, f"the {target.__name__} is not saved yet", model.__name__)
        result[key] = value
    return result


def _writable(model: type[Any], names: Sequence[str]) -> None:
    _check_write(model, "update")
    table, problems = model.__table__, []
    protected = {f for c in concerns_of(model) for f in c.protected(model)}
    for name in names:
        if name not in table.c or name not in model.model_fields:
            problems.append(f"{name!r}: {model.__name__} has no field {name!r}")
        elif table.c[name].primary_key:
            problems.append(f"{name!r} is the primary key and cannot be updated")
        elif name in protected:
            problems.append(f"{name!r} is kept by the model itself and cannot be set")
    if problems:
        raise FieldError(problems, model.__name__)


def _set_clause(qs: QuerySet[Any], values: dict[str, Any]) -> dict[str, Any]:
    model = qs.model
    _writable(model, list(values))
    refuse_nulls(model, values)
    plain = {k: v for k, v in values.items() if not isinstance(v, (Expression, ClauseElement))}
    cleaned = validate_fields(model, plain)
    compiler = Compiler(Query(model, ALL))
    clause: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, Expression):
            _refuse_joined_references(model, value)
            value = value.resolve(compiler)
        clause[name] = cleaned.get(name, value)
    return _bump(model, clause)


def _refuse_joined_references(model: type[Any], expression: Expression) -> None:
    """Refuse ``update(x=F("relation__field"))``: an UPDATE cannot join (Django refuses it too)."""
    from assistant_models.core.expressions import F, OuterRef

    problems = []
    for each in expression.walk():
        if isinstance(each, F) and not isinstance(each, OuterRef):
            try:
                path = describe(model, each.name)
            except PathError as exc:
                problems.append(str(exc))
                continue
            if path.hops:
                problems.append(f"{each.name!r}: joined field references are not allowed in update()")
    if problems:
        raise FieldError(problems, model.__name__)


def _bump(model: type[Any], clause: dict[str, Any]) -> dict[str, Any]:
    for each in concerns_of(model):
        each.on_update(model, clause)
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
    soft = concern(model, SoftDelete)
    if soft is not None and soft.column in fields:
        action = sa.case(
            (~changed[soft.column], sa.literal(AuditAction.UPDATE.value)),
            (upd.c[f"new_{soft.column}"].is_(None), sa.literal(AuditAction.RESTORE.value)),
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
    skipped = {*model.__audit_exclude__, *(f for c in concerns_of(model) for f in c.unaudited())}
    fields = [f for f in clause if f not in skipped]
    audited = _audited(model) and bool(fields)
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
    bound = {**qs.query.params, ACTOR_PARAM: current_actor(), **(params or {})}
    session = qs.session
    with translating():
        session.flush()
        # a Core statement: the session's connection runs it without the ORM's execution layer
        return list(session.connection().execute(stmt, bound).scalars())


def _refuse_unwritable_query(qs: QuerySet[Any], what: str) -> None:
    query = qs.query
    if query.is_sliced:
        raise ValidationError.single("slice", f"cannot {what} a sliced QuerySet", qs.model.__name__)
    if query.combinator is not None or query.distinct_on:
        raise ValidationError.single(
            "query", f"cannot {what} a combined or DISTINCT ON QuerySet", qs.model.__name__
        )


def _old_select(qs: QuerySet[Any], fields: Sequence[str]) -> Any:
    """Return the SELECT of the matching rows' key and old values, locking them."""
    _refuse_unwritable_query(qs, "update or delete")
    compiler = Compiler(qs.query.clone(distinct=False, annotations=(), order=()))
    table = qs.model.__table__
    entity = compiler.entity
    cols = [getattr(entity, primary_key(qs.model)[0]).label("am_pk"), *[getattr(entity, f) for f in fields]]
    stmt = compiler.select(columns=cols, ordered=False, sliced=False)
    return stmt.with_for_update(of=table)


def _plain_where(qs: QuerySet[Any]) -> Callable[[], Any] | None:
    """Return a builder of the WHERE conditions when an UPDATE can use them directly (no joins)."""
    compiler = Compiler(qs.query)
    where, having = compiler.conditions()
    if compiler.joins or having or qs.query.annotations:
        return None
    return lambda: where


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
    _refuse_unwritable_query(qs, "update")
    if qs.query.empty:
        return 0
    values = _relation_values(qs.model, values)
    values = {k: as_expression(v) if isinstance(v, ClauseElement) else v for k, v in values.items()}
    shape = qs.query.shape
    if shape is None or any(isinstance(v, Expression) for v in values.values()):
        clause, params, key = _set_clause(qs, values), None, None
    else:
        clause, params = _bound_set_clause(qs.model, values)
        key = ("update", shape, tuple(sorted(values)))
    fields = [f for f in clause if f in values]
    where = _plain_where(qs)
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


def delete(qs: QuerySet[Any], hard: bool) -> tuple[int, dict[str, int]]:
    """Delete matching rows; see :meth:`QuerySet.delete`."""
    _check_write(qs.model, "delete")
    _refuse_unwritable_query(qs, "delete")
    if qs.query.empty:
        return 0, {}
    counts: Counter[str] = Counter()
    soft = concern(qs.model, SoftDelete)
    if soft is not None and not hard:
        live = qs.filter(**{f"{soft.column}__isnull": True})
        clause = _bump(qs.model, soft.mark())
        shape = live.query.shape
        key = None if shape is None else ("soft_delete", shape)
        keys = run_update(
            live, lambda: _old_select(live, [soft.column]), clause, key=key, where=_plain_where(live)
        )
        _expire(qs, keys, list(clause))
        counts[qs.model.__name__] += len(keys)
    else:
        _hard_delete(qs, counts)
    counts = Counter({k: v for k, v in counts.items() if v})
    return sum(counts.values()), dict(counts)


def _hard_delete(qs: QuerySet[Any], counts: Counter[str]) -> None:
    model, session = qs.model, qs.session
    table, pk = model.__table__, _pk(model)
    with translating():
        session.flush()
        locked = session.execute(
            _old_select(qs, []).execution_options(**OWN_VISIBILITY), qs.query.params or None
        )
        targets = list(locked.scalars())
    if not targets:
        return
    _cascade_to_audited_children(qs, targets, counts)
    stmt = sa.delete(table).where(pk.in_(targets))
    with translating():
        if not _audited(model):
            keys = list(session.execute(stmt.returning(pk).execution_options(**OWN_VISIBILITY)).scalars())
        else:
            gone = stmt.returning(*table.c).cte("am_gone")
            final = sa.select(gone.c[pk.name])
            audit = _delete_audit(model, gone, pk.name)
            final = final.add_cte(audit) if audit is not None else final
            keys = list(
                session.execute(
                    final.execution_options(**OWN_VISIBILITY), {ACTOR_PARAM: current_actor()}
                ).scalars()
            )
    for key in keys:
        obj = session.identity_map.get(identity_key(model, key))
        if obj is not None:
            session.expunge(obj)
    counts[model.__name__] += len(keys)


def _cascade_to_audited_children(qs: QuerySet[Any], keys: list[Any], counts: Counter[str]) -> None:
    """Apply ON DELETE CASCADE / SET NULL of audited child tables through audited writes.

    The database would do it silently; doing it first, row by row through the
    children's own QuerySets, gives every changed child its audit row.
    """
    from assistant_models.core.base import mapper_registry

    parent = qs.model.__table__
    for mapper in sorted(mapper_registry.mappers, key=lambda m: m.class_.__name__):
        child = mapper.class_
        if not _audited(child):
            continue
        for fk in child.__table__.foreign_keys:
            if fk.column.table is not parent or fk.ondelete not in ("CASCADE", "SET NULL"):
                continue
            rows = qs.of(child, ALL).using(qs.session).filter(**{f"{fk.parent.key}__in": keys})
            if fk.ondelete == "CASCADE":
                counts.update(rows.delete(hard=True)[1])
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
    for column in model.__table__.columns:  # generated columns (a search vector) are no data
        if column.computed is not None:
            snapshot = snapshot.op("-")(sa.literal_column(f"'{column.name}'"))
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


def _check_batch_size(batch_size: int | None) -> int | None:
    if batch_size is not None and (
        isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1
    ):
        raise ValidationError.single("batch_size", "must be a positive integer")
    return batch_size


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
    """Validate and insert one row; see :meth:`QuerySet.create`."""
    return insert_one(qs.session, qs.model(**values))


def bulk_create(qs: QuerySet[M], objs: Sequence[M], batch_size: int | None, conflicts: Conflicts) -> list[M]:
    """Insert validated instances; see :meth:`QuerySet.bulk_create`."""
    objs = list(objs)
    _check_batch_size(batch_size)
    wrong = sorted({type(o).__name__ for o in objs if type(o) is not qs.model})
    if wrong:
        raise ValidationError.single("objs", f"must all be {qs.model.__name__} instances, not {wrong}")
    _check_conflicts(qs.model, conflicts)
    if not objs:
        return objs
    for obj in objs:
        obj.clean_changes()
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
    with translating():
        if conflicts.ignore or conflicts.update or keys_made_by_server:
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
    if problems:
        raise FieldError(problems, model.__name__)


def bulk_update(qs: QuerySet[M], objs: Sequence[M], fields: Sequence[str], batch_size: int | None) -> int:
    """Write ``fields`` of many instances; see :meth:`QuerySet.bulk_update`.

    Only rows the QuerySet sees are written (soft-deleted rows and rows outside
    its filters are left alone); for versioned models a stale instance raises.
    """
    model, objs, fields = qs.model, list(objs), list(fields)
    if not fields:
        raise ValidationError.single("fields", "bulk_update() needs at least one field", model.__name__)
    _writable(model, fields)
    _check_batch_size(batch_size)
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
    versioned = concern(scope.model, Versioned)
    if versioned is None:
        return
    pk, column = primary_key(scope.model)[0], versioned.column
    current = dict(scope.select_for_update().values_list("pk", column))
    if any(getattr(o, pk) in current and current[getattr(o, pk)] != getattr(o, column) for o in objs):
        raise ConflictError(
            f"{scope.model.__name__}: a row was changed by another transaction (stale version)", "version"
        )


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
