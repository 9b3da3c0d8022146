"""Chat sessions: one conversation of a user with the assistant."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.orm import relationship
from sqlmodel import Field, Relationship, col

from assistant_models.core.base import AssistantModel
from assistant_models.core.direct import direct_read_with_extras
from assistant_models.core.expressions import F, Now, Q
from assistant_models.core.manager import ALL, DELETED, Manager
from assistant_models.core.mixins import (
    AuditMixin,
    SoftDeleteMixin,
    TimestampMixin,
    UUIDPrimaryKeyMixin,
    VersionMixin,
)
from assistant_models.core.statements import LRU
from assistant_models.core.types import JSONB, UTCDateTime, str_enum
from assistant_models.exceptions import InvalidTransition, ValidationError
from assistant_models.models.chat.messages import Message, Role
from assistant_models.models.chat.refs import key_of, optional_key_of, referenced_model

if TYPE_CHECKING:
    from assistant_models.models.chat.personas import Persona
    from assistant_models.models.identity.users import User

__all__ = ["PREVIEW_LENGTH", "ChatSession", "ChatSessionManager", "ChatStatus", "ChatSummary"]

LIVE_ROWS = sa.text("deleted_at IS NULL")
#: Characters of the last message a summary shows.
PREVIEW_LENGTH = 200
#: Most summaries one call returns.
MAX_SUMMARIES = 1000


class ChatStatus(enum.StrEnum):
    """Whether a chat is in the user's list or put away."""

    ACTIVE = "active"
    ARCHIVED = "archived"


@dataclass(frozen=True, slots=True)
class ChatSummary:
    """A chat as its owner's list shows it: the chat and a glimpse of its last live message.

    Attributes:
        session: The chat.
        last_message_preview: The first :data:`PREVIEW_LENGTH` characters of its last
            live message, or ``None`` when it has none.
        last_message_role: Who wrote that message.
        last_message_at: When that message was written.
    """

    session: ChatSession
    last_message_preview: str | None
    last_message_role: Role | None
    last_message_at: datetime | None


class ChatSessionManager(Manager["ChatSession"]):
    """A user's chats: start, list, archive, pin, summarise.

    Every method that reads or writes many chats respects the filters chained before
    it: ``ChatSession.objects.filter(agent_type="triage").archive_inactive(...)``.
    """

    def start(
        self,
        user: User | uuid.UUID,
        title: str | None = None,
        *,
        persona: Persona | uuid.UUID | None = None,
        agent_type: str | None = None,
        context: dict[str, Any] | None = None,
        settings: dict[str, Any] | None = None,
    ) -> ChatSession:
        """Start an active chat of ``user`` (titled "New chat" unless ``title`` is given).

        Raises:
            ValidationError: A bad field, each error naming it; a user or persona that does
                not exist or is deleted names ``user_id`` or ``persona_id``.
        """
        fields: dict[str, Any] = {
            "user_id": _user_key(user),
            "persona_id": optional_key_of(
                persona, referenced_model(ChatSession, "persona_id"), "persona", "ChatSession"
            ),
            "agent_type": agent_type,
            "context": {} if context is None else context,
            "settings": {} if settings is None else settings,
        }
        if title is not None:
            fields["title"] = title
        return self.create(**fields)

    def for_user(self, user: User | uuid.UUID, status: ChatStatus | str | None = None) -> ChatSessionManager:
        """Return ``user``'s chats (of ``status`` only, if given): pinned first, then latest activity.

        The order (``is_pinned DESC, last_message_at DESC NULLS LAST, id DESC``) is the
        one of the index ``ix_chat_sessions__user_list``, so a page of it reads the index
        only as far as the page goes, with no sort.
        """
        chats = self.filter(user_id=_user_key(user))
        if status is not None:
            chats = chats.filter(status=_status(status))
        return chats.order_by("-is_pinned", F("last_message_at").desc(nulls_last=True), "-id")

    def archive(self, chat: ChatSession) -> ChatSession:
        """Put an active chat away.

        Raises:
            InvalidTransition: The chat is archived already.
            ConflictError: The chat was changed meanwhile (its version is stale).
        """
        return self._move(chat, ChatStatus.ARCHIVED)

    def unarchive(self, chat: ChatSession) -> ChatSession:
        """Bring an archived chat back to the active list.

        Raises:
            InvalidTransition: The chat is active already.
        """
        return self._move(chat, ChatStatus.ACTIVE)

    def pin(self, chat: ChatSession, pinned: bool = True) -> ChatSession:
        """Pin ``chat`` to the top of its owner's list (``pinned=False`` unpins it)."""
        if not isinstance(pinned, bool):
            raise ValidationError.single("pinned", "must be True or False", "ChatSession")
        chat.is_pinned = pinned
        return self._save(chat)

    def archive_inactive(self, older_than: timedelta) -> int:
        """Archive every active chat with no activity for ``older_than``; return how many.

        Activity is the last message, or the start for a chat without messages; both
        are compared with the server's clock. One ``UPDATE`` statement, which writes
        each archived chat's audit row and bumps its version.
        """
        if not isinstance(older_than, timedelta) or older_than < timedelta(0):
            raise ValidationError.single("older_than", "must be a timedelta of zero or more", "ChatSession")
        cutoff = Now() - older_than
        idle = Q(last_message_at__lt=cutoff) | Q(last_message_at__isnull=True, created_at__lt=cutoff)
        return self.filter(idle, status=ChatStatus.ACTIVE).update(status=ChatStatus.ARCHIVED)

    def summaries(self, user: User | uuid.UUID, limit: int = 20) -> list[ChatSummary]:
        """Return ``user``'s first ``limit`` chats in list order, each with its last live message.

        One query: the chats of :meth:`for_user` joined to a ``LATERAL`` subquery that
        reads each chat's newest live message from the index ``ix_messages__session_recent``.
        """
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_SUMMARIES:
            raise ValidationError.single(
                "limit", f"must be an integer from 1 to {MAX_SUMMARIES}", "ChatSession"
            )
        chats = self.for_user(user)[:limit]
        shape = chats.query.shape
        stmt = _SUMMARIES.get(shape) if shape is not None else None
        if stmt is None:
            last = _last_message()
            stmt = chats.statement().outerjoin(last, sa.true()).add_columns(*last.c)
            if shape is not None:  # built once per shape: the chats' filters are parameters
                _SUMMARIES.put(shape, stmt)
        rows = None  # a statement built for this call only is not worth preparing for the driver
        if shape is not None:
            rows = direct_read_with_extras(chats.session, stmt, chats.query.params, sa.inspect(ChatSession))
        if rows is None:
            rows = [tuple(row) for row in chats.execute(stmt)]
        return [ChatSummary(row[0], *row[1:]) for row in rows]

    def _move(self, chat: ChatSession, target: ChatStatus) -> ChatSession:
        current = ChatStatus(chat.status)
        if current is target:
            raise InvalidTransition("ChatSession", current.value, target.value)
        chat.status = target
        return self._save(chat)


_SUMMARIES = LRU(64)


def _user_key(user: Any) -> uuid.UUID:
    return key_of(user, referenced_model(ChatSession, "user_id"), "user", "ChatSession")


def _status(value: ChatStatus | str) -> ChatStatus:
    try:
        return ChatStatus(value)
    except ValueError:
        raise ValidationError.single(
            "status", f"must be one of {', '.join(s.value for s in ChatStatus)}", "ChatSession"
        ) from None


def _last_message() -> Any:
    """Return the LATERAL subquery of a chat's newest live message (preview, role, time)."""
    created, key = col(Message.created_at), col(Message.id)
    return (
        sa.select(
            sa.func.left(col(Message.content), PREVIEW_LENGTH).label("last_message_preview"),
            col(Message.role).label("last_message_role"),
            created.label("last_message_at"),
        )
        .where(col(Message.session_id) == col(ChatSession.id), col(Message.deleted_at).is_(None))
        .order_by(created.desc(), key.desc())
        .limit(1)
        .lateral("last_message")
    )


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
