"""several serve processes: the newest delivery handled per chat

``chat_sequences`` keeps, per chat of a channel whose delivery ids only grow (Telegram's update_id),
the newest one handled, so that a delivery handled after a newer one of its chat is recognised as
late (handlers/chat_order.py). Written on PostgreSQL only; the table exists on both databases so
that the schema is one.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-04
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0021'
down_revision: Union[str, None] = '0020'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('chat_sequences',
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('chat_id', sa.String(length=100), nullable=False),
    sa.Column('last_sequence', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('channel', 'chat_id')
    )


def downgrade() -> None:
    op.drop_table('chat_sequences')
