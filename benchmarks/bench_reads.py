"""The read operations: get, latest 20, values, keyset page, full-text search."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from bench_harness import (
    BASE,
    ID,
    KEYSET_SQL,
    LATEST_SQL,
    OWNED,
    PER_PAGE,
    PLAIN_ORM,
    RARE_TERM,
    READ_COLUMNS,
    SELECT_TASK,
    TASKS,
    Bench,
    Call,
    PlainTask,
    Setup,
    live_or_raise,
    sql,
)
from sqlalchemy.orm import Session

from assistant_models.core.context import bind_session, forget_current_session, unbind_session
from assistant_models.models import Task

# ------------------------------------------------------------------------------ reads

IN_UOW = "managers_in_uow"


def in_open_unit_of_work(b: Bench, read: Call) -> tuple[Call, Callable[[list[str]], None]]:
    """Return ``read`` run inside one long unit of work (as psycopg2's calls share one transaction).

    This isolates what the layer adds per statement from the unit of work's own cost (a
    session, and psycopg2's BEGIN and COMMIT round trips). The identity map is emptied
    before each call, so every call builds its instances anew.
    """
    unit = b.db.session()
    session = unit.__enter__()
    # current only during its own calls: the other contenders' units of work stay their own
    forget_current_session()

    def call(i: int) -> object:
        token = bind_session(session)
        try:
            session.expunge_all()
            return read(i)
        finally:
            unbind_session(token)

    def close(notes: list[str]) -> None:
        unit.__exit__(None, None, None)
        notes.append(
            f"{IN_UOW}: the managers' call inside one open unit of work, as psycopg2's calls share one "
            "transaction: what the layer adds per statement, without BEGIN, COMMIT and a new session"
        )

    return call, close


def setup_get(b: Bench) -> Setup:
    ids, engine, cur = b.sample, b.engine, b.raw.cursor()
    get_sql = f"SELECT {SELECT_TASK} FROM tasks WHERE id = %s AND deleted_at IS NULL"
    cols = [TASKS.c[c] for c in READ_COLUMNS]

    def get(i: int) -> object:
        return Task.objects.get(pk=ids[i % len(ids)])

    def managers(i: int) -> object:
        with b.db.session():
            return get(i)

    def sa_orm(i: int) -> object:
        with Session(engine) as s:
            return live_or_raise(s.get(PlainTask, ids[i % len(ids)], execution_options=PLAIN_ORM))

    def sa_core(i: int) -> object:
        stmt = sa.select(*cols).where(TASKS.c.id == ids[i % len(ids)], TASKS.c.deleted_at.is_(None))
        with engine.connect() as c:
            return c.execute(stmt).one()

    def raw_pg(i: int) -> object:
        cur.execute(get_sql, (ids[i % len(ids)],))
        return cur.fetchone()

    notes = ["sa_core and psycopg2 return a row; managers and sa_orm an object"]
    in_uow, close = in_open_unit_of_work(b, get)
    fns = {"managers": managers, "sa_orm": sa_orm, "sa_core": sa_core, BASE: raw_pg, IN_UOW: in_uow}
    return Setup(fns, notes, after=close)


def setup_latest(b: Bench) -> Setup:
    engine, u, cur, p = b.engine, b.owner, b.raw.cursor(), PlainTask
    cols = [TASKS.c[c] for c in READ_COLUMNS]

    def latest(i: int) -> object:
        return list(Task.objects.filter(assignee_id=u).order_by("-created_at")[:PER_PAGE])

    def managers(i: int) -> object:
        with b.db.session():
            return latest(i)

    def sa_orm(i: int) -> object:
        stmt = sa.select(p).where(p.assignee_id == u, p.deleted_at.is_(None))
        with Session(engine) as s:
            return list(
                s.scalars(stmt.order_by(p.created_at.desc()).limit(PER_PAGE), execution_options=PLAIN_ORM)
            )

    def sa_core(i: int) -> object:
        stmt = sa.select(*cols).where(TASKS.c.assignee_id == u, TASKS.c.deleted_at.is_(None))
        with engine.connect() as c:
            return c.execute(stmt.order_by(TASKS.c.created_at.desc()).limit(PER_PAGE)).all()

    def raw_pg(i: int) -> object:
        cur.execute(LATEST_SQL, (u, PER_PAGE))
        return cur.fetchall()

    notes = [
        "stand-in for a chat session's latest messages: Task by assignee_id (indexed) until chat exists",
        "sa_core and psycopg2 return rows; managers and sa_orm objects",
    ]
    in_uow, close = in_open_unit_of_work(b, latest)
    fns = {"managers": managers, "sa_orm": sa_orm, "sa_core": sa_core, BASE: raw_pg, IN_UOW: in_uow}
    return Setup(fns, notes, after=close)


def setup_values(b: Bench) -> Setup:
    engine, u, cur, p = b.engine, b.owner, b.raw.cursor(), PlainTask
    cols = [TASKS.c[c] for c in READ_COLUMNS]
    attrs = [getattr(p, c) for c in READ_COLUMNS]

    def values(i: int) -> object:
        qs = Task.objects.filter(assignee_id=u).order_by("-created_at")[:PER_PAGE]
        return list(qs.values(*READ_COLUMNS))

    def managers(i: int) -> object:
        with b.db.session():
            return values(i)

    def sa_orm(i: int) -> object:
        stmt = sa.select(*attrs).where(p.assignee_id == u, p.deleted_at.is_(None))
        with Session(engine) as s:
            return s.execute(
                stmt.order_by(p.created_at.desc()).limit(PER_PAGE), execution_options=PLAIN_ORM
            ).all()

    def sa_core(i: int) -> object:
        stmt = sa.select(*cols).where(TASKS.c.assignee_id == u, TASKS.c.deleted_at.is_(None))
        with engine.connect() as c:
            return c.execute(stmt.order_by(TASKS.c.created_at.desc()).limit(PER_PAGE)).all()

    def raw_pg(i: int) -> object:
        cur.execute(LATEST_SQL, (u, PER_PAGE))
        return cur.fetchall()

    notes = [
        f"managers: .values() of the same query ({len(READ_COLUMNS)} fields, dicts); sa_orm: ORM column "
        "select (rows); sa_core: rows; psycopg2: tuples",
    ]
    in_uow, close = in_open_unit_of_work(b, values)
    fns = {"managers": managers, "sa_orm": sa_orm, "sa_core": sa_core, BASE: raw_pg, IN_UOW: in_uow}
    return Setup(fns, notes, after=close)


# ------------------------------------------------------------------------ keyset page


def cursor_at_depth(b: Bench) -> str:
    """Walk the owner's latest tasks page by page and return the cursor after ``plan.depth`` rows."""
    cursor = None
    with b.db.session():
        qs = Task.objects.filter(assignee_id=b.owner).order_by("-created_at")
        for _ in range(b.plan.depth // PER_PAGE):
            cursor = qs.cursor_paginate(PER_PAGE, cursor).next_cursor
    if cursor is None:
        raise RuntimeError(f"fewer than {b.plan.depth} tasks for the owner: the seed is incomplete")
    return cursor


def setup_keyset(b: Bench) -> Setup:
    started = time.perf_counter()
    try:
        cursor, failure = cursor_at_depth(b), None
    except Exception as exc:  # the managers are left out; the other contenders still run
        cursor, failure = "", exc
    walked = time.perf_counter() - started
    last = f"SELECT created_at, id {OWNED} ORDER BY created_at DESC, id DESC LIMIT 1 OFFSET %s"
    after = tuple(sql(b.raw, last, (b.owner, b.plan.depth - 1))[0])
    engine, u, cur, p = b.engine, b.owner, b.raw.cursor(), PlainTask
    cols = [TASKS.c[c] for c in READ_COLUMNS]
    t = TASKS.c

    def managers(i: int) -> object:
        if failure is not None:
            raise failure
        with b.db.session():
            qs = Task.objects.filter(assignee_id=u).order_by("-created_at")
            return qs.cursor_paginate(PER_PAGE, cursor).items

    def sa_orm(i: int) -> object:
        stmt = sa.select(p).where(
            p.assignee_id == u, p.deleted_at.is_(None), sa.tuple_(p.created_at, p.id) < sa.tuple_(*after)
        )
        with Session(engine) as s:
            stmt = stmt.order_by(p.created_at.desc(), p.id.desc()).limit(PER_PAGE + 1)
            return list(s.scalars(stmt, execution_options=PLAIN_ORM))[:PER_PAGE]

    def sa_core(i: int) -> object:
        stmt = sa.select(*cols).where(
            t.assignee_id == u, t.deleted_at.is_(None), sa.tuple_(t.created_at, t.id) < sa.tuple_(*after)
        )
        with engine.connect() as c:
            return c.execute(stmt.order_by(t.created_at.desc(), t.id.desc()).limit(PER_PAGE + 1)).all()

    def raw_pg(i: int) -> object:
        cur.execute(KEYSET_SQL, (u, *after, PER_PAGE + 1))
        return cur.fetchall()

    pages = b.plan.depth // PER_PAGE
    walk = (
        f"walking {pages} pages failed"
        if failure
        else f"cursor reached by walking {pages} pages in {walked:.1f} s"
    )
    notes = [
        f"the page after row {b.plan.depth:,} of {b.plan.owner_live:,} live tasks of one assignee ({walk})",
        "managers: cursor_paginate(20, cursor) (objects); sa_orm objects; sa_core rows; psycopg2 tuples; "
        "all fetch 21 rows to know whether a next page exists",
        compare_rows(managers, [r[ID] for r in raw_pg(0)][:PER_PAGE]),
    ]
    b.raw.rollback()
    return Setup({"managers": managers, "sa_orm": sa_orm, "sa_core": sa_core, BASE: raw_pg}, notes)


def compare_rows(managers: Call, base: list[Any], ordered: bool = True) -> str:
    """Say whether the managers' first call returns the rows (by key) psycopg2 returns."""
    try:
        mine = [obj.id for obj in managers(0)]
    except Exception as exc:
        return f"cannot compare rows: managers raised {type(exc).__name__}"
    if mine == base or (not ordered and sorted(mine) == sorted(base)):
        order = " in the same order" if ordered else ""
        return f"managers and psycopg2 return the same {len(base)} rows{order}"
    common = len(set(mine) & set(base))
    if ordered and common == len(base) == len(mine):
        return "WARNING: managers and psycopg2 return the same rows in another order"
    ties = "" if ordered else "; rows of equal rank at the cut may explain it"
    return f"WARNING: managers and psycopg2 return different rows ({common} of {len(base)} in common{ties})"


# ------------------------------------------------------------------------ full text


def search_vector_sql(b: Bench) -> str:
    """Return the ``tsvector`` expression (or column) of the package's text index on ``tasks``.

    Core and psycopg2 query that very expression, so all contenders can use the same index.
    """
    rows = sql(
        b.raw,
        "SELECT pg_get_indexdef(i.indexrelid, 1, true) FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam "
        "WHERE i.indrelid = 'tasks'::regclass AND am.amname = 'gin'",
    )
    columns = {
        r[0]
        for r in sql(
            b.raw,
            "SELECT attname FROM pg_attribute WHERE attrelid = 'tasks'::regclass "
            "AND atttypid = 'tsvector'::regtype AND NOT attisdropped",
        )
    }
    for (expr,) in rows:
        if "to_tsvector" in expr or expr.strip('"') in columns:
            return str(expr)
    raise RuntimeError("no GIN text-search index on tasks")


@contextmanager
def recorded(engine: sa.Engine) -> Iterator[list[tuple[str, Any]]]:
    """Record the statements and parameters sent through ``engine`` while the block runs."""
    seen: list[tuple[str, Any]] = []

    def listener(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        seen.append((statement, params))

    sa.event.listen(engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", listener)


def plan_kind(raw: Any, statement: str, params: Any) -> str:
    """Return how PostgreSQL reads ``tasks`` for ``statement``: Seq Scan, Bitmap or Index (name)."""
    with raw.cursor() as cur:
        cur.execute("EXPLAIN " + statement, params)
        lines = [r[0] for r in cur.fetchall()]
    raw.rollback()
    for line in lines:
        if "Seq Scan on tasks" in line:
            return "Seq Scan"
    for line in lines:
        found = re.search(
            r"(Bitmap Index Scan|Index Only Scan|Index Scan)( Backward)? (?:using|on) (\S+)", line
        )
        if found:
            kind = "Bitmap" if found.group(1).startswith("Bitmap") else "Index"
            return f"{kind} ({found.group(3)})"
    return "other: " + lines[0].strip()


def _search_plan(b: Bench, fn: Call) -> str:
    with recorded(b.engine) as seen:
        try:
            fn(0)
        except Exception as exc:
            return f"unknown ({type(exc).__name__})"
    selects = [(s, p) for s, p in seen if "tsquery" in s and s.lstrip().upper().startswith("SELECT")]
    return plan_kind(b.raw, *selects[-1]) if selects else "unknown (statement not seen)"


def setup_search(b: Bench) -> Setup:
    vector_sql = search_vector_sql(b)
    found = re.search(r"'(\w+)'::regconfig", vector_sql)
    config = found.group(1) if found else getattr(Task, "__search_config__", "english")
    query_sql = f"websearch_to_tsquery('{config}'::regconfig, %s)"
    raw_sql = (
        f"SELECT {SELECT_TASK} FROM tasks WHERE ({vector_sql}) @@ {query_sql} AND deleted_at IS NULL "
        f"ORDER BY ts_rank_cd({vector_sql}, {query_sql}) DESC LIMIT %s"
    )
    engine, cur, p = b.engine, b.raw.cursor(), PlainTask
    cols = [TASKS.c[c] for c in READ_COLUMNS]
    vector = sa.literal_column(f"({vector_sql})")
    query = sa.func.websearch_to_tsquery(
        sa.literal_column(f"'{config}'::regconfig"), sa.literal(RARE_TERM, sa.Text)
    )
    matches = vector.op("@@")(query)
    rank = sa.func.ts_rank_cd(vector, query).desc()

    def search(i: int) -> object:
        return list(Task.objects.search(RARE_TERM)[:PER_PAGE])

    def managers(i: int) -> object:
        with b.db.session():
            return search(i)

    def sa_orm(i: int) -> object:
        stmt = sa.select(p).where(matches, p.deleted_at.is_(None)).order_by(rank).limit(PER_PAGE)
        with Session(engine) as s:
            return list(s.scalars(stmt, execution_options=PLAIN_ORM))

    def sa_core(i: int) -> object:
        stmt = sa.select(*cols).where(matches, TASKS.c.deleted_at.is_(None)).order_by(rank).limit(PER_PAGE)
        with engine.connect() as c:
            return c.execute(stmt).all()

    def raw_pg(i: int) -> object:
        cur.execute(raw_sql, (RARE_TERM, RARE_TERM, PER_PAGE))
        return cur.fetchall()

    fns = {"managers": managers, "sa_orm": sa_orm, "sa_core": sa_core, BASE: raw_pg}
    hits = sql(
        b.raw,
        f"SELECT count(*) FROM tasks WHERE ({vector_sql}) @@ {query_sql} AND deleted_at IS NULL",
        (RARE_TERM,),
    )[0][0]
    plans = {name: _search_plan(b, fn) for name, fn in fns.items() if name != BASE}
    plans[BASE] = plan_kind(b.raw, raw_sql, (RARE_TERM, RARE_TERM, PER_PAGE))
    notes = [
        f"{RARE_TERM!r} matches {hits} of {b.plan.total_tasks:,} tasks; "
        "managers: Task.objects.search(term)[:20]; the others: websearch_to_tsquery + ts_rank_cd "
        "on the expression of the package's GIN index",
        "plan: " + "; ".join(f"{name} {kind}" for name, kind in plans.items()),
        compare_rows(managers, [r[ID] for r in raw_pg(0)], ordered=False),
    ]
    b.raw.rollback()
    fns[IN_UOW], close = in_open_unit_of_work(b, search)
    return Setup(fns, notes, after=close)
