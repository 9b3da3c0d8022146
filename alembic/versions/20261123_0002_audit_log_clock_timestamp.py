"""Stamp audit rows with clock_timestamp(), so the changes of one transaction keep their order.

now() is the transaction's start time: every audit row of one unit of work got
the same created_at, and a row's trail came back in key order instead.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 20:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.alter_column("audit_logs", "created_at", server_default=sa.text("clock_timestamp()"))


def downgrade() -> None:
    op.alter_column("audit_logs", "created_at", server_default=sa.text("now()"))
