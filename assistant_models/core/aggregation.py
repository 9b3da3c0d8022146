"""``QuerySet.aggregate``: aggregates over the rows a QuerySet selects.

A plain QuerySet aggregates its rows directly. A sliced, distinct, combined or
already-grouped one is first made a subquery, and the aggregates run over its rows,
as Django does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from assistant_models.core.aggregates import Aggregate, Count
from assistant_models.core.expressions import SQL, Expression, Q
from assistant_models.core.paths import PathError, describe, primary_key
from assistant_models.exceptions import FieldError

if TYPE_CHECKING:
    from assistant_models.core.queryset import QuerySet

__all__ = ["aggregate"]


def _named(
    model: type[Any], args: Sequence[Aggregate], kwargs: dict[str, Aggregate]
) -> dict[str, Expression]:
    named: dict[str, Expression] = {}
    for arg in args:
        if not isinstance(arg, Aggregate):
            raise TypeError("aggregate() takes aggregates; name other expressions: aggregate(name=...)")
        named[arg.default_alias] = arg
    problems = []
    for name, value in kwargs.items():
        if not isinstance(value, Expression) or not value.has_aggregate:
            problems.append(f"{name!r}: {value!r} is not an aggregate expression")
            continue
        named[name] = value
    if problems:
        raise FieldError(problems, model.__name__)
    return named


def aggregate(qs: QuerySet[Any], args: Sequence[Aggregate], kwargs: dict[str, Aggregate]) -> dict[str, Any]:
    """Return the aggregate values over the rows of ``qs``; see :meth:`QuerySet.aggregate`."""
    named = _named(qs.model, args, kwargs)
    if not named:
        return {}
    query = qs.query
    if query.empty:
        return {name: _empty(expr) for name, expr in named.items()}
    needs_subquery = (
        query.is_sliced
        or query.distinct
        or bool(query.distinct_on)
        or query.has_aggregate
        or query.combinator
    )
    if needs_subquery:
        rows = qs.compiler().select(ordered=query.is_sliced).subquery("am_rows")
        scope = RowsScope(qs, rows)
        columns = [expr.resolve(scope).label(name) for name, expr in named.items()]
        stmt: Any = sa.select(*columns).select_from(rows)
    else:
        compiler = qs.compiler()
        columns = [compiler.summary(expr).label(name) for name, expr in named.items()]
        stmt = compiler.select(columns=columns, ordered=False, sliced=False)
    return dict(qs.execute(stmt).mappings().one())


def _empty(expression: Expression) -> Any:
    """Return what an aggregate gives over no rows: its default, 0 for a count, else ``None``."""
    default = getattr(expression, "default", None)
    if default is not None:
        return getattr(default, "value", None)
    return 0 if isinstance(expression, Count) else None


class RowsScope:
    """Resolves names against the columns of a subquery of rows (fields and annotations)."""

    def __init__(self, qs: QuerySet[Any], rows: Any) -> None:
        self.qs = qs
        self.rows = rows
        self.model = qs.model
        self.entity = rows

    def reference(self, name: str) -> SQL:
        """Return the subquery's column for a field or annotation of the model."""
        query = self.qs.query
        if query.annotation(name) is not None or (query.values and name in dict(query.values)):
            return self.rows.c[name]  # type: ignore[no-any-return]
        try:
            path = describe(self.qs.model, name, query.annotation_types())
        except PathError as exc:
            raise FieldError([str(exc)], self.qs.model.__name__) from None
        if path.hops or path.transforms or path.annotation:
            raise FieldError(
                [f"{name!r}: an aggregate over these rows takes their own columns"], self.qs.model.__name__
            )
        key = path.column or primary_key(self.qs.model)[0]
        column = sa.inspect(self.qs.model).column_attrs[key].columns[0]
        return self.rows.c[column.name]  # type: ignore[no-any-return]

    def outer_reference(self, name: str) -> SQL:
        """Refuse: there is no enclosing query."""
        raise FieldError([f"OuterRef({name!r}) is only valid inside a subquery"], self.qs.model.__name__)

    def condition(self, node: Q) -> SQL | None:
        """Refuse: conditions over these rows go into the QuerySet's own filters."""
        raise FieldError(
            ["filter= of an aggregate over a sliced or grouped QuerySet"], self.qs.model.__name__
        )

    def parameter(self, name: str, value: Any, type_: Any) -> SQL:
        """Return the value bound inside the SQL: these aggregates are built for one call."""
        return sa.bindparam(name, value, type_=type_, unique=True)

    def subquery(self, qs: QuerySet[Any]) -> sa.Select[Any]:
        """Refuse subqueries here."""
        raise FieldError(
            ["a subquery inside an aggregate over a sliced or grouped QuerySet"], self.qs.model.__name__
        )
