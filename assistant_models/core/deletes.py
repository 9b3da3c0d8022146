"""Set-based deletes: soft (a concern's mark) or hard, with cascades to audited children.

Hard deletes return the removed rows to the statement that audits them, so each
deleted row gets its audit row in the same statement.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm.util import identity_key

from assistant_models.core.audit import ACTOR_PARAM, AuditAction, current_actor
from assistant_models.core.audit_sql import ACTOR, snapshot_audit
from assistant_models.core.base import mapper_registry
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
    _cascade_to_audited_children(qs, targets, counts)
    stmt = sa.delete(table).where((keys[0] if len(keys) == 1 else sa.tuple_(*keys)).in_(targets))
    with translating():
        if not audited(model):
            result = session.execute(stmt.returning(*keys).execution_options(**OWN_VISIBILITY))
        else:
            gone = stmt.returning(*table.c).cte("am_gone")
            final = sa.select(*[gone.c[c.name] for c in keys])
            audit = snapshot_audit(model, gone, AuditAction.DELETE, "before", ACTOR)
            final = final.add_cte(audit.cte("am_audit")) if audit is not None else final
            result = session.execute(
                final.execution_options(**OWN_VISIBILITY), {ACTOR_PARAM: current_actor()}
            )
        removed = keys_of(model, result)
    for key in removed:
        obj = session.identity_map.get(identity_key(model, key))
        if obj is not None:
            session.expunge(obj)
    counts[model.__name__] += len(removed)


def _cascade_to_audited_children(qs: QuerySet[Any], keys: list[Any], counts: Counter[str]) -> None:
    """Apply ON DELETE CASCADE / SET NULL of audited child tables through audited writes.

    The database would do it silently; doing it first, row by row through the
    children's own QuerySets, gives every changed child its audit row.
    """
    parent = qs.model.__table__
    parent_keys = [c.name for c in key_columns(qs.model)]
    for mapper in sorted(mapper_registry.mappers, key=lambda m: m.class_.__name__):
        child = mapper.class_
        if not audited(child):
            continue
        for fk in child.__table__.foreign_key_constraints:
            if fk.referred_table is not parent or fk.ondelete not in ("CASCADE", "SET NULL"):
                continue
            positions = [parent_keys.index(e.column.name) for e in fk.elements]
            if len(positions) == 1:
                values = [k if len(parent_keys) == 1 else k[positions[0]] for k in keys]
                rows = (
                    qs.of(child, ALL).using(qs.session).filter(**{f"{fk.elements[0].parent.key}__in": values})
                )
            else:
                pairs = [tuple(k[i] for i in positions) for k in keys]
                rows = qs.of(child, ALL).using(qs.session).where(sa.tuple_(*fk.columns).in_(pairs))
            if fk.ondelete == "CASCADE":
                counts.update(rows.delete(hard=True)[1])
            else:
                rows.update(**{e.parent.key: None for e in fk.elements})
