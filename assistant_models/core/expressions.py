"""Expressions that compile themselves: ``F``, ``Value``, ``Func``, ``Case``/``When``, subqueries.

An expression is a small immutable object with one method, :meth:`Expression.resolve`,
which turns it into a SQLAlchemy column expression inside a :class:`Scope` (the query
being compiled: it resolves field paths, joins relations and knows the annotations).
Because ``filter``, ``annotate``, ``order_by``, ``update`` and aggregates all take the
same objects, a new function is a class of a few lines beside this module.
"""

from __future__ import annotations

import operator
import uuid
from collections.abc import Callable, Hashable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeAlias

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeEngine

if TYPE_CHECKING:
    from assistant_models.core.queryset import QuerySet

__all__ = [
    "Case",
    "Cast",
    "Coalesce",
    "Combined",
    "Concat",
    "Exists",
    "Expression",
    "F",
    "Func",
    "Greatest",
    "Least",
    "Length",
    "Lower",
    "Now",
    "OrderBy",
    "OuterRef",
    "Q",
    "Scope",
    "Subquery",
    "Upper",
    "Value",
    "When",
    "as_expression",
    "is_sql_value",
]

SQL: TypeAlias = ColumnElement[Any]


class Scope(Protocol):
    """What an expression needs from the query it is compiled into.

    Attributes:
        model: The model queried.
        entity: What its rows are read from: the model, or an alias of it in a subquery.
    """

    model: Any
    entity: Any

    def reference(self, name: str) -> SQL:
        """Return the SQL of a field path or annotation name (``"author__name"``, ``"total"``)."""

    def outer_reference(self, name: str) -> SQL:
        """Return the SQL of a field path of the enclosing query (for :class:`OuterRef`)."""

    def condition(self, node: Q) -> SQL | None:
        """Return the SQL of a condition tree, or ``None`` when it is empty."""

    def subquery(self, qs: QuerySet[Any]) -> sa.Select[Any]:
        """Return ``qs`` compiled as a SELECT correlated to this scope."""

    def parameter(self, name: str, value: Any, type_: TypeEngine[Any]) -> SQL:
        """Return the query parameter ``name`` (holding ``value``) as SQL; see :meth:`Expression.bind`."""


#: Names a value as a parameter of the query an expression joins, and records the value.
Namer: TypeAlias = Callable[[Any], str]


class Expression:
    """Base of every expression; arithmetic on expressions makes new ones.

    Subclasses implement :meth:`resolve`. ``contains_aggregate`` tells ``annotate`` to
    group rows.
    """

    contains_aggregate: ClassVar[bool] = False

    def resolve(self, scope: Scope) -> SQL:
        """Return this expression as SQL inside ``scope``."""
        raise NotImplementedError

    def children(self) -> Sequence[Expression]:
        """Return the expressions this one is made of."""
        return ()

    def walk(self) -> Iterator[Expression]:
        """Yield this expression and every expression inside it."""
        yield self
        for child in self.children():
            yield from child.walk()

    @property
    def has_aggregate(self) -> bool:
        """Return whether an aggregate appears anywhere in this expression."""
        return any(e.contains_aggregate for e in self.walk())

    @property
    def shape(self) -> Hashable | None:
        """Return what determines this expression's SQL (not its values), or ``None`` if only it has it.

        A query whose expressions all have a shape has one too, and its statement is
        built once (:attr:`assistant_models.core.query.Query.shape`).
        """
        return None

    def bind(self, name: Namer) -> Expression:
        """Return this expression with its values as parameters of the query it joins.

        ``name(value)`` records a value in the query and returns the parameter's name;
        :meth:`resolve` then asks ``scope.parameter(...)`` for it. Expressions that
        keep their values inside their SQL return themselves.
        """
        return self

    def _combine(self, op: Callable[[Any, Any], Any], other: Any, reverse: bool = False) -> Combined:
        other_expr = as_expression(other, strings_are_fields=False)
        return Combined(op, other_expr, self) if reverse else Combined(op, self, other_expr)

    def __add__(self, other: Any) -> Combined:
        return self._combine(operator.add, other)

    def __radd__(self, other: Any) -> Combined:
        return self._combine(operator.add, other, reverse=True)

    def __sub__(self, other: Any) -> Combined:
        return self._combine(operator.sub, other)

    def __rsub__(self, other: Any) -> Combined:
        return self._combine(operator.sub, other, reverse=True)

    def __mul__(self, other: Any) -> Combined:
        return self._combine(operator.mul, other)

    def __rmul__(self, other: Any) -> Combined:
        return self._combine(operator.mul, other, reverse=True)

    def __truediv__(self, other: Any) -> Combined:
        return self._combine(operator.truediv, other)

    def __rtruediv__(self, other: Any) -> Combined:
        return self._combine(operator.truediv, other, reverse=True)

    def __mod__(self, other: Any) -> Combined:
        return self._combine(operator.mod, other)

    def __rmod__(self, other: Any) -> Combined:
        return self._combine(operator.mod, other, reverse=True)

    def __pow__(self, other: Any) -> Combined:
        return self._combine(operator.pow, other)

    def __rpow__(self, other: Any) -> Combined:
        return self._combine(operator.pow, other, reverse=True)

    def __neg__(self) -> Combined:
        return Combined(operator.mul, self, Value(-1))

    def __invert__(self) -> Expression:
        """Return ``NOT self``: Django's ``~F("flag")`` of a boolean."""
        return _Not(self)

    def bitand(self, other: Any) -> Combined:
        """Return ``self & other``, bit by bit (``&`` itself is Q's ``AND``, as in Django)."""
        return self._combine(_bitand, other)

    def bitor(self, other: Any) -> Combined:
        """Return ``self | other``, bit by bit."""
        return self._combine(_bitor, other)

    def bitxor(self, other: Any) -> Combined:
        """Return ``self # other`` (PostgreSQL's exclusive or), bit by bit."""
        return self._combine(_bitxor, other)

    def bitleftshift(self, other: Any) -> Combined:
        """Return ``self << other``."""
        return self._combine(_bitleftshift, other)

    def bitrightshift(self, other: Any) -> Combined:
        """Return ``self >> other``."""
        return self._combine(_bitrightshift, other)

    def asc(self, *, nulls_first: bool = False, nulls_last: bool = False) -> OrderBy:
        """Return this expression as an ascending ordering."""
        return OrderBy(self, descending=False, nulls_first=nulls_first, nulls_last=nulls_last)

    def desc(self, *, nulls_first: bool = False, nulls_last: bool = False) -> OrderBy:
        """Return this expression as a descending ordering."""
        return OrderBy(self, descending=True, nulls_first=nulls_first, nulls_last=nulls_last)


#: Types of values that are never SQL: checked first, so a plain value costs one set lookup.
PLAIN_VALUE_TYPES = frozenset(
    {str, int, float, bool, type(None), bytes, Decimal, datetime, date, uuid.UUID, dict, list}
)
#: What a field may hold so that the database computes its value (``F("n") + 1``, ``sa.func.now()``).
SQL_VALUE_TYPES = (Expression, ColumnElement)


def is_sql_value(value: Any) -> bool:
    """Return whether ``value`` is a SQL expression a write sends as SQL rather than as a value."""
    return type(value) not in PLAIN_VALUE_TYPES and isinstance(value, SQL_VALUE_TYPES)


def as_expression(value: Any, strings_are_fields: bool = True) -> Expression:
    """Return ``value`` as an expression: itself, a field reference for a string, else a ``Value``."""
    if isinstance(value, Expression):
        return value
    if strings_are_fields and isinstance(value, str):
        return F(value)
    if isinstance(value, ColumnElement):
        return RawSQL(value)
    if isinstance(value, Q):
        return Condition(value)
    return Value(value)


class F(Expression):
    """A reference to a field of the row (``F("retry_count") + 1``), relations and annotations included."""

    def __init__(self, name: str) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError("F() takes a field name")
        self.name = name

    def resolve(self, scope: Scope) -> SQL:
        """Return the referenced column."""
        return scope.reference(self.name)

    def __repr__(self) -> str:
        return f"F({self.name!r})"


class OuterRef(F):
    """A reference to a field of the enclosing query, inside ``Exists``/``Subquery``."""

    def resolve(self, scope: Scope) -> SQL:
        """Return the enclosing query's column."""
        return scope.outer_reference(self.name)

    def __repr__(self) -> str:
        return f"OuterRef({self.name!r})"


class Value(Expression):
    """A constant, sent as a bound parameter; ``output_type`` pins its SQL type."""

    def __init__(self, value: Any, output_type: TypeEngine[Any] | None = None) -> None:
        self.value = value
        self.output_type = output_type

    def resolve(self, scope: Scope) -> SQL:
        """Return the bound parameter (or ``NULL``)."""
        if self.value is None and self.output_type is None:
            return sa.null()
        return sa.literal(self.value, self.output_type)

    def __repr__(self) -> str:
        return f"Value({self.value!r})"


class RawSQL(Expression):
    """A SQLAlchemy expression used as is: the escape hatch, its SQL owned by the caller."""

    def __init__(self, sql: SQL) -> None:
        self.sql = sql

    def resolve(self, scope: Scope) -> SQL:
        """Return the expression itself."""
        return self.sql


def _bitand(lhs: Any, rhs: Any) -> Any:
    """Return the SQL ``lhs & rhs`` (the operator of :meth:`Expression.bitand`)."""
    return lhs.bitwise_and(rhs)


def _bitor(lhs: Any, rhs: Any) -> Any:
    """Return the SQL ``lhs | rhs``."""
    return lhs.bitwise_or(rhs)


def _bitxor(lhs: Any, rhs: Any) -> Any:
    """Return the SQL ``lhs # rhs``."""
    return lhs.bitwise_xor(rhs)


def _bitleftshift(lhs: Any, rhs: Any) -> Any:
    """Return the SQL ``lhs << rhs``."""
    return lhs.bitwise_lshift(rhs)


def _bitrightshift(lhs: Any, rhs: Any) -> Any:
    """Return the SQL ``lhs >> rhs``."""
    return lhs.bitwise_rshift(rhs)


def _is_integer(sql: SQL) -> bool:
    return isinstance(getattr(sql, "type", None), sa.Integer)


class Combined(Expression):
    """Arithmetic on two expressions (``F("a") + 1``, ``2 * F("b")``, ``F("a") ** 2``)."""

    def __init__(self, op: Callable[[Any, Any], Any], lhs: Expression, rhs: Expression) -> None:
        self.op, self.lhs, self.rhs = op, lhs, rhs

    def children(self) -> Sequence[Expression]:
        """Return both operands."""
        return (self.lhs, self.rhs)

    def resolve(self, scope: Scope) -> SQL:
        """Return ``lhs <op> rhs``; a power is ``power(lhs, rhs)``.

        Integers divide as in SQL (and Django): ``7 / 2`` is 3. SQLAlchemy's ``/`` would
        cast them to numeric for a true division; its ``//`` sends SQL's plain ``/``.
        """
        lhs, rhs = self.lhs.resolve(scope), self.rhs.resolve(scope)
        if self.op is operator.pow:
            return sa.func.power(lhs, rhs)
        if self.op is operator.truediv and _is_integer(lhs) and _is_integer(rhs):
            quotient: SQL = lhs // rhs
            return quotient
        result: SQL = self.op(lhs, rhs)
        return result

    def __repr__(self) -> str:
        return f"({self.lhs!r} {self.op.__name__} {self.rhs!r})"


class OrderBy(Expression):
    """An ordering: an expression, a direction and where NULLs go."""

    def __init__(
        self,
        expression: Expression,
        descending: bool = False,
        nulls_first: bool = False,
        nulls_last: bool = False,
    ) -> None:
        if nulls_first and nulls_last:
            raise ValueError("nulls_first and nulls_last are mutually exclusive")
        self.expression = expression
        self.descending = descending
        self.nulls_first = nulls_first
        self.nulls_last = nulls_last

    def children(self) -> Sequence[Expression]:
        """Return the ordered expression."""
        return (self.expression,)

    def reversed(self) -> OrderBy:
        """Return the opposite ordering (NULLs move to the other end, as in Django)."""
        return OrderBy(self.expression, not self.descending, self.nulls_last, self.nulls_first)

    def resolve(self, scope: Scope) -> SQL:
        """Return the ORDER BY element."""
        sql = self.expression.resolve(scope)
        clause: SQL = sql.desc() if self.descending else sql.asc()
        if self.nulls_first:
            clause = clause.nulls_first()
        elif self.nulls_last:
            clause = clause.nulls_last()
        return clause

    def __repr__(self) -> str:
        return f"OrderBy({self.expression!r}, descending={self.descending})"


class Func(Expression):
    """A SQL function call: ``Func("title", function="lower")``; strings name fields.

    Subclasses set ``function`` (and ``output_type`` when the result's type is fixed).
    """

    function: ClassVar[str] = ""
    output_type: TypeEngine[Any] | None = None

    def __init__(
        self, *expressions: Any, function: str | None = None, output_type: TypeEngine[Any] | None = None
    ) -> None:
        self.expressions = [as_expression(e) for e in expressions]
        self.name = function or self.function
        if not self.name:
            raise TypeError(f"{type(self).__name__} needs a function name")
        if output_type is not None:
            self.output_type = output_type

    def children(self) -> Sequence[Expression]:
        """Return the arguments."""
        return self.expressions

    def arguments(self, scope: Scope) -> list[SQL]:
        """Return the compiled arguments."""
        return [e.resolve(scope) for e in self.expressions]

    def resolve(self, scope: Scope) -> SQL:
        """Return ``function(arguments...)``."""
        call: SQL = getattr(sa.func, self.name)(*self.arguments(scope), type_=self.output_type)
        return call

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(map(repr, self.expressions))})"


class Lower(Func):
    """``lower(text)``."""

    function = "lower"


class Upper(Func):
    """``upper(text)``."""

    function = "upper"


class Length(Func):
    """``length(text)``."""

    function = "length"
    output_type = sa.Integer()


class Coalesce(Func):
    """The first argument that is not NULL; needs two arguments or more."""

    function = "coalesce"

    def __init__(self, *expressions: Any, output_type: TypeEngine[Any] | None = None) -> None:
        if len(expressions) < 2:
            raise ValueError("Coalesce needs at least two expressions")
        super().__init__(*expressions, output_type=output_type)


class Greatest(Func):
    """The largest argument (PostgreSQL ignores NULLs)."""

    function = "greatest"


class Least(Func):
    """The smallest argument (PostgreSQL ignores NULLs)."""

    function = "least"


class Concat(Func):
    """Text concatenation that treats NULL as empty text (PostgreSQL ``concat``)."""

    function = "concat"
    output_type = sa.Text()


class Now(Func):
    """The transaction's timestamp, from the server's clock."""

    function = "now"
    output_type = sa.DateTime(timezone=True)

    def __init__(self) -> None:
        super().__init__()


class Cast(Expression):
    """``CAST(expression AS type)``; the type is a SQLAlchemy type (``sa.Integer()``)."""

    def __init__(self, expression: Any, output_type: TypeEngine[Any] | type[TypeEngine[Any]]) -> None:
        self.expression = as_expression(expression)
        self.output_type = output_type

    def children(self) -> Sequence[Expression]:
        """Return the cast expression."""
        return (self.expression,)

    def resolve(self, scope: Scope) -> SQL:
        """Return the CAST."""
        return sa.cast(self.expression.resolve(scope), self.output_type)


class When(Expression):
    """One branch of a :class:`Case`: a condition (``Q``, lookups or an expression) and its result."""

    def __init__(self, condition: Q | Expression | None = None, then: Any = None, **lookups: Any) -> None:
        if condition is None and not lookups:
            raise TypeError("When() needs a condition: a Q object, an expression or lookups")
        if lookups:
            condition = Q(condition, **lookups) if isinstance(condition, Q) else Q(**lookups)
        self.condition: Q | Expression = condition  # type: ignore[assignment]
        self.result = as_expression(then)

    def children(self) -> Sequence[Expression]:
        """Return the condition (when it is an expression) and the result."""
        return (self.result,) if isinstance(self.condition, Q) else (self.condition, self.result)

    def compile_condition(self, scope: Scope) -> SQL:
        """Return the SQL condition of this branch."""
        if isinstance(self.condition, Q):
            sql = scope.condition(self.condition)
            return sa.true() if sql is None else sql
        return self.condition.resolve(scope)

    def resolve(self, scope: Scope) -> SQL:
        """Return a one-branch CASE."""
        return Case(self).resolve(scope)


class Case(Expression):
    """``CASE WHEN ... THEN ... ELSE default END``."""

    def __init__(self, *cases: When, default: Any = None, output_type: TypeEngine[Any] | None = None) -> None:
        if not all(isinstance(c, When) for c in cases):
            raise TypeError("Case() takes When() objects")
        self.cases = cases
        self.default = as_expression(default)
        self.output_type = output_type

    def children(self) -> Sequence[Expression]:
        """Return every branch and the default."""
        return (*self.cases, self.default)

    def resolve(self, scope: Scope) -> SQL:
        """Return the CASE expression (just the default when there is no branch)."""
        default = self.default.resolve(scope)
        if not self.cases:
            return default
        whens = [(c.compile_condition(scope), c.result.resolve(scope)) for c in self.cases]
        case = sa.case(*whens, else_=default)
        return sa.cast(case, self.output_type) if self.output_type is not None else case


class Subquery(Expression):
    """A QuerySet used as a scalar value: its one selected column of its first row."""

    def __init__(self, queryset: QuerySet[Any]) -> None:
        self.queryset = queryset

    def resolve(self, scope: Scope) -> SQL:
        """Return the correlated scalar subquery."""
        return scope.subquery(self.queryset).scalar_subquery()


class Exists(Subquery):
    """Whether a QuerySet (usually filtered with :class:`OuterRef`) has any row."""

    def resolve(self, scope: Scope) -> SQL:
        """Return ``EXISTS (subquery)``."""
        return sa.exists(scope.subquery(self.queryset))


class Condition(Expression):
    """A ``Q`` as a boolean value: ``annotate(is_late=Q(due_at__lt=Now()))``, as Django allows."""

    def __init__(self, q: Q) -> None:
        self.q = q

    def resolve(self, scope: Scope) -> SQL:
        """Return the condition (``TRUE`` for an empty ``Q``)."""
        sql = scope.condition(self.q)
        return sa.true() if sql is None else sql


class _Not(Expression):
    def __init__(self, inner: Expression) -> None:
        self.inner = inner

    def children(self) -> Sequence[Expression]:
        return (self.inner,)

    def resolve(self, scope: Scope) -> SQL:
        return sa.not_(self.inner.resolve(scope))


class Q:
    """A condition tree: keyword lookups joined with ``&`` and ``|``, negated with ``~``.

    Every keyword is a lookup: ``Q(**user_input)`` can never change the tree's
    connector or negation (those are set only by the operators).
    """

    AND = "AND"
    OR = "OR"

    def __init__(self, *children: Q | Expression | tuple[str, Any], **lookups: Any) -> None:
        for child in children:
            if not isinstance(child, (Q, Expression, tuple)):
                raise TypeError(f"Q() takes Q objects, expressions and keywords, not {type(child).__name__}")
        self.children: list[Q | Expression | tuple[str, Any]] = [*children, *sorted(lookups.items())]
        self.connector = self.AND
        self.negated = False

    @classmethod
    def make(cls, children: Sequence[Q | Expression | tuple[str, Any]], connector: str, negated: bool) -> Q:
        """Return a tree with the given children, connector and negation."""
        node = cls()
        node.children = list(children)
        node.connector = connector
        node.negated = negated
        return node

    def _combine(self, other: Any, connector: str) -> Q:
        if not isinstance(other, Q):
            raise TypeError(f"cannot combine Q with {type(other).__name__}")
        if not other.children:
            return Q.make(self.children, self.connector, self.negated)
        if not self.children:
            return Q.make(other.children, other.connector, other.negated)
        return Q.make([self, other], connector, False)

    def __and__(self, other: Q) -> Q:
        return self._combine(other, self.AND)

    def __or__(self, other: Q) -> Q:
        return self._combine(other, self.OR)

    def __invert__(self) -> Q:
        return Q.make([self], self.AND, True)

    def __bool__(self) -> bool:
        return bool(self.children)

    def __repr__(self) -> str:
        return f"<Q {'NOT ' if self.negated else ''}{self.connector}: {self.children!r}>"
