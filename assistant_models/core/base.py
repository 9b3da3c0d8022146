"""AssistantModel: the base of every entity.

SQLModel skips validation when a ``table=True`` model is constructed
(``sqlmodel._compat.sqlmodel_table_construct``). Our base validates in
``__init__`` and, through :mod:`assistant_models.core.events`, validates every
changed attribute again before a flush sends it, so invalid data never reaches SQL.
"""

from __future__ import annotations

import math
import re
import threading
from datetime import datetime
from functools import cache
from typing import Any, ClassVar

import pydantic
from pydantic import TypeAdapter
from pydantic_core import PydanticSerializationError, to_jsonable_python
from sqlalchemy import MetaData, event
from sqlalchemy.orm import registry
from sqlalchemy.orm.attributes import instance_state
from sqlmodel import SQLModel
from sqlmodel.main import finish_init  # type: ignore[attr-defined]

from assistant_models.core.expressions import PLAIN_VALUE_TYPES, SQL_VALUE_TYPES
from assistant_models.core.instances import InstanceAPI
from assistant_models.core.live_unique import unique_among_live_rows
from assistant_models.core.tsvector import add_search_column
from assistant_models.core.types import MAX_JSON_DEPTH, UnreadableJSON
from assistant_models.exceptions import MultipleObjectsReturned, NotFoundError, ValidationError

__all__ = [
    "AssistantModel",
    "field_adapter",
    "lookup_value",
    "metadata",
    "refuse_nul",
    "refuse_nulls",
    "sql_fields",
    "validate_fields",
]

#: Key in SQLAlchemy's per-instance ``info`` of the values the constructor validated.
VALIDATED = "assistant_models_validated"
#: Key in the same ``info`` of the fields holding SQL expressions, as validation last saw them.
SQL_FIELDS = "assistant_models_sql_fields"

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s__%(column_0_N_name)s",
    "uq": "uq_%(table_name)s__%(column_0_N_name)s",
    "ck": "ck_%(table_name)s__%(constraint_name)s",
    "fk": "fk_%(table_name)s__%(column_0_N_name)s",
    "pk": "pk_%(table_name)s",
}

#: The package's own metadata: Alembic's target and the source of constraint names.
metadata = MetaData(naming_convention=NAMING_CONVENTION)
mapper_registry = registry(metadata=metadata)


NUL_MESSAGE = "cannot contain NUL (\\x00) characters"
SURROGATE_MESSAGE = "cannot contain lone surrogates (\\ud800-\\udfff): it is not valid Unicode"
DEPTH_MESSAGE = f"is nested deeper than {MAX_JSON_DEPTH} levels"
UNREADABLE_MESSAGE = "holds a stored document that was never loaded (too deep): assign a new value"
NAIVE_MESSAGE = "must be a timezone-aware datetime (naive datetimes are refused)"

#: Characters PostgreSQL text and JSONB refuse: NUL, and UTF-16 surrogates, which no
#: UTF-8 encoder accepts (psycopg2 and asyncpg would raise a raw UnicodeEncodeError).
_BAD_CHARACTER = re.compile("[\x00\ud800-\udfff]")


def _text_problem(text: str) -> str | None:
    """Return what is wrong with ``text`` for PostgreSQL, or ``None``."""
    if text.isascii():  # the common case, checked in C without a regex
        return NUL_MESSAGE if "\x00" in text else None
    found = _BAD_CHARACTER.search(text)
    if found is None:
        return None
    return NUL_MESSAGE if found.group() == "\x00" else SURROGATE_MESSAGE


_CONTAINERS = (dict, list, tuple, set, frozenset)


def _document_problem(document: Any, depth: int = 0) -> str | None:
    """Return what is wrong with a document (or sequence) and everything in it, or ``None``.

    Walks at most :data:`MAX_JSON_DEPTH` levels, so a hostile document costs a
    bounded walk and never a ``RecursionError``. Hot path: text is tested inline.
    """
    if depth >= MAX_JSON_DEPTH:
        return DEPTH_MESSAGE
    if isinstance(document, dict):
        for key in document:
            if isinstance(key, str) and not (key.isascii() and "\x00" not in key):
                problem = _text_problem(key)
                if problem is not None:
                    return problem
        children: Any = document.values()
    else:
        children = document
    for child in children:
        if isinstance(child, str):
            if child.isascii() and "\x00" not in child:
                continue
            problem = _text_problem(child)
        elif isinstance(child, _CONTAINERS):
            problem = _document_problem(child, depth + 1)
        elif child is None or type(child) in _JSON_SCALARS:
            continue
        else:
            problem = _leaf_problem(child)
        if problem is not None:
            return problem
    return None


_JSON_SCALARS = (int, bool)
NAN_MESSAGE = "cannot hold NaN or an infinity (JSON has neither)"


def _leaf_problem(value: Any) -> str | None:
    """Return what JSON cannot store about one leaf of a document (a float, or another object)."""
    if isinstance(value, float):
        return None if math.isfinite(value) else NAN_MESSAGE
    try:  # what pydantic's JSON mode converts (datetimes, UUIDs, enums, bytes ...) is fine
        plain = to_jsonable_python(value)
    except (PydanticSerializationError, RecursionError, ValueError):
        return f"holds a {type(value).__name__}, which cannot be stored as JSON"
    if isinstance(plain, float) and not math.isfinite(plain):
        return NAN_MESSAGE
    return None


def _nul_errors(values: dict[str, Any]) -> list[dict[str, str]]:
    """Return an error per value PostgreSQL would refuse, misread, or no reader could load.

    Text holding NUL or a lone surrogate, at any depth of a document or sequence;
    documents nested deeper than :data:`MAX_JSON_DEPTH`; naive datetimes (the
    server would read them in its own time zone).
    """
    errors = []
    for key, value in values.items():
        if isinstance(value, str):
            if value.isascii() and "\x00" not in value:
                continue
            problem = _text_problem(value)
        elif isinstance(value, _CONTAINERS):
            problem = _document_problem(value)
        elif isinstance(value, datetime) and (value.tzinfo is None or value.utcoffset() is None):
            problem = NAIVE_MESSAGE
        else:
            continue
        if problem is not None:
            errors.append({"field": key, "message": problem})
    return errors


def refuse_nul(values: dict[str, Any], model: str) -> None:
    """Raise a ValidationError naming every value PostgreSQL would refuse.

    That is text holding a NUL character or a lone surrogate (at any depth of a
    document, list or tuple), documents nested deeper than
    :data:`~assistant_models.core.types.MAX_JSON_DEPTH` levels, and naive
    datetimes (checked at the top level: inside a document a datetime is stored
    as text). Keys of ``values`` name the fields (or lookup paths) in the error.

    Raises:
        ValidationError: Naming every value at fault.
    """
    errors = _nul_errors(values)
    if errors:
        raise ValidationError(errors, model)


def _is_naive(value: Any) -> bool:
    return isinstance(value, datetime) and (value.tzinfo is None or value.utcoffset() is None)


def _naive_errors(values: dict[str, Any]) -> list[dict[str, str]]:
    """Return an error per naive datetime: the server would read it in its own time zone."""
    return [
        {"field": k, "message": NAIVE_MESSAGE}
        for k, v in values.items()
        if isinstance(v, datetime) and (v.tzinfo is None or v.utcoffset() is None)
    ]


def _check_relations(cls: Any, values: dict[str, Any]) -> None:
    """Refuse relation values that are not instances of the related model (or None)."""
    errors = []
    for key, value in values.items():
        rel = cls.__mapper__.relationships[key]
        target = rel.mapper.class_
        items = value if rel.uselist and isinstance(value, (list, tuple, set)) else [value]
        if any(item is not None and not isinstance(item, target) for item in items):
            errors.append({"field": key, "message": f"must be a {target.__name__} instance"})
    if errors:
        raise ValidationError(errors, cls.__name__)


def _pydantic_errors(model: str, exc: pydantic.ValidationError, prefix: str = "") -> ValidationError:
    errors = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = ".".join(str(p) for p in err["loc"]) or prefix or "__all__"
        field = f"{prefix}.{loc}" if prefix and loc != prefix else loc
        message = err["msg"].removeprefix("Value error, ")
        errors.append({"field": field, "message": message})
    return ValidationError(errors, model)


class AssistantModel(InstanceAPI, SQLModel, registry=mapper_registry):
    """Base of every entity: own registry, naming convention, validation on write.

    Instances have Django's ``pk``, ``save()``, ``delete()``, ``refresh_from_db()``,
    equality by primary key and hashing (see :mod:`assistant_models.core.instances`).

    Class attributes a model may set:
        __secret_fields__: Fields that hold secrets. They never appear in
            ``repr``, dumps or audit diffs, and cannot be filtered or ordered on.
        __audit_exclude__: Bookkeeping fields (``last_used_at``) whose changes
            alone write no audit row.
        __searchable__: Field name to text-search weight (``"A"``..``"D"``).
        __search_config__: PostgreSQL text search configuration.
    """

    __secret_fields__: ClassVar[frozenset[str]] = frozenset()
    __audit_exclude__: ClassVar[frozenset[str]] = frozenset()
    __searchable__: ClassVar[dict[str, str]] = {}
    __search_config__: ClassVar[str] = "english"
    DoesNotExist: ClassVar[type[NotFoundError]] = NotFoundError
    MultipleObjectsReturned: ClassVar[type[MultipleObjectsReturned]] = MultipleObjectsReturned

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        module = cls.__module__
        cls.DoesNotExist = type(
            "DoesNotExist",
            (NotFoundError,),
            {"__module__": module, "__qualname__": f"{cls.__qualname__}.DoesNotExist"},
        )
        cls.MultipleObjectsReturned = type(
            "MultipleObjectsReturned",
            (MultipleObjectsReturned,),
            {"__module__": module, "__qualname__": f"{cls.__qualname__}.MultipleObjectsReturned"},
        )

    def __init__(self, **data: Any) -> None:
        if not finish_init.get():  # SQLModel's own model_validate path: it validates itself
            super().__init__(**data)
            return
        cls = type(self)
        relationships = {k: data.pop(k) for k in list(data) if k in cls.__sqlmodel_relationships__}
        unknown = sorted(k for k in data if k not in cls.model_fields)
        if unknown:
            raise ValidationError(
                [{"field": k, "message": "is not a field of this model"} for k in unknown], cls.__name__
            )
        refuse_nul(data, cls.__name__)
        # a SQL expression is computed by the database: validation skips it (checked by type
        # first, so plain values cost one set lookup each)
        sql = {
            k: v
            for k, v in data.items()
            if type(v) not in PLAIN_VALUE_TYPES and isinstance(v, SQL_VALUE_TYPES)
        }
        if sql:
            state = self.__dict__
            validated, fields_set = _validated_beside_sql(cls, data, sql), set(data)
        else:
            state = self.__dict__.copy()
            validated, fields_set = _validated_whole(self, data, state)
        naive = _naive_errors(validated)
        if naive:
            raise ValidationError(naive, cls.__name__)
        # A new object has no history to keep: its values go straight into the instance
        # dict, which is SQLAlchemy's own state dict (one setattr per field costs 5x more).
        state.update(validated)
        info = instance_state(self).info
        info[VALIDATED] = validated
        if sql:
            state.update(sql)
            info[SQL_FIELDS] = tuple(sql)
        object.__setattr__(self, "__pydantic_fields_set__", fields_set)
        _check_relations(cls, relationships)
        for key, value in relationships.items():
            setattr(self, key, value)

    def __repr_args__(self) -> list[tuple[str | None, Any]]:
        secret = type(self).__secret_fields__
        return [(k, v) for k, v in super().__repr_args__() if k not in secret]

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        """Exclude secret fields from every serialization pydantic does.

        ``model_dump``, ``model_dump_json``, ``TypeAdapter`` dumps, a model nested in
        another, FastAPI responses and the serialization JSON schema (OpenAPI) all leave
        them out: the field itself says ``exclude=True``.
        """
        super().__pydantic_init_subclass__(**kwargs)
        fields = cls.model_fields
        hidden = [name for name in cls.__secret_fields__ if name in fields and not fields[name].exclude]
        if hidden:
            for name in hidden:
                fields[name].exclude = True
            cls.model_rebuild(force=True)

    def __iter__(self) -> Any:
        secret = type(self).__secret_fields__
        return ((k, v) for k, v in super().__iter__() if k not in secret)

    def full_clean(self) -> None:
        """Validate every field of this instance as it stands now.

        Raises:
            ValidationError: Listing every field at fault.
        """
        values = {name: getattr(self, name) for name in type(self).model_fields}
        validate_fields(type(self), values)

    def clean_changes(self) -> None:
        """Validate the fields changed since the constructor validated them (all, if it did not).

        Raises:
            ValidationError: Listing every field at fault.
        """
        info = instance_state(self).info
        checked = info.get(VALIDATED)
        current = self.__dict__
        names = type(self).model_fields
        if checked is None:
            changed = {n: current.get(n) for n in names}
        else:
            changed = {  # mutable values may have changed in place: always check them
                n: current.get(n)
                for n in names
                if current.get(n) is not checked.get(n) or isinstance(current.get(n), (list, dict, set))
            }
        _note_sql_fields(info, changed)
        if changed:
            cleaned = validate_fields(type(self), changed)
            for name, value in cleaned.items():
                if value is not changed[name] and value != changed[name]:
                    setattr(self, name, value)


def _note_sql_fields(info: dict[Any, Any], changed: dict[str, Any]) -> None:
    """Note which of the changed values are SQL expressions (none kept as validated: all are here)."""
    sql = [
        n for n, v in changed.items() if type(v) not in PLAIN_VALUE_TYPES and isinstance(v, SQL_VALUE_TYPES)
    ]
    if sql:
        info[SQL_FIELDS] = tuple(sql)
    elif SQL_FIELDS in info:
        del info[SQL_FIELDS]


def sql_fields(obj: Any) -> tuple[str, ...]:
    """Return the fields of ``obj`` holding SQL expressions, as its last validation found them."""
    found: tuple[str, ...] = instance_state(obj).info.get(SQL_FIELDS, ())
    return found


def _validated_whole(
    obj: Any, data: dict[str, Any], state: dict[str, Any]
) -> tuple[dict[str, Any], set[str]]:
    """Return ``data`` validated by pydantic as a whole and the names set; ``obj``'s ``state`` is restored.

    Raises:
        ValidationError: Listing every field at fault.
    """
    cls = type(obj)
    try:
        cls.__pydantic_validator__.validate_python(data, self_instance=obj)
    except pydantic.ValidationError as exc:
        object.__setattr__(obj, "__dict__", state)
        raise _pydantic_errors(cls.__name__, exc) from None
    fields_set: set[str] = obj.__pydantic_fields_set__.copy()
    validated: dict[str, Any] = obj.__dict__
    object.__setattr__(obj, "__dict__", state)
    return validated, fields_set


def _validated_beside_sql(
    cls: type[AssistantModel], data: dict[str, Any], sql: dict[str, Any]
) -> dict[str, Any]:
    """Return the constructor's plain values validated field by field, with the defaults of the others.

    Pydantic validates a model only as a whole, and a SQL expression is no valid value:
    so the plain fields go one by one (constraints and field validators included).

    Raises:
        ValidationError: A required field is missing, or a plain value is invalid.
    """
    fields = cls.model_fields
    missing = [
        {"field": n, "message": "Field required"}
        for n, f in fields.items()
        if n not in data and f.is_required()
    ]
    if missing:
        raise ValidationError(missing, cls.__name__)
    values = {n: f.get_default(call_default_factory=True) for n, f in fields.items() if n not in data}
    values.update(validate_fields(cls, {k: v for k, v in data.items() if k not in sql}))
    return values


_scratches = threading.local()


def _scratch(model: Any) -> Any:
    """Return this thread's never-attached instance of ``model`` for pydantic to validate into."""
    cache: dict[Any, Any] = _scratches.__dict__.setdefault("by_model", {})
    scratch = cache.get(model)
    if scratch is None:
        scratch = cache[model] = model.model_construct()
    return scratch


@cache
def field_adapter(model: Any, name: str) -> TypeAdapter[Any]:
    """Return the cached validator of one field of ``model``, constraints included."""
    from typing import Annotated

    field = model.model_fields[name]
    return TypeAdapter(Annotated[field.annotation, field])  # type: ignore[arg-type]


def validate_fields(model: type[AssistantModel], values: dict[str, Any]) -> dict[str, Any]:
    """Validate some fields of ``model`` one by one and return their coerced values.

    Unknown names and invalid values are all reported together.

    Raises:
        ValidationError: Listing every field at fault.
    """
    errors: list[dict[str, str]] = _nul_errors(values)
    refused = {e["field"] for e in errors}  # a document too deep for pydantic's recursion stays unread
    cleaned: dict[str, Any] = {}
    fields = model.model_fields
    scratch = _scratch(model)
    for name, value in values.items():
        if name not in fields:
            errors.append({"field": name, "message": "is not a field of this model"})
            continue
        if name in refused:
            continue
        if type(value) not in PLAIN_VALUE_TYPES and isinstance(value, SQL_VALUE_TYPES):
            cleaned[name] = value  # computed by the database when the row is written
            continue
        if isinstance(value, UnreadableJSON):  # only changed fields are written: this one would be
            errors.append({"field": name, "message": UNREADABLE_MESSAGE})
            continue
        try:  # validate_assignment runs the field's constraints and the model's field validators
            model.__pydantic_validator__.validate_assignment(scratch, name, value)
            cleaned[name] = scratch.__dict__[name]
        except pydantic.ValidationError as exc:
            errors.extend(_pydantic_errors(model.__name__, exc, name).errors)
    errors.extend(_naive_errors(cleaned))
    if errors:
        raise ValidationError(errors, model.__name__)
    return cleaned


@cache
def _type_adapter(annotation: Any) -> TypeAdapter[Any]:
    return TypeAdapter(annotation)


def lookup_value(model: Any, field: str, lookup: str, value: Any, path: str) -> Any:
    """Return ``value`` coerced to the field's type for a lookup, so bad input fails before SQL.

    Only the type is checked, not the field's constraints: ``priority__lt=100`` is a
    fine filter even though 100 is no valid priority. Text lookups keep their text.

    Raises:
        ValidationError: Naming ``path`` and what is wrong with the value.
    """
    info = model.model_fields.get(field)
    if info is None or lookup in (
        "isnull",
        "iexact",
        "contains",
        "icontains",
        "startswith",
        "istartswith",
        "endswith",
        "iendswith",
    ):
        return value
    adapter = _type_adapter(info.annotation)
    try:
        if lookup in ("in", "range"):
            coerced: Any = [adapter.validate_python(v) for v in value]
            naive = any(_is_naive(v) for v in coerced)
        else:
            coerced = adapter.validate_python(value)
            naive = _is_naive(coerced)
    except pydantic.ValidationError as exc:
        message = exc.errors(include_url=False, include_input=False)[0]["msg"]
        raise ValidationError.single(path, message.removeprefix("Value error, "), model.__name__) from None
    except TypeError:
        return value  # not a sequence: the lookup itself reports it
    if naive:
        raise ValidationError.single(path, NAIVE_MESSAGE, model.__name__)
    return coerced


def refuse_nulls(model: Any, values: dict[str, Any]) -> None:
    """Refuse ``None`` for columns that may not hold NULL, before any SQL.

    The constructor leaves such columns to their server defaults; an update or a
    change of a saved row cannot.

    Raises:
        ValidationError: Naming every such field.
    """
    columns = model.__table__.c
    errors = [
        {"field": name, "message": "may not be null"}
        for name, value in values.items()
        if value is None and name in columns and not columns[name].nullable
    ]
    if errors:
        raise ValidationError(errors, model.__name__)


# A model's declaration is complete once its mapper exists: searchable models get their
# vector column then (scoped to this package's models, like the declaration itself).
event.listen(AssistantModel, "after_mapper_constructed", add_search_column, propagate=True)
# unique fields of soft-deletable models: unique among live rows only
event.listen(AssistantModel, "after_mapper_constructed", unique_among_live_rows, propagate=True)
