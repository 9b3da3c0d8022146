"""Mixins, one concern each.

Shared columns are declared with ``sa_type=`` and ``sa_column_kwargs=`` so each
table gets its own ``Column``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.orm import declared_attr
from sqlmodel import Field, SQLModel

from assistant_models.core.concerns import ALL, DELETED, Audited, Concern, SoftDelete, Timestamped, Versioned
from assistant_models.core.manager import Manager
from assistant_models.core.types import UTCDateTime, utcnow

__all__ = [
    "AuditMixin",
    "SoftDeleteMixin",
    "TimestampMixin",
    "UUIDPrimaryKeyMixin",
    "VersionMixin",
    "utcnow",
]


class UUIDPrimaryKeyMixin(SQLModel):
    """A UUID primary key, made on the client so bulk inserts know their keys."""

    id: uuid.UUID = Field(
        default_factory=uuid.uuid4,
        primary_key=True,
        sa_column_kwargs={"server_default": sa.text("gen_random_uuid()")},
    )


class TimestampMixin(SQLModel):
    """``created_at`` and ``updated_at``, timezone-aware and set by the server."""

    __concerns__: ClassVar[tuple[Concern, ...]] = (Timestamped(),)

    created_at: datetime | None = Field(
        default=None,
        sa_type=UTCDateTime,
        nullable=False,
        sa_column_kwargs={"server_default": sa.func.now()},
    )
    updated_at: datetime | None = Field(
        default=None,
        sa_type=UTCDateTime,
        nullable=False,
        sa_column_kwargs={"server_default": sa.func.now(), "onupdate": sa.func.now()},
    )


class SoftDeleteMixin(SQLModel):
    """Rows are hidden by ``deleted_at`` instead of removed.

    ``obj.delete()`` marks the row, ``obj.delete(hard=True)`` removes it and
    ``obj.restore()`` brings it back. ``Model.objects`` never shows deleted rows;
    ``Model.all_objects`` shows all and ``Model.deleted_objects`` only deleted ones.
    Unique constraints of such tables are partial indexes over live rows.
    """

    __soft_delete__: ClassVar[bool] = True
    __concerns__: ClassVar[tuple[Concern, ...]] = (SoftDelete("deleted_at"),)
    all_objects: ClassVar[Manager[Any]] = Manager(visibility=ALL)
    deleted_objects: ClassVar[Manager[Any]] = Manager(visibility=DELETED)

    deleted_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)

    @property
    def is_deleted(self) -> bool:
        """Return whether the row is soft-deleted."""
        return self.deleted_at is not None

    def delete(self, hard: bool = False) -> tuple[int, dict[str, int]]:
        """Soft-delete this row (or remove it for good with ``hard=True``) in the current unit of work.

        Returns:
            ``(total, {model name: count})`` as Django's ``Model.delete()`` does.
        """
        from assistant_models.core.persistence import delete_instance

        return delete_instance(self, hard=hard)

    def restore(self) -> None:
        """Bring a soft-deleted row back.

        Raises:
            ConflictError: A live row already holds one of this row's unique values.
        """
        from assistant_models.core.persistence import restore_instance

        restore_instance(self)

    async def adelete(self, hard: bool = False) -> tuple[int, dict[str, int]]:
        """Await :meth:`delete` in an async unit of work (``async with db.asession():``)."""
        from assistant_models.core.aio import run_bridged

        return await run_bridged(self.delete, hard)

    async def arestore(self) -> None:
        """Await :meth:`restore` in an async unit of work."""
        from assistant_models.core.aio import run_bridged

        await run_bridged(self.restore)


class AuditMixin(SQLModel):
    """Every create, update, soft delete, restore and hard delete writes an audit row.

    The row is written by the flush that sends the change, so it commits or rolls
    back with it. Secret fields appear in diffs as ``"[redacted]"``.
    """

    __audited__: ClassVar[bool] = True
    __concerns__: ClassVar[tuple[Concern, ...]] = (Audited(),)


class VersionMixin(SQLModel):
    """Optimistic locking: a write whose version is stale raises ``ConflictError``."""

    __concerns__: ClassVar[tuple[Concern, ...]] = (Versioned("version"),)

    version: int = Field(default=1, nullable=False, sa_column_kwargs={"server_default": sa.text("1")})

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:  # noqa: N805 - SQLAlchemy declared_attr
        return {"version_id_col": cls.__table__.c.version, "eager_defaults": True}  # type: ignore[attr-defined]
