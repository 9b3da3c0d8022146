"""Single-row inserts in one round trip, the audit row included.

``Model.objects.create()`` sends one statement: ``INSERT ... RETURNING`` the
server-made values, with the audit row written by a data-modifying CTE of the
same statement. The statement is built once per model and per set of columns
left to their server defaults. Instances that carry related objects (rather than
their keys) go through the ORM's flush, which orders the inserts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from assistant_models.core.audit import ACTOR_PARAM, AuditAction, current_actor
from assistant_models.core.audit_sql import snapshot_audit
from assistant_models.core.base import sql_fields
from assistant_models.core.columns import server_filled, written_columns
from assistant_models.core.concerns import Audited, concern, concerns_of
from assistant_models.core.copy import audit_rows
from assistant_models.core.direct import direct_rows
from assistant_models.core.events import HANDLED
from assistant_models.core.persistence import translating
from assistant_models.core.sql_values import compile_fields
from assistant_models.core.statements import LRU

if TYPE_CHECKING:
    from assistant_models.core.writes import Conflicts

__all__ = ["insert_many", "insert_one"]

T = TypeVar("T")

_INSERTS = LRU(256)


def _build(model: type[Any], omitted: tuple[str, ...]) -> Any:
    table: sa.Table = model.__table__
    columns = [c for c in written_columns(table) if c.key not in omitted]
    stmt = sa.insert(table).values({c.key: sa.bindparam(f"am_v_{c.key}", type_=c.type) for c in columns})
    pk = table.primary_key.columns[0]
    returned = [table.c[k] for k in omitted] or [pk]
    if concern(model, Audited) is None:
        return stmt.returning(*returned)
    inserted = stmt.returning(*table.c).cte("am_new")
    actor = sa.bindparam(ACTOR_PARAM, type_=sa.Uuid())
    audit = snapshot_audit(model, inserted, AuditAction.CREATE, "after", actor)
    final = sa.select(*[inserted.c[c.name] for c in returned])
    return final.add_cte(audit.cte("am_audit")) if audit is not None else final


_COLUMNS: dict[sa.Table, tuple[tuple[str, str, bool], ...]] = {}


def _insert_columns(table: sa.Table) -> tuple[tuple[str, str, bool], ...]:
    """Return each written column's key, parameter name and whether the server can fill it (cached)."""
    columns = _COLUMNS.get(table)
    if columns is None:
        columns = _COLUMNS[table] = tuple(
            (c.key, f"am_v_{c.key}", server_filled(c)) for c in written_columns(table)
        )
    return columns


def insert_one(session: Session, obj: T) -> T:
    """Insert the validated, transient ``obj`` and attach it to ``session`` as persistent."""
    model: Any = type(obj)
    values = obj.__dict__
    computed = sql_fields(obj)
    if computed or any(key in values for key in model.__sqlmodel_relationships__):
        # the flush orders related rows first, and sends SQL values as SQL (reloaded when read)
        compile_fields(obj, computed, inserting=True)
        with translating():
            session.add(obj)
            session.flush()
        return obj
    columns = _insert_columns(model.__table__)
    omitted = tuple(key for key, _, filled in columns if filled and values.get(key) is None)
    stmt = _INSERTS.get((model, omitted))
    if stmt is None:
        stmt = _build(model, omitted)
        _INSERTS.put((model, omitted), stmt)
    params = {name: values.get(key) for key, name, _ in columns if key not in omitted}
    params[ACTOR_PARAM] = current_actor()
    with translating():
        session.flush()  # rows this one may refer to go first
        rows = direct_rows(session, stmt, params)
        if rows is None:
            rows = list(session.execute(stmt, params, execution_options={HANDLED: True}))
    (row,) = rows
    # before the object gets its identity: the key may be among them
    for name, value in zip(omitted, row, strict=False):
        set_committed_value(obj, name, value)
    make_transient_to_detached(obj)
    session.add(obj)
    return obj


def insert_many(
    session: Session, model: type[Any], objs: Sequence[Any], batch_size: int | None, conflicts: Conflicts
) -> None:
    """INSERT validated instances with ``RETURNING``: for keys made by the server and for upserts.

    Columns the server fills (defaults, identity keys) are left out for the objects that
    do not set them: objects are sent in groups by the columns they leave to the server,
    so an object with its own key and one without go in the same call (Django's
    ``objs_with_pk`` and ``objs_without_pk``). The values the server made are set on the
    objects, which are then attached to ``session`` as persistent. With
    ``ignore_conflicts`` only the rows actually inserted are attached.
    """
    filled = [c.key for c in written_columns(model.__table__) if server_filled(c)]
    groups: dict[frozenset[str], list[Any]] = {}
    for obj in objs:
        omitted = frozenset(k for k in filled if obj.__dict__.get(k) is None)
        groups.setdefault(omitted, []).append(obj)
    for omitted, group in groups.items():
        _insert_group(session, model, group, omitted, batch_size, conflicts)


def _insert_group(
    session: Session,
    model: type[Any],
    objs: Sequence[Any],
    omitted: frozenset[str],
    batch_size: int | None,
    conflicts: Conflicts,
) -> None:
    """INSERT objects that all leave the ``omitted`` columns to the server; see :func:`insert_many`."""
    table: sa.Table = model.__table__
    dicts = [o.__dict__ for o in objs]
    writable = written_columns(table)
    columns = [c for c in writable if c.key not in omitted]
    returned = [
        *table.primary_key.columns,
        *(c for c in writable if c.key in omitted and not c.primary_key),
    ]
    stmt: Any = pg_insert(table)
    if conflicts.ignore:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(conflicts.unique_fields) or None)
    elif conflicts.update:
        stmt = _upsert(model, stmt, conflicts)
    rows = [{c.key: d.get(c.key) for c in columns} for d in dicts]
    session.flush()
    if any(sql_fields(o) for o in objs):
        returned_rows = _insert_computed(session, model, stmt, returned, objs, rows)
    else:
        many = stmt.returning(*returned, sort_by_parameter_order=not conflicts.ignore)
        returned_rows = _insert_rows(session, many, rows, batch_size or 1000)
    kept = _apply_returned(objs, returned, returned_rows, conflicts.ignore)
    if concern(model, Audited) is not None and kept:
        audit_rows(session, model, kept)
    for obj in kept:
        held = session.identity_map.get(sa.inspect(model).identity_key_from_instance(obj))
        if held is not None:  # an upsert changed a row already in hand: it reloads on next access
            session.expire(held)
            continue
        make_transient_to_detached(obj)
        session.add(obj)


def _insert_rows(session: Session, stmt: Any, rows: list[dict[str, Any]], size: int) -> list[Any]:
    """Send ``rows`` through ``stmt`` in batches of ``size``; return the rows it returned, in order."""
    returned: list[Any] = []
    for start in range(0, len(rows), size):
        result = session.execute(stmt, rows[start : start + size], execution_options={HANDLED: True})
        returned.extend(result.all())
    return returned


def _insert_computed(
    session: Session, model: type[Any], stmt: Any, returned: list[Any], objs: Sequence[Any], rows: list[Any]
) -> list[Any]:
    """INSERT rows some of whose values are SQL, a statement per row; their computed values are set.

    Django sends such rows with their expressions compiled into the VALUES; each row
    here also returns what its expressions made, so the instance holds the stored value.
    """
    table: sa.Table = model.__table__
    result: list[Any] = []
    for obj, row in zip(objs, rows, strict=True):
        computed = [n for n in sql_fields(obj) if n in row]  # compiled by bulk_create already
        one = stmt.values(row).returning(*returned, *(table.c[n] for n in computed))
        for found in session.execute(one, execution_options={HANDLED: True}).all():
            result.append(found[: len(returned)])
            obj.__dict__.update(zip(computed, found[len(returned) :], strict=True))
    return result


def _upsert(model: type[Any], stmt: Any, conflicts: Conflicts) -> Any:
    excluded = stmt.excluded
    values: dict[str, Any] = {f: excluded[f] for f in conflicts.update_fields}
    for each in concerns_of(model):
        each.on_update(model, values)
    target = [("id" if f == "pk" else f) for f in conflicts.unique_fields] or None
    return stmt.on_conflict_do_update(index_elements=target, set_=values)


def _apply_returned(objs: Sequence[Any], returned: list[Any], rows: list[Any], ignored: bool) -> list[Any]:
    """Set server-made values on the objects; return the objects whose rows exist now."""
    if not ignored:
        for obj, row in zip(objs, rows, strict=True):
            for column, value in zip(returned, row, strict=True):
                obj.__dict__[column.key] = value
        return list(objs)
    pks = [c.key for c in returned if c.primary_key]
    inserted = {tuple(row[: len(pks)]) for row in rows}
    return [o for o in objs if tuple(o.__dict__.get(k) for k in pks) in inserted]
