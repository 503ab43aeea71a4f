"""staff console, reception register

One-time console login links (only their hash), the reception register's rows (Sổ tiếp công dân,
Mẫu số 03/TCD of Nghị định 154/2026/NĐ-CP) and the held reception meetings with attendance and minutes.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0018'
down_revision: Union[str, None] = '0017'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('console_logins',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_console_logins_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_console_logins')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_console_logins_token_hash'))
    )
    op.create_index(op.f('ix_console_logins_user_id'), 'console_logins', ['user_id'], unique=False)
    op.create_table('reception_meetings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=True),
    sa.Column('commune_code', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('held_on', sa.Date(), nullable=False),
    sa.Column('chaired_by', sa.String(length=200), nullable=False),
    sa.Column('attendance', sa.JSON(), nullable=False),
    sa.Column('minutes', sa.Text(), nullable=False),
    sa.Column('public_minutes', sa.Text(), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('recorded_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['reception_sessions.id'],
                            name=op.f('fk_reception_meetings_session_id_reception_sessions')),
    sa.ForeignKeyConstraint(['recorded_by'], ['users.id'], name=op.f('fk_reception_meetings_recorded_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reception_meetings'))
    )
    op.create_index(op.f('ix_reception_meetings_session_id'), 'reception_meetings', ['session_id'], unique=False)
    op.create_index(op.f('ix_reception_meetings_commune_code'), 'reception_meetings', ['commune_code'], unique=False)
    op.create_table('reception_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('commune_code', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=True),
    sa.Column('meeting_id', sa.Integer(), nullable=True),
    sa.Column('form', sa.String(length=20), nullable=False),
    sa.Column('received_on', sa.Date(), nullable=False),
    sa.Column('person_name', sa.String(length=200), nullable=True),
    sa.Column('person_address', sa.Text(), nullable=True),
    sa.Column('id_document', sa.String(length=50), nullable=True),
    sa.Column('representative', sa.String(length=300), nullable=True),
    sa.Column('co_complainants', sa.JSON(), nullable=False),
    sa.Column('people', sa.Integer(), nullable=False),
    sa.Column('consent_noted', sa.Boolean(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('settled_by', sa.String(length=300), nullable=True),
    sa.Column('within_competence', sa.Boolean(), nullable=False),
    sa.Column('guidance', sa.Text(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('recorded_by', sa.Integer(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['items.id'], name=op.f('fk_reception_entries_item_id_items')),
    sa.ForeignKeyConstraint(['meeting_id'], ['reception_meetings.id'],
                            name=op.f('fk_reception_entries_meeting_id_reception_meetings')),
    sa.ForeignKeyConstraint(['recorded_by'], ['users.id'], name=op.f('fk_reception_entries_recorded_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reception_entries'))
    )
    op.create_index(op.f('ix_reception_entries_commune_code'), 'reception_entries', ['commune_code'], unique=False)
    op.create_index(op.f('ix_reception_entries_item_id'), 'reception_entries', ['item_id'], unique=False)
    op.create_index(op.f('ix_reception_entries_meeting_id'), 'reception_entries', ['meeting_id'], unique=False)
    op.create_index(op.f('ix_reception_entries_received_on'), 'reception_entries', ['received_on'], unique=False)


def downgrade() -> None:
    for index in ('received_on', 'meeting_id', 'item_id', 'commune_code'):
        op.drop_index(op.f(f'ix_reception_entries_{index}'), table_name='reception_entries')
    op.drop_table('reception_entries')
    op.drop_index(op.f('ix_reception_meetings_commune_code'), table_name='reception_meetings')
    op.drop_index(op.f('ix_reception_meetings_session_id'), table_name='reception_meetings')
    op.drop_table('reception_meetings')
    op.drop_index(op.f('ix_console_logins_user_id'), table_name='console_logins')
    op.drop_table('console_logins')
