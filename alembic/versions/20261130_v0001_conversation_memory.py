"""Conversation memory: the first migration of the ``vector`` branch, which needs pgvector.

The branch starts from nothing and depends on the core's 0009 (chats, messages and
personas exist). ``migrate()`` takes it only where the server has the ``vector``
extension; its first step creates the extension or says clearly that it is missing.
References to a chat, a persona or a message refuse deleted rows, as 0006 does for
the core's tables.

Revision ID: v0001
Revises: (branch base; depends on 0009)
Create Date: 2026-11-30 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from assistant_models._migrations import require_extension
from assistant_models.vector import Vector
from sqlalchemy.dialects import postgresql

revision: str = 'v0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ('vector',)
depends_on: str | Sequence[str] | None = '0009'


#: (reference column, parent table): references that must name a live row
LIVE_REFERENCES = [("session_id", "chat_sessions"), ("persona_id", "personas"), ("first_message_id", "messages")]


def upgrade() -> None:
    require_extension(op.get_bind(), "vector", "pgvector")
    op.create_table('conversation_memory',
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.Uuid(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('session_id', sa.Uuid(), nullable=False),
    sa.Column('persona_id', sa.Uuid(), nullable=True),
    sa.Column('first_message_id', sa.Uuid(), nullable=True),
    sa.Column('content', sa.String(length=100000), nullable=False),
    sa.Column('memory_type', sa.Enum('episodic', 'semantic', 'procedural', 'summary', name='memorytype', native_enum=False, create_constraint=True, length=16), server_default='episodic', nullable=False),
    sa.Column('importance', sa.Float(), server_default='0.5', nullable=False),
    sa.Column('embedding', Vector(1536), nullable=False),
    sa.Column('embedding_model', sa.String(length=200), nullable=True),
    sa.Column('meta', sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('last_accessed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('access_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('search_vector', postgresql.TSVECTOR(), sa.Computed("setweight(to_tsvector('english'::regconfig, coalesce(content, '')), 'A')", persisted=True), nullable=True),
    sa.CheckConstraint('access_count >= 0', name=op.f('ck_conversation_memory__access_count_not_negative')),
    sa.CheckConstraint('importance >= 0 AND importance <= 1', name=op.f('ck_conversation_memory__importance_between_0_and_1')),
    sa.ForeignKeyConstraint(['first_message_id'], ['messages.id'], name=op.f('fk_conversation_memory__first_message_id'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['persona_id'], ['personas.id'], name=op.f('fk_conversation_memory__persona_id'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['session_id'], ['chat_sessions.id'], name=op.f('fk_conversation_memory__session_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_conversation_memory'))
    )
    op.create_index(op.f('ix_conversation_memory__embedding_hnsw_cosine'), 'conversation_memory', ['embedding'], unique=False, postgresql_using='hnsw', postgresql_ops={'embedding': 'vector_cosine_ops'}, postgresql_with={'m': 16, 'ef_construction': 64})
    op.create_index(op.f('ix_conversation_memory__first_message_id'), 'conversation_memory', ['first_message_id'], unique=False)
    op.create_index(op.f('ix_conversation_memory__persona_id'), 'conversation_memory', ['persona_id'], unique=False)
    op.create_index('ix_conversation_memory__search', 'conversation_memory', ['search_vector'], unique=False, postgresql_using='gin')
    op.create_index('ix_conversation_memory__session_recent', 'conversation_memory', ['session_id', 'last_accessed_at'], unique=False, postgresql_where=sa.text('deleted_at IS NULL'))
    for column, parent in LIVE_REFERENCES:
        op.execute(
            f"CREATE TRIGGER conversation_memory__{column}__live_parent "
            f"BEFORE INSERT OR UPDATE OF {column} ON conversation_memory "
            f"FOR EACH ROW EXECUTE FUNCTION refuse_reference_to_deleted_row("
            f"'{column}', '{parent}', 'id', 'uuid', 'deleted_at', 'fk_conversation_memory__{column}')"
        )


def downgrade() -> None:
    # the table's triggers go with it; the extension stays (other tables may use it)
    op.drop_index('ix_conversation_memory__session_recent', table_name='conversation_memory', postgresql_where=sa.text('deleted_at IS NULL'))
    op.drop_index('ix_conversation_memory__search', table_name='conversation_memory', postgresql_using='gin')
    op.drop_index(op.f('ix_conversation_memory__persona_id'), table_name='conversation_memory')
    op.drop_index(op.f('ix_conversation_memory__first_message_id'), table_name='conversation_memory')
    op.drop_index(op.f('ix_conversation_memory__embedding_hnsw_cosine'), table_name='conversation_memory', postgresql_using='hnsw', postgresql_ops={'embedding': 'vector_cosine_ops'}, postgresql_with={'m': 16, 'ef_construction': 64})
    op.drop_table('conversation_memory')
