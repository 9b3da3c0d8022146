"""API keys: issued once in plain text, stored as a hash."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, ClassVar

import sqlalchemy as sa
from pydantic import field_validator
from sqlalchemy.orm import relationship
from sqlmodel import Field, Relationship, col

from assistant_models.core.base import AssistantModel
from assistant_models.core.manager import Manager
from assistant_models.core.mixins import AuditMixin, TimestampMixin, UUIDPrimaryKeyMixin
from assistant_models.core.types import JSONB, UTCDateTime, server_now
from assistant_models.exceptions import ValidationError

if TYPE_CHECKING:
    from assistant_models.models.identity.users import User

__all__ = ["ApiKey", "ApiKeyManager"]

PREFIX = "amk_"
DISPLAY_LENGTH = len(PREFIX) + 8


def hash_key(raw: str) -> str:
    """Return the stored hash of a raw key. Keys carry 256 random bits, so SHA-256 suffices."""
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def _check_ttl(expires_in: timedelta | None) -> None:
    if expires_in is not None and (not isinstance(expires_in, timedelta) or expires_in <= timedelta(0)):
        raise ValidationError.single("expires_in", "must be a positive timedelta", "ApiKey")


class ApiKeyManager(Manager["ApiKey"]):
    """Issue, verify, revoke and rotate API keys."""

    def issue(
        self, user: User, name: str, scopes: list[str] | None = None, expires_in: timedelta | None = None
    ) -> tuple[ApiKey, str]:
        """Create a key for ``user`` and return it with its plain text, which is never stored.

        Raises:
            ValidationError: A bad name, scope list or ``expires_in``.
        """
        _check_ttl(expires_in)
        # the clock verify() compares with; asked only when the key expires
        expires_at = None if expires_in is None else server_now(self.session) + expires_in
        raw = PREFIX + secrets.token_urlsafe(32)
        key = self.create(
            user_id=user.id,
            name=name,
            scopes=list(scopes or []),
            expires_at=expires_at,
            key_prefix=raw[:DISPLAY_LENGTH],
            key_hash=hash_key(raw),
        )
        return key, raw

    def verify(self, raw: str) -> ApiKey | None:
        """Return the key whose plain text is ``raw`` if it is usable, and record its use.

        ``None`` for an unknown, revoked or expired key, or one whose owner is
        inactive or deleted.
        """
        if not isinstance(raw, str) or not raw.startswith(PREFIX) or len(raw) > 200 or not raw.isascii():
            return None  # issued keys are ASCII: anything else (a lone surrogate too) is unknown
        now = sa.func.now()
        key = (
            self.where(ApiKey.key_hash == hash_key(raw))
            .filter(revoked_at__isnull=True, user__is_active=True)  # the join skips deleted users
            .where(sa.or_(col(ApiKey.expires_at).is_(None), col(ApiKey.expires_at) > now))
            .first()
        )
        if key is not None:
            self.filter(pk=key.id).update(last_used_at=now)
        return key

    def revoke(self, key: ApiKey) -> ApiKey:
        """Stop ``key`` from working, now and for good."""
        if key.revoked_at is None:
            key.revoked_at = server_now(self.session)
            self._save(key)
        return key

    def rotate(self, key: ApiKey, expires_in: timedelta | None = None) -> tuple[ApiKey, str]:
        """Revoke ``key`` and issue its successor (same owner, name and scopes)."""
        from assistant_models.models.identity.users import User

        owner = User.objects.get(pk=key.user_id)
        self.revoke(key)
        return self.issue(owner, key.name, scopes=list(key.scopes), expires_in=expires_in)

    def active_for(self, user: User) -> ApiKeyManager:
        """Return ``user``'s keys that are neither revoked nor expired."""
        return self.filter(user_id=user.id, revoked_at__isnull=True).where(
            sa.or_(col(ApiKey.expires_at).is_(None), col(ApiKey.expires_at) > sa.func.now())
        )


class ApiKey(UUIDPrimaryKeyMixin, TimestampMixin, AuditMixin, AssistantModel, table=True):
    """A programmatic credential of a user. Only a SHA-256 hash and a display prefix are stored."""

    __tablename__ = "api_keys"
    __secret_fields__ = frozenset({"key_hash"})
    __audit_exclude__ = frozenset({"last_used_at"})

    user_id: uuid.UUID = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    name: str = Field(min_length=1, max_length=100)
    key_prefix: str = Field(max_length=16)
    key_hash: str = Field(max_length=64, unique=True, repr=False)
    scopes: list[str] = Field(default_factory=list, sa_type=JSONB)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    user: User | None = Relationship(sa_relationship=relationship("User"))

    objects: ClassVar[ApiKeyManager] = ApiKeyManager()

    @field_validator("scopes")
    @classmethod
    def _scopes(cls, value: list[str]) -> list[str]:
        bad = [s for s in value if not s or len(s) > 100 or any(c.isspace() for c in s)]
        if bad:
            raise ValueError("scopes are non-empty names without spaces, up to 100 characters")
        return sorted(set(value))

    def is_usable(self, now: datetime) -> bool:
        """Return whether the key is neither revoked nor expired at ``now``."""
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)

    def has_scope(self, scope: str) -> bool:
        """Return whether the key grants ``scope``."""
        return scope in self.scopes
