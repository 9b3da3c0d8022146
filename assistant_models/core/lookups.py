"""Django-style field paths, lookups, ``Q`` and ``F``, compiled to SQLAlchemy expressions.

A path such as ``assignee__email__iexact`` walks relationships (joining each one
once, through an alias) and ends on a column and a lookup. Every problem in a
call is collected and raised together as one :class:`FieldError` before any SQL
is built. Text given to a lookup is always literal: ``%`` and ``_`` match
themselves.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapper, RelationshipProperty, aliased

from assistant_models.exceptions import FieldError, ValidationError

__all__ = ["LOOKUPS", "TEXT_LOOKUPS", "F", "JoinPlan", "Q", "Resolver", "apply_joins", "like", "like_pattern"]

SEP = "__"


ESCAPE = "/"
#: Text lookups: pattern before, pattern after, case-insensitive.
TEXT_LOOKUPS = {
    "contains": ("%", "%", False),
    "icontains": ("%", "%", True),
    "startswith": ("", "%", False),
    "istartswith": ("", "%", True),
    "endswith": ("%", "", False),
    "iendswith": ("%", "", True),
}


def escape_like(value: str) -> str:
    """Return ``value`` with LIKE's wildcards escaped, so it matches literally."""
    return value.replace(ESCAPE, ESCAPE * 2).replace("%", ESCAPE + "%").replace("_", ESCAPE + "_")


def text_column(col: Any) -> Any:
    """Return ``col`` as text: itself for text columns, else ``CAST(col AS TEXT)`` (as Django does)."""
    return col if isinstance(col.type, sa.String) else sa.cast(col, sa.Text)


def like(col: Any, lookup: str, pattern: Any) -> Any:
    """Return the LIKE/ILIKE condition of a text lookup; ``pattern`` is already escaped and wrapped."""
    target = text_column(col)
    insensitive = TEXT_LOOKUPS[lookup][2]
    return target.ilike(pattern, escape=ESCAPE) if insensitive else target.like(pattern, escape=ESCAPE)


def like_pattern(lookup: str, value: Any) -> str:
    """Return the escaped LIKE pattern of a text lookup's value."""
    before, after, _ = TEXT_LOOKUPS[lookup]
    return f"{before}{escape_like(str(value))}{after}"


def _like(lookup: str) -> Callable[[Any, Any], Any]:
    def build(col: Any, value: Any) -> Any:
        return like(col, lookup, sa.literal(like_pattern(lookup, value), sa.String()))

    return build


def _iexact(col: Any, value: Any) -> Any:
    if value is None:
        return col.is_(None)
    return sa.func.lower(text_column(col)) == sa.func.lower(sa.literal(str(value), sa.String))


def _in(col: Any, value: Any) -> Any:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise TypeError("needs a list, tuple or set of values")
    return col.in_(list(value))


def _range(col: Any, value: Any) -> Any:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise TypeError("needs a (low, high) pair")
    pair = list(value)
    if len(pair) != 2:
        raise TypeError("needs a (low, high) pair")
    return col.between(pair[0], pair[1])


def _isnull(col: Any, value: Any) -> Any:
    if not isinstance(value, bool):
        raise TypeError("needs True or False")
    return col.is_(None) if value else col.is_not(None)


def _exact(col: Any, value: Any) -> Any:
    return col.is_(None) if value is None else col == value


LOOKUPS: dict[str, Callable[[Any, Any], Any]] = {
    "exact": _exact,
    "iexact": _iexact,
    **{name: _like(name) for name in TEXT_LOOKUPS},
    "in": _in,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
    "range": _range,
    "isnull": _isnull,
}


class F:
    """A reference to a column of the row itself, for atomic updates and comparisons.

    Example:
        >>> Task.objects.filter(pk=task_id).update(retry_count=F("retry_count") + 1)  # doctest: +SKIP
    """

    def __init__(self, name: str) -> None:
        self.name = name

    def _combine(self, op: Callable[[Any, Any], Any], other: Any, reverse: bool = False) -> Combined:
        return Combined(op, other, self) if reverse else Combined(op, self, other)

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

    def __truediv__(self, other: Any) -> Combined:
        return self._combine(operator.truediv, other)

    def __repr__(self) -> str:
        return f"F({self.name!r})"


class Combined(F):
    """Arithmetic on :class:`F` references and plain values."""

    def __init__(self, op: Callable[[Any, Any], Any], lhs: Any, rhs: Any) -> None:
        super().__init__(f"({lhs!r} {op.__name__} {rhs!r})")
        self.op, self.lhs, self.rhs = op, lhs, rhs


class Q:
    """A condition tree: keyword lookups joined with ``&``, ``|`` and negated with ``~``."""

    AND = "AND"
    OR = "OR"

    def __init__(self, *children: Q, _connector: str = AND, _negated: bool = False, **lookups: Any) -> None:
        self.children: list[Q | tuple[str, Any]] = [*children, *sorted(lookups.items())]
        self.connector = _connector
        self.negated = _negated

    def _combine(self, other: Q, connector: str) -> Q:
        if not isinstance(other, Q):
            raise TypeError(f"cannot combine Q with {type(other).__name__}")
        return Q(self, other, _connector=connector)

    def __and__(self, other: Q) -> Q:
        return self._combine(other, self.AND)

    def __or__(self, other: Q) -> Q:
        return self._combine(other, self.OR)

    def __invert__(self) -> Q:
        clone = Q(
            *[c for c in self.children if isinstance(c, Q)],
            _connector=self.connector,
            _negated=not self.negated,
        )
        clone.children = list(self.children)
        return clone

    def __repr__(self) -> str:
        return f"<Q {'NOT ' if self.negated else ''}{self.connector}: {self.children!r}>"


@dataclass
class JoinPlan:
    """The relationship joins a statement needs, one alias per path."""

    aliases: dict[str, Any] = field(default_factory=dict)
    joins: list[tuple[str, Any, Any, bool]] = field(default_factory=list)


class Resolver:
    """Resolve field paths of one model to columns, joining relationships as needed.

    Args:
        model: The model the paths start from.
        plan: The joins gathered so far; shared by every path of one statement.
        live_only: Add ``deleted_at IS NULL`` to joins of soft-deletable targets.
    """

    def __init__(self, model: type[Any], plan: JoinPlan | None = None, live_only: bool = True) -> None:
        self.model = model
        self.plan = plan if plan is not None else JoinPlan()
        self.live_only = live_only
        self.problems: list[str] = []

    def column(self, path: str, purpose: str = "filter") -> Any:
        """Return the column a path names (``"pk"`` and ``"rel__field"`` allowed), or ``None``."""
        parts = path.split(SEP)
        if not all(parts):
            self.problems.append(f"{path!r} is not a valid field name")
            return None
        entity, mapper = self.model, sa.inspect(self.model)
        for depth in range(len(parts) - 1):
            entity, mapper = self._join(entity, mapper, parts[: depth + 1], path)
            if entity is None:
                return None
        return self._attribute(entity, mapper, parts[-1], path, purpose)

    def _join(self, entity: Any, mapper: Mapper[Any], parts: list[str], path: str) -> tuple[Any, Any]:
        key = SEP.join(parts)
        rel = mapper.relationships.get(parts[-1])
        if rel is None:
            self.problems.append(f"{path!r}: {mapper.class_.__name__} has no relation {parts[-1]!r}")
            return None, None
        if key not in self.plan.aliases:
            target = aliased(rel.mapper.class_, name=f"j_{key}")
            self.plan.aliases[key] = target
            self.plan.joins.append((key, getattr(entity, parts[-1]), target, self._live(rel)))
        return self.plan.aliases[key], rel.mapper

    def _live(self, rel: RelationshipProperty[Any]) -> bool:
        return self.live_only and getattr(rel.mapper.class_, "__soft_delete__", False)

    def _attribute(self, entity: Any, mapper: Mapper[Any], name: str, path: str, purpose: str) -> Any:
        model = mapper.class_
        if name == "pk":
            name = str(mapper.primary_key[0].key)
        if name in getattr(model, "__secret_fields__", ()):
            self.problems.append(f"{path!r} holds a secret and cannot be used to {purpose}")
            return None
        if name not in mapper.column_attrs:
            if name in mapper.relationships:
                self.problems.append(f"{path!r} is a relation; name one of its fields ({name}__id)")
            else:
                self.problems.append(f"{path!r}: {model.__name__} has no field {name!r}")
            return None
        return getattr(entity, name)

    def split_lookup(self, path: str) -> tuple[str, str]:
        """Split ``"a__b__iexact"`` into ``("a__b", "iexact")``; no lookup means ``exact``."""
        head, _, last = path.rpartition(SEP)
        if head and last in LOOKUPS:
            return head, last
        return path, "exact"

    def condition(self, path: str, value: Any, keep_nulls: bool = False) -> Any:
        """Return the SQL condition for one ``path=value`` keyword, or ``None`` on a problem.

        Args:
            path: ``field__lookup`` (relations allowed).
            value: The lookup's value.
            keep_nulls: The condition will be negated: rows whose column is NULL (or
                whose relation is missing) must not match it, as in Django's ``exclude``.
        """
        field_path, lookup = self.split_lookup(path)
        col = self.column(field_path)
        if col is None:
            return None
        from assistant_models.core.base import refuse_nul

        refuse_nul({path: value}, self.model.__name__)
        if value is None and lookup not in ("exact", "iexact", "isnull"):
            raise ValidationError.single(path, f"{lookup} lookup cannot take None", self.model.__name__)
        if isinstance(value, F):
            value = self.expression(value)
            if value is None:
                return None
        elif value is not None and not isinstance(value, sa.sql.ClauseElement):
            from assistant_models.core.base import lookup_value

            value = lookup_value(col.property.parent.class_, col.key, lookup, value, path)
        try:
            cond = LOOKUPS[lookup](col, value)
        except (TypeError, ValueError) as exc:
            raise ValidationError.single(path, f"{lookup} lookup {exc}", self.model.__name__) from None
        if keep_nulls and lookup != "isnull" and value is not None and (SEP in field_path or nullable(col)):
            cond = sa.and_(cond, col.is_not(None))
        return cond

    def expression(self, ref: F) -> Any:
        """Compile an :class:`F` reference (or arithmetic on references) to SQL."""
        if isinstance(ref, Combined):
            lhs = self.expression(ref.lhs) if isinstance(ref.lhs, F) else ref.lhs
            rhs = self.expression(ref.rhs) if isinstance(ref.rhs, F) else ref.rhs
            return None if lhs is None or rhs is None else ref.op(lhs, rhs)
        return self.column(ref.name)

    def q(self, node: Q, negated: bool = False) -> Any:
        """Compile a :class:`Q` tree to SQL; ``None`` for an empty tree (it adds no condition)."""
        inside = negated or node.negated
        parts = [
            self.q(c, inside) if isinstance(c, Q) else self.condition(*c, keep_nulls=inside)
            for c in node.children
        ]
        parts = [p for p in parts if p is not None]
        if not parts:
            return None
        combined = sa.or_(*parts) if node.connector == Q.OR else sa.and_(*parts)
        return sa.not_(combined) if node.negated else combined

    def ordering(self, name: str) -> Any:
        """Return the ORDER BY element for ``"field"`` or ``"-field"`` (paths allowed)."""
        desc = name.startswith("-")
        col = self.column(name[1:] if desc else name, purpose="order by")
        if col is None:
            return None
        return col.desc() if desc else col.asc()

    def check(self) -> None:
        """Raise every problem gathered so far as one :class:`FieldError`."""
        if self.problems:
            problems, self.problems = self.problems, []
            raise FieldError(problems, self.model.__name__)


def nullable(col: Any) -> bool:
    """Return whether a mapped column attribute may hold NULL."""
    columns = getattr(getattr(col, "property", None), "columns", None)
    return bool(columns[0].nullable) if columns else True


def apply_joins(stmt: Any, plan: JoinPlan) -> Any:
    """Add the planned relationship joins (LEFT OUTER, live rows only where asked) to ``stmt``."""
    for _key, rel_attr, target, live in plan.joins:
        onclause = rel_attr.of_type(target)
        if live:
            onclause = onclause.and_(target.deleted_at.is_(None))
        stmt = stmt.outerjoin(onclause)
    return stmt
