"""Isolation levels and the retry policy of :meth:`Database.run_in_transaction`."""

from __future__ import annotations

import random

from assistant_models.exceptions import ValidationError

__all__ = [
    "ISOLATION_LEVELS",
    "LOCK_NOT_AVAILABLE",
    "RETRY_BASE_DELAY",
    "RETRY_MAX_DELAY",
    "RETRY_SQLSTATES",
    "backoff",
    "isolation_level",
    "lost_to_another",
    "sqlstate",
]

#: Isolation levels :meth:`Database.session` accepts, by the name it accepts them under.
ISOLATION_LEVELS = {
    "read committed": "READ COMMITTED",
    "repeatable read": "REPEATABLE READ",
    "serializable": "SERIALIZABLE",
}

#: SQLSTATEs that :meth:`Database.run_in_transaction` retries: serialization failure, deadlock.
RETRY_SQLSTATES = frozenset({"40001", "40P01"})
#: First back-off before a retry, in seconds; it doubles each attempt, up to the cap.
RETRY_BASE_DELAY = 0.05
RETRY_MAX_DELAY = 2.0
#: SQLSTATE of a statement that gave up waiting for a lock (``lock_timeout``).
LOCK_NOT_AVAILABLE = "55P03"


def isolation_level(name: object) -> str | None:
    """Return the SQL isolation level for ``name`` (``"serializable"``...), or ``None`` for ``None``.

    Letter case and ``_`` for a space do not matter (``"REPEATABLE_READ"``).

    Raises:
        ValidationError: On field ``isolation``, for an unknown name.
    """
    if name is None:
        return None
    level = ISOLATION_LEVELS.get(name.strip().lower().replace("_", " ")) if isinstance(name, str) else None
    if level is None:
        raise ValidationError.single("isolation", f"must be one of: {', '.join(ISOLATION_LEVELS)}")
    return level


def sqlstate(exc: BaseException) -> str | None:
    """Return the SQLSTATE behind ``exc`` (ours, SQLAlchemy's or the driver's), if any.

    Follows ``__cause__``, where the package's errors keep the original.
    """
    seen: BaseException | None = exc
    while seen is not None:
        for holder in (seen, getattr(seen, "orig", None)):
            code = getattr(holder, "sqlstate", None) or getattr(holder, "pgcode", None)
            if isinstance(code, str):
                return code
        seen = seen.__cause__
    return None


def lost_to_another(exc: BaseException) -> bool:
    """Return whether ``exc`` is a serialization failure or a deadlock: worth running again."""
    return sqlstate(exc) in RETRY_SQLSTATES


def backoff(attempt: int) -> float:
    """Return the seconds to wait before retry number ``attempt`` (1 for the first).

    "Full jitter": uniform between 0 and an exponential ceiling, so transactions
    that collided once do not collide again in step.
    """
    ceiling = min(RETRY_MAX_DELAY, RETRY_BASE_DELAY * 2 ** (attempt - 1))
    return random.uniform(0, ceiling)
