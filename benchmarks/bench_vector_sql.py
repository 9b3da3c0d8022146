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


#: pgvector's defaults, restored after a search when the connection had not defined them yet.
DEFAULTS = {"hnsw.ef_search": "40", "hnsw.iterative_scan": "off", "ivfflat.iterative_scan": "off"}
EXACT = "SET LOCAL enable_indexscan = off"


def scan_settings(k: int, ef_search: int | None, filtered: bool) -> dict[str, str]:
    """Return the pgvector settings of one search, as the managers choose them.

    A filtered search (or one of more rows than the default candidate list) scans the
    HNSW index iteratively, in strict distance order (pgvector 0.8).
    """
    settings = {} if ef_search is None else {"hnsw.ef_search": str(int(ef_search))}
    if filtered or k > int(DEFAULTS["hnsw.ef_search"]):
        settings |= {"hnsw.iterative_scan": "strict_order", "ivfflat.iterative_scan": "relaxed_order"}
    return settings


def set_sql(settings: dict[str, str], read_first: bool = False) -> str:
    """Return one SELECT setting ``settings`` for the transaction, optionally reading the old values first."""
    reads = [f"current_setting('{name}', true)" for name in settings] if read_first else []
    writes = [f"set_config('{name}', '{value}', true)" for name, value in settings.items()]
    return "SELECT " + ", ".join(reads + writes)


def nearest_sql(filtered: bool, exact: bool = False, by_alias: bool = False) -> str:
    """Return the k-nearest statement: cosine distance, the nearest first, optionally one category.

    As the managers write it, the ORDER BY repeats the distance (the vector goes out twice);
    ``by_alias`` orders by the selected column's name instead, as one would by hand.
    ``exact`` orders by an expression no index serves, so every matching row is measured.
    """
    where = "WHERE d.category = %(category)s " if filtered else ""
    order = "distance" if by_alias else "(d.embedding <=> %(q)s)"
    return (
        f"SELECT {DOC_COLUMNS}, d.embedding <=> %(q)s AS distance FROM {DOCS} d {where}"
        f"ORDER BY {order + ' + 0' if exact else order} LIMIT %(k)s"
    )


def raw_nearest(
    raw: Any,
    q: np.ndarray,
    k: int,
    ef_search: int | None,
    category: int | None = None,
    minimal: bool = False,
) -> list[tuple[Any, ...]]:
    """Return the ``k`` nearest documents (optionally of one category) as tuples, distance last.

    The statements are the managers': one SELECT reads and sets the scan settings for the
    transaction, the search runs, one SELECT puts the old settings back, and if the scan
    returned fewer than ``k`` rows, the search runs again without the index (exact).
    ``minimal`` is what one would write by hand: no restoring (the transaction ends right
    away), the ORDER BY naming the distance column (the vector goes out once).
    """
    params = {"q": q, "k": k, "category": category}
    settings = scan_settings(k, ef_search, category is not None)
    with raw.cursor() as cur:
        if settings:
            cur.execute(set_sql(settings, read_first=not minimal))
            old = cur.fetchone()[: len(settings)]
        cur.execute(nearest_sql(category is not None, by_alias=minimal), params)
        rows: list[tuple[Any, ...]] = cur.fetchall()
        if settings and not minimal:
            back = {name: value or DEFAULTS[name] for name, value in zip(settings, old, strict=True)}
            cur.execute(set_sql(back))
        if len(rows) < k:
            cur.execute(nearest_sql(category is not None, exact=True), params)
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
    """Return the nearest documents through SQLAlchemy Core.

    As one would write it by hand: the scan settings in one SELECT, not restored (the
    transaction ends right after), then the search, and the exact one if rows are missing.
    """
    t = BenchDoc.__table__
    distance = _distance(t.c.embedding, q)
    stmt = sa.select(t.c.id, t.c.category, t.c.body, t.c.embedding, distance).order_by(distance).limit(k)
    if category is not None:
        stmt = stmt.where(t.c.category == category)
    settings = scan_settings(k, ef_search, category is not None)
    with engine.begin() as conn:
        if settings:
            conn.exec_driver_sql(set_sql(settings))
        rows = conn.execute(stmt).all()
        if len(rows) < k:
            rows = conn.execute(stmt.order_by(None).order_by(distance.element + 0)).all()
    return rows


def orm_nearest(
    engine: sa.Engine, q: np.ndarray, k: int, ef_search: int | None, category: int | None = None
) -> list[Any]:
    """Return the nearest documents as plain ORM objects, their distances set on them (as Core does)."""
    distance = _distance(PlainDoc.embedding, q)
    stmt = sa.select(PlainDoc, distance).order_by(distance).limit(k)
    if category is not None:
        stmt = stmt.where(PlainDoc.category == category)
    settings = scan_settings(k, ef_search, category is not None)
    with Session(engine) as s:
        if settings:
            s.execute(sa.text(set_sql(settings)))
        rows = s.execute(stmt, execution_options=PLAIN_ORM).all()
        if len(rows) < k:
            exact = stmt.order_by(None).order_by(distance.element + 0)
            rows = s.execute(exact, execution_options=PLAIN_ORM).all()
    out = []
    for doc, dist in rows:
        doc.distance = dist
        out.append(doc)
    return out


# --------------------------------------------------------------------------- hybrid


def hybrid_sql(candidates: int) -> str:
    """Return reciprocal rank fusion of the vector ranking and the full-text ranking, in one statement.

    Each side takes its best ``candidates`` and numbers them from 1 (ties by key); a row
    scores the sum, over the sides that found it, of ``1 / (rrf_k + rank)``.
    """
    query = "websearch_to_tsquery('english', %(text)s)"
    by_meaning = (
        f"SELECT d.id, d.embedding <=> %(q)s AS distance FROM {DOCS} d ORDER BY distance LIMIT {candidates}"
    )
    by_words = (
        f"SELECT d.id, ts_rank_cd(d.search_vector, {query}) AS rank FROM {DOCS} d "
        f"WHERE d.search_vector @@ {query} ORDER BY rank DESC LIMIT {candidates}"
    )
    meaning = (
        f"SELECT m.id AS key, row_number() OVER (ORDER BY m.distance, m.id) AS rank FROM ({by_meaning}) m"
    )
    words = f"SELECT w.id AS key, row_number() OVER (ORDER BY w.rank DESC, w.id) AS rank FROM ({by_words}) w"
    fused = (
        "SELECT COALESCE(meaning.key, words.key) AS key, COALESCE(1.0 / (%(rrf_k)s + meaning.rank), 0.0) "
        "+ COALESCE(1.0 / (%(rrf_k)s + words.rank), 0.0) AS score, words.rank AS text_rank, "
        f"meaning.rank AS vector_rank FROM ({meaning}) meaning FULL OUTER JOIN ({words}) words "
        "ON meaning.key = words.key"
    )
    return (
        f"SELECT {DOC_COLUMNS}, fused.score, fused.text_rank, fused.vector_rank FROM {DOCS} d "
        f"JOIN ({fused}) fused ON d.id = fused.key ORDER BY fused.score DESC, d.id LIMIT %(k)s"
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


Sent = tuple[str, dict[str, Any]]
#: Statements of the unit of work itself, left out of what a call sends.
_FRAME = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


@contextmanager
def captured(engine: sa.Engine) -> Iterator[list[Sent]]:
    """Collect the statements sent on ``engine`` meanwhile, with their parameters as sent."""
    seen: list[Sent] = []

    def listen(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if not statement.lstrip().upper().startswith(_FRAME):
            seen.append((statement, dict(parameters or {})))

    sa.event.listen(engine, "before_cursor_execute", listen)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", listen)


def statements_of(engine: sa.Engine, call: Callable[[], object]) -> list[Sent]:
    """Return the statements ``call`` sends, with their parameters, BEGIN/COMMIT aside."""
    with captured(engine) as seen:
        call()
    return seen


def is_setting(statement: str) -> bool:
    """Return whether ``statement`` only reads or sets configuration (the scan settings around a search)."""
    head = statement.lstrip().lower()
    return head.startswith(("select current_setting(", "select set_config(", "set "))


def main_statement(sent: list[Sent]) -> tuple[list[Sent], Sent]:
    """Return the settings statements sent before the first search statement, and that statement."""
    before = []
    for item in sent:
        if not is_setting(item[0]):
            return before, item
        before.append(item)
    raise LookupError("no search statement among those sent")


def _is_vector_text(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("[") and value.endswith("]") and len(value) > 100


def replayer(sent: list[Sent], key: Any) -> Callable[[Any, np.ndarray, Any], list[tuple[Any, ...]]]:
    """Return a raw psycopg2 call sending the captured statements with another vector (and key).

    In the captured parameters, the vector (pgvector's text of it) becomes the call's
    query vector, and any parameter equal to ``key`` (a chat's key, say) the call's key.
    """
    keys = {key, str(key)} if key is not None else set()

    def call(raw: Any, q: np.ndarray, other: Any) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = []
        with raw.cursor() as cur:
            for statement, params in sent:
                swapped = {
                    name: q if _is_vector_text(v) else (other if _hashable(v) and v in keys else v)
                    for name, v in params.items()
                }
                cur.execute(statement, swapped)
                if not is_setting(statement):
                    rows = cur.fetchall()
        raw.commit()
        return rows

    return call


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _nodes(node: dict[str, Any]) -> Iterator[str]:
    name = node["Node Type"]
    if "Index Name" in node:
        name += f" ({node['Index Name']})"
    elif "Relation Name" in node:
        name += f" ({node['Relation Name']})"
    yield name
    for child in node.get("Plans", []):
        yield from _nodes(child)


def plan_of(raw: Any, settings: list[Sent], statement: str, params: dict[str, Any]) -> str:
    """Return the scans of ``statement``'s plan, in plan order (``Index Scan (ix_...)``, ``Seq Scan``)."""
    with raw.cursor() as cur:
        for setting, values in settings:
            cur.execute(setting, values)
        cur.execute(f"EXPLAIN (FORMAT JSON) {statement}", params)
        plan = cur.fetchone()[0][0]["Plan"]
    raw.rollback()
    scans = [n for n in _nodes(plan) if "Scan" in n and "CTE Scan" not in n and "Subquery" not in n]
    return ", ".join(dict.fromkeys(scans))
