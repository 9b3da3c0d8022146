"""One error tree for the whole package.

Every error a caller can see derives from :class:`AssistantModelsError`. Database
driver and SQLAlchemy errors are translated at the boundary by :func:`translate`;
the original exception is kept in ``__cause__`` and its text (which may hold bound
parameters) is never copied into ours.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from typing import Any, NamedTuple

__all__ = [
    "AssistantModelsError",
    "AsyncUsageError",
    "ConflictError",
    "DatabaseError",
    "DatabaseUnavailableError",
    "FieldError",
    "InvalidTransition",
    "MultipleObjectsReturned",
    "NotFoundError",
    "PoolTimeoutError",
    "QueryTimeoutError",
    "RelationNotLoadedError",
    "RetryableError",
    "SchemaError",
    "SerializationError",
    "SessionRequiredError",
    "ValidationError",
    "translate",
]


class AssistantModelsError(Exception):
    """Base of every error raised by assistant_models."""


class ValidationError(AssistantModelsError, ValueError):
    """Invalid data, raised before any SQL is sent.

    Attributes:
        errors: One ``{"field": ..., "message": ...}`` dict per problem.
        model: Name of the model (or operation) that was validated.
    """

    def __init__(self, errors: Iterable[Mapping[str, str]], model: str = "") -> None:
        self.errors = [dict(e) for e in errors]
        self.model = model
        where = f"{model}: " if model else ""
        parts = "; ".join(f"{e['field']}: {e['message']}" for e in self.errors)
        super().__init__(f"{where}{parts}")

    @classmethod
    def single(cls, field: str, message: str, model: str = "") -> ValidationError:
        """Return an error about one field."""
        return cls([{"field": field, "message": message}], model)

    @property
    def fields(self) -> list[str]:
        """Return the names of the fields at fault, in order."""
        return [e["field"] for e in self.errors]


class FieldError(AssistantModelsError, ValueError):
    """Unknown, malformed or forbidden field or lookup names in a query."""

    def __init__(self, problems: Iterable[str], model: str = "") -> None:
        self.problems = list(problems)
        self.model = model
        super().__init__(f"{model}: " + "; ".join(self.problems) if model else "; ".join(self.problems))


class NotFoundError(AssistantModelsError, LookupError):
    """No row matched."""


class MultipleObjectsReturned(AssistantModelsError, LookupError):
    """More than one row matched where one was expected."""


class ConflictError(AssistantModelsError):
    """A write conflicts with the database's state.

    Unique violations, stale optimistic-lock versions and restores that would
    collide with a live row. ``field`` names the column(s) at fault when known;
    the offending value is never part of the message.
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        self.field = field
        super().__init__(message)


class InvalidTransition(AssistantModelsError):
    """A lifecycle move that the current state does not allow."""

    def __init__(self, model: str, current: str, target: str) -> None:
        self.current = current
        self.target = target
        super().__init__(f"{model} cannot move from {current!r} to {target!r}")

    @classmethod
    def check(cls, model: str, allowed: Mapping[Any, Collection[Any]], current: Any, target: Any) -> None:
        """Raise unless ``allowed[current]`` holds ``target`` (states are enum members).

        Raises:
            InvalidTransition: ``target`` cannot follow ``current``.
        """
        if target not in allowed[current]:
            raise cls(model, current.value, target.value)


class SessionRequiredError(AssistantModelsError, RuntimeError):
    """A manager was used with no unit of work open."""


class AsyncUsageError(AssistantModelsError, RuntimeError):
    """A unit of work used the wrong way round: sync I/O under ``db.asession()``, or the reverse.

    Raised instead of SQLAlchemy's ``MissingGreenlet`` (a synchronous call that needs
    I/O in an async unit of work) and by an ``a``-prefixed method called while a
    synchronous session is current.
    """


class RelationNotLoadedError(AsyncUsageError):
    """A relationship read under ``db.asession()`` was not loaded by the query.

    Loading it lazily would need I/O outside an awaited call; load it with
    ``select_related`` or ``prefetch_related``.
    """


class DatabaseError(AssistantModelsError):
    """A database failure that is not the caller's data."""


class SchemaError(DatabaseError):
    """The database's schema is behind the models: a table or column they use is missing.

    Attributes:
        name: The missing table (or ``table.column``), as the server named it.
    """

    def __init__(self, message: str, name: str | None = None) -> None:
        super().__init__(message)
        self.name = name


class RetryableError(DatabaseError):
    """A transient failure: the same call may succeed if tried again."""


class DatabaseUnavailableError(RetryableError):
    """The server could not be reached or dropped the connection."""


class QueryTimeoutError(RetryableError):
    """A statement ran past the statement timeout or was cancelled."""


class PoolTimeoutError(RetryableError):
    """No pooled connection became free in time."""


class SerializationError(RetryableError, ConflictError):
    """A concurrent transaction won: serialization failure or deadlock."""

    def __init__(self, message: str) -> None:
        ConflictError.__init__(self, message)


class _Diagnostics(NamedTuple):
    """What the server said about a failed statement, from whichever driver raised it."""

    sqlstate: str | None
    constraint: str | None
    column: str | None
    table: str | None


def _driver_errors(exc: BaseException) -> list[Any]:
    """Return the driver-level errors behind ``exc``, nearest first.

    psycopg2: ``exc.orig`` carries ``pgcode`` and ``diag``. asyncpg through
    SQLAlchemy: ``exc.orig`` is an adapted error (``pgcode``/``sqlstate`` only)
    whose ``orig`` (also its ``__cause__``) is asyncpg's error, with ``sqlstate``,
    ``constraint_name``, ``column_name`` and ``table_name``. A raw driver error
    (a direct driver call such as COPY) is its own source.
    """
    found: list[Any] = []
    orig = getattr(exc, "orig", None)
    for candidate in (orig, getattr(orig, "orig", None), getattr(orig, "__cause__", None), exc):
        if candidate is not None and all(candidate is not seen for seen in found):
            found.append(candidate)
    return found


def _diagnostics(exc: BaseException) -> _Diagnostics:
    """Return the SQLSTATE and the constraint, column and table names behind ``exc``."""
    values: dict[str, str | None] = dict.fromkeys(_Diagnostics._fields)
    for error in _driver_errors(exc):
        detail = getattr(error, "diag", error)  # psycopg2 keeps the names on .diag
        found = {
            "sqlstate": getattr(error, "pgcode", None) or getattr(error, "sqlstate", None),
            "constraint": getattr(detail, "constraint_name", None),
            "column": getattr(detail, "column_name", None),
            "table": getattr(detail, "table_name", None),
        }
        for key, value in found.items():
            if values[key] is None and isinstance(value, str) and value:
                values[key] = value
    return _Diagnostics(**values)


_CONSTRAINT_FIELD = re.compile(r"^(?:uq|ix|ck|fk)_[a-z0-9_]+?__(?P<cols>[a-z0-9_]+)$")


def _constraint_fields(constraint: str | None, columns: Mapping[str, str]) -> str | None:
    """Map a constraint name to the field(s) it guards."""
    if not constraint:
        return None
    if constraint in columns:
        return columns[constraint]
    match = _CONSTRAINT_FIELD.match(constraint)
    return match.group("cols").replace("__", ", ") if match else constraint


#: Constraint and unique-index names mapped to the fields they guard; filled from the
#: models' metadata by ``assistant_models.core.events.install()``.
CONSTRAINT_FIELDS: dict[str, str] = {}


_MISSING = re.compile(
    r'(?:relation|column) "?(?P<name>[^"\s]+)"?(?: of relation "(?P<table>[^"]+)")? does not exist'
)


def _schema_error(code: str, message: str) -> SchemaError:
    """Return the error for a missing table (42P01) or column (42703), naming it."""
    match = _MISSING.search(message)
    name = None
    if match is not None:
        name = match["name"] if match["table"] is None else f"{match['table']}.{match['name']}"
    what = "table" if code == "42P01" else "column"
    shown = f"{what} {name!r}" if name else f"a {what} the models use"
    return SchemaError(
        f"{shown} does not exist in this database: its schema is behind the models; run "
        "Database().migrate() (tables that need pgvector exist only where the server has it)",
        name,
    )


def translate(exc: BaseException, constraint_fields: Mapping[str, str] | None = None) -> AssistantModelsError:
    """Return the package error that stands for a driver or SQLAlchemy error.

    Args:
        exc: The error raised by SQLAlchemy, psycopg2 or asyncpg.
        constraint_fields: Known constraint names mapped to the fields they guard.

    Returns:
        An :class:`AssistantModelsError`; the caller raises it ``from exc``.
    """
    if isinstance(exc, AssistantModelsError):
        return exc
    from sqlalchemy import exc as sa_exc
    from sqlalchemy.orm import exc as orm_exc

    if isinstance(exc, orm_exc.StaleDataError):
        return ConflictError(
            "the row was changed or deleted by another transaction (stale version)", "version"
        )
    if isinstance(exc, sa_exc.PendingRollbackError):
        return DatabaseError(
            "the unit of work was rolled back by an earlier error; open a new db.session() to go on"
        )
    if isinstance(exc, sa_exc.TimeoutError):
        return PoolTimeoutError("no database connection became free before the pool timeout")
    if isinstance(exc, sa_exc.MissingGreenlet):
        return AsyncUsageError(
            "a synchronous call needed I/O in an async unit of work: await the a-prefixed twin of "
            "the manager method (acount() for count()), run other sync code with "
            "`await assistant_models.aio.run_bridged(fn)`, and load relations with "
            "select_related/prefetch_related"
        )
    code, constraint, column, found_table = _diagnostics(exc)
    table = found_table or "row"
    fields = CONSTRAINT_FIELDS if constraint_fields is None else constraint_fields
    if code == "23505":
        field = _constraint_fields(constraint, fields)
        return ConflictError(f"{table}: a row with this {field} already exists", field)
    if code == "23001" or (code == "23503" and "update or delete on" in str(getattr(exc, "orig", exc))):
        # deleting (or re-keying) a row that others still refer to: RESTRICT / NO ACTION
        return ConflictError(f"{table}: the row is still referred to by other rows", constraint)
    if code == "23503":
        field = _constraint_fields(constraint, fields)
        return ValidationError.single(field or "reference", "refers to a row that does not exist", table)
    if code == "23502":
        return ValidationError.single(column or "field", "may not be null", table)
    if code == "23514":
        field = _constraint_fields(constraint, fields)
        return ValidationError.single(field or "row", "violates a check constraint", table)
    if code in ("22001", "22003", "22007", "22008", "22P02", "22023", "22P05", "22021"):
        return ValidationError.single(column or "value", "is not valid for its column", table)
    if code in ("42P01", "42703"):
        return _schema_error(code, str(getattr(exc, "orig", exc)))
    if code in ("40001", "40P01"):
        return SerializationError(
            "the transaction lost to a concurrent one (serialization failure or deadlock)"
        )
    if code == "57014":
        return QueryTimeoutError("the statement was cancelled: it ran past the statement timeout")
    if code == "55P03":
        return ConflictError("the row is locked by another transaction (NOWAIT)")
    if isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError)) or getattr(
        exc, "connection_invalidated", False
    ):
        return DatabaseUnavailableError("the database could not be reached or closed the connection")
    if isinstance(exc, sa_exc.DBAPIError):
        return DatabaseError(f"the database rejected the statement (SQLSTATE {code or 'unknown'})")
    return DatabaseError(f"database operation failed: {type(exc).__name__}")
