"""End the index of an assignee's latest tasks with the key, for keyset pagination.

Cursor pages order by (created_at, id); with id in the index, a deep page is a
range scan instead of a sort of every row that shares a created_at (bulk inserts
share their transaction's now()).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 20:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_tasks__assignee_recent", table_name="tasks")
    op.create_index(
        "ix_tasks__assignee_recent",
        "tasks",
        ["assignee_id", sa.literal_column("created_at DESC"), sa.literal_column("id DESC")],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_tasks__assignee_recent", table_name="tasks")
    op.create_index(
        "ix_tasks__assignee_recent",
        "tasks",
        ["assignee_id", sa.literal_column("created_at DESC")],
        unique=False,
    )
