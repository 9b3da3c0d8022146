"""Query: the immutable description of one query. It compiles to SQL and holds no session.

Every refinement returns a new :class:`Query`. Names are checked and lookup values are
converted to their field's type when the refinement is made, so mistakes raise
:class:`~assistant_models.exceptions.FieldError` or
:class:`~assistant_models.exceptions.ValidationError` before any SQL exists. Values are
kept as bound parameters; a query made only of such values has a hashable
:attr:`Query.shape`, and its statement is built once per shape
(:mod:`assistant_models.core.compiler`).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeEngine

from assistant_models.core.base import refuse_nul
from assistant_models.core.concerns import LIVE
from assistant_models.core.expressions import Expression, F, OrderBy, Q, RawSQL
from assistant_models.core.paths import SEP, Path, PathError, describe
from assistant_models.exceptions import FieldError, ValidationError

__all__ = ["Annotation", "Leaf", "Node", "Query"]

#: The largest row count or offset PostgreSQL accepts (a bigint).
MAX_ROWS = 2**63 - 1


@dataclass(frozen=True, slots=True)
class Leaf:
    """One ``path=value`` lookup, its value converted (or an expression, a QuerySet, NULL)."""

    path: Path
    value: Any
    kind: str  # "param" | "null" | "expr" | "query"
    shape: Hashable
    param: str
    group: int
    written: str = ""


@dataclass(frozen=True, slots=True)
class Node:
    """Lookups and expressions joined by AND or OR, possibly negated."""

    children: tuple[Leaf | Node | Expression, ...]
    connector: str = Q.AND
    negated: bool = False

    def leaves(self) -> Iterable[Leaf]:
        """Yield every lookup of the tree."""
        for child in self.children:
            if isinstance(child, Leaf):
                yield child
            elif isinstance(child, Node):
                yield from child.leaves()

    @property
    def shape(self) -> Hashable | None:
        """Return the hashable shape of the tree, or ``None`` when an expression makes it unique."""
        parts: list[Hashable] = [self.connector, self.negated]
        for child in self.children:
            if isinstance(child, Leaf):
                if child.kind not in ("param", "null"):
                    return None
                parts.append((child.written, child.shape, child.param, child.group))
            else:
                shape = child.shape
                if shape is None:
                    return None
                parts.append(shape)
        return tuple(parts)


@dataclass(frozen=True, slots=True)
class Annotation:
    """A named expression computed per row (``selected``) or only usable in the query (``alias``)."""

    name: str
    expression: Expression
    selected: bool
    type_: TypeEngine[Any]
    group: int

    @property
    def aggregate(self) -> bool:
        """Return whether the expression aggregates rows."""
        return self.expression.has_aggregate


@dataclass(frozen=True)
class Query:
    """What to select from one model: conditions, annotations, ordering, slice and shape.

    Built by :class:`~assistant_models.core.queryset.QuerySet`; compiled by
    :class:`~assistant_models.core.compiler.Compiler`.
    """

    model: type[Any]
    visibility: str = LIVE
    where: tuple[Node, ...] = ()
    raw_where: tuple[ColumnElement[bool], ...] = ()
    bound_where: tuple[tuple[Hashable, ColumnElement[bool]], ...] = ()
    annotations: tuple[Annotation, ...] = ()
    order: tuple[OrderBy, ...] | None = None
    values: tuple[tuple[str, Expression], ...] | None = None
    grouped_by_values: bool = False
    distinct: bool = False
    distinct_on: tuple[Expression, ...] = ()
    low: int = 0
    high: int | None = None
    for_update: tuple[tuple[str, Any], ...] | None = None
    select_related: tuple[str, ...] = ()
    prefetch_related: tuple[str, ...] = ()
    only: tuple[str, ...] = ()
    defer: tuple[str, ...] = ()
    combinator: tuple[str, tuple[Query, ...], bool] | None = None
    empty: bool = False
    params: dict[str, Any] = field(default_factory=dict)
    groups: int = 0
    next_param: int = 0  # number of the next parameter name (``am<n>``): names never repeat

    # -- state ------------------------------------------------------------------------------

    def clone(self, **changes: Any) -> Query:
        """Return a copy with ``changes`` (fields are not re-validated: callers pass their own types)."""
        new = object.__new__(Query)
        new.__dict__.update(self.__dict__)
        new.__dict__.update(changes)
        return new

    @property
    def is_sliced(self) -> bool:
        """Return whether a LIMIT or OFFSET applies."""
        return self.low != 0 or self.high is not None

    @property
    def limit(self) -> int | None:
        """Return the LIMIT, or ``None``."""
        return None if self.high is None else self.high - self.low

    @property
    def has_aggregate(self) -> bool:
        """Return whether an annotation aggregates rows (the query groups)."""
        return any(a.aggregate for a in self.annotations)

    def annotation(self, name: str) -> Annotation | None:
        """Return the annotation called ``name``, or ``None``."""
        return next((a for a in self.annotations if a.name == name), None)

    def annotation_types(self) -> dict[str, TypeEngine[Any]]:
        """Return every annotation name with its SQL type."""
        return {a.name: a.type_ for a in self.annotations}

    @property
    def shape(self) -> Hashable | None:
        """Return what determines this query's SQL (not its values), or ``None`` if only it has it."""
        if self.raw_where or self.combinator or self.distinct_on:
            return None
        annotations = tuple((a.name, a.selected, a.group, a.expression.shape) for a in self.annotations)
        if any(shape is None for *_, shape in annotations):
            return None
        values: tuple[Hashable, ...] | None = None
        if self.values is not None:
            if any(type(expr) is not F for _, expr in self.values):
                return None
            values = tuple((name, expr.name) for name, expr in self.values)  # type: ignore[attr-defined]
        order: tuple[Hashable, ...] | None = None
        if self.order is not None:
            shapes = [order_shape(o) for o in self.order]
            if any(n is None for n in shapes):
                return None
            order = tuple(shapes)
        wheres = []
        for node in self.where:
            shape = node.shape
            if shape is None:
                return None
            wheres.append(shape)
        return (
            self.model,
            self.visibility,
            tuple(wheres),
            tuple(token for token, _ in self.bound_where),
            order,
            self.distinct,
            self.low,
            self.high,
            self.for_update,
            self.select_related,
            self.prefetch_related,
            self.only,
            self.defer,
            self.empty,
            values,
            annotations,
        )

    # -- refinements ------------------------------------------------------------------------

    def add_q(self, node: Q, negate: bool = False) -> Query:
        """Return the query with one more condition tree (a new group of multi-valued joins).

        Raises:
            FieldError: Unknown fields or lookups (all of them, together).
            ValidationError: A value of the wrong type for its field.
        """
        builder = _Builder(self, self.groups)
        built = builder.node(node)
        builder.check()
        if not built.children:
            return self
        if negate:
            built = Node((built,), Q.AND, True)
        return self.clone(
            where=(*self.where, built),
            params={**self.params, **builder.params},
            groups=self.groups + 1,
            next_param=builder.counter,
        )

    def bind(self, expression: Expression) -> tuple[Query, Expression]:
        """Return the query holding the values of ``expression`` as parameters, and the bound expression.

        See :meth:`Expression.bind`; an expression that binds nothing comes back as it is.
        """
        params: dict[str, Any] = {}
        bound = expression.bind(_namer(params, self.next_param))
        if not params:
            return self, expression
        return self.clone(params={**self.params, **params}, next_param=self.next_param + len(params)), bound

    def combine(self, other: Query, connector: str) -> Query:
        """Return the rows of this query AND/OR those of ``other`` (``qs1 & qs2``, ``qs1 | qs2``).

        Both queries keep their own joins: ``other``'s parameters and join groups are
        renumbered after this one's, as Django keeps the joins of each side.

        Raises:
            ValidationError: The queries are of different models, sliced, combined, or
                differ in distinctness or annotations.
        """
        problem = _combine_problem(self, other)
        if problem:
            raise ValidationError.single("other", problem, self.model.__name__)
        if connector == Q.OR and (self.empty or other.empty):
            return other if self.empty else self
        if connector == Q.AND and (self.empty or other.empty):
            return self.clone(empty=True)
        right, params = _renumbered(other, self.next_param, self.groups)
        left = Node((*self.where, *(RawSQL(c) for c in self.raw_where)), Q.AND, False)
        sides = tuple(side for side in (left, right) if side.children)
        if connector == Q.OR and len(sides) < 2:
            combined: tuple[Node, ...] = ()  # one side has no condition: every row matches
        else:
            combined = (Node(sides, connector, False),) if sides else ()
        return self.clone(
            where=combined,
            raw_where=(),
            params={**self.params, **params},
            groups=self.groups + other.groups,
            next_param=self.next_param + other.next_param,
        )

    def add_ordering(self, items: Sequence[str | Expression], problems: list[str]) -> tuple[OrderBy, ...]:
        """Return ``items`` as orderings, checking names; problems go to ``problems``."""
        result: list[OrderBy] = []
        for item in items:
            if isinstance(item, OrderBy):
                result.append(item)
            elif isinstance(item, Expression):
                result.append(item.asc())
            elif isinstance(item, str) and item == "?":
                result.append(OrderBy(RawSQL(_RANDOM)))
            elif isinstance(item, str) and item:
                result.extend(self._ordering_by_name(item.lstrip("-"), item.startswith("-"), problems))
            else:
                problems.append(f"{item!r} is not a field name or an expression to order by")
        return tuple(result)

    def _ordering_by_name(
        self, name: str, descending: bool, problems: list[str], seen: frozenset[type[Any]] = frozenset()
    ) -> list[OrderBy]:
        """Return the ordering by a field name; a relation orders by its model's ``__ordering__``.

        As Django's ``find_ordering_name``: ``order_by("author")`` follows the ordering of
        the author's model (reversed by a ``-``), each name prefixed with ``author__``;
        without one it orders by the relation's key.
        """
        try:
            path = self.check_reference(name)
        except PathError as exc:
            problems.append(str(exc))
            return [OrderBy(F(name), descending=descending)]
        target, last = path.relation, name.rsplit(SEP, 1)[-1]
        named = target is not None and last != "pk" and last not in sa.inspect(target).column_attrs
        ordering = getattr(target, "__ordering__", ()) if named and not path.transforms else ()
        if target is None or not ordering:  # a column, or a relation whose model has none: its key
            return [OrderBy(F(name), descending=descending)]
        if target in seen:  # its ordering would be followed again, and again
            problems.append(f"{name!r}: infinite loop caused by ordering")
            return []
        result: list[OrderBy] = []
        for item in ordering:
            if isinstance(item, str):
                inner, flipped = f"{name}{SEP}{item.lstrip('-')}", descending != item.startswith("-")
                result.extend(self._ordering_by_name(inner, flipped, problems, seen | {target}))
            elif type(item) is F:  # takes the direction asked for, as Django's F in Meta.ordering
                result.append(OrderBy(F(f"{name}{SEP}{item.name}"), descending=descending))
            elif isinstance(item, OrderBy) and type(item.expression) is F:  # keeps its own direction
                prefixed = F(f"{name}{SEP}{item.expression.name}")
                result.append(OrderBy(prefixed, item.descending, item.nulls_first, item.nulls_last))
            else:
                problems.append(f"{name!r}: the ordering {item!r} of the related model cannot be followed")
        return result

    def check_reference(self, name: str) -> Path:
        """Return the path ``name`` names, as an expression would use it.

        Raises:
            PathError: The path does not exist or holds a secret.
        """
        path = describe(self.model, name, self.annotation_types())
        problem = secret_problem(self.model, path, name)
        if problem:
            raise PathError(problem)
        return path


def order_name(order: OrderBy) -> str | None:
    """Return an ordering as a field name (``-created_at``), or ``None`` for other expressions."""
    if type(order.expression) is not F or order.nulls_first or order.nulls_last:
        return None
    return ("-" if order.descending else "") + order.expression.name


def order_shape(order: OrderBy) -> Hashable | None:
    """Return what an ordering contributes to a statement's shape, or ``None`` if only it has it."""
    name = order_name(order)
    if name is not None:
        return name
    if type(order.expression) is not F:
        return None
    return (order.expression.name, order.descending, order.nulls_first, order.nulls_last)


_RANDOM: ColumnElement[Any] = sa.func.random()


_UNSET: Any = object()


def _namer(params: dict[str, Any], first: int) -> Callable[[Any], str]:
    """Return a namer (see :meth:`Expression.bind`) numbering from ``first`` and recording in ``params``."""

    def name(value: Any) -> str:
        key = f"am{first + len(params)}"
        params[key] = value
        return key

    return name


class _Builder:
    """Turns ``Q`` trees into :class:`Node` trees: names checked, values converted, parameters named."""

    def __init__(self, query: Query, group: int) -> None:
        self.query = query
        self.group = group
        self.params: dict[str, Any] = {}
        self.problems: list[str] = []
        self.counter = query.next_param
        self.annotations = query.annotation_types()

    def node(self, q: Q) -> Node:
        children: list[Leaf | Node | Expression] = []
        for child in q.children:
            if isinstance(child, Q):
                built = self.node(child)
                if built.children:
                    children.append(built)
            elif isinstance(child, Expression):
                children.append(child.bind(self.name))
            else:
                leaf = self.leaf(*child)
                if leaf is not None:
                    children.append(leaf)
        return Node(tuple(children), q.connector, q.negated)

    def leaf(self, written: str, value: Any) -> Leaf | None:
        try:
            path = describe(self.query.model, written, self.annotations)
        except PathError as exc:
            self.problems.append(str(exc))
            return None
        problem = secret_problem(self.query.model, path, written)
        if problem:
            self.problems.append(problem)
        name = self.name()
        lookup = path.lookup
        model = self.query.model.__name__
        if isinstance(value, (Expression, ColumnElement)):
            expr = value if isinstance(value, Expression) else RawSQL(value)
            return Leaf(path, expr, "expr", None, name, self.group, written)
        if _is_queryset(value):
            return Leaf(path, value, "query", None, name, self.group, written)
        if value is None:
            if not lookup.accepts_none:
                raise ValidationError.single(written, f"{lookup.lookup_name} lookup cannot take None", model)
            return Leaf(path, None, "null", "null", name, self.group, written)
        refuse_nul({written: value}, model)
        try:
            prepared = lookup.prepare(value, path.coerce)
        except (TypeError, ValueError) as exc:
            raise ValidationError.single(
                written, str(exc) or f"bad {lookup.lookup_name} value", model
            ) from None
        for each in prepared if isinstance(prepared, list) else (prepared,):  # text coerced to a naive time
            refuse_nul({written: each}, model)
        shape = lookup.shape(prepared)
        self.params.update(lookup.parameters(prepared, name))
        return Leaf(path, prepared, "param", shape, name, self.group, written)

    def name(self, value: Any = _UNSET) -> str:
        """Return the next parameter name; with ``value``, record it under that name (expressions)."""
        name = f"am{self.counter}"
        self.counter += 1
        if value is not _UNSET:
            self.params[name] = value
        return name

    def check(self) -> None:
        if self.problems:
            raise FieldError(self.problems, self.query.model.__name__)


def _is_queryset(value: Any) -> bool:
    return isinstance(getattr(value, "query", None), Query) and hasattr(value, "compiler")


def secret_problem(model: type[Any], path: Path, written: str) -> str | None:
    """Return the problem of a path that reaches a secret field, or ``None``."""
    owner = path.hops[-1].target if path.hops else model
    if path.column is not None and path.column in getattr(owner, "__secret_fields__", ()):
        return f"{written!r} holds a secret and cannot be used in a query"
    return None


def check_rows(value: int, what: str) -> int:
    """Refuse a slice bound PostgreSQL could not take."""
    if value > MAX_ROWS:
        raise ValidationError.single("slice", f"{what} is larger than {MAX_ROWS}")
    return value


def _combine_problem(left: Query, right: Query) -> str | None:
    if left.model is not right.model:
        return f"cannot combine a {left.model.__name__} query with a {right.model.__name__} one"
    if left.is_sliced or right.is_sliced or left.combinator or right.combinator:
        return "cannot combine sliced or combined QuerySets"
    if left.distinct != right.distinct or left.distinct_on or right.distinct_on:
        return "cannot combine a distinct QuerySet with one that is not"
    if right.annotations or right.bound_where or right.values is not None:
        return "the right-hand QuerySet cannot carry annotations, values() or bound conditions"
    return None


def _renumbered(query: Query, first_param: int, first_group: int) -> tuple[Node, dict[str, Any]]:
    """Return ``query``'s conditions as one tree, parameters and join groups renumbered after others."""
    params: dict[str, Any] = {}
    counter = [first_param]

    def name(value: Any = _UNSET) -> str:
        key = f"am{counter[0]}"
        counter[0] += 1
        if value is not _UNSET:
            params[key] = value
        return key

    def leaf(old: Leaf) -> Leaf:
        key = name()
        if old.kind == "param":
            params.update(old.path.lookup.parameters(old.value, key))
        return Leaf(old.path, old.value, old.kind, old.shape, key, old.group + first_group, old.written)

    def node(old: Node) -> Node:
        children = tuple(
            leaf(c) if isinstance(c, Leaf) else node(c) if isinstance(c, Node) else c.bind(name)
            for c in old.children
        )
        return Node(children, old.connector, old.negated)

    tree = Node((*query.where, *(RawSQL(c) for c in query.raw_where)), Q.AND, False)
    return node(tree), params
