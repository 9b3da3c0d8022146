"""Keep each chat's message count, tokens and last message time in step with its messages.

Three statement-level triggers on ``messages`` (INSERT, UPDATE, DELETE) read the rows
the statement wrote from its transition tables, add them up per chat, and update each
chat once per statement: a post, a COPY of thousands of rows and a set-based soft
delete each cost one UPDATE of ``chat_sessions``. Only live messages (``deleted_at IS
NULL``) count, so a soft delete takes a message out of the figures and a restore puts
it back; an UPDATE that changes none of a message's counted columns leaves the chat
alone. Counts and tokens are changed by increments, so concurrent writers add up and
the tokens that tool runs add to ``total_tokens`` are kept. When a removed message may
have been the chat's latest, ``last_message_at`` is read again from the live messages,
after the chat rows are locked (in key order, so statements touching several chats do
not deadlock) and with a snapshot taken after the lock, so it sees every committed post.

The trigger's UPDATE is plain SQL: it moves neither the chat's ``version`` nor its
audit trail. The upgrade sets the figures of existing chats from their messages (and,
for tokens, their tool runs); the downgrade drops the triggers and keeps the figures.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 18:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The live messages (chat, tokens, time) a DELETE took out, per chat.
DELETED = """
SELECT session_id, -count(*) AS n, -sum(input_tokens + output_tokens) AS tokens,
       NULL::timestamptz AS added_at, max(created_at) AS removed_at
  FROM am_old WHERE deleted_at IS NULL GROUP BY session_id
"""

#: The live messages an UPDATE brought in and took out, per chat. ``EXCEPT ALL`` drops
#: the rows it left as they were in every counted column (an edit of the content).
UPDATED = """
WITH before AS (SELECT id, session_id, input_tokens + output_tokens AS tokens, created_at
                  FROM am_old WHERE deleted_at IS NULL),
     after AS (SELECT id, session_id, input_tokens + output_tokens AS tokens, created_at
                 FROM am_new WHERE deleted_at IS NULL),
     added AS (SELECT * FROM after EXCEPT ALL SELECT * FROM before),
     removed AS (SELECT * FROM before EXCEPT ALL SELECT * FROM after),
     moves AS (SELECT session_id, 1 AS n, tokens, created_at AS added_at, NULL::timestamptz AS removed_at
                 FROM added
               UNION ALL
               SELECT session_id, -1, -tokens, NULL, created_at FROM removed)
SELECT session_id, sum(n) AS n, sum(tokens) AS tokens, max(added_at) AS added_at,
       max(removed_at) AS removed_at
  FROM moves GROUP BY session_id
"""

FUNCTION = f"""
CREATE FUNCTION messages_count_into_chat() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_chats uuid[];
    v_counts bigint[];
    v_tokens bigint[];
    v_added timestamptz[];
    v_removed timestamptz[];
BEGIN
    IF TG_OP = 'INSERT' THEN  -- the hot path: one statement, nothing to read again
        UPDATE chat_sessions AS s
           SET message_count = s.message_count + d.n,
               total_tokens = s.total_tokens + d.tokens,
               last_message_at = GREATEST(s.last_message_at, d.latest)
          FROM (SELECT session_id, count(*) AS n, sum(input_tokens + output_tokens) AS tokens,
                       max(created_at) AS latest
                  FROM am_new WHERE deleted_at IS NULL GROUP BY session_id) AS d
         WHERE s.id = d.session_id;
        RETURN NULL;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(session_id ORDER BY session_id), array_agg(n ORDER BY session_id),
               array_agg(d.tokens ORDER BY session_id), array_agg(added_at ORDER BY session_id),
               array_agg(removed_at ORDER BY session_id)
          INTO v_chats, v_counts, v_tokens, v_added, v_removed
          FROM ({DELETED}) AS d;
    ELSE
        SELECT array_agg(session_id ORDER BY session_id), array_agg(n ORDER BY session_id),
               array_agg(d.tokens ORDER BY session_id), array_agg(added_at ORDER BY session_id),
               array_agg(removed_at ORDER BY session_id)
          INTO v_chats, v_counts, v_tokens, v_added, v_removed
          FROM ({UPDATED}) AS d;
    END IF;
    IF v_chats IS NULL THEN
        RETURN NULL;
    END IF;
    -- lock first, in key order; the UPDATE then runs on a snapshot taken after the lock,
    -- so a latest time read again sees every post committed before it
    PERFORM 1 FROM chat_sessions WHERE id = ANY (v_chats) ORDER BY id FOR NO KEY UPDATE;
    UPDATE chat_sessions AS s
       SET message_count = s.message_count + d.n,
           total_tokens = s.total_tokens + d.tokens,
           last_message_at = CASE
               WHEN d.removed_at >= s.last_message_at THEN
                   (SELECT max(m.created_at) FROM messages AS m
                     WHERE m.session_id = s.id AND m.deleted_at IS NULL)
               ELSE GREATEST(s.last_message_at, d.added_at)
           END
      FROM unnest(v_chats, v_counts, v_tokens, v_added, v_removed) AS d(session_id, n, tokens, added_at, removed_at)
     WHERE s.id = d.session_id;
    RETURN NULL;
END
$$
"""

TRIGGERS = {
    "INSERT": "REFERENCING NEW TABLE AS am_new",
    "UPDATE": "REFERENCING OLD TABLE AS am_old NEW TABLE AS am_new",
    "DELETE": "REFERENCING OLD TABLE AS am_old",
}

#: Existing chats get the figures the triggers would have kept.
BACKFILL = """
UPDATE chat_sessions AS s
   SET message_count = coalesce(m.n, 0),
       total_tokens = coalesce(m.tokens, 0) + coalesce(t.tokens, 0),
       last_message_at = m.latest
  FROM chat_sessions AS c
  LEFT JOIN (SELECT session_id, count(*) AS n, sum(input_tokens + output_tokens) AS tokens,
                    max(created_at) AS latest
               FROM messages WHERE deleted_at IS NULL GROUP BY session_id) AS m
         ON m.session_id = c.id
  LEFT JOIN (SELECT session_id, sum(tokens_used) AS tokens FROM tool_executions GROUP BY session_id) AS t
         ON t.session_id = c.id
 WHERE s.id = c.id
"""


def upgrade() -> None:
    op.execute(FUNCTION)
    for event, referencing in TRIGGERS.items():
        op.execute(
            f"CREATE TRIGGER messages__count_into_chat__{event.lower()} AFTER {event} ON messages "
            f"{referencing} FOR EACH STATEMENT EXECUTE FUNCTION messages_count_into_chat()"
        )
    op.execute(BACKFILL)


def downgrade() -> None:
    for event in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS messages__count_into_chat__{event.lower()} ON messages")
    op.execute("DROP FUNCTION IF EXISTS messages_count_into_chat()")
