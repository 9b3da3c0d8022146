"""Store each searchable row's tsvector in a generated column with a GIN index.

Searches matched an expression index and ranked by parsing every matching row's text
again (to_tsvector per row); a stored generated column is parsed once per write, and
both the match and the rank read it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 14:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VECTORS = {
    "tasks": (
        "setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A') || "
        "setweight(to_tsvector('english'::regconfig, coalesce(description, '')), 'B')"
    ),
    "users": (
        "((setweight(to_tsvector('simple'::regconfig, coalesce(username, '')), 'A') || "
        "setweight(to_tsvector('simple'::regconfig, coalesce(email, '')), 'A')) || "
        "setweight(to_tsvector('simple'::regconfig, coalesce(first_name, '')), 'B')) || "
        "setweight(to_tsvector('simple'::regconfig, coalesce(last_name, '')), 'B')"
    ),
}


def upgrade() -> None:
    for table, expression in VECTORS.items():
        op.drop_index(f"ix_{table}__search", table_name=table, postgresql_using="gin")
        op.add_column(
            table,
            sa.Column(
                "search_vector",
                postgresql.TSVECTOR(),
                sa.Computed(sa.text(expression), persisted=True),
                nullable=True,
            ),
        )
        op.create_index(f"ix_{table}__search", table, ["search_vector"], unique=False, postgresql_using="gin")


def downgrade() -> None:
    for table, expression in VECTORS.items():
        op.drop_index(f"ix_{table}__search", table_name=table, postgresql_using="gin")
        op.drop_column(table, "search_vector")
        op.create_index(
            f"ix_{table}__search",
            table,
            [sa.literal_column(f"({expression})")],
            unique=False,
            postgresql_using="gin",
        )
