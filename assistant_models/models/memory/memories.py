"""The ``conversation_memory`` table: one remembered thing, its embedding, importance and use.

Needs pgvector on the server: ``migrate()`` creates the table where the ``vector``
extension is available and says which tables wait for it elsewhere.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any, ClassVar, Self

import sqlalchemy as sa
from sqlalchemy.orm import relationship
from sqlmodel import Field, Relationship

from assistant_models.core.base import AssistantModel
from assistant_models.core.concerns import Concern, LiveParent
from assistant_models.core.expressions import Now
from assistant_models.core.manager import ALL, DELETED
from assistant_models.core.mixins import SoftDeleteMixin, TimestampMixin, UUIDPrimaryKeyMixin
from assistant_models.core.types import JSONB, UTCDateTime, str_enum
from assistant_models.exceptions import SessionRequiredError, ValidationError
from assistant_models.models.chat.documents import json_text
from assistant_models.models.chat.messages import Message
from assistant_models.models.chat.personas import Persona
from assistant_models.models.chat.refs import key_of, optional_key_of, table_of
from assistant_models.models.chat.sessions import ChatSession
from assistant_models.models.memory.reembed import Embedder, Progress, checked_vectors, write_batch
from assistant_models.models.memory.rules import (
    OWNER,
    Problems,
    check_count,
    check_embedding,
    check_fraction,
    check_half_life,
    check_memory_types,
    check_weights,
)
from assistant_models.models.memory.scoring import Recall, decayed_importance, recall_statement
from assistant_models.vector import VectorField, VectorIndex, VectorManager

__all__ = ["EMBEDDING_DIMENSIONS", "ConversationMemory", "ConversationMemoryManager", "MemoryType"]

#: Dimensions of a memory's embedding (OpenAI's ``text-embedding-3-small`` and ``ada-002``).
EMBEDDING_DIMENSIONS = 1536
#: Longest content a memory keeps, in characters.
MAX_MEMORY_CONTENT = 100_000
LIVE_ROWS = sa.text("deleted_at IS NULL")


class MemoryType(enum.StrEnum):
    """What kind of thing a memory holds."""

    EPISODIC = "episodic"  # something that happened in a conversation
    SEMANTIC = "semantic"  # a fact
    PROCEDURAL = "procedural"  # how to do something
    SUMMARY = "summary"  # a digest of earlier memories or turns


class ConversationMemoryManager(VectorManager["ConversationMemory"]):
    """Memories: remember, recall, decay, forget, re-embed; and ``nearest``/``hybrid_search``.

    Every time is the database server's (``now()``), never this machine's. Methods
    respect filters chained before them (``ConversationMemory.objects.filter(session=chat).decay(...)``).
    """

    def remember(
        self,
        session: ChatSession | uuid.UUID | str,
        content: str,
        embedding: Any,
        *,
        importance: float = 0.5,
        memory_type: MemoryType | str = MemoryType.EPISODIC,
        persona: Persona | uuid.UUID | str | None = None,
        first_message: Message | uuid.UUID | str | None = None,
        embedding_model: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> ConversationMemory:
        """Store something a chat taught, with its embedding, and return it.

        Args:
            session: The chat (an instance or its key).
            content: What is remembered (not blank).
            embedding: Its vector of :data:`EMBEDDING_DIMENSIONS` finite numbers.
            importance: From 0 (mundane) to 1 (vital).
            memory_type: ``episodic``, ``semantic``, ``procedural`` or ``summary``.
            persona: The persona it belongs to (an instance or its key), if any.
            first_message: The message of this chat it comes from (an instance or its key).
            embedding_model: The name of the model that made ``embedding``.
            metadata: A JSON document kept in field ``meta``.

        Raises:
            ValidationError: Every bad argument named, before any row is written.
        """
        problems: Problems = []
        keys = _reference_keys(session, persona, first_message, problems)
        if not isinstance(content, str) or not content.strip():
            problems.append({"field": "content", "message": "must be a non-blank string"})
        check_embedding(embedding, EMBEDDING_DIMENSIONS, "embedding", problems)
        check_fraction(importance, "importance", problems)
        check_memory_types([memory_type], MemoryType, problems, "memory_type")
        if embedding_model is not None and (not isinstance(embedding_model, str) or not embedding_model):
            problems.append({"field": "embedding_model", "message": "must be a non-empty string or None"})
        if metadata is not None and not isinstance(metadata, dict):
            problems.append({"field": "metadata", "message": "must be a dict (a JSON object) or None"})
        if problems:
            raise ValidationError(problems, OWNER)
        json_text(metadata or {}, "metadata", OWNER)
        self._check_first_message(keys["session_id"], first_message, keys["first_message_id"])
        return self.create(
            **keys,
            content=content,
            embedding=embedding,
            importance=float(importance),
            memory_type=MemoryType(memory_type),
            embedding_model=embedding_model,
            meta=metadata or {},
        )

    def _check_first_message(self, chat: uuid.UUID, given: Any, key: uuid.UUID | None) -> None:
        """Refuse a first message that is not a live message of ``chat``."""
        if key is None:
            return
        if isinstance(given, Message):
            ours = given.session_id == chat and given.deleted_at is None
        else:
            ours = self.of(Message).filter(pk=key, session_id=chat).exists()
        if not ours:
            raise ValidationError.single("first_message", "is not a live message of this chat", OWNER)

    def recall(
        self,
        query_embedding: Any,
        *,
        session: ChatSession | uuid.UUID | str | None = None,
        persona: Persona | uuid.UUID | str | None = None,
        k: int = 5,
        memory_types: Iterable[MemoryType | str] | None = None,
        min_similarity: float | None = None,
        weights: tuple[float, float, float] = (1.0, 1.0, 1.0),
        half_life: timedelta = timedelta(days=7),
        candidates: int | None = None,
    ) -> list[tuple[ConversationMemory, float]]:
        """Return the ``k`` memories best for ``query_embedding``, with their scores, best first.

        The retrieval of *Generative Agents* (Park et al., 2023), in one statement
        (one round trip):

        1. **Candidates**: the ``candidates`` (by default ``max(10 * k, 100)``) live
           memories nearest to the query by cosine distance ``d = embedding <=> q``
           (``ORDER BY d LIMIT candidates``, which the HNSW index serves), among those
           of ``session``, ``persona`` and ``memory_types`` and, with
           ``min_similarity``, those with ``1 - d >= min_similarity``.
        2. **Components**, per candidate:

           - relevance ``rel = 1 - d``, the cosine similarity;
           - importance ``imp``, as stored;
           - recency ``rec = 0.5 ^ (age / half_life)``, where ``age = now() -
             last_accessed_at`` by the server's clock (at least 0; at most 1,000
             half-lives count, below which a double underflows).
        3. **Scaling**: each component is min-max scaled over the candidates,
           ``x' = (x - min x) / (max x - min x)``, and is 1 for all when they are equal.
        4. **Score** ``= (w_rel * rel' + w_imp * imp' + w_rec * rec') / (w_rel + w_imp + w_rec)``
           with ``weights = (w_rel, w_imp, w_rec)``: from 0 to 1.
        5. The ``k`` best scores win, ties going to the smaller key. Their
           ``access_count`` goes up by 1 and ``last_accessed_at`` becomes ``now()`` in
           the same statement (the scores used the values from before); the returned
           instances (those held in this unit of work too) show the new values.

        The settings of pgvector are left as they are, so the statement stays one round
        trip: with the HNSW index in use, an index scan yields at most
        ``hnsw.ef_search`` rows (40 by default) before the filters. For a full pool on
        a large table, wrap the call in
        ``with scan_settings(session, {"hnsw.ef_search": "200", "hnsw.iterative_scan":
        "relaxed_order"}):`` (:func:`assistant_models.vector.scan_settings`).

        Args:
            query_embedding: The query's vector (:data:`EMBEDDING_DIMENSIONS` numbers).
            session: Only memories of this chat (an instance or its key).
            persona: Only memories of this persona (an instance or its key).
            k: How many to return (at least 1).
            memory_types: Only memories of these types.
            min_similarity: The least cosine similarity, from -1 to 1.
            weights: Non-negative weights of relevance, importance and recency, not all 0.
            half_life: Time over which recency halves (positive).
            candidates: How many nearest memories are scored (at least ``k``).

        Returns:
            ``(memory, score)`` pairs, best score first.

        Raises:
            ValidationError: Every bad argument named, before any SQL.
        """
        problems: Problems = []
        check_embedding(query_embedding, EMBEDDING_DIMENSIONS, "query_embedding", problems)
        check_count(k, "k", problems)
        pool = max(10 * k, 100) if candidates is None and isinstance(k, int) else candidates
        if candidates is not None:
            check_count(candidates, "candidates", problems, k if isinstance(k, int) and k >= 1 else 1)
        if min_similarity is not None:
            check_fraction(min_similarity, "min_similarity", problems, low=-1.0)
        checked = check_weights(weights, problems)
        check_half_life(half_life, problems)
        kinds = check_memory_types(memory_types, MemoryType, problems)
        scope = self._scoped(session, persona, kinds, problems)
        if problems:
            raise ValidationError(problems, OWNER)
        ask = Recall(
            vector=[float(x) for x in query_embedding],
            k=k,
            candidates=int(pool or 100),
            min_similarity=None if min_similarity is None else float(min_similarity),
            weights=checked,
            half_life=half_life.total_seconds(),
        )
        where, _ = scope.compiler().conditions()
        stmt = recall_statement(ConversationMemory, table_of(ConversationMemory), where, ask)
        return [(memory, float(score)) for memory, score in scope.execute(stmt)]

    def _scoped(self, session: Any, persona: Any, kinds: list[MemoryType] | None, problems: Problems) -> Self:
        """Return this QuerySet narrowed to a chat, a persona and memory types, noting bad references."""
        narrowed = self
        try:
            if session is not None:
                narrowed = narrowed.filter(session_id=key_of(session, ChatSession, "session", OWNER))
        except ValidationError as error:
            problems += error.errors
        try:
            if persona is not None:
                narrowed = narrowed.filter(persona_id=key_of(persona, Persona, "persona", OWNER))
        except ValidationError as error:
            problems += error.errors
        if kinds is not None:
            narrowed = narrowed.filter(memory_type__in=kinds)
        return narrowed

    def decay(self, half_life: timedelta) -> int:
        """Halve every live memory's importance per ``half_life`` since it was last used; return how many.

        One ``UPDATE``: ``importance *= 0.5 ^ ((now() - greatest(last_accessed_at,
        updated_at)) / half_life)``, by the server's clock. ``updated_at`` becomes
        ``now()``, so a later decay counts from this one: decaying over ``t1`` then
        ``t2`` equals (within rounding) decaying once over ``t1 + t2``. A recall resets
        the clock of what it returns (``last_accessed_at``). Importance below 1e-20,
        or past 1,000 half-lives, becomes 0 (a double would underflow).

        Raises:
            ValidationError: ``half_life`` is not a positive timedelta.
        """
        problems: Problems = []
        check_half_life(half_life, problems)
        if problems:
            raise ValidationError(problems, OWNER)
        table = table_of(ConversationMemory)
        return self.update(importance=decayed_importance(table, half_life.total_seconds()))

    def forget(self, *, below: float, older_than: timedelta | None = None) -> int:
        """Soft-delete the live memories less important than ``below`` in one statement; return how many.

        With ``older_than``, only those last used before ``now() - older_than`` (server clock).

        Raises:
            ValidationError: ``below`` is not from 0 to 1, or ``older_than`` not a
                non-negative timedelta.
        """
        problems: Problems = []
        check_fraction(below, "below", problems)
        if older_than is not None and (not isinstance(older_than, timedelta) or older_than < timedelta(0)):
            problems.append({"field": "older_than", "message": "must be a timedelta of at least 0"})
        if problems:
            raise ValidationError(problems, OWNER)
        doomed = self.filter(importance__lt=float(below))
        if older_than is not None:
            doomed = doomed.filter(last_accessed_at__lt=Now() - older_than)
        count, _ = doomed.delete()
        return count

    def stale(self, embedding_model: str, *, batch_size: int = 256) -> Iterator[list[ConversationMemory]]:
        """Yield the memories whose ``embedding_model`` is not ``embedding_model``, in batches by key.

        Each batch is one query, resuming after the last key of the one before (keyset,
        not ``OFFSET``), so rows changed between batches are neither skipped nor repeated.

        Raises:
            ValidationError: A blank ``embedding_model`` or a bad ``batch_size``.
        """
        self._check_model_and_batch(embedding_model, batch_size)
        table = table_of(ConversationMemory)
        wanted = self.where(table.c.embedding_model.is_distinct_from(embedding_model)).order_by("id")
        last: uuid.UUID | None = None
        while True:
            page = wanted if last is None else wanted.filter(id__gt=last)
            batch = list(page[:batch_size])
            if not batch:
                return
            yield batch
            last = batch[-1].id

    def reembed(
        self, fn: Embedder, *, embedding_model: str, batch_size: int = 256, progress: bool = True
    ) -> int:
        """Embed again, with ``fn``, the memories not embedded by ``embedding_model``; return how many.

        Batches come from :meth:`stale`; ``fn`` gets a batch's contents and returns one
        vector per content. A batch is checked, then written in one ``UPDATE ... FROM
        (VALUES ...)`` setting ``embedding`` and ``embedding_model`` (not ``updated_at``:
        the memory says nothing new), then **committed**: one transaction per batch.
        So run it in a unit of work of its own, ``with db.session():
        ConversationMemory.objects.reembed(...)``; work done earlier in that unit of work
        is committed with the first batch. If ``fn`` raises (or a batch is refused),
        the batches written before stay, and a new run, skipping rows that already
        carry ``embedding_model``, does the rest. With ``progress``, a counter is shown
        on standard error when it is a terminal.

        Raises:
            ValidationError: A blank ``embedding_model``, a bad ``batch_size``, or an
                answer of ``fn`` that is not one good vector per memory (naming the row);
                that batch is not written.
            SessionRequiredError: Called inside a savepoint (a nested ``db.session()``),
                whose commit would commit the enclosing unit of work too.
        """
        self._check_model_and_batch(embedding_model, batch_size)
        if not callable(fn):
            raise ValidationError.single("fn", "must be a callable: contents in, vectors out", OWNER)
        db = self.session
        if db.in_nested_transaction():
            raise SessionRequiredError(
                "reembed() commits after each batch: call it in a unit of work of its own, "
                "not in a savepoint (a db.session() inside another)"
            )
        table, counter = table_of(ConversationMemory), Progress(progress)
        try:
            for batch in self.stale(embedding_model, batch_size=batch_size):
                vectors = checked_vectors(batch, fn([m.content for m in batch]), EMBEDDING_DIMENSIONS)
                counter.add(write_batch(self, table, batch, vectors, embedding_model))
                db.commit()
        finally:
            counter.finish()
        return counter.done

    def _check_model_and_batch(self, embedding_model: Any, batch_size: Any) -> None:
        problems: Problems = []
        if not isinstance(embedding_model, str) or not embedding_model.strip():
            problems.append({"field": "embedding_model", "message": "must be a non-blank string"})
        check_count(batch_size, "batch_size", problems)
        if problems:
            raise ValidationError(problems, OWNER)


def _reference_keys(session: Any, persona: Any, first_message: Any, problems: Problems) -> dict[str, Any]:
    """Return the keys of the references of a new memory, noting those that are no instance or key."""
    keys: dict[str, Any] = {}
    for column, value, model, field in (
        ("session_id", session, ChatSession, "session"),
        ("persona_id", persona, Persona, "persona"),
        ("first_message_id", first_message, Message, "first_message"),
    ):
        try:
            keys[column] = (
                key_of(value, model, field, OWNER)
                if field == "session"
                else optional_key_of(value, model, field, OWNER)
            )
        except ValidationError as error:
            problems += error.errors
            keys[column] = None
    return keys


class ConversationMemory(UUIDPrimaryKeyMixin, TimestampMixin, SoftDeleteMixin, AssistantModel, table=True):
    """A remembered thing of a chat (table ``conversation_memory``); hidden with its deleted chat."""

    __tablename__ = "conversation_memory"
    __concerns__: ClassVar[tuple[Concern, ...]] = (LiveParent("session"),)
    __searchable__ = {"content": "A"}
    __table_args__ = (
        VectorIndex("embedding", method="hnsw", metric="cosine", m=16, ef_construction=64),
        sa.Index(
            "ix_conversation_memory__session_recent",
            "session_id",
            "last_accessed_at",
            postgresql_where=LIVE_ROWS,
        ),
        sa.CheckConstraint("importance >= 0 AND importance <= 1", name="importance_between_0_and_1"),
        sa.CheckConstraint("access_count >= 0", name="access_count_not_negative"),
    )

    session_id: uuid.UUID = Field(foreign_key="chat_sessions.id", ondelete="CASCADE")
    persona_id: uuid.UUID | None = Field(
        default=None, foreign_key="personas.id", ondelete="SET NULL", index=True
    )
    first_message_id: uuid.UUID | None = Field(
        default=None, foreign_key="messages.id", ondelete="SET NULL", index=True
    )
    content: str = Field(min_length=1, max_length=MAX_MEMORY_CONTENT)
    memory_type: MemoryType = Field(
        default=MemoryType.EPISODIC,
        sa_type=str_enum(MemoryType, 16),
        sa_column_kwargs={"server_default": MemoryType.EPISODIC.value},
    )
    importance: float = Field(default=0.5, ge=0, le=1, sa_column_kwargs={"server_default": "0.5"})
    embedding: Any = VectorField(EMBEDDING_DIMENSIONS)
    embedding_model: str | None = Field(default=None, min_length=1, max_length=200)
    meta: dict[str, Any] = Field(default_factory=dict, sa_type=JSONB)
    last_accessed_at: datetime | None = Field(
        default=None,
        sa_type=UTCDateTime,
        sa_column_kwargs={"server_default": sa.func.now(), "nullable": False},
    )
    access_count: int = Field(default=0, ge=0, sa_column_kwargs={"server_default": "0"})

    session: ChatSession | None = Relationship(sa_relationship=relationship("ChatSession"))
    persona: Persona | None = Relationship(sa_relationship=relationship("Persona"))
    first_message: Message | None = Relationship(sa_relationship=relationship("Message"))

    objects: ClassVar[ConversationMemoryManager] = ConversationMemoryManager()
    all_objects: ClassVar[ConversationMemoryManager] = ConversationMemoryManager(visibility=ALL)
    deleted_objects: ClassVar[ConversationMemoryManager] = ConversationMemoryManager(visibility=DELETED)
