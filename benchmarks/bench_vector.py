"""Measure vector search: the managers' kNN, filtered kNN, memory recall and hybrid search.

On a scratch database of the embedded PostgreSQL (pgvector 0.8), in one run:

* quality: recall@10 of ``nearest(k=10)`` against exact search over query vectors drawn
  from the data's distribution (not rows), at ``ef_search`` 40, 100 and 200, without and
  with a filter that keeps 1 % of the rows (where the count of results is checked too);
* speed, contenders in turns call by call, ratios to raw psycopg2 sending the same SQL:
  ``nearest``, filtered ``nearest``, ``ConversationMemory.objects.recall`` and
  ``hybrid_search``, each through the managers in ``db.session()`` units of work and
  inside one open unit of work (``managers_in_uow``); ``nearest`` also through plain
  SQLAlchemy ORM and Core.

Figures are printed, never asserted::

    python benchmarks/bench_vector.py            # full run: 50,000 x 384 + 10,000 x 1536, ~5 min
    python benchmarks/bench_vector.py --quick    # smoke run (CI), well under a minute

A server without pgvector is skipped with a message (exit 0).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench import code_version, print_profile
from bench_harness import (
    BASE,
    FULL,
    QUICK,
    Plan,
    Setup,
    Timing,
    _server_source,
    measure,
    open_database,
    raw_connection,
    scratch_database,
    sql,
)
from bench_seed import make_user
from bench_vector_data import (
    COMMON,
    MEDIUM,
    RARE,
    VECTOR_FULL,
    VECTOR_QUICK,
    VectorPlan,
    drop_documents,
    embeddings,
    seed_documents,
    seed_memories,
)
from bench_vector_ops import (
    CONTENDERS,
    EF_TIMED,
    RECALL_K,
    VBench,
    setup_hybrid,
    setup_nearest,
    setup_recall,
)
from bench_vector_quality import QualityRow, print_quality, quality
from bench_vector_sql import map_plain_doc
from pgvector.psycopg2 import register_vector

from assistant_models import Database


@dataclass(frozen=True)
class Op:
    """One timed operation: its key, title, the managers' goal (ratio to psycopg2), its set-up."""

    key: str
    title: str
    goal: float | None
    setup: Callable[[VBench], Setup]


OPERATIONS = (
    Op("nearest", f"nearest(k=10, ef_search={EF_TIMED}) of {{rows}} docs", 1.3, setup_nearest(False)),
    Op(
        "nearest_filtered",
        f"filter(category=c).nearest(k=10, ef_search={EF_TIMED}), 1 % of the docs",
        None,
        setup_nearest(True),
    ),
    Op(
        "recall_session",
        f"recall(k={RECALL_K}) in one chat of {{memories}} memories",
        1.5,
        setup_recall(True),
    ),
    Op("recall_all", f"recall(k={RECALL_K}) over all {{memories}} memories", 1.5, setup_recall(False)),
    Op("hybrid_rare", f"hybrid_search(k=10), rare term ({RARE!r})", 2.0, setup_hybrid(RARE)),
    Op("hybrid_medium", f"hybrid_search(k=10), medium term ({MEDIUM!r})", 2.0, setup_hybrid(MEDIUM)),
    Op("hybrid_common", f"hybrid_search(k=10), common term ({COMMON!r})", 2.0, setup_hybrid(COMMON)),
)
OPS = {op.key: op for op in OPERATIONS}


@dataclass
class Result:
    op: Op
    title: str
    timings: list[Timing]
    notes: list[str]
    seconds: float = 0.0  # the whole operation: set-up, checks and timing

    def get(self, label: str) -> Timing | None:
        return next((t for t in self.timings if t.label == label), None)

    def ratio(self, label: str) -> float | None:
        mine = next((t for t in self.timings if t.label == label), None)
        base = next((t for t in self.timings if t.label == BASE), None)
        return mine.median / base.median if mine and base else None


def profile_managers(b: VBench, op: Op, calls: int) -> None:
    """Run the managers' contender of ``op`` under cProfile; print where the time goes."""
    try:
        setup = op.setup(b)
        fn = setup.fns["managers"]
        fn(0)
    except Exception as exc:
        b.raw.rollback()
        print(f"\n== profile: {op.key} == skipped: {type(exc).__name__}")
        return
    profiler = cProfile.Profile()
    profiler.enable()
    for i in range(calls):
        fn(i)
    profiler.disable()
    b.raw.rollback()
    if setup.after is not None:
        setup.after([])
    print(f"\n== profile: managers, {op.key}, {calls} calls (cProfile adds its own cost) ==")
    print_profile(profiler, calls)


def run_op(b: VBench, op: Op) -> Result:
    title = op.title.format(rows=f"{b.vplan.rows:,}", memories=f"{b.vplan.memories:,}")
    started = time.perf_counter()
    try:
        setup = op.setup(b)
    except Exception as exc:
        b.raw.rollback()
        return Result(op, title, [], [f"skipped: {type(exc).__name__}: {str(exc)[:200]}"])
    notes = list(setup.notes)
    timings = measure(setup.fns, b.plan, notes)
    b.raw.rollback()
    if setup.after is not None:
        setup.after(notes)
    return Result(op, title, timings, notes, time.perf_counter() - started)


# ---------------------------------------------------------------------------- output


def print_result(r: Result) -> None:
    if not r.timings:
        print(f"\n== {r.op.key}: {r.title} == {' '.join(r.notes)}")
        return
    goal = f"; goal managers <= {r.op.goal}" if r.op.goal else ""
    about = f"{len(r.timings[0].samples)} reps per contender; µs per call{goal}; took {r.seconds:.0f} s"
    print(f"\n== {r.op.key}: {r.title} [{about}] ==")
    print(f"{'contender':<17}{'median':>11}{'p90':>11}{'x psycopg2':>13}{'client CPU':>13}")
    for t in r.timings:
        ratio = r.ratio(t.label)
        times = f"{t.median / 1e3:>11.1f}{t.p90 / 1e3:>11.1f}"
        print(f"{t.label:<17}{times}{ratio or 0:>13.2f}{t.cpu_median / 1e3:>13.1f}")
    for note in r.notes:
        print(f"  note: {note[:600]}")


def _cell(value: float | None) -> str:
    return f"{value:.2f}" if value is not None else "-"


def print_summary(results: list[Result], rows: list[QualityRow], vplan: VectorPlan) -> None:
    """Print the speed table (ratios to psycopg2, goals) and the quality goals, in Markdown."""
    print("\n== summary: ratio = median time / psycopg2's for the same SQL (lower is better) ==")
    print(f"| operation | {' | '.join(CONTENDERS[:5])} | psycopg2 base (median) | goal | met |")
    print("|---" * 9 + "|")
    for r in results:
        base = next((t for t in r.timings if t.label == BASE), None)
        shown = f"{base.median / 1e3:.1f} µs" if base else "-"
        mine = r.ratio("managers")
        goal = f"<= {r.op.goal}" if r.op.goal else "-"
        met = "-" if r.op.goal is None or mine is None else ("yes" if mine <= r.op.goal else "no")
        cells = " | ".join(_cell(r.ratio(c)) for c in CONTENDERS[:5])
        print(f"| {r.title} | {cells} | {shown} | {goal} | {met} |")
    print("\n== client CPU per call, µs (this process only: no server work, no waiting; steadier) ==")
    print(f"| operation | {' | '.join(CONTENDERS)} |")
    print("|---" * (len(CONTENDERS) + 1) + "|")
    for r in results:
        cells = [r.get(c) for c in CONTENDERS]
        print(f"| {r.title} | " + " | ".join(f"{t.cpu_median / 1e3:.0f}" if t else "-" for t in cells) + " |")
    print(f"\n| quality at ef_search={EF_TIMED} | contender | recall@{vplan.k} | fewest rows | goal | met |")
    print("|---" * 6 + "|")
    for filtered, goal in ((False, 0.95), (True, 0.9)):
        points = [q for q in rows if q.filtered == filtered and q.ef == EF_TIMED]
        row = next((q for q in points if q.label == "managers"), points[0] if points else None)
        if row is None:
            continue
        where = "1 % filter" if filtered else "unfiltered"
        met = "yes" if row.recall >= goal and row.min_results >= vplan.k else "no"
        print(
            f"| {where} | {row.label} | {row.recall:.3f} | {row.min_results} | >= {goal}, "
            f"never < {vplan.k} rows | {met} |"
        )


# ------------------------------------------------------------------------------ main


def pgvector_missing() -> str | None:
    """Return why the server cannot run the benchmark (no pgvector), or ``None``."""
    server = Database(_server_source())
    try:
        with server.engine.connect() as conn:
            found = conn.exec_driver_sql(
                "SELECT 1 FROM pg_available_extensions WHERE name = 'vector'"
            ).first()
            version = conn.exec_driver_sql("SHOW server_version").scalar()
    finally:
        server.dispose()
    return None if found else f"PostgreSQL {version} at {server.url_masked} has no pgvector extension"


def prepare(db: Database, raw: Any, vplan: VectorPlan, plan: Plan) -> VBench:
    """Seed both tables, print what was built and how long it took; return the benchmark's state."""
    started = time.perf_counter()
    rows = embeddings(1, vplan.rows, vplan.dim, vplan)
    queries = embeddings(1, vplan.queries, vplan.dim, vplan, part=1)
    memories = embeddings(2, vplan.memories, vplan.memory_dim, vplan)
    memory_queries = embeddings(2, vplan.queries, vplan.memory_dim, vplan, part=1)
    generated = time.perf_counter() - started
    built = seed_documents(db, raw, vplan, rows)
    with db.session():
        user = make_user("vector_owner")
    chats, built_memories = seed_memories(raw, vplan, user, memories)
    print(f"data: generated in {generated:.1f} s; seeded with binary COPY, indexes built after loading:")
    print(f"  {vplan.rows:,} docs x {vplan.dim} dims, {vplan.latent} latent factors + noise {vplan.noise}")
    print(f"  {vplan.memories:,} memories x {vplan.memory_dim} dims in {vplan.sessions} chats")
    for name, seconds in {**built, **built_memories}.items():
        print(f"  index {name}: built in {seconds:.1f} s")
    register_vector(raw)
    return VBench(db, raw, plan, vplan, rows, queries, memory_queries, chats)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Measure vector search side by side with raw psycopg2.")
    parser.add_argument("--quick", action="store_true", help="small data, few repetitions: a smoke run")
    parser.add_argument("--ops", default=",".join(OPS), help=f"comma-separated subset of {','.join(OPS)}")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database (prints its name)")
    parser.add_argument("--profile", action="store_true", help="also profile the managers' side of each op")
    args = parser.parse_args(argv)
    ops = [OPS[key] for key in args.ops.split(",") if key]
    missing = pgvector_missing()
    if missing:
        print(f"vector benchmark skipped: {missing}")
        return 0
    os.environ.setdefault("ASSISTANT_MODELS_BCRYPT_ROUNDS", "4")
    plan, vplan = (QUICK, VECTOR_QUICK) if args.quick else (FULL, VECTOR_FULL)
    started = time.perf_counter()
    map_plain_doc()
    results: list[Result] = []
    with scratch_database(args.keep) as url:
        db = open_database(url, False)
        raw = raw_connection(db)
        try:
            version = sql(raw, "SELECT extversion FROM pg_extension WHERE extname = 'vector'")[0][0]
            server = sql(raw, "SHOW server_version")[0][0]
            print(
                f"assistant_models vector benchmark: python {platform.python_version()}, "
                f"PostgreSQL {server}, "
                f"pgvector {version}; mode {vplan.name}; {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}"
            )
            print(f"code: {code_version()}; database: {db.url_masked} (scratch, dropped at the end)")
            b = prepare(db, raw, vplan, plan)
            quality_notes: list[str] = []
            measured = time.perf_counter()
            quality_rows = quality(b, quality_notes)
            quality_notes.append(f"the quality figures took {time.perf_counter() - measured:.0f} s")
            print_quality(quality_rows, b, quality_notes)
            for op in ops:
                results.append(run_op(b, op))
                print_result(results[-1])
            if args.profile:
                for op in ops:
                    profile_managers(b, op, 20 if args.quick else 200)
            drop_documents(db)
        finally:
            raw.close()
            db.dispose()
    print_summary(results, quality_rows, vplan)
    print(
        f"total time {time.perf_counter() - started:.1f} s; load average at the end {os.getloadavg()[0]:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
