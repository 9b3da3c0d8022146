"""Stand-in for the ports' ``port_base`` on Django."""

from datetime import UTC, datetime

from django.db import IntegrityError as _IntegrityError

IntegrityError = (_IntegrityError,)
Refused = (TypeError, ValueError)


def utc(*args: int) -> datetime:
    """Return a UTC datetime."""
    return datetime(*args, tzinfo=UTC)


def names(rows: object, attr: str = "name") -> list[object]:
    """Return one attribute of each row."""
    return [getattr(row, attr) for row in rows]  # type: ignore[attr-defined]
