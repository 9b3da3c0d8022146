"""The database handle: engine, units of work, health and migrations.

Example:
    >>> from assistant_models import Database  # doctest: +SKIP
    >>> db = Database()  # doctest: +SKIP
    >>> db.migrate()  # doctest: +SKIP
    >>> with db.session():  # doctest: +SKIP
    ...     ...  # managers use this session implicitly
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, NoReturn, TypedDict, TypeVar

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker
from sqlalchemy.pool import NullPool, QueuePool

from assistant_models import _embedded, _forks, _logs, _migrations, _pings, _timestamps, _transactions, _urls
from assistant_models._settings import EngineSettings, migration_lock_timeout
from assistant_models.core.context import (
    bind_session,
    get_current_session,
    hosts_every_database,
    unbind_session,
)
from assistant_models.core.types import json_dumps, json_loads
from assistant_models.exceptions import DatabaseError, RetryableError, ValidationError, translate

if TYPE_CHECKING:  # the async extra is optional: its types only
    from contextlib import AbstractAsyncContextManager

    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

__all__ = ["Database", "HealthReport", "PoolStats"]

T = TypeVar("T")

_log = logging.getLogger("assistant_models.database")

#: Upper bound, in seconds, on how long :meth:`Database.health` waits for a connection.
HEALTH_CONNECT_TIMEOUT = 3
#: Upper bound, in milliseconds, on how long the health probe's statements may run.
HEALTH_STATEMENT_TIMEOUT = 5000


class PoolStats(TypedDict):
    """Connection-pool figures reported by :meth:`Database.health`."""

    size: int
    checked_in: int
    checked_out: int
    overflow: int


class HealthReport(TypedDict):
    """What :meth:`Database.health` returns."""

    ok: bool
    server_version: str | None
    latency_ms: float | None
    pool: PoolStats
    url: str
    error: str | None


class Database:
    """One PostgreSQL database: its engine, sessions, health check and migrations.

    The URL is taken from, in order: the ``url`` argument, ``$DATABASE_URL``,
    ``$POSTGRES_URL``. When none is set, an embedded PostgreSQL server is started
    (``pip install 'assistant_models[embedded]'``) with its data in ``data_dir``,
    else ``$ASSISTANT_MODELS_DATA_DIR``, else
    ``~/.local/share/assistant_models/pgdata``; the data is kept between runs.

    Settings left as ``None`` come from the environment: ``DB_POOL_SIZE`` (10),
    ``DB_MAX_OVERFLOW`` (20), ``DB_POOL_TIMEOUT`` (seconds, 30),
    ``DB_CONNECT_TIMEOUT`` (seconds, 10) and ``DB_STATEMENT_TIMEOUT``
    (milliseconds, 30000; 0 disables it). These, and ``application_name``,
    take precedence over the same keys in the URL's query string; an
    ``options`` query value is kept and the statement timeout appended to it.

    Every connection works in UTC (``-c timezone=UTC``, whatever the server's or
    the URL's setting), so timestamps read the same on any server. A timestamp
    past year 9999 (or BC), which Python cannot hold, reads as ``datetime.max``
    (``datetime.min``), as psycopg2 reads ``infinity``; a JSON document nested
    deeper than 64 levels reads as
    :class:`~assistant_models.core.types.UnreadableJSON`. So a row another client
    wrote never makes a read fail.

    Passwords, in the userinfo or in the query string (``password``,
    ``sslpassword``), never appear in ``repr()``, logs, :meth:`health` or error
    texts; :attr:`url_masked` shows them as ``***``. The engine and pool log as
    ``sqlalchemy.engine.Engine.assistant_models`` and
    ``sqlalchemy.pool.impl.QueuePool.assistant_models``, through a filter that
    redacts secret columns of logged rows (hashes, tokens) and DSN passwords.

    The handle is fork-safe: a child process (``os.fork``, gunicorn
    ``--preload``, multiprocessing) opens connections of its own and leaves the
    parent's untouched.

    Args:
        url: A ``postgres://``, ``postgresql://`` or ``postgresql+psycopg2://`` URL.
        pool_size: Connections kept open in the pool.
        max_overflow: Extra connections allowed above ``pool_size``.
        pool_timeout: Seconds to wait for a free pooled connection.
        connect_timeout: Seconds to wait for the server when connecting.
        statement_timeout: Milliseconds a statement may run; 0 for no limit.
        ping_after: Seconds a pooled connection may sit idle before it is checked
            (``SELECT 1``) when handed out again; fresher ones are trusted, saving a round
            trip per unit of work.
        application_name: Reported to the server (``pg_stat_activity``).
        echo: Log every SQL statement (bound parameters are never logged);
            ``"debug"`` logs result rows too, secret columns redacted.
        data_dir: Data directory of the embedded server, when one is used.

    Raises:
        ValidationError: The URL is malformed (field ``url``) or a setting is
            not a non-negative integer (field names the argument or variable).
        DatabaseUnavailableError: No URL is configured and the embedded server
            is not installed or cannot start.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        pool_size: int | None = None,
        max_overflow: int | None = None,
        pool_timeout: int | None = None,
        connect_timeout: int | None = None,
        statement_timeout: int | None = None,
        ping_after: int | None = None,
        application_name: str = "assistant_models",
        echo: bool | Literal["debug"] = False,
        data_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        from assistant_models.core.events import install

        install()
        self._settings = EngineSettings.resolve(
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_timeout=pool_timeout,
            connect_timeout=connect_timeout,
            statement_timeout=statement_timeout,
            ping_after=ping_after,
        )
        raw, source = _urls.resolve(url)
        if raw is None:
            raw = _embedded.start(data_dir)
        self._url, self._secrets = _urls.split_secrets(_urls.normalize(raw))
        self._application_name = application_name
        self._engine = self._create_engine(echo=echo)
        _pings.ping_after_idle(self._engine, self._settings.ping_after)
        self._probe = self._create_probe_engine()
        for engine in (self._engine, self._probe):
            event.listen(engine, "connect", _timestamps.install)
            _logs.guard(engine)
            _forks.forget_in_children(engine)
        self._sessionmaker = sessionmaker(bind=self._engine, expire_on_commit=False, autoflush=True)
        _log.info("database configured from %s: %s", source, self.url_masked)

    # ----------------------------------------------------------------- engine

    def _connect_args(self, connect_timeout: int, statement_timeout: int) -> dict[str, Any]:
        """Return the psycopg2 connection arguments; secrets never go into the URL text.

        Our ``-c`` settings come after the URL's own ``options``, so they win.
        """
        options = f"-c statement_timeout={statement_timeout} -c timezone=UTC"
        url_options = self._url.query.get("options")
        if isinstance(url_options, str) and url_options.strip():
            options = f"{url_options} {options}"
        return {
            "application_name": self._application_name,
            "connect_timeout": connect_timeout,
            "options": options,
            **self._secrets,
        }

    def _create_engine(self, *, echo: bool | Literal["debug"]) -> Engine:
        """Return the pooled engine behind every session."""
        settings = self._settings
        return create_engine(
            self._url,
            echo=echo,
            hide_parameters=True,
            logging_name=_logs.LOGGING_NAME,
            pool_logging_name=_logs.LOGGING_NAME,
            json_serializer=json_dumps,  # JSON columns take what pydantic's JSON mode takes
            json_deserializer=json_loads,  # a too deeply nested document never fails its row
            pool_size=settings.pool_size,
            max_overflow=settings.max_overflow,
            pool_timeout=settings.pool_timeout,
            connect_args=self._connect_args(settings.connect_timeout, settings.statement_timeout),
        )

    def _create_probe_engine(self) -> Engine:
        """Return an unpooled engine with short timeouts, used by :meth:`health` only."""
        settings = self._settings
        connect_timeout = min(settings.connect_timeout or HEALTH_CONNECT_TIMEOUT, HEALTH_CONNECT_TIMEOUT)
        statement_timeout = min(
            settings.statement_timeout or HEALTH_STATEMENT_TIMEOUT, HEALTH_STATEMENT_TIMEOUT
        )
        return create_engine(
            self._url,
            poolclass=NullPool,
            hide_parameters=True,
            logging_name=_logs.LOGGING_NAME,
            pool_logging_name=_logs.LOGGING_NAME,
            json_deserializer=json_loads,
            connect_args=self._connect_args(connect_timeout, statement_timeout),
        )

    @property
    def engine(self) -> Engine:
        """The pooled SQLAlchemy engine."""
        return self._engine

    @property
    def sessionmaker(self) -> sessionmaker[Session]:
        """The factory behind :meth:`session` (``expire_on_commit=False``, ``autoflush=True``)."""
        return self._sessionmaker

    @property
    def url_masked(self) -> str:
        """The connection URL with every password replaced by ``***``."""
        return _urls.mask(self._url)

    def dispose(self) -> None:
        """Close every pooled connection; the handle stays usable and reconnects on demand."""
        self._engine.dispose()
        self._probe.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.dispose()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(url={self.url_masked!r})"

    # --------------------------------------------------------- units of work

    @contextmanager
    def session(self, *, isolation: str | None = None) -> Iterator[Session]:
        """Open a unit of work and make it the current session of this context.

        The block's work is committed when it ends normally and rolled back when
        it raises; the exception is re-raised (SQLAlchemy errors translated to
        :mod:`assistant_models.exceptions`, ours unchanged). When a session of
        this database (bound to its engine or to one of its connections) is
        already current, the block runs in a savepoint of that session instead:
        an exception rolls back the savepoint only, and the outer unit of work
        can carry on.

        The current session is context-local, so threads and asyncio tasks each
        see their own.

        Args:
            isolation: ``"read committed"`` (PostgreSQL's default),
                ``"repeatable read"`` or ``"serializable"`` for this unit of work.
                Only a new unit of work can choose its level: a savepoint runs at
                its transaction's. Under ``"serializable"``, pair it with
                :meth:`run_in_transaction`, which retries the serialization
                failures that level is made to raise.

        Yields:
            The :class:`~sqlalchemy.orm.Session` in use.

        Raises:
            ValidationError: On field ``isolation``: an unknown level, or a level
                asked of a unit of work nested in an open one.
        """
        level = _transactions.isolation_level(isolation)
        current = get_current_session()
        if current is not None and self.joins(current):
            if level is not None:
                raise ValidationError.single(
                    "isolation", "cannot be chosen inside an open unit of work (a savepoint)"
                )
            with self._savepoint(current):
                yield current
            return
        with self._unit_of_work(level) as session:
            yield session

    def run_in_transaction(self, fn: Callable[[], T], *, retries: int = 3, isolation: str | None = None) -> T:
        """Call ``fn`` in a unit of work of its own; run it again if a concurrent one wins.

        A serialization failure (SQLSTATE 40001) or a deadlock (40P01) rolls the
        unit of work back, waits a random ("full jitter") back-off of up to
        0.05 s, 0.1 s, 0.2 s ... (at most 2 s) and calls ``fn`` again, up to
        ``retries`` more times. Every other error is raised at once. ``fn``
        uses the managers (or :func:`~assistant_models.core.context.current_session`)
        as in any ``with db.session():`` block, and must be safe to run again:
        keep side effects outside the database (e-mails, queues) out of it.

        Example:
            >>> def transfer() -> None:  # doctest: +SKIP
            ...     ...  # reads and writes through the managers
            >>> db.run_in_transaction(transfer, isolation="serializable")  # doctest: +SKIP

        Inside an open unit of work, ``fn`` runs once in a savepoint: the
        transaction that would have to start again is the caller's.

        Args:
            fn: The work; its return value is returned.
            retries: Further attempts after the first (0 for none).
            isolation: As for :meth:`session`.

        Returns:
            What ``fn`` returned on the attempt that committed.

        Raises:
            ValidationError: A bad ``retries`` or ``isolation``.
            SerializationError: Every attempt lost (the last error; its
                ``__cause__`` is the driver's).
        """
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ValidationError.single("retries", "must be a non-negative integer")
        level = _transactions.isolation_level(isolation)
        current = get_current_session()
        if current is not None and self.joins(current):
            with self.session(isolation=isolation):
                return fn()
        attempt = 0
        while True:
            try:
                with self._unit_of_work(level):
                    return fn()
            except RetryableError as exc:
                if attempt >= retries or not _transactions.lost_to_another(exc):
                    raise
            attempt += 1
            _log.info("transaction lost to a concurrent one; attempt %d of %d", attempt + 1, retries + 1)
            time.sleep(_transactions.backoff(attempt))

    def owns(self, session: Session) -> bool:
        """Tell whether ``session`` is bound to this database's engine (or one of its connections)."""
        bind = session.bind
        return bind is not None and bind.engine is self._engine

    def joins(self, session: Session) -> bool:
        """Tell whether a unit of work opened here while ``session`` is current runs inside it.

        It does for this database's own sessions, and for the test session of the pytest
        plugin, which hosts every database handle: an application's own ``Database()``
        then works in the test's database and rolled-back transaction.
        """
        return self.owns(session) or hosts_every_database(session)

    @contextmanager
    def _unit_of_work(self, isolation: str | None = None) -> Iterator[Session]:
        """Run the block in a new session, bound as current; commit or roll back.

        ``isolation`` is a SQL level (``"SERIALIZABLE"``); the pool resets it
        when the connection comes back.
        """
        session = self._sessionmaker()
        token = bind_session(session)
        try:
            if isolation is not None:
                session.connection(execution_options={"isolation_level": isolation})
            yield session
            session.commit()
        except BaseException as exc:
            _quiet_rollback(session)
            _reraise(exc)
        finally:
            unbind_session(token)
            session.close()

    @contextmanager
    def _savepoint(self, session: Session) -> Iterator[None]:
        """Run the block in a savepoint of ``session``; roll back only the savepoint on error."""
        try:
            nested = session.begin_nested()
        except SQLAlchemyError as exc:
            raise translate(exc) from exc
        try:
            yield
            if nested.is_active:
                nested.commit()
        except BaseException as exc:
            _quiet_rollback(nested)
            _reraise(exc)

    # ------------------------------------------------------------------ health

    def health(self) -> HealthReport:
        """Check the server over a fresh connection with short timeouts; never raises.

        Returns:
            ``ok``; ``server_version`` (e.g. ``"18.6"``) and ``latency_ms`` (the
            time of ``SELECT 1``), both ``None`` on failure; ``pool`` figures;
            the masked ``url``; ``error``, a short message without secrets, or
            ``None``.
        """
        report = HealthReport(
            ok=False,
            server_version=None,
            latency_ms=None,
            pool=self._pool_stats(),
            url=self.url_masked,
            error=None,
        )
        try:
            with self._probe.connect() as connection:
                started = time.perf_counter()
                connection.execute(text("SELECT 1"))
                report["latency_ms"] = round((time.perf_counter() - started) * 1000, 3)
                version = connection.execute(text("SHOW server_version")).scalar()
            report["server_version"] = str(version).split()[0] if version else None
            report["ok"] = True
        except Exception as exc:
            error = translate(exc)
            report["error"] = f"{type(error).__name__}: {error}"
            _log.warning("database health check failed for %s: %s", self.url_masked, report["error"])
        return report

    def _pool_stats(self) -> PoolStats:
        """Return the pool's figures (zeros for pools that keep none).

        ``overflow`` counts connections open beyond ``size``, never below 0.
        """
        pool = self._engine.pool
        if not isinstance(pool, QueuePool):
            return PoolStats(size=0, checked_in=0, checked_out=0, overflow=0)
        return PoolStats(
            size=pool.size(),
            checked_in=pool.checkedin(),
            checked_out=pool.checkedout(),
            overflow=max(pool.overflow(), 0),
        )

    # -------------------------------------------------------------- migrations

    def migrate(self, revision: str = "head") -> None:
        """Upgrade the schema to ``revision`` with Alembic, from code.

        The scripts ship inside the package (``assistant_models.migrations``),
        so this works from an installed wheel as well as from a checkout. To the
        head, the applications' own chains follow in the same transaction
        (:func:`~assistant_models.app_migrations.register_migrations`). The
        upgrade runs in one transaction under an advisory lock, without a
        statement timeout; no URL or password is written anywhere.

        Raises:
            DatabaseError: Alembic failed (unknown revision, missing scripts, ...).
        """
        _log.info("migrating %s to %s", self.url_masked, revision)
        self._run_alembic("upgrade", revision)

    def downgrade(self, revision: str = "base") -> None:
        """Downgrade the schema to ``revision`` (``"base"`` removes every migration, applications' first)."""
        _log.info("downgrading %s to %s", self.url_masked, revision)
        self._run_alembic("downgrade", revision)

    def current_revision(self) -> str | None:
        """Return the revision the database is at, or ``None`` if it was never migrated.

        Several heads (unmerged branches) are returned comma-separated.
        """
        try:
            with self._engine.connect() as connection:
                return _migrations.current_revision(connection)
        except SQLAlchemyError as exc:
            raise translate(exc) from exc

    def _run_alembic(self, command: str, revision: str) -> None:
        """Run an Alembic command on one connection and commit it.

        Raises:
            DatabaseError: Alembic failed, or a migration waited longer than
                ``DB_MIGRATION_LOCK_TIMEOUT`` for a lock another connection holds.
        """
        try:
            with self._engine.begin() as connection:
                _migrations.run(connection, command, revision)
        except SQLAlchemyError as exc:
            if _transactions.sqlstate(exc) == _transactions.LOCK_NOT_AVAILABLE:
                raise DatabaseError(
                    f"migration {command} to {revision!r} gave up after waiting "
                    f"{migration_lock_timeout()} ms for a lock held by another connection "
                    "(DB_MIGRATION_LOCK_TIMEOUT): end the sessions that hold locks on the "
                    "migrated tables (see pg_locks, pg_stat_activity) and run it again"
                ) from exc
            raise translate(exc) from exc

    # ------------------------------------------------------------------- async

    @cached_property
    def async_engine(self) -> AsyncEngine:
        """The asyncpg engine behind :meth:`asession`, made on first use (the ``async`` extra).

        Same URL (driver ``postgresql+asyncpg``), pool settings, statement timeout
        and ``application_name`` as :attr:`engine`.
        """
        from assistant_models.aio import create_async_engine_for

        settings = self._settings
        connect_args = self._connect_args(settings.connect_timeout, settings.statement_timeout)
        return create_async_engine_for(self._url, settings, connect_args, echo=bool(self._engine.echo))

    @cached_property
    def async_sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        """The factory behind :meth:`asession` (``expire_on_commit=False``, ``autoflush=True``)."""
        from assistant_models.aio import async_sessionmaker_for

        return async_sessionmaker_for(self.async_engine)

    def asession(self) -> AbstractAsyncContextManager[AsyncSession]:
        """Open an async unit of work on asyncpg: ``async with db.asession():``.

        Like :meth:`session`: commit on success, rollback on error (translated),
        a savepoint when an async unit of work of this database is already current.
        Its sync face is the context's current session, so managers' ``a``-prefixed
        methods (``await Task.objects.aclaim_next("w")``) use it.
        """
        from assistant_models.aio import unit_of_work

        return unit_of_work(self.async_engine, self.async_sessionmaker)

    async def adispose(self) -> None:
        """Close the async pool's connections; call it on the event loop that used them."""
        if "async_engine" in self.__dict__:
            await self.async_engine.dispose()


def _quiet_rollback(transaction: Session | SessionTransaction) -> None:
    """Roll back, logging rather than raising so the original error survives.

    A savepoint deactivated by a failed flush still needs its rollback: that is
    what returns the session to the enclosing transaction.
    """
    try:
        transaction.rollback()
    except Exception:
        _log.warning("rollback failed after an error in a unit of work", exc_info=True)


def _reraise(exc: BaseException) -> NoReturn:
    """Raise ``exc``, translated to the package's errors if it came from SQLAlchemy."""
    if isinstance(exc, SQLAlchemyError):
        raise translate(exc) from exc
    raise exc
