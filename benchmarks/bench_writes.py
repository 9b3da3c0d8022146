"""The write operations: insert, update, bulk_create, bulk ingest."""

from __future__ import annotations

import enum
import io
import secrets
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg2
import psycopg2.extras
import sqlalchemy as sa
from bench_harness import (
    BASE,
    PLAIN_ORM,
    Bench,
    Call,
    PlainSession,
    PlainTask,
    Setup,
    _Plain,
    clean_scratch,
    live_or_raise,
    sql,
    vacuum,
)
from sqlalchemy.orm import Session

from assistant_models.models import AuthSession, Task, TaskStatus

# ----------------------------------------------------------------------------- writes


@dataclass(frozen=True)
class Kind:
    """A written model, the plain mapping of its table, and how to make one row of it.

    ``row(user, i)`` holds the columns a caller sets; the key and the timestamps come from
    their defaults, so every contender writes the same row.
    """

    model: Any
    plain: type[_Plain]
    field: str  # the column the update changes
    row: Callable[[uuid.UUID, int], dict[str, Any]]

    @property
    def table(self) -> sa.Table:
        return self.model.__table__

    @property
    def versioned(self) -> bool:
        return "version" in self.table.c

    @property
    def soft_delete(self) -> bool:
        return "deleted_at" in self.table.c

    def raw(self, values: Mapping[str, Any]) -> list[Any]:
        """Return the row for psycopg2, which cannot adapt enum members."""
        return [v.value if isinstance(v, enum.Enum) else v for v in values.values()]


EXPIRES = datetime.now(UTC) + timedelta(days=30)


def _session_row(user: uuid.UUID, i: int) -> dict[str, Any]:
    return {
        "user_id": user,
        "token_hash": secrets.token_hex(32),
        "expires_at": EXPIRES,
        "ip_address": "10.1.2.3",
        "user_agent": f"bench-agent/{i}",
    }


def _task_row(user: uuid.UUID, i: int) -> dict[str, Any]:
    return {
        "title": f"bench task {i}",
        "status": TaskStatus.PENDING,
        "priority": 5,
        "assignee_id": user,
        "retry_count": 0,
        "max_retries": 3,
    }


AUTH_SESSION = Kind(AuthSession, PlainSession, "user_agent", _session_row)
AUDITED_TASK = Kind(Task, PlainTask, "title", _task_row)


def _insert_sql(kind: Kind, returning: str) -> str:
    cols = list(kind.row(uuid.uuid4(), 0))
    placeholders = ", ".join(["%s"] * len(cols))
    return f"INSERT INTO {kind.table.name} ({', '.join(cols)}) VALUES ({placeholders}) RETURNING {returning}"


def insert_paths(b: Bench, kind: Kind) -> dict[str, Call]:
    engine, raw, user, cur, table = b.engine, b.raw, b.scratch, b.raw.cursor(), kind.table
    stmt = sa.insert(table).returning(table.c.id, table.c.created_at, table.c.updated_at)
    insert_sql = _insert_sql(kind, "id, created_at, updated_at")

    def managers(i: int) -> object:
        with b.db.session():
            return kind.model.objects.create(**kind.row(user, i))

    def sa_orm(i: int) -> object:
        with Session(engine) as s:
            obj = kind.plain(**kind.row(user, i))
            s.add(obj)
            s.commit()
            return obj

    def sa_core(i: int) -> object:
        with engine.begin() as c:
            return c.execute(stmt, kind.row(user, i)).one()

    def raw_pg(i: int) -> object:
        cur.execute(insert_sql, kind.raw(kind.row(user, i)))
        row = cur.fetchone()
        raw.commit()
        return row

    return {"managers": managers, "sa_orm": sa_orm, "sa_core": sa_core, BASE: raw_pg}


def _audit_rows(b: Bench, table: str) -> int | None:
    """Return how many audit rows name ``table``, or ``None`` if the audit log cannot say."""
    try:
        return int(sql(b.raw, "SELECT count(*) FROM audit_logs WHERE table_name = %s", (table,))[0][0])
    except psycopg2.Error:
        b.raw.rollback()
        return None


def _audit_check(b: Bench, kind: Kind) -> Callable[[list[str]], None]:
    """Return a check, run after the operation, that says whether it wrote audit rows."""
    table = kind.table.name
    before = _audit_rows(b, table)

    def after(notes: list[str]) -> None:
        now = _audit_rows(b, table)
        if before is None or now is None:
            notes.append("audit log not readable: cannot tell whether the managers audited")
        else:
            audited = "yes" if now > before else "no"
            notes.append(f"audited by the managers: {audited} ({now - before} audit rows for {table})")
        clean_scratch(b)
        vacuum(b.raw, table)

    return after


def setup_insert(b: Bench, kind: Kind = AUTH_SESSION) -> Setup:
    notes = [f"{kind.model.__name__}.objects.create(...) vs the same columns; all return key and timestamps"]
    return Setup(insert_paths(b, kind), notes, _audit_check(b, kind), kind.table.name)


def update_targets(b: Bench, kind: Kind, count: int = 200) -> list[uuid.UUID]:
    """Insert ``count`` scratch rows of ``kind`` for the updates to rotate over; return their keys."""
    rows = [kind.raw(kind.row(b.scratch, i)) for i in range(count)]
    sql_text = _insert_sql(kind, "id").replace(f"VALUES ({', '.join(['%s'] * len(rows[0]))})", "VALUES %s")
    with b.raw.cursor() as cur:
        keys = psycopg2.extras.execute_values(cur, sql_text, rows, fetch=True)
    b.raw.commit()
    return [k[0] for k in keys]


def _where_live(kind: Kind, entity: Any, key: uuid.UUID) -> list[Any]:
    conds = [entity.id == key]
    return [*conds, entity.deleted_at.is_(None)] if kind.soft_delete else conds


def update_paths(b: Bench, kind: Kind, ids: list[uuid.UUID]) -> dict[str, Call]:
    engine, raw, cur, name = b.engine, b.raw, b.raw.cursor(), kind.field
    table, plain = kind.table, kind.plain
    bump = ", version = version + 1" if kind.versioned else ""
    live = " AND deleted_at IS NULL" if kind.soft_delete else ""
    update_sql = f"UPDATE {table.name} SET {name} = %s{bump}, updated_at = now() WHERE id = %s{live}"

    def values(entity: Any, i: int) -> dict[str, Any]:
        bumped = {"version": entity.version + 1} if kind.versioned else {}
        return {name: f"changed {i}", "updated_at": sa.func.now(), **bumped}

    def managers(i: int) -> object:
        with b.db.session():
            return kind.model.objects.filter(pk=ids[i % len(ids)]).update(**{name: f"changed {i}"})

    def orm_load(i: int) -> object:
        with Session(engine) as s:
            obj = s.get(plain, ids[i % len(ids)], execution_options=PLAIN_ORM)
            if kind.soft_delete:
                live_or_raise(obj)
            setattr(obj, name, f"changed {i}")
            s.commit()
            return obj

    def orm_stmt(i: int) -> object:
        stmt = sa.update(plain).where(*_where_live(kind, plain, ids[i % len(ids)])).values(values(plain, i))
        with Session(engine) as s:
            count = s.execute(stmt).rowcount
            s.commit()
            return count

    def sa_core(i: int) -> object:
        stmt = (
            sa.update(table).where(*_where_live(kind, table.c, ids[i % len(ids)])).values(values(table.c, i))
        )
        with engine.begin() as c:
            return c.execute(stmt).rowcount

    def raw_pg(i: int) -> object:
        cur.execute(update_sql, (f"changed {i}", ids[i % len(ids)]))
        raw.commit()
        return cur.rowcount

    return {
        "managers": managers,
        "sa_orm": orm_load,
        "sa_orm (update stmt)": orm_stmt,
        "sa_core": sa_core,
        BASE: raw_pg,
    }


def setup_update(b: Bench, kind: Kind = AUTH_SESSION) -> Setup:
    notes = [
        f"managers: {kind.model.__name__}.objects.filter(pk=...).update({kind.field}=...); sa_orm: get, set "
        "attribute, commit; sa_orm (update stmt): ORM update(); sa_core: update(); psycopg2: UPDATE",
    ]
    return Setup(
        update_paths(b, kind, update_targets(b, kind)), notes, _audit_check(b, kind), kind.table.name
    )


# ------------------------------------------------------------------------------- bulk


def _rows(b: Bench, rep: int, kind: Kind) -> list[dict[str, Any]]:
    return [kind.row(b.scratch, k) for k in range(200 if rep < 0 else b.plan.bulk_rows)]


def bulk_create_paths(b: Bench, kind: Kind) -> dict[str, Call]:
    """Insert objects and fetch their keys; the objects or rows are built inside the timing."""
    engine, raw, table = b.engine, b.raw, kind.table
    stmt = sa.insert(table).returning(table.c.id)
    cols = list(kind.row(b.scratch, 0))
    values_sql = f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES %s RETURNING id"

    def managers(rep: int) -> int:
        with b.db.session():
            objs = kind.model.objects.bulk_create([kind.model(**r) for r in _rows(b, rep, kind)])
            return len([o.id for o in objs])

    def sa_orm(rep: int) -> int:
        with Session(engine) as s:
            objs = [kind.plain(**r) for r in _rows(b, rep, kind)]
            s.add_all(objs)
            s.flush()
            keys = [o.id for o in objs]
            s.commit()
            return len(keys)

    def sa_core(rep: int) -> int:
        with engine.begin() as c:
            return len(c.execute(stmt, _rows(b, rep, kind)).scalars().all())

    def raw_pg(rep: int) -> int:
        rows = [kind.raw(r) for r in _rows(b, rep, kind)]
        with raw.cursor() as cur:
            keys = psycopg2.extras.execute_values(cur, values_sql, rows, page_size=1000, fetch=True)
        raw.commit()
        return len(keys)

    return {"managers": managers, "sa_orm": sa_orm, "sa_core": sa_core, BASE: raw_pg}


def setup_bulk_create(b: Bench, kind: Kind = AUTH_SESSION) -> Setup:
    notes = [
        f"{b.plan.bulk_rows:,} {kind.model.__name__} rows; managers: "
        f"bulk_create([{kind.model.__name__}(**row) ...]); sa_orm: add_all + flush; "
        "sa_core: insert().returning(id) executemany; psycopg2 (base): "
        "execute_values(..., page_size=1000, fetch=True) RETURNING id; building objects/rows is timed",
    ]
    return Setup(bulk_create_paths(b, kind), notes, _audit_check(b, kind), kind.table.name)


#: Names a future dict-ingest method of the managers may have; the first one present is timed.
INGEST_METHODS = ("bulk_insert", "copy_from", "ingest")


def managers_ingest_api(kind: Kind) -> tuple[str, Callable[[list[dict[str, Any]]], object]]:
    """Return the label and the call of the managers' fastest way to store plain dicts."""
    manager = kind.model.objects
    for name in INGEST_METHODS:
        method = getattr(manager, name, None)
        if callable(method):
            return f"{kind.model.__name__}.objects.{name}(rows)", method
    label = f"{kind.model.__name__}.objects.bulk_create([{kind.model.__name__}(**row) for row in rows])"
    return label, lambda rows: manager.bulk_create([kind.model(**r) for r in rows])


def _copy_text(rows: list[dict[str, Any]]) -> io.StringIO:
    """Return ``rows`` in COPY's text format (tab-separated, ``\\N`` for NULL, escaped)."""

    def cell(value: Any) -> str:
        if value is None:
            return r"\N"
        text = value.value if isinstance(value, enum.Enum) else str(value)
        return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")

    return io.StringIO("".join("\t".join(cell(v) for v in r.values()) + "\n" for r in rows))


def ingest_paths(b: Bench, kind: Kind, dicts: dict[bool, list[dict[str, Any]]]) -> dict[str, Call]:
    """Store plain dicts by each contender's fastest path; no keys asked back."""
    engine, raw, table = b.engine, b.raw, kind.table
    _label, ingest = managers_ingest_api(kind)
    copy_sql = f"COPY {table.name} ({', '.join(dicts[True][0])}) FROM STDIN"

    def managers(rep: int) -> int:
        rows = dicts[rep < 0]
        with b.db.session():
            ingest(rows)
        return len(rows)

    def sa_orm(rep: int) -> int:
        rows = dicts[rep < 0]
        with Session(engine) as s:
            s.execute(sa.insert(kind.plain), rows)  # the ORM's bulk INSERT of dicts
            s.commit()
        return len(rows)

    def sa_core(rep: int) -> int:
        rows = dicts[rep < 0]
        with engine.begin() as c:
            c.execute(sa.insert(table), rows)  # executemany, batched by insertmanyvalues
        return len(rows)

    def raw_pg(rep: int) -> int:
        rows = dicts[rep < 0]
        with raw.cursor() as cur:
            cur.copy_expert(copy_sql, _copy_text(rows))
        raw.commit()
        return len(rows)

    return {"managers": managers, "sa_orm": sa_orm, "sa_core": sa_core, BASE: raw_pg}


def setup_ingest(b: Bench, kind: Kind = AUTH_SESSION) -> Setup:
    # The dicts are the caller's input, so they are built once, before the timing.
    dicts = {True: _rows(b, -1, kind), False: _rows(b, 0, kind)}
    label, _ = managers_ingest_api(kind)
    notes = [
        f"{b.plan.bulk_rows:,} plain dicts into {kind.table.name}; managers timed: {label}",
        "sa_orm: session.execute(insert(Plain), rows); sa_core: execute(insert(table), rows); "
        "psycopg2 (base): COPY FROM STDIN, text built inside the timing",
    ]
    return Setup(ingest_paths(b, kind, dicts), notes, _audit_check(b, kind), kind.table.name)
