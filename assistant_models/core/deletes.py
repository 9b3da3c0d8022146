"""Set-based deletes: soft (a concern's mark) or hard, counting the rows removed by cascade.

Hard deletes return the removed rows to the statement that audits them, so each
deleted row gets its audit row in the same statement; the rows the database removes
through ``ON DELETE CASCADE`` are deleted by CTEs of that statement and counted
(Django's ``delete()`` counts, see :mod:`assistant_models.core.cascades`).
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm.util import identity_key

from assistant_models.core.audit import ACTOR_PARAM, AuditAction, current_actor
from assistant_models.core.audit_sql import ACTOR, snapshot_audit
from assistant_models.core.cascades import (
    Cascade,
    cascade_ctes,
    hooked,
    is_cascade,
    missing_extensions,
    plan,
    returned_columns,
)
from assistant_models.core.concerns import ALL, SoftDelete, concern
from assistant_models.core.persistence import translating
from assistant_models.core.updates import (
    OWN_VISIBILITY,
    audited,
    bump,
    check_write,
    expire,
    key_columns,
    keys_of,
    old_select,
    plain_where,
    refuse_unwritable_query,
    run_update,
)

if TYPE_CHECKING:
    from assistant_models.core.queryset import QuerySet

__all__ = ["delete"]


def delete(qs: QuerySet[Any], hard: bool) -> tuple[int, dict[str, int]]:
    """Delete matching rows; see :meth:`QuerySet.delete`."""
    check_write(qs.model, "delete")
    refuse_unwritable_query(qs, "delete")
    if qs.query.empty:
        return 0, {}
    counts: Counter[str] = Counter()
    soft = concern(qs.model, SoftDelete)
    if soft is not None and not hard:
        live = qs.filter(**{f"{soft.column}__isnull": True})
        clause = bump(qs.model, soft.mark())
        shape = live.query.shape
        key = None if shape is None else ("soft_delete", shape)
        keys = run_update(
            live, lambda: old_select(live, [soft.column]), clause, key=key, where=plain_where(live)
        )
        expire(qs, keys, list(clause))
        counts[qs.model.__name__] += len(keys)
    else:
        _hard_delete(qs, counts)
    counts = Counter({k: v for k, v in counts.items() if v})
    return sum(counts.values()), dict(counts)


def _hard_delete(qs: QuerySet[Any], counts: Counter[str]) -> None:
    model, session = qs.model, qs.session
    table, keys = model.__table__, key_columns(model)
    with translating():
        session.flush()
        locked = session.execute(
            old_select(qs, []).execution_options(**OWN_VISIBILITY), qs.query.params or None
        )
        targets = keys_of(model, locked)
    if not targets:
        return
    _delete_children_with_hooks(qs, targets, counts)
    stmt = sa.delete(table).where((keys[0] if len(keys) == 1 else sa.tuple_(*keys)).in_(targets))
    nodes = plan(table, missing_extensions(session))
    with translating():
        if nodes or audited(model):
            removed = _delete_with_cascades(qs, stmt, nodes)
        else:  # the common case: one plain statement
            result = session.execute(stmt.returning(*keys).execution_options(**OWN_VISIBILITY))
            removed = [(model, model.__name__, keys_of(model, result))]
    for each, name, gone in removed:
        counts[name] += len(gone)
        for key in gone if each is not None else ():
            obj = session.identity_map.get(identity_key(each, key))
            if obj is not None:
                session.expunge(obj)


def _delete_with_cascades(
    qs: QuerySet[Any], stmt: Any, nodes: tuple[Cascade, ...]
) -> list[tuple[type[Any] | None, str, list[Any]]]:
    """Run the parent's DELETE with its cascades' CTEs and its audit insert, as one statement.

    Returns:
        ``(model, count key, removed keys)`` per table: the parent first, then each cascade.
    """
    model, table = qs.model, qs.model.__table__
    is_audited = audited(model)
    gone = stmt.returning(*(table.c if is_audited else returned_columns(table, nodes))).cte("am_gone")
    parts: list[tuple[Cascade, Any]] = []
    cascade_ctes(gone, nodes, parts)
    sources = [(table, gone), *[(node.table, cte) for node, cte in parts]]
    final = _removed_rows(sources)
    params = {}
    if is_audited:
        audit = snapshot_audit(model, gone, AuditAction.DELETE, "before", ACTOR)
        final = final.add_cte(audit.cte("am_audit")) if audit is not None else final
        params[ACTOR_PARAM] = current_actor()
    rows = qs.session.execute(final.execution_options(**OWN_VISIBILITY), params)
    removed: list[tuple[type[Any] | None, str, list[Any]]] = [(model, model.__name__, [])]
    removed += [(node.model, node.name, []) for node, _ in parts]
    starts = [1]
    for each, _ in sources:
        starts.append(starts[-1] + len(each.primary_key.columns))
    for row in rows:
        i = row[0]
        key = tuple(row[starts[i] : starts[i + 1]])
        removed[i][2].append(key[0] if len(key) == 1 else key)
    return removed


def _removed_rows(sources: list[tuple[sa.Table, Any]]) -> Any:
    """Return the UNION ALL of the keys each CTE removed, tagged with the CTE's position.

    Each table's key has columns of its own (NULL in the other tables' rows), so the
    keys keep their types and the identity map can find the objects they name.
    """
    selects = []
    for i, (_, cte) in enumerate(sources):
        columns: list[Any] = [sa.literal_column(str(i), sa.Integer).label("am_src")]
        for j, (table, _) in enumerate(sources):
            for n, key in enumerate(table.primary_key.columns):
                value = cte.c[key.name] if i == j else sa.cast(sa.null(), key.type)
                columns.append(value.label(f"am_k{j}_{n}"))
        selects.append(sa.select(*columns))
    return selects[0] if len(selects) == 1 else sa.union_all(*selects)


def _delete_children_with_hooks(qs: QuerySet[Any], keys: list[Any], counts: Counter[str]) -> None:
    """Apply ON DELETE CASCADE / SET NULL of children with hooks through their own QuerySets.

    The database would do it silently; doing it first, through the children's own
    QuerySets, gives every changed child its audit row. Children without hooks are
    deleted (and counted) in the parent's own statement (see :mod:`.cascades`).
    """
    parent = qs.model.__table__
    for child, fk in hooked(parent, missing_extensions(qs.session)):
        rows = _referring(qs.of(child, ALL).using(qs.session), fk, keys)
        if child.__table__ is parent:  # a tree: the rows being deleted go in the parent's own statement
            rows = rows.where(sa.not_(_key_in(qs.model, keys)))
        if is_cascade(fk):
            counts.update(rows.delete(hard=True)[1])
        else:
            rows.update(**{e.parent.key: None for e in fk.elements})


def _key_in(model: type[Any], keys: list[Any]) -> Any:
    """Return the condition that ``model``'s key is one of ``keys``."""
    columns = key_columns(model)
    return (columns[0] if len(columns) == 1 else sa.tuple_(*columns)).in_(keys)


def _referring(rows: QuerySet[Any], fk: sa.ForeignKeyConstraint, keys: list[Any]) -> QuerySet[Any]:
    """Return ``rows`` narrowed to those whose ``fk`` refers to one of the parent's ``keys``."""
    parent_keys = [c.name for c in fk.referred_table.primary_key.columns]
    positions = [parent_keys.index(e.column.name) for e in fk.elements]
    values = keys
    if len(parent_keys) > 1:  # the foreign key's part of each composite key
        values = [k[positions[0]] if len(positions) == 1 else tuple(k[i] for i in positions) for k in keys]
    columns = [e.parent for e in fk.elements]
    return rows.where((columns[0] if len(columns) == 1 else sa.tuple_(*columns)).in_(values))
