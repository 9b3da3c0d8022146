"""Login sessions: a random bearer token per sign-in, stored as a hash."""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, ClassVar

import sqlalchemy as sa
from pydantic import field_validator
from sqlalchemy.orm import relationship
from sqlmodel import Field, Relationship, col

from assistant_models.core.base import AssistantModel
from assistant_models.core.expressions import Now
from assistant_models.core.manager import Manager
from assistant_models.core.mixins import TimestampMixin, UUIDPrimaryKeyMixin
from assistant_models.core.types import UTCDateTime, server_now
from assistant_models.exceptions import ValidationError

if TYPE_CHECKING:
    from assistant_models.models.identity.users import User

__all__ = ["DEFAULT_TTL", "AuthSession", "AuthSessionManager"]

#: How long a session lives when ``start`` is given no ``ttl``.
DEFAULT_TTL = timedelta(days=1)


def hash_token(raw: str) -> str:
    """Return the stored hash of a raw token (256 random bits, so SHA-256 suffices)."""
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def _live() -> sa.ColumnElement[bool]:
    return col(AuthSession.expires_at) > sa.func.now()


class AuthSessionManager(Manager["AuthSession"]):
    """Start, find, extend and end login sessions."""

    def start(
        self, user: User, ttl: timedelta = DEFAULT_TTL, ip: str | None = None, user_agent: str | None = None
    ) -> tuple[AuthSession, str]:
        """Open a session for ``user``; return it with its raw token, which is never stored.

        Raises:
            ValidationError: A non-positive ``ttl``, a bad ``ip`` or an over-long user agent.
        """
        if not isinstance(ttl, timedelta) or ttl <= timedelta(0):
            raise ValidationError.single("ttl", "must be a positive timedelta", "AuthSession")
        raw = secrets.token_urlsafe(32)
        now = server_now(self.session)  # the clock find_by_token compares with
        session = self.create(
            user_id=user.id,
            token_hash=hash_token(raw),
            expires_at=now + ttl,
            ip_address=ip,
            user_agent=user_agent,
            last_seen_at=now,
        )
        return session, raw

    def find_by_token(self, raw: str) -> AuthSession | None:
        """Return the live, unexpired session of an active user whose token is ``raw``, or ``None``."""
        if not isinstance(raw, str) or not raw or len(raw) > 200 or not raw.isascii():
            return None  # issued tokens are ASCII: anything else (a lone surrogate too) is unknown
        return (
            self.where(AuthSession.token_hash == hash_token(raw), _live())
            .filter(user__is_active=True)  # the join skips deleted users
            .first()
        )

    def live(self) -> AuthSessionManager:
        """Return the sessions that have not expired."""
        return self.where(_live())

    def touch(self, session: AuthSession, extend: timedelta | None = None) -> AuthSession:
        """Record activity now; with ``extend``, push the expiry to now + ``extend`` (server clock)."""
        now = server_now(self.session)
        session.last_seen_at = now
        if extend is not None:
            session.expires_at = now + extend
        return self._save(session)

    def expire(self, session: AuthSession) -> AuthSession:
        """End ``session`` now, by the server's clock (the one ``find_by_token`` compares with)."""
        self.filter(pk=session.id).update(expires_at=sa.func.now())
        return session

    def terminate_all_for(self, user: User) -> int:
        """End every live session of ``user``; return how many were ended."""
        return self.live().filter(user_id=user.id).update(expires_at=sa.func.now())

    def cleanup_expired(self) -> int:
        """Delete the rows of expired sessions; return how many were deleted."""
        return self.filter(expires_at__lte=Now()).delete(hard=True)[0]


class AuthSession(UUIDPrimaryKeyMixin, TimestampMixin, AssistantModel, table=True):
    """One sign-in of a user (table ``auth_sessions``)."""

    __tablename__ = "auth_sessions"
    __secret_fields__ = frozenset({"token_hash"})

    user_id: uuid.UUID = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    token_hash: str = Field(max_length=64, unique=True, repr=False)
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)
    last_seen_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    ip_address: str | None = Field(default=None, max_length=45)
    user_agent: str | None = Field(default=None, max_length=512)

    user: User | None = Relationship(sa_relationship=relationship("User"))

    objects: ClassVar[AuthSessionManager] = AuthSessionManager()

    @field_validator("ip_address")
    @classmethod
    def _ip(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return str(ipaddress.ip_address(value.strip()))
        except ValueError:
            raise ValueError("is not an IPv4 or IPv6 address") from None

    def is_live(self, now: datetime) -> bool:
        """Return whether the session is still valid at ``now``."""
        return self.expires_at > now
