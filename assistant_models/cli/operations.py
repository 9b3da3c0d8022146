"""Operations commands: health (for probes), stats (rows and sizes), purge (retention sweeps)."""

from __future__ import annotations

import argparse
from typing import Any

import sqlalchemy as sa

from assistant_models import _migrations
from assistant_models.cli.output import Output
from assistant_models.database import Database
from assistant_models.retention import SWEEPS, RetentionPolicy

__all__ = ["health", "purge", "stats", "table_stats"]


def health(db: Database, args: argparse.Namespace, out: Output) -> int:
    """Print the health report; exit 0 if the server answered, 1 if not."""
    report = db.health()
    if report["ok"]:
        text = f"ok: PostgreSQL {report['server_version']}, {report['latency_ms']:.1f} ms"
    else:
        text = f"unhealthy: {report['error']}"
    out.result(report, text)
    return 0 if report["ok"] else 1


def table_stats(db: Database, *, exact: bool = False) -> list[dict[str, Any]]:
    """Return each package table present in the database with its rows and sizes in bytes.

    Rows are PostgreSQL's estimate (``reltuples``, kept by ANALYZE and autovacuum)
    unless ``exact``, which counts them (a scan of every table).
    """
    import assistant_models.models  # noqa: F401  (defines the tables on the metadata)
    from assistant_models.core.base import metadata

    names = sorted(metadata.tables)
    query = sa.text(
        "SELECT c.relname, greatest(c.reltuples, 0)::bigint, pg_table_size(c.oid), "
        "pg_indexes_size(c.oid), pg_total_relation_size(c.oid) "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND c.relname = ANY(:names) "
        "ORDER BY c.relname"
    )
    with db.engine.connect() as connection:
        rows = connection.execute(query, {"names": names}).all()
        found = []
        for name, estimate, table_bytes, index_bytes, total_bytes in rows:
            count = estimate
            if exact:
                table = metadata.tables[name]
                count = connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            found.append(
                {
                    "table": name,
                    "rows": int(count),
                    "exact": exact,
                    "table_bytes": int(table_bytes),
                    "index_bytes": int(index_bytes),
                    "total_bytes": int(total_bytes),
                }
            )
    return found


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def stats(db: Database, args: argparse.Namespace, out: Output) -> int:
    """Print rows and sizes per table."""
    out.progress("reading table sizes" + (" and counting rows" if args.exact else ""))
    tables = table_stats(db, exact=args.exact)
    width = max((len(t["table"]) for t in tables), default=5)
    mark = "" if args.exact else "~"
    lines = [f"{'table':<{width}}  {'rows':>12}  {'data':>10}  {'indexes':>10}  {'total':>10}"]
    lines += [
        f"{t['table']:<{width}}  {mark + str(t['rows']):>12}  {_size(t['table_bytes']):>10}  "
        f"{_size(t['index_bytes']):>10}  {_size(t['total_bytes']):>10}"
        for t in tables
    ]
    out.result({"tables": tables}, "\n".join(lines))
    return 0


def purge(db: Database, args: argparse.Namespace, out: Output) -> int:
    """Run every retention sweep in its own unit of work and print what each did."""
    policy = RetentionPolicy(
        archived_chats=args.chats_older_than,
        faded_importance=args.memory_below,
        faded_after=args.memory_unused_for,
    )
    with db.engine.connect() as connection:
        installed = _migrations.installed_extensions(connection)
    done: dict[str, int | None] = {}
    for number, sweep in enumerate(SWEEPS, start=1):
        if sweep.needs is not None and sweep.needs not in installed:
            done[sweep.name] = None
            out.progress(f"[{number}/{len(SWEEPS)}] {sweep.name}: skipped (no {sweep.needs} extension)")
            continue
        out.progress(f"[{number}/{len(SWEEPS)}] {sweep.name}: {sweep.description}")
        with db.session():
            done[sweep.name] = sweep.run(policy)
    text = "\n".join(f"{name}: {'skipped' if n is None else n}" for name, n in done.items())
    out.result({"purged": done}, text)
    return 0
