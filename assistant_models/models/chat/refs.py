"""References to rows passed to chat managers: an instance or its key."""

from __future__ import annotations

import uuid
from typing import Any

from assistant_models.core.cascades import mapped_class
from assistant_models.exceptions import ValidationError

__all__ = ["key_of", "optional_key_of", "referenced_model"]


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
