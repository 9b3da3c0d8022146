"""Shared pieces of the benchmark: the plan, the scratch database, the plain mapping, timing."""

from __future__ import annotations

import gc
import itertools
import os
import secrets
import statistics
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg2
import psycopg2.extras
import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import registry

from assistant_models import Database
from assistant_models.models import AuthSession, Task

try:  # the soft-delete listener's opt-out; its home may move while the core is rewritten
    from assistant_models.core.events import INCLUDE_DELETED
except ImportError:  # pragma: no cover - depends on the package version
    INCLUDE_DELETED = "include_deleted"

SCRATCH_DB_PREFIX = "assistant_models_bench_"
OWNER = "bench_owner"  # owns the paged tasks: the stand-in for a chat session's messages
SCRATCH = "bench_scratch"  # owns every row an operation writes; emptied after each operation
RARE_TERM = "quokka"  # appears in a handful of titles and descriptions, in no other word
PER_PAGE = 20
BASE = "psycopg2"
CONTENDERS = ("managers", "sa_orm", "sa_core", "psycopg2")

TASKS: sa.Table = Task.__table__
SESSIONS: sa.Table = AuthSession.__table__
#: The columns every read returns: all the table's own, not generated ones (a future
#: stored ``tsvector`` column is the index's business, not the reader's).
READ_COLUMNS = [c.name for c in TASKS.c if c.computed is None]
SELECT_TASK = ", ".join(READ_COLUMNS)
ID = READ_COLUMNS.index("id")
OWNED = "FROM tasks WHERE assignee_id = %s AND deleted_at IS NULL"
LATEST_SQL = f"SELECT {SELECT_TASK} {OWNED} ORDER BY created_at DESC LIMIT %s"
KEYSET_SQL = (
    f"SELECT {SELECT_TASK} {OWNED} AND (created_at, id) < (%s, %s) ORDER BY created_at DESC, id DESC LIMIT %s"
)

#: The package installs a process-wide ``do_orm_execute`` listener that adds soft-delete
#: criteria to ORM SELECTs not marked as handled; this turns it off for the plain ORM.
PLAIN_ORM = {INCLUDE_DELETED: True}


@dataclass(frozen=True)
class Plan:
    """How much data and how many repetitions; ``--quick`` shrinks everything."""

    name: str
    calls: int  # repetitions of a per-call operation, at most
    min_calls: int  # ... and at least, whatever the budget says
    budget_s: float  # per operation: slow contenders lower the repetitions to fit
    warmup: int
    bulk_reps: int
    bulk_rows: int
    owner_live: int
    owner_deleted: int
    others: int  # other assignees, so the index serves more than one
    other_tasks: int  # per other assignee
    depth: int  # rows before the keyset page
    rare_every: int  # one title and one description in this many rows hold the rare term
    vacuum_between: bool = True  # vacuum after each bulk call
    block: int = 1  # consecutive calls of one contender per turn (1: strict round robin)

    @property
    def total_tasks(self) -> int:
        return self.owner_live + self.owner_deleted + self.others * self.other_tasks


FULL = Plan(
    "full",
    calls=1000,
    min_calls=25,
    budget_s=30.0,
    warmup=30,
    bulk_reps=5,
    bulk_rows=10_000,
    owner_live=60_000,
    owner_deleted=3_000,
    others=4,
    other_tasks=34_250,
    depth=50_000,
    rare_every=2_500,
)
QUICK = Plan(
    "quick",
    calls=60,
    min_calls=5,
    budget_s=2.5,
    warmup=3,
    bulk_reps=1,
    bulk_rows=2_000,
    owner_live=6_000,
    owner_deleted=300,
    others=4,
    other_tasks=3_425,
    depth=5_000,
    rare_every=250,
    vacuum_between=False,
)


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
    """Everything an operation needs: the database, the raw connection, the seeded keys."""

    db: Database
    raw: Any
    plan: Plan
    owner: uuid.UUID
    scratch: uuid.UUID
    sample: list[uuid.UUID] = field(default_factory=list)

    @property
    def engine(self) -> sa.Engine:
        return self.db.engine


def _server_source() -> str | None:
    """Return the URL of the server to benchmark on, or ``None`` for the embedded one."""
    for name in ("BENCH_DATABASE_URL", "DATABASE_URL", "POSTGRES_URL"):
        if os.environ.get(name, "").strip():
            return os.environ[name].strip()
    return None


def _autocommit(server: Database, statement: str) -> None:
    with server.engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(statement)


@contextmanager
def scratch_database(keep: bool) -> Iterator[str]:
    """Create a database of the benchmark's own, yield its URL and drop it afterwards.

    The developer's default database is never written to: the server's is only used to
    ``CREATE`` and ``DROP`` the scratch one.
    """
    source = _server_source()
    server = Database(source)
    name = f"{SCRATCH_DB_PREFIX}{os.getpid()}_{secrets.token_hex(3)}"
    _autocommit(server, f'CREATE DATABASE "{name}"')
    base: URL = make_url(source) if source else server.engine.url
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        if keep:
            print(f"kept the scratch database {name}")
        else:
            _autocommit(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        server.dispose()


def open_database(url: str, durable: bool) -> Database:
    """Return the migrated scratch database.

    Unless ``durable``, its connections run with ``synchronous_commit=off``: a commit then
    returns without waiting for the WAL flush, a wait that is the same for every contender
    and, on a slow disk, large enough to drown what the layers add.
    """
    if not durable:
        parsed = make_url(url)
        options = f"{parsed.query.get('options') or ''} -c synchronous_commit=off".strip()
        url = parsed.update_query_dict({"options": options}).render_as_string(hide_password=False)
    db = Database(url)
    db.migrate()
    return db


def raw_connection(db: Database) -> Any:
    """Return one psycopg2 connection made by the engine (same settings), outside its pool."""
    fairy = db.engine.raw_connection()
    conn = fairy.driver_connection
    fairy.detach()  # the pool forgets it: it is this script's own, closed at the end
    psycopg2.extras.register_uuid(conn_or_curs=conn)
    with conn.cursor() as cur:
        cur.execute("SET statement_timeout = 0")  # seeding builds indexes on 200k rows
    conn.commit()
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
    raw.rollback()
    raw.autocommit = True
    try:
        with raw.cursor() as cur:
            cur.execute(f"VACUUM ANALYZE {', '.join(tables)}")
    finally:
        raw.autocommit = False


def clean_scratch(b: Bench) -> None:
    """Delete the rows an operation wrote: the scratch user's tasks and sessions.

    Audit rows stay: the audit log is append-only, and the checks count them.
    """
    b.raw.rollback()
    sql(b.raw, "DELETE FROM tasks WHERE assignee_id = %s", (b.scratch,))
    sql(b.raw, "DELETE FROM auth_sessions WHERE user_id = %s", (b.scratch,))


def live_or_raise(obj: Any) -> Any:
    """Return ``obj`` if it is a live row (the plain ORM has no soft-delete filter), else raise."""
    if obj is None or obj.deleted_at is not None:
        raise LookupError("no live row with that key")
    return obj


# -------------------------------------------------------------------------- measuring


@dataclass(frozen=True)
class Timing:
    """Per-call samples of one contender, in nanoseconds: wall time and this process's CPU time.

    The CPU time leaves out the server's work and the waits for the network and the
    scheduler, so it shows what each layer costs in Python even on a busy machine.
    """

    label: str
    samples: list[int]
    cpu: list[int]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu)

    @property
    def p90(self) -> float:
        ordered = sorted(self.samples)
        return float(ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))])


Call = Callable[[int], object]


def timed(fn: Callable[[int], Any], i: int) -> tuple[int, int, Any]:
    """Call ``fn(i)``; return its wall time and this process's CPU time (ns), and its result."""
    wall, cpu = time.perf_counter_ns(), time.process_time_ns()
    result = fn(i)
    return time.perf_counter_ns() - wall, time.process_time_ns() - cpu, result


@dataclass
class Setup:
    """An operation ready to time: its contenders, notes, and a check to run afterwards."""

    fns: dict[str, Call]
    notes: list[str] = field(default_factory=list)
    after: Callable[[list[str]], None] | None = None
    writes: str | None = None  # the table the operation writes (bulk: vacuumed between calls)


def _warm(fn: Call, counter: Iterator[int], plan: Plan) -> float:
    """Call ``fn`` a few times (fewer when it is slow); return its median call in seconds."""
    costs: list[int] = []
    spent = 0
    while len(costs) < plan.warmup and (len(costs) < 2 or spent < plan.budget_s / 10 * 1e9):
        started = time.perf_counter_ns()
        fn(next(counter))
        costs.append(time.perf_counter_ns() - started)
        spent += costs[-1]
    return statistics.median(costs) / 1e9


def measure(fns: Mapping[str, Call], plan: Plan, notes: list[str], calls: int | None = None) -> list[Timing]:
    """Time the contenders in turns, ``plan.block`` calls each per turn, the first one rotating.

    The repetitions fit the plan's budget (a slow contender lowers them for all) but never
    fall below ``plan.min_calls``. A contender that raises is left out with a note; the
    psycopg2 base may not fail.
    """
    counter = itertools.count()
    alive: dict[str, Call] = {}
    round_cost = 0.0
    for name, fn in fns.items():
        try:
            round_cost += _warm(fn, counter, plan)
            alive[name] = fn
        except Exception as exc:
            if name == BASE:
                raise
            notes.append(f"{name} left out: {type(exc).__name__}: {str(exc)[:200]}")
    reps = max(plan.min_calls, min(calls or plan.calls, int(plan.budget_s / max(round_cost, 1e-9))))
    timings = {name: Timing(name, [], []) for name in alive}
    order = list(alive)
    for turn in range(0, reps, plan.block):
        first = (turn // plan.block) % len(order)
        for name in order[first:] + order[:first]:
            fn, out = alive[name], timings[name]
            for _ in range(min(plan.block, reps - turn)):
                wall, cpu, _ = timed(fn, next(counter))
                out.samples.append(wall)
                out.cpu.append(cpu)
    return list(timings.values())


def measure_bulk(setup: Setup, b: Bench, notes: list[str]) -> list[Timing]:
    """Time bulk writes in turns, ``plan.bulk_reps`` each, emptying the scratch rows between calls.

    The table is vacuumed after each call too (not with ``--quick``, where it costs more
    than the smoke run can afford), so no call pays for the dead rows of the one before.
    """
    fns = setup.fns
    for name, fn in list(fns.items()):
        try:
            fn(-1)  # warm-up on a small batch: every path's code and statements
        except Exception as exc:
            if name == BASE:
                raise
            notes.append(f"{name} left out: {type(exc).__name__}: {str(exc)[:200]}")
            fns = {k: v for k, v in fns.items() if k != name}
        clean_scratch(b)
    order = list(fns)
    timings = {name: Timing(name, [], []) for name in order}
    for rep in range(b.plan.bulk_reps):
        turn = rep % len(order)
        for name in order[turn:] + order[:turn]:
            gc.collect()
            wall, cpu, count = timed(fns[name], rep)
            timings[name].samples.append(wall)
            timings[name].cpu.append(cpu)
            if count != b.plan.bulk_rows:
                notes.append(f"{name} wrote {count} rows, expected {b.plan.bulk_rows}")
            clean_scratch(b)
            if setup.writes and b.plan.vacuum_between:
                vacuum(b.raw, setup.writes)
    return list(timings.values())
