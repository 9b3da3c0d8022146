"""References to rows passed to chat managers: an instance or its key."""

from __future__ import annotations

import uuid
from typing import Any

from assistant_models.exceptions import ValidationError

__all__ = ["key_of", "optional_key_of"]


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
