"""staff sessions, staff audit events, app secrets

Staff on the web get a session of their own (issued at login, idle and absolute expiry, revocable),
never the citizen's chat cookie. The key that signs web chat ids is made here, once per database, so
every serve process shares it.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""
import secrets
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0013'
down_revision: Union[str, None] = '0012'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('staff_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('end_reason', sa.String(length=20), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_staff_sessions_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_sessions')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_staff_sessions_token_hash'))
    )
    op.create_index(op.f('ix_staff_sessions_user_id'), 'staff_sessions', ['user_id'], unique=False)
    op.create_table('staff_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_staff_events_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_events'))
    )
    op.create_index(op.f('ix_staff_events_at'), 'staff_events', ['at'], unique=False)
    op.create_index(op.f('ix_staff_events_user_id'), 'staff_events', ['user_id'], unique=False)
    secrets_table = op.create_table('app_secrets',
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('value', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_app_secrets'))
    )
    op.bulk_insert(secrets_table, [{'name': 'web_chat_signing_key', 'value': secrets.token_urlsafe(32)}])


def downgrade() -> None:
    op.drop_table('app_secrets')
    op.drop_index(op.f('ix_staff_events_user_id'), table_name='staff_events')
    op.drop_index(op.f('ix_staff_events_at'), table_name='staff_events')
    op.drop_table('staff_events')
    op.drop_index(op.f('ix_staff_sessions_user_id'), table_name='staff_sessions')
    op.drop_table('staff_sessions')
