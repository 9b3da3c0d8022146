"""Set-based updates: ``update()`` and ``bulk_update()``, audited in the same statement.

For audited models the update and its audit rows are one statement (``UPDATE ...
RETURNING`` old and new values, feeding an ``INSERT`` into the audit log), so they share
the transaction and cost no extra round trip. Rows are named by their whole key, so
composite keys work like single ones.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm.util import identity_key
from sqlalchemy.sql.elements import ClauseElement

from assistant_models.core.audit import ACTOR_PARAM, current_actor
from assistant_models.core.audit_sql import diff_audit, key_text
from assistant_models.core.base import refuse_nulls, validate_fields
from assistant_models.core.compiler import Compiler
from assistant_models.core.concerns import Audited, Versioned, concern, concerns_of
from assistant_models.core.direct import direct_rows
from assistant_models.core.events import HANDLED
from assistant_models.core.expressions import Expression, as_expression, is_sql_value
from assistant_models.core.paths import primary_key
from assistant_models.core.persistence import translating
from assistant_models.core.sql_values import compile_value
from assistant_models.core.statements import LRU
from assistant_models.exceptions import ConflictError, FieldError, ValidationError

if TYPE_CHECKING:
    from assistant_models.core.base import AssistantModel
    from assistant_models.core.queryset import QuerySet

__all__ = ["OWN_VISIBILITY", "bulk_update", "check_write", "expire", "old_select", "run_update", "update"]

M = TypeVar("M", bound="AssistantModel")

#: Set-based writes filter soft-deleted rows themselves (through the QuerySet's
#: visibility), so the session-wide listener must not add its criteria again.
OWN_VISIBILITY = {HANDLED: True}
_UPDATES = LRU(512)


def key_columns(model: type[Any]) -> list[sa.Column[Any]]:
    """Return the columns of ``model``'s primary key (several for a composite key)."""
    return list(model.__table__.primary_key.columns)


def key_labels(model: type[Any]) -> list[str]:
    """Return the labels a statement gives the key columns (``am_pk0``, ``am_pk1`` ...)."""
    return [f"am_pk{i}" for i in range(len(key_columns(model)))]


def same_key(model: type[Any], other: Any) -> Any:
    """Return the condition that the table's key equals the ``am_pk<i>`` columns of ``other``."""
    return sa.and_(
        *[c == other.c[label] for c, label in zip(key_columns(model), key_labels(model), strict=True)]
    )


def keys_of(model: type[Any], rows: Any) -> list[Any]:
    """Return the keys of result rows: a value each, or a tuple for a composite key."""
    if len(key_columns(model)) == 1:
        return [row[0] for row in rows]
    return [tuple(row) for row in rows]


def check_write(model: type[Any], operation: str) -> None:
    """Raise if a concern of ``model`` refuses ``operation``."""
    for each in concerns_of(model):
        each.check_write(model, operation)


def audited(model: type[Any]) -> bool:
    """Return whether ``model``'s changes are audited."""
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


def writable(model: type[Any], names: Sequence[str]) -> None:
    """Refuse unknown, key and concern-kept fields as targets of an update."""
    check_write(model, "update")
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
    """Return the SET clause: plain values validated, expressions compiled (``F()`` may name annotations)."""
    model = qs.model
    writable(model, list(values))
    refuse_nulls(model, values)
    plain = {k: v for k, v in values.items() if not isinstance(v, (Expression, ClauseElement))}
    cleaned = validate_fields(model, plain)
    annotations = qs.query.annotations
    clause: dict[str, Any] = {
        name: cleaned[name] if name in cleaned else compile_value(model, name, value, annotations=annotations)
        for name, value in values.items()
    }
    return bump(model, clause)


def bump(model: type[Any], clause: dict[str, Any]) -> dict[str, Any]:
    """Return ``clause`` with what the concerns add to every update (version, modification time)."""
    for each in concerns_of(model):
        each.on_update(model, clause)
    return clause


def _update_statement(
    model: type[Any], old: Callable[[], Any], clause: dict[str, Any], source: Any, where: Any
) -> Any:
    """Build the UPDATE statement of a set-based write.

    Audited models get ``UPDATE ... FROM old RETURNING`` with the audit insert as a
    CTE; the others a plain ``UPDATE ... WHERE ... RETURNING`` when ``where`` is given.
    """
    table, keys, labels = model.__table__, key_columns(model), key_labels(model)
    skipped = {*model.__audit_exclude__, *(f for c in concerns_of(model) for f in c.unaudited())}
    fields = [f for f in clause if f not in skipped]
    is_audited = audited(model) and bool(fields)
    if not is_audited and where is not None:
        plain = sa.update(table).where(*where()).values(clause).returning(*keys)
        return plain.execution_options(**OWN_VISIBILITY)
    old_cte = old().cte("am_old")
    stmt = sa.update(table).where(same_key(model, old_cte)).values(clause)
    if source is not None:
        stmt = stmt.where(same_key(model, source))
    if not is_audited:
        return stmt.returning(*keys).execution_options(**OWN_VISIBILITY)
    upd = stmt.returning(
        *[c.label(label) for c, label in zip(keys, labels, strict=True)],
        *[table.c[f].label(f"new_{f}") for f in fields],
        *[old_cte.c[f].label(f"old_{f}") for f in fields],
    ).cte("am_upd")
    final = sa.select(*[upd.c[label] for label in labels])
    audit = diff_audit(model, upd, fields, key_text([upd.c[label] for label in labels]))
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
        rows = direct_rows(session, stmt, bound) if key is not None else None
        return keys_of(qs.model, session.connection().execute(stmt, bound) if rows is None else rows)


def refuse_unwritable_query(qs: QuerySet[Any], what: str) -> None:
    """Refuse to write through a sliced, combined or DISTINCT ON QuerySet."""
    query = qs.query
    if query.is_sliced:
        raise ValidationError.single("slice", f"cannot {what} a sliced QuerySet", qs.model.__name__)
    if query.combinator is not None or query.distinct_on:
        raise ValidationError.single(
            "query", f"cannot {what} a combined or DISTINCT ON QuerySet", qs.model.__name__
        )


def old_select(qs: QuerySet[Any], fields: Sequence[str]) -> Any:
    """Return the SELECT of the matching rows' key and old values, locking them.

    Annotations stay, unselected, for the conditions that name them.
    """
    refuse_unwritable_query(qs, "update or delete")
    query, model = qs.query, qs.model
    unselected = tuple(replace(a, selected=False) for a in query.annotations)
    compiler = Compiler(query.clone(distinct=False, annotations=unselected, order=()))
    if query.has_aggregate:
        stmt = _grouped_rows(compiler, fields)
    else:
        columns = _old_columns(compiler.entity, model, fields)
        stmt = compiler.select(columns=columns, ordered=False, sliced=False)
    return stmt.with_for_update(of=model.__table__)


def _old_columns(entity: Any, model: type[Any], fields: Sequence[str]) -> list[Any]:
    """Return the labelled key columns and the columns of ``fields``, read through ``entity``."""
    labels = key_labels(model)
    keys = [getattr(entity, k).label(label) for k, label in zip(primary_key(model), labels, strict=True)]
    return [*keys, *[getattr(entity, f) for f in fields]]


def _grouped_rows(compiler: Compiler, fields: Sequence[str]) -> Any:
    """Return the rows of a grouped query named by key: ``WHERE key IN (SELECT key ... GROUP BY ...)``.

    A grouped SELECT cannot lock its rows (nor be joined to an UPDATE): Django's
    ``SQLUpdateCompiler`` names them by key the same way.
    """
    model = compiler.model
    names = primary_key(model)
    keys = [getattr(compiler.entity, k) for k in names]
    grouped = compiler.select(columns=keys, ordered=False, sliced=False).correlate(None)
    own = [getattr(model, k) for k in names]
    target = own[0] if len(own) == 1 else sa.tuple_(*own)
    return sa.select(*_old_columns(model, model, fields)).where(target.in_(grouped))


def plain_where(qs: QuerySet[Any]) -> Callable[[], Any] | None:
    """Return a builder of the WHERE conditions when an UPDATE can use them directly (no joins)."""
    query = qs.query
    if query.annotations or any(leaf.path.hops for node in query.where for leaf in node.leaves()):
        return None
    return lambda: Compiler(query).conditions()[0]


def expire(qs: QuerySet[Any], keys: list[Any], attrs: Sequence[str]) -> None:
    """Expire ``attrs`` of the written rows held by the session, so they reload when read."""
    session, model = qs.session, qs.model
    for key in keys:
        obj = session.identity_map.get(identity_key(model, key))
        if obj is not None:
            session.expire(obj, list(attrs))


def update(qs: QuerySet[Any], values: dict[str, Any]) -> int:
    """Update every matching row; see :meth:`QuerySet.update`."""
    if not values:
        raise ValidationError.single("values", "update() needs at least one field", qs.model.__name__)
    refuse_unwritable_query(qs, "update")
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
    where = plain_where(qs)
    keys = run_update(qs, lambda: old_select(qs, fields), clause, params=params, key=key, where=where)
    expire(qs, keys, list(clause))
    return len(keys)


_SET_CLAUSES = LRU(256)


def _bound_set_clause(model: type[Any], values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return a SET clause of bound parameters (one shape for any values) and their validated values.

    The clause depends on the model and the names only (concerns are declared on the
    class), so it is built and the names checked once per pair; callers only read it.
    """
    names = tuple(sorted(values))
    clause: dict[str, Any] | None = _SET_CLAUSES.get((model, names))
    if clause is None:
        writable(model, names)
        columns = model.__table__.c
        clause = bump(model, {n: sa.bindparam(f"am_set_{n}", type_=columns[n].type) for n in names})
        _SET_CLAUSES.put((model, names), clause)
    refuse_nulls(model, values)
    cleaned = validate_fields(model, values)
    return clause, {f"am_set_{name}": cleaned[name] for name in values}


def check_batch_size(batch_size: int | None) -> int | None:
    """Refuse a batch size that is not a positive integer (``None`` means the default)."""
    if batch_size is not None and (
        isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1
    ):
        raise ValidationError.single("batch_size", "must be a positive integer")
    return batch_size


def _key_of(model: type[Any], obj: Any) -> Any:
    values = tuple(getattr(obj, k) for k in primary_key(model))
    return values[0] if len(values) == 1 else values


def _scope(qs: QuerySet[M], keys: list[Any]) -> QuerySet[M]:
    """Return ``qs`` narrowed to the rows with ``keys``."""
    names = primary_key(qs.model)
    if len(names) == 1:
        return qs.filter(**{f"{names[0]}__in": keys})
    return qs.where(sa.tuple_(*key_columns(qs.model)).in_(keys))


def bulk_update(qs: QuerySet[M], objs: Sequence[M], fields: Sequence[str], batch_size: int | None) -> int:
    """Write ``fields`` of many instances; see :meth:`QuerySet.bulk_update`.

    Only rows the QuerySet sees are written (soft-deleted rows and rows outside
    its filters are left alone); for versioned models a stale instance raises.
    """
    model, objs, fields = qs.model, list(objs), list(fields)
    if not fields:
        raise ValidationError.single("fields", "bulk_update() needs at least one field", model.__name__)
    writable(model, fields)
    check_batch_size(batch_size)
    if not objs:
        return 0
    table, keys, labels = model.__table__, key_columns(model), key_labels(model)  # type: ignore[attr-defined]
    rows = []
    for obj in objs:
        values = {f: getattr(obj, f) for f in fields}
        _refuse_sql(model, values)
        refuse_nulls(model, values)
        key = _key_of(model, obj)
        rows.append((*(key if isinstance(key, tuple) else (key,)), *validate_fields(model, values).values()))
    size, total = batch_size or 1000, 0
    for start in range(0, len(rows), size):
        batch = rows[start : start + size]
        batch_objs = objs[start : start + size]
        scope = _scope(qs, [_key_of(model, o) for o in batch_objs])
        _refuse_stale(scope, batch_objs)
        source = sa.values(
            *[sa.column(label, c.type) for label, c in zip(labels, keys, strict=True)],
            *[sa.column(f, table.c[f].type) for f in fields],
            name="am_src",
        ).data(batch)
        clause = bump(model, {f: source.c[f] for f in fields})
        written = run_update(scope, lambda scope=scope: old_select(scope, fields), clause, source)  # type: ignore[misc]
        expire(qs, written, list(clause))
        total += len(written)
    return total


def _refuse_sql(model: type[Any], values: dict[str, Any]) -> None:
    """Refuse SQL expressions in ``bulk_update()``, whose rows travel as VALUES (data, never SQL)."""
    errors = [
        {"field": name, "message": "bulk_update() writes values, not SQL expressions: use update() or save()"}
        for name, value in values.items()
        if is_sql_value(value)
    ]
    if errors:
        raise ValidationError(errors, model.__name__)


def _refuse_stale(scope: QuerySet[Any], objs: Sequence[Any]) -> None:
    """Raise ``ConflictError`` if a versioned instance is older than its row (rows locked meanwhile)."""
    versioned = concern(scope.model, Versioned)
    if versioned is None:
        return
    names, column = primary_key(scope.model), versioned.column
    current = {
        (row[0] if len(names) == 1 else tuple(row[:-1])): row[-1]
        for row in scope.select_for_update().values_list(*names, column)
    }
    for obj in objs:
        key = _key_of(scope.model, obj)
        if key in current and current[key] != getattr(obj, column):
            raise ConflictError(
                f"{scope.model.__name__}: a row was changed by another transaction (stale version)", column
            )
