"""QuerySet: the public, chainable API over a :class:`~assistant_models.core.query.Query`.

A QuerySet is lazy and immutable: each refinement returns a new one holding a new
Query; only the terminal methods (iteration, ``get``, ``count``, ``update`` ...) run
SQL, in the current unit of work (or the session given to :meth:`QuerySet.using`).
Rows, once read, stay on the QuerySet (Django's result cache).
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar, cast, overload

import sqlalchemy as sa
from sqlalchemy.orm import Session

from assistant_models.core import ingest, writes
from assistant_models.core.aggregates import Aggregate
from assistant_models.core.aggregation import aggregate
from assistant_models.core.aio import AsyncQuerySetMixin
from assistant_models.core.compiler import Compiler
from assistant_models.core.concerns import LIVE
from assistant_models.core.context import current_session
from assistant_models.core.direct import direct_read, direct_read_with_extras, direct_rows
from assistant_models.core.events import HANDLED, INCLUDE_DELETED, install
from assistant_models.core.expressions import Expression, F, Q, as_expression
from assistant_models.core.ordering import HIDDEN
from assistant_models.core.pagination import CursorPage, Page, cursor_paginate, paginate
from assistant_models.core.paths import SEP, PathError, model_coercer, primary_key
from assistant_models.core.persistence import translating
from assistant_models.core.query import Annotation, Query, check_rows, secret_problem
from assistant_models.core.search import search
from assistant_models.core.statements import LRU
from assistant_models.exceptions import FieldError, ValidationError

if TYPE_CHECKING:
    from assistant_models.core.base import AssistantModel

__all__ = ["QuerySet"]

M = TypeVar("M", bound="AssistantModel")

#: Built statements by query shape: a query made of bound values is built once per shape.
_STATEMENTS = LRU(1024)

MODELS, DICTS, TUPLES, NAMED, FLAT = "models", "dicts", "tuples", "named", "flat"
_MISSING = object()


class QuerySet(AsyncQuerySetMixin[M], Generic[M]):
    """A lazy, immutable query over one model, with Django's names and answers.

    Args:
        model: The model queried. Managers set it; users get QuerySets from them.
        visibility: ``"live"``, ``"all"`` or ``"deleted"`` rows of soft-deletable models.
    """

    def __init__(self, model: type[M] | None = None, visibility: str = LIVE) -> None:
        self.model: type[M] = model  # type: ignore[assignment]
        self.query: Query = Query(model, visibility)  # type: ignore[arg-type]
        self._root_query: Query | None = None  # a manager's own query: refinements replace it
        self._session: Session | None = None
        self._result_cache: list[Any] | None = None
        self._keeps_rows = True
        self._iterable = MODELS

    # -- plumbing ---------------------------------------------------------------------------

    def _chain(self, query: Query | None = None) -> Self:
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone._result_cache = None
        clone._keeps_rows = True
        if query is not None:
            clone.query = query
        return clone

    @property
    def session(self) -> Session:
        """Return the session this QuerySet runs in: ``using(...)`` or the current unit of work."""
        return self._session if self._session is not None else current_session()

    @property
    def visibility(self) -> str:
        """Return which rows of a soft-deletable model this QuerySet sees."""
        return self.query.visibility

    def using(self, session: Session) -> Self:
        """Return a copy that runs in ``session`` instead of the current unit of work."""
        install()
        clone = self._chain()
        clone._session = session
        return clone

    def of(self, model: type[Any], visibility: str = LIVE) -> QuerySet[Any]:
        """Return a plain QuerySet over another model, in this QuerySet's session."""
        qs: QuerySet[Any] = QuerySet(model, visibility)
        qs._session = self._session
        return qs

    def compiler(self) -> Compiler:
        """Return a compiler of this QuerySet's query."""
        return Compiler(self.query)

    def statement(self, kind: str = "rows") -> Any:
        """Return the SQL statement of this QuerySet (``kind``: ``rows``, ``count`` or ``exists``)."""
        build = {"rows": self._rows_sql, "count": self._count_sql, "exists": self._exists_sql}[kind]
        shape = self.query.shape
        if shape is None:
            return build()
        key = (kind, shape)
        stmt = _STATEMENTS.get(key)
        if stmt is None:
            stmt = build()
            _STATEMENTS.put(key, stmt)
        return stmt

    def _rows_sql(self) -> Any:
        return self.compiler().select()

    def _count_sql(self) -> Any:
        query = self.query
        compiler = self.compiler()
        if query.is_sliced or query.distinct or query.distinct_on or query.has_aggregate or query.combinator:
            ordered = query.is_sliced  # only a slice needs its order to pick its rows
            columns = None if query.values is not None or query.combinator else [sa.literal(1)]
            if query.distinct and query.values is None and not query.combinator:
                columns = [getattr(compiler.entity, k) for k in primary_key(self.model)]
            inner = compiler.select(columns=columns, ordered=ordered)
            return sa.select(sa.func.count()).select_from(inner.subquery())
        return compiler.select(columns=[sa.func.count()], ordered=False, sliced=False)

    def _exists_sql(self) -> Any:
        inner = self.compiler().select(columns=[sa.literal(1)], ordered=False)
        if not self.query.is_sliced:
            inner = inner.limit(1)
        return sa.select(sa.exists(inner))

    def _visibility_options(self) -> dict[str, bool]:
        """Tell the soft-delete listener what the statement already does.

        Statements a QuerySet builds filter their own rows; only the relationship loads of
        ``select_related``/``prefetch_related`` still need the listener's criteria.
        """
        live = self.query.visibility == LIVE
        handled = not live or not (self.query.select_related or self.query.prefetch_related)
        return {INCLUDE_DELETED: not live, HANDLED: handled}

    def execute(self, stmt: Any, params: dict[str, Any] | None = None) -> Any:
        """Run ``stmt`` with this QuerySet's parameters in its session; errors are translated."""
        bound = {**self.query.params, **params} if params else self.query.params
        with translating():
            return self.session.execute(stmt, bound or None, execution_options=self._visibility_options())

    # -- refinements ------------------------------------------------------------------------

    def all(self) -> Self:
        """Return a copy of this QuerySet."""
        return self._chain()

    def _refuse_sliced(self, what: str) -> None:
        if self.query.is_sliced:
            raise ValidationError.single(
                "slice", f"cannot {what} a QuerySet once it is sliced", self.model.__name__
            )

    def _filtered(self, args: Sequence[Q | Expression], kwargs: dict[str, Any], negate: bool) -> Self:
        self._refuse_sliced("filter")
        for arg in args:
            if not isinstance(arg, (Q, Expression)):
                raise TypeError(
                    f"filter() takes Q objects, expressions and keywords, not {type(arg).__name__}"
                )
        return self._chain(self.query.add_q(Q(*args, **kwargs), negate))

    def filter(self, *args: Q | Expression, **kwargs: Any) -> Self:
        """Return rows matching every lookup (``status="pending"``, ``user__email__iexact=...``)."""
        return self._filtered(args, kwargs, negate=False)

    def exclude(self, *args: Q | Expression, **kwargs: Any) -> Self:
        """Return rows not matching the lookups taken together."""
        return self._filtered(args, kwargs, negate=True)

    def where(
        self, *conditions: Any, params: dict[str, Any] | None = None, shape: Hashable | None = None
    ) -> Self:
        """Return rows matching SQLAlchemy conditions (``User.created_at > cutoff``).

        The escape hatch for what lookups and expressions cannot say. Unlike
        :meth:`filter` it does not guard secret fields: the caller writes the SQL and owns it.

        Args:
            conditions: SQLAlchemy boolean expressions.
            params: Values of named bound parameters in ``conditions``.
            shape: A hashable description of ``conditions`` that is the same whenever their
                SQL is: with it, the QuerySet's statement stays cacheable.
        """
        self._refuse_sliced("filter")
        query = self.query.clone(params={**self.query.params, **(params or {})})
        if shape is not None:
            bound = tuple((shape, c) for c in conditions)
            return self._chain(query.clone(bound_where=(*query.bound_where, *bound)))
        return self._chain(query.clone(raw_where=(*query.raw_where, *conditions)))

    def none(self) -> Self:
        """Return a QuerySet that matches no row and sends no SQL."""
        return self._chain(self.query.clone(empty=True))

    def _annotated(self, args: Sequence[Aggregate], kwargs: dict[str, Any], selected: bool) -> Self:
        named: dict[str, Expression] = {}
        for arg in args:
            if not isinstance(arg, Aggregate):
                raise TypeError("positional annotations must be aggregates (they name themselves)")
            named[arg.default_alias] = arg
        for name, value in kwargs.items():
            if SEP in name or name == "pk":
                raise ValidationError.single(name, "an annotation name cannot contain '__' or be 'pk'")
            named[name] = as_expression(value, strings_are_fields=False)
        query, problems = self.query, []
        for name, expression in named.items():
            if query.values is None and name in self.model.model_fields:
                problems.append(f"the annotation {name!r} conflicts with a field on the model")
                continue
            query, expression = query.bind(expression)
            probe = query.clone(
                annotations=(
                    *query.annotations,
                    Annotation(name, expression, selected, sa.types.NullType(), query.groups),
                )
            )
            try:
                type_ = _annotation_type(probe, name)
            except FieldError as exc:
                problems.extend(exc.problems)
                continue
            kept = tuple(a for a in query.annotations if a.name != name)
            query = query.clone(
                annotations=(*kept, Annotation(name, expression, selected, type_, query.groups)),
                groups=query.groups + 1,
            )
        if problems:
            raise FieldError(problems, self.model.__name__)
        if query.values is not None and query.has_aggregate:
            query = query.clone(grouped_by_values=True)
        return self._chain(query)

    def annotate(self, *args: Aggregate, **kwargs: Any) -> Self:
        """Return rows with computed values: ``annotate(n=Count("tasks"), late=Q(...))``.

        Aggregates group the rows (by key, or by the ``values()`` fields named before).
        Annotations can be filtered, ordered on and read as attributes (``obj.n``).
        """
        return self._annotated(args, kwargs, selected=True)

    def alias(self, *args: Aggregate, **kwargs: Any) -> Self:
        """Return the QuerySet with named expressions usable in it but not selected."""
        return self._annotated(args, kwargs, selected=False)

    def order_by(self, *fields: str | Expression) -> Self:
        """Return the rows ordered by names and expressions (``"-priority"``, ``F("x").desc()``, ``"?"``).

        Replaces earlier orderings; with no argument, even the model's default one.
        """
        self._refuse_sliced("reorder")
        problems: list[str] = []
        order = self.query.add_ordering(fields, problems)
        if problems:
            raise FieldError(problems, self.model.__name__)
        return self._chain(self.query.clone(order=order))

    @property
    def ordered(self) -> bool:
        """Return whether the rows come in a defined order (an ``order_by`` or the model's default)."""
        return bool(self.query.order) or (
            self.query.order is None and bool(getattr(self.model, "__ordering__", ()))
        )

    def reverse(self) -> Self:
        """Return the rows in the opposite order."""
        self._refuse_sliced("reverse")
        order = self.query.order
        if order is None:
            problems: list[str] = []
            order = self.query.add_ordering(getattr(self.model, "__ordering__", ()) or ("pk",), problems)
        return self._chain(self.query.clone(order=tuple(o.reversed() for o in order)))

    def distinct(self, *fields: str) -> Self:
        """Return only distinct rows; with ``fields``, the first row of each (PostgreSQL ``DISTINCT ON``)."""
        self._refuse_sliced("make distinct")
        if not fields:
            return self._chain(self.query.clone(distinct=True))
        problems: list[str] = []
        for name in fields:
            try:
                self.query.check_reference(name)
            except PathError as exc:
                problems.append(str(exc))
        if problems:
            raise FieldError(problems, self.model.__name__)
        return self._chain(self.query.clone(distinct_on=tuple(F(f) for f in fields)))

    def _fields(
        self, fields: Sequence[str], expressions: dict[str, Any]
    ) -> tuple[tuple[str, Expression], ...]:
        names = list(fields)
        if not fields and not expressions:
            secret: frozenset[str] = getattr(self.model, "__secret_fields__", frozenset())
            names = [n for n in self.model.model_fields if n not in secret]
            names += [a.name for a in self.query.annotations if a.selected]
        problems: list[str] = []
        result: list[tuple[str, Expression]] = []
        for name in names:
            try:
                path = self.query.check_reference(name)
            except PathError as exc:
                problems.append(str(exc))
                continue
            problem = secret_problem(self.model, path, name)
            if problem:
                problems.append(problem)
            result.append((name, F(name)))
        result += [(k, as_expression(v)) for k, v in expressions.items()]
        if problems:
            raise FieldError(problems, self.model.__name__)
        return tuple(result)

    def _with_values(self, fields: Sequence[str], expressions: dict[str, Any]) -> Query:
        """Return the query selecting ``fields``; annotations made before and not named become aliases."""
        values = self._fields(fields, expressions)
        query = self.query
        if fields or expressions:
            named = {name for name, _ in values}
            kept = tuple(
                a
                if a.name in named or not a.selected
                else a.__class__(a.name, a.expression, False, a.type_, a.group)
                for a in query.annotations
            )
            query = query.clone(annotations=kept)
        return query.clone(values=values)

    def values(self, *fields: str, **expressions: Any) -> QuerySet[Any]:
        """Return a QuerySet of dicts of ``fields`` (paths and expressions; all but secrets by default)."""
        clone = self._chain(self._with_values(fields, expressions))
        clone._iterable = DICTS
        return clone

    def values_list(self, *fields: str, flat: bool = False, named: bool = False) -> QuerySet[Any]:
        """Return a QuerySet of tuples of ``fields`` (named tuples with ``named``, values with ``flat``)."""
        if flat and named:
            raise ValidationError.single("flat", "flat and named cannot be used together")
        if flat and len(fields) > 1:
            raise ValidationError.single("flat", "needs exactly one field")
        clone = self._chain(self._with_values(fields, {}))
        clone._iterable = FLAT if flat else NAMED if named else TUPLES
        return clone

    def _paths(self, fields: Sequence[str], relations: bool) -> tuple[str, ...]:
        problems = []
        for name in fields:
            try:
                _check_loader_path(self.model, name, relations)
            except PathError as exc:
                problems.append(str(exc))
        if problems:
            raise FieldError(problems, self.model.__name__)
        return tuple(fields)

    def only(self, *fields: str) -> Self:
        """Load only ``fields`` (and the key) now; the rest load on first access."""
        return self._chain(self.query.clone(only=self._paths(fields, False)))

    def defer(self, *fields: str) -> Self:
        """Load every field but ``fields`` now; those load on first access."""
        return self._chain(self.query.clone(defer=(*self.query.defer, *self._paths(fields, False))))

    def select_related(self, *relations: str) -> Self:
        """Load the named relations in the same statement (a JOIN)."""
        query = self.query
        return self._chain(query.clone(select_related=(*query.select_related, *self._paths(relations, True))))

    def prefetch_related(self, *relations: str) -> Self:
        """Load the named relations with one more statement each (``IN`` over the keys)."""
        query = self.query
        return self._chain(
            query.clone(prefetch_related=(*query.prefetch_related, *self._paths(relations, True)))
        )

    def select_for_update(self, *, skip_locked: bool = False, nowait: bool = False, of: Any = None) -> Self:
        """Lock the matching rows until the transaction ends (``FOR UPDATE [SKIP LOCKED | NOWAIT]``)."""
        if skip_locked and nowait:
            raise ValidationError.single("nowait", "cannot be used with skip_locked")
        options = {"skip_locked": skip_locked, "nowait": nowait, "of": of if of is not None else self.model}
        return self._chain(self.query.clone(for_update=tuple(sorted(options.items(), key=lambda kv: kv[0]))))

    def _combine(self, kind: str, others: Sequence[QuerySet[Any]], all: bool) -> Self:
        parts = (self.query.clone(order=()), *(o.query.clone(order=()) for o in others))
        return self._chain(
            Query(self.model, self.query.visibility, values=self.query.values, combinator=(kind, parts, all))
        )

    def _merged(self, other: object, connector: str) -> Self:
        if not isinstance(other, QuerySet):
            return NotImplemented  # type: ignore[no-any-return]
        return self._chain(self.query.combine(other.query, connector))

    def __and__(self, other: QuerySet[Any]) -> Self:
        """Return the rows in both QuerySets (their conditions joined with AND)."""
        return self._merged(other, Q.AND)

    def __or__(self, other: QuerySet[Any]) -> Self:
        """Return the rows in either QuerySet (their conditions joined with OR)."""
        return self._merged(other, Q.OR)

    def union(self, *others: QuerySet[Any], all: bool = False) -> Self:
        """Return the rows of this QuerySet and of ``others`` (duplicates dropped unless ``all``)."""
        return self._combine("union", others, all)

    def intersection(self, *others: QuerySet[Any]) -> Self:
        """Return the rows found in this QuerySet and in every one of ``others``."""
        return self._combine("intersection", others, False)

    def difference(self, *others: QuerySet[Any]) -> Self:
        """Return the rows of this QuerySet found in none of ``others``."""
        return self._combine("difference", others, False)

    def search(self, text: str) -> Self:
        """Return rows matching a web-style search (quotes, ``or``, ``-``), best matches first."""
        return search(self, text)

    @overload
    def __getitem__(self, key: int) -> M: ...

    @overload
    def __getitem__(self, key: slice) -> Self: ...

    def __getitem__(self, key: int | slice) -> Any:
        """Return one row (``qs[3]``) or a limited copy (``qs[10:20]``)."""
        if isinstance(key, bool) or not isinstance(key, (int, slice)):
            raise TypeError(f"QuerySet indices must be integers or slices, not {type(key).__name__}")
        if isinstance(key, int):
            if key < 0:
                raise ValidationError.single("index", "negative indexing is not supported")
            check_rows(key, "index")
            if self._result_cache is not None:
                rows = self._result_cache[key : key + 1]
            else:
                rows = self[key : key + 1]._fetch()
            if not rows:
                raise IndexError(f"{self.model.__name__} QuerySet index {key} out of range")
            return rows[0]
        start, stop = key.start, key.stop
        if key.step not in (None, 1) or (start or 0) < 0 or (stop is not None and stop < 0):
            raise ValidationError.single("slice", "only non-negative slices without a step are supported")
        if self._result_cache is not None:
            return self._result_cache[key]
        low, high = self.query.low, self.query.high
        new_low = low + check_rows(start or 0, "slice start")
        new_high = high if stop is None else low + check_rows(stop, "slice stop")
        if high is not None and new_high is not None:
            new_high = min(new_high, high)
        new_low = min(new_low, new_high) if new_high is not None else new_low
        check_rows(new_low, "offset")
        return self._chain(self.query.clone(low=new_low, high=new_high))

    # -- terminal: reading ------------------------------------------------------------------

    def __iter__(self) -> Iterator[M]:
        return iter(self._fetch())

    def _fetch(self) -> list[Any]:
        """Run the query once and keep the rows; clones start empty."""
        if self._result_cache is not None:
            return self._result_cache
        rows = [] if self.query.empty else self._read()
        if self._keeps_rows:
            self._result_cache = rows
        return rows

    def _read(self) -> list[Any]:
        """Run this QuerySet's statement and return its items, directly when nothing needs the ORM."""
        query = self.query
        loaders = query.select_related or query.prefetch_related or query.only or query.defer
        if query.shape is not None and not loaders:
            stmt = self.statement()
            with translating():
                if self._iterable == MODELS:
                    rows = self._direct_models(stmt)
                else:
                    rows = direct_rows(self.session, stmt, query.params)
                    rows = None if rows is None else self._shape(rows)
            return rows if rows is not None else self._rows(self.execute(stmt))
        return self._rows(self.execute(self.statement()))

    def _direct_models(self, stmt: Any) -> list[Any] | None:
        """Read instances directly, their selected annotations set on them as the ORM path does."""
        mapper = sa.inspect(self.model)
        selected = [a.name for a in self.query.annotations if a.selected]
        if not selected:
            return direct_read(self.session, stmt, self.query.params, mapper)
        rows = direct_read_with_extras(self.session, stmt, self.query.params, mapper)
        if rows is None:
            return None
        objects = []
        for obj, *extras in rows:  # the annotations, then any ordering a DISTINCT query lists
            for name, value in zip(selected, extras, strict=False):
                obj.__dict__[name] = value
            objects.append(obj)
        return objects

    def _shape(self, rows: list[tuple[Any, ...]]) -> list[Any]:
        """Turn plain row tuples into the items of a ``values()``/``values_list()`` QuerySet."""
        names = [name for name, _ in self.query.values or ()]
        if rows and len(rows[0]) > len(names):  # DISTINCT lists its ordering last, for itself only
            rows = [row[: len(names)] for row in rows]
        if self._iterable == TUPLES:
            return rows
        if self._iterable == FLAT:
            return [row[0] for row in rows]
        if self._iterable == DICTS:
            return [dict(zip(names, row, strict=True)) for row in rows]
        Row = namedtuple("Row", names, rename=True)  # type: ignore[misc]
        return [Row(*row) for row in rows]

    def _rows(self, result: Any) -> list[Any]:
        """Turn a result into the items this QuerySet yields."""
        if self.query.distinct:
            result = _without_hidden(result)
        if self._iterable == DICTS:
            return [dict(row) for row in result.mappings()]
        if self._iterable == FLAT:
            return list(result.scalars())
        if self._iterable == TUPLES:
            return [tuple(row) for row in result]
        if self._iterable == NAMED:
            Row = namedtuple("Row", list(result.keys()), rename=True)  # type: ignore[misc]
            return [Row(*row) for row in result]
        selected = [a.name for a in self.query.annotations if a.selected]
        if self.query.select_related:
            result = result.unique()
        if not selected:
            return list(result.scalars())
        objects = []
        for row in result:
            obj = row[0]
            for name, value in zip(selected, row[1:], strict=True):
                obj.__dict__[name] = value
            objects.append(obj)
        return objects

    def __len__(self) -> int:
        return len(self._fetch())

    def __bool__(self) -> bool:
        return bool(self._fetch())

    def __repr__(self) -> str:
        return f"<QuerySet {self.model.__name__} {self.query.visibility}>"

    def get(self, *args: Q | Expression, **kwargs: Any) -> M:
        """Return the one row matching the lookups.

        Raises:
            Model.DoesNotExist: No row matched.
            Model.MultipleObjectsReturned: More than one row matched.
        """
        if not args and len(kwargs) == 1 and self.query is self._root_query:
            found = self._get_by_key(kwargs)
            if found is not _MISSING:
                return cast(M, found)
        qs = self.filter(*args, **kwargs) if args or kwargs else self
        if not qs.query.is_sliced:
            qs = qs.order_by()[:21]  # enough to tell "one" from "many", and say how many
        rows = qs._fetch() if qs._iterable != MODELS else qs._read()
        if not rows:
            raise self.model.DoesNotExist(f"{self.model.__name__} matching the query does not exist")
        if len(rows) > 1:
            count = "more than 20" if len(rows) > 20 else str(len(rows))
            raise self.model.MultipleObjectsReturned(f"get() returned {count} {self.model.__name__} rows")
        return rows[0]  # type: ignore[no-any-return]

    def _get_by_key(self, kwargs: dict[str, Any]) -> Any:
        """Return the row of a plain ``get(pk=...)`` on a manager by a cached statement (the hot path).

        Returns ``_MISSING`` when the call is not such a lookup, so ``get`` takes the general path.
        """
        ((name, value),) = kwargs.items()
        keys = primary_key(self.model)
        if len(keys) != 1 or name not in ("pk", keys[0]) or value is None or isinstance(value, Expression):
            return _MISSING
        try:
            key = model_coercer(self.model, keys[0])(value)
        except (TypeError, ValueError) as exc:
            raise ValidationError.single(name, str(exc), self.model.__name__) from None
        cache_key = ("get", self.model, self.query.visibility)
        stmt = _STATEMENTS.get(cache_key)
        if stmt is None:
            compiler = self.compiler()
            column = getattr(compiler.entity, keys[0])
            stmt = compiler.select(ordered=False).where(column == sa.bindparam("am_key", type_=column.type))
            _STATEMENTS.put(cache_key, stmt)
        with translating():
            rows = direct_read(self.session, stmt, {"am_key": key}, sa.inspect(self.model))
        if rows is None:
            rows = list(self.execute(stmt, {"am_key": key}).scalars())
        row = rows[0] if rows else None
        if row is None:
            raise self.model.DoesNotExist(f"{self.model.__name__} matching the query does not exist")
        return row

    def first(self) -> M | None:
        """Return the first row (by the ordering, else by key), or ``None``."""
        qs = self if self.ordered else self.order_by("pk")
        return next(iter(qs[:1]), None)

    def last(self) -> M | None:
        """Return the last row (by the ordering, else by key), or ``None``.

        Raises:
            ValidationError: The QuerySet is sliced (a slice cannot be reversed, as in Django).
        """
        self._refuse_sliced("take the last row of")  # as Django: a slice cannot be reversed
        qs = self if self.ordered else self.order_by("pk")
        return next(iter(qs.reverse()[:1]), None)

    def _latest(self, fields: Sequence[str], reverse: bool) -> M:
        self._refuse_sliced("take the latest of")
        names = list(fields) or list(getattr(self.model, "__get_latest_by__", ()))
        if not names:
            raise ValidationError.single("fields", "name a field, or set __get_latest_by__ on the model")
        if reverse:
            names = [n[1:] if n.startswith("-") else f"-{n}" for n in names]
        return self.order_by(*names)[:1].get()

    def latest(self, *fields: str) -> M:
        """Return the row with the greatest ``fields`` (``Model.DoesNotExist`` when there is none)."""
        return self._latest(fields, reverse=True)

    def earliest(self, *fields: str) -> M:
        """Return the row with the smallest ``fields``."""
        return self._latest(fields, reverse=False)

    def exists(self) -> bool:
        """Return whether any row matches."""
        if self._result_cache is not None:
            return bool(self._result_cache)
        if self.query.empty:
            return False
        return bool(self.execute(self.statement("exists")).scalar())

    def contains(self, obj: M) -> bool:
        """Return whether ``obj`` is among the rows."""
        if not isinstance(obj, self.model):
            raise ValidationError.single("obj", f"must be a {self.model.__name__} instance")
        keys = sa.inspect(obj).identity
        if keys is None:
            raise ValidationError.single("obj", "is not saved yet")
        if self._result_cache is not None:
            return obj in self._result_cache
        return self.filter(**dict(zip(primary_key(self.model), keys, strict=True))).exists()

    def count(self) -> int:
        """Return the number of matching rows (from the result cache if the rows are loaded)."""
        if self._result_cache is not None:
            return len(self._result_cache)
        if self.query.empty:
            return 0
        return int(self.execute(self.statement("count")).scalar_one())

    def in_bulk(self, id_list: Sequence[Any] | None = None, *, field_name: str = "pk") -> dict[Any, M]:
        """Return a dict of rows keyed by ``field_name`` (a unique field); only ``id_list`` keys if given."""
        mapper = sa.inspect(self.model)
        key = primary_key(self.model)[0] if field_name == "pk" else field_name
        attr = mapper.column_attrs.get(key)
        column = attr.columns[0] if attr is not None else None
        secret = key in getattr(self.model, "__secret_fields__", ())
        if column is None or secret or not (column.primary_key or column.unique or _uniquely_indexed(column)):
            raise FieldError(
                [f"in_bulk() needs a unique field that is not secret, not {field_name!r}"],
                self.model.__name__,
            )
        if id_list is not None and not id_list:
            return {}
        qs = self if id_list is None else self.filter(**{f"{field_name}__in": list(id_list)})
        return {getattr(obj, key): obj for obj in qs}

    def iterator(self, chunk_size: int = 1000) -> Iterator[M]:
        """Yield rows, fetching ``chunk_size`` at a time with a server-side cursor."""
        if self.query.empty:
            return
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
            raise ValidationError.single("chunk_size", "must be a positive integer")
        stmt = self.compiler().select().execution_options(yield_per=chunk_size)
        result = self.execute(stmt)
        with translating():  # a later fetch can fail too (the transaction ended meanwhile)
            if self._iterable == MODELS and not any(a.selected for a in self.query.annotations):
                yield from result.scalars()
            else:
                yield from self._rows(result)

    def aggregate(self, *args: Aggregate, **kwargs: Aggregate) -> dict[str, Any]:
        """Return aggregate values over the rows: ``aggregate(Count("id"), top=Max("priority"))``."""
        return aggregate(self, args, kwargs)

    def explain(self, analyze: bool = False) -> str:
        """Return PostgreSQL's plan for this QuerySet (``EXPLAIN [ANALYZE]``)."""
        stmt = self.statement()
        if self.query.params:
            stmt = stmt.params(**self.query.params)
        compiled = stmt.compile(
            dialect=self.session.get_bind().dialect, compile_kwargs={"render_postcompile": True}
        )
        prefix = "EXPLAIN (ANALYZE, BUFFERS) " if analyze else "EXPLAIN "
        with translating():
            params: Any = compiled.params
            if compiled.positional and compiled.positiontup is not None:  # asyncpg takes $1, $2 ...
                params = tuple(compiled.params[name] for name in compiled.positiontup)
            rows = self.session.connection().exec_driver_sql(prefix + str(compiled), params)
        return "\n".join(r[0] for r in rows)

    def paginate(self, page: int = 1, per_page: int = 20) -> Page[M]:
        """Return one page by number; see :func:`assistant_models.core.pagination.paginate`."""
        return paginate(self, page, per_page)

    def cursor_paginate(self, first: int = 20, after: str | None = None) -> CursorPage[M]:
        """Return one keyset page; see :func:`assistant_models.core.pagination.cursor_paginate`."""
        return cursor_paginate(self, first, after)

    # -- terminal: writing ------------------------------------------------------------------

    def create(self, **values: Any) -> M:
        """Validate, insert and return a new row (flushed: key and server defaults are set)."""
        return writes.create(self, values)

    def update(self, **values: Any) -> int:
        """Set ``values`` on every matching row in one statement and return the count.

        Values are validated field by field; expressions (``F("n") + 1``) are allowed.
        Audited models get one audit row per changed row, in the same statement.
        """
        return writes.update(self, values)

    def delete(self, hard: bool = False) -> tuple[int, dict[str, int]]:
        """Delete matching rows (soft for soft-deletable models unless ``hard``).

        Returns:
            ``(total, {model name: count})`` as in Django, cascades to audited children included.
        """
        return writes.delete(self, hard)

    def bulk_create(
        self,
        objs: Sequence[M],
        batch_size: int | None = None,
        *,
        ignore_conflicts: bool = False,
        update_conflicts: bool = False,
        unique_fields: Sequence[str] | None = None,
        update_fields: Sequence[str] | None = None,
    ) -> list[M]:
        """Insert many validated instances and return them with their keys.

        Plain inserts go through COPY; ``ignore_conflicts`` and ``update_conflicts``
        (with ``unique_fields`` and ``update_fields``) through ``INSERT ... ON CONFLICT``.
        """
        return writes.bulk_create(
            self,
            objs,
            batch_size,
            writes.Conflicts(
                ignore_conflicts, update_conflicts, tuple(unique_fields or ()), tuple(update_fields or ())
            ),
        )

    def bulk_update(self, objs: Sequence[M], fields: Sequence[str], batch_size: int | None = None) -> int:
        """Write ``fields`` of many instances in one statement per batch; return the count."""
        return writes.bulk_update(self, objs, fields, batch_size)

    def bulk_insert(self, rows: Iterable[Mapping[str, Any]], *, batch_size: int | None = None) -> int:
        """Store plain mappings of field values by COPY, the fastest way in; return how many.

        No instance is made and nothing is read back. Each row is validated field by
        field as the constructor would (types converted, constraints, field validators,
        defaults; unknown, missing and protected fields refused, each error naming
        ``rows[<index>].<field>``). Columns left ``None`` that the server fills get their
        server defaults; audited models get their audit rows. It runs in a savepoint:
        an error leaves none of the call's rows behind.

        Args:
            rows: One mapping per row (any iterable: it is read ``batch_size`` rows at a time).
            batch_size: Rows per COPY statement (10,000 by default).
        """
        return ingest.bulk_insert(self, rows, batch_size)

    def get_or_create(
        self,
        defaults: dict[str, Any] | None = None,
        create_defaults: dict[str, Any] | None = None,
        **lookups: Any,
    ) -> tuple[M, bool]:
        """Return ``(row, created)``: the matching row, or a new one made from lookups and defaults.

        Values of ``defaults``/``create_defaults`` may be callables, called only when needed.
        """
        return writes.get_or_create(self, defaults, create_defaults, lookups)

    def update_or_create(
        self,
        defaults: dict[str, Any] | None = None,
        create_defaults: dict[str, Any] | None = None,
        **lookups: Any,
    ) -> tuple[M, bool]:
        """Return ``(row, created)`` after updating the matching row with ``defaults``, or creating it."""
        return writes.update_or_create(self, defaults, create_defaults, lookups)


def _without_hidden(result: Any) -> Any:
    """Return ``result`` without the columns a DISTINCT query selects only to order by them."""
    names = result.keys()  # a result's column names (iterating the result would read its rows)
    keys = [str(k) for k in names]
    if not any(k.startswith(HIDDEN) for k in keys):
        return result
    return result.columns(*[i for i, k in enumerate(keys) if not k.startswith(HIDDEN)])


#: Annotation types by model and the shapes of its annotations: a probe compile per new shape.
_TYPES = LRU(512)


def _annotation_type(probe: Query, name: str) -> Any:
    """Return the SQL type of the annotation ``name`` of ``probe``, compiled once per shape.

    Raises:
        FieldError: The annotation names an unknown field or annotation.
    """
    shapes = tuple((a.name, a.expression.shape) for a in probe.annotations)
    key = None if any(shape is None for _, shape in shapes) else (probe.model, shapes)
    type_ = _TYPES.get(key) if key is not None else None
    if type_ is None:
        type_ = Compiler(probe).annotation_sql(name).type
        if key is not None:
            _TYPES.put(key, type_)
    return type_


def _uniquely_indexed(column: sa.Column[Any]) -> bool:
    table = column.table
    return any(i.unique and list(i.columns) == [column] for i in getattr(table, "indexes", ()))


def _check_loader_path(model: type[Any], path: str, relations: bool) -> None:
    current = model
    parts = path.split(SEP)
    for index, part in enumerate(parts):
        mapper = sa.inspect(current)
        if part in mapper.relationships and (relations or index < len(parts) - 1):
            current = mapper.relationships[part].mapper.class_
            continue
        if not relations and part in mapper.column_attrs and index == len(parts) - 1:
            return
        what = "relation" if relations else "field"
        raise PathError(f"{path!r}: {current.__name__} has no {what} {part!r}")
