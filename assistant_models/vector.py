"""Vectors (pgvector) in the core's vocabulary: a column type, a field and distance expressions.

Needs the ``vector`` extra (``pgvector`` and ``numpy``) and the ``vector`` extension in
the database (``CREATE EXTENSION vector``)::

    class Doc(AssistantModel, table=True):
        id: int | None = Field(default=None, primary_key=True)
        embedding: Any = VectorField(3)

    Doc.objects.create(embedding=[0.1, 0.2, 0.3])
    Doc.objects.annotate(distance=CosineDistance("embedding", query)).order_by("distance")

A vector is written from a list, a tuple or a one-dimensional numpy array of finite
numbers with exactly the column's dimensions; anything else is refused with a
:class:`~assistant_models.exceptions.ValidationError` naming the field, before any SQL.
It reads back as a numpy array of ``float32`` (pgvector stores single precision); an
instance keeps the value it was given until it is read again.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sqlalchemy as sa
from pgvector.sqlalchemy import VECTOR
from pydantic import BeforeValidator, PlainSerializer
from sqlalchemy.sql.elements import conv
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field

from assistant_models.core.expressions import SQL, Expression, Scope, as_expression
from assistant_models.exceptions import ValidationError

__all__ = [
    "INDEXED_DIMENSIONS",
    "MAX_DIMENSIONS",
    "METRICS",
    "CosineDistance",
    "L1Distance",
    "L2Distance",
    "MaxInnerProduct",
    "Metric",
    "Vector",
    "VectorField",
    "VectorIndex",
    "metric_named",
    "register_metric",
    "vector_problem",
]

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


def _as_floats(value: Any, dim: int | None) -> list[float]:
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
        return "[" + ",".join(map(repr, _as_floats(value, self.dim))) + "]"

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
        floats = _as_floats(value, dim)  # ValueError: pydantic names the field
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


class _Distance(Expression):
    """A pgvector distance operator between a vector field (or expression) and a vector."""

    operator: str = ""

    def __init__(self, field: Any, vector: Any) -> None:
        self.field = as_expression(field)
        if isinstance(vector, (Expression, sa.ColumnElement)):
            self.vector: Any = as_expression(vector)
        else:
            problem = vector_problem(vector, None)
            if problem is not None:
                raise ValidationError.single("vector", problem, type(self).__name__)
            self.vector = vector

    def children(self) -> Sequence[Expression]:
        """Return the field, and the other vector when it is an expression."""
        return (self.field, self.vector) if isinstance(self.vector, Expression) else (self.field,)

    def resolve(self, scope: Scope) -> SQL:
        """Return ``field <op> vector``; a plain vector is a parameter of the field's type."""
        lhs = self.field.resolve(scope)
        if isinstance(self.vector, Expression):
            rhs: Any = self.vector.resolve(scope)
        else:
            kind = lhs.type if isinstance(lhs.type, Vector) else Vector()
            if kind.dim is not None and len(self.vector) != kind.dim:
                problem = f"must have {kind.dim} dimensions, not {len(self.vector)}"
                raise ValidationError.single("vector", problem, type(self).__name__)
            rhs = sa.literal(self.vector, kind)
        distance: SQL = lhs.op(self.operator, return_type=sa.Float())(rhs)
        return distance

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.field!r}, ...)"


class CosineDistance(_Distance):
    """Cosine distance, ``1 - cosine similarity`` (pgvector's ``<=>``): 0 for the same direction."""

    operator = "<=>"


class L2Distance(_Distance):
    """Euclidean distance (pgvector's ``<->``)."""

    operator = "<->"


class MaxInnerProduct(_Distance):
    """The *negative* inner product (pgvector's ``<#>``), so that smaller means nearer, as for the others."""

    operator = "<#>"


class L1Distance(_Distance):
    """Taxicab distance, the sum of absolute differences (pgvector's ``<+>``)."""

    operator = "<+>"


@dataclass(frozen=True)
class Metric:
    """A way of measuring distance between vectors, as queries and indexes name it.

    Attributes:
        name: What callers pass (``metric="cosine"``).
        distance: The expression computing it (smaller is nearer).
        opclass: pgvector's operator class for an index serving it.
        methods: The index methods that support it.
    """

    name: str
    distance: type[_Distance]
    opclass: str
    methods: frozenset[str]


#: The metrics by name: an open registry (:func:`register_metric`).
METRICS: dict[str, Metric] = {}

#: The index methods pgvector offers, with the build parameters each takes and their bounds.
INDEX_METHODS: dict[str, dict[str, tuple[int, int]]] = {
    "hnsw": {"m": (2, 100), "ef_construction": (4, 1000)},
    "ivfflat": {"lists": (1, 32768)},
}


def register_metric(item: Metric) -> Metric:
    """Add (or replace) a metric that :func:`VectorIndex` and ``nearest()`` accept by name."""
    METRICS[item.name] = item
    return item


def metric_named(name: str) -> Metric:
    """Return the metric called ``name``.

    Raises:
        ValidationError: No such metric (the message lists the known ones).
    """
    found = METRICS.get(name) if isinstance(name, str) else None
    if found is None:
        known = ", ".join(sorted(METRICS))
        raise ValidationError.single("metric", f"must be one of {known}, not {name!r}")
    return found


_BOTH = frozenset(INDEX_METHODS)
register_metric(Metric("cosine", CosineDistance, "vector_cosine_ops", _BOTH))
register_metric(Metric("l2", L2Distance, "vector_l2_ops", _BOTH))
register_metric(Metric("inner_product", MaxInnerProduct, "vector_ip_ops", _BOTH))
register_metric(Metric("l1", L1Distance, "vector_l1_ops", frozenset({"hnsw"})))


def VectorIndex(  # noqa: N802 (a schema item, named like sa.Index)
    field: str,
    *,
    method: str = "hnsw",
    metric: str = "cosine",
    name: str | None = None,
    **parameters: int,
) -> sa.Index:
    """Declare an approximate-nearest-neighbour index on a vector field, for ``__table_args__``.

    ::

        __table_args__ = (VectorIndex("embedding", metric="cosine", m=16, ef_construction=64),)

    The migration creates it (``CREATE INDEX ... USING hnsw (embedding vector_cosine_ops)
    WITH (m = 16, ef_construction = 64)``). An index serves one metric: ``nearest()``
    with that metric uses it. Its name, unless given, is
    ``ix_<table>__<field>_<method>_<metric>``, so one field can have an index per metric.

    Args:
        field: The vector field (at most 2,000 dimensions, pgvector's limit for indexes).
        method: ``"hnsw"`` (better recall for its speed, slower to build) or ``"ivfflat"``.
        metric: A name in :data:`METRICS`: ``cosine``, ``l2``, ``inner_product`` or
            ``l1`` (HNSW only).
        name: The index's name.
        **parameters: Build parameters: ``m`` and ``ef_construction`` for HNSW,
            ``lists`` for IVFFlat.

    Raises:
        TypeError: An unknown method or metric, a parameter the method does not take,
            or one out of its bounds.
    """
    if method not in INDEX_METHODS:
        raise TypeError(f"VectorIndex() method must be one of {', '.join(INDEX_METHODS)}, not {method!r}")
    measure = METRICS.get(metric)
    if measure is None:
        raise TypeError(f"VectorIndex() metric must be one of {', '.join(sorted(METRICS))}, not {metric!r}")
    if method not in measure.methods:
        raise TypeError(f"VectorIndex() metric {metric!r} has no {method} index in pgvector")
    bounds = INDEX_METHODS[method]
    for key, value in parameters.items():
        if key not in bounds:
            raise TypeError(f"VectorIndex() {method} takes {', '.join(bounds)}, not {key!r}")
        low, high = bounds[key]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise TypeError(f"VectorIndex() {key} must be a whole number from {low} to {high}, not {value!r}")
    if method == "hnsw" and parameters.get("ef_construction", 64) < 2 * parameters.get("m", 16):
        raise TypeError("VectorIndex() ef_construction must be at least twice m")
    index = sa.Index(
        name,
        field,
        postgresql_using=method,
        postgresql_ops={field: measure.opclass},
        postgresql_with=dict(parameters),
    )
    index.info["vector_metric"] = measure.name
    if name is None:
        sa.event.listen(index, "after_parent_attach", _name_index(field, method, measure.name))
    return index


def _name_index(field: str, method: str, metric_name: str) -> Any:
    def attach(index: sa.Index, table: sa.Table) -> None:
        index.name = conv(f"ix_{table.name}__{field}_{method}_{metric_name}")
        column = table.c.get(field)
        kind = getattr(column, "type", None)
        if isinstance(kind, Vector) and kind.dim is not None and kind.dim > INDEXED_DIMENSIONS:
            raise TypeError(
                f"VectorIndex() on {table.name}.{field}: indexes take at most {INDEXED_DIMENSIONS} dimensions"
            )

    return attach
