"""COPY-based bulk insert: the fastest way into PostgreSQL, with keys made on the client."""

from __future__ import annotations

import enum
import io
import uuid
from collections.abc import Callable, Sequence
from datetime import date, datetime
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.types import TypeDecorator
from sqlalchemy.util import await_

from assistant_models.core.audit import ACTOR_PARAM, AuditAction, current_actor
from assistant_models.core.audit_sql import ACTOR, snapshot_audit
from assistant_models.core.columns import written_columns
from assistant_models.core.concerns import Audited, Timestamped, concern, concerns_of
from assistant_models.core.types import json_dumps

__all__ = ["audit_keys", "audit_rows", "copy_instances", "copy_text", "send_copy"]

_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
NULL = "\\N"
#: The dialect decorated types see while their values are written by COPY.
_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]


def _text(value: Any) -> str:
    text = str(value)
    if text.isprintable() and "\\" not in text:  # two scans in C: most text needs no escape
        return text
    return text.translate(_ESCAPES)


def _uuid_text(value: Any) -> str:
    # 32 hex digits: PostgreSQL reads a UUID without its hyphens, and this is 5x cheaper to make
    return value.hex if isinstance(value, uuid.UUID) else str(value)


def _json_text(value: Any) -> str:
    return _text(json_dumps(value))


def _enum_text(value: Any) -> str:
    return _text(value.value if isinstance(value, enum.Enum) else value)


def _bool_text(value: Any) -> str:
    return "t" if value else "f"


def _temporal_text(value: Any) -> str:
    return value.isoformat() if isinstance(value, (datetime, date)) else _text(value)


def _processed(kind: TypeDecorator[Any]) -> Callable[[Any], str]:
    """Return the encoder of a decorated type: its own ``process_bind_param`` first, as on INSERT."""
    inner = _encoder_of(kind.impl_instance)
    process = kind.process_bind_param

    def encode(value: Any) -> str:
        stored = process(value, _DIALECT)
        return NULL if stored is None else inner(stored)

    return encode


def _encoder(col: sa.Column[Any]) -> Callable[[Any], str]:
    return _encoder_of(col.type)


def _encoder_of(kind: sa.types.TypeEngine[Any]) -> Callable[[Any], str]:
    if isinstance(kind, TypeDecorator):
        if type(kind).process_bind_param is not TypeDecorator.process_bind_param:
            return _processed(kind)
        return _encoder_of(kind.impl_instance)
    if isinstance(kind, (sa.JSON,)) or kind.__class__.__name__ == "JSONB":
        return _json_text
    if isinstance(kind, sa.Enum):
        return _enum_text
    if isinstance(kind, sa.Boolean):
        return _bool_text
    if isinstance(kind, (sa.DateTime, sa.Date)):
        return _temporal_text
    if isinstance(kind, sa.Uuid):
        return _uuid_text
    if isinstance(kind, sa.Integer):
        return str  # its text never holds a tab, newline or backslash
    return _text


@cache
def _plan(
    table: sa.Table, omit: tuple[str, ...] = ()
) -> tuple[str, tuple[tuple[str, Callable[[Any], str]], ...]]:
    columns = [c for c in written_columns(table) if c.key not in omit]  # omitted: server defaults
    cols = tuple((c.key, _encoder(c)) for c in columns)
    names = ", ".join(f'"{c.name}"' for c in columns)
    return f"COPY {table.name} ({names}) FROM STDIN", cols


def copy_text(
    table: sa.Table, rows: Sequence[dict[str, Any]], omit: tuple[str, ...] = ()
) -> tuple[str, list[str], str]:
    """Return the COPY statement, the column keys it writes and ``rows`` as its text payload.

    Every written column but those in ``omit`` (left to their server defaults) is
    encoded by its type, a decorated type's own ``process_bind_param`` first.
    """
    sql, cols = _plan(table, omit)
    # column by column: one loop per column costs less than one call per row and column
    columns = [[NULL if (v := r.get(key)) is None else encode(v) for r in rows] for key, encode in cols]
    payload = "\n".join(map("\t".join, zip(*columns, strict=True))) + "\n"
    return sql, [name for name, _encode in cols], payload


def _copy(
    session: Session, table: sa.Table, rows: Sequence[dict[str, Any]], omit: tuple[str, ...] = ()
) -> None:
    sql, columns, payload = copy_text(table, rows, omit)
    send_copy(session, table, columns, sql, payload)


def send_copy(session: Session, table: sa.Table, columns: list[str], sql: str, payload: str) -> None:
    """Send ``payload`` (COPY text format) into ``table`` through whichever driver the session uses.

    psycopg2 gets ``copy_expert(sql, ...)``; asyncpg gets ``copy_to_table(...)``,
    awaited through SQLAlchemy's greenlet bridge (the caller runs inside it). A
    driver error is wrapped as SQLAlchemy would wrap it, so ``translating()`` reads
    its SQLSTATE like any other.
    """
    from sqlalchemy.exc import DBAPIError

    driver = session.connection().connection.dbapi_connection
    if session.get_bind().dialect.is_async:
        raw: Any = driver.driver_connection  # type: ignore[union-attr]
        names = [table.c[key].name for key in columns]
        # a memoryview, since asyncpg would take plain bytes for a file path
        source = memoryview(payload.encode())
        try:
            await_(
                raw.copy_to_table(
                    table.name, source=source, columns=names, schema_name=table.schema, format="text"
                )
            )
        except Exception as exc:  # asyncpg's errors have no common base importable without it
            if not hasattr(exc, "sqlstate"):
                raise
            raise DBAPIError.instance(sql, None, exc, Exception, hide_parameters=True) from exc
        return
    import psycopg2

    cursor = driver.cursor()  # type: ignore[union-attr]
    try:
        cursor.copy_expert(sql, io.StringIO(payload))
    except psycopg2.Error as exc:  # raw driver call: wrap it as SQLAlchemy would, for translating()
        raise DBAPIError.instance(sql, None, exc, psycopg2.Error, hide_parameters=True) from exc
    finally:
        cursor.close()


def _timestamps(model: type[Any]) -> list[Timestamped]:
    return [c for c in concerns_of(model) if isinstance(c, Timestamped)]


def copy_instances(session: Session, model: type[Any], objs: Sequence[Any], batch_size: int | None) -> None:
    """COPY validated instances of ``model`` into its table and attach them to ``session``.

    Server-side timestamps are filled with the transaction's ``now()``, which is what
    the column defaults would have given. Audited models get their audit rows by COPY too.
    """
    table: sa.Table = model.__table__
    session.flush()
    now = session.execute(sa.select(sa.func.now())).scalar_one()
    stamped = [c for t in _timestamps(model) for c in (t.created, t.updated) if c in table.c]
    rows = []
    for obj in objs:
        values = obj.__dict__
        for name in stamped:
            if values.get(name) is None:
                values[name] = now  # the state dict itself: the row is not written yet
        rows.append(values)
    size = batch_size or 50_000
    for start in range(0, len(rows), size):
        _copy(session, table, rows[start : start + size])
    if concern(model, Audited) is not None:
        audit_rows(session, model, objs)
    for obj in objs:
        make_transient_to_detached(obj)
    session.add_all(objs)


def audit_rows(session: Session, model: type[Any], objs: Sequence[Any]) -> None:
    """Write the create audit rows of freshly inserted instances in one server-side INSERT ... SELECT."""
    keys = list(model.__table__.primary_key.columns)
    if len(keys) == 1:
        audit_keys(session, model, [getattr(o, keys[0].key) for o in objs])
    else:
        audit_keys(session, model, [tuple(getattr(o, k.key) for k in keys) for o in objs])


def audit_keys(session: Session, model: type[Any], values: Sequence[Any]) -> None:
    """Write the create audit rows of the freshly inserted rows with primary keys ``values``.

    ``values`` holds one key per row: the value itself, or a tuple for a composite key.
    """
    table: sa.Table = model.__table__
    keys = list(table.primary_key.columns)
    rows = table.alias("am_rows")
    if len(keys) == 1:
        where = rows.c[keys[0].name] == sa.any_(sa.bindparam("am_keys", type_=ARRAY(keys[0].type)))
    else:
        where = sa.tuple_(*[rows.c[k.name] for k in keys]).in_(sa.bindparam("am_keys", expanding=True))
    insert = snapshot_audit(model, rows, AuditAction.CREATE, "after", ACTOR, where)
    if insert is not None:
        session.execute(insert, {"am_keys": list(values), ACTOR_PARAM: current_actor()})
