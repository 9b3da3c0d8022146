"""How good the approximate search is: recall@k against exact search, and how long each query took.

Exact search is computed with numpy on the very float32 values stored (a few queries are
also checked against PostgreSQL with the index turned off). The filtered queries keep one
category, 1 % of the rows: there, the count of results matters as much as the recall,
since an index scan that gives up early returns fewer than k rows.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from bench_harness import BASE
from bench_vector_data import BenchDoc, exact_top, query_category, row_categories
from bench_vector_sql import exact_ids, raw_nearest

if TYPE_CHECKING:
    from bench_vector_ops import VBench


@dataclass(frozen=True)
class QualityRow:
    """One point of the recall/latency curve for one contender."""

    filtered: bool
    ef: int | None  # None: the server's default (pgvector: 40)
    label: str
    recall: float
    min_results: int
    p50_ms: float
    p90_ms: float


Finder = Callable[[int, int | None, int | None], list[int]]


def _finders(b: VBench) -> dict[str, Finder]:
    k = b.vplan.k

    def managers(i: int, ef: int | None, category: int | None) -> list[int]:
        with b.db.session():
            qs = BenchDoc.objects if category is None else BenchDoc.objects.filter(category=category)
            return [d.id for d in qs.nearest("embedding", b.q(i), k=k, ef_search=ef)]

    def raw_pg(i: int, ef: int | None, category: int | None) -> list[int]:
        return [r[0] for r in raw_nearest(b.raw, b.q(i), k, ef, category)]

    return {"managers": managers, BASE: raw_pg}


def _point(find: Finder, exact: np.ndarray, ef: int | None, filtered: bool) -> tuple[float, int, list[float]]:
    hits, fewest, times = 0, exact.shape[1], []
    for i, expected in enumerate(exact):
        started = time.perf_counter()
        found = find(i, ef, query_category(i) if filtered else None)
        times.append((time.perf_counter() - started) * 1e3)
        hits += len(set(found) & set(expected.tolist()))
        fewest = min(fewest, len(found))
    return hits / exact.size, fewest, times


def cross_check(b: VBench, exact: np.ndarray, filtered: bool, notes: list[str]) -> None:
    """Note whether PostgreSQL's exact search (no index) agrees with numpy's on a few queries."""
    agree = sum(
        exact_ids(b.raw, b.q(i), b.vplan.k, query_category(i) if filtered else None) == exact[i].tolist()
        for i in range(3)
    )
    where = "filtered" if filtered else "unfiltered"
    notes.append(f"{where}: numpy's exact top-k = PostgreSQL's with the index off in {agree} of 3 queries")


def quality(b: VBench, notes: list[str]) -> list[QualityRow]:
    """Return the recall/latency curve of each contender, unfiltered and with the 1 % filter."""
    out: list[QualityRow] = []
    finders = _finders(b)
    categories = row_categories(b.vplan.rows)
    for filtered in (False, True):
        mask = None
        if filtered:
            mask = np.stack([categories == query_category(i) for i in range(len(b.queries))])
        exact = exact_top(b.queries, b.rows, b.vplan.k, mask) + 1  # ids start at 1
        cross_check(b, exact, filtered, notes)
        for ef in (None, *b.vplan.ef_values):
            for label, find in list(finders.items()):
                try:
                    recall, fewest, times = _point(find, exact, ef, filtered)
                except Exception as exc:  # the managers' nearest() has not landed: psycopg2 alone
                    b.raw.rollback()
                    notes.append(f"{label} left out: {type(exc).__name__}: {str(exc)[:200]}")
                    del finders[label]
                    continue
                p90 = sorted(times)[int(len(times) * 0.9)]
                out.append(QualityRow(filtered, ef, label, recall, fewest, statistics.median(times), p90))
    return out


def print_quality(rows: list[QualityRow], b: VBench, notes: list[str]) -> None:
    """Print the recall/latency curve."""
    k, n = b.vplan.k, len(b.queries)
    print(
        f"\n== quality: recall@{k} against exact search, {n} query vectors drawn like the rows (not rows) =="
    )
    head = f"{'contender':<11}{f'recall@{k}':>10}{'fewest rows':>13}{'p50 ms':>9}{'p90 ms':>9}"
    print(f"{'filter':<12}{'ef_search':>10}  {head}")
    for r in rows:
        ef = "default" if r.ef is None else str(r.ef)
        where = "1 %" if r.filtered else "none"
        figures = f"{r.recall:>10.3f}{r.min_results:>13}{r.p50_ms:>9.2f}{r.p90_ms:>9.2f}"
        print(f"{where:<12}{ef:>10}  {r.label:<11}{figures}")
    for note in notes:
        print(f"  note: {note}")
