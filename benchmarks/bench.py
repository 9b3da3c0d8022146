"""Measure the performance table of issue 5, section 5, in one interleaved run.

Every operation runs through four contenders on one scratch database:

* ``managers``: the package's managers (``Task.objects...``) in ``db.session()`` units of work;
* ``sa_orm``: plain SQLAlchemy ORM sessions on the same engine, over a plain mapping of the
  same tables (the package's models would bring its validation, audit and soft-delete
  listeners into the baseline);
* ``sa_core``: SQLAlchemy Core on the same engine;
* ``psycopg2``: raw psycopg2 on one connection: the base of every ratio.

The contenders take turns call by call (round robin, the starting contender rotating each
repetition), so machine noise hits all of them alike. For each operation the script prints
the median time per call, the ratio to psycopg2 (lower is better) and the issue's goal.

Run from the repository root (see ``benchmarks/README.md``)::

    python benchmarks/bench.py              # full run: 200k rows, a few minutes
    python benchmarks/bench.py --quick      # smoke run (CI), under a minute
    python benchmarks/bench.py --ops get,search --profile

The benchmark creates a database of its own on the embedded server (or on the server of
``$BENCH_DATABASE_URL`` / ``$DATABASE_URL``), seeds it with COPY and drops it at the end.
Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import gc
import os
import platform
import pstats
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg2
import psycopg2.extras
import sqlalchemy as sa
import sqlmodel
from bench_harness import (
    BASE,
    CONTENDERS,
    FULL,
    OWNER,
    QUICK,
    SCRATCH,
    Bench,
    Plan,
    Setup,
    Timing,
    map_plain_models,
    measure,
    measure_bulk,
    open_database,
    raw_connection,
    scratch_database,
    sql,
)
from bench_reads import setup_get, setup_keyset, setup_latest, setup_search, setup_values
from bench_seed import make_user, seed
from bench_writes import AUDITED_TASK, Kind, setup_bulk_create, setup_ingest, setup_insert, setup_update


@dataclass(frozen=True)
class Op:
    """One row of the table: its number and name in the issue, its figures there, how to set it up.

    ``title`` may name the plan's sizes: ``{rows}`` (bulk rows), ``{depth}``, ``{total}`` (tasks).
    """

    key: str
    number: str
    title: str
    now: str  # the figure before the rewrite
    goal: float | None  # the issue's goal for the managers' ratio; None: for information
    setup: Callable[[Bench], Setup]
    bulk: bool = False
    base_label: str = BASE

    def heading(self, plan: Plan) -> str:
        return self.title.format(
            rows=f"{plan.bulk_rows:,}", depth=f"{plan.depth:,}", total=f"{plan.total_tasks:,}"
        )


def _audited(setup: Callable[[Bench, Kind], Setup]) -> Callable[[Bench], Setup]:
    return lambda b: setup(b, AUDITED_TASK)


OPERATIONS = (
    Op("get", "1", "get by primary key, as objects", "2.6-2.8", 2.3, setup_get),
    Op("latest", "2", "latest 20 of a session (Task by assignee), as objects", "2.8", 2.3, setup_latest),
    Op("values", "3", "latest 20 as values() / read rows", "-", 1.8, setup_values),
    Op("insert", "4", "insert one row + commit (AuthSession, not audited)", "2.4", 1.6, setup_insert),
    Op("update", "5", "update one row + commit (AuthSession)", "2.0-3.2", 1.6, setup_update),
    Op(
        "bulk_create",
        "6",
        "bulk_create {rows} AuthSessions, keys back",
        "2.5-2.7",
        1.0,
        setup_bulk_create,
        bulk=True,
        base_label="execute_values",
    ),
    Op(
        "ingest",
        "7",
        "bulk ingest {rows} plain dicts (fastest path)",
        "6.4-8.2",
        2.0,
        setup_ingest,
        bulk=True,
        base_label="COPY",
    ),
    Op("keyset", "8", "keyset page at depth {depth}", "3.5-4.0", 2.0, setup_keyset, base_label="raw keyset"),
    Op("search", "9", "ranked full-text top 20, {total} rows, rare term", "7,000", 1.5, setup_search),
    Op("insert_audited", "4a", "insert one audited Task + commit", "-", None, _audited(setup_insert)),
    Op("update_audited", "5a", "update one audited Task + commit", "-", None, _audited(setup_update)),
    Op(
        "bulk_create_audited",
        "6a",
        "bulk_create {rows} audited Tasks, keys back",
        "-",
        None,
        _audited(setup_bulk_create),
        bulk=True,
        base_label="execute_values",
    ),
)
OPS = {op.key: op for op in OPERATIONS}


@dataclass
class Result:
    """One operation's timings and notes."""

    op: Op
    timings: list[Timing]
    notes: list[str]
    seconds: float  # wall time of the whole operation, set-up and checks included

    def get(self, label: str) -> Timing | None:
        return next((t for t in self.timings if t.label == label), None)

    def ratio(self, label: str) -> float | None:
        mine, base = self.get(label), self.get(BASE)
        return mine.median / base.median if mine and base else None


def run_op(b: Bench, op: Op) -> Result:
    started = time.perf_counter()
    gc.collect()
    try:
        setup = op.setup(b)
    except Exception as exc:  # an API the set-up needs has changed: report, go on with the rest
        b.raw.rollback()
        return Result(op, [], [f"skipped: {type(exc).__name__}: {str(exc)[:200]}"], 0.0)
    notes = list(setup.notes)
    timings = measure_bulk(setup, b, notes) if op.bulk else measure(setup.fns, b.plan, notes)
    b.raw.rollback()
    if setup.after is not None:
        setup.after(notes)
    return Result(op, timings, notes, time.perf_counter() - started)


# ---------------------------------------------------------------------------- output


def print_result(r: Result, plan: Plan) -> None:
    """Print one operation: median and p90 per call, ratio to psycopg2, the goal."""
    unit, scale = ("ms", 1e6) if r.op.bulk else ("µs", 1e3)
    if not r.timings:
        print(f"\n== {r.op.number}. {r.op.heading(plan)} == {' '.join(r.notes)}")
        return
    reps = len(r.timings[0].samples)
    goal = f"; goal managers <= {r.op.goal}" if r.op.goal else ""
    about = f"{reps} reps per contender; {unit} per call{goal}; took {r.seconds:.0f} s"
    print(f"\n== {r.op.number}. {r.op.heading(plan)} [{about}] ==")
    width = max(len(t.label) for t in r.timings) + 2
    head = f"x {r.op.base_label}"
    col = max(13, len(head) + 3)
    print(f"{'contender':<{width}}{'median':>11}{'p90':>11}{head:>{col}}{'client CPU':>13}")
    for t in r.timings:
        ratio = r.ratio(t.label)
        shown = f"{ratio:>{col}.2f}" if ratio is not None else f"{'-':>{col}}"
        cpu = t.cpu_median / scale
        print(f"{t.label:<{width}}{t.median / scale:>11.1f}{t.p90 / scale:>11.1f}{shown}{cpu:>13.1f}")
    for note in r.notes:
        print(f"  note: {note}")


def _cell(value: float | None) -> str:
    return f"{value:.2f}" if value is not None else "-"


def summary(results: list[Result], plan: Plan) -> Iterator[str]:
    """Yield the section-5 table as Markdown: ratios per contender, the goal, whether it is met."""
    yield "| # | operation | managers | sa_orm | sa_core | psycopg2 base (median) | issue: now | goal | met |"
    yield "|---|---|---|---|---|---|---|---|---|"
    for r in results:
        base = r.get(BASE)
        unit, scale = ("ms", 1e6) if r.op.bulk else ("µs", 1e3)
        shown = f"{base.median / scale:.1f} {unit} ({r.op.base_label})" if base else "-"
        mine = r.ratio("managers")
        goal = f"<= {r.op.goal}" if r.op.goal else "-"
        met = "-" if r.op.goal is None or mine is None else ("yes" if mine <= r.op.goal else "no")
        cells = " | ".join(_cell(r.ratio(c)) for c in CONTENDERS[:3])
        yield f"| {r.op.number} | {r.op.heading(plan)} | {cells} | {shown} | {r.op.now} | {goal} | {met} |"


def cpu_summary(results: list[Result], plan: Plan) -> Iterator[str]:
    """Yield, as Markdown, the median client CPU time per call of each contender."""
    yield "| # | operation | managers | sa_orm | sa_core | psycopg2 |"
    yield "|---|---|---|---|---|---|"
    for r in results:
        unit, scale = ("ms", 1e6) if r.op.bulk else ("µs", 1e3)
        cells = [r.get(c) for c in CONTENDERS]
        shown = " | ".join(f"{t.cpu_median / scale:.0f} {unit}" if t else "-" for t in cells)
        yield f"| {r.op.number} | {r.op.heading(plan)} | {shown} |"


def print_header(b: Bench, args: argparse.Namespace, seeded: float) -> None:
    """Print versions, server, data, and the fixed per-call floors every contender stands on."""
    print("assistant_models benchmark (issue 5, section 5): managers vs SQLAlchemy ORM vs Core vs psycopg2")
    print(
        f"python {platform.python_version()}, SQLAlchemy {sa.__version__}, SQLModel {sqlmodel.__version__}, "
        f"psycopg2 {psycopg2.__version__.split()[0]}, PostgreSQL {sql(b.raw, 'SHOW server_version')[0][0]}"
    )
    print(f"code: {code_version()}")
    print(f"database: {b.db.url_masked} (scratch, dropped at the end)")
    with b.engine.connect() as conn:
        engine_sync = conn.exec_driver_sql("SHOW synchronous_commit").scalar()
    print(f"synchronous_commit: engine {engine_sync}, psycopg2 {sql(b.raw, 'SHOW synchronous_commit')[0][0]}")
    p = b.plan
    print(
        f"data: {p.total_tasks:,} tasks ({p.owner_live:,} live + {p.owner_deleted:,} soft-deleted of the "
        f"owner, {p.others} x {p.other_tasks:,} of others), seeded with COPY in {seeded:.1f} s"
    )
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"mode: {p.name}, {p.block} call(s) per turn; {os.cpu_count()} CPUs, load average {load}")
    floors = measure(
        {
            "pool checkout + pre-ping + return": lambda i: b.engine.connect().close(),
            "psycopg2 SELECT 1 round trip": lambda i: _select_one(b.raw),
        },
        p,
        [],
        calls=min(p.calls, 300),
    )
    b.raw.rollback()
    for t in floors:
        print(f"floor: {t.label}: {t.median / 1000:.1f} µs")


def _select_one(raw: Any) -> None:
    with raw.cursor() as cur:
        cur.execute("SELECT 1")
        cur.fetchone()


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


# ------------------------------------------------------------------------- profiling


def profile_managers(b: Bench, ops: list[Op], calls: int) -> None:
    """Run the managers' contender of each per-call operation under cProfile; print the top costs."""
    for op in [o for o in ops if not o.bulk]:
        setup = op.setup(b)
        fn = setup.fns.get("managers")
        if fn is None:
            continue
        for i in range(b.plan.warmup):
            fn(i)
        profiler = cProfile.Profile()
        profiler.enable()
        for i in range(calls):
            fn(i)
        profiler.disable()
        b.raw.rollback()
        if setup.after is not None:
            setup.after([])
        print(
            f"\n== profile: managers, {op.number}. {op.title}, {calls} calls (cProfile adds its own cost) =="
        )
        print_profile(profiler, calls)


def print_profile(profiler: cProfile.Profile, calls: int, top: int = 20) -> None:
    """Print own time per call by library, then the most expensive functions of assistant_models."""
    by_lib: dict[str, float] = {}
    rows = []
    for (path, line, name), (_cc, _nc, own, cum, _callers) in pstats.Stats(profiler).stats.items():
        lib = _library(path)
        by_lib[lib] = by_lib.get(lib, 0.0) + own
        if lib == "assistant_models":
            rows.append((cum, own, f"{path.split('assistant_models/')[-1]}:{line}({name})"))
    total = sum(by_lib.values()) or 1.0
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


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Measure issue 5's performance table side by side.")
    parser.add_argument("--quick", action="store_true", help="small data, few repetitions: a smoke run")
    parser.add_argument("--ops", default=",".join(OPS), help=f"comma-separated subset of {','.join(OPS)}")
    parser.add_argument("--durable", action="store_true", help="keep synchronous_commit on (commits wait)")
    parser.add_argument(
        "--block", type=int, default=1, help="calls of one contender per turn (1: strict round robin)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch database (prints its name)")
    parser.add_argument(
        "--profile", action="store_true", help="also profile the managers' per-call operations"
    )
    parser.add_argument("--profile-calls", type=int, default=500, help="calls per profiled operation")
    args = parser.parse_args(argv)
    if args.block < 1:
        parser.error("--block must be at least 1")
    args.ops = [o.strip() for o in args.ops.split(",") if o.strip()]
    unknown = sorted(set(args.ops) - set(OPS))
    if unknown:
        parser.error(f"unknown ops {unknown}; choose from {','.join(OPS)}")
    return args


@contextmanager
def bench_context(args: argparse.Namespace) -> Iterator[Bench]:
    """Create, migrate and seed the scratch database; drop it afterwards."""
    os.environ.setdefault("ASSISTANT_MODELS_BCRYPT_ROUNDS", "4")  # seeding creates users
    map_plain_models()
    plan = dataclasses.replace(QUICK if args.quick else FULL, block=args.block)
    with scratch_database(args.keep) as url:
        db = open_database(url, args.durable)
        raw = raw_connection(db)
        try:
            with db.session():
                owner, scratch = make_user(OWNER), make_user(SCRATCH)
                others = [make_user(f"bench_other_{n}") for n in range(plan.others)]
            bench = Bench(db, raw, plan, owner, scratch)
            seeded = seed(bench, others)
            print_header(bench, args, seeded)
            yield bench
        finally:
            raw.close()
            db.dispose()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    results: list[Result] = []
    ops = [OPS[key] for key in args.ops]
    with bench_context(args) as bench:
        for op in ops:
            result = run_op(bench, op)
            results.append(result)
            print_result(result, bench.plan)
        if args.profile:
            profile_managers(bench, ops, 50 if args.quick else args.profile_calls)
        plan = bench.plan
    print("\n== summary: ratio = median time / psycopg2's for the same operation (lower is better) ==")
    for line in summary(results, plan):
        print(line)
    print("\n== client CPU per call (this process only: no server work, no waiting; steadier under load) ==")
    for line in cpu_summary(results, plan):
        print(line)
    load = os.getloadavg()[0]
    print(f"total time {time.perf_counter() - started:.1f} s; load average at the end {load:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
