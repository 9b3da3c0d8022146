"""References to rows passed to chat managers: an instance or its key, checked before any SQL."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from assistant_models.core.cascades import mapped_class
from assistant_models.exceptions import ValidationError

__all__ = [
    "instance_key",
    "key_of",
    "optional_instance_key",
    "optional_key_of",
    "referenced_model",
    "table_of",
]


def referenced_model(model: type[Any], column: str) -> type[Any]:
    """Return the model the foreign key ``column`` of ``model`` refers to.

    Found through the metadata, so a chat module needs no import of the identity models
    (which import the chat package for the users' activity).
    """
    (foreign_key,) = model.__table__.c[column].foreign_keys
    found = mapped_class(foreign_key.column.table)
    if found is None:
        raise LookupError(f"{model.__name__}.{column} refers to a table no model maps")
    return found


def key_of(value: Any, model: type[Any], field: str, owner: str) -> uuid.UUID:
    """Return the key of ``value``: a ``model`` instance, its UUID, or the UUID's text.

    Raises:
        ValidationError: ``value`` is none of these; the error names ``field`` of ``owner``.
    """
    if isinstance(value, model):
        key = value.id
        if isinstance(key, uuid.UUID):
            return key
    elif isinstance(value, uuid.UUID):
        return value
    elif isinstance(value, str):
        try:
            return uuid.UUID(value)
        except ValueError:
            pass
    raise ValidationError.single(field, f"must be a {model.__name__} or its id", owner)


def optional_key_of(value: Any, model: type[Any], field: str, owner: str) -> uuid.UUID | None:
    """Return :func:`key_of` ``value``, or ``None`` when ``value`` is ``None``."""
    return None if value is None else key_of(value, model, field, owner)


def instance_key(obj: Any, model: type[Any], field: str, owner: str) -> uuid.UUID:
    """Return the key of ``obj``, which must be a saved instance of ``model`` (not a bare key).

    Args:
        obj: The instance passed by the caller.
        model: The model it must be an instance of.
        field: The argument's name, which the error names.
        owner: The model the call is about, for the error.

    Raises:
        ValidationError: ``obj`` is not a ``model`` instance, or it was never saved.
    """
    if not isinstance(obj, model):
        raise ValidationError.single(field, f"must be a {model.__name__} instance", owner)
    if sa.inspect(obj).key is None:
        raise ValidationError.single(field, f"the {model.__name__} is not saved yet", owner)
    key: uuid.UUID = obj.id
    return key


def optional_instance_key(obj: Any, model: type[Any], field: str, owner: str) -> uuid.UUID | None:
    """Return :func:`instance_key` of ``obj``, or ``None`` when ``obj`` is ``None``."""
    return None if obj is None else instance_key(obj, model, field, owner)


def table_of(model: type[Any]) -> sa.Table:
    """Return the table of a table model (for statements built with SQLAlchemy Core)."""
    table: sa.Table = model.__table__
    return table
