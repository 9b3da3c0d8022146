"""Tool executions: a tool the assistant ran for a chat, with its input and output."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.orm import relationship
from sqlalchemy.orm.util import identity_key
from sqlmodel import Field, Relationship

from assistant_models.core.aggregates import Avg, Count, Percentile, Sum
from assistant_models.core.base import AssistantModel, validate_fields
from assistant_models.core.concerns import Concern, LiveParent
from assistant_models.core.expressions import Now, Q
from assistant_models.core.manager import ALL, Manager
from assistant_models.core.mixins import TimestampMixin, UUIDPrimaryKeyMixin
from assistant_models.core.types import JSONB, UTCDateTime, server_now, str_enum
from assistant_models.exceptions import InvalidTransition, ValidationError
from assistant_models.models.chat.messages import Message
from assistant_models.models.chat.refs import key_of, optional_key_of
from assistant_models.models.chat.sessions import ChatSession
from assistant_models.models.work import storable_error

__all__ = ["ToolExecution", "ToolExecutionManager", "ToolStats", "ToolStatus"]


class ToolStatus(enum.StrEnum):
    """Where a tool run is in its life."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


ALLOWED: dict[ToolStatus, frozenset[ToolStatus]] = {
    # a run that cannot even start (unknown tool, bad input) fails from pending
    ToolStatus.PENDING: frozenset({ToolStatus.RUNNING, ToolStatus.FAILED, ToolStatus.CANCELLED}),
    ToolStatus.RUNNING: frozenset({ToolStatus.COMPLETED, ToolStatus.FAILED, ToolStatus.CANCELLED}),
    ToolStatus.COMPLETED: frozenset(),
    ToolStatus.FAILED: frozenset(),
    ToolStatus.CANCELLED: frozenset(),
}
FINISHED = (ToolStatus.COMPLETED, ToolStatus.FAILED)


@dataclass(frozen=True, slots=True)
class ToolStats:
    """How one tool did over a time window (:meth:`ToolExecutionManager.stats`).

    Attributes:
        tool_name: The tool.
        calls: Runs recorded in the window, whatever their status.
        completed: Runs that completed.
        failed: Runs that failed.
        success_rate: ``completed / (completed + failed)``, from 0 to 1; ``None`` while
            no run has finished (pending, running and cancelled runs do not count).
        mean_duration_ms: Mean duration of the finished (completed or failed) runs.
        p95_duration_ms: 95th percentile of that duration (``percentile_cont``).
        tokens: Tokens the runs used.
    """

    tool_name: str
    calls: int
    completed: int
    failed: int
    success_rate: float | None
    mean_duration_ms: float | None
    p95_duration_ms: float | None
    tokens: int


class ToolExecutionManager(Manager["ToolExecution"]):
    """Tool runs: record, start, complete, fail, cancel, and their statistics.

    A run moves ``pending -> running -> completed | failed | cancelled``; a pending run
    may also fail or be cancelled. Any other move raises ``InvalidTransition``. Times
    come from the server's clock, and ``duration_ms`` is the time from start to finish.
    """

    def record(
        self,
        session: ChatSession | uuid.UUID,
        tool_name: str,
        input: dict[str, Any],
        *,
        message: Message | uuid.UUID | None = None,
        tool_type: str | None = None,
        idempotency_key: str | None = None,
    ) -> ToolExecution:
        """Record a pending run of ``tool_name`` with ``input`` in the chat ``session``.

        Args:
            session: The chat (or its id).
            tool_name: The tool called.
            input: Its arguments (a JSON object).
            message: The assistant message that called it, in the same chat.
            tool_type: A free category (``"function"``, ``"retrieval"`` ...).
            idempotency_key: A key the caller chooses: recording the same key again in
                the same chat returns the first run, not a second one.

        Raises:
            ValidationError: A bad field, each error naming it; a chat or message that
                does not exist or is deleted names ``session_id`` or ``message_id``.
        """
        chat_id = key_of(session, ChatSession, "session", "ToolExecution")
        if isinstance(message, Message) and message.session_id != chat_id:
            raise ValidationError.single("message", "belongs to another chat", "ToolExecution")
        fields: dict[str, Any] = {
            "message_id": optional_key_of(message, Message, "message", "ToolExecution"),
            "tool_name": tool_name,
            "tool_type": tool_type,
            "input": input,
        }
        if idempotency_key is None:
            return self.create(session_id=chat_id, **fields)
        run, _ = self.get_or_create(session_id=chat_id, idempotency_key=idempotency_key, defaults=fields)
        return run

    def start(self, execution: ToolExecution) -> ToolExecution:
        """Move a pending run to running, from now."""
        execution.move_to(ToolStatus.RUNNING, server_now(self.session))
        return self._save(execution)

    def complete(
        self, execution: ToolExecution, output: dict[str, Any], *, tokens_used: int | None = None
    ) -> ToolExecution:
        """Move a running run to completed with its ``output``.

        ``tokens_used`` is kept on the run and added to its chat's ``total_tokens`` in the
        same transaction, by one ``UPDATE`` that neither bumps the chat's version nor
        writes an audit row (the total is bookkeeping).
        """
        values = {"output": output} if tokens_used is None else {"output": output, "tokens_used": tokens_used}
        if isinstance(tokens_used, bool):
            raise ValidationError.single("tokens_used", "must be an integer", "ToolExecution")
        cleaned = validate_fields(ToolExecution, values)
        execution.move_to(ToolStatus.COMPLETED, server_now(self.session))
        for name, value in cleaned.items():
            setattr(execution, name, value)
        execution.error = None
        self._save(execution)
        if cleaned.get("tokens_used"):
            self._add_tokens(execution.session_id, cleaned["tokens_used"])
        return execution

    def fail(self, execution: ToolExecution, error: object) -> ToolExecution:
        """Move a pending or running run to failed, keeping ``error`` (capped, made storable)."""
        execution.move_to(ToolStatus.FAILED, server_now(self.session))
        execution.error = storable_error(error)
        return self._save(execution)

    def cancel(self, execution: ToolExecution) -> ToolExecution:
        """Cancel a pending or running run."""
        execution.move_to(ToolStatus.CANCELLED, server_now(self.session))
        return self._save(execution)

    def stats(self, since: timedelta = timedelta(days=7)) -> dict[str, ToolStats]:
        """Return, per tool, how its runs of the last ``since`` did, busiest tool first.

        One aggregate query over the runs this QuerySet sees (runs of deleted chats are
        hidden); the window is measured on the server's clock. See :class:`ToolStats`.
        """
        if not isinstance(since, timedelta) or since <= timedelta(0):
            raise ValidationError.single("since", "must be a positive timedelta", "ToolExecution")
        finished = Q(status__in=FINISHED)
        rows = (
            self.filter(created_at__gte=Now() - since)
            .values("tool_name")
            .annotate(
                calls=Count(),
                completed=Count(filter=Q(status=ToolStatus.COMPLETED)),
                failed=Count(filter=Q(status=ToolStatus.FAILED)),
                mean=Avg("duration_ms", filter=finished),
                p95=Percentile("duration_ms", 0.95, filter=finished),
                tokens=Sum("tokens_used", default=0),
            )
            .order_by("-calls", "tool_name")
        )
        return {row["tool_name"]: _tool_stats(row) for row in rows}

    def _add_tokens(self, chat_id: uuid.UUID, tokens: int) -> None:
        """Add ``tokens`` to the chat's total: a Core UPDATE, outside versioning and audit."""
        table: Any = sa.inspect(ChatSession).local_table
        stmt = (
            sa.update(table).where(table.c.id == chat_id).values(total_tokens=table.c.total_tokens + tokens)
        )
        self.execute(stmt)
        held = self.session.identity_map.get(identity_key(ChatSession, chat_id))
        if held is not None:
            self.session.expire(held, ["total_tokens", "updated_at"])


def _tool_stats(row: dict[str, Any]) -> ToolStats:
    finished = row["completed"] + row["failed"]
    return ToolStats(
        tool_name=row["tool_name"],
        calls=row["calls"],
        completed=row["completed"],
        failed=row["failed"],
        success_rate=row["completed"] / finished if finished else None,
        mean_duration_ms=row["mean"],
        p95_duration_ms=row["p95"],
        tokens=int(row["tokens"]),
    )


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

    def move_to(self, target: ToolStatus, now: datetime) -> None:
        """Change status to ``target`` at ``now``, stamping start, finish and duration.

        Raises:
            InvalidTransition: ``target`` cannot follow the current status.
        """
        InvalidTransition.check("ToolExecution", ALLOWED, ToolStatus(self.status), target)
        self.status = target
        if target is ToolStatus.RUNNING:
            self.started_at = now
            return
        self.completed_at = now
        if self.started_at is not None:
            self.duration_ms = max((now - self.started_at) // timedelta(milliseconds=1), 0)
