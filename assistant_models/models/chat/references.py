"""Checks of the rows a conversation call refers to, before any SQL is sent."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from assistant_models.exceptions import ValidationError

__all__ = ["key_of", "optional_key_of", "table_of"]


def key_of(obj: Any, model: type[Any], field: str, owner: str) -> uuid.UUID:
    """Return the key of ``obj``, a saved instance of ``model``.

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


def optional_key_of(obj: Any, model: type[Any], field: str, owner: str) -> uuid.UUID | None:
    """Return the key of ``obj`` as :func:`key_of` does, or ``None`` when ``obj`` is ``None``."""
    return None if obj is None else key_of(obj, model, field, owner)


def table_of(model: type[Any]) -> sa.Table:
    """Return the table of a table model (for statements built with SQLAlchemy Core)."""
    table: sa.Table = model.__table__
    return table
