"""The stored search vector a model declares with ``__searchable__``.

A model that names searchable fields (``__searchable__ = {"title": "A", "body": "B"}``)
gets a generated, stored ``tsvector`` column, ``search_vector``, with a GIN index, as
soon as its mapper exists: PostgreSQL keeps it current on every write, and searches
and their ranking read it instead of parsing text per row. The column is not mapped:
rows never load it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.sql.elements import ColumnElement

__all__ = ["SEARCH_COLUMN", "add_search_column", "weighted_vector"]

#: Name of the generated column that holds a row's search vector.
SEARCH_COLUMN = "search_vector"


def weighted_vector(columns: Any, weights: Mapping[str, str], config: str) -> ColumnElement[Any]:
    """Return ``setweight(to_tsvector(config, coalesce(col, '')), weight) || ...`` over ``weights``.

    The configuration and weights are rendered as SQL literals after being checked, so the
    expression's text is fixed (a generated column needs an immutable expression).

    Raises:
        ValueError: A configuration that is no identifier, or a weight other than A-D.
    """
    if not config.isidentifier() or any(w not in "ABCD" or len(w) != 1 for w in weights.values()):
        raise ValueError(f"bad search declaration: config {config!r}, weights {dict(weights)!r}")
    regconfig: Any = sa.literal_column(f"'{config}'::regconfig")
    parts = [
        sa.func.setweight(
            sa.func.to_tsvector(regconfig, sa.func.coalesce(columns[name], sa.literal_column("''"))),
            sa.literal_column(f"'{weight}'"),
        )
        for name, weight in weights.items()
    ]
    vector: Any = parts[0]
    for part in parts[1:]:
        vector = vector.op("||")(part)
    return vector  # type: ignore[no-any-return]


def add_search_column(mapper: Any, cls: Any) -> None:
    """Give a model that declares ``__searchable__`` its generated vector column and GIN index."""
    weights: Mapping[str, str] = getattr(cls, "__searchable__", {})
    table = cls.__dict__.get("__table__")
    if not weights or not isinstance(table, sa.Table) or SEARCH_COLUMN in table.c:
        return
    expression = weighted_vector(table.c, weights, getattr(cls, "__search_config__", "english"))
    column = sa.Column(SEARCH_COLUMN, TSVECTOR, sa.Computed(expression, persisted=True))
    table.append_column(column)
    sa.Index(f"ix_{table.name}__search", column, postgresql_using="gin")
