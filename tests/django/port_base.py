"""Shared ground of the Django ports: one MetaData apart from the package's, helpers for the data.

The port tables live in ``port_metadata``, never in the package's metadata, so the
suite's ``alembic check`` does not see them. Each ported Django app gets a base class
with a registry of its own (:func:`app_base`): class names such as ``Author`` repeat
across Django's apps, and string references in relationships resolve per registry.
"""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import MetaData
from sqlalchemy.orm import registry

from assistant_models import AssistantModel, ConflictError, ValidationError
from assistant_models.core.base import NAMING_CONVENTION

#: Every port table; created inside each test's rolled-back transaction.
port_metadata = MetaData(naming_convention=NAMING_CONVENTION)

#: What Django's ``IntegrityError`` becomes here: a duplicate is a conflict, a missing
#: value or a dangling reference is invalid data.
IntegrityError = (ConflictError, ValidationError)

#: What Django's ``TypeError``/``ValueError`` for a misused QuerySet becomes here: either a
#: ``TypeError`` or one of the package's ``ValueError`` subclasses (``ValidationError``, ``FieldError``).
Refused = (TypeError, ValueError)


def app_base(name: str) -> Any:
    """Return a non-table base model with a registry of its own over ``port_metadata``."""
    return type(name, (AssistantModel,), {"__module__": __name__}, registry=registry(metadata=port_metadata))


def utc(*args: int) -> datetime:
    """Return a UTC datetime: Django's tests use naive ones, the ports' columns are ``timestamptz``."""
    return datetime(*args, tzinfo=UTC)


def names(rows: Any, attr: str = "name") -> list[Any]:
    """Return one attribute of each row, in order (Django's ``transform=attrgetter(...)``)."""
    return [getattr(row, attr) for row in rows]
