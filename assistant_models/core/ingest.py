"""Bulk ingest of plain mappings: ``Model.objects.bulk_insert(rows)``, the fastest way in.

No instance is made and nothing is read back. Each batch of rows is validated in one
call of a validator made from the model's own field schemas: values are converted to
their field's type, the field's constraints and validators apply, defaults are filled
in, and unknown, missing and protected fields are refused, every error naming the row
and the field. The rows are then encoded column by column as the COPY path encodes
instances (a decorated type's own conversion first) and sent with one COPY per batch.
A column a row leaves ``None`` that the server fills (timestamps, identity keys) gets
its server default.

The whole call runs in a savepoint of the unit of work: an error in any batch leaves
no row of the call behind. Audited models get their audit rows in the same savepoint.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, NoReturn

import pydantic_core
import sqlalchemy as sa
from pydantic_core import SchemaValidator, core_schema
from sqlalchemy.orm import Session

from assistant_models.core.base import NAIVE_MESSAGE, NUL_MESSAGE, SURROGATE_MESSAGE, refuse_nul
from assistant_models.core.columns import server_filled, written_columns
from assistant_models.core.concerns import Audited, concern, concerns_of
from assistant_models.core.copy import audit_keys, copy_text, send_copy
from assistant_models.core.expressions import is_sql_value
from assistant_models.core.persistence import translating
from assistant_models.core.updates import check_batch_size
from assistant_models.exceptions import ValidationError

if TYPE_CHECKING:
    from assistant_models.core.queryset import QuerySet

__all__ = ["BATCH", "bulk_insert"]

#: Rows per COPY statement unless the caller says otherwise.
BATCH = 10_000
#: Errors reported at most: a batch of bad rows would otherwise make a message of megabytes.
MAX_ERRORS = 20
#: What a SQL expression as a value is told: COPY can only carry values.
EXPRESSION_MESSAGE = "is a SQL expression: bulk_insert stores values (bulk_create sends expressions)"
#: Our words for pydantic's error types, as the constructor reports them.
_MESSAGES = {
    "extra_forbidden": "is not a field of this model",
    "missing": "is required",
    "timezone_aware": NAIVE_MESSAGE,
    "string_unicode": SURROGATE_MESSAGE,
}


@dataclass(frozen=True)
class _Plan:
    """What bulk ingest needs to know of a model, worked out once."""

    model: Any
    validator: SchemaValidator
    protected: frozenset[str]  # fields a concern keeps: callers may not set them
    required: tuple[str, ...]  # NOT NULL columns no default fills: ``None`` is refused
    documents: tuple[str, ...]  # JSON fields: their text is checked as every write checks it
    filled: tuple[str, ...]  # columns the server fills when a row leaves them ``None``
    keys: tuple[str, ...]  # the primary key's fields

    @property
    def audited(self) -> bool:
        """Return whether the model writes audit rows."""
        return concern(self.model, Audited) is not None


def _aware(node: Any) -> Any:
    """Return a copy of a core schema whose datetimes refuse naive values, as every write does."""
    if isinstance(node, list):
        return [_aware(n) for n in node]
    if not isinstance(node, dict):
        return node
    copied = {key: _aware(value) for key, value in node.items()}
    if copied.get("type") == "datetime":
        copied.setdefault("tz_constraint", "aware")
    return copied


def _rows_validator(model: Any, names: set[str]) -> SchemaValidator:
    """Return a validator of a list of rows, each a dict of the model's fields in ``names``.

    It is made of the model's own field schemas, so types, constraints, field validators
    and defaults are the constructor's; unknown keys are refused.

    Raises:
        TypeError: The model validates more than its fields (a model validator).
    """
    schema = model.__pydantic_core_schema__
    definitions = None
    if schema["type"] == "definitions":
        schema, definitions = schema["schema"], schema["definitions"]
    if schema["type"] != "model" or schema["schema"]["type"] != "model-fields":
        raise TypeError(f"{model.__name__}: bulk_insert needs a model validated field by field")
    fields = {
        name: core_schema.typed_dict_field(
            _aware(field["schema"]), required=field["schema"]["type"] != "default"
        )
        for name, field in schema["schema"]["fields"].items()
        if name in names
    }
    row = core_schema.typed_dict_schema(fields, extra_behavior="forbid", config=schema.get("config"))
    rows: Any = core_schema.list_schema(row)
    if definitions:
        rows = core_schema.definitions_schema(rows, definitions)
    return SchemaValidator(rows)


@cache
def _plan(model: Any) -> _Plan:
    table: sa.Table = model.__table__
    columns = [c for c in written_columns(table) if c.key in model.model_fields]
    names = {c.key for c in columns}
    return _Plan(
        model=model,
        validator=_rows_validator(model, names),
        protected=frozenset(f for c in concerns_of(model) for f in c.protected(model)),
        required=tuple(c.key for c in columns if not c.nullable and not server_filled(c)),
        documents=tuple(c.key for c in columns if isinstance(c.type, sa.JSON)),
        filled=tuple(c.key for c in columns if server_filled(c)),
        keys=tuple(c.key for c in table.primary_key.columns),
    )


def _batches(rows: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(rows)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def _error(plan: _Plan, errors: Sequence[dict[str, str]]) -> ValidationError:
    shown = list(errors[:MAX_ERRORS])
    if len(errors) > MAX_ERRORS:
        shown.append({"field": "rows", "message": f"{len(errors) - MAX_ERRORS} more errors not shown"})
    return ValidationError(shown, plan.model.__name__)


def _field(index: int, loc: Sequence[Any]) -> str:
    return f"rows[{index}]" + "".join(f".{part}" for part in loc)


def _validated(plan: _Plan, batch: list[Any], start: int) -> list[dict[str, Any]]:
    """Return the rows of ``batch`` validated and completed with defaults.

    Raises:
        ValidationError: Naming each bad row (by its index in the call) and field.
    """
    errors: list[dict[str, str]] = []
    if plan.protected:
        for i, row in enumerate(batch):
            for name in plan.protected.intersection(row) if isinstance(row, Mapping) else ():
                errors.append(
                    {"field": _field(start + i, [name]), "message": "is kept by the model and cannot be set"}
                )
    try:
        values: list[dict[str, Any]] = plan.validator.validate_python(batch)
    except pydantic_core.ValidationError as exc:
        for err in exc.errors(include_url=False):
            index, *loc = err["loc"]
            message = _MESSAGES.get(err["type"], err["msg"].removeprefix("Value error, "))
            if is_sql_value(err.get("input")):
                message = EXPRESSION_MESSAGE
            errors.append({"field": _field(start + int(index), loc), "message": message})
        raise _error(plan, errors) from None
    for name in plan.required:
        errors += [
            {"field": _field(start + i, [name]), "message": "may not be null"}
            for i, row in enumerate(values)
            if row[name] is None
        ]
    for name in plan.documents:
        for i, row in enumerate(values):
            if row[name] is not None:
                errors += _problems(plan, {_field(start + i, [name]): row[name]})
    if errors:
        raise _error(plan, errors)
    return values


def _problems(plan: _Plan, values: dict[str, Any]) -> list[dict[str, str]]:
    """Return the errors ``refuse_nul`` finds in ``values`` (text PostgreSQL would refuse)."""
    try:
        refuse_nul(values, plan.model.__name__)
    except ValidationError as exc:
        return exc.errors
    return []


def _refuse_text(plan: _Plan, values: list[dict[str, Any]], start: int) -> NoReturn:
    """Raise the error of the text in ``values`` PostgreSQL would refuse (NUL, lone surrogates)."""
    errors: list[dict[str, str]] = []
    for i, row in enumerate(values):
        errors += _problems(plan, {_field(start + i, [k]): v for k, v in row.items() if isinstance(v, str)})
    if not errors:  # a decorated type's own conversion made it
        errors = [{"field": "rows", "message": NUL_MESSAGE}]
    raise _error(plan, errors)


class _BadText(Exception):
    """Text PostgreSQL would refuse is among the rows; found again with its row and field."""


def _unencodable(payload: str) -> bool:
    if payload.isascii():
        return False
    try:
        payload.encode()
    except UnicodeEncodeError:
        return True
    return False


def _key(plan: _Plan, row: dict[str, Any]) -> Any:
    keys = plan.keys
    return row[keys[0]] if len(keys) == 1 else tuple(row[k] for k in keys)


def _copy(session: Session, plan: _Plan, rows: list[dict[str, Any]], omitted: tuple[str, ...]) -> list[Any]:
    """COPY rows that all leave ``omitted`` to the server; return their keys (when audited)."""
    table: sa.Table = plan.model.__table__
    sql, columns, payload = copy_text(table, rows, omitted)
    if "\x00" in payload or _unencodable(payload):  # one scan of the text instead of one per value
        raise _BadText
    send_copy(session, table, columns, sql, payload)
    return [_key(plan, r) for r in rows] if plan.audited else []


def _insert(session: Session, plan: _Plan, rows: list[dict[str, Any]], omitted: tuple[str, ...]) -> list[Any]:
    """INSERT rows whose keys the server makes and return the keys, for their audit rows."""
    if any(_problems(plan, {k: v for k, v in r.items() if isinstance(v, str)}) for r in rows):
        raise _BadText
    table: sa.Table = plan.model.__table__
    columns = [c.key for c in written_columns(table) if c.key not in omitted]
    stmt = sa.insert(table).returning(*table.primary_key.columns, sort_by_parameter_order=True)
    result = session.execute(stmt, [{k: r.get(k) for k in columns} for r in rows])
    single = len(plan.keys) == 1
    return [row[0] if single else tuple(row) for row in result]


def _store(session: Session, plan: _Plan, batch: list[Any], start: int) -> int:
    """Validate and store one batch; return its row count.

    Rows are sent in groups by the columns they leave to the server. An audited model's
    rows whose keys the server makes go by ``INSERT ... RETURNING``: COPY cannot tell
    the keys its audit rows need.
    """
    values = _validated(plan, batch, start)
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    filled = plan.filled
    for row in values:
        groups.setdefault(tuple([k for k in filled if row[k] is None]), []).append(row)
    for omitted, rows in groups.items():
        send = _insert if plan.audited and not set(plan.keys).isdisjoint(omitted) else _copy
        try:
            keys = send(session, plan, rows, omitted)
        except _BadText:
            _refuse_text(plan, values, start)
        if plan.audited:
            audit_keys(session, plan.model, keys)
    return len(values)


def bulk_insert(qs: QuerySet[Any], rows: Iterable[Mapping[str, Any]], batch_size: int | None) -> int:
    """Validate plain mappings and store them by COPY; see :meth:`QuerySet.bulk_insert`.

    Raises:
        ValidationError: A bad ``batch_size``, ``rows`` that is not an iterable of
            mappings, or bad rows (each error names ``rows[<index>].<field>``).
    """
    check_batch_size(batch_size)
    model: Any = qs.model
    if isinstance(rows, (Mapping, str, bytes)) or not isinstance(rows, Iterable):
        raise ValidationError.single("rows", "must be an iterable of mappings, one per row", model.__name__)
    plan = _plan(model)
    batches = _batches(rows, batch_size or BATCH)
    first = next(batches, None)
    if first is None:
        return 0
    session = qs.session
    count = 0
    with translating(), session.begin_nested():
        for batch in itertools.chain([first], batches):
            count += _store(session, plan, batch, count)
    return count
