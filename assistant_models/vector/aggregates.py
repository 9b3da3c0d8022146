"""Aggregates of vectors: their element-wise mean and sum (pgvector's ``avg`` and ``sum``).

::

    Item.objects.aggregate(centroid=VectorAvg("embedding"))   # {"centroid": array([2.5, 3.5, 4.5])}
    Doc.objects.values("category").annotate(centroid=VectorAvg("embedding"))

The result is a vector of the field's dimensions, read back as a numpy array of
``float32`` like the field itself; over no rows it is ``None`` unless ``default=``
(a vector) is given. Rows whose vector is NULL are left out, as by any aggregate.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy.types import TypeEngine

from assistant_models.core.aggregates import Aggregate
from assistant_models.core.expressions import SQL, Q, Scope, Value
from assistant_models.exceptions import FieldError, ValidationError
from assistant_models.vector.types import Vector, as_floats, vector_problem

__all__ = ["VectorAggregate", "VectorAvg", "VectorSum"]


class VectorAggregate(Aggregate):
    """Base of aggregates over a vector field whose result is a vector of the same dimensions.

    Args:
        expression: The vector field (or an expression of a :class:`Vector` type).
        distinct: Aggregate distinct vectors only.
        filter: Aggregate the rows matching this ``Q`` only (``FILTER (WHERE ...)``).
        default: The vector given over no rows instead of ``None``.

    Raises:
        ValidationError: ``default`` is not a vector (checked again against the field's
            dimensions when the query is built, before any SQL).
    """

    def __init__(
        self, expression: Any, *, distinct: bool = False, filter: Q | None = None, default: Any = None
    ) -> None:
        if default is not None:
            problem = vector_problem(default, None)
            if problem is not None:
                raise ValidationError.single("default", f"vector {problem}", type(self).__name__)
            default = Value(np.asarray(as_floats(default, None), dtype=np.float32), Vector())
        super().__init__(expression, distinct=distinct, filter=filter, default=default)

    @property
    def default_alias(self) -> str:
        """Return ``<field>__avg`` or ``<field>__sum``, as the core's ``Avg`` and ``Sum`` name theirs."""
        return f"{super().default_alias.rsplit('__', 1)[0]}__{self.name}"

    def arguments(self, scope: Scope) -> list[SQL]:
        """Return the compiled vector argument once it, and the default, fit.

        Raises:
            FieldError: The argument is not a vector.
            ValidationError: The default has other dimensions than the argument.
        """
        args = super().arguments(scope)
        kind = args[0].type
        model = scope.model.__name__
        if not isinstance(kind, Vector):
            raise FieldError([f"{type(self).__name__}() takes a vector field, not {self.source!r}"], model)
        if self.default is not None and kind.dim is not None:
            size = len(getattr(self.default, "value", ()))
            if size != kind.dim:
                problem = f"vector must have {kind.dim} dimensions, not {size}"
                raise ValidationError.single("default", problem, model)
        return args

    def result_type(self, arguments: list[SQL]) -> TypeEngine[Any] | None:
        """Return the argument's vector type, so the result reads back as a numpy array."""
        return arguments[0].type


class VectorAvg(VectorAggregate):
    """The element-wise mean of the vectors (``avg(embedding)``): a centroid."""

    function = "avg"


class VectorSum(VectorAggregate):
    """The element-wise sum of the vectors (``sum(embedding)``)."""

    function = "sum"
