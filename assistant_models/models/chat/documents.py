"""JSON documents checked before they are written: what PostgreSQL's JSONB and JSON itself refuse."""

from __future__ import annotations

import json
from typing import Any

from pydantic_core import PydanticSerializationError, to_jsonable_python

from assistant_models.core.base import refuse_nul
from assistant_models.exceptions import ValidationError

__all__ = ["json_text"]


def json_text(value: Any, field: str, owner: str, limit: int | None = None) -> str:
    """Return ``value`` as the JSON text a JSONB column stores, or raise naming ``field``.

    The checks of every JSONB write (no NUL or lone surrogate, at most 64 levels
    deep), then the ones the column's serializer would only fail at in the
    driver, after the unit of work has been spoilt: the value must convert to JSON
    (as pydantic's JSON mode converts datetimes, UUIDs, bytes ...), hold no ``NaN``
    or infinity, and, with ``limit``, take at most that many characters.

    Raises:
        ValidationError: Naming ``field``.
    """
    refuse_nul({field: value}, owner)  # before anything walks a hostile document
    try:
        plain = to_jsonable_python(value)
    except (PydanticSerializationError, RecursionError):
        raise ValidationError.single(field, "must be serializable to JSON", owner) from None
    refuse_nul({field: plain}, owner)  # bytes and other objects became text here
    try:
        text = json.dumps(plain, separators=(",", ":"), allow_nan=False)
    except ValueError:
        raise ValidationError.single(field, "cannot hold NaN or infinity (not JSON)", owner) from None
    if limit is not None and len(text) > limit:
        raise ValidationError.single(field, f"is longer than {limit} characters as JSON", owner)
    return text
