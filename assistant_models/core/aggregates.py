"""Aggregates: ``Count``, ``Sum``, ``Avg``, ``Min``, ``Max``, ``StdDev``, ``Variance``, ``Percentile``.

Each takes ``distinct=``, ``filter=`` (a ``Q``: PostgreSQL's ``FILTER (WHERE ...)``) and
``default=`` (the value when no row is aggregated, instead of NULL), as in Django.
"""

from __future__ import annotations

from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.types import TypeEngine

from assistant_models.core.expressions import SQL, Expression, F, Func, Q, Scope, as_expression

__all__ = ["Aggregate", "Avg", "Count", "Max", "Min", "Percentile", "StdDev", "Sum", "Variance"]


class Aggregate(Func):
    """Base of aggregates; ``default_alias`` names it in ``aggregate(Count("id"))`` (``id__count``)."""

    contains_aggregate: ClassVar[bool] = True

    def __init__(
        self,
        expression: Any,
        *,
        distinct: bool = False,
        filter: Q | None = None,
        default: Any = None,
        output_type: TypeEngine[Any] | None = None,
    ) -> None:
        super().__init__(expression, output_type=output_type)
        if filter is not None and not isinstance(filter, Q):
            raise TypeError("filter= takes a Q object")
        if any(e.has_aggregate for e in self.expressions):
            raise TypeError(f"cannot compute {type(self).__name__}() of an aggregate")
        self.distinct = distinct
        self.filter = filter
        self.default = None if default is None else as_expression(default, strings_are_fields=False)
        self.source = expression

    @property
    def default_alias(self) -> str:
        """Return the name ``aggregate()`` gives this aggregate when it is passed positionally."""
        if isinstance(self.source, str):
            return f"{self.source}__{type(self).__name__.lower()}"
        if isinstance(self.source, F):
            return f"{self.source.name}__{type(self).__name__.lower()}"
        raise TypeError(f"{type(self).__name__}() of an expression needs a name: aggregate(name=...)")

    def arguments(self, scope: Scope) -> list[SQL]:
        """Return the compiled argument, ``DISTINCT`` applied."""
        args = super().arguments(scope)
        return [sa.distinct(args[0])] if self.distinct else args

    def result_type(self, arguments: list[SQL]) -> TypeEngine[Any] | None:
        """Return the SQL type of the result (``None``: the database's own)."""
        return self.output_type

    def call(self, arguments: list[SQL]) -> Any:
        """Return the bare aggregate call over the compiled ``arguments`` (before FILTER and default)."""
        return getattr(sa.func, self.name)(*arguments, type_=self.result_type(arguments))

    def resolve(self, scope: Scope) -> SQL:
        """Return the aggregate call with its FILTER and default."""
        call: Any = self.call(self.arguments(scope))
        if self.filter is not None:
            condition = scope.condition(self.filter)
            if condition is not None:
                call = call.filter(condition)
        if self.default is not None:
            return sa.func.coalesce(call, self.default.resolve(scope))
        result: SQL = call
        return result


class Count(Aggregate):
    """The number of rows (``Count("*")``, the default) or of non-NULL values; never NULL."""

    function = "count"
    output_type = sa.Integer()

    def __init__(self, expression: Any = "*", **options: Any) -> None:
        if expression == "*":
            expression = _Star()
        options.setdefault("default", None)
        super().__init__(expression, **options)

    @property
    def default_alias(self) -> str:
        """Return ``<field>__count``."""
        if isinstance(self.source, _Star):
            raise TypeError("Count('*') needs a name: aggregate(name=Count('*'))")
        return super().default_alias


class _Star(Expression):
    def resolve(self, scope: Scope) -> SQL:
        return sa.literal_column("*")


class Sum(Aggregate):
    """The sum of the values (NULL over no rows unless ``default`` is given)."""

    function = "sum"


class Avg(Aggregate):
    """The mean of the values: a float over integers and floats, a Decimal over decimals (Django's)."""

    function = "avg"

    def result_type(self, arguments: list[SQL]) -> TypeEngine[Any] | None:
        """Return float for integer and float arguments: PostgreSQL's ``avg`` gives them numeric."""
        if self.output_type is None and isinstance(arguments[0].type, (sa.Integer, sa.Float)):
            return sa.Float()
        return self.output_type


class Min(Aggregate):
    """The smallest value."""

    function = "min"


class Max(Aggregate):
    """The largest value."""

    function = "max"


class StdDev(Aggregate):
    """The population standard deviation (``sample=True`` for the sample one)."""

    function = "stddev_pop"

    def __init__(self, expression: Any, *, sample: bool = False, **options: Any) -> None:
        super().__init__(expression, **options)
        self.name = "stddev_samp" if sample else "stddev_pop"


class Variance(Aggregate):
    """The population variance (``sample=True`` for the sample one)."""

    function = "var_pop"

    def __init__(self, expression: Any, *, sample: bool = False, **options: Any) -> None:
        super().__init__(expression, **options)
        self.name = "var_samp" if sample else "var_pop"


class Percentile(Aggregate):
    """The value below which ``fraction`` of the values fall (``Percentile("ms", 0.95)``: the p95).

    ``percentile_cont(fraction) WITHIN GROUP (ORDER BY expression)``, interpolated between
    the nearest values (a float over numbers); ``discrete=True`` takes
    ``percentile_disc``, the first value reaching ``fraction``, of the values' own type.
    NULLs are ignored; over no value the result is NULL unless ``default`` is given.
    """

    function = "percentile_cont"

    def __init__(self, expression: Any, fraction: float, *, discrete: bool = False, **options: Any) -> None:
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 <= fraction <= 1:
            raise ValueError("Percentile's fraction must be a number from 0 to 1")
        if options.get("distinct"):
            raise TypeError("Percentile() cannot be DISTINCT")
        super().__init__(expression, **options)
        self.fraction = float(fraction)
        self.name = "percentile_disc" if discrete else "percentile_cont"

    def result_type(self, arguments: list[SQL]) -> TypeEngine[Any] | None:
        """Return float for a continuous percentile of numbers, else the values' own type."""
        if self.output_type is not None:
            return self.output_type
        if self.name == "percentile_cont" and isinstance(
            arguments[0].type, (sa.Integer, sa.Float, sa.Numeric)
        ):
            return sa.Float()
        return arguments[0].type

    def call(self, arguments: list[SQL]) -> Any:
        """Return ``percentile_xxx(fraction) WITHIN GROUP (ORDER BY argument)``."""
        fraction = sa.literal(self.fraction, sa.Float())
        # a plain Function: SQLAlchemy's own percentile_cont types its result as the ORDER BY's
        function = sa.sql.functions.Function(self.name, fraction, type_=self.result_type(arguments))
        return function.within_group(arguments[0])
