"""Attachment contents go with their last attachment; chats, uploads and tool runs refer to live rows.

An attachment's bytes are stored once per SHA-256 in ``attachment_contents``. When the
last attachment holding them is deleted, by any path (a direct delete, or the cascade
of its message, chat or user), a statement trigger deletes the orphaned content in the
same transaction. It locks the contents first (``FOR UPDATE``, in key order): an upload
of the same bytes locks its content row with its upsert, so either it committed before
and the trigger's check sees its attachment, or it waits and inserts the content again.

References to soft-deletable rows that 0007 left unguarded get the trigger of 0006 that
refuses a reference to a deleted row: a chat's owner, an attachment's uploader and
message, a tool run's message.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 18:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: (child table, reference column, parent table, parent key, key type, parent's deleted-at column)
LIVE_REFERENCES = [
    ("chat_sessions", "user_id", "users", "id", "uuid", "deleted_at"),
    ("attachments", "uploader_id", "users", "id", "uuid", "deleted_at"),
    ("attachments", "message_id", "messages", "id", "uuid", "deleted_at"),
    ("tool_executions", "message_id", "messages", "id", "uuid", "deleted_at"),
]

DROP_ORPHANED_CONTENTS = """
CREATE FUNCTION drop_orphaned_attachment_contents() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- lock first: the check below then runs on a snapshot taken after any upload of the
    -- same bytes that held the row has committed
    PERFORM 1 FROM attachment_contents c
     WHERE c.sha256 IN (SELECT g.sha256 FROM gone g)
     ORDER BY c.sha256
       FOR UPDATE;
    DELETE FROM attachment_contents c
     WHERE c.sha256 IN (SELECT g.sha256 FROM gone g)
       AND NOT EXISTS (SELECT 1 FROM attachments a WHERE a.sha256 = c.sha256);
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    op.execute(DROP_ORPHANED_CONTENTS)
    op.execute(
        "CREATE TRIGGER attachments__drop_orphaned_contents AFTER DELETE ON attachments "
        "REFERENCING OLD TABLE AS gone FOR EACH STATEMENT "
        "EXECUTE FUNCTION drop_orphaned_attachment_contents()"
    )
    for child, column, parent, key, key_type, deleted in LIVE_REFERENCES:
        op.execute(
            f"CREATE TRIGGER {child}__{column}__live_parent BEFORE INSERT OR UPDATE OF {column} ON {child} "
            f"FOR EACH ROW EXECUTE FUNCTION refuse_reference_to_deleted_row("
            f"'{column}', '{parent}', '{key}', '{key_type}', '{deleted}', 'fk_{child}__{column}')"
        )


def downgrade() -> None:
    for child, column, *_ in LIVE_REFERENCES:
        op.execute(f"DROP TRIGGER IF EXISTS {child}__{column}__live_parent ON {child}")
    op.execute("DROP TRIGGER IF EXISTS attachments__drop_orphaned_contents ON attachments")
    op.execute("DROP FUNCTION IF EXISTS drop_orphaned_attachment_contents()")
