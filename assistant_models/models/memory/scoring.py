"""The SQL of recall and decay: one statement each, timed by the server's clock.

Recall follows the retrieval of *Generative Agents* (Park et al., 2023): a memory's
score mixes its relevance to the query, its importance and its recency, each scaled
to 0..1 over the candidates. :meth:`ConversationMemoryManager.recall` documents the
formula; this module writes it as SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from assistant_models.vector import Vector

__all__ = [
    "MAX_HALF_LIVES",
    "TINY_IMPORTANCE",
    "Recall",
    "decayed_importance",
    "half_lives",
    "recall_statement",
]

_FLOAT = sa.Float(53)  # double precision, as the columns and pgvector's distances

#: Half-lives counted at most: ``0.5 ^ 1000`` is about 1e-301, and PostgreSQL raises on an underflow.
MAX_HALF_LIVES = 1000
#: Importance below this decays straight to 0 (the product would underflow a double).
TINY_IMPORTANCE = 1e-20


@dataclass(frozen=True)
class Recall:
    """What a recall asks: the query, how many, among how many, and how to weigh them.

    Attributes:
        vector: The query embedding.
        k: How many memories to return.
        candidates: How many nearest memories are scored.
        min_similarity: The least cosine similarity a candidate may have, or ``None``.
        weights: Weights of relevance, importance and recency.
        half_life: Seconds over which recency halves.
    """

    vector: list[float]
    k: int
    candidates: int
    min_similarity: float | None
    weights: tuple[float, float, float]
    half_life: float


def half_lives(since: Any, half_life_seconds: Any) -> Any:
    """Return how many half-lives have passed since ``since`` by the server's ``now()`` (at least 0)."""
    age = sa.cast(sa.func.extract("epoch", sa.func.now() - since), _FLOAT)
    return sa.func.greatest(age / sa.literal(half_life_seconds, _FLOAT), 0.0, type_=_FLOAT)


def decayed_importance(table: sa.Table, half_life_seconds: float) -> Any:
    """Return ``importance * 0.5 ^ (half-lives since the later of last access and last update)``.

    A value that would underflow a double is 0 instead (see :data:`MAX_HALF_LIVES`).
    """
    lives = half_lives(sa.func.greatest(table.c.last_accessed_at, table.c.updated_at), half_life_seconds)
    factor = sa.func.power(sa.literal(0.5, _FLOAT), lives, type_=_FLOAT)
    vanishing = sa.or_(lives > MAX_HALF_LIVES, table.c.importance < TINY_IMPORTANCE)
    return sa.case((vanishing, sa.literal(0.0, _FLOAT)), else_=table.c.importance * factor)


def _scaled(value: Any) -> Any:
    """Return ``value`` min-max scaled to 0..1 over the whole pool; 1 when the pool's values are equal."""
    low = sa.func.min(value, type_=_FLOAT).over()
    high = sa.func.max(value, type_=_FLOAT).over()
    spread = sa.func.nullif(high - low, 0.0, type_=_FLOAT)
    return sa.func.coalesce((value - low) / spread, 1.0, type_=_FLOAT)


def _pool(table: sa.Table, where: list[Any], ask: Recall) -> Any:
    """Return the candidates: the nearest live memories by cosine distance, as an index scan serves them."""
    query = sa.bindparam("am_query", ask.vector, type_=Vector(len(ask.vector)))
    distance = table.c.embedding.op("<=>", return_type=_FLOAT)(query)
    conditions = list(where)
    if ask.min_similarity is not None:
        conditions.append(distance <= 1.0 - ask.min_similarity)
    pool = sa.select(
        table.c.id, table.c.importance, table.c.last_accessed_at, distance.label("distance")
    ).where(*conditions)
    return pool.order_by(distance).limit(ask.candidates).cte("am_pool")


def _top(pool: Any, ask: Recall) -> Any:
    """Return the ``k`` best-scored candidates with their scores (ties broken by key)."""
    lives = sa.func.least(half_lives(pool.c.last_accessed_at, ask.half_life), MAX_HALF_LIVES, type_=_FLOAT)
    parts = (
        1.0 - pool.c.distance,  # relevance: cosine similarity
        pool.c.importance,
        sa.func.power(sa.literal(0.5, _FLOAT), lives, type_=_FLOAT),  # recency
    )
    total = sum(ask.weights)
    weighted = [sa.literal(w / total, _FLOAT) * _scaled(p) for w, p in zip(ask.weights, parts, strict=True)]
    score = (weighted[0] + weighted[1] + weighted[2]).label("score")
    ranked = sa.select(pool.c.id, score).order_by(score.desc(), pool.c.id).limit(ask.k)
    return ranked.cte("am_top")


def recall_statement(model: type[Any], table: sa.Table, where: list[Any], ask: Recall) -> Any:
    """Return the one statement of a recall: score the pool, bump the best, read them back.

    ``WITH am_pool AS (nearest candidates), am_top AS (k best by score), am_recalled AS
    (UPDATE ... FROM am_top ... RETURNING *, score) SELECT ... ORDER BY score DESC, id``:
    the scores use the access values from before the update. ``where`` are the
    QuerySet's conditions (visibility and filters), on ``table``.
    """
    pool = _pool(table, where, ask)
    top = _top(pool, ask)
    bump = (
        sa.update(table)
        .where(table.c.id == top.c.id, *where)
        # a use is no change: updated_at (the column's onupdate) stays
        .values(
            access_count=table.c.access_count + 1,
            last_accessed_at=sa.func.now(),
            updated_at=table.c.updated_at,
        )
        .returning(*table.c, top.c.score)
        .cte("am_recalled")
    )
    memory = aliased(model, bump, adapt_on_names=True)
    stmt = sa.select(memory, bump.c.score).order_by(bump.c.score.desc(), bump.c.id)
    return stmt.execution_options(populate_existing=True)
