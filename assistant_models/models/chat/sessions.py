"""Chat sessions: one conversation of a user with the assistant."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.orm import relationship
from sqlmodel import Field, Relationship

from assistant_models.core.base import AssistantModel
from assistant_models.core.manager import ALL, DELETED, Manager
from assistant_models.core.mixins import (
    AuditMixin,
    SoftDeleteMixin,
    TimestampMixin,
    UUIDPrimaryKeyMixin,
    VersionMixin,
)
from assistant_models.core.types import JSONB, UTCDateTime, str_enum

if TYPE_CHECKING:
    from assistant_models.models.chat.personas import Persona
    from assistant_models.models.identity.users import User

__all__ = ["ChatSession", "ChatSessionManager", "ChatStatus"]

LIVE_ROWS = sa.text("deleted_at IS NULL")


class ChatStatus(enum.StrEnum):
    """Whether a chat is in the user's list or put away."""

    ACTIVE = "active"
    ARCHIVED = "archived"


class ChatSessionManager(Manager["ChatSession"]):
    """A user's chats: start, list, archive, pin, summarise."""


class ChatSession(
    UUIDPrimaryKeyMixin, TimestampMixin, SoftDeleteMixin, AuditMixin, VersionMixin, AssistantModel, table=True
):
    """One conversation (table ``chat_sessions``).

    ``message_count``, ``total_tokens`` and ``last_message_at`` are kept by the database
    as messages and tool runs are written, deleted and restored.
    """

    __tablename__ = "chat_sessions"
    __searchable__ = {"title": "A", "description": "B"}
    __audit_exclude__ = frozenset({"message_count", "total_tokens", "last_message_at"})
    __table_args__ = (
        # a user's list: pinned first, then the most recent activity (keyset-friendly)
        sa.Index(
            "ix_chat_sessions__user_list",
            "user_id",
            sa.text("is_pinned DESC"),
            sa.text("last_message_at DESC NULLS LAST"),
            sa.text("id DESC"),
            postgresql_where=LIVE_ROWS,
        ),
        sa.Index("ix_chat_sessions__inactive", "status", "last_message_at", postgresql_where=LIVE_ROWS),
        sa.CheckConstraint("message_count >= 0", name="message_count_not_negative"),
        sa.CheckConstraint("total_tokens >= 0", name="total_tokens_not_negative"),
    )

    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE")
    persona_id: uuid.UUID | None = Field(
        default=None, foreign_key="personas.id", ondelete="SET NULL", index=True
    )
    title: str = Field(default="New chat", min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=20_000)
    status: ChatStatus = Field(default=ChatStatus.ACTIVE, sa_type=str_enum(ChatStatus, 16))
    agent_type: str | None = Field(default=None, max_length=50)
    provider_type: str | None = Field(default=None, max_length=50)
    provider_config: dict[str, Any] = Field(default_factory=dict, sa_type=JSONB)
    context: dict[str, Any] = Field(default_factory=dict, sa_type=JSONB)
    settings: dict[str, Any] = Field(default_factory=dict, sa_type=JSONB)
    is_pinned: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    message_count: int = Field(default=0, ge=0, sa_column_kwargs={"server_default": "0"})
    total_tokens: int = Field(
        default=0, ge=0, sa_type=sa.BigInteger, sa_column_kwargs={"server_default": "0"}
    )
    last_message_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    user: User | None = Relationship(sa_relationship=relationship("User"))
    persona: Persona | None = Relationship(sa_relationship=relationship("Persona"))

    objects: ClassVar[ChatSessionManager] = ChatSessionManager()
    all_objects: ClassVar[ChatSessionManager] = ChatSessionManager(visibility=ALL)
    deleted_objects: ClassVar[ChatSessionManager] = ChatSessionManager(visibility=DELETED)
