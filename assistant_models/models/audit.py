"""The append-only audit log of every audited model."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from assistant_models.core.audit import AuditLogBase
from assistant_models.core.manager import Manager

__all__ = ["AuditLog", "AuditLogManager"]


class AuditLogManager(Manager["AuditLog"]):
    """Reads of the audit trail; rows are written only by the changes they record."""

    def for_object(self, obj: Any) -> AuditLogManager:
        """Return the trail of one row, oldest first."""
        table = type(obj).__tablename__
        return self.filter(table_name=table, row_id=str(obj.id)).order_by("created_at", "pk")

    def by_actor(self, actor_id: uuid.UUID) -> AuditLogManager:
        """Return the changes made by one actor, newest first."""
        return self.filter(actor_id=actor_id).order_by("-created_at")


class AuditLog(AuditLogBase, table=True):
    """One recorded change: action, table, row id, actor, time and before/after diff.

    Append-only: changing or deleting a row raises ``ValidationError`` before any SQL.
    """

    __tablename__ = "audit_logs"

    objects: ClassVar[AuditLogManager] = AuditLogManager()
