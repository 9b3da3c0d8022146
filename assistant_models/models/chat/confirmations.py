"""Confirmations: a question the assistant asks the user before it acts."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime, timedelta
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.orm import relationship
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Field, Relationship

from assistant_models.core.base import AssistantModel
from assistant_models.core.concerns import Concern, LiveParent
from assistant_models.core.expressions import Case, Now, When
from assistant_models.core.manager import ALL, Manager
from assistant_models.core.mixins import TimestampMixin, UUIDPrimaryKeyMixin
from assistant_models.core.types import JSONB, UTCDateTime, server_now, str_enum
from assistant_models.exceptions import InvalidTransition, ValidationError
from assistant_models.models.chat.documents import json_text
from assistant_models.models.chat.refs import instance_key, table_of
from assistant_models.models.chat.sessions import ChatSession
from assistant_models.models.identity.users import User

__all__ = ["Confirmation", "ConfirmationManager", "ConfirmationStatus"]

_OWNER = "Confirmation"
#: The columns a resolution writes, read back into the instance.
_RESOLVED = ("status", "resolved_at", "updated_at")


class ConfirmationStatus(enum.StrEnum):
    """Where a confirmation request is."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"


class ConfirmationManager(Manager["Confirmation"]):
    """Confirmations: request, approve, reject, expire.

    Every time is the database server's: a request expires at the server's ``now()``
    plus its time to live, and ``now()`` is what decides whether it has expired. A
    pending request past its expiry can no longer be resolved, even before
    :meth:`expire_stale` marks it. Methods respect filters chained before them.
    """

    def request(
        self, session: ChatSession, user: User, kind: str, data: dict[str, Any], *, ttl: timedelta
    ) -> Confirmation:
        """Ask ``user`` to confirm an action of ``kind`` described by ``data``, for ``ttl``.

        Raises:
            ValidationError: A bad ``session``, ``user``, ``kind``, ``data`` or ``ttl``
                (a positive timedelta); nothing is written.
        """
        session_id = instance_key(session, ChatSession, "session", _OWNER)
        user_id = instance_key(user, User, "user", _OWNER)
        if not isinstance(ttl, timedelta) or ttl <= timedelta(0):
            raise ValidationError.single("ttl", "must be a positive timedelta", _OWNER)
        json_text(data, "data", _OWNER)  # what the column's serializer would only fail at in the driver
        now = server_now(self.session)  # the clock that expiry is checked by
        return self.create(session_id=session_id, user_id=user_id, kind=kind, data=data, expires_at=now + ttl)

    def pending_for(self, session: ChatSession) -> ConfirmationManager:
        """Return the pending, unexpired requests of a chat, oldest first."""
        session_id = instance_key(session, ChatSession, "session", _OWNER)
        return self.filter(
            session_id=session_id, status=ConfirmationStatus.PENDING, expires_at__gt=Now()
        ).order_by("created_at", "expires_at", "pk")

    def approve(self, confirmation: Confirmation) -> Confirmation:
        """Approve a pending, unexpired request; see :meth:`resolve`."""
        return self.resolve(confirmation, ConfirmationStatus.APPROVED)

    def reject(self, confirmation: Confirmation) -> Confirmation:
        """Reject a pending, unexpired request; see :meth:`resolve`."""
        return self.resolve(confirmation, ConfirmationStatus.REJECTED)

    def resolve(self, confirmation: Confirmation, status: ConfirmationStatus | str) -> Confirmation:
        """Move a pending, unexpired request to ``status`` (approved or rejected) and return it.

        One conditional ``UPDATE ... WHERE status = 'pending' AND expires_at > now()
        RETURNING``: of concurrent resolutions of one request exactly one changes the
        row, and the others, once it commits, find it resolved. ``confirmation`` gets
        the stored status and resolution time.

        Raises:
            ValidationError: ``confirmation`` is not a saved Confirmation, or ``status``
                is neither approved nor rejected.
            InvalidTransition: The request is already resolved, or has expired.
            Confirmation.DoesNotExist: The request is gone (or hidden with its chat).
        """
        key = instance_key(confirmation, Confirmation, "confirmation", _OWNER)
        target = _resolution(status)
        mine = self.filter(pk=key)
        answerable = mine.filter(status=ConfirmationStatus.PENDING, expires_at__gt=Now())
        where, _ = answerable.compiler().conditions()
        table = table_of(Confirmation)
        stmt = (
            sa.update(table)
            .where(*where)
            .values(status=target, resolved_at=sa.func.now(), updated_at=sa.func.now())
            .returning(*(table.c[name] for name in _RESOLVED))
        )
        row = answerable.execute(stmt).first()
        if row is None:
            raise self._refusal(mine, target)
        for name, value in zip(_RESOLVED, row, strict=True):
            set_committed_value(confirmation, name, value)
        return confirmation

    def expire_stale(self) -> int:
        """Mark every pending request past its expiry as expired, in one statement; return how many."""
        stale = self.filter(status=ConfirmationStatus.PENDING, expires_at__lte=Now())
        return stale.update(status=ConfirmationStatus.EXPIRED, resolved_at=Now())

    def _refusal(self, mine: ConfirmationManager, target: ConfirmationStatus) -> Exception:
        """Return why ``mine`` (one request) could not move to ``target``."""
        expired = Case(When(expires_at__lte=Now(), then=True), default=False)
        found = mine.annotate(expired=expired).values_list("status", "expired").first()
        if found is None:
            return Confirmation.DoesNotExist("Confirmation matching the query does not exist")
        status, expired = found
        current = ConfirmationStatus.EXPIRED if status is ConfirmationStatus.PENDING and expired else status
        return InvalidTransition(_OWNER, ConfirmationStatus(current).value, target.value)


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


def _resolution(status: ConfirmationStatus | str) -> ConfirmationStatus:
    """Return ``status`` as a resolution a user can give (approved or rejected).

    Raises:
        ValidationError: Naming ``status``.
    """
    try:
        target = ConfirmationStatus(status)
    except (ValueError, TypeError):
        target = None
    if target not in (ConfirmationStatus.APPROVED, ConfirmationStatus.REJECTED):
        raise ValidationError.single("status", "must be 'approved' or 'rejected'", _OWNER)
    return target
