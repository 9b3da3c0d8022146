"""Identity, tasks and audit log: the first slice of the domain.

The audit log is append-only at the database too: a trigger refuses UPDATE and
DELETE on audit_logs (retention jobs drop partitions or disable the trigger).

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 20:24:13.718651
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ('core',)  # the chain every other branch builds on
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('audit_logs',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('action', sa.Enum('create', 'update', 'soft_delete', 'restore', 'delete', name='auditaction', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('table_name', sa.String(length=63), nullable=False),
    sa.Column('row_id', sa.String(length=64), nullable=False),
    sa.Column('actor_id', sa.Uuid(), nullable=True),
    sa.Column('changes', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_logs'))
    )
    op.create_index(op.f('ix_audit_logs__action'), 'audit_logs', ['action'], unique=False)
    op.create_index(op.f('ix_audit_logs__actor_id'), 'audit_logs', ['actor_id'], unique=False)
    op.create_index(op.f('ix_audit_logs__created_at'), 'audit_logs', ['created_at'], unique=False)
    op.create_index('ix_audit_logs__row', 'audit_logs', ['table_name', 'row_id', 'created_at'], unique=False)
    op.execute(
        """
        CREATE FUNCTION audit_logs_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit_logs is append-only: % refused', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER audit_logs_append_only BEFORE UPDATE OR DELETE ON audit_logs "
        "FOR EACH ROW EXECUTE FUNCTION audit_logs_append_only()"
    )
    op.create_table('users',
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.Uuid(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('username', sa.String(length=50), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('first_name', sa.String(length=100), nullable=True),
    sa.Column('last_name', sa.String(length=100), nullable=True),
    sa.Column('avatar_url', sa.String(length=2048), nullable=True),
    sa.Column('role', sa.Enum('user', 'admin', 'developer', name='userrole', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('is_active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('email_verified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('meta', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users'))
    )
    op.create_index('ix_users__search', 'users', [sa.literal_column("(((setweight(to_tsvector('simple'::regconfig, coalesce(username, '')), 'A') || setweight(to_tsvector('simple'::regconfig, coalesce(email, '')), 'A')) || setweight(to_tsvector('simple'::regconfig, coalesce(first_name, '')), 'B')) || setweight(to_tsvector('simple'::regconfig, coalesce(last_name, '')), 'B'))")], unique=False, postgresql_using='gin')
    op.create_index('uq_users__email', 'users', [sa.literal_column('lower(email)')], unique=True, postgresql_where=sa.text('deleted_at IS NULL'))
    op.create_index('uq_users__username', 'users', [sa.literal_column('lower(username)')], unique=True, postgresql_where=sa.text('deleted_at IS NULL'))
    op.create_table('api_keys',
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.Uuid(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('key_prefix', sa.String(length=16), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('scopes', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_api_keys__user_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_api_keys__key_hash'))
    )
    op.create_index(op.f('ix_api_keys__user_id'), 'api_keys', ['user_id'], unique=False)
    op.create_table('auth_sessions',
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.Uuid(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ip_address', sa.String(length=45), nullable=True),
    sa.Column('user_agent', sa.String(length=512), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_auth_sessions__user_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auth_sessions')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_auth_sessions__token_hash'))
    )
    op.create_index(op.f('ix_auth_sessions__expires_at'), 'auth_sessions', ['expires_at'], unique=False)
    op.create_index(op.f('ix_auth_sessions__user_id'), 'auth_sessions', ['user_id'], unique=False)
    op.create_table('tasks',
    sa.Column('version', sa.Integer(), server_default=sa.text('1'), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.Uuid(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('title', sa.String(length=255), nullable=False),
    sa.Column('description', sa.String(length=20000), nullable=True),
    sa.Column('status', sa.Enum('pending', 'running', 'completed', 'failed', 'cancelled', name='taskstatus', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('assignee_id', sa.Uuid(), nullable=True),
    sa.Column('claimed_by', sa.String(length=100), nullable=True),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('run_after', sa.DateTime(timezone=True), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('retry_count', sa.Integer(), nullable=False),
    sa.Column('max_retries', sa.Integer(), nullable=False),
    sa.Column('results', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('error', sa.String(length=20000), nullable=True),
    sa.CheckConstraint('priority BETWEEN 0 AND 10', name=op.f('ck_tasks__priority_range')),
    sa.CheckConstraint('retry_count >= 0 AND retry_count <= max_retries', name=op.f('ck_tasks__retry_count_range')),
    sa.ForeignKeyConstraint(['assignee_id'], ['users.id'], name=op.f('fk_tasks__assignee_id'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tasks'))
    )
    op.create_index('ix_tasks__assignee_recent', 'tasks', ['assignee_id', sa.literal_column('created_at DESC')], unique=False)
    op.create_index('ix_tasks__queue', 'tasks', ['status', sa.literal_column('priority DESC'), 'created_at'], unique=False, postgresql_where=sa.text('deleted_at IS NULL'))
    op.create_index('ix_tasks__search', 'tasks', [sa.literal_column("(setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A') || setweight(to_tsvector('english'::regconfig, coalesce(description, '')), 'B'))")], unique=False, postgresql_using='gin')
    op.create_index(op.f('ix_tasks__status'), 'tasks', ['status'], unique=False)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS audit_logs_append_only ON audit_logs")
    op.execute("DROP FUNCTION IF EXISTS audit_logs_append_only()")
    op.drop_index(op.f('ix_tasks__status'), table_name='tasks')
    op.drop_index('ix_tasks__search', table_name='tasks', postgresql_using='gin')
    op.drop_index('ix_tasks__queue', table_name='tasks', postgresql_where=sa.text('deleted_at IS NULL'))
    op.drop_index('ix_tasks__assignee_recent', table_name='tasks')
    op.drop_table('tasks')
    op.drop_index(op.f('ix_auth_sessions__user_id'), table_name='auth_sessions')
    op.drop_index(op.f('ix_auth_sessions__expires_at'), table_name='auth_sessions')
    op.drop_table('auth_sessions')
    op.drop_index(op.f('ix_api_keys__user_id'), table_name='api_keys')
    op.drop_table('api_keys')
    op.drop_index('uq_users__username', table_name='users', postgresql_where=sa.text('deleted_at IS NULL'))
    op.drop_index('uq_users__email', table_name='users', postgresql_where=sa.text('deleted_at IS NULL'))
    op.drop_index('ix_users__search', table_name='users', postgresql_using='gin')
    op.drop_table('users')
    op.drop_index('ix_audit_logs__row', table_name='audit_logs')
    op.drop_index(op.f('ix_audit_logs__created_at'), table_name='audit_logs')
    op.drop_index(op.f('ix_audit_logs__actor_id'), table_name='audit_logs')
    op.drop_index(op.f('ix_audit_logs__action'), table_name='audit_logs')
    op.drop_table('audit_logs')
