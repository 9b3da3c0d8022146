"""Re-embedding memories in batches: check what the embedder returned, write a batch in one statement.

Each batch is committed on its own, so an interrupted run keeps the batches already
written, and a second run (which skips rows already carrying the target model)
finishes the rest.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

import numpy as np
import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value

from assistant_models.exceptions import ValidationError
from assistant_models.models.memory.rules import OWNER
from assistant_models.vector import Vector, vector_problem

__all__ = ["Embedder", "Progress", "checked_vectors", "write_batch"]

#: What re-embedding calls: the contents of a batch in, one vector per content out.
Embedder = Callable[[list[str]], Sequence[Any]]


def checked_vectors(batch: Sequence[Any], vectors: Any, dim: int) -> list[list[float]]:
    """Return the embedder's answer for ``batch`` as lists of floats, or raise naming the rows at fault.

    Raises:
        ValidationError: Not one vector per memory (field ``fn``), or a bad vector
            (field ``vectors[<index>]``, the message naming the memory).
    """
    if isinstance(vectors, (str, bytes)) or not isinstance(vectors, (Sequence, np.ndarray)):
        raise ValidationError.single("fn", "must return a list of vectors, one per content", OWNER)
    if len(vectors) != len(batch):
        message = f"returned {len(vectors)} vectors for {len(batch)} memories"
        raise ValidationError.single("fn", message, OWNER)
    errors = []
    for index, (memory, vector) in enumerate(zip(batch, vectors, strict=True)):
        problem = vector_problem(vector, dim)
        if problem is not None:
            errors.append({"field": f"vectors[{index}]", "message": f"(memory {memory.id}) vector {problem}"})
    if errors:
        raise ValidationError(errors, OWNER)
    return [[float(x) for x in vector] for vector in vectors]


def write_batch(
    qs: Any, table: sa.Table, batch: Sequence[Any], vectors: list[list[float]], embedding_model: str
) -> int:
    """Write ``vectors`` and ``embedding_model`` to the rows of ``batch`` in one UPDATE ... FROM (VALUES ...).

    Only rows ``qs`` still sees are written; ``updated_at`` stays (a new embedding says
    nothing new, and the decay clock reads it). The instances get the stored values.
    """
    dim = len(vectors[0])
    rows = [(memory.id, _vector_text(v)) for memory, v in zip(batch, vectors, strict=True)]
    source = sa.values(sa.column("id", sa.Uuid()), sa.column("embedding", sa.Text()), name="am_src").data(
        rows
    )
    where, _ = qs.compiler().conditions()
    stmt = (
        sa.update(table)
        .where(table.c.id == source.c.id, *where)
        .values(
            embedding=sa.cast(source.c.embedding, Vector(dim)),
            embedding_model=embedding_model,
            updated_at=table.c.updated_at,  # not the column's onupdate: see above
        )
        .returning(table.c.id)
    )
    written = set(qs.execute(stmt).scalars())
    for memory, vector in zip(batch, vectors, strict=True):
        if memory.id in written:
            set_committed_value(memory, "embedding", np.asarray(vector, dtype=np.float32))
            set_committed_value(memory, "embedding_model", embedding_model)
    return len(written)


def _vector_text(vector: list[float]) -> str:
    """Return ``vector`` as pgvector's text (``[1.0,2.5]``), cast to a vector by the statement."""
    return "[" + ",".join(map(repr, vector)) + "]"


class Progress:
    """A counter line on a terminal, rewritten in place; nothing when the stream is not a terminal."""

    def __init__(self, enabled: bool, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled and self.stream.isatty()
        self.done = 0

    def add(self, count: int) -> None:
        """Count ``count`` more memories re-embedded and show the total."""
        self.done += count
        if self.enabled:
            self.stream.write(f"\rre-embedded {self.done} memories")
            self.stream.flush()

    def finish(self) -> None:
        """End the counter line."""
        if self.enabled and self.done:
            self.stream.write("\n")
            self.stream.flush()
