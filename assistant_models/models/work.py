"""Work: tasks, their queue and their lifecycle."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.orm import relationship
from sqlmodel import Field, Relationship, col

from assistant_models.core.aggregates import Aggregate, Avg, Count, Sum
from assistant_models.core.base import AssistantModel
from assistant_models.core.expressions import F, Func, Now, Q, Value
from assistant_models.core.manager import ALL, DELETED, Manager
from assistant_models.core.mixins import (
    AuditMixin,
    SoftDeleteMixin,
    TimestampMixin,
    UUIDPrimaryKeyMixin,
    VersionMixin,
)
from assistant_models.core.types import JSONB, UTCDateTime, server_now, str_enum
from assistant_models.exceptions import InvalidTransition, ValidationError

if TYPE_CHECKING:
    from assistant_models.models.identity.users import User

__all__ = ["RETRY_BASE_DELAY", "RETRY_MAX_DELAY", "Task", "TaskManager", "TaskStatus"]

#: First retry waits this long; each later one waits twice as long, up to the maximum.
RETRY_BASE_DELAY = timedelta(seconds=30)
RETRY_MAX_DELAY = timedelta(hours=1)
LIVE_ROWS = sa.text("deleted_at IS NULL")


class TaskStatus(enum.StrEnum):
    """Where a task is in its life."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


ALLOWED: dict[TaskStatus, frozenset[TaskStatus]] = {
    TaskStatus.PENDING: frozenset({TaskStatus.RUNNING, TaskStatus.CANCELLED}),
    TaskStatus.RUNNING: frozenset(
        {TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.PENDING, TaskStatus.CANCELLED}
    ),
    TaskStatus.FAILED: frozenset({TaskStatus.PENDING}),
    TaskStatus.COMPLETED: frozenset(),
    TaskStatus.CANCELLED: frozenset(),
}


#: The longest error text kept on a task; a longer one is cut, with a marker.
ERROR_MAX = 20_000
_TRUNCATED = " [truncated]"


def storable_error(error: object) -> str:
    """Return ``error`` as text a task can store: NUL and lone surrogates replaced, capped in length."""
    text = str(error).replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")
    if len(text) > ERROR_MAX:
        text = text[: ERROR_MAX - len(_TRUNCATED)] + _TRUNCATED
    return text


def retry_delay(retry_count: int) -> timedelta:
    """Return the back-off before retry number ``retry_count`` (1 for the first)."""
    delay: timedelta = RETRY_BASE_DELAY * (2 ** max(retry_count - 1, 0))
    return min(delay, RETRY_MAX_DELAY)


class TaskManager(Manager["Task"]):
    """The task queue: enqueue, claim, and move tasks through their lifecycle.

    Every method here respects filters chained before it:
    ``Task.objects.filter(assignee_id=bot.id).claim_next("worker-1")``.
    """

    def enqueue(self, title: str, **fields: Any) -> Task:
        """Add a pending task; ``run_after`` delays it, ``priority`` (0-10) orders it."""
        if "status" in fields:
            raise ValidationError.single("status", "enqueued tasks start as pending", "Task")
        return self.create(title=title, status=TaskStatus.PENDING, **fields)

    def due(self) -> TaskManager:
        """Return pending tasks whose ``run_after`` has come."""
        now = sa.func.now()
        return self.filter(status=TaskStatus.PENDING).where(
            sa.or_(col(Task.run_after).is_(None), col(Task.run_after) <= now)
        )

    def claim_next(self, worker: str) -> Task | None:
        """Start the most urgent due task for ``worker`` and return it, or ``None``.

        Highest priority first, then the oldest. The row is locked with
        ``FOR UPDATE SKIP LOCKED``, so concurrent workers never get the same task.
        """
        if not isinstance(worker, str) or not 1 <= len(worker) <= 100:
            raise ValidationError.single("worker", "must be a name of 1 to 100 characters", "Task")
        task = (
            self.due().order_by("-priority", "created_at", "pk").select_for_update(skip_locked=True).first()
        )
        if task is None:
            return None
        return self.start(task, worker=worker)

    def start(self, task: Task, worker: str | None = None) -> Task:
        """Move ``task`` from pending to running."""
        task.move_to(TaskStatus.RUNNING, server_now(self.session))
        task.claimed_by = worker
        return self._save(task)

    def complete(self, task: Task, results: dict[str, Any] | None = None) -> Task:
        """Move ``task`` from running to completed, keeping ``results``."""
        task.move_to(TaskStatus.COMPLETED, server_now(self.session))
        task.results = results
        task.error = None
        return self._save(task)

    def fail(self, task: Task, error: str, retry: bool = True) -> Task:
        """Record a failure of a running task.

        While retries remain (and ``retry`` is true) the task goes back to pending,
        to run again after an exponential back-off; otherwise it fails for good. The
        error text is stored whatever it holds: capped at :data:`ERROR_MAX` characters,
        characters PostgreSQL cannot store replaced, so a failure is always recorded
        and the task never stays running.
        """
        now = server_now(self.session)  # run_after is compared with the server's now()
        if retry and task.retry_count < task.max_retries:
            task.move_to(TaskStatus.PENDING, now)
            task.retry_count += 1
            task.run_after = now + retry_delay(task.retry_count)
        else:
            task.move_to(TaskStatus.FAILED, now)
        task.error = storable_error(error)
        return self._save(task)

    def cancel(self, task: Task) -> Task:
        """Cancel a pending or running task."""
        task.move_to(TaskStatus.CANCELLED, server_now(self.session))
        return self._save(task)

    def overdue(self) -> TaskManager:
        """Return unfinished tasks whose due time has passed."""
        return self.filter(status__in=[TaskStatus.PENDING, TaskStatus.RUNNING]).where(
            col(Task.due_at) < sa.func.now()
        )

    def statistics(self) -> dict[str, Any]:
        """Return counts by status, overdue count, retries and mean run time of completed tasks."""
        run_seconds = Func(Value("epoch"), F("completed_at") - F("started_at"), function="date_part")
        unfinished = Q(status__in=[TaskStatus.PENDING, TaskStatus.RUNNING])
        aggregates: dict[str, Aggregate] = {
            "total": Count(),
            "overdue": Count(filter=unfinished & Q(due_at__lt=Now())),
            "retries": Sum("retry_count", default=0),
            "mean_run_seconds": Avg(run_seconds, filter=Q(status=TaskStatus.COMPLETED)),
            **{s.value: Count(filter=Q(status=s)) for s in TaskStatus},
        }
        row = self.aggregate(**aggregates)
        mean = row.pop("mean_run_seconds")
        stats: dict[str, Any] = {
            "total": row.pop("total"),
            "overdue": row.pop("overdue"),
            "retries": int(row.pop("retries")),
        }
        stats["by_status"] = row
        stats["mean_run_seconds"] = float(mean) if mean is not None else None
        return stats


class Task(
    UUIDPrimaryKeyMixin, TimestampMixin, SoftDeleteMixin, AuditMixin, VersionMixin, AssistantModel, table=True
):
    """A unit of work for an agent or a person, queued and retried."""

    __tablename__ = "tasks"
    __searchable__ = {"title": "A", "description": "B"}
    __table_args__ = (
        sa.CheckConstraint("priority BETWEEN 0 AND 10", name="priority_range"),
        sa.CheckConstraint("retry_count >= 0 AND retry_count <= max_retries", name="retry_count_range"),
        sa.Index(
            "ix_tasks__queue", "status", sa.text("priority DESC"), "created_at", postgresql_where=LIVE_ROWS
        ),
        # the key ends the index so keyset pages of an assignee's latest tasks are range scans
        sa.Index("ix_tasks__assignee_recent", "assignee_id", sa.text("created_at DESC"), sa.text("id DESC")),
    )

    title: str = Field(min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=20_000)
    status: TaskStatus = Field(default=TaskStatus.PENDING, sa_type=str_enum(TaskStatus, 16), index=True)
    priority: int = Field(default=5, ge=0, le=10)
    assignee_id: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    claimed_by: str | None = Field(default=None, max_length=100)
    due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    run_after: datetime | None = Field(default=None, sa_type=UTCDateTime)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    retry_count: int = Field(default=0, ge=0)
    max_retries: int = Field(default=3, ge=0, le=100)
    results: dict[str, Any] | None = Field(default=None, sa_type=JSONB)
    error: str | None = Field(default=None, max_length=ERROR_MAX)

    assignee: User | None = Relationship(sa_relationship=relationship("User"))

    objects: ClassVar[TaskManager] = TaskManager()
    all_objects: ClassVar[TaskManager] = TaskManager(visibility=ALL)
    deleted_objects: ClassVar[TaskManager] = TaskManager(visibility=DELETED)

    def move_to(self, target: TaskStatus, now: datetime) -> None:
        """Change status to ``target`` at ``now``, stamping start and finish times.

        Raises:
            InvalidTransition: ``target`` cannot follow the current status.
        """
        InvalidTransition.check("Task", ALLOWED, TaskStatus(self.status), target)
        self.status = target
        if target is TaskStatus.RUNNING:
            self.started_at, self.completed_at = now, None
        elif target in (TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED):
            self.completed_at = now
        else:
            self.started_at = None
            self.claimed_by = None

    @property
    def is_finished(self) -> bool:
        """Return whether the task has reached a final status."""
        return self.status in (TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED)

    def is_overdue(self, now: datetime) -> bool:
        """Return whether the task is unfinished past its due time at ``now``."""
        return self.due_at is not None and not self.is_finished and self.due_at < now
