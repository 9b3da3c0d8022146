"""The ``vector`` column type and field: pgvector columns whose values are checked before SQL.

A vector is written from a list, a tuple or a one-dimensional numpy array of finite
numbers with exactly the column's dimensions; anything else is refused with a
:class:`~assistant_models.exceptions.ValidationError` naming the field, before any SQL.
It reads back as a numpy array of ``float32`` (pgvector stores single precision); an
instance keeps the value it was given until it is read again.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
import sqlalchemy as sa
from pgvector.sqlalchemy import VECTOR
from pydantic import BeforeValidator, PlainSerializer
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field

__all__ = ["INDEXED_DIMENSIONS", "MAX_DIMENSIONS", "Vector", "VectorField", "as_floats", "vector_problem"]

#: The most dimensions a pgvector ``vector`` column may have.
MAX_DIMENSIONS = 16_000
#: The most dimensions an HNSW or IVFFlat index on a ``vector`` column may have.
INDEXED_DIMENSIONS = 2_000


def _numbers(value: Any) -> list[float] | str:
    """Return ``value``'s components as floats, or what is wrong with it."""
    if isinstance(value, np.ndarray):
        if value.ndim != 1:
            return f"must be one-dimensional, not {value.ndim}-dimensional"
        if value.dtype.kind not in "iuf":
            return f"must hold numbers, not {value.dtype}"
        items: list[Any] = value.tolist()
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        return f"must be a list, a tuple or a numpy array of numbers, not {type(value).__name__}"
    if any(isinstance(x, bool) or not isinstance(x, numbers.Real) for x in items):
        return "must hold numbers only"
    floats = [float(x) for x in items]
    if not all(math.isfinite(x) for x in floats):
        return "cannot hold NaN or an infinity"
    return floats


def vector_problem(value: Any, dim: int | None) -> str | None:
    """Return what keeps ``value`` from being stored as a vector of ``dim`` dimensions, or ``None``."""
    floats = _numbers(value)
    if isinstance(floats, str):
        return floats
    if not floats:
        return "cannot be empty"
    if dim is not None and len(floats) != dim:
        return f"must have {dim} dimensions, not {len(floats)}"
    if len(floats) > MAX_DIMENSIONS:
        return f"cannot have more than {MAX_DIMENSIONS} dimensions"
    return None


def as_floats(value: Any, dim: int | None) -> list[float]:
    """Return ``value`` as a list of floats.

    Raises:
        ValueError: Saying what is wrong with it.
    """
    problem = vector_problem(value, dim)
    if problem is not None:
        raise ValueError(f"vector {problem}")
    floats = _numbers(value)
    assert not isinstance(floats, str)
    return floats


class Vector(TypeDecorator[Any]):
    """A pgvector ``vector(dim)`` column: writes lists, tuples and numpy arrays, reads numpy arrays.

    Use it through :func:`VectorField`, which also validates values before any SQL.
    The type checks again on the way to the database (a ``ValueError`` then: the
    field's validation should have caught it).
    """

    impl = VECTOR
    cache_ok = True
    #: The PostgreSQL extension the type needs; tables using it are migrated only where it exists.
    extension = "vector"

    def __init__(self, dim: int | None = None) -> None:
        if dim is not None and (isinstance(dim, bool) or not isinstance(dim, int) or dim < 1):
            raise TypeError("Vector() takes a positive number of dimensions")
        if dim is not None and dim > MAX_DIMENSIONS:
            raise TypeError(f"Vector() takes at most {MAX_DIMENSIONS} dimensions")
        super().__init__(dim)
        self.dim = dim

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> Any:
        """Return ``value`` as the text pgvector reads (``[1.0,2.5]``), for INSERT and COPY alike."""
        if value is None:
            return None
        return "[" + ",".join(map(repr, as_floats(value, self.dim))) + "]"

    def bind_processor(self, dialect: sa.Dialect) -> Any:
        """Return the converter of values: :meth:`process_bind_param` already makes pgvector's text."""
        process = self.process_bind_param

        def bind(value: Any) -> Any:
            return process(value, dialect)

        return bind

    def literal_processor(self, dialect: sa.Dialect) -> Any:
        """Return the renderer of a vector as a SQL literal (``'[1.0,2.5]'``)."""
        process = self.process_bind_param

        def render(value: Any) -> str:
            text = process(value, dialect)
            return "NULL" if text is None else f"'{text}'"

        return render

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> Any:
        """Return the stored vector as a numpy array of ``float32``."""
        if value is None:
            return None
        return np.asarray(value, dtype=np.float32)

    def compare_values(self, x: Any, y: Any) -> bool:
        """Return whether two vectors are equal, component by component (arrays have no truth value)."""
        if x is None or y is None:
            return x is y
        try:
            return bool(np.array_equal(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)))
        except (TypeError, ValueError):
            return False

    def __repr__(self) -> str:
        return f"Vector({self.dim})" if self.dim is not None else "Vector()"

    def alembic_render(self, imports: set[str]) -> str:
        """Return this type as a migration writes it, adding the import it needs to ``imports``."""
        imports.add("from assistant_models.vector import Vector")
        return repr(self)


def _validator(dim: int) -> BeforeValidator:
    def check(value: Any) -> Any:
        if value is None:
            return None
        floats = as_floats(value, dim)  # ValueError: pydantic names the field
        # an array is kept as given (comparing arrays has no truth value); a sequence as floats
        return value if isinstance(value, np.ndarray) else floats

    return BeforeValidator(check)


def _plain(value: Any) -> Any:
    return None if value is None else [float(x) for x in value]


def VectorField(dim: int, **kwargs: Any) -> Any:  # noqa: N802 (a field, named like Field)
    """Return a :func:`sqlmodel.Field` for a ``vector(dim)`` column whose values are validated.

    Keyword arguments go to ``Field`` (``default``, ``nullable``...). Wrong dimensions,
    NaN, infinities, non-numbers and empty vectors raise a ``ValidationError`` naming
    the field on construction, assignment (checked at flush), ``update()`` and
    ``bulk_create()``. In JSON dumps a vector is a list of numbers.
    """
    field = Field(sa_type=Vector(dim), **kwargs)
    field.metadata.extend([_validator(dim), PlainSerializer(_plain, when_used="json")])
    return field
