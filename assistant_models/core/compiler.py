"""Compiler: turns a :class:`~assistant_models.core.query.Query` into SQLAlchemy statements.

It is the :class:`~assistant_models.core.expressions.Scope` expressions resolve in:
paths become joined columns (one LEFT OUTER JOIN per relation path; a multi-valued
relation gets a join of its own per ``filter()`` call, which annotations and aggregates
made after it reuse, as in Django), annotations become labelled columns, conditions that
use aggregates go to HAVING. Visibility comes from the model's concerns; the compiler
names no column itself.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import aliased, defer, joinedload, load_only, selectinload
from sqlalchemy.orm.strategy_options import _AbstractLoad

from assistant_models.core.concerns import LIVE, concerns_of
from assistant_models.core.expressions import SQL, Expression, F, OrderBy, Q, RawSQL
from assistant_models.core.ordering import distinct_order, loaded_columns, typed_constant
from assistant_models.core.paths import SEP, Path, PathError, describe, primary_key
from assistant_models.core.query import Leaf, Node, Query, secret_problem
from assistant_models.exceptions import FieldError, ValidationError

if TYPE_CHECKING:
    from assistant_models.core.queryset import QuerySet

__all__ = ["Compiler", "visibility"]

_aliases = itertools.count()
#: The join group of annotations that reuse no filter's join: they share theirs.
ANNOTATIONS = -1


def visibility(entity: Any, model: type[Any], mode: str) -> SQL | None:
    """Return the condition that shows ``mode`` rows of ``model`` through ``entity`` (or ``None``)."""
    conditions = [c for c in (k.visibility(entity, mode) for k in concerns_of(model)) if c is not None]
    if not conditions:
        return None
    return conditions[0] if len(conditions) == 1 else sa.and_(*conditions)


class Compiler:
    """Compiles one query; a new compiler per statement (joins are gathered as paths are met).

    Args:
        query: The query to compile.
        root: The entity rows come from: the model, or an alias of it inside a subquery.
        outer: The enclosing query's compiler, for :class:`~assistant_models.core.expressions.OuterRef`.
        inline: Give each parameter its value in the statement itself, under a unique name
            (subqueries: their names must not meet the enclosing query's).
    """

    def __init__(
        self, query: Query, root: Any = None, outer: Compiler | None = None, inline: bool = False
    ) -> None:
        self.query = query
        self.inline = query.params if inline else None
        self.model = query.model
        self.entity = root if root is not None else query.model
        self.outer = outer
        self.joins: dict[str, tuple[Any, Any, SQL | None]] = {}
        self._annotations: dict[str, SQL] = {}
        self._resolving: list[int] = []
        self._at: list[int] = []  # when what is compiled was made: an annotation's group, or last
        self._joined_by: dict[str, set[int]] | None = None

    def visible_annotations(self) -> dict[str, Any]:
        """Return the annotations a reference may name: while one is being compiled, those before it."""
        annotations = self.query.annotations
        if self._resolving:
            annotations = annotations[: self._resolving[-1]]
        return {a.name: a.type_ for a in annotations}

    # -- the Scope protocol -----------------------------------------------------------------

    def reference(self, name: str) -> SQL:
        """Return the SQL of a field path or annotation (raises ``FieldError`` when unknown)."""
        try:
            path = describe(self.model, name, self.visible_annotations())
        except PathError as exc:
            raise FieldError([str(exc)], self.model.__name__) from None
        problem = secret_problem(self.model, path, name)
        if problem:
            raise FieldError([problem], self.model.__name__)
        return self.path_sql(path, None)

    def outer_reference(self, name: str) -> SQL:
        """Return a column of the enclosing query."""
        if self.outer is None:
            raise FieldError([f"OuterRef({name!r}) is only valid inside a subquery"], self.model.__name__)
        return self.outer.reference(name)

    def condition(self, node: Q) -> SQL | None:
        """Return the SQL of a ``Q`` tree met inside an expression (its values bound inline)."""
        built = self.query.add_q(node)
        if built is self.query:
            return None
        return self.node_sql(built.where[-1], False, inline=built.params)

    def subquery(self, qs: QuerySet[Any]) -> sa.Select[Any]:
        """Return ``qs`` compiled as a SELECT whose root is an alias, correlated to this query."""
        query = qs.query
        root = aliased(query.model, name=f"u{next(_aliases)}")
        stmt: sa.Select[Any] = Compiler(query, root=root, outer=self, inline=True).select()
        return stmt

    def parameter(self, name: str, value: Any, type_: Any) -> SQL:
        """Return a parameter an expression binds: by its name if the query holds it, else unique.

        Subqueries and conditions nested in expressions bind their values inside the SQL
        (unique names), as their lookups do; the query's own parameters keep their names,
        so a cached statement takes each call's values from the query.
        """
        own = self.inline is None and name in self.query.params
        return sa.bindparam(name, value, type_=type_, unique=not own)

    # -- paths ------------------------------------------------------------------------------

    def path_sql(self, path: Path, group: int | None) -> SQL:
        """Return the column a path names (joining its relations), transforms applied."""
        if path.annotation is not None:
            sql = self.annotation_sql(path.annotation)
        else:
            entity = self.entity_for(path, group)
            key = path.column if path.column is not None else primary_key(path.hops[-1].target)[0]
            sql = getattr(entity, key)
        for transform in path.transforms:
            sql = transform(sql).as_sql()
        return sql

    def entity_for(self, path: Path, group: int | None) -> Any:
        """Return the entity (an alias of a joined model) the path's column lives on."""
        entity, key, multi = self.entity, "", False
        for hop in path.hops:
            key = f"{key}{SEP}{hop.key}" if key else hop.key
            if hop.multi and not multi and group is None:
                group = self._reused_group(key)
            multi = multi or hop.multi
            join_key = f"{key}#{group if group is not None else 'r'}" if multi else key
            if multi and group is None:
                join_key = next((k for k in self.joins if k.split("#")[0] == key), join_key)
            if join_key not in self.joins:
                alias = aliased(hop.target, name=f"j{next(_aliases)}_{hop.key}")
                live = visibility(alias, hop.target, LIVE) if self.query.visibility == LIVE else None
                self.joins[join_key] = (getattr(entity, hop.key), alias, live)
            entity = self.joins[join_key][1]
        return entity

    def _reused_group(self, key: str) -> int | None:
        """Return the filter group whose join of the multi-valued relation ``key`` an annotation reuses.

        Django's rule (``Query.join(reuse=None)``): an annotation reuses the most recent
        join of the relation, so ``filter(book__price__lt=40).annotate(n=Count("book"))``
        counts only the matching books, while an annotation made before the filter has
        a join of its own (shared by the annotations that follow it). ``aggregate()``
        comes after every filter (:meth:`summary`). ``None`` outside an annotation.
        """
        if not self._at:
            return None
        before = self._at[-1]
        earlier = [g for g in self._filter_joins().get(key, ()) if g < before]
        return max(earlier) if earlier else ANNOTATIONS

    def _filter_joins(self) -> dict[str, set[int]]:
        """Return, per multi-valued relation path, the ``filter()`` groups that join it."""
        if self._joined_by is None:
            self._joined_by = {}
            for node in self.query.where:
                for leaf in _joined_leaves(node):
                    key = ""
                    for hop in leaf.path.hops:
                        key = f"{key}{SEP}{hop.key}" if key else hop.key
                        if hop.multi:
                            self._joined_by.setdefault(key, set()).add(leaf.group)
                            break
        return self._joined_by

    def annotation_sql(self, name: str) -> SQL:
        """Return the SQL of annotation ``name``."""
        sql = self._annotations.get(name)
        if sql is None:
            index = next((i for i, a in enumerate(self.query.annotations) if a.name == name), None)
            if index is None:
                raise FieldError([f"no annotation {name!r}"], self.model.__name__)
            annotation = self.query.annotations[index]
            self._resolving.append(index)
            self._at.append(annotation.group)
            try:
                sql = self._annotations[name] = annotation.expression.resolve(self)
            finally:
                self._resolving.pop()
                self._at.pop()
        return sql

    def summary(self, expression: Expression) -> SQL:
        """Return an expression over the query's rows (``aggregate()``), made after every refinement.

        Like an annotation made last, it reuses the joins of the filters before it.
        """
        self._at.append(self.query.groups)
        try:
            return expression.resolve(self)
        finally:
            self._at.pop()

    # -- conditions -------------------------------------------------------------------------

    def node_sql(
        self, node: Node, negated: bool, inline: dict[str, Any] | None = None, branch: bool = False
    ) -> SQL:
        """Return the SQL of a condition tree.

        Args:
            node: The tree.
            negated: Whether an odd number of NOTs enclose it (NULL handling follows it).
            inline: Parameter values to bind inside the SQL (subqueries).
            branch: Whether any NOT encloses it: multi-valued relations then become
                subqueries, as in Django, so a NOT never applies to a join's duplicates.
        """
        inside = negated != node.negated
        under_not = branch or node.negated
        parts: list[SQL] = []
        for child in node.children:
            if isinstance(child, Leaf):
                parts.append(self.leaf_sql(child, inside, inline, under_not))
            elif isinstance(child, Node):
                parts.append(self.node_sql(child, inside, inline, under_not))
            else:
                parts.append(child.resolve(self))
        if not parts:  # an empty tree: no condition
            return sa.false() if node.negated else sa.true()
        combined = sa.or_(*parts) if node.connector == Q.OR else sa.and_(*parts)
        return sa.not_(combined) if node.negated else combined

    def leaf_sql(
        self, leaf: Leaf, negated: bool, inline: dict[str, Any] | None = None, branch: bool = False
    ) -> SQL:
        """Return the SQL of one lookup; under a NOT, NULLs and multi-valued relations follow Django."""
        if (negated or branch) and leaf.path.multi:
            return self._multi_valued_exclusion(leaf, inline if inline is not None else self.inline)
        lhs = self.path_sql(leaf.path, leaf.group)
        rhs = self.rhs_sql(leaf, inline)
        condition = leaf.path.lookup(lhs, rhs).as_sql()
        if negated and leaf.kind not in ("null",) and leaf.path.lookup.lookup_name != "isnull":
            guards = [lhs.is_not(None)] if leaf.path.nullable else []
            if leaf.kind == "expr" and isinstance(leaf.value, F) and self._nullable(leaf.value.name):
                guards.append(rhs.is_not(None))
            if guards:
                condition = sa.and_(condition, *guards)
        return condition

    def rhs_sql(self, leaf: Leaf, inline: dict[str, Any] | None = None) -> Any:
        """Return the right-hand side of a lookup: a parameter, NULL, an expression or a subquery."""
        lookup = leaf.path.lookup
        if leaf.kind == "null":
            return sa.null()
        if leaf.kind == "expr":
            return lookup.process_expression(leaf.value.resolve(self))
        if leaf.kind == "query":
            return self.subquery(_single_column(leaf.value, leaf.written))
        placeholder = lookup.placeholder(leaf.path.type_, leaf.param, leaf.shape)
        values = inline if inline is not None else self.inline
        if values is None:
            return placeholder
        if isinstance(placeholder, tuple):
            return tuple(_with_value(p, values) for p in placeholder)
        return _with_value(placeholder, values)

    def _nullable(self, name: str) -> bool:
        try:
            return describe(self.model, name, self.visible_annotations()).nullable
        except PathError:
            return True

    def _multi_valued_exclusion(self, leaf: Leaf, inline: dict[str, Any] | None) -> SQL:
        """Return ``key IN (rows having a related row that matches)``, to be negated by the caller.

        ``exclude(tags__name="a")`` drops rows with *any* tag named ``a`` (Django's
        semantics), which a join cannot say.
        """
        root = aliased(self.model, name=f"x{next(_aliases)}")
        inner = Compiler(Query(self.model, self.query.visibility), root=root, outer=self)
        inner.inline = self.inline
        condition = inner.leaf_sql(leaf, False, inline)
        keys = [getattr(root, k) for k in primary_key(self.model)]
        stmt = inner.apply_joins(sa.select(*keys).select_from(root)).where(condition)
        own = [getattr(self.entity, k) for k in primary_key(self.model)]
        target: SQL = own[0] if len(own) == 1 else sa.tuple_(*own)
        return target.in_(stmt)

    def apply_joins(self, stmt: Any) -> Any:
        """Add the gathered joins (LEFT OUTER, hidden rows excluded) to ``stmt``."""
        for attribute, alias, live in self.joins.values():
            onclause = attribute.of_type(alias)
            stmt = stmt.outerjoin(onclause.and_(live) if live is not None else onclause)
        return stmt

    # -- statements -------------------------------------------------------------------------

    def conditions(self) -> tuple[list[SQL], list[SQL]]:
        """Return the WHERE and HAVING conditions (those that use an aggregate annotation)."""
        where: list[SQL] = []
        having: list[SQL] = []
        aggregated = {a.name for a in self.query.annotations if a.aggregate}

        def uses_aggregate(part: Leaf | Node | Any) -> bool:
            leaves = [part] if isinstance(part, Leaf) else part.leaves() if isinstance(part, Node) else []
            return any(leaf.path.annotation in aggregated for leaf in leaves)

        for node in self.query.where:
            if not aggregated or not uses_aggregate(node):
                where.append(self.node_sql(node, False))
            elif node.connector == Q.AND and not node.negated:
                # as Django: an AND splits, so conditions on rows stay in WHERE (before grouping)
                for part in node.children:
                    single = Node((part,), Q.AND, False)
                    (having if uses_aggregate(part) else where).append(self.node_sql(single, False))
            else:
                having.append(self.node_sql(node, False))
        where.extend(self.query.raw_where)
        where.extend(condition for _, condition in self.query.bound_where)
        visible = visibility(self.entity, self.model, self.query.visibility)
        if visible is not None:
            where.append(visible)
        if self.query.empty:
            where.append(sa.false())
        return where, having

    def ordering(self) -> list[SQL]:
        """Return the ORDER BY elements: the query's ordering, else the model's default."""
        order = self.query.order
        if order is None and self.query.has_aggregate:
            return []  # a model's default ordering never reaches a GROUP BY query (as in Django)
        if order is None:
            default = getattr(self.model, "__ordering__", ())
            problems: list[str] = []
            order = self.query.add_ordering(default, problems)
            if problems:  # an ordering that follows itself through relations (Django raises too)
                raise FieldError(problems, self.model.__name__)
        return [self._ordered(item) for item in order]

    def _ordered(self, item: OrderBy) -> SQL:
        """Return the ORDER BY element of ``item``; a constant is cast to its type (as in Django)."""
        sql = typed_constant(item.expression.resolve(self))
        return OrderBy(RawSQL(sql), item.descending, item.nulls_first, item.nulls_last).resolve(self)

    def columns(self) -> list[Any]:
        """Return what the SELECT lists: the entity (or the ``values()`` columns), then annotations."""
        query = self.query
        selected = [self.annotation_sql(a.name).label(a.name) for a in query.annotations if a.selected]
        if query.values is None:
            return [self.entity, *selected]
        values = [expr.resolve(self).label(name) for name, expr in query.values]
        named = {name for name, _ in query.values}
        return [*values, *(c for c in selected if c.name not in named)]

    def select(self, columns: list[Any] | None = None, ordered: bool = True, sliced: bool = True) -> Any:
        """Return the SELECT of this query (its rows, or ``columns`` over the same rows)."""
        query = self.query
        if query.combinator is not None:
            return self._combined(ordered, sliced)
        listed = self.columns() if columns is None else columns
        where, having = self.conditions()
        order = self.ordering() if ordered else []
        if order and query.distinct and not query.distinct_on and self.outer is None:
            listed, order = distinct_order(listed, order, self.entity, loaded_columns(query, self.entity))
        distinct_on = [e.resolve(self) for e in query.distinct_on]
        stmt = self.apply_joins(sa.select(*listed).select_from(self.entity))
        if where:
            stmt = stmt.where(*where)
        group = self.group_by()
        if group:
            stmt = stmt.group_by(*group)
        if having:
            stmt = stmt.having(*having)
        if order:
            stmt = stmt.order_by(*order)
        if distinct_on:
            stmt = stmt.ext(postgresql.distinct_on(*distinct_on))
        elif query.distinct:
            stmt = stmt.distinct()
        if sliced:
            stmt = self._slice(stmt)
        if query.for_update is not None:
            stmt = stmt.with_for_update(**dict(query.for_update))
        if columns is None and query.values is None:
            options = self.loader_options()
            if options:
                stmt = stmt.options(*options)
        return stmt

    def _slice(self, stmt: Any) -> Any:
        if self.query.high is not None:
            stmt = stmt.limit(self.query.high - self.query.low)
        if self.query.low:
            stmt = stmt.offset(self.query.low)
        return stmt

    def group_by(self) -> list[SQL]:
        """Return the GROUP BY: none without aggregates; the ``values()`` columns, or the key."""
        query = self.query
        if not query.has_aggregate:
            return []
        if query.grouped_by_values and query.values is not None:
            named = [expr.resolve(self) for _, expr in query.values]
            plain = [self.annotation_sql(a.name) for a in query.annotations if a.selected and not a.aggregate]
            return [*named, *plain]
        keys: list[SQL] = [getattr(self.entity, k) for k in primary_key(self.model)]
        plain = [self.annotation_sql(a.name) for a in query.annotations if not a.aggregate and a.selected]
        return [*keys, *plain]

    def loader_options(self) -> list[_AbstractLoad]:
        """Return the ORM loader options of ``select_related``/``prefetch_related``/``only``/``defer``."""
        query, options = self.query, []
        for path in query.select_related:
            options.append(_chain(self.entity, path, joinedload))
        for path in query.prefetch_related:
            options.append(_chain(self.entity, path, selectinload))
        if query.only:
            options.append(load_only(*[getattr(self.entity, f) for f in query.only]))
        options.extend(defer(getattr(self.entity, f)) for f in query.defer)
        return options

    def _combined(self, ordered: bool, sliced: bool) -> Any:
        assert self.query.combinator is not None
        kind, parts, keep_all = self.query.combinator
        selects = [Compiler(part, inline=True).select(ordered=False) for part in parts]
        combine = {
            "union": sa.union_all if keep_all else sa.union,
            "intersection": sa.intersect_all if keep_all else sa.intersect,
            "difference": sa.except_all if keep_all else sa.except_,
        }[kind]
        rows = combine(*selects).subquery("am_combined")
        if self.query.values is not None:
            stmt: Any = sa.select(*[rows.c[name] for name, _ in self.query.values])
        else:
            stmt = sa.select(aliased(self.model, rows, adapt_on_names=True))
        if ordered and self.query.order:
            stmt = stmt.order_by(*[_combined_order(rows, o) for o in self.query.order])
        return self._slice(stmt) if sliced else stmt


def _joined_leaves(node: Node) -> Iterator[Leaf]:
    """Yield the lookups of a condition tree that join: those under no NOT (the others are subqueries)."""
    if node.negated:
        return
    for child in node.children:
        if isinstance(child, Leaf):
            yield child
        elif isinstance(child, Node):
            yield from _joined_leaves(child)


def _with_value(placeholder: Any, values: dict[str, Any]) -> Any:
    """Return a parameter carrying its own value under a unique name (other SQL passes through)."""
    if not isinstance(placeholder, sa.BindParameter) or placeholder.key not in values:
        return placeholder
    return sa.bindparam(
        placeholder.key,
        values[placeholder.key],
        type_=placeholder.type,
        expanding=placeholder.expanding,
        unique=True,
    )


def _combined_order(rows: Any, order: OrderBy) -> SQL:
    if not isinstance(order.expression, F) or order.expression.name not in rows.c:
        raise FieldError([f"a combined query orders by its own columns, not {order!r}"], "")
    column: SQL = rows.c[order.expression.name]
    return column.desc() if order.descending else column.asc()


def _single_column(qs: QuerySet[Any], written: str) -> QuerySet[Any]:
    """Return ``qs`` selecting one column: its ``values()`` column, else its key."""
    values = qs.query.values
    if values is None:
        return qs.values("pk")
    if len(values) != 1:
        raise ValidationError.single(written, "a QuerySet used as a value must select one column")
    return qs


def _chain(entity: Any, path: str, loader: Any) -> _AbstractLoad:
    parts = path.split(SEP)
    current_model = entity
    option: Any = None
    for part in parts:
        attribute = getattr(current_model, part)
        option = loader(attribute) if option is None else getattr(option, loader.__name__)(attribute)
        current_model = attribute.property.mapper.class_
    assert option is not None
    return option  # type: ignore[no-any-return]
