"""The vector benchmark's data: embedding-like vectors, the benchmark model, COPY in binary.

The vectors are low-rank plus noise, as sentence embeddings are: ``latent`` random factors
(their weights falling off like an embedding's spectrum) projected to ``dim`` dimensions,
Gaussian noise on top, each row normalised. Queries are drawn from the same distribution,
never copied from the rows. Everything is seeded, so every run holds the same data.
"""

from __future__ import annotations

import io
import json
import struct
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import numpy as np
import sqlalchemy as sa
from bench_harness import sql, vacuum
from bench_seed import WORDS
from sqlalchemy.orm import registry
from sqlmodel import Field

from assistant_models import AssistantModel
from assistant_models.vector import VectorField, VectorIndex, VectorManager

DOCS = "bench_vector_docs"
MEMORIES = "conversation_memory"
CATEGORIES = 100  # ``category = id % 100``: one category is exactly 1 % of the rows
RARE, MEDIUM, COMMON = "quokka", "lantern", "river"
#: How often each term appears in the documents' text: one row in this many holds it.
EVERY = {RARE: 5_000, MEDIUM: 100, COMMON: 3}


@dataclass(frozen=True)
class VectorPlan:
    """How much data; ``--quick`` shrinks it."""

    name: str
    rows: int  # documents, 384 dimensions
    queries: int  # query vectors for the quality figures
    memories: int  # conversation memories, 1536 dimensions
    sessions: int  # chats the memories belong to (one is 1 / sessions of them)
    dim: int = 384
    memory_dim: int = 1536
    latent: int = 32
    noise: float = 0.6  # standard deviation of the noise per dimension, against ~1 for the signal
    ef_values: tuple[int, ...] = (40, 100, 200)
    k: int = 10


VECTOR_FULL = VectorPlan("full", rows=50_000, queries=200, memories=10_000, sessions=100)
VECTOR_QUICK = VectorPlan("quick", rows=2_000, queries=20, memories=500, sessions=10)


# --------------------------------------------------------------------------- the model

bench_metadata = sa.MetaData()
bench_registry = registry(metadata=bench_metadata)


class BenchVectorModel(AssistantModel, registry=bench_registry):
    """Base of the benchmark's own tables: a registry apart, so migrations never see them."""


class BenchDoc(BenchVectorModel, table=True):
    """A document with an embedding, a category to filter on and a text to search."""

    __tablename__ = DOCS
    __searchable__ = {"body": "A"}
    __table_args__ = (VectorIndex("embedding", metric="cosine", m=16, ef_construction=64),)

    id: int | None = Field(default=None, primary_key=True)
    category: int
    body: str
    embedding: Any = VectorField(VECTOR_FULL.dim)

    objects: ClassVar[VectorManager[BenchDoc]] = VectorManager()


# ---------------------------------------------------------------------------- vectors


def query_category(i: int) -> int:
    """Return the category the ``i``-th filtered query keeps."""
    return i % CATEGORIES


def row_categories(rows: int) -> np.ndarray:
    """Return the category of every document, by position (ids start at 1)."""
    return (np.arange(rows) + 1) % CATEGORIES


def embeddings(seed: int, n: int, dim: int, plan: VectorPlan, part: int = 0) -> np.ndarray:
    """Return ``n`` normalised float32 vectors of the family ``seed``; ``part`` draws other members.

    Rows and queries of one family share the projection (``seed``) and differ in ``part``.
    """
    basis_rng = np.random.default_rng(seed)
    spectrum = 1.0 / np.sqrt(np.arange(1, plan.latent + 1))
    basis = basis_rng.standard_normal((plan.latent, dim)) * spectrum[:, None]
    basis *= np.sqrt(dim / (basis**2).sum())  # about unit variance per dimension from the signal
    rng = np.random.default_rng([seed, part])
    out = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 10_000):  # in blocks: the float64 temporaries stay small
        m = min(10_000, n - start)
        block = rng.standard_normal((m, plan.latent)) @ basis / np.sqrt(dim)
        block += rng.standard_normal((m, dim)) * (plan.noise / np.sqrt(dim))
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[start : start + m] = block
    return out


def document_text(n: int) -> str:
    """Return the text of document ``n``: eight common words, with the measured terms at their rates."""
    rng = np.random.default_rng([7, n])
    words = [WORDS[i] for i in rng.integers(0, len(WORDS), 8)]
    for slot, (term, every) in enumerate(EVERY.items()):
        if n % every == every // 2:
            words[slot * 2] = term
    return " ".join(words)


def exact_top(queries: np.ndarray, rows: np.ndarray, k: int, mask: np.ndarray | None = None) -> np.ndarray:
    """Return, per query, the indexes of its ``k`` nearest rows by cosine (rows normalised), nearest first."""
    out = np.empty((len(queries), k), dtype=np.int64)
    for start in range(0, len(queries), 50):
        sims = queries[start : start + 50] @ rows.T
        if mask is not None:
            sims[~mask[start : start + 50]] = -np.inf
        part = np.argpartition(-sims, k, axis=1)[:, :k]
        order = np.take_along_axis(-sims, part, axis=1).argsort(axis=1)
        out[start : start + 50] = np.take_along_axis(part, order, axis=1)
    return out


# ------------------------------------------------------------------------ binary COPY

_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
Encoder = Callable[[Any], bytes]


def _vector(value: np.ndarray) -> bytes:
    return struct.pack("!hh", len(value), 0) + value.astype(">f4").tobytes()


ENCODE: dict[str, Encoder] = {
    "int4": lambda v: struct.pack("!i", v),
    "float8": lambda v: struct.pack("!d", v),
    "text": lambda v: v.encode(),
    "uuid": lambda v: v.bytes,
    "jsonb": lambda v: b"\x01" + json.dumps(v).encode(),
    "timestamptz": lambda v: struct.pack("!q", (v - _EPOCH) // timedelta(microseconds=1)),
    "vector": _vector,
}


def copy_binary(
    raw: Any, table: str, columns: Sequence[tuple[str, str]], rows: Iterable[Sequence[Any]]
) -> None:
    """COPY ``rows`` into ``table`` in PostgreSQL's binary format; ``columns`` are (name, type) pairs."""
    encoders = [ENCODE[kind] for _name, kind in columns]
    out = io.BytesIO()
    out.write(_HEADER)
    count = struct.pack("!h", len(columns))
    for row in rows:
        out.write(count)
        for encode, value in zip(encoders, row, strict=True):
            data = encode(value)
            out.write(struct.pack("!i", len(data)))
            out.write(data)
    out.write(struct.pack("!h", -1))
    out.seek(0)
    names = ", ".join(name for name, _kind in columns)
    with raw.cursor() as cur:
        cur.copy_expert(f"COPY {table} ({names}) FROM STDIN WITH (FORMAT binary)", out)
    raw.commit()


# --------------------------------------------------------------------------- seeding


def _drop_indexes(raw: Any, table: str, keep_constraints: bool = True) -> list[tuple[str, str]]:
    """Drop the secondary indexes of ``table``; return their names and definitions."""
    found = sql(
        raw,
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
        "AND tablename = %s AND indexname NOT IN "
        "(SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)",
        (table, table),
    )
    for name, _definition in found:
        sql(raw, f'DROP INDEX "{name}"')
    return found


def build_indexes(raw: Any, indexes: list[tuple[str, str]]) -> dict[str, float]:
    """Create the indexes from their definitions; return the seconds each took to build."""
    sql(raw, "SET maintenance_work_mem = '1GB'")
    took = {}
    for name, definition in indexes:
        started = time.perf_counter()
        sql(raw, definition)
        took[name] = time.perf_counter() - started
    return took


def seed_documents(db: Any, raw: Any, plan: VectorPlan, rows: np.ndarray) -> dict[str, float]:
    """Create the documents' table, COPY the rows in, then build its indexes; return the build times."""
    with db.engine.begin() as conn:
        bench_metadata.create_all(conn)
    indexes = _drop_indexes(raw, DOCS)
    columns = [("id", "int4"), ("category", "int4"), ("body", "text"), ("embedding", "vector")]
    copy_binary(
        raw,
        DOCS,
        columns,
        ((n + 1, (n + 1) % CATEGORIES, document_text(n), rows[n]) for n in range(plan.rows)),
    )
    took = build_indexes(raw, indexes)
    vacuum(raw, DOCS)
    return took


def drop_documents(db: Any) -> None:
    """Drop the benchmark's own tables."""
    with db.engine.begin() as conn:
        bench_metadata.drop_all(conn)


def seed_memories(
    raw: Any, plan: VectorPlan, user: uuid.UUID, rows: np.ndarray
) -> tuple[list[uuid.UUID], dict[str, float]]:
    """Create the chats and COPY the memories (indexes rebuilt afterwards); return the chats, build times."""
    rng = np.random.default_rng(11)
    now = datetime.now(UTC)
    chats = [uuid.UUID(bytes=rng.bytes(16), version=4) for _ in range(plan.sessions)]
    chat_columns = [("id", "uuid"), ("user_id", "uuid"), ("title", "text"), ("status", "text")]
    chat_columns += [("provider_config", "jsonb"), ("context", "jsonb"), ("settings", "jsonb")]
    copy_binary(
        raw,
        "chat_sessions",
        chat_columns,
        ((c, user, f"chat {i}", "active", {}, {}, {}) for i, c in enumerate(chats)),
    )
    indexes = _drop_indexes(raw, MEMORIES)
    columns = [("id", "uuid"), ("session_id", "uuid"), ("content", "text"), ("importance", "float8")]
    columns += [("embedding", "vector"), ("meta", "jsonb"), ("last_accessed_at", "timestamptz")]
    columns += [("access_count", "int4")]
    importance = rng.random(plan.memories)
    age_hours = rng.exponential(72.0, plan.memories)
    memories = (
        (
            uuid.UUID(bytes=rng.bytes(16), version=4),
            chats[n % plan.sessions],
            f"memory {n}: {document_text(n)}",
            float(importance[n]),
            rows[n],
            {},
            now - timedelta(hours=float(age_hours[n])),
            int(n % 7),
        )
        for n in range(plan.memories)
    )
    copy_binary(raw, MEMORIES, columns, memories)
    took = build_indexes(raw, indexes)
    vacuum(raw, "chat_sessions", MEMORIES)
    return chats, took
