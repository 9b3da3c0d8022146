"""Time the same database work through four paths and print what each layer adds.

Paths, all in one run against one database:

* ``managers``: ``Task.objects...`` inside ``db.session()`` units of work;
* ``sa_orm``: plain SQLAlchemy ORM sessions on the same engine, over a plain mapping
  of the same tables (the package's models would bring its validation, audit and
  soft-delete listeners into the baseline);
* ``sa_core``: SQLAlchemy Core on the same engine;
* ``psycopg2``: raw psycopg2 on one connection.

Run from the repository root (see ``benchmarks/README.md``)::

    PYTHONPATH=. python benchmarks/bench.py              # full run
    PYTHONPATH=. python benchmarks/bench.py --quick      # smoke run, under a minute
    PYTHONPATH=. python benchmarks/bench.py --ops get,update --profile

The database is ``$BENCH_DATABASE_URL`` when set, else ``assistant_models_bench`` on
the embedded server (created and migrated if missing). Seeded rows are kept between
runs; the rows each run writes are deleted again.
"""

from __future__ import annotations

import argparse
import cProfile
import enum
import gc
import itertools
import os
import platform
import pstats
import secrets
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg2
import psycopg2.extras
import sqlalchemy as sa
import sqlmodel
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, registry

from assistant_models import Database
from assistant_models.core.events import INCLUDE_DELETED
from assistant_models.models import AuthSession, Task, TaskStatus, User

BENCH_DATABASE = "assistant_models_bench"
SEED_VERSION = 1
PAGER = "bench_pager"  # owns the paged tasks; its meta is the seed marker
SCRATCH = "bench_scratch"  # owns every row a run writes; emptied before and after
NOISE_USERS = 4
LIVE_TASKS = 12_000  # page 500 of 20 needs 10,000
DELETED_TASKS = 600  # hidden by the soft-delete filter, interleaved with live ones
NOISE_TASKS = 2_000  # per noise user, so the index serves more than one assignee
PER_PAGE = 20
DEEP_PAGE = 500
BULK_ROWS = 10_000
OPS = ("get", "latest", "insert", "update", "bulk", "paginate")

TASKS: sa.Table = Task.__table__
SESSIONS: sa.Table = AuthSession.__table__
SELECT_TASK = ", ".join(c.name for c in TASKS.c)
LIVE_OF = "FROM tasks WHERE assignee_id = %s AND deleted_at IS NULL"
LATEST_SQL = f"SELECT {SELECT_TASK} {LIVE_OF} ORDER BY created_at DESC LIMIT %s"
PAGE_SQL = f"SELECT {SELECT_TASK} {LIVE_OF} ORDER BY created_at DESC, id DESC LIMIT %s"  # the cursor's order

#: The package installs a process-wide ``do_orm_execute`` listener that adds soft-delete
#: criteria to every ORM SELECT not marked as handled, whatever its model. This option
#: turns it off for the plain ORM's reads, so ``sa_orm`` measures SQLAlchemy alone.
PLAIN_ORM = {INCLUDE_DELETED: True}


@dataclass(frozen=True)
class Plan:
    """How much to repeat; ``--quick`` shrinks it."""

    calls: int
    write_calls: int
    page_calls: int
    warmup: int
    bulk_reps: int


FULL = Plan(calls=1000, write_calls=500, page_calls=300, warmup=50, bulk_reps=5)
QUICK = Plan(calls=60, write_calls=40, page_calls=20, warmup=5, bulk_reps=1)


# -------------------------------------------------------------------- plain mapping


class _Plain:
    def __init__(self, **values: Any) -> None:
        for key, value in values.items():
            setattr(self, key, value)


class PlainTask(_Plain):
    """``tasks`` mapped by plain SQLAlchemy, with the same optimistic version column."""


class PlainSession(_Plain):
    """``auth_sessions`` mapped by plain SQLAlchemy."""


def map_plain_models() -> None:
    """Map the plain classes once, in a registry of their own."""
    plain = registry()
    plain.map_imperatively(PlainTask, TASKS, version_id_col=TASKS.c.version)
    plain.map_imperatively(PlainSession, SESSIONS)
    plain.configure()


# ------------------------------------------------------------------------- database


@dataclass
class Bench:
    """Everything an operation needs: both connections, the seeded keys, the plan."""

    db: Database
    raw: Any
    plan: Plan
    pager: uuid.UUID
    scratch: uuid.UUID
    sample: list[uuid.UUID]
    notes: list[str] = field(default_factory=list)

    @property
    def engine(self) -> sa.Engine:
        return self.db.engine


def open_database(durable: bool) -> Database:
    """Return the benchmark database, created on the embedded server if needed, migrated.

    Unless ``durable``, its connections run with ``synchronous_commit=off``: a commit
    then returns without waiting for the WAL flush, a wait that is the same for
    every path and, on a slow disk, large enough to drown what the layers add.
    """
    url = os.environ.get("BENCH_DATABASE_URL")
    if not url:
        server = Database()
        try:
            with server.engine.connect() as conn:
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")  # CREATE DATABASE needs it
                found = conn.execute(
                    sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": BENCH_DATABASE}
                )
                if found.scalar() is None:
                    conn.exec_driver_sql(f'CREATE DATABASE "{BENCH_DATABASE}"')
            url = server.engine.url.set(database=BENCH_DATABASE).render_as_string(hide_password=False)
        finally:
            server.dispose()
    if not durable:
        parsed = make_url(url)
        options = f"{parsed.query.get('options') or ''} -c synchronous_commit=off".strip()
        url = parsed.update_query_dict({"options": options}).render_as_string(hide_password=False)
    db = Database(url)
    db.migrate()
    return db


def raw_connection(db: Database) -> Any:
    """Return one psycopg2 connection to the same database, UUIDs as ``uuid.UUID``."""
    cargs, cparams = db.engine.dialect.create_connect_args(db.engine.url)
    conn = psycopg2.connect(*cargs, **cparams)
    psycopg2.extras.register_uuid(conn_or_curs=conn)
    return conn


def sql(raw: Any, statement: str, params: Any = None) -> list[Any]:
    """Run one statement on the raw connection, commit, and return its rows (if any)."""
    with raw.cursor() as cur:
        cur.execute(statement, params)
        rows = cur.fetchall() if cur.description else []
    raw.commit()
    return rows


def vacuum(raw: Any, *tables: str) -> None:
    """VACUUM ANALYZE ``tables`` (outside any transaction, as VACUUM requires)."""
    raw.autocommit = True
    try:
        with raw.cursor() as cur:
            cur.execute(f"VACUUM ANALYZE {', '.join(tables)}")
    finally:
        raw.autocommit = False


def clean_scratch(raw: Any, scratch: uuid.UUID) -> None:
    """Delete every row a run wrote: scratch tasks, their audit rows, scratch sessions.

    The audit log is append-only (a trigger refuses DELETE); its scratch rows are
    removed with the trigger off for this one transaction, which needs a superuser.
    Without one they are kept.
    """
    try:
        with raw.cursor() as cur:
            cur.execute("SET LOCAL session_replication_role = replica")
            cur.execute(
                "DELETE FROM audit_logs a USING tasks t WHERE t.assignee_id = %s "
                "AND a.table_name = 'tasks' AND a.row_id = t.id::text",
                (scratch,),
            )
        raw.commit()
    except psycopg2.errors.InsufficientPrivilege:
        raw.rollback()
    sql(raw, "DELETE FROM tasks WHERE assignee_id = %s", (scratch,))
    sql(raw, "DELETE FROM auth_sessions WHERE user_id = %s", (scratch,))


# --------------------------------------------------------------------------- seeding


def _user(username: str) -> User:
    found = User.objects.filter(username=username).first()
    if found is not None:
        return found
    return User.objects.create_user(f"{username}@bench.example.com", username, "bench-password")


def _marker() -> dict[str, int]:
    return {"bench_seed": SEED_VERSION, "live": LIVE_TASKS, "deleted": DELETED_TASKS, "noise": NOISE_TASKS}


def _seed_tasks(assignee: uuid.UUID, live: int, deleted: int, start: datetime) -> None:
    """Bulk-create tasks one second apart (distinct ``created_at``), every n-th soft-deleted."""
    every = (live + deleted) // deleted if deleted else 0
    batch: list[Task] = []
    for i in range(live + deleted):
        created = start - timedelta(seconds=i)
        gone = created + timedelta(hours=1) if every and i % every == every - 1 else None
        batch.append(
            Task(title=f"seeded task {i}", assignee_id=assignee, created_at=created, deleted_at=gone)
        )
        if len(batch) == 5000:
            Task.objects.bulk_create(batch)
            batch = []
    Task.objects.bulk_create(batch)


def seed(db: Database, raw: Any) -> tuple[uuid.UUID, uuid.UUID, str]:
    """Return the pager and scratch user ids; seed the paged tasks unless the marker matches."""
    with db.session():
        pager = _user(PAGER)
        scratch = _user(SCRATCH)
    live = sql(raw, f"SELECT count(*) {LIVE_OF}", (pager.id,))[0][0]
    if pager.meta == _marker() and live == LIVE_TASKS:
        return pager.id, scratch.id, "reused seeded data"
    started = time.perf_counter()
    noise = [f"bench_noise_{n}" for n in range(NOISE_USERS)]
    sql(
        raw,
        "DELETE FROM tasks WHERE assignee_id IN (SELECT id FROM users WHERE username = ANY(%s))",
        ([PAGER, *noise],),
    )
    base = datetime.now(UTC) - timedelta(days=1)
    with db.session():
        _seed_tasks(pager.id, LIVE_TASKS, DELETED_TASKS, base)
        for name in noise:
            _seed_tasks(_user(name).id, NOISE_TASKS, 0, base - timedelta(minutes=7))
        User.objects.filter(pk=pager.id).update(meta=_marker())
    vacuum(raw, "tasks", "users", "audit_logs")
    return pager.id, scratch.id, f"seeded in {time.perf_counter() - started:.1f} s"


# -------------------------------------------------------------------------- measuring


@dataclass(frozen=True)
class Timing:
    """Per-call samples of one path, in nanoseconds."""

    label: str
    samples: list[int]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def p90(self) -> float:
        ordered = sorted(self.samples)
        return float(ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))])


@dataclass
class Result:
    """One operation's timings, the label of its base path (psycopg2), and the unit to print in."""

    key: str
    title: str
    timings: list[Timing]
    base: str = "psycopg2"
    unit: str = "µs"
    notes: list[str] = field(default_factory=list)

    def get(self, label: str) -> Timing:
        return next(t for t in self.timings if t.label == label)

    def overhead(self, label: str) -> float:
        return self.get(label).median - self.get(self.base).median


Call = Callable[[int], object]


def measure(fns: Mapping[str, Call], calls: int, warmup: int, block: int = 25) -> list[Timing]:
    """Time ``calls`` calls of each function, interleaved in blocks so drift hits every path alike.

    Each call gets a distinct integer, so writes can make unique values from it.
    """
    counter = itertools.count()
    for fn in fns.values():
        for _ in range(warmup):
            fn(next(counter))
    samples: dict[str, list[int]] = {name: [] for name in fns}
    order = list(fns)
    done = 0
    while done < calls:
        size = min(block, calls - done)
        for name in order:
            fn, out = fns[name], samples[name]
            for _ in range(size):
                i = next(counter)
                started = time.perf_counter_ns()
                fn(i)
                out.append(time.perf_counter_ns() - started)
        done += size
        order = order[1:] + order[:1]  # no path always runs right after another
    return [Timing(name, values) for name, values in samples.items()]


# ------------------------------------------------------------------------------ reads


def _one(obj: Any) -> Any:
    if obj is None or obj.deleted_at is not None:
        raise LookupError("no live row with that key")
    return obj


def op_get(b: Bench) -> list[Result]:
    ids, engine, cur = b.sample, b.engine, b.raw.cursor()
    get_sql = f"SELECT {SELECT_TASK} FROM tasks WHERE id = %s AND deleted_at IS NULL"

    def managers(i: int) -> object:
        with b.db.session():
            return Task.objects.get(pk=ids[i % len(ids)])

    def sa_orm(i: int) -> object:
        with Session(engine) as s:
            return _one(s.get(PlainTask, ids[i % len(ids)], execution_options=PLAIN_ORM))

    def sa_core(i: int) -> object:
        stmt = sa.select(TASKS).where(TASKS.c.id == ids[i % len(ids)], TASKS.c.deleted_at.is_(None))
        with engine.connect() as c:
            return c.execute(stmt).one()

    def raw_pg(i: int) -> object:
        cur.execute(get_sql, (ids[i % len(ids)],))
        return cur.fetchone()

    fns = {"managers": managers, "sa_orm": sa_orm, "sa_core": sa_core, "psycopg2": raw_pg}
    timings = measure(fns, b.plan.calls, b.plan.warmup)
    b.raw.rollback()
    return [Result("get_by_pk", "get one task by primary key", timings)]


def op_latest(b: Bench) -> list[Result]:
    engine, u, cur = b.engine, b.pager, b.raw.cursor()
    t, p = TASKS.c, PlainTask

    def managers(i: int) -> object:
        with b.db.session():
            return list(Task.objects.filter(assignee_id=u).order_by("-created_at")[:20])

    def sa_orm(i: int) -> object:
        live = sa.select(p).where(p.assignee_id == u, p.deleted_at.is_(None))
        stmt = live.order_by(p.created_at.desc()).limit(20)
        with Session(engine) as s:
            return list(s.scalars(stmt, execution_options=PLAIN_ORM))

    def sa_core(i: int) -> object:
        stmt = sa.select(TASKS).where(t.assignee_id == u, t.deleted_at.is_(None))
        with engine.connect() as c:
            return c.execute(stmt.order_by(t.created_at.desc()).limit(20)).all()

    def raw_pg(i: int) -> object:
        cur.execute(LATEST_SQL, (u, 20))
        return cur.fetchall()

    fns = {"managers": managers, "sa_orm": sa_orm, "sa_core": sa_core, "psycopg2": raw_pg}
    timings = measure(fns, b.plan.calls, b.plan.warmup)
    b.raw.rollback()
    return [Result("latest_20", "latest 20 tasks of one assignee", timings)]


# ----------------------------------------------------------------------------- writes


@dataclass(frozen=True)
class Kind:
    """A model written by the write operations, and the same table for the other paths.

    ``row`` gives every column the managers' ``create(**create(...))`` inserts, with
    the values its defaults produce, so every path writes the same row.
    """

    model: Any
    plain: type[_Plain]
    field: str  # the column the update operation changes
    create: Callable[[uuid.UUID, int], dict[str, Any]]
    row: Callable[[uuid.UUID, int], dict[str, Any]]

    @property
    def table(self) -> sa.Table:
        return self.model.__table__

    @property
    def columns(self) -> list[str]:
        return [c.name for c in self.table.c if c.name not in ("created_at", "updated_at")]

    @property
    def soft_delete(self) -> bool:
        return "deleted_at" in self.table.c

    @property
    def versioned(self) -> bool:
        return "version" in self.table.c

    def raw_values(self, values: dict[str, Any]) -> list[Any]:
        """Return the row for psycopg2, which cannot adapt enum members."""
        return [v.value if isinstance(v, enum.Enum) else v for v in (values[c] for c in self.columns)]

    def plain_values(self, values: dict[str, Any]) -> dict[str, Any]:
        """Return the row for the plain ORM, whose version counter sets ``version`` itself."""
        return {k: v for k, v in values.items() if k != "version"}


def _task_row(assignee: uuid.UUID, i: int) -> dict[str, Any]:
    values: dict[str, Any] = dict.fromkeys(
        c.name for c in TASKS.c if c.name not in ("created_at", "updated_at")
    )
    values.update(
        id=uuid.uuid4(),
        title=f"bench task {i}",
        status=TaskStatus.PENDING,
        priority=5,
        assignee_id=assignee,
        retry_count=0,
        max_retries=3,
        version=1,
    )
    return values


EXPIRES = datetime.now(UTC) + timedelta(days=30)


def _session_row(user: uuid.UUID, i: int) -> dict[str, Any]:
    values: dict[str, Any] = dict.fromkeys(
        c.name for c in SESSIONS.c if c.name not in ("created_at", "updated_at")
    )
    values.update(id=uuid.uuid4(), user_id=user, token_hash=secrets.token_hex(32), expires_at=EXPIRES)
    return values


TASK = Kind(
    Task,
    PlainTask,
    "title",
    create=lambda user, i: {"title": f"bench task {i}", "assignee_id": user},
    row=_task_row,
)
AUTH_SESSION = Kind(
    AuthSession,
    PlainSession,
    "user_agent",
    create=lambda user, i: {"user_id": user, "token_hash": secrets.token_hex(32), "expires_at": EXPIRES},
    row=_session_row,
)


def insert_paths(b: Bench, kind: Kind) -> dict[str, Call]:
    engine, raw, user, cur = b.engine, b.raw, b.scratch, b.raw.cursor()
    table, cols = kind.table, kind.columns
    stmt = sa.insert(table).returning(table.c.created_at, table.c.updated_at)
    insert_sql = (
        f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))}) "
        "RETURNING created_at, updated_at"
    )

    def managers(i: int) -> object:
        with b.db.session():
            return kind.model.objects.create(**kind.create(user, i))

    def sa_orm(i: int) -> object:
        with Session(engine) as s:
            obj = kind.plain(**kind.plain_values(kind.row(user, i)))
            s.add(obj)
            s.commit()
            return obj

    def sa_core(i: int) -> object:
        with engine.begin() as c:
            return c.execute(stmt, kind.row(user, i)).one()

    def raw_pg(i: int) -> object:
        cur.execute(insert_sql, kind.raw_values(kind.row(user, i)))
        row = cur.fetchone()
        raw.commit()
        return row

    return {"managers": managers, "sa_orm": sa_orm, "sa_core": sa_core, "psycopg2": raw_pg}


def op_insert(b: Bench) -> list[Result]:
    results = []
    for key, kind, what in (
        ("insert_task", TASK, "insert one Task and commit (managers also write its audit row)"),
        ("insert_session", AUTH_SESSION, "insert one AuthSession and commit (not audited)"),
    ):
        timings = measure(insert_paths(b, kind), b.plan.write_calls, b.plan.warmup)
        clean_scratch(b.raw, b.scratch)
        results.append(Result(key, what, timings))
    vacuum(b.raw, "tasks", "audit_logs", "auth_sessions")
    return results


def update_targets(b: Bench, kind: Kind, count: int = 200) -> list[uuid.UUID]:
    """Insert ``count`` scratch rows of ``kind`` for the updates to rotate over; return their keys."""
    rows = [kind.row(b.scratch, i) for i in range(count)]
    with b.raw.cursor() as cur:
        psycopg2.extras.execute_values(
            cur,
            f"INSERT INTO {kind.table.name} ({', '.join(kind.columns)}) VALUES %s",
            [kind.raw_values(r) for r in rows],
        )
    b.raw.commit()
    return [r["id"] for r in rows]


def _live(kind: Kind, entity: Any, key: uuid.UUID) -> list[Any]:
    conds = [entity.id == key]
    return [*conds, entity.deleted_at.is_(None)] if kind.soft_delete else conds


def update_paths(b: Bench, kind: Kind, ids: list[uuid.UUID]) -> dict[str, Call]:
    engine, raw, cur, name = b.engine, b.raw, b.raw.cursor(), kind.field
    table, plain = kind.table, kind.plain
    bump = ", version = version + 1" if kind.versioned else ""
    live = " AND deleted_at IS NULL" if kind.soft_delete else ""
    update_sql = f"UPDATE {table.name} SET {name} = %s{bump}, updated_at = now() WHERE id = %s{live}"

    def values(entity: Any, i: int) -> dict[str, Any]:
        return {name: f"changed {i}", **({"version": entity.version + 1} if kind.versioned else {})}

    def managers(i: int) -> object:
        with b.db.session():
            return kind.model.objects.filter(pk=ids[i % len(ids)]).update(**{name: f"changed {i}"})

    def orm_load(i: int) -> object:
        with Session(engine) as s:
            obj = s.get(plain, ids[i % len(ids)], execution_options=PLAIN_ORM)
            if kind.soft_delete:
                _one(obj)
            setattr(obj, name, f"changed {i}")
            s.commit()
            return obj

    def orm_stmt(i: int) -> object:
        stmt = sa.update(plain).where(*_live(kind, plain, ids[i % len(ids)])).values(values(plain, i))
        with Session(engine) as s:
            count = s.execute(stmt).rowcount
            s.commit()
            return count

    def sa_core(i: int) -> object:
        stmt = sa.update(table).where(*_live(kind, table.c, ids[i % len(ids)])).values(values(table.c, i))
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
        "psycopg2": raw_pg,
    }


def op_update(b: Bench) -> list[Result]:
    results = []
    for key, kind, what in (
        ("update_task", TASK, "update one Task's title and commit (managers also write its audit row)"),
        ("update_session", AUTH_SESSION, "update one AuthSession's user agent and commit (not audited)"),
    ):
        ids = update_targets(b, kind)
        results.append(
            Result(key, what, measure(update_paths(b, kind, ids), b.plan.write_calls, b.plan.warmup))
        )
    clean_scratch(b.raw, b.scratch)
    vacuum(b.raw, "tasks", "audit_logs", "auth_sessions")
    return results


def bulk_paths(b: Bench, n: int) -> dict[str, Callable[[int], list[Any]]]:
    engine, raw, user = b.engine, b.raw, b.scratch
    stmt = sa.insert(TASKS).returning(TASKS.c.id)
    values_sql = f"INSERT INTO tasks ({', '.join(TASK.columns)}) VALUES %s RETURNING id"

    def managers(i: int) -> list[Any]:
        with b.db.session():
            objs = Task.objects.bulk_create([Task(**TASK.create(user, k)) for k in range(n)])
            return [o.id for o in objs]

    def sa_orm(i: int) -> list[Any]:
        with Session(engine) as s:
            objs = [PlainTask(**TASK.plain_values(_task_row(user, k))) for k in range(n)]
            s.add_all(objs)
            s.flush()
            keys = [o.id for o in objs]
            s.commit()
            return keys

    def sa_core(i: int) -> list[Any]:
        with engine.begin() as c:
            return list(c.execute(stmt, [_task_row(user, k) for k in range(n)]).scalars())

    def raw_pg(i: int) -> list[Any]:
        rows = [TASK.raw_values(_task_row(user, k)) for k in range(n)]
        with raw.cursor() as cur:
            keys = psycopg2.extras.execute_values(cur, values_sql, rows, page_size=1000, fetch=True)
        raw.commit()
        return keys

    return {"managers": managers, "sa_orm": sa_orm, "sa_core": sa_core, "psycopg2": raw_pg}


def op_bulk(b: Bench) -> list[Result]:
    for fn in bulk_paths(b, 500).values():  # warm-up: every path's code and statements
        fn(0)
    clean_scratch(b.raw, b.scratch)
    fns = bulk_paths(b, BULK_ROWS)
    samples: dict[str, list[int]] = {name: [] for name in fns}
    for rep in range(b.plan.bulk_reps):
        for name in list(fns)[rep % len(fns) :] + list(fns)[: rep % len(fns)]:
            gc.collect()
            started = time.perf_counter_ns()
            keys = fns[name](rep)
            samples[name].append(time.perf_counter_ns() - started)
            if len(keys) != BULK_ROWS:
                b.notes.append(f"bulk insert via {name} returned {len(keys)} keys, expected {BULK_ROWS}")
            clean_scratch(b.raw, b.scratch)
            vacuum(b.raw, "tasks", "audit_logs")
    timings = [Timing(name, values) for name, values in samples.items()]
    title = f"insert {BULK_ROWS:,} tasks in bulk with their keys back, commit; {b.plan.bulk_reps} reps"
    notes = [
        "managers = Task.objects.bulk_create: COPY, plus COPY of the audit rows; objects built in the timing",
        "psycopg2 = execute_values(page_size=1000, fetch=True); sa_core = executemany with RETURNING",
    ]
    return [Result("bulk_create", title, timings, unit="ms", notes=notes)]


# ------------------------------------------------------------------------ pagination


def cursor_at_depth(b: Bench, page: int) -> str:
    """Walk ``page - 1`` cursor pages and return the cursor that opens page ``page``."""
    cursor = None
    with b.db.session():
        qs = Task.objects.filter(assignee_id=b.pager).order_by("-created_at")
        for _ in range(page - 1):
            cursor = qs.cursor_paginate(PER_PAGE, cursor).next_cursor
    if cursor is None:
        raise RuntimeError(f"fewer than {page} pages of tasks: the seed is incomplete")
    return cursor


def page_paths(b: Bench, cursor: str, after: tuple[Any, ...]) -> dict[str, Call]:
    """Return page 1 and the deep page, by number and by cursor, through managers and psycopg2."""
    u, cur = b.pager, b.raw.cursor()
    keyset_sql = PAGE_SQL.replace("ORDER BY", "AND (created_at, id) < (%s, %s) ORDER BY")

    def managers(page: int, after: str | None, by_cursor: bool) -> Call:
        def run(i: int) -> object:
            with b.db.session():
                qs = Task.objects.filter(assignee_id=u).order_by("-created_at")
                return qs.cursor_paginate(PER_PAGE, after) if by_cursor else qs.paginate(page, PER_PAGE)

        return run

    def raw_offset(page: int) -> Call:
        def run(i: int) -> object:
            cur.execute(f"SELECT count(*) {LIVE_OF}", (u,))
            cur.fetchone()
            cur.execute(PAGE_SQL + " OFFSET %s", (u, PER_PAGE, (page - 1) * PER_PAGE))
            return cur.fetchall()

        return run

    def raw_keyset(deep: bool) -> Call:
        def run(i: int) -> object:
            cur.execute(*((keyset_sql, (u, *after, PER_PAGE + 1)) if deep else (PAGE_SQL, (u, PER_PAGE + 1))))
            return cur.fetchall()

        return run

    deep = f"p{DEEP_PAGE}"
    return {
        "managers paginate p1": managers(1, None, False),
        f"managers paginate {deep}": managers(DEEP_PAGE, None, False),
        "managers cursor p1": managers(1, None, True),
        f"managers cursor {deep}": managers(DEEP_PAGE, cursor, True),
        "psycopg2 offset p1": raw_offset(1),
        f"psycopg2 offset {deep}": raw_offset(DEEP_PAGE),
        "psycopg2 keyset p1": raw_keyset(False),
        f"psycopg2 keyset {deep}": raw_keyset(True),
    }


def op_paginate(b: Bench) -> list[Result]:
    cursor = cursor_at_depth(b, DEEP_PAGE)
    with b.db.session():
        qs = Task.objects.filter(assignee_id=b.pager).order_by("-created_at")
        by_offset = [t.id for t in qs.paginate(DEEP_PAGE, PER_PAGE).items]
        by_cursor = [t.id for t in qs.cursor_paginate(PER_PAGE, cursor).items]
    # The raw keyset starts after the last row of the page before, as the cursor does.
    last_sql = PAGE_SQL.replace(SELECT_TASK, "created_at, id") + " OFFSET %s"
    after = tuple(sql(b.raw, last_sql, (b.pager, 1, (DEEP_PAGE - 1) * PER_PAGE - 1))[0])
    notes = [f"page {DEEP_PAGE} holds {len(by_offset)} rows by number, {len(by_cursor)} by cursor"]
    if by_offset != by_cursor:
        notes.append("WARNING: paginate and cursor_paginate disagree on the rows of the deep page")
    timings = measure(page_paths(b, cursor, after), b.plan.page_calls, b.plan.warmup)
    b.raw.rollback()
    title = f"page 1 versus page {DEEP_PAGE} of {PER_PAGE}, latest tasks of one assignee"
    return [Result("pagination", title, timings, base="", notes=notes)]


# ---------------------------------------------------------------------------- output


def print_table(result: Result) -> None:
    """Print one aligned table: median and p90 per call, ratio and overhead against psycopg2."""
    unit, scale = result.unit, 1e6 if result.unit == "ms" else 1e3
    calls = len(result.timings[0].samples)
    print(f"\n== {result.key}: {result.title} [{calls} calls per path; {unit} per call] ==")
    width = max(len(t.label) for t in result.timings) + 2
    extra = f"{'x psycopg2':>12}{'overhead':>12}" if result.base else ""
    print(f"{'path':<{width}}{'median':>11}{'p90':>11}{extra}")
    base = result.get(result.base).median if result.base else 0.0
    for t in result.timings:
        line = f"{t.label:<{width}}{t.median / scale:>11.1f}{t.p90 / scale:>11.1f}"
        if result.base:
            line += f"{t.median / base:>12.2f}{(t.median - base) / scale:>+12.1f}"
        print(line)
    for note in result.notes:
        print(f"  note: {note}")


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _below_orm(r: Result, orm: str = "sa_orm") -> str:
    mine, theirs = r.overhead("managers") / 1000, r.overhead(orm) / 1000
    return f"managers overhead {mine:.0f}µs vs {orm} {theirs:.0f}µs -> below ORM: {_yes(mine < theirs)}"


def summary_lines(results: dict[str, Result]) -> Iterator[str]:
    """Yield the goal checks, as text; a missed goal is reported, never raised."""
    for key in ("get_by_pk", "latest_20", "insert_task", "insert_session", "update_task", "update_session"):
        if key in results:
            yield f"{key}: {_below_orm(results[key])}"
        if key.startswith("update") and key in results:
            yield f"{key}: {_below_orm(results[key], 'sa_orm (update stmt)')}"
    if "insert_task" in results and "insert_session" in results:
        audit = results["insert_task"].overhead("managers") - results["insert_task"].overhead("sa_orm")
        plain = results["insert_session"].overhead("managers") - results["insert_session"].overhead("sa_orm")
        yield (
            f"insert: managers overhead minus sa_orm overhead = {audit / 1000:+.0f}µs for the audited Task, "
            f"{plain / 1000:+.0f}µs for AuthSession"
        )
    if "bulk_create" in results:
        r = results["bulk_create"]
        mine, theirs = r.get("managers").median / 1e9, r.get("psycopg2").median / 1e9
        faster = _yes(mine < theirs)
        yield f"bulk_create: managers {mine:.2f} s vs execute_values {theirs:.2f} s -> faster: {faster}"
    if "pagination" in results:
        r, deep = results["pagination"], f"p{DEEP_PAGE}"
        for style, raw_style, goal in (("paginate", "offset", None), ("cursor", "keyset", 1.3)):
            ratio = r.get(f"managers {style} {deep}").median / r.get(f"managers {style} p1").median
            raw = r.get(f"psycopg2 {raw_style} {deep}").median / r.get(f"psycopg2 {raw_style} p1").median
            verdict = f"(goal <= {goal}) -> met: {_yes(ratio <= goal)}" if goal else "(no goal)"
            yield f"{style} page {DEEP_PAGE} / page 1 = {ratio:.2f} {verdict}; psycopg2 {raw_style} {raw:.2f}"


def print_header(b: Bench, seeded: str, args: argparse.Namespace) -> None:
    """Print versions, server, data and the fixed per-call floors every path stands on."""
    print("assistant_models benchmark: managers vs plain SQLAlchemy ORM vs SQLAlchemy Core vs psycopg2")
    print(
        f"python {platform.python_version()}, SQLAlchemy {sa.__version__}, SQLModel {sqlmodel.__version__}, "
        f"psycopg2 {psycopg2.__version__.split()[0]}, PostgreSQL {sql(b.raw, 'SHOW server_version')[0][0]}"
    )
    print(f"code: {code_version()}")
    print(f"database: {b.db.url_masked}")
    with b.engine.connect() as conn:
        engine_sync = conn.exec_driver_sql("SHOW synchronous_commit").scalar()
    print(f"synchronous_commit: engine {engine_sync}, psycopg2 {sql(b.raw, 'SHOW synchronous_commit')[0][0]}")
    print(f"data: {LIVE_TASKS:,} live + {DELETED_TASKS} soft-deleted tasks for the paged assignee ({seeded})")
    mode, load = "quick" if args.quick else "full", os.getloadavg()[0]
    print(f"mode: {mode}; ops: {', '.join(args.ops)}; {os.cpu_count()} CPUs, load average {load:.2f}")
    floors = measure(
        {
            "pool checkout + pre-ping + return": lambda i: b.engine.connect().close(),
            "psycopg2 SELECT 1 round trip": lambda i: _select_one(b.raw),
        },
        calls=min(b.plan.calls, 300),
        warmup=b.plan.warmup,
    )
    b.raw.rollback()
    for t in floors:
        print(f"floor: {t.label}: {t.median / 1000:.1f} µs")


def code_version() -> str:
    """Return the checkout's commit and how many package files differ from it, if git can tell."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "assistant_models"], cwd=root, capture_output=True, text=True
        )
    except OSError:
        return "unknown (no git)"
    if head.returncode != 0:
        return "unknown (not a git checkout)"
    changed = len(dirty.stdout.splitlines())
    return head.stdout.strip() + (f", {changed} modified file(s) in assistant_models/" if changed else "")


def _select_one(raw: Any) -> None:
    with raw.cursor() as cur:
        cur.execute("SELECT 1")
        cur.fetchone()


# ------------------------------------------------------------------------- profiling


def profile_managers(b: Bench, ops: list[str], calls: int) -> None:
    """Run the managers' path of get, insert and update under cProfile and print the top costs."""
    chosen: dict[str, Callable[[], Call]] = {
        "get": lambda: managers_get(b),
        "insert": lambda: insert_paths(b, TASK)["managers"],
        "update": lambda: update_paths(b, TASK, update_targets(b, TASK))["managers"],
    }
    for op in [o for o in ops if o in chosen]:
        fn = chosen[op]()
        for i in range(b.plan.warmup):
            fn(i)
        profiler = cProfile.Profile()
        profiler.enable()
        for i in range(calls):
            fn(i)
        profiler.disable()
        clean_scratch(b.raw, b.scratch)
        print(f"\n== profile: managers {op}, {calls} calls (cProfile; times include its overhead) ==")
        print_profile(profiler, calls)


def managers_get(b: Bench) -> Call:
    def run(i: int) -> object:
        with b.db.session():
            return Task.objects.get(pk=b.sample[i % len(b.sample)])

    return run


def print_profile(profiler: cProfile.Profile, calls: int, top: int = 25) -> None:
    """Print own time per call by library, then the most expensive functions of assistant_models."""
    by_lib: dict[str, float] = {}
    rows = []
    for (path, line, name), (_cc, _nc, own, cum, _callers) in pstats.Stats(profiler).stats.items():
        lib = _library(path)
        by_lib[lib] = by_lib.get(lib, 0.0) + own
        if lib == "assistant_models":
            rows.append((cum, own, f"{path.split('assistant_models/')[-1]}:{line}({name})"))
    total = sum(by_lib.values())
    shares = sorted(by_lib.items(), key=lambda kv: -kv[1])
    print(
        "own time per call: "
        + ", ".join(f"{lib} {s / calls * 1e6:.0f}µs ({s / total:.0%})" for lib, s in shares)
    )
    print(f"{'cumulative µs/call':>19}{'own µs/call':>13}  assistant_models function")
    for cum, own, label in sorted(rows, reverse=True)[:top]:
        print(f"{cum / calls * 1e6:>19.1f}{own / calls * 1e6:>13.1f}  {label}")


def _library(path: str) -> str:
    for lib in ("assistant_models", "sqlalchemy", "sqlmodel", "pydantic_core", "pydantic", "psycopg2"):
        if f"{os.sep}{lib}{os.sep}" in path:
            return lib
    return "C calls incl. socket I/O" if path == "~" else "other python"


# ------------------------------------------------------------------------------ main


RUNNERS: dict[str, Callable[[Bench], list[Result]]] = {
    "get": op_get,
    "latest": op_latest,
    "insert": op_insert,
    "update": op_update,
    "bulk": op_bulk,
    "paginate": op_paginate,
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Time managers, plain ORM, Core and psycopg2 side by side.")
    parser.add_argument("--quick", action="store_true", help="few repetitions: a smoke run under a minute")
    parser.add_argument("--ops", default=",".join(OPS), help=f"comma-separated subset of {','.join(OPS)}")
    parser.add_argument("--durable", action="store_true", help="keep synchronous_commit on (commits wait)")
    parser.add_argument(
        "--profile", action="store_true", help="also profile the managers' get, insert, update"
    )
    parser.add_argument("--profile-calls", type=int, default=500, help="calls per profiled operation")
    args = parser.parse_args(argv)
    args.ops = [o.strip() for o in args.ops.split(",") if o.strip()]
    unknown = sorted(set(args.ops) - set(OPS))
    if unknown:
        parser.error(f"unknown ops {unknown}; choose from {','.join(OPS)}")
    return args


@contextmanager
def bench_context(args: argparse.Namespace) -> Iterator[Bench]:
    """Open both connections, seed, empty the scratch rows; close and clean up afterwards."""
    os.environ.setdefault("ASSISTANT_MODELS_BCRYPT_ROUNDS", "4")  # seeding creates users
    map_plain_models()
    db = open_database(args.durable)
    raw = raw_connection(db)
    try:
        pager, scratch, seeded = seed(db, raw)
        clean_scratch(raw, scratch)
        sample = [r[0] for r in sql(raw, LATEST_SQL.replace(SELECT_TASK, "id"), (pager, 1000))]
        bench = Bench(db, raw, QUICK if args.quick else FULL, pager, scratch, sample)
        print_header(bench, seeded, args)
        yield bench
        clean_scratch(raw, scratch)
    finally:
        raw.close()
        db.dispose()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    results: dict[str, Result] = {}
    with bench_context(args) as bench:
        for op in args.ops:
            for result in RUNNERS[op](bench):
                results[result.key] = result
                print_table(result)
            gc.collect()
        if args.profile:
            profile_managers(bench, args.ops, 50 if args.quick else args.profile_calls)
    print("\n== summary ==")
    for line in summary_lines(results):
        print(line)
    for note in bench.notes:
        print(f"note: {note}")
    print(f"total time {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
