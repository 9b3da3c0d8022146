"""Connection-pool and timeout settings read from arguments or the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from assistant_models.exceptions import ValidationError

__all__ = ["MIGRATION_LOCK_TIMEOUT", "EngineSettings", "migration_lock_timeout", "read_setting"]

_MESSAGE = "must be a non-negative integer"

#: Milliseconds a migration waits for a table lock before it gives up (``DB_MIGRATION_LOCK_TIMEOUT``).
MIGRATION_LOCK_TIMEOUT = 10_000


@dataclass(frozen=True, slots=True)
class EngineSettings:
    """Validated pool and timeout settings for one engine.

    Attributes:
        pool_size: Connections kept open in the pool (``DB_POOL_SIZE``, default 10).
        max_overflow: Extra connections allowed above ``pool_size`` (``DB_MAX_OVERFLOW``, 20).
        pool_timeout: Seconds to wait for a free connection (``DB_POOL_TIMEOUT``, 30).
        connect_timeout: Seconds to wait for the server to answer (``DB_CONNECT_TIMEOUT``, 10).
        statement_timeout: Milliseconds a statement may run, 0 for no limit
            (``DB_STATEMENT_TIMEOUT``, 30000).
        ping_after: Seconds a pooled connection may sit idle before it is pinged when
            handed out again (``DB_POOL_PING_AFTER``, 10).
    """

    pool_size: int
    max_overflow: int
    pool_timeout: int
    connect_timeout: int
    statement_timeout: int
    ping_after: int = 10

    @classmethod
    def resolve(
        cls,
        *,
        pool_size: int | None = None,
        max_overflow: int | None = None,
        pool_timeout: int | None = None,
        connect_timeout: int | None = None,
        statement_timeout: int | None = None,
        ping_after: int | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> EngineSettings:
        """Return settings from the arguments, falling back to the environment, then defaults.

        Raises:
            ValidationError: A value is not a non-negative integer; the error's
                field is the argument or environment variable at fault.
        """
        env = os.environ if environ is None else environ
        return cls(
            pool_size=read_setting("pool_size", pool_size, "DB_POOL_SIZE", 10, env),
            max_overflow=read_setting("max_overflow", max_overflow, "DB_MAX_OVERFLOW", 20, env),
            pool_timeout=read_setting("pool_timeout", pool_timeout, "DB_POOL_TIMEOUT", 30, env),
            connect_timeout=read_setting("connect_timeout", connect_timeout, "DB_CONNECT_TIMEOUT", 10, env),
            statement_timeout=read_setting(
                "statement_timeout", statement_timeout, "DB_STATEMENT_TIMEOUT", 30000, env
            ),
            ping_after=read_setting("ping_after", ping_after, "DB_POOL_PING_AFTER", 10, env),
        )


def read_setting(name: str, value: object, env_var: str, default: int, environ: Mapping[str, str]) -> int:
    """Return one setting: the argument if given, else the environment, else ``default``.

    Args:
        name: Argument name, reported when ``value`` is invalid.
        value: The argument, or ``None`` to fall back to the environment.
        env_var: Environment variable, reported when its value is invalid.
        default: Used when neither the argument nor the variable is set.
        environ: The environment to read.

    Raises:
        ValidationError: The value is not a non-negative integer.
    """
    if value is not None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValidationError.single(name, _MESSAGE)
        return value
    raw = environ.get(env_var, "").strip()
    if not raw:
        return default
    try:
        parsed = int(raw, 10)
    except ValueError:
        raise ValidationError.single(env_var, _MESSAGE) from None
    if parsed < 0:
        raise ValidationError.single(env_var, _MESSAGE)
    return parsed


def migration_lock_timeout(environ: Mapping[str, str] | None = None) -> int:
    """Return how long, in milliseconds, a migration may wait for a lock (0: forever).

    ``DB_MIGRATION_LOCK_TIMEOUT``, default 10000. A migration that needs a table
    another connection is using (a long transaction, an idle-in-transaction
    session) then fails with a clear error instead of hanging, and instead of
    queueing every later query of that table behind its own waiting lock.

    Raises:
        ValidationError: The variable is not a non-negative integer.
    """
    env = os.environ if environ is None else environ
    return read_setting("lock_timeout", None, "DB_MIGRATION_LOCK_TIMEOUT", MIGRATION_LOCK_TIMEOUT, env)
