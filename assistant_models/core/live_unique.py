"""Unique fields of soft-deletable models are unique among live rows.

``email: str = Field(unique=True)`` on a model with soft delete becomes a partial unique
index (``uq_<table>__<field> ... WHERE deleted_at IS NULL``) instead of a UNIQUE
constraint, as soon as the model's mapper exists: a deleted row no longer blocks the
value's re-use, and a restore that would clash raises ``ConflictError`` naming the field.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from assistant_models.core.concerns import SoftDelete, concern

__all__ = ["unique_among_live_rows"]


def unique_among_live_rows(mapper: Any, cls: Any) -> None:
    """Turn the one-column UNIQUE constraints of a soft-deletable model into partial unique indexes."""
    soft = concern(cls, SoftDelete)
    table = cls.__dict__.get("__table__")
    if soft is None or not isinstance(table, sa.Table):
        return
    for constraint in list(table.constraints):
        if not isinstance(constraint, sa.UniqueConstraint) or len(constraint.columns) != 1:
            continue
        (column,) = constraint.columns
        table.constraints.discard(constraint)
        column.unique = False
        sa.Index(
            f"uq_{table.name}__{column.name}",
            column,
            unique=True,
            postgresql_where=sa.text(f"{soft.column} IS NULL"),
            info={"field": column.name},
        )
