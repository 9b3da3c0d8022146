"""Refuse a row that refers to a soft-deleted one, whoever writes it.

A foreign key is satisfied by a soft-deleted row, which every read of the package
hides: a task assigned to a deleted user, an API key or a login session of a deleted
user would exist and be unreachable. A trigger on each such reference refuses the
INSERT (or the UPDATE of the reference) with SQLSTATE 23503, as a missing row would.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 15:15:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: (child table, reference column, parent table, parent key, key type, parent's deleted-at column)
REFERENCES = [
    ("tasks", "assignee_id", "users", "id", "uuid", "deleted_at"),
    ("api_keys", "user_id", "users", "id", "uuid", "deleted_at"),
    ("auth_sessions", "user_id", "users", "id", "uuid", "deleted_at"),
]

FUNCTION = """
CREATE FUNCTION refuse_reference_to_deleted_row() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    reference text := to_jsonb(NEW) ->> TG_ARGV[0];
    hidden boolean;
BEGIN
    IF reference IS NULL THEN
        RETURN NEW;
    END IF;
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I WHERE %I = $1::%s AND %I IS NOT NULL)',
                   TG_ARGV[1], TG_ARGV[2], TG_ARGV[3], TG_ARGV[4])
        INTO hidden USING reference;
    IF hidden THEN
        RAISE EXCEPTION USING
            ERRCODE = 'foreign_key_violation',
            CONSTRAINT = TG_ARGV[5],
            MESSAGE = format('%s.%s refers to a deleted row of %s', TG_TABLE_NAME, TG_ARGV[0], TG_ARGV[1]);
    END IF;
    RETURN NEW;
END
$$
"""


def upgrade() -> None:
    op.execute(FUNCTION)
    for child, column, parent, key, key_type, deleted in REFERENCES:
        constraint = f"fk_{child}__{column}"
        op.execute(
            f"CREATE TRIGGER {child}__{column}__live_parent BEFORE INSERT OR UPDATE OF {column} ON {child} "
            f"FOR EACH ROW EXECUTE FUNCTION refuse_reference_to_deleted_row("
            f"'{column}', '{parent}', '{key}', '{key_type}', '{deleted}', '{constraint}')"
        )


def downgrade() -> None:
    for child, column, *_ in REFERENCES:
        op.execute(f"DROP TRIGGER IF EXISTS {child}__{column}__live_parent ON {child}")
    op.execute("DROP FUNCTION IF EXISTS refuse_reference_to_deleted_row()")
