"""Messages of a chat: threaded, with tool calls and tool results."""

from __future__ import annotations

import enum
import uuid
from typing import TYPE_CHECKING, Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.orm import relationship
from sqlmodel import Field, Relationship

from assistant_models.core.base import AssistantModel
from assistant_models.core.concerns import Concern, LiveParent
from assistant_models.core.manager import ALL, DELETED, Manager
from assistant_models.core.mixins import SoftDeleteMixin, TimestampMixin, UUIDPrimaryKeyMixin
from assistant_models.core.types import JSONB, str_enum

if TYPE_CHECKING:
    from assistant_models.models.chat.sessions import ChatSession

__all__ = ["MAX_CONTENT", "ContentType", "Message", "MessageManager", "Role"]

#: The longest message content kept, in characters.
MAX_CONTENT = 1_000_000
LIVE_ROWS = sa.text("deleted_at IS NULL")


class Role(enum.StrEnum):
    """Who speaks, in the chat-completions vocabulary."""

    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"
    TOOL = "tool"


class ContentType(enum.StrEnum):
    """How a message's content is to be read."""

    TEXT = "text"
    JSON = "json"
    MARKDOWN = "markdown"
    CODE = "code"


class MessageManager(Manager["Message"]):
    """Messages: post, thread, history for a model, import."""


class Message(UUIDPrimaryKeyMixin, TimestampMixin, SoftDeleteMixin, AssistantModel, table=True):
    """One turn of a chat (table ``messages``); hidden with its chat when the chat is deleted."""

    __tablename__ = "messages"
    __concerns__: ClassVar[tuple[Concern, ...]] = (LiveParent("session"),)
    __searchable__ = {"content": "A"}
    __table_args__ = (
        # the latest messages of a session, and keyset pages through them
        sa.Index("ix_messages__session_recent", "session_id", "created_at", "id", postgresql_where=LIVE_ROWS),
        sa.Index(
            "uq_messages__idempotency_key",
            "session_id",
            "idempotency_key",
            unique=True,
            postgresql_where=sa.text("idempotency_key IS NOT NULL"),
            info={"field": "idempotency_key"},
        ),
        sa.CheckConstraint("role <> 'tool' OR tool_call_id IS NOT NULL", name="tool_result_names_its_call"),
    )

    session_id: uuid.UUID = Field(foreign_key="chat_sessions.id", ondelete="CASCADE")
    parent_id: uuid.UUID | None = Field(
        default=None, foreign_key="messages.id", ondelete="SET NULL", index=True
    )
    role: Role = Field(sa_type=str_enum(Role, 16))
    content: str = Field(default="", max_length=MAX_CONTENT)
    content_type: ContentType = Field(default=ContentType.TEXT, sa_type=str_enum(ContentType, 16))
    thinking: str | None = Field(default=None, max_length=MAX_CONTENT)
    tool_calls: list[dict[str, Any]] | None = Field(default=None, sa_type=JSONB)
    tool_call_id: str | None = Field(default=None, max_length=255)
    name: str | None = Field(default=None, max_length=255)
    model: str | None = Field(default=None, max_length=100)
    agent_type: str | None = Field(default=None, max_length=50)
    input_tokens: int = Field(default=0, ge=0, sa_column_kwargs={"server_default": "0"})
    output_tokens: int = Field(default=0, ge=0, sa_column_kwargs={"server_default": "0"})
    latency_ms: int | None = Field(default=None, ge=0)
    error: str | None = Field(default=None, max_length=20_000)
    meta: dict[str, Any] = Field(default_factory=dict, sa_type=JSONB)
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=255)

    session: ChatSession | None = Relationship(sa_relationship=relationship("ChatSession"))

    objects: ClassVar[MessageManager] = MessageManager()
    all_objects: ClassVar[MessageManager] = MessageManager(visibility=ALL)
    deleted_objects: ClassVar[MessageManager] = MessageManager(visibility=DELETED)

    @property
    def tokens(self) -> int:
        """Return the input and output tokens together."""
        return self.input_tokens + self.output_tokens
