"""Single-row inserts in one round trip, the audit row included.

``Model.objects.create()`` sends one statement: ``INSERT ... RETURNING`` the
server-made values, with the audit row written by a data-modifying CTE of the
same statement. The statement is built once per model and per set of columns
left to their server defaults. Instances that carry related objects (rather than
their keys) go through the ORM's flush, which orders the inserts.
"""

from __future__ import annotations

from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from assistant_models.core.audit import ACTOR_PARAM, AuditAction, current_actor
from assistant_models.core.events import HANDLED
from assistant_models.core.persistence import translating
from assistant_models.core.statements import LRU

__all__ = ["insert_one"]

T = TypeVar("T")

_INSERTS = LRU(256)


def _build(model: type[Any], omitted: tuple[str, ...]) -> Any:
    from assistant_models.core.writes import snapshot_audit

    table: sa.Table = model.__table__
    columns = [c for c in table.columns if c.key not in omitted]
    stmt = sa.insert(table).values({c.key: sa.bindparam(f"am_v_{c.key}", type_=c.type) for c in columns})
    pk = table.primary_key.columns[0]
    returned = [table.c[k] for k in omitted] or [pk]
    if not getattr(model, "__audited__", False):
        return stmt.returning(*returned)
    inserted = stmt.returning(*table.c).cte("am_new")
    actor = sa.bindparam(ACTOR_PARAM, type_=sa.Uuid())
    audit = snapshot_audit(model, inserted, pk.name, AuditAction.CREATE, "after", actor)
    final = sa.select(*[inserted.c[c.name] for c in returned])
    return final.add_cte(audit.cte("am_audit")) if audit is not None else final


def insert_one(session: Session, obj: T) -> T:
    """Insert the validated, transient ``obj`` and attach it to ``session`` as persistent."""
    model: Any = type(obj)
    values = obj.__dict__
    if any(key in values for key in model.__sqlmodel_relationships__):
        with translating():
            session.add(obj)
            session.flush()
        return obj
    table: sa.Table = model.__table__
    omitted = tuple(
        c.key for c in table.columns if values.get(c.key) is None and c.server_default is not None
    )
    key = (model, omitted)
    stmt = _INSERTS.get(key)
    if stmt is None:
        stmt = _build(model, omitted)
        _INSERTS.put(key, stmt)
    params = {f"am_v_{c.key}": values.get(c.key) for c in table.columns if c.key not in omitted}
    params[ACTOR_PARAM] = current_actor()
    with translating():
        session.flush()  # rows this one may refer to go first
        row = session.execute(stmt, params, execution_options={HANDLED: True}).one()
    make_transient_to_detached(obj)
    session.add(obj)
    for name in omitted:
        set_committed_value(obj, name, row._mapping[table.c[name].name])
    return obj
