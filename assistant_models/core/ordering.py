"""ORDER BY as Django compiles it: constants cast to their type, DISTINCT rows listing their ordering.

PostgreSQL reads a bare integer constant in ORDER BY as a column position and refuses
other constants; Django casts an ordering ``Value`` to its type. PostgreSQL also refuses
to order DISTINCT rows by what they do not list; Django adds each ordering expression
to the SELECT (the rows are then distinct over it too) and gives the caller only the
columns it asked for. Those added columns carry the :data:`HIDDEN` label prefix.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import Null, UnaryExpression

from assistant_models.core.paths import primary_key

if TYPE_CHECKING:
    from assistant_models.core.expressions import SQL
    from assistant_models.core.query import Query

__all__ = ["HIDDEN", "distinct_order", "loaded_columns", "typed_constant"]

#: Label prefix of the columns a DISTINCT query selects only to order by them.
HIDDEN = "am_order_"

_MODIFIERS: dict[Any, Any] = {
    operators.asc_op: sa.asc,
    operators.desc_op: sa.desc,
    operators.nulls_first_op: sa.nulls_first,
    operators.nulls_last_op: sa.nulls_last,
}


def typed_constant(sql: SQL) -> SQL:
    """Return a constant (a bound value, NULL) cast to its type, and any other ``sql`` unchanged."""
    if not isinstance(sql, (sa.BindParameter, Null)):
        return sql
    return sa.cast(sql, sa.Text() if isinstance(sql.type, sa.types.NullType) else sql.type)


def loaded_columns(query: Query, entity: Any) -> list[Any]:
    """Return the columns of ``entity`` a row load selects: ``only``, ``defer`` and deferred ones left out."""
    mapper = sa.inspect(query.model)
    keys = [a.key for a in mapper.column_attrs if not a.deferred and a.key not in query.defer]
    if query.only:
        keys = [k for k in keys if k in query.only or k in primary_key(query.model)]
    return [getattr(entity, k) for k in keys]


def distinct_order(
    listed: list[Any], order: list[SQL], entity: Any, loaded: list[Any]
) -> tuple[list[Any], list[SQL]]:
    """Return the columns and ORDER BY of a DISTINCT query: what it orders by, it lists.

    Args:
        listed: The SELECT list (the entity, labelled columns, plain columns).
        order: The ORDER BY elements.
        entity: The entity rows come from; in ``listed`` it stands for ``loaded``.
        loaded: The entity's columns a row load selects.

    Returns:
        ``listed`` with a :data:`HIDDEN` column per ordering it does not list, and the
        ordering, by the label of a listed column where one matches.
    """
    selected: list[tuple[Any, Any]] = []
    for item in listed:
        if isinstance(item, sa.Label):
            selected.append((_clause(item.element), item))
        elif item is entity:
            selected += [(_clause(column), None) for column in loaded]
        else:
            selected.append((_clause(item), None))
    extras: list[Any] = []
    reordered: list[SQL] = []
    for clause in order:
        inner, rebuild = _split(clause)
        ref = next((ref for sql, ref in selected if sql.compare(inner)), _MISSING)
        if ref is _MISSING:
            ref = inner.label(f"{HIDDEN}{len(extras)}")
            extras.append(ref)
        reordered.append(clause if ref is None else rebuild(ref))
    return [*listed, *extras], reordered


_MISSING = object()


def _clause(sql: Any) -> Any:
    """Return the Core element of an ORM attribute (any other element as it is)."""
    return sql.__clause_element__() if hasattr(sql, "__clause_element__") else sql


def _split(clause: Any) -> tuple[Any, Any]:
    """Return what an ORDER BY element orders by, and a function putting its direction on another."""
    modifiers = []
    while isinstance(clause, UnaryExpression) and clause.modifier in _MODIFIERS:
        modifiers.append(clause.modifier)
        clause = clause.element

    def rebuild(sql: Any) -> Any:
        for modifier in reversed(modifiers):
            sql = _MODIFIERS[modifier](sql)
        return sql

    return _clause(clause), rebuild
