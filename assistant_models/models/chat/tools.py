"""Tool executions: a tool the assistant ran for a chat, with its input and output."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.orm import relationship
from sqlmodel import Field, Relationship

from assistant_models.core.base import AssistantModel
from assistant_models.core.concerns import Concern, LiveParent
from assistant_models.core.manager import ALL, Manager
from assistant_models.core.mixins import TimestampMixin, UUIDPrimaryKeyMixin
from assistant_models.core.types import JSONB, UTCDateTime, str_enum

if TYPE_CHECKING:
    from assistant_models.models.chat.sessions import ChatSession

__all__ = ["ToolExecution", "ToolExecutionManager", "ToolStatus"]


class ToolStatus(enum.StrEnum):
    """Where a tool run is in its life."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class ToolExecutionManager(Manager["ToolExecution"]):
    """Tool runs: record, start, complete, fail, cancel, and their statistics."""


class ToolExecution(UUIDPrimaryKeyMixin, TimestampMixin, AssistantModel, table=True):
    """One run of a tool (table ``tool_executions``); hidden with its chat when the chat is deleted."""

    __tablename__ = "tool_executions"
    __concerns__: ClassVar[tuple[Concern, ...]] = (LiveParent("session"),)
    __table_args__ = (
        sa.Index("ix_tool_executions__session", "session_id", "created_at"),
        sa.Index("ix_tool_executions__tool_recent", "tool_name", "created_at"),
        sa.Index(
            "uq_tool_executions__idempotency_key",
            "session_id",
            "idempotency_key",
            unique=True,
            postgresql_where=sa.text("idempotency_key IS NOT NULL"),
            info={"field": "idempotency_key"},
        ),
    )

    session_id: uuid.UUID = Field(foreign_key="chat_sessions.id", ondelete="CASCADE")
    message_id: uuid.UUID | None = Field(
        default=None, foreign_key="messages.id", ondelete="SET NULL", index=True
    )
    tool_name: str = Field(min_length=1, max_length=255)
    tool_type: str | None = Field(default=None, max_length=50)
    input: dict[str, Any] = Field(default_factory=dict, sa_type=JSONB)
    output: dict[str, Any] | None = Field(default=None, sa_type=JSONB)
    status: ToolStatus = Field(default=ToolStatus.PENDING, sa_type=str_enum(ToolStatus, 16))
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    duration_ms: int | None = Field(default=None, ge=0)
    tokens_used: int = Field(default=0, ge=0, sa_column_kwargs={"server_default": "0"})
    error: str | None = Field(default=None, max_length=20_000)
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=255)

    session: ChatSession | None = Relationship(sa_relationship=relationship("ChatSession"))

    objects: ClassVar[ToolExecutionManager] = ToolExecutionManager()
    all_objects: ClassVar[ToolExecutionManager] = ToolExecutionManager(visibility=ALL)
