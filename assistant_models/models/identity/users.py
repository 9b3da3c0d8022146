"""Users: accounts, passwords and roles."""

from __future__ import annotations

import enum
import re
from datetime import datetime, timedelta
from typing import Any, ClassVar

import sqlalchemy as sa
from pydantic import field_validator
from sqlmodel import Field

from assistant_models.core.aggregates import Aggregate, Count
from assistant_models.core.base import AssistantModel
from assistant_models.core.expressions import Now, Q
from assistant_models.core.manager import ALL, DELETED, Manager
from assistant_models.core.mixins import (
    AuditMixin,
    SoftDeleteMixin,
    TimestampMixin,
    UUIDPrimaryKeyMixin,
)
from assistant_models.core.types import JSONB, UTCDateTime, server_now, str_enum
from assistant_models.exceptions import ValidationError
from assistant_models.models.chat.activity import UserActivity, user_activity
from assistant_models.models.identity.passwords import (
    check_password,
    dummy_check,
    hash_password,
    validate_password,
)

__all__ = ["User", "UserManager", "UserRole"]

EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
USERNAME = re.compile(r"^[A-Za-z0-9_.-]{3,50}$")
URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)
LIVE_ROWS = sa.text("deleted_at IS NULL")


class UserRole(enum.StrEnum):
    """What a user may do on the platform."""

    USER = "user"
    ADMIN = "admin"
    DEVELOPER = "developer"


class UserManager(Manager["User"]):
    """Table-level work on users: sign-up, sign-in, verification, statistics."""

    def create_user(self, email: str, username: str, password: str, **fields: Any) -> User:
        """Create a user with a hashed password.

        Raises:
            ValidationError: A bad email, username, password or other field.
            ConflictError: The email (in any letter case) or username is taken by a live user.
        """
        if "password_hash" in fields:
            raise ValidationError.single("password_hash", "set the password with password=", "User")
        errors: list[dict[str, str]] = []
        try:
            validate_password(password)
        except ValidationError as exc:
            errors += exc.errors
        try:
            user = User(email=email, username=username, password_hash="-", **fields)
        except ValidationError as exc:
            errors += exc.errors
        if errors:
            raise ValidationError(errors, "User")
        user.password_hash = hash_password(password)
        return self._save(user)

    def authenticate(self, login: str, password: str) -> User | None:
        """Return the active user whose email or username is ``login`` if ``password`` matches.

        An unknown login, a wrong password and an inactive account all give ``None``
        after the same bcrypt work. A success records the time in ``last_login_at``.
        """
        if not isinstance(login, str) or not login.strip():
            dummy_check()
            return None
        login = login.strip()
        field = "email__iexact" if "@" in login else "username__iexact"
        try:
            user = self.filter(**{field: login}).first()
        except ValidationError:  # text no account can hold (a lone surrogate): an unknown login
            user = None
        if user is None:
            dummy_check()
            return None
        if not check_password(password, user.password_hash) or not user.is_active:
            return None
        self.filter(pk=user.id).update(last_login_at=sa.func.now())
        return user

    def set_password(self, user: User, password: str) -> User:
        """Replace ``user``'s password; the audit trail records the change, redacted."""
        user.password_hash = hash_password(password)
        return self._save(user)

    def verify_email(self, user: User) -> User:
        """Mark ``user``'s email as verified now (kept if already verified)."""
        if user.email_verified_at is None:
            user.email_verified_at = server_now(self.session)
        return self._save(user)

    def activate(self, user: User) -> User:
        """Let ``user`` sign in again."""
        user.is_active = True
        return self._save(user)

    def deactivate(self, user: User) -> User:
        """Stop ``user`` from signing in; their API keys and sessions stop working at once."""
        user.is_active = False
        return self._save(user)

    def activity(self) -> list[UserActivity]:
        """Return each user's chats, messages, tokens and last activity, in one query.

        See :func:`assistant_models.models.chat.activity.user_activity`.
        """
        return user_activity(self)

    def statistics(self) -> dict[str, Any]:
        """Return counts of users (live ones only): total, active, verified, by role, recent."""
        counts: dict[str, Aggregate] = {
            "total": Count(),
            "active": Count(filter=Q(is_active=True)),
            "verified": Count(filter=Q(email_verified_at__isnull=False)),
            "new_last_7_days": Count(filter=Q(created_at__gte=Now() - timedelta(days=7))),
            **{f"role_{r.value}": Count(filter=Q(role=r)) for r in UserRole},
        }
        row = self.aggregate(**counts)
        stats: dict[str, Any] = {k: row[k] for k in ("total", "active", "verified", "new_last_7_days")}
        stats["inactive"] = stats["total"] - stats["active"]
        stats["by_role"] = {r.value: row[f"role_{r.value}"] for r in UserRole}
        return stats


class User(UUIDPrimaryKeyMixin, TimestampMixin, SoftDeleteMixin, AuditMixin, AssistantModel, table=True):
    """A person who signs in.

    The password hash never leaves the model: not in ``repr``, dumps, filters,
    logs or audit diffs.
    """

    __tablename__ = "users"
    __secret_fields__ = frozenset({"password_hash"})
    __audit_exclude__ = frozenset({"last_login_at"})
    __searchable__ = {"username": "A", "email": "A", "first_name": "B", "last_name": "B"}
    __search_config__ = "simple"
    __table_args__ = (
        sa.Index(
            "uq_users__email",
            sa.text("lower(email)"),
            unique=True,
            postgresql_where=LIVE_ROWS,
            info={"field": "email"},
        ),
        sa.Index(
            "uq_users__username",
            sa.text("lower(username)"),
            unique=True,
            postgresql_where=LIVE_ROWS,
            info={"field": "username"},
        ),
    )

    email: str = Field(max_length=320)
    username: str = Field(max_length=50)
    password_hash: str = Field(max_length=255, repr=False)
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    avatar_url: str | None = Field(default=None, max_length=2048)
    role: UserRole = Field(default=UserRole.USER, sa_type=str_enum(UserRole, 16))
    is_active: bool = Field(default=True, sa_column_kwargs={"server_default": sa.true()})
    email_verified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_login_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    meta: dict[str, Any] = Field(default_factory=dict, sa_type=JSONB)

    objects: ClassVar[UserManager] = UserManager()
    all_objects: ClassVar[UserManager] = UserManager(visibility=ALL)
    deleted_objects: ClassVar[UserManager] = UserManager(visibility=DELETED)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        value = value.strip()
        if not EMAIL.match(value):
            raise ValueError("is not a valid email address")
        return value

    @field_validator("username")
    @classmethod
    def _username(cls, value: str) -> str:
        if not USERNAME.match(value):
            raise ValueError("must be 3-50 letters, digits, '_', '.' or '-'")
        return value

    @field_validator("avatar_url")
    @classmethod
    def _avatar_url(cls, value: str | None) -> str | None:
        if value is not None and not URL.match(value):
            raise ValueError("must be an http(s) URL")
        return value

    @property
    def full_name(self) -> str:
        """Return first and last name joined, or the username."""
        return " ".join(p for p in (self.first_name, self.last_name) if p) or self.username

    @property
    def is_verified(self) -> bool:
        """Return whether the email address has been verified."""
        return self.email_verified_at is not None

    def check_password(self, password: str) -> bool:
        """Return whether ``password`` is this user's password."""
        return check_password(password, self.password_hash)
