"""Lookups and transforms: an open vocabulary, registered per column type.

A lookup is the last part of a filter keyword (``title__icontains``), a transform a part
before it that changes the value compared (``created_at__year__gte``). Both are small
classes registered on a SQLAlchemy type with :func:`register_lookup`, Django's
``RegisterLookupMixin`` idea; every compile path (filters, ``When``, ``filter=`` of
aggregates, cached statements) asks this registry, so a new lookup needs no other change::

    @register_lookup(sa.String)
    class Similar(Lookup):
        lookup_name = "similar"

        def as_sql(self):
            return self.lhs.op("%")(self.rhs)

Values are always bound parameters, never SQL text; text given to a pattern lookup is
literal (``%`` and ``_`` match themselves).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any, ClassVar, TypeAlias, TypeVar

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator, TypeEngine

__all__ = [
    "Coercer",
    "Lookup",
    "Transform",
    "find_lookup",
    "find_transform",
    "register_lookup",
    "register_transform_factory",
    "unregister_lookup",
]

SQL: TypeAlias = ColumnElement[Any]
#: Turns a lookup's Python value into the field's type; raises ValueError/TypeError on bad input.
Coercer: TypeAlias = Callable[[Any], Any]

ESCAPE = "\\"


class Lookup:
    """A comparison ``lhs <op> rhs``, compiled by :meth:`as_sql`.

    Class attributes and hooks a subclass may change:
        lookup_name: The keyword suffix (``"icontains"``).
        accepts_none: ``None`` is a meaningful value (``exact``: ``IS NULL``).
        coerce_value: Check and convert the value with the field's type first.
    """

    lookup_name: ClassVar[str] = ""
    accepts_none: ClassVar[bool] = False
    coerce_value: ClassVar[bool] = True

    def __init__(self, lhs: SQL, rhs: Any) -> None:
        self.lhs = lhs
        self.rhs = rhs

    def as_sql(self) -> SQL:
        """Return the SQL condition."""
        raise NotImplementedError

    @classmethod
    def prepare(cls, value: Any, coerce: Coercer) -> Any:
        """Return the value to bind; raise ``ValueError``/``TypeError`` saying what is wrong."""
        return coerce(value) if cls.coerce_value else value

    @classmethod
    def shape(cls, value: Any) -> Hashable:
        """Return the part of a (prepared) value that changes the SQL; most values change none."""
        return "v"

    @classmethod
    def placeholder(cls, type_: TypeEngine[Any], name: str, shape: Hashable) -> Any:
        """Return the bound parameter(s) standing for the value."""
        return sa.bindparam(name, type_=type_)

    @classmethod
    def parameters(cls, value: Any, name: str) -> dict[str, Any]:
        """Return the values of the parameters made by :meth:`placeholder`."""
        return {name: value}

    @classmethod
    def process_expression(cls, rhs: SQL) -> SQL:
        """Return the right-hand side when it is an expression (``F("other")``) rather than a value."""
        return rhs


class Transform:
    """A function of the left-hand side (``__year``, ``__date``, a JSON key) before the lookup.

    ``output_type`` is the SQL type of the result (``None``: the input's type); lookups on
    the result are found by it.
    """

    lookup_name: ClassVar[str] = ""
    output_type: ClassVar[TypeEngine[Any] | None] = None

    def __init__(self, lhs: SQL) -> None:
        self.lhs = lhs

    def as_sql(self) -> SQL:
        """Return the transformed expression."""
        raise NotImplementedError


L = TypeVar("L", bound="type[Lookup] | type[Transform]")
_REGISTRY: dict[type[TypeEngine[Any]], dict[str, type[Lookup] | type[Transform]]] = {}
_FACTORIES: dict[type[TypeEngine[Any]], Callable[[str], type[Transform] | None]] = {}
_CACHE: dict[tuple[type[TypeEngine[Any]], str, type[Any]], Any] = {}
_GENERATION = [0]


def generation() -> int:
    """Return a number that changes whenever the registry does (caches of resolved paths key on it)."""
    return _GENERATION[0]


def _changed() -> None:
    _CACHE.clear()
    _GENERATION[0] += 1


def register_lookup(type_: type[TypeEngine[Any]], cls: L | None = None) -> Any:
    """Register a lookup or transform class on a column type (and its subclasses).

    Usable directly, ``register_lookup(sa.String, Similar)``, or as a class decorator,
    ``@register_lookup(sa.String)``. A later registration of the same name wins.
    """

    def register(cls: L) -> L:
        if not cls.lookup_name:
            raise TypeError(f"{cls.__name__} needs a lookup_name")
        _REGISTRY.setdefault(type_, {})[cls.lookup_name] = cls
        _changed()
        return cls

    return register(cls) if cls is not None else register


def unregister_lookup(type_: type[TypeEngine[Any]], name: str) -> None:
    """Remove a registered lookup or transform (tests use it to undo a registration)."""
    _REGISTRY.get(type_, {}).pop(name, None)
    _changed()


def register_transform_factory(
    type_: type[TypeEngine[Any]], factory: Callable[[str], type[Transform] | None]
) -> None:
    """Register a maker of transforms for names no class claims (JSON keys: ``meta__plan``)."""
    _FACTORIES[type_] = factory
    _changed()


def _type_classes(type_: TypeEngine[Any]) -> list[type[TypeEngine[Any]]]:
    """Return the classes a type's lookups are searched in, most specific first."""
    variant = getattr(type_, "_variant_mapping", {}).get("postgresql")
    classes: list[type[TypeEngine[Any]]] = []
    for each in (
        variant,
        type_,
        getattr(type_, "impl_instance", None) if isinstance(type_, TypeDecorator) else None,
    ):
        if each is not None:
            classes.extend(c for c in type(each).__mro__ if issubclass(c, TypeEngine) and c not in classes)
    return classes


def _find(type_: TypeEngine[Any], name: str, kind: type[Any]) -> Any:
    key = (type(type_), name, kind)
    if key in _CACHE and not getattr(type_, "_variant_mapping", None):
        return _CACHE[key]
    found: Any = None
    classes = _type_classes(type_)
    for cls in classes:
        candidate = _REGISTRY.get(cls, {}).get(name)
        if isinstance(candidate, type) and issubclass(candidate, kind):
            found = candidate
            break
    if found is None and kind is Transform:
        factory = next((_FACTORIES[c] for c in classes if c in _FACTORIES), None)
        found = factory(name) if factory is not None else None
    _CACHE[key] = found
    return found


def find_lookup(type_: TypeEngine[Any], name: str) -> type[Lookup] | None:
    """Return the lookup class ``name`` for a column of ``type_``, or ``None``."""
    found: type[Lookup] | None = _find(type_, name, Lookup)
    return found


def find_transform(type_: TypeEngine[Any], name: str) -> type[Transform] | None:
    """Return the transform class ``name`` for a column of ``type_``, or ``None``."""
    found: type[Transform] | None = _find(type_, name, Transform)
    return found


# -- the built-in vocabulary ----------------------------------------------------------------


def text_of(col: SQL) -> SQL:
    """Return ``col`` as text: itself for text columns, else ``CAST(col AS TEXT)`` (as Django does)."""
    return (
        col
        if isinstance(col.type, sa.String) and not isinstance(col.type, sa.Enum)
        else sa.cast(col, sa.Text)
    )


def escape_like(value: str) -> str:
    """Return ``value`` with LIKE's wildcards escaped, so it matches literally."""
    return value.replace(ESCAPE, ESCAPE * 2).replace("%", ESCAPE + "%").replace("_", ESCAPE + "_")


@register_lookup(TypeEngine)
class Exact(Lookup):
    """``=``; ``None`` means ``IS NULL``."""

    lookup_name = "exact"
    accepts_none = True

    def as_sql(self) -> SQL:
        """Return ``lhs = rhs`` (``IS NULL`` for NULL)."""
        return self.lhs.is_(None) if _is_null(self.rhs) else self.lhs == self.rhs


def _is_null(rhs: Any) -> bool:
    return isinstance(rhs, sa.sql.elements.Null)


class TextLookup(Lookup):
    """A lookup whose value is text whatever the column's type (``iexact``, ``regex`` ...)."""

    coerce_value = False

    @classmethod
    def prepare(cls, value: Any, coerce: Coercer) -> Any:
        """Return the value as text."""
        return str(value)

    @classmethod
    def placeholder(cls, type_: TypeEngine[Any], name: str, shape: Hashable) -> Any:
        """Return a text parameter."""
        return sa.bindparam(name, type_=sa.String())


@register_lookup(TypeEngine)
class IExact(TextLookup):
    """Case-insensitive equality; ``None`` means ``IS NULL``."""

    lookup_name = "iexact"
    accepts_none = True

    def as_sql(self) -> SQL:
        """Return ``lower(lhs) = lower(rhs)``."""
        if _is_null(self.rhs):
            return self.lhs.is_(None)
        return sa.func.lower(text_of(self.lhs)) == sa.func.lower(text_of(self.rhs))


def _comparison(name: str, op: Callable[[SQL, Any], SQL]) -> type[Lookup]:
    def as_sql(self: Lookup) -> SQL:
        return op(self.lhs, self.rhs)

    cls = type(name.title(), (Lookup,), {"lookup_name": name, "as_sql": as_sql, "__doc__": f"``{name}``."})
    register_lookup(TypeEngine, cls)
    return cls


GreaterThan = _comparison("gt", lambda lhs, rhs: lhs > rhs)
GreaterThanOrEqual = _comparison("gte", lambda lhs, rhs: lhs >= rhs)
LessThan = _comparison("lt", lambda lhs, rhs: lhs < rhs)
LessThanOrEqual = _comparison("lte", lambda lhs, rhs: lhs <= rhs)


def _sequence(value: Any, what: str) -> list[Any]:
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise TypeError(f"needs {what}")
    return list(value)


@register_lookup(TypeEngine)
class In(Lookup):
    """Membership in a list of values (NULLs in the list never match, as in SQL) or in a subquery."""

    lookup_name = "in"

    @classmethod
    def prepare(cls, value: Any, coerce: Coercer) -> Any:
        """Return the values, each converted, NULLs left out."""
        return [coerce(v) for v in _sequence(value, "a list, tuple or set of values") if v is not None]

    @classmethod
    def shape(cls, value: Any) -> Hashable:
        """Return ``"seq"``: any list binds to the same expanding parameter."""
        return "seq"

    @classmethod
    def placeholder(cls, type_: TypeEngine[Any], name: str, shape: Hashable) -> Any:
        """Return an expanding parameter."""
        return sa.bindparam(name, expanding=True, type_=type_)

    def as_sql(self) -> SQL:
        """Return ``lhs IN (...)``."""
        return self.lhs.in_(self.rhs)


@register_lookup(TypeEngine)
class Range(Lookup):
    """``BETWEEN low AND high``, both ends included."""

    lookup_name = "range"

    @classmethod
    def prepare(cls, value: Any, coerce: Coercer) -> Any:
        """Return the converted (low, high) pair."""
        pair = _sequence(value, "a (low, high) pair")
        if len(pair) != 2:
            raise TypeError("needs a (low, high) pair")
        return [coerce(v) for v in pair]

    @classmethod
    def placeholder(cls, type_: TypeEngine[Any], name: str, shape: Hashable) -> Any:
        """Return two parameters."""
        return (sa.bindparam(f"{name}_lo", type_=type_), sa.bindparam(f"{name}_hi", type_=type_))

    @classmethod
    def parameters(cls, value: Any, name: str) -> dict[str, Any]:
        """Return the two ends."""
        return {f"{name}_lo": value[0], f"{name}_hi": value[1]}

    def as_sql(self) -> SQL:
        """Return ``lhs BETWEEN low AND high``."""
        low, high = self.rhs if isinstance(self.rhs, tuple) else (self.rhs, self.rhs)
        return self.lhs.between(low, high)


@register_lookup(TypeEngine)
class IsNull(Lookup):
    """``IS NULL`` (``True``) or ``IS NOT NULL`` (``False``)."""

    lookup_name = "isnull"
    coerce_value = False

    @classmethod
    def prepare(cls, value: Any, coerce: Coercer) -> Any:
        """Return the flag; only booleans are accepted."""
        if not isinstance(value, bool):
            raise TypeError("needs True or False")
        return value

    @classmethod
    def shape(cls, value: Any) -> Hashable:
        """Return the flag itself: it changes the SQL."""
        return bool(value)

    @classmethod
    def placeholder(cls, type_: TypeEngine[Any], name: str, shape: Hashable) -> Any:
        """Return the flag as SQL ``true``/``false``."""
        return sa.true() if shape else sa.false()

    @classmethod
    def parameters(cls, value: Any, name: str) -> dict[str, Any]:
        """Return nothing: the flag is part of the SQL."""
        return {}

    def as_sql(self) -> SQL:
        """Return the NULL test."""
        return self.lhs.is_(None) if isinstance(self.rhs, sa.sql.elements.True_) else self.lhs.is_not(None)


class PatternLookup(TextLookup):
    """A LIKE lookup: the value is escaped and wrapped in wildcards; the column is compared as text."""

    before: ClassVar[str] = ""
    after: ClassVar[str] = ""
    insensitive: ClassVar[bool] = False

    @classmethod
    def prepare(cls, value: Any, coerce: Coercer) -> Any:
        """Return the escaped pattern of the value's text."""
        return f"{cls.before}{escape_like(str(value))}{cls.after}"

    @classmethod
    def process_expression(cls, rhs: SQL) -> SQL:
        """Return the pattern built in SQL from another column: escaped, then wrapped."""
        text: SQL = text_of(rhs)
        for char in (ESCAPE, "%", "_"):
            text = sa.func.replace(text, char, ESCAPE + char)
        if cls.before:
            text = sa.literal(cls.before) + text
        if cls.after:
            text = text + sa.literal(cls.after)
        return text

    def as_sql(self) -> SQL:
        """Return ``lhs [I]LIKE pattern``."""
        lhs = text_of(self.lhs)
        if self.insensitive:
            return lhs.ilike(self.rhs, escape=ESCAPE)
        return lhs.like(self.rhs, escape=ESCAPE)


def _pattern(name: str, before: str, after: str, insensitive: bool) -> type[Lookup]:
    attrs = {"lookup_name": name, "before": before, "after": after, "insensitive": insensitive}
    cls = type(name.title(), (PatternLookup,), {**attrs, "__doc__": f"``{name}``: a literal text match."})
    register_lookup(TypeEngine, cls)
    return cls


Contains = _pattern("contains", "%", "%", False)
IContains = _pattern("icontains", "%", "%", True)
StartsWith = _pattern("startswith", "", "%", False)
IStartsWith = _pattern("istartswith", "", "%", True)
EndsWith = _pattern("endswith", "%", "", False)
IEndsWith = _pattern("iendswith", "%", "", True)


@register_lookup(TypeEngine)
class Regex(TextLookup):
    """A POSIX regular expression match (``~``)."""

    lookup_name = "regex"
    operator: ClassVar[str] = "~"

    def as_sql(self) -> SQL:
        """Return ``lhs ~ pattern``."""
        return text_of(self.lhs).op(self.operator, is_comparison=True)(self.rhs)


@register_lookup(TypeEngine)
class IRegex(Regex):
    """A case-insensitive regular expression match (``~*``)."""

    lookup_name = "iregex"
    operator = "~*"
