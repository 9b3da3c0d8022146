"""Attachments: files uploaded to a chat, their bytes stored once per SHA-256."""

from __future__ import annotations

import enum
import uuid
from typing import TYPE_CHECKING, ClassVar

import sqlalchemy as sa
from sqlalchemy.orm import relationship
from sqlmodel import Field, Relationship

from assistant_models.core.base import AssistantModel
from assistant_models.core.concerns import Concern, LiveParent
from assistant_models.core.manager import ALL, Manager
from assistant_models.core.mixins import TimestampMixin, UUIDPrimaryKeyMixin
from assistant_models.core.types import str_enum

if TYPE_CHECKING:
    from assistant_models.models.chat.sessions import ChatSession

__all__ = [
    "MAX_ATTACHMENT_BYTES",
    "Attachment",
    "AttachmentContent",
    "AttachmentManager",
    "ProcessingStatus",
]

#: The largest file an attachment may hold (25 MiB).
MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024


class ProcessingStatus(enum.StrEnum):
    """Where an attachment's text extraction is."""

    PENDING = "pending"
    PROCESSING = "processing"
    READY = "ready"
    FAILED = "failed"


class AttachmentContent(AssistantModel, table=True):
    """The bytes of one file, stored once whatever the number of attachments holding it."""

    __tablename__ = "attachment_contents"

    sha256: str = Field(primary_key=True, min_length=64, max_length=64)
    size: int = Field(ge=0, le=MAX_ATTACHMENT_BYTES)
    data: bytes = Field(sa_type=sa.LargeBinary, repr=False)


class AttachmentManager(Manager["Attachment"]):
    """Attachments: attach a file to a message, track its processing."""


class Attachment(UUIDPrimaryKeyMixin, TimestampMixin, AssistantModel, table=True):
    """A file attached to a message (table ``attachments``); hidden with its chat when the chat is deleted."""

    __tablename__ = "attachments"
    __concerns__: ClassVar[tuple[Concern, ...]] = (LiveParent("session"),)

    session_id: uuid.UUID = Field(foreign_key="chat_sessions.id", ondelete="CASCADE", index=True)
    message_id: uuid.UUID | None = Field(
        default=None, foreign_key="messages.id", ondelete="CASCADE", index=True
    )
    uploader_id: uuid.UUID | None = Field(
        default=None, foreign_key="users.id", ondelete="SET NULL", index=True
    )
    filename: str = Field(min_length=1, max_length=255)
    size: int = Field(ge=0, le=MAX_ATTACHMENT_BYTES)
    mime_type: str = Field(default="application/octet-stream", max_length=255)
    sha256: str = Field(
        foreign_key="attachment_contents.sha256", ondelete="RESTRICT", index=True, max_length=64
    )
    processing_status: ProcessingStatus = Field(
        default=ProcessingStatus.PENDING, sa_type=str_enum(ProcessingStatus, 16)
    )
    extracted_text: str | None = Field(default=None, max_length=5_000_000)
    error: str | None = Field(default=None, max_length=20_000)

    session: ChatSession | None = Relationship(sa_relationship=relationship("ChatSession"))

    objects: ClassVar[AttachmentManager] = AttachmentManager()
    all_objects: ClassVar[AttachmentManager] = AttachmentManager(visibility=ALL)
