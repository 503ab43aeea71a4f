"""verified residents and the two tallies of a consultation

A consultation's official count is of verified residents, one vote a person (Luật Thực hiện dân chủ
ở cơ sở 2022, Điều 29 khoản 1): ``residents`` holds how a user was verified (a keyed hash of the phone
number their platform vouched for, or an officer's check in person), and each vote says which tally it
is in and which person it stands for. Votes cast before this migration were never verified: they stay
in the unverified tally. The key of the phone hash is made here, once per database.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04
"""
import secrets
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0014'
down_revision: Union[str, None] = '0013'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('residents',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('phone_digest', sa.String(length=64), nullable=True),
    sa.Column('phone_channel', sa.String(length=20), nullable=True),
    sa.Column('phone_verified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('checked_in_commune', sa.Integer(), nullable=True),
    sa.Column('checked_by', sa.Integer(), nullable=True),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_residents_user_id_users')),
    sa.ForeignKeyConstraint(['checked_by'], ['users.id'], name=op.f('fk_residents_checked_by_users')),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_residents'))
    )
    op.create_index(op.f('ix_residents_phone_digest'), 'residents', ['phone_digest'], unique=False)
    with op.batch_alter_table('consultation_votes') as batch:
        batch.add_column(sa.Column('tally', sa.String(length=20), nullable=False, server_default='unverified'))
        batch.add_column(sa.Column('voter_key', sa.String(length=80), nullable=True))
        batch.create_unique_constraint('uq_consultation_votes_voter', ['consultation_id', 'voter_key'])
    secrets_table = sa.table('app_secrets', sa.column('name', sa.String), sa.column('value', sa.String))
    op.bulk_insert(secrets_table, [{'name': 'resident_phone_key', 'value': secrets.token_urlsafe(32)}])


def downgrade() -> None:
    op.execute("DELETE FROM app_secrets WHERE name = 'resident_phone_key'")
    with op.batch_alter_table('consultation_votes') as batch:
        batch.drop_constraint('uq_consultation_votes_voter', type_='unique')
        batch.drop_column('voter_key')
        batch.drop_column('tally')
    op.drop_index(op.f('ix_residents_phone_digest'), table_name='residents')
    op.drop_table('residents')
