"""Which columns a write sends and which the server fills."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

__all__ = ["server_filled", "written_columns"]


def written_columns(table: sa.Table) -> list[sa.Column[Any]]:
    """Return the columns an INSERT or COPY may write: all but generated ones."""
    return [c for c in table.columns if c.computed is None]


def server_filled(column: sa.Column[Any]) -> bool:
    """Return whether the server fills ``column`` when an INSERT leaves it out (default, identity, serial)."""
    if column.server_default is not None or column.identity is not None:
        return True
    return column.table.autoincrement_column is column
