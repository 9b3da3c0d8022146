"""Confirmations: a question the assistant asks the user before it acts."""

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

__all__ = ["Confirmation", "ConfirmationManager", "ConfirmationStatus"]


class ConfirmationStatus(enum.StrEnum):
    """Where a confirmation request is."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"


class ConfirmationManager(Manager["Confirmation"]):
    """Confirmations: request, approve, reject, expire."""


class Confirmation(UUIDPrimaryKeyMixin, TimestampMixin, AssistantModel, table=True):
    """A pending question to a user (table ``confirmations``); hidden with its chat when it is deleted."""

    __tablename__ = "confirmations"
    __concerns__: ClassVar[tuple[Concern, ...]] = (LiveParent("session"),)
    __table_args__ = (
        sa.Index(
            "ix_confirmations__pending",
            "session_id",
            "expires_at",
            postgresql_where=sa.text("status = 'pending'"),
        ),
        sa.Index("ix_confirmations__stale", "expires_at", postgresql_where=sa.text("status = 'pending'")),
    )

    session_id: uuid.UUID = Field(foreign_key="chat_sessions.id", ondelete="CASCADE")
    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    kind: str = Field(min_length=1, max_length=100)
    data: dict[str, Any] = Field(default_factory=dict, sa_type=JSONB)
    status: ConfirmationStatus = Field(
        default=ConfirmationStatus.PENDING, sa_type=str_enum(ConfirmationStatus, 16)
    )
    expires_at: datetime = Field(sa_type=UTCDateTime)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    session: ChatSession | None = Relationship(sa_relationship=relationship("ChatSession"))

    objects: ClassVar[ConfirmationManager] = ConfirmationManager()
    all_objects: ClassVar[ConfirmationManager] = ConfirmationManager(visibility=ALL)
