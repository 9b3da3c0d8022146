"""Field paths: ``author__books__title__icontains`` described once per model, without SQL.

A path walks relationships (hops), ends on a column, a relation or an annotation, and
may carry transforms and a lookup. :func:`describe` returns that walk as plain data,
cached per model and path, so a refinement checks names and value types before any SQL
and the compiler (:mod:`assistant_models.core.compiler`) turns the same description into
joins and columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

import pydantic
import sqlalchemy as sa
from pydantic import TypeAdapter
from sqlalchemy.orm import MANYTOONE, Mapper, RelationshipProperty
from sqlalchemy.types import TypeEngine

from assistant_models.core import transforms as builtin_transforms
from assistant_models.core.concerns import Concern, concerns_of
from assistant_models.core.lookups import Coercer, Lookup, Transform, find_lookup, find_transform, generation

#: The built-in date and JSON vocabulary, registered beside the generic lookups.
VOCABULARY = builtin_transforms

__all__ = ["SEP", "Hop", "Path", "describe", "model_coercer", "primary_key", "type_coercer"]

SEP = "__"


@dataclass(frozen=True, slots=True)
class Hop:
    """One relationship crossed by a path."""

    key: str
    multi: bool
    target: type[Any]


@dataclass(frozen=True, slots=True)
class Path:
    """What a field path names.

    Attributes:
        name: The path as written, without transforms and lookup.
        hops: Relationships to join, in order.
        column: Attribute key of the final column on the last entity, or ``None`` for the key.
        annotation: The annotation named by the path, if any.
        transforms: Transform classes applied to the column, in order.
        lookup: The lookup class (``exact`` when none is written).
        type_: SQL type of the compared value (after the transforms).
        coerce: Converts a Python value to that type, raising ``ValueError``/``TypeError``.
        nullable: The column may hold NULL (or a hop may find no row).
        relation: The model of a relation named as a value (``author=obj``), else ``None``.
    """

    name: str
    hops: tuple[Hop, ...]
    column: str | None
    annotation: str | None
    transforms: tuple[type[Transform], ...]
    lookup: type[Lookup]
    type_: TypeEngine[Any]
    coerce: Coercer
    nullable: bool
    relation: type[Any] | None = None

    @property
    def multi(self) -> bool:
        """Return whether the path crosses a one-to-many or many-to-many relation."""
        return any(h.multi for h in self.hops)


class PathError(Exception):
    """A path names something the model does not have; the message says what."""


def primary_key(model: Any) -> list[str]:
    """Return the attribute keys of ``model``'s primary key columns."""
    mapper: Mapper[Any] = sa.inspect(model)
    return [str(mapper.get_property_by_column(c).key) for c in mapper.primary_key]


@cache
def _adapter(annotation: Any) -> TypeAdapter[Any]:
    return TypeAdapter(annotation)


def _validated(adapter: TypeAdapter[Any]) -> Coercer:
    def coerce(value: Any) -> Any:
        try:
            return adapter.validate_python(value)
        except pydantic.ValidationError as exc:
            message = exc.errors(include_url=False, include_input=False)[0]["msg"]
            raise ValueError(message.removeprefix("Value error, ")) from None

    return coerce


def _identity(value: Any) -> Any:
    return value


def type_coercer(type_: TypeEngine[Any]) -> Coercer:
    """Return a converter to the Python type of a SQL type (values pass as they are when unknown)."""
    if isinstance(type_, sa.JSON):
        return _identity
    try:
        python: Any = type_.python_type
    except NotImplementedError:
        return _identity
    return _validated(_adapter(python))


@cache
def model_coercer(model: Any, key: str) -> Coercer:
    """Return a converter to the type of field ``key`` of ``model`` (its type, not its constraints)."""
    info = getattr(model, "model_fields", {}).get(key)
    if info is None:
        return type_coercer(sa.inspect(model).column_attrs[key].columns[0].type)
    return _validated(_adapter(info.annotation))


def _relation_coercer(target: type[Any], key_coerce: Coercer) -> Coercer:
    pk = primary_key(target)[0]

    def coerce(value: Any) -> Any:
        if isinstance(value, target):
            value = getattr(value, pk)
            if value is None:
                raise ValueError(f"the {target.__name__} is not saved yet")
        return key_coerce(value)

    return coerce


def _tail(
    type_: TypeEngine[Any], parts: list[str], path: str
) -> tuple[tuple[type[Transform], ...], type[Lookup], TypeEngine[Any]]:
    """Split the parts after a column into transforms and the lookup."""
    transforms: list[type[Transform]] = []
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        lookup = find_lookup(type_, part) if last else None
        if lookup is not None:
            return tuple(transforms), lookup, type_
        transform = find_transform(type_, part)
        if transform is None:
            what = "lookup or transform" if last else "transform"
            raise PathError(f"{path!r}: no {what} {part!r} for a {type(type_).__name__} value")
        transforms.append(transform)
        type_ = transform.output_type if transform.output_type is not None else type_
    exact = find_lookup(type_, "exact")
    assert exact is not None  # registered on every type
    return tuple(transforms), exact, type_


def _relation_end(
    model: Any, rel: RelationshipProperty[Any]
) -> tuple[str | None, bool, TypeEngine[Any], Coercer]:
    """Return the column a relation named as a value compares, and whether it needs the join."""
    target: Any = rel.mapper.class_
    if rel.direction is MANYTOONE and not _hides_rows(target):
        local = next(iter(rel.local_columns))
        key = str(sa.inspect(model).get_property_by_column(local).key)
        return key, False, local.type, _relation_coercer(target, model_coercer(model, key))
    pk = primary_key(target)[0]
    column = rel.mapper.column_attrs[pk].columns[0]
    return pk, True, column.type, _relation_coercer(target, model_coercer(target, pk))


def describe(model: Any, path: str, annotations: dict[str, TypeEngine[Any]] | None = None) -> Path:
    """Return what ``path`` names on ``model``.

    Args:
        model: The model the path starts from.
        path: ``field[__field...][__transform...][__lookup]``.
        annotations: Annotation names of the query and their SQL types.

    Raises:
        PathError: The path names a field, relation, transform or lookup that does not exist.
    """
    frozen = tuple(sorted((annotations or {}).items(), key=lambda kv: kv[0]))
    return _describe(model, path, frozen, generation())


#: Paths of annotated queries carry their annotations' types, new objects per query: the
#: cache is bounded so a long-running process does not keep every one of them.
@lru_cache(maxsize=4096)
def _describe(
    model: Any, path: str, annotations: tuple[tuple[str, TypeEngine[Any]], ...], vocabulary: int
) -> Path:
    parts = path.split(SEP)
    if not all(parts):
        raise PathError(f"{path!r} is not a valid field name")
    named = dict(annotations)
    if parts[0] in named:
        transforms, lookup, type_ = _tail(named[parts[0]], parts[1:], path)
        return Path(parts[0], (), None, parts[0], transforms, lookup, type_, type_coercer(type_), True)
    hops: list[Hop] = []
    current, nullable = model, False
    for index, part in enumerate(parts):
        mapper: Mapper[Any] = sa.inspect(current)
        rest = parts[index + 1 :]
        name = SEP.join(parts[: index + 1])
        if part == "pk":
            part = primary_key(current)[0]
        if part in mapper.column_attrs:
            column = mapper.column_attrs[part].columns[0]
            transforms, lookup, type_ = _tail(column.type, rest, path)
            coerce = model_coercer(current, part) if not transforms else type_coercer(type_)
            return Path(
                name,
                tuple(hops),
                part,
                None,
                transforms,
                lookup,
                type_,
                coerce,
                nullable or bool(column.nullable),
            )
        rel = mapper.relationships.get(part)
        if rel is None:
            raise PathError(f"{path!r}: {current.__name__} has no field {part!r}")
        target = rel.mapper.class_
        # ``rel__id`` reads the local key column, unless rows of the target can be hidden
        # (soft delete): then only a join tells a hidden row from a visible one
        names_key = bool(rest) and rest[0] in ("pk", primary_key(target)[0]) and not _hides_rows(target)
        if rest and _is_field(target, rest[0]) and not (rel.direction is MANYTOONE and names_key):
            hops.append(Hop(part, rel.direction is not MANYTOONE, target))
            nullable = True
            current = target
            continue
        key, joined, col_type, coerce = _relation_end(current, rel)
        if joined:
            hops.append(Hop(part, True, target))
        transforms, lookup, type_ = _tail(col_type, rest[1:] if names_key else rest, path)
        return Path(name, tuple(hops), key, None, transforms, lookup, type_, coerce, True, target)
    raise PathError(f"{path!r} is not a valid field name")  # pragma: no cover - loop always returns


def _is_field(model: type[Any], name: str) -> bool:
    mapper: Mapper[Any] = sa.inspect(model)
    return name in mapper.column_attrs or name in mapper.relationships


def _hides_rows(model: type[Any]) -> bool:
    """Return whether a concern of ``model`` hides some of its rows (soft delete)."""
    return any(type(c).visibility is not Concern.visibility for c in concerns_of(model))
