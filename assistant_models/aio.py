"""Async units of work on asyncpg: the engine and ``db.asession()``.

Needs the ``async`` extra (``pip install 'assistant_models[async]'``: asyncpg and
greenlet). The async engine is made from the same URL as the sync one with the
driver swapped to ``postgresql+asyncpg``, the same pool settings, and the same
statement timeout and ``application_name`` (sent as asyncpg ``server_settings``).

Inside ``async with db.asession():`` the ``AsyncSession``'s synchronous face is the
current session of the context, so managers find it; their ``a``-prefixed twins
(:mod:`assistant_models.core.aio`) run the sync code in SQLAlchemy's greenlet
bridge. An ``asyncpg`` connection belongs to the event loop that opened it: give
each loop its own :class:`~assistant_models.Database`, or ``await db.adispose()``
before the loop ends.

Sync code with no twin (an instance's ``obj.delete()``, a helper of your own) runs
in the same bridge with ``await run_bridged(obj.delete)``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar, Token
from typing import Any, NamedTuple, NoReturn

from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    AsyncSessionTransaction,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session

from assistant_models._settings import EngineSettings
from assistant_models.core.aio import AsyncBridgeSession, install_async_guard, run_bridged
from assistant_models.core.context import (
    bind_session,
    get_current_session,
    hosts_every_database,
    unbind_session,
)
from assistant_models.core.types import json_dumps
from assistant_models.exceptions import DatabaseUnavailableError, ValidationError, translate

__all__ = [
    "ASYNC_DRIVER",
    "AsyncBinding",
    "async_connect_args",
    "async_sessionmaker_for",
    "async_url",
    "bind_async_session",
    "create_async_engine_for",
    "get_current_async_session",
    "run_bridged",
    "unbind_async_session",
    "unit_of_work",
]

_log = logging.getLogger("assistant_models.database")

ASYNC_DRIVER = "postgresql+asyncpg"

_current: ContextVar[AsyncSession | None] = ContextVar("assistant_models_async_session", default=None)


# -- engine --------------------------------------------------------------------------------


def _server_settings(options: str) -> dict[str, str]:
    """Turn libpq ``options`` (``-c key=value`` ...) into asyncpg ``server_settings``."""
    settings: dict[str, str] = {}
    tokens = iter(options.split())
    for token in tokens:
        if token == "-c":
            token = next(tokens, "")
        elif token.startswith(("-c", "--")):
            token = token[2:]
        key, sep, value = token.partition("=")
        if sep and key:
            settings[key.replace("-", "_")] = value
    return settings


def async_connect_args(connect_args: dict[str, Any]) -> dict[str, Any]:
    """Return asyncpg's connection arguments for the sync engine's psycopg2 ``connect_args``.

    ``connect_timeout`` becomes ``timeout``; ``application_name`` and every
    ``-c key=value`` of ``options`` (the statement timeout among them) become
    ``server_settings``; other arguments pass through.

    Raises:
        ValidationError: An ``sslpassword`` was given: asyncpg takes none (field ``url``).
    """
    args = dict(connect_args)
    if args.pop("sslpassword", None) is not None:
        raise ValidationError.single(
            "url", "sslpassword is not supported by the async driver (asyncpg); use an unencrypted key"
        )
    settings = _server_settings(str(args.pop("options", "") or ""))
    application_name = args.pop("application_name", None)
    if application_name:
        settings["application_name"] = str(application_name)
    if "connect_timeout" in args:
        args["timeout"] = args.pop("connect_timeout")
    args["server_settings"] = settings
    return args


#: libpq query keys that the connection arguments already carry, in asyncpg's terms.
_CARRIED_KEYS = ("options", "application_name", "connect_timeout")


def async_url(url: URL) -> URL:
    """Return ``url`` for asyncpg: its driver, ``sslmode`` as ``ssl``, libpq-only keys removed.

    ``options``, ``application_name`` and ``connect_timeout`` travel in the connection
    arguments (:func:`async_connect_args`), which take precedence, as they do for psycopg2.
    """
    query = {k: v for k, v in url.query.items() if k not in _CARRIED_KEYS}
    sslmode = query.pop("sslmode", None)
    if sslmode is not None:
        query["ssl"] = sslmode
    return url.set(drivername=ASYNC_DRIVER, query=query)


def create_async_engine_for(
    url: URL, settings: EngineSettings, connect_args: dict[str, Any], *, echo: bool = False
) -> AsyncEngine:
    """Return the pooled asyncpg engine twin of a sync engine made from ``url`` and ``settings``.

    Raises:
        DatabaseUnavailableError: The ``async`` extra (asyncpg) is not installed.
    """
    try:
        return create_async_engine(
            async_url(url),
            echo=echo,
            pool_pre_ping=True,
            hide_parameters=True,
            json_serializer=json_dumps,
            pool_size=settings.pool_size,
            max_overflow=settings.max_overflow,
            pool_timeout=settings.pool_timeout,
            connect_args=async_connect_args(connect_args),
        )
    except ImportError as exc:
        raise DatabaseUnavailableError(
            "async units of work need the async extra: pip install 'assistant_models[async]'"
        ) from exc


def async_sessionmaker_for(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Return the factory of async units of work on ``engine`` (settings as the sync one's)."""
    install_async_guard()
    return async_sessionmaker(
        engine, expire_on_commit=False, autoflush=True, sync_session_class=AsyncBridgeSession
    )


# -- the current async session -------------------------------------------------------------


class AsyncBinding(NamedTuple):
    """The tokens that undo :func:`bind_async_session`."""

    session: Token[Session | None]
    async_session: Token[AsyncSession | None]


def get_current_async_session() -> AsyncSession | None:
    """Return the async session bound to this context, or ``None``."""
    return _current.get()


def bind_async_session(session: AsyncSession) -> AsyncBinding:
    """Make ``session`` (and its sync face, for the managers) current; return what undoes it."""
    return AsyncBinding(bind_session(session.sync_session), _current.set(session))


def unbind_async_session(binding: AsyncBinding) -> None:
    """Restore the sessions that were current before :func:`bind_async_session`."""
    _current.reset(binding.async_session)
    unbind_session(binding.session)


# -- units of work -------------------------------------------------------------------------


def _owned(session: AsyncSession | None, engine: AsyncEngine) -> AsyncSession | None:
    """Return ``session`` if it is this context's current unit of work on ``engine``."""
    if session is None or get_current_session() is not session.sync_session:
        return None
    if hosts_every_database(session.sync_session):  # the pytest plugin's async test session
        return session
    bind = session.sync_session.bind
    return session if bind is not None and bind.engine is engine.sync_engine else None


@asynccontextmanager
async def unit_of_work(
    engine: AsyncEngine, maker: async_sessionmaker[AsyncSession]
) -> AsyncIterator[AsyncSession]:
    """Open an async unit of work (or a savepoint of the current one) and make it current.

    Commit when the block ends normally, roll back when it raises (re-raised,
    SQLAlchemy errors translated). Nested in a unit of work of the same engine, the
    block runs in a savepoint, as :meth:`Database.session` does.
    """
    current = _owned(get_current_async_session(), engine)
    if current is not None:
        async with _savepoint(current):
            yield current
        return
    session = maker()
    binding = bind_async_session(session)
    try:
        yield session
        await session.commit()
    except BaseException as exc:
        await _quiet_rollback(session)
        _reraise(exc)
    finally:
        unbind_async_session(binding)
        await session.close()


@asynccontextmanager
async def _savepoint(session: AsyncSession) -> AsyncIterator[None]:
    try:
        nested = await session.begin_nested()
    except SQLAlchemyError as exc:
        raise translate(exc) from exc
    try:
        yield
        if nested.is_active:
            await nested.commit()
    except BaseException as exc:
        await _quiet_rollback(nested)
        _reraise(exc)


async def _quiet_rollback(transaction: AsyncSession | AsyncSessionTransaction) -> None:
    """Roll back, logging rather than raising so the original error survives."""
    try:
        await transaction.rollback()
    except Exception:
        _log.warning("rollback failed after an error in an async unit of work", exc_info=True)


def _reraise(exc: BaseException) -> NoReturn:
    if isinstance(exc, SQLAlchemyError):
        raise translate(exc) from exc
    raise exc
