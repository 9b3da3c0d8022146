"""The vector benchmark's contenders other than the managers: raw psycopg2, SQLAlchemy Core and ORM.

Raw psycopg2 sends the statements the managers send (the benchmark prints the managers'
own, captured on the engine, so the two can be compared), on one connection with
pgvector's adapter registered: query vectors go out as numpy arrays and embeddings come
back as numpy arrays, as they do through the managers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import sqlalchemy as sa
from bench_harness import PLAIN_ORM
from bench_vector_data import DOCS, MEMORIES, BenchDoc
from sqlalchemy.orm import Session, registry

DOC_COLUMNS = "d.id, d.category, d.body, d.embedding"


def ef_setting(ef_search: int | None) -> list[str]:
    """Return the statements that set ``hnsw.ef_search`` for one transaction (none for the default)."""
    return [] if ef_search is None else [f"SET LOCAL hnsw.ef_search = {int(ef_search)}"]


ITERATIVE = "SET LOCAL hnsw.iterative_scan = strict_order"
EXACT = "SET LOCAL enable_indexscan = off"


def nearest_sql(filtered: bool) -> str:
    """Return the k-nearest statement: cosine distance, the nearest first, optionally one category."""
    where = "WHERE d.category = %(category)s " if filtered else ""
    return (
        f"SELECT {DOC_COLUMNS}, d.embedding <=> %(q)s AS distance FROM {DOCS} d {where}"
        "ORDER BY distance LIMIT %(k)s"
    )


def raw_nearest(
    raw: Any, q: np.ndarray, k: int, ef_search: int | None, category: int | None = None
) -> list[tuple[Any, ...]]:
    """Return the ``k`` nearest documents (optionally of one category) as tuples, distance last.

    Filtered, pgvector 0.8's iterative index scan keeps looking until ``k`` rows pass the
    filter; should fewer come back, the query runs again without the index (exact).
    """
    params = {"q": q, "k": k, "category": category}
    with raw.cursor() as cur:
        for statement in ef_setting(ef_search) + ([ITERATIVE] if category is not None else []):
            cur.execute(statement)
        cur.execute(nearest_sql(category is not None), params)
        rows: list[tuple[Any, ...]] = cur.fetchall()
        if category is not None and len(rows) < k:
            cur.execute(EXACT)
            cur.execute(nearest_sql(True), params)
            rows = cur.fetchall()
    raw.commit()
    return rows


def exact_ids(raw: Any, q: np.ndarray, k: int, category: int | None = None) -> list[int]:
    """Return the ids of the exact ``k`` nearest documents, the index bypassed (a cross-check for numpy)."""
    with raw.cursor() as cur:
        cur.execute(EXACT)
        cur.execute(nearest_sql(category is not None), {"q": q, "k": k, "category": category})
        ids = [row[0] for row in cur.fetchall()]
    raw.rollback()
    return ids


# ------------------------------------------------------------------- Core and ORM


class PlainDoc:
    """``bench_vector_docs`` mapped by plain SQLAlchemy (no validation, no package listeners)."""

    id: int
    category: int
    body: str
    embedding: Any


def map_plain_doc() -> None:
    """Map :class:`PlainDoc` once, in a registry of its own; the search vector stays unmapped."""
    plain = registry()
    plain.map_imperatively(PlainDoc, BenchDoc.__table__, exclude_properties=["search_vector"])
    plain.configure()


def _distance(column: Any, q: np.ndarray) -> Any:
    return column.op("<=>", return_type=sa.Float())(q).label("distance")


def core_nearest(
    engine: sa.Engine, q: np.ndarray, k: int, ef_search: int | None, category: int | None = None
) -> list[Any]:
    """Return the nearest documents through SQLAlchemy Core (the same statements as raw)."""
    t = BenchDoc.__table__
    distance = _distance(t.c.embedding, q)
    stmt = sa.select(t.c.id, t.c.category, t.c.body, t.c.embedding, distance).order_by(distance).limit(k)
    if category is not None:
        stmt = stmt.where(t.c.category == category)
    with engine.begin() as conn:
        for statement in ef_setting(ef_search) + ([ITERATIVE] if category is not None else []):
            conn.exec_driver_sql(statement)
        rows = conn.execute(stmt).all()
        if category is not None and len(rows) < k:
            conn.exec_driver_sql(EXACT)
            rows = conn.execute(stmt).all()
    return rows


def orm_nearest(
    engine: sa.Engine, q: np.ndarray, k: int, ef_search: int | None, category: int | None = None
) -> list[Any]:
    """Return the nearest documents as plain ORM objects, their distances set on them."""
    distance = _distance(PlainDoc.embedding, q)
    stmt = sa.select(PlainDoc, distance).order_by(distance).limit(k)
    if category is not None:
        stmt = stmt.where(PlainDoc.category == category)
    with Session(engine) as s:
        for statement in ef_setting(ef_search) + ([ITERATIVE] if category is not None else []):
            s.execute(sa.text(statement))
        rows = s.execute(stmt, execution_options=PLAIN_ORM).all()
        if category is not None and len(rows) < k:
            s.execute(sa.text(EXACT))
            rows = s.execute(stmt, execution_options=PLAIN_ORM).all()
    out = []
    for doc, dist in rows:
        doc.distance = dist
        out.append(doc)
    return out


# --------------------------------------------------------------------------- hybrid


def hybrid_sql(candidates: int) -> str:
    """Return reciprocal rank fusion of the vector ranking and the full-text ranking, in one statement.

    Each side ranks its best ``candidates``; a row's score is the sum over the sides that
    found it of ``1 / (rrf_k + rank)``.
    """
    return (
        "WITH semantic AS (SELECT d.id, row_number() OVER (ORDER BY d.embedding <=> %(q)s) AS rank "
        f"FROM {DOCS} d ORDER BY d.embedding <=> %(q)s LIMIT {candidates}), "
        "keyword AS (SELECT d.id, row_number() OVER (ORDER BY ts_rank_cd(d.search_vector, query) DESC, "
        f"d.id) AS rank FROM {DOCS} d, websearch_to_tsquery('english', %(text)s) query "
        "WHERE d.search_vector @@ query ORDER BY ts_rank_cd(d.search_vector, query) DESC, d.id "
        f"LIMIT {candidates}) SELECT {DOC_COLUMNS}, COALESCE(1.0 / (%(rrf_k)s + s.rank), 0.0) "
        "+ COALESCE(1.0 / (%(rrf_k)s + w.rank), 0.0) AS score "
        "FROM semantic s FULL OUTER JOIN keyword w ON s.id = w.id "
        f"JOIN {DOCS} d ON d.id = COALESCE(s.id, w.id) ORDER BY score DESC, d.id LIMIT %(k)s"
    )


def raw_hybrid(
    raw: Any, text: str, q: np.ndarray, k: int, rrf_k: int, candidates: int
) -> list[tuple[Any, ...]]:
    """Return the fused top ``k`` as tuples, score last."""
    with raw.cursor() as cur:
        cur.execute(hybrid_sql(candidates), {"q": q, "text": text, "k": k, "rrf_k": rrf_k})
        rows: list[tuple[Any, ...]] = cur.fetchall()
    raw.commit()
    return rows


# --------------------------------------------------------------------------- recall

MEMORY_COLUMNS = (
    "id, session_id, persona_id, first_message_id, content, memory_type, importance, embedding, "
    "embedding_model, meta, last_accessed_at, access_count, created_at, updated_at, deleted_at"
)

RETURNED = ", ".join(f"m.{c}" for c in MEMORY_COLUMNS.split(", "))


def recall_sql(by_session: bool, candidates: int) -> str:
    """Return the one recall statement: nearest candidates, scored, the chosen ones' use recorded.

    The score is Park et al.'s: recency (0.995 per hour since last use) + importance +
    relevance (cosine similarity), each weighted 1.
    """
    chat = "AND m.session_id = %(session)s " if by_session else ""
    return (
        "WITH candidates AS MATERIALIZED (SELECT m.id, 1 - (m.embedding <=> %(q)s) AS relevance, "
        "power(0.995, extract(epoch FROM now() - m.last_accessed_at) / 3600) AS recency, m.importance "
        f"FROM {MEMORIES} m WHERE m.deleted_at IS NULL {chat}"
        "AND EXISTS (SELECT 1 FROM chat_sessions s WHERE s.id = m.session_id AND s.deleted_at IS NULL) "
        f"ORDER BY m.embedding <=> %(q)s LIMIT {candidates}), "
        "chosen AS (SELECT id, relevance + recency + importance AS score FROM candidates "
        "ORDER BY score DESC LIMIT %(k)s), "
        f"touched AS (UPDATE {MEMORIES} m SET access_count = m.access_count + 1, last_accessed_at = now() "
        f"FROM chosen WHERE m.id = chosen.id RETURNING {RETURNED}, chosen.score) "
        "SELECT * FROM touched ORDER BY score DESC"
    )


def raw_recall(raw: Any, q: np.ndarray, k: int, session: Any, candidates: int) -> list[tuple[Any, ...]]:
    """Return the recalled memories as tuples (score last), their access counted; commit."""
    with raw.cursor() as cur:
        cur.execute(recall_sql(session is not None, candidates), {"q": q, "k": k, "session": session})
        rows: list[tuple[Any, ...]] = cur.fetchall()
    raw.commit()
    return rows


# ---------------------------------------------------------------------- captures


@contextmanager
def captured(engine: sa.Engine) -> Iterator[list[str]]:
    """Collect the statements sent on ``engine`` meanwhile (to print what the managers sent)."""
    seen: list[str] = []

    def listen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(" ".join(statement.split()))

    sa.event.listen(engine, "before_cursor_execute", listen)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", listen)


def statements_of(engine: sa.Engine, call: Callable[[], object]) -> list[str]:
    """Return the statements ``call`` sends, BEGIN/COMMIT aside."""
    with captured(engine) as seen:
        call()
    return seen
