"""Helpers of the memory tests: server-side ages and the scoring formula recomputed in Python."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
from sqlalchemy import text

from assistant_models.models import ConversationMemory


def age(
    db_session, memory: ConversationMemory, *, accessed: timedelta, updated: timedelta | None = None
) -> None:
    """Date ``memory``'s last access (and last update) back by the given times on the server's clock."""
    db_session.flush()
    db_session.execute(
        text(
            "UPDATE conversation_memory SET last_accessed_at = now() - :accessed, "
            "updated_at = now() - :updated WHERE id = :id"
        ),
        {"accessed": accessed, "updated": updated if updated is not None else accessed, "id": memory.id},
    )
    db_session.expire(memory)


def stored(db_session, memory_id) -> dict:
    """Return a memory's row as stored, read with SQL (no identity map)."""
    row = (
        db_session.execute(
            text(
                "SELECT importance, last_accessed_at, updated_at, access_count, embedding_model, deleted_at "
                "FROM conversation_memory WHERE id = :id"
            ),
            {"id": memory_id},
        )
        .mappings()
        .one()
    )
    return dict(row)


def expected_scores(db_session, query, ids, weights=(1.0, 1.0, 1.0), half_life=timedelta(days=7)) -> dict:
    """Return the recall score of each memory of ``ids`` (the pool), computed in Python from the rows."""
    now = db_session.execute(text("SELECT now()")).scalar_one()
    db_session.expire_all()  # the rows as stored, not as held
    rows = [ConversationMemory.all_objects.get(pk=key) for key in ids]
    q = np.asarray(query, dtype=np.float64)
    parts = []
    for row in rows:
        e = np.asarray(row.embedding, dtype=np.float64)
        relevance = float(e @ q / (np.linalg.norm(e) * np.linalg.norm(q)))
        lives = max((now - row.last_accessed_at) / half_life, 0.0)
        parts.append((relevance, row.importance, 0.5**lives))

    def scaled(values):
        low, high = min(values), max(values)
        return [1.0 if high == low else (v - low) / (high - low) for v in values]

    columns = [scaled([p[i] for p in parts]) for i in range(3)]
    total = sum(weights)
    return {
        row.id: sum(w * columns[i][n] for i, w in enumerate(weights)) / total for n, row in enumerate(rows)
    }
