"""Writes of single instances, with errors translated at the boundary."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sqlalchemy import inspect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, object_session
from sqlalchemy.orm.attributes import set_committed_value

from assistant_models.core.base import NUL_MESSAGE
from assistant_models.core.concerns import SoftDelete, Versioned, concern
from assistant_models.core.context import current_session
from assistant_models.core.types import server_now
from assistant_models.exceptions import AssistantModelsError, ConflictError, ValidationError, translate

if TYPE_CHECKING:
    from assistant_models.core.base import AssistantModel
    from assistant_models.core.mixins import SoftDeleteMixin

T = TypeVar("T")

__all__ = [
    "adopt",
    "attach",
    "delete_instance",
    "delete_row",
    "restore_instance",
    "session_for",
    "translating",
]


@contextmanager
def translating() -> Iterator[None]:
    """Translate SQLAlchemy and driver errors raised inside the block into the package's tree."""
    try:
        yield
    except SQLAlchemyError as exc:
        raise translate(exc) from exc
    except ValueError as exc:
        if isinstance(exc, AssistantModelsError) or "NUL" not in str(exc):
            raise
        # psycopg2 refuses NUL characters while binding, outside SQLAlchemy's wrapping
        raise ValidationError.single("value", NUL_MESSAGE) from exc


def session_for(obj: AssistantModel) -> Session:
    """Return the session that holds ``obj``, or the current unit of work."""
    return object_session(obj) or current_session()


def attach(session: Session, obj: T) -> T:
    """Put ``obj`` in ``session`` for a flush and return the instance the session writes.

    An instance loaded by an earlier unit of work (detached) joins this one as it is,
    unless this one already holds the same row: then ``obj``'s changes since it was
    loaded are carried onto the session's instance, which is returned, so both never
    meet in one identity map. A versioned row loaded at another version than the
    session's raises ``ConflictError``, as a stale write would.
    """
    state = inspect(obj)
    current = session.identity_map.get(state.key) if state.key is not None else None
    if current is None or current is obj:
        session.add(obj)
        return obj
    versioned = concern(type(obj), Versioned)
    if versioned is not None and getattr(obj, versioned.column) != getattr(current, versioned.column):
        raise ConflictError(
            f"this {type(obj).__name__} was loaded at another version than the unit of work holds "
            "(stale version): load it again and repeat the change",
            versioned.column,
        )
    for attribute in state.mapper.column_attrs:
        added = state.attrs[attribute.key].history.added
        if added:
            setattr(current, attribute.key, added[0])
    return cast(T, current)


def adopt(obj: Any, written: Any) -> None:
    """After a flush of ``written`` on ``obj``'s behalf (see :func:`attach`), give ``obj`` its values.

    ``obj`` then stands for the row as written (its version included), so it can be
    changed and saved again.
    """
    if written is obj:
        return
    for attribute in inspect(obj).mapper.column_attrs:
        set_committed_value(obj, attribute.key, getattr(written, attribute.key))


def delete_instance(obj: SoftDeleteMixin, hard: bool = False) -> tuple[int, dict[str, int]]:
    """Soft-delete ``obj`` (or delete its row with ``hard=True``) and flush.

    Returns:
        ``(total, {model name: count})`` as in Django; nothing for a row already soft-deleted.
    """
    if inspect(obj).key is None:
        raise ValidationError.single("id", "only a saved row can be deleted", type(obj).__name__)
    session = session_for(obj)  # type: ignore[arg-type]
    with translating():
        if obj not in session:
            session.add(obj)
        if hard:
            return _hard_delete_instance(session, obj)
        column = concern(type(obj), SoftDelete).column
        if getattr(obj, column) is not None:
            return 0, {}
        # the server's clock, the one every query compares deletion times with
        setattr(obj, column, server_now(session))
        session.flush()
    return 1, {type(obj).__name__: 1}


def restore_instance(obj: SoftDeleteMixin) -> None:
    """Clear the soft-delete mark in a savepoint, so a unique collision leaves the transaction usable.

    Raises:
        ConflictError: A live row already holds one of ``obj``'s unique values.
        ValidationError: ``obj`` was never saved.
    """
    session = session_for(obj)  # type: ignore[arg-type]
    if obj not in session:
        raise ValidationError.single("id", "only a saved row can be restored", type(obj).__name__)
    column = concern(type(obj), SoftDelete).column
    if getattr(obj, column) is None:
        return
    try:
        with translating(), session.begin_nested():
            setattr(obj, column, None)
    except ConflictError as exc:
        # the savepoint's rollback expired the change: the row reloads as still deleted
        raise ConflictError(f"cannot restore {type(obj).__name__}: {exc}", exc.field) from exc


def delete_row(session: Session, obj: AssistantModel) -> tuple[int, dict[str, int]]:
    """Remove ``obj``'s row (and its cascades) in ``session``; return Django's counts.

    Raises:
        ValidationError: ``obj`` was never saved.
        ConflictError: ``obj`` carries a version and the row has moved on (stale).
    """
    if inspect(obj).key is None:
        raise ValidationError.single("pk", "only a saved row can be deleted", type(obj).__name__)
    with translating():
        if obj not in session:
            session.add(obj)
        return _hard_delete_instance(session, obj)


def _hard_delete_instance(session: Session, obj: Any) -> tuple[int, dict[str, int]]:
    """Remove ``obj``'s row through the set-based path, which audits it and its cascades.

    Returns:
        ``(total, {model name: count})``, cascaded rows included; nothing for a pending object.

    Raises:
        ConflictError: ``obj`` carries a version and the row has moved on (stale).
    """
    from assistant_models.core.concerns import ALL
    from assistant_models.core.paths import primary_key
    from assistant_models.core.queryset import QuerySet

    state = inspect(obj)
    if state.pending:
        session.expunge(obj)
        return 0, {}
    model: Any = type(obj)
    lookups = dict(zip(primary_key(model), state.identity, strict=True))  # composite keys too
    if getattr(model.__mapper__, "version_id_col", None) is not None:
        lookups["version"] = obj.version
    counts = QuerySet(model, visibility=ALL).using(session).filter(**lookups).delete(hard=True)
    if counts[0] == 0:
        raise ConflictError(
            f"{model.__name__}: the row was changed or deleted by another transaction", "version"
        )
    return counts
