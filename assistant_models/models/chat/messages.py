"""Messages of a chat: threaded, with tool calls and tool results.

A chat's ``message_count``, ``total_tokens`` and ``last_message_at`` are kept by
statement-level triggers on ``messages`` (migration 0008), whatever writes the rows:
:meth:`MessageManager.post`, a COPY, a set-based or an instance's soft delete, restore
or hard delete. Messages are read in ``(created_at, id)`` order; ``created_at`` is the
transaction's start, and keys are time-ordered (:func:`~.ids.uuid7`) so messages of one
transaction keep the order they were made in.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Self

import sqlalchemy as sa
from pydantic import field_validator
from sqlalchemy.orm import Session, relationship
from sqlalchemy.orm.util import identity_key
from sqlmodel import Field, Relationship, col

from assistant_models.core.aio import is_async_session
from assistant_models.core.base import AssistantModel
from assistant_models.core.concerns import Concern, LiveParent
from assistant_models.core.expressions import RawSQL
from assistant_models.core.manager import ALL, DELETED, Manager
from assistant_models.core.mixins import SoftDeleteMixin, TimestampMixin, UUIDPrimaryKeyMixin
from assistant_models.core.types import JSONB, str_enum
from assistant_models.exceptions import ConflictError, ValidationError
from assistant_models.models.chat.history import TokenCounter, chat_message, fit_history
from assistant_models.models.chat.ids import uuid7
from assistant_models.models.chat.message_rules import message_problems, tool_calls_problem

if TYPE_CHECKING:
    from assistant_models.models.chat.sessions import ChatSession

__all__ = ["MAX_CONTENT", "ContentType", "Message", "MessageManager", "Role"]

#: The longest message content kept, in characters.
MAX_CONTENT = 1_000_000
#: The deepest thread :meth:`MessageManager.thread` follows (a guard against a cycle of parents).
MAX_THREAD_DEPTH = 100_000
LIVE_ROWS = sa.text("deleted_at IS NULL")
#: The chat's figures the triggers keep.
COUNTERS = ("message_count", "total_tokens", "last_message_at")
#: The fields of a message in the chat-completions format, besides its role and content.
HISTORY_FIELDS = ("role", "content", "tool_calls", "tool_call_id", "name")


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


def _key(value: Any, field: str) -> uuid.UUID:
    """Return ``value`` as a UUID, or raise a ValidationError naming ``field``."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise ValidationError.single(field, "must be a UUID", "Message") from None


def _chat_key(session: Any) -> uuid.UUID:
    """Return the key of a chat given as a :class:`ChatSession` or its id."""
    if isinstance(session, AssistantModel):
        if not isinstance(session, _chat_model()):
            raise ValidationError.single("session", "must be a ChatSession or its id", "Message")
        return _key(session.id, "session")
    return _key(session, "session")


def _chat_model() -> Any:
    """Return the ChatSession class, through the relation (its module may import this one)."""
    return sa.inspect(Message).relationships["session"].mapper.class_


def _show_new_counters(db: Session, chat: uuid.UUID) -> None:
    """Make a held ChatSession show the figures the trigger just wrote.

    They are expired, and read again when next used; an async unit of work cannot read
    lazily, so there they are read again at once.
    """
    held = db.identity_map.get(identity_key(_chat_model(), chat))
    if held is None:
        return
    if is_async_session(db):
        db.refresh(held, list(COUNTERS))
    else:
        db.expire(held, list(COUNTERS))


class MessageManager(Manager["Message"]):
    """Messages: post, thread, history for a model, import.

    Every method takes the chat as a :class:`ChatSession` or its id, and respects
    filters chained before it (``Message.all_objects.history(chat)`` reads deleted
    messages too).
    """

    def post(
        self, session: ChatSession | uuid.UUID, role: Role | str, content: str, **fields: Any
    ) -> Message:
        """Add a message to a chat and return it.

        The chat's ``message_count``, ``total_tokens`` (input plus output tokens) and
        ``last_message_at`` move in the same transaction, by a database trigger, so
        concurrent posters add up exactly; a :class:`ChatSession` held in this unit of
        work shows the new figures when next read. With an ``idempotency_key`` already
        used in the chat, the first message with that key is returned (even if deleted
        since) and nothing is written or counted again.

        Args:
            session: The chat.
            role: ``system``, ``user``, ``assistant`` or ``tool``.
            content: The text, at most :data:`MAX_CONTENT` characters.
            fields: Other fields of :class:`Message`; ``parent`` (a message of the same
                chat) may stand for ``parent_id``.

        Raises:
            ValidationError: A bad field, naming it; nothing is written.
        """
        chat = _chat_key(session)
        values = {"session_id": chat, "role": role, "content": content, **self._parent(chat, fields)}
        errors = message_problems(values, Role, ContentType)
        if errors:
            raise ValidationError(errors, "Message")
        if values.get("idempotency_key") is None:
            message = self.create(**values)
        else:
            message = self._post_once(Message(**values))
        _show_new_counters(self.session, chat)
        return message

    def _parent(self, chat: uuid.UUID, fields: dict[str, Any]) -> dict[str, Any]:
        """Return ``fields`` with ``parent`` made ``parent_id``, checked to be a live message of ``chat``."""
        if "session_id" in fields:
            raise ValidationError.single("session_id", "is the chat given as the first argument", "Message")
        fields = dict(fields)
        parent = fields.pop("parent", None)
        if parent is not None:
            if not isinstance(parent, Message) or fields.get("parent_id") not in (None, parent.id):
                raise ValidationError.single("parent", "must be a Message (or give parent_id)", "Message")
            fields["parent_id"], in_chat = parent.id, parent.session_id == chat
        elif fields.get("parent_id") is not None:
            fields["parent_id"] = _key(fields["parent_id"], "parent_id")
            in_chat = self.of(Message).filter(pk=fields["parent_id"], session_id=chat).exists()
        else:
            return fields
        if not in_chat:
            raise ValidationError.single("parent_id", "is not a live message of this chat", "Message")
        return fields

    def _post_once(self, message: Message) -> Message:
        """Insert ``message`` unless its idempotency key is taken; return it or the key's first message."""
        self.bulk_create([message], ignore_conflicts=True)  # ON CONFLICT DO NOTHING
        if sa.inspect(message).persistent:
            return message
        first: Message | None = (
            self.of(Message, ALL)
            .filter(session_id=message.session_id, idempotency_key=message.idempotency_key)
            .first()
        )
        if first is None:  # the conflict was another unique value: the key given is no one's
            raise ConflictError("messages: a row with this id already exists", "id")
        return first

    def thread(self, message: Message) -> list[Message]:
        """Return the messages from the root of ``message``'s thread down to ``message``, in one query.

        The chain of ``parent_id`` is followed through deleted messages too; those are
        left out of the answer unless the manager shows them.
        """
        table = sa.inspect(Message).local_table.alias("am_m")
        start = sa.select(table.c.id, table.c.parent_id, sa.literal(0).label("depth"))
        chain = start.where(table.c.id == message.id).cte("am_thread", recursive=True)
        step = sa.select(table.c.id, table.c.parent_id, chain.c.depth + 1).where(
            table.c.id == chain.c.parent_id, chain.c.depth < MAX_THREAD_DEPTH
        )
        chain = chain.union_all(step)
        depth = sa.select(chain.c.depth).where(chain.c.id == col(Message.id)).scalar_subquery()
        rows = self.where(col(Message.id).in_(sa.select(chain.c.id))).order_by(RawSQL(depth).desc())
        return list(rows)

    def replies(self, message: Message) -> Self:
        """Return the direct replies to ``message``, oldest first."""
        return self.filter(parent_id=message.id).order_by("created_at", "id")

    def with_tool_calls(self, session: ChatSession | uuid.UUID) -> Self:
        """Return the chat's messages that call tools, oldest first."""
        return self.filter(session_id=_chat_key(session), tool_calls__isnull=False).order_by(
            "created_at", "id"
        )

    def import_history(self, session: ChatSession | uuid.UUID, messages: Iterable[Mapping[str, Any]]) -> int:
        """Store many messages in a chat at once, by COPY, and return how many.

        Each mapping holds a message's fields (``role`` and ``content`` at least; ``id``,
        ``parent_id``, ``created_at`` and the others as :meth:`post` takes them), checked
        as :meth:`post` checks them, errors naming ``rows[<index>].<field>``. A parent
        must be a live message of the chat or one of the rows. The chat's figures move
        once per COPY of up to 10,000 rows; an error leaves none of the rows.

        Raises:
            ValidationError: Bad rows; nothing is written.
            ConflictError: A row's ``id`` or ``idempotency_key`` is taken.
        """
        chat = _chat_key(session)
        if isinstance(messages, (Mapping, str, bytes)) or not isinstance(messages, Iterable):
            raise ValidationError.single(
                "messages", "must be an iterable of mappings, one per message", "Message"
            )
        rows = [dict(m) if isinstance(m, Mapping) else m for m in messages]
        errors: list[dict[str, str]] = []
        for index, row in enumerate(rows):
            if not isinstance(row, dict):
                errors.append({"field": f"rows[{index}]", "message": "must be a mapping of field values"})
                continue
            if row.setdefault("session_id", chat) != chat:
                errors.append({"field": f"rows[{index}].session_id", "message": "is not this chat"})
            errors += message_problems(row, Role, ContentType, f"rows[{index}].")
        if not errors:
            errors = self._foreign_parents(chat, rows)
        if errors:
            raise ValidationError(errors, "Message")
        self.session.flush()  # a chat made in this unit of work goes first
        count = self.bulk_insert(rows)
        _show_new_counters(self.session, chat)
        return count

    def _foreign_parents(self, chat: uuid.UUID, rows: list[dict[str, Any]]) -> list[dict[str, str]]:
        """Return an error per row whose parent is neither one of the rows nor a live message of ``chat``."""
        own = {str(row["id"]) for row in rows if row.get("id") is not None}
        wanted: dict[int, str] = {
            i: str(row["parent_id"])
            for i, row in enumerate(rows)
            if row.get("parent_id") is not None and str(row["parent_id"]) not in own
        }
        keys = {_key(value, f"rows[{i}].parent_id") for i, value in wanted.items()}
        found: set[str] = set()
        if keys:
            live = self.of(Message).filter(session_id=chat, pk__in=list(keys))
            found = {str(key) for key in live.values_list("id", flat=True)}
        return [
            {"field": f"rows[{i}].parent_id", "message": "is not a live message of this chat nor a row"}
            for i, value in wanted.items()
            if str(_key(value, f"rows[{i}].parent_id")) not in found
        ]

    def history(
        self,
        session: ChatSession | uuid.UUID,
        *,
        limit: int | None = None,
        max_tokens: int | None = None,
        token_counter: TokenCounter | None = None,
        include_system: bool = True,
    ) -> list[dict[str, Any]]:
        """Return the chat as chat-completions messages, oldest first, ready to send to a model.

        Each message is ``{"role", "content"}`` plus ``tool_calls``, ``tool_call_id`` and
        ``name`` where it has them. With neither ``limit`` nor ``max_tokens`` that is the
        whole conversation as stored. Otherwise it is cut to the latest whole turns as
        :func:`~assistant_models.models.chat.history.fit_history` says: system messages
        kept (``include_system``), the oldest turns dropped first, an assistant message
        calling tools kept or dropped with its results, starting on a user message.

        Args:
            session: The chat.
            limit: Read at most this many of the latest messages besides system ones.
            max_tokens: The budget the answer fits, system messages included.
            token_counter: Tokens of one message (a dict as above);
                :func:`~assistant_models.models.chat.history.estimate_tokens` by default,
                about 4 characters a token plus 3 a message.
            include_system: Keep the system messages; ``False`` leaves them out.
        """
        for name, value, least in (("limit", limit, 1), ("max_tokens", max_tokens, 0)):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < least):
                raise ValidationError.single(name, f"must be an integer of at least {least}", "Message")
        rows = self._history_rows(_chat_key(session), limit, include_system)
        messages = [chat_message(*row[2:]) for row in rows]
        if limit is None and max_tokens is None:
            return messages
        return fit_history(
            messages, max_tokens=max_tokens, token_counter=token_counter, include_system=include_system
        )

    def _history_rows(self, chat: uuid.UUID, limit: int | None, include_system: bool) -> list[Any]:
        """Return ``(created_at, id, *HISTORY_FIELDS)`` of the messages ``history`` reads, oldest first."""
        fields = ("created_at", "id", *HISTORY_FIELDS)
        messages = self.filter(session_id=chat)
        if limit is None:
            rows = messages if include_system else messages.exclude(role=Role.SYSTEM)
            return list(rows.order_by("created_at", "id").values_list(*fields))
        latest = messages.exclude(role=Role.SYSTEM).order_by("-created_at", "-id").values_list(*fields)
        found = list(latest[:limit])
        if include_system:
            found += list(messages.filter(role=Role.SYSTEM).values_list(*fields))
        return sorted(found, key=lambda row: (row[0], row[1]))


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

    # time-ordered, so messages made in one transaction (one created_at) keep their order
    id: uuid.UUID = Field(
        default_factory=uuid7,
        primary_key=True,
        sa_column_kwargs={"server_default": sa.text("gen_random_uuid()")},
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

    @field_validator("tool_calls")
    @classmethod
    def _tool_calls(cls, value: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        if value is not None:
            problem = tool_calls_problem(value)
            if problem is not None:
                raise ValueError(problem)
        return value

    @property
    def tokens(self) -> int:
        """Return the input and output tokens together."""
        return self.input_tokens + self.output_tokens
