"""SQL expressions as field values: ``obj.count = F("count") + 1``, ``Model(name=Lower(Value("X")))``.

The database computes such a value when the row is written, as in Django. Validation
skips it (:mod:`assistant_models.core.base`); every write path compiles it here against
the model's own table, refusing what the statement cannot say: a reference to another
table's column (an UPDATE or INSERT joins nothing), an aggregate, and in an INSERT any
column at all (the row does not exist yet).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from assistant_models.core.compiler import Compiler
from assistant_models.core.concerns import ALL
from assistant_models.core.expressions import SQL, Expression, F, OuterRef
from assistant_models.core.paths import PathError, describe
from assistant_models.core.query import Annotation, Query
from assistant_models.exceptions import FieldError, ValidationError

__all__ = ["compile_fields", "compile_value"]


def compile_value(
    model: type[Any],
    name: str,
    value: Any,
    inserting: bool = False,
    annotations: Sequence[Annotation] = (),
) -> Any:
    """Return ``value`` as the SQL a write sends for field ``name`` of ``model``.

    Args:
        model: The model written.
        name: The field the value is for (named in errors).
        value: An :class:`~assistant_models.core.expressions.Expression`, or SQL already
            (a SQLAlchemy expression, returned as it is: its SQL is the caller's).
        inserting: The row is new: it has no column to refer to.
        annotations: Annotations of the updated QuerySet an ``F()`` may name (Django
            resolves them into the SET clause).

    Raises:
        FieldError: The value refers to another table or holds an aggregate.
        ValidationError: An INSERT's value refers to a column.
    """
    if not isinstance(value, Expression):
        return value
    what = "insert" if inserting else "update"
    query = Query(model, ALL, annotations=tuple(annotations))
    _refuse_aggregates(query, name, value, what)
    if inserting and any(isinstance(e, F) and not isinstance(e, OuterRef) for e in value.walk()):
        raise ValidationError.single(
            name, f"{value!r}: F() expressions can only be used to update, not to insert", model.__name__
        )
    _refuse_joined_references(query, value, what)
    compiler = Compiler(query)
    sql: SQL = value.resolve(compiler)
    if compiler.joins:  # an annotation named by the value joins a relation
        raise FieldError([f"{name!r}: joined field references are not allowed in {what}()"], model.__name__)
    return sql


def compile_fields(obj: Any, names: Iterable[str], inserting: bool = False) -> None:
    """Replace the expressions ``obj`` holds in fields ``names`` with their SQL (see :func:`compile_value`).

    Done before anything is sent, so a refused value leaves no row written and nothing
    pending in the session; SQL already compiled is left as it is.
    """
    model = type(obj)
    for name in names:
        value = obj.__dict__.get(name)
        if isinstance(value, Expression):
            setattr(obj, name, compile_value(model, name, value, inserting))


def _refuse_aggregates(query: Query, name: str, value: Expression, what: str) -> None:
    """Refuse an aggregate in a written value, named directly or through an annotation."""
    seen: set[str] = set()
    pending: list[Expression] = [value]
    while pending:
        expression = pending.pop()
        if expression.has_aggregate:
            raise FieldError(
                [f"{name!r}: aggregate functions are not allowed in {what}()"], query.model.__name__
            )
        for each in expression.walk():
            annotation = query.annotation(each.name) if type(each) is F else None
            if annotation is not None and annotation.name not in seen:
                seen.add(annotation.name)
                pending.append(annotation.expression)


def _refuse_joined_references(query: Query, value: Expression, what: str) -> None:
    """Refuse ``F("relation__field")``: the statement cannot join (Django refuses it too)."""
    problems = []
    types = query.annotation_types()
    for each in value.walk():
        if isinstance(each, F) and not isinstance(each, OuterRef):
            try:
                path = describe(query.model, each.name, types)
            except PathError as exc:
                problems.append(str(exc))
                continue
            if path.hops:
                problems.append(f"{each.name!r}: joined field references are not allowed in {what}()")
    if problems:
        raise FieldError(problems, query.model.__name__)
