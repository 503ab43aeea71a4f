"""reception session keys and response templates

A session imported with a ``key`` can later be moved (postponed) by importing it again with a new
time; ``moved_from`` keeps the old time for the notice. Response templates become commune data.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

import storage.models


revision: str = '0009'
down_revision: Union[str, None] = '0008'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('response_templates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('commune_code', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=50), nullable=False),
    sa.Column('action', sa.String(length=30), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=True),
    sa.Column('category', sa.String(length=50), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_response_templates')),
    sa.UniqueConstraint('commune_code', 'key', name='uq_response_templates_commune_key')
    )
    with op.batch_alter_table('response_templates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_response_templates_commune_code'), ['commune_code'], unique=False)

    with op.batch_alter_table('reception_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('key', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('moved_from', storage.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_unique_constraint('uq_reception_sessions_commune_key', ['commune_code', 'key'])



def downgrade() -> None:
    with op.batch_alter_table('reception_sessions', schema=None) as batch_op:
        batch_op.drop_constraint('uq_reception_sessions_commune_key', type_='unique')
        batch_op.drop_column('moved_from')
        batch_op.drop_column('key')

    with op.batch_alter_table('response_templates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_response_templates_commune_code'))

    op.drop_table('response_templates')
