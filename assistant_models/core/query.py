"""QuerySet: lazy, immutable and chainable, with Django's names and semantics.

Every refinement returns a new QuerySet; only terminal methods (iteration,
``get``, ``count``, ``update`` ...) send SQL. Field names are checked when the
refinement is made, so a bad name raises :class:`FieldError` before any SQL.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar, overload

import sqlalchemy as sa
from sqlalchemy.orm import Session, joinedload, load_only, selectinload
from sqlalchemy.sql.elements import ClauseElement

from assistant_models.core import writes
from assistant_models.core.base import lookup_value, refuse_nul
from assistant_models.core.context import current_session
from assistant_models.core.events import HANDLED, INCLUDE_DELETED, install
from assistant_models.core.inserts import insert_one
from assistant_models.core.lookups import F, JoinPlan, Q, Resolver, apply_joins
from assistant_models.core.pagination import CursorPage, Page, cursor_paginate, paginate
from assistant_models.core.persistence import translating
from assistant_models.core.statements import LRU, bound_filter, filter_token
from assistant_models.exceptions import FieldError, ValidationError

if TYPE_CHECKING:
    from assistant_models.core.base import AssistantModel

__all__ = ["Aggregate", "Avg", "Count", "Max", "Min", "QuerySet", "Sum"]

M = TypeVar("M", bound="AssistantModel")

LIVE, ALL, DELETED = "live", "all", "deleted"

#: Built statements by QuerySet shape; see :mod:`assistant_models.core.statements`.
_STATEMENTS = LRU(1024)


class Aggregate:
    """An aggregate over a field, for :meth:`QuerySet.aggregate`."""

    function: Any = None

    def __init__(self, field: str = "pk") -> None:
        self.field = field

    def compile(self, resolver: Resolver) -> Any:
        """Return the SQL aggregate expression."""
        col = resolver.column(self.field, purpose="aggregate")
        return None if col is None else self.function(col)


class Count(Aggregate):
    """``count(field)``."""

    function = sa.func.count


class Sum(Aggregate):
    """``sum(field)``."""

    function = sa.func.sum


class Avg(Aggregate):
    """``avg(field)``."""

    function = sa.func.avg


class Min(Aggregate):
    """``min(field)``."""

    function = sa.func.min


class Max(Aggregate):
    """``max(field)``."""

    function = sa.func.max


class QuerySet(Generic[M]):
    """A lazy, immutable query over one model.

    Args:
        model: The model queried. Managers set it; users get QuerySets from them.
        visibility: ``"live"``, ``"all"`` or ``"deleted"`` rows of soft-deletable models.
    """

    def __init__(self, model: type[M] | None = None, visibility: str = LIVE) -> None:
        self.model: type[M] = model  # type: ignore[assignment]
        self._visibility = visibility
        self._session: Session | None = None
        self._plan = JoinPlan()
        self._where: tuple[Any, ...] = ()
        self._order: tuple[str, ...] = ()
        self._order_sql: tuple[Any, ...] = ()
        self._limit: int | None = None
        self._offset: int | None = None
        self._distinct = False
        self._options: tuple[Any, ...] = ()
        self._for_update: dict[str, Any] | None = None
        self._search: tuple[str, Any] | None = None
        self._rank_ascending = False
        self._result_cache: list[M] | None = None
        self._keeps_rows = True
        self._shape: tuple[Any, ...] | None = ()
        self._params: dict[str, Any] = {}

    # -- plumbing -------------------------------------------------------------------------

    def _chain(self) -> Self:
        clone = copy.copy(self)
        clone._result_cache = None
        clone._keeps_rows = True
        clone._plan = JoinPlan(dict(self._plan.aliases), list(self._plan.joins))
        return clone

    def _resolver(self) -> Resolver:
        return Resolver(self.model, self._plan, live_only=self._visibility == LIVE)

    @property
    def session(self) -> Session:
        """Return the session this QuerySet runs in: ``using(...)`` or the current unit of work."""
        return self._session if self._session is not None else current_session()

    def using(self, session: Session) -> Self:
        """Return a copy that runs in ``session`` instead of the current unit of work."""
        install()
        clone = self._chain()
        clone._session = session
        return clone

    @property
    def soft_delete(self) -> bool:
        """Return whether the model hides deleted rows."""
        return bool(getattr(self.model, "__soft_delete__", False))

    def _visibility_clause(self) -> Any:
        if not self.soft_delete or self._visibility == ALL:
            return None
        col = self.model.deleted_at  # type: ignore[attr-defined]
        return col.is_(None) if self._visibility == LIVE else col.is_not(None)

    def _conditions(self) -> list[Any]:
        conds = list(self._where)
        visible = self._visibility_clause()
        if visible is not None:
            conds.append(visible)
        return conds

    def _cache_key(self, kind: str) -> tuple[Any, ...] | None:
        """Return the key of this QuerySet's statement of ``kind``, or ``None`` if not cacheable."""
        if self._shape is None or self._options or self._search is not None or self._plan.joins:
            return None
        for_update = tuple(sorted(self._for_update.items(), key=str)) if self._for_update else None
        return (
            kind,
            self.model,
            self._visibility,
            self._shape,
            self._order,
            self._limit,
            self._offset,
            self._distinct,
            for_update,
        )

    def _cached(self, kind: str, build: Callable[[], Any]) -> Any:
        key = self._cache_key(kind)
        if key is None:
            return build()
        stmt = _STATEMENTS.get(key)
        if stmt is None:
            stmt = build()
            _STATEMENTS.put(key, stmt)
        return stmt

    def _rows_statement(self) -> Any:
        return self._cached("rows", self._statement)

    def _statement(self, *entities: Any, ordered: bool = True, limited: bool = True) -> Any:
        stmt = sa.select(*entities) if entities else sa.select(self.model)
        stmt = apply_joins(stmt, self._plan)
        conds = self._conditions()
        if conds:
            stmt = stmt.where(*conds)
        if self._search is not None and ordered:
            rank = self._search[1]
            stmt = stmt.order_by(rank.asc() if self._rank_ascending else rank.desc())
        if ordered and self._order_sql:
            stmt = stmt.order_by(*self._order_sql)
        if self._distinct:
            stmt = stmt.distinct()
        if limited and self._limit is not None:
            stmt = stmt.limit(self._limit)
        if limited and self._offset:
            stmt = stmt.offset(self._offset)
        if self._for_update is not None:
            stmt = stmt.with_for_update(**self._for_update)
        if self._options and not entities:
            stmt = stmt.options(*self._options)
        return stmt

    def _visibility_options(self) -> dict[str, bool]:
        """Return the execution options that tell the soft-delete listener what this query does.

        Every statement a QuerySet runs filters its own model's rows; only loader
        options (``select_related``...) still need the listener's criteria.
        """
        handled = self._visibility != LIVE or not self._options
        return {INCLUDE_DELETED: self._visibility != LIVE, HANDLED: handled}

    def _execute(self, stmt: Any, extra: dict[str, Any] | None = None) -> Any:
        params = {**self._params, **extra} if extra else self._params
        with translating():
            return self.session.execute(stmt, params or None, execution_options=self._visibility_options())

    # -- refinements ----------------------------------------------------------------------

    def all(self) -> Self:
        """Return a copy of this QuerySet."""
        return self._chain()

    def _refuse_sliced(self, what: str) -> None:
        if self._limit is not None or self._offset:
            raise ValidationError.single(
                "slice", f"cannot {what} a QuerySet once it is sliced", self.model.__name__
            )

    def _filtered(self, args: Sequence[Q], kwargs: dict[str, Any], negate: bool) -> Self:
        self._refuse_sliced("filter")
        clone = self._chain()
        if not args and not kwargs:
            return clone
        resolver = clone._resolver()
        token = None if args or self._shape is None else filter_token(resolver, kwargs, negate)
        if token is not None:
            refuse_nul(kwargs, self.model.__name__)
            cond, params = bound_filter(resolver, kwargs, token, len(self._where))
            clone._where = (*self._where, cond)
            clone._shape = (*self._shape, token)  # type: ignore[misc]
            clone._params = {**self._params, **params}
            return clone
        clone._shape = None
        node = Q(*args, **kwargs)
        for arg in args:
            if not isinstance(arg, Q):
                raise TypeError(f"filter() takes Q objects and keywords, not {type(arg).__name__}")
        cond = resolver.q(node, negated=negate)
        resolver.check()
        if cond is None:  # an empty Q adds no condition
            return clone
        clone._where = (*self._where, sa.not_(cond) if negate else cond)
        return clone

    def filter(self, *args: Q, **kwargs: Any) -> Self:
        """Return rows matching every lookup (``status="pending"``, ``user__email__iexact=...``)."""
        return self._filtered(args, kwargs, negate=False)

    def exclude(self, *args: Q, **kwargs: Any) -> Self:
        """Return rows not matching the lookups taken together."""
        return self._filtered(args, kwargs, negate=True)

    def where(self, *conditions: Any) -> Self:
        """Return rows matching SQLAlchemy expressions (``User.created_at > cutoff``).

        The escape hatch for what lookups cannot say. Unlike :meth:`filter` it does not
        guard secret fields: the caller writes the SQL and owns it.
        """
        self._refuse_sliced("filter")
        clone = self._chain()
        clone._where = (*self._where, *conditions)
        clone._shape = None
        return clone

    def _refined(self, condition: Any, token: Any, params: dict[str, Any]) -> Self:
        """Return a copy with one more condition whose values are bound parameters ``params``.

        ``token`` describes the condition's shape, so the copy's statement stays cacheable.
        """
        clone = self._chain()
        clone._where = (*self._where, condition)
        clone._shape = None if self._shape is None else (*self._shape, token)
        clone._params = {**self._params, **params}
        return clone

    def order_by(self, *fields: str) -> Self:
        """Return the rows ordered by ``fields`` (``"-priority"`` for descending); replaces earlier orders."""
        self._refuse_sliced("reorder")
        clone = self._chain()
        resolver = clone._resolver()
        clone._order_sql = tuple(resolver.ordering(f) for f in fields)
        resolver.check()
        clone._order = tuple(fields)
        return clone

    def reverse(self) -> Self:
        """Return the rows in the opposite order (a search's rank order too)."""
        self._refuse_sliced("reverse")
        flipped = [f[1:] if f.startswith("-") else f"-{f}" for f in self._order or ("pk",)]
        clone = self.order_by(*flipped)
        if self._search is not None:
            clone._rank_ascending = not self._rank_ascending
        return clone

    def distinct(self) -> Self:
        """Return only distinct rows."""
        clone = self._chain()
        clone._distinct = True
        return clone

    def only(self, *fields: str) -> Self:
        """Load only ``fields`` (and the key) now; the rest load on first access."""
        clone = self._chain()  # resolve on the copy: its joins must not reach this QuerySet
        resolver = clone._resolver()
        cols = [resolver.column(f, purpose="load") for f in fields]
        resolver.check()
        clone._options = (*self._options, load_only(*cols))
        return clone

    def _relations(self, names: Sequence[str], loader: Any) -> Self:
        opts, problems = [], []
        for name in names:
            entity, option = self.model, None
            for part in name.split("__"):
                rel = sa.inspect(entity).relationships.get(part)
                if rel is None:
                    problems.append(f"{name!r}: no relation {part!r}")
                    break
                attr = getattr(entity, part)
                option = loader(attr) if option is None else getattr(option, loader.__name__)(attr)
                entity = rel.mapper.class_
            else:
                opts.append(option)
        if problems:
            raise FieldError(problems, self.model.__name__)
        clone = self._chain()
        clone._options = (*self._options, *opts)
        return clone

    def select_related(self, *relations: str) -> Self:
        """Load the named relations in the same statement (a JOIN)."""
        return self._relations(relations, joinedload)

    def prefetch_related(self, *relations: str) -> Self:
        """Load the named relations in one extra statement each (``SELECT ... IN``)."""
        return self._relations(relations, selectinload)

    def select_for_update(self, skip_locked: bool = False, nowait: bool = False) -> Self:
        """Lock the selected rows until the unit of work ends (``FOR UPDATE``)."""
        if skip_locked and nowait:
            raise ValidationError.single("select_for_update", "skip_locked and nowait exclude each other")
        clone = self._chain()
        clone._for_update = {"skip_locked": skip_locked, "nowait": nowait, "of": self.model}
        return clone

    def search(self, text: str) -> Self:
        """Return rows matching ``text`` in the model's searchable fields, best first.

        Any string is safe: it is parsed with ``websearch_to_tsquery``, which has no
        syntax errors. A text with no searchable words matches nothing.
        """
        fields = self.model.__searchable__
        if not fields:
            raise FieldError([f"{self.model.__name__} declares no searchable fields"], self.model.__name__)
        if not isinstance(text, str):
            raise ValidationError.single("text", "must be a string", self.model.__name__)
        regconfig: Any = sa.literal_column(f"'{self.model.__search_config__}'::regconfig")
        vector = search_vector(self.model)
        query = sa.func.websearch_to_tsquery(regconfig, sa.literal(text[:1000].replace("\x00", " "), sa.Text))
        clone = self._chain()
        clone._shape = None
        clone._where = (*self._where, vector.bool_op("@@")(query))
        clone._search = (text, sa.func.ts_rank_cd(vector, query))
        return clone

    @overload
    def __getitem__(self, key: int) -> M: ...

    @overload
    def __getitem__(self, key: slice) -> Self: ...

    def __getitem__(self, key: int | slice) -> M | Self:
        """Return one row (``qs[3]``) or a limited copy (``qs[10:20]``)."""
        if isinstance(key, int):
            if key < 0:
                raise ValidationError.single("index", "negative indexing is not supported")
            rows = self._result_cache if self._result_cache is not None else self[key : key + 1]._fetch()
            if self._result_cache is not None:
                rows = rows[key : key + 1]
            if not rows:
                raise IndexError(f"{self.model.__name__} QuerySet index {key} out of range")
            return rows[0]
        if key.step not in (None, 1) or (key.start or 0) < 0 or (key.stop is not None and key.stop < 0):
            raise ValidationError.single("slice", "only non-negative slices without a step are supported")
        clone = self._chain()
        start = (self._offset or 0) + (key.start or 0)
        stop = None if key.stop is None else (self._offset or 0) + key.stop
        if self._limit is not None:
            end = (self._offset or 0) + self._limit
            stop = end if stop is None else min(stop, end)
        clone._offset = start
        clone._limit = None if stop is None else max(stop - start, 0)
        return clone

    # -- terminal: reading ----------------------------------------------------------------

    def __iter__(self) -> Iterator[M]:
        return iter(self._fetch())

    def _fetch(self) -> list[M]:
        """Run the query once and keep the rows (Django's result cache); clones start empty."""
        if self._result_cache is not None:
            return self._result_cache
        rows: list[M] = list(self._execute(self._rows_statement()).scalars().unique().all())
        if self._keeps_rows:
            self._result_cache = rows
        return rows

    def __len__(self) -> int:
        return len(self._fetch())

    def __bool__(self) -> bool:
        return bool(self._fetch())

    def __repr__(self) -> str:
        return f"<QuerySet {self.model.__name__} {self._visibility}>"

    def get(self, *args: Q, **kwargs: Any) -> M:
        """Return the one row matching the lookups.

        Raises:
            Model.DoesNotExist: No row matched.
            Model.MultipleObjectsReturned: More than one row matched.
        """
        key = self._key_lookup(args, kwargs)
        if key is not None:
            return self._get_by_key(key)
        qs = self.filter(*args, **kwargs) if args or kwargs else self
        if qs._limit is None:
            qs = qs[:2]  # two rows tell "one" from "many"
        rows: list[M] = list(qs._execute(qs._rows_statement()).scalars().unique())
        if not rows:
            raise self.model.DoesNotExist(f"{self.model.__name__} matching the query does not exist")
        if len(rows) > 1:
            raise self.model.MultipleObjectsReturned(f"more than one {self.model.__name__} matched")
        return rows[0]

    def _key_lookup(self, args: tuple[Q, ...], kwargs: dict[str, Any]) -> Any:
        """Return the key value of a plain ``get(pk=...)`` on an unrefined QuerySet, else ``None``."""
        if args or len(kwargs) != 1 or self._shape != () or self._where or self._options or self._distinct:
            return None
        if self._limit is not None or self._offset or self._for_update is not None:
            return None
        (name, value), pk = next(iter(kwargs.items())), self.model.__mapper__.primary_key[0].key  # type: ignore[attr-defined]
        if name not in ("pk", pk) or value is None or isinstance(value, (F, ClauseElement)):
            return None
        return lookup_value(self.model, pk, "exact", value, name)

    def _get_by_key(self, key: Any) -> M:
        """Load one row by key with the model's cached key statement: the hot path of ``get(pk=...)``."""
        stmt = self._cached("get", self._key_statement)
        row: M | None = self._execute(stmt, {"am_key": key}).scalars().first()
        if row is None:
            raise self.model.DoesNotExist(f"{self.model.__name__} matching the query does not exist")
        return row

    def _key_statement(self) -> Any:
        pk = self.model.__mapper__.primary_key[0]  # type: ignore[attr-defined]
        return self._statement().where(pk == sa.bindparam("am_key", type_=pk.type))

    def first(self) -> M | None:
        """Return the first row (by the ordering, else by key), or ``None``."""
        qs = self if self._order or self._search else self.order_by("pk")
        return next(iter(qs[:1]._fetch()), None)

    def last(self) -> M | None:
        """Return the last row (by the ordering, else by key), or ``None``; of a slice, its last row."""
        if self._limit is not None or self._offset:
            rows = self._fetch() if self._order or self._search else self.order_by("pk")._fetch()
            return rows[-1] if rows else None
        return self.reverse().first() if self._order or self._search else self.order_by("-pk").first()

    def exists(self) -> bool:
        """Return whether any row matches."""
        stmt = self._cached(
            "exists", lambda: sa.select(sa.exists(self._statement(sa.literal(1), ordered=False)))
        )
        return bool(self._execute(stmt).scalar())

    def count(self) -> int:
        """Return the number of matching rows (from the result cache if the rows are loaded)."""
        if self._result_cache is not None:
            return len(self._result_cache)
        return int(self._execute(self._cached("count", self._count_statement)).scalar_one())

    def _count_statement(self) -> Any:
        inner = self._statement(self.model.__mapper__.primary_key[0], ordered=False)  # type: ignore[attr-defined]
        if self._distinct or self._plan.joins or self._limit is not None or self._offset:
            return sa.select(sa.func.count()).select_from(inner.subquery())
        return inner.with_only_columns(sa.func.count(), maintain_column_froms=True)

    def _columns(self, fields: Sequence[str]) -> tuple[Self, list[str], list[Any]]:
        """Resolve ``fields`` on a copy (their joins must not reach this QuerySet) and return it too."""
        clone = self._chain()
        resolver = clone._resolver()
        names = list(fields) or list(self.model.model_fields)
        if not fields:
            names = [n for n in names if n not in self.model.__secret_fields__]
        cols = [resolver.column(n, purpose="select") for n in names]
        resolver.check()
        return clone, names, cols

    def values(self, *fields: str) -> list[dict[str, Any]]:
        """Return the rows as dicts of ``fields`` (paths allowed; all but secrets by default)."""
        clone, names, cols = self._columns(fields)
        stmt = clone._statement(*[c.label(n) for c, n in zip(cols, names, strict=True)])
        return [dict(row) for row in clone._execute(stmt).mappings()]

    def values_list(self, *fields: str, flat: bool = False) -> list[Any]:
        """Return the rows as tuples of ``fields``, or single values with ``flat=True``."""
        if flat and len(fields) != 1:
            raise ValidationError.single("flat", "needs exactly one field")
        clone, _names, cols = self._columns(fields)
        rows = clone._execute(clone._statement(*cols))
        return list(rows.scalars()) if flat else [tuple(r) for r in rows]

    def in_bulk(self, id_list: Sequence[Any] | None = None, field_name: str = "pk") -> dict[Any, M]:
        """Return a dict of rows keyed by ``field_name`` (a unique field); only ``id_list`` keys if given."""
        mapper = sa.inspect(self.model)
        key = str(mapper.primary_key[0].key) if field_name == "pk" else field_name
        attr = mapper.column_attrs.get(key)
        if attr is None or not (attr.columns[0].primary_key or attr.columns[0].unique):
            raise FieldError([f"in_bulk() needs a unique field, not {field_name!r}"], self.model.__name__)
        qs = self if id_list is None else self.filter(**{f"{field_name}__in": list(id_list)})
        return {getattr(obj, key): obj for obj in qs}

    def iterator(self, chunk_size: int = 1000) -> Iterator[M]:
        """Yield rows, fetching ``chunk_size`` at a time with a server-side cursor."""
        stmt = self._statement().execution_options(yield_per=chunk_size)
        yield from self._execute(stmt).scalars()

    def aggregate(self, **aggregates: Aggregate) -> dict[str, Any]:
        """Return aggregate values over the matching rows (``total=Count("pk")``); a slice's rows only."""
        clone = self._chain()
        if self._limit is not None or self._offset:
            return clone._aggregate_slice(aggregates)
        resolver = clone._resolver()
        cols = [(name, agg.compile(resolver)) for name, agg in aggregates.items()]
        resolver.check()
        inner = clone._statement(*[c.label(n) for n, c in cols], ordered=False, limited=False)
        return dict(clone._execute(inner).mappings().one())

    def _aggregate_slice(self, aggregates: dict[str, Aggregate]) -> dict[str, Any]:
        rows = self._statement().subquery()
        mapper, problems, cols = sa.inspect(self.model), [], []
        for name, agg in aggregates.items():
            key = str(mapper.primary_key[0].key) if agg.field == "pk" else agg.field
            if key not in mapper.column_attrs or key in self.model.__secret_fields__:
                problems.append(f"{agg.field!r}: aggregates over a slice take the model's own fields")
                continue
            cols.append(agg.function(rows.c[mapper.column_attrs[key].columns[0].name]).label(name))
        if problems:
            raise FieldError(problems, self.model.__name__)
        return dict(self._execute(sa.select(*cols).select_from(rows)).mappings().one())

    def explain(self, analyze: bool = False) -> str:
        """Return PostgreSQL's plan for this QuerySet (``EXPLAIN [ANALYZE]``)."""
        stmt = self._statement()
        if self._params:
            stmt = stmt.params(**self._params)
        compiled = stmt.compile(
            dialect=self.session.get_bind().dialect, compile_kwargs={"render_postcompile": True}
        )
        prefix = "EXPLAIN (ANALYZE, BUFFERS) " if analyze else "EXPLAIN "
        with translating():
            conn = self.session.connection()
            rows = conn.exec_driver_sql(prefix + str(compiled), compiled.params)
        return "\n".join(r[0] for r in rows)

    def paginate(self, page: int = 1, per_page: int = 20) -> Page[M]:
        """Return one page by number; see :func:`assistant_models.core.pagination.paginate`."""
        return paginate(self, page, per_page)

    def cursor_paginate(self, first: int = 20, after: str | None = None) -> CursorPage[M]:
        """Return one keyset page; see :func:`assistant_models.core.pagination.cursor_paginate`."""
        return cursor_paginate(self, first, after)

    # -- terminal: writing ----------------------------------------------------------------

    def create(self, **values: Any) -> M:
        """Validate, insert and return a new row (flushed: key and server defaults are set)."""
        return insert_one(self.session, self.model(**values))

    def update(self, **values: Any) -> int:
        """Set ``values`` on every matching row in one statement and return the count.

        Values are validated field by field; ``F`` expressions are allowed. Audited
        models get one audit row per changed row, in the same statement.
        """
        return writes.update(self, values)

    def delete(self, hard: bool = False) -> int:
        """Delete matching rows (soft for soft-deletable models unless ``hard``); return the count."""
        return writes.delete(self, hard)

    def bulk_create(self, objs: Sequence[M], batch_size: int | None = None) -> list[M]:
        """Insert many validated instances with COPY and return them with their keys."""
        return writes.bulk_create(self, objs, batch_size)

    def bulk_update(self, objs: Sequence[M], fields: Sequence[str], batch_size: int | None = None) -> int:
        """Write ``fields`` of many instances in one statement per batch; return the count."""
        return writes.bulk_update(self, objs, fields, batch_size)

    def get_or_create(self, defaults: dict[str, Any] | None = None, **lookups: Any) -> tuple[M, bool]:
        """Return ``(row, created)``: the matching row, or a new one made from lookups and ``defaults``."""
        return writes.get_or_create(self, defaults, lookups)

    def update_or_create(self, defaults: dict[str, Any] | None = None, **lookups: Any) -> tuple[M, bool]:
        """Return ``(row, created)`` after updating the matching row with ``defaults``, or creating it."""
        return writes.update_or_create(self, defaults, lookups)


def search_vector(model: type[AssistantModel]) -> Any:
    """Return the weighted ``tsvector`` expression over the model's searchable fields.

    The configuration and weights are rendered as SQL literals (they are the
    model's own constants, checked here), so the text of the expression is fixed
    and a GIN index built on :func:`search_index` serves every search.
    """
    config = model.__search_config__
    if not config.isidentifier() or any(
        w not in "ABCD" or len(w) != 1 for w in model.__searchable__.values()
    ):
        raise FieldError([f"bad search configuration on {model.__name__}"], model.__name__)
    regconfig: Any = sa.literal_column(f"'{config}'::regconfig")
    table: sa.Table = model.__table__  # type: ignore[attr-defined]
    parts = [
        sa.func.setweight(
            sa.func.to_tsvector(regconfig, sa.func.coalesce(table.c[name], sa.literal_column("''"))),
            sa.literal_column(f"'{weight}'"),
        )
        for name, weight in model.__searchable__.items()
    ]
    vector: Any = parts[0]
    for part in parts[1:]:
        vector = vector.op("||")(part)
    return vector


def search_index(model: type[AssistantModel]) -> sa.Index:
    """Return the GIN index that serves :meth:`QuerySet.search` on ``model``."""
    table: sa.Table = model.__table__  # type: ignore[attr-defined]
    # A functional index whose columns sit inside function calls is not attached
    # to their table automatically; ``_table`` attaches it (SQLAlchemy's own hook).
    return sa.Index(
        f"ix_{model.__tablename__}__search", search_vector(model), postgresql_using="gin", _table=table
    )
