"""The ``conversation_memory`` table: one remembered thing, its embedding, importance and use.

Needs pgvector on the server: ``migrate()`` creates the table where the ``vector``
extension is available and says which tables wait for it elsewhere.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.orm import relationship
from sqlmodel import Field, Relationship

from assistant_models.core.base import AssistantModel
from assistant_models.core.concerns import Concern, LiveParent
from assistant_models.core.manager import ALL, DELETED, Manager
from assistant_models.core.mixins import SoftDeleteMixin, TimestampMixin, UUIDPrimaryKeyMixin
from assistant_models.core.types import JSONB, UTCDateTime, str_enum
from assistant_models.models.chat.messages import Message
from assistant_models.models.chat.personas import Persona
from assistant_models.models.chat.sessions import ChatSession
from assistant_models.vector import VectorField, VectorIndex

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


class ConversationMemoryManager(Manager["ConversationMemory"]):
    """Memories: remember, recall by meaning, decay, forget, re-embed."""


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
