"""Distances between vectors as expressions, and the metrics that name them (an open registry)."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from assistant_models.core.expressions import SQL, Expression, F, Namer, Scope, as_expression
from assistant_models.exceptions import ValidationError
from assistant_models.vector.types import Vector, as_floats, vector_problem

__all__ = [
    "INDEX_METHODS",
    "METRICS",
    "CosineDistance",
    "Distance",
    "L1Distance",
    "L2Distance",
    "MaxInnerProduct",
    "Metric",
    "metric_named",
    "register_metric",
]


class Distance(Expression):
    """A pgvector distance operator between a vector field (or expression) and a vector.

    A plain vector is checked when the expression is made (no dimensions yet: the field's
    are checked when the query is built) and becomes a query parameter, so every query of
    one shape shares one built statement, whatever vector it measures from.
    """

    operator: str = ""

    def __init__(self, field: Any, vector: Any) -> None:
        self.field = as_expression(field)
        self.param: str | None = None  # the name of the vector's parameter, once bound
        if isinstance(vector, (Expression, sa.ColumnElement)):
            self.vector: Any = as_expression(vector)
        else:
            problem = vector_problem(vector, None)
            if problem is not None:
                raise ValidationError.single("vector", problem, type(self).__name__)
            self.vector = as_floats(vector, None)

    def children(self) -> Sequence[Expression]:
        """Return the field, and the other vector when it is an expression."""
        return (self.field, self.vector) if isinstance(self.vector, Expression) else (self.field,)

    @property
    def shape(self) -> Hashable | None:
        """Return the operator, the field's name and the parameter's: the vector is a value."""
        if self.param is None or type(self.field) is not F:
            return None
        return (type(self).__name__, self.operator, self.field.name, self.param)

    def bind(self, name: Namer) -> Distance:
        """Return a copy whose vector is the query parameter ``name(vector)``."""
        if isinstance(self.vector, Expression):
            return self
        bound = object.__new__(type(self))
        bound.__dict__.update(self.__dict__, param=name(self.vector))
        return bound

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
            if self.param is None:
                rhs = sa.literal(self.vector, kind)
            else:
                rhs = scope.parameter(self.param, self.vector, kind)
        distance: SQL = lhs.op(self.operator, return_type=sa.Float())(rhs)
        return distance

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.field!r}, ...)"


class CosineDistance(Distance):
    """Cosine distance, ``1 - cosine similarity`` (pgvector's ``<=>``): 0 for the same direction."""

    operator = "<=>"


class L2Distance(Distance):
    """Euclidean distance (pgvector's ``<->``)."""

    operator = "<->"


class MaxInnerProduct(Distance):
    """The *negative* inner product (pgvector's ``<#>``), so that smaller means nearer, as for the others."""

    operator = "<#>"


class L1Distance(Distance):
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
        similarity: Turns a distance into a similarity (larger is more alike), where
            the metric has one.
    """

    name: str
    distance: type[Distance]
    opclass: str
    methods: frozenset[str]
    similarity: Callable[[float], float] | None = None


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
register_metric(Metric("cosine", CosineDistance, "vector_cosine_ops", _BOTH, lambda d: 1.0 - d))
register_metric(Metric("l2", L2Distance, "vector_l2_ops", _BOTH))
register_metric(Metric("inner_product", MaxInnerProduct, "vector_ip_ops", _BOTH, lambda d: -d))
register_metric(Metric("l1", L1Distance, "vector_l1_ops", frozenset({"hnsw"})))
