"""Attachments: files uploaded to a chat, their bytes stored once per SHA-256."""

from __future__ import annotations

import enum
import hashlib
import mimetypes
import uuid
from typing import TYPE_CHECKING, Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import relationship
from sqlmodel import Field, Relationship

from assistant_models.core.base import AssistantModel, validate_fields
from assistant_models.core.concerns import Concern, LiveParent
from assistant_models.core.manager import ALL, Manager
from assistant_models.core.mixins import TimestampMixin, UUIDPrimaryKeyMixin
from assistant_models.core.types import str_enum
from assistant_models.exceptions import InvalidTransition, ValidationError
from assistant_models.models.chat.messages import Message
from assistant_models.models.chat.refs import key_of, optional_key_of, referenced_model
from assistant_models.models.chat.sessions import ChatSession
from assistant_models.models.work import storable_error

if TYPE_CHECKING:
    from assistant_models.models.identity.users import User

__all__ = [
    "MAX_ATTACHMENT_BYTES",
    "Attachment",
    "AttachmentContent",
    "AttachmentManager",
    "ProcessingStatus",
]

#: The largest file an attachment may hold (25 MiB); ``attach`` refuses a larger one.
MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024
#: The MIME type of a file whose name tells nothing.
UNKNOWN_TYPE = "application/octet-stream"


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


ALLOWED: dict[ProcessingStatus, frozenset[ProcessingStatus]] = {
    ProcessingStatus.PENDING: frozenset({ProcessingStatus.PROCESSING, ProcessingStatus.FAILED}),
    ProcessingStatus.PROCESSING: frozenset({ProcessingStatus.READY, ProcessingStatus.FAILED}),
    ProcessingStatus.FAILED: frozenset({ProcessingStatus.PROCESSING}),  # a retry
    ProcessingStatus.READY: frozenset(),
}


class AttachmentManager(Manager["Attachment"]):
    """Attachments: attach a file to a message, track its text extraction.

    Extraction moves ``pending -> processing -> ready | failed``; a pending file may
    fail at once, a failed one may be processed again. Any other move raises
    ``InvalidTransition``.
    """

    def attach(
        self,
        message: Message | uuid.UUID,
        filename: str,
        content: bytes,
        *,
        mime_type: str | None = None,
        uploader: User | uuid.UUID | None = None,
    ) -> Attachment:
        """Attach the file ``content`` named ``filename`` to ``message`` (and so to its chat).

        The bytes are stored once per SHA-256 in ``attachment_contents``: uploads of the
        same bytes share one row, which goes when its last attachment is deleted (a
        trigger does it whatever deletes the attachment, cascades included). The MIME
        type is guessed from the file name when not given.

        Args:
            message: The message (or its id) the file comes with.
            filename: The file's name, without a directory.
            content: The file's bytes, at most :data:`MAX_ATTACHMENT_BYTES`.
            mime_type: Its MIME type (``type/subtype``).
            uploader: The user (or id) who uploaded it.

        Raises:
            ValidationError: A bad field, each error naming it (``content`` for bytes that
                are not bytes or are too large); nothing is written.
        """
        data = _file_bytes(content)
        owner = self._message(message)
        attachment = Attachment(
            session_id=owner.session_id,
            message_id=owner.id,
            uploader_id=optional_key_of(
                uploader, referenced_model(Attachment, "uploader_id"), "uploader", "Attachment"
            ),
            filename=_filename(filename),
            size=len(data),
            mime_type=_mime_type(mime_type, filename),
            sha256=hashlib.sha256(data).hexdigest(),
        )
        self._store(attachment.sha256, data)
        return self._save(attachment)

    def content_of(self, attachment: Attachment) -> bytes:
        """Return the bytes of ``attachment``'s file."""
        stored = self.of(AttachmentContent).get(pk=attachment.sha256)
        data: bytes = stored.data
        return data

    def mark_processing(self, attachment: Attachment) -> Attachment:
        """Start extracting the text of a pending (or failed) file."""
        attachment.move_to(ProcessingStatus.PROCESSING)
        attachment.error = None
        return self._save(attachment)

    def mark_ready(self, attachment: Attachment, extracted_text: str | None) -> Attachment:
        """Keep the text extracted from a file being processed."""
        cleaned = validate_fields(Attachment, {"extracted_text": extracted_text})
        attachment.move_to(ProcessingStatus.READY)
        attachment.extracted_text = cleaned["extracted_text"]
        return self._save(attachment)

    def mark_failed(self, attachment: Attachment, error: object) -> Attachment:
        """Record that extracting a pending or processing file failed (the error capped, made storable)."""
        attachment.move_to(ProcessingStatus.FAILED)
        attachment.error = storable_error(error)
        return self._save(attachment)

    def _message(self, message: Message | uuid.UUID) -> Message:
        if isinstance(message, Message):
            return message
        key = key_of(message, Message, "message", "Attachment")
        try:
            found: Message = self.of(Message).get(pk=key)
        except Message.DoesNotExist:
            raise ValidationError.single("message", "does not exist", "Attachment") from None
        return found

    def _store(self, sha256: str, data: bytes) -> None:
        """Insert the content row, or lock the existing one.

        ``DO UPDATE`` rather than ``DO NOTHING``: the row stays locked until this
        transaction ends, so the trigger that drops orphaned contents waits for this
        upload instead of deleting the bytes under it.
        """
        table: Any = sa.inspect(AttachmentContent).local_table
        insert = postgresql.insert(table).values(sha256=sha256, size=len(data), data=data)
        self.execute(
            insert.on_conflict_do_update(index_elements=[table.c.sha256], set_={"size": insert.excluded.size})
        )


def _file_bytes(content: object) -> bytes:
    if not isinstance(content, (bytes, bytearray, memoryview)):
        raise ValidationError.single("content", "must be bytes", "Attachment")
    data = bytes(content)
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise ValidationError.single(
            "content", f"is {len(data)} bytes; at most {MAX_ATTACHMENT_BYTES} are accepted", "Attachment"
        )
    return data


def _filename(filename: object) -> Any:
    if isinstance(filename, str) and ("/" in filename or "\\" in filename or filename in (".", "..")):
        raise ValidationError.single("filename", "must be a file name, without a directory", "Attachment")
    return filename


def _mime_type(mime_type: object, filename: object) -> Any:
    if mime_type is None:
        guessed = mimetypes.guess_type(filename)[0] if isinstance(filename, str) else None
        return guessed or UNKNOWN_TYPE
    if not isinstance(mime_type, str) or mime_type.count("/") != 1 or " " in mime_type.split(";")[0]:
        raise ValidationError.single("mime_type", "must be a MIME type such as text/plain", "Attachment")
    return mime_type


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

    def move_to(self, target: ProcessingStatus) -> None:
        """Change the processing status to ``target``.

        Raises:
            InvalidTransition: ``target`` cannot follow the current status.
        """
        InvalidTransition.check("Attachment", ALLOWED, ProcessingStatus(self.processing_status), target)
        self.processing_status = target
